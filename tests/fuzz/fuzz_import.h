/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_import.h: the properties both importer targets check
  (fuzz_import_mtrace.c, fuzz_import_record.c), written once.

  - A failed import names the log (not the trace it was writing: that would
    be an event the writer refused, an importer bug), gives an offset inside
    it, and leaves no file behind.
  - A successful one leaves only its trace, which the reader accepts whole,
    with the thread and event counts the importer reported.
---------------------------------------------------------------------------- */
#ifndef HL_FUZZ_IMPORT_H
#define HL_FUZZ_IMPORT_H

#include "tests/fuzz/fuzz_util.h"
#include "workloads/import/import.h"

#include <inttypes.h>

__attribute__((unused)) static void fuzz_import_failed(const hl_trace_error_t *err, const char *in,
                                                       size_t size) {
  if (!err->message[0]) fuzz_fail("an error without a message");
  if (strcmp(err->file, in) != 0) {
    hl_trace_error_print(stderr, err);
    fuzz_fail("the error names '%s', not the log '%s' (an event the writer refused?)", err->file,
              in);
  }
  if (err->offset > size)
    fuzz_fail("error offset %" PRIu64 " past the log's %zu bytes", err->offset, size);
  const char *left = fuzz_out_dir_extra(NULL);
  if (*left) fuzz_fail("a failed import left files behind: %s", left);
}

/* The trace at `out`: `threads` threads, st->events valid events, every
   allocation of kind `only_kind` unless it is HL_KIND_COUNT. Removed after. */
__attribute__((unused)) static void fuzz_import_trace(const char *out, const hl_import_stats_t *st,
                                                      uint32_t threads, hl_alloc_kind_t only_kind) {
  const char *left = fuzz_out_dir_extra("out.hlt");
  if (*left) fuzz_fail("an import left files besides its trace: %s", left);
  hl_trace_error_t err;
  hl_trace_reader_t *r = hl_trace_open(out, &err);
  if (!r) {
    hl_trace_error_print(stderr, &err);
    fuzz_fail("the imported trace does not open");
  }
  if (hl_trace_header(r)->threads != threads)
    fuzz_fail("the trace has %" PRIu32 " threads, the importer said %" PRIu32,
              hl_trace_header(r)->threads, threads);
  hl_event_t ev;
  int next;
  while ((next = hl_trace_next(r, &ev)) == 1)
    if (only_kind != HL_KIND_COUNT && ev.op == HL_OP_ALLOC && ev.kind != only_kind)
      fuzz_fail("an allocation of kind %d where the log can only say %d", (int)ev.kind,
                (int)only_kind);
  if (next != 0) {
    hl_trace_error_print(stderr, hl_trace_reader_error(r));
    fuzz_fail("the imported trace is invalid");
  }
  if (hl_trace_events_read(r) != st->events)
    fuzz_fail("the trace has %" PRIu64 " events, the importer said %" PRIu64,
              hl_trace_events_read(r), st->events);
  hl_trace_close(r);
  if (unlink(out) != 0) fuzz_fail("cannot remove %s", out);
}

#endif
