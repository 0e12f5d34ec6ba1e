/* cli_deploy.c: `cltrain deploy`: the seed's deployment rules on the model store (deploy.h).
 * Exit 0 deployed, 5 skipped (below the threshold), 2/3 bad arguments or files. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "deploy.h"

static int take_value(int argc, char **argv, int *i, const char *flag, const char **val)
{
    size_t fl = strlen(flag);
    if (!strcmp(argv[*i], flag)) {
        if (*i + 1 >= argc || !argv[*i + 1][0]) return -ct_fail(CT_ERR_USAGE, "%s needs a value", flag);
        *val = argv[++*i];
        return 1;
    }
    if (!strncmp(argv[*i], flag, fl) && argv[*i][fl] == '=') {
        *val = argv[*i] + fl + 1;
        if (!**val) return -ct_fail(CT_ERR_USAGE, "%s needs a value", flag);
        return 1;
    }
    return 0;
}

int cli_deploy(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0, force = 0, no_onnx = 0;
    const char *model = NULL, *thr = NULL, *custom = NULL;
    for (int i = 2; i < argc; i++) {
        int t = cli_take_common(argc, argv, &i, &o);
        if (t == 0) t = cli_take_config(argc, argv, &i, &cfg, &sets);
        if (t == 0) t = take_value(argc, argv, &i, "--model", &model);
        if (t == 0) t = take_value(argc, argv, &i, "--threshold", &thr);
        if (t == 0) t = take_value(argc, argv, &i, "--custom", &custom);
        if (t == 0 && !strcmp(argv[i], "--force")) force = t = 1;
        if (t == 0 && !strcmp(argv[i], "--no-onnx")) no_onnx = t = 1;
        if (t < 0) return cli_die(-t);
        if (t) continue;
        return cli_die(ct_fail(CT_ERR_USAGE,
                               "deploy: unknown option '%s' (allowed: --model NAME|PATH, --threshold X, --force, "
                               "--custom NAME, --no-onnx, --data DIR, --device SEL, --config F, --set section.key=value, --json, "
                               "-q, -v)",
                               argv[i]));
    }
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
    if (r.status[0] && o.json) {
        char *s = NULL;
        if (ct_deploy_to_json(&r, &s) == CT_OK) printf("%s\n", s);
        free(s);
    }
    if (rc == CT_ERR_SKIPPED) {
        fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
        return CT_ERR_SKIPPED;
    }
    return rc ? cli_die(rc) : CT_OK;
}
