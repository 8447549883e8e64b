/* ----------------------------------------------------------------------------
  harness/memory_limit.c: the memory a replay may still use (memory_limit.h):
  /proc/meminfo and the memory cgroup, v2 or v1.
---------------------------------------------------------------------------- */
#include "harness/memory_limit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A limit at or above this is "no limit" (cgroup v1 writes 2^63 rounded down
   to a page; v2 writes "max"). */
#define MEMORY_NO_LIMIT (UINT64_C(1) << 60)

/* The first number in a file ("max" reads as no limit); false when absent. */
static bool memory_read_u64(const char *path, uint64_t *out) {
  FILE *f = fopen(path, "re");
  if (!f) return false;
  char buf[64] = {0};
  bool ok = fgets(buf, sizeof buf, f) != NULL;
  fclose(f);
  if (!ok) return false;
  if (strncmp(buf, "max", 3) == 0) {
    *out = UINT64_MAX;
    return true;
  }
  return sscanf(buf, "%" SCNu64, out) == 1;
}

static bool memory_meminfo_available(uint64_t *out) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (!f) return false;
  char line[256];
  bool found = false;
  uint64_t kib;
  while (!found && fgets(line, sizeof line, f))
    found = sscanf(line, "MemAvailable: %" SCNu64 " kB", &kib) == 1;
  fclose(f);
  if (found) *out = kib * 1024;
  return found;
}

/* The room left under the memory cgroup's limit, from the folder `dir`
   holding its files; false when there is no limit there. */
static bool memory_cgroup_room(const char *dir, const char *limit_file, const char *usage_file,
                               uint64_t *out) {
  char path[512];
  uint64_t limit, usage;
  snprintf(path, sizeof path, "%s/%s", dir, limit_file);
  if (!memory_read_u64(path, &limit) || limit >= MEMORY_NO_LIMIT) return false;
  snprintf(path, sizeof path, "%s/%s", dir, usage_file);
  if (!memory_read_u64(path, &usage)) usage = 0;
  *out = usage < limit ? limit - usage : 0;
  return true;
}

/* The process's memory cgroup: its own folder, else (a container that sees
   its cgroup as the root) the root folder. */
static bool memory_cgroup_available(uint64_t *out, const char **which) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return false;
  char line[512];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    const char *v2 = strncmp(line, "0::", 3) == 0 ? line + 3 : NULL;
    const char *v1 = strstr(line, ":memory:");
    char dir[600];
    if (v2) {
      snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", v2);
      found = memory_cgroup_room(dir, "memory.max", "memory.current", out) ||
              memory_cgroup_room("/sys/fs/cgroup", "memory.max", "memory.current", out);
      *which = "the memory cgroup's memory.max";
    } else if (v1) {
      snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory%s", v1 + 8);
      found = memory_cgroup_room(dir, "memory.limit_in_bytes", "memory.usage_in_bytes", out) ||
              memory_cgroup_room("/sys/fs/cgroup/memory", "memory.limit_in_bytes",
                                 "memory.usage_in_bytes", out);
      *which = "the memory cgroup's memory.limit_in_bytes";
    }
  }
  fclose(f);
  return found;
}

uint64_t hl_memory_available(char *source, size_t source_len) {
  uint64_t avail = 0, room = 0;
  const char *cgroup = NULL;
  bool have_avail = memory_meminfo_available(&avail);
  bool have_room = memory_cgroup_available(&room, &cgroup);
  const char *what = "nothing: neither /proc/meminfo nor a memory cgroup could be read";
  uint64_t bytes = 0;
  if (have_room && (!have_avail || room < avail))
    bytes = room, what = cgroup;
  else if (have_avail)
    bytes = avail, what = "MemAvailable in /proc/meminfo";
  if (source) snprintf(source, source_len, "%s", what);
  return bytes;
}

void hl_memory_format(uint64_t bytes, char *buf, size_t len) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) {
    snprintf(buf, len, "%" PRIu64 " B", bytes);
    return;
  }
  double v = (double)bytes / 1024;
  unsigned u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) v /= 1024, u++;
  snprintf(buf, len, "%.1f %s", v, units[u]);
}
