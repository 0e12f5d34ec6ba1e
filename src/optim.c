/* optim.c: one optimizer launch over the whole pooled parameter buffer per step. */
#include <math.h>

#include "ops.h"

int ct_adam_step(ct_ctx *c, int n, cl_mem p, cl_mem g, cl_mem m, cl_mem v, float lr, float b1, float b2, float eps,
                 float wd, long step)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "optim", "adam_step", &k));
    double bc1 = 1.0 - pow((double)b1, (double)step);
    double bc2 = 1.0 - pow((double)b2, (double)step);
    size_t gs = ((size_t)n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    return ct_run(c, k, 1, &gs, NULL, "mmmmifffff" "f", p, g, m, v, n, (double)lr / bc1, (double)b1, (double)b2,
                  (double)eps, (double)wd, 1.0 / sqrt(bc2));
}

int ct_sgd_step(ct_ctx *c, int n, cl_mem p, cl_mem g, cl_mem buf, float lr, float mu, float wd)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "optim", "sgd_step", &k));
    size_t gs = ((size_t)n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw;
    return ct_run(c, k, 1, &gs, NULL, "mmmifff", p, g, buf, n, (double)lr, (double)mu, (double)wd);
}
