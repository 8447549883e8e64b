/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_trace_text.c: libFuzzer target for the text form of traces
  (workloads/trace/text.c: `hltrace pack`, FORMAT.md "Text form"), built by
  `make fuzz-build`. fuzz_trace_reader feeds the text parser only inputs that
  begin with "heaplab-trace"; this target gives it every input (leading
  blank and comment lines, CRLF, labels, meta lines...).

  Whatever the parser refuses, its error must name the text and a line the
  way FORMAT.md says: LINE is 1-based, OFFSET is the byte offset of that
  line's first byte (so OFFSET is 0 or follows a newline, and LINE - 1
  newlines come before it). Whatever it accepts must pack into a binary
  trace of the version its header names that the reader accepts whole, and
  dump(pack(text)) must pack to the same bytes again (labels are renumbered
  densely by the first pack, so the second sees identity labels).

  Depth: an input is past the header when the parser read its two header
  lines ("heaplab-trace N", "threads N") and opened the writer.
---------------------------------------------------------------------------- */
#include "tests/fuzz/fuzz_util.h"
#include "workloads/trace.h"
#include "workloads/trace/internal.h"

#include <inttypes.h>

static bool fuzz_opened;
static uint32_t fuzz_version;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "past the header lines";
  return 0;
}

static hl_trace_writer_t *fuzz_open_mem(void *ctx, uint32_t threads, const char *meta,
                                        uint32_t version, hl_trace_error_t *err) {
  (void)ctx;
  fuzz_opened = true;
  fuzz_version = version;
  return trace_writer_open_version(NULL, threads, meta, version, err);
}

/* Text -> binary in memory; NULL with *err filled if the text is invalid. */
static uint8_t *fuzz_pack(const char *text, size_t len, const char *name, size_t *bin_len,
                          hl_trace_error_t *err) {
  hl_trace_writer_t *w = trace_pack_mem(text, len, name, fuzz_open_mem, NULL, err);
  if (!w) return NULL;
  uint8_t *bin = NULL;
  if (trace_writer_close_mem(w, &bin, bin_len)) {
    *err = *hl_trace_writer_error(w);
    hl_trace_writer_abort(w);
    return NULL;
  }
  return bin;
}

/* The error's place must be a line start of `text`, numbered right. */
static void fuzz_check_error(const hl_trace_error_t *err, const char *text, size_t len) {
  if (!err->message[0]) fuzz_fail("an error without a message");
  if (strcmp(err->file, "fuzz.txt") != 0) {
    hl_trace_error_print(stderr, err);
    fuzz_fail("the error names '%s', not the text", err->file);
  }
  if (err->line == 0) {
    hl_trace_error_print(stderr, err);
    fuzz_fail("a text error without a line number");
  }
  if (err->offset > len)
    fuzz_fail("error offset %" PRIu64 " past the text's %zu bytes", err->offset, len);
  if (err->offset > 0 && text[err->offset - 1] != '\n') {
    hl_trace_error_print(stderr, err);
    fuzz_fail("error offset %" PRIu64 " is not the start of a line", err->offset);
  }
  uint64_t newlines = 0;
  for (const char *p = text, *end = text + err->offset; (p = memchr(p, '\n', (size_t)(end - p)));
       p++)
    newlines++;
  if (err->line != newlines + 1) {
    hl_trace_error_print(stderr, err);
    fuzz_fail("line %" PRIu64 " at byte %" PRIu64 ", which is on line %" PRIu64, err->line,
              err->offset, newlines + 1);
  }
}

/* Binary (valid) -> text in memory. */
static char *fuzz_dump(const uint8_t *bin, size_t len, size_t *text_len) {
  char *text = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&text, &n);
  if (!f) fuzz_fail("open_memstream failed");
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open_mem(bin, len, "packed", &err);
  if (!r) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("accepted text packed into a trace that does not open");
  }
  if (hl_trace_header(r)->version != fuzz_version)
    fuzz_fail("text of version %" PRIu32 " packed into version %" PRIu32, fuzz_version,
              hl_trace_header(r)->version);
  if (trace_dump_reader(r, f, &err) != 0) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("accepted text packed into an invalid trace");
  }
  hl_trace_close(r);
  fclose(f);
  *text_len = n;
  return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* an exact-size copy, so that reading past the input is caught */
  char *text = malloc(size ? size : 1);
  if (!text) fuzz_fail("out of memory");
  memcpy(text, data, size);
  hl_trace_error_t err;
  size_t bin_len = 0;
  fuzz_opened = false;
  uint8_t *bin = fuzz_pack(text, size, "fuzz.txt", &bin_len, &err);
  fuzz_depth(fuzz_opened);
  if (!bin) {
    fuzz_check_error(&err, text, size);
    free(text);
    return 0;
  }
  size_t dumped_len = 0, again_len = 0;
  char *dumped = fuzz_dump(bin, bin_len, &dumped_len);
  uint8_t *again = fuzz_pack(dumped, dumped_len, "dumped.txt", &again_len, &err);
  if (!again) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("the dump of accepted text does not pack");
  }
  if (again_len != bin_len || memcmp(again, bin, bin_len) != 0)
    fuzz_fail("pack(dump(pack(text))) differs from pack(text) (%zu and %zu bytes)", again_len,
              bin_len);
  free(again);
  free(dumped);
  free(bin);
  free(text);
  return 0;
}
