/* ----------------------------------------------------------------------------
  sim/capture.c: our own runtime for gcc's -fsanitize=thread instrumentation,
  feeding the simulator instead of a race detector (API: sim/capture.h).

  Only the project's allocator objects in build/capture/ call into this file;
  it is linked into build/bin/hlreplay-sim and nowhere else, and libtsan is
  never linked there, so an entry point gcc emits that this file lacks fails
  the link (the Makefile also checks `nm -u` of the capture objects against
  what this file defines, with a readable message).

  What becomes a simulated access:
  - __tsan_readN / writeN / unaligned / _range: one access of that size;
  - atomics: performed here with __atomic builtins (sequentially consistent,
    which is valid for every requested order; one OS thread runs at a time);
    a load is a read, a store a write, and every read-modify-write (exchange,
    fetch_op, compare-exchange, failed or not) one write access: the
    read-for-ownership a locked x86 instruction does, so the line arrives
    exclusive at once instead of shared and then upgraded;
  - memcpy/memmove (a read of the source and a write of the destination),
    memset (a write), and their _FORTIFY_SOURCE forms (__memcpy_chk, ...),
    renamed to hl_capture_* in the capture objects because libc itself is
    not instrumented;
  - pthread_mutex_lock/trylock/unlock and pthread_spin_lock/trylock/unlock:
    an atomic RMW of the lock word (its first 4 bytes), then the real call.
  Accesses to the running OS thread's own stack (the allocator's spilled
  locals) are dropped and counted: they are private to one core in any real
  run and their addresses depend on the environment size, which would make
  runs differ. So are accesses to the main thread's stack from a worker
  thread: it holds the replay's run state, the heap handle included, which
  a real program keeps in its data segment. So are accesses to the ranges the replay excludes
  (hl_capture_exclude): its reference-slot table and its per-thread
  contexts, which are the harness's bookkeeping packed densely in one array
  (in a real program the pointers live in its own data and the context is
  thread-local), and would otherwise add false sharing no program has.
  Fences do nothing (no memory is touched).

  The common access (sim_access_fast: the core's most recent line and page,
  no coherence action) is simulated inline in each callback, which then
  makes no call and saves no registers; the rest goes out of line.

  Attribution: after each access past the fast path, the requesting core's
  transfer and invalidation counters are compared with their last value;
  when they moved, every line of the access records who caused it: the
  application object (id, size, allocating thread) or the allocator
  function (the PC of the callback's caller, and the caller's caller from
  the __tsan_func_entry shadow stack). The records live in a hash table
  in the simulator's own memory (sim/sim_table.c), so this runtime never
  calls malloc or mmap while the allocator under test runs.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include "sim/sim_internal.h" /* sim_access_fast, inline in every callback */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_SHADOW   256 /* shadow stack depth kept (deeper frames only counted) */
#define CAPTURE_EXCLUDED 4   /* harness ranges never simulated */

typedef struct capture_line_s {
  uint64_t line1;                    /* line number + 1; 0 = empty slot */
  uint32_t app_events, alloc_events; /* coherence events caused, by whom */
  uint32_t obj, owner;               /* last application object */
  uint64_t obj_size;
  const void *pc, *caller; /* last allocator access: function and its caller */
} capture_line_t;

static struct {
  sim_t *sim; /* NULL: not capturing */
  unsigned core;
  hl_capture_who_t who;
  uintptr_t stack_lo, stack_len; /* the running OS thread's stack */
  uintptr_t main_lo, main_len;   /* the main thread's, which holds the replay's own state */
  uintptr_t ign_lo, ign_len;     /* APP: the replay's own buffer */
  uintptr_t excl_lo[CAPTURE_EXCLUDED], excl_len[CAPTURE_EXCLUDED]; /* hl_capture_exclude */
  uintptr_t excl_min, excl_span; /* the range that holds them all: one compare for most accesses */
  uint32_t obj, owner;
  uint64_t obj_size;
  uint64_t accesses[2]; /* by hl_capture_who_t */
  uint64_t alloc_functions, stack_dropped, harness_dropped, atomics, locks;
  const sim_stats_t *st[SIM_MAX_CORES];
  uint64_t seen[SIM_MAX_CORES]; /* transfers + clean forwards + invalidations attributed */
  uint32_t line_shift;
  const void *shadow[CAPTURE_SHADOW];
  unsigned depth;
  capture_line_t *map;
  size_t map_cap, map_len; /* power of two */
} cap;

/* ---- attribution table ---- */

static uint64_t capture_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

/* From the simulator's own region (sim/sim_table.c), never malloc or mmap:
   the allocator under test serves malloc, and a library may hook mmap
   (tcmalloc does), so either would run its code from inside an access. */
static capture_line_t *capture_map_alloc(size_t n) {
  return sim_table_alloc(n * sizeof(capture_line_t));
}

static capture_line_t *capture_map_find(uint64_t line, bool create) {
  if (cap.map == NULL) {
    if (!create) return NULL;
    cap.map = capture_map_alloc(cap.map_cap = 4096);
    if (cap.map == NULL) abort(); /* cannot attribute: refuse to produce a partial report */
  }
  size_t mask = cap.map_cap - 1;
  for (size_t i = capture_hash(line) & mask;; i = (i + 1) & mask) {
    if (cap.map[i].line1 == line + 1) return &cap.map[i];
    if (cap.map[i].line1 == 0) {
      if (!create) return NULL;
      if (2 * (cap.map_len + 1) > cap.map_cap) {
        capture_line_t *old = cap.map;
        size_t old_cap = cap.map_cap;
        cap.map = capture_map_alloc(cap.map_cap = 2 * old_cap);
        if (cap.map == NULL) abort();
        for (size_t k = 0; k < old_cap; k++) {
          if (old[k].line1 == 0) continue;
          size_t j = capture_hash(old[k].line1 - 1) & (cap.map_cap - 1);
          while (cap.map[j].line1 != 0) j = (j + 1) & (cap.map_cap - 1);
          cap.map[j] = old[k];
        }
        sim_table_free(old);
        return capture_map_find(line, true);
      }
      cap.map_len++;
      cap.map[i].line1 = line + 1;
      return &cap.map[i];
    }
  }
}

static void capture_attribute(uintptr_t addr, uint64_t size, const void *pc) {
  uint64_t first = addr >> cap.line_shift, last = (addr + size - 1) >> cap.line_shift;
  for (uint64_t line = first; line <= last; line++) {
    capture_line_t *r = capture_map_find(line, true);
    if (cap.who == HL_CAPTURE_APP) {
      r->app_events++;
      r->obj = cap.obj, r->owner = cap.owner, r->obj_size = cap.obj_size;
    } else {
      r->alloc_events++;
      r->pc = pc;
      r->caller = cap.depth > 0 && cap.depth <= CAPTURE_SHADOW ? cap.shadow[cap.depth - 1] : NULL;
    }
  }
}

/* ---- the hot path ---- */

/* Whether `addr` lies in a range the replay excluded (inside cap.excl_min
   and cap.excl_span, checked first). Out of line, as the simulation below:
   the callbacks' common case then makes no call and saves no registers. */
static __attribute__((noinline)) bool capture_excluded(uintptr_t addr) {
  for (unsigned i = 0; i < CAPTURE_EXCLUDED; i++)
    if (addr - cap.excl_lo[i] < cap.excl_len[i]) {
      cap.harness_dropped++;
      return true;
    }
  return false;
}

/* An access past sim_access_fast: through the simulator, and attributed when
   it caused a coherence event. */
static __attribute__((noinline)) void capture_simulate(uintptr_t addr, uint64_t size, bool is_write,
                                                       const void *pc) {
  unsigned core = cap.core;
  sim_access_slow(cap.sim, core, addr, size, is_write);
  const sim_stats_t *st = cap.st[core];
  uint64_t events = st->transfers + st->clean_forwards + st->invalidations;
  if (__builtin_expect(events != cap.seen[core], 0)) {
    cap.seen[core] = events;
    capture_attribute(addr, size, pc);
  }
}

static inline void capture_access(const volatile void *p, uint64_t size, bool is_write,
                                  const void *pc) {
  if (__builtin_expect(cap.sim == NULL, 0) || size == 0) return;
  uintptr_t addr = (uintptr_t)p;
  if (addr - cap.stack_lo < cap.stack_len || addr - cap.main_lo < cap.main_len) {
    cap.stack_dropped++;
    return;
  }
  if (cap.who == HL_CAPTURE_APP && addr - cap.ign_lo < cap.ign_len) return;
  if (addr - cap.excl_min < cap.excl_span && capture_excluded(addr)) return;
  cap.accesses[cap.who]++;
  if (sim_access_fast(cap.sim, cap.core, addr, size, is_write)) return; /* no coherence event */
  capture_simulate(addr, size, is_write, pc);
}

#define CAPTURE_PC __builtin_return_address(0)

/* ---- control (sim/capture.h) ---- */

/* What each OS thread knows of itself (sim/capture.h). */
static __thread struct {
  uintptr_t stack_lo, stack_len;
  unsigned core;
} capture_self;

void hl_capture_start(sim_t *sim) {
  if (cap.map) sim_table_free(cap.map);
  memset(&cap, 0, sizeof cap);
  if (sim == NULL) return;
  const sim_config_t *cfg = sim_config(sim);
  cap.line_shift = (uint32_t)__builtin_ctz(cfg->line);
  for (unsigned c = 0; c < cfg->cores; c++) cap.st[c] = sim_core_counters(sim, c);
  pthread_attr_t attr;
  void *lo;
  size_t len;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    if (pthread_attr_getstack(&attr, &lo, &len) == 0) {
      capture_self.stack_lo = cap.stack_lo = cap.main_lo = (uintptr_t)lo;
      capture_self.stack_len = cap.stack_len = cap.main_len = len;
    }
    pthread_attr_destroy(&attr);
  }
  cap.sim = sim;
}

void hl_capture_stop(void) {
  cap.sim = NULL;
}

bool hl_capture_active(void) {
  return cap.sim != NULL;
}

void hl_capture_freed(const void *p, size_t len) {
  if (cap.sim != NULL && len > 0) sim_freed(cap.sim, (uintptr_t)p, len);
}

int hl_capture_exclude(const void *p, size_t len) {
  for (unsigned i = 0; i < CAPTURE_EXCLUDED; i++)
    if (cap.excl_len[i] == 0) {
      cap.excl_lo[i] = (uintptr_t)p, cap.excl_len[i] = len;
      uintptr_t lo = cap.excl_lo[0], hi = cap.excl_lo[0] + cap.excl_len[0];
      for (unsigned k = 1; k <= i; k++) {
        if (cap.excl_lo[k] < lo) lo = cap.excl_lo[k];
        if (cap.excl_lo[k] + cap.excl_len[k] > hi) hi = cap.excl_lo[k] + cap.excl_len[k];
      }
      cap.excl_min = lo, cap.excl_span = hi - lo;
      return 0;
    }
  return -1;
}

void hl_capture_set_core(unsigned core) {
  /* the fast path indexes the cores unchecked */
  assert(cap.sim == NULL || core < sim_config(cap.sim)->cores);
  cap.core = capture_self.core = core;
}

void hl_capture_thread_begin(const void *stack_top, size_t len) {
  capture_self.stack_lo = (uintptr_t)stack_top - len;
  capture_self.stack_len = len;
}

void hl_capture_switch(unsigned core) {
  hl_capture_set_core(core);
  cap.stack_lo = capture_self.stack_lo;
  cap.stack_len = capture_self.stack_len;
}

unsigned hl_capture_thread_core(void) {
  return capture_self.core;
}

uint64_t hl_capture_clock_ns(void) {
  return cap.accesses[HL_CAPTURE_APP] + cap.accesses[HL_CAPTURE_ALLOC];
}

void hl_capture_alloc_begin(void) {
  cap.who = HL_CAPTURE_ALLOC;
}

void hl_capture_app_begin(uint32_t obj, uint64_t size, uint32_t owner, const void *buf,
                          size_t len) {
  cap.who = HL_CAPTURE_APP;
  cap.obj = obj, cap.obj_size = size, cap.owner = owner;
  cap.ign_lo = (uintptr_t)buf, cap.ign_len = len;
}

void hl_capture_counts(hl_capture_counts_t *out) {
  *out = (hl_capture_counts_t){
      .app_accesses = cap.accesses[HL_CAPTURE_APP],
      .alloc_accesses = cap.accesses[HL_CAPTURE_ALLOC],
      .alloc_functions = cap.alloc_functions,
      .stack_dropped = cap.stack_dropped,
      .harness_dropped = cap.harness_dropped,
      .atomics = cap.atomics,
      .locks = cap.locks,
  };
}

void hl_capture_report(FILE *out, const sim_t *sim, size_t top) {
  if (top == 0) return;
  fprintf(
      out,
      "hottest lines, with what lives there (application: the object the replay was "
      "accessing when this line caused a transfer, clean forward or invalidation; allocator: the "
      "function whose access did, <- its caller)\n");
  fprintf(out, "  %-18s %9s %7s %7s %7s %7s %9s  %s\n", "line", "transfers", "clean", "true",
          "false", "reuse", "invals", "what lives there");
  sim_hotline_t *hot = calloc(top, sizeof *hot);
  if (!hot) return;
  size_t n = sim_hot_lines(sim, hot, top);
  uint32_t shift = (uint32_t)__builtin_ctz(sim_config(sim)->line);
  for (size_t i = 0; i < n; i++) {
    const sim_hotline_t *h = &hot[i];
    fprintf(out, "  0x%-16llx %9llu %7llu %7llu %7llu %7llu %9llu  ", (unsigned long long)h->addr,
            (unsigned long long)h->transfers, (unsigned long long)h->clean_forwards,
            (unsigned long long)h->true_sharing, (unsigned long long)h->false_sharing,
            (unsigned long long)h->alloc_reuse, (unsigned long long)h->invalidations);
    const capture_line_t *r = capture_map_find(h->addr >> shift, false);
    if (r == NULL) {
      fprintf(out, "(no attributed access)\n");
      continue;
    }
    const char *sep = "";
    if (r->app_events) {
      fprintf(out, "object %u (%llu B, allocated by thread %u) [%u events]", r->obj,
              (unsigned long long)r->obj_size, r->owner, r->app_events);
      sep = "; ";
    }
    if (r->alloc_events) {
      char fn[128], caller[128];
      hl_capture_symbol(r->pc, fn, sizeof fn);
      if (r->caller)
        hl_capture_symbol(r->caller, caller, sizeof caller);
      else
        snprintf(caller, sizeof caller, "?");
      fprintf(out, "%sallocator: %s <- %s [%u events]", sep, fn, caller, r->alloc_events);
    }
    fprintf(out, "\n");
  }
  free(hot);
}

/* ---- gcc's -fsanitize=thread entry points ---- */

void __tsan_init(void) {}

void __tsan_func_entry(void *pc) {
  if (cap.depth < CAPTURE_SHADOW) cap.shadow[cap.depth] = pc;
  cap.depth++;
  if (cap.sim != NULL && cap.who == HL_CAPTURE_ALLOC) cap.alloc_functions++;
}

void __tsan_func_exit(void) {
  if (cap.depth > 0) cap.depth--;
}

#define CAPTURE_RW(n)                                                                              \
  void __tsan_read##n(void *a) {                                                                   \
    capture_access(a, n, false, CAPTURE_PC);                                                       \
  }                                                                                                \
  void __tsan_write##n(void *a) {                                                                  \
    capture_access(a, n, true, CAPTURE_PC);                                                        \
  }
#define CAPTURE_UNALIGNED(n)                                                                       \
  void __tsan_unaligned_read##n(void *a) {                                                         \
    capture_access(a, n, false, CAPTURE_PC);                                                       \
  }                                                                                                \
  void __tsan_unaligned_write##n(void *a) {                                                        \
    capture_access(a, n, true, CAPTURE_PC);                                                        \
  }
/* the prototypes gcc would otherwise see only implicitly (-Wmissing-prototypes) */
#define CAPTURE_RW_DECL(n)                                                                         \
  void __tsan_read##n(void *a);                                                                    \
  void __tsan_write##n(void *a);                                                                   \
  void __tsan_unaligned_read##n(void *a);                                                          \
  void __tsan_unaligned_write##n(void *a);
void __tsan_init(void);
void __tsan_func_entry(void *pc);
void __tsan_func_exit(void);
CAPTURE_RW_DECL(1)
CAPTURE_RW_DECL(2)
CAPTURE_RW_DECL(4)
CAPTURE_RW_DECL(8)
CAPTURE_RW_DECL(16)
CAPTURE_RW(1)
CAPTURE_RW(2)
CAPTURE_RW(4)
CAPTURE_RW(8)
CAPTURE_RW(16)
CAPTURE_UNALIGNED(2)
CAPTURE_UNALIGNED(4)
CAPTURE_UNALIGNED(8)
CAPTURE_UNALIGNED(16)

void __tsan_read_range(void *a, unsigned long size);
void __tsan_write_range(void *a, unsigned long size);
void __tsan_read_range(void *a, unsigned long size) {
  capture_access(a, size, false, CAPTURE_PC);
}
void __tsan_write_range(void *a, unsigned long size) {
  capture_access(a, size, true, CAPTURE_PC);
}

/* C++ virtual-pointer hooks: a read (and for an update, a write) of the vptr. */
void __tsan_vptr_update(void **vptr_p, void *new_val);
void __tsan_vptr_read(void **vptr_p);
void __tsan_vptr_update(void **vptr_p, void *new_val) {
  (void)new_val;
  capture_access(vptr_p, sizeof *vptr_p, true, CAPTURE_PC);
}
void __tsan_vptr_read(void **vptr_p) {
  capture_access(vptr_p, sizeof *vptr_p, false, CAPTURE_PC);
}

/* ---- atomics: performed, and reported (see the banner) ---- */

#define SEQ __ATOMIC_SEQ_CST

#define CAPTURE_ATOMIC_OP(bits, T, op, builtin)                                                    \
  T __tsan_atomic##bits##_##op(volatile T *a, T v, int mo);                                        \
  T __tsan_atomic##bits##_##op(volatile T *a, T v, int mo) {                                       \
    (void)mo;                                                                                      \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), true, CAPTURE_PC);                                                \
    return builtin(a, v, SEQ);                                                                     \
  }

#define CAPTURE_ATOMICS(bits, T)                                                                   \
  T __tsan_atomic##bits##_load(const volatile T *a, int mo);                                       \
  T __tsan_atomic##bits##_load(const volatile T *a, int mo) {                                      \
    (void)mo;                                                                                      \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), false, CAPTURE_PC);                                               \
    return __atomic_load_n(a, SEQ);                                                                \
  }                                                                                                \
  void __tsan_atomic##bits##_store(volatile T *a, T v, int mo);                                    \
  void __tsan_atomic##bits##_store(volatile T *a, T v, int mo) {                                   \
    (void)mo;                                                                                      \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), true, CAPTURE_PC);                                                \
    __atomic_store_n(a, v, SEQ);                                                                   \
  }                                                                                                \
  CAPTURE_ATOMIC_OP(bits, T, exchange, __atomic_exchange_n)                                        \
  CAPTURE_ATOMIC_OP(bits, T, fetch_add, __atomic_fetch_add)                                        \
  CAPTURE_ATOMIC_OP(bits, T, fetch_sub, __atomic_fetch_sub)                                        \
  CAPTURE_ATOMIC_OP(bits, T, fetch_and, __atomic_fetch_and)                                        \
  CAPTURE_ATOMIC_OP(bits, T, fetch_or, __atomic_fetch_or)                                          \
  CAPTURE_ATOMIC_OP(bits, T, fetch_xor, __atomic_fetch_xor)                                        \
  CAPTURE_ATOMIC_OP(bits, T, fetch_nand, __atomic_fetch_nand)                                      \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile T *a, T *c, T v, int mo, int fmo);    \
  int __tsan_atomic##bits##_compare_exchange_strong(volatile T *a, T *c, T v, int mo, int fmo) {   \
    (void)mo, (void)fmo;                                                                           \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), true, CAPTURE_PC);                                                \
    return __atomic_compare_exchange_n(a, c, v, false, SEQ, SEQ);                                  \
  }                                                                                                \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile T *a, T *c, T v, int mo, int fmo);      \
  int __tsan_atomic##bits##_compare_exchange_weak(volatile T *a, T *c, T v, int mo, int fmo) {     \
    (void)mo, (void)fmo;                                                                           \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), true, CAPTURE_PC);                                                \
    /* strong: a spurious failure would make the replay's result depend on luck */                 \
    return __atomic_compare_exchange_n(a, c, v, false, SEQ, SEQ);                                  \
  }                                                                                                \
  T __tsan_atomic##bits##_compare_exchange_val(volatile T *a, T c, T v, int mo, int fmo);          \
  T __tsan_atomic##bits##_compare_exchange_val(volatile T *a, T c, T v, int mo, int fmo) {         \
    (void)mo, (void)fmo;                                                                           \
    cap.atomics++;                                                                                 \
    capture_access(a, sizeof(T), true, CAPTURE_PC);                                                \
    __atomic_compare_exchange_n(a, &c, v, false, SEQ, SEQ);                                        \
    return c;                                                                                      \
  }

CAPTURE_ATOMICS(8, uint8_t)
CAPTURE_ATOMICS(16, uint16_t)
CAPTURE_ATOMICS(32, uint32_t)
CAPTURE_ATOMICS(64, uint64_t)

void __tsan_atomic_thread_fence(int mo);
void __tsan_atomic_signal_fence(int mo);
void __tsan_atomic_thread_fence(int mo) {
  (void)mo;
  __atomic_thread_fence(SEQ);
}
void __tsan_atomic_signal_fence(int mo) {
  (void)mo;
  __atomic_signal_fence(SEQ);
}

/* ---- libc calls of the capture objects (renamed by objcopy) ---- */

void *hl_capture_memcpy(void *dst, const void *src, size_t n);
void *hl_capture_memmove(void *dst, const void *src, size_t n);
void *hl_capture_memset(void *dst, int c, size_t n);

/* A copy's accesses: a read of the source, a write of the destination, on
   behalf of the instrumented caller at `pc`. */
static inline void capture_copy(void *dst, const void *src, size_t n, const void *pc) {
  capture_access(src, n, false, pc);
  capture_access(dst, n, true, pc);
}

void *hl_capture_memcpy(void *dst, const void *src, size_t n) {
  capture_copy(dst, src, n, CAPTURE_PC);
  return memcpy(dst, src, n);
}

void *hl_capture_memmove(void *dst, const void *src, size_t n) {
  capture_copy(dst, src, n, CAPTURE_PC);
  return memmove(dst, src, n);
}

void *hl_capture_memset(void *dst, int c, size_t n) {
  capture_access(dst, n, true, CAPTURE_PC);
  return memset(dst, c, n);
}

/* _FORTIFY_SOURCE's checked forms (Debian builds the baselines with it):
   the same accesses, and the same refusal of an overflow as glibc's
   ("*** buffer overflow detected ***"). */
void *hl_capture___memcpy_chk(void *dst, const void *src, size_t n, size_t room);
void *hl_capture___memmove_chk(void *dst, const void *src, size_t n, size_t room);
void *hl_capture___memset_chk(void *dst, int c, size_t n, size_t room);

void *hl_capture___memcpy_chk(void *dst, const void *src, size_t n, size_t room) {
  if (n > room) abort();
  capture_copy(dst, src, n, CAPTURE_PC);
  return memcpy(dst, src, n);
}

void *hl_capture___memmove_chk(void *dst, const void *src, size_t n, size_t room) {
  if (n > room) abort();
  capture_copy(dst, src, n, CAPTURE_PC);
  return memmove(dst, src, n);
}

void *hl_capture___memset_chk(void *dst, int c, size_t n, size_t room) {
  if (n > room) abort();
  capture_access(dst, n, true, CAPTURE_PC);
  return memset(dst, c, n);
}

#define CAPTURE_LOCK(name, T)                                                                      \
  int hl_capture_##name(T *l);                                                                     \
  int hl_capture_##name(T *l) {                                                                    \
    cap.locks++;                                                                                   \
    capture_access(l, 4, true, CAPTURE_PC);                                                        \
    return name(l);                                                                                \
  }
CAPTURE_LOCK(pthread_mutex_lock, pthread_mutex_t)
CAPTURE_LOCK(pthread_mutex_trylock, pthread_mutex_t)
CAPTURE_LOCK(pthread_mutex_unlock, pthread_mutex_t)
CAPTURE_LOCK(pthread_spin_lock, pthread_spinlock_t)
CAPTURE_LOCK(pthread_spin_trylock, pthread_spinlock_t)
CAPTURE_LOCK(pthread_spin_unlock, pthread_spinlock_t)
