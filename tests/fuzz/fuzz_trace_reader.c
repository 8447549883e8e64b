/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_trace_reader.c: libFuzzer target for the trace reader and
  the text form (built by `make fuzz-build`).

  Binary input: open and read to the end; on any input the reader must
  stop with 0 or -1 and an error offset inside the input, never crash, hang
  or leak. When the input is a valid trace, it must survive binary -> text ->
  binary byte for byte (the encoding is canonical, FORMAT.md).

  Input starting with "heaplab-trace" is fed to the text parser instead;
  whatever it accepts must pack into a valid binary trace whose own text
  round-trips too.

  Messages of several objects (SEND_PART, version 2): what the reader hands
  out must keep the message rules (FORMAT.md), checked here independently
  of the validator: a thread with an open message does nothing but more
  SEND_PART or the closing SEND to the same thread, no object is in an open
  message twice or used by anyone meanwhile, and a valid trace ends with no
  message open. A version 1 file never yields SEND_PART.

  Depth (fuzz_util.h): an input is past the header when the binary header
  (magic, version, threads, meta) was accepted, or the text parser read the
  two header lines and opened its writer.

  Any broken property calls abort(), which libFuzzer reports as a crash.
---------------------------------------------------------------------------- */
#include "tests/fuzz/fuzz_util.h"
#include "workloads/trace.h"
#include "workloads/trace/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fuzz_opened; /* the text parser opened its writer */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "past the header (binary or text)";
  return 0;
}

static hl_trace_writer_t *fuzz_open_mem(void *ctx, uint32_t threads, const char *meta,
                                        uint32_t version, hl_trace_error_t *err) {
  (void)ctx;
  fuzz_opened = true;
  return trace_writer_open_version(NULL, threads, meta, version, err);
}

/* Binary (already known valid) -> text in memory; NULL if it fails. */
static char *fuzz_dump(const uint8_t *bin, size_t len, size_t *text_len) {
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  if (!f) return NULL;
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open_mem(bin, len, "fuzz", &err);
  int rc = r ? trace_dump_reader(r, f, &err) : -1;
  hl_trace_close(r);
  fclose(f);
  if (rc) {
    free(text);
    return NULL;
  }
  *text_len = n;
  return text;
}

/* Text -> binary in memory; NULL with *err filled if the text is invalid. */
static uint8_t *fuzz_pack(const char *text, size_t len, size_t *bin_len, hl_trace_error_t *err) {
  hl_trace_writer_t *w = trace_pack_mem(text, len, "fuzz.txt", fuzz_open_mem, NULL, err);
  if (!w) return NULL;
  uint8_t *bin = NULL;
  if (trace_writer_close_mem(w, &bin, bin_len)) {
    *err = *hl_trace_writer_error(w);
    hl_trace_writer_abort(w);
    return NULL;
  }
  return bin;
}

/* A valid binary trace must come back identical through its text form. */
static void fuzz_round_trip(const uint8_t *bin, size_t len) {
  size_t text_len = 0, again_len = 0;
  char *text = fuzz_dump(bin, len, &text_len);
  if (!text) abort();
  hl_trace_error_t err;
  uint8_t *again = fuzz_pack(text, text_len, &again_len, &err);
  if (!again) {
    hl_trace_error_print(stderr, &err);
    abort();
  }
  if (again_len != len || memcmp(again, bin, len) != 0) abort();
  free(again);
  free(text);
}

static void fuzz_text(const uint8_t *data, size_t size) {
  hl_trace_error_t err;
  size_t bin_len = 0;
  fuzz_opened = false;
  uint8_t *bin = fuzz_pack((const char *)data, size, &bin_len, &err);
  fuzz_depth(fuzz_opened);
  if (!bin) {
    if (err.offset > size || err.line == 0 || !err.message[0]) abort();
    return;
  }
  /* Accepted text makes a valid trace... */
  hl_trace_reader_t *r = hl_trace_open_mem(bin, bin_len, "packed", &err);
  if (!r) abort();
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
  }
  hl_trace_close(r);
  if (rc != 0) abort();
  /* ...that round-trips like any other. */
  fuzz_round_trip(bin, bin_len);
  free(bin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char text_magic[] = "heaplab-trace";
  if (size >= sizeof text_magic - 1 && memcmp(data, text_magic, sizeof text_magic - 1) == 0) {
    fuzz_text(data, size);
    return 0;
  }
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open_mem(data, size, "fuzz", &err);
  fuzz_depth(r != NULL);
  if (!r) {
    if (err.offset > size || !err.message[0]) abort();
    return 0;
  }
  uint32_t threads = hl_trace_header(r)->threads, version = hl_trace_header(r)->version;
  /* the open message of each thread: its target (or UINT64_MAX) and its objects */
  uint64_t *msg_to = malloc(threads * sizeof *msg_to);
  uint64_t **msg_obj = calloc(threads, sizeof *msg_obj);
  size_t *msg_len = calloc(threads, sizeof *msg_len);
  if (!msg_to || !msg_obj || !msg_len) abort();
  for (uint32_t t = 0; t < threads; t++) msg_to[t] = UINT64_MAX;
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    if (ev.op == HL_OP_SEND_PART && version < 2) abort();
    /* no event uses an object that is in some thread's open message, except
       the same thread's SEND or SEND_PART (and then not the same object) */
    bool uses = ev.op != HL_OP_ALLOC && ev.op != HL_OP_BARRIER && trace_op_has_obj(ev.op);
    for (uint32_t t = 0; uses && t < threads; t++)
      for (size_t i = 0; i < msg_len[t]; i++)
        if (msg_obj[t][i] == ev.obj || (ev.op == HL_OP_LINK && msg_obj[t][i] == ev.target)) abort();
    uint64_t open = msg_to[ev.thread];
    if (open != UINT64_MAX &&
        ((ev.op != HL_OP_SEND && ev.op != HL_OP_SEND_PART) || ev.target != open))
      abort();
    if (ev.op == HL_OP_SEND_PART) {
      msg_to[ev.thread] = ev.target;
      uint64_t *grown = realloc(msg_obj[ev.thread], (msg_len[ev.thread] + 1) * sizeof **msg_obj);
      if (!grown) abort();
      msg_obj[ev.thread] = grown;
      grown[msg_len[ev.thread]++] = ev.obj;
    } else if (ev.op == HL_OP_SEND) {
      msg_to[ev.thread] = UINT64_MAX;
      msg_len[ev.thread] = 0;
    }
    /* What the reader hands out is within the bounds it promises. */
    if ((unsigned)ev.op >= HL_OP_COUNT || ev.thread >= threads) abort();
    if (ev.op == HL_OP_ALLOC &&
        (ev.obj + 1 != hl_trace_objects(r) || hl_trace_object_size(r, ev.obj) != ev.size))
      abort();
    if (ev.op != HL_OP_ALLOC && ev.op != HL_OP_BARRIER && ev.obj >= hl_trace_objects(r) &&
        trace_op_has_obj(ev.op))
      abort();
  }
  for (uint32_t t = 0; t < threads; t++) {
    if (rc == 0 && msg_to[t] != UINT64_MAX) abort(); /* a valid trace closes every message */
    free(msg_obj[t]);
  }
  free(msg_to);
  free(msg_obj);
  free(msg_len);
  const hl_trace_error_t *e = hl_trace_reader_error(r);
  if (rc < 0 && (e->offset > size || !e->message[0] || e->event != hl_trace_events_read(r)))
    abort();
  hl_trace_close(r);
  if (rc == 0) fuzz_round_trip(data, size);
  return 0;
}
