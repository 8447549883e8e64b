/* ----------------------------------------------------------------------------
  alloc/unit/unit_alloc.c: the unit heaps behind alloc/alloc.h, as allocator
  `unit`: variable-size requests served by a set of unit heaps per size
  class, one set per thread context, so threads never share a heap.

  Size classes: 16-byte steps to 256, then powers of two to 64 KiB (24
  classes). A class heap is created on first use, owned by the context
  (ctx->local), not thread-safe, growing exponentially without limit; memory
  is kept after free (ServerKit behaviour: nothing is shrunk during a run).

  Frees from another context: the unit's header names its heap, the heap
  names its owner; if that is not the caller, the unit goes on the owner
  heap's lock-free remote-free list (`hl_unit_release_remote`) and the owner
  collects it the next time that class runs dry. Such frees are counted as
  `transfers`. Contexts live until heap_done, since the replay may free a
  finished thread's objects later (and through a finished context).

  Alignment: unit payloads are 16-byte aligned. A stronger alignment A (the
  aligned kinds, valloc, pvalloc) takes a unit of size + A - 16 bytes and
  returns the first A-aligned address inside it; the 16 bytes before that
  address hold a forwarding header (UNIT_MAGIC_ALIGNED) pointing at the unit.

  Large objects (a request, with its alignment slack, above 64 KiB) are
  mmap'ed one each: [slack][large_t: map base, length][header LARGE][payload],
  and munmap'ed on free. They are not unit heaps; they exist so that traces
  with big buffers run at all.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/options.h"
#include "alloc/unit/unit_internal.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define UNIT_CLASSES       24
#define UNIT_SMALL_CLASSES 16 /* 16..256 in 16-byte steps */
#define UNIT_MAX_CLASS     (64 * 1024)
#define UNIT_GROWTH_BYTES  16384 /* the first block of each class, about */

/* Per context: its class heaps and its share of the statistics. Counters
   are written only by the thread driving this context (relaxed atomic
   stores, no read-modify-write), so summing them gives the heap's totals. */
typedef struct unit_thread_s {
  hl_unit_heap_t *heaps[UNIT_CLASSES];
  struct unit_thread_s *next;
  _Atomic int64_t live_bytes, large_bytes, large_count, transfers;
} unit_thread_t;

typedef struct unit_state_s {
  pthread_mutex_t lock; /* thread_init / heap_done only */
  unit_thread_t *threads;
  size_t page;
} unit_state_t;

typedef struct unit_large_s {
  void *base;
  size_t len;
} unit_large_t;

static inline void unit_add(_Atomic int64_t *c, int64_t d) {
  atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

static size_t unit_class_size(int c) {
  return c < UNIT_SMALL_CLASSES ? (size_t)(c + 1) * 16 : (size_t)512 << (c - UNIT_SMALL_CLASSES);
}

/* The class for `n` bytes, or -1 when above the largest. */
static int unit_class_of(size_t n) {
  if (n <= 256) return n == 0 ? 0 : (int)((n + 15) / 16) - 1;
  if (n > UNIT_MAX_CLASS) return -1;
  int c = UNIT_SMALL_CLASSES;
  while (unit_class_size(c) < n) c++;
  return c;
}

/* ---- heap / thread lifecycle ---- */

/* No options (alloc/options.h): a non-empty string is refused. */
static const hl_opt_table_t unit_options = {.name = "unit"};

static int unit_heap_init(hl_heap_t *heap) {
  int rc = hl_opt_parse(&unit_options, heap->config.options, NULL, heap->why, sizeof heap->why);
  if (rc) return rc;
  unit_state_t *st = calloc(1, sizeof *st);
  if (st == NULL) return ENOMEM;
  pthread_mutex_init(&st->lock, NULL);
  st->page = (size_t)sysconf(_SC_PAGESIZE);
  heap->state = st;
  return 0;
}

static void unit_heap_done(hl_heap_t *heap) {
  unit_state_t *st = heap->state;
  if (st == NULL) return;
  for (unit_thread_t *t = st->threads, *next; t; t = next) {
    next = t->next;
    for (int c = 0; c < UNIT_CLASSES; c++) hl_unit_heap_delete(t->heaps[c]);
    free(t);
  }
  pthread_mutex_destroy(&st->lock);
  free(st);
  heap->state = NULL;
}

static int unit_thread_init(hl_ctx_t *ctx) {
  unit_state_t *st = ctx->heap->state;
  unit_thread_t *t = calloc(1, sizeof *t);
  if (t == NULL) return ENOMEM;
  pthread_mutex_lock(&st->lock);
  t->next = st->threads;
  st->threads = t;
  pthread_mutex_unlock(&st->lock);
  ctx->local = t;
  return 0;
}

/* Nothing to do: other threads may still free this context's units (they
   land on its remote lists) and the replay may free through it after the
   thread ended; heap_done frees everything. */
static void unit_thread_done(hl_ctx_t *ctx) {
  (void)ctx;
}

/* ---- large objects ---- */

static int unit_large_alloc(hl_ctx_t *ctx, void **slot, size_t size, size_t align) {
  unit_state_t *st = ctx->heap->state;
  unit_thread_t *t = ctx->local;
  size_t head = sizeof(unit_large_t) + sizeof(unit_header_t);
  if (size > SIZE_MAX / 2 || align > SIZE_MAX / 4) return ENOMEM;
  size_t len = (head + size + (align > 16 ? align : 0) + st->page - 1) & ~(st->page - 1);
  char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return ENOMEM;
  size_t a = align > 16 ? align : 16;
  char *p = (char *)(((uintptr_t)base + head + a - 1) & ~(uintptr_t)(a - 1));
  unit_large_t *l = (unit_large_t *)(p - head);
  l->base = base, l->len = len;
  unit_header_t *h = unit_header(p);
  atomic_init(&h->refs, 1);
  h->magic = UNIT_MAGIC_LARGE;
  h->owner = l;
  unit_add(&t->large_bytes, (int64_t)len);
  unit_add(&t->large_count, 1);
  *slot = p; /* mmap memory is zero: calloc needs nothing more */
  return 0;
}

static void unit_large_free(hl_ctx_t *ctx, void *p) {
  unit_thread_t *t = ctx->local;
  unit_large_t *l = unit_header(p)->owner;
  unit_add(&t->large_bytes, -(int64_t)l->len);
  unit_add(&t->large_count, -1);
  munmap(l->base, l->len);
}

/* ---- alloc / free / realloc ---- */

static int unit_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align) {
  unit_state_t *st = ctx->heap->state;
  unit_thread_t *t = ctx->local;
  size_t asked = size, a;
  int rc = hl_alloc_kind_request(kind, align, st->page, &size, &a);
  if (rc) return rc;
  size_t need = size + (a > 16 ? a - 16 : 0);
  int c = need < size ? -1 : unit_class_of(need);
  if (c < 0) {
    rc = unit_large_alloc(ctx, slot, size, a);
    if (rc == 0) unit_add(&t->live_bytes, (int64_t)asked);
    return rc;
  }
  hl_unit_heap_t *heap = t->heaps[c];
  if (heap == NULL) {
    size_t cs = unit_class_size(c), per = UNIT_GROWTH_BYTES / (cs + 16);
    char label[32];
    snprintf(label, sizeof label, "unit-%zu", cs);
    heap = hl_unit_heap_new(label, cs, per < 4 ? 4 : per, 0,
                            HL_UNIT_GROW_EXPONENTIAL | HL_UNIT_GROW_UNLIMITED, NULL);
    if (heap == NULL) return ENOMEM;
    hl_unit_heap_set_owner(heap, t);
    t->heaps[c] = heap;
  }
  char *p = hl_unit_alloc(heap, NULL);
  if (p == NULL) return ENOMEM;
  char *q = p;
  if (a > 16 && (uintptr_t)p % a) {
    q = (char *)(((uintptr_t)p + a - 1) & ~(uintptr_t)(a - 1));
    unit_header_t *fwd = unit_header(q); /* inside the unit: q - p >= 16 */
    atomic_init(&fwd->refs, 1);
    fwd->magic = UNIT_MAGIC_ALIGNED;
    fwd->owner = p;
  }
  if (kind == HL_KIND_CALLOC) memset(q, 0, size); /* units are recycled */
  unit_add(&t->live_bytes, (int64_t)asked);
  *slot = q;
  return 0;
}

/* The unit holding object `q` (NULL for a large object). */
static void *unit_of_object(void *q) {
  unit_header_t *h = unit_header(q);
  if (h->magic == UNIT_MAGIC_LARGE) return NULL;
  return h->magic == UNIT_MAGIC_ALIGNED ? h->owner : q;
}

static void unit_free(hl_ctx_t *ctx, void **slot, size_t size) {
  unit_thread_t *t = ctx->local;
  void *q = *slot;
  if (q == NULL) return;
  *slot = NULL;
  unit_add(&t->live_bytes, -(int64_t)size);
  void *p = unit_of_object(q);
  if (p == NULL) {
    unit_large_free(ctx, q);
    return;
  }
  hl_unit_status_t rc;
  if (hl_unit_heap_owner(hl_unit_heap_of(p)) == t) {
    rc = hl_unit_release(p);
  } else {
    rc = hl_unit_release_remote(p);
    unit_add(&t->transfers, 1);
  }
  if (rc != HL_UNIT_RECLAIMED)
    fprintf(stderr, "unit: free of %p: %s\n", q, hl_unit_status_name(rc));
}

/* Bytes usable at `q` without moving it. */
static size_t unit_capacity(void *q) {
  unit_header_t *h = unit_header(q);
  if (h->magic == UNIT_MAGIC_LARGE) {
    unit_large_t *l = h->owner;
    return (size_t)((char *)l->base + l->len - (char *)q);
  }
  void *p = unit_of_object(q);
  return unit_heap_unit_size(hl_unit_heap_of(p)) - (size_t)((char *)q - (char *)p);
}

static int unit_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  unit_thread_t *t = ctx->local;
  if (*slot == NULL) return unit_alloc(ctx, slot, new_size, HL_KIND_MALLOC, 0);
  void *q = *slot;
  size_t cap = unit_capacity(q);
  /* In place when it still fits and would not land in a smaller class (or
     is still large and uses at least half the mapping). */
  bool large = unit_header(q)->magic == UNIT_MAGIC_LARGE;
  bool fits = new_size <= cap && (large ? new_size > UNIT_MAX_CLASS && new_size >= cap / 2
                                        : unit_class_of(new_size) == unit_class_of(cap));
  if (fits && (large || unit_header(q)->magic == UNIT_MAGIC)) { /* not an aligned object */
    unit_add(&t->live_bytes, (int64_t)new_size - (int64_t)old_size);
    return 0;
  }
  void *n = NULL;
  int rc = unit_alloc(ctx, &n, new_size, HL_KIND_MALLOC, 0);
  if (rc != 0) return rc;
  memcpy(n, q, old_size < new_size ? old_size : new_size);
  unit_free(ctx, slot, old_size);
  *slot = n;
  return 0;
}

/* ---- stats / identify ---- */

static void unit_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  unit_state_t *st = heap->state;
  memset(out, 0, sizeof *out);
  int64_t live = 0, mapped = 0, pages = 0, transfers = 0;
  pthread_mutex_lock(&st->lock);
  for (unit_thread_t *t = st->threads; t; t = t->next) {
    live += atomic_load_explicit(&t->live_bytes, memory_order_relaxed);
    mapped += atomic_load_explicit(&t->large_bytes, memory_order_relaxed);
    pages += atomic_load_explicit(&t->large_count, memory_order_relaxed);
    transfers += atomic_load_explicit(&t->transfers, memory_order_relaxed);
    for (int c = 0; c < UNIT_CLASSES; c++) {
      if (t->heaps[c] == NULL) continue;
      hl_unit_heap_stats_t hs;
      hl_unit_heap_stats(t->heaps[c], &hs);
      mapped += (int64_t)hs.bytes_mapped;
      pages += (int64_t)hs.blocks;
    }
  }
  pthread_mutex_unlock(&st->lock);
  out->bytes_live = live > 0 ? (uint64_t)live : 0;
  out->bytes_mapped = (uint64_t)mapped;
  out->pages = (uint64_t)pages;
  out->moves = 0;
  out->transfers = (uint64_t)transfers;
  out->valid =
      HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED | HL_STAT_PAGES | HL_STAT_MOVES | HL_STAT_TRANSFERS;
  out->na_reason = NULL;
}

static int unit_identify(char *buf, size_t len) {
  snprintf(buf, len, "heaplab unit heaps (alloc/unit, built in)");
  return 0;
}

const hl_allocator_t hl_alloc_unit = {
    .name = "unit",
    .summary = "ServerKit-style unit heaps: per-thread fixed-size heaps per size class, "
               "refcounted units, remote frees",
    .flags = 0,
    .options = &unit_options,
    .heap_init = unit_heap_init,
    .heap_done = unit_heap_done,
    .thread_init = unit_thread_init,
    .thread_done = unit_thread_done,
    .alloc = unit_alloc,
    .free = unit_free,
    .realloc = unit_realloc,
    .read = hl_flat_read,
    .write = hl_flat_write,
    .link = hl_flat_link,
    .send = hl_flat_send,
    .stats = unit_stats,
    .identify = unit_identify,
};
