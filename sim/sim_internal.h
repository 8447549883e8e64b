/* ----------------------------------------------------------------------------
  sim/sim_internal.h: the simulator's internal structures, shared by its files.

  sim_cache_*: one set-associative array of tags (caches and TLBs alike).
  LRU keeps each set ordered most- to least-recently used (move to front), so
  a hit on the MRU way changes nothing, the victim is the last way, and
  invalid ways collect at the end. Tree-PLRU keeps ways in place with W-1
  tree bits per set and fills invalid ways first.

  The directory (sim_dir_*) holds one sim_line_t per line ever touched: the
  MESI state of every private hierarchy, the per-core touched-byte masks and
  the per-line counters. Lines are never dropped (their counters feed the
  hottest-lines report), so memory grows with the footprint: ~ (32 + 8 x
  cores) bytes per line.

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
  uint64_t tag;   /* line (or page) number, SIM_NO_TAG when invalid */
  uint32_t dir;   /* caches: index of the line's directory entry (saves a hash lookup) */
  uint32_t dirty; /* LLC: the line differs from memory */
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
/* Remove `tag` if present (coherence invalidation, inclusion); true if it was. */
bool sim_cache_remove(sim_cache_t *c, uint64_t tag);
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
typedef struct sim_line_s {
  uint64_t line;    /* line number (address >> line shift) */
  uint32_t sharers; /* bit c: core c's L2 holds the line (M, E or S) */
  uint8_t excl;     /* the single sharer holds it E or M */
  uint8_t dirty;    /* ... M */
  uint16_t pad;
  uint32_t transfers, true_sharing, false_sharing, invalidations;
  uint64_t mask[]; /* per core: bytes touched since it last obtained the line */
} sim_line_t;

/* A core's recent lines (or pages), newest first: each is in the L1D (dTLB)
   and the most recently used way of its set, so an access to it is a hit
   that changes no replacement state and needs no lookup. That holds for a
   line as long as no other line of its set was touched since, so the list
   keeps at most one line per set: a lookup or fill of line X drops the
   entry in X's set (or else the oldest) and puts X first. A line leaving the
   L1D (coherence, L2 inclusion) leaves the list too; SIM_NO_TAG entries sit
   only at the end. */
#define SIM_RECENT 2

typedef struct sim_recent_s {
  uint64_t tag[SIM_RECENT];      /* line or page numbers, newest first */
  sim_line_t *entry[SIM_RECENT]; /* lines: their directory entries (moved when it grows) */
} sim_recent_t;

typedef struct sim_core_s {
  sim_cache_t l1, l2, dtlb, stlb;
  sim_recent_t lines, pages;
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
  sim_core_t *core;
  sim_cache_t llc;
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
  if ((addr >> s->line_shift) != c->lines.tag[0] || (addr >> s->page_shift) != c->pages.tag[0])
    return false;
  sim_line_t *d = c->lines.entry[0];
  if (is_write && !d->dirty) return false;
  sim_count_access(c, is_write);
  d->mask[core] |= (UINT64_MAX >> (64 - size)) << off; /* size is 1..64 */
  return true;
}

/* sim_access for an access sim_access_fast did not take. */
void sim_access_slow(sim_t *s, unsigned core, uint64_t addr, uint64_t size, bool is_write);

uint32_t sim_dir_get(sim_t *s, uint64_t line);
static inline sim_line_t *sim_dir_at(const sim_t *s, uint32_t i) {
  return (sim_line_t *)(void *)(s->dir + (size_t)i * s->dir_stride);
}
bool sim_coherence_is_valid(const sim_t *s);

#endif
