/* activation.cl: ReLU forward/backward (vectorised by EW_VW) and the FC epilogue
 * (bias add with optional ReLU on (N, F) rows). ReLU backward uses the forward output. */

__kernel void relu_fwd(__global const float *x, __global float *y, const int n)
{
    const int i = get_global_id(0);
    if ((i + 1) * EW_VW <= n) {
        EVSTORE(fmax(EVLOAD(i, x), (EVEC)(0.0f)), i, y);
    } else {
        for (int j = i * EW_VW; j < n; j++) y[j] = fmax(x[j], 0.0f);
    }
}

__kernel void relu_bwd(__global const float *y, __global const float *dy, __global float *dx, const int n)
{
    const int i = get_global_id(0);
    if ((i + 1) * EW_VW <= n) {
        EVSTORE(select((EVEC)(0.0f), EVLOAD(i, dy), isgreater(EVLOAD(i, y), (EVEC)(0.0f))), i, dx);
    } else {
        for (int j = i * EW_VW; j < n; j++) dx[j] = y[j] > 0.0f ? dy[j] : 0.0f;
    }
}

/* y (N, F) += bias (F), then ReLU when relu != 0; in place */
__kernel void bias_act_fwd(__global float *y, __global const float *bias, const int offBias, const int N,
                           const int F, const int relu)
{
    const int f = get_global_id(0);
    const int n = get_global_id(1);
    if (f >= F || n >= N) return;
    float v = y[(size_t)n * F + f] + bias[offBias + f];
    y[(size_t)n * F + f] = relu ? fmax(v, 0.0f) : v;
}
