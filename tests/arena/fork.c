/* ----------------------------------------------------------------------------
  tests/arena/fork.c: fork() against the allocator's locks, for
  tests/test_arena.sh (under LD_PRELOAD=libhlarena.so, and under plain glibc
  as the reference: both must pass). A deadlock shows as a hang, so the
  script runs it under `timeout`. One case per run, named by the argument:

    stdio      one thread forks in a loop (the child mallocs, writes and
               _exits, or execs /bin/true) while other threads read a file
               with getline and getdelim (each line a fresh buffer grown by
               realloc, inside the FILE's lock) and call fflush(NULL) (the
               stdio list lock, then every FILE's lock). An allocator that
               takes its locks in a pthread_atfork prepare handler, i.e.
               before fork takes the stdio list lock, deadlocks here.
    signal     single-threaded: SIGALRM from setitimer at a high rate, and
               its handler forks while the main thread is in a malloc/free
               loop (small, large and huge sizes, so it often holds an
               allocator lock); the child mallocs and _exits.
    signal-mt  the same with other threads alive: a second thread sends
               SIGUSR1 to the main thread with pthread_kill, a third one
               allocates. (glibc itself can deadlock here: its fork takes
               its arena locks in a multi-threaded process, and one may be
               held by the interrupted main thread.)

  A second argument `lenient` (for running `signal` under glibc by hand)
  lets children die: glibc takes no lock when one thread forks, so its
  child may find the heap half-updated by the interrupted malloc and abort,
  or loop in it (about one run in six here: why test_arena.sh does not use
  glibc as the reference for `signal`).

  Prints "fork: CASE ok (N forks)" and exits 0, or names what failed and
  exits 1.
---------------------------------------------------------------------------- */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static _Atomic int stop;
static _Atomic int child_failures;
static int lenient;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- stdio ---- */

static const char *data_path;

/* Read the file over and over, a fresh buffer per line: getline/getdelim
   malloc and realloc while holding the FILE's lock. */
static void *reader(void *arg) {
  int delim = arg ? ',' : '\n';
  FILE *f = fopen(data_path, "r");
  if (!f) {
    perror("fork: fopen");
    exit(1);
  }
  while (!stop) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = delim == '\n' ? getline(&line, &cap, f) : getdelim(&line, &cap, delim, f);
    free(line);
    if (n < 0) rewind(f);
  }
  fclose(f);
  return NULL;
}

static void *flusher(void *arg) {
  (void)arg;
  while (!stop) {
    fflush(NULL);
    FILE *f = fopen(data_path, "r"); /* links a FILE into the list, and out again */
    if (f) fclose(f);
    struct timespec ts = {0, 20000}; /* the list lock is not fair: let fork have it too */
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static int case_stdio(void) {
  char path[4096]; /* in $TMPDIR: a run killed by a timeout leaves it there */
  const char *dir = getenv("TMPDIR");
  snprintf(path, sizeof path, "%s/hlarena-fork-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fork: mkstemp");
    return 1;
  }
  data_path = path;
  FILE *w = fdopen(fd, "w");
  /* lines of 1 byte to 60 KiB: getline grows its buffer, past the small sizes */
  for (int i = 0; i < 400; i++) {
    for (int k = 0; k < (i * 7919) % 61440 + 1; k++) fputc('a' + k % 26, w);
    fputc(i % 3 ? '\n' : ',', w);
  }
  fclose(w);
  pthread_t th[4];
  pthread_create(&th[0], NULL, reader, NULL);
  pthread_create(&th[1], NULL, reader, (void *)1); /* getdelim(',') */
  pthread_create(&th[2], NULL, flusher, NULL);
  pthread_create(&th[3], NULL, flusher, NULL);
  int forks = 0;
  double end = now() + 5.0; /* a fork waits its turn for the stdio list lock: ~20-70 ms here */
  while (forks < 20 || (forks < 300 && now() < end)) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork: fork");
      break;
    }
    if (pid == 0) {
      char *p = malloc(100 + (size_t)forks % 5000); /* the child's heap works */
      if (!p) _exit(3);
      memset(p, 1, 100);
      free(p);
      if (forks % 10 == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(4);
      }
      ssize_t wr = write(STDOUT_FILENO, "", 0);
      _exit(wr < 0 ? 5 : 0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) child_failures++;
    forks++;
  }
  stop = 1;
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  unlink(path);
  if (child_failures) {
    printf("fork: stdio: %d of %d children failed\n", (int)child_failures, forks);
    return 1;
  }
  printf("fork: stdio ok (%d forks)\n", forks);
  return 0;
}

/* ---- signal ---- */

static _Atomic int sig_forks;
static int sig_target;

static void on_signal(int sig) {
  (void)sig;
  if (sig_forks >= sig_target) return;
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) {
    void *p = malloc(64); /* the child mallocs, then leaves */
    _exit(p ? 0 : 3);
  }
  if (pid > 0) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) child_failures++;
    sig_forks++;
  }
  errno = saved;
}

/* The interrupted work: small objects through the thread cache and past it
   (batches that refill and flush it), large spans and huge chunks (always
   under a lock). */
static void churn_once(unsigned *seed) {
  void *p[256];
  for (int i = 0; i < 256; i++) {
    unsigned r = (unsigned)rand_r(seed);
    size_t size = r % 8 == 0 ? 20000 + r % 200000 : r % 64 == 1 ? (5u << 20) : 16 + r % 2000;
    p[i] = malloc(size);
    if (p[i]) *(char *)p[i] = 1;
  }
  for (int i = 0; i < 256; i++) free(p[i]);
}

static pthread_t main_thread;

static void *kicker(void *arg) {
  (void)arg;
  while (!stop) {
    pthread_kill(main_thread, SIGUSR1);
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void *allocator(void *arg) {
  unsigned seed = 99;
  (void)arg;
  while (!stop) churn_once(&seed);
  return NULL;
}

static int case_signal(int threaded) {
  sig_target = 300;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(threaded ? SIGUSR1 : SIGALRM, &sa, NULL);
  pthread_t th[2];
  if (threaded) {
    main_thread = pthread_self();
    pthread_create(&th[0], NULL, kicker, NULL);
    pthread_create(&th[1], NULL, allocator, NULL);
  } else {
    struct itimerval it = {{0, 300}, {0, 300}};
    setitimer(ITIMER_REAL, &it, NULL);
  }
  unsigned seed = 7;
  double end = now() + 20.0;
  while (sig_forks < sig_target && now() < end) churn_once(&seed);
  if (threaded) {
    stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  } else {
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
  }
  const char *name = threaded ? "signal-mt" : "signal";
  if (lenient && child_failures && sig_forks >= sig_target) {
    printf("fork: %s ok (%d forks; %d children failed, allowed)\n", name, (int)sig_forks,
           (int)child_failures);
    return 0;
  }
  if (child_failures || sig_forks < sig_target) {
    printf("fork: %s: %d children failed, %d of %d forks done\n", name, (int)child_failures,
           (int)sig_forks, sig_target);
    return 1;
  }
  printf("fork: %s ok (%d forks)\n", name, (int)sig_forks);
  return 0;
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  lenient = argc > 2 && strcmp(argv[2], "lenient") == 0;
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(what, "stdio") == 0) return case_stdio();
  if (strcmp(what, "signal") == 0) return case_signal(0);
  if (strcmp(what, "signal-mt") == 0) return case_signal(1);
  fprintf(stderr, "usage: fork stdio|signal|signal-mt [lenient]\n");
  return 2;
}
