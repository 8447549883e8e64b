/* ----------------------------------------------------------------------------
  tests/test_unit.c: the unit heaps (alloc/unit/): reference counts, misuse
  reports, the maximum-units limit, exponential growth, shrink, remote
  frees, the MPSC queue under 4 producers and 4 consumers, and the `unit`
  allocator through alloc/alloc.h, single- and multi-threaded.

  `test_unit bench` prints single-thread ns per alloc+release instead (the
  numbers in alloc/unit/README.md).
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/unit/unit.h"
#include "tests/check.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_refcount(void) {
  hl_unit_status_t why;
  hl_unit_heap_t *h = hl_unit_heap_new("refs", 24, 8, 100, HL_UNIT_CHECKED, &why);
  CHECK(h != NULL && why == HL_UNIT_OK, "heap_new: %s", hl_unit_status_name(why));
  if (h == NULL) return;
  CHECK(strcmp(hl_unit_heap_label(h), "refs") == 0, "label");
  void *u = hl_unit_alloc(h, &why);
  CHECK(u != NULL && why == HL_UNIT_OK, "alloc");
  CHECK((uintptr_t)u % 16 == 0, "unit payloads are 16-byte aligned");
  CHECK(hl_unit_heap_of(u) == h, "heap_of");
  CHECK(hl_unit_refs(u) == 1, "alloc gives count 1, got %u", hl_unit_refs(u));
  CHECK(hl_unit_retain(u) == HL_UNIT_OK && hl_unit_refs(u) == 2, "retain -> 2");
  CHECK(hl_unit_release(u) == HL_UNIT_OK && hl_unit_refs(u) == 1, "release -> 1, still live");
  hl_unit_heap_stats_t st;
  hl_unit_heap_stats(h, &st);
  CHECK(st.units_live == 1 && st.unit_size == 32, "live 1, unit size 32: %zu %zu", st.units_live,
        st.unit_size);
  CHECK(hl_unit_release(u) == HL_UNIT_RECLAIMED, "release at 1 frees the unit");
  hl_unit_heap_stats(h, &st);
  CHECK(st.units_live == 0 && hl_unit_refs(u) == 0, "freed exactly at zero");
  CHECK(hl_unit_release(u) == HL_UNIT_E_UNDERFLOW, "release below zero is reported");
  CHECK(hl_unit_refs(u) == 0, "and leaves the count at 0");
  CHECK(hl_unit_retain(u) == HL_UNIT_E_FREED, "retain of a free unit is reported");
  CHECK(hl_unit_heap_is_valid(h), "valid after misuse");
  _Alignas(16) char foreign[64] = {0};
  CHECK(hl_unit_release(foreign + 16) == HL_UNIT_E_INVALID, "foreign pointer rejected");
  CHECK(hl_unit_retain(NULL) == HL_UNIT_E_INVALID, "NULL rejected");
  CHECK(hl_unit_heap_of(foreign + 16) == NULL, "heap_of foreign");

  /* Use after free in a checked heap: the write is caught when the unit
     would be handed out again (LIFO: by the very next alloc). */
  void *v = hl_unit_alloc(h, NULL);
  CHECK(v == u, "LIFO reuse");
  hl_unit_release(v);
  ((char *)v)[20] = 1;
  void *w = hl_unit_alloc(h, &why);
  CHECK(w == NULL && why == HL_UNIT_E_CORRUPT, "write after free detected: %s",
        hl_unit_status_name(why));
  w = hl_unit_alloc(h, &why);
  CHECK(w != NULL && w != v, "the corrupt unit is kept out of circulation");
  CHECK(hl_unit_heap_is_valid(h), "valid after corruption report");
  hl_unit_heap_delete(h);

  CHECK(hl_unit_heap_new("bad", 0, 8, 8, 0, &why) == NULL && why == HL_UNIT_E_ARGUMENT,
        "unit_size 0 refused");
  CHECK(hl_unit_heap_new("bad", 8, 8, 0, 0, &why) == NULL && why == HL_UNIT_E_ARGUMENT,
        "no maximum without GROW_UNLIMITED refused");
}

static void test_maximum(void) {
  hl_unit_heap_t *h = hl_unit_heap_new("max", 32, 10, 25, 0, NULL);
  void *u[25];
  size_t ok = 0;
  for (int i = 0; i < 25; i++) ok += (u[i] = hl_unit_alloc(h, NULL)) != NULL;
  CHECK(ok == 25, "25 units within the maximum: %zu", ok);
  hl_unit_status_t why = HL_UNIT_OK;
  errno = 0;
  void *x = hl_unit_alloc(h, &why);
  CHECK(x == NULL && why == HL_UNIT_E_FULL && errno == ENOSPC, "26th: NULL, E_FULL, ENOSPC");
  CHECK(strstr(hl_unit_status_name(why), "maximum") != NULL, "reason names the maximum");
  hl_unit_heap_stats_t st;
  hl_unit_heap_stats(h, &st);
  CHECK(st.blocks == 3 && st.units_total == 25, "blocks of 10, 10, 5: %zu %zu", st.blocks,
        st.units_total);
  hl_unit_release(u[7]);
  CHECK((u[7] = hl_unit_alloc(h, NULL)) != NULL, "a released unit can be allocated again");
  CHECK(hl_unit_heap_is_valid(h), "valid at the maximum");
  hl_unit_heap_delete(h);

  /* exponential growth: 4, 8, 16 */
  h = hl_unit_heap_new("exp", 16, 4, 0, HL_UNIT_GROW_EXPONENTIAL | HL_UNIT_GROW_UNLIMITED, NULL);
  for (int i = 0; i < 28; i++) hl_unit_alloc(h, NULL);
  hl_unit_heap_stats(h, &st);
  CHECK(st.blocks == 3 && st.units_total == 28, "exponential: %zu blocks, %zu units", st.blocks,
        st.units_total);
  hl_unit_heap_delete(h);
}

static void test_shrink(void) {
  hl_unit_heap_t *h = hl_unit_heap_new("shrink", 64, 10, 1000, 0, NULL);
  void *u[40];
  for (int i = 0; i < 40; i++) {
    u[i] = hl_unit_alloc(h, NULL);
    memset(u[i], i, 64);
  }
  hl_unit_heap_stats_t st, before;
  hl_unit_heap_stats(h, &before);
  CHECK(before.blocks == 4, "4 blocks, got %zu", before.blocks);
  CHECK(hl_unit_heap_shrink(h) == 0, "nothing to shrink while every block is in use");
  for (int i = 10; i < 20; i++) hl_unit_release(u[i]), u[i] = NULL; /* block 1 wholly */
  for (int i = 0; i < 5; i++) hl_unit_release(u[i]), u[i] = NULL;   /* half of block 0 */
  CHECK(hl_unit_heap_shrink(h) == 1, "exactly the wholly free block goes");
  hl_unit_heap_stats(h, &st);
  CHECK(st.blocks == 3 && st.units_total == 30 && st.units_free == 5 && st.units_live == 25,
        "after shrink: %zu blocks %zu units %zu free %zu live", st.blocks, st.units_total,
        st.units_free, st.units_live);
  CHECK(st.bytes_mapped < before.bytes_mapped, "bytes_mapped went down");
  CHECK(hl_unit_heap_is_valid(h), "valid after shrink");
  size_t bad = 0;
  for (int i = 0; i < 40; i++)
    if (u[i])
      for (int j = 0; j < 64; j++) bad += ((unsigned char *)u[i])[j] != i;
  CHECK(bad == 0, "live contents preserved through shrink: %zu bad bytes", bad);
  CHECK(hl_unit_heap_shrink(h) == 0, "second shrink frees nothing");
  for (int i = 0; i < 40; i++)
    if (u[i]) hl_unit_release(u[i]);
  CHECK(hl_unit_heap_shrink(h) == 3, "all three remaining blocks free");
  hl_unit_heap_stats(h, &st);
  CHECK(st.blocks == 0 && st.bytes_mapped == 0 && st.units_total == 0, "empty heap");
  CHECK(hl_unit_alloc(h, NULL) != NULL && hl_unit_heap_is_valid(h), "grows again after shrink");
  hl_unit_heap_delete(h);
}

/* ---- remote frees ---- */

typedef struct remote_arg_s {
  void **units;
  int n;
} remote_arg_t;

static void *remote_releaser(void *p) {
  remote_arg_t *a = p;
  for (int i = 0; i < a->n; i++) hl_unit_release_remote(a->units[i]);
  return NULL;
}

/* The owner allocates while another thread releases what it is handed:
   remote pushes race with the owner's collection. */
enum { STREAM = 100000 };
typedef struct stream_s {
  _Atomic(void *) box[STREAM];
  size_t bad;
} stream_t;

static void *stream_releaser(void *p) {
  stream_t *s = p;
  for (int i = 0; i < STREAM; i++) {
    unsigned char *u;
    while ((u = atomic_load_explicit(&s->box[i], memory_order_acquire)) == NULL) sched_yield();
    for (int j = 0; j < 48; j++) s->bad += u[j] != (unsigned char)i;
    if (hl_unit_release_remote(u) != HL_UNIT_RECLAIMED) s->bad++;
  }
  return NULL;
}

static void test_remote_stream(void) {
  hl_unit_heap_t *h = hl_unit_heap_new("stream", 48, 64, 0, HL_UNIT_GROW_UNLIMITED, NULL);
  stream_t *s = calloc(1, sizeof *s);
  pthread_t t;
  pthread_create(&t, NULL, stream_releaser, s);
  size_t failed = 0;
  for (int i = 0; i < STREAM; i++) {
    unsigned char *u = hl_unit_alloc(h, NULL);
    if (u == NULL) {
      failed++;
      continue;
    }
    memset(u, i, 48);
    atomic_store_explicit(&s->box[i], u, memory_order_release);
  }
  pthread_join(t, NULL);
  CHECK(failed == 0 && s->bad == 0, "stream: %zu failed, %zu bad", failed, s->bad);
  hl_unit_heap_shrink(h); /* collects the remote list, then frees the empty blocks */
  hl_unit_heap_stats_t st;
  hl_unit_heap_stats(h, &st);
  CHECK(st.units_live == 0 && st.blocks == 0, "stream: %zu live, %zu blocks after shrink",
        st.units_live, st.blocks);
  CHECK(st.remote_frees == STREAM, "stream: %llu remote frees collected",
        (unsigned long long)st.remote_frees);
  CHECK(hl_unit_heap_is_valid(h), "stream: valid");
  hl_unit_heap_delete(h);
  free(s);
}

static void test_remote(void) {
  hl_unit_heap_t *h = hl_unit_heap_new("remote", 48, 16, 0, HL_UNIT_GROW_UNLIMITED, NULL);
  enum { N = 1024 }; /* whole blocks: the free list is empty when the owner allocates again */
  static void *u[N];
  for (int i = 0; i < N; i++) u[i] = hl_unit_alloc(h, NULL);
  remote_arg_t a = {u, N};
  pthread_t t;
  pthread_create(&t, NULL, remote_releaser, &a);
  pthread_join(t, NULL);
  hl_unit_heap_stats_t st;
  hl_unit_heap_stats(h, &st);
  CHECK(st.units_live == N && st.units_free == 0, "remote frees wait for the owner");
  void *again = hl_unit_alloc(h, NULL);
  hl_unit_heap_stats(h, &st);
  CHECK(again != NULL && st.remote_frees == N && st.units_live == 1 && st.blocks == (N + 15) / 16,
        "owner collected them instead of growing: %llu remote, %zu live, %zu blocks",
        (unsigned long long)st.remote_frees, st.units_live, st.blocks);
  CHECK(hl_unit_heap_is_valid(h), "valid after remote frees");
  hl_unit_heap_delete(h);
}

/* ---- queue: 4 producers, 4 consumers (one queue each) ---- */

enum { PRODUCERS = 4, CONSUMERS = 4 };

typedef struct msg_s {
  uint32_t producer, seq;
  uint64_t check;
} msg_t;

static uint64_t msg_check(uint32_t p, uint32_t s) {
  uint64_t z = ((uint64_t)p << 32 | s) * 0x9e3779b97f4a7c15ull;
  return z ^ (z >> 29);
}

typedef struct qtest_s {
  hl_unit_queue_t *queues[CONSUMERS];
  uint32_t per_producer;
  unsigned char *seen; /* [producer][seq]: written by the one consumer that gets it */
  _Atomic uint64_t full_retries;
} qtest_t;

typedef struct qarg_s {
  qtest_t *t;
  uint32_t id;
  uint64_t bad, received;
} qarg_t;

static void *producer(void *p) {
  qarg_t *a = p;
  for (uint32_t s = 0; s < a->t->per_producer; s++) {
    hl_unit_queue_t *q = a->t->queues[s % CONSUMERS];
    msg_t *m;
    hl_unit_status_t why;
    while ((m = hl_unit_queue_entry(q, &why)) == NULL) { /* backpressure: the maximum */
      if (why != HL_UNIT_E_FULL) {
        a->bad++;
        return NULL;
      }
      atomic_fetch_add(&a->t->full_retries, 1);
      sched_yield();
    }
    *m = (msg_t){a->id, s, msg_check(a->id, s)};
    hl_unit_queue_push(q, m);
  }
  return NULL;
}

static void *consumer(void *p) {
  qarg_t *a = p;
  hl_unit_queue_t *q = a->t->queues[a->id];
  uint64_t expect = (uint64_t)PRODUCERS * (a->t->per_producer / CONSUMERS);
  while (a->received < expect) {
    msg_t *m = hl_unit_queue_pop(q);
    if (m == NULL) {
      sched_yield();
      continue;
    }
    a->received++;
    if (a->received % 4096 == 0 && !hl_unit_queue_is_valid(q)) a->bad++;
    if (m->producer >= PRODUCERS || m->seq >= a->t->per_producer || m->seq % CONSUMERS != a->id ||
        m->check != msg_check(m->producer, m->seq)) {
      a->bad++;
    } else {
      a->t->seen[(size_t)m->producer * a->t->per_producer + m->seq]++;
    }
    if (m->seq % 7 == 0) { /* a second holder: the entry survives the first release */
      hl_unit_queue_retain(m);
      if (hl_unit_queue_release(m) != HL_UNIT_OK) a->bad++;
    }
    if (hl_unit_queue_release(m) != HL_UNIT_RECLAIMED) a->bad++;
  }
  return NULL;
}

static void test_queue(uint32_t messages) {
  qtest_t t = {.per_producer = messages / PRODUCERS};
  t.per_producer -= t.per_producer % CONSUMERS;
  t.seen = calloc((size_t)PRODUCERS * t.per_producer, 1);
  for (int c = 0; c < CONSUMERS; c++) {
    char label[16];
    snprintf(label, sizeof label, "queue-%d", c);
    t.queues[c] = hl_unit_queue_new(label, sizeof(msg_t), 64, 512, 0, NULL);
  }
  pthread_t th[PRODUCERS + CONSUMERS];
  qarg_t args[PRODUCERS + CONSUMERS];
  for (uint32_t i = 0; i < PRODUCERS + CONSUMERS; i++) {
    args[i] = (qarg_t){&t, i < PRODUCERS ? i : i - PRODUCERS, 0, 0};
    pthread_create(&th[i], NULL, i < PRODUCERS ? producer : consumer, &args[i]);
  }
  uint64_t bad = 0, received = 0;
  for (int i = 0; i < PRODUCERS + CONSUMERS; i++) {
    pthread_join(th[i], NULL);
    bad += args[i].bad, received += args[i].received;
  }
  size_t lost = 0, dup = 0;
  for (size_t i = 0; i < (size_t)PRODUCERS * t.per_producer; i++)
    lost += t.seen[i] == 0, dup += t.seen[i] > 1;
  CHECK(bad == 0, "queue: %llu bad messages", (unsigned long long)bad);
  CHECK(received == (uint64_t)PRODUCERS * t.per_producer, "queue: received %llu of %llu",
        (unsigned long long)received, (unsigned long long)PRODUCERS * t.per_producer);
  CHECK(lost == 0 && dup == 0, "queue: %zu lost, %zu duplicated", lost, dup);
  for (int c = 0; c < CONSUMERS; c++) {
    hl_unit_heap_stats_t st;
    hl_unit_heap_stats(hl_unit_queue_heap(t.queues[c]), &st);
    CHECK(st.units_live == 0 && st.units_total <= 512, "queue %d: %zu live, %zu units", c,
          st.units_live, st.units_total);
    CHECK(hl_unit_queue_pop(t.queues[c]) == NULL && hl_unit_queue_is_valid(t.queues[c]),
          "queue %d empty and valid", c);
    CHECK(hl_unit_heap_is_valid(hl_unit_queue_heap(t.queues[c])), "queue %d heap valid", c);
    hl_unit_queue_delete(t.queues[c]);
  }
  free(t.seen);
}

/* ---- the `unit` allocator through alloc.h ---- */

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void test_face_single(const hl_allocator_t *a) {
  hl_heap_t heap = {.allocator = a, .config = {.threads = 1}};
  CHECK(a->heap_init(&heap) == 0, "heap_init");
  hl_ctx_t ctx = {.heap = &heap};
  CHECK(a->thread_init(&ctx) == 0, "thread_init");
  enum { N = 3000 };
  static void *slot[N];
  static size_t size[N];
  size_t misaligned = 0, failed = 0, nonzero = 0, bad = 0;
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < N; i++) {
      if (slot[i] && rng_next() % 2) {
        for (size_t j = 0; j < size[i]; j++) bad += ((unsigned char *)slot[i])[j] != (uint8_t)i;
        a->free(&ctx, &slot[i], size[i]);
      }
      if (slot[i]) continue;
      hl_alloc_kind_t kind = (hl_alloc_kind_t)(rng_next() % HL_KIND_COUNT);
      size_t align = hl_alloc_kind_has_align(kind) ? (size_t)16 << (rng_next() % 10) : 0;
      size_t sz = rng_next() % 16 == 0 ? 1 + rng_next() % 300000 : 1 + rng_next() % 600;
      if (kind == HL_KIND_ALIGNED_ALLOC) sz = (sz + align - 1) / align * align;
      if (a->alloc(&ctx, &slot[i], sz, kind, align) != 0) {
        failed++;
        continue;
      }
      size[i] = sz;
      misaligned += (uintptr_t)slot[i] % hl_alloc_kind_alignment(kind, sz, align) != 0;
      if (kind == HL_KIND_CALLOC)
        for (size_t j = 0; j < sz; j++) nonzero += ((unsigned char *)slot[i])[j] != 0;
      memset(slot[i], (uint8_t)i, sz);
      if (rng_next() % 5 == 0) { /* realloc keeps the prefix */
        size_t ns = 1 + rng_next() % (rng_next() % 4 ? 700 : 200000);
        CHECK(a->realloc(&ctx, &slot[i], sz, ns) == 0, "realloc");
        for (size_t j = 0; j < (ns < sz ? ns : sz); j++)
          bad += ((unsigned char *)slot[i])[j] != (uint8_t)i;
        memset(slot[i], (uint8_t)i, ns);
        size[i] = ns;
      }
    }
  }
  CHECK(failed == 0 && misaligned == 0 && nonzero == 0 && bad == 0,
        "face: %zu failed, %zu misaligned, %zu nonzero calloc bytes, %zu corrupt", failed,
        misaligned, nonzero, bad);
  hl_alloc_stats_t st;
  a->stats(&heap, &st);
  uint64_t live = 0;
  for (int i = 0; i < N; i++) live += slot[i] ? size[i] : 0;
  CHECK(st.valid == 0x1f && st.bytes_live == live && st.bytes_mapped >= live && st.pages > 0 &&
            st.moves == 0,
        "stats: valid %#x live %llu (want %llu) mapped %llu pages %llu", st.valid,
        (unsigned long long)st.bytes_live, (unsigned long long)live,
        (unsigned long long)st.bytes_mapped, (unsigned long long)st.pages);
  for (int i = 0; i < N; i++) a->free(&ctx, &slot[i], size[i]);
  a->stats(&heap, &st);
  CHECK(st.bytes_live == 0, "all freed: live %llu", (unsigned long long)st.bytes_live);
  a->thread_done(&ctx);
  a->heap_done(&heap);
}

/* Threads allocate, pass their objects to the next thread, free what they
   were given: every free is a cross-thread (remote) free. */
enum { FACE_THREADS = 4, FACE_OBJECTS = 4000 };

typedef struct face_s {
  const hl_allocator_t *a;
  hl_heap_t heap;
  hl_ctx_t ctx[FACE_THREADS];
  void *slot[FACE_THREADS][FACE_OBJECTS];
  pthread_barrier_t barrier;
  _Atomic size_t bad;
} face_t;

typedef struct face_arg_s {
  face_t *f;
  int id;
} face_arg_t;

static void *face_thread(void *p) {
  face_arg_t *arg = p;
  face_t *f = arg->f;
  hl_ctx_t *ctx = &f->ctx[arg->id];
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < FACE_OBJECTS; i++) {
      size_t sz = 8 + (size_t)(i * 37 % 1000);
      if (f->a->alloc(ctx, &f->slot[arg->id][i], sz, HL_KIND_MALLOC, 0) != 0) {
        atomic_fetch_add(&f->bad, 1);
        continue;
      }
      memset(f->slot[arg->id][i], arg->id + round, sz);
    }
    pthread_barrier_wait(&f->barrier);
    int from = (arg->id + 1) % FACE_THREADS;
    size_t bad = 0;
    for (int i = 0; i < FACE_OBJECTS; i++) {
      size_t sz = 8 + (size_t)(i * 37 % 1000);
      unsigned char *o = f->slot[from][i];
      if (o == NULL) continue;
      for (size_t j = 0; j < sz; j++) bad += o[j] != (unsigned char)(from + round);
      f->a->free(ctx, &f->slot[from][i], sz);
    }
    atomic_fetch_add(&f->bad, bad);
    pthread_barrier_wait(&f->barrier);
  }
  return NULL;
}

static void test_face_threads(const hl_allocator_t *a) {
  face_t *f = calloc(1, sizeof *f);
  f->a = a;
  f->heap = (hl_heap_t){.allocator = a, .config = {.threads = FACE_THREADS}};
  CHECK(a->heap_init(&f->heap) == 0, "heap_init");
  pthread_barrier_init(&f->barrier, NULL, FACE_THREADS);
  pthread_t th[FACE_THREADS];
  face_arg_t args[FACE_THREADS];
  for (int i = 0; i < FACE_THREADS; i++) {
    f->ctx[i] = (hl_ctx_t){.heap = &f->heap, .thread = (uint32_t)i, .core = (uint32_t)i};
    CHECK(a->thread_init(&f->ctx[i]) == 0, "thread_init");
  }
  for (int i = 0; i < FACE_THREADS; i++) {
    args[i] = (face_arg_t){f, i};
    pthread_create(&th[i], NULL, face_thread, &args[i]);
  }
  for (int i = 0; i < FACE_THREADS; i++) pthread_join(th[i], NULL);
  CHECK(f->bad == 0, "threads: %zu failures or corrupt bytes", (size_t)f->bad);
  hl_alloc_stats_t st;
  a->stats(&f->heap, &st);
  CHECK(st.bytes_live == 0 && st.transfers == (uint64_t)3 * FACE_THREADS * FACE_OBJECTS,
        "threads: live %llu, transfers %llu", (unsigned long long)st.bytes_live,
        (unsigned long long)st.transfers);
  /* remote frees were recycled: three rounds did not need three times the memory */
  CHECK(st.bytes_mapped < (uint64_t)2 * FACE_THREADS * FACE_OBJECTS * 1100, "mapped %llu",
        (unsigned long long)st.bytes_mapped);
  for (int i = 0; i < FACE_THREADS; i++) a->thread_done(&f->ctx[i]);
  a->heap_done(&f->heap);
  pthread_barrier_destroy(&f->barrier);
  free(f);
}

/* ---- single-thread timing (test_unit bench) ---- */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int bench(void) {
  enum { BATCH = 1000, ROUNDS = 10000 };
  static void *u[BATCH];
  const unsigned opts[] = {0, HL_UNIT_THREAD_SAFE};
  for (int o = 0; o < 2; o++) {
    hl_unit_heap_t *h =
        hl_unit_heap_new("bench", 64, 1024, 0, HL_UNIT_GROW_UNLIMITED | opts[o], NULL);
    double t0 = now_ns();
    for (int r = 0; r < ROUNDS; r++) {
      for (int i = 0; i < BATCH; i++) u[i] = hl_unit_alloc(h, NULL);
      for (int i = 0; i < BATCH; i++) hl_unit_release(u[i]);
    }
    double t1 = now_ns();
    printf("unit heap (%s): %.1f ns per alloc+release\n", o ? "thread-safe" : "owned",
           (t1 - t0) / ((double)BATCH * ROUNDS));
    hl_unit_heap_delete(h);
  }
  double t0 = now_ns();
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < BATCH; i++) u[i] = malloc(64);
    for (int i = 0; i < BATCH; i++) free(u[i]);
  }
  printf("malloc/free(64): %.1f ns per pair\n", (now_ns() - t0) / ((double)BATCH * ROUNDS));
  const hl_allocator_t *a = hl_alloc_find("unit");
  hl_heap_t heap = {.allocator = a, .config = {.threads = 1}};
  a->heap_init(&heap);
  hl_ctx_t ctx = {.heap = &heap};
  a->thread_init(&ctx);
  t0 = now_ns();
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < BATCH; i++) a->alloc(&ctx, &u[i], 64, HL_KIND_MALLOC, 0);
    for (int i = 0; i < BATCH; i++) a->free(&ctx, &u[i], 64);
  }
  printf("alloc.h unit (64 bytes): %.1f ns per alloc+free\n",
         (now_ns() - t0) / ((double)BATCH * ROUNDS));
  a->heap_done(&heap);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) return bench();
  const char *san = getenv("HL_SANITIZED");
  bool sanitized = san && strcmp(san, "1") == 0;
  test_refcount();
  test_maximum();
  test_shrink();
  test_remote();
  test_remote_stream();
  test_queue(sanitized ? 50000 : 200000);
  const hl_allocator_t *a = hl_alloc_find("unit");
  CHECK(a != NULL, "registry lacks unit");
  if (a) {
    char buf[128];
    CHECK(a->identify(buf, sizeof buf) == 0, "identify");
    test_face_single(a);
    test_face_threads(a);
  }
  return check_summary("test_unit");
}
