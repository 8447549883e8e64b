/* ----------------------------------------------------------------------------
  workloads/gen/tree.c: the `tree` model (a balanced binary search tree:
  insert, traverse, free).

  Each thread inserts N nodes into a binary search tree, in the order that
  keeps it balanced (level order), reading the child pointer of every node
  on the insertion path and LINKing the new node into its parent. It then
  traverses the tree in key order (in-order), which visits nodes in an order
  unrelated to their allocation order, and frees it top-down.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

static int tr_main(int argc, char **argv);

const hl_gen_model_t hl_gen_tree = {
    .name = "tree",
    .summary = "each thread builds a balanced binary tree by insertion, traverses it, frees it",
    .reference = "the tree builders of allocator and GC benchmarks: H. Boehm's GCBench and "
                 "the Computer Language Benchmarks Game's binary-trees (trees of two-pointer "
                 "nodes), Olden's treeadd (M. C. Carlisle, A. Rogers, PPoPP 1995)",
    .main = tr_main,
};

enum { TR_NODES, TR_WALKS, TR_ROUNDS, TR_NPARAMS };

static const gen_param_t tr_params[TR_NPARAMS] = {
    [TR_NODES] = {"nodes", 10000, 1, GEN_MAX_COUNT, "tree nodes per thread and round"},
    [TR_WALKS] = {"walks", 10, 0, GEN_MAX_COUNT, "in-order traversals per round"},
    [TR_ROUNDS] = {"rounds", 10, 1, GEN_MAX_COUNT,
                   "build-walk-free rounds per thread (each round a new tree)"},
};

static const gen_spec_t tr_spec = {
    .model = &hl_gen_tree,
    .description = "Nodes are numbered in level order: node 1 is the root, the children of\n"
                   "node i are 2i (left field, offset 0) and 2i+1 (right field, offset 8):\n"
                   "the shape a search tree gets when keys are inserted median first, so it\n"
                   "is balanced (height floor(log2 N)). Each thread, for each round:\n"
                   "  insert nodes 1..N in order: READ the child field of each ancestor of\n"
                   "    node i from the root down (floor(log2 i) reads: the search path),\n"
                   "    malloc node i, LINK it into its parent's field;\n"
                   "  walk: --walks in-order traversals, one READ of both fields (16 bytes)\n"
                   "    per node;\n"
                   "  free: nodes 1..N in level order, a parent before its children, so no\n"
                   "    live node ever points to a freed one.\n"
                   "Threads work independently (no object crosses threads).\n",
    .threads_default = 1,
    .threads_help = "threads, each with its own trees",
    .params = tr_params,
    .nparams = TR_NPARAMS,
    .notes = "Trace (T threads, N nodes, W walks, R rounds; D = sum_{i=1..N}\n"
             "floor(log2 i) = (N+1)k - 2^(k+1) + 2 with k = floor(log2 N)):\n"
             "  allocs = frees = T*R*N; links = T*R*(N-1); reads = T*R*(D + W*N)\n"
             "  events = T*R*(3N - 1 + D + W*N) + 2T\n"
             "  cross-thread frees: none; live bytes at the end: 0\n"
             "  a step is one insertion (reads + malloc + link), one node visited or\n"
             "  one free\n",
    .sizes_default = "fixed:32",
    .sizes_help = "a node's size is max(the drawn size, 16): the two child fields",
};

typedef enum tr_phase_e { TR_BUILD, TR_WALK, TR_FREE } tr_phase_t;

typedef struct tr_thread_s {
  tr_phase_t phase;
  uint64_t round, i, walk;
  gen_rng_t rng; /* node sizes */
} tr_thread_t;

typedef struct tr_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint64_t n, walks, rounds;
  tr_thread_t *th;
  uint64_t *ids;     /* thread t's node i (1..n) at ids[t*(n+1) + i] */
  uint64_t *inorder; /* the level-order numbers in key order */
} tr_model_t;

static unsigned tr_log2(uint64_t x) {
  return 63u - (unsigned)__builtin_clzll(x);
}

static gen_step_t tr_step(void *model, uint32_t t) {
  tr_model_t *m = model;
  tr_thread_t *th = &m->th[t];
  uint64_t *ids = m->ids + t * (m->n + 1);
  for (;;) {
    if (th->round == m->rounds) return GEN_STEP_DONE;
    switch (th->phase) {
      case TR_BUILD: {
        uint64_t i = ++th->i; /* 1-based */
        /* The search path: the ancestors of i from the root, each read at
           the child field the path takes next. */
        for (unsigned d = tr_log2(i); d > 0; d--) {
          uint64_t a = i >> d, next = i >> (d - 1);
          gen_emit_read(m->e, t, ids[a], 8 * (next & 1), 8);
        }
        uint64_t size = gen_sizes_sample(m->sizes, &th->rng);
        ids[i] = gen_emit_alloc(m->e, t, size < 16 ? 16 : size);
        if (i > 1) gen_emit_link(m->e, t, ids[i / 2], 8 * (i & 1), ids[i]);
        if (i == m->n) th->phase = m->walks ? TR_WALK : TR_FREE, th->i = 0, th->walk = 0;
        return GEN_STEP_RAN;
      }
      case TR_WALK:
        gen_emit_read(m->e, t, ids[m->inorder[th->i]], 0, 16);
        if (++th->i == m->n) {
          th->i = 0;
          if (++th->walk == m->walks) th->phase = TR_FREE;
        }
        return GEN_STEP_RAN;
      case TR_FREE:
        gen_emit_free(m->e, t, ids[++th->i]);
        if (th->i == m->n) th->phase = TR_BUILD, th->i = 0, th->round++;
        return GEN_STEP_RAN;
    }
  }
}

/* In-order sequence of the level-numbered complete tree 1..n, iteratively
   (the tree can be deeper than a comfortable recursion only in theory, but
   an explicit stack costs nothing). */
static void tr_inorder(uint64_t n, uint64_t *out) {
  uint64_t stack[64], top = 0, k = 0, i = 1;
  while (i <= n || top > 0) {
    while (i <= n) stack[top++] = i, i *= 2;
    i = stack[--top];
    out[k++] = i;
    i = 2 * i + 1;
  }
}

static int tr_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&tr_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  tr_model_t m = {
      .sizes = &o.sizes, .n = o.v[TR_NODES], .walks = o.v[TR_WALKS], .rounds = o.v[TR_ROUNDS]};
  unsigned k = tr_log2(m.n);
  uint64_t depth_sum = (m.n + 1) * k - (UINT64_C(2) << k) + 2; /* n <= 1e9: fits */
  uint64_t rounds, allocs, reads, per_round, events;
  if (!gen_mul(o.threads, m.rounds, &rounds) || !gen_mul(rounds, m.n, &allocs) ||
      !gen_mul(m.n, m.walks, &reads) || (reads += depth_sum) < depth_sum ||
      !gen_mul(rounds, reads, &reads) || !gen_mul(rounds, 3 * m.n - 1 + depth_sum, &per_round) ||
      (events = per_round + reads - rounds * depth_sum) < per_round ||
      events > UINT64_MAX - 2 * HL_TRACE_MAX_THREADS ||
      (uint64_t)o.threads * (m.n + 1) > SIZE_MAX / sizeof *m.ids) {
    gen_opts_free(&o);
    return gen_usage_error(&tr_spec, "too many events: threads*rounds*nodes*(3 + walks) overflows");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &tr_spec, &o);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.links=%llu", (unsigned long long)(allocs - rounds));
  gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)reads);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)(events + 2 * o.threads));
  gen_meta_add(&meta, "expect.height=%u", k);
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&tr_spec, o.threads, sizeof *m.th);
  m.ids = gen_calloc(&tr_spec, (size_t)o.threads * (m.n + 1), sizeof *m.ids);
  m.inorder = gen_calloc(&tr_spec, m.n, sizeof *m.inorder);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.ids && m.inorder && gen_emit_open(&e, &tr_spec, &o, &meta) == 0) {
    tr_inorder(m.n, m.inorder);
    for (uint32_t t = 0; t < o.threads; t++) gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    m.e = &e;
    gen_sched_run(&e, &o, tr_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.ids);
  free(m.inorder);
  gen_opts_free(&o);
  return rc;
}
