/* ----------------------------------------------------------------------------
  tests/arena/overflow.c: impossible sizes must fail, never wrap. Run by
  tests/test_arena.sh under LD_PRELOAD=libhlarena.so and, as the reference,
  without it (glibc): every malloc-API call that rounds a size (the aligned
  calls at every power-of-two alignment 16 B..4 MiB, valloc, pvalloc, malloc,
  calloc, realloc, reallocarray) is asked for sizes near SIZE_MAX and just
  above what a 64-bit heap can hold, and must return NULL with errno ENOMEM
  (posix_memalign: ENOMEM, *out untouched); a failed realloc leaves the old
  block valid with its contents. A rounding that wraps to a small size
  instead returns a tiny block for a huge request: a heap overflow waiting
  for the first write. Prints one line per failed check and "overflow: ok"
  at the end; exit status 1 on any failure.
---------------------------------------------------------------------------- */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failed, checks;

/* A non-NULL result for an impossible size: report it (with its usable
   size, the block actually handed out) and free it. */
static void expect_null(void *p, int err, const char *call, size_t align, size_t size) {
  checks++;
  if (p == NULL && err == ENOMEM) return;
  failed++;
  if (p)
    printf("overflow: FAIL %s(align %zu, size %zu = SIZE_MAX-%zu) = %p (usable %zu)\n", call, align,
           size, SIZE_MAX - size, p, malloc_usable_size(p));
  else
    printf("overflow: FAIL %s(align %zu, size %zu = SIZE_MAX-%zu): NULL but errno %d, not ENOMEM\n",
           call, align, size, SIZE_MAX - size, err);
  free(p);
}

/* The sizes to try for one alignment: around SIZE_MAX - align + 1, where
   rounding up to the alignment wraps to 0, plus SIZE_MAX itself, half the
   address space and just above 2^46 and 2^47. */
static size_t sizes_for(size_t align, size_t *out) {
  size_t n = 0;
  size_t edge = SIZE_MAX - align + 1; /* rounds to itself: no wrap, still impossible */
  size_t cand[] = {SIZE_MAX,
                   SIZE_MAX - 1,
                   SIZE_MAX - 10,
                   SIZE_MAX - 15,
                   SIZE_MAX - 16,
                   SIZE_MAX - 31,
                   SIZE_MAX - 32,
                   SIZE_MAX - 4095,
                   SIZE_MAX - 4096,
                   SIZE_MAX - (2u << 20),
                   SIZE_MAX - (4u << 20),
                   SIZE_MAX - (8u << 20),
                   edge,
                   edge + 1,
                   edge + align / 2,
                   edge - 1,
                   SIZE_MAX / 2,
                   SIZE_MAX / 2 + 1,
                   ((size_t)1 << 47) + 1,
                   ((size_t)1 << 46) + 1};
  for (size_t i = 0; i < sizeof cand / sizeof cand[0]; i++) out[n++] = cand[i];
  return n;
}

int main(void) {
  Dl_info info;
  const char *lib =
      dladdr((void *)dlsym(RTLD_DEFAULT, "malloc"), &info) && info.dli_fname ? info.dli_fname : "?";
  volatile size_t vsize; /* keeps the compiler from reasoning about the sizes */
  size_t sizes[32];
  for (size_t align = 16; align <= ((size_t)4 << 20); align <<= 1) {
    size_t n = sizes_for(align, sizes);
    for (size_t i = 0; i < n; i++) {
      vsize = sizes[i];
      void *sentinel = (void *)&vsize, *p = sentinel;
      errno = 0;
      int rc = posix_memalign(&p, align, vsize);
      checks++;
      if (rc != ENOMEM || p != sentinel) {
        failed++;
        printf(
            "overflow: FAIL posix_memalign(align %zu, size SIZE_MAX-%zu) = %d, %p (usable %zu)\n",
            align, SIZE_MAX - vsize, rc, p == sentinel ? NULL : p,
            p == sentinel ? 0 : malloc_usable_size(p));
        if (rc == 0) free(p);
      }
      errno = 0;
      p = aligned_alloc(align, vsize);
      expect_null(p, errno, "aligned_alloc", align, vsize);
      errno = 0;
      p = memalign(align, vsize);
      expect_null(p, errno, "memalign", align, vsize);
      if (align == 16) {
        errno = 0;
        p = malloc(vsize);
        expect_null(p, errno, "malloc", 0, vsize);
        errno = 0;
        p = calloc(1, vsize);
        expect_null(p, errno, "calloc(1, n)", 0, vsize);
        errno = 0;
        p = calloc(vsize, 1);
        expect_null(p, errno, "calloc(n, 1)", 0, vsize);
        errno = 0;
        p = valloc(vsize);
        expect_null(p, errno, "valloc", (size_t)getpagesize(), vsize);
        errno = 0;
        p = pvalloc(vsize);
        expect_null(p, errno, "pvalloc", (size_t)getpagesize(), vsize);
        /* realloc of a small, a large and a huge block: fails, the block stays */
        size_t olds[] = {100, 100000, 9u << 20};
        for (size_t k = 0; k < 3; k++) {
          unsigned char *o = malloc(olds[k]);
          memset(o, 0x5a, olds[k]);
          errno = 0;
          p = realloc(o, vsize);
          expect_null(p, errno, "realloc", olds[k], vsize);
          if (!p) {
            size_t bad = 0;
            for (size_t j = 0; j < olds[k]; j += 997) bad += o[j] != 0x5a;
            checks++;
            if (bad || o[olds[k] - 1] != 0x5a) {
              failed++;
              printf("overflow: FAIL failed realloc of %zu bytes changed its contents\n", olds[k]);
            }
            free(o);
          }
        }
        errno = 0;
        p = reallocarray(NULL, vsize, 1);
        expect_null(p, errno, "reallocarray(NULL, n, 1)", 0, vsize);
      }
    }
  }
  /* products that overflow: calloc and reallocarray must see it */
  size_t pairs[][2] = {{SIZE_MAX, 2},
                       {SIZE_MAX / 2 + 1, 2},
                       {(size_t)1 << 32, (size_t)1 << 32},
                       {((size_t)1 << 32) + 1, ((size_t)1 << 32) - 1}};
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
    errno = 0;
    void *p = calloc(pairs[i][0], pairs[i][1]);
    expect_null(p, errno, "calloc(n*m overflows)", pairs[i][1], pairs[i][0]);
    errno = 0;
    p = reallocarray(NULL, pairs[i][0], pairs[i][1]);
    expect_null(p, errno, "reallocarray(n*m overflows)", pairs[i][1], pairs[i][0]);
  }
  /* the heap still works */
  void *ok = malloc(100), *ok2 = NULL;
  checks++;
  if (!ok || posix_memalign(&ok2, 4096, 100) != 0 || ((uintptr_t)ok2 & 4095)) {
    failed++;
    printf("overflow: FAIL ordinary requests fail after the impossible ones\n");
  }
  free(ok);
  free(ok2);
  if (failed) {
    printf("overflow: %d of %d checks failed (malloc from %s)\n", failed, checks, lib);
    return 1;
  }
  printf("overflow: ok, %d checks (malloc from %s)\n", checks, lib);
  return 0;
}
