/* nn/layer_conv2d.c: conv2d layers of the graph (ops: layer_conv.c). The forward keeps its
 * unfolded input (or padded input on the direct path) in the layer's workspace for the
 * weight gradient. */
#include "nn/graph_internal.h"

int ct_layer_conv2d_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    (void)tr;
    cl_mem x = ct_g_in(m, n->def->inputs[0]);
    return ct_conv_forward(m->ctx, &n->conv, N, x, m->params, ct_g_buf(m, n->col), ct_g_buf(m, n->out));
}

int ct_layer_conv2d_bwd(ct_model *m, ct_node *n, int N)
{
    const int j = n->def->inputs[0];
    cl_mem dx = ct_g_dx(m, j);
    CT_TRY(ct_conv_backward(m->ctx, &n->conv, N, ct_g_buf(m, n->grad), m->params, ct_g_buf(m, n->col), m->grads, dx));
    return ct_g_dx_done(m, j, N);
}
