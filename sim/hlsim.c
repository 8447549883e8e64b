/* ----------------------------------------------------------------------------
  sim/hlsim.c: the simulator on its own: run an access trace through a config
  and print the report, or measure the simulator's speed (--bench).

    hlsim [--config FILE] [--page-size 4K|2M|1G] [--csv] [--lines-csv FILE] [--top N] TRACE|-
    hlsim --pack OUT [--config FILE] TRACE|-      text (or binary) trace -> binary
    hlsim --bench [--config FILE] [--page-size ...] [--accesses N] [--mix M]

  Exit status: 0 on success, 1 on bad input (with file:line) or a failed write,
  2 on bad usage.
---------------------------------------------------------------------------- */
#include "sim/sim.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out) {
  fprintf(out,
          "usage: hlsim [--config FILE] [--page-size 4K|2M|1G] [--csv] [--lines-csv FILE]\n"
          "             [--top N] TRACE|-\n"
          "       hlsim --pack OUT [--config FILE] TRACE|-\n"
          "       hlsim --bench [--config FILE] [--page-size 4K|2M|1G] [--accesses N] [--mix M]\n"
          "\n"
          "Runs an access trace through the memory-hierarchy simulator (private L1D and L2\n"
          "per core, shared LLC, MESI, two-level TLB, optional prefetchers and physical\n"
          "mapping) and prints per-core and total counters, every private-hierarchy miss by\n"
          "class (cold, true/false sharing, allocator reuse, replacement), and the lines\n"
          "with the most cache-to-cache transfers.\n"
          "\n"
          "  --config FILE     cache/TLB geometry, `key = value` lines (sim/README.md);\n"
          "                    default: built-in Skylake-client-like (sim/presets/skylake.conf)\n"
          "  --page-size SIZE  page size for the whole run: 4K, 2M or 1G (overrides `page`)\n"
          "  --csv             print the counters as CSV instead of the text report\n"
          "  --lines-csv FILE  also write every line's coherence counters as CSV to FILE\n"
          "  --top N           hottest lines to list (default 10; 0: none)\n"
          "  --pack OUT        write TRACE as a binary trace to OUT instead of simulating\n"
          "                    (cores checked against --config if given, else 0..63)\n"
          "  --bench           time a built-in 4-core access mix and print accesses/s\n"
          "  --accesses N      accesses for --bench (default 50000000)\n"
          "  --mix typical|harsh  --bench's access mix (default typical; see sim/hlsim.c)\n"
          "  --help            this text\n"
          "\n"
          "Trace format: one record per line, `CORE R|W|F ADDR SIZE` (R read, W write, F the\n"
          "bytes were freed; ADDR, SIZE: decimal or 0x hex), `#` starts a comment; `-` reads\n"
          "standard input. Binary traces (from --pack) are recognized by their first byte.\n");
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "hlsim: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(hlsim --help for usage)\n");
  return 2;
}

static bool parse_count(const char *text, unsigned long long *out) {
  if (text[0] < '0' || text[0] > '9') return false;
  errno = 0;
  char *end;
  *out = strtoull(text, &end, 10);
  return errno == 0 && *end == '\0';
}

/* The benchmark's access mixes, per core, driven by a deterministic xorshift
   (the simulated counts are the same every run), 8-byte accesses:
   - typical: 90% a sequential walk over a private 16 KiB buffer, 8% random
     words of a private 1 MiB heap, 2% random words of a 64 KiB region all
     cores share; about the L1D miss rate of allocation-heavy programs.
   - harsh: 70% a sequential walk over a private 256 KiB buffer, 25% random
     words of a private 4 MiB heap, 5% the shared region: a third of the
     accesses miss the L1D, most of those the L2, so the simulator's own
     tables miss the host's caches. */
/* One access in 8 bytes (address bits 0-47, write bit 48, core from bit 56),
   so that streaming the batch costs the benchmark as little memory traffic
   as possible next to the simulator it measures. */
typedef uint64_t bench_access_t;
#define BENCH_ADDR_MASK  ((UINT64_C(1) << 48) - 1)
#define BENCH_WRITE      (UINT64_C(1) << 48)
#define BENCH_CORE_SHIFT 56

static uint64_t bench_next(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static int run_bench(sim_t *sim, unsigned long long total, bool harsh) {
  const size_t batch = (size_t)1 << 20;
  unsigned cores = sim_config(sim)->cores;
  bench_access_t *a = malloc(batch * sizeof(*a));
  if (a == NULL) {
    fprintf(stderr, "hlsim: out of memory\n");
    return 1;
  }
  uint64_t x = 88172645463325252ull, seq[SIM_MAX_CORES] = {0};
  for (size_t i = 0; i < batch; i++) {
    uint32_t core = (uint32_t)(i % cores);
    uint64_t r = bench_next(&x), base = (uint64_t)(core + 1) << 32;
    uint32_t pick = (uint32_t)(r % 100);
    uint64_t seq_bytes = harsh ? 256 << 10 : 16 << 10, heap_bytes = harsh ? 4 << 20 : 1 << 20;
    uint64_t addr;
    bool write;
    if (pick < (harsh ? 70u : 90u)) {
      addr = base + (seq[core] & (seq_bytes - 1));
      seq[core] += 8;
      write = (r >> 8) % 4 == 0;
    } else if (pick < (harsh ? 95u : 98u)) {
      addr = base + (8 << 20) + (((r >> 8) % heap_bytes) & ~UINT64_C(7));
      write = (r >> 40) % 4 == 0;
    } else {
      addr = (UINT64_C(1) << 40) + (((r >> 8) % (64 << 10)) & ~UINT64_C(7));
      write = (r >> 40) % 5 == 0;
    }
    a[i] = addr | (write ? BENCH_WRITE : 0) | (uint64_t)core << BENCH_CORE_SHIFT;
  }
  /* wall time, and this thread's CPU time: on a shared machine the CPU time
     is the steadier measure of the simulator's own cost */
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  unsigned long long done = 0;
  while (done < total) {
    size_t n = total - done < batch ? (size_t)(total - done) : batch;
    for (size_t i = 0; i < n; i++)
      sim_access(sim, (unsigned)(a[i] >> BENCH_CORE_SHIFT), a[i] & BENCH_ADDR_MASK, 8,
                 (a[i] & BENCH_WRITE) != 0);
    done += n;
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  free(a);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) * 1e-9;
  sim_report(sim, stdout, 5);
  printf("bench: %s mix, %llu accesses, %u cores, one thread: %.3f s wall, %.1f million "
         "accesses/s; %.3f s CPU, %.1f million accesses/s\n",
         harsh ? "harsh" : "typical", done, cores, secs, secs > 0 ? (double)done / secs / 1e6 : 0.0,
         cpu, cpu > 0 ? (double)done / cpu / 1e6 : 0.0);
  return 0;
}

typedef struct pack_state_s {
  FILE *out;
  uint64_t prev;
} pack_state_t;

static void pack_one(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op) {
  pack_state_t *p = arg;
  sim_trace_write(p->out, &p->prev, core, addr, size, op);
}

/* Convert a trace to the binary format; the output is removed on error. */
static int run_pack(FILE *in, const char *name, const char *out_path, unsigned cores) {
  pack_state_t p = {fopen(out_path, "wb"), 0};
  if (p.out == NULL) {
    fprintf(stderr, "hlsim: %s: %s\n", out_path, strerror(errno));
    return 1;
  }
  char err[512];
  long long n = sim_trace_write_header(p.out) == 0
                    ? sim_trace_read(in, name, cores, pack_one, &p, err, sizeof(err))
                    : -1;
  int bad = fclose(p.out) != 0;
  if (n < 0 || bad) {
    if (n >= 0) snprintf(err, sizeof(err), "%s: write error", out_path);
    fprintf(stderr, "hlsim: %s\n", err);
    remove(out_path);
    return 1;
  }
  fprintf(stderr, "hlsim: packed %lld accesses into %s\n", n, out_path);
  return 0;
}

/* --lines-csv: written whole or not at all (removed on error). */
static int write_lines_csv(const sim_t *sim, const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    fprintf(stderr, "hlsim: %s: %s\n", path, strerror(errno));
    return 1;
  }
  int bad = sim_report_lines_csv(sim, f) != 0;
  bad |= ferror(f) != 0;
  bad |= fclose(f) != 0;
  if (bad) {
    fprintf(stderr, "hlsim: %s: write error\n", path);
    remove(path);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  sim_config_t cfg;
  sim_config_default(&cfg);
  const char *config = NULL, *page = NULL, *trace = NULL, *pack = NULL, *lines_csv = NULL;
  bool csv = false, bench = false, harsh = false;
  unsigned long long top = 10, accesses = 50000000ull;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    bool has_value = i + 1 < argc;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(arg, "--config") == 0) {
      if (!has_value) return usage_error("%s needs a file", arg);
      config = argv[++i];
    } else if (strcmp(arg, "--pack") == 0) {
      if (!has_value) return usage_error("%s needs an output file", arg);
      pack = argv[++i];
    } else if (strcmp(arg, "--page-size") == 0) {
      if (!has_value) return usage_error("%s needs 4K, 2M or 1G", arg);
      page = argv[++i];
    } else if (strcmp(arg, "--top") == 0) {
      if (!has_value || !parse_count(argv[i + 1], &top) || top > 100000)
        return usage_error("%s needs a count (0..100000)", arg);
      i++;
    } else if (strcmp(arg, "--accesses") == 0) {
      if (!has_value || !parse_count(argv[i + 1], &accesses))
        return usage_error("%s needs a count", arg);
      i++;
    } else if (strcmp(arg, "--mix") == 0) {
      if (!has_value || (strcmp(argv[i + 1], "typical") != 0 && strcmp(argv[i + 1], "harsh") != 0))
        return usage_error("%s needs typical or harsh", arg);
      harsh = strcmp(argv[++i], "harsh") == 0;
    } else if (strcmp(arg, "--csv") == 0) {
      csv = true;
    } else if (strcmp(arg, "--lines-csv") == 0) {
      if (!has_value) return usage_error("%s needs a file", arg);
      lines_csv = argv[++i];
    } else if (strcmp(arg, "--bench") == 0) {
      bench = true;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      return usage_error("unknown option %s", arg);
    } else if (trace != NULL) {
      return usage_error("one trace at a time (extra: %s)", arg);
    } else {
      trace = arg;
    }
  }
  if (!bench && trace == NULL) return usage_error("%s", "no trace given");
  if (bench && trace != NULL) return usage_error("--bench takes no trace (%s)", trace);
  if (bench && pack != NULL) return usage_error("%s", "--bench and --pack exclude each other");
  char err[512];
  if (config != NULL && sim_config_load(&cfg, config, err, sizeof(err)) != 0) {
    fprintf(stderr, "hlsim: %s\n", err);
    return 1;
  }
  if (pack != NULL) {
    FILE *in = strcmp(trace, "-") == 0 ? stdin : fopen(trace, "rb");
    if (in == NULL) {
      fprintf(stderr, "hlsim: %s: %s\n", trace, strerror(errno));
      return 1;
    }
    int rc = run_pack(in, in == stdin ? "<stdin>" : trace, pack,
                      config != NULL ? cfg.cores : SIM_MAX_CORES);
    if (in != stdin) fclose(in);
    return rc;
  }
  if (page != NULL && sim_config_set(&cfg, "page", page, err, sizeof(err)) != 0)
    return usage_error("--page-size: %s", err);
  sim_t *sim = sim_create(&cfg, err, sizeof(err));
  if (sim == NULL) {
    fprintf(stderr, "hlsim: %s\n", err);
    return 1;
  }
  int rc = 0;
  if (bench) {
    rc = run_bench(sim, accesses, harsh);
  } else {
    FILE *in = strcmp(trace, "-") == 0 ? stdin : fopen(trace, "rb");
    if (in == NULL) {
      fprintf(stderr, "hlsim: %s: %s\n", trace, strerror(errno));
      rc = 1;
    } else {
      long long n =
          sim_trace_run(sim, in, strcmp(trace, "-") == 0 ? "<stdin>" : trace, err, sizeof(err));
      if (in != stdin) fclose(in);
      if (n < 0) {
        fprintf(stderr, "hlsim: %s\n", err);
        rc = 1;
      } else {
        if (csv)
          sim_report_csv(sim, stdout);
        else
          sim_report(sim, stdout, (size_t)top);
        if (lines_csv != NULL) rc = write_lines_csv(sim, lines_csv);
      }
    }
  }
  sim_destroy(sim);
  /* the report is the result: a write error on stdout loses it (workloads/cli.h
     does this for the commands above the simulator) */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "hlsim: writing to standard output: %s\n", strerror(errno));
    rc = 1;
  }
  return rc;
}
