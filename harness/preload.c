/* ----------------------------------------------------------------------------
  harness/preload.c: re-executing under LD_PRELOAD (see preload.h).
  HEAPLAB_BASELINE_DIR (HL_BASELINE_DIR_ENV), when set, names a folder holding
  the baseline libraries under their sonames (a bench bundle's baselines/): the
  preload is then DIR/SONAME, which must exist, and baseline.c checks that malloc
  really came from that folder. Unset: the soname, found by ld.so as usual.

  Compiled a second time with -DHL_CAPTURE for the capture program
  (build/bin/hlreplay-sim), the libraries are its capture builds, which the
  simulator sees whole: heaplab's own from build/capture/lib/, the Debian
  baselines from build/capture/baselines/lib/ (`make capture-baselines`,
  sim/capture-baselines.sh), that folder then standing in for
  HEAPLAB_BASELINE_DIR, so baseline.c checks malloc came from it. A
  HEAPLAB_BASELINE_DIR the user set still wins (its libraries are then seen
  by placement only, and the row says so).
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

/* Where a build's own libraries and its baselines are, relative to bin/. */
#ifdef HL_CAPTURE
#define PRELOAD_OWN_DIR      "../capture/lib"
#define PRELOAD_BASELINE_DIR "../capture/baselines/lib"
#else
#define PRELOAD_OWN_DIR      "../lib"
#define PRELOAD_BASELINE_DIR NULL /* the system's, found by ld.so */
#endif

/* `rel` (relative to this command's bin/ folder) in buf; false if too long. */
static bool preload_beside_bin(const char *rel, const char *name, char *buf, size_t len) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return false;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return false;
  *slash = 0; /* the bin/ folder */
  int w = snprintf(buf, len, "%s/%s%s%s", exe, rel, *name ? "/" : "", name);
  return w > 0 && (size_t)w < len;
}

/* heaplab's own preload libraries (libhl*.so, e.g. the arena allocator's
   libhlarena.so) are not installed anywhere ld.so looks: they are found in
   the build's lib/ folder beside this command's bin/ (the capture program:
   build/capture/lib/). Other sonames are returned as they are. NULL when an
   own library is missing. */
static const char *preload_own_library(const char *soname, char *buf, size_t len) {
  if (strncmp(soname, "libhl", 5) != 0 || strchr(soname, '/')) return soname;
  if (!preload_beside_bin(PRELOAD_OWN_DIR, soname, buf, len)) return NULL;
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
  char own[4096], build_dir[4096];
  if ((!dir || !*dir) && PRELOAD_BASELINE_DIR && strncmp(a->preload_soname, "libhl", 5) != 0) {
    if (!preload_beside_bin(PRELOAD_BASELINE_DIR, "", build_dir, sizeof build_dir) ||
        setenv(HL_BASELINE_DIR_ENV, build_dir, 1) != 0) {
      snprintf(why, why_len, "%s: cannot name the capture builds' folder", a->name);
      return -1;
    }
    char lib_path[4200];
    snprintf(lib_path, sizeof lib_path, "%s/%s", build_dir, a->preload_soname);
    if (access(lib_path, R_OK) != 0) {
      snprintf(why, why_len,
               "%s: the capture build %s is missing (%s): `make capture-baselines` builds it "
               "from Debian's source package",
               a->name, lib_path, strerror(errno));
      return -1;
    }
    dir = build_dir;
  }
  const char *own_lib = preload_own_library(a->preload_soname, own, sizeof own);
  char *lib = NULL;
  if (!own_lib) {
    snprintf(why, why_len, "%s: %s is not built (looked in %s beside bin/)", a->name,
             a->preload_soname, PRELOAD_OWN_DIR);
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
