/* ----------------------------------------------------------------------------
  tests/record/exit.c: allocates, then leaves by _exit(), which runs no
  destructor and no atexit handler. The recorder's log is a shared file
  mapping, so tests/test_record.sh must still find both allocations.
---------------------------------------------------------------------------- */
#include <stdlib.h>
#include <unistd.h>

void *volatile exit_sink;

int main(void) {
  exit_sink = malloc(11);
  exit_sink = malloc(22);
  _exit(0);
}
