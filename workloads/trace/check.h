/* ----------------------------------------------------------------------------
  workloads/trace/check.h: THE trace validator (private to workloads/trace/;
  reach it through internal.h).

  The reader runs trace_check_event on every decoded event and the writer on
  every event before encoding it, so "what is a valid trace" is defined once
  (FORMAT.md, "Validity"). It judges decoded events: threads, objects,
  bounds, barriers. The byte-level rules (tags, varints, the END record)
  belong to the reader, and the writer cannot break them.

  State lives in arrays indexed by thread and by object id (ids are dense),
  so checking an event is a few loads. A message under construction
  (SEND_PART, format version 2) is a thread state, SENDING, so the common
  case (a running thread) still costs one compare, and its objects carry a
  mark in their `freed` word, so any use of one of them takes the slow path
  that explains why it is refused. The per-event function is inline so
  the decoder's hot loop has no call in it; the rare cases and all message
  formatting are out of line in check.c. A failed check leaves the state
  untouched: the writer refuses the event and stays usable.
---------------------------------------------------------------------------- */
#ifndef HL_TRACE_CHECK_H
#define HL_TRACE_CHECK_H

#include "workloads/trace/internal.h"

#include <inttypes.h>

/* Which field of an event the validator objects to, so the reader can point
   at its bytes. TRACE_FIELD_NONE (0) means the event is valid. */
typedef enum trace_field_e {
  TRACE_FIELD_NONE = 0,
  TRACE_FIELD_TAG,    /* op, kind, or a property of the event as a whole */
  TRACE_FIELD_THREAD, /* thread id (or its state) */
  TRACE_FIELD_OBJ,    /* object id; BARRIER: barrier number */
  TRACE_FIELD_SIZE,   /* size or length; BARRIER: participant count */
  TRACE_FIELD_ALIGN,
  TRACE_FIELD_OFFSET,
  TRACE_FIELD_TARGET, /* LINK target, SEND destination */
} trace_field_t;

typedef struct trace_obj_s {
  uint64_t size;  /* current size; kept after FREE (replay needs it for free) */
  uint64_t freed; /* 0 while live; else 1 + the event number of its FREE, or (live,
                     joined a message by SEND_PART) TRACE_OBJ_IN_MSG | thread << 40 | the
                     thread's message number: stale once that message is sent */
} trace_obj_t;

#define TRACE_OBJ_IN_MSG      (UINT64_C(1) << 63)
#define TRACE_OBJ_MSG_SHIFT   40
#define TRACE_OBJ_MSG_SEQMASK ((UINT64_C(1) << TRACE_OBJ_MSG_SHIFT) - 1)

typedef enum trace_thread_state_e {
  TRACE_THREAD_NEW = 0, /* before its THREAD_START */
  TRACE_THREAD_RUNNING,
  TRACE_THREAD_WAITING, /* arrived at a barrier that is not complete yet */
  TRACE_THREAD_ENDED,
  TRACE_THREAD_SENDING, /* building a message (SEND_PART); only SEND_PART or SEND may follow */
} trace_thread_state_t;

typedef struct trace_thread_s {
  uint8_t state;          /* trace_thread_state_t */
  uint32_t wait_next;     /* WAITING: next waiter of the same barrier, UINT32_MAX ends */
  uint64_t started_at;    /* event number of its THREAD_START */
  uint64_t ended_at;      /* ... of its THREAD_END */
  uint64_t arrived_at;    /* ... of its last barrier arrival */
  uint64_t waiting_for;   /* WAITING: the barrier number */
  uint32_t msg_target;    /* SENDING: the message's destination thread */
  uint32_t msg_parts;     /* SENDING: SEND_PART events in it so far */
  uint64_t msg_opened_at; /* SENDING: event number of its first SEND_PART */
  uint64_t msg_seq;       /* messages this thread sent (numbers the open one) */
} trace_thread_t;

/* A barrier some thread arrived at and that is not complete. There are at
   most threads/2 of them (each holds at least one waiting thread, and a
   barrier of count 1 completes at once). */
typedef struct trace_barrier_s {
  uint64_t number, count, arrived;
  uint64_t opened_at; /* event number of the first arrival */
  uint32_t first_waiter;
} trace_barrier_t;

typedef struct trace_check_s {
  uint32_t version; /* format version: SEND_PART needs 2 */
  uint32_t threads;
  trace_thread_t *thread; /* [threads] */
  trace_obj_t *obj;       /* [cap], ids 0..objects-1 in use */
  uint64_t objects, cap;
  trace_barrier_t *open; /* [threads] */
  uint32_t nopen;
  bool barrier_seen;        /* any barrier so far: barrier_max is meaningful */
  uint64_t barrier_max;     /* highest barrier number used so far */
  uint64_t events;          /* events accepted: the number of the next one */
  uint32_t open_messages;   /* threads in state SENDING */
  uint64_t live_bytes;      /* sum of the sizes of live objects (wraps only past 2^64...) */
  uint64_t peak_live_bytes; /* ...when this sticks at UINT64_MAX */
  uint64_t peak_event;      /* event number at which live_bytes reached its peak */
} trace_check_t;

/* 0 ok, -1 out of memory. threads is 1..HL_TRACE_MAX_THREADS; version is
   the format version (HL_TRACE_MIN_VERSION..HL_TRACE_VERSION). */
int trace_check_init(trace_check_t *c, uint32_t threads, uint32_t version);
void trace_check_free(trace_check_t *c);
/* What must hold when the trace ends (no barrier left incomplete, no
   message left open). */
trace_field_t trace_check_end(const trace_check_t *c, char *msg);

/* Allocated and not freed (in a message or not). */
static inline bool trace_check_obj_live(const trace_check_t *c, uint64_t obj) {
  return obj < c->objects && (c->obj[obj].freed == 0 || (c->obj[obj].freed & TRACE_OBJ_IN_MSG));
}

/* The out-of-line parts of trace_check_event (check.c): rare cases and
   everything that formats a message. */
__attribute__((cold, format(printf, 3, 4))) trace_field_t
trace_check_fail(char *msg, trace_field_t field, const char *fmt, ...);
__attribute__((cold)) trace_field_t trace_check_thread_bad(const trace_check_t *c,
                                                           const hl_event_t *ev, char *msg);
__attribute__((cold)) trace_field_t trace_check_obj_bad(const trace_check_t *c, uint64_t obj,
                                                        trace_field_t field, const char *what,
                                                        char *msg);
trace_field_t trace_check_barrier(trace_check_t *c, const hl_event_t *ev, char *msg);
bool trace_check_grow(trace_check_t *c); /* room for one more object; false: no memory */
/* An object whose `freed` word is not 0: in an open message (refused, with
   why), in one already sent (the mark is cleared: fine), or dead. */
__attribute__((cold)) trace_field_t trace_check_obj_marked(trace_check_t *c, uint64_t obj,
                                                           trace_field_t field, const char *what,
                                                           uint32_t thread, char *msg);
trace_field_t trace_check_send_part(trace_check_t *c, const hl_event_t *ev, char *msg);

/* May `thread` use `obj` now? Live, and not in a message still being built. */
static inline trace_field_t trace_check_use(trace_check_t *c, uint64_t obj, trace_field_t field,
                                            const char *what, uint32_t thread, char *msg) {
  if (__builtin_expect(obj < c->objects && c->obj[obj].freed == 0, 1)) return TRACE_FIELD_NONE;
  return trace_check_obj_marked(c, obj, field, what, thread, msg);
}

/* Live bytes grow by `size`; the peak follows (and sticks at UINT64_MAX if
   the sum ever overflows, which only a pathological trace reaches). */
static inline void trace_check_live_add(trace_check_t *c, uint64_t size) {
  if (__builtin_add_overflow(c->live_bytes, size, &c->live_bytes))
    c->peak_live_bytes = UINT64_MAX, c->peak_event = c->events;
  else if (c->live_bytes > c->peak_live_bytes)
    c->peak_live_bytes = c->live_bytes, c->peak_event = c->events;
}

/* Validate one event and, if valid, apply it. Returns TRACE_FIELD_NONE, or
   the offending field with msg (TRACE_MSG_LEN bytes) filled; the state is
   then unchanged. Inline because the decoder calls it for every event. */
static inline trace_field_t trace_check_event(trace_check_t *c, const hl_event_t *ev, char *msg) {
  trace_field_t f;
  const trace_obj_t *o;
  if ((unsigned)ev->op >= HL_OP_COUNT)
    return trace_check_fail(msg, TRACE_FIELD_TAG, "unknown op %u", (unsigned)ev->op);
  if (ev->thread >= c->threads)
    return trace_check_fail(msg, TRACE_FIELD_THREAD,
                            "thread %" PRIu32 " out of range (the trace has %" PRIu32 " threads)",
                            ev->thread, c->threads);
  /* One compare for the common case: a running thread doing anything but
     starting again. */
  if ((c->thread[ev->thread].state != TRACE_THREAD_RUNNING || ev->op == HL_OP_THREAD_START) &&
      (f = trace_check_thread_bad(c, ev, msg)))
    return f;
  switch (ev->op) {
    case HL_OP_ALLOC:
      if ((unsigned)ev->kind >= HL_KIND_COUNT)
        return trace_check_fail(msg, TRACE_FIELD_TAG, "unknown allocation kind %u",
                                (unsigned)ev->kind);
      if (ev->obj != c->objects)
        return trace_check_fail(msg, TRACE_FIELD_OBJ,
                                "alloc must create object %" PRIu64
                                " (ids are dense: the n-th alloc is object n), not %" PRIu64,
                                c->objects, ev->obj);
      if (ev->size > HL_TRACE_MAX_SIZE)
        return trace_check_fail(msg, TRACE_FIELD_SIZE,
                                "allocation of %" PRIu64 " bytes (the limit is 2^48)", ev->size);
      if (trace_kind_has_align(ev->kind) && (ev->align == 0 || (ev->align & (ev->align - 1)) ||
                                             ev->align > (UINT64_C(1) << TRACE_MAX_ALIGN_LG)))
        return trace_check_fail(msg, TRACE_FIELD_ALIGN,
                                "alignment %" PRIu64 " (must be a power of two, at most 2^%d)",
                                ev->align, TRACE_MAX_ALIGN_LG);
      if (c->objects == c->cap && !trace_check_grow(c))
        return trace_check_fail(msg, TRACE_FIELD_OBJ, "out of memory tracking %" PRIu64 " objects",
                                c->objects + 1);
      c->obj[c->objects++] = (trace_obj_t){ev->size, 0};
      trace_check_live_add(c, ev->size);
      break;
    case HL_OP_FREE:
      if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ, "free of", ev->thread, msg))) return f;
      c->obj[ev->obj].freed = c->events + 1;
      c->live_bytes -= c->obj[ev->obj].size;
      break;
    case HL_OP_REALLOC:
      if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ, "realloc of", ev->thread, msg)))
        return f;
      if (ev->size > HL_TRACE_MAX_SIZE)
        return trace_check_fail(msg, TRACE_FIELD_SIZE,
                                "realloc to %" PRIu64 " bytes (the limit is 2^48)", ev->size);
      c->live_bytes -= c->obj[ev->obj].size;
      c->obj[ev->obj].size = ev->size;
      trace_check_live_add(c, ev->size);
      break;
    case HL_OP_READ:
    case HL_OP_WRITE:
      if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ,
                               ev->op == HL_OP_READ ? "read of" : "write to", ev->thread, msg)))
        return f;
      o = &c->obj[ev->obj];
      if (ev->size > HL_TRACE_MAX_SIZE)
        return trace_check_fail(msg, TRACE_FIELD_SIZE,
                                "%s of %" PRIu64 " bytes (the limit is 2^48)", hl_op_name(ev->op),
                                ev->size);
      if (ev->offset > o->size || ev->size > o->size - ev->offset)
        return trace_check_fail(msg, ev->offset > o->size ? TRACE_FIELD_OFFSET : TRACE_FIELD_SIZE,
                                "%s of %" PRIu64 " bytes at offset %" PRIu64 " of object %" PRIu64
                                ", which has %" PRIu64 " bytes",
                                hl_op_name(ev->op), ev->size, ev->offset, ev->obj, o->size);
      break;
    case HL_OP_LINK:
      if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ, "link from", ev->thread, msg)))
        return f;
      o = &c->obj[ev->obj];
      if (o->size < 8 || ev->offset > o->size - 8)
        return trace_check_fail(msg, TRACE_FIELD_OFFSET,
                                "link field at offset %" PRIu64 " of object %" PRIu64
                                ", which has %" PRIu64 " bytes (a pointer field needs 8)",
                                ev->offset, ev->obj, o->size);
      if (ev->target != HL_TRACE_NO_OBJECT &&
          (f = trace_check_use(c, ev->target, TRACE_FIELD_TARGET, "link to", ev->thread, msg)))
        return f;
      break;
    case HL_OP_SEND:
      if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ, "send of", ev->thread, msg))) return f;
      if (ev->target >= c->threads)
        return trace_check_fail(msg, TRACE_FIELD_TARGET,
                                "send of object %" PRIu64 " to thread %" PRIu64
                                ", out of range (the trace has %" PRIu32 " threads)",
                                ev->obj, ev->target, c->threads);
      if (c->thread[ev->thread].state == TRACE_THREAD_SENDING) {
        /* the send closes the message; its parts' marks go stale with msg_seq */
        trace_thread_t *t = &c->thread[ev->thread];
        t->state = TRACE_THREAD_RUNNING;
        t->msg_parts = 0;
        t->msg_seq++;
        c->open_messages--;
      }
      break;
    case HL_OP_SEND_PART:
      if ((f = trace_check_send_part(c, ev, msg))) return f;
      break;
    case HL_OP_THREAD_START:
      c->thread[ev->thread].state = TRACE_THREAD_RUNNING;
      c->thread[ev->thread].started_at = c->events;
      break;
    case HL_OP_THREAD_END:
      c->thread[ev->thread].state = TRACE_THREAD_ENDED;
      c->thread[ev->thread].ended_at = c->events;
      break;
    default: /* HL_OP_BARRIER */
      if ((f = trace_check_barrier(c, ev, msg))) return f;
      break;
  }
  c->events++;
  return TRACE_FIELD_NONE;
}

#endif
