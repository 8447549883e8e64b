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
  heap works. Fork follows glibc's own order for its malloc: the prepare
  handler takes glibc's stdio list lock first, then every arena, pool and
  the metadata lock, because getdelim reallocs under a FILE's lock and
  fflush(NULL) waits for FILE locks under the list lock, which fork takes
  after every prepare handler (allocator locks before it deadlock). With
  one thread nothing is locked (as glibc): a held lock is then this
  thread's, under a signal handler that forked, and keeps its state in
  both processes; with several, such a lock is recognised by its owner and
  skipped. The parent unlocks, the child re-initialises what prepare took.
  Details and what is left uncovered: the fork section below.

  mallinfo2, mallinfo, malloc_trim, malloc_stats and malloc_info report
  and trim the arena's own heap (arena_heap_stats, arena_heap_trim).

  At thread exit the key's destructor empties the thread cache; later calls
  from that thread (other destructors) go to the arenas uncached.
  HLARENA_STATS=1 prints one line to stderr at exit, proof that this library
  served the process. hlarena_version() names it.
---------------------------------------------------------------------------- */
#include "alloc/arena/arena.h"
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<sys/single_threaded.h>)
#include <sys/single_threaded.h>
#endif

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

/* ---- statistics: mallinfo2, mallinfo, malloc_stats, malloc_info, malloc_trim ----
   From the heap's own numbers (arena_heap_stats: a walk of the radix map
   with every arena locked, so not for a hot loop). Objects in the calling
   thread's cache count as free; those in other threads' caches as in use
   (glibc counts its tcache the same way). */

/* The fields of mallinfo2 in glibc's meanings, where they map. */
typedef struct face_info_s {
  size_t arena;    /* small and large chunks the arenas hold (spares too), plus dirty free chunks */
  size_t ordblks;  /* free blocks: free spans and empty slabs */
  size_t hblks;    /* huge allocations (glibc: mmapped chunks) */
  size_t hblkhd;   /* their bytes */
  size_t uordblks; /* bytes in allocated small slots and large spans */
  size_t fordblks; /* arena - uordblks: free slots, empty and uncarved slabs, free spans,
                      headers, spares, dirty chunks */
  size_t keepcost; /* what malloc_trim(0) could release: spares, empty slabs, free spans,
                      dirty chunks (resident or not) */
  arena_stats_t st;
} face_info_t;

static bool face_info(face_info_t *fi) {
  memset(fi, 0, sizeof *fi);
  if (!face_heap) return false;
  arena_stats_t *st = &fi->st;
  arena_heap_stats(face_heap, st);
  size_t cached = 0;
  if (face_tstate == 1)
    for (unsigned b = 0; b < ARENA_NBINS; b++)
      cached += (size_t)face_tc.bins[b].count * arena_bin_size(b);
  size_t small = st->small_used > cached ? st->small_used - cached : 0;
  fi->arena = (st->small_chunks + st->large_chunks + st->spare_chunks) * ARENA_CHUNK + st->dirty;
  fi->ordblks = st->free_spans + st->empty_slabs;
  fi->hblks = st->huge_count;
  fi->hblkhd = st->huge_bytes;
  fi->uordblks = small + st->large_used;
  fi->fordblks = fi->arena > fi->uordblks ? fi->arena - fi->uordblks : 0;
  fi->keepcost =
      st->spare_chunks * ARENA_CHUNK + st->empty_slabs * ARENA_SLAB + st->large_free + st->dirty;
  return true;
}

/* smblks, usmblks and fsmblks are 0: no fastbins (the thread caches are not
   walked), and glibc itself always reports usmblks as 0. */
HLARENA_API struct mallinfo2 mallinfo2(void) {
  face_info_t fi;
  face_info(&fi);
  struct mallinfo2 m = {.arena = fi.arena,
                        .ordblks = fi.ordblks,
                        .hblks = fi.hblks,
                        .hblkhd = fi.hblkhd,
                        .uordblks = fi.uordblks,
                        .fordblks = fi.fordblks,
                        .keepcost = fi.keepcost};
  return m;
}

static int face_int(size_t v) {
  return v > INT_MAX ? INT_MAX : (int)v; /* glibc wraps; saturating says more */
}

HLARENA_API struct mallinfo mallinfo(void) {
  struct mallinfo2 m2 = mallinfo2();
  struct mallinfo m = {.arena = face_int(m2.arena),
                       .ordblks = face_int(m2.ordblks),
                       .hblks = face_int(m2.hblks),
                       .hblkhd = face_int(m2.hblkhd),
                       .uordblks = face_int(m2.uordblks),
                       .fordblks = face_int(m2.fordblks),
                       .keepcost = face_int(m2.keepcost)};
  return m;
}

/* Empties the calling thread's cache first, then returns the pages of the
   heap's free parts to the OS (arena_heap_trim); 1 when resident memory was
   released, as glibc. Trims even with HLARENA_OPTIONS=purge=0. */
HLARENA_API int malloc_trim(size_t pad) {
  if (!face_heap) return 0;
  if (face_tstate == 1 && face_tc.enabled) arena_tcache_flush(face_heap, &face_tc);
  return arena_heap_trim(face_heap, pad) > 0;
}

/* glibc's layout (system / in use, then the total with mmapped, here huge,
   memory), under a line naming the library, plus the arena's own numbers. */
HLARENA_API void malloc_stats(void) {
  face_info_t fi;
  face_info(&fi);
  const arena_stats_t *st = &fi.st;
  char buf[1024];
  int n = snprintf(buf, sizeof buf,
                   "%s, pid %d: %u arenas, %u pools\n"
                   "system bytes     = %10zu\n"
                   "in use bytes     = %10zu\n"
                   "Total (incl. huge):\n"
                   "system bytes     = %10zu\n"
                   "in use bytes     = %10zu\n"
                   "huge regions     = %10zu\n"
                   "huge bytes       = %10zu\n"
                   "dirty bytes      = %10zu\n"
                   "metadata bytes   = %10zu\n"
                   "purges           = %10llu (%llu bytes)\n",
                   HLARENA_VERSION, (int)getpid(), face_heap ? face_heap->opts.narenas : 0,
                   face_heap ? face_heap->opts.npools : 0, fi.arena, fi.uordblks,
                   fi.arena + fi.hblkhd, fi.uordblks + fi.hblkhd, fi.hblks, fi.hblkhd, st->dirty,
                   st->meta, (unsigned long long)st->purges, (unsigned long long)st->purged_bytes);
  if (n > 0) fputs(buf, stderr);
}

/* glibc's XML shape, one heap (the whole arena allocator). */
HLARENA_API int malloc_info(int options, FILE *fp) {
  if (options != 0) return EINVAL;
  face_info_t fi;
  face_info(&fi);
  const arena_stats_t *st = &fi.st;
  fprintf(fp,
          "<malloc version=\"1\" allocator=\"%s\">\n"
          "<heap nr=\"0\">\n"
          "<total type=\"small\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"large\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"spare\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"dirty\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "</heap>\n"
          "<total type=\"fast\" count=\"0\" size=\"0\"/>\n"
          "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
          "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n"
          "<system type=\"current\" size=\"%zu\"/>\n"
          "<system type=\"metadata\" size=\"%zu\"/>\n"
          "<aspace type=\"total\" size=\"%zu\"/>\n"
          "</malloc>\n",
          HLARENA_VERSION, st->small_chunks, st->small_chunks * ARENA_CHUNK, st->large_chunks,
          st->large_chunks * ARENA_CHUNK, st->spare_chunks, st->spare_chunks * ARENA_CHUNK,
          st->dirty, fi.arena, fi.ordblks, fi.fordblks, fi.hblks, fi.hblkhd, fi.arena + fi.hblkhd,
          st->meta, st->active + st->dirty);
  return 0;
}

/* ---- fork ----
   glibc's fork() runs the pthread_atfork prepare handlers first, then takes
   its stdio list lock (_IO_list_lock), then its own malloc's locks; the
   reverse in the parent and child. Its malloc locks come last because
   getdelim holds a FILE's lock while it reallocs, and fflush(NULL) holds
   the list lock while it waits for each FILE's lock. A prepare handler
   that takes the allocator's locks runs before the list lock is taken, so
   fork (allocator locks, waits for the list lock), fflush(NULL) (list
   lock, waits for a FILE) and getdelim (that FILE, waits in realloc for an
   allocator lock) deadlock. No registration order helps: every handler
   runs before the list lock. So prepare takes the list lock itself first
   (it is recursive: fork takes it again after the handlers), then the
   allocator's locks: glibc's own order. The parent handler unlocks both;
   in the child glibc has reset the list lock already and the allocator's
   locks start afresh.

   Only in a multi-threaded process (glibc's __libc_single_threaded, read as
   glibc reads it): with one thread no lock can be held by anyone else, and a
   lock that is held belongs to this thread's own frame below a signal
   handler that forked. Taking it again would deadlock; re-initialising it
   would let the child use a structure that frame left half-updated. So
   then nothing is done at all, as glibc does for its malloc: locks keep
   their state in both processes and the interrupted frame releases them
   when it resumes. In a multi-threaded process the same case (fork from a
   handler that interrupted malloc) is told by the mutex's owner (glibc
   records the owner's tid in every mutex): such a lock is skipped, left as
   it is in parent and child; and while this thread holds one, prepare
   never waits for another thread's lock (that thread may be waiting for
   ours): it tries for a while and skips the lock if it stays busy, which
   leaves that lock, and what it guards, to the dead thread in the child.
   A child that needs a skipped lock (a free into that arena, a chunk from
   that pool) waits forever; allocating tries the other arenas first (with
   arenas=1 there is none: its first refill past the cache waits).

   What is not handled: a prepare handler registered before this library's
   (so run after it) that mallocs waits for locks fork holds: register
   yours later, or do not malloc in prepare; and fork from a signal handler
   that interrupted malloc while another thread holds the stdio list lock
   and waits on a FILE whose holder waits on the lock the interrupted
   frame holds (glibc's own fork deadlocks there too). Without
   <sys/single_threaded.h> (another libc) every lock is taken in prepare, as
   before; without glibc's _IO_list_lock the list lock is not taken. */

#if defined(__GLIBC__) && __has_include(<sys/single_threaded.h>)
#define FACE_FORK_GLIBC 1
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));
#else
#define FACE_FORK_GLIBC 0
#endif

#define FACE_FORK_WORDS ((1024 + 257 + 1 + 63) / 64) /* arenas, pools, metadata */
static uint64_t face_fork_skipped[FACE_FORK_WORDS];
static bool face_fork_locked; /* prepare took the allocator's locks */
static bool face_fork_list;   /* ... and the stdio list lock */
static bool face_fork_inside; /* this thread holds one of them (fork from a handler) */
static pid_t face_fork_tid;

/* The tid glibc records as m's owner (0: unlocked, or locked and about to
   say by whom); -1 where that is not known. */
static pid_t face_mutex_owner(pthread_mutex_t *m) {
#if FACE_FORK_GLIBC
  return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
#else
  (void)m;
  return -1;
#endif
}

static double face_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Lock m for fork, or decline (false) when waiting could deadlock: m is
   this thread's, or this thread holds another allocator lock and m stays
   busy for 50 ms, or m is locked with no owner recorded for that long
   (this thread, stopped between taking it and recording itself). */
static bool face_fork_take(pthread_mutex_t *m) {
  double until = 0;
  for (;;) {
    if (pthread_mutex_trylock(m) == 0) return true;
    pid_t owner = face_mutex_owner(m);
    if (owner == face_fork_tid) return false;
    if (owner != 0 && !face_fork_inside) {
      pthread_mutex_lock(m); /* another thread's: it lets go without us */
      return true;
    }
    double t = face_now();
    if (until == 0)
      until = t + 0.05;
    else if (t > until)
      return false;
    sched_yield();
  }
}

static void face_prefork(void) {
  face_fork_locked = face_fork_list = face_fork_inside = false;
  if (!face_heap || atomic_load_explicit(&face_state, memory_order_acquire) != 2) return;
#if FACE_FORK_GLIBC
  if (__libc_single_threaded) return; /* glibc takes no lock either: see above */
  face_fork_tid = gettid();
  unsigned n = arena_lock_count(face_heap);
  for (unsigned i = 0; i < n && !face_fork_inside; i++)
    face_fork_inside = face_mutex_owner(arena_lock_at(face_heap, i)) == face_fork_tid;
  if (_IO_list_lock && _IO_list_unlock) {
    _IO_list_lock();
    face_fork_list = true;
  }
  arena_lock_all(face_heap, face_fork_take, face_fork_skipped, FACE_FORK_WORDS);
#else
  arena_lock_all(face_heap, NULL, NULL, 0);
#endif
  face_fork_locked = true;
}

static void face_postfork_parent(void) {
  if (face_fork_locked) arena_unlock_all(face_heap, face_fork_skipped, FACE_FORK_WORDS);
#if FACE_FORK_GLIBC
  if (face_fork_list) _IO_list_unlock(); /* fork has dropped its own hold already */
#endif
  face_fork_locked = face_fork_list = false;
}

static void face_postfork_child(void) {
  /* glibc reset the list lock before the child handlers (multi-threaded fork) */
  if (face_fork_locked) arena_reinit_locks(face_heap, face_fork_skipped, FACE_FORK_WORDS);
  face_fork_locked = face_fork_list = false;
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
