/* augment.cl: turns a batch of raw 28x28 u8 images into normalised floats, with optional
 * random affine augmentation (rotation, translation, scale about the centre, bilinear
 * sampling, zero fill). The transform of image n at `step` comes from
 * Philox(counter = (n, 3, step, 0), key = seed), so it is reproducible on every device.
 * Mirrored by ct_augment_ref() in src/augment.c. */

__kernel void batch_prepare(__global const uchar *src, __global float *dst, const int N, const float mean,
                            const float inv_std, const int augment, const float max_rad, const float max_shift,
                            const float smin, const float smax, const uint seed_lo, const uint seed_hi,
                            const uint step)
{
    const int i = get_global_id(0);
    if (i >= N * 784) return;
    const int n = i / 784, p = i - n * 784, y = p / 28, x = p - y * 28;
    float v;
    if (!augment) {
        v = (float)src[i] * (1.0f / 255.0f);
    } else {
        const uint4 r = ct_philox4x32_10((uint4)((uint)n, 3u, step, 0u), (uint2)(seed_lo, seed_hi));
        const float ang = (2.0f * ct_u01(r.x) - 1.0f) * max_rad;
        const float s = smin + (smax - smin) * ct_u01(r.y);
        const float tx = (2.0f * ct_u01(r.z) - 1.0f) * max_shift;
        const float ty = (2.0f * ct_u01(r.w) - 1.0f) * max_shift;
        const float cs = cos(ang), sn = sin(ang);
        const float dx = (float)x - 13.5f - tx, dy = (float)y - 13.5f - ty;
        const float xi = (cs * dx + sn * dy) / s + 13.5f;
        const float yi = (-sn * dx + cs * dy) / s + 13.5f;
        const float fx0 = floor(xi), fy0 = floor(yi);
        const int x0 = (int)fx0, y0 = (int)fy0;
        const float ax = xi - fx0, ay = yi - fy0;
        __global const uchar *img = src + (size_t)n * 784;
        float acc = 0.0f;
        for (int k = 0; k < 4; k++) {
            const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
            const float w = ((k & 1) ? ax : 1.0f - ax) * ((k >> 1) ? ay : 1.0f - ay);
            if (xx >= 0 && xx < 28 && yy >= 0 && yy < 28) acc += w * (float)img[yy * 28 + xx];
        }
        v = acc * (1.0f / 255.0f);
    }
    dst[i] = (v - mean) * inv_std;
}
