/* ----------------------------------------------------------------------------
  tests/test_trace.c: the trace format (workloads/trace/, FORMAT.md).

  Varint edge cases; every op and kind through the writer and back; binary ->
  text -> binary byte-identical; one hand-crafted file per class of malformed
  input, with the error's byte offset and event number computed by hand; the
  writer refusing invalid events; compactness (< 4 bytes/event on malloc/free
  traces); truncation at every byte position is always an error; text-form
  errors.

  HL_TRACE_BENCH=N (events, e.g. 10000000) additionally measures decoding
  speed of hl_trace_next and prints events/s.
---------------------------------------------------------------------------- */
#include "tests/check.h"
#include "workloads/trace.h"
#include "workloads/trace/internal.h"
#include "workloads/trace/varint.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[512];

static const char *tmp_path(const char *name) {
  static char path[4][600];
  static unsigned next;
  char *p = path[next++ % 4];
  if (snprintf(p, sizeof path[0], "%s/%s", tmpdir, name) >= (int)sizeof path[0]) {
    fprintf(stderr, "test_trace: temporary path too long: %s/%s\n", tmpdir, name);
    exit(1);
  }
  return p;
}

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  *len = n;
  return buf;
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Files in tmpdir whose names start with prefix. */
static int count_files(const char *prefix) {
  DIR *d = opendir(tmpdir);
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  if (d) closedir(d);
  return n;
}

/* Read a trace from memory to its end. 0 clean end, -1 error (*err). */
static int read_mem(const void *data, size_t len, hl_trace_error_t *err, uint64_t *events) {
  memset(err, 0, sizeof *err);
  hl_trace_reader_t *r = hl_trace_open_mem(data, len, "mem", err);
  if (!r) return -1;
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
  }
  if (rc < 0) *err = *hl_trace_reader_error(r);
  if (events) *events = hl_trace_events_read(r);
  /* Once finished, the reader keeps saying so. */
  CHECK(hl_trace_next(r, &ev) == rc, "hl_trace_next is not sticky after %d", rc);
  hl_trace_close(r);
  return rc;
}

/* ------------------------------------------------------------ varints -- */

static void test_varint(void) {
  static const struct {
    uint64_t v;
    unsigned len;
    uint8_t bytes[10];
  } cases[] = {
      {0, 1, {0x00}},
      {1, 1, {0x01}},
      {127, 1, {0x7f}},
      {128, 2, {0x80, 0x01}},
      {300, 2, {0xac, 0x02}},
      {16383, 2, {0xff, 0x7f}},
      {16384, 3, {0x80, 0x80, 0x01}},
      {UINT64_C(1) << 63, 10, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
      {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t buf[16];
    uint8_t *end = varint_put(buf, cases[i].v);
    CHECK((unsigned)(end - buf) == cases[i].len, "varint %" PRIu64 ": %d bytes", cases[i].v,
          (int)(end - buf));
    CHECK(varint_len(cases[i].v) == cases[i].len, "varint_len(%" PRIu64 ")", cases[i].v);
    CHECK(memcmp(buf, cases[i].bytes, cases[i].len) == 0, "varint %" PRIu64 " bytes", cases[i].v);
    const uint8_t *p = cases[i].bytes;
    uint64_t v = 12345;
    CHECK(varint_get(&p, cases[i].bytes + cases[i].len, &v) == VARINT_OK && v == cases[i].v &&
              p == cases[i].bytes + cases[i].len,
          "decode %" PRIu64 " -> %" PRIu64, cases[i].v, v);
    /* Every proper prefix is EOF, and leaves the position at the start. */
    for (unsigned n = 0; n < cases[i].len; n++) {
      p = cases[i].bytes;
      CHECK(varint_get(&p, cases[i].bytes + n, &v) == VARINT_EOF && p == cases[i].bytes,
            "prefix %u of %" PRIu64 " is EOF", n, cases[i].v);
    }
  }
  static const struct {
    uint8_t bytes[11];
    unsigned len;
    varint_status_t st;
  } bad[] = {
      {{0x80, 0x00}, 2, VARINT_NONCANONICAL},
      {{0xff, 0x00}, 2, VARINT_NONCANONICAL},
      {{0x81, 0x80, 0x00}, 3, VARINT_NONCANONICAL},
      {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 10, VARINT_NONCANONICAL},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 10, VARINT_OVERFLOW},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}, 11, VARINT_OVERFLOW},
      {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 10, VARINT_OVERFLOW},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const uint8_t *p = bad[i].bytes;
    uint64_t v;
    varint_status_t st = varint_get(&p, bad[i].bytes + bad[i].len, &v);
    CHECK(st == bad[i].st && p == bad[i].bytes, "bad varint %zu: status %d, expected %d", i, st,
          bad[i].st);
  }
  /* Random round trips, including every bit length. */
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (int i = 0; i < 10000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t v = x >> (i % 64);
    uint8_t buf[16];
    const uint8_t *p = buf;
    uint64_t got;
    uint8_t *end = varint_put(buf, v);
    if (varint_get(&p, end, &got) != VARINT_OK || got != v || p != end) {
      CHECK(false, "round trip of %" PRIu64, v);
      break;
    }
  }
  /* zigzag: small magnitudes get small codes, and it is a bijection. */
  CHECK(zigzag_encode(0) == 0 && zigzag_encode((uint64_t)-1) == 1 && zigzag_encode(1) == 2 &&
            zigzag_encode((uint64_t)-2) == 3,
        "zigzag small values");
  CHECK(zigzag_encode((uint64_t)INT64_MAX) == UINT64_MAX - 1 &&
            zigzag_encode((uint64_t)INT64_MIN) == UINT64_MAX,
        "zigzag extremes");
  uint64_t probes[] = {
      0, 1, 2, 3, UINT64_MAX, UINT64_MAX - 1, (uint64_t)INT64_MAX, (uint64_t)INT64_MIN, 123456789};
  for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++)
    CHECK(zigzag_decode(zigzag_encode(probes[i])) == probes[i] &&
              zigzag_encode(zigzag_decode(probes[i])) == probes[i],
          "zigzag bijection at %" PRIu64, probes[i]);
}

/* ----------------------------------------------------- every op, kind -- */

#define NO HL_TRACE_NO_OBJECT
static const hl_event_t all_events[] = {
    {.op = HL_OP_THREAD_START, .thread = 0},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_MALLOC, .thread = 0, .obj = 0, .size = 24},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_CALLOC, .thread = 0, .obj = 1, .size = 10},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_MEMALIGN, .thread = 0, .obj = 2, .size = 100, .align = 64},
    {.op = HL_OP_ALLOC,
     .kind = HL_KIND_POSIX_MEMALIGN,
     .thread = 0,
     .obj = 3,
     .size = 8,
     .align = 16},
    {.op = HL_OP_ALLOC,
     .kind = HL_KIND_ALIGNED_ALLOC,
     .thread = 0,
     .obj = 4,
     .size = 4096,
     .align = 4096},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_VALLOC, .thread = 0, .obj = 5, .size = 1},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_PVALLOC, .thread = 0, .obj = 6, .size = 5000},
    {.op = HL_OP_THREAD_START, .thread = 1},
    {.op = HL_OP_WRITE, .thread = 0, .obj = 0, .offset = 0, .size = 24},
    {.op = HL_OP_READ, .thread = 0, .obj = 0, .offset = 8, .size = 16},
    {.op = HL_OP_LINK, .thread = 0, .obj = 0, .offset = 16, .target = 1},
    {.op = HL_OP_LINK, .thread = 0, .obj = 0, .offset = 0, .target = NO},
    {.op = HL_OP_LINK, .thread = 0, .obj = 0, .offset = 8, .target = 0},
    {.op = HL_OP_LINK, .thread = 0, .obj = 4, .offset = 4088, .target = 6},
    {.op = HL_OP_REALLOC, .thread = 0, .obj = 1, .size = 1000},
    {.op = HL_OP_SEND, .thread = 0, .obj = 1, .target = 1},
    /* a message of three objects; thread 1's free interleaves with it */
    {.op = HL_OP_SEND_PART, .thread = 0, .obj = 3, .target = 1},
    {.op = HL_OP_SEND_PART, .thread = 0, .obj = 5, .target = 1},
    {.op = HL_OP_FREE, .thread = 1, .obj = 1},
    {.op = HL_OP_SEND, .thread = 0, .obj = 2, .target = 1},
    {.op = HL_OP_FREE, .thread = 1, .obj = 3},
    {.op = HL_OP_ALLOC, .kind = HL_KIND_MALLOC, .thread = 1, .obj = 7, .size = HL_TRACE_MAX_SIZE},
    {.op = HL_OP_READ, .thread = 1, .obj = 7, .offset = HL_TRACE_MAX_SIZE - 1, .size = 1},
    {.op = HL_OP_WRITE, .thread = 1, .obj = 2, .offset = 100, .size = 0},
    {.op = HL_OP_THREAD_START, .thread = 2},
    {.op = HL_OP_BARRIER, .thread = 0, .obj = 7, .size = 3},
    {.op = HL_OP_BARRIER, .thread = 1, .obj = 7, .size = 3},
    {.op = HL_OP_BARRIER, .thread = 2, .obj = 7, .size = 3},
    {.op = HL_OP_BARRIER, .thread = 2, .obj = 1000000, .size = 1},
    {.op = HL_OP_FREE, .thread = 2, .obj = 6},
    {.op = HL_OP_THREAD_END, .thread = 2},
    {.op = HL_OP_FREE, .thread = 0, .obj = 0},
    {.op = HL_OP_THREAD_END, .thread = 1},
};
#define ALL_EVENTS (sizeof all_events / sizeof all_events[0])
static const char all_meta[] = "generator=test_trace\nnote=spaces and = signs # kept\n";

static bool event_eq(const hl_event_t *a, const hl_event_t *b) {
  return a->op == b->op && a->kind == b->kind && a->thread == b->thread && a->obj == b->obj &&
         a->size == b->size && a->align == b->align && a->offset == b->offset &&
         a->target == b->target;
}

static int write_all_events(const char *path) {
  hl_trace_error_t err;
  hl_trace_writer_t *w = hl_trace_writer_open(path, 3, all_meta, &err);
  CHECK(w != NULL, "writer_open: %s", err.message);
  if (!w) return -1;
  for (size_t i = 0; i < ALL_EVENTS; i++) {
    if (all_events[i].op == HL_OP_ALLOC)
      CHECK(hl_trace_writer_next_id(w) == all_events[i].obj, "next id before event %zu", i);
    int rc = hl_trace_write(w, &all_events[i]);
    CHECK(rc == 0, "write event %zu: %s", i, hl_trace_writer_error(w)->message);
  }
  /* Nothing appears under the final name before close. */
  CHECK(!file_exists(path), "%s exists before close", path);
  int rc = hl_trace_writer_close(w);
  CHECK(rc == 0, "writer_close");
  return rc;
}

static void test_all_ops(void) {
  const char *path = tmp_path("all.hlt");
  if (write_all_events(path)) return;
  CHECK(count_files("all.hlt.tmp") == 0, "temporary file left behind");
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open(path, &err);
  CHECK(r != NULL, "open: %s", err.message);
  if (!r) return;
  const hl_trace_header_t *h = hl_trace_header(r);
  CHECK(h->version == HL_TRACE_VERSION && h->threads == 3, "header version %u threads %u",
        h->version, h->threads);
  CHECK(h->meta_len == strlen(all_meta) && strcmp(h->meta, all_meta) == 0, "meta '%s'", h->meta);
  hl_event_t ev;
  size_t i = 0;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    if (i < ALL_EVENTS) {
      const hl_event_t *x = &all_events[i];
      CHECK(event_eq(&ev, x),
            "event %zu: op %d/%d kind %d/%d thread %u/%u obj %" PRIu64 "/%" PRIu64 " size %" PRIu64
            "/%" PRIu64 " align %" PRIu64 "/%" PRIu64 " offset %" PRIu64 "/%" PRIu64
            " target %" PRIu64 "/%" PRIu64,
            i, ev.op, x->op, ev.kind, x->kind, ev.thread, x->thread, ev.obj, x->obj, ev.size,
            x->size, ev.align, x->align, ev.offset, x->offset, ev.target, x->target);
    }
    if (ev.op == HL_OP_ALLOC)
      CHECK(hl_trace_object_size(r, ev.obj) == ev.size, "object_size after alloc %zu", i);
    i++;
  }
  CHECK(rc == 0, "read: %s", hl_trace_reader_error(r)->message);
  CHECK(i == ALL_EVENTS && hl_trace_events_read(r) == ALL_EVENTS, "read %zu events", i);
  CHECK(hl_trace_objects(r) == 8, "objects %" PRIu64, hl_trace_objects(r));
  CHECK(hl_trace_object_size(r, 1) == 1000, "realloc'd size kept after free");
  hl_trace_close(r);

  /* The memory writer produces the same bytes. */
  hl_trace_writer_t *w = trace_writer_open_mem(3, all_meta, &err);
  for (size_t k = 0; w && k < ALL_EVENTS; k++) hl_trace_write(w, &all_events[k]);
  uint8_t *mem = NULL;
  size_t mem_len = 0, file_len = 0;
  CHECK(w && trace_writer_close_mem(w, &mem, &mem_len) == 0, "memory writer");
  uint8_t *file = slurp(path, &file_len);
  CHECK(file && mem && file_len == mem_len && memcmp(file, mem, mem_len) == 0,
        "memory and file writers agree (%zu vs %zu bytes)", mem_len, file_len);
  free(mem);
  free(file);
}

/* ------------------------------------------------------ text round trip -- */

static void test_round_trip(void) {
  const char *bin = tmp_path("rt.hlt"), *txt = tmp_path("rt.txt"), *bin2 = tmp_path("rt2.hlt"),
             *txt2 = tmp_path("rt2.txt");
  if (write_all_events(bin)) return;
  hl_trace_error_t err;
  FILE *f = fopen(txt, "w");
  CHECK(f && hl_trace_dump(bin, f, &err) == 0, "dump: %s", err.message);
  if (f) fclose(f);
  CHECK(hl_trace_pack(txt, bin2, &err) == 0, "pack: %s", err.message);
  size_t a_len = 0, b_len = 0;
  uint8_t *a = slurp(bin, &a_len), *b = slurp(bin2, &b_len);
  CHECK(a && b && a_len == b_len && memcmp(a, b, a_len) == 0,
        "binary -> text -> binary differs (%zu vs %zu bytes)", a_len, b_len);
  free(a);
  free(b);
  f = fopen(txt2, "w");
  CHECK(f && hl_trace_dump(bin2, f, &err) == 0, "dump 2: %s", err.message);
  if (f) fclose(f);
  a = slurp(txt, &a_len), b = slurp(txt2, &b_len);
  CHECK(a && b && a_len == b_len && memcmp(a, b, a_len) == 0, "dump(pack(dump(x))) != dump(x)");
  /* Spot-check the text itself. */
  CHECK(a && a_len > 40 &&
            memcmp(a, "heaplab-trace 2\nthreads 3\nmeta generator test_trace\n", 51) == 0,
        "text header");
  free(b);
  if (a) {
    a = realloc(a, a_len + 1);
    a[a_len] = 0;
    CHECK(strstr((char *)a, "\n0 memalign 2 100 64\n") &&
              strstr((char *)a, "\n0 link 0 0 null\n") && strstr((char *)a, "\n2 barrier 7 3\n") &&
              strstr((char *)a, "\n0 send 1 1\n") && strstr((char *)a, "\n0 valloc 5 1\n") &&
              strstr((char *)a, "meta note spaces and = signs # kept\n"),
          "text lines:\n%s", (char *)a);
  }
  free(a);
}

static hl_trace_writer_t *test_open_mem(void *ctx, uint32_t threads, const char *meta,
                                        uint32_t version, hl_trace_error_t *err) {
  (void)ctx;
  return trace_writer_open_version(NULL, threads, meta, version, err);
}

/* Text with labels that are not ids: reuse after free, comments, blanks. */
static void test_text_labels(void) {
  static const char text[] = "# leading comment\n"
                             "heaplab-trace 1\n"
                             "\n"
                             "threads 1\n"
                             "meta who hand   \n"
                             "0 start # go\n"
                             "0 malloc 42 16\n"
                             "0 malloc 7 32\r\n"
                             "0 link 7 8 42\n"
                             "0 free 42\n"
                             "\t0  calloc  42  8\n"
                             "0 read 42 0 8\n"
                             "0 free 7\n"
                             "0 free 42\n";
  hl_trace_error_t err;
  uint8_t *data = NULL;
  size_t len = 0;
  hl_trace_writer_t *w =
      trace_pack_mem(text, strlen(text), "labels.txt", test_open_mem, NULL, &err);
  CHECK(w != NULL, "pack labels: %s", err.message);
  if (!w || trace_writer_close_mem(w, &data, &len)) return;
  hl_trace_reader_t *r = hl_trace_open_mem(data, len, "labels", &err);
  CHECK(r && strcmp(hl_trace_header(r)->meta, "who=hand   \n") == 0, "meta value verbatim");
  hl_event_t ev;
  uint64_t objs[16], n = 0;
  while (r && hl_trace_next(r, &ev) == 1)
    if (ev.op != HL_OP_THREAD_START && n < 16) objs[n++] = ev.obj;
  /* malloc 42->0, malloc 7->1, link 1 -> 0, free 0, calloc 42->2, read 2, free 1, free 2 */
  static const uint64_t want[] = {0, 1, 1, 0, 2, 2, 1, 2};
  CHECK(n == 8 && memcmp(objs, want, sizeof want) == 0, "label mapping (%" PRIu64 " events)", n);
  hl_trace_close(r);
  free(data);
}

static void expect_text_error(const char *what, const char *text, uint64_t line, uint64_t event,
                              const char *needle) {
  hl_trace_error_t err;
  memset(&err, 0, sizeof err);
  hl_trace_writer_t *w = trace_pack_mem(text, strlen(text), "t.txt", test_open_mem, NULL, &err);
  CHECK(w == NULL, "%s: packed without error", what);
  if (w) hl_trace_writer_abort(w);
  /* The offset is that of the line's first byte. */
  uint64_t off = 0, l = 1;
  for (const char *p = text; *p && l < line; p++, off++)
    if (*p == '\n') l++;
  CHECK(err.line == line && err.offset == off && err.event == event,
        "%s: line %" PRIu64 " byte %" PRIu64 " event %" PRIu64 ", expected line %" PRIu64
        " byte %" PRIu64 " event %" PRIu64 " (%s)",
        what, err.line, err.offset, err.event, line, off, event, err.message);
  CHECK(strstr(err.message, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.message,
        needle);
  CHECK(strcmp(err.file, "t.txt") == 0, "%s: file '%s'", what, err.file);
}

#define TH "heaplab-trace 1\nthreads 2\n"
static void test_text_errors(void) {
  expect_text_error("empty", "", 1, 0, "heaplab-trace 2");
  expect_text_error("binary", "\x89HLT\r\n\x1a\n", 1, 0, "heaplab-trace 2");
  expect_text_error("version", "heaplab-trace 3\n", 1, 0, "unsupported text trace version 3");
  expect_text_error("version 0", "heaplab-trace 0\n", 1, 0, "unsupported text trace version 0");
  expect_text_error("no threads", "heaplab-trace 1\n0 start\n", 2, 0, "threads N");
  expect_text_error("threads 0", "heaplab-trace 1\nthreads 0\n", 2, 0, "thread count 0");
  expect_text_error("unknown op", TH "0 start\n0 mallocx 1 2\n", 4, 1, "unknown op 'mallocx'");
  expect_text_error("missing arg", TH "0 start\n0 malloc 1\n", 4, 1, "expected a size");
  expect_text_error("not a number", TH "0 start\n0 malloc 1 12k\n", 4, 1, "found '12k'");
  expect_text_error("overflow", TH "0 start\n0 malloc 1 18446744073709551616\n", 4, 1,
                    "does not fit in 64 bits");
  expect_text_error("extra", TH "0 start\n0 free\n", 4, 1, "expected an object label");
  expect_text_error("trailing", TH "0 start extra\n", 3, 0, "unexpected 'extra'");
  expect_text_error("label live", TH "0 start\n0 malloc 1 8\n0 malloc 1 8\n", 5, 2,
                    "still names live object 0");
  expect_text_error("unknown label", TH "0 start\n0 malloc 1 8\n0 free 2\n", 5, 2,
                    "names no object");
  expect_text_error("double free", TH "0 start\n0 malloc 1 8\n0 free 1\n0 free 1\n", 6, 3,
                    "already freed at event 2");
  expect_text_error("meta late", TH "0 start\nmeta a b\n", 4, 1, "before the first event");
  expect_text_error("meta key", TH "meta a/b c\n", 3, 0, "meta key");
  expect_text_error("thread range", TH "2 start\n", 3, 0, "thread 2 out of range");
  expect_text_error("not started", TH "1 malloc 1 8\n", 3, 0, "before its start");
  expect_text_error("bounds", TH "0 start\n0 malloc 1 8\n0 write 1 4 5\n", 5, 2,
                    "write of 5 bytes at offset 4");
  expect_text_error("align", TH "0 start\n0 memalign 1 8 24\n", 4, 1, "power of two");
  expect_text_error("barrier open at end", TH "0 start\n1 start\n0 barrier 1 2\n", 5, 3,
                    "incomplete");
  expect_text_error("garbage line", TH "hello\n", 3, 0, "expected an event");
}

/* -------------------------------------------------- malformed binaries -- */

static void expect_bad(int line, const char *what, const uint8_t *d, size_t n, uint64_t off,
                       uint64_t event, const char *needle) {
  hl_trace_error_t err;
  int rc = read_mem(d, n, &err, NULL);
  CHECK(rc == -1, "line %d, %s: read without error", line, what);
  CHECK(err.offset == off && err.event == event,
        "line %d, %s: byte %" PRIu64 ", event %" PRIu64 "; expected byte %" PRIu64
        ", event %" PRIu64 " (%s)",
        line, what, err.offset, err.event, off, event, err.message);
  CHECK(strstr(err.message, needle) != NULL, "line %d, %s: message '%s' lacks '%s'", line, what,
        err.message, needle);
  CHECK(strcmp(err.file, "mem") == 0 && err.line == 0, "line %d, %s: file '%s'", line, what,
        err.file);
}

static void expect_good(int line, const char *what, const uint8_t *d, size_t n, uint64_t events) {
  hl_trace_error_t err;
  uint64_t got = 0;
  int rc = read_mem(d, n, &err, &got);
  CHECK(rc == 0 && got == events, "line %d, %s: rc %d, %" PRIu64 " events (%s)", line, what, rc,
        got, err.message);
}

#define MAGIC 0x89, 'H', 'L', 'T', '\r', '\n', 0x1a, '\n'
/* 11 header bytes: events begin at byte 11. */
#define HDR(threads) MAGIC, 0x01, (threads), 0x00
#define BAD(what, off, event, needle, ...)                                                         \
  do {                                                                                             \
    static const uint8_t d_[] = {__VA_ARGS__};                                                     \
    expect_bad(__LINE__, what, d_, sizeof d_, off, event, needle);                                 \
  } while (0)
#define BAD0(what, off, event, needle) expect_bad(__LINE__, what, NULL, 0, off, event, needle)
#define GOOD(what, events, ...)                                                                    \
  do {                                                                                             \
    static const uint8_t d_[] = {__VA_ARGS__};                                                     \
    expect_good(__LINE__, what, d_, sizeof d_, events);                                            \
  } while (0)

static void test_malformed(void) {
  /* Valid baselines the bad cases are variations of. */
  GOOD("no events", 0, HDR(2), 0x0f, 0x00);
  GOOD("alloc, free", 3, HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x0f, 0x03);
  GOOD("meta", 0, MAGIC, 0x01, 0x01, 0x04, 'a', '=', 'b', '\n', 0x0f, 0x00);
  GOOD("size exactly 2^48", 2, HDR(1), 0x07, 0x00, 0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40,
       0x0f, 0x02);
  GOOD("barrier of one", 2, HDR(2), 0x07, 0x00, 0x19, 0x05, 0x01, 0x0f, 0x02);
  GOOD("threads need not end, objects need not be freed", 2, HDR(2), 0x07, 0x01, 0x10, 0x08, 0x0f,
       0x02);

  /* Truncated, anywhere (the offset is the end of the file). */
  BAD0("empty file", 0, 0, "truncated");
  BAD("inside the magic", 3, 0, "truncated", 0x89, 'H', 'L');
  BAD("no version", 8, 0, "truncated", MAGIC);
  BAD("no thread count", 9, 0, "truncated", MAGIC, 0x01);
  BAD("inside the thread count", 10, 0, "truncated", MAGIC, 0x01, 0x81);
  BAD("no meta length", 10, 0, "truncated", MAGIC, 0x01, 0x02);
  BAD("inside the meta", 13, 0, "truncated", MAGIC, 0x01, 0x01, 0x05, 'a', '=');
  BAD("no END", 11, 0, "truncated", HDR(2));
  BAD("inside a varint", 13, 0, "truncated", HDR(2), 0x07, 0x80);
  BAD("inside an event", 14, 1, "expected an allocation size", HDR(2), 0x07, 0x00, 0x10);
  BAD("after events", 16, 3, "truncated", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31);
  BAD("inside END", 12, 0, "END record's event count", HDR(2), 0x0f);

  /* Bad magic (at the first differing byte), version. */
  BAD("bad magic", 3, 0, "bad magic", 0x89, 'H', 'L', 'X', '\r', '\n', 0x1a, '\n', 0x01, 0x01, 0x00,
      0x0f, 0x00);
  BAD("text-mode mangled magic", 4, 0, "bad magic", 0x89, 'H', 'L', 'T', '\n', 0x1a, '\n', 0x01,
      0x01, 0x00, 0x0f, 0x00);
  BAD("short and wrong", 0, 0, "bad magic", 'h', 'e');
  BAD("version 3", 8, 0, "unsupported version 3", MAGIC, 0x03, 0x01, 0x00, 0x0f, 0x00);
  BAD("version 0", 8, 0, "unsupported version 0", MAGIC, 0x00, 0x01, 0x00, 0x0f, 0x00);

  /* Header fields. */
  BAD("threads 0", 9, 0, "thread count 0", MAGIC, 0x01, 0x00, 0x00, 0x0f, 0x00);
  BAD("threads 4097", 9, 0, "thread count 4097", MAGIC, 0x01, 0x81, 0x20, 0x00, 0x0f, 0x00);
  BAD("meta too long", 10, 0, "meta length 1048577", MAGIC, 0x01, 0x01, 0x81, 0x80, 0x40);
  BAD("meta key", 12, 0, "meta", MAGIC, 0x01, 0x01, 0x04, 'a', ' ', 'b', '\n', 0x0f, 0x00);
  BAD("meta empty key", 11, 0, "meta", MAGIC, 0x01, 0x01, 0x03, '=', 'b', '\n', 0x0f, 0x00);
  BAD("meta no newline", 14, 0, "newline", MAGIC, 0x01, 0x01, 0x03, 'a', '=', 'b', 0x0f, 0x00);
  BAD("meta NUL", 13, 0, "NUL", MAGIC, 0x01, 0x01, 0x04, 'a', '=', 0x00, '\n', 0x0f, 0x00);

  /* Varints. */
  BAD("overlong varint", 12, 0, "non-canonical varint", HDR(2), 0x07, 0x80, 0x00);
  BAD("varint overflow", 14, 1, "varint overflow", HDR(2), 0x07, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0xff, 0xff, 0x02);

  /* Tags. */
  BAD("unknown op 10", 11, 0, "unknown op 10", HDR(2), 0x0a, 0x00);
  BAD("unknown op 14", 13, 1, "unknown op 14", HDR(2), 0x07, 0x00, 0x1e);
  BAD("END reserved bits", 11, 0, "reserved bits", HDR(2), 0x1f, 0x00);
  BAD("kind 7", 13, 1, "unknown allocation kind 7", HDR(2), 0x07, 0x00, 0xf0, 0x10);
  BAD("free bit 6", 15, 2, "reserved bits 6-7", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x71);
  BAD("start bit 5", 11, 0, "reserved bits 5-7", HDR(2), 0x27, 0x00);
  BAD("barrier bit 7", 13, 1, "reserved bits 5-7", HDR(2), 0x07, 0x00, 0x99, 0x00, 0x01);
  BAD("first event same-thread", 11, 0, "same-thread", HDR(2), 0x17, 0x0f, 0x01);
  BAD("thread repeated explicitly", 14, 1, "non-canonical", HDR(2), 0x07, 0x00, 0x00, 0x00, 0x10);
  BAD("object delta 0", 16, 2, "object delta 0", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x11, 0x00);

  /* Threads. */
  BAD("thread out of range", 12, 0, "thread 2 out of range", HDR(2), 0x07, 0x02);
  BAD("event before start", 12, 0, "before its start", HDR(2), 0x00, 0x00, 0x10);
  BAD("start twice", 13, 1, "started twice", HDR(2), 0x07, 0x00, 0x17);
  BAD("event after end", 14, 2, "after its end at event 1", HDR(2), 0x07, 0x00, 0x18, 0x10, 0x10);
  BAD("start after end", 14, 2, "after its end", HDR(2), 0x07, 0x00, 0x18, 0x17);

  /* Objects: never allocated, already freed (every op that names one). */
  BAD("free never allocated", 14, 1, "free of object 1 which was never allocated", HDR(2), 0x07,
      0x00, 0x11, 0x02);
  BAD("free before any alloc", 13, 1, "never allocated", HDR(2), 0x07, 0x00, 0x31);
  BAD("double free", 16, 3, "free of object 0 which was already freed at event 2", HDR(2), 0x07,
      0x00, 0x10, 0x10, 0x31, 0x31);
  BAD("realloc freed", 16, 3, "realloc of object 0 which was already freed", HDR(2), 0x07, 0x00,
      0x10, 0x10, 0x31, 0x32, 0x01);
  BAD("read freed", 16, 3, "read of object 0", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x33, 0x00,
      0x01);
  BAD("write freed", 16, 3, "write to object 0", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x34, 0x00,
      0x01);
  BAD("link from freed", 16, 3, "link from object 0", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x35,
      0x00, 0x00);
  BAD("send freed", 16, 3, "send of object 0", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x36, 0x01);
  /* alloc 0, alloc 1, free 1, link 0+0 -> 1 (delta -1 = zigzag 1; target zigzag(+1)+1 = 3) */
  BAD("link to freed", 21, 4, "link to object 1 which was already freed at event 3", HDR(2), 0x07,
      0x00, 0x10, 0x10, 0x10, 0x10, 0x31, 0x15, 0x01, 0x00, 0x03);
  BAD("link target aliasing null", 17, 2, "never allocated", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x35,
      0x00, 0x02);

  /* Bounds and limits. */
  BAD("read past the end", 17, 2, "read of 9 bytes at offset 8 of object 0, which has 16", HDR(2),
      0x07, 0x00, 0x10, 0x10, 0x33, 0x08, 0x09);
  BAD("offset past the end", 16, 2, "offset 17", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x33, 0x11, 0x00);
  BAD("link field past the end", 16, 2, "link field at offset 9", HDR(2), 0x07, 0x00, 0x10, 0x10,
      0x35, 0x09, 0x00);
  BAD("link in a small object", 16, 2, "pointer field needs 8", HDR(2), 0x07, 0x00, 0x10, 0x04,
      0x35, 0x00, 0x00);
  BAD("size over 2^48", 14, 1, "allocation of 281474976710657 bytes", HDR(2), 0x07, 0x00, 0x10,
      0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40);
  BAD("realloc over 2^48", 16, 2, "realloc to 281474976710657", HDR(2), 0x07, 0x00, 0x10, 0x10,
      0x32, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40);
  BAD("alignment 2^41", 15, 1, "alignment 2^41", HDR(2), 0x07, 0x00, 0x50, 0x10, 0x29);

  /* Sends and barriers. */
  BAD("send out of range", 16, 2, "to thread 5, out of range", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x36,
      0x05);
  BAD("barrier of 0", 15, 1, "with 0 participants", HDR(2), 0x07, 0x00, 0x19, 0x00, 0x00);
  BAD("barrier of 3 of 2 threads", 15, 1, "with 3 participants", HDR(2), 0x07, 0x00, 0x19, 0x00,
      0x03);
  BAD("barrier count mismatch", 24, 4, "first arrival (event 3) said 3", HDR(3), 0x07, 0x00, 0x07,
      0x01, 0x07, 0x02, 0x09, 0x00, 0x00, 0x03, 0x09, 0x01, 0x00, 0x02);
  BAD("acting while waiting", 19, 3, "waits at barrier 0", HDR(2), 0x07, 0x00, 0x07, 0x01, 0x09,
      0x00, 0x00, 0x02, 0x10, 0x10);
  BAD("barrier reused", 25, 4, "cannot be reused", HDR(2), 0x07, 0x00, 0x07, 0x01, 0x09, 0x00, 0x00,
      0x02, 0x09, 0x01, 0x00, 0x02, 0x09, 0x00, 0x00, 0x02);
  BAD("barrier number going down", 25, 4, "highest barrier number so far (5)", HDR(2), 0x07, 0x00,
      0x07, 0x01, 0x09, 0x00, 0x05, 0x02, 0x09, 0x01, 0x05, 0x02, 0x09, 0x00, 0x03, 0x02);
  BAD("barrier incomplete at END", 19, 3, "incomplete", HDR(2), 0x07, 0x00, 0x07, 0x01, 0x09, 0x00,
      0x00, 0x02, 0x0f, 0x03);
  GOOD("barrier complete, then more", 6, HDR(2), 0x07, 0x00, 0x07, 0x01, 0x09, 0x00, 0x00, 0x02,
       0x09, 0x01, 0x00, 0x02, 0x10, 0x10, 0x18, 0x0f, 0x06);

  /* The END record. */
  BAD("END count too high", 12, 0, "END record says 1 events, but 0", HDR(2), 0x0f, 0x01);
  BAD("END count too low", 17, 3, "says 2 events", HDR(2), 0x07, 0x00, 0x10, 0x10, 0x31, 0x0f,
      0x02);
  BAD("trailing data", 13, 0, "trailing data after END (1 bytes)", HDR(2), 0x0f, 0x00, 0x00);
}

/* ---------------------------------------------------- writer refusals -- */

static void expect_refused(hl_trace_writer_t *w, hl_event_t ev, const char *needle, int line) {
  uint64_t before = hl_trace_writer_next_id(w);
  int rc = hl_trace_write(w, &ev);
  const hl_trace_error_t *e = hl_trace_writer_error(w);
  CHECK(rc == -1, "line %d: writer accepted an invalid event", line);
  CHECK(rc == 0 || strstr(e->message, needle) != NULL, "line %d: message '%s' lacks '%s'", line,
        e->message, needle);
  CHECK(hl_trace_writer_next_id(w) == before, "line %d: refused event changed state", line);
}
#define REFUSED(needle, ...) expect_refused(w, (hl_event_t){__VA_ARGS__}, needle, __LINE__)

static void test_writer_refuses(void) {
  hl_trace_error_t err;
  const char *path = tmp_path("refuse.hlt");
  CHECK(hl_trace_writer_open(path, 0, NULL, &err) == NULL && strstr(err.message, "thread count 0"),
        "threads 0 accepted");
  CHECK(hl_trace_writer_open(path, 4097, NULL, &err) == NULL, "threads 4097 accepted");
  CHECK(hl_trace_writer_open(path, 1, "novalue\n", &err) == NULL && strstr(err.message, "meta"),
        "bad meta accepted");
  CHECK(hl_trace_writer_open(path, 1, "a=b", &err) == NULL, "meta without newline accepted");
  CHECK(hl_trace_writer_open(tmp_path("no/such/dir.hlt"), 1, NULL, &err) == NULL &&
            strstr(err.message, "cannot create"),
        "writer in a missing folder");

  hl_trace_writer_t *w = hl_trace_writer_open(path, 2, NULL, &err);
  CHECK(w != NULL, "open: %s", err.message);
  if (!w) return;
  REFUSED("before its start", .op = HL_OP_ALLOC, .thread = 0, .obj = 0, .size = 8);
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_THREAD_START, .thread = 0}) == 0, "start");
  REFUSED("thread 2 out of range", .op = HL_OP_THREAD_START, .thread = 2);
  REFUSED("started twice", .op = HL_OP_THREAD_START, .thread = 0);
  REFUSED("unknown op 11", .op = (hl_op_t)11, .thread = 0);
  REFUSED("unknown allocation kind 7", .op = HL_OP_ALLOC, .kind = (hl_alloc_kind_t)7, .thread = 0);
  REFUSED("must create object 0", .op = HL_OP_ALLOC, .thread = 0, .obj = 1, .size = 8);
  REFUSED("the limit is 2^48", .op = HL_OP_ALLOC, .thread = 0, .size = HL_TRACE_MAX_SIZE + 1);
  REFUSED("power of two", .op = HL_OP_ALLOC, .kind = HL_KIND_MEMALIGN, .thread = 0, .size = 8,
          .align = 24);
  REFUSED("power of two", .op = HL_OP_ALLOC, .kind = HL_KIND_ALIGNED_ALLOC, .thread = 0, .size = 8,
          .align = 0);
  REFUSED("at most 2^40", .op = HL_OP_ALLOC, .kind = HL_KIND_POSIX_MEMALIGN, .thread = 0, .size = 8,
          .align = UINT64_C(1) << 41);
  REFUSED("never allocated", .op = HL_OP_FREE, .thread = 0, .obj = 0);
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_ALLOC, .thread = 0, .obj = 0, .size = 16}) == 0,
        "alloc");
  REFUSED("which has 16 bytes", .op = HL_OP_WRITE, .thread = 0, .obj = 0, .offset = 1, .size = 16);
  REFUSED("pointer field needs 8", .op = HL_OP_LINK, .thread = 0, .obj = 0, .offset = 9,
          .target = NO);
  REFUSED("link to object 5", .op = HL_OP_LINK, .thread = 0, .obj = 0, .offset = 0, .target = 5);
  REFUSED("out of range", .op = HL_OP_SEND, .thread = 0, .obj = 0, .target = 2);
  REFUSED("with 0 participants", .op = HL_OP_BARRIER, .thread = 0, .obj = 0, .size = 0);
  REFUSED("before its start", .op = HL_OP_FREE, .thread = 1, .obj = 0);
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_FREE, .thread = 0, .obj = 0}) == 0, "free");
  REFUSED("already freed at event 2", .op = HL_OP_FREE, .thread = 0, .obj = 0);
  /* The error says where: the event number and the byte the event would start at. */
  const hl_trace_error_t *e = hl_trace_writer_error(w);
  CHECK(e->event == 3 && e->offset == 16 && strcmp(e->file, path) == 0,
        "writer error at event %" PRIu64 ", byte %" PRIu64 " of '%s' (expected 3, 16)", e->event,
        e->offset, e->file);
  /* A barrier nobody completes makes close fail, and nothing is written. */
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_BARRIER, .thread = 0, .obj = 9, .size = 2}) ==
            0,
        "barrier");
  CHECK(hl_trace_writer_close(w) == -1 &&
            strstr(hl_trace_writer_error(w)->message, "barrier 9 is incomplete"),
        "close with an incomplete barrier: %s", hl_trace_writer_error(w)->message);
  hl_trace_writer_abort(w);
  CHECK(!file_exists(path) && count_files("refuse.hlt") == 0, "failed close left files behind");

  /* After refusals the writer goes on, and the file is exactly the valid events. */
  w = hl_trace_writer_open(path, 1, NULL, &err);
  if (!w) return;
  hl_trace_write(w, &(hl_event_t){.op = HL_OP_THREAD_START});
  REFUSED("never allocated", .op = HL_OP_FREE, .obj = 3);
  hl_trace_write(w, &(hl_event_t){.op = HL_OP_ALLOC, .size = 5});
  CHECK(hl_trace_writer_close(w) == 0, "close");
  size_t len = 0;
  uint8_t *d = slurp(path, &len);
  static const uint8_t want[] = {MAGIC, HL_TRACE_VERSION, 0x01, 0x00, 0x07, 0x00, 0x10, 0x05, 0x0f,
                                 0x02};
  CHECK(d && len == sizeof want && memcmp(d, want, len) == 0, "bytes after refusals (%zu)", len);
  free(d);

  /* Abort removes the temporary file and never creates the trace. */
  const char *p2 = tmp_path("aborted.hlt");
  w = hl_trace_writer_open(p2, 1, NULL, &err);
  CHECK(w && count_files("aborted.hlt.tmp.") == 1, "temporary file exists while writing");
  hl_trace_writer_abort(w);
  CHECK(count_files("aborted.hlt") == 0, "abort left files");
}

/* ------------------------------------------------------- compactness -- */

/* A deterministic random malloc/free trace of `events` events. Returns bytes. */
static size_t write_random(const char *path, uint64_t events, uint32_t threads, uint64_t seed) {
  hl_trace_error_t err;
  hl_trace_writer_t *w = hl_trace_writer_open(path, threads, "generator=test_trace.random\n", &err);
  CHECK(w != NULL, "open: %s", err.message);
  if (!w) return 0;
  uint64_t x = seed | 1, n = 0;
  uint64_t *live = malloc(4096 * sizeof *live);
  uint32_t *owner = malloc(4096 * sizeof *owner);
  size_t nlive = 0;
  for (uint32_t t = 0; t < threads; t++, n++)
    hl_trace_write(w, &(hl_event_t){.op = HL_OP_THREAD_START, .thread = t});
  uint32_t t = 0;
  while (n < events) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    if (threads > 1 && x % 16 == 0) t = (uint32_t)(x >> 20) % threads; /* runs of one thread */
    bool do_alloc = nlive == 0 || (nlive < 4096 && (x >> 8) % 100 < 50);
    hl_event_t ev = {.thread = t};
    if (do_alloc) {
      ev.op = HL_OP_ALLOC;
      ev.obj = hl_trace_writer_next_id(w);
      ev.size = 16 * (1 + (x >> 24) % 64); /* 16..1024 bytes */
      live[nlive] = ev.obj, owner[nlive++] = t;
    } else {
      /* Half the frees are of the newest object (LIFO), half random. */
      size_t i = (x >> 32) % 2 ? nlive - 1 : (size_t)((x >> 40) % nlive);
      ev.op = HL_OP_FREE;
      ev.obj = live[i];
      live[i] = live[--nlive];
      (void)owner;
    }
    if (hl_trace_write(w, &ev)) {
      CHECK(false, "random write: %s", hl_trace_writer_error(w)->message);
      break;
    }
    n++;
  }
  free(live);
  free(owner);
  CHECK(hl_trace_writer_close(w) == 0, "close random");
  struct stat st;
  return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static void test_compact(void) {
  const char *path = tmp_path("random.hlt");
  size_t bytes = write_random(path, 100000, 1, 42);
  double per = (double)bytes / 100000.0;
  printf("test_trace: random malloc/free, 1 thread: %.3f bytes/event\n", per);
  CHECK(per < 4.0, "%.3f bytes/event on a malloc/free trace (goal < 4)", per);
  bytes = write_random(path, 100000, 8, 43);
  per = (double)bytes / 100000.0;
  printf("test_trace: random malloc/free, 8 threads: %.3f bytes/event\n", per);
  CHECK(per < 4.0, "%.3f bytes/event on an 8-thread malloc/free trace", per);
  hl_trace_error_t err;
  uint64_t events = 0;
  size_t len = 0;
  uint8_t *d = slurp(path, &len);
  CHECK(d && read_mem(d, len, &err, &events) == 0 && events == 100000, "random trace reads back");
  free(d);
  /* Alloc then free right away: 2 + 1 bytes. */
  hl_trace_writer_t *w = trace_writer_open_mem(1, NULL, &err);
  hl_trace_write(w, &(hl_event_t){.op = HL_OP_THREAD_START});
  for (uint64_t i = 0; i < 1000; i++) {
    hl_trace_write(w, &(hl_event_t){.op = HL_OP_ALLOC, .obj = i, .size = 100});
    hl_trace_write(w, &(hl_event_t){.op = HL_OP_FREE, .obj = i});
  }
  uint8_t *mem;
  CHECK(trace_writer_close_mem(w, &mem, &len) == 0 && len == 11 + 2 + 3000 + 3,
        "alloc+free pairs take 3 bytes (%zu total)", len);
  free(mem);
}

/* ------------------------------------------------------- truncations -- */

static void check_every_prefix(const char *what, const uint8_t *d, size_t len) {
  size_t bad = 0;
  for (size_t n = 0; n < len; n++) {
    hl_trace_error_t err;
    /* A copy of exactly n bytes, so ASan sees any read past the end. */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, d, n);
    int rc = read_mem(copy, n, &err, NULL);
    free(copy);
    if (rc != -1 || err.offset > n) {
      if (bad++ < 5)
        CHECK(false, "%s truncated to %zu of %zu bytes: rc %d, offset %" PRIu64, what, n, len, rc,
              err.offset);
    }
  }
  CHECK(bad == 0, "%s: %zu of %zu truncations not detected", what, bad, len);
  hl_trace_error_t err;
  CHECK(read_mem(d, len, &err, NULL) == 0, "%s: the whole file reads (%s)", what, err.message);
}

static void test_truncations(void) {
  size_t len = 0;
  uint8_t *d = slurp(tmp_path("all.hlt"), &len);
  CHECK(d && len > 100, "all.hlt present");
  if (d) check_every_prefix("every-op trace", d, len);
  free(d);
  write_random(tmp_path("small.hlt"), 3000, 3, 7);
  d = slurp(tmp_path("small.hlt"), &len);
  if (d) check_every_prefix("random trace", d, len);
  free(d);
}

/* ------------------------------------------------------------- misc -- */

static void test_error_print(void) {
  hl_trace_error_t e = {.file = "x.hlt", .offset = 17, .event = 3, .message = "oops"};
  char buf[256] = {0};
  FILE *f = fmemopen(buf, sizeof buf, "w");
  hl_trace_error_print(f, &e);
  e.line = 9;
  hl_trace_error_print(f, &e);
  fclose(f);
  CHECK(strcmp(buf, "x.hlt: byte 17, event 3: oops\nx.hlt:9: byte 17, event 3: oops\n") == 0,
        "error print: '%s'", buf);
  CHECK(strcmp(hl_op_name(HL_OP_ALLOC), "alloc") == 0 &&
            strcmp(hl_op_name(HL_OP_BARRIER), "barrier") == 0 &&
            strcmp(hl_op_name((hl_op_t)99), "?") == 0,
        "op names");
  hl_trace_error_t err;
  CHECK(hl_trace_open(tmp_path("missing.hlt"), &err) == NULL &&
            strstr(err.message, "cannot open") && err.offset == 0,
        "missing file: %s", err.message);
  CHECK(hl_trace_open(tmpdir, &err) == NULL && strstr(err.message, "directory"), "directory: %s",
        err.message);
}

/* The worked example of FORMAT.md, byte for byte. */
static void test_format_example(void) {
  static const char text[] = "heaplab-trace 2\n"
                             "threads 2\n"
                             "meta tool doc\n"
                             "0 start\n"
                             "0 malloc 0 100\n"
                             "0 free 0\n"
                             "0 malloc 1 300\n"
                             "0 memalign 2 64 4096\n"
                             "1 start\n"
                             "0 sendpart 2 1\n"
                             "0 send 1 1\n"
                             "1 write 1 0 16\n"
                             "1 link 1 8 2\n"
                             "1 free 1\n";
  static const uint8_t want[] = {0x89, 0x48, 0x4c, 0x54, 0x0d, 0x0a, 0x1a, 0x0a, 0x02, 0x02,
                                 0x09, 't',  'o',  'o',  'l',  '=',  'd',  'o',  'c',  '\n',
                                 0x07, 0x00, 0x10, 0x64, 0x31, 0x10, 0xac, 0x02, 0x50, 0x40,
                                 0x0c, 0x07, 0x01, 0x2a, 0x00, 0x01, 0x16, 0x01, 0x01, 0x24,
                                 0x01, 0x00, 0x10, 0x35, 0x08, 0x03, 0x31, 0x0f, 0x0b};
  hl_trace_error_t err;
  hl_trace_writer_t *w = trace_pack_mem(text, strlen(text), "example", test_open_mem, NULL, &err);
  uint8_t *bin = NULL;
  size_t len = 0;
  CHECK(w && trace_writer_close_mem(w, &bin, &len) == 0, "pack example: %s", err.message);
  CHECK(bin && len == sizeof want && memcmp(bin, want, len) == 0,
        "FORMAT.md example: %zu bytes, expected %zu", len, sizeof want);
  free(bin);
  /* The decoder's copy of the aligned-kind rule agrees with alloc/kind.c. */
  for (unsigned k = 0; k < HL_KIND_COUNT + 2; k++)
    CHECK(trace_kind_has_align(k) == (k < HL_KIND_COUNT && hl_alloc_kind_has_align(k)),
          "aligned kind %u", k);
}

/* ------------------------------------------- messages of several objects -- */

/* 11 header bytes of a version 2 file: events begin at byte 11. */
#define HDR2(threads) MAGIC, 0x02, (threads), 0x00
/* Thread 0 and 1 start, thread 0 allocates objects 0 and 1 (16 bytes):
   bytes 11..19, events 0..3; the next event is event 4 at byte 20. */
#define MSG_PROLOGUE 0x07, 0x00, 0x07, 0x01, 0x00, 0x00, 0x10, 0x10, 0x10

static void test_send_part_binary(void) {
  /* sendpart 0 -> 1 (same object: delta -1 = zigzag 1), send 1 -> 1 closes it. */
  GOOD("a message of two", 6, HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x16, 0x02, 0x01, 0x0f,
       0x06);
  /* Thread 1 may use object 0 once the message is sent. */
  GOOD("a part used after the send", 7, HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x16, 0x02, 0x01,
       0x21, 0x01, 0x0f, 0x07);
  /* Other threads' events interleave: thread 1 starts in the middle. */
  GOOD("interleaved", 6, HDR2(2), 0x07, 0x00, 0x10, 0x10, 0x10, 0x10, 0x1a, 0x01, 0x01, 0x07, 0x01,
       0x06, 0x00, 0x02, 0x01, 0x0f, 0x06);
  /* Two messages in a row with the same objects, the first to the sender itself. */
  GOOD("two messages", 8, HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x00, 0x16, 0x02, 0x00, 0x1a, 0x01,
       0x01, 0x16, 0x02, 0x01, 0x0f, 0x08);

  BAD("version 1 has no op 10", 20, 4, "unknown op 10", HDR(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01,
      0x16, 0x02, 0x01, 0x0f, 0x06);
  BAD("version 1 names the version", 20, 4, "needs format version 2", HDR(2), MSG_PROLOGUE, 0x1a,
      0x01, 0x01, 0x0f, 0x05);
  BAD("another op of the thread in between", 23, 5, "while it builds a message for thread 1",
      HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x11, 0x02, 0x16, 0x00, 0x01, 0x0f, 0x07);
  BAD("a barrier in between", 23, 5, "only more sendpart or the send", HDR2(2), MSG_PROLOGUE, 0x1a,
      0x01, 0x01, 0x19, 0x00, 0x01, 0x0f, 0x06);
  BAD("a different target", 25, 5, "a message has one destination", HDR2(3), MSG_PROLOGUE, 0x1a,
      0x01, 0x01, 0x16, 0x02, 0x02, 0x0f, 0x06);
  BAD("a different target for a part", 25, 5, "a message has one destination", HDR2(3),
      MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x1a, 0x02, 0x02, 0x0f, 0x06);
  BAD("the same object twice", 23, 5, "already in the message thread 0 is building for thread 1",
      HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x3a, 0x01, 0x0f, 0x06);
  BAD("a part closed by its own send", 23, 5, "joins a message once", HDR2(2), MSG_PROLOGUE, 0x1a,
      0x01, 0x01, 0x36, 0x01, 0x0f, 0x06);
  BAD("the trace ends with the message open", 23, 5, "thread 0 left its message for thread 1 open",
      HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x0f, 0x05);
  BAD("the thread ends with the message open", 23, 5, "end by thread 0 while it builds a message",
      HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x18, 0x0f, 0x06);
  BAD("a freed object", 21, 5, "sendpart of object 1 which was already freed at event 4", HDR2(2),
      MSG_PROLOGUE, 0x31, 0x3a, 0x01, 0x0f, 0x06);
  BAD("a never allocated object", 21, 4, "sendpart of object 3 which was never allocated", HDR2(2),
      MSG_PROLOGUE, 0x1a, 0x04, 0x01, 0x0f, 0x05);
  BAD("a destination out of range", 22, 4, "sendpart of object 0 to thread 2, out of range",
      HDR2(2), MSG_PROLOGUE, 0x1a, 0x01, 0x02, 0x0f, 0x05);
  BAD("another thread uses a part", 23, 5, "no event may use it until the send", HDR2(2),
      MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x21, 0x01, 0x0f, 0x06);
  BAD("another thread links to a part", 27, 5, "link to object 0, which is in the message", HDR2(2),
      MSG_PROLOGUE, 0x1a, 0x01, 0x01, 0x05, 0x01, 0x02, 0x00, 0x02, 0x0f, 0x06);
}

static void test_send_part_writer(void) {
  hl_trace_error_t err;
  hl_trace_writer_t *w = trace_writer_open_version(NULL, 3, NULL, 2, &err);
  CHECK(w != NULL, "open: %s", err.message);
  if (!w) return;
  static const hl_event_t setup[] = {
      {.op = HL_OP_THREAD_START, .thread = 0},
      {.op = HL_OP_THREAD_START, .thread = 1},
      {.op = HL_OP_ALLOC, .thread = 0, .obj = 0, .size = 16},
      {.op = HL_OP_ALLOC, .thread = 0, .obj = 1, .size = 16},
      {.op = HL_OP_ALLOC, .thread = 0, .obj = 2, .size = 16},
      {.op = HL_OP_SEND_PART, .thread = 0, .obj = 0, .target = 1},
  };
  for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++)
    CHECK(hl_trace_write(w, &setup[i]) == 0, "event %zu: %s", i, hl_trace_writer_error(w)->message);
  REFUSED("while it builds a message", .op = HL_OP_ALLOC, .thread = 0, .obj = 3, .size = 8);
  REFUSED("while it builds a message", .op = HL_OP_THREAD_END, .thread = 0);
  REFUSED("a message has one destination", .op = HL_OP_SEND, .thread = 0, .obj = 1, .target = 2);
  REFUSED("joins a message once", .op = HL_OP_SEND_PART, .thread = 0, .obj = 0, .target = 1);
  REFUSED("no event may use it", .op = HL_OP_READ, .thread = 1, .obj = 0, .size = 1);
  /* The refusals changed nothing: the message goes on and closes. */
  CHECK(hl_trace_write(
            w, &(hl_event_t){.op = HL_OP_SEND_PART, .thread = 0, .obj = 1, .target = 1}) == 0,
        "second part: %s", hl_trace_writer_error(w)->message);
  char msg[TRACE_MSG_LEN];
  CHECK(trace_writer_check_end(w, msg) != TRACE_FIELD_NONE && strstr(msg, "open"),
        "an open message at the end passes");
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_SEND, .thread = 0, .obj = 2, .target = 1}) == 0,
        "closing send: %s", hl_trace_writer_error(w)->message);
  CHECK(hl_trace_write(w, &(hl_event_t){.op = HL_OP_FREE, .thread = 1, .obj = 0}) == 0,
        "free of a sent part: %s", hl_trace_writer_error(w)->message);
  CHECK(hl_trace_write(
            w, &(hl_event_t){.op = HL_OP_SEND_PART, .thread = 0, .obj = 2, .target = 2}) == 0,
        "a new message: %s", hl_trace_writer_error(w)->message);
  CHECK(hl_trace_writer_close(w) == -1 &&
            strstr(hl_trace_writer_error(w)->message, "thread 0 left its message for thread 2"),
        "close with an open message: %s", hl_trace_writer_error(w)->message);
  hl_trace_writer_abort(w);

  /* A version 1 writer refuses the op. */
  w = trace_writer_open_version(NULL, 2, NULL, 1, &err);
  CHECK(w != NULL, "open version 1: %s", err.message);
  if (!w) return;
  hl_trace_write(w, &(hl_event_t){.op = HL_OP_THREAD_START});
  hl_trace_write(w, &(hl_event_t){.op = HL_OP_ALLOC, .size = 8});
  REFUSED("needs format version 2", .op = HL_OP_SEND_PART, .obj = 0, .target = 1);
  hl_trace_writer_abort(w);
  CHECK(trace_writer_open_version(NULL, 2, NULL, 3, &err) == NULL &&
            strstr(err.message, "format version 3"),
        "a version 3 writer opened");
}

#define TH2 "heaplab-trace 2\nthreads 2\n"
static void test_send_part_text(void) {
  expect_text_error("text version 1", TH "0 start\n0 malloc 7 8\n0 sendpart 7 1\n", 5, 2,
                    "sendpart in a version 1 trace");
  expect_text_error("text in between", TH2 "0 start\n0 malloc 7 8\n0 sendpart 7 1\n0 free 7\n", 6,
                    3, "while it builds a message");
  expect_text_error("text twice", TH2 "0 start\n0 malloc 7 8\n0 sendpart 7 1\n0 sendpart 7 1\n", 6,
                    3, "joins a message once");
  expect_text_error("text open at the end", TH2 "0 start\n0 malloc 7 8\n0 sendpart 7 1\n", 5, 3,
                    "left its message for thread 1 open");
  expect_text_error("text missing destination", TH2 "0 start\n0 malloc 7 8\n0 sendpart 7\n", 5, 2,
                    "expected a destination thread");
  /* A version 1 file still reads, and its text packs back to version 1,
     byte for byte. */
  static const uint8_t v1[] = {HDR(2), MSG_PROLOGUE, 0x16, 0x01, 0x01, 0x0f, 0x05};
  const char *bin = tmp_path("v1.hlt"), *txt = tmp_path("v1.txt"), *bin2 = tmp_path("v1b.hlt");
  FILE *f = fopen(bin, "wb");
  CHECK(f && fwrite(v1, 1, sizeof v1, f) == sizeof v1, "write v1.hlt");
  if (f) fclose(f);
  hl_trace_error_t err;
  f = fopen(txt, "w");
  CHECK(f && hl_trace_dump(bin, f, &err) == 0, "dump v1: %s", err.message);
  if (f) fclose(f);
  CHECK(hl_trace_pack(txt, bin2, &err) == 0, "pack v1: %s", err.message);
  size_t a_len = 0, b_len = 0;
  uint8_t *a = slurp(txt, &a_len), *b = slurp(bin2, &b_len);
  CHECK(a && a_len > 16 && memcmp(a, "heaplab-trace 1\n", 16) == 0, "v1 text header");
  CHECK(b && b_len == sizeof v1 && memcmp(b, v1, b_len) == 0, "pack(dump(v1)) differs");
  free(a);
  free(b);
}

/* ------------------------------------------------------------ bench -- */

static void bench(uint64_t events) {
  const char *path = tmp_path("bench.hlt");
  size_t bytes = write_random(path, events, 4, 99);
  hl_trace_error_t err;
  for (int rep = 0; rep < 3; rep++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hl_trace_reader_t *r = hl_trace_open(path, &err);
    hl_event_t ev;
    uint64_t n = 0, sum = 0;
    while (r && hl_trace_next(r, &ev) == 1) n++, sum += ev.size;
    hl_trace_close(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("test_trace: bench: %" PRIu64 " events, %.2f bytes/event, %.3f s, %.1f M events/s "
           "(checksum %" PRIu64 ")\n",
           n, (double)bytes / (double)n, s, (double)n / s / 1e6, sum);
  }
  unlink(path);
}

int main(void) {
  const char *base = getenv("HL_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s/test_trace.XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  test_varint();
  test_all_ops();
  test_round_trip();
  test_text_labels();
  test_text_errors();
  test_malformed();
  test_writer_refuses();
  test_compact();
  test_truncations();
  test_error_print();
  test_format_example();
  test_send_part_binary();
  test_send_part_writer();
  test_send_part_text();
  const char *b = getenv("HL_TRACE_BENCH");
  if (b && *b) bench(strtoull(b, NULL, 10));
  /* Clean up the scratch folder. */
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') unlink(tmp_path(e->d_name));
  if (d) closedir(d);
  rmdir(tmpdir);
  return check_summary("test_trace");
}
