/* ----------------------------------------------------------------------------
  sim/capture_os.c: what the allocators ask the operating system, answered
  in the capture program (build/bin/hlreplay-sim) from the simulated machine,
  so that a simulated run depends on nothing but the trace and the config.

  These definitions in the program interpose the C library's for every
  library it loads (ld.so looks in the program first), the preloaded
  allocators included:
  - sched_getcpu() and getcpu(): the running thread's simulated core, so an
    allocator that picks its arena by CPU (libhlarena.so, jemalloc with
    percpu_arena) sees the simulated machine;
  - getrandom(), and syscall(SYS_getrandom): a fixed pseudo-random stream
    (splitmix64). mimalloc randomizes where it maps its segments from this
    entropy (and its clock), so its placement, and the counts, differed from
    run to run;
  - clock_gettime(), for calls from a capture build of a library (jemalloc's
    decay, mimalloc's weak entropy): simulated time, one nanosecond per
    simulated access (hl_capture_clock_ns). heaplab's own code, the replay's
    timing included, still reads the real clocks.
  Every other system call goes to the C library's syscall() unchanged.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>

int sched_getcpu(void) {
  return (int)hl_capture_thread_core();
}

int getcpu(unsigned *cpu, unsigned *node) {
  if (cpu) *cpu = hl_capture_thread_core();
  if (node) *node = 0;
  return 0;
}

/* ---- entropy ---- */

static uint64_t os_random_state = 0x68656170u; /* "heap": the same stream every run */

static uint64_t os_random_next(void) {
  uint64_t z = (os_random_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

ssize_t getrandom(void *buf, size_t len, unsigned flags) {
  (void)flags;
  unsigned char *p = buf;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t r = os_random_next();
    memcpy(p + i, &r, len - i < 8 ? len - i : 8);
  }
  return (ssize_t)len;
}

/* The C library's syscall() and clock_gettime(), found before main (dlsym
   may allocate, which must not happen inside a library's call). */
static long (*os_syscall_next)(long, ...);
static int (*os_clock_gettime_next)(clockid_t, struct timespec *);

__attribute__((constructor)) static void os_find_next(void) {
  os_syscall_next = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  os_clock_gettime_next = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long); /* as glibc's own syscall() reads them */
  va_end(ap);
  if (number == SYS_getrandom) return getrandom((void *)a[0], (size_t)a[1], (unsigned)a[2]);
  if (!os_syscall_next) {
    errno = ENOSYS;
    return -1;
  }
  return os_syscall_next(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- the clock ---- */

int clock_gettime(clockid_t clock, struct timespec *ts) {
  if (hl_capture_instrumented(__builtin_return_address(0))) {
    uint64_t ns = hl_capture_clock_ns() + 1000000000ull; /* from 1 s: never zero */
    ts->tv_sec = (time_t)(ns / 1000000000ull);
    ts->tv_nsec = (long)(ns % 1000000000ull);
    return 0;
  }
  if (!os_clock_gettime_next) {
    errno = ENOSYS;
    return -1;
  }
  return os_clock_gettime_next(clock, ts);
}
