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
