/* ----------------------------------------------------------------------------
  workloads/import/import_util.c: the pieces both importers share (see
  import_internal.h): the address map, file loading, errors, the sink.
---------------------------------------------------------------------------- */
#include "workloads/import/import_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- address map ---- */

static size_t map_slot(uint64_t addr, size_t cap) {
  /* Fibonacci hashing: heap addresses differ in their middle bits. */
  return (size_t)((addr * UINT64_C(0x9E3779B97F4A7C15)) >> 20) & (cap - 1);
}

void hl_import_map_init(hl_import_map_t *m) {
  memset(m, 0, sizeof *m);
}

void hl_import_map_free(hl_import_map_t *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

uint64_t hl_import_map_get(const hl_import_map_t *m, uint64_t addr) {
  if (!m->cap || !addr) return HL_IMPORT_NONE;
  for (size_t i = map_slot(addr, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == addr) return m->vals[i];
    if (m->keys[i] == 0) return HL_IMPORT_NONE;
  }
}

static int map_grow(hl_import_map_t *m) {
  size_t cap = m->cap ? m->cap * 2 : 1024;
  uint64_t *keys = calloc(cap, sizeof *keys), *vals = malloc(cap * sizeof *vals);
  if (!keys || !vals) return free(keys), free(vals), -1;
  for (size_t j = 0; j < m->cap; j++) {
    if (!m->keys[j]) continue;
    size_t i = map_slot(m->keys[j], cap);
    while (keys[i]) i = (i + 1) & (cap - 1);
    keys[i] = m->keys[j];
    vals[i] = m->vals[j];
  }
  free(m->keys);
  free(m->vals);
  m->keys = keys;
  m->vals = vals;
  m->cap = cap;
  return 0;
}

int hl_import_map_put(hl_import_map_t *m, uint64_t addr, uint64_t obj) {
  if ((m->used + 1) * 2 > m->cap && map_grow(m)) return -1;
  size_t i = map_slot(addr, m->cap);
  while (m->keys[i] && m->keys[i] != addr) i = (i + 1) & (m->cap - 1);
  if (!m->keys[i]) m->used++;
  m->keys[i] = addr;
  m->vals[i] = obj;
  return 0;
}

uint64_t hl_import_map_del(hl_import_map_t *m, uint64_t addr) {
  if (!m->cap || !addr) return HL_IMPORT_NONE;
  size_t i = map_slot(addr, m->cap);
  while (m->keys[i] != addr) {
    if (!m->keys[i]) return HL_IMPORT_NONE;
    i = (i + 1) & (m->cap - 1);
  }
  uint64_t obj = m->vals[i];
  /* Backward-shift deletion keeps probe chains whole without tombstones. */
  for (size_t j = i;;) {
    m->keys[i] = 0;
    for (;;) {
      j = (j + 1) & (m->cap - 1);
      if (!m->keys[j]) {
        m->used--;
        return obj;
      }
      size_t home = map_slot(m->keys[j], m->cap);
      /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
      if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) break;
    }
    m->keys[i] = m->keys[j];
    m->vals[i] = m->vals[j];
    i = j;
  }
}

/* ---- files and errors ---- */

int hl_import_fail(hl_trace_error_t *err, const char *file, uint64_t offset, uint64_t event,
                   uint64_t line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  trace_error_vset(err, file, offset, event, line, fmt, ap);
  va_end(ap);
  return -1;
}

/* ---- sink ---- */

int hl_import_emit(hl_import_sink_t *s, const hl_event_t *ev) {
  if (s->w && hl_trace_write(s->w, ev) != 0) {
    *s->err = *hl_trace_writer_error(s->w);
    return -1;
  }
  s->events++;
  return 0;
}

int hl_import_write(const char *out, uint32_t threads, const char *meta,
                    int (*pass)(void *ctx, hl_import_sink_t *s), void *ctx,
                    hl_import_stats_t *stats, hl_trace_error_t *err) {
  hl_import_sink_t s = {.err = err};
  s.w = hl_trace_writer_open(out, threads, meta, err);
  if (!s.w) return -1;
  if (pass(ctx, &s) != 0) {
    hl_trace_writer_abort(s.w);
    return -1;
  }
  if (hl_trace_writer_close(s.w) != 0) {
    *err = *hl_trace_writer_error(s.w);
    hl_trace_writer_abort(s.w);
    return -1;
  }
  stats->events = s.events;
  return 0;
}

void hl_import_stats_print(FILE *out, const hl_import_stats_t *st) {
  fprintf(out,
          "records: %" PRIu64 "\nevents: %" PRIu64 "\nthreads: %" PRIu32
          "\ndropped free(NULL): %" PRIu64 "\ndropped unknown address: %" PRIu64
          "\ndropped failed call: %" PRIu64 "\nalloc at a live address: %" PRIu64
          "\nlost records (cut-off writers): %" PRIu64 "\nrecords the recorder dropped: %" PRIu64
          "\nrealloc of an untraced block (imported as malloc): %" PRIu64 "\n",
          st->records, st->events, st->threads, st->null_frees, st->unknown, st->failed,
          st->reused_live, st->lost, st->dropped_by_tool, st->untraced_reallocs);
}
