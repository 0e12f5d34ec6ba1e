/* model.c: DigitCNN composed from the layer files; see model.h. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "split.h"

#define ALIGN_FLOATS 16

static int add_tensor(ct_model *m, ct_pool pool, const char *name, int rank, int s0, int s1, int s2, int s3)
{
    ct_tensor *t = &m->t[m->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rank = rank;
    int s[4] = {s0, s1, s2, s3};
    t->count = 1;
    for (int i = 0; i < rank; i++) {
        t->shape[i] = s[i];
        t->count *= s[i];
    }
    t->pool = pool;
    int *top = pool == CT_POOL_PARAMS ? &m->n_params : &m->n_state;
    t->offset = *top;
    *top += (t->count + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
    return t->offset;
}

/* Lays out every tensor of the state_dict in the two pools and fills the layer descriptors. */
static void layout(ct_model *m)
{
    const ct_cnn_dims *d = &m->d;
    m->n_t = m->n_params = m->n_state = 0;
    char nm[40];
    const int cin[3] = {1, d->c1, d->c2}, cout[3] = {d->c1, d->c2, d->c3}, ks[3] = {5, 5, 3}, hw[3] = {28, 14, 7};
    ct_conv *convs[3] = {&m->conv1, &m->conv2, &m->conv3};
    ct_bn *bns[3] = {&m->bn1, &m->bn2, &m->bn3};
    for (int i = 0; i < 3; i++) {
        snprintf(nm, sizeof nm, "conv%d.weight", i + 1);
        int w = add_tensor(m, CT_POOL_PARAMS, nm, 4, cout[i], cin[i], ks[i], ks[i]);
        snprintf(nm, sizeof nm, "conv%d.bias", i + 1);
        int b = add_tensor(m, CT_POOL_PARAMS, nm, 1, cout[i], 0, 0, 0);
        ct_conv_init(convs[i], cin[i], cout[i], ks[i], ks[i] / 2, hw[i], hw[i], w, b);
        if (d->use_bn) {
            bns[i]->C = cout[i];
            snprintf(nm, sizeof nm, "bn%d.weight", i + 1);
            bns[i]->g_off = add_tensor(m, CT_POOL_PARAMS, nm, 1, cout[i], 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.bias", i + 1);
            bns[i]->b_off = add_tensor(m, CT_POOL_PARAMS, nm, 1, cout[i], 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.running_mean", i + 1);
            bns[i]->rm_off = add_tensor(m, CT_POOL_STATE, nm, 1, cout[i], 0, 0, 0);
            snprintf(nm, sizeof nm, "bn%d.running_var", i + 1);
            bns[i]->rv_off = add_tensor(m, CT_POOL_STATE, nm, 1, cout[i], 0, 0, 0);
        }
    }
    const int fin[3] = {9 * d->c3, d->hidden, d->hidden / 2}, fout[3] = {d->hidden, d->hidden / 2, 10};
    ct_fc *fcs[3] = {&m->fc1, &m->fc2, &m->fc3};
    for (int i = 0; i < 3; i++) {
        fcs[i]->in = fin[i];
        fcs[i]->out = fout[i];
        snprintf(nm, sizeof nm, "fc%d.weight", i + 1);
        fcs[i]->w_off = add_tensor(m, CT_POOL_PARAMS, nm, 2, fout[i], fin[i], 0, 0);
        snprintf(nm, sizeof nm, "fc%d.bias", i + 1);
        fcs[i]->b_off = add_tensor(m, CT_POOL_PARAMS, nm, 1, fout[i], 0, 0, 0);
    }
}

/* activation buffer sizes in floats, per image, in creation order */
typedef struct {
    const char *what;
    size_t offset_in_model; /* offsetof(ct_model, field) */
    size_t per_image;       /* floats per image */
    size_t fixed;           /* floats independent of N */
} act_spec;

#define F(field) offsetof(ct_model, field)
static int act_specs(const ct_cnn_dims *d, act_spec *s)
{
    const size_t c1 = (size_t)d->c1, c2 = (size_t)d->c2, c3 = (size_t)d->c3, h = (size_t)d->hidden;
    int n = 0;
#define A(field, per, fix) s[n++] = (act_spec){#field, F(field), (per), (fix)}
    A(x, 784, 0);
    A(col1, 25 * 784, 0);
    A(col2, c1 * 25 * 196, 0);
    A(col3, c2 * 9 * 49, 0);
    A(a1, c1 * 784, 0);
    A(r1, c1 * 784, 0);
    A(p1, c1 * 196, 0);
    A(a2, c2 * 196, 0);
    A(r2, c2 * 196, 0);
    A(p2, c2 * 49, 0);
    A(dr2, c2 * 49, 0);
    A(a3, c3 * 49, 0);
    A(r3, c3 * 49, 0);
    A(avg, c3 * 9, 0);
    A(f1, h, 0);
    A(f1d, h, 0);
    A(f2, h / 2, 0);
    A(logits, 10, 0);
    A(mask1, c2, 0);
    A(mask2, h, 0);
    A(g_logits, 10, 0);
    A(g_f2, h / 2, 0);
    A(g_f1d, h, 0);
    A(g_f1, h, 0);
    A(g_avg, c3 * 9, 0);
    A(g_r3, c3 * 49, 0);
    A(g_a3, c3 * 49, 0);
    A(g_dr2, c2 * 49, 0);
    A(g_p2, c2 * 49, 0);
    A(g_r2, c2 * 196, 0);
    A(g_a2, c2 * 196, 0);
    A(g_p1, c1 * 196, 0);
    A(g_r1, c1 * 784, 0);
    A(g_a1, c1 * 784, 0);
    A(targets, 1, 0);
    A(batch_loss, 0, 4);
    A(sums, 0, 4);
    for (int i = 0; i < 3; i++) {
        s[n++] = (act_spec){"bn_mean", F(bn_mean) + (size_t)i * sizeof(cl_mem), 0, 4096};
        s[n++] = (act_spec){"bn_invstd", F(bn_invstd) + (size_t)i * sizeof(cl_mem), 0, 4096};
    }
#undef A
    return n;
}
#undef F

unsigned long long ct_model_memory_estimate(const ct_cnn_dims *d, int max_batch)
{
    ct_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.d = *d;
    layout(&tmp);
    act_spec s[64];
    int n = act_specs(d, s);
    unsigned long long bytes = 4ull * ((unsigned long long)tmp.n_params * 4 + (unsigned long long)tmp.n_state);
    for (int i = 0; i < n; i++) bytes += 4ull * (s[i].per_image * (unsigned long long)max_batch + s[i].fixed);
    return bytes;
}

long long ct_model_param_count(const ct_model *m)
{
    long long n = 0;
    for (int i = 0; i < m->n_t; i++)
        if (m->t[i].pool == CT_POOL_PARAMS) n += m->t[i].count;
    return n;
}

void ct_model_free(ct_model *m)
{
    if (!m) return;
    cl_mem *pools[] = {&m->params, &m->grads, &m->opt_m, &m->opt_v, &m->state};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++)
        if (*pools[i]) clReleaseMemObject(*pools[i]);
    act_spec s[64];
    int n = act_specs(&m->d, s);
    for (int i = 0; i < n; i++) {
        cl_mem *b = (cl_mem *)((char *)m + s[i].offset_in_model);
        if (*b) clReleaseMemObject(*b);
    }
    free(m);
}

int ct_model_create(ct_ctx *ctx, const ct_cnn_dims *d, int max_batch, ct_model **out)
{
    *out = NULL;
    if (d->c1 < 1 || d->c2 < 1 || d->c3 < 1 || d->hidden < 2 || max_batch < 1)
        return ct_fail(CT_ERR_USAGE, "invalid model sizes (c1=%d c2=%d c3=%d hidden=%d, batch %d)", d->c1, d->c2,
                       d->c3, d->hidden, max_batch);
    ct_model *m = calloc(1, sizeof *m);
    if (!m) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    m->ctx = ctx;
    m->d = *d;
    m->max_batch = max_batch;
    layout(m);
    int rc;
    char what[96];
    struct {
        cl_mem *b;
        int n;
        const char *name;
    } pools[] = {{&m->params, m->n_params, "parameters"},
                 {&m->grads, m->n_params, "gradients"},
                 {&m->opt_m, m->n_params, "optimizer first moments"},
                 {&m->opt_v, m->n_params, "optimizer second moments"},
                 {&m->state, m->n_state > 0 ? m->n_state : 16, "batch-norm running statistics"}};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) {
        if ((rc = ct_buffer_create(ctx, (size_t)pools[i].n * 4, pools[i].name, pools[i].b)) != CT_OK) goto fail;
        if ((rc = ct_buffer_fill_zero(ctx, *pools[i].b, 0, (size_t)pools[i].n * 4)) != CT_OK) goto fail;
    }
    act_spec s[64];
    int n = act_specs(d, s);
    for (int i = 0; i < n; i++) {
        size_t floats = s[i].per_image * (size_t)max_batch + s[i].fixed;
        snprintf(what, sizeof what, "activation buffer '%s' for batch %d", s[i].what, max_batch);
        cl_mem *b = (cl_mem *)((char *)m + s[i].offset_in_model);
        if ((rc = ct_buffer_create(ctx, floats * 4, what, b)) != CT_OK) goto fail;
    }
    if ((rc = ct_buffer_fill_zero(ctx, m->sums, 0, 16)) != CT_OK) goto fail;
    *out = m;
    return CT_OK;
fail:
    ct_model_free(m);
    return rc;
}

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
    return ct_buffer_write(m->ctx, pool_of(m, t), (size_t)t->offset * 4, (size_t)t->count * 4, data);
}

int ct_model_get_tensor(ct_model *m, const char *name, float *data)
{
    const ct_tensor *t = ct_model_tensor(m, name);
    if (!t) return ct_fail(CT_ERR_USAGE, "the model has no tensor '%s'", name);
    return ct_buffer_read(m->ctx, pool_of(m, t), (size_t)t->offset * 4, (size_t)t->count * 4, data);
}

int ct_model_get_grad(ct_model *m, const char *name, float *data)
{
    const ct_tensor *t = ct_model_tensor(m, name);
    if (!t || t->pool != CT_POOL_PARAMS) return ct_fail(CT_ERR_USAGE, "the model has no parameter '%s'", name);
    return ct_buffer_read(m->ctx, m->grads, (size_t)t->offset * 4, (size_t)t->count * 4, data);
}

int ct_model_zero_optimizer(ct_model *m)
{
    m->opt_steps = 0;
    CT_TRY(ct_buffer_fill_zero(m->ctx, m->opt_m, 0, (size_t)m->n_params * 4));
    return ct_buffer_fill_zero(m->ctx, m->opt_v, 0, (size_t)m->n_params * 4);
}

static float uniform_pm(uint64_t *rng, float bound)
{
    double u = (double)(ct_splitmix64_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    return (float)((2.0 * u - 1.0) * bound);
}

int ct_model_init_params(ct_model *m, uint64_t seed)
{
    uint64_t rng = seed ^ 0x6a09e667f3bcc909ULL;
    float *buf = malloc((size_t)(m->n_params > m->n_state ? m->n_params : m->n_state) * sizeof(float) + 64);
    if (!buf) return ct_fail(CT_ERR_NOMEM, "out of host memory initialising parameters");
    int rc = CT_OK;
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        const char *dot = strrchr(t->name, '.');
        int is_bn = strncmp(t->name, "bn", 2) == 0;
        if (is_bn) {
            float v = (!strcmp(dot, ".weight") || !strcmp(dot, ".running_var")) ? 1.0f : 0.0f;
            for (int j = 0; j < t->count; j++) buf[j] = v;
        } else {
            /* fan_in of the layer: weight (out, in, ...) -> in*kh*kw; the bias uses the weight's */
            const ct_tensor *w = t;
            if (!strcmp(dot, ".bias")) {
                char wn[40];
                snprintf(wn, sizeof wn, "%.*s.weight", (int)(dot - t->name), t->name);
                w = ct_model_tensor(m, wn);
            }
            int fan_in = w->count / w->shape[0];
            float bound = 1.0f / sqrtf((float)fan_in); /* kaiming_uniform(a=sqrt(5)) and the bias rule agree */
            for (int j = 0; j < t->count; j++) buf[j] = uniform_pm(&rng, bound);
        }
        rc = ct_model_set_tensor(m, t->name, buf);
    }
    free(buf);
    m->num_batches_tracked = 0;
    if (rc == CT_OK) rc = ct_model_zero_optimizer(m);
    return rc;
}

int ct_model_upload(ct_model *m, int N, const float *images, const int32_t *targets)
{
    if (N < 1 || N > m->max_batch)
        return ct_fail(CT_ERR_RUNTIME, "batch of %d images does not fit the model's %d", N, m->max_batch);
    CT_TRY(ct_buffer_write(m->ctx, m->x, 0, (size_t)N * 784 * 4, images));
    if (targets) CT_TRY(ct_buffer_write(m->ctx, m->targets, 0, (size_t)N * 4, targets));
    return CT_OK;
}

int ct_model_set_masks(ct_model *m, int N, const float *keep1, const float *keep2)
{
    size_t n1 = (size_t)N * m->d.c2, n2 = (size_t)N * m->d.hidden;
    float *buf = malloc((n1 > n2 ? n1 : n2) * sizeof(float));
    if (!buf) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    float s1 = m->d.p1 < 1 ? 1.0f / (1.0f - m->d.p1) : 0, s2 = m->d.p2 < 1 ? 1.0f / (1.0f - m->d.p2) : 0;
    for (size_t i = 0; i < n1; i++) buf[i] = keep1[i] != 0 ? s1 : 0.0f;
    int rc = ct_buffer_write(m->ctx, m->mask1, 0, n1 * 4, buf);
    for (size_t i = 0; i < n2; i++) buf[i] = keep2[i] != 0 ? s2 : 0.0f;
    if (rc == CT_OK) rc = ct_buffer_write(m->ctx, m->mask2, 0, n2 * 4, buf);
    free(buf);
    if (rc == CT_OK) m->fixed_masks = 1;
    return rc;
}

/* conv -> (bn) -> relu, output r */
static int conv_block_fwd(ct_model *m, int N, int training, const ct_conv *cv, const ct_bn *bn, int i, cl_mem in,
                          cl_mem col, cl_mem a, cl_mem r)
{
    ct_ctx *c = m->ctx;
    CT_TRY(ct_conv_forward(c, cv, N, in, m->params, col, a));
    int M = N * cv->oh * cv->ow;
    if (m->d.use_bn)
        return ct_bn_forward(c, bn, M, training, a, m->params, m->state, m->bn_mean[i], m->bn_invstd[i], r, 1);
    return ct_relu_forward(c, cv->co * M, a, r);
}

int ct_model_forward(ct_model *m, int N, int training, uint64_t seed, unsigned step)
{
    ct_ctx *c = m->ctx;
    const ct_cnn_dims *d = &m->d;
    if (N < 1 || N > m->max_batch)
        return ct_fail(CT_ERR_RUNTIME, "batch of %d images does not fit the model's %d", N, m->max_batch);
    int drop1 = training && d->p1 > 0, drop2 = training && d->p2 > 0;
    if (training && !m->fixed_masks) {
        if (drop1) CT_TRY(ct_dropout_mask(c, N * d->c2, d->p1, seed, 1, step, m->mask1));
        if (drop2) CT_TRY(ct_dropout_mask(c, N * d->hidden, d->p2, seed, 2, step, m->mask2));
    }
    CT_TRY(conv_block_fwd(m, N, training, &m->conv1, &m->bn1, 0, m->x, m->col1, m->a1, m->r1));
    CT_TRY(ct_maxpool2_forward(c, d->c1 * N, 28, 28, m->r1, m->p1));
    CT_TRY(conv_block_fwd(m, N, training, &m->conv2, &m->bn2, 1, m->p1, m->col2, m->a2, m->r2));
    CT_TRY(ct_maxpool2_forward(c, d->c2 * N, 14, 14, m->r2, m->p2));
    cl_mem in3 = m->p2;
    if (drop1) {
        CT_TRY(ct_dropout2d_apply(c, d->c2, N, 49, m->p2, m->mask1, m->dr2));
        in3 = m->dr2;
    }
    CT_TRY(conv_block_fwd(m, N, training, &m->conv3, &m->bn3, 2, in3, m->col3, m->a3, m->r3));
    CT_TRY(ct_avgpool_forward(c, d->c3, N, 7, 7, 3, 3, m->r3, m->avg));
    CT_TRY(ct_fc_forward(c, &m->fc1, N, m->avg, m->params, m->f1, 1));
    cl_mem in_fc2 = m->f1;
    if (drop2) {
        CT_TRY(ct_dropout_apply(c, N * d->hidden, m->f1, m->mask2, m->f1d));
        in_fc2 = m->f1d;
    }
    CT_TRY(ct_fc_forward(c, &m->fc2, N, in_fc2, m->params, m->f2, 1));
    CT_TRY(ct_fc_forward(c, &m->fc3, N, m->f2, m->params, m->logits, 0));
    if (training && d->use_bn) m->num_batches_tracked++;
    return CT_OK;
}

int ct_model_loss(ct_model *m, int N, int grad)
{
    return ct_xent(m->ctx, N, 10, m->logits, m->targets, grad ? m->g_logits : NULL, m->batch_loss, m->sums);
}

static int conv_block_bwd(ct_model *m, int N, const ct_conv *cv, const ct_bn *bn, int i, cl_mem a, cl_mem r,
                          cl_mem g_r, cl_mem g_a, cl_mem col, cl_mem g_in)
{
    ct_ctx *c = m->ctx;
    int M = N * cv->oh * cv->ow;
    if (m->d.use_bn)
        CT_TRY(ct_bn_backward(c, bn, M, a, g_r, r, m->params, m->bn_mean[i], m->bn_invstd[i], m->grads, g_a));
    else
        CT_TRY(ct_relu_backward(c, cv->co * M, r, g_r, g_a));
    return ct_conv_backward(c, cv, N, g_a, m->params, col, m->grads, g_in);
}

int ct_model_backward(ct_model *m, int N)
{
    ct_ctx *c = m->ctx;
    const ct_cnn_dims *d = &m->d;
    int drop1 = d->p1 > 0, drop2 = d->p2 > 0;
    CT_TRY(ct_fc_backward(c, &m->fc3, N, m->f2, m->g_logits, m->params, m->grads, m->g_f2));
    CT_TRY(ct_relu_backward(c, N * d->hidden / 2, m->f2, m->g_f2, m->g_f2));
    CT_TRY(ct_fc_backward(c, &m->fc2, N, drop2 ? m->f1d : m->f1, m->g_f2, m->params, m->grads, m->g_f1d));
    cl_mem g_f1 = m->g_f1d;
    if (drop2) {
        CT_TRY(ct_dropout_apply(c, N * d->hidden, m->g_f1d, m->mask2, m->g_f1));
        g_f1 = m->g_f1;
    }
    CT_TRY(ct_relu_backward(c, N * d->hidden, m->f1, g_f1, g_f1));
    CT_TRY(ct_fc_backward(c, &m->fc1, N, m->avg, g_f1, m->params, m->grads, m->g_avg));
    CT_TRY(ct_avgpool_backward(c, d->c3, N, 7, 7, 3, 3, m->g_avg, m->g_r3));
    CT_TRY(conv_block_bwd(m, N, &m->conv3, &m->bn3, 2, m->a3, m->r3, m->g_r3, m->g_a3, m->col3, m->g_dr2));
    cl_mem g_p2 = m->g_dr2;
    if (drop1) {
        CT_TRY(ct_dropout2d_apply(c, d->c2, N, 49, m->g_dr2, m->mask1, m->g_p2));
        g_p2 = m->g_p2;
    }
    CT_TRY(ct_maxpool2_backward(c, d->c2 * N, 14, 14, m->r2, g_p2, m->g_r2));
    CT_TRY(conv_block_bwd(m, N, &m->conv2, &m->bn2, 1, m->a2, m->r2, m->g_r2, m->g_a2, m->col2, m->g_p1));
    CT_TRY(ct_maxpool2_backward(c, d->c1 * N, 28, 28, m->r1, m->g_p1, m->g_r1));
    return conv_block_bwd(m, N, &m->conv1, &m->bn1, 0, m->a1, m->r1, m->g_r1, m->g_a1, m->col1, NULL);
}

int ct_model_optim_step(ct_model *m, const ct_optim *o)
{
    m->opt_steps++;
    if (o->adam)
        return ct_adam_step(m->ctx, m->n_params, m->params, m->grads, m->opt_m, m->opt_v, o->lr, o->b1, o->b2, o->eps,
                            o->weight_decay, m->opt_steps);
    return ct_sgd_step(m->ctx, m->n_params, m->params, m->grads, m->opt_m, o->lr, o->momentum, o->weight_decay);
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

int ct_model_read_activation(ct_model *m, const char *name, int N, int grad, float *out, size_t *count)
{
    const ct_cnn_dims *d = &m->d;
    struct {
        const char *name;
        cl_mem v, g;
        int C, HW; /* channel-major (C, N, HW) when HW > 0; else rows (N, C) */
    } map[] = {
        {"conv1", m->a1, m->g_a1, d->c1, 784},       {"relu1", m->r1, m->g_r1, d->c1, 784},
        {"pool1", m->p1, m->g_p1, d->c1, 196},       {"conv2", m->a2, m->g_a2, d->c2, 196},
        {"relu2", m->r2, m->g_r2, d->c2, 196},       {"pool2", m->p2, m->g_p2, d->c2, 49},
        {"drop1", m->dr2, m->g_dr2, d->c2, 49},      {"conv3", m->a3, m->g_a3, d->c3, 49},
        {"relu3", m->r3, m->g_r3, d->c3, 49},        {"avgpool", m->avg, m->g_avg, 9 * d->c3, 0},
        {"relu_fc1", m->f1, m->g_f1, d->hidden, 0},  {"drop2", m->f1d, m->g_f1d, d->hidden, 0},
        {"relu_fc2", m->f2, m->g_f2, d->hidden / 2, 0}, {"logits", m->logits, m->g_logits, 10, 0},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].name, name) != 0) continue;
        int HW = map[i].HW ? map[i].HW : 1;
        size_t n = (size_t)N * map[i].C * HW;
        *count = n;
        if (!map[i].HW) return ct_buffer_read(m->ctx, grad ? map[i].g : map[i].v, 0, n * 4, out);
        float *tmp = malloc(n * sizeof(float));
        if (!tmp) return ct_fail(CT_ERR_NOMEM, "out of host memory");
        int rc = ct_buffer_read(m->ctx, grad ? map[i].g : map[i].v, 0, n * 4, tmp);
        if (rc == CT_OK)
            for (int c = 0; c < map[i].C; c++)
                for (int b = 0; b < N; b++)
                    memcpy(out + ((size_t)b * map[i].C + c) * HW, tmp + ((size_t)c * N + b) * HW,
                           (size_t)HW * sizeof(float));
        free(tmp);
        return rc;
    }
    return ct_fail(CT_ERR_USAGE, "unknown activation '%s'", name);
}
