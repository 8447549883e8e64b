/* ----------------------------------------------------------------------------
  workloads/recorder/record_format.h: the raw log the LD_PRELOAD recorder
  (libhlrecord.so) writes and `hltrace import record` reads.

  One file per process image, PREFIX.PID.raw (PREFIX.PID.N.raw when a file of
  that name exists, e.g. after exec in a child that had already recorded).
  Layout: a 64-byte header, then fixed-size 40-byte records. Record n sits at
  byte 64 + 40 * n and holds the event with global sequence number n: the
  sequence number is the slot, so the file is already in global order and a
  reader needs no sort. A slot whose op is 0 was never written (a thread was
  cut off between taking its number and writing, e.g. by _exit); the file may
  end with such slots, because it grows in chunks ahead of the writers.

  Everything is little-endian (the machine's order: the reader refuses a file
  whose magic does not match, so a foreign byte order fails cleanly).
---------------------------------------------------------------------------- */
#ifndef HL_RECORD_FORMAT_H
#define HL_RECORD_FORMAT_H

#include <stdint.h>

#define RECORD_MAGIC       "HLRAW01\n" /* 8 bytes, no NUL stored */
#define RECORD_VERSION     1
#define RECORD_HEADER_SIZE 64
#define RECORD_SIZE        40

/* What a record says. 0 is "empty slot". */
typedef enum record_op_e {
  RECORD_OP_NONE = 0,
  RECORD_OP_ALLOC,       /* addr = result, size, kind, align_log2; seq taken after the call */
  RECORD_OP_FREE,        /* addr = pointer freed (never NULL); seq taken before the call */
  RECORD_OP_REALLOC_OUT, /* first half of realloc(old, size), old != NULL: addr = old; seq
                            taken before the call, so the old block leaves the address map
                            before any other thread can be handed it */
  RECORD_OP_REALLOC_IN,  /* second half: addr = result (NULL if the call failed or freed),
                            old = old pointer (NULL for realloc(NULL, n)), size; seq taken
                            after the call */
  RECORD_OP_THREAD_EXIT, /* the thread's pthread key destructor ran */
  RECORD_OP_COUNT
} record_op_t;

typedef struct record_header_s {
  char magic[8];
  uint32_t version;
  uint32_t record_size; /* RECORD_SIZE */
  uint32_t pid;
  uint32_t ppid;
  uint64_t start_ns; /* CLOCK_REALTIME at open, for people */
  uint64_t dropped;  /* records lost because the log reached its maximum size */
  char reserved[24];
} record_header_t;

typedef struct record_entry_s {
  uint64_t seq;  /* = slot number; a check for the reader */
  uint64_t addr; /* see record_op_t */
  uint64_t old;
  uint64_t size;
  uint32_t thread;    /* dense per process image, in order of first recorded call */
  uint8_t op;         /* record_op_t */
  uint8_t kind;       /* hl_alloc_kind_t, for ALLOC */
  uint8_t align_log2; /* ALLOC with an aligned kind */
  uint8_t reserved;
} record_entry_t;

_Static_assert(sizeof(record_header_t) == RECORD_HEADER_SIZE, "header layout");
_Static_assert(sizeof(record_entry_t) == RECORD_SIZE, "record layout");

#endif
