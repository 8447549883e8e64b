/* ----------------------------------------------------------------------------
  harness/replay_internal.h: the loaded form of a trace, shared by the loader
  (replay_load.c) and the executor (replay.c). Not for other modules.
---------------------------------------------------------------------------- */
#ifndef HL_REPLAY_INTERNAL_H
#define HL_REPLAY_INTERNAL_H

#include "harness/replay.h"
#include <stddef.h>
#include <stdint.h>

/* sync bits of a replay event (see replay.h for the scheme) */
enum {
  REPLAY_AWAIT = 1,        /* wait until obj's epoch reaches `wait` */
  REPLAY_PUBLISH = 2,      /* bump obj's epoch when done */
  REPLAY_AWAIT_TARGET = 4, /* LINK: the same for the target object */
  REPLAY_PUBLISH_TARGET = 8,
  REPLAY_AWAIT_REQUESTS = 16, /* THREAD_END: wait until `wait` free requests were posted to
                                 this thread, so its thread_done serves them */
};

/* flags of a replay event */
enum {
  REPLAY_FLAG_HANDOVER = 1, /* SEND the loader inserted: a message of its own, never closes one */
  REPLAY_FLAG_POSTED = 2,   /* FREE posted to the owner (free_post); b = the owner thread */
};

#define REPLAY_NO_TARGET UINT32_MAX

/* One event of one thread's program: 32 bytes, decoded once at load. */
typedef struct replay_event_s {
  uint8_t op;           /* hl_op_t */
  uint8_t kind;         /* ALLOC: hl_alloc_kind_t */
  uint8_t sync;         /* REPLAY_* bits */
  uint8_t flags;        /* REPLAY_FLAG_* bits */
  uint32_t obj;         /* object index; BARRIER: dense barrier index */
  uint32_t wait;        /* REPLAY_AWAIT: obj epoch to wait for */
  uint32_t wait_target; /* REPLAY_AWAIT_TARGET: target epoch to wait for */
  uint64_t a; /* ALLOC/REALLOC: size; READ/WRITE: offset; LINK: field; SEND, SEND_PART: thread;
                 BARRIER: count */
  uint64_t b; /* ALLOC: alignment; READ/WRITE: length; LINK: target index or REPLAY_NO_TARGET;
                 FREE with REPLAY_FLAG_POSTED: the owner */
} replay_event_t;

/* A growable array in mmap'ed memory (never malloc: see replay.h). */
typedef struct replay_vec_s {
  void *data;
  size_t len, cap; /* in elements */
} replay_vec_t;

int replay_vec_reserve(replay_vec_t *v, size_t elem_size, size_t want);
void replay_vec_free(replay_vec_t *v, size_t elem_size);
void *replay_map(size_t bytes); /* zeroed, NULL on failure */
void replay_unmap(void *p, size_t bytes);

struct hl_replay_trace_s {
  char path[256];
  uint32_t threads;
  uint64_t events;
  uint32_t objects;
  uint32_t barriers;
  bool has_accesses;
  bool ownership;          /* loaded with HL_REPLAY_OWNERSHIP */
  uint64_t handover_sends; /* SEND events the loader inserted (ownership mode) */
  bool free_request;       /* loaded with HL_REPLAY_FREE_REQUEST */
  uint64_t posted_frees;   /* FREE events marked REPLAY_FLAG_POSTED */
  uint32_t max_parts;      /* most SEND_PART events in one message (its SEND adds one) */
  uint64_t peak_live;      /* most bytes live at once, as traced (hl_trace_peak_live_bytes) */
  uint64_t peak_event;     /* the event number where that peak was reached */
  uint32_t *final_owner;   /* [objects] owner at the end of the trace (ownership mode) */
  replay_vec_t *programs;  /* [threads] of replay_event_t */
  replay_vec_t order;      /* uint16_t thread of each event in trace order (serial mode) */
};

#endif
