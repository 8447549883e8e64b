/* ----------------------------------------------------------------------------
  harness/bench_summary.c: the table hlbench prints at the end of a run (and
  keeps as summary.txt).

  One block per workload and thread count (and page size when swept), one
  line per allocator: medians over the repeats that succeeded, the spread
  (min..max), and ratios to the `system` (glibc) allocator of the same
  block. Medians, not means: one disturbed repeat must not move the number.
  NA stays NA: a ratio with an NA side is NA, never 0 or infinity. Then,
  when the run had a simulated pass, the same blocks for it: what the
  simulator saw of each allocator (sim_capture) and its counts per 1000
  trace events.
  The columns are documented in harness/BENCH.md.
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
  HL_BENCH_COL_ALLOC,
  HL_BENCH_COL_RUNS,
  HL_BENCH_COL_WALL,
  HL_BENCH_COL_SPREAD,
  HL_BENCH_COL_WALL_RATIO,
  HL_BENCH_COL_EVENTS,
  HL_BENCH_COL_RSS,
  HL_BENCH_COL_RSS_RATIO,
  HL_BENCH_COL_SERVED,
  HL_BENCH_NCOLS
};

static const char *const hl_bench_headers[HL_BENCH_NCOLS] = {
    "allocator",   "ok/runs",          "wall_s median",         "wall_s min..max",
    "wall/system", "Mevents/s median", "RSS growth MiB median", "RSS/system",
    "served_by"};

/* A table of counts from one run per cell: each column a bench.csv column
   as it is (per NULL), per 1000 trace events (per "kev"), or divided by
   another column of the same run (per that column's name). */
typedef struct hl_bench_count_col_s {
  const char *header, *column, *per; /* column NULL: the allocator's name */
} hl_bench_count_col_t;

typedef struct hl_bench_counts_s {
  const hl_bench_count_col_t *cols;
  size_t ncols;
  bool sim;          /* the simulated pass's runs, else the native ones */
  const char *needs; /* a row only where this column was measured (NULL: every row) */
} hl_bench_counts_t;

/* The simulated pass: what was seen, then counts per 1000 events. */
static const hl_bench_count_col_t hl_bench_sim_cols[] = {
    {"allocator", NULL, NULL},
    {"capture", "sim_capture", NULL},
    {"app accesses", "sim_app_accesses", NULL},
    {"allocator accesses", "sim_alloc_accesses", NULL},
    {"L1D miss/kev", "sim_l1d_misses", "kev"},
    {"LLC miss/kev", "sim_llc_misses", "kev"},
    {"dTLB miss/kev", "sim_dtlb_misses", "kev"},
    {"transfers/kev", "sim_transfers", "kev"},
    {"true sharing/kev", "sim_true_sharing", "kev"},
    {"false sharing/kev", "sim_false_sharing", "kev"},
    {"alloc reuse/kev", "sim_alloc_reuse", "kev"},
    {"writebacks/kev", "sim_writebacks", "kev"},
};
static const hl_bench_counts_t hl_bench_sim_counts = {
    hl_bench_sim_cols, sizeof hl_bench_sim_cols / sizeof hl_bench_sim_cols[0], true, NULL};

/* Where a moving allocator's work goes (ravioli, the stable heap): its own
   counters from the first native run of each cell. */
static const hl_bench_count_col_t hl_bench_move_cols[] = {
    {"allocator", NULL, NULL},
    {"remote free", "remote_free", NULL},
    {"moves/kev", "alloc_moves", "kev"},
    {"fixups/kev", "alloc_fixups", "kev"},
    {"cells/object", "alloc_cells_allocated", "objects"},
    {"messages/kev", "alloc_messages", "kev"},
    {"free requests/kev", "alloc_free_requests", "kev"},
    {"transfer pages/kev", "alloc_transfer_pages", "kev"},
    {"handed in place", "alloc_pages_handed", "alloc_transfer_pages"},
    {"copied KiB/kev", "alloc_transfer_bytes", "kev/KiB"},
    {"lines/access", "alloc_access_lines", "alloc_accesses"},
    {"pages/access", "alloc_access_pages", "alloc_accesses"},
};
static const hl_bench_counts_t hl_bench_move_counts = {
    hl_bench_move_cols, sizeof hl_bench_move_cols / sizeof hl_bench_move_cols[0], false,
    "alloc_fixups"}; /* arena and unit report moves (none), only movers fix pointers */

/* A line of a table: a block title (title != NULL) or a row of cells. */
typedef struct hl_bench_line_s {
  char *title;
  char **cell;
} hl_bench_line_t;

typedef struct hl_bench_table_s {
  hl_bench_line_t *lines;
  size_t n, ncols;
} hl_bench_table_t;

static hl_bench_line_t *hl_bench_table_add(hl_bench_table_t *t) {
  t->lines = hl_bench_xrealloc(t->lines, (t->n + 1) * sizeof *t->lines);
  hl_bench_line_t *l = &t->lines[t->n++];
  memset(l, 0, sizeof *l);
  l->cell = hl_bench_xmalloc(t->ncols * sizeof *l->cell);
  memset(l->cell, 0, t->ncols * sizeof *l->cell);
  return l;
}

/* Print the table, columns padded to their widest cell, and free it. */
static void hl_bench_table_print(FILE *out, hl_bench_table_t *tab) {
  size_t *width = hl_bench_xmalloc(tab->ncols * sizeof *width);
  memset(width, 0, tab->ncols * sizeof *width);
  for (size_t i = 0; i < tab->n; i++)
    for (size_t c = 0; c < tab->ncols && !tab->lines[i].title; c++)
      if (strlen(tab->lines[i].cell[c]) > width[c]) width[c] = strlen(tab->lines[i].cell[c]);
  for (size_t i = 0; i < tab->n; i++) {
    hl_bench_line_t *l = &tab->lines[i];
    if (l->title) {
      fprintf(out, "%s== %s ==\n", i ? "\n" : "", l->title);
      free(l->title);
    } else {
      for (size_t c = 0; c < tab->ncols; c++) {
        /* The last column is free text: no trailing padding. */
        if (c + 1 == tab->ncols)
          fprintf(out, "%s\n", l->cell[c]);
        else
          fprintf(out, "%-*s  ", (int)width[c], l->cell[c]);
        free(l->cell[c]);
      }
    }
    free(l->cell);
  }
  free(tab->lines);
  free(width);
  tab->lines = NULL, tab->n = 0;
}

static int hl_bench_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct hl_bench_stat_s {
  double median, min, max;
} hl_bench_stat_t;

/* Sorts v in place. All NaN when n == 0. */
static hl_bench_stat_t hl_bench_stat(double *v, size_t n) {
  hl_bench_stat_t s = {NAN, NAN, NAN};
  if (n == 0) return s;
  qsort(v, n, sizeof *v, hl_bench_cmp_double);
  s.min = v[0];
  s.max = v[n - 1];
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

static double hl_bench_ratio(double x, double base) {
  /* A ratio to nothing (or to no growth at all) is not a number. */
  return isnan(x) || isnan(base) || base <= 0 ? NAN : x / base;
}

static char *hl_bench_fmt(double x) {
  char buf[64];
  hl_bench_fmt_num(buf, sizeof buf, x);
  return hl_bench_xstrdup(buf);
}

static char *hl_bench_fmt_ratio(double x) {
  return isnan(x) ? hl_bench_xstrdup("NA") : hl_bench_xasprintf("%.2f", x);
}

/* One line of the table for a cell of the matrix, its medians returned for
   the ratios. */
typedef struct hl_bench_cell_s {
  size_t ok, total;
  hl_bench_stat_t wall, events, rss;
  hl_bench_strv_t served;
} hl_bench_cell_t;

/* Whether run `r` is in the cell (w, t, p, a; a NULL: any allocator) of the
   native blocks (sim false: simulated runs are timed by no real clock) or of
   the simulated pass's (sim true). */
static bool hl_bench_in_group(const hl_bench_run_t *r, const char *w, unsigned t, uint64_t p,
                              uint64_t sim_page, const char *a, bool sim) {
  return r->done && r->sim == sim && strcmp(r->workload, w) == 0 && r->threads == t &&
         r->page_size == p && r->sim_page == sim_page && (!a || strcmp(r->alloc, a) == 0);
}

static void hl_bench_cell(const hl_bench_plan_t *plan, const char *w, unsigned t, uint64_t p,
                          const char *a, hl_bench_cell_t *c) {
  memset(c, 0, sizeof *c);
  double *wall = hl_bench_xmalloc(plan->n * sizeof *wall);
  double *ev = hl_bench_xmalloc(plan->n * sizeof *ev);
  double *rss = hl_bench_xmalloc(plan->n * sizeof *rss);
  size_t nw = 0, ne = 0, nr = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    if (!hl_bench_in_group(r, w, t, p, 0, a, false)) continue;
    c->total++;
    if (!r->ok) continue;
    c->ok++;
    double x = hl_bench_parse_num(hl_bench_run_value(r, "wall_s"));
    if (!isnan(x)) wall[nw++] = x;
    x = hl_bench_parse_num(hl_bench_run_value(r, "events_per_s"));
    if (!isnan(x)) ev[ne++] = x / 1e6;
    /* Growth per run, then the median: the median of differences, not the
       difference of medians. */
    x = hl_bench_parse_num(hl_bench_run_value(r, "peak_rss_kib")) -
        hl_bench_parse_num(hl_bench_run_value(r, "rss_before_kib"));
    if (!isnan(x)) rss[nr++] = x / 1024;
    const char *s = hl_bench_run_value(r, "served_by");
    if (s && hl_bench_strv_find(&c->served, s) < 0) hl_bench_strv_push(&c->served, s);
  }
  c->wall = hl_bench_stat(wall, nw);
  c->events = hl_bench_stat(ev, ne);
  c->rss = hl_bench_stat(rss, nr);
  free(wall);
  free(ev);
  free(rss);
}

/* A file workload's thread count comes from the trace, so from the rows. */
static char *hl_bench_traced_threads(const hl_bench_plan_t *plan, const char *w, uint64_t p) {
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    const char *v =
        hl_bench_in_group(r, w, 0, p, 0, NULL, false) ? hl_bench_run_value(r, "threads") : NULL;
    if (v) return hl_bench_xstrdup(v);
  }
  return hl_bench_xstrdup("NA");
}

/* The title line of the block that `first` opens. */
static void hl_bench_block_title(hl_bench_table_t *tab, const hl_bench_plan_t *plan,
                                 const hl_bench_run_t *first) {
  const char *w = first->workload;
  unsigned t = first->threads;
  uint64_t p = first->page_size;
  char page[64] = "";
  if (plan->page_sizes_swept) {
    if (p)
      snprintf(page, sizeof page, ", page size %llu bytes", (unsigned long long)p);
    else
      snprintf(page, sizeof page, ", page size allocator default");
  }
  if (first->sim_page) {
    size_t len = strlen(page);
    snprintf(page + len, sizeof page - len, ", simulated pages %s",
             hl_bench_sim_page_name(first->sim_page));
  }
  hl_bench_line_t *title = hl_bench_table_add(tab);
  if (first->source == HL_BENCH_GEN) {
    title->title = hl_bench_xasprintf("%s, threads %u%s", w, t, page);
  } else {
    char *traced = hl_bench_traced_threads(plan, w, p);
    title->title = hl_bench_xasprintf("%s (recorded trace), threads %s%s", w, traced, page);
    free(traced);
  }
}

static void hl_bench_block(hl_bench_table_t *tab, const hl_bench_plan_t *plan,
                           const hl_bench_strv_t *allocs, const hl_bench_run_t *first) {
  const char *w = first->workload;
  unsigned t = first->threads;
  uint64_t p = first->page_size;
  bool any = false; /* a cell of the simulated pass alone (native = no, sim_threads) has none */
  for (size_t i = 0; i < plan->n && !any; i++)
    any = hl_bench_in_group(&plan->runs[i], w, t, p, 0, NULL, false);
  if (!any) return;
  hl_bench_block_title(tab, plan, first);
  hl_bench_line_t *head = hl_bench_table_add(tab);
  for (int c = 0; c < HL_BENCH_NCOLS; c++) head->cell[c] = hl_bench_xstrdup(hl_bench_headers[c]);

  hl_bench_cell_t base;
  hl_bench_cell(plan, w, t, p, "system", &base);
  for (size_t a = 0; a < allocs->n; a++) {
    hl_bench_cell_t c;
    hl_bench_cell(plan, w, t, p, allocs->v[a], &c);
    if (c.total == 0) {
      hl_bench_strv_free(&c.served);
      continue;
    }
    hl_bench_line_t *l = hl_bench_table_add(tab);
    l->cell[HL_BENCH_COL_ALLOC] = strcmp(allocs->v[a], "null") == 0
                                      ? hl_bench_xstrdup("null (harness floor)")
                                      : hl_bench_xstrdup(allocs->v[a]);
    l->cell[HL_BENCH_COL_RUNS] = hl_bench_xasprintf("%zu/%zu", c.ok, c.total);
    l->cell[HL_BENCH_COL_WALL] = hl_bench_fmt(c.wall.median);
    if (isnan(c.wall.min)) {
      l->cell[HL_BENCH_COL_SPREAD] = hl_bench_xstrdup("NA");
    } else {
      char lo[64], hi[64];
      hl_bench_fmt_num(lo, sizeof lo, c.wall.min);
      hl_bench_fmt_num(hi, sizeof hi, c.wall.max);
      l->cell[HL_BENCH_COL_SPREAD] = hl_bench_xasprintf("%s..%s", lo, hi);
    }
    l->cell[HL_BENCH_COL_WALL_RATIO] =
        hl_bench_fmt_ratio(hl_bench_ratio(c.wall.median, base.wall.median));
    l->cell[HL_BENCH_COL_EVENTS] = hl_bench_fmt(c.events.median);
    l->cell[HL_BENCH_COL_RSS] = hl_bench_fmt(c.rss.median);
    l->cell[HL_BENCH_COL_RSS_RATIO] =
        hl_bench_fmt_ratio(hl_bench_ratio(c.rss.median, base.rss.median));
    if (c.served.n == 0) {
      l->cell[HL_BENCH_COL_SERVED] = hl_bench_xstrdup("NA");
    } else {
      /* Distinct values joined: a preload that only sometimes took shows. */
      size_t len = 1;
      for (size_t s = 0; s < c.served.n; s++) len += strlen(c.served.v[s]) + 3;
      char *joined = hl_bench_xmalloc(len);
      joined[0] = '\0';
      for (size_t s = 0; s < c.served.n; s++) {
        if (s) strcat(joined, " | ");
        strcat(joined, c.served.v[s]);
      }
      l->cell[HL_BENCH_COL_SERVED] = joined;
    }
    hl_bench_strv_free(&c.served);
  }
  hl_bench_strv_free(&base.served);
}

/* The block of `spec` for the cell of `first`: one row per allocator from
   its first ok run of the kind (the simulated pass is deterministic, one run
   per cell). False when there is none. */
static bool hl_bench_counts_block(hl_bench_table_t *tab, const hl_bench_plan_t *plan,
                                  const hl_bench_strv_t *allocs, const hl_bench_run_t *first,
                                  const hl_bench_counts_t *spec) {
  bool titled = false;
  for (size_t a = 0; a < allocs->n; a++) {
    const hl_bench_run_t *run = NULL;
    for (size_t i = 0; i < plan->n && !run; i++) {
      const hl_bench_run_t *r = &plan->runs[i];
      if (r->ok && hl_bench_in_group(r, first->workload, first->threads, first->page_size,
                                     first->sim_page, allocs->v[a], spec->sim))
        run = r;
    }
    if (!run || (spec->needs && isnan(hl_bench_parse_num(hl_bench_run_value(run, spec->needs)))))
      continue;
    if (!titled) {
      hl_bench_block_title(tab, plan, first);
      hl_bench_line_t *head = hl_bench_table_add(tab);
      for (size_t c = 0; c < spec->ncols; c++)
        head->cell[c] = hl_bench_xstrdup(spec->cols[c].header);
      titled = true;
    }
    hl_bench_line_t *l = hl_bench_table_add(tab);
    double events = hl_bench_parse_num(hl_bench_run_value(run, "events"));
    for (size_t c = 0; c < spec->ncols; c++) {
      const hl_bench_count_col_t *col = &spec->cols[c];
      const char *v = col->column ? hl_bench_run_value(run, col->column) : run->alloc;
      if (col->per == NULL) {
        l->cell[c] = hl_bench_xstrdup(v ? v : "NA");
        continue;
      }
      double x = hl_bench_parse_num(v), base;
      if (strncmp(col->per, "kev", 3) == 0) /* "kev/KiB": also bytes to KiB */
        base = events / 1000 * (col->per[3] ? 1024 : 1);
      else
        base = hl_bench_parse_num(hl_bench_run_value(run, col->per));
      l->cell[c] = hl_bench_fmt(isnan(x) || !(base > 0) ? NAN : x / base);
    }
  }
  return titled;
}

/* Whether the simulated pass ran more than one repeat (vary_seed). */
static bool hl_bench_sim_repeats(const hl_bench_plan_t *plan) {
  for (size_t i = 0; i < plan->n; i++)
    if (plan->runs[i].sim && plan->runs[i].repeat > 1) return true;
  return false;
}

size_t hl_bench_failed_count(const hl_bench_plan_t *plan) {
  size_t n = 0;
  for (size_t i = 0; i < plan->n; i++) n += plan->runs[i].done && !plan->runs[i].ok;
  return n;
}

/* Status text on one line, whatever hlreplay put in it. */
static void hl_bench_put_oneline(FILE *out, const char *s) {
  if (!s) s = "NA";
  for (; *s; s++) fputc(*s == '\n' || *s == '\r' ? ' ' : *s, out);
}

void hl_bench_write_summary(FILE *out, const hl_bench_plan_t *plan) {
  hl_bench_strv_t allocs = {0};
  for (size_t i = 0; i < plan->n; i++)
    if (hl_bench_strv_find(&allocs, plan->runs[i].alloc) < 0)
      hl_bench_strv_push(&allocs, plan->runs[i].alloc);

  /* Blocks in plan order: the first run of each (workload, threads, page
     size) opens it. Repeat 1 comes first in the plan, so this is config
     order. */
  hl_bench_table_t tab = {.ncols = HL_BENCH_NCOLS}, sim = {.ncols = hl_bench_sim_counts.ncols},
                   moves = {.ncols = hl_bench_move_counts.ncols};
  bool any_sim = false, any_moves = false;
  for (size_t i = 0; i < plan->n; i++) {
    const hl_bench_run_t *r = &plan->runs[i];
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++)
      seen = strcmp(plan->runs[j].workload, r->workload) == 0 &&
             plan->runs[j].threads == r->threads && plan->runs[j].page_size == r->page_size &&
             plan->runs[j].sim_page == r->sim_page;
    if (seen) continue;
    hl_bench_block(&tab, plan, &allocs, r);
    any_moves |= hl_bench_counts_block(&moves, plan, &allocs, r, &hl_bench_move_counts);
    any_sim |= hl_bench_counts_block(&sim, plan, &allocs, r, &hl_bench_sim_counts);
  }
  if (tab.n) {
    hl_bench_table_print(out, &tab);
    fprintf(out,
            "\nwall_s: hlreplay's replay-loop wall-clock in seconds, median over the ok "
            "repeats, min..max its spread.\n"
            "Mevents/s: trace events replayed per second / 1e6. RSS growth: peak_rss_kib - "
            "rss_before_kib, in MiB.\n"
            "wall/system, RSS/system: ratios of medians to the system (glibc) allocator of the "
            "same block. NA: not measured, or a ratio with an NA (or zero) side.\n"
            "null (harness floor): a do-nothing allocator, the cost of the harness itself.\n");
  } else {
    free(tab.lines);
  }
  if (any_moves) {
    fprintf(out, "\n==== where a moving allocator's work goes (its own counters, first native "
                 "run per cell) ====\n\n");
    hl_bench_table_print(out, &moves);
    fprintf(out, "\n/kev: per 1000 trace events. cells/object: cells built per object the trace "
                 "allocates. handed in place: the share of\ntransfer pages that were heap pages "
                 "handed over whole instead of filled by copying. copied KiB: bytes copied into\n"
                 "transfer pages. lines/access, pages/access: 64-byte lines and 4 KiB pages one "
                 "read or write of an object enters.\n");
  } else {
    free(moves.lines);
  }
  if (any_sim) {
    fprintf(out,
            "\n==== simulated pass (hlreplay --sim; deterministic, one run per cell%s) ====\n\n",
            plan->repeats > 1 && hl_bench_sim_repeats(plan) ? ": repeat 1, the first seed" : "");
    hl_bench_table_print(out, &sim);
    fprintf(out, "\ncapture: full, the simulator saw the allocator's own loads and stores too; "
                 "placement, only the application's\naccesses at the addresses it chose (glibc's "
                 "malloc, or a library that is not a capture build): compare with care.\n"
                 "/kev: per 1000 trace events. Counts summed over the simulated cores.\n");
  } else {
    free(sim.lines);
  }

  size_t failed = hl_bench_failed_count(plan);
  if (failed) {
    fprintf(out, "\n%zu of %zu runs failed:\n", failed, plan->n);
    int digits = snprintf(NULL, 0, "%zu", plan->n);
    for (size_t i = 0; i < plan->n; i++) {
      const hl_bench_run_t *r = &plan->runs[i];
      if (!r->done || r->ok) continue;
      fprintf(out, "  [%*zu] %s ", digits, r->index + 1, r->workload);
      if (r->source == HL_BENCH_GEN) fprintf(out, "t=%u ", r->threads);
      if (plan->page_sizes_swept) fprintf(out, "page=%llu ", (unsigned long long)r->page_size);
      fprintf(out, "%s rep %u/%u: ", r->alloc, r->repeat, plan->repeats);
      hl_bench_put_oneline(out, hl_bench_run_value(r, "status"));
      fputc('\n', out);
    }
  }
  hl_bench_strv_free(&allocs);
}
