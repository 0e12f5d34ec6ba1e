/* test_reduce_wg.c: the reductions' work-group size comes from the compiled kernels
 * (CL_KERNEL_WORK_GROUP_SIZE), not from an assumption: asked for more than the kernels allow,
 * ct_ctx_fit_reductions lowers it to a size they accept, and a row sum then runs and is right
 * (the launch used to fail with CL_INVALID_WORK_GROUP_SIZE). */
#include "clctx.h"
#include "common.h"
#include "ops.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    ct_ctx *c = NULL;
    int rc = ct_ctx_create(NULL, 0, &c);
    TU_CHECK(rc == CT_OK, "device: %s", ct_last_error());
    if (rc) return tu_finish();
    /* one more than any device allows: the kernels' limit decides */
    size_t too_big = 1;
    while (too_big <= c->dev.max_wg_size) too_big *= 2;
    c->tune.red_ls = (int)too_big;
    rc = ct_ctx_fit_reductions(c);
    TU_CHECK(rc == CT_OK, "fit: %s", ct_last_error());
    cl_kernel k;
    size_t lim = 0;
    if (rc == CT_OK && ct_kernel(c, "reduce", "rowsum", &k) == CT_OK)
        clGetKernelWorkGroupInfo(k, c->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof lim, &lim, NULL);
    TU_CHECK(c->tune.red_ls > 1 && (size_t)c->tune.red_ls <= lim && (size_t)c->tune.red_ls * 2 > lim,
             "work-group size %d: the largest power of two <= the kernel's %zu (asked %zu)", c->tune.red_ls, lim,
             too_big);
    enum { R = 3, L = 5000 };
    float *x = malloc(sizeof(float) * R * L), got[R] = {0};
    double want[R] = {0};
    for (int r = 0; r < R; r++)
        for (int i = 0; i < L; i++) {
            x[r * L + i] = (float)((i * 7 + r * 3) % 11) - 5.0f;
            want[r] += x[r * L + i];
        }
    cl_mem bx = NULL, bo = NULL;
    rc = ct_buffer_create(c, sizeof(float) * R * L, "x", &bx);
    if (rc == CT_OK) rc = ct_buffer_create(c, sizeof got, "sums", &bo);
    if (rc == CT_OK) rc = ct_buffer_write(c, bx, 0, sizeof(float) * R * L, x);
    if (rc == CT_OK) rc = ct_rowsum(c, R, L, bx, bo, 0);
    if (rc == CT_OK) rc = ct_buffer_read(c, bo, 0, sizeof got, got);
    TU_CHECK(rc == CT_OK, "row sums with work-group %d: %s", c->tune.red_ls, ct_last_error());
    for (int r = 0; rc == CT_OK && r < R; r++)
        TU_CHECK(fabs(got[r] - want[r]) < 1e-3, "row %d: %g, want %g", r, got[r], want[r]);
    if (bx) clReleaseMemObject(bx);
    if (bo) clReleaseMemObject(bo);
    free(x);
    ct_ctx_free(c);
    return tu_finish();
}
