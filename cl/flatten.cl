/* flatten.cl: channel-major activations (C, N, HW) <-> rows (N, C*HW) as torch.flatten(x, 1).
 * One work-item per (c, n) block of HW floats; the two layouts differ only in block order.
 *  flatten_fwd: y[n][c*HW + i] = x[c][n][i]
 *  flatten_bwd: dx[c][n][i] = dy[n][c*HW + i] */

__kernel void flatten_fwd(__global const float *x, __global float *y, const int C, const int N, const int HW)
{
    const int c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    __global const float *s = x + ((size_t)c * N + n) * HW;
    __global float *d = y + ((size_t)n * C + c) * HW;
    for (int i = 0; i < HW; i++) d[i] = s[i];
}

__kernel void flatten_bwd(__global const float *dy, __global float *dx, const int C, const int N, const int HW)
{
    const int c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    __global const float *s = dy + ((size_t)n * C + c) * HW;
    __global float *d = dx + ((size_t)c * N + n) * HW;
    for (int i = 0; i < HW; i++) d[i] = s[i];
}
