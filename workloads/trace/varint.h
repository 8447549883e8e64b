/* ----------------------------------------------------------------------------
  workloads/trace/varint.h: unsigned LEB128 varints and zigzag, as the trace
  format uses them (private to workloads/trace/ and its tests).

  Only the canonical (shortest) encoding of a value is accepted, so every
  value has exactly one encoding and binary -> text -> binary is
  byte-identical. A varint is at most 10 bytes; the 10th byte can only hold
  bit 63, so it must be exactly 1.
---------------------------------------------------------------------------- */
#ifndef HL_TRACE_VARINT_H
#define HL_TRACE_VARINT_H

#include <stdint.h>

#define VARINT_MAX_LEN 10

typedef enum varint_status_e {
  VARINT_OK = 0,
  VARINT_EOF,          /* the input ended inside (or before) the varint */
  VARINT_NONCANONICAL, /* overlong: a final 0x00 byte after the first */
  VARINT_OVERFLOW,     /* more than 64 bits: a 10th byte other than 0x01 */
} varint_status_t;

/* Append v at p (VARINT_MAX_LEN bytes must be free); returns the new end. */
static inline uint8_t *varint_put(uint8_t *p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

static inline unsigned varint_len(uint64_t v) {
  unsigned n = 1;
  while (v >= 0x80) v >>= 7, n++;
  return n;
}

/* The general case of varint_get. On error *pp is left at the varint's
   first byte, so the caller can report where the field began. */
static inline varint_status_t varint_get_slow(const uint8_t **pp, const uint8_t *end,
                                              uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  for (unsigned i = 0; i < VARINT_MAX_LEN; i++) {
    if (p == end) return VARINT_EOF;
    uint8_t b = *p++;
    if (i == VARINT_MAX_LEN - 1) {
      /* 9 bytes carried 63 bits; the 10th may only add bit 63. */
      if (b > 1) return VARINT_OVERFLOW;
      if (b == 0) return VARINT_NONCANONICAL;
      *out = v | (uint64_t)1 << 63;
      *pp = p;
      return VARINT_OK;
    }
    v |= (uint64_t)(b & 0x7f) << (7 * i);
    if (!(b & 0x80)) {
      if (b == 0 && i > 0) return VARINT_NONCANONICAL; /* a zero top group: overlong */
      *out = v;
      *pp = p;
      return VARINT_OK;
    }
  }
  return VARINT_OVERFLOW; /* not reached: the 10th byte always returns */
}

/* Decode one varint at *pp (not past end) into *out and advance *pp. Most
   trace fields fit in one byte, so that case is inline and branch-light. */
static inline varint_status_t varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  if (p < end && *p < 0x80) {
    *out = *p;
    *pp = p + 1;
    return VARINT_OK;
  }
  return varint_get_slow(pp, end, out);
}

/* Signed deltas as unsigned: 0, -1, 1, -2, 2... -> 0, 1, 2, 3, 4... The
   arithmetic is modulo 2^64, so every uint64_t difference round-trips. */
static inline uint64_t zigzag_encode(uint64_t delta) {
  return (delta << 1) ^ (uint64_t)((int64_t)delta >> 63);
}
static inline uint64_t zigzag_decode(uint64_t z) {
  return (z >> 1) ^ (uint64_t) - (int64_t)(z & 1);
}

#endif
