/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_import_mtrace.c: libFuzzer target for the mtrace importer
  (workloads/import/mtrace.c, `hltrace import mtrace LOG -o TRACE`), built by
  `make fuzz-build`.

  The input is a glibc MALLOC_TRACE log, given to hl_import_mtrace as a file
  (a memfd) and converted into a trace in a private temporary folder. The
  importer must either fail cleanly, with a message that names the log and a
  byte offset inside it, and leave no file behind (not even its temporary),
  or write a trace that the reader accepts whole: one thread, as many events
  as the importer says, never more than one per record plus the thread's
  start. An error that names the output file instead of the log means the
  importer emitted an event its own writer refused: a bug of the importer.

  Depth: an input is past the header when it made at least one event: it
  imported with a record (an allocation call, not only "= Start" and blank
  lines), or it failed after one (most mutations cut the final newline,
  which fails the log at its end, after every line was parsed).
---------------------------------------------------------------------------- */
#include "tests/fuzz/fuzz_util.h"
#include "workloads/import/import.h"

#include <inttypes.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "with at least one event imported";
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = fuzz_input_path(data, size);
  char out[512];
  snprintf(out, sizeof out, "%s/out.hlt", fuzz_out_dir());
  hl_import_stats_t st;
  memset(&st, 0, sizeof st);
  hl_trace_error_t err;
  int rc = hl_import_mtrace(in, out, &st, &err);
  if (rc != 0) {
    fuzz_depth(err.event > 0);
    if (!err.message[0]) fuzz_fail("an error without a message");
    if (strcmp(err.file, in) != 0) {
      hl_trace_error_print(stderr, &err);
      fuzz_fail("the error names '%s', not the log '%s' (an event the writer refused?)",
                err.file, in);
    }
    if (err.offset > size)
      fuzz_fail("error offset %" PRIu64 " past the log's %zu bytes", err.offset, size);
    const char *left = fuzz_out_dir_extra(NULL);
    if (*left) fuzz_fail("a failed import left files behind: %s", left);
    return 0;
  }
  fuzz_depth(st.records > 0);
  const char *left = fuzz_out_dir_extra("out.hlt");
  if (*left) fuzz_fail("an import left files besides its trace: %s", left);
  if (st.threads != 1) fuzz_fail("%" PRIu32 " threads from an mtrace log", st.threads);
  if (st.events > st.records + 1)
    fuzz_fail("%" PRIu64 " events from %" PRIu64 " records", st.events, st.records);
  hl_trace_reader_t *r = hl_trace_open(out, &err);
  if (!r) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("the imported trace does not open");
  }
  if (hl_trace_header(r)->threads != 1) fuzz_fail("the imported trace has more than one thread");
  hl_event_t ev;
  int next;
  while ((next = hl_trace_next(r, &ev)) == 1) {
    if (ev.op == HL_OP_ALLOC && ev.kind != HL_KIND_MALLOC)
      fuzz_fail("mtrace cannot tell the kind of an allocation, yet got kind %d", (int)ev.kind);
  }
  if (next != 0) {
    hl_trace_error_print(stderr, hl_trace_reader_error(r));
    fuzz_fail("the imported trace is invalid");
  }
  if (hl_trace_events_read(r) != st.events)
    fuzz_fail("the trace has %" PRIu64 " events, the importer said %" PRIu64,
              hl_trace_events_read(r), st.events);
  hl_trace_close(r);
  if (unlink(out) != 0) fuzz_fail("cannot remove %s", out);
  return 0;
}
