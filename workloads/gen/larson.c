/* ----------------------------------------------------------------------------
  workloads/gen/larson.c: the `larson` model (Larson & Krishnan's server
  simulation, as run by mimalloc-bench).

  Each thread owns an array of slots and keeps replacing a random slot's
  object with a new one of random size. When a thread's generation ends, its
  array passes to a successor that frees what the predecessor allocated:
  "server bleeding", the cross-thread frees that make per-thread heaps leak
  or blow up. The trace keeps T logical threads and rotates the arrays among
  them, so the successor of thread t is thread (t+1) mod T.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int ls_main(int argc, char **argv);

const hl_gen_model_t hl_gen_larson = {
    .name = "larson",
    .summary = "server simulation: random replacements, arrays handed to successor threads",
    .reference = "P. Larson, M. Krishnan, \"Memory Allocation for Long-Running Server "
                 "Applications\", ISMM 1998; defaults follow mimalloc-bench's "
                 "`larson 5 8 1000 5000 100 4141 T` (bench/larson/larson.cpp)",
    .main = ls_main,
};

enum { LS_MIN_SIZE, LS_MAX_SIZE, LS_SLOTS, LS_ROUNDS, LS_GENERATIONS, LS_NPARAMS };

static const gen_param_t ls_params[LS_NPARAMS] = {
    [LS_MIN_SIZE] = {"min-size", 8, 1, HL_TRACE_MAX_SIZE,
                     "smallest object in bytes (mimalloc-bench passes 8)"},
    [LS_MAX_SIZE] = {"max-size", 1000, 1, HL_TRACE_MAX_SIZE,
                     "largest object in bytes; sizes are uniform in\n"
                     "[min-size, max-size] (mimalloc-bench passes 1000)"},
    [LS_SLOTS] = {"slots", 5000, 1, 100000000,
                  "objects per thread array (larson's chunks/thread;\n"
                  "mimalloc-bench passes 5000)"},
    [LS_ROUNDS] = {"rounds", 100, 0, 1000000,
                   "replacements per thread per generation, in units of\n"
                   "--slots: a generation does rounds*slots replacements\n"
                   "(larson's num_rounds; mimalloc-bench passes 100)"},
    [LS_GENERATIONS] = {"generations", 4, 1, 1000000,
                        "thread generations. larson respawns threads until its run\n"
                        "time (5 s) is over; a trace needs a fixed count"},
};

static const gen_spec_t ls_spec = {
    .model = &hl_gen_larson,
    .description = "T threads each fill an array of --slots objects (warm-up), then run\n"
                   "--generations generations. In a generation a thread does R = rounds*slots\n"
                   "replacements: pick a slot uniformly at random, free its object, malloc a\n"
                   "new one of a size uniform in [min-size, max-size]. At the end of a\n"
                   "generation the array passes to the next thread: in generation g thread t\n"
                   "works on the array thread t-1 had in generation g-1 (indices mod T), and\n"
                   "starts it only once thread t-1 has finished generation g-1. Frees of\n"
                   "objects the predecessor (or an earlier owner) allocated are cross-thread.\n"
                   "After the last generation each thread frees its whole array.\n"
                   "Differences from larson: there a new OS thread inherits the array; here\n"
                   "the T logical threads rotate the arrays. larson's main thread fills all\n"
                   "arrays (and churns them) before the workers start; here each thread fills\n"
                   "its own. Sizes in larson are in [min, max-1]; larson's two-byte writes\n"
                   "into each new object are left to the replay's access model.\n",
    .threads_default = 1,
    .threads_help = "worker threads (larson's thread count; it has no default,\n"
                    "mimalloc-bench passes the number of cores)",
    .params = ls_params,
    .nparams = LS_NPARAMS,
    .notes = "Trace (T threads, S slots, R = rounds*S, G generations):\n"
             "  allocs = frees = T*(S + G*R); events = 2*T*(S + G*R) + 2*T\n"
             "  live bytes at the end: 0 (every array is freed)\n"
             "  a step is one warm-up malloc, one replacement (free + malloc) or one\n"
             "  final free\n"
             "Cross-thread frees (T > 1). Let q = (1-1/S)^R, the chance a slot is not\n"
             "replaced in a generation. The slot freed by the k-th replacement of a\n"
             "generation was not yet replaced in it with probability (1-1/S)^k, so\n"
             "A = S*(1-q) frees per generation hit objects from earlier generations.\n"
             "Such an object was allocated j generations back with probability\n"
             "(1-q)*q^(j-1) (or by the warm-up, q^(g-1)), by thread t-j: a cross-thread\n"
             "free unless j is a multiple of T. Summing over generations 1..G-1 and\n"
             "the final frees gives the expected fraction, printed in the trace's meta\n"
             "as expect.cross_thread_free_fraction (0 when T = 1 or G = 1). Example:\n"
             "T=4 S=100 rounds=1 G=4 gives 0.453587.\n",
};

typedef struct ls_array_s {
  uint64_t *ids; /* the live object in each slot */
  gen_rng_t rng; /* travels with the array, as larson's does */
} ls_array_t;

typedef enum ls_phase_e { LS_WARMUP, LS_REPLACE, LS_WAIT, LS_FINAL } ls_phase_t;

typedef struct ls_thread_s {
  ls_phase_t phase;
  uint64_t gen;   /* current generation */
  uint64_t i;     /* WARMUP/FINAL: next slot; REPLACE: replacements done */
  uint32_t array; /* the array this thread works on in `gen` */
} ls_thread_t;

typedef struct ls_model_s {
  gen_emit_t *e;
  uint32_t threads;
  uint64_t slots, repl, generations, min_size, max_size;
  ls_array_t *arrays;
  ls_thread_t *th;
  uint64_t *done_gen; /* generations each thread has finished */
} ls_model_t;

static gen_step_t ls_step(void *model, uint32_t t) {
  ls_model_t *m = model;
  ls_thread_t *th = &m->th[t];
  for (;;) {
    ls_array_t *a = &m->arrays[th->array];
    switch (th->phase) {
      case LS_WARMUP:
        a->ids[th->i] = gen_emit_alloc(m->e, t, gen_rng_range(&a->rng, m->min_size, m->max_size));
        if (++th->i == m->slots) th->phase = LS_REPLACE, th->i = 0;
        return GEN_STEP_RAN;
      case LS_REPLACE:
        if (th->i < m->repl) {
          uint64_t victim = gen_rng_below(&a->rng, m->slots);
          gen_emit_free(m->e, t, a->ids[victim]);
          a->ids[victim] =
              gen_emit_alloc(m->e, t, gen_rng_range(&a->rng, m->min_size, m->max_size));
          th->i++;
          return GEN_STEP_RAN;
        }
        m->done_gen[t] = ++th->gen;
        th->phase = th->gen == m->generations ? LS_FINAL : LS_WAIT;
        th->i = 0;
        continue;
      case LS_WAIT: {
        /* The array to take is the one thread t-1 used in the generation
           before; wait until that thread is done with it. */
        uint32_t pred = (t + m->threads - 1) % m->threads;
        if (m->done_gen[pred] < th->gen) return GEN_STEP_BLOCKED;
        th->array = (uint32_t)((t + m->threads - th->gen % m->threads) % m->threads);
        th->phase = LS_REPLACE;
        continue;
      }
      case LS_FINAL:
        if (th->i == m->slots) return GEN_STEP_DONE;
        gen_emit_free(m->e, t, a->ids[th->i++]);
        return GEN_STEP_RAN;
    }
  }
}

/* The expected fraction of frees that are cross-thread (see the notes in
   ls_spec for the derivation). Per thread, as every thread does the same. */
static double ls_expected_cross_fraction(uint64_t threads, uint64_t slots, uint64_t repl,
                                         uint64_t generations) {
  if (threads == 1) return 0;
  double s = (double)slots;
  double q; /* P(a given slot survives a generation) */
  if (repl == 0)
    q = 1;
  else if (slots == 1)
    q = 0;
  else
    q = exp((double)repl * log1p(-1 / s));
  double a = s * (1 - q); /* frees per generation of not-yet-replaced slots */

  double cross = 0;
  double c = 0;    /* sum_{j=1}^{g-1} [j % T != 0] (1-q) q^(j-1) */
  double qpow = 1; /* q^(g-1) */
  for (uint64_t g = 1; g < generations; g++) {
    cross += a * (c + (g % threads ? qpow : 0));
    if (g % threads) c += (1 - q) * qpow;
    qpow *= q;
  }
  /* Final frees by the owner of generation h = G-1. */
  uint64_t h = generations - 1;
  double pf = 0, qj = 1;
  for (uint64_t j = 0; j < h; j++) {
    if (j % threads) pf += (1 - q) * qj;
    qj *= q;
  }
  if (h % threads) pf += qj;
  cross += s * pf;
  return cross / (s + (double)generations * (double)repl);
}

static int ls_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&ls_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  ls_model_t m = {.threads = o.threads,
                  .slots = o.v[LS_SLOTS],
                  .generations = o.v[LS_GENERATIONS],
                  .min_size = o.v[LS_MIN_SIZE],
                  .max_size = o.v[LS_MAX_SIZE]};
  if (m.min_size > m.max_size)
    return gen_usage_error(&ls_spec, "--min-size %llu is larger than --max-size %llu",
                           (unsigned long long)m.min_size, (unsigned long long)m.max_size);
  uint64_t per_thread, allocs;
  if (!gen_mul(o.v[LS_ROUNDS], m.slots, &m.repl) || !gen_mul(m.generations, m.repl, &per_thread) ||
      (per_thread += m.slots) < m.slots || !gen_mul(per_thread, o.threads, &allocs) ||
      allocs > UINT64_MAX / 4)
    return gen_usage_error(&ls_spec, "too many events: threads*(slots + generations*rounds*slots) "
                                     "overflows");

  gen_meta_t meta;
  gen_meta_init(&meta, &ls_spec, &o);
  gen_meta_add(&meta, "expect.replacements_per_generation=%llu", (unsigned long long)m.repl);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)(2 * allocs + 2 * o.threads));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=%.6f",
               ls_expected_cross_fraction(o.threads, m.slots, m.repl, m.generations));
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.arrays = gen_calloc(&ls_spec, o.threads, sizeof *m.arrays);
  m.th = gen_calloc(&ls_spec, o.threads, sizeof *m.th);
  m.done_gen = gen_calloc(&ls_spec, o.threads, sizeof *m.done_gen);
  uint64_t *ids = NULL;
  if (m.arrays && m.th && m.done_gen && m.slots <= SIZE_MAX / sizeof *ids / o.threads)
    ids = gen_calloc(&ls_spec, (size_t)m.slots * o.threads, sizeof *ids);
  gen_emit_t e;
  rc = 1;
  if (ids && gen_emit_open(&e, &ls_spec, &o, &meta) == 0) {
    for (uint32_t t = 0; t < o.threads; t++) {
      m.arrays[t].ids = ids + (size_t)t * m.slots;
      gen_rng_seed(&m.arrays[t].rng, o.seed, 1 + (uint64_t)t);
      m.th[t].array = t; /* generation 0: each thread fills its own array */
    }
    m.e = &e;
    gen_sched_run(&e, &o, ls_step, &m);
    rc = gen_emit_close(&e);
  }
  free(ids);
  free(m.arrays);
  free(m.th);
  free(m.done_gen);
  return rc;
}
