/* ----------------------------------------------------------------------------
  harness/bench_util.c: small helpers hlbench's pieces share (allocation that
  never returns NULL, string vectors, files and folders, number formatting),
  and the owner marker of an unfinished run folder: who writes it, so that a
  later hlbench can tell a live run's folder from one a killed hlbench left
  (hl_bench_leftovers).
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void hl_bench_oom(void) {
  fputs("hlbench: out of memory\n", stderr);
  exit(2);
}

void *hl_bench_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) hl_bench_oom();
  return p;
}

void *hl_bench_xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) hl_bench_oom();
  return p;
}

char *hl_bench_xstrdup(const char *s) {
  return hl_bench_xstrndup(s, strlen(s));
}

char *hl_bench_xstrndup(const char *s, size_t n) {
  char *p = hl_bench_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *hl_bench_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) hl_bench_oom();
  char *p = hl_bench_xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void hl_bench_strv_push_owned(hl_bench_strv_t *sv, char *s) {
  if (sv->n == sv->cap) {
    sv->cap = sv->cap ? sv->cap * 2 : 8;
    sv->v = hl_bench_xrealloc(sv->v, sv->cap * sizeof *sv->v);
  }
  sv->v[sv->n++] = s;
}

void hl_bench_strv_push(hl_bench_strv_t *sv, const char *s) {
  hl_bench_strv_push_owned(sv, s ? hl_bench_xstrdup(s) : NULL);
}

long hl_bench_strv_find(const hl_bench_strv_t *sv, const char *s) {
  for (size_t i = 0; i < sv->n; i++)
    if (sv->v[i] && strcmp(sv->v[i], s) == 0) return (long)i;
  return -1;
}

void hl_bench_strv_free(hl_bench_strv_t *sv) {
  for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
  free(sv->v);
  sv->v = NULL;
  sv->n = sv->cap = 0;
}

char *hl_bench_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = hl_bench_xmalloc(cap);
  for (;;) {
    if (cap - n < 2) buf = hl_bench_xrealloc(buf, cap *= 2);
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  int failed = ferror(f);
  int saved = errno;
  fclose(f);
  if (failed) {
    free(buf);
    errno = saved ? saved : EIO;
    return NULL;
  }
  buf[n] = '\0';
  if (len) *len = n;
  return buf;
}

static int hl_bench_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)ftw;
  return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

int hl_bench_rm_rf(const char *path) {
  /* FTW_PHYS: a symlink inside a results folder is removed, never followed. */
  return nftw(path, hl_bench_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT ? 0 : -1;
}

int hl_bench_mkdir_p(const char *path) {
  char *p = hl_bench_xstrdup(path);
  int rc = 0;
  for (char *s = p + 1; rc == 0; s++) {
    if (*s != '/' && *s != '\0') continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) rc = -1;
    *s = c;
    if (c == '\0') break;
  }
  int saved = errno;
  free(p);
  errno = saved;
  return rc;
}

char *hl_bench_last_line(const char *buf, size_t len) {
  size_t end = len;
  while (end > 0) {
    /* trim trailing blanks of this line */
    while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r' || buf[end - 1] == ' ' ||
                       buf[end - 1] == '\t'))
      end--;
    if (end == 0) break;
    size_t start = end;
    /* a progress line redrawn with '\r' shows only its last state */
    while (start > 0 && buf[start - 1] != '\n' && buf[start - 1] != '\r') start--;
    size_t s = start;
    while (s < end && (buf[s] == ' ' || buf[s] == '\t')) s++;
    if (s < end) return hl_bench_xstrndup(buf + s, end - s);
    end = start;
  }
  return hl_bench_xstrdup("");
}

double hl_bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void hl_bench_fmt_num(char *buf, size_t size, double x) {
  double a = fabs(x);
  if (isnan(x))
    snprintf(buf, size, "NA");
  else if (a >= 1000)
    snprintf(buf, size, "%.0f", x);
  else if (a >= 100)
    snprintf(buf, size, "%.1f", x);
  else if (a >= 10)
    snprintf(buf, size, "%.2f", x);
  else if (a >= 1 || a == 0)
    snprintf(buf, size, "%.3f", x);
  else if (a >= 0.001)
    snprintf(buf, size, "%.4f", x);
  else
    snprintf(buf, size, "%.3g", x);
}

bool hl_bench_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!isdigit((unsigned char)*s)) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static int hl_bench_cmp_num(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

void hl_bench_median_min_max(double *v, unsigned n, double out[3]) {
  qsort(v, n, sizeof *v, hl_bench_cmp_num);
  out[0] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  out[1] = v[0];
  out[2] = v[n - 1];
}

double hl_bench_parse_num(const char *s) {
  if (!s || !*s) return NAN;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || errno == ERANGE) return NAN;
  return v; /* "NA" fails the parse above; "nan"/"inf" pass through as such */
}

/* ---- writing files whole ---- */

int hl_bench_write_fd(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

int hl_bench_put_file(const char *path, const char *buf, size_t len) {
  /* DIR/.NAME.tmp, renamed over PATH when complete */
  const char *slash = strrchr(path, '/');
  char *tmp = slash ? hl_bench_xasprintf("%.*s/.%s.tmp", (int)(slash - path), path, slash + 1)
                    : hl_bench_xasprintf(".%s.tmp", path);
  int e = 0;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) {
    e = errno;
  } else {
    e = hl_bench_write_fd(fd, buf, len);
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) unlink(tmp);
  }
  free(tmp);
  return e;
}

static uint64_t hl_bench_tree_total;

static int hl_bench_tree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)path;
  (void)ftw;
  if (flag == FTW_F && S_ISREG(st->st_mode)) hl_bench_tree_total += (uint64_t)st->st_size;
  return 0;
}

uint64_t hl_bench_tree_bytes(const char *path) {
  hl_bench_tree_total = 0;
  nftw(path, hl_bench_tree_one, 16, FTW_PHYS);
  return hl_bench_tree_total;
}

void hl_bench_fmt_bytes(char *buf, size_t size, uint64_t bytes) {
  if (bytes >= (UINT64_C(1) << 30))
    snprintf(buf, size, "%.1f GiB", (double)bytes / (double)(UINT64_C(1) << 30));
  else if (bytes >= (UINT64_C(1) << 20))
    snprintf(buf, size, "%.1f MiB", (double)bytes / (double)(UINT64_C(1) << 20));
  else
    snprintf(buf, size, "%.1f KiB", (double)bytes / 1024.0);
}

/* ---- who is writing a run folder ---- */

/* The first line of a small file, trimmed, or NULL. */
static char *hl_bench_first_line(const char *path) {
  char *text = hl_bench_read_file(path, NULL);
  if (!text) return NULL;
  text[strcspn(text, "\r\n")] = '\0';
  return text;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks
   since boot. With the pid it names one process of one boot, whatever pid
   reuse does. NULL when /proc does not say. */
static char *hl_bench_start_ticks(long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  char *text = hl_bench_read_file(path, NULL);
  if (!text) return NULL;
  /* the command name (field 2) may hold blanks and ')': fields 3.. follow
     the last ')' */
  char *p = strrchr(text, ')');
  char *result = NULL;
  if (p) p++;
  for (int field = 3; p && !result; field++) {
    while (*p == ' ') p++;
    size_t n = strcspn(p, " \n");
    if (n == 0) break;
    if (field == 22) result = hl_bench_xstrndup(p, n);
    p += n;
  }
  free(text);
  return result;
}

/* This process's pid namespace ("pid:[4026531836]"): a pid means something
   only inside the namespace it was taken in (containers). NULL when /proc
   does not say. */
static char *hl_bench_pid_ns(void) {
  char buf[128];
  ssize_t n = readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
  if (n <= 0) return NULL;
  return hl_bench_xstrndup(buf, (size_t)n);
}

static void hl_bench_hostname(char *host, size_t size) {
  if (gethostname(host, size) != 0) snprintf(host, size, "unknown");
  host[size - 1] = '\0';
}

int hl_bench_owner_write(const char *dir, time_t started) {
  char host[256], date[64];
  hl_bench_hostname(host, sizeof host);
  struct tm tm;
  gmtime_r(&started, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  long pid = (long)getpid();
  char *boot = hl_bench_first_line("/proc/sys/kernel/random/boot_id");
  char *ticks = hl_bench_start_ticks(pid);
  char *ns = hl_bench_pid_ns();
  char *text =
      hl_bench_xasprintf("# hlbench writes this run folder (harness/BENCH.md)\n"
                         "pid=%ld\nhost=%s\npid_ns=%s\nboot_id=%s\nstart_ticks=%s\nstarted=%s\n",
                         pid, host, ns ? ns : "", boot ? boot : "", ticks ? ticks : "", date);
  char *path = hl_bench_xasprintf("%s/%s", dir, HL_BENCH_OWNER);
  int e = hl_bench_put_file(path, text, strlen(text));
  free(path);
  free(text);
  free(boot);
  free(ticks);
  free(ns);
  return e;
}

/* The value of `key=` in a marker's text, or "" (a new string). */
static char *hl_bench_owner_field(const char *text, const char *key) {
  size_t klen = strlen(key);
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=')
      return hl_bench_xstrndup(line + klen + 1, len - klen - 1);
    line = nl ? nl + 1 : NULL;
  }
  return hl_bench_xstrdup("");
}

/* Is the hlbench of this marker still running (on this host)? */
static bool hl_bench_owner_alive(long pid, const char *boot_id, const char *ticks) {
  if (pid <= 0) return false;
  char *boot = hl_bench_first_line("/proc/sys/kernel/random/boot_id");
  bool rebooted = boot && *boot_id && strcmp(boot, boot_id) != 0;
  free(boot);
  if (rebooted) return false;
  if (kill((pid_t)pid, 0) != 0 && errno != EPERM) return false;
  if (*ticks) {
    /* the pid is taken, but by another process since */
    char *now = hl_bench_start_ticks(pid);
    bool same = !now || strcmp(now, ticks) == 0;
    free(now);
    if (!same) return false;
  }
  return true;
}

/* What an unfinished run folder holds besides what hlbench can make again
   (generated traces, their generation logs, the owner marker, the trial
   trace of the replay_args check): the measurements, if any. */
static void hl_bench_unfinished_content(const char *dir, hl_bench_strv_t *other) {
  DIR *d = opendir(dir);
  if (!d) {
    hl_bench_strv_push(other, "(unreadable)");
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, HL_BENCH_OWNER) == 0 ||
        strcmp(n, HL_BENCH_REPLAY_CHECK) == 0 || strcmp(n, "traces") == 0)
      continue;
    if (strcmp(n, "logs") == 0) {
      char *logs = hl_bench_xasprintf("%s/logs", dir);
      DIR *l = opendir(logs);
      struct dirent *le;
      while (l && (le = readdir(l)) != NULL) {
        size_t len = strlen(le->d_name);
        if (le->d_name[0] == '.' || (strncmp(le->d_name, "gen-", 4) == 0 && len > 7 &&
                                     strcmp(le->d_name + len - 7, ".stderr") == 0))
          continue;
        hl_bench_strv_push_owned(other, hl_bench_xasprintf("logs/%s", le->d_name));
      }
      if (l) closedir(l);
      free(logs);
      continue;
    }
    hl_bench_strv_push(other, n);
  }
  closedir(d);
}

/* "bench.csv, summary.txt and 3 more" */
static char *hl_bench_list_names(const hl_bench_strv_t *names) {
  char *s = hl_bench_xstrdup("");
  size_t shown = names->n > 4 ? 3 : names->n;
  for (size_t i = 0; i < shown; i++) {
    char *next = hl_bench_xasprintf("%s%s%s", s, i ? ", " : "", names->v[i]);
    free(s);
    s = next;
  }
  if (shown < names->n) {
    char *next = hl_bench_xasprintf("%s and %zu more", s, names->n - shown);
    free(s);
    s = next;
  }
  return s;
}

void hl_bench_leftovers(const char *results, FILE *err) {
  DIR *d = opendir(results);
  if (!d) return;
  char host[256];
  hl_bench_hostname(host, sizeof host);
  char *our_ns = hl_bench_pid_ns();
  hl_bench_strv_t names = {0};
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' && len > 5 && strcmp(e->d_name + len - 4, ".tmp") == 0)
      hl_bench_strv_push(&names, e->d_name);
  }
  closedir(d);
  for (size_t i = 0; i < names.n; i++) {
    char *dir = hl_bench_xasprintf("%s/%s", results, names.v[i]);
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      free(dir);
      continue;
    }
    char size[32];
    hl_bench_fmt_bytes(size, sizeof size, hl_bench_tree_bytes(dir));
    char *marker = hl_bench_xasprintf("%s/%s", dir, HL_BENCH_OWNER);
    char *text = hl_bench_read_file(marker, NULL);
    if (!text) {
      /* A folder made a moment ago has no marker yet: not worth a word. */
      if (time(NULL) - st.st_mtime >= 60)
        fprintf(err,
                "hlbench: %s (%s) is an unfinished run folder without an owner marker (an "
                "older hlbench's?): left alone; if no hlbench is running into %s, look at what "
                "it holds and remove it: rm -rf '%s'\n",
                dir, size, results, dir);
    } else {
      char *pid_s = hl_bench_owner_field(text, "pid");
      char *owner_host = hl_bench_owner_field(text, "host");
      char *ns = hl_bench_owner_field(text, "pid_ns");
      char *boot = hl_bench_owner_field(text, "boot_id");
      char *ticks = hl_bench_owner_field(text, "start_ticks");
      char *started = hl_bench_owner_field(text, "started");
      long pid = strtol(pid_s, NULL, 10);
      if (strcmp(owner_host, host) != 0 || (*ns && our_ns && strcmp(ns, our_ns) != 0)) {
        /* another machine, or another container's pids */
        fprintf(err,
                "hlbench: %s (%s) is the run folder of hlbench pid %ld on host %s%s (started %s): "
                "whether that still runs cannot be told from here; left alone (once it is over: "
                "rm -rf '%s')\n",
                dir, size, pid, owner_host,
                strcmp(owner_host, host) != 0 ? "" : " in another pid namespace", started, dir);
      } else if (hl_bench_owner_alive(pid, boot, ticks)) {
        fprintf(err,
                "hlbench: note: %s is the run folder of hlbench pid %ld, still running here: left "
                "alone (two benches at once disturb each other's timings)\n",
                dir, pid);
      } else {
        hl_bench_strv_t other = {0};
        hl_bench_unfinished_content(dir, &other);
        if (other.n == 0 && hl_bench_rm_rf(dir) == 0) {
          fprintf(err,
                  "hlbench: removed %s (%s), left by hlbench pid %ld (started %s), which ended "
                  "without finishing it (killed, or it could not write its results): it held only "
                  "generated traces, no measurements\n",
                  dir, size, pid, started);
        } else if (other.n == 0) {
          fprintf(err,
                  "hlbench: %s (%s), left by hlbench pid %ld (started %s), which ended without "
                  "finishing it, holds only generated traces, but cannot be removed (%s): "
                  "rm -rf '%s'\n",
                  dir, size, pid, started, strerror(errno), dir);
        } else {
          char *what = hl_bench_list_names(&other);
          fprintf(err,
                  "hlbench: %s (%s) was left by hlbench pid %ld (started %s), which ended without "
                  "finishing it (killed, or it could not write its results): it holds %s, "
                  "partial measurements, so it is not removed; take what you need from it, then "
                  "rm -rf '%s'\n",
                  dir, size, pid, started, what, dir);
          free(what);
        }
        hl_bench_strv_free(&other);
      }
      free(pid_s);
      free(owner_host);
      free(ns);
      free(boot);
      free(ticks);
      free(started);
    }
    free(text);
    free(marker);
    free(dir);
  }
  hl_bench_strv_free(&names);
  free(our_ns);
}
