/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_serial.c: a message (chain of transfer pages) to bytes
  and back, for disk, network or another process (seed 001, last part).

  Format (little-endian): "RVM1", version 1, flags, words per raviolo, page
  shift, u32 page count; then per page its cell count and its cells, header
  cell excluded. Data words are always 8 raw bytes. Pointer words lose their
  page address: a pointer inside the message becomes (page index, offset),
  a parent that is an object's slot becomes the slot's number in pack
  order. RV_SER_RAW writes every word as 8 bytes, the pointer as
  ((page << shift | offset) << 1); RV_SER_COMPACT writes type and pointer
  words as LEB128 varints, the pointer as (chain word index << 1), so the
  redundant high bits of a 64-bit address cost nothing. The low bit marks a
  slot number ((k << 1) | 1).

  Reading checks everything before it changes anything: bounds, kinds,
  back-references both ways and each object's tree shape; bad input is
  EINVAL, never a crash.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RV_SER_MAGIC   "RVM1"
#define RV_SER_VERSION 1

typedef struct rv_out_s {
  uint8_t *buf;
  size_t cap, n;
} rv_out_t;

static void rv_out_bytes(rv_out_t *o, const void *p, size_t len) {
  if (o->n + len <= o->cap) memcpy(o->buf + o->n, p, len);
  o->n += len;
}

static void rv_out_u64(rv_out_t *o, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
  rv_out_bytes(o, b, 8);
}

static void rv_out_var(rv_out_t *o, uint64_t v) {
  uint8_t b[10];
  size_t n = 0;
  do {
    b[n] = v & 0x7f;
    v >>= 7;
    if (v) b[n] |= 0x80;
    n++;
  } while (v);
  rv_out_bytes(o, b, n);
}

typedef struct rv_pageix_s {
  uintptr_t base;
  uint32_t index, used;
} rv_pageix_t;

static int rv_pageix_cmp(const void *a, const void *b) {
  uintptr_t x = ((const rv_pageix_t *)a)->base, y = ((const rv_pageix_t *)b)->base;
  return x < y ? -1 : x > y;
}

static int rv_chain_pages(const rv_msg_t *msg, rv_pageix_t **out) {
  size_t n = 0;
  for (const char *p = (const char *)msg; p; p = (const char *)rv_hdr(p)->next) n++;
  rv_pageix_t *ix = malloc((n ? n : 1) * sizeof *ix);
  if (ix == NULL) return -1;
  n = 0;
  for (const char *p = (const char *)msg; p; p = (const char *)rv_hdr(p)->next, n++)
    ix[n] = (rv_pageix_t){(uintptr_t)p, (uint32_t)n, (uint32_t)rv_hdr(p)->used};
  qsort(ix, n, sizeof *ix, rv_pageix_cmp);
  *out = ix;
  return (int)n;
}

/* A pointer word as written: 0, a slot number, or a position. 0 on error
   (a pointer outside the message): written as UINT64_MAX. */
static uint64_t rv_encode_ptr(uintptr_t v, const rv_pageix_t *ix, int npages, unsigned shift,
                              int flags, uint64_t *slots_seen, bool parent) {
  if (v == 0) return 0;
  if (v & RV_EXT) return parent ? ((*slots_seen)++ << 1) | 1 : UINT64_MAX;
  rv_pageix_t key = {v & ~(((uintptr_t)1 << shift) - 1), 0, 0};
  const rv_pageix_t *hit = bsearch(&key, ix, (size_t)npages, sizeof *ix, rv_pageix_cmp);
  if (hit == NULL) return UINT64_MAX;
  uint64_t off = v - hit->base;
  if (off < RV_CELL || off >= (uint64_t)hit->used * RV_CELL) return UINT64_MAX;
  uint64_t pos = ((uint64_t)hit->index << shift) | off;
  return flags & RV_SER_COMPACT ? (pos >> 3) << 1 : pos << 1;
}

size_t rv_serialize(const hl_heap_t *heap, const rv_msg_t *msg, int flags, uint8_t *buf,
                    size_t cap) {
  const rv_heap_t *h = heap->state;
  rv_pageix_t *ix;
  int npages = rv_chain_pages(msg, &ix);
  if (npages < 0) return 0;
  rv_out_t o = {buf, cap, 0};
  uint8_t head[8] = {'R', 'V', 'M', '1', RV_SER_VERSION, (uint8_t)flags, RV_W, (uint8_t)h->shift};
  rv_out_bytes(&o, head, 8);
  uint8_t np[4] = {(uint8_t)npages, (uint8_t)(npages >> 8), (uint8_t)(npages >> 16),
                   (uint8_t)(npages >> 24)};
  rv_out_bytes(&o, np, 4);
  bool compact = flags & RV_SER_COMPACT, ok = true;
  uint64_t seen = 0;
#define RV_PUT(v) (compact ? rv_out_var(&o, (v)) : rv_out_u64(&o, (v)))
#define RV_PTR(v, parent)                                                                          \
  do {                                                                                             \
    uint64_t e_ = rv_encode_ptr((v), ix, npages, h->shift, flags, &seen, (parent));                \
    if (e_ == UINT64_MAX) ok = false;                                                              \
    RV_PUT(e_);                                                                                    \
  } while (0)
  for (const char *p = (const char *)msg; p && ok; p = (const char *)rv_hdr(p)->next) {
    uint32_t used = (uint32_t)rv_hdr(p)->used;
    RV_PUT(used);
    for (uint32_t i = 1; i < used; i++) {
      const rv_cell_t *c = (const rv_cell_t *)(p + (size_t)i * RV_CELL);
      unsigned k = rv_kind(c);
      RV_PUT(c->w[0]);
      RV_PTR(c->w[1], true);
      for (unsigned j = 0; j < RV_SLOTS; j++) {
        bool ptr = k == RV_K_NODE || (k == RV_K_LEAF && (rv_pmask(c->w[0]) >> j & 1)) ||
                   (k == RV_K_REV && (2 + j == RV_REV_TARGET || 2 + j == RV_REV_PARENT2));
        if (!ptr)
          rv_out_u64(&o, c->w[2 + j]);
        else
          RV_PTR(c->w[2 + j], k == RV_K_REV && 2 + j == RV_REV_PARENT2);
      }
    }
  }
#undef RV_PUT
#undef RV_PTR
  free(ix);
  return ok ? o.n : 0;
}

/* ---- reading ---- */

typedef struct rv_in_s {
  const uint8_t *p, *end;
  bool bad;
} rv_in_t;

static uint64_t rv_in_u64(rv_in_t *in) {
  if (in->end - in->p < 8) return in->bad = true, 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)in->p[i] << (8 * i);
  in->p += 8;
  return v;
}

static uint64_t rv_in_var(rv_in_t *in) {
  uint64_t v = 0;
  for (unsigned s = 0; s < 64; s += 7) {
    if (in->p >= in->end) return in->bad = true, 0;
    uint8_t b = *in->p++;
    v |= (uint64_t)(b & 0x7f) << s;
    if (!(b & 0x80)) return v;
  }
  return in->bad = true, 0;
}

typedef struct rv_rd_s {
  char **pages;
  uint32_t *used;
  uint32_t npages;
  unsigned shift;
  bool compact;
  void **const *slots;
  size_t nslots;
  uintptr_t *slot_cell; /* the cell whose parent word names slot k */
  uint64_t seen;
} rv_rd_t;

/* Decode a pointer word; parent words may name a slot. */
static uintptr_t rv_decode_ptr(rv_rd_t *r, uint64_t e, uintptr_t cellword, bool parent, bool *bad) {
  if (e == 0) return 0;
  if (e & 1) {
    uint64_t k = e >> 1;
    if (!parent || k >= r->nslots || k != r->seen || r->slot_cell[k]) return *bad = true, 0;
    r->seen++;
    r->slot_cell[k] = cellword;
    return (uintptr_t)r->slots[k] | RV_EXT;
  }
  uint64_t pos = r->compact ? (e >> 1) << 3 : e >> 1;
  uint64_t pi = pos >> r->shift, off = pos & (((uint64_t)1 << r->shift) - 1);
  if (pi >= r->npages || off < RV_CELL || off % 8) return *bad = true, 0;
  return (uintptr_t)r->pages[pi] + (uintptr_t)off;
}

static bool rv_in_chain(const rv_rd_t *r, uintptr_t v) {
  for (uint32_t i = 0; i < r->npages; i++) {
    uintptr_t b = (uintptr_t)r->pages[i];
    if (v >= b + RV_CELL && v < b + (uintptr_t)r->used[i] * RV_CELL) return true;
  }
  return false;
}

/* Back-references both ways, kinds, and tree shapes. */
static bool rv_chain_ok(const rv_rd_t *r) {
  for (uint32_t pi = 0; pi < r->npages; pi++)
    for (uint32_t i = 1; i < r->used[pi]; i++) {
      const rv_cell_t *c = (const rv_cell_t *)(r->pages[pi] + (size_t)i * RV_CELL);
      unsigned k = rv_kind(c);
      if (k != RV_K_LEAF && k != RV_K_NODE && k != RV_K_REV) return false;
      for (int e = 0; e < (k == RV_K_REV ? 2 : 1); e++) {
        uintptr_t p = e ? c->w[RV_REV_PARENT2] : c->w[RV_REV_PARENT1];
        if (p == 0) return false;
        if (p & RV_EXT) continue; /* the slot is set after the checks */
        if ((p & 7) || !rv_in_chain(r, p) || *(const uintptr_t *)p != (uintptr_t)c) return false;
      }
      for (unsigned j = 0; j < RV_SLOTS; j++) {
        bool ptr = k == RV_K_NODE || (k == RV_K_LEAF && (rv_pmask(c->w[0]) >> j & 1)) ||
                   (k == RV_K_REV && 2 + j == RV_REV_TARGET);
        uintptr_t x = c->w[2 + j], cell = (uintptr_t)&c->w[2 + j];
        if (!ptr || (x == 0 && k == RV_K_NODE && j > 0)) continue;
        if (x == 0 || (x & (RV_CELL - 1)) || !rv_in_chain(r, x)) return false;
        const rv_cell_t *xc = (const rv_cell_t *)x;
        if (!(xc->w[1] == cell || (rv_kind(xc) == RV_K_REV && xc->w[RV_REV_PARENT2] == cell)))
          return false;
      }
    }
  /* second pass, every pointer now known to be sound */
  for (uint32_t pi = 0; pi < r->npages; pi++)
    for (uint32_t i = 1; i < r->used[pi]; i++) {
      const rv_cell_t *c = (const rv_cell_t *)(r->pages[pi] + (size_t)i * RV_CELL);
      unsigned k = rv_kind(c);
      if (c->w[0] & RV_ROOT) { /* the tree has the shape its size says */
        uint64_t size = rv_size(c->w[0]);
        uint64_t leaves = size <= RV_LEAF_BYTES ? 1 : (size + RV_LEAF_BYTES - 1) / RV_LEAF_BYTES;
        unsigned d = 0;
        for (uint64_t span = 1; span < leaves; span *= RV_SLOTS) d++;
        if (k == RV_K_REV || rv_depth(c->w[0]) != d) return false;
        const rv_cell_t *stk[33];
        unsigned idx[33], sp = 0;
        uint64_t seen = 0;
        const rv_cell_t *n = c;
        for (;;) {
          if (sp < d) {
            if (rv_kind(n) != RV_K_NODE) return false;
            stk[sp] = n, idx[sp] = 0, sp++;
          } else {
            if (rv_kind(n) != RV_K_LEAF) return false;
            seen++;
          }
          n = NULL;
          while (sp && n == NULL) {
            if (idx[sp - 1] < RV_SLOTS && stk[sp - 1]->w[2 + idx[sp - 1]])
              n = (const rv_cell_t *)stk[sp - 1]->w[2 + idx[sp - 1]++];
            else
              sp--;
          }
          if (n == NULL) break;
          if (seen > leaves) return false;
        }
        if (seen != leaves) return false;
      }
    }
  return true;
}

int rv_deserialize(hl_ctx_t *ctx, const uint8_t *buf, size_t len, void **const *slots, size_t n,
                   rv_msg_t **out) {
  rv_thread_t *t = ctx->local;
  const rv_heap_t *h = t->heap;
  *out = NULL;
  if (len < 12 || memcmp(buf, RV_SER_MAGIC, 4) || buf[4] != RV_SER_VERSION || (buf[5] & ~1) ||
      buf[6] != RV_W || buf[7] != h->shift)
    return EINVAL;
  uint32_t npages =
      (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
  if (npages == 0 || npages > len) return EINVAL;
  rv_rd_t r = {
      .npages = npages, .shift = h->shift, .compact = buf[5] & 1, .slots = slots, .nslots = n};
  r.pages = calloc(npages, sizeof *r.pages);
  r.used = calloc(npages, sizeof *r.used);
  r.slot_cell = calloc(n ? n : 1, sizeof *r.slot_cell);
  int rc = ENOMEM;
  uint32_t got = 0;
  if (r.pages == NULL || r.used == NULL || r.slot_cell == NULL) goto out;
  for (; got < npages; got++) r.pages[got] = rv_page_get(t);
  rv_in_t in = {buf + 12, buf + len, false};
  bool bad = false;
  rc = EINVAL;
#define RV_GET() (r.compact ? rv_in_var(&in) : rv_in_u64(&in))
  for (uint32_t pi = 0; pi < npages && !in.bad && !bad; pi++) {
    uint64_t used = RV_GET();
    if (used < 1 || used > h->cpp) goto out;
    r.used[pi] = (uint32_t)used;
    rv_hdr_t *hd = rv_hdr(r.pages[pi]);
    hd->owner = RV_K_XFER;
    hd->next = pi + 1 < npages ? (uintptr_t)r.pages[pi + 1] : 0;
    hd->used = used;
    for (uint32_t i = 1; i < used && !in.bad && !bad; i++) {
      rv_cell_t *c = (rv_cell_t *)(r.pages[pi] + (size_t)i * RV_CELL);
      c->w[0] = RV_GET();
      unsigned k = rv_kind(c);
      c->w[1] = rv_decode_ptr(&r, RV_GET(), (uintptr_t)c, true, &bad);
      for (unsigned j = 0; j < RV_SLOTS; j++) {
        bool ptr = k == RV_K_NODE || (k == RV_K_LEAF && (rv_pmask(c->w[0]) >> j & 1)) ||
                   (k == RV_K_REV && (2 + j == RV_REV_TARGET || 2 + j == RV_REV_PARENT2));
        c->w[2 + j] = ptr ? rv_decode_ptr(&r, RV_GET(), (uintptr_t)c,
                                          k == RV_K_REV && 2 + j == RV_REV_PARENT2, &bad)
                          : rv_in_u64(&in);
      }
    }
  }
#undef RV_GET
  if (in.bad || bad || in.p != in.end || r.seen != n || !rv_chain_ok(&r)) goto out;
  for (size_t k = 0; k < n; k++) *slots[k] = (void *)r.slot_cell[k];
  t->inflight_net += npages;
  *out = (rv_msg_t *)r.pages[0];
  rc = 0;
out:
  if (rc)
    for (uint32_t i = 0; i < got; i++) rv_page_put(t, r.pages[i]);
  free(r.pages);
  free(r.used);
  free(r.slot_cell);
  return rc;
}
