/* test_preprocess.c: MNIST-style preprocessing: polarity (black on white is inverted, white on
 * black is not, both give the same result), crop + scale (longer side 20) + centre of mass at
 * (14,14) for a digit drawn off-centre, shrinking and enlarging, blank and low-contrast
 * pictures, and MNIST test images from the committed subset sent through the PNG path, which
 * must come back close to the originals. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "idx.h"
#include "image.h"
#include "preprocess.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a "7"-like stroke pair and a ring, ink value `ink` on `paper`, in a w x h canvas at (ox, oy) */
static uint8_t *draw_digit(int w, int h, int ox, int oy, int size, uint8_t paper, uint8_t ink)
{
    uint8_t *px = malloc((size_t)w * h);
    memset(px, paper, (size_t)w * h);
    double t = size / 8.0; /* stroke half-width */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (x - ox) / (double)size, v = (y - oy) / (double)size; /* 0..1 in the box */
            if (u < 0 || u > 1 || v < 0 || v > 1.4) continue;
            double d_top = fabs(v - 0.1) * size;                  /* horizontal bar at the top */
            double d_diag = fabs((0.9 - u) - (v - 0.1) * 0.6) * size; /* diagonal down-left */
            int on = (d_top < t && u > 0.1 && u < 0.9) || (d_diag < t && v > 0.1 && v < 1.3);
            if (on) px[(size_t)y * w + x] = ink;
        }
    return px;
}

static void com_and_box(const float *img, double *cx, double *cy, int *bw, int *bh)
{
    double m = 0, mx = 0, my = 0;
    int x0 = 28, y0 = 28, x1 = -1, y1 = -1;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++) {
            double v = img[y * 28 + x];
            m += v;
            mx += v * x;
            my += v * y;
            if (v > 0) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    *cx = m > 0 ? mx / m : -1;
    *cy = m > 0 ? my / m : -1;
    *bw = x1 - x0 + 1;
    *bh = y1 - y0 + 1;
}

static void test_off_centre_and_polarity(void)
{
    int w = 300, h = 200;
    uint8_t *dark = draw_digit(w, h, 20, 15, 60, 240, 20);   /* black ink on white, top-left */
    uint8_t *light = draw_digit(w, h, 20, 15, 60, 0, 255);   /* white on black */
    float a[784], b[784];
    ct_prep_info ia, ib;
    int rc = ct_preprocess_digit(dark, w, h, a, &ia);
    TU_CHECK(rc == CT_OK, "black on white: %s", rc ? ct_last_error() : "ok");
    TU_CHECK(ia.inverted == 1, "black on white is inverted");
    rc = ct_preprocess_digit(light, w, h, b, &ib);
    TU_CHECK(rc == CT_OK, "white on black: %s", rc ? ct_last_error() : "ok");
    TU_CHECK(ib.inverted == 0, "white on black is not inverted");
    double cx, cy;
    int bw, bh;
    com_and_box(a, &cx, &cy, &bw, &bh);
    TU_CHECK(fabs(cx - 14) <= 0.75 && fabs(cy - 14) <= 0.75, "off-centre digit: centre of mass (%.2f, %.2f) near (14,14)",
             cx, cy);
    TU_CHECK((bw == 20 || bh == 20) && bw <= 20 && bh <= 20, "longer side 20 px (box %dx%d)", bw, bh);
    TU_CHECK(bh > bw, "aspect ratio kept (taller than wide: %dx%d)", bw, bh);
    float lo = 1, hi = 0;
    for (int i = 0; i < 784; i++) {
        if (a[i] < lo) lo = a[i];
        if (a[i] > hi) hi = a[i];
    }
    TU_CHECK(lo == 0 && hi > 0.95f && hi <= 1, "values in [0,1], background 0, ink ~1 (%.3f..%.3f)", lo, hi);
    TU_CHECK(tu_close("polarities agree", a, b, 784, 0.02f, 0), "black-on-white equals white-on-black");
    /* the same digit elsewhere in the canvas gives the same result */
    uint8_t *moved = draw_digit(w, h, 200, 100, 60, 240, 20);
    float c[784];
    rc = ct_preprocess_digit(moved, w, h, c, NULL);
    TU_CHECK(rc == CT_OK && tu_close("translation invariance", c, a, 784, 1e-5f, 0), "moving the digit changes nothing");
    /* a much bigger digit (shrinking with area averaging) lands at the same place and size */
    uint8_t *big = draw_digit(900, 900, 100, 50, 500, 255, 0);
    rc = ct_preprocess_digit(big, 900, 900, c, NULL);
    com_and_box(c, &cx, &cy, &bw, &bh);
    TU_CHECK(rc == CT_OK && fabs(cx - 14) <= 0.75 && fabs(cy - 14) <= 0.75 && bh == 20,
             "big digit: CoM (%.2f, %.2f), box %dx%d", cx, cy, bw, bh);
    /* a tiny digit (enlarging, bilinear) */
    uint8_t *tiny = draw_digit(40, 40, 3, 3, 10, 255, 0);
    rc = ct_preprocess_digit(tiny, 40, 40, c, NULL);
    com_and_box(c, &cx, &cy, &bw, &bh);
    TU_CHECK(rc == CT_OK && fabs(cx - 14) <= 0.75 && fabs(cy - 14) <= 0.75 && bh == 20,
             "tiny digit: CoM (%.2f, %.2f), box %dx%d", cx, cy, bw, bh);
    free(dark);
    free(light);
    free(moved);
    free(big);
    free(tiny);
}

static void test_blank_and_edges(void)
{
    float out[784];
    ct_prep_info info;
    uint8_t flat[50 * 50];
    memset(flat, 255, sizeof flat);
    int rc = ct_preprocess_digit(flat, 50, 50, out, &info);
    TU_CHECK(rc == CT_ERR_INPUT && info.blank && !strncmp(ct_last_error(), "blank image", 11), "white paper is blank: %s",
             ct_last_error());
    memset(flat, 0, sizeof flat);
    rc = ct_preprocess_digit(flat, 50, 50, out, &info);
    TU_CHECK(rc == CT_ERR_INPUT && info.blank, "black is blank");
    for (int i = 0; i < 2500; i++) flat[i] = (uint8_t)(200 + (i * 7919) % 9); /* faint noise only */
    rc = ct_preprocess_digit(flat, 50, 50, out, &info);
    TU_CHECK(rc == CT_ERR_INPUT && info.blank, "faint noise is blank: %s", ct_last_error());
    uint8_t one = 7;
    rc = ct_preprocess_digit(&one, 1, 1, out, &info);
    TU_CHECK(rc == CT_ERR_INPUT && info.blank, "a 1x1 picture is blank");
    /* a horizontal line: 20 wide, thin, kept inside */
    uint8_t line[30 * 100];
    memset(line, 0, sizeof line);
    for (int x = 10; x < 90; x++) line[15 * 100 + x] = line[16 * 100 + x] = 255;
    rc = ct_preprocess_digit(line, 100, 30, out, &info);
    TU_CHECK(rc == CT_OK && info.width == 20 && info.height == 1, "a line scales to 20x1 (%dx%d)", info.width,
             info.height);
    /* ct_normalize */
    float v[3] = {0, 0.1307f, 1};
    ct_normalize(v, 3, 0.1307f, 0.3081f);
    TU_CHECK(fabsf(v[0] + 0.4242129f) < 1e-5f && fabsf(v[1]) < 1e-6f && fabsf(v[2] - 2.8214865f) < 1e-5f,
             "normalize: %f %f %f", v[0], v[1], v[2]);
}

/* MNIST images through PNG encode/decode and preprocessing stay close to the originals */
static void test_mnist_roundtrip(void)
{
    ct_idx x;
    int rc = ct_idx_load("fixtures/mnist-small/t10k-images-idx3-ubyte.gz", &x);
    TU_CHECK(rc == CT_OK, "load the MNIST test subset: %s", rc ? ct_last_error() : "ok");
    if (rc) return;
    int n = 200, close = 0, inverted = 0;
    double worst = 0, sum = 0;
    const uint8_t *px = x.data;
    for (int i = 0; i < n; i++) {
        const uint8_t *src = px + (size_t)i * 784;
        unsigned char *png;
        size_t len;
        ct_image im;
        float out[784], want[784];
        if (ct_image_encode_png_gray8(src, 28, 28, &png, &len) != CT_OK) continue;
        rc = ct_image_parse_png(png, len, "mnist.png", &im);
        free(png);
        if (rc) continue;
        ct_prep_info info;
        rc = ct_preprocess_digit(im.pixels, im.width, im.height, out, &info);
        ct_image_free(&im);
        if (rc) continue;
        inverted += info.inverted;
        double d = 0;
        for (int k = 0; k < 784; k++) {
            want[k] = src[k] / 255.0f;
            d += fabs(out[k] - want[k]);
        }
        d /= 784;
        sum += d;
        if (d > worst) worst = d;
        if (d < 0.02) close++;
    }
    TU_CHECK(inverted == 0, "MNIST images are never inverted (%d were)", inverted);
    TU_CHECK(close >= n * 95 / 100, "%d of %d MNIST images come back within a mean abs difference of 0.02", close, n);
    TU_CHECK(sum / n < 0.01, "mean abs difference %.4f (worst %.4f)", sum / n, worst);
    ct_idx_free(&x);
}

int main(void)
{
    test_off_centre_and_polarity();
    test_blank_and_edges();
    test_mnist_roundtrip();
    return tu_finish();
}
