/* conv.cl: the data movement around the convolution GEMMs (stride 1, zero padding).
 * Activations are channel-major (C, N, H, W): a convolution is then W(CO, CI*KH*KW) x
 * col(CI*KH*KW, N*OH*OW) and its result is already (CO, N, OH, OW).
 *  conv_im2col: x (CI,N,H,W) -> col (CI*KH*KW, N*OH*OW), rows ordered (ci, kh, kw) like PyTorch's weight.
 *  conv_col2im: dcol (CI*KH*KW, N*OH*OW) -> dx (CI,N,H,W) by gathering (no atomics, deterministic). */

__kernel void conv_im2col(__global const float *x, __global float *col, const int N, const int CI, const int H,
                          const int W, const int KH, const int KW, const int pad, const int OH, const int OW)
{
    const int noh = get_global_id(0); /* n*OH + oh */
    const int r = get_global_id(1);   /* (ci*KH + kh)*KW + kw */
    if (noh >= N * OH || r >= CI * KH * KW) return;
    const int kw = r % KW, kh = (r / KW) % KH, ci = r / (KW * KH);
    const int n = noh / OH, oh = noh - n * OH;
    const int ih = oh + kh - pad;
    __global float *dst = col + (size_t)r * (size_t)(N * OH * OW) + (size_t)noh * OW;
    if (ih < 0 || ih >= H) {
        for (int ow = 0; ow < OW; ow++) dst[ow] = 0.0f;
        return;
    }
    __global const float *src = x + ((size_t)(ci * N + n) * H + ih) * W;
    for (int ow = 0; ow < OW; ow++) {
        const int iw = ow + kw - pad;
        dst[ow] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
    }
}

__kernel void conv_col2im(__global const float *dcol, __global float *dx, const int N, const int CI, const int H,
                          const int W, const int KH, const int KW, const int pad, const int OH, const int OW)
{
    const int nih = get_global_id(0); /* n*H + ih */
    const int ci = get_global_id(1);
    if (nih >= N * H || ci >= CI) return;
    const int n = nih / H, ih = nih - n * H;
    const size_t NP = (size_t)N * OH * OW;
    __global float *dst = dx + ((size_t)(ci * N + n) * H + ih) * W;
    for (int iw = 0; iw < W; iw++) {
        float s = 0.0f;
        for (int kh = 0; kh < KH; kh++) {
            const int oh = ih + pad - kh;
            if (oh < 0 || oh >= OH) continue;
            for (int kw = 0; kw < KW; kw++) {
                const int ow = iw + pad - kw;
                if (ow < 0 || ow >= OW) continue;
                s += dcol[(size_t)((ci * KH + kh) * KW + kw) * NP + (size_t)(n * OH + oh) * OW + ow];
            }
        }
        dst[iw] = s;
    }
}
