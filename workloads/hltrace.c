/* ----------------------------------------------------------------------------
  workloads/hltrace.c: the `hltrace` command, the trace format's tool.

    hltrace dump TRACE [-o OUT]     binary -> text
    hltrace pack TEXT -o TRACE      text -> binary
    hltrace stats TRACE [--format text|csv]
    hltrace check TRACE...          validate
    hltrace gen MODEL ...           synthetic traces (workloads/gen/)
    hltrace import FORMAT IN -o T   mtrace logs, recorder logs (workloads/import/)

  Exit status: 0 ok, 1 a trace (or file) error, 2 a usage error. Trace
  errors are printed as "FILE: byte OFFSET, event N: MESSAGE".
---------------------------------------------------------------------------- */
#include "workloads/cli.h"
#include "workloads/gen/gen.h"
#include "workloads/import/import.h"
#include "workloads/trace.h"
#include "workloads/trace/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

static const char usage_main[] =
    "usage: hltrace COMMAND [ARGS]\n"
    "\n"
    "Read, write, check and describe heaplab traces (format: workloads/FORMAT.md).\n"
    "\n"
    "commands:\n"
    "  dump TRACE [-o OUT]              binary trace -> text (stdout, or OUT)\n"
    "  pack TEXT -o TRACE               text -> binary trace\n"
    "  stats TRACE [--format text|csv]  events, ops, objects, live bytes, sizes\n"
    "  check TRACE...                   validate; prints \"FILE: ok, N events\"\n"
    "  gen MODEL [OPTIONS] -o TRACE     synthetic traces (hltrace gen --help)\n"
    "  import FORMAT INPUT -o TRACE     mtrace or recorder log -> trace (hltrace import --help)\n"
    "\n"
    "'-' as a file name means stdin (or stdout for -o).\n"
    "`hltrace COMMAND --help` describes one command.\n"
    "exit status: 0 ok, 1 a trace or file error (writing standard output included),\n"
    "2 a usage error\n";

static const char usage_dump[] =
    "usage: hltrace dump TRACE [-o OUT]\n"
    "\n"
    "Print a binary trace in the text form (workloads/FORMAT.md): one event\n"
    "per line, 'THREAD OP ARGS'. Without -o the text goes to stdout; with -o\n"
    "it goes to OUT, which appears only once the whole trace was read.\n"
    "`hltrace pack` turns the text back into the identical binary trace.\n";

static const char usage_pack[] =
    "usage: hltrace pack TEXT -o TRACE\n"
    "\n"
    "Turn a text trace into a binary one. Object ids in the text are labels:\n"
    "each alloc's label is mapped to the next dense id, and a label may be\n"
    "reused after its object is freed. The text is validated like any trace;\n"
    "errors name the line. TRACE is written whole or not at all ('-o -':\n"
    "stdout).\n";

static const char usage_stats[] =
    "usage: hltrace stats TRACE [--format text|csv]\n"
    "\n"
    "Describe a trace: events and bytes per event, counts per op and per\n"
    "allocation kind, threads, objects, the peak and final live bytes (sum of\n"
    "the sizes of allocated, not yet freed objects), frees by a thread other\n"
    "than the allocating one, and a histogram of allocation sizes in\n"
    "power-of-two buckets. Over time: live bytes and live objects at 20\n"
    "points evenly spaced in event number (sample i of S = min(20, events)\n"
    "right after event ceil(i*events/S)), and object lifetimes (events from\n"
    "alloc to free) in power-of-two buckets, never-freed objects apart.\n"
    "--format csv prints 'metric,value' rows.\n";

static const char usage_check[] =
    "usage: hltrace check TRACE...\n"
    "\n"
    "Validate each trace completely (structure and meaning: objects used only\n"
    "while live, accesses in bounds, threads started, barriers consistent).\n"
    "Prints \"FILE: ok, N events\" for a valid trace, the error with its byte\n"
    "offset and event number otherwise. Exit status 1 if any trace is invalid.\n";

static const char usage_import[] =
    "usage: hltrace import FORMAT INPUT -o TRACE\n"
    "\n"
    "Turn another tool's allocation log into a trace (workloads/RECORDING.md).\n"
    "FORMAT is one of:\n"
    "  record  the raw log of the LD_PRELOAD recorder: run\n"
    "          LD_PRELOAD=build/lib/libhlrecord.so HEAPLAB_RECORD=PREFIX PROGRAM\n"
    "          and import PREFIX.PID.raw (one file per process)\n"
    "  mtrace  glibc's MALLOC_TRACE text (one thread; every alloc is a malloc)\n"
    "Addresses become dense object ids. free(NULL), frees of addresses never\n"
    "seen allocated, and failed calls are dropped; a realloc of an address\n"
    "never seen allocated becomes a malloc of the new size. The counts are\n"
    "printed on stderr and kept in the trace's meta. Bad input is an error\n"
    "with the file, the byte offset (and line, for mtrace).\n";

__attribute__((format(printf, 2, 3))) static int usage_error(const char *cmd, const char *fmt,
                                                             ...) {
  va_list ap;
  fprintf(stderr, "hltrace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nusage: see 'hltrace %s%s--help'\n", cmd ? cmd : "", cmd ? " " : "");
  return EXIT_USAGE;
}

/* Options shared by the subcommands: positionals, -o, --format, --help. */
typedef struct args_s {
  char **pos; /* the positionals, gathered in place at the front of argv[1..] */
  int npos;
  const char *out;
  const char *format;
  bool help;
} args_t;

/* Parse argv[1..]; `accepts` lists the options allowed ("o", "f"). */
static int args_parse(const char *cmd, int argc, char **argv, const char *accepts, args_t *a) {
  memset(a, 0, sizeof *a);
  a->pos = argv + 1; /* positionals never outrun the arguments read, so this is safe */
  bool only_pos = false;
  for (int i = 1; i < argc; i++) {
    char *s = argv[i];
    if (only_pos || s[0] != '-' || strcmp(s, "-") == 0) {
      a->pos[a->npos++] = s;
    } else if (strcmp(s, "--") == 0) {
      only_pos = true;
    } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
      a->help = true;
    } else if (strchr(accepts, 'o') && (strcmp(s, "-o") == 0 || strcmp(s, "--output") == 0)) {
      if (i + 1 == argc) return usage_error(cmd, "%s needs a file name", s);
      a->out = argv[++i];
    } else if (strchr(accepts, 'f') && strcmp(s, "--format") == 0) {
      if (i + 1 == argc) return usage_error(cmd, "--format needs text or csv");
      a->format = argv[++i];
    } else if (strchr(accepts, 'f') && strncmp(s, "--format=", 9) == 0) {
      a->format = s + 9;
    } else {
      return usage_error(cmd, "unknown option '%s'", s);
    }
  }
  return 0;
}

/* ---- dump ---- */

static int cmd_dump(int argc, char **argv) {
  args_t a;
  int rc = args_parse("dump", argc, argv, "o", &a);
  if (rc) return rc;
  if (a.help) return fputs(usage_dump, stdout), 0;
  if (a.npos != 1) return usage_error("dump", "expected one TRACE, got %d", a.npos);
  hl_trace_error_t err;
  if (!a.out || strcmp(a.out, "-") == 0) {
    if (hl_trace_dump(a.pos[0], stdout, &err)) {
      hl_trace_error_print(stderr, &err);
      return 1;
    }
    return 0;
  }
  /* Write OUT.tmp.XXXXXX and rename, so OUT never holds half a dump. */
  size_t n = strlen(a.out);
  char *tmp = malloc(n + sizeof ".tmp.XXXXXX");
  if (!tmp) return fprintf(stderr, "hltrace dump: out of memory\n"), 1;
  memcpy(tmp, a.out, n);
  memcpy(tmp + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
  int fd = mkstemp(tmp);
  FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
  if (!out) {
    fprintf(stderr, "hltrace dump: cannot create %s: %s\n", tmp, strerror(errno));
    if (fd >= 0) close(fd), unlink(tmp);
    free(tmp);
    return 1;
  }
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0) { /* keep 0600: harmless */
  }
  rc = hl_trace_dump(a.pos[0], out, &err);
  if (fclose(out) != 0 && rc == 0) {
    fprintf(stderr, "hltrace dump: write error on %s: %s\n", a.out, strerror(errno));
    rc = 1;
  } else if (rc) {
    hl_trace_error_print(stderr, &err);
    rc = 1;
  } else if (rename(tmp, a.out) != 0) {
    fprintf(stderr, "hltrace dump: cannot rename %s to %s: %s\n", tmp, a.out, strerror(errno));
    rc = 1;
  }
  if (rc) unlink(tmp);
  free(tmp);
  return rc;
}

/* ---- pack ---- */

static int cmd_pack(int argc, char **argv) {
  args_t a;
  int rc = args_parse("pack", argc, argv, "o", &a);
  if (rc) return rc;
  if (a.help) return fputs(usage_pack, stdout), 0;
  if (a.npos != 1) return usage_error("pack", "expected one TEXT file, got %d", a.npos);
  if (!a.out) return usage_error("pack", "-o TRACE is required ('-o -' for stdout)");
  hl_trace_error_t err;
  if (hl_trace_pack(a.pos[0], a.out, &err)) {
    hl_trace_error_print(stderr, &err);
    return 1;
  }
  return 0;
}

/* ---- check ---- */

static int cmd_check(int argc, char **argv) {
  args_t a;
  int rc = args_parse("check", argc, argv, "", &a);
  if (rc) return rc;
  if (a.help) return fputs(usage_check, stdout), 0;
  if (a.npos == 0) return usage_error("check", "expected at least one TRACE");
  int status = 0;
  for (int i = 0; i < a.npos; i++) {
    hl_trace_error_t err;
    hl_trace_reader_t *r = hl_trace_open(a.pos[i], &err);
    if (!r) {
      hl_trace_error_print(stderr, &err);
      status = 1;
      continue;
    }
    hl_event_t ev;
    while ((rc = hl_trace_next(r, &ev)) == 1) {
    }
    if (rc == 0) {
      printf("%s: ok, %" PRIu64 " events\n", hl_trace_reader_error(r)->file,
             hl_trace_events_read(r));
    } else {
      fflush(stdout); /* keep ok lines and errors in order on a terminal */
      hl_trace_error_print(stderr, hl_trace_reader_error(r));
      status = 1;
    }
    hl_trace_close(r);
  }
  return status;
}

/* ---- stats ---- */

#define STATS_BUCKETS 50 /* sizes up to 2^48: bucket 0 = size 0, b = [2^(b-1), 2^b) */

typedef struct stats_obj_s {
  uint64_t size;
  uint16_t thread; /* allocating thread (threads <= 4096) */
} stats_obj_t;

typedef struct stats_s {
  uint64_t events, ops[HL_OP_COUNT], kinds[HL_KIND_COUNT];
  uint64_t threads_used, objects, freed;
  uint64_t live, live_peak, live_objects, live_objects_peak;
  uint64_t cross_frees, read_bytes, write_bytes;
  uint64_t messages, message_max; /* SEND events (each ends a message), largest message */
  uint32_t *parts;                /* [threads] SEND_PART events of each thread's open message */
  uint64_t hist[STATS_BUCKETS];
  stats_obj_t *obj;
  uint64_t cap;
  hl_trace_stats_time_t time; /* samples over time, lifetimes (trace/stats.c) */
} stats_t;

static unsigned stats_bucket(uint64_t size) {
  return size ? 64u - (unsigned)__builtin_clzll(size) : 0;
}

static int stats_read(hl_trace_reader_t *r, stats_t *s) {
  hl_event_t ev;
  int rc;
  uint32_t threads = hl_trace_header(r)->threads;
  bool *used = calloc(threads, sizeof *used);
  s->parts = calloc(threads, sizeof *s->parts);
  if (!used || !s->parts) {
    free(used);
    return fprintf(stderr, "hltrace stats: out of memory\n"), -2;
  }
  while ((rc = hl_trace_next(r, &ev)) == 1) {
    s->events++;
    s->ops[ev.op]++;
    if (!used[ev.thread]) used[ev.thread] = true, s->threads_used++;
    stats_obj_t *o = ev.obj < s->objects ? &s->obj[ev.obj] : NULL;
    switch (ev.op) {
      case HL_OP_ALLOC:
        if (s->objects == s->cap) {
          uint64_t cap = s->cap ? 2 * s->cap : 4096;
          stats_obj_t *bigger =
              cap <= SIZE_MAX / sizeof *bigger ? realloc(s->obj, cap * sizeof *bigger) : NULL;
          if (!bigger) {
            free(used);
            return fprintf(stderr, "hltrace stats: out of memory\n"), -2;
          }
          s->obj = bigger, s->cap = cap;
        }
        s->obj[s->objects++] = (stats_obj_t){ev.size, (uint16_t)ev.thread};
        s->kinds[ev.kind]++;
        s->hist[stats_bucket(ev.size)]++;
        s->live += ev.size;
        s->live_objects++;
        break;
      case HL_OP_FREE:
        s->live -= o->size;
        s->live_objects--;
        s->freed++;
        if (o->thread != ev.thread) s->cross_frees++;
        break;
      case HL_OP_REALLOC:
        s->live = s->live - o->size + ev.size;
        o->size = ev.size;
        break;
      case HL_OP_READ:
        s->read_bytes += ev.size;
        break;
      case HL_OP_WRITE:
        s->write_bytes += ev.size;
        break;
      case HL_OP_SEND_PART:
        s->parts[ev.thread]++;
        break;
      case HL_OP_SEND: /* the validator guarantees the parts were this message's */
        s->messages++;
        if (s->parts[ev.thread] + UINT64_C(1) > s->message_max)
          s->message_max = s->parts[ev.thread] + UINT64_C(1);
        s->parts[ev.thread] = 0;
        break;
      default:
        break;
    }
    if (s->live > s->live_peak) s->live_peak = s->live;
    if (s->live_objects > s->live_objects_peak) s->live_objects_peak = s->live_objects;
    if (hl_trace_stats_time_event(&s->time, &ev, s->events - 1, s->live, s->live_objects)) {
      free(used);
      return fprintf(stderr, "hltrace stats: out of memory\n"), -2;
    }
  }
  free(used);
  return rc;
}

static int cmd_stats(int argc, char **argv) {
  args_t a;
  int rc = args_parse("stats", argc, argv, "f", &a);
  if (rc) return rc;
  if (a.help) return fputs(usage_stats, stdout), 0;
  if (a.npos != 1) return usage_error("stats", "expected one TRACE, got %d", a.npos);
  bool csv = false;
  if (a.format && strcmp(a.format, "csv") == 0)
    csv = true;
  else if (a.format && strcmp(a.format, "text") != 0)
    return usage_error("stats", "unknown format '%s' (text or csv)", a.format);
  const char *path = a.pos[0];
  hl_trace_error_t err;
  /* A first pass counts the events, to space the samples over time. */
  hl_trace_stats_input_t in = {.path = path};
  uint64_t total = 0;
  hl_trace_reader_t *r = NULL;
  if (hl_trace_stats_count(&in, &total, &err) == 0) r = hl_trace_stats_open(&in, &err);
  if (!r) {
    hl_trace_error_print(stderr, &err);
    hl_trace_stats_input_free(&in);
    return 1;
  }
  stats_t s = {0};
  hl_trace_stats_time_init(&s.time, total);
  rc = stats_read(r, &s);
  if (rc == -1) hl_trace_error_print(stderr, hl_trace_reader_error(r));
  const hl_trace_header_t *h = hl_trace_header(r);
  struct stat st;
  bool have_bytes = strcmp(path, "-") != 0 && stat(path, &st) == 0;
  uint64_t bytes = have_bytes ? (uint64_t)st.st_size : 0;
  if (rc == 0 && csv) {
    printf("metric,value\n");
    printf("events,%" PRIu64 "\n", s.events);
    if (have_bytes) printf("file_bytes,%" PRIu64 "\n", bytes);
    if (have_bytes && s.events) printf("bytes_per_event,%.3f\n", (double)bytes / (double)s.events);
    printf("threads,%" PRIu32 "\nthreads_used,%" PRIu64 "\n", h->threads, s.threads_used);
    for (unsigned op = 0; op < HL_OP_COUNT; op++)
      printf("op_%s,%" PRIu64 "\n", hl_op_name((hl_op_t)op), s.ops[op]);
    for (unsigned k = 0; k < HL_KIND_COUNT; k++)
      printf("kind_%s,%" PRIu64 "\n", hl_alloc_kind_name((hl_alloc_kind_t)k), s.kinds[k]);
    printf("objects,%" PRIu64 "\nobjects_freed,%" PRIu64 "\nobjects_live_final,%" PRIu64
           "\nobjects_live_peak,%" PRIu64 "\n",
           s.objects, s.freed, s.live_objects, s.live_objects_peak);
    printf("live_bytes_peak,%" PRIu64 "\nlive_bytes_final,%" PRIu64 "\n", s.live_peak, s.live);
    printf("cross_thread_frees,%" PRIu64 "\n", s.cross_frees);
    printf("read_bytes,%" PRIu64 "\nwrite_bytes,%" PRIu64 "\n", s.read_bytes, s.write_bytes);
    printf("messages,%" PRIu64 "\nmessage_objects_max,%" PRIu64 "\n", s.messages, s.message_max);
    for (unsigned b = 0; b < STATS_BUCKETS; b++)
      if (s.hist[b])
        printf("size_hist_%" PRIu64 ",%" PRIu64 "\n", b ? UINT64_C(1) << (b - 1) : 0, s.hist[b]);
    hl_trace_stats_time_print(stdout, &s.time, true);
  } else if (rc == 0) {
    printf("trace: %s (format version %" PRIu32 ")\n", hl_trace_reader_error(r)->file, h->version);
    if (h->meta_len) {
      printf("meta:\n");
      for (const char *m = h->meta; *m;) {
        const char *nl = strchr(m, '\n');
        printf("  %.*s\n", (int)(nl - m), m);
        m = nl + 1;
      }
    }
    printf("events: %" PRIu64, s.events);
    if (have_bytes)
      printf(" in %" PRIu64 " bytes (%.2f bytes/event)", bytes,
             s.events ? (double)bytes / (double)s.events : 0.0);
    printf("\nthreads: %" PRIu32 " (%" PRIu64 " with events)\n", h->threads, s.threads_used);
    printf("ops:\n");
    for (unsigned op = 0; op < HL_OP_COUNT; op++) {
      if (!s.ops[op]) continue;
      printf("  %-8s %12" PRIu64, hl_op_name((hl_op_t)op), s.ops[op]);
      if (op == HL_OP_ALLOC) {
        const char *sep = " (";
        for (unsigned k = 0; k < HL_KIND_COUNT; k++)
          if (s.kinds[k])
            printf("%s%s %" PRIu64, sep, hl_alloc_kind_name((hl_alloc_kind_t)k), s.kinds[k]),
                sep = ", ";
        printf(")");
      }
      printf("\n");
    }
    printf("objects: %" PRIu64 " allocated, %" PRIu64 " freed, %" PRIu64
           " live at the end (peak %" PRIu64 " live)\n",
           s.objects, s.freed, s.live_objects, s.live_objects_peak);
    printf("live bytes: peak %" PRIu64 ", final %" PRIu64 "\n", s.live_peak, s.live);
    printf("cross-thread frees: %" PRIu64 " (freed by a thread other than the allocating one)\n",
           s.cross_frees);
    if (s.messages)
      printf("messages: %" PRIu64 " (%.2f objects per message, largest %" PRIu64 ")\n", s.messages,
             (double)(s.messages + s.ops[HL_OP_SEND_PART]) / (double)s.messages, s.message_max);
    if (s.ops[HL_OP_READ] || s.ops[HL_OP_WRITE])
      printf("bytes read: %" PRIu64 ", written: %" PRIu64 "\n", s.read_bytes, s.write_bytes);
    if (s.objects) {
      printf("allocation sizes (bytes, power-of-two buckets):\n");
      for (unsigned b = 0; b < STATS_BUCKETS; b++) {
        if (!s.hist[b]) continue;
        uint64_t lo = b ? UINT64_C(1) << (b - 1) : 0, hi = b ? (UINT64_C(1) << b) - 1 : 0;
        char range[48];
        if (lo == hi)
          snprintf(range, sizeof range, "%" PRIu64, lo);
        else
          snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, lo, hi);
        printf("  %-24s %12" PRIu64 "  %5.1f%%\n", range, s.hist[b],
               100.0 * (double)s.hist[b] / (double)s.objects);
      }
    }
    hl_trace_stats_time_print(stdout, &s.time, false);
  }
  free(s.obj);
  free(s.parts);
  hl_trace_stats_time_free(&s.time);
  hl_trace_stats_input_free(&in);
  hl_trace_close(r);
  return rc == 0 ? 0 : 1;
}

/* ---- import ---- */

static int cmd_import(int argc, char **argv) {
  args_t a;
  int rc = args_parse("import", argc, argv, "o", &a);
  if (rc) return rc;
  if (a.help) return fputs(usage_import, stdout), 0;
  if (a.npos != 2) return usage_error("import", "expected FORMAT and INPUT, got %d", a.npos);
  if (!a.out) return usage_error("import", "-o TRACE is required ('-o -' for stdout)");
  int (*import)(const char *, const char *, hl_import_stats_t *, hl_trace_error_t *) =
      strcmp(a.pos[0], "mtrace") == 0   ? hl_import_mtrace
      : strcmp(a.pos[0], "record") == 0 ? hl_import_record
                                        : NULL;
  if (!import) return usage_error("import", "unknown format '%s' (mtrace or record)", a.pos[0]);
  hl_import_stats_t st;
  hl_trace_error_t err;
  if (import(a.pos[1], a.out, &st, &err)) {
    hl_trace_error_print(stderr, &err);
    return 1;
  }
  hl_import_stats_print(stderr, &st);
  /* An empty trace is valid, so say it: a log without a single call is
     usually a recording that did not happen (for mtrace: the program never
     called mtrace(), or libc_malloc_debug.so was not preloaded). */
  if (st.events == 0)
    fprintf(stderr,
            "hltrace import: warning: %s: 0 events: the log holds no allocation calls; "
            "the trace is empty\n",
            a.pos[1]);
  return 0;
}

/* ---- main ---- */

int main(int argc, char **argv) {
  hl_cli_check_stdout_at_exit("hltrace");
  if (argc < 2) {
    fputs(usage_main, stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
    return fputs(usage_main, stdout), 0;
  if (strcmp(cmd, "dump") == 0) return cmd_dump(argc - 1, argv + 1);
  if (strcmp(cmd, "pack") == 0) return cmd_pack(argc - 1, argv + 1);
  if (strcmp(cmd, "stats") == 0) return cmd_stats(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0) return cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "gen") == 0) return hl_gen_main(argc - 1, argv + 1);
  if (strcmp(cmd, "import") == 0) return cmd_import(argc - 1, argv + 1);
  fprintf(stderr, "hltrace: unknown command '%s'\n\n", cmd);
  fputs(usage_main, stderr);
  return EXIT_USAGE;
}
