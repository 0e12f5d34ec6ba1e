/* preprocess.c: MNIST-style digit normalisation (see preprocess.h for the rules). */
#include "preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

void ct_normalize(float *x, size_t n, float mean, float std)
{
    float inv = 1.0f / std;
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - mean) * inv;
}

/* Value at fraction q of a 256-bin histogram with `total` samples. */
static int hist_quantile(const size_t hist[256], size_t total, double q)
{
    size_t want = (size_t)(q * (double)(total - 1)), seen = 0;
    for (int v = 0; v < 256; v++) {
        seen += hist[v];
        if (seen > want) return v;
    }
    return 255;
}

/* 1-D resampling weights from n_src to n_dst samples: area (box) when shrinking, bilinear when
 * enlarging, identity when equal. For output o: taps[o*k .. o*k+k-1] source indices and weights. */
typedef struct {
    int k;        /* taps per output */
    int *idx;
    float *w;
} taps1d;

static int make_taps(int n_src, int n_dst, taps1d *t)
{
    double s = (double)n_dst / n_src; /* output pixels per source pixel */
    t->k = s >= 1 ? 2 : (int)ceil(1.0 / s) + 1;
    t->idx = calloc((size_t)n_dst * t->k, sizeof *t->idx);
    t->w = calloc((size_t)n_dst * t->k, sizeof *t->w);
    if (!t->idx || !t->w) return ct_fail(CT_ERR_NOMEM, "out of host memory (resampling)");
    for (int o = 0; o < n_dst; o++) {
        int *ix = t->idx + (size_t)o * t->k;
        float *w = t->w + (size_t)o * t->k;
        if (n_src == n_dst) {
            ix[0] = o;
            w[0] = 1;
        } else if (s > 1) {
            double c = (o + 0.5) / s - 0.5;
            if (c < 0) c = 0;
            if (c > n_src - 1) c = n_src - 1;
            int i0 = (int)floor(c);
            int i1 = i0 + 1 < n_src ? i0 + 1 : i0;
            double f = c - i0;
            ix[0] = i0;
            w[0] = (float)(1 - f);
            ix[1] = i1;
            w[1] = (float)f;
        } else {
            double a = o / s, b = (o + 1) / s; /* source interval covered by this output pixel */
            int j = 0;
            for (int i = (int)floor(a); i < b && i < n_src && j < t->k; i++) {
                double lo = i > a ? i : a, hi = i + 1 < b ? i + 1 : b;
                if (hi <= lo) continue;
                ix[j] = i;
                w[j] = (float)((hi - lo) * s);
                j++;
            }
        }
    }
    return CT_OK;
}

static void free_taps(taps1d *t)
{
    free(t->idx);
    free(t->w);
}

int ct_preprocess_digit(const uint8_t *gray, int w, int h, float out[784], ct_prep_info *info)
{
    ct_prep_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    memset(out, 0, 784 * sizeof(float));
    if (w < 1 || h < 1) return ct_fail(CT_ERR_INPUT, "blank image: it has no pixels");
    size_t n = (size_t)w * h;

    /* 1. polarity from the border (a frame of ~4% of the shorter side, at least 1 pixel) */
    int bw = (w < h ? w : h) / 25;
    if (bw < 1) bw = 1;
    size_t border_hist[256] = {0}, nb = 0;
    double sum_all = 0, sum_border = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = gray[(size_t)y * w + x];
            sum_all += v;
            if (x < bw || y < bw || x >= w - bw || y >= h - bw) {
                border_hist[v]++;
                sum_border += v;
                nb++;
            }
        }
    double mean_all = sum_all / (double)n, mean_border = sum_border / (double)nb;
    int invert = mean_border > mean_all + 1e-9 || (fabs(mean_border - mean_all) <= 1e-9 && mean_border > 127.5);
    info->inverted = invert;

    /* 2. paper level (border median, in ink-high terms), strongest ink, noise floor */
    int med = hist_quantile(border_hist, nb, 0.5);
    float bg = (float)(invert ? 255 - med : med);
    int maxv = 0;
    for (size_t i = 0; i < n; i++) {
        int v = invert ? 255 - gray[i] : gray[i];
        if (v > maxv) maxv = v;
    }
    info->background = bg;
    float range = (float)maxv - bg;
    if (range < CT_PREP_MIN_CONTRAST) {
        info->blank = 1;
        return ct_fail(CT_ERR_INPUT,
                       "blank image: no ink found (%s, %d gray levels between the paper and the strongest ink, at "
                       "least %d needed)",
                       range <= 0 ? "uniform" : "too little contrast", range > 0 ? (int)range : 0, CT_PREP_MIN_CONTRAST);
    }
    /* the border's spread above the paper level tells the noise; a clean border gives 0 */
    int q99 = hist_quantile(border_hist, nb, 0.99), q01 = hist_quantile(border_hist, nb, 0.01);
    float noise = (float)(invert ? med - q01 : q99 - med) / range;
    float floor_v = noise > 0 ? 1.5f * noise + 0.03f : 0.0f;
    if (floor_v > 0.5f) floor_v = 0.5f;
    info->noise_floor = floor_v;

    float *ink = malloc(n * sizeof *ink);
    if (!ink) return ct_fail(CT_ERR_NOMEM, "out of host memory (%d x %d image)", w, h);
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            float v = ((float)(invert ? 255 - gray[i] : gray[i]) - bg) / range;
            if (v <= floor_v) v = 0;
            if (v > 1) v = 1;
            ink[i] = v;
            if (v > 0) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
        }
    if (x1 < 0) {
        free(ink);
        info->blank = 1;
        return ct_fail(CT_ERR_INPUT, "blank image: no ink above the paper's noise level");
    }
    /* 3. crop */
    int cw = x1 - x0 + 1, ch = y1 - y0 + 1;
    info->x0 = x0;
    info->y0 = y0;
    info->x1 = x1 + 1;
    info->y1 = y1 + 1;

    /* 4. scale the longer side to 20 */
    int longer = cw > ch ? cw : ch;
    int nw = cw == longer ? 20 : (int)lround(cw * 20.0 / longer);
    int nh = ch == longer ? 20 : (int)lround(ch * 20.0 / longer);
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    info->width = nw;
    info->height = nh;
    taps1d tx = {0}, ty = {0};
    float *tmp = malloc((size_t)ch * nw * sizeof *tmp);
    float box[400];
    int rc = tmp ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory (resampling)");
    if (rc == CT_OK) rc = make_taps(cw, nw, &tx);
    if (rc == CT_OK) rc = make_taps(ch, nh, &ty);
    if (rc == CT_OK) {
        for (int y = 0; y < ch; y++) {
            const float *row = ink + (size_t)(y0 + y) * w + x0;
            for (int o = 0; o < nw; o++) {
                float s = 0;
                for (int k = 0; k < tx.k; k++) s += tx.w[o * tx.k + k] * row[tx.idx[o * tx.k + k]];
                tmp[(size_t)y * nw + o] = s;
            }
        }
        for (int o = 0; o < nh; o++)
            for (int x = 0; x < nw; x++) {
                float s = 0;
                for (int k = 0; k < ty.k; k++) s += ty.w[o * ty.k + k] * tmp[(size_t)ty.idx[o * ty.k + k] * nw + x];
                box[o * nw + x] = s > 1 ? 1 : s < 0 ? 0 : s;
            }
    }
    free_taps(&tx);
    free_taps(&ty);
    free(tmp);
    free(ink);
    if (rc != CT_OK) return rc;

    /* 5. centre of mass of the box -> (14, 14), whole-pixel shift, clamped inside 28x28 */
    double m = 0, mx = 0, my = 0;
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++) {
            double v = box[y * nw + x];
            m += v;
            mx += v * x;
            my += v * y;
        }
    if (m <= 0) {
        info->blank = 1;
        return ct_fail(CT_ERR_INPUT, "blank image: no ink left after scaling");
    }
    int ox = (int)lround(14.0 - mx / m), oy = (int)lround(14.0 - my / m);
    if (ox < 0) ox = 0;
    if (oy < 0) oy = 0;
    if (ox > 28 - nw) ox = 28 - nw;
    if (oy > 28 - nh) oy = 28 - nh;
    for (int y = 0; y < nh; y++)
        for (int x = 0; x < nw; x++) out[(oy + y) * 28 + ox + x] = box[y * nw + x];
    info->shift_x = ox;
    info->shift_y = oy;
    info->com_x = (float)(ox + mx / m);
    info->com_y = (float)(oy + my / m);
    return CT_OK;
}
