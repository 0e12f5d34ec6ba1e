/* pipeline.h: the seed's asset graph as one job: data (fetch when missing, stratified split)
 * -> training (train.h) -> evaluation of the trained model (evaluate.h) -> deployment
 * (deploy.h), reporting each step's metadata as it completes and writing
 * `<runs_dir>/<model name>/pipeline.json` (every step's metadata, the config, the outcome).
 * What it does not do: print (the caller's on_step does), schedule, or retry. */
#ifndef CLTRAIN_PIPELINE_H
#define CLTRAIN_PIPELINE_H

#include "config.h"
#include "deploy.h"
#include "evaluate.h"
#include "train.h"

/* Called after each step with its name ("data", "training", "evaluation", "deployment"), its
 * metadata as one JSON object, and the step's result struct (NULL for data;
 * ct_train_result*, ct_eval_result*, ct_deploy_result*). */
typedef void (*ct_pipeline_step_fn)(const char *step, const char *metadata_json, const void *detail, void *user);

typedef struct {
    const char *device;
    int json;                /* passed to training: no progress bar */
    ct_pipeline_step_fn on_step;
    void *user;
} ct_pipeline_opts;

typedef struct {
    ct_train_result train;
    ct_eval_result eval;
    ct_deploy_result deploy;
    char status[16];             /* ok, skipped (deployment below the threshold), failed */
    char failed_step[16];
    char pipeline_json[CT_STORE_PATH_MAX + 32]; /* "" when training failed (no run folder) */
    char *json;                  /* the pipeline.json text (malloc'd; free with ct_pipeline_free) */
    double seconds;
} ct_pipeline_result;

/* Returns CT_OK, CT_ERR_SKIPPED when the deployment was skipped (every file is written), or
 * the failing step's status. Requires output.save_model. */
int ct_pipeline_run(const ct_config *cfg, const ct_pipeline_opts *o, ct_pipeline_result *r);
void ct_pipeline_free(ct_pipeline_result *r);

/* The training step's metadata (the seed's digit_classifier fields and cltrain's). malloc'd. */
int ct_train_result_to_json(const ct_config *cfg, const ct_train_result *t, char **out);

#endif
