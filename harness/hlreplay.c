/* ----------------------------------------------------------------------------
  harness/hlreplay.c: the `hlreplay` command. One trace through one
  allocator, natively; one row of metrics out (harness/metrics.h).
---------------------------------------------------------------------------- */
#include "harness/preload.h"
#include "harness/replay.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: hlreplay TRACE --alloc NAME [options]\n"
      "\n"
      "Replay a heaplab trace (see workloads/FORMAT.md) through one allocator and print one\n"
      "row of metrics: time, memory, page faults, context switches, hardware counters (NA\n"
      "with the reason where the machine has none) and the allocator's own statistics.\n"
      "\n"
      "  --alloc NAME          allocator to use (--list shows them)\n"
      "  --threads-as-traced   one OS thread per traced thread; an object handed to\n"
      "                        another thread is used there only after the handing\n"
      "                        thread's event on it completed (default)\n"
      "  --serial              every logical thread on one OS thread, in trace order\n"
      "  --access MODEL        what touches object memory (default auto):\n"
      "                          auto    traced if the trace has read/write events, else touch\n"
      "                          traced  only the trace's read/write events\n"
      "                          touch   write each object whole when allocated (and the new\n"
      "                                  tail after realloc), read it whole before free\n"
      "                          none    allocator calls only\n"
      "  --verify              check every allocation: no overlap with live objects,\n"
      "                        alignment, calloc zeroed, contents preserved across\n"
      "                        realloc and until free; stop at the first violation\n"
      "  --page-size BYTES     allocator page size tunable (K, M suffixes; default 0 =\n"
      "                        the allocator's own)\n"
      "  --options STR         allocator-specific options, key=value,key=value\n"
      "  --format text|csv     output: 'name value' lines (default) or a CSV header + row\n"
      "  --list                list the allocators and exit\n"
      "  -q, --quiet           no notes or progress on stderr (progress is shown once\n"
      "                        a second when stderr is a terminal)\n"
      "  -h, --help            this help\n"
      "\n"
      "Baselines (jemalloc, mimalloc, tcmalloc) are loaded the way users load them: this\n"
      "command re-executes itself with LD_PRELOAD, and the served_by column names the\n"
      "library that really answered malloc, so a failed preload can never pass as one.\n"
      "Exit status: 0 ok, 1 the replay or the trace failed, 2 bad usage.\n");
}

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "hlreplay: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(hlreplay --help for usage)\n");
  return 2;
}

/* One line per allocator: name, summary, and its properties (comma
   separated, "-" for none), which hlbench reads to plan page-size sweeps. */
static void list_allocators(void) {
  static const struct {
    uint32_t flag;
    const char *name;
  } props[] = {{HL_ALLOC_PAGE_SIZE, "page-size"},
               {HL_ALLOC_MOVES, "moves"},
               {HL_ALLOC_OWNED, "owned"},
               {HL_ALLOC_PRELOAD, "preload"},
               {HL_ALLOC_NO_MEMORY, "no-memory"}};
  for (size_t i = 0; i < hl_alloc_count(); i++) {
    const hl_allocator_t *a = hl_alloc_at(i);
    printf("%s\t%s\t", a->name, a->summary);
    const char *sep = "";
    for (size_t p = 0; p < sizeof props / sizeof props[0]; p++)
      if (a->flags & props[p].flag) printf("%s%s", sep, props[p].name), sep = ",";
    printf("%s\n", *sep ? "" : "-");
  }
}

/* "4096", "64K", "2M", "1G" -> bytes; false on junk or overflow. */
static bool parse_bytes(const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *s == '-') return false;
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k')
    shift = 10, end++;
  else if (*end == 'M' || *end == 'm')
    shift = 20, end++;
  else if (*end == 'G' || *end == 'g')
    shift = 30, end++;
  if (*end || (shift && v > (~0ull >> shift))) return false;
  *out = (size_t)(v << shift);
  return true;
}

static void print_row(const hl_metrics_t *row, bool csv) {
  if (csv) {
    hl_metrics_write_csv_header(stdout);
    hl_metrics_write_csv_row(stdout, row);
  } else {
    hl_metrics_write_text(stdout, row);
  }
  fflush(stdout);
}

int main(int argc, char **argv) {
  enum {
    OPT_THREADS = 256,
    OPT_SERIAL,
    OPT_ACCESS,
    OPT_VERIFY,
    OPT_PAGE,
    OPT_OPTIONS,
    OPT_FORMAT,
    OPT_LIST
  };
  static const struct option long_opts[] = {
      {"alloc", required_argument, 0, 'a'},
      {"threads-as-traced", no_argument, 0, OPT_THREADS},
      {"serial", no_argument, 0, OPT_SERIAL},
      {"access", required_argument, 0, OPT_ACCESS},
      {"verify", no_argument, 0, OPT_VERIFY},
      {"page-size", required_argument, 0, OPT_PAGE},
      {"options", required_argument, 0, OPT_OPTIONS},
      {"format", required_argument, 0, OPT_FORMAT},
      {"list", no_argument, 0, OPT_LIST},
      {"quiet", no_argument, 0, 'q'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0},
  };
  hl_replay_options_t opt = {.mode = HL_REPLAY_THREADS, .access = HL_ACCESS_AUTO};
  const char *alloc_name = NULL;
  bool csv = false, quiet = false;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "a:qh", long_opts, NULL)) != -1) {
    switch (c) {
      case 'a':
        alloc_name = optarg;
        break;
      case OPT_THREADS:
        opt.mode = HL_REPLAY_THREADS;
        break;
      case OPT_SERIAL:
        opt.mode = HL_REPLAY_SERIAL;
        break;
      case OPT_ACCESS:
        if (!hl_access_model_parse(optarg, &opt.access))
          return usage_error("--access: expected auto, traced, touch or none, got '%s'", optarg);
        break;
      case OPT_VERIFY:
        opt.verify = true;
        break;
      case OPT_PAGE:
        if (!parse_bytes(optarg, &opt.heap.page_size))
          return usage_error("--page-size: expected a byte count such as 4096 or 2M, got '%s'",
                             optarg);
        break;
      case OPT_OPTIONS:
        opt.heap.options = optarg;
        break;
      case OPT_FORMAT:
        if (strcmp(optarg, "csv") == 0)
          csv = true;
        else if (strcmp(optarg, "text") == 0)
          csv = false;
        else
          return usage_error("--format: expected text or csv, got '%s'", optarg);
        break;
      case OPT_LIST:
        list_allocators();
        return 0;
      case 'q':
        quiet = true;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
    }
  }
  if (optind != argc - 1)
    return usage_error("%s",
                       optind >= argc ? "expected a TRACE file" : "expected exactly one TRACE");
  const char *trace_path = argv[optind];
  if (!alloc_name)
    return usage_error("%s", "--alloc NAME is required (--list shows the allocators)");
  opt.allocator = hl_alloc_find(alloc_name);
  if (!opt.allocator) {
    fprintf(stderr, "hlreplay: unknown allocator '%s'; known allocators:", alloc_name);
    for (size_t i = 0; i < hl_alloc_count(); i++) fprintf(stderr, " %s", hl_alloc_at(i)->name);
    fprintf(stderr, "\n");
    return 2;
  }
  if (opt.heap.page_size && !(opt.allocator->flags & HL_ALLOC_PAGE_SIZE))
    return usage_error("--page-size: allocator '%s' has no page size tunable (--list shows "
                       "which have the page-size property)",
                       opt.allocator->name);

  char why[512];
  if (hl_preload_ensure(opt.allocator, argv, why, sizeof why) != 0) {
    fprintf(stderr, "hlreplay: %s\n", why);
    return 1;
  }
  char served_by[256];
  if (opt.allocator->identify(served_by, sizeof served_by) != 0) {
    fprintf(stderr,
            "hlreplay: allocator '%s' requested, but malloc in this process is served by %s%s%s; "
            "refusing to report its numbers under the wrong name%s\n",
            opt.allocator->name, served_by, opt.allocator->preload_soname ? ", expected " : "",
            opt.allocator->preload_soname ? opt.allocator->preload_soname : "",
            (opt.allocator->flags & HL_ALLOC_PRELOAD) ? " (is it installed? run `make deps`)" : "");
    return 1;
  }

  hl_trace_error_t err;
  hl_replay_trace_t *trace = hl_replay_load(trace_path, hl_replay_load_flags(opt.allocator), &err);
  if (!trace) {
    fprintf(stderr, "hlreplay: ");
    hl_trace_error_print(stderr, &err);
    return 1;
  }
  hl_metrics_t row;
  hl_metrics_init(&row);
  hl_metrics_set(&row, HL_METRIC_allocator, "%s", opt.allocator->name);
  hl_metrics_set(&row, HL_METRIC_served_by, "%s", served_by);
  hl_metrics_set(&row, HL_METRIC_trace, "%s", trace_path);
  opt.progress = !quiet && isatty(STDERR_FILENO);
  if (!quiet) {
    hl_access_model_t shown = opt.access;
    if (shown == HL_ACCESS_AUTO)
      shown = hl_replay_has_accesses(trace) ? HL_ACCESS_TRACED : HL_ACCESS_TOUCH;
    fprintf(stderr, "hlreplay: %s, %u threads, %llu events through %s [%s]\n", trace_path,
            hl_replay_threads(trace), (unsigned long long)hl_replay_events(trace),
            opt.allocator->name, served_by);
    fprintf(stderr, "hlreplay: access model %s: %s\n", hl_access_model_name(shown),
            hl_access_model_description(shown));
  }
  int rc = hl_replay_run(trace, &opt, &row, why, sizeof why);
  if (rc == 0)
    hl_metrics_set(&row, HL_METRIC_status, "ok");
  else
    hl_metrics_set(&row, HL_METRIC_status, "error: %s", why);
  print_row(&row, csv);
  if (rc != 0)
    fprintf(stderr, "hlreplay: %s\n", why);
  else if (!quiet && opt.verify)
    fprintf(stderr, "hlreplay: verify: no violation found\n");
  hl_metrics_free(&row);
  hl_replay_unload(trace);
  return rc == 0 ? 0 : 1;
}
