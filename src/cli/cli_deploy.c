/* cli_deploy.c: `cltrain deploy`: the seed's deployment rules on the model store (deploy.h).
 * Exit 0 deployed, 5 skipped (below the threshold), 2/3 bad arguments or files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deploy.h"

enum { K_MODEL = 256, K_THRESHOLD, K_FORCE, K_CUSTOM, K_NO_ONNX };

typedef struct {
    const char *model, *thr, *custom;
    int force, no_onnx;
} deploy_args;

static int take(int key, const char *val, void *user)
{
    deploy_args *d = user;
    if (val && !*val) return ct_fail(CT_ERR_USAGE, "deploy: an empty value is not allowed here");
    switch (key) {
    case K_MODEL: d->model = val; return CT_OK;
    case K_THRESHOLD: d->thr = val; return CT_OK;
    case K_CUSTOM: d->custom = val; return CT_OK;
    case K_FORCE: d->force = 1; return CT_OK;
    case K_NO_ONNX: d->no_onnx = 1; return CT_OK;
    }
    return CT_ERR_USAGE;
}

int cli_deploy(int argc, char **argv)
{
    static const cli_option opts[] = {
        {"model", 1, K_MODEL, "NAME|PATH", "the model to deploy (default: the newest)"},
        {"threshold", 1, K_THRESHOLD, "X", "minimum test accuracy in [0,1] (deployment.accuracy_threshold)"},
        {"force", 0, K_FORCE, NULL, "deploy even below the threshold (deployment.force_deploy)"},
        {"custom", 1, K_CUSTOM, "NAME", "name of the production copy (deployment.custom_model_name)"},
        {"no-onnx", 0, K_NO_ONNX, NULL, "do not write the ONNX export beside the copy"},
        {0}};
    deploy_args d = {0};
    const cli_command cmd = {"deploy",
                             "copy the model (and its ONNX export) to production if its test accuracy >= threshold "
                             "(exit 5: skipped)",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON, opts, take, &d};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if ((prc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(prc);
    const char *model = d.model, *thr = d.thr, *custom = d.custom;
    int force = d.force, no_onnx = d.no_onnx;
    if (thr) {
        char *end;
        double x = strtod(thr, &end);
        if (end == thr || *end || !isfinite(x) || x < 0 || x > 1)
            return cli_die(ct_fail(CT_ERR_USAGE,
                                   "--threshold '%s': expected a test accuracy fraction in [0,1], e.g. 0.95", thr));
        cfg.deployment.accuracy_threshold = x;
    }
    if (force) cfg.deployment.force_deploy = true;
    if (custom) {
        char set[CT_CONFIG_STR_MAX + 64];
        if (strlen(custom) >= CT_CONFIG_STR_MAX)
            return cli_die(ct_fail(CT_ERR_USAGE, "--custom: model name too long"));
        snprintf(set, sizeof set, "deployment.custom_model_name=%s", custom);
        int rc = ct_config_set(&cfg, set);
        if (rc) return cli_die(ct_fail_ctx(rc, "--custom"));
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    if (model && cfg.deployment.custom_model_name[0])
        return cli_die(ct_fail(CT_ERR_USAGE, "give either --model (a candidate checked against the threshold) or "
                                             "--custom / deployment.custom_model_name (deployed as is), not both"));
    ct_deploy_result r;
    ct_deploy_opts dopt = {model, o.device, no_onnx};
    rc = ct_deploy(&cfg, &dopt, &r, NULL);
    if (r.status[0] && !o.json) {
        if (!strcmp(r.status, "skipped"))
            printf("deployment: skipped (%s): %s has test accuracy %.4f < threshold %g; nothing was deployed\n", r.type,
                   r.source_name, r.accuracy, r.threshold);
        else if (!strcmp(r.status, "failed_custom"))
            printf("deployment: failed_custom (%s): %s\n", r.type, r.error);
        else {
            printf("deployment: %s (%s): %s -> %s", r.status, r.type, r.source_name, r.model_name);
            if (r.accuracy >= 0) printf(" (test accuracy %.4f, threshold %g)", r.accuracy, r.threshold);
            printf("\nproduction copy: %s\n", r.production_path);
            if (r.onnx_path[0]) printf("ONNX export: %s\n", r.onnx_path);
            printf("marker: %s/%s\n", cfg.output.model_save_dir, CT_STORE_MARKER);
        }
    }
    if (r.status[0] && cli_wants_result(o.json)) {
        char *s = NULL;
        if (ct_deploy_to_json(&r, &s) == CT_OK) cli_emit_result(s, o.json);
        free(s);
    }
    if (rc == CT_ERR_SKIPPED) {
        fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
        return CT_ERR_SKIPPED;
    }
    return rc ? cli_die(rc) : CT_OK;
}
