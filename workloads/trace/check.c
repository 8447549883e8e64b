/* ----------------------------------------------------------------------------
  workloads/trace/check.c: the out-of-line half of the trace validator
  (check.h has the per-event fast path): setup, object array growth,
  thread-state, barrier and message rules, the end-of-trace rule, and every
  error message.
---------------------------------------------------------------------------- */
#include "workloads/trace/internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_MIN_OBJECTS 1024
/* Object state is 16 bytes per id; refuse (as an error, not an abort) to
   track more ids than a 64-bit address space could hold anyway. */
#define CHECK_MAX_OBJECTS (UINT64_C(1) << 40)

#define FAIL(field, ...) return trace_check_fail(msg, (field), __VA_ARGS__)

trace_field_t trace_check_fail(char *msg, trace_field_t field, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, TRACE_MSG_LEN, fmt, ap);
  va_end(ap);
  return field;
}

/* The invariants the fast paths rely on; checked at init and at the end of
   a trace (cheap: the loop is over open barriers only). */
static bool check_state_is_valid(const trace_check_t *c) {
  if (c->threads == 0 || c->threads > HL_TRACE_MAX_THREADS) return false;
  if (!c->thread || !c->open || c->nopen > c->threads) return false;
  if (c->objects > c->cap || (c->cap && !c->obj)) return false;
  for (uint32_t i = 0; i < c->nopen; i++)
    if (c->open[i].arrived == 0 || c->open[i].arrived >= c->open[i].count) return false;
  if (c->open_messages > c->threads || (c->open_messages && c->version < 2)) return false;
  return true;
}

int trace_check_init(trace_check_t *c, uint32_t threads, uint32_t version) {
  memset(c, 0, sizeof *c);
  if (threads == 0 || threads > HL_TRACE_MAX_THREADS) return -1;
  if (version < HL_TRACE_MIN_VERSION || version > HL_TRACE_VERSION) return -1;
  c->version = version;
  c->threads = threads;
  c->thread = calloc(threads, sizeof *c->thread);
  c->open = calloc(threads, sizeof *c->open);
  if (!c->thread || !c->open) {
    trace_check_free(c);
    return -1;
  }
  return check_state_is_valid(c) ? 0 : -1;
}

void trace_check_free(trace_check_t *c) {
  free(c->thread);
  free(c->open);
  trace_map_free(c->obj, (size_t)c->cap * sizeof *c->obj);
  memset(c, 0, sizeof *c);
}

/* Make room for one more object id (geometric growth). False when out of
   memory, or beyond any sane count: an error, never an abort. */
bool trace_check_grow(trace_check_t *c) {
  if (c->objects < c->cap) return true;
  uint64_t cap = c->cap ? c->cap * 2 : CHECK_MIN_OBJECTS;
  if (cap > CHECK_MAX_OBJECTS || cap > SIZE_MAX / sizeof *c->obj) return false;
  trace_obj_t *bigger =
      trace_map_grow(c->obj, (size_t)c->cap * sizeof *c->obj, (size_t)cap * sizeof *c->obj);
  if (!bigger) return false;
  c->obj = bigger;
  c->cap = cap;
  return true;
}

/* `what` the object: "free of", "read of"... The common case (a live
   object) is tested inline by trace_check_use; this says what is wrong. */
trace_field_t trace_check_obj_bad(const trace_check_t *c, uint64_t obj, trace_field_t field,
                                  const char *what, char *msg) {
  if (obj >= c->objects)
    FAIL(field, "%s object %" PRIu64 " which was never allocated (%" PRIu64 " objects so far)",
         what, obj, c->objects);
  FAIL(field, "%s object %" PRIu64 " which was already freed at event %" PRIu64, what, obj,
       c->obj[obj].freed - 1);
}

/* Is `obj` in the message `thread` is building now? (mark of trace_check_send_part) */
static bool check_in_open_message(const trace_check_t *c, uint64_t mark, uint32_t *thread) {
  if (!(mark & TRACE_OBJ_IN_MSG)) return false;
  uint32_t t = (uint32_t)((mark & ~TRACE_OBJ_IN_MSG) >> TRACE_OBJ_MSG_SHIFT);
  *thread = t;
  return t < c->threads && c->thread[t].state == TRACE_THREAD_SENDING &&
         (c->thread[t].msg_seq & TRACE_OBJ_MSG_SEQMASK) == (mark & TRACE_OBJ_MSG_SEQMASK);
}

trace_field_t trace_check_obj_marked(trace_check_t *c, uint64_t obj, trace_field_t field,
                                     const char *what, uint32_t thread, char *msg) {
  if (obj >= c->objects) return trace_check_obj_bad(c, obj, field, what, msg);
  uint64_t mark = c->obj[obj].freed;
  uint32_t owner;
  if (check_in_open_message(c, mark, &owner)) {
    const trace_thread_t *t = &c->thread[owner];
    if (owner == thread)
      FAIL(field,
           "%s object %" PRIu64 ", which is already in the message thread %" PRIu32
           " is building for thread %" PRIu32 " (opened at event %" PRIu64
           "): an object joins a message once",
           what, obj, owner, t->msg_target, t->msg_opened_at);
    FAIL(field,
         "%s object %" PRIu64 ", which is in the message thread %" PRIu32
         " is building for thread %" PRIu32 " (opened at event %" PRIu64
         "): no event may use it until the send that closes that message",
         what, obj, owner, t->msg_target, t->msg_opened_at);
  }
  if (mark & TRACE_OBJ_IN_MSG) { /* its message was sent: live as any other */
    c->obj[obj].freed = 0;
    return TRACE_FIELD_NONE;
  }
  return trace_check_obj_bad(c, obj, field, what, msg);
}

/* SEND_PART: obj joins the message its thread builds for ev->target. */
trace_field_t trace_check_send_part(trace_check_t *c, const hl_event_t *ev, char *msg) {
  trace_field_t f;
  if (c->version < 2)
    FAIL(TRACE_FIELD_TAG,
         "sendpart in a version %" PRIu32 " trace (sendpart needs format version 2)", c->version);
  if ((f = trace_check_use(c, ev->obj, TRACE_FIELD_OBJ, "sendpart of", ev->thread, msg))) return f;
  if (ev->target >= c->threads)
    FAIL(TRACE_FIELD_TARGET,
         "sendpart of object %" PRIu64 " to thread %" PRIu64
         ", out of range (the trace has %" PRIu32 " threads)",
         ev->obj, ev->target, c->threads);
  /* trace_check_thread_bad already refused a different target */
  trace_thread_t *t = &c->thread[ev->thread];
  if (t->state != TRACE_THREAD_SENDING) {
    t->state = TRACE_THREAD_SENDING;
    t->msg_target = (uint32_t)ev->target;
    t->msg_parts = 0;
    t->msg_opened_at = c->events;
    c->open_messages++;
  }
  t->msg_parts++;
  c->obj[ev->obj].freed = TRACE_OBJ_IN_MSG | (uint64_t)ev->thread << TRACE_OBJ_MSG_SHIFT |
                          (t->msg_seq & TRACE_OBJ_MSG_SEQMASK);
  return TRACE_FIELD_NONE;
}

/* The thread is not simply running, or the event is a start. */
trace_field_t trace_check_thread_bad(const trace_check_t *c, const hl_event_t *ev, char *msg) {
  const trace_thread_t *t = &c->thread[ev->thread];
  if (t->state == TRACE_THREAD_SENDING) {
    bool sends = ev->op == HL_OP_SEND || ev->op == HL_OP_SEND_PART;
    if (sends && ev->target == t->msg_target) return TRACE_FIELD_NONE;
    if (sends)
      FAIL(TRACE_FIELD_TARGET,
           "%s of object %" PRIu64 " to thread %" PRIu64 " by thread %" PRIu32
           ", which is building a message for thread %" PRIu32 " (opened at event %" PRIu64
           "): a message has one destination",
           hl_op_name(ev->op), ev->obj, ev->target, ev->thread, t->msg_target, t->msg_opened_at);
    FAIL(ev->op == HL_OP_THREAD_START ? TRACE_FIELD_THREAD : TRACE_FIELD_TAG,
         "%s by thread %" PRIu32 " while it builds a message for thread %" PRIu32 " (%" PRIu32
         " sendpart since event %" PRIu64
         "): only more sendpart or the send that closes the message may follow",
         hl_op_name(ev->op), ev->thread, t->msg_target, t->msg_parts, t->msg_opened_at);
  }
  if (ev->op == HL_OP_THREAD_START) {
    if (t->state == TRACE_THREAD_NEW) return TRACE_FIELD_NONE;
    if (t->state == TRACE_THREAD_ENDED)
      FAIL(TRACE_FIELD_THREAD, "start of thread %" PRIu32 " after its end at event %" PRIu64,
           ev->thread, t->ended_at);
    FAIL(TRACE_FIELD_THREAD, "thread %" PRIu32 " started twice (first start at event %" PRIu64 ")",
         ev->thread, t->started_at);
  }
  switch (t->state) {
    case TRACE_THREAD_RUNNING:
      return TRACE_FIELD_NONE;
    case TRACE_THREAD_NEW:
      FAIL(TRACE_FIELD_THREAD, "%s by thread %" PRIu32 " before its start (a start event expected)",
           hl_op_name(ev->op), ev->thread);
    case TRACE_THREAD_ENDED:
      FAIL(TRACE_FIELD_THREAD, "%s by thread %" PRIu32 " after its end at event %" PRIu64,
           hl_op_name(ev->op), ev->thread, t->ended_at);
    default:
      FAIL(TRACE_FIELD_THREAD,
           "%s by thread %" PRIu32 " while it waits at barrier %" PRIu64
           " (arrived at event %" PRIu64 "; it may act again only when the barrier is complete)",
           hl_op_name(ev->op), ev->thread, t->waiting_for, t->arrived_at);
  }
}

static trace_barrier_t *check_barrier_find(trace_check_t *c, uint64_t number) {
  for (uint32_t i = 0; i < c->nopen; i++)
    if (c->open[i].number == number) return &c->open[i];
  return NULL;
}

trace_field_t trace_check_barrier(trace_check_t *c, const hl_event_t *ev, char *msg) {
  uint64_t number = ev->obj, count = ev->size;
  if (count == 0 || count > c->threads)
    FAIL(TRACE_FIELD_SIZE,
         "barrier %" PRIu64 " with %" PRIu64 " participants (must be 1..%" PRIu32
         ", the trace's threads)",
         number, count, c->threads);
  trace_barrier_t *b = check_barrier_find(c, number);
  if (b && b->count != count)
    FAIL(TRACE_FIELD_SIZE,
         "barrier %" PRIu64 " with %" PRIu64 " participants, but its first arrival (event %" PRIu64
         ") said %" PRIu64,
         number, count, b->opened_at, b->count);
  if (!b && c->barrier_seen && number <= c->barrier_max)
    FAIL(TRACE_FIELD_OBJ,
         "barrier %" PRIu64 " is not open and not above the highest barrier number so far (%" PRIu64
         "): a new barrier needs a higher number, and a completed one cannot be reused",
         number, c->barrier_max);
  /* Valid: apply. */
  trace_thread_t *t = &c->thread[ev->thread];
  if (!b) {
    c->barrier_seen = true;
    c->barrier_max = number;
    if (count == 1) return TRACE_FIELD_NONE; /* complete at once; nobody waits */
    b = &c->open[c->nopen++];
    *b = (trace_barrier_t){number, count, 0, c->events, UINT32_MAX};
  }
  if (++b->arrived < count) {
    t->state = TRACE_THREAD_WAITING;
    t->arrived_at = c->events;
    t->waiting_for = number;
    t->wait_next = b->first_waiter;
    b->first_waiter = ev->thread;
    return TRACE_FIELD_NONE;
  }
  /* The last arrival: release every waiter and close the barrier. */
  t->arrived_at = c->events;
  for (uint32_t w = b->first_waiter; w != UINT32_MAX; w = c->thread[w].wait_next)
    c->thread[w].state = TRACE_THREAD_RUNNING;
  *b = c->open[--c->nopen];
  return TRACE_FIELD_NONE;
}

trace_field_t trace_check_end(const trace_check_t *c, char *msg) {
  if (!check_state_is_valid(c)) FAIL(TRACE_FIELD_TAG, "internal error: validator state corrupt");
  if (c->nopen) {
    const trace_barrier_t *b = &c->open[0];
    FAIL(TRACE_FIELD_TAG,
         "barrier %" PRIu64 " is incomplete at the end of the trace: %" PRIu64 " of %" PRIu64
         " threads arrived (first at event %" PRIu64 ")",
         b->number, b->arrived, b->count, b->opened_at);
  }
  for (uint32_t i = 0; c->open_messages && i < c->threads; i++)
    if (c->thread[i].state == TRACE_THREAD_SENDING)
      FAIL(TRACE_FIELD_TAG,
           "thread %" PRIu32 " left its message for thread %" PRIu32 " open at the end of the trace"
           " (%" PRIu32 " sendpart since event %" PRIu64 ", no send closed it)",
           i, c->thread[i].msg_target, c->thread[i].msg_parts, c->thread[i].msg_opened_at);
  return TRACE_FIELD_NONE;
}
