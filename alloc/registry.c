/* ----------------------------------------------------------------------------
  alloc/registry.c: every allocator heaplab knows, by name. Adding an
  allocator means one extern line and one table entry here.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include <string.h>

extern const hl_allocator_t hl_alloc_system, hl_alloc_jemalloc, hl_alloc_mimalloc,
    hl_alloc_tcmalloc, hl_alloc_unit, hl_alloc_stable, hl_alloc_ravioli, hl_alloc_ravioli8,
    hl_alloc_ravioli16, hl_alloc_arena, hl_alloc_arena_preload, hl_alloc_null;

static const hl_allocator_t *const registry[] = {
    &hl_alloc_system,    &hl_alloc_jemalloc, &hl_alloc_mimalloc,      &hl_alloc_tcmalloc,
    &hl_alloc_unit,      &hl_alloc_stable,   &hl_alloc_ravioli,       &hl_alloc_ravioli8,
    &hl_alloc_ravioli16, &hl_alloc_arena,    &hl_alloc_arena_preload, &hl_alloc_null,
};

size_t hl_alloc_count(void) {
  return sizeof registry / sizeof registry[0];
}

const hl_allocator_t *hl_alloc_at(size_t i) {
  return i < hl_alloc_count() ? registry[i] : NULL;
}

const hl_allocator_t *hl_alloc_find(const char *name) {
  for (size_t i = 0; i < hl_alloc_count(); i++)
    if (strcmp(registry[i]->name, name) == 0) return registry[i];
  return NULL;
}
