/* ----------------------------------------------------------------------------
  harness/metrics.c: one row of replay metrics, and how it is printed (CSV
  per RFC 4180, or "name: value" text). See metrics.h for the columns.
---------------------------------------------------------------------------- */
#include "harness/metrics.h"
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[HL_METRIC_COUNT] = {
#define HL_METRIC_NAME(name, desc) #name,
    HL_METRIC_COLUMNS(HL_METRIC_NAME)
#undef HL_METRIC_NAME
};

static const char *const metric_descriptions[HL_METRIC_COUNT] = {
#define HL_METRIC_DESC(name, desc) desc,
    HL_METRIC_COLUMNS(HL_METRIC_DESC)
#undef HL_METRIC_DESC
};

const char *hl_metric_name(hl_metric_t m) {
  return metric_names[m];
}
const char *hl_metric_description(hl_metric_t m) {
  return metric_descriptions[m];
}

int hl_metric_find(const char *name) {
  for (int m = 0; m < HL_METRIC_COUNT; m++)
    if (strcmp(metric_names[m], name) == 0) return m;
  return -1;
}

void hl_metrics_init(hl_metrics_t *row) {
  memset(row, 0, sizeof *row);
}

void hl_metrics_free(hl_metrics_t *row) {
  for (int m = 0; m < HL_METRIC_COUNT; m++) free(row->value[m]);
  hl_metrics_init(row);
}

static void metrics_replace(hl_metrics_t *row, hl_metric_t m, char *value) {
  free(row->value[m]);
  row->value[m] = value;
}

void hl_metrics_set(hl_metrics_t *row, hl_metric_t m, const char *fmt, ...) {
  va_list ap;
  char *value = NULL;
  va_start(ap, fmt);
  if (vasprintf(&value, fmt, ap) < 0) value = NULL; /* out of memory: the value stays NA */
  va_end(ap);
  metrics_replace(row, m, value);
}

void hl_metrics_set_na(hl_metrics_t *row, hl_metric_t m, const char *reason) {
  metrics_replace(row, m, NULL);
  const char *old = row->value[HL_METRIC_na_reasons];
  char *joined = NULL;
  if (asprintf(&joined, "%s%s%s: %s", old ? old : "", old ? "; " : "", metric_names[m], reason) < 0)
    return;
  metrics_replace(row, HL_METRIC_na_reasons, joined);
}

void hl_csv_write_field(FILE *out, const char *field) {
  if (strpbrk(field, ",\"\n\r") == NULL) {
    fputs(field, out);
    return;
  }
  fputc('"', out);
  for (const char *c = field; *c; c++) {
    if (*c == '"') fputc('"', out);
    fputc(*c, out);
  }
  fputc('"', out);
}

void hl_metrics_write_csv_header(FILE *out) {
  for (int m = 0; m < HL_METRIC_COUNT; m++) {
    if (m) fputc(',', out);
    fputs(metric_names[m], out);
  }
  fputc('\n', out);
}

void hl_metrics_write_csv_row(FILE *out, const hl_metrics_t *row) {
  for (int m = 0; m < HL_METRIC_COUNT; m++) {
    if (m) fputc(',', out);
    hl_csv_write_field(out,
                       row->value[m] ? row->value[m] : (m == HL_METRIC_na_reasons ? "" : "NA"));
  }
  fputc('\n', out);
}

void hl_metrics_write_text(FILE *out, const hl_metrics_t *row) {
  for (int m = 0; m < HL_METRIC_COUNT; m++) {
    if (m == HL_METRIC_na_reasons) continue; /* printed beside each NA instead */
    fprintf(out, "%-26s %s\n", metric_names[m], row->value[m] ? row->value[m] : "NA");
  }
  if (row->value[HL_METRIC_na_reasons]) {
    fprintf(out, "NA because:\n");
    /* one reason per line */
    const char *r = row->value[HL_METRIC_na_reasons];
    while (*r) {
      const char *end = strstr(r, "; ");
      int n = end ? (int)(end - r) : (int)strlen(r);
      fprintf(out, "  %.*s\n", n, r);
      r += n + (end ? 2 : 0);
    }
  }
}
