/* ----------------------------------------------------------------------------
  alloc/arena/arena_alloc.c: the arena allocator (seed 004) behind
  alloc/alloc.h, as allocator `arena`. The context's core picks the arena
  (ctx->core, never sched_getcpu), ctx->local is the thread cache. Objects
  never move, so contents, links and sends are the flat helpers.

  Options (--options): the table arena_opt_table in arena_core.c, shared
  with libhlarena.so (`hlreplay --alloc arena --options help` prints it;
  README.md lists it). The heap page size tunable does not apply:
  the chunk size is a build-time constant (ARENA_CHUNK_SHIFT), so a page
  size other than 0 is refused.

  Stats: bytes_live is what the contexts asked for and still hold (kept per
  context, summed); bytes_mapped is chunks handed out (including each
  arena's spare), dirty free chunks not yet purged, and metadata; pages is
  chunks handed out (4 MiB each).
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/arena/arena.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct arena_if_s {
  arena_heap_t *h;
  pthread_mutex_t lock; /* the list of contexts */
  arena_tcache_t *all;
  size_t page; /* sysconf once, not per call */
} arena_if_t;

static int arena_if_heap_init(hl_heap_t *heap) {
  arena_opts_t opts;
  if (arena_opts_parse(&opts, heap->config.options, heap->why, sizeof heap->why) != 0)
    return EINVAL;
  if (heap->config.page_size != 0) {
    snprintf(heap->why, sizeof heap->why,
             "arena: the page size is fixed at build time (4 MiB chunks, 64 KiB slabs); "
             "--page-size does not apply");
    return EINVAL;
  }
  arena_heap_t *h = arena_heap_create(&opts);
  if (!h) return ENOMEM;
  arena_if_t *st = arena_meta_alloc(h, sizeof *st);
  if (!st) {
    arena_heap_destroy(h);
    return ENOMEM;
  }
  st->h = h;
  st->page = (size_t)sysconf(_SC_PAGESIZE);
  pthread_mutex_init(&st->lock, NULL);
  heap->state = st;
  return 0;
}

static void arena_if_heap_done(hl_heap_t *heap) {
  arena_if_t *st = heap->state;
  if (!st) return;
  pthread_mutex_destroy(&st->lock);
  arena_heap_destroy(st->h); /* st lives in the heap's metadata */
  heap->state = NULL;
}

static int arena_if_thread_init(hl_ctx_t *ctx) {
  arena_if_t *st = ctx->heap->state;
  arena_tcache_t *tc = arena_tcache_create(st->h, ctx->core);
  if (!tc) return ENOMEM;
  pthread_mutex_lock(&st->lock);
  tc->next_all = st->all;
  st->all = tc;
  pthread_mutex_unlock(&st->lock);
  ctx->local = tc;
  return 0;
}

/* The replay may still free through a finished context, so the cache stays
   usable; it is only emptied, so its objects go back to their slabs. */
static void arena_if_thread_done(hl_ctx_t *ctx) {
  arena_if_t *st = ctx->heap->state;
  arena_tcache_flush(st->h, ctx->local);
}

static inline void arena_if_live(arena_tcache_t *tc, int64_t d) {
  /* written by the one thread driving this context; read racily by stats */
  __atomic_store_n(&tc->live, __atomic_load_n(&tc->live, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

static int arena_if_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind,
                          size_t align) {
  arena_if_t *st = ctx->heap->state;
  size_t page = st->page;
  switch (kind) {
    case HL_KIND_MALLOC:
    case HL_KIND_CALLOC:
      align = 0;
      break;
    case HL_KIND_MEMALIGN:
    case HL_KIND_POSIX_MEMALIGN:
    case HL_KIND_ALIGNED_ALLOC:
      if (align == 0 || (align & (align - 1)) != 0) return EINVAL;
      break;
    case HL_KIND_VALLOC:
      align = page;
      break;
    case HL_KIND_PVALLOC:
      align = page;
      if (size > ARENA_SIZE_LIMIT) return ENOMEM; /* rounding it up could wrap to 0 */
      size = size ? (size + page - 1) & ~(page - 1) : page;
      break;
    default:
      return EINVAL;
  }
  void *p = arena_malloc(st->h, ctx->local, size, align, kind == HL_KIND_CALLOC);
  if (!p) return ENOMEM;
  *slot = p;
  arena_if_live(ctx->local, (int64_t)size);
  return 0;
}

static void arena_if_free(hl_ctx_t *ctx, void **slot, size_t size) {
  arena_if_t *st = ctx->heap->state;
  if (*slot == NULL) return;
  arena_free(st->h, ctx->local, *slot);
  arena_if_live(ctx->local, -(int64_t)size);
  *slot = NULL;
}

static int arena_if_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  arena_if_t *st = ctx->heap->state;
  if (*slot == NULL) return arena_if_alloc(ctx, slot, new_size, HL_KIND_MALLOC, 0);
  if (new_size == 0) { /* glibc's realloc(p, 0): frees, NULL */
    arena_if_free(ctx, slot, old_size);
    return 0;
  }
  void *p = arena_realloc(st->h, ctx->local, *slot, new_size);
  if (!p) return ENOMEM;
  *slot = p;
  arena_if_live(ctx->local, (int64_t)new_size - (int64_t)old_size);
  return 0;
}

static void arena_if_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  arena_if_t *st = heap->state;
  memset(out, 0, sizeof *out);
  int64_t live = 0;
  pthread_mutex_lock(&st->lock);
  for (arena_tcache_t *tc = st->all; tc; tc = tc->next_all)
    live += __atomic_load_n(&tc->live, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&st->lock);
  size_t active = atomic_load_explicit(&st->h->active_bytes, memory_order_relaxed);
  out->bytes_live = live > 0 ? (uint64_t)live : 0;
  out->bytes_mapped = active + arena_pool_dirty(st->h) +
                      atomic_load_explicit(&st->h->meta_bytes, memory_order_relaxed);
  out->pages = active / ARENA_CHUNK;
  out->moves = 0; /* objects never move */
  out->valid = HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED | HL_STAT_PAGES | HL_STAT_MOVES;
  out->na_reason = "transfers: a cross-thread free goes through the freeing thread's cache "
                   "and is not counted";
}

static int arena_if_identify(char *buf, size_t len) {
  snprintf(buf, len, "heaplab arena allocator (alloc/arena, built in)");
  return 0;
}

const hl_allocator_t hl_alloc_arena = {
    .name = "arena",
    .summary = "jemalloc-like (seed 004): per-core arenas of 4 MiB chunks, slabs + thread "
               "caches, large spans with coalescing, huge chunk spans, purging",
    .flags = 0,
    .options = &arena_opt_table,
    .heap_init = arena_if_heap_init,
    .heap_done = arena_if_heap_done,
    .thread_init = arena_if_thread_init,
    .thread_done = arena_if_thread_done,
    .alloc = arena_if_alloc,
    .free = arena_if_free,
    .realloc = arena_if_realloc,
    .read = hl_flat_read,
    .write = hl_flat_write,
    .link = hl_flat_link,
    .send = hl_flat_send,
    .stats = arena_if_stats,
    .identify = arena_if_identify,
};
