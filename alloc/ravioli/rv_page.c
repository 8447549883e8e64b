/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_page.c: pages and the shared pool of empty pages (seed 001:
  "a thread's pages are linked together using the first raviolo from each
  page ... as are the pages in the free list"): a lock-free Treiber stack
  with an ABA tag, batches mapped aligned to the page size so that a cell's
  page header is found by masking, and the two-empty-pages hysteresis.
  The pool is the only point where threads coordinate besides the inboxes.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <sys/mman.h>

/* ==== the pool of empty pages: the only point where threads coordinate ==== */

/* Push first..last (already linked through their headers' link) in one CAS;
   thread t counts them (statistics per thread: no shared counter on this
   path). */
static void rv_pool_push(rv_thread_t *t, char *first, char *last, int64_t n) {
  rv_heap_t *h = t->heap;
  uintptr_t tm = rv_tagmask(h);
  uintptr_t old = atomic_load_explicit(&h->pool, memory_order_relaxed), nw;
  do {
    __atomic_store_n(&rv_hdr(last)->link, old & ~tm, __ATOMIC_RELAXED);
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
    uintptr_t next = __atomic_load_n(&rv_hdr(p)->link, __ATOMIC_RELAXED);
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
      __atomic_store_n(&rv_hdr(base + i * ps)->link, (uintptr_t)(base + (i + 1) * ps),
                       __ATOMIC_RELAXED);
    rv_pool_push(t, base + ps, base + (n - 1) * ps, (int64_t)n - 1);
  }
  return base;
}

/* A page for thread t: a kept empty page first, else the pool, else a new
   batch; NULL when the OS refuses the batch. */
RV_SHARED char *rv_page_try(rv_thread_t *t) {
  char *p = t->spares;
  if (p) {
    t->spares = (char *)rv_hdr(p)->next;
    t->nspare--;
    return p;
  }
  if ((p = rv_pool_pop(t)) == NULL) p = rv_pool_refill(t);
  return p;
}

/* The same where the operation cannot be undone any more. */
RV_SHARED char *rv_page_get(rv_thread_t *t) {
  char *p = rv_page_try(t);
  if (p == NULL) rv_die("out of memory: mapping a batch of %zu pages failed", t->heap->batch_pages);
  return p;
}

/* An empty page leaves t's hands: kept while t holds fewer than `keep`
   empty pages (an empty top page counts; the seed's rule, keep = 1: with two
   empty pages, return one and keep the other), else returned to the pool. */
RV_SHARED void rv_page_put(rv_thread_t *t, char *p) {
  hl_alloc_dead(p, t->heap->page_size); /* before the header words below are written */
  rv_hdr_t *hd = rv_hdr(p);
  hd->owner = (uintptr_t)t | RV_K_PAGE;
  hd->below = hd->seq = 0;
  uint32_t held = t->nspare + (t->top && t->topi == 1 && t->top != p);
  if (held < t->heap->keep) {
    hd->next = (uintptr_t)t->spares;
    t->spares = p;
    t->nspare++;
    return;
  }
  rv_pool_push(t, p, p, 1);
  t->pages_returned++;
}
