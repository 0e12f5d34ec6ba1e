/* nn/graph.c: a resolved network on one device (see model.h): the plan (which layers run
 * fused or as aliases, which buffers exist and how big), the pooled parameter/gradient/moment/
 * state allocations, activation buffers, state_dict tensors and their initialisation. The
 * forward/backward walk is nn/exec.c; the per-type kernels calls are nn/layer_*.c. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/graph_internal.h"
#include "split.h"

#define ALIGN_FLOATS 16
#define MAX_ELEMS ((size_t)INT_MAX) /* kernels index with int */

/* --- plan ------------------------------------------------------------------------------- */

static size_t shape_floats(const ct_act_shape *s) { return (size_t)s->c * (size_t)s->h * (size_t)s->w; }

static int add_buf(ct_model *m, size_t per_image, size_t fixed, int training_only, const char *fmt, const char *name)
{
    ct_gbuf *b = &m->bufs[m->n_bufs];
    memset(b, 0, sizeof *b);
    snprintf(b->what, sizeof b->what, fmt, name);
    b->per_image = per_image;
    b->fixed = fixed;
    b->training_only = training_only;
    return m->n_bufs++;
}

static void add_tensor(ct_model *m, int layer, ct_pool pool, const char *param, int rank, int s0, int s1, int s2,
                       int s3)
{
    ct_tensor *t = &m->t[m->n_t++];
    memset(t, 0, sizeof *t);
    const char *ln = m->net.layers[layer].name;
    snprintf(t->name, sizeof t->name, "%s.%s", ln, param);
    t->rank = rank;
    int s[4] = {s0, s1, s2, s3};
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        t->shape[i] = s[i];
        t->count *= (size_t)s[i];
    }
    t->pool = pool;
    t->layer = layer;
    size_t *top = pool == CT_POOL_PARAMS ? &m->n_params : &m->n_state;
    t->offset = *top;
    *top += (t->count + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

/* the state_dict tensors of layer i, in PyTorch's order; fills the layer descriptors' offsets */
static void layout_params(ct_model *m, int i)
{
    const ct_layer_def *d = &m->net.layers[i];
    ct_node *n = &m->nodes[i];
    int first = m->n_t;
    switch (d->type) {
    case CT_L_CONV2D:
        add_tensor(m, i, CT_POOL_PARAMS, "weight", 4, d->out_channels, d->in.c, d->kernel[0], d->kernel[1]);
        if (d->bias) add_tensor(m, i, CT_POOL_PARAMS, "bias", 1, d->out_channels, 0, 0, 0);
        ct_conv_init2(&n->conv, d->in.c, d->out_channels, d->kernel[0], d->kernel[1], d->stride[0], d->stride[1],
                      d->padding[0], d->padding[1], d->in.h, d->in.w, (int)m->t[first].offset,
                      d->bias ? (int)m->t[first + 1].offset : -1);
        break;
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D:
        add_tensor(m, i, CT_POOL_PARAMS, "weight", 1, d->out.c, 0, 0, 0);
        add_tensor(m, i, CT_POOL_PARAMS, "bias", 1, d->out.c, 0, 0, 0);
        add_tensor(m, i, CT_POOL_STATE, "running_mean", 1, d->out.c, 0, 0, 0);
        add_tensor(m, i, CT_POOL_STATE, "running_var", 1, d->out.c, 0, 0, 0);
        ct_bn_init(&n->bn, d->out.c, (int)m->t[first].offset, (int)m->t[first + 1].offset, (int)m->t[first + 2].offset,
                   (int)m->t[first + 3].offset, (float)d->eps, (float)d->momentum);
        break;
    case CT_L_LINEAR:
        add_tensor(m, i, CT_POOL_PARAMS, "weight", 2, d->out_features, d->in.c, 0, 0);
        if (d->bias) add_tensor(m, i, CT_POOL_PARAMS, "bias", 1, d->out_features, 0, 0, 0);
        n->fc.in = d->in.c;
        n->fc.out = d->out_features;
        n->fc.w_off = (int)m->t[first].offset;
        n->fc.b_off = d->bias ? (int)m->t[first + 1].offset : -1;
        break;
    default:
        break;
    }
}

/* The residual tail batchnorm2d -> add -> ReLU, each the only reader of the one before, the
 * batchnorm the later of the add's two inputs (the other one has its output when the batchnorm
 * runs, and gets its gradient after the batchnorm's backward): the batchnorm runs the add and
 * the ReLU forward and backward (nn/layer_batchnorm.c); the add and ReLU share its buffers. */
static void plan_residual(ct_model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        ct_node *r = &m->nodes[i];
        const int a = r->def->inputs[0];
        if (r->def->type != CT_L_RELU || r->run != CT_RUN_OWN || a < 0) continue;
        ct_node *add = &m->nodes[a];
        const ct_layer_def *ad = add->def;
        if (ad->type != CT_L_ADD || ad->n_inputs != 2 || add->consumers != 1 || add->run != CT_RUN_OWN) continue;
        const int b = ad->inputs[0] > ad->inputs[1] ? ad->inputs[0] : ad->inputs[1];
        const int o = ad->inputs[0] > ad->inputs[1] ? ad->inputs[1] : ad->inputs[0];
        if (b < 0 || o == b) continue;
        ct_node *bn = &m->nodes[b];
        if (bn->def->type != CT_L_BATCHNORM2D || bn->consumers != 1 || bn->run != CT_RUN_OWN || bn->fuse_relu ||
            o == bn->def->inputs[0])
            continue;
        bn->fuse_relu = 1;
        bn->fuse_add = a;
        bn->add_other = o;
        add->run = CT_RUN_FUSED;
        add->src = b;
        add->fuse_relu = 1;
        r->run = CT_RUN_FUSED;
    }
}

static int is_maxpool2(const ct_layer_def *d) { return d->type == CT_L_MAXPOOL2D && ct_g_pool2x2(d); }

/* The CPU profile: batchnorm2d -> ReLU -> 2x2 max pooling, each the sole reader of the one before,
 * with even sizes (ct_bn_pool2_fits): the batchnorm (its ReLU already fused) runs the pooling too,
 * so neither the full-size ReLU output nor its gradient goes through memory; the pooling layer
 * keeps its buffers, and the batchnorm's stay unwritten (a step with m->unfused_pool or
 * synchronised BatchNorm runs the three layers as planned before). Inference models plan it too,
 * so that they evaluate exactly as the training model does (share_plan keeps the batchnorm's input
 * alive until the pooling). */
static void plan_pool(ct_model *m)
{
    if (m->ctx && m->ctx->tune.gpu_profile) return; /* no context (memory estimates): as planned on a CPU */
    for (int i = 0; i < m->n_nodes; i++) {
        ct_node *p = &m->nodes[i];
        const int r = p->def->inputs[0];
        if (!is_maxpool2(p->def) || p->run != CT_RUN_OWN || r < 0 || m->nodes[r].run != CT_RUN_FUSED ||
            m->nodes[r].def->type != CT_L_RELU || m->nodes[r].consumers != 1)
            continue;
        const int b = m->nodes[r].src;
        ct_node *bn = &m->nodes[b];
        if (bn->def->type != CT_L_BATCHNORM2D || !bn->fuse_relu || bn->fuse_add >= 0 || bn->consumers != 1 ||
            !ct_bn_pool2_fits(bn->def->out.h, bn->def->out.w))
            continue;
        bn->fuse_pool = i;
        p->fuse_pool = b;
    }
}

/* fusions and aliases by pattern (the producer must feed only this layer) */
static void plan_runs(ct_model *m)
{
    for (int i = 0; i < m->net.n_layers; i++) {
        const ct_layer_def *d = &m->net.layers[i];
        ct_node *n = &m->nodes[i];
        int j = d->inputs[0];
        const ct_layer_def *p = j >= 0 ? &m->net.layers[j] : NULL;
        int sole = p && m->nodes[j].consumers == 1 && m->nodes[j].run == CT_RUN_OWN;
        n->run = CT_RUN_OWN;
        n->src = j;
        n->fuse_add = -1;
        n->fuse_pool = -1;
        if (d->type == CT_L_RELU && sole &&
            (p->type == CT_L_BATCHNORM2D || p->type == CT_L_BATCHNORM1D || p->type == CT_L_LINEAR)) {
            m->nodes[j].fuse_relu = 1;
            n->run = CT_RUN_FUSED;
        } else if (d->type == CT_L_FLATTEN && sole && p->type == CT_L_ADAPTIVE_AVGPOOL2D) {
            m->nodes[j].fuse_flatten = 1;
            m->nodes[j].rows = 1;
            n->run = CT_RUN_FUSED;
        } else if (d->type == CT_L_FLATTEN && (d->in.rank == 2 || d->in.c == 1 || (j >= 0 && m->nodes[j].rows))) {
            n->run = CT_RUN_ALIAS; /* one channel: (1, N, HW) is already (N, HW) */
        } else if ((d->type == CT_L_DROPOUT || d->type == CT_L_DROPOUT2D) && d->p == 0) {
            n->run = CT_RUN_ALIAS;
        }
        n->rows = n->rows || d->out.rank == 2;
    }
    plan_residual(m);
    plan_pool(m);
}

/* the one layer reading layer j, when it reads nothing else (-1: none, several, or more inputs) */
static int sole_reader(const ct_model *m, int j)
{
    if (m->nodes[j].consumers != 1) return -1;
    for (int k = j + 1; k < m->n_nodes; k++)
        for (int q = 0; q < m->net.layers[k].n_inputs; q++)
            if (m->net.layers[k].inputs[q] == j) return m->net.layers[k].n_inputs == 1 ? k : -1;
    return -1;
}

/* inference fusion by pattern: conv2d (+ batchnorm2d) (+ relu) (+ 2x2 max pooling), each the sole
 * reader of the one before; eval forwards take it where the device and shape allow
 * (nn/layer_conv2d.c), else the layers run one by one */
static void plan_infer(ct_model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        ct_node *n = &m->nodes[i];
        n->inf_last = n->inf_bn = -1;
        n->inf_relu = n->inf_pool = 0;
        if (n->def->type != CT_L_CONV2D || n->run != CT_RUN_OWN) continue;
        int last = i, k = sole_reader(m, i);
        if (k >= 0 && m->net.layers[k].type == CT_L_BATCHNORM2D) {
            n->inf_bn = last = k;
            k = sole_reader(m, k);
        }
        if (k >= 0 && m->net.layers[k].type == CT_L_RELU) {
            n->inf_relu = 1;
            last = k;
            k = sole_reader(m, k);
        }
        if (k >= 0 && is_maxpool2(&m->net.layers[k])) {
            n->inf_pool = 1;
            last = k;
        }
        n->inf_last = last;
    }
}

/* buffers of layer i: output, gradient, workspaces */
static void plan_buffers(ct_model *m, int i, size_t *col_max, int *drop_k)
{
    const ct_layer_def *d = &m->net.layers[i];
    ct_node *n = &m->nodes[i];
    const int tr = m->training, j = n->src;
    n->col = n->mean = n->invstd = n->mask = -1;
    n->per_image = shape_floats(&d->out);
    if (n->run == CT_RUN_OWN) {
        n->out = add_buf(m, n->per_image, 0, 0, "output of layer '%s'", d->name);
        n->grad = tr && n->needs_grad ? add_buf(m, n->per_image, 0, 1, "gradient of layer '%s'", d->name) : -1;
    } else {
        /* fused: the producer's buffers; alias: the input's (-1: the network input) */
        n->out = j >= 0 ? m->nodes[j].out : -1;
        int share = j >= 0 && m->nodes[j].consumers == 1;
        n->grad = !tr || !n->needs_grad ? -1
                  : share             ? m->nodes[j].grad
                                      : add_buf(m, n->per_image, 0, 1, "gradient of layer '%s'", d->name);
        if (n->run == CT_RUN_FUSED) n->rows = m->nodes[j].rows;
    }
    switch (d->type) {
    case CT_L_CONV2D: {
        size_t per = ct_conv_col_floats(&n->conv, 1);
        if (tr) n->col = add_buf(m, per, 0, 1, "im2col workspace of layer '%s'", d->name);
        else if (per > *col_max) *col_max = per;
        break;
    }
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D:
        if (tr) {
            size_t c = ((size_t)d->out.c + 15) / 16 * 16;
            n->mean = add_buf(m, 0, c, 1, "batch means of layer '%s'", d->name);
            n->invstd = add_buf(m, 0, c, 1, "batch inverse deviations of layer '%s'", d->name);
        }
        break;
    case CT_L_DROPOUT:
    case CT_L_DROPOUT2D:
        n->drop_stream = ++*drop_k;
        if (tr && n->run == CT_RUN_OWN) {
            size_t per = d->type == CT_L_DROPOUT2D ? (size_t)d->in.c : n->per_image;
            n->mask = add_buf(m, per, 0, 1, "dropout mask of layer '%s'", d->name);
        }
        break;
    default:
        break;
    }
}

/* the layer whose own output buffer holds layer i's output in an eval forward (-1: the network
 * input): fused, alias and dropout layers pass their input's buffer on */
static int holder_of(const ct_model *m, const int *holder, int i)
{
    const ct_layer_def *d = &m->net.layers[i];
    int own = m->nodes[i].run == CT_RUN_OWN && d->type != CT_L_DROPOUT && d->type != CT_L_DROPOUT2D;
    return own ? i : m->nodes[i].src < 0 ? -1 : holder[m->nodes[i].src];
}

/* the smallest free slot that fits `need` floats per image, else the largest free one (grown);
 * -1 when none is free */
static int pick_slot(const ct_model *m, const int *slot_buf, const char *slot_free, int n_slots, size_t need)
{
    int best = -1;
    for (int s = 0; s < n_slots; s++) {
        if (!slot_free[s]) continue;
        size_t have = m->bufs[slot_buf[s]].per_image, cur = best < 0 ? 0 : m->bufs[slot_buf[best]].per_image;
        int fits = have >= need, cur_fits = best >= 0 && cur >= need;
        if (best < 0 || (fits && (!cur_fits || have < cur)) || (!fits && !cur_fits && have > cur)) best = s;
    }
    return best;
}

/* share_outputs' plan: holder, last reader and first write of every output, then the slots */
static void share_plan(ct_model *m, int *holder, int *last, int *first, int *slot_buf, int *slot_of, char *slot_free)
{
    const int L = m->n_nodes;
    if (L < 1) return;
    for (int i = 0; i < L; i++) {
        holder[i] = holder_of(m, holder, i);
        first[i] = last[i] = i;
        slot_of[i] = -1;
    }
    for (int k = 0; k < L; k++) {
        const ct_node *n = &m->nodes[k];
        /* a group run by its first layer (fused inference conv, batchnorm + pooling) reads that
         * layer's inputs until its end and may write its output at its start */
        const int grp = n->inf_last > k ? n->inf_last : n->fuse_pool > k ? n->fuse_pool : k;
        int until = grp;
        for (int q = 0; q < n->def->n_inputs; q++) {
            int h = n->def->inputs[q] < 0 ? -1 : holder[n->def->inputs[q]];
            if (h >= 0 && last[h] < until) last[h] = until;
        }
        if (grp > k && holder[grp] >= 0 && first[holder[grp]] > k) first[holder[grp]] = k;
    }
    if (holder[L - 1] >= 0) last[holder[L - 1]] = L;
    int n_slots = 0;
    for (int t = 0; t < L; t++) {
        for (int h = t; h < L; h++) { /* outputs first written at step t */
            if (holder[h] != h || first[h] != t) continue;
            size_t need = m->bufs[m->nodes[h].out].per_image;
            int s = pick_slot(m, slot_buf, slot_free, n_slots, need);
            if (s < 0) {
                s = n_slots++;
                slot_buf[s] = m->nodes[h].out;
            } else if (m->bufs[slot_buf[s]].per_image < need) { /* grown: named after the layer that needs it */
                m->bufs[slot_buf[s]].per_image = need;
                snprintf(m->bufs[slot_buf[s]].what, sizeof m->bufs[0].what, "output of layer '%s'",
                         m->net.layers[h].name);
            }
            slot_free[s] = 0;
            slot_of[h] = s;
        }
        for (int h = 0; h <= t; h++) /* given back after their last reader */
            if (holder[h] == h && slot_of[h] >= 0 && last[h] == t) slot_free[slot_of[h]] = 1;
    }
    for (int i = 0; i < L; i++) { /* every layer names its holder's slot */
        ct_node *n = &m->nodes[i];
        if (n->run == CT_RUN_OWN && n->out >= 0) {
            int used = 0;
            for (int s = 0; s < n_slots; s++) used |= slot_buf[s] == n->out;
            if (!used) m->bufs[n->out].per_image = m->bufs[n->out].fixed = 0;
        }
        n->out = holder[i] < 0 ? -1 : slot_buf[slot_of[holder[i]]];
    }
}

/* Inference models (evaluate, predict): a layer's output buffer goes back to a pool once every
 * layer reading it has run, and later outputs take it, so an eval forward holds a few
 * activations at a time instead of all of them. Liveness follows holder_of; a fused inference
 * convolution (plan_infer) reads its input until the end of its group and may write the
 * group's output at its start; the network's output lives to the end. The outputs planned by
 * plan_buffers that end up unused keep no memory (size 0). */
static int share_outputs(ct_model *m)
{
    const int L = m->n_nodes;
    int *holder = malloc((size_t)L * sizeof(int)), *last = malloc((size_t)L * sizeof(int));
    int *first = malloc((size_t)L * sizeof(int)), *slot_buf = malloc((size_t)L * sizeof(int));
    int *slot_of = malloc((size_t)L * sizeof(int));
    char *slot_free = calloc((size_t)L, 1);
    int rc = holder && last && first && slot_buf && slot_of && slot_free ? CT_OK
                                                                         : ct_fail(CT_ERR_NOMEM, "out of host memory");
    if (rc == CT_OK) share_plan(m, holder, last, first, slot_buf, slot_of, slot_free);
    free(holder);
    free(last);
    free(first);
    free(slot_buf);
    free(slot_of);
    free(slot_free);
    return rc;
}

static const char *layer_label(const ct_layer_def *d, int i, char *buf, size_t cap)
{
    snprintf(buf, cap, "layer %d (%s%s%s)", i, d->name[0] ? d->name : "", d->name[0] ? ", " : "",
             ct_layer_type_name(d->type));
    return buf;
}

/* Builds the whole plan into m (m->net, m->training, m->max_batch set); allocates host
 * arrays only. */
static int plan(ct_model *m)
{
    const ct_netdef *net = &m->net;
    const int L = net->n_layers;
    if (L < 1) return ct_fail(CT_ERR_USAGE, "the network has no layers");
    if (m->max_batch < 1) return ct_fail(CT_ERR_USAGE, "invalid batch size %d", m->max_batch);
    m->nodes = calloc((size_t)L, sizeof *m->nodes);
    m->t = calloc((size_t)L * 4 + 1, sizeof *m->t);
    m->bufs = calloc((size_t)L * 5 + 8, sizeof *m->bufs);
    m->fwd_out = calloc((size_t)L, sizeof *m->fwd_out);
    m->nbt = calloc((size_t)L, sizeof *m->nbt);
    if (!m->nodes || !m->t || !m->bufs || !m->fwd_out || !m->nbt) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    m->n_nodes = L;
    for (int i = 0; i < L; i++) {
        const ct_layer_def *d = &net->layers[i];
        m->nodes[i].def = d;
        m->nbt[i] = -1;
        CT_TRY(ct_graph_supported(net, i));
        int ng = ct_layer_has_params(d->type);
        for (int k = 0; k < d->n_inputs; k++) {
            int j = d->inputs[k];
            if (j >= i || j < -1) return ct_fail(CT_ERR_USAGE, "layer %d reads layer %d, not an earlier one", i, j);
            if (j >= 0) {
                m->nodes[j].consumers++;
                ng |= m->nodes[j].needs_grad;
            }
        }
        m->nodes[i].needs_grad = ng;
        if (d->type == CT_L_BATCHNORM1D || d->type == CT_L_BATCHNORM2D) m->nbt[i] = 0;
        layout_params(m, i);
    }
    plan_runs(m);
    plan_infer(m);
    m->n_bufs = 0;
    const size_t in_floats = (size_t)net->in_c * net->in_h * net->in_w;
    add_buf(m, in_floats, 0, 0, "%snetwork input", "");
    add_buf(m, 1, 0, 0, "%straining targets", "");
    add_buf(m, 0, 4, 0, "%sbatch loss", "");
    add_buf(m, 0, 4, 0, "%sloss and accuracy sums", "");
    size_t col_max = 0, fan_max = 0;
    int drop_k = 0;
    for (int i = 0; i < L; i++) {
        plan_buffers(m, i, &col_max, &drop_k);
        if (m->nodes[i].consumers > 1 && m->nodes[i].needs_grad && m->nodes[i].per_image > fan_max)
            fan_max = m->nodes[i].per_image;
    }
    if (!m->training) CT_TRY(share_outputs(m));
    if (col_max) {
        int b = add_buf(m, col_max, 0, 0, "%sim2col workspace", "");
        for (int i = 0; i < L; i++)
            if (net->layers[i].type == CT_L_CONV2D) m->nodes[i].col = b;
    }
    m->scratch = m->training && fan_max ? add_buf(m, fan_max, 0, 1, "%sgradient fan-in scratch", "") : -1;
    /* 32-bit element indices in every kernel */
    char lbl[CT_NET_NAME_MAX + 64];
    if (m->n_params > MAX_ELEMS || m->n_state > MAX_ELEMS)
        return ct_fail(CT_ERR_USAGE,
                       "the network has %zu parameter floats (with alignment), more than the kernels' limit of %zu "
                       "elements per buffer; make the layers smaller",
                       m->n_params > m->n_state ? m->n_params : m->n_state, MAX_ELEMS);
    for (int i = 0; i < m->n_bufs; i++) {
        const ct_gbuf *b = &m->bufs[i];
        unsigned long long f = (unsigned long long)b->per_image * (unsigned long long)m->max_batch + b->fixed;
        if (f > MAX_ELEMS)
            return ct_fail(CT_ERR_USAGE,
                           "the %s needs %llu elements at batch %d, more than the kernels' limit of %zu per buffer; "
                           "reduce the batch size to at most %llu or make the layer smaller",
                           b->what, f, m->max_batch, MAX_ELEMS,
                           b->per_image ? (unsigned long long)((MAX_ELEMS - b->fixed) / b->per_image) : 0ULL);
    }
    for (int i = 0; i < L; i++) {
        const ct_layer_def *d = &net->layers[i];
        if (d->type == CT_L_LINEAR && m->nodes[i].rows == 0 && d->in.rank != 2)
            return ct_fail(CT_ERR_USAGE, "%s: linear needs a flat input (add a flatten layer)",
                           layer_label(d, i, lbl, sizeof lbl));
    }
    (void)lbl;
    return CT_OK;
}

static void release(ct_model *m)
{
    cl_mem *pools[] = {&m->params, &m->grads, &m->opt_m, &m->opt_v, &m->state};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        if (*pools[i]) clReleaseMemObject(*pools[i]), *pools[i] = NULL;
    for (int i = 0; m->bufs && i < m->n_bufs; i++)
        if (m->bufs[i].mem) clReleaseMemObject(m->bufs[i].mem);
    free(m->nodes);
    free(m->t);
    free(m->bufs);
    free(m->fwd_out);
    free(m->nbt);
    free(m->gwritten);
    m->nodes = NULL;
    m->t = NULL;
    m->bufs = NULL;
    m->fwd_out = NULL;
    m->nbt = NULL;
    m->gwritten = NULL;
}

void ct_model_free(ct_model *m)
{
    if (!m) return;
    release(m);
    ct_netdef_free(&m->net);
    free(m);
}

static unsigned long long pool_bytes(const ct_model *m)
{
    unsigned long long p = 4ull * m->n_params, s = 4ull * (m->n_state > 0 ? m->n_state : 16);
    return p * (m->training ? 4 : 1) + s;
}

int ct_model_memory(const ct_netdef *net, int max_batch, int inference, unsigned long long *bytes,
                    unsigned long long *largest)
{
    ct_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.net = *net; /* shallow: the plan only reads it */
    tmp.max_batch = max_batch;
    tmp.training = !inference;
    int rc = plan(&tmp);
    unsigned long long total = 0, big = 0;
    if (rc == CT_OK) {
        total = pool_bytes(&tmp);
        big = 4ull * tmp.n_params;
        for (int i = 0; i < tmp.n_bufs; i++) {
            unsigned long long b = 4ull * (tmp.bufs[i].per_image * (unsigned long long)max_batch + tmp.bufs[i].fixed);
            total += b;
            if (b > big) big = b;
        }
    }
    tmp.net.layers = NULL;
    release(&tmp);
    if (bytes) *bytes = total;
    if (largest) *largest = big;
    return rc;
}

unsigned long long ct_model_memory_estimate(const ct_netdef *net, int max_batch)
{
    unsigned long long b = 0;
    return ct_model_memory(net, max_batch, 0, &b, NULL) == CT_OK ? b : 0;
}

long long ct_model_param_count(const ct_model *m)
{
    long long n = 0;
    for (int i = 0; i < m->n_t; i++)
        if (m->t[i].pool == CT_POOL_PARAMS) n += (long long)m->t[i].count;
    return n;
}

size_t ct_model_input_floats(const ct_model *m) { return (size_t)m->net.in_c * m->net.in_h * m->net.in_w; }

static int alloc_all(ct_model *m)
{
    ct_ctx *ctx = m->ctx;
    struct {
        cl_mem *b;
        size_t n;
        const char *name;
        int training_only;
    } pools[] = {{&m->params, m->n_params, "parameters", 0},
                 {&m->grads, m->n_params, "gradients", 1},
                 {&m->opt_m, m->n_params, "optimizer first moments", 1},
                 {&m->opt_v, m->n_params, "optimizer second moments", 1},
                 {&m->state, m->n_state > 0 ? m->n_state : 16, "batch-norm running statistics", 0}};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        if (pools[i].training_only && !m->training) continue;
        size_t n = pools[i].n > 0 ? pools[i].n : 16;
        CT_TRY(ct_buffer_create(ctx, n * 4, pools[i].name, pools[i].b));
        CT_TRY(ct_buffer_fill_zero(ctx, *pools[i].b, 0, n * 4));
    }
    char what[sizeof m->bufs[0].what + 32];
    for (int i = 0; i < m->n_bufs; i++) {
        ct_gbuf *b = &m->bufs[i];
        size_t floats = b->per_image * (size_t)m->max_batch + b->fixed;
        if (!floats) continue; /* an output that share_outputs left unused */
        snprintf(what, sizeof what, "%s for batch %d", b->what, m->max_batch);
        CT_TRY(ct_buffer_create(ctx, (floats ? floats : 1) * 4, what, &b->mem));
    }
    m->x = m->bufs[0].mem;
    m->targets = m->bufs[1].mem;
    m->batch_loss = m->bufs[2].mem;
    m->sums = m->bufs[3].mem;
    CT_TRY(ct_buffer_fill_zero(ctx, m->sums, 0, 16));
    for (int i = 0; i < m->n_nodes; i++) m->fwd_out[i] = m->nodes[i].out >= 0 ? m->bufs[m->nodes[i].out].mem : m->x;
    m->logits = m->fwd_out[m->n_nodes - 1];
    m->gwritten = calloc((size_t)m->n_bufs, 1);
    if (!m->gwritten) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    return CT_OK;
}

int ct_model_create_ex(ct_ctx *ctx, const ct_netdef *net, int max_batch, int inference, ct_model **out)
{
    *out = NULL;
    ct_model *m = calloc(1, sizeof *m);
    if (!m) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    m->ctx = ctx;
    m->max_batch = max_batch;
    m->training = !inference;
    /* CLTRAIN_UNFUSED_EVAL=1: eval forwards without the fused convolutions (comparisons) */
    const char *uf = getenv("CLTRAIN_UNFUSED_EVAL");
    m->unfused_eval = uf && *uf && strcmp(uf, "0") != 0;
    int rc = ct_netdef_copy(net, &m->net);
    if (rc == CT_OK) rc = plan(m);
    if (rc == CT_OK) rc = alloc_all(m);
    if (rc != CT_OK) {
        ct_model_free(m);
        return rc;
    }
    *out = m;
    return CT_OK;
}

int ct_model_create(ct_ctx *ctx, const ct_netdef *net, int max_batch, ct_model **out)
{
    return ct_model_create_ex(ctx, net, max_batch, 0, out);
}

/* --- tensors ---------------------------------------------------------------------------- */

const ct_tensor *ct_model_tensor(const ct_model *m, const char *name)
{
    for (int i = 0; i < m->n_t; i++)
        if (strcmp(m->t[i].name, name) == 0) return &m->t[i];
    return NULL;
}

static cl_mem pool_of(ct_model *m, const ct_tensor *t) { return t->pool == CT_POOL_PARAMS ? m->params : m->state; }

int ct_model_set_tensor(ct_model *m, const char *name, const float *data)
{
    const ct_tensor *t = ct_model_tensor(m, name);
    if (!t) return ct_fail(CT_ERR_USAGE, "the model has no tensor '%s'", name);
    return ct_buffer_write(m->ctx, pool_of(m, t), t->offset * 4, t->count * 4, data);
}

int ct_model_get_tensor(ct_model *m, const char *name, float *data)
{
    const ct_tensor *t = ct_model_tensor(m, name);
    if (!t) return ct_fail(CT_ERR_USAGE, "the model has no tensor '%s'", name);
    return ct_buffer_read(m->ctx, pool_of(m, t), t->offset * 4, t->count * 4, data);
}

int ct_model_get_grad(ct_model *m, const char *name, float *data)
{
    const ct_tensor *t = ct_model_tensor(m, name);
    if (!t || t->pool != CT_POOL_PARAMS) return ct_fail(CT_ERR_USAGE, "the model has no parameter '%s'", name);
    if (!m->grads) return ct_fail(CT_ERR_USAGE, "the model was created for inference: it has no gradients");
    return ct_buffer_read(m->ctx, m->grads, t->offset * 4, t->count * 4, data);
}

int ct_model_zero_optimizer(ct_model *m)
{
    m->opt_steps = 0;
    if (!m->training) return CT_OK;
    CT_TRY(ct_buffer_fill_zero(m->ctx, m->opt_m, 0, m->n_params * 4));
    return ct_buffer_fill_zero(m->ctx, m->opt_v, 0, m->n_params * 4);
}

int ct_model_nbt_layer(const ct_model *m, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strcmp(dot, ".num_batches_tracked") != 0) return -1;
    size_t ln = (size_t)(dot - name);
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nbt[i] >= 0 && strlen(m->net.layers[i].name) == ln && !strncmp(m->net.layers[i].name, name, ln))
            return i;
    return -1;
}

void ct_model_set_nbt(ct_model *m, long long v)
{
    m->num_batches_tracked = v;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nbt[i] >= 0) m->nbt[i] = v;
}

int ct_model_check_finite(ct_model *m, const char *what)
{
    float *buf = ct_malloc((m->n_params > m->n_state ? m->n_params : m->n_state) * sizeof(float) + 64,
                           "the finiteness check");
    if (!buf) return CT_ERR_NOMEM;
    int rc = CT_OK;
    for (int pool = 0; pool < 2 && rc == CT_OK; pool++) {
        size_t n = pool ? m->n_state : m->n_params;
        if (!n) continue;
        if ((rc = ct_buffer_read(m->ctx, pool ? m->state : m->params, 0, n * 4, buf)) != CT_OK) break;
        for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
            const ct_tensor *t = &m->t[i];
            if ((int)t->pool != pool) continue;
            for (size_t j = 0; j < t->count; j++)
                if (!isfinite(buf[t->offset + j])) {
                    rc = ct_fail(CT_ERR_RUNTIME, "tensor '%s' holds a non-finite value (%g at element %zu): %s",
                                 t->name, (double)buf[t->offset + j], j, what);
                    break;
                }
        }
    }
    free(buf);
    return rc;
}

static float uniform_pm(uint64_t *rng, float bound)
{
    double u = (double)(ct_splitmix64_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)((2.0 * u - 1.0) * bound);
}

int ct_model_init_params(ct_model *m, uint64_t seed)
{
    uint64_t rng = seed ^ 0x6a09e667f3bcc909ULL;
    float *buf = ct_malloc((m->n_params > m->n_state ? m->n_params : m->n_state) * sizeof(float) + 64,
                           "parameter initialisation");
    if (!buf) return CT_ERR_NOMEM;
    int rc = CT_OK;
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        const ct_layer_type ty = m->net.layers[t->layer].type;
        const char *dot = strrchr(t->name, '.');
        if (ty == CT_L_BATCHNORM2D || ty == CT_L_BATCHNORM1D) {
            float v = (!strcmp(dot, ".weight") || !strcmp(dot, ".running_var")) ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->count; j++) buf[j] = v;
        } else {
            /* fan_in of the layer: weight (out, in, ...) -> in*kh*kw; the bias uses the weight's */
            const ct_tensor *w = t;
            while (w > m->t && strcmp(strrchr(w->name, '.'), ".weight") != 0) w--;
            size_t fan_in = w->count / (size_t)w->shape[0];
            float bound = 1.0f / sqrtf((float)fan_in); /* kaiming_uniform(a=sqrt(5)) and the bias rule agree */
            for (size_t j = 0; j < t->count; j++) buf[j] = uniform_pm(&rng, bound);
        }
        rc = ct_model_set_tensor(m, t->name, buf);
    }
    free(buf);
    ct_model_set_nbt(m, 0);
    if (rc == CT_OK) rc = ct_model_zero_optimizer(m);
    return rc;
}

/* --- inputs, masks ------------------------------------------------------------------------ */

int ct_model_upload(ct_model *m, int N, const float *images, const int32_t *targets)
{
    if (N < 1 || N > m->max_batch)
        return ct_fail(CT_ERR_RUNTIME, "batch of %d images does not fit the model's %d", N, m->max_batch);
    const size_t C = (size_t)m->net.in_c, HW = (size_t)m->net.in_h * m->net.in_w;
    if (C == 1) {
        CT_TRY(ct_buffer_write(m->ctx, m->x, 0, (size_t)N * HW * 4, images));
    } else {
        float *t = ct_malloc((size_t)N * C * HW * sizeof(float), "the input batch");
        if (!t) return CT_ERR_NOMEM;
        for (size_t c = 0; c < C; c++)
            for (size_t b = 0; b < (size_t)N; b++) memcpy(t + (c * N + b) * HW, images + (b * C + c) * HW, HW * 4);
        int rc = ct_buffer_write(m->ctx, m->x, 0, (size_t)N * C * HW * 4, t);
        free(t);
        CT_TRY(rc);
    }
    if (targets) CT_TRY(ct_buffer_write(m->ctx, m->targets, 0, (size_t)N * 4, targets));
    return CT_OK;
}

int ct_model_dropout_count(const ct_model *m)
{
    int k = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (m->net.layers[i].type == CT_L_DROPOUT || m->net.layers[i].type == CT_L_DROPOUT2D) k++;
    return k;
}

int ct_model_set_mask(ct_model *m, int k, int N, const float *keep)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const ct_node *n = &m->nodes[i];
        const ct_layer_def *d = n->def;
        if ((d->type != CT_L_DROPOUT && d->type != CT_L_DROPOUT2D) || n->drop_stream != k) continue;
        m->fixed_masks = 1;
        if (n->mask < 0) return CT_OK; /* p = 0 or an inference model: nothing is masked */
        const size_t per = m->bufs[n->mask].per_image, cnt = per * (size_t)N;
        float *buf = ct_malloc(cnt * sizeof(float), "dropout mask");
        if (!buf) return CT_ERR_NOMEM;
        const float s = d->p < 1 ? (float)(1.0 / (1.0 - d->p)) : 0.0f;
        const int chm = d->type == CT_L_DROPOUT && !n->rows && d->in.c > 1; /* channel-major on the device */
        const size_t C = (size_t)d->in.c, HW = per / (C ? C : 1);
        for (size_t e = 0; e < cnt; e++) {
            size_t src = e;
            if (chm) { /* device (c, b, hw) <- PyTorch (b, c, hw) */
                size_t c = e / ((size_t)N * HW), b = e / HW % (size_t)N, hw = e % HW;
                src = (b * C + c) * HW + hw;
            }
            buf[e] = keep[src] != 0 ? s : 0.0f;
        }
        int rc = ct_buffer_write(m->ctx, m->bufs[n->mask].mem, 0, cnt * 4, buf);
        free(buf);
        return rc;
    }
    return ct_fail(CT_ERR_USAGE, "the network has no dropout layer number %d (it has %d)", k,
                   ct_model_dropout_count(m));
}

int ct_model_set_masks(ct_model *m, int N, const float *keep1, const float *keep2)
{
    CT_TRY(ct_model_set_mask(m, 1, N, keep1));
    return ct_model_set_mask(m, 2, N, keep2);
}

/* --- reading activations ------------------------------------------------------------------ */

/* the k-th (1-based) layer of type t (t2 also counts when != CT_L_COUNT) */
static int kth_of(const ct_model *m, ct_layer_type t, ct_layer_type t2, int k)
{
    for (int i = 0; i < m->n_nodes; i++)
        if ((m->net.layers[i].type == t || m->net.layers[i].type == t2) && --k == 0) return i;
    return -1;
}

static int find_layer(const ct_model *m, const char *name)
{
    for (int i = 0; i < m->n_nodes; i++)
        if (m->net.layers[i].name[0] && !strcmp(m->net.layers[i].name, name)) return i;
    char *end;
    if (name[0] == '#') {
        long k = strtol(name + 1, &end, 10);
        return !*end && name[1] && k >= 0 && k < m->n_nodes ? (int)k : -1;
    }
    if (!strcmp(name, "logits")) return m->n_nodes - 1;
    if (!strcmp(name, "avgpool")) return kth_of(m, CT_L_ADAPTIVE_AVGPOOL2D, CT_L_AVGPOOL2D, 1);
    if (!strncmp(name, "relu_", 5)) {
        for (int i = 0; i < m->n_nodes; i++) {
            int j = m->net.layers[i].inputs[0];
            if (m->net.layers[i].type == CT_L_RELU && j >= 0 && !strcmp(m->net.layers[j].name, name + 5)) return i;
        }
        return -1;
    }
    static const struct {
        const char *prefix;
        ct_layer_type t, t2;
    } kth[] = {{"relu", CT_L_RELU, CT_L_COUNT}, {"pool", CT_L_MAXPOOL2D, CT_L_COUNT}, {"drop", CT_L_DROPOUT2D, CT_L_DROPOUT}};
    for (size_t q = 0; q < sizeof kth / sizeof kth[0]; q++) {
        size_t pl = strlen(kth[q].prefix);
        if (strncmp(name, kth[q].prefix, pl) != 0 || !name[pl]) continue;
        long k = strtol(name + pl, &end, 10);
        if (!*end && k >= 1) return kth_of(m, kth[q].t, kth[q].t2, (int)k);
    }
    return -1;
}

static int output_kept(const ct_model *m, int i)
{
    const ct_node *n = &m->nodes[i];
    const ct_node *bn = n->run == CT_RUN_FUSED && n->src >= 0 ? &m->nodes[n->src] : n;
    return !(bn->def->type == CT_L_BATCHNORM2D && ct_g_pool_fused(m, bn));
}

int ct_model_output_kept(const ct_model *m, const char *name)
{
    const int i = find_layer(m, name);
    return i < 0 || output_kept(m, i);
}

int ct_model_read_activation(ct_model *m, const char *name, int N, int grad, float *out, size_t *count)
{
    int i = find_layer(m, name);
    if (i < 0) return ct_fail(CT_ERR_USAGE, "unknown activation '%s'", name);
    if (N < 1 || N > m->max_batch) return ct_fail(CT_ERR_USAGE, "batch %d out of range", N);
    const ct_node *n = &m->nodes[i];
    if (grad && n->grad < 0) return ct_fail(CT_ERR_USAGE, "layer '%s' keeps no gradient", name);
    if (!output_kept(m, i))
        return ct_fail(CT_ERR_USAGE,
                       "layer '%s' is computed inside the fused batchnorm + ReLU + max pooling and not kept; set "
                       "m->unfused_pool before the forward to keep it", name);
    cl_mem b = grad ? m->bufs[n->grad].mem : m->fwd_out[i];
    const ct_act_shape *s = &n->def->out;
    const size_t C = (size_t)s->c, HW = (size_t)s->h * s->w, cnt = (size_t)N * C * HW;
    *count = cnt;
    /* rows: stored as PyTorch's (N, F); a one-channel image is the same either way */
    int rows = n->rows || C == 1 || (n->run != CT_RUN_OWN && n->src >= 0 && m->nodes[n->src].rows);
    if (rows) return ct_buffer_read(m->ctx, b, 0, cnt * 4, out);
    float *tmp = ct_malloc(cnt * sizeof(float), "activation read-back");
    if (!tmp) return CT_ERR_NOMEM;
    int rc = ct_buffer_read(m->ctx, b, 0, cnt * 4, tmp);
    if (rc == CT_OK)
        for (size_t c = 0; c < C; c++)
            for (size_t k = 0; k < (size_t)N; k++) memcpy(out + (k * C + c) * HW, tmp + (c * N + k) * HW, HW * 4);
    free(tmp);
    return rc;
}
