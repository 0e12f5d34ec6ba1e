/* cli_pipeline.c: `cltrain pipeline`: the seed's asset graph in one command (pipeline.h):
 * data -> train -> evaluate -> deploy, each step's metadata printed as it completes.
 * With --json every step is one JSON line ({"step":..., "metadata":{...}}) and the last line
 * is the whole pipeline.json object. Exit 0 ok, 5 deployment skipped, else the step's code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "pipeline.h"

static void print_value(const ct_json *v)
{
    char num[40];
    switch (v->type) {
    case CT_JSON_NULL: printf("null"); break;
    case CT_JSON_BOOL: printf("%s", v->boolean ? "true" : "false"); break;
    case CT_JSON_NUMBER:
        if (v->is_int) printf("%lld", (long long)v->integer);
        else {
            /* metrics read better with a bounded number of digits */
            snprintf(num, sizeof num, "%.6g", v->number);
            printf("%s", num);
        }
        break;
    case CT_JSON_STRING: printf("%s", v->str); break;
    case CT_JSON_ARRAY:
        printf("[");
        for (size_t i = 0; i < v->count; i++) {
            if (i) printf(", ");
            print_value(&v->items[i]);
        }
        printf("]");
        break;
    case CT_JSON_OBJECT:
        for (size_t i = 0; i < v->count; i++) {
            printf("%s%s=", i ? ", " : "", v->keys[i]);
            print_value(&v->items[i]);
        }
        break;
    }
}

static void print_fields(const ct_json *obj, const char *const *skip)
{
    for (size_t i = 0; i < obj->count; i++) {
        int s = 0;
        for (int k = 0; skip && skip[k]; k++) s |= !strcmp(skip[k], obj->keys[i]);
        if (s) continue;
        printf("  %-24s ", obj->keys[i]);
        print_value(&obj->items[i]);
        printf("\n");
    }
}

static void on_step(const char *step, const char *json, const void *detail, void *user)
{
    const cli_opts *o = user;
    if (o->json) {
        printf("{\"step\":\"%s\",\"metadata\":%s}\n", step, json);
        fflush(stdout);
        return;
    }
    ct_json *j = NULL;
    printf("\n== %s ==\n", step);
    if (ct_json_parse(json, strlen(json), step, &j) != CT_OK) {
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
    ct_json_free(j);
    fflush(stdout);
}

int cli_pipeline(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    for (int i = 2; i < argc; i++) {
        int t = cli_take_standard(argc, argv, &i, &o, &cfg, &sets);
        if (t < 0) return cli_die(-t);
        if (t) continue;
        return cli_die(ct_fail(CT_ERR_USAGE,
                               "pipeline: unknown option '%s' (allowed: --config F, --set section.key=value, --data DIR, "
                               "--device SEL, --json, -q, -v; deployment settings are config keys, e.g. --set "
                               "deployment.accuracy_threshold=0.95)",
                               argv[i]));
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    ct_pipeline_result *r = calloc(1, sizeof *r);
    if (!r) return cli_die(ct_fail(CT_ERR_NOMEM, "out of host memory"));
    ct_pipeline_opts po = {o.device, o.json, on_step, &o};
    rc = ct_pipeline_run(&cfg, &po, r);
    if (r->json) {
        if (o.json) printf("%s\n", r->json);
        else printf("\npipeline %s in %.1f s: %s\n", r->status, r->seconds, r->pipeline_json);
    }
    ct_pipeline_free(r);
    free(r);
    if (rc == CT_ERR_SKIPPED) {
        fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
        return CT_ERR_SKIPPED;
    }
    return rc ? cli_die(rc) : CT_OK;
}
