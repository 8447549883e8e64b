/* ----------------------------------------------------------------------------
  sim/sim.h: the memory-hierarchy simulator's public API (model: sim/README.md).

  N cores, each with a private L1D and L2 (L2 inclusive of L1D), one shared
  non-inclusive LLC, MESI coherence kept by a directory over the private
  hierarchies, every private-hierarchy miss classified (Dubois et al.'s
  classes over the copy's lifetime, plus allocator reuse), optional L1D
  next-line and L2 stream prefetchers, an optional seeded virtual-to-physical
  page mapping, and per core a two-level data TLB for one page size.

    sim_config_t cfg;
    sim_config_default(&cfg);                              // Skylake-client-like
    if (sim_config_load(&cfg, "sim/presets/zen3.conf", err, sizeof err) != 0) ...
    sim_t *s = sim_create(&cfg, err, sizeof err);
    sim_access(s, core, addr, size, is_write);            // as often as you like
    sim_freed(s, addr, size);                              // an object's bytes died
    sim_report(s, stdout, 10);                            // or sim_stats(s, -1, &st)
    sim_destroy(s);

  Everything is deterministic: the same config and the same access sequence
  give byte-identical reports. A simulator is single-threaded: callers that
  feed it from several threads must serialize (the order is part of the
  input).
---------------------------------------------------------------------------- */
#ifndef HL_SIM_H
#define HL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_CORES                                                                              \
  64                    /* core sets are 64-bit masks (sim_cores_t), and the binary trace          \
                           head byte has 6 bits for the core */
#define SIM_MAX_LINE 64 /* per-core touched-byte masks are 64-bit */

typedef enum sim_policy_e { SIM_POLICY_LRU = 0, SIM_POLICY_PLRU = 1 } sim_policy_t;

/* One cache level: total bytes, associativity, replacement policy. */
typedef struct sim_level_config_s {
  uint64_t size;
  uint32_t ways;
  sim_policy_t policy;
} sim_level_config_t;

/* One TLB level for one page size; entries == 0 means "no such level". */
typedef struct sim_tlb_config_s {
  uint32_t entries;
  uint32_t ways;
} sim_tlb_config_t;

enum { SIM_PAGE_4K = 0, SIM_PAGE_2M = 1, SIM_PAGE_1G = 2, SIM_PAGE_KINDS = 3 };

/* A hardware prefetcher: the L1D's is next-line or off, the L2's stream or
   off (sim/README.md, "Prefetchers"). */
typedef enum sim_prefetch_kind_e {
  SIM_PREFETCH_OFF = 0,
  SIM_PREFETCH_NEXT_LINE = 1, /* l1d.prefetch */
  SIM_PREFETCH_STREAM = 2,    /* l2.prefetch */
} sim_prefetch_kind_t;

typedef struct sim_prefetch_config_s {
  sim_prefetch_kind_t kind;
  uint32_t degree;   /* lines per trigger, 1..16 */
  uint32_t streams;  /* stream: trackers, 1..64 */
  uint32_t distance; /* stream: how many strides ahead of the demand it may run, 1..64 */
} sim_prefetch_config_t;

typedef struct sim_config_s {
  char name[64];  /* "name = ..." in the file, for reports */
  uint32_t cores; /* 1..SIM_MAX_CORES */
  uint32_t line;  /* bytes, power of two, 16..SIM_MAX_LINE, all levels */
  uint32_t page;  /* SIM_PAGE_4K / 2M / 1G: every page of the run has this size */
  sim_level_config_t l1d, l2, llc;
  sim_prefetch_config_t l1d_prefetch, l2_prefetch;
  bool phys;          /* map virtual pages to physical frames (else physical = virtual) */
  uint32_t phys_bits; /* physical address bits, 32..52 */
  uint64_t phys_seed; /* the frame permutation's seed */
  sim_tlb_config_t dtlb[SIM_PAGE_KINDS], stlb[SIM_PAGE_KINDS];
} sim_config_t;

/* The built-in defaults (identical to sim/presets/skylake.conf). */
void sim_config_default(sim_config_t *cfg);

/* Read `key = value` lines from `path` over `cfg` (keys not named keep their
   value). Returns 0, or -1 with "path:line: message" in err. The result is
   checked as a whole (sim_config_check) at the end. */
int sim_config_load(sim_config_t *cfg, const char *path, char *err, size_t errlen);

/* Set one key from its text value (what the file parser and --page-size use).
   Returns 0, or -1 with a message (without file:line) in err. */
int sim_config_set(sim_config_t *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Whole-config consistency: geometry (sets a power of two, size = sets x ways x
   line, each level at least as large as the one above), PLRU ways a power of
   two, core count, prefetcher and mapping ranges. Returns 0 or -1 with err. */
int sim_config_check(const sim_config_t *cfg, char *err, size_t errlen);

/* A byte size: decimal digits, optionally a binary suffix K, M or G, which may
   be followed by B or iB (any case): "4096", "48K", "2M", "1G", "48KiB". The
   one size parser of the simulator's config and page sizes, hlbench's
   page_sizes and hlreplay's byte options. It lives here because libhlsim
   depends on no other library of ours and the harness already depends on it
   (the allocators' own option parsers in alloc/ cannot use it: libhlarena.so
   is built from alloc/arena alone). false on anything else (a sign, a blank)
   and on overflow; *out is then untouched. */
bool sim_size_parse(const char *text, uint64_t *out);

/* Parse "4K" / "2M" / "1G" (also "4096", "2097152", ...) into SIM_PAGE_*; -1 if not one. */
int sim_page_parse(const char *text);
uint64_t sim_page_bytes(uint32_t page_kind);

typedef struct sim_s sim_t;

sim_t *sim_create(const sim_config_t *cfg, char *err, size_t errlen);
void sim_destroy(sim_t *sim);
const sim_config_t *sim_config(const sim_t *sim);

/* One load or store of `size` bytes at `addr` by `core`. An access that spans
   lines touches each line (and each page) it covers; size 0 does nothing. */
void sim_access(sim_t *sim, unsigned core, uint64_t addr, uint64_t size, bool is_write);

/* The bytes [addr, addr+size) no longer hold a live value (their object was
   freed): a later miss that only communicates them counts as allocator
   reuse, not true sharing, until they are written again. No access. */
void sim_freed(sim_t *sim, uint64_t addr, uint64_t size);

/* Counters; per core, or summed over all cores (core = -1). Lines and pages
   pieces: an access spanning 2 lines is 1 access, 2 l1d_accesses. Misses are
   demand misses (prefetches have their own counters). Every field is a
   uint64_t (sim_stats sums them as an array). */
typedef struct sim_stats_s {
  uint64_t accesses, reads, writes;
  uint64_t l1d_accesses, l1d_misses; /* l2 accesses = l1d misses */
  uint64_t l2_misses;
  uint64_t llc_accesses, llc_misses; /* llc accesses = l2 misses not served by a peer */
  uint64_t dtlb_accesses, dtlb_misses, stlb_misses, walks;
  uint64_t transfers;      /* cache-to-cache transfers of modified lines, received */
  uint64_t clean_forwards; /* forwards of unmodified (E) lines, received: no communication */
  /* the L2 misses by class, over the lifetime of the copy each brought in
     (sum = l2_misses; live copies classified as if they ended now) */
  uint64_t cold, true_sharing, false_sharing, alloc_reuse, replacement;
  uint64_t invalidations;  /* copies in other cores invalidated by this core's requests */
  uint64_t writebacks;     /* dirty lines written back from this core's private L2 to the LLC */
  uint64_t mem_writebacks; /* dirty LLC lines evicted to memory by this core's requests */
  uint64_t l1d_pf_issued, l1d_pf_useful, l1d_pf_useless; /* L1D next-line prefetches */
  uint64_t l2_pf_issued, l2_pf_useful, l2_pf_useless;    /* L2 stream prefetches */
} sim_stats_t;

void sim_stats(const sim_t *sim, int core, sim_stats_t *out);
/* Core `core`'s live counters (updated by every sim_access): the capture
   runtime watches transfers, clean forwards and invalidations after each access to attribute
   coherence events without a call. The three access totals (accesses,
   l1d_accesses, dtlb_accesses) are not kept live, to spare the hot path:
   they read 0 here, and sim_stats fills them in; the miss classes here
   count only copies whose lifetime has ended. */
const sim_stats_t *sim_core_counters(const sim_t *sim, unsigned core);

/* Per-line coherence counters, for the hottest-lines report: the misses on
   the line by sharing class (live copies classified as if they ended now). */
typedef struct sim_hotline_s {
  uint64_t addr; /* first byte of the line (virtual) */
  uint64_t transfers, clean_forwards, true_sharing, false_sharing, alloc_reuse, invalidations;
} sim_hotline_t;

/* The n lines with the most transfers (ties: more invalidations, then lower
   address), lines whose counters are all 0 left out. Returns how many were
   written. */
size_t sim_hot_lines(const sim_t *sim, sim_hotline_t *out, size_t n);

/* Text report (config line, one row per core and the total, the `top`
   hottest lines) and CSV (header, one row per core, a "total" row). */
void sim_report(const sim_t *sim, FILE *out, size_t top);
void sim_report_csv(const sim_t *sim, FILE *out);
/* Every line with a nonzero per-line counter, by address, as CSV. Returns 0,
   or -1 when out of memory for the sort. */
int sim_report_lines_csv(const sim_t *sim, FILE *out);

/* Full invariant check (slow: walks every cache and the directory); asserted
   in debug builds at report time, and called by the tests. */
bool sim_is_valid(const sim_t *sim);

/* ---- access traces (formats: sim/README.md) ----
   Text: "CORE R|W|F ADDR SIZE" per line, '#' comments. Binary: a magic, then
   per record a head byte and two varints. sim_trace_read tells them apart by
   the first byte and calls fn for every record; it returns the number of
   records, or -1 with "name:line: message" (text) or "name: byte N: message"
   (binary) in err; fn may have been called for the records before the error. */
typedef enum sim_op_e { SIM_OP_READ = 0, SIM_OP_WRITE = 1, SIM_OP_FREE = 2 } sim_op_t;
typedef void (*sim_trace_fn)(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op);
long long sim_trace_read(FILE *in, const char *name, unsigned ncores, sim_trace_fn fn, void *arg,
                         char *err, size_t errlen);
/* sim_trace_read feeding sim_access and sim_freed. */
long long sim_trace_run(sim_t *sim, FILE *in, const char *name, char *err, size_t errlen);
/* Binary writer: the header once, then one call per record; *prev starts at 0. */
int sim_trace_write_header(FILE *out);
void sim_trace_write(FILE *out, uint64_t *prev, unsigned core, uint64_t addr, uint64_t size,
                     sim_op_t op);

#endif
