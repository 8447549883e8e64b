/* ----------------------------------------------------------------------------
  alloc/registry.c: every allocator heaplab knows, by name. Adding an
  allocator means one extern line and one table entry here. Also the
  check of an allocator's options against its table (alloc/options.h).
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/options.h"
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

/* The allocator's table, or an empty one under its name (takes no options). */
static hl_opt_table_t registry_options(const hl_allocator_t *a) {
  if (a->options) return *a->options;
  return (hl_opt_table_t){.name = a->name};
}

int hl_alloc_options_check(const hl_allocator_t *a, const char *options, char *why,
                           size_t why_len) {
  hl_opt_table_t t = registry_options(a);
  return hl_opt_parse(&t, options, NULL, why, why_len);
}

size_t hl_alloc_options_help(const hl_allocator_t *a, char *buf, size_t len) {
  hl_opt_table_t t = registry_options(a);
  return hl_opt_help(&t, buf, len);
}
