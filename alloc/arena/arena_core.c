/* ----------------------------------------------------------------------------
  alloc/arena/arena_core.c: the arena allocator's core (seed 004): arenas,
  small slabs and bins, large spans with headers and coalescing, huge chunk
  spans, and the per-thread cache in front of it all.

  Classes: small (<= 14336 bytes, 51 classes) come from 64 KiB slabs inside
  small chunks; large (<= a chunk less its headers) are spans inside large
  chunks; huge are chunk-aligned runs of chunks. A chunk-aligned pointer is
  therefore huge, and any other pointer finds its chunk header by masking:
  O(1) metadata for every class (huge sizes are in the radix map).

  Arenas: opts.narenas of them (4 per CPU by default), each with one mutex.
  A thread cache asks for arena (core + shift) % narenas; when its trylock
  fails the cache moves on to the next arena and remembers the move (shift),
  as the seed re-chooses on contention. Frees go to the arena that owns the
  chunk (its header says which).

  Thread cache: per bin a LIFO list through the freed objects themselves;
  alloc pops, free pushes, neither locks. An empty bin is refilled from the
  arena with a batch; a bin holding more than 16 KiB is flushed down to its
  8 KiB most recently freed objects (the older ones go back to their slabs).

  Misuse (documented in README.md) aborts with a message (arena_misuse),
  never through assert, in every mode: a large free or realloc must find a
  live large chunk in the radix map and a live span's cookie in the header
  (so every large double free, interior and misaligned pointer), a huge one
  a live huge entry; a small free must find a slab with a bin (one compare
  on the fast path: not slab 0, not an empty slab), and the slot-start and
  slab-state checks run when the object goes back to its slab. Sizes are
  bounded (ARENA_SIZE_LIMIT) before they are rounded, so no rounding wraps.
  In checked mode (opts.checked) the thread cache is off and every free is
  validated: the pointer must be a live object start of this heap (radix
  map, slab geometry, a per-slot allocation bitmap, a span walk), else
  abort.
---------------------------------------------------------------------------- */
#include "alloc/arena/arena.h"
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef ARENA_DEBUG
#define ARENA_ASSERT_VALID(h)                                                                      \
  do {                                                                                             \
    if (!arena_heap_is_valid(h)) arena_misuse("heap invariant broken", NULL);                      \
  } while (0)
#else
#define ARENA_ASSERT_VALID(h) ((void)0)
#endif

_Noreturn void arena_misuse(const char *what, const void *p) {
  char buf[160];
  int n = snprintf(buf, sizeof buf, "arena: %s (pointer %p); aborting\n", what, p);
  if (n > 0) {
    ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
  }
  abort();
}

_Static_assert(sizeof(arena_schunk_t) <= ARENA_SLAB, "small chunk header must fit in slab 0");
_Static_assert(sizeof(arena_span_t) == ARENA_SPAN_HDR, "span header is 4 pointers");
_Static_assert(sizeof(arena_chunk_t) <= ARENA_LCHUNK_HDR, "large chunk header too big");

/* ---- size classes ---- */

size_t arena_bin_size(unsigned bin) {
  if (bin < ARENA_NBINS_16) return (size_t)(bin + 1) * 16;
  unsigned g = (bin - ARENA_NBINS_16) / 4, q = (bin - ARENA_NBINS_16) % 4;
  unsigned lg = 9 + g;
  return ((size_t)1 << lg) + (size_t)(q + 1) * ((size_t)1 << (lg - 2));
}

int arena_bin_of(size_t size) {
  if (size <= 512) return size == 0 ? 0 : (int)((size + 15) >> 4) - 1;
  if (size > ARENA_SMALL_MAX) return -1;
  size_t x = size - 1;
  unsigned lg = 63u - (unsigned)__builtin_clzll(x);
  unsigned q = (unsigned)(x >> (lg - 2)) & 3u;
  return (int)(ARENA_NBINS_16 + (lg - 9) * 4 + q);
}

/* off / size for off < 2^16 and size < 2^16 as a multiply: with magic =
   floor(2^32 / size) + 1, (off * magic) >> 32 is exact (the error,
   off * (magic - 2^32 / size) / 2^32 < 2^-16, stays under 1 / size). One
   entry per bin, in arena_bin_size's order (checked at heap creation in
   builds with assert). */
#define ARENA_DIV_MAGIC(size) ((uint32_t)(((uint64_t)1 << 32) / (size) + 1))
#define ARENA_DIV_MAGIC16(k)                                                                       \
  ARENA_DIV_MAGIC(16 * (k)), ARENA_DIV_MAGIC(16 * ((k) + 1)), ARENA_DIV_MAGIC(16 * ((k) + 2)),     \
      ARENA_DIV_MAGIC(16 * ((k) + 3))
#define ARENA_DIV_MAGIC_GROUP(lg)                                                                  \
  ARENA_DIV_MAGIC(5u << ((lg)-2)), ARENA_DIV_MAGIC(6u << ((lg)-2)),                                \
      ARENA_DIV_MAGIC(7u << ((lg)-2)), ARENA_DIV_MAGIC(8u << ((lg)-2))
static const uint32_t arena_bin_magic[ARENA_NBINS] = {
    ARENA_DIV_MAGIC16(1),      ARENA_DIV_MAGIC16(5),      ARENA_DIV_MAGIC16(9),
    ARENA_DIV_MAGIC16(13),     ARENA_DIV_MAGIC16(17),     ARENA_DIV_MAGIC16(21),
    ARENA_DIV_MAGIC16(25),     ARENA_DIV_MAGIC16(29),     ARENA_DIV_MAGIC_GROUP(9),
    ARENA_DIV_MAGIC_GROUP(10), ARENA_DIV_MAGIC_GROUP(11), ARENA_DIV_MAGIC_GROUP(12),
    ARENA_DIV_MAGIC(5u << 11), ARENA_DIV_MAGIC(6u << 11), ARENA_DIV_MAGIC(7u << 11)};

/* ---- options, heap ---- */

/* CPUs the machine can have, without malloc (sysconf may opendir, and this
   code may *be* malloc): /sys/devices/system/cpu/possible ("0-N"), else the
   affinity mask. */
static long arena_ncpu(void) {
  long n = 0;
  int fd = open("/sys/devices/system/cpu/possible", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[64];
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r > 0) {
      buf[r] = 0;
      const char *dash = strrchr(buf, '-');
      n = dash ? strtol(dash + 1, NULL, 10) + 1 : strtol(buf, NULL, 10) + 1;
    }
  }
  if (n < 1) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  }
  return n < 1 ? 1 : n > 256 ? 256 : n;
}

/* The options (alloc/options.h; README.md): one table for the `arena`
   allocator and for libhlarena.so's HLARENA_OPTIONS. */
static const hl_opt_t arena_opts[] = {
    {.name = "reserve",
     .kind = HL_OPT_SIZE,
     .max = SIZE_MAX,
     HL_OPT_FIELD(arena_opts_t, reserve),
     .help = "address space reserved up front, in whole chunks (default 64G; 0: none)"},
    {.name = "arenas",
     .kind = HL_OPT_UINT,
     .min = 1,
     .max = 1024,
     HL_OPT_FIELD(arena_opts_t, narenas),
     .help = "arenas, each with its lock (default 4 per CPU)"},
    {.name = "pools",
     .kind = HL_OPT_UINT,
     .min = 1,
     .max = 256,
     HL_OPT_FIELD(arena_opts_t, npools),
     .help = "partitions of the reservation (default one per CPU)"},
    {.name = "dirty_min",
     .kind = HL_OPT_SIZE,
     .max = SIZE_MAX,
     HL_OPT_FIELD(arena_opts_t, dirty_min),
     .help = "dirty chunk memory always kept per pool (default 0)"},
    {.name = "lg_dirty",
     .kind = HL_OPT_UINT,
     .max = 30,
     HL_OPT_FIELD(arena_opts_t, lg_dirty),
     .help = "purge while dirty > active >> lg_dirty (default 3)"},
    {.name = "purge",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(arena_opts_t, purge),
     .help = "0: never madvise dirty chunks away (default 1)"},
    {.name = "checked",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(arena_opts_t, checked),
     .help = "validate every free and realloc, abort on misuse; no thread cache (default 0)"},
    {.name = "prot_none",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(arena_opts_t, prot_none),
     .help = "PROT_NONE purged chunks (default: 1 when vm.overcommit_memory is 2)"},
};

const hl_opt_table_t arena_opt_table = {
    .name = "arena", .opts = arena_opts, .count = sizeof arena_opts / sizeof arena_opts[0]};

int arena_opts_parse(arena_opts_t *o, const char *s, char *err, size_t errlen) {
  long ncpu = arena_ncpu();
  *o = (arena_opts_t){.reserve = (size_t)64 << 30,
                      .narenas = (unsigned)(4 * ncpu),
                      .npools = (unsigned)ncpu,
                      .dirty_min = 0, /* the ratio alone: kept dirty chunks showed in peak RSS */
                      .lg_dirty = 3,
                      .purge = true,
                      .checked = false,
                      .prot_none = -1};
  return hl_opt_parse(&arena_opt_table, s, o, err, errlen);
}

static int arena_span_cmp(const arena_tnode_t *a, const arena_tnode_t *b);

arena_heap_t *arena_heap_create(const arena_opts_t *opts) {
  size_t hlen = (sizeof(arena_heap_t) + 4095) & ~(size_t)4095;
  arena_heap_t *h = mmap(NULL, hlen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (h == MAP_FAILED) {
    errno = ENOMEM;
    return NULL;
  }
  h->opts = *opts;
  for (unsigned b = 0; b < ARENA_NBINS; b++)
    assert(arena_bin_magic[b] == ARENA_DIV_MAGIC(arena_bin_size(b)));
  pthread_mutex_init(&h->meta_lock, NULL);
  if (arena_chunk_init(h) != 0) {
    munmap(h, hlen);
    errno = ENOMEM;
    return NULL;
  }
  h->arenas = arena_meta_alloc(h, sizeof(arena_arena_t) * h->opts.narenas);
  if (!h->arenas) {
    arena_heap_destroy(h);
    errno = ENOMEM;
    return NULL;
  }
  for (unsigned i = 0; i < h->opts.narenas; i++) {
    arena_arena_t *a = &h->arenas[i];
    pthread_mutex_init(&a->lock, NULL);
    a->index = i;
    arena_tree_init(&a->spans, arena_span_cmp);
  }
  return h;
}

void arena_heap_destroy(arena_heap_t *h) {
  if (h->arenas)
    for (unsigned i = 0; i < h->opts.narenas; i++) pthread_mutex_destroy(&h->arenas[i].lock);
  arena_chunk_done(h);
  munmap(h, (sizeof(arena_heap_t) + 4095) & ~(size_t)4095);
}

/* ---- arena choice ---- */

static arena_arena_t *arena_lock_for(arena_heap_t *h, arena_tcache_t *tc) {
  unsigned n = h->opts.narenas;
  unsigned first = (tc->core + tc->shift) % n;
  for (unsigned i = 0; i < n; i++) {
    unsigned idx = (first + i) % n;
    if (pthread_mutex_trylock(&h->arenas[idx].lock) == 0) {
      if (i) tc->shift = (tc->shift + i) % n; /* contention: prefer this one from now on */
      return &h->arenas[idx];
    }
  }
  pthread_mutex_lock(&h->arenas[first].lock);
  return &h->arenas[first];
}

/* ---- chunks owned by arenas ---- */

static void arena_chunk_release(arena_heap_t *h, arena_arena_t *a, arena_chunk_t *c) {
  arena_radix_set(h, c, 0);
  arena_chunk_t *old = a->spare;
  a->spare = c;
  if (old) arena_chunk_free(h, old, ARENA_CHUNK);
}

static arena_chunk_t *arena_chunk_get(arena_heap_t *h, arena_arena_t *a, bool small) {
  arena_chunk_t *c = a->spare;
  bool zeroed = false;
  if (c) {
    a->spare = NULL;
  } else {
    c = arena_chunk_alloc(h, a->index % h->opts.npools, ARENA_CHUNK, ARENA_CHUNK, &zeroed);
    if (!c) return NULL;
  }
  size_t hdr = small ? offsetof(arena_schunk_t, bits) : sizeof(arena_chunk_t);
  if (!zeroed) memset(c, 0, hdr);
  if (small && h->opts.checked && !zeroed)
    memset(((arena_schunk_t *)c)->bits, 0, sizeof((arena_schunk_t *)c)->bits);
  c->arena = a;
  c->small = small;
  arena_radix_set(h, c, small ? ARENA_RT_SMALL : ARENA_RT_LARGE);
  return c;
}

/* ---- small ---- */

static inline arena_slab_t *arena_slab_of(const void *p, arena_schunk_t **chunk) {
  arena_schunk_t *c = (arena_schunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  *chunk = c;
  return &c->slabs[((uintptr_t)p & ARENA_CHUNK_MASK) >> ARENA_SLAB_SHIFT];
}

static inline char *arena_slab_base(arena_schunk_t *c, arena_slab_t *s) {
  return (char *)c + (size_t)(s - c->slabs) * ARENA_SLAB;
}

static void arena_list_push(arena_slab_t **head, arena_slab_t *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
}

static void arena_list_unlink(arena_slab_t **head, arena_slab_t *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = NULL;
}

/* A slab with a free slot for `bin`, or NULL (ENOMEM). Arena locked. */
static arena_slab_t *arena_slab_for(arena_heap_t *h, arena_arena_t *a, unsigned bin) {
  arena_slab_t *s = a->bins[bin].partial;
  if (s) return s;
  arena_schunk_t *c;
  if (a->empty) {
    s = a->empty;
    arena_list_unlink(&a->empty, s);
    c = (arena_schunk_t *)((uintptr_t)s & ~(uintptr_t)ARENA_CHUNK_MASK);
  } else {
    c = (arena_schunk_t *)a->small_chunks;
    if (!c) {
      c = (arena_schunk_t *)arena_chunk_get(h, a, true);
      if (!c) return NULL;
      for (unsigned i = 0; i < ARENA_SLABS; i++) c->slabs[i].bin = ARENA_NO_BIN;
      c->hdr.unused_slabs = ARENA_SLABS - 1;
      c->hdr.next = c->hdr.prev = NULL;
      a->small_chunks = &c->hdr;
    }
    s = &c->slabs[ARENA_SLABS - c->hdr.unused_slabs]; /* slab 0 is the header */
    if (--c->hdr.unused_slabs == 0) {                 /* fully carved: leaves the list */
      a->small_chunks = c->hdr.next;
      if (c->hdr.next) c->hdr.next->prev = NULL;
      c->hdr.next = NULL;
    }
  }
  size_t size = arena_bin_size(bin);
  s->bin = (uint8_t)bin;
  s->nslots = (uint16_t)(ARENA_SLAB / size);
  s->nfree = s->nslots;
  s->free = NULL;
  s->bump = arena_slab_base(c, s);
  s->state = ARENA_SLAB_PARTIAL;
  c->hdr.slabs_used++;
  arena_list_push(&a->bins[bin].partial, s);
  return s;
}

static inline void *arena_slab_take(arena_arena_t *a, arena_slab_t *s, unsigned bin) {
  assert(s->state == ARENA_SLAB_PARTIAL && s->nfree > 0 && s->bin == bin);
  void *p = s->free;
  if (p) {
    s->free = *(void **)p;
  } else {
    p = s->bump;
    s->bump += arena_bin_size(bin);
  }
  if (--s->nfree == 0) {
    arena_list_unlink(&a->bins[bin].partial, s);
    s->state = ARENA_SLAB_FULL;
  }
  return p;
}

static void arena_bitmap_mark(arena_heap_t *h, void *p, bool alloc) {
  arena_schunk_t *c;
  arena_slab_t *s = arena_slab_of(p, &c);
  size_t i = (size_t)((char *)p - arena_slab_base(c, s)) / arena_bin_size(s->bin);
  uint64_t bit = (uint64_t)1 << (i & 63);
  uint64_t *w = &c->bits[s - c->slabs][i >> 6];
  if (alloc) {
    *w |= bit;
  } else {
    if (!(*w & bit)) arena_misuse("double free (or free of a never-allocated slot)", p);
    *w &= ~bit;
  }
  (void)h;
}

/* Is the slab in use (its objects may be live)? Its state changes while
   objects are live, so only under the owner's lock (the lock-free free path
   reads `bin`, which does not: ARENA_NO_BIN). */
static inline bool arena_slab_in_use(const arena_slab_t *s) {
  return (unsigned)s->state - ARENA_SLAB_PARTIAL <= ARENA_SLAB_FULL - ARENA_SLAB_PARTIAL;
}

/* Is p a slot start of its slab (whose bin is valid)? Two multiplies: off
   the thread cache's path, on the slab's and on realloc's. */
static bool arena_small_is_start(const void *p) {
  arena_schunk_t *c;
  arena_slab_t *s = arena_slab_of(p, &c);
  uint32_t off = (uint32_t)((const char *)p - arena_slab_base(c, s));
  uint32_t q = (uint32_t)(((uint64_t)off * arena_bin_magic[s->bin]) >> 32);
  return q * (uint32_t)arena_bin_size(s->bin) == off && q < s->nslots;
}

/* Return an object to its slab. Arena (the chunk's owner) locked. Misuse
   that got past the thread cache is caught here, in every mode: a pointer
   that is not a slot start (an interior pointer), a slab that is not in use
   or whose slots are all free already (a double free). */
static void arena_small_free_locked(arena_heap_t *h, arena_arena_t *a, void *p) {
  arena_schunk_t *c;
  arena_slab_t *s = arena_slab_of(p, &c);
  if (!arena_slab_in_use(s) || s->bin >= ARENA_NBINS || s->nfree >= s->nslots)
    arena_misuse("double free of a small object, or free of a pointer into no live slab", p);
  if (!arena_small_is_start(p)) arena_misuse("free of a pointer that is not an object start", p);
  if (h->opts.checked) arena_bitmap_mark(h, p, false);
  *(void **)p = s->free;
  s->free = p;
  s->nfree++;
  if (s->state == ARENA_SLAB_FULL) {
    s->state = ARENA_SLAB_PARTIAL;
    arena_list_push(&a->bins[s->bin].partial, s);
  }
  if (s->nfree == s->nslots) {
    arena_list_unlink(&a->bins[s->bin].partial, s);
    s->state = ARENA_SLAB_EMPTY;
    s->bin = ARENA_NO_BIN;
    arena_list_push(&a->empty, s);
    if (--c->hdr.slabs_used == 0) {
      /* every carved slab is empty: the chunk goes (to the arena's spare) */
      for (unsigned i = 1; i < ARENA_SLABS; i++)
        if (c->slabs[i].state == ARENA_SLAB_EMPTY) arena_list_unlink(&a->empty, &c->slabs[i]);
      if (c->hdr.unused_slabs) { /* still on the list of chunks with uncarved slabs */
        if (c->hdr.prev)
          c->hdr.prev->next = c->hdr.next;
        else
          a->small_chunks = c->hdr.next;
        if (c->hdr.next) c->hdr.next->prev = c->hdr.prev;
      }
      arena_chunk_release(h, a, &c->hdr);
    }
  }
}

static unsigned arena_fill_count(unsigned bin) {
  size_t n = 4096 / arena_bin_size(bin);
  return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

/* Refill an empty cache bin; returns one object (not put in the bin). */
static void *arena_tcache_fill(arena_heap_t *h, arena_tcache_t *tc, unsigned bin) {
  arena_arena_t *a = arena_lock_for(h, tc);
  unsigned n = arena_fill_count(bin);
  arena_tbin_t *tb = &tc->bins[bin];
  void *first = NULL;
  for (unsigned i = 0; i < n; i++) {
    arena_slab_t *s = arena_slab_for(h, a, bin);
    if (!s) break;
    void *p = arena_slab_take(a, s, bin);
    if (!first) {
      first = p;
    } else {
      *(void **)p = tb->head;
      tb->head = p;
      tb->count++;
    }
  }
  pthread_mutex_unlock(&a->lock);
  return first;
}

/* Give back every object of `list` (linked through the first word). */
static void arena_return_list(arena_heap_t *h, void *list) {
  arena_arena_t *held = NULL;
  while (list) {
    void *p = list;
    list = *(void **)p;
    arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
    if (c->arena != held) {
      if (held) pthread_mutex_unlock(&held->lock);
      held = c->arena;
      pthread_mutex_lock(&held->lock);
    }
    arena_small_free_locked(h, held, p);
  }
  if (held) pthread_mutex_unlock(&held->lock);
}

static void arena_tcache_trim(arena_heap_t *h, arena_tbin_t *tb, unsigned bin) {
  unsigned keep = (unsigned)(ARENA_TCACHE_LOW / arena_bin_size(bin));
  if (keep == 0) keep = 1;
  void *p = tb->head;
  for (unsigned i = 1; i < keep; i++) p = *(void **)p;
  void *old = *(void **)p; /* the older objects, below the kept ones */
  *(void **)p = NULL;
  tb->count = keep;
  arena_return_list(h, old);
}

void arena_tcache_flush(arena_heap_t *h, arena_tcache_t *tc) {
  for (unsigned b = 0; b < ARENA_NBINS; b++) {
    void *list = tc->bins[b].head;
    tc->bins[b].head = NULL;
    tc->bins[b].count = 0;
    arena_return_list(h, list);
  }
}

arena_tcache_t *arena_tcache_create(arena_heap_t *h, unsigned core) {
  pthread_mutex_lock(&h->meta_lock);
  arena_tcache_t *tc = h->free_tcaches;
  if (tc) h->free_tcaches = tc->next_all;
  pthread_mutex_unlock(&h->meta_lock);
  if (!tc) tc = arena_meta_alloc(h, sizeof *tc);
  if (!tc) return NULL;
  memset(tc, 0, sizeof *tc);
  tc->core = core;
  tc->enabled = !h->opts.checked;
  return tc;
}

void arena_tcache_destroy(arena_heap_t *h, arena_tcache_t *tc) {
  arena_tcache_flush(h, tc);
  pthread_mutex_lock(&h->meta_lock);
  tc->next_all = h->free_tcaches;
  h->free_tcaches = tc;
  pthread_mutex_unlock(&h->meta_lock);
}

/* ---- large ---- */

#define SPAN_OF(n) ((arena_span_t *)((char *)(n)-offsetof(arena_span_t, node)))

/* A probe (a stack span with ARENA_SPAN_PROBE set) sorts before every span
   of its size, so a lower bound finds the lowest-addressed best fit. */
#define ARENA_SPAN_PROBE ((size_t)2)

static int arena_span_cmp(const arena_tnode_t *a, const arena_tnode_t *b) {
  const arena_span_t *x = SPAN_OF(a), *y = SPAN_OF(b);
  size_t xs = x->size_free & ~(size_t)31, ys = y->size_free & ~(size_t)31;
  if (xs != ys) return xs < ys ? -1 : 1;
  if (x->size_free & ARENA_SPAN_PROBE) return -1;
  if (y->size_free & ARENA_SPAN_PROBE) return 1;
  return x < y ? -1 : x > y;
}

static inline size_t arena_span_size(const arena_span_t *s) {
  return s->size_free & ~(size_t)31;
}

static inline arena_span_t *arena_span_next(arena_span_t *s) {
  char *n = (char *)s + arena_span_size(s);
  return ((uintptr_t)n & ARENA_CHUNK_MASK) == 0 ? NULL : (arena_span_t *)n;
}

static void arena_span_free_insert(arena_arena_t *a, arena_span_t *s, size_t size) {
  s->size_free = size | 1;
  arena_tree_insert(&a->spans, &s->node);
}

/* An allocated span's cookie, in node.left (unused while it is not in the
   tree): its address xor a constant whose top bits make it non-canonical, so
   no tree pointer equals it, and a header copied elsewhere does not match.
   Set when a span is carved for an allocation, cleared when it is freed (so
   a header swallowed by a free neighbour is stale, not live). */
#define ARENA_SPAN_COOKIE ((uintptr_t)0xa4e1f3c25d7b6e09ULL)

static inline void arena_span_set_live(arena_span_t *s) {
  s->node.left = (arena_tnode_t *)((uintptr_t)s ^ ARENA_SPAN_COOKIE);
}

static inline bool arena_span_is_live(const arena_span_t *s) {
  return (uintptr_t)s->node.left == ((uintptr_t)s ^ ARENA_SPAN_COOKIE) && !(s->size_free & 1);
}

/* Carve a span of `need` bytes (header included) whose payload is aligned to
   `align` (>= 32) out of a free span. Arena locked. */
static void *arena_large_alloc_locked(arena_heap_t *h, arena_arena_t *a, size_t need,
                                      size_t align) {
  size_t slack = align > 32 ? align : 0;
  arena_span_t probe = {.size_free = (need + slack) | ARENA_SPAN_PROBE};
  arena_tnode_t *n = arena_tree_lower_bound(&a->spans, &probe.node);
  if (!n) {
    arena_chunk_t *c = arena_chunk_get(h, a, false);
    if (!c) return NULL;
    arena_span_t *s = (arena_span_t *)((char *)c + ARENA_LCHUNK_HDR);
    s->prev = NULL;
    arena_span_free_insert(a, s, ARENA_LARGE_USABLE);
    n = &s->node;
  }
  arena_span_t *s = SPAN_OF(n);
  arena_tree_remove(&a->spans, &s->node);
  size_t size = arena_span_size(s);
  char *payload = (char *)s + ARENA_SPAN_HDR;
  if (slack) payload = (char *)(((uintptr_t)payload + align - 1) & ~(uintptr_t)(align - 1));
  arena_span_t *t = (arena_span_t *)(payload - ARENA_SPAN_HDR);
  size_t gap = (size_t)((char *)t - (char *)s);
  arena_span_t *after = arena_span_next(s);
  if (gap) { /* leading part stays free */
    arena_span_free_insert(a, s, gap);
    t->prev = s;
  } else {
    t->prev = s->prev;
  }
  size_t rest = size - gap - need;
  t->size_free = need;
  arena_span_set_live(t);
  arena_span_t *last = t;
  if (rest) {
    arena_span_t *r = (arena_span_t *)((char *)t + need);
    r->prev = t;
    arena_span_free_insert(a, r, rest);
    last = r;
  }
  if (after) after->prev = last;
  return payload;
}

/* Free span s (arena locked): coalesce both ways; release an all-free chunk. */
static void arena_large_free_locked(arena_heap_t *h, arena_arena_t *a, arena_span_t *s) {
  size_t size = arena_span_size(s);
  assert(size >= ARENA_SPAN_HDR && size <= ARENA_LARGE_USABLE && arena_span_is_live(s));
  s->node.left = NULL; /* no longer live, even if it merges into its predecessor */
  arena_span_t *next = arena_span_next(s);
  if (next && (next->size_free & 1)) {
    arena_tree_remove(&a->spans, &next->node);
    size += arena_span_size(next);
    next = arena_span_next(next);
  }
  arena_span_t *prev = s->prev;
  if (prev && (prev->size_free & 1)) {
    arena_tree_remove(&a->spans, &prev->node);
    size += arena_span_size(prev);
    s = prev;
  }
  if (next) next->prev = s;
  if (size == ARENA_LARGE_USABLE) {
    arena_chunk_release(h, a, (arena_chunk_t *)((uintptr_t)s & ~(uintptr_t)ARENA_CHUNK_MASK));
    return;
  }
  arena_span_free_insert(a, s, size);
}

/* The span for `size` payload bytes; callers ensure size <= ARENA_LARGE_MAX,
   so the rounding cannot wrap. */
static inline size_t arena_large_need(size_t size) {
  return ((size + 31) & ~(size_t)31) + ARENA_SPAN_HDR;
}

/* Every mode: p, in a chunk whose header says large, must be the payload of
   a live span of a live large chunk, else abort before anything is written.
   The radix map is asked first, so a chunk released since (the arena's
   spare, or back in its pool, perhaps purged) is never trusted; then the
   span's cookie. This catches a large double free in every shape (after the
   span merged into a free neighbour, after its chunk was released, after it
   was reused, unless a new allocation starts at that very address), interior
   pointers and foreign pointers whose chunk is not ours. */
static arena_span_t *arena_large_check(arena_heap_t *h, arena_chunk_t *c, const void *p,
                                       bool is_free) {
  if (((uintptr_t)p & (ARENA_SPAN_HDR - 1)) != 0)
    arena_misuse(is_free ? "free of a misaligned pointer" : "realloc of a misaligned pointer", p);
  if (arena_radix_get(h, c) != ARENA_RT_LARGE)
    arena_misuse(is_free ? "double free (its chunk is no longer in use), or free of a pointer "
                           "not from this heap"
                         : "realloc of a freed pointer (its chunk is no longer in use), or of "
                           "a pointer not from this heap",
                 p);
  arena_span_t *s = (arena_span_t *)((uintptr_t)p - ARENA_SPAN_HDR);
  if (!arena_span_is_live(s))
    arena_misuse(is_free ? "double free of a large allocation, or free of a pointer that is "
                           "not an allocation's start"
                         : "realloc of a freed large allocation, or of a pointer that is not "
                           "an allocation's start",
                 p);
  return s;
}

/* Checked mode: is p the payload of a span of its chunk? (walks the chunk) */
static bool arena_large_is_span(const void *p) {
  char *c = (char *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  arena_span_t *s = (arena_span_t *)(c + ARENA_LCHUNK_HDR);
  while (s) {
    if ((char *)s + ARENA_SPAN_HDR == p) return true;
    if ((char *)s + ARENA_SPAN_HDR > (char *)p) return false;
    s = arena_span_next(s);
  }
  return false;
}

/* ---- huge ---- */

static void *arena_huge_alloc(arena_heap_t *h, arena_tcache_t *tc, size_t size, size_t align,
                              bool zero) {
  if (size > ARENA_SIZE_LIMIT) return NULL; /* before rounding: it cannot wrap */
  size_t len = (size + ARENA_CHUNK_MASK) & ~ARENA_CHUNK_MASK;
  bool zeroed = false;
  void *p = arena_chunk_alloc(h, (tc->core + tc->shift) % h->opts.narenas % h->opts.npools, len,
                              align, &zeroed);
  if (!p) return NULL;
  arena_radix_set(h, p, (uint64_t)len | ARENA_RT_HUGE);
  atomic_fetch_add_explicit(&h->huge_bytes, len, memory_order_relaxed);
  if (zero && !zeroed) memset(p, 0, size);
  return p;
}

static void arena_huge_free(arena_heap_t *h, void *p) {
  uint64_t v = arena_radix_get(h, p);
  if ((v & 3) != ARENA_RT_HUGE)
    arena_misuse("free of a chunk-aligned pointer that is not a live huge allocation", p);
  size_t len = (size_t)(v & ~(uint64_t)3);
  arena_radix_set(h, p, 0);
  atomic_fetch_sub_explicit(&h->huge_bytes, len, memory_order_relaxed);
  arena_chunk_free(h, p, len);
}

/* ---- the API ---- */

/* The smallest bin whose slots are `align`-aligned and hold `size`, or -1.
   Only a size that can be small is rounded up (so the rounding cannot wrap
   to a small size: SIZE_MAX - 10 at 4 KiB alignment once became 0 here,
   and a 4 KiB slot). */
static int arena_aligned_bin(size_t size, size_t align) {
  if (align > ARENA_SLAB || size > ARENA_SMALL_MAX) return -1;
  size_t s = (size + align - 1) & ~(align - 1);
  int b = arena_bin_of(s);
  if (b < 0) return -1;
  for (; b < ARENA_NBINS; b++)
    if (arena_bin_size((unsigned)b) % align == 0) return b;
  return -1;
}

static void *arena_small_alloc(arena_heap_t *h, arena_tcache_t *tc, unsigned bin) {
  void *p;
  if (tc->enabled) {
    arena_tbin_t *tb = &tc->bins[bin];
    p = tb->head;
    if (p) {
      tb->head = *(void **)p;
      tb->count--;
      return p;
    }
    return arena_tcache_fill(h, tc, bin);
  }
  arena_arena_t *a = arena_lock_for(h, tc);
  arena_slab_t *s = arena_slab_for(h, a, bin);
  p = s ? arena_slab_take(a, s, bin) : NULL;
  if (p && h->opts.checked) arena_bitmap_mark(h, p, true);
  pthread_mutex_unlock(&a->lock);
  return p;
}

void *arena_malloc(arena_heap_t *h, arena_tcache_t *tc, size_t size, size_t align, bool zero) {
  void *p;
  if (size == 0) size = 1;
  if (align <= 16) {
    if (size <= ARENA_SMALL_MAX) {
      unsigned bin = (unsigned)arena_bin_of(size);
      p = arena_small_alloc(h, tc, bin);
      if (p && zero) memset(p, 0, arena_bin_size(bin));
      if (!p) errno = ENOMEM;
      return p;
    }
    align = 32;
  } else {
    int bin = arena_aligned_bin(size, align);
    if (bin >= 0) {
      p = arena_small_alloc(h, tc, (unsigned)bin);
      if (p && zero) memset(p, 0, arena_bin_size((unsigned)bin));
      if (!p) errno = ENOMEM;
      return p;
    }
  }
  if (size <= ARENA_LARGE_MAX && align <= ARENA_MAX_ALIGN_LG &&
      arena_large_need(size) + (align > 32 ? align : 0) <= ARENA_LARGE_USABLE) {
    arena_arena_t *a = arena_lock_for(h, tc);
    p = arena_large_alloc_locked(h, a, arena_large_need(size), align);
    pthread_mutex_unlock(&a->lock);
    if (p && zero) memset(p, 0, size);
  } else if (size > ARENA_SIZE_LIMIT) {
    p = NULL;
  } else {
    p = arena_huge_alloc(h, tc, size, align, zero);
  }
  if (!p) errno = ENOMEM;
  ARENA_ASSERT_VALID(h);
  return p;
}

/* Checked mode: p must be a live object start of this heap. */
static void arena_check_pointer(arena_heap_t *h, void *p) {
  uint64_t v = arena_radix_get(h, (void *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK));
  if (((uintptr_t)p & 15) != 0) arena_misuse("free of a misaligned pointer", p);
  if (((uintptr_t)p & ARENA_CHUNK_MASK) == 0) return; /* huge: checked by arena_huge_free */
  /* the slab and span metadata are the owner arena's: read them under its lock */
  arena_arena_t *a = NULL;
  if ((v & 3) == ARENA_RT_SMALL || (v & 3) == ARENA_RT_LARGE) {
    a = ((arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK))->arena;
    pthread_mutex_lock(&a->lock);
  }
  if ((v & 3) == ARENA_RT_SMALL) {
    arena_schunk_t *c;
    arena_slab_t *s = arena_slab_of(p, &c);
    if (s == c->slabs || (s->state != ARENA_SLAB_PARTIAL && s->state != ARENA_SLAB_FULL))
      arena_misuse("double free, or free of a pointer into no live slab", p);
    size_t off = (size_t)((char *)p - arena_slab_base(c, s));
    if (off % arena_bin_size(s->bin) != 0 || off / arena_bin_size(s->bin) >= s->nslots)
      arena_misuse("free of a pointer that is not an object start", p);
  } else if ((v & 3) == ARENA_RT_LARGE) {
    if (!arena_large_is_span(p)) arena_misuse("free of a pointer that is not a span start", p);
  } else {
    arena_misuse("free of a pointer not allocated by this heap", p);
  }
  pthread_mutex_unlock(&a->lock);
}

void arena_free(arena_heap_t *h, arena_tcache_t *tc, void *p) {
  if (!p) return;
  if (h->opts.checked) arena_check_pointer(h, p);
  if (((uintptr_t)p & ARENA_CHUNK_MASK) == 0) {
    arena_huge_free(h, p);
    return;
  }
  arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  if (c->small) {
    arena_schunk_t *sc = (arena_schunk_t *)c;
    unsigned bin = sc->slabs[((uintptr_t)p & ARENA_CHUNK_MASK) >> ARENA_SLAB_SHIFT].bin;
    /* every mode, one compare of the bin read anyway: a pointer into the
       metadata slab 0 (a large pointer freed twice, its chunk reused for
       small objects in between) or into an empty slab (a double free after
       the slab emptied) never reaches the thread cache */
    if (__builtin_expect(bin >= ARENA_NBINS, 0))
      arena_misuse("double free, or free of a pointer into no live slab", p);
    if (tc->enabled) {
      arena_tbin_t *tb = &tc->bins[bin];
      *(void **)p = tb->head;
      tb->head = p;
      if (++tb->count * arena_bin_size(bin) > ARENA_TCACHE_HIGH) arena_tcache_trim(h, tb, bin);
      return;
    }
    arena_arena_t *a = c->arena;
    pthread_mutex_lock(&a->lock);
    arena_small_free_locked(h, a, p);
    pthread_mutex_unlock(&a->lock);
    ARENA_ASSERT_VALID(h);
    return;
  }
  arena_span_t *s = arena_large_check(h, c, p, true);
  arena_arena_t *a = c->arena;
  pthread_mutex_lock(&a->lock);
  arena_large_free_locked(h, a, s);
  pthread_mutex_unlock(&a->lock);
  ARENA_ASSERT_VALID(h);
}

size_t arena_usable_size(arena_heap_t *h, const void *p) {
  if (!p) return 0;
  if (((uintptr_t)p & ARENA_CHUNK_MASK) == 0) return (size_t)(arena_radix_get(h, p) & ~(uint64_t)3);
  arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  if (c->small) {
    const arena_schunk_t *sc = (const arena_schunk_t *)c;
    return arena_bin_size(sc->slabs[((uintptr_t)p & ARENA_CHUNK_MASK) >> ARENA_SLAB_SHIFT].bin);
  }
  const arena_span_t *s = (const arena_span_t *)((const char *)p - ARENA_SPAN_HDR);
  return arena_span_size(s) - ARENA_SPAN_HDR;
}

/* Large in place: shrink by splitting off the tail, grow into a free next span. */
static bool arena_large_resize(arena_heap_t *h, void *p, size_t size) {
  arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  arena_span_t *s = (arena_span_t *)((char *)p - ARENA_SPAN_HDR);
  size_t need = arena_large_need(size);
  arena_arena_t *a = c->arena;
  bool ok = false;
  pthread_mutex_lock(&a->lock);
  size_t cur = arena_span_size(s);
  arena_span_t *next = arena_span_next(s);
  size_t avail = cur + (next && (next->size_free & 1) ? arena_span_size(next) : 0);
  if (need <= avail) {
    if (avail > cur) {
      arena_tree_remove(&a->spans, &next->node);
      next = arena_span_next(next);
    }
    s->size_free = need;
    arena_span_t *last = s;
    if (avail > need) {
      arena_span_t *r = (arena_span_t *)((char *)s + need);
      r->prev = s;
      last = r;
      size_t rsize = avail - need;
      /* a free tail merges with a free span after it */
      if (next && (next->size_free & 1)) {
        arena_tree_remove(&a->spans, &next->node);
        rsize += arena_span_size(next);
        next = arena_span_next(next);
      }
      arena_span_free_insert(a, r, rsize);
    }
    if (next) next->prev = last;
    ok = true;
  }
  pthread_mutex_unlock(&a->lock);
  (void)h;
  return ok;
}

/* Every mode: realloc must be handed a live allocation, checked as cheaply
   as free checks it (realloc reads the old size and may resize in place, so
   a freed or interior pointer would corrupt the heap before free saw it). */
static void arena_realloc_check(arena_heap_t *h, void *p) {
  if (((uintptr_t)p & ARENA_CHUNK_MASK) == 0) {
    if ((arena_radix_get(h, p) & 3) != ARENA_RT_HUGE)
      arena_misuse("realloc of a chunk-aligned pointer that is not a live huge allocation", p);
    return;
  }
  arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
  if (!c->small) {
    arena_large_check(h, c, p, false);
    return;
  }
  arena_schunk_t *sc;
  if (arena_slab_of(p, &sc)->bin >= ARENA_NBINS)
    arena_misuse("realloc of a freed pointer, or of a pointer into no live slab", p);
  /* the slot-start check waits for a move (arena_small_is_start): in place,
     an interior pointer only comes back as it went in */
}

void *arena_realloc(arena_heap_t *h, arena_tcache_t *tc, void *p, size_t size) {
  if (!p) return arena_malloc(h, tc, size, 0, false);
  if (h->opts.checked) arena_check_pointer(h, p);
  arena_realloc_check(h, p);
  if (size > ARENA_SIZE_LIMIT) { /* before any rounding of it */
    errno = ENOMEM;
    return NULL;
  }
  size_t old = arena_usable_size(h, p);
  if (size == 0) size = 1;
  bool huge = ((uintptr_t)p & ARENA_CHUNK_MASK) == 0;
  if (huge && size > ARENA_LARGE_MAX) {
    size_t len = (size + ARENA_CHUNK_MASK) & ~ARENA_CHUNK_MASK;
    if (len == old) return p;
    if (len < old) {
      arena_radix_set(h, p, (uint64_t)len | ARENA_RT_HUGE);
      atomic_fetch_sub_explicit(&h->huge_bytes, old - len, memory_order_relaxed);
      arena_chunk_free(h, (char *)p + len, old - len);
      return p;
    }
    if (arena_chunk_grow(h, p, old, len)) {
      arena_radix_set(h, p, (uint64_t)len | ARENA_RT_HUGE);
      atomic_fetch_add_explicit(&h->huge_bytes, len - old, memory_order_relaxed);
      return p;
    }
  } else if (!huge) {
    arena_chunk_t *c = (arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK);
    if (c->small) {
      if (size <= old && arena_bin_of(size) == arena_bin_of(old)) return p;
    } else if (size > ARENA_SMALL_MAX && size <= ARENA_LARGE_MAX) {
      if (arena_large_resize(h, p, size)) return p;
    }
  }
  if (!huge && ((arena_chunk_t *)((uintptr_t)p & ~(uintptr_t)ARENA_CHUNK_MASK))->small &&
      !arena_small_is_start(p))
    arena_misuse("realloc of a pointer that is not an object start", p);
  void *q = arena_malloc(h, tc, size, 0, false);
  if (!q) return NULL;
  memcpy(q, p, old < size ? old : size);
  arena_free(h, tc, p);
  return q;
}

/* ---- fork ---- */

/* The lock order everywhere: arena, then pool, then metadata (an arena
   takes chunks from a pool, a pool takes extent nodes from the metadata).
   Fork walks it as one list: arenas 0..narenas-1, pools 0..npools (the
   last is the global pool), the metadata lock. Which locks to take, and
   when, is the face's business (arena_malloc.c: after glibc's stdio list
   lock, never one the forking thread holds already). */
unsigned arena_lock_count(const arena_heap_t *h) {
  return h->opts.narenas + h->opts.npools + 2;
}

pthread_mutex_t *arena_lock_at(arena_heap_t *h, unsigned i) {
  if (i < h->opts.narenas) return &h->arenas[i].lock;
  i -= h->opts.narenas;
  return i <= h->opts.npools ? &h->pools[i].lock : &h->meta_lock;
}

static bool arena_lock_skipped(const uint64_t *skipped, size_t words, unsigned i) {
  return i / 64 < words && ((skipped[i / 64] >> (i % 64)) & 1);
}

void arena_lock_all(arena_heap_t *h, bool (*take)(pthread_mutex_t *m), uint64_t *skipped,
                    size_t words) {
  for (size_t w = 0; w < words; w++) skipped[w] = 0;
  unsigned n = arena_lock_count(h);
  for (unsigned i = 0; i < n; i++) {
    pthread_mutex_t *m = arena_lock_at(h, i);
    if (!take || i / 64 >= words)
      pthread_mutex_lock(m);
    else if (!take(m))
      skipped[i / 64] |= (uint64_t)1 << (i % 64);
  }
}

void arena_unlock_all(arena_heap_t *h, const uint64_t *skipped, size_t words) {
  for (unsigned i = arena_lock_count(h); i-- > 0;)
    if (!arena_lock_skipped(skipped, words, i)) pthread_mutex_unlock(arena_lock_at(h, i));
}

/* In the child: the locks the parent's prepare took are held by this thread
   and guard consistent data, so they start afresh. A skipped lock keeps its
   state: its holder (this thread's interrupted frame) unlocks it when it
   resumes, and what it guards may be half-updated. */
void arena_reinit_locks(arena_heap_t *h, const uint64_t *skipped, size_t words) {
  unsigned n = arena_lock_count(h);
  for (unsigned i = 0; i < n; i++)
    if (!arena_lock_skipped(skipped, words, i)) pthread_mutex_init(arena_lock_at(h, i), NULL);
}

/* ---- statistics and trim (malloc_stats, mallinfo2, malloc_info, malloc_trim) ---- */

/* Entries per leaf of the chunk map (arena.h). */
#define ARENA_STATS_LEAF ((uintptr_t)1 << ARENA_RADIX_LEAF_BITS)

static void arena_stats_small(const arena_schunk_t *c, arena_stats_t *st) {
  st->small_chunks++;
  for (unsigned i = 1; i < ARENA_SLABS; i++) { /* slab 0 is the header */
    const arena_slab_t *s = &c->slabs[i];
    if (s->state == ARENA_SLAB_PARTIAL || s->state == ARENA_SLAB_FULL) {
      size_t size = arena_bin_size(s->bin);
      st->small_used += (size_t)(s->nslots - s->nfree) * size;
      st->small_free += (size_t)s->nfree * size;
    } else if (s->state == ARENA_SLAB_EMPTY) {
      st->empty_slabs++;
    } else {
      st->uncarved_slabs++;
    }
  }
}

static void arena_stats_large(char *c, arena_stats_t *st) {
  st->large_chunks++;
  for (arena_span_t *s = (arena_span_t *)(c + ARENA_LCHUNK_HDR); s; s = arena_span_next(s)) {
    size_t size = arena_span_size(s);
    if (size < ARENA_SPAN_HDR) break; /* never in a sound heap; do not loop */
    if (s->size_free & 1) {
      st->free_spans++;
      st->large_free += size - ARENA_SPAN_HDR;
    } else {
      st->large_used += size - ARENA_SPAN_HDR;
    }
  }
}

/* Every arena locked (in the lock order), so no small or large chunk comes
   or goes while the radix map is walked; huge entries are read atomically
   and their memory never touched. */
void arena_heap_stats(arena_heap_t *h, arena_stats_t *st) {
  memset(st, 0, sizeof *st);
  for (unsigned i = 0; i < h->opts.narenas; i++) pthread_mutex_lock(&h->arenas[i].lock);
  for (uintptr_t top = 0; top < sizeof h->radix / sizeof h->radix[0]; top++) {
    _Atomic uint64_t *leaf = atomic_load_explicit(&h->radix[top], memory_order_acquire);
    if (!leaf) continue;
    for (uintptr_t j = 0; j < ARENA_STATS_LEAF; j++) {
      uint64_t v = atomic_load_explicit(&leaf[j], memory_order_acquire);
      char *chunk = (char *)((top * ARENA_STATS_LEAF + j) << ARENA_CHUNK_SHIFT);
      if ((v & 3) == ARENA_RT_SMALL) {
        arena_stats_small((const arena_schunk_t *)chunk, st);
      } else if ((v & 3) == ARENA_RT_LARGE) {
        arena_stats_large(chunk, st);
      } else if ((v & 3) == ARENA_RT_HUGE) {
        st->huge_count++;
        st->huge_bytes += (size_t)(v & ~(uint64_t)3);
      }
    }
  }
  for (unsigned i = 0; i < h->opts.narenas; i++) st->spare_chunks += h->arenas[i].spare != NULL;
  for (unsigned i = h->opts.narenas; i-- > 0;) pthread_mutex_unlock(&h->arenas[i].lock);
  st->dirty = arena_pool_dirty(h);
  st->active = atomic_load_explicit(&h->active_bytes, memory_order_relaxed);
  st->meta = atomic_load_explicit(&h->meta_bytes, memory_order_relaxed);
  st->purges = atomic_load_explicit(&h->purges, memory_order_relaxed);
  st->purged_bytes = atomic_load_explicit(&h->purged_bytes, memory_order_relaxed);
}

/* The whole pages inside [addr, addr+len): if more of them are resident
   (mincore) than *keep allows, MADV_DONTNEED them (RSS falls at once, unlike
   MADV_FREE) and return the resident bytes; otherwise take them from *keep. */
static size_t arena_trim_range(void *addr, size_t len, size_t *keep) {
  uintptr_t page = (uintptr_t)getpagesize();
  char *a = (char *)(((uintptr_t)addr + page - 1) & ~(page - 1));
  char *e = (char *)(((uintptr_t)addr + len) & ~(page - 1));
  if (e <= a) return 0;
  size_t resident = 0;
  unsigned char vec[1024];
  for (char *p = a; p < e; p += sizeof vec * page) {
    size_t n = (size_t)(e - p) / page < sizeof vec ? (size_t)(e - p) / page : sizeof vec;
    if (mincore(p, n * page, vec) != 0) {
      resident += n * page; /* unknown: count it resident */
      continue;
    }
    for (size_t i = 0; i < n; i++) resident += (vec[i] & 1) ? page : 0;
  }
  if (resident <= *keep) {
    *keep -= resident;
    return 0;
  }
  madvise(a, (size_t)(e - a), MADV_DONTNEED);
  return resident;
}

/* The inside of every free span of a tree (its header and the next span's
   stay: they are the span list). */
static size_t arena_trim_spans(arena_tnode_t *n, size_t *keep) {
  size_t r = 0;
  for (; n; n = n->right) {
    r += arena_trim_spans(n->left, keep);
    arena_span_t *s = SPAN_OF(n);
    r += arena_trim_range((char *)s + ARENA_SPAN_HDR, arena_span_size(s) - ARENA_SPAN_HDR, keep);
  }
  return r;
}

size_t arena_heap_trim(arena_heap_t *h, size_t pad) {
  size_t keep = pad, released = 0;
  /* the arenas: spare chunks go to their pools (released with the pools'
     extents below); empty slabs (reused without reading their memory) and
     free spans give back their pages now */
  for (unsigned i = 0; i < h->opts.narenas; i++) {
    arena_arena_t *a = &h->arenas[i];
    pthread_mutex_lock(&a->lock);
    if (a->spare) {
      arena_chunk_t *c = a->spare;
      a->spare = NULL;
      arena_chunk_free(h, c, ARENA_CHUNK);
    }
    for (arena_slab_t *s = a->empty; s; s = s->next) {
      arena_schunk_t *c = (arena_schunk_t *)((uintptr_t)s & ~(uintptr_t)ARENA_CHUNK_MASK);
      released += arena_trim_range(arena_slab_base(c, s), ARENA_SLAB, &keep);
    }
    released += arena_trim_spans(a->spans.root, &keep);
    pthread_mutex_unlock(&a->lock);
  }
  /* the pools: every free extent, dirty or already purged (MADV_FREE'd pages
     stay in RSS until the kernel wants them) */
  for (unsigned i = 0; i <= h->opts.npools; i++) {
    arena_pool_t *p = &h->pools[i];
    pthread_mutex_lock(&p->lock);
    arena_extent_t probe = {.addr = NULL};
    arena_tnode_t *n = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
    while (n) {
      arena_extent_t *e = (arena_extent_t *)((char *)n - offsetof(arena_extent_t, by_addr));
      released += arena_trim_range(e->addr, e->size, &keep);
      probe.addr = e->addr + e->size;
      n = arena_tree_lower_bound(&p->by_addr, &probe.by_addr);
    }
    pthread_mutex_unlock(&p->lock);
  }
  /* nothing kept: no chunk memory is dirty any more, say so (this purges
     the dirty lists the usual way, on pages that are gone already) */
  if (pad == 0) arena_pool_purge_all(h);
  return released;
}

/* ---- invariants ---- */

/* In-order walk of the free-span tree: every span flagged free, its
   neighbours linked both ways, never two free spans side by side (they
   would have coalesced). Returns the number of spans or -1. */
static long arena_span_walk(const arena_tnode_t *n) {
  if (!n) return 0;
  long l = arena_span_walk(n->left), r = arena_span_walk(n->right);
  if (l < 0 || r < 0) return -1;
  arena_span_t *s = SPAN_OF(n);
  if (!(s->size_free & 1) || (arena_span_size(s) & 31) || arena_span_size(s) == 0) return -1;
  arena_span_t *next = arena_span_next(s);
  if (next && (next->prev != s || (next->size_free & 1))) return -1;
  if (s->prev && ((s->prev->size_free & 1) || arena_span_next(s->prev) != s)) return -1;
  return l + r + 1;
}

static bool arena_arena_is_valid(arena_arena_t *a) {
  if (!arena_tree_is_valid(&a->spans)) return false;
  for (unsigned b = 0; b < ARENA_NBINS; b++)
    for (arena_slab_t *s = a->bins[b].partial; s; s = s->next) {
      if (s->state != ARENA_SLAB_PARTIAL || s->bin != b || s->nfree == 0 || s->nfree >= s->nslots)
        return false;
      if (s->next && s->next->prev != s) return false;
    }
  for (arena_slab_t *s = a->empty; s; s = s->next)
    if (s->state != ARENA_SLAB_EMPTY) return false;
  long spans = arena_span_walk(a->spans.root);
  return spans >= 0 && (size_t)spans == a->spans.count;
}

bool arena_heap_is_valid(arena_heap_t *h) {
  bool ok = true;
  for (unsigned i = 0; i < h->opts.narenas && ok; i++) {
    pthread_mutex_lock(&h->arenas[i].lock);
    ok = arena_arena_is_valid(&h->arenas[i]);
    pthread_mutex_unlock(&h->arenas[i].lock);
  }
  for (unsigned i = 0; i <= h->opts.npools && ok; i++) ok = arena_pool_is_valid(h, i);
  return ok;
}
