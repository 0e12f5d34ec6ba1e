/* layer_pool.c: 2x2 max pooling and adaptive average pooling (see cl/pool.cl). */
#include "ops.h"

int ct_maxpool2_forward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool2_fwd", &k));
    size_t g = (size_t)planes * (size_t)(H / 2); /* one work-item per output row */
    if (g == 0) return CT_OK;
    return ct_run(c, k, 1, &g, NULL, "mmiii", x, y, planes, H, W);
}

int ct_maxpool2_backward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool2_bwd", &k));
    size_t g = (size_t)planes * (size_t)((H + 1) / 2); /* one work-item per pair of input rows */
    return ct_run(c, k, 1, &g, NULL, "mmmiii", x, dy, dx, planes, H, W);
}

int ct_avgpool_forward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool_fwd", &k));
    size_t g = (size_t)N * C; /* one work-item per plane */
    return ct_run(c, k, 1, &g, NULL, "mmiiiiii", x, y, C, N, H, W, OH, OW);
}

int ct_avgpool_backward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool_bwd", &k));
    size_t g = (size_t)C * N; /* one work-item per plane */
    return ct_run(c, k, 1, &g, NULL, "mmiiiiii", dy, dx, C, N, H, W, OH, OW);
}
