/* ----------------------------------------------------------------------------
  workloads/cli.h: what every heaplab command does the same way at its edges
  (hltrace here; hlreplay, hlbench, hlmicro and hlqueuebench above).

  - Standard output is checked when the command exits: a write error
    (`> /dev/full`, a full disk) is reported and the exit status becomes 1,
    so a lost metrics row never passes for success. Registered once with
    hl_cli_check_stdout_at_exit (the coreutils close_stdout idea).
  - Long options match exactly: getopt_long accepts any unambiguous prefix,
    which turned `--threads 4` into `--threads-as-traced` plus a stray
    argument. hl_cli_getopt refuses a prefix and names the option it would
    have matched.

  Header-only: a handful of lines each command links once.
---------------------------------------------------------------------------- */
#ifndef HL_CLI_H
#define HL_CLI_H

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *hl_cli_prog = "heaplab";

static inline void hl_cli_stdout_close(void) {
  errno = 0;
  bool bad = fflush(stdout) != 0;
  int e = errno;
  bad |= ferror(stdout) != 0;
  if (!bad) return;
  fprintf(stderr, "%s: writing to standard output: %s\n", hl_cli_prog,
          e ? strerror(e) : "write error (output lost)");
  _exit(1);
}

/* At exit, flush standard output and turn a write error into a message and
   exit status 1. Call first thing in main. */
static inline void hl_cli_check_stdout_at_exit(const char *prog) {
  hl_cli_prog = prog;
  atexit(hl_cli_stdout_close);
}

/* getopt_long with exact long names. Returns what getopt_long returns, but
   '?' for a long option given as a prefix of its name (`--thread` for
   `--threads-as-traced`), with *prefix_of set to the full name (NULL
   otherwise). On '?', *token is the argument that was refused. Like
   getopt_long, it says so on stderr itself unless opterr is 0. */
static inline int hl_cli_getopt(int argc, char **argv, const char *shorts,
                                const struct option *longs, const char **token,
                                const char **prefix_of) {
  int index = -1;
  *prefix_of = NULL;
  int c = getopt_long(argc, argv, shorts, longs, &index);
  *token = optind > 0 && optind <= argc ? argv[optind - 1] : "";
  if (index < 0 || c == -1 || c == '?') return c;
  /* the token that named it: "--name[=value]", or the one before a separate value */
  bool inline_value = optarg && optarg > *token && optarg <= *token + strlen(*token);
  if (longs[index].has_arg != no_argument && optarg && !inline_value) *token = argv[optind - 2];
  size_t n = strcspn(*token + 2, "=");
  if (strncmp(*token, "--", 2) != 0 ||
      (n == strlen(longs[index].name) && strncmp(*token + 2, longs[index].name, n) == 0))
    return c;
  *prefix_of = longs[index].name;
  if (opterr)
    fprintf(stderr, "%s: unknown option '%s': long options are spelled out whole (--%s?)\n",
            program_invocation_short_name, *token, *prefix_of);
  return '?';
}

#endif
