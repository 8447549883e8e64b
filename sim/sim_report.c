/* ----------------------------------------------------------------------------
  sim/sim_report.c: what the simulator prints: a text report (config, per-core
  and total counters, hottest lines) and the same counters as CSV.

  Output depends only on the simulator's state: fixed column order, integer
  counts, ties in the hot-line ranking broken by address, so two runs of the
  same input are byte-identical.
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <inttypes.h>
#include <stdlib.h>

static const char *sim_policy_name(sim_policy_t p) {
  return p == SIM_POLICY_LRU ? "lru" : "plru";
}

static void sim_size_text(uint64_t v, char *buf, size_t len) {
  if (v >= (UINT64_C(1) << 30) && v % (UINT64_C(1) << 30) == 0)
    snprintf(buf, len, "%" PRIu64 "G", v >> 30);
  else if (v >= (UINT64_C(1) << 20) && v % (UINT64_C(1) << 20) == 0)
    snprintf(buf, len, "%" PRIu64 "M", v >> 20);
  else if (v >= 1024 && v % 1024 == 0)
    snprintf(buf, len, "%" PRIu64 "K", v >> 10);
  else
    snprintf(buf, len, "%" PRIu64, v);
}

static int sim_hot_cmp(const void *a, const void *b) {
  const sim_hotline_t *x = a, *y = b;
  if (x->transfers != y->transfers) return x->transfers > y->transfers ? -1 : 1;
  if (x->invalidations != y->invalidations) return x->invalidations > y->invalidations ? -1 : 1;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Line d's counters as of now; false when they are all 0. */
static bool sim_hot_line_of(const sim_t *s, const sim_line_t *d, sim_hotline_t *h) {
  *h = sim_line_counts_now(s, d);
  return (h->transfers | h->clean_forwards | h->true_sharing | h->false_sharing | h->alloc_reuse |
          h->invalidations) != 0;
}

size_t sim_hot_lines(const sim_t *s, sim_hotline_t *out, size_t n) {
  if (n == 0) return 0;
  /* keep the n best in `out`, sorted; simple insertion (n is small) */
  size_t have = 0;
  for (uint32_t i = 0; i < s->ndir; i++) {
    const sim_line_t *d = sim_dir_at(s, i);
    sim_hotline_t h;
    if (!sim_hot_line_of(s, d, &h)) continue;
    if (have == n && sim_hot_cmp(&h, &out[n - 1]) >= 0) continue;
    size_t j = have < n ? have++ : n - 1;
    while (j > 0 && sim_hot_cmp(&h, &out[j - 1]) < 0) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = h;
  }
  return have;
}

static void sim_describe(const sim_t *s, FILE *out) {
  const sim_config_t *c = &s->cfg;
  char a[32], b[32], d[32], p[32];
  sim_size_text(c->l1d.size, a, sizeof(a));
  sim_size_text(c->l2.size, b, sizeof(b));
  sim_size_text(c->llc.size, d, sizeof(d));
  sim_size_text(sim_page_bytes(c->page), p, sizeof(p));
  fprintf(out, "config %s: %u cores, %u-byte lines, %s pages\n", c->name, c->cores, c->line, p);
  fprintf(out,
          "  private L1D %s %u-way %s, L2 %s %u-way %s (inclusive of L1D); shared LLC %s %u-way "
          "%s (non-inclusive); MESI directory\n",
          a, c->l1d.ways, sim_policy_name(c->l1d.policy), b, c->l2.ways,
          sim_policy_name(c->l2.policy), d, c->llc.ways, sim_policy_name(c->llc.policy));
  const sim_tlb_config_t *dt = &c->dtlb[c->page], *st = &c->stlb[c->page];
  fprintf(out, "  dTLB %u entries %u-way, STLB %u entries %u-way (LRU)\n", dt->entries, dt->ways,
          st->entries, st->ways);
  fprintf(out, "  prefetch: L1D ");
  if (c->l1d_prefetch.kind == SIM_PREFETCH_OFF)
    fprintf(out, "off");
  else
    fprintf(out, "next-line degree %u", c->l1d_prefetch.degree);
  fprintf(out, ", L2 ");
  if (c->l2_prefetch.kind == SIM_PREFETCH_OFF)
    fprintf(out, "off");
  else
    fprintf(out, "stream %u streams degree %u distance %u", c->l2_prefetch.streams,
            c->l2_prefetch.degree, c->l2_prefetch.distance);
  if (c->phys)
    fprintf(out, "; physical mapping %u bits seed %llu\n", c->phys_bits,
            (unsigned long long)c->phys_seed);
  else
    fprintf(out, "; physical = virtual\n");
}

/* clang-format off */
#define SIM_FIELDS(X)                                                                              \
  X(accesses) X(reads) X(writes) X(l1d_accesses) X(l1d_misses) X(l2_misses) X(llc_accesses)        \
  X(llc_misses) X(dtlb_accesses) X(dtlb_misses) X(stlb_misses) X(walks) X(transfers)               \
  X(clean_forwards) X(cold) X(true_sharing) X(false_sharing) X(alloc_reuse) X(replacement)         \
  X(invalidations) X(writebacks) X(mem_writebacks) X(l1d_pf_issued) X(l1d_pf_useful)               \
  X(l1d_pf_useless) X(l2_pf_issued) X(l2_pf_useful) X(l2_pf_useless)
/* clang-format on */

static void sim_row(FILE *out, const char *label, const sim_stats_t *st, char sep, bool text) {
  if (text)
    fprintf(out, "%-6s", label);
  else
    fprintf(out, "%s", label);
#define X(f)                                                                                       \
  if (text)                                                                                        \
    fprintf(out, " %*" PRIu64, (int)(strlen(#f) > 10 ? strlen(#f) : 10), st->f);                   \
  else                                                                                             \
    fprintf(out, "%c%" PRIu64, sep, st->f);
  SIM_FIELDS(X)
#undef X
  fputc('\n', out);
}

/* One row per core, then the total: shared by the text and CSV reports. */
static void sim_rows(const sim_t *s, FILE *out, char sep, bool pad) {
  sim_stats_t st;
  char label[16];
  for (uint32_t i = 0; i < s->ncores; i++) {
    sim_stats(s, (int)i, &st);
    snprintf(label, sizeof(label), "%u", i);
    sim_row(out, label, &st, sep, pad);
  }
  sim_stats(s, -1, &st);
  sim_row(out, "total", &st, sep, pad);
}

void sim_report(const sim_t *s, FILE *out, size_t top) {
  assert(sim_is_valid(s));
  sim_describe(s, out);
  fprintf(out, "%-6s", "core");
#define X(f) fprintf(out, " %*s", (int)(strlen(#f) > 10 ? strlen(#f) : 10), #f);
  SIM_FIELDS(X)
#undef X
  fputc('\n', out);
  sim_rows(s, out, ' ', true);
  if (top == 0) return;
  sim_hotline_t *hot = calloc(top, sizeof(*hot));
  if (hot == NULL) return;
  size_t n = sim_hot_lines(s, hot, top);
  fprintf(out, "hottest lines (by cache-to-cache transfers): %zu shown\n", n);
  if (n > 0)
    fprintf(out, "  %18s %10s %10s %10s %10s %10s %13s\n", "line", "transfers", "clean", "true",
            "false", "reuse", "invalidations");
  for (size_t i = 0; i < n; i++) {
    fprintf(out,
            "  0x%016" PRIx64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %10" PRIu64
            " %13" PRIu64 "\n",
            hot[i].addr, hot[i].transfers, hot[i].clean_forwards, hot[i].true_sharing,
            hot[i].false_sharing, hot[i].alloc_reuse, hot[i].invalidations);
  }
  free(hot);
}

void sim_report_csv(const sim_t *s, FILE *out) {
  assert(sim_is_valid(s));
  fprintf(out, "core");
#define X(f) fprintf(out, ",%s", #f);
  SIM_FIELDS(X)
#undef X
  fputc('\n', out);
  sim_rows(s, out, ',', false);
}

static int sim_addr_cmp(const void *a, const void *b) {
  const sim_hotline_t *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int sim_report_lines_csv(const sim_t *s, FILE *out) {
  assert(sim_is_valid(s));
  sim_hotline_t *rows = malloc((s->ndir ? s->ndir : 1) * sizeof(*rows));
  if (rows == NULL) return -1;
  size_t n = 0;
  for (uint32_t i = 0; i < s->ndir; i++)
    if (sim_hot_line_of(s, sim_dir_at(s, i), &rows[n])) n++;
  qsort(rows, n, sizeof(*rows), sim_addr_cmp);
  fprintf(out,
          "line,transfers,clean_forwards,true_sharing,false_sharing,alloc_reuse,invalidations\n");
  for (size_t i = 0; i < n; i++)
    fprintf(out,
            "0x%" PRIx64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
            "\n",
            rows[i].addr, rows[i].transfers, rows[i].clean_forwards, rows[i].true_sharing,
            rows[i].false_sharing, rows[i].alloc_reuse, rows[i].invalidations);
  free(rows);
  return 0;
}
