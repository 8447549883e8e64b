/* ----------------------------------------------------------------------------
  alloc/flat.c: the parts of the interface that are the same for every flat
  allocator, i.e. one whose objects never move, so the slot simply holds the
  object's address: contents are plain memory, a link is a pointer store and
  a send changes nothing.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include <string.h>

void hl_flat_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len) {
  (void)ctx;
  memcpy(dst, (const char *)*slot + offset, len);
}

void hl_flat_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len) {
  (void)ctx;
  memcpy((char *)*slot + offset, src, len);
}

void hl_flat_link(hl_ctx_t *ctx, void **slot, size_t field, void **target) {
  (void)ctx;
  void *value = target ? *target : NULL;
  memcpy((char *)*slot + field, &value, sizeof value); /* the field may be unaligned */
}

void hl_flat_send(hl_ctx_t *from, hl_ctx_t *to, void **slot) {
  (void)from, (void)to, (void)slot; /* shared address space: nothing moves */
}

int hl_flat_thread_init(hl_ctx_t *ctx) {
  ctx->local = NULL;
  return 0;
}

void hl_flat_thread_done(hl_ctx_t *ctx) {
  (void)ctx;
}
