/* ----------------------------------------------------------------------------
  alloc/unit/unit.c: the unit heap (seed 003): fixed-size units with a
  built-in reference count, grown in malloc'ed blocks, a LIFO free list (no
  search), memory kept after free, wholly free blocks returned on shrink.

  A block is [unit_block_t, padded to 16][header|payload][header|payload]...
  Every header points back to its block, so a release finds the heap and the
  block's live count in O(1) without the caller naming the heap. The free
  list threads through the first word of free payloads (headers are never
  overwritten, so a stale pointer's header still says "free").

  Concurrency: a thread-safe heap serializes alloc/free on its own mutex (a
  lock per allocation domain, never a global one). An owned heap has no lock
  at all; other threads give units back through `remote`, a lock-free stack
  (push only, so no ABA), which the owner takes whole with one exchange when
  its free list runs dry. Block live counts are changed only by the owner
  (or under the lock), so a remotely freed unit counts as live until
  collected: per block, free-list units + live == units always holds.
---------------------------------------------------------------------------- */
#include "alloc/unit/unit_internal.h"
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_GROWTH_CAP_BYTES ((size_t)1 << 20) /* exponential growth stops doubling here */
#define UNIT_POISON           0xdb              /* checked heaps: fill of free payloads */

typedef struct unit_free_s {
  struct unit_free_s *next;
} unit_free_t;

typedef struct unit_block_s {
  hl_unit_heap_t *heap;
  struct unit_block_s *next, *prev;
  size_t units;
  size_t live;    /* units allocated from this block (owner / lock only) */
  size_t scratch; /* is_valid: free units counted; shrink: doomed flag */
} unit_block_t;

#define UNIT_BLOCK_HEADER ((sizeof(unit_block_t) + 15) & ~(size_t)15)

struct hl_unit_heap_s {
  char label[32];
  size_t unit_size; /* payload bytes, multiple of 16 */
  size_t stride;    /* header + payload */
  size_t units_per_growth, next_growth, growth_cap, maximum_units;
  unsigned options;
  pthread_mutex_t lock; /* HL_UNIT_THREAD_SAFE only */
  unit_free_t *free;    /* LIFO free list */
  size_t free_count;
  _Atomic(unit_free_t *) remote; /* owned heaps: units freed by other threads */
  unit_block_t *blocks;
  size_t block_count, units_total, units_live, bytes_mapped;
  uint64_t grow_count, remote_frees;
  void *owner;
};

const char *hl_unit_status_name(hl_unit_status_t status) {
  switch (status) {
    case HL_UNIT_OK:
      return "ok";
    case HL_UNIT_RECLAIMED:
      return "reclaimed (count reached zero)";
    case HL_UNIT_E_FULL:
      return "maximum units reached";
    case HL_UNIT_E_NOMEM:
      return "out of memory growing the heap";
    case HL_UNIT_E_UNDERFLOW:
      return "release below zero (unit already free)";
    case HL_UNIT_E_FREED:
      return "retain of a free unit (use after free)";
    case HL_UNIT_E_INVALID:
      return "not a unit (bad magic)";
    case HL_UNIT_E_CORRUPT:
      return "free unit was written (use after free)";
    case HL_UNIT_E_ARGUMENT:
      return "invalid heap parameters";
  }
  return "?";
}

/* ---- helpers ---- */

static inline bool unit_ts(const hl_unit_heap_t *heap) {
  return (heap->options & HL_UNIT_THREAD_SAFE) != 0;
}
static inline bool unit_checked(const hl_unit_heap_t *heap) {
  return HL_UNIT_DEBUG >= 1 || (heap->options & HL_UNIT_CHECKED) != 0;
}
static inline void unit_lock(hl_unit_heap_t *heap) {
  if (unit_ts(heap)) pthread_mutex_lock(&heap->lock);
}
static inline void unit_unlock(hl_unit_heap_t *heap) {
  if (unit_ts(heap)) pthread_mutex_unlock(&heap->lock);
}
static inline unit_block_t *unit_block_of(const void *payload) {
  return (unit_block_t *)unit_header(payload)->owner;
}

/* The checks cheap enough to assert after every operation. */
static inline bool unit_heap_is_valid_cheap(const hl_unit_heap_t *heap) {
  return heap->units_live + heap->free_count <= heap->units_total &&
         ((heap->options & HL_UNIT_GROW_UNLIMITED) || heap->units_total <= heap->maximum_units) &&
         (heap->free == NULL) == (heap->free_count == 0);
}

static bool unit_heap_is_valid_locked(hl_unit_heap_t *heap);

/* After each operation: the cheap invariants always, the full walk on
   checked heaps or HL_UNIT_DEBUG >= 2 (both called with exclusive access). */
static inline void unit_heap_assert_valid(hl_unit_heap_t *heap) {
  assert(unit_heap_is_valid_cheap(heap));
  if (HL_UNIT_DEBUG >= 2 || (heap->options & HL_UNIT_CHECKED))
    assert(unit_heap_is_valid_locked(heap));
  (void)heap;
}

static void unit_poison(const hl_unit_heap_t *heap, unit_free_t *f) {
  memset((char *)f + sizeof *f, UNIT_POISON, heap->unit_size - sizeof *f);
}
static bool unit_poison_intact(const hl_unit_heap_t *heap, const unit_free_t *f) {
  const unsigned char *p = (const unsigned char *)f + sizeof *f;
  for (size_t i = 0; i < heap->unit_size - sizeof *f; i++)
    if (p[i] != UNIT_POISON) return false;
  return true;
}

/* ---- creation ---- */

hl_unit_heap_t *hl_unit_heap_new(const char *label, size_t unit_size, size_t units_per_growth,
                                 size_t maximum_units, unsigned options, hl_unit_status_t *why) {
  bool unlimited = (options & HL_UNIT_GROW_UNLIMITED) != 0;
  if (unit_size == 0 || unit_size > ((size_t)1 << 40) || units_per_growth == 0 ||
      (!unlimited && maximum_units == 0)) {
    if (why) *why = HL_UNIT_E_ARGUMENT;
    return NULL;
  }
  hl_unit_heap_t *heap = calloc(1, sizeof *heap);
  if (heap == NULL) {
    if (why) *why = HL_UNIT_E_NOMEM;
    return NULL;
  }
  snprintf(heap->label, sizeof heap->label, "%s", label ? label : "unit");
  heap->unit_size = (unit_size + 15) & ~(size_t)15; /* 16-aligned payloads, room for the link */
  heap->stride = sizeof(unit_header_t) + heap->unit_size;
  heap->units_per_growth = heap->next_growth = units_per_growth;
  heap->growth_cap = UNIT_GROWTH_CAP_BYTES / heap->stride;
  if (heap->growth_cap < units_per_growth) heap->growth_cap = units_per_growth;
  heap->maximum_units = unlimited ? SIZE_MAX : maximum_units;
  heap->options = options;
  if (unit_ts(heap)) pthread_mutex_init(&heap->lock, NULL);
  atomic_init(&heap->remote, NULL);
  if (why) *why = HL_UNIT_OK;
  return heap;
}

void hl_unit_heap_delete(hl_unit_heap_t *heap) {
  if (heap == NULL) return;
  for (unit_block_t *b = heap->blocks, *next; b; b = next) {
    next = b->next;
    free(b);
  }
  if (unit_ts(heap)) pthread_mutex_destroy(&heap->lock);
  free(heap);
}

/* ---- growth ---- */

/* One more block; its units go on the free list so they pop in address
   order (the first allocations of a fresh heap are contiguous). */
static hl_unit_status_t unit_grow(hl_unit_heap_t *heap) {
  size_t n = heap->next_growth;
  if (heap->units_total >= heap->maximum_units) return HL_UNIT_E_FULL;
  if (n > heap->maximum_units - heap->units_total) n = heap->maximum_units - heap->units_total;
  if (n > (SIZE_MAX - UNIT_BLOCK_HEADER) / heap->stride) return HL_UNIT_E_NOMEM;
  size_t bytes = UNIT_BLOCK_HEADER + n * heap->stride;
  unit_block_t *b = malloc(bytes);
  if (b == NULL) return HL_UNIT_E_NOMEM;
  *b = (unit_block_t){.heap = heap, .next = heap->blocks, .units = n};
  if (heap->blocks) heap->blocks->prev = b;
  heap->blocks = b;
  char *first = (char *)b + UNIT_BLOCK_HEADER;
  for (size_t i = n; i-- > 0;) {
    unit_header_t *h = (unit_header_t *)(first + i * heap->stride);
    atomic_init(&h->refs, 0);
    h->magic = UNIT_MAGIC;
    h->owner = b;
    unit_free_t *f = (unit_free_t *)(h + 1);
    if (unit_checked(heap)) unit_poison(heap, f);
    f->next = heap->free;
    heap->free = f;
  }
  heap->free_count += n;
  heap->block_count++;
  heap->units_total += n;
  heap->bytes_mapped += bytes;
  heap->grow_count++;
  if (heap->options & HL_UNIT_GROW_EXPONENTIAL)
    heap->next_growth =
        heap->next_growth * 2 < heap->growth_cap ? heap->next_growth * 2 : heap->growth_cap;
  return HL_UNIT_OK;
}

/* Owner: take the whole remote-free list onto the free list. */
static size_t unit_collect_remote(hl_unit_heap_t *heap) {
  if (atomic_load_explicit(&heap->remote, memory_order_relaxed) == NULL) return 0;
  unit_free_t *f = atomic_exchange_explicit(&heap->remote, NULL, memory_order_acquire);
  size_t n = 0;
  while (f) {
    unit_free_t *next = f->next;
    unit_block_of(f)->live--;
    f->next = heap->free;
    heap->free = f;
    f = next;
    n++;
  }
  heap->free_count += n;
  heap->units_live -= n;
  heap->remote_frees += n;
  return n;
}

/* ---- alloc / retain / release ---- */

void *hl_unit_alloc(hl_unit_heap_t *heap, hl_unit_status_t *why) {
  unit_lock(heap);
  if (heap->free == NULL && unit_collect_remote(heap) == 0) {
    hl_unit_status_t st = unit_grow(heap);
    if (st != HL_UNIT_OK) {
      unit_unlock(heap);
      if (why) *why = st;
      errno = st == HL_UNIT_E_NOMEM ? ENOMEM : ENOSPC;
      return NULL;
    }
  }
  unit_free_t *f = heap->free;
  heap->free = f->next;
  heap->free_count--;
  unit_block_of(f)->live++;
  heap->units_live++;
  unit_header_t *h = unit_header(f);
  assert(h->magic == UNIT_MAGIC && unit_block_of(f)->heap == heap &&
         atomic_load_explicit(&h->refs, memory_order_relaxed) == 0);
  if (unit_checked(heap) && !unit_poison_intact(heap, f)) {
    /* Written after it was freed: keep it out of circulation (counted live
       forever) and report; the next alloc gets another unit. */
    unit_heap_assert_valid(heap);
    unit_unlock(heap);
    if (why) *why = HL_UNIT_E_CORRUPT;
    errno = EFAULT;
    return NULL;
  }
  atomic_store_explicit(&h->refs, 1, memory_order_relaxed);
  unit_heap_assert_valid(heap);
  unit_unlock(heap);
  if (why) *why = HL_UNIT_OK;
  return f;
}

/* Back on the free list (owner, or a thread-safe heap). */
static void unit_free_local(hl_unit_heap_t *heap, void *unit) {
  unit_free_t *f = unit;
  unit_lock(heap);
  if (unit_checked(heap)) unit_poison(heap, f);
  f->next = heap->free;
  heap->free = f;
  heap->free_count++;
  unit_block_of(f)->live--;
  heap->units_live--;
  unit_heap_assert_valid(heap);
  unit_unlock(heap);
}

/* Lock-free push onto the owner's remote-free list. */
static void unit_free_remote(hl_unit_heap_t *heap, void *unit) {
  unit_free_t *f = unit;
  if (unit_checked(heap)) unit_poison(heap, f);
  unit_free_t *top = atomic_load_explicit(&heap->remote, memory_order_relaxed);
  do {
    f->next = top;
  } while (!atomic_compare_exchange_weak_explicit(&heap->remote, &top, f, memory_order_release,
                                                  memory_order_relaxed));
}

/* Count decrement shared by both releases: the count is one atomic word
   (CAS loop, so a misuse never leaves it wrapped even transiently). */
static hl_unit_status_t unit_decrement(void *unit) {
  if (unit == NULL) return HL_UNIT_E_INVALID;
  unit_header_t *h = unit_header(unit);
  if (h->magic != UNIT_MAGIC) return HL_UNIT_E_INVALID;
  uint32_t r = atomic_load_explicit(&h->refs, memory_order_relaxed);
  do {
    if (r == 0) return HL_UNIT_E_UNDERFLOW;
  } while (!atomic_compare_exchange_weak_explicit(&h->refs, &r, r - 1, memory_order_acq_rel,
                                                  memory_order_relaxed));
  return r == 1 ? HL_UNIT_RECLAIMED : HL_UNIT_OK;
}

hl_unit_status_t hl_unit_retain(void *unit) {
  if (unit == NULL) return HL_UNIT_E_INVALID;
  unit_header_t *h = unit_header(unit);
  if (h->magic != UNIT_MAGIC) return HL_UNIT_E_INVALID;
  uint32_t r = atomic_load_explicit(&h->refs, memory_order_relaxed);
  do {
    if (r == 0) return HL_UNIT_E_FREED; /* never resurrect a free unit */
  } while (!atomic_compare_exchange_weak_explicit(&h->refs, &r, r + 1, memory_order_relaxed,
                                                  memory_order_relaxed));
  return HL_UNIT_OK;
}

hl_unit_status_t hl_unit_release(void *unit) {
  hl_unit_status_t st = unit_decrement(unit);
  if (st == HL_UNIT_RECLAIMED) unit_free_local(unit_block_of(unit)->heap, unit);
  return st;
}

hl_unit_status_t hl_unit_release_remote(void *unit) {
  hl_unit_status_t st = unit_decrement(unit);
  if (st == HL_UNIT_RECLAIMED) {
    hl_unit_heap_t *heap = unit_block_of(unit)->heap;
    if (unit_ts(heap))
      unit_free_local(heap, unit);
    else
      unit_free_remote(heap, unit);
  }
  return st;
}

uint32_t hl_unit_refs(const void *unit) {
  return atomic_load_explicit(&unit_header(unit)->refs, memory_order_relaxed);
}

hl_unit_heap_t *hl_unit_heap_of(const void *unit) {
  if (unit == NULL || unit_header(unit)->magic != UNIT_MAGIC) return NULL;
  return unit_block_of(unit)->heap;
}

/* ---- shrink ---- */

size_t hl_unit_heap_shrink(hl_unit_heap_t *heap) {
  unit_lock(heap);
  unit_collect_remote(heap);
  size_t doomed = 0;
  for (unit_block_t *b = heap->blocks; b; b = b->next) doomed += (b->scratch = b->live == 0);
  if (doomed) {
    /* Drop the doomed blocks' units from the free list (one pass). */
    unit_free_t **link = &heap->free;
    while (*link) {
      if (unit_block_of(*link)->scratch) {
        *link = (*link)->next;
        heap->free_count--;
      } else {
        link = &(*link)->next;
      }
    }
    for (unit_block_t *b = heap->blocks, *next; b; b = next) {
      next = b->next;
      if (!b->scratch) continue;
      if (b->prev)
        b->prev->next = b->next;
      else
        heap->blocks = b->next;
      if (b->next) b->next->prev = b->prev;
      heap->block_count--;
      heap->units_total -= b->units;
      heap->bytes_mapped -= UNIT_BLOCK_HEADER + b->units * heap->stride;
      free(b);
    }
  }
  unit_heap_assert_valid(heap);
  unit_unlock(heap);
  return doomed;
}

/* ---- introspection ---- */

void hl_unit_heap_set_owner(hl_unit_heap_t *heap, void *owner) {
  heap->owner = owner;
}
void *hl_unit_heap_owner(const hl_unit_heap_t *heap) {
  return heap->owner;
}
const char *hl_unit_heap_label(const hl_unit_heap_t *heap) {
  return heap->label;
}
size_t unit_heap_unit_size(const hl_unit_heap_t *heap) {
  return heap->unit_size;
}

void hl_unit_heap_stats(hl_unit_heap_t *heap, hl_unit_heap_stats_t *out) {
  unit_lock(heap);
  *out = (hl_unit_heap_stats_t){
      .unit_size = heap->unit_size,
      .blocks = heap->block_count,
      .units_total = heap->units_total,
      .units_live = heap->units_live,
      .units_free = heap->free_count,
      .bytes_mapped = heap->bytes_mapped,
      .grow_count = heap->grow_count,
      .remote_frees = heap->remote_frees,
  };
  unit_unlock(heap);
}

static bool unit_heap_is_valid_locked(hl_unit_heap_t *heap) {
  if (!unit_heap_is_valid_cheap(heap)) return false;
  size_t blocks = 0, units = 0, live = 0, bytes = 0;
  for (unit_block_t *b = heap->blocks; b; b = b->next) {
    if (b->heap != heap || (b->next && b->next->prev != b) || blocks > heap->block_count)
      return false;
    b->scratch = 0;
    blocks++, units += b->units, live += b->live;
    bytes += UNIT_BLOCK_HEADER + b->units * heap->stride;
  }
  if (blocks != heap->block_count || units != heap->units_total || live != heap->units_live ||
      bytes != heap->bytes_mapped)
    return false;
  size_t n = 0;
  for (unit_free_t *f = heap->free; f; f = f->next) {
    if (++n > heap->units_total) return false; /* a cycle */
    unit_header_t *h = unit_header(f);
    if (h->magic != UNIT_MAGIC || atomic_load_explicit(&h->refs, memory_order_relaxed) != 0)
      return false;
    unit_block_t *b = h->owner;
    char *first = (char *)b + UNIT_BLOCK_HEADER;
    size_t off = (size_t)((char *)h - first);
    if (b->heap != heap || (char *)h < first || off % heap->stride ||
        off / heap->stride >= b->units)
      return false;
    b->scratch++;
  }
  if (n != heap->free_count) return false;
  for (unit_block_t *b = heap->blocks; b; b = b->next)
    if (b->scratch + b->live != b->units) return false;
  return true;
}

bool hl_unit_heap_is_valid(hl_unit_heap_t *heap) {
  unit_lock(heap);
  bool ok = unit_heap_is_valid_locked(heap);
  unit_unlock(heap);
  return ok;
}
