/* evaluate.c: see evaluate.h. */
#define _POSIX_C_SOURCE 200809L
#include "evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "clctx.h"
#include "io/jsonutil.h"
#include "modelio.h"
#include "plot.h"
#include "train.h"
#include "tune.h"

void ct_class_report_free(ct_class_report *r)
{
    if (!r) return;
    free(r->cm);
    free(r->support);
    free(r->predicted);
    free(r->present);
    free(r->precision);
    free(r->recall);
    free(r->f1);
    if (r->names)
        for (int k = 0; k < r->classes; k++) free(r->names[k]);
    free(r->names);
    memset(r, 0, sizeof *r);
}

int ct_class_report_compute(const long *cm, int classes, const char *const *names, ct_class_report *r)
{
    memset(r, 0, sizeof *r);
    if (classes < 1 || classes > CT_MAX_CLASSES)
        return ct_fail(CT_ERR_USAGE, "a report of %d classes (1 to %d are possible)", classes, CT_MAX_CLASSES);
    const size_t K = (size_t)classes;
    r->classes = classes;
    r->cm = malloc(K * K * sizeof *r->cm);
    r->support = calloc(K, sizeof *r->support);
    r->predicted = calloc(K, sizeof *r->predicted);
    r->present = calloc(K, sizeof *r->present);
    r->precision = calloc(K, sizeof *r->precision);
    r->recall = calloc(K, sizeof *r->recall);
    r->f1 = calloc(K, sizeof *r->f1);
    r->names = calloc(K, sizeof *r->names);
    int oom = !r->cm || !r->support || !r->predicted || !r->present || !r->precision || !r->recall || !r->f1 ||
              !r->names;
    for (size_t k = 0; k < K && !oom; k++) {
        char num[16];
        snprintf(num, sizeof num, "%zu", k);
        oom = !(r->names[k] = strdup(names && names[k] ? names[k] : num));
    }
    if (oom) {
        ct_class_report_free(r);
        return ct_fail(CT_ERR_NOMEM, "out of host memory for a report of %d classes", classes);
    }
    memcpy(r->cm, cm, K * K * sizeof *r->cm);
    long correct = 0;
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++) {
            long v = cm[i * K + j];
            r->support[i] += v;
            r->predicted[j] += v;
            r->total += v;
            if (i == j) correct += v;
        }
    r->accuracy = r->total ? (double)correct / (double)r->total : 0;
    int labels = 0;
    for (size_t k = 0; k < K; k++) {
        long tp = cm[k * K + k];
        r->present[k] = r->support[k] > 0 || r->predicted[k] > 0;
        /* zero_division=0 */
        r->precision[k] = r->predicted[k] ? (double)tp / (double)r->predicted[k] : 0;
        r->recall[k] = r->support[k] ? (double)tp / (double)r->support[k] : 0;
        double sm = r->precision[k] + r->recall[k];
        r->f1[k] = sm > 0 ? 2 * r->precision[k] * r->recall[k] / sm : 0;
        if (!r->present[k]) continue;
        labels++;
        r->precision_macro += r->precision[k];
        r->recall_macro += r->recall[k];
        r->f1_macro += r->f1[k];
        r->precision_weighted += r->precision[k] * (double)r->support[k];
        r->recall_weighted += r->recall[k] * (double)r->support[k];
        r->f1_weighted += r->f1[k] * (double)r->support[k];
    }
    if (labels) {
        r->precision_macro /= labels;
        r->recall_macro /= labels;
        r->f1_macro /= labels;
    }
    if (r->total) {
        r->precision_weighted /= (double)r->total;
        r->recall_weighted /= (double)r->total;
        r->f1_weighted /= (double)r->total;
    }
    return CT_OK;
}

/* a growing string */
typedef struct {
    char *s;
    size_t len, cap;
    int err;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->err) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int k = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->err = 1;
            return;
        }
        if (b->s && (size_t)k < room) {
            b->len += (size_t)k;
            return;
        }
        size_t nc = (b->cap + (size_t)k + 1) * 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->err = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

static char *sb_take(sbuf *b)
{
    if (b->err) {
        free(b->s);
        ct_fail(CT_ERR_NOMEM, "out of host memory formatting a report");
        return NULL;
    }
    return b->s;
}

char *ct_class_report_text(const ct_class_report *r, int digits)
{
    sbuf b = {0};
    int w = 12; /* len("weighted avg"), or the longest class name (as scikit-learn) */
    for (int k = 0; k < r->classes; k++)
        if (r->present[k] && (int)strlen(r->names[k]) > w) w = (int)strlen(r->names[k]);
    if (digits < 0) digits = 0;
    if (digits > 8) digits = 8;
    sb_printf(&b, "%*s  %9s %9s %9s %9s\n\n", w, "", "precision", "recall", "f1-score", "support");
    for (int k = 0; k < r->classes; k++) {
        if (!r->present[k]) continue;
        sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9ld\n", w, r->names[k], digits, r->precision[k], digits, r->recall[k],
                  digits, r->f1[k], r->support[k]);
    }
    sb_printf(&b, "\n%*s  %9s %9s %9.*f %9ld\n", w, "accuracy", "", "", digits, r->accuracy, r->total);
    sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9ld\n", w, "macro avg", digits, r->precision_macro, digits, r->recall_macro,
              digits, r->f1_macro, r->total);
    sb_printf(&b, "%*s  %9.*f %9.*f %9.*f %9ld\n", w, "weighted avg", digits, r->precision_weighted, digits,
              r->recall_weighted, digits, r->f1_weighted, r->total);
    return sb_take(&b);
}

char *ct_confusion_text(const ct_class_report *r)
{
    const int K = r->classes;
    long mx = 0;
    int nl = 6; /* row label width: "actual" column, at least as wide as before for digits */
    for (int i = 0; i < K; i++) {
        for (int j = 0; j < K; j++)
            if (CT_REPORT_CM(r, i, j) > mx) mx = CT_REPORT_CM(r, i, j);
        int l = (int)strlen(r->names[i]);
        if (l > nl) nl = l > 24 ? 24 : l;
    }
    int w = snprintf(NULL, 0, "%ld", mx);
    if (w < 4) w = 4;
    for (int j = 0; j < K; j++) {
        int l = (int)strlen(r->names[j]);
        if (l > w) w = l > 10 ? 10 : l; /* longer names are cut in the column headers */
    }
    sbuf b = {0};
    sb_printf(&b, "%-*s %*s\n", nl + 2, "", (int)((w + 1) * K / 2 + 5), "predicted");
    sb_printf(&b, "%-*s", nl + 2, "actual");
    for (int j = 0; j < K; j++) sb_printf(&b, " %*.*s", w, w, r->names[j]);
    sb_printf(&b, " %*s\n", w + 2, "total");
    for (int i = 0; i < K; i++) {
        sb_printf(&b, "%*.*s  ", nl, nl, r->names[i]);
        for (int j = 0; j < K; j++) sb_printf(&b, " %*ld", w, CT_REPORT_CM(r, i, j));
        sb_printf(&b, " %*ld\n", w + 2, r->support[i]);
    }
    sb_printf(&b, "%-*s", nl + 2, "total");
    for (int j = 0; j < K; j++) sb_printf(&b, " %*ld", w, r->predicted[j]);
    sb_printf(&b, " %*ld\n", w + 2, r->total);
    return sb_take(&b);
}

/* One data.mean / data.std value of a model file's config metadata: a number or a list. */
static void norm_from_json(json_t *v, double *one, int *n, double *list)
{
    if (json_is_number(v)) {
        *one = json_number_value(v);
        *n = 0;
    } else if (json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= CT_CONFIG_MAX_CHANNELS) {
        for (size_t k = 0; k < json_array_size(v); k++) {
            json_t *x = json_array_get(v, k);
            if (!json_is_number(x)) return;
        }
        *n = (int)json_array_size(v);
        for (int k = 0; k < *n; k++) list[k] = json_number_value(json_array_get(v, k));
        *one = list[0];
    }
}

int ct_model_normalisation(const ct_st_file *f, const char *path, const ct_config *cfg, int channels, float *mean,
                           float *std)
{
    ct_config_data d = cfg->data;
    const char *cj = ct_st_metadata_get(f, "config");
    json_t *j = cj ? json_loads(cj, 0, NULL) : NULL;
    json_t *dj = json_object_get(j, "data");
    if (dj) {
        ct_config_data m = d;
        norm_from_json(json_object_get(dj, "mean"), &m.mean, &m.mean_n, m.mean_list);
        norm_from_json(json_object_get(dj, "std"), &m.std, &m.std_n, m.std_list);
        int ok = isfinite(m.mean) && isfinite(m.std) && m.std > 0;
        for (int k = 0; k < m.mean_n; k++) ok = ok && isfinite(m.mean_list[k]);
        for (int k = 0; k < m.std_n; k++) ok = ok && isfinite(m.std_list[k]) && m.std_list[k] > 0;
        if (ok) {
            d = m;
            snprintf(d.mean_where, sizeof d.mean_where, "%s: the model's config metadata", path);
            snprintf(d.std_where, sizeof d.std_where, "%s: the model's config metadata", path);
        }
    }
    json_decref(j);
    return ct_config_data_norm(&d, channels, mean, std);
}

int ct_model_class_names(const ct_st_file *f, const char *path, const ct_config *cfg, const ct_dataset *d,
                         int classes, char ***names)
{
    *names = NULL;
    char **v = NULL;
    int n = 0;
    const char *meta = ct_st_metadata_get(f, "class_names");
    if (meta) {
        CT_TRY(ct_class_names_from_json(meta, path, &v, &n));
        if (n != classes) {
            ct_class_names_free(v, n);
            return ct_fail(CT_ERR_INPUT, "%s: metadata 'class_names' has %d names but the network has %d classes; the "
                           "file is inconsistent", path, n, classes);
        }
    } else {
        const int cn = cfg->data.class_names_n;
        if (cn && cn != classes)
            return ct_fail(CT_ERR_USAGE, "%s%sdata.class_names has %d names but the model has %d classes",
                           cfg->data.class_names_where, cfg->data.class_names_where[0] ? ": " : "", cn, classes);
        n = classes;
        v = calloc((size_t)n, sizeof *v);
        if (!v) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        for (int k = 0; k < n; k++) {
            char num[16];
            snprintf(num, sizeof num, "%d", k);
            const char *s = cn ? cfg->data.class_names[k] : d && d->classes == classes ? d->class_names[k] : num;
            if (!(v[k] = strdup(s))) {
                ct_class_names_free(v, n);
                return ct_fail(CT_ERR_NOMEM, "out of host memory");
            }
        }
    }
    *names = v;
    return CT_OK;
}

int ct_eval_to_json(const ct_eval_result *r, char **out)
{
    const ct_class_report *p = &r->rep;
    json_t *w = json_object();
    json_object_set_new(w, "test_accuracy", ct_jreal(r->test_accuracy));
    json_object_set_new(w, "test_loss", ct_jreal(r->test_loss));
    json_object_set_new(w, "test_samples", json_integer((json_int_t)(r->test_samples)));
    json_object_set_new(w, "precision_macro", ct_jreal(p->precision_macro));
    json_object_set_new(w, "recall_macro", ct_jreal(p->recall_macro));
    json_object_set_new(w, "f1_macro", ct_jreal(p->f1_macro));
    json_object_set_new(w, "precision_weighted", ct_jreal(p->precision_weighted));
    json_object_set_new(w, "recall_weighted", ct_jreal(p->recall_weighted));
    json_object_set_new(w, "f1_weighted", ct_jreal(p->f1_weighted));
    json_t *confusion_matrix = json_array();
    json_object_set_new(w, "confusion_matrix", confusion_matrix);
    for (int i = 0; i < p->classes; i++) {
        json_t *row = json_array();
        json_array_append_new(confusion_matrix, row);
        for (int j = 0; j < p->classes; j++) json_array_append_new(row, json_integer((json_int_t)CT_REPORT_CM(p, i, j)));
    }
    json_t *class_names = json_array();
    json_object_set_new(w, "class_names", class_names);
    for (int k = 0; k < p->classes; k++) json_array_append_new(class_names, ct_jstr(p->names[k]));
    json_t *per_class = json_array();
    json_object_set_new(w, "per_class", per_class);
    for (int k = 0; k < p->classes; k++) {
        json_t *c = json_object();
        json_array_append_new(per_class, c);
        json_object_set_new(c, "label", json_integer((json_int_t)(k)));
        json_object_set_new(c, "class_name", ct_jstr(p->names[k]));
        json_object_set_new(c, "precision", ct_jreal(p->precision[k]));
        json_object_set_new(c, "recall", ct_jreal(p->recall[k]));
        json_object_set_new(c, "f1", ct_jreal(p->f1[k]));
        json_object_set_new(c, "support", json_integer((json_int_t)(p->support[k])));
    }
    json_object_set_new(w, "evaluated_model_path", ct_jstr(r->model_path));
    json_object_set_new(w, "model_name", ct_jstr(r->model_name));
    json_object_set_new(w, "model_md5", ct_jstr(r->model_md5));
    json_object_set_new(w, "run_dir", ct_jstr(r->run_dir));
    json_t *files = json_object();
    json_object_set_new(w, "files", files);
    json_object_set_new(files, "evaluation_json", ct_jstr(r->evaluation_json));
    if (r->confusion_png[0]) json_object_set_new(files, "confusion_matrix_png", ct_jstr(r->confusion_png));
    else json_object_set_new(files, "confusion_matrix_png", json_null());
    if (r->curves_png[0]) json_object_set_new(files, "training_curves_png", ct_jstr(r->curves_png));
    else json_object_set_new(files, "training_curves_png", json_null());
    json_t *normalisation = json_object();
    json_object_set_new(w, "normalisation", normalisation);
    json_object_set_new(normalisation, "mean", ct_jreal(r->mean));
    json_object_set_new(normalisation, "std", ct_jreal(r->std));
    json_t *mean_c = json_array(), *std_c = json_array();
    json_object_set_new(normalisation, "mean_per_channel", mean_c);
    json_object_set_new(normalisation, "std_per_channel", std_c);
    for (int k = 0; k < r->channels; k++) {
        json_array_append_new(mean_c, ct_jreal(r->mean_c[k]));
        json_array_append_new(std_c, ct_jreal(r->std_c[k]));
    }
    json_object_set_new(w, "device", ct_jstr(r->device));
    json_object_set_new(w, "data_dir", ct_jstr(r->data_dir));
    json_object_set_new(w, "evaluated_at", ct_jstr(r->evaluated_at));
    json_object_set_new(w, "seconds", ct_jreal(r->seconds));
    json_object_set_new(w, "cltrain_version", ct_jstr(CLTRAIN_VERSION));
    size_t len;
    int rc = ct_jdump(w, out, &len);
    json_decref(w);
    return rc;
}

void ct_eval_print(FILE *f, const ct_eval_result *r)
{
    fprintf(f, "model: %s (%s)\n", r->model_name, r->model_path);
    fprintf(f, "test set: %s, %ld images, device %s, %.1f s\n", r->data_dir, r->test_samples, r->device, r->seconds);
    fprintf(f, "test_accuracy: %.4f (%.2f%%)   test loss: %.4f   macro F1: %.4f\n\n", r->test_accuracy,
            100 * r->test_accuracy, r->test_loss, r->rep.f1_macro);
    char *cm = ct_confusion_text(&r->rep), *rep = ct_class_report_text(&r->rep, 4);
    fprintf(f, "confusion matrix (rows: actual label, columns: predicted label)\n%s\n", cm ? cm : "");
    fprintf(f, "classification report\n%s\n", rep ? rep : "");
    free(cm);
    free(rep);
    fprintf(f, "wrote %s", r->evaluation_json);
    if (r->confusion_png[0]) fprintf(f, ", %s", r->confusion_png);
    if (r->curves_png[0]) fprintf(f, ", %s", r->curves_png);
    fprintf(f, "\n");
}

int ct_eval_cached_accuracy(const ct_config *cfg, const char *model_name, const char *model_md5, double *acc)
{
    char p[CT_STORE_PATH_MAX + 600];
    snprintf(p, sizeof p, "%s/%s/evaluation.json", cfg->output.runs_dir, model_name);
    if (access(p, R_OK) != 0) return 0;
    unsigned char *text = NULL;
    size_t len;
    if (ct_read_file(p, 1u << 24, &text, &len) != CT_OK) {
        ct_clear_error();
        return 0;
    }
    json_t *j = NULL;
    int ok = 0;
    if (ct_jparse((const char *)text, len, p, 0, 0, &j) == CT_OK) {
        const char *md5 = ct_jget_string(j, "model_md5", "");
        double a = ct_jget_double(j, "test_accuracy", -1);
        if (!strcmp(md5, model_md5) && a >= 0 && a <= 1) {
            *acc = a;
            ok = 1;
        }
    } else {
        ct_clear_error();
    }
    json_decref(j);
    free(text);
    return ok;
}

/* largest batch <= want whose inference model (every buffer counted) fits the device: 80% of its
 * memory and the single-allocation limit */
static int eval_batch(const ct_device_info *dev, const ct_netdef *net, int want, long n, int *out)
{
    int b = want;
    if (n > 0 && b > n) b = (int)n;
    if (b < 1) b = 1;
    for (;;) {
        unsigned long long total = 0, largest = 0;
        int rc = ct_model_memory(net, b, 1, &total, &largest);
        if (rc == CT_OK && largest <= dev->max_alloc && total <= dev->global_mem / 10 * 8) break;
        if (b == 1) {
            if (rc) return rc;
            break; /* ct_model_create reports what does not fit */
        }
        if (rc) ct_clear_error();
        b /= 2;
    }
    *out = b;
    return CT_OK;
}

void ct_eval_result_free(ct_eval_result *r)
{
    if (r) ct_class_report_free(&r->rep);
}

int ct_evaluate_model(const ct_config *cfg, const ct_eval_opts *o, ct_eval_result *r)
{
    memset(r, 0, sizeof *r);
    double t0 = ct_now();
    ct_st_file *f = NULL;
    ct_dataset test = {0};
    char **names = NULL;
    long *cm = NULL;
    int classes = 0;
    ct_ctx *ctx = NULL;
    ct_model *m = NULL;
    float *logits = NULL;
    char *json = NULL;
    int rc;
    ct_netdef net = {0};

    if ((rc = ct_store_resolve(cfg, o->model, r->model_path, r->model_name)) != CT_OK) goto out;
    /* a file of the --config network need not have DigitCNN's names */
    if (!cfg->network && (rc = ct_store_peek(r->model_path, NULL)) != CT_OK) goto out;
    if ((rc = ct_st_load(r->model_path, &f)) != CT_OK) goto out;
    /* the file's network; a file without one (PyTorch-written) takes the --config network */
    if ((rc = ct_modelio_file_netdef(f, r->model_path, cfg, &net)) != CT_OK) goto out;
    classes = net.classes;
    if ((rc = ct_store_file_md5(r->model_path, r->model_md5)) != CT_OK) goto out;
    snprintf(r->data_dir, sizeof r->data_dir, "%s", cfg->data.dir);
    if ((rc = ct_load_dataset(cfg->data.dir, 0, 1, &test)) != CT_OK) goto out;
    r->test_samples = (long)test.n;
    if (test.n == 0) {
        rc = ct_fail(CT_ERR_INPUT, "%s: the test set is empty", cfg->data.dir);
        goto out;
    }
    if ((rc = ct_dataset_check_network(&test, net.in_c, net.in_h, net.in_w, classes, r->model_path)) != CT_OK) goto out;
    ct_augment norm;
    memset(&norm, 0, sizeof norm);
    r->channels = test.c;
    if ((rc = ct_model_normalisation(f, r->model_path, cfg, test.c, r->mean_c, r->std_c)) != CT_OK) goto out;
    r->mean = r->mean_c[0];
    r->std = r->std_c[0];
    ct_augment_set_shape(&norm, test.c, test.h, test.w, r->mean_c, r->std_c);
    if ((rc = ct_model_class_names(f, r->model_path, cfg, &test, classes, &names)) != CT_OK) goto out;
    const char *dev = o->device && *o->device ? o->device : cfg->device;
    if ((rc = ct_ctx_create(dev, 0, &ctx)) != CT_OK) goto out;
    snprintf(r->device, sizeof r->device, "%s", ctx->dev.name);
    int batch = 1;
    if ((rc = eval_batch(&ctx->dev, &net, cfg->evaluation.batch_size, (long)test.n, &batch)) != CT_OK) goto out;
    if (batch < cfg->evaluation.batch_size && (size_t)batch < test.n)
        ct_debug("evaluation batch reduced from %d to %d to fit %s\n", cfg->evaluation.batch_size, batch,
                 ctx->dev.name);
    if ((rc = ct_tune_apply_network(ctx, &net, batch)) != CT_OK) goto out;
    if ((rc = ct_model_create_ex(ctx, &net, batch, 1, &m)) != CT_OK) goto out;
    if ((rc = ct_modelio_load(m, f, r->model_path)) != CT_OK) goto out;
    logits = ct_malloc(test.n * (size_t)classes * sizeof(float), "test logits");
    cm = calloc((size_t)classes * (size_t)classes, sizeof *cm);
    if (!logits || !cm) {
        rc = CT_ERR_NOMEM;
        goto out;
    }
    double acc_dev = 0;
    if ((rc = ct_evaluate_images(m, &norm, classes, test.images, test.labels, NULL, (long)test.n, &r->test_loss,
                                 &acc_dev, logits)) != CT_OK)
        goto out;
    for (size_t i = 0; i < test.n; i++) {
        const float *z = logits + i * (size_t)classes;
        int best = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[best] || (isnan(z[k]) && !isnan(z[best]))) best = k;
        cm[(size_t)test.labels[i] * (size_t)classes + (size_t)best]++;
    }
    if ((rc = ct_class_report_compute(cm, classes, (const char *const *)names, &r->rep)) != CT_OK) goto out;
    r->test_accuracy = r->rep.accuracy;

    if ((rc = ct_store_run_dir(cfg, r->model_name, r->run_dir, sizeof r->run_dir)) != CT_OK) goto out;
    snprintf(r->evaluation_json, sizeof r->evaluation_json, "%s/evaluation.json", r->run_dir);
    if (!o->no_plots) {
        snprintf(r->confusion_png, sizeof r->confusion_png, "%s/confusion_matrix.png", r->run_dir);
        char sub[700];
        snprintf(sub, sizeof sub, "%s: accuracy %.4f on %ld test images", r->model_name, r->test_accuracy,
                 r->test_samples);
        if ((rc = ct_plot_confusion_png(r->rep.cm, r->rep.classes, (const char *const *)r->rep.names,
                                        "Confusion Matrix - Test Set", sub, r->confusion_png)) != CT_OK)
            goto out;
        char csv[CT_STORE_PATH_MAX + 32];
        snprintf(csv, sizeof csv, "%s/metrics.csv", r->run_dir);
        if (access(csv, R_OK) == 0) {
            snprintf(r->curves_png, sizeof r->curves_png, "%s/training_curves.png", r->run_dir);
            if (ct_plot_training_curves_png(csv, r->model_name, r->curves_png) != CT_OK) {
                ct_log("warning: no training curves: %s\n", ct_last_error());
                ct_clear_error();
                r->curves_png[0] = 0;
            }
        }
    }
    ct_store_now_iso(r->evaluated_at, sizeof r->evaluated_at);
    r->seconds = ct_now() - t0;
    if ((rc = ct_eval_to_json(r, &json)) != CT_OK) goto out;
    size_t jl = strlen(json);
    json[jl] = '\n'; /* the terminating NUL becomes a final newline, written with the text */
    rc = ct_write_file_atomic(r->evaluation_json, json, jl + 1);
    json[jl] = 0;
out:
    free(json);
    free(logits);
    ct_model_free(m);
    ct_netdef_free(&net);
    ct_ctx_free(ctx);
    ct_dataset_free(&test);
    ct_class_names_free(names, classes);
    free(cm);
    ct_st_free(f);
    return rc;
}
