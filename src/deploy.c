/* deploy.c: see deploy.h. */
#define _POSIX_C_SOURCE 200809L
#include "deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/onnx_export.h"
#include "io/jsonutil.h"
#include "safetensors.h"

void ct_deploy_acc_tag(double accuracy, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.2f", accuracy);
    for (char *p = buf; *p; p++)
        if (*p == '.') *p = 'p';
}

int ct_deploy_to_json(const ct_deploy_result *r, char **out)
{
    json_t *w = json_object();
    json_object_set_new(w, "deployment_status", ct_jstr(r->status));
    json_object_set_new(w, "deployment_type", ct_jstr(r->type));
    json_object_set_new(w, "threshold", ct_jreal(r->threshold));
    if (r->accuracy >= 0) json_object_set_new(w, "accuracy", ct_jreal(r->accuracy));
    else json_object_set_new(w, "accuracy", json_null());
    if (r->model_name[0]) json_object_set_new(w, "model_name", ct_jstr(r->model_name));
    else json_object_set_new(w, "model_name", json_null());
    if (r->production_path[0]) json_object_set_new(w, "production_path", ct_jstr(r->production_path));
    else json_object_set_new(w, "production_path", json_null());
    if (r->onnx_path[0]) json_object_set_new(w, "onnx_path", ct_jstr(r->onnx_path));
    else json_object_set_new(w, "onnx_path", json_null());
    json_object_set_new(w, "source_model", ct_jstr(r->source_name));
    json_object_set_new(w, "source_path", ct_jstr(r->source_path));
    if (r->custom_model_name[0]) {
        json_object_set_new(w, "custom_model_name", ct_jstr(r->custom_model_name));
    }
    if (r->error[0]) {
        json_object_set_new(w, "error", ct_jstr(r->error));
    }
    json_object_set_new(w, "evaluated_now", json_boolean(r->evaluated_now));
    if (r->deployed_at[0]) {
        json_object_set_new(w, "deployed_at", ct_jstr(r->deployed_at));
    }
    size_t len;
    int rc = ct_jdump(w, out, &len);
    json_decref(w);
    return rc;
}

/* the ONNX export beside the production copy (before anything is copied: a model that cannot
 * be exported is not deployed) */
static int publish_onnx(const char *dir, ct_deploy_result *r)
{
    snprintf(r->onnx_path, sizeof r->onnx_path, "%s/%s.onnx", dir, r->model_name);
    ct_onnx_file_opts eo = {r->source_path, r->source_name, NULL, 0, 0};
    ct_onnx_info info;
    int rc = ct_onnx_export_file(&eo, r->onnx_path, &info);
    if (rc) {
        r->onnx_path[0] = 0;
        return ct_fail_ctx(rc, "deployment stopped before copying anything (deploy with --no-onnx to skip the ONNX file)");
    }
    ct_log("ONNX export: %s (opset %d, %zu bytes)\n", r->onnx_path, info.opset, info.bytes);
    return CT_OK;
}

/* copies the model into production/ (with its ONNX export) and rewrites the marker */
static int publish(const ct_config *cfg, ct_deploy_result *r, const char *md5, int onnx)
{
    char dir[CT_STORE_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/%s", cfg->output.model_save_dir, CT_STORE_PRODUCTION_DIR);
    int rc = ct_mkdirs(dir);
    if (rc) return rc;
    if (onnx && (rc = publish_onnx(dir, r)) != CT_OK) return rc;
    if (!onnx) { /* an earlier deployment's export under this name would not be this model's */
        char stale[sizeof dir + CT_STORE_NAME_MAX + 8];
        snprintf(stale, sizeof stale, "%s/%s.onnx", dir, r->model_name);
        if (remove(stale) == 0) ct_log("removed %s (from an earlier deployment; --no-onnx)\n", stale);
    }
    snprintf(r->production_path, sizeof r->production_path, "%s/%s.safetensors", dir, r->model_name);
    unsigned char *bytes = NULL;
    size_t len = 0;
    if ((rc = ct_read_file(r->source_path, CT_ST_MAX_FILE, &bytes, &len)) != CT_OK) return rc;
    rc = ct_write_file_atomic(r->production_path, bytes, len);
    free(bytes);
    if (rc) return rc;
    ct_store_now_iso(r->deployed_at, sizeof r->deployed_at);
    json_t *w = json_object();
    json_object_set_new(w, "model_name", ct_jstr(r->model_name));
    json_object_set_new(w, "path", ct_jstr(r->production_path));
    if (r->onnx_path[0]) json_object_set_new(w, "onnx_path", ct_jstr(r->onnx_path));
    else json_object_set_new(w, "onnx_path", json_null());
    json_object_set_new(w, "source_model", ct_jstr(r->source_name));
    json_object_set_new(w, "source_path", ct_jstr(r->source_path));
    json_object_set_new(w, "source_md5", ct_jstr(md5));
    json_object_set_new(w, "deployment_status", ct_jstr(r->status));
    json_object_set_new(w, "deployment_type", ct_jstr(r->type));
    if (r->accuracy >= 0) json_object_set_new(w, "accuracy", ct_jreal(r->accuracy));
    else json_object_set_new(w, "accuracy", json_null());
    json_object_set_new(w, "threshold", ct_jreal(r->threshold));
    json_object_set_new(w, "deployed_at", ct_jstr(r->deployed_at));
    json_object_set_new(w, "cltrain_version", ct_jstr(CLTRAIN_VERSION));
    char *text = NULL;
    size_t tl;
    rc = ct_jdump(w, &text, &tl);
    json_decref(w);
    if (rc) return rc;
    char marker[CT_STORE_PATH_MAX + 32];
    snprintf(marker, sizeof marker, "%s/%s", cfg->output.model_save_dir, CT_STORE_MARKER);
    text[tl] = '\n';
    rc = ct_write_file_atomic(marker, text, tl + 1);
    free(text);
    return rc;
}

int ct_deploy(const ct_config *cfg, const ct_deploy_opts *o, ct_deploy_result *r, ct_eval_result *ev)
{
    memset(r, 0, sizeof *r);
    const ct_config_deployment *dp = &cfg->deployment;
    r->threshold = dp->accuracy_threshold;
    r->accuracy = -1;
    char md5[33] = "";
    int rc;
    if (dp->custom_model_name[0]) {
        snprintf(r->type, sizeof r->type, "user_override");
        snprintf(r->custom_model_name, sizeof r->custom_model_name, "%s", dp->custom_model_name);
        rc = ct_store_resolve(cfg, dp->custom_model_name, r->source_path, r->source_name);
        if (rc == CT_OK) rc = ct_store_peek(r->source_path, NULL);
        if (rc == CT_OK) rc = ct_store_file_md5(r->source_path, md5);
        if (rc) {
            snprintf(r->status, sizeof r->status, "failed_custom");
            snprintf(r->error, sizeof r->error, "%s", ct_last_error());
            return ct_fail_ctx(rc, "custom model '%s' cannot be deployed", dp->custom_model_name);
        }
        double acc;
        if (ct_eval_cached_accuracy(cfg, r->source_name, md5, &acc)) r->accuracy = acc;
        snprintf(r->model_name, sizeof r->model_name, "production_custom_%.480s", r->source_name);
        snprintf(r->status, sizeof r->status, "deployed_custom");
        ct_log("deploying custom model %s as %s\n", r->source_name, r->model_name);
        if ((rc = publish(cfg, r, md5, !o->no_onnx)) != CT_OK) {
            snprintf(r->status, sizeof r->status, "failed_custom");
            snprintf(r->error, sizeof r->error, "%s", ct_last_error());
            r->model_name[0] = r->production_path[0] = r->onnx_path[0] = 0;
        }
        return rc;
    }
    if ((rc = ct_store_resolve(cfg, o->model, r->source_path, r->source_name)) != CT_OK) return rc;
    if ((rc = ct_store_peek(r->source_path, NULL)) != CT_OK) return rc;
    if ((rc = ct_store_file_md5(r->source_path, md5)) != CT_OK) return rc;
    double acc;
    if (ct_eval_cached_accuracy(cfg, r->source_name, md5, &acc)) {
        r->accuracy = acc;
    } else {
        ct_log("%s has no evaluation yet: evaluating it first\n", r->source_name);
        ct_eval_result *e = ev ? ev : malloc(sizeof *e);
        if (!e) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        ct_eval_opts eo = {r->source_path, o->device, 0};
        rc = ct_evaluate_model(cfg, &eo, e);
        if (rc == CT_OK) r->accuracy = e->test_accuracy;
        if (e != ev) {
            ct_eval_result_free(e);
            free(e);
        }
        if (rc) return rc;
        r->evaluated_now = 1;
    }
    char tag[32];
    ct_deploy_acc_tag(r->accuracy, tag, sizeof tag);
    if (dp->force_deploy) {
        snprintf(r->type, sizeof r->type, "force_override");
        snprintf(r->status, sizeof r->status, "deployed_forced");
        snprintf(r->model_name, sizeof r->model_name, "production_model_forced_%s", tag);
        ct_log("force deployment: deploying %s (test accuracy %.4f, threshold %g) as %s\n", r->source_name,
               r->accuracy, r->threshold, r->model_name);
    } else if (r->accuracy >= r->threshold) {
        snprintf(r->type, sizeof r->type, "standard");
        snprintf(r->status, sizeof r->status, "deployed");
        snprintf(r->model_name, sizeof r->model_name, "production_model_%s", tag);
        ct_log("%s meets the threshold (test accuracy %.4f >= %g): deploying as %s\n", r->source_name, r->accuracy,
               r->threshold, r->model_name);
    } else {
        snprintf(r->type, sizeof r->type, "standard");
        snprintf(r->status, sizeof r->status, "skipped");
        return ct_fail(CT_ERR_SKIPPED,
                       "model %s: test accuracy %.4f is below the threshold %g: deployment skipped (use --force, or "
                       "--threshold)",
                       r->source_name, r->accuracy, r->threshold);
    }
    if ((rc = publish(cfg, r, md5, !o->no_onnx)) != CT_OK) {
        r->status[0] = 0;
        r->model_name[0] = r->production_path[0] = r->onnx_path[0] = 0;
    }
    return rc;
}
