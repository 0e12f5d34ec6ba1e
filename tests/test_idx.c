/* test_idx.c: MD5 (RFC 1321 vectors), the IDX reader (every type, raw and gzip, each
 * rejection class, truncation), gzip corruption and size caps, and the MNIST loader.
 * Fixtures: tests/fixtures/idx, made by tools/make-test-fixtures.py. If the real MNIST is in
 * ../data/mnist (tools/fetch-mnist.sh), it is loaded and checked against the known MD5 sums. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "idx.h"
#include "md5.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIX "fixtures/idx/"

static void test_md5(void)
{
    static const char *const vec[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char hex[33];
        ct_md5_hex(vec[i][0], strlen(vec[i][0]), hex);
        TU_CHECK(strcmp(hex, vec[i][1]) == 0, "MD5(\"%s\") = %s, want %s", vec[i][0], hex, vec[i][1]);
    }
    /* streaming in odd pieces gives the same digest as one call, across block boundaries */
    unsigned char data[1000];
    for (int i = 0; i < 1000; i++) data[i] = (unsigned char)(i * 7 + 3);
    for (size_t len = 0; len <= 200; len++) {
        char one[33], two[33];
        ct_md5_hex(data, len, one);
        ct_md5_ctx c;
        ct_md5_init(&c);
        size_t o = 0, step = 1;
        while (o < len) {
            size_t k = step < len - o ? step : len - o;
            ct_md5_update(&c, data + o, k);
            o += k;
            step = step * 3 % 67 + 1;
        }
        unsigned char d[16];
        ct_md5_final(&c, d);
        for (int i = 0; i < 16; i++) snprintf(two + 2 * i, 3, "%02x", d[i]);
        if (strcmp(one, two) != 0) {
            TU_CHECK(0, "streamed MD5 differs at length %zu", len);
            break;
        }
    }
    TU_CHECK(1, "streaming");
}

static void test_types(void)
{
    ct_idx x;
    int rc = ct_idx_load(FIX "u8.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_U8 && x.rank == 2 && x.dims[0] == 2 && x.dims[1] == 3 && x.count == 6 &&
                 x.elem_size == 1 && !x.gzipped && x.trailing == 0,
             "u8: %s", ct_last_error());
    if (rc == CT_OK) {
        const uint8_t *d = x.data;
        TU_CHECK(d[0] == 0 && d[3] == 253 && d[5] == 255, "u8 values");
        char hex[33];
        size_t len;
        unsigned char *raw;
        ct_read_file(FIX "u8.idx", 1 << 20, &raw, &len);
        ct_md5_hex(raw, len, hex);
        TU_CHECK(strcmp(hex, x.md5) == 0, "md5 of the raw file");
        free(raw);
    }
    char md5_raw[33];
    memcpy(md5_raw, x.md5, 33);
    ct_idx_free(&x);

    rc = ct_idx_load(FIX "u8.idx.gz", &x);
    TU_CHECK(rc == CT_OK && x.gzipped && x.count == 6 && ((uint8_t *)x.data)[4] == 254, "u8 gzip: %s", ct_last_error());
    TU_CHECK(strcmp(x.md5, md5_raw) == 0, "gzip md5 is of the decompressed bytes");
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "multimember.idx.gz", &x);
    TU_CHECK(rc == CT_OK && x.gzipped && x.count == 6 && strcmp(x.md5, md5_raw) == 0,
             "two gzip members + zero padding: %s", ct_last_error());
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "raw_named.gz", &x);
    TU_CHECK(rc == CT_OK && !x.gzipped && x.count == 6, "raw file named .gz: detection by magic: %s", ct_last_error());
    ct_idx_free(&x);

    rc = ct_idx_load(FIX "i8.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_I8, "i8: %s", ct_last_error());
    if (rc == CT_OK) {
        const int8_t *d = x.data;
        TU_CHECK(d[0] == -128 && d[1] == -1 && d[2] == 0 && d[3] == 127, "i8 values");
    }
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "i16.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_I16 && x.elem_size == 2, "i16: %s", ct_last_error());
    if (rc == CT_OK) {
        const int16_t *d = x.data;
        TU_CHECK(d[0] == -32768 && d[1] == 258 && d[2] == 32767, "i16 values (big-endian converted)");
    }
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "i32.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_I32, "i32: %s", ct_last_error());
    if (rc == CT_OK) {
        const int32_t *d = x.data;
        TU_CHECK(d[0] == INT32_MIN && d[1] == 16909060 && d[2] == INT32_MAX, "i32 values");
    }
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "f32.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_F32 && x.rank == 2, "f32: %s", ct_last_error());
    if (rc == CT_OK) {
        const float *d = x.data;
        TU_CHECK(d[0] == 1.5f && d[1] == -0.25f && d[2] == 3e38f, "f32 values");
    }
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "f64.idx", &x);
    TU_CHECK(rc == CT_OK && x.type == CT_IDX_F64 && x.rank == 3 && x.elem_size == 8, "f64: %s", ct_last_error());
    if (rc == CT_OK) {
        const double *d = x.data;
        TU_CHECK(d[0] == 3.141592653589793 && d[1] == -1e-300, "f64 values");
    }
    ct_idx_free(&x);
    rc = ct_idx_load(FIX "empty.idx", &x);
    TU_CHECK(rc == CT_OK && x.count == 0 && x.dims[0] == 0 && x.dims[1] == 28, "zero items: %s", ct_last_error());
    ct_idx_free(&x);
    int saved = ct_verbosity;
    ct_verbosity = 0; /* the warning is expected; keep the test output clean */
    rc = ct_idx_load(FIX "trailing.idx", &x);
    ct_verbosity = saved;
    TU_CHECK(rc == CT_OK && x.count == 3 && x.trailing == 5, "trailing bytes: a warning, not an error: %s",
             ct_last_error());
    ct_idx_free(&x);
}

typedef struct {
    const char *file, *want;
} reject_case;

static const reject_case REJECTS[] = {
    {"bad_short.idx", "file is 3 bytes, too short for an IDX header"},
    {"bad_magic.idx", "bad magic 0x12340801 (at byte 0)"},
    {"bad_type.idx", "unknown IDX data type 0x0A in magic 0x00000A01 (at byte 2)"},
    {"bad_zero_dims.idx", "0 dimensions in magic 0x00000800 (at byte 3)"},
    {"bad_four_dims.idx", "4 dimensions in magic 0x00000804 (at byte 3)"},
    {"bad_header_truncated.idx", "header needs 16 bytes for 3 dimension sizes but the file has only 8"},
    {"bad_data_short.idx", "data is shorter than the header promises: 5 x 28 x 28 u8 values need 3920 bytes"},
    {"bad_overflow.idx", "dimensions 4294967295 x 4294967295 x 4294967295 of f64 (at byte 4) overflow"},
    {"bad_huge.idx", "overflow the element count"},
    {"bad_corrupt.idx.gz", "corrupt gzip file"},
    {"bad_crc.idx.gz", "corrupt gzip file (incorrect data check"},
    {"bad_truncated.idx.gz", "gzip file is truncated"},
    {"bad_garbage_after.idx.gz", "unexpected data after the compressed stream"},
    {"bad_gz_header.idx.gz", "corrupt gzip file (unknown compression method"},
};

static void test_rejects(void)
{
    for (size_t i = 0; i < sizeof REJECTS / sizeof REJECTS[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", REJECTS[i].file);
        ct_idx x;
        memset(&x, 0x5a, sizeof x);
        ct_clear_error();
        int rc = ct_idx_load(path, &x);
        const char *e = ct_last_error();
        TU_CHECK(rc == CT_ERR_INPUT && x.data == NULL, "%s rejected (rc=%d)", path, rc);
        TU_CHECK(strstr(e, REJECTS[i].want) != NULL, "%s: message '%s' lacks '%s'", path, e, REJECTS[i].want);
        TU_CHECK(strncmp(e, path, strlen(path)) == 0, "%s: message names the file: %s", path, e);
    }
    ct_idx x;
    int rc = ct_idx_load(FIX "missing.idx", &x);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "cannot open"), "missing file: %s", ct_last_error());
    rc = ct_idx_parse(NULL, 0, "nothing", &x);
    TU_CHECK(rc == CT_ERR_INPUT && x.data == NULL, "empty buffer");

    /* the decompression cap */
    size_t len;
    unsigned char *gz, *out;
    size_t out_len;
    TU_CHECK(ct_read_file(FIX "zeros.gz", 1 << 20, &gz, &len) == CT_OK, "read zeros.gz");
    rc = ct_gunzip(gz, len, 1000, "zeros.gz", &out, &out_len);
    TU_CHECK(rc == CT_ERR_INPUT && out == NULL && strstr(ct_last_error(), "decompresses to more than 1000 bytes"),
             "size cap: %s", ct_last_error());
    rc = ct_gunzip(gz, len, 1 << 20, "zeros.gz", &out, &out_len);
    TU_CHECK(rc == CT_OK && out_len == (1u << 20), "exactly at the cap: %s", ct_last_error());
    free(out);
    rc = ct_gunzip(gz, len, (1 << 20) - 1, "zeros.gz", &out, &out_len);
    TU_CHECK(rc == CT_ERR_INPUT, "one byte over the cap");
    /* every truncation of a gzip stream is rejected */
    size_t accepted = 0;
    for (size_t k = 0; k < len; k++) {
        unsigned char *copy = malloc(k ? k : 1);
        memcpy(copy, gz, k);
        if (ct_gunzip(copy, k, 1 << 21, "cut", &out, &out_len) == CT_OK) {
            accepted++;
            free(out);
        }
        free(copy);
    }
    TU_CHECK(accepted == 0, "%zu truncated gzip prefixes accepted", accepted);
    free(gz);
}

/* Every proper prefix of a valid IDX file is rejected; byte flips never crash. */
static void test_truncation(void)
{
    const char *files[] = {FIX "mnist_raw/t10k-images.idx3-ubyte", FIX "f64.idx", FIX "i16.idx"};
    for (size_t fi = 0; fi < 3; fi++) {
        unsigned char *buf;
        size_t len;
        if (ct_read_file(files[fi], 1 << 20, &buf, &len) != CT_OK) {
            TU_CHECK(0, "read %s", files[fi]);
            continue;
        }
        size_t accepted = 0;
        for (size_t k = 0; k < len; k++) {
            unsigned char *copy = malloc(k ? k : 1);
            memcpy(copy, buf, k);
            ct_idx x;
            if (ct_idx_parse(copy, k, "cut", &x) == CT_OK) accepted++;
            ct_idx_free(&x);
            free(copy);
        }
        TU_CHECK(accepted == 0, "%s: %zu truncated prefixes accepted", files[fi], accepted);
        int saved = ct_verbosity;
        ct_verbosity = 0;
        size_t bad = 0;
        for (size_t k = 0; k < 32 && k < len; k++)
            for (int m = 1; m < 256; m += 37) {
                unsigned char *copy = malloc(len);
                memcpy(copy, buf, len);
                copy[k] ^= (unsigned char)m;
                ct_idx x;
                int rc = ct_idx_parse(copy, len, "flip", &x);
                if (rc == CT_OK && x.count * x.elem_size + 4 + 4 * (size_t)x.rank + x.trailing != len) bad++;
                if (rc != CT_OK && rc != CT_ERR_INPUT) bad++;
                ct_idx_free(&x);
                free(copy);
            }
        ct_verbosity = saved;
        TU_CHECK(bad == 0, "%s: %zu inconsistent results from byte flips", files[fi], bad);
        free(buf);
    }
}

static void test_mnist(void)
{
    const char *dirs[] = {FIX "mnist_raw", FIX "mnist_gz"};
    static const uint8_t train_labels[5] = {3, 1, 4, 1, 5};
    static const uint8_t test_labels[3] = {9, 0, 2};
    for (int d = 0; d < 2; d++) {
        ct_mnist m;
        int rc = ct_mnist_load(dirs[d], 1, &m);
        TU_CHECK(rc == CT_OK, "%s train: %s", dirs[d], ct_last_error());
        if (rc == CT_OK) {
            TU_CHECK(m.n == 5 && m.rows == 28 && m.cols == 28, "5 images of 28x28");
            TU_CHECK(memcmp(m.labels, train_labels, 5) == 0, "train labels");
            /* pixel (i, r, c) = (i*31 + r*7 + c*3) & 255 */
            int ok = 1;
            for (int i = 0; i < 5; i++)
                for (int r = 0; r < 28; r++)
                    for (int c = 0; c < 28; c++)
                        if (m.images[(size_t)i * 784 + (size_t)r * 28 + (size_t)c] != ((i * 31 + r * 7 + c * 3) & 255))
                            ok = 0;
            TU_CHECK(ok, "train pixels");
            TU_CHECK(strlen(m.images_md5) == 32 && strlen(m.labels_md5) == 32, "md5 recorded");
            TU_CHECK(strstr(m.images_path, "train-images-idx3-ubyte") != NULL, "images path %s", m.images_path);
            ct_mnist_free(&m);
        }
        rc = ct_mnist_load(dirs[d], 0, &m);
        TU_CHECK(rc == CT_OK && m.n == 3 && memcmp(m.labels, test_labels, 3) == 0, "%s test (dot spelling): %s",
                 dirs[d], ct_last_error());
        if (rc == CT_OK) TU_CHECK(strstr(m.labels_path, "t10k-labels.idx1-ubyte") != NULL, "%s", m.labels_path);
        ct_mnist_free(&m);
    }
    /* raw and gzip give the same MD5 (of the decompressed bytes) */
    ct_mnist a, b;
    if (ct_mnist_load(FIX "mnist_raw", 1, &a) == CT_OK && ct_mnist_load(FIX "mnist_gz", 1, &b) == CT_OK) {
        TU_CHECK(strcmp(a.images_md5, b.images_md5) == 0 && strcmp(a.labels_md5, b.labels_md5) == 0,
                 "same md5 raw vs gzip");
        ct_mnist_free(&a);
        ct_mnist_free(&b);
    }

    struct {
        const char *dir, *want;
    } bad[] = {
        {"mnist_count_mismatch", "holds 5 images but"},
        {"mnist_bad_label", "label 10 at index 1 (byte 9) is outside 0-9"},
        {"mnist_wrong_size", "images are 27 x 28 pixels (at byte 8), expected 28 x 28"},
        {"mnist_swapped", "magic 0x00000801 (u8, 1 dimensions), expected 0x00000803"},
        {"mnist_no_labels", "MNIST training labels not found: tried train-labels-idx1-ubyte, "
                            "train-labels-idx1-ubyte.gz, train-labels.idx1-ubyte, train-labels.idx1-ubyte.gz; run "
                            "tools/fetch-mnist.sh fixtures/idx/mnist_no_labels to download MNIST"},
        {"nonexistent", "fixtures/idx/nonexistent: MNIST training images not found (the folder does not exist): "
                        "tried train-images-idx3-ubyte"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, FIX "%s", bad[i].dir);
        ct_mnist m;
        int rc = ct_mnist_load(dir, 1, &m);
        TU_CHECK(rc == CT_ERR_INPUT && m.images == NULL && m.labels == NULL, "%s rejected", dir);
        TU_CHECK(strstr(ct_last_error(), bad[i].want) != NULL, "%s: message '%s' lacks '%s'", dir, ct_last_error(),
                 bad[i].want);
    }
    ct_mnist m;
    int rc = ct_mnist_load(FIX "mnist_count_mismatch", 0, &m);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "MNIST test images not found") &&
                 strstr(ct_last_error(), "t10k-images-idx3-ubyte"), "test set missing: %s", ct_last_error());

    /* in-memory MNIST parse */
    unsigned char *img, *lbl;
    size_t il, ll;
    ct_read_file(FIX "mnist_raw/train-images-idx3-ubyte", 1 << 20, &img, &il);
    ct_read_file(FIX "mnist_raw/train-labels-idx1-ubyte", 1 << 20, &lbl, &ll);
    rc = ct_mnist_parse(img, il, "img", lbl, ll, "lbl", &m);
    TU_CHECK(rc == CT_OK && m.n == 5, "ct_mnist_parse: %s", ct_last_error());
    ct_mnist_free(&m);
    rc = ct_mnist_parse(lbl, ll, "img", img, il, "lbl", &m);
    TU_CHECK(rc == CT_ERR_INPUT && strncmp(ct_last_error(), "img: magic", 10) == 0, "swapped buffers: %s",
             ct_last_error());
    free(img);
    free(lbl);
}

int main(void)
{
    test_md5();
    test_types();
    test_rejects();
    test_truncation();
    test_mnist();
    return tu_finish();
}
