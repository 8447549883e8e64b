/* ----------------------------------------------------------------------------
  sim/sim.c: the simulator proper: one access through TLB, L1D, L2, MESI
  coherence and the LLC.

  Model (sim/README.md has the whole of it):
  - A core's private hierarchy is L1D + L2, write-back, write-allocate, L2
    inclusive of L1D (an L2 eviction removes the L1D copy), so "the core holds
    the line" means "its L2 does". The MESI state belongs to the private
    hierarchy, kept in a directory entry per line (sharers mask + E/M bits):
    a single source of truth, so at most one M/E owner holds by construction.
  - On an L2 miss the directory either forwards the request to the one core
    holding the line M or E (a cache-to-cache transfer; the LLC is not
    accessed), or the LLC supplies it (filling from memory on an LLC miss).
    A write also invalidates every other copy; a write hit on S upgrades,
    invalidating the other sharers without moving data.
  - The LLC is shared and non-inclusive, non-exclusive: filled on every miss
    it serves, evicting without touching private copies; dirty private lines
    are written back into it (M evicted from an L2, or M downgraded to S by a
    peer's read). Dirty LLC victims count as memory writebacks.
  - Every transfer is classified: true sharing when the bytes the receiving
    core touches now or touched during its previous tenure of the line
    overlap the bytes the supplying core touched since it obtained the line;
    false sharing otherwise (Dubois et al.'s notion, decided at transfer time).
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
    for (int k = 0; k < SIM_RECENT; k++) c->lines.tag[k] = c->pages.tag[k] = SIM_NO_TAG;
  }
  if (sim_cache_init(&s->llc, cfg->llc.size / cfg->line, cfg->llc.ways, cfg->llc.policy) != 0)
    return sim_create_fail(s, err, errlen, "out of memory");
  s->dir_stride = sizeof(sim_line_t) + s->ncores * sizeof(uint64_t);
  s->index_bits = 12;
  s->index = sim_table_alloc(((size_t)1 << s->index_bits) * sizeof(*s->index));
  if (s->index == NULL) return sim_create_fail(s, err, errlen, "out of memory");
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
    }
  }
  sim_cache_free(&s->llc);
  sim_table_free(s->core);
  sim_table_free(s->dir);
  sim_table_free(s->index);
  sim_table_free(s);
}

const sim_config_t *sim_config(const sim_t *s) {
  return &s->cfg;
}

/* ---- directory: line number -> entry, open addressing, linear probing ---- */

static inline uint64_t sim_hash(uint64_t line, uint32_t bits) {
  return (line * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits);
}

static void sim_dir_oom(void) {
  fprintf(stderr, "hlsim: out of memory for the line directory\n");
  abort();
}

static void sim_dir_grow_index(sim_t *s) {
  uint32_t bits = s->index_bits + 1;
  uint32_t *index = sim_table_alloc(((size_t)1 << bits) * sizeof(*index));
  if (index == NULL) sim_dir_oom();
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

uint32_t sim_dir_get(sim_t *s, uint64_t line) {
  uint64_t mask = (UINT64_C(1) << s->index_bits) - 1;
  uint64_t h = sim_hash(line, s->index_bits);
  while (s->index[h] != 0) {
    uint32_t i = s->index[h] - 1;
    if (sim_dir_at(s, i)->line == line) return i;
    h = (h + 1) & mask;
  }
  if (s->ndir == UINT32_MAX - 1) sim_dir_oom();
  if (s->ndir == s->cap_dir) {
    uint32_t cap = s->cap_dir ? s->cap_dir * 2 : 1024;
    char *dir = sim_table_alloc((size_t)cap * s->dir_stride);
    if (dir == NULL) sim_dir_oom();
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
  s->index[h] = i + 1;
  /* keep the load under 1/2 so probes stay short */
  if ((uint64_t)s->ndir * 2 > (UINT64_C(1) << s->index_bits)) sim_dir_grow_index(s);
  return i;
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
static inline void sim_recent_put_first(sim_recent_t *rc, int r, uint64_t tag, sim_line_t *entry) {
  for (; r > 0; r--) {
    rc->tag[r] = rc->tag[r - 1];
    rc->entry[r] = rc->entry[r - 1];
  }
  rc->tag[0] = tag;
  rc->entry[0] = entry;
}

/* `tag` is one of the recent ones after the newest: it becomes the newest
   (its entry then in rc->entry[0]). The newest is checked by the callers. */
static inline bool sim_recent_hit(sim_recent_t *rc, uint64_t tag) {
  for (int r = 1; r < SIM_RECENT; r++) {
    if (rc->tag[r] == tag) {
      sim_recent_put_first(rc, r, tag, rc->entry[r]);
      return true;
    }
  }
  return false;
}

/* `tag` was just looked up (or filled) in the cache or TLB whose set mask is
   `set_mask`, so it is its set's most recent way: it goes first, in place of
   the entry in its set, else of the first empty one, else of the oldest. */
static inline void sim_recent_push(sim_recent_t *rc, uint64_t set_mask, uint64_t tag,
                                   sim_line_t *entry) {
  int r = 0;
  while (r < SIM_RECENT - 1 && rc->tag[r] != SIM_NO_TAG && ((rc->tag[r] ^ tag) & set_mask) != 0)
    r++; /* empty entries are only at the end, so none hides one in tag's set */
  sim_recent_put_first(rc, r, tag, entry);
}

/* `line` left the core's L1D. */
static inline void sim_recent_forget(sim_recent_t *rc, uint64_t line) {
  for (int r = 0; r < SIM_RECENT; r++) {
    if (rc->tag[r] == line) {
      for (; r < SIM_RECENT - 1; r++) {
        rc->tag[r] = rc->tag[r + 1];
        rc->entry[r] = rc->entry[r + 1];
      }
      rc->tag[SIM_RECENT - 1] = SIM_NO_TAG;
      return;
    }
  }
}

/* ---- coherence ---- */

/* Remove core `o`'s copy of a line (a peer's request): L1D and L2 both. */
static void sim_coherence_drop(sim_t *s, uint32_t o, uint64_t line) {
  sim_core_t *co = &s->core[o];
  sim_cache_remove(&co->l1, line);
  bool had = sim_cache_remove(&co->l2, line);
  assert(had);
  (void)had;
  sim_recent_forget(&co->lines, line);
}

/* Invalidate every copy in `victims` (a core mask) on behalf of core `c`. */
static void sim_coherence_invalidate(sim_t *s, sim_core_t *c, sim_line_t *d, uint32_t victims) {
  while (victims != 0) {
    uint32_t o = (uint32_t)__builtin_ctz(victims);
    victims &= victims - 1;
    sim_coherence_drop(s, o, d->line);
    d->sharers &= ~(UINT32_C(1) << o);
    c->st.invalidations++;
    d->invalidations++;
  }
}

/* Core `core` missed in its L2: find the data, set the MESI state, install the
   line in the L2 in place of `l2_victim` (its sim_cache_victim, found before
   so that its directory entry could be prefetched). Returns the directory index. */
static uint32_t sim_coherence_fill(sim_t *s, uint32_t core, uint64_t line, uint64_t bytes,
                                   bool is_write, sim_way_t *l2_victim) {
  sim_core_t *c = &s->core[core];
  /* an LLC copy knows its directory entry: the hash table is for LLC misses */
  sim_way_t *lw = sim_cache_probe(&s->llc, line);
  uint32_t di = lw != NULL ? lw->dir : sim_dir_get(s, line);
  sim_line_t *d = sim_dir_at(s, di);
  uint32_t bit = UINT32_C(1) << core;
  uint64_t *mask = d->mask;
  sim_assert_internal((d->sharers & bit) == 0); /* L2 missed, so the directory must not list us */
  uint32_t others = d->sharers;
  if (others != 0 && d->excl) {
    /* the M/E owner forwards the line: a cache-to-cache transfer */
    uint32_t o = (uint32_t)__builtin_ctz(others);
    c->st.transfers++;
    d->transfers++;
    if (((mask[core] | bytes) & mask[o]) != 0) {
      c->st.true_sharing++;
      d->true_sharing++;
    } else {
      c->st.false_sharing++;
      d->false_sharing++;
    }
    if (is_write) {
      /* RFO: the dirty data moves with ownership, nothing written back */
      sim_coherence_invalidate(s, c, d, others);
      d->sharers = bit;
      d->excl = 1;
      d->dirty = 1;
    } else {
      if (d->dirty) sim_llc_writeback(s, &s->core[o], line, di); /* M -> S writes back */
      d->sharers |= bit;
      d->excl = 0;
      d->dirty = 0;
    }
  } else {
    c->st.llc_accesses++;
    if (lw != NULL) {
      sim_cache_touch(&s->llc, lw);
    } else {
      c->st.llc_misses++;
      sim_way_t ev;
      sim_cache_insert(&s->llc, line, &ev)->dir = di;
      sim_llc_evicted(c, &ev);
    }
    if (is_write) {
      sim_coherence_invalidate(s, c, d, others);
      d->sharers = bit;
      d->excl = 1;
      d->dirty = 1;
    } else if (others != 0) {
      d->sharers |= bit; /* S joins S */
    } else {
      d->sharers = bit; /* alone: E */
      d->excl = 1;
      d->dirty = 0;
    }
  }
  mask[core] = bytes; /* a new tenure starts */
  sim_way_t ev;
  sim_way_t *w = sim_cache_fill(&c->l2, l2_victim, line, &ev);
  w->dir = di;
  if (ev.tag != SIM_NO_TAG) {
    /* our own L2 victim leaves the private hierarchy: inclusion takes it out of
       the L1D, and if we owned it dirty it goes back to the LLC */
    sim_line_t *vd = sim_dir_at(s, ev.dir);
    sim_assert_internal(vd->line == ev.tag && (vd->sharers & bit) != 0);
    sim_cache_remove(&c->l1, ev.tag);
    sim_recent_forget(&c->lines, ev.tag);
    if (vd->dirty) sim_llc_writeback(s, c, ev.tag, ev.dir);
    vd->sharers &= ~bit;
    if (vd->sharers == 0 || vd->excl) {
      vd->excl = 0; /* an E/M owner left: no one holds it */
      vd->dirty = 0;
    }
  }
  return di;
}

/* A write to a line the core holds: E -> M silently, S -> M by invalidating
   the other sharers (an upgrade: no data moves, so no transfer). */
static void sim_coherence_write(sim_t *s, sim_core_t *c, uint32_t core, sim_line_t *d) {
  uint32_t bit = UINT32_C(1) << core;
  sim_assert_internal((d->sharers & bit) != 0);
  if (!d->excl) sim_coherence_invalidate(s, c, d, d->sharers & ~bit);
  d->sharers = bit;
  d->excl = 1;
  d->dirty = 1;
}

/* Core `core` missed `line` in its L1D: the L2, and past it the coherence
   protocol, supply it; it is installed in the L1D. Returns its directory index. */
static __attribute__((noinline)) uint32_t sim_l1_fill(sim_t *s, uint32_t core, uint64_t line,
                                                      uint64_t bytes, bool is_write) {
  sim_core_t *c = &s->core[core];
  c->st.l1d_misses++;
  uint32_t di;
  sim_way_t *w2 = sim_cache_lookup(&c->l2, line);
  if (w2 != NULL) {
    di = w2->dir;
  } else {
    c->st.l2_misses++;
    /* the L2 victim's directory entry will be needed after the LLC and the
       directory are consulted: start loading it now (a host cache miss
       overlapped with the next one) */
    sim_way_t *v = sim_cache_victim(&c->l2, line);
    if (v->tag != SIM_NO_TAG) __builtin_prefetch(sim_dir_at(s, v->dir), 1);
    di = sim_coherence_fill(s, core, line, bytes, is_write, v);
  }
  sim_way_t ev;
  sim_cache_insert(&c->l1, line, &ev)->dir = di; /* an L1D victim stays in the L2 (inclusion) */
  return di;
}

/* One line's worth of an access. The L1D hit is inline, the rest is not. */
static inline void sim_line_access(sim_t *s, uint32_t core, uint64_t line, uint64_t bytes,
                                   bool is_write) {
  sim_core_t *c = &s->core[core];
  sim_line_t *d;
  if (line == c->lines.tag[0] || sim_recent_hit(&c->lines, line)) {
    d = c->lines.entry[0]; /* a hit that changes nothing */
  } else {
    sim_way_t *w = sim_cache_lookup(&c->l1, line);
    d = sim_dir_at(s, w != NULL ? w->dir : sim_l1_fill(s, core, line, bytes, is_write));
    sim_recent_push(&c->lines, c->l1.set_mask, line, d);
  }
  if (is_write && !d->dirty) sim_coherence_write(s, c, core, d);
  /* dirty implies we are the owner: a peer taking it would have dropped our copy */
  sim_assert_internal(!is_write || (d->sharers == (UINT32_C(1) << core) && d->dirty));
  d->mask[core] |= bytes;
}

/* A translation of `page`, which is not one of the core's recent pages. */
static __attribute__((noinline)) void sim_tlb_lookup(sim_core_t *c, uint64_t page) {
  if (c->dtlb.ways != 0 && sim_cache_lookup(&c->dtlb, page) != NULL) {
    sim_recent_push(&c->pages, c->dtlb.set_mask, page, NULL);
    return;
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
    sim_recent_push(&c->pages, c->dtlb.set_mask, page, NULL);
  } /* no dTLB: nothing is most recent, every translation looks in the STLB */
}

static inline void sim_tlb_access(sim_core_t *c, uint64_t page) {
  if (page != c->pages.tag[0] && !sim_recent_hit(&c->pages, page)) sim_tlb_lookup(c, page);
}

/* The general case: any size, any alignment, through the TLB and every level. */
static __attribute__((noinline)) void sim_access_lines(sim_t *s, unsigned core, uint64_t addr,
                                                       uint64_t size, bool is_write) {
  if (size == 0) return;
  sim_core_t *c = &s->core[core];
  sim_count_access(c, is_write);
  uint64_t end = addr + size < addr ? UINT64_MAX : addr + size; /* clamp at the top */
  uint64_t page = SIM_NO_TAG;
  uint64_t lines = 0, pages = 0;
  while (addr < end) {
    uint64_t off = addr & (s->line_size - 1);
    uint64_t n = s->line_size - off;
    if (n > end - addr) n = end - addr;
    uint64_t bytes = (UINT64_MAX >> (64 - n)) << off; /* n is 1..64 */
    if ((addr >> s->page_shift) != page) {
      page = addr >> s->page_shift;
      pages++;
      sim_tlb_access(c, page);
    }
    lines++;
    sim_line_access(s, core, addr >> s->line_shift, bytes, is_write);
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
  sim_tlb_access(c, addr >> s->page_shift);
  sim_line_access(s, core, addr >> s->line_shift, bytes, is_write);
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

/* Core i's counters whole: the three access totals the hot path leaves out. */
static sim_stats_t sim_core_stats(const sim_core_t *c) {
  sim_stats_t st = c->st;
  st.accesses = st.reads + st.writes;
  st.l1d_accesses = st.accesses + c->extra_lines;
  st.dtlb_accesses = st.accesses + c->extra_pages;
  return st;
}

void sim_stats(const sim_t *s, int core, sim_stats_t *out) {
  if (core >= 0) {
    *out = sim_core_stats(&s->core[core]);
    return;
  }
  memset(out, 0, sizeof(*out));
  uint64_t *o = (uint64_t *)out;
  for (uint32_t i = 0; i < s->ncores; i++) {
    sim_stats_t st = sim_core_stats(&s->core[i]);
    const uint64_t *in = (const uint64_t *)&st;
    for (size_t k = 0; k < sizeof(*out) / sizeof(uint64_t); k++) o[k] += in[k];
  }
}

/* ---- invariants ---- */

/* What a recent list promises (sim_internal.h): each entry is in `c` (the
   L1D or the dTLB), touching it changes nothing, no two are in one set, and
   empty entries are only at the end; lines also name their directory entry. */
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
    if (lines && sim_dir_at(s, w->dir) != rc->entry[r]) return false;
    for (int k = 0; k < r; k++)
      if (((rc->tag[k] ^ tag) & c->set_mask) == 0) return false;
  }
  return true;
}

/* The directory agrees with the caches: every L2 way's entry names that line
   and lists the core; the number of L2 copies equals the sharer count; E/M
   means exactly one sharer; M implies E; every L1D line is in the L2. */
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
          !(sim_dir_at(s, w->dir)->sharers & (UINT32_C(1) << i)))
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
    if ((uint32_t)__builtin_popcount(d->sharers) != copies[i]) ok = false;
    if (d->excl && __builtin_popcount(d->sharers) != 1) ok = false;
    if (d->dirty && !d->excl) ok = false;
    if (d->transfers != d->true_sharing + d->false_sharing) ok = false;
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
    sim_stats_t whole = sim_core_stats(c);
    const sim_stats_t *st = &whole;
    if (st->l2_misses > st->l1d_misses || st->l1d_misses > st->l1d_accesses ||
        st->llc_misses > st->llc_accesses ||
        st->transfers != st->true_sharing + st->false_sharing ||
        st->llc_accesses + st->transfers != st->l2_misses)
      return false;
  }
  for (size_t k = 0; k < (size_t)s->llc.sets * s->llc.ways; k++) {
    const sim_way_t *w = &s->llc.way[k];
    if (w->tag != SIM_NO_TAG && (w->dir >= s->ndir || sim_dir_at(s, w->dir)->line != w->tag))
      return false;
  }
  return sim_cache_is_valid(&s->llc) && sim_coherence_is_valid(s);
}
