/* nn/layer_conv2d.c: conv2d layers of the graph (ops: layer_conv.c). The forward keeps its
 * unfolded input (or padded input on the direct path) in the layer's workspace for the
 * weight gradient. Eval forwards run the layer and the batchnorm, ReLU and max pooling after it
 * (graph.c's plan_infer) as one convolution where layer_conv_fused.c applies. */
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
    cl_mem x = ct_g_in(m, j), dy = ct_g_buf(m, n->grad), col = ct_g_buf(m, n->col);
    if (ct_conv_dx_adds(m->ctx, &n->conv, N)) { /* a second reader's gradient adds in the conv's own stores */
        int acc;
        cl_mem dx = ct_g_direct(m, j, &acc);
        return ct_conv_backward(m->ctx, &n->conv, N, x, dy, m->params, col, m->grads, dx, acc);
    }
    cl_mem dx = ct_g_dx(m, j);
    CT_TRY(ct_conv_backward(m->ctx, &n->conv, N, x, dy, m->params, col, m->grads, dx, 0));
    return ct_g_dx_done(m, j, N);
}

int ct_layer_conv2d_fused_fwd(ct_model *m, ct_node *n, int N, int *ran)
{
    *ran = 0;
    if (n->inf_last < 0 || n->col < 0 || !ct_conv_fused_applies(m->ctx, &n->conv, N, n->inf_pool)) return CT_OK;
    /* a pooled 5x5 layer on 14+ columns (not the one-channel input) whose batchnorm runs the ReLU
     * and pooling (plan_pool) evaluates faster by itself: the row-block direct conv, then that kernel
     * (DigitCNN's conv2 at batch 250: 26.97 + 1.84 ms against 35.14 for conv_fused_pool_k5_2x4) */
    const ct_conv *l = &n->conv;
    if (n->inf_pool && n->inf_bn >= 0 && ct_g_pool_fused(m, &m->nodes[n->inf_bn]) && l->kh == 5 && l->ci > 1 &&
        l->ow >= 14 && m->ctx->tune.conv_tile == 0)
        return CT_OK;
    const ct_bn *bn = n->inf_bn >= 0 ? &m->nodes[n->inf_bn].bn : NULL;
    cl_mem y = ct_g_buf(m, m->nodes[n->inf_last].out);
    CT_TRY(ct_conv_fused_forward(m->ctx, &n->conv, bn, n->inf_relu, n->inf_pool, N, ct_g_in(m, n->def->inputs[0]),
                                 m->params, m->state, ct_g_buf(m, n->col), y));
    /* the layers it covers hold no output of their own in this forward: all name the last one's */
    for (int k = (int)(n - m->nodes); k <= n->inf_last; k++) m->fwd_out[k] = y;
    *ran = 1;
    return CT_OK;
}
