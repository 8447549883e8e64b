/* ----------------------------------------------------------------------------
  workloads/trace/stats.h: the time-dependent parts of `hltrace stats`.

  - Live bytes and live objects over time: HL_TRACE_STATS_SAMPLES samples
    evenly spaced in event number. Sample i (1..S, S = min(20, events)) is
    taken right after event ceil(i*E/S) (events counted from 1), so the last
    sample is the end of the trace. Spacing them needs the event count
    first, hence a counting pass (hl_trace_stats_count) before the real one.
    The input is opened once to see what it is: a regular file is read
    twice, anything else (stdin, a FIFO, <(...)) is read into memory once.
  - Object lifetimes: events from an object's alloc to its free (realloc
    does not restart it), in power-of-two buckets; objects never freed are
    counted apart.

  hltrace.c keeps the per-event counters and feeds every event here.
---------------------------------------------------------------------------- */
#ifndef HL_TRACE_STATS_H
#define HL_TRACE_STATS_H

#include "workloads/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HL_TRACE_STATS_SAMPLES 20
#define HL_TRACE_STATS_BUCKETS 65 /* bucket 0: 0; b: [2^(b-1), 2^b) */

/* Where the trace comes from: a path ("-" = stdin), held in memory when it
   cannot be reopened. */
typedef struct hl_trace_stats_input_s {
  const char *path;
  bool taken;     /* looked at: in_memory is decided */
  bool in_memory; /* not a regular file: buf holds its bytes */
  void *buf;
  size_t len;
} hl_trace_stats_input_t;

/* First pass: the number of events. 0 ok, -1 error (*err filled). */
int hl_trace_stats_count(hl_trace_stats_input_t *in, uint64_t *events, hl_trace_error_t *err);
/* A reader from the start (after hl_trace_stats_count). NULL on error. */
hl_trace_reader_t *hl_trace_stats_open(hl_trace_stats_input_t *in, hl_trace_error_t *err);
void hl_trace_stats_input_free(hl_trace_stats_input_t *in);

typedef struct hl_trace_stats_sample_s {
  uint64_t event; /* taken after this many events */
  uint64_t live_bytes, live_objects;
} hl_trace_stats_sample_t;

typedef struct hl_trace_stats_time_s {
  uint64_t total;    /* events in the trace */
  unsigned nsamples; /* min(total, HL_TRACE_STATS_SAMPLES) */
  unsigned taken;
  hl_trace_stats_sample_t sample[HL_TRACE_STATS_SAMPLES];
  uint64_t lifetime[HL_TRACE_STATS_BUCKETS];
  uint64_t objects, freed;
  uint64_t *born; /* event number of each object's alloc */
  uint64_t cap;
} hl_trace_stats_time_t;

void hl_trace_stats_time_init(hl_trace_stats_time_t *t, uint64_t total_events);
/* Event number `index` (0-based), after the caller applied it: live_bytes
   and live_objects are the totals after it. 0 ok, -1 out of memory. */
int hl_trace_stats_time_event(hl_trace_stats_time_t *t, const hl_event_t *ev, uint64_t index,
                              uint64_t live_bytes, uint64_t live_objects);
/* Print the samples and the lifetime histogram, as text or 'metric,value'
   rows (live_after_event_N_bytes, live_after_event_N_objects,
   lifetime_hist_LO, lifetime_never_freed). */
void hl_trace_stats_time_print(FILE *out, const hl_trace_stats_time_t *t, bool csv);
void hl_trace_stats_time_free(hl_trace_stats_time_t *t);

#endif
