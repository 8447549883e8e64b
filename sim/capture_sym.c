/* ----------------------------------------------------------------------------
  sim/capture_sym.c: naming a code address for the hot-line attribution
  (sim/capture.h). dladdr() sees only exported symbols, and most allocator
  helpers are static (or hidden, in a library), so this reads the ELF symbol
  table (.symtab, else .dynsym) of the object that holds the address: the
  program itself (/proc/self/exe) or a preloaded library (a capture build of
  a baseline, libhlarena.so), each once, at report time, and finds the
  function whose [value, value + size) holds the address. It also tells
  whether a library is a capture build: one that calls __tsan_func_entry,
  which only this program defines.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include "sim/sim_internal.h" /* sim_table_alloc */
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYM_OBJECTS 8 /* objects whose tables are kept: the program and its preloads */

typedef struct sym_s {
  uintptr_t start, end;
  const char *name;
} sym_t;

typedef struct sym_table_s {
  const void *base; /* dladdr's dli_fbase: which object */
  sym_t *syms;
  size_t n;
  uintptr_t bias;    /* load address of a position-independent object (0 for a fixed one) */
  bool instrumented; /* its dynamic symbols import __tsan_func_entry */
} sym_table_t;

static struct {
  sym_table_t tables[SYM_OBJECTS];
  size_t count;
} symtabs;

/* Heapsort by start address, in place: qsort may call malloc, and a table
   may be loaded from inside a library's own call (capture_os.c's clock),
   where its malloc could wait on a lock its caller holds. */
static void sym_sift(sym_t *a, size_t root, size_t n) {
  for (size_t child; (child = 2 * root + 1) < n; root = child) {
    if (child + 1 < n && a[child + 1].start > a[child].start) child++;
    if (a[root].start >= a[child].start) return;
    sym_t t = a[root];
    a[root] = a[child], a[child] = t;
  }
}

static void sym_sort(sym_t *a, size_t n) {
  for (size_t i = n / 2; i-- > 0;) sym_sift(a, i, n);
  for (size_t end = n; end-- > 1;) {
    sym_t t = a[0];
    a[0] = a[end], a[end] = t;
    sym_sift(a, 0, end);
  }
}

/* Fill `t` from the ELF file at `path`, loaded at `base`. An unreadable or
   odd file leaves it empty: its addresses are then named by dladdr or "?". */
static void sym_load(sym_table_t *t, const char *path, const void *base) {
  t->base = base;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void *map = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(ElfW(Ehdr)))
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return;
  const char *file = map; /* stays mapped: the names point into it */
  const ElfW(Ehdr) *eh = map;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
      eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > (size_t)st.st_size)
    return;
  const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(file + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    const ElfW(Shdr) *d = &sh[i];
    if (d->sh_type != SHT_DYNSYM || d->sh_link >= eh->e_shnum ||
        d->sh_offset + d->sh_size > (size_t)st.st_size ||
        sh[d->sh_link].sh_offset + sh[d->sh_link].sh_size > (size_t)st.st_size)
      continue;
    const ElfW(Sym) *ds = (const ElfW(Sym) *)(file + d->sh_offset);
    const char *names = file + sh[d->sh_link].sh_offset;
    for (size_t k = 0; k < d->sh_size / sizeof(ElfW(Sym)); k++)
      if (ds[k].st_shndx == SHN_UNDEF && ds[k].st_name < sh[d->sh_link].sh_size &&
          strcmp(names + ds[k].st_name, "__tsan_func_entry") == 0)
        t->instrumented = true;
  }
  const ElfW(Shdr) *tab = NULL;
  for (unsigned i = 0; i < eh->e_shnum; i++)
    if (sh[i].sh_type == SHT_SYMTAB) tab = &sh[i];
  if (!tab)
    for (unsigned i = 0; i < eh->e_shnum; i++)
      if (sh[i].sh_type == SHT_DYNSYM) tab = &sh[i];
  if (!tab || tab->sh_link >= eh->e_shnum) return;
  const ElfW(Shdr) *strs = &sh[tab->sh_link];
  if (tab->sh_offset + tab->sh_size > (size_t)st.st_size ||
      strs->sh_offset + strs->sh_size > (size_t)st.st_size)
    return;
  const ElfW(Sym) *sym = (const ElfW(Sym) *)(file + tab->sh_offset);
  size_t count = tab->sh_size / sizeof(ElfW(Sym));
  /* not from malloc: a library may ask from inside its own call (capture_os.c) */
  t->syms = sim_table_alloc((count ? count : 1) * sizeof(sym_t));
  if (!t->syms) return;
  for (size_t i = 0; i < count; i++) {
    if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || sym[i].st_value == 0 ||
        sym[i].st_name >= strs->sh_size)
      continue;
    t->syms[t->n++] = (sym_t){sym[i].st_value, sym[i].st_value + sym[i].st_size,
                              file + strs->sh_offset + sym[i].st_name};
  }
  sym_sort(t->syms, t->n);
  t->bias = eh->e_type == ET_DYN ? (uintptr_t)base : 0;
}

/* The table of the object holding `pc` (loaded on first use), or NULL. */
static const sym_table_t *sym_table_for(const void *pc) {
  Dl_info info, self;
  if (dladdr(pc, &info) == 0 || info.dli_fbase == NULL) return NULL;
  for (size_t i = 0; i < symtabs.count; i++)
    if (symtabs.tables[i].base == info.dli_fbase) return &symtabs.tables[i];
  if (symtabs.count == SYM_OBJECTS) return NULL;
  /* the program's own name in the link map may be empty or relative */
  bool is_program = dladdr((void *)sym_table_for, &self) != 0 && self.dli_fbase == info.dli_fbase;
  sym_table_t *t = &symtabs.tables[symtabs.count++];
  sym_load(t, is_program ? "/proc/self/exe" : info.dli_fname, info.dli_fbase);
  return t;
}

void hl_capture_symbol(const void *pc, char *buf, size_t len) {
  const sym_table_t *t = sym_table_for(pc);
  if (t && t->n > 0) {
    uintptr_t a = (uintptr_t)pc - t->bias;
    size_t lo = 0, hi = t->n; /* first symbol starting after a */
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (t->syms[mid].start <= a)
        lo = mid + 1;
      else
        hi = mid;
    }
    /* a return address may sit one past a noreturn call at a function's end */
    for (size_t i = lo; i-- > 0 && t->syms[i].start == t->syms[lo - 1].start;) {
      if (a < t->syms[i].end || (a == t->syms[i].end && a > t->syms[i].start)) {
        snprintf(buf, len, "%s", t->syms[i].name);
        return;
      }
    }
  }
  Dl_info info;
  if (dladdr(pc, &info) != 0 && info.dli_sname) {
    snprintf(buf, len, "%s", info.dli_sname);
    return;
  }
  snprintf(buf, len, "?");
}

bool hl_capture_instrumented(const void *addr) {
  const sym_table_t *t = sym_table_for(addr);
  return t != NULL && t->instrumented;
}
