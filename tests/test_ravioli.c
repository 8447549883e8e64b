/* ----------------------------------------------------------------------------
  tests/test_ravioli.c: the ravioli allocator (alloc/ravioli/) through
  alloc/alloc.h and ravioli.h: contents across moves, trees, links and their
  rules (freed targets read null, writes over a link drop it, realloc keeps
  links), randomized single-thread and 4-thread runs with sends (the heap
  option checked=1 walks every invariant after every operation and aborts
  on the first violation), the big-tree free move bound, the page hysteresis
  counts, every page size from 1 KiB to 2 MiB, bad page sizes and options,
  and serialization round trips (raw and compact) of a list, a tree and a
  big array, with their sizes printed, and bad input rejected.

  `test_ravioli bench` prints single-thread ns per alloc+free against glibc.
  Built with -DRV_RAVIOLO_WORDS=8 by tests/test_ravioli.sh as well.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/ravioli.h"
#include "tests/check.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern const hl_allocator_t hl_alloc_ravioli;
static const hl_allocator_t *A = &hl_alloc_ravioli;

#define MAXT 4

typedef struct env_s {
  hl_heap_t heap;
  hl_ctx_t ctx[MAXT];
  int threads;
} env_t;

static int env_open(env_t *e, size_t page_size, const char *options, int threads) {
  memset(e, 0, sizeof *e);
  e->heap = (hl_heap_t){
      .allocator = A,
      .config = {.page_size = page_size, .threads = (uint32_t)threads, .options = options}};
  int rc = A->heap_init(&e->heap);
  if (rc) return rc;
  e->threads = threads;
  for (int i = 0; i < threads; i++) {
    e->ctx[i] = (hl_ctx_t){.heap = &e->heap, .thread = (uint32_t)i, .core = (uint32_t)i};
    if ((rc = A->thread_init(&e->ctx[i])) != 0) return rc;
  }
  return 0;
}

static void env_close(env_t *e) {
  A->heap_done(&e->heap);
}

static bool heap_ok(env_t *e, const char *where) {
  char why[256] = "";
  bool ok = rv_heap_is_valid(&e->heap, why, sizeof why);
  CHECK(ok, "%s: heap invalid: %s", where, why);
  return ok;
}

static hl_alloc_stats_t stats(env_t *e) {
  hl_alloc_stats_t s;
  A->stats(&e->heap, &s);
  return s;
}

static __thread uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
  return rng_state;
}

/* check.h's counters are not thread-safe: worker threads count failures
   in their own variable and report them once joined */
static __thread bool t_threaded;
static __thread int t_fail;
#define OCHECK(cond, ...)                                                                          \
  do {                                                                                             \
    if (t_threaded) {                                                                              \
      if (!(cond)) t_fail++;                                                                       \
    } else {                                                                                       \
      CHECK(cond, __VA_ARGS__);                                                                    \
    }                                                                                              \
  } while (0)

/* ---- an object with its expected contents ---- */
typedef struct obj_s {
  void *slot;
  size_t size;
  uint8_t *shadow;  /* expected bytes */
  uint8_t *unknown; /* per 8-byte word: a link lives (or lived) there, not checked */
} obj_t;

static void obj_fill(obj_t *o, hl_ctx_t *c, size_t off, size_t len, uint64_t seed) {
  uint8_t buf[512];
  while (len) {
    size_t n = len < sizeof buf ? len : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(seed * 31 + (off + i) * 7 + ((off + i) >> 8));
    A->write(c, &o->slot, off, buf, n);
    memcpy(o->shadow + off, buf, n);
    for (size_t w = off / 8; w <= (off + n - 1) / 8 && w < (o->size + 7) / 8; w++)
      if (w * 8 >= off && w * 8 + 8 <= off + n) o->unknown[w] = 0;
    off += n, len -= n;
  }
}

static bool obj_check(obj_t *o, hl_ctx_t *c) {
  static __thread uint8_t buf[1 << 16];
  size_t done = 0;
  while (done < o->size) {
    size_t n = o->size - done < sizeof buf ? o->size - done : sizeof buf;
    A->read(c, &o->slot, done, buf, n);
    for (size_t i = 0; i < n; i++) {
      size_t b = done + i;
      if (!o->unknown[b / 8] && buf[i] != o->shadow[b]) return false;
    }
    done += n;
  }
  return true;
}

static obj_t *obj_new(hl_ctx_t *c, size_t size) {
  obj_t *o = calloc(1, sizeof *o);
  o->size = size;
  o->shadow = calloc(size + 1, 1);
  o->unknown = calloc(size / 8 + 2, 1);
  int rc = A->alloc(c, &o->slot, size, HL_KIND_MALLOC, 0);
  OCHECK(rc == 0 && (size == 0 || o->slot != NULL), "alloc %zu: %d", size, rc);
  return o;
}

/* The test's record of an object the allocator has freed. */
static void obj_forget(obj_t *o) {
  free(o->shadow), free(o->unknown), free(o);
}

static void obj_free(obj_t *o, hl_ctx_t *c) {
  A->free(c, &o->slot, o->size);
  OCHECK(o->slot == NULL, "free clears the slot");
  obj_forget(o);
}

static void obj_resize(obj_t *o, hl_ctx_t *c, size_t size) {
  int rc = A->realloc(c, &o->slot, o->size, size);
  OCHECK(rc == 0, "realloc");
  o->shadow = realloc(o->shadow, size + 1);
  o->unknown = realloc(o->unknown, size / 8 + 2);
  size_t old = o->size;
  o->size = size;
  if (size > old) { /* the new tail is unspecified until written: write it */
    memset(o->unknown + (old + 7) / 8, 0, size / 8 + 2 - (old + 7) / 8);
    obj_fill(o, c, old, size - old, size);
  }
}

static size_t draw_size(void) {
  uint64_t r = rnd() % 100;
  if (r < 60) return 1 + rnd() % RV_RAVIOLO_WORDS * 8;
  if (r < 95) return 8 + rnd() % 400;
  return 1000 + rnd() % 20000;
}

/* ---- basics ---- */

static void test_basics(void) {
  env_t e;
  CHECK(env_open(&e, 0, "checked=1", 1) == 0, "open");
  hl_ctx_t *c = &e.ctx[0];
  size_t sizes[] = {0, 1, 8, 16, 17, 33, 48, 100, 1000, 4096, 70000, 300000};
  obj_t *o[12];
  for (int i = 0; i < 12; i++) {
    o[i] = obj_new(c, sizes[i]);
    if (sizes[i]) obj_fill(o[i], c, 0, sizes[i], (uint64_t)i);
  }
  for (int i = 0; i < 12; i++) CHECK(obj_check(o[i], c), "contents of %zu-byte object", sizes[i]);
  hl_alloc_stats_t s = stats(&e);
  CHECK(s.bytes_live == 0 + 1 + 8 + 16 + 17 + 33 + 48 + 100 + 1000 + 4096 + 70000 + 300000,
        "bytes_live %llu", (unsigned long long)s.bytes_live);
  /* free from the middle: the top moves into the holes */
  for (int i = 1; i < 12; i += 2) obj_free(o[i], c), o[i] = NULL;
  s = stats(&e);
  CHECK(s.moves > 0 && s.fixups >= s.moves, "moves %llu fixups %llu", (unsigned long long)s.moves,
        (unsigned long long)s.fixups);
  for (int i = 0; i < 12; i += 2) CHECK(obj_check(o[i], c), "after frees: %zu", sizes[i]);
  /* realloc across tree shapes keeps the prefix */
  obj_resize(o[4], c, 5000);
  obj_fill(o[4], c, 17, 5000 - 17, 99);
  CHECK(obj_check(o[4], c), "grown");
  obj_resize(o[4], c, 20);
  CHECK(obj_check(o[4], c), "shrunk");
  obj_resize(o[10], c, 100);
  CHECK(obj_check(o[10], c), "big shrunk");
  for (int i = 0; i < 12; i += 2) obj_free(o[i], c);
  s = stats(&e);
  CHECK(s.objects_live == 0 && s.bytes_live == 0, "empty at the end: %llu cells",
        (unsigned long long)s.objects_live);
  void *p = NULL;
  CHECK(A->alloc(c, &p, 10, HL_KIND_VALLOC, 0) == ENOTSUP, "valloc: no page alignment");
  CHECK(A->alloc(c, &p, 10, HL_KIND_MEMALIGN, 3) == EINVAL, "memalign 3");
  CHECK(A->alloc(c, &p, 10, HL_KIND_MEMALIGN, 16) == 0 && p, "memalign 16");
  A->free(c, &p, 10);
  heap_ok(&e, "basics");
  env_close(&e);
}

/* ---- links ---- */

static const void *field_target(hl_ctx_t *c, void **slot, size_t field) {
  void *v;
  A->read(c, slot, field, &v, sizeof v);
  return rv_object_of(v);
}

static void test_links(void) {
  env_t e;
  CHECK(env_open(&e, 1024, "checked=1", 1) == 0, "open");
  hl_ctx_t *c = &e.ctx[0];
  obj_t *a = obj_new(c, 40), *b = obj_new(c, 100), *d = obj_new(c, 16);
  obj_fill(b, c, 0, 100, 5);
  A->link(c, &a->slot, 8, &b->slot);
  A->link(c, &d->slot, 0, &b->slot);
  A->link(c, &d->slot, 8, &b->slot);
  CHECK(field_target(c, &a->slot, 8) == rv_object_of(b->slot), "a.8 -> b");
  CHECK(field_target(c, &d->slot, 8) == rv_object_of(b->slot), "d.8 -> b");
  CHECK(obj_check(b, c), "b intact under sharing");
  A->link(c, &a->slot, 16, &a->slot); /* a self link */
  CHECK(field_target(c, &a->slot, 16) == rv_object_of(a->slot), "a.16 -> a");
  /* moves keep links: free something low so the top moves */
  obj_t *junk[50];
  for (int i = 0; i < 50; i++) junk[i] = obj_new(c, 24);
  obj_free(junk[0], c);
  for (int i = 1; i < 50; i++) obj_free(junk[i], c);
  CHECK(field_target(c, &d->slot, 0) == rv_object_of(b->slot), "d.0 -> b after moves");
  /* a write over a link drops it */
  uint64_t x = 7;
  A->write(c, &d->slot, 0, &x, 8);
  CHECK(field_target(c, &d->slot, 8) == rv_object_of(b->slot), "d.8 survives");
  /* realloc of the target keeps its referrers */
  obj_resize(b, c, 3000);
  CHECK(field_target(c, &a->slot, 8) == rv_object_of(b->slot), "a.8 -> grown b");
  CHECK(obj_check(b, c), "b contents after realloc");
  /* realloc of the referrer keeps its links */
  obj_resize(a, c, 2000);
  CHECK(field_target(c, &a->slot, 8) == rv_object_of(b->slot), "grown a.8 -> b");
  CHECK(field_target(c, &a->slot, 16) == rv_object_of(a->slot), "grown a.16 -> a");
  /* relinking and clearing */
  A->link(c, &a->slot, 8, &d->slot);
  CHECK(field_target(c, &a->slot, 8) == rv_object_of(d->slot), "a.8 -> d");
  A->link(c, &a->slot, 8, NULL);
  CHECK(field_target(c, &a->slot, 8) == NULL, "a.8 cleared");
  A->link(c, &a->slot, 8, &b->slot);
  /* freeing the target clears every field that referred to it */
  obj_free(b, c);
  CHECK(field_target(c, &a->slot, 8) == NULL, "a.8 null after b freed");
  CHECK(field_target(c, &d->slot, 8) == NULL, "d.8 null after b freed");
  /* freeing the referrer leaves the target whole, its slot direct again */
  A->link(c, &d->slot, 8, &a->slot);
  obj_free(d, c);
  CHECK(field_target(c, &a->slot, 16) == rv_object_of(a->slot), "a's self link intact");
  obj_free(a, c);
  CHECK(stats(&e).objects_live == 0, "no reverse raviolo left: %llu",
        (unsigned long long)stats(&e).objects_live);
  heap_ok(&e, "links");
  env_close(&e);
}

/* ---- randomized, one thread ---- */

static void random_ops(hl_ctx_t *c, obj_t **objs, int nobj, int ops, int *bad) {
  for (int op = 0; op < ops; op++) {
    int i = (int)(rnd() % (uint64_t)nobj);
    obj_t *o = objs[i];
    uint64_t r = rnd() % 100;
    if (o == NULL) {
      objs[i] = o = obj_new(c, draw_size());
      if (o->size) obj_fill(o, c, 0, o->size, rnd());
    } else if (r < 25) {
      if (!obj_check(o, c)) (*bad)++;
      obj_free(o, c);
      objs[i] = NULL;
    } else if (r < 45 && o->size) {
      size_t off = rnd() % o->size, len = 1 + rnd() % (o->size - off);
      obj_fill(o, c, off, len, rnd());
    } else if (r < 60) {
      if (!obj_check(o, c)) (*bad)++;
    } else if (r < 70) {
      size_t ns = draw_size();
      size_t keep = ns < o->size ? ns : o->size;
      obj_resize(o, c, ns);
      (void)keep;
      if (!obj_check(o, c)) (*bad)++;
    } else if (o->size >= 8) {
      size_t f = (rnd() % (o->size / 8)) * 8;
      obj_t *t = objs[rnd() % (uint64_t)nobj];
      A->link(c, &o->slot, f, t && r < 95 ? &t->slot : NULL);
      o->unknown[f / 8] = 1;
    }
  }
}

static void test_random(size_t page_size, int ops) {
  env_t e;
  int rc = env_open(&e, page_size, "checked=1", 1);
  CHECK(rc == 0, "open page size %zu: %d", page_size, rc);
  if (rc) return;
  obj_t *objs[150] = {0};
  int bad = 0;
  random_ops(&e.ctx[0], objs, 150, ops, &bad);
  CHECK(bad == 0, "page size %zu: %d objects with wrong contents", page_size, bad);
  heap_ok(&e, "random");
  for (int i = 0; i < 150; i++)
    if (objs[i]) obj_free(objs[i], &e.ctx[0]);
  hl_alloc_stats_t s = stats(&e);
  CHECK(s.objects_live == 0 && s.bytes_live == 0, "page size %zu: empty at the end", page_size);
  heap_ok(&e, "random end");
  env_close(&e);
}

/* ---- several real threads sending objects to each other ---- */

typedef struct mbox_s {
  pthread_mutex_t lock;
  obj_t *items[4096];
  int n;
} mbox_t;

typedef struct tharg_s {
  env_t *e;
  int id, ops, bad, sent, received;
  mbox_t *boxes;
  pthread_barrier_t *bar;
} tharg_t;

#define TOBJ 64

static void take_mail(tharg_t *a, obj_t **objs) {
  hl_ctx_t *c = &a->e->ctx[a->id];
  mbox_t *mb = &a->boxes[a->id];
  pthread_mutex_lock(&mb->lock);
  while (mb->n) {
    obj_t *o = mb->items[--mb->n];
    a->received++;
    /* links were cut: the object's link words read null now (unknown anyway) */
    if (!obj_check(o, c)) a->bad++;
    int i = (int)(rnd() % TOBJ);
    if (objs[i]) obj_free(objs[i], c);
    objs[i] = o;
  }
  pthread_mutex_unlock(&mb->lock);
}

static void *thread_main(void *arg) {
  tharg_t *a = arg;
  hl_ctx_t *c = &a->e->ctx[a->id];
  obj_t *objs[TOBJ] = {0};
  rng_state = 0x9e3779b97f4a7c15ull * (uint64_t)(a->id + 1);
  t_threaded = true;
  for (int op = 0; op < a->ops; op++) {
    if (op % 16 == 0) take_mail(a, objs);
    int i = (int)(rnd() % TOBJ);
    if (objs[i] && rnd() % 100 < 12) {
      int to = (int)(rnd() % (uint64_t)a->e->threads);
      if (to != a->id) {
        /* links between it and our objects are cut by the send (those
           words are unknown in the shadows already) */
        mbox_t *mb = &a->boxes[to];
        pthread_mutex_lock(&mb->lock);
        if (mb->n < 4096) {
          A->send(c, &a->e->ctx[to], &objs[i]->slot);
          mb->items[mb->n++] = objs[i];
          objs[i] = NULL;
          a->sent++;
        }
        pthread_mutex_unlock(&mb->lock);
        continue;
      }
    }
    random_ops(c, objs, TOBJ, 1, &a->bad);
  }
  pthread_barrier_wait(a->bar);
  take_mail(a, objs);
  pthread_barrier_wait(a->bar);
  for (int i = 0; i < TOBJ; i++)
    if (objs[i]) {
      if (!obj_check(objs[i], c)) a->bad++;
      obj_free(objs[i], c);
    }
  a->bad += t_fail;
  return NULL;
}

static void test_threads(const char *options, int ops) {
  env_t e;
  CHECK(env_open(&e, 0, options, MAXT) == 0, "open");
  mbox_t boxes[MAXT];
  pthread_barrier_t bar;
  pthread_barrier_init(&bar, NULL, MAXT);
  tharg_t args[MAXT];
  pthread_t th[MAXT];
  for (int i = 0; i < MAXT; i++) {
    pthread_mutex_init(&boxes[i].lock, NULL);
    boxes[i].n = 0;
    args[i] = (tharg_t){.e = &e, .id = i, .ops = ops, .boxes = boxes, .bar = &bar};
  }
  for (int i = 0; i < MAXT; i++) pthread_create(&th[i], NULL, thread_main, &args[i]);
  int bad = 0, sent = 0, received = 0;
  for (int i = 0; i < MAXT; i++) {
    pthread_join(th[i], NULL);
    bad += args[i].bad, sent += args[i].sent, received += args[i].received;
  }
  CHECK(bad == 0, "%s: %d objects with wrong contents", options, bad);
  CHECK(sent > 0 && sent == received, "%s: sent %d received %d", options, sent, received);
  hl_alloc_stats_t s = stats(&e);
  CHECK(s.transfers == (uint64_t)sent, "transfers %llu", (unsigned long long)s.transfers);
  CHECK(s.transfer_bytes >= (uint64_t)sent * RV_RAVIOLO_WORDS * 8, "transfer bytes");
  CHECK(s.objects_live == 0 && s.bytes_live == 0, "%s: empty at the end (%llu cells)", options,
        (unsigned long long)s.objects_live);
  heap_ok(&e, "threads");
  printf("threads (%s): %d ops x %d threads, %d sends, %llu moves, %llu fixups, %llu pages "
         "returned\n",
         options, ops, MAXT, sent, (unsigned long long)s.moves, (unsigned long long)s.fixups,
         (unsigned long long)s.pages_returned);
  pthread_barrier_destroy(&bar);
  env_close(&e);
}

/* ---- a set of objects as one message: links among them travel ---- */

static void test_send_set(void) {
  env_t e;
  CHECK(env_open(&e, 1024, "checked=1", 2) == 0, "open");
  hl_ctx_t *a = &e.ctx[0], *b = &e.ctx[1];
  enum { N = 40 };
  obj_t *node[N], *outside = obj_new(a, 24);
  void **slots[N];
  for (int i = 0; i < N; i++) {
    node[i] = obj_new(a, i % 3 ? 24 : 200); /* one-raviolo and tree nodes */
    obj_fill(node[i], a, 8, node[i]->size - 8, (uint64_t)i);
    slots[i] = &node[i]->slot;
  }
  for (int i = 0; i + 1 < N; i++) A->link(a, &node[i]->slot, 0, &node[i + 1]->slot);
  A->link(a, &node[N - 1]->slot, 0, &outside->slot); /* crosses the set: cut */
  hl_alloc_stats_t s0 = stats(&e);
  A->send_set(a, b, slots, N);
  hl_alloc_stats_t s1 = stats(&e);
  CHECK(s1.messages - s0.messages == 1, "one message for %d objects: %llu", N,
        (unsigned long long)(s1.messages - s0.messages));
  CHECK(s1.transfers - s0.transfers == N, "%d objects transferred", N);
  CHECK(s1.transfer_pages > s0.transfer_pages, "transfer pages counted");
  /* the set was the top of a's heap: its whole pages went over in place,
     only the cells on the page it shares with `outside` were copied */
  CHECK(s1.pages_handed - s0.pages_handed >= 5, "pages handed over in place: %llu",
        (unsigned long long)(s1.pages_handed - s0.pages_handed));
  CHECK(s1.transfer_bytes - s0.transfer_bytes < 1024, "bytes copied: %llu",
        (unsigned long long)(s1.transfer_bytes - s0.transfer_bytes));
  int kept = 0, bad = 0;
  for (int i = 0; i + 1 < N; i++)
    kept += field_target(b, &node[i]->slot, 0) == rv_object_of(node[i + 1]->slot);
  for (int i = 0; i < N; i++) {
    for (size_t w = 0; w < 1; w++) node[i]->unknown[w] = 1;
    bad += !obj_check(node[i], b);
  }
  CHECK(kept == N - 1, "links inside the message kept: %d of %d", kept, N - 1);
  CHECK(field_target(b, &node[N - 1]->slot, 0) == NULL, "the link out of the message is cut");
  CHECK(bad == 0, "%d objects lost their contents on the way", bad);
  heap_ok(&e, "send_set");
  for (int i = 0; i < N; i++) obj_free(node[i], b);
  obj_free(outside, a);
  heap_ok(&e, "send_set freed");
  CHECK(stats(&e).bytes_live == 0, "nothing live");
  env_close(&e);
}

/* ---- remote frees as requests posted to the owner ---- */

static void test_free_post(void) {
  env_t e;
  CHECK(env_open(&e, 1024, "checked=1", 3) == 0, "open");
  hl_ctx_t *a = &e.ctx[0], *b = &e.ctx[1], *c = &e.ctx[2];
  /* more requests than one 1 KiB request page holds (124): several pages */
  enum { N = 300 };
  obj_t *o[N];
  for (int i = 0; i < N; i++) {
    o[i] = obj_new(a, i % 2 ? 16 : 100);
    obj_fill(o[i], a, 0, o[i]->size, (uint64_t)i);
  }
  for (int i = 0; i < N; i += 2) A->free_post(b, a, &o[i]->slot, o[i]->size);
  hl_alloc_stats_t s = stats(&e);
  CHECK(s.free_requests == N / 2, "requests counted: %llu", (unsigned long long)s.free_requests);
  /* the owner frees at its next operation: its objects are all still there
     now except those of flushed (full) request pages */
  obj_t *x = obj_new(a, 16); /* an operation of the owner: takes its inbox */
  int still = 0;
  for (int i = 0; i < N; i += 2) still += o[i]->slot != NULL;
  CHECK(still > 0 && still < N / 2, "full request pages were posted, the open one not: %d left",
        still);
  /* a request to another owner flushes the open page */
  obj_t *y = obj_new(c, 40);
  A->free_post(b, c, &y->slot, y->size);
  obj_free(x, a);
  still = 0;
  for (int i = 0; i < N; i += 2) still += o[i]->slot != NULL;
  CHECK(still == 0, "every request freed once the page went: %d left", still);
  int bad = 0;
  for (int i = 1; i < N; i += 2) bad += !obj_check(o[i], a);
  CHECK(bad == 0, "%d surviving objects damaged by the requested frees", bad);
  /* the poster's thread_done posts its last page; the owner's takes it */
  CHECK(y->slot != NULL, "c's request still in b's open page");
  A->thread_done(b);
  A->thread_done(c);
  CHECK(y->slot == NULL, "c's request done at its thread_done");
  /* a request to a finished owner is an ordinary (orphan) free */
  A->free_post(a, c, &y->slot, 0);
  obj_t *z = obj_new(c, 24);
  A->free_post(a, c, &z->slot, z->size);
  CHECK(z->slot == NULL, "a finished owner's object freed at once");
  heap_ok(&e, "free_post");
  for (int i = 1; i < N; i += 2) obj_free(o[i], a);
  for (int i = 0; i < N; i += 2) obj_forget(o[i]);
  obj_forget(y), obj_forget(z);
  A->thread_done(a);
  heap_ok(&e, "free_post end");
  CHECK(stats(&e).bytes_live == 0, "nothing live: %llu", (unsigned long long)stats(&e).bytes_live);
  env_close(&e);
}

/* two real threads: A allocates and hands slots over a ring, B posts free
   requests for them while A keeps working (TSan sees the hand-over) */
typedef struct fp_ring_s {
  env_t *e;
  void *slots[4096];
  _Atomic uint32_t head;
  _Atomic int poster_done;
} fp_ring_t;

static void *fp_owner(void *arg) {
  fp_ring_t *r = arg;
  hl_ctx_t *a = &r->e->ctx[0];
  for (uint32_t i = 0; i < 4096; i++) {
    void *tmp = NULL;
    int rc = A->alloc(a, &r->slots[i], 16 + (i % 7) * 24, HL_KIND_MALLOC, 0);
    rc |= A->alloc(a, &tmp, 40, HL_KIND_MALLOC, 0); /* churn: moves under the requests */
    A->free(a, &tmp, 40);
    if (rc) t_fail++;
    atomic_store_explicit(&r->head, i + 1, memory_order_release);
  }
  /* stay until the poster is done, so that every free is a request */
  while (!atomic_load_explicit(&r->poster_done, memory_order_acquire)) {
    void *tmp = NULL;
    if (A->alloc(a, &tmp, 16, HL_KIND_MALLOC, 0)) t_fail++;
    A->free(a, &tmp, 16);
    sched_yield();
  }
  A->thread_done(a);
  return NULL;
}

static void test_free_post_threads(void) {
  env_t e;
  CHECK(env_open(&e, 4096, NULL, 2) == 0, "open");
  fp_ring_t *r = calloc(1, sizeof *r);
  r->e = &e;
  pthread_t th;
  pthread_create(&th, NULL, fp_owner, r);
  for (uint32_t i = 0; i < 4096; i++) {
    while (atomic_load_explicit(&r->head, memory_order_acquire) <= i) sched_yield();
    A->free_post(&e.ctx[1], &e.ctx[0], &r->slots[i], 16 + (i % 7) * 24);
  }
  A->thread_done(&e.ctx[1]);
  atomic_store_explicit(&r->poster_done, 1, memory_order_release);
  pthread_join(th, NULL);
  int left = 0;
  for (uint32_t i = 0; i < 4096; i++) left += r->slots[i] != NULL;
  CHECK(left == 0, "every requested free done: %d left", left);
  heap_ok(&e, "free_post threads");
  hl_alloc_stats_t s = stats(&e);
  CHECK(s.bytes_live == 0 && s.free_requests == 4096, "live %llu, requests %llu",
        (unsigned long long)s.bytes_live, (unsigned long long)s.free_requests);
  free(r);
  env_close(&e);
}

/* ---- a big tree is freed with at most one move per freed raviolo ---- */

static void test_big_free(void) {
  env_t e;
  CHECK(env_open(&e, 0, NULL, 1) == 0, "open");
  hl_ctx_t *c = &e.ctx[0];
  obj_t *lo[300], *hi[300];
  for (int i = 0; i < 300; i++) lo[i] = obj_new(c, 24), obj_fill(lo[i], c, 0, 24, (uint64_t)i);
  obj_t *big = obj_new(c, 1 << 20);
  obj_fill(big, c, 0, 1 << 20, 3);
  for (int i = 0; i < 300; i++) hi[i] = obj_new(c, 40), obj_fill(hi[i], c, 0, 40, (uint64_t)i);
  CHECK(obj_check(big, c), "big contents");
  hl_alloc_stats_t before = stats(&e);
  obj_free(big, c);
  hl_alloc_stats_t after = stats(&e);
  uint64_t freed = before.objects_live - after.objects_live, moves = after.moves - before.moves;
  CHECK(freed >= (1 << 20) / (RV_RAVIOLO_WORDS * 8 - 16), "freed %llu ravioli",
        (unsigned long long)freed);
  CHECK(moves <= freed, "moves %llu <= freed %llu", (unsigned long long)moves,
        (unsigned long long)freed);
  CHECK(moves <= 300 * 8, "only the cells above the tree moved: %llu", (unsigned long long)moves);
  printf("big free: %llu ravioli freed, %llu moved\n", (unsigned long long)freed,
         (unsigned long long)moves);
  int bad = 0;
  for (int i = 0; i < 300; i++) bad += !obj_check(lo[i], c) + !obj_check(hi[i], c);
  CHECK(bad == 0, "%d neighbours damaged", bad);
  heap_ok(&e, "big free");
  for (int i = 0; i < 300; i++) obj_free(lo[i], c), obj_free(hi[i], c);
  env_close(&e);
}

/* ---- hysteresis ---- */

static uint64_t churn_at_page_edge(const char *options) {
  env_t e;
  CHECK(env_open(&e, 4096, options, 1) == 0, "open %s", options);
  hl_ctx_t *c = &e.ctx[0];
  size_t per_page = 4096 / (RV_RAVIOLO_WORDS * 8) - 1;
  void **fill = calloc(per_page, sizeof *fill);
  for (size_t i = 0; i < per_page; i++) A->alloc(c, &fill[i], 8, HL_KIND_MALLOC, 0);
  CHECK(stats(&e).pages == 1, "one page full");
  for (int i = 0; i < 1000; i++) {
    void *p = NULL;
    A->alloc(c, &p, 8, HL_KIND_MALLOC, 0); /* opens a second page */
    A->free(c, &p, 8);                     /* and empties it */
  }
  uint64_t returned = stats(&e).pages_returned;
  for (size_t i = 0; i < per_page; i++) A->free(c, &fill[i], 8);
  heap_ok(&e, options);
  hl_alloc_stats_t s = stats(&e);
  if (strcmp(options, "hysteresis=1") == 0)
    CHECK(s.pages == 1 && s.pages_returned == returned + 1,
          "all empty: one page kept, the other returned (%llu held)", (unsigned long long)s.pages);
  free(fill);
  env_close(&e);
  return returned;
}

static void test_hysteresis(void) {
  uint64_t with = churn_at_page_edge("hysteresis=1"), without = churn_at_page_edge("hysteresis=0");
  CHECK(with == 0, "with hysteresis no page goes back: %llu", (unsigned long long)with);
  CHECK(without == 1000, "without it every emptied page goes back: %llu",
        (unsigned long long)without);
  printf("hysteresis: 1000 alloc/free at a page edge return %llu pages with, %llu without\n",
         (unsigned long long)with, (unsigned long long)without);
  /* keep=N: a heap grown to 20 pages and emptied keeps N of them, returns
     the rest; the next growth takes the kept ones before the pool */
  for (unsigned keep = 0; keep <= 32; keep = keep ? keep * 4 : 1) {
    char opts[64];
    snprintf(opts, sizeof opts, "checked=1,keep=%u", keep);
    env_t e;
    CHECK(env_open(&e, 1024, opts, 1) == 0, "open %s", opts);
    hl_ctx_t *c = &e.ctx[0];
    size_t n = 20 * (1024 / (RV_RAVIOLO_WORDS * 8) - 1);
    void **v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) A->alloc(c, &v[i], 8, HL_KIND_MALLOC, 0);
    uint64_t pool0 = stats(&e).pool_pages;
    for (size_t i = n; i-- > 0;) A->free(c, &v[i], 8);
    hl_alloc_stats_t s = stats(&e);
    unsigned kept = keep < 20 ? keep : 20;
    CHECK(s.pages == kept && s.pages_returned == 20 - kept,
          "%s: emptied 20 pages: %llu kept (want %u), %llu returned", opts,
          (unsigned long long)s.pages, kept, (unsigned long long)s.pages_returned);
    for (size_t i = 0; i < n; i++) A->alloc(c, &v[i], 8, HL_KIND_MALLOC, 0);
    CHECK(stats(&e).pool_pages == pool0, "%s: the kept pages were used first, the pool as before",
          opts);
    heap_ok(&e, opts);
    for (size_t i = 0; i < n; i++) A->free(c, &v[i], 8);
    free(v);
    env_close(&e);
  }
}

/* ---- configuration ---- */

static void test_config(void) {
  size_t bad[] = {512, 1000, 3000, 4097, (size_t)4 << 20, 1023};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    hl_heap_t h = {.allocator = A, .config = {.page_size = bad[i]}};
    CHECK(A->heap_init(&h) == EINVAL, "page size %zu rejected", bad[i]);
  }
  const char *bad_opts[] = {"hysteresis=2", "nosuch=1", "checked", "batch=0", "=1", "checked=1,"};
  for (size_t i = 0; i < sizeof bad_opts / sizeof bad_opts[0]; i++) {
    hl_heap_t h = {.allocator = A, .config = {.options = bad_opts[i]}};
    int rc = A->heap_init(&h);
    CHECK(rc == EINVAL || (rc == 0 && strcmp(bad_opts[i], "checked=1,") == 0), "options '%s': %d",
          bad_opts[i], rc);
    if (rc == 0) A->heap_done(&h);
  }
  hl_heap_t h = {.allocator = A, .config = {.options = "hysteresis=0,checked=1,batch=8"}};
  CHECK(A->heap_init(&h) == 0, "good options");
  A->heap_done(&h);
  CHECK((A->flags & HL_ALLOC_MOVES) && (A->flags & HL_ALLOC_OWNED), "flags");
}

/* ---- out of memory: a one-raviolo alloc answers ENOMEM (in a child with a
   small address-space limit; not under sanitizers, which need huge maps) ---- */

static void test_enomem(void) {
  pid_t pid = fork();
  if (pid == 0) {
    env_t e;
    if (env_open(&e, 2 << 20, NULL, 1) != 0) _exit(3);
    struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30};
    setrlimit(RLIMIT_AS, &rl);
    static void *slots[1 << 16];
    for (int round = 0; round < 4096; round++)
      for (int i = 0; i < (1 << 16); i++) {
        /* objects stay live; a slot is reused, which is harmless only
           because nothing is freed here, so nothing ever moves */
        int rc = A->alloc(&e.ctx[0], &slots[i], 8, HL_KIND_MALLOC, 0);
        if (rc == ENOMEM) _exit(0);
        if (rc != 0) _exit(4);
      }
    _exit(5);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ENOMEM child: status %d", st);
}

/* An op from a context that does not own the object is never carried out:
   the allocator stops with a message naming both threads. */
static void test_ownership_violation(void) {
  int fds[2];
  if (pipe(fds) != 0) {
    CHECK(0, "pipe failed");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    env_t e;
    if (env_open(&e, 0, NULL, 2) != 0) _exit(3);
    static void *slot;
    if (A->alloc(&e.ctx[0], &slot, 40, HL_KIND_MALLOC, 0) != 0) _exit(4);
    A->free(&e.ctx[1], &slot, 40); /* thread 1 frees thread 0's object */
    _exit(0);
  }
  close(fds[1]);
  char buf[4096] = "";
  size_t n = 0;
  ssize_t got;
  while (n < sizeof buf - 1 && (got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0)
    n += (size_t)got;
  close(fds[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  CHECK(WIFSIGNALED(st) && strstr(buf, "thread 1 used an object owned by thread 0"),
        "foreign free must stop the program: status %d, stderr '%.200s'", st, buf);
}

/* ---- serialization ---- */

static void roundtrip(const char *name, int n, size_t size, int fields) {
  env_t e;
  CHECK(env_open(&e, 0, "checked=1", 2) == 0, "open");
  hl_ctx_t *c = &e.ctx[0], *c2 = &e.ctx[1];
  obj_t **o = calloc((size_t)n, sizeof *o);
  void ***slots = calloc((size_t)n, sizeof *slots);
  for (int i = 0; i < n; i++) {
    o[i] = obj_new(c, size);
    obj_fill(o[i], c, 0, size, (uint64_t)i + 1);
    slots[i] = &o[i]->slot;
  }
  for (int i = 0; i < n; i++)
    for (int f = 0; f < fields; f++) {
      int t = fields == 1 ? i + 1 : 2 * i + 1 + f; /* list: next; tree: children */
      if (t < n) A->link(c, &o[i]->slot, (size_t)f * 8, &o[t]->slot), o[i]->unknown[f] = 1;
    }
  rv_msg_t *m;
  CHECK(rv_pack(c, slots, (size_t)n, &m) == 0 && m, "%s: pack", name);
  size_t cells = rv_msg_cells(m);
  size_t raw = rv_serialize(&e.heap, m, RV_SER_RAW, NULL, 0);
  size_t compact = rv_serialize(&e.heap, m, RV_SER_COMPACT, NULL, 0);
  CHECK(raw > 0 && compact > 0 && compact < raw, "%s: sizes %zu %zu", name, raw, compact);
  uint8_t *b1 = malloc(raw), *b2 = malloc(compact);
  CHECK(rv_serialize(&e.heap, m, RV_SER_RAW, b1, raw) == raw, "raw write");
  CHECK(rv_serialize(&e.heap, m, RV_SER_COMPACT, b2, compact) == compact, "compact write");
  printf("serialize %-6s %5d objects, %7zu ravioli (%8zu bytes in pages): raw %8zu B, "
         "compact %8zu B (%.1f%% saved)\n",
         name, n, cells, cells * RV_RAVIOLO_WORDS * 8, raw, compact,
         100.0 * (double)(raw - compact) / (double)raw);
  rv_msg_discard(c, m);
  CHECK(o[0]->slot == NULL, "discard clears the slots");
  /* bad input: nothing happens */
  CHECK(rv_deserialize(c2, b2, compact - 1, slots, (size_t)n, &m) == EINVAL, "truncated");
  uint8_t keep = b1[20];
  b1[20] ^= 0x55;
  int rc = rv_deserialize(c2, b1, raw, slots, (size_t)n, &m);
  CHECK(rc == EINVAL || rc == 0, "corrupt: %d", rc);
  if (rc == 0) rv_msg_discard(c2, m);
  b1[20] = keep;
  for (int k = 0; k < (n > 1 ? 200 : 10); k++) { /* random corruption never crashes */
    size_t at = 12 + rnd() % (compact - 12);
    uint8_t was = b2[at];
    b2[at] = (uint8_t)rnd();
    if (rv_deserialize(c2, b2, compact, slots, (size_t)n, &m) == 0) rv_msg_discard(c2, m);
    b2[at] = was;
  }
  CHECK(rv_deserialize(c2, b2, compact, slots, (size_t)n - 1, &m) == EINVAL, "too few slots");
  CHECK(o[0]->slot == NULL, "failed reads leave the slots alone");
  for (int pass = 0; pass < 2; pass++) {
    uint8_t *b = pass ? b2 : b1;
    size_t len = pass ? compact : raw;
    rc = rv_deserialize(c2, b, len, slots, (size_t)n, &m);
    CHECK(rc == 0, "%s: deserialize %s: %d", name, pass ? "compact" : "raw", rc);
    if (rc) break;
    rv_unpack(c2, m);
    int bad = 0;
    for (int i = 0; i < n; i++) {
      bad += !obj_check(o[i], c2);
      for (int f = 0; f < fields; f++) {
        int t = fields == 1 ? i + 1 : 2 * i + 1 + f;
        if (t < n) bad += field_target(c2, &o[i]->slot, (size_t)f * 8) != rv_object_of(o[t]->slot);
      }
    }
    CHECK(bad == 0, "%s: %d objects or links wrong after the round trip", name, bad);
    if (pass == 0) { /* pack and drop them again for the second pass */
      CHECK(rv_pack(c2, slots, (size_t)n, &m) == 0, "repack");
      rv_msg_discard(c2, m);
    }
  }
  heap_ok(&e, name);
  for (int i = 0; i < n; i++) obj_free(o[i], c2);
  CHECK(stats(&e).objects_live == 0, "%s: empty", name);
  free(b1), free(b2), free(o), free(slots);
  env_close(&e);
}

/* ---- bench ---- */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void bench_size(long n, size_t size) {
  env_t e;
  env_open(&e, 0, NULL, 1);
  hl_ctx_t *c = &e.ctx[0];
  static void *slots[1000];
  double t0 = now();
  for (long i = 0; i < n; i++) {
    A->alloc(c, &slots[0], size, HL_KIND_MALLOC, 0);
    A->free(c, &slots[0], size);
  }
  double t1 = now();
  for (long i = 0; i < n / 1000; i++) {
    for (int j = 0; j < 1000; j++) A->alloc(c, &slots[j], size, HL_KIND_MALLOC, 0);
    for (int j = 0; j < 1000; j++) A->free(c, &slots[(j * 7) % 1000], size);
  }
  double t2 = now();
  for (long i = 0; i < n; i++) {
    slots[0] = malloc(size);
    __asm__ volatile("" ::"r"(slots[0]) : "memory");
    free(slots[0]);
  }
  double t3 = now();
  for (long i = 0; i < n / 1000; i++) {
    for (int j = 0; j < 1000; j++) {
      slots[j] = malloc(size);
      __asm__ volatile("" ::"r"(slots[j]) : "memory");
    }
    for (int j = 0; j < 1000; j++) free(slots[(j * 7) % 1000]);
  }
  double t4 = now();
  printf("bench %zu-byte objects (%s), %ld alloc+free pairs: ravioli %.1f ns (1 live), %.1f ns "
         "(1000 live, scattered frees: a move each); glibc %.1f ns, %.1f ns\n",
         size, size <= (RV_RAVIOLO_WORDS - 2) * 8 ? "one raviolo" : "a tree of ravioli", n,
         (t1 - t0) * 1e9 / (double)n, (t2 - t1) * 1e9 / (double)n, (t3 - t2) * 1e9 / (double)n,
         (t4 - t3) * 1e9 / (double)n);
  env_close(&e);
}

static void bench(long n) {
  bench_size(n, 16);
  bench_size(n, 32);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bench") == 0) {
    bench(argc > 2 ? atol(argv[2]) : 20000000);
    return 0;
  }
  bool quick = getenv("HL_SANITIZED") != NULL;
  test_config();
  test_basics();
  test_links();
  test_random(0, quick ? 1000 : 4000);
  for (size_t ps = 1024; ps <= ((size_t)2 << 20); ps *= 2) test_random(ps, quick ? 200 : 1000);
  test_big_free();
  test_send_set();
  test_free_post();
  test_free_post_threads();
  if (!quick) test_enomem();
  test_ownership_violation();
  test_hysteresis();
  test_threads("checked=1", quick ? 800 : 3000);
  test_threads("hysteresis=0", quick ? 3000 : 20000);
  roundtrip("list", 1000, 16, 1);
  roundtrip("tree", 1023, 24, 2);
  roundtrip("array", 1, 1 << 20, 0);
  bench(quick ? 200000 : 2000000);
  return check_summary("test_ravioli");
}
