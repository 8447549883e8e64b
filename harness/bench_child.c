/* ----------------------------------------------------------------------------
  harness/bench_child.c: run one child process for hlbench, with its stdout
  and stderr captured, a wall-clock limit, and a way to stop it.

  The child is made the leader of a new process group so that a timeout or
  an interrupt kills the whole group: hlreplay re-executes itself under
  LD_PRELOAD for the baseline allocators, and that grandchild must not
  outlive its parent and keep using the machine. Both pipes are drained with
  poll() while the child runs, so a chatty child can never block on a full
  pipe.
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Progress output of a long run can be large; only the tail of stderr is
   needed (the last line, and the log of a failed run). */
#define HL_BENCH_ERR_KEEP (1u << 20)
/* How long to keep reading after the child exited or was killed: enough for
   the pipes to drain, bounded in case something escaped the process group
   and still holds them open. */
#define HL_BENCH_DRAIN_S 2.0

typedef struct hl_bench_buf_s {
  char *p;
  size_t n, cap;
  bool tail_only; /* keep only the last HL_BENCH_ERR_KEEP bytes */
} hl_bench_buf_t;

static void hl_bench_buf_append(hl_bench_buf_t *b, const char *data, size_t n) {
  if (b->n + n + 1 > b->cap) {
    while (b->n + n + 1 > b->cap) b->cap = b->cap ? b->cap * 2 : 4096;
    b->p = hl_bench_xrealloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = '\0';
  if (b->tail_only && b->n > 2 * HL_BENCH_ERR_KEEP) {
    memmove(b->p, b->p + b->n - HL_BENCH_ERR_KEEP, HL_BENCH_ERR_KEEP);
    b->n = HL_BENCH_ERR_KEEP;
    b->p[b->n] = '\0';
  }
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void hl_bench_child_exec(char *const argv[], const char *cwd, int out_fd, int err_fd,
                                pid_t parent) {
  setpgid(0, 0);
  /* Its own process group shields it from a Ctrl-C meant for hlbench, so
     when hlbench dies without stopping it (SIGKILL, the OOM killer) it must
     die too, instead of running on unseen, disturbing the next bench's
     timings. The setting survives exec; a parent already gone is checked. */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  /* hlbench's own handlers must not survive into the child's pre-exec code;
     exec resets caught signals anyway, ignored ones must be restored. */
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  int in_fd = open("/dev/null", O_RDONLY);
  if (in_fd >= 0) dup2(in_fd, 0);
  dup2(out_fd, 1);
  dup2(err_fd, 2);
  if (cwd && chdir(cwd) != 0) {
    const char *msg = "hlbench: cannot enter the run folder\n";
    (void)!write(2, msg, strlen(msg));
    _exit(127);
  }
  /* A bare name ("git", "dpkg-query") is looked up in PATH. hlbench has a
     single thread, so execvp's non-async-signal-safe lookup is harmless. */
  if (strchr(argv[0], '/'))
    execv(argv[0], argv);
  else
    execvp(argv[0], argv);
  /* strerror is not async-signal-safe; the parent reports the errno. */
  int e = errno;
  (void)!write(2, "hlbench: cannot execute ", 24);
  (void)!write(2, argv[0], strlen(argv[0]));
  (void)!write(2, "\n", 1);
  _exit(e == ENOENT ? 127 : 126);
}

int hl_bench_child_run(char *const argv[], const char *cwd, double timeout_s,
                       volatile sig_atomic_t *stop, hl_bench_child_t *res) {
  memset(res, 0, sizeof *res);
  res->timeout_s = timeout_s;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return -1;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return -1;
  }
  double start = hl_bench_now();
  pid_t self = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    res->exit = HL_BENCH_SPAWN_FAILED;
    res->code = errno;
    for (int i = 0; i < 2; i++) {
      close(out_pipe[i]);
      close(err_pipe[i]);
    }
    res->out = hl_bench_xstrdup("");
    res->err = hl_bench_xstrdup("");
    return 0;
  }
  if (pid == 0) hl_bench_child_exec(argv, cwd, out_pipe[1], err_pipe[1], self);
  /* Also from the parent, so that a kill(-pid) right away cannot miss. */
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);

  hl_bench_buf_t out = {0}, err = {.tail_only = true};
  struct pollfd fds[2] = {{.fd = out_pipe[0], .events = POLLIN},
                          {.fd = err_pipe[0], .events = POLLIN}};
  hl_bench_buf_t *bufs[2] = {&out, &err};
  int open_fds = 2, status = 0;
  bool reaped = false, killed = false;
  double drain_deadline = 0;
  res->exit = HL_BENCH_EXITED;
  while (open_fds > 0 || !reaped) {
    double now = hl_bench_now();
    if (!killed && !reaped && (*stop || (timeout_s > 0 && now - start >= timeout_s))) {
      res->exit = *stop ? HL_BENCH_INTERRUPTED : HL_BENCH_TIMEOUT;
      kill(-pid, SIGKILL);
      killed = true;
    }
    if (!reaped) {
      /* WNOWAIT: the exited child stays a zombie, so its pid (and the group
         id) cannot be reused before the group is killed below. */
      siginfo_t info = {0};
      if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
        res->elapsed_s = hl_bench_now() - start;
        /* Whatever the child started dies with it, so the pipes close. */
        kill(-pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        reaped = true;
        drain_deadline = hl_bench_now() + HL_BENCH_DRAIN_S;
      }
    }
    if (reaped && open_fds > 0 && hl_bench_now() > drain_deadline) break;
    if (open_fds == 0) {
      /* Pipes closed but the child still runs (it closed them itself). */
      if (!reaped) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
      }
      continue;
    }
    /* Short polls: a stop is noticed within 100 ms, a timeout on time. */
    int wait_ms = 100;
    if (!killed && !reaped && timeout_s > 0) {
      double left_ms = (timeout_s - (hl_bench_now() - start)) * 1000 + 1;
      if (left_ms < wait_ms) wait_ms = left_ms < 1 ? 1 : (int)left_ms;
    }
    int rc = poll(fds, 2, wait_ms);
    if (rc < 0 && errno != EINTR) break;
    for (int i = 0; rc > 0 && i < 2; i++) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char chunk[65536];
      ssize_t got = read(fds[i].fd, chunk, sizeof chunk);
      if (got > 0) {
        hl_bench_buf_append(bufs[i], chunk, (size_t)got);
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open_fds--;
      }
    }
  }
  for (int i = 0; i < 2; i++)
    if (fds[i].fd >= 0) close(fds[i].fd);
  if (!reaped) {
    kill(-pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    res->elapsed_s = hl_bench_now() - start;
  }
  if (!killed) {
    if (WIFEXITED(status)) {
      res->exit = HL_BENCH_EXITED;
      res->code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      res->exit = HL_BENCH_SIGNALED;
      res->code = WTERMSIG(status);
    }
  }
  res->out = out.p ? out.p : hl_bench_xstrdup("");
  res->out_len = out.n;
  res->err = err.p ? err.p : hl_bench_xstrdup("");
  res->err_len = err.n;
  return 0;
}

void hl_bench_child_free(hl_bench_child_t *res) {
  free(res->out);
  free(res->err);
  res->out = res->err = NULL;
}

char *hl_bench_child_describe(const hl_bench_child_t *res) {
  switch (res->exit) {
    case HL_BENCH_EXITED:
      return hl_bench_xasprintf("exit %d", res->code);
    case HL_BENCH_SIGNALED:
      return hl_bench_xasprintf("killed by signal %d (%s)", res->code, strsignal(res->code));
    case HL_BENCH_TIMEOUT:
      return hl_bench_xasprintf("killed after the %g s timeout", res->timeout_s);
    case HL_BENCH_INTERRUPTED:
      return hl_bench_xstrdup("interrupted");
    case HL_BENCH_SPAWN_FAILED:
      return hl_bench_xasprintf("cannot start: %s", strerror(res->code));
    case HL_BENCH_NOT_RUN:
      return hl_bench_xstrdup("not run");
  }
  return hl_bench_xstrdup("unknown");
}
