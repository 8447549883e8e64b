/* ----------------------------------------------------------------------------
  workloads/recorder/recorder.c: libhlrecord.so, the LD_PRELOAD recorder.

    LD_PRELOAD=build/lib/libhlrecord.so HEAPLAB_RECORD=/tmp/run PROGRAM ...

  interposes malloc, calloc, realloc, reallocarray, free, posix_memalign,
  aligned_alloc, memalign, valloc and pvalloc, and logs every call that
  creates or ends a block to PREFIX.PID.raw (format: record_format.h); then
  `hltrace import record PREFIX.PID.raw -o T.hlt` makes a trace of it.
  Without HEAPLAB_RECORD the library only forwards. Design notes (the why
  of each choice) are in workloads/RECORDING.md; in short:

  - No malloc inside the recorder: the log is a MAP_SHARED file mapping, and
    the global sequence number of an event is its slot in that mapping, so
    there are no buffers to allocate, flush or lose. The page cache is the
    buffer: a thread that exits, a process that calls _exit or is killed
    keeps every record it finished writing.
  - Order: malloc-like calls take their number after the real call returns,
    free takes it before the real free, so "freed" always precedes "handed
    out again" across threads. realloc takes two numbers, one before (the
    old block leaves) and one after (the new block arrives).
  - dlsym may call calloc while we look up the real functions: such calls
    (and every call made while this thread is inside the recorder) are
    served from a static arena or passed through unrecorded.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "workloads/recorder/record_format.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RECORD_API __attribute__((visibility("default")))
/* Initial-exec TLS: a preloaded library's TLS is static, and the general
   dynamic model could call __tls_get_addr, which may allocate. */
#define RECORD_TLS __thread __attribute__((tls_model("initial-exec")))

/* Address space reserved for one log: 16 GiB = about 430 million records.
   Reserving (not committing) lets the log grow without remapping under
   concurrent writers; beyond it records are counted in header.dropped. */
#define RECORD_RESERVE   (UINT64_C(16) << 30)
#define RECORD_FIRST_LEN (UINT64_C(256) << 10)
#define RECORD_MAX_STEP  (UINT64_C(64) << 20)

/* ---- the real functions ---- */
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* ---- global state ---- */
static pthread_once_t record_once = PTHREAD_ONCE_INIT;
static atomic_bool record_inited;
static bool record_enabled; /* HEAPLAB_RECORD set and non-empty */
static char record_prefix[4000];
static pthread_key_t record_key;

/* The log of this process image; reset in a fork child. */
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int record_open_state; /* 0 not yet, 1 open, 2 failed (record nothing) */
static int record_fd = -1;
static char *record_base;
static _Atomic uint64_t record_file_len;
static _Atomic uint64_t record_seq;
static _Atomic uint32_t record_next_thread;
static _Atomic uint32_t record_generation = 1; /* bumped by fork: thread ids start over */

/* ---- per thread ---- */
static RECORD_TLS int record_depth;     /* >0: inside the recorder, do not record */
static RECORD_TLS uint32_t record_tid;  /* dense id in this process image */
static RECORD_TLS uint32_t record_tgen; /* generation record_tid belongs to; 0 none */

/* ---- bootstrap arena: allocations made before the real functions are known ---- */
#define RECORD_BOOT_SIZE (256 * 1024)
static _Alignas(4096) char record_boot[RECORD_BOOT_SIZE];
static atomic_size_t record_boot_used;

static bool record_is_boot(const void *p) {
  return (const char *)p >= record_boot && (const char *)p < record_boot + RECORD_BOOT_SIZE;
}

/* Bump allocation; the arena is never reused (it serves a handful of dlsym
   calls), and 16 bytes before each block keep its size for realloc. */
static void *record_boot_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  if (align & (align - 1) || size > RECORD_BOOT_SIZE) return NULL;
  size_t old = atomic_load(&record_boot_used), start;
  do {
    start = (old + 16 + align - 1) & ~(align - 1);
    if (start + size > RECORD_BOOT_SIZE) return NULL;
  } while (!atomic_compare_exchange_weak(&record_boot_used, &old, start + size));
  memcpy(record_boot + start - 16, &size, sizeof size);
  return record_boot + start; /* static storage: already zero, so calloc is served too */
}

static size_t record_boot_size(const void *p) {
  size_t size;
  memcpy(&size, (const char *)p - 16, sizeof size);
  return size;
}

/* ---- small helpers that allocate nothing ---- */

static size_t record_utoa(char *out, uint64_t v) {
  char tmp[24];
  size_t n = 0, i;
  do tmp[n++] = (char)('0' + v % 10), v /= 10;
  while (v);
  for (i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static uint8_t record_log2_ceil(size_t align) {
  uint8_t l = 0;
  while (l < 63 && (UINT64_C(1) << l) < align) l++;
  return l;
}

/* ---- the log file ---- */

/* Create PREFIX.PID.raw, or PREFIX.PID.N.raw when it exists (an exec'd
   image has its parent-side pid), map it and write the header. Called
   under record_lock. */
static void record_open_locked(void) {
  char path[sizeof record_prefix + 64];
  size_t plen = strlen(record_prefix);
  pid_t pid = getpid();
  int fd = -1;
  for (unsigned n = 0; n < 1000 && fd < 0; n++) {
    size_t k = plen;
    memcpy(path, record_prefix, plen);
    path[k++] = '.';
    k += record_utoa(path + k, (uint64_t)pid);
    if (n) path[k++] = '.', k += record_utoa(path + k, n);
    memcpy(path + k, ".raw", 5);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) goto fail;
  if (posix_fallocate(fd, 0, (off_t)RECORD_FIRST_LEN) != 0 &&
      ftruncate(fd, (off_t)RECORD_FIRST_LEN) != 0)
    goto fail;
  void *base =
      mmap(NULL, RECORD_RESERVE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (base == MAP_FAILED) goto fail;
  record_header_t h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, RECORD_MAGIC, 8);
  h.version = RECORD_VERSION;
  h.record_size = RECORD_SIZE;
  h.pid = (uint32_t)pid;
  h.ppid = (uint32_t)getppid();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  h.start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  memcpy(base, &h, sizeof h);
  record_fd = fd;
  record_base = base;
  atomic_store(&record_file_len, RECORD_FIRST_LEN);
  atomic_store(&record_open_state, 1);
  return;
fail:;
  /* Say so once: a run that silently records nothing wastes the user's time.
     By hand, not stdio or strerror, which may allocate. */
  char msg[sizeof path + 96];
  size_t k = 0, n = strlen(path);
  int e = errno;
  memcpy(msg, "libhlrecord: cannot create ", 27), k = 27;
  memcpy(msg + k, path, n), k += n;
  memcpy(msg + k, " (errno ", 8), k += 8;
  k += record_utoa(msg + k, (uint64_t)e);
  memcpy(msg + k, "): not recording\n", 17), k += 17;
  if (write(2, msg, k) < 0) { /* nothing more to do */
  }
  if (fd >= 0) close(fd);
  atomic_store(&record_open_state, 2);
}

static bool record_ready_to_log(void) {
  int st = atomic_load_explicit(&record_open_state, memory_order_acquire);
  if (st == 0) {
    pthread_mutex_lock(&record_lock);
    if (atomic_load(&record_open_state) == 0) record_open_locked();
    pthread_mutex_unlock(&record_lock);
    st = atomic_load(&record_open_state);
  }
  return st == 1;
}

/* Extend the file so that byte `end` exists: geometric steps (at most
   64 MiB) so a long run makes few calls. Space is allocated, not left
   sparse, where the file system can: writing a sparse page of a shared
   mapping on a full disk would be SIGBUS. */
static bool record_grow(uint64_t end) {
  bool ok = true;
  pthread_mutex_lock(&record_lock);
  uint64_t cur = atomic_load(&record_file_len);
  if (end > cur) {
    uint64_t step = cur < RECORD_MAX_STEP ? cur : RECORD_MAX_STEP, len = cur + step;
    if (len < end) len = (end + 4095) & ~UINT64_C(4095);
    if (len > RECORD_RESERVE) len = RECORD_RESERVE;
    int e = posix_fallocate(record_fd, (off_t)cur, (off_t)(len - cur));
    if (e != 0 && ftruncate(record_fd, (off_t)len) != 0) ok = false;
    if (ok) atomic_store(&record_file_len, len);
  }
  pthread_mutex_unlock(&record_lock);
  return ok;
}

static uint64_t record_take(void) {
  return atomic_fetch_add_explicit(&record_seq, 1, memory_order_relaxed);
}

/* Store record `seq`. Its slot is its own, so no lock is needed. */
static void record_put(uint64_t seq, record_op_t op, uint64_t addr, uint64_t old, uint64_t size,
                       hl_alloc_kind_t kind, uint8_t align_log2) {
  uint64_t end = RECORD_HEADER_SIZE + (seq + 1) * RECORD_SIZE;
  if (end > RECORD_RESERVE ||
      (end > atomic_load_explicit(&record_file_len, memory_order_acquire) && !record_grow(end))) {
    __atomic_fetch_add(&((record_header_t *)record_base)->dropped, 1, __ATOMIC_RELAXED);
    return;
  }
  record_entry_t e = {.seq = seq,
                      .addr = addr,
                      .old = old,
                      .size = size,
                      .thread = record_tid,
                      .op = (uint8_t)op,
                      .kind = (uint8_t)kind,
                      .align_log2 = align_log2};
  memcpy(record_base + RECORD_HEADER_SIZE + seq * RECORD_SIZE, &e, sizeof e);
}

/* The calling thread's dense id, given on its first recorded call; the key's
   value makes its destructor run (and log the exit) when the thread ends. */
static void record_thread(void) {
  uint32_t gen = atomic_load_explicit(&record_generation, memory_order_relaxed);
  if (record_tgen == gen) return;
  record_tid = atomic_fetch_add(&record_next_thread, 1);
  record_tgen = gen;
  pthread_setspecific(record_key, (void *)1);
}

static void record_thread_exit(void *unused) {
  (void)unused;
  int saved = errno;
  record_depth++;
  if (record_tgen == atomic_load(&record_generation) && record_ready_to_log())
    record_put(record_take(), RECORD_OP_THREAD_EXIT, 0, 0, 0, 0, 0);
  record_depth--;
  errno = saved;
}

/* ---- fork: the child logs to a file of its own ---- */

static void record_fork_prepare(void) {
  pthread_mutex_lock(&record_lock);
}
static void record_fork_parent(void) {
  pthread_mutex_unlock(&record_lock);
}
static void record_fork_child(void) {
  /* Only the forking thread exists here. The parent's mapping is shared with
     the parent: drop it; the child's first call opens PREFIX.CHILDPID.raw. */
  if (record_base) munmap(record_base, RECORD_RESERVE);
  if (record_fd >= 0) close(record_fd);
  record_base = NULL;
  record_fd = -1;
  atomic_store(&record_file_len, 0);
  atomic_store(&record_seq, 0);
  atomic_store(&record_next_thread, 0);
  atomic_fetch_add(&record_generation, 1);
  atomic_store(&record_open_state, 0);
  pthread_mutex_init(&record_lock, NULL);
}

/* ---- start-up ---- */

static void record_init(void) {
  real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
  real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
  real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
  real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
  real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
  real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
  real_valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
  real_pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
  const char *prefix = getenv("HEAPLAB_RECORD");
  if (prefix && prefix[0] && strlen(prefix) < sizeof record_prefix && real_malloc && real_free &&
      real_calloc && real_realloc && pthread_key_create(&record_key, record_thread_exit) == 0 &&
      pthread_atfork(record_fork_prepare, record_fork_parent, record_fork_child) == 0) {
    strcpy(record_prefix, prefix);
    record_enabled = true;
  }
  atomic_store_explicit(&record_inited, true, memory_order_release);
}

/* Should this call be recorded? Also makes sure the real functions are known
   (or that this thread is the one looking them up). */
static inline bool record_begin(void) {
  if (record_depth) return false;
  if (!atomic_load_explicit(&record_inited, memory_order_acquire)) {
    record_depth++;
    pthread_once(&record_once, record_init);
    record_depth--;
  }
  return record_enabled;
}

/* Record a call that created block `p`: number taken now, after the call.
   `align` is 0 for the kinds without an alignment argument. */
static void record_alloc(void *p, size_t size, hl_alloc_kind_t kind, size_t align) {
  if (!p || !record_ready_to_log()) return;
  record_thread();
  record_put(record_take(), RECORD_OP_ALLOC, (uintptr_t)p, 0, size, kind,
             align ? record_log2_ceil(align) : 0);
}

/* ---- the interposed API ---- */

/* The shape of every allocating entry point: forward (to the arena while
   the real function is unknown), and log the result when recording. */
#define RECORD_ALLOC_CALL(fn, call, boot, size, kind, align)                                       \
  do {                                                                                             \
    if (!record_begin()) return fn ? call : boot;                                                  \
    int saved_errno_;                                                                              \
    record_depth++;                                                                                \
    void *p_ = fn ? call : NULL;                                                                   \
    saved_errno_ = errno;                                                                          \
    record_alloc(p_, size, kind, align);                                                           \
    errno = saved_errno_;                                                                          \
    record_depth--;                                                                                \
    return p_;                                                                                     \
  } while (0)

RECORD_API void *malloc(size_t size) {
  RECORD_ALLOC_CALL(real_malloc, real_malloc(size), record_boot_alloc(size, 16), size,
                    HL_KIND_MALLOC, 0);
}

RECORD_API void *calloc(size_t n, size_t m) {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) total = SIZE_MAX; /* real calloc fails it */
  RECORD_ALLOC_CALL(real_calloc, real_calloc(n, m), record_boot_alloc(total, 16), total,
                    HL_KIND_CALLOC, 0);
}

RECORD_API void *memalign(size_t align, size_t size) {
  RECORD_ALLOC_CALL(real_memalign, real_memalign(align, size), record_boot_alloc(size, align), size,
                    HL_KIND_MEMALIGN, align);
}

RECORD_API void *aligned_alloc(size_t align, size_t size) {
  RECORD_ALLOC_CALL(real_aligned_alloc, real_aligned_alloc(align, size),
                    record_boot_alloc(size, align), size, HL_KIND_ALIGNED_ALLOC, align);
}

RECORD_API void *valloc(size_t size) {
  RECORD_ALLOC_CALL(real_valloc, real_valloc(size), record_boot_alloc(size, 4096), size,
                    HL_KIND_VALLOC, 0);
}

RECORD_API void *pvalloc(size_t size) {
  RECORD_ALLOC_CALL(real_pvalloc, real_pvalloc(size),
                    record_boot_alloc((size + 4095) & ~(size_t)4095, 4096), size, HL_KIND_PVALLOC,
                    0);
}

RECORD_API int posix_memalign(void **out, size_t align, size_t size) {
  if (!record_begin()) {
    if (real_posix_memalign) return real_posix_memalign(out, align, size);
    void *p = record_boot_alloc(size, align);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
  }
  int saved = errno;
  record_depth++;
  int rc = real_posix_memalign(out, align, size);
  if (rc == 0) record_alloc(*out, size, HL_KIND_POSIX_MEMALIGN, align);
  record_depth--;
  errno = saved; /* posix_memalign does not set errno */
  return rc;
}

RECORD_API void free(void *p) {
  if (record_is_boot(p)) return; /* never the real free's business */
  if (!record_begin()) {
    if (real_free) real_free(p);
    return;
  }
  int saved = errno;
  record_depth++;
  if (record_ready_to_log()) {
    record_thread();
    /* The number is taken before the block is released: once real_free
       returns, another thread may be handed the same address. */
    uint64_t seq = record_take();
    real_free(p);
    record_put(seq, RECORD_OP_FREE, (uintptr_t)p, 0, 0, 0, 0);
  } else {
    real_free(p);
  }
  record_depth--;
  errno = saved;
}

RECORD_API void *realloc(void *old, size_t size) {
  if (record_is_boot(old)) {
    /* A block of the arena moving to the real heap: a fresh malloc, so its
       later free is known; the arena copy is abandoned. */
    void *p = malloc(size);
    size_t have = record_boot_size(old);
    if (p) memcpy(p, old, have < size ? have : size);
    return p;
  }
  if (!record_begin()) return real_realloc ? real_realloc(old, size) : record_boot_alloc(size, 16);
  record_depth++;
  if (!record_ready_to_log()) {
    void *p = real_realloc(old, size);
    record_depth--;
    return p;
  }
  record_thread();
  /* Two numbers (RECORDING.md, "realloc"): `out` before the call, when the
     old block may be released and handed to another thread; `in` after the
     call, when the new block exists. */
  uint64_t out = old ? record_take() : 0;
  void *p = real_realloc(old, size);
  int saved = errno;
  uint64_t in = record_take();
  if (old) record_put(out, RECORD_OP_REALLOC_OUT, (uintptr_t)old, 0, 0, 0, 0);
  record_put(in, RECORD_OP_REALLOC_IN, (uintptr_t)p, (uintptr_t)old, size, 0, 0);
  errno = saved;
  record_depth--;
  return p;
}

/* glibc's reallocarray calls its internal realloc, which would bypass the
   realloc above: route it through ours. */
RECORD_API void *reallocarray(void *old, size_t n, size_t m) {
  size_t total;
  if (__builtin_mul_overflow(n, m, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc(old, total);
}
