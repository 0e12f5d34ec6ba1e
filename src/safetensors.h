/* safetensors.h: reader and writer for the safetensors format (model files).
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
 * The reader applies every check of the reference implementation (see docs/formats.md) plus
 * duplicate keys, and keeps each tensor's bytes aligned in memory for its dtype, so
 * ct_st_get_f32() may hand out a float pointer. Tensor data is little-endian, as in the
 * file (cltrain targets little-endian hosts).
 * All parse errors return CT_ERR_INPUT with "NAME: what is wrong (at byte X); what to do". */
#ifndef CLTRAIN_SAFETENSORS_H
#define CLTRAIN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define CT_ST_MAX_RANK 8
#define CT_ST_MAX_HEADER 100000000ULL       /* reference limit on N */
#define CT_ST_MAX_FILE (4ULL << 30)          /* ct_st_load refuses larger files */
#define CT_ST_MAX_JSON_VALUES 4000000        /* header JSON values (bounds parser memory) */

typedef enum {
    CT_ST_F64 = 0,
    CT_ST_F32,
    CT_ST_F16,
    CT_ST_BF16,
    CT_ST_I64,
    CT_ST_I32,
    CT_ST_I16,
    CT_ST_I8,
    CT_ST_U8,
    CT_ST_BOOL,
    CT_ST_DTYPE_COUNT
} ct_st_dtype;

/* "F32" etc.; "?" for out-of-range values. */
const char *ct_st_dtype_name(ct_st_dtype d);
/* Bytes per element (0 for out-of-range values). */
size_t ct_st_dtype_size(ct_st_dtype d);
/* Parses a dtype name; returns 0 and sets *out, or -1 when unknown. */
int ct_st_dtype_from_name(const char *name, ct_st_dtype *out);

typedef struct {
    const char *name;          /* NUL-terminated (names holding NUL bytes are rejected) */
    ct_st_dtype dtype;
    int rank;                  /* 0 = scalar */
    int64_t shape[CT_ST_MAX_RANK];
    uint64_t numel;            /* product of shape (1 for a scalar) */
    uint64_t begin, end;       /* data_offsets as in the file (relative to the data buffer) */
    size_t nbytes;             /* end - begin */
    const void *data;          /* nbytes bytes, aligned for the dtype; owned by the file */
} ct_st_tensor;

typedef struct ct_st_file ct_st_file;

/* Parses a whole safetensors file held in memory (buf is not kept: the result owns copies).
 * name_for_errors prefixes every message. */
int ct_st_parse(const unsigned char *buf, size_t len, const char *name_for_errors, ct_st_file **out);
/* Reads `path` (at most CT_ST_MAX_FILE bytes) and parses it. */
int ct_st_load(const char *path, ct_st_file **out);
void ct_st_free(ct_st_file *f);

/* Tensors, in data-buffer order (ascending data_offsets). */
size_t ct_st_count(const ct_st_file *f);
const ct_st_tensor *ct_st_tensor_at(const ct_st_file *f, size_t i);
const ct_st_tensor *ct_st_find(const ct_st_file *f, const char *name);
/* Metadata (the __metadata__ map), in file order. */
size_t ct_st_metadata_count(const ct_st_file *f);
const char *ct_st_metadata_get(const ct_st_file *f, const char *key); /* NULL when absent */
int ct_st_metadata_at(const ct_st_file *f, size_t i, const char **key, const char **value); /* 0 ok, -1 out of range */

/* Checks that tensor `name` exists, has dtype F32 and (when shape != NULL) exactly `rank`
 * dimensions equal to shape[]; with shape == NULL and rank >= 0 only the rank is checked, with
 * rank < 0 nothing. On success *data points at numel floats. Errors (CT_ERR_INPUT) read like
 * "model.safetensors: tensor 'conv1.weight' has shape [32,1,3,3], expected [32,1,5,5]". */
int ct_st_get_f32(const ct_st_file *f, const char *name, int rank, const int64_t *shape, const float **data,
                  const char *file_for_errors);
/* Reads an I64 tensor of shape [] (e.g. bn1.num_batches_tracked). */
int ct_st_get_i64_scalar(const ct_st_file *f, const char *name, int64_t *value, const char *file_for_errors);

/* --- writer ------------------------------------------------------------------------------ */
typedef struct ct_st_writer ct_st_writer;

/* Returns NULL (with ct_last_error set) when out of memory. */
ct_st_writer *ct_st_writer_new(void);
void ct_st_writer_free(ct_st_writer *w);
/* Adds a tensor; data holds numel * dtype size bytes (little-endian). copy != 0 copies the
 * bytes now; copy == 0 keeps the pointer, which must stay valid until ct_st_write /
 * ct_st_serialize. Rejects duplicate names, "__metadata__", names that are not valid UTF-8,
 * rank > CT_ST_MAX_RANK and negative dimensions (CT_ERR_USAGE). */
int ct_st_writer_add(ct_st_writer *w, const char *name, ct_st_dtype dtype, int rank, const int64_t *shape,
                     const void *data, int copy);
/* Convenience: a copied I64 scalar (shape []). */
int ct_st_writer_add_i64_scalar(ct_st_writer *w, const char *name, int64_t value);
/* Sets a metadata pair (replaces the value when the key exists). */
int ct_st_writer_set_metadata(ct_st_writer *w, const char *key, const char *value);
/* Whole file in memory (malloc'd; caller frees). Header: __metadata__ first, then tensors in
 * the order added, padded with spaces to a multiple of 8; tensors laid out in the same order. */
int ct_st_serialize(const ct_st_writer *w, unsigned char **buf, size_t *len);
/* Serialises and writes atomically (temp file, fsync, rename, fsync folder). */
int ct_st_write(const ct_st_writer *w, const char *path);

#endif
