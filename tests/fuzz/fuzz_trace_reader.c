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

  Any broken property calls abort(), which libFuzzer reports as a crash.
---------------------------------------------------------------------------- */
#include "workloads/trace.h"
#include "workloads/trace/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static hl_trace_writer_t *fuzz_open_mem(void *ctx, uint32_t threads, const char *meta,
                                        hl_trace_error_t *err) {
  (void)ctx;
  return trace_writer_open_mem(threads, meta, err);
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
  uint8_t *bin = fuzz_pack((const char *)data, size, &bin_len, &err);
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
  if (!r) {
    if (err.offset > size || !err.message[0]) abort();
    return 0;
  }
  uint32_t threads = hl_trace_header(r)->threads;
  hl_event_t ev;
  int rc;
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    /* What the reader hands out is within the bounds it promises. */
    if ((unsigned)ev.op >= HL_OP_COUNT || ev.thread >= threads) abort();
    if (ev.op == HL_OP_ALLOC &&
        (ev.obj + 1 != hl_trace_objects(r) || hl_trace_object_size(r, ev.obj) != ev.size))
      abort();
    if (ev.op != HL_OP_ALLOC && ev.op != HL_OP_BARRIER && ev.obj >= hl_trace_objects(r) &&
        ev.op <= HL_OP_SEND)
      abort();
  }
  const hl_trace_error_t *e = hl_trace_reader_error(r);
  if (rc < 0 && (e->offset > size || !e->message[0] || e->event != hl_trace_events_read(r)))
    abort();
  hl_trace_close(r);
  if (rc == 0) fuzz_round_trip(data, size);
  return 0;
}
