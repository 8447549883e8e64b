/* ----------------------------------------------------------------------------
  workloads/import/import.h: turn other programs' allocation logs into heaplab
  traces (`hltrace import FORMAT INPUT -o TRACE`).

  Formats:
  - "record": the raw log of heaplab's LD_PRELOAD recorder
    (workloads/recorder/record_format.h, workloads/RECORDING.md);
  - "mtrace": glibc's MALLOC_TRACE text (one thread).

  Both map addresses to the trace's dense object ids. Calls the trace cannot
  express are dropped and counted, never guessed: free(NULL), frees of
  addresses never seen allocated (allocated before recording started, or by
  code the recorder could not see), failed calls. A realloc of such an
  untraced block leaves the program holding a block of the new size: it is
  imported as an allocation of that size (malloc), counted, so the block's
  later free and reallocs are traced. An alloc at
  an address that is still live (a free that was not seen) forgets the old
  object, which stays live to the end of the trace, and is counted.
---------------------------------------------------------------------------- */
#ifndef HL_IMPORT_H
#define HL_IMPORT_H

#include "workloads/trace.h"

#include <stdint.h>

typedef struct hl_import_stats_s {
  uint64_t records;           /* input records or lines with an event */
  uint64_t events;            /* trace events written (thread start/end included) */
  uint32_t threads;           /* threads in the trace */
  uint64_t null_frees;        /* free(NULL): dropped */
  uint64_t unknown;           /* free of an address never seen allocated: dropped */
  uint64_t untraced_reallocs; /* realloc of such an address: imported as an alloc */
  uint64_t failed;            /* failed calls (NULL results): dropped */
  uint64_t reused_live;       /* alloc at a live address: the old object is forgotten */
  uint64_t lost;              /* record: empty slots before the last record (cut-off writers) */
  uint64_t dropped_by_tool;   /* record: records the recorder could not store (log full) */
} hl_import_stats_t;

/* Convert `in` to the binary trace `out` (written whole or not at all).
   0 ok (*stats filled), -1 error (*err: file, byte offset, and for text the
   line). */
int hl_import_record(const char *in, const char *out, hl_import_stats_t *stats,
                     hl_trace_error_t *err);
int hl_import_mtrace(const char *in, const char *out, hl_import_stats_t *stats,
                     hl_trace_error_t *err);

/* Print the counts of *stats as "NAME: N" lines (for hltrace import). */
void hl_import_stats_print(FILE *out, const hl_import_stats_t *stats);

#endif
