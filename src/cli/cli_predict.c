/* cli_predict.c: `cltrain predict`: a saved model + pictures / IDX files -> digits. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "io/jsonutil.h"
#include "predict.h"
#include "store.h"

static double r6(double x)
{
    return round(x * 1e6) / 1e6;
}

static void print_issue(const ct_predict_issue *is, void *user)
{
    (void)user;
    fprintf(stderr, "cltrain: %s: %s\n", is->status == CT_OK ? "warning" : "error", is->message);
}

/* --model M, else the production model, else the newest in model_save_dir */
static int resolve_model(const ct_config *cfg, const char *spec, char *path, char *name)
{
    if (spec && *spec) return ct_store_resolve(cfg, spec, path, name);
    ct_store_production p;
    int rc = ct_store_production_read(cfg, &p);
    if (rc != CT_OK) return rc;
    if (p.present && p.path[0]) {
        FILE *f = fopen(p.path, "rb");
        if (f) {
            fclose(f);
            snprintf(path, CT_STORE_PATH_MAX, "%s", p.path);
            snprintf(name, CT_STORE_NAME_MAX, "%s", p.model_name);
            ct_debug("predict: the production model %s\n", p.path);
            return CT_OK;
        }
        ct_log("warning: the production marker names %s, which cannot be opened (%s); using the newest model\n", p.path,
               strerror(errno));
    }
    return ct_store_resolve(cfg, NULL, path, name);
}

enum { K_MODEL = 256, K_THRESHOLD, K_PROBS, K_LOGITS };

typedef struct {
    const char *model;
    double threshold;
    int probs, logits;
} predict_args;

static int take(int key, const char *val, void *user)
{
    predict_args *p = user;
    char *end;
    switch (key) {
    case K_MODEL:
        if (!*val) return ct_fail(CT_ERR_USAGE, "predict: --model needs a model name or a .safetensors path");
        p->model = val;
        return CT_OK;
    case K_THRESHOLD:
        errno = 0;
        p->threshold = strtod(val, &end);
        if (!*val || *end || errno || !(p->threshold >= 0 && p->threshold <= 1))
            return ct_fail(CT_ERR_USAGE, "predict: --threshold '%s': expected a number from 0 to 1", val);
        return CT_OK;
    case K_PROBS: p->probs = 1; return CT_OK;
    case K_LOGITS: p->logits = 1; return CT_OK;
    }
    return CT_ERR_USAGE;
}

int cli_predict(int argc, char **argv)
{
    ct_tune_use_cache(CT_TUNE_CACHE_NETWORK); /* values tuned for the network, if any (not with CLTRAIN_NO_TUNE=1) */
    static const cli_option opts[] = {
        {"model", 1, K_MODEL, "NAME|PATH", "the model (default: the production model, else the newest)"},
        {"threshold", 1, K_THRESHOLD, "X", "confidence below X (0..1) is flagged low"},
        {"probabilities", 0, K_PROBS, NULL, "print all ten class probabilities"},
        {"logits", 0, K_LOGITS, NULL, "print the raw logits too"},
        {0}};
    predict_args pa = {NULL, NAN, -1, 0};
    const cli_command cmd = {"predict",
                             "predict digits in PNG/PGM pictures and IDX files (exit 3 when an input could not be "
                             "read); INPUT... are files ('--' ends the options)",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON | CLI_INPUTS, opts, take, &pa};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int rc = cli_parse(argc, argv, &cmd, &o);
    if (rc || o.help) return rc ? cli_die(rc) : 0;
    if ((rc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(rc);
    const char *model = pa.model;
    double threshold = pa.threshold;
    int probs = pa.probs, logits = pa.logits;
    const char **inputs = o.inputs;
    size_t n_in = (size_t)o.n_inputs;
    if (n_in == 0)
        return cli_die(ct_fail(CT_ERR_USAGE, "predict: no input files (cltrain predict --help lists the options)"));
    if ((rc = ct_config_validate(&cfg)) != CT_OK) return cli_die(rc);
    if (isnan(threshold)) threshold = cfg.prediction.confidence_threshold;
    if (probs < 0) probs = cfg.prediction.return_probabilities;

    char model_path[CT_STORE_PATH_MAX], model_name[CT_STORE_NAME_MAX];
    if ((rc = resolve_model(&cfg, model, model_path, model_name)) != CT_OK) return cli_die(rc);
    ct_predict_opts po = {model_path, o.device && *o.device ? o.device : cfg.device, cfg.prediction.batch_size,
                          threshold, print_issue, NULL, &cfg};
    ct_predict_result r;
    rc = ct_predict_files(inputs, n_in, &po, &r);
    if (rc != CT_OK) {
        ct_predict_result_free(&r);
        return cli_die(rc);
    }
    if (!o.json) {
        for (size_t i = 0; i < r.n_pred; i++) {
            const ct_prediction *q = &r.pred[i];
            int idx = q->index > 0 || (i + 1 < r.n_pred && r.pred[i + 1].input == q->input) ||
                      (i > 0 && r.pred[i - 1].input == q->input);
            if (idx) printf("%s[%ld]: %d", q->input, q->index, q->label);
            else printf("%s: %d", q->input, q->label);
            /* a class name that is not just the label's number is shown next to it */
            char num[16];
            snprintf(num, sizeof num, "%d", q->label);
            if (q->class_name && *q->class_name && strcmp(q->class_name, num)) printf(" (%s)", q->class_name);
            printf("  confidence %.4f", q->confidence);
            if (q->low_confidence) printf("  (low confidence: below %.2f)", threshold);
            if (probs) {
                printf("  probabilities");
                for (int k = 0; k < r.classes; k++) printf(" %.4f", q->probs[k]);
            }
            if (logits) {
                printf("  logits");
                for (int k = 0; k < r.classes; k++) printf(" %.9g", q->logits[k]);
            }
            printf("\n");
        }
        printf("%zu predicted, avg_confidence %.4f, low_confidence_count %zu (threshold %.2f)", r.n_pred,
               r.avg_confidence, r.low_count, threshold);
        if (r.n_blank) printf(", %zu blank skipped", r.n_blank);
        if (r.n_failed) printf(", %zu input%s failed", r.n_failed, r.n_failed == 1 ? "" : "s");
        printf("; model %s%s%s\n", model_name, r.device[0] ? " on " : "", r.device);
    }
    if (cli_wants_result(o.json)) {
        json_t *w = json_object();
        json_t *predictions = json_array();
        json_object_set_new(w, "predictions", predictions);
        for (size_t i = 0; i < r.n_pred; i++) {
            const ct_prediction *q = &r.pred[i];
            json_t *w_1 = json_object();
            json_array_append_new(predictions, w_1);
            json_object_set_new(w_1, "input", ct_jstr(q->input));
            json_object_set_new(w_1, "index", json_integer((json_int_t)(q->index)));
            json_object_set_new(w_1, "label", json_integer((json_int_t)(q->label)));
            json_object_set_new(w_1, "confidence", ct_jreal(r6(q->confidence)));
            json_object_set_new(w_1, "low_confidence", json_boolean(q->low_confidence));
            json_object_set_new(w_1, "class_name", ct_jstr(q->class_name ? q->class_name : ""));
            if (q->low_confidence) {
                char msg[96];
                snprintf(msg, sizeof msg, "low confidence: %.4f is below the threshold %g", q->confidence, threshold);
                json_object_set_new(w_1, "warning", ct_jstr(msg));
            }
            if (probs) {
                json_t *probabilities = json_array();
                json_object_set_new(w_1, "probabilities", probabilities);
                for (int k = 0; k < r.classes; k++) json_array_append_new(probabilities, ct_jreal(r6(q->probs[k])));
            }
            if (logits) { /* unrounded, e.g. to compare with another runtime */
                json_t *jlogits = json_array();
                json_object_set_new(w_1, "logits", jlogits);
                for (int k = 0; k < r.classes; k++) json_array_append_new(jlogits, ct_jreal(q->logits[k]));
            }
        }
        json_object_set_new(w, "count", json_integer((json_int_t)((int64_t)r.n_pred)));
        json_object_set_new(w, "avg_confidence", ct_jreal(r6(r.avg_confidence)));
        json_object_set_new(w, "low_confidence_count", json_integer((json_int_t)((int64_t)r.low_count)));
        json_object_set_new(w, "high_confidence_count", json_integer((json_int_t)((int64_t)r.high_count)));
        json_object_set_new(w, "confidence_threshold", ct_jreal(threshold));
        json_t *skipped = json_array();
        json_object_set_new(w, "skipped", skipped);
        for (size_t i = 0; i < r.n_issues; i++)
            if (r.issues[i].status == CT_OK) {
                json_t *w_2 = json_object();
                json_array_append_new(skipped, w_2);
                json_object_set_new(w_2, "input", ct_jstr(r.issues[i].input));
                json_object_set_new(w_2, "warning", ct_jstr(r.issues[i].message));
            }
        json_t *errors = json_array();
        json_object_set_new(w, "errors", errors);
        for (size_t i = 0; i < r.n_issues; i++)
            if (r.issues[i].status != CT_OK) {
                json_t *w_3 = json_object();
                json_array_append_new(errors, w_3);
                json_object_set_new(w_3, "input", ct_jstr(r.issues[i].input));
                json_object_set_new(w_3, "error", ct_jstr(r.issues[i].message));
            }
        json_object_set_new(w, "model_path", ct_jstr(model_path));
        json_object_set_new(w, "model_name", ct_jstr(model_name));
        json_object_set_new(w, "mean", ct_jreal(r6(r.mean)));
        json_object_set_new(w, "std", ct_jreal(r6(r.std)));
        json_object_set_new(w, "batch_size", json_integer((json_int_t)(r.batch_size)));
        if (r.device[0]) json_object_set_new(w, "device", ct_jstr(r.device));
        else json_object_set_new(w, "device", json_null());
        int jrc = cli_emit_json(w, o.json);
        if (jrc) {
            ct_predict_result_free(&r);
                return cli_die(jrc);
        }
    }
    fflush(stdout);
    int failed = r.n_failed > 0;
    int none = r.n_pred == 0;
    ct_predict_result_free(&r);
    if (failed) {
        if (none) ct_fail(CT_ERR_INPUT, "nothing was predicted: no input could be read");
        else ct_fail(CT_ERR_INPUT, "some inputs could not be read (see above); the others were predicted");
        return cli_die(CT_ERR_INPUT);
    }
    return CT_OK;
}
