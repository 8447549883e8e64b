/* ----------------------------------------------------------------------------
  alloc/ravioli/ravioli16.c: `ravioli16`, the ravioli allocator with 16-word
  (128-byte) ravioli: the same sources as `ravioli` built once more with
  RV_RAVIOLO_WORDS = 16 (rv_names.h gives their shared names the size), so the
  raviolo size is a dimension of the bench matrix like any allocator.
---------------------------------------------------------------------------- */
#undef RV_RAVIOLO_WORDS
#define RV_RAVIOLO_WORDS 16
#include "alloc/ravioli/ravioli.c"
#include "alloc/ravioli/rv_serial.c"
