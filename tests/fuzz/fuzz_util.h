/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_util.h: what the libFuzzer targets share (header only; each
  target is one program).

  - fuzz_input_path(): the input as a file, for parsers that only take a path:
    one memfd per process, rewritten for every input, named
    "/proc/self/fd/N" (no disk, nothing left behind).
  - fuzz_out_dir(): a private temporary folder for parsers that write a file
    (the importers), removed at exit.
  - fuzz_depth(): the target says, per input, whether the input got past the
    format's header (magic, version, first lines) into the part worth
    fuzzing. At exit the target prints "fuzz depth: N of M inputs past the
    header"; tests/run.sh fails a run where N is 0 (a fuzzer stuck at the
    magic, e.g. because its seed corpus no longer matches the format).

  Any broken property calls fuzz_fail(), which prints why and aborts:
  libFuzzer reports it as a crash and saves the input.
---------------------------------------------------------------------------- */
#ifndef HL_FUZZ_UTIL_H
#define HL_FUZZ_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

__attribute__((format(printf, 1, 2), noreturn, unused)) static void fuzz_fail(const char *fmt,
                                                                              ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("fuzz: property broken: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  abort();
}

/* ---- depth ---- */
static unsigned long long fuzz_depth_runs, fuzz_depth_deep;
static const char *fuzz_depth_what = "past the header";

static void fuzz_depth_report(void) {
  fprintf(stderr, "fuzz depth: %llu of %llu inputs %s\n", fuzz_depth_deep, fuzz_depth_runs,
          fuzz_depth_what);
}

/* Count one input; `deep`: it got past the header. The first call arranges
   the report at exit (libFuzzer ends a -max_total_time run with exit()). */
__attribute__((unused)) static void fuzz_depth(bool deep) {
  if (fuzz_depth_runs++ == 0) atexit(fuzz_depth_report);
  fuzz_depth_deep += deep;
}

/* ---- the input as a file ---- */
static int fuzz_in_fd = -1;
static char fuzz_in_path[64];

/* Write the input to this process's memfd; returns its path. */
__attribute__((unused)) static const char *fuzz_input_path(const uint8_t *data, size_t size) {
  if (fuzz_in_fd < 0) {
    fuzz_in_fd = memfd_create("fuzz-input", 0);
    if (fuzz_in_fd < 0) fuzz_fail("memfd_create failed");
    snprintf(fuzz_in_path, sizeof fuzz_in_path, "/proc/self/fd/%d", fuzz_in_fd);
  }
  if (ftruncate(fuzz_in_fd, 0) != 0) fuzz_fail("ftruncate of the input memfd failed");
  for (size_t done = 0; done < size;) {
    ssize_t n = pwrite(fuzz_in_fd, data + done, size - done, (off_t)done);
    if (n <= 0) fuzz_fail("write to the input memfd failed");
    done += (size_t)n;
  }
  return fuzz_in_path;
}

/* ---- a private output folder ---- */
static char fuzz_dir[256];

static void fuzz_out_dir_remove(void) {
  DIR *d = opendir(fuzz_dir);
  if (d) {
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
        continue;
      snprintf(path, sizeof path, "%s/%s", fuzz_dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(fuzz_dir);
}

__attribute__((unused)) static const char *fuzz_out_dir(void) {
  if (!fuzz_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/heaplab-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(fuzz_dir)) fuzz_fail("mkdtemp %s failed", fuzz_dir);
    atexit(fuzz_out_dir_remove);
  }
  return fuzz_dir;
}

/* The names in the output folder other than `keep` (NULL: none kept), as one
   string for a message; "" when there are none. */
__attribute__((unused)) static const char *fuzz_out_dir_extra(const char *keep) {
  static char names[512];
  names[0] = '\0';
  DIR *d = opendir(fuzz_out_dir());
  if (!d) fuzz_fail("cannot list %s", fuzz_dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
    if (keep && strcmp(e->d_name, keep) == 0) continue;
    size_t n = strlen(names);
    snprintf(names + n, sizeof names - n, "%s%s", n ? " " : "", e->d_name);
  }
  closedir(d);
  return names;
}

#endif
