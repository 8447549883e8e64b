/* ----------------------------------------------------------------------------
  alloc/baseline/baseline.c: the real allocators people use, as baselines:
  glibc's malloc (`system`) and Debian's jemalloc, mimalloc and tcmalloc.

  They are reached the way users reach them: through the malloc API of a
  process started with LD_PRELOAD (the harness re-executes itself, as
  mimalloc-bench does). So all four share one implementation that simply
  calls malloc & co.; what differs is which library must be serving those
  calls, and `identify` proves it by asking the dynamic linker which object
  defines each malloc-API symbol, then asks that library for its version.
  A preload that silently failed (ld.so only warns) is caught here instead
  of reporting glibc's numbers under jemalloc's name.

  A library may lack some calls (Debian's jemalloc has no pvalloc): in a
  preloaded program such a call falls through to glibc, and freeing its
  result crashes the library. So every kind is checked to be defined by the
  same library as malloc; one that is not fails with ENOTSUP, and the
  identification lists it, rather than mixing two allocators in one run.

  None of them takes heaplab options: each library is tuned by its own
  environment variables (MALLOC_CONF, GLIBC_TUNABLES, ...), which the
  preloaded process inherits; an option string is refused, naming them.

  HEAPLAB_BASELINE_DIR (harness/preload.h) makes the harness preload the
  libraries from that folder (a bench bundle's baselines/) rather than the
  system's; identification then also requires malloc's definer to be in it.

  These libraries keep their own per-thread state in TLS, so the context is
  unused: with one OS thread per traced thread (native replay) that is the
  real behaviour; in serial replay they see a single thread.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/options.h"
#include <dlfcn.h>
#include <errno.h>
#include <gnu/libc-version.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *identify_definer(const char *symbol);

/* Which kinds the serving library really provides (see the banner). */
typedef struct baseline_state_s {
  bool provides[HL_KIND_COUNT];
} baseline_state_t;

static baseline_state_t baseline_state;

static void baseline_state_init(baseline_state_t *st) {
  const char *malloc_definer = identify_definer("malloc");
  for (unsigned k = 0; k < HL_KIND_COUNT; k++)
    st->provides[k] =
        strcmp(identify_definer(hl_alloc_kind_name((hl_alloc_kind_t)k)), malloc_definer) == 0;
}

/* No options (alloc/options.h): the library's own tuning is in its
   environment, which the preloaded process inherits; `options` says where. */
static int baseline_heap_init(hl_heap_t *heap, const hl_opt_table_t *options) {
  int rc = hl_opt_parse(options, heap->config.options, NULL, heap->why, sizeof heap->why);
  if (rc) return rc;
  baseline_state_init(&baseline_state);
  heap->state = &baseline_state;
  return 0;
}

static void baseline_heap_done(hl_heap_t *heap) {
  heap->state = NULL;
}

static int baseline_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind,
                          size_t align) {
  const baseline_state_t *st = ctx->heap->state;
  if ((unsigned)kind >= HL_KIND_COUNT || !st->provides[kind]) return ENOTSUP;
  void *p = NULL;
  switch (kind) {
    case HL_KIND_MALLOC:
      p = malloc(size);
      break;
    case HL_KIND_CALLOC:
      p = calloc(1, size);
      break;
    case HL_KIND_MEMALIGN:
      p = memalign(align, size);
      break;
    case HL_KIND_POSIX_MEMALIGN: {
      int rc = posix_memalign(&p, align, size);
      if (rc != 0) return rc;
      break;
    }
    case HL_KIND_ALIGNED_ALLOC:
      p = aligned_alloc(align, size);
      break;
    case HL_KIND_VALLOC:
      p = valloc(size);
      break;
    case HL_KIND_PVALLOC:
      p = pvalloc(size);
      break;
    default:
      return EINVAL;
  }
  if (p == NULL && size != 0) return errno ? errno : ENOMEM;
  *slot = p;
  return 0;
}

static void baseline_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)ctx, (void)size;
  free(*slot);
  *slot = NULL;
}

/* realloc(p, 0) keeps the library's own semantics (glibc frees and returns
   NULL; a later free(NULL) or realloc(NULL, n) is then still correct). */
static int baseline_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  (void)ctx, (void)old_size;
  void *p = realloc(*slot, new_size);
  if (p == NULL && new_size != 0) return ENOMEM;
  *slot = p;
  return 0;
}

static void baseline_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  (void)heap;
  memset(out, 0, sizeof *out);
  out->na_reason = "not exposed through the malloc API";
}

/* ---- identification ---- */

static const char *const identify_symbols[] = {"malloc", "free", "calloc", "realloc",
                                               "posix_memalign"};

/* The file that defines `symbol` for this process (first in lookup order). */
static const char *identify_definer(const char *symbol) {
  void *addr = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info;
  if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL) return "?";
  return info.dli_fname;
}

static const char *identify_basename(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Do all malloc-API symbols come from one file? Writes it to `definer`. */
static bool identify_common_definer(const char **definer, char *buf, size_t len) {
  *definer = identify_definer("malloc");
  for (size_t i = 1; i < sizeof identify_symbols / sizeof identify_symbols[0]; i++) {
    const char *other = identify_definer(identify_symbols[i]);
    if (strcmp(other, *definer) != 0) {
      snprintf(buf, len, "mixed: malloc from %s but %s from %s", *definer, identify_symbols[i],
               other);
      return false;
    }
  }
  return true;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BASELINE_SANITIZED 1
#else
#define BASELINE_SANITIZED 0
#endif

/* Describe the library behind `definer`, asking it for its version. */
static void identify_describe(const char *definer, char *buf, size_t len) {
  const char *base = identify_basename(definer);
  char version[96] = "version unknown";
  void *fn;
  if (strncmp(base, "libc.so", 7) == 0) {
    snprintf(version, sizeof version, "glibc %s", gnu_get_libc_version());
  } else if ((fn = dlsym(RTLD_DEFAULT, "mallctl")) != NULL) {
    int (*mallctl)(const char *, void *, size_t *, void *, size_t) =
        (int (*)(const char *, void *, size_t *, void *, size_t))fn;
    const char *v = NULL;
    size_t vlen = sizeof v;
    if (mallctl("version", &v, &vlen, NULL, 0) == 0 && v)
      snprintf(version, sizeof version, "jemalloc %s", v);
  } else if ((fn = dlsym(RTLD_DEFAULT, "hlarena_version")) != NULL) {
    snprintf(version, sizeof version, "%s", ((const char *(*)(void))fn)());
  } else if ((fn = dlsym(RTLD_DEFAULT, "mi_version")) != NULL) {
    int v = ((int (*)(void))fn)();
    snprintf(version, sizeof version, "mimalloc %d.%d.%d", v / 100, (v / 10) % 10, v % 10);
  } else if ((fn = dlsym(RTLD_DEFAULT, "tc_version")) != NULL) {
    const char *v = ((const char *(*)(int *, int *, const char **))fn)(NULL, NULL, NULL);
    snprintf(version, sizeof version, "%s", v ? v : "gperftools");
  } else if (BASELINE_SANITIZED) {
    snprintf(version, sizeof version, "the sanitizer runtime's malloc");
  }
  baseline_state_t st;
  baseline_state_init(&st);
  char missing[96] = "";
  for (unsigned k = 0; k < HL_KIND_COUNT; k++)
    if (!st.provides[k]) {
      size_t used = strlen(missing);
      snprintf(missing + used, sizeof missing - used, "%s%s", used ? " " : "; lacks ",
               hl_alloc_kind_name((hl_alloc_kind_t)k));
    }
  snprintf(buf, len, "%s (%s%s)", base, version, missing);
}

/* With HEAPLAB_BASELINE_DIR set, a preloaded Debian library (not glibc, not
   heaplab's own libhl*.so from the build) must come from that folder: a
   same-named system copy would be another build. */
static int identify_in_baseline_dir(const char *definer, const char *want, char *buf, size_t len) {
  const char *dir = getenv("HEAPLAB_BASELINE_DIR"); /* HL_BASELINE_DIR_ENV */
  if (!dir || !*dir || strncmp(want, "libc.so", 7) == 0 || strncmp(want, "libhl", 5) == 0) return 0;
  char want_dir[PATH_MAX], got[PATH_MAX];
  if (realpath(dir, want_dir) && realpath(definer, got)) {
    size_t n = strlen(want_dir);
    if (strncmp(got, want_dir, n) == 0 && got[n] == '/') return 0;
  }
  size_t used = strlen(buf);
  snprintf(buf + used, len - used, "; not from HEAPLAB_BASELINE_DIR=%s", dir);
  return -1;
}

/* Shared by all four: serving library must be `want` (a soname). */
static int identify_expect(const char *want, char *buf, size_t len) {
  const char *definer;
  if (!identify_common_definer(&definer, buf, len)) return -1;
  identify_describe(definer, buf, len);
  const char *base = identify_basename(definer);
  if (strcmp(base, want) == 0) return identify_in_baseline_dir(definer, want, buf, len);
  /* In a sanitizer build the sanitizer's interceptors are this program's
     malloc: that is what `system` means there, and buf says so. */
  if (BASELINE_SANITIZED && strncmp(want, "libc.so", 7) == 0 && strstr(buf, "sanitizer")) return 0;
  return -1;
}

#define BASELINE_ALLOCATOR(ident, soname, flags_, summary_, tuning)                                \
  BASELINE_ALLOCATOR_NAMED(ident, #ident, soname, flags_, summary_, tuning)
#define BASELINE_ALLOCATOR_NAMED(ident, name_, soname, flags_, summary_, tuning)                   \
  static int ident##_identify(char *buf, size_t len) {                                             \
    return identify_expect(soname, buf, len);                                                      \
  }                                                                                                \
  static const hl_opt_table_t ident##_options = {.name = name_, .none = tuning};                   \
  static int ident##_heap_init(hl_heap_t *heap) {                                                  \
    return baseline_heap_init(heap, &ident##_options);                                             \
  }                                                                                                \
  const hl_allocator_t hl_alloc_##ident = {                                                        \
      .name = name_,                                                                               \
      .summary = summary_,                                                                         \
      .flags = flags_,                                                                             \
      .preload_soname = soname,                                                                    \
      .options = &ident##_options,                                                                 \
      .heap_init = ident##_heap_init,                                                              \
      .heap_done = baseline_heap_done,                                                             \
      .thread_init = hl_flat_thread_init,                                                          \
      .thread_done = hl_flat_thread_done,                                                          \
      .alloc = baseline_alloc,                                                                     \
      .free = baseline_free,                                                                       \
      .realloc = baseline_realloc,                                                                 \
      .read = hl_flat_read,                                                                        \
      .write = hl_flat_write,                                                                      \
      .link = hl_flat_link,                                                                        \
      .send = hl_flat_send,                                                                        \
      .stats = baseline_stats,                                                                     \
      .identify = ident##_identify,                                                                \
  };

BASELINE_ALLOCATOR(system, "libc.so.6", 0, "glibc malloc (ptmalloc2), the system allocator",
                   "glibc's malloc reads GLIBC_TUNABLES from the environment")
BASELINE_ALLOCATOR(jemalloc, "libjemalloc.so.2", HL_ALLOC_PRELOAD,
                   "jemalloc from Debian (libjemalloc2), via LD_PRELOAD",
                   "jemalloc reads MALLOC_CONF from the environment")
BASELINE_ALLOCATOR(mimalloc, "libmimalloc.so.2", HL_ALLOC_PRELOAD,
                   "mimalloc from Debian (libmimalloc2.0), via LD_PRELOAD",
                   "mimalloc reads MIMALLOC_* variables from the environment")
BASELINE_ALLOCATOR(tcmalloc, "libtcmalloc_minimal.so.4", HL_ALLOC_PRELOAD,
                   "tcmalloc from Debian gperftools (libtcmalloc-minimal4), via LD_PRELOAD",
                   "tcmalloc reads TCMALLOC_* variables from the environment")
/* heaplab's own arena allocator (alloc/arena) as a real malloc, the way a
   user would run it: build/lib/libhlarena.so by LD_PRELOAD (harness/preload.c
   finds libhl*.so in the build's lib/ folder). */
BASELINE_ALLOCATOR_NAMED(arena_preload, "arena-preload", "libhlarena.so", HL_ALLOC_PRELOAD,
                         "heaplab's arena allocator as libhlarena.so, via LD_PRELOAD",
                         "libhlarena.so reads the `arena` allocator's options from "
                         "HLARENA_OPTIONS in the environment")
