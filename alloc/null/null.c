/* ----------------------------------------------------------------------------
  alloc/null/null.c: the do-nothing allocator. Every allocation gets the same
  dummy address and no memory is touched, so a replay through `null`
  measures the harness's own cost per event (decoding, dispatch, cross-thread
  ordering), the floor under every real allocator's numbers. It is never a
  valid allocator: replay --verify refuses it.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/options.h"
#include <stdio.h>
#include <string.h>

static _Alignas(64) char null_object[64];

/* No options (alloc/options.h): a non-empty string is refused. */
static const hl_opt_table_t null_options = {.name = "null"};

static int null_heap_init(hl_heap_t *heap) {
  heap->state = NULL;
  return hl_opt_parse(&null_options, heap->config.options, NULL, heap->why, sizeof heap->why);
}
static void null_heap_done(hl_heap_t *heap) {
  (void)heap;
}

static int null_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align) {
  (void)ctx, (void)size, (void)kind, (void)align;
  *slot = null_object;
  return 0;
}
static void null_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)ctx, (void)size;
  *slot = NULL;
}
static int null_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  (void)ctx, (void)old_size, (void)new_size;
  *slot = null_object;
  return 0;
}
static void null_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len) {
  (void)ctx, (void)slot, (void)offset, (void)dst, (void)len;
}
static void null_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src,
                       size_t len) {
  (void)ctx, (void)slot, (void)offset, (void)src, (void)len;
}
static void null_link(hl_ctx_t *ctx, void **slot, size_t field, void **target) {
  (void)ctx, (void)slot, (void)field, (void)target;
}
static void null_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  (void)heap;
  memset(out, 0, sizeof *out);
  out->na_reason = "null allocates nothing";
}
static int null_identify(char *buf, size_t len) {
  snprintf(buf, len, "null (allocates nothing: harness cost only)");
  return 0;
}

const hl_allocator_t hl_alloc_null = {
    .name = "null",
    .summary = "does nothing: measures the harness's own cost per event",
    .flags = HL_ALLOC_NO_MEMORY,
    .options = &null_options,
    .heap_init = null_heap_init,
    .heap_done = null_heap_done,
    .thread_init = hl_flat_thread_init,
    .thread_done = hl_flat_thread_done,
    .alloc = null_alloc,
    .free = null_free,
    .realloc = null_realloc,
    .read = null_read,
    .write = null_write,
    .link = null_link,
    .send = hl_flat_send,
    .stats = null_stats,
    .identify = null_identify,
};
