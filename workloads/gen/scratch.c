/* ----------------------------------------------------------------------------
  workloads/gen/scratch.c: the `cache-scratch` model (Hoard's cache-scratch).

  Thread 0 allocates one small object per thread, back to back, so they may
  share a cache line, and hands one to each thread. Each thread frees the
  object it was given, then repeatedly allocates, writes and frees its own
  small object. An allocator that gives a freed block back to the freeing
  thread's heap hands each thread a piece of thread 0's shared line, and
  their writes then fight over it: passive false sharing, inherited from
  another thread's allocations.
---------------------------------------------------------------------------- */
#include "workloads/gen/thrash.h"

#include <stdio.h>
#include <stdlib.h>

static int cs_main(int argc, char **argv);

const hl_gen_model_t hl_gen_cache_scratch = {
    .name = "cache-scratch",
    .summary = "thread 0 hands small objects to the others; then as cache-thrash (passive)",
    .reference = "cache-scratch from the Hoard benchmarks: E. D. Berger, K. S. McKinley, R. D. "
                 "Blumofe, P. R. Wilson, \"Hoard: A Scalable Memory Allocator for "
                 "Multithreaded Applications\", ASPLOS 2000 "
                 "(github.com/emeryberger/Hoard, benchmarks/cache-scratch/cache-scratch.cpp; "
                 "mimalloc-bench runs `cache-scratch T 1000 1 2000000 T`)",
    .main = cs_main,
};

enum { CS_ITERATIONS, CS_REPETITIONS, CS_SIZE, CS_NPARAMS };

static const gen_param_t cs_params[CS_NPARAMS] = {
    [CS_ITERATIONS] = {"iterations", 1000, 1, GEN_MAX_COUNT,
                       "allocate-write-free rounds per thread (cache-scratch's\n"
                       "iterations; mimalloc-bench passes 1000)"},
    [CS_REPETITIONS] = {"repetitions", 100, 1, GEN_MAX_COUNT,
                        "writes of the whole object per round (cache-scratch's\n"
                        "repetitions; mimalloc-bench passes 2000000, which would make\n"
                        "a trace of billions of events: heaplab keeps 100)"},
    [CS_SIZE] = {"size", 8, 1, HL_TRACE_MAX_SIZE,
                 "bytes per object, the handed-out ones too (cache-scratch's\n"
                 "objSize; mimalloc-bench passes 1; heaplab uses 8)"},
};

static const gen_spec_t cs_spec = {
    .model = &hl_gen_cache_scratch,
    .description = "Thread 0 first mallocs T objects of --size bytes in a row (object t is\n"
                   "thread t's), then SENDs object t to thread t for t = 1..T-1. Every\n"
                   "thread t, once it holds object t, frees it (a cross-thread free for\n"
                   "t > 0), then for --iterations rounds: mallocs one object of --size\n"
                   "bytes, WRITEs all of it (offset 0, length size) --repetitions times,\n"
                   "frees it. Unlike the original, whose main thread only allocates,\n"
                   "thread 0 is also a worker: it keeps object 0 and frees it itself.\n"
                   "With --threads 1 nothing crosses threads: thread 0 mallocs and frees\n"
                   "its one object, then runs the rounds alone (cache-thrash plus one\n"
                   "malloc/free pair).\n",
    .threads_default = 4,
    .threads_help = "threads, all doing the same work after thread 0's hand-out\n"
                    "(cache-scratch's nthreads; mimalloc-bench passes the number of cores)",
    .params = cs_params,
    .nparams = CS_NPARAMS,
    .notes = "Trace (T = threads; I = iterations; R = repetitions):\n"
             "  allocs = frees = T*(I+1); writes = T*I*R; sends = T-1\n"
             "  events = T*I*(R+2) + 2*T + (T-1) + 2*T (THREAD_START/END)\n"
             "  cross-thread frees: T-1 (each thread's first free, but thread 0's);\n"
             "  fraction (T-1)/(T*(I+1)); live bytes at the end: 0\n"
             "  a step is one malloc, one send, one write or one free\n",
};

typedef enum cs_phase_e { CS_HANDOUT, CS_SEND, CS_FREE_GIVEN, CS_ROUNDS } cs_phase_t;

typedef struct cs_thread_s {
  cs_phase_t phase;
  uint64_t i;          /* CS_HANDOUT / CS_SEND: the next object or thread */
  gen_thrash_t rounds; /* CS_ROUNDS: cache-thrash's rounds */
  bool given;          /* thread 0 has handed this thread its object */
} cs_thread_t;

typedef struct cs_model_s {
  gen_emit_t *e;
  uint32_t threads;
  uint64_t iterations, repetitions, size;
  cs_thread_t *th;
  uint64_t *handout; /* object t, thread t's */
} cs_model_t;

static gen_step_t cs_step(void *model, uint32_t t) {
  cs_model_t *m = model;
  cs_thread_t *th = &m->th[t];
  switch (th->phase) {
    case CS_HANDOUT: /* thread 0 only: the threads' objects, back to back */
      m->handout[th->i] = gen_emit_alloc(m->e, t, m->size);
      if (++th->i == m->threads) {
        th->i = 1;
        th->phase = m->threads > 1 ? CS_SEND : CS_FREE_GIVEN;
        th->given = m->threads == 1; /* alone: object 0 is already its own */
      }
      return GEN_STEP_RAN;
    case CS_SEND:
      gen_emit_send(m->e, t, m->handout[th->i], (uint32_t)th->i);
      m->th[th->i].given = true;
      if (++th->i == m->threads) th->given = true, th->phase = CS_FREE_GIVEN;
      return GEN_STEP_RAN;
    case CS_FREE_GIVEN:
      if (!th->given) return GEN_STEP_BLOCKED;
      gen_emit_free(m->e, t, m->handout[t]);
      th->phase = CS_ROUNDS;
      return GEN_STEP_RAN;
    case CS_ROUNDS:
      break;
  }
  return gen_thrash_step(m->e, t, &th->rounds, m->iterations, m->repetitions, m->size);
}

static int cs_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&cs_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  cs_model_t m = {.threads = o.threads,
                  .iterations = o.v[CS_ITERATIONS],
                  .repetitions = o.v[CS_REPETITIONS],
                  .size = o.v[CS_SIZE]};
  uint64_t t = o.threads, rounds, writes, per_round, events;
  if (!gen_mul(t, m.iterations, &rounds) || !gen_mul(rounds, m.repetitions, &writes) ||
      !gen_mul(rounds, m.repetitions + 2, &per_round) ||
      (events = per_round + 5 * t - 1) < per_round)
    return gen_usage_error(&cs_spec, "too many events: threads*iterations*(repetitions+2) "
                                     "overflows");

  gen_meta_t meta;
  gen_meta_init(&meta, &cs_spec, &o);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)(rounds + t));
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)(rounds + t));
  gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)writes);
  gen_meta_add(&meta, "expect.sends=%llu", (unsigned long long)(t - 1));
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)events);
  gen_meta_add(&meta, "expect.cross_thread_frees=%llu", (unsigned long long)(t - 1));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=%.6g",
               (double)(t - 1) / (double)(rounds + t));
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&cs_spec, o.threads, sizeof *m.th);
  m.handout = gen_calloc(&cs_spec, o.threads, sizeof *m.handout);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.handout && gen_emit_open(&e, &cs_spec, &o, &meta) == 0) {
    /* Thread 0 hands out first; the others wait for their object. */
    for (uint32_t i = 1; i < o.threads; i++) m.th[i].phase = CS_FREE_GIVEN;
    m.e = &e;
    gen_sched_run(&e, &o, cs_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.handout);
  return rc;
}
