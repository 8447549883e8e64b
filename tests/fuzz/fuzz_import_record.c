/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_import_record.c: libFuzzer target for the recorder-log
  importer (workloads/import/record.c, `hltrace import record RAW -o TRACE`;
  the log's layout is workloads/recorder/record_format.h), built by `make
  fuzz-build`.

  The input is a raw log (64-byte header, 40-byte records), given to
  hl_import_record as a file (a memfd) and converted into a trace in a
  private temporary folder. The importer must either fail cleanly, with a
  message that names the log and a byte offset inside it, and leave no file
  behind, or write a trace that the reader accepts whole, with as many
  events and threads as the importer says. An error that names the output
  file instead of the log means the importer emitted an event its own writer
  refused (a thread ended twice, an object used after its free...): a bug of
  the importer.

  Depth: an input is past the header when its header was accepted (magic,
  version, record size): it imported, or it failed on a record.
---------------------------------------------------------------------------- */
#include "tests/fuzz/fuzz_import.h"
#include "workloads/recorder/record_format.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "past the log's header";
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = fuzz_input_path(data, size);
  char out[512];
  snprintf(out, sizeof out, "%s/out.hlt", fuzz_out_dir());
  hl_import_stats_t st;
  memset(&st, 0, sizeof st);
  hl_trace_error_t err;
  int rc = hl_import_record(in, out, &st, &err);
  if (rc != 0) {
    fuzz_depth(err.offset >= RECORD_HEADER_SIZE);
    fuzz_import_failed(&err, in, size);
    return 0;
  }
  fuzz_depth(true);
  uint64_t slots = size >= RECORD_HEADER_SIZE ? (size - RECORD_HEADER_SIZE) / RECORD_SIZE : 0;
  if (st.records + st.lost > slots)
    fuzz_fail("%" PRIu64 " records and %" PRIu64 " lost slots in a log of %" PRIu64 " slots",
              st.records, st.lost, slots);
  /* every record makes at most one event, every thread one start and one end */
  if (st.events > st.records + 2 * (uint64_t)st.threads)
    fuzz_fail("%" PRIu64 " events from %" PRIu64 " records of %" PRIu32 " threads", st.events,
              st.records, st.threads);
  fuzz_import_trace(out, &st, st.threads ? st.threads : 1, HL_KIND_COUNT);
  return 0;
}
