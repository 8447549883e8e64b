/* ----------------------------------------------------------------------------
  sim/sim_table.c: the simulator's own memory (its cache ways, directory,
  index, per-core state), apart from the process heap.

  In the capture program (build/bin/hlreplay-sim) the allocator under test
  serves malloc: simulator tables taken from malloc would be served by it,
  in its heap between the trace's objects (moving where it places them, for
  the simulated run only), and, in a capture build of that allocator, its
  work for the simulator would itself be simulated, re-entering the
  simulator from inside an access. So every table lives in one region of
  address space reserved at a fixed address (MAP_NORESERVE: only touched
  pages cost memory), apart from the heap and from where mmap places the
  allocators' own mappings. Tables are host-cache-line aligned (malloc's
  16-byte alignment split every 64-byte directory entry over two host
  lines), zeroed, and whole pages: a freed table's pages go back to the
  kernel (so they read as zero again) and its block is kept for the next
  table of its size (a program that makes many simulators, as the tests do,
  reuses their space).
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <pthread.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SIM_TABLE_BASE    NULL              /* the sanitizer decides where memory may be */
#define SIM_TABLE_RESERVE ((size_t)8 << 30) /* and reserves shadow for it too */
#else
#define SIM_TABLE_BASE    ((void *)0x500000000000ull) /* below capture_malloc's region */
#define SIM_TABLE_RESERVE ((size_t)128 << 30)         /* address space only */
#endif
#define SIM_HOST_LINE 64
#define SIM_PAGE      4096

/* A block's first host line; the table follows it. */
typedef struct sim_block_s {
  size_t bytes;             /* the whole block, this header included: whole pages */
  struct sim_block_s *next; /* in the free list */
} sim_block_t;

static struct {
  pthread_mutex_t lock;
  char *base;
  size_t used;
  bool reserved;
  sim_block_t *free; /* freed blocks, reused by exact size */
} sim_table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sim_table_reserve(void) {
  sim_table.reserved = true;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  void *p = MAP_FAILED;
  if (SIM_TABLE_BASE)
    p = mmap(SIM_TABLE_BASE, SIM_TABLE_RESERVE, PROT_READ | PROT_WRITE, flags | MAP_FIXED_NOREPLACE,
             -1, 0);
  if (p == MAP_FAILED) /* taken, or an old kernel: anywhere */
    p = mmap(NULL, SIM_TABLE_RESERVE, PROT_READ | PROT_WRITE, flags, -1, 0);
  sim_table.base = p == MAP_FAILED ? NULL : p;
}

/* A table of `bytes`, zeroed and on its own host lines. NULL when out of space. */
void *sim_table_alloc(size_t bytes) {
  if (bytes > SIM_TABLE_RESERVE) return NULL;
  size_t need = (bytes + SIM_HOST_LINE + SIM_PAGE - 1) & ~(size_t)(SIM_PAGE - 1);
  pthread_mutex_lock(&sim_table.lock);
  if (!sim_table.reserved) sim_table_reserve();
  sim_block_t *b = NULL;
  for (sim_block_t **link = &sim_table.free; *link; link = &(*link)->next)
    if ((*link)->bytes == need) {
      b = *link;
      *link = b->next;
      break;
    }
  if (b == NULL && sim_table.base && sim_table.used + need <= SIM_TABLE_RESERVE) {
    b = (sim_block_t *)(void *)(sim_table.base + sim_table.used);
    sim_table.used += need;
  }
  pthread_mutex_unlock(&sim_table.lock);
  if (b == NULL) return NULL;
  b->bytes = need, b->next = NULL; /* the rest of the block reads zero */
  return (char *)b + SIM_HOST_LINE;
}

/* Give a table's pages back to the kernel and keep its block for reuse. */
void sim_table_free(void *table) {
  if (table == NULL) return;
  sim_block_t *b = (sim_block_t *)(void *)((char *)table - SIM_HOST_LINE);
  size_t bytes = b->bytes;
  madvise(b, bytes, MADV_DONTNEED);
  pthread_mutex_lock(&sim_table.lock);
  b->bytes = bytes;
  b->next = sim_table.free;
  sim_table.free = b;
  pthread_mutex_unlock(&sim_table.lock);
}
