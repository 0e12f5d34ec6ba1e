/* layer_act.c: elementwise activations (ReLU, leaky ReLU, tanh, sigmoid) forward and backward,
 * NaN-propagating as PyTorch (see cl/activation.cl). ReLU and tanh/sigmoid backward read the
 * forward output, leaky ReLU the forward input. */
#include "ops.h"

static const char *const fwd_names[] = {"relu_fwd", "leaky_relu_fwd", "tanh_fwd", "sigmoid_fwd"};
static const char *const bwd_names[] = {"relu_bwd", "leaky_relu_bwd", "tanh_bwd", "sigmoid_bwd"};

static size_t items(const ct_ctx *c, size_t n) { return (n + (size_t)c->tune.ew_vw - 1) / (size_t)c->tune.ew_vw; }

static int known(ct_act_kind k)
{
    if ((int)k < 0 || (int)k > (int)CT_ACT_SIGMOID) return ct_fail(CT_ERR_RUNTIME, "unknown activation kind %d", (int)k);
    return CT_OK;
}

int ct_act_forward(ct_ctx *c, ct_act_kind k, float slope, size_t n, cl_mem x, cl_mem y)
{
    CT_TRY(known(k));
    if (n == 0) return CT_OK;
    cl_kernel kr;
    CT_TRY(ct_kernel(c, "act", fwd_names[k], &kr));
    size_t g = items(c, n);
    return ct_run(c, kr, 1, &g, NULL, "mmlf", x, y, (long long)n, (double)slope);
}

int ct_act_backward(ct_ctx *c, ct_act_kind k, float slope, size_t n, cl_mem x, cl_mem y, cl_mem dy, cl_mem dx)
{
    CT_TRY(known(k));
    if (n == 0) return CT_OK;
    cl_kernel kr;
    CT_TRY(ct_kernel(c, "act", bwd_names[k], &kr));
    size_t g = items(c, n);
    cl_mem saved = k == CT_ACT_LEAKY_RELU ? x : y;
    if (!saved)
        return ct_fail(CT_ERR_RUNTIME, "%s needs the forward %s", bwd_names[k], k == CT_ACT_LEAKY_RELU ? "input" : "output");
    return ct_run(c, kr, 1, &g, NULL, "mmmlf", saved, dy, dx, (long long)n, (double)slope);
}

int ct_relu_forward(ct_ctx *c, int n, cl_mem x, cl_mem y)
{
    return ct_act_forward(c, CT_ACT_RELU, 0.0f, n > 0 ? (size_t)n : 0, x, y);
}

int ct_relu_backward(ct_ctx *c, int n, cl_mem y, cl_mem dy, cl_mem dx)
{
    return ct_act_backward(c, CT_ACT_RELU, 0.0f, n > 0 ? (size_t)n : 0, NULL, y, dy, dx);
}
