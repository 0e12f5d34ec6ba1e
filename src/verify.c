/* verify.c: each kernel against the plain-C reference on random data (odd sizes included to
 * reach the edge paths), then one whole DigitCNN training step against ref_cnn_*. */
#include "verify_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "philox.h"
#include "ref.h"

float vf_rnd(vctx *v, float lo, float hi)
{
    v->rng ^= v->rng << 13;
    v->rng ^= v->rng >> 7;
    v->rng ^= v->rng << 17;
    return lo + (hi - lo) * (float)((v->rng >> 40) * (1.0 / 16777216.0));
}

/* appends p to a growable pointer list; 0 when out of memory */
static int push(void **list, size_t *n, size_t *cap, size_t elem, const void *p)
{
    if (*n == *cap) {
        const size_t nc = *cap ? 2 * *cap : 64;
        void *g = realloc(*list, nc * elem);
        if (!g) return 0;
        *list = g;
        *cap = nc;
    }
    memcpy((char *)*list + *n * elem, p, elem);
    (*n)++;
    return 1;
}

float *vf_harr(vctx *v, size_t n, float lo, float hi)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) return NULL;
    if (!push((void **)&v->host, &v->nhost, &v->caphost, sizeof(void *), &p)) {
        free(p);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) p[i] = lo == hi ? lo : vf_rnd(v, lo, hi);
    return p;
}

int vf_all(void *const *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!p[i]) return ct_fail(CT_ERR_NOMEM, "verify: out of host memory for the reference data");
    return CT_OK;
}

int vf_dbuf(vctx *v, size_t floats, const float *init, cl_mem *out)
{
    CT_TRY(ct_buffer_create(v->c, (floats ? floats : 1) * 4, "verification data", out));
    if (!push((void **)&v->bufs, &v->nbufs, &v->capbufs, sizeof(cl_mem), out)) {
        clReleaseMemObject(*out);
        return ct_fail(CT_ERR_NOMEM, "verify: out of host memory");
    }
    if (init) return ct_buffer_write(v->c, *out, 0, floats * 4, init);
    /* scratch and outputs start as NaN: a kernel that reads what nobody wrote (and multiplies it
     * by a masked zero, say) shows as a mismatch every time, not only when the allocator hands
     * back memory that happens to hold a NaN */
    return ct_buffer_fill_float(v->c, *out, 0, floats ? floats : 1, NAN);
}

int vf_dbuf_cm(vctx *v, const float *x, int N, int C, int HW, cl_mem *out)
{
    float *t = vf_to_cm(v, x, N, C, HW);
    if (!t) return ct_fail(CT_ERR_NOMEM, "verify: out of host memory for the reference data");
    return vf_dbuf(v, (size_t)N * C * HW, t, out);
}

void vf_release(vctx *v)
{
    for (size_t i = 0; i < v->nbufs; i++) clReleaseMemObject(v->bufs[i]);
    for (size_t i = 0; i < v->nhost; i++) free(v->host[i]);
    v->nbufs = v->nhost = 0;
}

static void release_all(vctx *v)
{
    vf_release(v);
    free(v->bufs);
    free(v->host);
    v->bufs = NULL;
    v->host = NULL;
    v->capbufs = v->caphost = 0;
}

void vf_check(vctx *v, const char *name, const float *got, const float *want, size_t n, float atol, float rtol)
{
    double worst = 0, worst_rel = 0;
    size_t bad = 0;
    if (!got || !want) { /* a conversion ran out of host memory: the check cannot pass */
        v->res->fail++;
        if (v->out) fprintf(v->out, "FAIL  %-44s (out of host memory)\n", name);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float a = got[i], b = want[i];
        int ok;
        double d;
        if (isnan(a) || isnan(b)) {
            ok = isnan(a) && isnan(b);
            d = ok ? 0 : INFINITY;
        } else if (isinf(a) || isinf(b)) {
            ok = a == b;
            d = ok ? 0 : INFINITY;
        } else {
            d = fabs((double)a - (double)b);
            ok = d <= atol + rtol * fabs((double)b);
        }
        if (d > worst) worst = d;
        double rel = d / (fabs((double)b) + 1e-30);
        if (fabs((double)b) > atol && rel > worst_rel) worst_rel = rel;
        if (!ok) bad++;
    }
    if (bad) v->res->fail++;
    else v->res->pass++;
    if (v->out)
        fprintf(v->out, "%s  %-44s n=%-8zu max abs err %.2e  max rel err %.2e%s\n", bad ? "FAIL" : "PASS", name, n,
                worst, worst_rel, bad ? "  <-- mismatches" : "");
    if (bad && v->out) fprintf(v->out, "      %zu of %zu values outside atol %.0e + rtol %.0e\n", bad, n, atol, rtol);
}

int vf_readback(vctx *v, cl_mem b, size_t n, float **out)
{
    *out = vf_harr(v, n, 0, 0);
    if (!*out) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    return ct_buffer_read(v->c, b, 0, n * 4, *out);
}

float *vf_to_cm(vctx *v, const float *x, int N, int C, int HW)
{
    float *y = x ? vf_harr(v, (size_t)N * C * HW, 0, 0) : NULL;
    if (!y) return NULL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            memcpy(y + ((size_t)c * N + n) * HW, x + ((size_t)n * C + c) * HW, (size_t)HW * 4);
    return y;
}

float *vf_from_cm(vctx *v, const float *y, int N, int C, int HW)
{
    float *x = y ? vf_harr(v, (size_t)N * C * HW, 0, 0) : NULL;
    if (!x) return NULL;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            memcpy(x + ((size_t)n * C + c) * HW, y + ((size_t)c * N + n) * HW, (size_t)HW * 4);
    return x;
}

static int v_gemm(vctx *v, int M, int N, int K, int transA)
{
    float *A = vf_harr(v, (size_t)M * K, -1, 1), *B = vf_harr(v, (size_t)K * N, -1, 1), *bias = vf_harr(v, (size_t)M, -1, 1);
    float *want = vf_harr(v, (size_t)M * N, 0, 0);
    VF_HOST(A, B, bias, want);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = bias[m];
            for (int k = 0; k < K; k++) s += (double)(transA ? A[(size_t)k * M + m] : A[(size_t)m * K + k]) * B[(size_t)k * N + n];
            want[(size_t)m * N + n] = (float)s;
        }
    cl_mem dA, dB, dC, db;
    CT_TRY(vf_dbuf(v, (size_t)M * K, A, &dA));
    CT_TRY(vf_dbuf(v, (size_t)K * N, B, &dB));
    CT_TRY(vf_dbuf(v, (size_t)M * N, NULL, &dC));
    CT_TRY(vf_dbuf(v, (size_t)M, bias, &db));
    CT_TRY(ct_gemm_nn(v->c, M, N, K, dA, 0, transA ? 1 : K, transA ? M : 1, dB, 0, N, dC, 0, N, db, 0, 0));
    float *got;
    CT_TRY(vf_readback(v, dC, (size_t)M * N, &got));
    char name[64];
    snprintf(name, sizeof name, "gemm_nn%s %dx%dx%d", transA ? " (A^T)" : "", M, N, K);
    vf_check(v, name, got, want, (size_t)M * N, 1e-4f, 1e-4f);
    return CT_OK;
}

static int v_gemm_nt(vctx *v, int M, int N, int K)
{
    float *A = vf_harr(v, (size_t)M * K, -1, 1), *B = vf_harr(v, (size_t)N * K, -1, 1), *C0 = vf_harr(v, (size_t)M * N, -1, 1);
    float *want = vf_harr(v, (size_t)M * N, 0, 0);
    VF_HOST(A, B, C0, want);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double s = C0[(size_t)m * N + n];
            for (int k = 0; k < K; k++) s += (double)A[(size_t)m * K + k] * B[(size_t)n * K + k];
            want[(size_t)m * N + n] = (float)s;
        }
    cl_mem dA, dB, dC;
    CT_TRY(vf_dbuf(v, (size_t)M * K, A, &dA));
    CT_TRY(vf_dbuf(v, (size_t)N * K, B, &dB));
    CT_TRY(vf_dbuf(v, (size_t)M * N, C0, &dC));
    CT_TRY(ct_gemm_nt(v->c, M, N, K, dA, 0, K, dB, 0, K, dC, 0, N, 1));
    float *got;
    CT_TRY(vf_readback(v, dC, (size_t)M * N, &got));
    char name[64];
    snprintf(name, sizeof name, "gemm_nt (+C) %dx%dx%d", M, N, K);
    vf_check(v, name, got, want, (size_t)M * N, 2e-4f, 1e-4f);
    return CT_OK;
}

static int v_bn(vctx *v, int N, int C, int HW)
{
    size_t n = (size_t)N * C * HW;
    float *x = vf_harr(v, n, -2, 3), *g = vf_harr(v, (size_t)C, 0.5f, 1.5f), *bt = vf_harr(v, (size_t)C, -0.5f, 0.5f);
    float *rm = vf_harr(v, (size_t)C, -0.2f, 0.2f), *rv = vf_harr(v, (size_t)C, 0.5f, 1.5f), *dy = vf_harr(v, n, -1, 1);
    float *rm0 = vf_harr(v, (size_t)C, 0, 0), *rv0 = vf_harr(v, (size_t)C, 0, 0);
    VF_HOST(x, g, bt, rm, rv, dy, rm0, rv0);
    memcpy(rm0, rm, (size_t)C * 4);
    memcpy(rv0, rv, (size_t)C * 4);
    float *y = vf_harr(v, n, 0, 0), *sm = vf_harr(v, (size_t)C, 0, 0), *si = vf_harr(v, (size_t)C, 0, 0);
    float *dx = vf_harr(v, n, 0, 0), *dg = vf_harr(v, (size_t)C, 0, 0), *db = vf_harr(v, (size_t)C, 0, 0);
    float *ye = vf_harr(v, n, 0, 0);
    VF_HOST(y, sm, si, dx, dg, db, ye);
    ref_bn_fwd_eval(x, g, bt, rm0, rv0, ye, N, C, HW, 1e-5f);
    ref_bn_fwd_train(x, g, bt, y, rm, rv, sm, si, N, C, HW, 1e-5f, 0.1f);
    ref_bn_bwd(x, dy, g, sm, si, dx, dg, db, N, C, HW);
    /* pools: params = [gamma | beta], state = [rm | rv] at 16-float alignment */
    int a = (C + 15) / 16 * 16;
    float *params = vf_harr(v, (size_t)2 * a, 0, 0), *state = vf_harr(v, (size_t)2 * a, 0, 0);
    VF_HOST(params, state);
    memcpy(params, g, (size_t)C * 4);
    memcpy(params + a, bt, (size_t)C * 4);
    memcpy(state, rm0, (size_t)C * 4);
    memcpy(state + a, rv0, (size_t)C * 4);
    ct_bn l;
    ct_bn_init(&l, C, 0, a, 0, a, 1e-5f, 0.1f);
    vf_bn_bufs b;
    CT_TRY(vf_bn_buffers(v, x, dy, params, state, N, C, HW, a, &b));
    cl_mem dxm = b.x, dp = b.params, ds = b.state, dsm = b.mean, dsi = b.invstd, dym = b.y, ddy = b.dy, ddx = b.dx,
           dgr = b.grads;
    char name[64];
    float *got;
    const int M = N * HW;
    CT_TRY(ct_bn_forward(v->c, &l, M, 0, dxm, dp, ds, dsm, dsi, dym, 0));
    CT_TRY(vf_readback(v, dym, n, &got));
    snprintf(name, sizeof name, "batchnorm eval fwd (C=%d, M=%d)", C, M);
    vf_check(v, name, vf_from_cm(v, got, N, C, HW), ye, n, 1e-5f, 1e-5f);
    CT_TRY(ct_bn_forward(v->c, &l, M, 1, dxm, dp, ds, dsm, dsi, dym, 0));
    CT_TRY(vf_readback(v, dym, n, &got));
    snprintf(name, sizeof name, "batchnorm train fwd (C=%d, M=%d)", C, M);
    vf_check(v, name, vf_from_cm(v, got, N, C, HW), y, n, 1e-4f, 1e-4f);
    CT_TRY(vf_readback(v, ds, (size_t)2 * a, &got));
    vf_check(v, "batchnorm running mean", got, rm, (size_t)C, 1e-6f, 1e-5f);
    vf_check(v, "batchnorm running var (unbiased)", got + a, rv, (size_t)C, 1e-6f, 1e-5f);
    CT_TRY(ct_bn_backward(v->c, &l, M, dxm, ddy, NULL, dp, dsm, dsi, dgr, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    vf_check(v, "batchnorm bwd dx", vf_from_cm(v, got, N, C, HW), dx, n, 1e-4f, 1e-3f);
    CT_TRY(vf_readback(v, dgr, (size_t)2 * a, &got));
    vf_check(v, "batchnorm bwd dgamma", got, dg, (size_t)C, 2e-4f, 1e-4f);
    vf_check(v, "batchnorm bwd dbeta", got + a, db, (size_t)C, 2e-4f, 1e-4f);
    return CT_OK;
}

static int v_relu_pool(vctx *v, int N, int C, int H, int W)
{
    size_t n = (size_t)N * C * H * W, no = (size_t)N * C * (H / 2) * (W / 2);
    float *x = vf_harr(v, n, -1, 1), *dyo = vf_harr(v, no, -1, 1), *dy = vf_harr(v, n, -1, 1);
    float *y = vf_harr(v, n, 0, 0), *dx = vf_harr(v, n, 0, 0), *py = vf_harr(v, no, 0, 0), *pdx = vf_harr(v, n, 0, 0);
    VF_HOST(x, dyo, dy, y, dx, py, pdx);
    ref_relu_fwd(x, y, n);
    ref_relu_bwd(y, dy, dx, n);
    ref_maxpool2_fwd(x, py, N, C, H, W);
    ref_maxpool2_bwd(x, dyo, pdx, N, C, H, W);
    cl_mem dxm, dym, ddy, ddx, dpy, ddyo;
    CT_TRY(vf_dbuf(v, n, x, &dxm));
    CT_TRY(vf_dbuf(v, n, NULL, &dym));
    CT_TRY(vf_dbuf(v, n, dy, &ddy));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    CT_TRY(vf_dbuf(v, no, NULL, &dpy));
    CT_TRY(vf_dbuf(v, no, dyo, &ddyo));
    float *got;
    CT_TRY(ct_relu_forward(v->c, (int)n, dxm, dym));
    CT_TRY(vf_readback(v, dym, n, &got));
    vf_check(v, "relu fwd", got, y, n, 0, 0);
    CT_TRY(ct_relu_backward(v->c, (int)n, dym, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    vf_check(v, "relu bwd", got, dx, n, 0, 0);
    /* pooling works on planes: NCHW and CNHW are both a list of H x W planes */
    char name[64];
    CT_TRY(ct_maxpool2_forward(v->c, N * C, H, W, dxm, dpy));
    CT_TRY(vf_readback(v, dpy, no, &got));
    snprintf(name, sizeof name, "maxpool2 fwd (%dx%d)", H, W);
    vf_check(v, name, got, py, no, 0, 0);
    CT_TRY(ct_maxpool2_backward(v->c, N * C, H, W, dxm, ddyo, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "maxpool2 bwd (%dx%d)", H, W);
    vf_check(v, name, got, pdx, n, 0, 0);
    return CT_OK;
}

static int v_avgpool(vctx *v, int N, int C, int H, int OH)
{
    size_t n = (size_t)N * C * H * H, no = (size_t)N * C * OH * OH;
    float *x = vf_harr(v, n, -1, 1), *dy = vf_harr(v, no, -1, 1), *y = vf_harr(v, no, 0, 0), *dx = vf_harr(v, n, 0, 0);
    VF_HOST(x, dy, y, dx);
    ref_adaptive_avgpool_fwd(x, y, N, C, H, H, OH, OH);
    ref_adaptive_avgpool_bwd(dy, dx, N, C, H, H, OH, OH);
    cl_mem dxm, dym, ddy, ddx;
    CT_TRY(vf_dbuf_cm(v, x, N, C, H * H, &dxm));
    CT_TRY(vf_dbuf(v, no, NULL, &dym));
    CT_TRY(vf_dbuf(v, no, dy, &ddy));
    CT_TRY(vf_dbuf(v, n, NULL, &ddx));
    float *got;
    char name[64];
    CT_TRY(ct_avgpool_forward(v->c, C, N, H, H, OH, OH, dxm, dym));
    CT_TRY(vf_readback(v, dym, no, &got));
    snprintf(name, sizeof name, "adaptive avgpool fwd %d->%d", H, OH);
    vf_check(v, name, got, y, no, 1e-6f, 1e-5f);
    CT_TRY(ct_avgpool_backward(v->c, C, N, H, H, OH, OH, ddy, ddx));
    CT_TRY(vf_readback(v, ddx, n, &got));
    snprintf(name, sizeof name, "adaptive avgpool bwd %d->%d", H, OH);
    vf_check(v, name, vf_from_cm(v, got, N, C, H * H), dx, n, 1e-6f, 1e-5f);
    return CT_OK;
}

static int v_dropout(vctx *v)
{
    const int count = 10007;
    const float p = 0.3f, scale = 1.0f / 0.7f;
    const uint64_t seed = 0x123456789abcdefULL;
    cl_mem dm;
    CT_TRY(vf_dbuf(v, (size_t)count, NULL, &dm));
    CT_TRY(ct_dropout_mask(v->c, count, p, seed, 7, 3, dm));
    float *got, *want = vf_harr(v, (size_t)count, 0, 0);
    VF_HOST(want);
    CT_TRY(vf_readback(v, dm, (size_t)count, &got));
    int kept = 0;
    for (int i = 0; i < count; i++) {
        uint32_t ctr[4] = {(uint32_t)i, 7, 3, 0}, key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        ct_philox4x32_10(ctr, key);
        want[i] = ct_u01(ctr[0]) >= p ? scale : 0.0f;
        kept += got[i] != 0;
    }
    vf_check(v, "dropout mask (Philox, host mirror)", got, want, (size_t)count, 0, 0);
    /* keep rate within 5 sigma of 1-p */
    double rate = (double)kept / count, sigma = sqrt(p * (1 - p) / count);
    float fr = (float)rate, fw = 1.0f - p;
    vf_check(v, "dropout keep rate", &fr, &fw, 1, (float)(5 * sigma), 0);
    /* Dropout2d on (C, N, HW) with mask (N, C) */
    const int N = 3, C = 5, HW = 49;
    size_t n = (size_t)N * C * HW;
    float *x = vf_harr(v, n, -1, 1), *mask = vf_harr(v, (size_t)N * C, 0, 0), *y = vf_harr(v, n, 0, 0);
    for (int i = 0; i < N * C; i++) mask[i] = (i % 3) ? scale : 0.0f;
    float *keep = vf_harr(v, (size_t)N * C, 0, 0);
    VF_HOST(x, mask, y, keep);
    for (int i = 0; i < N * C; i++) keep[i] = mask[i] != 0;
    ref_dropout_apply(x, keep, y, (size_t)N * C, HW, scale);
    cl_mem dxm, dmask, dym;
    CT_TRY(vf_dbuf_cm(v, x, N, C, HW, &dxm));
    CT_TRY(vf_dbuf(v, (size_t)N * C, mask, &dmask));
    CT_TRY(vf_dbuf(v, n, NULL, &dym));
    CT_TRY(ct_dropout2d_apply(v->c, C, N, HW, dxm, dmask, dym));
    CT_TRY(vf_readback(v, dym, n, &got));
    vf_check(v, "dropout2d apply", vf_from_cm(v, got, N, C, HW), y, n, 1e-6f, 1e-6f);
    CT_TRY(ct_dropout_apply(v->c, N * C, dxm, dmask, dym));
    CT_TRY(vf_readback(v, dym, (size_t)N * C, &got));
    float *y2 = vf_harr(v, (size_t)N * C, 0, 0), *xcm = vf_to_cm(v, x, N, C, HW);
    VF_HOST(y2, xcm);
    ref_dropout_apply(xcm, keep, y2, (size_t)N * C, 1, scale);
    vf_check(v, "dropout apply", got, y2, (size_t)N * C, 1e-6f, 1e-6f);
    return CT_OK;
}

static int v_loss(vctx *v, int N)
{
    const int K = 10;
    float *z = vf_harr(v, (size_t)N * K, -4, 4), *dz = vf_harr(v, (size_t)N * K, 0, 0);
    VF_HOST(z, dz);
    int32_t *t = (int32_t *)vf_harr(v, (size_t)N, 0, 0); /* int32 and float have one size */
    VF_HOST(t);
    for (int i = 0; i < N; i++) t[i] = (int32_t)(vf_rnd(v, 0, 10)) % 10;
    float loss = ref_softmax_xent(z, t, dz, N, K);
    float correct = (float)ref_count_correct(z, t, N, K);
    cl_mem dzm, dt, ddz, dl, ds;
    CT_TRY(vf_dbuf(v, (size_t)N * K, z, &dzm));
    CT_TRY(vf_dbuf(v, (size_t)N, NULL, &dt));
    CT_TRY(ct_buffer_write(v->c, dt, 0, (size_t)N * 4, t));
    CT_TRY(vf_dbuf(v, (size_t)N * K, NULL, &ddz));
    CT_TRY(vf_dbuf(v, 1, NULL, &dl));
    float zero4[4] = {0, 0, 0, 0};
    CT_TRY(vf_dbuf(v, 4, zero4, &ds));
    CT_TRY(ct_xent(v->c, N, K, dzm, dt, ddz, dl, ds));
    CT_TRY(ct_xent(v->c, N, K, dzm, dt, NULL, dl, ds)); /* twice: sums accumulate */
    float *got;
    CT_TRY(vf_readback(v, dl, 1, &got));
    vf_check(v, "cross-entropy loss (mean)", got, &loss, 1, 1e-5f, 1e-5f);
    CT_TRY(vf_readback(v, ddz, (size_t)N * K, &got));
    vf_check(v, "cross-entropy dlogits", got, dz, (size_t)N * K, 1e-6f, 1e-4f);
    CT_TRY(vf_readback(v, ds, 3, &got));
    float want[3] = {2 * loss * N, 2 * correct, 2.0f * N};
    vf_check(v, "loss/accuracy running sums", got, want, 3, 1e-3f, 1e-5f);
    return CT_OK;
}

static int v_optim(vctx *v, int adam)
{
    const int n = 1000 + 13;
    float *p = vf_harr(v, (size_t)n, -1, 1), *g = vf_harr(v, (size_t)n, -1, 1), *m = vf_harr(v, (size_t)n, 0, 0),
          *s = vf_harr(v, (size_t)n, 0, 0);
    VF_HOST(p, g, m, s);
    cl_mem dp, dg, dm, ds;
    CT_TRY(vf_dbuf(v, (size_t)n, p, &dp));
    CT_TRY(vf_dbuf(v, (size_t)n, g, &dg));
    CT_TRY(vf_dbuf(v, (size_t)n, m, &dm));
    CT_TRY(vf_dbuf(v, (size_t)n, s, &ds));
    for (int step = 1; step <= 3; step++) {
        if (adam) {
            ref_adam_step(p, g, m, s, (size_t)n, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            CT_TRY(ct_adam_step(v->c, n, dp, dg, dm, ds, 0.01f, 0.9f, 0.999f, 1e-8f, 0.01f, step));
        } else {
            ref_sgd_step(p, g, m, (size_t)n, 0.05f, 0.9f, 0.01f);
            CT_TRY(ct_sgd_step(v->c, n, dp, dg, dm, 0.05f, 0.9f, 0.01f));
        }
    }
    float *got;
    CT_TRY(vf_readback(v, dp, (size_t)n, &got));
    vf_check(v, adam ? "adam (wd) 3 steps: params" : "sgd (momentum, wd) 3 steps: params", got, p, (size_t)n, 1e-6f,
          1e-5f);
    CT_TRY(vf_readback(v, dm, (size_t)n, &got));
    vf_check(v, adam ? "adam 3 steps: first moment" : "sgd 3 steps: momentum buffer", got, m, (size_t)n, 1e-6f, 1e-5f);
    return CT_OK;
}

/* Linear(IN, OUT) forward and backward; bias = 0: Linear(bias=False) with the fused ReLU epilogue
 * (the reference adds a zero bias, and no bias gradient may be written) */
static int v_fc(vctx *v, int N, int IN, int OUT, int bias)
{
    float *x = vf_harr(v, (size_t)N * IN, -1, 1), *w = vf_harr(v, (size_t)OUT * IN, -0.3f, 0.3f);
    float *b = bias ? vf_harr(v, (size_t)OUT, -1, 1) : vf_harr(v, (size_t)OUT, 0, 0);
    float *dy = vf_harr(v, (size_t)N * OUT, -1, 1), *y = vf_harr(v, (size_t)N * OUT, 0, 0);
    float *dx = vf_harr(v, (size_t)N * IN, 0, 0), *dw = vf_harr(v, (size_t)OUT * IN, 0, 0), *db = vf_harr(v, (size_t)OUT, 0, 0);
    VF_HOST(x, w, b, dy, y, dx, dw, db);
    ref_linear_fwd(x, w, b, y, N, IN, OUT);
    if (!bias) {
        for (size_t i = 0; i < (size_t)N * OUT; i++) y[i] = y[i] < 0 ? 0 : y[i];
    }
    ref_linear_bwd(x, w, dy, dx, dw, db, N, IN, OUT);
    if (!bias) memset(db, 0, (size_t)OUT * 4); /* untouched: the gradient buffer starts at zero */
    int b_off = (OUT * IN + 15) / 16 * 16;
    float *params = vf_harr(v, (size_t)b_off + OUT, 0, 0), *g0 = vf_harr(v, (size_t)b_off + OUT, 0, 0);
    VF_HOST(params, g0);
    memcpy(params, w, (size_t)OUT * IN * 4);
    memcpy(params + b_off, b, (size_t)OUT * 4);
    ct_fc l = {IN, OUT, 0, bias ? b_off : -1};
    cl_mem dxm, dp, dym, ddy, ddx, dg;
    CT_TRY(vf_dbuf(v, (size_t)N * IN, x, &dxm));
    CT_TRY(vf_dbuf(v, (size_t)b_off + OUT, params, &dp));
    CT_TRY(vf_dbuf(v, (size_t)N * OUT, NULL, &dym));
    CT_TRY(vf_dbuf(v, (size_t)N * OUT, dy, &ddy));
    CT_TRY(vf_dbuf(v, (size_t)N * IN, NULL, &ddx));
    CT_TRY(vf_dbuf(v, (size_t)b_off + OUT, g0, &dg));
    char name[64];
    float *got;
    CT_TRY(ct_fc_forward(v->c, &l, N, dxm, dp, dym, !bias));
    CT_TRY(vf_readback(v, dym, (size_t)N * OUT, &got));
    snprintf(name, sizeof name, "linear%s fwd (%s) %dx%d->%d", bias ? "" : " (no bias, +relu)",
             v->c->tune.fc_clblast ? "CLBlast" : "gemm", N, IN, OUT);
    vf_check(v, name, got, y, (size_t)N * OUT, 1e-4f, 1e-4f);
    CT_TRY(ct_fc_backward(v->c, &l, N, dxm, ddy, dp, dg, ddx));
    CT_TRY(vf_readback(v, ddx, (size_t)N * IN, &got));
    vf_check(v, "linear bwd dx", got, dx, (size_t)N * IN, 1e-4f, 1e-4f);
    CT_TRY(vf_readback(v, dg, (size_t)b_off + OUT, &got));
    vf_check(v, "linear bwd dweight", got, dw, (size_t)OUT * IN, 1e-4f, 1e-4f);
    vf_check(v, bias ? "linear bwd dbias" : "linear (no bias) bwd: no bias gradient", got + b_off, db, (size_t)OUT,
             1e-4f, 1e-4f);
    return CT_OK;
}

/* A whole training step of a small DigitCNN against ref_cnn_*: activations, loss, gradients;
 * every layer by itself, or as planned (planned: batchnorm + ReLU + max pooling in one kernel
 * where the profile fuses them, so relu1/relu2 are not kept and not compared) */
static int v_model(vctx *v, int use_bn, int planned)
{
    const int N = 5;
    const ref_cnn_dims rd = {6, 10, 12, 14, 0.25f, 0.5f, use_bn};
    ct_netdef net;
    CT_TRY(ct_netdef_digitcnn(rd.c1, rd.c2, rd.c3, rd.hidden, rd.p1, rd.p2, use_bn, &net));
    ct_model *m;
    int rc = ct_model_create(v->c, &net, N, &m);
    ct_netdef_free(&net);
    CT_TRY(rc);
    m->unfused_pool = !planned;
    rc = ct_model_init_params(m, 99);
    const ref_cnn_dims d = rd;
    ref_cnn_params rp, rg;
    float **pp = (float **)&rp, **gp = (float **)&rg;
    const char *names[] = {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                           "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
                           "conv3.weight", "conv3.bias", "bn3.weight", "bn3.bias", "bn3.running_mean", "bn3.running_var",
                           "fc1.weight",   "fc1.bias",   "fc2.weight", "fc2.bias", "fc3.weight",       "fc3.bias"};
    const int nn = (int)(sizeof names / sizeof names[0]);
    for (int i = 0; i < nn && rc == CT_OK; i++) {
        const ct_tensor *t = ct_model_tensor(m, names[i]);
        if (!t) {
            pp[i] = gp[i] = NULL;
            continue;
        }
        pp[i] = vf_harr(v, (size_t)t->count, 0, 0);
        gp[i] = vf_harr(v, (size_t)t->count, 0, 0);
        if (!pp[i] || !gp[i]) {
            rc = vf_all((void *const[]){pp[i], gp[i]}, 2);
            break;
        }
        if (strstr(names[i], "bn") == names[i] && strstr(names[i], "running")) {
            /* non-trivial running statistics */
            for (size_t j = 0; j < t->count; j++) pp[i][j] = strstr(names[i], "var") ? vf_rnd(v, 0.5f, 1.5f) : vf_rnd(v, -0.2f, 0.2f);
            rc = ct_model_set_tensor(m, names[i], pp[i]);
        } else {
            rc = ct_model_get_tensor(m, names[i], pp[i]);
        }
    }
    float *x = vf_harr(v, (size_t)N * 784, -0.5f, 2.5f), *k1 = vf_harr(v, (size_t)N * d.c2, 0, 0),
          *k2 = vf_harr(v, (size_t)N * d.hidden, 0, 0);
    for (int i = 0; k1 && i < N * d.c2; i++) k1[i] = vf_rnd(v, 0, 1) >= d.p1;
    for (int i = 0; k2 && i < N * d.hidden; i++) k2[i] = vf_rnd(v, 0, 1) >= d.p2;
    int32_t tg[5] = {3, 1, 4, 1, 5};
    ref_cnn_ws *ws = ref_cnn_ws_create(&rd, N);
    if (!ws) rc = ct_fail(CT_ERR_NOMEM, "out of memory");
    float *ref_logits = vf_harr(v, (size_t)N * 10, 0, 0);
    if (rc == CT_OK) rc = vf_all((void *const[]){x, k1, k2, ref_logits}, 4);
    if (rc == CT_OK) {
        ref_cnn_forward(&rd, &rp, ws, x, N, 1, k1, k2, ref_logits);
        float ref_loss = ref_cnn_backward(&rd, &rp, ws, tg, N, &rg);
        rc = ct_model_upload(m, N, x, tg);
        if (rc == CT_OK) rc = ct_model_set_masks(m, N, k1, k2);
        if (rc == CT_OK) rc = ct_model_forward(m, N, 1, 0, 0);
        if (rc == CT_OK) rc = ct_model_loss(m, N, 1);
        if (rc == CT_OK) rc = ct_model_backward(m, N);
        const char *acts[] = {"relu1", "pool1", "relu2", "pool2", "relu3", "avgpool", "relu_fc1", "relu_fc2", "logits"};
        char name[80];
        for (size_t i = 0; i < sizeof acts / sizeof acts[0] && rc == CT_OK; i++) {
            size_t cnt, rcnt;
            if (!ct_model_output_kept(m, acts[i])) continue;
            const float *want = ref_cnn_activation(ws, acts[i], &rcnt);
            float *got = vf_harr(v, rcnt, 0, 0);
            if (!got) rc = vf_all((void *const[]){got}, 1);
            if (rc == CT_OK) rc = ct_model_read_activation(m, acts[i], N, 0, got, &cnt);
            snprintf(name, sizeof name, "DigitCNN%s%s step: %s", use_bn ? "" : " (no BN)", planned ? " (planned)" : "",
                     acts[i]);
            if (rc == CT_OK && want) vf_check(v, name, got, want, rcnt, 1e-4f, 1e-3f);
        }
        if (rc == CT_OK) {
            float l;
            rc = ct_buffer_read(v->c, m->batch_loss, 0, 4, &l);
            snprintf(name, sizeof name, "DigitCNN%s%s step: loss", use_bn ? "" : " (no BN)", planned ? " (planned)" : "");
            if (rc == CT_OK) vf_check(v, name, &l, &ref_loss, 1, 1e-5f, 1e-4f);
        }
        for (int i = 0; i < nn && rc == CT_OK; i++) {
            if (!pp[i]) continue;
            const ct_tensor *t = ct_model_tensor(m, names[i]);
            float *got = vf_harr(v, (size_t)t->count, 0, 0);
            if (!got) {
                rc = vf_all((void *const[]){got}, 1);
                break;
            }
            snprintf(name, sizeof name, "DigitCNN%s%s step: %s %s", use_bn ? "" : " (no BN)",
                     planned ? " (planned)" : "", t->pool == CT_POOL_STATE ? "" : "grad", names[i]);
            if (t->pool == CT_POOL_STATE) {
                rc = ct_model_get_tensor(m, names[i], got);
                if (rc == CT_OK) vf_check(v, name, got, pp[i], (size_t)t->count, 1e-5f, 1e-4f);
            } else {
                rc = ct_model_get_grad(m, names[i], got);
                if (rc == CT_OK) vf_check(v, name, got, gp[i], (size_t)t->count, 1e-4f, 2e-3f);
            }
        }
    }
    ref_cnn_ws_free(ws);
    ct_model_free(m);
    return rc;
}

int vf_bn_buffers(vctx *v, const float *x, const float *dy, const float *params, const float *state, int N, int C,
                  int HW, int a, vf_bn_bufs *b)
{
    const size_t n = (size_t)N * C * HW, pool = (size_t)2 * a;
    CT_TRY(vf_dbuf_cm(v, x, N, C, HW, &b->x));
    CT_TRY(vf_dbuf(v, pool, params, &b->params));
    CT_TRY(vf_dbuf(v, pool, state, &b->state));
    CT_TRY(vf_dbuf(v, (size_t)C, NULL, &b->mean));
    CT_TRY(vf_dbuf(v, (size_t)C, NULL, &b->invstd));
    CT_TRY(vf_dbuf(v, n, NULL, &b->y));
    CT_TRY(vf_dbuf_cm(v, dy, N, C, HW, &b->dy));
    CT_TRY(vf_dbuf(v, n, NULL, &b->dx));
    return vf_dbuf(v, pool, NULL, &b->grads);
}

int ct_verify_run(ct_ctx *c, FILE *out, ct_verify_result *res) { return ct_verify_run_batch(c, out, res, 8); }

int ct_verify_run_batch(ct_ctx *c, FILE *out, ct_verify_result *res, int conv_batch)
{
    vctx v = {.c = c, .out = out, .res = res, .rng = 0x243F6A8885A308D3ULL, .conv_batch = conv_batch};
    res->pass = res->fail = 0;
    int rc = CT_OK;
#define RUN(call)                        \
    do {                                 \
        if (rc == CT_OK) rc = (call);    \
        vf_release(&v);                 \
    } while (0)
    RUN(v_gemm(&v, 37, 53, 29, 0));
    RUN(v_gemm(&v, 64, 784, 200, 0));
    RUN(v_gemm(&v, 29, 61, 33, 1));
    RUN(v_gemm_nt(&v, 13, 27, 301));
    RUN(v_gemm_nt(&v, 64, 96, 1024));
    RUN(v_bn(&v, 4, 5, 49));
    RUN(v_bn(&v, 3, 3, 37));
    RUN(v_relu_pool(&v, 2, 3, 14, 14));
    RUN(v_relu_pool(&v, 2, 3, 7, 9));
    RUN(v_avgpool(&v, 3, 5, 7, 3));
    RUN(v_avgpool(&v, 2, 4, 6, 3));
    RUN(v_avgpool(&v, 2, 3, 7, 1));
    RUN(v_avgpool(&v, 2, 3, 5, 2));
    RUN(v_avgpool(&v, 2, 3, 3, 2));
    RUN(v_avgpool(&v, 2, 3, 19, 4));
    RUN(v_dropout(&v));
    RUN(v_loss(&v, 37));
    RUN(v_optim(&v, 1));
    RUN(v_optim(&v, 0));
    /* both FC back ends, whichever is the device's default */
    int fc_default = c->tune.fc_clblast;
    for (int be = 0; be < 2; be++) {
        c->tune.fc_clblast = be;
        RUN(v_fc(&v, 7, 45, 19, 1));
        RUN(v_fc(&v, 7, 45, 19, 0));
    }
    c->tune.fc_clblast = fc_default;
    RUN(v_model(&v, 1, 0));
    RUN(v_model(&v, 1, 1));
    RUN(v_model(&v, 0, 0));
#undef RUN
    if (rc == CT_OK) rc = ct_verify_layers(&v);
    if (rc == CT_OK) rc = ct_verify_fused(&v);
    if (rc == CT_OK) rc = ct_verify_data(&v);
    release_all(&v);
    return rc;
}

/* DigitCNN's own layer shapes at batch N besides the convolutions (ct_verify_run checks conv1..3
 * at their sizes, batch 8): batch norm, pooling, loss, FC 1152->256->128->10 on both back ends,
 * for devices whose behaviour may change with size (work-group tails, local memory). */
int ct_verify_real_sizes(ct_ctx *c, FILE *out, ct_verify_result *res, int N)
{
    vctx v = {.c = c, .out = out, .res = res, .rng = 0x13198A2E03707344ULL};
    int rc = CT_OK;
#define RUN(call)                        \
    do {                                 \
        if (rc == CT_OK) rc = (call);    \
        vf_release(&v);                  \
    } while (0)
    RUN(v_bn(&v, N, 32, 784));
    RUN(v_bn(&v, N, 128, 49));
    RUN(v_relu_pool(&v, N, 32, 28, 28));
    RUN(v_relu_pool(&v, N, 64, 14, 14));
    RUN(v_avgpool(&v, N, 128, 7, 3));
    RUN(v_loss(&v, N));
    int fc_default = c->tune.fc_clblast;
    for (int be = 0; be < 2; be++) {
        c->tune.fc_clblast = be;
        RUN(v_fc(&v, N, 1152, 256, 1));
        RUN(v_fc(&v, N, 256, 128, 1));
        RUN(v_fc(&v, N, 128, 10, 1));
    }
    c->tune.fc_clblast = fc_default;
#undef RUN
    release_all(&v);
    return rc;
}
