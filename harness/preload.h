/* ----------------------------------------------------------------------------
  harness/preload.h: running under a baseline malloc library the way users
  do, by LD_PRELOAD: the process re-executes itself with the library
  preloaded (as mimalloc-bench does). The allocator's identify() then proves
  the preload really took effect.
---------------------------------------------------------------------------- */
#ifndef HL_PRELOAD_H
#define HL_PRELOAD_H

#include "alloc/alloc.h"
#include <stddef.h>

/* Environment variable naming the allocator this process was re-executed for. */
#define HL_PRELOAD_MARKER "HEAPLAB_PRELOADED"
/* Environment variable naming a folder of baseline libraries to preload instead
   of the system's (see preload.c); alloc/baseline/baseline.c reads it too. */
#define HL_BASELINE_DIR_ENV "HEAPLAB_BASELINE_DIR"

/* Returns 0 when this process already runs with what `a` needs; otherwise
   re-executes argv with LD_PRELOAD set and does not return, or returns -1
   with `why` filled when that is impossible. */
int hl_preload_ensure(const hl_allocator_t *a, char *const argv[], char *why, size_t why_len);

#endif
