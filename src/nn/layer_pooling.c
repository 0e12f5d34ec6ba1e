/* nn/layer_pooling.c: maxpool2d, avgpool2d and adaptive_avgpool2d layers of the graph on
 * channel-major planes (ops: layer_pool.c). 2x2/stride-2 max pooling takes the vectorised
 * kernel; adaptive average pooling read only by flatten writes (N, C*OH*OW) rows directly. */
#include "nn/graph_internal.h"

static void pool_desc(const ct_layer_def *d, ct_pool2d *p)
{
    ct_pool2d_init(p, d->kernel[0], d->kernel[1], d->stride[0], d->stride[1], d->padding[0], d->padding[1], d->in.h,
                   d->in.w, d->count_include_pad);
}

int ct_layer_pool_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    (void)tr;
    if (ct_g_pool_fused(m, n)) return CT_OK; /* run by the batchnorm before the ReLU (its output here) */
    const ct_layer_def *d = n->def;
    cl_mem x = ct_g_in(m, d->inputs[0]), y = ct_g_buf(m, n->out);
    const int C = d->in.c, planes = C * N;
    if (d->type == CT_L_MAXPOOL2D && ct_g_pool2x2(d))
        return ct_maxpool2_forward(m->ctx, planes, d->in.h, d->in.w, x, y);
    if (d->type == CT_L_ADAPTIVE_AVGPOOL2D && n->fuse_flatten)
        return ct_avgpool_forward(m->ctx, C, N, d->in.h, d->in.w, d->out.h, d->out.w, x, y);
    if (d->type == CT_L_ADAPTIVE_AVGPOOL2D)
        return ct_adaptive_avgpool_forward(m->ctx, C, N, d->in.h, d->in.w, d->out.h, d->out.w, x, y);
    pool_desc(d, &n->pool);
    if (d->type == CT_L_MAXPOOL2D) return ct_maxpool_forward(m->ctx, &n->pool, planes, x, y);
    return ct_avgpool2d_forward(m->ctx, &n->pool, planes, x, y);
}

int ct_layer_pool_bwd(ct_model *m, ct_node *n, int N)
{
    if (ct_g_pool_fused(m, n)) return CT_OK; /* the batchnorm reads this layer's gradient */
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0], C = d->in.c, planes = C * N;
    cl_mem x = ct_g_in(m, j), dy = ct_g_buf(m, n->grad), dx = ct_g_dx(m, j);
    if (!dx) return CT_OK;
    if (d->type == CT_L_MAXPOOL2D && ct_g_pool2x2(d)) {
        CT_TRY(ct_maxpool2_backward(m->ctx, planes, d->in.h, d->in.w, x, dy, dx));
    } else if (d->type == CT_L_ADAPTIVE_AVGPOOL2D && n->fuse_flatten) {
        CT_TRY(ct_avgpool_backward(m->ctx, C, N, d->in.h, d->in.w, d->out.h, d->out.w, dy, dx));
    } else {
        if (d->type == CT_L_ADAPTIVE_AVGPOOL2D)
            CT_TRY(ct_adaptive_avgpool_backward(m->ctx, C, N, d->in.h, d->in.w, d->out.h, d->out.w, dy, dx));
        else if (d->type == CT_L_MAXPOOL2D)
            CT_TRY(ct_maxpool_backward(m->ctx, &n->pool, planes, x, dy, dx));
        else
            CT_TRY(ct_avgpool2d_backward(m->ctx, &n->pool, planes, dy, dx));
    }
    return ct_g_dx_done(m, j, N);
}
