/* nn/layer_drop.c: dropout and dropout2d layers of the graph (ops: layer_dropout.c). The k-th
 * dropout layer draws its masks from Philox stream k with the step as counter (DigitCNN:
 * Dropout2d stream 1, Dropout stream 2), unless masks were fixed by ct_model_set_mask. In
 * evaluation the layer passes its input's buffer on. */
#include "nn/graph_internal.h"

int ct_layer_dropout_fwd(ct_model *m, ct_node *n, int N, int tr, uint64_t seed, unsigned step)
{
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0];
    if (!tr) {
        m->fwd_out[n - m->nodes] = ct_g_in(m, j);
        return CT_OK;
    }
    cl_mem x = ct_g_in(m, j), y = ct_g_buf(m, n->out), mask = ct_g_buf(m, n->mask);
    const int twod = d->type == CT_L_DROPOUT2D;
    const size_t per_mask = twod ? (size_t)d->in.c : n->per_image;
    if (!m->fixed_masks)
        CT_TRY(ct_dropout_mask_at(m->ctx, (int)(per_mask * (size_t)N), (float)d->p, seed, (unsigned)n->drop_stream,
                                  step, (unsigned)(per_mask * m->sample_base), mask));
    if (twod) return ct_dropout2d_apply(m->ctx, d->in.c, N, d->in.h * d->in.w, x, mask, y);
    return ct_dropout_apply(m->ctx, (int)(n->per_image * (size_t)N), x, mask, y);
}

int ct_layer_dropout_bwd(ct_model *m, ct_node *n, int N)
{
    const ct_layer_def *d = n->def;
    const int j = d->inputs[0];
    cl_mem dy = ct_g_buf(m, n->grad), mask = ct_g_buf(m, n->mask), dx = ct_g_dx(m, j);
    if (!dx) return CT_OK;
    if (d->type == CT_L_DROPOUT2D)
        CT_TRY(ct_dropout2d_apply(m->ctx, d->in.c, N, d->in.h * d->in.w, dy, mask, dx));
    else
        CT_TRY(ct_dropout_apply(m->ctx, (int)(n->per_image * (size_t)N), dy, mask, dx));
    return ct_g_dx_done(m, j, N);
}
