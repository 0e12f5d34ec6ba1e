/* convstrided.cl: stride-2 convolutions without im2col/col2im (CPUs), on channel-major
 * (C, N, H, W) activations, square kernels. The stride-1 direct kernels are in conv.cl; the
 * inputs and weights here use the same layouts (xp from conv_pad, wt from conv_wt or conv_fold).
 *  conv_pad2:   x (CN, H, W) -> xp (CN, HP, WP): x at rows pt.., columns pl.., zeros around; one
 *               work-item per plane (common.cl ct_pad_plane).
 *  conv_dirs2_k3_TCxCB: y (CO, N, OH, OW) = relu?(conv(xp, wt) + b?), OH = (HP-KH)/2 + 1,
 *               OW = (WP-KW)/2 + 1, input (oh, ow) window at xp[2*oh..][2*ow..]. One work-item
 *               per (16*CB output channels, image, output row, tile of TC columns): CB*TC
 *               float16 accumulators (lanes = output channels), inputs broadcast, one float16
 *               weight load per (ci, kh, kw) and block. The last tile is moved back to fit and
 *               stores only the columns the one before does not. Also the inference path with
 *               the batchnorm folded into wt and b (conv_fold) and ReLU.
 *  conv_dws2_k3xCB: weight gradient dW[co][ci][kh][kw] = sum over (n, oh, ow) of
 *               dy[co][n][oh][ow] * xp[ci][n][2*oh+kh][2*ow+kw], dy transposed to (NP, COP) by
 *               conv_dyt. As conv.cl's conv_dw_kK (one item per (ci, 16*CB channels, block of IB
 *               images), each block's images in a fixed order, the blocks' partial sums at
 *               partStride apart, deterministic), with the stride on the input index (p unused:
 *               conv_dw_kK's argument list).
 *  conv_dxs2_kK_pPS_TCxCB: backward data without col2im, deterministic (no atomics):
 *               dx[ci][n][ih][iw] = sum over co and the taps (kh, kw) with ih + P - kh and
 *               iw + P - kw even of dy[co][n][(ih+P-kh)/2][(iw+P-kw)/2] * W[co][ci][kh][kw]
 *               (the polyphase form: each parity class of dx is a stride-1 conv of dy with a
 *               subset of the taps). One item per (16*CB input channels, image, input row,
 *               tile of TC columns starting at an even column), CB*TC accumulators; the row's
 *               taps are chosen at run time, the columns' at compile time (PS = P % 2), so
 *               only valid taps are multiplied. dy is read padded (dyp, (CO, N, HPD, WPD), dy
 *               at rows QT.., columns QL..; conv_pad2) so no bounds are checked; wt is conv_wt's
 *               flipped layout (CO, K, K, CIP). Columns past W are not stored. */

__kernel void conv_pad2(__global const float *x, __global float *xp, const int offXp, const int CN, const int H,
                        const int W, const int pt, const int pl, const int HP, const int WP)
{
    const int cn = get_global_id(0);
    if (cn >= CN) return;
    ct_pad_plane(x + (size_t)cn * H * W, xp + offXp + (size_t)cn * HP * WP, H, W, pt, pl, HP, WP);
}

/* yb[l * cs + j] = tmp[((l / 16) * TC + j) * 16 + l % 16] for the nl channels l and columns
 * j0 <= j < j1; constant indices (no round trip through tmp's memory) when the whole tile is stored */
#define STORE16(yb0, cs, nl, CB, TC, j0, j1, acc)                                                             \
    {                                                                                                         \
        __global float *yb = (yb0);                                                                           \
        if ((nl) == 16 * CB && (j0) == 0 && (j1) == TC) {                                                     \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                    \
                _Pragma("unroll") for (int l = 0; l < 16; l++)                                                \
                    _Pragma("unroll") for (int j = 0; j < TC; j++) {                                          \
                        __global float *q = yb + (size_t)(b * 16 + l) * (cs) + j;                             \
                        const float v = tmp[(b * TC + j) * 16 + l];                                           \
                        *q = (acc) ? *q + v : v;                                                              \
                    }                                                                                         \
        } else {                                                                                              \
            for (int l = 0; l < (nl); l++)                                                                    \
                for (int j = (j0); j < (j1); j++) {                                                           \
                    __global float *q = yb + (size_t)l * (cs) + j;                                            \
                    const float v = tmp[((l / 16) * TC + j) * 16 + l % 16];                                   \
                    *q = (acc) ? *q + v : v;                                                                  \
                }                                                                                             \
        }                                                                                                     \
    }

#define CONV_DIRS2(K, TC, CB)                                                                                 \
    __kernel void conv_dirs2_k##K##_##TC##x##CB(__global const float *xp, const int offXp, __global const float *wt,  \
                                         const int offWt, __global const float *bias, const int offBias,      \
                                         const int hasBias, __global float *y, const int N, const int CI,     \
                                         const int CO, const int HP, const int WP, const int relu)                                                      \
    {                                                                                                         \
        const int OH = (HP - K) / 2 + 1, OW = (WP - K) / 2 + 1, COP = (CO + 15) / 16 * 16;                  \
        const int nr = get_global_id(0), cob = get_global_id(1), cs = get_global_id(2);                      \
        const int CT = (OW + TC - 1) / TC;                                                                    \
        if (cob * 16 * CB >= CO || nr >= N * OH || cs >= CT) return;                                          \
        const int n = nr / OH, oh = nr - n * OH, ow0 = min(cs * TC, OW - TC);                                 \
        int wo[CB]; /* a block past COP re-reads the first (computed, not stored) */                         \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;        \
        float16 acc[CB][TC];                                                                                  \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                        \
            _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][c] = (float16)(0.0f);                       \
        __global const float *wb = wt + offWt + cob * 16 * CB;                                                \
        const size_t plane = (size_t)N * HP * WP;                                                             \
        __global const float *xb = xp + offXp + ((size_t)n * HP + 2 * oh) * WP + 2 * ow0;                     \
        for (int ci = 0; ci < CI; ci++) {                                                                     \
            _Pragma("unroll") for (int kh = 0; kh < K; kh++) {                                                \
                __global const float *xr = xb + kh * WP;                                                      \
                _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                            \
                    float16 wv[CB];                                                                           \
                    _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wb + (kh * K + kw) * COP + wo[b]); \
                    _Pragma("unroll") for (int c = 0; c < TC; c++) {                                          \
                        const float16 xv = (float16)(xr[2 * c + kw]);                                         \
                        _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][c] = fma(xv, wv[b], acc[b][c]); \
                    }                                                                                         \
                }                                                                                             \
            }                                                                                                 \
            wb += K * K * COP;                                                                                \
            xb += plane;                                                                                      \
        }                                                                                                     \
        float tmp[CB * TC * 16];                                                                              \
        const int nco = min(16 * CB, CO - cob * 16 * CB), c0 = cs * TC - ow0;                                 \
        float bt[16 * CB]; /* the bias holds CO values (no padding to 16): read only those */                 \
        for (int l = 0; l < 16 * CB; l++) bt[l] = hasBias && l < nco ? bias[offBias + cob * 16 * CB + l] : 0.0f; \
        _Pragma("unroll") for (int b = 0; b < CB; b++) {                                                      \
            const float16 bv = vload16(b, bt);                                                                \
            _Pragma("unroll") for (int c = 0; c < TC; c++) {                                                  \
                const float16 v = acc[b][c] + bv;                                                             \
                vstore16(relu ? select(v, (float16)(0.0f), isless(v, (float16)(0.0f))) : v, b * TC + c, tmp); \
            }                                                                                                 \
        }                                                                                                     \
        STORE16(y + (((size_t)(cob * 16 * CB) * N + n) * OH + oh) * OW + ow0, (size_t)N * OH * OW, nco, CB, TC, c0, TC, 0) \
    }
CONV_DIRS2(3, 7, 2)
CONV_DIRS2(3, 1, 2)

#define CONV_DWS2(K, CB)                                                                                      \
    __kernel void conv_dws2_k##K##x##CB(__global const float *xp, const int offXp, __global const float *dyt, \
                                        const int offDyt, __global float *grads, const int offG, const int N, \
                                        const int CI, const int CO, const int HP, const int WP, const int p,  \
                                        const int IB, const int partStride)                                   \
    {                                                                                                         \
        const int OH = (HP - K) / 2 + 1, OW = (WP - K) / 2 + 1, COP = (CO + 15) / 16 * 16;                    \
        const int ci = get_global_id(0), cob = get_global_id(1), nb = get_global_id(2);                       \
        if (ci >= CI || cob * 16 * CB >= CO) return;                                                          \
        const int n1 = min(N, (nb + 1) * IB);                                                                 \
        float16 sum[K][CB][K];                                                                                \
        _Pragma("unroll") for (int h = 0; h < K; h++)                                                         \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                    \
                _Pragma("unroll") for (int t = 0; t < K; t++) sum[h][b][t] = (float16)(0.0f);                 \
        int wo[CB];                                                                                           \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;        \
        const int P = OH * OW;                                                                                \
        for (int n = nb * IB; n < n1; n++) {                                                                  \
            __global const float *dn = dyt + offDyt + (size_t)n * P * COP + cob * 16 * CB;                    \
            __global const float *xn = xp + offXp + ((size_t)ci * N + n) * HP * WP;                           \
            _Pragma("nounroll") for (int kh = 0; kh < K; kh++) {                                              \
                float16 acc[CB][K];                                                                           \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                    _Pragma("unroll") for (int t = 0; t < K; t++) acc[b][t] = sum[kh][b][t];                  \
                __global const float *dr = dn;                                                                \
                for (int oh = 0; oh < OH; oh++) {                                                             \
                    __global const float *xr = xn + (2 * oh + kh) * WP;                                       \
                    for (int ow = 0; ow < OW; ow++) {                                                         \
                        float16 dv[CB];                                                                       \
                        _Pragma("unroll") for (int b = 0; b < CB; b++) dv[b] = vload16(0, dr + wo[b]);        \
                        dr += COP;                                                                            \
                        _Pragma("unroll") for (int t = 0; t < K; t++) {                                       \
                            const float16 xv = (float16)(xr[2 * ow + t]);                                     \
                            _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][t] = fma(xv, dv[b], acc[b][t]); \
                        }                                                                                     \
                    }                                                                                         \
                }                                                                                             \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                                \
                    _Pragma("unroll") for (int t = 0; t < K; t++) sum[kh][b][t] = acc[b][t];                  \
            }                                                                                                 \
        }                                                                                                     \
        float tmp[K * CB * K * 16];                                                                           \
        _Pragma("unroll") for (int h = 0; h < K; h++)                                                         \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                    \
                _Pragma("unroll") for (int t = 0; t < K; t++) vstore16(sum[h][b][t], (h * CB + b) * K + t, tmp); \
        const int nco = min(16 * CB, CO - cob * 16 * CB);                                                     \
        for (int l = 0; l < nco; l++) {                                                                       \
            __global float *g = grads + offG + (size_t)nb * partStride + ((size_t)(cob * 16 * CB + l) * CI + ci) * K * K; \
            for (int h = 0; h < K; h++)                                                                       \
                for (int t = 0; t < K; t++) g[h * K + t] = tmp[((h * CB + l / 16) * K + t) * 16 + l % 16];    \
        }                                                                                                     \
    }
CONV_DWS2(3, 2)
CONV_DWS2(3, 4)

#define CONV_DXS2(K, PS, TC, CB)                                                                              \
    __kernel void conv_dxs2_k##K##_p##PS##_##TC##x##CB(                                                       \
        __global const float *dyp, const int offDyp, __global const float *wt, const int offWt,               \
        __global float *dx, const int N, const int CI, const int CO, const int H, const int W, const int P,    \
        const int QT, const int QL, const int HPD, const int WPD, const int acc_dx)                            \
    {                                                                                                         \
        const int CIP = (CI + 15) / 16 * 16;                                                                  \
        const int nh = get_global_id(0), cib = get_global_id(1), cs = get_global_id(2);                      \
        if (cib * 16 * CB >= CI || nh >= N * H || cs * TC >= W) return;                                       \
        const int n = nh / H, ih = nh - n * H, iw0 = cs * TC;                                                 \
        int wo[CB]; /* a block past CIP re-reads the first (computed, not stored) */                         \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cib * CB + b) * 16 < CIP ? b * 16 : 0;        \
        float16 acc[CB][TC];                                                                                  \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                        \
            _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][c] = (float16)(0.0f);                       \
        const int owb = QL + (iw0 + P - PS) / 2; /* dyp column of (c + PS - kw) / 2 == 0 */                   \
        const size_t plane = (size_t)N * HPD * WPD;                                                           \
        _Pragma("unroll") for (int kh = 0; kh < K; kh++) {                                                    \
            const int th = ih + P - kh;                                                                       \
            if (th & 1) continue;                                                                             \
            __global const float *dr = dyp + offDyp + ((size_t)n * HPD + QT + th / 2) * WPD + owb;            \
            __global const float *wb = wt + offWt + cib * 16 * CB + (K - 1 - kh) * K * CIP;                   \
            for (int co = 0; co < CO; co++) {                                                                 \
                _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                            \
                    float16 wv[CB];                                                                           \
                    _Pragma("unroll") for (int b = 0; b < CB; b++)                                            \
                        wv[b] = vload16(0, wb + (K - 1 - kw) * CIP + wo[b]);                                  \
                    _Pragma("unroll") for (int c = 0; c < TC; c++) {                                          \
                        if (((c + PS - kw) & 1) == 0) {                                                       \
                            const float16 xv = (float16)(dr[(c + PS - kw) / 2]);                              \
                            _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][c] = fma(xv, wv[b], acc[b][c]); \
                        }                                                                                     \
                    }                                                                                         \
                }                                                                                             \
                dr += plane;                                                                                  \
                wb += K * K * CIP;                                                                            \
            }                                                                                                 \
        }                                                                                                     \
        float tmp[CB * TC * 16];                                                                              \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                        \
            _Pragma("unroll") for (int c = 0; c < TC; c++) vstore16(acc[b][c], b * TC + c, tmp);              \
        const int nci = min(16 * CB, CI - cib * 16 * CB), nc = min(TC, W - iw0);                              \
        STORE16(dx + (((size_t)(cib * 16 * CB) * N + n) * H + ih) * W + iw0, (size_t)N * H * W, nci, CB, TC, 0, nc, \
                acc_dx)                                                                                       \
    }
CONV_DXS2(3, 1, 14, 1)
CONV_DXS2(3, 1, 8, 2)
CONV_DXS2(1, 0, 14, 1)
CONV_DXS2(1, 0, 8, 2)
