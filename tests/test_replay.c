/* ----------------------------------------------------------------------------
  tests/test_replay.c: the native replay engine.

  - Verify must catch each kind of broken allocator: overlapping objects,
    misaligned results, realloc that loses contents, calloc that is not zero.
    (A verifier that never fails proves nothing.)
  - Cross-thread order: an allocator that checks, with atomics, that every
    object is allocated before it is used elsewhere, freed exactly once and
    never used after free, replayed with real threads on a trace full of
    hand-overs, sends, links and barriers.
  - Serial and threaded replay run every event exactly once.
  - Messages of several objects (sendpart): handed over whole (send_set, or
    one send per object), contents intact under verify, in every mode;
    owned replays place hand-overs outside a thread's open message.
  - Remote frees as free requests (--remote-free request): free_post to the
    true owner after its last use, no hand-over, never touched again.
---------------------------------------------------------------------------- */
#include "harness/replay.h"
#include "tests/check.h"
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[512];

/* ---- traces built through the writer ---- */

static hl_trace_writer_t *writer;
static uint64_t next_id;

static void w_begin(const char *path, uint32_t threads) {
  hl_trace_error_t err;
  writer = hl_trace_writer_open(path, threads, "generator=test_replay\n", &err);
  if (!writer) hl_trace_error_print(stderr, &err);
  next_id = 0;
}
static void w_event(hl_event_t e) {
  if (!writer) return;
  if (hl_trace_write(writer, &e) != 0) {
    hl_trace_error_print(stderr, hl_trace_writer_error(writer));
    hl_trace_writer_abort(writer);
    writer = NULL;
  }
}
static uint64_t w_alloc(uint32_t t, uint64_t size, hl_alloc_kind_t kind, uint64_t align) {
  w_event((hl_event_t){
      .op = HL_OP_ALLOC, .thread = t, .obj = next_id, .size = size, .kind = kind, .align = align});
  return next_id++;
}
static void w_op(hl_op_t op, uint32_t t, uint64_t obj) {
  w_event((hl_event_t){.op = op, .thread = t, .obj = obj});
}
static int w_end(void) {
  if (!writer) return -1;
  int rc = hl_trace_writer_close(writer);
  writer = NULL;
  return rc;
}

/* Every op and kind, with cross-thread frees, reallocs, sends, links, barriers. */
static void make_mixed_trace(const char *path, uint32_t threads, int rounds) {
  w_begin(path, threads);
  for (uint32_t t = 0; t < threads; t++) w_op(HL_OP_THREAD_START, t, 0);
  uint64_t prev[64] = {0};
  for (int r = 0; r < rounds; r++) {
    for (uint32_t t = 0; t < threads; t++) {
      hl_alloc_kind_t kind = (hl_alloc_kind_t)((r + t) % HL_KIND_COUNT);
      uint64_t align = hl_alloc_kind_has_align(kind) ? 64 : 0;
      uint64_t size = kind == HL_KIND_ALIGNED_ALLOC ? 128 : 24 + (uint64_t)((r * 7 + t) % 200);
      uint64_t a = w_alloc(t, size, kind, align);
      w_event((hl_event_t){.op = HL_OP_WRITE, .thread = t, .obj = a, .offset = 8, .size = 16});
      w_event((hl_event_t){.op = HL_OP_READ, .thread = t, .obj = a, .offset = 0, .size = 24});
      if (r > 0) { /* link to last round's object of the same thread, then hand it on */
        w_event(
            (hl_event_t){.op = HL_OP_LINK, .thread = t, .obj = a, .offset = 0, .target = prev[t]});
      }
      prev[t] = a;
      uint32_t to = (t + 1) % threads;
      w_event((hl_event_t){.op = HL_OP_SEND, .thread = t, .obj = a, .target = to});
      w_event((hl_event_t){.op = HL_OP_REALLOC, .thread = to, .obj = a, .size = size * 3});
      w_event((hl_event_t){.op = HL_OP_READ, .thread = to, .obj = a, .offset = size, .size = 8});
    }
    if (r % 5 == 4)
      for (uint32_t t = 0; t < threads; t++)
        w_event(
            (hl_event_t){.op = HL_OP_BARRIER, .thread = t, .obj = (uint64_t)r, .size = threads});
    if (r > 1) /* free the object of two rounds ago from a third thread */
      for (uint32_t t = 0; t < threads; t++) {
        uint64_t victim = next_id - 2 * threads + t;
        if (victim < next_id) {
          /* drop the link first so nobody points at freed memory */
          w_event((hl_event_t){.op = HL_OP_LINK,
                               .thread = (t + 2) % threads,
                               .obj = victim + threads,
                               .offset = 0,
                               .target = HL_TRACE_NO_OBJECT});
          w_op(HL_OP_FREE, (t + 2) % threads, victim);
        }
      }
  }
  for (uint32_t t = 0; t < threads; t++) w_op(HL_OP_THREAD_END, t, 0);
  CHECK(w_end() == 0, "writing %s", path);
}

/* ---- allocators under test ---- */

/* A flat malloc-based allocator whose faults are switched on per test. */
enum { FAULT_NONE, FAULT_OVERLAP, FAULT_MISALIGN, FAULT_REALLOC_LOSES, FAULT_CALLOC_DIRTY };
static int fault;
static _Alignas(64) char overlap_arena[1 << 16];

static int faulty_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind,
                        size_t align) {
  (void)ctx;
  if (fault == FAULT_OVERLAP && size <= 1024) {
    static _Atomic unsigned n;
    *slot = overlap_arena + (atomic_fetch_add(&n, 1) % 4) * 16; /* neighbours overlap */
    return 0;
  }
  size_t a = hl_alloc_kind_alignment(kind, size, align);
  void *p = NULL;
  if (posix_memalign(&p, a < sizeof(void *) ? sizeof(void *) : a, size + 64)) return ENOMEM;
  if (kind == HL_KIND_CALLOC) memset(p, fault == FAULT_CALLOC_DIRTY ? 0xAB : 0, size + 64);
  *slot = fault == FAULT_MISALIGN ? (char *)p + 1 : p;
  return 0;
}
static void faulty_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)ctx, (void)size;
  char *p = *slot;
  *slot = NULL;
  if (p >= overlap_arena && p < overlap_arena + sizeof overlap_arena) return;
  free((uintptr_t)p % 2 ? p - 1 : p); /* FAULT_MISALIGN hands out p + 1 */
}
static int faulty_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  void *fresh;
  if (faulty_alloc(ctx, &fresh, new_size, HL_KIND_MALLOC, 0)) return ENOMEM;
  size_t keep = old_size < new_size ? old_size : new_size;
  memmove(fresh, *slot, keep); /* with FAULT_OVERLAP the two may overlap */
  if (fault == FAULT_REALLOC_LOSES && keep) ((char *)fresh)[keep / 2] ^= 0x5A;
  faulty_free(ctx, slot, old_size);
  *slot = fresh;
  return 0;
}
static int plain_heap_init(hl_heap_t *h) {
  return (void)h, 0;
}
static void plain_heap_done(hl_heap_t *h) {
  (void)h;
}
static void no_stats(const hl_heap_t *h, hl_alloc_stats_t *s) {
  (void)h;
  memset(s, 0, sizeof *s);
  s->na_reason = "test allocator";
}
static int always_ok(char *buf, size_t len) {
  return snprintf(buf, len, "test"), 0;
}

static const hl_allocator_t faulty = {
    .name = "faulty",
    .summary = "test",
    .heap_init = plain_heap_init,
    .heap_done = plain_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = hl_flat_thread_done,
    .alloc = faulty_alloc,
    .free = faulty_free,
    .realloc = faulty_realloc,
    .read = hl_flat_read,
    .write = hl_flat_write,
    .link = hl_flat_link,
    .send = hl_flat_send,
    .stats = no_stats,
    .identify = always_ok,
};

/* The order checker: per object, a state word changed only with atomics.
   0 = never allocated, 1 = live (owner in high bits), 2 = freed. Any use out
   of order means the replay broke the trace's cross-thread order. */
#define ORDER_MAX 1000000
static _Atomic uint32_t order_state[ORDER_MAX];
static _Atomic uint64_t order_violations, order_ops;
static uint32_t order_obj(void *const *slot) {
  return (uint32_t)(uintptr_t)*slot;
}

static int order_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t k, size_t al) {
  (void)ctx, (void)size, (void)k, (void)al;
  static _Atomic uint32_t next = 1;
  uint32_t id = atomic_fetch_add(&next, 1);
  if (id >= ORDER_MAX) return ENOMEM;
  uint32_t expect = 0;
  if (!atomic_compare_exchange_strong(&order_state[id], &expect, 1))
    atomic_fetch_add(&order_violations, 1);
  *slot = (void *)(uintptr_t)id; /* a handle, not memory: access is none */
  atomic_fetch_add(&order_ops, 1);
  return 0;
}
static void order_use(void *const *slot) {
  if (atomic_load(&order_state[order_obj(slot)]) != 1) atomic_fetch_add(&order_violations, 1);
  atomic_fetch_add(&order_ops, 1);
}
static void order_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)ctx, (void)size;
  uint32_t expect = 1;
  if (!atomic_compare_exchange_strong(&order_state[order_obj(slot)], &expect, 2))
    atomic_fetch_add(&order_violations, 1);
  atomic_fetch_add(&order_ops, 1);
  *slot = NULL;
}
static int order_realloc(hl_ctx_t *ctx, void **slot, size_t o, size_t n) {
  (void)ctx, (void)o, (void)n;
  order_use(slot);
  return 0;
}
static void order_read(hl_ctx_t *c, void *const *slot, size_t off, void *dst, size_t len) {
  (void)c, (void)off, (void)dst, (void)len;
  order_use(slot);
}
static void order_write(hl_ctx_t *c, void *const *slot, size_t off, const void *src, size_t len) {
  (void)c, (void)off, (void)src, (void)len;
  order_use(slot);
}
static void order_link(hl_ctx_t *c, void **slot, size_t field, void **target) {
  (void)c, (void)field;
  order_use(slot);
  if (target) order_use(target);
}
static void order_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  (void)from, (void)to;
  order_use(slot);
}
static const hl_allocator_t order_checker = {
    .name = "order",
    .summary = "test",
    .flags = HL_ALLOC_NO_MEMORY,
    .heap_init = plain_heap_init,
    .heap_done = plain_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = hl_flat_thread_done,
    .alloc = order_alloc,
    .free = order_free,
    .realloc = order_realloc,
    .read = order_read,
    .write = order_write,
    .link = order_link,
    .send = order_send,
    .stats = no_stats,
    .identify = always_ok,
};

/* The ownership checker: the order checker plus an owner per object, as an
   HL_ALLOC_OWNED allocator sees it. Every op must come from the owner's
   context; send moves ownership. Uses by anyone else are violations: the
   loader must have made every hand-over an explicit send. */
static _Atomic uint32_t owner_of[ORDER_MAX];
static _Atomic uint64_t owner_violations;
static void owned_check(const hl_ctx_t *ctx, void *const *slot) {
  if (atomic_load(&owner_of[order_obj(slot)]) != ctx->thread)
    atomic_fetch_add(&owner_violations, 1);
}
static int owned_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t k, size_t al) {
  int rc = order_alloc(ctx, slot, size, k, al);
  if (rc == 0) atomic_store(&owner_of[order_obj(slot)], ctx->thread);
  return rc;
}
static void owned_free(hl_ctx_t *ctx, void **slot, size_t size) {
  owned_check(ctx, slot);
  order_free(ctx, slot, size);
}
static int owned_realloc(hl_ctx_t *ctx, void **slot, size_t o, size_t n) {
  owned_check(ctx, slot);
  return order_realloc(ctx, slot, o, n);
}
static void owned_read(hl_ctx_t *c, void *const *slot, size_t off, void *dst, size_t len) {
  owned_check(c, slot);
  order_read(c, slot, off, dst, len);
}
static void owned_write(hl_ctx_t *c, void *const *slot, size_t off, const void *src, size_t len) {
  owned_check(c, slot);
  order_write(c, slot, off, src, len);
}
static void owned_link(hl_ctx_t *c, void **slot, size_t field, void **target) {
  owned_check(c, slot);
  if (target) owned_check(c, target);
  order_link(c, slot, field, target);
}
static void owned_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  owned_check(from, slot);
  order_send(from, to, slot);
  atomic_store(&owner_of[order_obj(slot)], to->thread);
}
static const hl_allocator_t owned_checker = {
    .name = "owned",
    .summary = "test",
    .flags = HL_ALLOC_NO_MEMORY | HL_ALLOC_OWNED,
    .heap_init = plain_heap_init,
    .heap_done = plain_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = hl_flat_thread_done,
    .alloc = owned_alloc,
    .free = owned_free,
    .realloc = owned_realloc,
    .read = owned_read,
    .write = owned_write,
    .link = owned_link,
    .send = owned_send,
    .stats = no_stats,
    .identify = always_ok,
};

/* ---- messages of several objects and free requests ---- */

/* The ownership checker with send_set and free_post, as ravioli has them.
   send_set must get the whole message at once, from its owner; free_post a
   request for an object the named owner really owns, after the owner's
   earlier events on it (the order checker says so). The owner frees
   requested objects at its next call or its thread_done; any later use of
   such a slot by the harness is an order violation (freed twice, or used
   after free). */
#define POST_THREADS 64
#define POST_MAX     8192
static pthread_mutex_t post_lock[POST_THREADS];
static void **post_pending[POST_THREADS][POST_MAX];
static _Atomic uint32_t post_count[POST_THREADS];
static _Atomic uint64_t post_calls, post_done, post_violations, set_calls, set_objects;

static void post_drain(hl_ctx_t *ctx) {
  if (ctx->thread >= POST_THREADS || atomic_load(&post_count[ctx->thread]) == 0) return;
  pthread_mutex_lock(&post_lock[ctx->thread]);
  uint32_t n = atomic_load(&post_count[ctx->thread]);
  for (uint32_t i = 0; i < n; i++) {
    void **slot = post_pending[ctx->thread][i];
    owned_check(ctx, slot);
    order_free(ctx, slot, 0); /* sets *slot = NULL, as alloc.h asks */
    atomic_fetch_add(&post_done, 1);
  }
  atomic_store(&post_count[ctx->thread], 0);
  pthread_mutex_unlock(&post_lock[ctx->thread]);
}
static void post_free_post(hl_ctx_t *from, hl_ctx_t *owner, void **slot, size_t size) {
  (void)size;
  atomic_fetch_add(&post_calls, 1);
  uint32_t obj = order_obj(slot);
  if (from->thread == owner->thread || atomic_load(&owner_of[obj]) != owner->thread ||
      atomic_load(&order_state[obj]) != 1 || owner->thread >= POST_THREADS)
    atomic_fetch_add(&post_violations, 1);
  if (owner->thread >= POST_THREADS) return;
  pthread_mutex_lock(&post_lock[owner->thread]);
  uint32_t n = atomic_load(&post_count[owner->thread]);
  if (n < POST_MAX) {
    post_pending[owner->thread][n] = slot;
    atomic_store(&post_count[owner->thread], n + 1);
  } else {
    atomic_fetch_add(&post_violations, 1);
  }
  pthread_mutex_unlock(&post_lock[owner->thread]);
}
static void post_send_set(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n) {
  post_drain(from);
  if (n < 2) atomic_fetch_add(&post_violations, 1); /* one object is a plain send */
  atomic_fetch_add(&set_calls, 1);
  atomic_fetch_add(&set_objects, n);
  for (size_t i = 0; i < n; i++) owned_send(from, to, slots[i]);
}
static int post_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t k, size_t al) {
  post_drain(ctx);
  return owned_alloc(ctx, slot, size, k, al);
}
static void post_free(hl_ctx_t *ctx, void **slot, size_t size) {
  post_drain(ctx);
  owned_free(ctx, slot, size);
}
static int post_realloc(hl_ctx_t *ctx, void **slot, size_t o, size_t n) {
  post_drain(ctx);
  return owned_realloc(ctx, slot, o, n);
}
static void post_read(hl_ctx_t *c, void *const *slot, size_t off, void *dst, size_t len) {
  post_drain(c);
  owned_read(c, slot, off, dst, len);
}
static void post_write(hl_ctx_t *c, void *const *slot, size_t off, const void *src, size_t len) {
  post_drain(c);
  owned_write(c, slot, off, src, len);
}
static void post_link(hl_ctx_t *c, void **slot, size_t field, void **target) {
  post_drain(c);
  owned_link(c, slot, field, target);
}
static void post_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  post_drain(from);
  owned_send(from, to, slot);
}
static void post_thread_done(hl_ctx_t *ctx) {
  post_drain(ctx);
  hl_flat_thread_done(ctx);
}
static const hl_allocator_t owned_poster = {
    .name = "owned-post",
    .summary = "test",
    .flags = HL_ALLOC_NO_MEMORY | HL_ALLOC_OWNED,
    .heap_init = plain_heap_init,
    .heap_done = plain_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = post_thread_done,
    .alloc = post_alloc,
    .free = post_free,
    .realloc = post_realloc,
    .read = post_read,
    .write = post_write,
    .link = post_link,
    .send = post_send,
    .send_set = post_send_set,
    .free_post = post_free_post,
    .stats = no_stats,
    .identify = always_ok,
};

/* A flat allocator with send_set, to replay sets with --verify: contents
   and the links among the objects must survive. */
static void flat_send_set(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n) {
  atomic_fetch_add(&set_calls, 1);
  atomic_fetch_add(&set_objects, n);
  for (size_t i = 0; i < n; i++) hl_flat_send(from, to, slots[i]);
}
static const hl_allocator_t faulty_sets = {
    .name = "faulty-sets",
    .summary = "test",
    .heap_init = plain_heap_init,
    .heap_done = plain_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = hl_flat_thread_done,
    .alloc = faulty_alloc,
    .free = faulty_free,
    .realloc = faulty_realloc,
    .read = hl_flat_read,
    .write = hl_flat_write,
    .link = hl_flat_link,
    .send = hl_flat_send,
    .send_set = flat_send_set,
    .stats = no_stats,
    .identify = always_ok,
};

static int run(hl_replay_trace_t *t, const hl_allocator_t *a, hl_replay_mode_t mode,
               hl_access_model_t access, bool verify, char *why, size_t len) {
  hl_replay_options_t opt = {.allocator = a, .mode = mode, .access = access, .verify = verify};
  hl_metrics_t row;
  hl_metrics_init(&row);
  int rc = hl_replay_run(t, &opt, &row, why, len);
  hl_metrics_free(&row);
  return rc;
}

static void test_verify_catches_faults(hl_replay_trace_t *t) {
  char why[512];
  const struct {
    int fault;
    const char *expect;
  } cases[] = {
      {FAULT_OVERLAP, "overlaps live object"},
      {FAULT_MISALIGN, "not aligned"},
      {FAULT_REALLOC_LOSES, "contents not preserved"},
      {FAULT_CALLOC_DIRTY, "calloc memory must be zero"},
  };
  fault = FAULT_NONE;
  why[0] = 0;
  CHECK(run(t, &faulty, HL_REPLAY_SERIAL, HL_ACCESS_AUTO, true, why, sizeof why) == 0,
        "a correct allocator must pass verify: %s", why);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fault = cases[i].fault;
    why[0] = 0;
    int rc = run(t, &faulty, HL_REPLAY_SERIAL, HL_ACCESS_AUTO, true, why, sizeof why);
    CHECK(rc != 0 && strstr(why, cases[i].expect), "fault %d: rc %d, why '%s', expected '%s'",
          cases[i].fault, rc, why, cases[i].expect);
  }
  fault = FAULT_NONE;
}

/* Hand-overs to place around a barrier wait and a thread's end; then one
   that cannot be placed (an object sent to a thread already waiting). */
static void test_ownership_edges(void) {
  char path[600], why[512] = "";
  snprintf(path, sizeof path, "%s/test_replay_owned.hlt", tmpdir);
  w_begin(path, 2);
  w_op(HL_OP_THREAD_START, 0, 0);
  w_op(HL_OP_THREAD_START, 1, 0);
  uint64_t x = w_alloc(0, 32, HL_KIND_MALLOC, 0);
  w_event((hl_event_t){.op = HL_OP_BARRIER, .thread = 0, .obj = 7, .size = 2});
  w_op(HL_OP_FREE, 1, x); /* owner 0 waits at barrier 7: its send goes before the arrival */
  w_event((hl_event_t){.op = HL_OP_BARRIER, .thread = 1, .obj = 7, .size = 2});
  uint64_t y = w_alloc(0, 48, HL_KIND_MALLOC, 0);
  w_op(HL_OP_THREAD_END, 0, 0);
  w_event((hl_event_t){.op = HL_OP_READ, .thread = 1, .obj = y, .offset = 0, .size = 8});
  w_op(HL_OP_FREE, 1, y); /* owner 0 has ended: its send comes after its end */
  uint64_t z = w_alloc(1, 16, HL_KIND_MALLOC, 0); /* left live: freed by its owner, 1 */
  (void)z;
  w_op(HL_OP_THREAD_END, 1, 0);
  CHECK(w_end() == 0, "writing %s", path);
  hl_trace_error_t err;
  hl_replay_trace_t *t = hl_replay_load(path, HL_REPLAY_OWNERSHIP, &err);
  CHECK(t != NULL, "load with ownership: %s", err.message);
  if (!t) return;
  CHECK(hl_replay_handover_sends(t) == 2, "%llu hand-over sends, expected 2 (x and y)",
        (unsigned long long)hl_replay_handover_sends(t));
  CHECK(hl_replay_events(t) == 12, "the trace's own events: %llu, expected 12",
        (unsigned long long)hl_replay_events(t));
  for (int mode = 0; mode < 2; mode++) {
    atomic_store(&owner_violations, 0);
    why[0] = 0;
    CHECK(run(t, &owned_checker, (hl_replay_mode_t)mode, HL_ACCESS_NONE, false, why, sizeof why) ==
              0,
          "owned edges, mode %d: %s", mode, why);
    CHECK(atomic_load(&owner_violations) == 0, "mode %d: %llu ops outside the owner", mode,
          (unsigned long long)atomic_load(&owner_violations));
  }
  hl_replay_unload(t);

  w_begin(path, 2);
  w_op(HL_OP_THREAD_START, 0, 0);
  w_op(HL_OP_THREAD_START, 1, 0);
  w_event((hl_event_t){.op = HL_OP_BARRIER, .thread = 0, .obj = 1, .size = 2});
  uint64_t m = w_alloc(1, 32, HL_KIND_MALLOC, 0);
  w_event((hl_event_t){.op = HL_OP_SEND, .thread = 1, .obj = m, .target = 0});
  w_op(HL_OP_FREE, 1, m); /* 0 received m while waiting: no place for 0's send back */
  w_event((hl_event_t){.op = HL_OP_BARRIER, .thread = 1, .obj = 1, .size = 2});
  w_op(HL_OP_THREAD_END, 0, 0);
  w_op(HL_OP_THREAD_END, 1, 0);
  CHECK(w_end() == 0, "writing %s", path);
  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP, &err);
  CHECK(t == NULL && strstr(err.message, "waiting at a barrier") && err.event == 6,
        "unplaceable hand-over must fail the load at event 6: event %llu, '%s'",
        (unsigned long long)err.event, t ? "(loaded)" : err.message);
  if (t) hl_replay_unload(t);
  t = hl_replay_load(path, 0, &err);
  CHECK(t != NULL, "the same trace loads without ownership: %s", err.message);
  if (t) hl_replay_unload(t);
}

/* A trace of messages: every round each thread allocates 1..4 objects,
   writes them, links each to the next, and sends them as one message to the
   next thread (another thread's events in the middle of it); a third thread
   reads the sender's kept object while the message is open (an owned
   replay's hand-over must go before the message); the receiver reads them
   and frees the last; the others are freed a round later by yet another
   thread (remote frees). The generator keeps its own owner model to know
   what the replay must do. */
static uint64_t msg_sets, msg_set_objects, msg_remote_frees;
static uint32_t msg_owner[4096];

static void msg_use(uint32_t t, uint64_t obj) {
  msg_owner[obj] = t;
}
static void msg_free(uint32_t t, uint64_t obj) {
  if (msg_owner[obj] != t) msg_remote_frees++;
  w_op(HL_OP_FREE, t, obj);
}

static void make_message_trace(const char *path, int rounds) {
  const uint32_t threads = 4;
  msg_sets = msg_set_objects = msg_remote_frees = 0;
  w_begin(path, threads);
  uint64_t keep[4], left[4][4];
  int nleft[4] = {0};
  for (uint32_t t = 0; t < threads; t++) w_op(HL_OP_THREAD_START, t, 0);
  for (uint32_t t = 0; t < threads; t++) {
    keep[t] = w_alloc(t, 64, HL_KIND_MALLOC, 0);
    msg_use(t, keep[t]);
  }
  for (int r = 0; r < rounds; r++) {
    for (uint32_t t = 0; t < threads; t++) {
      uint32_t to = (t + 1) % threads, other = (t + 2) % threads;
      /* last round's leftovers of the thread before: freed here, remotely */
      uint32_t s = (t + threads - 1) % threads;
      for (int i = 0; i < nleft[s]; i++) msg_free(t, left[s][i]);
      nleft[s] = 0;
      int k = 1 + (r + (int)t) % 4;
      uint64_t o[4];
      for (int i = 0; i < k; i++) {
        o[i] = w_alloc(t, 32 + 8 * (uint64_t)i, i == 1 ? HL_KIND_CALLOC : HL_KIND_MALLOC, 0);
        msg_use(t, o[i]);
        w_event((hl_event_t){.op = HL_OP_WRITE, .thread = t, .obj = o[i], .size = 32});
      }
      for (int i = 0; i + 1 < k; i++)
        w_event((hl_event_t){
            .op = HL_OP_LINK, .thread = t, .obj = o[i], .offset = 8, .target = o[i + 1]});
      w_event((hl_event_t){.op = HL_OP_WRITE, .thread = t, .obj = keep[t], .size = 64});
      msg_use(t, keep[t]);
      for (int i = 0; i + 1 < k; i++) {
        w_event((hl_event_t){.op = HL_OP_SEND_PART, .thread = t, .obj = o[i], .target = to});
        msg_use(to, o[i]);
        if (i == 0) { /* others' events inside the message */
          w_event((hl_event_t){
              .op = HL_OP_READ, .thread = other, .obj = keep[t], .offset = 0, .size = 8});
          msg_use(other, keep[t]);
          uint64_t tmp = w_alloc(to, 16, HL_KIND_MALLOC, 0);
          msg_use(to, tmp);
          msg_free(to, tmp);
        }
      }
      w_event((hl_event_t){.op = HL_OP_SEND, .thread = t, .obj = o[k - 1], .target = to});
      msg_use(to, o[k - 1]);
      if (k > 1) msg_sets++, msg_set_objects += (uint64_t)k;
      for (int i = 0; i < k; i++)
        w_event((hl_event_t){.op = HL_OP_READ, .thread = to, .obj = o[i], .offset = 0, .size = 32});
      msg_free(to, o[k - 1]);
      for (int i = 0; i + 1 < k; i++) left[t][nleft[t]++] = o[i];
    }
  }
  /* the kept objects are freed by the next thread; the last leftovers stay
     live: the replay frees them (or, requested, their owner does) */
  for (uint32_t t = 0; t < threads; t++) msg_free((t + 1) % threads, keep[t]);
  for (uint32_t t = 0; t < threads; t++) w_op(HL_OP_THREAD_END, t, 0);
  CHECK(w_end() == 0, "writing %s", path);
}

static void post_reset(void) {
  for (int i = 0; i < POST_THREADS; i++) atomic_store(&post_count[i], 0);
  memset((void *)order_state, 0, sizeof order_state);
  atomic_store(&order_violations, 0);
  atomic_store(&owner_violations, 0);
  atomic_store(&post_calls, 0);
  atomic_store(&post_done, 0);
  atomic_store(&post_violations, 0);
  atomic_store(&set_calls, 0);
  atomic_store(&set_objects, 0);
}

static int run_how(hl_replay_trace_t *t, const hl_allocator_t *a, hl_replay_mode_t mode,
                   hl_remote_free_t how, bool verify, char *col, char *why, size_t len) {
  hl_replay_options_t opt = {.allocator = a,
                             .mode = mode,
                             .access =
                                 a->flags & HL_ALLOC_NO_MEMORY ? HL_ACCESS_NONE : HL_ACCESS_TOUCH,
                             .verify = verify,
                             .remote_free = how};
  hl_metrics_t row;
  hl_metrics_init(&row);
  int rc = hl_replay_run(t, &opt, &row, why, len);
  if (col)
    snprintf(col, 32, "%s",
             row.value[HL_METRIC_remote_free] ? row.value[HL_METRIC_remote_free] : "NA");
  hl_metrics_free(&row);
  return rc;
}

static const hl_replay_mode_t all_modes[] = {HL_REPLAY_SERIAL, HL_REPLAY_TURNS, HL_REPLAY_THREADS};

static void test_messages(void) {
  char path[600], why[512] = "", col[32];
  snprintf(path, sizeof path, "%s/test_replay_messages.hlt", tmpdir);
  make_message_trace(path, 12);
  CHECK(msg_sets > 0 && msg_remote_frees > 0, "the trace has sets (%llu) and remote frees (%llu)",
        (unsigned long long)msg_sets, (unsigned long long)msg_remote_frees);
  hl_trace_error_t err;

  /* Flat allocators, every mode, with --verify: per-object sends (system)
     and send_set (faulty-sets), once per message of more than one object. */
  hl_replay_trace_t *t = hl_replay_load(path, 0, &err);
  CHECK(t != NULL, "load: %s", err.message);
  if (!t) return;
  CHECK(hl_replay_max_message(t) == 4, "largest message %u, expected 4", hl_replay_max_message(t));
  for (size_t m = 0; m < 3; m++) {
    why[0] = 0;
    CHECK(run_how(t, hl_alloc_find("system"), all_modes[m], HL_REMOTE_FREE_SEND, true, col, why,
                  sizeof why) == 0 &&
              strcmp(col, "direct") == 0,
          "system, %s, verify: %s (remote_free %s)", hl_replay_mode_name(all_modes[m]), why, col);
    post_reset();
    why[0] = 0;
    CHECK(run_how(t, &faulty_sets, all_modes[m], HL_REMOTE_FREE_SEND, true, NULL, why,
                  sizeof why) == 0,
          "send_set, %s, verify: %s", hl_replay_mode_name(all_modes[m]), why);
    CHECK(atomic_load(&set_calls) == msg_sets && atomic_load(&set_objects) == msg_set_objects,
          "%s: %llu send_set calls of %llu objects, expected %llu of %llu",
          hl_replay_mode_name(all_modes[m]), (unsigned long long)atomic_load(&set_calls),
          (unsigned long long)atomic_load(&set_objects), (unsigned long long)msg_sets,
          (unsigned long long)msg_set_objects);
  }
  /* request mode changes nothing for allocators without owners */
  why[0] = 0;
  CHECK(run_how(t, hl_alloc_find("system"), HL_REPLAY_SERIAL, HL_REMOTE_FREE_REQUEST, true, col,
                why, sizeof why) == 0 &&
            strcmp(col, "direct") == 0,
        "system, request: %s (remote_free %s)", why, col);
  /* verify still fails when a set loses contents: break realloc? no, calloc */
  fault = FAULT_CALLOC_DIRTY;
  CHECK(run_how(t, &faulty_sets, HL_REPLAY_SERIAL, HL_REMOTE_FREE_SEND, true, NULL, why,
                sizeof why) != 0 &&
            strstr(why, "calloc memory must be zero"),
        "a faulty allocator passed verify on the message trace: %s", why);
  fault = FAULT_NONE;
  hl_replay_unload(t);

  /* Owned: every op from the owner, sets handed over whole, the parts used
     by the receiver only after the message, many times over in threads. */
  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP, &err);
  CHECK(t != NULL, "load with ownership: %s", err.message);
  if (!t) return;
  uint64_t sends_send_mode = hl_replay_handover_sends(t);
  CHECK(sends_send_mode > 0 && hl_replay_free_requests(t) == 0,
        "send mode: %llu hand-overs, %llu free requests", (unsigned long long)sends_send_mode,
        (unsigned long long)hl_replay_free_requests(t));
  for (int rep = 0; rep < 12; rep++) {
    hl_replay_mode_t mode = all_modes[rep < 3 ? rep : 2];
    const hl_allocator_t *a = rep % 2 ? &owned_checker : &owned_poster;
    post_reset();
    why[0] = 0;
    CHECK(run_how(t, a, mode, HL_REMOTE_FREE_SEND, false, col, why, sizeof why) == 0 &&
              strcmp(col, "send") == 0,
          "%s, %s: %s (remote_free %s)", a->name, hl_replay_mode_name(mode), why, col);
    CHECK(atomic_load(&owner_violations) == 0 && atomic_load(&order_violations) == 0 &&
              atomic_load(&post_violations) == 0 && atomic_load(&post_calls) == 0,
          "%s, %s, rep %d: %llu outside the owner, %llu out of order, %llu bad sets, %llu posts",
          a->name, hl_replay_mode_name(mode), rep,
          (unsigned long long)atomic_load(&owner_violations),
          (unsigned long long)atomic_load(&order_violations),
          (unsigned long long)atomic_load(&post_violations),
          (unsigned long long)atomic_load(&post_calls));
    if (a == &owned_poster)
      CHECK(atomic_load(&set_calls) == msg_sets, "owned send_set calls %llu, expected %llu",
            (unsigned long long)atomic_load(&set_calls), (unsigned long long)msg_sets);
  }
  /* The run refuses request mode for a trace loaded for send mode. */
  CHECK(run_how(t, &owned_poster, HL_REPLAY_SERIAL, HL_REMOTE_FREE_REQUEST, false, NULL, why,
                sizeof why) != 0 &&
            strstr(why, "hl_replay_options_load_flags"),
        "a send-mode load replayed in request mode: %s", why);
  hl_replay_unload(t);

  /* Request mode: remote frees are free_post to the owner, no hand-over. */
  hl_replay_options_t opt = {.allocator = &owned_poster, .remote_free = HL_REMOTE_FREE_REQUEST};
  CHECK(hl_replay_options_load_flags(&opt) == (HL_REPLAY_OWNERSHIP | HL_REPLAY_FREE_REQUEST),
        "load flags for request mode");
  t = hl_replay_load(path, hl_replay_options_load_flags(&opt), &err);
  CHECK(t != NULL, "load for request mode: %s", err.message);
  if (!t) return;
  CHECK(hl_replay_free_requests(t) == msg_remote_frees,
        "%llu free requests, the trace has %llu remote frees",
        (unsigned long long)hl_replay_free_requests(t), (unsigned long long)msg_remote_frees);
  CHECK(hl_replay_handover_sends(t) < sends_send_mode,
        "request mode needs fewer hand-overs: %llu, send mode %llu",
        (unsigned long long)hl_replay_handover_sends(t), (unsigned long long)sends_send_mode);
  for (int rep = 0; rep < 12; rep++) {
    hl_replay_mode_t mode = all_modes[rep < 3 ? rep : 2];
    post_reset();
    why[0] = 0;
    CHECK(run_how(t, &owned_poster, mode, HL_REMOTE_FREE_REQUEST, false, col, why, sizeof why) ==
                  0 &&
              strcmp(col, "request") == 0,
          "request, %s: %s (remote_free %s)", hl_replay_mode_name(mode), why, col);
    CHECK(atomic_load(&owner_violations) == 0 && atomic_load(&order_violations) == 0 &&
              atomic_load(&post_violations) == 0,
          "request, %s, rep %d: %llu outside the owner, %llu out of order, %llu bad requests",
          hl_replay_mode_name(mode), rep, (unsigned long long)atomic_load(&owner_violations),
          (unsigned long long)atomic_load(&order_violations),
          (unsigned long long)atomic_load(&post_violations));
    CHECK(atomic_load(&post_calls) == msg_remote_frees &&
              atomic_load(&post_done) == msg_remote_frees,
          "request, %s: %llu free_post, %llu done by the owner, expected %llu",
          hl_replay_mode_name(mode), (unsigned long long)atomic_load(&post_calls),
          (unsigned long long)atomic_load(&post_done), (unsigned long long)msg_remote_frees);
  }
  /* An owned allocator without free_post cannot take requests. */
  CHECK(run_how(t, &owned_checker, HL_REPLAY_SERIAL, HL_REMOTE_FREE_REQUEST, false, NULL, why,
                sizeof why) != 0 &&
            strstr(why, "has no free requests (free_post)"),
        "request mode without free_post: %s", why);
  opt.allocator = &owned_checker;
  CHECK(hl_replay_options_check(&opt, why, sizeof why) != 0 && strstr(why, "--remote-free send"),
        "options check without free_post: %s", why);
  hl_replay_unload(t);

  /* An object that reaches a thread while it builds a message and is then
     used elsewhere: no place for the owner's hand-over. */
  w_begin(path, 3);
  for (uint32_t th = 0; th < 3; th++) w_op(HL_OP_THREAD_START, th, 0);
  uint64_t a = w_alloc(0, 16, HL_KIND_MALLOC, 0), b = w_alloc(0, 16, HL_KIND_MALLOC, 0);
  uint64_t c = w_alloc(2, 16, HL_KIND_MALLOC, 0);
  w_event((hl_event_t){.op = HL_OP_SEND_PART, .thread = 0, .obj = a, .target = 1});
  w_event((hl_event_t){.op = HL_OP_SEND, .thread = 2, .obj = c, .target = 0});
  w_op(HL_OP_FREE, 1, c);
  w_event((hl_event_t){.op = HL_OP_SEND, .thread = 0, .obj = b, .target = 1});
  CHECK(w_end() == 0, "writing %s", path);
  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP, &err);
  CHECK(t == NULL && strstr(err.message, "building a message") && err.event == 9,
        "unplaceable hand-over must fail the load at event 9: event %llu, '%s'",
        (unsigned long long)err.event, t ? "(loaded)" : err.message);
  if (t) hl_replay_unload(t);
  /* a free after the owner's end cannot be a request (an ended thread
     serves none): it is replayed as a hand-over and a free */
  w_begin(path, 2);
  w_op(HL_OP_THREAD_START, 0, 0);
  w_op(HL_OP_THREAD_START, 1, 0);
  a = w_alloc(0, 16, HL_KIND_MALLOC, 0);
  b = w_alloc(0, 16, HL_KIND_MALLOC, 0);
  w_op(HL_OP_FREE, 1, a); /* a request: owner 0 has not ended */
  w_op(HL_OP_THREAD_END, 0, 0);
  w_op(HL_OP_FREE, 1, b); /* owner 0 has ended: hand-over and free */
  CHECK(w_end() == 0, "writing %s", path);
  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP | HL_REPLAY_FREE_REQUEST, &err);
  CHECK(t && hl_replay_free_requests(t) == 1 && hl_replay_handover_sends(t) == 1,
        "frees around the owner's end: %llu requests, %llu hand-overs (expected 1, 1): %s",
        t ? (unsigned long long)hl_replay_free_requests(t) : 0ULL,
        t ? (unsigned long long)hl_replay_handover_sends(t) : 0ULL, t ? "" : err.message);
  for (size_t m = 0; t && m < 3; m++) {
    post_reset();
    CHECK(run_how(t, &owned_poster, all_modes[m], HL_REMOTE_FREE_REQUEST, false, NULL, why,
                  sizeof why) == 0 &&
              atomic_load(&post_done) == 1 && atomic_load(&owner_violations) == 0 &&
              atomic_load(&order_violations) == 0,
          "frees around the owner's end, %s: %s; %llu served", hl_replay_mode_name(all_modes[m]),
          why, (unsigned long long)atomic_load(&post_done));
  }
  if (t) hl_replay_unload(t);
  /* the message trace's loader error again, with the free as a request:
     the free needs no hand-over */
  w_begin(path, 3);
  for (uint32_t th = 0; th < 3; th++) w_op(HL_OP_THREAD_START, th, 0);
  a = w_alloc(0, 16, HL_KIND_MALLOC, 0), b = w_alloc(0, 16, HL_KIND_MALLOC, 0);
  c = w_alloc(2, 16, HL_KIND_MALLOC, 0);
  w_event((hl_event_t){.op = HL_OP_SEND_PART, .thread = 0, .obj = a, .target = 1});
  w_event((hl_event_t){.op = HL_OP_SEND, .thread = 2, .obj = c, .target = 0});
  w_op(HL_OP_FREE, 1, c);
  w_event((hl_event_t){.op = HL_OP_SEND, .thread = 0, .obj = b, .target = 1});
  CHECK(w_end() == 0, "writing %s", path);

  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP | HL_REPLAY_FREE_REQUEST, &err);
  CHECK(t != NULL && hl_replay_free_requests(t) == 1, "the free as a request: %s",
        t ? "" : err.message);
  if (t) hl_replay_unload(t);
}

int main(void) {
  const char *base = getenv("HL_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s", base ? base : "/tmp");
  char path[600];
  snprintf(path, sizeof path, "%s/test_replay_mixed.hlt", tmpdir);
  make_mixed_trace(path, 4, 60);

  hl_trace_error_t err;
  hl_replay_trace_t *t = hl_replay_load(path, 0, &err);
  CHECK(t != NULL, "load: %s", err.message);
  if (!t) return check_summary("test_replay");
  CHECK(hl_replay_threads(t) == 4, "threads %u", hl_replay_threads(t));
  CHECK(hl_replay_has_accesses(t), "the mixed trace has read/write events");

  char why[512] = "";
  test_verify_catches_faults(t);
  for (int mode = 0; mode < 2; mode++) {
    why[0] = 0;
    CHECK(run(t, hl_alloc_find("system"), (hl_replay_mode_t)mode, HL_ACCESS_TOUCH, true, why,
              sizeof why) == 0,
          "system, mode %d, verify: %s", mode, why);
  }

  /* Cross-thread order, many times over to give races a chance. */
  for (int rep = 0; rep < 20; rep++) {
    memset((void *)order_state, 0, sizeof order_state);
    atomic_store(&order_ops, 0);
    why[0] = 0;
    CHECK(run(t, &order_checker, HL_REPLAY_THREADS, HL_ACCESS_TRACED, false, why, sizeof why) == 0,
          "order run: %s", why);
  }
  CHECK(atomic_load(&order_violations) == 0, "%llu uses out of the trace's order",
        (unsigned long long)atomic_load(&order_violations));
  uint64_t threaded_ops = atomic_load(&order_ops);
  memset((void *)order_state, 0, sizeof order_state);
  atomic_store(&order_ops, 0);
  CHECK(run(t, &order_checker, HL_REPLAY_SERIAL, HL_ACCESS_TRACED, false, why, sizeof why) == 0,
        "serial order run: %s", why);
  CHECK(atomic_load(&order_ops) == threaded_ops, "serial ran %llu ops, threaded %llu",
        (unsigned long long)atomic_load(&order_ops), (unsigned long long)threaded_ops);
  CHECK(threaded_ops > hl_replay_events(t) / 2, "ops %llu for %llu events",
        (unsigned long long)threaded_ops, (unsigned long long)hl_replay_events(t));

  /* An owned allocator is refused a trace loaded without ownership... */
  CHECK(run(t, &owned_checker, HL_REPLAY_SERIAL, HL_ACCESS_NONE, false, why, sizeof why) != 0 &&
            strstr(why, "needs per-thread ownership"),
        "owned allocator on a plain load must be refused: %s", why);
  /* null cannot be verified */
  CHECK(run(t, hl_alloc_find("null"), HL_REPLAY_SERIAL, HL_ACCESS_NONE, true, why, sizeof why) !=
                0 &&
            strstr(why, "nothing to verify"),
        "null --verify must be refused: %s", why);
  hl_replay_unload(t);

  /* ...and with it, every op of the mixed trace runs in its owner's context. */
  t = hl_replay_load(path, HL_REPLAY_OWNERSHIP, &err);
  CHECK(t != NULL, "load with ownership: %s", err.message);
  if (t) {
    CHECK(hl_replay_handover_sends(t) > 0, "the mixed trace has implicit hand-overs");
    for (int rep = 0; rep < 10; rep++) {
      hl_replay_mode_t mode = rep == 0 ? HL_REPLAY_SERIAL : HL_REPLAY_THREADS;
      atomic_store(&owner_violations, 0);
      memset((void *)order_state, 0, sizeof order_state);
      atomic_store(&order_violations, 0);
      why[0] = 0;
      CHECK(run(t, &owned_checker, mode, HL_ACCESS_TRACED, false, why, sizeof why) == 0,
            "owned run %d: %s", rep, why);
      CHECK(atomic_load(&owner_violations) == 0 && atomic_load(&order_violations) == 0,
            "owned run %d: %llu ops outside the owner, %llu out of order", rep,
            (unsigned long long)atomic_load(&owner_violations),
            (unsigned long long)atomic_load(&order_violations));
    }
    hl_replay_unload(t);
  }
  test_ownership_edges();
  for (int i = 0; i < POST_THREADS; i++) pthread_mutex_init(&post_lock[i], NULL);
  test_messages();

  /* loading a corrupt file reports file, offset and event */
  snprintf(path, sizeof path, "%s/test_replay_bad.hlt", tmpdir);
  FILE *f = fopen(path, "wb");
  if (f) fputs("not a trace at all", f), fclose(f);
  t = hl_replay_load(path, 0, &err);
  CHECK(t == NULL && strstr(err.file, "test_replay_bad.hlt") && err.offset == 0,
        "corrupt trace: file '%s' offset %llu: %s", err.file, (unsigned long long)err.offset,
        err.message);
  if (t) hl_replay_unload(t);
  return check_summary("test_replay");
}
