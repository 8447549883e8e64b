/* ----------------------------------------------------------------------------
  tests/test_sim.c: the memory-hierarchy simulator (sim/) against counts
  computed by hand: compulsory misses of a stream, a working set that fits,
  LRU versus tree-PLRU on a known pattern, false and true sharing ping-pong,
  a hand-traced MESI sequence, every miss class (read-only sharing, first
  reads, a read-shared field beside private ones, a use later in the copy's
  lifetime, allocator reuse, replacement), the prefetchers on a stream, a
  stride and a pointer chase, physical mapping against aligned chunks, TLB
  misses with 4 KiB and 2 MiB pages, lines spanned by one access,
  determinism, trace round trips, config parsing errors, the byte-size
  parser, and the invariants (sim_is_valid) after every access of a random
  four-core mix on tiny caches, where evictions and coherence actions are
  constant.

  Every case starts from the built-in Skylake geometry with the prefetchers
  and the physical mapping off (`plain`), so that its counts can be worked
  out by hand; the cases of those parts turn them on.
---------------------------------------------------------------------------- */
#include "sim/sim.h"
#include "tests/check.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const plain[] = {"l1d.prefetch", "off", "l2.prefetch", "off",
                                    "phys",         "off", NULL};

static sim_t *make(const char *const *kv) {
  sim_config_t cfg;
  sim_config_default(&cfg);
  char err[256];
  for (size_t i = 0; plain[i] != NULL; i += 2)
    if (sim_config_set(&cfg, plain[i], plain[i + 1], err, sizeof(err)) != 0) exit(1);
  for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2) {
    if (sim_config_set(&cfg, kv[i], kv[i + 1], err, sizeof(err)) != 0) {
      fprintf(stderr, "test_sim: config %s = %s: %s\n", kv[i], kv[i + 1], err);
      exit(1);
    }
  }
  sim_t *s = sim_create(&cfg, err, sizeof(err));
  if (s == NULL) {
    fprintf(stderr, "test_sim: sim_create: %s\n", err);
    exit(1);
  }
  return s;
}

static sim_stats_t stats(const sim_t *s, int core) {
  sim_stats_t st;
  sim_stats(s, core, &st);
  return st;
}

/* Core 0 reads 8 bytes at 0x100000 + seq[i] * stride, i = 0..n-1, on a
   simulator set up by `kv`: its counts (and the invariants, checked). */
static sim_stats_t run_sequence(const char *const *kv, const uint64_t *seq, size_t n,
                                uint64_t stride) {
  sim_t *s = make(kv);
  for (size_t i = 0; i < n; i++) sim_access(s, 0, 0x100000 + seq[i] * stride, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
  return st;
}

/* Streaming over N bytes: N/64 compulsory misses at every level, one TLB
   miss and walk per 4 KiB page. */
static void test_stream(void) {
  sim_t *s = make(NULL);
  const uint64_t n = 1 << 20, base = 0x10000000;
  for (uint64_t a = 0; a < n; a += 8) sim_access(s, 0, base + a, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(st.accesses == n / 8, "%llu", (unsigned long long)st.accesses);
  CHECK(st.l1d_misses == n / 64, "l1d %llu", (unsigned long long)st.l1d_misses);
  CHECK(st.l2_misses == n / 64, "l2 %llu", (unsigned long long)st.l2_misses);
  CHECK(st.llc_misses == n / 64, "llc %llu", (unsigned long long)st.llc_misses);
  CHECK(st.dtlb_misses == n / 4096 && st.walks == n / 4096, "tlb %llu walks %llu",
        (unsigned long long)st.dtlb_misses, (unsigned long long)st.walks);
  CHECK(st.transfers == 0 && st.invalidations == 0 && st.writebacks == 0, "no coherence");
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* A 16 KiB working set fits the 32 KiB L1D: 256 misses in the first pass,
   none in the nine after, with reads and writes mixed. */
static void test_fits(void) {
  sim_t *s = make(NULL);
  for (int pass = 0; pass < 10; pass++) {
    for (uint64_t a = 0; a < 16384; a += 16) sim_access(s, 0, 0x4000000 + a, 16, (a & 32) != 0);
    if (pass == 0) {
      sim_stats_t st = stats(s, 0);
      CHECK(st.l1d_misses == 256 && st.l2_misses == 256 && st.llc_misses == 256, "warm-up %llu",
            (unsigned long long)st.l1d_misses);
    }
  }
  sim_stats_t st = stats(s, 0);
  CHECK(st.l1d_misses == 256, "after warm-up %llu", (unsigned long long)st.l1d_misses);
  CHECK(st.l2_misses == 256 && st.llc_misses == 256, "l2 %llu", (unsigned long long)st.l2_misses);
  CHECK(st.writebacks == 0, "nothing left the private cache");
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* One 4-way set (L1D of 256 bytes), lines A B C D A E B C.
   LRU: after A B C D A the order is A D C B; E evicts B, B evicts C, C evicts
   D: misses 4 + E + B + C = 7.
   Tree-PLRU: A..D fill ways 0..3; the hit on A points the root right and
   the right node (way 3 touched last) at way 2, so E replaces C in way 2,
   which points the root left. B hits in way 1 (root right again), and C
   replaces D (right node: way 3). Misses 4 + E + C = 6. The L2 sees 5
   compulsory misses either way. */
static void test_lru_plru(void) {
  const uint64_t seq[] = {0, 1, 2, 3, 0, 4, 1, 2};
  const unsigned want[2] = {7, 6};
  const char *policy[2] = {"lru", "plru"};
  for (int p = 0; p < 2; p++) {
    const char *kv[] = {"l1d.size", "256", "l1d.ways", "4", "l1d.policy", policy[p], NULL};
    sim_stats_t st = run_sequence(kv, seq, sizeof(seq) / sizeof(seq[0]), 64);
    CHECK(st.l1d_misses == want[p], "%s: %llu L1D misses, expected %u", policy[p],
          (unsigned long long)st.l1d_misses, want[p]);
    CHECK(st.l2_misses == 5, "%s: %llu L2 misses", policy[p], (unsigned long long)st.l2_misses);
  }
}

/* A core's last two lines (pages) are hits that change nothing only while
   they are in different sets. One 2-way set, lines A B A C B: the second A
   makes B the least recent, so C evicts B and B misses again: 4 misses under
   both policies (3 if that A were taken as changing nothing, and C evicted
   it). The same with pages P Q P R Q in a dTLB of one 2-way set and no STLB:
   4 walks. */
static void test_recent_same_set(void) {
  const uint64_t seq[] = {0, 1, 0, 2, 1};
  const size_t n = sizeof(seq) / sizeof(seq[0]);
  const char *policy[2] = {"lru", "plru"};
  for (int p = 0; p < 2; p++) {
    const char *kv[] = {"l1d.size", "128", "l1d.ways", "2", "l1d.policy", policy[p], NULL};
    sim_stats_t st = run_sequence(kv, seq, n, 64);
    CHECK(st.l1d_misses == 4, "%s: %llu L1D misses, expected 4", policy[p],
          (unsigned long long)st.l1d_misses);
  }
  const char *kv[] = {"dtlb.4k.entries", "2", "dtlb.4k.ways", "2", "stlb.4k.entries", "0", NULL};
  sim_stats_t st = run_sequence(kv, seq, n, 4096);
  CHECK(st.dtlb_misses == 4 && st.walks == 4, "dTLB: %llu misses, %llu walks, expected 4",
        (unsigned long long)st.dtlb_misses, (unsigned long long)st.walks);
}

/* Two cores writing alternately, K times each: every write after the first
   finds the line M in the other core: 2K-1 transfers, each invalidating the
   other copy. Adjacent words: false sharing; the same word: true sharing;
   words in different lines: nothing at all. */
static void test_pingpong(void) {
  const unsigned k = 100;
  const uint64_t x = 0x200000;
  const uint64_t off1[3] = {8, 0, 64}; /* core 1's word: adjacent, same, other line */
  for (int v = 0; v < 3; v++) {
    sim_t *s = make(NULL);
    for (unsigned i = 0; i < k; i++) {
      sim_access(s, 0, x, 8, true);
      sim_access(s, 1, x + off1[v], 8, true);
    }
    sim_stats_t st = stats(s, -1);
    if (v == 2) {
      CHECK(st.transfers == 0 && st.invalidations == 0, "different lines: %llu transfers",
            (unsigned long long)st.transfers);
    } else {
      CHECK(st.transfers == 2 * k - 1, "%llu transfers", (unsigned long long)st.transfers);
      CHECK(st.invalidations == 2 * k - 1, "%llu invalidations",
            (unsigned long long)st.invalidations);
      uint64_t want_false = v == 0 ? 2 * k - 1 : 0;
      /* core 1's first miss already finds core 0's write: cold false (or
         true) sharing; every later one is a coherence miss */
      CHECK(st.false_sharing == want_false && st.true_sharing == 2 * k - 1 - want_false &&
                st.cold == 1,
            "variant %d: true %llu false %llu cold %llu", v, (unsigned long long)st.true_sharing,
            (unsigned long long)st.false_sharing, (unsigned long long)st.cold);
      sim_hotline_t hot[2];
      size_t n = sim_hot_lines(s, hot, 2);
      CHECK(n == 1 && hot[0].addr == x && hot[0].transfers == 2 * k - 1, "hot line");
      CHECK(st.l2_misses == 2 * k && st.llc_accesses == 1, "l2 misses %llu llc %llu",
            (unsigned long long)st.l2_misses, (unsigned long long)st.llc_accesses);
    }
    CHECK(sim_is_valid(s), "valid");
    sim_destroy(s);
  }
}

/* The bytes a core touches on its recent lines (which keep pointers to the
   lines' directory entries) must land in the directory even after the
   directory grew and moved while the lines sat there: c0 writes X[0..8) and
   Y[0..8) (the next line: another L1D set), c1 reads 5000 other lines (the
   directory grows from 1024 entries past 4096), c0 writes X[8..16) and
   Y[8..16), each then its second most recent line, c1 reads X[8..16) and
   Y[8..16): two transfers, both true sharing (c0 wrote bytes 8..16, which
   only counts if the fast path's writes reached the directory). */
static void test_directory_growth(void) {
  sim_t *s = make(NULL);
  const uint64_t x = 0x400000, y = x + 64, other = 0x10000000;
  sim_access(s, 0, x, 8, true);
  sim_access(s, 0, y, 8, true);
  for (uint64_t i = 0; i < 5000; i++) sim_access(s, 1, other + i * 64, 8, false);
  sim_access(s, 0, x + 8, 8, true);
  sim_access(s, 0, y + 8, 8, true);
  sim_access(s, 1, x + 8, 8, false);
  sim_access(s, 1, y + 8, 8, false);
  sim_stats_t st = stats(s, 1);
  CHECK(st.transfers == 2 && st.true_sharing == 2 && st.false_sharing == 0,
        "transfers %llu true %llu false %llu", (unsigned long long)st.transfers,
        (unsigned long long)st.true_sharing, (unsigned long long)st.false_sharing);
  CHECK(stats(s, 0).accesses == 4 && stats(s, 0).l1d_misses == 2, "c0: two misses, two hits");
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* A hand-traced MESI sequence on line X over three cores (L2: 4 ways, LRU,
   4 sets, so lines X + n*256 share X's set):
     1. c0 R X[0..8)   miss everywhere, alone: c0 E
     2. c1 R X[0..8)   c0 owns it E: a clean forward (not a transfer); c0 S, c1 S
     3. c2 W X[8..16)  only S copies: LLC supplies, 2 invalidations; c2 M.
                       c0's and c1's copies end: both misses cold (no one had
                       written the line)
     4. c0 R X[0..8)   c2 owns it M: transfer 1, c2 writes back (1); c0 S, c2 S
     5. c0 W X[0..8)   upgrade: c2 invalidated (3); c0 M. c2's copy ends: cold
     6. c0 reads 4 more lines of X's set: X, M, leaves c0: writeback 2. c0's
        copy from step 4 ends: it had lost its copy to c2's write of bytes
        8..16 and used 0..8: false sharing. 7 cold misses, 1 false. */
static void test_mesi(void) {
  const char *kv[] = {"l2.size",  "1K", "l2.ways",    "4",   "l2.policy", "lru", "l1d.size", "256",
                      "l1d.ways", "2",  "l1d.policy", "lru", NULL};
  sim_t *s = make(kv);
  const uint64_t x = 0x300000;
  sim_access(s, 0, x, 8, false);
  CHECK(stats(s, -1).llc_misses == 1 && stats(s, -1).transfers == 0, "step 1");
  sim_access(s, 1, x, 8, false);
  sim_stats_t st = stats(s, -1);
  CHECK(st.transfers == 0 && st.clean_forwards == 1 && st.writebacks == 0, "step 2");
  sim_access(s, 2, x + 8, 8, true);
  st = stats(s, 2);
  CHECK(st.invalidations == 2 && st.transfers == 0 && st.llc_accesses == 1, "step 3: inv %llu",
        (unsigned long long)st.invalidations);
  sim_access(s, 0, x, 8, false);
  st = stats(s, -1);
  CHECK(st.transfers == 1 && st.cold == 3 && st.true_sharing == 0, "step 4");
  CHECK(st.writebacks == 1 && stats(s, 2).writebacks == 1, "step 4: c2 writes back");
  sim_access(s, 0, x, 8, true);
  st = stats(s, -1);
  CHECK(st.invalidations == 3 && stats(s, 0).invalidations == 1 && st.transfers == 1, "step 5");
  CHECK(sim_is_valid(s), "valid after step 5");
  for (uint64_t i = 1; i <= 4; i++) sim_access(s, 0, x + i * 256, 8, false);
  st = stats(s, -1);
  CHECK(st.writebacks == 2 && stats(s, 0).writebacks == 1, "step 6: %llu writebacks",
        (unsigned long long)st.writebacks);
  CHECK(st.cold == 7 && st.false_sharing == 1 && st.true_sharing == 0 && st.l2_misses == 8,
        "step 6: cold %llu false %llu", (unsigned long long)st.cold,
        (unsigned long long)st.false_sharing);
  sim_hotline_t hot[4];
  size_t n = sim_hot_lines(s, hot, 4);
  CHECK(n == 1 && hot[0].addr == x && hot[0].transfers == 1 && hot[0].clean_forwards == 1 &&
            hot[0].invalidations == 3 && hot[0].true_sharing == 0 && hot[0].false_sharing == 1,
        "hot lines: %zu", n);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* ---- miss classes (sim/README.md, "Miss classes") ---- */

/* Cores past 31 in the directory's 64-bit core sets (sim_cores_t): line X
   shared by cores 0, 33 and 63 on a 64-core config (a 32-bit mask would
   wrap 33 onto 1 and drop 63). Worked out by hand:
     1. c0  R X[0..8)    miss everywhere, alone: c0 E (LLC miss 1)
     2. c33 R X[8..16)   c0 owns it E: a clean forward; c0 S, c33 S
     3. c63 R X[16..24)  only S copies: the LLC supplies it (hit); S joins S
     4. c63 W X[16..24)  upgrade: c0 and c33 invalidated (2, charged to c63),
                         no transfer; their copies end cold (no one had written)
     5. c33 R X[8..16)   c63 owns it M: transfer 1 (received by c33), c63
                         writes back; c63 S, c33 S. c33 lost its copy to a
                         write of bytes it does not use: false sharing
     6. c0  W X[0..8)    S copies only: the LLC supplies it, c33 and c63
                         invalidated (2, charged to c0). c63's copy ends cold
                         (its own write is no news to it); c0's new copy is
                         false sharing, as c33's
   5 L2 misses: 3 cold, 2 false; 4 invalidations, 1 transfer, 1 clean
   forward, 1 writeback, 3 LLC accesses, 1 LLC miss. */
static void test_cores_64(void) {
  const char *kv[] = {"cores", "64", NULL};
  sim_t *s = make(kv);
  const uint64_t x = 0x400000;
  sim_access(s, 0, x, 8, false);
  sim_access(s, 33, x + 8, 8, false);
  CHECK(stats(s, 33).clean_forwards == 1 && stats(s, -1).transfers == 0, "step 2");
  sim_access(s, 63, x + 16, 8, false);
  sim_access(s, 63, x + 16, 8, true);
  sim_stats_t st = stats(s, 63);
  CHECK(st.invalidations == 2 && st.transfers == 0 && st.l2_misses == 1, "step 4: c63 inv %llu",
        (unsigned long long)st.invalidations);
  CHECK(sim_is_valid(s), "valid after step 4");
  sim_access(s, 33, x + 8, 8, false);
  CHECK(stats(s, 33).transfers == 1 && stats(s, 63).writebacks == 1, "step 5: transfers %llu",
        (unsigned long long)stats(s, 33).transfers);
  sim_access(s, 0, x, 8, true);
  CHECK(stats(s, 0).invalidations == 2, "step 6: c0 inv %llu",
        (unsigned long long)stats(s, 0).invalidations);
  st = stats(s, -1);
  CHECK(st.l2_misses == 5 && st.cold == 3 && st.false_sharing == 2 && st.true_sharing == 0,
        "classes: l2 %llu cold %llu false %llu", (unsigned long long)st.l2_misses,
        (unsigned long long)st.cold, (unsigned long long)st.false_sharing);
  CHECK(st.invalidations == 4 && st.transfers == 1 && st.clean_forwards == 1 &&
            st.writebacks == 1 && st.llc_accesses == 3 && st.llc_misses == 1,
        "totals: inv %llu transfers %llu llc %llu", (unsigned long long)st.invalidations,
        (unsigned long long)st.transfers, (unsigned long long)st.llc_accesses);
  CHECK(stats(s, 1).l2_misses == 0 && stats(s, 31).l2_misses == 0 && stats(s, 32).l2_misses == 0,
        "no other core touched");
  sim_hotline_t hot[2];
  size_t n = sim_hot_lines(s, hot, 2);
  CHECK(n == 1 && hot[0].addr == x && hot[0].transfers == 1 && hot[0].clean_forwards == 1 &&
            hot[0].invalidations == 4 && hot[0].false_sharing == 2,
        "hot lines: %zu", n);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);

  /* 64 is the limit: the config check and sim_create refuse 65 by name */
  sim_config_t cfg;
  sim_config_default(&cfg);
  char err[256] = "";
  CHECK(sim_config_set(&cfg, "cores", "64", err, sizeof(err)) == 0 &&
            sim_config_check(&cfg, err, sizeof(err)) == 0,
        "64 cores: %s", err);
  CHECK(sim_config_set(&cfg, "cores", "65", err, sizeof(err)) == 0, "cores 65 parses: %s", err);
  err[0] = '\0';
  CHECK(sim_config_check(&cfg, err, sizeof(err)) != 0 && strstr(err, "cores: 65 is not in 1..64"),
        "65 cores: '%s'", err);
  err[0] = '\0';
  CHECK(sim_create(&cfg, err, sizeof(err)) == NULL && strstr(err, "cores: 65 is not in 1..64"),
        "sim_create, 65 cores: '%s'", err);
}

/* Four cores read the same 64 lines, one core after the other: core 1 gets
   each line from core 0's E copy (a clean forward), cores 2 and 3 from the
   LLC. Nothing was written: 256 cold misses, no sharing, no transfers. */
static void test_class_read_only(void) {
  sim_t *s = make(NULL);
  const uint64_t base = 0x700000;
  for (unsigned c = 0; c < 4; c++)
    for (uint64_t l = 0; l < 64; l++) sim_access(s, c, base + l * 64, 8, false);
  sim_stats_t st = stats(s, -1);
  CHECK(st.transfers == 0 && st.clean_forwards == 64 && st.invalidations == 0,
        "read-only: transfers %llu clean %llu", (unsigned long long)st.transfers,
        (unsigned long long)st.clean_forwards);
  CHECK(st.cold == 256 && st.true_sharing == 0 && st.false_sharing == 0 && st.alloc_reuse == 0,
        "read-only: cold %llu true %llu false %llu", (unsigned long long)st.cold,
        (unsigned long long)st.true_sharing, (unsigned long long)st.false_sharing);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* Two cores' first reads of different bytes of one line: a cold miss each
   (a clean forward for the second), not false sharing. */
static void test_class_first_reads(void) {
  sim_t *s = make(NULL);
  sim_access(s, 0, 0x710000, 8, false);
  sim_access(s, 1, 0x710008, 8, false);
  sim_stats_t st = stats(s, -1);
  CHECK(st.cold == 2 && st.false_sharing == 0 && st.true_sharing == 0 && st.transfers == 0 &&
            st.clean_forwards == 1,
        "first reads: cold %llu false %llu clean %llu", (unsigned long long)st.cold,
        (unsigned long long)st.false_sharing, (unsigned long long)st.clean_forwards);
  sim_destroy(s);
}

/* A field both cores read beside a field each writes: 50 rounds of core 0
   reading A and writing B, core 1 reading A and writing C. Core 0's first
   miss is cold; core 1's first finds B written (cold false sharing), and
   each of the 98 after it is a coherence miss for a write to bytes the core
   does not use: 99 false, 0 true (the bytes the other core only read do not
   count), 99 transfers, 99 invalidations. With A, B and C in three lines:
   4 cold misses and nothing else (splitting the line removes all 99). */
static void test_class_read_shared_field(void) {
  for (int split = 0; split < 2; split++) {
    sim_t *s = make(NULL);
    const uint64_t a = 0x720000, b = a + (split ? 64 : 8), c = a + (split ? 128 : 16);
    for (int r = 0; r < 50; r++) {
      sim_access(s, 0, a, 8, false);
      sim_access(s, 0, b, 8, true);
      sim_access(s, 1, a, 8, false);
      sim_access(s, 1, c, 8, true);
    }
    sim_stats_t st = stats(s, -1);
    if (!split) {
      CHECK(st.false_sharing == 99 && st.true_sharing == 0 && st.cold == 1 && st.l2_misses == 100,
            "read-shared field: false %llu true %llu cold %llu",
            (unsigned long long)st.false_sharing, (unsigned long long)st.true_sharing,
            (unsigned long long)st.cold);
      CHECK(st.transfers == 99 && st.invalidations == 99, "transfers %llu invalidations %llu",
            (unsigned long long)st.transfers, (unsigned long long)st.invalidations);
    } else {
      CHECK(st.l2_misses == 4 && st.cold == 4 && st.false_sharing == 0 && st.transfers == 0,
            "split: misses %llu false %llu", (unsigned long long)st.l2_misses,
            (unsigned long long)st.false_sharing);
    }
    CHECK(sim_is_valid(s), "valid");
    sim_destroy(s);
  }
}

/* Over the copy's lifetime: core 0 writes X[0..8); core 1 reads X[8..16)
   (a miss: at that moment it has used only bytes core 0 did not write), then
   X[0..8) (a hit). Its miss is true sharing: it used core 0's value during
   the copy. Without the second read: cold false sharing. */
static void test_class_lifetime(void) {
  for (int later = 0; later < 2; later++) {
    sim_t *s = make(NULL);
    sim_access(s, 0, 0x730000, 8, true);
    sim_access(s, 1, 0x730008, 8, false);
    if (later) sim_access(s, 1, 0x730000, 8, false);
    sim_stats_t st = stats(s, 1);
    CHECK(st.true_sharing == (later ? 1u : 0u) && st.false_sharing == (later ? 0u : 1u),
          "lifetime (later use %d): true %llu false %llu", later,
          (unsigned long long)st.true_sharing, (unsigned long long)st.false_sharing);
    sim_destroy(s);
  }
}

/* Allocator reuse: core 0 writes a 64-byte object and frees it; core 1 gets
   the memory and writes its own object there. The line moves (a transfer:
   core 0 still holds it M) for values no one needed: allocator reuse, not
   true sharing. Variants: no free (true sharing); the allocator writes a
   free-list link into the first 8 bytes after the free, which core 1 then
   reads (true sharing: that value is live); core 1 writes only the object's
   second half while the link sits in the first (allocator reuse). */
static void test_class_alloc_reuse(void) {
  enum { FREED, NOT_FREED, LINK_READ, LINK_UNUSED };
  enum { COLD = 1, TRUE_SHARING, FALSE_SHARING, REUSE, REPLACEMENT }; /* got[] below */
  const int want[4] = {REUSE, TRUE_SHARING, TRUE_SHARING, REUSE};
  for (int v = 0; v < 4; v++) {
    sim_t *s = make(NULL);
    const uint64_t o = 0x740000;
    sim_access(s, 0, o, 64, true);
    if (v != NOT_FREED) sim_freed(s, o, 64);
    if (v == LINK_READ || v == LINK_UNUSED) sim_access(s, 0, o, 8, true); /* the free list's link */
    if (v == LINK_READ) sim_access(s, 1, o, 8, false);                    /* malloc pops it */
    sim_access(s, 1, o + (v == LINK_UNUSED ? 32 : 0), v == LINK_UNUSED ? 32 : 64, true);
    sim_stats_t st = stats(s, 1);
    uint64_t got[6] = {
        0, st.cold, st.true_sharing, st.false_sharing, st.alloc_reuse, st.replacement};
    CHECK(st.l2_misses == 1 && got[want[v]] == 1 && st.transfers == 1,
          "reuse variant %d: cold %llu true %llu false %llu reuse %llu", v,
          (unsigned long long)st.cold, (unsigned long long)st.true_sharing,
          (unsigned long long)st.false_sharing, (unsigned long long)st.alloc_reuse);
    sim_hotline_t hot[1];
    CHECK(sim_hot_lines(s, hot, 1) == 1 && hot[0].alloc_reuse == (uint64_t)(want[v] == REUSE),
          "reuse variant %d: the line's count", v);
    CHECK(sim_is_valid(s), "valid");
    sim_destroy(s);
  }
}

/* Replacement: core 0 reads 9 lines into an L1D and an L2 of one 8-way LRU
   set each, then the first again: 10 misses, 9 cold and one replacement. */
static void test_class_replacement(void) {
  const char *kv[] = {"l1d.size", "512", "l1d.ways",  "8",   "l1d.policy", "lru", "l2.size", "512",
                      "l2.ways",  "8",   "l2.policy", "lru", NULL};
  sim_t *s = make(kv);
  for (uint64_t l = 0; l <= 8; l++) sim_access(s, 0, 0x750000 + l * 64, 8, false);
  sim_access(s, 0, 0x750000, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(st.l2_misses == 10 && st.cold == 9 && st.replacement == 1, "replacement: %llu of %llu",
        (unsigned long long)st.replacement, (unsigned long long)st.l2_misses);
  sim_destroy(s);
}

/* ---- prefetchers ---- */

/* A stream of 8-byte reads, one per line, over one 4 KiB page (64 lines).
   Next-line (degree 1): each demand miss fetches the next line, whose
   access is then a hit and triggers nothing: 32 misses, 32 issued, 32
   useful. */
static void test_prefetch_next_line(void) {
  const char *kv[] = {"l1d.prefetch", "next-line", NULL};
  sim_t *s = make(kv);
  for (uint64_t l = 0; l < 64; l++) sim_access(s, 0, 0x800000 + l * 64, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(st.l1d_misses == 32 && st.l2_misses == 32 && st.l1d_pf_issued == 32 &&
            st.l1d_pf_useful == 32 && st.l1d_pf_useless == 0,
        "next-line stream: misses %llu issued %llu useful %llu", (unsigned long long)st.l1d_misses,
        (unsigned long long)st.l1d_pf_issued, (unsigned long long)st.l1d_pf_useful);
  CHECK(st.llc_misses == 32 && st.cold == 32, "demand LLC misses only %llu",
        (unsigned long long)st.llc_misses);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
  /* a line a peer holds M is not taken: core 1 writes line 1, core 0 misses
     line 0 (no prefetch), then line 1 (a demand miss: the transfer) */
  s = make(kv);
  sim_access(s, 1, 0x810040, 8, true);
  sim_access(s, 0, 0x810000, 8, false);
  sim_access(s, 0, 0x810040, 8, false);
  st = stats(s, 0);
  CHECK(st.l1d_pf_issued == 0 && st.l2_misses == 2 && st.transfers == 1,
        "dropped: issued %llu transfers %llu", (unsigned long long)st.l1d_pf_issued,
        (unsigned long long)st.transfers);
  sim_destroy(s);
}

/* Stride 2 lines over one page (lines 0, 2, ..., 62) with the L2 stream
   prefetcher (degree 2, distance 20): line 0 allocates the tracker, line 2
   sets the stride, line 4 confirms it and fetches 6 and 8, each later access
   fetches two more ahead, until the page ends. 32 L1D misses, L2 misses only
   for 0, 2, 4; 29 prefetches (6..62), all useful. */
static void test_prefetch_stride(void) {
  const char *kv[] = {"l2.prefetch", "stream", NULL};
  sim_t *s = make(kv);
  for (uint64_t l = 0; l < 64; l += 2) sim_access(s, 0, 0x820000 + l * 64, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(st.l1d_misses == 32 && st.l2_misses == 3 && st.l2_pf_issued == 29 &&
            st.l2_pf_useful == 29 && st.l2_pf_useless == 0 && st.llc_misses == 3,
        "stride: l2 misses %llu issued %llu useful %llu", (unsigned long long)st.l2_misses,
        (unsigned long long)st.l2_pf_issued, (unsigned long long)st.l2_pf_useful);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* A pointer chase: one line in each of 64 pages, at offsets that never
   repeat a stride or sit at a page's end. The stream prefetcher never
   confirms a stride; next-line fetches the line after each of the 64
   misses, none ever used. A 1 KiB L1D of one 16-way LRU set keeps the last
   16 lines installed, 8 demand and 8 prefetched: 56 useless. */
static void test_prefetch_chase(void) {
  const char *kv[] = {"l1d.prefetch", "next-line", "l2.prefetch", "stream", "l1d.size", "1K",
                      "l1d.ways",     "16",        "l1d.policy",  "lru",    NULL};
  sim_t *s = make(kv);
  for (uint64_t p = 0; p < 64; p++)
    sim_access(s, 0, 0x900000 + p * 4096 + (p * 5 % 61) * 64, 8, false);
  sim_stats_t st = stats(s, 0);
  CHECK(st.l1d_misses == 64 && st.l2_pf_issued == 0 && st.l1d_pf_issued == 64 &&
            st.l1d_pf_useful == 0 && st.l1d_pf_useless == 56,
        "chase: issued %llu/%llu useful %llu useless %llu", (unsigned long long)st.l1d_pf_issued,
        (unsigned long long)st.l2_pf_issued, (unsigned long long)st.l1d_pf_useful,
        (unsigned long long)st.l1d_pf_useless);
  CHECK(sim_is_valid(s), "valid");
  sim_destroy(s);
}

/* ---- physical mapping ---- */

/* The first line of 16 naturally aligned 4 MiB chunks, read twice. Without
   the mapping they all fall in L2 set 0 (4 ways): the second pass misses 16
   times again. With it, frames scatter them over the sets: the second pass
   hits (almost) everywhere. The same seed gives the same counts. */
static void test_phys(void) {
  uint64_t second[3];
  const char *phys[3][5] = {
      {"phys", "off", NULL}, {"phys", "on", NULL}, {"phys", "on", "phys.seed", "7"}};
  for (int v = 0; v < 3; v++) {
    sim_t *s = make(phys[v]);
    for (uint64_t i = 0; i < 16; i++) sim_access(s, 0, (i + 1) << 22, 8, false);
    uint64_t first = stats(s, 0).l2_misses;
    for (uint64_t i = 0; i < 16; i++) sim_access(s, 0, (i + 1) << 22, 8, false);
    second[v] = stats(s, 0).l2_misses - first;
    CHECK(first == 16, "phys %d: first pass %llu", v, (unsigned long long)first);
    sim_hotline_t hot[1];
    CHECK(sim_hot_lines(s, hot, 1) == 0, "no coherence events");
    sim_destroy(s);
  }
  CHECK(second[0] == 16 && second[1] <= 2 && second[2] <= 2, "second pass: %llu, %llu, %llu",
        (unsigned long long)second[0], (unsigned long long)second[1],
        (unsigned long long)second[2]);
  /* reports name virtual addresses: a false-sharing line under the mapping */
  const char *kv[] = {"phys", "on", NULL};
  sim_t *s = make(kv);
  sim_access(s, 0, 0x12345000, 8, true);
  sim_access(s, 1, 0x12345008, 8, true);
  sim_hotline_t hot[1];
  CHECK(sim_hot_lines(s, hot, 1) == 1 && hot[0].addr == 0x12345000 && hot[0].transfers == 1,
        "hot line at its virtual address");
  sim_destroy(s);
}

/* A 16 MiB sweep, 4 accesses per 4 KiB: 4096 pages of 4 KiB, far beyond the
   STLB's reach (1536 entries): every page misses and walks, and again on a
   second sweep (LRU). With 2 MiB pages: 8 pages, 512 times fewer. */
static void test_tlb(void) {
  const uint64_t n = 16 << 20, base = 0x40000000;
  const char *pages[2] = {"4K", "2M"};
  const uint64_t want[2] = {n / 4096, n / (2 << 20)};
  for (int p = 0; p < 2; p++) {
    const char *kv[] = {"page", pages[p], NULL};
    sim_t *s = make(kv);
    for (uint64_t a = 0; a < n; a += 1024) sim_access(s, 0, base + a, 8, false);
    sim_stats_t st = stats(s, 0);
    CHECK(st.dtlb_accesses == n / 1024, "%s: %llu", pages[p], (unsigned long long)st.dtlb_accesses);
    CHECK(st.dtlb_misses == want[p] && st.walks == want[p], "%s: %llu misses %llu walks", pages[p],
          (unsigned long long)st.dtlb_misses, (unsigned long long)st.walks);
    for (uint64_t a = 0; a < n; a += 1024) sim_access(s, 0, base + a, 8, false);
    st = stats(s, 0);
    uint64_t again = p == 0 ? 2 * want[p] : want[p]; /* 8 pages of 2M fit the dTLB */
    CHECK(st.walks == again, "%s second sweep: %llu walks", pages[p], (unsigned long long)st.walks);
    sim_destroy(s);
  }
  CHECK(want[0] == 512 * want[1], "512 times fewer");
}

/* One access spanning three lines and two pages touches each once. */
static void test_span(void) {
  sim_t *s = make(NULL);
  sim_access(s, 0, 0x5000 - 96, 128, true);
  sim_stats_t st = stats(s, 0);
  CHECK(st.accesses == 1 && st.l1d_accesses == 3 && st.l1d_misses == 3, "lines %llu",
        (unsigned long long)st.l1d_accesses);
  CHECK(st.dtlb_accesses == 2 && st.walks == 2, "pages %llu", (unsigned long long)st.dtlb_accesses);
  sim_access(s, 0, 0x5000 - 96, 0, true);
  CHECK(stats(s, 0).accesses == 1, "size 0 does nothing");
  sim_destroy(s);
}

static char *run_report(bool csv) {
  sim_t *s = make(NULL);
  uint64_t x = 12345;
  for (int i = 0; i < 30000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    uint64_t addr = (x >> 8) % (1 << 22) + ((x & 3) == 0 ? 0 : ((x >> 4) & 3) << 30);
    sim_access(s, (unsigned)(x % 4), addr, 1 + (x >> 50) % 16, (x >> 40) % 3 == 0);
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (csv)
    sim_report_csv(s, f);
  else
    sim_report(s, f, 10);
  fclose(f);
  CHECK(sim_is_valid(s), "valid after random run");
  sim_destroy(s);
  return buf;
}

static void test_determinism(void) {
  for (int csv = 0; csv < 2; csv++) {
    char *a = run_report(csv), *b = run_report(csv);
    CHECK(a != NULL && b != NULL && strcmp(a, b) == 0, "two runs differ (csv %d)", csv);
    CHECK(strstr(a, "total") != NULL, "report has a total row");
    free(a);
    free(b);
  }
}

/* Binary traces: what the writer wrote, the reader gives back (large jumps
   both ways included); a cut record is an error with its byte offset. */
typedef struct rec_s {
  unsigned core;
  uint64_t addr, size;
  sim_op_t op;
} rec_t;
typedef struct recs_s {
  rec_t r[1000];
  size_t n;
} recs_t;
static void collect(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op) {
  recs_t *rs = arg;
  if (rs->n < 1000) rs->r[rs->n++] = (rec_t){core, addr, size, op};
}

static void test_binary_trace(void) {
  static recs_t in, out;
  uint64_t x = 777;
  for (size_t i = 0; i < 1000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    in.r[i] = (rec_t){(unsigned)(x % SIM_MAX_CORES), i % 7 == 0 ? x : x % 100000, 1 + x % 4096,
                      (sim_op_t)((x >> 9) % 3)};
  }
  in.r[999].addr = UINT64_MAX - in.r[999].size; /* as high as an access can go */
  in.r[998].core = SIM_MAX_CORES - 1;           /* the head byte's 6 core bits, all set */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  uint64_t prev = 0;
  CHECK(sim_trace_write_header(f) == 0, "header");
  for (size_t i = 0; i < 1000; i++)
    sim_trace_write(f, &prev, in.r[i].core, in.r[i].addr, in.r[i].size, in.r[i].op);
  fclose(f);
  char err[256];
  f = fmemopen(buf, len, "rb");
  long long n = sim_trace_read(f, "mem", SIM_MAX_CORES, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n == 1000 && out.n == 1000, "read %lld: %s", n, n < 0 ? err : "");
  size_t same = 0;
  for (size_t i = 0; i < out.n; i++) {
    same += in.r[i].core == out.r[i].core && in.r[i].addr == out.r[i].addr &&
            in.r[i].size == out.r[i].size && in.r[i].op == out.r[i].op;
  }
  CHECK(same == 1000, "round trip: %zu of 1000 equal", same);
  CHECK(len < 1000 * 8, "compact: %zu bytes", len);
  f = fmemopen(buf, len - 1, "rb");
  out.n = 0;
  n = sim_trace_read(f, "mem", SIM_MAX_CORES, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n < 0 && strstr(err, "mem: byte ") != NULL && strstr(err, "access 999") != NULL,
        "truncated: %s", err);
  f = fmemopen(buf, len, "rb");
  out.n = 0;
  n = sim_trace_read(f, "mem", 4, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n < 0 && strstr(err, "out of range") != NULL, "cores: %s", err);
  free(buf);
  /* version 1 (head core << 1 | is_write), as hlsim --pack wrote it before frees */
  static const unsigned char v1[] = {0x89,       'h',  'l',  's', 'i',    'm',  '\n', 0x01,
                                     3 << 1 | 1, 0x80, 0x01, 8,   2 << 1, 0x10, 4};
  f = fmemopen((void *)v1, sizeof(v1), "rb");
  out.n = 0;
  n = sim_trace_read(f, "v1", 32, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n == 2 && out.r[0].core == 3 && out.r[0].op == SIM_OP_WRITE && out.r[0].addr == 64 &&
            out.r[0].size == 8 && out.r[1].core == 2 && out.r[1].op == SIM_OP_READ &&
            out.r[1].addr == 72 && out.r[1].size == 4,
        "version 1 read: %lld %s", n, n < 0 ? err : "");
}

/* Garbage after a valid magic, and garbage text: an error or a count, never a
   crash (the sanitizer builds run this too). */
static void ignore(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op) {
  (void)arg, (void)core, (void)addr, (void)size, (void)op;
}

static void test_trace_garbage(void) {
  static const unsigned char magic[8] = {0x89, 'h', 'l', 's', 'i', 'm', '\n', 0x02};
  unsigned char buf[64];
  uint64_t x = 99;
  unsigned errors = 0, runs = 0;
  for (int i = 0; i < 2000; i++) {
    size_t len = 8;
    memcpy(buf, magic, 8);
    while (len < sizeof(buf)) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      buf[len++] = (unsigned char)(i & 1 ? x : (x % 10) + '0');
      if (x % 16 == 0) break;
    }
    if (i % 3 == 0) buf[0] = '0'; /* as text */
    FILE *f = fmemopen(buf, len, "rb");
    char err[256];
    long long n = sim_trace_read(f, "g", 32, ignore, NULL, err, sizeof(err));
    fclose(f);
    errors += n < 0;
    runs++;
  }
  CHECK(runs == 2000 && errors > 0 && errors < runs, "garbage: %u errors in %u", errors, runs);
}

static void test_config(void) {
  sim_config_t cfg;
  char err[256];
  sim_config_default(&cfg);
  CHECK(sim_config_check(&cfg, err, sizeof(err)) == 0, "defaults valid: %s", err);
  CHECK(sim_config_set(&cfg, "l1d.size", "48K", err, sizeof(err)) == 0, "48K");
  CHECK(sim_config_set(&cfg, "l1d.ways", "12", err, sizeof(err)) == 0, "12 ways");
  CHECK(sim_config_check(&cfg, err, sizeof(err)) != 0 && strstr(err, "l1d.ways") != NULL,
        "12-way PLRU refused: %s", err);
  CHECK(sim_config_set(&cfg, "l1d.policy", "lru", err, sizeof(err)) == 0, "lru");
  CHECK(sim_config_check(&cfg, err, sizeof(err)) == 0, "48K 12-way LRU: %s", err);
  CHECK(sim_config_set(&cfg, "l1d.size", "40K", err, sizeof(err)) == 0, "40K");
  CHECK(sim_config_check(&cfg, err, sizeof(err)) != 0 && strstr(err, "l1d.size") != NULL,
        "40K/12 ways refused: %s", err);
  CHECK(sim_config_set(&cfg, "l3.size", "1M", err, sizeof(err)) != 0, "unknown key");
  CHECK(sim_config_set(&cfg, "page", "64K", err, sizeof(err)) != 0, "64K pages");
  CHECK(sim_config_set(&cfg, "cores", "x", err, sizeof(err)) != 0, "cores x");
  CHECK(sim_page_parse("2M") == SIM_PAGE_2M && sim_page_parse("1G") == SIM_PAGE_1G, "pages");
  /* sizes in order; prefetcher and mapping keys and their ranges */
  const struct {
    const char *key, *value, *blamed; /* blamed NULL: accepted */
  } sane[] = {{"l2.size", "16K", "l2.size"},
              {"llc.size", "128K", "llc.size"},
              {"l1d.prefetch", "stream", "l1d.prefetch"},
              {"l2.prefetch", "next-line", "l2.prefetch"},
              {"l1d.prefetch.degree", "17", "l1d.prefetch.degree"},
              {"l2.prefetch.streams", "0", "l2.prefetch.streams"},
              {"l2.prefetch.distance", "65", "l2.prefetch.distance"},
              {"l2.prefetch.stride", "1", "l2.prefetch.stride"},
              {"phys", "yes", "phys"},
              {"phys.bits", "31", "phys.bits"},
              {"phys.seed", "-1", "phys.seed"},
              {"phys.bits", "52", NULL},
              {"l2.prefetch.degree", "16", NULL},
              {"llc.size", "256K", NULL}};
  for (size_t i = 0; i < sizeof(sane) / sizeof(sane[0]); i++) {
    sim_config_default(&cfg);
    err[0] = '\0';
    int rc = sim_config_set(&cfg, sane[i].key, sane[i].value, err, sizeof(err));
    if (rc == 0) rc = sim_config_check(&cfg, err, sizeof(err));
    if (sane[i].blamed == NULL)
      CHECK(rc == 0, "%s = %s accepted: %s", sane[i].key, sane[i].value, err);
    else
      CHECK(rc != 0 && strstr(err, sane[i].blamed) != NULL, "%s = %s refused naming %s: '%s'",
            sane[i].key, sane[i].value, sane[i].blamed, err);
  }

  char path[] = "/tmp/test_sim.XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "mkstemp");
  if (fd < 0) return;
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# a comment\ncores = 2\n\nl2.sise = 1M\n");
  fclose(f);
  sim_config_default(&cfg);
  CHECK(sim_config_load(&cfg, path, err, sizeof(err)) != 0 && strstr(err, ":4: ") != NULL &&
            strstr(err, "l2.sise") != NULL,
        "file:line error: %s", err);
  f = fopen(path, "w");
  fprintf(f, "cores = 2 # two\nl2.policy = lru\n");
  fclose(f);
  sim_config_default(&cfg);
  CHECK(sim_config_load(&cfg, path, err, sizeof(err)) == 0 && cfg.cores == 2 &&
            cfg.l2.policy == SIM_POLICY_LRU,
        "load: %s", err);
  unlink(path);
}

/* Four cores, random reads and writes of 1..24 bytes (some spanning two
   lines) over 8 KiB (three pages), on caches of a few lines each under both
   policies and a dTLB of two sets: the directory, inclusion, the recent
   lines and pages, and the counter identities must hold after every access. */
static void test_random_invariants(void) {
  const char *policy[2] = {"lru", "plru"}, *onoff[2] = {"off", "on"};
  for (int p = 0; p < 4; p++) {
    /* runs 2 and 3: both prefetchers, the mapping and frees too */
    bool full = p >= 2;
    /* a level's keys on one line */
    /* clang-format off */
    const char *kv[] = {"l1d.size", "256", "l1d.ways", "2", "l1d.policy", policy[p % 2],
                        "l2.size", "1K", "l2.ways", "4", "l2.policy", policy[p % 2],
                        "llc.size", "4K", "llc.ways", "4", "llc.policy", policy[p % 2],
                        "dtlb.4k.entries", "2", "dtlb.4k.ways", "1",
                        "stlb.4k.entries", "4", "stlb.4k.ways", "2",
                        "l1d.prefetch", full ? "next-line" : "off", "l1d.prefetch.degree", "2",
                        "l2.prefetch", full ? "stream" : "off", "l2.prefetch.streams", "2",
                        "phys", onoff[full], NULL};
    /* clang-format on */
    sim_t *s = make(kv);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    bool valid = true;
    int bad = -1;
    for (int i = 0; i < 20000 && valid; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      unsigned core = (unsigned)(x % 4);
      uint64_t addr = 0x100800 + ((x >> 8) % 8192);
      uint64_t size = 1 + (x >> 24) % 24;
      if (full && (x >> 44) % 16 == 0)
        sim_freed(s, addr, size);
      else
        sim_access(s, core, addr, size, ((x >> 40) & 3) == 0);
      valid = sim_is_valid(s);
      if (!valid) bad = i;
    }
    sim_stats_t st = stats(s, -1);
    CHECK(valid, "%s %d: invariants hold after every access (first broken at %d)", policy[p % 2],
          full, bad);
    if (full)
      CHECK(st.l1d_pf_issued > 0 && st.l2_pf_issued > 0 && st.alloc_reuse > 0 &&
                st.true_sharing > 0 && st.false_sharing > 0 && st.replacement > 0,
            "the full mix exercises prefetches and every class (%llu %llu %llu %llu %llu %llu)",
            (unsigned long long)st.l1d_pf_issued, (unsigned long long)st.l2_pf_issued,
            (unsigned long long)st.alloc_reuse, (unsigned long long)st.true_sharing,
            (unsigned long long)st.false_sharing, (unsigned long long)st.replacement);
    CHECK(st.transfers > 0 && st.invalidations > 0 && st.writebacks > 0 && st.llc_misses > 0,
          "%s: the mix exercises transfers, invalidations, writebacks and LLC misses "
          "(%llu, %llu, %llu, %llu)",
          policy[p % 2], (unsigned long long)st.transfers, (unsigned long long)st.invalidations,
          (unsigned long long)st.writebacks, (unsigned long long)st.llc_misses);
    sim_destroy(s);
  }
}

/* The one byte-size parser (sim_size_parse): its spellings and refusals. */
static void test_size_parse(void) {
  struct {
    const char *text;
    uint64_t want; /* 0: refused */
  } cases[] = {
      {"4096", 4096},     {"48K", 48 << 10}, {"2m", 2 << 20}, {"1G", 1 << 30}, {"48KiB", 48 << 10},
      {"48kb", 48 << 10}, {"", 0},           {"+4", 0},       {" 4", 0},       {"-1", 0},
      {"4Ki", 0},         {"4KBB", 0},       {"4X", 0},       {"4B", 0},       {"99999999999G", 0}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    uint64_t v = 12345;
    bool ok = sim_size_parse(cases[i].text, &v);
    if (cases[i].want != 0)
      CHECK(ok && v == cases[i].want, "size '%s' = %llu (got %d, %llu)", cases[i].text,
            (unsigned long long)cases[i].want, ok, (unsigned long long)v);
    else
      CHECK(!ok && v == 12345, "size '%s' refused, output untouched", cases[i].text);
  }
}

int main(void) {
  test_size_parse();
  test_stream();
  test_fits();
  test_lru_plru();
  test_recent_same_set();
  test_pingpong();
  test_directory_growth();
  test_mesi();
  test_cores_64();
  test_class_read_only();
  test_class_first_reads();
  test_class_read_shared_field();
  test_class_lifetime();
  test_class_alloc_reuse();
  test_class_replacement();
  test_prefetch_next_line();
  test_prefetch_stride();
  test_prefetch_chase();
  test_phys();
  test_tlb();
  test_span();
  test_determinism();
  test_binary_trace();
  test_trace_garbage();
  test_config();
  test_random_invariants();
  return check_summary("test_sim");
}
