/* ----------------------------------------------------------------------------
  harness/hlqueuebench.c: the `hlqueuebench` command (issue 7, seed 003):
  message passing between producer/consumer thread pairs through a queue
  whose entries come from (a) the queue's own unit heap (ServerKit's design,
  alloc/unit) or (b) malloc/free, with the very same queue code
  (hl_unit_queue_new vs hl_unit_queue_new_with and a malloc source), so the
  only difference measured is where entries come from.

  For each pair count 1..N, pair i has its own queue: producer i allocates an
  entry, fills it (sequence number, pair, a payload of words), pushes it;
  consumer i pops, checks the order and the payload, adds it to a checksum and
  gives the entry back (unit: a release into the queue's heap; malloc: free
  from the consumer thread, the cross-thread free malloc libraries find hard).
  A window (--inflight) bounds entries in flight per pair, the same in both
  modes. Each run is checked: every message arrives once, in order, with the
  producer's checksum; a run that loses one fails the command.

  (b) runs with glibc in this process, and with each library named by
  --preload (jemalloc, mimalloc, tcmalloc) in a child that re-executes this
  command under LD_PRELOAD (harness/preload.c, as hlreplay does) and proves
  which library served malloc (the baseline allocators' identify()). Each
  process measures both modes, so every ratio compares numbers taken in the
  same process.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/unit/unit.h"
#include "harness/bench.h"
#include "harness/preload.h"
#include "workloads/cli.h"
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#define qb_relax() __builtin_ia32_pause()
#else
#define qb_relax() ((void)0)
#endif

#define QB_MAX_PAIRS 256
#define QB_MAX_LIBS  4

typedef struct qb_opts_s {
  unsigned pairs, repeats;
  uint64_t messages;
  size_t size, inflight;
  bool csv, quiet;
  uint64_t skip;     /* testing: pair 0 never sends this sequence number (0 = off) */
  const char *child; /* internal: this process is the preloaded child for this library */
  const char *libs[QB_MAX_LIBS];
  unsigned nlibs;
} qb_opts_t;

/* A message: header words, then payload words up to the entry size. */
typedef struct qb_msg_s {
  uint64_t seq, pair, check;
  uint64_t payload[];
} qb_msg_t;

typedef struct qb_pair_s {
  hl_unit_queue_t *q;
  _Atomic uint64_t received; /* published by the consumer for the window */
  uint64_t sent_sum, got_sum, got, bad;
  char pad[64];
} qb_pair_t;

typedef struct qb_run_s {
  const qb_opts_t *o;
  qb_pair_t *pairs;
  _Atomic unsigned ready;
  _Atomic int go, failed;
} qb_run_t;

typedef struct qb_arg_s {
  qb_run_t *run;
  unsigned i;
} qb_arg_t;

static uint64_t qb_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static double qb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void qb_start(qb_run_t *run) {
  atomic_fetch_add(&run->ready, 1);
  while (!atomic_load_explicit(&run->go, memory_order_acquire)) qb_relax();
}

static void *qb_producer(void *arg) {
  qb_arg_t *a = arg;
  qb_run_t *run = a->run;
  qb_pair_t *p = &run->pairs[a->i];
  size_t words = (run->o->size - sizeof(qb_msg_t)) / 8;
  uint64_t sum = 0;
  qb_start(run);
  for (uint64_t s = 0; s < run->o->messages; s++) {
    unsigned spins = 0;
    while (s - atomic_load_explicit(&p->received, memory_order_acquire) >= run->o->inflight) {
      if (atomic_load_explicit(&run->failed, memory_order_relaxed)) return NULL;
      if (++spins % 64 == 0)
        sched_yield(); /* 2 cores here: let the consumer run */
      else
        qb_relax();
    }
    hl_unit_status_t why = HL_UNIT_OK;
    qb_msg_t *m = hl_unit_queue_entry(p->q, &why);
    if (m == NULL) {
      fprintf(stderr, "hlqueuebench: pair %u: no entry: %s\n", a->i, hl_unit_status_name(why));
      atomic_store(&run->failed, 1);
      return NULL;
    }
    uint64_t seq = a->i == 0 && run->o->skip && s >= run->o->skip ? s + 1 : s;
    uint64_t v = qb_mix(seq * 131 + a->i);
    m->seq = seq, m->pair = a->i;
    for (size_t w = 0; w < words; w++) m->payload[w] = v + w;
    m->check = v;
    sum += qb_mix(s * 131 + a->i); /* what the consumer must see: messages 0..n-1 */
    hl_unit_queue_push(p->q, m);
  }
  p->sent_sum = sum;
  return NULL;
}

static void *qb_consumer(void *arg) {
  qb_arg_t *a = arg;
  qb_run_t *run = a->run;
  qb_pair_t *p = &run->pairs[a->i];
  size_t words = (run->o->size - sizeof(qb_msg_t)) / 8;
  uint64_t got = 0, sum = 0, bad = 0, n = run->o->messages;
  qb_start(run);
  double last = qb_now();
  unsigned idle = 0;
  while (got < n) {
    qb_msg_t *m = hl_unit_queue_pop(p->q);
    if (m == NULL) {
      if (++idle % 64 == 0) {
        sched_yield();
        if (atomic_load_explicit(&run->failed, memory_order_relaxed)) break;
        if (idle % 65536 == 0 && qb_now() - last > 10.0) { /* nothing for 10 s: lost */
          fprintf(stderr, "hlqueuebench: pair %u: stuck at %llu of %llu messages\n", a->i,
                  (unsigned long long)got, (unsigned long long)n);
          atomic_store(&run->failed, 1);
          break;
        }
      } else {
        qb_relax();
      }
      continue;
    }
    if (idle) idle = 0, last = qb_now();
    if (m->seq != got || m->pair != a->i ||
        (words && m->payload[words - 1] != m->check + words - 1))
      bad++;
    sum += m->check;
    hl_unit_queue_done(p->q, m);
    if (++got % 32 == 0) atomic_store_explicit(&p->received, got, memory_order_release);
  }
  atomic_store_explicit(&p->received, got, memory_order_release);
  p->got = got, p->got_sum = sum, p->bad = bad;
  return NULL;
}

/* ---- entry sources ---- */

static void *qb_malloc_alloc(void *arg, size_t node_size, hl_unit_status_t *why) {
  (void)arg;
  void *p = malloc(node_size);
  if (p == NULL && why) *why = HL_UNIT_E_NOMEM;
  return p;
}
static void qb_malloc_release(void *arg, void *node) {
  (void)arg;
  free(node);
}
static const hl_unit_queue_source_t qb_malloc_source = {"malloc", qb_malloc_alloc,
                                                        qb_malloc_release, NULL};

/* One run: messages/s over all pairs, or -1 on failure (why printed). */
static double qb_run_once(const qb_opts_t *o, unsigned npairs, bool unit) {
  qb_run_t run = {.o = o};
  qb_pair_t *pairs = calloc(npairs, sizeof *pairs);
  pthread_t *th = calloc(2 * npairs, sizeof *th);
  qb_arg_t *args = calloc(npairs, sizeof *args);
  double rate = -1;
  unsigned started = 0;
  if (!pairs || !th || !args) goto out;
  run.pairs = pairs;
  for (unsigned i = 0; i < npairs; i++) {
    char label[32];
    snprintf(label, sizeof label, "qbench-%u", i);
    pairs[i].q = unit ? hl_unit_queue_new(label, o->size, 256, 0,
                                          HL_UNIT_GROW_UNLIMITED | HL_UNIT_GROW_EXPONENTIAL, NULL)
                      : hl_unit_queue_new_with(o->size, &qb_malloc_source, NULL);
    if (pairs[i].q == NULL) goto out;
    atomic_init(&pairs[i].received, 0);
    args[i] = (qb_arg_t){&run, i};
  }
  for (unsigned i = 0; i < npairs; i++) {
    if (pthread_create(&th[2 * i], NULL, qb_consumer, &args[i]) != 0) break;
    started++;
    if (pthread_create(&th[2 * i + 1], NULL, qb_producer, &args[i]) != 0) break;
    started++;
  }
  if (started < 2 * npairs) atomic_store(&run.failed, 1);
  while (atomic_load(&run.ready) < started) sched_yield();
  double t0 = qb_now();
  atomic_store_explicit(&run.go, 1, memory_order_release);
  for (unsigned i = 0; i < started; i++) pthread_join(th[i], NULL);
  double t1 = qb_now();
  if (atomic_load(&run.failed)) goto out;
  for (unsigned i = 0; i < npairs; i++) {
    if (pairs[i].got != o->messages || pairs[i].bad || pairs[i].got_sum != pairs[i].sent_sum) {
      fprintf(stderr,
              "hlqueuebench: %s, %u pairs, pair %u: received %llu of %llu, %llu out of order or "
              "corrupt, checksum %s\n",
              unit ? "unit" : "malloc", npairs, i, (unsigned long long)pairs[i].got,
              (unsigned long long)o->messages, (unsigned long long)pairs[i].bad,
              pairs[i].got_sum == pairs[i].sent_sum ? "ok" : "MISMATCH");
      goto out;
    }
    if (hl_unit_queue_pop(pairs[i].q) != NULL) {
      fprintf(stderr, "hlqueuebench: pair %u: a message too many\n", i);
      goto out;
    }
  }
  rate = (double)o->messages * npairs / (t1 - t0);
out:
  for (unsigned i = 0; pairs && i < npairs; i++) hl_unit_queue_delete(pairs[i].q);
  free(pairs);
  free(th);
  free(args);
  return rate;
}

/* ---- results ---- */

typedef struct qb_row_s {
  unsigned pairs;
  char lib[32], served[160];
  double unit[3], mall[3]; /* median, min, max messages/s */
} qb_row_t;

/* Both modes for every pair count, in this process; rows appended. */
static int qb_measure(const qb_opts_t *o, const char *lib, const char *served, qb_row_t *rows,
                      unsigned *nrows) {
  double *u = calloc(o->repeats, sizeof *u), *m = calloc(o->repeats, sizeof *m);
  if (!u || !m) return free(u), free(m), -1;
  for (unsigned p = 1; p <= o->pairs; p++) {
    for (unsigned r = 0; r < o->repeats; r++) {
      if (!o->quiet)
        fprintf(stderr, "hlqueuebench: %s: %u pair%s, repeat %u of %u\n", lib, p, p > 1 ? "s" : "",
                r + 1, o->repeats);
      /* alternate the order so drift does not favour one mode */
      for (int k = 0; k < 2; k++) {
        bool unit = (k == 0) == (r % 2 == 0);
        double rate = qb_run_once(o, p, unit);
        if (rate < 0) return free(u), free(m), -1;
        (unit ? u : m)[r] = rate;
      }
    }
    qb_row_t *row = &rows[(*nrows)++];
    row->pairs = p;
    snprintf(row->lib, sizeof row->lib, "%s", lib);
    snprintf(row->served, sizeof row->served, "%s", served);
    hl_bench_median_min_max(u, o->repeats, row->unit);
    hl_bench_median_min_max(m, o->repeats, row->mall);
  }
  free(u);
  free(m);
  return 0;
}

/* Which library serves malloc here, proven by the baseline's identify(). */
static int qb_served_by(const char *lib, char *buf, size_t len) {
  const hl_allocator_t *a = hl_alloc_find(lib);
  if (a == NULL || a->identify == NULL) {
    snprintf(buf, len, "unknown library '%s'", lib);
    return -1;
  }
  return a->identify(buf, len);
}

/* Run the child for `lib` under LD_PRELOAD and read its rows. */
static int qb_run_child(const qb_opts_t *o, const char *self, const char *lib, qb_row_t *rows,
                        unsigned *nrows) {
  char cmd[8192];
  snprintf(cmd, sizeof cmd,
           "'%s' --child %s --pairs %u --messages %llu --repeats %u --size %zu --inflight %zu%s",
           self, lib, o->pairs, (unsigned long long)o->messages, o->repeats, o->size, o->inflight,
           o->quiet ? " -q" : "");
  FILE *f = popen(cmd, "r");
  if (f == NULL) {
    fprintf(stderr, "hlqueuebench: cannot run %s: %s\n", cmd, strerror(errno));
    return -1;
  }
  char line[512];
  unsigned got = 0;
  while (fgets(line, sizeof line, f)) {
    qb_row_t r = {0};
    line[strcspn(line, "\n")] = 0;
    char *save = NULL, *tok[10];
    int n = 0;
    for (char *t = strtok_r(line, "\t", &save); t && n < 10; t = strtok_r(NULL, "\t", &save))
      tok[n++] = t;
    if (n != 10 || strcmp(tok[0], "ROW") != 0) continue;
    r.pairs = (unsigned)atoi(tok[1]);
    snprintf(r.lib, sizeof r.lib, "%s", tok[2]);
    snprintf(r.served, sizeof r.served, "%s", tok[3]);
    for (int k = 0; k < 3; k++) r.unit[k] = atof(tok[4 + k]), r.mall[k] = atof(tok[7 + k]);
    rows[(*nrows)++] = r;
    got++;
  }
  int rc = pclose(f);
  if (rc != 0 || got != o->pairs) {
    fprintf(stderr, "hlqueuebench: the %s run failed (status %d, %u of %u rows)\n", lib, rc, got,
            o->pairs);
    return -1;
  }
  return 0;
}

static void qb_print(const qb_opts_t *o, const qb_row_t *rows, unsigned n) {
  if (o->csv) {
    printf("pairs,malloc,served_by,messages_per_pair,entry_bytes,inflight,repeats,cpus,"
           "unit_msgs_per_s,unit_min,unit_max,malloc_msgs_per_s,malloc_min,malloc_max,"
           "unit_over_malloc\n");
    for (unsigned i = 0; i < n; i++) {
      const qb_row_t *r = &rows[i];
      printf("%u,%s,\"%s\",%llu,%zu,%zu,%u,%ld,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f,%.3f\n", r->pairs,
             r->lib, r->served, (unsigned long long)o->messages, o->size, o->inflight, o->repeats,
             sysconf(_SC_NPROCESSORS_ONLN), r->unit[0], r->unit[1], r->unit[2], r->mall[0],
             r->mall[1], r->mall[2], r->unit[0] / r->mall[0]);
    }
    return;
  }
  printf("queue messaging: %llu messages per pair, %zu-byte entries, window %zu, median of %u, "
         "%ld CPUs online\n",
         (unsigned long long)o->messages, o->size, o->inflight, o->repeats,
         sysconf(_SC_NPROCESSORS_ONLN));
  printf("%-6s %-10s %16s %16s %10s\n", "pairs", "malloc", "unit msg/s", "malloc msg/s",
         "unit/malloc");
  for (unsigned i = 0; i < n; i++) {
    const qb_row_t *r = &rows[i];
    printf("%-6u %-10s %16.0f %16.0f %10.2f\n", r->pairs, r->lib, r->unit[0], r->mall[0],
           r->unit[0] / r->mall[0]);
  }
  for (unsigned i = 0; i < n; i++)
    if (i == 0 || strcmp(rows[i].lib, rows[i - 1].lib))
      printf("malloc '%s' served by: %s\n", rows[i].lib, rows[i].served);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: hlqueuebench [options]\n"
          "\n"
          "Message passing through producer/consumer thread pairs (1..N pairs, a queue per\n"
          "pair): entries from the queue's own unit heap (alloc/unit, ServerKit's design)\n"
          "against the same queue with entries from malloc/free. Every message is checked\n"
          "(order, payload, checksum); a lost or corrupt message fails the run.\n"
          "\n"
          "  --pairs N        largest number of pairs; runs 1..N (default: CPUs online)\n"
          "  --messages N     messages per pair and run (default 200000)\n"
          "  --repeats N      runs per mode and pair count; the median is reported (default 3)\n"
          "  --size BYTES     entry size, >= 24, multiple of 8 (default 64)\n"
          "  --inflight N     entries in flight per pair at most, both modes (default 1024)\n"
          "  --preload LIST   also measure malloc = these libraries (comma list of jemalloc,\n"
          "                   mimalloc, tcmalloc), each in a child run under LD_PRELOAD\n"
          "  --csv            CSV (header + a row per pair count and malloc library)\n"
          "  --debug-skip N   testing: pair 0 skips sequence number N (the run must fail)\n"
          "  -q, --quiet      no progress on stderr\n"
          "  -h, --help       this help\n"
          "\n"
          "Exit status: 0 ok, 1 a run failed (lost/corrupt message, preload failed), 2 bad\n"
          "usage.\n");
}

static int bad_usage(const char *what, const char *arg) {
  fprintf(stderr, "hlqueuebench: %s '%s' (hlqueuebench --help for usage)\n", what, arg);
  return 2;
}

int main(int argc, char **argv) {
  hl_cli_check_stdout_at_exit("hlqueuebench");
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  qb_opts_t o = {.pairs = cpus > 0 ? (unsigned)cpus : 1,
                 .repeats = 3,
                 .messages = 200000,
                 .size = 64,
                 .inflight = 1024};
  static const struct option longs[] = {{"pairs", required_argument, 0, 'p'},
                                        {"messages", required_argument, 0, 'm'},
                                        {"repeats", required_argument, 0, 'r'},
                                        {"size", required_argument, 0, 's'},
                                        {"inflight", required_argument, 0, 'i'},
                                        {"preload", required_argument, 0, 'P'},
                                        {"csv", no_argument, 0, 'c'},
                                        {"quiet", no_argument, 0, 'q'},
                                        {"help", no_argument, 0, 'h'},
                                        {"child", required_argument, 0, 'C'},
                                        {"debug-skip", required_argument, 0, 'S'},
                                        {0, 0, 0, 0}};
  const char *token, *prefix_of; /* exact long names (workloads/cli.h) */
  int c;
  uint64_t v;
  char *preload = NULL;
  while ((c = hl_cli_getopt(argc, argv, "qh", longs, &token, &prefix_of)) != -1) {
    switch (c) {
      case 'p':
        if (!hl_bench_parse_u64(optarg, 1, QB_MAX_PAIRS, &v))
          return bad_usage("bad --pairs", optarg);
        o.pairs = (unsigned)v;
        break;
      case 'm':
        if (!hl_bench_parse_u64(optarg, 1, UINT64_MAX / 1024, &v))
          return bad_usage("bad --messages", optarg);
        o.messages = v;
        break;
      case 'r':
        if (!hl_bench_parse_u64(optarg, 1, 1000, &v)) return bad_usage("bad --repeats", optarg);
        o.repeats = (unsigned)v;
        break;
      case 's':
        if (!hl_bench_parse_u64(optarg, sizeof(qb_msg_t), 1 << 20, &v) || v % 8)
          return bad_usage("bad --size (>= 24, multiple of 8)", optarg);
        o.size = (size_t)v;
        break;
      case 'i':
        if (!hl_bench_parse_u64(optarg, 1, 1u << 30, &v))
          return bad_usage("bad --inflight", optarg);
        o.inflight = (size_t)v;
        break;
      case 'P':
        preload = optarg;
        break;
      case 'c':
        o.csv = true;
        break;
      case 'q':
        o.quiet = true;
        break;
      case 'C':
        o.child = optarg;
        break;
      case 'S':
        if (!hl_bench_parse_u64(optarg, 1, UINT64_MAX / 2, &v))
          return bad_usage("bad --debug-skip", optarg);
        o.skip = v;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) return bad_usage("unexpected argument", argv[optind]);
  for (char *save = NULL, *t = preload ? strtok_r(preload, ",", &save) : NULL; t;
       t = strtok_r(NULL, ",", &save)) {
    const hl_allocator_t *a = hl_alloc_find(t);
    if (a == NULL || !(a->flags & HL_ALLOC_PRELOAD))
      return bad_usage("--preload: not a preloadable malloc library", t);
    if (o.nlibs == QB_MAX_LIBS) return bad_usage("--preload: too many libraries", t);
    o.libs[o.nlibs++] = a->name;
  }
  char served[160], why[512];
  if (o.child) { /* the re-executed child: malloc is o.child's library */
    const hl_allocator_t *a = hl_alloc_find(o.child);
    if (a == NULL || !(a->flags & HL_ALLOC_PRELOAD)) return bad_usage("bad --child", o.child);
    if (hl_preload_ensure(a, argv, why, sizeof why) != 0) {
      fprintf(stderr, "hlqueuebench: %s\n", why);
      return 1;
    }
    if (qb_served_by(o.child, served, sizeof served) != 0) {
      fprintf(stderr, "hlqueuebench: malloc is not %s here: served by %s\n", o.child, served);
      return 1;
    }
    qb_row_t *rows = calloc(o.pairs, sizeof *rows);
    unsigned n = 0;
    if (rows == NULL || qb_measure(&o, o.child, served, rows, &n) != 0) return 1;
    for (unsigned i = 0; i < n; i++)
      printf("ROW\t%u\t%s\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", rows[i].pairs, rows[i].lib,
             rows[i].served, rows[i].unit[0], rows[i].unit[1], rows[i].unit[2], rows[i].mall[0],
             rows[i].mall[1], rows[i].mall[2]);
    free(rows);
    return 0;
  }
  if (qb_served_by("system", served, sizeof served) != 0) {
    fprintf(stderr, "hlqueuebench: malloc here is not glibc: %s\n", served);
    return 1;
  }
  qb_row_t *rows = calloc((size_t)o.pairs * (1 + o.nlibs), sizeof *rows);
  unsigned n = 0;
  if (rows == NULL) return 1;
  if (qb_measure(&o, "glibc", served, rows, &n) != 0) return 1;
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (o.nlibs && len <= 0) {
    fprintf(stderr, "hlqueuebench: cannot find this program: %s\n", strerror(errno));
    return 1;
  }
  if (len > 0) self[len] = 0;
  for (unsigned l = 0; l < o.nlibs; l++)
    if (qb_run_child(&o, self, o.libs[l], rows, &n) != 0) return 1;
  qb_print(&o, rows, n);
  free(rows);
  return 0;
}
