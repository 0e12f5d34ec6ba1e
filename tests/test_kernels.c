/* test_kernels.c: every kernel and a whole DigitCNN training step on the OpenCL device
 * (POCL in CI) against the plain-C reference, through the same checks `cltrain verify` runs. */
#include <stdio.h>

#include "testutil.h"
#include "verify.h"

int main(void)
{
    ct_ctx *c;
    int rc = ct_ctx_create(tu_device(), 0, &c);
    TU_CHECK(rc == CT_OK, "no OpenCL device: %s", ct_last_error());
    if (rc) return tu_finish();
    char desc[1024];
    ct_tune_describe(c, desc, sizeof desc);
    printf("device: %s\n%s\n", c->dev.name, desc);
    ct_verify_result res;
    rc = ct_verify_run(c, stdout, &res);
    TU_CHECK(rc == CT_OK, "verification could not run: %s", ct_last_error());
    TU_CHECK(res.fail == 0, "%d kernel checks failed", res.fail);
    TU_CHECK(res.pass >= 100, "only %d checks ran", res.pass);
    ct_ctx_free(c);
    return tu_finish();
}
