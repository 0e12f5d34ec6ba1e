/* bnpool.cl: BatchNorm2d + ReLU + 2x2/stride-2 max pooling in one pass each way (training and
 * eval), for channel-major activations (C, N, H, W) with even H and W, W/2 >= 4. Built after
 * common.cl and pool.cl (ct_pool_max8/4: the first maximum in row-major order wins, a NaN counts
 * as a maximum, as maxpool2_fwd/bwd).
 *  bn_pool2_fwd_V:  yp = maxpool2(relu(x * scale + shift)); the full-size ReLU output is not
 *                   stored (the backward recomputes it from x with the same expression)
 *  bn_pool2_bwd_V:  from x and the pooled gradient dyp: the ReLU output recomputed, each window's
 *                   gradient routed to its maximum and masked where that output is <= 0, then
 *                   bn_bwd_1p's sums (dgamma, dbeta) and dx, without the full-size gradient
 * One work-group of RED_LS items per channel, an item per (image, output row); V = 8 or 4 windows
 * per vector step (the last step of a row moved back to end at the row's end: the forward and dx
 * write its overlap twice with the same values, the sums mask it out). */

/* relu(x * scale + shift) with PyTorch's ReLU (NaN stays NaN): one expression for both passes */
#define BN_RELU(T, v, scale, shift) select(fma((v), (T)(scale), (T)(shift)), (T)(0.0f), \
                                           isless(fma((v), (T)(scale), (T)(shift)), (T)(0.0f)))

/* gradient of one window position: d where that position is the window's maximum (a == k) and its
 * ReLU output is not <= 0 */
#define BN_POOL_G(T, IT, d, a, k, y) select((T)(0.0f), (d), ((a) == (IT)(k)) & ~islessequal((y), (T)(0.0f)))

#define BN_POOL2(V, V2)                                                                                       \
    __kernel void bn_pool2_fwd_##V(__global const float *x, __global float *yp, const int N, const int H,     \
                                   const int W, __global const float *mean_buf, const int mean_off,          \
                                   __global const float *stat_buf, const int stat_off, const int stats_are_var, \
                                   const float eps, __global const float *params, const int g_off,          \
                                   const int b_off)                                                          \
    {                                                                                                        \
        const int c = get_group_id(0), l = get_local_id(0), OH = H / 2, OW = W / 2;                          \
        const float st = stat_buf[stat_off + c];                                                             \
        const float invstd = stats_are_var ? 1.0f / sqrt(st + eps) : st;                                     \
        const float scale = invstd * params[g_off + c];                                                      \
        const float shift = params[b_off + c] - mean_buf[mean_off + c] * scale;                              \
        __global const float *xc = x + (size_t)c * N * H * W;                                                \
        __global float *yc = yp + (size_t)c * N * OH * OW;                                                   \
        for (int r = l; r < N * OH; r += RED_LS) {                                                           \
            const int n = r / OH, oh = r - n * OH;                                                           \
            __global const float *xr = xc + ((size_t)n * H + 2 * oh) * W;                                    \
            for (int ow = 0;; ow += V) {                                                                     \
                if (ow + V > OW) ow = OW - V;                                                                \
                const CT_CAT(float, V2) y0 = BN_RELU(CT_CAT(float, V2), CT_CAT(vload, V2)(0, xr + 2 * ow), scale, shift); \
                const CT_CAT(float, V2) y1 = BN_RELU(CT_CAT(float, V2), CT_CAT(vload, V2)(0, xr + W + 2 * ow), scale, shift); \
                CT_CAT(int, V) a;                                                                            \
                CT_CAT(vstore, V)(ct_pool_max##V(y0, y1, &a), 0, yc + (size_t)r * OW + ow);                  \
                if (ow + V >= OW) break;                                                                     \
            }                                                                                                \
        }                                                                                                    \
    }                                                                                                        \
                                                                                                             \
    /* the four window positions' gradients of V windows (g[0..3]: top-left, top-right, bottom-left,         \
     * bottom-right), their inputs in xs[0..3] */                                                            \
    inline void bn_pool_grads##V(__global const float *xr, const int W, __global const float *dr,            \
                                 const float scale, const float shift, CT_CAT(float, V) * g,                 \
                                 CT_CAT(float, V) * xs)                                                      \
    {                                                                                                        \
        const CT_CAT(float, V2) x0 = CT_CAT(vload, V2)(0, xr), x1 = CT_CAT(vload, V2)(0, xr + W);            \
        const CT_CAT(float, V2) y0 = BN_RELU(CT_CAT(float, V2), x0, scale, shift);                           \
        const CT_CAT(float, V2) y1 = BN_RELU(CT_CAT(float, V2), x1, scale, shift);                           \
        CT_CAT(int, V) a;                                                                                    \
        ct_pool_max##V(y0, y1, &a);                                                                          \
        const CT_CAT(float, V) d = CT_CAT(vload, V)(0, dr);                                                  \
        g[0] = BN_POOL_G(CT_CAT(float, V), CT_CAT(int, V), d, a, 0, y0.even);                                \
        g[1] = BN_POOL_G(CT_CAT(float, V), CT_CAT(int, V), d, a, 1, y0.odd);                                 \
        g[2] = BN_POOL_G(CT_CAT(float, V), CT_CAT(int, V), d, a, 2, y1.even);                                \
        g[3] = BN_POOL_G(CT_CAT(float, V), CT_CAT(int, V), d, a, 3, y1.odd);                                 \
        xs[0] = x0.even;                                                                                     \
        xs[1] = x0.odd;                                                                                      \
        xs[2] = x1.even;                                                                                     \
        xs[3] = x1.odd;                                                                                      \
    }                                                                                                        \
                                                                                                             \
    __kernel void bn_pool2_bwd_##V(__global const float *x, __global const float *dyp, const int N,          \
                                   const int H, const int W, __global const float *mean,                     \
                                   __global const float *invstd, __global const float *params,               \
                                   const int g_off, const int b_off, __global float *grads, const int dg_off, \
                                   const int db_off, __global float *dx)                                     \
    {                                                                                                        \
        __local float scratch[RED_LS];                                                                       \
        const int c = get_group_id(0), l = get_local_id(0), OH = H / 2, OW = W / 2;                          \
        const float mu = mean[c], is = invstd[c];                                                            \
        const float scale = is * params[g_off + c];                                                          \
        const float shift = params[b_off + c] - mu * scale;                                                  \
        __global const float *xc = x + (size_t)c * N * H * W;                                                \
        __global const float *dc = dyp + (size_t)c * N * OH * OW;                                            \
        __global float *dxc = dx + (size_t)c * N * H * W;                                                    \
        const CT_CAT(int, V) lane = CT_CAT(ct_lanes, V)();                                                   \
        CT_CAT(float, V) vdy = (CT_CAT(float, V))(0.0f), vdyx = (CT_CAT(float, V))(0.0f);                    \
        for (int r = l; r < N * OH; r += RED_LS) {                                                           \
            const int n = r / OH, oh = r - n * OH;                                                           \
            __global const float *xr = xc + ((size_t)n * H + 2 * oh) * W;                                    \
            for (int ow = 0, done = 0;; ow += V) {                                                           \
                if (ow + V > OW) ow = OW - V;                                                                \
                CT_CAT(float, V) g[4], xs[4];                                                                \
                bn_pool_grads##V(xr + 2 * ow, W, dc + (size_t)r * OW + ow, scale, shift, g, xs);             \
                const CT_CAT(int, V) keep = lane >= (CT_CAT(int, V))(done - ow); /* not summed before */     \
                _Pragma("unroll") for (int k = 0; k < 4; k++) {                                              \
                    const CT_CAT(float, V) gk = select((CT_CAT(float, V))(0.0f), g[k], keep);                \
                    vdy += gk;                                                                               \
                    vdyx = fma(gk, xs[k] - (CT_CAT(float, V))(mu), vdyx);                                    \
                }                                                                                            \
                done = ow + V;                                                                               \
                if (done >= OW) break;                                                                       \
            }                                                                                                \
        }                                                                                                    \
        const float db = ct_group_sum(CT_CAT(ct_hsum, V)(vdy), scratch);                                     \
        const float dg = ct_group_sum(CT_CAT(ct_hsum, V)(vdyx), scratch) * is;                               \
        if (l == 0) {                                                                                        \
            grads[db_off + c] = db;                                                                          \
            grads[dg_off + c] = dg;                                                                          \
        }                                                                                                    \
        const float fm = (float)(N * H * W), k = params[g_off + c] * is / fm;                                \
        for (int r = l; r < N * OH; r += RED_LS) {                                                           \
            const int n = r / OH, oh = r - n * OH;                                                           \
            __global const float *xr = xc + ((size_t)n * H + 2 * oh) * W;                                    \
            __global float *d0 = dxc + ((size_t)n * H + 2 * oh) * W;                                         \
            for (int ow = 0;; ow += V) {                                                                     \
                if (ow + V > OW) ow = OW - V;                                                                \
                CT_CAT(float, V) g[4], xs[4], o[4];                                                          \
                bn_pool_grads##V(xr + 2 * ow, W, dc + (size_t)r * OW + ow, scale, shift, g, xs);             \
                _Pragma("unroll") for (int q = 0; q < 4; q++) {                                              \
                    const CT_CAT(float, V) xhat = (xs[q] - (CT_CAT(float, V))(mu)) * (CT_CAT(float, V))(is); \
                    o[q] = (CT_CAT(float, V))(k) *                                                           \
                           ((CT_CAT(float, V))(fm) * g[q] - (CT_CAT(float, V))(db) - xhat * (CT_CAT(float, V))(dg)); \
                }                                                                                            \
                CT_CAT(vstore, V2)(ct_interleave##V(o[0], o[1]), 0, d0 + 2 * ow);                            \
                CT_CAT(vstore, V2)(ct_interleave##V(o[2], o[3]), 0, d0 + W + 2 * ow);                        \
                if (ow + V >= OW) break;                                                                     \
            }                                                                                                \
        }                                                                                                    \
    }

inline int8 ct_lanes8(void) { return (int8)(0, 1, 2, 3, 4, 5, 6, 7); }
inline int4 ct_lanes4(void) { return (int4)(0, 1, 2, 3); }
/* (a0, b0, a1, b1, ...): even and odd columns back into one row */
inline float16 ct_interleave8(const float8 a, const float8 b)
{
    return shuffle2(a, b, (uint16)(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15));
}
inline float8 ct_interleave4(const float4 a, const float4 b) { return shuffle2(a, b, (uint8)(0, 4, 1, 5, 2, 6, 3, 7)); }

BN_POOL2(8, 16)
BN_POOL2(4, 8)
