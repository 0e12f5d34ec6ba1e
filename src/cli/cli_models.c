/* cli_models.c: `cltrain models`: the model store, newest first, with the production marker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json.h"
#include "store.h"

static void human_size(long long b, char *buf, size_t cap)
{
    if (b >= 1048576) snprintf(buf, cap, "%.1f MiB", b / 1048576.0);
    else if (b >= 1024) snprintf(buf, cap, "%.1f KiB", b / 1024.0);
    else snprintf(buf, cap, "%lld B", b);
}

int cli_models(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    for (int i = 2; i < argc; i++) {
        int t = cli_take_standard(argc, argv, &i, &o, &cfg, &sets);
        if (t < 0) return cli_die(-t);
        if (t) continue;
        return cli_die(ct_fail(CT_ERR_USAGE, "models: unknown option '%s' (allowed: --config F, --set section.key=value, "
                                             "--json, -q, -v)",
                               argv[i]));
    }
    int rc = ct_config_validate(&cfg);
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
        ct_jw w;
        ct_jw_init(&w);
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "model_save_dir");
        ct_jw_string(&w, cfg.output.model_save_dir);
        ct_jw_key(&w, "count");
        ct_jw_int(&w, (int64_t)n);
        ct_jw_key(&w, "models");
        ct_jw_begin_array(&w);
        for (size_t i = 0; i < n; i++) {
            ct_jw_begin_object(&w);
            ct_jw_key(&w, "name");
            ct_jw_string(&w, v[i].name);
            ct_jw_key(&w, "path");
            ct_jw_string(&w, v[i].path);
            ct_jw_key(&w, "test_accuracy");
            if (v[i].test_accuracy >= 0) ct_jw_double(&w, v[i].test_accuracy);
            else ct_jw_null(&w);
            ct_jw_key(&w, "val_accuracy");
            if (v[i].val_accuracy >= 0) ct_jw_double(&w, v[i].val_accuracy);
            else ct_jw_null(&w);
            ct_jw_key(&w, "evaluated");
            ct_jw_bool(&w, v[i].evaluated);
            ct_jw_key(&w, "modified");
            ct_jw_string(&w, v[i].modified);
            ct_jw_key(&w, "size_bytes");
            ct_jw_int(&w, v[i].size_bytes);
            ct_jw_key(&w, "source");
            ct_jw_string(&w, v[i].source);
            ct_jw_key(&w, "production");
            ct_jw_bool(&w, v[i].production);
            ct_jw_end_object(&w);
        }
        ct_jw_end_array(&w);
        ct_jw_key(&w, "production");
        if (prod.present) {
            ct_jw_begin_object(&w);
            ct_jw_key(&w, "model_name");
            ct_jw_string(&w, prod.model_name);
            ct_jw_key(&w, "path");
            ct_jw_string(&w, prod.path);
            ct_jw_key(&w, "source_model");
            ct_jw_string(&w, prod.source_model);
            ct_jw_key(&w, "deployment_status");
            ct_jw_string(&w, prod.deployment_status);
            ct_jw_key(&w, "deployment_type");
            ct_jw_string(&w, prod.deployment_type);
            ct_jw_key(&w, "accuracy");
            if (prod.accuracy >= 0) ct_jw_double(&w, prod.accuracy);
            else ct_jw_null(&w);
            ct_jw_key(&w, "deployed_at");
            ct_jw_string(&w, prod.deployed_at);
            ct_jw_end_object(&w);
        } else {
            ct_jw_null(&w);
        }
        ct_jw_end_object(&w);
        int jrc = cli_print_json(&w);
        if (jrc) {
            free(v);
            return cli_die(jrc);
        }
    }
    free(v);
    return CT_OK;
}
