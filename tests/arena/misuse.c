/* ----------------------------------------------------------------------------
  tests/arena/misuse.c: one misuse per run, for tests/test_arena.sh: the
  argument names it. Under libhlarena.so each must abort with a message
  (some only with HLARENA_OPTIONS=checked=1, as alloc/arena/README.md says).

  The large double frees are the three shapes a span-header check alone
  missed: after a backward merge (the second free finds the merged span's
  stale header), of an object alone in its chunk (the chunk is released by
  the first free), and of one whose released chunk was reused for small
  objects in between (the pointer then lies in the small chunk's metadata
  slab). The small ones are caught without the checked mode only once the
  object is back in its slab: a double free after the slab emptied, an
  interior pointer when the thread cache returns it.
---------------------------------------------------------------------------- */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  volatile char *keep = malloc(100); /* keeps chunks alive */
  if (strcmp(what, "small-double") == 0) {
    char *p = malloc(40);
    free(p);
    free(p);
  } else if (strcmp(what, "large-double") == 0) {
    char *p = malloc(100000), *q = malloc(100000);
    free(p);
    free(p);
    free(q);
  } else if (strcmp(what, "large-double-merged") == 0) {
    char *a = malloc(100000), *b = malloc(100000), *c = malloc(100000);
    free(a);
    free(b); /* merges backward into a's span */
    free(b);
    char *d = malloc(150000); /* without the check: overlaps c */
    memset(d, 1, 150000);
    free(c);
    free(d);
  } else if (strcmp(what, "large-double-alone") == 0) {
    char *p = malloc(100000); /* the only object of its chunk: the free releases it */
    free(p);
    free(p);
  } else if (strcmp(what, "large-double-reused") == 0) {
    char *p = malloc(100000);
    free(p); /* its chunk becomes the arena's spare */
    enum { N = 600 };
    static char *fill[N];
    for (int i = 0; i < N; i++) fill[i] = malloc(14000); /* past one small chunk: reuses it */
    free(p);
    char *x = malloc(16); /* without the check: inside the small chunk's metadata */
    memset(x, 0xff, 16);
    for (int i = 0; i < N; i++) free(fill[i]);
  } else if (strcmp(what, "large-interior") == 0) {
    char *p = malloc(100000), *q = malloc(100000);
    memset(p, 0, 100000);
    free(p + 64);
    free(q);
  } else if (strcmp(what, "large-interior-header") == 0) {
    char *p = malloc(100000);
    free(p + 16); /* its "header" overlaps the real one */
  } else if (strcmp(what, "small-double-emptied") == 0) {
    enum { N = 3000 };
    static char *o[N];
    for (int i = 0; i < N; i++) o[i] = malloc(48);
    for (int i = 0; i < N; i++) free(o[i]); /* the oldest go back: their slab empties */
    free(o[0]);
  } else if (strcmp(what, "small-interior-flushed") == 0) {
    enum { N = 3000 };
    static char *o[N];
    for (int i = 0; i < N; i++) o[i] = malloc(64);
    free(o[0] + 16);
    for (int i = 1; i < N; i++) free(o[i]); /* the cache returns its oldest, o[0] + 16 */
  } else if (strcmp(what, "realloc-freed-large") == 0) {
    char *p = malloc(100000), *q = malloc(100000);
    free(p);
    p = realloc(p, 200000);
    free(p);
    free(q);
  } else if (strcmp(what, "realloc-freed-huge") == 0) {
    char *p = malloc(10 << 20);
    free(p);
    p = realloc(p, 20 << 20);
    free(p);
  } else if (strcmp(what, "realloc-interior") == 0) {
    char *p = malloc(64);
    char *q = realloc(p + 16, 100);
    free(q);
  } else if (strcmp(what, "huge-double") == 0) {
    char *p = malloc(10 << 20);
    free(p);
    free(p);
  } else if (strcmp(what, "interior") == 0) {
    char *p = malloc(64);
    free(p + 16);
  } else if (strcmp(what, "foreign") == 0) {
    static _Alignas(64) char buf[256];
    free(buf + 64);
  } else if (strcmp(what, "none") == 0) {
    char *p = malloc(40);
    free(p);
  }
  free((void *)keep);
  puts("misuse: survived");
  return 0;
}
