/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_sim_input.c: libFuzzer target for the simulator's inputs
  (built by `make fuzz-build`): its access traces (text, binary versions 1
  and 2, free records included) and its config files.

  Input starting with "#conf" is a config file: sim_config_load must accept
  it or fail with a message naming the file, and an accepted config must pass
  sim_config_check. Anything else is a trace, run through a small simulator
  with both prefetchers and the physical mapping on: the reader must stop
  with a count or -1 and a message, never crash or hang, and the simulator's
  invariants (sim_is_valid) must hold after it. Accesses over 64 KiB are
  skipped (they only cost time: the line loop is the same).

  Depth (fuzz_util.h): an input is past the header when it is a config the
  loader accepted, or a trace with at least one access read (for the binary
  form: past its magic).

  Any broken property calls abort(), which libFuzzer reports as a crash.
---------------------------------------------------------------------------- */
#include "sim/sim.h"
#include "tests/fuzz/fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "accepted as a config or read as a trace with accesses";
  return 0;
}

static void fuzz_feed(void *arg, unsigned core, uint64_t addr, uint64_t size, sim_op_t op) {
  if (size > 65536) return;
  if (op == SIM_OP_FREE)
    sim_freed(arg, addr, size);
  else
    sim_access(arg, core, addr, size, op == SIM_OP_WRITE);
}

static void fuzz_config(const uint8_t *data, size_t size) {
  int fd = memfd_create("fuzz.conf", 0);
  if (fd < 0) abort();
  if (size > 0 && write(fd, data, size) != (ssize_t)size) abort();
  char path[64], err[512];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  sim_config_t cfg;
  sim_config_default(&cfg);
  int rc = sim_config_load(&cfg, path, err, sizeof err);
  fuzz_depth(rc == 0);
  if (rc == 0) {
    if (sim_config_check(&cfg, err, sizeof err) != 0) abort();
  } else if (strstr(err, path) == NULL) {
    abort(); /* every error names the file */
  }
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 5 && memcmp(data, "#conf", 5) == 0) {
    fuzz_config(data, size);
    return 0;
  }
  sim_config_t cfg;
  sim_config_default(&cfg);
  char err[512];
  static const char *const kv[] = {
      "cores",    "4",         "l1d.size", "512",     "l1d.ways",
      "2",        "l2.size",   "1K",       "l2.ways", "4",
      "llc.size", "4K",        "llc.ways", "4",       "l2.prefetch.streams",
      "4",        "phys.bits", "52",       NULL};
  for (size_t i = 0; kv[i] != NULL; i += 2)
    if (sim_config_set(&cfg, kv[i], kv[i + 1], err, sizeof err) != 0) abort();
  sim_t *sim = sim_create(&cfg, err, sizeof err);
  if (sim == NULL) abort();
  FILE *in = fmemopen((void *)data, size, "rb");
  if (in == NULL) {
    sim_destroy(sim);
    return 0;
  }
  err[0] = '\0';
  long long n = sim_trace_read(in, "fuzz", cfg.cores, fuzz_feed, sim, err, sizeof err);
  fclose(in);
  fuzz_depth(n > 0);
  if (n < 0 && strncmp(err, "fuzz", 4) != 0) abort(); /* an error names its input */
  if (!sim_is_valid(sim)) abort();
  sim_destroy(sim);
  return 0;
}
