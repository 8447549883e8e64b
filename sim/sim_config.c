/* ----------------------------------------------------------------------------
  sim/sim_config.c: the simulator's configuration: defaults, the `key = value`
  file format (sim/README.md lists the keys), and the whole-config check.

  Errors name the file and line, and for geometry the key at fault, because a
  config is usually a copy of a preset with one number changed.
---------------------------------------------------------------------------- */
#include "sim/sim_internal.h"
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <strings.h>

static int sim_config_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (err != NULL && errlen > 0) vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

/* Intel Skylake client (e.g. Core i7-6700K): see sim/presets/skylake.conf. */
void sim_config_default(sim_config_t *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  snprintf(cfg->name, sizeof(cfg->name), "skylake");
  cfg->cores = 4;
  cfg->line = 64;
  cfg->page = SIM_PAGE_4K;
  cfg->l1d = (sim_level_config_t){32 * 1024, 8, SIM_POLICY_PLRU};
  cfg->l2 = (sim_level_config_t){256 * 1024, 4, SIM_POLICY_PLRU};
  cfg->llc = (sim_level_config_t){8 * 1024 * 1024, 16, SIM_POLICY_PLRU};
  cfg->l1d_prefetch = (sim_prefetch_config_t){SIM_PREFETCH_NEXT_LINE, 1, 0, 0};
  cfg->l2_prefetch = (sim_prefetch_config_t){SIM_PREFETCH_STREAM, 2, 32, 20};
  cfg->phys = true;
  cfg->phys_bits = 40;
  cfg->phys_seed = 1;
  cfg->dtlb[SIM_PAGE_4K] = (sim_tlb_config_t){64, 4};
  cfg->dtlb[SIM_PAGE_2M] = (sim_tlb_config_t){32, 4};
  cfg->dtlb[SIM_PAGE_1G] = (sim_tlb_config_t){4, 4};
  cfg->stlb[SIM_PAGE_4K] = (sim_tlb_config_t){1536, 12};
  cfg->stlb[SIM_PAGE_2M] = (sim_tlb_config_t){1536, 12};
  cfg->stlb[SIM_PAGE_1G] = (sim_tlb_config_t){16, 4};
}

static const char *const sim_page_names[SIM_PAGE_KINDS] = {"4K", "2M", "1G"};

uint64_t sim_page_bytes(uint32_t kind) {
  static const uint64_t bytes[SIM_PAGE_KINDS] = {UINT64_C(1) << 12, UINT64_C(1) << 21,
                                                 UINT64_C(1) << 30};
  return kind < SIM_PAGE_KINDS ? bytes[kind] : 0;
}

/* Spellings and callers: sim/sim.h. */
bool sim_size_parse(const char *text, uint64_t *out) {
  if (!isdigit((unsigned char)text[0])) return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0) return false;
  unsigned shift = 0;
  switch (toupper((unsigned char)*end)) {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    default:
      break;
  }
  if (shift != 0) {
    end++;
    if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0) end += strlen(end);
  }
  if (*end != '\0') return false;
  if (shift != 0 && v > (UINT64_MAX >> shift)) return false;
  *out = (uint64_t)v << shift;
  return true;
}

int sim_page_parse(const char *text) {
  uint64_t bytes;
  if (!sim_size_parse(text, &bytes)) return -1;
  for (int k = 0; k < SIM_PAGE_KINDS; k++) {
    if (bytes == sim_page_bytes((uint32_t)k)) return k;
  }
  return -1;
}

static int sim_set_u32(uint32_t *dst, const char *key, const char *value, char *err,
                       size_t errlen) {
  uint64_t v;
  if (!sim_size_parse(value, &v) || v > UINT32_MAX)
    return sim_config_err(err, errlen, "%s: '%s' is not a number", key, value);
  *dst = (uint32_t)v;
  return 0;
}

static int sim_set_prefetch(sim_prefetch_config_t *pf, bool l1d, const char *key, const char *field,
                            const char *value, char *err, size_t errlen) {
  if (field[0] == '\0') {
    if (strcasecmp(value, "off") == 0)
      pf->kind = SIM_PREFETCH_OFF;
    else if (l1d && strcasecmp(value, "next-line") == 0)
      pf->kind = SIM_PREFETCH_NEXT_LINE;
    else if (!l1d && strcasecmp(value, "stream") == 0)
      pf->kind = SIM_PREFETCH_STREAM;
    else
      return sim_config_err(err, errlen, "%s: '%s' is not off or %s", key, value,
                            l1d ? "next-line" : "stream");
    return 0;
  }
  if (strcmp(field, ".degree") == 0) return sim_set_u32(&pf->degree, key, value, err, errlen);
  if (!l1d && strcmp(field, ".streams") == 0)
    return sim_set_u32(&pf->streams, key, value, err, errlen);
  if (!l1d && strcmp(field, ".distance") == 0)
    return sim_set_u32(&pf->distance, key, value, err, errlen);
  return sim_config_err(err, errlen, "unknown key '%s'", key);
}

static int sim_set_onoff(bool *dst, const char *key, const char *value, char *err, size_t errlen) {
  if (strcasecmp(value, "on") == 0)
    *dst = true;
  else if (strcasecmp(value, "off") == 0)
    *dst = false;
  else
    return sim_config_err(err, errlen, "%s: '%s' is not on or off", key, value);
  return 0;
}

static int sim_set_level(sim_level_config_t *lv, const char *key, const char *field,
                         const char *value, char *err, size_t errlen) {
  if (strcmp(field, "size") == 0) {
    if (!sim_size_parse(value, &lv->size))
      return sim_config_err(err, errlen, "%s: '%s' is not a size (e.g. 48K, 8M)", key, value);
    return 0;
  }
  if (strcmp(field, "ways") == 0) return sim_set_u32(&lv->ways, key, value, err, errlen);
  if (strcmp(field, "policy") == 0) {
    if (strcasecmp(value, "lru") == 0)
      lv->policy = SIM_POLICY_LRU;
    else if (strcasecmp(value, "plru") == 0)
      lv->policy = SIM_POLICY_PLRU;
    else
      return sim_config_err(err, errlen, "%s: '%s' is not lru or plru", key, value);
    return 0;
  }
  return sim_config_err(err, errlen, "unknown key '%s'", key);
}

int sim_config_set(sim_config_t *cfg, const char *key, const char *value, char *err,
                   size_t errlen) {
  if (strcmp(key, "name") == 0) {
    if (strlen(value) >= sizeof(cfg->name))
      return sim_config_err(err, errlen, "name: longer than %zu bytes", sizeof(cfg->name) - 1);
    snprintf(cfg->name, sizeof(cfg->name), "%s", value);
    return 0;
  }
  if (strcmp(key, "cores") == 0) return sim_set_u32(&cfg->cores, key, value, err, errlen);
  if (strcmp(key, "line") == 0) return sim_set_u32(&cfg->line, key, value, err, errlen);
  if (strcmp(key, "page") == 0) {
    int k = sim_page_parse(value);
    if (k < 0) return sim_config_err(err, errlen, "page: '%s' is not 4K, 2M or 1G", value);
    cfg->page = (uint32_t)k;
    return 0;
  }
  if (strcmp(key, "phys") == 0) return sim_set_onoff(&cfg->phys, key, value, err, errlen);
  if (strcmp(key, "phys.bits") == 0) return sim_set_u32(&cfg->phys_bits, key, value, err, errlen);
  if (strcmp(key, "phys.seed") == 0) {
    if (!sim_size_parse(value, &cfg->phys_seed))
      return sim_config_err(err, errlen, "%s: '%s' is not a number", key, value);
    return 0;
  }
  if (strncmp(key, "l1d.prefetch", 12) == 0)
    return sim_set_prefetch(&cfg->l1d_prefetch, true, key, key + 12, value, err, errlen);
  if (strncmp(key, "l2.prefetch", 11) == 0)
    return sim_set_prefetch(&cfg->l2_prefetch, false, key, key + 11, value, err, errlen);
  const char *dot = strchr(key, '.');
  if (dot == NULL) return sim_config_err(err, errlen, "unknown key '%s'", key);
  size_t plen = (size_t)(dot - key);
  if (plen == 3 && strncmp(key, "l1d", 3) == 0)
    return sim_set_level(&cfg->l1d, key, dot + 1, value, err, errlen);
  if (plen == 2 && strncmp(key, "l2", 2) == 0)
    return sim_set_level(&cfg->l2, key, dot + 1, value, err, errlen);
  if (plen == 3 && strncmp(key, "llc", 3) == 0)
    return sim_set_level(&cfg->llc, key, dot + 1, value, err, errlen);
  if (plen == 4 && (strncmp(key, "dtlb", 4) == 0 || strncmp(key, "stlb", 4) == 0)) {
    sim_tlb_config_t *t = key[0] == 'd' ? cfg->dtlb : cfg->stlb;
    const char *kind = dot + 1, *dot2 = strchr(kind, '.');
    if (dot2 != NULL) {
      for (int k = 0; k < SIM_PAGE_KINDS; k++) {
        if ((size_t)(dot2 - kind) == 2 && strncasecmp(kind, sim_page_names[k], 2) == 0) {
          if (strcmp(dot2 + 1, "entries") == 0)
            return sim_set_u32(&t[k].entries, key, value, err, errlen);
          if (strcmp(dot2 + 1, "ways") == 0)
            return sim_set_u32(&t[k].ways, key, value, err, errlen);
        }
      }
    }
  }
  return sim_config_err(err, errlen, "unknown key '%s'", key);
}

static bool sim_pow2(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

static int sim_check_level(const sim_config_t *cfg, const char *name, const sim_level_config_t *lv,
                           char *err, size_t errlen) {
  if (lv->ways == 0 || lv->ways > 64)
    return sim_config_err(err, errlen, "%s.ways: %u is not in 1..64", name, lv->ways);
  if (lv->size == 0 || lv->size % ((uint64_t)lv->ways * cfg->line) != 0)
    return sim_config_err(err, errlen, "%s.size: %llu is not a multiple of ways x line (%u x %u)",
                          name, (unsigned long long)lv->size, lv->ways, cfg->line);
  uint64_t sets = lv->size / ((uint64_t)lv->ways * cfg->line);
  if (!sim_pow2(sets) || sets > (UINT64_C(1) << 30))
    return sim_config_err(err, errlen,
                          "%s.size: %llu sets (size / ways / line) is not a power of two", name,
                          (unsigned long long)sets);
  if (lv->policy == SIM_POLICY_PLRU && !sim_pow2(lv->ways))
    return sim_config_err(err, errlen, "%s.ways: tree-PLRU needs a power of two, not %u", name,
                          lv->ways);
  return 0;
}

static int sim_check_tlb(const char *name, int kind, const sim_tlb_config_t *t, char *err,
                         size_t errlen) {
  if (t->entries == 0) return 0;
  if (t->ways == 0 || t->ways > t->entries || t->entries % t->ways != 0 ||
      !sim_pow2(t->entries / t->ways))
    return sim_config_err(err, errlen,
                          "%s.%s: %u entries / %u ways is not a power-of-two number of sets", name,
                          sim_page_names[kind], t->entries, t->ways);
  return 0;
}

int sim_config_check(const sim_config_t *cfg, char *err, size_t errlen) {
  if (cfg->cores == 0 || cfg->cores > SIM_MAX_CORES)
    return sim_config_err(err, errlen, "cores: %u is not in 1..%d", cfg->cores, SIM_MAX_CORES);
  if (!sim_pow2(cfg->line) || cfg->line < 16 || cfg->line > SIM_MAX_LINE)
    return sim_config_err(err, errlen, "line: %u is not a power of two in 16..%d", cfg->line,
                          SIM_MAX_LINE);
  if (cfg->page >= SIM_PAGE_KINDS) return sim_config_err(err, errlen, "page: invalid");
  if (sim_check_level(cfg, "l1d", &cfg->l1d, err, errlen) != 0 ||
      sim_check_level(cfg, "l2", &cfg->l2, err, errlen) != 0 ||
      sim_check_level(cfg, "llc", &cfg->llc, err, errlen) != 0)
    return -1;
  /* an inclusive L2 smaller than the L1D could not hold it; an LLC smaller
     than one L2 is no part anyone makes (and every preset edit that does it
     is a typo) */
  if (cfg->l2.size < cfg->l1d.size)
    return sim_config_err(err, errlen, "l2.size: %llu is smaller than l1d.size (%llu)",
                          (unsigned long long)cfg->l2.size, (unsigned long long)cfg->l1d.size);
  if (cfg->llc.size < cfg->l2.size)
    return sim_config_err(err, errlen, "llc.size: %llu is smaller than l2.size (%llu)",
                          (unsigned long long)cfg->llc.size, (unsigned long long)cfg->l2.size);
  const sim_prefetch_config_t *p1 = &cfg->l1d_prefetch, *p2 = &cfg->l2_prefetch;
  if (p1->kind != SIM_PREFETCH_OFF && (p1->degree < 1 || p1->degree > 16))
    return sim_config_err(err, errlen, "l1d.prefetch.degree: %u is not in 1..16", p1->degree);
  if (p2->kind != SIM_PREFETCH_OFF) {
    if (p2->degree < 1 || p2->degree > 16)
      return sim_config_err(err, errlen, "l2.prefetch.degree: %u is not in 1..16", p2->degree);
    if (p2->streams < 1 || p2->streams > 64)
      return sim_config_err(err, errlen, "l2.prefetch.streams: %u is not in 1..64", p2->streams);
    if (p2->distance < 1 || p2->distance > 64)
      return sim_config_err(err, errlen, "l2.prefetch.distance: %u is not in 1..64", p2->distance);
  }
  if (cfg->phys && (cfg->phys_bits < 32 || cfg->phys_bits > 52))
    return sim_config_err(err, errlen, "phys.bits: %u is not in 32..52", cfg->phys_bits);
  for (int k = 0; k < SIM_PAGE_KINDS; k++) {
    if (sim_check_tlb("dtlb", k, &cfg->dtlb[k], err, errlen) != 0 ||
        sim_check_tlb("stlb", k, &cfg->stlb[k], err, errlen) != 0)
      return -1;
  }
  return 0;
}

static char *sim_trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

int sim_config_load(sim_config_t *cfg, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return sim_config_err(err, errlen, "%s: %s", path, strerror(errno));
  char buf[512], msg[256];
  unsigned lineno = 0;
  int rc = 0;
  while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
    lineno++;
    if (strchr(buf, '\n') == NULL && !feof(f)) {
      rc = sim_config_err(err, errlen, "%s:%u: line too long", path, lineno);
      break;
    }
    char *hash = strchr(buf, '#');
    if (hash != NULL) *hash = '\0';
    char *line = sim_trim(buf);
    if (*line == '\0') continue;
    char *eq = strchr(line, '=');
    if (eq == NULL) {
      rc = sim_config_err(err, errlen, "%s:%u: expected 'key = value', got '%s'", path, lineno,
                          line);
      break;
    }
    *eq = '\0';
    char *key = sim_trim(line), *value = sim_trim(eq + 1);
    if (*key == '\0' || *value == '\0') {
      rc = sim_config_err(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
      break;
    }
    if (sim_config_set(cfg, key, value, msg, sizeof(msg)) != 0)
      rc = sim_config_err(err, errlen, "%s:%u: %s", path, lineno, msg);
  }
  if (rc == 0 && ferror(f)) rc = sim_config_err(err, errlen, "%s: read error", path);
  fclose(f);
  if (rc == 0 && sim_config_check(cfg, msg, sizeof(msg)) != 0)
    rc = sim_config_err(err, errlen, "%s: %s", path, msg);
  return rc;
}
