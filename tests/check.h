/* ----------------------------------------------------------------------------
  tests/check.h: the tiny assertion layer every C test uses.

  CHECK(cond, fmt, ...) records a pass or a failure (with file:line and the
  message) and carries on, so one run reports every broken case. A test
  program's main() ends with `return check_summary("name");`, which prints
  "name: N passed, M failed" and exits non-zero when anything failed;
  tests/run.sh adds those lines up.
---------------------------------------------------------------------------- */
#ifndef HL_TESTS_CHECK_H
#define HL_TESTS_CHECK_H

#include <stdio.h>

static unsigned check_passed, check_failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      check_passed++;                                                                              \
    } else {                                                                                       \
      check_failed++;                                                                              \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
    }                                                                                              \
  } while (0)

static inline int check_summary(const char *name) {
  printf("%s: %u passed, %u failed\n", name, check_passed, check_failed);
  return check_failed ? 1 : 0;
}

#endif
