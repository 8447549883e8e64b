/* ----------------------------------------------------------------------------
  sim/sim_internal.h: the simulator's internal structures, shared by its files.

  sim_cache_*: one set-associative array of tags (caches and TLBs alike).
  LRU keeps each set ordered most- to least-recently used (move to front), so
  a hit on the MRU way changes nothing, the victim is the last way, and
  invalid ways collect at the end. Tree-PLRU keeps ways in place with W-1
  tree bits per set and fills invalid ways first.

  The directory (sim_dir_*) holds one sim_line_t per line ever touched: the
  MESI state of every private hierarchy and, per core, the bytes touched in
  its current copy and the bytes other cores wrote since its last one (live
  or dead), from which a miss is classified when its copy's lifetime ends
  (sim_life_*). Lines are never dropped (their counters feed the
  hottest-lines report), so memory grows with the footprint: 88 + 24 x
  cores bytes per line, plus 56 for a line with coherence events
  (a sim_hotline_t, allocated at its first).

  sim_recent_*: per core, its last lines and pages, hits that need no lookup.
  sim_access_fast: the common access, inline here so that the capture
  runtime's callbacks (sim/capture.c) take it without a call.
---------------------------------------------------------------------------- */
#ifndef HL_SIM_INTERNAL_H
#define HL_SIM_INTERNAL_H

#include "sim/sim.h"
#include <assert.h>
#include <string.h>

/* Invariant checks on the hot path are not free (they touch cold memory), so
   (as mimalloc's mi_assert_internal) they are on only in debug builds:
   -DSIM_DEBUG, or any sanitizer build (which make test runs). Plain assert()
   guards the API and the cold paths everywhere. */
#if defined(SIM_DEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define sim_assert_internal(x) assert(x)
#else
#define sim_assert_internal(x) ((void)0)
#endif

#define SIM_NO_TAG UINT64_MAX
#define SIM_NO_DIR UINT32_MAX

typedef struct sim_way_s {
  uint64_t tag;        /* line (or page) number, SIM_NO_TAG when invalid */
  uint32_t dir;        /* caches: index of the line's directory entry (saves a hash lookup) */
  uint16_t dirty;      /* LLC: the line differs from memory */
  uint16_t prefetched; /* L1D, L2: installed by a prefetch, no demand access yet */
} sim_way_t;

typedef struct sim_cache_s {
  uint32_t sets, ways;
  uint64_t set_mask;
  sim_policy_t policy;
  sim_way_t *way;  /* sets x ways */
  uint64_t *plru;  /* PLRU: tree bits per set (node i at bit i, root 1) */
  uint32_t levels; /* PLRU: log2(ways) */
  /* PLRU: touching way w sets plru_set[w] and clears plru_clear[w]: the tree
     walk done once at init instead of at every hit */
  uint64_t plru_set[64], plru_clear[64];
  uint64_t *valid;   /* PLRU: per set, a bit per valid way (free ways found without a scan) */
  uint64_t all_ways; /* PLRU: a bit per way */
} sim_cache_t;

/* The simulator's own memory (sim/sim_table.c): zeroed, on host cache
   lines, never from malloc (which the allocator under test may serve).
   NULL when out of space. */
void *sim_table_alloc(size_t bytes);
void sim_table_free(void *table);

int sim_cache_init(sim_cache_t *c, uint64_t entries, uint32_t ways, sim_policy_t policy);
void sim_cache_free(sim_cache_t *c);
bool sim_cache_is_valid(const sim_cache_t *c);
/* Remove `tag` if present (coherence invalidation, inclusion); true if it
   was, and then the way as it was is copied to *gone (unless NULL). */
bool sim_cache_remove(sim_cache_t *c, uint64_t tag, sim_way_t *gone);
/* Find `tag` without touching the replacement state. */
sim_way_t *sim_cache_probe(const sim_cache_t *c, uint64_t tag);
/* Touching way `w` (a valid one, as found by sim_cache_probe) would change no
   replacement state (LRU: it is its set's first way; PLRU: the tree bits
   already point away from it). */
bool sim_cache_is_mru(const sim_cache_t *c, const sim_way_t *w);

static inline void sim_plru_touch(sim_cache_t *c, uint64_t set, uint32_t w) {
  c->plru[set] = (c->plru[set] & ~c->plru_clear[w]) | c->plru_set[w];
}

static inline uint32_t sim_plru_victim(const sim_cache_t *c, uint64_t set) {
  uint64_t bits = c->plru[set];
  uint32_t node = 1, w = 0;
  for (uint32_t l = 0; l < c->levels; l++) {
    uint32_t right = (uint32_t)(bits >> node) & 1;
    w = (w << 1) | right;
    node = 2 * node + right;
  }
  return w;
}

static inline sim_way_t *sim_cache_victim_of(const sim_cache_t *c, uint64_t set) {
  sim_way_t *s = c->way + set * c->ways;
  if (c->policy == SIM_POLICY_LRU) return s + c->ways - 1;
  uint64_t free_ways = ~c->valid[set] & c->all_ways;
  if (free_ways != 0) return s + __builtin_ctzll(free_ways);
  return s + sim_plru_victim(c, set);
}

static inline sim_way_t *sim_cache_fill_at(sim_cache_t *c, uint64_t set, sim_way_t *victim,
                                           uint64_t tag, sim_way_t *evicted) {
  sim_way_t *s = c->way + set * c->ways;
  *evicted = *victim;
  sim_way_t *w = victim;
  if (c->policy == SIM_POLICY_LRU) {
    /* the last way is the least recent, or free (free ways gather at the end) */
    memmove(s + 1, s, (c->ways - 1) * sizeof(*s));
    w = s;
  } else {
    c->valid[set] |= UINT64_C(1) << (w - s);
    sim_plru_touch(c, set, (uint32_t)(w - s));
  }
  w->tag = tag;
  w->dir = SIM_NO_DIR;
  w->dirty = 0;
  w->prefetched = 0;
  return w;
}

/* The way sim_cache_insert(c, tag) would displace, without changing anything. */
static inline sim_way_t *sim_cache_victim(const sim_cache_t *c, uint64_t tag) {
  return sim_cache_victim_of(c, tag & c->set_mask);
}

/* sim_cache_insert with its victim already found (by sim_cache_victim, with
   the set unchanged since). */
static inline sim_way_t *sim_cache_fill(sim_cache_t *c, sim_way_t *victim, uint64_t tag,
                                        sim_way_t *evicted) {
  sim_assert_internal(victim == sim_cache_victim(c, tag));
  return sim_cache_fill_at(c, tag & c->set_mask, victim, tag, evicted);
}

/* Install `tag` (known absent) and make it most recent; the way it displaced
   is copied to *evicted (tag SIM_NO_TAG when the way was free). Inline, as
   the lookup: a miss at any level fills. */
static inline sim_way_t *sim_cache_insert(sim_cache_t *c, uint64_t tag, sim_way_t *evicted) {
  assert(c->ways > 0);
  uint64_t set = tag & c->set_mask;
  return sim_cache_fill_at(c, set, sim_cache_victim_of(c, set), tag, evicted);
}

/* Make way `w` (found by sim_cache_probe) the most recent; returns where it is now. */
static inline sim_way_t *sim_cache_touch(sim_cache_t *c, sim_way_t *w) {
  uint64_t set = w->tag & c->set_mask;
  sim_way_t *s = c->way + set * c->ways;
  uint32_t i = (uint32_t)(w - s);
  if (c->policy == SIM_POLICY_LRU) {
    sim_way_t hit = *w;
    memmove(s + 1, s, i * sizeof(*s));
    s[0] = hit;
    return s;
  }
  sim_plru_touch(c, set, i);
  return w;
}

/* Look `tag` up and, on a hit, make it most recent. The hot path: inline. */
static inline sim_way_t *sim_cache_lookup(sim_cache_t *c, uint64_t tag) {
  uint64_t set = tag & c->set_mask;
  sim_way_t *s = c->way + set * c->ways;
  if (c->policy == SIM_POLICY_LRU) {
    if (s[0].tag == tag) return s;
    for (uint32_t i = 1; i < c->ways; i++) {
      if (s[i].tag == tag) {
        sim_way_t hit = s[i];
        memmove(s + 1, s, i * sizeof(*s));
        s[0] = hit;
        return s;
      }
      if (s[i].tag == SIM_NO_TAG) return NULL; /* invalid ways are all at the end */
    }
    return NULL;
  }
  /* PLRU: every way is compared, with no exit at the hit, so the loop runs
     the same number of times on every lookup, which the host predicts; an
     exit at the way that hit (which follows the data, in no order) would be
     mispredicted on most lookups. LRU's scan above runs in recency order,
     where the first ways hit most. */
  uint32_t hit = c->ways;
  for (uint32_t i = 0; i < c->ways; i++) hit = s[i].tag == tag ? i : hit;
  if (hit == c->ways) return NULL; /* else the one way: a tag is never twice in a set */
  sim_plru_touch(c, set, hit);
  return s + hit;
}

/* ---- directory ---- */

/* A line's coherence counters are a sim_hotline_t (sim.h: its virtual
   address and the counts the hottest-lines report prints), kept apart from
   its directory entry because most lines never have one. */

/* A set of cores, bit c for core c: the directory's sharer mask and its
   per-core facts about copies. One 64-bit word, so that a set is one load and
   one AND or OR on the hot path; SIM_MAX_CORES is bounded by its width. Use
   the helpers below rather than 32-bit constants or builtins, which would
   silently drop cores 32..63. */
typedef uint64_t sim_cores_t;
_Static_assert(SIM_MAX_CORES <= 64, "a sim_cores_t holds one bit per core");
_Static_assert(sizeof(sim_cores_t) == sizeof(unsigned long long), "the ...ll builtins fit it");

static inline sim_cores_t sim_core_bit(uint32_t core) {
  return (sim_cores_t)1 << core;
}
/* The lowest core of a nonempty set; the number of cores in a set. */
static inline uint32_t sim_cores_lowest(sim_cores_t m) {
  return (uint32_t)__builtin_ctzll(m);
}
static inline uint32_t sim_cores_count(sim_cores_t m) {
  return (uint32_t)__builtin_popcountll(m);
}

typedef struct sim_line_s {
  uint64_t line;       /* physical line number (address >> line shift): the caches' tag */
  uint64_t vline;      /* virtual line number, for reports (= line without phys mapping) */
  sim_cores_t sharers; /* bit c: core c's L2 holds the line (M, E or S) */
  uint8_t excl;        /* the single sharer holds it E or M */
  uint8_t dirty;       /* ... M */
  uint8_t owner;       /* the E/M holder, whose writes `written` collects */
  uint8_t pad;
  uint32_t counts;  /* index + 1 of its counters (sim_t.counts), 0 = none yet; here, beside
                       the bytes above, so that the 64-bit sets below leave no hole */
  uint64_t written; /* bytes the E/M owner wrote since it got the line exclusively, not yet
                       added to the other cores' sets (sim_life_fold): so a write on the fast
                       path costs one OR */
  uint64_t hist_live, hist_dead; /* every core's writes so far (live / freed since): the set
                                    of a core that never held the line, kept once for all of
                                    them, so that a line only one core uses costs no per-core
                                    updates */
  /* per core (bit c) facts about its copies, for the classification */
  sim_cores_t first; /* the current (or last) copy is the core's first of the line */
  sim_cores_t held;  /* the core has held the line */
  sim_cores_t lost;  /* its last ended copy was invalidated by a peer (else evicted) */
  sim_cores_t by_pf; /* its current copy came from a prefetch: no miss to classify */
  /* 3 x cores words: [c] the bytes core c touched in its current (or last)
     copy; [cores + c] the bytes other cores wrote since c's last copy ended,
     live; [2 cores + c] those of them freed since (dead). The last two are
     kept only for cores that have held the line; a core's first copy starts
     from hist_live and hist_dead. */
  uint64_t mask[];
} sim_line_t;

#define SIM_TOUCHED(d, c) ((d)->mask[(c)])
#define SIM_LIVE(s, d, c) ((d)->mask[(s)->ncores + (c)])
#define SIM_DEAD(s, d, c) ((d)->mask[2 * (s)->ncores + (c)])

/* A core's recent lines (or pages), newest first: each is in the L1D (dTLB)
   and the most recently used way of its set, so an access to it is a hit
   that changes no replacement state and needs no lookup. That holds for a
   line as long as no other line of its set was touched since, so the list
   keeps at most one line per set: a lookup or fill of line X drops the
   entry in X's set (or else the oldest) and puts X first. A line leaving the
   L1D (coherence, L2 inclusion, a prefetch into its set) leaves the list
   too; SIM_NO_TAG entries sit only at the end. */
#define SIM_RECENT 2

typedef struct sim_recent_s {
  uint64_t tag[SIM_RECENT];      /* physical line or virtual page numbers, newest first */
  uint64_t map[SIM_RECENT];      /* the other side of the mapping: lines: the virtual line
                                    number (sim_access_fast compares it); pages: the frame */
  sim_line_t *entry[SIM_RECENT]; /* lines: their directory entries (moved when it grows) */
} sim_recent_t;

/* One L2 stream prefetcher tracker (sim/README.md, "Prefetchers"). */
typedef struct sim_stream_s {
  uint64_t last;     /* the last line accessed in it */
  int64_t stride;    /* lines; 0: none yet */
  uint64_t furthest; /* the furthest line prefetched (or considered) */
  uint64_t used;     /* LRU stamp */
} sim_stream_t;

typedef struct sim_core_s {
  sim_cache_t l1, l2, dtlb, stlb;
  sim_recent_t lines, pages;
  sim_stream_t *streams;   /* l2_prefetch.streams of them, or NULL */
  uint64_t *stream_region; /* their regions apart, so the search scans a few host lines */
  uint64_t stream_clock;
  /* The counters, except that the hot path keeps only reads and writes:
     st.accesses, st.l1d_accesses and st.dtlb_accesses are filled in by
     sim_stats from those and the two counts below. */
  sim_stats_t st;
  uint64_t extra_lines; /* lines an access touched beyond its first */
  uint64_t extra_pages; /* pages an access touched beyond its first */
} sim_core_t;

struct sim_s {
  sim_config_t cfg;
  uint32_t ncores, line_shift, page_shift;
  uint64_t line_size;
  uint32_t region_shift; /* line number >> region_shift: its 4 KiB prefetch region */
  bool prefetch;         /* either prefetcher on */
  sim_core_t *core;
  sim_cache_t llc;
  /* physical mapping (cfg.phys): virtual page -> frame, open addressing, keys + 1 */
  uint64_t *map_key, *map_frame;
  uint32_t map_bits;
  uint64_t mapped;     /* pages mapped so far (n of the permutation) */
  uint64_t frame_mask; /* 2^k - 1 frames */
  uint32_t frame_half; /* ceil(k / 2), the permutation's shift */
  /* per-line counters, sim_line_t.counts - 1 */
  sim_hotline_t *counts;
  uint32_t ncounts, cap_counts;
  /* directory: entries of dir_stride bytes (the header and the masks share a
     host cache line for up to 4 cores), and an open-addressing index */
  char *dir;
  size_t dir_stride;
  uint32_t ndir, cap_dir;
  uint32_t *index; /* dir index + 1, 0 = empty */
  uint32_t index_bits;
};

/* The one per-access count the hot path keeps (sim_stats derives the
   access totals from it). */
static inline void sim_count_access(sim_core_t *c, bool is_write) {
  if (is_write)
    c->st.writes++;
  else
    c->st.reads++;
}

/* sim_access's fast path, here so that the capture runtime's callbacks take
   it inline too. Most accesses fall within the core's most recent line, on
   its most recent page, and need no coherence action (a read, or a write to
   a line the core holds M): then nothing changes but a counter and the
   touched bytes (the counts the general path would give, in a fraction of
   its instructions). Returns whether it applied (else sim_access_slow does
   the rest); when it did, no coherence event (transfer, invalidation)
   happened. `core` must be valid. */
static inline bool sim_access_fast(sim_t *s, unsigned core, uint64_t addr, uint64_t size,
                                   bool is_write) {
  sim_core_t *c = &s->core[core];
  uint64_t off = addr & (s->line_size - 1);
  if (size - 1 >= s->line_size - off) return false; /* several lines, or none */
  if ((addr >> s->line_shift) != c->lines.map[0] || (addr >> s->page_shift) != c->pages.tag[0])
    return false;
  sim_line_t *d = c->lines.entry[0];
  if (is_write && !d->dirty) return false;
  sim_count_access(c, is_write);
  uint64_t bytes = (UINT64_MAX >> (64 - size)) << off; /* size is 1..64 */
  d->mask[core] |= bytes;
  d->written |= is_write ? bytes : 0;
  return true;
}

/* sim_access for an access sim_access_fast did not take. */
void sim_access_slow(sim_t *s, unsigned core, uint64_t addr, uint64_t size, bool is_write);

/* The directory entry of physical line `line` (virtual `vline`), created if new. */
uint32_t sim_dir_get(sim_t *s, uint64_t line, uint64_t vline);
/* ... or SIM_NO_DIR if the line was never touched. */
uint32_t sim_dir_find(const sim_t *s, uint64_t line);
static inline sim_line_t *sim_dir_at(const sim_t *s, uint32_t i) {
  return (sim_line_t *)(void *)(s->dir + (size_t)i * s->dir_stride);
}
bool sim_coherence_is_valid(const sim_t *s);

/* The class of the miss that brought in core `core`'s current (or last)
   copy of `d`, as if its lifetime ended now (sim.c; sim/README.md, "Miss
   classes"). */
typedef enum sim_class_e {
  SIM_CLASS_NONE = 0, /* the copy came from a prefetch: no miss */
  SIM_CLASS_COLD,
  SIM_CLASS_TRUE,
  SIM_CLASS_FALSE,
  SIM_CLASS_REUSE,
  SIM_CLASS_REPLACEMENT,
} sim_class_t;
sim_class_t sim_life_class(const sim_t *s, const sim_line_t *d, uint32_t core);
/* A line's counters with its live copies' misses classified as of now. */
sim_hotline_t sim_line_counts_now(const sim_t *s, const sim_line_t *d);
/* Virtual page -> physical frame (identity without phys mapping); maps a new page. */
uint64_t sim_phys_frame(sim_t *s, uint64_t vpage);
/* ... without mapping: SIM_NO_TAG if the page was never touched. */
uint64_t sim_phys_lookup(const sim_t *s, uint64_t vpage);

#endif
