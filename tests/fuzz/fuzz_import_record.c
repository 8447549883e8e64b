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
#include "tests/fuzz/fuzz_util.h"
#include "workloads/import/import.h"
#include "workloads/recorder/record_format.h"

#include <inttypes.h>

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
  fuzz_depth(true);
  const char *left = fuzz_out_dir_extra("out.hlt");
  if (*left) fuzz_fail("an import left files besides its trace: %s", left);
  uint64_t slots = size >= RECORD_HEADER_SIZE ? (size - RECORD_HEADER_SIZE) / RECORD_SIZE : 0;
  if (st.records + st.lost > slots)
    fuzz_fail("%" PRIu64 " records and %" PRIu64 " lost slots in a log of %" PRIu64 " slots",
              st.records, st.lost, slots);
  /* every record makes at most one event, every thread one start and one end */
  if (st.events > st.records + 2 * (uint64_t)st.threads)
    fuzz_fail("%" PRIu64 " events from %" PRIu64 " records of %" PRIu32 " threads", st.events,
              st.records, st.threads);
  hl_trace_reader_t *r = hl_trace_open(out, &err);
  if (!r) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("the imported trace does not open");
  }
  uint32_t threads = hl_trace_header(r)->threads;
  if (threads != (st.threads ? st.threads : 1))
    fuzz_fail("the trace has %" PRIu32 " threads, the importer said %" PRIu32, threads,
              st.threads);
  hl_event_t ev;
  int next;
  while ((next = hl_trace_next(r, &ev)) == 1) {
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
