/* ----------------------------------------------------------------------------
  alloc/ravioli/ravioli8.c: `ravioli8`, the ravioli allocator with 8-word
  (64-byte) ravioli: the same sources as `ravioli` built once more with
  RV_RAVIOLO_WORDS = 8 as one translation unit (rv_names.h), so the
  raviolo size is a dimension of the bench matrix like any allocator.
---------------------------------------------------------------------------- */
#undef RV_RAVIOLO_WORDS
#define RV_RAVIOLO_WORDS 8
#define RV_UNITY         1
#include "alloc/ravioli/rv_page.c"
#include "alloc/ravioli/rv_heap.c"
#include "alloc/ravioli/rv_tree.c"
#include "alloc/ravioli/rv_link.c"
#include "alloc/ravioli/rv_msg.c"
#include "alloc/ravioli/rv_check.c"
#include "alloc/ravioli/rv_alloc.c"
#include "alloc/ravioli/rv_serial.c"
