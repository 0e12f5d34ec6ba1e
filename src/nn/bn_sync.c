/* nn/bn_sync.c: synchronised BatchNorm for data-parallel training (training.sync_batchnorm):
 * every rank normalises with the mean and variance of the whole global batch and its backward
 * uses the global dgamma/dbeta sums, so N ranks compute what one device does on the whole batch.
 * Forward: local statistics (kernel), then on the host the global mean (sum of count * mean) and
 * variance (sum of count * (var + (mean - global mean)^2)) over the ranks, the saved statistics
 * and the running statistics written back. Backward: the local dgamma/dbeta sums reduced; dx runs
 * with them scaled by local/global count (the kernel divides by the local count); afterwards rank
 * 0 keeps the global sums and the others zero, so the step's gradient reduction adds them once.
 * Small host transfers per BN layer: meant for correctness on any N, not speed. */
#include <math.h>
#include <stdlib.h>

#include "dist/dist.h"
#include "nn/graph_internal.h"

static int oned_of(const ct_node *n) { return n->def->type == CT_L_BATCHNORM1D; }

static int count_of(const ct_node *n, int N)
{
    return oned_of(n) ? N : N * n->def->out.h * n->def->out.w;
}

/* the running statistics as bn_stats updates them, from the global mean and biased variance */
static int update_running(ct_model *m, const ct_bn *l, const double *mean, const double *var, double count)
{
    const int C = l->C;
    float eps, mom;
    ct_bn_hyper(l, &eps, &mom);
    float *rm = malloc((size_t)C * 2 * sizeof *rm);
    if (!rm) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    float *rv = rm + C;
    int rc = ct_buffer_read(m->ctx, m->state, (size_t)l->rm_off * 4, (size_t)C * 4, rm);
    if (rc == CT_OK) rc = ct_buffer_read(m->ctx, m->state, (size_t)l->rv_off * 4, (size_t)C * 4, rv);
    for (int c = 0; rc == CT_OK && c < C; c++) {
        float unbiased = (float)(count > 1 ? var[c] * count / (count - 1) : var[c]);
        rm[c] = (1.0f - mom) * rm[c] + mom * (float)mean[c];
        rv[c] = (1.0f - mom) * rv[c] + mom * unbiased;
    }
    if (rc == CT_OK) rc = ct_buffer_write(m->ctx, m->state, (size_t)l->rm_off * 4, (size_t)C * 4, rm);
    if (rc == CT_OK) rc = ct_buffer_write(m->ctx, m->state, (size_t)l->rv_off * 4, (size_t)C * 4, rv);
    free(rm);
    return rc;
}

/* local (mean, invstd) in save_* -> global ones in save_*, running statistics updated */
static int agree_stats(ct_model *m, const ct_bn *l, double count, cl_mem save_mean, cl_mem save_inv)
{
    const int C = l->C;
    float eps, mom;
    ct_bn_hyper(l, &eps, &mom);
    float *f = malloc((size_t)C * 2 * sizeof *f);
    double *d = malloc(((size_t)C * 3 + 1) * sizeof *d);
    if (!f || !d) {
        free(f);
        free(d);
        return ct_fail(CT_ERR_NOMEM, "out of host memory");
    }
    double *sum = d, *var = d + C + 1, *mean = d + 2 * C + 1;
    int rc = ct_buffer_read(m->ctx, save_mean, 0, (size_t)C * 4, f);
    if (rc == CT_OK) rc = ct_buffer_read(m->ctx, save_inv, 0, (size_t)C * 4, f + C);
    for (int c = 0; c < C; c++) sum[c] = count * f[c];
    sum[C] = count;
    if (rc == CT_OK) rc = ct_dist_sum_f64(sum, (size_t)C + 1);
    const double total = sum[C];
    for (int c = 0; c < C; c++) {
        mean[c] = sum[c] / total;
        double lv = 1.0 / ((double)f[C + c] * f[C + c]) - eps, dm = f[c] - mean[c];
        var[c] = count * (lv + dm * dm);
    }
    if (rc == CT_OK) rc = ct_dist_sum_f64(var, (size_t)C);
    for (int c = 0; c < C; c++) {
        var[c] /= total;
        f[c] = (float)mean[c];
        f[C + c] = (float)(1.0 / sqrt(var[c] + eps));
    }
    if (rc == CT_OK) rc = ct_buffer_write(m->ctx, save_mean, 0, (size_t)C * 4, f);
    if (rc == CT_OK) rc = ct_buffer_write(m->ctx, save_inv, 0, (size_t)C * 4, f + C);
    if (rc == CT_OK) rc = update_running(m, l, mean, var, total);
    free(f);
    free(d);
    return rc;
}

int ct_bn_sync_fwd(ct_model *m, ct_node *n, int N)
{
    const ct_layer_def *d = n->def;
    const int M = count_of(n, N), oned = oned_of(n);
    cl_mem x = ct_g_in(m, d->inputs[0]), y = ct_g_buf(m, n->out);
    cl_mem mean = ct_g_buf(m, n->mean), inv = ct_g_buf(m, n->invstd);
    CT_TRY(ct_bn_stats_step(m->ctx, &n->bn, oned, M, x, m->state, mean, inv, 0));
    CT_TRY(agree_stats(m, &n->bn, (double)M, mean, inv));
    if (n->fuse_add < 0) return ct_bn_apply_step(m->ctx, &n->bn, oned, M, x, m->params, mean, inv, y, n->fuse_relu);
    /* the residual tail (nn/graph.c's plan_residual): then y = relu(y + the add's other input) */
    CT_TRY(ct_bn_apply_step(m->ctx, &n->bn, oned, M, x, m->params, mean, inv, y, 0));
    return ct_add_relu_forward(m->ctx, n->per_image * (size_t)N, y, ct_g_in(m, n->add_other), y);
}

/* dgamma and dbeta of the layer: read (scale 0), or written as g * scale */
static int dg_db(ct_model *m, const ct_bn *l, double *g, double scale, int write)
{
    const int C = l->C;
    float *f = malloc((size_t)C * 2 * sizeof *f);
    if (!f) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    const size_t off[2] = {(size_t)l->g_off * 4, (size_t)l->b_off * 4};
    int rc = CT_OK;
    for (int k = 0; k < 2 && rc == CT_OK; k++) {
        if (write) {
            for (int c = 0; c < C; c++) f[k * C + c] = (float)(g[k * C + c] * scale);
            rc = ct_buffer_write(m->ctx, m->grads, off[k], (size_t)C * 4, f + k * C);
        } else {
            rc = ct_buffer_read(m->ctx, m->grads, off[k], (size_t)C * 4, f + k * C);
            for (int c = 0; rc == CT_OK && c < C; c++) g[k * C + c] = f[k * C + c];
        }
    }
    free(f);
    return rc;
}

int ct_bn_sync_bwd(ct_model *m, ct_node *n, int N, cl_mem dx)
{
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0], M = count_of(n, N), oned = oned_of(n), C = n->bn.C;
    cl_mem x = ct_g_in(m, j), dy = ct_g_buf(m, n->grad), relu_y = n->fuse_relu ? ct_g_buf(m, n->out) : NULL;
    cl_mem mean = ct_g_buf(m, n->mean), inv = ct_g_buf(m, n->invstd);
    CT_TRY(ct_bn_bwd_reduce_step(m->ctx, &n->bn, oned, M, x, dy, relu_y, mean, inv, m->grads));
    double *g = malloc(((size_t)C * 2 + 1) * sizeof *g);
    if (!g) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    int rc = dg_db(m, &n->bn, g, 0, 0);
    g[2 * C] = M;
    if (rc == CT_OK) rc = ct_dist_sum_f64(g, (size_t)C * 2 + 1);
    const double total = g[2 * C];
    if (rc == CT_OK) rc = dg_db(m, &n->bn, g, (double)M / total, 1);
    if (rc == CT_OK)
        rc = ct_bn_bwd_dx_step(m->ctx, &n->bn, oned, M, x, dy, relu_y, m->params, mean, inv, m->grads, dx);
    /* the step's reduction sums the ranks' dgamma/dbeta: rank 0 holds the global sums, others 0 */
    if (rc == CT_OK) rc = dg_db(m, &n->bn, g, ct_dist_rank() == 0 ? 1.0 : 0.0, 1);
    free(g);
    return rc;
}
