/* ----------------------------------------------------------------------------
  harness/replay.h: one trace through one allocator, natively (or, in
  build/bin/hlreplay-sim, into the simulator: sim/capture.h).

  Loading turns the trace into one program per traced thread. Cross-thread
  order is kept the way glibc's trace_run keeps it, but computed once at load
  time: when an object passes from one thread to another (freed, sent,
  realloc'd, linked to elsewhere), the last event of the giving thread on it
  *publishes* (bumps the object's epoch) and the first event of the taking
  thread *awaits* that epoch. Events that stay on one thread pay nothing.
  Because the trace is a legal serialization, these waits cannot deadlock.

  A message of several objects (SEND_PART ... SEND, trace format version 2)
  is gathered by the sending thread and handed over at its closing SEND, in
  one allocator call (send_set) when the allocator has one. A remote free
  (of an object another thread owns, for owned allocators) is either a
  hand-over followed by a free (--remote-free send) or a free request posted
  to the owner (--remote-free request, the allocator's free_post).

  Memory for the loaded trace and the object table comes from mmap, not
  malloc, so the allocator being measured sees only the trace's requests.
---------------------------------------------------------------------------- */
#ifndef HL_REPLAY_H
#define HL_REPLAY_H

#include "alloc/alloc.h"
#include "harness/metrics.h"
#include "workloads/trace.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum hl_replay_mode_e {
  HL_REPLAY_THREADS, /* one OS thread per traced thread (default) */
  HL_REPLAY_SERIAL,  /* every logical thread on this OS thread, in trace order */
  HL_REPLAY_TURNS,   /* one OS thread per traced thread, one at a time in trace order: a
                        baton passes to the thread of the next event (deterministic; --sim) */
} hl_replay_mode_t;

/* "threads-as-traced", "serial", "threads-in-turn": the mode column's value. */
const char *hl_replay_mode_name(hl_replay_mode_t mode);

/* What touches object memory. */
typedef enum hl_access_model_e {
  HL_ACCESS_AUTO,   /* traced if the trace has read/write events, else touch */
  HL_ACCESS_TRACED, /* only the trace's read/write events touch memory */
  HL_ACCESS_TOUCH,  /* write each object whole when allocated (and the new part after
                       realloc), read it whole before it is freed; plus traced events */
  HL_ACCESS_NONE,   /* nothing touches object memory */
} hl_access_model_t;

const char *hl_access_model_name(hl_access_model_t model);
const char *hl_access_model_description(hl_access_model_t model);
/* HL_ACCESS_AUTO when `name` is unknown and not "auto": check with strcmp first. */
bool hl_access_model_parse(const char *name, hl_access_model_t *out);

/* How a thread frees an object another thread owns (HL_ALLOC_OWNED
   allocators; for the others a remote free is a plain free: "direct"). */
typedef enum hl_remote_free_e {
  HL_REMOTE_FREE_SEND,    /* the owner sends it to the freeing thread, which frees it */
  HL_REMOTE_FREE_REQUEST, /* the freeing thread posts a free request (free_post) */
} hl_remote_free_t;

/* "send", "request": --remote-free's values. */
const char *hl_remote_free_name(hl_remote_free_t how);
/* false when `name` is neither. */
bool hl_remote_free_parse(const char *name, hl_remote_free_t *out);

typedef struct hl_replay_options_s {
  const hl_allocator_t *allocator;
  hl_heap_config_t heap;
  hl_replay_mode_t mode;
  hl_access_model_t access;
  bool verify;    /* check distinct, aligned, contents preserved; fail on the first violation */
  bool progress;  /* print progress to stderr on long runs */
  uint32_t cores; /* 0: logical thread t runs as core t (native); else core t mod cores
                     (--sim: the simulated cores) */
  hl_remote_free_t remote_free; /* owned allocators: how remote frees are replayed */
} hl_replay_options_t;

typedef struct hl_replay_trace_s hl_replay_trace_t;

/* hl_replay_load flags. HL_REPLAY_OWNERSHIP: make every hand-over of an
   object between threads an explicit SEND from its owner (replay_load.c),
   as allocators with HL_ALLOC_OWNED require. hl_replay_load_flags gives the
   flags an allocator needs. */
enum {
  HL_REPLAY_OWNERSHIP = 1,
  /* with OWNERSHIP: a FREE of an object another thread owns becomes a free
     request to the owner (free_post), with no hand-over send */
  HL_REPLAY_FREE_REQUEST = 2,
};
unsigned hl_replay_load_flags(const hl_allocator_t *alloc);
/* The flags a run with these options needs (the allocator's, and the
   remote-free mode's). */
unsigned hl_replay_options_load_flags(const hl_replay_options_t *opt);
/* Can these options run at all? 0, or -1 with `why` filled (say, request
   mode for an owned allocator without free_post). */
int hl_replay_options_check(const hl_replay_options_t *opt, char *why, size_t why_len);

/* Load and validate a binary trace. NULL on error with *err filled. */
hl_replay_trace_t *hl_replay_load(const char *path, unsigned flags, hl_trace_error_t *err);
void hl_replay_unload(hl_replay_trace_t *t);
uint32_t hl_replay_threads(const hl_replay_trace_t *t);
uint64_t hl_replay_events(const hl_replay_trace_t *t);
bool hl_replay_has_accesses(const hl_replay_trace_t *t);       /* any READ/WRITE events */
uint64_t hl_replay_handover_sends(const hl_replay_trace_t *t); /* inserted by HL_REPLAY_OWNERSHIP */
uint64_t
hl_replay_free_requests(const hl_replay_trace_t *t);        /* FREEs HL_REPLAY_FREE_REQUEST posts */
uint32_t hl_replay_max_message(const hl_replay_trace_t *t); /* objects in the largest message */
/* The most bytes the trace holds live at once (sizes as traced), and the
   event number where it first does. */
uint64_t hl_replay_peak_live_bytes(const hl_replay_trace_t *t, uint64_t *at_event);

/* Replay once. Fills the run's columns of `row` (timing, counters, allocator
   stats, access model, mode). Returns 0, or -1 with `why` filled. */
int hl_replay_run(hl_replay_trace_t *t, const hl_replay_options_t *opt, hl_metrics_t *row,
                  char *why, size_t why_len);

#endif
