/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_link.c: pointers between objects as reverse ravioli (the
  "reference trees" variant): a shared object's referrers form a tree of
  reverse ravioli, so moving any raviolo rewrites at most two pointers.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"

/* ==== links: reverse ravioli ==== */

static inline void rv_field_clear(uintptr_t p) {
  rv_cell_t *r = rv_cell_of(p);
  unsigned j = (unsigned)((p - (uintptr_t)&r->w[2]) / sizeof(uintptr_t));
  *(uintptr_t *)p = 0;
  r->w[0] &= ~((uintptr_t)1 << (RV_MASK_SHIFT + j));
}

/* Drop the link held by field cell p (it points at a reverse raviolo R):
   R's other parent takes R's target, R dies (into hs). O(1). */
RV_SHARED void rv_unref(rv_thread_t *t, uintptr_t p, rv_holes_t *hs) {
  rv_cell_t *R = (rv_cell_t *)*(uintptr_t *)p;
  uintptr_t y = R->w[RV_REV_PARENT1] == p ? R->w[RV_REV_PARENT2] : R->w[RV_REV_PARENT1];
  rv_cell_t *x = (rv_cell_t *)R->w[RV_REV_TARGET];
  rv_set_cell(y, (uintptr_t)x);
  rv_rebind(x, (uintptr_t)&R->w[RV_REV_TARGET], y);
  rv_hole_add(hs, R);
  rv_field_clear(p);
  t->fixups += 2;
}

/* Field cell p (slot word j of `leaf`) now refers to object X: a new
   reverse raviolo joins X's referrer tree on the side away from X's slot,
   so the slot stays at most one reverse raviolo from its object. */
RV_SHARED void rv_ref(rv_thread_t *t, rv_cell_t *leaf, unsigned j, rv_cell_t *X) {
  uintptr_t p = (uintptr_t)&leaf->w[2 + j];
  rv_cell_t *R = rv_cell_new(t);
  R->w[0] = RV_K_REV;
  uintptr_t q = X->w[1];
  if (q & RV_EXT) { /* X hangs from its slot: R goes between them */
    R->w[RV_REV_PARENT1] = q;
    rv_set_cell(q, (uintptr_t)R);
    R->w[RV_REV_TARGET] = (uintptr_t)X;
    X->w[1] = (uintptr_t)&R->w[RV_REV_TARGET];
  } else { /* X hangs from reverse raviolo R1: R takes R1's second parent */
    rv_cell_t *R1 = rv_cell_of(q);
    uintptr_t b = R1->w[RV_REV_PARENT2];
    R->w[RV_REV_PARENT1] = b;
    rv_set_cell(b, (uintptr_t)R);
    R->w[RV_REV_TARGET] = (uintptr_t)R1;
    R1->w[RV_REV_PARENT2] = (uintptr_t)&R->w[RV_REV_TARGET];
  }
  R->w[RV_REV_PARENT2] = p;
  *(uintptr_t *)p = (uintptr_t)R;
  leaf->w[0] |= (uintptr_t)1 << (RV_MASK_SHIFT + j);
  t->fixups += 2;
}

/* Every referrer of object X goes: fields read null, the slot NULL, the
   reverse ravioli die (into hs). */
RV_SHARED void rv_drop_referrers(rv_thread_t *t, rv_cell_t *X, rv_holes_t *hs) {
  size_t n = 0;
  rv_push(t, &n, X->w[1]);
  while (n) {
    uintptr_t p = t->scratch[--n];
    if (p & RV_EXT) {
      rv_set_cell(p, 0);
    } else if (rv_is_rev_target(p)) {
      rv_cell_t *r = rv_cell_of(p);
      rv_push(t, &n, r->w[RV_REV_PARENT1]);
      rv_push(t, &n, r->w[RV_REV_PARENT2]);
      rv_hole_add(hs, r);
    } else {
      rv_field_clear(p);
      t->links_cut++;
    }
  }
}
