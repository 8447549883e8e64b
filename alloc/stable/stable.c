/* ----------------------------------------------------------------------------
  alloc/stable/stable.c: the local stable heap (seed 002): pages, size
  classes, raw and typed objects, the minor collector (cohort aging,
  promotion by copying into the major heap, card marking) and the major
  collector (full mark-sweep, nothing moves), plus the invariant checker.

  Why this shape: the Hemlock issue asks for a heap whose typed objects are
  reclaimed by tracing, whose minor collections stay cheap (they must not
  scan the stable heap: card marking), whose long-lived objects migrate to a
  stable heap after enough survivals (cohort aging) and which offers memory
  that never moves (raw and pinned objects). Young objects are not copied at
  every minor collection (a mark-sweep nursery in size-class pages): only
  promotion moves an object, once, so a pinned object simply stays put in
  the young pages. See README.md for the rules and what they cost.
---------------------------------------------------------------------------- */
#include "alloc/stable/stable_internal.h"
#include "alloc/options.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* ---- size classes: 16-byte steps to 256, then 4 per doubling to 8 KiB ---- */

static const uint32_t st_class_size[ST_NCLASS] = {
    16,   32,   48,   64,   80,   96,   112,  128,  144,  160,  176,  192,
    208,  224,  240,  256,  320,  384,  448,  512,  640,  768,  896,  1024,
    1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
};

static int st_class_of(size_t n) {
  if (n <= 256) return n == 0 ? 0 : (int)((n + 15) / 16) - 1;
  int c = 16;
  while (c < ST_NCLASS && st_class_size[c] < n) c++;
  return c < ST_NCLASS ? c : -1;
}

/* ---- the page map: address >> 16 -> page | owner id ---- */

#define ST_TOP_BITS  16
#define ST_LEAF_BITS 16
static _Atomic(_Atomic uintptr_t *) st_pagemap[1u << ST_TOP_BITS];
static _Atomic uint32_t st_next_id;

static _Atomic uintptr_t *st_pagemap_leaf(uintptr_t pn, bool create) {
  size_t top = (size_t)(pn >> ST_LEAF_BITS);
  if (top >= (1u << ST_TOP_BITS)) return NULL;
  _Atomic uintptr_t *leaf = atomic_load_explicit(&st_pagemap[top], memory_order_acquire);
  if (leaf || !create) return leaf;
  _Atomic uintptr_t *fresh = calloc((size_t)1 << ST_LEAF_BITS, sizeof *fresh);
  if (fresh == NULL) return NULL;
  if (!atomic_compare_exchange_strong(&st_pagemap[top], &leaf, fresh)) {
    free(fresh); /* another heap installed it first */
    return leaf;
  }
  return fresh;
}

/* Map [base, base+len) (64 KiB multiples) to page pg of owner id (pg NULL: unmap). */
static bool st_pagemap_set(void *base, size_t len, st_page_t *pg, uint16_t id) {
  uintptr_t first = (uintptr_t)base >> ST_PAGE_SHIFT, n = len >> ST_PAGE_SHIFT;
  for (uintptr_t pn = first; pn < first + n; pn++) {
    _Atomic uintptr_t *leaf = st_pagemap_leaf(pn, pg != NULL);
    if (leaf == NULL) return pg == NULL;
    uintptr_t v = pg ? (uintptr_t)pg | id : 0;
    atomic_store_explicit(&leaf[pn & ((1u << ST_LEAF_BITS) - 1)], v, memory_order_release);
  }
  return true;
}

st_page_t *st_page_lookup(const void *p, uint16_t *id) {
  uintptr_t pn = (uintptr_t)p >> ST_PAGE_SHIFT;
  _Atomic uintptr_t *leaf = st_pagemap_leaf(pn, false);
  if (leaf == NULL) return NULL;
  uintptr_t v = atomic_load_explicit(&leaf[pn & ((1u << ST_LEAF_BITS) - 1)], memory_order_acquire);
  *id = (uint16_t)(v & (ST_PAGE - 1));
  return (st_page_t *)(v & ~(uintptr_t)(ST_PAGE - 1));
}

st_hdr_t *st_obj_in_page(st_page_t *pg, const void *p) {
  st_hdr_t *o;
  if (pg->large) {
    o = (st_hdr_t *)pg->start;
    if (st_payload(o) != p) return NULL;
  } else {
    uintptr_t first = (uintptr_t)pg->start + sizeof(st_hdr_t);
    if ((uintptr_t)p < first) return NULL;
    uintptr_t off = (uintptr_t)p - first;
    if (off % pg->stride || off / pg->stride >= pg->bump) return NULL;
    o = (st_hdr_t *)(pg->start + off);
  }
  return (o->flags & ST_FREE) ? NULL : o;
}

/* A live object of heap h at p (a pointer field's value), without touching
   foreign memory: the page map's id says whose page it is. */
static st_hdr_t *st_own_obj(stable_heap_t *h, const void *p) {
  uint16_t id;
  st_page_t *pg = st_page_lookup(p, &id);
  if (pg == NULL || id != h->id || pg->owner != h) return NULL;
  return st_obj_in_page(pg, p);
}

/* Like st_own_obj, but forwarded (promoted, not yet freed) cells count. */
static st_hdr_t *st_own_cell(stable_heap_t *h, const void *p) {
  return st_own_obj(h, p);
}

/* ---- mappings ---- */

/* `len` bytes aligned to `align` (a power of two >= 64 KiB). */
static void *st_map_aligned(size_t len, size_t align) {
  size_t total = len + align;
  char *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  char *a = (char *)(((uintptr_t)m + align - 1) & ~(uintptr_t)(align - 1));
  if (a > m) munmap(m, (size_t)(a - m));
  if (a + len < m + total) munmap(a + len, (size_t)(m + total - (a + len)));
  return a;
}

static size_t st_ncards(stable_heap_t *h, size_t len) {
  return (len + h->conf.card - 1) / h->conf.card;
}

/* A fresh small page for (generation, class), or NULL. */
static st_page_t *st_page_new(stable_heap_t *h, int old, int cls) {
  st_page_t *pg = h->empty;
  if (pg) {
    h->empty = pg->next;
  } else {
    if (h->chunk_next == h->chunk_end) {
      if (h->nchunks == h->capchunks) {
        size_t cap = h->capchunks ? 2 * h->capchunks : 16;
        void **n = realloc(h->chunks, cap * sizeof *n);
        if (n == NULL) return NULL;
        h->chunks = n, h->capchunks = cap;
      }
      char *c = st_map_aligned(ST_CHUNK, ST_PAGE);
      if (c == NULL) return NULL;
      h->chunks[h->nchunks++] = c;
      h->chunk_next = c, h->chunk_end = c + ST_CHUNK;
      ST_ADD(h->c.mapped, ST_CHUNK);
    }
    pg = (st_page_t *)h->chunk_next;
    if (!st_pagemap_set(pg, ST_PAGE, pg, h->id)) return NULL; /* each page maps to itself */
    h->chunk_next += ST_PAGE;
  }
  memset(pg, 0, offsetof(st_page_t, inline_cards));
  pg->magic = ST_PAGE_MAGIC;
  pg->owner = h;
  pg->old = (uint8_t)old;
  pg->cls = (uint16_t)cls;
  pg->map_base = pg;
  pg->map_len = ST_PAGE;
  pg->stride = st_class_size[cls] + (uint32_t)sizeof(st_hdr_t);
  pg->start = (char *)pg + ((sizeof(st_page_t) + 15) & ~(size_t)15);
  pg->nslots = (uint32_t)((ST_PAGE - (size_t)(pg->start - (char *)pg)) / pg->stride);
  pg->cards = pg->inline_cards;
  pg->ncards = old ? st_ncards(h, ST_PAGE) : 0;
  for (size_t i = 0; i < ST_MAX_CARDS; i++) atomic_init(&pg->inline_cards[i], 0);
  pg->next = h->pages[old][cls];
  if (pg->next) pg->next->prev = pg;
  h->pages[old][cls] = pg;
  pg->in_avail = 1;
  pg->avail_next = h->avail[old][cls];
  h->avail[old][cls] = pg;
  ST_ADD(h->c.pages, 1);
  return pg;
}

/* Give a small page with no live object back to the heap's empty list. */
static void st_page_release(stable_heap_t *h, st_page_t *pg) {
  if (pg->prev)
    pg->prev->next = pg->next;
  else
    h->pages[pg->old][pg->cls] = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  pg->magic = 0;
  pg->next = h->empty;
  h->empty = pg;
  ST_ADD(h->c.pages, -1);
}

/* ---- objects ---- */

static st_hdr_t *st_large_new(stable_heap_t *h, size_t size, size_t align) {
  size_t a = align < 16 ? 16 : align;
  size_t head = sizeof(st_page_t) + sizeof(st_hdr_t);
  size_t off = a >= ST_PAGE ? a : (head + a - 1) & ~(a - 1);
  if (off < head) off = (head + a - 1) & ~(a - 1);
  if (size > SIZE_MAX / 4) return NULL;
  size_t len = (off + size + ST_PAGE - 1) & ~(ST_PAGE - 1);
  char *base = st_map_aligned(len, a > ST_PAGE ? a : ST_PAGE);
  if (base == NULL) return NULL;
  st_page_t *pg = (st_page_t *)base;
  memset(pg, 0, offsetof(st_page_t, inline_cards));
  pg->magic = ST_PAGE_MAGIC;
  pg->owner = h;
  pg->large = 1;
  pg->map_base = base;
  pg->map_len = len;
  pg->nslots = pg->bump = pg->live = 1;
  pg->start = base + off - sizeof(st_hdr_t);
  if (!st_pagemap_set(base, len, pg, h->id)) {
    munmap(base, len);
    return NULL;
  }
  pg->next = h->large[0];
  if (pg->next) pg->next->prev = pg;
  h->large[0] = pg;
  ST_ADD(h->c.mapped, len);
  ST_ADD(h->c.pages, 1);
  return (st_hdr_t *)pg->start;
}

static void st_large_free(stable_heap_t *h, st_page_t *pg) {
  if (pg->prev)
    pg->prev->next = pg->next;
  else
    h->large[pg->old] = pg->next;
  if (pg->next) pg->next->prev = pg->prev;
  st_pagemap_set(pg->map_base, pg->map_len, NULL, 0);
  if (pg->cards && pg->cards != pg->inline_cards) free((void *)pg->cards);
  ST_ADD(h->c.mapped, -(int64_t)pg->map_len);
  ST_ADD(h->c.pages, -1);
  munmap(pg->map_base, pg->map_len);
}

/* Allocate in generation `old` (0 young, 1 major heap). */
static st_hdr_t *st_alloc_gen(stable_heap_t *h, size_t size, size_t align, int old) {
  int cls = align > 16 ? -1 : st_class_of(size);
  st_hdr_t *o;
  if (cls < 0) {
    if (old) return NULL; /* large objects are promoted in place */
    o = st_large_new(h, size, align);
    if (o == NULL) return NULL;
  } else {
    st_page_t *pg = h->avail[old][cls];
    if (pg == NULL && (pg = st_page_new(h, old, cls)) == NULL) return NULL;
    if (pg->free) {
      o = pg->free;
      pg->free = (st_hdr_t *)o->root;
    } else {
      o = (st_hdr_t *)(pg->start + (size_t)pg->bump * pg->stride);
      pg->bump++;
    }
    pg->live++;
    if (pg->free == NULL && pg->bump == pg->nslots) { /* full: leaves the avail list */
      h->avail[old][cls] = pg->avail_next;
      pg->in_avail = 0;
    }
  }
  o->root = NULL;
  o->map = 0;
  o->bigmap = NULL;
  o->size = (uint32_t)size;
  o->flags = 0;
  return o;
}

st_hdr_t *st_alloc_obj(stable_heap_t *h, size_t size, size_t align) {
  if (size > UINT32_MAX) return NULL;
  st_hdr_t *o = st_alloc_gen(h, size, align, 0);
  if (o) ST_ADD(h->c.allocs, 1);
  return o;
}

static void st_unpin_count(st_hdr_t *o) {
  st_page_t *pg = st_page_of(st_payload(o));
  if (o->flags & ST_PINNED) {
    ST_ADD_SHARED(pg->owner->c.bytes_pinned, -(uint64_t)o->size);
    ST_ADD_SHARED(pg->owner->c.objects_pinned, -(uint64_t)1);
  }
}

/* Owner only. Frees the cell whatever it holds (raw, reclaimed or forwarded). */
void st_free_obj(stable_heap_t *h, st_hdr_t *o) {
  st_page_t *pg = st_page_of(st_payload(o));
  if (!(o->flags & ST_FWD)) st_unpin_count(o);
  if (o->flags & ST_TYPED) {
    atomic_fetch_sub_explicit(&pg->ntyped, 1, memory_order_relaxed);
    if (!(o->flags & ST_FWD)) {
      ST_ADD_SHARED(h->c.typed_live, -(uint64_t)1);
      ST_ADD(h->c.typed_live_bytes, -(uint64_t)o->size);
    }
  }
  if (o->flags & ST_BIGMAP) free(o->bigmap);
  if (pg->large) {
    st_large_free(h, pg);
    return;
  }
  o->flags = ST_FREE;
  o->bigmap = NULL;
  o->root = (void **)pg->free;
  pg->free = o;
  pg->live--;
  if (!pg->in_avail) {
    pg->in_avail = 1;
    pg->avail_next = h->avail[pg->old][pg->cls];
    h->avail[pg->old][pg->cls] = pg;
  }
}

void st_make_typed(st_hdr_t *o) {
  if (o->flags & ST_TYPED) return;
  st_page_t *pg = st_page_of(st_payload(o));
  assert(pg != NULL); /* every object lies in one of the heap's pages */
  o->flags |= ST_TYPED;
  atomic_fetch_add_explicit(&pg->ntyped, 1, memory_order_relaxed);
  ST_ADD_SHARED(pg->owner->c.typed, 1);
  ST_ADD_SHARED(pg->owner->c.typed_live, 1);
  ST_ADD_SHARED(pg->owner->c.typed_live_bytes, o->size);
}

void st_pin(st_hdr_t *o) {
  if (o->flags & ST_PINNED) return;
  st_page_t *pg = st_page_of(st_payload(o));
  o->flags |= ST_PINNED;
  ST_ADD_SHARED(pg->owner->c.bytes_pinned, o->size);
  ST_ADD_SHARED(pg->owner->c.objects_pinned, 1);
}

/* ---- pointer bitmaps ---- */

bool st_bit_get(const st_hdr_t *o, size_t w) {
  if (o->flags & ST_BIGMAP) return (o->bigmap[w / 64] >> (w % 64)) & 1;
  return w < 64 && ((o->map >> w) & 1);
}

int st_bit_set(st_hdr_t *o, size_t w) {
  if (!(o->flags & ST_BIGMAP) && w >= 64) {
    size_t n = (o->size / 8 + 63) / 64;
    uint64_t *b = calloc(n, sizeof *b);
    if (b == NULL) return ENOMEM;
    b[0] = o->map;
    o->bigmap = b;
    o->flags |= ST_BIGMAP;
  }
  if (o->flags & ST_BIGMAP)
    o->bigmap[w / 64] |= (uint64_t)1 << (w % 64);
  else
    o->map |= (uint64_t)1 << w;
  return 0;
}

void st_bits_clear_range(st_hdr_t *o, size_t off, size_t len) {
  if (!(o->flags & ST_TYPED) || len == 0) return;
  size_t w0 = off / 8, w1 = (off + len + 7) / 8, nw = o->size / 8;
  if (w1 > nw) w1 = nw;
  for (size_t w = w0; w < w1; w++) {
    if (o->flags & ST_BIGMAP)
      o->bigmap[w / 64] &= ~((uint64_t)1 << (w % 64));
    else if (w < 64)
      o->map &= ~((uint64_t)1 << w);
  }
}

/* Call fn(field address) for each declared pointer field of o. */
#define ST_FOR_FIELDS(o, fp, ...)                                                                  \
  do {                                                                                             \
    size_t st_nw_ = (o)->size / 8;                                                                 \
    void **st_base_ = (void **)st_payload(o);                                                      \
    if ((o)->flags & ST_BIGMAP) {                                                                  \
      for (size_t st_i_ = 0; st_i_ < (st_nw_ + 63) / 64; st_i_++)                                  \
        for (uint64_t st_b_ = (o)->bigmap[st_i_]; st_b_; st_b_ &= st_b_ - 1) {                     \
          size_t st_w_ = st_i_ * 64 + (size_t)__builtin_ctzll(st_b_);                              \
          if (st_w_ >= st_nw_) break;                                                              \
          void **fp = st_base_ + st_w_;                                                            \
          __VA_ARGS__;                                                                             \
        }                                                                                          \
    } else {                                                                                       \
      for (uint64_t st_b_ = (o)->map; st_b_; st_b_ &= st_b_ - 1) {                                 \
        size_t st_w_ = (size_t)__builtin_ctzll(st_b_);                                             \
        if (st_w_ >= st_nw_) break;                                                                \
        void **fp = st_base_ + st_w_;                                                              \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* ---- cards ---- */

static _Atomic uint8_t *st_card_of(stable_heap_t *h, st_page_t *pg, const void *addr) {
  size_t i = (size_t)((const char *)addr - (const char *)pg->map_base) / h->conf.card;
  return &pg->cards[i];
}

static void st_dirty(stable_heap_t *h, const void *field) {
  st_page_t *pg = st_page_of(field);
  if (pg->cards == NULL) return;
  _Atomic uint8_t *card = st_card_of(h, pg, field);
  if (atomic_load_explicit(card, memory_order_relaxed) == 0) {
    atomic_store_explicit(card, 1, memory_order_relaxed);
    ST_ADD_SHARED(h->c.cards_dirtied, 1);
  }
  pg->dirty = 1;
}

static bool st_is_old_hdr(st_hdr_t *o) {
  return st_page_of(st_payload(o))->old;
}

void st_store(stable_heap_t *h, st_hdr_t *o, size_t field, void *target) {
  void **fp = (void **)((char *)st_payload(o) + field);
  __atomic_store_n(fp, target, __ATOMIC_RELAXED);
  st_make_typed(o);
  st_bit_set(o, field / 8);
  if (target == NULL || h->skip_barrier) return;
  /* the barrier: an old-to-young store within this heap dirties the card */
  st_hdr_t *t = st_own_obj(h, target);
  if (t && !st_is_old_hdr(t) && st_is_old_hdr(o)) st_dirty(h, fp);
}

/* ---- remote frees ---- */

void st_remote_push(stable_heap_t *h, st_hdr_t *o) {
  o->flags |= ST_REMOTE;
  st_hdr_t *head = atomic_load_explicit(&h->remote, memory_order_relaxed);
  do o->root = (void **)head;
  while (!atomic_compare_exchange_weak_explicit(&h->remote, &head, o, memory_order_release,
                                                memory_order_relaxed));
}

void st_drain_remote(stable_heap_t *h) {
  if (atomic_load_explicit(&h->remote, memory_order_relaxed) == NULL) return;
  st_hdr_t *o = atomic_exchange_explicit(&h->remote, NULL, memory_order_acquire);
  while (o) {
    st_hdr_t *next = (st_hdr_t *)o->root;
    st_free_obj(h, o);
    ST_ADD(h->c.remote_frees, 1);
    o = next;
  }
}

/* ---- collections ---- */

static bool st_push(stable_heap_t *h, st_hdr_t *o) {
  if (h->nstack == h->capstack) {
    size_t cap = h->capstack ? 2 * h->capstack : 1024;
    st_hdr_t **n = realloc(h->stack, cap * sizeof *n);
    if (n == NULL) return false;
    h->stack = n, h->capstack = cap;
  }
  h->stack[h->nstack++] = o;
  return true;
}

static bool st_push_moved(stable_heap_t *h, st_hdr_t *o) {
  if (h->nmoved == h->capmoved) {
    size_t cap = h->capmoved ? 2 * h->capmoved : 1024;
    st_hdr_t **n = realloc(h->moved, cap * sizeof *n);
    if (n == NULL) return false;
    h->moved = n, h->capmoved = cap;
  }
  h->moved[h->nmoved++] = o;
  return true;
}

/* Mark o (typed, own) and push it; `young_only` skips old objects. */
static void st_mark(stable_heap_t *h, st_hdr_t *o, bool young_only) {
  if (!(o->flags & ST_TYPED) || (o->flags & ST_MARK)) return;
  if (young_only && st_is_old_hdr(o)) return;
  o->flags |= ST_MARK;
  if (!st_push(h, o)) {
    fprintf(stderr, "stable: out of memory for the mark stack\n");
    abort(); /* a collection cannot stop half way: objects would be lost */
  }
}

static void st_trace(stable_heap_t *h, bool young_only) {
  while (h->nstack) {
    st_hdr_t *o = h->stack[--h->nstack];
    ST_FOR_FIELDS(o, fp, {
      void *v = __atomic_load_n(fp, __ATOMIC_RELAXED);
      st_hdr_t *t = v ? st_own_obj(h, v) : NULL;
      if (t) st_mark(h, t, young_only);
    });
  }
}

static bool st_is_root(st_hdr_t *o) {
  return o->root != NULL || (o->flags & ST_EXTREF);
}

/* Visit each allocated cell of page pg (small or large). */
#define ST_FOR_CELLS(pg, o, ...)                                                                   \
  do {                                                                                             \
    if ((pg)->large) {                                                                             \
      st_hdr_t *o = (st_hdr_t *)(pg)->start;                                                       \
      __VA_ARGS__;                                                                                 \
    } else {                                                                                       \
      for (uint32_t st_k_ = 0; st_k_ < (pg)->bump; st_k_++) {                                      \
        st_hdr_t *o = (st_hdr_t *)((pg)->start + (size_t)st_k_ * (pg)->stride);                    \
        if (o->flags & ST_FREE) continue;                                                          \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* Objects of old page pg overlapping card i. */
static void st_card_cells(stable_heap_t *h, st_page_t *pg, size_t i, st_hdr_t ***out, size_t *n) {
  st_hdr_t **buf = h->cellbuf;
  *n = 0;
  *out = buf;
  char *lo = (char *)pg->map_base + i * h->conf.card, *hi = lo + h->conf.card;
  if (pg->large) {
    buf[(*n)++] = (st_hdr_t *)pg->start;
    return;
  }
  if (hi <= pg->start) return;
  size_t k0 = lo <= pg->start ? 0 : (size_t)(lo - pg->start) / pg->stride;
  size_t k1 = (size_t)(hi - pg->start + pg->stride - 1) / pg->stride;
  if (k1 > pg->bump) k1 = pg->bump;
  for (size_t k = k0; k < k1; k++) {
    st_hdr_t *o = (st_hdr_t *)(pg->start + k * pg->stride);
    if (!(o->flags & ST_FREE) && (o->flags & ST_TYPED)) buf[(*n)++] = o;
  }
}

/* Every old page (small and large) in turn. */
#define ST_FOR_OLD_PAGES(h, pg, ...)                                                               \
  do {                                                                                             \
    for (int st_c_ = 0; st_c_ <= ST_NCLASS; st_c_++)                                               \
      for (st_page_t *pg = st_c_ < ST_NCLASS ? (h)->pages[1][st_c_] : (h)->large[1], *st_nx_; pg;  \
           pg = st_nx_) {                                                                          \
        st_nx_ = pg->next;                                                                         \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
  } while (0)
#define ST_FOR_GEN_PAGES(h, g, pg, ...)                                                            \
  do {                                                                                             \
    for (int st_c_ = 0; st_c_ <= ST_NCLASS; st_c_++)                                               \
      for (st_page_t *pg = st_c_ < ST_NCLASS ? (h)->pages[g][st_c_] : (h)->large[g], *st_nx_; pg;  \
           pg = st_nx_) {                                                                          \
        st_nx_ = pg->next;                                                                         \
        __VA_ARGS__;                                                                               \
      }                                                                                            \
  } while (0)

/* Replace forwarded targets in o's fields; dirty cards of old-to-young
   fields when `o` is old. */
static void st_fix_fields(stable_heap_t *h, st_hdr_t *o, bool o_old) {
  ST_FOR_FIELDS(o, fp, {
    void *v = __atomic_load_n(fp, __ATOMIC_RELAXED);
    st_hdr_t *t = v ? st_own_cell(h, v) : NULL;
    if (t && (t->flags & ST_FWD)) {
      v = *(void **)st_payload(t);
      __atomic_store_n(fp, v, __ATOMIC_RELAXED);
      t = st_own_obj(h, v);
    }
    if (o_old && t && !st_is_old_hdr(t)) st_dirty(h, fp);
  });
}

/* Rebuild the avail lists of generation g and give empty pages back. */
static void st_tidy_gen(stable_heap_t *h, int g) {
  for (int c = 0; c < ST_NCLASS; c++) {
    h->avail[g][c] = NULL;
    for (st_page_t *pg = h->pages[g][c], *nx; pg; pg = nx) {
      nx = pg->next;
      pg->in_avail = 0;
      if (pg->live == 0) {
        st_page_release(h, pg);
        continue;
      }
      if (pg->free || pg->bump < pg->nslots) {
        pg->in_avail = 1;
        pg->avail_next = h->avail[g][c];
        h->avail[g][c] = pg;
      }
    }
  }
}

static void st_reclaim(stable_heap_t *h, st_hdr_t *o) {
  ST_ADD(h->c.reclaimed, 1);
  ST_ADD(h->c.reclaimed_bytes, o->size);
  st_free_obj(h, o);
}

/* Copy young o into the major heap; returns the new header or NULL. */
static st_hdr_t *st_promote(stable_heap_t *h, st_hdr_t *o) {
  st_hdr_t *n = st_alloc_gen(h, o->size, 16, 1);
  if (n == NULL) return NULL; /* stays young: correct, just not promoted */
  memcpy(n, o, sizeof *n + o->size);
  n->flags &= ~ST_MARK;
  st_page_t *np = st_page_of(st_payload(n));
  atomic_fetch_add_explicit(&np->ntyped, 1, memory_order_relaxed);
  *(void **)st_payload(o) = st_payload(n);
  o->flags |= ST_FWD;
  o->bigmap = NULL; /* now n's */
  o->flags &= ~ST_BIGMAP;
  if (n->root) __atomic_store_n(n->root, st_payload(n), __ATOMIC_RELAXED);
  ST_ADD(h->c.promoted, 1);
  ST_ADD(h->c.bytes_moved, o->size);
  return n;
}

void stable_collect_minor(stable_heap_t *h) {
  pthread_mutex_lock(&h->lock);
  h->collecting = true;
  st_drain_remote(h);
  h->nstack = 0;
  /* roots: young typed objects held by a slot (or from another heap) */
  ST_FOR_GEN_PAGES(h, 0, pg, {
    if (atomic_load_explicit(&pg->ntyped, memory_order_relaxed) == 0) continue;
    ST_FOR_CELLS(pg, o, {
      if ((o->flags & ST_TYPED) && st_is_root(o)) st_mark(h, o, true);
    });
  });
  /* and old-to-young pointers, found through the dirty cards only */
  ST_FOR_OLD_PAGES(h, pg, {
    if (!pg->dirty) continue;
    for (size_t i = 0; i < pg->ncards; i++) {
      if (!atomic_load_explicit(&pg->cards[i], memory_order_relaxed)) continue;
      ST_ADD(h->c.cards_scanned, 1);
      st_hdr_t **cells;
      size_t n;
      st_card_cells(h, pg, i, &cells, &n);
      char *lo = (char *)pg->map_base + i * h->conf.card, *hi = lo + h->conf.card;
      for (size_t k = 0; k < n; k++) {
        ST_FOR_FIELDS(cells[k], fp, {
          if ((char *)fp < lo || (char *)fp >= hi) continue; /* other cards cover it */
          void *v = __atomic_load_n(fp, __ATOMIC_RELAXED);
          st_hdr_t *t = v ? st_own_obj(h, v) : NULL;
          if (t) st_mark(h, t, true);
        });
      }
    }
  });
  st_trace(h, true);
  /* sweep the young pages: reclaim, age, promote */
  /* the mark stack is empty now: it collects the promoted objects */
  h->nmoved = 0;
  unsigned limit = h->conf.cohorts;
  ST_FOR_GEN_PAGES(h, 0, pg, {
    if (atomic_load_explicit(&pg->ntyped, memory_order_relaxed) == 0) continue;
    ST_FOR_CELLS(pg, o, {
      if (!(o->flags & ST_TYPED)) continue;
      if (!(o->flags & ST_MARK)) {
        st_reclaim(h, o);
        continue;
      }
      o->flags &= ~ST_MARK;
      unsigned cohort = (o->flags & ST_COHORT_MASK) >> ST_COHORT_SHIFT;
      if (cohort < STABLE_MAX_COHORT) cohort++;
      o->flags = (o->flags & ~ST_COHORT_MASK) | (cohort << ST_COHORT_SHIFT);
      if (cohort < limit || (o->flags & (ST_PINNED | ST_EXTREF))) continue;
      if (pg->large) { /* promoted in place: the mapping changes lists, nothing moves */
        if (pg->prev)
          pg->prev->next = pg->next;
        else
          h->large[0] = pg->next;
        if (pg->next) pg->next->prev = pg->prev;
        pg->ncards = st_ncards(h, pg->map_len);
        pg->cards = calloc(pg->ncards, 1);
        if (pg->cards == NULL) { /* cannot card-mark it: keep it young */
          pg->ncards = 0;
          pg->next = h->large[0], pg->prev = NULL;
          if (pg->next) pg->next->prev = pg;
          h->large[0] = pg;
          continue;
        }
        pg->old = 1;
        pg->prev = NULL;
        pg->next = h->large[1];
        if (pg->next) pg->next->prev = pg;
        h->large[1] = pg;
        ST_ADD(h->c.promoted_in_place, 1);
        if (!st_push(h, o)) abort();
        continue;
      }
      st_hdr_t *n = st_promote(h, o);
      if (n && (!st_push(h, n) || !st_push_moved(h, o))) abort();
    });
  });
  /* fix references to promoted objects: young survivors, old objects in
     dirty cards (re-dirtying those still pointing young), new copies */
  ST_FOR_GEN_PAGES(h, 0, pg, {
    if (atomic_load_explicit(&pg->ntyped, memory_order_relaxed) == 0) continue;
    ST_FOR_CELLS(pg, o, {
      if ((o->flags & ST_TYPED) && !(o->flags & ST_FWD)) st_fix_fields(h, o, false);
    });
  });
  ST_FOR_OLD_PAGES(h, pg, {
    if (!pg->dirty) continue;
    pg->dirty = 0;
    for (size_t i = 0; i < pg->ncards; i++) {
      if (!atomic_load_explicit(&pg->cards[i], memory_order_relaxed)) continue;
      atomic_store_explicit(&pg->cards[i], 0, memory_order_relaxed);
      st_hdr_t **cells;
      size_t n;
      st_card_cells(h, pg, i, &cells, &n);
      for (size_t k = 0; k < n; k++) st_fix_fields(h, cells[k], true);
    }
  });
  for (size_t i = 0; i < h->nstack; i++) st_fix_fields(h, h->stack[i], true);
  h->nstack = 0;
  for (size_t i = 0; i < h->nmoved; i++) st_free_obj(h, h->moved[i]);
  h->nmoved = 0;
  st_tidy_gen(h, 0);
  st_tidy_gen(h, 1);
  ST_ADD(h->c.minor, 1);
  h->since_minor = 0;
  h->collecting = false;
  pthread_mutex_unlock(&h->lock);
}

void stable_collect_major(stable_heap_t *h) {
  pthread_mutex_lock(&h->lock);
  h->collecting = true;
  st_drain_remote(h);
  h->nstack = 0;
  for (int g = 0; g < 2; g++)
    ST_FOR_GEN_PAGES(h, g, pg, {
      if (atomic_load_explicit(&pg->ntyped, memory_order_relaxed) == 0) continue;
      ST_FOR_CELLS(pg, o, {
        if ((o->flags & ST_TYPED) && st_is_root(o)) st_mark(h, o, false);
      });
    });
  st_trace(h, false);
  for (int g = 0; g < 2; g++)
    ST_FOR_GEN_PAGES(h, g, pg, {
      if (atomic_load_explicit(&pg->ntyped, memory_order_relaxed) == 0) continue;
      ST_FOR_CELLS(pg, o, {
        if (!(o->flags & ST_TYPED)) continue;
        if (o->flags & ST_MARK)
          o->flags &= ~ST_MARK;
        else
          st_reclaim(h, o);
      });
    });
  st_tidy_gen(h, 0);
  st_tidy_gen(h, 1);
  ST_ADD(h->c.major, 1);
  h->since_minor = h->since_major = 0;
  h->collecting = false;
  pthread_mutex_unlock(&h->lock);
}

/* Collect when the allocation volume says so (owner, before an allocation). */
void st_maybe_collect(stable_heap_t *h, size_t size) {
  h->since_minor += size;
  h->since_major += size;
  if (h->conf.collect_at) return;
  if (h->since_major >= h->conf.major_bytes) {
    if (ST_GET(h->c.typed_live)) stable_collect_major(h);
    h->since_major = h->since_minor = 0;
  } else if (h->since_minor >= h->conf.minor_bytes) {
    if (ST_GET(h->c.typed_live)) stable_collect_minor(h);
    h->since_minor = 0;
  }
}

/* ---- configuration ---- */

/* pin=all (every object), none, or BYTES (typed objects of at least BYTES) */
#define ST_PIN_ALL UINT64_MAX
static void st_set_pin(void *conf, uint64_t v) {
  stable_config_t *c = conf;
  c->pin_all = v == ST_PIN_ALL;
  c->pin_min = v == ST_PIN_ALL ? 0 : (size_t)v;
}

static const hl_opt_word_t st_pin_words[] = {{"all", ST_PIN_ALL}, {"none", 0}, {NULL, 0}};

/* The options (alloc/options.h; README.md, "Options"). */
static const hl_opt_t st_opts[] = {
    {.name = "cohorts",
     .kind = HL_OPT_UINT,
     .min = 1,
     .max = STABLE_MAX_COHORT,
     HL_OPT_FIELD(stable_config_t, cohorts),
     .help = "minor collections an object survives before promotion (default 7)"},
    {.name = "card",
     .kind = HL_OPT_SIZE,
     .min = ST_MIN_CARD,
     .max = ST_PAGE,
     .flags = HL_OPT_POW2,
     HL_OPT_FIELD(stable_config_t, card),
     .help = "card size in bytes (default 1K)"},
    {.name = "minor",
     .kind = HL_OPT_SIZE,
     .min = 1,
     .max = SIZE_MAX,
     HL_OPT_FIELD(stable_config_t, minor_bytes),
     .help = "allocation volume between minor collections (default 1M)"},
    {.name = "major",
     .kind = HL_OPT_SIZE,
     .min = 1,
     .max = SIZE_MAX,
     HL_OPT_FIELD(stable_config_t, major_bytes),
     .help = "allocation volume between major collections (default 16M)"},
    {.name = "pin",
     .kind = HL_OPT_SIZE,
     .min = 1,
     .max = (uint64_t)1 << 48,
     .set = st_set_pin,
     .words = st_pin_words,
     .help = "pin every object, none (default), or typed objects of at least BYTES"},
    {.name = "raw",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(stable_config_t, raw),
     .help = "1: nothing ever becomes typed: no tracing, no moves (default 0)"},
    {.name = "checked",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(stable_config_t, checked),
     .help = "full stable_heap_is_valid after every operation: slow (default 0)"},
    {.name = "manual",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(stable_config_t, collect_at),
     .help = "1: collect only when asked (tests), not by volume (default 0)"},
};

const hl_opt_table_t stable_options = {
    .name = "stable", .opts = st_opts, .count = sizeof st_opts / sizeof st_opts[0]};

int stable_config_parse(stable_config_t *out, const char *options, char *why, size_t why_len) {
  *out = (stable_config_t){.cohorts = 7,
                           .card = 1024,
                           .minor_bytes = (size_t)1 << 20,
                           .major_bytes = (size_t)16 << 20,
                           .checked = STABLE_DEBUG != 0};
  return hl_opt_parse(&stable_options, options, out, why, why_len);
}

/* ---- heap lifecycle ---- */

stable_heap_t *stable_heap_new(const stable_config_t *config) {
  stable_heap_t *h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  pthread_mutex_init(&h->lock, NULL);
  h->conf = *config;
  uint32_t id;
  do id = atomic_fetch_add(&st_next_id, 1) & 0xffff;
  while (id == 0);
  h->id = (uint16_t)id;
  atomic_init(&h->remote, NULL);
  return h;
}

void stable_heap_delete(stable_heap_t *h) {
  if (h == NULL) return;
  for (int g = 0; g < 2; g++) {
    ST_FOR_GEN_PAGES(h, g, pg, {
      ST_FOR_CELLS(pg, o, {
        if (o->flags & ST_BIGMAP) free(o->bigmap);
      });
      if (pg->large) st_large_free(h, pg);
    });
  }
  for (size_t i = 0; i < h->nchunks; i++) {
    st_pagemap_set(h->chunks[i], ST_CHUNK, NULL, 0);
    munmap(h->chunks[i], ST_CHUNK);
  }
  free(h->chunks);
  free(h->stack);
  free(h->moved);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

void stable_debug_skip_barrier(stable_heap_t *h, bool skip) {
  h->skip_barrier = skip;
}

/* ---- types and the public object API ---- */

struct stable_type_s {
  size_t size;
  uint64_t map;
  uint64_t *bigmap; /* size > 512 */
};

stable_type_t *stable_type_new(size_t size, size_t n, const size_t *offsets) {
  if (size == 0 || size > UINT32_MAX) return NULL;
  stable_type_t *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->size = size;
  size_t nw = size / 8;
  if (nw > 64 && (t->bigmap = calloc((nw + 63) / 64, sizeof *t->bigmap)) == NULL) {
    free(t);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    size_t w = offsets[i] / 8;
    if (offsets[i] % 8 || w >= nw) {
      stable_type_delete(t);
      return NULL;
    }
    if (t->bigmap)
      t->bigmap[w / 64] |= (uint64_t)1 << (w % 64);
    else
      t->map |= (uint64_t)1 << w;
  }
  return t;
}

void stable_type_delete(stable_type_t *t) {
  if (t == NULL) return;
  free(t->bigmap);
  free(t);
}

static void st_check_op(stable_heap_t *h) {
  if (h->conf.checked && !stable_heap_is_valid(h)) {
    fprintf(stderr, "stable: heap invariant broken (checked mode)\n");
    abort();
  }
}

int stable_alloc_typed(stable_heap_t *h, void **root, const stable_type_t *t, unsigned flags) {
  st_drain_remote(h);
  st_maybe_collect(h, t->size);
  st_hdr_t *o = st_alloc_obj(h, t->size, 16);
  if (o == NULL) return ENOMEM;
  memset(st_payload(o), 0, t->size);
  if (t->bigmap) {
    size_t n = (t->size / 8 + 63) / 64;
    if ((o->bigmap = malloc(n * sizeof *o->bigmap)) == NULL) {
      st_free_obj(h, o);
      return ENOMEM;
    }
    memcpy(o->bigmap, t->bigmap, n * sizeof *o->bigmap);
    o->flags |= ST_BIGMAP;
  }
  o->map = t->map;
  st_make_typed(o);
  if ((flags & STABLE_PIN) || h->conf.pin_all) st_pin(o);
  o->root = root;
  *root = st_payload(o);
  st_check_op(h);
  return 0;
}

void *stable_alloc_raw(stable_heap_t *h, size_t size, unsigned flags) {
  (void)flags; /* raw memory never moves: pinning adds nothing */
  st_drain_remote(h);
  st_maybe_collect(h, size);
  st_hdr_t *o = st_alloc_obj(h, size, 16);
  if (o == NULL) return NULL;
  st_check_op(h);
  return st_payload(o);
}

void stable_free_raw(stable_heap_t *h, void *p) {
  if (p == NULL) return;
  st_hdr_t *o = st_hdr(p);
  if (o->flags & ST_TYPED) {
    fprintf(stderr, "stable: stable_free_raw(%p): a typed object (drop its root instead)\n", p);
    return;
  }
  st_free_obj(h, o);
  ST_ADD(h->c.raw_frees, 1);
  st_check_op(h);
}

void stable_root_drop(stable_heap_t *h, void **root) {
  if (*root == NULL) return;
  st_hdr_t *o = st_hdr(*root);
  o->root = NULL;
  *root = NULL;
  ST_ADD(h->c.roots_dropped, 1);
  st_check_op(h);
}

int stable_store(stable_heap_t *h, void *obj, size_t field, void *target) {
  st_hdr_t *o = st_own_obj(h, obj);
  if (o == NULL || !(o->flags & ST_TYPED) || field % 8 || field + 8 > o->size ||
      !st_bit_get(o, field / 8))
    return EINVAL;
  if (target) {
    st_hdr_t *t = st_own_obj(h, target);
    if (t == NULL || !(t->flags & ST_TYPED)) return EINVAL;
  }
  st_store(h, o, field, target);
  st_check_op(h);
  return 0;
}

/* ---- inspection ---- */

bool stable_is_live(stable_heap_t *h, const void *p) {
  return st_own_obj(h, p) != NULL;
}

bool stable_is_old(const void *p) {
  st_page_t *pg = st_page_of(p);
  return pg && pg->old;
}

void stable_heap_walk(stable_heap_t *h, void (*fn)(void *obj, void *arg), void *arg) {
  for (int g = 0; g < 2; g++)
    ST_FOR_GEN_PAGES(h, g, pg, {
      ST_FOR_CELLS(pg, o, {
        if (o->flags & ST_TYPED) fn(st_payload(o), arg);
      });
    });
}

void stable_heap_stats(stable_heap_t *h, stable_stats_t *s) {
  memset(s, 0, sizeof *s);
  const st_counters_t *c = &h->c;
  s->minor = ST_GET(c->minor);
  s->major = ST_GET(c->major);
  s->promoted = ST_GET(c->promoted);
  s->promoted_in_place = ST_GET(c->promoted_in_place);
  s->bytes_moved = ST_GET(c->bytes_moved);
  s->cards_dirtied = ST_GET(c->cards_dirtied);
  s->cards_scanned = ST_GET(c->cards_scanned);
  s->bytes_pinned = ST_GET(c->bytes_pinned);
  s->objects_pinned = ST_GET(c->objects_pinned);
  s->allocs = ST_GET(c->allocs);
  s->raw_frees = ST_GET(c->raw_frees);
  s->typed = ST_GET(c->typed);
  s->roots_dropped = ST_GET(c->roots_dropped);
  s->reclaimed = ST_GET(c->reclaimed);
  s->reclaimed_bytes = ST_GET(c->reclaimed_bytes);
  s->remote_frees = ST_GET(c->remote_frees);
  s->escaped = ST_GET(c->escaped);
  s->typed_live = ST_GET(c->typed_live);
  s->typed_live_bytes = ST_GET(c->typed_live_bytes);
  s->bytes_mapped = ST_GET(c->mapped);
}

void stable_stats_print(const stable_stats_t *s, void *file) {
  FILE *f = file;
  fprintf(f,
          "stable_minor %llu\nstable_major %llu\nstable_promoted %llu\n"
          "stable_promoted_in_place %llu\nstable_bytes_moved %llu\nstable_cards_dirtied %llu\n"
          "stable_cards_scanned %llu\nstable_bytes_pinned %llu\nstable_objects_pinned %llu\n"
          "stable_allocs %llu\nstable_raw_frees %llu\nstable_typed %llu\n"
          "stable_roots_dropped %llu\nstable_reclaimed %llu\nstable_reclaimed_bytes %llu\n"
          "stable_remote_frees %llu\nstable_escaped %llu\nstable_typed_live %llu\n"
          "stable_typed_live_bytes %llu\nstable_bytes_mapped %llu\n",
          (unsigned long long)s->minor, (unsigned long long)s->major,
          (unsigned long long)s->promoted, (unsigned long long)s->promoted_in_place,
          (unsigned long long)s->bytes_moved, (unsigned long long)s->cards_dirtied,
          (unsigned long long)s->cards_scanned, (unsigned long long)s->bytes_pinned,
          (unsigned long long)s->objects_pinned, (unsigned long long)s->allocs,
          (unsigned long long)s->raw_frees, (unsigned long long)s->typed,
          (unsigned long long)s->roots_dropped, (unsigned long long)s->reclaimed,
          (unsigned long long)s->reclaimed_bytes, (unsigned long long)s->remote_frees,
          (unsigned long long)s->escaped, (unsigned long long)s->typed_live,
          (unsigned long long)s->typed_live_bytes, (unsigned long long)s->bytes_mapped);
}

/* ---- invariants ---- */

#define ST_BAD(...)                                                                                \
  do {                                                                                             \
    fprintf(stderr, "stable_heap_is_valid: " __VA_ARGS__);                                         \
    fputc('\n', stderr);                                                                           \
    ok = false;                                                                                    \
    goto out;                                                                                      \
  } while (0)

bool stable_heap_is_valid(stable_heap_t *h) {
  bool ok = true;
  uint64_t typed = 0, pinned = 0;
  pthread_mutex_lock(&h->lock);
  for (int g = 0; g < 2; g++) {
    for (int c = 0; c < ST_NCLASS; c++) {
      for (st_page_t *pg = h->avail[g][c]; pg; pg = pg->avail_next)
        if (!pg->in_avail || pg->old != g || pg->cls != c || (!pg->free && pg->bump == pg->nslots))
          ST_BAD("page %p on the wrong avail list or full", (void *)pg);
    }
    ST_FOR_GEN_PAGES(h, g, pg, {
      if (pg->magic != ST_PAGE_MAGIC || pg->owner != h || pg->old != g)
        ST_BAD("page %p: bad magic, owner or generation", (void *)pg);
      uint16_t id;
      if (st_page_lookup(pg->start, &id) != pg || id != h->id)
        ST_BAD("page %p missing from the page map", (void *)pg);
      if (!pg->large) {
        size_t nfree = 0;
        for (st_hdr_t *f = pg->free; f; f = (st_hdr_t *)f->root)
          if (!(f->flags & ST_FREE) || ++nfree > pg->nslots)
            ST_BAD("page %p: bad free list", (void *)pg);
        if (pg->bump > pg->nslots || pg->live + nfree != pg->bump)
          ST_BAD("page %p: live %u + free %zu != used %u", (void *)pg, pg->live, nfree, pg->bump);
      }
      uint32_t ntyped = 0;
      ST_FOR_CELLS(pg, o, {
        if (o->flags & (ST_MARK | ST_FWD)) ST_BAD("object %p: stale mark or forward", (void *)o);
        if (!pg->large && o->size > st_class_size[pg->cls])
          ST_BAD("object %p: size %u beyond its class", (void *)o, o->size);
        if (o->flags & ST_PINNED) pinned++;
        if (o->flags & ST_REMOTE) continue; /* root is the remote list's link */
        void **root = o->root;
        if (root && __atomic_load_n(root, __ATOMIC_RELAXED) != st_payload(o))
          ST_BAD("object %p: its root slot %p does not point back", st_payload(o), (void *)root);
        if (!(o->flags & ST_TYPED)) continue;
        ntyped++;
        typed++;
        ST_FOR_FIELDS(o, fp, {
          void *v = __atomic_load_n(fp, __ATOMIC_RELAXED);
          if (v == NULL) continue;
          uint16_t tid;
          st_page_t *tp = st_page_lookup(v, &tid);
          if (tp == NULL || tid != h->id || tp->owner != h) continue; /* foreign */
          st_hdr_t *t = st_obj_in_page(tp, v);
          if (t == NULL || !(t->flags & ST_TYPED))
            ST_BAD("object %p field +%zu points at %p, which is not a live typed object "
                   "(reclaimed while reachable?)",
                   st_payload(o), (size_t)((char *)fp - (char *)st_payload(o)), v);
          if (g == 1 && !tp->old && !h->collecting &&
              !atomic_load_explicit(st_card_of(h, pg, fp), memory_order_relaxed))
            ST_BAD("old object %p field +%zu points at young %p but its card is clean "
                   "(write barrier skipped?)",
                   st_payload(o), (size_t)((char *)fp - (char *)st_payload(o)), v);
        });
      });
      if (ntyped != atomic_load_explicit(&pg->ntyped, memory_order_relaxed))
        ST_BAD("page %p: %u typed objects, counted %u", (void *)pg, ntyped,
               atomic_load_explicit(&pg->ntyped, memory_order_relaxed));
    });
  }
  if (typed != ST_GET(h->c.typed_live))
    ST_BAD("%llu typed objects, counted %llu", (unsigned long long)typed,
           (unsigned long long)ST_GET(h->c.typed_live));
  if (pinned != ST_GET(h->c.objects_pinned))
    ST_BAD("%llu pinned objects, counted %llu", (unsigned long long)pinned,
           (unsigned long long)ST_GET(h->c.objects_pinned));
out:
  pthread_mutex_unlock(&h->lock);
  return ok;
}
