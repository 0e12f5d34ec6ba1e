/* layer_conv.c: conv2d (stride 1, zero padding, bias) as im2col + GEMM on channel-major data.
 * forward:  col = im2col(x); y(CO, N*P) = W(CO, CI*K*K) col + b
 * backward: dW = dy col^T; db = rowsum(dy); dcol = W^T dy; dx = col2im(dcol)
 * col (and dcol) use the panel layout of cl/conv.cl: panels of the GEMM tile width on CPUs
 * (tune.conv_panels), the plain (KK, NP) matrix elsewhere. */
#include "ops.h"

#define CSEG 32 /* columns per im2col work-item, as cl/conv.cl */

void ct_conv_init(ct_conv *l, int ci, int co, int k, int pad, int h, int w, int w_off, int b_off)
{
    l->ci = ci;
    l->co = co;
    l->kh = l->kw = k;
    l->pad = pad;
    l->h = h;
    l->w = w;
    l->oh = h + 2 * pad - k + 1;
    l->ow = w + 2 * pad - k + 1;
    l->w_off = w_off;
    l->b_off = b_off;
}

size_t ct_conv_col_floats(const ct_conv *l, int N)
{
    return (size_t)l->ci * l->kh * l->kw * (size_t)N * l->oh * l->ow;
}

/* panel width of col: the NN GEMM's tile width when panels are on (a multiple of CSEG), else NP */
static int panel_width(const ct_ctx *c, int NP)
{
    const int pw = c->tune.gemm_vw * c->tune.gemm_nv;
    if (!c->tune.conv_panels || pw % CSEG != 0 || pw >= NP) return NP;
    return pw;
}

int ct_conv_forward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem params, cl_mem col, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", "conv_im2col", &k));
    const int KK = l->ci * l->kh * l->kw, NP = N * l->oh * l->ow, pw = panel_width(c, NP);
    const int panels = pw < NP, segs = (NP + CSEG - 1) / CSEG;
    size_t g[2] = {(size_t)(panels ? KK : segs), (size_t)(panels ? segs : KK)};
    CT_TRY(ct_run(c, k, 2, g, NULL, "mmiiiiiiiiiii", x, col, N, l->ci, l->h, l->w, l->kh, l->kw, l->pad, l->oh,
                  l->ow, pw, panels));
    return ct_gemm_nn_ex(c, l->co, NP, KK, params, l->w_off, KK, 1, col, 0, NP, y, 0, NP, params, l->b_off, 0, pw,
                         panels, 0);
}

int ct_conv_backward(ct_ctx *c, const ct_conv *l, int N, cl_mem dy, cl_mem params, cl_mem col, cl_mem grads,
                     cl_mem dx)
{
    const int KK = l->ci * l->kh * l->kw, NP = N * l->oh * l->ow, pw = panel_width(c, NP), panels = pw < NP;
    /* dW (CO, KK) = dy (CO, NP) col(KK, NP)^T */
    CT_TRY(ct_gemm_nt_ex(c, l->co, KK, NP, dy, 0, NP, col, 0, NP, grads, l->w_off, KK, 0, panels ? pw : 0));
    CT_TRY(ct_rowsum(c, l->co, NP, dy, grads, l->b_off));
    if (!dx) return CT_OK;
    /* dcol (KK, NP) = W^T dy: op(A) = W^T has (m, k) at W[k*KK + m] */
    CT_TRY(ct_gemm_nn_ex(c, KK, NP, l->co, params, l->w_off, 1, KK, dy, 0, NP, col, 0, NP, NULL, 0, 0, pw, 0, panels));
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", "conv_col2im", &k));
    size_t g[2] = {(size_t)N * l->h, (size_t)l->ci};
    return ct_run(c, k, 2, g, NULL, "mmiiiiiiiiii", col, dx, N, l->ci, l->h, l->w, l->kh, l->kw, l->pad, l->oh, l->ow,
                  pw);
}
