/* ----------------------------------------------------------------------------
  tests/record/bench.c: the recorder's overhead benchmark (RECORDING.md).
  THREADS threads each run ITERS iterations of malloc(16..527 bytes) + free,
  keeping 64 blocks live per thread so frees are not all LIFO; prints the
  wall time per malloc+free pair. Run it with and without the recorder:
    gcc -O2 -pthread tests/record/bench.c -o /tmp/bench
    /tmp/bench 2000000 1
    LD_PRELOAD=build/lib/libhlrecord.so HEAPLAB_RECORD=/tmp/b /tmp/bench 2000000 1
---------------------------------------------------------------------------- */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long iters;

static void *bench_run(void *arg) {
  void *live[64] = {0};
  uint32_t x = 2463534242u + (uint32_t)(uintptr_t)arg;
  for (long i = 0; i < iters; i++) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
    unsigned slot = x & 63;
    free(live[slot]);
    live[slot] = malloc(16 + (x >> 8) % 512);
    if (!live[slot]) abort();
  }
  for (int i = 0; i < 64; i++) free(live[i]);
  return NULL;
}

int main(int argc, char **argv) {
  iters = argc > 1 ? atol(argv[1]) : 1000000;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (threads < 1 || threads > 64) return 2;
  pthread_t t[64];
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, bench_run, (void *)(uintptr_t)i);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("threads %d, iterations %ld each: %.3f s, %.1f ns per malloc+free pair per thread\n",
         threads, iters, s, s * 1e9 / (double)iters);
  return 0;
}
