/* ----------------------------------------------------------------------------
  harness/counters.h: what a native run measures about itself.

  Always: wall and CPU time, peak RSS (VmHWM, reset at the start so trace
  loading does not count), page faults, context switches. Hardware counters
  (cycles, instructions, L1D/LLC/dTLB misses) through perf_event_open when the
  machine has a PMU; otherwise each is NA with the kernel's reason. Never 0
  for "unknown".

  Open the counters before creating worker threads: they are inherited by
  threads created afterwards, and the counts of exited threads fold back.
---------------------------------------------------------------------------- */
#ifndef HL_COUNTERS_H
#define HL_COUNTERS_H

#include "harness/metrics.h"
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>

enum {
  HL_HW_CYCLES,
  HL_HW_INSTRUCTIONS,
  HL_HW_L1D_MISSES,
  HL_HW_LLC_MISSES,
  HL_HW_DTLB_MISSES,
  HL_HW_COUNT
};

typedef struct hl_counters_s {
  int hw_fd[HL_HW_COUNT];           /* -1 when unavailable */
  char hw_reason[HL_HW_COUNT][256]; /* why not (whole: a reason cut mid-word helps nobody) */
  char peak_reason[256];            /* why peak RSS is NA, if it is */
  long rss_before_kib;
  struct timespec wall0, cpu0;
  struct rusage ru0;
  double wall_s, cpu_s;
  struct rusage ru1;
} hl_counters_t;

/* Open hardware counters (disabled). Call before creating threads. */
void hl_counters_open(hl_counters_t *c);
/* Reset the RSS peak, take the starting readings, enable the counters. */
void hl_counters_start(hl_counters_t *c);
/* Disable the counters and take the final readings (after joining threads). */
void hl_counters_stop(hl_counters_t *c);
/* Fill the counter columns of `row` (events gives events_per_s) and close. */
void hl_counters_report(hl_counters_t *c, uint64_t events, hl_metrics_t *row);
/* Every column hl_counters_report fills, NA with `reason` instead (a
   simulated run: the time and memory measured would be the simulator's). */
void hl_counters_report_na(hl_counters_t *c, const char *reason, hl_metrics_t *row);

/* Whether perf_event_open can count cycles here; writes the reason if not. */
int hl_counters_hw_available(char *reason, size_t len);

#endif
