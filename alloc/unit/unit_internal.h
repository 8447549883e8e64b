/* ----------------------------------------------------------------------------
  alloc/unit/unit_internal.h: the layout shared by unit.c (heaps), unit_queue.c
  and unit_alloc.c (the alloc.h face): the 16-byte header in front of every
  unit payload and the magic words that tell units, aligned forwarders and
  large objects apart.
---------------------------------------------------------------------------- */
#ifndef HL_UNIT_INTERNAL_H
#define HL_UNIT_INTERNAL_H

#include "alloc/unit/unit.h"
#include <stdatomic.h>

/* What sits in the 16 bytes before a payload. */
#define UNIT_MAGIC         0x554e4954u /* "UNIT": a unit of a heap; owner = its block */
#define UNIT_MAGIC_ALIGNED 0x414c4e44u /* face: aligned object inside a unit; owner = the unit */
#define UNIT_MAGIC_LARGE   0x4c415247u /* face: mmap'ed large object; see unit_alloc.c */

typedef struct unit_header_s {
  _Atomic uint32_t refs; /* reference count; 0 = free */
  uint32_t magic;        /* UNIT_MAGIC*: never changes while the block lives */
  void *owner;           /* the unit's block (or as the magic says) */
} unit_header_t;

_Static_assert(sizeof(unit_header_t) == 16, "payloads must stay 16-byte aligned");

static inline unit_header_t *unit_header(const void *payload) {
  return (unit_header_t *)((char *)payload - sizeof(unit_header_t));
}

/* Payload bytes of the units of `heap`. */
size_t unit_heap_unit_size(const hl_unit_heap_t *heap);

#endif
