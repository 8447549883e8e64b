/* ----------------------------------------------------------------------------
  workloads/gen/list.c: the `list` model (a singly linked list: build, walk,
  free).

  Each thread builds its own list node by node (LINK events for the next
  pointers), walks it (a READ of each node's next pointer, as a traversal
  loads it) and frees it from the head. Pointer chasing over objects
  allocated one after another is where an allocator's placement (and a
  moving allocator's compaction) shows in cache and TLB misses.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

static int li_main(int argc, char **argv);

const hl_gen_model_t hl_gen_list = {
    .name = "list",
    .summary = "each thread builds a linked list (link events), walks it, frees it",
    .reference = "the linked-list traversals of pointer-chasing benchmarks such as "
                 "Olden's (M. C. Carlisle, A. Rogers, \"Software Caching and Computation "
                 "Migration in Olden\", PPoPP 1995) and of the Ravioli design's "
                 "moving-allocator question (alloc/ravioli/README.md)",
    .main = li_main,
};

enum { LI_NODES, LI_WALKS, LI_ROUNDS, LI_NPARAMS };

static const gen_param_t li_params[LI_NPARAMS] = {
    [LI_NODES] = {"nodes", 10000, 1, GEN_MAX_COUNT, "list nodes per thread and round"},
    [LI_WALKS] = {"walks", 10, 0, GEN_MAX_COUNT, "traversals of the whole list per round"},
    [LI_ROUNDS] = {"rounds", 10, 1, GEN_MAX_COUNT,
                   "build-walk-free rounds per thread (each round a new list)"},
};

static const gen_spec_t li_spec = {
    .model = &hl_gen_list,
    .description = "Each thread, for each of --rounds rounds:\n"
                   "  build: malloc node 0, then for i = 1..N-1 malloc node i and store a\n"
                   "    pointer to it in node i-1's next field (LINK node i-1, offset 0);\n"
                   "  walk: --walks times, READ the 8-byte next field of nodes 0..N-1 in\n"
                   "    order (node N-1's field is null: it ends the walk);\n"
                   "  free: nodes 0..N-1 in order, so no live node ever points to a freed one.\n"
                   "Threads work independently (no object crosses threads).\n",
    .threads_default = 1,
    .threads_help = "threads, each with its own lists",
    .params = li_params,
    .nparams = LI_NPARAMS,
    .notes = "Trace (T threads, N nodes, W walks, R rounds):\n"
             "  allocs = frees = T*R*N; links = T*R*(N-1); reads = T*R*W*N\n"
             "  events = T*R*(3N - 1 + W*N) + 2T\n"
             "  cross-thread frees: none; live bytes at the end: 0\n"
             "  a step is one node built (malloc + link), read or freed\n",
    .sizes_default = "fixed:16",
    .sizes_help = "a node's size is max(the drawn size, 8): the next field",
};

typedef enum li_phase_e { LI_BUILD, LI_WALK, LI_FREE } li_phase_t;

typedef struct li_thread_s {
  li_phase_t phase;
  uint64_t round, i, walk;
  gen_rng_t rng; /* node sizes */
} li_thread_t;

typedef struct li_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint64_t n, walks, rounds;
  li_thread_t *th;
  uint64_t *ids; /* thread t's nodes at ids[t*n ...] */
} li_model_t;

static gen_step_t li_step(void *model, uint32_t t) {
  li_model_t *m = model;
  li_thread_t *th = &m->th[t];
  uint64_t *ids = m->ids + t * m->n;
  for (;;) {
    if (th->round == m->rounds) return GEN_STEP_DONE;
    switch (th->phase) {
      case LI_BUILD: {
        uint64_t size = gen_sizes_sample(m->sizes, &th->rng);
        ids[th->i] = gen_emit_alloc(m->e, t, size < 8 ? 8 : size);
        if (th->i > 0) gen_emit_link(m->e, t, ids[th->i - 1], 0, ids[th->i]);
        if (++th->i == m->n) th->phase = m->walks ? LI_WALK : LI_FREE, th->i = 0, th->walk = 0;
        return GEN_STEP_RAN;
      }
      case LI_WALK:
        gen_emit_read(m->e, t, ids[th->i], 0, 8);
        if (++th->i == m->n) {
          th->i = 0;
          if (++th->walk == m->walks) th->phase = LI_FREE;
        }
        return GEN_STEP_RAN;
      case LI_FREE:
        gen_emit_free(m->e, t, ids[th->i]);
        if (++th->i == m->n) th->phase = LI_BUILD, th->i = 0, th->round++;
        return GEN_STEP_RAN;
    }
  }
}

static int li_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&li_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  li_model_t m = {
      .sizes = &o.sizes, .n = o.v[LI_NODES], .walks = o.v[LI_WALKS], .rounds = o.v[LI_ROUNDS]};
  uint64_t per_round, rounds, allocs, reads;
  if (!gen_mul(o.threads, m.rounds, &rounds) || !gen_mul(rounds, m.n, &allocs) ||
      !gen_mul(allocs, m.walks, &reads) || !gen_mul(m.n, 3 + m.walks, &per_round) ||
      !gen_mul(rounds, per_round - 1, &per_round) ||
      per_round > UINT64_MAX - 2 * HL_TRACE_MAX_THREADS ||
      (uint64_t)o.threads * m.n > SIZE_MAX / sizeof *m.ids) {
    gen_opts_free(&o);
    return gen_usage_error(&li_spec, "too many events: threads*rounds*nodes*(3 + walks) overflows");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &li_spec, &o);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.links=%llu", (unsigned long long)(allocs - rounds));
  gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)reads);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)(per_round + 2 * o.threads));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&li_spec, o.threads, sizeof *m.th);
  m.ids = gen_calloc(&li_spec, (size_t)o.threads * m.n, sizeof *m.ids);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.ids && gen_emit_open(&e, &li_spec, &o, &meta) == 0) {
    for (uint32_t t = 0; t < o.threads; t++) gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    m.e = &e;
    gen_sched_run(&e, &o, li_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.ids);
  gen_opts_free(&o);
  return rc;
}
