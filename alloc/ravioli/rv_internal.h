/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_internal.h: the ravioli allocator's data layout, shared by
  its core (ravioli.c) and its serializer (rv_serial.c).

  A raviolo ("cell") is RV_W words, aligned to its size: w[0] type word,
  w[1] parent word, w[2..] slots. Pages are page_size-aligned, so a cell's
  page header is found by masking; cell 0 of each page is the header.
---------------------------------------------------------------------------- */
#ifndef HL_RV_INTERNAL_H
#define HL_RV_INTERNAL_H

#include "alloc/ravioli/ravioli.h"
#include <pthread.h>
#include <stdatomic.h>

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
  RV_K_REV = 3,  /* reverse raviolo: w[1], w[3] parents, w[2] target */
  RV_K_PAGE = 4, /* header of a heap page: w[0] owner|kind, w[1] pool/inbox link,
                    w[2] previous page, w[3] page sequence number */
  RV_K_XFER = 5, /* header of a transfer page: w[1] inbox link, w[2] next page of
                    the chain, w[3] next free cell index */
  RV_K_FWD = 6,  /* a cell vacated by rv_move_set: w[1] its new place (only
                    during one compaction) */
  RV_K_REQ = 7,  /* header of a page of free requests: w[1] inbox link,
                    w[3] entries (slot addresses from cell 1 on) */
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
   w[2] (previous page), the top page last; every page but the top is full
   (no gaps). Plain fields: only the owner touches them, or, once the owner
   has called thread_done, whoever holds orphan_lock. */
typedef struct rv_thread_s {
  char *top;       /* top page, or NULL */
  uint32_t topi;   /* next free cell index of the top page (cpp when full/none) */
  uint32_t cpp;    /* cells per page, header included */
  uintptr_t pmask; /* ~(page_size - 1) */
  rv_heap_t *heap;
  char *spare; /* an empty page kept (hysteresis), or NULL */
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
  bool hysteresis, checked;
  size_t batch_pages;
  _Atomic uintptr_t pool; /* Treiber stack: page address | ABA tag in the low bits */
  _Atomic uint64_t mapped;
  _Atomic(rv_batch_t *) batches;
  pthread_mutex_t threads_lock; /* thread_init and stats only */
  rv_thread_t *threads;
};

static inline rv_cell_t *rv_page_hdr(const rv_thread_t *t, const void *c) {
  return (rv_cell_t *)((uintptr_t)c & t->pmask);
}

/* shared by ravioli.c and rv_serial.c */
char *rv_page_get(rv_thread_t *t);
void rv_page_put(rv_thread_t *t, char *page);

#endif
