/* idx.c: IDX reader (raw or gzip), gzip decompression with a size cap, MNIST loader. */
#define _POSIX_C_SOURCE 200809L
#include "idx.h"

#include "common.h"
#include "md5.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

size_t ct_idx_type_size(int type)
{
    switch (type) {
    case CT_IDX_U8:
    case CT_IDX_I8: return 1;
    case CT_IDX_I16: return 2;
    case CT_IDX_I32:
    case CT_IDX_F32: return 4;
    case CT_IDX_F64: return 8;
    default: return 0;
    }
}

const char *ct_idx_type_name(int type)
{
    switch (type) {
    case CT_IDX_U8: return "u8";
    case CT_IDX_I8: return "i8";
    case CT_IDX_I16: return "i16";
    case CT_IDX_I32: return "i32";
    case CT_IDX_F32: return "f32";
    case CT_IDX_F64: return "f64";
    default: return "?";
    }
}

void ct_idx_free(ct_idx *x)
{
    if (!x) return;
    free(x->data);
    memset(x, 0, sizeof *x);
}

int ct_idx_parse(const unsigned char *buf, size_t len, const char *name, ct_idx *out)
{
    memset(out, 0, sizeof *out);
    if (!name) name = "IDX";
    if (!buf) len = 0;
    if (len < 4)
        return ct_fail(CT_ERR_INPUT, "%s: file is %zu bytes, too short for an IDX header (4 bytes); the file is "
                       "truncated or not an IDX file", name, len);
    uint32_t magic = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) | ((uint32_t)buf[2] << 8) | buf[3];
    if (buf[0] != 0 || buf[1] != 0)
        return ct_fail(CT_ERR_INPUT, "%s: bad magic 0x%08X (at byte 0): IDX files start with two zero bytes; this is "
                       "not an IDX file (or it is compressed in a format other than gzip)", name, magic);
    int type = buf[2];
    size_t esz = ct_idx_type_size(type);
    if (!esz)
        return ct_fail(CT_ERR_INPUT, "%s: unknown IDX data type 0x%02X in magic 0x%08X (at byte 2); expected 0x08 "
                       "(u8), 0x09 (i8), 0x0B (i16), 0x0C (i32), 0x0D (f32) or 0x0E (f64); not an IDX file", name, type,
                       magic);
    int rank = buf[3];
    if (rank < 1 || rank > CT_IDX_MAX_RANK)
        return ct_fail(CT_ERR_INPUT, "%s: %d dimensions in magic 0x%08X (at byte 3); cltrain reads IDX files with 1 "
                       "to %d dimensions", name, rank, magic, CT_IDX_MAX_RANK);
    size_t hdr = 4 + 4 * (size_t)rank;
    if (len < hdr)
        return ct_fail(CT_ERR_INPUT, "%s: header needs %zu bytes for %d dimension sizes but the file has only %zu; "
                       "the file is truncated: download it again", name, hdr, rank, len);
    uint64_t count = 1;
    int ovf = 0;
    char dimtxt[64];
    size_t dl = 0;
    for (int i = 0; i < rank; i++) {
        const unsigned char *p = buf + 4 + 4 * i;
        uint32_t d = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
        out->dims[i] = d;
        dl += (size_t)snprintf(dimtxt + dl, sizeof dimtxt - dl, "%s%u", i ? " x " : "", d);
        if (d && count > UINT64_MAX / d)
            ovf = 1;
        else
            count *= d;
    }
    if (ovf || count > (uint64_t)SIZE_MAX / esz || count * esz > (uint64_t)SIZE_MAX - hdr) {
        memset(out, 0, sizeof *out);
        return ct_fail(CT_ERR_INPUT, "%s: dimensions %s of %s (at byte 4) overflow the element count; the file is "
                       "corrupt", name, dimtxt, ct_idx_type_name(type));
    }
    size_t need = (size_t)count * esz;
    if (len - hdr < need) {
        memset(out, 0, sizeof *out);
        return ct_fail(CT_ERR_INPUT, "%s: data is shorter than the header promises: %s %s values need %zu bytes "
                       "after the header (from byte %zu), but only %zu are there; the file is truncated: download it "
                       "again", name, dimtxt, ct_idx_type_name(type), need, hdr, len - hdr);
    }
    out->data = malloc(need ? need : 1);
    if (!out->data) {
        memset(out, 0, sizeof *out);
        return ct_fail(CT_ERR_NOMEM, "%s: out of host memory for %zu bytes of IDX data", name, need);
    }
    const unsigned char *src = buf + hdr;
    unsigned char *dst = out->data;
    switch (esz) {
    case 1: memcpy(dst, src, need); break;
    case 2:
        for (size_t i = 0; i < count; i++) {
            uint16_t v = (uint16_t)(((unsigned)src[2 * i] << 8) | src[2 * i + 1]);
            memcpy(dst + 2 * i, &v, 2);
        }
        break;
    case 4:
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = src + 4 * i;
            uint32_t v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
            memcpy(dst + 4 * i, &v, 4);
        }
        break;
    default:
        for (size_t i = 0; i < count; i++) {
            const unsigned char *p = src + 8 * i;
            uint64_t v = 0;
            for (int k = 0; k < 8; k++) v = (v << 8) | p[k];
            memcpy(dst + 8 * i, &v, 8);
        }
        break;
    }
    out->type = (ct_idx_type)type;
    out->rank = rank;
    out->count = (size_t)count;
    out->elem_size = esz;
    out->trailing = len - hdr - need;
    if (out->trailing)
        ct_log("warning: %s: %zu trailing bytes after the IDX data (from byte %zu) are ignored\n", name, out->trailing,
               hdr + need);
    ct_md5_hex(buf, len, out->md5);
    return CT_OK;
}

int ct_gunzip(const unsigned char *in, size_t len, size_t max_out, const char *name, unsigned char **out,
              size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!name) name = "gzip data";
    if (len < 2 || in[0] != 0x1f || in[1] != 0x8b)
        return ct_fail(CT_ERR_INPUT, "%s: not gzip data (no 1f 8b magic at byte 0)", name);
    /* one byte more than allowed, to tell "exactly max_out" from "more than max_out" */
    size_t limit = max_out < SIZE_MAX ? max_out + 1 : max_out;
    size_t cap = len < SIZE_MAX / 4 ? len * 4 : len;
    if (cap < 65536) cap = 65536;
    if (cap > limit) cap = limit;
    unsigned char *buf = malloc(cap ? cap : 1);
    if (!buf) return ct_fail(CT_ERR_NOMEM, "%s: out of host memory for decompression", name);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        free(buf);
        return ct_fail(CT_ERR_NOMEM, "%s: cannot start zlib decompression", name);
    }
    size_t in_pos = 0, total = 0;
    int rc = CT_OK;
    for (;;) {
        if (total == cap) {
            if (cap >= limit) {
                rc = ct_fail(CT_ERR_INPUT, "%s: decompresses to more than %zu bytes, the most cltrain accepts; the "
                             "file is not the expected data", name, max_out);
                break;
            }
            size_t nc = cap <= limit / 2 ? cap * 2 : limit;
            unsigned char *nb = realloc(buf, nc);
            if (!nb) {
                rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory for %zu bytes of decompressed data", name, nc);
                break;
            }
            buf = nb;
            cap = nc;
        }
        size_t ain = len - in_pos, aout = cap - total;
        zs.next_in = (unsigned char *)(in + in_pos);
        zs.avail_in = ain > UINT_MAX ? UINT_MAX : (uInt)ain;
        zs.next_out = buf + total;
        zs.avail_out = aout > UINT_MAX ? UINT_MAX : (uInt)aout;
        uInt gave_in = zs.avail_in, gave_out = zs.avail_out;
        int z = inflate(&zs, Z_NO_FLUSH);
        in_pos += gave_in - zs.avail_in;
        total += gave_out - zs.avail_out;
        if (z == Z_STREAM_END) {
            /* gzip allows several members, and tools tolerate zero padding after the last */
            while (in_pos < len && in[in_pos] == 0) in_pos++;
            if (in_pos == len) break;
            if (len - in_pos < 2 || in[in_pos] != 0x1f || in[in_pos + 1] != 0x8b) {
                rc = ct_fail(CT_ERR_INPUT, "%s: corrupt gzip file: unexpected data after the compressed stream (at "
                             "byte %zu); download the file again", name, in_pos);
                break;
            }
            inflateReset(&zs);
            continue;
        }
        if (z == Z_OK) continue;
        if (z == Z_BUF_ERROR) {
            if (in_pos == len) {
                rc = ct_fail(CT_ERR_INPUT, "%s: gzip file is truncated (the compressed stream ends early, after %zu "
                             "bytes); download the file again", name, len);
                break;
            }
            continue; /* output space ran out: grow and go on */
        }
        if (z == Z_MEM_ERROR) {
            rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory in zlib", name);
            break;
        }
        rc = ct_fail(CT_ERR_INPUT, "%s: corrupt gzip file (%s, near compressed byte %zu); download the file again",
                     name, zs.msg ? zs.msg : "invalid data", in_pos);
        break;
    }
    inflateEnd(&zs);
    if (rc == CT_OK && total > max_out)
        rc = ct_fail(CT_ERR_INPUT, "%s: decompresses to more than %zu bytes, the most cltrain accepts; the file is "
                     "not the expected data", name, max_out);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = total;
    return CT_OK;
}

/* Reads a file and gunzips it when it carries the gzip magic. */
static int read_maybe_gz(const char *path, unsigned char **data, size_t *len, int *gz)
{
    unsigned char *raw;
    size_t rlen;
    *gz = 0;
    int rc = ct_read_file(path, (size_t)CT_IDX_MAX_FILE, &raw, &rlen);
    if (rc) return rc;
    if (rlen >= 2 && raw[0] == 0x1f && raw[1] == 0x8b) {
        *gz = 1;
        rc = ct_gunzip(raw, rlen, (size_t)CT_IDX_MAX_FILE, path, data, len);
        free(raw);
        return rc;
    }
    *data = raw;
    *len = rlen;
    return CT_OK;
}

int ct_idx_load(const char *path, ct_idx *out)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    int gz;
    int rc = read_maybe_gz(path, &buf, &len, &gz);
    if (rc) return rc;
    rc = ct_idx_parse(buf, len, path, out);
    free(buf);
    if (rc == CT_OK) out->gzipped = gz;
    return rc;
}

/* --- MNIST ------------------------------------------------------------------------------- */

void ct_mnist_free(ct_mnist *m)
{
    if (!m) return;
    free(m->images);
    free(m->labels);
    free(m->images_path);
    free(m->labels_path);
    memset(m, 0, sizeof *m);
}

/* Checks a parsed image/label pair and moves their data into out (img/lbl are emptied).
 * mnist != 0: MNIST's rules (28 x 28 images, labels 0-9); else any size, labels 0-255. */
static int idx_pair_take(ct_idx *img, const char *iname, ct_idx *lbl, const char *lname, int mnist, ct_mnist *out)
{
    uint32_t imagic = ((uint32_t)img->type << 8) | (uint32_t)img->rank;
    if (img->type != CT_IDX_U8 || img->rank != 3)
        return ct_fail(CT_ERR_INPUT, "%s: magic 0x%08X (%s, %d dimensions), expected 0x00000803 (u8, 3 dimensions) "
                       "for MNIST images; check that this is an images file (labels are idx1)", iname, imagic,
                       ct_idx_type_name(img->type), img->rank);
    if (!mnist && (img->dims[1] == 0 || img->dims[2] == 0))
        return ct_fail(CT_ERR_INPUT, "%s: images are %u x %u pixels (at byte 8); an image needs at least 1 x 1", iname,
                       img->dims[1], img->dims[2]);
    if (mnist && (img->dims[1] != 28 || img->dims[2] != 28))
        return ct_fail(CT_ERR_INPUT, "%s: images are %u x %u pixels (at byte 8), expected 28 x 28 for MNIST", iname,
                       img->dims[1], img->dims[2]);
    uint32_t lmagic = ((uint32_t)lbl->type << 8) | (uint32_t)lbl->rank;
    if (lbl->type != CT_IDX_U8 || lbl->rank != 1)
        return ct_fail(CT_ERR_INPUT, "%s: magic 0x%08X (%s, %d dimensions), expected 0x00000801 (u8, 1 dimension) "
                       "for MNIST labels; check that this is a labels file (images are idx3)", lname, lmagic,
                       ct_idx_type_name(lbl->type), lbl->rank);
    if (img->dims[0] != lbl->dims[0])
        return ct_fail(CT_ERR_INPUT, "%s holds %u images but %s holds %u labels; the two files do not belong together: "
                       "download both again", iname, img->dims[0], lname, lbl->dims[0]);
    const uint8_t *l = lbl->data;
    for (size_t i = 0; i < lbl->count; i++)
        if (mnist && l[i] > 9)
            return ct_fail(CT_ERR_INPUT, "%s: label %u at index %zu (byte %zu) is outside 0-9; the file is corrupt",
                           lname, l[i], i, 8 + i);
    out->n = img->dims[0];
    out->rows = (int)img->dims[1];
    out->cols = (int)img->dims[2];
    out->images = img->data;
    out->labels = lbl->data;
    img->data = NULL;
    lbl->data = NULL;
    memcpy(out->images_md5, img->md5, 33);
    memcpy(out->labels_md5, lbl->md5, 33);
    return CT_OK;
}

/* images + labels IDX parsed from memory; mnist: 28 x 28 images and labels 0-9 required */
static int idx_pair_parse(const unsigned char *images, size_t images_len, const char *images_name,
                          const unsigned char *labels, size_t labels_len, const char *labels_name, int mnist,
                          ct_mnist *out)
{
    memset(out, 0, sizeof *out);
    ct_idx img, lbl;
    int rc = ct_idx_parse(images, images_len, images_name, &img);
    if (rc) return rc;
    rc = ct_idx_parse(labels, labels_len, labels_name, &lbl);
    if (rc) {
        ct_idx_free(&img);
        return rc;
    }
    rc = idx_pair_take(&img, images_name ? images_name : "images", &lbl, labels_name ? labels_name : "labels", mnist,
                       out);
    ct_idx_free(&img);
    ct_idx_free(&lbl);
    if (rc) ct_mnist_free(out);
    return rc;
}

int ct_mnist_parse(const unsigned char *images, size_t images_len, const char *images_name,
                   const unsigned char *labels, size_t labels_len, const char *labels_name, ct_mnist *out)
{
    return idx_pair_parse(images, images_len, images_name, labels, labels_len, labels_name, 1, out);
}

/* Finds the first existing candidate for prefix/kind ("train"/"images"/"idx3"). */
static int find_file(const char *dir, const char *prefix, const char *kind, const char *idxn, const char *what,
                     char **found)
{
    char names[4][64];
    snprintf(names[0], sizeof names[0], "%s-%s-%s-ubyte", prefix, kind, idxn);
    snprintf(names[1], sizeof names[1], "%s-%s-%s-ubyte.gz", prefix, kind, idxn);
    snprintf(names[2], sizeof names[2], "%s-%s.%s-ubyte", prefix, kind, idxn);
    snprintf(names[3], sizeof names[3], "%s-%s.%s-ubyte.gz", prefix, kind, idxn);
    *found = NULL;
    for (int i = 0; i < 4; i++) {
        char *p = ct_path_join(dir, names[i]);
        if (!p) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            *found = p;
            return CT_OK;
        }
        free(p);
    }
    struct stat st;
    const char *why = "";
    if (stat(dir, &st) != 0)
        why = " (the folder does not exist)";
    else if (!S_ISDIR(st.st_mode))
        why = " (it is not a folder)";
    return ct_fail(CT_ERR_INPUT, "%s: MNIST %s not found%s: tried %s, %s, %s, %s; run tools/fetch-mnist.sh %s to "
                   "download MNIST", dir, what, why, names[0], names[1], names[2], names[3], dir);
}

static int idx_set_load(const char *dir, int train, int mnist, ct_mnist *out)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return ct_fail(CT_ERR_USAGE, "no MNIST folder given");
    const char *prefix = train ? "train" : "t10k";
    char *ipath = NULL, *lpath = NULL;
    int rc = find_file(dir, prefix, "images", "idx3", train ? "training images" : "test images", &ipath);
    if (rc) return rc;
    rc = find_file(dir, prefix, "labels", "idx1", train ? "training labels" : "test labels", &lpath);
    if (rc) {
        free(ipath);
        return rc;
    }
    ct_idx img, lbl;
    memset(&lbl, 0, sizeof lbl);
    rc = ct_idx_load(ipath, &img);
    if (rc == CT_OK) rc = ct_idx_load(lpath, &lbl);
    if (rc == CT_OK) rc = idx_pair_take(&img, ipath, &lbl, lpath, mnist, out);
    ct_idx_free(&img);
    ct_idx_free(&lbl);
    if (rc) {
        free(ipath);
        free(lpath);
        ct_mnist_free(out);
        return rc;
    }
    out->images_path = ipath;
    out->labels_path = lpath;
    ct_debug("IDX %s: %zu images of %d x %d from %s (md5 %s), labels from %s (md5 %s)\n", prefix, out->n,
             out->rows, out->cols, ipath, out->images_md5, lpath, out->labels_md5);
    return CT_OK;
}

int ct_mnist_load(const char *dir, int train, ct_mnist *out) { return idx_set_load(dir, train, 1, out); }

int ct_idx_set_load(const char *dir, int train, ct_mnist *out) { return idx_set_load(dir, train, 0, out); }

int ct_idx_set_parse(const unsigned char *images, size_t images_len, const char *images_name,
                     const unsigned char *labels, size_t labels_len, const char *labels_name, ct_mnist *out)
{
    return idx_pair_parse(images, images_len, images_name, labels, labels_len, labels_name, 0, out);
}
