/* test_fused_eval.c: the inference forward's fused conv2d (+ batchnorm2d) (+ ReLU) (+ max
 * pooling) kernels (layer_conv_fused.c) in whole networks at their real input size: for the
 * default config's DigitCNN and every shipped network (the .yaml files of configs/networks),
 * an inference model with random weights and random batchnorm running statistics (negative
 * scales too) gives the same logits fused and layer by layer, a training model's eval forward
 * the same as the inference model's, and on the CPU profile the fused kernels run where the
 * network has the pattern. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "modelio.h"
#include "testutil.h"

enum { N = 12 };

static float rnd(unsigned *s, float lo, float hi)
{
    *s = *s * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(*s >> 8) / 16777216.0f;
}

/* random parameters and running statistics: variances in [0.3, 2], batchnorm scales in [-1.5, 1.5] */
static void randomize(ct_model *m, unsigned seed)
{
    for (int i = 0; i < m->n_t; i++) {
        const ct_tensor *t = &m->t[i];
        const ct_layer_type ty = m->net.layers[t->layer].type;
        const int bn = ty == CT_L_BATCHNORM2D || ty == CT_L_BATCHNORM1D;
        const char *dot = strrchr(t->name, '.');
        float lo = -0.3f, hi = 0.3f;
        if (bn && !strcmp(dot, ".running_var")) lo = 0.3f, hi = 2.0f;
        else if (bn && !strcmp(dot, ".weight")) lo = -1.5f, hi = 1.5f;
        float *v = malloc(t->count * sizeof(float));
        if (!v) return (void)TU_CHECK(0, "out of memory");
        for (size_t j = 0; j < t->count; j++) v[j] = rnd(&seed, lo, hi);
        TU_CHECK(ct_model_set_tensor(m, t->name, v) == CT_OK, "%s", ct_last_error());
        free(v);
    }
}

static int logits(ct_model *m, int unfused, float *out)
{
    m->unfused_eval = unfused;
    CT_TRY(ct_model_forward(m, N, 0, 0, 0));
    CT_TRY(ct_finish(m->ctx));
    return ct_buffer_read(m->ctx, m->logits, 0, (size_t)N * m->net.classes * 4, out);
}

/* how many launches of a conv_fused kernel the context recorded */
static unsigned fused_launches(ct_ctx *c)
{
    ct_prof_collect(c);
    unsigned n = 0;
    for (int i = 0; i < c->n_prof; i++)
        if (!strncmp(c->prof[i].name, "conv_fused", 10)) n += c->prof[i].calls;
    ct_prof_reset(c);
    return n;
}

static void check_net(ct_ctx *c, const char *cfg_path, unsigned want_fused)
{
    ct_config cfg;
    ct_config_defaults(&cfg);
    ct_netdef net;
    if (cfg_path && ct_config_load(&cfg, cfg_path) != CT_OK) return (void)TU_CHECK(0, "%s", ct_last_error());
    if (ct_modelio_config_netdef(&cfg, &net) != CT_OK) return (void)TU_CHECK(0, "%s", ct_last_error());
    const char *name = cfg_path ? cfg_path : "the default config";
    ct_model *inf = NULL, *tr = NULL;
    TU_CHECK(ct_model_create_ex(c, &net, N, 1, &inf) == CT_OK, "%s: %s", name, ct_last_error());
    TU_CHECK(ct_model_create(c, &net, N, &tr) == CT_OK, "%s: %s", name, ct_last_error());
    const size_t in = ct_model_input_floats(inf), K = (size_t)N * net.classes;
    float *x = malloc((size_t)N * in * sizeof(float)), *a = malloc(K * 4), *b = malloc(K * 4), *t = malloc(K * 4);
    if (inf && tr && x && a && b && t) {
        unsigned s = 99;
        for (size_t i = 0; i < (size_t)N * in; i++) x[i] = rnd(&s, -1.0f, 2.5f);
        randomize(inf, 5);
        randomize(tr, 5);
        TU_CHECK(ct_model_upload(inf, N, x, NULL) == CT_OK && ct_model_upload(tr, N, x, NULL) == CT_OK, "%s",
                 ct_last_error());
        ct_prof_reset(c);
        TU_CHECK(logits(inf, 1, b) == CT_OK, "%s: %s", name, ct_last_error());
        TU_CHECK(fused_launches(c) == 0, "%s: the unfused forward ran a fused kernel", name);
        TU_CHECK(logits(inf, 0, a) == CT_OK, "%s: %s", name, ct_last_error());
        const unsigned got = fused_launches(c);
        TU_CHECK(got == want_fused, "%s: %u fused convolutions ran, want %u", name, got, want_fused);
        TU_CHECK(logits(tr, 0, t) == CT_OK, "%s: %s", name, ct_last_error());
        char what[300];
        snprintf(what, sizeof what, "%s: fused vs layer-by-layer logits", name);
        tu_close(what, a, b, K, 1e-4f, 1e-3f);
        snprintf(what, sizeof what, "%s: training model's eval vs inference model's logits", name);
        tu_close(what, t, a, K, 1e-6f, 1e-6f);
    } else {
        TU_CHECK(0, "%s: could not set up the models", name);
    }
    free(x);
    free(a);
    free(b);
    free(t);
    ct_model_free(inf);
    ct_model_free(tr);
    ct_netdef_free(&net);
}

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(NULL, 1, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    /* the CPU profile fuses (conv_direct bit 1); the GPU profile runs every layer by itself */
    const int on = (c->tune.conv_direct & 2) != 0;
    printf("device %s, fused inference convolutions %s\n", c->dev.name, on ? "on" : "off (kernel profile)");
    static const struct {
        const char *path;
        unsigned fused; /* conv layers with a 3x3/5x5 stride-1 fused forward (DigitCNN's conv2, a pooled
                           5x5 on 14 columns, runs as the row-block conv + batchnorm/ReLU/pooling) */
    } nets[] = {
        {NULL, 2},
        {"../configs/networks/digitcnn.yaml", 2},
        {"../configs/networks/lenet5.yaml", 2},
        {"../configs/networks/vgg-small.yaml", 5},
        {"../configs/networks/resnet-small.yaml", 5},
        {"../configs/networks/mlp.yaml", 0},
    };
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) check_net(c, nets[i].path, on ? nets[i].fused : 0);
    ct_ctx_free(c);
    return tu_finish();
}
