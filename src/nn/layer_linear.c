/* nn/layer_linear.c: linear layers of the graph on (N, F) rows (ops: layer_fc.c), with the
 * following ReLU fused when it is the only reader (its backward then runs in place on the
 * shared gradient buffer, in nn/layer_activation.c). */
#include "nn/graph_internal.h"

int ct_layer_linear_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    (void)tr;
    cl_mem x = ct_g_in(m, n->def->inputs[0]);
    return ct_fc_forward(m->ctx, &n->fc, N, x, m->params, ct_g_buf(m, n->out), n->fuse_relu);
}

int ct_layer_linear_bwd(ct_model *m, ct_node *n, int N)
{
    const int j = n->def->inputs[0];
    cl_mem dx = ct_g_dx(m, j);
    CT_TRY(ct_fc_backward(m->ctx, &n->fc, N, ct_g_in(m, j), ct_g_buf(m, n->grad), m->params, m->grads, dx));
    return ct_g_dx_done(m, j, N);
}
