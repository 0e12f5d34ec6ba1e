/* gemm.c: launches of the register-blocked matrix products and the bias-gradient sums. */
#include "ops.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

int ct_gemm_nn(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
               cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "gemm", "gemm_nn", &k));
    size_t g[2] = {ceil_div((size_t)N, (size_t)c->tune.gemm_vw), ceil_div((size_t)M, (size_t)c->tune.gemm_tm)};
    const size_t *l = c->tune.gemm_local[0] ? c->tune.gemm_local : NULL;
    return ct_run(c, k, 2, g, l, "iiimiiimiimiimii", M, N, K, A, offA, sam, sak, B, offB, ldb, C, offC, ldc, bias,
                  offBias, accumulate);
}

int ct_gemm_nt(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
               int offC, int ldc, int accumulate)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "gemm", "gemm_nt", &k));
    size_t g[2] = {ceil_div((size_t)N, (size_t)c->tune.gemm_nt_tn), ceil_div((size_t)M, (size_t)c->tune.gemm_nt_tm)};
    const size_t *l = c->tune.gemm_local[0] ? c->tune.gemm_local : NULL;
    return ct_run(c, k, 2, g, l, "iiimiimiimiii", M, N, K, A, offA, lda, B, offB, ldb, C, offC, ldc, accumulate);
}

int ct_rowsum(ct_ctx *c, int R, int L, cl_mem x, cl_mem out, int offOut)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "reduce", "rowsum", &k));
    size_t ls = (size_t)c->tune.red_ls;
    size_t g = (size_t)R * ls;
    return ct_run(c, k, 1, &g, &ls, "mmii", x, out, offOut, L);
}

int ct_colsum(ct_ctx *c, int R, int L, cl_mem x, cl_mem out, int offOut)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "reduce", "colsum", &k));
    size_t g = (size_t)L;
    return ct_run(c, k, 1, &g, NULL, "mmiii", x, out, offOut, R, L);
}
