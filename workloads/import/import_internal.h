/* ----------------------------------------------------------------------------
  workloads/import/import_internal.h: what the importers share: an address
  -> object map, whole-file loading, error filling and the event sink that
  either counts (first pass) or writes (second pass).
---------------------------------------------------------------------------- */
#ifndef HL_IMPORT_INTERNAL_H
#define HL_IMPORT_INTERNAL_H

#include "workloads/import/import.h"
#include "workloads/trace/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_IMPORT_NONE UINT64_MAX /* "no object" (an address that was never seen) */

/* Open addressing with linear probing; keys are nonzero addresses. */
typedef struct hl_import_map_s {
  uint64_t *keys; /* 0 = empty */
  uint64_t *vals;
  size_t cap; /* a power of two */
  size_t used;
} hl_import_map_t;

void hl_import_map_init(hl_import_map_t *m);
void hl_import_map_free(hl_import_map_t *m);
/* The object at `addr`, or HL_IMPORT_NONE. */
uint64_t hl_import_map_get(const hl_import_map_t *m, uint64_t addr);
/* Bind addr -> obj (replacing). -1 when out of memory. */
int hl_import_map_put(hl_import_map_t *m, uint64_t addr, uint64_t obj);
/* Unbind addr; returns its object or HL_IMPORT_NONE. */
uint64_t hl_import_map_del(hl_import_map_t *m, uint64_t addr);

/* Input files are loaded with the trace library's trace_file_load (mapped
   when regular, read when a pipe) and given back with trace_file_release. */

__attribute__((format(printf, 6, 7))) int hl_import_fail(hl_trace_error_t *err, const char *file,
                                                         uint64_t offset, uint64_t event,
                                                         uint64_t line, const char *fmt, ...);

/* Where events go: w == NULL counts only. */
typedef struct hl_import_sink_s {
  hl_trace_writer_t *w;
  uint64_t events;
  hl_trace_error_t *err;
} hl_import_sink_t;

int hl_import_emit(hl_import_sink_t *s, const hl_event_t *ev);

/* Open `out` for a trace of `threads` threads, write it with pass(), close.
   pass(ctx, sink) runs twice in the callers' design: once counting, once
   writing; this helper does the writing one. */
int hl_import_write(const char *out, uint32_t threads, const char *meta,
                    int (*pass)(void *ctx, hl_import_sink_t *s), void *ctx,
                    hl_import_stats_t *stats, hl_trace_error_t *err);

#endif
