/* pipeline.c: see pipeline.h. */
#define _POSIX_C_SOURCE 200809L
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/jsonutil.h"
#include "split.h"

int ct_train_result_to_json(const ct_config *cfg, const ct_train_result *t, char **out)
{
    json_t *w = json_object();
    json_object_set_new(w, "model_name", ct_jstr(t->model_name));
    json_object_set_new(w, "model_path", ct_jstr(t->model_path));
    json_object_set_new(w, "run_dir", ct_jstr(t->run_dir));
    json_object_set_new(w, "final_val_accuracy", ct_jreal(t->final_val_accuracy));
    json_object_set_new(w, "best_val_accuracy", ct_jreal(t->best_val_accuracy));
    json_object_set_new(w, "training_epochs", json_integer((json_int_t)(t->epochs_run)));
    json_object_set_new(w, "configured_epochs", json_integer((json_int_t)(t->configured_epochs)));
    json_object_set_new(w, "model_parameters", json_integer((json_int_t)(t->model_parameters)));
    json_object_set_new(w, "final_train_loss", ct_jreal(t->final_train_loss));
    json_object_set_new(w, "learning_rate", ct_jreal(cfg->training.learning_rate));
    json_object_set_new(w, "final_learning_rate", ct_jreal(t->learning_rate));
    json_object_set_new(w, "batch_size", json_integer((json_int_t)(cfg->training.batch_size)));
    json_object_set_new(w, "optimizer", ct_jstr(cfg->training.optimizer_type));
    json_object_set_new(w, "early_stopping_used", json_boolean(t->early_stopped));
    json_object_set_new(w, "train_images_per_second", ct_jreal(t->train_images_per_second));
    json_object_set_new(w, "seconds", ct_jreal(t->seconds));
    json_object_set_new(w, "device", ct_jstr(t->device));
    size_t len;
    int rc = ct_jdump(w, out, &len);
    json_decref(w);
    return rc;
}

static int data_step(const ct_config *cfg, char **json)
{
    ct_dataset train = {0}, test = {0};
    uint32_t *tidx = NULL, *vidx = NULL;
    size_t n_tr = 0, n_val = 0;
    float mean[CT_CONFIG_MAX_CHANNELS], std[CT_CONFIG_MAX_CHANNELS];
    int rc = ct_load_train_data(cfg, 1, &train, &test, 1);
    if (rc == CT_OK) rc = ct_config_data_norm(&cfg->data, train.c, mean, std);
    if (rc == CT_OK)
        rc = ct_split_stratified(train.labels, train.n, train.classes, cfg->training.validation_split,
                                 (uint64_t)cfg->training.seed, &tidx, &n_tr, &vidx, &n_val);
    if (rc == CT_OK) {
        json_t *w = json_object();
        json_object_set_new(w, "train_samples", json_integer((json_int_t)((int64_t)n_tr)));
        json_object_set_new(w, "val_samples", json_integer((json_int_t)((int64_t)n_val)));
        json_object_set_new(w, "test_samples", json_integer((json_int_t)((int64_t)test.n)));
        json_t *image_shape = json_array();
        json_object_set_new(w, "image_shape", image_shape);
        json_array_append_new(image_shape, json_integer((json_int_t)(train.c)));
        json_array_append_new(image_shape, json_integer((json_int_t)(train.h)));
        json_array_append_new(image_shape, json_integer((json_int_t)(train.w)));
        json_object_set_new(w, "num_classes", json_integer((json_int_t)(train.classes)));
        json_t *names = json_array();
        json_object_set_new(w, "class_names", names);
        for (int k = 0; k < train.classes; k++) json_array_append_new(names, ct_jstr(train.class_names[k]));
        json_object_set_new(w, "data_dir", ct_jstr(cfg->data.dir));
        json_object_set_new(w, "validation_split", ct_jreal(cfg->training.validation_split));
        json_object_set_new(w, "stratified", json_boolean(1));
        json_object_set_new(w, "seed", json_integer((json_int_t)(cfg->training.seed)));
        json_t *normalisation = json_object();
        json_object_set_new(w, "normalisation", normalisation);
        json_object_set_new(normalisation, "mean", ct_jreal(mean[0]));
        json_object_set_new(normalisation, "std", ct_jreal(std[0]));
        json_t *mc = json_array(), *sc = json_array();
        json_object_set_new(normalisation, "mean_per_channel", mc);
        json_object_set_new(normalisation, "std_per_channel", sc);
        for (int k = 0; k < train.c; k++) {
            json_array_append_new(mc, ct_jreal(mean[k]));
            json_array_append_new(sc, ct_jreal(std[k]));
        }
        size_t len;
        rc = ct_jdump(w, json, &len);
        json_decref(w);
    }
    free(tidx);
    free(vidx);
    ct_dataset_free(&train);
    ct_dataset_free(&test);
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
    ct_eval_result_free(&r->eval);
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
        json_t *w = json_object();
        json_object_set_new(w, "pipeline", ct_jstr("digit_classifier"));
        json_object_set_new(w, "status", ct_jstr(r->status));
        if (r->failed_step[0]) {
            json_object_set_new(w, "failed_step", ct_jstr(r->failed_step));
        }
        if (err) {
            json_object_set_new(w, rc == CT_ERR_SKIPPED ? "warning" : "error", ct_jstr(err));
        }
        json_object_set_new(w, "model_name", ct_jstr(r->train.model_name));
        json_object_set_new(w, "run_dir", ct_jstr(r->train.run_dir));
        json_object_set_new(w, "started_at", ct_jstr(started));
        json_object_set_new(w, "finished_at", ct_jstr(finished));
        json_object_set_new(w, "seconds", ct_jreal(r->seconds));
        json_t *steps = json_object();
        json_object_set_new(w, "steps", steps);
        const char *names[4] = {"data", "training", "evaluation", "deployment"};
        const char *vals[4] = {j_data, j_train, j_eval, j_deploy};
        for (int k = 0; k < 4; k++) {
            if (vals[k]) json_object_set_new(steps, names[k], ct_jraw(vals[k]));
            else json_object_set_new(steps, names[k], json_null());
        }
        if (cfg_json) json_object_set_new(w, "config", ct_jraw(cfg_json));
        else json_object_set_new(w, "config", json_null());
        json_object_set_new(w, "cltrain_version", ct_jstr(CLTRAIN_VERSION));
        size_t len;
        int r2 = ct_jdump(w, &r->json, &len);
        json_decref(w);
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
