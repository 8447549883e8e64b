/* ----------------------------------------------------------------------------
  harness/memory_limit.h: how much memory a replay may use before the kernel
  kills it, so that a trace too big for the machine fails with a message
  instead of an OOM kill (exit 137, no row, and the machine's memory taken on
  the way).

  The figure is the smaller of MemAvailable (/proc/meminfo: free memory plus
  what the kernel can reclaim) and the room left under the process's memory
  cgroup limit (cgroup v2 memory.max - memory.current, or v1
  memory.limit_in_bytes - memory.usage_in_bytes), which is what counts in a
  container. It is read once, when the replay starts.
---------------------------------------------------------------------------- */
#ifndef HL_MEMORY_LIMIT_H
#define HL_MEMORY_LIMIT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes available now; `source` (may be NULL) says where the figure came
   from, e.g. "MemAvailable in /proc/meminfo". 0 when nothing could be read
   (source says so). */
uint64_t hl_memory_available(char *source, size_t source_len);

/* "64.0 GiB", "512.0 MiB", "4096 B": a byte count for a message. */
void hl_memory_format(uint64_t bytes, char *buf, size_t len);

#endif
