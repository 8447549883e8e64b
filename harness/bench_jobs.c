/* ----------------------------------------------------------------------------
  harness/bench_jobs.c: the matrix as a list of independent shell commands
  (`hlbench --jobs-out FILE`) and their collection afterwards
  (`hlbench --collect RUN_DIR`).

  A matrix that outgrows one machine is run by an existing engine (GNU
  parallel, a Slurm job array), never by a scheduler of our own. So hlbench
  prepares a run folder (traces generated, meta.json written), writes one
  self-contained command per run, and later assembles whatever those
  commands left behind: jobs/N.csv (hlreplay's stdout), jobs/N.err (its
  stderr) and jobs/N.rc (its exit status). jobs.tsv in the run folder is the
  manifest that says which run each N is.
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HL_BENCH_MANIFEST "jobs.tsv"
#define HL_BENCH_MANIFEST_HEAD                                                                     \
  "index\tworkload\tsource\tthreads\tpage_size\tallocator\trepeat\ttimeout_s\ttrace\tmode\tseed\t" \
  "sim_page"

#define HL_BENCH_MANIFEST_FIELDS 12

/* timeout(1) exits 124 when it stopped the command, 128+9 when it had to
   kill it after the grace period. */
#define HL_BENCH_TIMEOUT_RC      124
#define HL_BENCH_TIMEOUT_KILL_RC 137

/* 'text' for a POSIX shell. */
static void hl_bench_shell_quote(FILE *out, const char *s) {
  fputc('\'', out);
  for (; *s; s++)
    if (*s == '\'')
      fputs("'\\''", out);
    else
      fputc(*s, out);
  fputc('\'', out);
}

static int hl_bench_job_digits(size_t n) {
  int d = snprintf(NULL, 0, "%zu", n);
  return d < 4 ? 4 : d;
}

int hl_bench_jobs_write(FILE *out, const char *run_dir, const char *hlreplay,
                        const hl_bench_plan_t *plan, const hl_bench_config_t *cfg) {
  int digits = hl_bench_job_digits(plan->n);
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    char id[32];
    snprintf(id, sizeof id, "%0*zu", digits, r->index + 1);
    /* cd into the run folder so the trace column reads traces/..., exactly
       as in a local run; the exit status is kept for --collect and also
       returned, so the engine sees failures too. */
    fputs("cd ", out);
    hl_bench_shell_quote(out, run_dir);
    fprintf(out, " && { timeout -k 10 %g ", cfg->timeout_s);
    hl_bench_strv_t argv;
    bool *literal;
    hl_bench_replay_argv(&argv, &literal, hlreplay, r, cfg);
    for (size_t a = 0; argv.v[a]; a++) {
      if (a > 0) fputc(' ', out);
      if (literal[a])
        fputs(argv.v[a], out);
      else
        hl_bench_shell_quote(out, argv.v[a]);
    }
    hl_bench_strv_free(&argv);
    free(literal);
    fprintf(out, " >jobs/%s.csv 2>jobs/%s.err; rc=$?; echo $rc >jobs/%s.rc; exit $rc; }\n", id, id,
            id);
  }
  return ferror(out) ? -1 : 0;
}

int hl_bench_manifest_write(FILE *out, const hl_bench_plan_t *plan, double timeout_s) {
  fprintf(out, "%s\n", HL_BENCH_MANIFEST_HEAD);
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    fprintf(out, "%zu\t%s\t%s\t%u\t%llu\t%s\t%u\t%g\t%s\t%s\t%llu\t%llu\n", r->index + 1,
            r->workload, r->source == HL_BENCH_GEN ? "gen" : "file", r->threads,
            (unsigned long long)r->page_size, r->alloc, r->repeat, timeout_s, r->trace,
            r->sim ? "sim" : "native", (unsigned long long)r->seed,
            (unsigned long long)r->sim_page);
  }
  return ferror(out) ? -1 : 0;
}

/* Fields of one manifest line, split on tabs in place. */
static size_t hl_bench_split_tabs(char *line, char **field, size_t max) {
  size_t n = 0;
  while (n < max) {
    field[n++] = line;
    char *tab = strchr(line, '\t');
    if (!tab) break;
    *tab = '\0';
    line = tab + 1;
  }
  return n;
}

int hl_bench_manifest_load(const char *run_dir, hl_bench_plan_t *plan, double *timeout_s,
                           FILE *err) {
  memset(plan, 0, sizeof *plan);
  char *path = hl_bench_xasprintf("%s/%s", run_dir, HL_BENCH_MANIFEST);
  char *text = hl_bench_read_file(path, NULL);
  if (!text) {
    fprintf(err, "hlbench: %s: %s (is %s a folder made by hlbench --jobs-out?)\n", path,
            strerror(errno), run_dir);
    free(path);
    return -1;
  }
  int rc = 0, line_no = 0;
  hl_bench_strv_t pages = {0};
  char *line = text;
  while (line && *line && rc == 0) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    line_no++;
    if (line_no == 1) {
      if (strcmp(line, HL_BENCH_MANIFEST_HEAD) != 0) {
        fprintf(err, "%s:1: expected the header '%s'\n", path, HL_BENCH_MANIFEST_HEAD);
        rc = -1;
      }
    } else {
      char *f[HL_BENCH_MANIFEST_FIELDS];
      hl_bench_run_t r = {0};
      unsigned long long page = 0;
      char *end1, *end2, *end3, *end4, *end5, *end6;
      if (hl_bench_split_tabs(line, f, HL_BENCH_MANIFEST_FIELDS) != HL_BENCH_MANIFEST_FIELDS ||
          (strcmp(f[9], "sim") != 0 && strcmp(f[9], "native") != 0)) {
        rc = -1;
      } else {
        r.index = strtoul(f[0], &end1, 10) - 1;
        r.threads = (unsigned)strtoul(f[3], &end2, 10);
        page = strtoull(f[4], &end3, 10);
        r.repeat = (unsigned)strtoul(f[6], &end4, 10);
        *timeout_s = strtod(f[7], NULL);
        r.seed = strtoull(f[10], &end5, 10);
        r.sim_page = strtoull(f[11], &end6, 10);
        if (*end1 || *end2 || *end3 || *end4 || *end5 || *end6 || r.index != plan->n ||
            (strcmp(f[2], "gen") != 0 && strcmp(f[2], "file") != 0))
          rc = -1;
      }
      if (rc != 0) {
        fprintf(err, "%s:%d: expected %s\n", path, line_no,
                "12 tab-separated fields as in the header, runs numbered from 1 in order");
      } else {
        plan->runs = hl_bench_xrealloc(plan->runs, (plan->n + 1) * sizeof *plan->runs);
        r.workload = hl_bench_xstrdup(f[1]);
        r.source = f[2][0] == 'g' ? HL_BENCH_GEN : HL_BENCH_FILE;
        r.page_size = page;
        r.alloc = hl_bench_xstrdup(f[5]);
        r.trace = hl_bench_xstrdup(f[8]);
        r.sim = f[9][0] == 's';
        if (r.repeat > plan->repeats) plan->repeats = r.repeat;
        if (hl_bench_strv_find(&pages, f[4]) < 0) hl_bench_strv_push(&pages, f[4]);
        plan->runs[plan->n++] = r;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  plan->page_sizes_swept = pages.n > 1;
  hl_bench_strv_free(&pages);
  free(text);
  free(path);
  if (rc != 0) hl_bench_plan_free(plan);
  return rc;
}

void hl_bench_jobs_collect(const char *run_dir, hl_bench_plan_t *plan, double timeout_s) {
  int digits = hl_bench_job_digits(plan->n);
  for (size_t i = 0; i < plan->n; i++) {
    hl_bench_run_t *r = &plan->runs[i];
    char *base = hl_bench_xasprintf("%s/jobs/%0*zu", run_dir, digits, r->index + 1);
    char *rc_path = hl_bench_xasprintf("%s.rc", base);
    char *out_path = hl_bench_xasprintf("%s.csv", base);
    char *err_path = hl_bench_xasprintf("%s.err", base);
    char *rc_text = hl_bench_read_file(rc_path, NULL);
    char *end = NULL;
    long rc = rc_text ? strtol(rc_text, &end, 10) : -1;
    if (!rc_text || end == rc_text || rc < 0) {
      char *status = hl_bench_xasprintf("error: job not run (no exit status in jobs/%0*zu.rc)",
                                        digits, r->index + 1);
      hl_bench_run_fail(r, status);
      free(status);
    } else {
      hl_bench_child_t child = {.timeout_s = timeout_s};
      child.out = hl_bench_read_file(out_path, &child.out_len);
      child.err = hl_bench_read_file(err_path, &child.err_len);
      if (!child.out) child.out = hl_bench_xstrdup(""), child.out_len = 0;
      if (!child.err) child.err = hl_bench_xstrdup(""), child.err_len = 0;
      if (rc == HL_BENCH_TIMEOUT_RC || rc == HL_BENCH_TIMEOUT_KILL_RC) {
        child.exit = HL_BENCH_TIMEOUT;
      } else if (rc > 128) {
        /* the shell's way of saying "killed by signal rc-128" */
        child.exit = HL_BENCH_SIGNALED;
        child.code = (int)rc - 128;
      } else {
        child.exit = HL_BENCH_EXITED;
        child.code = (int)rc;
      }
      hl_bench_run_record(r, &child);
      hl_bench_child_free(&child);
    }
    free(rc_text);
    free(base);
    free(rc_path);
    free(out_path);
    free(err_path);
  }
}
