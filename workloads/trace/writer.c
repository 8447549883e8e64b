/* ----------------------------------------------------------------------------
  workloads/trace/writer.c: encoding binary traces (format version 2,
  FORMAT.md; version 1 on request, for the text form of version 1 files).

  Every event goes through trace_check_event (check.c), the validator the
  reader runs, before it is encoded, so an invalid trace cannot be written.
  The encoding is canonical (shortest varints; the same-thread and
  same-object bits whenever they apply), which makes the bytes a function of
  the event sequence: that is what lets text -> binary reproduce a binary
  trace exactly.

  Files are written to PATH.tmp.XXXXXX in the same folder and renamed over
  PATH by hl_trace_writer_close, so PATH never holds a half-written trace.
  Output is buffered (64 KiB) and written with write().

  Errors: an invalid event is refused (-1) and nothing is written; the
  writer stays usable. An I/O error is sticky: every later call fails. When
  hl_trace_writer_close fails, the writer stays allocated so that
  hl_trace_writer_error can say why; the caller then calls
  hl_trace_writer_abort, which removes the temporary file and frees it.
---------------------------------------------------------------------------- */
#include "workloads/trace/internal.h"
#include "workloads/trace/varint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITER_BUF       (64 * 1024)
#define WRITER_MAX_EVENT 64 /* tag + 5 varints fit with room to spare */

struct hl_trace_writer_s {
  int fd;      /* -1: memory-backed (buf grows, never flushed) */
  bool own_fd; /* fd is our temporary file (not stdout): close it */
  char *path;  /* final name; NULL for stdout and memory */
  char *tmp;   /* temporary file, renamed to path at close */
  uint8_t *buf;
  size_t len, cap;
  uint64_t flushed; /* bytes already written out before buf[0] */
  trace_check_t check;
  bool has_prev;
  uint32_t prev_thread;
  uint64_t prev_obj;
  bool failed; /* sticky I/O error, or closed: only error/abort remain */
  hl_trace_error_t err;
  char name[sizeof((hl_trace_error_t *)0)->file];
};

static bool writer_is_valid(const hl_trace_writer_t *w) {
  return w->buf && w->len <= w->cap && w->cap >= WRITER_MAX_EVENT &&
         (w->fd >= 0 || (!w->path && !w->tmp)) && (!w->path) == (!w->tmp);
}

__attribute__((format(printf, 2, 3))) static int writer_fail(hl_trace_writer_t *w, const char *fmt,
                                                             ...) {
  char msg[TRACE_MSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  trace_error_set(&w->err, w->name, w->flushed + w->len, w->check.events, 0, "%s", msg);
  return -1;
}

static int writer_flush(hl_trace_writer_t *w) {
  size_t done = 0;
  while (done < w->len) {
    ssize_t n = write(w->fd, w->buf + done, w->len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : EIO;
      /* Keep the unwritten tail counted, so the offset says where we were. */
      memmove(w->buf, w->buf + done, w->len - done);
      w->flushed += done;
      w->len -= done;
      w->failed = true;
      return writer_fail(w, "write error: %s", strerror(e));
    }
    done += (size_t)n;
  }
  w->flushed += done;
  w->len = 0;
  return 0;
}

/* Room for `n` more bytes in buf: flush to the file, or grow in memory. */
static int writer_reserve(hl_trace_writer_t *w, size_t n) {
  if (w->cap - w->len >= n) return 0;
  if (w->fd >= 0) {
    if (writer_flush(w)) return -1;
    if (w->cap >= n) return 0;
  }
  size_t need = w->len + n, cap = w->cap;
  while (cap < need && cap <= SIZE_MAX / 2) cap *= 2;
  uint8_t *bigger = need >= w->len && cap >= need ? realloc(w->buf, cap) : NULL;
  if (!bigger) {
    w->failed = true;
    return writer_fail(w, "out of memory buffering the trace");
  }
  w->buf = bigger;
  w->cap = cap;
  return 0;
}

static int writer_put(hl_trace_writer_t *w, const void *data, size_t n) {
  if (writer_reserve(w, n)) return -1;
  memcpy(w->buf + w->len, data, n);
  w->len += n;
  return 0;
}

static void writer_free(hl_trace_writer_t *w) {
  if (w->own_fd) close(w->fd);
  if (w->tmp) unlink(w->tmp);
  trace_check_free(&w->check);
  free(w->path);
  free(w->tmp);
  free(w->buf);
  free(w);
}

/* Common part of the file and memory writers: validate the header, set up
   the validator and buffer the header bytes. */
static hl_trace_writer_t *writer_new(const char *name, uint32_t threads, const char *meta,
                                     uint32_t version, hl_trace_error_t *err) {
  size_t meta_len = meta ? strlen(meta) : 0, bad;
  char msg[TRACE_MSG_LEN];
  if (threads == 0 || threads > HL_TRACE_MAX_THREADS) {
    trace_error_set(err, name, 0, 0, 0, "thread count %" PRIu32 " (must be 1..%d)", threads,
                    HL_TRACE_MAX_THREADS);
    return NULL;
  }
  if (version < HL_TRACE_MIN_VERSION || version > HL_TRACE_VERSION) {
    trace_error_set(err, name, 0, 0, 0, "format version %" PRIu32 " (this writer writes %d to %d)",
                    version, HL_TRACE_MIN_VERSION, HL_TRACE_VERSION);
    return NULL;
  }
  if (meta && trace_meta_check(meta, meta_len, &bad, msg, sizeof msg)) {
    trace_error_set(err, name, 0, 0, 0, "%s (at byte %zu of the meta text)", msg, bad);
    return NULL;
  }
  hl_trace_writer_t *w = calloc(1, sizeof *w);
  if (w) w->buf = malloc(WRITER_BUF);
  if (!w || !w->buf || trace_check_init(&w->check, threads, version)) {
    trace_error_set(err, name, 0, 0, 0, "out of memory");
    if (w) writer_free(w);
    return NULL;
  }
  w->fd = -1;
  w->cap = WRITER_BUF;
  snprintf(w->name, sizeof w->name, "%s", name);
  uint8_t head[TRACE_MAGIC_LEN + 1 + 2 * VARINT_MAX_LEN], *p = head;
  memcpy(p, TRACE_MAGIC, TRACE_MAGIC_LEN);
  p += TRACE_MAGIC_LEN;
  *p++ = (uint8_t)version;
  p = varint_put(p, threads);
  p = varint_put(p, meta_len);
  memcpy(w->buf, head, (size_t)(p - head));
  w->len = (size_t)(p - head);
  if (meta_len && writer_put(w, meta, meta_len)) {
    if (err) *err = w->err;
    writer_free(w);
    return NULL;
  }
  return w;
}

hl_trace_writer_t *hl_trace_writer_open(const char *path, uint32_t threads, const char *meta,
                                        hl_trace_error_t *err) {
  return trace_writer_open_version(path, threads, meta, HL_TRACE_VERSION, err);
}

hl_trace_writer_t *trace_writer_open_version(const char *path, uint32_t threads, const char *meta,
                                             uint32_t version, hl_trace_error_t *err) {
  if (!path) return writer_new("<memory>", threads, meta, version, err);
  bool is_stdout = strcmp(path, "-") == 0;
  const char *name = is_stdout ? "<stdout>" : path;
  hl_trace_writer_t *w = writer_new(name, threads, meta, version, err);
  if (!w) return NULL;
  if (is_stdout) {
    w->fd = STDOUT_FILENO;
    return w;
  }
  size_t n = strlen(path);
  w->path = malloc(n + 1);
  w->tmp = malloc(n + sizeof ".tmp.XXXXXX");
  if (!w->path || !w->tmp) {
    trace_error_set(err, name, 0, 0, 0, "out of memory");
    writer_free(w);
    return NULL;
  }
  memcpy(w->path, path, n + 1);
  memcpy(w->tmp, path, n);
  memcpy(w->tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
  w->fd = mkostemp(w->tmp, O_CLOEXEC);
  if (w->fd < 0) {
    trace_error_set(err, name, 0, 0, 0, "cannot create %s: %s", w->tmp, strerror(errno));
    free(w->tmp); /* nothing was created: do not unlink it */
    w->tmp = NULL;
    writer_free(w);
    return NULL;
  }
  w->own_fd = true;
  /* mkstemp makes 0600 files; a trace should get the usual 0666 & ~umask.
     (umask can only be read by setting it; this is the standard dance.) */
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(w->fd, 0666 & ~mask) != 0) { /* harmless if it fails: keep 0600 */
  }
  return w;
}

hl_trace_writer_t *trace_writer_open_mem(uint32_t threads, const char *meta,
                                         hl_trace_error_t *err) {
  return writer_new("<memory>", threads, meta, HL_TRACE_VERSION, err);
}

uint64_t hl_trace_writer_next_id(const hl_trace_writer_t *w) {
  return w->check.objects;
}
const hl_trace_error_t *hl_trace_writer_error(const hl_trace_writer_t *w) {
  return &w->err;
}
trace_field_t trace_writer_check_end(const hl_trace_writer_t *w, char *msg) {
  return trace_check_end(&w->check, msg);
}
bool trace_writer_obj_live(const hl_trace_writer_t *w, uint64_t obj) {
  return trace_check_obj_live(&w->check, obj);
}

int hl_trace_write(hl_trace_writer_t *w, const hl_event_t *ev) {
  if (w->failed) return -1; /* err still says why */
  if (writer_reserve(w, WRITER_MAX_EVENT)) return -1;
  char msg[TRACE_MSG_LEN];
  if (trace_check_event(&w->check, ev, msg)) return writer_fail(w, "%s", msg);

  uint8_t *tag = w->buf + w->len, *p = tag + 1;
  unsigned op = (unsigned)ev->op, t = op;
  if (w->has_prev && ev->thread == w->prev_thread)
    t |= TRACE_TAG_SAME_THR;
  else
    p = varint_put(p, ev->thread);
  if (op == HL_OP_ALLOC) {
    t |= (unsigned)ev->kind << TRACE_KIND_SHIFT;
    p = varint_put(p, ev->size);
    if (trace_kind_has_align(ev->kind)) p = varint_put(p, (uint64_t)__builtin_ctzll(ev->align));
    w->prev_obj = ev->obj;
  } else if (trace_op_has_obj(op)) {
    if (ev->obj == w->prev_obj)
      t |= TRACE_TAG_SAME_OBJ;
    else
      p = varint_put(p, zigzag_encode(ev->obj - w->prev_obj));
    switch (op) {
      case HL_OP_REALLOC:
        p = varint_put(p, ev->size);
        break;
      case HL_OP_READ:
      case HL_OP_WRITE:
        p = varint_put(p, ev->offset);
        p = varint_put(p, ev->size);
        break;
      case HL_OP_LINK:
        p = varint_put(p, ev->offset);
        p = varint_put(
            p, ev->target == HL_TRACE_NO_OBJECT ? 0 : zigzag_encode(ev->target - ev->obj) + 1);
        break;
      case HL_OP_SEND:
      case HL_OP_SEND_PART:
        p = varint_put(p, ev->target);
        break;
      default: /* FREE */
        break;
    }
    w->prev_obj = ev->obj;
  } else if (op == HL_OP_BARRIER) {
    p = varint_put(p, ev->obj);
    p = varint_put(p, ev->size);
  }
  *tag = (uint8_t)t;
  w->len = (size_t)(p - w->buf);
  w->has_prev = true;
  w->prev_thread = ev->thread;
  return 0;
}

/* Finish the byte stream: END record, flush. 0 ok, -1 (err filled). */
static int writer_finish(hl_trace_writer_t *w) {
  char msg[TRACE_MSG_LEN];
  if (w->failed) return -1;
  if (!writer_is_valid(w)) return writer_fail(w, "internal error: writer state corrupt");
  if (trace_check_end(&w->check, msg)) return writer_fail(w, "%s", msg);
  if (writer_reserve(w, 1 + VARINT_MAX_LEN)) return -1;
  w->buf[w->len++] = TRACE_TAG_END;
  w->len = (size_t)(varint_put(w->buf + w->len, w->check.events) - w->buf);
  w->failed = true; /* from here on, only close's outcome matters */
  if (w->fd >= 0 && writer_flush(w)) return -1;
  return 0;
}

int hl_trace_writer_close(hl_trace_writer_t *w) {
  if (writer_finish(w)) return -1;
  if (w->tmp) {
    w->own_fd = false;
    if (close(w->fd) != 0) return writer_fail(w, "write error (close): %s", strerror(errno));
    if (rename(w->tmp, w->path) != 0)
      return writer_fail(w, "cannot rename %s to %s: %s", w->tmp, w->path, strerror(errno));
    free(w->tmp);
    w->tmp = NULL;
  }
  writer_free(w);
  return 0;
}

int trace_writer_close_mem(hl_trace_writer_t *w, uint8_t **data, size_t *len) {
  if (w->fd >= 0) return writer_fail(w, "internal error: not a memory writer");
  if (writer_finish(w)) return -1;
  *data = w->buf;
  *len = w->len;
  w->buf = NULL;
  writer_free(w);
  return 0;
}

void hl_trace_writer_abort(hl_trace_writer_t *w) {
  if (w) writer_free(w);
}
