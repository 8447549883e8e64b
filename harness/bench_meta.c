/* ----------------------------------------------------------------------------
  harness/bench_meta.c: meta.json, everything needed to judge or reproduce a
  bench run besides the numbers: commit, compiler, machine, kernel, C
  library, the baseline packages' versions and their capture builds' source
  versions and flags (what the simulator ran), which library really served
  malloc for each allocator, whether hardware counters worked, and the
  config and command line verbatim.

  Each probe degrades to "unknown" (or "not installed") instead of failing:
  metadata must never cost a bench run. The JSON is written by hand (no
  third-party code); strings are escaped, and invalid UTF-8 is replaced, so
  the file always parses.
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <errno.h>
#include <gnu/libc-version.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef HL_BUILD_CC
#define HL_BUILD_CC "unknown"
#endif
#ifndef HL_BUILD_CFLAGS
#define HL_BUILD_CFLAGS "unknown"
#endif

/* The Debian packages that provide the baseline allocators. */
static const char *const hl_bench_packages[] = {"libjemalloc2", "libmimalloc2.0",
                                                "libtcmalloc-minimal4"};

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t hl_bench_utf8_len(const unsigned char *s, size_t n) {
  size_t len;
  unsigned min;
  unsigned cp;
  if (s[0] < 0x80) return 1;
  if ((s[0] & 0xE0) == 0xC0)
    len = 2, min = 0x80, cp = s[0] & 0x1F;
  else if ((s[0] & 0xF0) == 0xE0)
    len = 3, min = 0x800, cp = s[0] & 0x0F;
  else if ((s[0] & 0xF8) == 0xF0)
    len = 4, min = 0x10000, cp = s[0] & 0x07;
  else
    return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  /* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

void hl_bench_json_string(FILE *out, const char *str) {
  if (!str) {
    fputs("null", out);
    return;
  }
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  fputc('"', out);
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') {
      fputc('\\', out);
      fputc(c, out);
      i++;
    } else if (c == '\n') {
      fputs("\\n", out), i++;
    } else if (c == '\t') {
      fputs("\\t", out), i++;
    } else if (c == '\r') {
      fputs("\\r", out), i++;
    } else if (c < 0x20 || c == 0x7F) {
      fprintf(out, "\\u%04x", c), i++;
    } else {
      size_t len = hl_bench_utf8_len(s + i, n - i);
      if (len == 0) {
        fputs("\\ufffd", out);
        i++;
      } else {
        fwrite(s + i, 1, len, out);
        i += len;
      }
    }
  }
  fputc('"', out);
}

/* Run a short command; its trimmed stdout, or NULL when it did not exit 0. */
static char *hl_bench_capture(char *const argv[], const char *cwd, volatile sig_atomic_t *stop) {
  hl_bench_child_t res;
  if (hl_bench_child_run(argv, cwd, 30, stop, &res) != 0) return NULL;
  char *text = NULL;
  if (res.exit == HL_BENCH_EXITED && res.code == 0) {
    size_t n = res.out_len;
    while (n > 0 && (res.out[n - 1] == '\n' || res.out[n - 1] == ' ')) n--;
    text = hl_bench_xstrndup(res.out, n);
  }
  hl_bench_child_free(&res);
  return text;
}

/* First line of a /proc or /sys file that starts with `key` (all of the
   first line when key is NULL), after the ':' if there is one. */
static char *hl_bench_proc_field(const char *path, const char *key) {
  char *text = hl_bench_read_file(path, NULL);
  if (!text) return NULL;
  char *result = NULL;
  for (char *line = text; line && *line && !result;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    if (!key) {
      result = hl_bench_xstrdup(line);
    } else if (strncmp(line, key, strlen(key)) == 0) {
      char *v = strchr(line, ':');
      v = v ? v + 1 : line + strlen(key);
      while (*v == ' ' || *v == '\t') v++;
      result = hl_bench_xstrdup(v);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  return result;
}

static void hl_bench_json_kv(FILE *out, const char *indent, const char *key, const char *value,
                             bool last) {
  fprintf(out, "%s", indent);
  hl_bench_json_string(out, key);
  fputs(": ", out);
  hl_bench_json_string(out, value);
  fputs(last ? "\n" : ",\n", out);
}

static void hl_bench_meta_git(FILE *out, const hl_bench_meta_t *meta) {
  const char *dir = meta->git_dir ? meta->git_dir : ".";
  char *rev_argv[] = {"git", "-C", (char *)dir, "rev-parse", "HEAD", NULL};
  char *commit = hl_bench_capture(rev_argv, NULL, meta->stop);
  char *dirty = NULL;
  if (commit) {
    /* Untracked files count: an uncommitted new allocator changes results.
       Ignored paths (build/, results/) do not. --no-optional-locks: status
       and diff must not take the index lock (and break a git command of the
       user's running meanwhile, or leave the lock behind if killed). */
    char *st_argv[] = {"git",    "--no-optional-locks", "-C", (char *)dir,
                       "status", "--porcelain",         NULL};
    dirty = hl_bench_capture(st_argv, NULL, meta->stop);
  }
  fprintf(out, "  \"git\": {\n");
  hl_bench_json_kv(out, "    ", "commit", commit ? commit : "unknown", false);
  fprintf(out, "    \"dirty\": %s,\n", !dirty ? "\"unknown\"" : *dirty ? "true" : "false");
  /* What made it dirty, untracked files included (the diff has only
     tracked changes). */
  hl_bench_json_kv(out, "    ", "status", dirty, false);
  fprintf(out, "    \"diff\": ");
  if (dirty && *dirty && meta->diff_path) {
    /* The diff makes a dirty run reproducible; kept beside meta.json. */
    char *diff_argv[] = {"git",  "--no-optional-locks", "-C",   (char *)dir,
                         "diff", "--no-ext-diff",       "HEAD", NULL};
    char *diff = hl_bench_capture(diff_argv, NULL, meta->stop);
    char *text = diff ? hl_bench_xasprintf("%s\n", diff) : NULL;
    /* named only when it was written whole */
    int e = text ? hl_bench_put_file(meta->diff_path, text, strlen(text)) : -1;
    if (e == 0) {
      const char *base = strrchr(meta->diff_path, '/');
      hl_bench_json_string(out, base ? base + 1 : meta->diff_path);
    } else {
      if (e > 0)
        fprintf(stderr, "hlbench: warning: cannot write %s: %s (meta.json's git.diff is null)\n",
                meta->diff_path, strerror(e));
      fputs("null", out);
    }
    free(text);
    free(diff);
  } else {
    fputs("null", out);
  }
  fputs("\n  },\n", out);
  free(commit);
  free(dirty);
}

static void hl_bench_meta_machine(FILE *out) {
  char host[256] = "unknown";
  if (gethostname(host, sizeof host) != 0) strcpy(host, "unknown");
  host[sizeof host - 1] = '\0';
  struct utsname u;
  char *kernel = uname(&u) == 0
                     ? hl_bench_xasprintf("%s %s %s %s", u.sysname, u.release, u.version, u.machine)
                     : hl_bench_xstrdup("unknown");
  char *cpu = hl_bench_proc_field("/proc/cpuinfo", "model name");
  if (!cpu) cpu = hl_bench_proc_field("/proc/cpuinfo", "Model"); /* many arm64 kernels */
  char *mem = hl_bench_proc_field("/proc/meminfo", "MemTotal");
  char *thp = hl_bench_proc_field("/sys/kernel/mm/transparent_hugepage/enabled", NULL);
  char *gov = hl_bench_proc_field("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", NULL);

  hl_bench_json_kv(out, "  ", "hostname", host, false);
  fprintf(out, "  \"machine\": {\n");
  hl_bench_json_kv(out, "    ", "cpu_model", cpu ? cpu : "unknown", false);
  fprintf(out, "    \"online_cores\": %ld,\n", sysconf(_SC_NPROCESSORS_ONLN));
  long kib = mem ? strtol(mem, NULL, 10) : -1;
  if (kib > 0)
    fprintf(out, "    \"mem_total_kib\": %ld,\n", kib);
  else
    fprintf(out, "    \"mem_total_kib\": null,\n");
  fprintf(out, "    \"os_page_size_bytes\": %ld,\n", sysconf(_SC_PAGESIZE));
  hl_bench_json_kv(out, "    ", "kernel", kernel, false);
  hl_bench_json_kv(out, "    ", "glibc", gnu_get_libc_version(), false);
  /* Both change allocator and TLB numbers a great deal. */
  hl_bench_json_kv(out, "    ", "transparent_hugepage", thp, false);
  hl_bench_json_kv(out, "    ", "cpu_governor", gov, true);
  fprintf(out, "  },\n");
  free(kernel);
  free(cpu);
  free(mem);
  free(thp);
  free(gov);
}

static void hl_bench_meta_packages(FILE *out, volatile sig_atomic_t *stop) {
  fprintf(out, "  \"packages\": {\n");
  size_t n = sizeof hl_bench_packages / sizeof *hl_bench_packages;
  for (size_t i = 0; i < n; i++) {
    char *argv[] = {"dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}",
                    (char *)hl_bench_packages[i], NULL};
    char *got = hl_bench_capture(argv, NULL, stop);
    /* "ii |5.3.0-1": installed; "rc" (config files only) and a failed
       query both mean the library is not there. */
    const char *bar = got ? strchr(got, '|') : NULL;
    const char *version =
        got && strncmp(got, "ii", 2) == 0 && bar && bar[1] ? bar + 1 : "not installed";
    hl_bench_json_kv(out, "    ", hl_bench_packages[i], version, i + 1 == n);
    free(got);
  }
  fprintf(out, "  },\n");
}

/* The capture builds of the baselines (sim/capture-baselines.sh's meta.tsv,
   beside the capture program: bin/../capture/baselines/): one object per
   library, keyed by the file's header line. */
static void hl_bench_meta_capture_builds(FILE *out, const char *bin_dir) {
  char *path = hl_bench_xasprintf("%s/../capture/baselines/meta.tsv", bin_dir ? bin_dir : ".");
  char *text = hl_bench_read_file(path, NULL);
  fprintf(out, "  \"capture_builds\": ");
  if (!text) {
    fprintf(out, "{\"error\": ");
    char *why = hl_bench_xasprintf("%s: %s (make capture-baselines)", path, strerror(errno));
    hl_bench_json_string(out, why);
    free(why);
    fprintf(out, "},\n");
    free(path);
    return;
  }
  hl_bench_strv_t head = {0};
  fprintf(out, "[");
  bool first = true;
  for (char *line = text, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    hl_bench_strv_t cells = {0};
    for (char *cell = line, *tab;; cell = tab + 1) {
      tab = strchr(cell, '\t');
      hl_bench_strv_push_owned(&cells, tab ? hl_bench_xstrndup(cell, (size_t)(tab - cell))
                                           : hl_bench_xstrdup(cell));
      if (!tab) break;
    }
    if (head.n == 0) {
      head = cells; /* the header line */
      continue;
    }
    fprintf(out, "%s\n    {", first ? "" : ",");
    first = false;
    for (size_t i = 0; i < cells.n && i < head.n; i++) {
      fputs(i ? ", " : "", out);
      hl_bench_json_string(out, head.v[i]);
      fputs(": ", out);
      hl_bench_json_string(out, cells.v[i]);
    }
    fputs("}", out);
    hl_bench_strv_free(&cells);
  }
  fprintf(out, "\n  ],\n");
  hl_bench_strv_free(&head);
  free(text);
  free(path);
}

static void hl_bench_meta_counters(FILE *out) {
  /* The same probe hlreplay makes: user-space cycles of this thread. */
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_HARDWARE;
  attr.config = PERF_COUNT_HW_CPU_CYCLES;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  long fd = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
  int e = errno;
  char *paranoid = hl_bench_proc_field("/proc/sys/kernel/perf_event_paranoid", NULL);
  fprintf(out, "  \"hardware_counters\": {\n");
  fprintf(out, "    \"cycles_available\": %s,\n", fd >= 0 ? "true" : "false");
  hl_bench_json_kv(out, "    ", "cycles_error", fd >= 0 ? NULL : strerror(e), false);
  hl_bench_json_kv(out, "    ", "perf_event_paranoid", paranoid, true);
  fprintf(out, "  },\n");
  if (fd >= 0) close((int)fd);
  free(paranoid);
}

/* Per allocator, every distinct served_by its runs reported. More than one
   would mean the preload did not always take: worth seeing. */
static void hl_bench_meta_served_by(FILE *out, const hl_bench_plan_t *plan) {
  hl_bench_strv_t allocs = {0};
  for (size_t i = 0; i < plan->n; i++)
    if (hl_bench_strv_find(&allocs, plan->runs[i].alloc) < 0)
      hl_bench_strv_push(&allocs, plan->runs[i].alloc);
  fprintf(out, "  \"served_by\": {\n");
  for (size_t a = 0; a < allocs.n; a++) {
    hl_bench_strv_t seen = {0};
    for (size_t i = 0; i < plan->n; i++) {
      const hl_bench_run_t *r = &plan->runs[i];
      const char *s = r->done && r->replay_row && strcmp(r->alloc, allocs.v[a]) == 0
                          ? hl_bench_run_value(r, "served_by")
                          : NULL;
      if (s && hl_bench_strv_find(&seen, s) < 0) hl_bench_strv_push(&seen, s);
    }
    fprintf(out, "    ");
    hl_bench_json_string(out, allocs.v[a]);
    fputs(": ", out);
    if (seen.n == 0) {
      fputs("null", out);
    } else if (seen.n == 1) {
      hl_bench_json_string(out, seen.v[0]);
    } else {
      fputc('[', out);
      for (size_t s = 0; s < seen.n; s++) {
        if (s) fputs(", ", out);
        hl_bench_json_string(out, seen.v[s]);
      }
      fputc(']', out);
    }
    fputs(a + 1 == allocs.n ? "\n" : ",\n", out);
    hl_bench_strv_free(&seen);
  }
  fprintf(out, "  },\n");
  hl_bench_strv_free(&allocs);
}

int hl_bench_write_meta(FILE *out, const hl_bench_meta_t *meta) {
  char date[64];
  struct tm tm;
  gmtime_r(&meta->started, &tm);
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);

  fprintf(out, "{\n");
  hl_bench_json_kv(out, "  ", "run_id", meta->run_id, false);
  hl_bench_json_kv(out, "  ", "mode", meta->mode, false);
  hl_bench_json_kv(out, "  ", "date_utc", date, false);
  fprintf(out, "  \"elapsed_s\": %.3f,\n", meta->elapsed_s);
  fprintf(out, "  \"command_line\": [");
  for (int i = 0; i < meta->argc; i++) {
    if (i) fputs(", ", out);
    hl_bench_json_string(out, meta->argv[i]);
  }
  fprintf(out, "],\n");
  hl_bench_json_kv(out, "  ", "bin_dir", meta->bin_dir, false);
  hl_bench_meta_git(out, meta);
  hl_bench_json_kv(out, "  ", "compiler", HL_BUILD_CC, false);
  hl_bench_json_kv(out, "  ", "cflags", HL_BUILD_CFLAGS, false);
  hl_bench_meta_machine(out);
  hl_bench_meta_packages(out, meta->stop);
  hl_bench_meta_capture_builds(out, meta->bin_dir);
  hl_bench_meta_counters(out);
  hl_bench_meta_served_by(out, meta->plan);

  fprintf(out, "  \"allocators_known\": {\n");
  const hl_bench_strv_t *known = meta->known_allocs;
  for (size_t i = 0; known && i < known->n; i++) {
    const char *tab = strchr(known->v[i], '\t');
    char *name = tab ? hl_bench_xstrndup(known->v[i], (size_t)(tab - known->v[i]))
                     : hl_bench_xstrdup(known->v[i]);
    hl_bench_json_kv(out, "    ", name, tab ? tab + 1 : "", i + 1 == known->n);
    free(name);
  }
  fprintf(out, "  },\n");

  size_t done = 0;
  for (size_t i = 0; i < meta->plan->n; i++) done += meta->plan->runs[i].done;
  fprintf(out, "  \"runs\": {\"planned\": %zu, \"done\": %zu, \"failed\": %zu},\n", meta->plan->n,
          done, hl_bench_failed_count(meta->plan));
  hl_bench_json_kv(out, "  ", "config_file", meta->cfg ? meta->cfg->path : NULL, false);
  hl_bench_json_kv(out, "  ", "config", meta->cfg ? meta->cfg->text : NULL, true);
  fprintf(out, "}\n");
  return ferror(out) ? -1 : 0;
}

/* Replace the top-level entry that starts with `marker` (a line of its own,
   ending at the next line that closes it at the same indentation) by
   `replacement`. The file is ours, written above, so the shape is known;
   when it is not found the text is left as it was. */
static bool hl_bench_splice(char **text, const char *marker, const char *end_marker,
                            const char *replacement) {
  char *start = strstr(*text, marker);
  if (!start) return false;
  char *end = strstr(start, end_marker);
  if (!end) return false;
  end += strlen(end_marker);
  char *joined = hl_bench_xasprintf("%.*s%s%s", (int)(start - *text), *text, replacement, end);
  free(*text);
  *text = joined;
  return true;
}

int hl_bench_update_meta(const char *path, const hl_bench_plan_t *plan) {
  char *text = hl_bench_read_file(path, NULL);
  if (!text) return -1;
  char *block = NULL, *runs = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&block, &len);
  if (!mem) {
    free(text);
    return -1;
  }
  hl_bench_meta_served_by(mem, plan);
  fclose(mem);
  size_t done = 0;
  for (size_t i = 0; i < plan->n; i++) done += plan->runs[i].done;
  runs = hl_bench_xasprintf("  \"runs\": {\"planned\": %zu, \"done\": %zu, \"failed\": %zu},\n",
                            plan->n, done, hl_bench_failed_count(plan));
  bool ok = hl_bench_splice(&text, "  \"served_by\": {\n", "\n  },\n", block) &&
            hl_bench_splice(&text, "  \"runs\": {", "},\n", runs);
  free(block);
  free(runs);
  int rc = -1;
  if (ok) {
    int e = hl_bench_put_file(path, text, strlen(text));
    rc = e ? -2 : 0;
    errno = e;
  }
  free(text);
  return rc;
}
