/* ----------------------------------------------------------------------------
  alloc/arena/arena_malloc.c: the malloc-API face of the arena allocator,
  built only into build/lib/libhlarena.so (never into libhlalloc.a: it
  defines malloc). It maps real threads onto the core's contexts: one
  initial-exec __thread thread cache per thread, its core from
  sched_getcpu() (refreshed every 256 calls, and moved on contention by the
  core), one process-wide heap created on first use.

  Start-up never recurses: the heap is built from mmap and raw syscalls
  (no stdio, no sysconf), options come from getenv (HLARENA_OPTIONS, the
  same key=value list as `hlreplay --alloc arena --options`, read by the
  same table; a bad one is reported and aborts), and the thread-exit hook is
  a pthread key (pthread_key_create and pthread_setspecific of a low key do
  not allocate). pthread_atfork is registered from a constructor, after the
  heap works: prepare locks every arena, pool and the metadata lock, the
  parent unlocks them, the child re-initialises them.

  At thread exit the key's destructor empties the thread cache; later calls
  from that thread (other destructors) go to the arenas uncached.
  HLARENA_STATS=1 prints one line to stderr at exit, proof that this library
  served the process. hlarena_version() names it.
---------------------------------------------------------------------------- */
#include "alloc/arena/arena.h"
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HLARENA_API     __attribute__((visibility("default")))
#define HLARENA_VERSION "hlarena 1.0 (heaplab alloc/arena, seed 004)"

static arena_heap_t *face_heap;
static _Atomic int face_state; /* 0 new, 1 initialising, 2 ready, 3 failed */
static pthread_key_t face_key;
static bool face_key_ok;
static bool face_stats;

static __thread arena_tcache_t face_tc __attribute__((tls_model("initial-exec")));
static __thread int face_tstate __attribute__((tls_model("initial-exec"))); /* 0,1 live,2 dead */
static __thread unsigned face_tick __attribute__((tls_model("initial-exec")));

static void face_thread_exit(void *unused) {
  (void)unused;
  if (face_heap && face_tstate == 1) {
    arena_tcache_flush(face_heap, &face_tc);
    face_tc.enabled = false;
    face_tstate = 2;
  }
}

static bool face_init(void) {
  int s = atomic_load_explicit(&face_state, memory_order_acquire);
  while (s != 2) {
    if (s == 3) return false;
    int expect = 0;
    if (s == 0 && atomic_compare_exchange_strong(&face_state, &expect, 1)) {
      arena_opts_t opts;
      char err[256];
      if (arena_opts_parse(&opts, getenv("HLARENA_OPTIONS"), err, sizeof err) != 0) {
        static const char head[] = "hlarena: HLARENA_OPTIONS: ";
        ssize_t w = write(2, head, sizeof head - 1);
        w = write(2, err, strlen(err));
        w = write(2, "\n", 1);
        (void)w;
        abort();
      }
      const char *st = getenv("HLARENA_STATS");
      face_stats = st && *st == '1';
      face_heap = arena_heap_create(&opts);
      face_key_ok = face_heap && pthread_key_create(&face_key, face_thread_exit) == 0;
      atomic_store_explicit(&face_state, face_heap ? 2 : 3, memory_order_release);
      return face_heap != NULL;
    }
    sched_yield(); /* another thread is building the heap */
    s = atomic_load_explicit(&face_state, memory_order_acquire);
  }
  return true;
}

static arena_tcache_t *face_tcache_slow(void) {
  if (!face_init()) return NULL;
  if (face_tstate == 0) {
    memset(&face_tc, 0, sizeof face_tc);
    int cpu = sched_getcpu();
    face_tc.core = cpu < 0 ? 0 : (unsigned)cpu;
    face_tc.enabled = !face_heap->opts.checked;
    face_tstate = 1;
    if (!face_key_ok || pthread_setspecific(face_key, &face_tc) != 0)
      face_tc.enabled = false; /* no exit hook: a cache would leak at exit */
  }
  return &face_tc;
}

static inline arena_tcache_t *face_tcache(void) {
  if (__builtin_expect(face_tstate == 1, 1)) {
    if (__builtin_expect((++face_tick & 255) == 0, 0)) {
      int cpu = sched_getcpu();
      if (cpu >= 0) face_tc.core = (unsigned)cpu;
    }
    return &face_tc;
  }
  return face_tcache_slow();
}

HLARENA_API void *malloc(size_t size) {
  arena_tcache_t *tc = face_tcache();
  if (!tc) {
    errno = ENOMEM;
    return NULL;
  }
  return arena_malloc(face_heap, tc, size, 0, false);
}

HLARENA_API void free(void *p) {
  if (!p) return;
  arena_tcache_t *tc = face_tcache();
  if (tc) arena_free(face_heap, tc, p);
}

HLARENA_API void *calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  arena_tcache_t *tc = face_tcache();
  if (!tc) {
    errno = ENOMEM;
    return NULL;
  }
  return arena_malloc(face_heap, tc, total, 0, true);
}

HLARENA_API void *realloc(void *p, size_t size) {
  arena_tcache_t *tc = face_tcache();
  if (!tc) {
    errno = ENOMEM;
    return NULL;
  }
  if (p && size == 0) { /* glibc's behaviour: free, return NULL */
    arena_free(face_heap, tc, p);
    return NULL;
  }
  return arena_realloc(face_heap, tc, p, size);
}

HLARENA_API void *reallocarray(void *p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(p, total);
}

static void *face_aligned(size_t align, size_t size) {
  arena_tcache_t *tc = face_tcache();
  if (!tc) {
    errno = ENOMEM;
    return NULL;
  }
  return arena_malloc(face_heap, tc, size, align, false);
}

HLARENA_API int posix_memalign(void **out, size_t align, size_t size) {
  if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
  int saved = errno;
  void *p = face_aligned(align, size);
  if (!p) return ENOMEM;
  errno = saved;
  *out = p;
  return 0;
}

HLARENA_API void *aligned_alloc(size_t align, size_t size) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return NULL;
  }
  return face_aligned(align, size);
}

/* glibc's memalign rounds a non-power-of-two alignment up to one. */
HLARENA_API void *memalign(size_t align, size_t size) {
  if (align > ((size_t)1 << 40)) {
    errno = EINVAL;
    return NULL;
  }
  size_t a = 1;
  while (a < align) a <<= 1;
  return face_aligned(a, size);
}

HLARENA_API void *valloc(size_t size) {
  return face_aligned((size_t)getpagesize(), size);
}

HLARENA_API void *pvalloc(size_t size) {
  size_t page = (size_t)getpagesize();
  size_t r = (size + page - 1) & ~(page - 1);
  if (r < size) {
    errno = ENOMEM;
    return NULL;
  }
  return face_aligned(page, r ? r : page);
}

HLARENA_API size_t malloc_usable_size(void *p) {
  if (!p || !face_heap) return 0;
  return arena_usable_size(face_heap, p);
}

HLARENA_API const char *hlarena_version(void) {
  return HLARENA_VERSION;
}

/* ---- fork ---- */

static void face_prefork(void) {
  if (face_heap) arena_lock_all(face_heap);
}
static void face_postfork_parent(void) {
  if (face_heap) arena_unlock_all(face_heap);
}
static void face_postfork_child(void) {
  if (face_heap) arena_reinit_locks(face_heap);
}

__attribute__((constructor)) static void face_constructor(void) {
  face_init();
  pthread_atfork(face_prefork, face_postfork_parent, face_postfork_child);
}

__attribute__((destructor)) static void face_destructor(void) {
  if (!face_stats || !face_heap) return;
  char buf[256];
  int n =
      snprintf(buf, sizeof buf,
               "hlarena: served pid %d: %zu bytes of chunks active, %zu dirty, %zu metadata, "
               "%llu purges (%llu bytes), %u arenas\n",
               (int)getpid(), (size_t)atomic_load(&face_heap->active_bytes),
               arena_pool_dirty(face_heap), (size_t)atomic_load(&face_heap->meta_bytes),
               (unsigned long long)atomic_load(&face_heap->purges),
               (unsigned long long)atomic_load(&face_heap->purged_bytes), face_heap->opts.narenas);
  if (n > 0) {
    ssize_t w = write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
  }
}
