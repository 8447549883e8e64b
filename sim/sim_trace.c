/* ----------------------------------------------------------------------------
  sim/sim_trace.c: the simulator's own access-trace formats, so it can be fed
  and validated without the allocator harness (formats: sim/README.md).

  Text, one record per line:   CORE R|W|F ADDR SIZE     (# comments; F: a free)
  Binary: an 8-byte magic (0x89 "hlsim\n" and the version, 2), then per
  record a head byte (core << 2 | op), the address as a zigzag varint delta
  from the previous record's address, and the size as a varint; version 1
  (head core << 1 | is_write, no frees) is still read. The first byte tells
  them apart (0x89 cannot start a text line), so readers need no seeking.

  Parsing is strict: a bad field stops the run with "name:line: message" (text)
  or "name: byte N: message" (binary), since a half-read trace would give
  numbers that look right and are not.
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#define SIM_TRACE_MAX_SIZE (UINT64_C(1) << 30) /* one access: 1 GiB at most */
/* A version 2 head byte is core << 2 | op: 6 bits of core, cores 0..63. A
   larger SIM_MAX_CORES needs a new version, not a silently wrapped core. */
_Static_assert(SIM_MAX_CORES <= 64, "the binary trace's head byte holds cores 0..63");

static long long sim_trace_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err != NULL && errlen > 0) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* One unsigned field: digits in C notation up to the next space; advances *p. */
static bool sim_trace_field(char **p, uint64_t *out) {
  char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (!isdigit((unsigned char)*s)) return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  if (errno != 0 || (*end != '\0' && !isspace((unsigned char)*end))) return false;
  *out = v;
  *p = end;
  return true;
}

static const unsigned char sim_trace_magic[8] = {0x89, 'h', 'l', 's', 'i', 'm', '\n', 0x02};

/* One line into buf (NUL-terminated, newline dropped). 1: a line; 0: end
   of input; -1: longer than buf; -2: a NUL byte at *column (1-based),
   which fgets would have taken for the end of the line. */
static int sim_trace_line(FILE *in, char *buf, size_t cap, size_t *column) {
  size_t len = 0;
  int c;
  while ((c = getc_unlocked(in)) != EOF && c != '\n') {
    if (c == '\0') return *column = len + 1, -2;
    if (len + 1 == cap) return -1;
    buf[len++] = (char)c;
  }
  buf[len] = '\0';
  return c == EOF && len == 0 ? 0 : 1;
}

static long long sim_trace_read_text(FILE *in, const char *name, unsigned ncores, sim_trace_fn fn,
                                     void *arg, char *err, size_t errlen) {
  char buf[256];
  unsigned long long lineno = 0;
  long long n = 0;
  int got;
  size_t column;
  while ((got = sim_trace_line(in, buf, sizeof buf, &column)) != 0) {
    lineno++;
    if (got == -1)
      return sim_trace_err(err, errlen, "%s:%llu: line too long (over %zu bytes)", name, lineno,
                           sizeof buf - 1);
    if (got == -2)
      return sim_trace_err(err, errlen,
                           "%s:%llu: a NUL byte at column %zu (a text trace is text; a binary "
                           "one starts with its magic)",
                           name, lineno, column);
    char *hash = strchr(buf, '#');
    if (hash != NULL) *hash = '\0';
    char *p = buf;
    while (isspace((unsigned char)*p)) p++;
    if (*p == '\0') continue;
    uint64_t core, addr, size;
    if (!sim_trace_field(&p, &core))
      return sim_trace_err(err, errlen, "%s:%llu: expected 'CORE R|W|F ADDR SIZE'", name, lineno);
    if (core >= ncores)
      return sim_trace_err(err, errlen, "%s:%llu: core %llu out of range (config has %u cores)",
                           name, lineno, (unsigned long long)core, ncores);
    while (*p == ' ' || *p == '\t') p++;
    char letter = (char)toupper((unsigned char)*p);
    if ((letter != 'R' && letter != 'W' && letter != 'F') || !isspace((unsigned char)p[1]))
      return sim_trace_err(err, errlen, "%s:%llu: expected R, W or F after the core", name, lineno);
    sim_op_t op = letter == 'R' ? SIM_OP_READ : letter == 'W' ? SIM_OP_WRITE : SIM_OP_FREE;
    p++;
    if (!sim_trace_field(&p, &addr))
      return sim_trace_err(err, errlen, "%s:%llu: bad address", name, lineno);
    if (!sim_trace_field(&p, &size) || size == 0 || size > SIM_TRACE_MAX_SIZE)
      return sim_trace_err(err, errlen, "%s:%llu: bad size (1..%llu)", name, lineno,
                           (unsigned long long)SIM_TRACE_MAX_SIZE);
    while (isspace((unsigned char)*p)) p++;
    if (*p != '\0')
      return sim_trace_err(err, errlen, "%s:%llu: unexpected '%s' after the size", name, lineno, p);
    if (addr + size < addr)
      return sim_trace_err(err, errlen, "%s:%llu: access wraps around the address space", name,
                           lineno);
    fn(arg, (unsigned)core, addr, size, op);
    n++;
  }
  if (ferror(in)) return sim_trace_err(err, errlen, "%s: read error", name);
  return n;
}

/* One LEB128 varint; false at EOF or past 10 bytes. */
static bool sim_trace_varint(FILE *in, uint64_t *out, unsigned long long *pos) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    int c = getc(in);
    if (c == EOF) return false;
    (*pos)++;
    if (shift == 63 && (c & 0x7e) != 0) return false; /* more than 64 bits */
    v |= (uint64_t)(c & 0x7f) << shift;
    if ((c & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

static long long sim_trace_read_binary(FILE *in, const char *name, unsigned ncores, sim_trace_fn fn,
                                       void *arg, char *err, size_t errlen) {
  unsigned char magic[8];
  if (fread(magic, 1, sizeof(magic), in) != sizeof(magic) ||
      memcmp(magic, sim_trace_magic, sizeof(magic) - 1) != 0 || magic[7] < 1 || magic[7] > 2)
    return sim_trace_err(err, errlen, "%s: byte 0: not an hlsim binary trace (version 1 or 2)",
                         name);
  unsigned op_bits = magic[7] == 1 ? 1 : 2; /* version 1: read or write only */
  unsigned long long pos = sizeof(magic);
  uint64_t prev = 0;
  long long n = 0;
  int head;
  while ((head = getc(in)) != EOF) {
    unsigned long long at = pos++;
    unsigned core = (unsigned)head >> op_bits, opcode = (unsigned)head & ((1u << op_bits) - 1);
    if (opcode > SIM_OP_FREE)
      return sim_trace_err(err, errlen, "%s: byte %llu: access %lld: bad operation %u", name, at, n,
                           opcode);
    if (core >= ncores)
      return sim_trace_err(err, errlen,
                           "%s: byte %llu: access %lld: core %u out of range (config has %u cores)",
                           name, at, n, core, ncores);
    uint64_t delta, size;
    if (!sim_trace_varint(in, &delta, &pos) || !sim_trace_varint(in, &size, &pos))
      return sim_trace_err(err, errlen, "%s: byte %llu: access %lld: truncated or bad varint", name,
                           at, n);
    uint64_t addr = prev + ((delta >> 1) ^ (0 - (delta & 1))); /* zigzag, wrapping */
    if (size == 0 || size > SIM_TRACE_MAX_SIZE || addr + size < addr)
      return sim_trace_err(err, errlen, "%s: byte %llu: access %lld: bad size %llu", name, at, n,
                           (unsigned long long)size);
    fn(arg, core, addr, size, (sim_op_t)opcode);
    prev = addr;
    n++;
  }
  if (ferror(in)) return sim_trace_err(err, errlen, "%s: read error", name);
  return n;
}

long long sim_trace_read(FILE *in, const char *name, unsigned ncores, sim_trace_fn fn, void *arg,
                         char *err, size_t errlen) {
  int c = getc(in);
  if (c == EOF) return ferror(in) ? sim_trace_err(err, errlen, "%s: read error", name) : 0;
  ungetc(c, in);
  if (c == sim_trace_magic[0]) return sim_trace_read_binary(in, name, ncores, fn, arg, err, errlen);
  return sim_trace_read_text(in, name, ncores, fn, arg, err, errlen);
}

static void sim_trace_to_sim(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op) {
  if (op == SIM_OP_FREE)
    sim_freed(arg, addr, size);
  else
    sim_access(arg, core, addr, size, op == SIM_OP_WRITE);
}

long long sim_trace_run(sim_t *sim, FILE *in, const char *name, char *err, size_t errlen) {
  return sim_trace_read(in, name, sim->ncores, sim_trace_to_sim, sim, err, errlen);
}

int sim_trace_write_header(FILE *out) {
  return fwrite(sim_trace_magic, 1, sizeof(sim_trace_magic), out) == sizeof(sim_trace_magic) ? 0
                                                                                             : -1;
}

static void sim_trace_put_varint(FILE *out, uint64_t v) {
  while (v >= 0x80) {
    putc((int)(v & 0x7f) | 0x80, out);
    v >>= 7;
  }
  putc((int)v, out);
}

void sim_trace_write(FILE *out, uint64_t *prev, unsigned core, uint64_t addr, uint64_t size,
                     sim_op_t op) {
  assert(core < SIM_MAX_CORES && size > 0 && op <= SIM_OP_FREE); /* 6 bits: see above */
  uint64_t d = addr - *prev; /* wrapping difference, zigzagged so small moves stay small */
  putc((int)(core << 2 | (unsigned)op), out);
  sim_trace_put_varint(out, (d << 1) ^ (0 - (d >> 63)));
  sim_trace_put_varint(out, size);
  *prev = addr;
}
