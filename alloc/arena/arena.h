/* ----------------------------------------------------------------------------
  alloc/arena/arena.h: the arena allocator's internals (seed 004), shared by
  its core (arena_tree.c, arena_chunk.c, arena_core.c), its heaplab face
  (arena_alloc.c) and its malloc-API face (arena_malloc.c, libhlarena.so).

  The core never reads TLS or sched_getcpu: every call names its per-thread
  cache (arena_tcache_t) and the core it runs on. It never calls malloc: all
  metadata comes from mmap, so the same code can *be* malloc.
---------------------------------------------------------------------------- */
#ifndef HL_ARENA_H
#define HL_ARENA_H

#include "alloc/options.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- geometry (build-time constants) ---- */
#ifndef ARENA_CHUNK_SHIFT
#define ARENA_CHUNK_SHIFT 22 /* 4 MiB chunks, naturally aligned */
#endif
#define ARENA_CHUNK      ((size_t)1 << ARENA_CHUNK_SHIFT)
#define ARENA_CHUNK_MASK (ARENA_CHUNK - 1)
#define ARENA_SLAB_SHIFT 16 /* 64 KiB slabs */
#define ARENA_SLAB       ((size_t)1 << ARENA_SLAB_SHIFT)
#define ARENA_SLABS      (ARENA_CHUNK / ARENA_SLAB) /* per small chunk; slab 0 is the header */
/* The chunk map is a two-level radix tree over chunk numbers (arena_chunk.c);
   a leaf holds 2^ARENA_RADIX_LEAF_BITS entries. */
#define ARENA_RADIX_LEAF_BITS 13

/* Small classes: 16-byte steps to 512 (32 classes), then 4 per doubling to
   14336 (19 more: 640, 768, 896, 1024, 1280, ..., 12288, 14336). */
#define ARENA_NBINS_16  32
#define ARENA_NBINS     51
#define ARENA_SMALL_MAX 14336

/* Large spans: a 4-pointer header {size|free, prev, left, right}; spans are
   multiples of the header size. The large chunk's own header takes 64 bytes. */
#define ARENA_SPAN_HDR     32
#define ARENA_LCHUNK_HDR   64
#define ARENA_LARGE_USABLE (ARENA_CHUNK - ARENA_LCHUNK_HDR) /* a whole chunk's span */
#define ARENA_LARGE_MAX    (ARENA_LARGE_USABLE - ARENA_SPAN_HDR)
#define ARENA_MAX_ALIGN_LG (ARENA_CHUNK / 8) /* above: aligned requests go huge */

/* The largest request served (more than a 47-bit user address space can
   hold anyway); every size is compared with it before it is rounded up, so
   no rounding can wrap around to a small size. Larger: ENOMEM. */
#define ARENA_SIZE_LIMIT ((size_t)1 << 46)

/* Thread cache: a bin is flushed down to 8 KiB when it holds over 16 KiB. */
#define ARENA_TCACHE_HIGH 16384
#define ARENA_TCACHE_LOW  8192

/* ---- intrusive treap (arena_tree.c) ----
   A node is two child pointers embedded in the caller's struct; priorities
   are a hash of the node's address, so no field is needed. */
typedef struct arena_tnode_s {
  struct arena_tnode_s *left, *right;
} arena_tnode_t;

/* Three-way compare of two nodes (the tree's key order). */
typedef int (*arena_tcmp_fn)(const arena_tnode_t *a, const arena_tnode_t *b);

typedef struct arena_tree_s {
  arena_tnode_t *root;
  arena_tcmp_fn cmp;
  size_t count;
} arena_tree_t;

void arena_tree_init(arena_tree_t *t, arena_tcmp_fn cmp);
void arena_tree_insert(arena_tree_t *t, arena_tnode_t *n);
void arena_tree_remove(arena_tree_t *t, arena_tnode_t *n); /* n must be in t */
/* The least node >= key (key is a node-shaped probe), or NULL. */
arena_tnode_t *arena_tree_lower_bound(const arena_tree_t *t, const arena_tnode_t *key);
/* The greatest node < key, or NULL. */
arena_tnode_t *arena_tree_predecessor(const arena_tree_t *t, const arena_tnode_t *key);
arena_tnode_t *arena_tree_first(const arena_tree_t *t);
/* Full check: BST order, heap order of priorities, count. */
bool arena_tree_is_valid(const arena_tree_t *t);

/* ---- chunks: extents, per-core pools, purging (arena_chunk.c) ---- */

/* A free extent of whole chunks: side metadata (the extent itself may be
   purged or PROT_NONE, so nothing lives inside it). */
typedef struct arena_extent_s {
  arena_tnode_t by_size; /* (size, addr) tree: address-ordered best fit */
  arena_tnode_t by_addr; /* (addr) tree: coalescing */
  char *addr;
  size_t size;
  struct arena_extent_s *dirty_prev, *dirty_next; /* FIFO of dirty extents */
  bool dirty;
} arena_extent_t;

typedef struct arena_pool_s {
  pthread_mutex_t lock;
  char *bump, *end; /* untouched part of this pool's reservation share */
  arena_tree_t by_size, by_addr;
  arena_extent_t *dirty_head, *dirty_tail; /* oldest first */
  size_t dirty_bytes;
  arena_extent_t *spare_nodes; /* free extent nodes (linked through dirty_next) */
  bool global;                 /* the fallback pool: mmaps beyond the reservation */
} arena_pool_t;

/* ---- small: slabs and bins ---- */
typedef struct arena_slab_s {
  struct arena_slab_s *next, *prev; /* bin's partial list or arena's empty list */
  void *free;                       /* LIFO list of freed slots */
  char *bump;                       /* next never-used slot */
  uint16_t nfree;                   /* free slots, bump part included */
  uint16_t nslots;
  uint8_t bin;   /* size class while in use */
  uint8_t state; /* ARENA_SLAB_* */
} arena_slab_t;

enum { ARENA_SLAB_UNUSED = 0, ARENA_SLAB_EMPTY, ARENA_SLAB_PARTIAL, ARENA_SLAB_FULL };
/* `bin` of a slab no live object can be in: slab 0 (the chunk's metadata),
   never-carved and empty slabs. It only changes while the slab holds no
   object, so a free may read it without the lock: bin >= ARENA_NBINS is a
   pointer into no live slab (a double free after the slab emptied, a stale
   pointer into a chunk reused for small objects). */
#define ARENA_NO_BIN 0xff

struct arena_arena_s;

/* At every chunk's base. Small chunks add slab metadata (and, in checked
   mode, an allocation bitmap per slab) behind it, all in slab 0. */
typedef struct arena_chunk_s {
  struct arena_arena_s *arena;
  uint32_t small;
  uint32_t slabs_used;               /* small: slabs not on the empty list nor unused */
  struct arena_chunk_s *next, *prev; /* small: arena's list of small chunks */
  uint32_t unused_slabs;             /* small: slabs never carved */
} arena_chunk_t;

typedef struct arena_schunk_s {
  arena_chunk_t hdr;
  arena_slab_t slabs[ARENA_SLABS];
  uint64_t bits[ARENA_SLABS][ARENA_SLAB / 16 / 64]; /* checked mode: 1 = allocated */
} arena_schunk_t;

/* Large span header; `size_free` holds the span size (header included) with
   bit 0 = free. A free span is in its arena's (size, addr) tree through `node`;
   an allocated span's `node.left` holds a cookie keyed by its address
   (arena_core.c), cleared when it is freed, so a free finds out cheaply
   whether it was handed the start of a live span. */
typedef struct arena_span_s {
  size_t size_free;
  struct arena_span_s *prev;
  arena_tnode_t node;
} arena_span_t;

typedef struct arena_bin_s {
  arena_slab_t *partial; /* doubly linked, LIFO */
} arena_bin_t;

typedef struct arena_arena_s {
  pthread_mutex_t lock;
  unsigned index;
  arena_bin_t bins[ARENA_NBINS];
  arena_slab_t *empty;         /* empty slabs, any chunk of this arena */
  arena_chunk_t *small_chunks; /* chunks with never-carved slabs */
  arena_tree_t spans;          /* free large spans, (size, addr) */
  arena_chunk_t *spare;        /* cache of the most recently freed chunk */
  char pad[64];
} arena_arena_t;

/* ---- per-thread cache ---- */
typedef struct arena_tbin_s {
  void *head; /* LIFO list through the objects' first word */
  uint32_t count;
} arena_tbin_t;

typedef struct arena_tcache_s {
  arena_tbin_t bins[ARENA_NBINS];
  unsigned core;  /* the core this thread runs on (set by the face) */
  unsigned shift; /* added to the core's arena after trylock failures */
  int64_t live;   /* bytes the application holds through this cache (stats) */
  bool enabled;   /* false: every call goes to the arena (checked mode, dying thread) */
  struct arena_tcache_s *next_all;
} arena_tcache_t;

/* ---- options and the heap ---- */
typedef struct arena_opts_s {
  size_t reserve;    /* bytes of address space reserved up front (0 = none) */
  unsigned narenas;  /* arenas (default 4 per CPU) */
  unsigned npools;   /* reservation partitions (default one per CPU) */
  size_t dirty_min;  /* dirty bytes always allowed per pool */
  unsigned lg_dirty; /* purge when dirty > active >> lg_dirty */
  bool purge;        /* false: never madvise */
  bool checked;      /* validate every free, no thread cache, abort on misuse */
  int prot_none;     /* -1: from /proc/sys/vm/overcommit_memory, 0/1 forced */
} arena_opts_t;

typedef struct arena_heap_s {
  arena_opts_t opts;
  bool use_madv_free;
  char *reserve_base;
  size_t reserve_size, part_size;
  arena_pool_t *pools; /* npools + 1: the last is the global fallback */
  arena_arena_t *arenas;
  _Atomic(_Atomic uint64_t *) radix[1u << 12]; /* chunk number -> info; see arena_chunk.c */
  pthread_mutex_t meta_lock;                   /* metadata bump + tcache list */
  char *meta_bump, *meta_end;
  arena_tcache_t *tcaches, *free_tcaches;
  _Atomic size_t active_bytes; /* chunks handed out (arenas and huge) */
  _Atomic size_t meta_bytes;
  _Atomic size_t huge_bytes;
  _Atomic uint64_t purges, purged_bytes;
} arena_heap_t;

/* Radix entry: 0 = not a chunk of ours; otherwise type in the low 2 bits,
   and for a huge allocation its size (a multiple of the chunk size). */
enum { ARENA_RT_SMALL = 1, ARENA_RT_LARGE = 2, ARENA_RT_HUGE = 3 };

/* The options' table (alloc/options.h), shared by both faces. */
extern const hl_opt_table_t arena_opt_table;
/* Parse "key=value,..." into opts (defaults first) with arena_opt_table.
   Returns 0 or EINVAL, with a message ("arena: ...") in err. No malloc, no
   stdio: libhlarena.so calls it inside its own start-up. */
int arena_opts_parse(arena_opts_t *opts, const char *s, char *err, size_t errlen);
/* Create a heap in memory from mmap (never malloc). NULL with errno. */
arena_heap_t *arena_heap_create(const arena_opts_t *opts);
void arena_heap_destroy(arena_heap_t *h);

/* chunk layer */
int arena_chunk_init(arena_heap_t *h);
void arena_chunk_done(arena_heap_t *h);
void *arena_chunk_alloc(arena_heap_t *h, unsigned pool, size_t size, size_t align, bool *zeroed);
void arena_chunk_free(arena_heap_t *h, void *addr, size_t size);
/* Try to extend [addr, addr+old) to new bytes by taking free chunks after it. */
bool arena_chunk_grow(arena_heap_t *h, void *addr, size_t old, size_t new_size);
uint64_t arena_radix_get(arena_heap_t *h, const void *chunk);
void arena_radix_set(arena_heap_t *h, const void *chunk, uint64_t v);
void *arena_meta_alloc(arena_heap_t *h, size_t size); /* zeroed, never freed */
void arena_pool_purge_all(arena_heap_t *h);
bool arena_pool_is_valid(arena_heap_t *h, unsigned pool); /* full walk, takes the lock */
size_t arena_pool_dirty(arena_heap_t *h);

/* core API */
arena_tcache_t *arena_tcache_create(arena_heap_t *h, unsigned core);
void arena_tcache_flush(arena_heap_t *h, arena_tcache_t *tc);
void arena_tcache_destroy(arena_heap_t *h, arena_tcache_t *tc); /* flush, recycle */
/* Allocate `size` bytes aligned to `align` (a power of two; 0 = default).
   NULL with errno = ENOMEM. zero: calloc semantics. */
void *arena_malloc(arena_heap_t *h, arena_tcache_t *tc, size_t size, size_t align, bool zero);
void arena_free(arena_heap_t *h, arena_tcache_t *tc, void *p);
void *arena_realloc(arena_heap_t *h, arena_tcache_t *tc, void *p, size_t size);
size_t arena_usable_size(arena_heap_t *h, const void *p);
size_t arena_bin_size(unsigned bin);
int arena_bin_of(size_t size); /* -1 above ARENA_SMALL_MAX */
/* Fork (arena_core.c). Lock i of the global order (arenas, pools 0..npools,
   the metadata lock: arena_lock_count of them) is bit i of `skipped`, an
   array of `words` words: set for a lock arena_lock_all did not take
   because `take` declined it (the calling thread holds it already: fork
   from a signal handler that interrupted the allocator). take(m) returns
   with m locked, or false; NULL: pthread_mutex_lock. Locks beyond the
   bitmap are always taken. Unlock and reinit leave the skipped ones alone. */
unsigned arena_lock_count(const arena_heap_t *h);
pthread_mutex_t *arena_lock_at(arena_heap_t *h, unsigned i); /* i < arena_lock_count */
void arena_lock_all(arena_heap_t *h, bool (*take)(pthread_mutex_t *m), uint64_t *skipped,
                    size_t words);
void arena_unlock_all(arena_heap_t *h, const uint64_t *skipped, size_t words);
void arena_reinit_locks(arena_heap_t *h, const uint64_t *skipped, size_t words);

/* Statistics (malloc_stats, mallinfo2, malloc_info; arena_core.c): one walk
   of the radix map with every arena locked. Bytes unless named otherwise. */
typedef struct arena_stats_s {
  size_t small_chunks, large_chunks;  /* chunks in use by arenas (spares not included) */
  size_t spare_chunks;                /* the arenas' chunk caches */
  size_t small_used;                  /* allocated small slots (thread-cached ones too) */
  size_t small_free;                  /* free slots of partial slabs */
  size_t empty_slabs, uncarved_slabs; /* counts, 64 KiB each */
  size_t large_used;                  /* allocated spans, headers excluded */
  size_t large_free, free_spans;      /* free spans: bytes (headers excluded), count */
  size_t huge_bytes, huge_count;      /* live huge allocations */
  size_t dirty;                       /* freed chunk memory the pools have not purged */
  size_t active, meta;                /* heap counters: chunks handed out, metadata mapped */
  uint64_t purges, purged_bytes;
} arena_stats_t;
void arena_heap_stats(arena_heap_t *h, arena_stats_t *st);
/* malloc_trim: give the OS back the pages of every free part of the heap
   (MADV_DONTNEED, so RSS falls at once): the arenas' spare chunks, empty
   slabs, the inside of free spans, and the pools' free extents, except the
   newest `pad` bytes of dirty chunk memory. Returns the bytes that were
   resident (mincore) before. */
size_t arena_heap_trim(arena_heap_t *h, size_t pad);
/* Misuse detected (checked mode, or a large/huge double free): print, abort. */
_Noreturn void arena_misuse(const char *what, const void *p);
/* Whole-heap check (all arenas, slabs, spans, pools); takes every lock. */
bool arena_heap_is_valid(arena_heap_t *h);

#endif
