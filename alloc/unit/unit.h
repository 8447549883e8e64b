/* ----------------------------------------------------------------------------
  alloc/unit/unit.h: ServerKit-style unit heaps (seed 003), the public API.

  A unit heap hands out fixed-size units with a built-in reference count.
  It grows by malloc'ing blocks of `units_per_growth` units (or exponentially
  more), never searches (allocation pops a free list), keeps memory after a
  unit is freed, and gives wholly free blocks back only when asked
  (`hl_unit_heap_shrink`). A unit starts with count 1 (`hl_unit_alloc`);
  `hl_unit_retain` and `hl_unit_release` adjust it and the unit returns to its
  heap when the count reaches zero: there is no free call.

  Each unit carries a 16-byte header beside it (just before the payload): the
  count (an atomic word, no per-unit lock: see README.md), a magic word that
  identifies units and catches foreign pointers, and its growth block.

  A heap is either thread-safe (one mutex per heap: a heap per allocation
  domain, never a global lock) or owned by one thread; an owned heap still
  accepts frees from other threads through `hl_unit_release_remote`, which
  pushes the unit on a lock-free list the owner collects when it next needs
  a unit. `hl_unit_queue_*` is a lock-free MPSC queue that carries its own
  thread-safe heap, so producers allocate entries for a consumer without any
  global lock.

  Nothing aborts on misuse: failures return NULL or a negative status with
  the reason (`hl_unit_status_name`).
---------------------------------------------------------------------------- */
#ifndef HL_UNIT_H
#define HL_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Define HL_UNIT_DEBUG=1 to make every heap checked (HL_UNIT_CHECKED), =2 to
   also run the full hl_unit_heap_is_valid after every operation. */
#ifndef HL_UNIT_DEBUG
#define HL_UNIT_DEBUG 0
#endif

typedef enum hl_unit_option_e {
  HL_UNIT_GROW_EXPONENTIAL = 1u << 0, /* each growth block twice the last (capped at 1 MiB) */
  HL_UNIT_GROW_UNLIMITED = 1u << 1,   /* ignore maximum_units */
  HL_UNIT_THREAD_SAFE = 1u << 2,      /* alloc/release from any thread (a mutex per heap) */
  HL_UNIT_CHECKED = 1u << 3,          /* poison freed units, check them on reuse, full
                                         validity check after every operation (slow) */
} hl_unit_option_t;

/* Results of the operations: >= 0 success, < 0 failure with its reason. */
typedef enum hl_unit_status_e {
  HL_UNIT_OK = 0,
  HL_UNIT_RECLAIMED = 1,    /* release: the count reached zero, the unit is free */
  HL_UNIT_E_FULL = -1,      /* alloc: maximum_units reached */
  HL_UNIT_E_NOMEM = -2,     /* alloc: malloc of a growth block failed */
  HL_UNIT_E_UNDERFLOW = -3, /* release below zero: the unit is already free */
  HL_UNIT_E_FREED = -4,     /* retain of a free unit (use after free) */
  HL_UNIT_E_INVALID = -5,   /* not a unit (bad magic): foreign or corrupt pointer */
  HL_UNIT_E_CORRUPT = -6,   /* checked heaps: a free unit was written (use after free) */
  HL_UNIT_E_ARGUMENT = -7,  /* heap_new: bad parameters */
} hl_unit_status_t;

const char *hl_unit_status_name(hl_unit_status_t status);

typedef struct hl_unit_heap_s hl_unit_heap_t;

/* A heap of `unit_size`-byte units (rounded up to 16; payloads are 16-byte
   aligned), growing by `units_per_growth` units at a time up to
   `maximum_units` (ignored with HL_UNIT_GROW_UNLIMITED). `label` is copied
   (first 31 bytes) and appears in messages. NULL with *why set on failure
   (why may be NULL). */
hl_unit_heap_t *hl_unit_heap_new(const char *label, size_t unit_size, size_t units_per_growth,
                                 size_t maximum_units, unsigned options, hl_unit_status_t *why);
/* Frees every block, live units included. */
void hl_unit_heap_delete(hl_unit_heap_t *heap);

/* A unit with count 1, or NULL with *why (may be NULL) = E_FULL/E_NOMEM/E_CORRUPT. */
void *hl_unit_alloc(hl_unit_heap_t *heap, hl_unit_status_t *why);
/* count + 1: OK, or E_FREED (count was 0) / E_INVALID; the unit is unchanged then. */
hl_unit_status_t hl_unit_retain(void *unit);
/* count - 1: OK, RECLAIMED (reached 0, unit freed), or E_UNDERFLOW / E_INVALID.
   On a heap that is not thread-safe, only its owner may call this. */
hl_unit_status_t hl_unit_release(void *unit);
/* As release, for a thread that does not own the unit's (not thread-safe)
   heap: at zero the unit goes on the heap's lock-free remote-free list. On a
   thread-safe heap it is hl_unit_release. */
hl_unit_status_t hl_unit_release_remote(void *unit);
/* The current count (0 for a free unit). */
uint32_t hl_unit_refs(const void *unit);
/* The heap a unit belongs to (NULL when not a unit). */
hl_unit_heap_t *hl_unit_heap_of(const void *unit);

/* Give wholly free growth blocks back to malloc; returns how many. */
size_t hl_unit_heap_shrink(hl_unit_heap_t *heap);

/* An opaque tag naming the heap's owner (the alloc.h face stores its
   per-thread context); NULL by default. */
void hl_unit_heap_set_owner(hl_unit_heap_t *heap, void *owner);
void *hl_unit_heap_owner(const hl_unit_heap_t *heap);

typedef struct hl_unit_heap_stats_s {
  size_t unit_size;      /* payload bytes per unit */
  size_t blocks;         /* growth blocks held */
  size_t units_total;    /* units in those blocks */
  size_t units_live;     /* allocated, or freed remotely and not yet collected */
  size_t units_free;     /* on the free list */
  size_t bytes_mapped;   /* bytes malloc'ed for the blocks */
  uint64_t grow_count;   /* growth events so far */
  uint64_t remote_frees; /* units collected from the remote-free list */
} hl_unit_heap_stats_t;

/* Owner only (or any thread for a thread-safe heap). */
void hl_unit_heap_stats(hl_unit_heap_t *heap, hl_unit_heap_stats_t *out);
const char *hl_unit_heap_label(const hl_unit_heap_t *heap);

/* Invariants: the free list holds only free units of this heap's blocks, no
   cycles, and per block free + live == units; the totals match. O(units).
   Owner only (takes the lock on a thread-safe heap). */
bool hl_unit_heap_is_valid(hl_unit_heap_t *heap);

/* ---- queue: unit_queue.c ---- */

/* A lock-free multi-producer single-consumer queue whose entries come from
   its own thread-safe unit heap. Entries are `entry_size` bytes, 16-byte
   aligned, reference counted like units. */
typedef struct hl_unit_queue_s hl_unit_queue_t;

hl_unit_queue_t *hl_unit_queue_new(const char *label, size_t entry_size, size_t entries_per_growth,
                                   size_t maximum_entries, unsigned options, hl_unit_status_t *why);
/* Where a queue's nodes come from: `alloc` returns a 16-byte aligned node of
   `node_size` bytes (16 bytes of link + the entry) or NULL with *why (may be
   NULL); `release` takes it back when the consumer is done. Any thread may
   call alloc; release is called by whoever finishes with the entry. */
typedef struct hl_unit_queue_source_s {
  const char *name;
  void *(*alloc)(void *arg, size_t node_size, hl_unit_status_t *why);
  void (*release)(void *arg, void *node);
  void *arg;
} hl_unit_queue_source_t;

/* The same queue with nodes from `src` instead of an own unit heap (used to
   compare entry sources with identical queue code). hl_unit_queue_heap is
   NULL for it, and entries are given back with hl_unit_queue_done only (no
   reference counts). */
hl_unit_queue_t *hl_unit_queue_new_with(size_t entry_size, const hl_unit_queue_source_t *src,
                                        hl_unit_status_t *why);
/* Give a popped entry back to the queue's source (for the own heap: one
   release, as hl_unit_queue_release). */
void hl_unit_queue_done(hl_unit_queue_t *q, void *entry);
/* The queue must be empty of entries the caller still needs; frees its heap. */
void hl_unit_queue_delete(hl_unit_queue_t *q);
/* A fresh entry (count 1) from the queue's heap, any thread; NULL + *why when full. */
void *hl_unit_queue_entry(hl_unit_queue_t *q, hl_unit_status_t *why);
/* Append an entry (any thread); the queue takes over the caller's reference. */
void hl_unit_queue_push(hl_unit_queue_t *q, void *entry);
/* The oldest entry or NULL when (momentarily) empty; the single consumer only.
   The caller receives the reference and releases it when done. */
void *hl_unit_queue_pop(hl_unit_queue_t *q);
hl_unit_status_t hl_unit_queue_retain(void *entry);
hl_unit_status_t hl_unit_queue_release(void *entry);
hl_unit_heap_t *hl_unit_queue_heap(hl_unit_queue_t *q);
/* The consumer's view: the chain from head ends, every node but the stub is a
   live entry of the queue's heap, and no more nodes than live entries. The
   consumer only, while producers may push. */
bool hl_unit_queue_is_valid(hl_unit_queue_t *q);

#endif
