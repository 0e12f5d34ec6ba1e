/* safetensors.c: strict safetensors reader, writer and typed getters. See safetensors.h. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors.h"

#include "common.h"
#include "io/jsonutil.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const DTYPE_NAMES[CT_ST_DTYPE_COUNT] = {"F64", "F32", "F16", "BF16", "I64",
                                                           "I32", "I16", "I8",  "U8",   "BOOL"};
static const size_t DTYPE_SIZES[CT_ST_DTYPE_COUNT] = {8, 4, 2, 2, 8, 4, 2, 1, 1, 1};
#define SUPPORTED_DTYPES "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL"

const char *ct_st_dtype_name(ct_st_dtype d)
{
    return ((unsigned)d < CT_ST_DTYPE_COUNT) ? DTYPE_NAMES[d] : "?";
}

size_t ct_st_dtype_size(ct_st_dtype d)
{
    return ((unsigned)d < CT_ST_DTYPE_COUNT) ? DTYPE_SIZES[d] : 0;
}

int ct_st_dtype_from_name(const char *name, ct_st_dtype *out)
{
    if (!name) return -1;
    for (int i = 0; i < CT_ST_DTYPE_COUNT; i++)
        if (strcmp(name, DTYPE_NAMES[i]) == 0) {
            *out = (ct_st_dtype)i;
            return 0;
        }
    return -1;
}

struct ct_st_file {
    ct_st_tensor *tensors;
    size_t count;
    char **meta_keys;
    char **meta_vals;
    size_t meta_count;
    unsigned char *store; /* holds all tensor bytes (either the file buffer or an aligned copy) */
};

void ct_st_free(ct_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->count; i++) free((char *)f->tensors[i].name);
    free(f->tensors);
    for (size_t i = 0; i < f->meta_count; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->store);
    free(f);
}

/* Quotes a (possibly long or odd) name for an error message. */
static const char *qname(char *buf, size_t cap, const char *s)
{
    char clip[96];
    size_t n = strlen(s);
    if (n >= sizeof clip) {
        memcpy(clip, s, sizeof clip - 4);
        memcpy(clip + sizeof clip - 4, "...", 4);
    } else {
        memcpy(clip, s, n + 1);
    }
    /* single quotes around the JSON-escaped text, without the JSON double quotes */
    char esc[400];
    size_t k = ct_json_escape(esc, sizeof esc, clip);
    if (k >= 2 && k < sizeof esc) {
        esc[k - 1] = 0;
        snprintf(buf, cap, "'%s'", esc + 1);
    } else {
        snprintf(buf, cap, "'?'");
    }
    return buf;
}

static void format_shape(char *buf, size_t cap, int rank, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < rank && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRId64, i ? "," : "", shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

#define BADFILE "; the file is corrupt or not a safetensors file"

/* Checks one tensor entry of the header; fills t (except name and data). */
static int parse_tensor_info(const char *nm, const char *tname, const json_t *v, ct_st_tensor *t)
{
    char q[420];
    qname(q, sizeof q, tname);
    if (!json_is_object(v))
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: entry is %s, expected an object with dtype, shape and "
                       "data_offsets" BADFILE, nm, q, ct_jtype_a(v));
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (strcmp(k, "dtype") && strcmp(k, "shape") && strcmp(k, "data_offsets")) {
            char qk[420];
            return ct_fail(CT_ERR_INPUT, "%s: tensor %s: unknown field %s; expected only dtype, shape and "
                           "data_offsets" BADFILE, nm, q, qname(qk, sizeof qk, k));
        }
    }
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!dt || !sh || !off)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: missing field '%s'" BADFILE, nm, q,
                       !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    /* dtype */
    if (!json_is_string(dt))
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: dtype is %s, expected a string such as \"F32\"" BADFILE, nm, q,
                       ct_jtype_a(dt));
    if (ct_st_dtype_from_name(json_string_value(dt), &t->dtype) != 0) {
        char qd[420];
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: unsupported dtype %s; cltrain reads " SUPPORTED_DTYPES
                       "; convert the tensor to one of these", nm, q, qname(qd, sizeof qd, json_string_value(dt)));
    }
    /* shape */
    if (!json_is_array(sh))
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: shape is %s, expected an array of non-negative integers" BADFILE,
                       nm, q, ct_jtype_a(sh));
    size_t rank = json_array_size(sh);
    if (rank > CT_ST_MAX_RANK)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: shape has %zu dimensions, more than the %d supported" BADFILE,
                       nm, q, rank, CT_ST_MAX_RANK);
    t->rank = (int)rank;
    uint64_t numel = 1;
    int ovf = 0;
    for (size_t i = 0; i < rank; i++) {
        int64_t dim;
        if (!ct_jas_int64(json_array_get(sh, i), &dim) || dim < 0)
            return ct_fail(CT_ERR_INPUT, "%s: tensor %s: shape entry %zu is not a non-negative integer" BADFILE, nm,
                           q, i);
        t->shape[i] = dim;
        if (dim != 0 && numel > UINT64_MAX / (uint64_t)dim)
            ovf = 1;
        else
            numel *= (uint64_t)dim;
    }
    /* data_offsets */
    if (!json_is_array(off) || json_array_size(off) != 2)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: data_offsets must be an array of two integers [BEGIN, END]"
                       BADFILE, nm, q);
    int64_t be[2];
    for (int i = 0; i < 2; i++)
        if (!ct_jas_int64(json_array_get(off, (size_t)i), &be[i]) || be[i] < 0)
            return ct_fail(CT_ERR_INPUT, "%s: tensor %s: data_offsets[%d] is not a non-negative integer" BADFILE, nm,
                           q, i);
    t->begin = (uint64_t)be[0];
    t->end = (uint64_t)be[1];
    if (t->end < t->begin)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: data_offsets END %" PRIu64 " < BEGIN %" PRIu64 BADFILE, nm, q,
                       t->end, t->begin);
    size_t esz = DTYPE_SIZES[t->dtype];
    char shp[256];
    format_shape(shp, sizeof shp, t->rank, t->shape);
    if (ovf || numel > UINT64_MAX / esz)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: shape %s x %zu bytes overflows 64 bits" BADFILE, nm, q, shp, esz);
    t->numel = numel;
    if (numel * esz != t->end - t->begin)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s: shape %s of %s needs %" PRIu64 " bytes but data_offsets [%"
                       PRIu64 ", %" PRIu64 "] span %" PRIu64 BADFILE, nm, q, shp, DTYPE_NAMES[t->dtype],
                       numel * esz, t->begin, t->end, t->end - t->begin);
    return CT_OK;
}

typedef struct {
    uint64_t begin, end;
    size_t idx;
} span;

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* __metadata__ (may be absent): an object of strings, copied into f. */
static int parse_metadata(const char *nm, const json_t *m, ct_st_file *f)
{
    if (!m) return CT_OK;
    if (!json_is_object(m))
        return ct_fail(CT_ERR_INPUT, "%s: __metadata__ is %s, expected an object of string values" BADFILE, nm,
                       ct_jtype_a(m));
    size_t cnt = json_object_size(m);
    f->meta_keys = calloc(cnt ? cnt : 1, sizeof(char *));
    f->meta_vals = calloc(cnt ? cnt : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) return ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) {
        char q[420];
        if (!json_is_string(v))
            return ct_fail(CT_ERR_INPUT, "%s: __metadata__ value for %s is %s, expected a string" BADFILE, nm,
                           qname(q, sizeof q, k), ct_jtype_a(v));
        size_t i = f->meta_count;
        f->meta_keys[i] = strdup(k);
        f->meta_vals[i] = strdup(json_string_value(v));
        f->meta_count++;
        if (!f->meta_keys[i] || !f->meta_vals[i]) return ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
    }
    return CT_OK;
}

/* own_buf: buf is malloc'd and may be kept as the tensor store (ownership passes in). */
static int st_parse(unsigned char *buf, size_t len, const char *nm, int own_buf, ct_st_file **out)
{
    *out = NULL;
    json_t *root = NULL;
    ct_st_file *f = NULL;
    span *sp = NULL;
    int rc = CT_OK;
    if (!nm) nm = "safetensors";
    if (len < 8) {
        rc = ct_fail(CT_ERR_INPUT, "%s: file is %zu bytes, too short for a safetensors file (the 8-byte header "
                     "length is missing); the file is truncated or not safetensors", nm, len);
        goto done;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > CT_ST_MAX_HEADER) {
        rc = ct_fail(CT_ERR_INPUT, "%s: header length %" PRIu64 " (at byte 0) is more than the %llu allowed" BADFILE,
                     nm, n, (unsigned long long)CT_ST_MAX_HEADER);
        goto done;
    }
    if (n > (uint64_t)(len - 8)) {
        rc = ct_fail(CT_ERR_INPUT, "%s: header of %" PRIu64 " bytes (length at byte 0) runs past the end of the "
                     "file (%zu bytes); the file is truncated: copy or download it again", nm, n, len);
        goto done;
    }
    const char *hdr = (const char *)buf + 8;
    size_t hlen = (size_t)n;
    if (hlen == 0 || hdr[0] != '{') {
        rc = ct_fail(CT_ERR_INPUT, "%s: header does not start with '{' (at byte 8): it must be a JSON object" BADFILE,
                     nm);
        goto done;
    }
    rc = ct_jparse(hdr, hlen, nm, 8, CT_ST_MAX_JSON_VALUES, &root);
    if (rc) goto done;
    f = calloc(1, sizeof *f);
    if (!f) {
        rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
        goto done;
    }
    rc = parse_metadata(nm, json_object_get(root, "__metadata__"), f);
    if (rc) goto done;
    size_t ntens = json_object_size(root) - (json_object_get(root, "__metadata__") ? 1 : 0);
    f->tensors = calloc(ntens ? ntens : 1, sizeof *f->tensors);
    sp = calloc(ntens ? ntens : 1, sizeof *sp);
    if (!f->tensors || !sp) {
        rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        ct_st_tensor t;
        memset(&t, 0, sizeof t);
        rc = parse_tensor_info(nm, key, val, &t);
        if (rc) goto done;
        t.nbytes = (size_t)(t.end - t.begin);
        t.name = strdup(key);
        if (!t.name) {
            rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
            goto done;
        }
        sp[f->count].begin = t.begin;
        sp[f->count].end = t.end;
        sp[f->count].idx = f->count;
        f->tensors[f->count++] = t;
    }
    /* the tensors must tile the data buffer from 0, without gaps or overlaps */
    qsort(sp, f->count, sizeof *sp, span_cmp);
    uint64_t pos = 0;
    for (size_t i = 0; i < f->count; i++) {
        const ct_st_tensor *t = &f->tensors[sp[i].idx];
        char q[420];
        if (t->begin != pos) {
            if (i == 0)
                rc = ct_fail(CT_ERR_INPUT, "%s: the first tensor, %s, starts at data offset %" PRIu64 " instead of 0: "
                             "a gap of %" PRIu64 " unused bytes" BADFILE, nm, qname(q, sizeof q, t->name), t->begin,
                             t->begin);
            else if (t->begin > pos)
                rc = ct_fail(CT_ERR_INPUT, "%s: tensor %s starts at data offset %" PRIu64 " but the previous tensor "
                             "ends at %" PRIu64 ": a gap of %" PRIu64 " unused bytes" BADFILE, nm,
                             qname(q, sizeof q, t->name), t->begin, pos, t->begin - pos);
            else
                rc = ct_fail(CT_ERR_INPUT, "%s: tensor %s starts at data offset %" PRIu64 ", inside the previous "
                             "tensor (which ends at %" PRIu64 "): tensors overlap" BADFILE, nm,
                             qname(q, sizeof q, t->name), t->begin, pos);
            goto done;
        }
        pos = t->end;
    }
    uint64_t avail = (uint64_t)(len - 8) - n;
    if (pos > avail) {
        rc = ct_fail(CT_ERR_INPUT, "%s: the tensors need %" PRIu64 " bytes of data but only %" PRIu64 " follow the "
                     "header (data starts at byte %" PRIu64 "); the file is truncated: copy or download it again", nm,
                     pos, avail, 8 + n);
        goto done;
    }
    if (pos < avail) {
        rc = ct_fail(CT_ERR_INPUT, "%s: %" PRIu64 " trailing bytes after the last tensor (data ends at byte %" PRIu64
                     ", file is %zu bytes)" BADFILE, nm, avail - pos, 8 + n + pos, len);
        goto done;
    }
    /* tensor storage: keep the file buffer when every tensor is aligned, else an aligned copy */
    unsigned char *base = buf + 8 + n;
    int aligned = own_buf;
    for (size_t i = 0; i < f->count && aligned; i++) {
        size_t a = DTYPE_SIZES[f->tensors[i].dtype];
        if ((uintptr_t)(base + f->tensors[i].begin) % a) aligned = 0;
    }
    if (aligned) {
        f->store = buf;
        buf = NULL; /* now owned by f */
        for (size_t i = 0; i < f->count; i++) f->tensors[i].data = base + f->tensors[i].begin;
    } else {
        size_t total = 0;
        for (size_t i = 0; i < f->count; i++) total += (f->tensors[i].nbytes + 7) & ~(size_t)7;
        f->store = malloc(total ? total : 1);
        if (!f->store) {
            rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory for %zu bytes of tensor data", nm, total);
            goto done;
        }
        size_t o = 0;
        for (size_t i = 0; i < f->count; i++) {
            ct_st_tensor *t = &f->tensors[sp[i].idx];
            memcpy(f->store + o, base + t->begin, t->nbytes);
            t->data = f->store + o;
            o += (t->nbytes + 7) & ~(size_t)7;
        }
    }
    /* present tensors in data-buffer order */
    {
        ct_st_tensor *sorted = malloc((f->count ? f->count : 1) * sizeof *sorted);
        if (!sorted) {
            rc = ct_fail(CT_ERR_NOMEM, "%s: out of host memory", nm);
            goto done;
        }
        for (size_t i = 0; i < f->count; i++) sorted[i] = f->tensors[sp[i].idx];
        free(f->tensors);
        f->tensors = sorted;
    }
done:
    free(sp);
    json_decref(root);
    if (own_buf) free(buf);
    if (rc) {
        ct_st_free(f);
        return rc;
    }
    *out = f;
    return CT_OK;
}

int ct_st_parse(const unsigned char *buf, size_t len, const char *name_for_errors, ct_st_file **out)
{
    if (!buf && len) return ct_fail(CT_ERR_INPUT, "%s: no data", name_for_errors ? name_for_errors : "safetensors");
    static const unsigned char empty[1] = {0};
    return st_parse((unsigned char *)(buf ? buf : empty), len, name_for_errors, 0, out);
}

int ct_st_load(const char *path, ct_st_file **out)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    size_t cap = (size_t)(CT_ST_MAX_FILE < (unsigned long long)SIZE_MAX ? CT_ST_MAX_FILE : SIZE_MAX);
    int rc = ct_read_file(path, cap, &buf, &len);
    if (rc) return rc;
    return st_parse(buf, len, path, 1, out);
}

size_t ct_st_count(const ct_st_file *f) { return f ? f->count : 0; }

const ct_st_tensor *ct_st_tensor_at(const ct_st_file *f, size_t i)
{
    return (f && i < f->count) ? &f->tensors[i] : NULL;
}

const ct_st_tensor *ct_st_find(const ct_st_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

size_t ct_st_metadata_count(const ct_st_file *f) { return f ? f->meta_count : 0; }

const char *ct_st_metadata_get(const ct_st_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

int ct_st_metadata_at(const ct_st_file *f, size_t i, const char **key, const char **value)
{
    if (!f || i >= f->meta_count) return -1;
    if (key) *key = f->meta_keys[i];
    if (value) *value = f->meta_vals[i];
    return 0;
}

static int get_checked(const ct_st_file *f, const char *name, ct_st_dtype want, int rank, const int64_t *shape,
                       const ct_st_tensor **out, const char *file)
{
    char q[420];
    if (!file) file = "safetensors";
    const ct_st_tensor *t = ct_st_find(f, name);
    if (!t)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s is missing; the file does not match this model (check that it "
                       "was written for the same architecture)", file, qname(q, sizeof q, name ? name : ""));
    if (t->dtype != want)
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s has dtype %s, expected %s; convert the model to %s", file,
                       qname(q, sizeof q, name), DTYPE_NAMES[t->dtype], DTYPE_NAMES[want], DTYPE_NAMES[want]);
    int bad = 0;
    if (shape) {
        if (t->rank != rank) bad = 1;
        for (int i = 0; i < rank && !bad; i++)
            if (t->shape[i] != shape[i]) bad = 1;
    } else if (rank >= 0 && t->rank != rank) {
        bad = 2;
    }
    if (bad) {
        char got[256], exp[256];
        format_shape(got, sizeof got, t->rank, t->shape);
        if (bad == 1) {
            format_shape(exp, sizeof exp, rank > CT_ST_MAX_RANK ? CT_ST_MAX_RANK : rank, shape);
            return ct_fail(CT_ERR_INPUT, "%s: tensor %s has shape %s, expected %s; the file does not match this "
                           "model's configuration", file, qname(q, sizeof q, name), got, exp);
        }
        return ct_fail(CT_ERR_INPUT, "%s: tensor %s has shape %s (%d dimensions), expected %d dimensions; the file "
                       "does not match this model's configuration", file, qname(q, sizeof q, name), got, t->rank, rank);
    }
    *out = t;
    return CT_OK;
}

int ct_st_get_f32(const ct_st_file *f, const char *name, int rank, const int64_t *shape, const float **data,
                  const char *file_for_errors)
{
    const ct_st_tensor *t;
    *data = NULL;
    int rc = get_checked(f, name, CT_ST_F32, rank, shape, &t, file_for_errors);
    if (rc) return rc;
    *data = (const float *)t->data;
    return CT_OK;
}

int ct_st_get_i64_scalar(const ct_st_file *f, const char *name, int64_t *value, const char *file_for_errors)
{
    const ct_st_tensor *t;
    int rc = get_checked(f, name, CT_ST_I64, 0, NULL, &t, file_for_errors);
    if (rc) return rc;
    const unsigned char *p = t->data;
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--) u = (u << 8) | p[i];
    memcpy(value, &u, sizeof u);
    return CT_OK;
}

/* --- writer ------------------------------------------------------------------------------- */

typedef struct {
    char *name;
    ct_st_dtype dtype;
    int rank;
    int64_t shape[CT_ST_MAX_RANK];
    size_t nbytes;
    const void *data;
    void *owned;
} wtensor;

struct ct_st_writer {
    wtensor *t;
    size_t n, cap;
    char **mk, **mv;
    size_t mn, mcap;
};

ct_st_writer *ct_st_writer_new(void)
{
    ct_st_writer *w = calloc(1, sizeof *w);
    if (!w) ct_fail(CT_ERR_NOMEM, "out of host memory for a safetensors writer");
    return w;
}

void ct_st_writer_free(ct_st_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->t);
    for (size_t i = 0; i < w->mn; i++) {
        free(w->mk[i]);
        free(w->mv[i]);
    }
    free(w->mk);
    free(w->mv);
    free(w);
}

static char *dupstr(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

int ct_st_writer_add(ct_st_writer *w, const char *name, ct_st_dtype dtype, int rank, const int64_t *shape,
                     const void *data, int copy)
{
    char q[420];
    if (!w || !name) return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor without a name");
    qname(q, sizeof q, name);
    if ((unsigned)dtype >= CT_ST_DTYPE_COUNT)
        return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s: unknown dtype %d", q, (int)dtype);
    if (strcmp(name, "__metadata__") == 0)
        return ct_fail(CT_ERR_USAGE, "safetensors writer: '__metadata__' is reserved and cannot name a tensor");
    if (!ct_jutf8_valid(name, strlen(name)))
        return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor name %s is not valid UTF-8", q);
    if (rank < 0 || rank > CT_ST_MAX_RANK || (rank > 0 && !shape))
        return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s: rank %d is outside 0..%d", q, rank,
                       CT_ST_MAX_RANK);
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s added twice; tensor names must be unique", q);
    uint64_t numel = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s: dimension %d is negative (%" PRId64 ")", q,
                           i, shape[i]);
        uint64_t d = (uint64_t)shape[i];
        if (d && numel > UINT64_MAX / d)
            return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s: element count overflows", q);
        numel *= d;
    }
    size_t esz = DTYPE_SIZES[dtype];
    if (numel > (uint64_t)SIZE_MAX / esz)
        return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s is too large", q);
    size_t nbytes = (size_t)(numel * esz);
    if (nbytes && !data) return ct_fail(CT_ERR_USAGE, "safetensors writer: tensor %s has no data", q);
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 16;
        wtensor *nt = realloc(w->t, nc * sizeof *nt);
        if (!nt) return ct_fail(CT_ERR_NOMEM, "out of host memory in the safetensors writer");
        w->t = nt;
        w->cap = nc;
    }
    wtensor t;
    memset(&t, 0, sizeof t);
    t.name = dupstr(name);
    if (!t.name) return ct_fail(CT_ERR_NOMEM, "out of host memory in the safetensors writer");
    t.dtype = dtype;
    t.rank = rank;
    for (int i = 0; i < rank; i++) t.shape[i] = shape[i];
    t.nbytes = nbytes;
    t.data = data;
    if (copy && nbytes) {
        t.owned = malloc(nbytes);
        if (!t.owned) {
            free(t.name);
            return ct_fail(CT_ERR_NOMEM, "out of host memory copying tensor %s (%zu bytes)", q, nbytes);
        }
        memcpy(t.owned, data, nbytes);
        t.data = t.owned;
    }
    w->t[w->n++] = t;
    return CT_OK;
}

int ct_st_writer_add_i64_scalar(ct_st_writer *w, const char *name, int64_t value)
{
    unsigned char le[8];
    uint64_t u;
    memcpy(&u, &value, sizeof u);
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(u >> (8 * i));
    return ct_st_writer_add(w, name, CT_ST_I64, 0, NULL, le, 1);
}

int ct_st_writer_set_metadata(ct_st_writer *w, const char *key, const char *value)
{
    if (!w || !key || !value) return ct_fail(CT_ERR_USAGE, "safetensors writer: metadata key or value missing");
    if (!ct_jutf8_valid(key, strlen(key)) || !ct_jutf8_valid(value, strlen(value)))
        return ct_fail(CT_ERR_USAGE, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    char *v = dupstr(value);
    if (!v) return ct_fail(CT_ERR_NOMEM, "out of host memory in the safetensors writer");
    for (size_t i = 0; i < w->mn; i++)
        if (strcmp(w->mk[i], key) == 0) {
            free(w->mv[i]);
            w->mv[i] = v;
            return CT_OK;
        }
    if (w->mn == w->mcap) {
        size_t nc = w->mcap ? w->mcap * 2 : 16;
        char **nk = realloc(w->mk, nc * sizeof *nk);
        if (nk) w->mk = nk;
        char **nv = nk ? realloc(w->mv, nc * sizeof *nv) : NULL;
        if (nv) w->mv = nv;
        if (!nk || !nv) {
            free(v);
            return ct_fail(CT_ERR_NOMEM, "out of host memory in the safetensors writer");
        }
        w->mcap = nc;
    }
    char *k = dupstr(key);
    if (!k) {
        free(v);
        return ct_fail(CT_ERR_NOMEM, "out of host memory in the safetensors writer");
    }
    w->mk[w->mn] = k;
    w->mv[w->mn] = v;
    w->mn++;
    return CT_OK;
}

int ct_st_serialize(const ct_st_writer *w, unsigned char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!w) return ct_fail(CT_ERR_USAGE, "safetensors writer: no writer");
    /* the header: __metadata__ first, then the tensors in the order they were added */
    json_t *j = json_object();
    int bad = !j;
    if (w->mn) {
        json_t *meta = json_object();
        bad |= json_object_set_new(j, "__metadata__", meta);
        for (size_t i = 0; i < w->mn; i++) bad |= json_object_set_new(meta, w->mk[i], ct_jstr(w->mv[i]));
    }
    uint64_t off = 0;
    for (size_t i = 0; i < w->n && !bad; i++) {
        const wtensor *t = &w->t[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->rank; d++) bad |= json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
        bad |= json_object_set_new(j, t->name,
                                   json_pack("{s:s,s:o,s:[I,I]}", "dtype", DTYPE_NAMES[t->dtype], "shape", shape,
                                             "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes)));
        off += t->nbytes;
        if (off > (uint64_t)SIZE_MAX / 2) {
            json_decref(j);
            return ct_fail(CT_ERR_USAGE, "safetensors writer: tensors too large in total");
        }
    }
    char *hdr;
    size_t hlen;
    int rc = bad ? ct_fail(CT_ERR_NOMEM, "safetensors writer: out of host memory for the header")
                 : ct_jdump(j, &hdr, &hlen);
    json_decref(j);
    if (rc) return rc;
    size_t n = (hlen + 7) & ~(size_t)7;
    if (n > CT_ST_MAX_HEADER) {
        free(hdr);
        return ct_fail(CT_ERR_USAGE, "safetensors writer: header of %zu bytes is over the %llu that readers accept "
                       "(too many tensors or too much metadata)", n, (unsigned long long)CT_ST_MAX_HEADER);
    }
    size_t total = 8 + n + (size_t)off;
    unsigned char *out = malloc(total);
    if (!out) {
        free(hdr);
        return ct_fail(CT_ERR_NOMEM, "out of host memory for a %zu-byte safetensors file", total);
    }
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, hdr, hlen);
    memset(out + 8 + hlen, ' ', n - hlen);
    free(hdr);
    size_t o = 8 + n;
    for (size_t i = 0; i < w->n; i++) {
        if (w->t[i].nbytes) memcpy(out + o, w->t[i].data, w->t[i].nbytes);
        o += w->t[i].nbytes;
    }
    *buf = out;
    *len = total;
    return CT_OK;
}

int ct_st_write(const ct_st_writer *w, const char *path)
{
    unsigned char *buf;
    size_t len;
    int rc = ct_st_serialize(w, &buf, &len);
    if (rc) return ct_fail_ctx(rc, "%s", path);
    rc = ct_write_file_atomic(path, buf, len);
    free(buf);
    return rc;
}
