/* ----------------------------------------------------------------------------
  sim/capture.h: the access-capture runtime (sim/capture.c) that feeds the
  simulator from `hlreplay --sim` (the build/bin/hlreplay-sim program).

  The project's allocators are compiled a second time with -fsanitize=thread
  (build/capture/) and linked WITHOUT libtsan against sim/capture.c, which
  defines the `__tsan_*` entry points gcc emits. Every load and store of the
  allocator code, every atomic (performed here with __atomic builtins), and
  memcpy/memset/memmove and the pthread mutex/spin lock calls of those objects
  (renamed to hl_capture_* by objcopy, since libc is not instrumented) become
  sim_access() calls on the current logical core. The replay (harness/replay.c
  built with -DHL_CAPTURE) says which core runs each event and whether the
  allocator is working for itself (metadata) or for the application (read,
  write, link of an object, and the touch and free-time reads of the access
  model).

  One OS thread runs at a time: all of them on one (serial replay), or one
  OS thread per traced thread passing a baton (threads in turn, the
  default), where every hand-over is a futex wake and wait, ordered by the
  replay's atomics. So the state here is plain globals, plus what each OS
  thread knows of itself (its stack, its simulated core) in thread-local
  storage. What the allocators ask the OS is answered in the capture
  program by sim/capture_os.c, from the simulated machine: the CPU number,
  entropy and, for the libraries, the clock.
---------------------------------------------------------------------------- */
#ifndef HL_SIM_CAPTURE_H
#define HL_SIM_CAPTURE_H

#include "sim/sim.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum hl_capture_who_e {
  HL_CAPTURE_ALLOC = 0, /* allocator calls: its own metadata work */
  HL_CAPTURE_APP = 1,   /* the application's access to one object (through the allocator) */
} hl_capture_who_t;

/* Start feeding `sim` (NULL stops). Counters and attribution restart. */
void hl_capture_start(sim_t *sim);
/* Stop feeding (the replay's own cleanup after the measured run is not seen). */
void hl_capture_stop(void);
bool hl_capture_active(void);

/* The bytes [p, p+len) no longer hold a live value (sim_freed): the replay
   calls it at a free, allocators that move objects through hl_alloc_dead. */
void hl_capture_freed(const void *p, size_t len);

/* Never simulate accesses to [p, p+len) (the replay's own bookkeeping: its
   reference-slot table and per-thread contexts); up to 4 ranges per
   hl_capture_start. Returns 0, or -1 when the ranges are used up. */
int hl_capture_exclude(const void *p, size_t len);

/* The simulated core of the events that follow (< the sim's cores), on
   this OS thread (set-up, and the serial replay). */
void hl_capture_set_core(unsigned core);

/* A replay worker thread's start: its own stack is the `len` bytes below
   `stack_top` (an address in its first frame; above it glibc keeps the
   thread's TLS, which is simulated like any memory). Touches only this
   thread's own state, so it may run beside the baton's holder. */
void hl_capture_thread_begin(const void *stack_top, size_t len);
/* This OS thread now holds the baton and runs simulated core `core`: its
   stack is the one dropped from now on. */
void hl_capture_switch(unsigned core);
/* The simulated core this OS thread last ran (0 before it ran any). */
unsigned hl_capture_thread_core(void);
/* Simulated time: one nanosecond per simulated access so far (a run's
   accesses, not the host's speed, decide when time-based allocator policy
   such as jemalloc's purging decay fires). */
uint64_t hl_capture_clock_ns(void);

/* Accesses that follow are the allocator's own work. */
void hl_capture_alloc_begin(void);
/* Accesses that follow are the application's access to object `obj` (its
   size and the logical thread that allocated it), made through the
   allocator; accesses inside [buf, buf+len) (the replay's own scratch or
   pattern buffer, the other side of the copy) are not the application's
   memory and are dropped. */
void hl_capture_app_begin(uint32_t obj, uint64_t size, uint32_t owner, const void *buf, size_t len);

typedef struct hl_capture_counts_s {
  uint64_t app_accesses;    /* sim_access calls made for the application */
  uint64_t alloc_accesses;  /* ... for the allocator's own work */
  uint64_t alloc_functions; /* instrumented allocator functions entered */
  uint64_t stack_dropped;   /* accesses to the OS thread's stack, not simulated */
  uint64_t harness_dropped; /* accesses to excluded harness ranges, not simulated */
  uint64_t atomics, locks;  /* atomics performed, lock calls seen */
} hl_capture_counts_t;

void hl_capture_counts(hl_capture_counts_t *out);

/* The hottest `top` lines (sim_hot_lines) with what lives there: the
   application object or the allocator function whose access caused a
   transfer, clean forward or invalidation on the line. Text, addresses included. */
void hl_capture_report(FILE *out, const sim_t *sim, size_t top);

/* ---- symbols (sim/capture_sym.c) ----
   The function containing `pc` in this program, from its ELF symbol table
   (static functions included), as "name+0xoff" or "?" when unknown. */
void hl_capture_symbol(const void *pc, char *buf, size_t len);
/* Whether the library holding `addr` is a capture build (compiled with the
   instrumentation, so its calls reach this runtime). False for the program
   itself and for ordinary libraries, the C library's malloc among them. */
bool hl_capture_instrumented(const void *addr);

#endif
