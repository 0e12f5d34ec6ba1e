/* test_safetensors.c: the safetensors reader (valid files made by an independent writer, one
 * fixture per rejection class, every truncation and byte flips of a valid file), the typed
 * getters and their messages, and the writer (round trip, layout, atomic write).
 * Fixtures: tests/fixtures/safetensors, made by tools/make-test-fixtures.py. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "safetensors.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "fixtures/safetensors/"

static unsigned char *slurp(const char *path, size_t *len)
{
    unsigned char *d = NULL;
    if (ct_read_file(path, 1 << 30, &d, len) != CT_OK) {
        TU_CHECK(0, "cannot read %s: %s", path, ct_last_error());
        return NULL;
    }
    return d;
}

static void test_valid_fixture(void)
{
    ct_st_file *f = NULL;
    int rc = ct_st_load(FIX "valid.safetensors", &f);
    TU_CHECK(rc == CT_OK, "valid.safetensors loads: %s", ct_last_error());
    if (rc) return;
    TU_CHECK(ct_st_count(f) == 7, "7 tensors, got %zu", ct_st_count(f));
    /* tensors come in data order */
    const char *order[] = {"empty", "fc.weight", "fc.bias", "bn.num_batches_tracked", "bytes", "odd", "half"};
    (void)order;
    const ct_st_tensor *t0 = ct_st_tensor_at(f, 0), *t1 = ct_st_tensor_at(f, 1);
    TU_CHECK(t0 && t1 && t0->begin <= t1->begin, "data order");
    TU_CHECK(ct_st_tensor_at(f, 7) == NULL, "out of range");
    const float *w;
    int64_t shape23[2] = {2, 3};
    rc = ct_st_get_f32(f, "fc.weight", 2, shape23, &w, "valid.safetensors");
    TU_CHECK(rc == CT_OK && w[0] == 1.0f && w[1] == -2.0f && w[4] == 1e-3f && w[5] == 7.0f, "fc.weight values");
    const float *b;
    rc = ct_st_get_f32(f, "fc.bias", 1, NULL, &b, "valid.safetensors");
    TU_CHECK(rc == CT_OK && b[0] == 0.5f && b[1] == -0.5f, "fc.bias values (rank-only check)");
    const float *odd;
    rc = ct_st_get_f32(f, "odd", -1, NULL, &odd, "valid.safetensors");
    TU_CHECK(rc == CT_OK && ((uintptr_t)odd % 4) == 0, "unaligned tensor handed out aligned");
    TU_CHECK(rc == CT_OK && odd[0] == 9.0f && odd[1] == 10.0f, "unaligned tensor values");
    int64_t nbt = 0;
    rc = ct_st_get_i64_scalar(f, "bn.num_batches_tracked", &nbt, "valid.safetensors");
    TU_CHECK(rc == CT_OK && nbt == 1234567890123LL, "I64 scalar = %lld", (long long)nbt);
    const ct_st_tensor *u = ct_st_find(f, "bytes");
    TU_CHECK(u && u->dtype == CT_ST_U8 && u->rank == 1 && u->shape[0] == 3 && u->nbytes == 3 &&
                 ((const unsigned char *)u->data)[2] == 9, "U8 tensor");
    const ct_st_tensor *h = ct_st_find(f, "half");
    TU_CHECK(h && h->dtype == CT_ST_F16 && h->nbytes == 4, "F16 tensor");
    const ct_st_tensor *e = ct_st_find(f, "empty");
    TU_CHECK(e && e->numel == 0 && e->nbytes == 0 && e->rank == 2 && e->shape[1] == 4, "empty tensor");
    const ct_st_tensor *s = ct_st_find(f, "bn.num_batches_tracked");
    TU_CHECK(s && s->rank == 0 && s->numel == 1, "scalar rank 0, numel 1");
    TU_CHECK(ct_st_find(f, "nope") == NULL, "missing tensor");
    /* metadata */
    TU_CHECK(ct_st_metadata_count(f) == 3, "3 metadata entries");
    TU_CHECK(ct_st_metadata_get(f, "format") && strcmp(ct_st_metadata_get(f, "format"), "pt") == 0, "format=pt");
    TU_CHECK(strcmp(ct_st_metadata_get(f, "note"), "caf\xc3\xa9") == 0, "UTF-8 metadata");
    TU_CHECK(strcmp(ct_st_metadata_get(f, "config"), "{\"hidden_size\": 256}") == 0, "JSON-encoded metadata");
    const char *k, *v;
    TU_CHECK(ct_st_metadata_at(f, 0, &k, &v) == 0 && strcmp(k, "format") == 0, "metadata in file order");
    TU_CHECK(ct_st_metadata_at(f, 3, &k, &v) == -1 && ct_st_metadata_get(f, "x") == NULL, "metadata misses");

    /* getter messages */
    int64_t want[4] = {32, 1, 5, 5};
    rc = ct_st_get_f32(f, "conv1.weight", 4, want, &w, "model.safetensors");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "model.safetensors: tensor 'conv1.weight' is missing"),
             "missing: %s", ct_last_error());
    int64_t want32[2] = {3, 2};
    rc = ct_st_get_f32(f, "fc.weight", 2, want32, &w, "model.safetensors");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(),
                                          "model.safetensors: tensor 'fc.weight' has shape [2,3], expected [3,2]"),
             "shape: %s", ct_last_error());
    rc = ct_st_get_f32(f, "fc.weight", 4, want, &w, "model.safetensors");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "has shape [2,3], expected [32,1,5,5]"), "rank: %s",
             ct_last_error());
    rc = ct_st_get_f32(f, "fc.bias", 2, NULL, &w, "m");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "expected 2 dimensions"), "rank only: %s", ct_last_error());
    rc = ct_st_get_f32(f, "half", -1, NULL, &w, "m");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "tensor 'half' has dtype F16, expected F32"), "dtype: %s",
             ct_last_error());
    rc = ct_st_get_i64_scalar(f, "fc.bias", &nbt, "m");
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "dtype F32, expected I64"), "i64 dtype: %s",
             ct_last_error());
    ct_st_free(f);

    /* header order differs from data order, no padding */
    rc = ct_st_load(FIX "valid_unordered.safetensors", &f);
    TU_CHECK(rc == CT_OK, "valid_unordered: %s", ct_last_error());
    if (rc == CT_OK) {
        TU_CHECK(strcmp(ct_st_tensor_at(f, 0)->name, "a") == 0, "sorted by offset");
        const float *a;
        TU_CHECK(ct_st_get_f32(f, "b", 1, NULL, &a, "u") == CT_OK && a[0] == 2.0f, "b = 2");
        ct_st_free(f);
    }
    rc = ct_st_load(FIX "valid_empty.safetensors", &f);
    TU_CHECK(rc == CT_OK && ct_st_count(f) == 0 && ct_st_metadata_count(f) == 0, "no tensors: %s", ct_last_error());
    ct_st_free(f);

    /* a file made by PyTorch's tooling, when the model fixtures are present */
    if (access("fixtures/digitcnn_ref.safetensors", R_OK) == 0) {
        rc = ct_st_load("fixtures/digitcnn_ref.safetensors", &f);
        TU_CHECK(rc == CT_OK && ct_st_count(f) > 0, "digitcnn_ref.safetensors: %s", ct_last_error());
        ct_st_free(f);
    }
}

typedef struct {
    const char *file;
    const char *want; /* substring of the error message */
} reject_case;

static const reject_case REJECTS[] = {
    {"short", "too short for a safetensors file"},
    {"header_too_large", "header length 100000001 (at byte 0) is more than the 100000000 allowed"},
    {"header_past_eof", "header of 1000 bytes (length at byte 0) runs past the end of the file (16 bytes)"},
    {"not_utf8", "invalid JSON at byte 11: unable to decode byte 0xff"},
    {"invalid_json", "invalid JSON at byte 15: unexpected token near '}'"},
    {"not_object", "header does not start with '{'"},
    {"leading_space", "header does not start with '{'"},
    {"dtype_not_string", "tensor 'x': dtype is a number, expected a string"},
    {"unknown_dtype", "tensor 'x': unsupported dtype 'F8_E4M3'"},
    {"unsupported_u16", "unsupported dtype 'U16'"},
    {"shape_not_array", "tensor 'x': shape is a number, expected an array"},
    {"negative_dim", "shape entry 0 is not a non-negative integer"},
    {"float_dim", "shape entry 0 is not a non-negative integer"},
    {"rank_9", "shape has 9 dimensions, more than the 8 supported"},
    {"numel_overflow", "overflows 64 bits"},
    {"bytes_overflow", "shape [4611686018427387904] x 8 bytes overflows 64 bits"},
    {"size_mismatch", "shape [3] of F32 needs 12 bytes but data_offsets [0, 8] span 8"},
    {"offsets_not_pair", "data_offsets must be an array of two integers"},
    {"offsets_negative", "data_offsets[0] is not a non-negative integer"},
    {"end_before_begin", "data_offsets END 4 < BEGIN 8"},
    {"gap", "tensor 'y' starts at data offset 8 but the previous tensor ends at 4: a gap"},
    {"overlap", "tensor 'y' starts at data offset 4, inside the previous tensor (which ends at 8): tensors overlap"},
    {"not_from_zero", "the first tensor, 'x', starts at data offset 4 instead of 0"},
    {"trailing", "4 trailing bytes after the last tensor"},
    {"data_truncated", "the tensors need 8 bytes of data but only 6 follow the header"},
    {"metadata_not_object", "__metadata__ is an array, expected an object of string values"},
    {"metadata_null", "__metadata__ is null, expected an object"},
    {"metadata_value_number", "__metadata__ value for 'epochs' is a number, expected a string"},
    {"duplicate_tensor", "duplicate object key near '\"x\"'"},
    {"duplicate_metadata_key", "duplicate object key near '\"a\"'"},
    {"missing_field", "tensor 'x': missing field 'data_offsets'"},
    {"unknown_field", "tensor 'x': unknown field 'strides'"},
    {"entry_not_object", "tensor 'x': entry is a number, expected an object"},
    {"nul_in_name", "NUL byte in object key not supported"},
    {"deep_json", "nesting deeper than 64 levels"},
};

static void test_rejects(void)
{
    for (size_t i = 0; i < sizeof REJECTS / sizeof REJECTS[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, FIX "bad_%s.safetensors", REJECTS[i].file);
        ct_st_file *f = (ct_st_file *)1;
        ct_clear_error();
        int rc = ct_st_load(path, &f);
        const char *e = ct_last_error();
        TU_CHECK(rc == CT_ERR_INPUT && f == NULL, "%s rejected (rc=%d)", path, rc);
        TU_CHECK(strstr(e, REJECTS[i].want) != NULL, "%s: message '%s' lacks '%s'", path, e, REJECTS[i].want);
        TU_CHECK(strncmp(e, path, strlen(path)) == 0, "%s: message names the file: %s", path, e);
        /* the same through the in-memory parser, with another name */
        size_t len;
        unsigned char *buf = slurp(path, &len);
        if (buf) {
            f = (ct_st_file *)1;
            rc = ct_st_parse(buf, len, "mem", &f);
            TU_CHECK(rc == CT_ERR_INPUT && f == NULL && strstr(ct_last_error(), REJECTS[i].want) &&
                         strncmp(ct_last_error(), "mem: ", 5) == 0, "%s in memory: %s", path, ct_last_error());
            free(buf);
        }
    }
    ct_st_file *f = (ct_st_file *)1;
    int rc = ct_st_load(FIX "does_not_exist.safetensors", &f);
    TU_CHECK(rc == CT_ERR_INPUT && f == NULL && strstr(ct_last_error(), "cannot open"), "missing file: %s",
             ct_last_error());
    rc = ct_st_parse(NULL, 0, "nothing", &f);
    TU_CHECK(rc == CT_ERR_INPUT && f == NULL, "empty buffer");
}

/* Every proper prefix of valid files is rejected (exact-size copies, so ASan/valgrind would
 * catch any read past the end); single-byte changes never crash. */
static void test_truncation_and_flips(void)
{
    const char *files[] = {FIX "valid.safetensors", FIX "valid_unordered.safetensors"};
    for (size_t fi = 0; fi < 2; fi++) {
        size_t len;
        unsigned char *buf = slurp(files[fi], &len);
        if (!buf) continue;
        size_t accepted = 0;
        for (size_t k = 0; k < len; k++) {
            unsigned char *copy = malloc(k ? k : 1);
            memcpy(copy, buf, k);
            ct_st_file *f = NULL;
            if (ct_st_parse(copy, k, "prefix", &f) == CT_OK) accepted++;
            ct_st_free(f);
            free(copy);
        }
        TU_CHECK(accepted == 0, "%s: %zu truncated prefixes accepted", files[fi], accepted);
        /* flips: each byte of the header and some of the data, xor with a few masks */
        size_t ok = 0, bad = 0;
        const unsigned char masks[] = {0x01, 0x20, 0x80, 0xFF};
        for (size_t k = 0; k < len; k++)
            for (size_t m = 0; m < sizeof masks; m++) {
                unsigned char *copy = malloc(len);
                memcpy(copy, buf, len);
                copy[k] ^= masks[m];
                ct_st_file *f = NULL;
                int rc = ct_st_parse(copy, len, "flip", &f);
                if (rc == CT_OK) {
                    /* whatever was accepted must be self-consistent */
                    for (size_t t = 0; t < ct_st_count(f); t++) {
                        const ct_st_tensor *ti = ct_st_tensor_at(f, t);
                        if (ti->end - ti->begin != ti->nbytes || ti->end > len) bad++;
                    }
                    ok++;
                } else if (rc != CT_ERR_INPUT) {
                    bad++;
                }
                ct_st_free(f);
                free(copy);
            }
        TU_CHECK(bad == 0, "%s: %zu inconsistent results from byte flips", files[fi], bad);
        printf("ok   %s: %zu prefixes rejected, %zu of %zu byte flips still valid (data bytes)\n", files[fi], len, ok,
               len * sizeof masks);
        free(buf);
    }
}

static void test_writer(void)
{
    char dir[] = "/tmp/ct_st_XXXXXX";
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);

    ct_st_writer *w = ct_st_writer_new();
    float conv[2 * 1 * 3 * 3];
    tu_fill_uniform(conv, 18, -1, 1, 3);
    int64_t cshape[4] = {2, 1, 3, 3};
    float bias[2] = {0.25f, -4.0f};
    int64_t bshape[1] = {2};
    uint8_t small[3] = {1, 2, 3};
    int64_t sshape[1] = {3};
    double dd[2] = {1.0 / 3.0, -2.5};
    int64_t dshape[1] = {2};
    TU_CHECK(ct_st_writer_add(w, "conv1.weight", CT_ST_F32, 4, cshape, conv, 0) == CT_OK, "add conv (referenced)");
    TU_CHECK(ct_st_writer_add(w, "conv1.bias", CT_ST_F32, 1, bshape, bias, 1) == CT_OK, "add bias (copied)");
    bias[0] = 99.0f; /* copied: must not show in the file */
    TU_CHECK(ct_st_writer_add(w, "tiny", CT_ST_U8, 1, sshape, small, 1) == CT_OK, "add u8");
    TU_CHECK(ct_st_writer_add(w, "dbl", CT_ST_F64, 1, dshape, dd, 1) == CT_OK, "add f64 (unaligned after u8)");
    TU_CHECK(ct_st_writer_add_i64_scalar(w, "bn1.num_batches_tracked", 938) == CT_OK, "add i64 scalar");
    int64_t zshape[2] = {0, 5};
    TU_CHECK(ct_st_writer_add(w, "zero", CT_ST_F32, 2, zshape, NULL, 0) == CT_OK, "add empty tensor");
    TU_CHECK(ct_st_writer_set_metadata(w, "format", "pt") == CT_OK, "metadata");
    TU_CHECK(ct_st_writer_set_metadata(w, "config", "{\"a\": \"q\\\"\"}\n\ttab") == CT_OK, "metadata with escapes");
    TU_CHECK(ct_st_writer_set_metadata(w, "format", "pt2") == CT_OK, "metadata replaced");
    /* rejections at add time */
    TU_CHECK(ct_st_writer_add(w, "conv1.bias", CT_ST_F32, 1, bshape, bias, 1) == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "'conv1.bias' added twice"), "duplicate name: %s", ct_last_error());
    TU_CHECK(ct_st_writer_add(w, "__metadata__", CT_ST_F32, 1, bshape, bias, 1) == CT_ERR_USAGE, "reserved name");
    TU_CHECK(ct_st_writer_add(w, "bad\xff", CT_ST_F32, 1, bshape, bias, 1) == CT_ERR_USAGE, "non-UTF-8 name");
    int64_t neg[1] = {-1};
    TU_CHECK(ct_st_writer_add(w, "neg", CT_ST_F32, 1, neg, bias, 1) == CT_ERR_USAGE, "negative dim");
    TU_CHECK(ct_st_writer_add(w, "r9", CT_ST_F32, 9, cshape, bias, 1) == CT_ERR_USAGE, "rank 9");
    TU_CHECK(ct_st_writer_add(w, "nodata", CT_ST_F32, 1, bshape, NULL, 1) == CT_ERR_USAGE, "no data");

    int rc = ct_st_write(w, path);
    TU_CHECK(rc == CT_OK, "write: %s", ct_last_error());
    unsigned char *mem;
    size_t memlen;
    TU_CHECK(ct_st_serialize(w, &mem, &memlen) == CT_OK, "serialize");
    ct_st_writer_free(w);

    size_t len;
    unsigned char *buf = slurp(path, &len);
    if (buf) {
        TU_CHECK(len == memlen && memcmp(buf, mem, len) == 0, "file == serialized bytes");
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
        TU_CHECK(n % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)n);
        TU_CHECK(buf[8 + n - 1] == ' ' || buf[8 + n - 1] == '}', "header padded with spaces");
        TU_CHECK(memcmp(buf + 8, "{\"__metadata__\":{", 17) == 0, "metadata first");
        TU_CHECK(len == 8 + n + 72 + 8 + 3 + 16 + 8, "file size %zu", len);
        free(buf);
    }
    free(mem);

    ct_st_file *f = NULL;
    rc = ct_st_load(path, &f);
    TU_CHECK(rc == CT_OK, "read back: %s", ct_last_error());
    if (rc == CT_OK) {
        const float *c, *b;
        TU_CHECK(ct_st_get_f32(f, "conv1.weight", 4, cshape, &c, path) == CT_OK &&
                     memcmp(c, conv, sizeof conv) == 0, "conv round trip");
        TU_CHECK(ct_st_get_f32(f, "conv1.bias", 1, bshape, &b, path) == CT_OK && b[0] == 0.25f && b[1] == -4.0f,
                 "bias round trip (copy taken at add time)");
        const ct_st_tensor *t = ct_st_find(f, "dbl");
        double got[2];
        if (t) memcpy(got, t->data, sizeof got);
        TU_CHECK(t && t->dtype == CT_ST_F64 && ((uintptr_t)t->data % 8) == 0 && got[0] == dd[0] && got[1] == dd[1],
                 "f64 round trip, aligned");
        int64_t nbt = 0;
        TU_CHECK(ct_st_get_i64_scalar(f, "bn1.num_batches_tracked", &nbt, path) == CT_OK && nbt == 938, "i64 scalar");
        const ct_st_tensor *z = ct_st_find(f, "zero");
        TU_CHECK(z && z->numel == 0 && z->rank == 2 && z->shape[1] == 5, "empty tensor round trip");
        TU_CHECK(strcmp(ct_st_metadata_get(f, "format"), "pt2") == 0, "metadata value replaced");
        TU_CHECK(strcmp(ct_st_metadata_get(f, "config"), "{\"a\": \"q\\\"\"}\n\ttab") == 0, "metadata escapes");
        /* order of tensors = order added */
        const char *names[] = {"conv1.weight", "conv1.bias", "tiny", "dbl", "bn1.num_batches_tracked", "zero"};
        int inorder = ct_st_count(f) == 6;
        for (size_t i = 0; inorder && i < 6; i++) inorder = strcmp(ct_st_tensor_at(f, i)->name, names[i]) == 0;
        TU_CHECK(inorder, "tensors laid out in the order added");
        ct_st_free(f);
    }
    /* an empty writer gives a valid empty file */
    w = ct_st_writer_new();
    TU_CHECK(ct_st_write(w, path) == CT_OK, "empty write");
    ct_st_writer_free(w);
    rc = ct_st_load(path, &f);
    TU_CHECK(rc == CT_OK && ct_st_count(f) == 0, "empty read back: %s", ct_last_error());
    ct_st_free(f);
    /* no temp files left behind */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    TU_CHECK(system(cmd) == 0, "only model.safetensors in %s", dir);
    /* writing into a missing folder fails cleanly */
    w = ct_st_writer_new();
    snprintf(path, sizeof path, "%s/missing/model.safetensors", dir);
    TU_CHECK(ct_st_write(w, path) == CT_ERR_RUNTIME, "write into a missing folder: %s", ct_last_error());
    ct_st_writer_free(w);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

static void test_dtypes(void)
{
    ct_st_dtype d;
    TU_CHECK(ct_st_dtype_from_name("BF16", &d) == 0 && d == CT_ST_BF16 && ct_st_dtype_size(d) == 2, "BF16");
    TU_CHECK(ct_st_dtype_from_name("BOOL", &d) == 0 && d == CT_ST_BOOL && ct_st_dtype_size(d) == 1, "BOOL");
    TU_CHECK(ct_st_dtype_from_name("f32", &d) == -1, "case-sensitive");
    TU_CHECK(strcmp(ct_st_dtype_name(CT_ST_I16), "I16") == 0 && strcmp(ct_st_dtype_name((ct_st_dtype)99), "?") == 0,
             "names");
}

int main(void)
{
    test_dtypes();
    test_valid_fixture();
    test_rejects();
    test_truncation_and_flips();
    test_writer();
    return tu_finish();
}
