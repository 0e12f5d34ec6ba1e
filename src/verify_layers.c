/* verify_layers.c: the general layer ops of ops.h (activations, add/accumulate, flatten,
 * pooling with any window, strided/rectangular conv on every path, BatchNorm1d) against the
 * plain-C reference, at odd sizes and at the sizes real networks use, and with NaN/Inf in the
 * inputs (every kernel must propagate them as the reference / PyTorch does). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "verify_int.h"

/* puts NaN, +Inf and -Inf at a few spread positions of x (n > 0) */
static void poison(float *x, size_t n)
{
    const float vals[3] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < 6; k++) x[(k * 7919 + 3) % n] = vals[k % 3];
}

static const char *const act_names[] = {"relu", "leaky_relu", "tanh", "sigmoid"};

static void ref_act(ct_act_kind k, float slope, const float *x, float *y, size_t n)
{
    switch (k) {
    case CT_ACT_RELU: ref_relu_fwd(x, y, n); break;
    case CT_ACT_LEAKY_RELU: ref_leaky_relu_fwd(x, y, n, slope); break;
    case CT_ACT_TANH: ref_tanh_fwd(x, y, n); break;
    default: ref_sigmoid_fwd(x, y, n); break;
    }
}

static void ref_act_bwd(ct_act_kind k, float slope, const float *x, const float *y, const float *dy, float *dx,
                        size_t n)
{
    switch (k) {
    case CT_ACT_RELU: ref_relu_bwd(y, dy, dx, n); break;
    case CT_ACT_LEAKY_RELU: ref_leaky_relu_bwd(x, dy, dx, n, slope); break;
    case CT_ACT_TANH: ref_tanh_bwd(y, dy, dx, n); break;
    default: ref_sigmoid_bwd(y, dy, dx, n); break;
    }
}

static int v_act(vctx *v, ct_act_kind k, size_t n, int nonfinite)
{
    const float slope = 0.01f;
    float *x = vf_harr(v, n, -4, 4), *dy = vf_harr(v, n, -1, 1), *y = vf_harr(v, n, 0, 0), *dx = vf_harr(v, n, 0, 0);
    VF_HOST(x, dy, y, dx);
    if (nonfinite) {
        poison(x, n);
        x[n / 2] = -0.0f;
        x[n / 3] = 0.0f;
    }
    ref_act(k, slope, x, y, n);
    ref_act_bwd(k, slope, x, y, dy, dx, n);
    cl_mem dxm, dym, ddy, ddx;
    CT_TRY(vf_dbuf(v, n, x, &dxm));
    CT_TRY(vf_dbuf(v, n, NULL, &dym));
    CT_TRY(vf_dbuf(v, n, dy, &ddy));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    float *got;
    char name[80];
    const float tol = k == CT_ACT_RELU || k == CT_ACT_LEAKY_RELU ? 0.0f : 1e-6f;
    CT_TRY(ct_act_forward(v->c, k, slope, n, dxm, dym));
    CT_TRY(vf_readback(v, dym, n, &got));
    snprintf(name, sizeof name, "%s fwd n=%zu%s", act_names[k], n, nonfinite ? " (NaN/Inf)" : "");
    vf_check(v, name, got, y, n, tol, 4 * tol);
    if (nonfinite && k == CT_ACT_RELU) { /* -0.0 stays -0.0 */
        float neg = signbit(got[n / 2]) ? -1.0f : 1.0f, want = -1.0f;
        vf_check(v, "relu(-0.0) keeps the sign", &neg, &want, 1, 0, 0);
    }
    CT_TRY(ct_act_backward(v->c, k, slope, n, dxm, dym, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "%s bwd n=%zu%s", act_names[k], n, nonfinite ? " (NaN/Inf)" : "");
    vf_check(v, name, got, dx, n, tol, 4 * tol);
    return CT_OK;
}

static int v_add(vctx *v, size_t n, int nonfinite)
{
    float *a = vf_harr(v, n, -1, 1), *b = vf_harr(v, n, -1, 1), *y = vf_harr(v, n, 0, 0), *y2 = vf_harr(v, n, 0, 0);
    VF_HOST(a, b, y, y2);
    if (nonfinite) poison(a, n);
    ref_add(a, b, y, n);
    memcpy(y2, y, n * 4);
    ref_accumulate(b, y2, n);
    cl_mem da, db, dy;
    CT_TRY(vf_dbuf(v, n, a, &da));
    CT_TRY(vf_dbuf(v, n, b, &db));
    CT_TRY(vf_dbuf(v, n, NULL, &dy));
    float *got;
    char name[80];
    CT_TRY(ct_add_forward(v->c, n, da, db, dy));
    CT_TRY(vf_readback(v, dy, n, &got));
    snprintf(name, sizeof name, "add n=%zu%s", n, nonfinite ? " (NaN/Inf)" : "");
    vf_check(v, name, got, y, n, 0, 0);
    CT_TRY(ct_accumulate(v->c, n, db, dy));
    CT_TRY(vf_readback(v, dy, n, &got));
    snprintf(name, sizeof name, "accumulate n=%zu%s", n, nonfinite ? " (NaN/Inf)" : "");
    vf_check(v, name, got, y2, n, 0, 0);
    /* y aliasing a: a += b in place */
    CT_TRY(ct_add_forward(v->c, n, da, db, da));
    CT_TRY(vf_readback(v, da, n, &got));
    vf_check(v, "add in place (y = a)", got, y, n, 0, 0);
    return CT_OK;
}

/* flatten of channel-major (C, N, HW) is the NCHW tensor itself */
static int v_flatten(vctx *v, int N, int C, int HW)
{
    const size_t n = (size_t)N * C * HW;
    float *x = vf_harr(v, n, -1, 1);
    VF_HOST(x);
    cl_mem dx, dy, dback;
    CT_TRY(vf_dbuf_cm(v, x, N, C, HW, &dx));
    CT_TRY(vf_dbuf(v, n, NULL, &dy));
    CT_TRY(vf_dbuf(v, n, NULL, &dback));
    float *got;
    char name[80];
    CT_TRY(ct_flatten_forward(v->c, C, N, HW, dx, dy));
    CT_TRY(vf_readback(v, dy, n, &got));
    snprintf(name, sizeof name, "flatten fwd (C=%d, N=%d, HW=%d)", C, N, HW);
    vf_check(v, name, got, x, n, 0, 0);
    CT_TRY(ct_flatten_backward(v->c, C, N, HW, dy, dback));
    CT_TRY(vf_readback(v, dback, n, &got));
    snprintf(name, sizeof name, "flatten bwd (C=%d, N=%d, HW=%d)", C, N, HW);
    vf_check(v, name, vf_from_cm(v, got, N, C, HW), x, n, 0, 0);
    return CT_OK;
}

/* fused BatchNorm2d + ReLU with NaN/Inf in the input: eval forward keeps NaN where the input
 * has it (torch.relu), training backward passes dy where the output is NaN */
static int v_bn_relu_nonfinite(vctx *v, int N, int C, int HW)
{
    const size_t n = (size_t)N * C * HW;
    const int a = (C + 15) / 16 * 16, M = N * HW;
    float *x = vf_harr(v, n, -2, 2), *dy = vf_harr(v, n, -1, 1), *params = vf_harr(v, (size_t)2 * a, 0, 0);
    float *state = vf_harr(v, (size_t)2 * a, 0, 0), *ye = vf_harr(v, n, 0, 0), *y = vf_harr(v, n, 0, 0);
    float *sm = vf_harr(v, (size_t)C, 0, 0), *si = vf_harr(v, (size_t)C, 0, 0), *dx = vf_harr(v, n, 0, 0);
    float *dg = vf_harr(v, (size_t)C, 0, 0), *db = vf_harr(v, (size_t)C, 0, 0), *g = vf_harr(v, n, 0, 0);
    VF_HOST(x, dy, params, state, ye, y, sm, si, dx, dg, db, g);
    x[5] = NAN; /* channel 0 of image 0 (NCHW): channel 0 is NaN in training, one NaN in eval */
    for (int c = 0; c < C; c++) {
        params[c] = 0.5f + 0.1f * c;
        params[a + c] = 0.1f * c - 0.2f;
        state[c] = 0.05f * c;
        state[a + c] = 1.0f + 0.1f * c;
    }
    ref_bn_fwd_eval(x, params, params + a, state, state + a, ye, N, C, HW, 1e-5f);
    ref_relu_fwd(ye, ye, n);
    ref_bn_fwd_train(x, params, params + a, y, NULL, NULL, sm, si, N, C, HW, 1e-5f, 0.1f);
    ref_relu_fwd(y, y, n);
    ref_relu_bwd(y, dy, g, n);
    ref_bn_bwd(x, g, params, sm, si, dx, dg, db, N, C, HW);
    ct_bn l;
    ct_bn_init(&l, C, 0, a, 0, a, 1e-5f, 0.1f);
    vf_bn_bufs b;
    CT_TRY(vf_bn_buffers(v, x, dy, params, state, N, C, HW, a, &b));
    cl_mem dxm = b.x, dp = b.params, ds = b.state, dsm = b.mean, dsi = b.invstd, dym = b.y, ddy = b.dy, ddx = b.dx,
           dgr = b.grads;
    float *got;
    CT_TRY(ct_bn_forward(v->c, &l, M, 0, dxm, dp, ds, dsm, dsi, dym, 1));
    CT_TRY(vf_readback(v, dym, n, &got));
    vf_check(v, "batchnorm+relu eval fwd (NaN input)", vf_from_cm(v, got, N, C, HW), ye, n, 1e-5f, 1e-5f);
    CT_TRY(ct_bn_forward(v->c, &l, M, 1, dxm, dp, ds, dsm, dsi, dym, 1));
    CT_TRY(vf_readback(v, dym, n, &got));
    vf_check(v, "batchnorm+relu train fwd (NaN input)", vf_from_cm(v, got, N, C, HW), y, n, 1e-4f, 1e-4f);
    CT_TRY(ct_bn_backward(v->c, &l, M, dxm, ddy, dym, dp, dsm, dsi, dgr, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    vf_check(v, "batchnorm+relu bwd dx (NaN input)", vf_from_cm(v, got, N, C, HW), dx, n, 1e-4f, 1e-3f);
    CT_TRY(vf_readback(v, dgr, (size_t)2 * a, &got));
    vf_check(v, "batchnorm+relu bwd dgamma (NaN input)", got, dg, (size_t)C, 2e-4f, 1e-4f);
    vf_check(v, "batchnorm+relu bwd dbeta (NaN input)", got + a, db, (size_t)C, 2e-4f, 1e-4f);
    return CT_OK;
}

/* the residual tail batchnorm2d -> add -> ReLU in one kernel each way (ct_bn_forward_add,
 * ct_bn_backward_add, and add_relu_fwd for the tail after an inference-fused convolution)
 * against the reference run layer by layer: eval and train forward, dx, dgamma, dbeta and the
 * masked dy written to (and then added to) the other input's gradient; nonfinite: NaN/Inf in
 * the other input (a NaN output passes dy, as torch.relu's backward) */
static int v_bn_add_relu(vctx *v, int N, int C, int HW, int nonfinite)
{
    const size_t n = (size_t)N * C * HW;
    const int a = (C + 15) / 16 * 16, M = N * HW;
    float *x = vf_harr(v, n, -2, 3), *o = vf_harr(v, n, -1.5f, 1.5f), *dy = vf_harr(v, n, -1, 1);
    float *params = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f), *state = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f);
    float *st = vf_harr(v, (size_t)2 * a, 0, 0), *ye = vf_harr(v, n, 0, 0), *y = vf_harr(v, n, 0, 0);
    float *g = vf_harr(v, n, 0, 0), *dx = vf_harr(v, n, 0, 0), *prior = vf_harr(v, n, -1, 1);
    float *acc = vf_harr(v, n, 0, 0), *sm = vf_harr(v, (size_t)C, 0, 0), *si = vf_harr(v, (size_t)C, 0, 0);
    float *dg = vf_harr(v, (size_t)C, 0, 0), *db = vf_harr(v, (size_t)C, 0, 0);
    VF_HOST(x, o, dy, params, state, st, ye, y, g, dx, prior, acc, sm, si, dg, db);
    if (nonfinite) poison(o, n);
    for (int c = 0; c < C; c++) params[c] = vf_rnd(v, -1.5f, 1.5f); /* negative gammas too */
    memcpy(st, state, (size_t)2 * a * 4);
    ref_bn_fwd_eval(x, params, params + a, st, st + a, ye, N, C, HW, 1e-5f);
    ref_add(ye, o, ye, n);
    ref_relu_fwd(ye, ye, n);
    ref_bn_fwd_train(x, params, params + a, y, st, st + a, sm, si, N, C, HW, 1e-5f, 0.1f);
    ref_add(y, o, y, n);
    ref_relu_fwd(y, y, n);
    ref_relu_bwd(y, dy, g, n);
    ref_bn_bwd(x, g, params, sm, si, dx, dg, db, N, C, HW);
    memcpy(acc, prior, n * 4);
    ref_accumulate(g, acc, n);
    ct_bn l;
    ct_bn_init(&l, C, 0, a, 0, a, 1e-5f, 0.1f);
    vf_bn_bufs b;
    CT_TRY(vf_bn_buffers(v, x, dy, params, state, N, C, HW, a, &b));
    cl_mem dom, dout;
    CT_TRY(vf_dbuf_cm(v, o, N, C, HW, &dom));
    CT_TRY(vf_dbuf(v, n, NULL, &dout));
    char tag[96], name[160];
    snprintf(tag, sizeof tag, "batchnorm2d+add+relu (N=%d, C=%d, HW=%d)%s", N, C, HW, nonfinite ? " NaN/Inf" : "");
    float *got;
#define CHECK_CM(buf, want, what, atol, rtol)                                             \
    do {                                                                                  \
        CT_TRY(vf_readback(v, (buf), n, &got));                                           \
        snprintf(name, sizeof name, "%s %s", tag, (what));                                \
        vf_check(v, name, vf_from_cm(v, got, N, C, HW), (want), n, (atol), (rtol));       \
    } while (0)
    CT_TRY(ct_bn_forward_add(v->c, &l, M, 0, b.x, dom, b.params, b.state, b.mean, b.invstd, b.y));
    CHECK_CM(b.y, ye, "eval fwd", 1e-5f, 1e-5f);
    CT_TRY(ct_bn_forward_add(v->c, &l, M, 1, b.x, dom, b.params, b.state, b.mean, b.invstd, b.y));
    CHECK_CM(b.y, y, "train fwd", 1e-4f, 1e-4f);
    CT_TRY(vf_readback(v, b.state, (size_t)2 * a, &got));
    snprintf(name, sizeof name, "%s running mean", tag);
    vf_check(v, name, got, st, (size_t)C, 1e-6f, 1e-5f);
    snprintf(name, sizeof name, "%s running var", tag);
    vf_check(v, name, got + a, st + a, (size_t)C, 1e-6f, 1e-5f);
    /* the masked dy compared against the reference's own rounding: the training output is close,
     * not equal, so the reference's mask is taken from the kernel's output */
    CT_TRY(vf_readback(v, b.y, n, &got));
    float *yk = vf_from_cm(v, got, N, C, HW);
    VF_HOST(yk);
    ref_relu_bwd(yk, dy, g, n);
    ref_bn_bwd(x, g, params, sm, si, dx, dg, db, N, C, HW);
    memcpy(acc, prior, n * 4);
    ref_accumulate(g, acc, n);
    CT_TRY(ct_bn_backward_add(v->c, &l, M, b.x, b.dy, b.y, b.params, b.mean, b.invstd, b.grads, b.dx, dout, 0));
    CHECK_CM(b.dx, dx, "bwd dx", 1e-4f, 1e-3f);
    CHECK_CM(dout, g, "bwd dy to the other input (written)", 0, 0);
    CT_TRY(vf_readback(v, b.grads, (size_t)2 * a, &got));
    snprintf(name, sizeof name, "%s bwd dgamma", tag);
    vf_check(v, name, got, dg, (size_t)C, 2e-4f, 1e-4f);
    snprintf(name, sizeof name, "%s bwd dbeta", tag);
    vf_check(v, name, got + a, db, (size_t)C, 2e-4f, 1e-4f);
    cl_mem dprior;
    CT_TRY(vf_dbuf_cm(v, prior, N, C, HW, &dprior));
    CT_TRY(ct_bn_backward_add(v->c, &l, M, b.x, b.dy, b.y, b.params, b.mean, b.invstd, b.grads, b.dx, dprior, 1));
    CHECK_CM(dprior, acc, "bwd dy to the other input (added)", 0, 0);
    CHECK_CM(b.dx, dx, "bwd dx (with the add)", 1e-4f, 1e-3f);
    /* no other gradient, and dx in place of dy (an input that needs no gradient) */
    CT_TRY(ct_bn_backward_add(v->c, &l, M, b.x, b.dy, b.y, b.params, b.mean, b.invstd, b.grads, b.dy, NULL, 0));
    CHECK_CM(b.dy, dx, "bwd dx in place, no other gradient", 1e-4f, 1e-3f);
    /* add + ReLU alone, in place on the batchnorm's output (after a fused inference convolution) */
    CT_TRY(ct_bn_forward(v->c, &l, M, 0, b.x, b.params, b.state, b.mean, b.invstd, b.y, 0));
    CT_TRY(ct_bn_forward_add(v->c, &l, M, 0, b.x, dom, b.params, b.state, b.mean, b.invstd, dout));
    CT_TRY(ct_add_relu_forward(v->c, n, b.y, dom, b.y));
    CT_TRY(vf_readback(v, dout, n, &got));
    float *want = vf_from_cm(v, got, N, C, HW);
    VF_HOST(want);
    CHECK_CM(b.y, want, "eval: bn, then add_relu in place = the fused kernel", 0, 0);
#undef CHECK_CM
    return CT_OK;
}

/* add_relu_fwd against add then ReLU (-0.0 stays -0.0, NaN stays NaN), also in place */
static int v_add_relu(vctx *v, size_t n, int nonfinite)
{
    float *a = vf_harr(v, n, -1, 1), *b = vf_harr(v, n, -1, 1), *y = vf_harr(v, n, 0, 0);
    VF_HOST(a, b, y);
    if (nonfinite) poison(a, n);
    a[0] = -0.0f;
    b[0] = -0.0f; /* -0.0 + -0.0 = -0.0, kept by the ReLU */
    ref_add(a, b, y, n);
    ref_relu_fwd(y, y, n);
    cl_mem da, db, dy;
    CT_TRY(vf_dbuf(v, n, a, &da));
    CT_TRY(vf_dbuf(v, n, b, &db));
    CT_TRY(vf_dbuf(v, n, NULL, &dy));
    float *got;
    char name[80];
    CT_TRY(ct_add_relu_forward(v->c, n, da, db, dy));
    CT_TRY(vf_readback(v, dy, n, &got));
    snprintf(name, sizeof name, "add+relu n=%zu%s", n, nonfinite ? " (NaN/Inf)" : "");
    vf_check(v, name, got, y, n, 0, 0);
    float neg = signbit(got[0]) ? -1.0f : 1.0f, want = -1.0f;
    vf_check(v, "add+relu(-0.0 + -0.0) keeps the sign", &neg, &want, 1, 0, 0);
    CT_TRY(ct_add_relu_forward(v->c, n, da, db, da));
    CT_TRY(vf_readback(v, da, n, &got));
    snprintf(name, sizeof name, "add+relu in place (y = a) n=%zu", n);
    vf_check(v, name, got, y, n, 0, 0);
    return CT_OK;
}

/* max and average pooling with any window; max on inputs with ties (a quantised grid) */
static int v_pool(vctx *v, int N, int C, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int incl,
                  int nonfinite)
{
    ct_pool2d p;
    ct_pool2d_init(&p, kh, kw, sh, sw, ph, pw, H, W, incl);
    const size_t n = (size_t)N * C * H * W, no = (size_t)N * C * p.oh * p.ow;
    float *x = vf_harr(v, n, -1, 1), *dy = vf_harr(v, no, -1, 1), *my = vf_harr(v, no, 0, 0), *mdx = vf_harr(v, n, 0, 0);
    float *ay = vf_harr(v, no, 0, 0), *adx = vf_harr(v, n, 0, 0);
    VF_HOST(x, dy, my, mdx, ay, adx);
    for (size_t i = 0; i < n; i++) x[i] = floorf(x[i] * 8.0f) / 8.0f; /* ties */
    if (nonfinite) poison(x, n);
    ref_maxpool2d_fwd(x, my, N, C, H, W, kh, kw, sh, sw, ph, pw);
    ref_maxpool2d_bwd(x, dy, mdx, N, C, H, W, kh, kw, sh, sw, ph, pw);
    ref_avgpool2d_fwd(x, ay, N, C, H, W, kh, kw, sh, sw, ph, pw, incl);
    ref_avgpool2d_bwd(dy, adx, N, C, H, W, kh, kw, sh, sw, ph, pw, incl);
    cl_mem dxm, dym, ddy, ddx;
    CT_TRY(vf_dbuf(v, n, x, &dxm)); /* planes: NCHW and CNHW are both lists of H x W planes */
    CT_TRY(vf_dbuf(v, no, NULL, &dym));
    CT_TRY(vf_dbuf(v, no, dy, &ddy));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    float *got;
    char name[112], shape[80];
    snprintf(shape, sizeof shape, "k%dx%d s%dx%d p%dx%d %dx%d%s", kh, kw, sh, sw, ph, pw, H, W,
             nonfinite ? " NaN/Inf" : "");
    CT_TRY(ct_maxpool_forward(v->c, &p, N * C, dxm, dym));
    CT_TRY(vf_readback(v, dym, no, &got));
    snprintf(name, sizeof name, "maxpool %s fwd", shape);
    vf_check(v, name, got, my, no, 0, 0);
    CT_TRY(ct_maxpool_backward(v->c, &p, N * C, dxm, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "maxpool %s bwd", shape);
    vf_check(v, name, got, mdx, n, 1e-6f, 1e-6f);
    CT_TRY(ct_avgpool2d_forward(v->c, &p, N * C, dxm, dym));
    CT_TRY(vf_readback(v, dym, no, &got));
    snprintf(name, sizeof name, "avgpool %s%s fwd", shape, incl ? "" : " excl-pad");
    vf_check(v, name, got, ay, no, 1e-6f, 1e-5f);
    CT_TRY(ct_avgpool2d_backward(v->c, &p, N * C, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "avgpool %s%s bwd", shape, incl ? "" : " excl-pad");
    vf_check(v, name, got, adx, n, 1e-6f, 1e-5f);
    return CT_OK;
}

/* adaptive average pooling keeping the channel-major layout */
static int v_adaptive(vctx *v, int N, int C, int H, int W, int OH, int OW, int nonfinite)
{
    const size_t n = (size_t)N * C * H * W, no = (size_t)N * C * OH * OW;
    float *x = vf_harr(v, n, -1, 1), *dy = vf_harr(v, no, -1, 1), *y = vf_harr(v, no, 0, 0), *dx = vf_harr(v, n, 0, 0);
    VF_HOST(x, dy, y, dx);
    if (nonfinite) poison(x, n);
    ref_adaptive_avgpool_fwd(x, y, N, C, H, W, OH, OW);
    ref_adaptive_avgpool_bwd(dy, dx, N, C, H, W, OH, OW);
    cl_mem dxm, dym, ddy, ddx;
    CT_TRY(vf_dbuf_cm(v, x, N, C, H * W, &dxm));
    CT_TRY(vf_dbuf(v, no, NULL, &dym));
    CT_TRY(vf_dbuf_cm(v, dy, N, C, OH * OW, &ddy));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    float *got;
    char name[96];
    CT_TRY(ct_adaptive_avgpool_forward(v->c, C, N, H, W, OH, OW, dxm, dym));
    CT_TRY(vf_readback(v, dym, no, &got));
    snprintf(name, sizeof name, "adaptive avgpool (C,N,H,W) %dx%d->%dx%d fwd%s", H, W, OH, OW, nonfinite ? " NaN/Inf" : "");
    vf_check(v, name, vf_from_cm(v, got, N, C, OH * OW), y, no, 1e-6f, 1e-5f);
    CT_TRY(ct_adaptive_avgpool_backward(v->c, C, N, H, W, OH, OW, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "adaptive avgpool (C,N,H,W) %dx%d->%dx%d bwd", H, W, OH, OW);
    vf_check(v, name, vf_from_cm(v, got, N, C, H * W), dx, n, 1e-6f, 1e-5f);
    return CT_OK;
}

/* conv2d on whichever path the device's tune picks for the shape (named in the check), weights
 * and bias pooled as the model does; bias < 0 means none */
typedef struct {
    int N, CI, H, W, CO, kh, kw, sh, sw, ph, pw, bias, nonfinite;
} conv_case;

static int v_conv2(vctx *v, const char *tag, conv_case k)
{
    ct_conv l;
    const int nw = k.CO * k.CI * k.kh * k.kw, b_off = k.bias ? (nw + 15) / 16 * 16 : -1;
    ct_conv_init2(&l, k.CI, k.CO, k.kh, k.kw, k.sh, k.sw, k.ph, k.pw, k.H, k.W, 0, b_off);
    const int OH = l.oh, OW = l.ow, np = (k.bias ? b_off + k.CO : nw);
    const size_t nx = (size_t)k.N * k.CI * k.H * k.W, ny = (size_t)k.N * k.CO * OH * OW;
    float *x = vf_harr(v, nx, -1, 1), *params = vf_harr(v, (size_t)np, -0.5f, 0.5f), *dy = vf_harr(v, ny, -1, 1);
    float *y = vf_harr(v, ny, 0, 0), *dx = vf_harr(v, nx, 0, 0), *dw = vf_harr(v, (size_t)nw, 0, 0);
    float *db = vf_harr(v, (size_t)k.CO, 0, 0);
    VF_HOST(x, params, dy, y, dx, dw, db);
    /* NaN/Inf in the input only: an Inf in dy times a padded zero is NaN on the im2col/direct paths
     * (as in PyTorch's im2col convolution) but skipped by the reference, which never reads padding */
    if (k.nonfinite) poison(x, nx);
    const float *b = k.bias ? params + b_off : NULL;
    ref_conv2d_fwd_s(x, params, b, y, k.N, k.CI, k.H, k.W, k.CO, k.kh, k.kw, k.sh, k.sw, k.ph, k.pw);
    ref_conv2d_bwd_s(x, params, dy, dx, dw, k.bias ? db : NULL, k.N, k.CI, k.H, k.W, k.CO, k.kh, k.kw, k.sh, k.sw,
                     k.ph, k.pw);
    cl_mem dxm, dp, dg, dcol, dym, ddy, ddx;
    CT_TRY(vf_dbuf_cm(v, x, k.N, k.CI, k.H * k.W, &dxm));
    CT_TRY(vf_dbuf(v, (size_t)np, params, &dp));
    CT_TRY(vf_dbuf(v, (size_t)np, NULL, &dg));
    CT_TRY(vf_dbuf(v, ct_conv_col_floats(&l, k.N), NULL, &dcol));
    CT_TRY(vf_dbuf(v, ny, NULL, &dym));
    CT_TRY(vf_dbuf_cm(v, dy, k.N, k.CO, OH * OW, &ddy));
    CT_TRY(vf_dbuf(v, nx, NULL, &ddx));
    char shape[96], name[160];
    snprintf(shape, sizeof shape, "conv k%dx%d s%dx%d p%dx%d %d->%d %dx%d N=%d%s%s%s", k.kh, k.kw, k.sh, k.sw, k.ph,
             k.pw, k.CI, k.CO, k.H, k.W, k.N, k.bias ? "" : " nobias", k.nonfinite ? " NaN/Inf" : "", tag);
    /* dot products over many terms: the tolerance grows with their length */
    const float tol = 1e-4f * (1.0f + sqrtf((float)(k.CI * k.kh * k.kw) / 64.0f));
    const float tolw = 1e-4f * (1.0f + sqrtf((float)ny / (float)k.CO / 64.0f));
    float *got;
    CT_TRY(ct_conv_forward(v->c, &l, k.N, dxm, dp, dcol, dym));
    CT_TRY(vf_readback(v, dym, ny, &got));
    snprintf(name, sizeof name, "%s fwd [%s]", shape, ct_conv_path(v->c, &l, k.N, 0));
    vf_check(v, name, vf_from_cm(v, got, k.N, k.CO, OH * OW), y, ny, tol, tol);
    const char *pdx = ct_conv_path(v->c, &l, k.N, 1), *pdw = ct_conv_path(v->c, &l, k.N, 2);
    CT_TRY(ct_conv_backward(v->c, &l, k.N, dxm, ddy, dp, dcol, dg, ddx, 0));
    CT_TRY(vf_readback(v, ddx, nx, &got));
    snprintf(name, sizeof name, "%s dx [%s]", shape, pdx);
    vf_check(v, name, vf_from_cm(v, got, k.N, k.CI, k.H * k.W), dx, nx, tol, tol);
    CT_TRY(vf_readback(v, dg, (size_t)np, &got));
    snprintf(name, sizeof name, "%s dweight [%s]", shape, pdw);
    vf_check(v, name, got, dw, (size_t)nw, tolw, tolw);
    if (k.bias) {
        snprintf(name, sizeof name, "%s dbias", shape);
        vf_check(v, name, got + b_off, db, (size_t)k.CO, tolw, tolw);
    }
    if (ct_conv_dx_adds(v->c, &l, k.N)) {
        /* the input gradient added to what dx holds (a layer read by several): dx + dx */
        CT_TRY(ct_conv_backward(v->c, &l, k.N, dxm, ddy, dp, dcol, dg, ddx, 1));
        CT_TRY(vf_readback(v, ddx, nx, &got));
        for (size_t i = 0; i < nx; i++) dx[i] += dx[i];
        snprintf(name, sizeof name, "%s dx added [%s]", shape, pdx);
        vf_check(v, name, vf_from_cm(v, got, k.N, k.CI, k.H * k.W), dx, nx, 2 * tol, 2 * tol);
    }
    return CT_OK;
}

/* every conv path: the device's choice at the DigitCNN sizes training runs, the im2col paths
 * with and without panels, the direct kernels with each tile, strided and rectangular shapes */
static int v_conv_all(vctx *v)
{
    ct_tune saved = v->c->tune;
    const int B = v->conv_batch > 0 ? v->conv_batch : 8; /* DigitCNN's training-size checks */
    int rc = CT_OK;
#define CONV(tag, ...)                                                            \
    do {                                                                          \
        if (rc == CT_OK) rc = v_conv2(v, tag, (conv_case){__VA_ARGS__});          \
        vf_release(v);                                                            \
    } while (0)
    /* the device's own choices: DigitCNN's conv1..3 at training sizes, the seed's small cases */
    CONV("", B, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", B, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", B, 64, 7, 7, 128, 3, 3, 1, 1, 1, 1, 1, 0);
    /* VGG-small's and ResNet-small's stride-1 3x3 layers (the direct dW kernels per channel
     * count: 16 output channels take conv_dw_k3_c1, 32 and 64 conv_dw_k3_c2), a 5x5 with 16 */
    CONV("", B, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 0);
    CONV("", B, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 0, 0);
    CONV("", B, 64, 7, 7, 64, 3, 3, 1, 1, 1, 1, 0, 0);
    CONV("", 4, 8, 14, 14, 16, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", 3, 1, 12, 12, 5, 5, 5, 1, 1, 2, 2, 1, 0);
    /* one input channel (conv_dw1_k*): odd row counts, a row of exactly 16, tails, no bias */
    CONV("", 2, 1, 9, 19, 6, 3, 3, 1, 1, 1, 1, 1, 0);
    CONV("", 2, 1, 15, 16, 17, 5, 5, 1, 1, 2, 2, 0, 0);
    CONV("", 3, 1, 7, 37, 3, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", 2, 7, 9, 9, 6, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", 3, 6, 7, 7, 10, 3, 3, 1, 1, 1, 1, 1, 0);
    CONV("", 2, 3, 8, 8, 4, 3, 3, 1, 1, 0, 0, 1, 0);
    /* more than conv_dyt's 128 channels per work-item, not a multiple of 16 */
    CONV("", 8, 32, 7, 7, 150, 3, 3, 1, 1, 1, 1, 1, 0);
    /* strided and rectangular (ResNet-style stages and shortcuts, stems, odd shapes) */
    CONV("", 4, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 0, 0);
    CONV("", 4, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 1, 0);
    CONV("", 4, 16, 28, 28, 32, 1, 1, 2, 2, 0, 0, 0, 0);
    CONV("", 2, 3, 32, 32, 16, 7, 7, 2, 2, 3, 3, 0, 0);
    CONV("", 2, 5, 11, 13, 7, 3, 5, 1, 2, 1, 2, 1, 0);
    CONV("", 2, 4, 9, 8, 6, 3, 3, 1, 1, 1, 0, 1, 0);
    CONV("", 3, 3, 10, 11, 5, 2, 2, 3, 3, 0, 1, 1, 0);
    CONV("", 2, 4, 12, 10, 8, 1, 3, 1, 1, 0, 1, 0, 0);
    CONV("", 2, 3, 9, 9, 5, 3, 3, 2, 2, 1, 1, 1, 1);
    CONV("", 2, 3, 9, 9, 20, 5, 5, 1, 1, 2, 2, 1, 1);
    /* the im2col paths everywhere: CPU panels, then the plain layout GPUs use */
    v->c->tune.conv_direct = 0;
    for (int panels = 1; panels >= 0; panels--) {
        v->c->tune.conv_panels = panels;
        CONV("", B, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 0);
        CONV("", 4, 32, 7, 7, 40, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV("", B, 1, 28, 28, 32, 5, 5, 1, 1, 2, 2, 1, 0);
        CONV("", 4, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 0, 0);
        CONV("", 2, 5, 11, 13, 7, 3, 5, 1, 2, 1, 2, 1, 0);
    }
    v->c->tune = saved;
    /* the direct kernels with every tile (1x7x2 is the default above) */
    v->c->tune.conv_direct = 3;
    const char *tiles[7] = {"", " tile 1x14x1", " tile 2x7x1", " tile 1x1x1", " tile k 1x14x1", " tile k 1x7x2",
                            " tile k 2x7x1"};
    for (int t = 1; t <= 6; t++) {
        v->c->tune.conv_tile = t;
        CONV(tiles[t], 2, 16, 14, 14, 20, 5, 5, 1, 1, 2, 2, 1, 0);
        CONV(tiles[t], 2, 8, 15, 17, 33, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV(tiles[t], 2, 6, 7, 7, 10, 3, 3, 1, 1, 1, 1, 0, 1);
        CONV(tiles[t], 2, 5, 9, 16, 40, 5, 5, 1, 1, 2, 2, 1, 0);
    }
    /* the same 3x3 layers on their unpadded input (bit 2: conv_direct_k3s_*, conv_dw_k3s_*) with
     * both one-row tiles: a moved-back last column tile, one output row and column, NaN/Inf */
    v->c->tune.conv_direct = 7;
    for (int t = 4; t <= 5; t++) {
        v->c->tune.conv_tile = t;
        CONV(tiles[t], 2, 8, 15, 17, 33, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV(tiles[t], 2, 6, 7, 7, 10, 3, 3, 1, 1, 1, 1, 0, 1);
        CONV(tiles[t], 3, 5, 1, 9, 18, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV(tiles[t], 2, 4, 8, 1, 16, 3, 3, 1, 1, 1, 1, 0, 0);
        CONV(tiles[t], 2, 3, 9, 20, 3, 3, 3, 1, 1, 1, 1, 1, 1);
    }
    /* the default tiles at the shipped networks' training sizes (VGG/ResNet stages: 16 channels
     * on 28x28, 32 on 14x14, 64 on 7x7), with the CPU profile's conv_direct (7: unpadded 3x3) */
    v->c->tune.conv_tile = 0;
    CONV("", B, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 0);
    /* 5x5 in blocks of 14 rows (conv_direct_k5_r14x1): a partial last block and column tile, a
     * partial channel block */
    CONV("", 2, 5, 20, 17, 24, 5, 5, 1, 1, 2, 2, 1, 0);
    CONV("", 2, 20, 28, 28, 16, 5, 5, 1, 1, 2, 2, 0, 0);
    CONV("", B, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 0);
    CONV("", B, 32, 7, 7, 64, 3, 3, 1, 1, 1, 1, 0, 0);
    /* the stride-2 direct kernels (layer_conv_strided.c) under both profiles: resnet-small's
     * downsampling convs and 1x1 shortcuts at training size, odd shapes (channel blocks partly
     * used, a moved-back last tile, fewer than 7 output columns, partial dx tiles) */
    v->c->tune.conv_tile = saved.conv_tile;
    CONV(" direct", B, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 0, 0);
    CONV(" direct", B, 32, 14, 14, 64, 3, 3, 2, 2, 1, 1, 0, 0);
    CONV(" direct", B, 16, 28, 28, 32, 1, 1, 2, 2, 0, 0, 0, 0);
    CONV(" direct", B, 32, 14, 14, 64, 1, 1, 2, 2, 0, 0, 0, 0);
    CONV(" direct", 2, 20, 13, 15, 40, 3, 3, 2, 2, 1, 1, 1, 0);
    CONV(" direct", 2, 5, 11, 9, 6, 1, 1, 2, 2, 0, 0, 1, 0);
    CONV(" direct", 2, 3, 10, 9, 17, 3, 3, 2, 2, 1, 1, 1, 1);
    /* image blocks of the direct weight gradients (tune.dw_block_kb; at the default 512 KiB the
     * checks above stay in one block): several blocks, an uneven last one, one image per block,
     * for conv_dw_k5, conv_dw_k3_c1/_c2 and conv_dws2 (profiles with the direct kernels only) */
    if (saved.conv_direct & 2) {
        v->c->tune.dw_block_kb = 100;
        CONV(" dW blocks", B, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 0);
        CONV(" dW blocks", 5, 16, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV(" dW blocks", 5, 16, 28, 28, 32, 3, 3, 2, 2, 1, 1, 0, 0);
        v->c->tune.dw_block_kb = 1;
        CONV(" dW blocks of 1", 3, 32, 14, 14, 64, 5, 5, 1, 1, 2, 2, 1, 0);
        CONV(" dW blocks of 1", 7, 64, 7, 7, 128, 3, 3, 1, 1, 1, 1, 1, 0);
        CONV(" dW blocks of 1", 3, 16, 14, 14, 32, 3, 3, 2, 2, 1, 1, 0, 0);
    }
#undef CONV
    v->c->tune = saved;
    return rc;
}

/* the device buffers of a batchnorm check besides the activations: parameters, state, saved
 * statistics, gradients (2*a floats for the pools, C for the statistics) */
static int bn_side_bufs(vctx *v, int a, int C, const float *params, const float *state, cl_mem *dp, cl_mem *ds,
                        cl_mem *dsm, cl_mem *dsi, cl_mem *dgr)
{
    CT_TRY(vf_dbuf(v, (size_t)2 * a, params, dp));
    CT_TRY(vf_dbuf(v, (size_t)2 * a, state, ds));
    CT_TRY(vf_dbuf(v, (size_t)C, NULL, dsm));
    CT_TRY(vf_dbuf(v, (size_t)C, NULL, dsi));
    return vf_dbuf(v, (size_t)2 * a, NULL, dgr);
}

/* checks a batchnorm's running statistics (after its training forward) or its dgamma/dbeta (after
 * its backward) against the reference: pool holds (first, second) at 0 and a */
static int bn_check_pair(vctx *v, const char *tag, const char *w0, const char *w1, cl_mem pool, int a, int C,
                         const float *r0, const float *r1, float atol, float rtol)
{
    float *got;
    char name[160];
    CT_TRY(vf_readback(v, pool, (size_t)2 * a, &got));
    snprintf(name, sizeof name, "%s %s", tag, w0);
    vf_check(v, name, got, r0, (size_t)C, atol, rtol);
    snprintf(name, sizeof name, "%s %s", tag, w1);
    vf_check(v, name, got + a, r1, (size_t)C, atol, rtol);
    return CT_OK;
}

/* BatchNorm1d on rows (N, F) (oned), or BatchNorm2d on (C, N, HW), with the layer's eps and
 * momentum and optionally the fused ReLU; the reference is BatchNorm2d with HW = 1 for 1d */
static int v_bn_any(vctx *v, int oned, int N, int C, int HW, float eps, float mom, int relu)
{
    const size_t n = (size_t)N * C * HW;
    const int a = (C + 15) / 16 * 16;
    float *x = vf_harr(v, n, -2, 3), *dy = vf_harr(v, n, -1, 1), *params = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f);
    float *state = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f), *st = vf_harr(v, (size_t)2 * a, 0, 0);
    float *ye = vf_harr(v, n, 0, 0), *y = vf_harr(v, n, 0, 0), *g = vf_harr(v, n, 0, 0), *dx = vf_harr(v, n, 0, 0);
    float *sm = vf_harr(v, (size_t)C, 0, 0), *si = vf_harr(v, (size_t)C, 0, 0), *dg = vf_harr(v, (size_t)C, 0, 0);
    float *db = vf_harr(v, (size_t)C, 0, 0);
    VF_HOST(x, dy, params, state, st, ye, y, g, dx, sm, si, dg, db);
    memcpy(st, state, (size_t)2 * a * 4);
    ref_bn_fwd_eval(x, params, params + a, st, st + a, ye, N, C, HW, eps);
    ref_bn_fwd_train(x, params, params + a, y, st, st + a, sm, si, N, C, HW, eps, mom);
    if (relu) {
        ref_relu_fwd(ye, ye, n);
        ref_relu_fwd(y, y, n);
        ref_relu_bwd(y, dy, g, n);
    } else {
        memcpy(g, dy, n * 4);
    }
    ref_bn_bwd(x, g, params, sm, si, dx, dg, db, N, C, HW);
    ct_bn l;
    ct_bn_init(&l, C, 0, a, 0, a, eps, mom);
    cl_mem dxm, dp, ds, dsm, dsi, dym, ddy, ddx, dgr;
    if (oned) {
        CT_TRY(vf_dbuf(v, n, x, &dxm));
        CT_TRY(vf_dbuf(v, n, dy, &ddy));
    } else {
        CT_TRY(vf_dbuf_cm(v, x, N, C, HW, &dxm));
        CT_TRY(vf_dbuf_cm(v, dy, N, C, HW, &ddy));
    }
    CT_TRY(bn_side_bufs(v, a, C, params, state, &dp, &ds, &dsm, &dsi, &dgr));
    CT_TRY(vf_dbuf(v, n, NULL, &dym));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    char tag[96], name[160];
    snprintf(tag, sizeof tag, "%s (N=%d, C=%d, HW=%d) eps %g mom %g%s", oned ? "batchnorm1d" : "batchnorm2d", N, C,
             HW, eps, mom, relu ? " +relu" : "");
    float *got;
#define BN_FWD(tr) (oned ? ct_bn1d_forward(v->c, &l, N, tr, dxm, dp, ds, dsm, dsi, dym, relu) \
                         : ct_bn_forward(v->c, &l, N * HW, tr, dxm, dp, ds, dsm, dsi, dym, relu))
#define HOST(p) (oned ? (p) : vf_from_cm(v, (p), N, C, HW))
    CT_TRY(BN_FWD(0));
    CT_TRY(vf_readback(v, dym, n, &got));
    snprintf(name, sizeof name, "%s eval fwd", tag);
    vf_check(v, name, HOST(got), ye, n, 1e-5f, 1e-5f);
    CT_TRY(BN_FWD(1));
    CT_TRY(vf_readback(v, dym, n, &got));
    snprintf(name, sizeof name, "%s train fwd", tag);
    vf_check(v, name, HOST(got), y, n, 1e-4f, 1e-4f);
    CT_TRY(bn_check_pair(v, tag, "running mean", "running var", ds, a, C, st, st + a, 1e-6f, 1e-5f));
    CT_TRY(oned ? ct_bn1d_backward(v->c, &l, N, dxm, ddy, relu ? dym : NULL, dp, dsm, dsi, dgr, ddx)
                : ct_bn_backward(v->c, &l, N * HW, dxm, ddy, relu ? dym : NULL, dp, dsm, dsi, dgr, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "%s bwd dx", tag);
    vf_check(v, name, HOST(got), dx, n, 1e-4f, 1e-3f);
    CT_TRY(bn_check_pair(v, tag, "bwd dgamma", "bwd dbeta", dgr, a, C, dg, db, 2e-4f, 1e-4f));
#undef BN_FWD
#undef HOST
    return CT_OK;
}

/* BatchNorm2d + ReLU + 2x2 max pooling in one kernel each way (bnpool.cl) against the references
 * of the three layers: inputs on a 0.25 grid, so windows hold ties (the first maximum in
 * row-major order takes the gradient) and all-negative ones (no gradient after the ReLU) */
static int v_bn_pool(vctx *v, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2, a = (C + 15) / 16 * 16, HW = H * W, OHW = OH * OW;
    const size_t n = (size_t)N * C * HW, np = (size_t)N * C * OHW;
    float *x = vf_harr(v, n, -2, 2), *dyp = vf_harr(v, np, -1, 1), *params = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f);
    float *state = vf_harr(v, (size_t)2 * a, 0.5f, 1.5f), *st = vf_harr(v, (size_t)2 * a, 0, 0);
    float *ye = vf_harr(v, n, 0, 0), *y = vf_harr(v, n, 0, 0), *pe = vf_harr(v, np, 0, 0), *pt = vf_harr(v, np, 0, 0);
    float *gp = vf_harr(v, n, 0, 0), *g = vf_harr(v, n, 0, 0), *dx = vf_harr(v, n, 0, 0);
    float *sm = vf_harr(v, (size_t)C, 0, 0), *si = vf_harr(v, (size_t)C, 0, 0), *dg = vf_harr(v, (size_t)C, 0, 0);
    float *db = vf_harr(v, (size_t)C, 0, 0);
    VF_HOST(x, dyp, params, state, st, ye, y, pe, pt, gp, g, dx, sm, si, dg, db);
    for (size_t i = 0; i < n; i++) x[i] = roundf(x[i] * 4) / 4;
    memcpy(st, state, (size_t)2 * a * 4);
    const float eps = 1e-5f, mom = 0.1f;
    ref_bn_fwd_eval(x, params, params + a, st, st + a, ye, N, C, HW, eps);
    ref_bn_fwd_train(x, params, params + a, y, st, st + a, sm, si, N, C, HW, eps, mom);
    ref_relu_fwd(ye, ye, n);
    ref_relu_fwd(y, y, n);
    ref_maxpool2_fwd(ye, pe, N, C, H, W);
    ref_maxpool2_fwd(y, pt, N, C, H, W);
    ref_maxpool2_bwd(y, dyp, gp, N, C, H, W);
    ref_relu_bwd(y, gp, g, n);
    ref_bn_bwd(x, g, params, sm, si, dx, dg, db, N, C, HW);
    ct_bn l;
    ct_bn_init(&l, C, 0, a, 0, a, eps, mom);
    cl_mem dxm, ddy, dp, ds, dsm, dsi, dyo, ddx, dgr;
    CT_TRY(vf_dbuf_cm(v, x, N, C, HW, &dxm));
    CT_TRY(vf_dbuf_cm(v, dyp, N, C, OHW, &ddy));
    CT_TRY(bn_side_bufs(v, a, C, params, state, &dp, &ds, &dsm, &dsi, &dgr));
    CT_TRY(vf_dbuf(v, np, NULL, &dyo));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    char tag[96], name[160];
    snprintf(tag, sizeof tag, "batchnorm2d+relu+maxpool2 (N=%d, C=%d, %dx%d)", N, C, H, W);
    float *got;
    CT_TRY(ct_bn_pool2_forward(v->c, &l, N, H, W, 0, dxm, dp, ds, dsm, dsi, dyo));
    CT_TRY(vf_readback(v, dyo, np, &got));
    snprintf(name, sizeof name, "%s eval fwd", tag);
    vf_check(v, name, vf_from_cm(v, got, N, C, OHW), pe, np, 1e-5f, 1e-5f);
    CT_TRY(ct_bn_pool2_forward(v->c, &l, N, H, W, 1, dxm, dp, ds, dsm, dsi, dyo));
    CT_TRY(vf_readback(v, dyo, np, &got));
    snprintf(name, sizeof name, "%s train fwd", tag);
    vf_check(v, name, vf_from_cm(v, got, N, C, OHW), pt, np, 1e-4f, 1e-4f);
    CT_TRY(bn_check_pair(v, tag, "running mean", "running var", ds, a, C, st, st + a, 1e-6f, 1e-5f));
    CT_TRY(ct_bn_pool2_backward(v->c, &l, N, H, W, dxm, ddy, dp, dsm, dsi, dgr, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "%s bwd dx", tag);
    vf_check(v, name, vf_from_cm(v, got, N, C, HW), dx, n, 1e-4f, 1e-3f);
    return bn_check_pair(v, tag, "bwd dgamma", "bwd dbeta", dgr, a, C, dg, db, 2e-4f, 1e-4f);
}

/* NaN/Inf through the remaining kernels: gemm, linear (both back ends), dropout, the loss and
 * its accuracy count (a NaN logit counts as the maximum, as torch.argmax), Adam */
static int v_nonfinite_misc(vctx *v)
{
    const int N = 6, IN = 19, OUT = 7, K = 10;
    float *x = vf_harr(v, (size_t)N * IN, -1, 1), *w = vf_harr(v, (size_t)OUT * IN + 16 + OUT, -0.5f, 0.5f);
    float *y = vf_harr(v, (size_t)N * OUT, 0, 0), *dy = vf_harr(v, (size_t)N * OUT, -1, 1);
    float *dx = vf_harr(v, (size_t)N * IN, 0, 0), *dw = vf_harr(v, (size_t)OUT * IN, 0, 0);
    float *z = vf_harr(v, (size_t)N * K, -3, 3), *dz = vf_harr(v, (size_t)N * K, 0, 0);
    float *mask = vf_harr(v, (size_t)N * IN, 0, 0), *yd = vf_harr(v, (size_t)N * IN, 0, 0);
    VF_HOST(x, w, y, dy, dx, dw, z, dz, mask, yd);
    poison(x, (size_t)N * IN);
    const int b_off = (OUT * IN + 15) / 16 * 16;
    ref_linear_fwd(x, w, w + b_off, y, N, IN, OUT);
    ref_linear_bwd(x, w, dy, dx, dw, NULL, N, IN, OUT);
    cl_mem dxm, dp, dym, ddy, ddx, dg;
    CT_TRY(vf_dbuf(v, (size_t)N * IN, x, &dxm));
    CT_TRY(vf_dbuf(v, (size_t)b_off + OUT, w, &dp));
    CT_TRY(vf_dbuf(v, (size_t)N * OUT, NULL, &dym));
    CT_TRY(vf_dbuf(v, (size_t)N * OUT, dy, &ddy));
    CT_TRY(vf_dbuf(v, (size_t)N * IN, NULL, &ddx));
    CT_TRY(vf_dbuf(v, (size_t)b_off + OUT, NULL, &dg));
    ct_fc l = {IN, OUT, 0, b_off};
    float *got;
    char name[80];
    const int fc_default = v->c->tune.fc_clblast;
    for (int be = 0; be < 2; be++) {
        v->c->tune.fc_clblast = be;
        const char *bn = be ? "CLBlast" : "gemm";
        int rc = ct_fc_forward(v->c, &l, N, dxm, dp, dym, 0);
        if (rc == CT_OK) rc = vf_readback(v, dym, (size_t)N * OUT, &got);
        if (rc == CT_OK) {
            snprintf(name, sizeof name, "linear fwd (%s) NaN/Inf input", bn);
            vf_check(v, name, got, y, (size_t)N * OUT, 1e-4f, 1e-4f);
            rc = ct_fc_backward(v->c, &l, N, dxm, ddy, dp, dg, ddx);
        }
        if (rc == CT_OK) rc = vf_readback(v, dg, (size_t)OUT * IN, &got);
        if (rc == CT_OK) {
            snprintf(name, sizeof name, "linear bwd dweight (%s) NaN/Inf input", bn);
            vf_check(v, name, got, dw, (size_t)OUT * IN, 1e-4f, 1e-4f);
            rc = vf_readback(v, ddx, (size_t)N * IN, &got);
        }
        if (rc == CT_OK) {
            snprintf(name, sizeof name, "linear bwd dx (%s)", bn);
            vf_check(v, name, got, dx, (size_t)N * IN, 1e-4f, 1e-4f);
        }
        v->c->tune.fc_clblast = fc_default;
        CT_TRY(rc);
    }
    /* dropout: y = x * mask keeps NaN/Inf where kept, NaN*0 = NaN where dropped (as x * mask in PyTorch) */
    for (int i = 0; i < N * IN; i++) mask[i] = (i % 3) ? 2.0f : 0.0f;
    for (int i = 0; i < N * IN; i++) yd[i] = x[i] * mask[i];
    cl_mem dmask;
    CT_TRY(vf_dbuf(v, (size_t)N * IN, mask, &dmask));
    CT_TRY(ct_dropout_apply(v->c, N * IN, dxm, dmask, ddx));
    CT_TRY(vf_readback(v, ddx, (size_t)N * IN, &got));
    vf_check(v, "dropout apply NaN/Inf input", got, yd, (size_t)N * IN, 0, 0);
    /* loss: row 0 has a NaN at its target (counts as correct), row 2 a NaN elsewhere */
    int32_t *t = (int32_t *)vf_harr(v, (size_t)N, 0, 0);
    VF_HOST(t);
    for (int i = 0; i < N; i++) t[i] = (i * 3 + 1) % K;
    z[0 * K + t[0]] = NAN;      /* the target (not the first class) is NaN: correct */
    z[2 * K + t[2]] = 100.0f;   /* the target is the largest finite logit, but a NaN comes first: wrong */
    z[2 * K + t[2] - 1] = NAN;
    z[3 * K + 0] = NAN;         /* t[3] = 0: NaN first class and target: correct */
    z[5 * K + t[5]] = 100.0f;   /* a NaN before the largest logit: wrong */
    z[5 * K + t[5] - 2] = NAN;
    z[4 * K + 1] = INFINITY;
    const float loss = ref_softmax_xent(z, t, dz, N, K);
    const float sums_want[3] = {loss * N, (float)ref_count_correct(z, t, N, K), (float)N};
    cl_mem dzm, dt, ddz, dl, ds;
    const float zero4[4] = {0, 0, 0, 0};
    CT_TRY(vf_dbuf(v, (size_t)N * K, z, &dzm));
    CT_TRY(vf_dbuf(v, (size_t)N, (const float *)t, &dt));
    CT_TRY(vf_dbuf(v, (size_t)N * K, NULL, &ddz));
    CT_TRY(vf_dbuf(v, 1, NULL, &dl));
    CT_TRY(vf_dbuf(v, 4, zero4, &ds));
    CT_TRY(ct_xent(v->c, N, K, dzm, dt, ddz, dl, ds));
    CT_TRY(vf_readback(v, dl, 1, &got));
    vf_check(v, "cross-entropy loss with NaN/Inf logits", got, &loss, 1, 1e-5f, 1e-5f);
    CT_TRY(vf_readback(v, ddz, (size_t)N * K, &got));
    vf_check(v, "cross-entropy dlogits with NaN/Inf logits", got, dz, (size_t)N * K, 1e-6f, 1e-4f);
    CT_TRY(vf_readback(v, ds, 3, &got));
    vf_check(v, "accuracy count: NaN logit is the maximum", got + 1, sums_want + 1, 1, 0, 0);
    /* Adam with NaN/Inf gradients: those parameters become NaN, the others step normally */
    const int n = 37;
    float *p = vf_harr(v, (size_t)n, -1, 1), *gr = vf_harr(v, (size_t)n, -1, 1), *m = vf_harr(v, (size_t)n, 0, 0);
    float *s2 = vf_harr(v, (size_t)n, 0, 0);
    VF_HOST(p, gr, m, s2);
    poison(gr, (size_t)n);
    cl_mem dpp, dgg, dmm, dss;
    CT_TRY(vf_dbuf(v, (size_t)n, p, &dpp));
    CT_TRY(vf_dbuf(v, (size_t)n, gr, &dgg));
    CT_TRY(vf_dbuf(v, (size_t)n, m, &dmm));
    CT_TRY(vf_dbuf(v, (size_t)n, s2, &dss));
    ref_adam_step(p, gr, m, s2, (size_t)n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
    CT_TRY(ct_adam_step(v->c, n, dpp, dgg, dmm, dss, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 1));
    CT_TRY(vf_readback(v, dpp, (size_t)n, &got));
    vf_check(v, "adam step with NaN/Inf gradients", got, p, (size_t)n, 1e-6f, 1e-5f);
    return CT_OK;
}

int ct_verify_layers(vctx *v)
{
    int rc = CT_OK;
#define RUN(call)                     \
    do {                              \
        if (rc == CT_OK) rc = (call); \
        vf_release(v);                \
    } while (0)
    for (int k = 0; k <= (int)CT_ACT_SIGMOID; k++) {
        RUN(v_act(v, (ct_act_kind)k, 1000003, 0));
        RUN(v_act(v, (ct_act_kind)k, 37, 1));
        RUN(v_act(v, (ct_act_kind)k, 4099, 1));
    }
    RUN(v_add(v, 1000003, 0));
    RUN(v_add(v, 53, 1));
    RUN(v_flatten(v, 5, 7, 9));
    RUN(v_flatten(v, 3, 32, 49));
    RUN(v_bn_relu_nonfinite(v, 3, 4, 25));
    RUN(v_add_relu(v, 1000003, 0));
    RUN(v_add_relu(v, 53, 1));
    /* the residual tail at resnet-small's block sizes (batch 4) and odd ones (a scalar tail) */
    RUN(v_bn_add_relu(v, 4, 16, 784, 0));
    RUN(v_bn_add_relu(v, 4, 64, 49, 0));
    RUN(v_bn_add_relu(v, 3, 5, 25, 1));
    RUN(v_bn_add_relu(v, 2, 3, 7, 0));
    /* pooling: real sizes (ResNet/VGG stems and stages), odd and rectangular windows */
    RUN(v_pool(v, 2, 16, 28, 28, 3, 3, 2, 2, 1, 1, 1, 0));
    RUN(v_pool(v, 2, 16, 14, 14, 3, 3, 2, 2, 1, 1, 0, 0));
    RUN(v_pool(v, 2, 8, 32, 32, 3, 3, 2, 2, 1, 1, 1, 0));
    RUN(v_pool(v, 2, 8, 28, 28, 2, 2, 2, 2, 0, 0, 1, 0)); /* the vectorised 2x2 path */
    RUN(v_pool(v, 3, 5, 7, 9, 2, 2, 2, 2, 0, 0, 1, 1));
    RUN(v_pool(v, 2, 3, 7, 9, 3, 3, 1, 1, 1, 1, 0, 0));
    RUN(v_pool(v, 2, 3, 11, 8, 2, 3, 1, 2, 1, 0, 1, 0));
    RUN(v_pool(v, 2, 3, 11, 8, 2, 3, 1, 2, 1, 0, 0, 0));
    RUN(v_pool(v, 2, 3, 9, 10, 5, 4, 3, 2, 2, 2, 0, 1));
    RUN(v_pool(v, 2, 3, 9, 10, 5, 4, 3, 2, 2, 2, 1, 0));
    RUN(v_adaptive(v, 3, 5, 7, 7, 3, 3, 0));
    RUN(v_adaptive(v, 2, 4, 7, 5, 1, 1, 0));
    RUN(v_adaptive(v, 2, 4, 5, 7, 3, 2, 1));
    RUN(v_conv_all(v));
    RUN(v_bn_any(v, 1, 64, 256, 1, 1e-5f, 0.1f, 0));
    RUN(v_bn_any(v, 1, 7, 37, 1, 1e-3f, 0.3f, 1));
    RUN(v_bn_any(v, 1, 2, 5, 1, 1e-5f, 0.1f, 0));
    RUN(v_bn_any(v, 0, 3, 6, 25, 1e-3f, 0.3f, 1));
    /* 8 windows per step (DigitCNN's 28x28: the last step overlapping), 4 (its 14x14), odd widths */
    RUN(v_bn_pool(v, 3, 5, 28, 28));
    RUN(v_bn_pool(v, 2, 6, 14, 14));
    RUN(v_bn_pool(v, 2, 3, 8, 16));
    RUN(v_bn_pool(v, 2, 17, 6, 10));
    RUN(v_nonfinite_misc(v));
#undef RUN
    return rc;
}
