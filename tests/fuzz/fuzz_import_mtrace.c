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
#include "tests/fuzz/fuzz_import.h"

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
    fuzz_import_failed(&err, in, size);
    return 0;
  }
  fuzz_depth(st.records > 0);
  if (st.threads != 1) fuzz_fail("%" PRIu32 " threads from an mtrace log", st.threads);
  if (st.events > st.records + 1)
    fuzz_fail("%" PRIu64 " events from %" PRIu64 " records", st.events, st.records);
  /* mtrace cannot tell the kind of an allocation: every one is a malloc */
  fuzz_import_trace(out, &st, 1, HL_KIND_MALLOC);
  return 0;
}
