/* ----------------------------------------------------------------------------
  alloc/options.h: the one parser of allocator options, "key=value,key=value"
  (hlreplay --options, an hlbench variant NAME:key=value, HLARENA_OPTIONS).

  An allocator describes its keys in a static table (hl_opt_t): the name, the
  kind of value (0|1, an unsigned integer, a byte size with k/K/m/M/g/G
  suffixes in powers of 1024, or one of a list of words), its bounds, where
  it goes in the allocator's config struct (offset and width, or a setter)
  and a line of help. hl_opt_parse fills the struct from a string or refuses
  it with one message that names the key and what was expected:

    ravioli: option 'keep': expected an integer 0..65536, got '70000'
    system: unknown option 'nosuchkey' (system takes no options)
    arena: unknown option 'chek' (known: reserve, arenas, ...)

  NULL and "" are no options. Refused: an empty entry (",," or a comma at
  either end), a key without '=', an empty key, a key given twice, a value
  that overflows or is out of bounds. Only the keys given are written: the
  caller fills the struct with its defaults first.

  The parser allocates nothing and uses no stdio (its own small formatting
  into the caller's buffer), so libhlarena.so, which *is* malloc, parses
  HLARENA_OPTIONS with it at start-up.
---------------------------------------------------------------------------- */
#ifndef HL_OPTIONS_H
#define HL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hl_opt_kind_e {
  HL_OPT_BOOL, /* 0 or 1 */
  HL_OPT_UINT, /* an unsigned decimal integer, min..max */
  HL_OPT_SIZE, /* bytes: decimal, optional suffix k/K, m/M, g/G (x 1024, 1024^2, 1024^3) */
  HL_OPT_ENUM, /* one of `words` (stored as the word's value) */
} hl_opt_kind_t;

/* A word a key accepts: the only values of an HL_OPT_ENUM key, or named
   values beside the numbers of an HL_OPT_UINT or HL_OPT_SIZE key (stable's
   pin=all|none|BYTES). */
typedef struct hl_opt_word_s {
  const char *word;
  uint64_t value;
} hl_opt_word_t;

enum {
  HL_OPT_POW2 = 1u << 0, /* a number must be a power of two */
};

typedef struct hl_opt_s {
  const char *name; /* the key: letters, digits, '_' */
  hl_opt_kind_t kind;
  uint64_t min, max; /* bounds of a number, inclusive (BOOL: ignored, always 0..1) */
  size_t offset;     /* where the value goes in the config struct ... */
  unsigned width;    /* ... as an unsigned integer of 1, 2, 4 or 8 bytes (a bool is 1) */
  /* or, when set, this stores it (offset and width unused) */
  void (*set)(void *conf, uint64_t value);
  const hl_opt_word_t *words; /* NULL-terminated; NULL: none */
  unsigned flags;             /* HL_OPT_POW2 */
  const char *help;           /* one line: what it does, and its default */
} hl_opt_t;

/* Offset and width of a field: HL_OPT_FIELD(arena_opts_t, reserve). */
#define HL_OPT_FIELD(type, field)                                                                  \
  .offset = offsetof(type, field), .width = sizeof(((type *)0)->field)

/* An allocator's options. `name` starts every message; `none` (for tables
   without keys) follows "NAME takes no options" in the refusal, e.g. where
   that allocator's own tuning lives. */
typedef struct hl_opt_table_s {
  const char *name;
  const hl_opt_t *opts;
  size_t count;
  const char *none;
} hl_opt_table_t;

/* Parse `options` into `conf` (NULL: check only, nothing is stored). 0, or
   EINVAL with the reason in why (always NUL-terminated when why_len > 0;
   cut short, never overflowing, when it does not fit). */
int hl_opt_parse(const hl_opt_table_t *table, const char *options, void *conf, char *why,
                 size_t why_len);

/* Is the table itself sound (names unique and well formed, bounds ordered
   and within their width, a store for every key)? For tests. */
bool hl_opt_table_ok(const hl_opt_table_t *table, char *why, size_t why_len);

/* What a key accepts, short: "0|1", "0..65536", "128..64K (power of two)",
   "all|none|1..16E". */
void hl_opt_syntax(const hl_opt_t *opt, char *buf, size_t len);

/* The table as text for --options help: a title line, then one line per key
   ("  keep=0..65536   HELP"). Returns the length it needed (like snprintf);
   what fits is written, NUL-terminated. */
size_t hl_opt_help(const hl_opt_table_t *table, char *buf, size_t len);

#endif
