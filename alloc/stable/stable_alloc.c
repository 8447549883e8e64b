/* ----------------------------------------------------------------------------
  alloc/stable/stable_alloc.c: the local stable heap behind alloc/alloc.h, as
  allocator `stable`: one local heap per context (ctx->local), the trace's
  reference slots as roots, `link` as the write barrier.

  The rule mapping traces onto raw and typed memory (README.md):
  - every object starts raw: freed explicitly, at once, by a trace `free`;
  - a `link` makes its source typed (the field becomes a declared pointer
    field in the object's own bitmap) and its target typed; a typed object's
    trace `free` drops its root (the slot) and the object is reclaimed by the
    first collection that finds it unreachable;
  - a `write` over a declared field turns it back into data;
  - option raw=1: nothing ever becomes typed (links are plain stores).

  Threads: the owner runs its operations without a lock; collections take
  the local heap's mutex. Another context's operation on an object takes the
  owner's mutex (so no collection moves the object meanwhile), re-reads the
  slot and works in place; a raw free from another context goes on the
  owner's lock-free remote list, which the owner drains. A `send` pins the
  object (it never moves again), and a link across heaps pins the target and
  makes it a root until the trace frees it (ST_EXTREF): the owner's
  collector never follows pointers into another heap.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/stable/stable_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sa_state_s {
  pthread_mutex_t lock; /* the list of local heaps */
  stable_heap_t *heaps;
  stable_config_t conf;
  size_t page;
} sa_state_t;

static int sa_heap_init(hl_heap_t *heap) {
  sa_state_t *st = calloc(1, sizeof *st);
  if (st == NULL) return ENOMEM;
  int rc = stable_config_parse(&st->conf, heap->config.options, heap->why, sizeof heap->why);
  if (rc) {
    free(st);
    return rc;
  }
  pthread_mutex_init(&st->lock, NULL);
  st->page = (size_t)sysconf(_SC_PAGESIZE);
  heap->state = st;
  return 0;
}

static void sa_heap_done(hl_heap_t *heap) {
  sa_state_t *st = heap->state;
  if (st == NULL) return;
  for (stable_heap_t *h = st->heaps, *next; h; h = next) {
    next = h->next;
    stable_heap_delete(h);
  }
  pthread_mutex_destroy(&st->lock);
  free(st);
  heap->state = NULL;
}

static int sa_thread_init(hl_ctx_t *ctx) {
  sa_state_t *st = ctx->heap->state;
  stable_heap_t *h = stable_heap_new(&st->conf);
  if (h == NULL) return ENOMEM;
  pthread_mutex_lock(&st->lock);
  h->next = st->heaps;
  st->heaps = h;
  pthread_mutex_unlock(&st->lock);
  ctx->local = h;
  return 0;
}

/* Nothing: other contexts may still free into this heap, and the replay may
   use a finished context; heap_done deletes every local heap. */
static void sa_thread_done(hl_ctx_t *ctx) {
  (void)ctx;
}

static inline void *sa_load(void *const *slot) {
  return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

static inline void sa_check(stable_heap_t *h) {
  if (h->conf.checked && !stable_heap_is_valid(h)) {
    fprintf(stderr, "stable: heap invariant broken (checked mode)\n");
    abort();
  }
}

/* The local heap owning the object in *slot; for another heap than `me` its
   lock is taken (release with sa_unlock). *slot is stable afterwards. */
static stable_heap_t *sa_owner_lock(stable_heap_t *me, void *const *slot) {
  stable_heap_t *o = st_page_of(sa_load(slot))->owner;
  if (o != me) pthread_mutex_lock(&o->lock);
  return o;
}
static inline void sa_unlock(stable_heap_t *me, stable_heap_t *o) {
  if (o != me) pthread_mutex_unlock(&o->lock);
}

/* ---- alloc / free / realloc ---- */

static int sa_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align) {
  sa_state_t *st = ctx->heap->state;
  stable_heap_t *h = ctx->local;
  size_t asked = size, a;
  int rc = hl_alloc_kind_request(kind, align, st->page, &size, &a);
  if (rc) return rc;
  st_drain_remote(h);
  st_maybe_collect(h, size);
  st_hdr_t *o = st_alloc_obj(h, size, a);
  if (o == NULL) return ENOMEM;
  if (h->conf.pin_all || (h->conf.pin_min && size >= h->conf.pin_min)) st_pin(o);
  o->root = slot;
  void *p = st_payload(o);
  if (kind == HL_KIND_CALLOC) memset(p, 0, size); /* slots are recycled */
  ST_ADD(h->c.live_bytes, (int64_t)asked);
  *slot = p;
  sa_check(h);
  return 0;
}

/* Release o of heap oh (locked when foreign): drop the root of a typed
   object, free a raw one (here, or through the owner's remote list). */
static void sa_release(stable_heap_t *me, stable_heap_t *oh, st_hdr_t *o) {
  if (o->flags & ST_TYPED) {
    o->root = NULL;
    o->flags &= ~ST_EXTREF;
    ST_ADD(me->c.roots_dropped, 1);
  } else if (oh == me) {
    st_free_obj(me, o);
    ST_ADD(me->c.raw_frees, 1);
  } else {
    o->root = NULL;
    st_remote_push(oh, o);
    ST_ADD(me->c.raw_frees, 1);
  }
}

static void sa_free(hl_ctx_t *ctx, void **slot, size_t size) {
  stable_heap_t *h = ctx->local;
  if (sa_load(slot) == NULL) return;
  stable_heap_t *oh = sa_owner_lock(h, slot);
  st_hdr_t *o = st_hdr(*slot);
  hl_alloc_dead(*slot, size); /* before the release code reuses the bytes */
  *slot = NULL;
  sa_release(h, oh, o);
  if (oh != h) ST_ADD(h->c.transfers, 1);
  sa_unlock(h, oh);
  ST_ADD(h->c.live_bytes, -(int64_t)size);
  sa_check(h);
}

static int sa_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  stable_heap_t *h = ctx->local;
  if (sa_load(slot) == NULL) return sa_alloc(ctx, slot, new_size, HL_KIND_MALLOC, 0);
  if (new_size > UINT32_MAX) return ENOMEM;
  /* In place: own raw object whose class slot (or mapping) still fits. */
  stable_heap_t *oh = st_page_of(sa_load(slot))->owner;
  if (oh == h) {
    st_hdr_t *o = st_hdr(*slot);
    st_page_t *pg = st_page_of(*slot);
    size_t cap = pg->large ? (size_t)((char *)pg->map_base + pg->map_len - (char *)*slot)
                           : pg->stride - sizeof(st_hdr_t);
    bool fits = new_size <= cap && (pg->large ? new_size > STABLE_MAX_SMALL && new_size >= cap / 2
                                              : new_size > cap / 2 || cap == 16);
    if (fits && !(o->flags & ST_TYPED) && (uintptr_t)*slot % 16 == 0) {
      o->size = (uint32_t)new_size;
      ST_ADD(h->c.live_bytes, (int64_t)new_size - (int64_t)old_size);
      sa_check(h);
      return 0;
    }
  }
  /* Otherwise a new object in this context's heap (allocated before any
     foreign lock is taken: allocation may collect), contents copied. */
  st_drain_remote(h);
  st_maybe_collect(h, new_size);
  st_hdr_t *n = st_alloc_obj(h, new_size, 16);
  if (n == NULL) return ENOMEM;
  oh = sa_owner_lock(h, slot);
  st_hdr_t *o = st_hdr(*slot);
  size_t keep = old_size < new_size ? old_size : new_size;
  memcpy(st_payload(n), *slot, keep);
  if ((o->flags & ST_TYPED) && oh == h) {
    /* same heap: the declared fields stay pointer fields */
    st_make_typed(n);
    for (size_t w = 0; w < keep / 8; w++)
      if (st_bit_get(o, w) && st_bit_set(n, w) != 0) break;
  }
  if (o->flags & ST_PINNED) st_pin(n);
  n->root = slot;
  sa_release(h, oh, o);
  if (oh != h) ST_ADD(h->c.transfers, 1);
  __atomic_store_n(slot, st_payload(n), __ATOMIC_RELAXED);
  sa_unlock(h, oh);
  ST_ADD(h->c.live_bytes, (int64_t)new_size - (int64_t)old_size);
  sa_check(h);
  return 0;
}

/* ---- contents ---- */

static void sa_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len) {
  stable_heap_t *h = ctx->local;
  stable_heap_t *oh = sa_owner_lock(h, slot);
  memcpy(dst, (const char *)*slot + offset, len);
  sa_unlock(h, oh);
}

static void sa_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len) {
  stable_heap_t *h = ctx->local;
  stable_heap_t *oh = sa_owner_lock(h, slot);
  st_bits_clear_range(st_hdr(*slot), offset, len); /* data over a pointer field */
  memcpy((char *)*slot + offset, src, len);
  sa_unlock(h, oh);
}

/* Pin o and make it a root until freed: another heap points at it. */
static void sa_escape(stable_heap_t *oh, st_hdr_t *o) {
  if (!(o->flags & ST_EXTREF)) ST_ADD_SHARED(oh->c.escaped, 1);
  st_make_typed(o);
  st_pin(o);
  o->flags |= ST_EXTREF;
}

static void sa_link(hl_ctx_t *ctx, void **slot, size_t field, void **target) {
  stable_heap_t *h = ctx->local;
  if (h->conf.raw) {
    hl_flat_link(ctx, slot, field, target);
    return;
  }
  /* lock the owners that are not us, in address order */
  stable_heap_t *sh = st_page_of(sa_load(slot))->owner;
  stable_heap_t *th = target && sa_load(target) ? st_page_of(sa_load(target))->owner : NULL;
  stable_heap_t *l1 = sh != h ? sh : NULL, *l2 = th && th != h && th != sh ? th : NULL;
  if (l1 && l2 && l2 < l1) {
    stable_heap_t *t = l1;
    l1 = l2, l2 = t;
  }
  if (l1) pthread_mutex_lock(&l1->lock);
  if (l2) pthread_mutex_lock(&l2->lock);
  st_hdr_t *o = st_hdr(*slot);
  void *tv = target ? *target : NULL;
  if (field % 8 || field + 8 > o->size) {
    /* not a pointer-sized aligned field: a plain store, and the target is
       kept (pinned, a root) until the trace frees it */
    if (field + sizeof tv <= o->size) memcpy((char *)*slot + field, &tv, sizeof tv);
    if (tv) sa_escape(th, st_hdr(tv));
  } else {
    if (tv) {
      st_hdr_t *t = st_hdr(tv);
      st_make_typed(t);
      if (th != sh) sa_escape(th, t);
    }
    st_store(sh, o, field, tv);
  }
  if (l2) pthread_mutex_unlock(&l2->lock);
  if (l1) pthread_mutex_unlock(&l1->lock);
  sa_check(h);
}

/* The object stays where it is, pinned: the receiver may hold its address. */
static void sa_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  (void)to;
  stable_heap_t *h = from->local;
  if (sa_load(slot) == NULL) return;
  stable_heap_t *oh = sa_owner_lock(h, slot);
  st_hdr_t *o = st_hdr(*slot);
  if (!(o->flags & ST_PINNED)) {
    st_pin(o);
    ST_ADD_SHARED(oh->c.escaped, 1);
  }
  sa_unlock(h, oh);
}

/* ---- stats ---- */

void stable_stats(const hl_heap_t *heap, stable_stats_t *out) {
  sa_state_t *st = heap->state;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&st->lock);
  for (stable_heap_t *h = st->heaps; h; h = h->next) {
    stable_stats_t s;
    stable_heap_stats(h, &s);
    uint64_t *dst = (uint64_t *)out, *src = (uint64_t *)&s;
    for (size_t i = 0; i < sizeof s / sizeof(uint64_t); i++) dst[i] += src[i];
  }
  pthread_mutex_unlock(&st->lock);
}

static void sa_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  sa_state_t *st = heap->state;
  memset(out, 0, sizeof *out);
  int64_t live = 0;
  uint64_t mapped = 0, pages = 0, moves = 0, transfers = 0;
  pthread_mutex_lock(&st->lock);
  for (stable_heap_t *h = st->heaps; h; h = h->next) {
    live += atomic_load_explicit(&h->c.live_bytes, memory_order_relaxed);
    mapped += ST_GET(h->c.mapped);
    pages += ST_GET(h->c.pages);
    moves += ST_GET(h->c.promoted);
    transfers += ST_GET(h->c.transfers);
  }
  pthread_mutex_unlock(&st->lock);
  out->bytes_live = live > 0 ? (uint64_t)live : 0;
  out->bytes_mapped = mapped;
  out->pages = pages;
  out->moves = moves;
  out->transfers = transfers;
  out->valid =
      HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED | HL_STAT_PAGES | HL_STAT_MOVES | HL_STAT_TRANSFERS;
}

static int sa_identify(char *buf, size_t len) {
  snprintf(buf, len, "heaplab local stable heap (alloc/stable, built in)");
  return 0;
}

const hl_allocator_t hl_alloc_stable = {
    .name = "stable",
    .summary = "local stable heap: per-thread size classes, raw and traced (typed) objects, "
               "cohort aging, promotion, card marking, pinning",
    .flags = HL_ALLOC_MOVES,
    .options = &stable_options,
    .heap_init = sa_heap_init,
    .heap_done = sa_heap_done,
    .thread_init = sa_thread_init,
    .thread_done = sa_thread_done,
    .alloc = sa_alloc,
    .free = sa_free,
    .realloc = sa_realloc,
    .read = sa_read,
    .write = sa_write,
    .link = sa_link,
    .send = sa_send,
    .stats = sa_stats,
    .identify = sa_identify,
};
