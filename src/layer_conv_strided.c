/* layer_conv_strided.c: stride-2 convolutions without im2col/col2im (cl/convstrided.cl) where the
 * direct convolution is on (tune.conv_direct, the CPU profile), square kernels with equal padding
 * (ResNet's downsampling convs and 1x1 projection shortcuts): bit 1, 3x3 only: the forward
 * (conv_pad2 + conv_dirs2 on the padded input, kept in col) and the weight gradient (conv_dyt +
 * conv_dws2); bit 0, 1x1 and 3x3: the input gradient by the polyphase kernel conv_dxs2 on the
 * padded dy. The inference forward with a folded batchnorm and ReLU (layer_conv_fused.c's
 * contract, no pooling) runs the same forward kernel. Not for GPUs, other strides or kernel
 * sizes: layer_conv.c's im2col/GEMM path takes those. */
#include <stdio.h>

#include "ops.h"

static size_t al16(size_t n) { return (n + 15) / 16 * 16; }
static int fdiv2(int a) { return a >= 0 ? a / 2 : -((1 - a) / 2); } /* floor(a / 2) */

/* the shapes these kernels take: stride 2, square 1x1 (even padding) or 3x3 (odd padding); the
 * forward and dW only 3x3 (a 1x1 forward here stores as much as it multiplies: the im2col/GEMM
 * path, whose im2col is a plain subsampling copy, measured as fast or faster) */
static int shape_ok(const ct_conv *l)
{
    return l->sh == 2 && l->sw == 2 && l->kh == l->kw && l->ph == l->pw && (l->kh == 1 || l->kh == 3) &&
           l->ph % 2 == (l->kh == 3) && l->ph < l->kh + 1 && l->oh >= 1 && l->ow >= 1;
}
static int fwd_shape_ok(const ct_conv *l) { return shape_ok(l) && l->kh == 3; }

/* input-gradient tile: CB blocks of 16 input channels, TC columns */
static void dx_tile(const ct_conv *l, int *tc, int *cb)
{
    *cb = l->ci > 16 ? 2 : 1;
    *tc = *cb == 2 ? 8 : 14;
}

/* the padded dy conv_dxs2 reads: dy at rows qt.., columns ql.. of (hpd, wpd) planes */
typedef struct {
    int qt, ql, hpd, wpd, pad; /* pad 0: dy is read as it is */
} dy_pad;

static dy_pad dx_pad(const ct_conv *l)
{
    int tc, cb;
    dx_tile(l, &tc, &cb);
    const int K = l->kh, P = l->ph, PS = P % 2, wc = (l->w + tc - 1) / tc * tc;
    const int owmin = (P - PS) / 2 + fdiv2(PS - (K - 1)), owmax = (wc - tc + P - PS) / 2 + fdiv2(tc - 1 + PS);
    const int ohmin = fdiv2(P - (K - 1)), ohmax = fdiv2(l->h - 1 + P);
    dy_pad d;
    d.qt = ohmin < 0 ? -ohmin : 0;
    d.ql = owmin < 0 ? -owmin : 0;
    d.hpd = d.qt + (l->oh > ohmax + 1 ? l->oh : ohmax + 1);
    d.wpd = d.ql + (l->ow > owmax + 1 ? l->ow : owmax + 1);
    d.pad = d.qt || d.ql || d.hpd != l->oh || d.wpd != l->ow;
    return d;
}

/* scratch sizes per role: padded input, forward weights, dy transposed, padded dy, dx weights */
static size_t xp_floats(const ct_conv *l, int N) { return al16((size_t)l->ci * N * (l->h + 2 * l->ph) * (l->w + 2 * l->pw)); }
static size_t wt_floats(const ct_conv *l) { return (size_t)l->ci * l->kh * l->kw * al16((size_t)l->co); }
static size_t dyt_floats(const ct_conv *l, int N) { return (size_t)N * l->oh * l->ow * al16((size_t)l->co); }
static size_t dyp_floats(const ct_conv *l, int N)
{
    const dy_pad d = dx_pad(l);
    return d.pad ? al16((size_t)l->co * N * d.hpd * d.wpd) : 0;
}
static size_t wtx_floats(const ct_conv *l) { return (size_t)l->co * l->kh * l->kw * al16((size_t)l->ci); }

static size_t fwd_need(const ct_conv *l, int N)
{
    const size_t w = wt_floats(l), d = dyt_floats(l, N);
    return xp_floats(l, N) + (w > d ? w : d);
}
static size_t dx_need(const ct_conv *l, int N) { return dyp_floats(l, N) + wtx_floats(l); }
static size_t fused_need(const ct_conv *l, int N) { return xp_floats(l, N) + wt_floats(l) + al16((size_t)l->co); }

size_t ct_convs_ws_floats(const ct_conv *l, int N)
{
    if (!shape_ok(l)) return 0;
    /* linear in N (graph.c sizes workspaces per image): each role's per-image share plus its
     * constant part and alignment, times N */
    const int fw = fwd_shape_ok(l);
    const size_t a = fw ? fwd_need(l, 1) + 16 : 0, b = dx_need(l, 1) + 16, f = fw ? fused_need(l, 1) + 16 : 0;
    const size_t m = a > b ? a : b;
    return (m > f ? m : f) * (size_t)N;
}

static int fits(size_t need, const ct_conv *l, int N)
{
    return need <= ct_conv_col_floats(l, N) && need < (size_t)1 << 31;
}

int ct_convs_fwd_applies(const ct_ctx *c, const ct_conv *l, int N)
{
    return (c->tune.conv_direct & 2) && fwd_shape_ok(l) && fits(fwd_need(l, N), l, N);
}

int ct_convs_dx_applies(const ct_ctx *c, const ct_conv *l, int N)
{
    return (c->tune.conv_direct & 1) && shape_ok(l) && fits(dx_need(l, N), l, N);
}

int ct_convs_fused_applies(const ct_ctx *c, const ct_conv *l, int N, int pool)
{
    return (c->tune.conv_direct & 2) && !pool && fwd_shape_ok(l) && fits(fused_need(l, N), l, N);
}

/* y = relu?(conv(xp, wt) + bias?) with xp (CI, N, HP, WP) at offXp */
static int dirs(ct_ctx *c, const ct_conv *l, int N, cl_mem xp, int offXp, int HP, int WP, cl_mem wt, int offWt,
                cl_mem bias, int offBias, int hasBias, int relu, cl_mem y)
{
    const int tc = l->ow >= 7 ? 7 : 1, cb = 2;
    cl_kernel k;
    char name[32];
    snprintf(name, sizeof name, "conv_dirs2_k%d_%dx%d", l->kh, tc, cb);
    CT_TRY(ct_kernel(c, "convstrided", name, &k));
    /* image rows along dimension 0: consecutive work-items share a channel block's weights */
    size_t g[3] = {(size_t)N * l->oh, (size_t)(l->co + 16 * cb - 1) / (16 * cb), (size_t)(l->ow + tc - 1) / tc};
    const size_t l1[3] = {1, 1, 1};
    return ct_run(c, k, 3, g, l1, "mimimiimiiiiii", xp, offXp, wt, offWt, bias, offBias, hasBias, y, N, l->ci, l->co,
                  HP, WP, relu);
}

/* dst (offDst) = src (CN, H, W) at rows pt.., columns pl.. of (HP, WP) planes, zeros around */
static int pad2(ct_ctx *c, cl_mem src, cl_mem dst, int offDst, int CN, int H, int W, int pt, int pl, int HP, int WP)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "convstrided", "conv_pad2", &k));
    size_t g = (size_t)CN; /* one work-item per plane */
    return ct_run(c, k, 1, &g, NULL, "mmiiiiiiii", src, dst, offDst, CN, H, W, pt, pl, HP, WP);
}

int ct_convs_forward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem params, cl_mem col, cl_mem y)
{
    const size_t xps = xp_floats(l, N);
    const int HP = l->h + 2 * l->ph, WP = l->w + 2 * l->pw, hasBias = l->b_off >= 0;
    CT_TRY(pad2(c, x, col, 0, l->ci * N, l->h, l->w, l->ph, l->pw, HP, WP));
    CT_TRY(ct_conv_wt(c, l, params, col, (int)xps, 0));
    return dirs(c, l, N, col, 0, HP, WP, col, (int)xps, params, hasBias ? l->b_off : 0, hasBias, 0, y);
}

/* dW from the padded input the forward left in col and dy transposed to (NP, COP) after it */
int ct_convs_dw(ct_ctx *c, const ct_conv *l, int N, cl_mem dy, cl_mem col, cl_mem grads)
{
    const size_t xps = xp_floats(l, N);
    const int NP = N * l->oh * l->ow, cb = l->co > 32 ? 4 : 2;
    cl_kernel k;
    CT_TRY(ct_conv_dyt(c, dy, col, (int)xps, l->co, NP));
    CT_TRY(ct_kernel(c, "convstrided", cb == 4 ? "conv_dws2_k3x4" : "conv_dws2_k3x2", &k));
    return ct_conv_dw_launch(c, l, N, k, cb, col, col, xps, 0, grads);
}

/* dx by the polyphase kernel: padded dy (where needed) and the flipped weights go into col; acc:
 * dx += the result */
int ct_convs_dx(ct_ctx *c, const ct_conv *l, int N, cl_mem dy, cl_mem params, cl_mem col, cl_mem dx, int acc)
{
    const dy_pad d = dx_pad(l);
    const size_t dyps = dyp_floats(l, N);
    if (d.pad) CT_TRY(pad2(c, dy, col, 0, l->co * N, l->oh, l->ow, d.qt, d.ql, d.hpd, d.wpd));
    CT_TRY(ct_conv_wt(c, l, params, col, (int)dyps, 1));
    int tc, cb;
    dx_tile(l, &tc, &cb);
    static const char *names[2][2] = {{"conv_dxs2_k1_p0_14x1", "conv_dxs2_k1_p0_8x2"},
                                      {"conv_dxs2_k3_p1_14x1", "conv_dxs2_k3_p1_8x2"}};
    cl_kernel k;
    CT_TRY(ct_kernel(c, "convstrided", names[l->kh == 3][cb == 2], &k));
    size_t g[3] = {(size_t)N * l->h, (size_t)(l->ci + 16 * cb - 1) / (16 * cb), (size_t)(l->w + tc - 1) / tc};
    const size_t l1[3] = {1, 1, 1};
    return ct_run(c, k, 3, g, l1, "mimimiiiiiiiiiii", d.pad ? col : dy, 0, col, (int)dyps, dx, N, l->ci, l->co, l->h,
                  l->w, l->ph, d.qt, d.ql, d.hpd, d.wpd, acc);
}

/* inference: the weights and bias folded as layer_conv_fused.c does (conv_fold), then the same
 * forward kernel with the folded bias and ReLU; padding 0 reads x itself */
int ct_convs_fused_forward(ct_ctx *c, const ct_conv *l, const ct_bn *bn, int relu, int N, cl_mem x, cl_mem params,
                           cl_mem state, cl_mem ws, cl_mem y)
{
    const int padded = l->ph > 0, HP = l->h + 2 * l->ph, WP = l->w + 2 * l->pw, K = l->kh;
    const size_t xps = padded ? xp_floats(l, N) : 0, wts = wt_floats(l);
    if (padded) CT_TRY(pad2(c, x, ws, 0, l->ci * N, l->h, l->w, l->ph, l->pw, HP, WP));
    cl_kernel k;
    CT_TRY(ct_kernel(c, "convfused", "conv_fold", &k));
    size_t g = (size_t)l->ci * K * K + 1;
    const float eps = bn && bn->eps > 0.0f ? bn->eps : 1e-5f;
    CT_TRY(ct_run(c, k, 1, &g, NULL, "miiiiiimiifmiiii", params, l->w_off, l->b_off >= 0 ? l->b_off : 0, l->b_off >= 0,
                  bn != NULL, bn ? bn->g_off : 0, bn ? bn->b_off : 0, state, bn ? bn->rm_off : 0, bn ? bn->rv_off : 0,
                  eps, ws, (int)xps, l->ci, l->co, K * K));
    return dirs(c, l, N, padded ? ws : x, 0, HP, WP, ws, (int)xps, ws, (int)(xps + wts), 1, relu, y);
}
