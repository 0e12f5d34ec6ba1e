/* tune/units.c: one network shape (tune/shapes.c) as `cltrain tune` runs it: device buffers
 * with random inputs, the C reference's results (check units), one run of its operations with
 * their device times split into report rows, the comparison with the reference, and the median
 * of repeated timings. Pooling kernels take no tunable value: their units are timed (for the
 * whole-step estimate) and left to `verify` for correctness. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "tune/tune_int.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static float urand(float lo, float hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((rng_state >> 40) * (1.0 / 16777216.0));
}

static float *host(tune_unit *u, int i, size_t n, float lo, float hi)
{
    u->h[i] = malloc((n ? n : 1) * sizeof(float));
    u->hn[i] = n;
    if (u->h[i])
        for (size_t j = 0; j < n; j++) u->h[i][j] = lo == hi ? lo : urand(lo, hi);
    return u->h[i];
}

static int dev(ct_ctx *c, tune_unit *u, int i, size_t n, const float *init)
{
    CT_TRY(ct_buffer_create(c, (n ? n : 1) * sizeof(float), "tuning data", &u->d[i]));
    if (init) CT_TRY(ct_buffer_write(c, u->d[i], 0, n * sizeof(float), init));
    return CT_OK;
}

void tune_unit_free(tune_unit *u)
{
    for (int i = 0; i < 10; i++)
        if (u->d[i]) clReleaseMemObject(u->d[i]);
    for (int i = 0; i < 12; i++) free(u->h[i]);
    memset(u, 0, sizeof *u);
}

/* (N, C, HW) <-> (C, N, HW) */
static void nchw_to_cm(const float *x, float *y, int N, int C, int HW, int back)
{
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            const size_t a = ((size_t)n * C + ch) * HW, b = ((size_t)ch * N + n) * HW;
            memcpy(back ? y + a : y + b, back ? x + b : x + a, (size_t)HW * sizeof(float));
        }
}

static int all_ok(const float *h[], int n) /* allocation check */
{
    for (int i = 0; i < n; i++)
        if (!h[i]) return 0;
    return 1;
}

int tune_unit_ops(const ct_tune_shape *s, const char *ops[3])
{
    switch (s->kind) {
    case S_CONV:
        ops[0] = "conv fwd", ops[1] = "conv wgrad", ops[2] = "conv dgrad";
        return s->need_dx ? 3 : 2;
    case S_FC: ops[0] = "fc fwd", ops[1] = "fc bwd"; return 2;
    case S_BN2D: ops[0] = "bn fwd", ops[1] = "bn bwd"; return 2;
    case S_BN1D: ops[0] = "bn1d fwd", ops[1] = "bn1d bwd"; return 2;
    case S_MAXPOOL: ops[0] = "maxpool fwd", ops[1] = "maxpool bwd"; return s->need_dx ? 2 : 1;
    case S_AVGPOOL: ops[0] = "avgpool fwd", ops[1] = "avgpool bwd"; return s->need_dx ? 2 : 1;
    case S_ADAPTIVE: ops[0] = "adaptive avgpool fwd", ops[1] = "adaptive avgpool bwd"; return s->need_dx ? 2 : 1;
    case S_OPTIM: ops[0] = s->a ? "adam step" : "sgd step"; return 1;
    }
    return 0;
}

/* conv: d = x, params, col, y, dy, grads, dx; h = w, b, x(nchw), dy(nchw), yref, dxref, dwref, dbref, tmp */
static int conv_setup(ct_ctx *c, tune_unit *u, const ct_tune_shape *s, int N)
{
    u->kind = U_CONV;
    u->groups = G_GEMM | G_CONV | G_RED;
    const int ci = s->a, co = s->b, kh = s->kh, kw = s->kw, bias = s->flag;
    const int b_off = (co * ci * kh * kw + 15) / 16 * 16;
    ct_conv_init2(&u->conv, ci, co, kh, kw, s->sh, s->sw, s->ph, s->pw, s->h, s->w, 0, bias ? b_off : -1);
    const int hw = s->h * s->w, ohw = u->conv.oh * u->conv.ow;
    const size_t nx = (size_t)N * ci * hw, ny = (size_t)N * co * ohw, nw = (size_t)co * ci * kh * kw;
    float *w = host(u, 0, nw, -0.3f, 0.3f), *b = host(u, 1, (size_t)co, -1, 1), *x = host(u, 2, nx, -1, 1);
    float *dy = host(u, 3, ny, -1, 1), *y = host(u, 4, ny, 0, 0), *dx = host(u, 5, nx, 0, 0);
    float *dw = host(u, 6, nw, 0, 0), *db = host(u, 7, (size_t)co, 0, 0);
    float *tmp = host(u, 8, (nx > ny ? nx : ny) + (size_t)b_off + co, 0, 0);
    const float *hs[] = {w, b, x, dy, y, dx, dw, db, tmp};
    if (!all_ok(hs, 9)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    if (u->with_ref) {
        ref_conv2d_fwd_s(x, w, bias ? b : NULL, y, N, ci, s->h, s->w, co, kh, kw, s->sh, s->sw, s->ph, s->pw);
        ref_conv2d_bwd_s(x, w, dy, s->need_dx ? dx : NULL, dw, bias ? db : NULL, N, ci, s->h, s->w, co, kh, kw, s->sh,
                         s->sw, s->ph, s->pw);
    }
    nchw_to_cm(x, tmp, N, ci, hw, 0);
    CT_TRY(dev(c, u, 0, nx, tmp));
    memset(tmp, 0, ((size_t)b_off + co) * sizeof(float));
    memcpy(tmp, w, nw * sizeof(float));
    memcpy(tmp + b_off, b, (size_t)co * sizeof(float));
    CT_TRY(dev(c, u, 1, (size_t)b_off + co, tmp));
    CT_TRY(dev(c, u, 2, ct_conv_col_floats(&u->conv, N), NULL));
    CT_TRY(dev(c, u, 3, ny, NULL));
    nchw_to_cm(dy, tmp, N, co, ohw, 0);
    CT_TRY(dev(c, u, 4, ny, tmp));
    CT_TRY(dev(c, u, 5, (size_t)b_off + co, NULL));
    return dev(c, u, 6, nx, NULL);
}

/* fc: d = x, params, y, dy, grads, dx; h = x, w, b, dy, yref, dxref, dwref, dbref, tmp */
static int fc_setup(ct_ctx *c, tune_unit *u, int N, int in, int out, int bias)
{
    u->kind = U_FC;
    u->groups = G_GEMM | G_FC;
    const int b_off = (out * in + 15) / 16 * 16;
    u->fc = (ct_fc){in, out, 0, bias ? b_off : -1};
    float *x = host(u, 0, (size_t)N * in, -1, 1), *w = host(u, 1, (size_t)out * in, -0.3f, 0.3f);
    float *b = host(u, 2, (size_t)out, -1, 1), *dy = host(u, 3, (size_t)N * out, -1, 1);
    float *y = host(u, 4, (size_t)N * out, 0, 0), *dx = host(u, 5, (size_t)N * in, 0, 0);
    float *dw = host(u, 6, (size_t)out * in, 0, 0), *db = host(u, 7, (size_t)out, 0, 0);
    float *p = host(u, 8, (size_t)b_off + out, 0, 0);
    const float *hs[] = {x, w, b, dy, y, dx, dw, db, p};
    if (!all_ok(hs, 9)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    if (u->with_ref) {
        ref_linear_fwd(x, w, bias ? b : NULL, y, N, in, out);
        ref_linear_bwd(x, w, dy, dx, dw, bias ? db : NULL, N, in, out);
    }
    memcpy(p, w, (size_t)out * in * sizeof(float));
    memcpy(p + b_off, b, (size_t)out * sizeof(float));
    CT_TRY(dev(c, u, 0, (size_t)N * in, x));
    CT_TRY(dev(c, u, 1, (size_t)b_off + out, p));
    CT_TRY(dev(c, u, 2, (size_t)N * out, NULL));
    CT_TRY(dev(c, u, 3, (size_t)N * out, dy));
    CT_TRY(dev(c, u, 4, (size_t)b_off + out, NULL));
    return dev(c, u, 5, (size_t)N * in, NULL);
}

/* bn over C channels of M values each (2d: channel-major (C, M); 1d: rows (M, C)): d = x, params,
 * state, mean, invstd, y, dy, grads, dx; h = x, gamma, beta, dy, yref, dxref, dgref, dbref,
 * params, state */
static int bn_setup(ct_ctx *c, tune_unit *u, int C, int M, int oned)
{
    u->kind = oned ? U_BN1D : U_BN;
    u->groups = G_RED | G_EW;
    u->n = M;
    const int a = (C + 15) / 16 * 16;
    ct_bn_init(&u->bn, C, 0, a, 0, a, 1e-5f, 0.1f);
    const size_t n = (size_t)C * M;
    float *x = host(u, 0, n, -2, 3), *g = host(u, 1, (size_t)C, 0.5f, 1.5f), *bt = host(u, 2, (size_t)C, -0.5f, 0.5f);
    float *dy = host(u, 3, n, -1, 1), *y = host(u, 4, n, 0, 0), *dx = host(u, 5, n, 0, 0);
    float *dg = host(u, 6, (size_t)C, 0, 0), *db = host(u, 7, (size_t)C, 0, 0);
    float *p = host(u, 8, (size_t)2 * a, 0, 0), *st = host(u, 9, (size_t)2 * a, 0, 0);
    float *sm = host(u, 10, (size_t)C, 0, 0), *si = host(u, 11, (size_t)C, 0, 0);
    const float *hs[] = {x, g, bt, dy, y, dx, dg, db, p, st, sm, si};
    if (!all_ok(hs, 12)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    for (int i = 0; i < C; i++) st[a + i] = 1.0f;
    memcpy(p, g, (size_t)C * sizeof(float));
    memcpy(p + a, bt, (size_t)C * sizeof(float));
    if (u->with_ref) { /* (1, C, M) channel-major, or (M, C, 1) rows */
        const int rn = oned ? M : 1, rhw = oned ? 1 : M;
        ref_bn_fwd_train(x, g, bt, y, NULL, NULL, sm, si, rn, C, rhw, 1e-5f, 0.1f);
        ref_bn_bwd(x, dy, g, sm, si, dx, dg, db, rn, C, rhw);
    }
    CT_TRY(dev(c, u, 0, n, x));
    CT_TRY(dev(c, u, 1, (size_t)2 * a, p));
    CT_TRY(dev(c, u, 2, (size_t)2 * a, st));
    CT_TRY(dev(c, u, 3, (size_t)C, NULL));
    CT_TRY(dev(c, u, 4, (size_t)C, NULL));
    CT_TRY(dev(c, u, 5, n, NULL));
    CT_TRY(dev(c, u, 6, n, dy));
    CT_TRY(dev(c, u, 7, (size_t)2 * a, NULL));
    return dev(c, u, 8, n, NULL);
}

/* pooling on C*N planes: d = x, y, dy, dx (random data; timed only) */
static int pool_setup(ct_ctx *c, tune_unit *u, const ct_tune_shape *s, int N)
{
    u->kind = U_POOL;
    u->groups = 0;
    int oh = s->kh, ow = s->kw; /* adaptive */
    if (s->kind != S_ADAPTIVE) {
        ct_pool2d_init(&u->pool, s->kh, s->kw, s->sh, s->sw, s->ph, s->pw, s->h, s->w,
                       s->kind == S_AVGPOOL ? s->flag : 1);
        oh = u->pool.oh, ow = u->pool.ow;
    }
    const size_t n = (size_t)s->a * N * s->h * s->w, no = (size_t)s->a * N * oh * ow;
    float *x = host(u, 0, n, -1, 1), *dy = host(u, 1, no, -1, 1);
    const float *hs[] = {x, dy};
    if (!all_ok(hs, 2)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    CT_TRY(dev(c, u, 0, n, x));
    CT_TRY(dev(c, u, 1, no, NULL));
    CT_TRY(dev(c, u, 2, no, dy));
    return dev(c, u, 3, n, NULL);
}

/* adam or sgd over n parameters: d = p, g, m (sgd: momentum buffer), v; h = p0, g, pref, zeros */
static int optim_setup(ct_ctx *c, tune_unit *u, int n, int adam)
{
    u->kind = U_OPTIM;
    u->groups = G_EW;
    u->n = n;
    float *p = host(u, 0, (size_t)n, -1, 1), *g = host(u, 1, (size_t)n, -1, 1), *pr = host(u, 2, (size_t)n, 0, 0);
    float *z = host(u, 3, (size_t)n, 0, 0), *m = host(u, 4, (size_t)n, 0, 0), *v = host(u, 5, (size_t)n, 0, 0);
    const float *hs[] = {p, g, pr, z, m, v};
    if (!all_ok(hs, 6)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    memcpy(pr, p, (size_t)n * sizeof(float));
    if (u->with_ref && adam) ref_adam_step(pr, g, m, v, (size_t)n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, 1);
    if (u->with_ref && !adam) ref_sgd_step(pr, g, m, (size_t)n, 1e-2f, 0.9f, 1e-5f);
    CT_TRY(dev(c, u, 0, (size_t)n, p));
    CT_TRY(dev(c, u, 1, (size_t)n, g));
    CT_TRY(dev(c, u, 2, (size_t)n, z));
    return dev(c, u, 3, (size_t)n, z);
}

int tune_unit_setup(ct_ctx *c, tune_unit *u, const ct_tune_shape *s, int N)
{
    const char *ops[3];
    u->s = *s;
    u->N = N;
    u->need_dx = s->need_dx;
    u->nrows = tune_unit_ops(s, ops);
    switch (s->kind) {
    case S_CONV: return conv_setup(c, u, s, N);
    case S_FC: return fc_setup(c, u, N, s->a, s->b, s->flag);
    case S_BN2D: return bn_setup(c, u, s->a, N * s->h * s->w, 0);
    case S_BN1D: return bn_setup(c, u, s->a, N, 1);
    case S_MAXPOOL:
    case S_AVGPOOL:
    case S_ADAPTIVE: return pool_setup(c, u, s, N);
    case S_OPTIM:
        if (s->n > 0x7fffffffLL) return ct_fail(CT_ERR_USAGE, "tune: %lld parameters are too many to time", s->n);
        return optim_setup(c, u, (int)s->n, s->a);
    }
    return CT_OK;
}

/* ---- running, checking and timing one unit ------------------------------------------------ */

/* kernels of a convolution's weight gradient (the rest of its backward computes dx) */
static int is_wgrad_kernel(const char *name)
{
    return !strcmp(name, "gemm_nt") || !strcmp(name, "conv_dyt") || !strncmp(name, "conv_dw_", 8) ||
           !strncmp(name, "conv_dw1_", 9) || !strncmp(name, "conv_dws2_", 10) || !strncmp(name, "colsum", 6) ||
           !strcmp(name, "rowsum") || !strcmp(name, "clblast_sgemm");
}

/* device time of the events recorded since the last reset (wg: of the weight-gradient kernels
 * alone, when not NULL); resets */
static double events_ms(ct_ctx *c, double *wg)
{
    double all = 0, w = 0;
    for (int i = 0; i < c->n_events; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        const double d = t1 > t0 ? (double)(t1 - t0) / 1e6 : 0;
        all += d;
        if (is_wgrad_kernel(c->event_names[i])) w += d;
    }
    ct_prof_reset(c);
    if (wg) *wg = w;
    return all;
}

static int pool_run(ct_ctx *c, tune_unit *u, int backward)
{
    const ct_tune_shape *s = &u->s;
    const int planes = s->a * u->N;
    if (s->kind == S_MAXPOOL && s->flag)
        return backward ? ct_maxpool2_backward(c, planes, s->h, s->w, u->d[0], u->d[2], u->d[3])
                        : ct_maxpool2_forward(c, planes, s->h, s->w, u->d[0], u->d[1]);
    if (s->kind == S_MAXPOOL)
        return backward ? ct_maxpool_backward(c, &u->pool, planes, u->d[0], u->d[2], u->d[3])
                        : ct_maxpool_forward(c, &u->pool, planes, u->d[0], u->d[1]);
    if (s->kind == S_AVGPOOL)
        return backward ? ct_avgpool2d_backward(c, &u->pool, planes, u->d[2], u->d[3])
                        : ct_avgpool2d_forward(c, &u->pool, planes, u->d[0], u->d[1]);
    if (s->flag)
        return backward ? ct_avgpool_backward(c, s->a, u->N, s->h, s->w, s->kh, s->kw, u->d[2], u->d[3])
                        : ct_avgpool_forward(c, s->a, u->N, s->h, s->w, s->kh, s->kw, u->d[0], u->d[1]);
    return backward ? ct_adaptive_avgpool_backward(c, s->a, u->N, s->h, s->w, s->kh, s->kw, u->d[2], u->d[3])
                    : ct_adaptive_avgpool_forward(c, s->a, u->N, s->h, s->w, s->kh, s->kw, u->d[0], u->d[1]);
}

/* runs the unit's operations once; ms[row] = their device times */
static int unit_run(ct_ctx *c, tune_unit *u, double *ms)
{
    ct_prof_reset(c);
    switch (u->kind) {
    case U_CONV: {
        CT_TRY(ct_conv_forward(c, &u->conv, u->N, u->d[0], u->d[1], u->d[2], u->d[3]));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        CT_TRY(ct_conv_backward(c, &u->conv, u->N, u->d[0], u->d[4], u->d[1], u->d[2], u->d[5], u->need_dx ? u->d[6] : NULL, 0));
        CT_TRY(ct_finish(c));
        double wg = 0, all = events_ms(c, &wg);
        /* one backward, its events split into the weight gradient and the data gradient */
        ms[1] = u->need_dx ? wg : all;
        if (u->need_dx) ms[2] = all - wg;
        return CT_OK;
    }
    case U_FC:
        CT_TRY(ct_fc_forward(c, &u->fc, u->N, u->d[0], u->d[1], u->d[2], 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        CT_TRY(ct_fc_backward(c, &u->fc, u->N, u->d[0], u->d[3], u->d[1], u->d[4], u->need_dx ? u->d[5] : NULL));
        break;
    case U_BN:
        CT_TRY(ct_bn_forward(c, &u->bn, u->n, 1, u->d[0], u->d[1], u->d[2], u->d[3], u->d[4], u->d[5], 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        CT_TRY(ct_bn_backward(c, &u->bn, u->n, u->d[0], u->d[6], NULL, u->d[1], u->d[3], u->d[4], u->d[7], u->d[8]));
        break;
    case U_BN1D:
        CT_TRY(ct_bn1d_forward(c, &u->bn, u->n, 1, u->d[0], u->d[1], u->d[2], u->d[3], u->d[4], u->d[5], 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        CT_TRY(ct_bn1d_backward(c, &u->bn, u->n, u->d[0], u->d[6], NULL, u->d[1], u->d[3], u->d[4], u->d[7], u->d[8]));
        break;
    case U_POOL:
        CT_TRY(pool_run(c, u, 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        if (u->nrows < 2) return CT_OK;
        CT_TRY(pool_run(c, u, 1));
        break;
    case U_OPTIM:
        if (u->s.a)
            CT_TRY(ct_adam_step(c, u->n, u->d[0], u->d[1], u->d[2], u->d[3], 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, 1));
        else
            CT_TRY(ct_sgd_step(c, u->n, u->d[0], u->d[1], u->d[2], 1e-2f, 0.9f, 1e-5f));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, NULL);
        return CT_OK;
    }
    CT_TRY(ct_finish(c));
    ms[1] = events_ms(c, NULL);
    return CT_OK;
}

/* |got - want| <= 1e-4 * max|want| + 1e-5 everywhere (sums of thousands of terms in another order) */
static int close_enough(const float *got, const float *want, size_t n)
{
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
    const double tol = 1e-4 * mx + 1e-5;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - (double)want[i]) <= tol)) return 0;
    return 1;
}

/* compares device buffer b (from float off, n floats) with want; cm_N > 0: b is channel-major
 * (C, N, HW) with cm_C channels, want is (N, C, HW) */
static int read_cmp(ct_ctx *c, cl_mem b, size_t off, size_t n, const float *want, int cm_N, int cm_C, int *ok)
{
    float *t = malloc((n ? n : 1) * 2 * sizeof(float));
    if (!t) return ct_fail(CT_ERR_NOMEM, "out of memory");
    int rc = ct_buffer_read(c, b, off * sizeof(float), n * sizeof(float), t);
    if (rc == CT_OK && cm_N > 0) {
        nchw_to_cm(t, t + n, cm_N, cm_C, (int)(n / ((size_t)cm_N * cm_C)), 1);
        memcpy(t, t + n, n * sizeof(float));
    }
    if (rc == CT_OK && !close_enough(t, want, n)) *ok = 0;
    free(t);
    return rc;
}

int tune_unit_check(ct_ctx *c, tune_unit *u, int *ok)
{
    double ms[3];
    *ok = 1;
    if (u->kind == U_POOL) return CT_OK; /* no tunable reaches the pooling kernels: verify checks them */
    if (u->kind == U_OPTIM) {
        CT_TRY(ct_buffer_write(c, u->d[0], 0, (size_t)u->n * sizeof(float), u->h[0]));
        CT_TRY(ct_buffer_write(c, u->d[2], 0, (size_t)u->n * sizeof(float), u->h[3]));
        CT_TRY(ct_buffer_write(c, u->d[3], 0, (size_t)u->n * sizeof(float), u->h[3]));
    }
    CT_TRY(unit_run(c, u, ms));
    switch (u->kind) {
    case U_CONV: {
        const ct_conv *l = &u->conv;
        CT_TRY(read_cmp(c, u->d[3], 0, u->hn[4], u->h[4], u->N, l->co, ok));
        CT_TRY(read_cmp(c, u->d[5], 0, (size_t)l->co * l->ci * l->kh * l->kw, u->h[6], 0, 0, ok));
        if (l->b_off >= 0) CT_TRY(read_cmp(c, u->d[5], (size_t)l->b_off, (size_t)l->co, u->h[7], 0, 0, ok));
        if (u->need_dx) CT_TRY(read_cmp(c, u->d[6], 0, u->hn[5], u->h[5], u->N, l->ci, ok));
        return CT_OK;
    }
    case U_FC: {
        const ct_fc *l = &u->fc;
        CT_TRY(read_cmp(c, u->d[2], 0, (size_t)u->N * l->out, u->h[4], 0, 0, ok));
        if (u->need_dx) CT_TRY(read_cmp(c, u->d[5], 0, (size_t)u->N * l->in, u->h[5], 0, 0, ok));
        CT_TRY(read_cmp(c, u->d[4], 0, (size_t)l->out * l->in, u->h[6], 0, 0, ok));
        if (l->b_off >= 0) CT_TRY(read_cmp(c, u->d[4], (size_t)l->b_off, (size_t)l->out, u->h[7], 0, 0, ok));
        return CT_OK;
    }
    case U_BN:
    case U_BN1D: {
        const size_t n = (size_t)u->bn.C * u->n;
        CT_TRY(read_cmp(c, u->d[5], 0, n, u->h[4], 0, 0, ok));
        CT_TRY(read_cmp(c, u->d[8], 0, n, u->h[5], 0, 0, ok));
        CT_TRY(read_cmp(c, u->d[7], 0, (size_t)u->bn.C, u->h[6], 0, 0, ok));
        return read_cmp(c, u->d[7], (size_t)u->bn.b_off, (size_t)u->bn.C, u->h[7], 0, 0, ok);
    }
    case U_OPTIM: return read_cmp(c, u->d[0], 0, (size_t)u->n, u->h[2], 0, 0, ok);
    case U_POOL: break;
    }
    return CT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int tune_unit_time(ct_ctx *c, tune_unit *u, int reps, double *ms)
{
    double s[3][TUNE_REPS];
    if (reps > TUNE_REPS) reps = TUNE_REPS;
    for (int r = 0; r < reps; r++) {
        double one[3] = {0, 0, 0};
        CT_TRY(unit_run(c, u, one));
        for (int k = 0; k < u->nrows; k++) s[k][r] = one[k];
    }
    for (int k = 0; k < u->nrows; k++) {
        qsort(s[k], (size_t)reps, sizeof(double), cmp_double);
        ms[k] = s[k][reps / 2];
    }
    return CT_OK;
}
