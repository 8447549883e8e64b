/* ----------------------------------------------------------------------------
  alloc/hooks.c: the interface's one global, the dead-memory hook that a
  simulated replay sets (alloc.h, hl_alloc_dead). Its own file so that an
  allocator built on its own (tests/test_ravioli.sh's 64-byte build) links
  without the registry and every other allocator.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"

void (*hl_alloc_dead_hook)(const void *p, size_t len);
