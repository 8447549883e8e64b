/* ----------------------------------------------------------------------------
  workloads/import/record.c: `hltrace import record RAW -o TRACE`, the raw log
  of libhlrecord.so (workloads/recorder/record_format.h) -> a trace.

  The log's slot n holds the event with sequence number n, so it is already
  in global order. Two passes over it run the same conversion: the first
  counts (threads, drops, each thread's last event), the second writes.
  Traced threads are numbered in order of their first event; a thread gets
  its start just before that event and its end after its exit record, or
  after its last event if it made calls after its exit record (later
  thread-specific-data destructors can still free).
---------------------------------------------------------------------------- */
#include "workloads/import/import_internal.h"
#include "workloads/recorder/record_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per recorded thread. */
typedef struct record_thread_s {
  uint32_t trace_id; /* UINT32_MAX until its first event */
  bool started, exited, ended;
  uint64_t last_slot;   /* slot of its last event (pass 1) */
  uint64_t exit_slot;   /* slot of its exit record */
  uint64_t end_after;   /* pass 2: emit its end after this slot */
  bool pending;         /* between REALLOC_OUT and REALLOC_IN */
  uint64_t pending_obj; /* the object leaving (HL_IMPORT_NONE: unknown address) */
  uint64_t pending_addr;
} record_thread_t;

typedef struct record_import_s {
  const char *path;
  const unsigned char *data;
  uint64_t slots; /* slots up to and including the last written one */
  record_thread_t *threads;
  uint32_t nthreads; /* raw ids 0..nthreads-1 */
  uint32_t traced;   /* trace ids handed out */
  hl_import_stats_t st;
  hl_trace_error_t *err;
  bool writing;
} record_import_t;

static void record_entry_at(const record_import_t *im, uint64_t slot, record_entry_t *e) {
  memcpy(e, im->data + RECORD_HEADER_SIZE + slot * RECORD_SIZE, sizeof *e);
}

/* Emit `ev` for raw thread `t`, starting the thread first if needed. */
static int record_emit(record_import_t *im, hl_import_sink_t *s, record_thread_t *t, uint64_t slot,
                       hl_event_t *ev) {
  if (t->trace_id == UINT32_MAX) t->trace_id = im->traced++;
  ev->thread = t->trace_id;
  if (!t->started) {
    hl_event_t start = {.op = HL_OP_THREAD_START, .thread = t->trace_id};
    if (hl_import_emit(s, &start)) return -1;
    t->started = true;
  }
  t->last_slot = slot;
  return hl_import_emit(s, ev);
}

/* One pass over the log; `s` counts or writes. */
static int record_pass(void *ctx, hl_import_sink_t *s) {
  record_import_t *im = ctx;
  hl_import_map_t map;
  hl_import_map_init(&map);
  uint64_t next_obj = 0;
  memset(&im->st, 0, sizeof im->st);
  im->traced = 0;
  for (uint32_t i = 0; i < im->nthreads; i++) {
    record_thread_t *t = &im->threads[i];
    uint64_t end_after = t->exit_slot > t->last_slot ? t->exit_slot : t->last_slot;
    bool exited = t->exited;
    memset(t, 0, sizeof *t);
    t->trace_id = UINT32_MAX;
    t->exited = exited;
    t->end_after = im->writing ? end_after : UINT64_MAX;
  }
  int rc = 0;
  for (uint64_t slot = 0; slot < im->slots && rc == 0; slot++) {
    record_entry_t e;
    record_entry_at(im, slot, &e);
    if (e.op == RECORD_OP_NONE) {
      im->st.lost++;
      continue;
    }
    im->st.records++;
    record_thread_t *t = &im->threads[e.thread];
    hl_event_t ev = {0};
    uint64_t obj;
    switch ((record_op_t)e.op) {
      case RECORD_OP_ALLOC:
        if (!e.addr) {
          im->st.failed++;
          break;
        }
        if (hl_import_map_del(&map, e.addr) != HL_IMPORT_NONE) im->st.reused_live++;
        ev = (hl_event_t){.op = HL_OP_ALLOC, .obj = next_obj++, .size = e.size, .kind = e.kind};
        if (hl_alloc_kind_has_align(ev.kind)) ev.align = UINT64_C(1) << e.align_log2;
        rc = hl_import_map_put(&map, e.addr, ev.obj) ? -1 : record_emit(im, s, t, slot, &ev);
        break;
      case RECORD_OP_FREE:
        if (!e.addr) {
          im->st.null_frees++;
          break;
        }
        obj = hl_import_map_del(&map, e.addr);
        if (obj == HL_IMPORT_NONE) {
          im->st.unknown++;
          break;
        }
        ev = (hl_event_t){.op = HL_OP_FREE, .obj = obj};
        rc = record_emit(im, s, t, slot, &ev);
        break;
      case RECORD_OP_REALLOC_OUT:
        /* The old block leaves the map now, before another thread can be
           handed its address; the object waits for the second half. */
        t->pending = true;
        t->pending_addr = e.addr;
        t->pending_obj = hl_import_map_del(&map, e.addr);
        break;
      case RECORD_OP_REALLOC_IN:
        if (!e.old) { /* realloc(NULL, n) is a malloc */
          if (!e.addr) {
            im->st.failed++;
            break;
          }
          if (hl_import_map_del(&map, e.addr) != HL_IMPORT_NONE) im->st.reused_live++;
          ev = (hl_event_t){.op = HL_OP_ALLOC, .obj = next_obj++, .size = e.size};
          rc = hl_import_map_put(&map, e.addr, ev.obj) ? -1 : record_emit(im, s, t, slot, &ev);
          break;
        }
        if (!t->pending || t->pending_addr != e.old) {
          rc = hl_import_fail(im->err, im->path, RECORD_HEADER_SIZE + slot * RECORD_SIZE, slot, 0,
                              "realloc of 0x%" PRIx64 " by thread %" PRIu32
                              " has no first half (no realloc-out record for that address)",
                              e.old, e.thread);
          break;
        }
        t->pending = false;
        obj = t->pending_obj;
        if (obj == HL_IMPORT_NONE && !e.addr) {
          /* untraced block freed by realloc(p, 0), or a failed realloc of it */
          if (e.size == 0)
            im->st.unknown++;
          else
            im->st.failed++;
        } else if (obj == HL_IMPORT_NONE) {
          /* The block was allocated before recording started (or by code the
             recorder could not see): from here on the program holds
             e.size bytes, an allocation in the trace. */
          im->st.untraced_reallocs++;
          if (hl_import_map_del(&map, e.addr) != HL_IMPORT_NONE) im->st.reused_live++;
          ev = (hl_event_t){.op = HL_OP_ALLOC, .obj = next_obj++, .size = e.size};
          rc = hl_import_map_put(&map, e.addr, ev.obj) ? -1 : record_emit(im, s, t, slot, &ev);
        } else if (!e.addr && e.size == 0) { /* glibc's realloc(p, 0) frees */
          ev = (hl_event_t){.op = HL_OP_FREE, .obj = obj};
          rc = record_emit(im, s, t, slot, &ev);
        } else if (!e.addr) { /* failed: the old block stays */
          im->st.failed++;
          rc = hl_import_map_put(&map, e.old, obj);
        } else {
          if (hl_import_map_del(&map, e.addr) != HL_IMPORT_NONE) im->st.reused_live++;
          ev = (hl_event_t){.op = HL_OP_REALLOC, .obj = obj, .size = e.size};
          rc = hl_import_map_put(&map, e.addr, obj) ? -1 : record_emit(im, s, t, slot, &ev);
        }
        break;
      case RECORD_OP_THREAD_EXIT:
        t->exited = true;
        t->exit_slot = slot;
        break;
      default:
        break; /* validated before */
    }
    if (rc == 0 && t->exited && t->started && !t->ended && slot >= t->end_after) {
      hl_event_t end = {.op = HL_OP_THREAD_END, .thread = t->trace_id};
      rc = hl_import_emit(s, &end);
      t->ended = true;
    }
  }
  if (rc && !im->err->message[0])
    hl_import_fail(im->err, im->path, 0, 0, 0, "out of memory building the address map");
  hl_import_map_free(&map);
  im->st.threads = im->traced;
  return rc;
}

/* Check the header and every record, so the passes can trust them. */
static int record_validate(record_import_t *im, size_t len) {
  const char *p = im->path;
  if (len < RECORD_HEADER_SIZE)
    return hl_import_fail(im->err, p, len, 0, 0,
                          "truncated: the header has %d bytes, the file %zu (not a recorder log?)",
                          RECORD_HEADER_SIZE, len);
  record_header_t h;
  memcpy(&h, im->data, sizeof h);
  if (memcmp(h.magic, RECORD_MAGIC, 8) != 0)
    return hl_import_fail(im->err, p, 0, 0, 0,
                          "bad magic: not a libhlrecord.so log (expected \"HLRAW01\\n\")");
  if (h.version != RECORD_VERSION)
    return hl_import_fail(im->err, p, 8, 0, 0, "unsupported version %" PRIu32 " (expected %d)",
                          h.version, RECORD_VERSION);
  if (h.record_size != RECORD_SIZE)
    return hl_import_fail(im->err, p, 12, 0, 0, "record size %" PRIu32 " (expected %d)",
                          h.record_size, RECORD_SIZE);
  im->st.dropped_by_tool = h.dropped;
  uint64_t slots = (len - RECORD_HEADER_SIZE) / RECORD_SIZE, last = 0;
  bool any = false;
  /* The file grows ahead of its writers: a partial slot at the end must be
     empty, and empty slots after the last record are not lost records. */
  for (size_t off = RECORD_HEADER_SIZE + slots * RECORD_SIZE; off < len; off++)
    if (im->data[off])
      return hl_import_fail(im->err, p, RECORD_HEADER_SIZE + slots * RECORD_SIZE, slots, 0,
                            "truncated record at the end of the file");
  uint32_t max_thread = 0;
  for (uint64_t slot = 0; slot < slots; slot++) {
    record_entry_t e;
    record_entry_at(im, slot, &e);
    uint64_t off = RECORD_HEADER_SIZE + slot * RECORD_SIZE;
    if (e.op == RECORD_OP_NONE) {
      static const record_entry_t zero;
      if (memcmp(&e, &zero, sizeof e) != 0)
        return hl_import_fail(im->err, p, off, slot, 0, "record %" PRIu64 ": op 0 but not empty",
                              slot);
      continue;
    }
    if (e.seq != slot)
      return hl_import_fail(im->err, p, off, slot, 0,
                            "record in slot %" PRIu64 " has sequence number %" PRIu64, slot, e.seq);
    if (e.op >= RECORD_OP_COUNT)
      return hl_import_fail(im->err, p, off + 36, slot, 0, "unknown record op %u", e.op);
    if (e.op == RECORD_OP_ALLOC && e.kind >= HL_KIND_COUNT)
      return hl_import_fail(im->err, p, off + 37, slot, 0, "unknown allocation kind %u", e.kind);
    if (e.op == RECORD_OP_ALLOC && e.align_log2 > 40)
      return hl_import_fail(im->err, p, off + 38, slot, 0, "alignment 2^%u is over 2^40",
                            e.align_log2);
    if ((e.op == RECORD_OP_ALLOC || e.op == RECORD_OP_REALLOC_IN) && e.addr &&
        e.size > HL_TRACE_MAX_SIZE)
      return hl_import_fail(im->err, p, off + 24, slot, 0, "size %" PRIu64 " is over 2^48", e.size);
    if (e.thread >= (1u << 20))
      return hl_import_fail(im->err, p, off + 32, slot, 0,
                            "thread id %" PRIu32 " (the recorder numbers threads densely)",
                            e.thread);
    if (e.thread > max_thread) max_thread = e.thread;
    last = slot;
    any = true;
  }
  im->slots = any ? last + 1 : 0;
  im->nthreads = any ? max_thread + 1 : 0;
  return 0;
}

int hl_import_record(const char *in, const char *out, hl_import_stats_t *stats,
                     hl_trace_error_t *err) {
  trace_file_t file;
  if (trace_file_load(in, trace_display_name(in), &file, err) != 0) return -1;
  size_t len = file.len;
  record_import_t im = {.path = in, .data = file.data, .err = err};
  memset(err, 0, sizeof *err);
  int rc = record_validate(&im, len);
  if (rc == 0) {
    im.threads = calloc(im.nthreads ? im.nthreads : 1, sizeof *im.threads);
    if (!im.threads) rc = hl_import_fail(err, in, 0, 0, 0, "out of memory");
  }
  hl_import_sink_t count = {.err = err};
  uint64_t dropped_by_tool = im.st.dropped_by_tool;
  if (rc == 0) rc = record_pass(&im, &count);
  if (rc == 0) {
    if (im.traced > HL_TRACE_MAX_THREADS) {
      rc = hl_import_fail(err, in, 0, 0, 0, "%" PRIu32 " threads: a trace holds at most %d",
                          im.traced, HL_TRACE_MAX_THREADS);
    } else {
      record_header_t h;
      memcpy(&h, file.data, sizeof h);
      char meta[512];
      snprintf(meta, sizeof meta,
               "tool=hltrace import record\nrecorder.pid=%" PRIu32 "\nrecorder.ppid=%" PRIu32
               "\nimport.unknown_dropped=%" PRIu64 "\nimport.null_frees=%" PRIu64
               "\nimport.failed=%" PRIu64 "\nimport.lost=%" PRIu64
               "\nimport.untraced_reallocs=%" PRIu64 "\n",
               h.pid, h.ppid, im.st.unknown, im.st.null_frees, im.st.failed, im.st.lost,
               im.st.untraced_reallocs);
      im.writing = true;
      rc = hl_import_write(out, im.traced ? im.traced : 1, meta, record_pass, &im, stats, err);
      if (rc == 0) {
        uint64_t events = stats->events;
        *stats = im.st;
        stats->events = events;
        stats->threads = im.traced;
        stats->dropped_by_tool = dropped_by_tool;
      }
    }
  }
  free(im.threads);
  trace_file_release(&file);
  return rc;
}
