/* ----------------------------------------------------------------------------
  workloads/gen/thrash.h: cache-thrash's round (malloc one small object, write
  it whole R times, free it), shared with cache-scratch, whose threads run
  the same rounds after the hand-out.
---------------------------------------------------------------------------- */
#ifndef HL_GEN_THRASH_H
#define HL_GEN_THRASH_H

#include "workloads/gen/gen_util.h"

/* One thread's progress through its rounds. Zero-initialised: before round 0. */
typedef struct gen_thrash_s {
  uint64_t iteration;
  uint64_t j;   /* 0: malloc next; 1..R: write number j next; R+1: free next */
  uint64_t obj; /* the round's object */
} gen_thrash_t;

/* One step of thread t's rounds: GEN_STEP_RAN, or GEN_STEP_DONE after the last. */
gen_step_t gen_thrash_step(gen_emit_t *e, uint32_t t, gen_thrash_t *th, uint64_t iterations,
                           uint64_t repetitions, uint64_t size);

#endif
