/* ----------------------------------------------------------------------------
  workloads/gen/threadtest.c: the `threadtest` model (Hoard's threadtest).

  Every thread repeatedly allocates its share of small objects and then frees
  them all, in allocation order. No object crosses threads: the benchmark
  measures how an allocator scales when threads never share memory.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

static int tt_main(int argc, char **argv);

const hl_gen_model_t hl_gen_threadtest = {
    .name = "threadtest",
    .summary = "threads allocate their share of objects, then free them all (no sharing)",
    .reference = "threadtest from the Hoard benchmarks: E. D. Berger, K. S. McKinley, R. D. "
                 "Blumofe, P. R. Wilson, \"Hoard: A Scalable Memory Allocator for "
                 "Multithreaded Applications\", ASPLOS 2000 "
                 "(github.com/emeryberger/Hoard, benchmarks/threadtest/threadtest.cpp)",
    .main = tt_main,
};

enum { TT_ITERATIONS, TT_OBJECTS, TT_SIZE, TT_NPARAMS };

static const gen_param_t tt_params[TT_NPARAMS] = {
    [TT_ITERATIONS] = {"iterations", 50, 1, GEN_MAX_COUNT,
                       "rounds of allocate-all-then-free-all per thread\n"
                       "(threadtest's niterations; 50 is its default)"},
    [TT_OBJECTS] = {"objects", 100000, 1, GEN_MAX_COUNT,
                    "objects per round over all threads; each thread takes\n"
                    "objects/threads (rounded down) (threadtest's nobjects;\n"
                    "threadtest.cpp defaults to 30000; heaplab uses 100000)"},
    [TT_SIZE] = {"size", 8, 1, HL_TRACE_MAX_SIZE,
                 "bytes per object (threadtest allocates objSize Foo objects of\n"
                 "8 bytes each; objSize defaults to 1, so 8)"},
};

static const gen_spec_t tt_spec = {
    .model = &hl_gen_threadtest,
    .description = "Each thread owns an array of n = objects/threads slots. For each of\n"
                   "--iterations rounds it mallocs n objects of --size bytes into the\n"
                   "array, then frees them in the same order. Threads run concurrently and\n"
                   "independently; every free is done by the allocating thread. Not\n"
                   "modelled: threadtest's `work` busy loop (0 by default) and the one\n"
                   "pointer array each thread allocates to hold its objects.\n",
    .threads_default = 1,
    .threads_help = "threads, all doing the same work (threadtest's nthreads;\n"
                    "its default is 1)",
    .params = tt_params,
    .nparams = TT_NPARAMS,
    .notes = "Trace (n = objects/threads, rounded down; T = threads; I = iterations):\n"
             "  allocs = frees = T*n*I; events = 2*T*n*I + 2*T (THREAD_START/END)\n"
             "  cross-thread frees: none (fraction 0); live bytes at the end: 0\n"
             "  a step is one malloc or one free\n",
};

typedef struct tt_thread_s {
  uint64_t iteration;
  uint64_t i;   /* next slot */
  bool freeing; /* second half of the round */
} tt_thread_t;

typedef struct tt_model_s {
  gen_emit_t *e;
  uint64_t n, iterations, size;
  tt_thread_t *th;
  uint64_t *ids; /* thread t's slots at ids[t*n ...] */
} tt_model_t;

static gen_step_t tt_step(void *model, uint32_t t) {
  tt_model_t *m = model;
  tt_thread_t *th = &m->th[t];
  if (th->iteration == m->iterations) return GEN_STEP_DONE;
  uint64_t *slot = &m->ids[t * m->n + th->i];
  if (!th->freeing)
    *slot = gen_emit_alloc(m->e, t, m->size);
  else
    gen_emit_free(m->e, t, *slot);
  if (++th->i == m->n) {
    th->i = 0;
    if (th->freeing) th->iteration++;
    th->freeing = !th->freeing;
  }
  return GEN_STEP_RAN;
}

static int tt_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&tt_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  tt_model_t m = {.iterations = o.v[TT_ITERATIONS], .size = o.v[TT_SIZE]};
  m.n = o.v[TT_OBJECTS] / o.threads;
  if (m.n == 0)
    return gen_usage_error(&tt_spec, "--objects %llu is less than --threads %u",
                           (unsigned long long)o.v[TT_OBJECTS], o.threads);
  uint64_t allocs; /* T*n <= objects <= 1e9 and I <= 1e9: no overflow */
  gen_mul(o.threads * m.n, m.iterations, &allocs);

  gen_meta_t meta;
  gen_meta_init(&meta, &tt_spec, &o);
  gen_meta_add(&meta, "expect.objects_per_thread=%llu", (unsigned long long)m.n);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)(2 * allocs + 2 * o.threads));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&tt_spec, o.threads, sizeof *m.th);
  m.ids = gen_calloc(&tt_spec, o.threads * m.n, sizeof *m.ids);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.ids && gen_emit_open(&e, &tt_spec, &o, &meta) == 0) {
    m.e = &e;
    gen_sched_run(&e, &o, tt_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.ids);
  return rc;
}
