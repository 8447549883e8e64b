/* ----------------------------------------------------------------------------
  sim/capture_malloc.c: where the instrumented allocators' own malloc calls
  go in the capture program (build/bin/hlreplay-sim).

  An allocator may take some of its metadata from the C library (unit's
  per-thread records come from malloc). In the capture objects, objcopy
  renames malloc, calloc, realloc, free, posix_memalign, aligned_alloc and
  memalign to these hl_capture_* functions, which serve them from one region
  at a fixed address (0x600000000000 when the kernel grants it): a bump
  pointer with 16-byte headers and exact-size free lists, glibc-like in
  granularity (16-byte aligned payloads after a 16-byte header), and
  deterministic. Served by glibc, the same metadata would land wherever the
  harness's earlier mallocs left glibc's heap (they depend on the lengths of
  the trace path and of the environment), so which records shared a cache
  line, and so the simulated false sharing, changed with how the command was
  typed. This file is not instrumented and its own work is not simulated
  (glibc's would not be either). One OS thread calls it (the capture replay
  is serial), so it takes no lock. A pointer from outside the region (say,
  from strdup in libc) is passed on to the C library's free/realloc.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define CM_BASE    ((void *)0x600000000000ull) /* far from the heap, libraries and stack */
#define CM_RESERVE ((size_t)64 << 30)          /* address space only (MAP_NORESERVE) */
#define CM_HEADER  16
#define CM_BINS    4096 /* exact free lists for sizes up to CM_BINS x 16 bytes */

typedef struct cm_header_s {
  size_t size;  /* usable bytes, a multiple of 16 */
  size_t magic; /* CM_MAGIC while allocated, CM_FREE in a free list */
} cm_header_t;

#define CM_MAGIC 0x68636170u /* "hcap" */
#define CM_FREE  0x66726565u

static struct {
  char *base, *next, *end;
  void *bins[CM_BINS + 1]; /* bins[CM_BINS]: larger blocks, first fit */
} cm;

static bool cm_init(void) {
  if (cm.base) return true;
  void *p = mmap(CM_BASE, CM_RESERVE, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED) /* taken (or an old kernel): anywhere, still deterministic in order */
    p = mmap(NULL, CM_RESERVE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
             -1, 0);
  if (p == MAP_FAILED) return false;
  cm.base = cm.next = p;
  cm.end = cm.base + CM_RESERVE;
  return true;
}

static bool cm_owns(const void *p) {
  return cm.base && (const char *)p >= cm.base && (const char *)p < cm.end;
}

static cm_header_t *cm_header(void *p) {
  return (cm_header_t *)((char *)p - CM_HEADER);
}

/* A block of `size` usable bytes whose payload is aligned to `align`. */
static void *cm_alloc(size_t size, size_t align) {
  if (!cm_init() || size > CM_RESERVE) return NULL;
  size = size ? (size + 15) & ~(size_t)15 : 16;
  size_t bin = size / 16 <= CM_BINS ? size / 16 : CM_BINS;
  void **link = &cm.bins[bin];
  for (void *p = *link; p != NULL; link = (void **)p, p = *link) {
    cm_header_t *h = cm_header(p);
    if (h->size >= size && ((uintptr_t)p & (align - 1)) == 0) {
      *link = *(void **)p;
      h->magic = CM_MAGIC;
      return p;
    }
    if (bin < CM_BINS && align <= 16) break; /* exact bins: the first one fits or none does */
  }
  uintptr_t payload = ((uintptr_t)cm.next + CM_HEADER + align - 1) & ~(uintptr_t)(align - 1);
  if (payload + size > (uintptr_t)cm.end) return NULL;
  cm.next = (char *)(payload + size);
  cm_header_t *h = (cm_header_t *)(payload - CM_HEADER);
  h->size = size;
  h->magic = CM_MAGIC;
  return (void *)payload;
}

void *hl_capture_malloc(size_t size);
void *hl_capture_calloc(size_t n, size_t size);
void *hl_capture_realloc(void *p, size_t size);
void hl_capture_free(void *p);
int hl_capture_posix_memalign(void **out, size_t align, size_t size);
void *hl_capture_aligned_alloc(size_t align, size_t size);
void *hl_capture_memalign(size_t align, size_t size);

void *hl_capture_malloc(size_t size) {
  void *p = cm_alloc(size, 16);
  if (!p) errno = ENOMEM;
  return p;
}

void *hl_capture_calloc(size_t n, size_t size) {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return NULL;
  }
  void *p = hl_capture_malloc(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void hl_capture_free(void *p) {
  if (p == NULL) return;
  if (!cm_owns(p)) {
    free(p);
    return;
  }
  cm_header_t *h = cm_header(p);
  if (h->magic != CM_MAGIC) abort(); /* double free or a foreign pointer: stop loudly */
  h->magic = CM_FREE;
  size_t bin = h->size / 16 <= CM_BINS ? h->size / 16 : CM_BINS;
  *(void **)p = cm.bins[bin];
  cm.bins[bin] = p;
}

void *hl_capture_realloc(void *p, size_t size) {
  if (p == NULL) return hl_capture_malloc(size);
  if (!cm_owns(p)) return realloc(p, size);
  cm_header_t *h = cm_header(p);
  if (size <= h->size) return p;
  void *q = hl_capture_malloc(size);
  if (q) {
    memcpy(q, p, h->size);
    hl_capture_free(p);
  }
  return q;
}

static bool cm_align_ok(size_t align) {
  return align != 0 && (align & (align - 1)) == 0;
}

int hl_capture_posix_memalign(void **out, size_t align, size_t size) {
  if (!cm_align_ok(align) || align % sizeof(void *) != 0) return EINVAL;
  void *p = cm_alloc(size, align < 16 ? 16 : align);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void *hl_capture_aligned_alloc(size_t align, size_t size) {
  if (!cm_align_ok(align)) {
    errno = EINVAL;
    return NULL;
  }
  void *p = cm_alloc(size, align < 16 ? 16 : align);
  if (!p) errno = ENOMEM;
  return p;
}

void *hl_capture_memalign(size_t align, size_t size) {
  return hl_capture_aligned_alloc(align, size);
}
