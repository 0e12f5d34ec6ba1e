/* verify_data.c: `cltrain verify` checks of the batch preparation kernel (cl/augment.cl)
 * against its C mirror: normalisation only and random affine augmentation on 1 x 28 x 28
 * digits, and a 3 x 12 x 10 color batch with per-channel normalisation and the left-right
 * mirror. */
#include <stdlib.h>

#include "augment.h"
#include "verify_int.h"

/* One batch of N random C x H x W images through the kernel and ct_augment_ref. */
static int check_prepare(vctx *v, const char *name, ct_augment *a, int N, uint64_t seed, unsigned step)
{
    const int C = a->c > 0 ? a->c : 1, H = a->c > 0 ? a->h : 28, W = a->c > 0 ? a->w : 28;
    const size_t isz = (size_t)C * H * W, n = (size_t)N * isz;
    uint8_t *src = malloc(n);
    float *want = vf_harr(v, n, 0, 0);
    if (!src) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    VF_HOST(want);
    for (size_t i = 0; i < n; i++) src[i] = (uint8_t)(vf_rnd(v, 0, 256));
    cl_mem dsrc = NULL, ddst;
    int rc = vf_dbuf(v, n, NULL, &ddst);
    if (rc == CT_OK) rc = ct_buffer_create(v->c, n, "verify: raw batch", &dsrc);
    if (rc == CT_OK) rc = ct_buffer_write(v->c, dsrc, 0, n, src);
    if (rc == CT_OK) rc = ct_batch_prepare(v->c, a, N, dsrc, ddst, seed, step);
    float *got = NULL;
    if (rc == CT_OK) rc = vf_readback(v, ddst, n, &got);
    if (rc == CT_OK) {
        ct_augment_ref(a, N, src, want, seed, step);
        vf_check(v, name, got, want, n, a->enabled ? 2e-4f : 1e-6f, 1e-4f);
    }
    if (dsrc) clReleaseMemObject(dsrc);
    free(src);
    return rc;
}

int ct_verify_data(vctx *v)
{
    ct_augment a = {0};
    a.rotation_degrees = 15, a.translation = 0.1f, a.scale_min = 0.9f, a.scale_max = 1.1f;
    a.mean = 0.1307f, a.std = 0.3081f;
    CT_TRY(check_prepare(v, "batch prepare 1x28x28 (normalise)", &a, 5, 42, 0));
    a.enabled = 1;
    CT_TRY(check_prepare(v, "batch prepare 1x28x28 augmented", &a, 5, 42, 3));
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    ct_augment_set_shape(&a, 3, 12, 10, mean, std);
    a.hflip = 1;
    CT_TRY(check_prepare(v, "batch prepare 3x12x10 augmented + flip", &a, 7, 9, 1));
    vf_release(v);
    return CT_OK;
}
