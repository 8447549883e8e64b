/* ----------------------------------------------------------------------------
  tests/arena/misuse.c: one misuse per run, for tests/test_arena.sh: the
  argument names it. Under libhlarena.so each must abort with a message
  (some only with HLARENA_OPTIONS=checked=1, as alloc/arena/README.md says).
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
