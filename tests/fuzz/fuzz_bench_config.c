/* ----------------------------------------------------------------------------
  tests/fuzz/fuzz_bench_config.c: libFuzzer target for hlbench's config
  parser (harness/bench_config.c; the format is harness/BENCH.md, "Config
  format"), built by `make fuzz-build`.

  The input is a config file, given to hl_bench_config_load as a file (a
  memfd, "/proc/self/fd/N": relative paths in it resolve under /proc/self/fd
  and fail, absolute ones such as /dev/null are checked as they are). The
  parser must either refuse it with exactly one message "FILE:LINE: ..."
  that names the file and a line of it, or accept a complete config: at
  least one allocator and one workload, thread counts in 1..4096, at least
  one page size, repeats in 1..10000, every workload named and either
  generated (with a model) or a file (with an absolute path), the workload
  subsets naming workloads of the file. An accepted config then goes
  through the allocator-list helpers hlbench uses (--only-alloc with its
  first allocator unless that one's options hold a comma, which the
  comma-separated --only-alloc list cannot name; the allocator check
  against a fixed list).

  Depth: an input is past the header when it is accepted (a config has no
  header: accepting it needs the allocators and workload lines).
---------------------------------------------------------------------------- */
#include "harness/bench.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_depth_what = "accepted as a whole config";
  return 0;
}

/* The error text must be one line "PATH:LINE: MESSAGE\n", LINE in 1..lines. */
static void fuzz_check_error(const char *msg, size_t len, const char *path, size_t lines) {
  size_t plen = strlen(path);
  if (len == 0) fuzz_fail("refused without a message");
  if (len < plen + 1 || memcmp(msg, path, plen) != 0 || msg[plen] != ':')
    fuzz_fail("the message does not start with the file name: '%s'", msg);
  char *end;
  unsigned long line = strtoul(msg + plen + 1, &end, 10);
  if (end == msg + plen + 1 || *end != ':') fuzz_fail("the message has no line number: '%s'", msg);
  if (line < 1 || line > lines) fuzz_fail("line %lu of a %zu-line file: '%s'", line, lines, msg);
  if (msg[len - 1] != '\n' || memchr(msg, '\n', len) != msg + len - 1)
    fuzz_fail("expected exactly one line of message, got '%s'", msg);
}

static void fuzz_check_config(const hl_bench_config_t *cfg) {
  if (cfg->allocs.n == 0 || cfg->n_workloads == 0 || cfg->n_threads == 0 ||
      cfg->n_sim_threads == 0 || cfg->n_page_sizes == 0)
    fuzz_fail("an accepted config lacks allocators, workloads, threads or page sizes");
  if (cfg->repeats < 1 || cfg->repeats > 10000) fuzz_fail("repeats %u", cfg->repeats);
  if (!(cfg->timeout_s > 0)) fuzz_fail("timeout %g", cfg->timeout_s);
  for (size_t i = 0; i < cfg->n_threads; i++)
    if (cfg->threads[i] < 1 || cfg->threads[i] > 4096) fuzz_fail("threads %u", cfg->threads[i]);
  for (size_t i = 0; i < cfg->n_sim_threads; i++)
    if (cfg->sim_threads[i] < 1 || cfg->sim_threads[i] > 4096)
      fuzz_fail("sim_threads %u", cfg->sim_threads[i]);
  for (size_t i = 0; i < cfg->n_page_sizes; i++)
    if (cfg->page_sizes[i] & (cfg->page_sizes[i] - 1))
      fuzz_fail("page size %llu is not 0 or a power of two",
                (unsigned long long)cfg->page_sizes[i]);
  if (cfg->sim && cfg->sim[0] != '/') fuzz_fail("sim '%s' is not an absolute path", cfg->sim);
  for (size_t i = 0; i < cfg->allocs.n; i++)
    if (!cfg->allocs.v[i] || !cfg->allocs.v[i][0]) fuzz_fail("an empty allocator name");
  for (size_t w = 0; w < cfg->n_workloads; w++) {
    const hl_bench_workload_t *wl = &cfg->workloads[w];
    if (!wl->name || !wl->name[0]) fuzz_fail("a workload without a name");
    if (wl->source == HL_BENCH_GEN && wl->gen_args.n == 0)
      fuzz_fail("workload %s: gen without a model", wl->name);
    if (wl->source == HL_BENCH_FILE && (!wl->path || wl->path[0] != '/'))
      fuzz_fail("workload %s: file without an absolute path", wl->name);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_input_path(data, size);
  size_t lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  char *msg = NULL;
  size_t msg_len = 0;
  FILE *err = open_memstream(&msg, &msg_len);
  if (!err) fuzz_fail("open_memstream failed");
  hl_bench_config_t cfg;
  int rc = hl_bench_config_load(path, &cfg, err);
  fflush(err);
  fuzz_depth(rc == 0);
  if (rc != 0) {
    fclose(err);
    fuzz_check_error(msg, msg_len, path, lines);
    free(msg);
    return 0;
  }
  if (msg_len != 0) fuzz_fail("accepted, yet it printed '%s'", msg);
  fuzz_check_config(&cfg);
  /* the allocator helpers hlbench runs on a loaded config */
  for (size_t i = 0; i < cfg.allocs.n; i++) {
    char name[128], own[256];
    const char *remote_free, *opts = hl_bench_alloc_split(cfg.allocs.v[i], name, sizeof name);
    hl_bench_alloc_options(opts, own, sizeof own, &remote_free);
    if (remote_free && strcmp(remote_free, "send") != 0 && strcmp(remote_free, "request") != 0)
      fuzz_fail("allocator '%s' passed with remote-free='%s'", cfg.allocs.v[i], remote_free);
  }
  hl_bench_strv_t known = {0};
  hl_bench_strv_push(&known, "system");
  hl_bench_strv_push(&known, "ravioli16");
  hl_bench_config_check_allocs(&cfg, &known, err);
  hl_bench_strv_free(&known);
  /* --only-alloc takes a comma-separated list, so a variant whose options
     hold a comma (NAME:a=1,b=2) cannot be named there: only the others */
  if (!strchr(cfg.allocs.v[0], ',')) {
    char *first = hl_bench_xstrdup(cfg.allocs.v[0]);
    size_t n_workloads = cfg.n_workloads;
    if (hl_bench_config_only_allocs(&cfg, first, err) != 0)
      fuzz_fail("--only-alloc with the config's own first allocator '%s' failed", first);
    if (cfg.allocs.n != 1 || strcmp(cfg.allocs.v[0], first) != 0 || cfg.n_workloads != n_workloads)
      fuzz_fail("--only-alloc %s kept %zu allocators", first, cfg.allocs.n);
    free(first);
  }
  hl_bench_config_free(&cfg);
  fclose(err);
  free(msg);
  return 0;
}
