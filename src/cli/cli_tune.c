/* cli_tune.c: `cltrain tune`: a bounded, verified search over the kernel tunables for the shapes
 * the configured network (its `network:` section, else DigitCNN from `model:`) runs on a device;
 * caches the result for train, bench, evaluate and predict. `--show` prints the cached table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "io/jsonutil.h"
#include "modelio.h"
#include "tune.h"

enum { K_BUDGET = 300, K_BATCH, K_SEED, K_SHOW };

typedef struct {
    double budget, seed;
    int batch, show;
} tune_args;

static int num_arg(const char *flag, const char *val, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(val, &end);
    if (!*val || *end || !(v >= lo && v <= hi))
        return ct_fail(CT_ERR_USAGE, "tune: --%s '%s' is not a number in [%g, %g]", flag, val, lo, hi);
    *out = v;
    return CT_OK;
}

static int take(int key, const char *val, void *user)
{
    tune_args *a = user;
    double v = 0;
    switch (key) {
    case K_BUDGET: return num_arg("budget", val, 1, 86400, &a->budget);
    case K_SEED: return num_arg("seed", val, 0, 4294967295.0, &a->seed);
    case K_SHOW: a->show = 1; return CT_OK;
    case K_BATCH:
        CT_TRY(num_arg("batch", val, 1, 4096, &v));
        a->batch = (int)v;
        return CT_OK;
    }
    return CT_ERR_USAGE;
}

static int print_json(const ct_tune_report *r, const char *path, int found)
{
    json_t *rows = json_array();
    for (int i = 0; i < r->n_rows; i++) {
        const ct_tune_row *w = &r->rows[i];
        char win[256];
        ct_tune_winning(r, w->op, win, sizeof win);
        json_t *row = json_pack("{s:s,s:s,s:i,s:o,s:o,s:o,s:s}", "kernel", w->op, "shape", w->shape, "count", w->count,
                                "default_ms", ct_jreal(w->default_ms), "best_ms", ct_jreal(w->best_ms), "speedup",
                                ct_jreal(w->best_ms > 0 ? w->default_ms / w->best_ms : 1.0), "winning", win);
        json_array_append_new(rows, row);
    }
    char d[512], b[512], key[20];
    ct_tune_format(&r->dflt, d, sizeof d);
    ct_tune_format(&r->best, b, sizeof b);
    snprintf(key, sizeof key, "%016llx", r->net_key);
    json_t *j = json_pack("{s:o,s:o,s:s,s:i,s:o,s:b,s:o,s:o,s:o,s:o,s:s,s:s}", "device", ct_jstr(r->device), "shape",
                          ct_jstr(r->shape), "net_key", key, "batch", r->batch, "cache_path", ct_jstr(path), "found",
                          found, "rows", rows, "step_default_ms", ct_jreal(r->step_default_ms), "step_best_ms",
                          ct_jreal(r->step_best_ms), "step_speedup",
                          ct_jreal(r->step_best_ms > 0 ? r->step_default_ms / r->step_best_ms : 1.0), "defaults", d,
                          "tuned", b);
    json_t *more = json_pack("{s:i,s:i,s:i,s:i,s:b,s:o}", "tried", r->tried, "wrong", r->wrong, "slow", r->slow,
                             "unfit", r->unfit, "budget_hit", r->budget_hit, "seconds", ct_jreal(r->seconds));
    json_object_update(j, more);
    json_decref(more);
    return cli_print_json(j);
}

/* --show: the entry for --config's network (at --batch or its batch, else another), else the
 * newest of the profile */
static int load_shown(const ct_ctx *c, const ct_config *cfg, const cli_opts *o, const tune_args *a, ct_tune_report *r,
                      int *found, char *path, size_t cap)
{
    if (!o->config) return ct_tune_load(c, r, found, path, cap);
    ct_netdef net;
    CT_TRY(ct_modelio_config_netdef(cfg, &net));
    unsigned long long key = 0;
    int rc = ct_tune_network_key(&net, &key);
    ct_netdef_free(&net);
    if (rc == CT_OK)
        rc = ct_tune_load_network(c, key, a->batch ? a->batch : cfg->training.batch_size, r, found, path, cap);
    if (*found == 2) *found = 1;
    return rc;
}

/* the search for the config's network at its batch (or --batch) */
static int run_tune(ct_ctx *c, const ct_config *cfg, const cli_opts *o, const tune_args *a, ct_tune_report *r,
                    char *path, size_t cap)
{
    ct_netdef net;
    CT_TRY(ct_modelio_config_netdef(cfg, &net));
    const ct_tune_opts to = {&net, cfg->network ? cfg->network_file : "DigitCNN (model: keys)",
                             strcmp(cfg->training.optimizer_type, "adam") == 0,
                             a->batch ? a->batch : cfg->training.batch_size, a->budget, (unsigned)a->seed};
    char desc[1024];
    ct_tune_describe(c, desc, sizeof desc);
    FILE *log = o->json ? stderr : stdout;
    if (ct_verbosity > 0)
        fprintf(log, "tuning %s for %s (%s, %s), batch %d, budget %.0f s\n%s\n", to.label, c->dev.name,
                c->dev.platform_name, c->dev.driver_version, to.batch, a->budget, desc);
    int rc = ct_tune_run(c, &to, ct_verbosity > 0 ? log : NULL, r);
    ct_netdef_free(&net);
    if (rc == CT_OK) rc = ct_tune_save(c, r, path, cap);
    if (rc == CT_OK && !o->json) {
        ct_tune_print(stdout, r);
        printf("saved to %s (train, bench, evaluate and predict of this network use it; CLTRAIN_NO_TUNE=1 ignores "
               "it)\n", path);
    }
    return rc;
}

int cli_tune(int argc, char **argv)
{
    static const cli_option opts[] = {
        {"budget", 1, K_BUDGET, "SECONDS", "time for the search, compiling included (default 60)"},
        {"batch", 1, K_BATCH, "N", "batch to tune for (default: training.batch_size)"},
        {"seed", 1, K_SEED, "N", "order of the candidates within a group (default 1)"},
        {"show", 0, K_SHOW, NULL, "print the cached table instead of tuning"},
        {0}};
    tune_args a = {60, 1, 0, 0};
    const cli_command cmd = {"tune", "a bounded, verified search over the kernel tunables; cached per device",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON, opts, take, &a};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int rc = cli_parse(argc, argv, &cmd, &o);
    if (rc || o.help) return rc ? cli_die(rc) : 0;
    if ((rc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(rc);
    if ((rc = ct_config_validate(&cfg)) != CT_OK) return cli_die(rc);
    ct_ctx *c;
    rc = ct_ctx_create(o.device && *o.device ? o.device : cfg.device, 1, &c);
    if (rc) return cli_die(rc);
    ct_tune_report *r = calloc(1, sizeof *r);
    if (!r) {
        ct_ctx_free(c);
        return cli_die(ct_fail(CT_ERR_NOMEM, "out of memory"));
    }
    char path[4096] = "";
    int found = 1;
    const char *prof = c->tune.gpu_profile ? "gpu" : "cpu";
    if (a.show) {
        rc = load_shown(c, &cfg, &o, &a, r, &found, path, sizeof path);
        if (rc == CT_OK && !found && !o.json)
            printf("no tuning results for '%s' (%s profile) in %s: run `cltrain tune`\n", c->dev.name, prof, path);
        if (rc == CT_OK && found && !o.json) {
            printf("tuned on %s for %s (%s profile), from %s\n", r->when, r->shape, prof, path);
            ct_tune_print(stdout, r);
        }
    } else {
        rc = run_tune(c, &cfg, &o, &a, r, path, sizeof path);
    }
    if (rc == CT_OK && o.json) rc = print_json(r, path, found);
    free(r);
    ct_ctx_free(c);
    if (rc) return cli_die(rc);
    return a.show && !found ? CT_ERR_RUNTIME : CT_OK;
}
