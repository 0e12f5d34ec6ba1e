/* dropout.cl: Dropout and Dropout2d. Masks hold the kept scale 1/(1-p) or 0, drawn from
 * Philox with counter (base + index, stream, step, 0) and key = the 64-bit seed; base = the
 * mask's offset in the global batch (data-parallel runs: the masks do not depend on the split).
 *  dropout_mask:         mask[i] for i < count
 *  dropout_apply:        y = x * mask elementwise (Dropout on (N, F); also its backward)
 *  dropout_apply_planes: x (C, N, H*W) channel-major, mask (N, C): whole channels (Dropout2d) */

__kernel void dropout_mask(__global float *mask, const int count, const float p, const float scale,
                           const uint seed_lo, const uint seed_hi, const uint stream, const uint step,
                           const uint base)
{
    const int i = get_global_id(0);
    if (i >= count) return;
    const uint4 r = ct_philox4x32_10((uint4)((uint)i + base, stream, step, 0u), (uint2)(seed_lo, seed_hi));
    mask[i] = ct_u01(r.x) >= p ? scale : 0.0f;
}

__kernel void dropout_apply(__global const float *x, __global const float *mask, __global float *y, const int n)
{
    const int i = get_global_id(0);
    if ((i + 1) * EW_VW <= n) {
        EVSTORE(EVLOAD(i, x) * EVLOAD(i, mask), i, y);
    } else {
        for (int j = i * EW_VW; j < n; j++) y[j] = x[j] * mask[j];
    }
}

__kernel void dropout_apply_planes(__global const float *x, __global const float *mask, __global float *y,
                                   const int C, const int N, const int HW)
{
    const int i = get_global_id(0); /* over HW */
    const int cn = get_global_id(1); /* c*N + n */
    if (i >= HW || cn >= C * N) return;
    const int c = cn / N, n = cn - c * N;
    const size_t at = (size_t)cn * HW + i;
    y[at] = x[at] * mask[n * C + c];
}
