/* ----------------------------------------------------------------------------
  alloc/stable/stable_internal.h: the layout shared by stable.c (the heap and
  its collectors) and stable_alloc.c (the alloc.h face): object headers,
  pages, the process-wide page map and the local heap itself.

  Memory comes in 64 KiB pages, each naturally aligned, registered in a
  two-level page map (address >> 16 -> page, tagged with the owning heap's
  16-bit id so a collector can tell a foreign pointer without touching
  foreign memory). A small page holds one size class of one generation
  (young or old); a large object is its own mapping with a page header at
  its base. Every object has a 32-byte header before its payload.
---------------------------------------------------------------------------- */
#ifndef HL_STABLE_INTERNAL_H
#define HL_STABLE_INTERNAL_H

#include "alloc/stable/stable.h"
#include <pthread.h>
#include <stdatomic.h>

#define ST_PAGE_SHIFT 16
#define ST_PAGE       ((size_t)1 << ST_PAGE_SHIFT)
#define ST_NCLASS     36
#define ST_MIN_CARD   128
#define ST_MAX_CARDS  (ST_PAGE / ST_MIN_CARD)
#define ST_CHUNK      (16 * ST_PAGE) /* pages are carved from 1 MiB mappings */
#define ST_PAGE_MAGIC 0x53544142u    /* "STAB" */

/* Header flags. The cohort (minor collections survived) sits in bits 8..11. */
enum {
  ST_FREE = 1u << 0,   /* slot on its page's free list */
  ST_TYPED = 1u << 1,  /* traced: pointer fields declared, reclaimed by collection */
  ST_PINNED = 1u << 2, /* never moves */
  ST_MARK = 1u << 3,   /* reached by the running collection */
  ST_FWD = 1u << 4,    /* promoted: payload word 0 holds the new address */
  ST_EXTREF = 1u << 5, /* referenced from another heap: a root until freed */
  ST_BIGMAP = 1u << 6, /* pointer bitmap lives in `bigmap` (objects > 64 words) */
  ST_REMOTE = 1u << 7, /* freed by another thread: on the owner's remote list */
  ST_COHORT_SHIFT = 8,
  ST_COHORT_MASK = 0xfu << 8,
};

typedef struct st_hdr_s {
  void **root;      /* the reference slot holding it; NULL once dropped. Free: next free */
  uint64_t map;     /* pointer bitmap of words 0..63 */
  uint64_t *bigmap; /* ST_BIGMAP: the bitmap of every word (malloc'ed) */
  uint32_t size;    /* payload bytes asked for */
  uint32_t flags;
} st_hdr_t;

_Static_assert(sizeof(st_hdr_t) == 32, "payloads must stay 16-byte aligned");

typedef struct st_page_s {
  uint32_t magic;
  uint8_t old, large, in_avail, dirty; /* dirty: some card of this page is dirty (level 1) */
  uint16_t cls;
  stable_heap_t *owner;
  struct st_page_s *next, *prev; /* the (generation, class) list, or a large list */
  struct st_page_s *avail_next;  /* pages of the class with a free slot */
  uint32_t stride, nslots, bump, live;
  _Atomic uint32_t ntyped; /* typed objects here (foreign links may add one) */
  char *start;             /* first slot (small) / the header (large) */
  st_hdr_t *free;          /* free slots, linked through hdr->root */
  void *map_base;          /* large: the mapping */
  size_t map_len;
  size_t ncards;          /* cards covering the page (old pages only) */
  _Atomic uint8_t *cards; /* level 2: a byte per card; points at inline_cards (small) */
  _Atomic uint8_t inline_cards[ST_MAX_CARDS];
} st_page_t;

/* Counters written by one thread are plain relaxed stores (no RMW); ones
   that foreign threads may change under the heap lock use fetch_add. */
#define ST_ADD(c, d)                                                                               \
  atomic_store_explicit(&(c), atomic_load_explicit(&(c), memory_order_relaxed) + (d),              \
                        memory_order_relaxed)
#define ST_ADD_SHARED(c, d) atomic_fetch_add_explicit(&(c), (d), memory_order_relaxed)
#define ST_GET(c)           atomic_load_explicit(&(c), memory_order_relaxed)

typedef struct st_counters_s {
  _Atomic uint64_t minor, major, promoted, promoted_in_place, bytes_moved, cards_dirtied,
      cards_scanned, allocs, raw_frees, roots_dropped, reclaimed, reclaimed_bytes, remote_frees,
      typed_live_bytes, mapped, pages, transfers;
  _Atomic int64_t live_bytes; /* alloc.h: bytes the trace holds, by ops of this context */
  /* shared (fetch_add): */
  _Atomic uint64_t typed, typed_live, bytes_pinned, objects_pinned, escaped;
} st_counters_t;

struct stable_heap_s {
  pthread_mutex_t lock; /* held by collections and by other threads' operations */
  stable_config_t conf;
  uint16_t id;
  st_page_t *pages[2][ST_NCLASS];
  st_page_t *avail[2][ST_NCLASS];
  st_page_t *large[2];
  st_page_t *empty;             /* pages kept for reuse */
  char *chunk_next, *chunk_end; /* carving pages */
  void **chunks;                /* every chunk, for delete */
  size_t nchunks, capchunks;
  _Atomic(st_hdr_t *) remote; /* raw objects freed by other threads (MPSC) */
  uint64_t since_minor, since_major;
  bool skip_barrier, collecting;
  st_hdr_t **stack;
  size_t nstack, capstack;
  st_hdr_t *cellbuf[ST_PAGE / 48 + 2]; /* objects overlapping one card */
  st_hdr_t **moved;                    /* promotion: old copies (forwarded) */
  size_t nmoved, capmoved;
  st_counters_t c;
  struct stable_heap_s *next; /* the alloc.h face's list */
};

static inline st_hdr_t *st_hdr(const void *payload) {
  return (st_hdr_t *)((char *)payload - sizeof(st_hdr_t));
}
static inline void *st_payload(st_hdr_t *h) {
  return (char *)h + sizeof(st_hdr_t);
}

/* The page holding address p (NULL when none); *id gets the owner's id. */
st_page_t *st_page_lookup(const void *p, uint16_t *id);
/* The header of the live object whose payload is p in page pg, or NULL. */
st_hdr_t *st_obj_in_page(st_page_t *pg, const void *p);

/* Heap internals used by the alloc.h face (owner thread unless noted). */
st_hdr_t *st_alloc_obj(stable_heap_t *h, size_t size, size_t align);
void st_free_obj(stable_heap_t *h, st_hdr_t *o);
void st_make_typed(st_hdr_t *o);
void st_pin(st_hdr_t *o);
void st_maybe_collect(stable_heap_t *h, size_t size);
void st_drain_remote(stable_heap_t *h);
void st_remote_push(stable_heap_t *h, st_hdr_t *o); /* any thread */
bool st_bit_get(const st_hdr_t *o, size_t w);
int st_bit_set(st_hdr_t *o, size_t w);
void st_bits_clear_range(st_hdr_t *o, size_t off, size_t len);
/* Store target (payload or NULL) in word field/8 of o, declare it, barrier. */
void st_store(stable_heap_t *h, st_hdr_t *o, size_t field, void *target);
static inline st_page_t *st_page_of(const void *payload) {
  uint16_t id;
  return st_page_lookup(payload, &id);
}

#endif
