/* ----------------------------------------------------------------------------
  tests/record/forkexec.c: a parent that allocates, forks a child that
  allocates and then execs this program again ("exec" argument), which
  allocates once more. Under the recorder that is three process images and
  must give three logs (PREFIX.PID.raw for parent and child, PREFIX.PID.1.raw
  for the exec'd image, which has the child's pid), each importable.
---------------------------------------------------------------------------- */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *volatile fe_sink;

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "exec") == 0) {
    fe_sink = malloc(3003);
    free(fe_sink);
    return 0;
  }
  fe_sink = malloc(1001);
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    fe_sink = malloc(2002);
    free(fe_sink);
    execl(argv[0], argv[0], "exec", (char *)NULL);
    _exit(127);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
  free(fe_sink);
  return 0;
}
