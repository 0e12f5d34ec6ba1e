/* nn/layer_shape.c: flatten and add layers of the graph. Flatten after adaptive average
 * pooling, of a flat or one-channel input, costs nothing (fused or an alias, see nn/graph.c);
 * otherwise it reorders channel-major (C, N, HW) into (N, C*HW) rows. add sums its inputs; its
 * backward passes the gradient to each input (summed where an input has other readers). */
#include "nn/graph_internal.h"

int ct_layer_shape_fwd(ct_model *m, ct_node *n, int N, int tr)
{
    (void)tr;
    const ct_layer_def *d = n->def;
    cl_mem y = ct_g_buf(m, n->out);
    const size_t cnt = n->per_image * (size_t)N;
    if (d->type == CT_L_FLATTEN)
        return ct_flatten_forward(m->ctx, d->in.c, N, d->in.h * d->in.w, ct_g_in(m, d->inputs[0]), y);
    if (d->type == CT_L_ADD) {
        CT_TRY(ct_add_forward(m->ctx, cnt, ct_g_in(m, d->inputs[0]), ct_g_in(m, d->inputs[1]), y));
        for (int k = 2; k < d->n_inputs; k++) CT_TRY(ct_accumulate(m->ctx, cnt, ct_g_in(m, d->inputs[k]), y));
        return CT_OK;
    }
    return ct_fail(CT_ERR_RUNTIME, "internal: %s is not a shape layer", ct_layer_type_name(d->type));
}

int ct_layer_shape_bwd(ct_model *m, ct_node *n, int N)
{
    const ct_layer_def *d = n->def;
    if (n->run == CT_RUN_FUSED) return CT_OK; /* flatten after avgpool: the gradient buffer is shared */
    cl_mem dy = ct_g_buf(m, n->grad);
    if (d->type == CT_L_FLATTEN) {
        const int j = d->inputs[0];
        cl_mem dx = ct_g_dx(m, j);
        if (!dx) return CT_OK;
        CT_TRY(ct_flatten_backward(m->ctx, d->in.c, N, d->in.h * d->in.w, dy, dx));
        return ct_g_dx_done(m, j, N);
    }
    if (d->type == CT_L_ADD) {
        for (int k = 0; k < d->n_inputs; k++) CT_TRY(ct_g_pass(m, d->inputs[k], dy, N));
        return CT_OK;
    }
    return ct_fail(CT_ERR_RUNTIME, "internal: %s is not a shape layer", ct_layer_type_name(d->type));
}
