/* ----------------------------------------------------------------------------
  alloc/kind.c: the malloc-API call kinds (names for text traces, alignment
  each kind guarantees).
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include <errno.h>
#include <stdalign.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[HL_KIND_COUNT] = {
    [HL_KIND_MALLOC] = "malloc",
    [HL_KIND_CALLOC] = "calloc",
    [HL_KIND_MEMALIGN] = "memalign",
    [HL_KIND_POSIX_MEMALIGN] = "posix_memalign",
    [HL_KIND_ALIGNED_ALLOC] = "aligned_alloc",
    [HL_KIND_VALLOC] = "valloc",
    [HL_KIND_PVALLOC] = "pvalloc",
};

const char *hl_alloc_kind_name(hl_alloc_kind_t kind) {
  return (unsigned)kind < HL_KIND_COUNT ? kind_names[kind] : "?";
}

hl_alloc_kind_t hl_alloc_kind_parse(const char *name) {
  for (unsigned k = 0; k < HL_KIND_COUNT; k++)
    if (strcmp(name, kind_names[k]) == 0) return (hl_alloc_kind_t)k;
  return HL_KIND_COUNT;
}

bool hl_alloc_kind_has_align(hl_alloc_kind_t kind) {
  return kind == HL_KIND_MEMALIGN || kind == HL_KIND_POSIX_MEMALIGN ||
         kind == HL_KIND_ALIGNED_ALLOC;
}

size_t hl_alloc_kind_alignment(hl_alloc_kind_t kind, size_t size, size_t align) {
  if (kind == HL_KIND_VALLOC || kind == HL_KIND_PVALLOC) return (size_t)sysconf(_SC_PAGESIZE);
  if (hl_alloc_kind_has_align(kind)) return align ? align : 1;
  size_t fits = alignof(max_align_t);
  while (fits > 1 && fits > size) fits /= 2;
  return fits;
}

int hl_alloc_kind_request(hl_alloc_kind_t kind, size_t align, size_t page, size_t *size,
                          size_t *alignment) {
  size_t a = 16;
  if (kind == HL_KIND_VALLOC || kind == HL_KIND_PVALLOC) {
    a = page;
    if (kind == HL_KIND_PVALLOC) *size = *size ? (*size + page - 1) & ~(page - 1) : page;
  } else if (hl_alloc_kind_has_align(kind)) {
    if (align & (align - 1)) return EINVAL;
    if (align > a) a = align;
  } else if ((unsigned)kind >= HL_KIND_COUNT) {
    return EINVAL;
  }
  *alignment = a;
  return 0;
}
