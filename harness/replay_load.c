/* ----------------------------------------------------------------------------
  harness/replay_load.c: trace -> one program per thread, with the
  cross-thread publish/await marks computed once (see replay.h).

  The trace reader has already validated the trace (objects live when used,
  threads in range, barriers consistent), so the loader only translates.

  Ownership (HL_REPLAY_OWNERSHIP, for HL_ALLOC_OWNED allocators such as
  ravioli, where only the owning thread may touch an object's pages): every
  object has an owner, its allocating thread or the target of its last send.
  When another thread uses it (free, realloc, read, write, send, link as
  object or target), the loader first appends a SEND from the owner to that
  thread to the owner's program, at the owner's current position in trace
  order, so the hand-over the trace left implicit becomes an explicit
  message. The usual publish/await marks then order the send before the use.
  Two places in a program need care: after the owner's THREAD_END the send is
  still appended (contexts live until heap_done, alloc.h), and while the
  owner waits at a barrier the send goes before its arrival, or the user
  (which may have to arrive at the same barrier) would wait forever.

  Messages of several objects (SEND_PART ... SEND): a SEND_PART makes its
  target the owner, as a SEND does. A thread building a message does
  nothing else until the closing SEND (the trace validator's rule), so a
  hand-over the owner must make meanwhile goes before the message's first
  SEND_PART: the replay gathers a thread's SEND_PART events up to its next
  SEND, and nothing may come in between. The owner held the object before
  the message opened, unless the object reached it during the message;
  that hand-over cannot be placed and fails the load, like the barrier case.

  Free requests (HL_REPLAY_FREE_REQUEST): a FREE of an object another
  thread owns is marked REPLAY_FLAG_POSTED with the owner, instead of a
  hand-over; the usual await orders it after the owner's last event on the
  object. The owner serves requests at its next call or its thread_done, so
  its THREAD_END awaits the requests posted to it before it in trace order
  (free-running threads could otherwise end first and leave them unserved),
  and a free after the owner's end is replayed as a hand-over and a free:
  a thread that has ended serves no requests.
---------------------------------------------------------------------------- */
#include "harness/replay_internal.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* MAP_POPULATE: the harness's own tables are faulted in before the clock
   starts, so the page faults and time of a run belong to the allocator. */
void *replay_map(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void *p =
      mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void replay_unmap(void *p, size_t bytes) {
  if (p) munmap(p, bytes ? bytes : 1);
}

int replay_vec_reserve(replay_vec_t *v, size_t elem_size, size_t want) {
  if (want <= v->cap) return 0;
  size_t cap = v->cap ? v->cap : 4096 / elem_size;
  while (cap < want) cap *= 2;
  void *p = v->data ? mremap(v->data, v->cap * elem_size, cap * elem_size, MREMAP_MAYMOVE)
                    : mmap(NULL, cap * elem_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ENOMEM;
  v->data = p;
  v->cap = cap;
  return 0;
}

void replay_vec_free(replay_vec_t *v, size_t elem_size) {
  if (v->data) munmap(v->data, v->cap * elem_size);
  memset(v, 0, sizeof *v);
}

/* Per-object bookkeeping needed only while loading: who touched it last,
   in which event, in which role, and how often it has changed hands. */
typedef struct load_owner_s {
  uint32_t thread;
  uint32_t publishes;
  uint64_t index; /* event index in that thread's program; top bit: role was "target" */
} load_owner_t;

#define LOAD_ROLE_TARGET (UINT64_C(1) << 63)

/* A barrier number in use; completed ones are dropped, so numbers may recur. */
typedef struct load_barrier_s {
  uint64_t number;
  uint32_t index, arrived;
} load_barrier_t;

/* Ownership mode: who owns each object, since which trace event, and
   whether each thread waits at a barrier (and since when). */
typedef struct load_holder_s {
  uint32_t thread;
  uint64_t since; /* trace event number at which `thread` became the owner */
} load_holder_t;

typedef struct load_waiting_s {
  uint32_t barrier; /* dense barrier index + 1; 0: not waiting */
  uint64_t since;   /* trace event number of its arrival */
} load_waiting_t;

/* A thread's message under construction. */
typedef struct load_message_s {
  uint32_t parts; /* SEND_PART events so far; 0: no message open */
  uint64_t since; /* trace event number of its first SEND_PART */
} load_message_t;

typedef struct load_state_s {
  hl_replay_trace_t *trace;
  replay_vec_t owners;     /* load_owner_t per object */
  replay_vec_t barriers;   /* load_barrier_t, the barriers in progress */
  bool ownership;          /* HL_REPLAY_OWNERSHIP */
  replay_vec_t holders;    /* load_holder_t per object (ownership mode) */
  load_waiting_t *waiting; /* [threads] (ownership mode) */
  load_message_t *message; /* [threads] */
  uint32_t *requests;      /* [threads] free requests posted to each so far (request mode) */
  bool *ended;             /* [threads] THREAD_END seen (request mode) */
  bool free_request;       /* HL_REPLAY_FREE_REQUEST */
  uint32_t posted_to;      /* the FREE being loaded is posted to this owner; UINT32_MAX: not */
  uint64_t seq;            /* trace events read so far */
  const char *why;         /* what made the load fail, when it is not ENOMEM */
} load_state_t;

static replay_event_t *load_event_at(hl_replay_trace_t *t, uint32_t thread, uint64_t index) {
  return (replay_event_t *)t->programs[thread].data + index;
}

/* Event `index` of `thread` uses `obj` (as its object or its LINK target):
   if the object last belonged to another thread, that thread's last event on
   it publishes and this one awaits. Returns the epoch to await, 0 for none. */
static uint32_t load_handover(load_state_t *s, uint32_t obj, uint32_t thread, uint64_t index,
                              bool as_target) {
  load_owner_t *o = (load_owner_t *)s->owners.data + obj;
  uint32_t wait = 0;
  if (o->thread != thread) {
    bool was_target = (o->index & LOAD_ROLE_TARGET) != 0;
    replay_event_t *prev = load_event_at(s->trace, o->thread, o->index & ~LOAD_ROLE_TARGET);
    prev->sync |= was_target ? REPLAY_PUBLISH_TARGET : REPLAY_PUBLISH;
    wait = ++o->publishes;
  }
  o->thread = thread;
  o->index = index | (as_target ? LOAD_ROLE_TARGET : 0);
  return wait;
}

static uint32_t load_barrier_index(load_state_t *s, uint64_t number, uint64_t count,
                                   uint32_t thread) {
  load_barrier_t *b = s->barriers.data;
  size_t i = 0;
  while (i < s->barriers.len && b[i].number != number) i++;
  if (i == s->barriers.len) {
    if (replay_vec_reserve(&s->barriers, sizeof *b, i + 1)) return UINT32_MAX;
    b = s->barriers.data;
    b[i] = (load_barrier_t){.number = number, .index = s->trace->barriers++, .arrived = 0};
    s->barriers.len++;
  }
  uint32_t index = b[i].index;
  if (s->waiting) s->waiting[thread] = (load_waiting_t){.barrier = index + 1, .since = s->seq};
  if (++b[i].arrived == count) {
    b[i] = b[--s->barriers.len]; /* complete: forget the number */
    if (s->waiting)
      for (uint32_t th = 0; th < s->trace->threads; th++)
        if (s->waiting[th].barrier == index + 1) s->waiting[th].barrier = 0;
  }
  return index;
}

static int load_fail(hl_trace_error_t *err, const hl_trace_reader_t *r, const char *path,
                     const char *what) {
  memset(err, 0, sizeof *err);
  snprintf(err->file, sizeof err->file, "%s", path);
  err->event = hl_trace_events_read(r);
  snprintf(err->message, sizeof err->message, "%s", what);
  return -1;
}

/* Ownership mode: `thread` is about to use `obj`; if another thread owns it,
   append that owner's SEND to `thread` (see the banner). Returns 0 or an
   errno value (EINVAL with s->why set when the hand-over cannot be placed). */
static int load_claim(load_state_t *s, uint32_t obj, uint32_t thread) {
  load_holder_t *h = (load_holder_t *)s->holders.data + obj;
  if (h->thread == thread) return 0;
  hl_replay_trace_t *t = s->trace;
  uint32_t from = h->thread;
  replay_vec_t *prog = &t->programs[from];
  if (replay_vec_reserve(prog, sizeof(replay_event_t), prog->len + 1)) return ENOMEM;
  if (replay_vec_reserve(&t->order, sizeof(uint16_t), t->order.len + 1)) return ENOMEM;
  replay_event_t *ev = prog->data;
  uint64_t at = prog->len;
  uint32_t parts = s->message[from].parts;
  if (parts) {
    /* before the owner's open message (see the banner): its SEND_PART
       events move up one place, and where their objects were last used
       moves with them */
    if (h->since > s->message[from].since) {
      s->why = "an object reached a thread building a message (sendpart) and was then used by "
               "another thread; an owned allocator cannot replay this hand-over";
      return EINVAL;
    }
    at = prog->len - parts;
    for (uint64_t i = prog->len; i > at; i--) {
      ev[i] = ev[i - 1];
      assert(ev[i].op == HL_OP_SEND_PART);
      load_owner_t *o = (load_owner_t *)s->owners.data + ev[i].obj;
      if (o->thread == from && (o->index & ~LOAD_ROLE_TARGET) == i - 1) o->index++;
    }
  } else if (s->waiting[from].barrier) {
    /* Serial replay runs the owner's events in program order at its order
       slots, so the send takes the arrival's slot: the owner must already
       have held the object then. */
    if (h->since > s->waiting[from].since) {
      s->why = "an object reached a thread waiting at a barrier and was then used by another "
               "thread; an owned allocator cannot replay this hand-over";
      return EINVAL;
    }
    at = prog->len - 1; /* the arrival is the owner's last event */
    assert(ev[at].op == HL_OP_BARRIER);
    ev[at + 1] = ev[at];
  }
  ev[at] =
      (replay_event_t){.op = HL_OP_SEND, .flags = REPLAY_FLAG_HANDOVER, .obj = obj, .a = thread};
  prog->len++;
  ev[at].wait = load_handover(s, obj, from, at, false);
  if (ev[at].wait) ev[at].sync |= REPLAY_AWAIT;
  ((uint16_t *)t->order.data)[t->order.len++] = (uint16_t)from;
  t->events++;
  t->handover_sends++;
  *h = (load_holder_t){.thread = thread, .since = s->seq};
  return 0;
}

/* Ownership mode, before event `e` is appended: claim what it uses. */
static int load_ownership(load_state_t *s, const hl_event_t *e) {
  switch (e->op) {
    case HL_OP_ALLOC:
      if (e->obj >= UINT32_MAX) return EOVERFLOW;
      if (replay_vec_reserve(&s->holders, sizeof(load_holder_t), e->obj + 1)) return ENOMEM;
      ((load_holder_t *)s->holders.data)[e->obj] =
          (load_holder_t){.thread = e->thread, .since = s->seq};
      s->holders.len = e->obj + 1;
      return 0;
    case HL_OP_FREE:
    case HL_OP_REALLOC:
    case HL_OP_READ:
    case HL_OP_WRITE:
    case HL_OP_SEND:
    case HL_OP_SEND_PART:
    case HL_OP_LINK: {
      uint32_t holder = ((load_holder_t *)s->holders.data)[e->obj].thread;
      if (e->op == HL_OP_FREE && s->free_request && holder != e->thread && !s->ended[holder]) {
        s->posted_to = holder; /* a free request: the owner keeps it until it frees it */
        return 0;
      }
      int rc = load_claim(s, (uint32_t)e->obj, e->thread);
      if (rc == 0 && e->op == HL_OP_LINK && e->target != HL_TRACE_NO_OBJECT)
        rc = load_claim(s, (uint32_t)e->target, e->thread);
      /* the trace's own send, or a part of a message: the target owns it now */
      if (rc == 0 && (e->op == HL_OP_SEND || e->op == HL_OP_SEND_PART))
        ((load_holder_t *)s->holders.data)[e->obj] =
            (load_holder_t){.thread = (uint32_t)e->target, .since = s->seq};
      return rc;
    }
    case HL_OP_BARRIER:
      return 0; /* load_event records the arrival once the barrier index is known */
    default:
      return 0;
  }
}

/* Translate one validated event and append it to its thread's program. */
static int load_event(load_state_t *s, const hl_event_t *e) {
  hl_replay_trace_t *t = s->trace;
  s->seq++;
  s->posted_to = UINT32_MAX;
  if (s->ownership) {
    int rc = load_ownership(s, e);
    if (rc) return rc;
  }
  replay_vec_t *prog = &t->programs[e->thread];
  if (replay_vec_reserve(prog, sizeof(replay_event_t), prog->len + 1)) return ENOMEM;
  uint64_t index = prog->len;
  replay_event_t re = {.op = (uint8_t)e->op};
  switch (e->op) {
    case HL_OP_ALLOC:
      if (e->obj >= UINT32_MAX) return EOVERFLOW;
      if (replay_vec_reserve(&s->owners, sizeof(load_owner_t), e->obj + 1)) return ENOMEM;
      ((load_owner_t *)s->owners.data)[e->obj] =
          (load_owner_t){.thread = e->thread, .index = index};
      s->owners.len = e->obj + 1;
      t->objects = (uint32_t)e->obj + 1;
      re.obj = (uint32_t)e->obj, re.kind = (uint8_t)e->kind, re.a = e->size, re.b = e->align;
      break;
    case HL_OP_FREE:
    case HL_OP_REALLOC:
    case HL_OP_READ:
    case HL_OP_WRITE:
    case HL_OP_SEND:
    case HL_OP_SEND_PART:
    case HL_OP_LINK:
      re.obj = (uint32_t)e->obj;
      re.wait = load_handover(s, re.obj, e->thread, index, false);
      if (re.wait) re.sync |= REPLAY_AWAIT;
      if (e->op == HL_OP_REALLOC) re.a = e->size;
      if (e->op == HL_OP_READ || e->op == HL_OP_WRITE) re.a = e->offset, re.b = e->size;
      if (e->op == HL_OP_SEND || e->op == HL_OP_SEND_PART) re.a = e->target;
      if (e->op == HL_OP_SEND_PART && s->message[e->thread].parts++ == 0)
        s->message[e->thread].since = s->seq;
      if (e->op == HL_OP_SEND) { /* closes the thread's message, if one is open */
        if (s->message[e->thread].parts > t->max_parts) t->max_parts = s->message[e->thread].parts;
        s->message[e->thread].parts = 0;
      }
      if (e->op == HL_OP_FREE && s->posted_to != UINT32_MAX) {
        re.flags |= REPLAY_FLAG_POSTED;
        re.b = s->posted_to;
        s->requests[s->posted_to]++;
        t->posted_frees++;
      }
      if (e->op == HL_OP_LINK) {
        re.a = e->offset;
        re.b = REPLAY_NO_TARGET;
        if (e->target != HL_TRACE_NO_OBJECT) {
          re.b = e->target;
          re.wait_target = load_handover(s, (uint32_t)e->target, e->thread, index, true);
          if (re.wait_target) re.sync |= REPLAY_AWAIT_TARGET;
        }
      }
      if (e->op == HL_OP_READ || e->op == HL_OP_WRITE) t->has_accesses = true;
      break;
    case HL_OP_BARRIER:
      re.obj = load_barrier_index(s, e->obj, e->size, e->thread);
      if (re.obj == UINT32_MAX) return ENOMEM;
      re.a = e->size;
      break;
    case HL_OP_THREAD_END:
      if (s->free_request) {
        s->ended[e->thread] = true;
        re.wait = s->requests[e->thread];
        if (re.wait) re.sync |= REPLAY_AWAIT_REQUESTS;
      }
      break;
    default: /* THREAD_START carries nothing more */
      break;
  }
  ((replay_event_t *)prog->data)[prog->len++] = re;
  if (replay_vec_reserve(&t->order, sizeof(uint16_t), t->order.len + 1)) return ENOMEM;
  ((uint16_t *)t->order.data)[t->order.len++] = (uint16_t)e->thread;
  t->events++;
  return 0;
}

/* The loaded form's invariants: every event is in exactly one program and in
   the serial order once, each program starts with its THREAD_START, and no
   event names an object or barrier beyond the tables. */
static bool replay_trace_is_valid(const hl_replay_trace_t *t) {
  uint64_t total = 0;
  uint64_t per_thread[HL_TRACE_MAX_THREADS] = {0};
  const uint16_t *order = t->order.data;
  for (uint64_t i = 0; i < t->order.len; i++) {
    if (order[i] >= t->threads) return false;
    per_thread[order[i]]++;
  }
  for (uint32_t th = 0; th < t->threads; th++) {
    const replay_vec_t *p = &t->programs[th];
    const replay_event_t *ev = p->data;
    if (p->len != per_thread[th]) return false;
    if (p->len && ev[0].op != HL_OP_THREAD_START) return false;
    for (size_t i = 0; i < p->len; i++) {
      /* a message's parts are followed by more parts or the trace's own SEND */
      if (ev[i].op == HL_OP_SEND_PART &&
          (i + 1 == p->len ||
           !(ev[i + 1].op == HL_OP_SEND_PART ||
             (ev[i + 1].op == HL_OP_SEND && !(ev[i + 1].flags & REPLAY_FLAG_HANDOVER)))))
        return false;
      if ((ev[i].flags & REPLAY_FLAG_POSTED) && (ev[i].op != HL_OP_FREE || ev[i].b >= t->threads))
        return false;
      bool has_obj = ev[i].op != HL_OP_THREAD_START && ev[i].op != HL_OP_THREAD_END;
      uint32_t limit = ev[i].op == HL_OP_BARRIER ? t->barriers : t->objects;
      if (has_obj && ev[i].obj >= limit) return false;
    }
    total += p->len;
  }
  return total == t->events && t->order.len == t->events;
}

hl_replay_trace_t *hl_replay_load(const char *path, unsigned flags, hl_trace_error_t *err) {
  hl_trace_reader_t *r = hl_trace_open(path, err);
  if (!r) return NULL;
  hl_replay_trace_t *t = replay_map(sizeof *t);
  uint32_t threads = hl_trace_header(r)->threads;
  load_state_t s = {.trace = t,
                    .ownership = (flags & HL_REPLAY_OWNERSHIP) != 0,
                    .free_request =
                        (flags & HL_REPLAY_OWNERSHIP) && (flags & HL_REPLAY_FREE_REQUEST)};
  if (t) t->programs = replay_map(threads * sizeof(replay_vec_t));
  if (t && s.ownership) s.waiting = replay_map(threads * sizeof *s.waiting);
  s.message = replay_map(threads * sizeof *s.message);
  if (s.free_request) {
    s.requests = replay_map(threads * sizeof *s.requests);
    s.ended = replay_map(threads * sizeof *s.ended);
  }
  if (!t || !t->programs || (s.ownership && !s.waiting) || !s.message ||
      (s.free_request && (!s.requests || !s.ended))) {
    replay_unmap(s.message, threads * sizeof *s.message);
    replay_unmap(s.requests, threads * sizeof *s.requests);
    replay_unmap(s.ended, threads * sizeof *s.ended);
    load_fail(err, r, path, "out of memory loading the trace");
    hl_trace_close(r);
    if (t) replay_unmap(t->programs, threads * sizeof(replay_vec_t)), replay_unmap(t, sizeof *t);
    return NULL;
  }
  snprintf(t->path, sizeof t->path, "%s", path);
  t->threads = threads;
  t->ownership = s.ownership;
  t->free_request = s.free_request;
  hl_event_t e;
  int rc, status = 0;
  while ((rc = hl_trace_next(r, &e)) == 1) {
    int fail = load_event(&s, &e);
    if (fail) {
      load_fail(err, r, path,
                fail == EOVERFLOW ? "more than 2^32-1 objects: too many for replay"
                : fail == EINVAL  ? s.why
                                  : "out of memory loading the trace");
      status = -1;
      break;
    }
  }
  if (rc < 0) {
    *err = *hl_trace_reader_error(r);
    status = -1;
  }
  t->peak_live = hl_trace_peak_live_bytes(r, &t->peak_event);
  hl_trace_close(r);
  replay_vec_free(&s.owners, sizeof(load_owner_t));
  replay_vec_free(&s.barriers, sizeof(load_barrier_t));
  replay_unmap(s.waiting, threads * sizeof *s.waiting);
  replay_unmap(s.message, threads * sizeof *s.message);
  replay_unmap(s.requests, threads * sizeof *s.requests);
  replay_unmap(s.ended, threads * sizeof *s.ended);
  if (status == 0 && s.ownership) { /* the final owners: who frees what the trace left live */
    t->final_owner = replay_map(t->objects * sizeof *t->final_owner);
    if (!t->final_owner) {
      load_fail(err, r, path, "out of memory loading the trace");
      status = -1;
    }
    for (uint32_t i = 0; status == 0 && i < t->objects; i++)
      t->final_owner[i] = ((load_holder_t *)s.holders.data)[i].thread;
  }
  replay_vec_free(&s.holders, sizeof(load_holder_t));
  if (status) {
    hl_replay_unload(t);
    return NULL;
  }
  assert(replay_trace_is_valid(t));
  return t;
}

void hl_replay_unload(hl_replay_trace_t *t) {
  if (!t) return;
  for (uint32_t i = 0; i < t->threads; i++)
    replay_vec_free(&t->programs[i], sizeof(replay_event_t));
  replay_unmap(t->programs, t->threads * sizeof(replay_vec_t));
  replay_vec_free(&t->order, sizeof(uint16_t));
  replay_unmap(t->final_owner, t->objects * sizeof *t->final_owner);
  replay_unmap(t, sizeof *t);
}

uint64_t hl_replay_peak_live_bytes(const hl_replay_trace_t *t, uint64_t *at_event) {
  if (at_event) *at_event = t->peak_event;
  return t->peak_live;
}

uint32_t hl_replay_threads(const hl_replay_trace_t *t) {
  return t->threads;
}
uint64_t hl_replay_events(const hl_replay_trace_t *t) {
  return t->events - t->handover_sends; /* the trace's own events */
}
bool hl_replay_has_accesses(const hl_replay_trace_t *t) {
  return t->has_accesses;
}
uint64_t hl_replay_handover_sends(const hl_replay_trace_t *t) {
  return t->handover_sends;
}
uint64_t hl_replay_free_requests(const hl_replay_trace_t *t) {
  return t->posted_frees;
}
uint32_t hl_replay_max_message(const hl_replay_trace_t *t) {
  return t->max_parts + 1;
}
