/* ----------------------------------------------------------------------------
  workloads/gen/xmalloc.c: the `xmalloc` model (Lever & Boreham's
  xmalloc-test, as run by mimalloc-bench).

  Producer threads malloc batches of objects and push each full batch on a
  shared stack; consumer threads pop batches and free every object in them.
  Every free is therefore done by a thread other than the allocating one:
  the benchmark stresses an allocator's remote-free path.

  --message 1 makes the hand-over explicit: a producer sends its whole batch
  to one consumer as ONE message (SEND_PART events, then a SEND), which is
  what a message-passing allocator (ravioli) is built for; without it the
  replay has to hand each object over on its own before its remote free.
  The default (--message 0) emits exactly the traces it always did, byte for
  byte (the meta line of the new parameter is left out).
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int xm_main(int argc, char **argv);

const hl_gen_model_t hl_gen_xmalloc = {
    .name = "xmalloc",
    .summary = "producers malloc batches of objects, consumers free them (all frees remote)",
    .reference = "xmalloc-test: C. Lever, D. Boreham, \"malloc() Performance in a "
                 "Multithreaded Linux Environment\", USENIX 2000 FREENIX Track; defaults "
                 "follow mimalloc-bench's `xmalloc-test -w T -t 5 -s 64` "
                 "(bench/xmalloc-test/xmalloc-test.c)",
    .main = xm_main,
};

enum { XM_OBJECTS, XM_BATCH, XM_SIZE, XM_QUEUE_LIMIT, XM_HEADER, XM_MESSAGE, XM_NPARAMS };

static const gen_param_t xm_params[XM_NPARAMS] = {
    [XM_OBJECTS] = {"objects", 1048576, 1, GEN_MAX_COUNT,
                    "objects over the whole run (xmalloc-test runs for a fixed\n"
                    "time, -t 5 s; a trace fixes the work: 256 batches of 4096)"},
    [XM_BATCH] = {"batch", 4096, 1, 10000000,
                  "objects per batch; the last batch holds the remainder\n"
                  "(xmalloc-test's OBJECTS_PER_BATCH, 4096)"},
    [XM_SIZE] = {"size", 64, 0, HL_TRACE_MAX_SIZE,
                 "bytes per object; 0 = uniform over xmalloc-test's 17 sizes\n"
                 "8,12,16,24,32,48,64,96,128,192,256,384,512,768,1024,1536,2048\n"
                 "(its -s -1) (mimalloc-bench passes -s 64)"},
    [XM_QUEUE_LIMIT] = {"queue-limit", 100, 1, 1000000,
                        "full batches the stack holds before producers wait\n"
                        "(xmalloc-test's batch_count_limit, 100)"},
    [XM_HEADER] = {"header", 1, 0, 1,
                   "1: each batch is itself a malloc'ed object of 8 + 8*batch\n"
                   "bytes (xmalloc-test's struct batch: a link and the object\n"
                   "pointers), allocated by the producer before the objects and\n"
                   "freed by the consumer after them; 0: leave it out"},
    [XM_MESSAGE] = {"message", 0, 0, 1,
                    "1: a producer sends each full batch to its consumer as one\n"
                    "message (sendparts, then a send); 0: no sends, as\n"
                    "xmalloc-test (the frees are remote)"},
};

static const gen_spec_t xm_spec = {
    .model = &hl_gen_xmalloc,
    .description = "Threads 0..P-1 are producers and P..T-1 consumers, P = T/2 (at least 1).\n"
                   "A producer claims the next batch, mallocs its objects and pushes it on a\n"
                   "shared LIFO stack (as xmalloc-test does), waiting while the stack holds\n"
                   "--queue-limit batches. A consumer pops the newest batch and frees its\n"
                   "objects in allocation order. Which consumer frees which batch follows\n"
                   "from the (seeded) interleaving.\n"
                   "With --threads 1 the single thread is both: it produces a batch, then\n"
                   "frees it, so no free crosses threads. xmalloc-test's -w W starts W\n"
                   "producers and W consumers, i.e. --threads 2W here. Not modelled: the\n"
                   "memset of each object's first 128 bytes (left to the replay's access\n"
                   "model).\n"
                   "With --message 1 (and T > 1) a message needs its receiver when it is\n"
                   "sent, so batch b goes to consumer P + (b mod C), C = T - P consumers: the\n"
                   "producer, once the batch is complete, SEND_PARTs its objects in\n"
                   "allocation order to that consumer and SENDs the header last (without a\n"
                   "header: SEND_PARTs all objects but the last, SENDs the last), then\n"
                   "pushes it; a consumer pops the newest batch addressed to it. The queue\n"
                   "limit counts all queued batches. With one thread nothing is sent.\n",
    .threads_default = 8,
    .threads_help = "producers + consumers (xmalloc-test's default -w 4 is 4\n"
                    "producers and 4 consumers, so 8)",
    .params = xm_params,
    .nparams = XM_NPARAMS,
    .notes = "Trace (O objects, B batch, H header, T threads; N = ceil(O/B) batches):\n"
             "  allocs = frees = O + H*N; events = 2*(O + H*N) + 2*T\n"
             "  --message 1, T > 1: sends = N; sendparts = O + H*N - N;\n"
             "    events = 3*(O + H*N) + 2*T\n"
             "  cross-thread frees: all of them when T > 1 (fraction 1), none when\n"
             "  T = 1 (fraction 0); live bytes at the end: 0\n"
             "  a step is one malloc, one free, or one object added to a message\n",
};

/* xmalloc-test's size table for -s -1. */
static const uint64_t xm_sizes[] = {8,   12,  16,  24,  32,  48,   64,   96,  128,
                                    192, 256, 384, 512, 768, 1024, 1536, 2048};
#define XM_NSIZES (sizeof xm_sizes / sizeof xm_sizes[0])

/* A batch buffer: the ids of one batch being produced, queued or consumed. */
typedef struct xm_batch_s {
  uint64_t header; /* id of the batch object itself (when --header 1) */
  uint64_t len;    /* objects in this batch */
  uint32_t to;     /* --message 1: the consumer it is sent to */
  uint64_t *ids;
} xm_batch_t;

typedef enum xm_mode_e { XM_IDLE, XM_PRODUCING, XM_SENDING, XM_CONSUMING } xm_mode_t;

typedef struct xm_thread_s {
  xm_mode_t mode;
  uint32_t batch; /* buffer index while producing or consuming */
  int64_t pos;    /* producing: -1 = header next; consuming: len = header next */
  bool producer, consumer;
  gen_rng_t rng; /* object sizes of a producer */
} xm_thread_t;

typedef struct xm_model_s {
  gen_emit_t *e;
  uint64_t objects, batch, size, nbatches, limit;
  bool header;
  bool message; /* --message 1 with more than one thread */
  uint32_t producers, consumers;
  uint64_t claimed, taken; /* batches started by producers / popped by consumers */
  xm_batch_t *buf;         /* limit + threads buffers: all that can be in flight */
  uint32_t *free_buf, nfree;
  uint32_t *stack, nstack; /* full batches, newest last */
  xm_thread_t *th;
} xm_model_t;

static uint64_t xm_object_size(xm_model_t *m, xm_thread_t *th) {
  return m->size ? m->size : xm_sizes[gen_rng_below(&th->rng, XM_NSIZES)];
}

/* --message 1: no batch is or will be addressed to consumer t (all claimed,
   none queued for it and none being produced for it). */
static bool xm_none_for(const xm_model_t *m, uint32_t t) {
  if (m->claimed < m->nbatches) return false;
  for (uint32_t s = 0; s < m->nstack; s++)
    if (m->buf[m->stack[s]].to == t) return false;
  for (uint32_t p = 0; p < m->producers; p++)
    if (m->th[p].mode != XM_IDLE && m->buf[m->th[p].batch].to == t) return false;
  return true;
}

static gen_step_t xm_step(void *model, uint32_t t) {
  xm_model_t *m = model;
  xm_thread_t *th = &m->th[t];
  for (;;) {
    switch (th->mode) {
      case XM_PRODUCING: {
        xm_batch_t *b = &m->buf[th->batch];
        if (th->pos < 0)
          b->header = gen_emit_alloc(m->e, t, 8 + 8 * m->batch);
        else
          b->ids[th->pos] = gen_emit_alloc(m->e, t, xm_object_size(m, th));
        if ((uint64_t)++th->pos == b->len) {
          if (m->message) {
            th->mode = XM_SENDING;
            th->pos = 0;
          } else {
            m->stack[m->nstack++] = th->batch;
            th->mode = XM_IDLE;
          }
        }
        return GEN_STEP_RAN;
      }
      case XM_SENDING: {
        /* Objects 0..len-1, then the header: the last one SENDs the message.
           The producer emits nothing else in between, as a message needs. */
        xm_batch_t *b = &m->buf[th->batch];
        uint64_t n = b->len + m->header, i = (uint64_t)th->pos++;
        uint64_t id = i < b->len ? b->ids[i] : b->header;
        if (i + 1 < n) {
          gen_emit_send_part(m->e, t, id, b->to);
          return GEN_STEP_RAN;
        }
        gen_emit_send(m->e, t, id, b->to);
        m->stack[m->nstack++] = th->batch;
        th->mode = XM_IDLE;
        return GEN_STEP_RAN;
      }
      case XM_CONSUMING: {
        xm_batch_t *b = &m->buf[th->batch];
        if ((uint64_t)th->pos < b->len)
          gen_emit_free(m->e, t, b->ids[th->pos]);
        else
          gen_emit_free(m->e, t, b->header);
        if ((uint64_t)++th->pos == b->len + m->header) {
          m->free_buf[m->nfree++] = th->batch;
          th->mode = XM_IDLE;
        }
        return GEN_STEP_RAN;
      }
      case XM_IDLE:
        /* Consume first: with one thread this frees each batch right after
           producing it, and it keeps the stack short. */
        if (th->consumer && m->nstack > 0) {
          /* The newest batch; with messages, the newest sent to this thread. */
          uint32_t s = m->nstack;
          while (s > 0 && m->message && m->buf[m->stack[s - 1]].to != t) s--;
          if (s > 0) {
            th->batch = m->stack[s - 1];
            for (; s < m->nstack; s++) m->stack[s - 1] = m->stack[s];
            m->nstack--;
            th->mode = XM_CONSUMING;
            th->pos = 0;
            m->taken++;
            continue;
          }
        }
        if (th->producer && m->claimed < m->nbatches && m->nstack < m->limit) {
          th->batch = m->free_buf[--m->nfree];
          xm_batch_t *b = &m->buf[th->batch];
          uint64_t number = m->claimed++, first = number * m->batch;
          b->len = m->objects - first < m->batch ? m->objects - first : m->batch;
          b->to = m->producers + (uint32_t)(number % m->consumers);
          th->mode = XM_PRODUCING;
          th->pos = m->header ? -1 : 0;
          continue;
        }
        /* A consumer is done when every batch is taken and it holds none;
           with messages, some other consumer may be taking the last ones. */
        if ((!th->producer || m->claimed == m->nbatches) &&
            (!th->consumer || m->taken == m->nbatches || (m->message && xm_none_for(m, t))))
          return GEN_STEP_DONE;
        return GEN_STEP_BLOCKED;
    }
  }
}

static int xm_main(int argc, char **argv) {
  gen_opts_t o;
  int rc = gen_opts_parse(&xm_spec, argc, argv, &o);
  if (rc >= 0) return rc;

  xm_model_t m = {.objects = o.v[XM_OBJECTS],
                  .batch = o.v[XM_BATCH],
                  .size = o.v[XM_SIZE],
                  .limit = o.v[XM_QUEUE_LIMIT],
                  .header = o.v[XM_HEADER] != 0};
  m.nbatches = (m.objects + m.batch - 1) / m.batch;
  uint64_t allocs = m.objects + (m.header ? m.nbatches : 0);
  uint32_t producers = o.threads == 1 ? 1 : o.threads / 2;
  m.producers = producers;
  m.consumers = o.threads == 1 ? 1 : o.threads - producers;
  m.message = o.v[XM_MESSAGE] != 0 && o.threads > 1;

  gen_meta_t meta;
  gen_meta_init(&meta, &xm_spec, &o);
  if (!o.v[XM_MESSAGE]) gen_meta_drop(&meta, "param.message=0");
  gen_meta_add(&meta, "expect.producers=%u", producers);
  gen_meta_add(&meta, "expect.consumers=%u", o.threads == 1 ? 1 : o.threads - producers);
  gen_meta_add(&meta, "expect.batches=%llu", (unsigned long long)m.nbatches);
  gen_meta_add(&meta, "expect.allocs=%llu", (unsigned long long)allocs);
  gen_meta_add(&meta, "expect.frees=%llu", (unsigned long long)allocs);
  if (m.message) {
    gen_meta_add(&meta, "expect.sends=%llu", (unsigned long long)m.nbatches);
    gen_meta_add(&meta, "expect.send_parts=%llu", (unsigned long long)(allocs - m.nbatches));
  }
  gen_meta_add(&meta, "expect.events=%llu",
               (unsigned long long)((m.message ? 3 : 2) * allocs + 2 * o.threads));
  gen_meta_add(&meta, "expect.cross_thread_free_fraction=%d", o.threads > 1);
  gen_meta_add(&meta, "expect.live_bytes_at_end=0");

  /* At most `limit` batches wait on the stack and each thread holds at most
     one more, so limit + threads buffers always suffice. A run with fewer
     batches than that needs only one buffer per batch. */
  uint64_t nbuf = m.limit + o.threads;
  if (nbuf > m.nbatches) nbuf = m.nbatches;
  uint64_t ids_len;
  m.th = gen_calloc(&xm_spec, o.threads, sizeof *m.th);
  m.buf = gen_calloc(&xm_spec, nbuf, sizeof *m.buf);
  m.free_buf = gen_calloc(&xm_spec, nbuf, sizeof *m.free_buf);
  m.stack = gen_calloc(&xm_spec, nbuf, sizeof *m.stack);
  uint64_t *ids = NULL;
  if (m.th && m.buf && m.free_buf && m.stack && gen_mul(nbuf, m.batch, &ids_len) &&
      ids_len <= SIZE_MAX / sizeof *ids)
    ids = gen_calloc(&xm_spec, ids_len, sizeof *ids);
  else if (m.th && m.buf && m.free_buf && m.stack)
    fprintf(stderr, "hltrace gen xmalloc: batch buffers too large\n");
  gen_emit_t e;
  rc = 1;
  if (ids && gen_emit_open(&e, &xm_spec, &o, &meta) == 0) {
    for (uint64_t i = 0; i < nbuf; i++) {
      m.buf[i].ids = ids + i * m.batch;
      m.free_buf[i] = (uint32_t)(nbuf - 1 - i);
    }
    m.nfree = (uint32_t)nbuf;
    for (uint32_t t = 0; t < o.threads; t++) {
      m.th[t].producer = t < producers;
      m.th[t].consumer = o.threads == 1 || t >= producers;
      gen_rng_seed(&m.th[t].rng, o.seed, 1 + (uint64_t)t);
    }
    m.e = &e;
    gen_sched_run(&e, &o, xm_step, &m);
    rc = gen_emit_close(&e);
  }
  free(ids);
  free(m.th);
  free(m.buf);
  free(m.free_buf);
  free(m.stack);
  return rc;
}
