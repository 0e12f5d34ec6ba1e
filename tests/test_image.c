/* test_image.c: the PNG and PGM readers: every fixture in tests/fixtures/images (all PNG color
 * types and bit depths, interlacing, PGM P2/P5 8/16-bit), the broken ones (CT_ERR_INPUT with
 * the file named, never a crash), the size limits, every truncation of a good file, random
 * byte flips, and the PNG writer round trip. Fixtures: tests/fixtures/images/make_images.py. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "image.h"
#include "testutil.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIX "fixtures/images/"

typedef struct {
    const char *file;
    int w, h;
    int dark_ink; /* 1: black ink on light paper (corner light); 0: light on dark */
} good_case;

static const good_case GOOD[] = {
    {"gray8_d7.png", 110, 120, 1},       {"gray16_d2.png", 150, 80, 1},     {"gray1_d1.png", 64, 64, 1},
    {"rgb_d0.png", 100, 100, 1},         {"rgba_d4.png", 70, 60, 1},        {"graya16_d3.png", 64, 64, 1},
    {"palette_d9.png", 60, 60, 1},       {"interlaced_d5.png", 56, 56, 0},  {"photo_d3.png", 400, 300, 1},
    {"white_on_black_d6.pgm", 60, 70, 0}, {"black_on_white_d9.pgm", 32, 32, 1}, {"pgm16_d8.pgm", 60, 60, 1},
    {"maxval1000_d2.pgm", 40, 30, 0},    {"blank.png", 40, 40, 1},
};

static const struct {
    const char *file;
    const char *says; /* part of the message */
} BAD[] = {
    {"bad_truncated.png", "truncated"},
    {"bad_crc.png", "CRC"},
    {"bad_magic.png", "not a PNG or PGM"},
    {"bad_empty.png", "empty"},
    {"bad_huge_ihdr.png", "bad PNG"},
    {"bad_too_many_pixels.png", "too large"},
    {"bad_zero_width.png", "bad PNG"},
    {"bad_short_idat.png", "bad PNG"},
    {"bad_zlib.png", "bad PNG"},
    {"bad_header.pgm", "bad PGM header"},
    {"bad_maxval_zero.pgm", "maxval 0"},
    {"bad_maxval_big.pgm", "maxval 70000"},
    {"bad_short_data.pgm", "too short"},
    {"bad_sample.pgm", "above maxval"},
    {"bad_huge.pgm", "too large"},
};

static void test_good(void)
{
    for (size_t i = 0; i < sizeof GOOD / sizeof GOOD[0]; i++) {
        const good_case *g = &GOOD[i];
        char path[256];
        snprintf(path, sizeof path, FIX "%s", g->file);
        ct_image im;
        int rc = ct_image_load(path, &im);
        TU_CHECK(rc == CT_OK, "%s loads: %s", g->file, rc ? ct_last_error() : "ok");
        if (rc) continue;
        TU_CHECK(im.width == g->w && im.height == g->h, "%s is %dx%d, want %dx%d", g->file, im.width, im.height, g->w,
                 g->h);
        int lo = 255, hi = 0;
        for (size_t k = 0; k < (size_t)im.width * im.height; k++) {
            if (im.pixels[k] < lo) lo = im.pixels[k];
            if (im.pixels[k] > hi) hi = im.pixels[k];
        }
        int corner = im.pixels[0];
        if (!strcmp(g->file, "blank.png")) {
            TU_CHECK(lo == 250 && hi == 250, "blank.png is uniform 250 (%d..%d)", lo, hi);
        } else if (g->dark_ink) {
            TU_CHECK(corner > 180 && lo < 90, "%s: light paper (corner %d), dark ink (min %d)", g->file, corner, lo);
        } else {
            TU_CHECK(corner < 20 && hi > 200, "%s: dark background (corner %d), light ink (max %d)", g->file, corner, hi);
        }
        ct_image_free(&im);
    }
    /* exact values: the 16-bit and 8-bit PGM of the same kind scale to 0..255 */
    ct_image a;
    if (ct_image_load(FIX "pgm16_d8.pgm", &a) == CT_OK) {
        TU_CHECK(a.pixels[0] == 255, "16-bit PGM white is 255 (%d)", a.pixels[0]);
        ct_image_free(&a);
    }
    /* transparent background composited over white */
    if (ct_image_load(FIX "rgba_d4.png", &a) == CT_OK) {
        TU_CHECK(a.pixels[0] == 255, "RGBA transparent corner is white paper (%d)", a.pixels[0]);
        ct_image_free(&a);
    }
}

static void test_bad(void)
{
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "%s", BAD[i].file);
        ct_image im;
        int rc = ct_image_load(path, &im);
        const char *msg = ct_last_error();
        TU_CHECK(rc == CT_ERR_INPUT, "%s: CT_ERR_INPUT (got %d: %s)", BAD[i].file, rc, msg);
        TU_CHECK(strstr(msg, path) != NULL, "%s: message names the file: %s", BAD[i].file, msg);
        TU_CHECK(strstr(msg, BAD[i].says) != NULL, "%s: message says '%s': %s", BAD[i].file, BAD[i].says, msg);
        TU_CHECK(im.pixels == NULL && im.width == 0, "%s: nothing left allocated", BAD[i].file);
        ct_image_free(&im);
    }
    ct_image im;
    int rc = ct_image_load(FIX "no_such_file.png", &im);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "no_such_file.png"), "missing file: %d %s", rc,
             ct_last_error());
}

/* every prefix of a good file fails cleanly; random byte flips never crash */
static void test_truncation_and_flips(const char *file)
{
    char path[256];
    snprintf(path, sizeof path, FIX "%s", file);
    unsigned char *buf;
    size_t len;
    if (ct_read_file(path, 1 << 24, &buf, &len) != CT_OK) {
        TU_CHECK(0, "read %s: %s", file, ct_last_error());
        return;
    }
    int bad = 0;
    for (size_t n = 0; n < len; n += (len > 4000 ? 7 : 1)) {
        ct_image im;
        int rc = ct_image_parse(buf, n, "prefix", &im);
        /* an ASCII PGM cut inside its last sample ("25" of "255") is still a valid file */
        int ascii_tail = buf[1] == '2' && n + 4 >= len;
        if (!(rc == CT_ERR_INPUT && !im.pixels) && !(ascii_tail && rc == CT_OK)) bad++;
        ct_image_free(&im);
    }
    TU_CHECK(bad == 0, "%s: every truncation gives CT_ERR_INPUT (%d did not)", file, bad);
    unsigned s = 12345;
    int crashes_avoided = 0;
    unsigned char *copy = malloc(len);
    for (int t = 0; t < 300; t++) {
        memcpy(copy, buf, len);
        for (int k = 0; k < 3; k++) {
            s = s * 1103515245u + 12345u;
            copy[(s >> 8) % len] ^= (unsigned char)(1u << ((s >> 4) % 8));
        }
        ct_image im;
        int rc = ct_image_parse(copy, len, "flipped", &im);
        if (rc == CT_OK) TU_CHECK(im.pixels && im.width > 0, "flip: a success has pixels");
        else if (rc != CT_ERR_INPUT) TU_CHECK(0, "flip: status %d (%s)", rc, ct_last_error());
        crashes_avoided++;
        ct_image_free(&im);
    }
    TU_CHECK(crashes_avoided == 300, "%s: 300 corrupted copies parsed without a crash", file);
    free(copy);
    free(buf);
}

static void test_roundtrip(void)
{
    int w = 37, h = 23;
    uint8_t *px = malloc((size_t)w * h);
    for (int i = 0; i < w * h; i++) px[i] = (uint8_t)(i * 31 + 7);
    unsigned char *png;
    size_t len;
    int rc = ct_image_encode_png_gray8(px, w, h, &png, &len);
    TU_CHECK(rc == CT_OK && len > 8, "encode a gray PNG");
    ct_image im;
    rc = ct_image_parse_png(png, len, "mem.png", &im);
    TU_CHECK(rc == CT_OK && im.width == w && im.height == h && !memcmp(im.pixels, px, (size_t)w * h),
             "PNG round trip is exact");
    ct_image_free(&im);
    TU_CHECK(ct_file_kind_of(png, len) == CT_FILE_PNG, "kind: PNG");
    free(png);
    free(px);
    /* in-memory PGM with comments everywhere */
    const char pgm[] = "P2 # c\n# comment\n3 # w\n2\n# m\n255\n0 128 255\n# mid\n1 2 3\n";
    rc = ct_image_parse_pgm((const unsigned char *)pgm, sizeof pgm - 1, "mem.pgm", &im);
    TU_CHECK(rc == CT_OK && im.width == 3 && im.height == 2 && im.pixels[1] == 128 && im.pixels[5] == 3,
             "P2 with comments: %s", rc ? ct_last_error() : "ok");
    ct_image_free(&im);
    const unsigned char p5[] = "P5 2 1 3\n\x00\x03";
    rc = ct_image_parse_pgm(p5, 11, "mem.pgm", &im);
    TU_CHECK(rc == CT_OK && im.pixels[0] == 0 && im.pixels[1] == 255, "P5 maxval 3 scales to 0..255");
    ct_image_free(&im);
    unsigned char idx[4] = {0, 0, 8, 3}, gz[2] = {0x1f, 0x8b};
    TU_CHECK(ct_file_kind_of(idx, 4) == CT_FILE_IDX && ct_file_kind_of(gz, 2) == CT_FILE_GZIP, "kinds: IDX, gzip");
    TU_CHECK(ct_file_kind_of((const unsigned char *)"P6\n", 3) == CT_FILE_UNKNOWN, "P6 (color PPM) is not a PGM");
}

/* --- exact pixels ------------------------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} membuf;

static void mem_write(png_structp png, png_bytep d, png_size_t n)
{
    membuf *m = png_get_io_ptr(png);
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, d, n);
    m->n += n;
}

static void mem_flush(png_structp png)
{
    (void)png;
}

/* A one-row PNG of `w` pixels: `samples` holds the channel values (16-bit when depth is 16). */
static membuf make_png(int w, int ctype, int depth, const unsigned *samples)
{
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(m.p);
        return (membuf){0};
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, (png_uint_32)w, 1, depth, ctype, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    int ch = png_get_channels(png, info), bps = depth / 8;
    png_byte row[64];
    for (int i = 0; i < w * ch; i++) {
        if (bps == 2) {
            row[2 * i] = (png_byte)(samples[i] >> 8);
            row[2 * i + 1] = (png_byte)samples[i];
        } else {
            row[i] = (png_byte)samples[i];
        }
    }
    png_write_row(png, row);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return m;
}

static void expect_pixels(const char *what, const unsigned char *buf, size_t len, const uint8_t *want, int n)
{
    ct_image im;
    int rc = ct_image_parse(buf, len, what, &im);
    TU_CHECK(rc == CT_OK && im.width == n && im.height == 1, "%s decodes: %s", what, rc ? ct_last_error() : "ok");
    if (rc) return;
    for (int i = 0; i < n; i++)
        TU_CHECK(im.pixels[i] == want[i], "%s pixel %d: %d, want %d", what, i, im.pixels[i], want[i]);
    ct_image_free(&im);
}

/* Expected values from the definitions, not from the reader: gray = round(0.299 R + 0.587 G +
 * 0.114 B) (Rec. 601 luma), alpha over white paper = round((g a + 255 (255 - a)) / 255),
 * 16 -> 8 bits = round(v * 255 / 65535), PGM = round(v * 255 / maxval). Each value is away
 * from a rounding tie, and wrong weights (Rec. 709, a plain mean) or truncating 16-bit scaling
 * (v >> 8) give other numbers. */
static void test_exact_pixels(void)
{
    /* RGB: pure red, green, blue, white, a mix */
    const unsigned rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 200, 30};
    const uint8_t rgb_want[] = {76, 150, 29, 255, 124};
    membuf m = make_png(5, PNG_COLOR_TYPE_RGB, 8, rgb);
    expect_pixels("rgb8.png", m.p, m.n, rgb_want, 5);
    free(m.p);
    /* 16-bit RGB: the same colours scaled to 16 bits read back the same */
    unsigned rgb16[15];
    for (int i = 0; i < 15; i++) rgb16[i] = rgb[i] * 257u;
    m = make_png(5, PNG_COLOR_TYPE_RGB, 16, rgb16);
    expect_pixels("rgb16.png", m.p, m.n, rgb_want, 5);
    free(m.p);
    /* 16-bit gray: 511 -> 2 (v >> 8 gives 1), 16383 -> 64 (>> 8: 63), 65279 -> 254, 0, 65535 */
    const unsigned g16[] = {511, 16383, 65279, 0, 65535};
    const uint8_t g16_want[] = {2, 64, 254, 0, 255};
    m = make_png(5, PNG_COLOR_TYPE_GRAY, 16, g16);
    expect_pixels("gray16.png", m.p, m.n, g16_want, 5);
    free(m.p);
    /* RGBA over white: opaque red, half-transparent black (a 128 -> 127), transparent, a 64 green */
    const unsigned rgba[] = {255, 0, 0, 255, 0, 0, 0, 128, 12, 34, 56, 0, 0, 255, 0, 64};
    const uint8_t rgba_want[] = {76, 127, 255, 229};
    m = make_png(4, PNG_COLOR_TYPE_RGB_ALPHA, 8, rgba);
    expect_pixels("rgba8.png", m.p, m.n, rgba_want, 4);
    free(m.p);
    /* PGM: 16-bit binary (maxval 65535) and ASCII with maxval 1000 */
    const unsigned char p16[] = "P5 5 1 65535\n\x01\xff\x3f\xff\xfe\xff\x00\x00\xff\xff";
    expect_pixels("gray16.pgm", p16, sizeof p16 - 1, g16_want, 5);
    const char *p2 = "P2 4 1 1000\n0 3 500 999\n";
    const uint8_t p2_want[] = {0, 1, 128, 255}; /* 0.765 -> 1, 127.5 -> 128 (round half up), 254.7 -> 255 */
    expect_pixels("maxval1000.pgm", (const unsigned char *)p2, strlen(p2), p2_want, 4);
}

int main(void)
{
    test_exact_pixels();
    test_good();
    test_bad();
    test_truncation_and_flips("gray8_d7.png");
    test_truncation_and_flips("interlaced_d5.png");
    test_truncation_and_flips("palette_d9.png");
    test_truncation_and_flips("black_on_white_d9.pgm");
    test_truncation_and_flips("pgm16_d8.pgm");
    test_roundtrip();
    return tu_finish();
}
