/* ----------------------------------------------------------------------------
  harness/hlreplay.c: the `hlreplay` command. One trace through one
  allocator, natively; one row of metrics out (harness/metrics.h).

  `--sim CONFIG` runs the same trace through the memory-hierarchy simulator
  instead: this file is compiled a second time with -DHL_CAPTURE into
  build/bin/hlreplay-sim (linked with the -fsanitize=thread copy of the
  allocators and the capture runtime, sim/capture.c), and hlreplay execs that
  program with its own arguments, with address-space randomization off so
  that the simulated set indices (hence the counts) are the same every run.
  The normal hlreplay carries no instrumentation.
---------------------------------------------------------------------------- */
#include "alloc/options.h"
#include "harness/memory_limit.h"
#include "harness/preload.h"
#include "harness/replay.h"
#include "sim/sim.h"
#include "workloads/cli.h"
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HL_CAPTURE
#include "sim/capture.h"
#endif

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: hlreplay TRACE --alloc NAME [options]\n"
      "\n"
      "Replay a heaplab trace (see workloads/FORMAT.md) through one allocator and print one\n"
      "row of metrics: time, memory, page faults, context switches, hardware counters (NA\n"
      "with the reason where the machine has none) and the allocator's own statistics.\n"
      "\n"
      "  --alloc NAME          allocator to use (--list shows them)\n"
      "  --threads-as-traced   one OS thread per traced thread; an object handed to\n"
      "                        another thread is used there only after the handing\n"
      "                        thread's event on it completed (default)\n"
      "  --serial              every logical thread on one OS thread, in trace order\n"
      "  --threads-in-turn     one OS thread per traced thread, but one at a time: a\n"
      "                        baton passes to the thread of the next event in trace\n"
      "                        order (deterministic; the default with --sim)\n"
      "  --access MODEL        what touches object memory (default auto):\n"
      "                          auto    traced if the trace has read/write events, else touch\n"
      "                          traced  only the trace's read/write events\n"
      "                          touch   write each object whole when allocated (and the new\n"
      "                                  tail after realloc), read it whole before free\n"
      "                          none    allocator calls only\n"
      "  --verify              check every allocation: no overlap with live objects,\n"
      "                        alignment, calloc zeroed, contents preserved across\n"
      "                        realloc and until free; stop at the first violation.\n"
      "                        The overlap check is skipped for allocators whose\n"
      "                        objects move (property 'moves' in --list: ravioli,\n"
      "                        stable), where an address is no identity; their own\n"
      "                        heap checker runs with --options checked=1\n"
      "  --page-size BYTES     allocator page size tunable (K, M suffixes; default 0 =\n"
      "                        the allocator's own)\n"
      "  --options STR         allocator-specific options, key=value,key=value; 'help'\n"
      "                        lists those of the --alloc allocator\n"
      "  --max-memory BYTES|none  refuse, before replaying, a trace that holds more than\n"
      "                        BYTES live at once (K, M, G suffixes): one bigger than the\n"
      "                        machine's memory would be killed by the kernel's OOM killer.\n"
      "                        Default: the memory available when the replay starts (the\n"
      "                        smaller of MemAvailable and the memory cgroup's room);\n"
      "                        none: no check. Sizes as traced, no allocator overhead\n"
      "  --remote-free send|request  how a thread frees an object another thread owns,\n"
      "                        for allocators with per-thread owners (ravioli): send\n"
      "                        (default) hands it over first, then frees it; request\n"
      "                        posts a free request to the owner (the allocator's\n"
      "                        free_post; an error where it has none). Others free\n"
      "                        directly (the remote_free column says direct)\n"
      "  --format text|csv     output: 'name value' lines (default) or a CSV header + row\n"
      "  --sim CONFIG          feed the memory-hierarchy simulator (sim/README.md) with\n"
      "                        every access instead of measuring natively: the\n"
      "                        application's reads and writes of its objects at the\n"
      "                        addresses the allocator chose, and every load, store,\n"
      "                        atomic, memcpy/memset and lock of the project's own\n"
      "                        allocator code (Debian baselines: placement only). CONFIG\n"
      "                        is a config file (sim/presets/*.conf). Threads run in\n"
      "                        turn (--threads-in-turn; --serial for one OS thread);\n"
      "                        thread t runs on simulated core t mod cores.\n"
      "  --sim-top N           hottest lines in the simulator report (default 10)\n"
      "  --sim-page-size 4K|2M|1G  the simulated page size (default: the config's)\n"
      "  --sim-report FILE     write the simulator's text report (per core, hottest\n"
      "                        lines and what lives there) to FILE (default: stderr,\n"
      "                        unless -q)\n"
      "  --list                list the allocators and exit\n"
      "  -q, --quiet           no notes or progress on stderr (progress is shown once\n"
      "                        a second when stderr is a terminal)\n"
      "  -h, --help            this help\n"
      "\n"
      "Baselines (jemalloc, mimalloc, tcmalloc) are loaded the way users load them: this\n"
      "command re-executes itself with LD_PRELOAD, and the served_by column names the\n"
      "library that really answered malloc, so a failed preload can never pass as one.\n"
      "Exit status: 0 ok, 1 the replay or the trace failed, 2 bad usage.\n");
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "hlreplay: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(hlreplay --help for usage)\n");
  return 2;
}

/* One line per allocator: name, summary, and its properties (comma
   separated, "-" for none), which hlbench reads to plan page-size sweeps. */
static void list_allocators(void) {
  static const struct {
    uint32_t flag;
    const char *name;
  } props[] = {{HL_ALLOC_PAGE_SIZE, "page-size"},
               {HL_ALLOC_MOVES, "moves"},
               {HL_ALLOC_OWNED, "owned"},
               {HL_ALLOC_PRELOAD, "preload"},
               {HL_ALLOC_NO_MEMORY, "no-memory"}};
  for (size_t i = 0; i < hl_alloc_count(); i++) {
    const hl_allocator_t *a = hl_alloc_at(i);
    printf("%s\t%s\t", a->name, a->summary);
    const char *sep = "";
    for (size_t p = 0; p < sizeof props / sizeof props[0]; p++)
      if (a->flags & props[p].flag) printf("%s%s", sep, props[p].name), sep = ",";
    printf("%s\n", *sep ? "" : "-");
  }
}

/* "4096", "64K", "2M", "1G" -> bytes (sim_size_parse); false on junk or overflow. */
static bool parse_bytes(const char *s, size_t *out) {
  uint64_t v;
  if (!sim_size_parse(s, &v) || v > SIZE_MAX) return false;
  *out = (size_t)v;
  return true;
}

/* The simulator columns (metrics.h): hl_metric_t range of sim_config..sim_writebacks. */
static void sim_columns_na(hl_metrics_t *row, const char *reason) {
  for (int m = HL_METRIC_sim_config; m <= HL_METRIC_sim_writebacks; m++)
    hl_metrics_set_na(row, (hl_metric_t)m, reason);
}

/* Options of --sim, checked here (so a bad one fails before any exec). */
typedef struct sim_opts_s {
  const char *config; /* NULL: no --sim */
  const char *page;   /* --sim-page-size or NULL */
  const char *report; /* --sim-report FILE or NULL */
  size_t top;
} sim_opts_t;

/* Can the report be written there? Checked before the simulation (minutes)
   rather than after it, without creating anything. */
static bool sim_report_path_ok(const char *path, char *why, size_t len) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  const char *folder = dirname(dir);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(why, len, "--sim-report %s: is a folder (expected a file name)", path);
  else if (access(folder, W_OK | X_OK) != 0)
    snprintf(why, len, "--sim-report %s: cannot write in %s: %s", path, folder, strerror(errno));
  else
    return true;
  return false;
}

static int sim_load_config(const sim_opts_t *so, sim_config_t *cfg) {
  char err[512];
  sim_config_default(cfg);
  if (sim_config_load(cfg, so->config, err, sizeof err) != 0 ||
      (so->page && sim_config_set(cfg, "page", so->page, err, sizeof err) != 0) ||
      sim_config_check(cfg, err, sizeof err) != 0) {
    fprintf(stderr, "hlreplay: --sim: %s\n", err);
    return -1;
  }
  return 0;
}

#ifdef HL_CAPTURE
/* Turn address-space randomization off for this process and what it execs
   (the simulated L2/LLC set index uses address bits above the page offset).
   Returns true when it is off. */
static bool sim_no_aslr(void) {
  int pers = personality(0xffffffff);
  if (pers != -1 && (pers & ADDR_NO_RANDOMIZE)) return true;
  return pers != -1 && personality((unsigned long)pers | ADDR_NO_RANDOMIZE) != -1 &&
         (personality(0xffffffff) & ADDR_NO_RANDOMIZE);
}
#endif

#ifndef HL_CAPTURE
/* hlreplay --sim: exec the capture program beside this one, same arguments. */
static int sim_exec(char **argv) {
  char self[PATH_MAX], path[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "hlreplay: --sim: cannot find this program: %s\n", strerror(errno));
    return 1;
  }
  self[n] = '\0';
  snprintf(path, sizeof path, "%s/hlreplay-sim", dirname(self));
  if (access(path, X_OK) != 0) {
    fprintf(stderr,
            "hlreplay: --sim: %s: %s (the capture program is built by `make` in the normal "
            "build only, not in sanitizer builds)\n",
            path, strerror(errno));
    return 1;
  }
  fflush(NULL); /* the capture program makes its own start canonical (sim_canonical_exec) */
  execv(path, argv);
  fprintf(stderr, "hlreplay: --sim: exec %s: %s\n", path, strerror(errno));
  return 1;
}
#endif

#ifdef HL_CAPTURE
#define SIM_CANONICAL_MARKER "HEAPLAB_SIM_CANONICAL=1"

/* Environment variables that are inputs of a simulated run and pass into
   its canonical environment (sim_canonical_exec); every other one is left
   out. Allocator tunables, the preload and heaplab's own. */
static bool sim_env_kept(const char *var) {
  static const char *const prefixes[] = {
      "HEAPLAB_",        "MALLOC_",     "MIMALLOC_",       "TCMALLOC_",
      "GLIBC_TUNABLES=", "LD_PRELOAD=", "LD_LIBRARY_PATH="};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(var, prefixes[i], strlen(prefixes[i])) == 0) return true;
  return false;
}

static int sim_env_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Make the simulated process independent of how it was started: address
   randomization off (the simulated L2/LLC set index uses address bits above
   the page offset), and a canonical environment (only the variables above,
   sorted), so the size and order of the caller's environment, which move the
   initial stack and what the C library sets up from it, cannot move where
   an allocator places anything. Re-executes itself once (the re-executed
   process finds the marker and the flag); returns 0 when this process is
   already canonical, or -1 on failure with a message printed. The trace's
   path still differs between spellings: the row's trace column, the only
   heap copy of it, is written after the replay. */
static int sim_canonical_exec(char **argv, bool quiet) {
  extern char **environ;
  bool canonical = false;
  size_t n = 0;
  for (char **e = environ; *e; e++, n++)
    if (strcmp(*e, SIM_CANONICAL_MARKER) == 0) canonical = true;
  bool aslr_off = personality(0xffffffff) & ADDR_NO_RANDOMIZE;
  if (canonical && aslr_off) return 0;
  if (!aslr_off && !sim_no_aslr() && !quiet)
    fprintf(stderr, "hlreplay: --sim: warning: cannot turn address randomization off; "
                    "simulated L2/LLC set conflicts may differ between runs\n");
  if (canonical) return 0; /* randomization stays on: warned */
  char **env = calloc(n + 2, sizeof *env);
  if (!env) {
    fprintf(stderr, "hlreplay: --sim: out of memory\n");
    return -1;
  }
  size_t k = 0;
  for (char **e = environ; *e; e++)
    if (sim_env_kept(*e)) env[k++] = *e;
  env[k++] = SIM_CANONICAL_MARKER;
  qsort(env, k, sizeof *env, sim_env_cmp);
  fflush(NULL);
  execve("/proc/self/exe", argv, env);
  fprintf(stderr, "hlreplay: --sim: re-executing /proc/self/exe: %s\n", strerror(errno));
  free(env);
  return -1;
}

/* Whether the simulator saw the allocator's own work, proven rather than
   assumed: instrumented allocator code ran, and where a library serves
   malloc (served_by names its .so: glibc, a baseline, libhlarena.so) that
   library is a capture build. (The glue in alloc/ that calls a library is
   instrumented too, but does none of the allocator's work.) */
static bool sim_capture_full(const hl_capture_counts_t *c, const char *served_by) {
  if (c->alloc_functions == 0) return false;
  if (!strstr(served_by, ".so")) return true; /* heaplab's allocators, built for capture */
  void *served = dlsym(RTLD_DEFAULT, "malloc");
  return served != NULL && hl_capture_instrumented(served);
}

/* The simulator's columns of the row. */
static void sim_fill_row(const sim_t *sim, const sim_config_t *cfg, hl_metrics_t *row) {
  static const char *const pages[] = {"4K", "2M", "1G"};
  hl_metrics_set(row, HL_METRIC_sim_config, "%s, %u cores, %s pages, prefetch %s, %s", cfg->name,
                 cfg->cores, pages[cfg->page],
                 cfg->l1d_prefetch.kind && cfg->l2_prefetch.kind ? "L1D+L2"
                 : cfg->l1d_prefetch.kind                        ? "L1D"
                 : cfg->l2_prefetch.kind                         ? "L2"
                                                                 : "off",
                 cfg->phys ? "physical mapping" : "physical = virtual");
  hl_capture_counts_t c;
  hl_capture_counts(&c);
  hl_metrics_set(row, HL_METRIC_sim_capture, "%s",
                 sim_capture_full(&c, row->value[HL_METRIC_served_by]) ? "full" : "placement");
  sim_stats_t st;
  sim_stats(sim, -1, &st);
  const struct {
    hl_metric_t m;
    uint64_t v;
  } cols[] = {
      {HL_METRIC_sim_app_accesses, c.app_accesses},
      {HL_METRIC_sim_alloc_accesses, c.alloc_accesses},
      {HL_METRIC_sim_l1d_misses, st.l1d_misses},
      {HL_METRIC_sim_l2_misses, st.l2_misses},
      {HL_METRIC_sim_llc_misses, st.llc_misses},
      {HL_METRIC_sim_dtlb_misses, st.dtlb_misses},
      {HL_METRIC_sim_stlb_misses, st.stlb_misses},
      {HL_METRIC_sim_walks, st.walks},
      {HL_METRIC_sim_transfers, st.transfers},
      {HL_METRIC_sim_clean_forwards, st.clean_forwards},
      {HL_METRIC_sim_cold, st.cold},
      {HL_METRIC_sim_true_sharing, st.true_sharing},
      {HL_METRIC_sim_false_sharing, st.false_sharing},
      {HL_METRIC_sim_alloc_reuse, st.alloc_reuse},
      {HL_METRIC_sim_replacement, st.replacement},
      {HL_METRIC_sim_prefetches, st.l1d_pf_issued + st.l2_pf_issued},
      {HL_METRIC_sim_prefetches_useful, st.l1d_pf_useful + st.l2_pf_useful},
      {HL_METRIC_sim_invalidations, st.invalidations},
      {HL_METRIC_sim_writebacks, st.writebacks},
  };
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++)
    hl_metrics_set(row, cols[i].m, "%llu", (unsigned long long)cols[i].v);
}

/* Why a run's capture (the row's sim_capture, sim_fill_row) is what it is,
   in words, for the report. */
static void sim_capture_reason(const hl_metrics_t *row, char *buf, size_t len) {
  const char *served_by = row->value[HL_METRIC_served_by];
  size_t n = strcspn(served_by, " "); /* the library's file name, before its version */
  if (strcmp(row->value[HL_METRIC_sim_capture], "full") == 0)
    snprintf(buf, len,
             "full: the allocator's own loads, stores, atomics and locks (%.*s) and the "
             "application's accesses",
             (int)n, served_by);
  else if (strncmp(served_by, "libc.so", 7) == 0)
    snprintf(buf, len,
             "placement: the application's accesses only; glibc's malloc is part of the C "
             "library, which cannot be built apart from it, so its own work is not seen");
  else if (strstr(served_by, ".so"))
    snprintf(buf, len,
             "placement: the application's accesses only; %.*s is not a capture build, so its "
             "own work is not seen",
             (int)n, served_by);
  else
    snprintf(buf, len, "placement: no instrumented allocator code ran");
}

static void sim_write_report(FILE *out, const sim_t *sim, size_t top, const hl_metrics_t *row) {
  hl_capture_counts_t c;
  hl_capture_counts(&c);
  char reason[512];
  sim_capture_reason(row, reason, sizeof reason);
  fprintf(out, "simulated: %s; capture: %s\n", row->value[HL_METRIC_sim_config], reason);
  fprintf(out,
          "accesses: application %llu, allocator %llu (%llu allocator functions entered, %llu "
          "atomics, %llu lock calls; not simulated: %llu stack and %llu harness accesses)\n",
          (unsigned long long)c.app_accesses, (unsigned long long)c.alloc_accesses,
          (unsigned long long)c.alloc_functions, (unsigned long long)c.atomics,
          (unsigned long long)c.locks, (unsigned long long)c.stack_dropped,
          (unsigned long long)c.harness_dropped);
  sim_report(sim, out, 0);
  hl_capture_report(out, sim, top);
}
#endif

/* Refuse a trace that holds more live bytes than the limit (--max-memory, or
   what the machine has available): replaying it would end in the kernel's
   OOM killer, with no row and no message. 0 when it fits. */
static int memory_limit_check(const hl_replay_trace_t *trace, const char *path,
                              const char *max_memory) {
  if (max_memory && strcmp(max_memory, "none") == 0) return 0;
  char source[128] = "--max-memory";
  size_t limit = 0;
  if (max_memory)
    parse_bytes(max_memory, &limit); /* checked when parsed */
  else
    limit = hl_memory_available(source, sizeof source);
  uint64_t at, peak = hl_replay_peak_live_bytes(trace, &at);
  if (limit == 0 && !max_memory) {
    fprintf(stderr,
            "hlreplay: warning: cannot tell how much memory is available (%s); the trace "
            "is replayed unchecked\n",
            source);
    return 0;
  }
  if (peak <= limit) return 0;
  char need[32], have[32];
  hl_memory_format(peak, need, sizeof need);
  hl_memory_format(limit, have, sizeof have);
  fprintf(stderr,
          "hlreplay: %s: the trace holds %s live at once (%llu bytes, at event %llu), more than "
          "the %s %s (%s)%s. Not replayed (--max-memory BYTES|none changes the limit)\n",
          path, need, (unsigned long long)peak, (unsigned long long)at, have,
          max_memory ? "allowed" : "available", source,
          max_memory ? "" : "; a replay would be killed by the kernel's OOM killer");
  return -1;
}

static void print_row(const hl_metrics_t *row, bool csv) {
  if (csv) {
    hl_metrics_write_csv_header(stdout);
    hl_metrics_write_csv_row(stdout, row);
  } else {
    hl_metrics_write_text(stdout, row);
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  enum {
    OPT_THREADS = 256,
    OPT_SERIAL,
    OPT_TURNS,
    OPT_ACCESS,
    OPT_VERIFY,
    OPT_PAGE,
    OPT_OPTIONS,
    OPT_FORMAT,
    OPT_LIST,
    OPT_SIM,
    OPT_SIM_TOP,
    OPT_SIM_PAGE,
    OPT_SIM_REPORT,
    OPT_REMOTE_FREE,
    OPT_MAX_MEMORY
  };
  static const struct option long_opts[] = {
      {"alloc", required_argument, 0, 'a'},
      {"threads-as-traced", no_argument, 0, OPT_THREADS},
      {"serial", no_argument, 0, OPT_SERIAL},
      {"threads-in-turn", no_argument, 0, OPT_TURNS},
      {"access", required_argument, 0, OPT_ACCESS},
      {"verify", no_argument, 0, OPT_VERIFY},
      {"page-size", required_argument, 0, OPT_PAGE},
      {"options", required_argument, 0, OPT_OPTIONS},
      {"max-memory", required_argument, 0, OPT_MAX_MEMORY},
      {"remote-free", required_argument, 0, OPT_REMOTE_FREE},
      {"format", required_argument, 0, OPT_FORMAT},
      {"list", no_argument, 0, OPT_LIST},
      {"sim", required_argument, 0, OPT_SIM},
      {"sim-top", required_argument, 0, OPT_SIM_TOP},
      {"sim-page-size", required_argument, 0, OPT_SIM_PAGE},
      {"sim-report", required_argument, 0, OPT_SIM_REPORT},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  hl_replay_options_t opt = {.mode = HL_REPLAY_THREADS, .access = HL_ACCESS_AUTO};
  const char *alloc_name = NULL;
  bool csv = false, quiet = false, mode_given = false;
  sim_opts_t so = {.top = 10};
  const char *max_memory = NULL; /* --max-memory as given; NULL: what is available */
  int c;
  const char *token, *prefix_of;
  opterr = 0;
  hl_cli_check_stdout_at_exit("hlreplay");
  while ((c = hl_cli_getopt(argc, argv, "a:qh", long_opts, &token, &prefix_of)) != -1) {
    switch (c) {
      case 'a':
        alloc_name = optarg;
        break;
      case OPT_THREADS:
        opt.mode = HL_REPLAY_THREADS, mode_given = true;
        break;
      case OPT_SERIAL:
        opt.mode = HL_REPLAY_SERIAL, mode_given = true;
        break;
      case OPT_TURNS:
        opt.mode = HL_REPLAY_TURNS, mode_given = true;
        break;
      case OPT_ACCESS:
        if (!hl_access_model_parse(optarg, &opt.access))
          return usage_error("--access: expected auto, traced, touch or none, got '%s'", optarg);
        break;
      case OPT_REMOTE_FREE:
        if (!hl_remote_free_parse(optarg, &opt.remote_free))
          return usage_error("--remote-free: expected send or request, got '%s'", optarg);
        break;
      case OPT_VERIFY:
        opt.verify = true;
        break;
      case OPT_PAGE:
        if (!parse_bytes(optarg, &opt.heap.page_size))
          return usage_error("--page-size: expected a byte count such as 4096 or 2M, got '%s'",
                             optarg);
        break;
      case OPT_OPTIONS:
        opt.heap.options = optarg;
        break;
      case OPT_MAX_MEMORY: {
        size_t bytes;
        if (strcmp(optarg, "none") != 0 && (!parse_bytes(optarg, &bytes) || bytes == 0))
          return usage_error("--max-memory: expected a byte count such as 8G, or none, got '%s'",
                             optarg);
        max_memory = optarg;
        break;
      }
      case OPT_FORMAT:
        if (strcmp(optarg, "csv") == 0)
          csv = true;
        else if (strcmp(optarg, "text") == 0)
          csv = false;
        else
          return usage_error("--format: expected text or csv, got '%s'", optarg);
        break;
      case OPT_LIST:
        list_allocators();
        return 0;
      case OPT_SIM:
        so.config = optarg;
        break;
      case OPT_SIM_TOP: {
        size_t top;
        if (!parse_bytes(optarg, &top) || strpbrk(optarg, "KkMmGg") || top > 100000)
          return usage_error("--sim-top: expected a line count 0..100000, got '%s'", optarg);
        so.top = top;
        break;
      }
      case OPT_SIM_PAGE:
        if (sim_page_parse(optarg) < 0)
          return usage_error("--sim-page-size: expected 4K, 2M or 1G, got '%s'", optarg);
        so.page = optarg;
        break;
      case OPT_SIM_REPORT:
        so.report = optarg;
        break;
      case 'q':
        quiet = true;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        if (prefix_of) {
          fprintf(stderr,
                  "hlreplay: unknown option '%s': long options are spelled out whole "
                  "(--%s?)\n(hlreplay --help for usage)\n",
                  token, prefix_of);
          return 2;
        }
        return usage_error("unknown or incomplete option '%s'", token);
    }
  }
  /* --options help: the allocator's keys from its table (alloc/options.h), no TRACE needed */
  if (alloc_name && opt.heap.options && strcmp(opt.heap.options, "help") == 0 &&
      hl_alloc_find(alloc_name)) {
    char help[4096];
    hl_alloc_options_help(hl_alloc_find(alloc_name), help, sizeof help);
    fputs(help, stdout);
    return 0;
  }
  if (optind != argc - 1)
    return usage_error("%s",
                       optind >= argc ? "expected a TRACE file" : "expected exactly one TRACE");
  const char *trace_path = argv[optind];
  if (!alloc_name)
    return usage_error("%s", "--alloc NAME is required (--list shows the allocators)");
  opt.allocator = hl_alloc_find(alloc_name);
  if (!opt.allocator) {
    fprintf(stderr, "hlreplay: unknown allocator '%s'; known allocators:", alloc_name);
    for (size_t i = 0; i < hl_alloc_count(); i++) fprintf(stderr, " %s", hl_alloc_at(i)->name);
    fprintf(stderr, "\n");
    return 2;
  }
  if (opt.heap.page_size && !(opt.allocator->flags & HL_ALLOC_PAGE_SIZE))
    return usage_error("--page-size: allocator '%s' has no page size tunable (--list shows "
                       "which have the page-size property)",
                       opt.allocator->name);
  char options_why[HL_HEAP_WHY_LEN]; /* the allocator's own refusal, before any exec or run */
  if (hl_alloc_options_check(opt.allocator, opt.heap.options, options_why, sizeof options_why)) {
    fprintf(stderr, "hlreplay: --options: %s\n", options_why);
    if (opt.allocator->options && opt.allocator->options->count)
      fprintf(stderr, "(hlreplay --alloc %s --options help lists them)\n", opt.allocator->name);
    return 2;
  }
  char check_why[512];
  if (hl_replay_options_check(&opt, check_why, sizeof check_why) != 0)
    return usage_error("%s", check_why);
  if (!so.config && (so.page || so.report || so.top != 10))
    return usage_error("%s", "--sim-top, --sim-page-size and --sim-report need --sim CONFIG");
  if (so.report && !sim_report_path_ok(so.report, check_why, sizeof check_why))
    return usage_error("%s", check_why);
  sim_config_t sim_cfg;
  if (so.config && sim_load_config(&so, &sim_cfg) != 0) return 2;
#ifndef HL_CAPTURE
  (void)mode_given; /* the capture program's choice of mode (below) */
  if (so.config) return sim_exec(argv);
#else
  if (!so.config)
    return usage_error("%s", "hlreplay-sim is `hlreplay --sim CONFIG`: --sim is required");
  if (sim_canonical_exec(argv, quiet) != 0) return 1;
  if (opt.verify) return usage_error("%s", "--verify and --sim do not mix (verify natively first)");
  /* the simulator is the only clock: one thread at a time, in trace order */
  if (!mode_given) opt.mode = HL_REPLAY_TURNS;
  if (opt.mode == HL_REPLAY_THREADS)
    return usage_error("%s", "--sim runs the threads in turn (--threads-in-turn, the default) or "
                             "on one OS thread (--serial), not free-running (--threads-as-traced)");
  opt.cores = sim_cfg.cores;
#endif

  char why[512];
  if (hl_preload_ensure(opt.allocator, argv, why, sizeof why) != 0) {
    fprintf(stderr, "hlreplay: %s\n", why);
    return 1;
  }
  char served_by[256];
  if (opt.allocator->identify(served_by, sizeof served_by) != 0) {
    fprintf(stderr,
            "hlreplay: allocator '%s' requested, but malloc in this process is served by %s%s%s; "
            "refusing to report its numbers under the wrong name%s\n",
            opt.allocator->name, served_by, opt.allocator->preload_soname ? ", expected " : "",
            opt.allocator->preload_soname ? opt.allocator->preload_soname : "",
            (opt.allocator->flags & HL_ALLOC_PRELOAD) ? " (is it installed? run `make deps`)" : "");
    return 1;
  }

  hl_trace_error_t err;
  hl_replay_trace_t *trace = hl_replay_load(trace_path, hl_replay_options_load_flags(&opt), &err);
  if (!trace) {
    fprintf(stderr, "hlreplay: ");
    hl_trace_error_print(stderr, &err);
    return 1;
  }
  if (!(opt.allocator->flags & HL_ALLOC_NO_MEMORY) &&
      memory_limit_check(trace, trace_path, max_memory) != 0) {
    hl_replay_unload(trace);
    return 1;
  }
  hl_metrics_t row;
  hl_metrics_init(&row);
  hl_metrics_set(&row, HL_METRIC_allocator, "%s", opt.allocator->name);
  hl_metrics_set(&row, HL_METRIC_served_by, "%s", served_by);
  opt.progress = !quiet && isatty(STDERR_FILENO);
  if (!quiet) {
    hl_access_model_t shown = opt.access;
    if (shown == HL_ACCESS_AUTO)
      shown = hl_replay_has_accesses(trace) ? HL_ACCESS_TRACED : HL_ACCESS_TOUCH;
    fprintf(stderr, "hlreplay: %s, %u threads, %llu events through %s [%s]\n", trace_path,
            hl_replay_threads(trace), (unsigned long long)hl_replay_events(trace),
            opt.allocator->name, served_by);
    fprintf(stderr, "hlreplay: access model %s: %s\n", hl_access_model_name(shown),
            hl_access_model_description(shown));
    if (opt.remote_free == HL_REMOTE_FREE_REQUEST && !(opt.allocator->flags & HL_ALLOC_OWNED))
      fprintf(stderr,
              "hlreplay: --remote-free request: '%s' has no per-thread owners, so a remote free "
              "is a plain free (remote_free = direct)\n",
              opt.allocator->name);
    else if (hl_replay_free_requests(trace))
      fprintf(stderr, "hlreplay: --remote-free request: %llu frees posted to their owner\n",
              (unsigned long long)hl_replay_free_requests(trace));
  }
#ifdef HL_CAPTURE
  if (!quiet)
    fprintf(stderr,
            "hlreplay: --sim %s (%s, %u cores): %s, %u logical threads %s in trace order; "
            "logical thread t runs on simulated core t mod %u\n",
            so.config, sim_cfg.name, sim_cfg.cores, hl_replay_mode_name(opt.mode),
            hl_replay_threads(trace),
            opt.mode == HL_REPLAY_SERIAL ? "on one OS thread" : "on their own OS threads, in turn",
            sim_cfg.cores);
  char sim_err[512];
  sim_t *sim = sim_create(&sim_cfg, sim_err, sizeof sim_err);
  if (!sim) {
    fprintf(stderr, "hlreplay: --sim: %s\n", sim_err);
    return 1;
  }
  hl_capture_start(sim);
  hl_alloc_dead_hook = hl_capture_freed; /* moving allocators' dead memory (alloc.h) */
#endif
  int rc = hl_replay_run(trace, &opt, &row, why, sizeof why);
#ifdef HL_CAPTURE
  hl_capture_stop();
  hl_alloc_dead_hook = NULL;
  if (rc == 0)
    sim_fill_row(sim, &sim_cfg, &row);
  else
    sim_columns_na(&row, "the replay failed");
  if (rc == 0 && so.report) {
    /* written whole or not at all: a temporary file renamed over the path */
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", so.report);
    FILE *out = fopen(tmp, "w");
    if (out) sim_write_report(out, sim, so.top, &row);
    bool bad = !out || ferror(out);
    int e = errno;
    if (out && fclose(out) != 0) bad = true, e = errno;
    if (!bad && rename(tmp, so.report) != 0) bad = true, e = errno;
    if (bad) {
      rc = -1;
      snprintf(why, sizeof why, "--sim-report %s: %s", so.report, strerror(e));
      remove(tmp);
    }
  } else if (rc == 0 && !quiet) {
    sim_write_report(stderr, sim, so.top, &row);
  }
  sim_destroy(sim);
#else
  sim_columns_na(&row, "no --sim");
#endif
  /* after the replay: the path's length would move the heap under the trace's
     objects (sim_canonical_exec) */
  hl_metrics_set(&row, HL_METRIC_trace, "%s", trace_path);
  if (rc == 0)
    hl_metrics_set(&row, HL_METRIC_status, "ok");
  else
    hl_metrics_set(&row, HL_METRIC_status, "error: %s", why);
  print_row(&row, csv);
  if (rc != 0)
    fprintf(stderr, "hlreplay: %s\n", why);
  else if (!quiet && opt.verify)
    fprintf(stderr, "hlreplay: verify: no violation found\n");
  hl_metrics_free(&row);
  hl_replay_unload(trace);
  return rc == 0 ? 0 : 1;
}
