/* ----------------------------------------------------------------------------
  workloads/trace/reader.c: decoding binary traces (format versions 1 and 2,
  FORMAT.md), with validation of every byte and every event. Version 1 is
  version 2 without op 10 (SEND_PART), which stays "unknown op 10" there.

  The whole file is in memory (mmap for files, read() for pipes), so decoding
  is pointer arithmetic with an explicit end: no per-event allocation, and
  one-byte varints (most fields) take the inline fast path. Byte-level rules
  (tags, reserved bits, canonical encodings, the END record) are checked
  here; the meaning of each event by trace_check_event (check.c), the same
  validator the writer runs.
---------------------------------------------------------------------------- */
#include "workloads/trace/internal.h"
#include "workloads/trace/varint.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum reader_state_e { READER_EVENTS, READER_DONE, READER_FAILED } reader_state_t;

struct hl_trace_reader_s {
  const uint8_t *base, *pos, *end;
  trace_file_t file; /* what hl_trace_open loaded; empty for open_mem */
  hl_trace_header_t header;
  char *meta; /* NUL-terminated copy of the meta lines */
  trace_check_t check;
  bool has_prev; /* an event was decoded: prev_thread is meaningful */
  uint32_t prev_thread;
  uint64_t prev_obj; /* object of the last event that had one (0 at start) */
  unsigned op_limit; /* ops below it exist in this file's version */
  reader_state_t state;
  hl_trace_error_t err;
  char name[sizeof((hl_trace_error_t *)0)->file]; /* for error messages */
};

/* Record an error at byte `at` for the event being decoded; returns -1. */
__attribute__((format(printf, 3, 4))) static int
reader_fail(hl_trace_reader_t *r, const uint8_t *at, const char *fmt, ...) {
  char msg[TRACE_MSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  trace_error_set(&r->err, r->name, (uint64_t)(at - r->base), r->check.events, 0, "%s", msg);
  r->state = READER_FAILED;
  return -1;
}

static int reader_varint_fail(hl_trace_reader_t *r, const uint8_t *at, varint_status_t st,
                              const char *what) {
  switch (st) {
    case VARINT_EOF:
      return reader_fail(r, r->end, "truncated: expected %s (a varint), found end of file", what);
    case VARINT_NONCANONICAL:
      return reader_fail(r, at, "non-canonical varint for %s (overlong encoding)", what);
    default:
      return reader_fail(r, at, "varint overflow in %s (more than 64 bits)", what);
  }
}

/* Decode a varint field into `v`, remembering where it began in `at`. */
#define READ_VARINT(at, v, what)                                                                   \
  do {                                                                                             \
    (at) = p;                                                                                      \
    varint_status_t st_ = varint_get(&p, end, &(v));                                               \
    if (st_ != VARINT_OK) return reader_varint_fail(r, (at), st_, (what));                         \
  } while (0)

static int reader_header(hl_trace_reader_t *r) {
  const uint8_t *p = r->base, *end = r->end, *at;
  size_t have = (size_t)(end - p);
  size_t n = have < TRACE_MAGIC_LEN ? have : TRACE_MAGIC_LEN;
  for (size_t i = 0; i < n; i++)
    if (p[i] != (uint8_t)TRACE_MAGIC[i])
      return reader_fail(r, p + i,
                         "bad magic: not a heaplab binary trace (or mangled in text mode; "
                         "a text trace needs 'hltrace pack')");
  if (have < TRACE_MAGIC_LEN) return reader_fail(r, end, "truncated: the magic is incomplete");
  p += TRACE_MAGIC_LEN;
  if (p == end)
    return reader_fail(r, end, "truncated: expected the version byte, found end of file");
  if (*p < HL_TRACE_MIN_VERSION || *p > HL_TRACE_VERSION)
    return reader_fail(r, p, "unsupported version %u (this reader supports versions %d to %d)", *p,
                       HL_TRACE_MIN_VERSION, HL_TRACE_VERSION);
  r->header.version = *p++;
  r->op_limit = r->header.version >= 2 ? HL_OP_COUNT : HL_OP_SEND_PART;
  uint64_t v;
  READ_VARINT(at, v, "the thread count");
  if (v == 0 || v > HL_TRACE_MAX_THREADS)
    return reader_fail(r, at, "thread count %" PRIu64 " (must be 1..%d)", v, HL_TRACE_MAX_THREADS);
  r->header.threads = (uint32_t)v;
  READ_VARINT(at, v, "the meta length");
  if (v > TRACE_MAX_META)
    return reader_fail(r, at, "meta length %" PRIu64 " (the limit is %u)", v,
                       (unsigned)TRACE_MAX_META);
  if (v > (uint64_t)(end - p))
    return reader_fail(r, end, "truncated: %" PRIu64 " bytes of meta expected, %zu left", v,
                       (size_t)(end - p));
  size_t bad;
  char msg[TRACE_MSG_LEN];
  if (trace_meta_check((const char *)p, (size_t)v, &bad, msg, sizeof msg))
    return reader_fail(r, p + bad, "%s", msg);
  r->meta = malloc((size_t)v + 1);
  if (!r->meta) return reader_fail(r, p, "out of memory for %" PRIu64 " bytes of meta", v);
  memcpy(r->meta, p, (size_t)v);
  r->meta[v] = '\0';
  r->header.meta = r->meta;
  r->header.meta_len = (size_t)v;
  p += v;
  if (trace_check_init(&r->check, r->header.threads, r->header.version))
    return reader_fail(r, p, "out of memory for %" PRIu32 " threads", r->header.threads);
  r->pos = p;
  return 0;
}

static hl_trace_reader_t *reader_new(const void *data, size_t len, const char *name,
                                     hl_trace_error_t *err) {
  hl_trace_reader_t *r = calloc(1, sizeof *r);
  if (!r) {
    trace_error_set(err, name, 0, 0, 0, "out of memory");
    return NULL;
  }
  static const uint8_t empty[1];
  r->base = r->pos = data ? data : empty;
  r->end = r->base + len;
  snprintf(r->name, sizeof r->name, "%s", name ? name : "<memory>");
  snprintf(r->err.file, sizeof r->err.file, "%s", r->name);
  return r;
}

hl_trace_reader_t *hl_trace_open_mem(const void *data, size_t len, const char *name,
                                     hl_trace_error_t *err) {
  hl_trace_reader_t *r = reader_new(data, len, name, err);
  if (r && reader_header(r)) {
    if (err) *err = r->err;
    hl_trace_close(r);
    return NULL;
  }
  return r;
}

hl_trace_reader_t *hl_trace_open(const char *path, hl_trace_error_t *err) {
  const char *name = trace_display_name(path);
  trace_file_t f;
  if (trace_file_load(path, name, &f, err)) return NULL;
  hl_trace_reader_t *r = reader_new(f.data, f.len, name, err);
  if (!r) {
    trace_file_release(&f);
    return NULL;
  }
  r->file = f;
  if (reader_header(r)) {
    if (err) *err = r->err;
    hl_trace_close(r);
    return NULL;
  }
  return r;
}

void hl_trace_close(hl_trace_reader_t *r) {
  if (!r) return;
  trace_check_free(&r->check);
  trace_file_release(&r->file);
  free(r->meta);
  free(r);
}

const hl_trace_header_t *hl_trace_header(const hl_trace_reader_t *r) {
  return &r->header;
}
const hl_trace_error_t *hl_trace_reader_error(const hl_trace_reader_t *r) {
  return &r->err;
}
uint64_t hl_trace_events_read(const hl_trace_reader_t *r) {
  return r->check.events;
}
uint64_t hl_trace_objects(const hl_trace_reader_t *r) {
  return r->check.objects;
}
uint64_t hl_trace_object_size(const hl_trace_reader_t *r, uint64_t obj) {
  return obj < r->check.objects ? r->check.obj[obj].size : 0;
}
uint64_t hl_trace_peak_live_bytes(const hl_trace_reader_t *r, uint64_t *at_event) {
  if (at_event) *at_event = r->check.peak_event;
  return r->check.peak_live_bytes;
}

/* What the decoder relies on between events (checked once, at the END). */
static bool reader_is_valid(const hl_trace_reader_t *r) {
  return r->base <= r->pos && r->pos <= r->end && r->meta &&
         r->header.version >= HL_TRACE_MIN_VERSION && r->header.version <= HL_TRACE_VERSION &&
         r->header.version == r->check.version && r->header.threads == r->check.threads &&
         r->prev_thread < r->header.threads &&
         (r->check.objects == 0 || r->prev_obj < r->check.objects);
}

/* The END record: tag 0x0f, the event count, then nothing. */
static int reader_end(hl_trace_reader_t *r, const uint8_t *tag_at) {
  const uint8_t *p = tag_at + 1, *end = r->end, *at;
  uint64_t count;
  if (!reader_is_valid(r)) return reader_fail(r, tag_at, "internal error: reader state corrupt");
  if (*tag_at != TRACE_TAG_END)
    return reader_fail(r, tag_at, "reserved bits set in the END tag 0x%02x (must be 0x0f)",
                       *tag_at);
  READ_VARINT(at, count, "the END record's event count");
  if (count != r->check.events)
    return reader_fail(r, at,
                       "the END record says %" PRIu64 " events, but %" PRIu64 " were decoded",
                       count, r->check.events);
  if (p != end) return reader_fail(r, p, "trailing data after END (%zu bytes)", (size_t)(end - p));
  char msg[TRACE_MSG_LEN];
  if (trace_check_end(&r->check, msg)) return reader_fail(r, tag_at, "%s", msg);
  r->pos = p;
  r->state = READER_DONE;
  return 0;
}

int hl_trace_next(hl_trace_reader_t *r, hl_event_t *ev) {
  if (r->state != READER_EVENTS) return r->state == READER_DONE ? 0 : -1;
  const uint8_t *p = r->pos, *end = r->end;
  memset(ev, 0, sizeof *ev);
  if (p == end)
    return reader_fail(r, p, "truncated: expected an event or the END record, found end of file");
  /* Where each field began, for error messages; implicit fields point at the tag. */
  const uint8_t *tag_at = p, *thread_at = p, *obj_at = p, *size_at = p, *align_at = p,
                *offset_at = p, *target_at = p;
  unsigned tag = *p++;
  unsigned op = tag & TRACE_TAG_OP, high = tag >> TRACE_KIND_SHIFT;
  uint64_t v;
  if (op >= r->op_limit) {
    if (op == TRACE_TAG_END) return reader_end(r, tag_at);
    if (op < HL_OP_COUNT)
      return reader_fail(r, tag_at,
                         "unknown op %u in tag 0x%02x (%s needs format version 2; this file is "
                         "version %" PRIu32 ")",
                         op, tag, hl_op_name((hl_op_t)op), r->header.version);
    return reader_fail(r, tag_at, "unknown op %u in tag 0x%02x", op, tag);
  }
  ev->op = (hl_op_t)op;

  if (tag & TRACE_TAG_SAME_THR) {
    if (!r->has_prev)
      return reader_fail(r, tag_at, "the first event has the same-thread bit set (tag 0x%02x)",
                         tag);
    ev->thread = r->prev_thread;
  } else {
    READ_VARINT(thread_at, v, "a thread id");
    if (v >= r->header.threads)
      return reader_fail(r, thread_at,
                         "thread %" PRIu64 " out of range (the trace has %" PRIu32 " threads)", v,
                         r->header.threads);
    if (r->has_prev && v == r->prev_thread)
      return reader_fail(r, thread_at,
                         "non-canonical event: thread %" PRIu64
                         " repeated explicitly (the same-thread bit must be used)",
                         v);
    ev->thread = (uint32_t)v;
  }

  if (op == HL_OP_ALLOC) {
    if (high == 7) return reader_fail(r, tag_at, "unknown allocation kind 7 in tag 0x%02x", tag);
    ev->kind = (hl_alloc_kind_t)high;
    ev->obj = r->check.objects;
    READ_VARINT(size_at, ev->size, "an allocation size");
    if (trace_kind_has_align(ev->kind)) {
      READ_VARINT(align_at, v, "log2 of the alignment");
      if (v > TRACE_MAX_ALIGN_LG)
        return reader_fail(r, align_at, "alignment 2^%" PRIu64 " too large (at most 2^%d)", v,
                           TRACE_MAX_ALIGN_LG);
      ev->align = UINT64_C(1) << v;
    }
  } else if (trace_op_has_obj(op)) {
    if (high & 6) return reader_fail(r, tag_at, "reserved bits 6-7 set in tag 0x%02x", tag);
    if (tag & TRACE_TAG_SAME_OBJ) {
      ev->obj = r->prev_obj;
    } else {
      READ_VARINT(obj_at, v, "an object id delta");
      if (v == 0)
        return reader_fail(
            r, obj_at, "non-canonical event: object delta 0 (the same-object bit must be used)");
      ev->obj = r->prev_obj + zigzag_decode(v);
    }
    switch (op) {
      case HL_OP_REALLOC:
        READ_VARINT(size_at, ev->size, "a realloc size");
        break;
      case HL_OP_READ:
      case HL_OP_WRITE:
        READ_VARINT(offset_at, ev->offset, "an access offset");
        READ_VARINT(size_at, ev->size, "an access length");
        break;
      case HL_OP_LINK:
        READ_VARINT(offset_at, ev->offset, "a link field offset");
        READ_VARINT(target_at, v, "a link target");
        ev->target = v ? ev->obj + zigzag_decode(v - 1) : HL_TRACE_NO_OBJECT;
        /* Only 0 encodes null; a delta landing on the null id names no object. */
        if (v && ev->target == HL_TRACE_NO_OBJECT)
          return reader_fail(r, target_at, "link to object %" PRIu64 " which was never allocated",
                             ev->target);
        break;
      case HL_OP_SEND:
      case HL_OP_SEND_PART:
        READ_VARINT(target_at, ev->target, "a destination thread");
        break;
      default: /* FREE */
        break;
    }
  } else {
    if (high) return reader_fail(r, tag_at, "reserved bits 5-7 set in tag 0x%02x", tag);
    if (op == HL_OP_BARRIER) {
      READ_VARINT(obj_at, ev->obj, "a barrier number");
      READ_VARINT(size_at, ev->size, "a barrier participant count");
    }
  }

  char msg[TRACE_MSG_LEN];
  trace_field_t bad = trace_check_event(&r->check, ev, msg);
  if (bad) {
    const uint8_t *at = bad == TRACE_FIELD_THREAD   ? thread_at
                        : bad == TRACE_FIELD_OBJ    ? obj_at
                        : bad == TRACE_FIELD_SIZE   ? size_at
                        : bad == TRACE_FIELD_ALIGN  ? align_at
                        : bad == TRACE_FIELD_OFFSET ? offset_at
                        : bad == TRACE_FIELD_TARGET ? target_at
                                                    : tag_at;
    return reader_fail(r, at, "%s", msg);
  }
  r->has_prev = true;
  r->prev_thread = ev->thread;
  if (op == HL_OP_ALLOC || trace_op_has_obj(op)) r->prev_obj = ev->obj;
  r->pos = p;
  return 1;
}
