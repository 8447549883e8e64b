/* ----------------------------------------------------------------------------
  workloads/gen/thrash.c: the `cache-thrash` model (Hoard's cache-thrash).

  Every thread repeatedly allocates one small object, writes it many times and
  frees it. Nothing is shared by the program, but an allocator that carves
  the threads' objects out of the same cache line makes the threads' writes
  fight over that line: active false sharing, which the allocator itself
  causes.
---------------------------------------------------------------------------- */
#include "workloads/gen/thrash.h"

#include <stdio.h>
#include <stdlib.h>

static int ct_main(int argc, char **argv);

const hl_gen_model_t hl_gen_cache_thrash = {
    .name = "cache-thrash",
    .summary = "threads allocate, write and free one small object each (active false sharing)",
    .reference = "cache-thrash from the Hoard benchmarks: E. D. Berger, K. S. McKinley, R. D. "
                 "Blumofe, P. R. Wilson, \"Hoard: A Scalable Memory Allocator for "
                 "Multithreaded Applications\", ASPLOS 2000 "
                 "(github.com/emeryberger/Hoard, benchmarks/cache-thrash/cache-thrash.cpp; "
                 "mimalloc-bench runs `cache-thrash T 1000 1 2000000 T`)",
    .main = ct_main,
};

enum { CT_ITERATIONS, CT_REPETITIONS, CT_SIZE, CT_NPARAMS };

static const gen_param_t ct_params[CT_NPARAMS] = {
    [CT_ITERATIONS] = {"iterations", 1000, 1, GEN_MAX_COUNT,
                       "allocate-write-free rounds per thread (cache-thrash's\n"
                       "iterations; mimalloc-bench passes 1000)"},
    [CT_REPETITIONS] = {"repetitions", 100, 1, GEN_MAX_COUNT,
                        "writes of the whole object per round (cache-thrash's\n"
                        "repetitions; mimalloc-bench passes 2000000, which would make\n"
                        "a trace of billions of events: heaplab keeps 100)"},
    [CT_SIZE] = {"size", 8, 1, HL_TRACE_MAX_SIZE,
                 "bytes per object (cache-thrash's objSize; mimalloc-bench\n"
                 "passes 1; heaplab uses 8, still far below a cache line)"},
};

static const gen_spec_t ct_spec = {
    .model = &hl_gen_cache_thrash,
    .description = "Each thread, for --iterations rounds: mallocs one object of --size bytes,\n"
                   "WRITEs all of it (offset 0, length size) --repetitions times, frees it.\n"
                   "Threads run concurrently and independently; every free is done by the\n"
                   "allocating thread. The original writes byte by byte in a loop (and reads\n"
                   "each byte back); one WRITE event stands for one pass over the object.\n"
                   "With --threads 1 there is nobody to share a line with: a baseline.\n",
    .threads_default = 4,
    .threads_help = "threads, all doing the same work (cache-thrash's nthreads;\n"
                    "mimalloc-bench passes the number of cores)",
    .params = ct_params,
    .nparams = CT_NPARAMS,
    .notes = "Trace (T = threads; I = iterations; R = repetitions):\n"
             "  allocs = frees = T*I; writes = T*I*R\n"
             "  events = T*I*(R+2) + 2*T (THREAD_START/END)\n"
             "  cross-thread frees: none (fraction 0); live bytes at the end: 0\n"
             "  a step is one malloc, one write or one free\n",
};

gen_step_t gen_thrash_step(gen_emit_t *e, uint32_t t, gen_thrash_t *th, uint64_t iterations,
                           uint64_t repetitions, uint64_t size) {
  if (th->iteration == iterations) return GEN_STEP_DONE;
  if (th->j == 0) {
    th->obj = gen_emit_alloc(e, t, size);
  } else if (th->j <= repetitions) {
    gen_emit_write(e, t, th->obj, 0, size);
  } else {
    gen_emit_free(e, t, th->obj);
    th->iteration++;
    th->j = 0;
    return GEN_STEP_RAN;
  }
  th->j++;
  return GEN_STEP_RAN;
}

typedef struct ct_model_s {
  gen_emit_t *e;
  uint64_t iterations, repetitions, size;
  gen_thrash_t *th;
} ct_model_t;

static gen_step_t ct_step(void *model, uint32_t t) {
  ct_model_t *m = model;
  return gen_thrash_step(m->e, t, &m->th[t], m->iterations, m->repetitions, m->size);
}

static int ct_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&ct_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  ct_model_t m = {
      .iterations = o.v[CT_ITERATIONS], .repetitions = o.v[CT_REPETITIONS], .size = o.v[CT_SIZE]};
  uint64_t allocs, writes, per_round, events;
  if (!gen_mul(o.threads, m.iterations, &allocs) || !gen_mul(allocs, m.repetitions, &writes) ||
      !gen_mul(allocs, m.repetitions + 2, &per_round) ||
      (events = per_round + 2 * o.threads) < per_round)
    return gen_usage_error(&ct_spec, "too many events: threads*iterations*(repetitions+2) "
                                     "overflows");

  gen_meta_t meta;
  gen_meta_init(&meta, &ct_spec, &o);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)writes);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)events);
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&ct_spec, o.threads, sizeof *m.th);
  gen_emit_t e;
  rc = 1;
  if (m.th && gen_emit_open(&e, &ct_spec, &o, &meta) == 0) {
    m.e = &e;
    gen_sched_run(&e, &o, ct_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  return rc;
}
