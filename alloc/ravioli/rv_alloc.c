/* ----------------------------------------------------------------------------
  alloc/ravioli/rv_alloc.c: the ravioli allocator's face (alloc/alloc.h),
  registered as `ravioli` (and, built again by ravioli8.c and ravioli16.c,
  as `ravioli8` and `ravioli16`): options, heap and thread set-up, alloc,
  free, realloc, read, write and link through the slot, and statistics.
  README.md in this folder says why it is built so.
---------------------------------------------------------------------------- */
#include "alloc/ravioli/rv_internal.h"
#include "alloc/options.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

/* ==== the interface (alloc/alloc.h) ==== */

/* The heap options (alloc/options.h); README.md says what each does. */
static const hl_opt_t rv_opts[] = {
    {.name = "keep",
     .kind = HL_OPT_UINT,
     .min = 0,
     .max = 65536,
     HL_OPT_FIELD(rv_heap_t, keep),
     .help = "empty pages a thread keeps and reuses before the shared pool (default 1)"},
    {.name = "hysteresis",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(rv_heap_t, keep),
     .help = "the seed's rule: 1 is keep=1 (default), 0 is keep=0"},
    {.name = "checked",
     .kind = HL_OPT_BOOL,
     HL_OPT_FIELD(rv_heap_t, checked),
     .help = "walk every invariant of the thread's heap after every operation (default 0)"},
    {.name = "batch",
     .kind = HL_OPT_UINT,
     .min = 1,
     .max = 65536,
     HL_OPT_FIELD(rv_heap_t, batch_pages),
     .help = "pages mmap'ed at a time (default 1 MiB worth, at least 4)"},
};

static const hl_opt_table_t rv_options = {
    .name = RV_ALLOC_NAME, .opts = rv_opts, .count = sizeof rv_opts / sizeof rv_opts[0]};

static int rv_heap_init(hl_heap_t *heap) {
  heap->why[0] = '\0';
  size_t ps = heap->config.page_size ? heap->config.page_size : 4096;
  if (ps < 1024 || ps > ((size_t)2 << 20) || (ps & (ps - 1))) {
    snprintf(heap->why, sizeof heap->why,
             RV_ALLOC_NAME ": page size %zu: expected a power of two from 1K to 2M", ps);
    return EINVAL;
  }
  rv_heap_t *h = calloc(1, sizeof *h);
  if (h == NULL) return ENOMEM;
  h->page_size = ps;
  h->shift = (unsigned)__builtin_ctzll(ps);
  h->cpp = (uint32_t)(ps / RV_CELL);
  h->keep = 1;
  h->checked = RV_DEBUG != 0;
  h->batch_pages = ps >= ((size_t)1 << 20) / 4 ? 4 : ((size_t)1 << 20) / ps;
  int rc = hl_opt_parse(&rv_options, heap->config.options, h, heap->why, sizeof heap->why);
  if (rc) {
    free(h);
    return rc;
  }
  pthread_mutex_init(&h->threads_lock, NULL);
  heap->state = h;
  return 0;
}

static void rv_heap_done(hl_heap_t *heap) {
  rv_heap_t *h = heap->state;
  if (h == NULL) return;
  for (rv_thread_t *t = h->threads, *next; t; t = next) {
    next = t->next;
    pthread_mutex_destroy(&t->orphan_lock);
    free(t->scratch);
    free(t->sendv);
    free(t);
  }
  for (rv_batch_t *b = atomic_load(&h->batches), *next; b; b = next) {
    next = b->next;
    munmap(b->base, b->len);
    free(b);
  }
  pthread_mutex_destroy(&h->threads_lock);
  free(h);
  heap->state = NULL;
}

static int rv_thread_init(hl_ctx_t *ctx) {
  rv_heap_t *h = ctx->heap->state;
  rv_thread_t *t = aligned_alloc(64, (sizeof *t + 63) & ~(size_t)63);
  if (t == NULL) return ENOMEM;
  memset(t, 0, sizeof *t);
  t->topi = t->cpp = h->cpp;
  t->pmask = ~(uintptr_t)(h->page_size - 1);
  t->heap = h;
  t->id = ctx->thread;
  atomic_init(&t->inbox, 0);
  atomic_init(&t->done, 0);
  pthread_mutex_init(&t->orphan_lock, NULL);
  pthread_mutex_lock(&h->threads_lock);
  t->next = h->threads;
  h->threads = t;
  pthread_mutex_unlock(&h->threads_lock);
  ctx->local = t;
  return 0;
}

/* The heap stays until heap_done (the replay may still free its objects
   through another context, as an orphan); messages posted to it later are
   adopted by whoever uses it next. */
static void rv_thread_done(hl_ctx_t *ctx) {
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  rv_leave(ctx, t);
  rv_req_flush(t);
  /* done first, then the inbox once more: a poster that still saw done == 0
     has posted before this takes it; one that sees 1 takes it itself */
  pthread_mutex_lock(&t->orphan_lock);
  atomic_store_explicit(&t->done, 1, memory_order_seq_cst);
  if (atomic_load_explicit(&t->inbox, memory_order_seq_cst)) rv_adopt(t);
  if (RV_UNLIKELY(t->heap->checked)) rv_check(t);
  pthread_mutex_unlock(&t->orphan_lock);
}

static int rv_alloc(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align) {
  if (RV_UNLIKELY(kind != HL_KIND_MALLOC && kind != HL_KIND_CALLOC)) {
    if ((unsigned)kind >= HL_KIND_COUNT) return EINVAL;
    if (hl_alloc_kind_has_align(kind) && (align == 0 || (align & (align - 1)))) return EINVAL;
    /* a raviolo object is no flat memory: the only alignment it can claim
       is that of its root cell */
    if (hl_alloc_kind_alignment(kind, size, align) > RV_CELL) return ENOTSUP;
  }
  if (RV_UNLIKELY(size >= RV_MAX_SIZE)) return ENOMEM;
  rv_thread_t *t = rv_enter(ctx, NULL, NULL);
  if (RV_LIKELY(size <= RV_LEAF_BYTES)) {
    if (RV_UNLIKELY(t->topi == t->cpp)) { /* needs a page: fail cleanly if none */
      char *p = rv_page_try(t);
      if (p == NULL) {
        rv_leave(ctx, t);
        return ENOMEM;
      }
      rv_top_push_page(t, p);
    }
    rv_cell_t *c = rv_cell_new(t);
    t->cells_allocated++;
    c->w[0] = RV_K_LEAF | RV_ROOT | ((uintptr_t)size << RV_SIZE_SHIFT);
    c->w[1] = (uintptr_t)slot | RV_EXT;
    if (kind == HL_KIND_CALLOC) memset(&c->w[2], 0, RV_LEAF_BYTES);
    *slot = c;
  } else {
    *slot = rv_object_new(t, (uintptr_t)slot | RV_EXT, size, kind == HL_KIND_CALLOC);
  }
  t->bytes_live += (int64_t)size;
  rv_leave(ctx, t);
  return 0;
}

/* Free object c, held by *slot, of o's heap (o entered). */
RV_SHARED void rv_object_free(rv_thread_t *o, void **slot, rv_cell_t *c) {
  o->bytes_live -= (int64_t)rv_size(c->w[0]);
  const uintptr_t plain = RV_KIND_MASK | RV_ROOT | ((uintptr_t)RV_ALL_SLOTS << RV_MASK_SHIFT);
  if (RV_LIKELY((c->w[0] & plain) == (RV_K_LEAF | RV_ROOT) &&
                c->w[1] == ((uintptr_t)slot | RV_EXT))) {
    *slot = NULL;
    rv_cell_free(o, c);
  } else {
    rv_holes_t hs = {0};
    if (c->w[1] == ((uintptr_t)slot | RV_EXT))
      *slot = NULL; /* no field refers to it */
    else
      rv_drop_referrers(o, c, &hs); /* sets *slot = NULL too */
    rv_tree_release(o, c, &hs);
    rv_holes_compact(o, &hs);
  }
}

RV_SHARED void rv_free(hl_ctx_t *ctx, void **slot, size_t size) {
  (void)size;
  if (*slot == NULL) return;
  rv_cell_t *c = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &c);
  rv_object_free(o, slot, c);
  rv_leave(ctx, o);
}

static void rv_bounds(const rv_cell_t *root, size_t offset, size_t len, const char *what) {
  uint64_t size = rv_size(root->w[0]);
  if (offset > size || len > size - offset)
    rv_die("%s of [%zu, +%zu) outside an object of %llu bytes", what, offset, len,
           (unsigned long long)size);
}

/* Locality of one access: the 64-byte lines and 4 KiB pages it touches, counted
   as entries into a new line or page while walking its cells in order (the
   root's type word, then the bytes of each leaf; interior nodes on the path
   are not counted). For a run of contiguous cells that is exact. */
typedef struct rv_span_s {
  uintptr_t line, page;
  uint64_t lines, pages;
} rv_span_t;

static inline void rv_span_add(rv_span_t *sp, const void *p, size_t n) {
  uintptr_t a = (uintptr_t)p, l0 = a >> 6, l1 = (a + n - 1) >> 6, p0 = a >> 12,
            p1 = (a + n - 1) >> 12;
  sp->lines += l1 - l0 + (l0 != sp->line);
  sp->pages += p1 - p0 + (p0 != sp->page);
  sp->line = l1, sp->page = p1;
}

static inline void rv_span_start(rv_span_t *sp, const rv_cell_t *root) {
  sp->line = sp->page = 0, sp->lines = sp->pages = 0;
  sp->line--, sp->page--;
  rv_span_add(sp, root, sizeof root->w[0]);
}

static inline void rv_span_end(rv_thread_t *t, const rv_span_t *sp) {
  t->accesses++;
  t->access_lines += sp->lines;
  t->access_pages += sp->pages;
}

static void rv_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len) {
  rv_cell_t *root = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &root);
  rv_bounds(root, offset, len, "read");
  rv_span_t sp;
  rv_span_start(&sp, root);
  if (RV_LIKELY(rv_depth(root->w[0]) == 0)) {
    memcpy(dst, (char *)&root->w[2] + offset, len);
    if (len) rv_span_add(&sp, (char *)&root->w[2] + offset, len);
  } else if (len) {
    rv_iter_t it;
    size_t off = offset % RV_LEAF_BYTES;
    char *d = dst;
    for (rv_cell_t *leaf = rv_iter_init(&it, root, offset / RV_LEAF_BYTES);;
         leaf = rv_iter_next(&it)) {
      size_t n = RV_LEAF_BYTES - off < len ? RV_LEAF_BYTES - off : len;
      memcpy(d, (char *)&leaf->w[2] + off, n);
      rv_span_add(&sp, (char *)&leaf->w[2] + off, n);
      d += n, len -= n, off = 0;
      if (len == 0) break;
    }
  }
  rv_span_end(o, &sp);
  rv_leave(ctx, o);
}

/* Bytes written over a link field replace the link: it is dropped first. */
static inline void rv_write_leaf(rv_thread_t *t, rv_cell_t *leaf, size_t off, const char *s,
                                 size_t n, rv_holes_t *hs) {
  unsigned m = rv_pmask(leaf->w[0]);
  if (RV_UNLIKELY(m != 0))
    for (size_t j = off / 8; j <= (off + n - 1) / 8; j++)
      if (m >> j & 1) rv_unref(t, (uintptr_t)&leaf->w[2 + j], hs);
  memcpy((char *)&leaf->w[2] + off, s, n);
}

static void rv_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len) {
  rv_cell_t *root = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &root);
  rv_bounds(root, offset, len, "write");
  rv_holes_t hs = {0};
  rv_span_t sp;
  rv_span_start(&sp, root);
  if (len == 0) {
  } else if (RV_LIKELY(rv_depth(root->w[0]) == 0)) {
    rv_write_leaf(o, root, offset, src, len, &hs);
    rv_span_add(&sp, (char *)&root->w[2] + offset, len);
  } else {
    rv_iter_t it;
    size_t off = offset % RV_LEAF_BYTES;
    const char *s = src;
    for (rv_cell_t *leaf = rv_iter_init(&it, root, offset / RV_LEAF_BYTES);;
         leaf = rv_iter_next(&it)) {
      size_t n = RV_LEAF_BYTES - off < len ? RV_LEAF_BYTES - off : len;
      rv_write_leaf(o, leaf, off, s, n, &hs);
      rv_span_add(&sp, (char *)&leaf->w[2] + off, n);
      s += n, len -= n, off = 0;
      if (len == 0) break;
    }
  }
  rv_span_end(o, &sp);
  rv_holes_compact(o, &hs);
  rv_leave(ctx, o);
}

static int rv_realloc(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size) {
  (void)old_size;
  if (*slot == NULL) return rv_alloc(ctx, slot, new_size, HL_KIND_MALLOC, 0);
  if (new_size >= RV_MAX_SIZE) return ENOMEM;
  rv_cell_t *T = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &T);
  uint64_t old = rv_size(T->w[0]), lo = rv_leaves(old), ln = rv_leaves(new_size);
  o->bytes_live += (int64_t)new_size - (int64_t)old;
  rv_holes_t hs = {0};
  if (lo == ln) { /* same tree: only the size changes */
    T->w[0] =
        (T->w[0] & (((uintptr_t)1 << RV_SIZE_SHIFT) - 1)) | ((uintptr_t)new_size << RV_SIZE_SHIFT);
    if (new_size < old) { /* links beyond the new end die */
      rv_iter_t it;
      rv_cell_t *leaf = rv_iter_init(&it, T, lo - 1);
      for (unsigned m = rv_pmask(leaf->w[0]), j = 0; m; j++, m >>= 1)
        if ((m & 1) && (lo - 1) * RV_LEAF_BYTES + j * 8 + 8 > new_size)
          rv_unref(o, (uintptr_t)&leaf->w[2 + j], &hs);
    }
  } else { /* a new tree, the contents and links carried over, the old freed */
    uintptr_t tmp = 0;
    rv_cell_t *N = rv_object_new(o, (uintptr_t)&tmp | RV_EXT, new_size, false);
    rv_iter_t a, b;
    rv_cell_t *x = rv_iter_init(&a, T, 0), *y = rv_iter_init(&b, N, 0);
    for (uint64_t i = 0; i < (lo < ln ? lo : ln); i++) {
      for (unsigned j = 0; j < RV_SLOTS; j++) y->w[2 + j] = x->w[2 + j];
      for (unsigned m = rv_pmask(x->w[0]), j = 0; m; j++, m >>= 1) {
        if (!(m & 1)) continue;
        if (i * RV_LEAF_BYTES + j * 8 + 8 > new_size) {
          y->w[2 + j] = 0;
          rv_unref(o, (uintptr_t)&x->w[2 + j], &hs);
          continue;
        }
        rv_rebind((rv_cell_t *)x->w[2 + j], (uintptr_t)&x->w[2 + j], (uintptr_t)&y->w[2 + j]);
        y->w[0] |= (uintptr_t)1 << (RV_MASK_SHIFT + j);
        x->w[0] &= ~((uintptr_t)1 << (RV_MASK_SHIFT + j));
        o->fixups++;
      }
      x = rv_iter_next(&a), y = rv_iter_next(&b);
    }
    uintptr_t p = T->w[1]; /* the referrers (slot, reverse ravioli) now reach N */
    rv_set_cell(p, (uintptr_t)N);
    N->w[1] = p;
    rv_tree_release(o, T, &hs);
  }
  rv_holes_compact(o, &hs);
  rv_leave(ctx, o);
  return 0;
}

static void rv_link(hl_ctx_t *ctx, void **slot, size_t field, void **target) {
  rv_cell_t *T = NULL;
  rv_thread_t *o = rv_enter(ctx, slot, &T);
  uint64_t size = rv_size(T->w[0]);
  if (field % sizeof(uintptr_t) || field + sizeof(uintptr_t) > size)
    rv_die("link field at byte %zu of a %llu-byte object: fields must be 8-byte aligned words "
           "inside the object",
           field, (unsigned long long)size);
  rv_iter_t it;
  rv_cell_t *leaf = rv_iter_init(&it, T, field / RV_LEAF_BYTES);
  unsigned j = (unsigned)(field % RV_LEAF_BYTES / sizeof(uintptr_t));
  if (rv_pmask(leaf->w[0]) >> j & 1) { /* the old link goes first (it may move cells) */
    rv_holes_t hs = {0};
    rv_unref(o, (uintptr_t)&leaf->w[2 + j], &hs);
    rv_holes_compact(o, &hs);
    T = rv_resolve((uintptr_t)*slot);
    leaf = rv_iter_init(&it, T, field / RV_LEAF_BYTES);
  }
  rv_cell_t *X = target && *target ? rv_resolve((uintptr_t)*target) : NULL;
  if (X == NULL) {
    leaf->w[2 + j] = 0;
  } else {
    if (rv_owner(o, X) != o)
      rv_die("link from thread %u's object to thread %u's: a heap may not point into another",
             o->id, rv_owner(o, X)->id);
    rv_ref(o, leaf, j, X);
  }
  rv_leave(ctx, o);
}

static void rv_stats(const hl_heap_t *heap, hl_alloc_stats_t *out) {
  rv_heap_t *h = heap->state;
  memset(out, 0, sizeof *out);
  int64_t live = 0, pool = 0;
  pthread_mutex_lock(&h->threads_lock);
  for (rv_thread_t *t = h->threads; t; t = t->next) {
    live += t->bytes_live;
    pool += t->pool_net;
    out->objects_live += t->ncells;
    out->pages += t->npages + t->nspare;
    out->pages_returned += t->pages_returned;
    out->moves += t->moves;
    out->fixups += t->fixups;
    out->transfers += t->transfers;
    out->transfer_bytes += t->transfer_bytes;
    out->messages += t->messages;
    out->free_requests += t->free_requests;
    out->transfer_pages += t->transfer_pages;
    out->pages_handed += t->pages_handed;
    out->cells_allocated += t->cells_allocated;
    out->accesses += t->accesses;
    out->access_lines += t->access_lines;
    out->access_pages += t->access_pages;
  }
  pthread_mutex_unlock(&h->threads_lock);
  out->pool_pages = pool > 0 ? (uint64_t)pool : 0;
  out->bytes_live = live > 0 ? (uint64_t)live : 0;
  out->bytes_mapped = atomic_load(&h->mapped);
  out->valid = HL_STAT_BYTES_LIVE | HL_STAT_BYTES_MAPPED | HL_STAT_PAGES | HL_STAT_MOVES |
               HL_STAT_TRANSFERS | HL_STAT_OBJECTS_LIVE | HL_STAT_POOL_PAGES |
               HL_STAT_PAGES_RETURNED | HL_STAT_FIXUPS | HL_STAT_TRANSFER_BYTES |
               HL_STAT_ACCESS_LOCALITY | HL_STAT_MESSAGES | HL_STAT_FREE_REQUESTS |
               HL_STAT_TRANSFER_PAGES | HL_STAT_PAGES_HANDED | HL_STAT_CELLS_ALLOCATED;
}

static int rv_identify(char *buf, size_t len) {
  snprintf(buf, len, "heaplab ravioli (alloc/ravioli, built in, %zu-byte ravioli)",
           (size_t)RV_CELL);
  return 0;
}

const hl_allocator_t hl_alloc_ravioli = {
    .name = RV_ALLOC_NAME,
    .summary = "ravioli (" RV_CELL_BYTES "-byte ravioli): compact per-thread heaps of fixed-size "
               "ravioli with back-references, trees for large objects, page pool, message "
               "passing by transfer pages",
    .flags = HL_ALLOC_MOVES | HL_ALLOC_OWNED | HL_ALLOC_PAGE_SIZE,
    .options = &rv_options,
    .heap_init = rv_heap_init,
    .heap_done = rv_heap_done,
    .thread_init = rv_thread_init,
    .thread_done = rv_thread_done,
    .alloc = rv_alloc,
    .free = rv_free,
    .realloc = rv_realloc,
    .read = rv_read,
    .write = rv_write,
    .link = rv_link,
    .send = rv_send,
    .send_set = rv_send_set,
    .free_post = rv_free_post,
    .stats = rv_stats,
    .identify = rv_identify,
};
