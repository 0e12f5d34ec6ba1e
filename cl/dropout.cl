/* dropout.cl: Dropout and Dropout2d. Masks hold the kept scale 1/(1-p) or 0, drawn from
 * Philox with counter (base + index, stream, step, 0) and key = the 64-bit seed; base = the
 * mask's offset in the global batch (data-parallel runs: the masks do not depend on the split).
 *  dropout_mask:         mask[i] for i < count
 *  dropout_apply:        y = x * mask elementwise (Dropout on (N, F); also its backward)
 *  dropout_apply_planes: x (C, N, H*W) channel-major, mask (N, C): whole channels (Dropout2d) */

__constant uint ct_lanes[16] = {0u, 1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u, 15u};
#define UVEC CT_CAT(uint, EW_VW)

/* EW_VW masks per work-item: the Philox rounds of ct_philox4x32_10 on vectors of counters (POCL
 * does not vectorise across work-items; this was half of an MLP training step), the same numbers
 * as one call per element; the last work-item does the scalar tail. */
__kernel void dropout_mask(__global float *mask, const int count, const float p, const float scale,
                           const uint seed_lo, const uint seed_hi, const uint stream, const uint step,
                           const uint base)
{
    const int i0 = get_global_id(0) * EW_VW;
    if (i0 >= count) return;
    if (i0 + EW_VW > count) {
        for (int i = i0; i < count; i++) {
            const uint4 r = ct_philox4x32_10((uint4)((uint)i + base, stream, step, 0u), (uint2)(seed_lo, seed_hi));
            mask[i] = ct_u01(r.x) >= p ? scale : 0.0f;
        }
        return;
    }
    UVEC x = (UVEC)((uint)i0 + base) + CT_CAT(vload, EW_VW)(0, ct_lanes), y = (UVEC)(stream), z = (UVEC)(step),
         w = (UVEC)(0u);
    uint k0 = seed_lo, k1 = seed_hi;
    for (int r = 0; r < 10; r++) {
        const UVEC hi0 = mul_hi((UVEC)(0xD2511F53u), x), lo0 = 0xD2511F53u * x;
        const UVEC hi1 = mul_hi((UVEC)(0xCD9E8D57u), z), lo1 = 0xCD9E8D57u * z;
        x = hi1 ^ y ^ k0;
        y = lo1;
        z = hi0 ^ w ^ k1;
        w = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    const EVEC u = CT_CAT(convert_float, EW_VW)(x >> 8) * (1.0f / 16777216.0f);
    EVSTORE(select((EVEC)(0.0f), (EVEC)(scale), isgreaterequal(u, (EVEC)(p))), i0 / EW_VW, mask);
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

/* one work-item per plane (c, n): float16 steps, a scalar tail */
__kernel void dropout_apply_planes(__global const float *x, __global const float *mask, __global float *y,
                                   const int C, const int N, const int HW)
{
    const int cn = get_global_id(0); /* c*N + n */
    if (cn >= C * N) return;
    const int c = cn / N, n = cn - c * N;
    const float m = mask[n * C + c];
    __global const float *xs = x + (size_t)cn * HW;
    __global float *ys = y + (size_t)cn * HW;
    int j = 0;
    for (; j + 16 <= HW; j += 16) vstore16(vload16(0, xs + j) * m, 0, ys + j);
    for (; j < HW; j++) ys[j] = xs[j] * m;
}
