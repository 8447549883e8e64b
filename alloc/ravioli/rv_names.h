/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_names.h: one build of the ravioli sources per raviolo
  size. The rv_*.c files, each compiled on its own, build the 4-word
  allocator (`ravioli`); ravioli8.c and ravioli16.c include them all once
  more with 8 and 16 words (`ravioli8`, `ravioli16`), where the names the
  files share inside are static (RV_SHARED, rv_internal.h). So that the three
  link side by side, the public names below carry the word count in the
  other builds (rv_pack8, hl_alloc_ravioli16, ...); a name missing here
  shows as a duplicate symbol at link time.
---------------------------------------------------------------------------- */
#ifndef HL_RV_NAMES_H
#define HL_RV_NAMES_H

#if RV_RAVIOLO_WORDS == 4
#define RV_CELL_BYTES "32"
#elif RV_RAVIOLO_WORDS == 8
#define RV_CELL_BYTES "64"
#elif RV_RAVIOLO_WORDS == 16
#define RV_CELL_BYTES "128"
#endif

#if RV_RAVIOLO_WORDS == 4
#define RV_ALLOC_NAME "ravioli"
#else
#define RV_NAMED_(name, words) name##words
#define RV_NAMED(name, words)  RV_NAMED_(name, words)
#define RV_STR_(x)             #x
#define RV_STR(x)              RV_STR_(x)
#define RV_ALLOC_NAME          "ravioli" RV_STR(RV_RAVIOLO_WORDS)
#define hl_alloc_ravioli       RV_NAMED(hl_alloc_ravioli, RV_RAVIOLO_WORDS)
#define rv_pack                RV_NAMED(rv_pack, RV_RAVIOLO_WORDS)
#define rv_unpack              RV_NAMED(rv_unpack, RV_RAVIOLO_WORDS)
#define rv_msg_discard         RV_NAMED(rv_msg_discard, RV_RAVIOLO_WORDS)
#define rv_msg_cells           RV_NAMED(rv_msg_cells, RV_RAVIOLO_WORDS)
#define rv_serialize           RV_NAMED(rv_serialize, RV_RAVIOLO_WORDS)
#define rv_deserialize         RV_NAMED(rv_deserialize, RV_RAVIOLO_WORDS)
#define rv_object_of           RV_NAMED(rv_object_of, RV_RAVIOLO_WORDS)
#define rv_thread_is_valid     RV_NAMED(rv_thread_is_valid, RV_RAVIOLO_WORDS)
#define rv_heap_is_valid       RV_NAMED(rv_heap_is_valid, RV_RAVIOLO_WORDS)
#endif

#endif
