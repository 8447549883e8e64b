/* ----------------------------------------------------------------------------
  harness/hlbench.c: `hlbench`, the benchmark matrix runner.

  hlbench --config FILE [--bin DIR] [--results DIR] [--repeats N]
          [--timeout SECONDS] [--only-alloc LIST] [--jobs-out FILE]
  hlbench --collect RUN_DIR

  Reads a matrix config (allocators x workloads x threads x page sizes,
  format in harness/BENCH.md), generates the synthetic traces, runs every
  cell and repeat as a separate `hlreplay` process (repeats interleaved),
  and writes results/<YYYYmmdd-HHMMSS>-<host>/ with bench.csv, meta.json,
  the traces and summary.txt. The folder is built as results/.<name>.tmp and
  renamed only when complete, so an interrupted bench leaves nothing behind.
  A marker in it (.owner: pid, host, boot, start time) lets a later hlbench
  tell a folder being written from one a killed hlbench left behind
  (bench_util.c, hl_bench_leftovers).

  Each run is its own process on purpose: one allocator's heap, preloaded
  library or crash cannot affect the next run, and a hung run can be killed.

  Exit status: 0 every run ok, 1 some runs failed (all still recorded), 2
  usage, config or setup error, 3 an output could not be written (disk full,
  file size limit, stdout closed or full: nothing measured is deleted, stderr
  says where it is), 130 interrupted (SIGINT, SIGTERM, SIGHUP).
---------------------------------------------------------------------------- */
#include "harness/bench.h"
#include "workloads/cli.h"
#include "workloads/trace.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HL_BENCH_GEN_TIMEOUT_S 600.0
/* Exit status when an output could not be written (BENCH.md). */
#define HL_BENCH_EXIT_WRITE 3

/* Set by the signal handler; every loop and child wait polls it. */
static volatile sig_atomic_t hl_bench_stop;
/* The unfinished run folder, removed on interrupt or fatal error. */
static char *hl_bench_tmp_dir;

static void hl_bench_on_signal(int sig) {
  hl_bench_stop = sig;
}

static void hl_bench_install_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = hl_bench_on_signal;
  sigemptyset(&sa.sa_mask);
  /* No SA_RESTART: a poll() waiting on a child returns at once. */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  /* A closed stdout (`hlbench ... | head`) or a file size limit makes the
     write fail with EPIPE or EFBIG, reported like any other write error,
     instead of killing hlbench on the spot with its measurements. (The
     children get the default actions back: bench_child.c.) */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
}

/* Why a write failed, in words a user can act on. */
static const char *hl_bench_write_why(int e) {
  switch (e) {
    case ENOSPC:
      return "the disk is full";
    case EDQUOT:
      return "the disk quota is used up";
    case EFBIG:
      return "the file size limit of ulimit -f is reached";
    case EPIPE:
      return "the reader of stdout is gone";
    default:
      return "a write failed";
  }
}

/* Everything hlbench prints on stdout goes through here (or is checked by
   hl_bench_stdout_flush), so that a failed write is an error, never a
   silent exit 0. 0 ok, -1 reported on stderr. */
static int hl_bench_put_stdout(const char *buf, size_t len) {
  int e = 0;
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) e = errno ? errno : EIO;
  if (!e) e = hl_bench_write_fd(STDOUT_FILENO, buf, len);
  if (!e) return 0;
  fprintf(stderr, "hlbench: writing to standard output: %s\n", strerror(e));
  return -1;
}

static int hl_bench_stdout_flush(void) {
  errno = 0;
  if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
  int e = errno ? errno : EIO;
  fprintf(stderr, "hlbench: writing to standard output: %s\n", strerror(e));
  return -1;
}

typedef void (*hl_bench_writer_fn)(FILE *out, const void *ctx);

/* What fn writes, into memory: written to its file (or stdout) in one go,
   the errno of a failure is the write's own, and the bytes are still at
   hand when the file cannot take them. */
static char *hl_bench_render(hl_bench_writer_fn fn, const void *ctx, size_t *len) {
  char *buf = NULL;
  FILE *m = open_memstream(&buf, len);
  if (!m) {
    fputs("hlbench: out of memory\n", stderr);
    exit(2);
  }
  fn(m, ctx);
  if (fclose(m) != 0) {
    fputs("hlbench: out of memory\n", stderr);
    exit(2);
  }
  return buf;
}

static _Noreturn void hl_bench_exit(int code) {
  if (hl_bench_tmp_dir) {
    if (hl_bench_rm_rf(hl_bench_tmp_dir) != 0)
      fprintf(stderr, "hlbench: cannot remove %s: %s\n", hl_bench_tmp_dir, strerror(errno));
    else if (code == 130)
      fprintf(stderr, "hlbench: removed the unfinished %s\n", hl_bench_tmp_dir);
  }
  exit(code);
}

static void hl_bench_check_stop(void) {
  if (!hl_bench_stop) return;
  fprintf(stderr, "\nhlbench: interrupted by signal %d (%s)\n", (int)hl_bench_stop,
          strsignal((int)hl_bench_stop));
  hl_bench_exit(130);
}

static void hl_bench_usage(FILE *out) {
  fprintf(out,
          "usage: hlbench --config FILE [--bin DIR] [--results DIR] [--repeats N]\n"
          "               [--timeout SECONDS] [--only-alloc LIST] [--jobs-out FILE]\n"
          "       hlbench --collect RUN_DIR\n"
          "\n"
          "Run the benchmark matrix of FILE (format: harness/BENCH.md): every workload x\n"
          "thread count x page size x allocator, `repeats` times, each run a separate\n"
          "hlreplay process; repeats are interleaved. Results go to\n"
          "RESULTS/<YYYYmmdd-HHMMSS>-<host>/ (bench.csv, meta.json, traces/, summary.txt);\n"
          "the summary table is also printed on stdout, progress on stderr.\n"
          "\n"
          "  --config FILE       the matrix (harness/bench.conf, harness/bench-quick.conf)\n"
          "  --bin DIR           where hlreplay and hltrace are (default: hlbench's folder)\n"
          "  --results DIR       where run folders go (default: results)\n"
          "  --repeats N         repeats per cell, overriding the config\n"
          "  --timeout SECONDS   limit per run, overriding the config (default 600)\n"
          "  --only-alloc LIST   only these of the config's allocators (comma-separated)\n"
          "  --jobs-out FILE     do not run: prepare the run folder (traces, meta.json) and\n"
          "                      write one shell command per run to FILE ('-' = stdout),\n"
          "                      for GNU parallel or a Slurm array; then use --collect\n"
          "  --collect RUN_DIR   after the jobs ran: write RUN_DIR's bench.csv and summary\n"
          "  --help              this text\n"
          "\n"
          "exit status: 0 all runs ok, 1 some runs failed (still recorded), 2 usage, config\n"
          "or setup error (nothing written), 3 an output could not be written (disk full,\n"
          "file size limit, stdout closed or full; nothing measured is deleted: the run\n"
          "folder is kept as RESULTS/.NAME.tmp and stderr says where each file went), 130\n"
          "interrupted (the unfinished run folder is removed)\n"
          "\n"
          "A RESULTS/.NAME.tmp folder that a killed hlbench left behind is reported when\n"
          "hlbench starts, and removed if it holds only generated traces (harness/BENCH.md)\n");
}

typedef struct hl_bench_opts_s {
  const char *config, *bin, *results, *only, *jobs_out, *collect;
  long repeats;     /* 0 = the config's */
  double timeout_s; /* 0 = the config's */
} hl_bench_opts_t;

static void hl_bench_parse_opts(int argc, char **argv, hl_bench_opts_t *o) {
  static const struct option longs[] = {
      {"config", required_argument, NULL, 'c'},   {"bin", required_argument, NULL, 'b'},
      {"results", required_argument, NULL, 'r'},  {"repeats", required_argument, NULL, 'n'},
      {"timeout", required_argument, NULL, 't'},  {"only-alloc", required_argument, NULL, 'a'},
      {"jobs-out", required_argument, NULL, 'j'}, {"collect", required_argument, NULL, 'C'},
      {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
  memset(o, 0, sizeof *o);
  o->results = "results";
  const char *token, *prefix_of; /* exact long names (workloads/cli.h) */
  int c;
  char *end;
  while ((c = hl_cli_getopt(argc, argv, "h", longs, &token, &prefix_of)) != -1) {
    switch (c) {
      case 'c':
        o->config = optarg;
        break;
      case 'b':
        o->bin = optarg;
        break;
      case 'r':
        o->results = optarg;
        break;
      case 'a':
        o->only = optarg;
        break;
      case 'j':
        o->jobs_out = optarg;
        break;
      case 'C':
        o->collect = optarg;
        break;
      case 'n':
        errno = 0;
        o->repeats = strtol(optarg, &end, 10);
        if (errno || *end || o->repeats < 1 || o->repeats > 10000) {
          fprintf(stderr, "hlbench: --repeats: expected a count from 1 to 10000, got '%s'\n",
                  optarg);
          exit(2);
        }
        break;
      case 't':
        o->timeout_s = strtod(optarg, &end);
        if (*end || !(o->timeout_s > 0) || o->timeout_s > 1e7) {
          fprintf(stderr, "hlbench: --timeout: expected seconds (> 0), got '%s'\n", optarg);
          exit(2);
        }
        break;
      case 'h':
        hl_bench_usage(stdout);
        exit(hl_bench_stdout_flush() == 0 ? 0 : HL_BENCH_EXIT_WRITE);
      default:
        hl_bench_usage(stderr);
        exit(2);
    }
  }
  if (optind < argc) {
    fprintf(stderr, "hlbench: unexpected argument '%s'\n", argv[optind]);
    hl_bench_usage(stderr);
    exit(2);
  }
  if (!o->config == !o->collect) {
    fprintf(stderr, "hlbench: expected exactly one of --config FILE or --collect RUN_DIR\n");
    hl_bench_usage(stderr);
    exit(2);
  }
}

/* The folder hlbench itself is in: where `make` put hlreplay and hltrace. */
static char *hl_bench_self_dir(void) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return hl_bench_xstrdup(".");
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash) *slash = '\0';
  return hl_bench_xstrdup(buf);
}

static char *hl_bench_tool(const char *bin, const char *name) {
  char *path = hl_bench_xasprintf("%s/%s", bin, name);
  if (access(path, X_OK) != 0) {
    fprintf(stderr, "hlbench: %s: %s (build it with `make`, or point --bin at it)\n", path,
            strerror(errno));
    hl_bench_exit(2);
  }
  return path;
}

/* `hlreplay --list`: names into `names`, whole lines into `lines`, the
   names of allocators with the page-size property into `paged`. */
static void hl_bench_list_allocs(const char *hlreplay, hl_bench_strv_t *names,
                                 hl_bench_strv_t *lines, hl_bench_strv_t *paged) {
  char *argv[] = {(char *)hlreplay, "--list", NULL};
  hl_bench_child_t res;
  if (hl_bench_child_run(argv, NULL, 60, &hl_bench_stop, &res) != 0) {
    fprintf(stderr, "hlbench: cannot run %s --list: %s\n", hlreplay, strerror(errno));
    hl_bench_exit(2);
  }
  hl_bench_check_stop();
  if (res.exit != HL_BENCH_EXITED || res.code != 0) {
    char *what = hl_bench_child_describe(&res);
    char *last = hl_bench_last_line(res.err, res.err_len);
    fprintf(stderr, "hlbench: %s --list failed (%s): %s\n", hlreplay, what, last);
    hl_bench_exit(2);
  }
  for (char *line = res.out; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    size_t name_len = strcspn(line, "\t ");
    if (name_len > 0) {
      hl_bench_strv_push_owned(names, hl_bench_xstrndup(line, name_len));
      hl_bench_strv_push(lines, line);
      const char *props = strrchr(line, '\t'); /* the last field: properties */
      if (props && strstr(props, "page-size"))
        hl_bench_strv_push_owned(paged, hl_bench_xstrndup(line, name_len));
    }
    line = nl ? nl + 1 : NULL;
  }
  hl_bench_child_free(&res);
}

/* results/.<stamp>-<host>.tmp, created; the final name beside it is free. */
static void hl_bench_make_run_dir(const char *results, time_t started, char **name, char **tmp_dir,
                                  char **final_dir) {
  if (hl_bench_mkdir_p(results) != 0) {
    fprintf(stderr, "hlbench: cannot create %s: %s\n", results, strerror(errno));
    hl_bench_exit(2);
  }
  char host[256] = "unknown";
  if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
  host[sizeof host - 1] = '\0';
  for (char *c = host; *c; c++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *c)) *c = '_';
  /* UTC: runs from several machines (or a cluster) sort together. */
  char stamp[32];
  struct tm tm;
  gmtime_r(&started, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  for (int n = 1;; n++) {
    *name = n == 1 ? hl_bench_xasprintf("%s-%s", stamp, host)
                   : hl_bench_xasprintf("%s-%s-%d", stamp, host, n);
    *final_dir = hl_bench_xasprintf("%s/%s", results, *name);
    *tmp_dir = hl_bench_xasprintf("%s/.%s.tmp", results, *name);
    struct stat st;
    if (stat(*final_dir, &st) != 0 && mkdir(*tmp_dir, 0777) == 0) break;
    if (errno != EEXIST && errno != ENOENT) {
      fprintf(stderr, "hlbench: cannot create %s: %s\n", *tmp_dir, strerror(errno));
      hl_bench_exit(2);
    }
    free(*name);
    free(*final_dir);
    free(*tmp_dir);
  }
  hl_bench_tmp_dir = *tmp_dir;
  int e = hl_bench_owner_write(*tmp_dir, started);
  if (e) {
    fprintf(stderr, "hlbench: cannot write %s/%s: %s\n", *tmp_dir, HL_BENCH_OWNER, strerror(e));
    hl_bench_exit(2);
  }
}

static void hl_bench_fmt_duration(char *buf, size_t size, double s) {
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(buf, size, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60)
    snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
  else
    snprintf(buf, size, "%lds", t);
}

/* 0 ok, else the errno (reported). */
static int hl_bench_write_log(const char *dir, const char *file, const char *text) {
  char *path = hl_bench_xasprintf("%s/%s", dir, file);
  int e = hl_bench_put_file(path, text, strlen(text));
  if (e) fprintf(stderr, "hlbench: cannot write %s: %s\n", path, strerror(e));
  free(path);
  return e;
}

/* Generate each synthetic trace the plan replays (one per workload, thread
   count and seed) once, before any run, so a bad generator option shows in
   seconds. A trace that cannot be made fails its runs (recorded), not the
   bench. */
static void hl_bench_generate(const hl_bench_config_t *cfg, const hl_bench_plan_t *plan,
                              const char *hltrace, const char *dir, hl_bench_strv_t *bad_traces,
                              hl_bench_strv_t *bad_why) {
  char *traces = hl_bench_xasprintf("%s/traces", dir);
  char *logs = hl_bench_xasprintf("%s/logs", dir);
  if (mkdir(traces, 0777) != 0) {
    fprintf(stderr, "hlbench: cannot create %s: %s\n", traces, strerror(errno));
    hl_bench_exit(2);
  }
  hl_bench_strv_t made = {0};
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    if (r->source != HL_BENCH_GEN || hl_bench_strv_find(&made, r->trace) >= 0) continue;
    hl_bench_strv_push(&made, r->trace);
    const hl_bench_workload_t *wl = cfg->workloads;
    while (strcmp(wl->name, r->workload) != 0) wl++;
    const char *out = r->trace;
    hl_bench_strv_t argv = {0};
    char num[32];
    hl_bench_strv_push(&argv, hltrace);
    hl_bench_strv_push(&argv, "gen");
    hl_bench_strv_push(&argv, wl->gen_args.v[0]);
    hl_bench_strv_push(&argv, "--threads");
    snprintf(num, sizeof num, "%u", r->threads);
    hl_bench_strv_push(&argv, num);
    hl_bench_strv_push(&argv, "--seed");
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->seed);
    hl_bench_strv_push(&argv, num);
    for (size_t a = 1; a < wl->gen_args.n; a++) hl_bench_strv_push(&argv, wl->gen_args.v[a]);
    hl_bench_strv_push(&argv, "-o");
    hl_bench_strv_push(&argv, out);
    hl_bench_strv_push(&argv, NULL);

    fprintf(stderr, "hlbench: generating %s ...", out);
    hl_bench_child_t res;
    /* Generation is not measured: a tight per-run timeout must not kill
       it, so it gets at least HL_BENCH_GEN_TIMEOUT_S. */
    double limit =
        cfg->timeout_s > HL_BENCH_GEN_TIMEOUT_S ? cfg->timeout_s : HL_BENCH_GEN_TIMEOUT_S;
    if (hl_bench_child_run(argv.v, dir, limit, &hl_bench_stop, &res) != 0) {
      fprintf(stderr, "\nhlbench: cannot run %s: %s\n", hltrace, strerror(errno));
      hl_bench_exit(2);
    }
    hl_bench_check_stop();
    char *path = hl_bench_xasprintf("%s/%s", dir, out);
    struct stat st;
    if (res.exit == HL_BENCH_EXITED && res.code == 0 && stat(path, &st) == 0) {
      fprintf(stderr, " %.2f s, %.1f MiB\n", res.elapsed_s, (double)st.st_size / 1048576.0);
    } else {
      char *what = hl_bench_child_describe(&res);
      char *last = hl_bench_last_line(res.err, res.err_len);
      char *why = res.exit == HL_BENCH_EXITED && res.code == 0
                      ? hl_bench_xasprintf("hltrace gen wrote no %s", out)
                      : hl_bench_xstrdup(*last ? last : what);
      fprintf(stderr, " FAILED (%s): %s\n", what, why);
      hl_bench_strv_push(bad_traces, out);
      hl_bench_strv_push_owned(bad_why, why);
      mkdir(logs, 0777);
      /* traces/NAME.hlt -> logs/gen-NAME.stderr (its last line is also in
         the failed runs' status) */
      const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
      char *log = hl_bench_xasprintf("gen-%.*s.stderr", (int)(strlen(base) - 4), base);
      (void)hl_bench_write_log(logs, log, res.err);
      free(log);
      free(what);
      free(last);
    }
    free(path);
    hl_bench_child_free(&res);
    hl_bench_strv_free(&argv);
  }
  hl_bench_strv_free(&made);
  free(traces);
  free(logs);
}

static void hl_bench_describe_run(char *buf, size_t size, const hl_bench_plan_t *plan,
                                  const hl_bench_run_t *r) {
  int n = snprintf(buf, size, "%s ", r->workload);
  if (r->source == HL_BENCH_GEN && n >= 0 && (size_t)n < size)
    n += snprintf(buf + n, size - (size_t)n, "t=%u ", r->threads);
  if (plan->page_sizes_swept && n >= 0 && (size_t)n < size)
    n += snprintf(buf + n, size - (size_t)n, "page=%llu ", (unsigned long long)r->page_size);
  if (r->sim_page && n >= 0 && (size_t)n < size)
    n += snprintf(buf + n, size - (size_t)n, "sim-page=%s ", hl_bench_sim_page_name(r->sim_page));
  if (n >= 0 && (size_t)n < size)
    snprintf(buf + n, size - (size_t)n, "%s %s%u/%u", r->alloc, r->sim ? "simulated, rep " : "rep ",
             r->repeat, plan->repeats);
}

static void hl_bench_run_all(hl_bench_plan_t *plan, const hl_bench_config_t *cfg,
                             const char *hlreplay, const char *dir,
                             const hl_bench_strv_t *bad_traces, const hl_bench_strv_t *bad_why) {
  int digits = snprintf(NULL, 0, "%zu", plan->n);
  double start = hl_bench_now();
  for (size_t i = 0; i < plan->n; i++) {
    hl_bench_run_t *r = &plan->runs[i];
    char what[512], result[512];
    hl_bench_describe_run(what, sizeof what, plan, r);
    long bad = r->source == HL_BENCH_GEN ? hl_bench_strv_find(bad_traces, r->trace) : -1;
    if (bad >= 0) {
      char *status = hl_bench_xasprintf("error: trace generation failed: %s", bad_why->v[bad]);
      hl_bench_run_fail(r, status);
      free(status);
    } else {
      hl_bench_strv_t argv;
      hl_bench_replay_argv(&argv, NULL, hlreplay, r, cfg);
      hl_bench_child_t res;
      if (hl_bench_child_run(argv.v, dir, cfg->timeout_s, &hl_bench_stop, &res) != 0) {
        fprintf(stderr, "hlbench: cannot run %s: %s\n", hlreplay, strerror(errno));
        hl_bench_exit(2);
      }
      hl_bench_strv_free(&argv);
      hl_bench_check_stop();
      hl_bench_run_record(r, &res);
      hl_bench_child_free(&res);
    }
    double wall = hl_bench_parse_num(hl_bench_run_value(r, "wall_s"));
    if (r->ok && isnan(wall)) { /* a simulated run: its time would be the simulator's */
      snprintf(result, sizeof result, "ok");
    } else if (r->ok) {
      char num[64];
      hl_bench_fmt_num(num, sizeof num, wall);
      snprintf(result, sizeof result, "%s s", num);
    } else {
      const char *st = hl_bench_run_value(r, "status");
      snprintf(result, sizeof result, "%s", st ? st : "failed (status NA)");
      for (char *c = result; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    }
    double elapsed = hl_bench_now() - start;
    char eta[32];
    hl_bench_fmt_duration(eta, sizeof eta, elapsed / (double)(i + 1) * (double)(plan->n - i - 1));
    fprintf(stderr, "[%*zu/%*zu] %s: %s  (ETA %s)\n", digits, i + 1, digits, plan->n, what, result,
            eta);
  }
}

/* One file of the run folder, rendered; err: 0 written, else the errno. */
typedef struct hl_bench_output_s {
  const char *name;
  char *buf;
  size_t len;
  int err;
} hl_bench_output_t;

/* Write `dir/name` through a temporary file (complete or absent). 0 ok,
   else the errno (reported); out, when not NULL, keeps the bytes. */
static int hl_bench_write_file(const char *dir, const char *name, hl_bench_writer_fn fn,
                               const void *ctx, hl_bench_output_t *out) {
  size_t len;
  char *buf = hl_bench_render(fn, ctx, &len);
  char *path = hl_bench_xasprintf("%s/%s", dir, name);
  int e = hl_bench_put_file(path, buf, len);
  if (e) fprintf(stderr, "hlbench: cannot write %s: %s\n", path, strerror(e));
  free(path);
  if (out) {
    *out = (hl_bench_output_t){.name = name, .buf = buf, .len = len, .err = e};
  } else {
    free(buf);
  }
  return e;
}

typedef struct hl_bench_csv_ctx_s {
  const hl_bench_plan_t *plan;
  const char *run_id;
} hl_bench_csv_ctx_t;

static void hl_bench_csv_fn(FILE *out, const void *ctx) {
  const hl_bench_csv_ctx_t *c = ctx;
  hl_bench_write_csv(out, c->plan, c->run_id);
}
static void hl_bench_summary_fn(FILE *out, const void *ctx) {
  hl_bench_write_summary(out, ctx);
}
static void hl_bench_meta_fn(FILE *out, const void *ctx) {
  hl_bench_write_meta(out, ctx);
}
static void hl_bench_manifest_fn(FILE *out, const void *ctx) {
  const hl_bench_meta_t *m = ctx;
  hl_bench_manifest_write(out, m->plan, m->cfg->timeout_s);
}

/* The full stderr of every failed run, one file each, beside bench.csv.
   0 ok, else the errno of the first that could not be written. */
static int hl_bench_write_logs(const char *dir, const hl_bench_plan_t *plan) {
  char *logs = hl_bench_xasprintf("%s/logs", dir);
  int digits = snprintf(NULL, 0, "%zu", plan->n), first = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    if (!r->done || r->ok || !r->log) continue;
    if (mkdir(logs, 0777) != 0 && errno != EEXIST && !first) {
      first = errno;
      fprintf(stderr, "hlbench: cannot create %s: %s\n", logs, strerror(first));
    }
    char threads[32] = "";
    if (r->source == HL_BENCH_GEN) snprintf(threads, sizeof threads, "-t%u", r->threads);
    char *name = hl_bench_xasprintf("%0*zu-%s%s-%s-r%u.stderr", digits, r->index + 1, r->workload,
                                    threads, r->alloc, r->repeat);
    int e = first ? first : hl_bench_write_log(logs, name, r->log);
    if (e && !first) first = e;
    free(name);
  }
  free(logs);
  return first;
}

/* --collect RUN_DIR */
static int hl_bench_collect(const char *dir) {
  hl_bench_plan_t plan;
  double timeout_s = 600;
  if (hl_bench_manifest_load(dir, &plan, &timeout_s, stderr) != 0) return 2;
  hl_bench_jobs_collect(dir, &plan, timeout_s);
  char *copy = hl_bench_xstrdup(dir);
  size_t n = strlen(copy);
  while (n > 1 && copy[n - 1] == '/') copy[--n] = '\0';
  const char *slash = strrchr(copy, '/');
  hl_bench_csv_ctx_t csv = {&plan, slash ? slash + 1 : copy};
  char *meta = hl_bench_xasprintf("%s/meta.json", dir);
  int e = hl_bench_write_file(dir, "bench.csv", hl_bench_csv_fn, &csv, NULL);
  if (!e) e = hl_bench_write_file(dir, "summary.txt", hl_bench_summary_fn, &plan, NULL);
  if (!e) {
    int got = hl_bench_update_meta(meta, &plan);
    if (got == -2) {
      e = errno;
      fprintf(stderr, "hlbench: cannot write %s: %s\n", meta, strerror(e));
    } else if (got != 0) {
      fprintf(stderr, "hlbench: warning: could not update served_by and runs in %s\n", meta);
    }
  }
  if (!e) e = hl_bench_write_logs(dir, &plan);
  size_t failed = hl_bench_failed_count(&plan);
  size_t len;
  char *table = hl_bench_render(hl_bench_summary_fn, &plan, &len);
  int rc = hl_bench_put_stdout(table, len) == 0 ? (failed ? 1 : 0) : HL_BENCH_EXIT_WRITE;
  free(table);
  if (e) {
    /* The jobs' own files are the measurements; nothing was lost. */
    fprintf(stderr,
            "hlbench: could not write the collected results into %s (%s): its jobs/ files are "
            "untouched, so nothing measured is lost; run --collect again when it can be written\n",
            dir, hl_bench_write_why(e));
    rc = HL_BENCH_EXIT_WRITE;
  } else {
    fprintf(stderr, "hlbench: collected %zu runs (%zu failed) into %s/bench.csv\n", plan.n, failed,
            dir);
  }
  free(meta);
  free(copy);
  hl_bench_plan_free(&plan);
  return rc;
}

typedef struct hl_bench_jobs_ctx_s {
  const char *dir, *hlreplay;
  const hl_bench_plan_t *plan;
  const hl_bench_config_t *cfg;
} hl_bench_jobs_ctx_t;

static void hl_bench_jobs_fn(FILE *out, const void *ctx) {
  const hl_bench_jobs_ctx_t *j = ctx;
  hl_bench_jobs_write(out, j->dir, j->hlreplay, j->plan, j->cfg);
}

/* --jobs-out FILE: the commands, after the run folder is in place. 0 ok,
   -1 reported. */
static int hl_bench_write_jobs(const char *path, const char *final_dir, const char *hlreplay,
                               const hl_bench_plan_t *plan, const hl_bench_config_t *cfg) {
  char *abs_dir = realpath(final_dir, NULL);
  char *abs_replay = realpath(hlreplay, NULL);
  int rc = -1;
  if (!abs_dir || !abs_replay) {
    fprintf(stderr, "hlbench: %s: %s\n", abs_dir ? hlreplay : final_dir, strerror(errno));
  } else {
    hl_bench_jobs_ctx_t ctx = {abs_dir, abs_replay, plan, cfg};
    size_t len;
    char *buf = hl_bench_render(hl_bench_jobs_fn, &ctx, &len);
    if (strcmp(path, "-") == 0) {
      rc = hl_bench_put_stdout(buf, len);
    } else {
      int e = hl_bench_put_file(path, buf, len);
      if (e) fprintf(stderr, "hlbench: cannot write %s: %s\n", path, strerror(e));
      rc = e ? -1 : 0;
    }
    free(buf);
  }
  if (rc != 0)
    fprintf(stderr, "hlbench: the run folder %s is prepared, but without its jobs list\n",
            final_dir);
  else
    fprintf(stderr,
            "hlbench: %zu jobs in %s for run folder %s\n"
            "hlbench: run them one at a time per machine, e.g. `parallel -j1 < %s`, then\n"
            "hlbench:   %s --collect %s\n",
            plan->n, path, final_dir, path, "hlbench", final_dir);
  free(abs_dir);
  free(abs_replay);
  return rc;
}

/* The line of `key = ...` in the config's text (each key is set once), 0
   when it is not there. */
static int hl_bench_config_line(const hl_bench_config_t *cfg, const char *key) {
  size_t klen = strlen(key);
  int line = 1;
  for (const char *p = cfg->text; p && *p; line++) {
    p += strspn(p, " \t");
    if (strncmp(p, key, klen) == 0 && strchr(" \t=", p[klen]) && p[klen]) return line;
    p = strchr(p, '\n');
    if (p) p++;
  }
  return 0;
}

/* One thread that allocates 16 bytes and frees them. 0 ok, -1 (why). */
static int hl_bench_write_check_trace(const char *path, char *why, size_t size) {
  hl_trace_error_t err;
  hl_trace_writer_t *w =
      hl_trace_writer_open(path, 1, "generator=hlbench-replay-args-check\n", &err);
  if (!w) {
    snprintf(why, size, "%s", err.message);
    return -1;
  }
  const hl_event_t ev[] = {{.op = HL_OP_THREAD_START},
                           {.op = HL_OP_ALLOC, .kind = HL_KIND_MALLOC, .obj = 0, .size = 16},
                           {.op = HL_OP_FREE, .obj = 0},
                           {.op = HL_OP_THREAD_END}};
  for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
    if (hl_trace_write(w, &ev[i]) != 0) {
      snprintf(why, size, "%s", hl_trace_writer_error(w)->message);
      hl_trace_writer_abort(w);
      return -1;
    }
  if (hl_trace_writer_close(w) != 0) {
    snprintf(why, size, "cannot write it");
    return -1;
  }
  return 0;
}

/* Replay the check trace as run r would be replayed; its exit status (-1
   when it did not exit), stderr into res. */
static int hl_bench_trial(const hl_bench_run_t *r, const hl_bench_config_t *cfg,
                          const char *hlreplay, const char *dir, hl_bench_child_t *res) {
  hl_bench_run_t probe = *r;
  probe.trace = (char *)HL_BENCH_REPLAY_CHECK;
  hl_bench_strv_t argv;
  hl_bench_replay_argv(&argv, NULL, hlreplay, &probe, cfg);
  if (hl_bench_child_run(argv.v, dir, 120, &hl_bench_stop, res) != 0) {
    fprintf(stderr, "hlbench: cannot run %s: %s\n", hlreplay, strerror(errno));
    hl_bench_exit(2);
  }
  hl_bench_strv_free(&argv);
  hl_bench_check_stop();
  return res->exit == HL_BENCH_EXITED ? res->code : -1;
}

/* A mistake in replay_args (an option hlreplay does not know, a bad value)
   would fail every run of the matrix with hlreplay's usage error (exit
   status 2). hlreplay has no option that only checks its arguments, so
   before the matrix replay a one-object trace with them, once per pass
   (native, simulated), as the pass's first run would: exit status 2 there,
   but not without replay_args, is their mistake, reported at their line of
   the config. Anything else is left to the runs, which record it. */
static void hl_bench_check_replay_args(const hl_bench_config_t *cfg, const hl_bench_plan_t *plan,
                                       const char *hlreplay, const char *dir) {
  if (cfg->replay_args.n == 0) return;
  char *trace = hl_bench_xasprintf("%s/%s", dir, HL_BENCH_REPLAY_CHECK);
  char why[300];
  if (hl_bench_write_check_trace(trace, why, sizeof why) != 0) {
    fprintf(stderr, "hlbench: cannot write %s (to check replay_args): %s\n", trace, why);
    hl_bench_exit(2);
  }
  hl_bench_config_t bare = *cfg;
  bare.replay_args = (hl_bench_strv_t){0};
  bool both = plan->n > 0 && plan->runs[0].sim != plan->runs[plan->n - 1].sim;
  for (int sim = 0; sim <= 1; sim++) {
    const hl_bench_run_t *first = NULL;
    for (size_t i = 0; i < plan->n && !first; i++)
      if (plan->runs[i].sim == (sim == 1)) first = &plan->runs[i];
    if (!first) continue;
    hl_bench_child_t with, without;
    int got = hl_bench_trial(first, cfg, hlreplay, dir, &with);
    int bare_got = got == 2 ? hl_bench_trial(first, &bare, hlreplay, dir, &without) : 0;
    if (got == 2 && bare_got != 2) {
      /* hlreplay's message without its "(hlreplay --help for usage)" */
      char *msg = hl_bench_xstrdup("");
      for (char *line = with.err; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        if (*line && strncmp(line, "(hlreplay --help", 16) != 0) {
          char *next = hl_bench_xasprintf("%s%s%s", msg, *msg ? "; " : "", line);
          free(msg);
          msg = next;
        }
        line = nl ? nl + 1 : NULL;
      }
      char *args = hl_bench_xstrdup("");
      for (size_t a = 0; a < cfg->replay_args.n; a++) {
        char *next = hl_bench_xasprintf("%s%s%s", args, a ? " " : "", cfg->replay_args.v[a]);
        free(args);
        args = next;
      }
      fprintf(stderr, "%s:%d: expected replay_args that hlreplay accepts%s, got '%s': %s\n",
              cfg->path, hl_bench_config_line(cfg, "replay_args"),
              sim    ? " in the simulated pass"
              : both ? " in the native runs"
                     : "",
              args, *msg ? msg : "(no message)");
      free(args);
      free(msg);
      hl_bench_exit(2);
    }
    hl_bench_child_free(&with);
    if (got == 2) hl_bench_child_free(&without);
  }
  unlink(trace);
  free(trace);
}

/* The run folder could not be completed (a file could not be written into
   it, or it could not be renamed): nothing measured is deleted. The folder
   stays as RESULTS/.NAME.tmp with what could be written; each file that
   could not be is written to $TMPDIR instead; bench.csv, the measurements,
   goes to stderr when even that fails. Says where everything is. */
static void hl_bench_keep_unfinished(const char *tmp_dir, const char *final_dir, const char *name,
                                     hl_bench_output_t *outs, size_t n_outs, int logs_err,
                                     int rename_err, const hl_bench_plan_t *plan) {
  int why = rename_err;
  for (size_t i = 0; i < n_outs && !why; i++) why = outs[i].err;
  if (!why) why = logs_err;
  char *kept = hl_bench_xstrdup("traces/");
  for (size_t i = 0; i < n_outs; i++)
    if (!outs[i].err) {
      char *next = hl_bench_xasprintf("%s, %s", kept, outs[i].name);
      free(kept);
      kept = next;
    }
  size_t done = 0;
  for (size_t i = 0; i < plan->n; i++) done += plan->runs[i].done;
  fprintf(stderr,
          "hlbench: the run folder could not be completed: %s, %s. Nothing measured is "
          "deleted:\n"
          "hlbench:   %s/ is kept as it is, not renamed to %s; it holds %s\n",
          strerror(why), hl_bench_write_why(why), tmp_dir, final_dir, kept);
  free(kept);
  const char *tmpdir = getenv("TMPDIR");
  if (!tmpdir || !*tmpdir) tmpdir = "/tmp";
  bool on_stderr = false;
  for (size_t i = 0; i < n_outs; i++) {
    if (!outs[i].err) continue;
    char *dump = hl_bench_xasprintf("%s/hlbench-%s-%s", tmpdir, name, outs[i].name);
    int e = hl_bench_put_file(dump, outs[i].buf, outs[i].len);
    bool csv = strcmp(outs[i].name, "bench.csv") == 0;
    if (!e) {
      fprintf(stderr, "hlbench:   %s%s is in %s instead\n", outs[i].name,
              csv ? " (every run's row)" : "", dump);
    } else if (csv) {
      fprintf(stderr,
              "hlbench:   bench.csv could not be written to %s either (%s): its %zu rows "
              "follow here, between the two '----' lines\n"
              "hlbench: ---- bench.csv ----\n",
              dump, strerror(e), done);
      fflush(stderr);
      (void)hl_bench_write_fd(STDERR_FILENO, outs[i].buf, outs[i].len);
      on_stderr = true;
      fprintf(stderr, "hlbench: ---- end of bench.csv ----\n");
    } else {
      fprintf(stderr, "hlbench:   %s: not written (nor to %s: %s)\n", outs[i].name, dump,
              strerror(e));
    }
    free(dump);
  }
  if (logs_err)
    fprintf(stderr, "hlbench:   logs/ lacks some failed runs' stderr (their status is in "
                    "bench.csv)\n");
  bool room = why == ENOSPC || why == EDQUOT || why == EFBIG;
  fprintf(stderr,
          "hlbench: once %s, put the files named above into %s/%s and rename it to %s; a "
          "later hlbench reports the folder when it starts, and removes it only if it holds "
          "nothing but traces\n",
          room ? "there is room" : "that is mended", tmp_dir,
          on_stderr ? " (bench.csv: the rows printed above)" : "", final_dir);
}

int main(int argc, char **argv) {
  hl_bench_opts_t o;
  hl_bench_parse_opts(argc, argv, &o);
  hl_bench_install_signals();
  if (o.collect) return hl_bench_collect(o.collect);

  time_t started = time(NULL);
  double t0 = hl_bench_now();
  char *self = hl_bench_self_dir();
  char *bin = realpath(o.bin ? o.bin : self, NULL);
  if (!bin) {
    fprintf(stderr, "hlbench: --bin %s: %s\n", o.bin ? o.bin : self, strerror(errno));
    return 2;
  }

  hl_bench_config_t cfg;
  if (hl_bench_config_load(o.config, &cfg, stderr) != 0) {
    free(bin);
    free(self);
    return 2;
  }
  if (o.repeats) cfg.repeats = (unsigned)o.repeats;
  if (o.timeout_s > 0) cfg.timeout_s = o.timeout_s;
  char *hlreplay = NULL, *hltrace = NULL;
  hl_bench_strv_t known = {0}, known_lines = {0}, paged = {0};
  bool config_ok = !o.only || hl_bench_config_only_allocs(&cfg, o.only, stderr) == 0;
  if (config_ok) {
    hlreplay = hl_bench_tool(bin, "hlreplay");
    for (size_t w = 0; w < cfg.n_workloads && !hltrace; w++)
      if (cfg.workloads[w].source == HL_BENCH_GEN) hltrace = hl_bench_tool(bin, "hltrace");
    hl_bench_list_allocs(hlreplay, &known, &known_lines, &paged);
    config_ok = hl_bench_config_check_allocs(&cfg, &known, stderr) == 0;
  }
  if (!config_ok) { /* exit 2, nothing written; freed so a leak checker stays quiet */
    hl_bench_strv_free(&known);
    hl_bench_strv_free(&known_lines);
    hl_bench_strv_free(&paged);
    free(hlreplay);
    free(hltrace);
    hl_bench_config_free(&cfg);
    free(bin);
    free(self);
    return 2;
  }
  cfg.alloc_paged = hl_bench_xmalloc((cfg.allocs.n ? cfg.allocs.n : 1) * sizeof *cfg.alloc_paged);
  for (size_t a = 0; a < cfg.allocs.n; a++) {
    char name[128];
    hl_bench_alloc_split(cfg.allocs.v[a], name, sizeof name);
    cfg.alloc_paged[a] = hl_bench_strv_find(&paged, name) >= 0;
  }
  hl_bench_strv_free(&paged);

  /* What killed benches left in RESULTS: said, and removed where that
     loses nothing measured. */
  hl_bench_leftovers(o.results, stderr);
  char *name, *tmp_dir, *final_dir;
  hl_bench_make_run_dir(o.results, started, &name, &tmp_dir, &final_dir);
  char *abs_tmp = realpath(tmp_dir, NULL);
  if (!abs_tmp) {
    fprintf(stderr, "hlbench: %s: %s\n", tmp_dir, strerror(errno));
    hl_bench_exit(2);
  }
  hl_bench_plan_t plan;
  hl_bench_plan_build(&plan, &cfg);
  hl_bench_check_replay_args(&cfg, &plan, hlreplay, abs_tmp);
  fprintf(stderr, "hlbench: %s -> %s\n", cfg.path, final_dir);

  hl_bench_strv_t bad_traces = {0}, bad_why = {0};
  hl_bench_generate(&cfg, &plan, hltrace, abs_tmp, &bad_traces, &bad_why);
  bool jobs = o.jobs_out != NULL;
  if (jobs && bad_traces.n) {
    fprintf(stderr, "hlbench: %zu traces could not be generated; no jobs written\n", bad_traces.n);
    hl_bench_exit(1);
  }
  if (!jobs) hl_bench_run_all(&plan, &cfg, hlreplay, abs_tmp, &bad_traces, &bad_why);

  hl_bench_meta_t meta = {.run_id = name,
                          .mode = jobs ? "jobs" : "run",
                          .started = started,
                          .elapsed_s = hl_bench_now() - t0,
                          .cfg = &cfg,
                          .plan = &plan,
                          .argc = argc,
                          .argv = argv,
                          .bin_dir = bin,
                          .known_allocs = &known_lines,
                          .git_dir = bin,
                          .diff_path = NULL,
                          .stop = &hl_bench_stop};
  char *diff = hl_bench_xasprintf("%s/git.diff", abs_tmp);
  meta.diff_path = diff;
  hl_bench_csv_ctx_t csv = {&plan, name};
  /* run mode: bench.csv, summary.txt, meta.json; jobs mode: meta.json */
  hl_bench_output_t outs[3];
  size_t n_outs = 0;
  int logs_err = 0, werr = 0;
  if (jobs) {
    char *jobs_dir = hl_bench_xasprintf("%s/jobs", abs_tmp);
    if (mkdir(jobs_dir, 0777) != 0) {
      werr = errno;
      fprintf(stderr, "hlbench: cannot create %s: %s\n", jobs_dir, strerror(werr));
    }
    free(jobs_dir);
    if (!werr) werr = hl_bench_write_file(abs_tmp, "jobs.tsv", hl_bench_manifest_fn, &meta, NULL);
  } else {
    hl_bench_write_file(abs_tmp, "bench.csv", hl_bench_csv_fn, &csv, &outs[n_outs++]);
    hl_bench_write_file(abs_tmp, "summary.txt", hl_bench_summary_fn, &plan, &outs[n_outs++]);
    logs_err = hl_bench_write_logs(abs_tmp, &plan);
  }
  hl_bench_write_file(abs_tmp, "meta.json", hl_bench_meta_fn, &meta, &outs[n_outs++]);
  hl_bench_check_stop();
  for (size_t i = 0; i < n_outs && !werr; i++) werr = outs[i].err;
  if (!werr) werr = logs_err;
  if (jobs && werr) {
    /* Nothing is measured yet: the traces can be made again. */
    fprintf(stderr,
            "hlbench: the jobs could not be prepared (%s); nothing was measured yet, so the "
            "unfinished run folder is removed\n",
            hl_bench_write_why(werr));
    hl_bench_exit(HL_BENCH_EXIT_WRITE);
  }
  int rename_err = 0;
  if (!werr && rename(tmp_dir, final_dir) != 0) {
    rename_err = errno;
    fprintf(stderr, "hlbench: cannot rename %s to %s: %s\n", tmp_dir, final_dir,
            strerror(rename_err));
  }
  if (jobs && rename_err) hl_bench_exit(HL_BENCH_EXIT_WRITE); /* nothing measured yet */
  bool complete = !werr && !rename_err;
  /* Complete, or kept unfinished on purpose: from here on an interrupt
     must not remove it. */
  hl_bench_tmp_dir = NULL;
  if (complete) {
    /* the marker of a folder being written has served */
    char *owner = hl_bench_xasprintf("%s/%s", final_dir, HL_BENCH_OWNER);
    unlink(owner);
    free(owner);
  }

  int rc;
  if (jobs) {
    rc = hl_bench_write_jobs(o.jobs_out, final_dir, hlreplay, &plan, &cfg) == 0
             ? 0
             : HL_BENCH_EXIT_WRITE;
  } else {
    /* the summary is what was measured, folder complete or not */
    bool out_ok = hl_bench_put_stdout(outs[1].buf, outs[1].len) == 0;
    size_t failed = hl_bench_failed_count(&plan);
    char took[32];
    hl_bench_fmt_duration(took, sizeof took, hl_bench_now() - t0);
    if (!complete) {
      if (failed) fprintf(stderr, "hlbench: %zu of %zu runs FAILED (see status)\n", failed, plan.n);
      hl_bench_keep_unfinished(tmp_dir, final_dir, name, outs, n_outs, logs_err, rename_err, &plan);
    } else if (failed)
      fprintf(stderr, "hlbench: %zu of %zu runs FAILED (see status in bench.csv, logs/); %s\n",
              failed, plan.n, final_dir);
    else
      fprintf(stderr, "hlbench: %zu runs ok in %s; results in %s\n", plan.n, took, final_dir);
    if (!out_ok && complete)
      fprintf(stderr, "hlbench: the results are complete in %s (summary.txt is the table)\n",
              final_dir);
    rc = !complete || !out_ok ? HL_BENCH_EXIT_WRITE : failed ? 1 : 0;
  }

  for (size_t i = 0; i < n_outs; i++) free(outs[i].buf);
  free(diff);
  hl_bench_plan_free(&plan);
  hl_bench_strv_free(&bad_traces);
  hl_bench_strv_free(&bad_why);
  hl_bench_strv_free(&known);
  hl_bench_strv_free(&known_lines);
  hl_bench_config_free(&cfg);
  free(abs_tmp);
  free(tmp_dir);
  free(final_dir);
  free(name);
  free(hlreplay);
  free(hltrace);
  free(bin);
  free(self);
  return rc;
}
