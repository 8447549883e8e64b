/* ----------------------------------------------------------------------------
  tests/record/threads.c: 4 threads x 20000 malloc and realloc (grow by
  1000 bytes, so the old address may go to another thread), each block handed through
  a shared queue and freed by whichever thread pops it (often another one);
  main frees what is left. tests/test_record.sh records it and counts the
  trace's allocs of the sizes used here (1001..1004): exactly 80000, with
  80000 reallocs and 80000 frees of them. Sizes are unusual so libc's own blocks do not count.
---------------------------------------------------------------------------- */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define THREADS 4
#define PER     20000

static void *queue[THREADS * PER];
static size_t head, tail; /* pop at head, push at tail; never wraps */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
  size_t size = 1001 + (size_t)(uintptr_t)arg;
  for (int i = 0; i < PER; i++) {
    void *p = malloc(size);
    if (!p || !(p = realloc(p, size + 1000))) abort();
    *(volatile char *)p = 1;
    void *q = NULL;
    pthread_mutex_lock(&lock);
    queue[tail++] = p;
    if (i % 2 && head < tail) q = queue[head++]; /* keep some blocks queued */
    pthread_mutex_unlock(&lock);
    free(q);
  }
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, worker, (void *)i)) return 1;
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  while (head < tail) free(queue[head++]);
  return 0;
}
