/* cli_pipeline.c: `cltrain pipeline`: the seed's asset graph in one command (pipeline.h):
 * data -> train -> evaluate -> deploy, each step's metadata printed as it completes.
 * With --json every step is one JSON line ({"step":..., "metadata":{...}}) and the last line
 * is the whole pipeline.json object. Exit 0 ok, 5 deployment skipped, else the step's code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "io/jsonutil.h"
#include "io/pipes_cltrain.h"
#include "pipeline.h"

static void print_value(const json_t *v)
{
    const char *k;
    json_t *x;
    int first = 1;
    switch (json_typeof(v)) {
    case JSON_NULL: printf("null"); break;
    case JSON_TRUE: printf("true"); break;
    case JSON_FALSE: printf("false"); break;
    case JSON_INTEGER: printf("%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
    case JSON_REAL: printf("%.6g", json_real_value(v)); break; /* metrics read better with bounded digits */
    case JSON_STRING: printf("%s", json_string_value(v)); break;
    case JSON_ARRAY:
        printf("[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) printf(", ");
            print_value(json_array_get(v, i));
        }
        printf("]");
        break;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, k, x) {
            printf("%s%s=", first ? "" : ", ", k);
            first = 0;
            print_value(x);
        }
        break;
    }
}

static void print_fields(const json_t *obj, const char *const *skip)
{
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)obj, key, x) {
        int s = 0;
        for (int k = 0; skip && skip[k]; k++) s |= !strcmp(skip[k], key);
        if (s) continue;
        printf("  %-24s ", key);
        print_value(x);
        printf("\n");
    }
}

static void on_step(const char *step, const char *json, const void *detail, void *user)
{
    const cli_opts *o = user;
    ct_pipes_cli_step(step, json);
    if (o->json) {
        cli_print_json(json_pack("{s:s,s:o}", "step", step, "metadata", ct_jraw(json)));
        return;
    }
    json_t *j = NULL;
    printf("\n== %s ==\n", step);
    if (ct_jparse(json, strlen(json), step, 0, 0, &j) != CT_OK) {
        ct_clear_error();
        printf("%s\n", json);
    } else if (!strcmp(step, "evaluation")) {
        ct_eval_print(stdout, detail);
        static const char *const skip[] = {"confusion_matrix", "per_class", "files", "model_md5", "normalisation",
                                           "cltrain_version", "evaluated_at", "run_dir", "device", "data_dir",
                                           "seconds", NULL};
        printf("\n");
        print_fields(j, skip);
    } else {
        print_fields(j, NULL);
    }
    json_decref(j);
    fflush(stdout);
}

int cli_pipeline(int argc, char **argv)
{
    ct_tune_use_cache(CT_TUNE_CACHE_NETWORK); /* values tuned for the network, if any (not with CLTRAIN_NO_TUNE=1) */
    static const cli_command cmd = {"pipeline",
                                    "the whole job: data -> train -> evaluate -> deploy; writes "
                                    "runs/<model>/pipeline.json (exit 5: deployment skipped); deployment settings "
                                    "are config keys, e.g. --set deployment.accuracy_threshold=0.95",
                                    CLI_CONFIG | CLI_DEVICE | CLI_JSON, NULL, NULL, NULL};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if ((prc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(prc);
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    ct_pipeline_result *r = calloc(1, sizeof *r);
    if (!r) return cli_die(ct_fail(CT_ERR_NOMEM, "out of host memory"));
    ct_pipeline_opts po = {o.device, o.json, on_step, &o};
    rc = ct_pipeline_run(&cfg, &po, r);
    if (r->json) {
        cli_emit_result(r->json, o.json);
        if (!o.json) printf("\npipeline %s in %.1f s: %s\n", r->status, r->seconds, r->pipeline_json);
    }
    ct_pipeline_free(r);
    free(r);
    if (rc == CT_ERR_SKIPPED) {
        fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
        return CT_ERR_SKIPPED;
    }
    return rc ? cli_die(rc) : CT_OK;
}
