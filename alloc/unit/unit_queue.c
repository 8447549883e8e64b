/* ----------------------------------------------------------------------------
  alloc/unit/unit_queue.c: the ServerKit queue primitive: a queue that
  carries its own unit heap, so a producer allocates an entry for the
  consumer from the queue's heap (the queue's own lock, never a global one)
  and the consumer releases it back there. Producers to different queues
  never meet; producers to one queue meet only on that heap's mutex.

  The queue is Dmitry Vyukov's intrusive multi-producer single-consumer
  queue: a push is one atomic exchange on the tail plus a store, a pop is
  plain loads by the single consumer. A pop may return NULL while a producer
  sits between its exchange and its store (the entry then appears on a later
  pop); callers that wait for a known number of entries simply retry.

  An entry's unit is [queue link, 16 bytes][entry_size bytes]: the link
  lives inside the unit so pushing allocates nothing.

  Where nodes come from is a parameter (hl_unit_queue_source_t: an
  alloc/release pair): hl_unit_queue_new uses the queue's own unit heap,
  hl_unit_queue_new_with any other source (malloc/free in
  harness/hlqueuebench.c), so a benchmark compares entry sources with the
  very same queue code, the same indirect call on both sides.
---------------------------------------------------------------------------- */
#include "alloc/unit/unit_internal.h"
#include <stdlib.h>

typedef struct unit_qnode_s {
  _Atomic(struct unit_qnode_s *) next;
  void *pad; /* keeps the entry 16-byte aligned */
} unit_qnode_t;

_Static_assert(sizeof(unit_qnode_t) == 16, "entries must stay 16-byte aligned");

struct hl_unit_queue_s {
  _Atomic(unit_qnode_t *) tail; /* producers exchange here */
  char pad[64 - sizeof(void *)];
  unit_qnode_t *head; /* consumer only */
  unit_qnode_t stub;
  hl_unit_heap_t *heap; /* the own heap (NULL with a foreign source) */
  hl_unit_queue_source_t src;
  size_t node_size;
};

/* The built-in source: units of the queue's own thread-safe heap. */
static void *queue_unit_alloc(void *arg, size_t node_size, hl_unit_status_t *why) {
  (void)node_size;
  return hl_unit_alloc(arg, why);
}
static void queue_unit_release(void *arg, void *node) {
  (void)arg;
  hl_unit_release(node);
}

static inline unit_qnode_t *queue_node(void *entry) {
  return (unit_qnode_t *)((char *)entry - sizeof(unit_qnode_t));
}
static inline void *queue_entry_of(unit_qnode_t *n) {
  return (char *)n + sizeof(unit_qnode_t);
}

static hl_unit_queue_t *queue_make(size_t entry_size, hl_unit_status_t *why) {
  hl_unit_queue_t *q = calloc(1, sizeof *q);
  if (q == NULL) {
    if (why) *why = HL_UNIT_E_NOMEM;
    return NULL;
  }
  q->node_size = sizeof(unit_qnode_t) + entry_size;
  atomic_init(&q->stub.next, NULL);
  atomic_init(&q->tail, &q->stub);
  q->head = &q->stub;
  return q;
}

hl_unit_queue_t *hl_unit_queue_new(const char *label, size_t entry_size, size_t entries_per_growth,
                                   size_t maximum_entries, unsigned options,
                                   hl_unit_status_t *why) {
  hl_unit_queue_t *q = queue_make(entry_size, why);
  if (q == NULL) return NULL;
  q->heap = hl_unit_heap_new(label, q->node_size, entries_per_growth, maximum_entries,
                             options | HL_UNIT_THREAD_SAFE, why);
  if (q->heap == NULL) {
    free(q);
    return NULL;
  }
  q->src = (hl_unit_queue_source_t){"unit", queue_unit_alloc, queue_unit_release, q->heap};
  return q;
}

hl_unit_queue_t *hl_unit_queue_new_with(size_t entry_size, const hl_unit_queue_source_t *src,
                                        hl_unit_status_t *why) {
  if (src == NULL || src->alloc == NULL || src->release == NULL) {
    if (why) *why = HL_UNIT_E_ARGUMENT;
    return NULL;
  }
  hl_unit_queue_t *q = queue_make(entry_size, why);
  if (q) q->src = *src;
  return q;
}

void hl_unit_queue_delete(hl_unit_queue_t *q) {
  if (q == NULL) return;
  hl_unit_heap_delete(q->heap);
  free(q);
}

void *hl_unit_queue_entry(hl_unit_queue_t *q, hl_unit_status_t *why) {
  unit_qnode_t *n = q->src.alloc(q->src.arg, q->node_size, why);
  return n ? queue_entry_of(n) : NULL;
}

void hl_unit_queue_done(hl_unit_queue_t *q, void *entry) {
  q->src.release(q->src.arg, queue_node(entry));
}

static void queue_push_node(hl_unit_queue_t *q, unit_qnode_t *n) {
  atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
  unit_qnode_t *prev = atomic_exchange_explicit(&q->tail, n, memory_order_acq_rel);
  atomic_store_explicit(&prev->next, n, memory_order_release);
}

void hl_unit_queue_push(hl_unit_queue_t *q, void *entry) {
  queue_push_node(q, queue_node(entry));
}

void *hl_unit_queue_pop(hl_unit_queue_t *q) {
  unit_qnode_t *head = q->head;
  unit_qnode_t *next = atomic_load_explicit(&head->next, memory_order_acquire);
  if (head == &q->stub) { /* skip the stub */
    if (next == NULL) return NULL;
    q->head = head = next;
    next = atomic_load_explicit(&head->next, memory_order_acquire);
  }
  if (next) {
    q->head = next;
    return queue_entry_of(head);
  }
  if (head != atomic_load_explicit(&q->tail, memory_order_acquire)) return NULL; /* push midway */
  queue_push_node(q, &q->stub); /* head is the last node: put the stub behind it */
  next = atomic_load_explicit(&head->next, memory_order_acquire);
  if (next) {
    q->head = next;
    return queue_entry_of(head);
  }
  return NULL;
}

hl_unit_status_t hl_unit_queue_retain(void *entry) {
  return hl_unit_retain(queue_node(entry));
}
hl_unit_status_t hl_unit_queue_release(void *entry) {
  return hl_unit_release(queue_node(entry));
}
hl_unit_heap_t *hl_unit_queue_heap(hl_unit_queue_t *q) {
  return q->heap;
}

bool hl_unit_queue_is_valid(hl_unit_queue_t *q) {
  size_t bound = (size_t)1 << 30; /* a foreign source: only a cycle can be caught */
  if (q->heap) {
    hl_unit_heap_stats_t st;
    hl_unit_heap_stats(q->heap, &st);
    /* entries pushed after the stats were taken may appear: allow them, but
       a cycle would go on for ever */
    bound = st.units_total + 1024 * 1024;
  }
  size_t n = 0;
  for (unit_qnode_t *node = q->head; node;
       node = atomic_load_explicit(&node->next, memory_order_acquire)) {
    if (node == &q->stub) continue;
    if (++n > bound) return false;
    if (q->heap && (hl_unit_heap_of(node) != q->heap || hl_unit_refs(node) == 0)) return false;
  }
  return true;
}
