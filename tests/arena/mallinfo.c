/* ----------------------------------------------------------------------------
  tests/arena/mallinfo.c: the statistics and trim part of the malloc API,
  for tests/test_arena.sh (under LD_PRELOAD=libhlarena.so; glibc, without
  the preload, is the reference for everything but the library's name).

  Allocates 100 MiB of small objects (and a few large and huge ones),
  writes them, frees them all, calls malloc_trim(0), and checks:
    - mallinfo2: uordblks covers the live bytes while they are live and
      falls by at least 90 MiB once they are freed; hblkhd counts the huge
      ones; the old int mallinfo agrees with it;
    - RSS (/proc/self/statm) falls by at least 64 MiB from its peak once
      malloc_trim has run, and malloc_trim(0) says it released memory (the
      arena one must; glibc may have trimmed already on free);
    - malloc_stats prints a few non-empty lines to stderr, naming hlarena
      when libhlarena.so serves malloc;
    - malloc_info(0) writes XML, malloc_info(1) is EINVAL.
  Prints one line per failed check, "mallinfo: ok (LIBRARY)" at the end;
  exit status 1 on any failure.
---------------------------------------------------------------------------- */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failed;
#define EXPECT(c, ...)                                                                             \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      failed++;                                                                                    \
      printf("mallinfo: FAIL line %d: %s: ", __LINE__, #c);                                        \
      printf(__VA_ARGS__);                                                                         \
      putchar('\n');                                                                               \
    }                                                                                              \
  } while (0)

#define MIB ((size_t)1 << 20)

static size_t rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* malloc_stats writes to stderr: catch it in a file. */
static size_t catch_stats(char *out, size_t cap) {
  fflush(stderr);
  FILE *tmp = tmpfile();
  if (!tmp) return 0;
  int saved = dup(2);
  dup2(fileno(tmp), 2);
  malloc_stats();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  rewind(tmp);
  size_t n = fread(out, 1, cap - 1, tmp);
  out[n] = 0;
  fclose(tmp);
  return n;
}

int main(void) {
  const char *(*ver)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "hlarena_version");
  const char *lib = ver ? ver() : "glibc";

  /* the pointer table lives outside the heap: it must not count */
  enum { N = 100 * 1024 * 1024 / 64 };
  void **p = mmap(NULL, N * sizeof *p, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mallinfo: mmap");
    return 1;
  }
  struct mallinfo2 m0 = mallinfo2();
  size_t live = 0;
  for (size_t i = 0; i < N; i++) {
    size_t size = 48 + (i % 5) * 8; /* 48..80 bytes: 64 on average */
    p[i] = malloc(size);
    if (!p[i]) {
      printf("mallinfo: malloc failed at %zu\n", i);
      return 1;
    }
    memset(p[i], (int)i, size);
    live += size;
  }
  void *large[8], *huge[2];
  for (int i = 0; i < 8; i++) memset(large[i] = malloc(200000), 1, 200000);
  for (int i = 0; i < 2; i++) memset(huge[i] = malloc(12 * MIB), 1, 12 * MIB);
  struct mallinfo2 m1 = mallinfo2();
  struct mallinfo old = mallinfo();
  size_t rss_peak = rss();
  EXPECT(m1.uordblks >= m0.uordblks + live, "uordblks %zu while %zu bytes are live", m1.uordblks,
         live);
  EXPECT(m1.arena >= m1.uordblks, "arena %zu < uordblks %zu", m1.arena, m1.uordblks);
  EXPECT(m1.hblks >= 2 && m1.hblkhd >= 24 * MIB, "huge: hblks %zu, hblkhd %zu", m1.hblks,
         m1.hblkhd);
  EXPECT(old.uordblks > 0 && (size_t)old.uordblks <= m1.uordblks + MIB &&
             (size_t)old.uordblks + MIB >= m1.uordblks,
         "mallinfo().uordblks %d, mallinfo2 %zu", old.uordblks, m1.uordblks);

  for (size_t i = 0; i < N; i++) free(p[i]);
  for (int i = 0; i < 8; i++) free(large[i]);
  for (int i = 0; i < 2; i++) free(huge[i]);
  struct mallinfo2 m2 = mallinfo2();
  size_t rss_freed = rss();
  int trimmed = malloc_trim(0);
  struct mallinfo2 m3 = mallinfo2();
  size_t rss_trimmed = rss();
  EXPECT(m2.uordblks + 90 * MIB <= m1.uordblks, "uordblks %zu -> %zu after freeing", m1.uordblks,
         m2.uordblks);
  EXPECT(m3.uordblks <= m2.uordblks, "uordblks %zu -> %zu after malloc_trim", m2.uordblks,
         m3.uordblks);
  EXPECT(m3.hblkhd + 24 * MIB <= m1.hblkhd, "hblkhd %zu -> %zu", m1.hblkhd, m3.hblkhd);
  EXPECT(rss_trimmed + 64 * MIB <= rss_peak, "RSS %zu MiB at the peak, %zu freed, %zu trimmed",
         rss_peak / MIB, rss_freed / MIB, rss_trimmed / MIB);
  EXPECT(trimmed == 1 || !ver, "malloc_trim(0) = %d", trimmed);

  char text[4096];
  size_t n = catch_stats(text, sizeof text);
  EXPECT(n > 0 && strchr(text, '\n'), "malloc_stats printed %zu bytes", n);
  EXPECT(!ver || strstr(text, "hlarena"), "malloc_stats does not name hlarena:\n%s", text);

  FILE *x = tmpfile();
  EXPECT(x && malloc_info(0, x) == 0, "malloc_info(0)");
  if (x) {
    rewind(x);
    size_t k = fread(text, 1, sizeof text - 1, x);
    text[k] = 0;
    EXPECT(strncmp(text, "<malloc version=", 16) == 0 && strstr(text, "</malloc>"),
           "malloc_info XML: %.80s", text);
    fclose(x);
  }
  EXPECT(malloc_info(1, stdout) == EINVAL, "malloc_info(1, ...) is EINVAL");

  printf("mallinfo: uordblks %zu -> %zu -> %zu MiB, RSS %zu -> %zu -> %zu MiB, trim %d\n",
         m1.uordblks / MIB, m2.uordblks / MIB, m3.uordblks / MIB, rss_peak / MIB, rss_freed / MIB,
         rss_trimmed / MIB, trimmed);
  if (failed) return 1;
  printf("mallinfo: ok (%s)\n", lib);
  return 0;
}
