/* ----------------------------------------------------------------------------
  sim/sim_cache.c: set-associative tag arrays with LRU or tree-PLRU
  replacement, used for every cache level and every TLB level.

  Sets are indexed by the low bits of the line (or page) number, so the set
  count must be a power of two (sim_config_check says so with the key). The
  lookup and the fill (victim, insert) are inline in sim_internal.h, being
  on every miss path; here are set-up, removal, probing and the checker.
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <stdlib.h>

int sim_cache_init(sim_cache_t *c, uint64_t entries, uint32_t ways, sim_policy_t policy) {
  memset(c, 0, sizeof(*c));
  if (entries == 0 || ways == 0) return 0; /* absent level: every lookup misses */
  c->ways = ways;
  c->sets = (uint32_t)(entries / ways);
  c->set_mask = c->sets - 1;
  c->policy = policy;
  c->way = sim_table_alloc((size_t)c->sets * ways * sizeof(*c->way));
  if (c->way == NULL) return -1;
  for (size_t i = 0; i < (size_t)c->sets * ways; i++) {
    c->way[i].tag = SIM_NO_TAG;
    c->way[i].dir = SIM_NO_DIR;
    c->way[i].dirty = 0;
    c->way[i].prefetched = 0;
  }
  if (policy == SIM_POLICY_PLRU) {
    while ((1u << c->levels) < ways) c->levels++;
    for (uint32_t w = 0; w < ways; w++) {
      /* the path from the root to leaf w: each node on it points away from w */
      uint32_t node = 1;
      for (uint32_t l = 0; l < c->levels; l++) {
        uint32_t right = (w >> (c->levels - 1 - l)) & 1;
        if (right)
          c->plru_clear[w] |= UINT64_C(1) << node;
        else
          c->plru_set[w] |= UINT64_C(1) << node;
        node = 2 * node + right;
      }
    }
    c->plru = sim_table_alloc((size_t)c->sets * sizeof(*c->plru));
    c->valid = sim_table_alloc((size_t)c->sets * sizeof(*c->valid));
    if (c->plru == NULL || c->valid == NULL) return -1;
    c->all_ways = ways == 64 ? UINT64_MAX : (UINT64_C(1) << ways) - 1;
  }
  return 0;
}

void sim_cache_free(sim_cache_t *c) {
  sim_table_free(c->way);
  sim_table_free(c->plru);
  sim_table_free(c->valid);
  memset(c, 0, sizeof(*c));
}

sim_way_t *sim_cache_probe(const sim_cache_t *c, uint64_t tag) {
  if (c->ways == 0) return NULL;
  sim_way_t *s = c->way + (tag & c->set_mask) * c->ways;
  for (uint32_t i = 0; i < c->ways; i++) {
    if (s[i].tag == tag) return s + i;
  }
  return NULL;
}

bool sim_cache_is_mru(const sim_cache_t *c, const sim_way_t *w) {
  uint64_t set = w->tag & c->set_mask;
  uint32_t i = (uint32_t)(w - (c->way + set * c->ways));
  if (c->policy == SIM_POLICY_LRU) return i == 0;
  return ((c->plru[set] & ~c->plru_clear[i]) | c->plru_set[i]) == c->plru[set];
}

bool sim_cache_remove(sim_cache_t *c, uint64_t tag, sim_way_t *gone) {
  sim_way_t *w = sim_cache_probe(c, tag);
  if (w == NULL) return false;
  if (gone != NULL) *gone = *w;
  if (c->policy == SIM_POLICY_LRU) {
    /* close the gap and put the free way last, keeping the recency order */
    sim_way_t *s = c->way + (tag & c->set_mask) * c->ways;
    uint32_t i = (uint32_t)(w - s);
    memmove(s + i, s + i + 1, (c->ways - 1 - i) * sizeof(*s));
    w = s + c->ways - 1;
  } else {
    uint64_t set = tag & c->set_mask;
    c->valid[set] &= ~(UINT64_C(1) << (w - (c->way + set * c->ways)));
  }
  w->tag = SIM_NO_TAG;
  w->dir = SIM_NO_DIR;
  w->dirty = 0;
  w->prefetched = 0;
  return true;
}

/* No tag twice in a set, every tag in the set its low bits name, and (LRU)
   free ways only after the valid ones. */
bool sim_cache_is_valid(const sim_cache_t *c) {
  for (uint64_t set = 0; set < c->sets; set++) {
    const sim_way_t *s = c->way + set * c->ways;
    bool seen_free = false;
    for (uint32_t i = 0; i < c->ways; i++) {
      bool valid_bit = c->policy == SIM_POLICY_PLRU && ((c->valid[set] >> i) & 1);
      if (s[i].tag == SIM_NO_TAG) {
        if (valid_bit) return false;
        seen_free = true;
        continue;
      }
      if (c->policy == SIM_POLICY_PLRU && !valid_bit) return false;
      if (seen_free && c->policy == SIM_POLICY_LRU) return false;
      if ((s[i].tag & c->set_mask) != set) return false;
      for (uint32_t j = i + 1; j < c->ways; j++) {
        if (s[j].tag == s[i].tag) return false;
      }
    }
  }
  return true;
}
