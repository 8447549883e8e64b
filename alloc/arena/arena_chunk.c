/* ----------------------------------------------------------------------------
  alloc/arena/arena_chunk.c: the chunk layer of the arena allocator. Chunks
  are 4 MiB (ARENA_CHUNK_SHIFT) and naturally aligned; every small and large
  chunk and every huge allocation is a run of them.

  Address space: a large range is reserved up front (opts.reserve, 64 GiB by
  default, halved until the kernel agrees) and split into one partition per
  pool, a pool per core (opts.npools). A pool hands out chunks first from its
  free extents (address-ordered best fit: a (size, addr) tree; an (addr) tree
  finds neighbours to coalesce), then by bumping through its untouched
  partition. Only when that runs out does it fall back to the global pool,
  which maps fresh chunk-aligned memory beyond the reservation. So on 64-bit
  no global lock is on the path while partitions last. When overcommit is
  allowed the reservation is mapped read-write with MAP_NORESERVE (no
  syscall per chunk); with overcommit off (vm.overcommit_memory=2) it is
  PROT_NONE and chunks are made accessible as they are handed out.

  Extents are side metadata (arena_extent_t from arena_meta_alloc, recycled
  per pool), because a free extent's memory may be purged or PROT_NONE.

  Purging: a freed extent is dirty; dirty extents are kept in FIFO order.
  After a free, while the pool's dirty bytes exceed both opts.dirty_min and
  active >> opts.lg_dirty (jemalloc's old lg_dirty_mult; active = chunks
  handed out by the whole heap), the oldest dirty extent is purged with
  MADV_FREE (MADV_DONTNEED where the kernel lacks it) and, in PROT_NONE mode,
  made PROT_NONE so its commit charge is dropped. Coalescing a dirty extent
  with a clean one makes the whole extent dirty (overcounting only makes the
  next purge come sooner; purging clean pages again is harmless).

  The radix map (chunk number -> type and huge size) finds any chunk's
  metadata in O(1): two levels over 47-bit addresses, leaves created on
  demand.
---------------------------------------------------------------------------- */
#include "alloc/arena/arena.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_FREE
#define MADV_FREE 8
#endif

#define ARENA_META_BLOCK ((size_t)1 << 20)

/* A mapping made by the global pool or for metadata, unmapped at destroy. */
typedef struct arena_mapping_s {
  struct arena_mapping_s *next;
  void *addr;
  size_t size;
} arena_mapping_t;

/* Kept in the heap's meta area: list heads for destroy. */
static arena_mapping_t **arena_mappings(arena_heap_t *h);

/* ---- metadata: bump from 1 MiB mmaps, never freed until destroy ---- */

/* Each block starts with its own arena_mapping_t record (64 bytes). */
static void *arena_meta_alloc_locked(arena_heap_t *h, size_t size) {
  size = (size + 63) & ~(size_t)63;
  if ((size_t)(h->meta_end - h->meta_bump) < size) {
    size_t block =
        size + 64 > ARENA_META_BLOCK ? ((size + 64 + 4095) & ~(size_t)4095) : ARENA_META_BLOCK;
    char *m = mmap(NULL, block, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return NULL;
    arena_mapping_t *rec = (arena_mapping_t *)m;
    arena_mapping_t **head = arena_mappings(h);
    rec->addr = m;
    rec->size = block;
    rec->next = head[0];
    head[0] = rec;
    atomic_fetch_add_explicit(&h->meta_bytes, block, memory_order_relaxed);
    h->meta_bump = m + 64;
    h->meta_end = m + block;
  }
  void *p = h->meta_bump;
  h->meta_bump += size;
  return p;
}

/* Two list heads (meta blocks, global-pool maps) sit right behind the pools
   array (see arena_chunk_init), so the heap struct need not know them. */
static arena_mapping_t **arena_mappings(arena_heap_t *h) {
  return (arena_mapping_t **)&h->pools[h->opts.npools + 1];
}

void *arena_meta_alloc(arena_heap_t *h, size_t size) {
  pthread_mutex_lock(&h->meta_lock);
  void *p = arena_meta_alloc_locked(h, size);
  pthread_mutex_unlock(&h->meta_lock);
  return p;
}

/* ---- radix map ---- */

uint64_t arena_radix_get(arena_heap_t *h, const void *chunk) {
  uintptr_t cn = (uintptr_t)chunk >> ARENA_CHUNK_SHIFT;
  uintptr_t top = cn >> ARENA_RADIX_LEAF_BITS;
  if (top >= sizeof h->radix / sizeof h->radix[0]) return 0;
  _Atomic uint64_t *leaf = atomic_load_explicit(&h->radix[top], memory_order_acquire);
  if (!leaf) return 0;
  return atomic_load_explicit(&leaf[cn & ((1u << ARENA_RADIX_LEAF_BITS) - 1)],
                              memory_order_acquire);
}

void arena_radix_set(arena_heap_t *h, const void *chunk, uint64_t v) {
  uintptr_t cn = (uintptr_t)chunk >> ARENA_CHUNK_SHIFT;
  uintptr_t top = cn >> ARENA_RADIX_LEAF_BITS;
  if (top >= sizeof h->radix / sizeof h->radix[0]) arena_misuse("address beyond 47 bits", chunk);
  _Atomic uint64_t *leaf = atomic_load_explicit(&h->radix[top], memory_order_acquire);
  if (!leaf) {
    pthread_mutex_lock(&h->meta_lock);
    leaf = atomic_load_explicit(&h->radix[top], memory_order_acquire);
    if (!leaf) {
      leaf = arena_meta_alloc_locked(h, sizeof(uint64_t) << ARENA_RADIX_LEAF_BITS);
      if (!leaf) arena_misuse("out of memory for the radix map", chunk);
      atomic_store_explicit(&h->radix[top], leaf, memory_order_release);
    }
    pthread_mutex_unlock(&h->meta_lock);
  }
  atomic_store_explicit(&leaf[cn & ((1u << ARENA_RADIX_LEAF_BITS) - 1)], v, memory_order_release);
}

/* ---- extents and pools ---- */

#define EXT_OF_SIZE(n) ((arena_extent_t *)((char *)(n)-offsetof(arena_extent_t, by_size)))
#define EXT_OF_ADDR(n) ((arena_extent_t *)((char *)(n)-offsetof(arena_extent_t, by_addr)))

static int arena_ext_cmp_size(const arena_tnode_t *a, const arena_tnode_t *b) {
  const arena_extent_t *x = EXT_OF_SIZE(a), *y = EXT_OF_SIZE(b);
  if (x->size != y->size) return x->size < y->size ? -1 : 1;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int arena_ext_cmp_addr(const arena_tnode_t *a, const arena_tnode_t *b) {
  const arena_extent_t *x = EXT_OF_ADDR(a), *y = EXT_OF_ADDR(b);
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static arena_extent_t *arena_ext_new(arena_heap_t *h, arena_pool_t *p) {
  arena_extent_t *e = p->spare_nodes;
  if (e) {
    p->spare_nodes = e->dirty_next;
  } else {
    e = arena_meta_alloc(h, sizeof *e);
    if (!e) return NULL;
  }
  memset(e, 0, sizeof *e);
  return e;
}

static void arena_ext_recycle(arena_pool_t *p, arena_extent_t *e) {
  e->dirty_next = p->spare_nodes;
  p->spare_nodes = e;
}

static void arena_dirty_unlink(arena_pool_t *p, arena_extent_t *e) {
  if (!e->dirty) return;
  if (e->dirty_prev)
    e->dirty_prev->dirty_next = e->dirty_next;
  else
    p->dirty_head = e->dirty_next;
  if (e->dirty_next)
    e->dirty_next->dirty_prev = e->dirty_prev;
  else
    p->dirty_tail = e->dirty_prev;
  e->dirty_prev = e->dirty_next = NULL;
  p->dirty_bytes -= e->size;
  e->dirty = false;
}

static void arena_dirty_append(arena_pool_t *p, arena_extent_t *e) {
  e->dirty = true;
  e->dirty_next = NULL;
  e->dirty_prev = p->dirty_tail;
  if (p->dirty_tail)
    p->dirty_tail->dirty_next = e;
  else
    p->dirty_head = e;
  p->dirty_tail = e;
  p->dirty_bytes += e->size;
}

/* Insert a free extent into both trees (and the dirty FIFO when dirty). */
static void arena_ext_insert(arena_pool_t *p, arena_extent_t *e, bool dirty) {
  arena_tree_insert(&p->by_size, &e->by_size);
  arena_tree_insert(&p->by_addr, &e->by_addr);
  e->dirty = false;
  if (dirty) arena_dirty_append(p, e);
}

static void arena_ext_remove(arena_pool_t *p, arena_extent_t *e) {
  arena_tree_remove(&p->by_size, &e->by_size);
  arena_tree_remove(&p->by_addr, &e->by_addr);
  arena_dirty_unlink(p, e);
}

static unsigned arena_pool_of(arena_heap_t *h, const void *addr) {
  const char *a = addr;
  if (h->reserve_base && a >= h->reserve_base && a < h->reserve_base + h->reserve_size)
    return (unsigned)((size_t)(a - h->reserve_base) / h->part_size);
  return h->opts.npools; /* global */
}

static void arena_purge_extent(arena_heap_t *h, arena_extent_t *e) {
  if (!h->opts.purge) return;
  if (h->use_madv_free) {
    if (madvise(e->addr, e->size, MADV_FREE) != 0) {
      h->use_madv_free = false; /* kernel without MADV_FREE (EINVAL): from now on DONTNEED */
    }
  }
  if (!h->use_madv_free) madvise(e->addr, e->size, MADV_DONTNEED);
  if (h->opts.prot_none == 1) mprotect(e->addr, e->size, PROT_NONE);
  atomic_fetch_add_explicit(&h->purges, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->purged_bytes, e->size, memory_order_relaxed);
}

/* Merge e (in no tree) with the free extents touching it. Same dirtiness
   always merges. A dirty e swallows a clean neighbour no bigger than itself
   (the result is dirty: at most double counting); a clean neighbour bigger
   than e stays apart, so a small freed chunk never makes a large purged
   extent count as dirty again. A clean e (just purged) merges only with
   clean neighbours. */
static void arena_ext_coalesce(arena_pool_t *p, arena_extent_t *e) {
  arena_extent_t probe = {.addr = e->addr};
  arena_tnode_t *pn = arena_tree_predecessor(&p->by_addr, &probe.by_addr);
  if (pn) {
    arena_extent_t *pe = EXT_OF_ADDR(pn);
    if (pe->addr + pe->size == e->addr &&
        (pe->dirty == e->dirty || (e->dirty && pe->size <= e->size))) {
      arena_ext_remove(p, pe);
      e->addr = pe->addr;
      e->size += pe->size;
      arena_ext_recycle(p, pe);
    }
  }
  probe.addr = e->addr + e->size;
  arena_tnode_t *sn = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
  if (sn) {
    arena_extent_t *se = EXT_OF_ADDR(sn);
    if (se->addr == e->addr + e->size &&
        (se->dirty == e->dirty || (e->dirty && se->size <= e->size))) {
      arena_ext_remove(p, se);
      e->size += se->size;
      arena_ext_recycle(p, se);
    }
  }
}

static void arena_pool_maybe_purge(arena_heap_t *h, arena_pool_t *p) {
  if (!h->opts.purge) return;
  size_t active = atomic_load_explicit(&h->active_bytes, memory_order_relaxed);
  while (p->dirty_head && p->dirty_bytes > h->opts.dirty_min &&
         p->dirty_bytes > (active >> h->opts.lg_dirty)) {
    arena_extent_t *e = p->dirty_head;
    arena_ext_remove(p, e);
    arena_purge_extent(h, e);
    arena_ext_coalesce(p, e); /* now clean: joins clean neighbours */
    arena_ext_insert(p, e, false);
  }
}

void arena_pool_purge_all(arena_heap_t *h) {
  for (unsigned i = 0; i <= h->opts.npools; i++) {
    arena_pool_t *p = &h->pools[i];
    pthread_mutex_lock(&p->lock);
    while (p->dirty_head) {
      arena_extent_t *e = p->dirty_head;
      arena_dirty_unlink(p, e);
      arena_purge_extent(h, e);
    }
    pthread_mutex_unlock(&p->lock);
  }
}

size_t arena_pool_dirty(arena_heap_t *h) {
  size_t d = 0;
  for (unsigned i = 0; i <= h->opts.npools; i++) {
    pthread_mutex_lock(&h->pools[i].lock);
    d += h->pools[i].dirty_bytes;
    pthread_mutex_unlock(&h->pools[i].lock);
  }
  return d;
}

static inline char *arena_align_up(char *a, size_t align) {
  return (char *)(((uintptr_t)a + align - 1) & ~(uintptr_t)(align - 1));
}

/* Take [b, b+size) out of free extent e, putting what is left back. */
static bool arena_ext_carve(arena_heap_t *h, arena_pool_t *p, arena_extent_t *e, char *b,
                            size_t size, bool *zeroed) {
  bool dirty = e->dirty;
  arena_ext_remove(p, e);
  char *ea = e->addr, *ee = e->addr + e->size;
  arena_extent_t *tail = NULL;
  if (b + size < ee) {
    tail = arena_ext_new(h, p);
    if (!tail) { /* put it back whole: the caller fails with ENOMEM */
      arena_ext_insert(p, e, dirty);
      return false;
    }
  }
  if (b > ea) {
    e->size = (size_t)(b - ea);
    arena_ext_insert(p, e, dirty);
  } else {
    arena_ext_recycle(p, e);
  }
  if (tail) {
    tail->addr = b + size;
    tail->size = (size_t)(ee - (b + size));
    arena_ext_insert(p, tail, dirty);
  }
  *zeroed = false; /* purged memory (MADV_FREE) need not read back as zero */
  return true;
}

static void *arena_pool_take(arena_heap_t *h, arena_pool_t *p, size_t size, size_t align,
                             bool *zeroed) {
  arena_extent_t probe = {.size = size + (align - ARENA_CHUNK), .addr = NULL};
  arena_tnode_t *n = arena_tree_lower_bound(&p->by_size, &probe.by_size);
  if (n) {
    arena_extent_t *e = EXT_OF_SIZE(n);
    char *b = arena_align_up(e->addr, align);
    if (arena_ext_carve(h, p, e, b, size, zeroed)) return b;
    return NULL;
  }
  if (p->bump) {
    char *b = arena_align_up(p->bump, align);
    if (b <= p->end && (size_t)(p->end - b) >= size) {
      if (b > p->bump) { /* an alignment gap: a clean free extent */
        arena_extent_t *gap = arena_ext_new(h, p);
        if (!gap) return NULL;
        gap->addr = p->bump;
        gap->size = (size_t)(b - p->bump);
        arena_ext_insert(p, gap, false);
      }
      p->bump = b + size;
      *zeroed = true;
      return b;
    }
  }
  if (p->global) {
    size_t len = size + align; /* room to align to the chunk size (or more) */
    char *m =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    char *b = arena_align_up(m, align);
    if (b > m) munmap(m, (size_t)(b - m));
    if (b + size < m + len) munmap(b + size, (size_t)(m + len - (b + size)));
    arena_mapping_t *rec = arena_meta_alloc(h, sizeof *rec);
    if (!rec) {
      munmap(b, size);
      return NULL;
    }
    rec->addr = b;
    rec->size = size;
    pthread_mutex_lock(&h->meta_lock);
    arena_mapping_t **heads = arena_mappings(h);
    rec->next = heads[1];
    heads[1] = rec;
    pthread_mutex_unlock(&h->meta_lock);
    *zeroed = true;
    return b;
  }
  return NULL;
}

void *arena_chunk_alloc(arena_heap_t *h, unsigned pool, size_t size, size_t align, bool *zeroed) {
  if (align < ARENA_CHUNK) align = ARENA_CHUNK;
  /* sizes and alignments are bounded before anything is rounded or added */
  if (size == 0 || size > ARENA_SIZE_LIMIT || align > ((size_t)1 << 40)) return NULL;
  size = (size + ARENA_CHUNK_MASK) & ~ARENA_CHUNK_MASK;
  void *r = NULL;
  unsigned idx = pool % h->opts.npools;
  for (int pass = 0; pass < 2 && !r; pass++) {
    arena_pool_t *p = &h->pools[pass == 0 ? idx : h->opts.npools];
    pthread_mutex_lock(&p->lock);
    r = arena_pool_take(h, p, size, align, zeroed);
    pthread_mutex_unlock(&p->lock);
  }
  if (!r) return NULL;
  if (h->opts.prot_none == 1 && mprotect(r, size, PROT_READ | PROT_WRITE) != 0) {
    arena_chunk_free(h, r, size);
    return NULL;
  }
  atomic_fetch_add_explicit(&h->active_bytes, size, memory_order_relaxed);
  return r;
}

void arena_chunk_free(arena_heap_t *h, void *addr, size_t size) {
  arena_pool_t *p = &h->pools[arena_pool_of(h, addr)];
  atomic_fetch_sub_explicit(&h->active_bytes, size, memory_order_relaxed);
  pthread_mutex_lock(&p->lock);
  arena_extent_t *e = arena_ext_new(h, p);
  if (!e) { /* no metadata: the chunks are lost, never corrupted */
    pthread_mutex_unlock(&p->lock);
    return;
  }
  e->addr = addr;
  e->size = size;
  e->dirty = true;
  arena_ext_coalesce(p, e);
  arena_ext_insert(p, e, true);
  arena_pool_maybe_purge(h, p);
  pthread_mutex_unlock(&p->lock);
}

bool arena_chunk_grow(arena_heap_t *h, void *addr, size_t old, size_t new_size) {
  unsigned pi = arena_pool_of(h, addr);
  arena_pool_t *p = &h->pools[pi];
  size_t need = new_size - old;
  char *at = (char *)addr + old;
  bool ok = false, zeroed;
  pthread_mutex_lock(&p->lock);
  arena_extent_t probe = {.addr = at};
  arena_tnode_t *sn = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
  if (sn && EXT_OF_ADDR(sn)->addr == at && EXT_OF_ADDR(sn)->size >= need) {
    ok = arena_ext_carve(h, p, EXT_OF_ADDR(sn), at, need, &zeroed);
  } else if (p->bump == at && (size_t)(p->end - at) >= need) {
    p->bump = at + need;
    ok = true;
  }
  pthread_mutex_unlock(&p->lock);
  if (ok && h->opts.prot_none == 1 && mprotect(at, need, PROT_READ | PROT_WRITE) != 0) {
    arena_chunk_free(h, at, need);
    return false;
  }
  if (ok) atomic_fetch_add_explicit(&h->active_bytes, need, memory_order_relaxed);
  return ok;
}

bool arena_pool_is_valid(arena_heap_t *h, unsigned pool) {
  arena_pool_t *p = &h->pools[pool];
  pthread_mutex_lock(&p->lock);
  bool ok = arena_tree_is_valid(&p->by_size) && arena_tree_is_valid(&p->by_addr) &&
            p->by_size.count == p->by_addr.count;
  /* address order: no two extents overlap or touch (touching ones coalesce
     on free; only carve remainders and bump gaps may touch, never overlap) */
  char *last_end = NULL;
  arena_extent_t probe = {.addr = NULL};
  arena_tnode_t *n = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
  size_t dirty = 0;
  while (ok && n) {
    arena_extent_t *e = EXT_OF_ADDR(n);
    if (e->size == 0 || (e->size & ARENA_CHUNK_MASK) || ((uintptr_t)e->addr & ARENA_CHUNK_MASK))
      ok = false;
    if (last_end && e->addr < last_end) ok = false;
    if (e->dirty) dirty += e->size;
    last_end = e->addr + e->size;
    probe.addr = last_end;
    n = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
  }
  size_t fifo = 0;
  for (arena_extent_t *e = p->dirty_head; e; e = e->dirty_next) fifo += e->size;
  if (dirty != p->dirty_bytes || fifo != dirty) ok = false;
  pthread_mutex_unlock(&p->lock);
  return ok;
}

/* ---- setup ---- */

/* vm.overcommit_memory, read with plain syscalls (no stdio: no malloc). */
static int arena_read_overcommit(void) {
  int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char c = '0';
  ssize_t r = read(fd, &c, 1);
  close(fd);
  return r == 1 && c >= '0' && c <= '9' ? c - '0' : 0;
}

int arena_chunk_init(arena_heap_t *h) {
  unsigned np = h->opts.npools;
  /* pools[0..np] plus two list heads (meta blocks, global maps) behind them */
  size_t psize = (np + 1) * sizeof(arena_pool_t) + 2 * sizeof(void *);
  size_t plen = (psize + 4095) & ~(size_t)4095;
  void *pm = mmap(NULL, plen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pm == MAP_FAILED) return ENOMEM;
  h->pools = pm;
  if (h->opts.prot_none < 0) h->opts.prot_none = arena_read_overcommit() == 2;
  h->use_madv_free = true;
  for (unsigned i = 0; i <= np; i++) {
    arena_pool_t *p = &h->pools[i];
    pthread_mutex_init(&p->lock, NULL);
    arena_tree_init(&p->by_size, arena_ext_cmp_size);
    arena_tree_init(&p->by_addr, arena_ext_cmp_addr);
    p->global = i == np;
  }
  /* reserve, halving down to 1 GiB; without it the global pool serves all */
  size_t want = h->opts.reserve & ~ARENA_CHUNK_MASK;
  int prot = h->opts.prot_none == 1 ? PROT_NONE : PROT_READ | PROT_WRITE;
  while (want >= ((size_t)1 << 30) && want >= (size_t)np * ARENA_CHUNK) {
    char *m =
        mmap(NULL, want + ARENA_CHUNK, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m != MAP_FAILED) {
      char *b = arena_align_up(m, ARENA_CHUNK);
      if (b > m) munmap(m, (size_t)(b - m));
      if (b + want < m + want + ARENA_CHUNK)
        munmap(b + want, (size_t)(m + want + ARENA_CHUNK - (b + want)));
      h->reserve_base = b;
      h->reserve_size = want;
      h->part_size = (want / np) & ~ARENA_CHUNK_MASK;
      for (unsigned i = 0; i < np; i++) {
        h->pools[i].bump = b + (size_t)i * h->part_size;
        h->pools[i].end = h->pools[i].bump + h->part_size;
      }
      break;
    }
    want /= 2;
  }
  return 0;
}

void arena_chunk_done(arena_heap_t *h) {
  if (!h->pools) return;
  arena_mapping_t **heads = arena_mappings(h);
  for (arena_mapping_t *m = heads[1], *next; m; m = next) {
    next = m->next;
    munmap(m->addr, m->size);
  }
  if (h->reserve_base) munmap(h->reserve_base, h->reserve_size);
  size_t psize = (h->opts.npools + 1) * sizeof(arena_pool_t) + 2 * sizeof(void *);
  arena_mapping_t *meta = heads[0];
  munmap(h->pools, (psize + 4095) & ~(size_t)4095);
  h->pools = NULL;
  for (arena_mapping_t *m = meta, *next; m; m = next) {
    next = m->next;
    munmap(m->addr, m->size);
  }
}
