/* fuzz_idx.c: IDX parsing (raw), gzip decompression with a bounded output, and the MNIST
 * checks on the input split into an images and a labels part. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ct_idx x;
    if (ct_idx_parse(data, size, "fuzz.idx", &x) == CT_OK) ct_idx_free(&x);
    unsigned char *out = NULL;
    size_t out_len = 0;
    if (ct_gunzip(data, size, 1u << 24, "fuzz.idx.gz", &out, &out_len) == CT_OK) {
        if (ct_idx_parse(out, out_len, "fuzz.idx.gz", &x) == CT_OK) ct_idx_free(&x);
        free(out);
    }
    if (size >= 2) {
        size_t cut = data[0] % (size - 1) + 1;
        ct_mnist m;
        if (ct_mnist_parse(data + 1, cut - 1, "images", data + cut, size - cut, "labels", &m) == CT_OK)
            ct_mnist_free(&m);
    }
    return 0;
}
