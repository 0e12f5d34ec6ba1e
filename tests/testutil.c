/* testutil.c: see testutil.h. */
#include "testutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int tu_pass, tu_fail;

void tu_check(int ok, const char *file, int line, const char *expr, const char *fmt, ...)
{
    if (ok) {
        tu_pass++;
        return;
    }
    tu_fail++;
    fprintf(stderr, "FAIL %s:%d: %s: ", file, line, expr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double tu_max_abs_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        double d;
        if (isnan(a[i]) || isnan(b[i]))
            d = (isnan(a[i]) && isnan(b[i])) ? 0 : INFINITY;
        else if (isinf(a[i]) || isinf(b[i]))
            d = (a[i] == b[i]) ? 0 : INFINITY;
        else
            d = fabs((double)a[i] - (double)b[i]);
        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    if (where) *where = at;
    return worst;
}

int tu_close(const char *name, const float *got, const float *want, size_t n, float atol, float rtol)
{
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        float a = got[i], b = want[i];
        int ok;
        if (isnan(a) || isnan(b))
            ok = isnan(a) && isnan(b);
        else if (isinf(a) || isinf(b))
            ok = a == b;
        else
            ok = fabsf(a - b) <= atol + rtol * fabsf(b);
        if (!ok) {
            if (!bad) first = i;
            bad++;
        }
    }
    size_t where;
    double worst = tu_max_abs_diff(got, want, n, &where);
    if (bad) {
        tu_fail++;
        fprintf(stderr, "FAIL %-28s n=%zu max|diff|=%.3g at %zu; %zu mismatches, first at %zu: got %.8g want %.8g\n",
                name, n, worst, where, bad, first, (double)got[first], (double)want[first]);
        return 0;
    }
    tu_pass++;
    printf("ok   %-28s n=%zu max|diff|=%.3g\n", name, n, worst);
    return 1;
}

void tu_fill_uniform(float *x, size_t n, float lo, float hi, unsigned seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ULL * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        x[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}

int tu_finish(void)
{
    printf("%d passed, %d failed\n", tu_pass, tu_fail);
    return tu_fail ? 1 : 0;
}

const char *tu_device(void)
{
    const char *d = getenv("CLTRAIN_DEVICE");
    return d && *d ? d : "cpu";
}
