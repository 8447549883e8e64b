/* ----------------------------------------------------------------------------
  alloc/alloc.h: the one interface every heaplab allocator sits behind.

  Objects may move (ravioli, unpinned stable objects), so callers never hold
  raw object pointers across calls. They hold *reference slots*: a `void *`
  cell the caller owns. `alloc` stores the object's address in the slot and a
  moving allocator registers the slot as the object's parent, so a move
  rewrites it. For a flat allocator the slot is simply the pointer.

  Every call takes an explicit per-thread context (`hl_ctx_t`). An allocator's
  core never reads thread-local storage or sched_getcpu(): the context says
  which logical thread and core is calling. That lets the simulator run many
  logical threads deterministically on one OS thread, and the native harness
  run one real thread each.

  Object contents are reached only through `read`/`write` (a flat allocator
  copies memory directly; ravioli walk their tree), pointer stores through
  `link` (card marking, back-references), and hand-over to another thread
  through `send` (a transfer page for ravioli, nothing for flat allocators).

  Options: an allocator's "key=value,..." string is read by one parser
  (alloc/options.h) from the table the allocator names in `options`. A
  heap_init that refuses its configuration says why in hl_heap_t.why, and
  hl_alloc_options_check gives the same answer without creating a heap, so
  the harness refuses bad options before it runs anything.
---------------------------------------------------------------------------- */
#ifndef HL_ALLOC_H
#define HL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The malloc-API call an allocation came from. Traces record it, allocators
   honour its semantics (calloc zeroes, the aligned kinds align). */
typedef enum hl_alloc_kind_e {
  HL_KIND_MALLOC = 0,
  HL_KIND_CALLOC,
  HL_KIND_MEMALIGN,       /* memalign(align, size) */
  HL_KIND_POSIX_MEMALIGN, /* posix_memalign(&p, align, size) */
  HL_KIND_ALIGNED_ALLOC,  /* aligned_alloc(align, size) */
  HL_KIND_VALLOC,         /* valloc(size): page aligned */
  HL_KIND_PVALLOC,        /* pvalloc(size): page aligned, size rounded to pages */
  HL_KIND_COUNT
} hl_alloc_kind_t;

/* Name of a kind: the C function it calls, also its name in text traces. */
const char *hl_alloc_kind_name(hl_alloc_kind_t kind);
/* Inverse of hl_alloc_kind_name; returns HL_KIND_COUNT when unknown. */
hl_alloc_kind_t hl_alloc_kind_parse(const char *name);
/* Does this kind carry an explicit alignment argument? */
bool hl_alloc_kind_has_align(hl_alloc_kind_t kind);

/* Tunables common to all allocators, fixed when a heap is created. */
typedef struct hl_heap_config_s {
  size_t page_size;    /* allocator page size in bytes (ravioli: 1 KiB..2 MiB); 0 = default */
  uint32_t threads;    /* logical threads that will call this heap */
  const char *options; /* allocator-specific "key=value,key=value", or NULL (options.h) */
} hl_heap_config_t;

/* Room for a refusal's reason in hl_heap_t.why. */
#define HL_HEAP_WHY_LEN 256

struct hl_allocator_s;
struct hl_opt_table_s; /* alloc/options.h */

/* One allocator instance shared by all logical threads. */
typedef struct hl_heap_s {
  const struct hl_allocator_s *allocator;
  hl_heap_config_t config;
  void *state; /* the allocator's global state, owned by it */
  /* Why heap_init failed, when it did: "NAME: ..." naming the option or the
     setting it refused (e.g. "ravioli: option 'keep': expected an integer
     0..65536, got '70000'"); "" when it has nothing to add to its errno. */
  char why[HL_HEAP_WHY_LEN];
} hl_heap_t;

/* The per-thread context passed to every call. */
typedef struct hl_ctx_s {
  hl_heap_t *heap;
  uint32_t thread; /* logical thread id (the trace's thread) */
  uint32_t core;   /* logical core it runs on (simulated core; natively = thread) */
  void *local;     /* the allocator's per-thread state, set by thread_init */
} hl_ctx_t;

/* What an allocator can report about itself. A field is meaningful only when
   its bit is set in `valid`; unset fields are printed as NA with `na_reason`. */
typedef enum hl_stat_bit_e {
  HL_STAT_BYTES_LIVE = 1u << 0,
  HL_STAT_BYTES_MAPPED = 1u << 1,
  HL_STAT_PAGES = 1u << 2,
  HL_STAT_MOVES = 1u << 3,
  HL_STAT_TRANSFERS = 1u << 4,
  HL_STAT_OBJECTS_LIVE = 1u << 5,
  HL_STAT_POOL_PAGES = 1u << 6,
  HL_STAT_PAGES_RETURNED = 1u << 7,
  HL_STAT_FIXUPS = 1u << 8,
  HL_STAT_TRANSFER_BYTES = 1u << 9,
  HL_STAT_MESSAGES = 1u << 10,
  HL_STAT_FREE_REQUESTS = 1u << 11,
  HL_STAT_TRANSFER_PAGES = 1u << 12,
  HL_STAT_PAGES_HANDED = 1u << 13,
  HL_STAT_CELLS_ALLOCATED = 1u << 14,
  HL_STAT_ACCESS_LOCALITY = 1u << 15, /* accesses, access_lines and access_pages */
} hl_stat_bit_t;

typedef struct hl_alloc_stats_s {
  uint64_t bytes_live;      /* bytes the application asked for and still holds */
  uint64_t bytes_mapped;    /* bytes the allocator holds from the OS */
  uint64_t pages;           /* allocator pages in use (its own page size) */
  uint64_t moves;           /* objects moved (compaction, promotion) */
  uint64_t transfers;       /* objects or pages handed between threads */
  uint64_t objects_live;    /* allocator cells live (ravioli: live ravioli, reverse ones too) */
  uint64_t pool_pages;      /* empty pages in the shared pool */
  uint64_t pages_returned;  /* pages a thread gave back to the shared pool */
  uint64_t fixups;          /* pointers rewritten because something moved */
  uint64_t transfer_bytes;  /* bytes copied to hand objects between threads */
  uint64_t messages;        /* messages sent (a send of a set of objects is one) */
  uint64_t free_requests;   /* frees posted to the owning thread instead of done in place */
  uint64_t transfer_pages;  /* pages that carried messages between threads */
  uint64_t pages_handed;    /* of those, heap pages handed over in place (no copy) */
  uint64_t cells_allocated; /* allocator cells built for objects by alloc and realloc */
  uint64_t accesses;        /* object reads and writes (read, write) */
  uint64_t access_lines;    /* 64-byte lines those accesses touched, summed over accesses */
  uint64_t access_pages;    /* 4 KiB pages those accesses touched, summed over accesses */
  uint32_t valid;           /* HL_STAT_* bits of the fields above that were measured */
  const char *na_reason;    /* why the others were not, when valid is not all set */
} hl_alloc_stats_t;

/* Allocator properties the harness must know about. */
typedef enum hl_alloc_flag_e {
  HL_ALLOC_MOVES = 1u << 0,     /* objects may move: slots are rewritten */
  HL_ALLOC_PRELOAD = 1u << 1,   /* a malloc-API library that must be LD_PRELOADed */
  HL_ALLOC_NO_MEMORY = 1u << 2, /* does not really allocate (null): never verified */
  HL_ALLOC_OWNED = 1u << 3,     /* per-thread ownership: every op on an object must come from
                                   its owner's ctx; the harness makes hand-overs explicit sends */
  HL_ALLOC_PAGE_SIZE = 1u << 4, /* honours hl_heap_config_t.page_size (others refuse one) */
} hl_alloc_flag_t;

/* The operations. Every function returning int returns 0 on success or an
   errno value (ENOMEM, EINVAL); they never abort on ordinary failure.
   `size` arguments are the object's size as the trace knows it, so sized
   allocators (ravioli trees) need no header. */
typedef struct hl_allocator_s {
  const char *name;           /* registry name: "system", "jemalloc", "ravioli", ... */
  const char *summary;        /* one line for --list */
  uint32_t flags;             /* hl_alloc_flag_t bits */
  const char *preload_soname; /* HL_ALLOC_PRELOAD only: the library LD_PRELOAD loads */
  /* The keys heap_init accepts in config.options (alloc/options.h); NULL:
     none (a non-empty string is refused). */
  const struct hl_opt_table_s *options;

  /* 0, or an errno value (EINVAL: a refused option or page size) with the
     reason in heap->why; the caller zeroes the heap (why included) first. */
  int (*heap_init)(hl_heap_t *heap);
  void (*heap_done)(hl_heap_t *heap);
  int (*thread_init)(hl_ctx_t *ctx);
  void (*thread_done)(hl_ctx_t *ctx);

  /* alloc stores the object in *slot (NULL is allowed only for size 0);
     free releases it from any thread's context and sets *slot to NULL. */
  int (*alloc)(hl_ctx_t *ctx, void **slot, size_t size, hl_alloc_kind_t kind, size_t align);
  void (*free)(hl_ctx_t *ctx, void **slot, size_t size);
  int (*realloc)(hl_ctx_t *ctx, void **slot, size_t old_size, size_t new_size);

  /* Copy `len` bytes at `offset` of the object out to `dst` / in from `src`. */
  void (*read)(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len);
  void (*write)(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len);
  /* Store a reference to *target's object (NULL target: a null pointer) in the
     pointer-sized field at byte `field` of the object. */
  void (*link)(hl_ctx_t *ctx, void **slot, size_t field, void **target);
  /* Hand the object to thread `to`; afterwards `to` owns it. Called from the
     sender's thread; `to` may be running concurrently (an owned allocator
     queues the object for it). A context stays usable for send and free
     after its thread_done, until heap_done. */
  void (*send)(hl_ctx_t *from, hl_ctx_t *to, void **slot);
  /* Hand the objects of slots[0..n) to thread `to` as ONE message: links
     among them travel with them (ravioli: one transfer chain). NULL: the
     harness calls send once per object (flat allocators, where a send is
     nothing). */
  void (*send_set)(hl_ctx_t *from, hl_ctx_t *to, void **const *slots, size_t n);
  /* HL_ALLOC_OWNED only, optional: free an object that `owner` owns from
     another thread by posting a free request to the owner, who frees it at
     its next operation (or at its thread_done). The caller must not use the
     slot again; the owner sets it to NULL when it frees. NULL: the
     allocator has no such mechanism (hlreplay --remote-free request
     refuses it; the default, send, hands the object over with send and
     frees it in the freeing thread). */
  void (*free_post)(hl_ctx_t *from, hl_ctx_t *owner, void **slot, size_t size);

  void (*stats)(const hl_heap_t *heap, hl_alloc_stats_t *out);

  /* Proof of which code really serves this process's allocations, written to
     `buf` (library file and version). Returns 0 when it is the expected one,
     -1 when it is not (buf then says what is serving instead). */
  int (*identify)(char *buf, size_t len);
} hl_allocator_t;

/* ---- registry (alloc/registry.c) ---- */
size_t hl_alloc_count(void);
const hl_allocator_t *hl_alloc_at(size_t i);
const hl_allocator_t *hl_alloc_find(const char *name); /* NULL when unknown */
/* Would a's heap_init accept `options` (NULL or "" = none)? 0, or EINVAL with
   the reason, "NAME: ...", in why. Creates no heap. */
int hl_alloc_options_check(const hl_allocator_t *a, const char *options, char *why, size_t why_len);
/* a's options as text, one line per key (--options help); returns the
   length it needed, writes what fits, NUL-terminated. */
size_t hl_alloc_options_help(const hl_allocator_t *a, char *buf, size_t len);

/* Memory that stops holding live data inside an allocator that moves objects
   (a cell vacated by compaction, an emptied page given back): a simulated
   replay (hlreplay --sim) sets the hook so that the simulator counts a later
   miss that only moves such bytes as allocator reuse, not true sharing
   (sim/README.md, "Miss classes"). For allocators whose slots hold the
   object's address the replay reports the freed bytes itself. NULL (nothing
   to do) everywhere else. */
extern void (*hl_alloc_dead_hook)(const void *p, size_t len);
static inline void hl_alloc_dead(const void *p, size_t len) {
  if (hl_alloc_dead_hook != NULL) hl_alloc_dead_hook(p, len);
}

/* ---- helpers for flat (non-moving, address-is-identity) allocators: alloc/flat.c ---- */
void hl_flat_read(hl_ctx_t *ctx, void *const *slot, size_t offset, void *dst, size_t len);
void hl_flat_write(hl_ctx_t *ctx, void *const *slot, size_t offset, const void *src, size_t len);
void hl_flat_link(hl_ctx_t *ctx, void **slot, size_t field, void **target);
void hl_flat_send(hl_ctx_t *from, hl_ctx_t *to, void **slot);
int hl_flat_thread_init(hl_ctx_t *ctx);
void hl_flat_thread_done(hl_ctx_t *ctx);
/* The alignment a malloc-API call of this kind guarantees for a `size`-byte
   request: the page size (valloc, pvalloc), `align` (the aligned kinds), or
   else the fundamental alignment an object of that size can need, i.e.
   min(alignof(max_align_t), largest power of two <= size): jemalloc and
   mimalloc rightly return 8-byte blocks for 8-byte requests. */
size_t hl_alloc_kind_alignment(hl_alloc_kind_t kind, size_t size, size_t align);
/* What an allocator with 16-byte granules must serve for a request of this
   kind: *alignment (16, the page for valloc/pvalloc, or `align` when larger)
   and *size (pvalloc rounds it up to whole pages; a 0-byte pvalloc is one
   page). Returns 0, or EINVAL for an unknown kind or an alignment that is not
   a power of two. */
int hl_alloc_kind_request(hl_alloc_kind_t kind, size_t align, size_t page, size_t *size,
                          size_t *alignment);

#endif
