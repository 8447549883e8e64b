/* ----------------------------------------------------------------------------
  harness/bench.h: the pieces of `hlbench`, the benchmark matrix runner.

  hlbench reads a plain config (bench_config.c), turns it into a plan of
  runs (workload x threads x page size x allocator x repeat), runs each one
  as a child `hlreplay` process (bench_child.c), turns what the child printed
  into a row of named values (bench_result.c), and writes a results folder:
  bench.csv, meta.json (bench_meta.c) and a summary table (bench_summary.c).
  The command itself (harness/hlbench.c) only wires these together.

  The format of the config and of every output is documented in
  harness/BENCH.md; keep the two in step.
---------------------------------------------------------------------------- */
#ifndef HL_BENCH_H
#define HL_BENCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* ---- small utilities (bench_util.c) ---- */

/* Growable vector of owned strings. */
typedef struct hl_bench_strv_s {
  char **v;
  size_t n, cap;
} hl_bench_strv_t;

/* Out of memory is not a condition a benchmark driver can recover from:
   these print a message and exit(2). */
void *hl_bench_xmalloc(size_t n);
void *hl_bench_xrealloc(void *p, size_t n);
char *hl_bench_xstrdup(const char *s);
char *hl_bench_xstrndup(const char *s, size_t n);
char *hl_bench_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void hl_bench_strv_push(hl_bench_strv_t *sv, const char *s); /* copies s */
void hl_bench_strv_push_owned(hl_bench_strv_t *sv, char *s); /* takes s */
/* Index of s in sv, or -1. */
long hl_bench_strv_find(const hl_bench_strv_t *sv, const char *s);
void hl_bench_strv_free(hl_bench_strv_t *sv);

/* Read a whole file, NUL-terminated. NULL (errno set) on failure. */
char *hl_bench_read_file(const char *path, size_t *len);
/* Remove a directory tree (no symlinks followed). 0 ok, -1 error. */
int hl_bench_rm_rf(const char *path);
/* mkdir -p. 0 ok, -1 error (errno set). */
int hl_bench_mkdir_p(const char *path);
/* The last non-empty line of buf (after the last '\r' on it), trimmed; ""
   when there is none. Returns a new string. */
char *hl_bench_last_line(const char *buf, size_t len);
/* Monotonic seconds. */
double hl_bench_now(void);
/* Numbers as the summary prints them: about four significant digits,
   fixed-point, "NA" for NaN. */
void hl_bench_fmt_num(char *buf, size_t size, double x);
/* Parse a metric cell: NaN for NULL, "", "NA" or anything not numeric. */
double hl_bench_parse_num(const char *s);
/* Parse a decimal count (digits only) in [lo, hi]: config values and the
   harness commands' options. */
bool hl_bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);
/* out = {median, min, max} of v[0..n), n >= 1 (v is sorted in place): the
   repeated measurements of hlqueuebench and hlmicro. */
void hl_bench_median_min_max(double *v, unsigned n, double out[3]);
/* write(2) all of buf. 0 ok, else the errno. */
int hl_bench_write_fd(int fd, const char *buf, size_t len);
/* Write buf to path through DIR/.NAME.tmp renamed over it, so the file is
   complete or absent. 0 ok, else the errno (ENOSPC: the disk is full). */
int hl_bench_put_file(const char *path, const char *buf, size_t len);
/* Bytes in the regular files under path (symlinks not followed). */
uint64_t hl_bench_tree_bytes(const char *path);
/* "12.0 KiB", "57.3 MiB", "1.2 GiB" */
void hl_bench_fmt_bytes(char *buf, size_t size, uint64_t bytes);

/* ---- who writes a run folder (bench_util.c) ---- */

/* The marker in an unfinished run folder (RESULTS/.NAME.tmp/): pid, host,
   pid_ns, boot_id, start_ticks (when the process started, /proc/PID/stat
   field 22) and started (UTC), one key=value a line, so that a later
   hlbench can tell a folder being written from one a killed hlbench left
   behind. */
#define HL_BENCH_OWNER ".owner"
/* The one-object trace hlbench replays once with the config's replay_args
   before the matrix (hlbench.c), in the run folder. */
#define HL_BENCH_REPLAY_CHECK ".replay-check.hlt"
/* Write this process's marker into dir. 0 ok, else the errno. */
int hl_bench_owner_write(const char *dir, time_t started);
/* Look at the unfinished run folders (.*.tmp) in results and say on err
   what each is: a live hlbench's (left alone); a gone hlbench's holding
   only what can be made again (removed, and said so); a gone hlbench's
   holding measurements, another host's (or pid namespace's) or one without
   a marker (left alone, with its size and what to do). */
void hl_bench_leftovers(const char *results, FILE *err);

/* ---- the config (bench_config.c) ---- */

typedef enum hl_bench_source_e {
  HL_BENCH_GEN,  /* `workload NAME = gen MODEL ARGS...`: one trace per thread count */
  HL_BENCH_FILE, /* `workload NAME = file PATH`: a recorded trace, its own threads */
} hl_bench_source_t;

typedef struct hl_bench_workload_s {
  char *name;
  hl_bench_source_t source;
  hl_bench_strv_t gen_args; /* GEN: MODEL then its options */
  char *path;               /* FILE: absolute path of the trace */
  int line;
  bool swept;     /* runs at every page size (sweep_workloads; default: yes) */
  bool simulated; /* in the simulated pass (sim_workloads; default: yes) */
} hl_bench_workload_t;

typedef struct hl_bench_config_s {
  char *path;             /* as given */
  char *text;             /* the whole file, recorded in meta.json */
  int last_line;          /* for "expected X before the end" errors */
  hl_bench_strv_t allocs; /* in config order */
  int *alloc_lines;       /* line of each allocator, for error messages */
  unsigned *threads;      /* in config order */
  size_t n_threads;
  uint64_t *page_sizes; /* bytes; 0 = the allocator's default */
  size_t n_page_sizes;
  bool *alloc_paged; /* per allocator: has a page size tunable (hlreplay --list); the
                        others run once per cell, at their default (page size 0) */
  unsigned repeats;
  uint64_t seed;
  bool vary_seed; /* `vary_seed = yes`: repeat r replays traces made with seed + r - 1,
                     and the simulated pass runs every repeat */
  bool native;    /* `native = no`: only the simulated pass (default yes) */
  double timeout_s;
  hl_bench_strv_t replay_args; /* extra hlreplay options for every run */
  char *sim;                   /* `sim = PRESET`: absolute path; NULL = no simulated runs */
  unsigned *sim_threads;       /* thread counts of the simulated pass (default: threads) */
  size_t n_sim_threads;
  uint64_t *sim_pages; /* simulated MMU page sizes in bytes for the swept workloads'
                          simulated runs (4K, 2M or 1G); none = the preset's */
  size_t n_sim_pages;
  hl_bench_strv_t sweep_workloads, sim_workloads; /* empty: every workload */
  int sweep_workloads_line, sim_workloads_line;
  hl_bench_workload_t *workloads;
  size_t n_workloads;
} hl_bench_config_t;

/* An allocator entry of a config is NAME or NAME:OPTIONS (a variant: hlreplay
   --alloc NAME --options OPTIONS, named NAME:OPTIONS in every output). Copy
   NAME into buf (truncated to len); returns OPTIONS or NULL. */
const char *hl_bench_alloc_split(const char *entry, char *buf, size_t len);
/* An entry's OPTIONS may hold one key that is the harness's, not the
   allocator's: remote-free=send|request, passed on as hlreplay --remote-free
   (so one config can run ravioli both ways). Copy the other options into buf
   and return it (NULL when none are left); *remote_free gets "send",
   "request", NULL (not given), or "" (a bad value). */
const char *hl_bench_alloc_options(const char *opts, char *buf, size_t len,
                                   const char **remote_free);

/* Load and check a config. On error prints "FILE:LINE: expected ..." to
   `err` and returns -1 (the config is then freed). */
int hl_bench_config_load(const char *path, hl_bench_config_t *cfg, FILE *err);
/* Check every allocator against `known` (from `hlreplay --list`); prints
   "FILE:LINE: expected ..." for the first unknown one. 0 ok, -1 error. */
int hl_bench_config_check_allocs(const hl_bench_config_t *cfg, const hl_bench_strv_t *known,
                                 FILE *err);
/* Keep only the allocators named in `list` (comma or space separated).
   0 ok, -1 (message to err) when a name is not in the config. */
int hl_bench_config_only_allocs(hl_bench_config_t *cfg, const char *list, FILE *err);
void hl_bench_config_free(hl_bench_config_t *cfg);

/* ---- one child process (bench_child.c) ---- */

typedef enum hl_bench_exit_e {
  HL_BENCH_EXITED,       /* code = exit status */
  HL_BENCH_SIGNALED,     /* code = signal number */
  HL_BENCH_TIMEOUT,      /* killed by us after timeout_s */
  HL_BENCH_INTERRUPTED,  /* killed by us because hlbench is being stopped */
  HL_BENCH_SPAWN_FAILED, /* code = errno of fork/exec */
  HL_BENCH_NOT_RUN,      /* jobs mode: no trace of the job having run */
} hl_bench_exit_t;

typedef struct hl_bench_child_s {
  hl_bench_exit_t exit;
  int code;
  double timeout_s; /* the limit it ran under */
  double elapsed_s; /* wall-clock of the whole child */
  char *out, *err;  /* captured stdout / stderr, NUL-terminated */
  size_t out_len, err_len;
} hl_bench_child_t;

/* Run argv[0] (a path, or a bare name looked up in PATH) with argv in `cwd` (NULL = ours), stdin
   from /dev/null, stdout and stderr captured. The child leads its own process group, so a timeout
   or a stop kills it and anything it started. `stop` is polled; when it becomes non-zero the child
   is killed. Returns 0 when the child ran (see res->exit), -1 only on a failure of our own (pipes).
 */
int hl_bench_child_run(char *const argv[], const char *cwd, double timeout_s,
                       volatile sig_atomic_t *stop, hl_bench_child_t *res);
void hl_bench_child_free(hl_bench_child_t *res);
/* "exit 3", "killed by signal 11 (Segmentation fault)", "timeout after 600 s", ... */
char *hl_bench_child_describe(const hl_bench_child_t *res);

/* ---- CSV (bench_result.c) ---- */

typedef struct hl_bench_csv_s {
  hl_bench_strv_t *rows; /* each row a vector of fields */
  size_t n_rows;
} hl_bench_csv_t;

/* Parse RFC 4180 CSV (CRLF or LF line ends). -1 with a message in `why`. */
int hl_bench_csv_parse(const char *text, size_t len, hl_bench_csv_t *csv, char *why,
                       size_t why_size);
void hl_bench_csv_free(hl_bench_csv_t *csv);

/* ---- the plan and its outcomes (bench_result.c) ---- */

/* One run of hlreplay: a cell of the matrix and one repeat of it. */
typedef struct hl_bench_run_s {
  /* the plan */
  size_t index; /* 0-based, execution order */
  char *workload;
  hl_bench_source_t source;
  unsigned threads;   /* GEN: as generated; FILE: 0 (the trace decides) */
  uint64_t page_size; /* 0 = allocator default */
  char *alloc;
  unsigned repeat;   /* 1-based */
  uint64_t seed;     /* GEN: the seed its trace was generated with */
  char *trace;       /* as given to hlreplay: relative to the run folder, or absolute */
  bool sim;          /* replayed through the simulator (hlreplay --sim cfg->sim) */
  uint64_t sim_page; /* sim: the simulated MMU page size in bytes; 0 = the preset's */
  /* the outcome */
  bool done, ok;
  double elapsed_s;           /* whole hlreplay process */
  hl_bench_strv_t col_names;  /* the row hlreplay printed (or what we know) */
  hl_bench_strv_t col_values; /* parallel to col_names; NULL = NA */
  bool replay_row;            /* col_names is hlreplay's own header */
  char *log;                  /* stderr of a failed run, kept for logs/ */
} hl_bench_run_t;

typedef struct hl_bench_plan_s {
  hl_bench_run_t *runs;
  size_t n;
  unsigned repeats;
  bool page_sizes_swept; /* more than one page size: the summary groups by it */
} hl_bench_plan_t;

/* Build the interleaved plan: repeat 1 of every cell, then repeat 2, ...;
   cells in config order (workload, threads, page size, allocator); then the
   simulated pass (repeat 1 only, or every repeat with vary_seed). Trace
   paths of GEN workloads come from hl_bench_trace_path(). */
void hl_bench_plan_build(hl_bench_plan_t *plan, const hl_bench_config_t *cfg);
void hl_bench_plan_free(hl_bench_plan_t *plan);
/* "traces/NAME-tT.hlt" (or "traces/NAME-tT-sSEED.hlt" with vary_seed),
   relative to the run folder. */
char *hl_bench_trace_path(const hl_bench_config_t *cfg, const char *workload, unsigned threads,
                          uint64_t seed);
/* "4K", "2M", "1G": a simulated page size as hlreplay --sim-page-size takes it. */
const char *hl_bench_sim_page_name(uint64_t bytes);

/* The hlreplay command line of run r, NULL-terminated, into argv (freed
   with hl_bench_strv_free):
     HLREPLAY TRACE --alloc NAME [--options OPTIONS] --format csv
       [--page-size P] [--sim PRESET] [replay_args...]
   The one definition for both the local runner (which execs it) and the
   jobs file (which shell-quotes it). When literal is not NULL it receives a
   new array (free it), true for each of hlbench's own fixed words (option
   names, "csv", the page size), which the jobs file writes unquoted. */
void hl_bench_replay_argv(hl_bench_strv_t *argv, bool **literal, const char *hlreplay,
                          const hl_bench_run_t *r, const hl_bench_config_t *cfg);
/* Turn what the child did and printed into the run's row and ok flag. A
   failed run keeps only what hlbench itself knows (allocator, trace, threads,
   page size) and a status "error: <why>" or "timeout: ...". */
void hl_bench_run_record(hl_bench_run_t *run, const hl_bench_child_t *child);
/* Record a run that never started, with the given status text. */
void hl_bench_run_fail(hl_bench_run_t *run, const char *status);
/* A value of the run's row by column name (NULL = NA or absent). */
const char *hl_bench_run_value(const hl_bench_run_t *run, const char *name);
/* Write bench.csv: run_id, workload, repeat, then hlreplay's columns (the
   union of every header seen, in first-seen order; metrics.h's list when no
   run produced a header). 0 ok, -1 write error. */
int hl_bench_write_csv(FILE *out, const hl_bench_plan_t *plan, const char *run_id);

/* ---- the matrix as jobs for another engine (bench_jobs.c) ---- */

/* One shell command per run: cd RUN_DIR, hlreplay with a timeout(1) limit,
   stdout/stderr/exit status into jobs/N.csv, .err, .rc. */
int hl_bench_jobs_write(FILE *out, const char *run_dir, const char *hlreplay,
                        const hl_bench_plan_t *plan, const hl_bench_config_t *cfg);
/* jobs.tsv: which run each job number is. */
int hl_bench_manifest_write(FILE *out, const hl_bench_plan_t *plan, double timeout_s);
/* Rebuild the plan from RUN_DIR/jobs.tsv. -1 with a message on err. */
int hl_bench_manifest_load(const char *run_dir, hl_bench_plan_t *plan, double *timeout_s,
                           FILE *err);
/* Record every run of the plan from what its job left in RUN_DIR/jobs/. */
void hl_bench_jobs_collect(const char *run_dir, hl_bench_plan_t *plan, double timeout_s);

/* ---- outputs (bench_meta.c, bench_summary.c) ---- */

typedef struct hl_bench_meta_s {
  const char *run_id;
  const char *mode; /* "run" or "jobs" */
  time_t started;   /* wall-clock time the bench began */
  double elapsed_s;
  const hl_bench_config_t *cfg;
  const hl_bench_plan_t *plan;
  int argc;
  char **argv;
  const char *bin_dir;
  const hl_bench_strv_t *known_allocs; /* "NAME\tsummary" lines from hlreplay --list */
  const char *git_dir;                 /* where to ask git; NULL = cwd */
  const char *diff_path;               /* where to write `git diff HEAD` when dirty, or NULL */
  volatile sig_atomic_t *stop;
} hl_bench_meta_t;

/* Write meta.json (see BENCH.md for its fields). 0 ok, -1 write error. */
int hl_bench_write_meta(FILE *out, const hl_bench_meta_t *meta);
/* --collect: rewrite the served_by and runs entries of a jobs run's
   meta.json from the collected runs. 0 ok, -1 it cannot be read or is not
   in the shape written, -2 it cannot be written (errno set). */
int hl_bench_update_meta(const char *path, const hl_bench_plan_t *plan);
/* JSON string literal, with invalid UTF-8 replaced by U+FFFD so the file
   always parses. */
void hl_bench_json_string(FILE *out, const char *s);

/* The summary table (and the list of failed runs). */
void hl_bench_write_summary(FILE *out, const hl_bench_plan_t *plan);
/* How many runs failed. */
size_t hl_bench_failed_count(const hl_bench_plan_t *plan);

#endif
