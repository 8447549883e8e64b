/* ----------------------------------------------------------------------------
  sim/sim.c: the simulator proper: one access through TLB, L1D, L2, MESI
  coherence and the LLC, the classification of every private-hierarchy miss,
  the prefetchers and the virtual-to-physical mapping.

  Model (sim/README.md has the whole of it):
  - A core's private hierarchy is L1D + L2, write-back, write-allocate, L2
    inclusive of L1D (an L2 eviction removes the L1D copy), so "the core holds
    the line" means "its L2 does". The MESI state belongs to the private
    hierarchy, kept in a directory entry per line (sharers mask + E/M bits):
    a single source of truth, so at most one M/E owner holds by construction.
  - On an L2 miss the directory either forwards the request to the one core
    holding the line M (a cache-to-cache transfer) or E (a clean forward: no
    data was written, so nothing is communicated), without the LLC; or the
    LLC supplies it (filling from memory on an LLC miss). A write also
    invalidates every other copy; a write hit on S upgrades, invalidating the
    other sharers without moving data.
  - The LLC is shared and non-inclusive, non-exclusive: filled on every miss
    it serves, evicting without touching private copies; dirty private lines
    are written back into it (M evicted from an L2, or M downgraded to S by a
    peer's read). Dirty LLC victims count as memory writebacks.
  - Every L2 demand miss is classified when the copy it brought in ends
    (sim_life_*): Dubois et al.'s cold, true and false sharing over the
    copy's lifetime, at byte granularity, plus allocator reuse (the bytes the
    copy used were written by another core and freed since) and replacement.
    The E/M owner's writes reach the other cores' per-line sets lazily
    (sim_life_fold, when it loses exclusivity), so that a write on the fast
    path costs one OR.
  - Prefetchers (sim_prefetch_*) run after the demand line that triggers
    them and never take a line from another core.
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <stdarg.h>
#include <stdlib.h>

static sim_t *sim_create_fail(sim_t *s, char *err, size_t errlen, const char *msg) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s", msg);
  sim_destroy(s);
  return NULL;
}

static uint32_t sim_log2(uint64_t v) {
  uint32_t l = 0;
  while ((UINT64_C(1) << l) < v) l++;
  return l;
}

sim_t *sim_create(const sim_config_t *cfg, char *err, size_t errlen) {
  if (sim_config_check(cfg, err, errlen) != 0) return NULL;
  sim_t *s = sim_table_alloc(sizeof(*s));
  if (s == NULL) return sim_create_fail(s, err, errlen, "out of memory");
  s->cfg = *cfg;
  s->ncores = cfg->cores;
  s->line_size = cfg->line;
  s->line_shift = sim_log2(cfg->line);
  s->page_shift = sim_log2(sim_page_bytes(cfg->page));
  s->region_shift = 12 - s->line_shift;
  s->prefetch =
      cfg->l1d_prefetch.kind != SIM_PREFETCH_OFF || cfg->l2_prefetch.kind != SIM_PREFETCH_OFF;
  s->core = sim_table_alloc(s->ncores * sizeof(*s->core));
  if (s->core == NULL) return sim_create_fail(s, err, errlen, "out of memory");
  for (uint32_t i = 0; i < s->ncores; i++) {
    sim_core_t *c = &s->core[i];
    const sim_tlb_config_t *dt = &cfg->dtlb[cfg->page], *st = &cfg->stlb[cfg->page];
    if (sim_cache_init(&c->l1, cfg->l1d.size / cfg->line, cfg->l1d.ways, cfg->l1d.policy) != 0 ||
        sim_cache_init(&c->l2, cfg->l2.size / cfg->line, cfg->l2.ways, cfg->l2.policy) != 0 ||
        sim_cache_init(&c->dtlb, dt->entries, dt->ways, SIM_POLICY_LRU) != 0 ||
        sim_cache_init(&c->stlb, st->entries, st->ways, SIM_POLICY_LRU) != 0)
      return sim_create_fail(s, err, errlen, "out of memory");
    for (int k = 0; k < SIM_RECENT; k++)
      c->lines.tag[k] = c->lines.map[k] = c->pages.tag[k] = c->pages.map[k] = SIM_NO_TAG;
    if (cfg->l2_prefetch.kind == SIM_PREFETCH_STREAM) {
      c->streams = sim_table_alloc(cfg->l2_prefetch.streams * sizeof(*c->streams));
      c->stream_region = sim_table_alloc(cfg->l2_prefetch.streams * sizeof(*c->stream_region));
      if (c->streams == NULL || c->stream_region == NULL)
        return sim_create_fail(s, err, errlen, "out of memory");
      for (uint32_t k = 0; k < cfg->l2_prefetch.streams; k++) c->stream_region[k] = SIM_NO_TAG;
    }
  }
  if (sim_cache_init(&s->llc, cfg->llc.size / cfg->line, cfg->llc.ways, cfg->llc.policy) != 0)
    return sim_create_fail(s, err, errlen, "out of memory");
  s->dir_stride = sizeof(sim_line_t) + 3 * s->ncores * sizeof(uint64_t);
  s->index_bits = 12;
  s->index = sim_table_alloc(((size_t)1 << s->index_bits) * sizeof(*s->index));
  if (s->index == NULL) return sim_create_fail(s, err, errlen, "out of memory");
  if (cfg->phys) {
    uint32_t k = cfg->phys_bits - s->page_shift;
    s->frame_mask = (UINT64_C(1) << k) - 1;
    s->frame_half = (k + 1) / 2;
    s->map_bits = 10;
    s->map_key = sim_table_alloc(((size_t)1 << s->map_bits) * sizeof(*s->map_key));
    s->map_frame = sim_table_alloc(((size_t)1 << s->map_bits) * sizeof(*s->map_frame));
    if (s->map_key == NULL || s->map_frame == NULL)
      return sim_create_fail(s, err, errlen, "out of memory");
  }
  return s;
}

void sim_destroy(sim_t *s) {
  if (s == NULL) return;
  if (s->core != NULL) {
    for (uint32_t i = 0; i < s->ncores; i++) {
      sim_cache_free(&s->core[i].l1);
      sim_cache_free(&s->core[i].l2);
      sim_cache_free(&s->core[i].dtlb);
      sim_cache_free(&s->core[i].stlb);
      sim_table_free(s->core[i].streams);
      sim_table_free(s->core[i].stream_region);
    }
  }
  sim_cache_free(&s->llc);
  sim_table_free(s->core);
  sim_table_free(s->dir);
  sim_table_free(s->index);
  sim_table_free(s->map_key);
  sim_table_free(s->map_frame);
  sim_table_free(s->counts);
  sim_table_free(s);
}

const sim_config_t *sim_config(const sim_t *s) {
  return &s->cfg;
}

static inline uint64_t sim_hash(uint64_t key, uint32_t bits) {
  return (key * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits);
}

static void sim_oom(const char *what) {
  fprintf(stderr, "hlsim: out of memory for %s\n", what);
  abort();
}

/* ---- physical mapping: virtual page -> frame, open addressing ---- */

/* The n-th page's frame: a bijection of k-bit numbers (sim/README.md,
   "Physical addresses"), so frames never collide and need no used-set. */
static uint64_t sim_phys_perm(const sim_t *s, uint64_t n) {
  uint64_t m = s->frame_mask, x = (n + s->cfg.phys_seed) & m;
  x = (x * UINT64_C(0x9E3779B97F4A7C15)) & m;
  x ^= x >> s->frame_half;
  x = (x * UINT64_C(0xBF58476D1CE4E5B9)) & m;
  x ^= x >> s->frame_half;
  return x;
}

uint64_t sim_phys_lookup(const sim_t *s, uint64_t vpage) {
  if (!s->cfg.phys) return vpage;
  uint64_t mask = (UINT64_C(1) << s->map_bits) - 1;
  for (uint64_t h = sim_hash(vpage, s->map_bits); s->map_key[h] != 0; h = (h + 1) & mask)
    if (s->map_key[h] == vpage + 1) return s->map_frame[h];
  return SIM_NO_TAG;
}

static void sim_phys_grow(sim_t *s) {
  uint32_t bits = s->map_bits + 1;
  uint64_t *key = sim_table_alloc(((size_t)1 << bits) * sizeof(*key));
  uint64_t *frame = sim_table_alloc(((size_t)1 << bits) * sizeof(*frame));
  if (key == NULL || frame == NULL) sim_oom("the page mapping");
  uint64_t mask = (UINT64_C(1) << bits) - 1;
  for (size_t i = 0; i < ((size_t)1 << s->map_bits); i++) {
    if (s->map_key[i] == 0) continue;
    uint64_t h = sim_hash(s->map_key[i] - 1, bits);
    while (key[h] != 0) h = (h + 1) & mask;
    key[h] = s->map_key[i];
    frame[h] = s->map_frame[i];
  }
  sim_table_free(s->map_key);
  sim_table_free(s->map_frame);
  s->map_key = key;
  s->map_frame = frame;
  s->map_bits = bits;
}

uint64_t sim_phys_frame(sim_t *s, uint64_t vpage) {
  if (!s->cfg.phys) return vpage;
  uint64_t mask = (UINT64_C(1) << s->map_bits) - 1;
  uint64_t h = sim_hash(vpage, s->map_bits);
  for (; s->map_key[h] != 0; h = (h + 1) & mask)
    if (s->map_key[h] == vpage + 1) return s->map_frame[h];
  if (s->mapped > s->frame_mask) {
    /* a limit of the config, not a fault: no core dump, the exit status says it */
    fprintf(stderr, "hlsim: the run touched more than the %llu pages of phys.bits = %u: raise it\n",
            (unsigned long long)s->frame_mask + 1, s->cfg.phys_bits);
    exit(1);
  }
  uint64_t frame = sim_phys_perm(s, s->mapped++);
  s->map_key[h] = vpage + 1;
  s->map_frame[h] = frame;
  if (s->mapped * 2 > (UINT64_C(1) << s->map_bits)) sim_phys_grow(s);
  return frame;
}

/* The physical line number of `addr`, on frame `frame` of its page. */
static inline uint64_t sim_phys_line(const sim_t *s, uint64_t frame, uint64_t addr) {
  uint32_t k = s->page_shift - s->line_shift;
  return (frame << k) | ((addr >> s->line_shift) & ((UINT64_C(1) << k) - 1));
}

/* ---- directory: physical line number -> entry, open addressing, linear probing ---- */

static void sim_dir_grow_index(sim_t *s) {
  uint32_t bits = s->index_bits + 1;
  uint32_t *index = sim_table_alloc(((size_t)1 << bits) * sizeof(*index));
  if (index == NULL) sim_oom("the line directory");
  uint64_t mask = (UINT64_C(1) << bits) - 1;
  for (uint32_t i = 0; i < s->ndir; i++) {
    uint64_t h = sim_hash(sim_dir_at(s, i)->line, bits);
    while (index[h] != 0) h = (h + 1) & mask;
    index[h] = i + 1;
  }
  sim_table_free(s->index);
  s->index = index;
  s->index_bits = bits;
}

uint32_t sim_dir_find(const sim_t *s, uint64_t line) {
  uint64_t mask = (UINT64_C(1) << s->index_bits) - 1;
  for (uint64_t h = sim_hash(line, s->index_bits); s->index[h] != 0; h = (h + 1) & mask) {
    uint32_t i = s->index[h] - 1;
    if (sim_dir_at(s, i)->line == line) return i;
  }
  return SIM_NO_DIR;
}

uint32_t sim_dir_get(sim_t *s, uint64_t line, uint64_t vline) {
  uint64_t mask = (UINT64_C(1) << s->index_bits) - 1;
  uint64_t h = sim_hash(line, s->index_bits);
  while (s->index[h] != 0) {
    uint32_t i = s->index[h] - 1;
    if (sim_dir_at(s, i)->line == line) return i;
    h = (h + 1) & mask;
  }
  if (s->ndir == UINT32_MAX - 1) sim_oom("the line directory");
  if (s->ndir == s->cap_dir) {
    uint32_t cap = s->cap_dir ? s->cap_dir * 2 : 1024;
    char *dir = sim_table_alloc((size_t)cap * s->dir_stride);
    if (dir == NULL) sim_oom("the line directory");
    if (s->ndir > 0) memcpy(dir, s->dir, (size_t)s->ndir * s->dir_stride);
    for (uint32_t k = 0; k < s->ncores; k++) {
      sim_core_t *c = &s->core[k];
      for (int r = 0; r < SIM_RECENT; r++)
        if (c->lines.tag[r] != SIM_NO_TAG)
          c->lines.entry[r] = (sim_line_t *)(void *)(dir + ((char *)c->lines.entry[r] - s->dir));
    }
    sim_table_free(s->dir);
    s->dir = dir;
    s->cap_dir = cap;
  }
  uint32_t i = s->ndir++;
  sim_line_t *d = sim_dir_at(s, i);
  memset(d, 0, s->dir_stride);
  d->line = line;
  d->vline = vline;
  s->index[h] = i + 1;
  /* keep the load under 1/2 so probes stay short */
  if ((uint64_t)s->ndir * 2 > (UINT64_C(1) << s->index_bits)) sim_dir_grow_index(s);
  return i;
}

/* The line's counters, created at its first coherence event. */
static sim_hotline_t *sim_line_counts_of(sim_t *s, sim_line_t *d) {
  if (d->counts == 0) {
    if (s->ncounts == s->cap_counts) {
      uint32_t cap = s->cap_counts ? s->cap_counts * 2 : 1024;
      sim_hotline_t *counts = sim_table_alloc((size_t)cap * sizeof(*counts));
      if (counts == NULL || cap <= s->cap_counts) sim_oom("the line counters");
      if (s->ncounts > 0) memcpy(counts, s->counts, (size_t)s->ncounts * sizeof(*counts));
      sim_table_free(s->counts);
      s->counts = counts;
      s->cap_counts = cap;
    }
    d->counts = ++s->ncounts; /* the new slot is zero: sim_table_alloc zeroes */
    s->counts[d->counts - 1].addr = d->vline << s->line_shift;
  }
  return &s->counts[d->counts - 1];
}

/* ---- miss classes over the copy's lifetime (sim/README.md, "Miss classes") ---- */

/* The owner's writes since it got the line exclusively join every other
   core's set of bytes written by others (live again if they were dead):
   those that held the line one by one, the others through the history. */
static inline void sim_life_fold(const sim_t *s, sim_line_t *d) {
  uint64_t w = d->written;
  if (w == 0) return;
  for (sim_cores_t m = d->held & ~sim_core_bit(d->owner); m != 0; m &= m - 1) {
    uint32_t q = sim_cores_lowest(m);
    SIM_LIVE(s, d, q) |= w;
    SIM_DEAD(s, d, q) &= ~w;
  }
  d->hist_live |= w;
  d->hist_dead &= ~w;
  d->written = 0;
}

sim_class_t sim_life_class(const sim_t *s, const sim_line_t *d, uint32_t core) {
  sim_cores_t bit = sim_core_bit(core);
  if (d->by_pf & bit) return SIM_CLASS_NONE;
  uint64_t touched = SIM_TOUCHED(d, core), live = SIM_LIVE(s, d, core), dead = SIM_DEAD(s, d, core);
  if (touched & live) return SIM_CLASS_TRUE;
  if (touched & dead) return SIM_CLASS_REUSE;
  if (d->first & bit) return (live | dead) != 0 ? SIM_CLASS_FALSE : SIM_CLASS_COLD;
  return (d->lost & bit) ? SIM_CLASS_FALSE : SIM_CLASS_REPLACEMENT;
}

/* Add one miss of class k to the core's (and for a sharing class, the
   line's) counters; either may be NULL. */
static void sim_class_add(sim_stats_t *st, sim_hotline_t *lc, sim_class_t k) {
  if (st != NULL) {
    uint64_t *count[] = {[SIM_CLASS_COLD] = &st->cold,
                         [SIM_CLASS_TRUE] = &st->true_sharing,
                         [SIM_CLASS_FALSE] = &st->false_sharing,
                         [SIM_CLASS_REUSE] = &st->alloc_reuse,
                         [SIM_CLASS_REPLACEMENT] = &st->replacement};
    if (count[k] != NULL) (*count[k])++;
  }
  if (lc != NULL) {
    uint64_t *count[] = {[SIM_CLASS_TRUE] = &lc->true_sharing,
                         [SIM_CLASS_FALSE] = &lc->false_sharing,
                         [SIM_CLASS_REUSE] = &lc->alloc_reuse,
                         [SIM_CLASS_REPLACEMENT] = NULL};
    if (count[k] != NULL) (*count[k])++;
  }
}

/* Core `core`'s copy of `d` ends (invalidated by a peer, or evicted): its
   miss is classified, and what the core knew of others' writes starts over. */
static void sim_life_end(sim_t *s, sim_line_t *d, uint32_t core, bool invalidated) {
  sim_class_t k = sim_life_class(s, d, core);
  bool sharing = k == SIM_CLASS_TRUE || k == SIM_CLASS_FALSE || k == SIM_CLASS_REUSE;
  sim_class_add(&s->core[core].st, sharing ? sim_line_counts_of(s, d) : NULL, k);
  sim_cores_t bit = sim_core_bit(core);
  SIM_LIVE(s, d, core) = SIM_DEAD(s, d, core) = 0;
  d->lost = invalidated ? d->lost | bit : d->lost & ~bit;
  d->by_pf &= ~bit;
}

/* A new copy of `d` in core `core`'s L2, from a demand miss touching `bytes`
   or from a prefetch. */
static void sim_life_begin(const sim_t *s, sim_line_t *d, uint32_t core, uint64_t bytes,
                           bool prefetch) {
  sim_cores_t bit = sim_core_bit(core);
  SIM_TOUCHED(d, core) = bytes;
  if (d->held & bit) {
    d->first &= ~bit;
  } else { /* its set so far: everyone's writes */
    d->first |= bit;
    SIM_LIVE(s, d, core) = d->hist_live;
    SIM_DEAD(s, d, core) = d->hist_dead;
  }
  d->held |= bit;
  d->by_pf = prefetch ? d->by_pf | bit : d->by_pf & ~bit;
}

sim_hotline_t sim_line_counts_now(const sim_t *s, const sim_line_t *d) {
  sim_hotline_t lc = {.addr = d->vline << s->line_shift};
  if (d->counts != 0) lc = s->counts[d->counts - 1];
  for (sim_cores_t m = d->sharers; m != 0; m &= m - 1)
    sim_class_add(NULL, &lc, sim_life_class(s, d, sim_cores_lowest(m)));
  return lc;
}

void sim_freed(sim_t *s, uint64_t addr, uint64_t size) {
  uint64_t end = addr + size < addr ? UINT64_MAX : addr + size;
  while (addr < end) {
    uint64_t off = addr & (s->line_size - 1);
    uint64_t n = s->line_size - off;
    if (n > end - addr) n = end - addr;
    uint64_t frame = sim_phys_lookup(s, addr >> s->page_shift);
    uint32_t di = frame == SIM_NO_TAG ? SIM_NO_DIR : sim_dir_find(s, sim_phys_line(s, frame, addr));
    if (di != SIM_NO_DIR) {
      sim_line_t *d = sim_dir_at(s, di);
      uint64_t bytes = (UINT64_MAX >> (64 - n)) << off; /* n is 1..64 */
      sim_life_fold(s, d); /* the owner's writes came before the free */
      for (sim_cores_t m = d->held & ~d->sharers; m != 0; m &= m - 1) {
        uint32_t q = sim_cores_lowest(m); /* a live copy's set is its lifetime's */
        SIM_DEAD(s, d, q) |= SIM_LIVE(s, d, q) & bytes;
        SIM_LIVE(s, d, q) &= ~bytes;
      }
      d->hist_dead |= d->hist_live & bytes;
      d->hist_live &= ~bytes;
    }
    addr += n;
  }
}

/* ---- LLC ---- */

static void sim_llc_evicted(sim_core_t *c, const sim_way_t *ev) {
  if (ev->tag != SIM_NO_TAG && ev->dirty) c->st.mem_writebacks++;
}

/* A dirty line leaves a private hierarchy: it lands in the LLC, dirty. Not an
   LLC access in the counters (no one waits for it), but it does update the
   replacement state and may evict. */
static void sim_llc_writeback(sim_t *s, sim_core_t *c, uint64_t line, uint32_t di) {
  c->st.writebacks++;
  sim_way_t *w = sim_cache_lookup(&s->llc, line);
  if (w == NULL) {
    sim_way_t ev;
    w = sim_cache_insert(&s->llc, line, &ev);
    w->dir = di;
    sim_llc_evicted(c, &ev);
  }
  w->dirty = 1;
}

/* ---- a core's recent lines and pages (sim_internal.h) ---- */

/* Entries r-1, r-2, ..., 0 move one place down (r's is overwritten), and
   the newest is `tag`. */
static inline void sim_recent_put_first(sim_recent_t *rc, int r, uint64_t tag, uint64_t map,
                                        sim_line_t *entry) {
  for (; r > 0; r--) {
    rc->tag[r] = rc->tag[r - 1];
    rc->map[r] = rc->map[r - 1];
    rc->entry[r] = rc->entry[r - 1];
  }
  rc->tag[0] = tag;
  rc->map[0] = map;
  rc->entry[0] = entry;
}

/* `tag` is one of the recent ones after the newest: it becomes the newest
   (its entry then in rc->entry[0]). The newest is checked by the callers. */
static inline bool sim_recent_hit(sim_recent_t *rc, uint64_t tag) {
  for (int r = 1; r < SIM_RECENT; r++) {
    if (rc->tag[r] == tag) {
      sim_recent_put_first(rc, r, tag, rc->map[r], rc->entry[r]);
      return true;
    }
  }
  return false;
}

/* `tag` was just looked up (or filled) in the cache or TLB whose set mask is
   `set_mask`, so it is its set's most recent way: it goes first, in place of
   the entry in its set, else of the first empty one, else of the oldest. */
static inline void sim_recent_push(sim_recent_t *rc, uint64_t set_mask, uint64_t tag, uint64_t map,
                                   sim_line_t *entry) {
  int r = 0;
  while (r < SIM_RECENT - 1 && rc->tag[r] != SIM_NO_TAG && ((rc->tag[r] ^ tag) & set_mask) != 0)
    r++; /* empty entries are only at the end, so none hides one in tag's set */
  sim_recent_put_first(rc, r, tag, map, entry);
}

/* Entry r leaves the list. */
static inline void sim_recent_drop(sim_recent_t *rc, int r) {
  for (; r < SIM_RECENT - 1; r++) {
    rc->tag[r] = rc->tag[r + 1];
    rc->map[r] = rc->map[r + 1];
    rc->entry[r] = rc->entry[r + 1];
  }
  rc->tag[SIM_RECENT - 1] = rc->map[SIM_RECENT - 1] = SIM_NO_TAG;
}

/* `line` left the core's L1D. */
static inline void sim_recent_forget(sim_recent_t *rc, uint64_t line) {
  for (int r = 0; r < SIM_RECENT; r++) {
    if (rc->tag[r] == line) {
      sim_recent_drop(rc, r);
      return;
    }
  }
}

/* A prefetch installed `line` in the L1D: the recent line of its set (at most
   one) is no longer its set's most recent way. */
static inline void sim_recent_forget_set(sim_recent_t *rc, uint64_t set_mask, uint64_t line) {
  for (int r = 0; r < SIM_RECENT; r++) {
    if (rc->tag[r] != SIM_NO_TAG && ((rc->tag[r] ^ line) & set_mask) == 0) {
      sim_recent_drop(rc, r);
      return;
    }
  }
}

/* ---- prefetch marks (sim/README.md, "Prefetchers") ---- */

/* A demand access found way `w`: if a prefetch put it there, it was useful. */
static inline void sim_pf_used(sim_way_t *w, uint64_t *useful) {
  if (w->prefetched) {
    w->prefetched = 0;
    (*useful)++;
  }
}

/* Way `w` (as it was) left its cache: a prefetch no demand access used was
   useless. Free ways carry no mark. */
static inline void sim_pf_left(const sim_way_t *w, uint64_t *useless) {
  *useless += w->prefetched;
}

/* ---- coherence ---- */

/* Remove core `o`'s copy of a line (a peer's request): L1D and L2 both. */
static void sim_coherence_drop(sim_t *s, uint32_t o, sim_line_t *d) {
  sim_core_t *co = &s->core[o];
  sim_way_t gone;
  if (sim_cache_remove(&co->l1, d->line, &gone)) sim_pf_left(&gone, &co->st.l1d_pf_useless);
  bool had = sim_cache_remove(&co->l2, d->line, &gone);
  assert(had);
  sim_pf_left(&gone, &co->st.l2_pf_useless);
  sim_recent_forget(&co->lines, d->line);
  sim_life_end(s, d, o, true);
}

/* Invalidate every copy in `victims` (a core mask) on behalf of core `c`. */
static void sim_coherence_invalidate(sim_t *s, sim_core_t *c, sim_line_t *d, sim_cores_t victims) {
  while (victims != 0) {
    uint32_t o = sim_cores_lowest(victims);
    victims &= victims - 1;
    sim_coherence_drop(s, o, d);
    d->sharers &= ~sim_core_bit(o);
    c->st.invalidations++;
    sim_line_counts_of(s, d)->invalidations++;
  }
}

/* Core `core` (lacking `line` in its L2) obtains it from the E/M owner, or
   else from the LLC, and the directory records the new MESI state. A demand
   request counts; a prefetch counts nothing here, and is dropped when a peer
   holds the line E or M (then SIM_NO_DIR). Returns the directory index. */
static uint32_t sim_coherence_obtain(sim_t *s, uint32_t core, uint64_t line, uint64_t vline,
                                     bool is_write, bool demand) {
  sim_core_t *c = &s->core[core];
  /* an LLC copy knows its directory entry: the hash table is for LLC misses */
  sim_way_t *lw = sim_cache_probe(&s->llc, line);
  uint32_t di = lw != NULL ? lw->dir : sim_dir_get(s, line, vline);
  sim_line_t *d = sim_dir_at(s, di);
  sim_cores_t bit = sim_core_bit(core);
  sim_assert_internal((d->sharers & bit) == 0); /* L2 missed, so the directory must not list us */
  sim_cores_t others = d->sharers;
  if (others != 0 && d->excl) {
    if (!demand) return SIM_NO_DIR;
    /* the E/M owner forwards the line: its writes become others' news */
    uint32_t o = sim_cores_lowest(others);
    sim_life_fold(s, d);
    sim_hotline_t *lc = sim_line_counts_of(s, d);
    if (d->dirty) {
      c->st.transfers++;
      lc->transfers++;
    } else {
      c->st.clean_forwards++;
      lc->clean_forwards++;
    }
    if (is_write) {
      /* RFO: the dirty data moves with ownership, nothing written back */
      sim_coherence_invalidate(s, c, d, others);
      d->sharers = bit;
      d->excl = 1;
      d->dirty = 1;
      d->owner = (uint8_t)core;
    } else {
      if (d->dirty) sim_llc_writeback(s, &s->core[o], line, di); /* M -> S writes back */
      d->sharers |= bit;
      d->excl = 0;
      d->dirty = 0;
    }
    return di;
  }
  if (demand) c->st.llc_accesses++;
  if (lw != NULL) {
    sim_cache_touch(&s->llc, lw);
  } else {
    if (demand) c->st.llc_misses++;
    sim_way_t ev;
    sim_cache_insert(&s->llc, line, &ev)->dir = di;
    sim_llc_evicted(c, &ev);
  }
  if (is_write) {
    sim_coherence_invalidate(s, c, d, others);
    d->sharers = bit;
    d->excl = 1;
    d->dirty = 1;
    d->owner = (uint8_t)core;
  } else if (others != 0) {
    d->sharers |= bit; /* S joins S */
  } else {
    d->sharers = bit; /* alone: E */
    d->excl = 1;
    d->dirty = 0;
    d->owner = (uint8_t)core;
  }
  return di;
}

/* Install `line` (directory entry `di`) in core `core`'s L2 in place of
   `victim` (its sim_cache_victim, the set unchanged since). The victim
   leaves the private hierarchy: inclusion takes it out of the L1D, its copy
   ends, and if we owned it dirty it goes back to the LLC. Returns the way. */
static sim_way_t *sim_l2_install(sim_t *s, uint32_t core, uint64_t line, uint32_t di,
                                 sim_way_t *victim) {
  sim_core_t *c = &s->core[core];
  sim_cores_t bit = sim_core_bit(core);
  sim_way_t ev;
  sim_way_t *w = sim_cache_fill(&c->l2, victim, line, &ev);
  w->dir = di;
  if (ev.tag == SIM_NO_TAG) return w;
  sim_line_t *vd = sim_dir_at(s, ev.dir);
  sim_assert_internal(vd->line == ev.tag && (vd->sharers & bit) != 0);
  sim_pf_left(&ev, &c->st.l2_pf_useless);
  sim_way_t gone;
  if (sim_cache_remove(&c->l1, ev.tag, &gone)) sim_pf_left(&gone, &c->st.l1d_pf_useless);
  sim_recent_forget(&c->lines, ev.tag);
  sim_life_fold(s, vd); /* an owner leaving takes its writes' news along */
  if (vd->dirty) sim_llc_writeback(s, c, ev.tag, ev.dir);
  sim_life_end(s, vd, core, false);
  vd->sharers &= ~bit;
  if (vd->sharers == 0 || vd->excl) {
    vd->excl = 0; /* an E/M owner left: no one holds it */
    vd->dirty = 0;
  }
  return w;
}

/* Core `core` missed in its L2 on a demand access touching `bytes`: obtain
   the line, start its copy's lifetime, install it in place of `l2_victim`
   (found before, so that its directory entry could be prefetched). Returns
   the directory index. */
static uint32_t sim_coherence_fill(sim_t *s, uint32_t core, uint64_t line, uint64_t vline,
                                   uint64_t bytes, bool is_write, sim_way_t *l2_victim) {
  uint32_t di = sim_coherence_obtain(s, core, line, vline, is_write, true);
  sim_life_begin(s, sim_dir_at(s, di), core, bytes, false);
  sim_l2_install(s, core, line, di, l2_victim);
  return di;
}

/* A write to a line the core holds: E -> M silently, S -> M by invalidating
   the other sharers (an upgrade: no data moves, so no transfer). */
static void sim_coherence_write(sim_t *s, sim_core_t *c, uint32_t core, sim_line_t *d) {
  sim_cores_t bit = sim_core_bit(core);
  sim_assert_internal((d->sharers & bit) != 0);
  if (!d->excl) sim_coherence_invalidate(s, c, d, d->sharers & ~bit);
  d->sharers = bit;
  d->excl = 1;
  d->dirty = 1;
  d->owner = (uint8_t)core;
}

/* ---- prefetchers (sim/README.md, "Prefetchers") ---- */

/* A prefetch brings `line` (virtual `vline`), absent from core `core`'s L2,
   into it as a read would, counted nowhere. Returns the L2 way, or NULL when
   dropped because a peer holds the line E or M. */
static sim_way_t *sim_prefetch_fetch(sim_t *s, uint32_t core, uint64_t line, uint64_t vline) {
  uint32_t di = sim_coherence_obtain(s, core, line, vline, false, false);
  if (di == SIM_NO_DIR) return NULL;
  sim_life_begin(s, sim_dir_at(s, di), core, 0, true);
  sim_core_t *c = &s->core[core];
  return sim_l2_install(s, core, line, di, sim_cache_victim(&c->l2, line));
}

/* The L1D next-line prefetcher, after a demand miss of `line`. */
static void sim_prefetch_next_line(sim_t *s, uint32_t core, uint64_t line, uint64_t vline) {
  sim_core_t *c = &s->core[core];
  for (uint32_t k = 1; k <= s->cfg.l1d_prefetch.degree; k++) {
    uint64_t y = line + k;
    if ((y >> s->region_shift) != (line >> s->region_shift)) break;
    if (sim_cache_probe(&c->l1, y) != NULL) continue;
    sim_way_t *w2 = sim_cache_probe(&c->l2, y);
    if (w2 == NULL && (w2 = sim_prefetch_fetch(s, core, y, vline + k)) == NULL) continue;
    sim_way_t ev;
    sim_way_t *w = sim_cache_insert(&c->l1, y, &ev);
    w->dir = w2->dir;
    w->prefetched = 1;
    sim_pf_left(&ev, &c->st.l1d_pf_useless);
    c->st.l1d_pf_issued++;
    sim_recent_forget_set(&c->lines, c->l1.set_mask, y);
  }
}

/* The L2 stream prefetcher, trained by a demand access of `line` to the L2. */
static void sim_prefetch_stream(sim_t *s, uint32_t core, uint64_t line, uint64_t vline) {
  sim_core_t *c = &s->core[core];
  const sim_prefetch_config_t *pf = &s->cfg.l2_prefetch;
  uint64_t region = line >> s->region_shift;
  uint32_t hit = pf->streams;
  for (uint32_t i = 0; i < pf->streams; i++) hit = c->stream_region[i] == region ? i : hit;
  sim_stream_t *t = hit < pf->streams ? &c->streams[hit] : NULL;
  if (t == NULL) {
    /* never-used trackers first (the lowest), then the least recently used */
    uint32_t pick = 0;
    for (uint32_t i = 0; i < pf->streams; i++) {
      if (c->stream_region[i] == SIM_NO_TAG) {
        pick = i;
        break;
      }
      if (c->streams[i].used < c->streams[pick].used) pick = i;
    }
    t = &c->streams[pick];
    c->stream_region[pick] = region;
    t->stride = 0;
    t->furthest = line;
  } else {
    int64_t stride = (int64_t)(line - t->last);
    if (stride != 0 && stride != t->stride) {
      t->stride = stride;
      t->furthest = line;
    } else if (stride != 0) {
      bool beyond = stride > 0 ? t->furthest > line : t->furthest < line;
      uint64_t reach = (uint64_t)(stride > 0 ? stride : -stride) * pf->distance;
      uint64_t y = (beyond ? t->furthest : line) + (uint64_t)stride;
      for (uint32_t n = 0; n < pf->degree; n++, y += (uint64_t)stride) {
        uint64_t gap = y > line ? y - line : line - y;
        if ((y >> s->region_shift) != region || gap > reach) break;
        if (sim_cache_probe(&c->l2, y) == NULL) {
          sim_way_t *w = sim_prefetch_fetch(s, core, y, vline + (y - line));
          if (w != NULL) {
            w->prefetched = 1;
            c->st.l2_pf_issued++;
          }
        }
        t->furthest = y;
      }
    }
  }
  t->last = line;
  t->used = ++c->stream_clock;
}

/* After a demand L1D miss of `line`: both prefetchers, in the README's order. */
static __attribute__((noinline)) void sim_prefetch(sim_t *s, uint32_t core, uint64_t line,
                                                   uint64_t vline) {
  if (s->cfg.l1d_prefetch.kind == SIM_PREFETCH_NEXT_LINE)
    sim_prefetch_next_line(s, core, line, vline);
  if (s->cfg.l2_prefetch.kind == SIM_PREFETCH_STREAM) sim_prefetch_stream(s, core, line, vline);
}

/* ---- one access ---- */

/* Core `core` missed `line` in its L1D: the L2, and past it the coherence
   protocol, supply it; it is installed in the L1D. Returns its directory index. */
static __attribute__((noinline)) uint32_t
sim_l1_fill(sim_t *s, uint32_t core, uint64_t line, uint64_t vline, uint64_t bytes, bool is_write) {
  sim_core_t *c = &s->core[core];
  c->st.l1d_misses++;
  uint32_t di;
  sim_way_t *w2 = sim_cache_lookup(&c->l2, line);
  if (w2 != NULL) {
    di = w2->dir;
    sim_pf_used(w2, &c->st.l2_pf_useful);
  } else {
    c->st.l2_misses++;
    /* the L2 victim's directory entry will be needed after the LLC and the
       directory are consulted: start loading it now (a host cache miss
       overlapped with the next one) */
    sim_way_t *v = sim_cache_victim(&c->l2, line);
    if (v->tag != SIM_NO_TAG) __builtin_prefetch(sim_dir_at(s, v->dir), 1);
    di = sim_coherence_fill(s, core, line, vline, bytes, is_write, v);
  }
  sim_way_t ev;
  sim_cache_insert(&c->l1, line, &ev)->dir = di; /* an L1D victim stays in the L2 (inclusion) */
  sim_pf_left(&ev, &c->st.l1d_pf_useless);
  return di;
}

/* One line's worth of an access: physical line `line`, virtual `vline`. The
   L1D hit is inline, the rest is not. */
static inline void sim_line_access(sim_t *s, uint32_t core, uint64_t line, uint64_t vline,
                                   uint64_t bytes, bool is_write) {
  sim_core_t *c = &s->core[core];
  sim_line_t *d;
  bool missed = false;
  if (line == c->lines.tag[0] || sim_recent_hit(&c->lines, line)) {
    d = c->lines.entry[0]; /* a hit that changes nothing */
  } else {
    sim_way_t *w = sim_cache_lookup(&c->l1, line);
    uint32_t di;
    if (w != NULL) {
      di = w->dir;
      sim_pf_used(w, &c->st.l1d_pf_useful);
    } else {
      di = sim_l1_fill(s, core, line, vline, bytes, is_write);
      missed = true;
    }
    d = sim_dir_at(s, di);
    sim_recent_push(&c->lines, c->l1.set_mask, line, vline, d);
  }
  if (is_write && !d->dirty) sim_coherence_write(s, c, core, d);
  /* dirty implies we are the owner: a peer taking it would have dropped our copy */
  sim_assert_internal(!is_write || (d->sharers == sim_core_bit(core) && d->dirty));
  d->mask[core] |= bytes;
  d->written |= is_write ? bytes : 0;
  if (missed && s->prefetch) sim_prefetch(s, core, line, vline); /* last: it may move `d` */
}

/* A translation of virtual `page`, not one of the core's recent pages;
   returns its frame. */
static __attribute__((noinline)) uint64_t sim_tlb_lookup(sim_t *s, sim_core_t *c, uint64_t page) {
  uint64_t frame = sim_phys_frame(s, page);
  if (c->dtlb.ways != 0 && sim_cache_lookup(&c->dtlb, page) != NULL) {
    sim_recent_push(&c->pages, c->dtlb.set_mask, page, frame, NULL);
    return frame;
  }
  c->st.dtlb_misses++;
  sim_way_t ev;
  if (c->stlb.ways == 0 || sim_cache_lookup(&c->stlb, page) == NULL) {
    c->st.stlb_misses++;
    c->st.walks++;
    if (c->stlb.ways != 0) sim_cache_insert(&c->stlb, page, &ev);
  }
  if (c->dtlb.ways != 0) {
    sim_cache_insert(&c->dtlb, page, &ev);
    sim_recent_push(&c->pages, c->dtlb.set_mask, page, frame, NULL);
  } /* no dTLB: nothing is most recent, every translation looks in the STLB */
  return frame;
}

static inline uint64_t sim_tlb_access(sim_t *s, sim_core_t *c, uint64_t page) {
  if (page == c->pages.tag[0] || sim_recent_hit(&c->pages, page)) return c->pages.map[0];
  return sim_tlb_lookup(s, c, page);
}

/* The general case: any size, any alignment, through the TLB and every level. */
static __attribute__((noinline)) void sim_access_lines(sim_t *s, unsigned core, uint64_t addr,
                                                       uint64_t size, bool is_write) {
  if (size == 0) return;
  sim_core_t *c = &s->core[core];
  sim_count_access(c, is_write);
  uint64_t end = addr + size < addr ? UINT64_MAX : addr + size; /* clamp at the top */
  uint64_t page = SIM_NO_TAG, frame = 0;
  uint64_t lines = 0, pages = 0;
  while (addr < end) {
    uint64_t off = addr & (s->line_size - 1);
    uint64_t n = s->line_size - off;
    if (n > end - addr) n = end - addr;
    uint64_t bytes = (UINT64_MAX >> (64 - n)) << off; /* n is 1..64 */
    if ((addr >> s->page_shift) != page) {
      page = addr >> s->page_shift;
      pages++;
      frame = sim_tlb_access(s, c, page);
    }
    lines++;
    sim_line_access(s, core, sim_phys_line(s, frame, addr), addr >> s->line_shift, bytes, is_write);
    addr += n;
  }
  c->extra_lines += lines - 1; /* the first line and page count as the access itself */
  c->extra_pages += pages - 1;
}

/* An access within one line (nearly all are), past sim_access_fast: the
   common cases (one of the core's recent pages and lines, an L1D hit)
   inline here. */
static __attribute__((noinline)) void sim_access_line(sim_t *s, unsigned core, uint64_t addr,
                                                      uint64_t bytes, bool is_write) {
  sim_core_t *c = &s->core[core];
  sim_count_access(c, is_write);
  uint64_t frame = sim_tlb_access(s, c, addr >> s->page_shift);
  sim_line_access(s, core, sim_phys_line(s, frame, addr), addr >> s->line_shift, bytes, is_write);
}

void sim_access(sim_t *s, unsigned core, uint64_t addr, uint64_t size, bool is_write) {
  assert(core < s->ncores);
  if (!sim_access_fast(s, core, addr, size, is_write))
    sim_access_slow(s, core, addr, size, is_write);
}

void sim_access_slow(sim_t *s, unsigned core, uint64_t addr, uint64_t size, bool is_write) {
  uint64_t off = addr & (s->line_size - 1);
  if (size - 1 >= s->line_size - off) { /* several lines, or none */
    sim_access_lines(s, core, addr, size, is_write);
    return;
  }
  sim_access_line(s, core, addr, (UINT64_MAX >> (64 - size)) << off, is_write);
}

const sim_stats_t *sim_core_counters(const sim_t *s, unsigned core) {
  assert(core < s->ncores);
  return &s->core[core].st;
}

/* Core i's counters whole: the three access totals the hot path leaves out,
   and the misses of its live copies, classified as of now. */
static sim_stats_t sim_core_stats(const sim_t *s, uint32_t i) {
  const sim_core_t *c = &s->core[i];
  sim_stats_t st = c->st;
  st.accesses = st.reads + st.writes;
  st.l1d_accesses = st.accesses + c->extra_lines;
  st.dtlb_accesses = st.accesses + c->extra_pages;
  for (size_t k = 0; k < (size_t)c->l2.sets * c->l2.ways; k++) {
    const sim_way_t *w = &c->l2.way[k];
    if (w->tag != SIM_NO_TAG) sim_class_add(&st, NULL, sim_life_class(s, sim_dir_at(s, w->dir), i));
  }
  return st;
}

void sim_stats(const sim_t *s, int core, sim_stats_t *out) {
  if (core >= 0) {
    *out = sim_core_stats(s, (uint32_t)core);
    return;
  }
  memset(out, 0, sizeof(*out));
  uint64_t *o = (uint64_t *)out;
  for (uint32_t i = 0; i < s->ncores; i++) {
    sim_stats_t st = sim_core_stats(s, i);
    const uint64_t *in = (const uint64_t *)&st;
    for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++) o[k] += in[k];
  }
}

/* ---- invariants ---- */

/* What a recent list promises (sim_internal.h): each entry is in `c` (the
   L1D or the dTLB), touching it changes nothing, no two are in one set, and
   empty entries are only at the end; lines also name their directory entry
   and virtual line, pages their frame. */
static bool sim_recent_is_valid(const sim_t *s, const sim_recent_t *rc, const sim_cache_t *c,
                                bool lines) {
  for (int r = 0; r < SIM_RECENT; r++) {
    uint64_t tag = rc->tag[r];
    if (tag == SIM_NO_TAG) {
      if (r + 1 < SIM_RECENT && rc->tag[r + 1] != SIM_NO_TAG) return false;
      continue;
    }
    const sim_way_t *w = sim_cache_probe(c, tag);
    if (w == NULL || !sim_cache_is_mru(c, w)) return false;
    if (lines && (sim_dir_at(s, w->dir) != rc->entry[r] || rc->entry[r]->vline != rc->map[r]))
      return false;
    if (!lines && sim_phys_lookup(s, tag) != rc->map[r]) return false;
    for (int k = 0; k < r; k++)
      if (((rc->tag[k] ^ tag) & c->set_mask) == 0) return false;
  }
  return true;
}

/* The directory agrees with the caches: every L2 way's entry names that line
   and lists the core; the number of L2 copies equals the sharer count; E/M
   means exactly one sharer, the owner; M implies E; only an M owner has
   unshared writes; prefetch-begun copies are live ones; every L1D line is
   in the L2. */
bool sim_coherence_is_valid(const sim_t *s) {
  uint32_t *copies = sim_table_alloc((s->ndir ? s->ndir : 1) * sizeof(*copies));
  if (copies == NULL) return false;
  bool ok = true;
  for (uint32_t i = 0; i < s->ncores && ok; i++) {
    const sim_core_t *c = &s->core[i];
    for (size_t k = 0; k < (size_t)c->l2.sets * c->l2.ways && ok; k++) {
      const sim_way_t *w = &c->l2.way[k];
      if (w->tag == SIM_NO_TAG) continue;
      if (w->dir >= s->ndir || sim_dir_at(s, w->dir)->line != w->tag ||
          !(sim_dir_at(s, w->dir)->sharers & sim_core_bit(i)))
        ok = false;
      else
        copies[w->dir]++;
    }
    for (size_t k = 0; k < (size_t)c->l1.sets * c->l1.ways && ok; k++) {
      const sim_way_t *w = &c->l1.way[k];
      if (w->tag == SIM_NO_TAG) continue;
      const sim_way_t *w2 = sim_cache_probe(&c->l2, w->tag);
      if (w2 == NULL || w2->dir != w->dir) ok = false;
    }
    if (!sim_recent_is_valid(s, &c->lines, &c->l1, true) ||
        !sim_recent_is_valid(s, &c->pages, &c->dtlb, false))
      ok = false;
  }
  for (uint32_t i = 0; i < s->ndir && ok; i++) {
    const sim_line_t *d = sim_dir_at(s, i);
    if (sim_cores_count(d->sharers) != copies[i]) ok = false;
    if (d->excl && d->sharers != sim_core_bit(d->owner)) ok = false;
    if (d->dirty && !d->excl) ok = false;
    if (d->written != 0 && !d->dirty) ok = false;
    if ((d->by_pf & ~d->sharers) != 0 || (d->first & ~d->held) != 0) ok = false;
    if (d->counts > s->ncounts) ok = false;
  }
  sim_table_free(copies);
  return ok;
}

bool sim_is_valid(const sim_t *s) {
  for (uint32_t i = 0; i < s->ncores; i++) {
    const sim_core_t *c = &s->core[i];
    if (!sim_cache_is_valid(&c->l1) || !sim_cache_is_valid(&c->l2) ||
        !sim_cache_is_valid(&c->dtlb) || !sim_cache_is_valid(&c->stlb))
      return false;
    sim_stats_t whole = sim_core_stats(s, i);
    const sim_stats_t *st = &whole;
    if (st->l2_misses > st->l1d_misses || st->l1d_misses > st->l1d_accesses ||
        st->llc_misses > st->llc_accesses ||
        st->llc_accesses + st->transfers + st->clean_forwards != st->l2_misses ||
        st->cold + st->true_sharing + st->false_sharing + st->alloc_reuse + st->replacement !=
            st->l2_misses ||
        st->l1d_pf_useful + st->l1d_pf_useless > st->l1d_pf_issued ||
        st->l2_pf_useful + st->l2_pf_useless > st->l2_pf_issued)
      return false;
  }
  for (size_t k = 0; k < (size_t)s->llc.sets * s->llc.ways; k++) {
    const sim_way_t *w = &s->llc.way[k];
    if (w->tag != SIM_NO_TAG && (w->dir >= s->ndir || sim_dir_at(s, w->dir)->line != w->tag))
      return false;
  }
  return sim_cache_is_valid(&s->llc) && sim_coherence_is_valid(s);
}
