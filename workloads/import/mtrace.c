/* ----------------------------------------------------------------------------
  workloads/import/mtrace.c: `hltrace import mtrace LOG -o TRACE`, glibc's
  MALLOC_TRACE text -> a one-thread trace.

  glibc (mtrace.c / malloc/mtrace-impl.c, checked against 2.36) writes:

    = Start
    @ ./prog:[0x401136] + 0x4052a0 0x10     malloc, calloc, memalign... (result, size)
    @ ./prog:[0x401150] - 0x4052a0          free (also realloc(p, 0))
    @ ./prog:[0x40116a] < 0x4052a0          realloc: the old block,
    @ ./prog:[0x40116a] > 0x4056e0 0x64     then the new one and its size
    @ ./prog:[0x40116a] ! 0x4052a0 0x64     a failed realloc (the block stays)
    = End

  The "@ CALLER" part is optional (it is absent when glibc cannot name the
  caller), addresses may be "(nil)", and "%#lx" prints a zero size as "0".
  glibc's tr_where prints CALLER as "DSO:[0xADDR]", "DSO:(SYM+0xOFF)[0xADDR]"
  (or "-0xOFF"), "(SYM+0xOFF)[0xADDR]" or "[0xADDR]", with the DSO's file
  name as it is: it may hold blanks, so the caller is found by the "[0x...]"
  that ends it, not by splitting on blanks (glibc's own mtrace Perl script
  splits, and misreads such lines). A failed call is "+ (nil) SIZE" (malloc,
  calloc, memalign, realloc(NULL, n)) or "! OLD SIZE" (realloc), with any
  SIZE (malloc(SIZE_MAX) is the usual way to fail): dropped and counted.
  A log that does not end in a newline was cut while being written or
  copied: its last line may be a prefix of the real one that still parses
  ("0x446" cut to "0x44"), so it is an error, never imported.
  mtrace does not say which call made a block, so every alloc is a malloc,
  and it has no threads: everything is thread 0. Since glibc 2.34 mtrace()
  only does something when libc_malloc_debug.so is preloaded
  (RECORDING.md).
---------------------------------------------------------------------------- */
#include "workloads/import/import_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mtrace_import_s {
  const char *path;
  const char *data;
  size_t len;
  hl_import_stats_t st;
  hl_trace_error_t *err;
} mtrace_import_t;

/* A line being parsed: its tokens, for error messages its number and start. */
typedef struct mtrace_line_s {
  const char *p, *end;
  uint64_t number, offset;
} mtrace_line_t;

/* The next space-separated token of the line, or NULL at its end. */
static const char *mtrace_token(mtrace_line_t *l, size_t *n) {
  while (l->p < l->end && (*l->p == ' ' || *l->p == '\t')) l->p++;
  if (l->p == l->end) return NULL;
  const char *t = l->p;
  while (l->p < l->end && *l->p != ' ' && *l->p != '\t') l->p++;
  *n = (size_t)(l->p - t);
  return t;
}

/* A hex number ("0x..." or bare hex digits, as "%#lx" prints 0), or "(nil)". */
static bool mtrace_hex(const char *t, size_t n, uint64_t *v) {
  if (n == 5 && memcmp(t, "(nil)", 5) == 0) return *v = 0, true;
  if (n > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t += 2, n -= 2;
  if (n == 0 || n > 16) return false;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return false;
    x = x << 4 | (uint64_t)d;
  }
  *v = x;
  return true;
}

static int mtrace_bad(mtrace_import_t *im, const mtrace_line_t *l, hl_import_sink_t *s,
                      const char *what) {
  return hl_import_fail(im->err, im->path, l->offset, s->events, l->number, "%s", what);
}

/* Skip the caller after "@" (l->p just past it): it runs to the last ']' of
   the line, since the operation after it has none, and that ']' must close
   "[0x...]" right after ':' or ')' (or the "@ [0x...]" of an unnamed DSO),
   then a blank. false when the line has no such caller. */
static bool mtrace_caller(mtrace_line_t *l) {
  const char *start = l->p;
  while (start < l->end && (*start == ' ' || *start == '\t')) start++;
  const char *close = l->end;
  while (close > start && close[-1] != ']') close--;
  if (close == start) return false;
  close--; /* at the ']' */
  const char *open = close;
  while (open > start && open[-1] != '[') open--;
  if (open == start) return false;
  open--; /* at the '[' */
  uint64_t addr;
  size_t n = (size_t)(close - open - 1);
  if (n < 3 || open[1] != '0' || open[2] != 'x' || !mtrace_hex(open + 1, n, &addr)) return false;
  if (open != start && open[-1] != ':' && open[-1] != ')') return false;
  if (close + 1 < l->end && close[1] != ' ' && close[1] != '\t') return false;
  l->p = close + 1;
  return true;
}

static int mtrace_pass(void *ctx, hl_import_sink_t *s) {
  mtrace_import_t *im = ctx;
  hl_import_map_t map;
  hl_import_map_init(&map);
  memset(&im->st, 0, sizeof im->st);
  uint64_t next_obj = 0;
  bool started = false, pending = false; /* pending: a '<' waits for its '>' */
  uint64_t pending_obj = HL_IMPORT_NONE;
  mtrace_line_t pending_line = {0};
  int rc = 0;
  mtrace_line_t l = {.p = im->data};
  for (size_t pos = 0; pos < im->len && rc == 0;) {
    const char *nl = memchr(im->data + pos, '\n', im->len - pos);
    size_t end = nl ? (size_t)(nl - im->data) : im->len;
    l = (mtrace_line_t){
        .p = im->data + pos, .end = im->data + end, .number = l.number + 1, .offset = pos};
    pos = end + 1;
    if (!nl) { /* a cut last line may still parse, as another record */
      rc = hl_import_fail(im->err, im->path, im->len, s->events, l.number,
                          "log truncated: expected a newline to end line %" PRIu64
                          " (from byte %" PRIu64 "), got the end of the file",
                          l.number, l.offset);
      break;
    }
    if (l.end > l.p && l.end[-1] == '\r') l.end--;
    size_t n;
    const char *t = mtrace_token(&l, &n);
    if (!t) continue;                    /* blank line */
    if (n == 1 && t[0] == '=') continue; /* "= Start", "= End" */
    if (n == 1 && t[0] == '@') {         /* the caller: not part of the trace */
      if (!mtrace_caller(&l)) {
        size_t shown = (size_t)(l.end - (im->data + l.offset));
        rc = hl_import_fail(im->err, im->path, l.offset, s->events, l.number,
                            "expected a caller ending in ':[0x...]' or ')[0x...]' and a blank "
                            "after '@', got '%.*s'%s",
                            (int)(shown > 80 ? 80 : shown), im->data + l.offset,
                            shown > 80 ? "..." : "");
        break;
      }
      t = mtrace_token(&l, &n);
    }
    if (!t || n != 1 || !strchr("+-<>!", t[0])) {
      rc = mtrace_bad(im, &l, s, "expected an operation: '+', '-', '<', '>' or '!'");
      break;
    }
    char op = t[0];
    uint64_t addr = 0, size = 0;
    bool has_size = op == '+' || op == '>' || op == '!';
    if (!(t = mtrace_token(&l, &n)) || !mtrace_hex(t, n, &addr)) {
      rc = mtrace_bad(im, &l, s, "expected an address (0x... or (nil))");
      break;
    }
    if (has_size && (!(t = mtrace_token(&l, &n)) || !mtrace_hex(t, n, &size))) {
      rc = mtrace_bad(im, &l, s, "expected a size in hex (0x...)");
      break;
    }
    if (mtrace_token(&l, &n)) {
      rc = mtrace_bad(im, &l, s, "unexpected text after the operation");
      break;
    }
    if (pending != (op == '>')) {
      rc = mtrace_bad(im, &l, s,
                      pending ? "expected '>' (the new block) after a '<' line"
                              : "'>' without the '<' line before it");
      break;
    }
    if (op == '>' && !addr) { /* a map key must be nonzero, and glibc never logs it */
      rc = mtrace_bad(im, &l, s, "'>' with a null address (a failed realloc is logged as '!')");
      break;
    }
    /* Only a block that exists must fit a trace: a failed call ("+ (nil)",
       "!") asked for any size and is dropped below. */
    if (((op == '+' && addr) || op == '>') && size > HL_TRACE_MAX_SIZE) {
      rc = mtrace_bad(im, &l, s, "size over 2^48");
      break;
    }
    im->st.records++;
    if (!started) {
      hl_event_t start = {.op = HL_OP_THREAD_START};
      if ((rc = hl_import_emit(s, &start))) break;
      started = true;
    }
    hl_event_t ev = {0};
    uint64_t obj;
    switch (op) {
      case '+':
        if (!addr) {
          im->st.failed++;
          break;
        }
        if (hl_import_map_del(&map, addr) != HL_IMPORT_NONE) im->st.reused_live++;
        ev = (hl_event_t){.op = HL_OP_ALLOC, .obj = next_obj++, .size = size};
        rc = hl_import_map_put(&map, addr, ev.obj) ? -1 : hl_import_emit(s, &ev);
        break;
      case '-':
        if (!addr) {
          im->st.null_frees++;
          break;
        }
        obj = hl_import_map_del(&map, addr);
        if (obj == HL_IMPORT_NONE) {
          im->st.unknown++;
          break;
        }
        ev = (hl_event_t){.op = HL_OP_FREE, .obj = obj};
        rc = hl_import_emit(s, &ev);
        break;
      case '<':
        pending = true;
        pending_obj = hl_import_map_del(&map, addr);
        pending_line = l;
        break;
      case '>':
        pending = false;
        if (hl_import_map_del(&map, addr) != HL_IMPORT_NONE) im->st.reused_live++;
        if (pending_obj == HL_IMPORT_NONE) {
          /* The block was allocated before tracing started: the program
             holds `size` bytes from here on, an allocation in the trace. */
          im->st.untraced_reallocs++;
          ev = (hl_event_t){.op = HL_OP_ALLOC, .obj = next_obj++, .size = size};
        } else {
          ev = (hl_event_t){.op = HL_OP_REALLOC, .obj = pending_obj, .size = size};
        }
        rc = hl_import_map_put(&map, addr, ev.obj) ? -1 : hl_import_emit(s, &ev);
        break;
      case '!': /* failed realloc: nothing changed */
        im->st.failed++;
        break;
    }
  }
  if (rc == 0 && pending)
    rc = mtrace_bad(im, &pending_line, s, "'<' line without the '>' line after it");
  if (rc && !im->err->message[0])
    hl_import_fail(im->err, im->path, 0, 0, 0, "out of memory building the address map");
  hl_import_map_free(&map);
  im->st.threads = 1;
  return rc;
}

int hl_import_mtrace(const char *in, const char *out, hl_import_stats_t *stats,
                     hl_trace_error_t *err) {
  trace_file_t file;
  if (trace_file_load(in, trace_display_name(in), &file, err) != 0) return -1;
  memset(err, 0, sizeof *err);
  mtrace_import_t im = {.path = in, .data = (const char *)file.data, .len = file.len, .err = err};
  hl_import_sink_t count = {.err = err};
  int rc = mtrace_pass(&im, &count);
  if (rc == 0) {
    char meta[256];
    snprintf(meta, sizeof meta,
             "tool=hltrace import mtrace\nimport.unknown_dropped=%" PRIu64
             "\nimport.null_frees=%" PRIu64 "\nimport.failed=%" PRIu64
             "\nimport.untraced_reallocs=%" PRIu64 "\n",
             im.st.unknown, im.st.null_frees, im.st.failed, im.st.untraced_reallocs);
    rc = hl_import_write(out, 1, meta, mtrace_pass, &im, stats, err);
    if (rc == 0) {
      uint64_t events = stats->events;
      *stats = im.st;
      stats->events = events;
    }
  }
  trace_file_release(&file);
  return rc;
}
