/* ----------------------------------------------------------------------------
  tests/test_alloc.c: the allocator interface and registry.

  Every registered allocator, driven through alloc/alloc.h the way the replay
  drives it, must keep the invariants the whole project relies on: live
  objects never overlap, every result is aligned as its kind promises,
  contents survive realloc, calloc memory is zero, links store the target's
  address. The baselines other than `system` need LD_PRELOAD, so here they
  are checked only for registration and for refusing to identify as
  themselves when not preloaded (the replay tests run them for real).
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "tests/check.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define OBJECTS 2000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void fill(hl_ctx_t *ctx, const hl_allocator_t *a, void **slot, size_t size, uint8_t seed) {
  uint8_t buf[512];
  for (size_t off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? size - off : sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(seed + off + i);
    a->write(ctx, slot, off, buf, n);
  }
}

static size_t mismatches(hl_ctx_t *ctx, const hl_allocator_t *a, void **slot, size_t size,
                         uint8_t seed) {
  uint8_t buf[512];
  size_t bad = 0;
  for (size_t off = 0; off < size; off += sizeof buf) {
    size_t n = size - off < sizeof buf ? size - off : sizeof buf;
    a->read(ctx, slot, off, buf, n);
    for (size_t i = 0; i < n; i++) bad += buf[i] != (uint8_t)(seed + off + i);
  }
  return bad;
}

static int cmp_addr(const void *x, const void *y) {
  uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;
  return a < b ? -1 : a > b;
}

/* Random mix of every kind through one allocator, checking the invariants. */
static void exercise(const hl_allocator_t *a) {
  hl_heap_t heap = {.allocator = a, .config = {.threads = 1}};
  CHECK(a->heap_init(&heap) == 0, "%s: heap_init", a->name);
  hl_ctx_t ctx = {.heap = &heap};
  CHECK(a->thread_init(&ctx) == 0, "%s: thread_init", a->name);
  static void *slots[OBJECTS];
  static size_t sizes[OBJECTS];
  size_t misaligned = 0, corrupt = 0, nonzero = 0, failed = 0;
  for (int i = 0; i < OBJECTS; i++) {
    hl_alloc_kind_t kind = (hl_alloc_kind_t)(rng_next() % HL_KIND_COUNT);
    /* a moving allocator's objects are not flat memory: no alignment kinds */
    if (a->flags & HL_ALLOC_MOVES) kind = kind % 2 ? HL_KIND_CALLOC : HL_KIND_MALLOC;
    size_t align = hl_alloc_kind_has_align(kind) ? (size_t)16 << (rng_next() % 8) : 0;
    size_t size = 1 + rng_next() % (rng_next() % 8 == 0 ? 20000 : 300);
    if (kind == HL_KIND_ALIGNED_ALLOC) size = (size + align - 1) / align * align; /* C11 rule */
    if (a->alloc(&ctx, &slots[i], size, kind, align) != 0) {
      failed++;
      continue;
    }
    sizes[i] = size;
    misaligned += (uintptr_t)slots[i] % hl_alloc_kind_alignment(kind, size, align) != 0;
    if (kind == HL_KIND_CALLOC) {
      uint8_t buf[512];
      for (size_t off = 0; off < size; off += sizeof buf) {
        size_t n = size - off < sizeof buf ? size - off : sizeof buf;
        a->read(&ctx, &slots[i], off, buf, n);
        for (size_t j = 0; j < n; j++) nonzero += buf[j] != 0;
      }
    }
    fill(&ctx, a, &slots[i], size, (uint8_t)i);
  }
  CHECK(failed == 0, "%s: %zu allocations failed", a->name, failed);
  CHECK(misaligned == 0, "%s: %zu misaligned results", a->name, misaligned);
  CHECK(nonzero == 0, "%s: %zu nonzero calloc bytes", a->name, nonzero);

  /* No two live objects overlap: sort by address and compare neighbours. */
  static uintptr_t ranges[OBJECTS][2];
  for (int i = 0; i < OBJECTS; i++) ranges[i][0] = (uintptr_t)slots[i], ranges[i][1] = sizes[i];
  qsort(ranges, OBJECTS, sizeof ranges[0], cmp_addr);
  size_t overlaps = 0;
  for (int i = 1; i < OBJECTS && !(a->flags & HL_ALLOC_MOVES); i++) /* addresses: identities */
    overlaps += ranges[i - 1][0] + ranges[i - 1][1] > ranges[i][0];
  CHECK(overlaps == 0, "%s: %zu overlapping live objects", a->name, overlaps);

  /* Realloc up and down keeps the common prefix; then everything is checked and freed. */
  for (int i = 0; i < OBJECTS; i += 3) {
    size_t new_size = 1 + rng_next() % 5000;
    CHECK(a->realloc(&ctx, &slots[i], sizes[i], new_size) == 0, "%s: realloc", a->name);
    size_t keep = new_size < sizes[i] ? new_size : sizes[i];
    corrupt += mismatches(&ctx, a, &slots[i], keep, (uint8_t)i);
    fill(&ctx, a, &slots[i], new_size, (uint8_t)i);
    sizes[i] = new_size;
  }
  for (int i = 0; i < OBJECTS; i++) {
    corrupt += mismatches(&ctx, a, &slots[i], sizes[i], (uint8_t)i);
    a->free(&ctx, &slots[i], sizes[i]);
  }
  CHECK(corrupt == 0, "%s: %zu bytes not preserved", a->name, corrupt);

  /* link stores the target object's address (flat allocators). */
  void *x = NULL, *y = NULL;
  CHECK(a->alloc(&ctx, &x, 64, HL_KIND_MALLOC, 0) == 0 &&
            a->alloc(&ctx, &y, 64, HL_KIND_MALLOC, 0) == 0,
        "%s: alloc for link", a->name);
  a->link(&ctx, &x, 8, &y);
  void *stored = NULL;
  a->read(&ctx, &x, 8, &stored, sizeof stored);
  CHECK(stored == y, "%s: link stored %p, expected %p", a->name, stored, y);
  a->link(&ctx, &x, 8, NULL);
  a->read(&ctx, &x, 8, &stored, sizeof stored);
  CHECK(stored == NULL, "%s: null link stored %p", a->name, stored);
  a->free(&ctx, &x, 64);
  a->free(&ctx, &y, 64);

  hl_alloc_stats_t st;
  a->stats(&heap, &st);
  CHECK(st.valid == 0 || st.valid < 2 * (uint32_t)HL_STAT_ACCESS_LOCALITY, "%s: stats valid bits",
        a->name);
  /* the five original fields need a reason when unmeasured; the ravioli-era
     ones (objects_live ... transfer_bytes) default to "not reported" */
  CHECK((st.valid & 0x1f) == 0x1f || st.na_reason != NULL, "%s: unmeasured stats need a reason",
        a->name);
  a->thread_done(&ctx);
  a->heap_done(&heap);
}

int main(void) {
  /* the registry */
  const char *expected[] = {"system", "jemalloc", "mimalloc", "tcmalloc", "null"};
  for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
    const hl_allocator_t *a = hl_alloc_find(expected[i]);
    CHECK(a != NULL, "registry lacks %s", expected[i]);
    if (a) CHECK(strcmp(a->name, expected[i]) == 0, "find(%s) returned %s", expected[i], a->name);
  }
  CHECK(hl_alloc_find("no-such-allocator") == NULL, "unknown name found");
  for (size_t i = 0; i < hl_alloc_count(); i++) {
    const hl_allocator_t *a = hl_alloc_at(i);
    CHECK(a->summary && a->alloc && a->free && a->realloc && a->read && a->write && a->link &&
              a->send && a->stats && a->identify && a->heap_init && a->thread_init,
          "%s: incomplete operation table", a->name);
    CHECK(!(a->flags & HL_ALLOC_PRELOAD) || a->preload_soname, "%s: preload without soname",
          a->name);
    for (size_t j = 0; j < i; j++)
      CHECK(strcmp(a->name, hl_alloc_at(j)->name) != 0, "duplicate name %s", a->name);
  }
  CHECK(hl_alloc_at(hl_alloc_count()) == NULL, "at(count) must be NULL");

  /* kinds */
  for (unsigned k = 0; k < HL_KIND_COUNT; k++)
    CHECK(hl_alloc_kind_parse(hl_alloc_kind_name((hl_alloc_kind_t)k)) == k, "kind %u round trip",
          k);
  CHECK(hl_alloc_kind_parse("mallocx") == HL_KIND_COUNT, "unknown kind parsed");
  CHECK(hl_alloc_kind_alignment(HL_KIND_MEMALIGN, 8, 4096) == 4096, "memalign alignment");
  CHECK(hl_alloc_kind_alignment(HL_KIND_MALLOC, 4096, 0) == 16, "large malloc: max_align_t");
  CHECK(hl_alloc_kind_alignment(HL_KIND_MALLOC, 24, 0) == 16, "24 bytes may hold a long double");
  CHECK(hl_alloc_kind_alignment(HL_KIND_MALLOC, 8, 0) == 8, "8 bytes need only 8");
  CHECK(hl_alloc_kind_alignment(HL_KIND_CALLOC, 3, 0) == 2, "3 bytes need only 2");
  CHECK(hl_alloc_kind_alignment(HL_KIND_MALLOC, 0, 0) == 1, "0 bytes need nothing");
  CHECK(hl_alloc_kind_alignment(HL_KIND_VALLOC, 1, 0) == 4096, "valloc: page");

  /* identification: this test is not preloaded, so only `system` may claim it */
  char buf[256];
  CHECK(hl_alloc_find("system")->identify(buf, sizeof buf) == 0, "system identify: %s", buf);
  const char *preloaded[] = {"jemalloc", "mimalloc", "tcmalloc"};
  for (size_t i = 0; i < 3; i++) {
    CHECK(hl_alloc_find(preloaded[i])->identify(buf, sizeof buf) != 0,
          "%s claims to serve a process that did not preload it: %s", preloaded[i], buf);
  }

  /* invariants through the interface: every allocator that runs in-process */
  for (size_t i = 0; i < hl_alloc_count(); i++) {
    const hl_allocator_t *a = hl_alloc_at(i);
    if (a->flags & (HL_ALLOC_PRELOAD | HL_ALLOC_NO_MEMORY)) continue;
    exercise(a);
  }
  return check_summary("test_alloc");
}
