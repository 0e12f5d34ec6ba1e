/* tune.c: see tune.h. The search is a coordinate descent over groups of tunables (GEMM tiles,
 * GEMM work-group shape, NT GEMM tiles, convolution path, FC back end, reduction work-group
 * size, elementwise vector width): the profile's defaults are measured first, then each group's
 * alternatives in a seeded order on top of the best set so far. A candidate is built, checked
 * against the C reference on every layer it affects, timed (one quick pass: dropped when 3x
 * slower than the best; then the median of 5 profiled runs) and kept when it beats the best by
 * more than 2% (noise). The final set passes the whole `verify` suite or is discarded. */
#define _POSIX_C_SOURCE 200809L
#include "tune.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embedded.h"
#include "ops.h"
#include "ref.h"
#include "verify.h"

enum { G_TILE = 1, G_LOCAL = 2, G_NT = 4, G_CONV = 8, G_FC = 16, G_RED = 32, G_EW = 64 };
#define G_GEMM (G_TILE | G_LOCAL | G_NT)
#define REPS 5

/* ---- the candidate values ---------------------------------------------------------------- */

typedef struct {
    int group, a, b, c, d;
} variant;

static const variant variants[] = {
    /* GEMM NN tile: rows per item, vector width, vectors per row */
    {G_TILE, 4, 4, 1, 0}, {G_TILE, 2, 4, 1, 0}, {G_TILE, 8, 4, 1, 0}, {G_TILE, 4, 8, 1, 0},
    {G_TILE, 2, 8, 1, 0}, {G_TILE, 8, 16, 2, 0}, {G_TILE, 4, 16, 1, 0},
    /* GEMM work-group shape (0 x 0: the driver chooses) */
    {G_LOCAL, 16, 8, 0, 0}, {G_LOCAL, 8, 8, 0, 0}, {G_LOCAL, 16, 16, 0, 0}, {G_LOCAL, 32, 8, 0, 0},
    {G_LOCAL, 8, 4, 0, 0}, {G_LOCAL, 0, 0, 0, 0},
    /* GEMM NT: rows x cols per item, vector width along K, K chunk */
    {G_NT, 2, 2, 4, 0}, {G_NT, 2, 4, 4, 0}, {G_NT, 4, 4, 4, 0}, {G_NT, 2, 2, 8, 0}, {G_NT, 2, 8, 16, 2048},
    /* convolution path: direct-kernel mask (bit 0 backward data, bit 1 forward + weight
     * gradient), im2col panels */
    {G_CONV, 0, 0, 0, 0}, {G_CONV, 1, 0, 0, 0}, {G_CONV, 2, 0, 0, 0}, {G_CONV, 3, 0, 0, 0}, {G_CONV, 3, 1, 0, 0},
    {G_CONV, 0, 1, 0, 0},
    /* FC: CLBlast or our GEMM */
    {G_FC, 0, 0, 0, 0}, {G_FC, 1, 0, 0, 0},
    /* reduction work-group size */
    {G_RED, 1, 0, 0, 0}, {G_RED, 64, 0, 0, 0}, {G_RED, 128, 0, 0, 0}, {G_RED, 256, 0, 0, 0},
    /* elementwise vector width */
    {G_EW, 4, 0, 0, 0}, {G_EW, 8, 0, 0, 0}, {G_EW, 16, 0, 0, 0},
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

static void apply_variant(ct_tune *t, const variant *v)
{
    switch (v->group) {
    case G_TILE: t->gemm_tm = v->a, t->gemm_vw = v->b, t->gemm_nv = v->c; break;
    case G_LOCAL: t->gemm_local[0] = (size_t)v->a, t->gemm_local[1] = (size_t)v->b; break;
    case G_NT: t->gemm_nt_tm = v->a, t->gemm_nt_tn = v->b, t->gemm_nt_vw = v->c, t->gemm_nt_kc = v->d; break;
    case G_CONV: t->conv_direct = v->a, t->conv_panels = v->b; break;
    case G_FC: t->fc_clblast = v->a; break;
    case G_RED: t->red_ls = v->a; break;
    case G_EW: t->ew_vw = v->a; break;
    }
}

static int same_values(const ct_tune *a, const ct_tune *b)
{
    char x[512], y[512];
    ct_tune_format(a, x, sizeof x);
    ct_tune_format(b, y, sizeof y);
    return strcmp(x, y) == 0;
}

/* within the device's limits (before building: work-group size, local memory) */
static int fits_device(const ct_device_info *d, const ct_tune *t)
{
    if (t->gemm_local[0] * t->gemm_local[1] > d->max_wg_size) return 0;
    if ((size_t)t->red_ls > d->max_wg_size || (unsigned long long)t->red_ls * 4 > d->local_mem) return 0;
    return 1;
}

int ct_tune_candidates(const ct_ctx *c, ct_tune **out, int *n)
{
    ct_tune base;
    ct_tune_profile(&c->dev, c->tune.gpu_profile, &base);
    base.gpu_profile = c->tune.gpu_profile;
    snprintf(base.origin, sizeof base.origin, "%s", c->tune.origin);
    ct_tune *list = malloc((size_t)(N_VARIANTS + 1) * sizeof *list);
    if (!list) return ct_fail(CT_ERR_NOMEM, "out of memory");
    int k = 0;
    list[k++] = base;
    for (int i = 0; i < N_VARIANTS; i++) {
        ct_tune t = base;
        apply_variant(&t, &variants[i]);
        if (same_values(&t, &base) || !fits_device(&c->dev, &t)) continue;
        list[k++] = t;
    }
    *out = list;
    *n = k;
    return CT_OK;
}

/* ---- the layers of the network, with inputs and reference results ------------------------ */

typedef enum { U_CONV, U_FC, U_BN, U_POOL, U_ADAM } unit_kind;

typedef struct {
    unit_kind kind;
    unsigned groups; /* groups whose values can change this unit's time */
    int row;         /* its first row in the report */
    int nrows;
    int N, need_dx;
    ct_conv conv;
    ct_fc fc;
    ct_bn bn;
    int planes, H, W, n;
    int with_ref;    /* reference results computed (check units); timing units skip them */
    cl_mem d[10];
    float *h[12];
    size_t hn[12];
} unit;

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static float urand(float lo, float hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (float)((rng_state >> 40) * (1.0 / 16777216.0));
}

static float *host(unit *u, int i, size_t n, float lo, float hi)
{
    u->h[i] = malloc((n ? n : 1) * sizeof(float));
    u->hn[i] = n;
    if (u->h[i])
        for (size_t j = 0; j < n; j++) u->h[i][j] = lo == hi ? lo : urand(lo, hi);
    return u->h[i];
}

static int dev(ct_ctx *c, unit *u, int i, size_t n, const float *init)
{
    CT_TRY(ct_buffer_create(c, (n ? n : 1) * sizeof(float), "tuning data", &u->d[i]));
    if (init) CT_TRY(ct_buffer_write(c, u->d[i], 0, n * sizeof(float), init));
    return CT_OK;
}

static void unit_free(unit *u)
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

/* conv: d = x, params, col, y, dy, grads, dx; h = w, b, x(nchw), dy(nchw), yref, dxref, dwref, dbref, tmp */
static int conv_setup(ct_ctx *c, unit *u, int N, int ci, int co, int k, int hw, int need_dx)
{
    u->kind = U_CONV;
    u->groups = G_GEMM | G_CONV | G_RED;
    u->N = N;
    u->need_dx = need_dx;
    u->nrows = need_dx ? 3 : 2;
    const int b_off = (co * ci * k * k + 15) / 16 * 16;
    ct_conv_init(&u->conv, ci, co, k, k / 2, hw, hw, 0, b_off);
    const size_t nx = (size_t)N * ci * hw * hw, ny = (size_t)N * co * hw * hw, nw = (size_t)co * ci * k * k;
    float *w = host(u, 0, nw, -0.3f, 0.3f), *b = host(u, 1, (size_t)co, -1, 1), *x = host(u, 2, nx, -1, 1);
    float *dy = host(u, 3, ny, -1, 1), *y = host(u, 4, ny, 0, 0), *dx = host(u, 5, nx, 0, 0);
    float *dw = host(u, 6, nw, 0, 0), *db = host(u, 7, (size_t)co, 0, 0);
    float *tmp = host(u, 8, (nx > ny ? nx : ny) + (size_t)b_off + co, 0, 0);
    const float *hs[] = {w, b, x, dy, y, dx, dw, db, tmp};
    if (!all_ok(hs, 9)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    if (u->with_ref) {
        ref_conv2d_fwd(x, w, b, y, N, ci, hw, hw, co, k, k, k / 2);
        ref_conv2d_bwd(x, w, dy, need_dx ? dx : NULL, dw, db, N, ci, hw, hw, co, k, k, k / 2);
    }
    nchw_to_cm(x, tmp, N, ci, hw * hw, 0);
    CT_TRY(dev(c, u, 0, nx, tmp));
    memset(tmp, 0, ((size_t)b_off + co) * sizeof(float));
    memcpy(tmp, w, nw * sizeof(float));
    memcpy(tmp + b_off, b, (size_t)co * sizeof(float));
    CT_TRY(dev(c, u, 1, (size_t)b_off + co, tmp));
    CT_TRY(dev(c, u, 2, ct_conv_col_floats(&u->conv, N), NULL));
    CT_TRY(dev(c, u, 3, ny, NULL));
    nchw_to_cm(dy, tmp, N, co, hw * hw, 0);
    CT_TRY(dev(c, u, 4, ny, tmp));
    CT_TRY(dev(c, u, 5, (size_t)b_off + co, NULL));
    return dev(c, u, 6, nx, NULL);
}

/* fc: d = x, params, y, dy, grads, dx; h = x, w, b, dy, yref, dxref, dwref, dbref, tmp */
static int fc_setup(ct_ctx *c, unit *u, int N, int in, int out)
{
    u->kind = U_FC;
    u->groups = G_GEMM | G_FC;
    u->N = N;
    u->nrows = 2;
    const int b_off = (out * in + 15) / 16 * 16;
    u->fc = (ct_fc){in, out, 0, b_off};
    float *x = host(u, 0, (size_t)N * in, -1, 1), *w = host(u, 1, (size_t)out * in, -0.3f, 0.3f);
    float *b = host(u, 2, (size_t)out, -1, 1), *dy = host(u, 3, (size_t)N * out, -1, 1);
    float *y = host(u, 4, (size_t)N * out, 0, 0), *dx = host(u, 5, (size_t)N * in, 0, 0);
    float *dw = host(u, 6, (size_t)out * in, 0, 0), *db = host(u, 7, (size_t)out, 0, 0);
    float *p = host(u, 8, (size_t)b_off + out, 0, 0);
    const float *hs[] = {x, w, b, dy, y, dx, dw, db, p};
    if (!all_ok(hs, 9)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    if (u->with_ref) {
        ref_linear_fwd(x, w, b, y, N, in, out);
        ref_linear_bwd(x, w, dy, dx, dw, db, N, in, out);
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

/* bn on (C, M): d = x, params, state, mean, invstd, y, dy, grads, dx; h = x, gamma, beta, dy, yref,
 * dxref, dgref, dbref, params, state */
static int bn_setup(ct_ctx *c, unit *u, int C, int M)
{
    u->kind = U_BN;
    u->groups = G_RED | G_EW;
    u->nrows = 2;
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
    if (u->with_ref) {
        ref_bn_fwd_train(x, g, bt, y, NULL, NULL, sm, si, 1, C, M, 1e-5f, 0.1f);
        ref_bn_bwd(x, dy, g, sm, si, dx, dg, db, 1, C, M);
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

/* maxpool 2x2 on planes of H x W: d = x, y, dy, dx; h = x, dy, yref, dxref */
static int pool_setup(ct_ctx *c, unit *u, int planes, int H, int W)
{
    u->kind = U_POOL;
    u->groups = 0;
    u->nrows = 2;
    u->planes = planes, u->H = H, u->W = W;
    const size_t n = (size_t)planes * H * W, no = (size_t)planes * (H / 2) * (W / 2);
    float *x = host(u, 0, n, -1, 1), *dy = host(u, 1, no, -1, 1), *y = host(u, 2, no, 0, 0), *dx = host(u, 3, n, 0, 0);
    const float *hs[] = {x, dy, y, dx};
    if (!all_ok(hs, 4)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    if (u->with_ref) {
        ref_maxpool2_fwd(x, y, 1, planes, H, W);
        ref_maxpool2_bwd(x, dy, dx, 1, planes, H, W);
    }
    CT_TRY(dev(c, u, 0, n, x));
    CT_TRY(dev(c, u, 1, no, NULL));
    CT_TRY(dev(c, u, 2, no, dy));
    return dev(c, u, 3, n, NULL);
}

/* adam over n parameters: d = p, g, m, v; h = p0, g, pref, zeros */
static int adam_setup(ct_ctx *c, unit *u, int n)
{
    u->kind = U_ADAM;
    u->groups = G_EW;
    u->nrows = 1;
    u->n = n;
    float *p = host(u, 0, (size_t)n, -1, 1), *g = host(u, 1, (size_t)n, -1, 1), *pr = host(u, 2, (size_t)n, 0, 0);
    float *z = host(u, 3, (size_t)n, 0, 0), *m = host(u, 4, (size_t)n, 0, 0), *v = host(u, 5, (size_t)n, 0, 0);
    const float *hs[] = {p, g, pr, z, m, v};
    if (!all_ok(hs, 6)) return ct_fail(CT_ERR_NOMEM, "out of memory");
    memcpy(pr, p, (size_t)n * sizeof(float));
    if (u->with_ref) ref_adam_step(pr, g, m, v, (size_t)n, 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, 1);
    CT_TRY(dev(c, u, 0, (size_t)n, p));
    CT_TRY(dev(c, u, 1, (size_t)n, g));
    CT_TRY(dev(c, u, 2, (size_t)n, z));
    return dev(c, u, 3, (size_t)n, z);
}

/* ---- running, checking and timing one unit ------------------------------------------------ */

/* kernels of a convolution's weight gradient (the rest of its backward computes dx) */
static int is_wgrad_kernel(const char *name)
{
    return !strcmp(name, "gemm_nt") || !strcmp(name, "conv_dyt") || !strncmp(name, "conv_dw_", 8) ||
           !strcmp(name, "rowsum") || !strcmp(name, "clblast_sgemm");
}

/* device time of the events recorded since the last reset: part 0 all, 1 weight-gradient
 * kernels, 2 the others; resets */
static double events_ms(ct_ctx *c, int part)
{
    double ns = 0;
    for (int i = 0; i < c->n_events; i++) {
        if (part && (is_wgrad_kernel(c->event_names[i]) != (part == 1))) continue;
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        ns += t1 > t0 ? (double)(t1 - t0) : 0;
    }
    ct_prof_reset(c);
    return ns / 1e6;
}

/* runs the unit's operations once; ms[row] = their device times */
static int unit_run(ct_ctx *c, unit *u, double *ms)
{
    ct_prof_reset(c);
    switch (u->kind) {
    case U_CONV:
        CT_TRY(ct_conv_forward(c, &u->conv, u->N, u->d[0], u->d[1], u->d[2], u->d[3]));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, 0);
        CT_TRY(ct_conv_backward(c, &u->conv, u->N, u->d[4], u->d[1], u->d[2], u->d[5], u->need_dx ? u->d[6] : NULL));
        CT_TRY(ct_finish(c));
        if (u->need_dx) {
            /* one backward, its events split into the weight gradient and the data gradient */
            double all = 0, wg = 0;
            for (int i = 0; i < c->n_events; i++) {
                cl_ulong t0 = 0, t1 = 0;
                clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
                clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
                double d = t1 > t0 ? (double)(t1 - t0) / 1e6 : 0;
                all += d;
                if (is_wgrad_kernel(c->event_names[i])) wg += d;
            }
            ct_prof_reset(c);
            ms[1] = wg;
            ms[2] = all - wg;
        } else {
            ms[1] = events_ms(c, 0);
        }
        return CT_OK;
    case U_FC:
        CT_TRY(ct_fc_forward(c, &u->fc, u->N, u->d[0], u->d[1], u->d[2], 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, 0);
        CT_TRY(ct_fc_backward(c, &u->fc, u->N, u->d[0], u->d[3], u->d[1], u->d[4], u->d[5]));
        CT_TRY(ct_finish(c));
        ms[1] = events_ms(c, 0);
        return CT_OK;
    case U_BN:
        CT_TRY(ct_bn_forward(c, &u->bn, u->n, 1, u->d[0], u->d[1], u->d[2], u->d[3], u->d[4], u->d[5], 0));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, 0);
        CT_TRY(ct_bn_backward(c, &u->bn, u->n, u->d[0], u->d[6], NULL, u->d[1], u->d[3], u->d[4], u->d[7], u->d[8]));
        CT_TRY(ct_finish(c));
        ms[1] = events_ms(c, 0);
        return CT_OK;
    case U_POOL:
        CT_TRY(ct_maxpool2_forward(c, u->planes, u->H, u->W, u->d[0], u->d[1]));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, 0);
        CT_TRY(ct_maxpool2_backward(c, u->planes, u->H, u->W, u->d[0], u->d[2], u->d[3]));
        CT_TRY(ct_finish(c));
        ms[1] = events_ms(c, 0);
        return CT_OK;
    case U_ADAM:
        CT_TRY(ct_adam_step(c, u->n, u->d[0], u->d[1], u->d[2], u->d[3], 1e-3f, 0.9f, 0.999f, 1e-8f, 1e-5f, 1));
        CT_TRY(ct_finish(c));
        ms[0] = events_ms(c, 0);
        return CT_OK;
    }
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

static int read_cmp(ct_ctx *c, cl_mem b, size_t off, size_t n, const float *want, float *tmp, int *ok)
{
    CT_TRY(ct_buffer_read(c, b, off * sizeof(float), n * sizeof(float), tmp));
    if (!close_enough(tmp, want, n)) *ok = 0;
    return CT_OK;
}

/* runs the unit once from fresh inputs and compares every result with the reference */
static int unit_check(ct_ctx *c, unit *u, int *ok)
{
    double ms[3];
    *ok = 1;
    if (u->kind == U_ADAM) {
        CT_TRY(ct_buffer_write(c, u->d[0], 0, (size_t)u->n * sizeof(float), u->h[0]));
        CT_TRY(ct_buffer_write(c, u->d[2], 0, (size_t)u->n * sizeof(float), u->h[3]));
        CT_TRY(ct_buffer_write(c, u->d[3], 0, (size_t)u->n * sizeof(float), u->h[3]));
    }
    CT_TRY(unit_run(c, u, ms));
    switch (u->kind) {
    case U_CONV: {
        const ct_conv *l = &u->conv;
        const int hw = l->h * l->w;
        float *t = u->h[8];
        CT_TRY(ct_buffer_read(c, u->d[3], 0, (size_t)u->N * l->co * hw * sizeof(float), t));
        float *nchw = malloc((size_t)u->N * l->co * hw * sizeof(float));
        if (!nchw) return ct_fail(CT_ERR_NOMEM, "out of memory");
        nchw_to_cm(t, nchw, u->N, l->co, hw, 1);
        if (!close_enough(nchw, u->h[4], (size_t)u->N * l->co * hw)) *ok = 0;
        free(nchw);
        CT_TRY(read_cmp(c, u->d[5], 0, (size_t)l->co * l->ci * l->kh * l->kw, u->h[6], t, ok));
        CT_TRY(read_cmp(c, u->d[5], (size_t)l->b_off, (size_t)l->co, u->h[7], t, ok));
        if (u->need_dx) {
            const size_t nx = (size_t)u->N * l->ci * hw;
            CT_TRY(ct_buffer_read(c, u->d[6], 0, nx * sizeof(float), t));
            float *back = malloc(nx * sizeof(float));
            if (!back) return ct_fail(CT_ERR_NOMEM, "out of memory");
            nchw_to_cm(t, back, u->N, l->ci, hw, 1);
            if (!close_enough(back, u->h[5], nx)) *ok = 0;
            free(back);
        }
        return CT_OK;
    }
    case U_FC: {
        const ct_fc *l = &u->fc;
        float *buf = malloc(((size_t)u->N * (l->in > l->out ? l->in : l->out) + (size_t)l->out * l->in + 16) *
                            sizeof(float));
        if (!buf) return ct_fail(CT_ERR_NOMEM, "out of memory");
        int rc = read_cmp(c, u->d[2], 0, (size_t)u->N * l->out, u->h[4], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[5], 0, (size_t)u->N * l->in, u->h[5], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[4], 0, (size_t)l->out * l->in, u->h[6], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[4], (size_t)l->b_off, (size_t)l->out, u->h[7], buf, ok);
        free(buf);
        return rc;
    }
    case U_BN: {
        const size_t n = (size_t)u->bn.C * u->n;
        float *buf = malloc(n * sizeof(float));
        if (!buf) return ct_fail(CT_ERR_NOMEM, "out of memory");
        int rc = read_cmp(c, u->d[5], 0, n, u->h[4], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[8], 0, n, u->h[5], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[7], 0, (size_t)u->bn.C, u->h[6], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[7], (size_t)u->bn.b_off, (size_t)u->bn.C, u->h[7], buf, ok);
        free(buf);
        return rc;
    }
    case U_POOL: {
        float *buf = malloc(u->hn[0] * sizeof(float));
        if (!buf) return ct_fail(CT_ERR_NOMEM, "out of memory");
        int rc = read_cmp(c, u->d[1], 0, u->hn[2], u->h[2], buf, ok);
        if (rc == CT_OK) rc = read_cmp(c, u->d[3], 0, u->hn[3], u->h[3], buf, ok);
        free(buf);
        return rc;
    }
    case U_ADAM: {
        float *buf = malloc((size_t)u->n * sizeof(float));
        if (!buf) return ct_fail(CT_ERR_NOMEM, "out of memory");
        int rc = read_cmp(c, u->d[0], 0, (size_t)u->n, u->h[2], buf, ok);
        free(buf);
        return rc;
    }
    }
    return CT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* median over reps runs (after the caller's warm-up) of each of the unit's rows */
static int unit_time(ct_ctx *c, unit *u, int reps, double *ms)
{
    double s[3][REPS];
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

/* ---- the search -------------------------------------------------------------------------- */

#define MAX_UNITS 16

static void add_row(ct_tune_report *r, const char *op, const char *shape)
{
    ct_tune_row *w = &r->rows[r->n_rows++];
    snprintf(w->op, sizeof w->op, "%s", op);
    snprintf(w->shape, sizeof w->shape, "%s", shape);
}

/* The network's layers twice: at the training batch for timing (tim) and at a batch of at most
 * CHECK_BATCH with reference results for the checks (chk): the same kernels and code paths, a
 * reference a few seconds cheaper. One report row per timed operation. */
#define CHECK_BATCH 4
static int network_units(ct_ctx *c, const ct_tune_opts *o, unit *tim, unit *chk, int *nu, ct_tune_report *r)
{
    const ct_tune_net *d = &o->dims;
    const int N = o->batch, CN = N < CHECK_BATCH ? N : CHECK_BATCH;
    const int ci[3] = {1, d->c1, d->c2}, co[3] = {d->c1, d->c2, d->c3}, k[3] = {5, 5, 3}, hw[3] = {28, 14, 7};
    char s[64];
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        unit *u = pass ? chk : tim;
        const int B = pass ? CN : N;
        n = 0;
        for (int i = 0; i < MAX_UNITS; i++) u[i].with_ref = pass;
        for (int i = 0; i < 3; i++) {
            snprintf(s, sizeof s, "conv%d %d->%d %dx%d k%d N%d", i + 1, ci[i], co[i], hw[i], hw[i], k[i], N);
            if (!pass) {
                u[n].row = r->n_rows;
                add_row(r, "conv fwd", s);
                add_row(r, "conv wgrad", s);
                if (i > 0) add_row(r, "conv dgrad", s);
            }
            CT_TRY(conv_setup(c, &u[n++], B, ci[i], co[i], k[i], hw[i], i > 0));
        }
        if (d->use_bn)
            for (int i = 0; i < 3; i++) {
                snprintf(s, sizeof s, "bn%d C%d M%d", i + 1, co[i], N * hw[i] * hw[i]);
                if (!pass) {
                    u[n].row = r->n_rows;
                    add_row(r, "bn fwd", s);
                    add_row(r, "bn bwd", s);
                }
                CT_TRY(bn_setup(c, &u[n++], co[i], B * hw[i] * hw[i]));
            }
        for (int i = 0; i < 2; i++) {
            snprintf(s, sizeof s, "%d planes %dx%d", co[i] * N, hw[i], hw[i]);
            if (!pass) {
                u[n].row = r->n_rows;
                add_row(r, "maxpool fwd", s);
                add_row(r, "maxpool bwd", s);
            }
            CT_TRY(pool_setup(c, &u[n++], co[i] * B, hw[i], hw[i]));
        }
        const int fin[3] = {9 * d->c3, d->hidden, d->hidden / 2}, fout[3] = {d->hidden, d->hidden / 2, 10};
        long long params = 0;
        for (int i = 0; i < 3; i++) {
            snprintf(s, sizeof s, "fc%d %d->%d N%d", i + 1, fin[i], fout[i], N);
            if (!pass) {
                u[n].row = r->n_rows;
                add_row(r, "fc fwd", s);
                add_row(r, "fc bwd", s);
            }
            CT_TRY(fc_setup(c, &u[n++], B, fin[i], fout[i]));
            params += (long long)fin[i] * fout[i] + fout[i];
            params += (long long)co[i] * ci[i] * k[i] * k[i] + co[i] + (d->use_bn ? 2LL * co[i] : 0);
        }
        snprintf(s, sizeof s, "%lld parameters", params);
        if (!pass) {
            u[n].row = r->n_rows;
            add_row(r, "adam step", s);
        }
        CT_TRY(adam_setup(c, &u[n++], (int)params));
    }
    for (int i = 0; i < n; i++) chk[i].row = tim[i].row;
    *nu = n;
    return CT_OK;
}

/* the largest work-group a built kernel accepts (CL_KERNEL_WORK_GROUP_SIZE) */
static size_t kernel_wg(ct_ctx *c, const char *family, const char *name)
{
    cl_kernel k;
    if (ct_kernel(c, family, name, &k) != CT_OK) {
        ct_clear_error();
        return 0;
    }
    size_t wg = 0;
    clGetKernelWorkGroupInfo(k, c->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    return wg;
}

/* after building: the launches the candidate makes fit the kernels' own limits */
static int fits_kernels(ct_ctx *c, const ct_tune *t)
{
    const size_t l = t->gemm_local[0] * t->gemm_local[1];
    if (l > 1 && (l > kernel_wg(c, "gemm", "gemm_nn") || l > kernel_wg(c, "gemm", "gemm_nt"))) return 0;
    if (t->red_ls > 1 && ((size_t)t->red_ls > kernel_wg(c, "reduce", "rowsum") ||
                          (size_t)t->red_ls > kernel_wg(c, "batchnorm", "bn_stats")))
        return 0;
    return 1;
}

static double sum_rows(const double *ms, const unit *u, int nu, unsigned groups)
{
    double s = 0;
    for (int i = 0; i < nu; i++)
        if (!groups || (u[i].groups & groups))
            for (int k = 0; k < u[i].nrows; k++) s += ms[u[i].row + k];
    return s;
}

/* checks then times every unit the groups affect under c's current tunables into ms; *verdict:
 * 0 ok, 1 wrong, 2 dropped as slow (quick pass > 3 x limit) */
static int measure(ct_ctx *c, unit *u, unit *chk, int nu, unsigned groups, double limit, double *ms, int *verdict)
{
    *verdict = 0;
    for (int i = 0; i < nu; i++) {
        if (groups && !(u[i].groups & groups)) continue;
        int ok;
        CT_TRY(unit_check(c, &chk[i], &ok));
        if (!ok) {
            *verdict = 1;
            return CT_OK;
        }
    }
    double quick[48];
    memcpy(quick, ms, sizeof quick);
    for (int i = 0; i < nu; i++) /* also the warm-up */
        if (!groups || (u[i].groups & groups)) CT_TRY(unit_time(c, &u[i], 1, quick + u[i].row));
    if (limit > 0 && sum_rows(quick, u, nu, groups) > 3 * limit) {
        *verdict = 2;
        return CT_OK;
    }
    for (int i = 0; i < nu; i++)
        if (!groups || (u[i].groups & groups)) CT_TRY(unit_time(c, &u[i], REPS, ms + u[i].row));
    return CT_OK;
}

static void shuffle(int *a, int n, unsigned seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int i = n - 1; i > 0; i--) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        int j = (int)(s % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int search(ct_ctx *c, const ct_tune_opts *o, unit *u, unit *chk, int nu, double t0, FILE *log,
                  ct_tune_report *r)
{
    double cur[48] = {0};
    int verdict;
    CT_TRY(measure(c, u, chk, nu, 0, 0, cur, &verdict));
    if (verdict)
        return ct_fail(CT_ERR_RUNTIME, "the default kernels disagree with the reference on '%s': run `cltrain "
                                       "verify` before tuning", c->dev.name);
    for (int i = 0; i < r->n_rows; i++) r->rows[i].default_ms = cur[i];
    if (log) fprintf(log, "defaults: %.3f ms per step (%.1f s so far)\n", sum_rows(cur, u, nu, 0), ct_now() - t0);
    ct_tune best = c->tune;
    const int order[] = {G_TILE, G_LOCAL, G_NT, G_CONV, G_FC, G_RED, G_EW};
    for (int gi = 0; gi < 7 && !r->budget_hit; gi++) {
        int idx[N_VARIANTS], n = 0;
        for (int i = 0; i < N_VARIANTS; i++)
            if (variants[i].group == order[gi]) idx[n++] = i;
        shuffle(idx, n, o->seed + (unsigned)gi);
        for (int j = 0; j < n; j++) {
            if (ct_now() - t0 > o->budget) {
                r->budget_hit = 1;
                break;
            }
            ct_tune cand = best;
            apply_variant(&cand, &variants[idx[j]]);
            if (same_values(&cand, &best)) continue;
            if (!fits_device(&c->dev, &cand)) {
                r->unfit++;
                continue;
            }
            CT_TRY(ct_ctx_set_tune(c, &cand));
            if (!fits_kernels(c, &cand)) {
                r->unfit++;
                continue;
            }
            /* the units this group's kernels run in (a GEMM change reaches every GEMM user) */
            const unsigned g = ((unsigned)order[gi] & G_GEMM) ? G_GEMM : (unsigned)order[gi];
            double ms[48];
            memcpy(ms, cur, sizeof ms);
            const double before = sum_rows(cur, u, nu, g);
            CT_TRY(measure(c, u, chk, nu, g, before, ms, &verdict));
            char vals[512];
            ct_tune_format(&cand, vals, sizeof vals);
            if (verdict == 1) {
                r->wrong++;
                if (log) fprintf(log, "  REJECTED (disagrees with the reference): %s\n", vals);
                continue;
            }
            if (verdict == 2) {
                r->slow++;
                if (log) fprintf(log, "  dropped (over 3x slower): %s\n", vals);
                continue;
            }
            r->tried++;
            const double after = sum_rows(ms, u, nu, g);
            const int win = after < 0.98 * before;
            if (log)
                fprintf(log, "  %8.3f ms vs %8.3f ms%s  %s  (%.1f s)\n", after, before, win ? "  <- better" : "", vals,
                        ct_now() - t0);
            if (win) {
                best = cand;
                memcpy(cur, ms, sizeof cur);
            }
        }
    }
    r->best = best;
    return CT_OK;
}

int ct_tune_run(ct_ctx *c, const ct_tune_opts *o, FILE *log, ct_tune_report *r)
{
    memset(r, 0, sizeof *r);
    if (!c->profiling) return ct_fail(CT_ERR_RUNTIME, "tuning needs a context with profiling");
    const double t0 = ct_now();
    r->dflt = c->tune;
    snprintf(r->device, sizeof r->device, "%s", c->dev.name);
    snprintf(r->shape, sizeof r->shape, "DigitCNN c1=%d c2=%d c3=%d hidden=%d bn=%d batch=%d", o->dims.c1, o->dims.c2,
             o->dims.c3, o->dims.hidden, o->dims.use_bn, o->batch);
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(r->when, sizeof r->when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    unit *u = calloc(2 * MAX_UNITS, sizeof *u), *chk = u + MAX_UNITS;
    if (!u) return ct_fail(CT_ERR_NOMEM, "out of memory");
    int nu = 0;
    int rc = network_units(c, o, u, chk, &nu, r);
    if (rc == CT_OK && log) fprintf(log, "reference results for %d layers computed (%.1f s)\n", nu, ct_now() - t0);
    if (rc == CT_OK) rc = search(c, o, u, chk, nu, t0, log, r);
    if (rc == CT_OK && !same_values(&r->best, &r->dflt)) {
        /* the winner: the whole verify suite, then every row re-timed under it */
        ct_verify_result vr;
        rc = ct_ctx_set_tune(c, &r->best);
        if (rc == CT_OK) rc = ct_verify_run(c, NULL, &vr);
        if (rc == CT_OK && vr.fail) {
            if (log) fprintf(log, "the best set fails %d verify checks: keeping the defaults\n", vr.fail);
            r->best = r->dflt;
        }
        double ms[48] = {0};
        int verdict = 0;
        if (rc == CT_OK && !same_values(&r->best, &r->dflt)) rc = measure(c, u, chk, nu, 0, 0, ms, &verdict);
        if (rc == CT_OK && !same_values(&r->best, &r->dflt)) {
            double a = 0, b = 0;
            for (int i = 0; i < r->n_rows; i++) a += ms[i], b += r->rows[i].default_ms;
            if (verdict || a >= b) {
                if (log) fprintf(log, "re-timed, the best set is not faster overall: keeping the defaults\n");
                r->best = r->dflt;
            } else {
                for (int i = 0; i < r->n_rows; i++) r->rows[i].best_ms = ms[i];
            }
        }
    }
    if (same_values(&r->best, &r->dflt))
        for (int i = 0; i < r->n_rows; i++) r->rows[i].best_ms = r->rows[i].default_ms;
    for (int i = 0; i < r->n_rows; i++) {
        r->step_default_ms += r->rows[i].default_ms;
        r->step_best_ms += r->rows[i].best_ms;
    }
    if (rc == CT_OK) rc = ct_ctx_set_tune(c, &r->dflt);
    for (int i = 0; i < nu; i++) {
        unit_free(&u[i]);
        unit_free(&chk[i]);
    }
    free(u);
    r->seconds = ct_now() - t0;
    return rc;
}

/* ---- the cache ----------------------------------------------------------------------------- */

static uint64_t kernel_hash(void)
{
    uint64_t h = 7;
    for (const ct_embedded_source *e = ct_embedded_sources; e->name; e++) {
        h = ct_hash64(e->name, strlen(e->name), h);
        h = ct_hash64(e->source, *e->len, h);
    }
    return h;
}

static int cache_path(const ct_ctx *c, char *path, size_t cap)
{
    char dir[3500];
    ct_cache_dir(dir, sizeof dir);
    if (!dir[0]) return ct_fail(CT_ERR_USAGE, "no cache folder for tuning results (CLTRAIN_NO_CACHE is set or no HOME)");
    uint64_t h = kernel_hash();
    const char *parts[] = {c->dev.platform_name, c->dev.platform_version, c->dev.name, c->dev.driver_version,
                           CLTRAIN_VERSION};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = ct_hash64(parts[i], strlen(parts[i]), h);
    snprintf(path, cap, "%s/tune-%016llx.json", dir, (unsigned long long)h);
    return CT_OK;
}

static json_t *tune_json(const ct_tune *t)
{
    return json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "gemm_tm", t->gemm_tm,
                     "gemm_vw", t->gemm_vw, "gemm_nv", t->gemm_nv, "gemm_row_loop", t->gemm_row_loop, "gemm_local_x",
                     (int)t->gemm_local[0], "gemm_local_y", (int)t->gemm_local[1], "gemm_nt_tm", t->gemm_nt_tm,
                     "gemm_nt_tn", t->gemm_nt_tn, "gemm_nt_vw", t->gemm_nt_vw, "gemm_nt_kc", t->gemm_nt_kc,
                     "conv_panels", t->conv_panels, "conv_direct", t->conv_direct, "ew_vw", t->ew_vw, "red_ls",
                     t->red_ls, "fc_clblast", t->fc_clblast);
}

static int tune_from_json(json_t *o, ct_tune *t)
{
    int lx = 0, ly = 0;
    if (json_unpack(o, "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "gemm_tm", &t->gemm_tm,
                    "gemm_vw", &t->gemm_vw, "gemm_nv", &t->gemm_nv, "gemm_row_loop", &t->gemm_row_loop,
                    "gemm_local_x", &lx, "gemm_local_y", &ly, "gemm_nt_tm", &t->gemm_nt_tm, "gemm_nt_tn",
                    &t->gemm_nt_tn, "gemm_nt_vw", &t->gemm_nt_vw, "gemm_nt_kc", &t->gemm_nt_kc, "conv_panels",
                    &t->conv_panels, "conv_direct", &t->conv_direct, "ew_vw", &t->ew_vw, "red_ls", &t->red_ls,
                    "fc_clblast", &t->fc_clblast) != 0)
        return 0;
    t->gemm_local[0] = (size_t)lx;
    t->gemm_local[1] = (size_t)ly;
    return 1;
}

static json_t *report_json(const ct_tune_report *r, int gpu)
{
    json_t *rows = json_array();
    for (int i = 0; i < r->n_rows; i++)
        json_array_append_new(rows, json_pack("{s:s,s:s,s:f,s:f}", "op", r->rows[i].op, "shape", r->rows[i].shape,
                                              "default_ms", r->rows[i].default_ms, "best_ms", r->rows[i].best_ms));
    return json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:f,s:f,s:i,s:i,s:i,s:i,s:b,s:f}", "profile", gpu ? "gpu" : "cpu",
                     "shape", r->shape, "when", r->when, "tunables", tune_json(&r->best), "defaults",
                     tune_json(&r->dflt), "rows", rows, "step_default_ms", r->step_default_ms, "step_best_ms",
                     r->step_best_ms, "tried", r->tried, "wrong", r->wrong, "slow", r->slow, "unfit", r->unfit,
                     "budget_hit", r->budget_hit, "seconds", r->seconds);
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static json_t *load_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    json_error_t err;
    return json_load_file(path, 0, &err);
}

int ct_tune_save(const ct_ctx *c, const ct_tune_report *r, char *path, size_t cap)
{
    CT_TRY(cache_path(c, path, cap));
    json_t *doc = load_file(path);
    if (!doc || !json_is_object(doc) || !json_is_array(json_object_get(doc, "entries"))) {
        json_decref(doc);
        char kh[20];
        snprintf(kh, sizeof kh, "%016llx", (unsigned long long)kernel_hash());
        doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[]}", "platform", c->dev.platform_name, "device", c->dev.name,
                        "driver", c->dev.driver_version, "cltrain_version", CLTRAIN_VERSION, "kernel_hash", kh,
                        "entries");
        if (!doc) return ct_fail(CT_ERR_NOMEM, "out of memory");
    }
    json_t *entries = json_object_get(doc, "entries");
    /* one entry per profile and shape: the new one replaces an older one */
    const char *prof = r->dflt.gpu_profile ? "gpu" : "cpu";
    for (size_t i = json_array_size(entries); i-- > 0;) {
        json_t *e = json_array_get(entries, i);
        const char *p = json_string_value(json_object_get(e, "profile")),
                   *s = json_string_value(json_object_get(e, "shape"));
        if (p && s && !strcmp(p, prof) && !strcmp(s, r->shape)) json_array_remove(entries, i);
    }
    json_array_append_new(entries, report_json(r, r->dflt.gpu_profile));
    char *text = json_dumps(doc, JSON_INDENT(1));
    json_decref(doc);
    if (!text) return ct_fail(CT_ERR_NOMEM, "out of memory");
    char dir[3500];
    ct_cache_dir(dir, sizeof dir);
    int rc = ct_mkdirs(dir);
    if (rc == CT_OK) rc = ct_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

int ct_tune_load(const ct_ctx *c, ct_tune_report *r, int *found, char *path, size_t cap)
{
    *found = 0;
    memset(r, 0, sizeof *r);
    CT_TRY(cache_path(c, path, cap));
    json_t *doc = load_file(path);
    if (!doc) return CT_OK;
    json_t *entries = json_object_get(doc, "entries");
    const char *prof = c->tune.gpu_profile ? "gpu" : "cpu";
    for (size_t i = json_array_size(entries); i-- > 0 && !*found;) {
        json_t *e = json_array_get(entries, i);
        const char *p = json_string_value(json_object_get(e, "profile"));
        if (!p || strcmp(p, prof) != 0) continue;
        r->best = r->dflt = c->tune;
        if (!tune_from_json(json_object_get(e, "tunables"), &r->best) ||
            !tune_from_json(json_object_get(e, "defaults"), &r->dflt))
            continue;
        snprintf(r->shape, sizeof r->shape, "%s", jstr(e, "shape"));
        snprintf(r->when, sizeof r->when, "%s", jstr(e, "when"));
        snprintf(r->device, sizeof r->device, "%s", c->dev.name);
        json_t *rows = json_object_get(e, "rows");
        for (size_t k = 0; k < json_array_size(rows) && r->n_rows < 48; k++) {
            json_t *w = json_array_get(rows, k);
            ct_tune_row *row = &r->rows[r->n_rows++];
            snprintf(row->op, sizeof row->op, "%s", jstr(w, "op"));
            snprintf(row->shape, sizeof row->shape, "%s", jstr(w, "shape"));
            row->default_ms = json_number_value(json_object_get(w, "default_ms"));
            row->best_ms = json_number_value(json_object_get(w, "best_ms"));
        }
        r->step_default_ms = json_number_value(json_object_get(e, "step_default_ms"));
        r->step_best_ms = json_number_value(json_object_get(e, "step_best_ms"));
        r->tried = (int)json_integer_value(json_object_get(e, "tried"));
        r->wrong = (int)json_integer_value(json_object_get(e, "wrong"));
        r->slow = (int)json_integer_value(json_object_get(e, "slow"));
        r->unfit = (int)json_integer_value(json_object_get(e, "unfit"));
        r->budget_hit = json_is_true(json_object_get(e, "budget_hit"));
        r->seconds = json_number_value(json_object_get(e, "seconds"));
        *found = 1;
    }
    json_decref(doc);
    return CT_OK;
}

int ct_tune_apply_cached(ct_ctx *c)
{
    const char *off = getenv("CLTRAIN_NO_TUNE");
    if (off && *off && strcmp(off, "0") != 0) {
        ct_debug("tuned kernel values ignored (CLTRAIN_NO_TUNE)\n");
        return CT_OK;
    }
    ct_tune_report *r = malloc(sizeof *r);
    if (!r) return ct_fail(CT_ERR_NOMEM, "out of memory");
    char path[4096];
    int found = 0;
    if (ct_tune_load(c, r, &found, path, sizeof path) != CT_OK) {
        ct_clear_error(); /* no cache folder: nothing to apply */
        found = 0;
    }
    if (found) {
        ct_tune t = r->best;
        t.gpu_profile = c->tune.gpu_profile;
        snprintf(t.origin, sizeof t.origin, "%s", c->tune.origin);
        snprintf(t.tuned, sizeof t.tuned, "cltrain tune %s for %s", r->when, r->shape);
        c->tune = t;
        ct_debug("using tuned kernel values from %s\n", path);
    }
    free(r);
    return CT_OK;
}

/* ---- output -------------------------------------------------------------------------------- */

static void winning_values(const ct_tune_report *r, const char *op, char *buf, size_t cap)
{
    const ct_tune *b = &r->best, *d = &r->dflt;
    buf[0] = 0;
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, __VA_ARGS__)
    const int conv = !strncmp(op, "conv", 4), fc = !strncmp(op, "fc", 2), bn = !strncmp(op, "bn", 2);
    const int gemm_used = conv || (fc && !b->fc_clblast);
    if (gemm_used && (b->gemm_tm != d->gemm_tm || b->gemm_vw != d->gemm_vw || b->gemm_nv != d->gemm_nv))
        ADD("tile %dx%d(x%d) ", b->gemm_tm, b->gemm_vw, b->gemm_nv);
    if (gemm_used && (b->gemm_local[0] != d->gemm_local[0] || b->gemm_local[1] != d->gemm_local[1]))
        ADD("local %zux%zu ", b->gemm_local[0], b->gemm_local[1]);
    if (gemm_used && (b->gemm_nt_tm != d->gemm_nt_tm || b->gemm_nt_tn != d->gemm_nt_tn ||
                      b->gemm_nt_vw != d->gemm_nt_vw || b->gemm_nt_kc != d->gemm_nt_kc))
        ADD("nt %dx%d vw%d kc%d ", b->gemm_nt_tm, b->gemm_nt_tn, b->gemm_nt_vw, b->gemm_nt_kc);
    if (conv && (b->conv_direct != d->conv_direct || b->conv_panels != d->conv_panels))
        ADD("direct=%d panels=%d ", b->conv_direct, b->conv_panels);
    if (fc && b->fc_clblast != d->fc_clblast) ADD("%s ", b->fc_clblast ? "CLBlast" : "our GEMM");
    if ((bn || conv) && b->red_ls != d->red_ls) ADD("red_ls=%d ", b->red_ls);
    if ((bn || !strncmp(op, "adam", 4)) && b->ew_vw != d->ew_vw) ADD("ew_vw=%d ", b->ew_vw);
#undef ADD
    if (!buf[0]) snprintf(buf, cap, "(defaults)");
}

void ct_tune_print(FILE *f, const ct_tune_report *r)
{
    fprintf(f, "%-12s %-32s %10s %10s %8s  %s\n", "kernel", "shape", "default ms", "best ms", "speed-up",
            "winning values");
    for (int i = 0; i < r->n_rows; i++) {
        const ct_tune_row *w = &r->rows[i];
        char vals[256];
        winning_values(r, w->op, vals, sizeof vals);
        fprintf(f, "%-12s %-32s %10.3f %10.3f %7.2fx  %s\n", w->op, w->shape, w->default_ms, w->best_ms,
                w->best_ms > 0 ? w->default_ms / w->best_ms : 1.0, vals);
    }
    fprintf(f, "whole step (sum of the rows): %.3f ms with the defaults, %.3f ms tuned (%.2fx)\n", r->step_default_ms,
            r->step_best_ms, r->step_best_ms > 0 ? r->step_default_ms / r->step_best_ms : 1.0);
    char d[512], b[512];
    ct_tune_format(&r->dflt, d, sizeof d);
    ct_tune_format(&r->best, b, sizeof b);
    fprintf(f, "defaults: %s\ntuned:    %s\n", d, b);
    fprintf(f, "%d candidates timed, %d rejected by the reference check, %d dropped as over 3x slower, %d beyond the "
               "device's limits%s; %.1f s\n",
            r->tried, r->wrong, r->slow, r->unfit, r->budget_hit ? "; stopped by the budget" : "", r->seconds);
}
