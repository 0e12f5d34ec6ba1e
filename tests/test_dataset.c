/* test_dataset.c: data sets (src/data): IDX sets of any size (a Fashion-MNIST subset and a
 * generated 5 x 7 set), image-folder sets (RGB and gray fixtures, sorted classes, CHW
 * layout), the refusals with the file named, network checks and the JSON metadata helpers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common.h"
#include "data/dataset.h"
#include "idx.h"
#include "image.h"
#include "md5.h"
#include "testutil.h"

static void test_fashion_idx(void)
{
    ct_dataset tr, te;
    TU_CHECK(ct_dataset_detect("fixtures/fashion-small") == CT_DATA_IDX, "fashion-small is IDX");
    int rc = ct_dataset_load("fixtures/fashion-small", 1, &tr);
    TU_CHECK(rc == CT_OK, "load fashion-small train: %s", ct_last_error());
    if (rc) return;
    TU_CHECK(tr.n == 40 && tr.c == 1 && tr.h == 28 && tr.w == 28 && tr.classes == 10, "40 x 1x28x28, 10 classes");
    /* Fashion-MNIST's first training items are an ankle boot (9) and a T-shirt (0) */
    TU_CHECK(tr.labels[0] == 9 && tr.labels[1] == 0, "first labels %u %u", tr.labels[0], tr.labels[1]);
    TU_CHECK(!strcmp(tr.class_names[0], "0") && !strcmp(tr.class_names[9], "9"), "IDX class names are digits");
    long sum = 0;
    for (size_t i = 0; i < 784; i++) sum += tr.images[i];
    TU_CHECK(sum > 10000, "first image has ink (%ld)", sum);
    rc = ct_dataset_load("fixtures/fashion-small", 0, &te);
    TU_CHECK(rc == CT_OK && te.n == 20, "load fashion-small test: %s", ct_last_error());
    if (rc == CT_OK) {
        TU_CHECK(ct_dataset_check_pair(&tr, &te) == CT_OK, "train/test pair: %s", ct_last_error());
        char *j = NULL;
        TU_CHECK(ct_dataset_md5_json(&tr, &te, &j) == CT_OK && j, "md5 json");
        TU_CHECK(j && strstr(j, "\"train-images\":\"") && strstr(j, "\"t10k-labels\":\""), "md5 keys: %s", j ? j : "(null)");
        free(j);
        ct_dataset_free(&te);
    }
    TU_CHECK(ct_dataset_check_network(&tr, 1, 28, 28, 10, "net") == CT_OK, "DigitCNN fits");
    rc = ct_dataset_check_network(&tr, 3, 32, 32, 10, "net.yaml: network");
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "{channels: 1, height: 28, width: 28}"), "input mismatch: %s",
             ct_last_error());
    rc = ct_dataset_check_network(&tr, 1, 28, 28, 3, "net.yaml: network");
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "has 10 classes; make the last layer's width 10"),
             "classes mismatch: %s", ct_last_error());
    ct_dataset_free(&tr);
}

/* An IDX set of 5 x 7 images with labels up to 11 (12 classes), built in memory. */
static void test_idx_any_size(void)
{
    unsigned char img[16 + 3 * 35], lab[8 + 3];
    memset(img, 0, sizeof img);
    memset(lab, 0, sizeof lab);
    img[2] = 8, img[3] = 3, img[7] = 3, img[11] = 5, img[15] = 7;
    for (int i = 0; i < 105; i++) img[16 + i] = (unsigned char)i;
    lab[2] = 8, lab[3] = 1, lab[7] = 3;
    lab[8] = 2, lab[9] = 11, lab[10] = 0;
    ct_mnist m;
    int rc = ct_idx_set_parse(img, sizeof img, "img", lab, sizeof lab, "lab", &m);
    TU_CHECK(rc == CT_OK && m.rows == 5 && m.cols == 7 && m.n == 3 && m.labels[1] == 11, "5x7 set: %s",
             ct_last_error());
    ct_mnist_free(&m);
    /* MNIST keeps its own rules */
    rc = ct_mnist_parse(img, sizeof img, "img", lab, sizeof lab, "lab", &m);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "images are 5 x 7 pixels (at byte 8), expected 28 x 28"),
             "mnist refuses 5x7: %s", ct_last_error());
    img[11] = 0; /* 0 x 7 */
    rc = ct_idx_set_parse(img, 16, "img", lab, sizeof lab, "lab", &m);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "an image needs at least 1 x 1"), "0 rows: %s",
             ct_last_error());
}

static void test_folder_rgb(void)
{
    ct_dataset tr, te;
    TU_CHECK(ct_dataset_detect("fixtures/imagefolder") == CT_DATA_FOLDER, "imagefolder is a folder set");
    int rc = ct_dataset_load("fixtures/imagefolder", 1, &tr);
    TU_CHECK(rc == CT_OK, "load imagefolder: %s", ct_last_error());
    if (rc) return;
    TU_CHECK(tr.n == 12 && tr.c == 3 && tr.h == 8 && tr.w == 8 && tr.classes == 3, "12 x 3x8x8 in 3 classes (%zu %d %d)",
             tr.n, tr.c, tr.classes);
    TU_CHECK(!strcmp(tr.class_names[0], "circle") && !strcmp(tr.class_names[1], "cross") &&
             !strcmp(tr.class_names[2], "square"), "sorted class names");
    TU_CHECK(tr.labels[0] == 0 && tr.labels[4] == 1 && tr.labels[11] == 2, "labels follow the class folders");
    /* CHW: the square class is blue, so channel 2 outweighs channel 0 in its pictures */
    const uint8_t *sq = tr.images + 8 * ct_dataset_image_size(&tr);
    long r = 0, b = 0;
    for (int p = 0; p < 64; p++) r += sq[p], b += sq[128 + p];
    TU_CHECK(b > r + 64 * 20, "channel 2 (blue) %ld > channel 0 (red) %ld for a square", b, r);
    /* the pixel (0,0) of circle_0.png read directly */
    ct_image im;
    rc = ct_image_load_rgb("fixtures/imagefolder/train/circle/circle_0.png", &im);
    TU_CHECK(rc == CT_OK && im.color && tr.images[0] == im.rgb[0] && tr.images[64] == im.rgb[1] &&
             tr.images[128] == im.rgb[2], "pixel (0,0) in CHW order");
    ct_image_free(&im);
    rc = ct_dataset_load("fixtures/imagefolder", 0, &te);
    TU_CHECK(rc == CT_OK && te.n == 6 && ct_dataset_check_pair(&tr, &te) == CT_OK, "test split: %s", ct_last_error());
    char *j = NULL;
    TU_CHECK(ct_dataset_md5_json(&tr, &te, &j) == CT_OK && j && strstr(j, "\"train\":\"") && strstr(j, "\"test\":\""),
             "folder md5 keys: %s", j ? j : "(null)");
    free(j);
    j = NULL;
    TU_CHECK(ct_dataset_class_names_json(&tr, &j) == CT_OK, "class names json: %s", ct_last_error());
    TU_CHECK(j && !strcmp(j, "[\"circle\",\"cross\",\"square\"]"), "class names json %s", j ? j : "(null)");
    char **names;
    int n;
    TU_CHECK(ct_class_names_from_json(j, "m.safetensors", &names, &n) == CT_OK && n == 3 && !strcmp(names[2], "square"),
             "class names round trip");
    ct_class_names_free(names, n);
    free(j);
    rc = ct_class_names_from_json("[1,2]", "m.safetensors", &names, &n);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "m.safetensors: metadata 'class_names' item 0 is not a string"),
             "bad names json: %s", ct_last_error());
    const char *mine[] = {"ring", "x", "box"};
    TU_CHECK(ct_dataset_set_class_names(&tr, mine, 3) == CT_OK && !strcmp(tr.class_names[1], "x"), "set names");
    rc = ct_dataset_set_class_names(&tr, mine, 2);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "data.class_names has 2 names but the data set"),
             "names count: %s", ct_last_error());
    ct_dataset_free(&te);
    ct_dataset_free(&tr);
}

static void test_folder_gray(void)
{
    ct_dataset tr;
    int rc = ct_dataset_load("fixtures/imagefolder-gray", 1, &tr);
    TU_CHECK(rc == CT_OK && tr.c == 1 && tr.n == 12 && tr.h == 8, "gray set has 1 channel: %s", ct_last_error());
    if (rc == CT_OK) {
        ct_image im;
        rc = ct_image_load("fixtures/imagefolder-gray/train/square/square_3.png", &im);
        TU_CHECK(rc == CT_OK && !memcmp(im.pixels, tr.images + 11 * 64, 64), "last picture is square_3.png");
        ct_image_free(&im);
    }
    ct_dataset_free(&tr);
}

static void expect_bad(const char *dir, int train, const char *want)
{
    ct_dataset d;
    int rc = ct_dataset_load(dir, train, &d);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), want), "%s: expected '%s', got: %s", dir, want,
             ct_last_error());
    TU_CHECK(d.images == NULL && d.n == 0, "%s: nothing kept", dir);
}

int main(void)
{
    test_fashion_idx();
    test_idx_any_size();
    test_folder_rgb();
    test_folder_gray();
    expect_bad("fixtures/imagefolder-bad/mixed", 1,
               "imagefolder-bad/mixed/train/b/2.png: picture is 9 x 8 pixels but the data set's pictures are 8 x 8");
    expect_bad("fixtures/imagefolder-bad/empty", 1, "imagefolder-bad/empty/train/c: class 'c' has no pictures");
    expect_bad("fixtures/imagefolder-bad/unreadable", 1,
               "imagefolder-bad/unreadable/train/b/1.png: not a PNG or PGM image");
    expect_bad("fixtures/imagefolder-bad/notest", 0, "imagefolder-bad/notest/test: no test/ folder");
    expect_bad("fixtures/no-such-folder", 1, "MNIST training images not found");
    return tu_finish();
}
