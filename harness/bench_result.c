/* ----------------------------------------------------------------------------
  harness/bench_result.c: the plan of runs, what each run produced, and
  bench.csv.

  hlreplay prints a CSV header and one row. hlbench maps that row by column
  name, never by position, and copies every column it does not know into
  bench.csv untouched (harness/metrics.h is the list, but a newer hlreplay
  may print more). A run that failed keeps only what hlbench itself knows
  about it, and says why in `status`; its metrics are NA, never 0.
---------------------------------------------------------------------------- */
#include "harness/bench.h"
#include "harness/metrics.h"

#include <stdlib.h>
#include <string.h>

/* The columns bench.csv puts before hlreplay's. */
static const char *const hl_bench_own_cols[] = {"run_id", "workload", "repeat", "bench_mode",
                                                "seed"};
#define HL_BENCH_OWN_COLS (sizeof hl_bench_own_cols / sizeof hl_bench_own_cols[0])

/* ---- CSV reading (RFC 4180) ---- */

int hl_bench_csv_parse(const char *text, size_t len, hl_bench_csv_t *csv, char *why,
                       size_t why_size) {
  memset(csv, 0, sizeof *csv);
  size_t i = 0, line = 1;
  hl_bench_strv_t row = {0};
  char *field = NULL;
  size_t flen = 0, fcap = 0;
#define HL_BENCH_FIELD_PUT(c)                                                                      \
  do {                                                                                             \
    if (flen + 2 > fcap) field = hl_bench_xrealloc(field, fcap = fcap ? fcap * 2 : 64);            \
    field[flen++] = (c);                                                                           \
  } while (0)
  while (i < len) {
    /* one field */
    flen = 0;
    if (text[i] == '"') {
      size_t open_line = line;
      i++;
      for (;;) {
        if (i >= len) {
          snprintf(why, why_size, "line %zu: unterminated quoted field", open_line);
          goto fail;
        }
        if (text[i] == '"') {
          if (i + 1 < len && text[i + 1] == '"') {
            HL_BENCH_FIELD_PUT('"');
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] == '\n') line++;
        HL_BENCH_FIELD_PUT(text[i]);
        i++;
      }
      if (i < len && text[i] != ',' && text[i] != '\n' &&
          !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
        snprintf(why, why_size, "line %zu: unexpected '%c' after a closing quote", line, text[i]);
        goto fail;
      }
    } else {
      while (i < len && text[i] != ',' && text[i] != '\n' &&
             !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')) {
        HL_BENCH_FIELD_PUT(text[i]);
        i++;
      }
    }
    hl_bench_strv_push_owned(&row, hl_bench_xstrndup(field ? field : "", flen));
    if (i < len && text[i] == ',') {
      i++;
      if (i == len) hl_bench_strv_push(&row, ""); /* "a," at the very end */
      continue;
    }
    /* end of record */
    if (i < len) i += text[i] == '\r' ? 2 : 1;
    line++;
    /* A blank line is no record (a lone empty field is not worth one). */
    if (row.n == 1 && row.v[0][0] == '\0') {
      hl_bench_strv_free(&row);
      continue;
    }
    csv->rows = hl_bench_xrealloc(csv->rows, (csv->n_rows + 1) * sizeof *csv->rows);
    csv->rows[csv->n_rows++] = row;
    row = (hl_bench_strv_t){0};
  }
  if (row.n) {
    csv->rows = hl_bench_xrealloc(csv->rows, (csv->n_rows + 1) * sizeof *csv->rows);
    csv->rows[csv->n_rows++] = row;
  }
#undef HL_BENCH_FIELD_PUT
  free(field);
  return 0;
fail:
  free(field);
  hl_bench_strv_free(&row);
  hl_bench_csv_free(csv);
  return -1;
}

void hl_bench_csv_free(hl_bench_csv_t *csv) {
  for (size_t i = 0; i < csv->n_rows; i++) hl_bench_strv_free(&csv->rows[i]);
  free(csv->rows);
  memset(csv, 0, sizeof *csv);
}

/* ---- the plan ---- */

char *hl_bench_trace_path(const hl_bench_config_t *cfg, const char *workload, unsigned threads,
                          uint64_t seed) {
  if (!cfg->vary_seed) return hl_bench_xasprintf("traces/%s-t%u.hlt", workload, threads);
  return hl_bench_xasprintf("traces/%s-t%u-s%llu.hlt", workload, threads, (unsigned long long)seed);
}

const char *hl_bench_sim_page_name(uint64_t bytes) {
  return bytes == (UINT64_C(1) << 30) ? "1G" : bytes == (UINT64_C(1) << 21) ? "2M" : "4K";
}

/* One word of a run's command line, and whether it is one of hlbench's own
   fixed words (an option name, "csv", a page size in digits): the jobs file
   writes those bare and shell-quotes the rest. */
static void hl_bench_argv_add(hl_bench_strv_t *argv, bool *literal, const char *s, bool lit) {
  if (literal) literal[argv->n] = lit;
  hl_bench_strv_push(argv, s);
}

void hl_bench_replay_argv(hl_bench_strv_t *argv, bool **literal, const char *hlreplay,
                          const hl_bench_run_t *r, const hl_bench_config_t *cfg) {
  memset(argv, 0, sizeof *argv);
  /* at most: hlreplay TRACE --alloc NAME --options OPTIONS --remote-free R
     --format csv --page-size P --sim PRESET --sim-page-size S (16),
     replay_args, the NULL */
  size_t most = 16 + cfg->replay_args.n + 1;
  bool *lit = literal ? hl_bench_xmalloc(most * sizeof *lit) : NULL;
  if (literal) *literal = lit;
  hl_bench_argv_add(argv, lit, hlreplay, false);
  hl_bench_argv_add(argv, lit, r->trace, false);
  char name[128], own[256];
  const char *options = hl_bench_alloc_split(r->alloc, name, sizeof name), *remote_free = NULL;
  if (options) options = hl_bench_alloc_options(options, own, sizeof own, &remote_free);
  hl_bench_argv_add(argv, lit, "--alloc", true);
  hl_bench_argv_add(argv, lit, name, false);
  if (options) {
    hl_bench_argv_add(argv, lit, "--options", true);
    hl_bench_argv_add(argv, lit, options, false);
  }
  if (remote_free) {
    hl_bench_argv_add(argv, lit, "--remote-free", true);
    hl_bench_argv_add(argv, lit, remote_free, true);
  }
  hl_bench_argv_add(argv, lit, "--format", true);
  hl_bench_argv_add(argv, lit, "csv", true);
  if (r->page_size) {
    char num[32];
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->page_size);
    hl_bench_argv_add(argv, lit, "--page-size", true);
    hl_bench_argv_add(argv, lit, num, true);
  }
  if (r->sim) {
    hl_bench_argv_add(argv, lit, "--sim", true);
    hl_bench_argv_add(argv, lit, cfg->sim, false);
  }
  if (r->sim_page) {
    hl_bench_argv_add(argv, lit, "--sim-page-size", true);
    hl_bench_argv_add(argv, lit, hl_bench_sim_page_name(r->sim_page), true);
  }
  for (size_t a = 0; a < cfg->replay_args.n; a++)
    hl_bench_argv_add(argv, lit, cfg->replay_args.v[a], false);
  hl_bench_argv_add(argv, lit, NULL, false);
}

/* The runs of one pass over the matrix: every cell once, as repeat `rep`;
   in the simulated pass each swept workload's cell once per simulated page
   size. */
static void hl_bench_plan_pass(hl_bench_plan_t *plan, const hl_bench_config_t *cfg, unsigned rep,
                               bool sim) {
  const unsigned *threads = sim ? cfg->sim_threads : cfg->threads;
  size_t n_threads = sim ? cfg->n_sim_threads : cfg->n_threads;
  for (size_t w = 0; w < cfg->n_workloads; w++) {
    const hl_bench_workload_t *wl = &cfg->workloads[w];
    if (sim && !wl->simulated) continue;
    /* A recorded trace is one trace whatever the seed: the simulator, which
       is deterministic, replays it once. */
    if (sim && rep > 1 && wl->source != HL_BENCH_GEN) continue;
    size_t n_t = wl->source == HL_BENCH_GEN ? n_threads : 1;
    size_t n_sp = sim && wl->swept && cfg->n_sim_pages ? cfg->n_sim_pages : 1;
    for (size_t t = 0; t < n_t; t++)
      for (size_t sp = 0; sp < n_sp; sp++)
        for (size_t p = 0; p < cfg->n_page_sizes; p++)
          for (size_t a = 0; a < cfg->allocs.n; a++) {
            /* page sizes beyond the first: only for allocators with the
               tunable, only for the swept workloads */
            bool paged = (!cfg->alloc_paged || cfg->alloc_paged[a]) && wl->swept;
            if (!paged && p > 0) continue;
            hl_bench_run_t *r = &plan->runs[plan->n];
            memset(r, 0, sizeof *r);
            r->index = plan->n++;
            r->workload = hl_bench_xstrdup(wl->name);
            r->source = wl->source;
            r->threads = wl->source == HL_BENCH_GEN ? threads[t] : 0;
            r->page_size = paged ? cfg->page_sizes[p] : 0;
            r->alloc = hl_bench_xstrdup(cfg->allocs.v[a]);
            r->repeat = rep;
            r->seed = cfg->seed + (cfg->vary_seed ? rep - 1 : 0);
            r->sim = sim;
            r->sim_page = sim && wl->swept && cfg->n_sim_pages ? cfg->sim_pages[sp] : 0;
            r->trace = wl->source == HL_BENCH_GEN
                           ? hl_bench_trace_path(cfg, wl->name, r->threads, r->seed)
                           : hl_bench_xstrdup(wl->path);
          }
  }
}

void hl_bench_plan_build(hl_bench_plan_t *plan, const hl_bench_config_t *cfg) {
  memset(plan, 0, sizeof *plan);
  plan->repeats = cfg->repeats;
  plan->page_sizes_swept = cfg->n_page_sizes > 1;
  size_t cells = 0, n_t = cfg->n_threads > cfg->n_sim_threads ? cfg->n_threads : cfg->n_sim_threads;
  for (size_t w = 0; w < cfg->n_workloads; w++)
    cells += (cfg->workloads[w].source == HL_BENCH_GEN ? n_t : 1) * cfg->n_page_sizes *
             (cfg->n_sim_pages ? cfg->n_sim_pages : 1) *
             cfg->allocs.n; /* an upper bound: allocators without the tunable run once */
  plan->runs = hl_bench_xmalloc(cells * 2 * cfg->repeats * sizeof *plan->runs + 1);
  /* Repeats outermost: slow drift of the machine (thermal, other tenants)
     then spreads over every allocator instead of favouring the first. */
  if (cfg->native)
    for (unsigned rep = 1; rep <= cfg->repeats; rep++) hl_bench_plan_pass(plan, cfg, rep, false);
  /* The simulator is deterministic: one simulated pass is all there is for
     one trace; with vary_seed every repeat has its own traces. */
  if (cfg->sim)
    for (unsigned rep = 1; rep <= (cfg->vary_seed ? cfg->repeats : 1); rep++)
      hl_bench_plan_pass(plan, cfg, rep, true);
}

static void hl_bench_run_clear(hl_bench_run_t *run) {
  hl_bench_strv_free(&run->col_names);
  hl_bench_strv_free(&run->col_values);
  run->replay_row = false;
  free(run->log);
  run->log = NULL;
}

void hl_bench_plan_free(hl_bench_plan_t *plan) {
  for (size_t i = 0; i < plan->n; i++) {
    hl_bench_run_t *r = &plan->runs[i];
    hl_bench_run_clear(r);
    free(r->workload);
    free(r->alloc);
    free(r->trace);
  }
  free(plan->runs);
  memset(plan, 0, sizeof *plan);
}

/* ---- outcomes ---- */

static void hl_bench_run_set(hl_bench_run_t *run, const char *name, const char *value) {
  long i = hl_bench_strv_find(&run->col_names, name);
  if (i >= 0) {
    free(run->col_values.v[i]);
    run->col_values.v[i] = value ? hl_bench_xstrdup(value) : NULL;
    return;
  }
  hl_bench_strv_push(&run->col_names, name);
  hl_bench_strv_push(&run->col_values, value);
}

const char *hl_bench_run_value(const hl_bench_run_t *run, const char *name) {
  long i = hl_bench_strv_find(&run->col_names, name);
  return i >= 0 ? run->col_values.v[i] : NULL;
}

void hl_bench_run_fail(hl_bench_run_t *run, const char *status) {
  hl_bench_run_clear(run);
  run->done = true;
  run->ok = false;
  /* What hlbench knows without hlreplay's word, so a failed row still
     lands in the right cell of any table or plot. */
  hl_bench_run_set(run, "allocator", run->alloc);
  hl_bench_run_set(run, "trace", run->trace);
  char num[32];
  if (run->source == HL_BENCH_GEN) {
    snprintf(num, sizeof num, "%u", run->threads);
    hl_bench_run_set(run, "threads", num);
  }
  snprintf(num, sizeof num, "%llu", (unsigned long long)run->page_size);
  hl_bench_run_set(run, "page_size_bytes", num);
  hl_bench_run_set(run, "status", status);
}

/* Parse hlreplay's stdout into the run's row. NULL on success, else why. */
static char *hl_bench_run_parse(hl_bench_run_t *run, const char *out, size_t len) {
  char why[256];
  hl_bench_csv_t csv;
  if (hl_bench_csv_parse(out, len, &csv, why, sizeof why) != 0)
    return hl_bench_xasprintf("cannot read hlreplay's CSV: %s", why);
  char *err = NULL;
  if (csv.n_rows != 2) {
    err = hl_bench_xasprintf("hlreplay printed %zu CSV lines, expected a header and one row",
                             csv.n_rows);
  } else if (csv.rows[0].n != csv.rows[1].n) {
    err = hl_bench_xasprintf("hlreplay's row has %zu fields but its header %zu", csv.rows[1].n,
                             csv.rows[0].n);
  } else {
    for (size_t i = 0; i < csv.rows[0].n && !err; i++) {
      const char *name = csv.rows[0].v[i];
      if (!*name) err = hl_bench_xasprintf("hlreplay's header has an empty column name");
      for (size_t j = 0; j < i && !err; j++)
        if (strcmp(csv.rows[0].v[j], name) == 0)
          err = hl_bench_xasprintf("hlreplay's header names column '%s' twice", name);
    }
  }
  if (!err) {
    run->replay_row = true;
    for (size_t i = 0; i < csv.rows[0].n; i++) {
      const char *v = csv.rows[1].v[i];
      hl_bench_strv_push(&run->col_names, csv.rows[0].v[i]);
      hl_bench_strv_push(&run->col_values, strcmp(v, "NA") == 0 ? NULL : v);
    }
  }
  hl_bench_csv_free(&csv);
  return err;
}

void hl_bench_run_record(hl_bench_run_t *run, const hl_bench_child_t *child) {
  hl_bench_run_clear(run);
  run->done = true;
  run->elapsed_s = child->elapsed_s;
  char *last = hl_bench_last_line(child->err, child->err_len);
  char *status = NULL;
  if (child->exit == HL_BENCH_EXITED && child->code == 0) {
    char *why = hl_bench_run_parse(run, child->out, child->out_len);
    if (!why) {
      /* An hlreplay without a status column says ok by exiting 0; one whose
         status is NA has not said ok. */
      if (hl_bench_strv_find(&run->col_names, "status") < 0) hl_bench_run_set(run, "status", "ok");
      /* a variant (NAME:OPTIONS) keeps its own name in every table */
      if (strchr(run->alloc, ':')) hl_bench_run_set(run, "allocator", run->alloc);
      const char *st = hl_bench_run_value(run, "status");
      run->ok = st && strncmp(st, "ok", 2) == 0;
      if (!run->ok) run->log = hl_bench_xstrndup(child->err, child->err_len);
      free(last);
      return;
    }
    status = hl_bench_xasprintf("error: %s", why);
    free(why);
  } else if (child->exit == HL_BENCH_TIMEOUT) {
    status = hl_bench_xasprintf("timeout: killed after %g s", child->timeout_s);
  } else if (child->exit == HL_BENCH_EXITED && *last) {
    status = hl_bench_xasprintf("error: %s", last);
  } else {
    char *what = hl_bench_child_describe(child);
    status = *last ? hl_bench_xasprintf("error: %s; last stderr line: %s", what, last)
                   : hl_bench_xasprintf("error: %s", what);
    free(what);
  }
  hl_bench_run_fail(run, status);
  char *what = hl_bench_child_describe(child);
  run->log = hl_bench_xasprintf(
      "%.*s%shlbench: hlreplay %s; recorded status: %s\n", (int)child->err_len, child->err,
      child->err_len && child->err[child->err_len - 1] != '\n' ? "\n" : "", what, status);
  free(what);
  free(status);
  free(last);
}

/* ---- bench.csv ---- */

/* hlreplay's columns as bench.csv names them: renamed when they would clash
   with hlbench's own leading columns. */
static const char *hl_bench_csv_name(const char *col, char *buf, size_t size) {
  for (size_t i = 0; i < HL_BENCH_OWN_COLS; i++)
    if (strcmp(col, hl_bench_own_cols[i]) == 0) {
      snprintf(buf, size, "replay_%s", col);
      return buf;
    }
  return col;
}

int hl_bench_write_csv(FILE *out, const hl_bench_plan_t *plan, const char *run_id) {
  /* The union of hlreplay's headers in first-seen order: every hlreplay of
     one build prints the same header, so this is simply its order; a run
     that failed contributes only columns already in it. */
  hl_bench_strv_t cols = {0};
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    if (!r->done || !r->replay_row) continue;
    for (size_t c = 0; c < r->col_names.n; c++)
      if (hl_bench_strv_find(&cols, r->col_names.v[c]) < 0)
        hl_bench_strv_push(&cols, r->col_names.v[c]);
  }
  if (cols.n == 0)
    for (int m = 0; m < HL_METRIC_COUNT; m++) hl_bench_strv_push(&cols, hl_metric_name(m));
  /* A failed run's own columns must have a place too. */
  for (size_t i = 0; i < plan->n; i++)
    for (size_t c = 0; c < plan->runs[i].col_names.n; c++)
      if (hl_bench_strv_find(&cols, plan->runs[i].col_names.v[c]) < 0)
        hl_bench_strv_push(&cols, plan->runs[i].col_names.v[c]);

  char buf[256];
  for (size_t i = 0; i < HL_BENCH_OWN_COLS; i++) {
    if (i) fputc(',', out);
    hl_csv_write_field(out, hl_bench_own_cols[i]);
  }
  for (size_t c = 0; c < cols.n; c++) {
    fputc(',', out);
    hl_csv_write_field(out, hl_bench_csv_name(cols.v[c], buf, sizeof buf));
  }
  fputc('\n', out);
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    if (!r->done) continue;
    hl_csv_write_field(out, run_id);
    fputc(',', out);
    hl_csv_write_field(out, r->workload);
    fprintf(out, ",%u,%s,", r->repeat, r->sim ? "sim" : "native");
    if (r->source == HL_BENCH_GEN)
      fprintf(out, "%llu", (unsigned long long)r->seed);
    else
      fputs("NA", out); /* a recorded trace has no seed */
    for (size_t c = 0; c < cols.n; c++) {
      const char *v = hl_bench_run_value(r, cols.v[c]);
      fputc(',', out);
      hl_csv_write_field(out, v ? v : "NA");
    }
    fputc('\n', out);
  }
  hl_bench_strv_free(&cols);
  return ferror(out) ? -1 : 0;
}
