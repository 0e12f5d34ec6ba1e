/* pool.cl: 2x2 max pooling and adaptive average pooling on channel-major planes.
 *  maxpool2_fwd/bwd: P planes (C*N) of H x W -> H/2 x W/2 (floor). Backward routes the gradient
 *      to the first maximum of each window in row-major order (NaN counts as a maximum), as
 *      PyTorch's CPU kernel; gathered per input element, so no atomics.
 *  avgpool_fwd/bwd: AdaptiveAvgPool2d with PyTorch's windows [floor(i*H/OH), ceil((i+1)*H/OH)),
 *      reading (C, N, H, W) and writing the flattened (N, C*OH*OW) rows the FC layers take. */

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

__kernel void maxpool2_fwd(__global const float *x, __global float *y, const int P, const int H, const int W)
{
    const int OH = H / 2, OW = W / 2;
    const int o = get_global_id(0);
    if (o >= P * OH * OW) return;
    const int ow = o % OW, oh = (o / OW) % OH, p = o / (OW * OH);
    __global const float *w = x + ((size_t)p * H + 2 * oh) * W + 2 * ow;
    const int a = ct_window_argmax(w, W);
    y[o] = w[(a >> 1) * W + (a & 1)];
}

__kernel void maxpool2_bwd(__global const float *x, __global const float *dy, __global float *dx, const int P,
                           const int H, const int W)
{
    const int OH = H / 2, OW = W / 2;
    const int i = get_global_id(0);
    if (i >= P * H * W) return;
    const int iw = i % W, ih = (i / W) % H, p = i / (W * H);
    const int oh = ih >> 1, ow = iw >> 1;
    float g = 0.0f;
    if (oh < OH && ow < OW) {
        __global const float *w = x + ((size_t)p * H + 2 * oh) * W + 2 * ow;
        const int a = ct_window_argmax(w, W);
        if (a == ((ih & 1) << 1 | (iw & 1))) g = dy[((size_t)p * OH + oh) * OW + ow];
    }
    dx[i] = g;
}

__kernel void avgpool_fwd(__global const float *x, __global float *y, const int C, const int N, const int H,
                          const int W, const int OH, const int OW)
{
    const int o = get_global_id(0); /* index into (N, C, OH, OW) */
    if (o >= N * C * OH * OW) return;
    const int ow = o % OW, oh = (o / OW) % OH, c = (o / (OW * OH)) % C, n = o / (OW * OH * C);
    const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
    const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
    __global const float *plane = x + (size_t)(c * N + n) * H * W;
    float s = 0.0f;
    for (int h = h0; h < h1; h++)
        for (int w = w0; w < w1; w++) s += plane[h * W + w];
    y[o] = s / (float)((h1 - h0) * (w1 - w0));
}

__kernel void avgpool_bwd(__global const float *dy, __global float *dx, const int C, const int N, const int H,
                          const int W, const int OH, const int OW)
{
    const int i = get_global_id(0); /* index into (C, N, H, W) */
    if (i >= C * N * H * W) return;
    const int iw = i % W, ih = (i / W) % H, n = (i / (W * H)) % N, c = i / (W * H * N);
    float g = 0.0f;
    for (int oh = 0; oh < OH; oh++) {
        const int h0 = (oh * H) / OH, h1 = ((oh + 1) * H + OH - 1) / OH;
        if (ih < h0 || ih >= h1) continue;
        for (int ow = 0; ow < OW; ow++) {
            const int w0 = (ow * W) / OW, w1 = ((ow + 1) * W + OW - 1) / OW;
            if (iw < w0 || iw >= w1) continue;
            g += dy[((size_t)(n * C + c) * OH + oh) * OW + ow] / (float)((h1 - h0) * (w1 - w0));
        }
    }
    dx[i] = g;
}
