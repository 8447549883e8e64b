/* ----------------------------------------------------------------------------
  tests/test_queue_source.c: the unit queue over a foreign entry source
  (hl_unit_queue_new_with, alloc/unit/unit_queue.c), the factoring that
  hlqueuebench relies on: bad sources are refused, every entry comes from the
  source and goes back to it exactly once, in FIFO order per producer, with
  two producers pushing concurrently; the heap-backed queue still works
  through hl_unit_queue_done.
---------------------------------------------------------------------------- */
#include "alloc/unit/unit.h"
#include "tests/check.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct counting_s {
  _Atomic long allocs, releases;
} counting_t;

static void *cnt_alloc(void *arg, size_t node_size, hl_unit_status_t *why) {
  counting_t *c = arg;
  void *p = NULL;
  if (posix_memalign(&p, 16, node_size) != 0) {
    if (why) *why = HL_UNIT_E_NOMEM;
    return NULL;
  }
  atomic_fetch_add(&c->allocs, 1);
  return p;
}
static void cnt_release(void *arg, void *node) {
  counting_t *c = arg;
  atomic_fetch_add(&c->releases, 1);
  free(node);
}

typedef struct msg_s {
  unsigned long producer, seq;
} msg_t;

enum { PER = 20000 };

typedef struct prod_s {
  hl_unit_queue_t *q;
  unsigned long id;
  int failed;
} prod_t;

static void *producer(void *arg) {
  prod_t *p = arg;
  for (unsigned long s = 0; s < PER; s++) {
    msg_t *m = hl_unit_queue_entry(p->q, NULL);
    if (m == NULL) {
      p->failed = 1;
      return NULL;
    }
    m->producer = p->id, m->seq = s;
    hl_unit_queue_push(p->q, m);
  }
  return NULL;
}

static void run_queue(hl_unit_queue_t *q, const char *name) {
  prod_t ps[2] = {{q, 0, 0}, {q, 1, 0}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, producer, &ps[i]);
  unsigned long next[2] = {0, 0}, got = 0, bad = 0;
  while (got < 2 * PER) {
    msg_t *m = hl_unit_queue_pop(q);
    if (m == NULL) continue;
    if (m->producer > 1 || m->seq != next[m->producer])
      bad++;
    else
      next[m->producer]++;
    hl_unit_queue_done(q, m);
    got++;
  }
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK(!ps[0].failed && !ps[1].failed, "%s: a producer got no entry", name);
  CHECK(bad == 0, "%s: %lu messages out of order", name, bad);
  CHECK(hl_unit_queue_pop(q) == NULL, "%s: queue not empty", name);
  CHECK(hl_unit_queue_is_valid(q), "%s: queue invalid", name);
}

int main(void) {
  hl_unit_status_t why = HL_UNIT_OK;
  CHECK(hl_unit_queue_new_with(16, NULL, &why) == NULL && why == HL_UNIT_E_ARGUMENT,
        "NULL source accepted");
  hl_unit_queue_source_t half = {"half", cnt_alloc, NULL, NULL};
  CHECK(hl_unit_queue_new_with(16, &half, NULL) == NULL, "source without release accepted");

  counting_t c = {0};
  hl_unit_queue_source_t src = {"counting", cnt_alloc, cnt_release, &c};
  hl_unit_queue_t *q = hl_unit_queue_new_with(sizeof(msg_t), &src, NULL);
  CHECK(q != NULL, "new_with");
  if (q) {
    CHECK(hl_unit_queue_heap(q) == NULL, "a foreign source has no unit heap");
    run_queue(q, "counting source");
    CHECK(atomic_load(&c.allocs) == 2 * PER && atomic_load(&c.releases) == 2 * PER,
          "source saw %ld allocs, %ld releases", atomic_load(&c.allocs), atomic_load(&c.releases));
    hl_unit_queue_delete(q);
  }
  hl_unit_queue_t *u = hl_unit_queue_new("own", sizeof(msg_t), 64, 0, HL_UNIT_GROW_UNLIMITED, NULL);
  CHECK(u != NULL, "heap-backed queue");
  if (u) {
    run_queue(u, "own unit heap");
    hl_unit_heap_stats_t st;
    hl_unit_heap_stats(hl_unit_queue_heap(u), &st);
    CHECK(st.units_live == 0, "own heap: %zu units still live", st.units_live);
    hl_unit_queue_delete(u);
  }
  return check_summary("test_queue_source");
}
