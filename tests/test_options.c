/* ----------------------------------------------------------------------------
  tests/test_options.c: the allocator-options parser (alloc/options.h) on a
  table of every kind (0|1, integers, byte sizes with k/K/m/M/g/G, words,
  powers of two, a setter), its bounds, overflow, the malformed strings
  (missing '=', empty key, empty entries, a trailing comma, a key twice),
  messages that name the key and stay inside their buffer; then every
  registered allocator: a sound table, unknown keys refused by the check and
  by heap_init with the reason in hl_heap_t.why, valid options accepted, and
  the parsers the allocators keep (arena_opts_parse, stable_config_parse)
  reading the same strings.
---------------------------------------------------------------------------- */
#include "alloc/alloc.h"
#include "alloc/arena/arena.h"
#include "alloc/options.h"
#include "alloc/stable/stable.h"
#include "tests/check.h"
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

typedef struct conf_s {
  bool flag;
  uint8_t small;
  uint16_t mid;
  uint32_t count;
  size_t bytes;
  uint64_t big;
  size_t card;
  int mode;
  size_t pin;
  bool pin_all;
} conf_t;

static void set_pin(void *c, uint64_t v) {
  conf_t *conf = c;
  conf->pin_all = v == UINT64_MAX;
  conf->pin = v == UINT64_MAX ? 0 : (size_t)v;
}

static const hl_opt_word_t mode_words[] = {{"fast", 1}, {"slow", 2}, {"off", 0}, {NULL, 0}};
static const hl_opt_word_t pin_words[] = {{"all", UINT64_MAX}, {"none", 0}, {NULL, 0}};

static const hl_opt_t test_opts[] = {
    {.name = "flag", .kind = HL_OPT_BOOL, HL_OPT_FIELD(conf_t, flag), .help = "a flag"},
    {.name = "small",
     .kind = HL_OPT_UINT,
     .min = 2,
     .max = 200,
     HL_OPT_FIELD(conf_t, small),
     .help = "a byte"},
    {.name = "mid",
     .kind = HL_OPT_UINT,
     .max = 65535,
     HL_OPT_FIELD(conf_t, mid),
     .help = "16 bits"},
    {.name = "count",
     .kind = HL_OPT_UINT,
     .max = 65536,
     HL_OPT_FIELD(conf_t, count),
     .help = "an integer"},
    {.name = "bytes",
     .kind = HL_OPT_SIZE,
     .max = SIZE_MAX,
     HL_OPT_FIELD(conf_t, bytes),
     .help = "a size"},
    {.name = "big",
     .kind = HL_OPT_UINT,
     .max = UINT64_MAX,
     HL_OPT_FIELD(conf_t, big),
     .help = "any integer"},
    {.name = "card",
     .kind = HL_OPT_SIZE,
     .min = 128,
     .max = 65536,
     .flags = HL_OPT_POW2,
     HL_OPT_FIELD(conf_t, card),
     .help = "a power of two"},
    {.name = "mode",
     .kind = HL_OPT_ENUM,
     .words = mode_words,
     HL_OPT_FIELD(conf_t, mode),
     .help = "one of three"},
    {.name = "pin",
     .kind = HL_OPT_SIZE,
     .min = 1,
     .max = (uint64_t)1 << 40,
     .set = set_pin,
     .words = pin_words,
     .help = "words or a size"},
};
static const hl_opt_table_t table = {
    .name = "tbl", .opts = test_opts, .count = sizeof test_opts / sizeof test_opts[0]};
static const hl_opt_table_t empty = {.name = "bare", .none = "tune it elsewhere"};

static conf_t conf;
static char why[256];

/* parse into a fresh conf (all 0x5a bytes, so untouched fields show) */
static int parse(const char *s) {
  memset(&conf, 0x5a, sizeof conf);
  return hl_opt_parse(&table, s, &conf, why, sizeof why);
}

static bool refused(const char *s, const char *needle) {
  return parse(s) == EINVAL && strstr(why, needle) != NULL;
}

static void test_kinds(void) {
  CHECK(parse("flag=1") == 0 && conf.flag == true, "flag=1: %s", why);
  CHECK(parse("flag=0") == 0 && conf.flag == false, "flag=0: %s", why);
  CHECK(refused("flag=2", "option 'flag': expected 0 or 1, got '2'"), "flag=2: %s", why);
  CHECK(refused("flag=yes", "expected 0 or 1, got 'yes'"), "flag=yes: %s", why);
  CHECK(parse("small=2") == 0 && conf.small == 2, "small=2 (min): %s", why);
  CHECK(parse("small=200") == 0 && conf.small == 200, "small=200 (max): %s", why);
  CHECK(refused("small=1", "option 'small': expected an integer 2..200, got '1'"), "below min: %s",
        why);
  CHECK(refused("small=201", "expected an integer 2..200, got '201'"), "above max: %s", why);
  CHECK(parse("mid=65535") == 0 && conf.mid == 65535, "16-bit field: %s", why);
  CHECK(parse("count=65536") == 0 && conf.count == 65536, "32-bit field: %s", why);
  CHECK(parse("count=007") == 0 && conf.count == 7, "leading zeros: %s", why);
  CHECK(refused("count=70000", "option 'count': expected an integer 0..65536, got '70000'"),
        "count=70000: %s", why);
  CHECK(refused("count=1k", "expected an integer 0..65536, got '1k'"), "no suffix on integers: %s",
        why);
  CHECK(parse("big=18446744073709551615") == 0 && conf.big == UINT64_MAX, "UINT64_MAX: %s", why);
  CHECK(refused("big=18446744073709551616", "(too large)"), "UINT64_MAX + 1: %s", why);
  CHECK(refused("big=99999999999999999999999", "(too large)"), "far too large: %s", why);
  CHECK(refused("mode=medium", "option 'mode': expected fast, slow or off, got 'medium'"),
        "enum: %s", why);
  CHECK(parse("mode=slow") == 0 && conf.mode == 2, "enum word: %s", why);
  CHECK(parse("mode=off") == 0 && conf.mode == 0, "enum word 0: %s", why);
  CHECK(refused("mode=1", "expected fast, slow or off"), "enum takes no number: %s", why);
}

static void test_sizes(void) {
  static const struct {
    const char *s;
    uint64_t want;
  } ok[] = {{"bytes=0", 0},
            {"bytes=4096", 4096},
            {"bytes=1k", 1024},
            {"bytes=1K", 1024},
            {"bytes=3m", (uint64_t)3 << 20},
            {"bytes=3M", (uint64_t)3 << 20},
            {"bytes=2g", (uint64_t)2 << 30},
            {"bytes=64G", (uint64_t)64 << 30},
            {"bytes=17179869183G", (((uint64_t)1 << 34) - 1) << 30}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    CHECK(parse(ok[i].s) == 0 && conf.bytes == ok[i].want, "%s: %zu (%s)", ok[i].s, conf.bytes,
          why);
  const char *bad[] = {"bytes=",     "bytes=k",   "bytes=1t",  "bytes=1kb", "bytes=1KK",
                       "bytes=-1",   "bytes=+1",  "bytes= 1",  "bytes=1 ",  "bytes=0x10",
                       "bytes=1.5M", "bytes=1e3", "bytes=1kB", "bytes=K1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK(refused(bad[i], "option 'bytes': expected a byte size (suffix k, m or g), got '"),
          "%s: %s", bad[i], why);
  CHECK(refused("bytes=17179869184G", "(too large)"), "2^64 by suffix: %s", why);
  CHECK(refused("bytes=18446744073709551616", "(too large)"), "2^64 in digits: %s", why);
  CHECK(parse("card=128") == 0 && conf.card == 128, "pow2 min: %s", why);
  CHECK(parse("card=64k") == 0 && conf.card == 65536, "pow2 max by suffix: %s", why);
  CHECK(refused("card=1000", "option 'card': expected a power of two 128..64K"), "not pow2: %s",
        why);
  CHECK(refused("card=64", "a power of two 128..64K"), "pow2 below min: %s", why);
  CHECK(refused("card=128K", "a power of two 128..64K"), "pow2 above max: %s", why);
  CHECK(parse("pin=all") == 0 && conf.pin_all && conf.pin == 0, "setter, word: %s", why);
  CHECK(parse("pin=none") == 0 && !conf.pin_all && conf.pin == 0, "setter, word 0: %s", why);
  CHECK(parse("pin=2K") == 0 && !conf.pin_all && conf.pin == 2048, "setter, size: %s", why);
  CHECK(refused("pin=0", "option 'pin': expected all, none or a byte size 1..1T"), "pin=0: %s",
        why);
  CHECK(refused("pin=some", "expected all, none or a byte size"), "pin=some: %s", why);
}

static void test_syntax(void) {
  /* the empty string and NULL are no options: nothing written */
  CHECK(parse("") == 0 && why[0] == '\0' && conf.count == 0x5a5a5a5a, "empty string: %s", why);
  CHECK(parse(NULL) == 0 && conf.count == 0x5a5a5a5a, "NULL: %s", why);
  /* only the keys given are written */
  CHECK(parse("count=3,flag=1") == 0 && conf.count == 3 && conf.flag && conf.mid == 0x5a5a &&
            conf.bytes == (size_t)0x5a5a5a5a5a5a5a5aull,
        "two keys, the rest untouched: %s", why);
  CHECK(parse("bytes=1M,card=256,mode=fast,small=9,mid=1,big=2,flag=0,count=4,pin=8") == 0,
        "every key: %s", why);
  CHECK(refused("nosuchkey=1",
                "tbl: unknown option 'nosuchkey' (known: flag, small, mid, count, bytes, big, "
                "card, mode, pin)"),
        "unknown key: %s", why);
  CHECK(refused("count", "tbl: expected key=value, got 'count'"), "missing '=': %s", why);
  CHECK(refused("=1", "tbl: expected key=value, got '=1'"), "empty key: %s", why);
  CHECK(refused("count=1,", "tbl: empty option in 'count=1,'"), "trailing comma: %s", why);
  CHECK(refused(",count=1", "empty option"), "leading comma: %s", why);
  CHECK(refused("count=1,,flag=1", "empty option"), "two commas: %s", why);
  CHECK(refused(",", "empty option"), "a lone comma: %s", why);
  CHECK(refused("count=1,count=2", "tbl: option 'count' given twice"), "duplicate: %s", why);
  CHECK(refused("Count=1", "unknown option 'Count'"), "keys are case-sensitive: %s", why);
  CHECK(refused("count =1", "unknown option 'count '"), "no blanks around keys: %s", why);
  CHECK(refused("count=1,nosuch=2", "unknown option 'nosuch'"), "second entry checked: %s", why);
  CHECK(refused("count=1,flag=7", "option 'flag'"), "second value checked: %s", why);
  CHECK(refused("count==1", "got '=1'"), "'=' inside the value: %s", why);
  /* check only: conf NULL */
  CHECK(hl_opt_parse(&table, "count=3,pin=all", NULL, why, sizeof why) == 0, "check only: %s", why);
  CHECK(hl_opt_parse(&table, "count=x", NULL, why, sizeof why) == EINVAL && strstr(why, "'count'"),
        "check only refuses: %s", why);
  /* a table without keys */
  CHECK(hl_opt_parse(&empty, "", NULL, why, sizeof why) == 0, "no options, none given");
  CHECK(hl_opt_parse(&empty, "x=1", NULL, why, sizeof why) == EINVAL &&
            strcmp(why, "bare: unknown option 'x' (bare takes no options; tune it elsewhere)") == 0,
        "no options: %s", why);
  /* long keys and values are cut in messages, control characters shown as '?' */
  char longkey[300];
  memset(longkey, 'k', sizeof longkey - 3);
  memcpy(longkey + sizeof longkey - 3, "=1", 3);
  CHECK(refused(longkey, "...'") && strlen(why) < 200, "long key quoted short: %s", why);
  CHECK(refused("count=1\x01", "got '1?'"), "control character: %s", why);
}

static void test_buffers(void) {
  char small[12];
  memset(small, 'x', sizeof small);
  CHECK(hl_opt_parse(&table, "nosuchkey=1", NULL, small, 8) == EINVAL && strlen(small) == 7 &&
            small[8] == 'x' && strncmp(small, "tbl: un", 7) == 0,
        "cut to its buffer: '%s'", small);
  CHECK(hl_opt_parse(&table, "nosuchkey=1", NULL, small, 1) == EINVAL && small[0] == '\0',
        "a one-byte buffer");
  CHECK(hl_opt_parse(&table, "nosuchkey=1", NULL, NULL, 0) == EINVAL, "no buffer at all");
  char help[4096];
  size_t need = hl_opt_help(&table, help, sizeof help);
  CHECK(need == strlen(help) && strstr(help, "tbl options") && strstr(help, "  count=0..65536") &&
            strstr(help, "card=128..64K (power of two)") && strstr(help, "pin=all|none|1..1T") &&
            strstr(help, "mode=fast|slow|off") && strstr(help, "bytes=BYTES") &&
            strstr(help, "flag=0|1") && strstr(help, "a power of two"),
        "help:\n%s", help);
  CHECK(hl_opt_help(&table, small, sizeof small) == need && strlen(small) == sizeof small - 1,
        "help cut, length still told");
  hl_opt_help(&empty, help, sizeof help);
  CHECK(strcmp(help, "bare takes no options; tune it elsewhere\n") == 0, "help, no keys: %s", help);
  char syn[64];
  hl_opt_syntax(&test_opts[1], syn, sizeof syn);
  CHECK(strcmp(syn, "2..200") == 0, "syntax: %s", syn);
}

static void test_table_checks(void) {
  CHECK(hl_opt_table_ok(&table, why, sizeof why), "the test table: %s", why);
  CHECK(hl_opt_table_ok(&empty, why, sizeof why), "a table without keys: %s", why);
  hl_opt_t bad[] = {
      {.name = "a", .kind = HL_OPT_UINT, .max = 300, .offset = 0, .width = 1, .help = "x"}};
  hl_opt_table_t t = {.name = "t", .opts = bad, .count = 1};
  CHECK(!hl_opt_table_ok(&t, why, sizeof why) && strstr(why, "width"), "max beyond width: %s", why);
  bad[0].max = 200, bad[0].width = 3;
  CHECK(!hl_opt_table_ok(&t, why, sizeof why), "width 3: %s", why);
  bad[0].width = 1, bad[0].name = "A-b";
  CHECK(!hl_opt_table_ok(&t, why, sizeof why) && strstr(why, "name"), "bad name: %s", why);
  bad[0].name = "a", bad[0].min = 201;
  CHECK(!hl_opt_table_ok(&t, why, sizeof why) && strstr(why, "min"), "min above max: %s", why);
  bad[0].min = 0, bad[0].kind = HL_OPT_ENUM;
  CHECK(!hl_opt_table_ok(&t, why, sizeof why) && strstr(why, "enum"), "enum without words: %s",
        why);
  bad[0].kind = HL_OPT_UINT, bad[0].help = NULL;
  CHECK(!hl_opt_table_ok(&t, why, sizeof why) && strstr(why, "help"), "no help: %s", why);
  hl_opt_t twice[] = {{.name = "a", .kind = HL_OPT_BOOL, .width = 1, .help = "x"},
                      {.name = "a", .kind = HL_OPT_BOOL, .width = 1, .help = "y"}};
  hl_opt_table_t t2 = {.name = "t", .opts = twice, .count = 2};
  CHECK(!hl_opt_table_ok(&t2, why, sizeof why) && strstr(why, "twice"), "a key twice: %s", why);
}

/* Every allocator in the registry: a sound table; unknown keys refused with a
   message naming the key and the allocator, by the check and by heap_init. */
static void test_registry(void) {
  for (size_t i = 0; i < hl_alloc_count(); i++) {
    const hl_allocator_t *a = hl_alloc_at(i);
    CHECK(a->options != NULL, "%s names its options table (even an empty one)", a->name);
    if (a->options) {
      CHECK(hl_opt_table_ok(a->options, why, sizeof why), "%s: %s", a->name, why);
      CHECK(strcmp(a->options->name, a->name) == 0, "%s: its table is named '%s'", a->name,
            a->options->name);
    }
    CHECK(hl_alloc_options_check(a, NULL, why, sizeof why) == 0, "%s: no options", a->name);
    CHECK(hl_alloc_options_check(a, "", why, sizeof why) == 0, "%s: empty options", a->name);
    CHECK(hl_alloc_options_check(a, "nosuchkey=1", why, sizeof why) == EINVAL &&
              strstr(why, "unknown option 'nosuchkey'") &&
              strncmp(why, a->name, strlen(a->name)) == 0,
          "%s: %s", a->name, why);
    hl_heap_t heap = {.allocator = a, .config = {.threads = 1, .options = "nosuchkey=1"}};
    CHECK(a->heap_init(&heap) == EINVAL && strstr(heap.why, "'nosuchkey'"),
          "%s: heap_init refuses: '%s'", a->name, heap.why);
    char help[4096];
    size_t need = hl_alloc_options_help(a, help, sizeof help);
    CHECK(need > 0 && need < sizeof help && strncmp(help, a->name, strlen(a->name)) == 0,
          "%s: help", a->name);
    /* the help lists every key; an allocator with keys takes `checked` */
    size_t n = a->options ? a->options->count : 0;
    for (size_t k = 0; k < n; k++) {
      char line[64];
      snprintf(line, sizeof line, "  %s=", a->options->opts[k].name);
      CHECK(strstr(help, line) != NULL, "%s: help lists %s", a->name, line);
    }
    if (n) {
      bool checked = false;
      for (size_t k = 0; k < n; k++) checked |= strcmp(a->options->opts[k].name, "checked") == 0;
      CHECK(checked, "%s: its checked mode is called 'checked'", a->name);
    }
  }
  /* a test allocator without a table takes no options */
  hl_allocator_t bare = {.name = "bare"};
  CHECK(hl_alloc_options_check(&bare, "a=1", why, sizeof why) == EINVAL &&
            strstr(why, "bare takes no options"),
        "no table: %s", why);
}

/* Valid options through heap_init, and the allocators' own parsers. */
static void test_allocators(void) {
  static const struct {
    const char *alloc, *options;
  } good[] = {{"ravioli", "keep=4,checked=1,batch=8"},
              {"ravioli8", "hysteresis=0"},
              {"ravioli16", "keep=1024"},
              {"arena", "reserve=1g,arenas=2,pools=1,checked=1,dirty_min=4M,lg_dirty=5"},
              {"stable", "card=256,pin=all,minor=4k,major=1M,cohorts=2,raw=0,checked=1,manual=0"},
              {"unit", ""},
              {"null", NULL}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    const hl_allocator_t *a = hl_alloc_find(good[i].alloc);
    CHECK(a != NULL, "%s registered", good[i].alloc);
    if (!a) continue;
    hl_heap_t heap = {.allocator = a, .config = {.threads = 1, .options = good[i].options}};
    int rc = a->heap_init(&heap);
    CHECK(rc == 0, "%s --options %s: %d %s", good[i].alloc, good[i].options, rc, heap.why);
    if (rc == 0) a->heap_done(&heap);
  }
  const hl_allocator_t *rv = hl_alloc_find("ravioli");
  hl_heap_t h = {.allocator = rv, .config = {.options = "keep=70000"}};
  CHECK(rv->heap_init(&h) == EINVAL &&
            strcmp(h.why, "ravioli: option 'keep': expected an integer 0..65536, got '70000'") == 0,
        "ravioli keep=70000: %s", h.why);
  h = (hl_heap_t){.allocator = rv, .config = {.page_size = 3000}};
  CHECK(rv->heap_init(&h) == EINVAL && strstr(h.why, "page size 3000"), "ravioli page size: %s",
        h.why);
  hl_heap_t h16 = {.allocator = hl_alloc_find("ravioli16"), .config = {.options = "batch=0"}};
  CHECK(h16.allocator->heap_init(&h16) == EINVAL &&
            strncmp(h16.why, "ravioli16: option 'batch'", 25) == 0,
        "ravioli16 names itself: %s", h16.why);
  const hl_allocator_t *ar = hl_alloc_find("arena");
  h = (hl_heap_t){.allocator = ar, .config = {.options = "chek=1"}};
  CHECK(ar->heap_init(&h) == EINVAL && strstr(h.why, "arena: unknown option 'chek' (known: "),
        "arena chek=1: %s", h.why);
  h = (hl_heap_t){.allocator = ar, .config = {.page_size = 4096}};
  CHECK(ar->heap_init(&h) == EINVAL && strstr(h.why, "page size"), "arena page size: %s", h.why);

  arena_opts_t ao;
  CHECK(arena_opts_parse(&ao, "reserve=2g,dirty_min=4k,prot_none=1,purge=0", why, sizeof why) ==
                0 &&
            ao.reserve == ((size_t)2 << 30) && ao.dirty_min == 4096 && ao.prot_none == 1 &&
            !ao.purge && ao.lg_dirty == 3,
        "arena_opts_parse: %s", why);
  CHECK(arena_opts_parse(&ao, NULL, why, sizeof why) == 0 && ao.prot_none == -1 && ao.purge,
        "arena defaults");
  CHECK(arena_opts_parse(&ao, "arenas=1k", why, sizeof why) == EINVAL &&
            strstr(why, "option 'arenas': expected an integer 1..1024, got '1k'"),
        "arena counts take no suffix: %s", why);
  stable_config_t sc;
  CHECK(stable_config_parse(&sc, "pin=all", why, sizeof why) == 0 && sc.pin_all, "stable pin=all");
  CHECK(stable_config_parse(&sc, "pin=128", why, sizeof why) == 0 && !sc.pin_all &&
            sc.pin_min == 128 && sc.cohorts == 7,
        "stable pin=128");
  CHECK(stable_config_parse(&sc, "check=1", why, sizeof why) == EINVAL &&
            strstr(why, "unknown option 'check'"),
        "stable: the old spelling 'check' is gone: %s", why);
  CHECK(stable_config_parse(&sc, "raw", why, sizeof why) == EINVAL &&
            strstr(why, "expected key=value"),
        "stable: a bare key is refused: %s", why);
}

int main(void) {
  test_kinds();
  test_sizes();
  test_syntax();
  test_buffers();
  test_table_checks();
  test_registry();
  test_allocators();
  return check_summary("test_options");
}
