/* layer_fc.c: Linear(IN, OUT) on (N, IN) rows, products through CLBlast (or our gemm kernels
 * when tune.fc_clblast is 0), bias (+ReLU) and the bias gradient through our kernels. PyTorch's weight layout (OUT, IN) is kept as is.
 *  forward:  y = x W^T + b           (CLBlast: N x OUT x IN, B transposed)
 *  backward: dx = dy W; dW = dy^T x; db = column sums of dy
 * Without a bias (b_off < 0, Linear(bias=False)) the epilogue is the ReLU alone, in place. */
#include <clblast_c.h>

#include "ops.h"

static int sgemm(ct_ctx *c, CLBlastTranspose ta, CLBlastTranspose tb, size_t m, size_t n, size_t k, cl_mem a,
                 size_t a_off, size_t lda, cl_mem b, size_t b_off, size_t ldb, cl_mem cm, size_t c_off, size_t ldc)
{
    cl_event ev = NULL;
    CLBlastStatusCode st = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, m, n, k, 1.0f, a, a_off, lda, b, b_off, ldb,
                                        0.0f, cm, c_off, ldc, &c->queue, c->profiling ? &ev : NULL);
    if (st != CLBlastSuccess)
        return ct_fail(st == CLBlastOpenCLOutOfResources || st == CLBlastOpenCLOutOfHostMemory ? CT_ERR_NOMEM
                                                                                               : CT_ERR_RUNTIME,
                       "CLBlast SGEMM (%zu x %zu x %zu) failed with status %d on '%s'", m, n, k, (int)st,
                       c->dev.name);
    if (ev) ct_prof_record(c, ev, "clblast_sgemm");
    return CT_OK;
}

int ct_fc_forward(ct_ctx *c, const ct_fc *l, int N, cl_mem x, cl_mem params, cl_mem y, int relu)
{
    if (!c->tune.fc_clblast)
        CT_TRY(ct_gemm_nt(c, N, l->out, l->in, x, 0, l->in, params, l->w_off, l->in, y, 0, l->out, 0));
    else CT_TRY(sgemm(c, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)N, (size_t)l->out, (size_t)l->in, x, 0,
                 (size_t)l->in, params, (size_t)l->w_off, (size_t)l->in, y, 0, (size_t)l->out));
    if (l->b_off < 0) return relu ? ct_act_forward(c, CT_ACT_RELU, 0.0f, (size_t)N * (size_t)l->out, y, y) : CT_OK;
    cl_kernel k;
    CT_TRY(ct_kernel(c, "act", "bias_act_fwd", &k));
    size_t g[2] = {(size_t)l->out, (size_t)N};
    return ct_run(c, k, 2, g, NULL, "mmiiii", y, params, l->b_off, N, l->out, relu);
}

int ct_fc_backward(ct_ctx *c, const ct_fc *l, int N, cl_mem x, cl_mem dy, cl_mem params, cl_mem grads, cl_mem dx)
{
    if (!c->tune.fc_clblast) {
        /* dW (OUT, IN) = dy^T x: op(A)(m, k) = dy[k*OUT + m]; dx (N, IN) = dy W */
        CT_TRY(ct_gemm_nn(c, l->out, l->in, N, dy, 0, 1, l->out, x, 0, l->in, grads, l->w_off, l->in, NULL, 0, 0));
        if (l->b_off >= 0) CT_TRY(ct_colsum(c, N, l->out, dy, 0, grads, l->b_off));
        if (!dx) return CT_OK;
        return ct_gemm_nn(c, N, l->in, l->out, dy, 0, l->out, 1, params, l->w_off, l->in, dx, 0, l->in, NULL, 0, 0);
    }
    /* dW (OUT, IN) = dy^T (OUT, N) x (N, IN) */
    CT_TRY(sgemm(c, CLBlastTransposeYes, CLBlastTransposeNo, (size_t)l->out, (size_t)l->in, (size_t)N, dy, 0,
                 (size_t)l->out, x, 0, (size_t)l->in, grads, (size_t)l->w_off, (size_t)l->in));
    if (l->b_off >= 0) CT_TRY(ct_colsum(c, N, l->out, dy, 0, grads, l->b_off));
    if (!dx) return CT_OK;
    /* dx (N, IN) = dy (N, OUT) W (OUT, IN) */
    return sgemm(c, CLBlastTransposeNo, CLBlastTransposeNo, (size_t)N, (size_t)l->in, (size_t)l->out, dy, 0,
                 (size_t)l->out, params, (size_t)l->w_off, (size_t)l->in, dx, 0, (size_t)l->in);
}
