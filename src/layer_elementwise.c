/* layer_elementwise.c: add (residual sums, alone or with the ReLU after them) and accumulate
 * (gradient fan-in), cl/elementwise.cl. */
#include "ops.h"

static size_t items(const ct_ctx *c, size_t n) { return (n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw; }

/* y = a + b through `kernel` (add_fwd, or add_relu_fwd with the ReLU) */
static int add_two(ct_ctx *c, const char *kernel, size_t n, cl_mem a, cl_mem b, cl_mem y)
{
    if (n == 0) return CT_OK;
    cl_kernel k;
    CT_TRY(ct_kernel(c, "elementwise", kernel, &k));
    size_t g = items(c, n);
    return ct_run(c, k, 1, &g, NULL, "mmml", a, b, y, (long long)n);
}

int ct_add_forward(ct_ctx *c, size_t n, cl_mem a, cl_mem b, cl_mem y) { return add_two(c, "add_fwd", n, a, b, y); }

int ct_accumulate(ct_ctx *c, size_t n, cl_mem x, cl_mem y)
{
    if (n == 0) return CT_OK;
    cl_kernel k;
    CT_TRY(ct_kernel(c, "elementwise", "accumulate", &k));
    size_t g = items(c, n);
    return ct_run(c, k, 1, &g, NULL, "mml", x, y, (long long)n);
}

int ct_add_relu_forward(ct_ctx *c, size_t n, cl_mem a, cl_mem b, cl_mem y)
{
    return add_two(c, "add_relu_fwd", n, a, b, y);
}
