/* activation.cl: elementwise activations forward/backward (vectorised by EW_VW, 64-bit counts)
 * and the FC epilogue (bias add with optional ReLU on (N, F) rows).
 * NaN and -0.0 behave as PyTorch 1.13 (CPU):
 *  relu:       y = x < 0 ? 0 : x (NaN stays NaN, -0.0 stays -0.0);
 *              dx = y <= 0 ? 0 : dy (threshold_backward on the output: a NaN output passes dy)
 *  leaky_relu: y = x > 0 ? x : x*slope; dx = x > 0 ? dy : dy*slope (NaN input: dy*slope)
 *  tanh:       dx = dy * (1 - y*y)
 *  sigmoid:    y = 1 / (1 + exp(-x)); dx = dy * (1 - y) * y */

#define ACT_RELU(v) select((v), (EVEC)(0.0f), isless((v), (EVEC)(0.0f)))
#define ACT_RELU1(v) ((v) < 0.0f ? 0.0f : (v))

/* one work-item per EW_VW elements; the last item does the scalar tail */
#define ACT_KERNEL_FWD(NAME, VEXPR, SEXPR)                                                              \
    __kernel void NAME(__global const float *x, __global float *y, const long n, const float slope)     \
    {                                                                                                   \
        const size_t i = get_global_id(0);                                                              \
        if ((long)((i + 1) * EW_VW) <= n) {                                                             \
            const EVEC v = EVLOAD(i, x);                                                                \
            EVSTORE(VEXPR, i, y);                                                                       \
        } else {                                                                                        \
            for (long j = (long)(i * EW_VW); j < n; j++) {                                              \
                const float v = x[j];                                                                   \
                y[j] = SEXPR;                                                                           \
            }                                                                                           \
        }                                                                                               \
    }
/* backward: t is the saved tensor the formula reads (x for leaky_relu, y otherwise) */
#define ACT_KERNEL_BWD(NAME, VEXPR, SEXPR)                                                              \
    __kernel void NAME(__global const float *t, __global const float *dy, __global float *dx, const long n, \
                       const float slope)                                                               \
    {                                                                                                   \
        const size_t i = get_global_id(0);                                                              \
        if ((long)((i + 1) * EW_VW) <= n) {                                                             \
            const EVEC v = EVLOAD(i, t), g = EVLOAD(i, dy);                                             \
            EVSTORE(VEXPR, i, dx);                                                                      \
        } else {                                                                                        \
            for (long j = (long)(i * EW_VW); j < n; j++) {                                              \
                const float v = t[j], g = dy[j];                                                        \
                dx[j] = SEXPR;                                                                          \
            }                                                                                           \
        }                                                                                               \
    }

ACT_KERNEL_FWD(relu_fwd, ACT_RELU(v), ACT_RELU1(v))
ACT_KERNEL_BWD(relu_bwd, select(g, (EVEC)(0.0f), islessequal(v, (EVEC)(0.0f))), v <= 0.0f ? 0.0f : g)
ACT_KERNEL_FWD(leaky_relu_fwd, select(v * (EVEC)(slope), v, isgreater(v, (EVEC)(0.0f))), v > 0.0f ? v : v * slope)
ACT_KERNEL_BWD(leaky_relu_bwd, select(g * (EVEC)(slope), g, isgreater(v, (EVEC)(0.0f))), v > 0.0f ? g : g * slope)
ACT_KERNEL_FWD(tanh_fwd, tanh(v), tanh(v))
ACT_KERNEL_BWD(tanh_bwd, g * ((EVEC)(1.0f) - v * v), g * (1.0f - v * v))
ACT_KERNEL_FWD(sigmoid_fwd, (EVEC)(1.0f) / ((EVEC)(1.0f) + exp(-v)), 1.0f / (1.0f + exp(-v)))
ACT_KERNEL_BWD(sigmoid_bwd, g * ((EVEC)(1.0f) - v) * v, g * (1.0f - v) * v)

/* y (N, F) += bias (F), then ReLU when relu != 0; in place */
__kernel void bias_act_fwd(__global float *y, __global const float *bias, const int offBias, const int N,
                           const int F, const int relu)
{
    const int f = get_global_id(0);
    const int n = get_global_id(1);
    if (f >= F || n >= N) return;
    float v = y[(size_t)n * F + f] + bias[offBias + f];
    y[(size_t)n * F + f] = relu ? ACT_RELU1(v) : v;
}
