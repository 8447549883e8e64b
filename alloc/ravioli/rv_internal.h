/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_internal.h: the ravioli allocator's data layout, the
  names its files share, and the hot paths every file inlines (taking a
  cell at the top, dropping the top, entering an operation).

  A raviolo ("cell") is RV_W words, aligned to its size: w[0] type word,
  w[1] parent word, w[2..] slots. Pages are page_size-aligned, so a cell's
  page header is found by masking; cell 0 of each page is the header, read
  and written through its named view (rv_hdr_t, rv_hdr). The words whose
  meaning depends on the kind of an ordinary cell have names too
  (RV_REV_*, RV_FWD_TO, RV_HOLE_NEXT).
---------------------------------------------------------------------------- */
#ifndef HL_RV_INTERNAL_H
#define HL_RV_INTERNAL_H

#include "alloc/ravioli/ravioli.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#define RV_W          RV_RAVIOLO_WORDS
#define RV_SLOTS      (RV_W - 2)
#define RV_CELL       (RV_W * sizeof(uintptr_t))
#define RV_LEAF_BYTES (RV_SLOTS * sizeof(uintptr_t))

_Static_assert(RV_W >= 4 && RV_W <= 16 && (RV_W & (RV_W - 1)) == 0,
               "RV_RAVIOLO_WORDS: a power of two from 4 to 16");
_Static_assert(sizeof(uintptr_t) == 8, "ravioli assume 64-bit pointers");

typedef struct rv_cell_s {
  uintptr_t w[RV_W];
} rv_cell_t;

/* ---- the type word ----
   bits 0-2 kind, bit 3 ROOT (the object's top cell: size and depth valid),
   bits 4-8 tree depth (root only), bit 9 MSG (root marked while packing),
   bits 10-23 pointer mask (leaf: which slot words hold links),
   bits 24-63 object size in bytes (root only). */
enum {
  RV_K_FREE = 0, /* a hole awaiting compaction (never left in a heap) */
  RV_K_LEAF = 1, /* payload: RV_LEAF_BYTES of object bytes */
  RV_K_NODE = 2, /* interior tree node: RV_SLOTS child pointers */
  RV_K_REV = 3,  /* reverse raviolo: words RV_REV_PARENT1 and RV_REV_PARENT2
                    its parents, RV_REV_TARGET its target */
  RV_K_PAGE = 4, /* header of a heap page (rv_hdr_t): owner|kind, pool link,
                    below (the page under it), seq (page sequence number) */
  RV_K_XFER = 5, /* header of a transfer page (rv_hdr_t): owner|kind, inbox link,
                    next (next page of the chain), used (cells used, header
                    included: the next free cell index) */
  RV_K_FWD = 6,  /* a cell vacated by rv_move_set: w[RV_FWD_TO] its new place
                    (only during one compaction) */
  RV_K_REQ = 7,  /* header of a page of free requests (rv_hdr_t): owner|kind,
                    inbox link, next (0: one page), nreq entries (slot
                    addresses from cell 1 on) */
};
#define RV_KIND_MASK   7u
#define RV_ROOT        8u
#define RV_DEPTH_SHIFT 4
#define RV_DEPTH_MASK  31u
#define RV_MSG         (1u << 9)
#define RV_MASK_SHIFT  10
#define RV_SIZE_SHIFT  24
#define RV_MAX_SIZE    ((uint64_t)1 << 40)
#define RV_EXT         1u /* parent word tag: the parent is an external slot */

/* ---- words whose meaning depends on the cell's kind ----
   A reverse raviolo: its parent word (as every cell's) is its first parent;
   it has a second parent and a target (the object, or the next reverse
   raviolo towards it). A free hole links to the next hole, a forwarded
   cell names its new place, both in the parent word. */
#define RV_REV_PARENT1 1 /* reverse raviolo: first parent (the parent word) */
#define RV_REV_TARGET  2 /* reverse raviolo: target */
#define RV_REV_PARENT2 3 /* reverse raviolo: second parent */
#define RV_FWD_TO      1 /* RV_K_FWD: the cell's new place */
#define RV_HOLE_NEXT   1 /* RV_K_FREE: the next hole of the batch */

/* ---- page headers: cell 0 of every page, kinds RV_K_PAGE (heap page),
   RV_K_XFER (transfer page of a message chain), RV_K_REQ (page of free
   requests). A view of the cell's first four words; every member is a
   64-bit word like rv_cell_t's, so the two views alias. ---- */
typedef struct rv_hdr_s {
  uintptr_t owner;   /* w[0]: owner thread | kind */
  uintptr_t link;    /* w[1]: pool stack or inbox link, accessed atomically (a
                        stale pool pop may read it while the page is in use) */
  union {            /* w[2] */
    uintptr_t below; /* heap page: the page below it in the thread's list (0: none) */
    uintptr_t next;  /* transfer or request page: the next page of the chain */
  };
  union {          /* w[3] */
    uint64_t seq;  /* heap page: sequence number from the bottom page (0) */
    uint64_t used; /* transfer page: cells used, header included */
    uint64_t nreq; /* request page: number of entries */
  };
} rv_hdr_t;
_Static_assert(sizeof(rv_hdr_t) <= sizeof(rv_cell_t), "a page header fits in a cell");
_Static_assert(offsetof(rv_hdr_t, owner) == 0 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, link) == 1 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, below) == 2 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, next) == 2 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, seq) == 3 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, used) == 3 * sizeof(uintptr_t) &&
                   offsetof(rv_hdr_t, nreq) == 3 * sizeof(uintptr_t),
               "page header members are words 0 to 3 of the cell");
_Static_assert(sizeof(uint64_t) == sizeof(uintptr_t), "header words are cell words");

/* The header of the page that starts at `page`. */
static inline rv_hdr_t *rv_hdr(const void *page) {
  return (rv_hdr_t *)(uintptr_t)page;
}
static inline unsigned rv_hdr_kind(const rv_hdr_t *h) {
  return (unsigned)(h->owner & RV_KIND_MASK);
}

static inline unsigned rv_kind(const rv_cell_t *c) {
  return (unsigned)(c->w[0] & RV_KIND_MASK);
}
static inline unsigned rv_depth(uintptr_t ty) {
  return (unsigned)(ty >> RV_DEPTH_SHIFT) & RV_DEPTH_MASK;
}
static inline unsigned rv_pmask(uintptr_t ty) {
  return (unsigned)(ty >> RV_MASK_SHIFT) & ((1u << RV_SLOTS) - 1);
}
static inline uint64_t rv_size(uintptr_t ty) {
  return (uint64_t)(ty >> RV_SIZE_SHIFT);
}
static inline rv_cell_t *rv_cell_of(uintptr_t addr) {
  return (rv_cell_t *)(addr & ~(uintptr_t)(RV_CELL - 1));
}

typedef struct rv_heap_s rv_heap_t;

/* One logical thread's heap. The pages form a list through their headers'
   `below` (rv_hdr_t), the top page last; every page but the top is full
   (no gaps). Plain fields: only the owner touches them, or, once the owner
   has called thread_done, whoever holds orphan_lock. */
typedef struct rv_thread_s {
  char *top;       /* top page, or NULL */
  uint32_t topi;   /* next free cell index of the top page (cpp when full/none) */
  uint32_t cpp;    /* cells per page, header included */
  uintptr_t pmask; /* ~(page_size - 1) */
  rv_heap_t *heap;
  char *spares;    /* empty pages kept (hysteresis), linked through their headers' `next` */
  uint32_t nspare; /* how many; with an empty top page, at most heap->keep in all */
  uint64_t npages, ncells;
  _Atomic int done; /* thread_done called: the heap is orphaned */
  pthread_mutex_t orphan_lock;
  uint32_t id;
  /* counters, read by stats when threads are quiescent */
  int64_t bytes_live;
  uint64_t moves, fixups, transfers, transfer_bytes, pages_returned, links_cut;
  uint64_t accesses, access_lines, access_pages; /* locality of reads and writes */
  uint64_t messages, free_requests, transfer_pages, pages_handed, cells_allocated;
  /* the open page of free requests this thread posts, and its destination */
  char *req_page;
  struct rv_thread_s *req_to;
  /* the objects of a message being sent (rv_send_set) */
  void ***sendv;
  size_t sendv_cap;
  /* page accounting, summed over the threads by stats and the checker (a
     shared counter on these paths would move a line between cores at every
     page hand-over): pages this thread pushed to the pool minus those it
     popped; pages it put in flight in messages minus those it took out */
  int64_t pool_net, inflight_net;
  /* scratch vector for the rare walks (send, free of shared objects) */
  uintptr_t *scratch;
  size_t scratch_cap;
  struct rv_thread_s *next;
  /* written by other threads: a cache line of their own */
  _Alignas(64) _Atomic uintptr_t inbox; /* MPSC stack of incoming chains (first pages) */
} rv_thread_t;

typedef struct rv_batch_s {
  struct rv_batch_s *next;
  char *base;
  size_t len;
} rv_batch_t;

struct rv_heap_s {
  size_t page_size;
  unsigned shift;
  uint32_t cpp;
  uint32_t keep; /* empty pages a thread keeps before it returns one to the pool: the seed's
                    two-empty-pages rule is 1 (option hysteresis=1, the default); 0
                    returns every page at once; more keeps a thread's pages its own */
  bool checked;
  size_t batch_pages;
  _Atomic uintptr_t pool; /* Treiber stack: page address | ABA tag in the low bits */
  _Atomic uint64_t mapped;
  _Atomic(rv_batch_t *) batches;
  pthread_mutex_t threads_lock; /* thread_init and stats only */
  rv_thread_t *threads;
};

static inline rv_hdr_t *rv_page_hdr(const rv_thread_t *t, const void *c) {
  return (rv_hdr_t *)((uintptr_t)c & t->pmask);
}

#define RV_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RV_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define RV_ALL_SLOTS   ((1u << RV_SLOTS) - 1)

/* ---- batched frees: mark first, compact once (a big tree costs at most
   one move per freed cell, never a cascade) ---- */

typedef struct rv_holes_s {
  rv_cell_t *head;
  uint64_t n;
} rv_holes_t;

/* Walking the leaves of a tree in order: O(depth) to start, O(1) amortized
   per next leaf. */
typedef struct rv_iter_s {
  rv_cell_t *node[32];
  unsigned idx[32];
  unsigned d;
} rv_iter_t;

/* The pool head carries an ABA tag in the address bits below the page size
   (at least 10 bits: pages are >= 1 KiB and aligned to their size). */
static inline uintptr_t rv_tagmask(const rv_heap_t *h) {
  return (uintptr_t)h->page_size - 1;
}

/* ---- names shared between the ravioli files ----
   Extern in the `ravioli` build, where each file is compiled on its own;
   static in ravioli8.c and ravioli16.c, which include every file once more
   with another raviolo size (so the three builds link side by side). */
#ifdef RV_UNITY
#define RV_SHARED static
#else
#define RV_SHARED
#endif

/* pages and the pool (rv_page.c) */
/* a page for t: its spare, the pool, or a new batch; NULL when the OS refuses */
RV_SHARED char *rv_page_try(rv_thread_t *t);
/* the same where the operation cannot be undone any more (dies instead) */
RV_SHARED char *rv_page_get(rv_thread_t *t);
/* an empty page leaves t's hands: kept as the spare (hysteresis) or pooled */
RV_SHARED void rv_page_put(rv_thread_t *t, char *p);

/* the compact heap (rv_heap.c) */
RV_SHARED void rv_top_push_page(rv_thread_t *t, char *p);
RV_SHARED rv_cell_t *rv_cell_new_slow(rv_thread_t *t);
RV_SHARED void rv_top_drop_page(rv_thread_t *t);
RV_SHARED void rv_move(rv_thread_t *t, rv_cell_t *a, rv_cell_t *b);
RV_SHARED void rv_holes_compact(rv_thread_t *t, rv_holes_t *hs);

/* objects as trees of ravioli (rv_tree.c) */
RV_SHARED rv_cell_t *rv_object_new(rv_thread_t *t, uintptr_t parent, uint64_t size, bool zero);
RV_SHARED rv_cell_t *rv_iter_init(rv_iter_t *it, rv_cell_t *root, uint64_t leaf);
RV_SHARED rv_cell_t *rv_iter_next(rv_iter_t *it);
RV_SHARED void rv_tree_release(rv_thread_t *t, rv_cell_t *root, rv_holes_t *hs);
RV_SHARED rv_cell_t *rv_root_of_cell(uintptr_t p);
RV_SHARED void rv_collect_tree(rv_thread_t *t, rv_cell_t *root, size_t *n);

/* links: reverse ravioli (rv_link.c) */
RV_SHARED void rv_unref(rv_thread_t *t, uintptr_t p, rv_holes_t *hs);
RV_SHARED void rv_ref(rv_thread_t *t, rv_cell_t *leaf, unsigned j, rv_cell_t *X);
RV_SHARED void rv_drop_referrers(rv_thread_t *t, rv_cell_t *X, rv_holes_t *hs);

/* ownership and messages (rv_msg.c) */
RV_SHARED rv_thread_t *rv_enter_slow(rv_thread_t *t, void *const *slot, rv_cell_t **obj);
RV_SHARED void rv_adopt(rv_thread_t *t);
RV_SHARED char *rv_pack_thread(rv_thread_t *t, void **const *slots, size_t n, size_t *cells_out);
RV_SHARED void rv_post(rv_thread_t *to, char *chain, unsigned kind);
RV_SHARED void rv_req_flush(rv_thread_t *f);
RV_SHARED void rv_free_post(hl_ctx_t *from, hl_ctx_t *owner, void **slot, size_t size);
RV_SHARED void rv_send(hl_ctx_t *from, hl_ctx_t *to, void **slot);
RV_SHARED void rv_send_set(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n);

/* the allocator face (rv_alloc.c) */
RV_SHARED void rv_object_free(rv_thread_t *o, void **slot, rv_cell_t *c);
RV_SHARED void rv_free(hl_ctx_t *ctx, void **slot, size_t size);

/* invariants and fatal errors (rv_check.c) */
RV_SHARED void rv_check(rv_thread_t *o);
RV_SHARED _Noreturn void rv_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the hot paths, inline in every file ---- */

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
  if (rv_kind(x) == RV_K_REV && x->w[RV_REV_PARENT2] == oldc)
    x->w[RV_REV_PARENT2] = newc;
  else
    x->w[1] = newc;
}

/* The heap order of a cell: page sequence number, then index. */
static inline uint64_t rv_pos(const rv_thread_t *t, const rv_cell_t *c) {
  const rv_hdr_t *hd = rv_page_hdr(t, c);
  return hd->seq * (t->cpp - 1) + ((uintptr_t)c - (uintptr_t)hd) / RV_CELL - 1;
}

/* The next cell at the heap top. Never moves anything. */
static inline rv_cell_t *rv_cell_new(rv_thread_t *t) {
  if (RV_LIKELY(t->topi < t->cpp)) {
    t->ncells++;
    return (rv_cell_t *)(t->top + (size_t)t->topi++ * RV_CELL);
  }
  return rv_cell_new_slow(t);
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
  if (--t->topi == 1 && t->nspare >= t->heap->keep) rv_top_drop_page(t);
}

/* Free one detached cell: the top cell moves into the hole. */
static inline void rv_cell_free(rv_thread_t *t, rv_cell_t *h) {
  rv_cell_t *top = rv_top_cell(t);
  if (h != top) rv_move(t, top, h);
  rv_pop_top(t);
}

static inline void rv_hole_add(rv_holes_t *hs, rv_cell_t *c) {
  c->w[0] = RV_K_FREE;
  c->w[RV_HOLE_NEXT] = (uintptr_t)hs->head;
  hs->head = c;
  hs->n++;
}

/* ==== objects: trees of ravioli ==== */

static inline rv_cell_t *rv_resolve(uintptr_t ref) {
  rv_cell_t *c = (rv_cell_t *)ref;
  while (rv_kind(c) == RV_K_REV) c = (rv_cell_t *)c->w[RV_REV_TARGET];
  return c;
}

static inline uint64_t rv_leaves(uint64_t size) {
  return size <= RV_LEAF_BYTES ? 1 : (size + RV_LEAF_BYTES - 1) / RV_LEAF_BYTES;
}

/* Is the parent cell p a reverse raviolo's target word? */
static inline bool rv_is_rev_target(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  return rv_kind(r) == RV_K_REV && p == (uintptr_t)&r->w[RV_REV_TARGET];
}

static inline rv_thread_t *rv_owner(const rv_thread_t *t, const rv_cell_t *c) {
  return (rv_thread_t *)(rv_page_hdr(t, c)->owner & ~(uintptr_t)RV_KIND_MASK);
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

#endif
