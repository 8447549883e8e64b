/* ----------------------------------------------------------------------------
  workloads/gen/graph.c: the `graph` model (a random directed graph of node
  objects: build, random walks, tear down).

  Edges are pointer fields of the node objects (LINK events), so following
  one is a dependent load to an object allocated at an unrelated time: the
  access pattern of graph analytics and object-graph traversals, the worst
  case for locality and the best case for an allocator that moves objects.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

static int gr_main(int argc, char **argv);

const hl_gen_model_t hl_gen_graph = {
    .name = "graph",
    .summary = "each thread builds a random graph (edges = link events), walks it randomly",
    .reference = "random graphs after the Erdos-Renyi G(n, m) model (P. Erdos, A. Renyi, "
                 "\"On Random Graphs I\", 1959), walked like the pointer-chasing kernels "
                 "of Olden's mst/health (Carlisle & Rogers, PPoPP 1995)",
    .main = gr_main,
};

enum { GR_NODES, GR_EDGES, GR_WALKS, GR_LENGTH, GR_ROUNDS, GR_NPARAMS };

static const gen_param_t gr_params[GR_NPARAMS] = {
    [GR_NODES] = {"nodes", 10000, 1, GEN_MAX_COUNT, "nodes per thread and round"},
    [GR_EDGES] = {"edges", 40000, 0, GEN_MAX_COUNT,
                  "directed edges per thread and round; each node has\n"
                  "F = max(1, ceil(edges/nodes)) pointer fields"},
    [GR_WALKS] = {"walks", 100, 0, GEN_MAX_COUNT, "random walks per round"},
    [GR_LENGTH] = {"length", 1000, 1, GEN_MAX_COUNT, "nodes visited per walk"},
    [GR_ROUNDS] = {"rounds", 4, 1, GEN_MAX_COUNT,
                   "build-walk-teardown rounds per thread (each a new graph)"},
};

static const gen_spec_t gr_spec = {
    .model = &hl_gen_graph,
    .description = "Each thread, for each round:\n"
                   "  build: malloc nodes 0..N-1; then edge j = 0..E-1 goes from node j mod N\n"
                   "    (its field j div N, offset 8*(j div N)) to a node drawn uniformly\n"
                   "    (self-loops and repeats allowed): a LINK each. Node v has out-degree\n"
                   "    E div N, plus 1 if v < E mod N;\n"
                   "  walk: --walks walks of --length visits: start at a uniform node; at each\n"
                   "    visit READ one of the node's edge fields drawn uniformly (8 bytes) and\n"
                   "    go to its target; a node without edges has its null field 0 read and\n"
                   "    the walk jumps to a uniform node;\n"
                   "  teardown: null every edge field (a LINK to null per edge, in edge order),\n"
                   "    then free nodes 0..N-1: no live node points to a freed one.\n"
                   "Threads work independently (no object crosses threads).\n",
    .threads_default = 1,
    .threads_help = "threads, each with its own graphs",
    .params = gr_params,
    .nparams = GR_NPARAMS,
    .notes = "Trace (T threads, N nodes, E edges, W walks, L length, R rounds):\n"
             "  allocs = frees = T*R*N; links = 2*T*R*E (E to nodes, E to null)\n"
             "  reads = T*R*W*L; events = T*R*(2N + 2E + W*L) + 2T\n"
             "  cross-thread frees: none; live bytes at the end: 0\n"
             "  a step is one malloc, edge, visit, unlink or free\n",
    .sizes_default = "fixed:64",
    .sizes_help = "a node's size is max(the drawn size, 8*F): its edge fields",
};

typedef enum gr_phase_e { GR_ALLOC, GR_LINK, GR_WALK, GR_UNLINK, GR_FREE } gr_phase_t;

typedef struct gr_thread_s {
  gr_phase_t phase;
  uint64_t round, i, walk, at;
  gen_rng_t rng; /* sizes, targets, walks */
} gr_thread_t;

typedef struct gr_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint64_t n, edges, fields, walks, length, rounds;
  gr_thread_t *th;
  uint64_t *ids;    /* thread t's nodes at ids[t*n ...] */
  uint64_t *target; /* thread t's edge targets (node numbers) at target[t*edges ...] */
} gr_model_t;

/* One step of thread t; a finished phase moves on without a step. */
static gen_step_t gr_step(void *model, uint32_t t) {
  gr_model_t *m = model;
  gr_thread_t *th = &m->th[t];
  uint64_t *ids = m->ids + t * m->n, *target = m->target + t * m->edges;
  for (;;) {
    if (th->round == m->rounds) return GEN_STEP_DONE;
    switch (th->phase) {
      case GR_ALLOC:
        if (th->i == m->n) {
          th->phase = GR_LINK, th->i = 0;
          continue;
        } else {
          uint64_t size = gen_sizes_sample(m->sizes, &th->rng);
          ids[th->i++] = gen_emit_alloc(m->e, t, size < 8 * m->fields ? 8 * m->fields : size);
          return GEN_STEP_RAN;
        }
      case GR_LINK:
        if (th->i == m->edges) {
          th->phase = GR_WALK, th->i = 0, th->walk = 0;
          continue;
        } else {
          uint64_t j = th->i++;
          target[j] = gen_rng_below(&th->rng, m->n);
          gen_emit_link(m->e, t, ids[j % m->n], 8 * (j / m->n), ids[target[j]]);
          return GEN_STEP_RAN;
        }
      case GR_WALK: {
        if (th->walk == m->walks) {
          th->phase = GR_UNLINK, th->i = 0;
          continue;
        }
        if (th->i == 0) th->at = gen_rng_below(&th->rng, m->n);
        uint64_t v = th->at;
        uint64_t degree = m->edges / m->n + (v < m->edges % m->n);
        if (degree == 0) {
          gen_emit_read(m->e, t, ids[v], 0, 8);
          th->at = gen_rng_below(&th->rng, m->n);
        } else {
          uint64_t f = gen_rng_below(&th->rng, degree);
          gen_emit_read(m->e, t, ids[v], 8 * f, 8);
          th->at = target[f * m->n + v];
        }
        if (++th->i == m->length) th->i = 0, th->walk++;
        return GEN_STEP_RAN;
      }
      case GR_UNLINK:
        if (th->i == m->edges) {
          th->phase = GR_FREE, th->i = 0;
          continue;
        } else {
          uint64_t j = th->i++;
          gen_emit_link(m->e, t, ids[j % m->n], 8 * (j / m->n), HL_TRACE_NO_OBJECT);
          return GEN_STEP_RAN;
        }
      case GR_FREE:
        gen_emit_free(m->e, t, ids[th->i]);
        if (++th->i == m->n) th->phase = GR_ALLOC, th->i = 0, th->round++;
        return GEN_STEP_RAN;
    }
  }
}

static int gr_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&gr_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  gr_model_t m = {.sizes = &o.sizes,
                  .n = o.v[GR_NODES],
                  .edges = o.v[GR_EDGES],
                  .walks = o.v[GR_WALKS],
                  .length = o.v[GR_LENGTH],
                  .rounds = o.v[GR_ROUNDS]};
  m.fields = (m.edges + m.n - 1) / m.n;
  if (m.fields == 0) m.fields = 1;
  uint64_t rounds, allocs, links, reads, events;
  if (!gen_mul(o.threads, m.rounds, &rounds) || !gen_mul(rounds, m.n, &allocs) ||
      !gen_mul(rounds, 2 * m.edges, &links) || !gen_mul(m.walks, m.length, &reads) ||
      !gen_mul(rounds, reads, &reads) || (events = 2 * allocs + links) < links ||
      (events += reads) < reads || events > UINT64_MAX - 2 * HL_TRACE_MAX_THREADS ||
      (uint64_t)o.threads * m.n > SIZE_MAX / 16 || (uint64_t)o.threads * m.edges > SIZE_MAX / 16) {
    gen_opts_free(&o);
    return gen_usage_error(&gr_spec, "too many events or nodes: the counts overflow");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &gr_spec, &o);
  gen_meta_add(&meta, "expect.fields=%llu", (unsigned long long)m.fields);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.links=%llu", (unsigned long long)links);
  gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)reads);
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)(events + 2 * o.threads));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=0");
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&gr_spec, o.threads, sizeof *m.th);
  m.ids = gen_calloc(&gr_spec, (size_t)o.threads * m.n, sizeof *m.ids);
  m.target = gen_calloc(&gr_spec, (size_t)o.threads * m.edges, sizeof *m.target);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.ids && m.target && gen_emit_open(&e, &gr_spec, &o, &meta) == 0) {
    for (uint32_t t = 0; t < o.threads; t++) gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    m.e = &e;
    gen_sched_run(&e, &o, gr_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.ids);
  free(m.target);
  gen_opts_free(&o);
  return rc;
}
