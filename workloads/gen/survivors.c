/* ----------------------------------------------------------------------------
  workloads/gen/survivors.c: the `survivors` model (a fragmented heap that is
  then mostly read).

  Each thread allocates many objects of mixed sizes, frees a random large
  fraction of them (holes everywhere for an allocator that never moves an
  object), then makes many read passes over the survivors, with a little
  churn (a free and an alloc) between passes. A non-moving allocator reads
  the survivors where they were placed, spread over pages that are mostly
  holes; a compacting one has packed them: fewer pages, more useful bytes
  per cache line. This is the case where compaction should pay.

  heaplab's own model. Its shape follows the fragmentation studies that
  motivate compacting allocators for C: a heap left sparse by random frees
  and then used (Mesh, PLDI 2019), and Johnstone & Wilson's observation that
  fragmentation comes from objects of different lifetimes mixed in memory.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

extern const hl_gen_model_t hl_gen_survivors; /* gen.c's table */

static int sv_main(int argc, char **argv);

const hl_gen_model_t hl_gen_survivors = {
    .name = "survivors",
    .summary = "each thread fragments its heap (random frees), then reads the survivors "
               "over and over",
    .reference = "heaplab's own; the pattern is that of B. Powers, D. Tench, E. D. Berger, "
                 "A. McGregor, \"Mesh: Compacting Memory Management for C/C++ "
                 "Applications\", PLDI 2019, and M. S. Johnstone, P. R. Wilson, \"The "
                 "Memory Fragmentation Problem: Solved?\", ISMM 1998",
    .main = sv_main,
};

enum { SV_OBJECTS, SV_FREE_PERCENT, SV_PASSES, SV_CHURN, SV_ORDER, SV_NPARAMS };

static const gen_param_t sv_params[SV_NPARAMS] = {
    [SV_OBJECTS] = {"objects", 100000, 1, GEN_MAX_COUNT, "objects each thread allocates first"},
    [SV_FREE_PERCENT] = {"free-percent", 90, 0, 99,
                         "percent of them freed at random (F = floor(N*P/100)),\n"
                         "leaving S = N - F survivors"},
    [SV_PASSES] = {"passes", 20, 1, GEN_MAX_COUNT, "read passes over the survivors"},
    [SV_CHURN] = {"churn", 100, 0, GEN_MAX_COUNT,
                  "between two passes: this many times, free a random\n"
                  "survivor and malloc a new object in its place"},
    [SV_ORDER] = {"order", 1, 0, 1,
                  "pass order: 1 = a new random permutation of the survivors\n"
                  "each pass; 0 = the survivor table in order (allocation\n"
                  "order, a replaced survivor keeping its place)"},
};

static const gen_spec_t sv_spec = {
    .model = &hl_gen_survivors,
    .description = "Each thread, on its own objects (no object crosses threads):\n"
                   "  allocate: malloc objects 0..N-1 (sizes from --sizes), WRITE each whole;\n"
                   "  fragment: free F = floor(N*P/100) of them, chosen at random, in random\n"
                   "    order; the S = N - F survivors form the survivor table (allocation\n"
                   "    order);\n"
                   "  read: --passes passes, each a READ of every survivor whole (in random\n"
                   "    order, or table order with --order 0); between two passes --churn\n"
                   "    times: free a random survivor, malloc a new object (a new size), WRITE\n"
                   "    it whole, and put it in the freed one's place in the table;\n"
                   "  end: free the survivors in table order.\n",
    .threads_default = 1,
    .threads_help = "threads, each with its own heap of objects",
    .params = sv_params,
    .nparams = SV_NPARAMS,
    .notes = "Trace (T threads, N objects, P free-percent, F = floor(N*P/100), S = N - F,\n"
             "W passes, C churn):\n"
             "  allocs = frees = writes = T*(N + C*(W-1)); reads = T*S*W\n"
             "  events = T*(3*(N + C*(W-1)) + S*W) + 2T\n"
             "  cross-thread frees: none; live bytes at the end: 0\n"
             "  a step is one malloc (+ write), one free, one read, or one churn\n"
             "  (free + malloc + write)\n",
    .sizes_default = "uniform:16:256",
    .sizes_help = "the sizes of the first objects and of the churn's new ones (0 is\n"
                  "raised to 1)",
};

typedef enum sv_phase_e { SV_ALLOC, SV_FRAGMENT, SV_READ, SV_CHURN_STEP, SV_FREE } sv_phase_t;

typedef struct sv_thread_s {
  sv_phase_t phase;
  uint64_t i, pass;
  uint64_t *ids;  /* object k at ids[k]; after fragmenting, the survivor table */
  uint64_t *size; /* ... and its size */
  uint64_t *perm; /* a permutation of 0..N-1 (the frees), then of 0..S-1 (a pass) */
  gen_rng_t rng;  /* sizes, the victims, pass orders */
} sv_thread_t;

typedef struct sv_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint64_t n, f, s, passes, churn;
  bool random_order;
  sv_thread_t *th;
} sv_model_t;

/* Fisher-Yates over p[0..n-1] (a fresh random order). */
static void sv_shuffle(uint64_t *p, uint64_t n, gen_rng_t *r) {
  for (uint64_t i = n; i > 1; i--) {
    uint64_t j = gen_rng_below(r, i), x = p[i - 1];
    p[i - 1] = p[j];
    p[j] = x;
  }
}

static uint64_t sv_new(sv_model_t *m, sv_thread_t *th, uint32_t t, uint64_t k) {
  uint64_t size = gen_sizes_sample(m->sizes, &th->rng);
  th->size[k] = size ? size : 1;
  th->ids[k] = gen_emit_alloc(m->e, t, th->size[k]);
  gen_emit_write(m->e, t, th->ids[k], 0, th->size[k]); /* so the reads read something */
  return th->ids[k];
}

/* A new pass: its order (identity or a fresh permutation of the table). */
static void sv_begin_pass(sv_model_t *m, sv_thread_t *th) {
  for (uint64_t k = 0; k < m->s; k++) th->perm[k] = k;
  if (m->random_order) sv_shuffle(th->perm, m->s, &th->rng);
  th->phase = SV_READ;
  th->i = 0;
}

/* After the frees: the survivor table, the live objects in allocation order;
   then the first pass. */
static void sv_compact(sv_model_t *m, sv_thread_t *th) {
  uint64_t s = 0;
  for (uint64_t k = 0; k < m->n; k++)
    if (th->size[k] != UINT64_MAX) th->ids[s] = th->ids[k], th->size[s++] = th->size[k];
  sv_begin_pass(m, th);
}

static gen_step_t sv_step(void *model, uint32_t t) {
  sv_model_t *m = model;
  sv_thread_t *th = &m->th[t];
  switch (th->phase) {
    case SV_ALLOC:
      sv_new(m, th, t, th->i);
      if (++th->i == m->n) {
        /* The victims: the first F of a random permutation, freed in that
           order; the table keeps the others in allocation order. */
        for (uint64_t k = 0; k < m->n; k++) th->perm[k] = k;
        sv_shuffle(th->perm, m->n, &th->rng);
        th->phase = SV_FRAGMENT;
        th->i = 0;
        if (m->f == 0) sv_compact(m, th);
      }
      return GEN_STEP_RAN;
    case SV_FRAGMENT: {
      uint64_t k = th->perm[th->i];
      gen_emit_free(m->e, t, th->ids[k]);
      th->size[k] = UINT64_MAX; /* freed: sv_compact leaves it out */
      if (++th->i == m->f) sv_compact(m, th);
      return GEN_STEP_RAN;
    }
    case SV_READ: {
      uint64_t k = th->perm[th->i];
      gen_emit_read(m->e, t, th->ids[k], 0, th->size[k]);
      if (++th->i == m->s) {
        th->i = 0;
        if (++th->pass == m->passes)
          th->phase = SV_FREE;
        else if (m->churn)
          th->phase = SV_CHURN_STEP;
        else
          sv_begin_pass(m, th);
      }
      return GEN_STEP_RAN;
    }
    case SV_CHURN_STEP: {
      uint64_t k = gen_rng_below(&th->rng, m->s);
      gen_emit_free(m->e, t, th->ids[k]);
      sv_new(m, th, t, k);
      if (++th->i == m->churn) sv_begin_pass(m, th);
      return GEN_STEP_RAN;
    }
    case SV_FREE:
      if (th->i == m->s) return GEN_STEP_DONE;
      gen_emit_free(m->e, t, th->ids[th->i++]);
      return GEN_STEP_RAN;
  }
  return GEN_STEP_DONE;
}

static int sv_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&sv_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  sv_model_t m = {.sizes = &o.sizes,
                  .n = o.v[SV_OBJECTS],
                  .passes = o.v[SV_PASSES],
                  .churn = o.v[SV_CHURN],
                  .random_order = o.v[SV_ORDER] != 0};
  m.f = m.n * o.v[SV_FREE_PERCENT] / 100; /* N <= 1e9: no overflow */
  m.s = m.n - m.f;
  uint64_t allocs, churns, reads, per_thread, events;
  if (!gen_mul(m.churn, m.passes - 1, &churns) || (allocs = m.n + churns) < churns ||
      !gen_mul(m.s, m.passes, &reads) || !gen_mul(allocs, 3, &per_thread) ||
      (per_thread += reads) < reads || !gen_mul(per_thread + 2, o.threads, &events) ||
      m.n > SIZE_MAX / (3 * sizeof(uint64_t))) {
    gen_opts_free(&o);
    return gen_usage_error(&sv_spec, "too many events: threads*(3*(objects + churn*(passes-1)) + "
                                     "survivors*passes) overflows");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &sv_spec, &o);
  gen_meta_add(&meta, "expect.survivors=%llu", (unsigned long long)m.s);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)(allocs * o.threads));
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)(allocs * o.threads));
  gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)(allocs * o.threads));
  gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)(reads * o.threads));
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)events);
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&sv_spec, o.threads, sizeof *m.th);
  bool ok = m.th != NULL;
  for (uint32_t t = 0; ok && t < o.threads; t++) {
    sv_thread_t *th = &m.th[t];
    ok = (th->ids = gen_calloc(&sv_spec, m.n, sizeof *th->ids)) &&
         (th->size = gen_calloc(&sv_spec, m.n, sizeof *th->size)) &&
         (th->perm = gen_calloc(&sv_spec, m.n, sizeof *th->perm));
    if (ok) gen_rng_seed(&th->rng, o.seed, 1 + (uint64_t)t);
  }
  gen_emit_t e;
  rc = 1;
  if (ok && gen_emit_open(&e, &sv_spec, &o, &meta) == 0) {
    m.e = &e;
    gen_sched_run(&e, &o, sv_step, &m);
    rc = gen_emit_close(&e);
  }
  for (uint32_t t = 0; m.th && t < o.threads; t++) {
    free(m.th[t].ids);
    free(m.th[t].size);
    free(m.th[t].perm);
  }
  free(m.th);
  gen_opts_free(&o);
  return rc;
}
