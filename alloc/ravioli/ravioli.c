/* ----------------------------------------------------------------------------
  alloc/ravioli/ravioli.c: the ravioli allocator (seed 001), registered as
  `ravioli`: fixed-size ravioli in a compact per-thread heap of pages, with
  back-references so a move fixes its referrers in O(1), reverse ravioli for
  sharing, large objects as trees of ravioli, a lock-free pool of empty pages
  with the two-empty-pages hysteresis, and message passing by transfer pages
  posted to a lock-free per-thread inbox. README.md says why it is built so.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define RV_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RV_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RV_ALL_SLOTS   ((1u << RV_SLOTS) - 1)

static _Noreturn void rv_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static _Noreturn void rv_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ravioli: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* ==== the pool of empty pages: the only point where threads coordinate ==== */

/* The pool head carries an ABA tag in the address bits below the page size
   (at least 10 bits: pages are >= 1 KiB and aligned to their size). */
static inline uintptr_t rv_tagmask(const rv_heap_t *h) {
  return (uintptr_t)h->page_size - 1;
}

/* Push first..last (already linked through w[1]) in one CAS; thread t
   counts them (statistics per thread: no shared counter on this path). */
static void rv_pool_push(rv_thread_t *t, char *first, char *last, int64_t n) {
  rv_heap_t *h = t->heap;
  rv_cell_t *l = (rv_cell_t *)last;
  uintptr_t tm = rv_tagmask(h);
  uintptr_t old = atomic_load_explicit(&h->pool, memory_order_relaxed), nw;
  do {
    __atomic_store_n(&l->w[1], old & ~tm, __ATOMIC_RELAXED);
    nw = (uintptr_t)first | ((old + 1) & tm);
  } while (!atomic_compare_exchange_weak_explicit(&h->pool, &old, nw, memory_order_release,
                                                  memory_order_relaxed));
  t->pool_net += n;
}

static char *rv_pool_pop(rv_thread_t *t) {
  rv_heap_t *h = t->heap;
  uintptr_t tm = rv_tagmask(h);
  uintptr_t old = atomic_load_explicit(&h->pool, memory_order_acquire);
  for (;;) {
    char *p = (char *)(old & ~tm);
    if (p == NULL) return NULL;
    /* p may be popped and reused meanwhile: its link word is only ever
       accessed atomically, and pages are never unmapped before heap_done */
    uintptr_t next = __atomic_load_n(&((rv_cell_t *)p)->w[1], __ATOMIC_RELAXED);
    if (atomic_compare_exchange_weak_explicit(&h->pool, &old, next | ((old + 1) & tm),
                                              memory_order_acquire, memory_order_acquire)) {
      t->pool_net--;
      return p;
    }
  }
}

/* Map a batch of pages, aligned to the page size so a cell's page is found
   by masking; keep the first, pool the rest. */
static char *rv_pool_refill(rv_thread_t *t) {
  rv_heap_t *h = t->heap;
  size_t ps = h->page_size, n = h->batch_pages, len = n * ps;
  char *m = mmap(NULL, len + ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return NULL;
  char *base = (char *)(((uintptr_t)m + ps - 1) & ~(uintptr_t)(ps - 1));
  if (base > m) munmap(m, (size_t)(base - m));
  size_t tail = (size_t)((m + len + ps) - (base + len));
  if (tail) munmap(base + len, tail);
  rv_batch_t *b = malloc(sizeof *b);
  if (b == NULL) {
    munmap(base, len);
    return NULL;
  }
  b->base = base, b->len = len;
  b->next = atomic_load_explicit(&h->batches, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&h->batches, &b->next, b, memory_order_release,
                                                memory_order_relaxed)) {
  }
  atomic_fetch_add_explicit(&h->mapped, len, memory_order_relaxed);
  if (n > 1) {
    for (size_t i = 1; i + 1 < n; i++)
      __atomic_store_n(&((rv_cell_t *)(base + i * ps))->w[1], (uintptr_t)(base + (i + 1) * ps),
                       __ATOMIC_RELAXED);
    rv_pool_push(t, base + ps, base + (n - 1) * ps, (int64_t)n - 1);
  }
  return base;
}

/* A page for thread t: its spare first, else the pool, else a new batch;
   NULL when the OS refuses the batch. */
static char *rv_page_try(rv_thread_t *t) {
  char *p = t->spare;
  if (p) {
    t->spare = NULL;
    return p;
  }
  if ((p = rv_pool_pop(t)) == NULL) p = rv_pool_refill(t);
  return p;
}

/* The same where the operation cannot be undone any more. */
char *rv_page_get(rv_thread_t *t) {
  char *p = rv_page_try(t);
  if (p == NULL) rv_die("out of memory: mapping a batch of %zu pages failed", t->heap->batch_pages);
  return p;
}

/* An empty page leaves t's hands: kept as the spare unless one is held
   already (two empty pages: return one, keep the other), or always
   returned when hysteresis is off. */
void rv_page_put(rv_thread_t *t, char *p) {
  hl_alloc_dead(p, t->heap->page_size); /* before the header words below are written */
  rv_cell_t *hd = (rv_cell_t *)p;
  hd->w[0] = (uintptr_t)t | RV_K_PAGE;
  hd->w[2] = hd->w[3] = 0;
  if (t->heap->hysteresis && t->spare == NULL && !(t->top && t->topi == 1 && t->top != p)) {
    t->spare = p;
    return;
  }
  rv_pool_push(t, p, p, 1);
  t->pages_returned++;
}

/* ==== the compact heap ==== */

/* Make p (an empty page) the new top page. */
static void rv_top_push_page(rv_thread_t *t, char *p) {
  rv_cell_t *hd = (rv_cell_t *)p;
  hd->w[0] = (uintptr_t)t | RV_K_PAGE;
  hd->w[2] = (uintptr_t)t->top;
  hd->w[3] = t->top ? ((rv_cell_t *)t->top)->w[3] + 1 : 0;
  t->top = p;
  t->topi = 1;
  t->npages++;
}

static __attribute__((noinline)) rv_cell_t *rv_cell_new_slow(rv_thread_t *t) {
  rv_top_push_page(t, rv_page_get(t));
  t->ncells++;
  return (rv_cell_t *)(t->top + (size_t)t->topi++ * RV_CELL);
}

/* The next cell at the heap top. Never moves anything. */
static inline rv_cell_t *rv_cell_new(rv_thread_t *t) {
  t->cells_allocated++;
  if (RV_LIKELY(t->topi < t->cpp)) {
    t->ncells++;
    return (rv_cell_t *)(t->top + (size_t)t->topi++ * RV_CELL);
  }
  return rv_cell_new_slow(t);
}

static __attribute__((noinline)) void rv_top_drop_page(rv_thread_t *t) {
  char *p = t->top;
  t->top = (char *)((rv_cell_t *)p)->w[2];
  t->topi = t->cpp; /* the page below is full (or there is none) */
  t->npages--;
  rv_page_put(t, p);
}

/* The last cell of the heap (there is one). An empty top page is the
   thread's one kept empty page: it goes (to the spare slot) only now. */
static inline rv_cell_t *rv_top_cell(rv_thread_t *t) {
  if (RV_UNLIKELY(t->topi == 1)) rv_top_drop_page(t);
  return (rv_cell_t *)(t->top + (size_t)(t->topi - 1) * RV_CELL);
}

/* Forget the top cell (call rv_top_cell first; its content is dead or was
   moved away). A page that empties stays as the top page when it is the
   only empty page held (hysteresis), else it goes at once. */
static inline void rv_pop_top(rv_thread_t *t) {
  hl_alloc_dead(t->top + (size_t)(t->topi - 1) * RV_CELL, RV_CELL); /* moved away or freed */
  t->ncells--;
  if (--t->topi == 1 && (t->spare || !t->heap->hysteresis)) rv_top_drop_page(t);
}

/* The heap order of a cell: page sequence number, then index. */
static inline uint64_t rv_pos(const rv_thread_t *t, const rv_cell_t *c) {
  const rv_cell_t *hd = rv_page_hdr(t, c);
  return hd->w[3] * (t->cpp - 1) + ((uintptr_t)c - (uintptr_t)hd) / RV_CELL - 1;
}

/* ---- the scratch stack for walks of unbounded size ---- */

static inline void rv_push(rv_thread_t *t, size_t *n, uintptr_t v) {
  if (RV_UNLIKELY(*n == t->scratch_cap)) {
    size_t cap = t->scratch_cap ? 2 * t->scratch_cap : 256;
    uintptr_t *s = realloc(t->scratch, cap * sizeof *s);
    if (s == NULL) rv_die("out of memory growing a walk stack");
    t->scratch = s, t->scratch_cap = cap;
  }
  t->scratch[(*n)++] = v;
}

/* ---- moving: O(1) pointer fix-ups through the back-references ---- */

static inline void rv_set_cell(uintptr_t p, uintptr_t v) {
  *(uintptr_t *)(p & ~(uintptr_t)RV_EXT) = v;
}

/* The back-reference of x that names cell `oldc` now names `newc`. */
static inline void rv_rebind(rv_cell_t *x, uintptr_t oldc, uintptr_t newc) {
  if (rv_kind(x) == RV_K_REV && x->w[3] == oldc)
    x->w[3] = newc;
  else
    x->w[1] = newc;
}

static void rv_move(rv_thread_t *t, rv_cell_t *a, rv_cell_t *b) {
  *b = *a;
  uintptr_t ty = b->w[0];
  unsigned k = (unsigned)(ty & RV_KIND_MASK), fix = 1;
  rv_set_cell(b->w[1], (uintptr_t)b);
  if (k == RV_K_REV) {
    rv_set_cell(b->w[3], (uintptr_t)b);
    rv_rebind((rv_cell_t *)b->w[2], (uintptr_t)&a->w[2], (uintptr_t)&b->w[2]);
    fix += 2;
  } else {
    unsigned m = k == RV_K_NODE ? RV_ALL_SLOTS : rv_pmask(ty);
    for (unsigned j = 0; m; j++, m >>= 1)
      if ((m & 1) && b->w[2 + j]) {
        rv_rebind((rv_cell_t *)b->w[2 + j], (uintptr_t)&a->w[2 + j], (uintptr_t)&b->w[2 + j]);
        fix++;
      }
  }
  t->moves++;
  t->fixups += fix;
}

/* Free one detached cell: the top cell moves into the hole. */
static inline void rv_cell_free(rv_thread_t *t, rv_cell_t *h) {
  rv_cell_t *top = rv_top_cell(t);
  if (h != top) rv_move(t, top, h);
  rv_pop_top(t);
}

/* ---- batched frees: mark first, compact once (a big tree costs at most
   one move per freed cell, never a cascade) ---- */

typedef struct rv_holes_s {
  rv_cell_t *head;
  uint64_t n;
} rv_holes_t;

static inline void rv_hole_add(rv_holes_t *hs, rv_cell_t *c) {
  c->w[0] = RV_K_FREE;
  c->w[1] = (uintptr_t)hs->head;
  hs->head = c;
  hs->n++;
}

/* ---- moving a set of cells at once, in order ----
   Cells src[i] -> dst[i] (disjoint sets). Each vacated cell keeps a
   forwarding mark (kind FWD, w[1] its new place) until the fix-up pass, so
   a pointer from one moved cell to another is translated in place, and only
   pointers to cells that stay are rebound at the far end (as rv_move does).
   Moving a run of cells in ascending order keeps it a run: an object whose
   cells were contiguous stays contiguous. */

static inline uintptr_t rv_forwarded(uintptr_t p) {
  rv_cell_t *c = rv_cell_of(p);
  return rv_kind(c) == RV_K_FWD ? c->w[1] + (p - (uintptr_t)c) : 0;
}

/* Parent word value q of moved cell b (was at a): the far end now names b. */
static inline uintptr_t rv_fix_parent(uintptr_t q, rv_cell_t *b, uint64_t *fix) {
  (*fix)++;
  if (!(q & RV_EXT)) {
    uintptr_t f = rv_forwarded(q);
    if (f) return f; /* the parent moved too: its own fix translates its word */
  }
  rv_set_cell(q, (uintptr_t)b);
  return q;
}

/* Child (or target) word value x of moved cell b, word `word` (was at a). */
static inline uintptr_t rv_fix_child(uintptr_t x, uintptr_t oldw, uintptr_t neww, uint64_t *fix) {
  (*fix)++;
  uintptr_t f = rv_forwarded(x);
  if (f) return f;
  rv_rebind((rv_cell_t *)x, oldw, neww);
  return x;
}

static void rv_move_set(rv_thread_t *t, rv_cell_t *const *src, rv_cell_t *const *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    *dst[i] = *src[i];
    src[i]->w[0] = RV_K_FWD;
    src[i]->w[1] = (uintptr_t)dst[i];
  }
  uint64_t fix = 0;
  for (size_t i = 0; i < n; i++) {
    rv_cell_t *a = src[i], *b = dst[i];
    uintptr_t ty = b->w[0];
    unsigned k = (unsigned)(ty & RV_KIND_MASK);
    b->w[1] = rv_fix_parent(b->w[1], b, &fix);
    if (k == RV_K_REV) {
      b->w[3] = rv_fix_parent(b->w[3], b, &fix);
      b->w[2] = rv_fix_child(b->w[2], (uintptr_t)&a->w[2], (uintptr_t)&b->w[2], &fix);
    } else {
      unsigned m = k == RV_K_NODE ? RV_ALL_SLOTS : rv_pmask(ty);
      for (unsigned j = 0; m; j++, m >>= 1)
        if ((m & 1) && b->w[2 + j])
          b->w[2 + j] =
              rv_fix_child(b->w[2 + j], (uintptr_t)&a->w[2 + j], (uintptr_t)&b->w[2 + j], &fix);
    }
  }
  t->moves += n;
  t->fixups += fix;
}

typedef struct rv_posaddr_s {
  uint64_t pos;
  uintptr_t addr;
} rv_posaddr_t;

static int rv_posaddr_cmp(const void *x, const void *y) {
  uint64_t a = ((const rv_posaddr_t *)x)->pos, b = ((const rv_posaddr_t *)y)->pos;
  return a < b ? -1 : a > b;
}

/* Fill the holes below the final top with the live cells above it, both in
   ascending heap order (see rv_move_set), then drop the top. The holes
   above the final top simply vanish. */
static void rv_holes_compact(rv_thread_t *t, rv_holes_t *hs) {
  if (hs->n == 0) return;
  uint64_t keep = t->ncells - hs->n, lo = UINT64_MAX, hi = 0;
  rv_cell_t *hic = NULL;
  size_t n = 0;
  for (rv_cell_t *c = hs->head, *next; c; c = next) {
    next = (rv_cell_t *)c->w[1];
    uint64_t pos = rv_pos(t, c);
    if (pos >= keep) continue;
    rv_push(t, &n, pos), rv_push(t, &n, (uintptr_t)c);
    if (pos < lo) lo = pos;
    if (pos >= hi) hi = pos, hic = c;
  }
  size_t low = n / 2;
  if (low) {
    if (hi - lo < 4 * (uint64_t)low) {
      /* the holes are close together (a freed object's run of cells): walk
         their span down from the highest, cheaper than sorting */
      n = 0;
      char *p = (char *)rv_page_hdr(t, hic);
      uint32_t i = (uint32_t)(((uintptr_t)hic - (uintptr_t)p) / RV_CELL);
      for (uint64_t pos = hi + 1; pos-- > lo;) {
        rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
        if (rv_kind(c) == RV_K_FREE) t->scratch[n++] = (uintptr_t)c;
        if (--i == 0) p = (char *)((rv_cell_t *)p)->w[2], i = t->cpp - 1;
      }
      for (size_t a = 0, b = low - 1; a < b; a++, b--) {
        uintptr_t x = t->scratch[a];
        t->scratch[a] = t->scratch[b], t->scratch[b] = x;
      }
    } else {
      rv_posaddr_t *pa = (rv_posaddr_t *)t->scratch;
      qsort(pa, low, sizeof *pa, rv_posaddr_cmp);
      for (size_t i = 0; i < low; i++) t->scratch[i] = pa[i].addr; /* pa[i / 2] is used up */
    }
    n = low; /* scratch[0, low): the holes ascending; next the sources */
    char *p = t->top;
    uint32_t i = t->topi;
    while (n < 2 * low) { /* the live cells above the final top, from the top down */
      if (--i == 0) p = (char *)((rv_cell_t *)p)->w[2], i = t->cpp - 1;
      rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
      if (rv_kind(c) != RV_K_FREE) rv_push(t, &n, (uintptr_t)c);
    }
    for (size_t a = low, b = 2 * low - 1; a < b; a++, b--) { /* ascending, to pair in order */
      uintptr_t x = t->scratch[a];
      t->scratch[a] = t->scratch[b], t->scratch[b] = x;
    }
    rv_move_set(t, (rv_cell_t *const *)(t->scratch + low), (rv_cell_t *const *)t->scratch, low);
  }
  while (t->ncells > keep) {
    rv_top_cell(t);
    rv_pop_top(t);
  }
  hs->head = NULL, hs->n = 0;
}

/* ==== objects: trees of ravioli ==== */

static inline rv_cell_t *rv_resolve(uintptr_t ref) {
  rv_cell_t *c = (rv_cell_t *)ref;
  while (rv_kind(c) == RV_K_REV) c = (rv_cell_t *)c->w[2];
  return c;
}

const void *rv_object_of(const void *ref) {
  return ref ? rv_resolve((uintptr_t)ref) : NULL;
}

static inline uint64_t rv_leaves(uint64_t size) {
  return size <= RV_LEAF_BYTES ? 1 : (size + RV_LEAF_BYTES - 1) / RV_LEAF_BYTES;
}

static unsigned rv_depth_for(uint64_t leaves) {
  unsigned d = 0;
  for (uint64_t span = 1; span < leaves; span *= RV_SLOTS) d++;
  return d;
}

static rv_cell_t *rv_build(rv_thread_t *t, uintptr_t parent, uint64_t leaves, uint64_t span) {
  rv_cell_t *c = rv_cell_new(t);
  c->w[1] = parent;
  for (unsigned j = 0; j < RV_SLOTS; j++) c->w[2 + j] = 0;
  if (span == 1) {
    c->w[0] = RV_K_LEAF;
    return c;
  }
  c->w[0] = RV_K_NODE;
  uint64_t sub = span / RV_SLOTS;
  for (unsigned j = 0; j < RV_SLOTS && leaves > j * sub; j++) {
    uint64_t l = leaves - j * sub < sub ? leaves - j * sub : sub;
    c->w[2 + j] = (uintptr_t)rv_build(t, (uintptr_t)&c->w[2 + j], l, sub);
  }
  return c;
}

/* A new object of `size` bytes, zeroed, whose parent cell is `parent`. */
static rv_cell_t *rv_object_new(rv_thread_t *t, uintptr_t parent, uint64_t size) {
  uint64_t leaves = rv_leaves(size), span = 1;
  unsigned d = rv_depth_for(leaves);
  for (unsigned i = 0; i < d; i++) span *= RV_SLOTS;
  rv_cell_t *c = rv_build(t, parent, leaves, span);
  c->w[0] |= RV_ROOT | ((uintptr_t)d << RV_DEPTH_SHIFT) | ((uintptr_t)size << RV_SIZE_SHIFT);
  return c;
}

/* Walking the leaves of a tree in order: O(depth) to start, O(1) amortized
   per next leaf. */
typedef struct rv_iter_s {
  rv_cell_t *node[32];
  unsigned idx[32];
  unsigned d;
} rv_iter_t;

static rv_cell_t *rv_iter_init(rv_iter_t *it, rv_cell_t *root, uint64_t leaf) {
  unsigned d = rv_depth(root->w[0]);
  it->d = d;
  uint64_t span = 1;
  for (unsigned i = 1; i < d; i++) span *= RV_SLOTS;
  rv_cell_t *n = root;
  for (unsigned l = 0; l < d; l++) {
    unsigned j = (unsigned)(leaf / span);
    leaf %= span;
    it->node[l] = n, it->idx[l] = j;
    n = (rv_cell_t *)n->w[2 + j];
    span /= RV_SLOTS;
  }
  return n;
}

static rv_cell_t *rv_iter_next(rv_iter_t *it) {
  int l = (int)it->d - 1;
  while (l >= 0 && (it->idx[l] + 1 >= RV_SLOTS || it->node[l]->w[2 + it->idx[l] + 1] == 0)) l--;
  if (l < 0) return NULL;
  rv_cell_t *n = (rv_cell_t *)it->node[l]->w[2 + ++it->idx[l]];
  for (l++; l < (int)it->d; l++) {
    it->node[l] = n, it->idx[l] = 0;
    n = (rv_cell_t *)n->w[2];
  }
  return n;
}

/* ==== links: reverse ravioli ==== */

static inline void rv_field_clear(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  unsigned j = (unsigned)((p - (uintptr_t)&r->w[2]) / sizeof(uintptr_t));
  *(uintptr_t *)p = 0;
  r->w[0] &= ~((uintptr_t)1 << (RV_MASK_SHIFT + j));
}

/* Drop the link held by field cell p (it points at a reverse raviolo R):
   R's other parent takes R's target, R dies (into hs). O(1). */
static void rv_unref(rv_thread_t *t, uintptr_t p, rv_holes_t *hs) {
  rv_cell_t *R = (rv_cell_t *)*(uintptr_t *)p;
  uintptr_t y = R->w[1] == p ? R->w[3] : R->w[1];
  rv_cell_t *x = (rv_cell_t *)R->w[2];
  rv_set_cell(y, (uintptr_t)x);
  rv_rebind(x, (uintptr_t)&R->w[2], y);
  rv_hole_add(hs, R);
  rv_field_clear(p);
  t->fixups += 2;
}

/* Field cell p (slot word j of `leaf`) now refers to object X: a new
   reverse raviolo joins X's referrer tree on the side away from X's slot,
   so the slot stays at most one reverse raviolo from its object. */
static void rv_ref(rv_thread_t *t, rv_cell_t *leaf, unsigned j, rv_cell_t *X) {
  uintptr_t p = (uintptr_t)&leaf->w[2 + j];
  rv_cell_t *R = rv_cell_new(t);
  R->w[0] = RV_K_REV;
  uintptr_t q = X->w[1];
  if (q & RV_EXT) { /* X hangs from its slot: R goes between them */
    R->w[1] = q;
    rv_set_cell(q, (uintptr_t)R);
    R->w[2] = (uintptr_t)X;
    X->w[1] = (uintptr_t)&R->w[2];
  } else { /* X hangs from reverse raviolo R1: R takes R1's second parent */
    rv_cell_t *R1 = rv_cell_of(q);
    uintptr_t b = R1->w[3];
    R->w[1] = b;
    rv_set_cell(b, (uintptr_t)R);
    R->w[2] = (uintptr_t)R1;
    R1->w[3] = (uintptr_t)&R->w[2];
  }
  R->w[3] = p;
  *(uintptr_t *)p = (uintptr_t)R;
  leaf->w[0] |= (uintptr_t)1 << (RV_MASK_SHIFT + j);
  t->fixups += 2;
}

/* Is the parent cell p a reverse raviolo's target word? */
static inline bool rv_is_rev_target(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  return rv_kind(r) == RV_K_REV && p == (uintptr_t)&r->w[2];
}

/* Every referrer of object X goes: fields read null, the slot NULL, the
   reverse ravioli die (into hs). */
static void rv_drop_referrers(rv_thread_t *t, rv_cell_t *X, rv_holes_t *hs) {
  size_t n = 0;
  rv_push(t, &n, X->w[1]);
  while (n) {
    uintptr_t p = t->scratch[--n];
    if (p & RV_EXT) {
      rv_set_cell(p, 0);
    } else if (rv_is_rev_target(p)) {
      rv_cell_t *r = rv_cell_of(p);
      rv_push(t, &n, r->w[1]);
      rv_push(t, &n, r->w[3]);
      rv_hole_add(hs, r);
    } else {
      rv_field_clear(p);
      t->links_cut++;
    }
  }
}

/* The cells of a tree go into hs; the links its leaves hold are dropped. */
static void rv_tree_release(rv_thread_t *t, rv_cell_t *root, rv_holes_t *hs) {
  rv_cell_t *stk[33];
  unsigned idx[33];
  int sp = 0;
  rv_cell_t *c = root;
  for (;;) {
    if (rv_kind(c) == RV_K_NODE) {
      stk[sp] = c, idx[sp] = 0, sp++;
    } else {
      for (unsigned m = rv_pmask(c->w[0]), j = 0; m; j++, m >>= 1)
        if (m & 1) rv_unref(t, (uintptr_t)&c->w[2 + j], hs);
      rv_hole_add(hs, c);
    }
    c = NULL;
    while (sp && c == NULL) {
      rv_cell_t *nd = stk[sp - 1];
      if (idx[sp - 1] < RV_SLOTS && nd->w[2 + idx[sp - 1]]) {
        c = (rv_cell_t *)nd->w[2 + idx[sp - 1]++];
      } else {
        rv_hole_add(hs, nd);
        sp--;
      }
    }
    if (c == NULL) return;
  }
}

/* ==== ownership ==== */

static void rv_adopt(rv_thread_t *t);

static inline rv_thread_t *rv_owner(const rv_thread_t *t, const rv_cell_t *c) {
  return (rv_thread_t *)(rv_page_hdr(t, c)->w[0] & ~(uintptr_t)RV_KIND_MASK);
}

static void rv_check(rv_thread_t *o);

static __attribute__((noinline)) rv_thread_t *rv_enter_slow(rv_thread_t *t, void *const *slot,
                                                            rv_cell_t **obj) {
  rv_thread_t *o = t;
  if (slot) {
    o = rv_owner(t, rv_resolve((uintptr_t)*slot));
    if (o != t && !atomic_load_explicit(&o->done, memory_order_acquire))
      rv_die("thread %u used an object owned by thread %u: ravioli need every op on an object "
             "to come from its owner (HL_ALLOC_OWNED; hand objects over with send)",
             t->id, o->id);
  }
  /* the owner has finished (thread_done): its heap is orphaned, and any
     context may use it under its lock */
  pthread_mutex_lock(&o->orphan_lock);
  if (atomic_load_explicit(&o->inbox, memory_order_relaxed)) rv_adopt(o);
  if (slot) {
    *obj = rv_resolve((uintptr_t)*slot);
    if (rv_owner(t, *obj) != o) rv_die("object changed owner while its owner was done");
  }
  return o;
}

/* Start an operation of ctx on *slot's object (or, slot NULL, on ctx's own
   heap): adopt incoming messages, find the object and check ownership. */
static inline rv_thread_t *rv_enter(hl_ctx_t *ctx, void *const *slot, rv_cell_t **obj) {
  rv_thread_t *t = ctx->local;
  if (RV_LIKELY(!atomic_load_explicit(&t->done, memory_order_relaxed))) {
    if (RV_UNLIKELY(atomic_load_explicit(&t->inbox, memory_order_relaxed) != 0)) rv_adopt(t);
    if (slot == NULL) return t;
    rv_cell_t *c = rv_resolve((uintptr_t)*slot);
    if (RV_LIKELY(rv_owner(t, c) == t)) {
      *obj = c;
      return t;
    }
  }
  return rv_enter_slow(t, slot, obj);
}

static inline void rv_leave(hl_ctx_t *ctx, rv_thread_t *o) {
  rv_thread_t *t = ctx->local;
  if (RV_UNLIKELY(o->heap->checked)) rv_check(o);
  if (RV_UNLIKELY(o != t || atomic_load_explicit(&t->done, memory_order_relaxed)))
    pthread_mutex_unlock(&o->orphan_lock);
}

/* ==== messages ==== */

/* Receive: each transfer page fills the free space of the top page from
   its end, then (if anything is left) becomes the new top page itself. */
static void rv_adopt_chain(rv_thread_t *t, char *p) {
  while (p) {
    rv_cell_t *hd = (rv_cell_t *)p;
    char *next = (char *)hd->w[2];
    uint32_t m = (uint32_t)hd->w[3];
    while (m > 1 && t->top && t->topi < t->cpp) {
      rv_cell_t *src = (rv_cell_t *)(p + (size_t)(m - 1) * RV_CELL);
      rv_move(t, src, rv_cell_new(t));
      m--;
    }
    t->inflight_net--;
    if (m > 1) {
      rv_top_push_page(t, p);
      t->topi = m;
      t->ncells += m - 1;
    } else {
      rv_page_put(t, p);
    }
    p = next;
  }
}

static void rv_object_free(rv_thread_t *o, void **slot, rv_cell_t *c);

/* Free requests: each entry is the slot of an object t owns. */
static void rv_adopt_requests(rv_thread_t *t, char *p) {
  const uintptr_t *e = (const uintptr_t *)(p + RV_CELL);
  for (uintptr_t i = 0, n = ((rv_cell_t *)p)->w[3]; i < n; i++) {
    void **slot = (void **)e[i];
    rv_cell_t *c = rv_resolve((uintptr_t)*slot);
    if (rv_owner(t, c) != t)
      rv_die("a free request reached thread %u for an object of thread %u", t->id,
             rv_owner(t, c)->id);
    rv_object_free(t, slot, c);
  }
  t->inflight_net--;
  rv_page_put(t, p);
}

/* Take the inbox: messages first, then free requests, which may name objects
   that arrived in those messages (a request is posted only after the object's
   message, and both are in this batch or the request is in a later one). */
static void rv_adopt(rv_thread_t *t) {
  uintptr_t chains = atomic_exchange_explicit(&t->inbox, 0, memory_order_acquire);
  char *reqs = NULL;
  while (chains) {
    char *first = (char *)chains;
    chains = __atomic_load_n(&((rv_cell_t *)first)->w[1], __ATOMIC_RELAXED);
    if (rv_kind((rv_cell_t *)first) == RV_K_REQ) {
      ((rv_cell_t *)first)->w[1] = (uintptr_t)reqs;
      reqs = first;
    } else {
      rv_adopt_chain(t, first);
    }
  }
  while (reqs) {
    char *p = reqs;
    reqs = (char *)((rv_cell_t *)p)->w[1];
    rv_adopt_requests(t, p);
  }
}

/* Climb from a field's leaf to its object's root. */
static rv_cell_t *rv_root_of_cell(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  while (!(r->w[0] & RV_ROOT)) r = rv_cell_of(r->w[1]);
  return r;
}

static void rv_collect_tree(rv_thread_t *t, rv_cell_t *root, size_t *n) {
  size_t start = *n;
  rv_push(t, n, (uintptr_t)root);
  for (size_t i = start; i < *n; i++) {
    rv_cell_t *c = (rv_cell_t *)t->scratch[i];
    if (rv_kind(c) == RV_K_NODE)
      for (unsigned j = 0; j < RV_SLOTS; j++)
        if (c->w[2 + j]) rv_push(t, n, c->w[2 + j]);
  }
}

/* Pack the objects of slots[0..n) (owned by t) into a transfer chain. */
static char *rv_pack_thread(rv_thread_t *t, void **const *slots, size_t n, size_t *cells_out) {
  rv_holes_t hs = {0};
  for (size_t i = 0; i < n; i++) rv_resolve((uintptr_t)*slots[i])->w[0] |= RV_MSG;
  /* cut the links that cross the message's boundary, both ways */
  for (size_t i = 0; i < n; i++) {
    rv_cell_t *X = rv_resolve((uintptr_t)*slots[i]);
    size_t k = 0, m;
    rv_push(t, &k, X->w[1]);
    for (size_t s = 0; s < k; s++) { /* breadth-first over the referrer tree */
      uintptr_t p = t->scratch[s];
      if (!(p & RV_EXT) && rv_is_rev_target(p)) {
        rv_push(t, &k, rv_cell_of(p)->w[1]);
        rv_push(t, &k, rv_cell_of(p)->w[3]);
      }
    }
    m = 0; /* keep the field cells only, before anything changes */
    for (size_t s = 0; s < k; s++) {
      uintptr_t p = t->scratch[s];
      if (!(p & RV_EXT) && !rv_is_rev_target(p)) t->scratch[m++] = p;
    }
    for (size_t s = 0; s < m; s++) {
      uintptr_t p = t->scratch[s];
      if (!(rv_root_of_cell(p)->w[0] & RV_MSG)) {
        rv_unref(t, p, &hs);
        t->links_cut++;
      }
    }
    rv_iter_t it;
    for (rv_cell_t *leaf = rv_iter_init(&it, X, 0); leaf; leaf = rv_iter_next(&it))
      for (unsigned msk = rv_pmask(leaf->w[0]), j = 0; msk; j++, msk >>= 1)
        if ((msk & 1) && !(rv_resolve(leaf->w[2 + j])->w[0] & RV_MSG)) {
          rv_unref(t, (uintptr_t)&leaf->w[2 + j], &hs);
          t->links_cut++;
        }
  }
  /* every cell of the message: trees, then the reverse ravioli above them
     (the referrers left are all inside the message, or the slot) */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    rv_cell_t *X = rv_resolve((uintptr_t)*slots[i]);
    rv_collect_tree(t, X, &k);
    size_t s = k;
    if (!(X->w[1] & RV_EXT) && rv_is_rev_target(X->w[1]))
      rv_push(t, &k, (uintptr_t)rv_cell_of(X->w[1]));
    for (; s < k; s++) {
      rv_cell_t *r = (rv_cell_t *)t->scratch[s];
      for (int e = 0; e < 2; e++) {
        uintptr_t q = e ? r->w[3] : r->w[1];
        if (!(q & RV_EXT) && rv_is_rev_target(q)) rv_push(t, &k, (uintptr_t)rv_cell_of(q));
      }
    }
  }
  char *first = NULL, *cur = NULL;
  uint32_t ci = t->cpp;
  for (size_t i = 0; i < k; i++) {
    if (ci == t->cpp) {
      char *pg = rv_page_get(t);
      rv_cell_t *hd = (rv_cell_t *)pg;
      hd->w[0] = RV_K_XFER, hd->w[2] = 0, hd->w[3] = 1;
      if (cur)
        ((rv_cell_t *)cur)->w[2] = (uintptr_t)pg;
      else
        first = pg;
      cur = pg, ci = 1;
      t->inflight_net++;
      t->transfer_pages++;
    }
    rv_cell_t *src = (rv_cell_t *)t->scratch[i], *dst = (rv_cell_t *)(cur + (size_t)ci * RV_CELL);
    rv_move(t, src, dst);
    t->moves--; /* counted as transfer bytes, not as compaction moves */
    rv_hole_add(&hs, src);
    ((rv_cell_t *)cur)->w[3] = ++ci;
  }
  for (size_t i = 0; i < n; i++) rv_resolve((uintptr_t)*slots[i])->w[0] &= ~(uintptr_t)RV_MSG;
  rv_holes_compact(t, &hs);
  *cells_out = k;
  t->transfers += n;
  t->transfer_bytes += k * RV_CELL;
  return first;
}

struct rv_msg_s {
  char page[1]; /* a message is its first transfer page */
};

int rv_pack(hl_ctx_t *ctx, void **const *slots, size_t n, rv_msg_t **out) {
  *out = NULL;
  if (n == 0) return 0;
  rv_cell_t *c = NULL;
  rv_thread_t *o = rv_enter(ctx, slots[0], &c);
  for (size_t i = 0; i < n; i++)
    if (*slots[i] == NULL || rv_owner(o, rv_resolve((uintptr_t)*slots[i])) != o) {
      rv_leave(ctx, o);
      return EINVAL;
    }
  size_t cells;
  *out = (rv_msg_t *)rv_pack_thread(o, slots, n, &cells);
  for (size_t i = 0; i < n; i++)
    o->bytes_live -= (int64_t)rv_size(rv_resolve((uintptr_t)*slots[i])->w[0]);
  rv_leave(ctx, o);
  return 0;
}

void rv_unpack(hl_ctx_t *ctx, rv_msg_t *msg) {
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  for (char *p = (char *)msg; p; p = (char *)((rv_cell_t *)p)->w[2])
    for (uint32_t i = 1; i < ((rv_cell_t *)p)->w[3]; i++) {
      rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
      if (c->w[0] & RV_ROOT) t->bytes_live += (int64_t)rv_size(c->w[0]);
    }
  if (msg) rv_adopt_chain(t, (char *)msg);
  rv_leave(ctx, t);
}

void rv_msg_discard(hl_ctx_t *ctx, rv_msg_t *msg) {
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  for (char *p = (char *)msg, *next; p; p = next) {
    rv_cell_t *hd = (rv_cell_t *)p;
    next = (char *)hd->w[2];
    for (uint32_t i = 1; i < hd->w[3]; i++) {
      rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
      if (c->w[1] & RV_EXT) rv_set_cell(c->w[1], 0);
      if (rv_kind(c) == RV_K_REV && (c->w[3] & RV_EXT)) rv_set_cell(c->w[3], 0);
    }
    t->inflight_net--;
    rv_page_put(t, p);
  }
  rv_leave(ctx, t);
}

size_t rv_msg_cells(const rv_msg_t *msg) {
  size_t n = 0;
  for (const char *p = (const char *)msg; p; p = (const char *)((const rv_cell_t *)p)->w[2])
    n += ((const rv_cell_t *)p)->w[3] - 1;
  return n;
}

/* Push a chain of pages (a message, kind XFER, or one page of free
   requests, kind REQ) on to's inbox. */
static void rv_post(rv_thread_t *to, char *chain, unsigned kind) {
  for (char *p = chain; p; p = (char *)((rv_cell_t *)p)->w[2])
    ((rv_cell_t *)p)->w[0] = (uintptr_t)to | kind;
  uintptr_t old = atomic_load_explicit(&to->inbox, memory_order_relaxed);
  do {
    __atomic_store_n(&((rv_cell_t *)chain)->w[1], old, __ATOMIC_RELAXED);
  } while (!atomic_compare_exchange_weak_explicit(&to->inbox, &old, (uintptr_t)chain,
                                                  memory_order_seq_cst, memory_order_relaxed));
}

/* ---- free requests: a remote free posted to the owner, batched per
   destination in a page (entries: slot addresses) ---- */

static inline uintptr_t rv_req_cap(const rv_thread_t *t) {
  return (t->heap->page_size - RV_CELL) / sizeof(uintptr_t);
}

/* Post f's open request page. An owner that finished meanwhile may have
   taken its inbox for the last time (rv_thread_done sets done, then takes
   it): then nobody would, so the poster takes it under the orphan lock. */
static void rv_req_flush(rv_thread_t *f) {
  char *p = f->req_page;
  rv_thread_t *to = f->req_to;
  if (p == NULL) return;
  f->req_page = NULL, f->req_to = NULL;
  ((rv_cell_t *)p)->w[2] = 0;
  rv_post(to, p, RV_K_REQ);
  if (atomic_load_explicit(&to->done, memory_order_seq_cst)) {
    pthread_mutex_lock(&to->orphan_lock);
    if (atomic_load_explicit(&to->inbox, memory_order_relaxed)) rv_adopt(to);
    pthread_mutex_unlock(&to->orphan_lock);
  }
}

/* ==== the interface (alloc/alloc.h) ==== */

static int rv_parse_options(rv_heap_t *h, const char *opts) {
  if (opts == NULL) return 0;
  const char *s = opts;
  while (*s) {
    char key[32];
    size_t kl = strcspn(s, "=,");
    if (kl == 0 || kl >= sizeof key || s[kl] != '=') return EINVAL;
    memcpy(key, s, kl);
    key[kl] = 0;
    s += kl + 1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || (*end && *end != ',')) return EINVAL;
    s = *end ? end + 1 : end;
    if (strcmp(key, "hysteresis") == 0 && v <= 1)
      h->hysteresis = v;
    else if (strcmp(key, "checked") == 0 && v <= 1)
      h->checked = v;
    else if (strcmp(key, "batch") == 0 && v >= 1 && v <= 65536)
      h->batch_pages = v;
    else
      return EINVAL;
  }
  return 0;
}

static int rv_heap_init(hl_heap_t *heap) {
  size_t ps = heap->config.page_size ? heap->config.page_size : 4096;
  if (ps < 1024 || ps > ((size_t)2 << 20) || (ps & (ps - 1))) return EINVAL;
  rv_heap_t *h = calloc(1, sizeof *h);
  if (h == NULL) return ENOMEM;
  h->page_size = ps;
  h->shift = (unsigned)__builtin_ctzll(ps);
  h->cpp = (uint32_t)(ps / RV_CELL);
  h->hysteresis = true;
  h->checked = RV_DEBUG != 0;
  h->batch_pages = ps >= ((size_t)1 << 20) / 4 ? 4 : ((size_t)1 << 20) / ps;
  int rc = rv_parse_options(h, heap->config.options);
  if (rc) {
    free(h);
    return rc;
  }
  pthread_mutex_init(&h->threads_lock, NULL);
  heap->state = h;
  return 0;
}

static void rv_heap_done(hl_heap_t *heap) {
  rv_heap_t *h = heap->state;
  if (h == NULL) return;
  for (rv_thread_t *t = h->threads, *next; t; t = next) {
    next = t->next;
    pthread_mutex_destroy(&t->orphan_lock);
    free(t->scratch);
    free(t->sendv);
    free(t);
  }
  for (rv_batch_t *b = atomic_load(&h->batches), *next; b; b = next) {
    next = b->next;
    munmap(b->base, b->len);
    free(b);
  }
  pthread_mutex_destroy(&h->threads_lock);
  free(h);
  heap->state = NULL;
}

static int rv_thread_init(hl_ctx_t *ctx) {
  rv_heap_t *h = ctx->heap->state;
  rv_thread_t *t = aligned_alloc(64, (sizeof *t + 63) & ~(size_t)63);
  if (t == NULL) return ENOMEM;
  memset(t, 0, sizeof *t);
  t->topi = t->cpp = h->cpp;
  t->pmask = ~(uintptr_t)(h->page_size - 1);
  t->heap = h;
  t->id = ctx->thread;
  atomic_init(&t->inbox, 0);
  atomic_init(&t->done, 0);
  pthread_mutex_init(&t->orphan_lock, NULL);
  pthread_mutex_lock(&h->threads_lock);
  t->next = h->threads;
  h->threads = t;
  pthread_mutex_unlock(&h->threads_lock);
  ctx->local = t;
  return 0;
}

/* The heap stays until heap_done (the replay may still free its objects
   through another context, as an orphan); messages posted to it later are
   adopted by whoever uses it next. */
static void rv_thread_done(hl_ctx_t *ctx) {
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  rv_leave(ctx, t);
  rv_req_flush(t);
  /* done first, then the inbox once more: a poster that still saw done == 0
     has posted before this takes it; one that sees 1 takes it itself */
  pthread_mutex_lock(&t->orphan_lock);
  atomic_store_explicit(&t->done, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&t->inbox, memory_order_seq_cst)) rv_adopt(t);
  if (RV_UNLIKELY(t->heap->checked)) rv_check(t);
  pthread_mutex_unlock(&t->orphan_lock);
}

static int rv_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align) {
  if (RV_UNLIKELY(kind != HL_KIND_MALLOC && kind != HL_KIND_CALLOC)) {
    if ((unsigned)kind >= HL_KIND_COUNT) return EINVAL;
    if (hl_alloc_kind_has_align(kind) && (align == 0 || (align & (align - 1)))) return EINVAL;
    /* a raviolo object is no flat memory: the only alignment it can claim
       is that of its root cell */
    if (hl_alloc_kind_alignment(kind, size, align) > RV_CELL) return ENOTSUP;
  }
  if (RV_UNLIKELY(size >= RV_MAX_SIZE)) return ENOMEM;
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  if (RV_LIKELY(size <= RV_LEAF_BYTES)) {
    if (RV_UNLIKELY(t->topi == t->cpp)) { /* needs a page: fail cleanly if none */
      char *p = rv_page_try(t);
      if (p == NULL) {
        rv_leave(ctx, t);
        return ENOMEM;
      }
      rv_top_push_page(t, p);
    }
    rv_cell_t *c = rv_cell_new(t);
    c->w[0] = RV_K_LEAF | RV_ROOT | ((uintptr_t)size << RV_SIZE_SHIFT);
    c->w[1] = (uintptr_t)slot | RV_EXT;
    for (unsigned j = 0; j < RV_SLOTS; j++) c->w[2 + j] = 0;
    *slot = c;
  } else {
    *slot = rv_object_new(t, (uintptr_t)slot | RV_EXT, size);
  }
  t->bytes_live += (int64_t)size;
  rv_leave(ctx, t);
  return 0;
}

/* Free object c, held by *slot, of o's heap (o entered). */
static void rv_object_free(rv_thread_t *o, void **slot, rv_cell_t *c) {
  o->bytes_live -= (int64_t)rv_size(c->w[0]);
  const uintptr_t plain = RV_KIND_MASK | RV_ROOT | ((uintptr_t)RV_ALL_SLOTS << RV_MASK_SHIFT);
  if (RV_LIKELY((c->w[0] & plain) == (RV_K_LEAF | RV_ROOT) &&
                c->w[1] == ((uintptr_t)slot | RV_EXT))) {
    *slot = NULL;
    rv_cell_free(o, c);
  } else {
    rv_holes_t hs = {0};
    if (c->w[1] == ((uintptr_t)slot | RV_EXT))
      *slot = NULL; /* no field refers to it */
    else
      rv_drop_referrers(o, c, &hs); /* sets *slot = NULL too */
    rv_tree_release(o, c, &hs);
    rv_holes_compact(o, &hs);
  }
}

static void rv_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)size;
  if (*slot == NULL) return;
  rv_cell_t *c = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &c);
  rv_object_free(o, slot, c);
  rv_leave(ctx, o);
}

static void rv_bounds(const rv_cell_t *root, size_t offset, size_t len, const char *what) {
  uint64_t size = rv_size(root->w[0]);
  if (offset > size || len > size - offset)
    rv_die("%s of [%zu, +%zu) outside an object of %llu bytes", what, offset, len,
           (unsigned long long)size);
}

/* Locality of one access: the 64-byte lines and 4 KiB pages it touches, counted
   as entries into a new line or page while walking its cells in order (the
   root's type word, then the bytes of each leaf; interior nodes on the path
   are not counted). For a run of contiguous cells that is exact. */
typedef struct rv_span_s {
  uintptr_t line, page;
  uint64_t lines, pages;
} rv_span_t;

static inline void rv_span_add(rv_span_t *sp, const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p, l0 = a >> 6, l1 = (a + n - 1) >> 6, p0 = a >> 12,
            p1 = (a + n - 1) >> 12;
  sp->lines += l1 - l0 + (l0 != sp->line);
  sp->pages += p1 - p0 + (p0 != sp->page);
  sp->line = l1, sp->page = p1;
}

static inline void rv_span_start(rv_span_t *sp, const rv_cell_t *root) {
  sp->line = sp->page = 0, sp->lines = sp->pages = 0;
  sp->line--, sp->page--;
  rv_span_add(sp, root, sizeof root->w[0]);
}

static inline void rv_span_end(rv_thread_t *t, const rv_span_t *sp) {
  t->accesses++;
  t->access_lines += sp->lines;
  t->access_pages += sp->pages;
}

static void rv_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len) {
  rv_cell_t *root = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &root);
  rv_bounds(root, offset, len, "read");
  rv_span_t sp;
  rv_span_start(&sp, root);
  if (RV_LIKELY(rv_depth(root->w[0]) == 0)) {
    memcpy(dst, (char *)&root->w[2] + offset, len);
    if (len) rv_span_add(&sp, (char *)&root->w[2] + offset, len);
  } else if (len) {
    rv_iter_t it;
    size_t off = offset % RV_LEAF_BYTES;
    char *d = dst;
    for (rv_cell_t *leaf = rv_iter_init(&it, root, offset / RV_LEAF_BYTES);;
         leaf = rv_iter_next(&it)) {
      size_t n = RV_LEAF_BYTES - off < len ? RV_LEAF_BYTES - off : len;
      memcpy(d, (char *)&leaf->w[2] + off, n);
      rv_span_add(&sp, (char *)&leaf->w[2] + off, n);
      d += n, len -= n, off = 0;
      if (len == 0) break;
    }
  }
  rv_span_end(o, &sp);
  rv_leave(ctx, o);
}

/* Bytes written over a link field replace the link: it is dropped first. */
static inline void rv_write_leaf(rv_thread_t *t, rv_cell_t *leaf, size_t off, const char *s,
                                 size_t n, rv_holes_t *hs) {
  unsigned m = rv_pmask(leaf->w[0]);
  if (RV_UNLIKELY(m != 0))
    for (size_t j = off / 8; j <= (off + n - 1) / 8; j++)
      if (m >> j & 1) rv_unref(t, (uintptr_t)&leaf->w[2 + j], hs);
  memcpy((char *)&leaf->w[2] + off, s, n);
}

static void rv_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len) {
  rv_cell_t *root = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &root);
  rv_bounds(root, offset, len, "write");
  rv_holes_t hs = {0};
  rv_span_t sp;
  rv_span_start(&sp, root);
  if (len == 0) {
  } else if (RV_LIKELY(rv_depth(root->w[0]) == 0)) {
    rv_write_leaf(o, root, offset, src, len, &hs);
    rv_span_add(&sp, (char *)&root->w[2] + offset, len);
  } else {
    rv_iter_t it;
    size_t off = offset % RV_LEAF_BYTES;
    const char *s = src;
    for (rv_cell_t *leaf = rv_iter_init(&it, root, offset / RV_LEAF_BYTES);;
         leaf = rv_iter_next(&it)) {
      size_t n = RV_LEAF_BYTES - off < len ? RV_LEAF_BYTES - off : len;
      rv_write_leaf(o, leaf, off, s, n, &hs);
      rv_span_add(&sp, (char *)&leaf->w[2] + off, n);
      s += n, len -= n, off = 0;
      if (len == 0) break;
    }
  }
  rv_span_end(o, &sp);
  rv_holes_compact(o, &hs);
  rv_leave(ctx, o);
}

static int rv_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  (void)old_size;
  if (*slot == NULL) return rv_alloc(ctx, slot, new_size, HL_KIND_MALLOC, 0);
  if (new_size >= RV_MAX_SIZE) return ENOMEM;
  rv_cell_t *T = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &T);
  uint64_t old = rv_size(T->w[0]), lo = rv_leaves(old), ln = rv_leaves(new_size);
  o->bytes_live += (int64_t)new_size - (int64_t)old;
  rv_holes_t hs = {0};
  if (lo == ln) { /* same tree: only the size changes */
    T->w[0] =
        (T->w[0] & (((uintptr_t)1 << RV_SIZE_SHIFT) - 1)) | ((uintptr_t)new_size << RV_SIZE_SHIFT);
    if (new_size < old) { /* links beyond the new end die */
      rv_iter_t it;
      rv_cell_t *leaf = rv_iter_init(&it, T, lo - 1);
      for (unsigned m = rv_pmask(leaf->w[0]), j = 0; m; j++, m >>= 1)
        if ((m & 1) && (lo - 1) * RV_LEAF_BYTES + j * 8 + 8 > new_size)
          rv_unref(o, (uintptr_t)&leaf->w[2 + j], &hs);
    }
  } else { /* a new tree, the contents and links carried over, the old freed */
    uintptr_t tmp = 0;
    rv_cell_t *N = rv_object_new(o, (uintptr_t)&tmp | RV_EXT, new_size);
    rv_iter_t a, b;
    rv_cell_t *x = rv_iter_init(&a, T, 0), *y = rv_iter_init(&b, N, 0);
    for (uint64_t i = 0; i < (lo < ln ? lo : ln); i++) {
      for (unsigned j = 0; j < RV_SLOTS; j++) y->w[2 + j] = x->w[2 + j];
      for (unsigned m = rv_pmask(x->w[0]), j = 0; m; j++, m >>= 1) {
        if (!(m & 1)) continue;
        if (i * RV_LEAF_BYTES + j * 8 + 8 > new_size) {
          y->w[2 + j] = 0;
          rv_unref(o, (uintptr_t)&x->w[2 + j], &hs);
          continue;
        }
        rv_rebind((rv_cell_t *)x->w[2 + j], (uintptr_t)&x->w[2 + j], (uintptr_t)&y->w[2 + j]);
        y->w[0] |= (uintptr_t)1 << (RV_MASK_SHIFT + j);
        x->w[0] &= ~((uintptr_t)1 << (RV_MASK_SHIFT + j));
        o->fixups++;
      }
      x = rv_iter_next(&a), y = rv_iter_next(&b);
    }
    uintptr_t p = T->w[1]; /* the referrers (slot, reverse ravioli) now reach N */
    rv_set_cell(p, (uintptr_t)N);
    N->w[1] = p;
    rv_tree_release(o, T, &hs);
  }
  rv_holes_compact(o, &hs);
  rv_leave(ctx, o);
  return 0;
}

static void rv_link(hl_ctx_t *ctx, void **slot, size_t field, void **target) {
  rv_cell_t *T = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &T);
  uint64_t size = rv_size(T->w[0]);
  if (field % sizeof(uintptr_t) || field + sizeof(uintptr_t) > size)
    rv_die("link field at byte %zu of a %llu-byte object: fields must be 8-byte aligned words "
           "inside the object",
           field, (unsigned long long)size);
  rv_iter_t it;
  rv_cell_t *leaf = rv_iter_init(&it, T, field / RV_LEAF_BYTES);
  unsigned j = (unsigned)(field % RV_LEAF_BYTES / sizeof(uintptr_t));
  if (rv_pmask(leaf->w[0]) >> j & 1) { /* the old link goes first (it may move cells) */
    rv_holes_t hs = {0};
    rv_unref(o, (uintptr_t)&leaf->w[2 + j], &hs);
    rv_holes_compact(o, &hs);
    T = rv_resolve((uintptr_t)*slot);
    leaf = rv_iter_init(&it, T, field / RV_LEAF_BYTES);
  }
  rv_cell_t *X = target && *target ? rv_resolve((uintptr_t)*target) : NULL;
  if (X == NULL) {
    leaf->w[2 + j] = 0;
  } else {
    if (rv_owner(o, X) != o)
      rv_die("link from thread %u's object to thread %u's: a heap may not point into another",
             o->id, rv_owner(o, X)->id);
    rv_ref(o, leaf, j, X);
  }
  rv_leave(ctx, o);
}

static void rv_free_post(hl_ctx_t *from, hl_ctx_t *owner, void **slot, size_t size) {
  rv_thread_t *f = from->local, *o = owner->local;
  /* to oneself, from a finished thread (the harness frees leftovers through
     any context) or to a finished owner: an ordinary free (an orphan's under
     its lock) */
  if (f == o || atomic_load_explicit(&f->done, memory_order_relaxed) ||
      atomic_load_explicit(&o->done, memory_order_acquire)) {
    rv_free(from, slot, size);
    return;
  }
  if (f->req_page && (f->req_to != o || ((rv_cell_t *)f->req_page)->w[3] == rv_req_cap(f)))
    rv_req_flush(f);
  if (f->req_page == NULL) {
    f->req_page = rv_page_get(f);
    f->req_to = o;
    ((rv_cell_t *)f->req_page)->w[3] = 0;
    f->inflight_net++;
  }
  rv_cell_t *hd = (rv_cell_t *)f->req_page;
  ((uintptr_t *)(f->req_page + RV_CELL))[hd->w[3]++] = (uintptr_t)slot;
  f->free_requests++;
}

static void rv_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  if (*slot == NULL || from->local == to->local) return;
  rv_cell_t *T = NULL;
  rv_thread_t *o = rv_enter(from, slot, &T), *dst = to->local;
  if (o == dst) {
    rv_leave(from, o);
    return;
  }
  void **one[1] = {slot};
  size_t cells;
  char *chain = rv_pack_thread(o, one, 1, &cells);
  /* the object's bytes stay counted by the sender (and leave the
     receiver's count when it frees them): only the sum is reported, and
     a shared counter here would be a cross-core transfer per message */
  rv_post(dst, chain, RV_K_XFER);
  o->messages++;
  rv_leave(from, o);
}

/* A set of objects as one message: the links among them travel. */
static void rv_send_set(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n) {
  rv_thread_t *f = from->local, *dst = to->local;
  size_t first = 0;
  while (first < n && *slots[first] == NULL) first++;
  if (f == dst || first == n) return;
  rv_cell_t *c = NULL;
  rv_thread_t *o = rv_enter(from, slots[first], &c);
  if (o == dst) {
    rv_leave(from, o);
    return;
  }
  if (o->sendv_cap < n) {
    void ***v = realloc(o->sendv, n * sizeof *v);
    if (v == NULL) rv_die("out of memory collecting a message of %zu objects", n);
    o->sendv = v, o->sendv_cap = n;
  }
  size_t k = 0;
  for (size_t i = first; i < n; i++) {
    if (*slots[i] == NULL) continue;
    rv_thread_t *w = rv_owner(o, rv_resolve((uintptr_t)*slots[i]));
    if (w != o)
      rv_die("a message from thread %u holds an object of thread %u: every object of a "
             "message must be the sender's",
             o->id, w->id);
    o->sendv[k++] = slots[i];
  }
  size_t cells;
  char *chain = rv_pack_thread(o, (void **const *)o->sendv, k, &cells);
  rv_post(dst, chain, RV_K_XFER);
  o->messages++;
  rv_leave(from, o);
}

static void rv_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  rv_heap_t *h = heap->state;
  memset(out, 0, sizeof *out);
  int64_t live = 0, pool = 0;
  pthread_mutex_lock(&h->threads_lock);
  for (rv_thread_t *t = h->threads; t; t = t->next) {
    live += t->bytes_live;
    pool += t->pool_net;
    out->objects_live += t->ncells;
    out->pages += t->npages + (t->spare != NULL);
    out->pages_returned += t->pages_returned;
    out->moves += t->moves;
    out->fixups += t->fixups;
    out->transfers += t->transfers;
    out->transfer_bytes += t->transfer_bytes;
    out->messages += t->messages;
    out->free_requests += t->free_requests;
    out->transfer_pages += t->transfer_pages;
    out->pages_handed += t->pages_handed;
    out->cells_allocated += t->cells_allocated;
    out->accesses += t->accesses;
    out->access_lines += t->access_lines;
    out->access_pages += t->access_pages;
  }
  pthread_mutex_unlock(&h->threads_lock);
  out->pool_pages = pool > 0 ? (uint64_t)pool : 0;
  out->bytes_live = live > 0 ? (uint64_t)live : 0;
  out->bytes_mapped = atomic_load(&h->mapped);
  out->valid = HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED | HL_STAT_PAGES | HL_STAT_MOVES |
               HL_STAT_TRANSFERS | HL_STAT_OBJECTS_LIVE | HL_STAT_POOL_PAGES |
               HL_STAT_PAGES_RETURNED | HL_STAT_FIXUPS | HL_STAT_TRANSFER_BYTES |
               HL_STAT_ACCESS_LOCALITY | HL_STAT_MESSAGES | HL_STAT_FREE_REQUESTS |
               HL_STAT_TRANSFER_PAGES | HL_STAT_PAGES_HANDED | HL_STAT_CELLS_ALLOCATED;
}

static int rv_identify(char *buf, size_t len) {
  snprintf(buf, len, "heaplab ravioli (alloc/ravioli, built in, %zu-byte ravioli)",
           (size_t)RV_CELL);
  return 0;
}

/* ==== invariants ==== */

#define RV_FAIL(...) (snprintf(why, len, __VA_ARGS__), false)

/* Is p a cell of t's heap pages (below the top)? */
static bool rv_in_heap(const rv_thread_t *t, uintptr_t p) {
  const rv_cell_t *hd = rv_page_hdr(t, (const void *)p);
  if (hd->w[0] != ((uintptr_t)t | RV_K_PAGE)) return false;
  uint64_t i = (p - (uintptr_t)hd) / RV_CELL;
  return i >= 1 && i < ((char *)hd == t->top ? t->topi : t->cpp);
}

static bool rv_cell_is_valid(const rv_thread_t *t, const rv_cell_t *c, char *why, size_t len) {
  unsigned k = rv_kind(c);
  uintptr_t me = (uintptr_t)c;
  if (k != RV_K_LEAF && k != RV_K_NODE && k != RV_K_REV)
    return RV_FAIL("cell %p: kind %u inside the heap (a gap)", (void *)c, k);
  uintptr_t parents[2] = {c->w[1], k == RV_K_REV ? c->w[3] : 0};
  for (int i = 0; i < (k == RV_K_REV ? 2 : 1); i++) {
    uintptr_t p = parents[i];
    if (p == 0) return RV_FAIL("cell %p: no parent", (void *)c);
    if (*(uintptr_t *)(p & ~(uintptr_t)RV_EXT) != me)
      return RV_FAIL("cell %p: parent cell %p does not point back", (void *)c, (void *)p);
    if (p & RV_EXT) {
      if (k != RV_K_REV && !(c->w[0] & RV_ROOT))
        return RV_FAIL("cell %p: a slot parents a non-root", (void *)c);
      continue;
    }
    if (!rv_in_heap(t, p))
      return RV_FAIL("cell %p: parent %p outside the heap", (void *)c, (void *)p);
    const rv_cell_t *pc = rv_cell_of(p);
    unsigned pk = rv_kind(pc), j = (unsigned)((p - (uintptr_t)&pc->w[2]) / 8);
    bool root = k == RV_K_REV || (c->w[0] & RV_ROOT);
    if (root && !(pk == RV_K_REV && j == 0) && !(pk == RV_K_LEAF && (rv_pmask(pc->w[0]) >> j & 1)))
      return RV_FAIL("cell %p: an object's parent must be a reverse raviolo or link", (void *)c);
    if (pk == RV_K_LEAF && k != RV_K_REV)
      return RV_FAIL("cell %p: a link field points at a non-reverse raviolo", (void *)c);
    if (!root && pk != RV_K_NODE) return RV_FAIL("cell %p: inner cell under a non-node", (void *)c);
  }
  if (k == RV_K_REV) {
    const rv_cell_t *x = (const rv_cell_t *)c->w[2];
    uintptr_t cell = (uintptr_t)&c->w[2];
    if (x == NULL || !rv_in_heap(t, (uintptr_t)x) ||
        !(x->w[1] == cell || (rv_kind(x) == RV_K_REV && x->w[3] == cell)))
      return RV_FAIL("reverse raviolo %p: target does not point back", (void *)c);
    if (rv_kind(x) != RV_K_REV && !(x->w[0] & RV_ROOT))
      return RV_FAIL("reverse raviolo %p: target is not an object", (void *)c);
  } else {
    unsigned m = k == RV_K_NODE ? RV_ALL_SLOTS : rv_pmask(c->w[0]);
    if (k == RV_K_NODE && c->w[2] == 0) return RV_FAIL("node %p: empty", (void *)c);
    for (unsigned j = 0; j < RV_SLOTS; j++) {
      if (!(m >> j & 1) || c->w[2 + j] == 0) {
        if (k == RV_K_LEAF && (m >> j & 1)) return RV_FAIL("leaf %p: null link bit", (void *)c);
        continue;
      }
      const rv_cell_t *x = (const rv_cell_t *)c->w[2 + j];
      uintptr_t cell = (uintptr_t)&c->w[2 + j];
      if (!rv_in_heap(t, (uintptr_t)x) ||
          !(x->w[1] == cell || (rv_kind(x) == RV_K_REV && x->w[3] == cell)))
        return RV_FAIL("cell %p: child %u does not point back", (void *)c, j);
    }
  }
  return true;
}

static bool rv_thread_valid(const rv_thread_t *t, char *why, size_t len) {
  uint64_t pages = 0, cells = 0;
  for (const char *p = t->top; p; p = (const char *)((const rv_cell_t *)p)->w[2]) {
    const rv_cell_t *hd = (const rv_cell_t *)p;
    if ((uintptr_t)p & ~t->pmask) return RV_FAIL("page %p not aligned", (const void *)p);
    if (hd->w[0] != ((uintptr_t)t | RV_K_PAGE))
      return RV_FAIL("page %p: bad header", (const void *)p);
    if (hd->w[3] != t->npages - 1 - pages)
      return RV_FAIL("page %p: sequence %llu, expected %llu", (const void *)p,
                     (unsigned long long)hd->w[3], (unsigned long long)(t->npages - 1 - pages));
    if (++pages > t->npages) return RV_FAIL("page list longer than npages");
    uint32_t used = p == t->top ? t->topi : t->cpp;
    if (used < 2 && (p != t->top || t->spare || !t->heap->hysteresis))
      return RV_FAIL("empty page %p left in the heap", (const void *)p);
    for (uint32_t i = 1; i < used; i++)
      if (!rv_cell_is_valid(t, (const rv_cell_t *)(p + (size_t)i * RV_CELL), why, len))
        return false;
    cells += used - 1;
  }
  if (pages != t->npages)
    return RV_FAIL("%llu pages listed, npages %llu", (unsigned long long)pages,
                   (unsigned long long)t->npages);
  if (cells != t->ncells)
    return RV_FAIL("%llu cells, ncells %llu", (unsigned long long)cells,
                   (unsigned long long)t->ncells);
  if (t->top == NULL && t->topi != t->cpp) return RV_FAIL("no top page but topi %u", t->topi);
  if (t->spare && !t->heap->hysteresis) return RV_FAIL("a spare page without hysteresis");
  if (t->spare && t->spare == t->top) return RV_FAIL("the spare page is in the heap");
  return true;
}

static void rv_check(rv_thread_t *o) {
  char why[256];
  if (!rv_thread_valid(o, why, sizeof why)) rv_die("invariant broken (thread %u): %s", o->id, why);
}

bool rv_thread_is_valid(const hl_ctx_t *ctx, char *why, size_t len) {
  return rv_thread_valid(ctx->local, why, len);
}

static int rv_cmp_ptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return x < y ? -1 : x > y;
}

bool rv_heap_is_valid(const hl_heap_t *heap, char *why, size_t len) {
  rv_heap_t *h = heap->state;
  uint64_t total = atomic_load(&h->mapped) / h->page_size;
  uintptr_t *all = malloc((total + 1) * sizeof *all);
  if (all == NULL) return RV_FAIL("out of memory checking");
  size_t n = 0;
  bool ok = true;
  int64_t pool_counted = 0, inflight = 0;
  for (rv_thread_t *t = h->threads; t && ok; t = t->next) {
    pool_counted += t->pool_net;
    inflight += t->inflight_net;
    if (!rv_thread_valid(t, why, len)) ok = false;
    for (const char *p = t->top; ok && p; p = (const char *)((const rv_cell_t *)p)->w[2])
      if (n < total) all[n++] = (uintptr_t)p;
    if (t->spare && n < total) all[n++] = (uintptr_t)t->spare;
    if (atomic_load(&t->inbox)) ok = RV_FAIL("thread %u has unread messages", t->id);
  }
  int64_t pool = 0;
  for (uintptr_t p = atomic_load(&h->pool) & ~rv_tagmask(h); ok && p;
       p = __atomic_load_n(&((rv_cell_t *)p)->w[1], __ATOMIC_RELAXED)) {
    if (n < total) all[n++] = p;
    pool++;
  }
  if (ok && pool != pool_counted)
    ok = RV_FAIL("pool holds %lld pages, counted %lld", (long long)pool, (long long)pool_counted);
  if (ok && n + (uint64_t)inflight != total)
    ok = RV_FAIL("%zu pages on lists + %lld in flight, %llu mapped", n, (long long)inflight,
                 (unsigned long long)total);
  if (ok) {
    qsort(all, n, sizeof *all, rv_cmp_ptr);
    for (size_t i = 1; i < n && ok; i++)
      if (all[i] == all[i - 1]) ok = RV_FAIL("page %p is on two lists", (void *)all[i]);
  }
  free(all);
  return ok;
}

const hl_allocator_t hl_alloc_ravioli = {
    .name = RV_ALLOC_NAME,
    .summary = "ravioli (" RV_CELL_BYTES "-byte ravioli): compact per-thread heaps of fixed-size "
               "ravioli with back-references, trees for large objects, page pool, message "
               "passing by transfer pages",
    .flags = HL_ALLOC_MOVES | HL_ALLOC_OWNED | HL_ALLOC_PAGE_SIZE,
    .heap_init = rv_heap_init,
    .heap_done = rv_heap_done,
    .thread_init = rv_thread_init,
    .thread_done = rv_thread_done,
    .alloc = rv_alloc,
    .free = rv_free,
    .realloc = rv_realloc,
    .read = rv_read,
    .write = rv_write,
    .link = rv_link,
    .send = rv_send,
    .send_set = rv_send_set,
    .free_post = rv_free_post,
    .stats = rv_stats,
    .identify = rv_identify,
};
