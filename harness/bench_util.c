/* ----------------------------------------------------------------------------
  harness/bench_util.c: small helpers hlbench's pieces share (allocation that
  never returns NULL, string vectors, files and folders, number formatting).
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
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
