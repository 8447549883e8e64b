/* ----------------------------------------------------------------------------
  alloc/stable/stable.h: the local stable heap (seed 002), its public API.

  One local heap per thread. Objects are either *raw* (freed explicitly, never
  traced, never moved) or *typed* (their pointer fields are declared by a
  type: a bitmap of pointer-sized words; they are reclaimed by tracing from
  roots). A root is a `void *` cell the caller owns (a reference slot): the
  heap records it in the object's header and rewrites it when the object
  moves. Typed objects are born in the young (minor) heap, age through
  cohorts at each minor collection, and when they survive `cohorts` minor
  collections unpinned they are copied into the major (stable) heap, which
  never moves anything. A minor collection does not scan the major heap: a
  write barrier on pointer stores (`stable_store`) dirties the card of an
  old-to-young store and the collector scans only dirty cards.

  Everything here is for the heap's owner thread unless a function says
  otherwise; alloc/stable/stable_alloc.c is the alloc.h face that also lets
  other threads free, read, write and link objects (README.md).
---------------------------------------------------------------------------- */
#ifndef HL_STABLE_H
#define HL_STABLE_H

#include "alloc/alloc.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* STABLE_DEBUG=1 makes every heap checked: stable_heap_is_valid (the full
   walk) runs after every alloc.h operation. Cheap checks always assert. */
#ifndef STABLE_DEBUG
#define STABLE_DEBUG 0
#endif

#define STABLE_MAX_SMALL  8192 /* largest size-class object; above: own mapping */
#define STABLE_MAX_COHORT 15   /* cohorts fit in 4 header bits */

typedef struct stable_config_s {
  unsigned cohorts;    /* minor collections survived before promotion (1..15, default 7) */
  size_t card;         /* card size in bytes (power of two, 128..65536, default 1024) */
  size_t minor_bytes;  /* allocation volume between minor collections (default 1 MiB) */
  size_t major_bytes;  /* allocation volume between major collections (default 16 MiB) */
  size_t pin_min;      /* typed objects of at least this size are pinned (0: none) */
  bool pin_all;        /* every object is pinned (never moves) */
  bool raw;            /* every object is raw: no tracing, no moves */
  bool checked;        /* full stable_heap_is_valid after every operation */
  uint32_t collect_at; /* 0 = collect by volume; else only when asked (tests) */
} stable_config_t;

/* The options' table (alloc/options.h): cohorts, card, minor, major, pin,
   raw, checked, manual. */
extern const struct hl_opt_table_s stable_options;
/* Defaults, then "key=value,..." options by that table. Returns 0 or EINVAL
   with a message ("stable: ...") in `why`. */
int stable_config_parse(stable_config_t *out, const char *options, char *why, size_t why_len);

typedef struct stable_heap_s stable_heap_t;

/* A standalone local heap (tests, the public API). `heap_id_owner` may be
   NULL. The alloc.h face makes one per context (ctx->local). */
stable_heap_t *stable_heap_new(const stable_config_t *config);
void stable_heap_delete(stable_heap_t *h);

/* ---- types ---- */
typedef struct stable_type_s stable_type_t;
/* A type descriptor: objects of `size` bytes whose pointer fields sit at the
   `n` byte offsets given (each a multiple of 8, below size). NULL on bad
   input. Types are immutable and may be shared by heaps. */
stable_type_t *stable_type_new(size_t size, size_t n, const size_t *offsets);
void stable_type_delete(stable_type_t *t);

/* ---- allocation ---- */
enum { STABLE_PIN = 1u << 0 };

/* A typed object of type `t`, zeroed, whose root is *root (the heap stores
   the address there and updates it when the object moves). 0 or ENOMEM. */
int stable_alloc_typed(stable_heap_t *h, void **root, const stable_type_t *t, unsigned flags);
/* Raw memory: never moves, never traced; free with stable_free_raw. */
void *stable_alloc_raw(stable_heap_t *h, size_t size, unsigned flags);
void stable_free_raw(stable_heap_t *h, void *p);
/* Drop the root of a typed object (*root = NULL): the object is reclaimed by
   the next collection that finds it unreachable. */
void stable_root_drop(stable_heap_t *h, void **root);
/* The write barrier: store `target` (an object of this heap, or NULL) into
   the declared pointer field at byte `field` of `obj`. EINVAL when the field
   is not a declared pointer field. */
int stable_store(stable_heap_t *h, void *obj, size_t field, void *target);

/* ---- collections ---- */
void stable_collect_minor(stable_heap_t *h);
void stable_collect_major(stable_heap_t *h);

/* ---- inspection ---- */
typedef struct stable_stats_s {
  uint64_t minor, major;      /* collections run */
  uint64_t promoted;          /* objects copied young -> major heap */
  uint64_t promoted_in_place; /* large objects promoted by relinking (no copy) */
  uint64_t bytes_moved;       /* payload bytes copied by promotions */
  uint64_t cards_dirtied;     /* clean cards made dirty (barrier and re-dirtying) */
  uint64_t cards_scanned;     /* dirty cards scanned by minor collections */
  uint64_t bytes_pinned;      /* payload bytes of live pinned objects, now */
  uint64_t objects_pinned;    /* live pinned objects, now */
  uint64_t allocs;            /* objects allocated (each starts raw) */
  uint64_t raw_frees;         /* raw objects freed explicitly */
  uint64_t typed;             /* objects that became typed (traced) */
  uint64_t roots_dropped;     /* frees of typed objects (root dropped, not freed) */
  uint64_t reclaimed;         /* typed objects reclaimed by collections */
  uint64_t reclaimed_bytes;   /* their payload bytes */
  uint64_t remote_frees;      /* raw frees by other threads, via the remote queue */
  uint64_t escaped;           /* objects pinned because they were sent or linked across heaps */
  uint64_t typed_live,
      typed_live_bytes;  /* typed objects held now (reachable or not yet collected) */
  uint64_t bytes_mapped; /* pages and large mappings held */
} stable_stats_t;

void stable_heap_stats(stable_heap_t *h, stable_stats_t *out);
/* Sum over every local heap of an alloc.h heap made by allocator `stable`. */
void stable_stats(const hl_heap_t *heap, stable_stats_t *out);
/* Print the stats as "key value" lines (tests and tools). */
void stable_stats_print(const stable_stats_t *s, void *file);

/* Invariants (full walk): page and large-object lists consistent, every
   allocated header sane, roots point back at their objects, every declared
   pointer field holds NULL, a live object of some heap or a foreign
   pointer, and every old-to-young pointer lies in a dirty card. */
bool stable_heap_is_valid(stable_heap_t *h);

/* Is `p` the payload of a live (allocated, not reclaimed) object of h? */
bool stable_is_live(stable_heap_t *h, const void *p);
bool stable_is_old(const void *p);
/* Call fn on every live typed object (its payload) of h. */
void stable_heap_walk(stable_heap_t *h, void (*fn)(void *obj, void *arg), void *arg);

/* Debug hook: when set, the write barrier stores the pointer but marks no
   card, so a minor collection can miss an old-to-young pointer (tests prove
   the barrier matters with it). */
void stable_debug_skip_barrier(stable_heap_t *h, bool skip);

#endif
