/* ----------------------------------------------------------------------------
  sim/capture_sym.c: naming a code address for the hot-line attribution
  (sim/capture.h). dladdr() sees only exported symbols, and most allocator
  helpers are static, so this reads the program's own ELF symbol table
  (.symtab, else .dynsym) from /proc/self/exe once, at report time, and
  finds the function whose [value, value + size) holds the address.
---------------------------------------------------------------------------- */
#include "sim/capture.h"
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sym_s {
  uintptr_t start, end;
  const char *name;
} sym_t;

static struct {
  bool loaded;
  sym_t *syms;
  size_t n;
  uintptr_t bias; /* load address of a PIE (0 for a fixed executable) */
} symtab;

static int sym_cmp(const void *a, const void *b) {
  const sym_t *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static void sym_load(void) {
  symtab.loaded = true;
  int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void *map = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (size_t)st.st_size >= sizeof(ElfW(Ehdr)))
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return;
  const char *base = map; /* stays mapped: the names point into it */
  const ElfW(Ehdr) *eh = map;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_shoff == 0 ||
      eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > (size_t)st.st_size)
    return;
  const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
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
  const ElfW(Sym) *sym = (const ElfW(Sym) *)(base + tab->sh_offset);
  size_t count = tab->sh_size / sizeof(ElfW(Sym));
  symtab.syms = calloc(count ? count : 1, sizeof(sym_t));
  if (!symtab.syms) return;
  for (size_t i = 0; i < count; i++) {
    if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || sym[i].st_value == 0 ||
        sym[i].st_name >= strs->sh_size)
      continue;
    symtab.syms[symtab.n++] = (sym_t){sym[i].st_value, sym[i].st_value + sym[i].st_size,
                                      base + strs->sh_offset + sym[i].st_name};
  }
  qsort(symtab.syms, symtab.n, sizeof(sym_t), sym_cmp);
  Dl_info info;
  if (eh->e_type == ET_DYN && dladdr((void *)sym_load, &info) != 0)
    symtab.bias = (uintptr_t)info.dli_fbase;
}

void hl_capture_symbol(const void *pc, char *buf, size_t len) {
  if (!symtab.loaded) sym_load();
  uintptr_t a = (uintptr_t)pc - symtab.bias;
  size_t lo = 0, hi = symtab.n; /* first symbol starting after a */
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (symtab.syms[mid].start <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  /* a return address may sit one past a noreturn call at a function's end */
  for (size_t i = lo; i-- > 0 && symtab.syms[i].start == symtab.syms[lo - 1].start;) {
    if (a < symtab.syms[i].end || (a == symtab.syms[i].end && a > symtab.syms[i].start)) {
      snprintf(buf, len, "%s", symtab.syms[i].name);
      return;
    }
  }
  Dl_info info;
  if (dladdr(pc, &info) != 0 && info.dli_sname) {
    snprintf(buf, len, "%s", info.dli_sname);
    return;
  }
  snprintf(buf, len, "?");
}
