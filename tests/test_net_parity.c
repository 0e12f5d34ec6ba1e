/* test_net_parity.c: every shipped network (the .yaml files of configs/networks), and the test
 * networks of tests/fixtures/nets (linear-nobias: Linear(bias=False)), through the graph
 * executor on the device against PyTorch, from tests/fixtures/net_<name>.safetensors written by
 * tools/make_net_fixtures.py: every layer's output of a training forward, the loss, every
 * parameter gradient, the running statistics after it, and parameters/buffers after 3 Adam and
 * 3 SGD steps with weight decay, then eval-mode logits. Inputs, initial values and dropout keep
 * masks come from the formula the generator documents (fill()); compared tensors are stored as
 * evenly spaced samples plus [sum, sum |x|] over the whole tensor. Prints the largest error of
 * each kind per network. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph_internal.h"
#include "safetensors.h"
#include "testutil.h"

static const char *const NETS[] = {"digitcnn", "lenet5", "mlp", "vgg-small", "resnet-small", "linear-nobias"};
#define N 8
#define STEPS 3

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* the generator's fill(name, n, lo, hi) */
static void fill(const char *name, float *x, size_t n, double lo, double hi)
{
    const uint32_t k = fnv1a(name) * 40503u;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)((uint32_t)i * 2654435761u + k + 12345u);
        x[i] = (float)(lo + (hi - lo) * ((double)v / 4294967296.0));
    }
}

typedef struct {
    const char *net;
    ct_st_file *fx;
    double err[5]; /* largest |got - want| / (atol scale): act, grad, stats, adam, sgd */
} fixture;

static const ct_st_tensor *need(fixture *f, const char *name)
{
    const ct_st_tensor *t = ct_st_find(f->fx, name);
    TU_CHECK(t && t->dtype == CT_ST_F32, "%s: fixture tensor '%s' missing or not F32", f->net, name);
    return t && t->dtype == CT_ST_F32 ? t : NULL;
}

/* compares the samples and sums of `name` with the n values in got */
static void compare(fixture *f, int kind, const char *name, const float *got, size_t n, float atol, float rtol)
{
    char sn[CT_TENSOR_NAME_MAX + 16];
    snprintf(sn, sizeof sn, "sum.%s", name);
    const ct_st_tensor *w = need(f, name), *s = need(f, sn);
    if (!w || !s) return;
    const float *want = w->data, *sums = s->data;
    const size_t S = (size_t)w->numel;
    float *pick = malloc((S ? S : 1) * sizeof(float));
    if (!pick) return;
    for (size_t j = 0; j < S; j++) pick[j] = got[S >= n ? j : j * n / S];
    /* errors are judged against the tensor's mean magnitude (gradients of BN layers cancel) */
    const float scale = n ? sums[1] / (float)n : 0;
    char label[CT_TENSOR_NAME_MAX + 64];
    snprintf(label, sizeof label, "%s: %s", f->net, name);
    tu_close(label, pick, want, S, atol * (1 + scale), rtol);
    double sum = 0, asum = 0;
    for (size_t i = 0; i < n; i++) sum += got[i], asum += fabs(got[i]);
    const double tol = 1e-3 * sums[1] + (double)atol * (double)n; /* n elements, each within atol */
    TU_CHECK(fabs(sum - sums[0]) <= tol && fabs(asum - sums[1]) <= tol,
             "%s: sums %g/%g, want %g/%g", label, sum, asum, sums[0], sums[1]);
    size_t at;
    double e = tu_max_abs_diff(pick, want, S, &at);
    if (e > f->err[kind]) f->err[kind] = e;
    free(pick);
}

/* the generator's initial values of every state_dict tensor */
static int load_init(ct_model *m)
{
    int rc = CT_OK;
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        float *x = malloc(t->count * sizeof(float));
        if (!x) return CT_ERR_NOMEM;
        const char *kind = strrchr(t->name, '.') + 1;
        const ct_layer_def *d = &m->net.layers[t->layer];
        if (d->type == CT_L_CONV2D || d->type == CT_L_LINEAR) {
            double fan = d->type == CT_L_LINEAR ? d->in.c : (double)d->in.c * d->kernel[0] * d->kernel[1];
            double b = 1.0 / sqrt(fan);
            fill(t->name, x, t->count, -b, b);
        } else {
            int lo_hi = !strcmp(kind, "weight") || !strcmp(kind, "running_var");
            fill(t->name, x, t->count, lo_hi ? 0.5 : -0.1, lo_hi ? 1.5 : 0.1);
        }
        rc = ct_model_set_tensor(m, t->name, x);
        free(x);
    }
    ct_model_set_nbt(m, 0);
    if (rc == CT_OK) rc = ct_model_zero_optimizer(m);
    return rc;
}

static int set_masks(ct_model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        const ct_layer_def *d = &m->net.layers[i];
        if (d->type != CT_L_DROPOUT && d->type != CT_L_DROPOUT2D) continue;
        k++;
        size_t cols = d->type == CT_L_DROPOUT2D ? (size_t)d->out.c : (size_t)d->out.c * d->out.h * d->out.w;
        float *keep = malloc(N * cols * sizeof(float));
        if (!keep) return CT_ERR_NOMEM;
        char nm[32];
        snprintf(nm, sizeof nm, "mask.%d", i);
        fill(nm, keep, N * cols, 0.0, 1.0);
        for (size_t j = 0; j < N * cols; j++) keep[j] = keep[j] >= (float)d->p ? 1.0f : 0.0f;
        int rc = ct_model_set_mask(m, k, N, keep);
        free(keep);
        CT_TRY(rc);
    }
    return CT_OK;
}

static int upload(ct_model *m)
{
    const size_t n = (size_t)N * m->net.in_c * m->net.in_h * m->net.in_w;
    float *x = malloc(n * sizeof(float));
    if (!x) return CT_ERR_NOMEM;
    fill("input", x, n, -1.5, 1.5);
    int32_t t[N];
    for (int i = 0; i < N; i++) t[i] = i * 3 % m->net.classes;
    int rc = ct_model_upload(m, N, x, t);
    free(x);
    return rc;
}

/* every layer's output (a producer with a fused ReLU holds the ReLU's output: compared there) */
static void forward_backward(fixture *f, ct_model *m, float *buf)
{
    TU_CHECK(ct_model_forward(m, N, 1, 0, 0) == CT_OK, "%s", ct_last_error());
    for (int i = 0; i < m->n_nodes; i++) {
        char nm[32], an[32];
        snprintf(nm, sizeof nm, "#%d", i);
        if (m->nodes[i].fuse_relu || !ct_model_output_kept(m, nm)) continue;
        snprintf(an, sizeof an, "act.%d", i);
        size_t n = 0;
        TU_CHECK(ct_model_read_activation(m, nm, N, 0, buf, &n) == CT_OK, "%s", ct_last_error());
        compare(f, 0, an, buf, n, 1e-4f, 1e-3f);
    }
    TU_CHECK(ct_model_loss(m, N, 1) == CT_OK, "%s", ct_last_error());
    float loss = NAN;
    TU_CHECK(ct_buffer_read(m->ctx, m->batch_loss, 0, 4, &loss) == CT_OK, "%s", ct_last_error());
    const ct_st_tensor *wl = need(f, "loss");
    if (wl) tu_close("loss", &loss, wl->data, 1, 1e-5f, 1e-4f);
    TU_CHECK(ct_model_backward(m, N) == CT_OK, "%s", ct_last_error());
    for (int i = 0; i < m->n_t; i++) {
        const ct_tensor *t = &m->t[i];
        char nm[CT_TENSOR_NAME_MAX + 8];
        if (t->pool == CT_POOL_PARAMS) {
            snprintf(nm, sizeof nm, "grad.%s", t->name);
            TU_CHECK(ct_model_get_grad(m, t->name, buf) == CT_OK, "%s", ct_last_error());
            compare(f, 1, nm, buf, t->count, 1e-5f, 2e-3f);
        } else {
            snprintf(nm, sizeof nm, "fwd.%s", t->name);
            TU_CHECK(ct_model_get_tensor(m, t->name, buf) == CT_OK, "%s", ct_last_error());
            compare(f, 2, nm, buf, t->count, 1e-6f, 1e-4f);
        }
    }
}

static void optimizer_steps(fixture *f, ct_model *m, int adam, float *buf)
{
    const char *tag = adam ? "adam" : "sgd";
    const ct_optim o = adam ? (ct_optim){1, 0.001f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.01f}
                            : (ct_optim){0, 0.05f, 0.9f, 0.999f, 1e-8f, 0.9f, 0.01f};
    TU_CHECK(load_init(m) == CT_OK, "%s", ct_last_error());
    float losses[STEPS];
    for (int s = 0; s < STEPS; s++) {
        TU_CHECK(ct_model_train_step(m, N, &o, 0, (unsigned)s) == CT_OK, "%s", ct_last_error());
        TU_CHECK(ct_buffer_read(m->ctx, m->batch_loss, 0, 4, &losses[s]) == CT_OK, "%s", ct_last_error());
    }
    char nm[CT_TENSOR_NAME_MAX + 16];
    snprintf(nm, sizeof nm, "%s.loss", tag);
    const ct_st_tensor *wl = need(f, nm);
    if (wl) tu_close(nm, losses, wl->data, STEPS, 1e-5f, 1e-4f);
    for (int i = 0; i < m->n_t; i++) {
        snprintf(nm, sizeof nm, "%s.%s", tag, m->t[i].name);
        TU_CHECK(ct_model_get_tensor(m, m->t[i].name, buf) == CT_OK, "%s", ct_last_error());
        compare(f, adam ? 3 : 4, nm, buf, m->t[i].count, 1e-5f, 1e-3f);
    }
    TU_CHECK(ct_model_forward(m, N, 0, 0, 0) == CT_OK, "%s", ct_last_error());
    const size_t K = (size_t)N * m->net.classes;
    TU_CHECK(ct_buffer_read(m->ctx, m->logits, 0, K * 4, buf) == CT_OK, "%s", ct_last_error());
    snprintf(nm, sizeof nm, "%s.eval_logits", tag);
    const ct_st_tensor *we = need(f, nm);
    if (we && we->numel == K) tu_close(nm, buf, we->data, K, 1e-4f, 1e-3f);
    else TU_CHECK(0, "%s: %s has the wrong size", f->net, nm);
}

static void run(ct_ctx *c, const char *net)
{
    fixture f = {.net = net};
    char path[256];
    snprintf(path, sizeof path, "fixtures/net_%s.safetensors", net);
    if (ct_st_load(path, &f.fx) != CT_OK) {
        TU_CHECK(0, "cannot load %s: %s", path, ct_last_error());
        return;
    }
    const char *js = ct_st_metadata_get(f.fx, "network");
    ct_netdef d = {0};
    ct_model *m = NULL;
    int ok = js && ct_netdef_from_json(js, strlen(js), path, &d) == CT_OK;
    TU_CHECK(ok, "%s: no usable network metadata: %s", path, ct_last_error());
    if (ok) {
        ok = ct_model_create(c, &d, N, &m) == CT_OK;
        TU_CHECK(ok, "%s: %s", path, ct_last_error());
    }
    float *buf = malloc(4u << 20);
    /* every layer by itself (all activations kept), then as the model plans it (batchnorm + ReLU
     * + max pooling in one kernel where the profile fuses them: the layers it keeps) */
    for (int fused = 0; ok && buf && fused < 2; fused++) {
        m->unfused_pool = !fused;
        memset(f.err, 0, sizeof f.err);
        TU_CHECK(load_init(m) == CT_OK && upload(m) == CT_OK && set_masks(m) == CT_OK, "%s", ct_last_error());
        forward_backward(&f, m, buf);
        optimizer_steps(&f, m, 1, buf);
        optimizer_steps(&f, m, 0, buf);
        printf("%-13s %-8s max |err|: activations %.2e, gradients %.2e, running stats %.2e, Adam x3 %.2e, SGD x3 "
               "%.2e\n",
               net, fused ? "planned" : "layers", f.err[0], f.err[1], f.err[2], f.err[3], f.err[4]);
    }
    free(buf);
    ct_model_free(m);
    ct_netdef_free(&d);
    ct_st_free(f.fx);
}

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(NULL, 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++) run(c, NETS[i]);
    ct_ctx_free(c);
    return tu_finish();
}
