/* test_augment.c: the batch-preparation kernel (normalisation and random affine augmentation)
 * against its C mirror; reproducibility from the seed; augmentation really changes images;
 * C x H x W images (3 x 12 x 10, channel-major output, per-channel normalisation, one
 * transform for every channel) and the left-right mirror. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
#include "testutil.h"

/* 3 x 12 x 10 images: device vs C mirror, layout, per-channel normalisation, mirror. */
static void test_color(ct_ctx *c)
{
    enum { N = 7, C = 3, H = 12, W = 10, HW = H * W, IMG = C * HW };
    uint8_t src[N * IMG];
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < HW; p++) {
                int y = p / W, x = p % W;
                src[(n * C + ch) * HW + p] =
                    (uint8_t)((x > 1 + n % 4 && x < 6 && y > 2 && y < 9) ? 200 + 20 * ch : (x * 9 + y * 5 + 30 * ch));
            }
    static float dev[N * IMG], ref[N * IMG], plain[N * IMG];
    cl_mem dsrc, ddst;
    TU_CHECK(ct_buffer_create(c, sizeof src, "src", &dsrc) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_buffer_create(c, sizeof dev, "dst", &ddst) == CT_OK, "%s", ct_last_error());
    ct_buffer_write(c, dsrc, 0, sizeof src, src);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    ct_augment a = {0, 20.0f, 0.15f, 0.8f, 1.2f, 0, 1, 0, 0, 0, 0, {0}, {0}, 0};
    ct_augment_set_shape(&a, C, H, W, mean, std);
    TU_CHECK(ct_batch_prepare(c, &a, N, dsrc, ddst, 7, 0) == CT_OK, "%s", ct_last_error());
    ct_buffer_read(c, ddst, 0, sizeof plain, plain);
    ct_augment_ref(&a, N, src, ref, 7, 0);
    tu_close("C=3 normalise: device vs C", plain, ref, (size_t)N * IMG, 1e-6f, 1e-6f);
    /* channel-major: element (c, n, y, x) is pixel (y, x) of channel c of image n */
    int layout_ok = 1;
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++)
            for (int p = 0; p < HW; p++) {
                float want = (src[(n * C + ch) * HW + p] / 255.0f - mean[ch]) / std[ch];
                if (fabsf(plain[(ch * N + n) * HW + p] - want) > 1e-5f) layout_ok = 0;
            }
    TU_CHECK(layout_ok, "C=3 output is (C, N, H, W) with per-channel mean/std");
    a.enabled = 1;
    for (int flip = 0; flip < 2; flip++) {
        a.hflip = flip;
        for (unsigned step = 0; step < 3; step++) {
            TU_CHECK(ct_batch_prepare(c, &a, N, dsrc, ddst, 7, step) == CT_OK, "%s", ct_last_error());
            ct_buffer_read(c, ddst, 0, sizeof dev, dev);
            ct_augment_ref(&a, N, src, ref, 7, step);
            tu_close(flip ? "C=3 12x10 augment+flip: device vs C" : "C=3 12x10 augment: device vs C", dev, ref,
                     (size_t)N * IMG, 2e-4f, 1e-4f);
        }
    }
    /* one transform for every channel: where channel 0 shows the square, so do the others */
    int same = 1;
    for (int n = 0; n < N; n++)
        for (int p = 0; p < HW; p++) {
            float v0 = dev[(0 * N + n) * HW + p] * std[0] + mean[0], v2 = dev[(2 * N + n) * HW + p] * std[2] + mean[2];
            if ((v0 > 0.75f) != (v2 > 0.75f + 40 / 255.0f) && fabsf(v0 - 200 / 255.0f) < 0.01f) same = 0;
        }
    TU_CHECK(same, "the channels of an image move together");
    /* the mirror alone: each image is either unchanged or mirrored, and both happen */
    ct_augment f = a;
    f.rotation_degrees = 0, f.translation = 0, f.scale_min = f.scale_max = 1, f.hflip = 1;
    int mirrored = 0, kept = 0;
    for (unsigned step = 0; step < 4; step++) {
        TU_CHECK(ct_batch_prepare(c, &f, N, dsrc, ddst, 11, step) == CT_OK, "%s", ct_last_error());
        ct_buffer_read(c, ddst, 0, sizeof dev, dev);
        ct_augment_ref(&f, N, src, ref, 11, step);
        tu_close("mirror only: device vs C", dev, ref, (size_t)N * IMG, 1e-5f, 1e-5f);
        for (int n = 0; n < N; n++) {
            int is_kept = 1, is_mirror = 1;
            for (int ch = 0; ch < C; ch++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float got = dev[((ch * N + n) * H + y) * W + x];
                        if (fabsf(got - plain[((ch * N + n) * H + y) * W + x]) > 1e-5f) is_kept = 0;
                        if (fabsf(got - plain[((ch * N + n) * H + y) * W + (W - 1 - x)]) > 1e-5f) is_mirror = 0;
                    }
            TU_CHECK(is_kept || is_mirror, "image %d step %u is neither kept nor mirrored", n, step);
            kept += is_kept;
            mirrored += is_mirror && !is_kept;
        }
    }
    TU_CHECK(mirrored >= 5 && kept >= 5, "mirror p = 0.5: %d of %d mirrored", mirrored, 4 * N);
    clReleaseMemObject(dsrc);
    clReleaseMemObject(ddst);
}

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(tu_device(), 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    test_color(c);
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
    ct_augment a = {0, 15.0f, 0.1f, 0.9f, 1.1f, 0.1307f, 0.3081f, 0, 0, 0, 0, {0}, {0}, 0};
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
    ct_augment id = {1, 0.0f, 0.0f, 1.0f, 1.0f, 0.1307f, 0.3081f, 0, 0, 0, 0, {0}, {0}, 0};
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
