/* pipes_cltrain.c: cltrain's commands under Dagster Pipes: session around a command, extras as
 * options, --json results as materializations, checks and custom messages (pipes_cltrain.h). */
#define _POSIX_C_SOURCE 200809L
#include "io/pipes_cltrain.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/pipes.h"
#include "md5.h"

static const char *g_cmd = "";
static char *g_cmdline;

/* --- helpers ------------------------------------------------------------------------------------ */
static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list && list[i]; i++)
        if (!strcmp(s, list[i])) return 1;
    return 0;
}

/* MD5 of a file (hex) or "" when it cannot be read */
static void file_md5(const char *path, char hex[33])
{
    hex[0] = 0;
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) return;
    ct_md5_ctx c;
    ct_md5_init(&c);
    unsigned char buf[1 << 16], d[16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) ct_md5_update(&c, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return;
    ct_md5_final(&c, d);
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static void warn_report(void)
{
    fprintf(stderr, "cltrain: warning: %s\n", ct_last_error());
}

/* The context's asset key for a seed asset: the key whose last part is `seed`, else (single-asset
 * commands) the only key. NULL when the step did not ask for it. */
static const char *pick_key(const char *seed, int single)
{
    const json_t *keys = json_object_get(ct_pipes_context(), "asset_keys");
    size_t n = json_is_array(keys) ? json_array_size(keys) : 0;
    char last[512];
    for (size_t i = 0; i < n; i++) {
        const char *k = json_string_value(json_array_get(keys, i));
        ct_pipes_asset_key_last(k, last, sizeof last);
        if (!strcmp(last, seed)) return k;
    }
    return single && n == 1 ? json_string_value(json_array_get(keys, 0)) : NULL;
}

/* Each member of a result object as typed metadata: names in `floats` are floats (integral values
 * too), in `paths` paths; the rest by JSON type (string text, integer int, real float, bool,
 * null, array/object json). Names in `skip` are left out. */
static void add_fields(json_t *md, const json_t *obj, const char *const *floats, const char *const *paths,
                       const char *const *skip)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (in_list(k, skip)) continue;
        if (in_list(k, paths) && (json_is_string(v) || json_is_null(v))) ct_pipes_md_path(md, k, json_string_value(v));
        else if (in_list(k, floats) && (json_is_number(v) || json_is_null(v)))
            ct_pipes_md_float(md, k, json_is_null(v) ? NAN : json_number_value(v));
        else if (json_is_string(v)) ct_pipes_md_text(md, k, json_string_value(v));
        else if (json_is_integer(v)) ct_pipes_md_int(md, k, (long long)json_integer_value(v));
        else if (json_is_real(v)) ct_pipes_md_float(md, k, json_real_value(v));
        else if (json_is_boolean(v)) ct_pipes_md_bool(md, k, json_is_true(v));
        else if (json_is_null(v)) ct_pipes_md_set(md, k, "null", NULL);
        else ct_pipes_md_json(md, k, json_incref(v));
    }
}

static void materialize(const char *key, const char *data_version, json_t *md)
{
    if (ct_pipes_report_materialization(key, data_version && *data_version ? data_version : NULL, md)) warn_report();
}

/* --- per asset ---------------------------------------------------------------------------------- */
/* metrics.csv of the run folder as {column: [values per epoch]} */
static json_t *epoch_metrics(const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[1024], *cols[16];
    int nc = 0;
    json_t *out = json_object();
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        for (char *t = strtok(line, ","); t && nc < 16; t = strtok(NULL, ",")) {
            cols[nc] = strdup(t);
            if (cols[nc]) json_object_set_new(out, cols[nc++], json_array());
        }
    }
    while (fgets(line, sizeof line, f)) {
        int c = 0;
        for (char *t = strtok(line, ",\r\n"); t && c < nc; t = strtok(NULL, ",\r\n"), c++) {
            json_t *a = json_object_get(out, cols[c]);
            if (!strcmp(cols[c], "epoch")) json_array_append_new(a, json_integer(strtoll(t, NULL, 10)));
            else json_array_append_new(a, json_real(strtod(t, NULL)));
        }
    }
    fclose(f);
    for (int i = 0; i < nc; i++) free(cols[i]);
    return out;
}

static void report_training(const json_t *r, int single)
{
    const char *key = pick_key("digit_classifier", single);
    if (!key) return;
    static const char *const floats[] = {"final_val_accuracy", "best_val_accuracy", "test_accuracy", "final_train_loss",
                                         "learning_rate", "final_learning_rate", "train_images_per_second", "seconds",
                                         NULL};
    static const char *const paths[] = {"model_path", "run_dir", "checkpoint_path", NULL};
    json_t *md = json_object();
    add_fields(md, r, floats, paths, NULL);
    const char *run_dir = json_string_value(json_object_get(r, "run_dir"));
    json_t *m = run_dir ? epoch_metrics(run_dir) : NULL;
    if (m) ct_pipes_md_json(md, "epoch_metrics", m);
    char md5[33];
    file_md5(json_string_value(json_object_get(r, "model_path")), md5);
    materialize(key, md5, md);
    json_decref(md);
}

/* scikit-learn's classification report as a markdown table */
static char *report_markdown(const json_t *r)
{
    size_t cap = 8192, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    len += (size_t)snprintf(s + len, cap - len, "| class | precision | recall | f1-score | support |\n|---|---|---|---|---|\n");
    const json_t *pc = json_object_get(r, "per_class");
    long long total = 0;
    for (size_t i = 0; i < json_array_size(pc) && cap - len > 128; i++) {
        const json_t *c = json_array_get(pc, i);
        long long sup = (long long)json_integer_value(json_object_get(c, "support"));
        total += sup;
        len += (size_t)snprintf(s + len, cap - len, "| %lld | %.4f | %.4f | %.4f | %lld |\n",
                                (long long)json_integer_value(json_object_get(c, "label")),
                                json_number_value(json_object_get(c, "precision")),
                                json_number_value(json_object_get(c, "recall")),
                                json_number_value(json_object_get(c, "f1")), sup);
    }
    static const char *const rows[] = {"macro", "weighted"};
    for (int i = 0; i < 2 && cap - len > 128; i++) {
        char p[32], rc[32], f[32];
        snprintf(p, sizeof p, "precision_%s", rows[i]);
        snprintf(rc, sizeof rc, "recall_%s", rows[i]);
        snprintf(f, sizeof f, "f1_%s", rows[i]);
        len += (size_t)snprintf(s + len, cap - len, "| %s avg | %.4f | %.4f | %.4f | %lld |\n", rows[i],
                                json_number_value(json_object_get(r, p)), json_number_value(json_object_get(r, rc)),
                                json_number_value(json_object_get(r, f)), total);
    }
    if (cap - len > 64)
        snprintf(s + len, cap - len, "\naccuracy %.4f on %lld images\n", json_number_value(json_object_get(r, "test_accuracy")),
                 (long long)json_integer_value(json_object_get(r, "test_samples")));
    return s;
}

static void report_evaluation(const json_t *r, int single)
{
    const char *key = pick_key("model_evaluation", single);
    if (!key) return;
    static const char *const floats[] = {"test_accuracy", "test_loss", "precision_macro", "recall_macro", "f1_macro",
                                         "precision_weighted", "recall_weighted", "f1_weighted", "seconds", NULL};
    static const char *const paths[] = {"evaluated_model_path", "run_dir", "data_dir", NULL};
    static const char *const skip[] = {"files", "per_class", NULL};
    json_t *md = json_object();
    add_fields(md, r, floats, paths, skip);
    const json_t *files = json_object_get(r, "files");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)files, k, v) if (json_is_string(v)) ct_pipes_md_path(md, k, json_string_value(v));
    ct_pipes_md_json(md, "per_class", json_incref(json_object_get(r, "per_class")));
    char *rep = report_markdown(r);
    if (rep) ct_pipes_md_markdown(md, "classification_report", rep);
    free(rep);
    materialize(key, json_string_value(json_object_get(r, "model_md5")), md);
    json_decref(md);
}

static void report_deployment(const json_t *r, int single)
{
    const char *key = pick_key("production_digit_classifier", single);
    if (!key) return;
    static const char *const floats[] = {"threshold", "accuracy", NULL};
    static const char *const paths[] = {"production_path", "source_path", NULL};
    json_t *md = json_object();
    add_fields(md, r, floats, paths, NULL);
    char md5[33];
    file_md5(json_string_value(json_object_get(r, "production_path")), md5);
    materialize(key, md5, md);
    json_decref(md);

    const char *status = json_string_value(json_object_get(r, "deployment_status"));
    int passed = status && !strncmp(status, "deployed", 8);
    json_t *cm = json_object();
    ct_pipes_md_text(cm, "deployment_status", status);
    const json_t *acc = json_object_get(r, "accuracy");
    ct_pipes_md_float(cm, "accuracy", json_is_number(acc) ? json_number_value(acc) : NAN);
    ct_pipes_md_float(cm, "threshold", json_number_value(json_object_get(r, "threshold")));
    if (ct_pipes_report_check(key, "accuracy_threshold", passed, "WARN", cm)) warn_report();
    json_decref(cm);
}

static void report_predictions(const json_t *r, int single)
{
    const char *key = pick_key("batch_digit_predictions", single);
    if (!key) return;
    static const char *const floats[] = {"avg_confidence", "confidence_threshold", "mean", "std", NULL};
    static const char *const paths[] = {"model_path", NULL};
    static const char *const skip[] = {"predictions", "skipped", "errors", NULL};
    json_t *md = json_object();
    add_fields(md, r, floats, paths, skip);
    ct_pipes_md_int(md, "total_predictions", (long long)json_integer_value(json_object_get(r, "count")));
    ct_pipes_md_int(md, "skipped_count", (long long)json_array_size(json_object_get(r, "skipped")));
    ct_pipes_md_int(md, "error_count", (long long)json_array_size(json_object_get(r, "errors")));
    long long by_label[10] = {0};
    const json_t *preds = json_object_get(r, "predictions");
    for (size_t i = 0; i < json_array_size(preds); i++) {
        long long l = (long long)json_integer_value(json_object_get(json_array_get(preds, i), "label"));
        if (l >= 0 && l < 10) by_label[l]++;
    }
    json_t *bl = json_object();
    for (int d = 0; d < 10; d++) {
        char n[4];
        snprintf(n, sizeof n, "%d", d);
        json_object_set_new(bl, n, json_integer(by_label[d]));
    }
    ct_pipes_md_json(md, "predictions_by_label", bl);
    materialize(key, NULL, md);
    json_decref(md);

    long long count = (long long)json_integer_value(json_object_get(r, "count"));
    long long low = (long long)json_integer_value(json_object_get(r, "low_confidence_count"));
    const json_t *mx = ct_pipes_extra("max_low_confidence_fraction");
    double max_frac = json_is_number(mx) ? json_number_value(mx) : 0.1;
    double frac = count > 0 ? (double)low / (double)count : NAN;
    json_t *cm = json_object();
    ct_pipes_md_int(cm, "low_confidence_count", low);
    ct_pipes_md_int(cm, "count", count);
    ct_pipes_md_float(cm, "low_confidence_fraction", frac);
    ct_pipes_md_float(cm, "max_low_confidence_fraction", max_frac);
    ct_pipes_md_float(cm, "confidence_threshold", json_number_value(json_object_get(r, "confidence_threshold")));
    if (ct_pipes_report_check(key, "low_confidence_predictions", count > 0 && frac <= max_frac, "WARN", cm))
        warn_report();
    json_decref(cm);
}

static void report_data(const json_t *r)
{
    const char *key = pick_key("processed_mnist_data", 0);
    if (!key) return;
    static const char *const floats[] = {"validation_split", NULL};
    static const char *const paths[] = {"data_dir", NULL};
    json_t *md = json_object();
    add_fields(md, r, floats, paths, NULL);
    materialize(key, NULL, md);
    json_decref(md);
}

/* --- the hooks ---------------------------------------------------------------------------------- */
static json_t *parse(const char *what, const char *text)
{
    json_error_t e;
    json_t *j = text ? json_loads(text, 0, &e) : NULL;
    if (!j) fprintf(stderr, "cltrain: warning: Dagster Pipes: the %s result is not JSON; not reported\n", what);
    return j;
}

void ct_pipes_cli_step(const char *step, const char *json_text)
{
    if (!ct_pipes_active() || strcmp(g_cmd, "pipeline")) return;
    json_t *r = parse(step, json_text);
    if (!r) return;
    if (!strcmp(step, "data")) report_data(r);
    else if (!strcmp(step, "training")) report_training(r, 0);
    else if (!strcmp(step, "evaluation")) report_evaluation(r, 0);
    else if (!strcmp(step, "deployment")) report_deployment(r, 0);
    json_decref(r);
}

void ct_pipes_cli_result(const char *json_text)
{
    if (!ct_pipes_active()) return;
    json_t *r = parse(g_cmd, json_text);
    if (!r) return;
    if (!strcmp(g_cmd, "train")) report_training(r, 1);
    else if (!strcmp(g_cmd, "evaluate")) report_evaluation(r, 1);
    else if (!strcmp(g_cmd, "deploy")) report_deployment(r, 1);
    else if (!strcmp(g_cmd, "predict")) report_predictions(r, 1);
    if (ct_pipes_report_custom(r)) warn_report();
    json_decref(r);
}

static void log_sink(int level, const char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r')) n--;
    if (!n) return;
    char *s = strndup(text, n);
    if (!s) return;
    ct_pipes_log(level >= 2 ? "ERROR" : level == 1 ? "WARNING" : "INFO", s);
    free(s);
}

/* the extras as options: --set for each of `set`, --device for `device` */
static int extras_args(const char **args, int *n)
{
    *n = 0;
    const json_t *set = ct_pipes_extra("set"), *dev = ct_pipes_extra("device");
    if (set && !json_is_null(set)) {
        if (!json_is_array(set))
            return ct_fail(CT_ERR_USAGE, "Dagster Pipes extras: \"set\" must be a list of \"section.key=value\" strings");
        for (size_t i = 0; i < json_array_size(set); i++) {
            const char *s = json_string_value(json_array_get(set, i));
            if (!s || !strchr(s, '='))
                return ct_fail(CT_ERR_USAGE, "Dagster Pipes extras: set[%zu] is not a \"section.key=value\" string", i);
            if (args) {
                args[(*n)++] = "--set";
                args[(*n)++] = s;
            } else {
                *n += 2;
            }
        }
    }
    if (dev && !json_is_null(dev)) {
        const char *d = json_string_value(dev);
        if (!d || !*d) return ct_fail(CT_ERR_USAGE, "Dagster Pipes extras: \"device\" must be a device selector string");
        if (args) {
            args[(*n)++] = "--device";
            args[(*n)++] = d;
        } else {
            *n += 2;
        }
    }
    return CT_OK;
}

static void remember_cmdline(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    g_cmdline = malloc(n);
    if (!g_cmdline) return;
    g_cmdline[0] = 0;
    for (int i = 0; i < argc; i++) {
        if (i) strcat(g_cmdline, " ");
        strcat(g_cmdline, argv[i]);
    }
}

int ct_pipes_cli_begin(int argc, char **argv, int *out_argc, char ***out_argv)
{
    *out_argc = argc;
    *out_argv = argv;
    int rc = ct_pipes_open_env();
    if (rc || !ct_pipes_active()) return rc;
    g_cmd = argc > 1 ? argv[1] : "";
    ct_log_sink = log_sink;
    remember_cmdline(argc, argv);
    static const char *const with_options[] = {"train", "evaluate", "deploy", "predict", "pipeline", NULL};
    if (!in_list(g_cmd, with_options)) return CT_OK;
    int n;
    if ((rc = extras_args(NULL, &n)) != CT_OK || n == 0) return rc;
    /* after the command line's --config (which must precede any --set), before "--" */
    int at = 2;
    for (int i = 2; i < argc && strcmp(argv[i], "--"); i++) {
        if (!strcmp(argv[i], "--config")) at = i + 2 <= argc ? i + 2 : argc;
        else if (!strncmp(argv[i], "--config=", 9)) at = i + 1;
    }
    char **nv = calloc((size_t)(argc + n + 1), sizeof *nv);
    if (!nv) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    memcpy(nv, argv, (size_t)at * sizeof *nv);
    extras_args((const char **)nv + at, &n);
    memcpy(nv + at + n, argv + at, (size_t)(argc - at) * sizeof *nv);
    *out_argc = argc + n;
    *out_argv = nv; /* lives until exit */
    return CT_OK;
}

static const char *exception_name(int rc)
{
    switch (rc) {
    case CT_ERR_USAGE: return "cltrain.UsageError";
    case CT_ERR_INPUT: return "cltrain.InputError";
    case CT_ERR_INTERRUPTED: return "cltrain.Interrupted";
    case CT_ERR_SKIPPED: return "cltrain.DeploymentSkipped";
    case CT_ERR_NOMEM: return "cltrain.OutOfMemory";
    default: return "cltrain.RuntimeError";
    }
}

int ct_pipes_cli_end(int rc)
{
    if (!ct_pipes_active()) {
        ct_pipes_close(NULL, NULL, NULL); /* a session ended by the loader's error: already closed */
        return rc;
    }
    ct_log_sink = NULL;
    if (rc == CT_ERR_SKIPPED && (!strcmp(g_cmd, "deploy") || !strcmp(g_cmd, "pipeline"))) {
        /* a skipped deployment is a result (a failed WARN check), not a crash */
        ct_pipes_log("WARNING", ct_last_error());
        rc = CT_OK;
    }
    int crc;
    if (rc == CT_OK) {
        crc = ct_pipes_close(NULL, NULL, NULL);
    } else {
        char msg[2100], frame[64];
        snprintf(msg, sizeof msg, "%s", ct_last_error());
        snprintf(frame, sizeof frame, "exit status %d", rc);
        const char *stack[] = {g_cmdline ? g_cmdline : "cltrain", frame, NULL};
        char line[2200];
        snprintf(line, sizeof line, "cltrain: error: %s", msg);
        ct_pipes_log("ERROR", line);
        crc = ct_pipes_close(exception_name(rc), msg, stack);
    }
    free(g_cmdline);
    g_cmdline = NULL;
    if (crc && rc == CT_OK) {
        fprintf(stderr, "cltrain: error: %s\n", ct_last_error());
        rc = CT_ERR_RUNTIME;
    }
    return rc;
}
