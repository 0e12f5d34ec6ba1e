/* predict.c: saved DigitCNN + image files -> predictions (see predict.h). */
#define _POSIX_C_SOURCE 200809L
#include "predict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clctx.h"
#include "common.h"
#include "idx.h"
#include "image.h"
#include "io/jsonutil.h"
#include "model.h"
#include "modelio.h"
#include "preprocess.h"
#include "safetensors.h"

struct ct_predictor {
    char *path;
    char *device_sel;
    ct_st_file *file;   /* until the device model is loaded */
    ct_cnn_dims dims;
    int batch;
    float mean, std;
    int norm_from_metadata;
    ct_ctx *ctx;
    ct_model *m;
    float *stage;       /* batch x 784 normalised */
    float *logits;      /* batch x 10 */
    char device[256];
};

int ct_softmax10(const float *z, float *p)
{
    int arg = 0;
    for (int k = 1; k < 10; k++)
        if (z[k] > z[arg]) arg = k;
    double e[10], s = 0;
    for (int k = 0; k < 10; k++) s += e[k] = exp((double)z[k] - (double)z[arg]);
    for (int k = 0; k < 10; k++) p[k] = (float)(e[k] / s);
    return arg;
}

static void read_norm(ct_predictor *p)
{
    p->mean = CT_PREDICT_DEFAULT_MEAN;
    p->std = CT_PREDICT_DEFAULT_STD;
    const char *cfg = ct_st_metadata_get(p->file, "config");
    if (!cfg) return;
    json_t *j = NULL;
    if (ct_jparse(cfg, strlen(cfg), "config", 0, 0, &j) != CT_OK) {
        ct_log("warning: %s: the metadata 'config' is not valid JSON (%s); using mean %.4f, std %.4f\n", p->path,
               ct_last_error(), p->mean, p->std);
        ct_clear_error();
        return;
    }
    const json_t *d = json_object_get(j, "data");
    double mean, std;
    if (d && ct_jas_double(json_object_get(d, "mean"), &mean) && ct_jas_double(json_object_get(d, "std"), &std) &&
        isfinite(mean) && isfinite(std) && std > 0) {
        p->mean = (float)mean;
        p->std = (float)std;
        p->norm_from_metadata = 1;
    }
    json_decref(j);
}

int ct_predictor_open(const char *model_path, const char *device, int batch_size, ct_predictor **out)
{
    *out = NULL;
    ct_predictor *p = calloc(1, sizeof *p);
    if (!p) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    p->path = strdup(model_path);
    p->device_sel = device ? strdup(device) : NULL;
    p->batch = batch_size > 0 ? batch_size : 64;
    int rc = p->path && (!device || p->device_sel) ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory");
    if (rc == CT_OK) rc = ct_st_load(model_path, &p->file);
    if (rc == CT_OK) rc = ct_modelio_dims(p->file, model_path, &p->dims);
    if (rc != CT_OK) {
        ct_predictor_free(p);
        return rc;
    }
    read_norm(p);
    *out = p;
    return CT_OK;
}

void ct_predictor_free(ct_predictor *p)
{
    if (!p) return;
    ct_model_free(p->m);
    ct_ctx_free(p->ctx);
    ct_st_free(p->file);
    free(p->stage);
    free(p->logits);
    free(p->path);
    free(p->device_sel);
    free(p);
}

void ct_predictor_norm(const ct_predictor *p, float *mean, float *std, int *from_metadata)
{
    if (mean) *mean = p->mean;
    if (std) *std = p->std;
    if (from_metadata) *from_metadata = p->norm_from_metadata;
}

const char *ct_predictor_device(const ct_predictor *p)
{
    return p->device;
}

int ct_predictor_batch_size(const ct_predictor *p)
{
    return p->batch;
}

static int predictor_start(ct_predictor *p)
{
    CT_TRY(ct_ctx_create(p->device_sel, 0, &p->ctx));
    snprintf(p->device, sizeof p->device, "%s", p->ctx->dev.name);
    /* the model also allocates training buffers: shrink the batch until it fits comfortably */
    while (p->batch > 1 && ct_model_memory_estimate(&p->dims, p->batch) > p->ctx->dev.global_mem / 2) {
        p->batch /= 2;
        ct_debug("predict: batch reduced to %d to fit the device memory\n", p->batch);
    }
    CT_TRY(ct_model_create(p->ctx, &p->dims, p->batch, &p->m));
    CT_TRY(ct_modelio_load(p->m, p->file, p->path));
    ct_st_free(p->file);
    p->file = NULL;
    p->stage = malloc((size_t)p->batch * 784 * sizeof(float));
    p->logits = malloc((size_t)p->batch * 10 * sizeof(float));
    if (!p->stage || !p->logits) return ct_fail(CT_ERR_NOMEM, "out of host memory (batch of %d)", p->batch);
    return CT_OK;
}

int ct_predictor_run(ct_predictor *p, const float *images01, size_t n, float *probs)
{
    return ct_predictor_run_logits(p, images01, n, probs, NULL);
}

int ct_predictor_run_logits(ct_predictor *p, const float *images01, size_t n, float *probs, float *logits)
{
    if (!p->m) CT_TRY(predictor_start(p));
    for (size_t b = 0; b < n; b += (size_t)p->batch) {
        int N = (int)(n - b < (size_t)p->batch ? n - b : (size_t)p->batch);
        memcpy(p->stage, images01 + b * 784, (size_t)N * 784 * sizeof(float));
        ct_normalize(p->stage, (size_t)N * 784, p->mean, p->std);
        CT_TRY(ct_model_upload(p->m, N, p->stage, NULL));
        CT_TRY(ct_model_forward(p->m, N, 0, 0, 0));
        CT_TRY(ct_buffer_read(p->ctx, p->m->logits, 0, (size_t)N * 10 * sizeof(float), p->logits));
        for (int i = 0; i < N; i++) ct_softmax10(p->logits + (size_t)i * 10, probs + (b + (size_t)i) * 10);
        if (logits) memcpy(logits + b * 10, p->logits, (size_t)N * 10 * sizeof(float));
    }
    return CT_OK;
}

/* --- files ---------------------------------------------------------------------------------- */
typedef struct {
    const ct_predict_opts *o;
    ct_predict_result *r;
    ct_predictor *p;
    float *pending;      /* images waiting for a forward pass */
    size_t n_pending, cap_pred, cap_issues;
    float *probs, *logits;
} job;

static int add_issue(job *J, const char *input, long index, int status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int add_issue(job *J, const char *input, long index, int status, const char *fmt, ...)
{
    ct_predict_result *r = J->r;
    if (r->n_issues == J->cap_issues) {
        size_t cap = J->cap_issues ? 2 * J->cap_issues : 8;
        ct_predict_issue *v = realloc(r->issues, cap * sizeof *v);
        if (!v) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        r->issues = v;
        J->cap_issues = cap;
    }
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ct_predict_issue *is = &r->issues[r->n_issues];
    is->input = input;
    is->index = index;
    is->status = status;
    is->message = strdup(buf);
    if (!is->message) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    r->n_issues++;
    if (J->o->on_issue) J->o->on_issue(is, J->o->user);
    return CT_OK;
}

static int flush(job *J)
{
    if (!J->n_pending) return CT_OK;
    ct_predict_result *r = J->r;
    CT_TRY(ct_predictor_run_logits(J->p, J->pending, J->n_pending, J->probs, J->logits));
    snprintf(r->device, sizeof r->device, "%s", ct_predictor_device(J->p));
    r->batch_size = ct_predictor_batch_size(J->p);
    ct_prediction *first = r->pred + r->n_pred - J->n_pending;
    for (size_t i = 0; i < J->n_pending; i++) {
        ct_prediction *q = first + i;
        memcpy(q->probs, J->probs + i * 10, sizeof q->probs);
        memcpy(q->logits, J->logits + i * 10, sizeof q->logits);
        int arg = 0;
        for (int k = 1; k < 10; k++)
            if (q->probs[k] > q->probs[arg]) arg = k;
        q->label = arg;
        q->confidence = q->probs[arg];
        q->low_confidence = q->confidence < J->o->threshold;
    }
    J->n_pending = 0;
    return CT_OK;
}

/* Queues one MNIST-form image (784 floats in [0,1]). */
static int push(job *J, const char *input, long index, const float *img)
{
    ct_predict_result *r = J->r;
    if (r->n_pred == J->cap_pred) {
        size_t cap = J->cap_pred ? 2 * J->cap_pred : 64;
        ct_prediction *v = realloc(r->pred, cap * sizeof *v);
        if (!v) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        r->pred = v;
        J->cap_pred = cap;
    }
    ct_prediction *q = &r->pred[r->n_pred++];
    memset(q, 0, sizeof *q);
    q->input = input;
    q->index = index;
    q->label = -1;
    memcpy(J->pending + J->n_pending * 784, img, 784 * sizeof(float));
    if (++J->n_pending == (size_t)J->o->batch_size) return flush(J);
    return CT_OK;
}

/* An input's problem: recorded, the job goes on (CT_OK), unless memory ran out. */
static int input_failed(job *J, const char *path, int rc)
{
    if (rc == CT_ERR_NOMEM) return rc;
    J->r->n_failed++;
    const char *msg = ct_last_error();
    /* messages of the readers already start with the path */
    size_t lp = strlen(path);
    if (!strncmp(msg, path, lp) && msg[lp] == ':') return add_issue(J, path, -1, rc, "%s", msg);
    return add_issue(J, path, -1, rc, "%s: %s", path, msg);
}

static int do_picture(job *J, const char *path)
{
    ct_image im;
    int rc = ct_image_load(path, &im);
    if (rc != CT_OK) return input_failed(J, path, rc);
    float img[784];
    ct_prep_info info;
    rc = ct_preprocess_digit(im.pixels, im.width, im.height, img, &info);
    int w = im.width, h = im.height;
    ct_image_free(&im);
    if (rc != CT_OK && info.blank) {
        J->r->n_blank++;
        rc = add_issue(J, path, 0, CT_OK, "%s: %s; skipped", path, ct_last_error());
        ct_clear_error();
        return rc;
    }
    if (rc != CT_OK) return input_failed(J, path, rc);
    ct_debug("%s: %dx%d, %s, ink box (%d,%d)-(%d,%d) -> %dx%d at (%d,%d)\n", path, w, h,
             info.inverted ? "inverted" : "not inverted", info.x0, info.y0, info.x1, info.y1, info.width, info.height,
             info.shift_x, info.shift_y);
    return push(J, path, 0, img);
}

static int do_idx(job *J, const char *path)
{
    ct_idx x;
    int rc = ct_idx_load(path, &x);
    if (rc != CT_OK) return input_failed(J, path, rc);
    if (x.type != CT_IDX_U8 || x.rank != 3 || x.dims[1] != 28 || x.dims[2] != 28) {
        char shape[64] = "";
        size_t at = 0;
        for (int k = 0; k < x.rank; k++)
            at += (size_t)snprintf(shape + at, sizeof shape - at, "%s%u", k ? " x " : "", x.dims[k]);
        rc = ct_fail(CT_ERR_INPUT,
                     "%s: IDX file holds %s data of shape (%s); predict needs MNIST images: u8, N x 28 x 28 (magic "
                     "0x00000803)",
                     path, ct_idx_type_name(x.type), shape);
        ct_idx_free(&x);
        return input_failed(J, path, rc);
    }
    if (x.dims[0] == 0) {
        ct_idx_free(&x);
        return input_failed(J, path, ct_fail(CT_ERR_INPUT, "%s: IDX file holds no images (N = 0)", path));
    }
    const uint8_t *px = x.data;
    float img[784];
    for (size_t i = 0; i < x.dims[0] && rc == CT_OK; i++) {
        for (int k = 0; k < 784; k++) img[k] = px[i * 784 + k] * (1.0f / 255.0f);
        rc = push(J, path, (long)i, img);
    }
    ct_idx_free(&x);
    return rc;
}

int ct_predict_files(const char *const *inputs, size_t n_inputs, const ct_predict_opts *o, ct_predict_result *r)
{
    memset(r, 0, sizeof *r);
    if (o->batch_size < 1) return ct_fail(CT_ERR_USAGE, "prediction batch size must be at least 1");
    job J = {0};
    J.o = o;
    J.r = r;
    int rc = ct_predictor_open(o->model_path, o->device, o->batch_size, &J.p);
    if (rc != CT_OK) return rc;
    ct_predictor_norm(J.p, &r->mean, &r->std, &r->norm_from_metadata);
    r->batch_size = o->batch_size;
    J.pending = malloc((size_t)o->batch_size * 784 * sizeof(float));
    J.probs = malloc((size_t)o->batch_size * 10 * sizeof(float));
    J.logits = malloc((size_t)o->batch_size * 10 * sizeof(float));
    if (!J.pending || !J.probs || !J.logits) rc = ct_fail(CT_ERR_NOMEM, "out of host memory (batch of %d)", o->batch_size);
    for (size_t i = 0; i < n_inputs && rc == CT_OK; i++) {
        const char *path = inputs[i];
        ct_file_kind kind;
        rc = ct_file_kind_probe(path, &kind);
        if (rc != CT_OK) {
            rc = input_failed(&J, path, rc);
            continue;
        }
        switch (kind) {
        case CT_FILE_PNG:
        case CT_FILE_PGM: rc = do_picture(&J, path); break;
        case CT_FILE_IDX:
        case CT_FILE_GZIP: rc = do_idx(&J, path); break;
        default:
            rc = input_failed(&J, path,
                              ct_fail(CT_ERR_INPUT,
                                      "%s: not a PNG, PGM or IDX file (unrecognised first bytes); predict reads PNG, "
                                      "PGM (P2/P5) and MNIST IDX images (raw or .gz)",
                                      path));
        }
    }
    if (rc == CT_OK) rc = flush(&J);
    if (rc == CT_OK) {
        double s = 0;
        for (size_t i = 0; i < r->n_pred; i++) {
            s += r->pred[i].confidence;
            if (r->pred[i].low_confidence) r->low_count++;
            else r->high_count++;
        }
        r->avg_confidence = r->n_pred ? s / (double)r->n_pred : 0;
    } else {
        /* fatal: predictions that did not run are dropped */
        r->n_pred -= J.n_pending;
    }
    free(J.pending);
    free(J.probs);
    free(J.logits);
    ct_predictor_free(J.p);
    return rc;
}

void ct_predict_result_free(ct_predict_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_issues; i++) free(r->issues[i].message);
    free(r->issues);
    free(r->pred);
    memset(r, 0, sizeof *r);
}
