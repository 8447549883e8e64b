/* ----------------------------------------------------------------------------
  harness/replay.c: executing a loaded trace through an allocator.

  Each traced thread's program runs on its own OS thread (or all of them, in
  trace order, on this one in serial mode). Objects live in reference slots
  of one object table; the allocator sees only `hl_ctx_t` and slots.

  Threads-in-turn mode (the simulated replay's) keeps one OS thread per
  traced thread but runs one at a time: a baton passes, in the trace's event
  order, to the thread of the next event, so every allocator sees the threads
  it sees natively (its per-thread caches, arenas, thread exit) and the run
  is still one deterministic sequence. A thread whose program has ended
  exits holding the baton: the main thread joins it (its TLS destructors,
  where allocators flush their thread caches, run then, still alone) and
  passes the baton on.

  The access model decides what touches object memory (replay.h). Writes
  always store a pattern derived from the object and the byte offset, so the
  verify mode can check, at every read, realloc and free, that contents were
  preserved. Verify also checks alignment and that no two live objects
  overlap (flat allocators), and that calloc memory is zero.

  A message of several objects: the thread keeps the slots of its SEND_PART
  events (replay_thread_t.msg_*, sized at load for the largest message) and
  hands them over at its closing SEND, as one send_set call when the
  allocator has one, else one send per object; the parts' publications wait
  for that SEND, since until then the objects have not left. A free request
  (REPLAY_FLAG_POSTED) is free_post to the owner: the harness never touches
  that slot again (the owner frees it and sets it NULL, alloc.h), so verify
  cannot read it first and the clean-up at the end skips it.

  Waiting between threads uses a futex on the object's epoch word: spin a
  little first (hand-overs are usually quick), then sleep, with a timeout so
  a failure elsewhere is noticed and never turns into a hang.

  Built a second time with -DHL_CAPTURE for build/bin/hlreplay-sim (`hlreplay
  --sim`), the replay also tells the capture runtime (sim/capture.h) which
  simulated core runs each event and which object an application access is
  for; in the normal build those hooks compile to nothing.
---------------------------------------------------------------------------- */
#include "harness/counters.h"
#include "harness/replay_internal.h"
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <search.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef HL_CAPTURE
#include "sim/capture.h"
#define CAPTURE_CORE(core) hl_capture_set_core(core)
#define CAPTURE_APP(run, obj, buf, len)                                                            \
  hl_capture_app_begin(obj, (run)->sizes[obj], (run)->owner[obj], buf, len)
#define CAPTURE_ALLOC()                 hl_capture_alloc_begin()
#define CAPTURE_THREAD(stack_top, size) hl_capture_thread_begin(stack_top, size)
#define CAPTURE_SWITCH(core)            hl_capture_switch(core)
#define CAPTURE_OFF()                   hl_capture_stop()
#define CAPTURE_FREED(p, len)           hl_capture_freed(p, len)
#else
#define CAPTURE_CORE(core)              ((void)0)
#define CAPTURE_APP(run, obj, buf, len) ((void)0)
#define CAPTURE_ALLOC()                 ((void)0)
#define CAPTURE_THREAD(stack_top, size) ((void)0)
#define CAPTURE_SWITCH(core)            ((void)0)
#define CAPTURE_OFF()                   ((void)0)
#define CAPTURE_FREED(p, len)           ((void)0)
#endif

#define REPLAY_CHUNK       65536        /* bytes touched per read/write call */
#define REPLAY_WAITING     0x80000000u  /* epoch bit: someone sleeps on this word */
#define REPLAY_STACK       (256 * 1024) /* each worker thread's stack */
#define REPLAY_TURN_YIELDS 16           /* threads in turn: CPU yields before sleeping */

#if defined(__x86_64__) || defined(__i386__)
#define replay_cpu_relax() __builtin_ia32_pause()
#else
#define replay_cpu_relax() ((void)0)
#endif

/* ---- mode and access model names ---- */

static const char *const mode_names[] = {"threads-as-traced", "serial", "threads-in-turn"};

const char *hl_replay_mode_name(hl_replay_mode_t mode) {
  return mode_names[mode];
}

static const char *const access_names[] = {"auto", "traced", "touch", "none"};
static const char *const access_descriptions[] = {
    "traced when the trace has read/write events, else touch",
    "only the trace's read/write events touch object memory",
    ("each object is written whole when allocated (and its new tail after realloc) and read "
     "whole before it is freed; the trace's read/write events touch memory too"),
    "nothing touches object memory (allocator calls only)",
};

const char *hl_access_model_name(hl_access_model_t m) {
  return access_names[m];
}
const char *hl_access_model_description(hl_access_model_t m) {
  return access_descriptions[m];
}

bool hl_access_model_parse(const char *name, hl_access_model_t *out) {
  for (unsigned i = 0; i < sizeof access_names / sizeof access_names[0]; i++)
    if (strcmp(name, access_names[i]) == 0) {
      *out = (hl_access_model_t)i;
      return true;
    }
  return false;
}

/* ---- the state of one run ---- */

typedef struct replay_run_s replay_run_t;

typedef struct replay_thread_s {
  hl_ctx_t ctx;
  replay_run_t *run;
  const replay_event_t *events;
  size_t count, next; /* program and position */
  bool ended;
  _Atomic uint64_t done; /* events completed, published now and then for progress */
  uint8_t *scratch;      /* REPLAY_CHUNK bytes for reads */
  pthread_t os_thread;
  bool joined;
  _Atomic uint32_t turn;     /* threads-in-turn: bumped when the baton is handed to this thread */
  _Atomic uint32_t requests; /* free requests posted to this thread so far (its END awaits) */
  /* the message being gathered: SEND_PART events and their slots (one more
     slot, for the closing SEND's object); sized trace->max_parts */
  const replay_event_t **msg_parts;
  void ***msg_slots;
  uint32_t msg_len;
} replay_thread_t;

typedef struct replay_barrier_s {
  _Atomic uint32_t arrived;
} replay_barrier_t;

struct replay_run_s {
  const hl_replay_trace_t *trace;
  const hl_replay_options_t *opt;
  const hl_allocator_t *alloc;
  hl_access_model_t access; /* resolved: never AUTO */
  hl_heap_t heap;
  replay_thread_t *threads;
  void **slots;             /* the reference slot of each object */
  uint64_t *sizes;          /* current size of each object */
  _Atomic uint32_t *epochs; /* hand-over counter of each object */
  uint8_t *linked;          /* verify: object holds pointers, pattern no longer applies */
  uint8_t *posted;          /* free requested (free_post): the slot is the owner's to clear */
#ifdef HL_CAPTURE
  uint32_t *owner; /* the logical thread that allocated each object (attribution) */
#endif
  replay_barrier_t *barriers;
  _Atomic uint32_t start_gate;
  _Atomic uint32_t finished; /* worker threads done */
  /* threads-in-turn: the next event in trace order (written by the baton's
     holder only), the main thread's baton word, and the thread that ended */
  _Atomic uint64_t cursor;
  _Atomic uint32_t main_turn;
  uint32_t exiting;
  bool pinned;         /* threads in turn share one CPU (replay_turns_cpu) */
  cpu_set_t main_cpus; /* the main thread's CPUs before, restored after */
  _Atomic int failed;
  char why[512];
  pthread_mutex_t verify_lock;
  void *verify_live; /* tsearch tree of live [addr, addr+size) ranges */
  _Atomic uint64_t sink;
};

/* The byte pattern: byte i of object o holds (seed(o) + i) mod 256, so any
   range can be written or checked from one table with no per-byte work. */
static uint8_t replay_pattern[REPLAY_CHUNK + 256];

static void replay_pattern_init(void) {
  for (size_t i = 0; i < sizeof replay_pattern; i++) replay_pattern[i] = (uint8_t)i;
}

static inline const uint8_t *replay_pattern_at(uint32_t obj, uint64_t offset) {
  uint32_t seed = (obj * 2654435761u) >> 24;
  return replay_pattern + ((seed + offset) & 255);
}

/* Record the first failure; the failing thread stops, others notice in waits. */
static void replay_fail(replay_thread_t *th, const char *fmt, ...) {
  replay_run_t *run = th->run;
  int expected = 0;
  /* the other threads now leave their waits, at once: nothing they do is simulated */
  CAPTURE_OFF();
  if (atomic_compare_exchange_strong(&run->failed, &expected, 1)) {
    int n = snprintf(run->why, sizeof run->why,
                     "thread %u, event %zu of its program: ", th->ctx.thread, th->next);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof run->why) vsnprintf(run->why + n, sizeof run->why - n, fmt, ap);
    va_end(ap);
  }
}

/* ---- waiting between threads ---- */

static long replay_futex(_Atomic uint32_t *word, int op, uint32_t value,
                         const struct timespec *timeout) {
  return syscall(SYS_futex, (uint32_t *)word, op | FUTEX_PRIVATE_FLAG, value, timeout, NULL, 0);
}

static const struct timespec replay_wait_slice = {0, 50 * 1000 * 1000};

typedef struct replay_progress_s replay_progress_t;
static void replay_progress_tick(replay_run_t *run, replay_progress_t *p, uint64_t done);

/* Sleep until (*word & ~WAITING) >= target. False if the run failed
   meanwhile. With `progress` (the main thread of threads in turn), report
   progress between sleeps: the cursor is the events done. */
static bool replay_sleep_until(replay_run_t *run, _Atomic uint32_t *word, uint32_t target,
                               replay_progress_t *progress) {
  for (;;) {
    uint32_t cur = atomic_load_explicit(word, memory_order_acquire);
    if ((cur & ~REPLAY_WAITING) >= target) return true;
    if (atomic_load_explicit(&run->failed, memory_order_relaxed)) return false;
    if (!(cur & REPLAY_WAITING) && !atomic_compare_exchange_weak(word, &cur, cur | REPLAY_WAITING))
      continue;
    replay_futex(word, FUTEX_WAIT, cur | REPLAY_WAITING, &replay_wait_slice);
    if (progress)
      replay_progress_tick(run, progress, atomic_load_explicit(&run->cursor, memory_order_relaxed));
  }
}

/* The same, spinning a little first: hand-overs between free-running
   threads are usually quick. */
static bool replay_await(replay_run_t *run, _Atomic uint32_t *word, uint32_t target) {
  for (int spin = 0; spin < 256; spin++) {
    if ((atomic_load_explicit(word, memory_order_acquire) & ~REPLAY_WAITING) >= target) return true;
    replay_cpu_relax();
  }
  return replay_sleep_until(run, word, target, NULL);
}

static void replay_publish(_Atomic uint32_t *word) {
  uint32_t old = atomic_fetch_add_explicit(word, 1, memory_order_release);
  if (old & REPLAY_WAITING) {
    atomic_fetch_and_explicit(word, ~REPLAY_WAITING, memory_order_relaxed);
    replay_futex(word, FUTEX_WAKE, INT_MAX, NULL);
  }
}

static bool replay_barrier(replay_run_t *run, replay_barrier_t *b, uint32_t count) {
  uint32_t arrived = atomic_fetch_add(&b->arrived, 1) + 1;
  if (arrived == count) {
    replay_futex(&b->arrived, FUTEX_WAKE, INT_MAX, NULL);
    return true;
  }
  for (;;) {
    uint32_t cur = atomic_load(&b->arrived);
    if (cur >= count) return true;
    if (atomic_load_explicit(&run->failed, memory_order_relaxed)) return false;
    replay_futex(&b->arrived, FUTEX_WAIT, cur, &replay_wait_slice);
  }
}

/* ---- verify: live ranges must never overlap ---- */

typedef struct verify_range_s {
  uintptr_t start, end;
  uint32_t obj;
} verify_range_t;

/* Overlapping ranges compare equal, so tfind() of a new range finds any live
   range it overlaps; live ranges never overlap, so the order stays total. */
static int verify_range_cmp(const void *a, const void *b) {
  const verify_range_t *x = a, *y = b;
  if (x->end <= y->start) return -1;
  if (y->end <= x->start) return 1;
  return 0;
}

static bool verify_insert(replay_thread_t *th, uint32_t obj) {
  replay_run_t *run = th->run;
  if (run->alloc->flags & HL_ALLOC_MOVES) return true; /* addresses are not identities */
  void *p = run->slots[obj];
  if (p == NULL) return true; /* size-0 request answered with NULL */
  uint64_t size = run->sizes[obj] ? run->sizes[obj] : 1;
  verify_range_t *r = malloc(sizeof *r);
  if (!r) return replay_fail(th, "verify: out of memory"), false;
  *r = (verify_range_t){(uintptr_t)p, (uintptr_t)p + size, obj};
  pthread_mutex_lock(&run->verify_lock);
  verify_range_t **found = tfind(r, &run->verify_live, verify_range_cmp);
  bool ok = found == NULL;
  if (ok) {
    if (!tsearch(r, &run->verify_live, verify_range_cmp)) ok = false;
  } else {
    replay_fail(th, "verify: object %u at [%p, +%llu) overlaps live object %u at [%p, %p)", obj, p,
                (unsigned long long)size, (*found)->obj, (void *)(*found)->start,
                (void *)(*found)->end);
  }
  pthread_mutex_unlock(&run->verify_lock);
  if (!ok) free(r);
  return ok;
}

static void verify_remove(replay_run_t *run, uint32_t obj) {
  if ((run->alloc->flags & HL_ALLOC_MOVES) || run->slots[obj] == NULL) return;
  verify_range_t key = {(uintptr_t)run->slots[obj], (uintptr_t)run->slots[obj] + 1, obj};
  pthread_mutex_lock(&run->verify_lock);
  verify_range_t **found = tfind(&key, &run->verify_live, verify_range_cmp);
  verify_range_t *r = found ? *found : NULL;
  if (r) tdelete(r, &run->verify_live, verify_range_cmp);
  pthread_mutex_unlock(&run->verify_lock);
  free(r);
}

static bool verify_aligned(replay_thread_t *th, uint32_t obj, hl_alloc_kind_t kind, size_t align) {
  size_t want = hl_alloc_kind_alignment(kind, th->run->sizes[obj], align);
  uintptr_t p = (uintptr_t)th->run->slots[obj];
  if (p % want == 0) return true;
  replay_fail(th, "verify: object %u at %p is not aligned to %zu bytes (%s)", obj, (void *)p, want,
              hl_alloc_kind_name(kind));
  return false;
}

/* ---- touching contents ---- */

static void replay_write_range(replay_thread_t *th, uint32_t obj, uint64_t offset, uint64_t len) {
  replay_run_t *run = th->run;
  while (len) {
    size_t n = len < REPLAY_CHUNK ? (size_t)len : REPLAY_CHUNK;
    CAPTURE_APP(run, obj, replay_pattern_at(obj, offset), n);
    run->alloc->write(&th->ctx, &run->slots[obj], offset, replay_pattern_at(obj, offset), n);
    CAPTURE_ALLOC();
    offset += n, len -= n;
  }
}

/* Read a range; with `check`, it must hold the pattern (or zeros, for fresh
   calloc memory). */
typedef enum { READ_TOUCH, READ_CHECK_PATTERN, READ_CHECK_ZERO } replay_read_t;

static bool replay_read_range(replay_thread_t *th, uint32_t obj, uint64_t offset, uint64_t len,
                              replay_read_t mode) {
  replay_run_t *run = th->run;
  uint64_t sum = 0;
  while (len) {
    size_t n = len < REPLAY_CHUNK ? (size_t)len : REPLAY_CHUNK;
    CAPTURE_APP(run, obj, th->scratch, n);
    run->alloc->read(&th->ctx, &run->slots[obj], offset, th->scratch, n);
    CAPTURE_ALLOC();
    if (mode == READ_TOUCH) {
      sum += th->scratch[0] + th->scratch[n - 1];
    } else {
      for (size_t i = 0; i < n; i++) {
        uint8_t want = mode == READ_CHECK_ZERO ? 0 : replay_pattern_at(obj, offset)[i];
        if (th->scratch[i] != want) {
          replay_fail(th, "verify: object %u byte %llu is 0x%02x, expected 0x%02x (%s)", obj,
                      (unsigned long long)(offset + i), th->scratch[i], want,
                      mode == READ_CHECK_ZERO ? "calloc memory must be zero"
                                              : "contents not preserved");
          return false;
        }
      }
    }
    offset += n, len -= n;
  }
  if (mode == READ_TOUCH) atomic_fetch_add_explicit(&run->sink, sum, memory_order_relaxed);
  return true;
}

/* Reads of an object whose fields were linked see pointers, not the pattern. */
static replay_read_t replay_read_mode(const replay_run_t *run, uint32_t obj) {
  return run->opt->verify && !run->linked[obj] ? READ_CHECK_PATTERN : READ_TOUCH;
}

/* ---- one event ---- */

/* The closing SEND of a message: hand over the gathered parts and its own
   object, then publish the parts another thread awaits. */
static void replay_send_message(replay_thread_t *th, const replay_event_t *e) {
  replay_run_t *run = th->run;
  const hl_allocator_t *A = run->alloc;
  hl_ctx_t *to = &run->threads[e->a].ctx;
  uint32_t n = th->msg_len;
  th->msg_slots[n] = &run->slots[e->obj];
  if (A->send_set)
    A->send_set(&th->ctx, to, (void **const *)th->msg_slots, n + 1);
  else
    for (uint32_t i = 0; i <= n; i++) A->send(&th->ctx, to, th->msg_slots[i]);
  th->msg_len = 0;
  for (uint32_t i = 0; i < n; i++)
    if (th->msg_parts[i]->sync & REPLAY_PUBLISH)
      replay_publish(&run->epochs[th->msg_parts[i]->obj]);
}

/* A free request to the owner (--remote-free request). Only the owner may
   touch the object, so nothing is read first (no touch read, no verify
   check of the contents), and after free_post the slot is the owner's. */
static bool replay_free_post(replay_thread_t *th, const replay_event_t *e) {
  replay_run_t *run = th->run;
  if (run->opt->verify) verify_remove(run, e->obj); /* the owner has not freed it yet: no race */
  run->posted[e->obj] = 1;
  run->alloc->free_post(&th->ctx, &run->threads[e->b].ctx, &run->slots[e->obj], run->sizes[e->obj]);
  replay_publish(&run->threads[e->b].requests);
  return true;
}

static bool replay_step(replay_thread_t *th, const replay_event_t *e) {
  replay_run_t *run = th->run;
  const hl_allocator_t *A = run->alloc;
  hl_ctx_t *ctx = &th->ctx;
  bool touch = run->access == HL_ACCESS_TOUCH, traced = run->access != HL_ACCESS_NONE;
  bool verify = run->opt->verify;
  void **slot = &run->slots[e->obj];
  int rc;
  switch ((hl_op_t)e->op) {
    case HL_OP_ALLOC:
      run->sizes[e->obj] = e->a;
#ifdef HL_CAPTURE
      run->owner[e->obj] = th->ctx.thread;
#endif
      if ((rc = A->alloc(ctx, slot, e->a, (hl_alloc_kind_t)e->kind, e->b)) != 0)
        return replay_fail(th, "%s of object %u (%llu bytes) failed: %s%s%s",
                           hl_alloc_kind_name(e->kind), e->obj, (unsigned long long)e->a,
                           strerror(rc), rc == ENOTSUP ? ": allocator does not provide " : "",
                           rc == ENOTSUP ? hl_alloc_kind_name(e->kind) : ""),
               false;
      if (verify) {
        if (!verify_aligned(th, e->obj, (hl_alloc_kind_t)e->kind, e->b) ||
            !verify_insert(th, e->obj))
          return false;
        if (e->kind == HL_KIND_CALLOC && !replay_read_range(th, e->obj, 0, e->a, READ_CHECK_ZERO))
          return false;
      }
      if (touch || verify) replay_write_range(th, e->obj, 0, e->a);
      return true;
    case HL_OP_FREE:
      if (e->flags & REPLAY_FLAG_POSTED) return replay_free_post(th, e);
      if (touch || verify) {
        if (!replay_read_range(th, e->obj, 0, run->sizes[e->obj], replay_read_mode(run, e->obj)))
          return false;
      }
      if (verify) verify_remove(run, e->obj);
      /* the object's values die here, before the allocator's free code
         writes its own (a free-list link is live data again); an allocator
         whose slots are not addresses reports its dead memory itself */
      if (!(A->flags & HL_ALLOC_MOVES)) CAPTURE_FREED(*slot, run->sizes[e->obj]);
      A->free(ctx, slot, run->sizes[e->obj]);
      return true;
    case HL_OP_REALLOC: {
      uint64_t old = run->sizes[e->obj];
      void *before = *slot;
      if (verify) verify_remove(run, e->obj);
      if ((rc = A->realloc(ctx, slot, old, e->a)) != 0)
        return replay_fail(th, "realloc of object %u to %llu bytes failed: %s", e->obj,
                           (unsigned long long)e->a, strerror(rc)),
               false;
      run->sizes[e->obj] = e->a;
      /* a moving realloc's old block died inside the call (what the
         allocator wrote into it there is marked dead too: not separable) */
      if (!(A->flags & HL_ALLOC_MOVES) && *slot != before) CAPTURE_FREED(before, old);
      if (verify) {
        if (!verify_aligned(th, e->obj, HL_KIND_MALLOC, 0) || !verify_insert(th, e->obj) ||
            !replay_read_range(th, e->obj, 0, old < e->a ? old : e->a,
                               replay_read_mode(run, e->obj)))
          return false;
      }
      if ((touch || verify) && e->a > old) replay_write_range(th, e->obj, old, e->a - old);
      return true;
    }
    case HL_OP_READ:
      return !traced || replay_read_range(th, e->obj, e->a, e->b, replay_read_mode(run, e->obj));
    case HL_OP_WRITE:
      if (traced) replay_write_range(th, e->obj, e->a, e->b);
      return true;
    case HL_OP_LINK:
      if (verify) run->linked[e->obj] = 1;
      CAPTURE_APP(run, e->obj, NULL, 0); /* the application's pointer store */
      A->link(ctx, slot, e->a, e->b == REPLAY_NO_TARGET ? NULL : &run->slots[e->b]);
      CAPTURE_ALLOC();
      return true;
    case HL_OP_SEND:
      if (th->msg_len == 0 || (e->flags & REPLAY_FLAG_HANDOVER))
        A->send(ctx, &run->threads[e->a].ctx, slot);
      else
        replay_send_message(th, e);
      return true;
    case HL_OP_SEND_PART: /* sent, and published, with the message's SEND */
      if (th->msg_len >= run->trace->max_parts)
        return replay_fail(th, "internal: a message of more than %u parts", run->trace->max_parts),
               false;
      th->msg_parts[th->msg_len] = e;
      th->msg_slots[th->msg_len++] = slot;
      return true;
    case HL_OP_THREAD_START:
      return true; /* contexts are set up before the clock starts */
    case HL_OP_THREAD_END:
      A->thread_done(ctx);
      th->ended = true;
      return true;
    case HL_OP_BARRIER:
      /* serial and in-turn replays run in trace order, where every arrival
         precedes the release */
      return run->opt->mode != HL_REPLAY_THREADS ||
             replay_barrier(run, &run->barriers[e->obj], (uint32_t)e->a);
    default:
      return replay_fail(th, "unknown op %u", e->op), false;
  }
}

/* Run one event with its hand-over waits and publications. */
static inline bool replay_event(replay_thread_t *th, const replay_event_t *e) {
  replay_run_t *run = th->run;
  if (run->opt->mode == HL_REPLAY_THREADS) {
    if ((e->sync & REPLAY_AWAIT) && !replay_await(run, &run->epochs[e->obj], e->wait)) return false;
    if ((e->sync & REPLAY_AWAIT_TARGET) && !replay_await(run, &run->epochs[e->b], e->wait_target))
      return false;
    if ((e->sync & REPLAY_AWAIT_REQUESTS) && !replay_await(run, &th->requests, e->wait))
      return false;
  }
  if (!replay_step(th, e)) return false;
  if ((e->sync & REPLAY_PUBLISH) && e->op != HL_OP_SEND_PART) replay_publish(&run->epochs[e->obj]);
  if (e->sync & REPLAY_PUBLISH_TARGET) replay_publish(&run->epochs[e->b]);
  return true;
}

/* ---- progress (stderr, only when asked: a terminal) ---- */

#define REPLAY_PROGRESS_EVERY 65536 /* events between progress publications */

struct replay_progress_s {
  struct timespec start, last;
  bool shown;
};

static double replay_since(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) * 1e-9;
}

/* Print "done of total" once a second; nothing for runs shorter than that. */
static void replay_progress_tick(replay_run_t *run, replay_progress_t *p, uint64_t done) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (replay_since(&p->last, &now) < 1.0) return;
  p->last = now;
  p->shown = true;
  double total = (double)run->trace->events, secs = replay_since(&p->start, &now);
  fprintf(stderr, "\rhlreplay: %llu of %llu events (%.0f%%), %.0f s", (unsigned long long)done,
          (unsigned long long)run->trace->events, total > 0 ? 100.0 * (double)done / total : 100.0,
          secs);
}

static void replay_progress_end(replay_progress_t *p) {
  if (p->shown) fprintf(stderr, "\n");
}

static void replay_progress_init(replay_progress_t *p) {
  clock_gettime(CLOCK_MONOTONIC, &p->start);
  p->last = p->start;
  p->shown = false;
}

/* ---- threads in turn (see the banner) ---- */

static void replay_turn_pass(replay_run_t *run, uint32_t thread) {
  replay_publish(&run->threads[thread].turn);
}

/* Wait for this thread's next turn. Spinning would hold a CPU the baton's
   holder may need (threads outnumber CPUs), and a futex sleep costs a
   wake-up per hand-over, so the waiter first yields the CPU a few times
   (measured on 2 vCPUs, threadtest with 4 threads and 156k hand-overs: 5.5 s
   with the spin-then-sleep of replay_await, 1.5 s yielding 10-30 times
   first; serial replay 0.8 s; 0.9 s once all of them share one CPU,
   replay_turns_cpu), then sleeps. */
static bool replay_turn_await(replay_run_t *run, _Atomic uint32_t *word, uint32_t target) {
  for (int y = 0; y < REPLAY_TURN_YIELDS; y++) {
    if ((atomic_load_explicit(word, memory_order_acquire) & ~REPLAY_WAITING) >= target) return true;
    sched_yield();
  }
  return replay_sleep_until(run, word, target, NULL);
}

/* A worker's program, run whenever it holds the baton: its events until the
   next event in trace order is another thread's, to which it then hands the
   baton; the last one returns it to the main thread, which joins this one. */
static void replay_turns_thread(replay_thread_t *th) {
  replay_run_t *run = th->run;
  const uint16_t *order = run->trace->order.data;
  uint32_t me = th->ctx.thread, turns = 0;
  while (th->next < th->count) {
    if (!replay_turn_await(run, &th->turn, ++turns)) return; /* the run failed elsewhere */
    CAPTURE_SWITCH(th->ctx.core);
    uint64_t cur = atomic_load_explicit(&run->cursor, memory_order_relaxed);
    do {
      if (!replay_event(th, &th->events[th->next])) break;
      th->next++, cur++;
      /* a program's remaining event lies ahead in the order: cur stays in range */
    } while (th->next < th->count && order[cur] == me);
    atomic_store_explicit(&run->cursor, cur, memory_order_relaxed); /* published by the pass */
    atomic_store_explicit(&th->done, th->next, memory_order_relaxed);
    if (atomic_load_explicit(&run->failed, memory_order_relaxed)) break;
    if (th->next < th->count) replay_turn_pass(run, order[cur]);
  }
  run->exiting = me;
  replay_publish(&run->main_turn);
}

/* The main thread's part: hand the baton to the first event's thread, then
   join each thread as its program ends and pass the baton on. */
static void replay_run_turns(replay_run_t *run, uint32_t spawned) {
  const uint16_t *order = run->trace->order.data;
  uint64_t total = run->trace->events;
  uint32_t live = 0, turns = 0;
  for (uint32_t i = 0; i < spawned; i++) live += run->threads[i].count > 0;
  replay_progress_t p;
  replay_progress_init(&p);
  if (total > 0) replay_turn_pass(run, order[0]);
  while (live > 0 &&
         replay_sleep_until(run, &run->main_turn, ++turns, run->opt->progress ? &p : NULL)) {
    replay_thread_t *th = &run->threads[run->exiting];
    pthread_join(th->os_thread, NULL);
    th->joined = true;
    live--;
    uint64_t cur = atomic_load_explicit(&run->cursor, memory_order_relaxed);
    if (cur < total && !atomic_load(&run->failed)) replay_turn_pass(run, order[cur]);
  }
  replay_progress_end(&p);
}

static void *replay_thread_main(void *arg) {
  replay_thread_t *th = arg;
  replay_run_t *run = th->run;
  if (run->opt->mode == HL_REPLAY_TURNS) {
    CAPTURE_THREAD(&th, REPLAY_STACK - 16 * 1024); /* below here: this thread's own frames */
    if (th->count > 0) replay_turns_thread(th);
    return NULL;
  }
  while (atomic_load_explicit(&run->start_gate, memory_order_acquire) == 0)
    replay_futex(&run->start_gate, FUTEX_WAIT, 0, NULL);
  for (; th->next < th->count; th->next++) {
    if (!replay_event(th, &th->events[th->next])) break;
    if (th->next % REPLAY_PROGRESS_EVERY == 0)
      atomic_store_explicit(&th->done, th->next, memory_order_relaxed);
  }
  atomic_store_explicit(&th->done, th->next, memory_order_relaxed);
  atomic_fetch_add(&run->finished, 1);
  replay_futex(&run->finished, FUTEX_WAKE, 1, NULL);
  return NULL;
}

/* The main thread's wait for the workers, reporting progress meanwhile. */
static void replay_watch(replay_run_t *run, uint32_t spawned) {
  if (!run->opt->progress) return; /* pthread_join alone does the waiting */
  replay_progress_t p;
  replay_progress_init(&p);
  const struct timespec second = {1, 0};
  uint32_t finished;
  while ((finished = atomic_load(&run->finished)) < spawned) {
    replay_futex(&run->finished, FUTEX_WAIT, finished, &second);
    uint64_t done = 0;
    for (uint32_t i = 0; i < spawned; i++)
      done += atomic_load_explicit(&run->threads[i].done, memory_order_relaxed);
    replay_progress_tick(run, &p, done);
  }
  replay_progress_end(&p);
}

static void replay_run_serial(replay_run_t *run) {
  const uint16_t *order = run->trace->order.data;
  replay_progress_t p;
  replay_progress_init(&p);
  for (uint64_t i = 0; i < run->trace->events; i++) {
    replay_thread_t *th = &run->threads[order[i]];
    CAPTURE_CORE(th->ctx.core);
    if (!replay_event(th, &th->events[th->next])) break;
    th->next++;
    if (run->opt->progress && i % REPLAY_PROGRESS_EVERY == 0) replay_progress_tick(run, &p, i);
  }
  replay_progress_end(&p);
}

/* Start the worker threads parked at the gate (before the clock starts). */
/* Threads in turn run one at a time, so they lose nothing by sharing one
   CPU, and gain: a hand-over is then a switch on that CPU (no wake-up of
   another), and the simulator's tables stay in that CPU's caches instead of
   following the baton from CPU to CPU. The lowest CPU this process may use. */
static bool replay_turns_cpu(cpu_set_t *one) {
  cpu_set_t all;
  if (sched_getaffinity(0, sizeof all, &all) != 0) return false;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_ZERO(one);
      CPU_SET(c, one);
      return true;
    }
  return false;
}

static int replay_spawn(replay_run_t *run, uint32_t *spawned) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, REPLAY_STACK);
  cpu_set_t one;
  if (run->opt->mode == HL_REPLAY_TURNS && replay_turns_cpu(&one) &&
      sched_getaffinity(0, sizeof run->main_cpus, &run->main_cpus) == 0) {
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    /* the main thread too: it passes the baton on */
    run->pinned = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  int rc = 0;
  for (*spawned = 0; *spawned < run->trace->threads; (*spawned)++) {
    replay_thread_t *th = &run->threads[*spawned];
    if ((rc = pthread_create(&th->os_thread, &attr, replay_thread_main, th)) != 0) break;
  }
  pthread_attr_destroy(&attr);
  return rc;
}

/* ---- a whole run ---- */

/* After a run that did not fail, every thread has run its whole program. */
static bool replay_run_is_valid(const replay_run_t *run) {
  if (atomic_load(&run->failed)) return true;
  for (uint32_t i = 0; i < run->trace->threads; i++)
    if (run->threads[i].next != run->threads[i].count) return false;
  return true;
}

static void replay_run_free(replay_run_t *run) {
  const hl_replay_trace_t *t = run->trace;
  for (uint32_t i = 0; i < t->threads; i++) {
    replay_unmap(run->threads[i].scratch, REPLAY_CHUNK);
    replay_unmap(run->threads[i].msg_parts, t->max_parts * sizeof *run->threads[i].msg_parts);
    replay_unmap(run->threads[i].msg_slots, (t->max_parts + 1) * sizeof *run->threads[i].msg_slots);
  }
  replay_unmap(run->threads, t->threads * sizeof *run->threads);
  replay_unmap(run->slots, t->objects * sizeof *run->slots);
  replay_unmap(run->sizes, t->objects * sizeof *run->sizes);
  replay_unmap((void *)run->epochs, t->objects * sizeof *run->epochs);
  replay_unmap(run->linked, t->objects);
  replay_unmap(run->posted, t->objects);
#ifdef HL_CAPTURE
  replay_unmap(run->owner, t->objects * sizeof *run->owner);
#endif
  replay_unmap(run->barriers, t->barriers * sizeof *run->barriers);
  if (run->verify_live) tdestroy(run->verify_live, free);
  pthread_mutex_destroy(&run->verify_lock);
}

static void replay_stats_report(replay_run_t *run, hl_metrics_t *row) {
  hl_alloc_stats_t st;
  run->alloc->stats(&run->heap, &st);
  const char *reason = st.na_reason ? st.na_reason : "not reported by this allocator";
  const struct {
    hl_metric_t metric;
    uint32_t bit;
    uint64_t value;
  } fields[] = {
      {HL_METRIC_alloc_bytes_live, HL_STAT_BYTES_LIVE, st.bytes_live},
      {HL_METRIC_alloc_bytes_mapped, HL_STAT_BYTES_MAPPED, st.bytes_mapped},
      {HL_METRIC_alloc_moves, HL_STAT_MOVES, st.moves},
      {HL_METRIC_alloc_transfers, HL_STAT_TRANSFERS, st.transfers},
      {HL_METRIC_alloc_objects_live, HL_STAT_OBJECTS_LIVE, st.objects_live},
      {HL_METRIC_alloc_pages, HL_STAT_PAGES, st.pages},
      {HL_METRIC_alloc_pool_pages, HL_STAT_POOL_PAGES, st.pool_pages},
      {HL_METRIC_alloc_pages_returned, HL_STAT_PAGES_RETURNED, st.pages_returned},
      {HL_METRIC_alloc_fixups, HL_STAT_FIXUPS, st.fixups},
      {HL_METRIC_alloc_transfer_bytes, HL_STAT_TRANSFER_BYTES, st.transfer_bytes},
      {HL_METRIC_alloc_messages, HL_STAT_MESSAGES, st.messages},
      {HL_METRIC_alloc_free_requests, HL_STAT_FREE_REQUESTS, st.free_requests},
      {HL_METRIC_alloc_transfer_pages, HL_STAT_TRANSFER_PAGES, st.transfer_pages},
      {HL_METRIC_alloc_pages_handed, HL_STAT_PAGES_HANDED, st.pages_handed},
      {HL_METRIC_alloc_cells_allocated, HL_STAT_CELLS_ALLOCATED, st.cells_allocated},
      {HL_METRIC_alloc_accesses, HL_STAT_ACCESS_LOCALITY, st.accesses},
      {HL_METRIC_alloc_access_lines, HL_STAT_ACCESS_LOCALITY, st.access_lines},
      {HL_METRIC_alloc_access_pages, HL_STAT_ACCESS_LOCALITY, st.access_pages},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (st.valid & fields[i].bit)
      hl_metrics_set(row, fields[i].metric, "%llu", (unsigned long long)fields[i].value);
    else
      hl_metrics_set_na(row, fields[i].metric, reason);
  }
}

unsigned hl_replay_load_flags(const hl_allocator_t *alloc) {
  return (alloc->flags & HL_ALLOC_OWNED) ? HL_REPLAY_OWNERSHIP : 0;
}

static const char *const remote_free_names[] = {"send", "request"};

const char *hl_remote_free_name(hl_remote_free_t how) {
  return remote_free_names[how];
}

bool hl_remote_free_parse(const char *name, hl_remote_free_t *out) {
  for (unsigned i = 0; i < sizeof remote_free_names / sizeof remote_free_names[0]; i++)
    if (strcmp(name, remote_free_names[i]) == 0) {
      *out = (hl_remote_free_t)i;
      return true;
    }
  return false;
}

/* Free requests only exist between owners: elsewhere a remote free is a free. */
static bool replay_free_requests(const hl_replay_options_t *opt) {
  return opt->remote_free == HL_REMOTE_FREE_REQUEST && (opt->allocator->flags & HL_ALLOC_OWNED);
}

unsigned hl_replay_options_load_flags(const hl_replay_options_t *opt) {
  return hl_replay_load_flags(opt->allocator) |
         (replay_free_requests(opt) ? HL_REPLAY_FREE_REQUEST : 0);
}

int hl_replay_options_check(const hl_replay_options_t *opt, char *why, size_t why_len) {
  if (replay_free_requests(opt) && !opt->allocator->free_post) {
    snprintf(why, why_len,
             "--remote-free request: allocator '%s' owns its objects per thread but has no free "
             "requests (free_post); use --remote-free send",
             opt->allocator->name);
    return -1;
  }
  return 0;
}

int hl_replay_run(hl_replay_trace_t *t, const hl_replay_options_t *opt, hl_metrics_t *row,
                  char *why, size_t why_len) {
  replay_pattern_init();
  replay_run_t run = {.trace = t, .opt = opt, .alloc = opt->allocator};
  pthread_mutex_init(&run.verify_lock, NULL);
  run.access = opt->access != HL_ACCESS_AUTO ? opt->access
               : t->has_accesses             ? HL_ACCESS_TRACED
                                             : HL_ACCESS_TOUCH;
  if ((hl_replay_load_flags(run.alloc) & HL_REPLAY_OWNERSHIP) && !t->ownership) {
    snprintf(why, why_len,
             "allocator '%s' needs per-thread ownership: load the trace with "
             "hl_replay_load_flags(allocator)",
             run.alloc->name);
    return -1;
  }
  if (hl_replay_options_check(opt, why, why_len)) return -1;
  if (t->free_request != replay_free_requests(opt)) {
    snprintf(why, why_len,
             "the trace was loaded for --remote-free %s, the run asks for %s: load it with "
             "hl_replay_options_load_flags(options)",
             t->free_request ? "request" : "send", hl_remote_free_name(opt->remote_free));
    return -1;
  }
  if (opt->verify && (run.alloc->flags & HL_ALLOC_NO_MEMORY)) {
    snprintf(why, why_len,
             "--verify: allocator '%s' allocates no memory, there is nothing to verify",
             run.alloc->name);
    return -1;
  }
  run.threads = replay_map(t->threads * sizeof *run.threads);
  run.slots = replay_map(t->objects * sizeof *run.slots);
  run.sizes = replay_map(t->objects * sizeof *run.sizes);
  run.epochs = replay_map(t->objects * sizeof *run.epochs);
  run.linked = replay_map(t->objects);
  run.barriers = replay_map(t->barriers * sizeof *run.barriers);
  bool ok = run.threads && run.slots && run.sizes && run.epochs && run.linked && run.barriers;
  if (ok && t->free_request) ok = (run.posted = replay_map(t->objects)) != NULL;
#ifdef HL_CAPTURE
  ok = ok && (run.owner = replay_map(t->objects * sizeof *run.owner)) != NULL;
  if (opt->mode == HL_REPLAY_THREADS || !hl_capture_active()) {
    snprintf(why, why_len,
             "internal: the capture replay runs serially or threads in turn, with a simulator");
    replay_run_free(&run);
    return -1;
  }
  if (ok && (hl_capture_exclude(run.slots, t->objects * sizeof *run.slots) != 0 ||
             hl_capture_exclude(run.threads, t->threads * sizeof *run.threads) != 0)) {
    snprintf(why, why_len, "internal: capture exclusions used up");
    replay_run_free(&run);
    return -1;
  }
  CAPTURE_CORE(0); /* heap set-up is charged to core 0 */
  CAPTURE_ALLOC();
#endif
  for (uint32_t i = 0; ok && i < t->threads; i++) {
    replay_thread_t *th = &run.threads[i];
    ok = (th->scratch = replay_map(REPLAY_CHUNK)) != NULL &&
         (th->msg_parts = replay_map(t->max_parts * sizeof *th->msg_parts)) != NULL &&
         (th->msg_slots = replay_map((t->max_parts + 1) * sizeof *th->msg_slots)) != NULL;
  }
  if (!ok) {
    snprintf(why, why_len, "out of memory setting up the replay");
    replay_run_free(&run);
    return -1;
  }

  run.heap = (hl_heap_t){.allocator = run.alloc, .config = opt->heap};
  run.heap.config.threads = t->threads;
  int rc = run.alloc->heap_init(&run.heap);
  if (rc) {
    if (run.heap.why[0]) /* the allocator's own reason (alloc.h) */
      snprintf(why, why_len, "%s", run.heap.why);
    else
      snprintf(why, why_len, "%s: creating the heap failed: %s", run.alloc->name, strerror(rc));
    replay_run_free(&run);
    return -1;
  }
  uint32_t inited = 0;
  for (; inited < t->threads; inited++) {
    replay_thread_t *th = &run.threads[inited];
    th->run = &run;
    th->ctx = (hl_ctx_t){
        .heap = &run.heap, .thread = inited, .core = opt->cores ? inited % opt->cores : inited};
    CAPTURE_CORE(th->ctx.core);
    th->events = t->programs[inited].data;
    th->count = t->programs[inited].len;
    if ((rc = run.alloc->thread_init(&th->ctx)) != 0) break;
  }

  hl_counters_t counters;
  hl_counters_open(&counters);
  uint32_t spawned = 0;
  if (rc == 0 && opt->mode != HL_REPLAY_SERIAL) rc = replay_spawn(&run, &spawned);
  if (rc == 0) {
    hl_counters_start(&counters);
    if (opt->mode == HL_REPLAY_THREADS) {
      atomic_store_explicit(&run.start_gate, 1, memory_order_release);
      replay_futex(&run.start_gate, FUTEX_WAKE, INT_MAX, NULL);
      replay_watch(&run, spawned);
    } else if (opt->mode == HL_REPLAY_TURNS) {
      replay_run_turns(&run, spawned);
    } else {
      replay_run_serial(&run);
    }
  } else {
    /* release whatever was spawned so it can be joined, as a failed run */
    atomic_store(&run.failed, 1);
    snprintf(run.why, sizeof run.why, "setting up %u threads failed: %s", t->threads, strerror(rc));
    atomic_store_explicit(&run.start_gate, 1, memory_order_release);
    replay_futex(&run.start_gate, FUTEX_WAKE, INT_MAX, NULL);
  }
  for (uint32_t i = 0; i < spawned; i++)
    if (!run.threads[i].joined) pthread_join(run.threads[i].os_thread, NULL);
  if (run.pinned) sched_setaffinity(0, sizeof run.main_cpus, &run.main_cpus);
  if (rc == 0) hl_counters_stop(&counters);
  assert(rc != 0 || replay_run_is_valid(&run));
#ifdef HL_CAPTURE
  hl_capture_stop(); /* the stats query and the clean-up below are not the trace's */
#endif

  hl_metrics_set(row, HL_METRIC_mode, "%s", hl_replay_mode_name(opt->mode));
  hl_metrics_set(row, HL_METRIC_access_model, "%s", hl_access_model_name(run.access));
  hl_metrics_set(row, HL_METRIC_threads, "%u", t->threads);
  uint64_t trace_events = t->events - t->handover_sends; /* the same for every allocator */
  hl_metrics_set(row, HL_METRIC_events, "%llu", (unsigned long long)trace_events);
  hl_metrics_set(row, HL_METRIC_objects, "%llu", (unsigned long long)t->objects);
  hl_metrics_set(row, HL_METRIC_handover_sends, "%llu", (unsigned long long)t->handover_sends);
  hl_metrics_set(row, HL_METRIC_remote_free, "%s",
                 (run.alloc->flags & HL_ALLOC_OWNED) ? hl_remote_free_name(opt->remote_free)
                                                     : "direct");
  hl_metrics_set(row, HL_METRIC_page_size_bytes, "%zu", opt->heap.page_size);
#ifdef HL_CAPTURE
  /* Under the simulator the clock, the RSS and the faults are those of the
     simulation (tens of times the replay, and the simulator's tables), not
     of the allocator: the simulated counts are the measurement. */
  if (rc == 0)
    hl_counters_report_na(&counters,
                          "--sim: the simulator's own time and memory, not the allocator's "
                          "(compare simulated runs by their sim_* counts)",
                          row);
#else
  if (rc == 0) hl_counters_report(&counters, trace_events, row);
#endif
  replay_stats_report(&run, row);

  /* Objects the trace never freed (or a failed run left) are freed now,
     after the clock and the stats, so repeated runs in one process start
     from a clean heap. A freed object's slot is NULL (alloc.h). An owned
     allocator gets each free from the owner's context. An object whose free
     was requested is the owner's: it frees it at its next call or its
     thread_done, and its slot is not the harness's to read. */
  if (inited)
    for (uint32_t i = 0; i < t->objects; i++)
      if (!(run.posted && run.posted[i]) && run.slots[i]) {
        uint32_t by = t->final_owner && t->final_owner[i] < inited ? t->final_owner[i] : 0;
        run.alloc->free(&run.threads[by].ctx, &run.slots[i], run.sizes[i]);
      }
  for (uint32_t i = 0; i < inited; i++)
    if (!run.threads[i].ended) run.alloc->thread_done(&run.threads[i].ctx);
  int failed = atomic_load(&run.failed);
  if (failed) snprintf(why, why_len, "%s", run.why);
  run.alloc->heap_done(&run.heap);
  replay_run_free(&run);
  return failed ? -1 : 0;
}
