/* layer_conv_fused.c: the inference forward of conv2d (+ batchnorm2d) (+ ReLU) (+ 2x2 max
 * pooling) as one convolution (cl/convfused.cl): the batchnorm folded into the weights and bias
 * with the current running statistics (conv_fold, run on every call), bias, ReLU and pooling in
 * the convolution's epilogue. Where the direct convolution is on (tune.conv_direct bit 1, the
 * CPU profile), for square 3x3/5x5 kernels at stride 1 with padding < K whose padded input and
 * folded weights fit in the layer's im2col workspace; ct_conv_fused_applies says. */
#include <stdio.h>

#include "ops.h"

static size_t align16(size_t n) { return (n + 15) / 16 * 16; }

/* the tile: TC conv columns (pooled: TC/2 pooled columns of 2 conv rows) x CB 16-channel blocks.
 * Measured on POCL 3.1, AMD EPYC, batch 250, CPU time: pooled, 2 conv rows x 2 columns x 64
 * channels where there are more than 48 channels (DigitCNN's conv2: 176 GFLOP/s against 154 for
 * 2x4x32 and 136 for the unfused conv_direct_1x7x2), else 2 x 4 x 32 (2 x 2 x 32 when one pooled
 * column); plain, 1 row x 7 columns x 32 channels (conv3: 163 against 149 for 1x7x64), 1 column
 * below 7. Up to 16 channels, one 16-channel block (2 x 4 pooled, 1 x 14 plain): the 32-channel
 * tiles compute a second, discarded block (VGG's 16->16 28x28 pooled: 13.3 -> 8.7 ms; 1->16 28x28
 * plain: 5.3 -> 2.2) */
static void fused_tile(const ct_conv *l, int pool, int *tc, int *cb)
{
    const int one = l->co <= 16 && (pool ? l->ow / 2 >= 2 : l->ow >= 14);
    *cb = one ? 1 : pool && l->co > 48 ? 4 : 2;
    *tc = one ? (pool ? 4 : 14) : pool ? (*cb == 4 || l->ow / 2 < 2 ? 2 : 4) : (l->ow >= 7 ? 7 : 1);
}

/* a "same" 3x3 conv without pooling on a tile of 7 or 14 columns reads its input unpadded
 * (tune.conv_direct bit 2: conv_fused_k3s_*), no conv_pad copy */
static int fused_same(const ct_ctx *c, const ct_conv *l, int pool)
{
    int tc, cb;
    fused_tile(l, pool, &tc, &cb);
    return (c->tune.conv_direct & 4) && !pool && l->kh == 3 && l->pad == 1 && tc > 1;
}

/* the workspace layout: padded input (xps floats; none where fused_same), folded weights
 * (CI*K*K*COP), biases (COP) */
static void ws_layout(const ct_ctx *c, const ct_conv *l, int N, int pool, size_t *xps, size_t *wts, size_t *cop)
{
    *cop = align16((size_t)l->co);
    *xps = fused_same(c, l, pool) ? 0 : align16((size_t)l->ci * N * (l->h + 2 * l->pad) * (l->w + 2 * l->pad));
    *wts = (size_t)l->ci * l->kh * l->kw * *cop;
}

int ct_conv_fused_applies(const ct_ctx *c, const ct_conv *l, int N, int pool)
{
    if (ct_convs_fused_applies(c, l, N, pool)) return 1;
    if (!(c->tune.conv_direct & 2) || l->sh != 1 || l->sw != 1 || l->ph != l->pw || l->kh != l->kw ||
        (l->kh != 3 && l->kh != 5) || l->pad > l->kh - 1)
        return 0;
    if (l->oh != l->h + 2 * l->pad - l->kh + 1 || l->ow != l->w + 2 * l->pad - l->kw + 1) return 0;
    if (pool && (l->oh < 2 || l->ow < 2)) return 0;
    size_t xps, wts, cop;
    ws_layout(c, l, N, pool, &xps, &wts, &cop);
    return xps + wts + cop <= ct_conv_col_floats(l, N) && xps + wts + cop < (size_t)1 << 31;
}

/* y = pool?(relu?(bn?(conv(x)))) with ws (the layer's im2col workspace) as scratch; bn may be NULL */
int ct_conv_fused_forward(ct_ctx *c, const ct_conv *l, const ct_bn *bn, int relu, int pool, int N, cl_mem x,
                          cl_mem params, cl_mem state, cl_mem ws, cl_mem y)
{
    if (ct_convs_fused_applies(c, l, N, pool))
        return ct_convs_fused_forward(c, l, bn, relu, N, x, params, state, ws, y);
    if (!ct_conv_fused_applies(c, l, N, pool))
        return ct_fail(CT_ERR_RUNTIME, "the fused inference convolution does not apply to this layer's shape");
    size_t xps, wts, cop;
    ws_layout(c, l, N, pool, &xps, &wts, &cop);
    const int K = l->kh, HP = l->h + 2 * l->pad, WP = l->w + 2 * l->pad, same = xps == 0;
    cl_kernel k;
    if (!same) {
        CT_TRY(ct_kernel(c, "conv", "conv_pad", &k));
        size_t g = (size_t)l->ci * N; /* one work-item per plane */
        CT_TRY(ct_run(c, k, 1, &g, NULL, "mmiiiii", x, ws, 0, l->ci * N, l->h, l->w, l->pad));
    }
    CT_TRY(ct_kernel(c, "convfused", "conv_fold", &k));
    size_t g = (size_t)l->ci * K * K + 1;
    const float eps = bn && bn->eps > 0.0f ? bn->eps : 1e-5f;
    CT_TRY(ct_run(c, k, 1, &g, NULL, "miiiiiimiifmiiii", params, l->w_off, l->b_off >= 0 ? l->b_off : 0, l->b_off >= 0,
                  bn != NULL, bn ? bn->g_off : 0, bn ? bn->b_off : 0, state, bn ? bn->rm_off : 0, bn ? bn->rv_off : 0,
                  eps, ws, (int)xps, l->ci, l->co, K * K));
    int tc, cb;
    fused_tile(l, pool, &tc, &cb);
    char name[48];
    snprintf(name, sizeof name, "conv_fused_%sk%d%s_%dx%d", pool ? "pool_" : "", K, same ? "s" : "", tc, cb);
    CT_TRY(ct_kernel(c, "convfused", name, &k));
    const size_t rows = (size_t)N * (pool ? l->oh / 2 : l->oh);
    /* image rows along dimension 0: consecutive work-items share a channel block's weights (DigitCNN
     * eval at batch 250, in-process alternating: 46.75/43.31 -> 43.95/40.67 ms) */
    size_t g2[2] = {rows, (size_t)(l->co + 16 * cb - 1) / (16 * cb)};
    const size_t l1[2] = {1, 1};
    return ct_run(c, k, 2, g2, l1, "mimiimiiiiii", same ? x : ws, 0, ws, (int)xps, (int)(xps + wts), y, N, l->ci, l->co,
                  HP, WP, relu);
}
