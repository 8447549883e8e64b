/* ----------------------------------------------------------------------------
  workloads/gen/mstress.c: the `mstress` model (mimalloc's test-stress, run
  by mimalloc-bench as mstress, with sh6bench-style LIFO frees).

  Rounds of short-lived threads allocate, free at random, keep some objects
  to the end, and swap objects with a shared transfer array, so objects
  migrate between threads and outlive the thread that made them: a thread
  ends leaving objects in the transfer array that threads of later rounds
  free. Each round's threads are new logical threads, so an allocator sees
  threads come and go with their heaps still holding live objects.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

static int ms_main(int argc, char **argv);

const hl_gen_model_t hl_gen_mstress = {
    .name = "mstress",
    .summary = "rounds of threads with random, LIFO and cross-thread frees; objects migrate",
    .reference = "mstress: test/test-stress.c of mimalloc (D. Leijen, B. Zorn, L. de Moura, "
                 "\"Mimalloc: Free List Sharding in Action\", APLAS 2019), as run by "
                 "mimalloc-bench (`mstress THREADS 50 25`); LIFO final frees after "
                 "MicroQuill's SmartHeap sh6bench",
    .main = ms_main,
};

enum { MS_SCALE, MS_ROUNDS, MS_TRANSFERS, MS_LIFO, MS_NPARAMS };

static const gen_param_t ms_params[MS_NPARAMS] = {
    [MS_SCALE] = {"scale", 10, 1, 1000000,
                  "work per thread: thread k of a round does 100*scale*(k%8+1)\n"
                  "allocations plus half as many retained ones (test-stress's\n"
                  "SCALE; mimalloc-bench passes 50, heaplab defaults to 10 so\n"
                  "the trace stays about 1 M events)"},
    [MS_ROUNDS] = {"rounds", 10, 1, 4096,
                   "rounds of threads; each round starts --threads new threads\n"
                   "once the previous round's have ended (test-stress's ITER;\n"
                   "mimalloc-bench passes 25); threads*rounds <= 4096"},
    [MS_TRANSFERS] = {"transfers", 1000, 1, 100000000,
                      "slots of the shared transfer array (test-stress's TRANSFERS,\n"
                      "1000)"},
    [MS_LIFO] = {"lifo", 50, 0, 100,
                 "percent of thread rounds that free what they hold at the end\n"
                 "in reverse allocation order (LIFO, as sh6bench does); the\n"
                 "others free in allocation order (as test-stress does)"},
};

static const gen_spec_t ms_spec = {
    .model = &hl_gen_mstress,
    .description = "Round r (0..R-1) runs T new logical threads, r*T+k for k = 0..T-1, after the\n"
                   "previous round's threads have ended (a barrier of 2T threads: the old\n"
                   "round's on their way out, the new round's on their way in). Thread k\n"
                   "(test-stress's tid) has A = 100*scale*(k%8+1) allocations to do and\n"
                   "A/2 to retain. Each step, as in test-stress's stress():\n"
                   "  - if nothing is left to retain, or with probability 1/2 while allocations\n"
                   "    remain: calloc 8*2^j bytes, j uniform in 0..4, into its data array;\n"
                   "    otherwise calloc 8*2^j bytes, j uniform in 0..6, into its retained array;\n"
                   "    1% of the allocations are 100 times larger;\n"
                   "  - with probability 66%: free a random data slot (if it holds an object);\n"
                   "  - with probability 25%: swap a random data slot with a random slot of the\n"
                   "    shared transfer array (objects migrate; either may be empty).\n"
                   "Then it frees its retained objects and its data array, in reverse order\n"
                   "with probability lifo/100, otherwise in allocation order, and ends. After\n"
                   "the last round (a barrier of its T threads), its thread k = 0 frees what\n"
                   "is left in the transfer array (test-stress's main thread does that).\n"
                   "Not modelled: the writes and checks of each object's contents (left to\n"
                   "the replay's access model), the growth of the data array itself.\n",
    .threads_default = 8,
    .threads_help = "threads per round (test-stress's THREADS, default 32;\n"
                    "mimalloc-bench passes the number of cores; heaplab: 8)",
    .params = ms_params,
    .nparams = MS_NPARAMS,
    .notes = "Trace (T threads per round, R rounds, s = scale; the trace has T*R threads):\n"
             "  allocs (calloc) = frees = R * 150*s * sum_{k<T} (k%8+1)\n"
             "  barriers: (R-1)*2T + T arrivals\n"
             "  events = 2*allocs + 2*T*R + (2R-1)*T\n"
             "  cross-thread frees: the migrated objects (random; 0 when T = R = 1)\n"
             "  live bytes at the end: 0\n"
             "  a step is one allocation with its free and swap, one final free or one\n"
             "  barrier arrival\n",
};

#define MS_NONE UINT64_MAX /* an empty slot (test-stress's NULL) */

typedef enum ms_phase_e { MS_ENTER, MS_RUN, MS_FINAL, MS_LEAVE, MS_CLEANUP } ms_phase_t;

typedef struct ms_thread_s {
  ms_phase_t phase;
  bool arrived; /* ENTER/LEAVE: arrived at the barrier, waiting */
  bool lifo;
  uint64_t allocs, retain; /* left to do */
  uint64_t data_top, rtop; /* used slots of the arrays */
  uint64_t i;              /* FINAL/CLEANUP: position */
  gen_rng_t rng;
} ms_thread_t;

typedef struct ms_model_s {
  gen_emit_t *e;
  uint32_t threads; /* per round */
  uint64_t rounds, scale, ntransfer, lifo;
  uint64_t *transfer;
  uint64_t *data, *retained; /* per slot k: cap_data and cap_data/2 entries */
  uint64_t cap_data;
  uint64_t *arrivals; /* per barrier */
  ms_thread_t *th;    /* per logical thread */
} ms_model_t;

static bool ms_chance(gen_rng_t *r, uint64_t percent) {
  return gen_rng_below(r, 100) < percent;
}

static uint64_t ms_alloc_items(ms_model_t *m, uint32_t t, uint64_t max_shift) {
  ms_thread_t *th = &m->th[t];
  uint64_t items = UINT64_C(1) << gen_rng_below(&th->rng, max_shift);
  if (gen_rng_below(&th->rng, 100) == 0) items *= 100; /* 1% huge objects */
  return gen_emit_alloc_kind(m->e, t, HL_KIND_CALLOC, items * 8, 0);
}

/* Barrier b: 2T arrivals between rounds b and b+1, T after the last round. */
static uint64_t ms_barrier_count(const ms_model_t *m, uint64_t b) {
  return b + 1 < m->rounds ? 2 * (uint64_t)m->threads : m->threads;
}

/* One step of waiting at barrier b: GEN_STEP_RAN after arriving (the
   arrival is the step's event), GEN_STEP_BLOCKED while it is incomplete,
   GEN_STEP_DONE once it is complete (the caller goes on). */
static gen_step_t ms_barrier(ms_model_t *m, uint32_t t, uint64_t b) {
  ms_thread_t *th = &m->th[t];
  if (!th->arrived) {
    gen_emit_barrier(m->e, t, b, ms_barrier_count(m, b));
    m->arrivals[b]++;
    th->arrived = true;
    return GEN_STEP_RAN;
  }
  if (m->arrivals[b] < ms_barrier_count(m, b)) return GEN_STEP_BLOCKED;
  th->arrived = false;
  return GEN_STEP_DONE;
}

static gen_step_t ms_step(void *model, uint32_t t) {
  ms_model_t *m = model;
  ms_thread_t *th = &m->th[t];
  uint64_t round = t / m->threads, k = t % m->threads;
  uint64_t *data = m->data + k * m->cap_data, *retained = m->retained + k * (m->cap_data / 2);
  for (;;) {
    switch (th->phase) {
      case MS_ENTER: {
        if (round > 0) {
          /* Barrier numbers must open in increasing order: arrive at barrier
             round-1 only once barrier round-2 is complete. */
          if (round > 1 && m->arrivals[round - 2] < ms_barrier_count(m, round - 2))
            return GEN_STEP_BLOCKED;
          gen_step_t r = ms_barrier(m, t, round - 1);
          if (r != GEN_STEP_DONE) return r;
        }
        th->phase = MS_RUN;
        th->allocs = 100 * m->scale * (k % 8 + 1);
        th->retain = th->allocs / 2;
        th->data_top = th->rtop = 0;
        th->lifo = ms_chance(&th->rng, m->lifo);
        continue;
      }
      case MS_RUN:
        if (th->allocs == 0 && th->retain == 0) {
          th->phase = MS_FINAL;
          th->i = 0;
          continue;
        }
        if (th->retain == 0 || (ms_chance(&th->rng, 50) && th->allocs > 0)) {
          th->allocs--;
          data[th->data_top++] = ms_alloc_items(m, t, 5);
        } else {
          th->retain--;
          retained[th->rtop++] = ms_alloc_items(m, t, 7);
        }
        if (ms_chance(&th->rng, 66) && th->data_top > 0) {
          uint64_t idx = gen_rng_below(&th->rng, th->data_top);
          if (data[idx] != MS_NONE) gen_emit_free(m->e, t, data[idx]);
          data[idx] = MS_NONE;
        }
        if (ms_chance(&th->rng, 25) && th->data_top > 0) {
          uint64_t idx = gen_rng_below(&th->rng, th->data_top);
          uint64_t slot = gen_rng_below(&th->rng, m->ntransfer);
          uint64_t p = data[idx];
          data[idx] = m->transfer[slot];
          m->transfer[slot] = p;
        }
        return GEN_STEP_RAN;
      case MS_FINAL:
        /* Retained objects first, then the data array, as test-stress; a
           LIFO thread walks each array backwards. Empty slots cost no step. */
        while (th->i < th->rtop + th->data_top) {
          uint64_t i = th->i++, id;
          if (i < th->rtop)
            id = retained[th->lifo ? th->rtop - 1 - i : i];
          else
            id = data[th->lifo ? th->data_top - 1 - (i - th->rtop) : i - th->rtop];
          if (id == MS_NONE) continue;
          gen_emit_free(m->e, t, id);
          return GEN_STEP_RAN;
        }
        th->phase = MS_LEAVE;
        continue;
      case MS_LEAVE: {
        gen_step_t r = ms_barrier(m, t, round);
        if (r != GEN_STEP_DONE) return r;
        if (round + 1 < m->rounds || k != 0) return GEN_STEP_DONE;
        th->phase = MS_CLEANUP;
        th->i = 0;
        continue;
      }
      case MS_CLEANUP:
        while (th->i < m->ntransfer) {
          uint64_t id = m->transfer[th->i++];
          if (id == MS_NONE) continue;
          gen_emit_free(m->e, t, id);
          return GEN_STEP_RAN;
        }
        return GEN_STEP_DONE;
    }
  }
}

static int ms_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&ms_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  ms_model_t m = {.threads = o.threads,
                  .rounds = o.v[MS_ROUNDS],
                  .scale = o.v[MS_SCALE],
                  .ntransfer = o.v[MS_TRANSFERS],
                  .lifo = o.v[MS_LIFO]};
  if ((uint64_t)o.threads * m.rounds > HL_TRACE_MAX_THREADS)
    return gen_usage_error(&ms_spec, "--threads %u times --rounds %llu is more than %d threads",
                           o.threads, (unsigned long long)m.rounds, HL_TRACE_MAX_THREADS);
  uint64_t weights = 0; /* sum_{k<T} (k%8+1) */
  for (uint32_t k = 0; k < o.threads; k++) weights += k % 8 + 1;
  uint64_t allocs = m.rounds * 150 * m.scale * weights; /* < 4096*150*1e6*8: no overflow */
  uint64_t barrier_events = (2 * m.rounds - 1) * o.threads;

  gen_meta_t meta;
  gen_meta_init(&meta, &ms_spec, &o);
  gen_meta_add(&meta, "expect.trace_threads=%llu", (unsigned long long)(o.threads * m.rounds));
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.barrier_events=%llu", (unsigned long long)barrier_events);
  gen_meta_add(&meta, "expect.events=%llu",
               (unsigned long long)(2 * allocs + 2 * o.threads * m.rounds + barrier_events));
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  uint32_t per_round = o.threads;
  o.threads = (uint32_t)(per_round * m.rounds); /* the trace's threads */
  m.cap_data = 100 * m.scale * 8;
  m.th = gen_calloc(&ms_spec, o.threads, sizeof *m.th);
  m.arrivals = gen_calloc(&ms_spec, m.rounds, sizeof *m.arrivals);
  m.transfer = gen_calloc(&ms_spec, m.ntransfer, sizeof *m.transfer);
  m.data = gen_calloc(&ms_spec, per_round * m.cap_data, sizeof *m.data);
  m.retained = gen_calloc(&ms_spec, per_round * (m.cap_data / 2), sizeof *m.retained);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.arrivals && m.transfer && m.data && m.retained &&
      gen_emit_open(&e, &ms_spec, &o, &meta) == 0) {
    for (uint64_t i = 0; i < m.ntransfer; i++) m.transfer[i] = MS_NONE;
    for (uint32_t t = 0; t < o.threads; t++) gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    m.e = &e;
    gen_sched_run(&e, &o, ms_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.arrivals);
  free(m.transfer);
  free(m.data);
  free(m.retained);
  gen_opts_free(&o);
  return rc;
}
