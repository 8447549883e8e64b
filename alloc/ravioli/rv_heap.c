/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_heap.c: the compact heap of one thread ("no gaps"): the top
  page, moves that fix every referrer in O(1) through the back-references,
  and compaction after a batch of frees that fills the holes below the final
  top with the cells above it, in order, so runs of cells stay runs.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"

/* ==== the compact heap ==== */

/* Make p (an empty page) the new top page. */
RV_SHARED void rv_top_push_page(rv_thread_t *t, char *p) {
  rv_hdr_t *hd = rv_hdr(p);
  hd->owner = (uintptr_t)t | RV_K_PAGE;
  hd->below = (uintptr_t)t->top;
  hd->seq = t->top ? rv_hdr(t->top)->seq + 1 : 0;
  t->top = p;
  t->topi = 1;
  t->npages++;
}

RV_SHARED __attribute__((noinline)) rv_cell_t *rv_cell_new_slow(rv_thread_t *t) {
  rv_top_push_page(t, rv_page_get(t));
  t->ncells++;
  return (rv_cell_t *)(t->top + (size_t)t->topi++ * RV_CELL);
}

RV_SHARED __attribute__((noinline)) void rv_top_drop_page(rv_thread_t *t) {
  char *p = t->top;
  t->top = (char *)rv_hdr(p)->below;
  t->topi = t->cpp; /* the page below is full (or there is none) */
  t->npages--;
  rv_page_put(t, p);
}

RV_SHARED void rv_move(rv_thread_t *t, rv_cell_t *a, rv_cell_t *b) {
  *b = *a;
  uintptr_t ty = b->w[0];
  unsigned k = (unsigned)(ty & RV_KIND_MASK), fix = 1;
  rv_set_cell(b->w[1], (uintptr_t)b);
  if (k == RV_K_REV) {
    rv_set_cell(b->w[RV_REV_PARENT2], (uintptr_t)b);
    rv_rebind((rv_cell_t *)b->w[RV_REV_TARGET], (uintptr_t)&a->w[RV_REV_TARGET],
              (uintptr_t)&b->w[RV_REV_TARGET]);
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

/* ---- moving a set of cells at once, in order ----
   Cells src[i] -> dst[i] (disjoint sets). Each vacated cell keeps a
   forwarding mark (kind FWD, w[RV_FWD_TO] its new place) until the fix-up
   pass, so a pointer from one moved cell to another is translated in place,
   and only pointers to cells that stay are rebound at the far end (as
   rv_move does). Moving a run of cells in ascending order keeps it a run:
   an object whose cells were contiguous stays contiguous. */

static inline uintptr_t rv_forwarded(uintptr_t p) {
  rv_cell_t *c = rv_cell_of(p);
  return rv_kind(c) == RV_K_FWD ? c->w[RV_FWD_TO] + (p - (uintptr_t)c) : 0;
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
    src[i]->w[RV_FWD_TO] = (uintptr_t)dst[i];
  }
  uint64_t fix = 0;
  for (size_t i = 0; i < n; i++) {
    rv_cell_t *a = src[i], *b = dst[i];
    uintptr_t ty = b->w[0];
    unsigned k = (unsigned)(ty & RV_KIND_MASK);
    b->w[1] = rv_fix_parent(b->w[1], b, &fix);
    if (k == RV_K_REV) {
      b->w[RV_REV_PARENT2] = rv_fix_parent(b->w[RV_REV_PARENT2], b, &fix);
      b->w[RV_REV_TARGET] = rv_fix_child(b->w[RV_REV_TARGET], (uintptr_t)&a->w[RV_REV_TARGET],
                                         (uintptr_t)&b->w[RV_REV_TARGET], &fix);
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
RV_SHARED void rv_holes_compact(rv_thread_t *t, rv_holes_t *hs) {
  if (hs->n == 0) return;
  uint64_t keep = t->ncells - hs->n, lo = UINT64_MAX, hi = 0;
  rv_cell_t *hic = NULL;
  size_t n = 0;
  for (rv_cell_t *c = hs->head, *next; c; c = next) {
    next = (rv_cell_t *)c->w[RV_HOLE_NEXT];
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
        if (--i == 0) p = (char *)rv_hdr(p)->below, i = t->cpp - 1;
      }
      for (size_t a = 0, b = low - 1; a < b; a++, b--) {
        uintptr_t x = t->scratch[a];
        t->scratch[a] = t->scratch[b], t->scratch[b] = x;
      }
    } else {
      rv_posaddr_t *pa = (rv_posaddr_t *)t->scratch;
      if (low <= 32) { /* a freed object's few runs: insertion sort beats qsort's calls */
        for (size_t i = 1; i < low; i++) {
          rv_posaddr_t x = pa[i];
          size_t j = i;
          for (; j > 0 && pa[j - 1].pos > x.pos; j--) pa[j] = pa[j - 1];
          pa[j] = x;
        }
      } else {
        qsort(pa, low, sizeof *pa, rv_posaddr_cmp);
      }
      for (size_t i = 0; i < low; i++) t->scratch[i] = pa[i].addr; /* pa[i / 2] is used up */
    }
    n = low; /* scratch[0, low): the holes ascending; next the sources */
    char *p = t->top;
    uint32_t i = t->topi;
    while (n < 2 * low) { /* the live cells above the final top, from the top down */
      if (--i == 0) p = (char *)rv_hdr(p)->below, i = t->cpp - 1;
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
