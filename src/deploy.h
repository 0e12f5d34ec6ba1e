/* deploy.h: the seed's production_digit_classifier asset, on the local model store.
 *
 * Rules (DeploymentConfig: accuracy_threshold, custom_model_name, force_deploy), in order:
 *  1. custom_model_name set: that store model is deployed as `production_custom_<name>`
 *     (status deployed_custom, type user_override) with no accuracy check; when it cannot be
 *     found or is not a DigitCNN model: status failed_custom (CT_ERR_INPUT, or CT_ERR_USAGE for
 *     an unknown name).
 *  2. force_deploy: `production_model_forced_<acc>` (deployed_forced, force_override).
 *  3. else `production_model_<acc>` when test_accuracy >= accuracy_threshold (deployed,
 *     standard), otherwise nothing is copied: status skipped, CT_ERR_SKIPPED.
 * `<acc>` is the test accuracy fraction with two decimals and '.' -> 'p' (0.9912 -> 0p99), as
 * the seed's f"{test_accuracy:.2f}".replace(".", "p"). The test accuracy comes from the
 * model's evaluation.json when it was made from the same file (MD5), else the model is
 * evaluated first (evaluate.h).
 * Deploying = copying the model file atomically to
 * `<model_save_dir>/production/<production name>.safetensors` and rewriting the production
 * marker `<model_save_dir>/production.json` (atomically) that `cltrain models` reads.
 * Unless no_onnx is set, the model is also exported as ONNX (io/onnx_export.h) to
 * `<model_save_dir>/production/<production name>.onnx` first, named `onnx_path` in the marker and
 * the result; a model that cannot be exported fails the deployment (nothing is copied). */
#ifndef CLTRAIN_DEPLOY_H
#define CLTRAIN_DEPLOY_H

#include "config.h"
#include "evaluate.h"
#include "store.h"

typedef struct {
    const char *model;  /* the candidate (name or path); NULL = newest. Ignored for a custom deploy */
    const char *device; /* for an evaluation, when one is needed */
    int no_onnx;        /* do not write the .onnx file beside the production copy */
} ct_deploy_opts;

typedef struct {
    char status[32];   /* deployed, deployed_forced, deployed_custom, failed_custom, skipped */
    char type[32];     /* standard, force_override, user_override */
    char model_name[CT_STORE_NAME_MAX];  /* production name; "" when skipped/failed */
    char production_path[CT_STORE_PATH_MAX + 600];
    char onnx_path[CT_STORE_PATH_MAX + 600]; /* the ONNX export beside it; "" when none (--no-onnx) */
    char source_name[CT_STORE_NAME_MAX], source_path[CT_STORE_PATH_MAX];
    char custom_model_name[CT_CONFIG_STR_MAX];
    char error[1024];  /* failed_custom: why */
    char deployed_at[32];
    double threshold;
    double accuracy;   /* test accuracy (fraction); -1 when unknown (custom deploy without evaluation) */
    int evaluated_now; /* the model had no evaluation: it was evaluated first */
} ct_deploy_result;

/* Deploys by the rules above using cfg->deployment. Returns CT_OK for the deployed statuses,
 * CT_ERR_SKIPPED for skipped, an error status for failed_custom and other failures; r->status
 * is filled whenever a decision was reached. ev (may be NULL) receives the evaluation when one
 * was run. */
int ct_deploy(const ct_config *cfg, const ct_deploy_opts *o, ct_deploy_result *r, ct_eval_result *ev);

/* The result as the deployment metadata JSON object (deployment_status, deployment_type,
 * threshold, accuracy, model_name, ...). malloc'd. */
int ct_deploy_to_json(const ct_deploy_result *r, char **out);

/* "0p99" from 0.9912 (two decimals, '.' -> 'p'). */
void ct_deploy_acc_tag(double accuracy, char *buf, size_t cap);

#endif
