/* test_split.c: splitmix64 and the stratified split, including golden values from an
 * independent Python implementation (kept below, so anyone can recompute them):
 *
 *   import math
 *   M = (1 << 64) - 1
 *   def split(labels, num_classes, frac, seed):
 *       st = seed & M
 *       def nxt():
 *           nonlocal st
 *           st = (st + 0x9E3779B97F4A7C15) & M
 *           z = st
 *           z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
 *           z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
 *           return z ^ (z >> 31)
 *       tr, va = [], []
 *       for c in range(num_classes):
 *           a = [i for i, l in enumerate(labels) if l == c]
 *           for i in range(len(a) - 1, 0, -1):
 *               j = nxt() % (i + 1)
 *               a[i], a[j] = a[j], a[i]
 *           k = math.floor(len(a) * frac + 0.5)
 *           va += a[:k]; tr += a[k:]
 *       return sorted(tr), sorted(va)
 *   split([i % 10 for i in range(100)], 10, 0.2, 42)[1]
 *     -> [0, 1, 7, 12, 22, 25, 36, 53, 58, 63, 67, 68, 76, 79, 84, 85, 90, 91, 94, 99]
 *   labels = [((i * 2654435761) % (1 << 32) >> 7) % 10 for i in range(1000)]
 *   split(labels, 10, 0.2, 12345)[1] -> 200 indices, first 8 [4, 15, 17, 27, 32, 33, 40, 49], sum 107910
 */
#include "common.h"
#include "split.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rng(void)
{
    uint64_t s = 0;
    TU_CHECK(ct_splitmix64_next(&s) == 0xe220a8397b1dcdafULL, "splitmix64(0) first output");
    s = 42;
    uint64_t a = ct_splitmix64_next(&s), b = ct_splitmix64_next(&s), c = ct_splitmix64_next(&s);
    TU_CHECK(a == 0xbdd732262feb6e95ULL, "seed 42 #1 = %llx", (unsigned long long)a);
    TU_CHECK(b == 0x28efe333b266f103ULL, "seed 42 #2 = %llx", (unsigned long long)b);
    TU_CHECK(c == 0x47526757130f9f52ULL, "seed 42 #3 = %llx", (unsigned long long)c);
}

/* Checks the invariants of one split; returns 1 when all hold. */
static int check_split(const uint8_t *labels, size_t n, int nc, double frac, const uint32_t *tr, size_t nt,
                       const uint32_t *va, size_t nv)
{
    int ok = 1;
    if (nt + nv != n) ok = 0;
    unsigned char *seen = calloc(n ? n : 1, 1);
    for (size_t i = 0; i < nt; i++) {
        if (tr[i] >= n || seen[tr[i]]) ok = 0;
        else seen[tr[i]] = 1;
        if (i && tr[i - 1] >= tr[i]) ok = 0; /* sorted ascending, no repeats */
    }
    for (size_t i = 0; i < nv; i++) {
        if (va[i] >= n || seen[va[i]]) ok = 0;
        else seen[va[i]] = 2;
        if (i && va[i - 1] >= va[i]) ok = 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!seen[i]) ok = 0;
    /* per class: exactly floor(count * frac + 0.5) in validation */
    for (int c = 0; c < nc; c++) {
        size_t cnt = 0, cv = 0;
        for (size_t i = 0; i < n; i++)
            if (labels[i] == c) {
                cnt++;
                if (seen[i] == 2) cv++;
            }
        if (cv != (size_t)floor((double)cnt * frac + 0.5)) ok = 0;
    }
    free(seen);
    return ok;
}

static void test_golden(void)
{
    uint8_t labels[100];
    for (int i = 0; i < 100; i++) labels[i] = (uint8_t)(i % 10);
    uint32_t *tr, *va;
    size_t nt, nv;
    int rc = ct_split_stratified(labels, 100, 10, 0.2, 42, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_OK, "%s", ct_last_error());
    TU_CHECK(nt == 80 && nv == 20, "nt=%zu nv=%zu", nt, nv);
    static const uint32_t want[20] = {0, 1, 7, 12, 22, 25, 36, 53, 58, 63, 67, 68, 76, 79, 84, 85, 90, 91, 94, 99};
    TU_CHECK(nv >= 5 && va[0] == 0 && va[1] == 1 && va[2] == 7 && va[3] == 12 && va[4] == 22,
             "first 5 validation indices %u %u %u %u %u, want 0 1 7 12 22", va[0], va[1], va[2], va[3], va[4]);
    TU_CHECK(nv == 20 && memcmp(va, want, sizeof want) == 0, "all 20 validation indices match Python");
    TU_CHECK(check_split(labels, 100, 10, 0.2, tr, nt, va, nv), "invariants");
    free(tr);
    free(va);

    uint8_t *l2 = malloc(1000);
    for (uint32_t i = 0; i < 1000; i++) l2[i] = (uint8_t)(((uint32_t)(i * 2654435761u) >> 7) % 10);
    rc = ct_split_stratified(l2, 1000, 10, 0.2, 12345, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_OK, "%s", ct_last_error());
    uint64_t sum = 0;
    for (size_t i = 0; i < nv; i++) sum += va[i];
    static const uint32_t want8[8] = {4, 15, 17, 27, 32, 33, 40, 49};
    TU_CHECK(nt == 800 && nv == 200, "nt=%zu nv=%zu", nt, nv);
    TU_CHECK(nv >= 8 && memcmp(va, want8, sizeof want8) == 0, "first 8 match Python");
    TU_CHECK(sum == 107910, "sum of validation indices %llu, want 107910", (unsigned long long)sum);
    TU_CHECK(check_split(l2, 1000, 10, 0.2, tr, nt, va, nv), "invariants");
    free(tr);
    free(va);
    free(l2);
}

static void test_properties(void)
{
    size_t n = 6007;
    uint8_t *labels = malloc(n);
    uint64_t s = 7;
    for (size_t i = 0; i < n; i++) labels[i] = (uint8_t)(ct_splitmix64_next(&s) % 10);
    const double fracs[] = {0.0, 0.1, 0.2, 0.25, 0.5, 0.77, 1.0};
    for (size_t k = 0; k < sizeof fracs / sizeof fracs[0]; k++) {
        uint32_t *tr, *va;
        size_t nt, nv;
        int rc = ct_split_stratified(labels, n, 10, fracs[k], 42, &tr, &nt, &va, &nv);
        TU_CHECK(rc == CT_OK, "%s", ct_last_error());
        TU_CHECK(check_split(labels, n, 10, fracs[k], tr, nt, va, nv), "invariants at fraction %g", fracs[k]);
        free(tr);
        free(va);
    }
    /* determinism and seed dependence */
    uint32_t *t1, *v1, *t2, *v2, *t3, *v3;
    size_t nt1, nv1, nt2, nv2, nt3, nv3;
    ct_split_stratified(labels, n, 10, 0.2, 42, &t1, &nt1, &v1, &nv1);
    ct_split_stratified(labels, n, 10, 0.2, 42, &t2, &nt2, &v2, &nv2);
    ct_split_stratified(labels, n, 10, 0.2, 43, &t3, &nt3, &v3, &nv3);
    TU_CHECK(nv1 == nv2 && memcmp(v1, v2, nv1 * sizeof *v1) == 0 && memcmp(t1, t2, nt1 * sizeof *t1) == 0,
             "same seed gives the same split");
    TU_CHECK(nv1 == nv3 && memcmp(v1, v3, nv1 * sizeof *v1) != 0, "another seed gives another split");
    free(t1);
    free(v1);
    free(t2);
    free(v2);
    free(t3);
    free(v3);
    free(labels);
}

static void test_errors(void)
{
    uint8_t labels[4] = {0, 1, 2, 10};
    uint32_t *tr, *va;
    size_t nt, nv;
    int rc = ct_split_stratified(labels, 4, 10, 0.2, 1, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "label 10"), "label out of range: %s", ct_last_error());
    TU_CHECK(tr == NULL && va == NULL, "no output on error");
    rc = ct_split_stratified(labels, 3, 10, 1.5, 1, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_ERR_USAGE, "fraction > 1");
    rc = ct_split_stratified(labels, 3, 10, NAN, 1, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_ERR_USAGE, "fraction NaN");
    rc = ct_split_stratified(labels, 3, 0, 0.2, 1, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_ERR_USAGE, "zero classes");
    rc = ct_split_stratified(NULL, 0, 10, 0.2, 1, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_OK && nt == 0 && nv == 0 && tr && va, "empty input");
    free(tr);
    free(va);
    /* a single sample per class: floor(1 * 0.5 + 0.5) = 1 goes to validation */
    uint8_t one[3] = {0, 1, 2};
    rc = ct_split_stratified(one, 3, 3, 0.5, 9, &tr, &nt, &va, &nv);
    TU_CHECK(rc == CT_OK && nv == 3 && nt == 0, "n_val rounds half up: nv=%zu", nv);
    free(tr);
    free(va);
}

int main(void)
{
    test_rng();
    test_golden();
    test_properties();
    test_errors();
    return tu_finish();
}
