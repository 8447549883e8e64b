/* ----------------------------------------------------------------------------
  harness/metrics.h: the one row of metrics a replay produces.

  The column list below is the single definition of what a replay measures:
  `hlreplay --format csv` prints it as a header and one row, `--format text`
  as "name: value" lines, and `hlbench` copies the columns it does not know
  into bench.csv untouched. Column names carry their unit.

  A metric the machine could not measure is NA, never 0, and the row's
  `na_reasons` column says why ("cycles: perf_event_open: no hardware PMU").
---------------------------------------------------------------------------- */
#ifndef HL_METRICS_H
#define HL_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* X(column, description). The order is the CSV column order. */
#define HL_METRIC_COLUMNS(X)                                                                       \
  X(allocator, "allocator name from the registry")                                                 \
  X(served_by, "library and version that really served malloc in this process")                    \
  X(trace, "trace file replayed")                                                                  \
  X(threads, "logical threads in the trace")                                                       \
  X(mode, "threads-as-traced (one OS thread per traced thread) or serial")                         \
  X(access_model, "traced | touch | none: what touches object memory")                             \
  X(page_size_bytes, "allocator page size tunable (0 = allocator default)")                        \
  X(events, "trace events replayed")                                                               \
  X(objects, "objects the trace allocates (its alloc events)")                                     \
  X(handover_sends, "sends inserted so every op runs in its owner thread (owned allocators)")      \
  X(remote_free, "send | request | direct: how a thread frees an object another thread owns "      \
                 "(hlreplay --remote-free; direct: the allocator has no owners)")                  \
  X(wall_s, "wall-clock time of the replay loop")                                                  \
  X(cpu_s, "user+system CPU time of the process during the replay loop")                           \
  X(events_per_s, "events / wall_s")                                                               \
  X(peak_rss_kib, "peak resident set during the replay (VmHWM after a reset)")                     \
  X(rss_before_kib, "resident set when the replay loop started (trace and harness)")               \
  X(minor_faults, "minor page faults during the replay")                                           \
  X(major_faults, "major page faults during the replay")                                           \
  X(voluntary_ctx_switches, "voluntary context switches during the replay")                        \
  X(involuntary_ctx_switches, "involuntary context switches during the replay")                    \
  X(cycles, "hardware CPU cycles (perf_event_open)")                                               \
  X(instructions, "hardware instructions retired")                                                 \
  X(l1d_misses, "L1 data cache read misses")                                                       \
  X(llc_misses, "last-level cache misses")                                                         \
  X(dtlb_misses, "data TLB read misses")                                                           \
  X(sim_config, "--sim: simulator config (name, cores, page size)")                                \
  X(sim_capture, "--sim: what the simulator saw: full (the allocator's own accesses too) or "      \
                 "placement (the application's only)")                                             \
  X(sim_app_accesses, "--sim: simulated accesses of application objects")                          \
  X(sim_alloc_accesses, "--sim: simulated accesses of the allocator's own code")                   \
  X(sim_l1d_misses, "--sim: simulated L1D misses, all cores")                                      \
  X(sim_l2_misses, "--sim: simulated L2 misses, all cores")                                        \
  X(sim_llc_misses, "--sim: simulated LLC misses")                                                 \
  X(sim_dtlb_misses, "--sim: simulated L1 dTLB misses")                                            \
  X(sim_stlb_misses, "--sim: simulated STLB misses")                                               \
  X(sim_walks, "--sim: simulated page walks")                                                      \
  X(sim_transfers, "--sim: simulated cache-to-cache transfers of modified lines")                  \
  X(sim_clean_forwards, "--sim: forwards of unmodified lines between cores (no communication)")    \
  X(sim_cold, "--sim: L2 misses, cold: a core's first copy of a line no other core wrote")         \
  X(sim_true_sharing, "--sim: L2 misses, true sharing: the copy used bytes another core wrote")    \
  X(sim_false_sharing, "--sim: L2 misses, false sharing: lost to, or came with, others' writes "   \
                       "of bytes the copy did not use")                                            \
  X(sim_alloc_reuse, "--sim: L2 misses, allocator reuse: the copy used only bytes another core "   \
                     "wrote and freed since")                                                      \
  X(sim_replacement, "--sim: L2 misses, replacement: capacity or conflict, no communication")      \
  X(sim_prefetches, "--sim: lines installed by the L1D and L2 prefetchers")                        \
  X(sim_prefetches_useful, "--sim: prefetched lines a demand access then used")                    \
  X(sim_invalidations, "--sim: copies invalidated by coherence")                                   \
  X(sim_writebacks, "--sim: dirty lines written back from private L2s to the LLC")                 \
  X(alloc_bytes_live, "allocator-reported live bytes at the end")                                  \
  X(alloc_bytes_mapped, "allocator-reported bytes mapped at the end")                              \
  X(alloc_moves, "objects the allocator moved")                                                    \
  X(alloc_transfers, "objects or pages handed between threads")                                    \
  X(alloc_objects_live, "allocator cells live at the end (ravioli: live ravioli)")                 \
  X(alloc_pages, "allocator pages held by threads at the end (its own page size)")                 \
  X(alloc_pool_pages, "empty pages in the allocator's shared pool at the end")                     \
  X(alloc_pages_returned, "pages threads gave back to the shared pool")                            \
  X(alloc_fixups, "pointers the allocator rewrote because something moved")                        \
  X(alloc_transfer_bytes, "bytes copied to hand objects between threads")                          \
  X(alloc_messages, "messages sent between threads (a send of a set of objects is one)")           \
  X(alloc_free_requests, "frees posted to the owning thread (--remote-free request)")              \
  X(alloc_transfer_pages, "pages that carried messages between threads")                           \
  X(alloc_pages_handed, "of those, heap pages handed over in place instead of copied into")        \
  X(alloc_cells_allocated, "allocator cells built for objects by alloc and realloc (ravioli)")     \
  X(alloc_accesses, "object reads and writes the allocator served")                                \
  X(alloc_access_lines, "64-byte lines those accesses touched, summed (per access: / accesses)")   \
  X(alloc_access_pages, "4 KiB pages those accesses touched, summed (per access: / accesses)")     \
  X(status, "ok, or what failed")                                                                  \
  X(na_reasons, "why each NA metric could not be measured")

typedef enum hl_metric_e {
#define HL_METRIC_ENUM(name, desc) HL_METRIC_##name,
  HL_METRIC_COLUMNS(HL_METRIC_ENUM)
#undef HL_METRIC_ENUM
      HL_METRIC_COUNT
} hl_metric_t;

/* A row: every value is text as it will be printed; NULL prints as NA. */
typedef struct hl_metrics_s {
  char *value[HL_METRIC_COUNT];
} hl_metrics_t;

const char *hl_metric_name(hl_metric_t m);
const char *hl_metric_description(hl_metric_t m);
/* Column index of `name`, or -1. */
int hl_metric_find(const char *name);

void hl_metrics_init(hl_metrics_t *row);
void hl_metrics_free(hl_metrics_t *row);
/* Set a value (printf-style); replaces any earlier value. */
void hl_metrics_set(hl_metrics_t *row, hl_metric_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Mark NA and append "name: reason" to the na_reasons column. */
void hl_metrics_set_na(hl_metrics_t *row, hl_metric_t m, const char *reason);

/* CSV per RFC 4180: fields quoted when they hold a comma, quote or newline. */
void hl_csv_write_field(FILE *out, const char *field);
void hl_metrics_write_csv_header(FILE *out);
void hl_metrics_write_csv_row(FILE *out, const hl_metrics_t *row);
void hl_metrics_write_text(FILE *out, const hl_metrics_t *row);

#endif
