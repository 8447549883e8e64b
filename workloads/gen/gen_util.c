/* ----------------------------------------------------------------------------
  workloads/gen/gen_util.c: option parsing, meta lines, the event emitter and
  the deterministic scheduler shared by every synthetic model (gen_util.h).
---------------------------------------------------------------------------- */
#include "workloads/gen/gen_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_DEFAULT_SEED       1
#define GEN_DEFAULT_INTERLEAVE 64

/* ---- PRNG ---- */

static uint64_t gen_splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void gen_rng_seed(gen_rng_t *r, uint64_t seed, uint64_t stream) {
  /* Hash the seed, fold the stream in with an odd multiplier, and expand
     with splitmix64 (the seeding its authors recommend), so nearby (seed,
     stream) pairs give unrelated states. xoshiro must not start all zero. */
  uint64_t x = seed;
  uint64_t salt = gen_splitmix64(&x) ^ (stream * UINT64_C(0xd1342543de82ef95));
  for (int i = 0; i < 4; i++) r->s[i] = gen_splitmix64(&salt);
  if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

/* ---- size distributions ---- */

const char gen_sizes_help[] =
    "object sizes in bytes, one of:\n"
    "fixed:N            always N\n"
    "uniform:MIN:MAX    uniform integer in [MIN, MAX] (mean (MIN+MAX)/2)\n"
    "powerlaw:MIN:MAX:A bounded Pareto, shape A > 0, MIN >= 1: with u uniform\n"
    "                   in [0,1), size = min(MAX, floor(MIN / (1 - u*(1 -\n"
    "                   (MIN/MAX)^A))^(1/A))), so P(size < s) =\n"
    "                   (1 - (MIN/s)^A) / (1 - (MIN/MAX)^A) for MIN <= s <= MAX:\n"
    "                   mostly small objects, a heavy tail up to MAX: an\n"
    "                   analogue of alloc-test's Pareto-like sizes up to 1 KiB\n"
    "                   (powerlaw:8:1024:1), not its generator\n"
    "fitted:TRACE       the allocation sizes of TRACE (every alloc event),\n"
    "                   sampled by inverse CDF: each of its allocations equally\n"
    "                   likely";

/* (below) */
static bool gen_parse_u64(const char *s, uint64_t *out);

/* One ':'-separated unsigned field of a --sizes argument; advances *s. */
static bool gen_sizes_field(const char **s, uint64_t *out) {
  char buf[32];
  size_t n = strcspn(*s, ":");
  if (n == 0 || n >= sizeof buf) return false;
  memcpy(buf, *s, n);
  buf[n] = '\0';
  *s += n + ((*s)[n] == ':');
  return gen_parse_u64(buf, out) && *out <= HL_TRACE_MAX_SIZE;
}

static int gen_sizes_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* fitted:TRACE: gather every alloc's size, sort, keep distinct sizes with
   cumulative counts (the empirical CDF). */
static int gen_sizes_fit(const gen_spec_t *spec, const char *path, gen_sizes_t *d) {
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open(path, &err);
  if (!r) {
    fprintf(stderr, "hltrace gen %s: --sizes fitted: ", spec->model->name);
    hl_trace_error_print(stderr, &err);
    return 2;
  }
  uint64_t *sizes = NULL;
  size_t n = 0, cap = 0;
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    if (ev.op != HL_OP_ALLOC) continue;
    if (n == cap) {
      size_t ncap = cap ? 2 * cap : 1024;
      uint64_t *bigger = realloc(sizes, ncap * sizeof *bigger);
      if (!bigger) {
        rc = -2;
        break;
      }
      sizes = bigger, cap = ncap;
    }
    sizes[n++] = ev.size;
  }
  if (rc == -1) {
    fprintf(stderr, "hltrace gen %s: --sizes fitted: ", spec->model->name);
    hl_trace_error_print(stderr, hl_trace_reader_error(r));
  } else if (rc == -2) {
    fprintf(stderr, "hltrace gen %s: out of memory reading %s\n", spec->model->name, path);
  } else if (n == 0) {
    fprintf(stderr, "hltrace gen %s: --sizes fitted:%s: the trace has no allocations\n",
            spec->model->name, path);
    rc = -1;
  }
  hl_trace_close(r);
  if (rc != 0) {
    free(sizes);
    return 2;
  }
  qsort(sizes, n, sizeof *sizes, gen_sizes_cmp);
  d->size = sizes; /* distinct sizes compacted in place */
  d->cum = malloc(n * sizeof *d->cum);
  if (!d->cum) {
    free(sizes);
    d->size = NULL;
    fprintf(stderr, "hltrace gen %s: out of memory reading %s\n", spec->model->name, path);
    return 2;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (k == 0 || sizes[i] != d->size[k - 1]) d->size[k++] = sizes[i];
    d->cum[k - 1] = i + 1;
  }
  d->n = k;
  d->min = d->size[0];
  d->max = d->size[k - 1];
  return 0;
}

int gen_sizes_parse(const gen_spec_t *spec, const char *arg, gen_sizes_t *d) {
  memset(d, 0, sizeof *d);
  const char *s = strchr(arg, ':');
  if (!s) goto bad;
  size_t kind_len = (size_t)(s - arg);
  s++;
  if (kind_len == 6 && strncmp(arg, "fitted", 6) == 0) {
    if (!*s) goto bad;
    d->kind = GEN_SIZES_FITTED;
    return gen_sizes_fit(spec, s, d);
  }
  if (kind_len == 5 && strncmp(arg, "fixed", 5) == 0) {
    d->kind = GEN_SIZES_FIXED;
    if (!gen_sizes_field(&s, &d->min) || *s) goto bad;
    d->max = d->min;
    return 0;
  }
  if (kind_len == 7 && strncmp(arg, "uniform", 7) == 0) {
    d->kind = GEN_SIZES_UNIFORM;
    if (!gen_sizes_field(&s, &d->min) || !gen_sizes_field(&s, &d->max) || *s) goto bad;
    if (d->min > d->max) goto order;
    return 0;
  }
  if (kind_len == 8 && strncmp(arg, "powerlaw", 8) == 0) {
    d->kind = GEN_SIZES_POWERLAW;
    if (!gen_sizes_field(&s, &d->min) || !gen_sizes_field(&s, &d->max) || !*s) goto bad;
    char *end;
    errno = 0;
    d->alpha = strtod(s, &end);
    if (errno || *end || !(d->alpha > 0 && d->alpha <= 100) || d->min == 0) goto bad;
    if (d->min > d->max) goto order;
    return 0;
  }
bad:
  return gen_usage_error(spec,
                         "--sizes '%s': expected fixed:N, uniform:MIN:MAX, "
                         "powerlaw:MIN:MAX:ALPHA (MIN >= 1, 0 < ALPHA <= 100) or fitted:TRACE, "
                         "sizes at most 2^48",
                         arg);
order:
  return gen_usage_error(spec, "--sizes '%s': MIN is larger than MAX", arg);
}

uint64_t gen_sizes_sample(const gen_sizes_t *d, gen_rng_t *r) {
  switch (d->kind) {
    case GEN_SIZES_FIXED:
      return d->min;
    case GEN_SIZES_UNIFORM:
      return gen_rng_range(r, d->min, d->max);
    case GEN_SIZES_POWERLAW: {
      /* Inverse CDF of the Pareto law truncated to [min, max] (see
         gen_sizes_help). */
      double lo = (double)d->min, tail = pow(lo / (double)d->max, d->alpha);
      double u = gen_rng_unit(r);
      double x = lo / pow(1 - u * (1 - tail), 1 / d->alpha);
      if (!(x < (double)d->max)) return d->max; /* rounding at u -> 1 */
      uint64_t v = (uint64_t)x;
      return v < d->min ? d->min : v;
    }
    case GEN_SIZES_FITTED: {
      /* The k-th allocation of the sorted trace, k uniform: the first
         distinct size whose cumulative count exceeds k. */
      uint64_t k = gen_rng_below(r, d->cum[d->n - 1]);
      size_t lo = 0, hi = d->n - 1;
      while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->cum[mid] > k)
          hi = mid;
        else
          lo = mid + 1;
      }
      return d->size[lo];
    }
  }
  return d->min;
}

void gen_sizes_free(gen_sizes_t *d) {
  free(d->size);
  free(d->cum);
  d->size = d->cum = NULL;
  d->n = 0;
}

/* ---- options ---- */

int gen_usage_error(const gen_spec_t *spec, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "hltrace gen %s: ", spec->model->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, " (see hltrace gen %s --help)\n", spec->model->name);
  return 2;
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static bool gen_parse_u64(const char *s, uint64_t *out) {
  if (*s < '0' || *s > '9') return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

/* "  --flag ARG   help", with help's further lines (split at \n) indented. */
static void gen_print_option(const char *flag, const char *arg, const char *help) {
  char left[64];
  if (snprintf(left, sizeof left, "%s %s", flag, arg) >= (int)sizeof left)
    left[0] = '\0'; /* flags and argument names are short literals; never taken */
  const char *line = help;
  for (bool first = true;; first = false) {
    const char *nl = strchr(line, '\n');
    int len = nl ? (int)(nl - line) : (int)strlen(line);
    printf("  %-22s %.*s\n", first ? left : "", len, line);
    if (!nl || !nl[1]) break;
    line = nl + 1;
  }
}

static void gen_help(const gen_spec_t *spec) {
  const hl_gen_model_t *m = spec->model;
  printf("hltrace gen %s: %s\n\n", m->name, m->summary);
  printf("usage: hltrace gen %s [options] -o FILE\n\n%s\n", m->name, spec->description);
  printf("Model parameters (unsigned integers; --NAME N or --NAME=N):\n");
  for (size_t i = 0; i < spec->nparams; i++) {
    const gen_param_t *p = &spec->params[i];
    char flag[64];
    snprintf(flag, sizeof flag, "--%s", p->name);
    gen_print_option(flag, "N", p->help);
    printf("  %-22s (default %llu, range %llu..%llu)\n", "", (unsigned long long)p->def,
           (unsigned long long)p->min, (unsigned long long)p->max);
  }
  printf("\nCommon options:\n");
  gen_print_option("--threads", "N", spec->threads_help);
  printf("  %-22s (default %u, range 1..%u)\n", "", spec->threads_default, HL_TRACE_MAX_THREADS);
  gen_print_option("--seed", "S",
                   "PRNG seed (xoshiro256**): the same arguments always give a\n"
                   "byte-identical trace");
  printf("  %-22s (default %u)\n", "", GEN_DEFAULT_SEED);
  gen_print_option("--interleave", "N",
                   "the scheduler runs a random live thread for 1..N steps (uniform)\n"
                   "before picking again; 1 = finest interleaving");
  printf("  %-22s (default %u)\n", "", GEN_DEFAULT_INTERLEAVE);
  if (spec->sizes_default) {
    gen_print_option("--sizes", "DIST", gen_sizes_help);
    if (spec->sizes_help) gen_print_option("", "", spec->sizes_help);
    printf("  %-22s (default %s)\n", "", spec->sizes_default);
  }
  gen_print_option("-o, --output", "FILE", "the trace to write (required; - = stdout)");
  gen_print_option("-h, --help", "", "this text");
  printf("\n%s\nReference: %s\n", spec->notes, m->reference);
}

/* Take an option's value from "--name=value" or from the next argument. */
static const char *gen_option_value(const gen_spec_t *spec, int argc, char **argv, int *i,
                                    const char *inline_value, const char *flag) {
  if (inline_value) return inline_value;
  if (*i + 1 >= argc) {
    gen_usage_error(spec, "option %s needs a value", flag);
    return NULL;
  }
  return argv[++*i];
}

int gen_opts_parse(const gen_spec_t *spec, int argc, char **argv, gen_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->threads = spec->threads_default;
  o->seed = GEN_DEFAULT_SEED;
  o->interleave = GEN_DEFAULT_INTERLEAVE;
  for (size_t p = 0; p < spec->nparams; p++) o->v[p] = spec->params[p].def;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      gen_help(spec);
      return 0;
    }
    if (strcmp(arg, "-o") == 0) {
      if (i + 1 >= argc) return gen_usage_error(spec, "option -o needs a file name");
      o->out = argv[++i];
      continue;
    }
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
      return gen_usage_error(spec, "unexpected argument '%s'", arg);

    /* --name or --name=value */
    char name[64];
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
    if (len >= sizeof name) return gen_usage_error(spec, "unknown option '%s'", arg);
    memcpy(name, arg + 2, len);
    name[len] = '\0';
    const char *inline_value = eq ? eq + 1 : NULL;

    if (spec->sizes_default && strcmp(name, "sizes") == 0) {
      if (!(o->sizes_arg = gen_option_value(spec, argc, argv, &i, inline_value, "--sizes")))
        return 2;
      continue;
    }
    if (strcmp(name, "output") == 0) {
      if (!(o->out = gen_option_value(spec, argc, argv, &i, inline_value, "--output"))) return 2;
      if (!*o->out) return gen_usage_error(spec, "--output needs a non-empty file name");
      continue;
    }

    /* Everything else takes a number: the common ones, then the model's. */
    uint64_t lo = 0, hi = 0, *dst = NULL, threads = 0;
    if (strcmp(name, "threads") == 0) {
      dst = &threads, lo = 1, hi = HL_TRACE_MAX_THREADS;
    } else if (strcmp(name, "seed") == 0) {
      dst = &o->seed, lo = 0, hi = UINT64_MAX;
    } else if (strcmp(name, "interleave") == 0) {
      dst = &o->interleave, lo = 1, hi = GEN_MAX_COUNT;
    } else {
      for (size_t p = 0; p < spec->nparams && !dst; p++)
        if (strcmp(name, spec->params[p].name) == 0)
          dst = &o->v[p], lo = spec->params[p].min, hi = spec->params[p].max;
    }
    if (!dst) return gen_usage_error(spec, "unknown option '--%s'", name);
    char flag[80];
    snprintf(flag, sizeof flag, "--%s", name);
    const char *value = gen_option_value(spec, argc, argv, &i, inline_value, flag);
    if (!value) return 2;
    uint64_t v;
    if (!gen_parse_u64(value, &v))
      return gen_usage_error(spec, "%s: '%s' is not an unsigned integer below 2^64", flag, value);
    if (v < lo || v > hi)
      return gen_usage_error(spec, "%s %llu is out of range %llu..%llu", flag,
                             (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
    *dst = v;
    if (dst == &threads) o->threads = (uint32_t)threads;
  }
  if (!o->out) return gen_usage_error(spec, "missing -o FILE (the trace to write)");
  if (spec->sizes_default) {
    if (!o->sizes_arg) o->sizes_arg = spec->sizes_default;
    int rc = gen_sizes_parse(spec, o->sizes_arg, &o->sizes);
    if (rc) return rc;
  }
  return -1;
}

void gen_opts_free(gen_opts_t *o) {
  gen_sizes_free(&o->sizes);
}

void *gen_calloc(const gen_spec_t *spec, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    fprintf(stderr, "hltrace gen %s: out of memory (%zu x %zu bytes of generator state)\n",
            spec->model->name, n, size);
  return p;
}

/* ---- meta ---- */

void gen_meta_add(gen_meta_t *m, const char *fmt, ...) {
  if (m->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(m->buf + m->len, sizeof m->buf - m->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n + 1 >= sizeof m->buf - m->len) {
    m->overflow = true; /* a model bug (far too many lines): refuse at open */
    return;
  }
  m->len += (size_t)n;
  m->buf[m->len++] = '\n';
  m->buf[m->len] = '\0';
}

/* Remove the meta line LINE (without its newline). gen_meta_init writes a
   line per parameter; a parameter added later is left out at its default so
   that the traces made before it existed stay byte-identical. */
void gen_meta_drop(gen_meta_t *m, const char *line) {
  size_t n = strlen(line);
  for (char *p = m->buf; (p = strstr(p, line)) != NULL; p++) {
    if ((p == m->buf || p[-1] == '\n') && p[n] == '\n') {
      memmove(p, p + n + 1, m->len - (size_t)(p - m->buf) - n); /* with the NUL */
      m->len -= n + 1;
      return;
    }
  }
}

void gen_meta_init(gen_meta_t *m, const gen_spec_t *spec, const gen_opts_t *o) {
  m->len = 0;
  m->overflow = false;
  m->buf[0] = '\0';
  gen_meta_add(m, "generator=%s", spec->model->name);
  gen_meta_add(m, "param.threads=%u", o->threads);
  gen_meta_add(m, "param.interleave=%llu", (unsigned long long)o->interleave);
  for (size_t p = 0; p < spec->nparams; p++)
    gen_meta_add(m, "param.%s=%llu", spec->params[p].name, (unsigned long long)o->v[p]);
  if (o->sizes_arg) gen_meta_add(m, "param.sizes=%s", o->sizes_arg);
  gen_meta_add(m, "seed=%llu", (unsigned long long)o->seed);
  gen_meta_add(m, "heaplab_version=1");
}

/* ---- emitting ---- */

int gen_emit_open(gen_emit_t *e, const gen_spec_t *spec, const gen_opts_t *o, const gen_meta_t *m) {
  e->spec = spec;
  e->failed = false;
  e->w = NULL;
  if (m->overflow) {
    fprintf(stderr, "hltrace gen %s: internal error: meta lines too long\n", spec->model->name);
    return 1;
  }
  hl_trace_error_t err;
  e->w = hl_trace_writer_open(o->out, o->threads, m->buf, &err);
  if (!e->w) {
    fprintf(stderr, "hltrace gen %s: ", spec->model->name);
    hl_trace_error_print(stderr, &err);
    return 1;
  }
  return 0;
}

static void gen_emit(gen_emit_t *e, const hl_event_t *ev) {
  if (e->failed) return;
  if (hl_trace_write(e->w, ev) != 0) {
    /* The writer validates every event; a refusal is a model bug or an I/O
       error. Either way stop here and report where. */
    e->failed = true;
    fprintf(stderr, "hltrace gen %s: ", e->spec->model->name);
    hl_trace_error_print(stderr, hl_trace_writer_error(e->w));
  }
}

uint64_t gen_emit_alloc(gen_emit_t *e, uint32_t thread, uint64_t size) {
  return gen_emit_alloc_kind(e, thread, HL_KIND_MALLOC, size, 0);
}

uint64_t gen_emit_alloc_kind(gen_emit_t *e, uint32_t thread, hl_alloc_kind_t kind, uint64_t size,
                             uint64_t align) {
  hl_event_t ev = {.op = HL_OP_ALLOC, .kind = kind, .thread = thread, .size = size, .align = align};
  ev.obj = hl_trace_writer_next_id(e->w);
  gen_emit(e, &ev);
  return ev.obj;
}

void gen_emit_read(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t offset, uint64_t len) {
  hl_event_t ev = {.op = HL_OP_READ, .thread = thread, .obj = obj, .offset = offset, .size = len};
  gen_emit(e, &ev);
}

void gen_emit_write(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t offset, uint64_t len) {
  hl_event_t ev = {.op = HL_OP_WRITE, .thread = thread, .obj = obj, .offset = offset, .size = len};
  gen_emit(e, &ev);
}

void gen_emit_link(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t field, uint64_t target) {
  hl_event_t ev = {
      .op = HL_OP_LINK, .thread = thread, .obj = obj, .offset = field, .target = target};
  gen_emit(e, &ev);
}

void gen_emit_send(gen_emit_t *e, uint32_t thread, uint64_t obj, uint32_t to) {
  hl_event_t ev = {.op = HL_OP_SEND, .thread = thread, .obj = obj, .target = to};
  gen_emit(e, &ev);
}

void gen_emit_send_part(gen_emit_t *e, uint32_t thread, uint64_t obj, uint32_t to) {
  hl_event_t ev = {.op = HL_OP_SEND_PART, .thread = thread, .obj = obj, .target = to};
  gen_emit(e, &ev);
}

void gen_emit_barrier(gen_emit_t *e, uint32_t thread, uint64_t number, uint64_t count) {
  hl_event_t ev = {.op = HL_OP_BARRIER, .thread = thread, .obj = number, .size = count};
  gen_emit(e, &ev);
}

void gen_emit_free(gen_emit_t *e, uint32_t thread, uint64_t obj) {
  hl_event_t ev = {.op = HL_OP_FREE, .thread = thread, .obj = obj};
  gen_emit(e, &ev);
}

void gen_emit_thread(gen_emit_t *e, uint32_t thread, hl_op_t op) {
  hl_event_t ev = {.op = op, .thread = thread};
  gen_emit(e, &ev);
}

int gen_emit_close(gen_emit_t *e) {
  if (!e->w) return 1;
  if (e->failed) {
    hl_trace_writer_abort(e->w);
    e->w = NULL;
    return 1;
  }
  if (hl_trace_writer_close(e->w) != 0) {
    /* A failed close leaves the writer allocated so it can say why. */
    fprintf(stderr, "hltrace gen %s: ", e->spec->model->name);
    hl_trace_error_print(stderr, hl_trace_writer_error(e->w));
    hl_trace_writer_abort(e->w);
    e->w = NULL;
    return 1;
  }
  e->w = NULL;
  return 0;
}

/* ---- scheduling ---- */

typedef struct gen_sched_s {
  gen_emit_t *e;
  gen_step_fn step;
  void *model;
  uint32_t *live; /* threads not yet DONE, in no particular order */
  uint32_t nlive;
  bool *started;
} gen_sched_t;

/* Run up to `steps` steps of live[i]. Returns true if anything ran or the
   thread finished (progress), false if it was blocked at once. */
static bool gen_sched_turn(gen_sched_t *s, uint32_t i, uint64_t steps) {
  uint32_t t = s->live[i];
  if (!s->started[t]) {
    s->started[t] = true;
    gen_emit_thread(s->e, t, HL_OP_THREAD_START);
  }
  uint64_t ran = 0;
  gen_step_t r = GEN_STEP_RAN;
  while (ran < steps) {
    r = s->step(s->model, t);
    if (r != GEN_STEP_RAN) break;
    ran++;
  }
  if (r == GEN_STEP_DONE) {
    gen_emit_thread(s->e, t, HL_OP_THREAD_END);
    s->live[i] = s->live[--s->nlive]; /* swap-remove: order stays deterministic */
    return true;
  }
  return ran > 0;
}

int gen_sched_run(gen_emit_t *e, const gen_opts_t *o, gen_step_fn step, void *model) {
  gen_sched_t s = {.e = e, .step = step, .model = model, .nlive = o->threads};
  s.live = gen_calloc(e->spec, o->threads, sizeof *s.live);
  s.started = gen_calloc(e->spec, o->threads, sizeof *s.started);
  if (!s.live || !s.started) {
    free(s.live);
    free(s.started);
    return -1;
  }
  for (uint32_t t = 0; t < o->threads; t++) s.live[t] = t;

  gen_rng_t rng;
  gen_rng_seed(&rng, o->seed, 0);
  uint64_t stalls = 0; /* consecutive picks of a blocked thread */
  int rc = 0;
  while (s.nlive > 0 && !e->failed) {
    uint32_t i = (uint32_t)gen_rng_below(&rng, s.nlive);
    uint64_t steps = 1 + gen_rng_below(&rng, o->interleave);
    if (gen_sched_turn(&s, i, steps)) {
      stalls = 0;
      continue;
    }
    /* Many blocked picks in a row: sweep every live thread once. If none can
       move, the model has a cycle of waits, which is a bug in the model. */
    if (++stalls < 64 * (uint64_t)s.nlive) continue;
    stalls = 0;
    bool progress = false;
    for (uint32_t j = 0; j < s.nlive && !progress; j++) progress = gen_sched_turn(&s, j, 1);
    if (!progress) {
      fprintf(stderr, "hltrace gen %s: internal error: every thread is blocked\n",
              e->spec->model->name);
      e->failed = true; /* so gen_emit_close discards the partial trace */
      rc = -1;
      break;
    }
  }
  if (e->failed) rc = -1;
  free(s.live);
  free(s.started);
  return rc;
}
