/* ----------------------------------------------------------------------------
  workloads/gen/gen.c: `hltrace gen`, the dispatcher over the synthetic models.

  The model table lives here and nowhere else: adding a model is one new file
  defining an hl_gen_model_t and one line in hl_gen_models[] below.
---------------------------------------------------------------------------- */
#include "workloads/gen/gen.h"
#include "workloads/gen/gen_util.h"

#include <stdio.h>
#include <string.h>

/* The models added for issue 17 (declared here rather than in gen_util.h,
   which another change owned at the time; the lead may move them there). */

static const hl_gen_model_t *const hl_gen_models[] = {
    &hl_gen_threadtest,   &hl_gen_larson,        &hl_gen_xmalloc,   &hl_gen_mstress,
    &hl_gen_list,         &hl_gen_tree,          &hl_gen_graph,     &hl_gen_pipeline,
    &hl_gen_cache_thrash, &hl_gen_cache_scratch, &hl_gen_survivors, &hl_gen_treepass,
};
#define HL_GEN_MODEL_COUNT (sizeof hl_gen_models / sizeof hl_gen_models[0])

static void hl_gen_usage(FILE *out) {
  fprintf(out, "usage: hltrace gen MODEL [--threads N] [--seed S] [model options] -o FILE\n"
               "       hltrace gen MODEL --help    (the model, its parameters and defaults)\n"
               "\nmodels:\n");
  for (size_t i = 0; i < HL_GEN_MODEL_COUNT; i++)
    fprintf(out, "  %-12s %s\n  %-12s   after: %s\n", hl_gen_models[i]->name,
            hl_gen_models[i]->summary, "", hl_gen_models[i]->reference);
}

int hl_gen_main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "hltrace gen: missing MODEL\n");
    hl_gen_usage(stderr);
    return 2;
  }
  const char *model = argv[1];
  if (strcmp(model, "--help") == 0 || strcmp(model, "-h") == 0 || strcmp(model, "help") == 0) {
    hl_gen_usage(stdout);
    return 0;
  }
  for (size_t i = 0; i < HL_GEN_MODEL_COUNT; i++)
    if (strcmp(model, hl_gen_models[i]->name) == 0)
      return hl_gen_models[i]->main(argc - 1, argv + 1);
  fprintf(stderr, "hltrace gen: unknown model '%s' (known:", model);
  for (size_t i = 0; i < HL_GEN_MODEL_COUNT; i++) fprintf(stderr, " %s", hl_gen_models[i]->name);
  fprintf(stderr, "); see hltrace gen --help\n");
  return 2;
}
