/* nn/layer_batchnorm.c: batchnorm2d (channel-major (C, N*H*W)) and batchnorm1d ((N, F) rows)
 * layers of the graph (ops: layer_bn.c), with the following ReLU fused when it is the only
 * reader, or (batchnorm2d) the residual tail add + ReLU after it (graph.c's plan_residual), or
 * that ReLU and the 2x2 max pooling after it (plan_pool: the pooling's buffers).
 * Training: batch statistics saved for the backward, running statistics updated. */
#include "nn/graph_internal.h"

int ct_layer_batchnorm_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    const ct_layer_def *d = n->def;
    if (tr && m->sync_bn) return ct_bn_sync_fwd(m, n, N);
    cl_mem x = ct_g_in(m, d->inputs[0]), y = ct_g_buf(m, n->out);
    cl_mem mean = ct_g_buf(m, n->mean), inv = ct_g_buf(m, n->invstd);
    if (d->type == CT_L_BATCHNORM1D) {
        return ct_bn1d_forward(m->ctx, &n->bn, N, tr, x, m->params, m->state, mean, inv, y, n->fuse_relu);
    }
    if (ct_g_pool_fused(m, n))
        return ct_bn_pool2_forward(m->ctx, &n->bn, N, d->out.h, d->out.w, tr, x, m->params, m->state, mean, inv,
                                   ct_g_buf(m, m->nodes[n->fuse_pool].out));
    const int M = N * d->out.h * d->out.w;
    if (n->fuse_add >= 0)
        return ct_bn_forward_add(m->ctx, &n->bn, M, tr, x, ct_g_in(m, n->add_other), m->params, m->state, mean, inv,
                                 y);
    return ct_bn_forward(m->ctx, &n->bn, M, tr, x, m->params, m->state, mean, inv, y, n->fuse_relu);
}

int ct_layer_batchnorm_bwd(ct_model *m, ct_node *n, int N)
{
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0];
    cl_mem x = ct_g_in(m, j), dy = ct_g_buf(m, n->grad), relu_y = n->fuse_relu ? ct_g_buf(m, n->out) : NULL;
    cl_mem mean = ct_g_buf(m, n->mean), inv = ct_g_buf(m, n->invstd);
    if (n->fuse_add >= 0 && m->sync_bn) {
        /* the residual tail in steps: dy masked in place, passed to the add's other input */
        CT_TRY(ct_relu_backward(m->ctx, (int)(n->per_image * (size_t)N), relu_y, dy, dy));
        CT_TRY(ct_g_pass(m, n->add_other, dy, N));
    }
    if (n->fuse_add >= 0 && !m->sync_bn) {
        int acc = 0;
        cl_mem dout = ct_g_direct(m, n->add_other, &acc);
        cl_mem dx = ct_g_dx(m, j);
        if (!dx) dx = dy; /* in place, as below */
        const int M = N * d->out.h * d->out.w;
        CT_TRY(ct_bn_backward_add(m->ctx, &n->bn, M, x, dy, relu_y, m->params, mean, inv, m->grads, dx, dout, acc));
        return ct_g_dx_done(m, j, N);
    }
    cl_mem dx = ct_g_dx(m, j);
    if (!dx) dx = dy; /* the input needs no gradient: elementwise, in place into this layer's own */
    if (ct_g_pool_fused(m, n)) { /* from the pooling's gradient (this layer's own is then unused) */
        CT_TRY(ct_bn_pool2_backward(m->ctx, &n->bn, N, d->out.h, d->out.w, x, ct_g_buf(m, m->nodes[n->fuse_pool].grad),
                                    m->params, mean, inv, m->grads, dx));
    } else if (m->sync_bn) {
        CT_TRY(ct_bn_sync_bwd(m, n, N, dx));
    } else if (d->type == CT_L_BATCHNORM1D) {
        CT_TRY(ct_bn1d_backward(m->ctx, &n->bn, N, x, dy, relu_y, m->params, mean, inv, m->grads, dx));
    } else {
        const int M = N * d->out.h * d->out.w;
        CT_TRY(ct_bn_backward(m->ctx, &n->bn, M, x, dy, relu_y, m->params, mean, inv, m->grads, dx));
    }
    return ct_g_dx_done(m, j, N);
}
