/* ----------------------------------------------------------------------------
  harness/counters.c: native counters (see counters.h). Hardware counters come
  from perf_event_open(2) directly: one event per fd (not a group, because
  inherited events cannot be read as a group), user space only, so
  perf_event_paranoid <= 2 suffices.
---------------------------------------------------------------------------- */
#include "harness/counters.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const hl_metric_t counters_hw_metric[HL_HW_COUNT] = {
    [HL_HW_CYCLES] = HL_METRIC_cycles,           [HL_HW_INSTRUCTIONS] = HL_METRIC_instructions,
    [HL_HW_L1D_MISSES] = HL_METRIC_l1d_misses,   [HL_HW_LLC_MISSES] = HL_METRIC_llc_misses,
    [HL_HW_DTLB_MISSES] = HL_METRIC_dtlb_misses,
};

static void counters_hw_attr(int which, struct perf_event_attr *attr) {
  memset(attr, 0, sizeof *attr);
  attr->size = sizeof *attr;
  attr->disabled = 1;
  attr->inherit = 1;
  attr->exclude_kernel = 1;
  attr->exclude_hv = 1;
  const uint64_t read_miss =
      (PERF_COUNT_HW_CACHE_OP_READ << 8) | (PERF_COUNT_HW_CACHE_RESULT_MISS << 16);
  switch (which) {
    case HL_HW_CYCLES:
      attr->type = PERF_TYPE_HARDWARE, attr->config = PERF_COUNT_HW_CPU_CYCLES;
      break;
    case HL_HW_INSTRUCTIONS:
      attr->type = PERF_TYPE_HARDWARE, attr->config = PERF_COUNT_HW_INSTRUCTIONS;
      break;
    case HL_HW_L1D_MISSES:
      attr->type = PERF_TYPE_HW_CACHE, attr->config = PERF_COUNT_HW_CACHE_L1D | read_miss;
      break;
    case HL_HW_LLC_MISSES:
      attr->type = PERF_TYPE_HARDWARE, attr->config = PERF_COUNT_HW_CACHE_MISSES;
      break;
    case HL_HW_DTLB_MISSES:
      attr->type = PERF_TYPE_HW_CACHE, attr->config = PERF_COUNT_HW_CACHE_DTLB | read_miss;
      break;
  }
}

static int counters_perf_open(struct perf_event_attr *attr) {
  return (int)syscall(SYS_perf_event_open, attr, 0 /* this process */, -1, -1,
                      PERF_FLAG_FD_CLOEXEC);
}

/* Turn errno from perf_event_open into a reason a reader understands. */
static void counters_explain(int err, char *reason, size_t len) {
  const char *why = "";
  if (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)
    why = " (no hardware PMU: typical of a VM without counter passthrough)";
  else if (err == EACCES || err == EPERM)
    why = " (not permitted: see /proc/sys/kernel/perf_event_paranoid)";
  else if (err == ENOSYS)
    why = " (kernel without perf events)";
  snprintf(reason, len, "perf_event_open: %s%s", strerror(err), why);
}

int hl_counters_hw_available(char *reason, size_t len) {
  struct perf_event_attr attr;
  counters_hw_attr(HL_HW_CYCLES, &attr);
  int fd = counters_perf_open(&attr);
  if (fd < 0) {
    counters_explain(errno, reason, len);
    return 0;
  }
  close(fd);
  snprintf(reason, len, "available");
  return 1;
}

void hl_counters_open(hl_counters_t *c) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < HL_HW_COUNT; i++) {
    struct perf_event_attr attr;
    counters_hw_attr(i, &attr);
    c->hw_fd[i] = counters_perf_open(&attr);
    if (c->hw_fd[i] < 0) counters_explain(errno, c->hw_reason[i], sizeof c->hw_reason[i]);
  }
}

/* A "Vm...:" line of /proc/self/status in KiB, or -1. */
static long counters_status_kib(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long value = -1;
  size_t klen = strlen(key);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
      sscanf(line + klen + 1, "%ld", &value);
      break;
    }
  fclose(f);
  return value;
}

/* Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0), so
   the peak we read later belongs to the replay, not to loading the trace. */
static void counters_reset_peak(hl_counters_t *c) {
  int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "5", 1) != 1)
    snprintf(c->peak_reason, sizeof c->peak_reason,
             "cannot reset VmHWM via /proc/self/clear_refs: %s", strerror(errno));
  if (fd >= 0) close(fd);
}

static double counters_seconds(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

void hl_counters_start(hl_counters_t *c) {
  counters_reset_peak(c);
  c->rss_before_kib = counters_status_kib("VmRSS");
  getrusage(RUSAGE_SELF, &c->ru0);
  for (int i = 0; i < HL_HW_COUNT; i++)
    if (c->hw_fd[i] >= 0) ioctl(c->hw_fd[i], PERF_EVENT_IOC_RESET, 0);
  for (int i = 0; i < HL_HW_COUNT; i++)
    if (c->hw_fd[i] >= 0) ioctl(c->hw_fd[i], PERF_EVENT_IOC_ENABLE, 0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c->cpu0);
  clock_gettime(CLOCK_MONOTONIC, &c->wall0);
}

void hl_counters_stop(hl_counters_t *c) {
  struct timespec wall1, cpu1;
  clock_gettime(CLOCK_MONOTONIC, &wall1);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
  for (int i = 0; i < HL_HW_COUNT; i++)
    if (c->hw_fd[i] >= 0) ioctl(c->hw_fd[i], PERF_EVENT_IOC_DISABLE, 0);
  getrusage(RUSAGE_SELF, &c->ru1);
  c->wall_s = counters_seconds(&c->wall0, &wall1);
  c->cpu_s = counters_seconds(&c->cpu0, &cpu1);
}

void hl_counters_report(hl_counters_t *c, uint64_t events, hl_metrics_t *row) {
  hl_metrics_set(row, HL_METRIC_wall_s, "%.6f", c->wall_s);
  hl_metrics_set(row, HL_METRIC_cpu_s, "%.6f", c->cpu_s);
  if (c->wall_s > 0)
    hl_metrics_set(row, HL_METRIC_events_per_s, "%.0f", (double)events / c->wall_s);
  else
    hl_metrics_set_na(row, HL_METRIC_events_per_s, "wall time below clock resolution");
  long peak = counters_status_kib("VmHWM");
  if (c->peak_reason[0])
    hl_metrics_set_na(row, HL_METRIC_peak_rss_kib, c->peak_reason);
  else if (peak < 0)
    hl_metrics_set_na(row, HL_METRIC_peak_rss_kib, "no VmHWM in /proc/self/status");
  else
    hl_metrics_set(row, HL_METRIC_peak_rss_kib, "%ld", peak);
  if (c->rss_before_kib >= 0)
    hl_metrics_set(row, HL_METRIC_rss_before_kib, "%ld", c->rss_before_kib);
  else
    hl_metrics_set_na(row, HL_METRIC_rss_before_kib, "no VmRSS in /proc/self/status");
  hl_metrics_set(row, HL_METRIC_minor_faults, "%ld", c->ru1.ru_minflt - c->ru0.ru_minflt);
  hl_metrics_set(row, HL_METRIC_major_faults, "%ld", c->ru1.ru_majflt - c->ru0.ru_majflt);
  hl_metrics_set(row, HL_METRIC_voluntary_ctx_switches, "%ld", c->ru1.ru_nvcsw - c->ru0.ru_nvcsw);
  hl_metrics_set(row, HL_METRIC_involuntary_ctx_switches, "%ld",
                 c->ru1.ru_nivcsw - c->ru0.ru_nivcsw);
  for (int i = 0; i < HL_HW_COUNT; i++) {
    hl_metric_t m = counters_hw_metric[i];
    uint64_t value;
    if (c->hw_fd[i] < 0) {
      hl_metrics_set_na(row, m, c->hw_reason[i]);
      continue;
    }
    if (read(c->hw_fd[i], &value, sizeof value) == (ssize_t)sizeof value)
      hl_metrics_set(row, m, "%llu", (unsigned long long)value);
    else
      hl_metrics_set_na(row, m, "reading the perf counter failed");
    close(c->hw_fd[i]);
    c->hw_fd[i] = -1;
  }
}

void hl_counters_report_na(hl_counters_t *c, const char *reason, hl_metrics_t *row) {
  for (int m = HL_METRIC_wall_s; m <= HL_METRIC_involuntary_ctx_switches; m++)
    hl_metrics_set_na(row, (hl_metric_t)m, reason);
  for (int i = 0; i < HL_HW_COUNT; i++) {
    hl_metrics_set_na(row, counters_hw_metric[i], reason);
    if (c->hw_fd[i] >= 0) close(c->hw_fd[i]);
    c->hw_fd[i] = -1;
  }
}
