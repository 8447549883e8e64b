/* ----------------------------------------------------------------------------
  workloads/trace/text.c: the text form of traces, for people (FORMAT.md,
  "Text form"): hl_trace_dump (binary -> text) and hl_trace_pack (text ->
  binary).

  In text, object ids are labels chosen by whoever wrote the text; pack maps
  each alloc's label to the next dense id, and a label may be reused once
  its object is freed. Dump prints the dense ids themselves, so
  pack(dump(bin)) reproduces bin byte for byte; for that the header line
  names the format version and pack writes that version (1 or 2). Pack feeds the events to the
  ordinary writer, so text is validated by the same rules as binary traces;
  errors name the line.
---------------------------------------------------------------------------- */
#include "workloads/trace/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ dump -- */

/* Decimal digits of v at the end of buf[21]; returns the first digit. */
static char *dump_u64(char *end, uint64_t v) {
  char *p = end;
  do *--p = (char)('0' + v % 10);
  while (v /= 10);
  return p;
}

/* Append " N" to the line being built at *pp. */
static void dump_num(char **pp, uint64_t v) {
  char digits[21], *d = dump_u64(digits + sizeof digits, v);
  size_t n = (size_t)(digits + sizeof digits - d);
  *(*pp)++ = ' ';
  memcpy(*pp, d, n);
  *pp += n;
}

static void dump_word(char **pp, const char *word) {
  size_t n = strlen(word);
  *(*pp)++ = ' ';
  memcpy(*pp, word, n);
  *pp += n;
}

int trace_dump_reader(hl_trace_reader_t *r, FILE *out, hl_trace_error_t *err) {
  const hl_trace_header_t *h = hl_trace_header(r);
  fprintf(out, "heaplab-trace %" PRIu32 "\nthreads %" PRIu32 "\n", h->version, h->threads);
  /* meta "key=value\n" -> "meta key value" (validated: every line has '='). */
  for (const char *m = h->meta, *end = h->meta + h->meta_len; m < end;) {
    const char *eq = memchr(m, '=', (size_t)(end - m));
    const char *nl = memchr(eq, '\n', (size_t)(end - eq));
    fprintf(out, "meta %.*s %.*s\n", (int)(eq - m), m, (int)(nl - eq - 1), eq + 1);
    m = nl + 1;
  }
  hl_event_t ev;
  int rc;
  /* Lines are built by hand: fprintf per event would dominate the cost. */
  char line[8 + 6 * 21 + 32];
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    char *p = line;
    char digits[21], *d = dump_u64(digits + sizeof digits, ev.thread);
    memcpy(p, d, (size_t)(digits + sizeof digits - d));
    p += digits + sizeof digits - d;
    if (ev.op == HL_OP_ALLOC)
      dump_word(&p, hl_alloc_kind_name(ev.kind));
    else
      dump_word(&p, hl_op_name(ev.op));
    switch (ev.op) {
      case HL_OP_ALLOC:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.size);
        if (trace_kind_has_align(ev.kind)) dump_num(&p, ev.align);
        break;
      case HL_OP_FREE:
        dump_num(&p, ev.obj);
        break;
      case HL_OP_REALLOC:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.size);
        break;
      case HL_OP_READ:
      case HL_OP_WRITE:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.offset);
        dump_num(&p, ev.size);
        break;
      case HL_OP_LINK:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.offset);
        if (ev.target == HL_TRACE_NO_OBJECT)
          dump_word(&p, "null");
        else
          dump_num(&p, ev.target);
        break;
      case HL_OP_SEND:
      case HL_OP_SEND_PART:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.target);
        break;
      case HL_OP_BARRIER:
        dump_num(&p, ev.obj);
        dump_num(&p, ev.size);
        break;
      default: /* start, end */
        break;
    }
    *p++ = '\n';
    fwrite(line, 1, (size_t)(p - line), out);
  }
  if (rc < 0) {
    if (err) *err = *hl_trace_reader_error(r);
    return -1;
  }
  if (fflush(out) != 0 || ferror(out)) {
    trace_error_set(err, hl_trace_reader_error(r)->file, 0, hl_trace_events_read(r), 0,
                    "write error on the text output: %s", strerror(errno));
    return -1;
  }
  return 0;
}

int hl_trace_dump(const char *in_path, FILE *out, hl_trace_error_t *err) {
  hl_trace_reader_t *r = hl_trace_open(in_path, err);
  if (!r) return -1;
  int rc = trace_dump_reader(r, out, err);
  hl_trace_close(r);
  return rc;
}

/* ------------------------------------------------------------ label map -- */

/* Text label -> dense object id. Text made by dump uses the ids themselves
   as labels; while every alloc's label equals its new id ("identity mode")
   nothing is stored at all, and labels below ident_limit map to themselves
   unless the table says otherwise. Anything else goes to an open-addressing
   table (linear probing, at most half full). */
typedef struct label_slot_s {
  uint64_t label;
  uint64_t id_plus1; /* 0: empty slot */
} label_slot_t;

typedef struct label_map_s {
  label_slot_t *slot;
  size_t cap, used; /* cap is 0 or a power of two */
  bool ident_broken;
  uint64_t ident_limit;
} label_map_t;

static size_t label_hash(uint64_t x) {
  x ^= x >> 30, x *= UINT64_C(0xbf58476d1ce4e5b9);
  x ^= x >> 27, x *= UINT64_C(0x94d049bb133111eb);
  return (size_t)(x ^ (x >> 31));
}

/* The id a label names now; false when it names nothing. */
static bool label_get(const label_map_t *m, uint64_t label, uint64_t *id) {
  if (m->cap) {
    for (size_t i = label_hash(label) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
      if (!m->slot[i].id_plus1) break;
      if (m->slot[i].label == label) {
        *id = m->slot[i].id_plus1 - 1;
        return true;
      }
    }
  }
  if (label < m->ident_limit) {
    *id = label;
    return true;
  }
  return false;
}

static int label_put_slot(label_slot_t *slot, size_t cap, uint64_t label, uint64_t id) {
  size_t i = label_hash(label) & (cap - 1);
  while (slot[i].id_plus1 && slot[i].label != label) i = (i + 1) & (cap - 1);
  int fresh = !slot[i].id_plus1;
  slot[i] = (label_slot_t){label, id + 1};
  return fresh;
}

/* Bind label to the new object `id`. 0 ok, -1 out of memory. */
static int label_bind(label_map_t *m, uint64_t label, uint64_t id) {
  if (!m->ident_broken && label == id && m->used == 0) {
    m->ident_limit = id + 1;
    return 0;
  }
  m->ident_broken = true;
  if (2 * (m->used + 1) > m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 1024;
    label_slot_t *slot = cap <= SIZE_MAX / sizeof *slot ? calloc(cap, sizeof *slot) : NULL;
    if (!slot) return -1;
    for (size_t i = 0; i < m->cap; i++)
      if (m->slot[i].id_plus1) label_put_slot(slot, cap, m->slot[i].label, m->slot[i].id_plus1 - 1);
    free(m->slot);
    m->slot = slot;
    m->cap = cap;
  }
  m->used += (size_t)label_put_slot(m->slot, m->cap, label, id);
  return 0;
}

/* ------------------------------------------------------------------ pack -- */

typedef struct text_s {
  const char *name;
  const char *text, *p, *end;   /* whole input; next line; end */
  const char *line, *eol, *cur; /* current line [line, eol); tokenizer position */
  uint64_t lineno;
  uint64_t events; /* events written so far */
  hl_trace_error_t *err;
} text_t;

__attribute__((format(printf, 2, 3))) static int text_fail(text_t *t, const char *fmt, ...) {
  char msg[TRACE_MSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  trace_error_set(t->err, t->name, (uint64_t)(t->line - t->text), t->events, t->lineno, "%s", msg);
  return -1;
}

static bool text_next_line(text_t *t) {
  if (t->p == t->end) return false;
  t->line = t->cur = t->p;
  t->eol = memchr(t->p, '\n', (size_t)(t->end - t->p));
  if (!t->eol) t->eol = t->end;
  t->p = t->eol < t->end ? t->eol + 1 : t->end;
  t->lineno++;
  return true;
}

static bool text_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Next token of the line; false at the end of the line or a comment. */
static bool text_token(text_t *t, const char **tok, size_t *len) {
  while (t->cur < t->eol && text_space(*t->cur)) t->cur++;
  if (t->cur == t->eol || *t->cur == '#') return false;
  *tok = t->cur;
  while (t->cur < t->eol && !text_space(*t->cur) && *t->cur != '#') t->cur++;
  *len = (size_t)(t->cur - *tok);
  return true;
}

/* A token made safe to quote in a message: at most 24 bytes, controls as '?'. */
static const char *text_quote(const char *tok, size_t len, char buf[32]) {
  size_t n = len < 24 ? len : 24;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)tok[i];
    buf[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
  }
  strcpy(buf + n, len > n ? "..." : "");
  return buf;
}

static bool text_is(const char *tok, size_t len, const char *word) {
  return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* A decimal number token; `what` says what was expected. */
static int text_u64(text_t *t, const char *what, uint64_t *v) {
  const char *tok;
  size_t len;
  char q[32];
  if (!text_token(t, &tok, &len))
    return text_fail(t, "expected %s (a decimal number), found the end of the line", what);
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)tok[i] - '0';
    if (d > 9)
      return text_fail(t, "expected %s (a decimal number), found '%s'", what,
                       text_quote(tok, len, q));
    if (x > (UINT64_MAX - d) / 10)
      return text_fail(t, "%s '%s' does not fit in 64 bits", what, text_quote(tok, len, q));
    x = x * 10 + d;
  }
  *v = x;
  return 0;
}

static int text_line_end(text_t *t, const char *after) {
  const char *tok;
  size_t len;
  char q[32];
  if (text_token(t, &tok, &len))
    return text_fail(t, "unexpected '%s' after %s (expected the end of the line)",
                     text_quote(tok, len, q), after);
  return 0;
}

/* The next non-blank, non-comment line; false at the end of the text. */
static bool text_next_significant(text_t *t, const char **tok, size_t *len) {
  while (text_next_line(t))
    if (text_token(t, tok, len)) return true;
  return false;
}

/* "meta KEY VALUE": VALUE is the rest of the line after one space, verbatim. */
static int text_meta(text_t *t, char **meta, size_t *meta_len, size_t *meta_cap) {
  while (t->cur < t->eol && text_space(*t->cur)) t->cur++;
  const char *key = t->cur;
  while (t->cur < t->eol &&
         ((*t->cur >= 'a' && *t->cur <= 'z') || (*t->cur >= 'A' && *t->cur <= 'Z') ||
          (*t->cur >= '0' && *t->cur <= '9') || *t->cur == '_' || *t->cur == '.' || *t->cur == '-'))
    t->cur++;
  size_t key_len = (size_t)(t->cur - key);
  if (!key_len) return text_fail(t, "expected a meta key ([A-Za-z0-9_.-]+) after 'meta'");
  if (t->cur < t->eol) {
    if (*t->cur != ' ' && *t->cur != '\t')
      return text_fail(t, "meta key: expected [A-Za-z0-9_.-] or a space, found byte 0x%02x",
                       (unsigned char)*t->cur);
    t->cur++;
  }
  const char *value = t->cur;
  size_t value_len = (size_t)(t->eol - value);
  if (value_len && value[value_len - 1] == '\r') value_len--; /* a CRLF line end */
  if (memchr(value, '\0', value_len)) return text_fail(t, "NUL byte in a meta value");
  if (memchr(value, '\r', value_len))
    return text_fail(t, "carriage return (\\r) inside a meta value");
  size_t need = *meta_len + key_len + value_len + 2;
  if (need > TRACE_MAX_META)
    return text_fail(t, "meta lines exceed %u bytes in all", (unsigned)TRACE_MAX_META);
  if (need + 1 > *meta_cap) {
    size_t cap = *meta_cap ? *meta_cap : 256;
    while (cap < need + 1) cap *= 2;
    char *bigger = realloc(*meta, cap);
    if (!bigger) return text_fail(t, "out of memory");
    *meta = bigger;
    *meta_cap = cap;
  }
  char *m = *meta + *meta_len;
  memcpy(m, key, key_len);
  m[key_len] = '=';
  memcpy(m + key_len + 1, value, value_len);
  m[key_len + 1 + value_len] = '\n';
  *meta_len = need;
  (*meta)[need] = '\0';
  return 0;
}

typedef struct pack_s {
  text_t t;
  label_map_t labels;
  hl_trace_writer_t *w;
} pack_t;

/* The object a label names now, for events that use an existing object. */
static int pack_label(pack_t *k, const char *what, uint64_t *id, uint64_t *label_out) {
  uint64_t label;
  if (text_u64(&k->t, what, &label)) return -1;
  *label_out = label;
  if (!label_get(&k->labels, label, id))
    return text_fail(&k->t, "%s %" PRIu64 " names no object (no alloc with that label so far)",
                     what, label);
  return 0;
}

static int pack_event(pack_t *k, const char *tok, size_t len) {
  text_t *t = &k->t;
  hl_event_t ev = {0};
  uint64_t v, label = 0;
  char q[32], op_name[32];
  t->cur = tok; /* re-read the thread token as a number */
  if (text_u64(t, "a thread number", &v)) return -1;
  if (v > UINT32_MAX) return text_fail(t, "thread %" PRIu64 " out of range", v);
  ev.thread = (uint32_t)v;
  if (!text_token(t, &tok, &len))
    return text_fail(t, "expected an op after the thread (start, end, malloc, free, ...)");
  snprintf(op_name, sizeof op_name, "%.*s", (int)(len < 31 ? len : 31), tok);
  hl_alloc_kind_t kind = len < 31 ? hl_alloc_kind_parse(op_name) : HL_KIND_COUNT;
  if (kind != HL_KIND_COUNT) {
    ev.op = HL_OP_ALLOC;
    ev.kind = kind;
    if (text_u64(t, "an object label", &label) || text_u64(t, "a size", &ev.size)) return -1;
    if (trace_kind_has_align(kind) && text_u64(t, "an alignment (bytes)", &ev.align)) return -1;
    ev.obj = hl_trace_writer_next_id(k->w);
    uint64_t old;
    if (label_get(&k->labels, label, &old) && trace_writer_obj_live(k->w, old))
      return text_fail(t,
                       "object label %" PRIu64 " still names live object %" PRIu64
                       " (free it before reusing the label)",
                       label, old);
  } else if (text_is(tok, len, "start") || text_is(tok, len, "end")) {
    ev.op = text_is(tok, len, "start") ? HL_OP_THREAD_START : HL_OP_THREAD_END;
  } else if (text_is(tok, len, "barrier")) {
    ev.op = HL_OP_BARRIER;
    if (text_u64(t, "a barrier number", &ev.obj) || text_u64(t, "a participant count", &ev.size))
      return -1;
  } else {
    static const struct {
      const char *name;
      hl_op_t op;
    } obj_ops[] = {{"free", HL_OP_FREE},         {"realloc", HL_OP_REALLOC}, {"read", HL_OP_READ},
                   {"write", HL_OP_WRITE},       {"link", HL_OP_LINK},       {"send", HL_OP_SEND},
                   {"sendpart", HL_OP_SEND_PART}};
    size_t i = 0;
    while (i < sizeof obj_ops / sizeof obj_ops[0] && !text_is(tok, len, obj_ops[i].name)) i++;
    if (i == sizeof obj_ops / sizeof obj_ops[0])
      return text_fail(t,
                       "unknown op '%s' (expected start, end, malloc, calloc, memalign, "
                       "posix_memalign, aligned_alloc, valloc, pvalloc, free, realloc, read, "
                       "write, link, send, sendpart or barrier)",
                       text_quote(tok, len, q));
    ev.op = obj_ops[i].op;
    if (pack_label(k, "an object label", &ev.obj, &label)) return -1;
    switch (ev.op) {
      case HL_OP_REALLOC:
        if (text_u64(t, "a size", &ev.size)) return -1;
        break;
      case HL_OP_READ:
      case HL_OP_WRITE:
        if (text_u64(t, "an offset", &ev.offset) || text_u64(t, "a length", &ev.size)) return -1;
        break;
      case HL_OP_LINK: {
        if (text_u64(t, "a field offset", &ev.offset)) return -1;
        const char *save = t->cur;
        if (text_token(t, &tok, &len) && text_is(tok, len, "null")) {
          ev.target = HL_TRACE_NO_OBJECT;
        } else {
          t->cur = save;
          uint64_t target_label;
          if (pack_label(k, "a target object label (or null)", &ev.target, &target_label))
            return -1;
        }
        break;
      }
      case HL_OP_SEND:
      case HL_OP_SEND_PART:
        if (text_u64(t, "a destination thread", &ev.target)) return -1;
        break;
      default: /* free */
        break;
    }
  }
  if (text_line_end(t, "the event")) return -1;
  if (hl_trace_write(k->w, &ev)) {
    /* The validator speaks of dense ids; say which one the label named. */
    const char *why = hl_trace_writer_error(k->w)->message;
    if (trace_op_has_obj(ev.op) && label != ev.obj)
      return text_fail(t, "%s (label %" PRIu64 " is object %" PRIu64 " here)", why, label, ev.obj);
    return text_fail(t, "%s", why);
  }
  if (ev.op == HL_OP_ALLOC && label_bind(&k->labels, label, ev.obj))
    return text_fail(t, "out of memory for object labels");
  t->events++;
  return 0;
}

hl_trace_writer_t *trace_pack_mem(const char *text, size_t len, const char *name,
                                  trace_open_writer_fn open_writer, void *ctx,
                                  hl_trace_error_t *err) {
  static const char empty[1];
  pack_t k = {.t = {.name = name, .text = text ? text : empty, .err = err}};
  text_t *t = &k.t;
  t->p = t->line = t->eol = t->cur = t->text;
  t->end = t->text + len;
  char *meta = NULL, q[32];
  size_t meta_len = 0, meta_cap = 0;
  const char *tok;
  size_t tok_len;
  uint64_t version, threads = 0;
  int rc = -1;

  if (!text_next_significant(t, &tok, &tok_len) || !text_is(tok, tok_len, "heaplab-trace")) {
    if (t->lineno == 0) t->lineno = 1;
    text_fail(t, "expected the header line 'heaplab-trace 2' (or 1)%s",
              t->line == t->eol ? ", found the end of the text" : "");
    goto out;
  }
  if (text_u64(t, "the text format version", &version)) goto out;
  if (version < HL_TRACE_MIN_VERSION || version > HL_TRACE_VERSION) {
    text_fail(t, "unsupported text trace version %" PRIu64 " (this reader supports %d to %d)",
              version, HL_TRACE_MIN_VERSION, HL_TRACE_VERSION);
    goto out;
  }
  if (text_line_end(t, "the header")) goto out;
  if (!text_next_significant(t, &tok, &tok_len) || !text_is(tok, tok_len, "threads")) {
    text_fail(t, "expected 'threads N' after the header line");
    goto out;
  }
  if (text_u64(t, "the thread count", &threads) || text_line_end(t, "the thread count")) goto out;
  if (threads == 0 || threads > HL_TRACE_MAX_THREADS) {
    text_fail(t, "thread count %" PRIu64 " (must be 1..%d)", threads, HL_TRACE_MAX_THREADS);
    goto out;
  }
  for (;;) {
    bool more = text_next_significant(t, &tok, &tok_len);
    if (more && text_is(tok, tok_len, "meta")) {
      if (k.w) {
        text_fail(t, "meta lines must come before the first event");
        goto out;
      }
      if (text_meta(t, &meta, &meta_len, &meta_cap)) goto out;
      continue;
    }
    if (!k.w) {
      k.w = open_writer(ctx, (uint32_t)threads, meta, (uint32_t)version, err);
      if (!k.w) goto out;
    }
    if (!more) {
      char msg[TRACE_MSG_LEN];
      if (trace_writer_check_end(k.w, msg)) {
        text_fail(t, "at the end of the text: %s", msg);
        goto out;
      }
      break;
    }
    if ((unsigned char)(*tok - '0') > 9) {
      text_fail(t, "expected an event 'THREAD OP ARGS...' or 'meta KEY VALUE', found '%s'",
                text_quote(tok, tok_len, q));
      goto out;
    }
    if (pack_event(&k, tok, tok_len)) goto out;
  }
  rc = 0;
out:
  free(meta);
  free(k.labels.slot);
  if (rc && k.w) {
    hl_trace_writer_abort(k.w);
    k.w = NULL;
  }
  return k.w;
}

static hl_trace_writer_t *pack_open_file(void *ctx, uint32_t threads, const char *meta,
                                         uint32_t version, hl_trace_error_t *err) {
  return trace_writer_open_version((const char *)ctx, threads, meta, version, err);
}

int hl_trace_pack(const char *in_path, const char *out_path, hl_trace_error_t *err) {
  const char *name = trace_display_name(in_path);
  trace_file_t f;
  if (trace_file_load(in_path, name, &f, err)) return -1;
  hl_trace_writer_t *w =
      trace_pack_mem((const char *)f.data, f.len, name, pack_open_file, (void *)out_path, err);
  trace_file_release(&f);
  if (!w) return -1;
  if (hl_trace_writer_close(w)) {
    if (err) *err = *hl_trace_writer_error(w);
    hl_trace_writer_abort(w);
    return -1;
  }
  return 0;
}
