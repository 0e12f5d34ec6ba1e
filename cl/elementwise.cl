/* elementwise.cl: sums over n floats (64-bit counts), vectorised by EW_VW.
 *  add_fwd:    y = a + b (y may alias a or b): residual sums
 *  accumulate: y += x: gradients of a tensor that feeds several layers
 *  add_relu_fwd: y = relu(a + b) (y may alias a or b): a residual sum and the ReLU after it,
 *              PyTorch's ReLU (NaN stays NaN, -0.0 stays -0.0) */

__kernel void add_fwd(__global const float *a, __global const float *b, __global float *y, const long n)
{
    const size_t i = get_global_id(0);
    if ((long)((i + 1) * EW_VW) <= n) {
        EVSTORE(EVLOAD(i, a) + EVLOAD(i, b), i, y);
    } else {
        for (long j = (long)(i * EW_VW); j < n; j++) y[j] = a[j] + b[j];
    }
}

__kernel void accumulate(__global const float *x, __global float *y, const long n)
{
    const size_t i = get_global_id(0);
    if ((long)((i + 1) * EW_VW) <= n) {
        EVSTORE(EVLOAD(i, y) + EVLOAD(i, x), i, y);
    } else {
        for (long j = (long)(i * EW_VW); j < n; j++) y[j] += x[j];
    }
}

__kernel void add_relu_fwd(__global const float *a, __global const float *b, __global float *y, const long n)
{
    const size_t i = get_global_id(0);
    if ((long)((i + 1) * EW_VW) <= n) {
        const EVEC v = EVLOAD(i, a) + EVLOAD(i, b);
        EVSTORE(select(v, (EVEC)(0.0f), isless(v, (EVEC)(0.0f))), i, y);
    } else {
        for (long j = (long)(i * EW_VW); j < n; j++) {
            const float v = a[j] + b[j];
            y[j] = v < 0.0f ? 0.0f : v;
        }
    }
}
