/* ----------------------------------------------------------------------------
  harness/preload.c: re-executing under LD_PRELOAD (see preload.h).
  HEAPLAB_BASELINE_DIR (HL_BASELINE_DIR_ENV), when set, names a folder holding
  the baseline libraries under their sonames (a bench bundle's baselines/): the
  preload is then DIR/SONAME, which must exist, and baseline.c checks that malloc
  really came from that folder. Unset: the soname, found by ld.so as usual.
---------------------------------------------------------------------------- */
#include "harness/preload.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PRELOAD_SANITIZED 1
#else
#define PRELOAD_SANITIZED 0
#endif

/* heaplab's own preload libraries (libhl*.so, e.g. the arena allocator's
   libhlarena.so) are not installed anywhere ld.so looks: they are found in
   the build's lib/ folder beside this command's bin/. Other sonames are
   returned as they are. NULL when an own library is missing. */
static const char *preload_own_library(const char *soname, char *buf, size_t len) {
  if (strncmp(soname, "libhl", 5) != 0 || strchr(soname, '/')) return soname;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = 0; /* the bin/ folder */
  if (snprintf(buf, len, "%s/../lib/%s", exe, soname) >= (int)len) return NULL;
  return access(buf, R_OK) == 0 ? buf : NULL;
}

int hl_preload_ensure(const hl_allocator_t *a, char *const argv[], char *why, size_t why_len) {
  if (!(a->flags & HL_ALLOC_PRELOAD)) return 0;
  const char *marker = getenv(HL_PRELOAD_MARKER);
  if (marker && strcmp(marker, a->name) == 0) return 0; /* we are the re-executed process */
  if (PRELOAD_SANITIZED) {
    snprintf(why, why_len,
             "%s must be LD_PRELOADed, which cannot work in a sanitizer build (the sanitizer "
             "owns malloc); use the normal build (build/bin)",
             a->name);
    return -1;
  }
  const char *dir = getenv(HL_BASELINE_DIR_ENV);
  char own[4096];
  const char *own_lib = preload_own_library(a->preload_soname, own, sizeof own);
  char *lib = NULL;
  if (!own_lib) {
    snprintf(why, why_len, "%s: %s is not built (looked in the lib/ folder beside bin/)", a->name,
             a->preload_soname);
    return -1;
  } else if (own_lib != a->preload_soname) { /* heaplab's own library */
    lib = strdup(own_lib);
  } else if (dir && *dir) {
    if (asprintf(&lib, "%s/%s", dir, a->preload_soname) < 0) lib = NULL;
    if (lib && access(lib, R_OK) != 0) {
      snprintf(why, why_len, "%s=%s but %s cannot be read: %s", HL_BASELINE_DIR_ENV, dir, lib,
               strerror(errno));
      free(lib);
      return -1;
    }
  } else {
    lib = strdup(a->preload_soname);
  }
  const char *old = getenv("LD_PRELOAD");
  char *preload = NULL;
  if (!lib || asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "") < 0 ||
      setenv("LD_PRELOAD", preload, 1) != 0 || setenv(HL_PRELOAD_MARKER, a->name, 1) != 0) {
    snprintf(why, why_len, "cannot set LD_PRELOAD: %s", strerror(errno));
    free(preload);
    free(lib);
    return -1;
  }
  free(preload);
  fflush(NULL);
  execv("/proc/self/exe", argv);
  snprintf(why, why_len, "re-executing /proc/self/exe with LD_PRELOAD=%s failed: %s", lib,
           strerror(errno));
  free(lib);
  return -1;
}
