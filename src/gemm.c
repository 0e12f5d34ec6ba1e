/* gemm.c: launches of the register-blocked matrix products and the bias-gradient sums.
 * The *_ex variants add the panel layouts the convolutions use on CPUs (see cl/gemm.cl);
 * layer_conv.c declares them (they belong in ops.h next to ct_gemm_nn/nt). */
#include "ops.h"

static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }

/* pw: panel width of B (bpanel) and/or C (cpanel) columns; ignored when neither */
int ct_gemm_nn_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
                  cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate, int pw, int bpanel,
                  int cpanel);
int ct_gemm_nt_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
                  int offC, int ldc, int accumulate, int pw);

int ct_gemm_nn_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
                  cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate, int pw, int bpanel,
                  int cpanel)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "gemm", "gemm_nn", &k));
    /* the kernel walks tiles with grid-stride loops: any global size is correct */
    const ct_tune *t = &c->tune;
    const int cols = (bpanel || cpanel) ? pw : t->gemm_vw * t->gemm_nv;
    size_t g[2] = {ceil_div((size_t)N, (size_t)cols), t->gemm_row_loop ? 1 : ceil_div((size_t)M, (size_t)t->gemm_tm)};
    const size_t *l = t->gemm_local[0] ? t->gemm_local : NULL;
    return ct_run(c, k, 2, g, l, "iiimiiimiimiimiiiii", M, N, K, A, offA, sam, sak, B, offB, ldb, C, offC, ldc, bias,
                  offBias, accumulate, pw, bpanel, cpanel);
}

int ct_gemm_nn(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
               cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate)
{
    return ct_gemm_nn_ex(c, M, N, K, A, offA, sam, sak, B, offB, ldb, C, offC, ldc, bias, offBias, accumulate, 0, 0,
                         0);
}

int ct_gemm_nt_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
                  int offC, int ldc, int accumulate, int pw)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "gemm", "gemm_nt", &k));
    const ct_tune *t = &c->tune;
    size_t g[2] = {ceil_div((size_t)N, (size_t)t->gemm_nt_tn),
                   t->gemm_row_loop ? 1 : ceil_div((size_t)M, (size_t)t->gemm_nt_tm)};
    const size_t *l = t->gemm_local[0] ? t->gemm_local : NULL;
    return ct_run(c, k, 2, g, l, "iiimiimiimiiiii", M, N, K, A, offA, lda, B, offB, ldb, C, offC, ldc, accumulate,
                  t->gemm_nt_kc, pw);
}

int ct_gemm_nt(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
               int offC, int ldc, int accumulate)
{
    return ct_gemm_nt_ex(c, M, N, K, A, offA, lda, B, offB, ldb, C, offC, ldc, accumulate, 0);
}

int ct_rowsum(ct_ctx *c, int R, int L, cl_mem x, cl_mem out, int offOut)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "reduce", "rowsum", &k));
    size_t ls = (size_t)c->tune.red_ls;
    size_t g = (size_t)R * ls;
    return ct_run(c, k, 1, &g, &ls, "mmii", x, out, offOut, L);
}

int ct_colsum(ct_ctx *c, int R, int L, cl_mem x, int offX, cl_mem out, int offOut)
{
    cl_kernel k;
    const int v16 = L % 16 == 0 && c->tune.ew_vw >= 16; /* 16 columns per item: CPU profile */
    CT_TRY(ct_kernel(c, "reduce", v16 ? "colsum16" : "colsum", &k));
    size_t g = (size_t)(v16 ? L / 16 : L);
    return ct_run(c, k, 1, &g, NULL, "mimiii", x, offX, out, offOut, R, L);
}
