/* ----------------------------------------------------------------------------
  alloc/options.c: the allocator-options parser (options.h): one table-driven
  reading of "key=value,key=value" for every allocator, with messages that
  name the key and what it takes.

  Linked into libhlalloc.a and into libhlarena.so, where it runs inside
  malloc's own start-up: no allocation, no stdio, no locale. Messages are
  built by the small writer below into the caller's buffer.
---------------------------------------------------------------------------- */
#include "alloc/options.h"
#include <errno.h>
#include <string.h>

/* Longest key or value quoted in a message; longer ones end in "...". */
#define OPT_QUOTE_MAX 48
/* Where --options help starts the help text, at most. */
#define HELP_COLUMN_MAX 32

/* ---- a bounded writer: counts what it would write, stores what fits ---- */

typedef struct opt_out_s {
  char *buf;
  size_t len, pos; /* pos: bytes wanted so far (may exceed len) */
} opt_out_t;

static void out_n(opt_out_t *o, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++, o->pos++)
    if (o->pos + 1 < o->len) o->buf[o->pos] = s[i];
  if (o->len) o->buf[o->pos < o->len ? o->pos : o->len - 1] = '\0';
}

static void out_s(opt_out_t *o, const char *s) {
  out_n(o, s, strlen(s));
}

static void out_u64(opt_out_t *o, uint64_t v) {
  char d[20];
  size_t n = 0;
  do d[sizeof d - ++n] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  out_n(o, d + sizeof d - n, n);
}

/* A byte count, with the largest binary suffix that divides it (64G, 1536K). */
static void out_size(opt_out_t *o, uint64_t v) {
  static const char suffix[] = "KMGTPE";
  int s = -1;
  while (v != 0 && s < 5 && (v & 1023) == 0) v >>= 10, s++;
  out_u64(o, v);
  if (s >= 0) out_n(o, &suffix[s], 1);
}

/* 'text', cut at OPT_QUOTE_MAX with "...", control characters as '?'. */
static void out_quoted(opt_out_t *o, const char *s, size_t n) {
  out_n(o, "'", 1);
  for (size_t i = 0; i < n && i < OPT_QUOTE_MAX; i++)
    out_n(o, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? "?" : &s[i], 1);
  if (n > OPT_QUOTE_MAX) out_s(o, "...");
  out_n(o, "'", 1);
}

/* ---- what a key takes ---- */

static bool opt_unbounded(const hl_opt_t *o) {
  return o->max == UINT64_MAX;
}

static void out_number(opt_out_t *o, const hl_opt_t *opt, uint64_t v) {
  if (opt->kind == HL_OPT_SIZE)
    out_size(o, v);
  else
    out_u64(o, v);
}

/* The words, separated by `sep` (and `last` before the last one). */
static void out_words(opt_out_t *o, const hl_opt_word_t *w, const char *sep, const char *last) {
  for (size_t i = 0; w[i].word; i++) {
    if (i) out_s(o, w[i + 1].word || !last ? sep : last);
    out_s(o, w[i].word);
  }
}

/* For messages: "0 or 1", "an integer 0..65536", "a power of two 128..64K
   (bytes; suffix k, m or g)", "all, none or a byte size >= 1 (suffix k, m or g)". */
static void out_expected(opt_out_t *o, const hl_opt_t *opt) {
  if (opt->kind == HL_OPT_BOOL) {
    out_s(o, "0 or 1");
    return;
  }
  if (opt->kind == HL_OPT_ENUM) {
    if (opt->words) out_words(o, opt->words, ", ", " or ");
    return;
  }
  if (opt->words) {
    out_words(o, opt->words, ", ", NULL);
    out_s(o, " or ");
  }
  bool size = opt->kind == HL_OPT_SIZE;
  out_s(o, opt->flags & HL_OPT_POW2 ? "a power of two" : size ? "a byte size" : "an integer");
  if (!opt_unbounded(opt)) {
    out_s(o, " ");
    out_number(o, opt, opt->min);
    out_s(o, "..");
    out_number(o, opt, opt->max);
  } else if (opt->min > 0) {
    out_s(o, " >= ");
    out_number(o, opt, opt->min);
  }
  if (size)
    out_s(o, opt->flags & HL_OPT_POW2 ? " (bytes; suffix k, m or g)" : " (suffix k, m or g)");
}

/* For help: "0|1", "0..65536", "128..64K (power of two)", "all|none|BYTES>=1". */
static void out_syntax(opt_out_t *o, const hl_opt_t *opt) {
  if (opt->kind == HL_OPT_BOOL) {
    out_s(o, "0|1");
    return;
  }
  if (opt->words) out_words(o, opt->words, "|", NULL);
  if (opt->kind == HL_OPT_ENUM) return;
  if (opt->words) out_s(o, "|");
  if (!opt_unbounded(opt)) {
    out_number(o, opt, opt->min);
    out_s(o, "..");
    out_number(o, opt, opt->max);
  } else {
    out_s(o, opt->kind == HL_OPT_SIZE ? "BYTES" : "N");
    if (opt->min > 0) {
      out_s(o, ">=");
      out_number(o, opt, opt->min);
    }
  }
  if (opt->flags & HL_OPT_POW2) out_s(o, " (power of two)");
}

void hl_opt_syntax(const hl_opt_t *opt, char *buf, size_t len) {
  opt_out_t o = {buf, len, 0};
  out_n(&o, "", 0);
  out_syntax(&o, opt);
}

/* ---- values ---- */

typedef enum { VAL_OK, VAL_BAD, VAL_BIG } val_rc_t;

/* Decimal digits, then (sizes) one suffix; nothing else, nothing empty. */
static val_rc_t opt_number(const hl_opt_t *opt, const char *v, size_t n, uint64_t *out) {
  size_t i = 0;
  uint64_t x = 0;
  bool big = false;
  for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
    unsigned d = (unsigned)(v[i] - '0');
    if (x > (UINT64_MAX - d) / 10) big = true;
    x = x * 10 + d;
  }
  if (i == 0) return VAL_BAD;
  if (i < n && opt->kind == HL_OPT_SIZE) {
    unsigned shift = 0;
    switch (v[i]) {
      case 'k':
      case 'K':
        shift = 10;
        break;
      case 'm':
      case 'M':
        shift = 20;
        break;
      case 'g':
      case 'G':
        shift = 30;
        break;
      default:
        return VAL_BAD;
    }
    if (x > (UINT64_MAX >> shift)) big = true;
    x <<= shift;
    i++;
  }
  if (i != n) return VAL_BAD;
  if (big) return VAL_BIG;
  *out = x;
  return VAL_OK;
}

static val_rc_t opt_value(const hl_opt_t *opt, const char *v, size_t n, uint64_t *out) {
  if (opt->words)
    for (size_t i = 0; opt->words[i].word; i++)
      if (strlen(opt->words[i].word) == n && memcmp(opt->words[i].word, v, n) == 0) {
        *out = opt->words[i].value;
        return VAL_OK;
      }
  if (opt->kind == HL_OPT_ENUM) return VAL_BAD;
  uint64_t x;
  val_rc_t rc = opt_number(opt, v, n, &x);
  if (rc != VAL_OK) return rc;
  uint64_t min = opt->kind == HL_OPT_BOOL ? 0 : opt->min,
           max = opt->kind == HL_OPT_BOOL ? 1 : opt->max;
  if (x < min || x > max) return VAL_BAD;
  if ((opt->flags & HL_OPT_POW2) && (x & (x - 1)) != 0) return VAL_BAD;
  *out = x;
  return VAL_OK;
}

static void opt_store(const hl_opt_t *opt, void *conf, uint64_t v) {
  if (opt->set) {
    opt->set(conf, v);
    return;
  }
  char *p = (char *)conf + opt->offset;
  switch (opt->width) {
    case 1: {
      uint8_t x = (uint8_t)v;
      memcpy(p, &x, 1);
      break;
    }
    case 2: {
      uint16_t x = (uint16_t)v;
      memcpy(p, &x, 2);
      break;
    }
    case 4: {
      uint32_t x = (uint32_t)v;
      memcpy(p, &x, 4);
      break;
    }
    default: {
      uint64_t x = v;
      memcpy(p, &x, 8);
      break;
    }
  }
}

/* ---- the parser ---- */

static const char *opt_table_name(const hl_opt_table_t *t) {
  return t->name ? t->name : "allocator";
}

static int opt_fail_unknown(opt_out_t *o, const hl_opt_table_t *t, const char *k, size_t kn) {
  const char *name = opt_table_name(t);
  out_s(o, name);
  out_s(o, ": unknown option ");
  out_quoted(o, k, kn);
  if (t->count == 0) {
    out_s(o, " (");
    out_s(o, name);
    out_s(o, " takes no options");
    if (t->none) {
      out_s(o, "; ");
      out_s(o, t->none);
    }
    out_s(o, ")");
  } else {
    out_s(o, " (known: ");
    for (size_t i = 0; i < t->count; i++) {
      if (i) out_s(o, ", ");
      out_s(o, t->opts[i].name);
    }
    out_s(o, ")");
  }
  return EINVAL;
}

int hl_opt_parse(const hl_opt_table_t *t, const char *options, void *conf, char *why,
                 size_t why_len) {
  opt_out_t o = {why, why_len, 0};
  out_n(&o, "", 0);
  if (options == NULL || *options == '\0') return 0;
  const char *name = opt_table_name(t);
  uint64_t seen = 0;
  const char *s = options;
  for (;;) {
    size_t len = strcspn(s, ",");
    const char *eq = memchr(s, '=', len);
    if (len == 0) {
      out_s(&o, name);
      out_s(&o, ": empty option in ");
      out_quoted(&o, options, strlen(options));
      out_s(&o, " (expected key=value,key=value, no comma at either end or twice in a row)");
      return EINVAL;
    }
    if (eq == NULL || eq == s) {
      out_s(&o, name);
      out_s(&o, ": expected key=value, got ");
      out_quoted(&o, s, len);
      return EINVAL;
    }
    size_t kn = (size_t)(eq - s), vn = len - kn - 1;
    size_t i = 0;
    while (i < t->count && !(strlen(t->opts[i].name) == kn && memcmp(t->opts[i].name, s, kn) == 0))
      i++;
    if (i == t->count) return opt_fail_unknown(&o, t, s, kn);
    const hl_opt_t *opt = &t->opts[i];
    if (i < 64 && (seen >> i & 1)) {
      out_s(&o, name);
      out_s(&o, ": option '");
      out_s(&o, opt->name);
      out_s(&o, "' given twice");
      return EINVAL;
    }
    if (i < 64) seen |= (uint64_t)1 << i;
    uint64_t v = 0;
    val_rc_t rc = opt_value(opt, eq + 1, vn, &v);
    if (rc != VAL_OK) {
      out_s(&o, name);
      out_s(&o, ": option '");
      out_s(&o, opt->name);
      out_s(&o, "': expected ");
      out_expected(&o, opt);
      out_s(&o, ", got ");
      out_quoted(&o, eq + 1, vn);
      if (rc == VAL_BIG) out_s(&o, " (too large)");
      return EINVAL;
    }
    if (conf) opt_store(opt, conf, v);
    if (s[len] == '\0') return 0;
    s += len + 1;
  }
}

/* ---- the table itself ---- */

static bool opt_name_ok(const char *s) {
  if (s == NULL || *s == '\0') return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return false;
  return true;
}

static bool opt_bad(opt_out_t *o, const hl_opt_table_t *t, const hl_opt_t *opt, const char *what) {
  out_s(o, opt_table_name(t));
  out_s(o, ": option table: ");
  if (opt) {
    out_s(o, "'");
    out_s(o, opt->name ? opt->name : "(null)");
    out_s(o, "': ");
  }
  out_s(o, what);
  return false;
}

bool hl_opt_table_ok(const hl_opt_table_t *t, char *why, size_t why_len) {
  opt_out_t o = {why, why_len, 0};
  out_n(&o, "", 0);
  if (t == NULL || !t->name || !*t->name)
    return opt_bad(&o, t ? t : &(hl_opt_table_t){0}, NULL, "no name");
  if (t->count > 64) return opt_bad(&o, t, NULL, "more than 64 keys");
  if (t->count && !t->opts) return opt_bad(&o, t, NULL, "a count without keys");
  for (size_t i = 0; i < t->count; i++) {
    const hl_opt_t *opt = &t->opts[i];
    if (!opt_name_ok(opt->name)) return opt_bad(&o, t, opt, "name not [a-z0-9_]+");
    for (size_t j = 0; j < i; j++)
      if (strcmp(t->opts[j].name, opt->name) == 0) return opt_bad(&o, t, opt, "twice in the table");
    if (!opt->help || !*opt->help) return opt_bad(&o, t, opt, "no help");
    if (opt->kind > HL_OPT_ENUM) return opt_bad(&o, t, opt, "unknown kind");
    if (opt->kind == HL_OPT_ENUM && (!opt->words || !opt->words[0].word))
      return opt_bad(&o, t, opt, "an enum without words");
    if (opt->words)
      for (size_t w = 0; opt->words[w].word; w++)
        if (!opt_name_ok(opt->words[w].word)) return opt_bad(&o, t, opt, "a word not [a-z0-9_]+");
    uint64_t max = opt->kind == HL_OPT_BOOL ? 1 : opt->max;
    if (opt->kind != HL_OPT_BOOL && opt->kind != HL_OPT_ENUM && opt->min > opt->max)
      return opt_bad(&o, t, opt, "min above max");
    if (opt->set) continue;
    if (opt->width != 1 && opt->width != 2 && opt->width != 4 && opt->width != 8)
      return opt_bad(&o, t, opt, "width not 1, 2, 4 or 8 bytes, and no setter");
    uint64_t cap = opt->width == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * opt->width)) - 1;
    if (opt->kind != HL_OPT_ENUM && max > cap)
      return opt_bad(&o, t, opt, "max beyond the field's width");
    if (opt->words)
      for (size_t w = 0; opt->words[w].word; w++)
        if (opt->words[w].value > cap)
          return opt_bad(&o, t, opt, "a word's value beyond the width");
  }
  return true;
}

/* ---- help ---- */

size_t hl_opt_help(const hl_opt_table_t *t, char *buf, size_t len) {
  opt_out_t o = {buf, len, 0};
  out_n(&o, "", 0);
  const char *name = opt_table_name(t);
  if (t->count == 0) {
    out_s(&o, name);
    out_s(&o, " takes no options");
    if (t->none) {
      out_s(&o, "; ");
      out_s(&o, t->none);
    }
    out_s(&o, "\n");
    return o.pos;
  }
  out_s(&o, name);
  out_s(&o, " options (key=value,key=value):\n");
  /* the help column: after the longest "  key=SYNTAX", within reason */
  size_t col = 0;
  for (size_t i = 0; i < t->count; i++) {
    opt_out_t probe = {NULL, 0, 0};
    out_syntax(&probe, &t->opts[i]);
    size_t w = 2 + strlen(t->opts[i].name) + 1 + probe.pos + 2;
    if (w > col) col = w;
  }
  if (col > HELP_COLUMN_MAX) col = HELP_COLUMN_MAX;
  for (size_t i = 0; i < t->count; i++) {
    const hl_opt_t *opt = &t->opts[i];
    size_t start = o.pos;
    out_s(&o, "  ");
    out_s(&o, opt->name);
    out_s(&o, "=");
    out_syntax(&o, opt);
    size_t used = o.pos - start;
    if (used + 2 > col) {
      out_s(&o, "\n");
      used = 0;
    }
    for (; used < col; used++) out_n(&o, " ", 1);
    out_s(&o, opt->help);
    out_s(&o, "\n");
  }
  return o.pos;
}
