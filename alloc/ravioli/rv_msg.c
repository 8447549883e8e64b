/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_msg.c: ownership and message passing between threads (seed
  001): every operation enters through its object's owner check; messages
  are chains of transfer pages posted to the receiver's lock-free inbox and
  adopted (compacted into its heap) at its next operation; remote frees are
  free requests posted the same way.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <errno.h>
#include <string.h>

RV_SHARED __attribute__((noinline)) rv_thread_t *rv_enter_slow(rv_thread_t *t, void *const *slot,
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

/* ==== messages ==== */

/* Move cells from the end of transfer page p (m cells used, header
   included) into the free space of t's top page; returns what p keeps. */
static uint32_t rv_adopt_drain(rv_thread_t *t, char *p, uint32_t m) {
  while (m > 1 && t->top && t->topi < t->cpp) {
    rv_move(t, (rv_cell_t *)(p + (size_t)(m - 1) * RV_CELL), rv_cell_new(t));
    m--;
  }
  return m;
}

/* Transfer page p (m cells used) becomes t's top page as it is. */
static void rv_adopt_push(rv_thread_t *t, char *p, uint32_t m) {
  rv_top_push_page(t, p);
  t->topi = m;
  t->ncells += m - 1;
}

/* Receive a chain. The received cells end up as the top of the heap, so a
   message passed on whole leaves again in place (rv_pack_top_pages):
   first the free space of the top page is filled from the chain's partial
   pages (or, lacking them, from a full one), then the full pages go on top
   as they are, then what is left of the partial pages, drained into each
   other. At most about two pages' worth of cells move, however long the
   message. */
static void rv_adopt_chain(rv_thread_t *t, char *chain) {
  /* two lists in chain order, linked through `next` */
  uintptr_t full = 0, *full_end = &full, part = 0, *part_end = &part;
  for (char *p = chain, *next; p; p = next) {
    rv_hdr_t *hd = rv_hdr(p);
    next = (char *)hd->next;
    hd->next = 0;
    t->inflight_net--;
    if (hd->used == t->cpp)
      *full_end = (uintptr_t)p, full_end = &hd->next;
    else
      *part_end = (uintptr_t)p, part_end = &hd->next;
  }
  while (t->top && t->topi < t->cpp && (part || full)) {
    uintptr_t *from = part ? &part : &full;
    char *p = (char *)*from;
    rv_hdr_t *hd = rv_hdr(p);
    *from = hd->next;
    hd->used = rv_adopt_drain(t, p, (uint32_t)hd->used);
    if (hd->used > 1) { /* the top is full now; p waits with the partial pages */
      hd->next = part;
      part = (uintptr_t)p;
    } else {
      rv_page_put(t, p);
    }
  }
  for (char *p = (char *)full, *next; p; p = next) {
    next = (char *)rv_hdr(p)->next;
    rv_adopt_push(t, p, t->cpp);
  }
  for (char *p = (char *)part, *next; p; p = next) {
    rv_hdr_t *hd = rv_hdr(p);
    next = (char *)hd->next;
    uint32_t m = rv_adopt_drain(t, p, (uint32_t)hd->used);
    if (m > 1)
      rv_adopt_push(t, p, m);
    else
      rv_page_put(t, p);
  }
}

/* Free requests: each entry is the slot of an object t owns. */
static void rv_adopt_requests(rv_thread_t *t, char *p) {
  const uintptr_t *e = (const uintptr_t *)(p + RV_CELL);
  for (uintptr_t i = 0, n = rv_hdr(p)->nreq; i < n; i++) {
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
RV_SHARED void rv_adopt(rv_thread_t *t) {
  uintptr_t chains = atomic_exchange_explicit(&t->inbox, 0, memory_order_acquire);
  char *reqs = NULL;
  while (chains) {
    char *first = (char *)chains;
    chains = __atomic_load_n(&rv_hdr(first)->link, __ATOMIC_RELAXED);
    if (rv_hdr_kind(rv_hdr(first)) == RV_K_REQ) {
      __atomic_store_n(&rv_hdr(first)->link, (uintptr_t)reqs, __ATOMIC_RELAXED);
      reqs = first;
    } else {
      rv_adopt_chain(t, first);
    }
  }
  while (reqs) {
    char *p = reqs;
    reqs = (char *)__atomic_load_n(&rv_hdr(p)->link, __ATOMIC_RELAXED);
    rv_adopt_requests(t, p);
  }
}

/* The message's k cells are scratch[0, k). If they are exactly the top k
   cells of t's heap, the pages holding nothing else leave the heap as they
   are and become transfer pages (no copy, no pointer changes); their cells
   are marked in scratch (the entry becomes their page's header, kind XFER)
   so that the caller copies only the rest. Returns that chain or NULL. */
static char *rv_pack_top_pages(rv_thread_t *t, size_t k) {
  if (k < t->cpp - 1 || t->top == NULL) return NULL; /* not even one page's worth */
  uint64_t keep = t->ncells - k;
  for (size_t i = 0; i < k; i++)
    if (rv_pos(t, (rv_cell_t *)t->scratch[i]) < keep) return NULL;
  /* the pages above the one that holds position `keep`, and that one too
     when the message starts at its first cell */
  char *chain = NULL;
  while (t->top) {
    rv_hdr_t *hd = rv_hdr(t->top);
    uint32_t used = t->topi;
    if (hd->seq * (t->cpp - 1) < keep) break; /* this page holds cells that stay */
    char *p = t->top, *below = (char *)hd->below;
    hd->owner = RV_K_XFER, hd->next = (uintptr_t)chain, hd->used = used;
    chain = p;
    t->top = below, t->topi = t->cpp;
    t->npages--, t->ncells -= used - 1;
    t->inflight_net++, t->transfer_pages++, t->pages_handed++;
  }
  if (chain == NULL) return NULL;
  for (size_t i = 0; i < k; i++) {
    rv_hdr_t *hd = rv_page_hdr(t, (rv_cell_t *)t->scratch[i]);
    if (rv_hdr_kind(hd) == RV_K_XFER) t->scratch[i] = (uintptr_t)hd;
  }
  /* the heap's top is now the page that holds position keep - 1, full
     (topi = cpp), or none: the message cells left on it are copied */
  return chain;
}

/* Pack the objects of slots[0..n) (owned by t) into a transfer chain. */
RV_SHARED char *rv_pack_thread(rv_thread_t *t, void **const *slots, size_t n, size_t *cells_out) {
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
        rv_push(t, &k, rv_cell_of(p)->w[RV_REV_PARENT1]);
        rv_push(t, &k, rv_cell_of(p)->w[RV_REV_PARENT2]);
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
  rv_holes_compact(t, &hs); /* the cut links' reverse ravioli */
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
        uintptr_t q = e ? r->w[RV_REV_PARENT2] : r->w[RV_REV_PARENT1];
        if (!(q & RV_EXT) && rv_is_rev_target(q)) rv_push(t, &k, (uintptr_t)rv_cell_of(q));
      }
    }
  }
  /* when the message is the top of the heap (just built, or just received
     and passed on), its whole pages are handed over in place */
  char *handed = rv_pack_top_pages(t, k);
  char *first = NULL, *cur = NULL;
  uint32_t ci = t->cpp;
  for (size_t i = 0; i < k; i++) {
    if (rv_kind((rv_cell_t *)t->scratch[i]) == RV_K_XFER) continue; /* handed over in place */
    if (ci == t->cpp) {
      char *pg = rv_page_get(t);
      rv_hdr_t *hd = rv_hdr(pg);
      hd->owner = RV_K_XFER, hd->next = 0, hd->used = 1;
      if (cur)
        rv_hdr(cur)->next = (uintptr_t)pg;
      else
        first = pg;
      cur = pg, ci = 1;
      t->inflight_net++;
      t->transfer_pages++;
    }
    rv_cell_t *src = (rv_cell_t *)t->scratch[i], *dst = (rv_cell_t *)(cur + (size_t)ci * RV_CELL);
    rv_move(t, src, dst);
    t->moves--; /* counted as transfer bytes, not as compaction moves */
    t->transfer_bytes += RV_CELL;
    rv_hole_add(&hs, src);
    rv_hdr(cur)->used = ++ci;
  }
  if (cur)
    rv_hdr(cur)->next = (uintptr_t)handed;
  else
    first = handed;
  for (size_t i = 0; i < n; i++) rv_resolve((uintptr_t)*slots[i])->w[0] &= ~(uintptr_t)RV_MSG;
  rv_holes_compact(t, &hs);
  *cells_out = k;
  t->transfers += n;
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
  for (char *p = (char *)msg; p; p = (char *)rv_hdr(p)->next)
    for (uint32_t i = 1; i < rv_hdr(p)->used; i++) {
      rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
      if (c->w[0] & RV_ROOT) t->bytes_live += (int64_t)rv_size(c->w[0]);
    }
  if (msg) rv_adopt_chain(t, (char *)msg);
  rv_leave(ctx, t);
}

void rv_msg_discard(hl_ctx_t *ctx, rv_msg_t *msg) {
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  for (char *p = (char *)msg, *next; p; p = next) {
    rv_hdr_t *hd = rv_hdr(p);
    next = (char *)hd->next;
    for (uint32_t i = 1; i < hd->used; i++) {
      rv_cell_t *c = (rv_cell_t *)(p + (size_t)i * RV_CELL);
      if (c->w[1] & RV_EXT) rv_set_cell(c->w[1], 0);
      if (rv_kind(c) == RV_K_REV && (c->w[RV_REV_PARENT2] & RV_EXT))
        rv_set_cell(c->w[RV_REV_PARENT2], 0);
    }
    t->inflight_net--;
    rv_page_put(t, p);
  }
  rv_leave(ctx, t);
}

size_t rv_msg_cells(const rv_msg_t *msg) {
  size_t n = 0;
  for (const char *p = (const char *)msg; p; p = (const char *)rv_hdr(p)->next)
    n += rv_hdr(p)->used - 1;
  return n;
}

/* Push a chain of pages (a message, kind XFER, or one page of free
   requests, kind REQ) on to's inbox. */
RV_SHARED void rv_post(rv_thread_t *to, char *chain, unsigned kind) {
  for (char *p = chain; p; p = (char *)rv_hdr(p)->next) rv_hdr(p)->owner = (uintptr_t)to | kind;
  uintptr_t old = atomic_load_explicit(&to->inbox, memory_order_relaxed);
  do {
    __atomic_store_n(&rv_hdr(chain)->link, old, __ATOMIC_RELAXED);
  } while (!atomic_compare_exchange_weak_explicit(&to->inbox, &old, (uintptr_t)chain,
                                                  memory_order_seq_cst, memory_order_relaxed));
}

/* ---- free requests: a remote free posted to the owner, batched per
   destination in a page (entries: slot addresses) ---- */

static inline uintptr_t rv_req_cap(const rv_thread_t *t) {
  return (t->heap->page_size - RV_CELL) / sizeof(uintptr_t);
}

/* Post f's open request page. An owner that has finished since takes it no
   more: like a message to a finished thread, it waits for whoever uses that
   (orphaned) heap next, under its lock. The poster does not take it itself:
   it would move cells of a heap that another thread may be reading a slot
   of before that thread takes the lock (TSan saw exactly that). */
RV_SHARED void rv_req_flush(rv_thread_t *f) {
  char *p = f->req_page;
  rv_thread_t *to = f->req_to;
  if (p == NULL) return;
  f->req_page = NULL, f->req_to = NULL;
  rv_hdr(p)->next = 0;
  rv_post(to, p, RV_K_REQ);
}

RV_SHARED void rv_free_post(hl_ctx_t *from, hl_ctx_t *owner, void **slot, size_t size) {
  rv_thread_t *f = from->local, *o = owner->local;
  /* to oneself, from a finished thread (the harness frees leftovers through
     any context) or to a finished owner: an ordinary free (an orphan's under
     its lock) */
  if (f == o || atomic_load_explicit(&f->done, memory_order_relaxed) ||
      atomic_load_explicit(&o->done, memory_order_acquire)) {
    rv_free(from, slot, size);
    return;
  }
  if (f->req_page && (f->req_to != o || rv_hdr(f->req_page)->nreq == rv_req_cap(f)))
    rv_req_flush(f);
  if (f->req_page == NULL) {
    f->req_page = rv_page_get(f);
    f->req_to = o;
    rv_hdr(f->req_page)->nreq = 0;
    f->inflight_net++;
  }
  rv_hdr_t *hd = rv_hdr(f->req_page);
  ((uintptr_t *)(f->req_page + RV_CELL))[hd->nreq++] = (uintptr_t)slot;
  f->free_requests++;
}

RV_SHARED void rv_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
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
RV_SHARED void rv_send_set(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n) {
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
