/* convfused.cl: inference-only convolutions (CPUs) with the layers after them in the epilogue:
 * conv2d (+ batchnorm2d folded into its weights and bias) (+ ReLU) (+ 2x2/stride-2 max pooling),
 * for square 3x3 and 5x5 kernels at stride 1, on channel-major (C, N, H, W) activations.
 *  conv_fold: ws = the weights in the (CI, K, K, COP) layout of cl/conv.cl's conv_wt (COP = CO
 *             rounded up to 16, zeros past CO), each output channel scaled by the batchnorm's
 *             s = gamma / sqrt(running_var + eps), then COP folded biases
 *             b' = (b - running_mean) * s + beta (hasBn 0: s = 1, b' = b or 0). One item per
 *             (ci, kh, kw) row of ws, and one more for the biases. Run before every inference
 *             forward, so it always uses the current parameters and running statistics.
 *  conv_fused_kK_TCxCB: y (CO, N, OH, OW) = relu?(conv(xp, ws) + b'), xp padded as conv_pad.
 *             One item per (16*CB output channels, image, output row); it walks the row in
 *             tiles of TC columns (the last one moved back to fit, storing only what the one
 *             before did not) with CB*TC float16 accumulators (lanes = channels).
 *  conv_fused_pool_kK_TCxCB: the same followed by 2x2/stride-2 max pooling (floor):
 *             y (CO, N, OH/2, OW/2); one item per (16*CB channels, image, pooled row), tiles of
 *             2 conv rows x TC conv columns (TC even). max(a + b') = max(a) + b' and ReLU is
 *             monotonic, so pooling the accumulators first gives the unfused result; a NaN
 *             wins the maximum as in pool.cl. */

__kernel void conv_fold(__global const float *params, const int offW, const int offB, const int hasBias,
                        const int hasBn, const int offG, const int offBeta, __global const float *state,
                        const int offRm, const int offRv, const float eps, __global float *ws, const int offWs,
                        const int CI, const int CO, const int KK)
{
    const int COP = (CO + 15) / 16 * 16;
    const int row = get_global_id(0); /* ci*KK + kh*K + kw; CI*KK: the biases */
    if (row > CI * KK) return;
    __global float *d = ws + offWs + (size_t)row * COP;
    for (int co = 0; co < COP; co++) {
        float s = 1.0f, shift = 0.0f;
        if (co < CO && hasBn) {
            s = (1.0f / sqrt(state[offRv + co] + eps)) * params[offG + co];
            shift = params[offBeta + co] - state[offRm + co] * s;
        }
        float v = 0.0f;
        if (co < CO && row < CI * KK) v = params[offW + (size_t)co * CI * KK + row] * s;
        else if (co < CO) v = hasBn ? mad(hasBias ? params[offB + co] : 0.0f, s, shift) : (hasBias ? params[offB + co] : 0.0f);
        d[co] = v;
    }
}

/* the maximum of two, a NaN in either wins (pool.cl's rule for the window) */
inline float16 ct_nanmax16(const float16 a, const float16 b) { return select(a, b, isgreater(b, a) | isnan(b)); }

inline float16 ct_relu16(const float16 v, const int relu)
{
    return relu ? select(v, (float16)(0.0f), isless(v, (float16)(0.0f))) : v; /* NaN stays NaN */
}

/* acc[CB][TR][TC] += the TR x TC tile at xb (row stride WP) convolved with the K x K weights at wb.
 * kh stays a loop (as conv_direct_kK in conv.cl): unrolled, LLVM hoists the weight loads of all K*K
 * taps and spills them (5x5 kernels, 2x4x64 tiles); batch 250, CPU ms per call under load:
 * pool 3x3 16->16 28x28 15.7 -> 13.3, 32->32 14x14 6.7 -> 6.3, 5x5 32->64 14x14 (pool) 34.1 -> 32.6 */
#define FUSED_MAC(K, TR, TC, CB)                                                                           \
    _Pragma("unroll 1") for (int kh = 0; kh < K; kh++)                                                    \
        _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                                \
            float16 wv[CB];                                                                               \
            _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wb + (kh * K + kw) * COP + wo[b]); \
            _Pragma("unroll") for (int r = 0; r < TR; r++)                                                \
                _Pragma("unroll") for (int c = 0; c < TC; c++) {                                          \
                    const float16 xv = (float16)(xb[(r + kh) * WP + c + kw]);                             \
                    _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][r][c] = fma(xv, wv[b], acc[b][r][c]); \
                }                                                                                         \
        }

/* FUSED_MAC for one output row of a "same" 3x3/5x5 conv on the unpadded input: xb at input row oh,
 * column ow0 (row stride W, H rows); kernel rows over the zero padding are skipped (as
 * conv_direct_kK in conv.cl), the columns past the edges read 0 (ct_same_ld) */
#define FUSED_MAC_SAME(K, TC, CB)                                                                          \
    _Pragma("unroll 1") for (int kh = max(0, K / 2 - oh); kh < min(K, H + K / 2 - oh); kh++) {            \
        __global const float *xr = xb + (kh - K / 2) * W;                                                 \
        _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                                \
            float16 wv[CB];                                                                               \
            _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wb + (kh * K + kw) * COP + wo[b]); \
            _Pragma("unroll") for (int c = 0; c < TC; c++) {                                              \
                const float16 xv = (float16)(ct_same_ld(xr, c + kw, K, TC, ow0, W));                      \
                _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][0][c] = fma(xv, wv[b], acc[b][0][c]); \
            }                                                                                             \
        }                                                                                                 \
    }

#define FUSED_HEAD(CB)                                                                                     \
    const int COP = (CO + 15) / 16 * 16;                                                                  \
    int wo[CB]; /* a block past COP re-reads the first (computed, not stored) */                         \
    _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
    float16 bv[CB];                                                                                       \
    _Pragma("unroll") for (int b = 0; b < CB; b++) bv[b] = vload16(0, ws + offB + cob * 16 * CB + wo[b]); \
    const size_t plane = (size_t)N * HP * WP;                                                             \
    const int nco = min(16 * CB, CO - cob * 16 * CB);

/* y (at base, channel stride cs) = tmp[(b*W + j)*16 + l] for channel b*16 + l of the nco stored,
 * columns j0..W-1 (the columns before j0 belong to the tile before); constant indices when the
 * whole tile is stored */
#define STORE_TILE(CB, W, j0, base, cs)                                                                        \
    {                                                                                                     \
        __global float *yb = y + (base);                                                                  \
        if (nco == 16 * CB && (j0) == 0) {                                                                \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                _Pragma("unroll") for (int l = 0; l < 16; l++)                                            \
                    _Pragma("unroll") for (int j = 0; j < W; j++)                                         \
                        yb[(size_t)(b * 16 + l) * (cs) + j] = tmp[(b * W + j) * 16 + l];                  \
        } else {                                                                                          \
            for (int l = 0; l < nco; l++)                                                                 \
                for (int j = (j0); j < W; j++) yb[(size_t)l * (cs) + j] = tmp[((l / 16) * W + j) * 16 + l % 16]; \
        }                                                                                                 \
    }

#define CONV_FUSED(K, TC, CB, SAME, SFX)                                                                              \
    __kernel void conv_fused_k##K##SFX##_##TC##x##CB(__global const float *xp, const int offXp,                 \
                                                __global const float *ws, const int offWt, const int offB, \
                                                __global float *y, const int N, const int CI, const int CO, \
                                                const int HP, const int WP, const int relu)               \
    {                                                                                                     \
        const int OH = HP - K + 1, OW = WP - K + 1;                                                       \
        const int nr = get_global_id(0), cob = get_global_id(1);                                         \
        if (cob * 16 * CB >= CO || nr >= N * OH) return;                                                  \
        const int n = nr / OH, oh = nr - n * OH;                                                          \
        FUSED_HEAD(CB)                                                                                    \
        for (int t = 0; t < OW; t += TC) {                                                                \
            const int ow0 = min(t, OW - TC);                                                              \
            float16 acc[CB][1][TC];                                                                       \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][0][c] = (float16)(0.0f);            \
            __global const float *wb = ws + offWt + cob * 16 * CB;                                        \
            /* SAME: xp is the unpadded input (H, W), xb at row oh, column ow0 */                       \
            const int H = HP - (SAME ? K - 1 : 0), W = WP - (SAME ? K - 1 : 0);                           \
            __global const float *xb = xp + offXp + ((size_t)n * H + oh) * W + ow0;                       \
            for (int ci = 0; ci < CI; ci++) {                                                             \
                if (SAME) {                                                                               \
                    FUSED_MAC_SAME(K, TC, CB)                                                             \
                } else {                                                                                  \
                    FUSED_MAC(K, 1, TC, CB)                                                               \
                }                                                                                         \
                wb += K * K * COP;                                                                        \
                xb += SAME ? (size_t)N * H * W : plane;                                                   \
            }                                                                                             \
            const size_t base = (((size_t)(cob * 16 * CB) * N + n) * OH + oh) * OW + ow0, cs = (size_t)N * OH * OW; \
            if (((TC == 14 && CB == 1) || (TC == 7 && CB == 2)) && nco == 16 * CB && t == ow0) {              \
                /* a whole tile: rows of TC columns through a register transpose (common.cl) */           \
                const int SEG = TC > 8 ? 16 : 8;                                                          \
                float16 v[16];                                                                            \
                _Pragma("unroll") for (int i = 0; i < 16; i++) {                                          \
                    const int b = i / SEG, c = i % SEG;                                                   \
                    v[i] = b < CB && c < TC ? ct_relu16(acc[b % CB][0][c % TC] + bv[b % CB], relu) : (float16)(0.0f); \
                }                                                                                         \
                ct_transpose16(v);                                                                        \
                _Pragma("unroll") for (int l = 0; l < 16; l++)                                            \
                    _Pragma("unroll") for (int j = 0; j < CB; j++)                                        \
                        ct_store_seg(v[l], j, TC, y + base + (size_t)(j * 16 + l) * cs);                  \
                continue;                                                                                 \
            }                                                                                             \
            float tmp[CB * TC * 16];                                                                      \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                _Pragma("unroll") for (int c = 0; c < TC; c++) vstore16(ct_relu16(acc[b][0][c] + bv[b], relu), b * TC + c, tmp); \
            STORE_TILE(CB, TC, t - ow0, base, cs)                                                         \
        }                                                                                                 \
    }

#define CONV_FUSED_POOL(K, TC, CB)                                                                         \
    __kernel void conv_fused_pool_k##K##_##TC##x##CB(__global const float *xp, const int offXp,            \
                                                     __global const float *ws, const int offWt,            \
                                                     const int offB, __global float *y, const int N,       \
                                                     const int CI, const int CO, const int HP, const int WP, \
                                                     const int relu)                                      \
    {                                                                                                     \
        const int PH = (HP - K + 1) / 2, PW = (WP - K + 1) / 2, PT = TC / 2;                              \
        const int np = get_global_id(0), cob = get_global_id(1);                                          \
        if (cob * 16 * CB >= CO || np >= N * PH) return;                                                  \
        const int n = np / PH, ph = np - n * PH;                                                          \
        FUSED_HEAD(CB)                                                                                    \
        for (int t = 0; t < PW; t += PT) {                                                                \
            const int pw0 = min(t, PW - PT);                                                              \
            float16 acc[CB][2][TC];                                                                       \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                _Pragma("unroll") for (int r = 0; r < 2; r++)                                             \
                    _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][r][c] = (float16)(0.0f);        \
            __global const float *wb = ws + offWt + cob * 16 * CB;                                        \
            __global const float *xb = xp + offXp + ((size_t)n * HP + 2 * ph) * WP + 2 * pw0;             \
            for (int ci = 0; ci < CI; ci++) {                                                             \
                FUSED_MAC(K, 2, TC, CB)                                                                   \
                wb += K * K * COP;                                                                        \
                xb += plane;                                                                              \
            }                                                                                             \
            float tmp[CB * PT * 16];                                                                      \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                _Pragma("unroll") for (int j = 0; j < PT; j++) {                                          \
                    const float16 m = ct_nanmax16(ct_nanmax16(acc[b][0][2 * j], acc[b][0][2 * j + 1]),     \
                                                  ct_nanmax16(acc[b][1][2 * j], acc[b][1][2 * j + 1]));    \
                    vstore16(ct_relu16(m + bv[b], relu), b * PT + j, tmp);                                \
                }                                                                                         \
            STORE_TILE(CB, PT, t - pw0, (((size_t)(cob * 16 * CB) * N + n) * PH + ph) * PW + pw0, (size_t)N * PH * PW) \
        }                                                                                                 \
    }

CONV_FUSED(5, 7, 2, 0, )
CONV_FUSED(3, 7, 2, 0, )
CONV_FUSED(5, 1, 2, 0, )
CONV_FUSED(3, 1, 2, 0, )
CONV_FUSED_POOL(5, 4, 2)
CONV_FUSED_POOL(3, 4, 2)
CONV_FUSED_POOL(5, 2, 4)
CONV_FUSED_POOL(3, 2, 4)
CONV_FUSED_POOL(5, 2, 2)
CONV_FUSED_POOL(3, 2, 2)
CONV_FUSED(5, 14, 1, 0, )
CONV_FUSED(3, 14, 1, 0, )
CONV_FUSED(3, 14, 1, 1, s)
CONV_FUSED(3, 7, 2, 1, s)
CONV_FUSED_POOL(5, 4, 1)
CONV_FUSED_POOL(3, 4, 1)
