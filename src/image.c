/* image.c: PNG (libpng, setjmp/longjmp error handling) and PGM readers into 8-bit gray. */
#define _POSIX_C_SOURCE 200809L
#include "image.h"

#include <ctype.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

ct_file_kind ct_file_kind_of(const unsigned char *h, size_t len)
{
    if (len >= 8 && !memcmp(h, "\x89PNG\r\n\x1a\n", 8)) return CT_FILE_PNG;
    if (len >= 3 && h[0] == 'P' && (h[1] == '2' || h[1] == '5') && isspace(h[2])) return CT_FILE_PGM;
    if (len >= 2 && h[0] == 0x1f && h[1] == 0x8b) return CT_FILE_GZIP;
    if (len >= 4 && h[0] == 0 && h[1] == 0 && h[3] >= 1 && h[3] <= 3 &&
        (h[2] == 0x08 || h[2] == 0x09 || h[2] == 0x0B || h[2] == 0x0C || h[2] == 0x0D || h[2] == 0x0E))
        return CT_FILE_IDX;
    return CT_FILE_UNKNOWN;
}

int ct_file_kind_probe(const char *path, ct_file_kind *kind)
{
    *kind = CT_FILE_UNKNOWN;
    FILE *f = fopen(path, "rb");
    if (!f) return ct_fail(CT_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    int err = ferror(f);
    fclose(f);
    if (err) return ct_fail(CT_ERR_INPUT, "%s: cannot read (is it a folder?)", path);
    *kind = ct_file_kind_of(head, n);
    return CT_OK;
}

void ct_image_free(ct_image *im)
{
    if (!im) return;
    free(im->pixels);
    free(im->rgb);
    memset(im, 0, sizeof *im);
}

static int check_size(const char *name, const char *what, unsigned long long w, unsigned long long h)
{
    if (w == 0 || h == 0) return ct_fail(CT_ERR_INPUT, "%s: bad %s: the image is empty (%llu x %llu)", name, what, w, h);
    if (w > CT_IMAGE_MAX_SIDE || h > CT_IMAGE_MAX_SIDE || w * h > CT_IMAGE_MAX_PIXELS)
        return ct_fail(CT_ERR_INPUT,
                       "%s: %s image of %llu x %llu pixels is too large (at most %d x %d and %u Mpixel); scale it "
                       "down first",
                       name, what, w, h, CT_IMAGE_MAX_SIDE, CT_IMAGE_MAX_SIDE, CT_IMAGE_MAX_PIXELS >> 20);
    return CT_OK;
}

/* --- PNG --------------------------------------------------------------------------------- */
typedef struct {
    const unsigned char *buf;
    size_t len, pos;
    png_structp png;
    png_infop info;
    png_bytep block;    /* interlaced: the whole RGBA image; else one RGBA row */
    png_bytepp rows;
    uint8_t *gray;
    uint8_t *rgb;       /* want_rgb: w*h*3, alpha over white like the gray */
    int want_rgb;
    char msg[256];
    char warn[160];     /* the first libpng warning, e.g. why IHDR is invalid */
    int status;         /* the error message is already set (ct_fail) */
} png_job;

static void png_err_fn(png_structp png, png_const_charp msg)
{
    png_job *j = png_get_error_ptr(png);
    if (j && !j->msg[0]) snprintf(j->msg, sizeof j->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp msg)
{
    png_job *j = png_get_error_ptr(png);
    if (j && !j->warn[0]) snprintf(j->warn, sizeof j->warn, "%s", msg ? msg : "");
    ct_debug("png warning: %s\n", msg);
}

static void png_read_fn(png_structp png, png_bytep data, png_size_t n)
{
    png_job *j = png_get_io_ptr(png);
    if (n > j->len - j->pos) {
        snprintf(j->msg, sizeof j->msg, "the file is truncated (needed %zu more bytes at byte %zu of %zu)",
                 (size_t)n, j->pos, j->len);
        png_error(png, j->msg);
    }
    memcpy(data, j->buf + j->pos, n);
    j->pos += n;
}

static inline uint8_t rgba_to_gray(const png_byte *p)
{
    /* Rec. 601 luma in 16.16 fixed point, then alpha over white paper */
    unsigned y = (19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 32768u) >> 16;
    unsigned a = p[3];
    return (uint8_t)((y * a + 255u * (255u - a) + 127u) / 255u);
}

static inline void rgba_to_rgb(const png_byte *p, uint8_t *o)
{
    unsigned a = p[3];
    for (int k = 0; k < 3; k++) o[k] = (uint8_t)((p[k] * a + 255u * (255u - a) + 127u) / 255u);
}

/* One decoded RGBA row into the gray (and RGB) outputs. */
static void png_store_row(png_job *j, const png_byte *row, png_uint_32 y, png_uint_32 w)
{
    for (png_uint_32 x = 0; x < w; x++) j->gray[(size_t)y * w + x] = rgba_to_gray(row + 4 * x);
    if (j->rgb)
        for (png_uint_32 x = 0; x < w; x++) rgba_to_rgb(row + 4 * x, j->rgb + 3 * ((size_t)y * w + x));
}

/* Everything that can longjmp. j is on the heap (calloc'd by the caller), so its fields keep
 * their values across the longjmp. */
static int png_decode(png_job *j, const char *name, ct_image *out)
{
    if (setjmp(png_jmpbuf(j->png))) return CT_ERR_INPUT;
    png_set_read_fn(j->png, j, png_read_fn);
    png_set_user_limits(j->png, CT_IMAGE_MAX_SIDE, CT_IMAGE_MAX_SIDE);
    png_set_chunk_malloc_max(j->png, 16u << 20); /* ancillary chunks (iCCP, zTXt ...) */
    png_read_info(j->png, j->info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(j->png, j->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (check_size(name, "PNG", w, h) != CT_OK) {
        j->status = CT_ERR_INPUT; /* message already set */
        return CT_ERR_INPUT;
    }
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(j->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(j->png);
    int trns = png_get_valid(j->png, j->info, PNG_INFO_tRNS) != 0;
    if (trns) png_set_tRNS_to_alpha(j->png);
    if (depth == 16) png_set_scale_16(j->png);
    if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(j->png);
    if (!(ctype & PNG_COLOR_MASK_ALPHA) && !trns) png_set_add_alpha(j->png, 0xFF, PNG_FILLER_AFTER);
    int passes = png_set_interlace_handling(j->png);
    png_read_update_info(j->png, j->info);
    size_t rowbytes = png_get_rowbytes(j->png, j->info);
    if (png_get_channels(j->png, j->info) != 4 || png_get_bit_depth(j->png, j->info) != 8 || rowbytes != (size_t)w * 4) {
        snprintf(j->msg, sizeof j->msg, "unsupported PNG layout (color type %d, bit depth %d)", ctype, depth);
        return CT_ERR_INPUT;
    }
    j->gray = malloc((size_t)w * h);
    if (j->want_rgb && !(j->rgb = malloc((size_t)w * h * 3))) {
        snprintf(j->msg, sizeof j->msg, "out of memory for a %u x %u image", (unsigned)w, (unsigned)h);
        return CT_ERR_NOMEM;
    }
    j->block = malloc(passes > 1 ? rowbytes * h : rowbytes);
    if (passes > 1) j->rows = malloc(sizeof(png_bytep) * h);
    if (!j->gray || !j->block || (passes > 1 && !j->rows)) {
        snprintf(j->msg, sizeof j->msg, "out of memory for a %u x %u image", (unsigned)w, (unsigned)h);
        return CT_ERR_NOMEM;
    }
    if (passes > 1) {
        for (png_uint_32 y = 0; y < h; y++) j->rows[y] = j->block + (size_t)y * rowbytes;
        png_read_image(j->png, j->rows);
        for (png_uint_32 y = 0; y < h; y++) png_store_row(j, j->rows[y], y, w);
    } else {
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(j->png, j->block, NULL);
            png_store_row(j, j->block, y, w);
        }
    }
    png_read_end(j->png, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->pixels = j->gray;
    j->gray = NULL;
    out->color = (ctype & PNG_COLOR_MASK_COLOR) != 0;
    out->rgb = j->rgb;
    j->rgb = NULL;
    return CT_OK;
}

static int parse_png(const unsigned char *buf, size_t len, const char *name, int want_rgb, ct_image *out)
{
    memset(out, 0, sizeof *out);
    if (len < 8 || png_sig_cmp(buf, 0, 8))
        return ct_fail(CT_ERR_INPUT, "%s: not a PNG file (wrong signature in the first 8 bytes)", name);
    png_job *j = calloc(1, sizeof *j);
    if (!j) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    j->buf = buf;
    j->len = len;
    j->want_rgb = want_rgb;
    j->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, j, png_err_fn, png_warn_fn);
    if (j->png) j->info = png_create_info_struct(j->png);
    int rc;
    if (!j->png || !j->info) {
        rc = CT_ERR_NOMEM;
        snprintf(j->msg, sizeof j->msg, "cannot create the libpng reader (out of memory)");
    } else {
        rc = png_decode(j, name, out);
    }
    png_destroy_read_struct(j->png ? &j->png : NULL, j->info ? &j->info : NULL, NULL);
    free(j->gray);
    free(j->rgb);
    free(j->block);
    free(j->rows);
    if (rc != CT_OK) {
        memset(out, 0, sizeof *out);
        if (j->status) rc = j->status;
        else if (rc == CT_ERR_NOMEM) rc = ct_fail(CT_ERR_NOMEM, "%s: %s", name, j->msg);
        else if (j->warn[0])
            rc = ct_fail(CT_ERR_INPUT, "%s: bad PNG: %s (%s)", name, j->msg[0] ? j->msg : "unknown error", j->warn);
        else rc = ct_fail(CT_ERR_INPUT, "%s: bad PNG: %s", name, j->msg[0] ? j->msg : "unknown error");
    }
    free(j);
    return rc;
}

int ct_image_parse_png(const unsigned char *buf, size_t len, const char *name, ct_image *out)
{
    return parse_png(buf, len, name, 0, out);
}

/* --- PGM --------------------------------------------------------------------------------- */
/* Skips whitespace and '#' comments; returns 0 at the end of the buffer. */
static int pgm_skip(const unsigned char *b, size_t len, size_t *p)
{
    while (*p < len) {
        if (b[*p] == '#') {
            while (*p < len && b[*p] != '\n' && b[*p] != '\r') (*p)++;
        } else if (isspace(b[*p])) {
            (*p)++;
        } else {
            return 1;
        }
    }
    return 0;
}

/* Reads an unsigned decimal (at most 9 digits) after whitespace/comments. */
static int pgm_uint(const unsigned char *b, size_t len, size_t *p, unsigned long *v, const char *name, const char *what)
{
    if (!pgm_skip(b, len, p)) return ct_fail(CT_ERR_INPUT, "%s: bad PGM header: the file ends before the %s", name, what);
    if (!isdigit(b[*p]))
        return ct_fail(CT_ERR_INPUT, "%s: bad PGM header: expected the %s (a number) at byte %zu, found '%c'", name, what,
                       *p, isprint(b[*p]) ? b[*p] : '?');
    unsigned long x = 0;
    int digits = 0;
    while (*p < len && isdigit(b[*p])) {
        if (++digits > 9) return ct_fail(CT_ERR_INPUT, "%s: bad PGM header: the %s is absurdly large", name, what);
        x = x * 10 + (unsigned long)(b[*p] - '0');
        (*p)++;
    }
    if (*p < len && !isspace(b[*p]) && b[*p] != '#')
        return ct_fail(CT_ERR_INPUT, "%s: bad PGM header: unexpected '%c' after the %s at byte %zu", name,
                       isprint(b[*p]) ? b[*p] : '?', what, *p);
    *v = x;
    return CT_OK;
}

int ct_image_parse_pgm(const unsigned char *b, size_t len, const char *name, ct_image *out)
{
    memset(out, 0, sizeof *out);
    if (len < 3 || b[0] != 'P' || (b[1] != '2' && b[1] != '5') || !isspace(b[2]))
        return ct_fail(CT_ERR_INPUT, "%s: not a PGM file (expected 'P2' or 'P5' at the start)", name);
    int ascii = b[1] == '2';
    size_t p = 2;
    unsigned long w, h, maxval;
    int rc = pgm_uint(b, len, &p, &w, name, "width");
    if (rc == CT_OK) rc = pgm_uint(b, len, &p, &h, name, "height");
    if (rc == CT_OK) rc = pgm_uint(b, len, &p, &maxval, name, "maxval");
    if (rc != CT_OK) return rc;
    if (maxval < 1 || maxval > 65535)
        return ct_fail(CT_ERR_INPUT, "%s: bad PGM header: maxval %lu is outside 1..65535", name, maxval);
    if ((rc = check_size(name, "PGM", w, h)) != CT_OK) return rc;
    size_t n = (size_t)w * h;
    int wide = maxval > 255;
    if (!ascii) {
        /* exactly one whitespace byte separates the header from the samples */
        if (p >= len) return ct_fail(CT_ERR_INPUT, "%s: PGM data missing: the file ends after the header", name);
        p++;
        size_t need = n * (wide ? 2 : 1);
        if (len - p < need)
            return ct_fail(CT_ERR_INPUT, "%s: PGM data too short: %zu bytes of pixels, %zu needed for %lu x %lu%s", name,
                           len - p, need, w, h, wide ? " 16-bit" : "");
    }
    uint8_t *px = malloc(n);
    if (!px) return ct_fail(CT_ERR_NOMEM, "%s: out of memory for a %lu x %lu image", name, w, h);
    for (size_t i = 0; i < n; i++) {
        unsigned long v;
        if (ascii) {
            if (!pgm_skip(b, len, &p)) {
                free(px);
                return ct_fail(CT_ERR_INPUT, "%s: PGM data too short: %zu of %zu samples", name, i, n);
            }
            if ((rc = pgm_uint(b, len, &p, &v, name, "sample")) != CT_OK) {
                free(px);
                return rc;
            }
        } else if (wide) {
            v = ((unsigned long)b[p] << 8) | b[p + 1];
            p += 2;
        } else {
            v = b[p++];
        }
        if (v > maxval) {
            free(px);
            return ct_fail(CT_ERR_INPUT, "%s: bad PGM data: sample %zu is %lu, above maxval %lu", name, i, v, maxval);
        }
        px[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    out->width = (int)w;
    out->height = (int)h;
    out->pixels = px;
    return CT_OK;
}

int ct_image_parse(const unsigned char *buf, size_t len, const char *name, ct_image *out)
{
    memset(out, 0, sizeof *out);
    switch (ct_file_kind_of(buf, len)) {
    case CT_FILE_PNG: return ct_image_parse_png(buf, len, name, out);
    case CT_FILE_PGM: return ct_image_parse_pgm(buf, len, name, out);
    default:
        return ct_fail(CT_ERR_INPUT, "%s: not a PNG or PGM image (unrecognised first bytes)%s", name,
                       len == 0 ? "; the file is empty" : "");
    }
}

int ct_image_load(const char *path, ct_image *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, CT_IMAGE_MAX_FILE, &buf, &len);
    if (rc != CT_OK) return rc;
    rc = ct_image_parse(buf, len, path, out);
    free(buf);
    return rc;
}

int ct_image_parse_rgb(const unsigned char *buf, size_t len, const char *name, ct_image *out)
{
    int rc;
    if (ct_file_kind_of(buf, len) == CT_FILE_PNG)
        rc = parse_png(buf, len, name, 1, out);
    else
        rc = ct_image_parse(buf, len, name, out);
    if (rc == CT_OK && !out->rgb) {
        /* a gray picture: the same value in R, G and B */
        size_t n = (size_t)out->width * out->height;
        out->rgb = malloc(n * 3);
        if (!out->rgb) {
            ct_image_free(out);
            return ct_fail(CT_ERR_NOMEM, "%s: out of host memory", name);
        }
        for (size_t i = 0; i < n; i++) out->rgb[3 * i] = out->rgb[3 * i + 1] = out->rgb[3 * i + 2] = out->pixels[i];
    }
    return rc;
}

int ct_image_load_rgb(const char *path, ct_image *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = ct_read_file(path, CT_IMAGE_MAX_FILE, &buf, &len);
    if (rc != CT_OK) return rc;
    rc = ct_image_parse_rgb(buf, len, path, out);
    free(buf);
    return rc;
}

/* --- PNG writer (tests, fixtures) --------------------------------------------------------- */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int oom;
    char msg[256];
} png_wbuf;

static void png_write_fn(png_structp png, png_bytep data, png_size_t n)
{
    png_wbuf *w = png_get_io_ptr(png);
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n) cap *= 2;
        unsigned char *nb = realloc(w->buf, cap);
        if (!nb) {
            w->oom = 1;
            png_error(png, "out of memory");
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;
}

static void png_flush_fn(png_structp png)
{
    (void)png;
}

static void png_wwarn_fn(png_structp png, png_const_charp msg)
{
    (void)png;
    ct_debug("png warning: %s\n", msg);
}

static void png_werr_fn(png_structp png, png_const_charp msg)
{
    png_wbuf *w = png_get_error_ptr(png);
    if (w && !w->msg[0]) snprintf(w->msg, sizeof w->msg, "%s", msg);
    png_longjmp(png, 1);
}

static int png_encode(png_structp png, png_infop info, const uint8_t *px, int width, int height)
{
    if (setjmp(png_jmpbuf(png))) return CT_ERR_RUNTIME;
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(px + (size_t)y * width));
    png_write_end(png, NULL);
    return CT_OK;
}

int ct_image_encode_png_gray8(const uint8_t *pixels, int width, int height, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (width < 1 || height < 1 || width > CT_IMAGE_MAX_SIDE || height > CT_IMAGE_MAX_SIDE)
        return ct_fail(CT_ERR_USAGE, "cannot encode a %d x %d PNG", width, height);
    png_wbuf *w = calloc(1, sizeof *w);
    if (!w) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, w, png_werr_fn, png_wwarn_fn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = CT_ERR_NOMEM;
    if (png && info) {
        png_set_write_fn(png, w, png_write_fn, png_flush_fn);
        rc = png_encode(png, info, pixels, width, height);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (rc == CT_OK) {
        *out = w->buf;
        *out_len = w->len;
    } else {
        free(w->buf);
        rc = w->oom || !png || !info ? ct_fail(CT_ERR_NOMEM, "out of memory encoding a PNG")
                                      : ct_fail(CT_ERR_RUNTIME, "PNG encoding failed: %s", w->msg);
    }
    free(w);
    return rc;
}
