/* ref.c: plain-C reference layers and whole DigitCNN (see ref.h). Written for clarity and
 * exactness, not speed: every output element is one double-precision sum rounded once. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- conv2d ------------------------------------------------------------------------------- */

static int conv_out(int in, int k, int s, int p) { return s > 0 && in + 2 * p >= k ? (in + 2 * p - k) / s + 1 : 0; }

void ref_conv2d_fwd_s(const float *x, const float *w, const float *b, float *y, int N, int CI, int H, int W,
                      int CO, int KH, int KW, int sh, int sw, int ph, int pw)
{
    const int OH = conv_out(H, KH, sh, ph), OW = conv_out(W, KW, sw, pw);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < CO; co++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double acc = b ? (double)b[co] : 0.0;
                    for (int ci = 0; ci < CI; ci++) {
                        const float *xp = x + ((size_t)n * CI + ci) * H * W;
                        const float *wp = w + ((size_t)co * CI + ci) * KH * KW;
                        for (int ky = 0; ky < KH; ky++) {
                            const int iy = oy * sh + ky - ph;
                            if (iy < 0 || iy >= H) continue;
                            for (int kx = 0; kx < KW; kx++) {
                                const int ix = ox * sw + kx - pw;
                                if (ix < 0 || ix >= W) continue;
                                acc += (double)xp[(size_t)iy * W + ix] * (double)wp[ky * KW + kx];
                            }
                        }
                    }
                    y[(((size_t)n * CO + co) * OH + oy) * OW + ox] = (float)acc;
                }
}

void ref_conv2d_bwd_s(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int N,
                      int CI, int H, int W, int CO, int KH, int KW, int sh, int sw, int ph, int pw)
{
    const int OH = conv_out(H, KH, sh, ph), OW = conv_out(W, KW, sw, pw);
    if (db)
        for (int co = 0; co < CO; co++) {
            double acc = 0;
            for (int n = 0; n < N; n++) {
                const float *g = dy + ((size_t)n * CO + co) * OH * OW;
                for (size_t i = 0; i < (size_t)OH * OW; i++) acc += g[i];
            }
            db[co] = (float)acc;
        }
    if (dw)
        for (int co = 0; co < CO; co++)
            for (int ci = 0; ci < CI; ci++)
                for (int ky = 0; ky < KH; ky++)
                    for (int kx = 0; kx < KW; kx++) {
                        double acc = 0;
                        for (int n = 0; n < N; n++) {
                            const float *xp = x + ((size_t)n * CI + ci) * H * W;
                            const float *g = dy + ((size_t)n * CO + co) * OH * OW;
                            for (int oy = 0; oy < OH; oy++) {
                                const int iy = oy * sh + ky - ph;
                                if (iy < 0 || iy >= H) continue;
                                for (int ox = 0; ox < OW; ox++) {
                                    const int ix = ox * sw + kx - pw;
                                    if (ix < 0 || ix >= W) continue;
                                    acc += (double)g[(size_t)oy * OW + ox] * (double)xp[(size_t)iy * W + ix];
                                }
                            }
                        }
                        dw[(((size_t)co * CI + ci) * KH + ky) * KW + kx] = (float)acc;
                    }
    if (dx)
        for (int n = 0; n < N; n++)
            for (int ci = 0; ci < CI; ci++)
                for (int iy = 0; iy < H; iy++)
                    for (int ix = 0; ix < W; ix++) {
                        double acc = 0;
                        for (int co = 0; co < CO; co++) {
                            const float *g = dy + ((size_t)n * CO + co) * OH * OW;
                            const float *wp = w + ((size_t)co * CI + ci) * KH * KW;
                            for (int ky = 0; ky < KH; ky++) {
                                const int ty = iy - ky + ph;
                                if (ty < 0 || ty % sh != 0 || ty / sh >= OH) continue;
                                for (int kx = 0; kx < KW; kx++) {
                                    const int tx = ix - kx + pw;
                                    if (tx < 0 || tx % sw != 0 || tx / sw >= OW) continue;
                                    acc += (double)g[(size_t)(ty / sh) * OW + tx / sw] * (double)wp[ky * KW + kx];
                                }
                            }
                        }
                        dx[(((size_t)n * CI + ci) * H + iy) * W + ix] = (float)acc;
                    }
}

void ref_conv2d_fwd(const float *x, const float *w, const float *b, float *y, int N, int CI, int H, int W,
                    int CO, int KH, int KW, int pad)
{
    ref_conv2d_fwd_s(x, w, b, y, N, CI, H, W, CO, KH, KW, 1, 1, pad, pad);
}

void ref_conv2d_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int N,
                    int CI, int H, int W, int CO, int KH, int KW, int pad)
{
    ref_conv2d_bwd_s(x, w, dy, dx, dw, db, N, CI, H, W, CO, KH, KW, 1, 1, pad, pad);
}

/* ---- batch norm ------------------------------------------------------------------------------ */

void ref_bn_fwd_train(const float *x, const float *gamma, const float *beta, float *y, float *running_mean,
                      float *running_var, float *save_mean, float *save_invstd, int N, int C, int HW, float eps,
                      float momentum)
{
    const size_t M = (size_t)N * HW;
    for (int c = 0; c < C; c++) {
        double sum = 0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) sum += xp[i];
        }
        const double mean = M ? sum / (double)M : 0.0;
        double ss = 0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                const double d = (double)xp[i] - mean;
                ss += d * d;
            }
        }
        const double var = M ? ss / (double)M : 0.0;
        const double invstd = 1.0 / sqrt(var + (double)eps);
        const double g = gamma ? (double)gamma[c] : 1.0, bt = beta ? (double)beta[c] : 0.0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            float *yp = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) yp[i] = (float)(((double)xp[i] - mean) * invstd * g + bt);
        }
        const double mom = momentum;
        if (running_mean) running_mean[c] = (float)((1.0 - mom) * (double)running_mean[c] + mom * mean);
        if (running_var) {
            const double unbiased = M > 1 ? ss / (double)(M - 1) : var;
            running_var[c] = (float)((1.0 - mom) * (double)running_var[c] + mom * unbiased);
        }
        if (save_mean) save_mean[c] = (float)mean;
        if (save_invstd) save_invstd[c] = (float)invstd;
    }
}

void ref_bn_fwd_eval(const float *x, const float *gamma, const float *beta, const float *running_mean,
                     const float *running_var, float *y, int N, int C, int HW, float eps)
{
    for (int c = 0; c < C; c++) {
        const double mean = running_mean ? (double)running_mean[c] : 0.0;
        const double invstd = 1.0 / sqrt((running_var ? (double)running_var[c] : 1.0) + (double)eps);
        const double g = gamma ? (double)gamma[c] : 1.0, bt = beta ? (double)beta[c] : 0.0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            float *yp = y + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) yp[i] = (float)(((double)xp[i] - mean) * invstd * g + bt);
        }
    }
}

void ref_bn_bwd(const float *x, const float *dy, const float *gamma, const float *save_mean,
                const float *save_invstd, float *dx, float *dgamma, float *dbeta, int N, int C, int HW)
{
    const size_t M = (size_t)N * HW;
    for (int c = 0; c < C; c++) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            const float *gp = dy + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sdy += gp[i];
                sdyx += (double)gp[i] * (((double)xp[i] - mean) * invstd);
            }
        }
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdyx;
        if (dx) {
            const double g = gamma ? (double)gamma[c] : 1.0;
            const double mdy = M ? sdy / (double)M : 0.0, mdyx = M ? sdyx / (double)M : 0.0;
            for (int n = 0; n < N; n++) {
                const float *xp = x + ((size_t)n * C + c) * HW;
                const float *gp = dy + ((size_t)n * C + c) * HW;
                float *dp = dx + ((size_t)n * C + c) * HW;
                for (int i = 0; i < HW; i++) {
                    const double xh = ((double)xp[i] - mean) * invstd;
                    dp[i] = (float)(g * invstd * ((double)gp[i] - mdy - xh * mdyx));
                }
            }
        }
    }
}

/* gradient of the eval-mode BN (running statistics are constants) */
static void bn_bwd_eval(const float *x, const float *dy, const float *gamma, const float *rm, const float *rv,
                        float *dx, float *dgamma, float *dbeta, int N, int C, int HW, float eps)
{
    for (int c = 0; c < C; c++) {
        const double mean = rm ? (double)rm[c] : 0.0;
        const double invstd = 1.0 / sqrt((rv ? (double)rv[c] : 1.0) + (double)eps);
        const double g = gamma ? (double)gamma[c] : 1.0;
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + c) * HW;
            const float *gp = dy + ((size_t)n * C + c) * HW;
            float *dp = dx ? dx + ((size_t)n * C + c) * HW : NULL;
            for (int i = 0; i < HW; i++) {
                sdy += gp[i];
                sdyx += (double)gp[i] * (((double)xp[i] - mean) * invstd);
                if (dp) dp[i] = (float)((double)gp[i] * g * invstd);
            }
        }
        if (dbeta) dbeta[c] = (float)sdy;
        if (dgamma) dgamma[c] = (float)sdyx;
    }
}

/* ---- relu ------------------------------------------------------------------------------------ */

void ref_relu_fwd(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void ref_relu_bwd(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = y[i] <= 0.0f ? 0.0f : dy[i];
}

void ref_leaky_relu_fwd(const float *x, float *y, size_t n, float slope)
{
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void ref_leaky_relu_bwd(const float *x, const float *dy, float *dx, size_t n, float slope)
{
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * slope;
}

void ref_tanh_fwd(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)tanh((double)x[i]);
}

void ref_tanh_bwd(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = (float)((double)dy[i] * (1.0 - (double)y[i] * (double)y[i]));
}

void ref_sigmoid_fwd(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}

void ref_sigmoid_bwd(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++) dx[i] = (float)((double)dy[i] * (1.0 - (double)y[i]) * (double)y[i]);
}

/* ---- elementwise ------------------------------------------------------------------------------ */

void ref_add(const float *a, const float *b, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ref_accumulate(const float *x, float *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* ---- max pool 2x2 ------------------------------------------------------------------------------ */

/* index (within the plane) of PyTorch's chosen maximum of the window at (oy, ox) */
static size_t maxpool_index(const float *xp, int W, int oy, int ox)
{
    size_t best = (size_t)(2 * oy) * W + 2 * ox;
    float maxv = -INFINITY;
    for (int dy = 0; dy < 2; dy++)
        for (int dxx = 0; dxx < 2; dxx++) {
            const size_t idx = (size_t)(2 * oy + dy) * W + 2 * ox + dxx;
            const float v = xp[idx];
            if (v > maxv || isnan(v)) {
                maxv = v;
                best = idx;
            }
        }
    return best;
}

void ref_maxpool2_fwd(const float *x, float *y, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) yp[(size_t)oy * OW + ox] = xp[maxpool_index(xp, W, oy, ox)];
    }
}

void ref_maxpool2_bwd(const float *x, const float *dy, float *dx, int N, int C, int H, int W)
{
    const int OH = H / 2, OW = W / 2;
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        const float *xp = x + pl * H * W;
        const float *gp = dy + pl * OH * OW;
        float *dp = dx + pl * H * W;
        memset(dp, 0, sizeof(float) * (size_t)H * W);
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) dp[maxpool_index(xp, W, oy, ox)] = gp[(size_t)oy * OW + ox];
    }
}

/* ---- general max / avg pool ------------------------------------------------------------------------ */

static int pool_out(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* PyTorch's argmax of the window starting at (h0, w0), clipped to the input; *best = its value */
static size_t pool_argmax(const float *xp, int H, int W, int h0, int w0, int kh, int kw, float *best)
{
    const int hs = h0 > 0 ? h0 : 0, ws = w0 > 0 ? w0 : 0;
    const int he = h0 + kh < H ? h0 + kh : H, we = w0 + kw < W ? w0 + kw : W;
    size_t arg = (size_t)hs * W + ws;
    float m = -INFINITY;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++) {
            const float v = xp[(size_t)h * W + w];
            if (v > m || isnan(v)) {
                m = v;
                arg = (size_t)h * W + w;
            }
        }
    *best = m;
    return arg;
}

void ref_maxpool2d_fwd(const float *x, float *y, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw)
{
    const int OH = pool_out(H, kh, sh, ph), OW = pool_out(W, kw, sw, pw);
    for (size_t pl = 0; pl < (size_t)N * C; pl++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float m;
                pool_argmax(x + pl * H * W, H, W, oy * sh - ph, ox * sw - pw, kh, kw, &m);
                y[(pl * OH + oy) * OW + ox] = m;
            }
}

void ref_maxpool2d_bwd(const float *x, const float *dy, float *dx, int N, int C, int H, int W, int kh, int kw,
                       int sh, int sw, int ph, int pw)
{
    const int OH = pool_out(H, kh, sh, ph), OW = pool_out(W, kw, sw, pw);
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        float *dp = dx + pl * H * W;
        memset(dp, 0, sizeof(float) * (size_t)H * W);
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                float m;
                const size_t a = pool_argmax(x + pl * H * W, H, W, oy * sh - ph, ox * sw - pw, kh, kw, &m);
                dp[a] += dy[(pl * OH + oy) * OW + ox];
            }
    }
}

/* in-bounds window of output (oy, ox) and its divisor */
static double avg_window(int oy, int ox, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw, int incl,
                         int *hs, int *he, int *ws, int *we)
{
    const int h0 = oy * sh - ph, w0 = ox * sw - pw;
    const int h1 = h0 + kh < H + ph ? h0 + kh : H + ph, w1 = w0 + kw < W + pw ? w0 + kw : W + pw;
    const int padded = (h1 - h0) * (w1 - w0);
    *hs = h0 > 0 ? h0 : 0;
    *ws = w0 > 0 ? w0 : 0;
    *he = h1 < H ? h1 : H;
    *we = w1 < W ? w1 : W;
    return incl ? padded : (*he - *hs) * (*we - *ws);
}

void ref_avgpool2d_fwd(const float *x, float *y, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw, int count_include_pad)
{
    const int OH = pool_out(H, kh, sh, ph), OW = pool_out(W, kw, sw, pw);
    for (size_t pl = 0; pl < (size_t)N * C; pl++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int hs, he, ws, we;
                const double div = avg_window(oy, ox, H, W, kh, kw, sh, sw, ph, pw, count_include_pad, &hs, &he, &ws, &we);
                double acc = 0;
                for (int h = hs; h < he; h++)
                    for (int w = ws; w < we; w++) acc += x[(pl * H + h) * W + w];
                y[(pl * OH + oy) * OW + ox] = (float)(acc / div);
            }
}

void ref_avgpool2d_bwd(const float *dy, float *dx, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw, int count_include_pad)
{
    const int OH = pool_out(H, kh, sh, ph), OW = pool_out(W, kw, sw, pw);
    const size_t plane = (size_t)H * W;
    double *acc = calloc(plane ? plane : 1, sizeof(double));
    if (!acc) {
        for (size_t i = 0; i < (size_t)N * C * plane; i++) dx[i] = NAN;
        return;
    }
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        memset(acc, 0, sizeof(double) * plane);
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                int hs, he, ws, we;
                const double div = avg_window(oy, ox, H, W, kh, kw, sh, sw, ph, pw, count_include_pad, &hs, &he, &ws, &we);
                const double g = (double)dy[(pl * OH + oy) * OW + ox] / div;
                for (int h = hs; h < he; h++)
                    for (int w = ws; w < we; w++) acc[(size_t)h * W + w] += g;
            }
        for (size_t i = 0; i < plane; i++) dx[pl * plane + i] = (float)acc[i];
    }
    free(acc);
}

/* ---- adaptive average pool ------------------------------------------------------------------------ */

static int ap_start(int i, int in, int out) { return (int)(((long long)i * in) / out); }
static int ap_end(int i, int in, int out) { return (int)(((long long)(i + 1) * in + out - 1) / out); }

void ref_adaptive_avgpool_fwd(const float *x, float *y, int N, int C, int H, int W, int OH, int OW)
{
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        const float *xp = x + pl * H * W;
        float *yp = y + pl * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            const int y0 = ap_start(oy, H, OH), y1 = ap_end(oy, H, OH);
            for (int ox = 0; ox < OW; ox++) {
                const int x0 = ap_start(ox, W, OW), x1 = ap_end(ox, W, OW);
                double acc = 0;
                for (int iy = y0; iy < y1; iy++)
                    for (int ix = x0; ix < x1; ix++) acc += xp[(size_t)iy * W + ix];
                yp[(size_t)oy * OW + ox] = (float)(acc / (double)((y1 - y0) * (x1 - x0)));
            }
        }
    }
}

void ref_adaptive_avgpool_bwd(const float *dy, float *dx, int N, int C, int H, int W, int OH, int OW)
{
    for (size_t pl = 0; pl < (size_t)N * C; pl++) {
        const float *gp = dy + pl * OH * OW;
        float *dp = dx + pl * H * W;
        for (int iy = 0; iy < H; iy++)
            for (int ix = 0; ix < W; ix++) {
                double acc = 0;
                for (int oy = 0; oy < OH; oy++) {
                    const int y0 = ap_start(oy, H, OH), y1 = ap_end(oy, H, OH);
                    if (iy < y0 || iy >= y1) continue;
                    for (int ox = 0; ox < OW; ox++) {
                        const int x0 = ap_start(ox, W, OW), x1 = ap_end(ox, W, OW);
                        if (ix < x0 || ix >= x1) continue;
                        acc += (double)gp[(size_t)oy * OW + ox] / (double)((y1 - y0) * (x1 - x0));
                    }
                }
                dp[(size_t)iy * W + ix] = (float)acc;
            }
    }
}

/* ---- dropout ------------------------------------------------------------------------------------ */

void ref_dropout_apply(const float *x, const float *mask, float *y, size_t n_mask, size_t inner, float scale)
{
    for (size_t m = 0; m < n_mask; m++) {
        const float f = mask[m] != 0.0f ? mask[m] * scale : 0.0f;
        for (size_t j = 0; j < inner; j++) y[m * inner + j] = x[m * inner + j] * f;
    }
}

/* ---- linear --------------------------------------------------------------------------------------- */

void ref_linear_fwd(const float *x, const float *w, const float *b, float *y, int N, int IN, int OUT)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double acc = b ? (double)b[o] : 0.0;
            const float *xp = x + (size_t)n * IN, *wp = w + (size_t)o * IN;
            for (int i = 0; i < IN; i++) acc += (double)xp[i] * (double)wp[i];
            y[(size_t)n * OUT + o] = (float)acc;
        }
}

void ref_linear_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int N, int IN,
                    int OUT)
{
    if (dx)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < IN; i++) {
                double acc = 0;
                for (int o = 0; o < OUT; o++) acc += (double)dy[(size_t)n * OUT + o] * (double)w[(size_t)o * IN + i];
                dx[(size_t)n * IN + i] = (float)acc;
            }
    if (dw)
        for (int o = 0; o < OUT; o++)
            for (int i = 0; i < IN; i++) {
                double acc = 0;
                for (int n = 0; n < N; n++) acc += (double)dy[(size_t)n * OUT + o] * (double)x[(size_t)n * IN + i];
                dw[(size_t)o * IN + i] = (float)acc;
            }
    if (db)
        for (int o = 0; o < OUT; o++) {
            double acc = 0;
            for (int n = 0; n < N; n++) acc += dy[(size_t)n * OUT + o];
            db[o] = (float)acc;
        }
}

/* ---- loss / accuracy ------------------------------------------------------------------------------- */

float ref_softmax_xent(const float *logits, const int32_t *targets, float *dlogits, int N, int K)
{
    if (N <= 0 || K <= 0) return NAN;
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        double mx = -INFINITY;
        for (int k = 0; k < K; k++)
            if ((double)z[k] > mx || isnan(z[k])) mx = z[k];
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)z[k] - mx);
        const double lse = mx + log(s);
        const int t = targets[n];
        const int valid = t >= 0 && t < K;
        total += valid ? lse - (double)z[t] : NAN;
        if (dlogits)
            for (int k = 0; k < K; k++)
                dlogits[(size_t)n * K + k] = (float)((exp((double)z[k] - lse) - (k == t ? 1.0 : 0.0)) / (double)N);
    }
    return (float)(total / (double)N);
}

int ref_count_correct(const float *logits, const int32_t *targets, int N, int K)
{
    int correct = 0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        int best = 0;
        for (int k = 1; k < K && !isnan(z[best]); k++)
            if (z[k] > z[best] || isnan(z[k])) best = k;
        if (K > 0 && best == targets[n]) correct++;
    }
    return correct;
}

/* ---- optimisers ------------------------------------------------------------------------------------ */

void ref_adam_step(float *p, const float *grad, float *m, float *v, size_t n, float lr, float b1, float b2,
                   float eps, float wd, int step)
{
    const double bc1 = 1.0 - pow((double)b1, (double)step);
    const double bc2 = 1.0 - pow((double)b2, (double)step);
    const float step_size = (float)((double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float a1 = (float)(1.0 - (double)b1), a2 = (float)(1.0 - (double)b2);
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (wd != 0.0f) g = g + wd * p[i];
        m[i] = m[i] * b1;
        m[i] = m[i] + a1 * g;
        v[i] = v[i] * b2;
        v[i] = v[i] + a2 * g * g;
        const float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] = p[i] + (-step_size) * m[i] / denom;
    }
}

void ref_sgd_step(float *p, const float *grad, float *buf, size_t n, float lr, float mu, float wd)
{
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        if (wd != 0.0f) g = g + wd * p[i];
        if (mu != 0.0f) {
            buf[i] = buf[i] * mu + g;
            g = buf[i];
        }
        p[i] = p[i] + (-lr) * g;
    }
}

/* ---- whole DigitCNN ------------------------------------------------------------------------------------ */

enum {
    A_CONV1, A_BN1, A_RELU1, A_POOL1, A_CONV2, A_BN2, A_RELU2, A_POOL2, A_DROP1, A_CONV3, A_BN3, A_RELU3,
    A_AVGPOOL, A_FC1, A_RELU_FC1, A_DROP2, A_FC2, A_RELU_FC2, A_LOGITS, A_COUNT
};

static const char *const act_names[A_COUNT] = {
    "conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "drop1", "conv3",
    "bn3", "relu3", "avgpool", "fc1", "relu_fc1", "drop2", "fc2", "relu_fc2", "logits"};

#define REF_BN_EPS 1e-5f
#define REF_BN_MOMENTUM 0.1f
#define REF_IMG 28

struct ref_cnn_ws {
    ref_cnn_dims d;
    int nmax;           /* capacity */
    int n;              /* batch size of the last forward */
    int training;       /* mode of the last forward */
    int have_forward;
    size_t per[A_COUNT]; /* elements per sample */
    float *act[A_COUNT], *grad[A_COUNT];
    float *input;        /* (nmax, 1, 28, 28) copy of the last input */
    float *mask1, *mask2; /* (nmax, c2), (nmax, hidden) masks of the last training forward */
    float *save_mean[3], *save_invstd[3];
};

static int dims_ok(const ref_cnn_dims *d)
{
    return d && d->c1 > 0 && d->c2 > 0 && d->c3 > 0 && d->hidden >= 2 && d->p1 >= 0.0f && d->p1 <= 1.0f &&
           d->p2 >= 0.0f && d->p2 <= 1.0f && d->c1 <= (1 << 20) && d->c2 <= (1 << 20) && d->c3 <= (1 << 20) &&
           d->hidden <= (1 << 24);
}

void ref_cnn_ws_free(ref_cnn_ws *ws)
{
    if (!ws) return;
    for (int i = 0; i < A_COUNT; i++) {
        /* bn buffers alias the conv buffers when use_bn == 0 */
        const int alias = !ws->d.use_bn && (i == A_BN1 || i == A_BN2 || i == A_BN3);
        if (!alias) {
            free(ws->act[i]);
            free(ws->grad[i]);
        }
    }
    free(ws->input);
    free(ws->mask1);
    free(ws->mask2);
    for (int i = 0; i < 3; i++) {
        free(ws->save_mean[i]);
        free(ws->save_invstd[i]);
    }
    free(ws);
}

static float *alloc_floats(size_t n) { return malloc(sizeof(float) * (n ? n : 1)); }

ref_cnn_ws *ref_cnn_ws_create(const ref_cnn_dims *d, int N)
{
    if (!dims_ok(d) || N <= 0) return NULL;
    ref_cnn_ws *ws = calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->d = *d;
    ws->nmax = N;
    ws->n = N;
    const size_t s1 = (size_t)REF_IMG * REF_IMG, s2 = s1 / 4, s3 = s2 / 4;
    const size_t c1 = (size_t)d->c1, c2 = (size_t)d->c2, c3 = (size_t)d->c3, h = (size_t)d->hidden;
    const size_t per[A_COUNT] = {c1 * s1, c1 * s1, c1 * s1, c1 * s2, c2 * s2, c2 * s2, c2 * s2,
                                 c2 * s3, c2 * s3, c3 * s3, c3 * s3, c3 * s3, c3 * 9,  h,
                                 h,       h,       h / 2,   h / 2,   10};
    int ok = 1;
    for (int i = 0; i < A_COUNT; i++) {
        ws->per[i] = per[i];
        if (per[i] > ((size_t)-1 / sizeof(float)) / (size_t)N) {
            ok = 0;
            break;
        }
        const int alias = !d->use_bn && (i == A_BN1 || i == A_BN2 || i == A_BN3);
        if (alias) {
            ws->act[i] = ws->act[i - 1];
            ws->grad[i] = ws->grad[i - 1];
            continue;
        }
        ws->act[i] = alloc_floats(per[i] * N);
        ws->grad[i] = alloc_floats(per[i] * N);
        if (!ws->act[i] || !ws->grad[i]) {
            ok = 0;
            break;
        }
        memset(ws->act[i], 0, sizeof(float) * per[i] * N);
        memset(ws->grad[i], 0, sizeof(float) * per[i] * N);
    }
    if (ok) {
        ws->input = alloc_floats(s1 * N);
        ws->mask1 = alloc_floats(c2 * N);
        ws->mask2 = alloc_floats(h * N);
        const size_t cs[3] = {c1, c2, c3};
        for (int i = 0; i < 3; i++) {
            ws->save_mean[i] = alloc_floats(cs[i]);
            ws->save_invstd[i] = alloc_floats(cs[i]);
            if (!ws->save_mean[i] || !ws->save_invstd[i]) ok = 0;
        }
        if (!ws->input || !ws->mask1 || !ws->mask2) ok = 0;
    }
    if (!ok) {
        ref_cnn_ws_free(ws);
        return NULL;
    }
    return ws;
}

static float drop_scale(float p) { return p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p)); }

static void bn_forward(const ref_cnn_ws *ws, int k, float *gamma, float *beta, float *rm, float *rv,
                       const float *x, float *y, int N, int C, int HW)
{
    if (ws->training)
        ref_bn_fwd_train(x, gamma, beta, y, rm, rv, ws->save_mean[k], ws->save_invstd[k], N, C, HW, REF_BN_EPS,
                         REF_BN_MOMENTUM);
    else
        ref_bn_fwd_eval(x, gamma, beta, rm, rv, y, N, C, HW, REF_BN_EPS);
}

void ref_cnn_forward(const ref_cnn_dims *d, ref_cnn_params *p, ref_cnn_ws *ws, const float *x, int N,
                     int training, const float *mask1, const float *mask2, float *logits)
{
    (void)d; /* the workspace's copy of the dims is authoritative */
    if (!ws || N <= 0 || N > ws->nmax) {
        if (logits)
            for (int i = 0; i < (N > 0 ? N : 0) * 10; i++) logits[i] = NAN;
        return;
    }
    const ref_cnn_dims *D = &ws->d;
    const int c1 = D->c1, c2 = D->c2, c3 = D->c3, h = D->hidden, h2 = D->hidden / 2;
    float **A = ws->act;
    ws->n = N;
    ws->training = training ? 1 : 0;
    ws->have_forward = 1;
    memcpy(ws->input, x, sizeof(float) * (size_t)N * REF_IMG * REF_IMG);
    for (size_t i = 0; i < (size_t)N * c2; i++) ws->mask1[i] = (training && mask1) ? mask1[i] : 1.0f;
    for (size_t i = 0; i < (size_t)N * h; i++) ws->mask2[i] = (training && mask2) ? mask2[i] : 1.0f;

    /* block 1: 28x28 */
    ref_conv2d_fwd(x, p->conv1_w, p->conv1_b, A[A_CONV1], N, 1, 28, 28, c1, 5, 5, 2);
    if (D->use_bn) bn_forward(ws, 0, p->bn1_w, p->bn1_b, p->bn1_rm, p->bn1_rv, A[A_CONV1], A[A_BN1], N, c1, 784);
    ref_relu_fwd(A[A_BN1], A[A_RELU1], (size_t)N * c1 * 784);
    ref_maxpool2_fwd(A[A_RELU1], A[A_POOL1], N, c1, 28, 28);
    /* block 2: 14x14 */
    ref_conv2d_fwd(A[A_POOL1], p->conv2_w, p->conv2_b, A[A_CONV2], N, c1, 14, 14, c2, 5, 5, 2);
    if (D->use_bn) bn_forward(ws, 1, p->bn2_w, p->bn2_b, p->bn2_rm, p->bn2_rv, A[A_CONV2], A[A_BN2], N, c2, 196);
    ref_relu_fwd(A[A_BN2], A[A_RELU2], (size_t)N * c2 * 196);
    ref_maxpool2_fwd(A[A_RELU2], A[A_POOL2], N, c2, 14, 14);
    if (ws->training)
        ref_dropout_apply(A[A_POOL2], ws->mask1, A[A_DROP1], (size_t)N * c2, 49, drop_scale(D->p1));
    else
        memcpy(A[A_DROP1], A[A_POOL2], sizeof(float) * (size_t)N * c2 * 49);
    /* block 3: 7x7 -> 3x3 */
    ref_conv2d_fwd(A[A_DROP1], p->conv3_w, p->conv3_b, A[A_CONV3], N, c2, 7, 7, c3, 3, 3, 1);
    if (D->use_bn) bn_forward(ws, 2, p->bn3_w, p->bn3_b, p->bn3_rm, p->bn3_rv, A[A_CONV3], A[A_BN3], N, c3, 49);
    ref_relu_fwd(A[A_BN3], A[A_RELU3], (size_t)N * c3 * 49);
    ref_adaptive_avgpool_fwd(A[A_RELU3], A[A_AVGPOOL], N, c3, 7, 7, 3, 3);
    /* classifier */
    ref_linear_fwd(A[A_AVGPOOL], p->fc1_w, p->fc1_b, A[A_FC1], N, 9 * c3, h);
    ref_relu_fwd(A[A_FC1], A[A_RELU_FC1], (size_t)N * h);
    if (ws->training)
        ref_dropout_apply(A[A_RELU_FC1], ws->mask2, A[A_DROP2], (size_t)N * h, 1, drop_scale(D->p2));
    else
        memcpy(A[A_DROP2], A[A_RELU_FC1], sizeof(float) * (size_t)N * h);
    ref_linear_fwd(A[A_DROP2], p->fc2_w, p->fc2_b, A[A_FC2], N, h, h2);
    ref_relu_fwd(A[A_FC2], A[A_RELU_FC2], (size_t)N * h2);
    ref_linear_fwd(A[A_RELU_FC2], p->fc3_w, p->fc3_b, A[A_LOGITS], N, h2, 10);
    if (logits) memcpy(logits, A[A_LOGITS], sizeof(float) * (size_t)N * 10);
}

static void bn_backward(const ref_cnn_ws *ws, int k, const float *gamma, const float *rm, const float *rv,
                        const float *x, const float *dy, float *dx, float *dgamma, float *dbeta, int N, int C, int HW)
{
    if (ws->training)
        ref_bn_bwd(x, dy, gamma, ws->save_mean[k], ws->save_invstd[k], dx, dgamma, dbeta, N, C, HW);
    else
        bn_bwd_eval(x, dy, gamma, rm, rv, dx, dgamma, dbeta, N, C, HW, REF_BN_EPS);
}

float ref_cnn_backward(const ref_cnn_dims *d, const ref_cnn_params *p, ref_cnn_ws *ws, const int32_t *targets,
                       int N, ref_cnn_params *g)
{
    (void)d;
    if (!ws || !ws->have_forward || N != ws->n) return NAN;
    const ref_cnn_dims *D = &ws->d;
    const int c1 = D->c1, c2 = D->c2, c3 = D->c3, h = D->hidden, h2 = D->hidden / 2;
    float **A = ws->act, **G = ws->grad;

    const float loss = ref_softmax_xent(A[A_LOGITS], targets, G[A_LOGITS], N, 10);
    ref_linear_bwd(A[A_RELU_FC2], p->fc3_w, G[A_LOGITS], G[A_RELU_FC2], g->fc3_w, g->fc3_b, N, h2, 10);
    ref_relu_bwd(A[A_RELU_FC2], G[A_RELU_FC2], G[A_FC2], (size_t)N * h2);
    ref_linear_bwd(A[A_DROP2], p->fc2_w, G[A_FC2], G[A_DROP2], g->fc2_w, g->fc2_b, N, h, h2);
    if (ws->training)
        ref_dropout_apply(G[A_DROP2], ws->mask2, G[A_RELU_FC1], (size_t)N * h, 1, drop_scale(D->p2));
    else
        memcpy(G[A_RELU_FC1], G[A_DROP2], sizeof(float) * (size_t)N * h);
    ref_relu_bwd(A[A_RELU_FC1], G[A_RELU_FC1], G[A_FC1], (size_t)N * h);
    ref_linear_bwd(A[A_AVGPOOL], p->fc1_w, G[A_FC1], G[A_AVGPOOL], g->fc1_w, g->fc1_b, N, 9 * c3, h);
    ref_adaptive_avgpool_bwd(G[A_AVGPOOL], G[A_RELU3], N, c3, 7, 7, 3, 3);
    ref_relu_bwd(A[A_RELU3], G[A_RELU3], G[A_BN3], (size_t)N * c3 * 49);
    if (D->use_bn)
        bn_backward(ws, 2, p->bn3_w, p->bn3_rm, p->bn3_rv, A[A_CONV3], G[A_BN3], G[A_CONV3], g->bn3_w, g->bn3_b, N,
                    c3, 49);
    ref_conv2d_bwd(A[A_DROP1], p->conv3_w, G[A_CONV3], G[A_DROP1], g->conv3_w, g->conv3_b, N, c2, 7, 7, c3, 3, 3, 1);
    if (ws->training)
        ref_dropout_apply(G[A_DROP1], ws->mask1, G[A_POOL2], (size_t)N * c2, 49, drop_scale(D->p1));
    else
        memcpy(G[A_POOL2], G[A_DROP1], sizeof(float) * (size_t)N * c2 * 49);
    ref_maxpool2_bwd(A[A_RELU2], G[A_POOL2], G[A_RELU2], N, c2, 14, 14);
    ref_relu_bwd(A[A_RELU2], G[A_RELU2], G[A_BN2], (size_t)N * c2 * 196);
    if (D->use_bn)
        bn_backward(ws, 1, p->bn2_w, p->bn2_rm, p->bn2_rv, A[A_CONV2], G[A_BN2], G[A_CONV2], g->bn2_w, g->bn2_b, N,
                    c2, 196);
    ref_conv2d_bwd(A[A_POOL1], p->conv2_w, G[A_CONV2], G[A_POOL1], g->conv2_w, g->conv2_b, N, c1, 14, 14, c2, 5, 5,
                   2);
    ref_maxpool2_bwd(A[A_RELU1], G[A_POOL1], G[A_RELU1], N, c1, 28, 28);
    ref_relu_bwd(A[A_RELU1], G[A_RELU1], G[A_BN1], (size_t)N * c1 * 784);
    if (D->use_bn)
        bn_backward(ws, 0, p->bn1_w, p->bn1_rm, p->bn1_rv, A[A_CONV1], G[A_BN1], G[A_CONV1], g->bn1_w, g->bn1_b, N,
                    c1, 784);
    ref_conv2d_bwd(ws->input, p->conv1_w, G[A_CONV1], NULL, g->conv1_w, g->conv1_b, N, 1, 28, 28, c1, 5, 5, 2);
    return loss;
}

static int act_index(const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < A_COUNT; i++)
        if (strcmp(name, act_names[i]) == 0) return i;
    return -1;
}

const float *ref_cnn_activation(const ref_cnn_ws *ws, const char *name, size_t *count)
{
    const int i = ws ? act_index(name) : -1;
    if (i < 0) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = ws->per[i] * (size_t)ws->n;
    return ws->act[i];
}

const float *ref_cnn_activation_grad(const ref_cnn_ws *ws, const char *name, size_t *count)
{
    const int i = ws ? act_index(name) : -1;
    if (i < 0) {
        if (count) *count = 0;
        return NULL;
    }
    if (count) *count = ws->per[i] * (size_t)ws->n;
    return ws->grad[i];
}
