/* verify_fused.c: the inference-only fused convolution (layer_conv_fused.c, cl/convfused.cl)
 * against the C reference run layer by layer: conv2d -> batchnorm2d (eval, running statistics)
 * -> ReLU -> 2x2 max pooling, each step optional, at DigitCNN's sizes and odd ones (widths that
 * leave a last tile moved back, odd heights dropped by the pooling, channels past 16*CB, the
 * one-column and one-pooled-column tiles), with NaN/Inf inputs. Run with the direct convolution
 * forced on (tune.conv_direct = 3, then 7 for the "same" 3x3 layers on their unpadded input), so
 * both kernel profiles check the kernels. */
#include <math.h>
#include <stdio.h>

#include "ref.h"
#include "verify_int.h"

typedef struct {
    int N, CI, H, W, CO, K, pad, bias, bn, relu, pool, nonfinite;
    int stride; /* 1 or 2 (FUSED2) */
} fused_case;

/* the reference: y = pool?(relu?(bn?(conv(x) + b))) in (N, C, H, W) */
static int ref_fused(vctx *v, const fused_case *k, const float *x, const float *params, const float *state, int b_off,
                     int g_off, float **out, int *OH, int *OW)
{
    const int S = k->stride > 1 ? k->stride : 1;
    const int oh = (k->H + 2 * k->pad - k->K) / S + 1, ow = (k->W + 2 * k->pad - k->K) / S + 1;
    const size_t n = (size_t)k->N * k->CO * oh * ow;
    float *y = vf_harr(v, n, 0, 0), *t = vf_harr(v, n, 0, 0);
    VF_HOST(y, t);
    ref_conv2d_fwd_s(x, params, k->bias ? params + b_off : NULL, y, k->N, k->CI, k->H, k->W, k->CO, k->K, k->K, S, S,
                     k->pad, k->pad);
    if (k->bn) {
        ref_bn_fwd_eval(y, params + g_off, params + g_off + 16 * ((k->CO + 15) / 16), state,
                        state + 16 * ((k->CO + 15) / 16), t, k->N, k->CO, oh * ow, 1e-5f);
        for (size_t i = 0; i < n; i++) y[i] = t[i];
    }
    if (k->relu) ref_relu_fwd(y, y, n);
    *OH = oh;
    *OW = ow;
    if (k->pool) {
        ref_maxpool2_fwd(y, t, k->N, k->CO, oh, ow);
        *OH = oh / 2;
        *OW = ow / 2;
        *out = t;
    } else {
        *out = y;
    }
    return CT_OK;
}

static int v_fused(vctx *v, fused_case k)
{
    ct_conv l;
    const int nw = k.CO * k.CI * k.K * k.K, a = 16 * ((k.CO + 15) / 16);
    const int b_off = (nw + 15) / 16 * 16, g_off = b_off + a; /* [w | b | gamma | beta] */
    const int S = k.stride > 1 ? k.stride : 1;
    ct_conv_init2(&l, k.CI, k.CO, k.K, k.K, S, S, k.pad, k.pad, k.H, k.W, 0, k.bias ? b_off : -1);
    ct_bn bn;
    ct_bn_init(&bn, k.CO, g_off, g_off + a, 0, a, 1e-5f, 0.1f);
    const size_t nx = (size_t)k.N * k.CI * k.H * k.W, np = (size_t)g_off + 2 * a;
    float *x = vf_harr(v, nx, -1, 1), *params = vf_harr(v, np, -0.5f, 0.5f), *state = vf_harr(v, 2 * (size_t)a, 0, 0);
    VF_HOST(x, params, state);
    for (int c = 0; c < a; c++) {
        state[c] = vf_rnd(v, -0.3f, 0.3f);        /* running mean */
        state[a + c] = vf_rnd(v, 0.2f, 2.0f);     /* running variance */
        params[g_off + c] = vf_rnd(v, -1.5f, 1.5f); /* gamma, negative ones too */
    }
    if (k.nonfinite)
        for (size_t i = 0; i < nx; i += 97) x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    float *want;
    int OH, OW;
    CT_TRY(ref_fused(v, &k, x, params, state, b_off, g_off, &want, &OH, &OW));
    const size_t ny = (size_t)k.N * k.CO * OH * OW;
    cl_mem dx, dp, ds, dws, dy;
    CT_TRY(vf_dbuf_cm(v, x, k.N, k.CI, k.H * k.W, &dx));
    CT_TRY(vf_dbuf(v, np, params, &dp));
    CT_TRY(vf_dbuf(v, 2 * (size_t)a, state, &ds));
    CT_TRY(vf_dbuf(v, ct_conv_col_floats(&l, k.N), NULL, &dws));
    CT_TRY(vf_dbuf(v, ny, NULL, &dy));
    char name[200];
    snprintf(name, sizeof name, "fused inference conv k%d s%d p%d %d->%d %dx%d N=%d%s%s%s%s%s", k.K, S, k.pad, k.CI, k.CO,
             k.H, k.W, k.N, k.bias ? "" : " nobias", k.bn ? " +bn" : "", k.relu ? " +relu" : "", k.pool ? " +maxpool2" : "",
             k.nonfinite ? " NaN/Inf" : "");
    if (!ct_conv_fused_applies(v->c, &l, k.N, k.pool)) /* every listed case takes the fused path */
        return ct_fail(CT_ERR_RUNTIME, "verify: %s: the fused path does not apply to the case", name);
    CT_TRY(ct_conv_fused_forward(v->c, &l, k.bn ? &bn : NULL, k.relu, k.pool, k.N, dx, dp, ds, dws, dy));
    float *got;
    CT_TRY(vf_readback(v, dy, ny, &got));
    /* folding the batchnorm rounds differently: the tolerance grows with the dot product's length */
    const float tol = 1e-4f * (1.0f + sqrtf((float)(k.CI * k.K * k.K) / 64.0f)) * (k.bn ? 4.0f : 1.0f);
    vf_check(v, name, vf_from_cm(v, got, k.N, k.CO, OH * OW), want, ny, tol, tol);
    return CT_OK;
}

int ct_verify_fused(vctx *v)
{
    ct_tune saved = v->c->tune;
    v->c->tune.conv_direct = 3;
    const int B = v->conv_batch > 0 ? v->conv_batch : 4;
    int rc = CT_OK;
#define FUSED(...)                                                       \
    do {                                                                 \
        if (rc == CT_OK) rc = v_fused(v, (fused_case){__VA_ARGS__, 1});   \
        vf_release(v);                                                   \
    } while (0)
#define FUSED2(...)                                                       \
    do {                                                                  \
        if (rc == CT_OK) rc = v_fused(v, (fused_case){__VA_ARGS__, 2});   \
        vf_release(v);                                                    \
    } while (0)
    /* DigitCNN's conv1..3 with their batchnorm, ReLU and pooling */
    FUSED(B, 1, 28, 28, 32, 5, 2, 1, 1, 1, 1, 0);
    FUSED(B, 32, 14, 14, 64, 5, 2, 1, 1, 1, 1, 0);
    FUSED(B < 4 ? 4 : B, 64, 7, 7, 128, 3, 1, 1, 1, 1, 0, 0); /* below 4 images its scratch exceeds the workspace */
    /* every step optional; odd widths and heights, channels not a multiple of 32 */
    FUSED(2, 3, 9, 11, 20, 3, 1, 1, 0, 0, 0, 0);
    FUSED(2, 3, 9, 11, 20, 3, 1, 0, 1, 0, 1, 0);
    FUSED(2, 5, 7, 13, 40, 5, 2, 1, 1, 1, 1, 0);
    FUSED(3, 4, 10, 10, 8, 3, 0, 1, 0, 1, 1, 0);
    FUSED(2, 3, 11, 11, 80, 3, 1, 1, 1, 1, 1, 0);  /* 64-channel blocks, the second one partial */
    FUSED(2, 6, 9, 9, 33, 3, 1, 1, 1, 1, 0, 0);
    FUSED(8, 6, 3, 3, 17, 3, 1, 1, 1, 1, 1, 0);   /* one pooled column: the 2-column tile */
    FUSED(8, 2, 4, 6, 10, 5, 1, 1, 1, 0, 0, 0);   /* fewer than 7 columns: the 1-column tile */
    FUSED(2, 3, 8, 8, 16, 5, 2, 1, 1, 1, 1, 1);   /* NaN/Inf inputs */
    FUSED(2, 3, 7, 9, 24, 3, 1, 1, 1, 1, 0, 1);
    /* up to 16 channels: the one-block tiles (VGG's first stage at its size, a last tile moved back) */
    FUSED(2, 16, 28, 28, 16, 3, 1, 1, 1, 1, 1, 0);
    FUSED(2, 1, 28, 28, 16, 3, 1, 1, 1, 1, 0, 0);
    FUSED(2, 3, 16, 17, 12, 3, 1, 1, 1, 0, 0, 0);
    FUSED(2, 4, 15, 15, 16, 5, 2, 0, 1, 1, 0, 1);
    FUSED(2, 5, 10, 13, 9, 5, 2, 1, 1, 1, 1, 0);
    /* stride 2 (layer_conv_strided.c, 3x3 only): resnet-small's downsampling convs at training
     * and evaluation sizes, odd shapes (partial channel blocks, a last tile moved back,
     * fewer than 7 output columns), NaN/Inf inputs */
    FUSED2(B, 16, 28, 28, 32, 3, 1, 0, 1, 1, 0, 0);
    FUSED2(B, 32, 14, 14, 64, 3, 1, 0, 1, 1, 0, 0);
    FUSED2(2, 5, 17, 15, 40, 3, 1, 1, 1, 1, 0, 0);
    FUSED2(2, 3, 13, 13, 24, 3, 1, 1, 1, 1, 0, 1);
    /* "same" 3x3 layers on their unpadded input (bit 2: conv_fused_k3s_*): ResNet-small's stages,
     * both tiles, a moved-back last tile, one output row, one input channel, NaN/Inf */
    v->c->tune.conv_direct = 7;
    FUSED(B, 16, 28, 28, 16, 3, 1, 0, 1, 1, 0, 0);
    FUSED(B, 32, 14, 14, 32, 3, 1, 0, 1, 1, 0, 0);
    FUSED(B < 4 ? 4 : B, 64, 7, 7, 64, 3, 1, 0, 1, 0, 0, 0);
    FUSED(2, 6, 9, 17, 12, 3, 1, 1, 1, 1, 0, 0);
    FUSED(8, 5, 1, 19, 40, 3, 1, 1, 0, 1, 0, 0);
    FUSED(2, 1, 28, 28, 16, 3, 1, 1, 1, 1, 0, 0);
    FUSED(2, 3, 7, 9, 24, 3, 1, 1, 1, 1, 0, 1);
#undef FUSED
#undef FUSED2
    v->c->tune = saved;
    return rc;
}
