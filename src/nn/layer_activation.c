/* nn/layer_activation.c: relu, leaky_relu, tanh, sigmoid layers of the graph, elementwise on
 * any layout (ops: layer_act.c). A ReLU fused into its producer does nothing forward; after a
 * linear layer its backward masks the shared gradient in place (as DigitCNN's FC + ReLU). */
#include "nn/graph_internal.h"

static ct_act_kind kind_of(ct_layer_type t)
{
    return t == CT_L_LEAKY_RELU ? CT_ACT_LEAKY_RELU : t == CT_L_TANH ? CT_ACT_TANH : t == CT_L_SIGMOID ? CT_ACT_SIGMOID
                                                                                                      : CT_ACT_RELU;
}

int ct_layer_act_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    (void)tr;
    const ct_layer_def *d = n->def;
    const size_t cnt = n->per_image * (size_t)N;
    cl_mem x = ct_g_in(m, d->inputs[0]), y = ct_g_buf(m, n->out);
    if (d->type == CT_L_RELU) return ct_relu_forward(m->ctx, (int)cnt, x, y);
    return ct_act_forward(m->ctx, kind_of(d->type), (float)d->negative_slope, cnt, x, y);
}

int ct_layer_act_bwd(ct_model *m, ct_node *n, int N)
{
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0];
    const size_t cnt = n->per_image * (size_t)N;
    cl_mem y = ct_g_buf(m, n->out), dy = ct_g_buf(m, n->grad);
    if (n->run == CT_RUN_FUSED) {
        if (m->net.layers[j].type != CT_L_LINEAR) return CT_OK; /* batchnorm's backward masks by relu_y */
        return ct_relu_backward(m->ctx, (int)cnt, y, dy, dy);
    }
    cl_mem dx = ct_g_dx(m, j);
    if (!dx) return CT_OK;
    if (d->type == CT_L_RELU) {
        CT_TRY(ct_relu_backward(m->ctx, (int)cnt, y, dy, dx));
    } else {
        CT_TRY(ct_act_backward(m->ctx, kind_of(d->type), (float)d->negative_slope, cnt, ct_g_in(m, j), y, dy, dx));
    }
    return ct_g_dx_done(m, j, N);
}
