/* common.cl: macros shared by every program (prepended by the host).
 * Vector widths come from -D options chosen per device type; each default keeps a file
 * compilable on its own. */
#ifndef EW_VW
#define EW_VW 16
#endif
#ifndef RED_LS
#define RED_LS 1
#endif
#define CT_CAT_(a, b) a##b
#define CT_CAT(a, b) CT_CAT_(a, b)
#define EVEC CT_CAT(float, EW_VW)
#define EVLOAD CT_CAT(vload, EW_VW)
#define EVSTORE CT_CAT(vstore, EW_VW)

/* horizontal sums of vectors */
inline float ct_hsum4(float4 v) { return (v.x + v.y) + (v.z + v.w); }
inline float ct_hsum8(float8 v) { return ct_hsum4(v.lo + v.hi); }
inline float ct_hsum16(float16 v) { return ct_hsum8(v.lo + v.hi); }
inline float ct_hsum2(float2 v) { return v.x + v.y; }
inline float ct_hsum1(float v) { return v; }
#define EW_HSUM CT_CAT(ct_hsum, EW_VW)

/* Sum of a per-work-group value over RED_LS work-items, result returned to every item.
 * With RED_LS == 1 (CPU devices) it is a no-op. `scratch` holds RED_LS floats. */
inline float ct_group_sum(float v, __local float *scratch)
{
#if RED_LS == 1
    return v;
#else
    const int l = get_local_id(0);
    scratch[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = RED_LS / 2; s > 0; s >>= 1) {
        if (l < s) scratch[l] += scratch[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = scratch[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
#endif
}

/* Sum of x[0..n) by one work-group of RED_LS items, vectorised by EW_VW. */
inline float ct_group_sum_array(__global const float *x, const int n, __local float *scratch)
{
    const int l = get_local_id(0);
    EVEC acc = (EVEC)(0.0f);
    const int nv = n / EW_VW;
    for (int i = l; i < nv; i += RED_LS) acc += EVLOAD(i, x);
    float s = EW_HSUM(acc);
    for (int i = nv * EW_VW + l; i < n; i += RED_LS) s += x[i];
    return ct_group_sum(s, scratch);
}

/* v[16] (rows) transposed in place: four rounds of interleaving rows r and r + h (h = 8, 4, 2, 1) */
inline void ct_transpose16(float16 *v)
{
    const uint16 lo = (uint16)(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), hi = lo + (uint16)(8);
    for (int h = 8; h >= 1; h /= 2)
        for (int r = 0; r < 16; r++)
            if (!(r & h)) {
                const float16 a = v[r], b = v[r + h];
                v[r] = shuffle2(a, b, lo);
                v[r + h] = shuffle2(a, b, hi);
            }
}

/* p[0..n-1] = lanes j*8.. of v (n = 7) or lanes 0.. of v (n = 14): rows of the direct and fused convolutions' tiles */
inline void ct_store_seg(const float16 v, const int j, const int n, __global float *p)
{
    if (n == 14) {
        vstore8(v.lo, 0, p);
        vstore4(v.s89ab, 0, p + 8);
        vstore2(v.scd, 0, p + 12);
    } else {
        const float8 h = j ? v.hi : v.lo;
        vstore4(h.lo, 0, p);
        vstore2(h.s45, 0, p + 4);
        p[6] = h.s6;
    }
}

/* ct_store_seg, adding what p holds first where acc (the gradients of a layer read by several) */
inline void ct_store_seg_acc(float16 v, const int j, const int n, __global float *p, const int acc)
{
    if (acc) {
        if (n == 14) {
            v.lo += vload8(0, p);
            v.s89ab += vload4(0, p + 8);
            v.scd += vload2(0, p + 12);
        } else {
            float8 h = j ? v.hi : v.lo;
            h.lo += vload4(0, p);
            h.s45 += vload2(0, p + 4);
            h.s6 += p[6];
            if (j)
                v.hi = h;
            else
                v.lo = h;
        }
    }
    ct_store_seg(v, j, n, p);
}

/* copy n floats from s to d (n >= 0): float16 chunks, the last one moved back to overlap the one
 * before (the same values written twice); rows under 16 take two overlapping float8 or float4 */
inline void ct_copy_row(__global const float *s, __global float *d, const int n)
{
    if (n >= 16) {
        for (int j = 0;; j += 16) {
            if (j + 16 > n) j = n - 16;
            vstore16(vload16(0, s + j), 0, d + j);
            if (j + 16 >= n) break;
        }
    } else if (n >= 8) {
        vstore8(vload8(0, s), 0, d);
        vstore8(vload8(0, s + n - 8), 0, d + n - 8);
    } else if (n >= 4) {
        vstore4(vload4(0, s), 0, d);
        vstore4(vload4(0, s + n - 4), 0, d + n - 4);
    } else {
        for (int j = 0; j < n; j++) d[j] = s[j];
    }
}

/* d[0..n) = 0 */
inline void ct_zero_row(__global float *d, const int n)
{
    int j = 0;
    for (; j + 16 <= n; j += 16) vstore16((float16)(0.0f), 0, d + j);
    for (; j < n; j++) d[j] = 0.0f;
}

/* d (HP, WP) = s (H, W) at rows pt.., columns pl.. (pt, pl >= 0), zeros around; what falls past
 * HP or WP is cut */
inline void ct_pad_plane(__global const float *s, __global float *d, const int H, const int W, const int pt,
                         const int pl, const int HP, const int WP)
{
    const int h0 = min(pt, HP), h1 = min(pt + H, HP);
    const int lo = min(pl, WP), hi = min(pl + W, WP);
    ct_zero_row(d, h0 * WP);
    for (int hp = h0; hp < h1; hp++) {
        __global float *r = d + (size_t)hp * WP;
        for (int j = 0; j < lo; j++) r[j] = 0.0f;
        ct_copy_row(s + (size_t)(hp - pt) * W, r + lo, hi - lo);
        for (int j = hi; j < WP; j++) r[j] = 0.0f;
    }
    ct_zero_row(d + (size_t)h1 * WP, (HP - h1) * WP);
}

/* input j (0 <= j < TC + K - 1) of a tile row of a "same" convolution (stride 1, p = K/2, K odd)
 * read from the unpadded row xr, which points at the tile's first column ow0: xr[j - p], or 0
 * where that column falls outside [0, W) (only the first and last p can: the others lie in
 * [ow0, ow0 + TC) <= W). The address stays inside the row either way. */
inline float ct_same_ld(__global const float *xr, const int j, const int K, const int TC, const int ow0, const int W)
{
    const int P = K / 2, col = ow0 - P + j;
    if (j < P) {
        const float v = xr[col >= 0 ? j - P : 0];
        return col >= 0 ? v : 0.0f;
    }
    if (j >= TC + P) {
        const float v = xr[col < W ? j - P : TC - 1];
        return col < W ? v : 0.0f;
    }
    return xr[j - P];
}
