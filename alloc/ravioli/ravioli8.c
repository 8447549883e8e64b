/* ----------------------------------------------------------------------------
  alloc/ravioli/ravioli8.c: `ravioli8`, the ravioli allocator with 8-word
  (64-byte) ravioli: the same sources as `ravioli` built once more with
  RV_RAVIOLO_WORDS = 8 (rv_names.h gives their shared names the size), so the
  raviolo size is a dimension of the bench matrix like any allocator.
---------------------------------------------------------------------------- */
#undef RV_RAVIOLO_WORDS
#define RV_RAVIOLO_WORDS 8
#include "alloc/ravioli/ravioli.c"
#include "alloc/ravioli/rv_serial.c"
