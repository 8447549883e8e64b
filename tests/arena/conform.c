/* ----------------------------------------------------------------------------
  tests/arena/conform.c: malloc-API conformance, run by tests/test_arena.sh
  under LD_PRELOAD=libhlarena.so: alignment of every result, realloc keeps
  contents, malloc(0) unique and freeable, impossible sizes fail with
  ENOMEM, bad alignments with EINVAL, malloc_usable_size, fork while other
  threads allocate. Prints one line per failed check and "conform: ok" at
  the end; exit status 1 on any failure. Also proves which library served.
---------------------------------------------------------------------------- */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failed;
#define EXPECT(c, ...)                                                                             \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      failed++;                                                                                    \
      printf("conform: FAIL line %d: %s: ", __LINE__, #c);                                         \
      printf(__VA_ARGS__);                                                                         \
      putchar('\n');                                                                               \
    }                                                                                              \
  } while (0)

static _Atomic int stop;
static void *churn(void *arg) {
  (void)arg;
  while (!stop) {
    void *p[64];
    for (int i = 0; i < 64; i++) p[i] = malloc((size_t)(i * 97 % 5000) + 1);
    for (int i = 0; i < 64; i++) free(p[i]);
  }
  return NULL;
}

int main(void) {
  const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hlarena_version");
  EXPECT(ver != NULL, "hlarena_version is not defined: libhlarena.so is not loaded");
  Dl_info info;
  EXPECT(dladdr((void *)dlsym(RTLD_DEFAULT, "malloc"), &info) &&
             strstr(info.dli_fname, "libhlarena"),
         "malloc comes from %s", info.dli_fname ? info.dli_fname : "?");

  size_t sizes[] = {0,      1,   7,    8,     15,    16,     17,      100,
                    512,    513, 4096, 14336, 14337, 100000, 4 << 20, (4 << 20) + 1,
                    9 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    unsigned char *p = malloc(n);
    size_t want = n >= 16 ? 16 : n >= 8 ? 8 : 1;
    EXPECT(p && (uintptr_t)p % want == 0, "malloc(%zu) = %p", n, (void *)p);
    EXPECT(malloc_usable_size(p) >= n, "usable %zu < %zu", malloc_usable_size(p), n);
    memset(p, 0x5a, n);
    unsigned char *q = realloc(p, n * 3 + 10);
    int same = 1;
    for (size_t k = 0; k < n; k++) same &= q[k] == 0x5a;
    EXPECT(q && same, "realloc(%zu -> %zu) kept contents", n, n * 3 + 10);
    q = realloc(q, n / 2 + 1);
    same = 1;
    for (size_t k = 0; k < n / 2 + 1 && k < n; k++) same &= q[k] == 0x5a;
    EXPECT(q && same, "shrinking realloc kept contents");
    free(q);
    unsigned char *c = calloc(1, n);
    size_t nz = 0;
    for (size_t k = 0; k < n; k++) nz += c[k] != 0;
    EXPECT(c && nz == 0, "calloc(%zu) zeroed", n);
    free(c);
    for (size_t a = 8; a <= (1u << 23); a <<= 1) {
      void *m = NULL;
      int rc = posix_memalign(&m, a, n);
      EXPECT(rc == 0 && (uintptr_t)m % a == 0, "posix_memalign(%zu, %zu) = %d %p", a, n, rc, m);
      free(m);
      m = aligned_alloc(a, n);
      EXPECT(m && (uintptr_t)m % a == 0, "aligned_alloc(%zu, %zu)", a, n);
      free(m);
      m = memalign(a, n);
      EXPECT(m && (uintptr_t)m % a == 0, "memalign(%zu, %zu)", a, n);
      free(m);
    }
    long pg = sysconf(_SC_PAGESIZE);
    void *v = valloc(n);
    EXPECT(v && (uintptr_t)v % (size_t)pg == 0, "valloc(%zu)", n);
    free(v);
    v = pvalloc(n);
    EXPECT(v && (uintptr_t)v % (size_t)pg == 0 && malloc_usable_size(v) >= (size_t)pg,
           "pvalloc(%zu)", n);
    free(v);
  }
  void *z1 = malloc(0), *z2 = malloc(0);
  EXPECT(z1 && z2 && z1 != z2, "malloc(0) gives distinct non-NULL pointers");
  free(z1);
  free(z2);
  errno = 0;
  EXPECT(malloc(SIZE_MAX / 2) == NULL && errno == ENOMEM, "malloc(SIZE_MAX/2): ENOMEM");
  errno = 0;
  EXPECT(malloc(SIZE_MAX) == NULL && errno == ENOMEM, "malloc(SIZE_MAX): ENOMEM");
  errno = 0;
  EXPECT(calloc(SIZE_MAX / 8, 16) == NULL && errno == ENOMEM, "calloc overflow: ENOMEM");
  errno = 0;
  void *r0 = malloc(10);
  EXPECT(realloc(r0, SIZE_MAX / 2) == NULL && errno == ENOMEM, "realloc huge: ENOMEM");
  free(r0); /* still valid after the failed realloc */
  void *m = (void *)1;
  EXPECT(posix_memalign(&m, 24, 10) == EINVAL && m == (void *)1, "posix_memalign(24): EINVAL");
  EXPECT(posix_memalign(&m, 4, 10) == EINVAL, "posix_memalign(4): EINVAL");
  errno = 0;
  EXPECT(aligned_alloc(24, 10) == NULL && errno == EINVAL, "aligned_alloc(24): EINVAL");
  EXPECT(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL) = 0");
  free(NULL);
  void *ra = realloc(NULL, 100);
  EXPECT(ra != NULL, "realloc(NULL, n) allocates");
  EXPECT(realloc(ra, 0) == NULL, "realloc(p, 0) frees (glibc semantics)");
  int *arr = reallocarray(NULL, 1000, sizeof(int));
  EXPECT(arr != NULL, "reallocarray");
  free(arr);
  errno = 0;
  EXPECT(reallocarray(NULL, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM, "reallocarray overflow");

  /* fork while two threads allocate: the child must be able to allocate */
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, churn, NULL);
  for (int k = 0; k < 20; k++) {
    pid_t pid = fork();
    if (pid == 0) {
      void *p[100];
      for (int i = 0; i < 100; i++) p[i] = malloc((size_t)i * 100 + 1);
      for (int i = 0; i < 100; i++) free(p[i]);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d of a fork during allocation", k);
  }
  stop = 1;
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);

  if (failed) return 1;
  printf("conform: ok (%s)\n", ver ? ver() : "?");
  return 0;
}
