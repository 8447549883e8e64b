/* ----------------------------------------------------------------------------
  tests/record/seq.c: a fixed sequence of malloc-API calls, recorded under
  libhlrecord.so by tests/test_record.sh, whose imported trace must dump to
  exactly the text that script expects. No stdio: it would allocate.
  Also built with -DSEQ_MTRACE, calling mtrace() for the mtrace importer.
---------------------------------------------------------------------------- */
#include <malloc.h>
#include <stdlib.h>
#ifdef SEQ_MTRACE
#include <mcheck.h>
#endif

/* Keep results where the compiler cannot see them unused. */
void *volatile seq_sink;

int main(void) {
#ifdef SEQ_MTRACE
  mtrace();
#endif
  void *a = malloc(100);       /* 0 */
  void *b = calloc(10, 20);    /* 1: 200 bytes */
  a = realloc(a, 5000);        /* 0 grows (moves) */
  a = realloc(a, 50);          /* 0 shrinks */
  void *c = realloc(NULL, 30); /* 2: a malloc */
  void *d = NULL;
  if (posix_memalign(&d, 64, 70)) return 1; /* 3 */
  void *e = aligned_alloc(128, 256);        /* 4 */
  void *f = memalign(32, 40);               /* 5 */
  void *g = valloc(10);                     /* 6 */
  free(NULL);                               /* dropped */
  seq_sink = realloc(b, 0);                 /* 1 freed (glibc) */
  free(c);
  free(a);
  free(d);
  free(e);
  free(f);
  free(g);
  seq_sink = malloc(7); /* 7, never freed */
#ifdef SEQ_MTRACE
  muntrace();
#endif
  return 0;
}
