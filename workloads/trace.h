/* ----------------------------------------------------------------------------
  workloads/trace.h: heaplab's trace format, version 2 (spec: workloads/FORMAT.md).
  Version 2 adds SEND_PART (a message of several objects); readers still read
  version 1 files, and the writer writes version 2.

  A trace is a globally ordered sequence of events. Each event belongs to one
  logical thread and, for object events, to one object. Object ids are dense:
  the n-th ALLOC of a trace creates object n (ids start at 0 and are never
  reused), so readers can keep per-object state in arrays.

  The reader validates everything as it decodes: structure (magic, version,
  varints, truncation, the END record) and meaning (objects used only while
  live, in-bounds accesses, threads in range and started, barriers
  consistent, messages closed by their thread's next event). An invalid trace stops at the first
problem with the file, the byte offset and the event number. The writer runs the same validator, so
an invalid trace can never be written.
---------------------------------------------------------------------------- */
#ifndef HL_TRACE_H
#define HL_TRACE_H

#include "alloc/alloc.h" /* hl_alloc_kind_t */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HL_TRACE_VERSION     2 /* what the writer writes */
#define HL_TRACE_MIN_VERSION 1 /* the oldest the reader reads (no SEND_PART) */
#define HL_TRACE_MAX_THREADS 4096
#define HL_TRACE_MAX_SIZE    (UINT64_C(1) << 48) /* largest object or access length */
#define HL_TRACE_NO_OBJECT   UINT64_MAX          /* LINK target meaning "null" */

typedef enum hl_op_e {
  HL_OP_ALLOC = 0,    /* obj (new), size, kind, align */
  HL_OP_FREE,         /* obj */
  HL_OP_REALLOC,      /* obj, size (new size; the object keeps its id) */
  HL_OP_READ,         /* obj, offset, size (length) */
  HL_OP_WRITE,        /* obj, offset, size (length) */
  HL_OP_LINK,         /* obj, offset (pointer field), target (object or HL_TRACE_NO_OBJECT) */
  HL_OP_SEND,         /* obj, target (destination thread) */
  HL_OP_THREAD_START, /* (thread only) */
  HL_OP_THREAD_END,   /* (thread only) */
  HL_OP_BARRIER,      /* obj (barrier number), size (participating threads) */
  HL_OP_SEND_PART,    /* obj, target: obj joins the message the thread is building for
                         thread `target`; the thread's next SEND (same target) closes and
                         sends it with its own object (trace version 2) */
  HL_OP_COUNT
} hl_op_t;

/* One decoded event. Which fields mean something depends on `op` (above);
   the others are zero. */
typedef struct hl_event_s {
  hl_op_t op;
  hl_alloc_kind_t kind; /* ALLOC */
  uint32_t thread;
  uint64_t obj;    /* object id; BARRIER: barrier number */
  uint64_t size;   /* ALLOC/REALLOC: bytes; READ/WRITE: length; BARRIER: participants */
  uint64_t align;  /* ALLOC with an aligned kind: alignment in bytes (a power of two) */
  uint64_t offset; /* READ/WRITE/LINK: byte offset inside obj */
  uint64_t target; /* LINK: target object id; SEND, SEND_PART: destination thread */
} hl_event_t;

const char *hl_op_name(hl_op_t op);

/* Where and why reading or writing a trace failed. */
typedef struct hl_trace_error_s {
  char file[256];
  uint64_t offset; /* byte offset of the problem (binary) or of the line start (text) */
  uint64_t event;  /* 0-based number of the event being decoded */
  uint64_t line;   /* text form only: 1-based line; 0 for binary */
  char message[256];
} hl_trace_error_t;

/* Print "FILE: byte OFFSET, event N: MESSAGE" (with the line for text). */
void hl_trace_error_print(FILE *out, const hl_trace_error_t *err);

typedef struct hl_trace_header_s {
  uint32_t version; /* HL_TRACE_MIN_VERSION..HL_TRACE_VERSION */
  uint32_t threads; /* thread ids are 0..threads-1 */
  const char *meta; /* "key=value\n" lines: what made the trace, how, when */
  size_t meta_len;
} hl_trace_header_t;

/* ---- reading ---- */
typedef struct hl_trace_reader_s hl_trace_reader_t;

/* Open a binary trace file ("-" = stdin). NULL on failure with *err filled. */
hl_trace_reader_t *hl_trace_open(const char *path, hl_trace_error_t *err);
/* Read a trace from memory (not copied; must outlive the reader). `name` is
   used in error messages. */
hl_trace_reader_t *hl_trace_open_mem(const void *data, size_t len, const char *name,
                                     hl_trace_error_t *err);
const hl_trace_header_t *hl_trace_header(const hl_trace_reader_t *r);
/* 1: *ev holds the next event; 0: clean end of trace (END record matched);
   -1: error, see hl_trace_reader_error(). */
int hl_trace_next(hl_trace_reader_t *r, hl_event_t *ev);
const hl_trace_error_t *hl_trace_reader_error(const hl_trace_reader_t *r);
uint64_t hl_trace_events_read(const hl_trace_reader_t *r);
uint64_t hl_trace_objects(const hl_trace_reader_t *r); /* ALLOCs so far */
/* Size of a live object (valid for ids the reader has seen allocated). */
uint64_t hl_trace_object_size(const hl_trace_reader_t *r, uint64_t obj);
/* The most bytes live at once in the events read so far (sizes as traced,
   no allocator overhead), and the event number where that peak was first
   reached; UINT64_MAX when the sum overflows. */
uint64_t hl_trace_peak_live_bytes(const hl_trace_reader_t *r, uint64_t *at_event);
void hl_trace_close(hl_trace_reader_t *r);

/* ---- writing ---- */
typedef struct hl_trace_writer_s hl_trace_writer_t;

/* Create `path` ("-" = stdout). Data goes to a temporary file that is renamed
   over `path` only by a successful hl_trace_writer_close, so a failed or
   interrupted write never leaves a half-written trace. `meta` is
   "key=value\n" lines (may be NULL). */
hl_trace_writer_t *hl_trace_writer_open(const char *path, uint32_t threads, const char *meta,
                                        hl_trace_error_t *err);
/* The id the next ALLOC must carry (ALLOC events must use it). */
uint64_t hl_trace_writer_next_id(const hl_trace_writer_t *w);
/* Validate and append one event. 0 ok, -1 error (see hl_trace_writer_error). */
int hl_trace_write(hl_trace_writer_t *w, const hl_event_t *ev);
const hl_trace_error_t *hl_trace_writer_error(const hl_trace_writer_t *w);
/* Write the END record, flush and rename into place. 0 ok, -1 error. */
int hl_trace_writer_close(hl_trace_writer_t *w);
/* Discard: remove the temporary file, write nothing. */
void hl_trace_writer_abort(hl_trace_writer_t *w);

/* ---- the text form (for people; see FORMAT.md) ---- */
/* Binary -> text. 0 ok, -1 error (*err filled). */
int hl_trace_dump(const char *in_path, FILE *out, hl_trace_error_t *err);
/* Text -> binary; object labels in the text are renumbered densely. */
int hl_trace_pack(const char *in_path, const char *out_path, hl_trace_error_t *err);

#endif
