/* predict.c: saved model + image files -> predictions (see predict.h). */
#define _POSIX_C_SOURCE 200809L
#include "predict.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clctx.h"
#include "common.h"
#include "data/dataset.h"
#include "idx.h"
#include "image.h"
#include "io/jsonutil.h"
#include "model.h"
#include "modelio.h"
#include "preprocess.h"
#include "safetensors.h"
#include "tune.h"

struct ct_predictor {
    char *path;
    char *device_sel;
    ct_st_file *file;   /* until the device model is loaded */
    ct_netdef net;
    int batch;
    int c, h, w, classes; /* the model's input and class count */
    float mean, std;      /* channel 0 */
    float mean_c[CT_PREDICT_MAX_CHANNELS], std_c[CT_PREDICT_MAX_CHANNELS];
    int norm_from_metadata;
    char **names;         /* classes names */
    ct_ctx *ctx;
    ct_model *m;
    float *stage;         /* batch x c*h*w normalised */
    float *logits;        /* batch x classes */
    char device[256];
};

int ct_softmax_host(const float *z, int K, float *p)
{
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[arg]) arg = k;
    double s = 0;
    for (int k = 0; k < K; k++) s += exp((double)z[k] - (double)z[arg]);
    for (int k = 0; k < K; k++) p[k] = (float)(exp((double)z[k] - (double)z[arg]) / s);
    return arg;
}

int ct_softmax10(const float *z, float *p) { return ct_softmax_host(z, 10, p); }

/* One data.mean / data.std of the metadata: a number (every channel) or a list of c values.
 * Returns 1 when it gave values. */
static int norm_values(json_t *v, int c, float *out)
{
    if (json_is_number(v)) {
        for (int k = 0; k < c; k++) out[k] = (float)json_number_value(v);
        return isfinite(out[0]);
    }
    if (!json_is_array(v) || (int)json_array_size(v) != c) return 0;
    for (int k = 0; k < c; k++) {
        json_t *x = json_array_get(v, (size_t)k);
        if (!json_is_number(x) || !isfinite(json_number_value(x))) return 0;
        out[k] = (float)json_number_value(x);
    }
    return 1;
}

/* data.mean / data.std of the model's `config` metadata, else the config's (cfg not NULL), else
 * MNIST's values. */
static int read_norm(ct_predictor *p, const ct_config *config)
{
    for (int k = 0; k < CT_PREDICT_MAX_CHANNELS; k++) {
        p->mean_c[k] = CT_PREDICT_DEFAULT_MEAN;
        p->std_c[k] = CT_PREDICT_DEFAULT_STD;
    }
    if (config && !ct_st_metadata_get(p->file, "config")) {
        CT_TRY(ct_config_data_norm(&config->data, p->c, p->mean_c, p->std_c));
        p->mean = p->mean_c[0], p->std = p->std_c[0];
        return CT_OK;
    }
    const char *cfg = ct_st_metadata_get(p->file, "config");
    json_t *j = cfg ? json_loads(cfg, 0, NULL) : NULL;
    if (cfg && !j)
        ct_log("warning: %s: the metadata 'config' is not valid JSON; using mean %.4f, std %.4f\n", p->path,
               CT_PREDICT_DEFAULT_MEAN, CT_PREDICT_DEFAULT_STD);
    json_t *d = json_object_get(j, "data");
    float mean[CT_PREDICT_MAX_CHANNELS], std[CT_PREDICT_MAX_CHANNELS];
    if (d && norm_values(json_object_get(d, "mean"), p->c, mean) && norm_values(json_object_get(d, "std"), p->c, std)) {
        int ok = 1;
        for (int k = 0; k < p->c; k++) ok = ok && std[k] > 0 && isfinite(std[k]);
        if (ok) {
            memcpy(p->mean_c, mean, sizeof(float) * (size_t)p->c);
            memcpy(p->std_c, std, sizeof(float) * (size_t)p->c);
            p->norm_from_metadata = 1;
        }
    } else if (d) {
        ct_log("warning: %s: the metadata's data.mean / data.std do not fit the model's %d channel(s); using mean "
               "%.4f, std %.4f\n", p->path, p->c, CT_PREDICT_DEFAULT_MEAN, CT_PREDICT_DEFAULT_STD);
    }
    json_decref(j);
    p->mean = p->mean_c[0];
    p->std = p->std_c[0];
    return CT_OK;
}

/* The model's class names: its `class_names` metadata, else "0".."K-1". */
static int read_names(ct_predictor *p)
{
    const char *meta = ct_st_metadata_get(p->file, "class_names");
    int n = 0;
    if (meta) {
        CT_TRY(ct_class_names_from_json(meta, p->path, &p->names, &n));
        if (n != p->classes) {
            ct_class_names_free(p->names, n);
            p->names = NULL;
            return ct_fail(CT_ERR_INPUT, "%s: metadata 'class_names' has %d names but the model has %d classes; the "
                           "file is inconsistent", p->path, n, p->classes);
        }
        return CT_OK;
    }
    p->names = calloc((size_t)p->classes, sizeof *p->names);
    if (!p->names) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (int k = 0; k < p->classes; k++) {
        char b[16];
        snprintf(b, sizeof b, "%d", k);
        if (!(p->names[k] = strdup(b))) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    }
    return CT_OK;
}

int ct_predictor_open(const char *model_path, const char *device, int batch_size, ct_predictor **out)
{
    return ct_predictor_open_config(model_path, device, batch_size, NULL, out);
}

int ct_predictor_open_config(const char *model_path, const char *device, int batch_size, const ct_config *cfg,
                             ct_predictor **out)
{
    *out = NULL;
    ct_predictor *p = calloc(1, sizeof *p);
    if (!p) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    p->path = strdup(model_path);
    p->device_sel = device ? strdup(device) : NULL;
    p->batch = batch_size > 0 ? batch_size : 64;
    int rc = p->path && (!device || p->device_sel) ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory");
    if (rc == CT_OK) rc = ct_st_load(model_path, &p->file);
    /* the file's network, else the config's `network:` (a PyTorch-written file), else DigitCNN */
    if (rc == CT_OK)
        rc = cfg ? ct_modelio_file_netdef(p->file, model_path, cfg, &p->net)
                 : ct_modelio_netdef(p->file, model_path, NULL, &p->net);
    /* the model's input and classes */
    if (rc == CT_OK) p->c = p->net.in_c, p->h = p->net.in_h, p->w = p->net.in_w, p->classes = p->net.classes;
    if (rc == CT_OK && p->c > CT_PREDICT_MAX_CHANNELS)
        rc = ct_fail(CT_ERR_INPUT, "%s: the model takes %d channels; predict handles 1 to %d", model_path, p->c,
                     CT_PREDICT_MAX_CHANNELS);
    if (rc == CT_OK) rc = read_names(p);
    if (rc == CT_OK) rc = read_norm(p, cfg);
    if (rc != CT_OK) {
        ct_predictor_free(p);
        return rc;
    }
    *out = p;
    return CT_OK;
}

void ct_predictor_free(ct_predictor *p)
{
    if (!p) return;
    ct_model_free(p->m);
    ct_netdef_free(&p->net);
    ct_ctx_free(p->ctx);
    ct_st_free(p->file);
    free(p->stage);
    free(p->logits);
    ct_class_names_free(p->names, p->classes);
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

void ct_predictor_shape(const ct_predictor *p, int *c, int *h, int *w, int *classes)
{
    if (c) *c = p->c;
    if (h) *h = p->h;
    if (w) *w = p->w;
    if (classes) *classes = p->classes;
}

const char *ct_predictor_class_name(const ct_predictor *p, int k)
{
    return k >= 0 && k < p->classes ? p->names[k] : "";
}

void ct_predictor_norm_channels(const ct_predictor *p, float *mean, float *std)
{
    memcpy(mean, p->mean_c, sizeof(float) * (size_t)p->c);
    memcpy(std, p->std_c, sizeof(float) * (size_t)p->c);
}

static int predictor_start(ct_predictor *p)
{
    CT_TRY(ct_ctx_create(p->device_sel, 0, &p->ctx));
    snprintf(p->device, sizeof p->device, "%s", p->ctx->dev.name);
    /* an inference-only model: shrink the batch until every buffer fits comfortably */
    for (;;) {
        unsigned long long total = 0, largest = 0;
        int rc = ct_model_memory(&p->net, p->batch, 1, &total, &largest);
        if (p->batch == 1 || (rc == CT_OK && total <= p->ctx->dev.global_mem / 2 && largest <= p->ctx->dev.max_alloc))
            break;
        ct_clear_error();
        p->batch /= 2;
        ct_debug("predict: batch reduced to %d to fit the device memory\n", p->batch);
    }
    CT_TRY(ct_tune_apply_network(p->ctx, &p->net, p->batch));
    CT_TRY(ct_model_create_ex(p->ctx, &p->net, p->batch, 1, &p->m));
    CT_TRY(ct_modelio_load(p->m, p->file, p->path));
    ct_st_free(p->file);
    p->file = NULL;
    p->stage = malloc((size_t)p->batch * p->c * p->h * p->w * sizeof(float));
    p->logits = malloc((size_t)p->batch * p->classes * sizeof(float));
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
        const size_t hw = (size_t)p->h * p->w, isz = hw * (size_t)p->c, K = (size_t)p->classes;
        memcpy(p->stage, images01 + b * isz, (size_t)N * isz * sizeof(float));
        for (int i = 0; i < N; i++)
            for (int c = 0; c < p->c; c++) ct_normalize(p->stage + i * isz + c * hw, hw, p->mean_c[c], p->std_c[c]);
        CT_TRY(ct_model_upload(p->m, N, p->stage, NULL));
        CT_TRY(ct_model_forward(p->m, N, 0, 0, 0));
        CT_TRY(ct_buffer_read(p->ctx, p->m->logits, 0, (size_t)N * K * sizeof(float), p->logits));
        for (int i = 0; i < N; i++) ct_softmax_host(p->logits + (size_t)i * K, (int)K, probs + (b + (size_t)i) * K);
        if (logits) memcpy(logits + b * K, p->logits, (size_t)N * K * sizeof(float));
    }
    return CT_OK;
}

/* --- files ---------------------------------------------------------------------------------- */
typedef struct {
    const ct_predict_opts *o;
    ct_predict_result *r;
    ct_predictor *p;
    float *pending;      /* images waiting for a forward pass (isz floats each) */
    size_t n_pending, cap_pred, cap_issues;
    float *probs, *logits;
    int c, h, w, K;      /* the model's input and classes */
    size_t isz;          /* c * h * w */
    int digits;          /* 1 x 28 x 28 model: pictures get the MNIST-style digit preprocessing */
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
        q->probs = malloc((size_t)J->K * sizeof *q->probs);
        q->logits = malloc((size_t)J->K * sizeof *q->logits);
        if (!q->probs || !q->logits) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        memcpy(q->probs, J->probs + i * (size_t)J->K, (size_t)J->K * sizeof *q->probs);
        memcpy(q->logits, J->logits + i * (size_t)J->K, (size_t)J->K * sizeof *q->logits);
        int arg = 0;
        for (int k = 1; k < J->K; k++)
            if (q->probs[k] > q->probs[arg]) arg = k;
        q->label = arg;
        q->class_name = ct_predictor_class_name(J->p, arg);
        q->confidence = q->probs[arg];
        q->low_confidence = q->confidence < J->o->threshold;
    }
    J->n_pending = 0;
    return CT_OK;
}

/* Queues one image in the model's form (isz floats in [0,1], C x H x W). */
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
    memcpy(J->pending + J->n_pending * J->isz, img, J->isz * sizeof(float));
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

/* Bilinear resize of one u8 plane (sw x sh) to floats in [0,1] (dw x dh), half-pixel centres
 * (align_corners = False), edges clamped. */
static void resize_plane(const uint8_t *src, int sw, int sh, float *dst, int dw, int dh)
{
    for (int y = 0; y < dh; y++) {
        float fy = ((float)y + 0.5f) * (float)sh / (float)dh - 0.5f;
        if (fy < 0) fy = 0;
        int y0 = (int)fy, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
        float ay = fy - (float)y0;
        for (int x = 0; x < dw; x++) {
            float fx = ((float)x + 0.5f) * (float)sw / (float)dw - 0.5f;
            if (fx < 0) fx = 0;
            int x0 = (int)fx, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
            float ax = fx - (float)x0;
            float top = (1 - ax) * src[(size_t)y0 * sw + x0] + ax * src[(size_t)y0 * sw + x1];
            float bot = (1 - ax) * src[(size_t)y1 * sw + x0] + ax * src[(size_t)y1 * sw + x1];
            dst[(size_t)y * dw + x] = ((1 - ay) * top + ay * bot) * (1.0f / 255.0f);
        }
    }
}

int ct_picture_to_input(const ct_image *im, int c, int h, int w, float *out)
{
    if (c != 1 && c != 3)
        return ct_fail(CT_ERR_INPUT, "the model takes %d-channel images; pictures give 1 (gray) or 3 (RGB) channels", c);
    if (c == 3 && !im->rgb) return ct_fail(CT_ERR_USAGE, "ct_picture_to_input: a 3-channel model needs the RGB samples");
    const size_t n = (size_t)im->width * im->height, hw = (size_t)h * w;
    uint8_t *plane = c == 3 ? malloc(n) : NULL;
    if (c == 3 && !plane) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (int k = 0; k < c; k++) {
        const uint8_t *src = im->pixels;
        if (c == 3) {
            for (size_t i = 0; i < n; i++) plane[i] = im->rgb[3 * i + (size_t)k];
            src = plane;
        }
        resize_plane(src, im->width, im->height, out + (size_t)k * hw, w, h);
    }
    free(plane);
    return CT_OK;
}

/* A picture for a model that is not 1 x 28 x 28 (see ct_picture_to_input). */
static int do_image(job *J, const char *path)
{
    ct_image im;
    int rc = ct_image_load_rgb(path, &im);
    if (rc != CT_OK) return input_failed(J, path, rc);
    float *img = malloc(J->isz * sizeof(float));
    if (!img) {
        ct_image_free(&im);
        return ct_fail(CT_ERR_NOMEM, "out of host memory");
    }
    rc = ct_picture_to_input(&im, J->c, J->h, J->w, img);
    if (rc == CT_OK && (im.width != J->w || im.height != J->h))
        ct_debug("%s: %dx%d resized to the model's %dx%d\n", path, im.width, im.height, J->w, J->h);
    ct_image_free(&im);
    if (rc == CT_OK) rc = push(J, path, 0, img);
    else if (rc != CT_ERR_NOMEM) rc = input_failed(J, path, ct_fail_ctx(rc, "%s", path));
    free(img);
    return rc;
}

static int do_picture(job *J, const char *path)
{
    if (!J->digits) return do_image(J, path);
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
    if (x.type != CT_IDX_U8 || x.rank != 3 || J->c != 1 || x.dims[1] != (uint32_t)J->h || x.dims[2] != (uint32_t)J->w) {
        char shape[64] = "";
        size_t at = 0;
        for (int k = 0; k < x.rank; k++)
            at += (size_t)snprintf(shape + at, sizeof shape - at, "%s%u", k ? " x " : "", x.dims[k]);
        if (J->digits)
            rc = ct_fail(CT_ERR_INPUT,
                         "%s: IDX file holds %s data of shape (%s); predict needs MNIST images: u8, N x 28 x 28 (magic "
                         "0x00000803)",
                         path, ct_idx_type_name(x.type), shape);
        else
            rc = ct_fail(CT_ERR_INPUT,
                         "%s: IDX file holds %s data of shape (%s); the model takes %d x %d x %d images: IDX input "
                         "needs u8, N x %d x %d and a 1-channel model (use pictures otherwise)",
                         path, ct_idx_type_name(x.type), shape, J->c, J->h, J->w, J->h, J->w);
        ct_idx_free(&x);
        return input_failed(J, path, rc);
    }
    if (x.dims[0] == 0) {
        ct_idx_free(&x);
        return input_failed(J, path, ct_fail(CT_ERR_INPUT, "%s: IDX file holds no images (N = 0)", path));
    }
    const uint8_t *px = x.data;
    float *img = malloc(J->isz * sizeof(float));
    if (!img) rc = ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < x.dims[0] && rc == CT_OK; i++) {
        for (size_t k = 0; k < J->isz; k++) img[k] = px[i * J->isz + k] * (1.0f / 255.0f);
        rc = push(J, path, (long)i, img);
    }
    free(img);
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
    int rc = ct_predictor_open_config(o->model_path, o->device, o->batch_size, o->config, &J.p);
    if (rc != CT_OK) return rc;
    ct_predictor_norm(J.p, &r->mean, &r->std, &r->norm_from_metadata);
    ct_predictor_shape(J.p, &J.c, &J.h, &J.w, &J.K);
    J.isz = (size_t)J.c * J.h * J.w;
    J.digits = J.c == 1 && J.h == 28 && J.w == 28;
    r->channels = J.c;
    r->classes = J.K;
    ct_predictor_norm_channels(J.p, r->mean_c, r->std_c);
    r->batch_size = o->batch_size;
    J.pending = malloc((size_t)o->batch_size * J.isz * sizeof(float));
    J.probs = malloc((size_t)o->batch_size * (size_t)J.K * sizeof(float));
    J.logits = malloc((size_t)o->batch_size * (size_t)J.K * sizeof(float));
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
    /* the class names outlive the predictor: the predictions point into r's copy */
    if (r->n_pred) {
        r->class_names = calloc((size_t)J.K, sizeof *r->class_names);
        for (int k = 0; r->class_names && k < J.K; k++) r->class_names[k] = strdup(ct_predictor_class_name(J.p, k));
        for (size_t i = 0; i < r->n_pred; i++)
            r->pred[i].class_name = r->class_names && r->pred[i].label >= 0 && r->class_names[r->pred[i].label]
                                        ? r->class_names[r->pred[i].label]
                                        : "";
    }
    ct_predictor_free(J.p);
    return rc;
}

void ct_predict_result_free(ct_predict_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_issues; i++) free(r->issues[i].message);
    free(r->issues);
    for (size_t i = 0; i < r->n_pred; i++) {
        free(r->pred[i].probs);
        free(r->pred[i].logits);
    }
    free(r->pred);
    if (r->class_names)
        for (int k = 0; k < r->classes; k++) free(r->class_names[k]);
    free(r->class_names);
    memset(r, 0, sizeof *r);
}
