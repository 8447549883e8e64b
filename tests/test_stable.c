/* ----------------------------------------------------------------------------
  tests/test_stable.c: the local stable heap (alloc/stable): the collector
  against a reference reachability computation on random graphs with cycles
  (lists, trees and random edges), pinned objects that never move, card
  marking (and a dropped barrier that must make a minor collection free a
  reachable young object), raw memory that is never collected, contents
  preserved across promotion, and the alloc.h face (options, threads' frees
  and links across heaps, stats).
---------------------------------------------------------------------------- */
#include "alloc/stable/stable.h"
#include "tests/check.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A node: three pointer fields, then its id and a checksum of the id. */
typedef struct node_s {
  void *f[3];
  uint64_t id, sum;
} node_t;
#define NF 3
/* A big node (a large object, > 8 KiB): pointer fields at 0 and 9000. */
#define BIG_SIZE 12000
#define BIG_F1   9000

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

#define MAXN 6000

/* The reference model: object i's roots, edges and size. */
typedef struct model_s {
  void *roots[MAXN];
  int edge[MAXN][NF]; /* -1: null */
  bool big[MAXN], exists[MAXN], reach[MAXN], live[MAXN], old[MAXN];
  int n;
} model_t;

static uint64_t node_sum(uint64_t id) {
  return id * 0x9e3779b97f4a7c15ull ^ 0xabcdef;
}

/* Field f of object at p (big nodes keep field 1 at BIG_F1, field 2 unused). */
static void **field_at(model_t *m, int i, void *p, int f) {
  if (m->big[i]) return f == 0 ? (void **)p : (void **)((char *)p + BIG_F1);
  return &((node_t *)p)->f[f];
}
static size_t field_off(model_t *m, int i, int f) {
  return m->big[i] ? (f == 0 ? 0 : BIG_F1) : (size_t)f * 8;
}
/* Both kinds keep the id at +24 and its checksum at +32 (data words). */
static uint64_t *id_at(model_t *m, int i, void *p) {
  (void)m, (void)i;
  return &((node_t *)p)->id;
}

/* Reachability from the roots; with `old_roots`, live old objects count as
   roots too: that is what a minor collection computes (the card table holds
   every old-to-young pointer, and old objects are not traced). */
static void reference_reach(model_t *m, bool old_roots) {
  static int stack[MAXN];
  int sp = 0;
  memset(m->reach, 0, sizeof m->reach);
  for (int i = 0; i < m->n; i++)
    if (m->roots[i] || (old_roots && m->live[i] && m->old[i])) m->reach[i] = true, stack[sp++] = i;
  while (sp) {
    int i = stack[--sp];
    for (int f = 0; f < NF; f++) {
      int j = m->edge[i][f];
      if (j >= 0 && !m->reach[j]) m->reach[j] = true, stack[sp++] = j;
    }
  }
}

typedef struct walk_s {
  model_t *m;
  int bad;
} walk_t;

static void walk_fn(void *obj, void *arg) {
  walk_t *w = arg;
  uint64_t id = ((node_t *)obj)->id;
  int i = id < (uint64_t)w->m->n ? (int)id : -1;
  if (i < 0 || w->m->live[i] || ((node_t *)obj)->sum != node_sum(id)) {
    w->bad++;
    return;
  }
  w->m->live[i] = true;
  w->m->old[i] = stable_is_old(obj);
}

/* Walk the graph from the roots through the heap, checking every id and
   every edge against the model: contents and fields survived the moves. */
static int check_graph(model_t *m) {
  static void *addr[MAXN];
  static int stack[MAXN];
  static bool seen[MAXN];
  int sp = 0, bad = 0;
  memset(seen, 0, sizeof seen);
  for (int i = 0; i < m->n; i++)
    if (m->roots[i]) addr[i] = m->roots[i], seen[i] = true, stack[sp++] = i;
  while (sp) {
    int i = stack[--sp];
    void *p = addr[i];
    if (*id_at(m, i, p) != (uint64_t)i) bad++;
    if (((node_t *)p)->sum != node_sum((uint64_t)i)) bad++;
    for (int f = 0; f < NF; f++) {
      if (m->big[i] && f == 2) continue;
      void *t = *field_at(m, i, p, f);
      int j = m->edge[i][f];
      if ((j < 0) != (t == NULL)) {
        bad++;
        continue;
      }
      if (j < 0) continue;
      if (seen[j] && addr[j] != t) bad++;
      if (!seen[j]) seen[j] = true, addr[j] = t, stack[sp++] = j;
    }
  }
  return bad;
}

/* After a collection: the live typed objects against the reference. A minor
   collection reclaims exactly the unreachable young objects; a major one
   exactly the unreachable ones. */
static void compare(stable_heap_t *h, model_t *m, bool major, const char *when) {
  static bool truly[MAXN];
  memset(m->live, 0, sizeof m->live);
  walk_t w = {m, 0};
  stable_heap_walk(h, walk_fn, &w);
  CHECK(w.bad == 0, "%s: %d unknown or duplicate objects in the heap", when, w.bad);
  reference_reach(m, false);
  memcpy(truly, m->reach, sizeof truly);
  if (!major) reference_reach(m, true);
  int missing = 0, extra = 0;
  for (int i = 0; i < m->n; i++) {
    if (!m->exists[i]) continue;
    if (truly[i] && !m->live[i]) missing++;
    if (!m->reach[i] && m->live[i]) extra++;
    if (!m->live[i]) m->exists[i] = false; /* reclaimed for good */
  }
  CHECK(missing == 0, "%s: %d reachable objects were reclaimed", when, missing);
  CHECK(extra == 0, "%s: %d unreachable %s objects survived", when, extra, major ? "" : "young");
  CHECK(check_graph(m) == 0, "%s: graph contents or fields wrong after collection", when);
  CHECK(stable_heap_is_valid(h), "%s: heap invalid", when);
}

static int new_object(stable_heap_t *h, model_t *m, const stable_type_t *small,
                      const stable_type_t *big, bool want_big) {
  if (m->n == MAXN) return -1;
  int i = m->n++;
  m->big[i] = want_big;
  if (stable_alloc_typed(h, &m->roots[i], want_big ? big : small, 0) != 0) return -1;
  m->exists[i] = true;
  for (int f = 0; f < NF; f++) m->edge[i][f] = -1;
  *id_at(m, i, m->roots[i]) = (uint64_t)i;
  ((node_t *)m->roots[i])->sum = node_sum((uint64_t)i);
  return i;
}

static void set_edge(stable_heap_t *h, model_t *m, int i, int f, int j) {
  if (m->big[i] && f == 2) f = 1;
  int rc = stable_store(h, m->roots[i], field_off(m, i, f), j >= 0 ? m->roots[j] : NULL);
  CHECK(rc == 0, "stable_store %d.%d -> %d: %d", i, f, j, rc);
  m->edge[i][f] = j;
}

/* Random rooted object among the first n, or -1. */
static int pick_rooted(model_t *m) {
  for (int tries = 0; tries < 50; tries++) {
    int i = (int)(rng() % (uint64_t)m->n);
    if (m->roots[i]) return i;
  }
  return -1;
}

static void test_graph(unsigned cohorts, size_t card) {
  stable_config_t c;
  char why[200], opts[100];
  snprintf(opts, sizeof opts, "cohorts=%u,card=%zu,manual=1,checked=%d", cohorts, card,
           card == 1024 ? 1 : 0);
  CHECK(stable_config_parse(&c, opts, why, sizeof why) == 0, "config: %s", why);
  stable_heap_t *h = stable_heap_new(&c);
  size_t offs[3] = {0, 8, 16}, boffs[2] = {0, BIG_F1};
  stable_type_t *small = stable_type_new(sizeof(node_t), 3, offs);
  stable_type_t *big = stable_type_new(BIG_SIZE, 2, boffs);
  model_t *m = calloc(1, sizeof *m);
  CHECK(h && small && big && m, "setup");
  if (!h || !small || !big || !m) return;
  char when[80];
  for (int round = 0; round < 40 && m->n < MAXN - 200; round++) {
    /* lists and trees built from fresh objects, hung off old rooted ones
       (old-to-young stores), random extra edges (cycles), dropped roots */
    int prev = -1;
    for (int k = 0; k < 40; k++) {
      int i = new_object(h, m, small, big, rng() % 61 == 0);
      if (i < 0) break;
      if (prev >= 0) set_edge(h, m, prev, 0, i);                 /* a list */
      if (k > 1) set_edge(h, m, m->n - 1 - k / 2, 1 + k % 2, i); /* a tree */
      prev = i;
    }
    for (int k = 0; k < 60; k++) {
      int i = pick_rooted(m), j = pick_rooted(m);
      if (i >= 0 && j >= 0) set_edge(h, m, i, (int)(rng() % NF), rng() % 5 ? j : -1);
    }
    for (int k = 0; k < 45; k++) {
      int i = pick_rooted(m);
      if (i >= 0) stable_root_drop(h, &m->roots[i]);
    }
    bool major = round % 7 == 6;
    if (major)
      stable_collect_major(h);
    else
      stable_collect_minor(h);
    snprintf(when, sizeof when, "graph cohorts=%u card=%zu round %d (%s)", cohorts, card, round,
             major ? "major" : "minor");
    compare(h, m, major, when);
  }
  stable_stats_t s;
  stable_heap_stats(h, &s);
  CHECK(s.promoted > 0 && s.bytes_moved > 0, "graph: nothing was promoted (moved)");
  CHECK(s.promoted_in_place > 0, "graph: no large object was promoted in place");
  CHECK(s.cards_dirtied > 0 && s.cards_scanned > 0, "graph: no card was dirtied and scanned");
  CHECK(s.reclaimed > 0, "graph: nothing reclaimed");
  if (cohorts == 2 && card == 1024) stable_stats_print(&s, stdout);
  free(m);
  stable_type_delete(small);
  stable_type_delete(big);
  stable_heap_delete(h);
}

static void test_pinned(void) {
  stable_config_t c;
  char why[200];
  CHECK(stable_config_parse(&c, "cohorts=2,manual=1,checked=1", why, sizeof why) == 0, "%s", why);
  stable_heap_t *h = stable_heap_new(&c);
  size_t offs[1] = {0};
  stable_type_t *t = stable_type_new(64, 1, offs);
  enum { N = 200 };
  static void *pinned[N], *loose[N], *addr[N], *laddr[N];
  for (int i = 0; i < N; i++) {
    CHECK(stable_alloc_typed(h, &pinned[i], t, STABLE_PIN) == 0, "alloc pinned");
    CHECK(stable_alloc_typed(h, &loose[i], t, 0) == 0, "alloc loose");
    addr[i] = pinned[i], laddr[i] = loose[i];
    memset((char *)pinned[i] + 8, i & 0xff, 56);
    if (i) CHECK(stable_store(h, pinned[i], 0, pinned[i - 1]) == 0, "store"); /* chain */
  }
  for (int k = 0; k < 30; k++) {
    for (int i = 0; i < 100; i++) { /* churn: garbage */
      void *g = NULL;
      stable_alloc_typed(h, &g, t, 0);
      stable_root_drop(h, &g);
    }
    if (k % 10 == 9)
      stable_collect_major(h);
    else
      stable_collect_minor(h);
  }
  int moved = 0, bad = 0, lmoved = 0;
  for (int i = 0; i < N; i++) {
    if (pinned[i] != addr[i]) moved++;
    if (loose[i] != laddr[i]) lmoved++;
    for (int b = 8; b < 64; b++)
      if (((unsigned char *)pinned[i])[b] != (i & 0xff)) bad++;
    if (i && *(void **)pinned[i] != pinned[i - 1]) bad++;
  }
  CHECK(moved == 0, "%d pinned objects moved", moved);
  CHECK(lmoved == N, "only %d of %d unpinned objects were promoted (moved)", lmoved, N);
  CHECK(bad == 0, "pinned contents changed (%d bytes)", bad);
  stable_stats_t s;
  stable_heap_stats(h, &s);
  CHECK(s.objects_pinned == N && s.bytes_pinned == (uint64_t)N * 64,
        "pinned stats %llu objects %llu bytes", (unsigned long long)s.objects_pinned,
        (unsigned long long)s.bytes_pinned);
  /* dropping the chain's head root: the whole pinned chain is reclaimed */
  for (int i = 0; i < N; i++) stable_root_drop(h, &pinned[i]);
  stable_collect_minor(h);
  stable_heap_stats(h, &s);
  CHECK(s.objects_pinned == 0, "unreachable pinned objects not reclaimed: %llu",
        (unsigned long long)s.objects_pinned);
  CHECK(stable_heap_is_valid(h), "pinned: heap invalid");
  stable_type_delete(t);
  stable_heap_delete(h);
}

/* One old object, one young object stored into it, its root dropped: with
   the barrier the minor collection keeps it; without, it frees it. */
static void test_barrier(bool skip) {
  stable_config_t c;
  char why[200];
  CHECK(stable_config_parse(&c, "cohorts=1,manual=1", why, sizeof why) == 0, "%s", why);
  stable_heap_t *h = stable_heap_new(&c);
  size_t offs[2] = {0, 8};
  stable_type_t *t = stable_type_new(32, 2, offs);
  void *old = NULL, *young = NULL;
  stable_alloc_typed(h, &old, t, 0);
  stable_collect_minor(h); /* cohorts=1: promoted */
  CHECK(stable_is_old(old), "object not promoted after one minor collection");
  stable_alloc_typed(h, &young, t, 0);
  ((uint64_t *)young)[2] = 0x5eed;
  CHECK(!stable_is_old(young), "fresh object is old");
  stable_debug_skip_barrier(h, skip);
  CHECK(stable_store(h, old, 8, young) == 0, "store");
  void *yaddr = young;
  stable_root_drop(h, &young);
  stable_stats_t s0, s1;
  stable_heap_stats(h, &s0);
  bool valid_before = stable_heap_is_valid(h);
  stable_collect_minor(h);
  stable_heap_stats(h, &s1);
  void *now = ((void **)old)[1];
  bool kept = stable_is_live(h, now) && ((uint64_t *)now)[2] == 0x5eed;
  bool valid_after = stable_heap_is_valid(h);
  if (!skip) {
    CHECK(valid_before && valid_after, "barrier: heap invalid");
    CHECK(kept, "barrier on: the reachable young object was lost");
    CHECK(now != yaddr && stable_is_old(now), "barrier on: young object not promoted and fixed");
    CHECK(s1.cards_scanned > s0.cards_scanned, "barrier on: no dirty card scanned");
    CHECK(s0.cards_dirtied >= 1, "barrier on: no card dirtied");
  } else {
    /* the dropped barrier must show: the checker sees the clean card before
       the collection, and the collection frees the reachable object */
    CHECK(!valid_before, "barrier skipped: the checker did not see the clean card");
    CHECK(!kept && !stable_is_live(h, yaddr), "barrier skipped: the young object survived");
    CHECK(!valid_after, "barrier skipped: dangling field not detected");
    CHECK(s1.cards_scanned == s0.cards_scanned, "barrier skipped: a card was scanned");
    printf("dropped barrier: reachable young object %p freed by the minor collection "
           "(detected, as the test expects)\n",
           yaddr);
    ((void **)old)[1] = NULL; /* let heap_delete run on a consistent heap */
  }
  stable_type_delete(t);
  stable_heap_delete(h);
}

static void test_raw(void) {
  stable_config_t c;
  char why[200];
  CHECK(stable_config_parse(&c, "cohorts=1,manual=1,checked=1", why, sizeof why) == 0, "%s", why);
  stable_heap_t *h = stable_heap_new(&c);
  size_t offs[1] = {0};
  stable_type_t *t = stable_type_new(48, 1, offs);
  enum { N = 300 };
  static unsigned char *raw[N];
  for (int i = 0; i < N; i++) {
    size_t n = 16 + (size_t)(i * 37) % 20000;
    raw[i] = stable_alloc_raw(h, n, 0);
    CHECK(raw[i] != NULL, "raw alloc");
    raw[i][0] = (unsigned char)i, raw[i][n - 1] = (unsigned char)(i * 3);
  }
  for (int k = 0; k < 10; k++) {
    void *g = NULL;
    stable_alloc_typed(h, &g, t, 0);
    stable_root_drop(h, &g);
    if (k % 3 == 2)
      stable_collect_major(h);
    else
      stable_collect_minor(h);
  }
  int bad = 0;
  for (int i = 0; i < N; i++) {
    size_t n = 16 + (size_t)(i * 37) % 20000;
    if (!stable_is_live(h, raw[i]) || stable_is_old(raw[i])) bad++;
    if (raw[i][0] != (unsigned char)i || raw[i][n - 1] != (unsigned char)(i * 3)) bad++;
  }
  CHECK(bad == 0, "raw memory collected, moved or changed (%d)", bad);
  for (int i = 0; i < N; i += 2) stable_free_raw(h, raw[i]);
  stable_stats_t s;
  stable_heap_stats(h, &s);
  CHECK(s.raw_frees == N / 2 && s.allocs == N + 10 && s.typed == 10,
        "raw stats: frees %llu allocs %llu typed %llu", (unsigned long long)s.raw_frees,
        (unsigned long long)s.allocs, (unsigned long long)s.typed);
  CHECK(stable_heap_is_valid(h), "raw: heap invalid");
  stable_type_delete(t);
  stable_heap_delete(h);
}

/* The alloc.h face: options, cross-context free/link, stats. */
static void test_face(void) {
  const hl_allocator_t *A = hl_alloc_find("stable");
  CHECK(A != NULL && (A->flags & HL_ALLOC_MOVES), "stable registered, moving");
  if (!A) return;
  hl_heap_t bad = {.allocator = A, .config = {.options = "card=100"}};
  CHECK(A->heap_init(&bad) == EINVAL, "bad card size accepted");
  hl_heap_t bad2 = {.allocator = A, .config = {.options = "bogus=1"}};
  CHECK(A->heap_init(&bad2) == EINVAL, "unknown option accepted");
  hl_heap_t heap = {.allocator = A,
                    .config = {.threads = 2, .options = "minor=4K,cohorts=1,checked=1"}};
  CHECK(A->heap_init(&heap) == 0, "heap_init");
  hl_ctx_t c0 = {.heap = &heap, .thread = 0}, c1 = {.heap = &heap, .thread = 1};
  CHECK(A->thread_init(&c0) == 0 && A->thread_init(&c1) == 0, "thread_init");
  enum { N = 400 };
  static void *s[N];
  for (int i = 0; i < N; i++) {
    CHECK(A->alloc(&c0, &s[i], 40, i % 5 ? HL_KIND_MALLOC : HL_KIND_CALLOC, 0) == 0, "alloc");
    uint64_t v = (uint64_t)i;
    A->write(&c0, &s[i], 16, &v, 8);
    if (i) A->link(&c0, &s[i], 0, &s[i - 1]); /* a list: typed */
  }
  void *r = NULL, *x = NULL;
  CHECK(A->alloc(&c1, &r, 100, HL_KIND_MALLOC, 0) == 0, "alloc raw on 1");
  CHECK(A->alloc(&c1, &x, 24, HL_KIND_MALLOC, 0) == 0, "alloc on 1");
  A->link(&c1, &x, 0, &s[N - 1]); /* across heaps: s[N-1] escapes (pinned) */
  A->send(&c0, &c1, &s[10]);
  A->free(&c0, &r, 100); /* a raw free from another context: remote */
  for (int i = 0; i < N - 1; i++) A->free(&c0, &s[i], 40);
  static void *g0[200], *g1[200];
  for (int i = 0; i < 200; i++) { /* churn so the heaps collect */
    A->alloc(&c0, &g0[i], 64, HL_KIND_MALLOC, 0);
    A->alloc(&c1, &g1[i], 64, HL_KIND_MALLOC, 0);
    A->free(&c1, &g1[i], 64);
  }
  uint64_t v = 0;
  A->read(&c1, &s[N - 1], 16, &v, 8);
  CHECK(v == N - 1, "escaped object's contents: %llu", (unsigned long long)v);
  stable_stats_t st;
  stable_stats(&heap, &st);
  CHECK(st.escaped >= 2, "escaped %llu", (unsigned long long)st.escaped);
  CHECK(st.remote_frees == 1, "remote frees %llu", (unsigned long long)st.remote_frees);
  CHECK(st.roots_dropped >= N - 1, "roots dropped %llu", (unsigned long long)st.roots_dropped);
  CHECK(st.minor > 0, "no minor collection by volume");
  hl_alloc_stats_t as;
  A->stats(&heap, &as);
  CHECK((as.valid & (HL_STAT_MOVES | HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED)) ==
            (HL_STAT_MOVES | HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED),
        "interface stats valid");
  CHECK(as.bytes_mapped > 0 && as.bytes_live > 0, "interface stats measured");
  A->free(&c1, &x, 24);
  A->free(&c0, &s[N - 1], 40);
  for (int i = 0; i < 200; i++) A->free(&c1, &g0[i], 64); /* remote frees */
  A->thread_done(&c0);
  A->thread_done(&c1);
  A->heap_done(&heap);
}

int main(void) {
  test_graph(2, 1024);
  test_graph(7, 1024);
  test_graph(1, 128);
  test_graph(3, 65536);
  test_pinned();
  test_barrier(false);
  test_barrier(true);
  test_raw();
  test_face();
  return check_summary("test_stable");
}
