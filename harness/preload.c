/* ----------------------------------------------------------------------------
  harness/preload.c: re-executing under LD_PRELOAD (see preload.h).
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
  const char *old = getenv("LD_PRELOAD");
  char *preload = NULL;
  if (asprintf(&preload, "%s%s%s", a->preload_soname, old && *old ? ":" : "", old ? old : "") < 0 ||
      setenv("LD_PRELOAD", preload, 1) != 0 || setenv(HL_PRELOAD_MARKER, a->name, 1) != 0) {
    snprintf(why, why_len, "cannot set LD_PRELOAD: %s", strerror(errno));
    free(preload);
    return -1;
  }
  free(preload);
  fflush(NULL);
  execv("/proc/self/exe", argv);
  snprintf(why, why_len, "re-executing /proc/self/exe with LD_PRELOAD=%s failed: %s",
           a->preload_soname, strerror(errno));
  return -1;
}
