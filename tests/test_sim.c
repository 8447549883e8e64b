/* ----------------------------------------------------------------------------
  tests/test_sim.c: the memory-hierarchy simulator (sim/) against counts
  computed by hand: compulsory misses of a stream, a working set that fits,
  LRU versus tree-PLRU on a known pattern, false and true sharing ping-pong,
  a hand-traced MESI sequence, TLB misses with 4 KiB and 2 MiB pages, lines
  spanned by one access, determinism, config parsing errors, the byte-size
  parser, and the invariants (sim_is_valid) after every access of a random
  four-core mix on tiny caches, where evictions and coherence actions are
  constant.
---------------------------------------------------------------------------- */
#include "sim/sim.h"
#include "tests/check.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sim_t *make(const char *const *kv) {
  sim_config_t cfg;
  sim_config_default(&cfg);
  char err[256];
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
      CHECK(st.false_sharing == want_false && st.true_sharing == 2 * k - 1 - want_false,
            "variant %d: true %llu false %llu", v, (unsigned long long)st.true_sharing,
            (unsigned long long)st.false_sharing);
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
   Y[8..16): two transfers, both true sharing (c0 touched bytes 8..16 too). */
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
     2. c1 R X[0..8)   c0 owns it E: transfer 1 (true: same bytes); c0 S, c1 S
     3. c2 W X[8..16)  only S copies: LLC supplies, 2 invalidations; c2 M
     4. c0 R X[0..8)   c2 owns it M: transfer 2 (false: c2 touched 8..16, c0
                       0..8), c2 writes back (1); c0 S, c2 S
     5. c0 W X[0..8)   upgrade: c2 invalidated (3); c0 M
     6. c0 reads 4 more lines of X's set: X, M, leaves c0: writeback 2. */
static void test_mesi(void) {
  const char *kv[] = {"l2.size",  "1K", "l2.ways",    "4",   "l2.policy", "lru", "l1d.size", "256",
                      "l1d.ways", "2",  "l1d.policy", "lru", NULL};
  sim_t *s = make(kv);
  const uint64_t x = 0x300000;
  sim_access(s, 0, x, 8, false);
  CHECK(stats(s, -1).llc_misses == 1 && stats(s, -1).transfers == 0, "step 1");
  sim_access(s, 1, x, 8, false);
  sim_stats_t st = stats(s, -1);
  CHECK(st.transfers == 1 && st.true_sharing == 1 && st.writebacks == 0, "step 2");
  sim_access(s, 2, x + 8, 8, true);
  st = stats(s, 2);
  CHECK(st.invalidations == 2 && st.transfers == 0 && st.llc_accesses == 1, "step 3: inv %llu",
        (unsigned long long)st.invalidations);
  sim_access(s, 0, x, 8, false);
  st = stats(s, -1);
  CHECK(st.transfers == 2 && st.false_sharing == 1 && st.true_sharing == 1, "step 4");
  CHECK(st.writebacks == 1 && stats(s, 2).writebacks == 1, "step 4: c2 writes back");
  sim_access(s, 0, x, 8, true);
  st = stats(s, -1);
  CHECK(st.invalidations == 3 && stats(s, 0).invalidations == 1 && st.transfers == 2, "step 5");
  CHECK(sim_is_valid(s), "valid after step 5");
  for (uint64_t i = 1; i <= 4; i++) sim_access(s, 0, x + i * 256, 8, false);
  st = stats(s, -1);
  CHECK(st.writebacks == 2 && stats(s, 0).writebacks == 1, "step 6: %llu writebacks",
        (unsigned long long)st.writebacks);
  sim_hotline_t hot[4];
  size_t n = sim_hot_lines(s, hot, 4);
  CHECK(n == 1 && hot[0].addr == x && hot[0].transfers == 2 && hot[0].invalidations == 3 &&
            hot[0].true_sharing == 1 && hot[0].false_sharing == 1,
        "hot lines: %zu", n);
  CHECK(sim_is_valid(s), "valid");
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
  bool w;
} rec_t;
typedef struct recs_s {
  rec_t r[1000];
  size_t n;
} recs_t;
static void collect(void *arg, unsigned core, uint64_t addr, uint64_t size, bool w) {
  recs_t *rs = arg;
  if (rs->n < 1000) rs->r[rs->n++] = (rec_t){core, addr, size, w};
}

static void test_binary_trace(void) {
  static recs_t in, out;
  uint64_t x = 777;
  for (size_t i = 0; i < 1000; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    in.r[i] = (rec_t){(unsigned)(x % 32), i % 7 == 0 ? x : x % 100000, 1 + x % 4096, (x >> 9) & 1};
  }
  in.r[999].addr = UINT64_MAX - in.r[999].size; /* as high as an access can go */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  uint64_t prev = 0;
  CHECK(sim_trace_write_header(f) == 0, "header");
  for (size_t i = 0; i < 1000; i++)
    sim_trace_write(f, &prev, in.r[i].core, in.r[i].addr, in.r[i].size, in.r[i].w);
  fclose(f);
  char err[256];
  f = fmemopen(buf, len, "rb");
  long long n = sim_trace_read(f, "mem", 32, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n == 1000 && out.n == 1000, "read %lld: %s", n, n < 0 ? err : "");
  size_t same = 0;
  for (size_t i = 0; i < out.n; i++) {
    same += in.r[i].core == out.r[i].core && in.r[i].addr == out.r[i].addr &&
            in.r[i].size == out.r[i].size && in.r[i].w == out.r[i].w;
  }
  CHECK(same == 1000, "round trip: %zu of 1000 equal", same);
  CHECK(len < 1000 * 8, "compact: %zu bytes", len);
  f = fmemopen(buf, len - 1, "rb");
  out.n = 0;
  n = sim_trace_read(f, "mem", 32, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n < 0 && strstr(err, "mem: byte ") != NULL && strstr(err, "access 999") != NULL,
        "truncated: %s", err);
  f = fmemopen(buf, len, "rb");
  out.n = 0;
  n = sim_trace_read(f, "mem", 4, collect, &out, err, sizeof(err));
  fclose(f);
  CHECK(n < 0 && strstr(err, "out of range") != NULL, "cores: %s", err);
  free(buf);
}

/* Garbage after a valid magic, and garbage text: an error or a count, never a
   crash (the sanitizer builds run this too). */
static void ignore(void *arg, unsigned core, uint64_t addr, uint64_t size, bool w) {
  (void)arg, (void)core, (void)addr, (void)size, (void)w;
}

static void test_trace_garbage(void) {
  static const unsigned char magic[8] = {0x89, 'h', 'l', 's', 'i', 'm', '\n', 0x01};
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
  const char *policy[2] = {"lru", "plru"};
  for (int p = 0; p < 2; p++) {
    /* a level's keys on one line */
    /* clang-format off */
    const char *kv[] = {"l1d.size", "256", "l1d.ways", "2", "l1d.policy", policy[p],
                        "l2.size", "1K", "l2.ways", "4", "l2.policy", policy[p],
                        "llc.size", "4K", "llc.ways", "4", "llc.policy", policy[p],
                        "dtlb.4k.entries", "2", "dtlb.4k.ways", "1",
                        "stlb.4k.entries", "4", "stlb.4k.ways", "2", NULL};
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
      sim_access(s, core, addr, size, ((x >> 40) & 3) == 0);
      valid = sim_is_valid(s);
      if (!valid) bad = i;
    }
    sim_stats_t st = stats(s, -1);
    CHECK(valid, "%s: invariants hold after every access (first broken at %d)", policy[p], bad);
    CHECK(st.transfers > 0 && st.invalidations > 0 && st.writebacks > 0 && st.llc_misses > 0,
          "%s: the mix exercises transfers, invalidations, writebacks and LLC misses "
          "(%llu, %llu, %llu, %llu)",
          policy[p], (unsigned long long)st.transfers, (unsigned long long)st.invalidations,
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
  test_tlb();
  test_span();
  test_determinism();
  test_binary_trace();
  test_trace_garbage();
  test_config();
  test_random_invariants();
  return check_summary("test_sim");
}
