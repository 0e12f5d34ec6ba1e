/* testutil.h: assertions for the C tests. Every failure is printed and counted; the test's
 * main returns tu_finish(), which prints "N passed, N failed" and is non-zero on any failure. */
#ifndef CLTRAIN_TESTUTIL_H
#define CLTRAIN_TESTUTIL_H
#include <stddef.h>

extern int tu_pass, tu_fail;

#define TU_CHECK(cond, ...) tu_check((cond) != 0, __FILE__, __LINE__, #cond, __VA_ARGS__)
void tu_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Compares two float arrays with |a-b| <= atol + rtol*|b|; NaN matches only NaN and
 * Inf only the same Inf. Prints the name, the largest absolute difference and where it is.
 * Returns 1 when all match. */
int tu_close(const char *name, const float *got, const float *want, size_t n, float atol, float rtol);
/* Largest |a-b| over n elements (NaN-aware: a NaN mismatch gives INFINITY). */
double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *where);

/* Deterministic pseudo-random fill in [lo, hi). */
void tu_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed);

/* The OpenCL device the tests run on, chosen explicitly: $CLTRAIN_DEVICE (CTest sets "cpu",
 * i.e. POCL), else "cpu". Never the "best" device: that could be a simulator or a GPU. */
const char *tu_device(void);

int tu_finish(void);
#endif
