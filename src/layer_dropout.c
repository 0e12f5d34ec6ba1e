/* layer_dropout.c: Dropout / Dropout2d with device-generated Philox masks (cl/dropout.cl). */
#include "ops.h"

int ct_dropout_mask(ct_ctx *c, int count, float p, uint64_t seed, unsigned stream, unsigned step, cl_mem mask)
{
    return ct_dropout_mask_at(c, count, p, seed, stream, step, 0, mask);
}

int ct_dropout_mask_at(ct_ctx *c, int count, float p, uint64_t seed, unsigned stream, unsigned step, unsigned base,
                       cl_mem mask)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "dropout", "dropout_mask", &k));
    size_t g = ((size_t)count + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    return ct_run(c, k, 1, &g, NULL, "miffuuuuu", mask, count, p, scale, (unsigned)(seed & 0xffffffffu),
                  (unsigned)(seed >> 32), stream, step, base);
}

int ct_dropout_apply(ct_ctx *c, int n, cl_mem x, cl_mem mask, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "dropout", "dropout_apply", &k));
    size_t g = ((size_t)n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    return ct_run(c, k, 1, &g, NULL, "mmmi", x, mask, y, n);
}

int ct_dropout2d_apply(ct_ctx *c, int C, int N, int HW, cl_mem x, cl_mem mask, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "dropout", "dropout_apply_planes", &k));
    size_t g = (size_t)C * N; /* one work-item per plane */
    return ct_run(c, k, 1, &g, NULL, "mmmiii", x, mask, y, C, N, HW);
}
