/* cli_models.c: `cltrain models`: the model store, newest first, with the production marker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/jsonutil.h"
#include "store.h"

static void human_size(long long b, char *buf, size_t cap)
{
    if (b >= 1048576) snprintf(buf, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", b / 1024.0);
    else snprintf(buf, cap, "%lld B", b);
}

int cli_models(int argc, char **argv)
{
    static const cli_command cmd = {"models",
                                    "saved models in output.model_save_dir, newest first, and which one is in "
                                    "production",
                                    CLI_CONFIG | CLI_JSON, NULL, NULL, NULL};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int rc = cli_parse(argc, argv, &cmd, &o);
    if (rc || o.help) return rc ? cli_die(rc) : 0;
    if ((rc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(rc);
    rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    ct_store_entry *v = NULL;
    size_t n = 0;
    if ((rc = ct_store_list(&cfg, &v, &n)) != CT_OK) return cli_die(rc);
    ct_store_production prod;
    if ((rc = ct_store_production_read(&cfg, &prod)) != CT_OK) {
        fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
        memset(&prod, 0, sizeof prod);
    }
    if (!o.json) {
        FILE *out = stdout;
        if (n == 0) {
            fprintf(out, "no models in %s (output.model_save_dir): train one with `cltrain pipeline` or `cltrain train`\n",
                    cfg.output.model_save_dir);
        } else {
            fprintf(out, "%zu model%s in %s, newest first", n, n == 1 ? "" : "s", cfg.output.model_save_dir);
            if (prod.present) fprintf(out, "; * = in production as %s (%s, %s)", prod.model_name,
                                      prod.deployment_status, prod.deployed_at);
            fprintf(out, "\n\n");
            size_t w = 4;
            for (size_t i = 0; i < n; i++)
                if (strlen(v[i].name) > w) w = strlen(v[i].name);
            fprintf(out, "  %-*s  %8s  %8s  %-19s  %9s  %s\n", (int)w, "NAME", "TEST ACC", "VAL ACC", "MODIFIED", "SIZE",
                    "SOURCE");
            for (size_t i = 0; i < n; i++) {
                char ta[16] = "-", va[16] = "-", sz[32];
                if (v[i].test_accuracy >= 0) snprintf(ta, sizeof ta, "%.4f", v[i].test_accuracy);
                if (v[i].val_accuracy >= 0) snprintf(va, sizeof va, "%.2f%%", v[i].val_accuracy);
                human_size(v[i].size_bytes, sz, sizeof sz);
                fprintf(out, "%c %-*s  %8s  %8s  %-19s  %9s  %s\n", v[i].production ? '*' : ' ', (int)w, v[i].name, ta, va,
                        v[i].modified, sz, v[i].source);
            }
            if (prod.present && prod.source_model[0]) {
                int listed = 0;
                for (size_t i = 0; i < n; i++) listed |= v[i].production;
                if (!listed)
                    fprintf(out, "\nproduction: %s (from %s, no longer in the store)\n", prod.model_name,
                            prod.source_model);
            }
        }
    }
    if (o.json) {
        json_t *w = json_object();
        json_object_set_new(w, "model_save_dir", ct_jstr(cfg.output.model_save_dir));
        json_object_set_new(w, "count", json_integer((json_int_t)((int64_t)n)));
        json_t *models = json_array();
        json_object_set_new(w, "models", models);
        for (size_t i = 0; i < n; i++) {
            json_t *w_1 = json_object();
            json_array_append_new(models, w_1);
            json_object_set_new(w_1, "name", ct_jstr(v[i].name));
            json_object_set_new(w_1, "path", ct_jstr(v[i].path));
            if (v[i].test_accuracy >= 0) json_object_set_new(w_1, "test_accuracy", ct_jreal(v[i].test_accuracy));
            else json_object_set_new(w_1, "test_accuracy", json_null());
            if (v[i].val_accuracy >= 0) json_object_set_new(w_1, "val_accuracy", ct_jreal(v[i].val_accuracy));
            else json_object_set_new(w_1, "val_accuracy", json_null());
            json_object_set_new(w_1, "evaluated", json_boolean(v[i].evaluated));
            json_object_set_new(w_1, "modified", ct_jstr(v[i].modified));
            json_object_set_new(w_1, "size_bytes", json_integer((json_int_t)(v[i].size_bytes)));
            json_object_set_new(w_1, "source", ct_jstr(v[i].source));
            json_object_set_new(w_1, "production", json_boolean(v[i].production));
        }
        if (prod.present) {
            json_t *production = json_object();
            json_object_set_new(w, "production", production);
            json_object_set_new(production, "model_name", ct_jstr(prod.model_name));
            json_object_set_new(production, "path", ct_jstr(prod.path));
            json_object_set_new(production, "source_model", ct_jstr(prod.source_model));
            json_object_set_new(production, "deployment_status", ct_jstr(prod.deployment_status));
            json_object_set_new(production, "deployment_type", ct_jstr(prod.deployment_type));
            if (prod.accuracy >= 0) json_object_set_new(production, "accuracy", ct_jreal(prod.accuracy));
            else json_object_set_new(production, "accuracy", json_null());
            json_object_set_new(production, "deployed_at", ct_jstr(prod.deployed_at));
        } else {
            json_object_set_new(w, "deployed_at", json_null());
        }
        int jrc = cli_print_json(w);
        if (jrc) {
            free(v);
            return cli_die(jrc);
        }
    }
    free(v);
    return CT_OK;
}
