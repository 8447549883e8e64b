/* ----------------------------------------------------------------------------
  alloc/ravioli/ravioli.h: the public face of the ravioli allocator beyond
  alloc/alloc.h: messages (transfer page chains) packed from a set of
  objects, their serialization to bytes and back, and the invariant checks.

  The allocator itself is registered as `ravioli` (alloc/registry.c) and is
  used through hl_allocator_t; README.md in this folder explains the design.
---------------------------------------------------------------------------- */
#ifndef HL_RAVIOLI_H
#define HL_RAVIOLI_H

#include "alloc/alloc.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Words per raviolo: a power of two >= 4. Type word, parent word and
   RV_RAVIOLO_WORDS - 2 slot words. */
#ifndef RV_RAVIOLO_WORDS
#define RV_RAVIOLO_WORDS 4
#endif
#include "alloc/ravioli/rv_names.h"

/* Default of the `checked` heap option (full invariant walk after every
   operation). Tests turn it on through the option. */
#ifndef RV_DEBUG
#define RV_DEBUG 0
#endif

/* A message: a chain of transfer pages, owned by nobody's heap. */
typedef struct rv_msg_s rv_msg_t;

/* Move the objects of slots[0..n) (all owned by ctx) out of ctx's heap into
   a fresh transfer chain. Links between objects of the set travel with them;
   links that cross the set's boundary (either way) are cut, i.e. the field
   reads as null afterwards. The slots keep pointing at the objects (now in
   the chain). Returns 0 or an errno value. */
int rv_pack(hl_ctx_t *ctx, void **const *slots, size_t n, rv_msg_t **out);
/* Adopt a chain into ctx's heap (link its pages in, compact). */
void rv_unpack(hl_ctx_t *ctx, rv_msg_t *msg);
/* Discard a chain: its objects die, their slots become NULL, the pages go
   back to ctx's spare/pool. */
void rv_msg_discard(hl_ctx_t *ctx, rv_msg_t *msg);
/* Ravioli (cells) a chain holds. */
size_t rv_msg_cells(const rv_msg_t *msg);

/* Serialization. Pointers inside the message are written as positions in
   the chain; the objects' slots (external parents) as their index in pack
   order. RV_SER_COMPACT writes type and pointer words as LEB128 varints of
   (chain word index), dropping the redundant page-address high bits. */
enum { RV_SER_RAW = 0, RV_SER_COMPACT = 1 };
/* Bytes written (or needed when cap is too small: nothing is written then);
   0 on a malformed chain. */
size_t rv_serialize(const hl_heap_t *heap, const rv_msg_t *msg, int flags, uint8_t *buf,
                    size_t cap);
/* Rebuild a chain from bytes into fresh pages of ctx's heap, pointing the
   objects' parents at slots[0..n) in pack order. Returns 0, EINVAL for bad
   input (nothing is changed), ENOMEM. */
int rv_deserialize(hl_ctx_t *ctx, const uint8_t *buf, size_t len, void **const *slots, size_t n,
                   rv_msg_t **out);

/* The object a reference (a slot's content or a pointer field's content)
   denotes: reverse ravioli are followed to their target. */
const void *rv_object_of(const void *ref);

/* Invariants. rv_thread_is_valid: ctx's heap only (its owner may call it at
   any time). rv_heap_is_valid: every thread, the pool and the page count;
   only when no thread is running. `why` gets the first violation. */
bool rv_thread_is_valid(const hl_ctx_t *ctx, char *why, size_t len);
bool rv_heap_is_valid(const hl_heap_t *heap, char *why, size_t len);

#endif
