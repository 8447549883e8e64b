/* ----------------------------------------------------------------------------
  workloads/gen/gen_util.h: what the synthetic models share.

  - gen_rng_*: xoshiro256** seeded through splitmix64. Small, fast, and
    specified exactly, so a trace depends only on its arguments.
  - gen_opts_* / gen_param_t: option parsing. Every model declares its
    parameters in a table (name, default, range, meaning); the common options
    (--threads, --seed, --interleave, -o, --help) are handled here, so all
    models parse, validate and document their arguments the same way.
  - gen_meta_*: the trace's meta lines (generator, param.*, seed, ...).
  - gen_emit_*: a thin layer over the trace writer that keeps the first error.
  - gen_sched_*: the deterministic interleaver. A model describes one logical
    thread as a step function; the scheduler picks threads with the PRNG and
    serialises their steps into one global, legal order.
  - gen_sizes_*: object size distributions (`--sizes fixed:N | uniform:MIN:MAX
    | powerlaw:MIN:MAX:ALPHA | fitted:TRACE`), for models that take them.

  Adding a model: a file defining `const hl_gen_model_t hl_gen_NAME` (its main
  uses the helpers below), its extern here, one line in gen.c's table.
---------------------------------------------------------------------------- */
#ifndef HL_GEN_UTIL_H
#define HL_GEN_UTIL_H

#include "workloads/gen/gen.h"
#include "workloads/trace.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The models (one file each). */
extern const hl_gen_model_t hl_gen_threadtest;
extern const hl_gen_model_t hl_gen_larson;
extern const hl_gen_model_t hl_gen_xmalloc;
extern const hl_gen_model_t hl_gen_mstress;
extern const hl_gen_model_t hl_gen_list;
extern const hl_gen_model_t hl_gen_tree;
extern const hl_gen_model_t hl_gen_graph;
extern const hl_gen_model_t hl_gen_pipeline;
extern const hl_gen_model_t hl_gen_cache_thrash;
extern const hl_gen_model_t hl_gen_cache_scratch;
extern const hl_gen_model_t hl_gen_survivors;
extern const hl_gen_model_t hl_gen_treepass;

/* ---- PRNG ---- */
typedef struct gen_rng_s {
  uint64_t s[4];
} gen_rng_t;

/* Independent streams from one seed: the scheduler uses stream 0, models
   number theirs from 1 (per thread, per array...), so what a thread does does
   not depend on how it was interleaved. */
void gen_rng_seed(gen_rng_t *r, uint64_t seed, uint64_t stream);

static inline uint64_t gen_rng_rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman & Vigna, 2018). */
static inline uint64_t gen_rng_next(gen_rng_t *r) {
  uint64_t *s = r->s;
  uint64_t result = gen_rng_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = gen_rng_rotl(s[3], 45);
  return result;
}

/* Uniform in [0, n), n > 0, without modulo bias (rejection). */
static inline uint64_t gen_rng_below(gen_rng_t *r, uint64_t n) {
  uint64_t limit = -n % n; /* 2^64 mod n: values below it would bias the result */
  for (;;) {
    uint64_t x = gen_rng_next(r);
    if (x >= limit) return x % n;
  }
}

/* Uniform in [lo, hi], lo <= hi. */
static inline uint64_t gen_rng_range(gen_rng_t *r, uint64_t lo, uint64_t hi) {
  if (hi - lo == UINT64_MAX) return gen_rng_next(r);
  return lo + gen_rng_below(r, hi - lo + 1);
}

/* Uniform in [0, 1), 53 random bits. */
static inline double gen_rng_unit(gen_rng_t *r) {
  return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- size distributions ---- */
typedef enum gen_sizes_kind_e {
  GEN_SIZES_FIXED,    /* always min */
  GEN_SIZES_UNIFORM,  /* uniform integer in [min, max] */
  GEN_SIZES_POWERLAW, /* bounded Pareto on [min, max], shape alpha (gen_sizes_sample) */
  GEN_SIZES_FITTED,   /* the allocation sizes of a trace, by inverse CDF */
} gen_sizes_kind_t;

typedef struct gen_sizes_s {
  gen_sizes_kind_t kind;
  uint64_t min, max;
  double alpha;
  /* FITTED: the distinct sizes ascending, and cum[i] = allocations of a size
     <= size[i]; n distinct sizes, cum[n-1] allocations in all. */
  uint64_t *size, *cum;
  size_t n;
} gen_sizes_t;

struct gen_spec_s;

/* The text `hltrace gen MODEL --help` prints for --sizes. */
extern const char gen_sizes_help[];

/* Parse a --sizes argument (loading the trace for fitted:). 0 ok; otherwise
   the exit status (2), message printed. */
int gen_sizes_parse(const struct gen_spec_s *spec, const char *arg, gen_sizes_t *d);
uint64_t gen_sizes_sample(const gen_sizes_t *d, gen_rng_t *r);
void gen_sizes_free(gen_sizes_t *d);

/* ---- options ---- */
#define GEN_MAX_PARAMS 16
#define GEN_MAX_COUNT  UINT64_C(1000000000) /* upper bound of count-like parameters */

/* One model parameter: `--NAME N`, an unsigned integer in [min, max]. */
typedef struct gen_param_s {
  const char *name;
  uint64_t def;
  uint64_t min, max;
  const char *help; /* meaning, and where the default comes from */
} gen_param_t;

/* Everything `--help` prints and the parser checks. */
typedef struct gen_spec_s {
  const hl_gen_model_t *model; /* name, summary, reference */
  const char *description;     /* what the model does (lines end with \n) */
  uint32_t threads_default;
  const char *threads_help; /* what the threads do, and the default's origin */
  const gen_param_t *params;
  size_t nparams;
  const char *notes; /* event counts, cross-thread frees, live bytes at the end */
  /* Models that take --sizes: its default (NULL: the model has no --sizes)
     and what the model does with a size (e.g. raises it to fit its fields). */
  const char *sizes_default;
  const char *sizes_help;
} gen_spec_t;

typedef struct gen_opts_s {
  uint32_t threads;
  uint64_t seed;
  uint64_t interleave; /* a thread runs 1..interleave steps before the next pick */
  const char *out;
  uint64_t v[GEN_MAX_PARAMS]; /* parameter values, in spec->params order */
  const char *sizes_arg;      /* --sizes as given (or spec->sizes_default) */
  gen_sizes_t sizes;          /* ... parsed; release with gen_opts_free */
} gen_opts_t;

/* Parse argv (argv[0] = model name). Returns -1 when the model should run
   with *o filled, otherwise the status to exit with: 0 after --help, 2 after a
   bad argument (message printed). */
int gen_opts_parse(const gen_spec_t *spec, int argc, char **argv, gen_opts_t *o);
/* Release what gen_opts_parse allocated (the fitted size table). */
void gen_opts_free(gen_opts_t *o);

/* Print "hltrace gen MODEL: MESSAGE" plus a --help hint; returns 2. */
int gen_usage_error(const gen_spec_t *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* a * b, or false on overflow. */
static inline bool gen_mul(uint64_t a, uint64_t b, uint64_t *out) {
  return !__builtin_mul_overflow(a, b, out);
}

/* calloc that reports failure (as "hltrace gen MODEL: out of memory ..."). */
void *gen_calloc(const gen_spec_t *spec, size_t n, size_t size);

/* ---- meta ---- */
typedef struct gen_meta_s {
  char buf[8192];
  size_t len;
  bool overflow;
} gen_meta_t;

/* generator=, param.threads=, param.interleave=, param.NAME= for every
   parameter, seed=, heaplab_version=. */
void gen_meta_init(gen_meta_t *m, const gen_spec_t *spec, const gen_opts_t *o);
/* Append one "key=value" line (format without the newline). */
void gen_meta_add(gen_meta_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Remove the meta line LINE (without its newline): a parameter added to a model
   later is left out at its default, so older traces stay byte-identical. */
void gen_meta_drop(gen_meta_t *m, const char *line);

/* ---- emitting ---- */
typedef struct gen_emit_s {
  hl_trace_writer_t *w;
  const gen_spec_t *spec;
  bool failed; /* an event was refused: everything after is dropped */
} gen_emit_t;

/* Open o->out. 0 ok; otherwise the exit status (1), message printed. */
int gen_emit_open(gen_emit_t *e, const gen_spec_t *spec, const gen_opts_t *o, const gen_meta_t *m);
/* malloc(size) by `thread`; returns the new object's id. */
uint64_t gen_emit_alloc(gen_emit_t *e, uint32_t thread, uint64_t size);
/* An allocation of another kind (calloc...; alignment for the aligned ones). */
uint64_t gen_emit_alloc_kind(gen_emit_t *e, uint32_t thread, hl_alloc_kind_t kind, uint64_t size,
                             uint64_t align);
void gen_emit_free(gen_emit_t *e, uint32_t thread, uint64_t obj);
void gen_emit_read(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t offset, uint64_t len);
void gen_emit_write(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t offset, uint64_t len);
/* Store a pointer to `target` (HL_TRACE_NO_OBJECT: null) in obj's field. */
void gen_emit_link(gen_emit_t *e, uint32_t thread, uint64_t obj, uint64_t field, uint64_t target);
void gen_emit_send(gen_emit_t *e, uint32_t thread, uint64_t obj, uint32_t to);
/* Add obj to the message `thread` is building for `to` (trace version 2): the
   thread's next gen_emit_send, to the same thread, closes and sends it. */
void gen_emit_send_part(gen_emit_t *e, uint32_t thread, uint64_t obj, uint32_t to);
/* Arrival at barrier `number` of `count` threads. */
void gen_emit_barrier(gen_emit_t *e, uint32_t thread, uint64_t number, uint64_t count);
void gen_emit_thread(gen_emit_t *e, uint32_t thread, hl_op_t op); /* THREAD_START/END */
/* Close (or abort after a failure). Returns the exit status: 0 or 1. */
int gen_emit_close(gen_emit_t *e);

/* ---- scheduling ---- */
typedef enum gen_step_e {
  GEN_STEP_RAN,     /* emitted the thread's next operation (one or more events) */
  GEN_STEP_BLOCKED, /* waits for another thread; emitted nothing */
  GEN_STEP_DONE,    /* has nothing left; emitted nothing */
} gen_step_t;

typedef gen_step_t (*gen_step_fn)(void *model, uint32_t thread);

/* Run all o->threads threads to completion: pick a live thread at random
   (stream 0 of o->seed), run 1..o->interleave of its steps (fewer if it
   blocks), repeat. THREAD_START is emitted before a thread's first step,
   THREAD_END after it reports DONE. 0 ok, -1 on a write failure or a model
   deadlock (message printed). */
int gen_sched_run(gen_emit_t *e, const gen_opts_t *o, gen_step_fn step, void *model);

#endif
