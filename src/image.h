/* image.h: image files for prediction: PNG (libpng) and PGM (P2/P5), read into 8-bit gray.
 *
 * PNG: every bit depth (1..16) and color type (gray, gray+alpha, RGB, RGBA, palette, with or
 * without tRNS, interlaced or not). 16-bit samples are scaled to 8 bits, color becomes gray
 * with the Rec. 601 luma weights (0.299 R + 0.587 G + 0.114 B, as PIL's convert("L")), and
 * alpha is composited over white paper (a transparent background reads as blank paper).
 * Gamma and color profiles are ignored. libpng errors (bad CRC of a critical chunk, truncated
 * data, bad IHDR, ...) are caught with setjmp/longjmp and returned as CT_ERR_INPUT.
 * PGM: P5 (binary) and P2 (ASCII), maxval 1..65535 (two big-endian bytes per sample above
 * 255), '#' comments in the header; samples are scaled to 0..255. Only the first image of a
 * multi-image file is read.
 *
 * Limits, checked before any pixel memory is allocated: width and height <= 16384 and
 * width * height <= 64 Mpixel; files larger than 256 MiB are refused.
 * Every error is CT_ERR_INPUT (CT_ERR_NOMEM when out of memory) with a message that starts
 * with the name given ("digit.png: bad PNG: IHDR: CRC error"). */
#ifndef CLTRAIN_IMAGE_H
#define CLTRAIN_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define CT_IMAGE_MAX_SIDE 16384
#define CT_IMAGE_MAX_PIXELS (64u * 1024u * 1024u)
#define CT_IMAGE_MAX_FILE (256u * 1024u * 1024u)

typedef struct {
    int width, height;
    uint8_t *pixels; /* width * height gray samples, row-major, 0 = black, 255 = white (owned) */
    uint8_t *rgb;    /* ct_image_load_rgb only: width * height * 3 (R, G, B interleaved), else NULL */
    int color;       /* the file stores color (PNG RGB, RGBA or palette color types) */
} ct_image;

typedef enum {
    CT_FILE_UNKNOWN = 0,
    CT_FILE_PNG,
    CT_FILE_PGM,
    CT_FILE_IDX,  /* raw IDX (00 00 type rank) */
    CT_FILE_GZIP  /* gzip: a compressed IDX as far as cltrain is concerned */
} ct_file_kind;

/* Recognises a file by its first bytes (at least 4 are looked at; fewer give UNKNOWN). */
ct_file_kind ct_file_kind_of(const unsigned char *head, size_t len);
/* Reads the first bytes of path and recognises it. Errors (cannot open) give CT_ERR_INPUT. */
int ct_file_kind_probe(const char *path, ct_file_kind *kind);

/* Parse-from-buffer entry points (for tests and fuzzing). `name` prefixes error messages.
 * out is zeroed first and left empty on failure. */
int ct_image_parse_png(const unsigned char *buf, size_t len, const char *name, ct_image *out);
int ct_image_parse_pgm(const unsigned char *buf, size_t len, const char *name, ct_image *out);
/* PNG or PGM, by the magic bytes. */
int ct_image_parse(const unsigned char *buf, size_t len, const char *name, ct_image *out);
/* Reads a PNG or PGM file. */
int ct_image_load(const char *path, ct_image *out);
void ct_image_free(ct_image *im);
/* As ct_image_load, plus the RGB samples in rgb (alpha over white as for gray; a gray or PGM
 * picture gives R = G = B) and whether the file stores color. */
int ct_image_load_rgb(const char *path, ct_image *out);
int ct_image_parse_rgb(const unsigned char *buf, size_t len, const char *name, ct_image *out);

/* Encodes 8-bit gray pixels as a PNG in memory (malloc'd; caller frees). For tests, tools
 * and fixtures. */
int ct_image_encode_png_gray8(const uint8_t *pixels, int width, int height, unsigned char **out, size_t *out_len);

#endif
