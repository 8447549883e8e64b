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
  char *lib = NULL;
  if (dir && *dir) {
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
