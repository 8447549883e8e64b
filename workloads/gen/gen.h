/* ----------------------------------------------------------------------------
  workloads/gen/gen.h: synthetic workload generators.

  Each model is a documented, parameterised and seeded program that writes a
  trace through the trace writer (so its output is valid by construction).
  `hltrace gen MODEL [--threads N] [--seed S] [model options] -o FILE`.
---------------------------------------------------------------------------- */
#ifndef HL_GEN_H
#define HL_GEN_H

typedef struct hl_gen_model_s {
  const char *name;                   /* "threadtest", "larson", ... */
  const char *summary;                /* one line */
  const char *reference;              /* the benchmark it is modelled on, with citation */
  int (*main)(int argc, char **argv); /* argv[0] = model name; returns exit status */
} hl_gen_model_t;

/* Entry point of `hltrace gen`: argv[0] = "gen", argv[1] = model or --help. */
int hl_gen_main(int argc, char **argv);

#endif
