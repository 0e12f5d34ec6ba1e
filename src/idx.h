/* idx.h: IDX files (MNIST and relatives), raw or gzip-compressed, and the MNIST loader.
 *
 * IDX: bytes 0-1 zero, byte 2 type, byte 3 number of dimensions (1..3 accepted), one
 * big-endian u32 per dimension, then the data in C order, big-endian. Trailing bytes after the
 * data are tolerated with a warning (as torchvision does). All parse errors return
 * CT_ERR_INPUT with "NAME: what is wrong (at byte X); what to do". */
#ifndef CLTRAIN_IDX_H
#define CLTRAIN_IDX_H

#include <stddef.h>
#include <stdint.h>

#define CT_IDX_MAX_RANK 3
#define CT_IDX_MAX_FILE (2ULL << 30)   /* raw and decompressed size cap: 2 GiB */

typedef enum {
    CT_IDX_U8 = 0x08,
    CT_IDX_I8 = 0x09,
    CT_IDX_I16 = 0x0B,
    CT_IDX_I32 = 0x0C,
    CT_IDX_F32 = 0x0D,
    CT_IDX_F64 = 0x0E
} ct_idx_type;

typedef struct {
    ct_idx_type type;
    int rank;                       /* 1..3 */
    uint32_t dims[CT_IDX_MAX_RANK]; /* dims[0] is the item count */
    size_t count;                   /* product of dims */
    size_t elem_size;               /* bytes per element */
    void *data;                     /* count elements in host byte order (malloc'd; owned) */
    size_t trailing;                /* bytes after the data that were ignored */
    int gzipped;                    /* ct_idx_load: the file was gzip-compressed */
    char md5[33];                   /* MD5 hex of the raw (decompressed) IDX bytes */
} ct_idx;

/* Element size for a type (0 when unknown) and its name ("u8", ...; "?" when unknown). */
size_t ct_idx_type_size(int type);
const char *ct_idx_type_name(int type);

/* Parses raw (already decompressed) IDX bytes. `name` prefixes error messages. out is zeroed
 * first and left empty on failure. */
int ct_idx_parse(const unsigned char *buf, size_t len, const char *name, ct_idx *out);
/* Reads a file, raw or gzip (recognised by the 1f 8b magic, not by the name), and parses it. */
int ct_idx_load(const char *path, ct_idx *out);
void ct_idx_free(ct_idx *x);

/* Decompresses a gzip stream (one or more members; zero padding after the last member is
 * allowed) into a malloc'd buffer of at most max_out bytes. Corrupt, truncated or oversized
 * input gives CT_ERR_INPUT naming `name`. */
int ct_gunzip(const unsigned char *in, size_t len, size_t max_out, const char *name, unsigned char **out,
              size_t *out_len);

/* --- MNIST ------------------------------------------------------------------------------- */
typedef struct {
    size_t n;              /* number of images (= labels) */
    int rows, cols;        /* 28 x 28 for MNIST; any size from ct_idx_set_load */
    uint8_t *images;       /* n * rows * cols pixels, 0..255, row-major, image after image */
    uint8_t *labels;       /* n labels, 0..9 */
    char *images_path;     /* the files that were read */
    char *labels_path;
    char images_md5[33];   /* MD5 hex of the raw (decompressed) IDX files, for provenance */
    char labels_md5[33];
} ct_mnist;

/* Loads the training (train != 0: train-*) or test (t10k-*) set from dir. Accepted names:
 * {train,t10k}-images-idx3-ubyte and {train,t10k}-images.idx3-ubyte, each optionally .gz
 * (labels likewise with idx1). Checks magic 0x00000803 with 28 x 28 images, magic 0x00000801
 * labels, equal counts, labels 0-9. */
int ct_mnist_load(const char *dir, int train, ct_mnist *out);
/* The same checks on IDX bytes already in memory (decompressed); names are for messages. */
int ct_mnist_parse(const unsigned char *images, size_t images_len, const char *images_name,
                   const unsigned char *labels, size_t labels_len, const char *labels_name, ct_mnist *out);
void ct_mnist_free(ct_mnist *m);

/* The same files and checks for any IDX image set of that layout (Fashion-MNIST, KMNIST, ...):
 * u8 images of any H x W (at least 1 x 1; rows/cols say which), u8 labels 0-255. */
int ct_idx_set_load(const char *dir, int train, ct_mnist *out);
int ct_idx_set_parse(const unsigned char *images, size_t images_len, const char *images_name,
                     const unsigned char *labels, size_t labels_len, const char *labels_name, ct_mnist *out);

#endif
