/* ----------------------------------------------------------------------------
  workloads/gen/pipeline.c: the `pipeline` model (message passing between
  thread stages).

  Thread 0 builds messages (linked lists of nodes) and SENDs every node to
  thread 1; each stage walks the message, updates it and sends it on; the
  last stage walks it and frees it. Every object is allocated by one thread,
  touched by all and freed by another: the producer/consumer pattern of
  servers and stream processors, and the case the Ravioli design's page
  hand-over between threads is meant for.

  --whole 1 sends each message as ONE message (SEND_PART for every node but
  the last, then SEND), so the list's next links travel with it: per-node
  sends cut every link that crosses a message in a moving allocator, and
  cost it one hand-over per node, which is not what the design is for
  (issue 17). The default (--whole 0) emits exactly the traces it always
  did, byte for byte (the meta line of the new parameter is left out).
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pl_main(int argc, char **argv);

const hl_gen_model_t hl_gen_pipeline = {
    .name = "pipeline",
    .summary = "stages pass linked messages thread to thread (send events); the last frees",
    .reference = "staged producer/consumer servers (M. Welsh, D. Culler, E. Brewer, \"SEDA: "
                 "An Architecture for Well-Conditioned, Scalable Internet Services\", SOSP "
                 "2001), with the messages of the Ravioli design (alloc/ravioli/README.md)",
    .main = pl_main,
};

enum { PL_MESSAGES, PL_NODES, PL_INFLIGHT, PL_WHOLE, PL_NPARAMS };

static const gen_param_t pl_params[PL_NPARAMS] = {
    [PL_MESSAGES] = {"messages", 10000, 1, GEN_MAX_COUNT, "messages built by thread 0"},
    [PL_NODES] = {"nodes", 32, 1, 1000000, "nodes per message (a linked list)"},
    [PL_INFLIGHT] = {"inflight", 8, 1, 1000000,
                     "messages built but not yet freed, at most: thread 0 waits\n"
                     "beyond it (a bounded queue)"},
    [PL_WHOLE] = {"whole", 0, 0, 1,
                  "1: a stage sends a message as one message (sendpart events\n"
                  "for all nodes but the last, then a send), keeping its links;\n"
                  "stages read whole nodes and stage 0 writes the payloads.\n"
                  "0: one send per node, as the model always did"},
};

static const gen_spec_t pl_spec = {
    .model = &hl_gen_pipeline,
    .description = "Stage s is thread s (T stages). Messages m = 0..M-1 go through the stages\n"
                   "in order; stage s takes message m once stage s-1 has sent all of it.\n"
                   "  stage 0 builds: malloc nodes 0..K-1, LINK node i-1's next field (offset\n"
                   "    0) to node i; then SENDs nodes 0..K-1 to thread 1;\n"
                   "  stage 0 < s < T-1, per node: READ its next field (8 bytes), WRITE its\n"
                   "    payload (offset 8 to the end; length 0 for an 8-byte node), SEND it to\n"
                   "    thread s+1;\n"
                   "  stage T-1, per node: READ its next field, free it (the head first, so no\n"
                   "    live node points to a freed one).\n"
                   "With --threads 1 thread 0 builds, reads and frees each message itself.\n"
                   "With --whole 1 a message travels whole and each stage walks it:\n"
                   "  stage 0 builds: malloc node i, WRITE its payload (offset 8 to the end),\n"
                   "    LINK node i-1's next field to it; then SEND_PART nodes 0..K-2 to\n"
                   "    thread 1 and SEND node K-1 (one message; the links stay inside it);\n"
                   "  stage 0 < s < T-1: per node in list order READ the whole node (next\n"
                   "    field and payload) and WRITE its payload; then send the message on\n"
                   "    whole (SEND_PART nodes 0..K-2, SEND node K-1) to thread s+1;\n"
                   "  stage T-1, per node in list order: READ the whole node, free it.\n"
                   "  So every allocator does the same work: a flat one reads the list in\n"
                   "  place, a moving one walks what it received. Sweep --nodes for the\n"
                   "  message size and --sizes fixed:N for the node size.\n",
    .threads_default = 4,
    .threads_help = "stages, one thread each",
    .params = pl_params,
    .nparams = PL_NPARAMS,
    .notes = "Trace (T stages, M messages, K nodes each):\n"
             "  allocs = frees = M*K; links = M*(K-1)\n"
             "  T > 1: sends = reads = M*K*(T-1); writes = M*K*(T-2)\n"
             "         events = M*K*(3T-1) - M + 2T; every free is cross-thread\n"
             "  T = 1: reads = M*K, no sends or writes; events = 4*M*K - M + 2\n"
             "  --whole 1, T > 1: sends = M*(T-1); sendparts = M*(K-1)*(T-1);\n"
             "         reads = writes = M*K*(T-1); events = 3*M*K*T - M + 2T\n"
             "  --whole 1, T = 1: reads = writes = M*K; events = 5*M*K - M + 2\n"
             "  live bytes at the end: 0\n"
             "  a step is one node built, sent (or added to a message), or handled by a\n"
             "  later stage\n",
    .sizes_default = "fixed:64",
    .sizes_help = "a node's size is max(the drawn size, 8): the next field",
};

typedef enum pl_phase_e { PL_IDLE, PL_BUILD, PL_SEND, PL_WORK } pl_phase_t;

typedef struct pl_thread_s {
  pl_phase_t phase;
  uint64_t i;
} pl_thread_t;

typedef struct pl_model_s {
  gen_emit_t *e;
  const gen_sizes_t *sizes;
  uint32_t stages;
  uint64_t messages, k, inflight;
  bool whole;    /* one message per message, not one send per node */
  gen_rng_t rng; /* node sizes (only thread 0 allocates) */
  pl_thread_t *th;
  uint64_t *done; /* messages each stage has finished */
  uint64_t *ids;  /* message m's nodes at ids[(m % inflight) * k ...] */
  uint64_t *size; /* ... and their sizes */
} pl_model_t;

static gen_step_t pl_step(void *model, uint32_t t) {
  pl_model_t *m = model;
  pl_thread_t *th = &m->th[t];
  uint64_t msg = m->done[t];
  uint64_t *ids = m->ids + (msg % m->inflight) * m->k, *size = m->size + (msg % m->inflight) * m->k;
  bool last = t + 1 == m->stages;
  for (;;) {
    switch (th->phase) {
      case PL_IDLE:
        if (msg == m->messages) return GEN_STEP_DONE;
        if (t == 0) {
          if (msg - m->done[m->stages - 1] >= m->inflight) return GEN_STEP_BLOCKED;
          th->phase = PL_BUILD;
        } else {
          if (m->done[t - 1] <= msg) return GEN_STEP_BLOCKED;
          th->phase = PL_WORK;
        }
        th->i = 0;
        continue;
      case PL_BUILD: {
        uint64_t s = gen_sizes_sample(m->sizes, &m->rng);
        size[th->i] = s < 8 ? 8 : s;
        ids[th->i] = gen_emit_alloc(m->e, t, size[th->i]);
        /* Whole messages carry a payload that later stages read. */
        if (m->whole) gen_emit_write(m->e, t, ids[th->i], 8, size[th->i] - 8);
        if (th->i > 0) gen_emit_link(m->e, t, ids[th->i - 1], 0, ids[th->i]);
        if (++th->i == m->k) th->phase = last ? PL_WORK : PL_SEND, th->i = 0;
        return GEN_STEP_RAN;
      }
      case PL_SEND:
        /* Whole: nodes 0..K-2 join the message, node K-1's send closes it.
           The thread emits nothing else until then, as a message requires. */
        if (m->whole && th->i + 1 < m->k)
          gen_emit_send_part(m->e, t, ids[th->i], t + 1);
        else
          gen_emit_send(m->e, t, ids[th->i], t + 1);
        if (++th->i == m->k) m->done[t]++, th->phase = PL_IDLE;
        return GEN_STEP_RAN;
      case PL_WORK: {
        uint64_t id = ids[th->i];
        if (m->whole) {
          /* Walk the received list: the next field and the payload. */
          gen_emit_read(m->e, t, id, 0, size[th->i]);
          if (last)
            gen_emit_free(m->e, t, id);
          else
            gen_emit_write(m->e, t, id, 8, size[th->i] - 8);
          if (++th->i == m->k) {
            th->i = 0;
            if (last)
              m->done[t]++, th->phase = PL_IDLE;
            else
              th->phase = PL_SEND; /* the walk is done: pass it on whole */
          }
          return GEN_STEP_RAN;
        }
        gen_emit_read(m->e, t, id, 0, 8);
        if (last) {
          gen_emit_free(m->e, t, id);
        } else {
          gen_emit_write(m->e, t, id, 8, size[th->i] - 8);
          gen_emit_send(m->e, t, id, t + 1);
        }
        if (++th->i == m->k) m->done[t]++, th->phase = PL_IDLE;
        return GEN_STEP_RAN;
      }
    }
  }
}

static int pl_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&pl_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  pl_model_t m = {.sizes = &o.sizes,
                  .stages = o.threads,
                  .messages = o.v[PL_MESSAGES],
                  .k = o.v[PL_NODES],
                  .inflight = o.v[PL_INFLIGHT],
                  .whole = o.v[PL_WHOLE] != 0};
  if (m.inflight > m.messages) m.inflight = m.messages; /* no more buffers than messages */
  uint64_t nodes, per_node, events, pool;
  uint64_t t = o.threads;
  /* Events per node: see the notes (whole: 3T, or 5 with one thread). */
  uint64_t per = m.whole ? (t > 1 ? 3 * t : 5) : (t > 1 ? 3 * t - 1 : 4);
  if (!gen_mul(m.messages, m.k, &nodes) || !gen_mul(nodes, per, &per_node) ||
      (events = per_node - m.messages + 2 * t) < 2 * t || !gen_mul(m.inflight, m.k, &pool) ||
      pool > SIZE_MAX / 16) {
    gen_opts_free(&o);
    return gen_usage_error(&pl_spec, "too many events: messages*nodes*(3*threads-1) overflows");
  }

  gen_meta_t meta;
  gen_meta_init(&meta, &pl_spec, &o);
  if (!m.whole) gen_meta_drop(&meta, "param.whole=0");
  uint64_t reads = nodes * (t > 1 ? t - 1 : 1);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)nodes);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)nodes);
  gen_meta_add(&meta, "expect.links=%llu", (unsigned long long)(nodes - m.messages));
  if (m.whole) {
    gen_meta_add(&meta, "expect.sends=%llu", (unsigned long long)(m.messages * (t - 1)));
    gen_meta_add(&meta, "expect.send_parts=%llu",
                 (unsigned long long)((nodes - m.messages) * (t - 1)));
    gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)reads);
    gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)reads);
  } else {
    gen_meta_add(&meta, "expect.sends=%llu", (unsigned long long)(nodes * (t - 1)));
    gen_meta_add(&meta, "expect.reads=%llu", (unsigned long long)reads);
    gen_meta_add(&meta, "expect.writes=%llu", (unsigned long long)(nodes * (t > 2 ? t - 2 : 0)));
  }
  gen_meta_add(&meta, "expect.events=%llu", (unsigned long long)events);
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=%d", t > 1);
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  m.th = gen_calloc(&pl_spec, o.threads, sizeof *m.th);
  m.done = gen_calloc(&pl_spec, o.threads, sizeof *m.done);
  m.ids = gen_calloc(&pl_spec, pool, sizeof *m.ids);
  m.size = gen_calloc(&pl_spec, pool, sizeof *m.size);
  gen_emit_t e;
  rc = 1;
  if (m.th && m.done && m.ids && m.size && gen_emit_open(&e, &pl_spec, &o, &meta) == 0) {
    gen_rng_seed(&m.rng, o.seed, 1);
    m.e = &e;
    gen_sched_run(&e, &o, pl_step, &m);
    rc = gen_emit_close(&e);
  }
  free(m.th);
  free(m.done);
  free(m.ids);
  free(m.size);
  gen_opts_free(&o);
  return rc;
}
