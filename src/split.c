/* split.c: stratified split (see split.h for the exact algorithm). */
#include "split.h"

#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t ct_splitmix64_next(uint64_t *state)
{
    *state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

int ct_split_stratified(const uint8_t *labels, size_t n, int num_classes, double val_fraction, uint64_t seed,
                        uint32_t **train_idx, size_t *n_train, uint32_t **val_idx, size_t *n_val)
{
    *train_idx = NULL;
    *val_idx = NULL;
    *n_train = 0;
    *n_val = 0;
    if (num_classes < 1 || num_classes > 256)
        return ct_fail(CT_ERR_USAGE, "split: num_classes %d is outside 1..256", num_classes);
    if (!(val_fraction >= 0.0 && val_fraction <= 1.0))
        return ct_fail(CT_ERR_USAGE, "split: validation fraction %g is outside [0, 1]", val_fraction);
    if (n > (size_t)UINT32_MAX) return ct_fail(CT_ERR_USAGE, "split: %zu samples is more than 2^32-1", n);
    if (n && !labels) return ct_fail(CT_ERR_USAGE, "split: no labels");
    for (size_t i = 0; i < n; i++)
        if (labels[i] >= num_classes)
            return ct_fail(CT_ERR_INPUT, "split: label %u of sample %zu is outside 0..%d", labels[i], i,
                           num_classes - 1);
    uint32_t *cls = ct_malloc((n ? n : 1) * sizeof *cls, "split indices");
    uint32_t *tr = ct_malloc((n ? n : 1) * sizeof *tr, "training indices");
    uint32_t *va = ct_malloc((n ? n : 1) * sizeof *va, "validation indices");
    if (!cls || !tr || !va) {
        free(cls);
        free(tr);
        free(va);
        return CT_ERR_NOMEM;
    }
    uint64_t state = seed;
    size_t nt = 0, nv = 0;
    for (int c = 0; c < num_classes; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] == c) cls[m++] = (uint32_t)i;
        for (size_t i = m; i-- > 1;) {
            size_t j = (size_t)(ct_splitmix64_next(&state) % (uint64_t)(i + 1));
            uint32_t t = cls[i];
            cls[i] = cls[j];
            cls[j] = t;
        }
        size_t k = (size_t)floor((double)m * val_fraction + 0.5);
        if (k > m) k = m;
        memcpy(va + nv, cls, k * sizeof *cls);
        nv += k;
        memcpy(tr + nt, cls + k, (m - k) * sizeof *cls);
        nt += m - k;
    }
    free(cls);
    qsort(tr, nt, sizeof *tr, cmp_u32);
    qsort(va, nv, sizeof *va, cmp_u32);
    *train_idx = tr;
    *val_idx = va;
    *n_train = nt;
    *n_val = nv;
    return CT_OK;
}
