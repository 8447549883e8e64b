/* ----------------------------------------------------------------------------
  harness/hlmicro.c: the `hlmicro` command: each allocator's fast path, one
  call at a time, against the baselines measured in the same run.

  For every allocator named and every object size, a child process (this
  command again, under LD_PRELOAD for a baseline library: harness/preload.c,
  with identify() proving which library served malloc) times pairs of calls
  through the one interface every replay uses (alloc/alloc.h), so the
  indirection is the same for all:
    live1      alloc then free the same object: the emptiest fast path;
    live1000   1000 objects live, free a random one and allocate its
               replacement: frees land anywhere (ravioli: a move each).
  Rounds are interleaved (round r runs every allocator once) so that drift
  on a busy machine spreads over all of them; each figure is the median over
  rounds of ns per pair, with its min and max. Ratios are taken against the
  reference allocator (default jemalloc) of the same run and size; `null`
  shows the cost of the interface itself.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "harness/bench.h"
#include "harness/preload.h"
#include "workloads/cli.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MB_MAX_ALLOCS 32
#define MB_MAX_SIZES  8
#define MB_MAX_ROUNDS 101
#define MB_LIVE       1000

typedef struct mb_opts_s {
  const char *allocs[MB_MAX_ALLOCS];
  unsigned nallocs;
  size_t sizes[MB_MAX_SIZES];
  unsigned nsizes;
  unsigned rounds;
  uint64_t pairs;
  const char *reference;
  bool csv, quiet;
} mb_opts_t;

/* One allocator at one size: ns per pair in each round, both cases. */
typedef struct mb_cell_s {
  double live1[MB_MAX_ROUNDS], live1000[MB_MAX_ROUNDS];
  char served[256];
} mb_cell_t;

static double mb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the child: one allocator, one size, one round ---- */

static int mb_child(const char *name, size_t size, uint64_t pairs) {
  const hl_allocator_t *a = hl_alloc_find(name);
  hl_heap_t heap = {.allocator = a, .config = {.threads = 1}};
  int rc = a->heap_init(&heap);
  hl_ctx_t ctx = {.heap = &heap};
  if (rc == 0) rc = a->thread_init(&ctx);
  if (rc != 0) {
    fprintf(stderr, "hlmicro: %s: set-up failed: %s\n", name,
            heap.why[0] ? heap.why : strerror(rc));
    return 1;
  }
  char served[256] = "";
  if (a->identify && a->identify(served, sizeof served) != 0) {
    fprintf(stderr, "hlmicro: %s is not served by the expected library: %s\n", name, served);
    return 1;
  }
  void *one = NULL, **live = calloc(MB_LIVE, sizeof *live);
  if (live == NULL) return 1;
  /* warm-up: the first pages and caches, then the timed loops */
  for (uint64_t i = 0; i < pairs / 8 + 1; i++) {
    rc |= a->alloc(&ctx, &one, size, HL_KIND_MALLOC, 0);
    a->free(&ctx, &one, size);
  }
  double t0 = mb_now();
  for (uint64_t i = 0; i < pairs; i++) {
    rc |= a->alloc(&ctx, &one, size, HL_KIND_MALLOC, 0);
    a->free(&ctx, &one, size);
  }
  double t1 = mb_now();
  for (int i = 0; i < MB_LIVE; i++) rc |= a->alloc(&ctx, &live[i], size, HL_KIND_MALLOC, 0);
  uint64_t x = 88172645463325252ull;
  double t2 = mb_now();
  for (uint64_t i = 0; i < pairs; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    void **s = &live[x % MB_LIVE];
    a->free(&ctx, s, size);
    rc |= a->alloc(&ctx, s, size, HL_KIND_MALLOC, 0);
  }
  double t3 = mb_now();
  for (int i = 0; i < MB_LIVE; i++) a->free(&ctx, &live[i], size);
  free(live);
  a->thread_done(&ctx);
  a->heap_done(&heap);
  if (rc != 0) {
    fprintf(stderr, "hlmicro: %s: an allocation of %zu bytes failed\n", name, size);
    return 1;
  }
  printf("MICRO\t%.3f\t%.3f\t%s\n", (t1 - t0) * 1e9 / (double)pairs,
         (t3 - t2) * 1e9 / (double)pairs, served[0] ? served : "built in");
  return 0;
}

/* ---- the parent: children in interleaved rounds ---- */

static int mb_run_child(const char *self, const char *name, size_t size, uint64_t pairs,
                        double *live1, double *live1000, char *served, size_t served_len) {
  char cmd[8192];
  int n = snprintf(cmd, sizeof cmd, "'%s' --child %s --sizes %zu --pairs %llu", self, name, size,
                   (unsigned long long)pairs);
  if (n < 0 || (size_t)n >= sizeof cmd) {
    fprintf(stderr, "hlmicro: the path of this program is too long\n");
    return -1;
  }
  FILE *f = popen(cmd, "r");
  if (f == NULL) {
    fprintf(stderr, "hlmicro: cannot run %s: %s\n", cmd, strerror(errno));
    return -1;
  }
  char line[512];
  int got = 0;
  while (fgets(line, sizeof line, f)) {
    char *save = NULL, *tag = strtok_r(line, "\t", &save), *a = strtok_r(NULL, "\t", &save),
         *b = strtok_r(NULL, "\t", &save), *s = strtok_r(NULL, "\n", &save);
    if (tag && strcmp(tag, "MICRO") == 0 && a && b && s) {
      *live1 = atof(a), *live1000 = atof(b);
      snprintf(served, served_len, "%s", s);
      got = 1;
    }
  }
  int rc = pclose(f);
  if (rc != 0 || !got) {
    fprintf(stderr, "hlmicro: the %s run (%zu bytes) failed (status %d)\n", name, size, rc);
    return -1;
  }
  return 0;
}

static void mb_print(const mb_opts_t *o, mb_cell_t *cells) {
  if (o->csv)
    printf("allocator,served_by,size_bytes,pairs,rounds,reference,live1_ns,live1_min_ns,"
           "live1_max_ns,live1_ratio,live1000_ns,live1000_min_ns,live1000_max_ns,"
           "live1000_ratio\n");
  for (unsigned s = 0; s < o->nsizes; s++) {
    double ref[2][3] = {{0}};
    for (unsigned a = 0; a < o->nallocs; a++)
      if (strcmp(o->allocs[a], o->reference) == 0) {
        mb_cell_t *c = &cells[s * o->nallocs + a];
        hl_bench_median_min_max(c->live1, o->rounds, ref[0]);
        hl_bench_median_min_max(c->live1000, o->rounds, ref[1]);
      }
    if (!o->csv)
      printf("\n%zu-byte objects, ns per alloc+free pair (median of %u rounds, min..max), "
             "ratio to %s in this run:\n%-32s %22s %7s %22s %7s\n",
             o->sizes[s], o->rounds, o->reference, "allocator", "1 live", "ratio",
             "1000 live, random frees", "ratio");
    for (unsigned a = 0; a < o->nallocs; a++) {
      mb_cell_t *c = &cells[s * o->nallocs + a];
      double l1[3], lk[3];
      hl_bench_median_min_max(c->live1, o->rounds, l1);
      hl_bench_median_min_max(c->live1000, o->rounds, lk);
      double r1 = l1[0] / ref[0][0], rk = lk[0] / ref[1][0];
      if (o->csv) {
        printf("%s,\"%s\",%zu,%llu,%u,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", o->allocs[a],
               c->served, o->sizes[s], (unsigned long long)o->pairs, o->rounds, o->reference, l1[0],
               l1[1], l1[2], r1, lk[0], lk[1], lk[2], rk);
      } else {
        char x[64], y[64];
        snprintf(x, sizeof x, "%.2f (%.2f..%.2f)", l1[0], l1[1], l1[2]);
        snprintf(y, sizeof y, "%.2f (%.2f..%.2f)", lk[0], lk[1], lk[2]);
        printf("%-32s %22s %6.2fx %22s %6.2fx\n", o->allocs[a], x, r1, y, rk);
      }
    }
  }
  if (!o->csv) {
    printf("\nserved by:");
    for (unsigned a = 0; a < o->nallocs; a++)
      printf("%s %s: %s", a ? ";" : "", o->allocs[a], cells[a].served);
    printf("\n");
  }
}

static void mb_usage(FILE *out) {
  fprintf(out,
          "usage: hlmicro [--alloc LIST] [--sizes LIST] [--pairs N] [--rounds R]\n"
          "               [--reference NAME] [--csv] [--quiet]\n\n"
          "Time each allocator's fast path through heaplab's allocator interface: pairs of\n"
          "alloc+free of one object (1 live), and of a random one of 1000 live objects, in\n"
          "a child process per allocator (baselines under LD_PRELOAD), rounds interleaved\n"
          "across allocators; print the median ns per pair and its ratio to the reference\n"
          "allocator measured in the same run.\n\n"
          "  --alloc LIST      allocators, comma-separated (default: system,jemalloc,mimalloc,\n"
          "                    tcmalloc,arena,unit,ravioli,ravioli8,ravioli16,null)\n"
          "  --sizes LIST      object sizes in bytes, comma-separated (default 16,100)\n"
          "  --pairs N         alloc+free pairs timed per case and round (default 2000000)\n"
          "  --rounds R        interleaved rounds, odd, at most %d (default 5)\n"
          "  --reference NAME  the allocator ratios are taken against (default jemalloc;\n"
          "                    it must be in --alloc)\n"
          "  --csv             one CSV row per allocator and size\n"
          "  --quiet           no progress on stderr\n",
          MB_MAX_ROUNDS);
}

static int mb_bad(const char *what, const char *arg) {
  fprintf(stderr, "hlmicro: %s: '%s' (hlmicro --help)\n", what, arg);
  return 2;
}

/* Split a comma list in place. */
static unsigned mb_split(char *s, const char **out, unsigned max) {
  unsigned n = 0;
  char *save = NULL;
  for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (n == max) return max + 1;
    out[n++] = t;
  }
  return n;
}

int main(int argc, char **argv) {
  hl_cli_check_stdout_at_exit("hlmicro");
  static char default_allocs[] =
      "system,jemalloc,mimalloc,tcmalloc,arena,unit,ravioli,ravioli8,ravioli16,null";
  mb_opts_t o = {.rounds = 5, .pairs = 2000000, .reference = "jemalloc"};
  char *alloc_list = default_allocs, *size_list = NULL;
  const char *child = NULL;
  static const struct option longs[] = {
      {"alloc", required_argument, 0, 'a'},     {"sizes", required_argument, 0, 's'},
      {"pairs", required_argument, 0, 'p'},     {"rounds", required_argument, 0, 'r'},
      {"reference", required_argument, 0, 'R'}, {"csv", no_argument, 0, 'c'},
      {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
      {"child", required_argument, 0, 'C'},     {0, 0, 0, 0}};
  const char *token, *prefix_of; /* exact long names (workloads/cli.h) */
  int c;
  uint64_t v;
  while ((c = hl_cli_getopt(argc, argv, "qh", longs, &token, &prefix_of)) != -1) {
    switch (c) {
      case 'a':
        alloc_list = optarg;
        break;
      case 's':
        size_list = optarg;
        break;
      case 'p':
        if (!hl_bench_parse_u64(optarg, 1, UINT64_MAX / 4, &v))
          return mb_bad("bad --pairs", optarg);
        o.pairs = v;
        break;
      case 'r':
        if (!hl_bench_parse_u64(optarg, 1, MB_MAX_ROUNDS, &v) || v % 2 == 0)
          return mb_bad("bad --rounds (odd, 1..101)", optarg);
        o.rounds = (unsigned)v;
        break;
      case 'R':
        o.reference = optarg;
        break;
      case 'c':
        o.csv = true;
        break;
      case 'q':
        o.quiet = true;
        break;
      case 'C':
        child = optarg;
        break;
      case 'h':
        mb_usage(stdout);
        return 0;
      default:
        mb_usage(stderr);
        return 2;
    }
  }
  if (optind < argc) return mb_bad("unexpected argument", argv[optind]);
  const char *sizes[MB_MAX_SIZES];
  char default_sizes[] = "16,100";
  o.nsizes = mb_split(size_list ? size_list : default_sizes, sizes, MB_MAX_SIZES);
  if (o.nsizes == 0 || o.nsizes > MB_MAX_SIZES) return mb_bad("bad --sizes", "(1 to 8 sizes)");
  for (unsigned s = 0; s < o.nsizes; s++) {
    if (!hl_bench_parse_u64(sizes[s], 1, 1 << 20, &v)) return mb_bad("bad --sizes", sizes[s]);
    o.sizes[s] = (size_t)v;
  }
  if (child) {
    const hl_allocator_t *a = hl_alloc_find(child);
    char why[512];
    if (a == NULL) return mb_bad("unknown allocator", child);
    if (hl_preload_ensure(a, argv, why, sizeof why) != 0) {
      fprintf(stderr, "hlmicro: %s\n", why);
      return 1;
    }
    return mb_child(child, o.sizes[0], o.pairs);
  }
  o.nallocs = mb_split(alloc_list, o.allocs, MB_MAX_ALLOCS);
  if (o.nallocs == 0 || o.nallocs > MB_MAX_ALLOCS) return mb_bad("bad --alloc", "(1 to 32 names)");
  bool has_ref = false;
  for (unsigned a = 0; a < o.nallocs; a++) {
    const hl_allocator_t *al = hl_alloc_find(o.allocs[a]);
    if (al == NULL) return mb_bad("unknown allocator (hlreplay --list names them)", o.allocs[a]);
    has_ref |= strcmp(o.allocs[a], o.reference) == 0;
  }
  if (!has_ref) return mb_bad("--reference must be one of --alloc", o.reference);
  mb_cell_t *cells = calloc((size_t)o.nsizes * o.nallocs, sizeof *cells);
  if (cells == NULL) return 1;
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    fprintf(stderr, "hlmicro: cannot find its own program: %s\n", strerror(errno));
    free(cells);
    return 1;
  }
  self[len] = 0;
  unsigned total = o.rounds * o.nsizes * o.nallocs, done = 0;
  bool tty = isatty(STDERR_FILENO);
  for (unsigned r = 0; r < o.rounds; r++)
    for (unsigned s = 0; s < o.nsizes; s++)
      for (unsigned a = 0; a < o.nallocs; a++) {
        mb_cell_t *cell = &cells[s * o.nallocs + a];
        /* progress: one line rewritten on a terminal, a line per round in a log */
        if (!o.quiet && (tty || (s == 0 && a == 0)))
          fprintf(stderr, "%shlmicro: round %u of %u, %zu bytes, %-12s (%u of %u)%s",
                  tty ? "\r" : "", r + 1, o.rounds, o.sizes[s], o.allocs[a], done + 1, total,
                  tty ? "" : "\n");
        done++;
        if (mb_run_child(self, o.allocs[a], o.sizes[s], o.pairs, &cell->live1[r],
                         &cell->live1000[r], cell->served, sizeof cell->served) != 0) {
          free(cells);
          return 1;
        }
      }
  if (!o.quiet && tty) fprintf(stderr, "\n");
  mb_print(&o, cells);
  free(cells);
  return 0;
}
