/* test_augment.c: the batch-preparation kernel (normalisation and random affine augmentation)
 * against its C mirror; reproducibility from the seed; augmentation really changes images. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "testutil.h"

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(NULL, 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    const int N = 9;
    uint8_t *src = malloc((size_t)N * 784);
    /* a bright off-centre square and a gradient, so any shift or rotation shows */
    for (int n = 0; n < N; n++)
        for (int i = 0; i < 784; i++) {
            int y = i / 28, x = i % 28;
            src[n * 784 + i] = (uint8_t)((x > 6 + n && x < 16 + n && y > 5 && y < 19) ? 255 : (x * 3 + y * 2 + n));
        }
    float *dev = malloc((size_t)N * 784 * sizeof(float)), *ref = malloc((size_t)N * 784 * sizeof(float)),
          *again = malloc((size_t)N * 784 * sizeof(float)), *plain = malloc((size_t)N * 784 * sizeof(float));
    cl_mem dsrc, ddst;
    TU_CHECK(ct_buffer_create(c, (size_t)N * 784, "src", &dsrc) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_buffer_create(c, (size_t)N * 784 * 4, "dst", &ddst) == CT_OK, "%s", ct_last_error());
    ct_buffer_write(c, dsrc, 0, (size_t)N * 784, src);
    ct_augment a = {0, 15.0f, 0.1f, 0.9f, 1.1f, 0.1307f, 0.3081f};
    /* normalisation only */
    TU_CHECK(ct_batch_prepare(c, &a, N, dsrc, ddst, 42, 0) == CT_OK, "%s", ct_last_error());
    ct_buffer_read(c, ddst, 0, (size_t)N * 784 * 4, plain);
    ct_augment_ref(&a, N, src, ref, 42, 0);
    tu_close("normalise (no augmentation)", plain, ref, (size_t)N * 784, 1e-6f, 1e-6f);
    float want0 = (0.0f * 3 - 0.1307f) / 0.3081f; /* pixel (0,0) of image 0 is 0 */
    tu_close("normalise pixel value", &plain[0], &want0, 1, 1e-6f, 0);
    /* augmented: device vs C mirror, for several steps */
    a.enabled = 1;
    for (unsigned step = 0; step < 3; step++) {
        TU_CHECK(ct_batch_prepare(c, &a, N, dsrc, ddst, 42, step) == CT_OK, "%s", ct_last_error());
        ct_buffer_read(c, ddst, 0, (size_t)N * 784 * 4, dev);
        ct_augment_ref(&a, N, src, ref, 42, step);
        tu_close("augment vs C reference", dev, ref, (size_t)N * 784, 2e-4f, 1e-4f);
    }
    /* reproducible: the same seed and step give the same batch */
    ct_batch_prepare(c, &a, N, dsrc, ddst, 42, 2);
    ct_buffer_read(c, ddst, 0, (size_t)N * 784 * 4, again);
    TU_CHECK(memcmp(again, dev, (size_t)N * 784 * 4) == 0, "augmentation is not reproducible");
    /* it changes images, differently per image and per step, and keeps the value range */
    int changed = 0;
    double lo = 1e9, hi = -1e9;
    for (int n = 0; n < N; n++) {
        double d = 0;
        for (int i = 0; i < 784; i++) {
            d += fabs(dev[n * 784 + i] - plain[n * 784 + i]);
            if (dev[n * 784 + i] < lo) lo = dev[n * 784 + i];
            if (dev[n * 784 + i] > hi) hi = dev[n * 784 + i];
        }
        changed += d > 1.0;
    }
    TU_CHECK(changed >= N - 1, "only %d of %d images changed by augmentation", changed, N);
    TU_CHECK(lo >= want0 - 1e-4 && hi <= (1 - 0.1307) / 0.3081 + 1e-4, "values out of range [%g, %g]", lo, hi);
    ct_batch_prepare(c, &a, N, dsrc, ddst, 43, 2);
    ct_buffer_read(c, ddst, 0, (size_t)N * 784 * 4, again);
    TU_CHECK(memcmp(again, dev, (size_t)N * 784 * 4) != 0, "another seed gave the same batch");
    /* zero ranges = identity up to bilinear sampling at pixel centres */
    ct_augment id = {1, 0.0f, 0.0f, 1.0f, 1.0f, 0.1307f, 0.3081f};
    ct_batch_prepare(c, &id, N, dsrc, ddst, 42, 5);
    ct_buffer_read(c, ddst, 0, (size_t)N * 784 * 4, again);
    tu_close("identity transform", again, plain, (size_t)N * 784, 1e-5f, 1e-5f);
    clReleaseMemObject(dsrc);
    clReleaseMemObject(ddst);
    free(src);
    free(dev);
    free(ref);
    free(again);
    free(plain);
    ct_ctx_free(c);
    return tu_finish();
}
