/* ----------------------------------------------------------------------------
  tests/test_arena.c: the arena allocator (alloc/arena/): the treap against
  a sorted reference (insert, delete, best fit, predecessor, address
  order), the size classes, pool extents (best fit, coalescing), large span
  coalescing and chunk release, huge allocations, purging (dirty bytes
  counted, madvise really dropped the pages: mincore), alignment of every
  kind, realloc in place, options, sizes near SIZE_MAX (ENOMEM at every
  alignment, in the core and through every kind of alloc/alloc.h), misuse
  (aborts with the library's message in forked children: every large double
  free shape, interior pointers, realloc of freed blocks), and a randomized
  4-thread stress through alloc/alloc.h with cross-thread frees.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/arena/arena.h"
#include "tests/check.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- treap ---- */

typedef struct tnode_s {
  arena_tnode_t n;
  uint64_t key;
} tnode_t;

static int tnode_cmp(const arena_tnode_t *a, const arena_tnode_t *b) {
  uint64_t x = ((const tnode_t *)a)->key, y = ((const tnode_t *)b)->key;
  return x < y ? -1 : x > y;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void test_tree(void) {
  enum { N = 2000 };
  static tnode_t nodes[N];
  static bool in[N];
  arena_tree_t t;
  arena_tree_init(&t, tnode_cmp);
  for (int i = 0; i < N; i++) nodes[i].key = (uint64_t)i * 7 + 3; /* distinct, known order */
  bool ok = true, lb_ok = true, pred_ok = true;
  for (int step = 0; step < 20000; step++) {
    int i = (int)(rng() % N);
    if (in[i])
      arena_tree_remove(&t, &nodes[i].n);
    else
      arena_tree_insert(&t, &nodes[i].n);
    in[i] = !in[i];
    if (step % 500 == 0) ok &= arena_tree_is_valid(&t);
    /* lower bound and predecessor of a random probe, against a linear scan */
    tnode_t probe = {.key = rng() % (N * 7 + 10)};
    const tnode_t *want_lb = NULL, *want_pred = NULL;
    for (int j = 0; j < N; j++) {
      if (!in[j]) continue;
      if (nodes[j].key >= probe.key && (!want_lb || nodes[j].key < want_lb->key))
        want_lb = &nodes[j];
      if (nodes[j].key < probe.key && (!want_pred || nodes[j].key > want_pred->key))
        want_pred = &nodes[j];
    }
    lb_ok &= (const tnode_t *)arena_tree_lower_bound(&t, &probe.n) == want_lb;
    pred_ok &= (const tnode_t *)arena_tree_predecessor(&t, &probe.n) == want_pred;
  }
  size_t count = 0;
  for (int i = 0; i < N; i++) count += in[i];
  CHECK(ok && arena_tree_is_valid(&t), "treap invariants (order, heap, count) hold throughout");
  CHECK(t.count == count, "count %zu == reference %zu", t.count, count);
  CHECK(lb_ok, "lower_bound matches the reference on every probe");
  CHECK(pred_ok, "predecessor matches the reference on every probe");
  /* in-order walk is ascending */
  tnode_t probe = {.key = 0};
  uint64_t last = 0;
  size_t seen = 0;
  bool asc = true;
  for (arena_tnode_t *n = arena_tree_lower_bound(&t, &probe.n); n;) {
    uint64_t k = ((tnode_t *)n)->key;
    asc &= seen == 0 || k > last;
    last = k;
    seen++;
    probe.key = k + 1;
    n = arena_tree_lower_bound(&t, &probe.n);
  }
  CHECK(asc && seen == count, "in-order keys ascend (%zu of %zu)", seen, count);
  for (int i = 0; i < N; i++)
    if (in[i]) arena_tree_remove(&t, &nodes[i].n);
  CHECK(t.root == NULL && t.count == 0, "empty after removing all");

  /* (size, addr) best fit: equal sizes resolve to the lowest address */
  static tnode_t sz[6];
  uint64_t keys[6] = {(4ull << 32) | 900, (4ull << 32) | 100, (8ull << 32) | 50,
                      (4ull << 32) | 500, (2ull << 32) | 10,  (16ull << 32) | 1};
  for (int i = 0; i < 6; i++) {
    sz[i].key = keys[i];
    arena_tree_insert(&t, &sz[i].n);
  }
  tnode_t want = {.key = 3ull << 32};
  CHECK((tnode_t *)arena_tree_lower_bound(&t, &want.n) == &sz[1],
        "best fit for size 3: the size-4 extent at the lowest address");
  want.key = 5ull << 32;
  CHECK((tnode_t *)arena_tree_lower_bound(&t, &want.n) == &sz[2], "best fit for size 5: size 8");
  want.key = 17ull << 32;
  CHECK(arena_tree_lower_bound(&t, &want.n) == NULL, "no fit above the largest");
  CHECK((tnode_t *)arena_tree_first(&t) == &sz[4], "first is the smallest");
}

/* ---- size classes ---- */

static void test_classes(void) {
  bool ok = true;
  size_t last = 0;
  for (unsigned b = 0; b < ARENA_NBINS; b++) {
    size_t s = arena_bin_size(b);
    ok &= s > last && s % 16 == 0 && arena_bin_of(s) == (int)b;
    if (b < 32) ok &= s == (b + 1) * 16;
    last = s;
  }
  CHECK(ok, "classes ascend, are 16-byte multiples, first 32 are 16..512");
  CHECK(arena_bin_size(ARENA_NBINS - 1) == ARENA_SMALL_MAX, "largest small class is %d",
        ARENA_SMALL_MAX);
  bool fit = true;
  for (size_t s = 1; s <= ARENA_SMALL_MAX; s++) {
    int b = arena_bin_of(s);
    fit &= b >= 0 && arena_bin_size((unsigned)b) >= s && (b == 0 || arena_bin_size(b - 1) < s);
  }
  CHECK(fit, "every size 1..14336 maps to the smallest class that holds it");
  CHECK(arena_bin_of(ARENA_SMALL_MAX + 1) == -1, "above small: no class");
}

/* ---- heap-level tests ---- */

static arena_heap_t *mk(const char *opts) {
  arena_opts_t o;
  char err[160];
  if (arena_opts_parse(&o, opts, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return NULL;
  }
  return arena_heap_create(&o);
}

static void test_options(void) {
  arena_opts_t o;
  char err[160];
  CHECK(arena_opts_parse(&o, "reserve=2G,arenas=3,lg_dirty=4", err, sizeof err) == 0 &&
            o.reserve == ((size_t)2 << 30) && o.narenas == 3 && o.lg_dirty == 4,
        "options parse");
  CHECK(arena_opts_parse(&o, "bogus=1", err, sizeof err) == EINVAL && strstr(err, "bogus"),
        "unknown option rejected: %s", err);
  CHECK(arena_opts_parse(&o, "arenas=0", err, sizeof err) == EINVAL, "arenas=0 rejected");
  CHECK(arena_opts_parse(&o, "arenas", err, sizeof err) == EINVAL, "missing value rejected");
  CHECK(arena_opts_parse(&o, "purge=x", err, sizeof err) == EINVAL, "non-number rejected");
}

static void test_large_coalesce(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  CHECK(h != NULL, "heap");
  if (!h) return;
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  size_t sz = 100000, need = ((sz + 31) & ~(size_t)31) + ARENA_SPAN_HDR;
  char *a = arena_malloc(h, tc, sz, 0, false);
  char *b = arena_malloc(h, tc, sz, 0, false);
  char *c = arena_malloc(h, tc, sz, 0, false);
  CHECK(a && b == a + need && c == b + need, "large spans are carved in address order");
  CHECK(arena_usable_size(h, a) == need - ARENA_SPAN_HDR, "usable size of a large span");
  memset(a, 1, sz);
  memset(b, 2, sz);
  memset(c, 3, sz);
  arena_free(h, tc, a);
  arena_free(h, tc, b);
  CHECK(arena_heap_is_valid(h), "valid after frees");
  /* a and b merged: a request for both fits exactly where a was */
  char *d = arena_malloc(h, tc, 2 * need - ARENA_SPAN_HDR, 0, false);
  CHECK(d == a, "freed neighbours coalesced (%p == %p)", (void *)d, (void *)a);
  CHECK(c[0] == 3 && c[sz - 1] == 3, "neighbour untouched");
  void *chunk = (void *)((uintptr_t)a & ~(uintptr_t)ARENA_CHUNK_MASK);
  CHECK(arena_radix_get(h, chunk) == ARENA_RT_LARGE, "chunk is registered as large");
  arena_free(h, tc, c);
  arena_free(h, tc, d);
  CHECK(arena_radix_get(h, chunk) == 0, "chunk released when its whole usable area is free");
  CHECK(h->arenas[0].spare == chunk, "released chunk is the arena's spare");
  CHECK(h->arenas[0].spans.count == 0, "no free spans left");
  /* in-place realloc: grow into the free neighbour, shrink in place */
  char *e = arena_malloc(h, tc, sz, 0, false);
  memset(e, 7, sz);
  char *f = arena_realloc(h, tc, e, 3 * sz);
  CHECK(f == e && f[sz - 1] == 7, "large realloc grows in place");
  char *g = arena_realloc(h, tc, f, sz + 1000);
  CHECK(g == e && arena_heap_is_valid(h), "large realloc shrinks in place");
  arena_free(h, tc, g);
  /* small realloc within the class stays */
  char *s = arena_malloc(h, tc, 100, 0, false);
  CHECK(arena_realloc(h, tc, s, 110) == s, "small realloc within the class stays put");
  arena_free(h, tc, s);
  arena_tcache_destroy(h, tc);
  CHECK(arena_heap_is_valid(h), "valid at the end");
  arena_heap_destroy(h);
}

static void test_huge_and_pool(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,dirty_min=1G");
  CHECK(h != NULL, "heap");
  if (!h) return;
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  char *p = arena_malloc(h, tc, 3 * ARENA_CHUNK, 0, true);
  CHECK(p && ((uintptr_t)p & ARENA_CHUNK_MASK) == 0, "huge is chunk aligned");
  CHECK(arena_usable_size(h, p) == 3 * ARENA_CHUNK, "huge usable size from the radix map");
  CHECK(p[0] == 0 && p[3 * ARENA_CHUNK - 1] == 0, "huge calloc zeroed");
  char *q = arena_malloc(h, tc, 2 * ARENA_CHUNK, 0, false);
  char *r = arena_malloc(h, tc, 1 * ARENA_CHUNK, 0, false);
  CHECK(q == p + 3 * ARENA_CHUNK && r == q + 2 * ARENA_CHUNK, "huge bumps in address order");
  arena_free(h, tc, p);
  arena_free(h, tc, q);
  CHECK(arena_pool_dirty(h) == 5 * ARENA_CHUNK, "freed chunks counted dirty (%zu)",
        arena_pool_dirty(h));
  CHECK(h->pools[0].by_addr.count == 1, "adjacent freed extents coalesced into one");
  CHECK(arena_pool_is_valid(h, 0), "pool valid");
  char *s = arena_malloc(h, tc, 2 * ARENA_CHUNK, 0, false);
  CHECK(s == p, "best fit takes the lowest address of the free extent");
  char *big = arena_malloc(h, tc, 4 * ARENA_CHUNK, 0, false);
  CHECK(big != NULL && big != p + 2 * ARENA_CHUNK,
        "a 4-chunk request does not fit the 3-chunk hole");
  /* huge realloc: shrink in place, grow in place into the free tail */
  char *t = arena_realloc(h, tc, s, ARENA_CHUNK + 1);
  CHECK(t == s && arena_usable_size(h, t) == 2 * ARENA_CHUNK, "huge shrink to 2 chunks in place");
  t = arena_realloc(h, tc, t, 5 * ARENA_CHUNK);
  CHECK(t == s && arena_usable_size(h, t) == 5 * ARENA_CHUNK, "huge grows in place");
  arena_free(h, tc, t);
  arena_free(h, tc, r);
  arena_free(h, tc, big);
  CHECK(arena_pool_is_valid(h, 0), "pool valid at the end");
  /* aligned huge */
  char *al = arena_malloc(h, tc, 10, 4 * ARENA_CHUNK, false);
  CHECK(al && ((uintptr_t)al & (4 * ARENA_CHUNK - 1)) == 0, "16 MiB alignment honoured");
  arena_free(h, tc, al);
  arena_tcache_destroy(h, tc);
  arena_heap_destroy(h);
}

static size_t resident_pages(void *p, size_t len) {
  size_t pg = (size_t)getpagesize(), n = len / pg, r = 0;
  unsigned char *v = calloc(n, 1);
  if (!v || mincore(p, len, v) != 0) {
    free(v);
    return (size_t)-1;
  }
  for (size_t i = 0; i < n; i++) r += v[i] & 1;
  free(v);
  return r;
}

static void test_purge(void) {
  /* no dirty memory allowed: a freed huge allocation is purged at once;
     prot_none=0 so mincore can look at it afterwards */
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,dirty_min=0,lg_dirty=30,prot_none=0");
  CHECK(h != NULL, "heap");
  if (!h) return;
  h->use_madv_free = false; /* MADV_DONTNEED: pages go at once, mincore sees it */
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  size_t len = 4 * ARENA_CHUNK;
  char *p = arena_malloc(h, tc, len, 0, false);
  memset(p, 5, len);
  size_t before = resident_pages(p, len);
  uint64_t purges = atomic_load(&h->purges);
  arena_free(h, tc, p);
  size_t after = resident_pages(p, len);
  CHECK(before == len / (size_t)getpagesize(), "all pages resident before (%zu)", before);
  CHECK(atomic_load(&h->purges) > purges && arena_pool_dirty(h) == 0, "purged on free");
  CHECK(after == 0, "no page resident after the purge (%zu)", after);
  /* with a threshold: dirty memory is kept up to dirty_min */
  arena_heap_t *k = mk("reserve=1G,arenas=1,pools=1,dirty_min=64M,lg_dirty=30");
  arena_tcache_t *tk = arena_tcache_create(k, 0);
  char *x = arena_malloc(k, tk, len, 0, false);
  memset(x, 1, len);
  arena_free(k, tk, x);
  CHECK(arena_pool_dirty(k) == len && atomic_load(&k->purges) == 0, "kept dirty under dirty_min");
  char *y = arena_malloc(k, tk, 20 * ARENA_CHUNK, 0, false);
  memset(y, 1, 20 * ARENA_CHUNK);
  arena_free(k, tk, y);
  CHECK(atomic_load(&k->purges) > 0 && arena_pool_dirty(k) <= ((size_t)64 << 20),
        "purged down to dirty_min once above it (dirty %zu)", arena_pool_dirty(k));
  arena_tcache_destroy(k, tk);
  arena_heap_destroy(k);
  /* a small chunk whose slabs all emptied goes back (via the spare) */
  char *objs[5000];
  for (int i = 0; i < 5000; i++) objs[i] = arena_malloc(h, tc, 48, 0, false);
  void *chunk = (void *)((uintptr_t)objs[0] & ~(uintptr_t)ARENA_CHUNK_MASK);
  CHECK(arena_radix_get(h, chunk) == ARENA_RT_SMALL, "small chunk registered");
  for (int i = 0; i < 5000; i++) arena_free(h, tc, objs[i]);
  arena_tcache_flush(h, tc);
  CHECK(arena_radix_get(h, chunk) == 0 && h->arenas[0].spare == chunk,
        "small chunk released once every slab is empty");
  CHECK(arena_heap_is_valid(h), "valid");
  arena_tcache_destroy(h, tc);
  arena_heap_destroy(h);
}

static void test_alignment(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=2,pools=1");
  if (!h) return;
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  bool ok = true;
  size_t sizes[] = {0, 1, 8, 24, 100, 513, 4000, 14336, 14337, 70000, 1 << 20, 5 << 20};
  for (size_t a = 16; a <= ((size_t)1 << 22); a <<= 1)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      char *p = arena_malloc(h, tc, sizes[i], a, false);
      ok &= p != NULL && ((uintptr_t)p & (a - 1)) == 0 && arena_usable_size(h, p) >= sizes[i];
      if (p) memset(p, 0xab, sizes[i]);
      arena_free(h, tc, p);
    }
  CHECK(ok, "every alignment 16..4M honoured for small, large and huge sizes");
  for (size_t s = 1; s < 70000; s += 97) {
    char *p = arena_malloc(h, tc, s, 0, true);
    size_t nz = 0;
    for (size_t i = 0; i < s; i++) nz += p[i] != 0;
    ok &= ((uintptr_t)p & 15) == 0 && nz == 0;
    memset(p, 0xff, s);
    arena_free(h, tc, p);
  }
  CHECK(ok, "default results 16-byte aligned, calloc zeroed after dirty reuse");
  errno = 0;
  CHECK(arena_malloc(h, tc, SIZE_MAX / 2, 0, false) == NULL && errno == ENOMEM,
        "SIZE_MAX/2 fails with ENOMEM");
  void *z1 = arena_malloc(h, tc, 0, 0, false), *z2 = arena_malloc(h, tc, 0, 0, false);
  CHECK(z1 && z2 && z1 != z2, "size 0 gives distinct pointers");
  arena_free(h, tc, z1);
  arena_free(h, tc, z2);
  CHECK(arena_heap_is_valid(h), "valid");
  arena_tcache_destroy(h, tc);
  arena_heap_destroy(h);
}

/* Sizes near SIZE_MAX never wrap to a small block (issue 18: at 32 B..64 KiB
   alignment, SIZE_MAX - 10 rounded to 0 and got one slot): the core and the
   `arena` allocator's every kind fail with ENOMEM; a failed realloc keeps
   the block. */
static void test_overflow(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=2,pools=1");
  if (!h) return;
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  size_t bad = 0, tried = 0;
  for (size_t a = 0; a <= ((size_t)1 << 22); a = a ? a << 1 : 16)
    for (size_t k = 0; k <= 70000; k = k < 64 ? k + 1 : k * 2 + 1) {
      size_t edge = SIZE_MAX - (a ? a : 16) + 1; /* + 1 and more: rounding up wraps to 0 */
      size_t sizes[] = {SIZE_MAX - k, edge + k % (a ? a : 16), ARENA_SIZE_LIMIT + 1 + k};
      for (size_t i = 0; i < 3; i++) {
        errno = 0;
        void *p = arena_malloc(h, tc, sizes[i], a, i % 2 == 1);
        tried++;
        if (p || errno != ENOMEM) {
          bad++;
          if (p) arena_free(h, tc, p);
        }
      }
    }
  CHECK(bad == 0, "arena_malloc near SIZE_MAX at alignments 0, 16..4M: %zu of %zu not ENOMEM", bad,
        tried);
  size_t olds[] = {100, 50000, 2 * ARENA_CHUNK};
  for (size_t i = 0; i < 3; i++) {
    char *p = arena_malloc(h, tc, olds[i], 0, false);
    memset(p, 7, olds[i]);
    errno = 0;
    CHECK(arena_realloc(h, tc, p, SIZE_MAX - 10) == NULL && errno == ENOMEM,
          "realloc(%zu bytes, SIZE_MAX - 10): ENOMEM", olds[i]);
    CHECK(p[0] == 7 && p[olds[i] - 1] == 7 && arena_usable_size(h, p) >= olds[i],
          "the block survives a failed realloc");
    arena_free(h, tc, p);
  }
  CHECK(arena_heap_is_valid(h), "valid after the impossible requests");
  arena_tcache_destroy(h, tc);
  arena_heap_destroy(h);

  /* the same through alloc/alloc.h, every kind */
  const hl_allocator_t *al = hl_alloc_find("arena");
  hl_heap_t heap = {.allocator = al, .config = {.threads = 1, .options = "reserve=1G"}};
  if (!al || al->heap_init(&heap) != 0) {
    CHECK(false, "arena heap_init");
    return;
  }
  hl_ctx_t ctx = {.heap = &heap, .thread = 0, .core = 0};
  al->thread_init(&ctx);
  hl_alloc_kind_t kinds[] = {HL_KIND_MALLOC,         HL_KIND_CALLOC,        HL_KIND_MEMALIGN,
                             HL_KIND_POSIX_MEMALIGN, HL_KIND_ALIGNED_ALLOC, HL_KIND_VALLOC,
                             HL_KIND_PVALLOC};
  bad = tried = 0;
  for (size_t ki = 0; ki < sizeof kinds / sizeof kinds[0]; ki++)
    for (size_t a = 16; a <= ((size_t)1 << 16); a <<= 1)
      for (size_t k = 0; k <= 5000; k = k < 40 ? k + 1 : k * 3) {
        void *slot = NULL;
        int rc = al->alloc(&ctx, &slot, SIZE_MAX - k, kinds[ki], a);
        tried++;
        if (rc != ENOMEM || slot) {
          bad++;
          if (slot) al->free(&ctx, &slot, 0);
        }
      }
  CHECK(bad == 0, "arena allocator: every kind near SIZE_MAX is ENOMEM (%zu of %zu not)", bad,
        tried);
  void *slot = NULL;
  CHECK(al->alloc(&ctx, &slot, 100, HL_KIND_MALLOC, 0) == 0, "ordinary alloc after them");
  void *was = slot;
  CHECK(al->realloc(&ctx, &slot, 100, SIZE_MAX - 10) == ENOMEM && slot == was,
        "arena allocator: realloc to SIZE_MAX - 10 is ENOMEM, the slot kept");
  al->free(&ctx, &slot, 100);
  al->thread_done(&ctx);
  al->heap_done(&heap);
}

/* Run fn in a child; true when it died of SIGABRT (misuse detected). */
static bool aborts(void (*fn)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 2);
    fn();
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT;
}

static void misuse_large_double(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 50000, 0, false);
  void *q = arena_malloc(h, tc, 50000, 0, false); /* keeps the chunk alive */
  (void)q;
  arena_free(h, tc, p);
  arena_free(h, tc, p);
}
static void misuse_small_double_checked(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,checked=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 40, 0, false);
  void *q = arena_malloc(h, tc, 40, 0, false);
  (void)q;
  arena_free(h, tc, p);
  arena_free(h, tc, p);
}
static void misuse_interior_checked(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,checked=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  char *p = arena_malloc(h, tc, 64, 0, false);
  arena_free(h, tc, p + 16);
}
static void misuse_foreign_checked(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,checked=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  static _Alignas(64) char foreign[128];
  arena_free(h, tc, foreign + 64);
}
static void misuse_huge_double(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 2 * ARENA_CHUNK, 0, false);
  arena_free(h, tc, p);
  arena_free(h, tc, p);
}
static void no_misuse_checked(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1,checked=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  for (int i = 0; i < 1000; i++) {
    void *p = arena_malloc(h, tc, (size_t)(i * 37 % 20000), 0, false);
    arena_free(h, tc, p);
  }
  arena_tcache_destroy(h, tc);
  arena_heap_destroy(h);
}

/* The large double frees a span-header flag alone missed (issue 18), small
   misuse caught when the object is back in its slab, realloc of what is not
   a live allocation: every mode (the default here), with the library's
   message, never an assert. */
static void misuse_large_double_merged(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *a = arena_malloc(h, tc, 50000, 0, false), *b = arena_malloc(h, tc, 50000, 0, false);
  void *c = arena_malloc(h, tc, 50000, 0, false); /* keeps the chunk */
  (void)c;
  arena_free(h, tc, a);
  arena_free(h, tc, b); /* merges backward into a's span */
  arena_free(h, tc, b);
}
static void misuse_large_double_alone(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 50000, 0, false); /* alone: its free releases the chunk */
  arena_free(h, tc, p);
  arena_free(h, tc, p);
}
static void misuse_large_double_reused(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 50000, 0, false);
  arena_free(h, tc, p);                        /* its chunk is the arena's spare */
  void *s = arena_malloc(h, tc, 16, 0, false); /* the first small chunk: the spare */
  (void)s;
  arena_free(h, tc, p); /* p is now in the small chunk's metadata slab */
}
static void misuse_large_interior(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  char *p = arena_malloc(h, tc, 50000, 0, false);
  memset(p, 0, 50000);
  arena_free(h, tc, p + 64);
}
static void misuse_small_double_emptied(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 40, 0, false);
  arena_free(h, tc, p);
  arena_tcache_flush(h, tc); /* back in its slab, which empties */
  arena_free(h, tc, p);
}
static void misuse_small_interior_flushed(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  char *p = arena_malloc(h, tc, 64, 0, false);
  arena_free(h, tc, p + 16);
  arena_tcache_flush(h, tc);
}
static void misuse_realloc_freed_large(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 50000, 0, false), *q = arena_malloc(h, tc, 50000, 0, false);
  (void)q;
  arena_free(h, tc, p);
  arena_realloc(h, tc, p, 60000);
}
static void misuse_realloc_freed_huge(void) {
  arena_heap_t *h = mk("reserve=1G,arenas=1,pools=1");
  arena_tcache_t *tc = arena_tcache_create(h, 0);
  void *p = arena_malloc(h, tc, 2 * ARENA_CHUNK, 0, false);
  arena_free(h, tc, p);
  arena_realloc(h, tc, p, 3 * ARENA_CHUNK);
}

/* Run fn in a child; true when it died of SIGABRT with `want` in the
   library's message ("arena: ...; aborting") and no assert fired. */
static bool aborts_with(void (*fn)(void), const char *want) {
  fflush(NULL);
  int fds[2];
  if (pipe(fds) != 0) return false;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    fn();
    _exit(0);
  }
  close(fds[1]);
  char buf[1024];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof buf - 1 && (r = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
  buf[n] = 0;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  bool ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && strncmp(buf, "arena: ", 7) == 0 &&
            strstr(buf, want) && strstr(buf, "; aborting") && !strstr(buf, "Assertion");
  if (!ok) fprintf(stderr, "  (child status %d, stderr: %s)\n", st, buf);
  return ok;
}

static void test_misuse(void) {
  CHECK(aborts_with(misuse_large_double_merged, "double free of a large allocation"),
        "large double free after a backward merge aborts (always)");
  CHECK(aborts_with(misuse_large_double_alone, "double free (its chunk is no longer in use)"),
        "large double free of an object alone in its chunk aborts (always)");
  CHECK(aborts_with(misuse_large_double_reused, "double free, or free of a pointer into no live"),
        "large double free after its chunk was reused for small objects aborts (always)");
  CHECK(aborts_with(misuse_large_interior, "not an allocation's start"),
        "large interior pointer aborts (always)");
  CHECK(aborts_with(misuse_small_double_emptied, "double free"),
        "small double free after its slab emptied aborts (always)");
  CHECK(aborts_with(misuse_small_interior_flushed, "not an object start"),
        "small interior pointer aborts when the cache returns it (always)");
  CHECK(aborts_with(misuse_realloc_freed_large, "realloc of a freed large allocation"),
        "realloc of a freed large allocation aborts (always)");
  CHECK(aborts_with(misuse_realloc_freed_huge, "realloc of a chunk-aligned pointer that is not"),
        "realloc of a freed huge allocation aborts (always)");
  CHECK(aborts(misuse_large_double), "large double free aborts (always)");
  CHECK(aborts(misuse_huge_double), "huge double free aborts (always)");
  CHECK(aborts(misuse_small_double_checked), "small double free aborts in checked mode");
  CHECK(aborts(misuse_interior_checked), "interior pointer aborts in checked mode");
  CHECK(aborts(misuse_foreign_checked), "foreign pointer aborts in checked mode");
  CHECK(!aborts(no_misuse_checked), "checked mode runs correct code without aborting");
}

/* ---- multi-threaded stress through alloc/alloc.h ---- */

#if defined(__SANITIZE_THREAD__)
enum { ST_OPS = 10000 }; /* TSan is ~30x slower */
#else
enum { ST_OPS = 40000 };
#endif
enum { ST_THREADS = 4, ST_SLOTS = 512, ST_SHARED = 64 };

typedef struct stress_s {
  const hl_allocator_t *a;
  hl_heap_t *heap;
  _Atomic(void *) shared[ST_SHARED]; /* objects handed between threads */
  _Atomic(size_t) shared_size[ST_SHARED];
  _Atomic int bad;
} stress_t;

typedef struct stress_arg_s {
  stress_t *s;
  unsigned id;
} stress_arg_t;

static size_t stress_size(uint64_t r) {
  unsigned k = (unsigned)(r % 100);
  if (k < 70) return (size_t)(r >> 8) % 256;
  if (k < 95) return (size_t)(r >> 8) % 16384;
  if (k < 99) return 16384 + (size_t)(r >> 8) % 300000;
  return ARENA_CHUNK + (size_t)(r >> 8) % (2 * ARENA_CHUNK);
}

static bool stress_check(const unsigned char *p, size_t n, unsigned char tag) {
  for (size_t i = 0; i < n; i += 61)
    if (p[i] != tag) return false;
  return n == 0 || p[n - 1] == tag;
}

static void *stress_thread(void *argp) {
  stress_arg_t *arg = argp;
  stress_t *s = arg->s;
  hl_ctx_t ctx = {.heap = s->heap, .thread = arg->id, .core = arg->id};
  if (s->a->thread_init(&ctx) != 0) {
    atomic_store(&s->bad, 1);
    return NULL;
  }
  void *slots[ST_SLOTS] = {0};
  size_t sizes[ST_SLOTS] = {0};
  uint64_t r = 0x9E3779B97F4A7C15ULL * (arg->id + 1);
  for (int op = 0; op < ST_OPS; op++) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    unsigned i = (unsigned)(r % ST_SLOTS);
    if (slots[i]) {
      unsigned char tag = (unsigned char)((uintptr_t)slots[i] >> 4);
      if (!stress_check(slots[i], sizes[i], tag)) atomic_store(&s->bad, 2);
      unsigned what = (unsigned)((r >> 20) % 8);
      if (what == 0) { /* hand it to another thread */
        void *old = atomic_exchange(&s->shared[(r >> 30) % ST_SHARED], NULL);
        (void)old;
        unsigned j = (unsigned)((r >> 30) % ST_SHARED);
        void *expect = NULL;
        if (atomic_compare_exchange_strong(&s->shared[j], &expect, slots[i])) {
          atomic_store(&s->shared_size[j], sizes[i]);
          slots[i] = NULL;
        } else {
          s->a->free(&ctx, &slots[i], sizes[i]);
        }
        if (old) { /* took someone's object: check and free it here */
          s->a->free(&ctx, &old, 0);
        }
      } else if (what == 1) {
        size_t ns = stress_size(r >> 3);
        if (s->a->realloc(&ctx, &slots[i], sizes[i], ns) != 0) atomic_store(&s->bad, 3);
        unsigned char ntag = (unsigned char)((uintptr_t)slots[i] >> 4);
        size_t keep = sizes[i] < ns ? sizes[i] : ns;
        if (!stress_check(slots[i], keep, tag)) atomic_store(&s->bad, 4);
        if (slots[i]) memset(slots[i], ntag, ns);
        sizes[i] = slots[i] ? ns : 0;
      } else {
        s->a->free(&ctx, &slots[i], sizes[i]);
      }
    } else {
      size_t n = stress_size(r >> 3);
      hl_alloc_kind_t kind = (r >> 40) % 10 == 0 ? HL_KIND_POSIX_MEMALIGN : HL_KIND_MALLOC;
      size_t align = kind == HL_KIND_POSIX_MEMALIGN ? (size_t)64 << ((r >> 44) % 8) : 0;
      if (s->a->alloc(&ctx, &slots[i], n, kind, align) != 0 || !slots[i]) {
        atomic_store(&s->bad, 5);
        continue;
      }
      if (align && ((uintptr_t)slots[i] & (align - 1))) atomic_store(&s->bad, 6);
      memset(slots[i], (unsigned char)((uintptr_t)slots[i] >> 4), n);
      sizes[i] = n;
    }
  }
  for (unsigned i = 0; i < ST_SLOTS; i++)
    if (slots[i]) s->a->free(&ctx, &slots[i], sizes[i]);
  s->a->thread_done(&ctx);
  return NULL;
}

static void test_stress(const char *options) {
  const hl_allocator_t *a = hl_alloc_find("arena");
  CHECK(a != NULL, "arena is registered");
  if (!a) return;
  hl_heap_t heap = {.allocator = a, .config = {.threads = ST_THREADS, .options = options}};
  CHECK(a->heap_init(&heap) == 0, "heap_init(%s)", options);
  static stress_t s;
  memset(&s, 0, sizeof s);
  s.a = a;
  s.heap = &heap;
  pthread_t th[ST_THREADS];
  stress_arg_t args[ST_THREADS];
  for (unsigned i = 0; i < ST_THREADS; i++) {
    args[i] = (stress_arg_t){&s, i};
    pthread_create(&th[i], NULL, stress_thread, &args[i]);
  }
  for (unsigned i = 0; i < ST_THREADS; i++) pthread_join(th[i], NULL);
  hl_ctx_t ctx = {.heap = &heap, .thread = 0, .core = 0};
  a->thread_init(&ctx);
  for (unsigned j = 0; j < ST_SHARED; j++) {
    void *p = atomic_load(&s.shared[j]);
    if (p) a->free(&ctx, &p, 0);
  }
  a->thread_done(&ctx);
  CHECK(atomic_load(&s.bad) == 0, "stress (%s): contents, alignment, realloc all kept (bad=%d)",
        options, atomic_load(&s.bad));
  arena_heap_t *h = *(arena_heap_t **)heap.state;
  CHECK(arena_heap_is_valid(h), "heap valid after the stress (%s)", options);
  hl_alloc_stats_t st;
  a->stats(&heap, &st);
  CHECK((st.valid & HL_STAT_BYTES_MAPPED) && st.bytes_mapped > 0, "stats report mapped bytes");
  a->heap_done(&heap);
  hl_heap_t bad = {.allocator = a, .config = {.options = "nonsense=1"}};
  CHECK(a->heap_init(&bad) == EINVAL, "bad options refused");
  hl_heap_t badpage = {.allocator = a, .config = {.page_size = 4096}};
  CHECK(a->heap_init(&badpage) == EINVAL, "a page size is refused (fixed at build time)");
}

int main(void) {
  test_tree();
  test_classes();
  test_options();
  test_large_coalesce();
  test_huge_and_pool();
  test_purge();
  test_alignment();
  test_overflow();
  test_misuse();
  test_stress("reserve=4G");
  test_stress("reserve=4G,arenas=1,pools=1,dirty_min=0");
  test_stress("reserve=4G,checked=1");
  return check_summary("test_arena");
}
