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
