/* augment.cl: turns a batch of raw u8 images (C x H x W each, image after image) into
 * normalised floats laid out channel-major (C, N, H, W) as the network input, with optional
 * random augmentation: an affine transform (rotation, translation, scale about the centre,
 * bilinear sampling, zero fill) and a left-right mirror, the same for every channel of an
 * image. The transform of image n at `step` comes from Philox(counter = (base + n, 3, step, 0),
 * key = seed); the mirror (p = 0.5, when enabled) from Philox(counter = (base + n, 4, step, 0)),
 * base = the batch's first image in the global batch (data-parallel runs). So it is
 * reproducible on every device and for any number of processes. Normalisation is per channel: (v/255 - mean[c]) / std[c].
 * Mirrored by ct_augment_ref() in src/augment.c. */

__kernel void batch_prepare(__global const uchar *src, __global float *dst, const int N, const int C, const int H,
                            const int W, const float m0, const float m1, const float m2, const float m3,
                            const float s0, const float s1, const float s2, const float s3, const int augment, const int hflip,
                            const float max_rad, const float max_shift_x, const float max_shift_y, const float smin,
                            const float smax, const uint seed_lo, const uint seed_hi, const uint step,
                            const uint base)
{
    /* dimension 0: the pixel in the image (channel-major), 1: the image; both stay under POCL's
     * 65535 "small grid" width for MNIST-sized images whatever the batch, so one compiled
     * variant serves training and evaluation batches */
    const int q = get_global_id(0), n = get_global_id(1);
    const int HW = H * W;
    if (q >= C * HW || n >= N) return;
    const int c = q / HW, p = q - c * HW, y = p / W, x = p - y * W;
    const size_t i = ((size_t)c * N + n) * HW + p;
    __global const uchar *img = src + ((size_t)n * C + c) * HW;
    const float m = c == 0 ? m0 : c == 1 ? m1 : c == 2 ? m2 : m3;
    const float is = c == 0 ? s0 : c == 1 ? s1 : c == 2 ? s2 : s3; /* 1 / std */
    float v;
    if (!augment) {
        v = (float)img[p] * (1.0f / 255.0f);
    } else {
        const uint4 rr = ct_philox4x32_10((uint4)((uint)n + base, 3u, step, 0u), (uint2)(seed_lo, seed_hi));
        const float ang = (2.0f * ct_u01(rr.x) - 1.0f) * max_rad;
        const float s = smin + (smax - smin) * ct_u01(rr.y);
        const float tx = (2.0f * ct_u01(rr.z) - 1.0f) * max_shift_x;
        const float ty = (2.0f * ct_u01(rr.w) - 1.0f) * max_shift_y;
        const float cs = cos(ang), sn = sin(ang);
        const float cx = 0.5f * (float)(W - 1), cy = 0.5f * (float)(H - 1);
        const float dx = (float)x - cx - tx, dy = (float)y - cy - ty;
        float xi = (cs * dx + sn * dy) / s + cx;
        const float yi = (-sn * dx + cs * dy) / s + cy;
        if (hflip) {
            const uint4 rf = ct_philox4x32_10((uint4)((uint)n + base, 4u, step, 0u), (uint2)(seed_lo, seed_hi));
            if (ct_u01(rf.x) < 0.5f) xi = (float)(W - 1) - xi;
        }
        const float fx0 = floor(xi), fy0 = floor(yi);
        const int x0 = (int)fx0, y0 = (int)fy0;
        const float ax = xi - fx0, ay = yi - fy0;
        float acc = 0.0f;
        for (int k = 0; k < 4; k++) {
            const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
            const float w = ((k & 1) ? ax : 1.0f - ax) * ((k >> 1) ? ay : 1.0f - ay);
            if (xx >= 0 && xx < W && yy >= 0 && yy < H) acc += w * (float)img[yy * W + xx];
        }
        v = acc * (1.0f / 255.0f);
    }
    dst[i] = (v - m) * is;
}
