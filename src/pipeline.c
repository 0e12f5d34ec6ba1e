/* pipeline.c: see pipeline.h. */
#define _POSIX_C_SOURCE 200809L
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "split.h"

int ct_train_result_to_json(const ct_config *cfg, const ct_train_result *t, char **out)
{
    ct_jw w;
    ct_jw_init(&w);
    ct_jw_begin_object(&w);
    ct_jw_key(&w, "model_name");
    ct_jw_string(&w, t->model_name);
    ct_jw_key(&w, "model_path");
    ct_jw_string(&w, t->model_path);
    ct_jw_key(&w, "run_dir");
    ct_jw_string(&w, t->run_dir);
    ct_jw_key(&w, "final_val_accuracy");
    ct_jw_double(&w, t->final_val_accuracy);
    ct_jw_key(&w, "best_val_accuracy");
    ct_jw_double(&w, t->best_val_accuracy);
    ct_jw_key(&w, "training_epochs");
    ct_jw_int(&w, t->epochs_run);
    ct_jw_key(&w, "configured_epochs");
    ct_jw_int(&w, t->configured_epochs);
    ct_jw_key(&w, "model_parameters");
    ct_jw_int(&w, t->model_parameters);
    ct_jw_key(&w, "final_train_loss");
    ct_jw_double(&w, t->final_train_loss);
    ct_jw_key(&w, "learning_rate");
    ct_jw_double(&w, cfg->training.learning_rate);
    ct_jw_key(&w, "final_learning_rate");
    ct_jw_double(&w, t->learning_rate);
    ct_jw_key(&w, "batch_size");
    ct_jw_int(&w, cfg->training.batch_size);
    ct_jw_key(&w, "optimizer");
    ct_jw_string(&w, cfg->training.optimizer_type);
    ct_jw_key(&w, "early_stopping_used");
    ct_jw_bool(&w, t->early_stopped);
    ct_jw_key(&w, "train_images_per_second");
    ct_jw_double(&w, t->train_images_per_second);
    ct_jw_key(&w, "seconds");
    ct_jw_double(&w, t->seconds);
    ct_jw_key(&w, "device");
    ct_jw_string(&w, t->device);
    ct_jw_end_object(&w);
    size_t len;
    int rc = ct_jw_finish(&w, out, &len);
    ct_jw_free(&w);
    return rc;
}

static int data_step(const ct_config *cfg, char **json)
{
    ct_mnist train = {0}, test = {0};
    uint32_t *tidx = NULL, *vidx = NULL;
    size_t n_tr = 0, n_val = 0;
    int rc = ct_load_mnist(cfg->data.dir, 1, 1, &train);
    if (rc == CT_OK) rc = ct_load_mnist(cfg->data.dir, 0, 1, &test);
    if (rc == CT_OK)
        rc = ct_split_stratified(train.labels, train.n, 10, cfg->training.validation_split,
                                 (uint64_t)cfg->training.seed, &tidx, &n_tr, &vidx, &n_val);
    if (rc == CT_OK) {
        ct_jw w;
        ct_jw_init(&w);
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "train_samples");
        ct_jw_int(&w, (int64_t)n_tr);
        ct_jw_key(&w, "val_samples");
        ct_jw_int(&w, (int64_t)n_val);
        ct_jw_key(&w, "test_samples");
        ct_jw_int(&w, (int64_t)test.n);
        ct_jw_key(&w, "image_shape");
        ct_jw_begin_array(&w);
        ct_jw_int(&w, 1);
        ct_jw_int(&w, train.rows);
        ct_jw_int(&w, train.cols);
        ct_jw_end_array(&w);
        ct_jw_key(&w, "num_classes");
        ct_jw_int(&w, 10);
        ct_jw_key(&w, "data_dir");
        ct_jw_string(&w, cfg->data.dir);
        ct_jw_key(&w, "validation_split");
        ct_jw_double(&w, cfg->training.validation_split);
        ct_jw_key(&w, "stratified");
        ct_jw_bool(&w, 1);
        ct_jw_key(&w, "seed");
        ct_jw_int(&w, cfg->training.seed);
        ct_jw_key(&w, "normalisation");
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "mean");
        ct_jw_double(&w, cfg->data.mean);
        ct_jw_key(&w, "std");
        ct_jw_double(&w, cfg->data.std);
        ct_jw_end_object(&w);
        ct_jw_end_object(&w);
        size_t len;
        rc = ct_jw_finish(&w, json, &len);
        ct_jw_free(&w);
    }
    free(tidx);
    free(vidx);
    ct_mnist_free(&train);
    ct_mnist_free(&test);
    return rc;
}

static void report(const ct_pipeline_opts *o, const char *step, const char *json, const void *detail)
{
    if (o->on_step) o->on_step(step, json, detail, o->user);
}

void ct_pipeline_free(ct_pipeline_result *r)
{
    free(r->json);
    r->json = NULL;
}

int ct_pipeline_run(const ct_config *cfg, const ct_pipeline_opts *o, ct_pipeline_result *r)
{
    memset(r, 0, sizeof *r);
    if (!cfg->output.save_model)
        return ct_fail(CT_ERR_USAGE, "output.save_model: the pipeline evaluates and deploys the saved model; set it "
                       "to true (or use `cltrain train`)");
    double t0 = ct_now();
    char started[32];
    ct_store_now_iso(started, sizeof started);
    char *j_data = NULL, *j_train = NULL, *j_eval = NULL, *j_deploy = NULL, *err = NULL;
    int rc = data_step(cfg, &j_data);
    if (rc) {
        snprintf(r->failed_step, sizeof r->failed_step, "data");
        goto out;
    }
    report(o, "data", j_data, NULL);

    ct_train_opts to = {.device = o->device, .json = o->json, .quiet_progress = o->json, .handle_signals = 1};
    if ((rc = ct_train(cfg, &to, &r->train)) != CT_OK) {
        snprintf(r->failed_step, sizeof r->failed_step, "training");
        goto out;
    }
    if ((rc = ct_train_result_to_json(cfg, &r->train, &j_train)) != CT_OK) goto out;
    report(o, "training", j_train, &r->train);

    ct_eval_opts eo = {r->train.model_path, o->device, 0};
    if ((rc = ct_evaluate_model(cfg, &eo, &r->eval)) != CT_OK) {
        snprintf(r->failed_step, sizeof r->failed_step, "evaluation");
        goto out;
    }
    if ((rc = ct_eval_to_json(&r->eval, &j_eval)) != CT_OK) goto out;
    report(o, "evaluation", j_eval, &r->eval);

    ct_deploy_opts dopt = {r->train.model_path, o->device, 0};
    rc = ct_deploy(cfg, &dopt, &r->deploy, NULL);
    if (r->deploy.status[0]) {
        int r2 = ct_deploy_to_json(&r->deploy, &j_deploy);
        if (r2 == CT_OK) report(o, "deployment", j_deploy, &r->deploy);
    }
    if (rc != CT_OK && rc != CT_ERR_SKIPPED) snprintf(r->failed_step, sizeof r->failed_step, "deployment");
out:
    r->seconds = ct_now() - t0;
    snprintf(r->status, sizeof r->status, "%s", rc == CT_OK ? "ok" : rc == CT_ERR_SKIPPED ? "skipped" : "failed");
    if (rc != CT_OK) {
        err = strdup(ct_last_error());
    }
    if (r->train.run_dir[0]) {
        char finished[32], *cfg_json = NULL;
        ct_store_now_iso(finished, sizeof finished);
        int saved = rc;
        if (ct_config_to_json(cfg, &cfg_json) != CT_OK) cfg_json = NULL;
        ct_jw w;
        ct_jw_init(&w);
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "pipeline");
        ct_jw_string(&w, "digit_classifier");
        ct_jw_key(&w, "status");
        ct_jw_string(&w, r->status);
        if (r->failed_step[0]) {
            ct_jw_key(&w, "failed_step");
            ct_jw_string(&w, r->failed_step);
        }
        if (err) {
            ct_jw_key(&w, rc == CT_ERR_SKIPPED ? "warning" : "error");
            ct_jw_string(&w, err);
        }
        ct_jw_key(&w, "model_name");
        ct_jw_string(&w, r->train.model_name);
        ct_jw_key(&w, "run_dir");
        ct_jw_string(&w, r->train.run_dir);
        ct_jw_key(&w, "started_at");
        ct_jw_string(&w, started);
        ct_jw_key(&w, "finished_at");
        ct_jw_string(&w, finished);
        ct_jw_key(&w, "seconds");
        ct_jw_double(&w, r->seconds);
        ct_jw_key(&w, "steps");
        ct_jw_begin_object(&w);
        const char *names[4] = {"data", "training", "evaluation", "deployment"};
        const char *vals[4] = {j_data, j_train, j_eval, j_deploy};
        for (int k = 0; k < 4; k++) {
            ct_jw_key(&w, names[k]);
            if (vals[k]) ct_jw_raw(&w, vals[k]);
            else ct_jw_null(&w);
        }
        ct_jw_end_object(&w);
        ct_jw_key(&w, "config");
        if (cfg_json) ct_jw_raw(&w, cfg_json);
        else ct_jw_null(&w);
        ct_jw_key(&w, "cltrain_version");
        ct_jw_string(&w, CLTRAIN_VERSION);
        ct_jw_end_object(&w);
        size_t len;
        int r2 = ct_jw_finish(&w, &r->json, &len);
        ct_jw_free(&w);
        free(cfg_json);
        if (r2 == CT_OK) {
            snprintf(r->pipeline_json, sizeof r->pipeline_json, "%s/pipeline.json", r->train.run_dir);
            r->json[len] = '\n';
            r2 = ct_write_file_atomic(r->pipeline_json, r->json, len + 1);
            r->json[len] = 0;
        }
        if (r2 != CT_OK && saved == CT_OK) rc = r2;
        else if (err) ct_fail(saved, "%s", err); /* keep the step's message as the last error */
    }
    free(err);
    free(j_data);
    free(j_train);
    free(j_eval);
    free(j_deploy);
    return rc;
}
