/* ----------------------------------------------------------------------------
  workloads/trace/stats.c: live bytes over time and object lifetimes for
  `hltrace stats` (stats.h), and the two-pass input they need.
---------------------------------------------------------------------------- */
#include "workloads/trace/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- input ---- */

/* Read all of fd into memory: a pipe, a FIFO or a terminal cannot be read
   twice, and only a regular file can be reopened. */
static int stats_slurp(hl_trace_stats_input_t *in, int fd, const char *name,
                       hl_trace_error_t *err) {
  size_t cap = 1 << 16;
  in->buf = malloc(cap);
  in->len = 0;
  for (;;) {
    if (!in->buf) break;
    if (in->len == cap) {
      void *bigger = cap <= SIZE_MAX / 2 ? realloc(in->buf, cap * 2) : NULL;
      if (!bigger) break;
      in->buf = bigger, cap *= 2;
    }
    ssize_t n = read(fd, (char *)in->buf + in->len, cap - in->len);
    if (n == 0) return 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(err->message, sizeof err->message, "cannot read: %s", strerror(errno));
      goto fail;
    }
    in->len += (size_t)n;
  }
  snprintf(err->message, sizeof err->message, "out of memory reading the whole input");
fail:
  snprintf(err->file, sizeof err->file, "%s", name);
  err->offset = in->len, err->event = 0, err->line = 0;
  free(in->buf);
  in->buf = NULL;
  return -1;
}

/* Decide once, on the first open, whether the input can be reopened (a
   regular file) or must be held in memory (stdin, a FIFO, <(...)). */
static int stats_take(hl_trace_stats_input_t *in, hl_trace_error_t *err) {
  bool is_stdin = strcmp(in->path, "-") == 0;
  const char *name = is_stdin ? "<stdin>" : in->path;
  int fd = is_stdin ? STDIN_FILENO : open(in->path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    memset(err, 0, sizeof *err);
    snprintf(err->file, sizeof err->file, "%s", name);
    snprintf(err->message, sizeof err->message, "cannot open: %s", strerror(errno));
    if (fd >= 0 && !is_stdin) close(fd);
    return -1;
  }
  int rc = 0;
  in->taken = true;
  if (is_stdin || !S_ISREG(st.st_mode)) {
    in->in_memory = true;
    rc = stats_slurp(in, fd, name, err);
  }
  if (!is_stdin) close(fd);
  return rc;
}

hl_trace_reader_t *hl_trace_stats_open(hl_trace_stats_input_t *in, hl_trace_error_t *err) {
  if (!in->taken && stats_take(in, err)) return NULL;
  if (!in->in_memory) return hl_trace_open(in->path, err);
  const char *name = strcmp(in->path, "-") == 0 ? "<stdin>" : in->path;
  return hl_trace_open_mem(in->buf, in->len, name, err);
}

int hl_trace_stats_count(hl_trace_stats_input_t *in, uint64_t *events, hl_trace_error_t *err) {
  hl_trace_reader_t *r = hl_trace_stats_open(in, err);
  if (!r) return -1;
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
  }
  if (rc != 0) *err = *hl_trace_reader_error(r);
  *events = hl_trace_events_read(r);
  hl_trace_close(r);
  return rc == 0 ? 0 : -1;
}

void hl_trace_stats_input_free(hl_trace_stats_input_t *in) {
  free(in->buf);
  in->buf = NULL;
}

/* ---- samples and lifetimes ---- */

void hl_trace_stats_time_init(hl_trace_stats_time_t *t, uint64_t total_events) {
  memset(t, 0, sizeof *t);
  t->total = total_events;
  t->nsamples =
      total_events < HL_TRACE_STATS_SAMPLES ? (unsigned)total_events : HL_TRACE_STATS_SAMPLES;
}

static unsigned stats_bucket(uint64_t x) {
  return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

/* ceil(i * total / nsamples) without overflow (total < 2^64, i <= 20). */
static uint64_t stats_sample_at(const hl_trace_stats_time_t *t, unsigned i) {
  uint64_t q = t->total / t->nsamples, r = t->total % t->nsamples;
  return q * i + (r * i + t->nsamples - 1) / t->nsamples;
}

int hl_trace_stats_time_event(hl_trace_stats_time_t *t, const hl_event_t *ev, uint64_t index,
                              uint64_t live_bytes, uint64_t live_objects) {
  if (ev->op == HL_OP_ALLOC) {
    if (t->objects == t->cap) {
      uint64_t cap = t->cap ? 2 * t->cap : 4096;
      uint64_t *bigger =
          cap <= SIZE_MAX / sizeof *bigger ? realloc(t->born, cap * sizeof *bigger) : NULL;
      if (!bigger) return -1;
      t->born = bigger, t->cap = cap;
    }
    t->born[t->objects++] = index;
  } else if (ev->op == HL_OP_FREE) {
    t->lifetime[stats_bucket(index - t->born[ev->obj])]++;
    t->freed++;
  }
  if (t->taken < t->nsamples && index + 1 == stats_sample_at(t, t->taken + 1))
    t->sample[t->taken++] = (hl_trace_stats_sample_t){index + 1, live_bytes, live_objects};
  return 0;
}

void hl_trace_stats_time_print(FILE *out, const hl_trace_stats_time_t *t, bool csv) {
  uint64_t never = t->objects - t->freed;
  if (csv) {
    for (unsigned i = 0; i < t->taken; i++) {
      const hl_trace_stats_sample_t *s = &t->sample[i];
      fprintf(out, "live_after_event_%" PRIu64 "_bytes,%" PRIu64 "\n", s->event, s->live_bytes);
      fprintf(out, "live_after_event_%" PRIu64 "_objects,%" PRIu64 "\n", s->event, s->live_objects);
    }
    for (unsigned b = 0; b < HL_TRACE_STATS_BUCKETS; b++)
      if (t->lifetime[b])
        fprintf(out, "lifetime_hist_%" PRIu64 ",%" PRIu64 "\n", b ? UINT64_C(1) << (b - 1) : 0,
                t->lifetime[b]);
    fprintf(out, "lifetime_never_freed,%" PRIu64 "\n", never);
    return;
  }
  if (t->taken) {
    fprintf(out, "live over time (%u samples evenly spaced in event number):\n", t->taken);
    fprintf(out, "  %14s %16s %14s\n", "after event", "live bytes", "live objects");
    for (unsigned i = 0; i < t->taken; i++)
      fprintf(out, "  %14" PRIu64 " %16" PRIu64 " %14" PRIu64 "\n", t->sample[i].event,
              t->sample[i].live_bytes, t->sample[i].live_objects);
  }
  if (t->objects) {
    fprintf(out, "object lifetimes (events from alloc to free, power-of-two buckets):\n");
    for (unsigned b = 0; b < HL_TRACE_STATS_BUCKETS; b++) {
      if (!t->lifetime[b]) continue;
      uint64_t lo = b ? UINT64_C(1) << (b - 1) : 0;
      uint64_t hi = b == 0 ? 0 : b == 64 ? UINT64_MAX : (UINT64_C(1) << b) - 1;
      char range[48];
      if (lo == hi)
        snprintf(range, sizeof range, "%" PRIu64, lo);
      else
        snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, lo, hi);
      fprintf(out, "  %-24s %12" PRIu64 "  %5.1f%%\n", range, t->lifetime[b],
              100.0 * (double)t->lifetime[b] / (double)t->objects);
    }
    fprintf(out, "  %-24s %12" PRIu64 "  %5.1f%%\n", "never freed", never,
            100.0 * (double)never / (double)t->objects);
  }
}

void hl_trace_stats_time_free(hl_trace_stats_time_t *t) {
  free(t->born);
  t->born = NULL;
}
