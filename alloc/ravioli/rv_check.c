/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_check.c: the invariants, written once: rv_thread_is_valid
  (one heap: no gaps, every back-reference points back, links only at
  reverse ravioli, all inside the owner's heap) and rv_heap_is_valid (every
  page on exactly one list); the heap option checked=1 asserts the first
  after every operation. Also the one fatal-error path, rv_die.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

RV_SHARED _Noreturn void rv_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ravioli: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* ==== invariants ==== */

#define RV_FAIL(...) (snprintf(why, len, __VA_ARGS__), false)

/* Is p a cell of t's heap pages (below the top)? */
static bool rv_in_heap(const rv_thread_t *t, uintptr_t p) {
  const rv_hdr_t *hd = rv_page_hdr(t, (const void *)p);
  if (hd->owner != ((uintptr_t)t | RV_K_PAGE)) return false;
  uint64_t i = (p - (uintptr_t)hd) / RV_CELL;
  return i >= 1 && i < ((char *)hd == t->top ? t->topi : t->cpp);
}

static bool rv_cell_is_valid(const rv_thread_t *t, const rv_cell_t *c, char *why, size_t len) {
  unsigned k = rv_kind(c);
  uintptr_t me = (uintptr_t)c;
  if (k != RV_K_LEAF && k != RV_K_NODE && k != RV_K_REV)
    return RV_FAIL("cell %p: kind %u inside the heap (a gap)", (void *)c, k);
  uintptr_t parents[2] = {c->w[1], k == RV_K_REV ? c->w[RV_REV_PARENT2] : 0};
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
    if (root && !(pk == RV_K_REV && 2 + j == RV_REV_TARGET) &&
        !(pk == RV_K_LEAF && (rv_pmask(pc->w[0]) >> j & 1)))
      return RV_FAIL("cell %p: an object's parent must be a reverse raviolo or link", (void *)c);
    if (pk == RV_K_LEAF && k != RV_K_REV)
      return RV_FAIL("cell %p: a link field points at a non-reverse raviolo", (void *)c);
    if (!root && pk != RV_K_NODE) return RV_FAIL("cell %p: inner cell under a non-node", (void *)c);
  }
  if (k == RV_K_REV) {
    const rv_cell_t *x = (const rv_cell_t *)c->w[RV_REV_TARGET];
    uintptr_t cell = (uintptr_t)&c->w[RV_REV_TARGET];
    if (x == NULL || !rv_in_heap(t, (uintptr_t)x) ||
        !(x->w[1] == cell || (rv_kind(x) == RV_K_REV && x->w[RV_REV_PARENT2] == cell)))
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
          !(x->w[1] == cell || (rv_kind(x) == RV_K_REV && x->w[RV_REV_PARENT2] == cell)))
        return RV_FAIL("cell %p: child %u does not point back", (void *)c, j);
    }
  }
  return true;
}

static bool rv_thread_valid(const rv_thread_t *t, char *why, size_t len) {
  uint64_t pages = 0, cells = 0;
  for (const char *p = t->top; p; p = (const char *)rv_hdr(p)->below) {
    const rv_hdr_t *hd = rv_hdr(p);
    if ((uintptr_t)p & ~t->pmask) return RV_FAIL("page %p not aligned", (const void *)p);
    if (hd->owner != ((uintptr_t)t | RV_K_PAGE))
      return RV_FAIL("page %p: bad header", (const void *)p);
    if (hd->seq != t->npages - 1 - pages)
      return RV_FAIL("page %p: sequence %llu, expected %llu", (const void *)p,
                     (unsigned long long)hd->seq, (unsigned long long)(t->npages - 1 - pages));
    if (++pages > t->npages) return RV_FAIL("page list longer than npages");
    uint32_t used = p == t->top ? t->topi : t->cpp;
    if (used < 2 && (p != t->top || t->nspare >= t->heap->keep))
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
  uint32_t spares = 0;
  for (const char *p = t->spares; p; p = (const char *)rv_hdr(p)->next, spares++) {
    if (p == t->top) return RV_FAIL("kept empty page %p is in the heap", (const void *)p);
    if (rv_hdr(p)->owner != ((uintptr_t)t | RV_K_PAGE))
      return RV_FAIL("kept empty page %p: bad header", (const void *)p);
    if (spares > t->nspare) break;
  }
  if (spares != t->nspare)
    return RV_FAIL("%u kept empty pages listed, nspare %u", spares, t->nspare);
  if (t->nspare > t->heap->keep)
    return RV_FAIL("%u kept empty pages, more than keep=%u", t->nspare, t->heap->keep);
  return true;
}

RV_SHARED void rv_check(rv_thread_t *o) {
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
    for (const char *p = t->top; ok && p; p = (const char *)rv_hdr(p)->below)
      if (n < total) all[n++] = (uintptr_t)p;
    for (const char *p = t->spares; ok && p; p = (const char *)rv_hdr(p)->next)
      if (n < total) all[n++] = (uintptr_t)p;
    if (atomic_load(&t->inbox)) ok = RV_FAIL("thread %u has unread messages", t->id);
  }
  int64_t pool = 0;
  for (uintptr_t p = atomic_load(&h->pool) & ~rv_tagmask(h); ok && p;
       p = __atomic_load_n(&rv_hdr((const void *)p)->link, __ATOMIC_RELAXED)) {
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
