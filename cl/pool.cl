/* pool.cl: 2x2 max pooling and adaptive average pooling on channel-major planes.
 *  maxpool2_fwd/bwd: P planes (C*N) of H x W -> H/2 x W/2 (floor). Backward routes the gradient
 *      to the first maximum of each window in row-major order (NaN counts as a maximum), as
 *      PyTorch's CPU kernel; one work-item per output row writes both input rows it covers
 *      (windows do not overlap), so no atomics; rows/columns past 2*OH, 2*OW get zeros.
 *  avgpool_fwd/bwd: AdaptiveAvgPool2d with PyTorch's windows [floor(i*H/OH), ceil((i+1)*H/OH)),
 *      reading (C, N, H, W) and writing the flattened (N, C*OH*OW) rows the FC layers take.
 *      One work-item per AVG_PB (c, n) planes. */

inline int ct_window_argmax(__global const float *p, const int W)
{
    float best = p[0];
    int arg = 0;
    const float v1 = p[1], v2 = p[W], v3 = p[W + 1];
    if (v1 > best || isnan(v1)) { best = v1; arg = 1; }
    if (v2 > best || isnan(v2)) { best = v2; arg = 2; }
    if (v3 > best || isnan(v3)) { best = v3; arg = 3; }
    return arg;
}

/* Vectorised 2x2 windows: row0/row1 hold 2*V consecutive inputs of the two rows a window
 * covers; even/odd lanes are the window columns. First maximum in row-major order wins and a
 * NaN counts as a maximum (PyTorch's CPU rule), as ct_window_argmax. */
#define CT_POOL_VEC(V, V2)                                                                               \
    inline CT_CAT(float, V) ct_pool_max##V(const CT_CAT(float, V2) r0, const CT_CAT(float, V2) r1,       \
                                            CT_CAT(int, V) * arg)                                        \
    {                                                                                                    \
        CT_CAT(float, V) best = r0.even;                                                                 \
        CT_CAT(int, V) a = (CT_CAT(int, V))(0), t;                                                       \
        const CT_CAT(float, V) v1 = r0.odd, v2 = r1.even, v3 = r1.odd;                                   \
        t = isgreater(v1, best) | isnan(v1);                                                             \
        best = select(best, v1, t);                                                                      \
        a = select(a, (CT_CAT(int, V))(1), t);                                                           \
        t = isgreater(v2, best) | isnan(v2);                                                             \
        best = select(best, v2, t);                                                                      \
        a = select(a, (CT_CAT(int, V))(2), t);                                                           \
        t = isgreater(v3, best) | isnan(v3);                                                             \
        best = select(best, v3, t);                                                                      \
        *arg = select(a, (CT_CAT(int, V))(3), t);                                                        \
        return best;                                                                                     \
    }
CT_POOL_VEC(8, 16)
CT_POOL_VEC(4, 8)

/* one work-item per (plane, output row); 8 (or 4) windows per vector step, the last step
 * overlapping the previous one when OW is not a multiple (same values written twice) */
__kernel void maxpool2_fwd(__global const float *x, __global float *y, const int P, const int H, const int W)
{
    const int OH = H / 2, OW = W / 2;
    const int row = get_global_id(0); /* p*OH + oh */
    if (row >= P * OH) return;
    const int p = row / OH, oh = row - p * OH;
    __global const float *w = x + ((size_t)p * H + 2 * oh) * W;
    __global float *yr = y + (size_t)row * OW;
    if (OW >= 8) {
        for (int ow = 0;; ow += 8) {
            if (ow + 8 > OW) ow = OW - 8;
            int8 a;
            vstore8(ct_pool_max8(vload16(0, w + 2 * ow), vload16(0, w + W + 2 * ow), &a), 0, yr + ow);
            if (ow + 8 >= OW) break;
        }
    } else if (OW >= 4) {
        for (int ow = 0;; ow += 4) {
            if (ow + 4 > OW) ow = OW - 4;
            int4 a;
            vstore4(ct_pool_max4(vload8(0, w + 2 * ow), vload8(0, w + W + 2 * ow), &a), 0, yr + ow);
            if (ow + 4 >= OW) break;
        }
    } else {
        for (int ow = 0; ow < OW; ow++) {
            __global const float *q = w + 2 * ow;
            const int a = ct_window_argmax(q, W);
            yr[ow] = q[(a >> 1) * W + (a & 1)];
        }
    }
}

/* one work-item per (plane, pair of input rows 2*oh, 2*oh+1); oh == OH covers an odd last row */
__kernel void maxpool2_bwd(__global const float *x, __global const float *dy, __global float *dx, const int P,
                           const int H, const int W)
{
    const int OH = H / 2, OW = W / 2, RH = (H + 1) / 2;
    const int row = get_global_id(0); /* p*RH + oh */
    if (row >= P * RH) return;
    const int p = row / RH, oh = row - p * RH;
    __global float *d0 = dx + ((size_t)p * H + 2 * oh) * W;
    if (oh >= OH) { /* odd H: the last input row is in no window */
        for (int iw = 0; iw < W; iw++) d0[iw] = 0.0f;
        return;
    }
    __global float *d1 = d0 + W;
    __global const float *w = x + ((size_t)p * H + 2 * oh) * W;
    __global const float *g = dy + ((size_t)p * OH + oh) * OW;
    if (OW >= 8) {
        for (int ow = 0;; ow += 8) {
            if (ow + 8 > OW) ow = OW - 8;
            int8 a;
            ct_pool_max8(vload16(0, w + 2 * ow), vload16(0, w + W + 2 * ow), &a);
            const float8 v = vload8(0, g + ow), z = (float8)(0.0f);
            const uint16 il = (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
            vstore16(shuffle2(select(z, v, a == 0), select(z, v, a == 1), il), 0, d0 + 2 * ow);
            vstore16(shuffle2(select(z, v, a == 2), select(z, v, a == 3), il), 0, d1 + 2 * ow);
            if (ow + 8 >= OW) break;
        }
    } else if (OW >= 4) {
        for (int ow = 0;; ow += 4) {
            if (ow + 4 > OW) ow = OW - 4;
            int4 a;
            ct_pool_max4(vload8(0, w + 2 * ow), vload8(0, w + W + 2 * ow), &a);
            const float4 v = vload4(0, g + ow), z = (float4)(0.0f);
            const uint8 il = (uint8)(0, 4, 1, 5, 2, 6, 3, 7);
            vstore8(shuffle2(select(z, v, a == 0), select(z, v, a == 1), il), 0, d0 + 2 * ow);
            vstore8(shuffle2(select(z, v, a == 2), select(z, v, a == 3), il), 0, d1 + 2 * ow);
            if (ow + 4 >= OW) break;
        }
    } else {
        for (int ow = 0; ow < OW; ow++) {
            const int a = ct_window_argmax(w + 2 * ow, W);
            const float v = g[ow];
            d0[2 * ow] = a == 0 ? v : 0.0f;
            d0[2 * ow + 1] = a == 1 ? v : 0.0f;
            d1[2 * ow] = a == 2 ? v : 0.0f;
            d1[2 * ow + 1] = a == 3 ? v : 0.0f;
        }
    }
    if (W & 1) {
        d0[W - 1] = 0.0f;
        d1[W - 1] = 0.0f;
    }
}

/* AVG_PB planes (c, n) per work-item: the window bounds (integer divisions) are computed once per
 * window for all of them, each plane summed in the same order as one at a time (3x3 windows of
 * 7x7, 8192 planes: 0.8 ms with a plane per item, the divisions dominating) */
#define AVG_PB 16

/* o[q] = where plane cn0 + q (c*N + n) starts in the flattened (N, C*OHW) rows, for the planes of
 * one work-item; returns how many there are */
inline int ct_avg_rows(const int cn0, const int C, const int N, const int OHW, size_t *o)
{
    const int np = min(AVG_PB, C * N - cn0);
    for (int q = 0; q < np; q++) {
        const int cn = cn0 + q, c = cn / N, n = cn - c * N;
        o[q] = ((size_t)n * C + c) * OHW;
    }
    return np;
}

__kernel void avgpool_fwd(__global const float *x, __global float *y, const int C, const int N, const int H,
                          const int W, const int OH, const int OW)
{
    const int cn0 = get_global_id(0) * AVG_PB; /* c*N + n */
    if (cn0 >= C * N) return;
    size_t yo[AVG_PB];
    const int np = ct_avg_rows(cn0, C, N, OH * OW, yo);
    const size_t HW = (size_t)H * W;
    __global const float *x0 = x + (size_t)cn0 * HW;
    for (int oh = 0; oh < OH; oh++) {
        const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        for (int ow = 0; ow < OW; ow++) {
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            const float area = (float)((h1 - h0) * (w1 - w0));
            for (int q = 0; q < np; q++) {
                __global const float *plane = x0 + q * HW;
                float s = 0.0f;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) s += plane[h * W + w];
                y[yo[q] + oh * OW + ow] = s / area;
            }
        }
    }
}

/* AVG_PB planes per work-item: the planes are zeroed, then each window adds its share in a fixed
 * order (windows may overlap; the planes stay in cache; deterministic) */
__kernel void avgpool_bwd(__global const float *dy, __global float *dx, const int C, const int N, const int H,
                          const int W, const int OH, const int OW)
{
    const int cn0 = get_global_id(0) * AVG_PB; /* c*N + n */
    if (cn0 >= C * N) return;
    size_t go[AVG_PB];
    const int np = ct_avg_rows(cn0, C, N, OH * OW, go);
    const size_t HW = (size_t)H * W;
    __global float *d0 = dx + (size_t)cn0 * HW;
    for (size_t i = 0; i < np * HW; i++) d0[i] = 0.0f;
    for (int oh = 0; oh < OH; oh++) {
        const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        for (int ow = 0; ow < OW; ow++) {
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            const float area = (float)((h1 - h0) * (w1 - w0));
            for (int q = 0; q < np; q++) {
                __global float *plane = d0 + q * HW;
                const float v = dy[go[q] + oh * OW + ow] / area;
                for (int h = h0; h < h1; h++)
                    for (int w = w0; w < w1; w++) plane[h * W + w] += v;
            }
        }
    }
}

/* ---- general windows: kernel (KH, KW), stride (SH, SW), zero padding (PH, PW), floor mode ----
 * as PyTorch's CPU kernels. A window starts at (oh*SH - PH, ow*SW - PW); only its cells inside the
 * input are read.
 *  maxpool_fwd: max over the cells; the first maximum in row-major order wins, a NaN replaces
 *      the running maximum (so NaN propagates; of several NaNs the last wins); padding is never a
 *      candidate (-inf start, index the first in-bounds cell). One work-item per output.
 *  maxpool_bwd: one work-item per plane zeroes it, then adds each output's gradient at its
 *      window's argmax in output order (PyTorch's order; overlapping windows accumulate).
 *  avgpool2d_fwd/bwd: sum / divisor, divisor = the window clipped to the padded input
 *      (count_include_pad) or to the input; backward per plane like maxpool_bwd.
 *  adaptive_avgpool_fwd/bwd: AdaptiveAvgPool2d on planes (layout kept). */

inline int ct_pool_argmax(__global const float *plane, const int H, const int W, const int h0, const int w0,
                          const int KH, const int KW, float *best)
{
    const int hs = max(h0, 0), ws = max(w0, 0), he = min(h0 + KH, H), we = min(w0 + KW, W);
    int arg = hs * W + ws;
    float m = -INFINITY;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++) {
            const float v = plane[h * W + w];
            if (v > m || isnan(v)) {
                m = v;
                arg = h * W + w;
            }
        }
    *best = m;
    return arg;
}

__kernel void maxpool_fwd(__global const float *x, __global float *y, const int P, const int H, const int W,
                          const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
                          const int PH, const int PW)
{
    const size_t o = get_global_id(0); /* (p*OH + oh)*OW + ow */
    if (o >= (size_t)P * OH * OW) return;
    const int ow = (int)(o % OW), oh = (int)((o / OW) % OH);
    const size_t p = o / ((size_t)OH * OW);
    float m;
    ct_pool_argmax(x + p * H * W, H, W, oh * SH - PH, ow * SW - PW, KH, KW, &m);
    y[o] = m;
}

__kernel void maxpool_bwd(__global const float *x, __global const float *dy, __global float *dx, const int P,
                          const int H, const int W, const int OH, const int OW, const int KH, const int KW,
                          const int SH, const int SW, const int PH, const int PW)
{
    const int p = get_global_id(0);
    if (p >= P) return;
    __global const float *plane = x + (size_t)p * H * W;
    __global const float *g = dy + (size_t)p * OH * OW;
    __global float *d = dx + (size_t)p * H * W;
    for (int i = 0; i < H * W; i++) d[i] = 0.0f;
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
            float m;
            const int a = ct_pool_argmax(plane, H, W, oh * SH - PH, ow * SW - PW, KH, KW, &m);
            d[a] += g[oh * OW + ow];
        }
}

/* window [hs, he) x [ws, we) of output (oh, ow) clipped to the input, and its divisor */
inline float ct_avg_window(const int oh, const int ow, const int H, const int W, const int KH, const int KW,
                           const int SH, const int SW, const int PH, const int PW, const int include_pad, int *hs,
                           int *he, int *ws, int *we)
{
    const int h0 = oh * SH - PH, w0 = ow * SW - PW;
    const int h1 = min(h0 + KH, H + PH), w1 = min(w0 + KW, W + PW);
    const int padded = (h1 - h0) * (w1 - w0);
    *hs = max(h0, 0);
    *ws = max(w0, 0);
    *he = min(h1, H);
    *we = min(w1, W);
    return (float)(include_pad ? padded : (*he - *hs) * (*we - *ws));
}

__kernel void avgpool2d_fwd(__global const float *x, __global float *y, const int P, const int H, const int W,
                            const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
                            const int PH, const int PW, const int include_pad)
{
    const size_t o = get_global_id(0);
    if (o >= (size_t)P * OH * OW) return;
    const int ow = (int)(o % OW), oh = (int)((o / OW) % OH);
    __global const float *plane = x + o / ((size_t)OH * OW) * H * W;
    int hs, he, ws, we;
    const float div = ct_avg_window(oh, ow, H, W, KH, KW, SH, SW, PH, PW, include_pad, &hs, &he, &ws, &we);
    float s = 0.0f;
    for (int h = hs; h < he; h++)
        for (int w = ws; w < we; w++) s += plane[h * W + w];
    y[o] = s / div;
}

__kernel void avgpool2d_bwd(__global const float *dy, __global float *dx, const int P, const int H, const int W,
                            const int OH, const int OW, const int KH, const int KW, const int SH, const int SW,
                            const int PH, const int PW, const int include_pad)
{
    const int p = get_global_id(0);
    if (p >= P) return;
    __global const float *g = dy + (size_t)p * OH * OW;
    __global float *d = dx + (size_t)p * H * W;
    for (int i = 0; i < H * W; i++) d[i] = 0.0f;
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
            int hs, he, ws, we;
            const float div = ct_avg_window(oh, ow, H, W, KH, KW, SH, SW, PH, PW, include_pad, &hs, &he, &ws, &we);
            const float v = g[oh * OW + ow] / div;
            for (int h = hs; h < he; h++)
                for (int w = ws; w < we; w++) d[h * W + w] += v;
        }
}

/* AdaptiveAvgPool2d on P planes keeping the layout; one work-item per output */
__kernel void adaptive_avgpool_fwd(__global const float *x, __global float *y, const int P, const int H,
                                   const int W, const int OH, const int OW)
{
    const size_t o = get_global_id(0);
    if (o >= (size_t)P * OH * OW) return;
    const int ow = (int)(o % OW), oh = (int)((o / OW) % OH);
    __global const float *plane = x + o / ((size_t)OH * OW) * H * W;
    const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
    const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
    float s = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) s += plane[h * W + w];
    y[o] = s / (float)((h1 - h0) * (w1 - w0));
}

/* one work-item per plane (windows may overlap), as avgpool_bwd */
__kernel void adaptive_avgpool_bwd(__global const float *dy, __global float *dx, const int P, const int H,
                                   const int W, const int OH, const int OW)
{
    const int p = get_global_id(0);
    if (p >= P) return;
    __global const float *g = dy + (size_t)p * OH * OW;
    __global float *plane = dx + (size_t)p * H * W;
    for (int i = 0; i < H * W; i++) plane[i] = 0.0f;
    for (int oh = 0; oh < OH; oh++) {
        const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        for (int ow = 0; ow < OW; ow++) {
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            const float v = g[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));
            for (int h = h0; h < h1; h++)
                for (int w = w0; w < w1; w++) plane[h * W + w] += v;
        }
    }
}
