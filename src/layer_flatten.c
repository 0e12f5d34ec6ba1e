/* layer_flatten.c: channel-major (C, N, HW) activations to (N, C*HW) rows and back
 * (torch.flatten(x, 1) order), cl/flatten.cl. */
#include "ops.h"

static int run(ct_ctx *c, const char *name, int C, int N, int HW, cl_mem in, cl_mem out)
{
    if (C <= 0 || N <= 0 || HW <= 0) return CT_OK;
    cl_kernel k;
    CT_TRY(ct_kernel(c, "flatten", name, &k));
    size_t g[2] = {(size_t)C, (size_t)N};
    return ct_run(c, k, 2, g, NULL, "mmiii", in, out, C, N, HW);
}

int ct_flatten_forward(ct_ctx *c, int C, int N, int HW, cl_mem x, cl_mem y)
{
    return run(c, "flatten_fwd", C, N, HW, x, y);
}

int ct_flatten_backward(ct_ctx *c, int C, int N, int HW, cl_mem dy, cl_mem dx)
{
    return run(c, "flatten_bwd", C, N, HW, dy, dx);
}
