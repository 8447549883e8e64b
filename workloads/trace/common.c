/* ----------------------------------------------------------------------------
  workloads/trace/common.c: what the trace reader, writer and text form share
  besides the validator: op names, error filling and printing, meta
  validation, and loading a whole file into memory.
---------------------------------------------------------------------------- */
#include "workloads/trace/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const op_names[HL_OP_COUNT] = {
    [HL_OP_ALLOC] = "alloc",     [HL_OP_FREE] = "free",          [HL_OP_REALLOC] = "realloc",
    [HL_OP_READ] = "read",       [HL_OP_WRITE] = "write",        [HL_OP_LINK] = "link",
    [HL_OP_SEND] = "send",       [HL_OP_THREAD_START] = "start", [HL_OP_THREAD_END] = "end",
    [HL_OP_BARRIER] = "barrier", [HL_OP_SEND_PART] = "sendpart",
};

const char *hl_op_name(hl_op_t op) {
  return (unsigned)op < HL_OP_COUNT ? op_names[op] : "?";
}

void trace_error_vset(hl_trace_error_t *err, const char *file, uint64_t offset, uint64_t event,
                      uint64_t line, const char *fmt, va_list ap) {
  if (!err) return;
  memset(err, 0, sizeof *err);
  snprintf(err->file, sizeof err->file, "%s", file ? file : "<memory>");
  err->offset = offset;
  err->event = event;
  err->line = line;
  vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void trace_error_set(hl_trace_error_t *err, const char *file, uint64_t offset, uint64_t event,
                     uint64_t line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  trace_error_vset(err, file, offset, event, line, fmt, ap);
  va_end(ap);
}

void hl_trace_error_print(FILE *out, const hl_trace_error_t *err) {
  /* "FILE:LINE:" for text is the compiler convention: editors jump to it. */
  if (err->line)
    fprintf(out, "%s:%llu: byte %llu, event %llu: %s\n", err->file, (unsigned long long)err->line,
            (unsigned long long)err->offset, (unsigned long long)err->event, err->message);
  else
    fprintf(out, "%s: byte %llu, event %llu: %s\n", err->file, (unsigned long long)err->offset,
            (unsigned long long)err->event, err->message);
}

static bool meta_key_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

int trace_meta_check(const char *meta, size_t len, size_t *bad_at, char *msg, size_t msg_len) {
  size_t i = 0;
  if (len > TRACE_MAX_META) {
    *bad_at = 0;
    snprintf(msg, msg_len, "meta is %zu bytes, more than the limit of %u", len,
             (unsigned)TRACE_MAX_META);
    return -1;
  }
  while (i < len) {
    size_t key = i;
    while (i < len && meta_key_char((unsigned char)meta[i])) i++;
    if (i == key || i == len || meta[i] != '=') {
      *bad_at = i;
      if (i == len)
        snprintf(msg, msg_len, "meta: expected a key ([A-Za-z0-9_.-]+) and '=', found the end");
      else
        snprintf(msg, msg_len,
                 "meta: expected %s, found byte 0x%02x (lines are key=value, keys [A-Za-z0-9_.-]+)",
                 i == key ? "a key" : "'='", (unsigned char)meta[i]);
      return -1;
    }
    for (i++; i < len && meta[i] != '\n'; i++) {
      if (meta[i] == '\0' || meta[i] == '\r') {
        *bad_at = i;
        snprintf(msg, msg_len, "meta: %s byte in a value",
                 meta[i] ? "carriage return (\\r)" : "NUL");
        return -1;
      }
    }
    if (i == len) {
      *bad_at = i;
      snprintf(msg, msg_len, "meta: the last line does not end with a newline");
      return -1;
    }
    i++; /* the newline */
  }
  return 0;
}

const char *trace_display_name(const char *path) {
  return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

void *trace_map_grow(void *p, size_t old_bytes, size_t new_bytes) {
  void *q = p ? mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE)
              : mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return q == MAP_FAILED ? NULL : q;
}

void trace_map_free(void *p, size_t bytes) {
  if (p) munmap(p, bytes);
}

/* read() everything from fd: pipes and terminals have no size to mmap. */
static int file_read_all(int fd, trace_file_t *f) {
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = trace_map_grow(NULL, 0, cap);
  if (!buf) return ENOMEM;
  for (;;) {
    if (len == cap) {
      uint8_t *bigger = cap <= SIZE_MAX / 2 ? trace_map_grow(buf, cap, cap * 2) : NULL;
      if (!bigger) {
        trace_map_free(buf, cap);
        return ENOMEM;
      }
      buf = bigger, cap *= 2;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      trace_map_free(buf, cap);
      return e;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  f->owned = buf;
  f->owned_cap = cap;
  f->data = buf;
  f->len = len;
  return 0;
}

int trace_file_load(const char *path, const char *name, trace_file_t *f, hl_trace_error_t *err) {
  memset(f, 0, sizeof *f);
  static const uint8_t empty[1];
  f->data = empty;
  bool is_stdin = strcmp(path, "-") == 0;
  int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    trace_error_set(err, name, 0, 0, 0, "cannot open: %s", strerror(errno));
    return -1;
  }
  struct stat st;
  int e = 0;
  if (fstat(fd, &st) != 0) {
    e = errno;
  } else if (S_ISDIR(st.st_mode)) {
    e = EISDIR;
  } else if (S_ISREG(st.st_mode) && st.st_size > 0) {
    /* A regular file is mapped: no copy, and the kernel reads ahead. */
    if ((uint64_t)st.st_size > SIZE_MAX) {
      e = EFBIG;
    } else {
      void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
        e = errno;
      } else {
        madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
        f->map = m;
        f->map_len = (size_t)st.st_size;
        f->data = m;
        f->len = (size_t)st.st_size;
      }
    }
  } else if (!S_ISREG(st.st_mode)) {
    e = file_read_all(fd, f);
  }
  if (!is_stdin) close(fd);
  if (e) {
    trace_error_set(err, name, 0, 0, 0, "cannot read: %s", strerror(e));
    return -1;
  }
  return 0;
}

void trace_file_release(trace_file_t *f) {
  if (f->map) munmap(f->map, f->map_len);
  trace_map_free(f->owned, f->owned_cap);
  memset(f, 0, sizeof *f);
}
