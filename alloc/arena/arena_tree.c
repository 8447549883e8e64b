/* ----------------------------------------------------------------------------
  alloc/arena/arena_tree.c: the intrusive balanced tree behind address-ordered
  best fit (free chunk extents by (size, addr) and by addr; free large spans
  by (size, addr)).

  A treap: a binary search tree in key order that is also a max-heap in a
  priority. The priority is a hash of the node's own address, so nodes carry
  only two child pointers (a large span's 4-word header has room for exactly
  that) and the shape is still that of a random BST: O(log n) expected depth
  for every operation, whatever the key order. Nothing here allocates.
---------------------------------------------------------------------------- */
#include "alloc/arena/arena.h"
#include <stddef.h>

static inline uint64_t arena_tree_prio(const arena_tnode_t *n) {
  uint64_t x = (uint64_t)(uintptr_t)n;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

void arena_tree_init(arena_tree_t *t, arena_tcmp_fn cmp) {
  t->root = NULL;
  t->cmp = cmp;
  t->count = 0;
}

/* Split t into nodes < key (*l) and nodes >= key (*r). */
static void arena_tree_split(arena_tcmp_fn cmp, arena_tnode_t *t, const arena_tnode_t *key,
                             arena_tnode_t **l, arena_tnode_t **r) {
  while (t) {
    if (cmp(t, key) < 0) {
      *l = t;
      l = &t->right;
      t = t->right;
    } else {
      *r = t;
      r = &t->left;
      t = t->left;
    }
  }
  *l = NULL;
  *r = NULL;
}

/* Join two treaps where every key of a is below every key of b. */
static arena_tnode_t *arena_tree_merge(arena_tnode_t *a, arena_tnode_t *b) {
  arena_tnode_t *root = NULL, **link = &root;
  while (a && b) {
    if (arena_tree_prio(a) > arena_tree_prio(b)) {
      *link = a;
      link = &a->right;
      a = a->right;
    } else {
      *link = b;
      link = &b->left;
      b = b->left;
    }
  }
  *link = a ? a : b;
  return root;
}

void arena_tree_insert(arena_tree_t *t, arena_tnode_t *n) {
  uint64_t p = arena_tree_prio(n);
  arena_tnode_t **link = &t->root;
  while (*link && arena_tree_prio(*link) >= p)
    link = t->cmp(n, *link) < 0 ? &(*link)->left : &(*link)->right;
  arena_tree_split(t->cmp, *link, n, &n->left, &n->right);
  *link = n;
  t->count++;
}

void arena_tree_remove(arena_tree_t *t, arena_tnode_t *n) {
  arena_tnode_t **link = &t->root;
  while (*link != n) link = t->cmp(n, *link) < 0 ? &(*link)->left : &(*link)->right;
  *link = arena_tree_merge(n->left, n->right);
  n->left = n->right = NULL;
  t->count--;
}

arena_tnode_t *arena_tree_lower_bound(const arena_tree_t *t, const arena_tnode_t *key) {
  arena_tnode_t *best = NULL, *n = t->root;
  while (n) {
    if (t->cmp(n, key) >= 0) {
      best = n;
      n = n->left;
    } else {
      n = n->right;
    }
  }
  return best;
}

arena_tnode_t *arena_tree_predecessor(const arena_tree_t *t, const arena_tnode_t *key) {
  arena_tnode_t *best = NULL, *n = t->root;
  while (n) {
    if (t->cmp(n, key) < 0) {
      best = n;
      n = n->right;
    } else {
      n = n->left;
    }
  }
  return best;
}

arena_tnode_t *arena_tree_first(const arena_tree_t *t) {
  arena_tnode_t *n = t->root;
  while (n && n->left) n = n->left;
  return n;
}

/* Recursive walk: every node within (lo, hi) exclusive bounds, priorities
   not above the parent's. Returns the node count or -1. Depth is the tree's
   (O(log n) expected), so recursion is fine. */
static long arena_tree_walk(const arena_tree_t *t, const arena_tnode_t *n, const arena_tnode_t *lo,
                            const arena_tnode_t *hi, uint64_t maxp) {
  if (!n) return 0;
  if (arena_tree_prio(n) > maxp) return -1;
  if (lo && t->cmp(lo, n) >= 0) return -1;
  if (hi && t->cmp(n, hi) >= 0) return -1;
  long a = arena_tree_walk(t, n->left, lo, n, arena_tree_prio(n));
  long b = arena_tree_walk(t, n->right, n, hi, arena_tree_prio(n));
  return a < 0 || b < 0 ? -1 : a + b + 1;
}

bool arena_tree_is_valid(const arena_tree_t *t) {
  long c = arena_tree_walk(t, t->root, NULL, NULL, UINT64_MAX);
  return c >= 0 && (size_t)c == t->count;
}
