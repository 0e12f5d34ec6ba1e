/* conv.cl: the data movement around the convolution GEMMs (stride 1, zero padding).
 * Activations are channel-major (C, N, H, W): a convolution is then W(CO, CI*KH*KW) x
 * col(CI*KH*KW, N*OH*OW) and its result is already (CO, N, OH, OW).
 * col layout: its NP = N*OH*OW columns come in panels of pw columns (the last one may be
 * narrower, w = min(pw, NP - p0)); panel p0 stores its KK rows back to back, element (r, p) at
 * p0*KK + r*w + (p - p0). pw >= NP is the plain row-major (KK, NP) matrix (GPUs); on CPUs pw is
 * the GEMM tile width, so a GEMM work-item reads one contiguous block (see gemm.cl).
 *  conv_im2col: x (CI,N,H,W) -> col, rows ordered (ci, kh, kw) like PyTorch's weight; one
 *               work-item per (CSEG columns, row); pw must be a multiple of CSEG or >= NP.
 *  conv_col2im: dcol -> dx (CI,N,H,W) by gathering (no atomics, deterministic); one work-item
 *               per input row (ci, n, ih). */
#define CSEG 32

/* rfirst: dimension 0 walks rows r (consecutive items write consecutive panel rows: CPUs),
 * else column segments (consecutive items write consecutive columns: GPUs) */
__kernel void conv_im2col(__global const float *x, __global float *col, const int N, const int CI, const int H,
                          const int W, const int KH, const int KW, const int pad, const int OH, const int OW,
                          const int pw, const int rfirst)
{
    const int s = rfirst ? get_global_id(1) : get_global_id(0);
    const int r = rfirst ? get_global_id(0) : get_global_id(1); /* (ci*KH + kh)*KW + kw */
    const int NP = N * OH * OW, KK = CI * KH * KW;
    const int p0 = s * CSEG;
    if (p0 >= NP || r >= KK) return;
    const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KW * KH);
    const int pn = p0 / pw * pw, w = min(pw, NP - pn);
    __global float *dst = col + (size_t)pn * KK + (size_t)r * w + (p0 - pn);
    const int cnt = min(CSEG, NP - p0);
    /* the CSEG columns are runs along output rows (n, oh): ih is checked once per run */
    int ow = p0 % OW, t = p0 / OW;
    int oh = t % OH, n = t / OH;
    for (int j = 0; j < cnt;) {
        const int run = min(OW - ow, cnt - j), ih = oh + kh - pad;
        if ((uint)ih < (uint)H) {
            __global const float *src = x + ((size_t)(ci * N + n) * H + ih) * W + (kw - pad);
            for (int q = 0; q < run; q++) {
                const int iw = ow + q + kw - pad;
                dst[j + q] = (uint)iw < (uint)W ? src[ow + q] : 0.0f;
            }
        } else {
            for (int q = 0; q < run; q++) dst[j + q] = 0.0f;
        }
        j += run;
        ow = 0;
        if (++oh == OH) {
            oh = 0;
            n++;
        }
    }
}

/* dst (one input row, W floats) = sum over (kh, kw) of contiguous runs of dcol rows */
inline void col2im_row(__global const float *dcol, __global float *dst, const int n, const int ih, const int ci,
                       const int NP, const int KK, const int H, const int W, const int KH, const int KW,
                       const int pad, const int OH, const int OW, const int pw)
{
    for (int iw = 0; iw < W; iw++) dst[iw] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int oh = ih + pad - kh;
        if (oh < 0 || oh >= OH) continue;
        const int prow = (n * OH + oh) * OW;
        for (int kw = 0; kw < KW; kw++) {
            const int lo = max(0, kw - pad), hi = min(W, OW + kw - pad);
            if (lo >= hi) continue;
            const int r = (ci * KH + kh) * KW + kw;
            const int p = prow + lo + pad - kw;
            int pn = p / pw * pw, off = p - pn, w = min(pw, NP - pn);
            __global const float *src = dcol + (size_t)pn * KK + (size_t)r * w;
            for (int iw = lo; iw < hi; iw++) {
                if (off == w) { /* crossed into the next panel */
                    pn += pw;
                    off = 0;
                    w = min(pw, NP - pn);
                    src = dcol + (size_t)pn * KK + (size_t)r * w;
                }
                dst[iw] += src[off++];
            }
        }
    }
}

__kernel void conv_col2im(__global const float *dcol, __global float *dx, const int N, const int CI, const int H,
                          const int W, const int KH, const int KW, const int pad, const int OH, const int OW,
                          const int pw)
{
    const int nih = get_global_id(0); /* n*H + ih */
    const int ci = get_global_id(1);
    if (nih >= N * H || ci >= CI) return;
    const int n = nih / H, ih = nih - n * H;
    const int NP = N * OH * OW, KK = CI * KH * KW;
    __global float *dst = dx + ((size_t)(ci * N + n) * H + ih) * W;
    /* constant panel widths let the compiler turn p / pw into shifts */
    if (pw == 32)
        col2im_row(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, pad, OH, OW, 32);
    else if (pw == 16)
        col2im_row(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, pad, OH, OW, 16);
    else
        col2im_row(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, pad, OH, OW, pw);
}

/* ---- any stride and padding (SH, SW, PADH, PADW): the same col layout ------------------------
 * conv_im2col_s: as conv_im2col, column p = (n, oh, ow) reads x[ci][n][oh*SH - PADH + kh][ow*SW - PADW + kw]
 *                (zero outside); one work-item per (row r, CSEG columns).
 * conv_col2im_s: dx[ci][n][ih][iw] = sum over (kh, kw) with ih + PADH - kh = oh*SH, iw + PADW - kw = ow*SW
 *                (0 <= oh < OH, 0 <= ow < OW) of dcol[(ci, kh, kw)][(n, oh, ow)]; no atomics (each
 *                work-item owns one input row (n, ih) of one channel, kept in cache), deterministic. */
__kernel void conv_im2col_s(__global const float *x, __global float *col, const int N, const int CI, const int H,
                            const int W, const int KH, const int KW, const int SH, const int SW, const int PADH,
                            const int PADW, const int OH, const int OW, const int pnw, const int rfirst)
{
    const int s = rfirst ? get_global_id(1) : get_global_id(0);
    const int r = rfirst ? get_global_id(0) : get_global_id(1);
    const int NP = N * OH * OW, KK = CI * KH * KW;
    const int p0 = s * CSEG;
    if (p0 >= NP || r >= KK) return;
    const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KW * KH);
    /* pnw is a multiple of CSEG (or >= NP): the segment lies in one panel, contiguous */
    const int pn = p0 / pnw * pnw, w = min(pnw, NP - pn);
    __global float *dst = col + (size_t)pn * KK + (size_t)r * w + (p0 - pn);
    const int cnt = min(CSEG, NP - p0);
    int ow = p0 % OW, t = p0 / OW;
    int oh = t % OH, n = t / OH;
    for (int j = 0; j < cnt;) {
        const int run = min(OW - ow, cnt - j), ih = oh * SH - PADH + kh;
        if ((uint)ih < (uint)H) {
            __global const float *src = x + ((size_t)(ci * N + n) * H + ih) * W;
            for (int q = 0; q < run; q++) {
                const int iw = (ow + q) * SW - PADW + kw;
                dst[j + q] = (uint)iw < (uint)W ? src[iw] : 0.0f;
            }
        } else {
            for (int q = 0; q < run; q++) dst[j + q] = 0.0f;
        }
        j += run;
        ow = 0;
        if (++oh == OH) {
            oh = 0;
            n++;
        }
    }
}

/* dst (one input row) = sum over (kh, kw) of the dcol entries of the outputs that read it: for a
 * kernel row kh with (ih + PADH - kh) = oh*SH, the columns iw = ow*SW - PADW + kw of each kw */
inline void col2im_row_s(__global const float *dcol, __global float *dst, const int n, const int ih, const int ci,
                         const int NP, const int KK, const int H, const int W, const int KH, const int KW,
                         const int SH, const int SW, const int PADH, const int PADW, const int OH, const int OW,
                         const int pnw)
{
    for (int iw = 0; iw < W; iw++) dst[iw] = 0.0f;
    for (int kh = 0; kh < KH; kh++) {
        const int th = ih + PADH - kh;
        if (th < 0 || th % SH != 0 || th / SH >= OH) continue;
        const int prow = (n * OH + th / SH) * OW;
        for (int kw = 0; kw < KW; kw++) {
            /* outputs ow with 0 <= ow*SW - PADW + kw < W */
            const int lo = max(0, (PADW - kw + SW - 1) / SW), hi = min(OW, (W + PADW - kw + SW - 1) / SW);
            if (lo >= hi) continue;
            const int r = (ci * KH + kh) * KW + kw;
            const int p = prow + lo;
            int pn = p / pnw * pnw, off = p - pn, w = min(pnw, NP - pn);
            __global const float *src = dcol + (size_t)pn * KK + (size_t)r * w;
            for (int ow = lo; ow < hi; ow++) {
                if (off == w) { /* crossed into the next panel */
                    pn += pnw;
                    off = 0;
                    w = min(pnw, NP - pn);
                    src = dcol + (size_t)pn * KK + (size_t)r * w;
                }
                dst[ow * SW - PADW + kw] += src[off++];
            }
        }
    }
}

__kernel void conv_col2im_s(__global const float *dcol, __global float *dx, const int N, const int CI, const int H,
                            const int W, const int KH, const int KW, const int SH, const int SW, const int PADH,
                            const int PADW, const int OH, const int OW, const int pnw)
{
    const int nih = get_global_id(0); /* n*H + ih */
    const int ci = get_global_id(1);
    if (nih >= N * H || ci >= CI) return;
    const int n = nih / H, ih = nih - n * H;
    const int NP = N * OH * OW, KK = CI * KH * KW;
    __global float *dst = dx + ((size_t)(ci * N + n) * H + ih) * W;
    /* constant panel widths and strides let the compiler turn divisions into shifts */
    if (pnw == 32 && SH == 2 && SW == 2)
        col2im_row_s(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, 2, 2, PADH, PADW, OH, OW, 32);
    else if (pnw == 32)
        col2im_row_s(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, SH, SW, PADH, PADW, OH, OW, 32);
    else
        col2im_row_s(dcol, dst, n, ih, ci, NP, KK, H, W, KH, KW, SH, SW, PADH, PADW, OH, OW, pnw);
}

/* ---- direct convolution (CPUs): no im2col ------------------------------------------------
 * conv_pad:    x (C, N, H, W) -> xp (C, N, H+2p, W+2p) with zero borders; one item per plane (c, n),
 *              vector row copies (common.cl ct_pad_plane).
 * conv_wt:     W (CO, CI, KH, KW) -> wt (A, KH, KW, BP) with BP = B rounded up to 16 (zeros past
 *              B): forward (flip 0) A = CI, B = CO, wt[a][kh][kw][b] = W[b][a][kh][kw];
 *              backward data (flip 1) A = CO, B = CI, wt[a][kh][kw][b] = W[a][b][KH-1-kh][KW-1-kw]
 *              (the backward-data pass is the forward conv of dy padded by K-1-pad with it). One
 *              work-item per (a, 16 b's): per (kh, kw) 16 strided loads, one float16 store.
 * conv_direct_RxCxB: y (CO, N, OH, OW) = conv(xp, wt) (+ bias), OH = HP-KH+1, OW = WP-KW+1,
 *              CO = B of wt. One work-item per (16*B output channels, image, tile of R rows x C
 *              columns): B*R*C float16 accumulators (one per output pixel, lanes = channels), the
 *              inputs broadcast from the padded rows, weights one float16 load per (ci, kh, kw).
 *              Tiles past the edge are moved back to overlap the previous one (needs OH >= R,
 *              OW >= C; equal values are written twice). Stores are per channel (scalar). p (xp's
 *              zero rows) is unused here: the argument list of conv_direct_kK_*, which skip them. */
__kernel void conv_pad(__global const float *x, __global float *xp, const int offXp, const int CN, const int H,
                       const int W, const int p)
{
    const int HP = H + 2 * p, WP = W + 2 * p;
    const int cn = get_global_id(0);
    if (cn >= CN) return;
    ct_pad_plane(x + (size_t)cn * H * W, xp + offXp + (size_t)cn * HP * WP, H, W, p, p, HP, WP);
}

__kernel void conv_wt(__global const float *w, const int offW, __global float *wt, const int offWt, const int A,
                      const int B, const int KH, const int KW, const int flip)
{
    const int K2 = KH * KW, nb = (B + 15) / 16, BP = nb * 16;
    const int i = get_global_id(0); /* a*nb + b/16 */
    if (i >= A * nb) return;
    const int a = i / nb, b0 = (i - a * nb) * 16;
    /* source of (b, t = kh*KW + kw): fwd W[b][a][t], flip W[a][b][K2-1-t] */
    const int sb = flip ? K2 : A * K2, dt = flip ? -1 : 1;
    __global const float *s = w + offW + (flip ? (size_t)a * B * K2 + K2 - 1 : (size_t)a * K2) + (size_t)b0 * sb;
    __global float *d = wt + offWt + (size_t)a * K2 * BP + b0;
    if (b0 + 16 <= B) {
        for (int t = 0; t < K2; t++) {
            __global const float *q = s + t * dt;
            const float16 v = (float16)(q[0], q[sb], q[2 * sb], q[3 * sb], q[4 * sb], q[5 * sb], q[6 * sb],
                                        q[7 * sb], q[8 * sb], q[9 * sb], q[10 * sb], q[11 * sb], q[12 * sb],
                                        q[13 * sb], q[14 * sb], q[15 * sb]);
            vstore16(v, 0, d + (size_t)t * BP);
        }
    } else {
        for (int t = 0; t < K2; t++)
            for (int l = 0; l < 16; l++) d[(size_t)t * BP + l] = b0 + l < B ? s[t * dt + l * sb] : 0.0f;
    }
}

#define CONV_DIRECT(TR, TC, CB)                                                                              \
    __kernel void conv_direct_##TR##x##TC##x##CB(                                                            \
        __global const float *xp, const int offXp, __global const float *wt, const int offWt,                 \
        __global const float *bias, const int offBias, const int hasBias, __global float *y, const int N,     \
        const int CI, const int CO, const int HP, const int WP, const int KH, const int KW, const int p,      \
        const int acc_y)                                                                                     \
    {                                                                                                        \
        const int OH = HP - KH + 1, OW = WP - KW + 1, COP = (CO + 15) / 16 * 16;                             \
        const int cob = get_global_id(0), nr = get_global_id(1), cs = get_global_id(2);                     \
        const int RT = (OH + TR - 1) / TR, CT = (OW + TC - 1) / TC;                                          \
        if (cob * 16 * CB >= CO || nr >= N * RT || cs >= CT) return;                                         \
        const int n = nr / RT;                                                                               \
        const int oh0 = min((nr - n * RT) * TR, OH - TR), ow0 = min(cs * TC, OW - TC);                       \
        /* a second block past COP re-reads the first (computed, not stored) */                              \
        int wo[CB];                                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
        float16 acc[CB][TR][TC];                                                                             \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int r = 0; r < TR; r++)                                                   \
                _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][r][c] = (float16)(0.0f);               \
        __global const float *wb = wt + offWt + cob * 16 * CB;                                               \
        const size_t plane = (size_t)N * HP * WP;                                                            \
        __global const float *xb = xp + offXp + ((size_t)n * HP + oh0) * WP + ow0;                           \
        for (int ci = 0; ci < CI; ci++) {                                                                    \
            for (int kh = 0; kh < KH; kh++) {                                                                \
                __global const float *xr = xb + kh * WP;                                                     \
                for (int kw = 0; kw < KW; kw++) {                                                            \
                    float16 wv[CB];                                                                          \
                    _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wb + wo[b]);           \
                    wb += COP;                                                                               \
                    _Pragma("unroll") for (int r = 0; r < TR; r++)                                           \
                        _Pragma("unroll") for (int c = 0; c < TC; c++) {                                     \
                            const float16 xv = (float16)(xr[r * WP + c + kw]);                               \
                            _Pragma("unroll") for (int b = 0; b < CB; b++)                                   \
                                acc[b][r][c] = fma(xv, wv[b], acc[b][r][c]);                                 \
                        }                                                                                    \
                }                                                                                            \
            }                                                                                                \
            xb += plane;                                                                                     \
        }                                                                                                    \
        float tmp[CB * TR * TC * 16];                                                                        \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int r = 0; r < TR; r++)                                                   \
                _Pragma("unroll") for (int c = 0; c < TC; c++)                                               \
                    vstore16(acc[b][r][c], (b * TR + r) * TC + c, tmp);                                      \
        const int nco = min(16 * CB, CO - cob * 16 * CB);                                                    \
        /* a last tile moved back to fit overlaps the one before: it stores only the rows and columns \
         * that one does not, so no output is written by two work-items */                           \
        const int r0 = (nr - n * RT) * TR - oh0, c0 = cs * TC - ow0;                                         \
        for (int l = 0; l < nco; l++) {                                                                      \
            const int co = cob * 16 * CB + l;                                                                \
            const float bv = hasBias ? bias[offBias + co] : 0.0f;                                            \
            __global float *yo = y + (((size_t)co * N + n) * OH + oh0) * OW + ow0;                           \
            for (int r = r0; r < TR; r++)                                                                    \
                for (int c = c0; c < TC; c++) {                                                              \
                    const float v = tmp[((l / 16 * TR + r) * TC + c) * 16 + l % 16] + bv;                    \
                    yo[r * OW + c] = acc_y ? yo[r * OW + c] + v : v;                                         \
                }                                                                                            \
        }                                                                                                    \
    }
CONV_DIRECT(1, 14, 1)
CONV_DIRECT(2, 7, 1)
CONV_DIRECT(1, 7, 2)
CONV_DIRECT(1, 1, 1)

/* conv_direct_kK_RxCxB: conv_direct_RxCxB for a compile-time K x K kernel (KH = KW = K; the KH,
 * KW arguments are ignored): the kw loop is unrolled, so the C+K-1 inputs of a tile row are
 * loaded once per (ci, kh) and reused across kw, and the K*B weight vectors of a kernel row are
 * loaded together (kh stays a loop: unrolling it too lets LLVM hoist every weight load of a
 * channel to the top and spill them). A whole tile with all 16*B channels is stored with
 * constant offsets, else as the generic kernel. Measured on POCL 3.1 (Zen 5, batch 64, CPU ms
 * per call, under load): 5x5 32->64 on 14x14 10.5 -> 7.3 (1x14x1), 3x3 64->128 on 7x7 3.4 ->
 * 2.6 (1x7x2). Dimension 0 is the image row, 1 the channel block: POCL runs consecutive items
 * along dimension 0, so they share one block's weights (3x3 64->128 on 7x7, Sapphire Rapids:
 * 2.62 -> 2.38-2.48 ms quiet, 4.94 -> 4.11 under load; 5x5 32->64 on 14x14: 7.46 -> 6.95). */
#define CONV_DIRECT_K(K, TR, TC, CB, SAME, SFX)                                                                          \
    __kernel void conv_direct_k##K##SFX##_##TR##x##TC##x##CB(                                                     \
        __global const float *xp, const int offXp, __global const float *wt, const int offWt,                 \
        __global const float *bias, const int offBias, const int hasBias, __global float *y, const int N,     \
        const int CI, const int CO, const int HP, const int WP, const int KH, const int KW, const int p,      \
        const int acc_y)                                                                                     \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, COP = (CO + 15) / 16 * 16;                               \
        const int nr = get_global_id(0), cob = get_global_id(1), cs = get_global_id(2);                     \
        const int RT = (OH + TR - 1) / TR, CT = (OW + TC - 1) / TC;                                          \
        if (cob * 16 * CB >= CO || nr >= N * RT || cs >= CT) return;                                         \
        const int n = nr / RT;                                                                               \
        const int oh0 = min((nr - n * RT) * TR, OH - TR), ow0 = min(cs * TC, OW - TC);                       \
        int wo[CB];                                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
        float16 acc[CB][TR][TC];                                                                             \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int r = 0; r < TR; r++)                                                   \
                _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][r][c] = (float16)(0.0f);               \
        /* kernel rows that meet only the zero rows of xp (p at the top and bottom) for every row of \
         * the tile are skipped */                                                                  \
        const int kh0 = max(0, p - oh0 - TR + 1), kh1 = min(K, HP - p - oh0);                                \
        __global const float *wb0 = wt + offWt + cob * 16 * CB + (size_t)kh0 * K * COP;                      \
        /* SAME: xp is the unpadded input (H, W rows), xb at input row oh0 + kh0 - p, column ow0 */            \
        const int IH = SAME ? HP - 2 * p : HP, IW = SAME ? WP - 2 * p : WP;                                        \
        const size_t plane = (size_t)N * IH * IW;                                                            \
        __global const float *xb = xp + offXp + ((size_t)n * IH + oh0 + kh0 - (SAME ? p : 0)) * IW + ow0;       \
        for (int ci = 0; ci < CI; ci++) {                                                                    \
            __global const float *xr = xb;                                                                   \
            __global const float *wb = wb0 + (size_t)ci * K * K * COP;                                       \
            _Pragma("unroll 1") for (int kh = kh0; kh < kh1; kh++) {                                         \
                _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                           \
                    float16 wv[CB];                                                                          \
                    _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wb + kw * COP + wo[b]); \
                    _Pragma("unroll") for (int r = 0; r < TR; r++)                                           \
                        _Pragma("unroll") for (int c = 0; c < TC; c++) {                                     \
                            const float16 xv = (float16)(SAME ? ct_same_ld(xr, c + kw, K, TC, ow0, IW)         \
                                                           : xr[r * WP + c + kw]);                           \
                            _Pragma("unroll") for (int b = 0; b < CB; b++)                                   \
                                acc[b][r][c] = fma(xv, wv[b], acc[b][r][c]);                                 \
                        }                                                                                    \
                }                                                                                            \
                wb += K * COP;                                                                               \
                xr += IW;                                                                                    \
            }                                                                                                \
            xb += plane;                                                                                     \
        }                                                                                                    \
        const int nco = min(16 * CB, CO - cob * 16 * CB);                                                    \
        const int r0 = (nr - n * RT) * TR - oh0, c0 = cs * TC - ow0;                                         \
        __global float *yb = y + (((size_t)(cob * 16 * CB) * N + n) * OH + oh0) * OW + ow0;                  \
        const size_t cstr = (size_t)N * OH * OW;                                                             \
        if (nco == 16 * CB && r0 == 0 && c0 == 0) {                                                          \
            /* segments (b, r) of TC columns, SEG lanes each, 16 / SEG to a transpose */                    \
            const int SEG = TC > 8 ? 16 : 8, S = CB * TR;                                                    \
            float16 bv[CB];                                                                                  \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                   \
                bv[b] = hasBias ? vload16(0, bias + offBias + (cob * CB + b) * 16) : (float16)(0.0f);        \
            _Pragma("unroll") for (int s0 = 0; s0 < S; s0 += 16 / SEG) {                                     \
                float16 v[16];                                                                               \
                _Pragma("unroll") for (int i = 0; i < 16; i++) {                                             \
                    const int sg = s0 + i / SEG, c = i % SEG, b = sg / TR % CB, r = sg % TR;                 \
                    v[i] = sg < S && c < TC ? acc[b][r][c % TC] + bv[b] : (float16)(0.0f);                   \
                }                                                                                            \
                ct_transpose16(v);                                                                           \
                _Pragma("unroll") for (int l = 0; l < 16; l++)                                               \
                    _Pragma("unroll") for (int j = 0; j < 16 / SEG; j++)                                     \
                        if (s0 + j < S)                                                                      \
                            ct_store_seg_acc(v[l], j, TC,                                                    \
                                             yb + (size_t)((s0 + j) / TR * 16 + l) * cstr + (s0 + j) % TR * OW, \
                                             acc_y);                                                         \
            }                                                                                                \
            return;                                                                                          \
        }                                                                                                    \
        float tmp[CB * TR * TC * 16];                                                                        \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int r = 0; r < TR; r++)                                                   \
                _Pragma("unroll") for (int c = 0; c < TC; c++)                                               \
                    vstore16(acc[b][r][c], (b * TR + r) * TC + c, tmp);                                      \
        for (int l = 0; l < nco; l++) {                                                                      \
            const int co = cob * 16 * CB + l;                                                                \
            const float bs = hasBias ? bias[offBias + co] : 0.0f;                                            \
            __global float *yo = yb + (size_t)l * cstr;                                                      \
            for (int r = r0; r < TR; r++)                                                                    \
                for (int c = c0; c < TC; c++) {                                                              \
                    const float v = tmp[((l / 16 * TR + r) * TC + c) * 16 + l % 16] + bs;                    \
                    yo[r * OW + c] = acc_y ? yo[r * OW + c] + v : v;                                         \
                }                                                                                            \
        }                                                                                                    \
    }
CONV_DIRECT_K(3, 1, 14, 1, 0, )
CONV_DIRECT_K(5, 1, 14, 1, 0, )
CONV_DIRECT_K(3, 1, 7, 2, 0, )
CONV_DIRECT_K(5, 1, 7, 2, 0, )
CONV_DIRECT_K(3, 2, 7, 1, 0, )
CONV_DIRECT_K(5, 2, 7, 1, 0, )
CONV_DIRECT_K(3, 1, 14, 1, 1, s)
CONV_DIRECT_K(3, 1, 7, 2, 1, s)

/* conv_direct_kK_rTCxCB: conv_direct_kK_1xTCxCB over a block of RB output rows per work-item (RB
 * a runtime argument, at most DIRECT_RMAX), input channels in blocks of DIRECT_CIB: for each block
 * the item runs every row of its own, keeping the rows' accumulators in a private array between
 * blocks, so the block's weights (DIRECT_CIB * K * K * 16 * CB floats) come from L1 for all RB
 * rows instead of from L2 once per row. Each row skips the kernel rows over xp's zero rows. The
 * sums per output are in the same order as conv_direct_kK_1xTCxCB. Measured on POCL 3.1
 * (AVX-512, batch 64, forward with conv_pad, medians of 41 alternating calls): 5x5 32->64 on
 * 14x14 7.82 -> 7.16 ms against 1x14x1; no gain for 3x3 (64->128 on 7x7 with 7x2: 2.79 vs 2.83,
 * 32->32 on 14x14: 6.23 vs 5.95 ms for the whole layer), so only 5x5 takes it. */
#ifndef DIRECT_RMAX
#define DIRECT_RMAX 14
#endif
#ifndef DIRECT_CIB
#define DIRECT_CIB 16
#endif
#define CONV_DIRECT_KR(K, TC, CB)                                                                             \
    __kernel void conv_direct_k##K##_r##TC##x##CB(                                                           \
        __global const float *xp, const int offXp, __global const float *wt, const int offWt,                 \
        __global const float *bias, const int offBias, const int hasBias, __global float *y, const int N,     \
        const int CI, const int CO, const int HP, const int WP, const int p, const int RB, const int acc_y)   \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, COP = (CO + 15) / 16 * 16;                               \
        const int nr = get_global_id(0), cob = get_global_id(1), cs = get_global_id(2);                     \
        const int RT = (OH + RB - 1) / RB, CT = (OW + TC - 1) / TC;                                          \
        if (cob * 16 * CB >= CO || nr >= N * RT || cs >= CT) return;                                         \
        const int n = nr / RT, oh0 = (nr - n * RT) * RB, nrow = min(min(RB, DIRECT_RMAX), OH - oh0);         \
        const int ow0 = min(cs * TC, OW - TC);                                                               \
        int wo[CB];                                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
        float16 part[DIRECT_RMAX][CB][TC];                                                                   \
        for (int r = 0; r < nrow; r++)                                                                       \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                   \
                _Pragma("unroll") for (int c = 0; c < TC; c++) part[r][b][c] = (float16)(0.0f);              \
        const size_t plane = (size_t)N * HP * WP;                                                            \
        for (int ci0 = 0; ci0 < CI; ci0 += DIRECT_CIB) {                                                     \
            const int ci1 = min(CI, ci0 + DIRECT_CIB);                                                       \
            for (int r = 0; r < nrow; r++) {                                                                 \
                const int oh = oh0 + r, kh0 = max(0, p - oh), kh1 = min(K, HP - p - oh);                     \
                float16 acc[CB][TC];                                                                         \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                               \
                    _Pragma("unroll") for (int c = 0; c < TC; c++) acc[b][c] = part[r][b][c];                \
                __global const float *xb = xp + offXp + (size_t)ci0 * plane + ((size_t)n * HP + oh + kh0) * WP + ow0; \
                __global const float *wb = wt + offWt + cob * 16 * CB + ((size_t)ci0 * K + kh0) * K * COP;   \
                _Pragma("unroll 1") for (int ci = ci0; ci < ci1; ci++) {                                      \
                    __global const float *xr = xb;                                                           \
                    __global const float *wr = wb;                                                           \
                    _Pragma("unroll 1") for (int kh = kh0; kh < kh1; kh++) {                                 \
                        _Pragma("unroll") for (int kw = 0; kw < K; kw++) {                                   \
                            float16 wv[CB];                                                                  \
                            _Pragma("unroll") for (int b = 0; b < CB; b++) wv[b] = vload16(0, wr + kw * COP + wo[b]); \
                            _Pragma("unroll") for (int c = 0; c < TC; c++) {                                 \
                                const float16 xv = (float16)(xr[c + kw]);                                    \
                                _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][c] = fma(xv, wv[b], acc[b][c]); \
                            }                                                                                \
                        }                                                                                    \
                        wr += K * COP;                                                                       \
                        xr += WP;                                                                            \
                    }                                                                                        \
                    xb += plane;                                                                             \
                    wb += K * K * COP;                                                                       \
                }                                                                                            \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                               \
                    _Pragma("unroll") for (int c = 0; c < TC; c++) part[r][b][c] = acc[b][c];                \
            }                                                                                                \
        }                                                                                                    \
        const int nco = min(16 * CB, CO - cob * 16 * CB), c0 = cs * TC - ow0;                                \
        const size_t cstr = (size_t)N * OH * OW;                                                             \
        float16 bv[CB];                                                                                      \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            bv[b] = hasBias && nco == 16 * CB ? vload16(0, bias + offBias + (cob * CB + b) * 16) : (float16)(0.0f); \
        for (int r = 0; r < nrow; r++) {                                                                     \
            __global float *yb = y + (((size_t)(cob * 16 * CB) * N + n) * OH + oh0 + r) * OW + ow0;          \
            if (nco == 16 * CB && c0 == 0) {                                                                 \
                /* as conv_direct_kK_*: segments of TC columns, SEG lanes each, 16 / SEG to a transpose */  \
                const int SEG = TC > 8 ? 16 : 8;                                                             \
                _Pragma("unroll") for (int s0 = 0; s0 < CB; s0 += 16 / SEG) {                                \
                    float16 v[16];                                                                           \
                    _Pragma("unroll") for (int i = 0; i < 16; i++) {                                         \
                        const int b = s0 + i / SEG, c = i % SEG;                                             \
                        v[i] = b < CB && c < TC ? part[r][b % CB][c % TC] + bv[b % CB] : (float16)(0.0f);    \
                    }                                                                                        \
                    ct_transpose16(v);                                                                       \
                    _Pragma("unroll") for (int l = 0; l < 16; l++)                                           \
                        _Pragma("unroll") for (int j = 0; j < 16 / SEG; j++)                                 \
                            if (s0 + j < CB)                                                                 \
                                ct_store_seg_acc(v[l], j, TC, yb + (size_t)((s0 + j) * 16 + l) * cstr, acc_y); \
                }                                                                                            \
                continue;                                                                                    \
            }                                                                                                \
            /* a partial channel block or a moved-back last column tile: element by element */              \
            for (int l = 0; l < nco; l++) {                                                                  \
                const float bs = hasBias ? bias[offBias + cob * 16 * CB + l] : 0.0f;                         \
                __global float *yo = yb + (size_t)l * cstr;                                                  \
                for (int c = c0; c < TC; c++) {                                                              \
                    float tmp[16];                                                                           \
                    vstore16(part[r][l / 16][c], 0, tmp);                                                    \
                    const float v = tmp[l % 16] + bs;                                                        \
                    yo[c] = acc_y ? yo[c] + v : v;                                                           \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }
CONV_DIRECT_KR(5, 14, 1)

/* conv_dyt: dy (CO, NP) -> dyT (NP, COP) (COP = CO rounded up to 16, zeros past CO); one item
 * per block of 16 pixels x 16*DYT_CB channels (all of a pixel row's cache lines written by one
 * item, in one pass: 1.1-1.5x faster than an item per 16x16 block), per 16x16 block 16 row loads,
 * a transpose in registers (four rounds of even/odd interleaves, each rotating the 8 index bits
 * (row, column) right by one), 16 row stores. A last block short of 16 pixels goes element by
 * element. */
#ifndef DYT_CB
#define DYT_CB 8
#endif
#define DYT_ROUND(v)                                                                                         \
    do {                                                                                                     \
        float16 t_[16];                                                                                      \
        _Pragma("unroll") for (int i = 0; i < 8; i++) {                                                      \
            t_[i] = (float16)(v[2 * i].even, v[2 * i + 1].even);                                             \
            t_[8 + i] = (float16)(v[2 * i].odd, v[2 * i + 1].odd);                                           \
        }                                                                                                    \
        _Pragma("unroll") for (int i = 0; i < 16; i++) v[i] = t_[i];                                         \
    } while (0)
__kernel void conv_dyt(__global const float *dy, __global float *dyt, const int offDyt, const int CO, const int NP)
{
    const int COP = (CO + 15) / 16 * 16, p0 = get_global_id(0) * 16, cb0 = get_global_id(1) * 16 * DYT_CB;
    if (p0 >= NP || cb0 >= COP) return;
    const int cb1 = min(COP, cb0 + 16 * DYT_CB);
    for (int c0 = cb0; c0 < cb1; c0 += 16) {
        __global float *d = dyt + offDyt + (size_t)p0 * COP + c0;
        if (p0 + 16 > NP) {
            for (int p = 0; p < NP - p0; p++)
                for (int c = 0; c < 16; c++)
                    d[(size_t)p * COP + c] = c0 + c < CO ? dy[(size_t)(c0 + c) * NP + p0 + p] : 0.0f;
            continue;
        }
        float16 v[16];
        _Pragma("unroll") for (int c = 0; c < 16; c++)
            v[c] = c0 + c < CO ? vload16(0, dy + (size_t)(c0 + c) * NP + p0) : (float16)(0.0f);
        DYT_ROUND(v);
        DYT_ROUND(v);
        DYT_ROUND(v);
        DYT_ROUND(v);
        _Pragma("unroll") for (int p = 0; p < 16; p++) vstore16(v[p], 0, d + (size_t)p * COP);
    }
}

/* conv_dw_kK: weight gradient of a KxK convolution without im2col,
 * dW[co][ci][kh][kw] = sum over (n, oh, ow) of dy[co][n][oh][ow] * xp[ci][n][oh+kh][ow+kw]
 * (xp: the forward input padded by p as conv_pad; dyT from conv_dyt). One work-item per (input
 * channel, 16*CB output channels, block nb of IB images) walks its images in a fixed order and
 * writes its partial sums at nb * partStride from offG (the host adds the blocks in order with
 * colsum: deterministic, no atomics; one block of N images writes dW itself). Image blocks keep
 * a block's dyT in cache for the items of all input channels, which run one after another
 * (measured on POCL 3.1, 2-core Sapphire Rapids, batch 64, dyT + dW + colsum: 5x5 32->64 on 14x14
 * 9.06 -> 7.46 ms, 3x3 16->16 on 28x28 5.09 -> 3.70 ms with 512 KiB blocks). Per image it makes K
 * passes, one per kh, each over the image's pixels with CB*K float16 accumulators in registers (lanes = output channels): per pixel CB dy
 * loads and K broadcasts feed CB*K FMAs, and the image's dy block (OH*OW*16*CB floats) is re-read
 * from the cache K times instead of streaming the whole dyT per (ci, kh). Each pass takes only
 * the rows whose input row is inside the image (p the padding; rows of zeros are skipped: a 5x5
 * with p 2 on 14x14 makes 64 of 70 row passes, 4-5% faster). Channel blocks past COP re-read
 * valid data (computed, not stored; the host takes this kernel only where CB blocks divide
 * COP/16, and for 5x5: conv_dw_k3_c* below serve 3x3). Overwrites dW (or its block's partial). */
#define CONV_DW(K, CB)                                                                                       \
    __kernel void conv_dw_k##K(__global const float *xp, const int offXp, __global const float *dyt,        \
                               const int offDyt, __global float *grads, const int offG, const int N,         \
                               const int CI, const int CO, const int HP, const int WP, const int p,          \
                               const int IB, const int partStride)                                           \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, COP = (CO + 15) / 16 * 16, H = HP - 2 * p;              \
        const int ci = get_global_id(0), cob = get_global_id(1), nb = get_global_id(2);                      \
        if (ci >= CI || cob * 16 * CB >= CO) return;                                                         \
        const int n1 = min(N, (nb + 1) * IB);                                                                \
        float16 sum[K][CB][K];                                                                               \
        _Pragma("unroll") for (int h = 0; h < K; h++)                                                        \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                   \
                _Pragma("unroll") for (int t = 0; t < K; t++) sum[h][b][t] = (float16)(0.0f);                \
        int wo[CB];                                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
        const int P = OH * OW;                                                                               \
        for (int n = nb * IB; n < n1; n++) {                                                                 \
            __global const float *dn = dyt + offDyt + (size_t)n * P * COP + cob * 16 * CB;                   \
            __global const float *xn = xp + offXp + ((size_t)ci * N + n) * HP * WP;                          \
            _Pragma("nounroll") for (int kh = 0; kh < K; kh++) {                                             \
                float16 acc[CB][K];                                                                          \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                               \
                    _Pragma("unroll") for (int t = 0; t < K; t++) acc[b][t] = sum[kh][b][t];                 \
                const int oh0 = max(0, p - kh), oh1 = min(OH, p + H - kh);                                   \
                for (int oh = oh0; oh < oh1; oh++) {                                                         \
                    __global const float *xr = xn + (oh + kh) * WP;                                          \
                    __global const float *dr = dn + (size_t)oh * OW * COP;                                   \
                    for (int ow = 0; ow < OW; ow++) {                                                        \
                        float16 dv[CB];                                                                      \
                        _Pragma("unroll") for (int b = 0; b < CB; b++) dv[b] = vload16(0, dr + wo[b]);       \
                        dr += COP;                                                                           \
                        _Pragma("unroll") for (int t = 0; t < K; t++) {                                      \
                            const float16 xv = (float16)(xr[ow + t]);                                        \
                            _Pragma("unroll") for (int b = 0; b < CB; b++)                                   \
                                acc[b][t] = fma(xv, dv[b], acc[b][t]);                                       \
                        }                                                                                    \
                    }                                                                                        \
                }                                                                                            \
                _Pragma("unroll") for (int b = 0; b < CB; b++)                                               \
                    _Pragma("unroll") for (int t = 0; t < K; t++) sum[kh][b][t] = acc[b][t];                 \
            }                                                                                                \
        }                                                                                                    \
        float tmp[K * CB * K * 16];                                                                          \
        _Pragma("unroll") for (int h = 0; h < K; h++)                                                        \
            _Pragma("unroll") for (int b = 0; b < CB; b++)                                                   \
                _Pragma("unroll") for (int t = 0; t < K; t++) vstore16(sum[h][b][t], (h * CB + b) * K + t, tmp); \
        const int nco = min(16 * CB, CO - cob * 16 * CB);                                                    \
        for (int l = 0; l < nco; l++) {                                                                      \
            __global float *g = grads + offG + (size_t)nb * partStride + ((size_t)(cob * 16 * CB + l) * CI + ci) * K * K; \
            for (int h = 0; h < K; h++)                                                                      \
                for (int t = 0; t < K; t++) g[h * K + t] = tmp[((h * CB + l / 16) * K + t) * 16 + l % 16];   \
        }                                                                                                    \
    }
#ifndef DW5_CB
#define DW5_CB 4
#endif
CONV_DW(5, DW5_CB)

/* conv_dw_kK_cCB: the same gradient with every tap in one pass: one work-item per (input channel,
 * 16*CB output channels) keeps CB*K*K float16 accumulators (lanes = output channels) and walks
 * each image once; per pixel CB dy loads and K*K broadcasts of the padded input feed CB*K*K
 * FMAs. For layers whose channel count is not a multiple of 64 (CB 1 or 2: no block computes
 * channels it does not store) and with enough accumulators to hide the FMA latency at CB 1.
 * p is unused (taps over the padding are not skipped here: per-tap tests at the edges cost more
 * than the products they saved, 3x3 on 7x7 to 28x28). Image blocks as conv_dw_kK. Fixed
 * summation order per output (deterministic). Overwrites dW (or its block's partial). */
/* one image n of conv_dw_kK_cCB: every output pixel, all K*K taps of the padded input xp */
#define DWA_IMAGE_PADDED(K, CB)                                                                              \
    {                                                                                                        \
        __global const float *xn = xp + offXp + ((size_t)ci * N + n) * HP * WP;                              \
        for (int oh = 0; oh < OH; oh++) {                                                                    \
            __global const float *xr = xn + oh * WP;                                                         \
            for (int ow = 0; ow < OW; ow++) {                                                                \
                float16 dv[CB];                                                                              \
                _Pragma("unroll") for (int b = 0; b < CB; b++) dv[b] = vload16(0, dr + wo[b]);               \
                dr += COP;                                                                                   \
                _Pragma("unroll") for (int h = 0; h < K; h++)                                                \
                    _Pragma("unroll") for (int t = 0; t < K; t++) {                                          \
                        const float16 xv = (float16)(xr[h * WP + ow + t]);                                   \
                        _Pragma("unroll") for (int b = 0; b < CB; b++)                                       \
                            acc[b][h * K + t] = fma(xv, dv[b], acc[b][h * K + t]);                           \
                    }                                                                                        \
            }                                                                                                \
        }                                                                                                    \
    }
/* conv_dw_kK##SFX##_cCB: the kernel around IMAGE(K, CB), which walks image n (dr: its dyT at the
 * item's channel block) into acc */
#define CONV_DWA(K, CB, SFX, IMAGE)                                                                          \
    __kernel void conv_dw_k##K##SFX##_c##CB(__global const float *xp, const int offXp, __global const float *dyt, \
                                            const int offDyt, __global float *grads, const int offG, const int N, \
                                            const int CI, const int CO, const int HP, const int WP, const int p, \
                                            const int IB, const int partStride)                              \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, COP = (CO + 15) / 16 * 16;                               \
        const int ci = get_global_id(0), cob = get_global_id(1), nb = get_global_id(2);                      \
        if (ci >= CI || cob * 16 * CB >= CO) return;                                                         \
        const int n1 = min(N, (nb + 1) * IB);                                                                \
        float16 acc[CB][K * K];                                                                              \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int t = 0; t < K * K; t++) acc[b][t] = (float16)(0.0f);                   \
        int wo[CB];                                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++) wo[b] = (cob * CB + b) * 16 < COP ? b * 16 : 0;       \
        for (int n = nb * IB; n < n1; n++) {                                                                 \
            __global const float *dr = dyt + offDyt + (size_t)n * OH * OW * COP + cob * 16 * CB;             \
            IMAGE(K, CB)                                                                                     \
        }                                                                                                    \
        float tmp[CB * K * K * 16];                                                                          \
        _Pragma("unroll") for (int b = 0; b < CB; b++)                                                       \
            _Pragma("unroll") for (int t = 0; t < K * K; t++) vstore16(acc[b][t], b * K * K + t, tmp);       \
        const int nco = min(16 * CB, CO - cob * 16 * CB);                                                    \
        for (int l = 0; l < nco; l++) {                                                                      \
            __global float *g = grads + offG + (size_t)nb * partStride + ((size_t)(cob * 16 * CB + l) * CI + ci) * K * K; \
            for (int t = 0; t < K * K; t++) g[t] = tmp[((l / 16) * K * K + t) * 16 + l % 16];                \
        }                                                                                                    \
    }
CONV_DWA(3, 1, , DWA_IMAGE_PADDED)
CONV_DWA(3, 2, , DWA_IMAGE_PADDED)
CONV_DWA(5, 1, , DWA_IMAGE_PADDED)

/* conv_dw_k3s_cCB: conv_dw_k3_cCB for a "same" 3x3 convolution (stride 1, padding 1) reading the
 * unpadded input x (CI, N, H, W) instead of conv_pad's copy (HP, WP and p as the padded kernel's
 * arguments; at least 2 output columns). The first and last row and column of the output are
 * peeled: their taps over the padding take 0 (the FMA still runs), so the sums are the padded
 * kernel's, term for term. */
#define DWS_PIX(CB, HLO, HHI, TLO, THI, ow)                                                                  \
    {                                                                                                        \
        float16 dv[CB];                                                                                      \
        _Pragma("unroll") for (int b = 0; b < CB; b++) dv[b] = vload16(0, dr + wo[b]);                       \
        dr += COP;                                                                                           \
        _Pragma("unroll") for (int h = 0; h < 3; h++)                                                        \
            _Pragma("unroll") for (int t = 0; t < 3; t++) {                                                  \
                const float16 xv = (float16)(h < HLO || h >= HHI || t < TLO || t >= THI ? 0.0f : xb[h * W + (ow) + t]); \
                _Pragma("unroll") for (int b = 0; b < CB; b++) acc[b][h * 3 + t] = fma(xv, dv[b], acc[b][h * 3 + t]); \
            }                                                                                                \
    }
/* one output row oh (xb: input row oh - 1, column -1; rows HLO-1 .. HHI-2 around oh exist): the
 * first pixel, the middle ones, the last (OW >= 2: the host takes these kernels for 7 or more) */
#define DWS_ROW(CB, HLO, HHI)                                                                                \
    {                                                                                                        \
        DWS_PIX(CB, HLO, HHI, 1, 3, 0)                                                                       \
        for (int ow = 1; ow < OW - 1; ow++) DWS_PIX(CB, HLO, HHI, 0, 3, ow)                                  \
        DWS_PIX(CB, HLO, HHI, 0, 2, OW - 1)                                                                  \
        xb += W;                                                                                             \
    }
/* one image n of conv_dw_k3s_cCB: rows peeled as above on the unpadded input (W = OW columns) */
#define DWA_IMAGE_SAME(K, CB)                                                                                \
    {                                                                                                        \
        const int W = OW;                                                                                    \
        /* input row -1, column -1 (never read there): a signed offset, no size_t wrap-around */             \
        __global const float *xb = xp + ((long)offXp + (long)(((size_t)ci * N + n) * OH * W) - W - 1);      \
        if (OH == 1) {                                                                                       \
            DWS_ROW(CB, 1, 2)                                                                                \
        } else {                                                                                             \
            DWS_ROW(CB, 1, 3)                                                                                \
            for (int oh = 1; oh < OH - 1; oh++) DWS_ROW(CB, 0, 3)                                            \
            DWS_ROW(CB, 0, 2)                                                                                \
        }                                                                                                    \
    }
CONV_DWA(3, 1, s, DWA_IMAGE_SAME)
CONV_DWA(3, 2, s, DWA_IMAGE_SAME)

/* conv_dw1_kK: weight and bias gradient of a KxK convolution with one input channel (a network's
 * first layer) straight from dy (CO, N, OH, OW) and xp (N, HP, WP) as conv_pad leaves it, no
 * conv_dyt: dW[co][kh][kw] = sum over (n, oh, ow) of dy[co][n][oh][ow] * xp[n][oh+kh][ow+kw],
 * db[co] = sum of dy[co]. One work-item per output channel keeps K*K float16 accumulators (lanes
 * = 16 output columns) and walks two dy rows at a time: each of the (K+1)*K shifted input loads
 * feeds the FMAs of both rows. The last vector of a row is masked (lanes past OW are zero, and
 * the dy loads never pass the end of dy); the input loads of that vector may read up to 15 floats
 * past the end of xp (the host zeroes them:
 * 0 x NaN would poison a masked lane's sum). Fixed summation order
 * (deterministic). Overwrites dW and db (hasBias). */
#define CONV_DW1(K)                                                                                          \
    __kernel void conv_dw1_k##K(__global const float *xp, const int offXp, __global const float *dy,        \
                                __global float *grads, const int offG, const int offB, const int hasBias,    \
                                const int N, const int CO, const int HP, const int WP)                      \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, co = get_global_id(0);                                   \
        if (co >= CO) return;                                                                                \
        const int rem = OW % 16;                                                                             \
        const int16 lane = (int16)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                    \
        const int16 tail = lane < (int16)(rem);                                                              \
        const size_t total = (size_t)CO * N * OH * OW;                                                       \
        float16 acc[K * K], bs = (float16)(0.0f);                                                            \
        _Pragma("unroll") for (int t = 0; t < K * K; t++) acc[t] = (float16)(0.0f);                          \
        for (int n = 0; n < N; n++) {                                                                        \
            const size_t d0 = ((size_t)co * N + n) * OH * OW;                                                \
            __global const float *xn = xp + offXp + (size_t)n * HP * WP;                                     \
            for (int oh = 0; oh < OH; oh += 2) {                                                             \
                const int two = oh + 1 < OH;                                                                 \
                for (int ow0 = 0; ow0 < OW; ow0 += 16) {                                                     \
                    float16 dv[2];                                                                           \
                    _Pragma("unroll") for (int r = 0; r < 2; r++) {                                          \
                        const size_t at = d0 + (size_t)(oh + (r & two)) * OW + ow0;                          \
                        if (ow0 + 16 <= OW) {                                                                \
                            dv[r] = vload16(0, dy + at);                                                     \
                        } else if (at + 16 <= total) {                                                       \
                            dv[r] = select((float16)(0.0f), vload16(0, dy + at), tail);                      \
                        } else {                                                                             \
                            float t16[16];                                                                   \
                            for (int l = 0; l < 16; l++) t16[l] = l < rem ? dy[at + l] : 0.0f;               \
                            dv[r] = vload16(0, t16);                                                         \
                        }                                                                                    \
                    }                                                                                        \
                    if (!two) dv[1] = (float16)(0.0f);                                                       \
                    bs += dv[0] + dv[1];                                                                     \
                    __global const float *xr = xn + oh * WP + ow0;                                           \
                    _Pragma("unroll") for (int t = 0; t < K; t++) {                                          \
                        const float16 xv = vload16(0, xr + t);                                               \
                        acc[t] = fma(dv[0], xv, acc[t]);                                                     \
                    }                                                                                        \
                    _Pragma("unroll") for (int r = 1; r < K; r++)                                            \
                        _Pragma("unroll") for (int t = 0; t < K; t++) {                                      \
                            const float16 xv = vload16(0, xr + r * WP + t);                                  \
                            acc[r * K + t] = fma(dv[0], xv, acc[r * K + t]);                                 \
                            acc[(r - 1) * K + t] = fma(dv[1], xv, acc[(r - 1) * K + t]);                     \
                        }                                                                                    \
                    if (two)                                                                                 \
                        _Pragma("unroll") for (int t = 0; t < K; t++) {                                      \
                            const float16 xv = vload16(0, xr + K * WP + t);                                  \
                            acc[(K - 1) * K + t] = fma(dv[1], xv, acc[(K - 1) * K + t]);                     \
                        }                                                                                    \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
        _Pragma("unroll") for (int t = 0; t < K * K; t++) grads[offG + co * K * K + t] = ct_hsum16(acc[t]);  \
        if (hasBias) grads[offB + co] = ct_hsum16(bs);                                                       \
    }
CONV_DW1(3)
CONV_DW1(5)

/* conv_fwd1_kK: forward of a KxK convolution with one input channel, y (CO, N, OH, OW) = conv(xp
 * (N, HP, WP) as conv_pad leaves it, W (CO, 1, K, K)) (+ bias), lanes = 16 output columns (the
 * rows are stored with vector stores, no transposes): one work-item per (FWD1_CB output channels,
 * image, two output rows) holds 4*FWD1_CB float16 accumulators per 32 columns (two vectors); each
 * of the (K+1)*K pairs of shifted input loads feeds the FMAs of both rows and every channel, each
 * weight broadcast two vectors (DigitCNN conv1: 8 channels x 16 columns 1.23 -> 4 x 32 0.89 ms). A last vector narrower than 16 computes lanes it does not store, reading up
 * to 31 floats past the end of xp (the host zeroes them:
 * 0 x NaN would poison a masked lane's sum). Channels past CO
 * repeat the last one (computed, not stored). */
#ifndef FWD1_CB
#define FWD1_CB 4
#endif
inline void conv1_store_part(const float16 v, const int n, __global float *p)
{
    if (n >= 16) {
        vstore16(v, 0, p);
        return;
    }
    float8 a = v.lo;
    int o = 0;
    if (n & 8) {
        vstore8(v.lo, 0, p);
        a = v.hi;
        o = 8;
    }
    float4 b = a.lo;
    if (n & 4) {
        vstore4(a.lo, 0, p + o);
        b = a.hi;
        o += 4;
    }
    float2 c = b.lo;
    if (n & 2) {
        vstore2(b.lo, 0, p + o);
        c = b.hi;
        o += 2;
    }
    if (n & 1) p[o] = c.x;
}
#define CONV_FWD1(K)                                                                                         \
    __kernel void conv_fwd1_k##K(__global const float *xp, const int offXp, __global const float *w,        \
                                 const int offW, __global const float *bias, const int offBias,              \
                                 const int hasBias, __global float *y, const int N, const int CO, const int HP, \
                                 const int WP)                                                               \
    {                                                                                                        \
        const int OH = HP - K + 1, OW = WP - K + 1, RT = (OH + 1) / 2;                                       \
        const int cob = get_global_id(0), nr = get_global_id(1);                                             \
        if (cob * FWD1_CB >= CO || nr >= N * RT) return;                                                     \
        const int n = nr / RT, oh = (nr - n * RT) * 2, two = oh + 1 < OH;                                    \
        __global const float *wb[FWD1_CB];                                                                   \
        float bs[FWD1_CB];                                                                                   \
        _Pragma("unroll") for (int b = 0; b < FWD1_CB; b++) {                                                \
            const int co = min(cob * FWD1_CB + b, CO - 1);                                                   \
            wb[b] = w + offW + co * K * K;                                                                   \
            bs[b] = hasBias ? bias[offBias + co] : 0.0f;                                                     \
        }                                                                                                    \
        __global const float *xr = xp + offXp + ((size_t)n * HP + oh) * WP;                                  \
        __global float *yb = y + ((size_t)(cob * FWD1_CB) * N + n) * OH * OW + (size_t)oh * OW;               \
        const size_t cstr = (size_t)N * OH * OW;                                                             \
        for (int ow0 = 0; ow0 < OW; ow0 += 32) {                                                             \
            float16 acc[FWD1_CB][2][2]; /* channel, row, column vector */                                    \
            _Pragma("unroll") for (int b = 0; b < FWD1_CB; b++)                                              \
                acc[b][0][0] = acc[b][0][1] = acc[b][1][0] = acc[b][1][1] = (float16)(bs[b]);                \
            _Pragma("unroll") for (int r = 0; r <= K; r++)                                                   \
                _Pragma("unroll") for (int t = 0; t < K; t++) {                                              \
                    if (r == K && !two) continue; /* no break: it would stop the unrolling */                \
                    const float16 x0 = vload16(0, xr + r * WP + ow0 + t);                                    \
                    const float16 x1 = vload16(0, xr + r * WP + ow0 + 16 + t);                               \
                    _Pragma("unroll") for (int b = 0; b < FWD1_CB; b++) {                                    \
                        if (r < K) {                                                                         \
                            const float16 wv = (float16)(wb[b][r * K + t]);                                  \
                            acc[b][0][0] = fma(wv, x0, acc[b][0][0]);                                        \
                            acc[b][0][1] = fma(wv, x1, acc[b][0][1]);                                        \
                        }                                                                                    \
                        if (r > 0) {                                                                         \
                            const float16 wv = (float16)(wb[b][(r - 1) * K + t]);                            \
                            acc[b][1][0] = fma(wv, x0, acc[b][1][0]);                                        \
                            acc[b][1][1] = fma(wv, x1, acc[b][1][1]);                                        \
                        }                                                                                    \
                    }                                                                                        \
                }                                                                                            \
            _Pragma("unroll") for (int v = 0; v < 2; v++) {                                                  \
                const int nw = min(16, OW - ow0 - 16 * v);                                                   \
                _Pragma("unroll") for (int b = 0; b < FWD1_CB; b++) {                                        \
                    if (nw <= 0 || cob * FWD1_CB + b >= CO) continue;                                        \
                    conv1_store_part(acc[b][0][v], nw, yb + b * cstr + ow0 + 16 * v);                        \
                    if (two) conv1_store_part(acc[b][1][v], nw, yb + b * cstr + OW + ow0 + 16 * v);          \
                }                                                                                            \
            }                                                                                                \
        }                                                                                                    \
    }
CONV_FWD1(3)
CONV_FWD1(5)
