/* test_predict_input.c: pictures as inputs of models that are not 1 x 28 x 28 (predict):
 * RGB and gray channels in CHW order, scaling to [0,1], bilinear resizing with half-pixel
 * centres (PyTorch's interpolate(mode="bilinear", align_corners=False)) up and down, and the
 * refusal of other channel counts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "image.h"
#include "predict.h"
#include "testutil.h"

static void test_fixture_picture(void)
{
    ct_image im;
    int rc = ct_image_load_rgb("fixtures/imagefolder/train/square/square_1.png", &im);
    TU_CHECK(rc == CT_OK && im.width == 8 && im.height == 8 && im.color, "load: %s", ct_last_error());
    if (rc) return;
    float rgb[3 * 64], gray[64], want[3 * 64], wantg[64];
    for (int p = 0; p < 64; p++) {
        for (int c = 0; c < 3; c++) want[c * 64 + p] = im.rgb[3 * p + c] / 255.0f;
        wantg[p] = im.pixels[p] / 255.0f;
    }
    TU_CHECK(ct_picture_to_input(&im, 3, 8, 8, rgb) == CT_OK, "RGB: %s", ct_last_error());
    tu_close("same size RGB: CHW samples / 255", rgb, want, 192, 1e-7f, 0);
    TU_CHECK(ct_picture_to_input(&im, 1, 8, 8, gray) == CT_OK, "gray: %s", ct_last_error());
    tu_close("same size gray: luma / 255", gray, wantg, 64, 1e-7f, 0);
    float two[2 * 64];
    rc = ct_picture_to_input(&im, 2, 8, 8, two);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "the model takes 2-channel images"), "2 channels: %s",
             ct_last_error());
    ct_image_free(&im);
}

/* A horizontal ramp v = 20 x + 7 (and a vertical one in G): bilinear sampling with half-pixel
 * centres is exact on it wherever no edge clamps. */
static void test_resize(void)
{
    enum { SW = 8, SH = 6 };
    ct_image im;
    memset(&im, 0, sizeof im);
    im.width = SW, im.height = SH;
    im.pixels = malloc(SW * SH);
    im.rgb = malloc(3 * SW * SH);
    for (int y = 0; y < SH; y++)
        for (int x = 0; x < SW; x++) {
            int p = y * SW + x;
            im.pixels[p] = (uint8_t)(20 * x + 7);
            im.rgb[3 * p] = (uint8_t)(20 * x + 7);
            im.rgb[3 * p + 1] = (uint8_t)(30 * y + 5);
            im.rgb[3 * p + 2] = 200;
        }
    const int sizes[][2] = {{16, 12}, {4, 3}, {5, 7}, {8, 6}};
    for (int t = 0; t < 4; t++) {
        const int dw = sizes[t][0], dh = sizes[t][1];
        float *out = malloc(sizeof(float) * 3 * (size_t)dw * dh);
        TU_CHECK(ct_picture_to_input(&im, 3, dh, dw, out) == CT_OK, "resize %dx%d: %s", dw, dh, ct_last_error());
        double worst = 0;
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                double fx = (x + 0.5) * SW / dw - 0.5, fy = (y + 0.5) * SH / dh - 0.5;
                fx = fx < 0 ? 0 : fx > SW - 1 ? SW - 1 : fx;
                fy = fy < 0 ? 0 : fy > SH - 1 ? SH - 1 : fy;
                double r = (20 * fx + 7) / 255, g = (30 * fy + 5) / 255, b = 200 / 255.0;
                double e = fabs(out[y * dw + x] - r);
                e = fmax(e, fabs(out[dw * dh + y * dw + x] - g));
                e = fmax(e, fabs(out[2 * dw * dh + y * dw + x] - b));
                if (e > worst) worst = e;
            }
        TU_CHECK(worst < 2e-6, "resize 8x6 -> %dx%d: bilinear with half-pixel centres (max error %g)", dw, dh, worst);
        free(out);
    }
    ct_image_free(&im);
}

int main(void)
{
    test_fixture_picture();
    test_resize();
    return tu_finish();
}
