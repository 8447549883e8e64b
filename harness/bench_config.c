/* ----------------------------------------------------------------------------
  harness/bench_config.c: the benchmark matrix config that hlbench reads.

  A plain text file of `key = value` lines, `workload NAME = ...` lines and
  `#` comments; the format is specified in harness/BENCH.md. Every mistake is
  reported as "FILE:LINE: expected ..., got ..." so it can be fixed without
  reading this code, and a config is checked completely (file workloads
  readable, no duplicate keys, no options hlbench sets itself) before a
  single run starts: an hour-long bench must not die at minute 50 of a typo.
  That includes an allocator variant's options (NAME:key=value), checked
  against the allocator's own table (alloc/options.h).
---------------------------------------------------------------------------- */
#include "harness/bench.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/alloc.h"     /* hl_alloc_options_check */
#include "sim/sim.h"         /* sim_size_parse */
#include "workloads/trace.h" /* HL_TRACE_MAX_THREADS */

#define HL_BENCH_MAX_REPEATS 10000

static const char *const hl_bench_config_keys[] = {
    "allocators",  "threads",        "repeats",   "page_sizes",      "seed",
    "timeout",     "replay_args",    "sim",       "sweep_workloads", "sim_workloads",
    "sim_threads", "sim_page_sizes", "vary_seed", "native",
};
#define HL_BENCH_KEY_COUNT (sizeof hl_bench_config_keys / sizeof hl_bench_config_keys[0])
#define HL_BENCH_KEYS_TEXT                                                                         \
  "allocators, threads, repeats, page_sizes, seed, vary_seed, timeout, replay_args, sim, "         \
  "sim_workloads, sim_threads, sim_page_sizes, sweep_workloads, native or 'workload NAME'"

/* Options hlbench passes itself; a config that set them would silently
   disagree with the plan (and with bench.csv). */
static const char *const hl_bench_gen_reserved[] = {"--threads", "--seed", "-o", "--output",
                                                    "--help"};
static const char *const hl_bench_replay_reserved[] = {
    "--alloc", "--format", "--page-size", "--list",    "--help",
    "-o",      "--output", "--sim",       "--options", "--sim-page-size"};

typedef struct hl_bench_parse_s {
  const char *file;
  int line;
  FILE *err;
  int key_line[HL_BENCH_KEY_COUNT]; /* where each key was set, 0 = not yet */
} hl_bench_parse_t;

static int hl_bench_perr(hl_bench_parse_t *ps, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int hl_bench_perr(hl_bench_parse_t *ps, const char *fmt, ...) {
  fprintf(ps->err, "%s:%d: ", ps->file, ps->line);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(ps->err, fmt, ap);
  va_end(ap);
  fputc('\n', ps->err);
  return -1;
}

/* A readable file named in the config: relative paths are relative to the
   config file, so a config means the same thing from whatever folder
   hlbench is started. Returns the absolute path, or NULL after reporting. */
static char *hl_bench_config_file(hl_bench_parse_t *ps, const hl_bench_config_t *cfg,
                                  const char *rest, const char *what) {
  char *joined;
  const char *slash = strrchr(cfg->path, '/');
  if (rest[0] == '/' || !slash)
    joined = hl_bench_xstrdup(rest);
  else
    joined = hl_bench_xasprintf("%.*s/%s", (int)(slash - cfg->path), cfg->path, rest);
  char *real = realpath(joined, NULL);
  struct stat st;
  if (!real || access(real, R_OK) != 0 || stat(real, &st) != 0) {
    hl_bench_perr(ps, "expected a readable %s, got '%s': %s", what, joined, strerror(errno));
    free(real);
    real = NULL;
  } else if (S_ISDIR(st.st_mode)) {
    hl_bench_perr(ps, "expected a readable %s, got '%s': a folder", what, joined);
    free(real);
    real = NULL;
  }
  free(joined);
  return real;
}

/* Split on blanks into sv (copies). */
static void hl_bench_split(const char *s, hl_bench_strv_t *sv) {
  for (;;) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t') e++;
    hl_bench_strv_push_owned(sv, hl_bench_xstrndup(s, (size_t)(e - s)));
    s = e;
  }
}

static char *hl_bench_trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

/* Names end up in file names and CSV cells: keep them to a safe alphabet. */
static bool hl_bench_name_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("_.+-", *s)) return false;
  return true;
}

const char *hl_bench_alloc_split(const char *entry, char *buf, size_t len) {
  const char *colon = strchr(entry, ':');
  size_t n = colon ? (size_t)(colon - entry) : strlen(entry);
  snprintf(buf, len, "%.*s", (int)n, entry);
  return colon ? colon + 1 : NULL;
}

const char *hl_bench_alloc_options(const char *opts, char *buf, size_t len,
                                   const char **remote_free) {
  static const char key[] = "remote-free=";
  size_t n = 0;
  *remote_free = NULL;
  if (len) buf[0] = 0;
  for (const char *s = opts; s && *s;) {
    size_t l = strcspn(s, ",");
    if (l >= sizeof key - 1 && strncmp(s, key, sizeof key - 1) == 0) {
      const char *v = s + sizeof key - 1;
      size_t vl = l - (sizeof key - 1);
      *remote_free = vl == 4 && strncmp(v, "send", 4) == 0      ? "send"
                     : vl == 7 && strncmp(v, "request", 7) == 0 ? "request"
                                                                : "";
    } else if (n + l + 1 < len) {
      n += (size_t)snprintf(buf + n, len - n, "%s%.*s", n ? "," : "", (int)l, s);
    }
    s += l + (s[l] == ',');
  }
  return n ? buf : NULL;
}

/* NAME or NAME:OPTIONS, OPTIONS being key=value[,key=value...]. */
static bool hl_bench_alloc_entry_ok(const char *s) {
  char name[128];
  const char *opts = hl_bench_alloc_split(s, name, sizeof name);
  if (!hl_bench_name_ok(name) || strlen(name) >= sizeof name - 1) return false;
  if (!opts) return true;
  if (!*opts) return false;
  for (const char *c = opts; *c; c++)
    if (!isalnum((unsigned char)*c) && !strchr("_.+-=,", *c)) return false;
  return true;
}

/* Does the allocator of `entry` (NAME or NAME:OPTIONS) refuse `opts`, its
   options less the harness's remote-free key? Asked of this build's
   registry (alloc/options.h: the table its heap_init parses with), so a bad
   variant stops hlbench before the first run instead of failing every run
   of it (or, before every allocator had a table, running as the default).
   A name this build does not know is left to hl_bench_config_check_allocs. */
static bool hl_bench_alloc_refuses(const char *entry, const char *opts, char *why, size_t len) {
  char name[128];
  hl_bench_alloc_split(entry, name, sizeof name);
  const hl_allocator_t *a = hl_alloc_find(name);
  return a && hl_alloc_options_check(a, opts, why, len) != 0;
}

static bool hl_bench_reserved(const char *arg, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(list[i]);
    /* "--threads" and "--threads=4" alike */
    if (strncmp(arg, list[i], len) == 0 && (arg[len] == '\0' || arg[len] == '=')) return true;
  }
  return false;
}

/* `--remote-free send|request` (or `--remote-free=...`) in replay_args:
   checked here, so that a typo stops the bench before its first run instead
   of failing every run. -1 after reporting, else 0. */
static int hl_bench_check_remote_free(hl_bench_parse_t *ps, const hl_bench_strv_t *words) {
  static const char opt[] = "--remote-free";
  for (size_t i = 0; i < words->n; i++) {
    const char *w = words->v[i], *value = NULL;
    if (strcmp(w, opt) == 0)
      value = i + 1 < words->n ? words->v[++i] : "";
    else if (strncmp(w, opt, sizeof opt - 1) == 0 && w[sizeof opt - 1] == '=')
      value = w + sizeof opt;
    if (value && strcmp(value, "send") != 0 && strcmp(value, "request") != 0)
      return hl_bench_perr(ps, "expected --remote-free send or request, got '%s'",
                           *value ? value : "nothing");
  }
  return 0;
}

static int hl_bench_parse_workload(hl_bench_parse_t *ps, hl_bench_config_t *cfg, const char *name,
                                   char *value) {
  if (!hl_bench_name_ok(name))
    return hl_bench_perr(
        ps, "expected a workload name of letters, digits, '_', '.', '+', '-', got '%s'", name);
  for (size_t i = 0; i < cfg->n_workloads; i++)
    if (strcmp(cfg->workloads[i].name, name) == 0)
      return hl_bench_perr(ps,
                           "expected each workload name once; '%s' is already defined at line %d",
                           name, cfg->workloads[i].line);
  hl_bench_workload_t w = {.name = hl_bench_xstrdup(name), .line = ps->line};
  size_t kind_len = strcspn(value, " \t");
  char *rest = hl_bench_trim(value + kind_len);
  int rc = 0;
  if (kind_len == 3 && strncmp(value, "gen", 3) == 0) {
    w.source = HL_BENCH_GEN;
    hl_bench_split(rest, &w.gen_args);
    if (w.gen_args.n == 0) {
      rc = hl_bench_perr(ps, "expected 'gen MODEL [options]', got no MODEL");
    } else {
      for (size_t i = 0; i < w.gen_args.n && rc == 0; i++)
        if (hl_bench_reserved(w.gen_args.v[i], hl_bench_gen_reserved,
                              sizeof hl_bench_gen_reserved / sizeof *hl_bench_gen_reserved))
          rc = hl_bench_perr(ps,
                             "expected model options only, got '%s' (hlbench sets --threads, "
                             "--seed and -o itself from 'threads' and 'seed')",
                             w.gen_args.v[i]);
    }
  } else if (kind_len == 4 && strncmp(value, "file", 4) == 0) {
    w.source = HL_BENCH_FILE;
    if (!*rest) {
      rc = hl_bench_perr(ps, "expected 'file PATH', got no PATH");
    } else if (!(w.path = hl_bench_config_file(ps, cfg, rest, "trace file"))) {
      rc = -1;
    }
  } else {
    rc = hl_bench_perr(ps, "expected 'gen MODEL [options]' or 'file PATH', got '%s'", value);
  }
  if (rc != 0) {
    free(w.name);
    free(w.path);
    hl_bench_strv_free(&w.gen_args);
    return rc;
  }
  cfg->workloads = hl_bench_xrealloc(cfg->workloads, (cfg->n_workloads + 1) * sizeof w);
  cfg->workloads[cfg->n_workloads++] = w;
  return 0;
}

/* The index of `key` in hl_bench_config_keys, HL_BENCH_KEY_COUNT if none. */
static size_t hl_bench_key_index(const char *key) {
  size_t k = 0;
  while (k < HL_BENCH_KEY_COUNT && strcmp(key, hl_bench_config_keys[k]) != 0) k++;
  return k;
}

static int hl_bench_parse_key(hl_bench_parse_t *ps, hl_bench_config_t *cfg, const char *key,
                              char *value) {
  size_t k = hl_bench_key_index(key);
  if (k == HL_BENCH_KEY_COUNT)
    return hl_bench_perr(ps, "expected a key (" HL_BENCH_KEYS_TEXT "), got '%s'", key);
  if (ps->key_line[k])
    return hl_bench_perr(ps, "expected each key once; '%s' was already set at line %d", key,
                         ps->key_line[k]);
  ps->key_line[k] = ps->line;

  hl_bench_strv_t words = {0};
  hl_bench_split(value, &words);
  int rc = 0;
  if (words.n == 0 && strcmp(key, "replay_args") != 0) {
    rc = hl_bench_perr(ps, "expected a value after '%s =', got nothing", key);
  } else if (strcmp(key, "allocators") == 0) {
    cfg->alloc_lines = hl_bench_xmalloc(words.n * sizeof *cfg->alloc_lines);
    for (size_t i = 0; i < words.n && rc == 0; i++) {
      char own[256], why[HL_HEAP_WHY_LEN];
      const char *remote_free = NULL, *opts = strchr(words.v[i], ':'), *own_opts = NULL;
      if (opts) own_opts = hl_bench_alloc_options(opts + 1, own, sizeof own, &remote_free);
      if (!hl_bench_alloc_entry_ok(words.v[i]))
        rc = hl_bench_perr(ps, "expected an allocator NAME or NAME:key=value[,key=value], got '%s'",
                           words.v[i]);
      else if (remote_free && !*remote_free)
        rc = hl_bench_perr(ps, "expected remote-free=send or remote-free=request in '%s'",
                           words.v[i]);
      else if (strlen(opts ? opts + 1 : "") >= sizeof own)
        rc = hl_bench_perr(ps, "expected the options of '%.*s' in at most %zu characters, got %zu",
                           (int)(opts - words.v[i]), words.v[i], sizeof own - 1, strlen(opts + 1));
      else if (hl_bench_alloc_refuses(words.v[i], own_opts, why, sizeof why))
        rc = hl_bench_perr(ps, "expected options the allocator takes, got '%s': %s", words.v[i],
                           why);
      else if (hl_bench_strv_find(&cfg->allocs, words.v[i]) >= 0)
        rc = hl_bench_perr(ps, "expected each allocator once, got '%s' twice", words.v[i]);
      else {
        cfg->alloc_lines[cfg->allocs.n] = ps->line;
        hl_bench_strv_push(&cfg->allocs, words.v[i]);
      }
    }
  } else if (strcmp(key, "threads") == 0 || strcmp(key, "sim_threads") == 0) {
    bool sim = key[1] == 'i';
    unsigned **list = sim ? &cfg->sim_threads : &cfg->threads;
    size_t *n = sim ? &cfg->n_sim_threads : &cfg->n_threads;
    *list = hl_bench_xmalloc(words.n * sizeof **list);
    for (size_t i = 0; i < words.n && rc == 0; i++) {
      uint64_t v = 0;
      if (!hl_bench_parse_u64(words.v[i], 0, UINT64_MAX, &v) || v < 1 || v > HL_TRACE_MAX_THREADS) {
        rc = hl_bench_perr(ps, "expected a thread count from 1 to %d, got '%s'",
                           HL_TRACE_MAX_THREADS, words.v[i]);
        break;
      }
      for (size_t j = 0; j < *n; j++)
        if ((*list)[j] == v)
          rc = hl_bench_perr(ps, "expected each thread count once, got %s twice", words.v[i]);
      (*list)[(*n)++] = (unsigned)v;
    }
  } else if (strcmp(key, "sim_page_sizes") == 0) {
    cfg->sim_pages = hl_bench_xmalloc(words.n * sizeof *cfg->sim_pages);
    for (size_t i = 0; i < words.n && rc == 0; i++) {
      uint64_t v = 0;
      if (sim_page_parse(words.v[i]) < 0 || !sim_size_parse(words.v[i], &v)) {
        rc = hl_bench_perr(ps, "expected simulated page sizes 4K, 2M or 1G, got '%s'", words.v[i]);
        break;
      }
      for (size_t j = 0; j < cfg->n_sim_pages; j++)
        if (cfg->sim_pages[j] == v)
          rc = hl_bench_perr(ps, "expected each page size once, got %s twice", words.v[i]);
      cfg->sim_pages[cfg->n_sim_pages++] = v;
    }
  } else if (strcmp(key, "vary_seed") == 0 || strcmp(key, "native") == 0) {
    bool yes = words.n == 1 && strcmp(words.v[0], "yes") == 0;
    if (!yes && !(words.n == 1 && strcmp(words.v[0], "no") == 0))
      rc = hl_bench_perr(ps, "expected '%s = yes' or '%s = no', got '%s'", key, key, value);
    else if (key[0] == 'v')
      cfg->vary_seed = yes;
    else
      cfg->native = yes;
  } else if (strcmp(key, "page_sizes") == 0) {
    cfg->page_sizes = hl_bench_xmalloc(words.n * sizeof *cfg->page_sizes);
    for (size_t i = 0; i < words.n && rc == 0; i++) {
      uint64_t v = 0;
      if (!sim_size_parse(words.v[i], &v) || (v & (v - 1)) != 0) {
        rc = hl_bench_perr(ps,
                           "expected 0 (allocator default) or a power of two in bytes "
                           "(suffix K, M or G allowed), got '%s'",
                           words.v[i]);
        break;
      }
      for (size_t j = 0; j < cfg->n_page_sizes; j++)
        if (cfg->page_sizes[j] == v)
          rc = hl_bench_perr(ps, "expected each page size once, got %s twice", words.v[i]);
      cfg->page_sizes[cfg->n_page_sizes++] = v;
    }
  } else if (strcmp(key, "repeats") == 0 || strcmp(key, "seed") == 0) {
    uint64_t v = 0;
    bool is_repeats = key[0] == 'r';
    if (words.n != 1 || !hl_bench_parse_u64(words.v[0], 0, UINT64_MAX, &v) ||
        (is_repeats && (v < 1 || v > HL_BENCH_MAX_REPEATS)))
      rc = hl_bench_perr(ps,
                         is_repeats ? "expected one count of repeats from 1 to 10000, got '%s'"
                                    : "expected one unsigned integer seed, got '%s'",
                         value);
    else if (is_repeats)
      cfg->repeats = (unsigned)v;
    else
      cfg->seed = v;
  } else if (strcmp(key, "timeout") == 0) {
    char *end;
    double v = words.n == 1 ? strtod(words.v[0], &end) : 0;
    if (words.n != 1 || *end || !(v > 0) || v > 1e7)
      rc = hl_bench_perr(ps, "expected one timeout in seconds (> 0), got '%s'", value);
    else
      cfg->timeout_s = v;
  } else if (strcmp(key, "sweep_workloads") == 0 || strcmp(key, "sim_workloads") == 0) {
    bool sweep = key[1] == 'w';
    hl_bench_strv_t *list = sweep ? &cfg->sweep_workloads : &cfg->sim_workloads;
    *(sweep ? &cfg->sweep_workloads_line : &cfg->sim_workloads_line) = ps->line;
    for (size_t i = 0; i < words.n && rc == 0; i++) {
      if (hl_bench_strv_find(list, words.v[i]) >= 0)
        rc = hl_bench_perr(ps, "expected each workload once, got '%s' twice", words.v[i]);
      else
        hl_bench_strv_push(list, words.v[i]);
    }
  } else if (strcmp(key, "sim") == 0) {
    if (words.n != 1)
      rc = hl_bench_perr(ps,
                         "expected one simulator config (e.g. ../sim/presets/skylake.conf), "
                         "got '%s'",
                         value);
    else if (!(cfg->sim = hl_bench_config_file(ps, cfg, words.v[0], "simulator config")))
      rc = -1;
  } else { /* replay_args */
    for (size_t i = 0; i < words.n && rc == 0; i++)
      if (hl_bench_reserved(words.v[i], hl_bench_replay_reserved,
                            sizeof hl_bench_replay_reserved / sizeof *hl_bench_replay_reserved))
        rc = hl_bench_perr(ps,
                           "expected hlreplay options other than those hlbench sets "
                           "(--alloc, --options, --format, --page-size, --sim, --sim-page-size), "
                           "got '%s'",
                           words.v[i]);
    if (rc == 0) rc = hl_bench_check_remote_free(ps, &words);
    if (rc == 0) {
      hl_bench_strv_free(&cfg->replay_args);
      cfg->replay_args = words;
      words = (hl_bench_strv_t){0};
    }
  }
  hl_bench_strv_free(&words);
  return rc;
}

static int hl_bench_parse_line(hl_bench_parse_t *ps, hl_bench_config_t *cfg, char *line) {
  /* '#' starts a comment at the start of a line or after a blank, so a
     path or an option may still contain one. */
  for (char *c = line; *c; c++)
    if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
      *c = '\0';
      break;
    }
  line = hl_bench_trim(line);
  if (!*line) return 0;
  for (char *c = line; *c; c++)
    if ((unsigned char)*c < 0x20 && *c != '\t')
      return hl_bench_perr(ps, "expected printable text, got a control character (0x%02x)",
                           (unsigned char)*c);
  char *eq = strchr(line, '=');
  if (!eq)
    return hl_bench_perr(ps, "expected 'key = value' or 'workload NAME = ...', got '%s'", line);
  *eq = '\0';
  char *value = hl_bench_trim(eq + 1);
  hl_bench_strv_t left = {0};
  hl_bench_split(line, &left);
  int rc;
  if (left.n == 0)
    rc = hl_bench_perr(ps, "expected a key before '=', got nothing");
  else if (strcmp(left.v[0], "workload") == 0)
    rc = left.n == 2 ? (*value ? hl_bench_parse_workload(ps, cfg, left.v[1], value)
                               : hl_bench_perr(ps,
                                               "expected 'gen MODEL ...' or 'file PATH' "
                                               "after 'workload %s =', got nothing",
                                               left.v[1]))
                     : hl_bench_perr(ps, "expected 'workload NAME = ...' with one NAME");
  else if (left.n != 1)
    rc = hl_bench_perr(ps, "expected one key before '=', got '%s'", hl_bench_trim(line));
  else
    rc = hl_bench_parse_key(ps, cfg, left.v[0], value);
  hl_bench_strv_free(&left);
  return rc;
}

int hl_bench_config_load(const char *path, hl_bench_config_t *cfg, FILE *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->path = hl_bench_xstrdup(path);
  cfg->repeats = 3;
  cfg->seed = 1;
  cfg->native = true;
  cfg->timeout_s = 600;
  size_t len = 0;
  cfg->text = hl_bench_read_file(path, &len);
  if (!cfg->text) {
    fprintf(err, "%s:0: expected a readable config file: %s\n", path, strerror(errno));
    hl_bench_config_free(cfg);
    return -1;
  }
  hl_bench_parse_t ps = {.file = path, .err = err};
  if (memchr(cfg->text, '\0', len)) {
    ps.line = 1;
    hl_bench_perr(&ps, "expected a text file, got a NUL byte");
    hl_bench_config_free(cfg);
    return -1;
  }
  char *copy = hl_bench_xstrdup(cfg->text);
  int rc = 0;
  /* Line by line by hand: strtok would merge empty lines and lose the
     numbering. */
  char *line = *copy ? copy : NULL;
  while (line && rc == 0) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    ps.line++;
    rc = hl_bench_parse_line(&ps, cfg, line);
    line = nl && nl[1] ? nl + 1 : NULL;
  }
  free(copy);
  cfg->last_line = ps.line > 0 ? ps.line : 1;
  if (rc == 0) {
    ps.line = cfg->last_line;
    if (cfg->allocs.n == 0)
      rc = hl_bench_perr(&ps, "expected an 'allocators = NAME...' line before the end of the file");
    else if (cfg->n_workloads == 0)
      rc = hl_bench_perr(&ps, "expected at least one 'workload NAME = ...' line before the end "
                              "of the file");
  }
  if (rc == 0 && cfg->n_threads == 0) {
    cfg->threads = hl_bench_xmalloc(sizeof *cfg->threads);
    cfg->threads[cfg->n_threads++] = 1;
  }
  if (rc == 0 && cfg->n_sim_threads == 0) {
    cfg->sim_threads = hl_bench_xmalloc(cfg->n_threads * sizeof *cfg->sim_threads);
    memcpy(cfg->sim_threads, cfg->threads, cfg->n_threads * sizeof *cfg->sim_threads);
    cfg->n_sim_threads = cfg->n_threads;
  }
  /* Keys that only mean something with a simulated pass. */
  static const char *const sim_only[] = {"sim_threads", "sim_page_sizes", "native"};
  for (size_t k = 0; k < sizeof sim_only / sizeof *sim_only && rc == 0 && !cfg->sim; k++) {
    int line = ps.key_line[hl_bench_key_index(sim_only[k])];
    if (line && (k < 2 || !cfg->native)) {
      ps.line = line;
      rc = hl_bench_perr(&ps, "expected a 'sim = PRESET' line: %s needs the simulated pass",
                         k < 2 ? sim_only[k] : "native = no");
    }
  }
  if (rc == 0 && cfg->n_page_sizes == 0) {
    cfg->page_sizes = hl_bench_xmalloc(sizeof *cfg->page_sizes);
    cfg->page_sizes[cfg->n_page_sizes++] = 0;
  }
  /* Workload subsets of the page-size sweep and of the simulated pass (the
     expensive parts of a matrix), resolved once the workloads are known. */
  const struct {
    const hl_bench_strv_t *list;
    int line;
  } subsets[] = {{&cfg->sweep_workloads, cfg->sweep_workloads_line},
                 {&cfg->sim_workloads, cfg->sim_workloads_line}};
  for (size_t k = 0; k < 2 && rc == 0; k++)
    for (size_t i = 0; i < subsets[k].list->n && rc == 0; i++) {
      size_t w = 0;
      while (w < cfg->n_workloads && strcmp(cfg->workloads[w].name, subsets[k].list->v[i]) != 0)
        w++;
      if (w == cfg->n_workloads) {
        ps.line = subsets[k].line;
        rc = hl_bench_perr(&ps, "expected the name of a workload of this file, got '%s'",
                           subsets[k].list->v[i]);
      }
    }
  for (size_t w = 0; w < cfg->n_workloads && rc == 0; w++) {
    const char *name = cfg->workloads[w].name;
    cfg->workloads[w].swept =
        !cfg->sweep_workloads.n || hl_bench_strv_find(&cfg->sweep_workloads, name) >= 0;
    cfg->workloads[w].simulated =
        !cfg->sim_workloads.n || hl_bench_strv_find(&cfg->sim_workloads, name) >= 0;
  }
  if (rc != 0) hl_bench_config_free(cfg);
  return rc;
}

int hl_bench_config_check_allocs(const hl_bench_config_t *cfg, const hl_bench_strv_t *known,
                                 FILE *err) {
  for (size_t i = 0; i < cfg->allocs.n; i++) {
    char name[128];
    hl_bench_alloc_split(cfg->allocs.v[i], name, sizeof name);
    if (hl_bench_strv_find(known, name) >= 0) continue;
    fprintf(err, "%s:%d: expected an allocator that hlreplay --list knows (", cfg->path,
            cfg->alloc_lines[i]);
    for (size_t j = 0; j < known->n; j++) fprintf(err, "%s%s", j ? " " : "", known->v[j]);
    fprintf(err, "), got '%s'\n", name);
    return -1;
  }
  return 0;
}

int hl_bench_config_only_allocs(hl_bench_config_t *cfg, const char *list, FILE *err) {
  hl_bench_strv_t want = {0};
  char *copy = hl_bench_xstrdup(list);
  for (char *c = copy; *c; c++)
    if (*c == ',') *c = ' ';
  hl_bench_split(copy, &want);
  free(copy);
  int rc = 0;
  if (want.n == 0) {
    fprintf(err, "hlbench: --only-alloc: expected allocator names, got '%s'\n", list);
    rc = -1;
  }
  for (size_t i = 0; i < want.n && rc == 0; i++) {
    if (hl_bench_strv_find(&cfg->allocs, want.v[i]) >= 0) continue;
    fprintf(err, "hlbench: --only-alloc: '%s' is not among the allocators of %s (", want.v[i],
            cfg->path);
    for (size_t j = 0; j < cfg->allocs.n; j++) fprintf(err, "%s%s", j ? " " : "", cfg->allocs.v[j]);
    fprintf(err, ")\n");
    rc = -1;
  }
  if (rc == 0) {
    /* Keep the config's order: the summary lists allocators in it. */
    size_t kept = 0;
    for (size_t i = 0; i < cfg->allocs.n; i++) {
      if (hl_bench_strv_find(&want, cfg->allocs.v[i]) < 0) {
        free(cfg->allocs.v[i]);
        continue;
      }
      cfg->alloc_lines[kept] = cfg->alloc_lines[i];
      if (cfg->alloc_paged) cfg->alloc_paged[kept] = cfg->alloc_paged[i];
      cfg->allocs.v[kept++] = cfg->allocs.v[i];
    }
    cfg->allocs.n = kept;
  }
  hl_bench_strv_free(&want);
  return rc;
}

void hl_bench_config_free(hl_bench_config_t *cfg) {
  free(cfg->path);
  free(cfg->text);
  hl_bench_strv_free(&cfg->allocs);
  free(cfg->alloc_lines);
  free(cfg->threads);
  free(cfg->sim_threads);
  free(cfg->sim_pages);
  free(cfg->page_sizes);
  free(cfg->alloc_paged);
  free(cfg->sim);
  hl_bench_strv_free(&cfg->sweep_workloads);
  hl_bench_strv_free(&cfg->sim_workloads);
  hl_bench_strv_free(&cfg->replay_args);
  for (size_t i = 0; i < cfg->n_workloads; i++) {
    free(cfg->workloads[i].name);
    free(cfg->workloads[i].path);
    hl_bench_strv_free(&cfg->workloads[i].gen_args);
  }
  free(cfg->workloads);
  memset(cfg, 0, sizeof *cfg);
}
