/* ----------------------------------------------------------------------------
  workloads/gen/treepass.c: the `treepass` model (producers build binary
  trees and pass each whole tree to a consumer, which walks and frees it).

  A tree is a set of linked objects that belongs together: sent as ONE
  message (SEND_PART for every node but the root, then SEND of the root) it
  keeps its links, and a message-passing allocator (ravioli) can hand its
  pages over in one piece. A flat allocator leaves the nodes where the
  producer put them and the consumer reads them there (remote frees). Both
  do the same work: the consumer reads every node's two links and payload
  in depth-first order and frees it.

  heaplab's own model: the trees are those of the `tree` model (GCBench's
  and binary-trees' two-pointer nodes), passed producer to consumer the way
  staged servers pass requests (SEDA, SOSP 2001) and the Ravioli design
  passes messages (alloc/ravioli/README.md).
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>

extern const hl_gen_model_t hl_gen_treepass; /* gen.c's table */

static int tp_main(int argc, char **argv);

const hl_gen_model_t hl_gen_treepass = {
    .name = "treepass",
    .summary = "producers build binary trees and send each whole to a consumer, which "
               "walks it and frees it",
    .reference = "heaplab's own: the two-pointer trees of H. Boehm's GCBench and the "
                 "binary-trees benchmark, handed between threads as one message each (the "
                 "Ravioli design, alloc/ravioli/README.md; staged servers: M. Welsh et al., "
                 "\"SEDA\", SOSP 2001)",
    .main = tp_main,
};

enum { TP_TREES, TP_NODES, TP_INFLIGHT, TP_NPARAMS };

static const gen_param_t tp_params[TP_NPARAMS] = {
    [TP_TREES] = {"trees", 1000, 1, GEN_MAX_COUNT, "trees each producer builds"},
    [TP_NODES] = {"nodes", 1023, 1, 10000000, "nodes per tree (1023: a complete tree of height 9)"},
    [TP_INFLIGHT] = {"inflight", 4, 1, 1000000,
                     "trees of one producer sent but not yet freed, at most:\n"
                     "the producer waits beyond it (a bounded queue)"},
};

static const gen_spec_t tp_spec = {
    .model = &hl_gen_treepass,
    .description = "Threads 0..P-1 are producers and P..T-1 consumers, P = T/2 (at least 1),\n"
                   "C = T - P. Nodes of a tree are numbered in level order: node 1 is the\n"
                   "root, node i's children are 2i (left field, offset 0) and 2i+1 (right\n"
                   "field, offset 8), the payload follows at offset 16.\n"
                   "  producer p, tree j = 0..R-1: for i = 1..N malloc node i, WRITE its\n"
                   "    payload (offset 16 to the end), LINK it into its parent's field; then\n"
                   "    send the tree as one message to consumer P + ((p + j) mod C):\n"
                   "    SEND_PART nodes 2..N, SEND node 1 (the root closes the message);\n"
                   "  consumer: takes the trees sent to it in arrival order and walks each\n"
                   "    depth first (pre-order from the root): READ the whole node (both\n"
                   "    links and the payload), free it (a parent before its children, so\n"
                   "    no live node points to a freed one).\n"
                   "With --threads 1 the thread builds each tree and walks and frees it\n"
                   "itself (nothing is sent).\n",
    .threads_default = 4,
    .threads_help = "producers + consumers (half each; one thread does both)",
    .params = tp_params,
    .nparams = TP_NPARAMS,
    .notes = "Trace (T threads, P producers, R trees, N nodes; Q = P*R trees):\n"
             "  allocs = frees = writes = reads = Q*N; links = Q*(N-1)\n"
             "  T > 1: sends = Q; sendparts = Q*(N-1); events = 6*Q*N - Q + 2T;\n"
             "         every free is cross-thread\n"
             "  T = 1: no sends; events = 5*R*N - R + 2\n"
             "  live bytes at the end: 0\n"
             "  a step is one node built, one node added to a message (or the send),\n"
             "  or one node walked and freed\n",
    .sizes_default = "fixed:32",
    .sizes_help = "a node's size is max(the drawn size, 16): the two child fields",
};

typedef enum tp_phase_e { TP_IDLE, TP_BUILD, TP_SEND, TP_WALK } tp_phase_t;

typedef struct tp_thread_s {
  tp_phase_t phase;
  uint64_t i;                   /* node (build, send) or pre-order position (walk) */
  uint64_t tree;                /* producer: trees started */
  uint64_t slot;                /* the tree buffer being built or walked */
  uint32_t from;                /* walk: its producer */
  uint64_t *queue, qhead, qlen; /* consumer: (producer, slot) pairs, FIFO */
  gen_rng_t rng;                /* producer: node sizes */
} tp_thread_t;

typedef struct tp_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint32_t threads, producers, consumers;
  uint64_t trees, n, inflight;
  uint64_t sent; /* trees sent (or, with one thread, built), all producers */
  tp_thread_t *th;
  uint64_t *ids, *size; /* producer p's slot s: node i at [(p*inflight + s)*(n+1) + i] */
  bool *busy;           /* producer p's slot s holds a live tree */
  uint64_t *preorder;   /* the level-order numbers in depth-first pre-order */
} tp_model_t;

static gen_step_t tp_step(void *model, uint32_t t) {
  tp_model_t *m = model;
  tp_thread_t *th = &m->th[t];
  bool producer = t < m->producers;
  for (;;) {
    size_t base =
        ((size_t)(th->phase == TP_WALK ? th->from : t) * m->inflight + th->slot) * (m->n + 1);
    uint64_t *ids = m->ids + base, *size = m->size + base;
    switch (th->phase) {
      case TP_IDLE:
        if (producer && th->tree < m->trees) {
          th->slot = th->tree % m->inflight;
          if (m->busy[t * m->inflight + th->slot]) return GEN_STEP_BLOCKED;
          m->busy[t * m->inflight + th->slot] = true;
          th->phase = TP_BUILD;
          th->i = 0;
          continue;
        }
        if (!producer && th->qlen > 0) {
          uint64_t q = th->queue[th->qhead];
          th->qhead = (th->qhead + 1) % (m->producers * m->inflight);
          th->qlen--;
          th->from = (uint32_t)(q / m->inflight);
          th->slot = q % m->inflight;
          th->phase = TP_WALK;
          th->i = 0;
          continue;
        }
        if (producer ? th->tree == m->trees : m->sent == m->producers * m->trees)
          return GEN_STEP_DONE;
        return GEN_STEP_BLOCKED;
      case TP_BUILD: {
        uint64_t i = ++th->i, s = gen_sizes_sample(m->sizes, &th->rng);
        size[i] = s < 16 ? 16 : s;
        ids[i] = gen_emit_alloc(m->e, t, size[i]);
        gen_emit_write(m->e, t, ids[i], 16, size[i] - 16);
        if (i > 1) gen_emit_link(m->e, t, ids[i / 2], 8 * (i & 1), ids[i]);
        if (i == m->n) {
          th->i = 0;
          if (m->threads == 1) { /* walk it here: nothing to send */
            th->from = t;
            th->phase = TP_WALK;
            th->tree++;
            m->sent++;
          } else {
            th->phase = TP_SEND;
          }
        }
        return GEN_STEP_RAN;
      }
      case TP_SEND: {
        /* Nodes 2..N join the message, the root's send closes it; nothing
           else of this thread comes in between. */
        uint32_t to = m->producers + (uint32_t)((t + th->tree) % m->consumers);
        uint64_t i = th->i + 2;
        if (i <= m->n) {
          gen_emit_send_part(m->e, t, ids[i], to);
          th->i++;
          return GEN_STEP_RAN;
        }
        gen_emit_send(m->e, t, ids[1], to);
        tp_thread_t *c = &m->th[to];
        uint64_t cap = m->producers * m->inflight;
        c->queue[(c->qhead + c->qlen++) % cap] = t * m->inflight + th->slot;
        th->tree++;
        m->sent++;
        th->phase = TP_IDLE;
        return GEN_STEP_RAN;
      }
      case TP_WALK: {
        uint64_t i = m->preorder[th->i];
        gen_emit_read(m->e, t, ids[i], 0, size[i]);
        gen_emit_free(m->e, t, ids[i]);
        if (++th->i == m->n) {
          m->busy[th->from * m->inflight + th->slot] = false;
          th->phase = TP_IDLE;
        }
        return GEN_STEP_RAN;
      }
    }
  }
}

/* Pre-order of the level-numbered complete tree 1..n, with an explicit
   stack (right child pushed first, so the left subtree comes first). */
static void tp_preorder(uint64_t n, uint64_t *out) {
  uint64_t stack[128], top = 0, k = 0;
  stack[top++] = 1;
  while (top > 0) {
    uint64_t i = stack[--top];
    out[k++] = i;
    if (2 * i + 1 <= n) stack[top++] = 2 * i + 1;
    if (2 * i <= n) stack[top++] = 2 * i;
  }
}

static int tp_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&tp_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  tp_model_t m = {.sizes = &o.sizes,
                  .threads = o.threads,
                  .trees = o.v[TP_TREES],
                  .n = o.v[TP_NODES],
                  .inflight = o.v[TP_INFLIGHT]};
  if (m.inflight > m.trees) m.inflight = m.trees; /* no more buffers than trees */
  m.producers = o.threads == 1 ? 1 : o.threads / 2;
  m.consumers = o.threads == 1 ? 1 : o.threads - m.producers;
  uint64_t q, qn, per, events, pool;
  if (!gen_mul(m.producers, m.trees, &q) || !gen_mul(q, m.n, &qn) ||
      !gen_mul(qn, o.threads > 1 ? 6 : 5, &per) || (events = per - q + 2 * o.threads) < per - q ||
      !gen_mul((uint64_t)m.producers * m.inflight, m.n + 1, &pool) ||
      pool > SIZE_MAX / (2 * sizeof(uint64_t))) {
    gen_opts_free(&o);
    return gen_usage_error(&tp_spec, "too many events or buffers: producers*trees*nodes*6 "
                                     "or producers*inflight*nodes overflows");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &tp_spec, &o);
  gen_meta_add(&meta, "expect.producers=%u", m.producers);
  gen_meta_add(&meta, "expect.consumers=%u", m.consumers);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)qn);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)qn);
  gen_meta_add(&meta, "expect.links=%llu", (unsigned long long)(qn - q));
  gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)qn);
  gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)qn);
  gen_meta_add(&meta, "expect.sends=%llu", (unsigned long long)(o.threads > 1 ? q : 0));
  gen_meta_add(&meta, "expect.send_parts=%llu", (unsigned long long)(o.threads > 1 ? qn - q : 0));
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)events);
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=%d", o.threads > 1);
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&tp_spec, o.threads, sizeof *m.th);
  m.ids = gen_calloc(&tp_spec, pool, sizeof *m.ids);
  m.size = gen_calloc(&tp_spec, pool, sizeof *m.size);
  m.busy = gen_calloc(&tp_spec, (size_t)m.producers * m.inflight, sizeof *m.busy);
  m.preorder = gen_calloc(&tp_spec, m.n, sizeof *m.preorder);
  bool ok = m.th && m.ids && m.size && m.busy && m.preorder;
  for (uint32_t t = m.producers; ok && o.threads > 1 && t < o.threads; t++)
    ok = (m.th[t].queue =
              gen_calloc(&tp_spec, (size_t)m.producers * m.inflight, sizeof *m.th[t].queue));
  gen_emit_t e;
  rc = 1;
  if (ok && gen_emit_open(&e, &tp_spec, &o, &meta) == 0) {
    tp_preorder(m.n, m.preorder);
    for (uint32_t t = 0; t < o.threads; t++) gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    m.e = &e;
    gen_sched_run(&e, &o, tp_step, &m);
    rc = gen_emit_close(&e);
  }
  for (uint32_t t = 0; m.th && t < o.threads; t++) free(m.th[t].queue);
  free(m.th);
  free(m.ids);
  free(m.size);
  free(m.busy);
  free(m.preorder);
  gen_opts_free(&o);
  return rc;
}
