/* nn/exec.c: the graph executor: one forward and one backward walk over the layers of the
 * plan (nn/graph.c), dispatching to the per-type files nn/layer_*.c; gradient routing (a
 * layer read by several layers sums their gradients); loss and optimizer steps. */
#include <stdio.h>
#include <string.h>

#include "nn/graph_internal.h"

int ct_graph_supported(const ct_netdef *net, int i)
{
    const ct_layer_def *d = &net->layers[i];
    const char *why = NULL;
    if (d->type == CT_L_DROPOUT2D && d->in.rank != 4) why = "dropout2d of a flat input";
    else if ((int)d->type < 0 || d->type >= CT_L_COUNT) why = "this layer type";
    if (why)
        return ct_fail(CT_ERR_USAGE, "layer %d (%s%s%s): %s is not implemented by this build's kernels", i, d->name,
                       d->name[0] ? ", " : "", ct_layer_type_name(d->type) ? ct_layer_type_name(d->type) : "?", why);
    return CT_OK;
}

/* --- gradient routing ---------------------------------------------------------------------- */

cl_mem ct_g_dx(ct_model *m, int j)
{
    m->g_pending = 0;
    if (j < 0 || !m->nodes[j].needs_grad || m->nodes[j].grad < 0) return NULL;
    int b = m->nodes[j].grad;
    if (!m->gwritten[b]) return m->bufs[b].mem;
    m->g_pending = 1;
    return m->bufs[m->scratch].mem;
}

int ct_g_dx_done(ct_model *m, int j, int N)
{
    if (j < 0 || !m->nodes[j].needs_grad || m->nodes[j].grad < 0) return CT_OK;
    int b = m->nodes[j].grad;
    int pending = m->g_pending;
    m->g_pending = 0;
    m->gwritten[b] = 1;
    if (!pending) return CT_OK;
    return ct_accumulate(m->ctx, m->nodes[j].per_image * (size_t)N, m->bufs[m->scratch].mem, m->bufs[b].mem);
}

cl_mem ct_g_direct(ct_model *m, int j, int *acc)
{
    *acc = 0;
    if (j < 0 || !m->nodes[j].needs_grad || m->nodes[j].grad < 0) return NULL;
    int b = m->nodes[j].grad;
    *acc = m->gwritten[b];
    m->gwritten[b] = 1;
    return m->bufs[b].mem;
}

/* copies (first writer) or adds (later writers) src into layer j's gradient */
int ct_g_pass(ct_model *m, int j, cl_mem src, int N)
{
    if (j < 0 || !m->nodes[j].needs_grad || m->nodes[j].grad < 0) return CT_OK;
    int b = m->nodes[j].grad;
    size_t n = m->nodes[j].per_image * (size_t)N;
    if (m->bufs[b].mem == src) { /* shared with the alias: already there */
        m->gwritten[b] = 1;
        return CT_OK;
    }
    if (m->gwritten[b]) return ct_accumulate(m->ctx, n, src, m->bufs[b].mem);
    m->gwritten[b] = 1;
    CL_CHECK(clEnqueueCopyBuffer(m->ctx->queue, src, m->bufs[b].mem, 0, 0, n * 4, 0, NULL, NULL));
    return CT_OK;
}

/* --- forward --------------------------------------------------------------------------------- */

int ct_model_forward(ct_model *m, int N, int training, uint64_t seed, unsigned step)
{
    if (N < 1 || N > m->max_batch)
        return ct_fail(CT_ERR_RUNTIME, "batch of %d images does not fit the model's %d", N, m->max_batch);
    if (training && !m->training)
        return ct_fail(CT_ERR_USAGE, "the model was created for inference: it cannot run a training forward");
    int has_bn = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        ct_node *n = &m->nodes[i];
        const ct_layer_def *d = n->def;
        if (n->run != CT_RUN_OWN) {
            /* fused: written by the producer; alias: the input's buffer */
            m->fwd_out[i] = n->run == CT_RUN_FUSED ? m->fwd_out[n->src] : ct_g_in(m, d->inputs[0]);
            continue;
        }
        if (!training && n->inf_last >= 0 && !m->unfused_eval) { /* conv2d (+ bn) (+ relu) (+ max pooling) in one kernel */
            int ran = 0;
            CT_TRY(ct_layer_conv2d_fused_fwd(m, n, N, &ran));
            if (ran) {
                if (n->inf_bn >= 0 && m->nodes[n->inf_bn].fuse_add >= 0) /* its residual tail: add + ReLU */
                    CT_TRY(ct_add_relu_forward(m->ctx, m->nodes[n->inf_bn].per_image * (size_t)N, m->fwd_out[n->inf_bn],
                                               ct_g_in(m, m->nodes[n->inf_bn].add_other), m->fwd_out[n->inf_bn]));
                i = n->inf_last;
                continue;
            }
        }
        m->fwd_out[i] = ct_g_buf(m, n->out); /* -1: an eval dropout of the network input (nn/graph.c) */
        switch (d->type) {
        case CT_L_CONV2D: CT_TRY(ct_layer_conv2d_fwd(m, n, N, training)); break;
        case CT_L_BATCHNORM2D:
        case CT_L_BATCHNORM1D:
            has_bn = 1;
            CT_TRY(ct_layer_batchnorm_fwd(m, n, N, training));
            break;
        case CT_L_LINEAR: CT_TRY(ct_layer_linear_fwd(m, n, N, training)); break;
        case CT_L_RELU:
        case CT_L_LEAKY_RELU:
        case CT_L_TANH:
        case CT_L_SIGMOID: CT_TRY(ct_layer_act_fwd(m, n, N, training)); break;
        case CT_L_MAXPOOL2D:
        case CT_L_AVGPOOL2D:
        case CT_L_ADAPTIVE_AVGPOOL2D: CT_TRY(ct_layer_pool_fwd(m, n, N, training)); break;
        case CT_L_DROPOUT:
        case CT_L_DROPOUT2D: CT_TRY(ct_layer_dropout_fwd(m, n, N, training, seed, step)); break;
        default: CT_TRY(ct_layer_shape_fwd(m, n, N, training)); break;
        }
    }
    m->logits = m->fwd_out[m->n_nodes - 1];
    if (training && has_bn) {
        m->num_batches_tracked++;
        for (int i = 0; i < m->n_nodes; i++)
            if (m->nbt[i] >= 0) m->nbt[i]++;
    }
    return CT_OK;
}

int ct_model_loss(ct_model *m, int N, int grad)
{
    const ct_node *last = &m->nodes[m->n_nodes - 1];
    if (grad && last->grad < 0) return ct_fail(CT_ERR_USAGE, "the model was created for inference: no gradients");
    return ct_xent_norm(m->ctx, N, m->net.classes, m->logits, m->targets, grad ? m->bufs[last->grad].mem : NULL,
                        m->batch_loss, m->sums, m->loss_norm);
}

/* --- backward -------------------------------------------------------------------------------- */

static int alias_bwd(ct_model *m, ct_node *n, int N)
{
    return ct_g_pass(m, n->def->inputs[0], m->bufs[n->grad].mem, N);
}

void ct_model_backward_begin(ct_model *m)
{
    memset(m->gwritten, 0, (size_t)m->n_bufs);
    m->gwritten[m->nodes[m->n_nodes - 1].grad] = 1; /* dlogits from the loss */
}

int ct_model_backward_node(ct_model *m, int i, int N)
{
    ct_node *n = &m->nodes[i];
    if (!n->needs_grad) return CT_OK;
    if (n->run == CT_RUN_ALIAS) return alias_bwd(m, n, N);
    switch (n->def->type) {
    case CT_L_CONV2D: return ct_layer_conv2d_bwd(m, n, N);
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D: return ct_layer_batchnorm_bwd(m, n, N);
    case CT_L_LINEAR: return ct_layer_linear_bwd(m, n, N);
    case CT_L_RELU:
    case CT_L_LEAKY_RELU:
    case CT_L_TANH:
    case CT_L_SIGMOID: return ct_layer_act_bwd(m, n, N);
    case CT_L_MAXPOOL2D:
    case CT_L_AVGPOOL2D:
    case CT_L_ADAPTIVE_AVGPOOL2D: return ct_layer_pool_bwd(m, n, N);
    case CT_L_DROPOUT:
    case CT_L_DROPOUT2D: return ct_layer_dropout_bwd(m, n, N);
    default: return ct_layer_shape_bwd(m, n, N);
    }
}

int ct_model_backward(ct_model *m, int N)
{
    if (!m->training) return ct_fail(CT_ERR_USAGE, "the model was created for inference: no backward pass");
    ct_model_backward_begin(m);
    for (int i = m->n_nodes - 1; i >= 0; i--) CT_TRY(ct_model_backward_node(m, i, N));
    return CT_OK;
}

int ct_model_optim_step(ct_model *m, const ct_optim *o)
{
    if (!m->training) return ct_fail(CT_ERR_USAGE, "the model was created for inference: no optimizer state");
    m->opt_steps++;
    if (o->adam)
        return ct_adam_step(m->ctx, (int)m->n_params, m->params, m->grads, m->opt_m, m->opt_v, o->lr, o->b1, o->b2,
                            o->eps, o->weight_decay, m->opt_steps);
    return ct_sgd_step(m->ctx, (int)m->n_params, m->params, m->grads, m->opt_m, o->lr, o->momentum, o->weight_decay);
}

int ct_model_train_step(ct_model *m, int N, const ct_optim *o, uint64_t seed, unsigned step)
{
    CT_TRY(ct_model_forward(m, N, 1, seed, step));
    CT_TRY(ct_model_loss(m, N, 1));
    CT_TRY(ct_model_backward(m, N));
    return ct_model_optim_step(m, o);
}

int ct_model_read_sums(ct_model *m, double sums[3], int reset)
{
    float s[4];
    CT_TRY(ct_buffer_read(m->ctx, m->sums, 0, sizeof s, s));
    for (int i = 0; i < 3; i++) sums[i] = s[i];
    if (reset) CT_TRY(ct_buffer_fill_zero(m->ctx, m->sums, 0, sizeof s));
    return CT_OK;
}
