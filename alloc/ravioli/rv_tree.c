/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_tree.c: objects bigger than one raviolo as complete
  RV_SLOTS-ary trees of nodes over leaves (the earlier ravioli posts): built
  in contiguous cells, walked leaf by leaf in O(1) amortized, released into
  a batch of holes.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <string.h>

const void *rv_object_of(const void *ref) {
  return ref ? rv_resolve((uintptr_t)ref) : NULL;
}

static unsigned rv_depth_for(uint64_t leaves) {
  unsigned d = 0;
  for (uint64_t span = 1; span < leaves; span *= RV_SLOTS) d++;
  return d;
}

/* Nodes start with null children; leaves hold payload, zeroed only for
   calloc (malloc's bytes are undefined, and zeroing a 128-byte raviolo is
   most of a one-raviolo allocation's cost). */
static rv_cell_t *rv_build(rv_thread_t *t, uintptr_t parent, uint64_t leaves, uint64_t span,
                           bool zero) {
  rv_cell_t *c = rv_cell_new(t);
  t->cells_allocated++;
  c->w[1] = parent;
  if (span == 1) {
    c->w[0] = RV_K_LEAF;
    if (zero) memset(&c->w[2], 0, RV_LEAF_BYTES);
    return c;
  }
  for (unsigned j = 0; j < RV_SLOTS; j++) c->w[2 + j] = 0;
  c->w[0] = RV_K_NODE;
  uint64_t sub = span / RV_SLOTS;
  for (unsigned j = 0; j < RV_SLOTS && leaves > j * sub; j++) {
    uint64_t l = leaves - j * sub < sub ? leaves - j * sub : sub;
    c->w[2 + j] = (uintptr_t)rv_build(t, (uintptr_t)&c->w[2 + j], l, sub, zero);
  }
  return c;
}

/* A new object of `size` bytes (zeroed when `zero`) whose parent cell is
   `parent`. */
RV_SHARED rv_cell_t *rv_object_new(rv_thread_t *t, uintptr_t parent, uint64_t size, bool zero) {
  uint64_t leaves = rv_leaves(size), span = 1;
  unsigned d = rv_depth_for(leaves);
  for (unsigned i = 0; i < d; i++) span *= RV_SLOTS;
  rv_cell_t *c = rv_build(t, parent, leaves, span, zero);
  c->w[0] |= RV_ROOT | ((uintptr_t)d << RV_DEPTH_SHIFT) | ((uintptr_t)size << RV_SIZE_SHIFT);
  return c;
}

RV_SHARED rv_cell_t *rv_iter_init(rv_iter_t *it, rv_cell_t *root, uint64_t leaf) {
  unsigned d = rv_depth(root->w[0]);
  it->d = d;
  uint64_t span = 1;
  for (unsigned i = 1; i < d; i++) span *= RV_SLOTS;
  rv_cell_t *n = root;
  for (unsigned l = 0; l < d; l++) {
    unsigned j = (unsigned)(leaf / span);
    leaf %= span;
    it->node[l] = n, it->idx[l] = j;
    n = (rv_cell_t *)n->w[2 + j];
    span /= RV_SLOTS;
  }
  return n;
}

RV_SHARED rv_cell_t *rv_iter_next(rv_iter_t *it) {
  int l = (int)it->d - 1;
  while (l >= 0 && (it->idx[l] + 1 >= RV_SLOTS || it->node[l]->w[2 + it->idx[l] + 1] == 0)) l--;
  if (l < 0) return NULL;
  rv_cell_t *n = (rv_cell_t *)it->node[l]->w[2 + ++it->idx[l]];
  for (l++; l < (int)it->d; l++) {
    it->node[l] = n, it->idx[l] = 0;
    n = (rv_cell_t *)n->w[2];
  }
  return n;
}

/* The cells of a tree go into hs; the links its leaves hold are dropped. */
RV_SHARED void rv_tree_release(rv_thread_t *t, rv_cell_t *root, rv_holes_t *hs) {
  rv_cell_t *stk[33];
  unsigned idx[33];
  int sp = 0;
  rv_cell_t *c = root;
  for (;;) {
    if (rv_kind(c) == RV_K_NODE) {
      stk[sp] = c, idx[sp] = 0, sp++;
    } else {
      for (unsigned m = rv_pmask(c->w[0]), j = 0; m; j++, m >>= 1)
        if (m & 1) rv_unref(t, (uintptr_t)&c->w[2 + j], hs);
      rv_hole_add(hs, c);
    }
    c = NULL;
    while (sp && c == NULL) {
      rv_cell_t *nd = stk[sp - 1];
      if (idx[sp - 1] < RV_SLOTS && nd->w[2 + idx[sp - 1]]) {
        c = (rv_cell_t *)nd->w[2 + idx[sp - 1]++];
      } else {
        rv_hole_add(hs, nd);
        sp--;
      }
    }
    if (c == NULL) return;
  }
}

/* Climb from a field's leaf to its object's root. */
RV_SHARED rv_cell_t *rv_root_of_cell(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  while (!(r->w[0] & RV_ROOT)) r = rv_cell_of(r->w[1]);
  return r;
}

RV_SHARED void rv_collect_tree(rv_thread_t *t, rv_cell_t *root, size_t *n) {
  size_t start = *n;
  rv_push(t, n, (uintptr_t)root);
  for (size_t i = start; i < *n; i++) {
    rv_cell_t *c = (rv_cell_t *)t->scratch[i];
    if (rv_kind(c) == RV_K_NODE)
      for (unsigned j = 0; j < RV_SLOTS; j++)
        if (c->w[2 + j]) rv_push(t, n, c->w[2 + j]);
  }
}
