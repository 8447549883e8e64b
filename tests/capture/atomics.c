/* ----------------------------------------------------------------------------
  tests/capture/atomics.c: the capture runtime (sim/capture.c) checked from
  an object compiled with -fsanitize=thread, as the allocators are: every
  atomic must really be performed (right values) and reported to the
  simulator as an access of the right core, and memcpy/memset and mutex
  calls (renamed by objcopy, as in the capture build) must be seen, also
  where gcc would expand them inline (a constant-size memcpy or memset; the
  capture build's -fno-builtin-* flags keep them calls), and so must a
  struct assignment; the renamed malloc family must behave as malloc does;
  sched_getcpu() answers with the simulated core. Built by
  the Makefile into build/capture/tests/atomics; run by tests/test_capture.sh.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include "tests/check.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic uint8_t a8;
static _Atomic uint16_t a16;
static _Atomic uint32_t a32;
static _Atomic uint64_t a64 __attribute__((aligned(64)));
static char src[256], dst[256];
static volatile size_t copy_len = 200; /* not a constant: memcpy stays a call */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* What gcc expands inline unless told not to (sim/README.md, "capture"). */
typedef struct copy32_s {
  uint64_t w[4];
} copy32_t;
static copy32_t c32_src = {{1, 2, 3, 4}}, c32_dst;
static char fill[256], copy24[24];

static __attribute__((noinline)) void struct_assign(copy32_t *d, const copy32_t *s) {
  *d = *s; /* one read and one write of 32 bytes */
}
static __attribute__((noinline)) void fill256(char *p) {
  memset(p, 0x3c, 256); /* a constant size: gcc would store it inline */
}
static __attribute__((noinline)) void copy_24(char *d, const char *s) {
  memcpy(d, s, 24);
}

int main(void) {
  sim_config_t cfg;
  sim_config_default(&cfg);
  cfg.cores = 2;
  char err[256];
  sim_t *sim = sim_create(&cfg, err, sizeof err);
  CHECK(sim != NULL, "%s", err);
  if (!sim) return check_summary("capture-atomics");
  hl_capture_start(sim);

  /* values: each operation performed exactly once */
  atomic_store(&a8, 250);
  CHECK(atomic_fetch_add(&a8, 10) == 250 && atomic_load(&a8) == 4, "8-bit wraps: %u", a8);
  atomic_store(&a16, 0xf0f0);
  CHECK(atomic_fetch_and(&a16, 0x0ff0) == 0xf0f0 && atomic_load(&a16) == 0x00f0, "and");
  CHECK(atomic_fetch_or(&a16, 0x1) == 0x00f0 && atomic_fetch_xor(&a16, 0xff) == 0x00f1 &&
            atomic_load(&a16) == 0x000e,
        "or, xor: %x", (unsigned)a16);
  atomic_store(&a32, 7);
  CHECK(atomic_exchange(&a32, 9) == 7 && atomic_fetch_sub(&a32, 4) == 9 && atomic_load(&a32) == 5,
        "exchange, sub");
  uint32_t want = 4;
  CHECK(!atomic_compare_exchange_strong(&a32, &want, 11) && want == 5 && atomic_load(&a32) == 5,
        "failed CAS returns the current value");
  CHECK(atomic_compare_exchange_strong(&a32, &want, 11) && atomic_load(&a32) == 11, "CAS");
  uint64_t w64 = 0;
  atomic_store(&a64, 0);
  while (!atomic_compare_exchange_weak(&a64, &w64, w64 + 3)) {
  }
  CHECK(atomic_load(&a64) == 3, "weak CAS: %llu", (unsigned long long)a64);
  CHECK(__atomic_fetch_nand((uint32_t *)&a32, 0xf, __ATOMIC_RELAXED) == 11 && a32 == ~UINT32_C(11),
        "nand");
  atomic_thread_fence(memory_order_seq_cst);
  atomic_signal_fence(memory_order_seq_cst);

  hl_capture_counts_t c;
  hl_capture_counts(&c);
  CHECK(c.atomics >= 19, "atomics counted: %llu", (unsigned long long)c.atomics);

  /* reported as accesses of the current core: two cores' RMWs of one word
     are one cache-to-cache transfer, true sharing, one invalidation */
  sim_stats_t before, after, c1_before, c1_after;
  sim_stats(sim, -1, &before);
  sim_stats(sim, 1, &c1_before);
  hl_capture_set_core(0);
  atomic_fetch_add(&a64, 1);
  hl_capture_set_core(1);
  atomic_fetch_add(&a64, 1);
  /* read at once: the checks below are instrumented code too (their own
     counters, on core 1 now, may move lines between cores) */
  sim_stats(sim, -1, &after);
  sim_stats(sim, 1, &c1_after);
  CHECK(atomic_load(&a64) == 5, "value");
  CHECK(after.transfers - before.transfers == 1 && after.true_sharing - before.true_sharing == 1,
        "transfers %llu", (unsigned long long)(after.transfers - before.transfers));
  CHECK(after.invalidations - before.invalidations == 1, "invalidations");
  CHECK(c1_after.writes - c1_before.writes == 1 && c1_after.transfers - c1_before.transfers == 1,
        "core 1 made the second RMW (an RFO write): %llu writes, %llu transfers",
        (unsigned long long)(c1_after.writes - c1_before.writes),
        (unsigned long long)(c1_after.transfers - c1_before.transfers));

  /* memcpy / memset / mutex calls (renamed to hl_capture_*) are seen */
  hl_capture_counts(&c);
  uint64_t acc = c.alloc_accesses, locks = c.locks;
  memset(src, 7, copy_len);
  memcpy(dst, src, copy_len);
  CHECK(dst[199] == 7 && dst[200] == 0, "memcpy copied");
  pthread_mutex_lock(&lock);
  pthread_mutex_unlock(&lock);
  hl_capture_counts(&c);
  CHECK(c.locks - locks == 2, "lock calls: %llu", (unsigned long long)(c.locks - locks));
  CHECK(c.alloc_accesses - acc >= 5, "memset + memcpy (2) + locks (2): %llu",
        (unsigned long long)(c.alloc_accesses - acc));

  /* inline-expandable copies and fills: each is one access (two for a copy) */
  c32_src.w[0] = copy_len; /* written once: gcc cannot fold the source into constants */
  hl_capture_counts(&c);
  acc = c.alloc_accesses;
  struct_assign(&c32_dst, &c32_src);
  fill256(fill);
  copy_24(copy24, fill);
  hl_capture_counts(&c);
  CHECK(c.alloc_accesses - acc == 5,
        "32-byte struct assignment (2), 256-byte constant memset (1), 24-byte constant memcpy "
        "(2): %llu accesses",
        (unsigned long long)(c.alloc_accesses - acc));
  CHECK(c32_dst.w[3] == 4 && fill[255] == 0x3c && copy24[23] == 0x3c, "copies performed");

  /* sched_getcpu: the simulated core of this thread */
  hl_capture_set_core(1);
  CHECK(sched_getcpu() == 1, "sched_getcpu on core 1: %d", sched_getcpu());
  unsigned cpu = 9, node = 9;
  CHECK(getcpu(&cpu, &node) == 0 && cpu == 1 && node == 0, "getcpu: %u %u", cpu, node);
  hl_capture_set_core(0);
  CHECK(sched_getcpu() == 0, "sched_getcpu on core 0");

  /* malloc family (renamed to hl_capture_*, sim/capture_malloc.c): exact-size
     reuse, zeroed calloc, realloc keeps contents, alignment honoured */
  char *p = malloc(40), *q = malloc(40);
  CHECK(p && q && ((uintptr_t)p & 15) == 0 && q - p == 64, "16-byte header, 16-byte payloads");
  memset(p, 0x5a, 40);
  free(p);
  char *r = calloc(5, 8);
  CHECK(r == p && r[0] == 0 && r[39] == 0, "freed block reused, calloc zeroes it");
  memset(r, 0x11, 40);
  char *g = realloc(r, 4000);
  CHECK(g && g[0] == 0x11 && g[39] == 0x11, "realloc keeps contents");
  void *al = NULL;
  CHECK(posix_memalign(&al, 4096, 100) == 0 && ((uintptr_t)al & 4095) == 0, "posix_memalign");
  CHECK(posix_memalign(&al, 24, 100) == EINVAL, "bad alignment refused");
  free(g), free(q), free(al);

  /* stopped: atomics still work, nothing reported */
  hl_capture_stop();
  sim_stats(sim, -1, &before);
  CHECK(atomic_fetch_add(&a64, 1) == 5 && atomic_load(&a64) == 6, "works when stopped");
  sim_stats(sim, -1, &after);
  CHECK(after.accesses == before.accesses, "nothing simulated when stopped");
  sim_destroy(sim);
  return check_summary("capture-atomics");
}
