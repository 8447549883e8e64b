/* ----------------------------------------------------------------------------
  workloads/trace/internal.h: what the trace reader, writer and text form
  share (private to workloads/trace/, its tests, the fuzz target and hltrace).

  - trace_check_*: THE validator, in check.h / check.c.
  - trace_file_*: a whole input file in memory (mmap, or read() for pipes).
  - trace_error_set / trace_meta_check: error filling, meta validation.
  - Memory-backed writer and text entry points, for the fuzz target and tests.
---------------------------------------------------------------------------- */
#ifndef HL_TRACE_INTERNAL_H
#define HL_TRACE_INTERNAL_H

#include "workloads/trace.h"
#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The byte-level constants of the format (FORMAT.md); versions 1 and 2 share them. */
#define TRACE_MAGIC        "\x89HLT\r\n\x1a\n"
#define TRACE_MAGIC_LEN    8
#define TRACE_MAX_META     (UINT32_C(1) << 20)
#define TRACE_MAX_ALIGN_LG 40
#define TRACE_TAG_OP       0x0fu
#define TRACE_TAG_SAME_THR 0x10u
#define TRACE_TAG_SAME_OBJ 0x20u
#define TRACE_TAG_END      0x0fu
#define TRACE_KIND_SHIFT   5

#define TRACE_MSG_LEN 256

/* Printf-style error filling; err may be NULL. */
void trace_error_vset(hl_trace_error_t *err, const char *file, uint64_t offset, uint64_t event,
                      uint64_t line, const char *fmt, va_list ap);
void trace_error_set(hl_trace_error_t *err, const char *file, uint64_t offset, uint64_t event,
                     uint64_t line, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Validate "key=value\n" meta lines. 0 ok; else -1 with msg filled and
 *bad_at = offset of the offending byte inside meta. */
int trace_meta_check(const char *meta, size_t len, size_t *bad_at, char *msg, size_t msg_len);

/* hl_alloc_kind_has_align without a call into alloc/ (the decoder asks it
   for every ALLOC): memalign, posix_memalign, aligned_alloc. test_trace
   checks that the two agree. */
#define TRACE_ALIGNED_KINDS                                                                        \
  ((1u << HL_KIND_MEMALIGN) | (1u << HL_KIND_POSIX_MEMALIGN) | (1u << HL_KIND_ALIGNED_ALLOC))
static inline bool trace_kind_has_align(unsigned kind) {
  return kind < 32 && (TRACE_ALIGNED_KINDS >> kind) & 1;
}

/* Is this op one that names an object with the same-object bit or a delta
   (FREE, REALLOC, READ, WRITE, LINK, SEND, SEND_PART)? One mask test: the
   decoder asks for every event. */
#define TRACE_OBJ_OPS                                                                              \
  ((1u << HL_OP_FREE) | (1u << HL_OP_REALLOC) | (1u << HL_OP_READ) | (1u << HL_OP_WRITE) |         \
   (1u << HL_OP_LINK) | (1u << HL_OP_SEND) | (1u << HL_OP_SEND_PART))
static inline bool trace_op_has_obj(unsigned op) {
  return op < 32 && (TRACE_OBJ_OPS >> op) & 1;
}

#include "workloads/trace/check.h"

/* ---- whole files in memory ---- */
typedef struct trace_file_s {
  const uint8_t *data;
  size_t len;
  void *map; /* mmap()ed region, or NULL */
  size_t map_len;
  uint8_t *owned;   /* trace_map_grow()n copy (pipes, stdin), or NULL */
  size_t owned_cap; /* its mapped bytes */
} trace_file_t;

/* Load `path` ("-" = stdin). 0 ok, -1 with err filled (offset 0, event 0). */
int trace_file_load(const char *path, const char *display_name, trace_file_t *f,
                    hl_trace_error_t *err);
void trace_file_release(trace_file_t *f);
/* The name errors use for a path: "<stdin>" for "-". */
const char *trace_display_name(const char *path);

/* ---- memory-backed writer (fuzz target, tests) ---- */
hl_trace_writer_t *trace_writer_open_mem(uint32_t threads, const char *meta, hl_trace_error_t *err);
/* Writers of an older format version (HL_TRACE_MIN_VERSION..HL_TRACE_VERSION):
   the text form writes the version its header names, so pack(dump(b)) is b
   for version 1 files too. `path` NULL: memory-backed. */
hl_trace_writer_t *trace_writer_open_version(const char *path, uint32_t threads, const char *meta,
                                             uint32_t version, hl_trace_error_t *err);
/* Like hl_trace_writer_close, but hands over the bytes (free() them). On
   failure (-1) the writer stays open for hl_trace_writer_error, as with
   hl_trace_writer_close. */
int trace_writer_close_mem(hl_trace_writer_t *w, uint8_t **data, size_t *len);
/* What close would object to at this point (trace_check_end), so the text
   form can report it with its line: TRACE_FIELD_NONE when nothing. */
trace_field_t trace_writer_check_end(const hl_trace_writer_t *w, char *msg);
/* Is `obj` allocated and not freed, in the writer's view? */
bool trace_writer_obj_live(const hl_trace_writer_t *w, uint64_t obj);

/* ---- text form on memory ---- */
/* Dump a reader's remaining events (header first) as text. */
int trace_dump_reader(hl_trace_reader_t *r, FILE *out, hl_trace_error_t *err);
/* Parse text and feed it to a writer opened by `open_writer` (called once
   the header lines are read, with the format version the header names). Returns the writer, still
   open, or NULL on error (anything opened is aborted). */
typedef hl_trace_writer_t *(*trace_open_writer_fn)(void *ctx, uint32_t threads, const char *meta,
                                                   uint32_t version, hl_trace_error_t *err);
hl_trace_writer_t *trace_pack_mem(const char *text, size_t len, const char *name,
                                  trace_open_writer_fn open_writer, void *ctx,
                                  hl_trace_error_t *err);

/* Large arrays come from mmap, not malloc: a replay loads its trace in the
   process whose malloc it measures, and memory that the reader malloc()ed and
   freed would be handed back to the measured allocator, which may keep it
   resident and so look smaller. Grow `p` (NULL: none yet) from `old_bytes`
   to `new_bytes`, contents kept; NULL when out of memory (p still valid). */
void *trace_map_grow(void *p, size_t old_bytes, size_t new_bytes);
void trace_map_free(void *p, size_t bytes);

#endif
