/* layer_act.c: ReLU forward and backward (backward masks by the forward output). */
#include "ops.h"

int ct_relu_forward(ct_ctx *c, int n, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "act", "relu_fwd", &k));
    size_t g = ((size_t)n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    return ct_run(c, k, 1, &g, NULL, "mmi", x, y, n);
}

int ct_relu_backward(ct_ctx *c, int n, cl_mem y, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "act", "relu_bwd", &k));
    size_t g = ((size_t)n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    return ct_run(c, k, 1, &g, NULL, "mmmi", y, dy, dx, n);
}
