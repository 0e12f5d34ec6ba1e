/* layer_bn.c: BatchNorm2d on channel-major activations (C, M), M = N*H*W, and BatchNorm1d on
 * rows (N, F), with the layer's eps and momentum, PyTorch's semantics (see cl/batchnorm.cl).
 * ReLU may be fused into apply, or the residual tail add + ReLU after BatchNorm2d
 * (ct_bn_forward_add / ct_bn_backward_add). */
#include "ops.h"

#define CT_BN_EPS 1e-5f
#define CT_BN_MOMENTUM 0.1f

void ct_bn_init(ct_bn *l, int C, int g_off, int b_off, int rm_off, int rv_off, float eps, float momentum)
{
    l->C = C;
    l->g_off = g_off;
    l->b_off = b_off;
    l->rm_off = rm_off;
    l->rv_off = rv_off;
    l->eps = eps;
    l->momentum = momentum;
}

static float bn_eps(const ct_bn *l) { return l->eps > 0.0f ? l->eps : CT_BN_EPS; }
static float bn_momentum(const ct_bn *l) { return l->eps > 0.0f ? l->momentum : CT_BN_MOMENTUM; }

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

static int bn_stats(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem state, cl_mem save_mean, cl_mem save_invstd)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "batchnorm", "bn_stats", &k));
    size_t ls = (size_t)c->tune.red_ls, g = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g, &ls, "mimmmiiffi", x, M, save_mean, save_invstd, state, l->rm_off, l->rv_off, bn_eps(l),
                  bn_momentum(l), 1);
}

/* training where a work-group is one item (the CPU profile): statistics and apply in one kernel per
 * channel (bn_fwd_1p), x read from memory once; o: the residual tail's other input (add + ReLU) */
static int bn_fwd_1p(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem o, cl_mem params, cl_mem state,
                     cl_mem save_mean, cl_mem save_invstd, cl_mem y, int relu)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "batchnorm", "bn_fwd_1p", &k));
    size_t ls = 1, g = (size_t)l->C;
    return ct_run(c, k, 1, &g, &ls, "mmmimmmiiffmiii", x, o, y, M, save_mean, save_invstd, state, l->rm_off, l->rv_off,
                  bn_eps(l), bn_momentum(l), params, l->g_off, l->b_off, relu);
}

int ct_bn_forward(ct_ctx *c, const ct_bn *l, int M, int training, cl_mem x, cl_mem params, cl_mem state,
                  cl_mem save_mean, cl_mem save_invstd, cl_mem y, int relu)
{
    cl_kernel k;
    if (training && c->tune.red_ls == 1)
        return bn_fwd_1p(c, l, M, x, NULL, params, state, save_mean, save_invstd, y, relu);
    if (training) CT_TRY(bn_stats(c, l, M, x, state, save_mean, save_invstd));
    CT_TRY(ct_kernel(c, "batchnorm", "bn_apply", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    if (training)
        return ct_run(c, k, 2, g, NULL, "mmimimiifmiii", x, y, M, save_mean, 0, save_invstd, 0, 0, bn_eps(l), params,
                      l->g_off, l->b_off, relu);
    return ct_run(c, k, 2, g, NULL, "mmimimiifmiii", x, y, M, state, l->rm_off, state, l->rv_off, 1, bn_eps(l),
                  params, l->g_off, l->b_off, relu);
}

int ct_bn_forward_add(ct_ctx *c, const ct_bn *l, int M, int training, cl_mem x, cl_mem o, cl_mem params,
                      cl_mem state, cl_mem save_mean, cl_mem save_invstd, cl_mem y)
{
    cl_kernel k;
    if (training && c->tune.red_ls == 1)
        return bn_fwd_1p(c, l, M, x, o, params, state, save_mean, save_invstd, y, 1);
    if (training) CT_TRY(bn_stats(c, l, M, x, state, save_mean, save_invstd));
    CT_TRY(ct_kernel(c, "batchnorm", "bn_apply_add_relu", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    if (training)
        return ct_run(c, k, 2, g, NULL, "mmmimimiifmii", x, o, y, M, save_mean, 0, save_invstd, 0, 0, bn_eps(l),
                      params, l->g_off, l->b_off);
    return ct_run(c, k, 2, g, NULL, "mmmimimiifmii", x, o, y, M, state, l->rm_off, state, l->rv_off, 1, bn_eps(l),
                  params, l->g_off, l->b_off);
}

/* BatchNorm2d + ReLU + 2x2 max pooling (bnpool.cl), x (C, N, H, W) with even H, W and W/2 >= 4:
 * the pooled output only (training: batch statistics computed here; eval: running ones) */
int ct_bn_pool2_forward(ct_ctx *c, const ct_bn *l, int N, int H, int W, int training, cl_mem x, cl_mem params,
                        cl_mem state, cl_mem save_mean, cl_mem save_invstd, cl_mem yp)
{
    cl_kernel k;
    if (training) CT_TRY(bn_stats(c, l, N * H * W, x, state, save_mean, save_invstd));
    CT_TRY(ct_kernel(c, "bnpool", W / 2 >= 8 ? "bn_pool2_fwd_8" : "bn_pool2_fwd_4", &k));
    size_t ls = (size_t)c->tune.red_ls, g = (size_t)l->C * ls;
    if (training)
        return ct_run(c, k, 1, &g, &ls, "mmiiimimiifmii", x, yp, N, H, W, save_mean, 0, save_invstd, 0, 0, bn_eps(l),
                      params, l->g_off, l->b_off);
    return ct_run(c, k, 1, &g, &ls, "mmiiimimiifmii", x, yp, N, H, W, state, l->rm_off, state, l->rv_off, 1,
                  bn_eps(l), params, l->g_off, l->b_off);
}

/* its backward from the pooled gradient dyp: dgamma, dbeta into grads, dx (C, N, H, W) */
int ct_bn_pool2_backward(ct_ctx *c, const ct_bn *l, int N, int H, int W, cl_mem x, cl_mem dyp, cl_mem params,
                         cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "bnpool", W / 2 >= 8 ? "bn_pool2_bwd_8" : "bn_pool2_bwd_4", &k));
    size_t ls = (size_t)c->tune.red_ls, g = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g, &ls, "mmiiimmmiimiim", x, dyp, N, H, W, save_mean, save_invstd, params, l->g_off,
                  l->b_off, grads, l->g_off, l->b_off, dx);
}

static int bn_bwd_reduce(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem save_mean,
                         cl_mem save_invstd, cl_mem grads)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_reduce", &k));
    size_t ls = (size_t)c->tune.red_ls, g1 = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g1, &ls, "mmmimmmii", x, dy, relu_y, M, save_mean, save_invstd, grads, l->g_off,
                  l->b_off);
}

/* reduce + dx in one kernel, one work-group per channel: where a work-group is one item (the
 * CPU profile), so the channel is read back from cache; else two kernels (more work-groups).
 * relu_x: the fused ReLU's mask recomputed from x (relu_y NULL), one stream fewer to read */
static int bn_bwd_1p(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem relu_y, int relu_x, cl_mem params,
                     cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx, cl_mem dout, int acc)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_1p", &k));
    size_t ls = (size_t)c->tune.red_ls, g = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g, &ls, "mmmimmmimiimmiii", x, dy, relu_y, M, save_mean, save_invstd, params, l->g_off,
                  grads, l->g_off, l->b_off, dx, dout, acc, l->b_off, relu_x);
}

int ct_bn_backward(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                   cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx)
{
    cl_kernel k;
    if (c->tune.red_ls == 1) /* the fused ReLU's output is relu(bn_apply(x)): its mask from x */
        return bn_bwd_1p(c, l, M, x, dy, NULL, relu_y != NULL, params, save_mean, save_invstd, grads, dx, NULL, 0);
    CT_TRY(bn_bwd_reduce(c, l, M, x, dy, relu_y, save_mean, save_invstd, grads));
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_dx", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    return ct_run(c, k, 2, g, NULL, "mmmimmmimiim", x, dy, relu_y, M, save_mean, save_invstd, params, l->g_off,
                  grads, l->g_off, l->b_off, dx);
}

int ct_bn_backward_add(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem y, cl_mem params,
                       cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx, cl_mem dout, int acc)
{
    cl_kernel k;
    if (c->tune.red_ls == 1)
        return bn_bwd_1p(c, l, M, x, dy, y, 0, params, save_mean, save_invstd, grads, dx, dout, acc);
    CT_TRY(bn_bwd_reduce(c, l, M, x, dy, y, save_mean, save_invstd, grads));
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_dx_add", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    return ct_run(c, k, 2, g, NULL, "mmmimmmimiimmi", x, dy, y, M, save_mean, save_invstd, params, l->g_off, grads,
                  l->g_off, l->b_off, dx, dout, acc);
}

int ct_bn1d_forward(ct_ctx *c, const ct_bn *l, int N, int training, cl_mem x, cl_mem params, cl_mem state,
                    cl_mem save_mean, cl_mem save_invstd, cl_mem y, int relu)
{
    cl_kernel k;
    if (N < 1 || l->C < 1) return ct_fail(CT_ERR_RUNTIME, "batchnorm1d on %d rows of %d features", N, l->C);
    if (training) {
        CT_TRY(ct_kernel(c, "batchnorm", "bn1d_stats", &k));
        size_t g = (size_t)l->C;
        CT_TRY(ct_run(c, k, 1, &g, NULL, "miimmmiiffi", x, N, l->C, save_mean, save_invstd, state, l->rm_off,
                      l->rv_off, bn_eps(l), bn_momentum(l), 1));
    }
    CT_TRY(ct_kernel(c, "batchnorm", "bn1d_apply", &k));
    size_t g[2] = {(size_t)l->C, (size_t)N};
    if (training)
        return ct_run(c, k, 2, g, NULL, "mmiimimiifmiii", x, y, N, l->C, save_mean, 0, save_invstd, 0, 0, bn_eps(l),
                      params, l->g_off, l->b_off, relu);
    return ct_run(c, k, 2, g, NULL, "mmiimimiifmiii", x, y, N, l->C, state, l->rm_off, state, l->rv_off, 1,
                  bn_eps(l), params, l->g_off, l->b_off, relu);
}

int ct_bn1d_backward(ct_ctx *c, const ct_bn *l, int N, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                     cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "batchnorm", "bn1d_bwd_reduce", &k));
    size_t g1 = (size_t)l->C;
    CT_TRY(ct_run(c, k, 1, &g1, NULL, "mmmiimmmii", x, dy, relu_y, N, l->C, save_mean, save_invstd, grads, l->g_off,
                  l->b_off));
    if (!dx) return CT_OK;
    CT_TRY(ct_kernel(c, "batchnorm", "bn1d_bwd_dx", &k));
    size_t g[2] = {(size_t)l->C, (size_t)N};
    return ct_run(c, k, 2, g, NULL, "mmmiimmmimiim", x, dy, relu_y, N, l->C, save_mean, save_invstd, params, l->g_off,
                  grads, l->g_off, l->b_off, dx);
}

/* --- the same in steps, for data-parallel synchronised BatchNorm (nn/bn_sync.c) --------------- */

void ct_bn_hyper(const ct_bn *l, float *eps, float *momentum)
{
    *eps = bn_eps(l);
    *momentum = bn_momentum(l);
}

int ct_bn_stats_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem state, cl_mem save_mean,
                     cl_mem save_invstd, int update_running)
{
    cl_kernel k;
    if (oned) {
        CT_TRY(ct_kernel(c, "batchnorm", "bn1d_stats", &k));
        size_t g = (size_t)l->C;
        return ct_run(c, k, 1, &g, NULL, "miimmmiiffi", x, M, l->C, save_mean, save_invstd, state, l->rm_off,
                      l->rv_off, bn_eps(l), bn_momentum(l), update_running);
    }
    CT_TRY(ct_kernel(c, "batchnorm", "bn_stats", &k));
    size_t ls = (size_t)c->tune.red_ls, g = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g, &ls, "mimmmiiffi", x, M, save_mean, save_invstd, state, l->rm_off, l->rv_off,
                  bn_eps(l), bn_momentum(l), update_running);
}

int ct_bn_apply_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem params, cl_mem save_mean,
                     cl_mem save_invstd, cl_mem y, int relu)
{
    cl_kernel k;
    if (oned) {
        CT_TRY(ct_kernel(c, "batchnorm", "bn1d_apply", &k));
        size_t g[2] = {(size_t)l->C, (size_t)M};
        return ct_run(c, k, 2, g, NULL, "mmiimimiifmiii", x, y, M, l->C, save_mean, 0, save_invstd, 0, 0, bn_eps(l),
                      params, l->g_off, l->b_off, relu);
    }
    CT_TRY(ct_kernel(c, "batchnorm", "bn_apply", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    return ct_run(c, k, 2, g, NULL, "mmimimiifmiii", x, y, M, save_mean, 0, save_invstd, 0, 0, bn_eps(l), params,
                  l->g_off, l->b_off, relu);
}

int ct_bn_bwd_reduce_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem dy, cl_mem relu_y,
                          cl_mem save_mean, cl_mem save_invstd, cl_mem grads)
{
    cl_kernel k;
    if (oned) {
        CT_TRY(ct_kernel(c, "batchnorm", "bn1d_bwd_reduce", &k));
        size_t g1 = (size_t)l->C;
        return ct_run(c, k, 1, &g1, NULL, "mmmiimmmii", x, dy, relu_y, M, l->C, save_mean, save_invstd, grads,
                      l->g_off, l->b_off);
    }
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_reduce", &k));
    size_t ls = (size_t)c->tune.red_ls, g1 = (size_t)l->C * ls;
    return ct_run(c, k, 1, &g1, &ls, "mmmimmmii", x, dy, relu_y, M, save_mean, save_invstd, grads, l->g_off,
                  l->b_off);
}

int ct_bn_bwd_dx_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                      cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx)
{
    cl_kernel k;
    if (oned) {
        CT_TRY(ct_kernel(c, "batchnorm", "bn1d_bwd_dx", &k));
        size_t g[2] = {(size_t)l->C, (size_t)M};
        return ct_run(c, k, 2, g, NULL, "mmmiimmmimiim", x, dy, relu_y, M, l->C, save_mean, save_invstd, params,
                      l->g_off, grads, l->g_off, l->b_off, dx);
    }
    CT_TRY(ct_kernel(c, "batchnorm", "bn_bwd_dx", &k));
    size_t g[2] = {ceil_div((size_t)M, (size_t)c->tune.ew_vw), (size_t)l->C};
    return ct_run(c, k, 2, g, NULL, "mmmimmmimiim", x, dy, relu_y, M, save_mean, save_invstd, params, l->g_off, grads,
                  l->g_off, l->b_off, dx);
}
