/* reduce.cl: sums used for bias gradients.
 *  rowsum: out[r] = sum_j x[r*L + j] (conv bias: rows are output channels of (CO, N*OH*OW))
 *  colsum: out[j] = sum_r x[r*L + j] (FC bias: columns of (N, F); the image blocks' partial
 *          weight gradients of conv_dw_k*) */

__kernel void rowsum(__global const float *x, __global float *out, const int offOut, const int L)
{
    __local float scratch[RED_LS];
    const int r = get_group_id(0);
    const float s = ct_group_sum_array(x + (size_t)r * L, L, scratch);
    if (get_local_id(0) == 0) out[offOut + r] = s;
}

__kernel void colsum(__global const float *x, const int offX, __global float *out, const int offOut, const int R,
                     const int L)
{
    const int j = get_global_id(0);
    if (j >= L) return;
    float s = 0.0f;
    for (int r = 0; r < R; r++) s += x[offX + (size_t)r * L + j];
    out[offOut + j] = s;
}

/* colsum16: colsum for L a multiple of 16, 16 columns per work-item (the same sums, row order) */
__kernel void colsum16(__global const float *x, const int offX, __global float *out, const int offOut, const int R,
                       const int L)
{
    const int j = get_global_id(0) * 16;
    if (j >= L) return;
    float16 s = (float16)(0.0f);
    for (int r = 0; r < R; r++) s += vload16(0, x + offX + (size_t)r * L + j);
    vstore16(s, 0, out + offOut + j);
}
