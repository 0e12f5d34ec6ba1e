/* tune/shapes.c: the operations a training step of a resolved network runs, as `cltrain tune`
 * times them: every conv2d (forward, weight gradient, data gradient when its input needs one),
 * linear, batchnorm and pooling layer, deduplicated by shape and counted, then the optimizer
 * step over every parameter. Activations, dropout, flatten and adds are not tuned and not
 * listed. The hash of the layers' shapes is the network's key in the tuning cache. */
#include <stdlib.h>
#include <string.h>

#include "tune/tune_int.h"

static int is_pool2(const ct_layer_def *d)
{
    return d->kernel[0] == 2 && d->kernel[1] == 2 && d->stride[0] == 2 && d->stride[1] == 2 && !d->padding[0] &&
           !d->padding[1];
}

/* 1 when layer i's output is read only by a flatten right after it (the executor then fuses
 * adaptive pooling with the flatten) */
static int only_flatten_reads(const ct_netdef *net, int i)
{
    int readers = 0, flatten = 0;
    for (int j = i + 1; j < net->n_layers; j++)
        for (int k = 0; k < net->layers[j].n_inputs; k++)
            if (net->layers[j].inputs[k] == i) {
                readers++;
                flatten += net->layers[j].type == CT_L_FLATTEN;
            }
    return readers == 1 && flatten == 1;
}

/* the shape of layer i, or 0 when tune does not time its type */
static int layer_shape(const ct_netdef *net, int i, const int *needs_grad, ct_tune_shape *s)
{
    const ct_layer_def *d = &net->layers[i];
    memset(s, 0, sizeof *s);
    const int j = d->n_inputs ? d->inputs[0] : -1;
    s->need_dx = j >= 0 && needs_grad[j];
    s->h = d->in.h, s->w = d->in.w;
    s->kh = d->kernel[0], s->kw = d->kernel[1], s->sh = d->stride[0], s->sw = d->stride[1];
    s->ph = d->padding[0], s->pw = d->padding[1];
    switch (d->type) {
    case CT_L_CONV2D: s->kind = S_CONV, s->a = d->in.c, s->b = d->out_channels, s->flag = d->bias; break;
    case CT_L_LINEAR:
        memset(s, 0, sizeof *s);
        s->kind = S_FC, s->a = d->in.c, s->b = d->out_features, s->flag = d->bias;
        s->need_dx = j >= 0 && needs_grad[j];
        break;
    case CT_L_BATCHNORM2D: s->kind = S_BN2D, s->a = d->out.c, s->kh = s->kw = s->sh = s->sw = s->ph = s->pw = 0; break;
    case CT_L_BATCHNORM1D:
        memset(s, 0, sizeof *s);
        s->kind = S_BN1D, s->a = d->out.c;
        break;
    case CT_L_MAXPOOL2D:
    case CT_L_AVGPOOL2D:
        s->kind = d->type == CT_L_MAXPOOL2D ? S_MAXPOOL : S_AVGPOOL;
        s->a = d->in.c;
        s->flag = d->type == CT_L_MAXPOOL2D ? is_pool2(d) : d->count_include_pad;
        break;
    case CT_L_ADAPTIVE_AVGPOOL2D:
        s->kind = S_ADAPTIVE, s->a = d->in.c, s->kh = d->out.h, s->kw = d->out.w;
        s->sh = s->sw = s->ph = s->pw = 0;
        s->flag = only_flatten_reads(net, i);
        break;
    default: return 0;
    }
    if (s->kind == S_BN2D || s->kind == S_BN1D) s->need_dx = 0; /* its backward always runs whole */
    snprintf(s->name, sizeof s->name, "%.23s", d->name); /* a long name is cut */
    return 1;
}

static int same_shape(const ct_tune_shape *x, const ct_tune_shape *y)
{
    return x->kind == y->kind && x->a == y->a && x->b == y->b && x->h == y->h && x->w == y->w && x->kh == y->kh &&
           x->kw == y->kw && x->sh == y->sh && x->sw == y->sw && x->ph == y->ph && x->pw == y->pw &&
           x->flag == y->flag && x->n == y->n;
}

static uint64_t hash_shape(const ct_tune_shape *s, uint64_t h)
{
    const long long v[] = {s->kind, s->a, s->b, s->h, s->w, s->kh, s->kw, s->sh, s->sw,
                           s->ph, s->pw, s->flag, s->need_dx, s->n, s->count};
    return ct_hash64(v, sizeof v, h);
}

int ct_tune_shapes(const ct_netdef *net, int adam, ct_tune_shape **out, int *n, unsigned long long *key)
{
    *out = NULL;
    *n = 0;
    ct_tune_shape *list = calloc((size_t)net->n_layers + 1, sizeof *list);
    int *needs_grad = calloc((size_t)net->n_layers + 1, sizeof *needs_grad);
    if (!list || !needs_grad) {
        free(list);
        free(needs_grad);
        return ct_fail(CT_ERR_NOMEM, "out of memory");
    }
    int k = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const ct_layer_def *d = &net->layers[i];
        needs_grad[i] = ct_layer_has_params(d->type);
        for (int j = 0; j < d->n_inputs; j++)
            if (d->inputs[j] >= 0 && needs_grad[d->inputs[j]]) needs_grad[i] = 1;
        ct_tune_shape s;
        if (!layer_shape(net, i, needs_grad, &s)) continue;
        int f = 0;
        while (f < k && !same_shape(&list[f], &s)) f++;
        if (f == k) list[k++] = s;
        list[f].count++;
        list[f].need_dx |= s.need_dx;
    }
    uint64_t h = 0x5eed; /* the layers' shapes (not the optimizer: evaluate and predict do not know it) */
    for (int i = 0; i < k; i++) h = hash_shape(&list[i], h);
    ct_tune_shape *o = &list[k++];
    o->kind = S_OPTIM, o->a = adam, o->n = ct_netdef_param_count(net), o->count = 1;
    snprintf(o->name, sizeof o->name, "%s", adam ? "adam" : "sgd");
    free(needs_grad);
    *out = list;
    *n = k;
    *key = h;
    return CT_OK;
}

/* "k3" for a square pair, "k3x1" otherwise */
static int pair(char *buf, size_t cap, const char *tag, int a, int b)
{
    return a == b ? snprintf(buf, cap, " %s%d", tag, a) : snprintf(buf, cap, " %s%dx%d", tag, a, b);
}

void ct_tune_shape_label(const ct_tune_shape *s, char *buf, size_t cap)
{
    size_t n = 0;
#define ADDN(expr)                                                                                                     \
    do {                                                                                                               \
        int w_ = (expr);                                                                                               \
        if (w_ > 0) n = n + (size_t)w_ < cap ? n + (size_t)w_ : cap - 1;                                               \
    } while (0)
    buf[0] = 0;
    switch (s->kind) {
    case S_CONV:
        ADDN(snprintf(buf, cap, "%d->%d %dx%d", s->a, s->b, s->h, s->w));
        ADDN(pair(buf + n, cap - n, "k", s->kh, s->kw));
        if (s->sh != 1 || s->sw != 1) ADDN(pair(buf + n, cap - n, "s", s->sh, s->sw));
        ADDN(pair(buf + n, cap - n, "p", s->ph, s->pw));
        if (!s->flag) ADDN(snprintf(buf + n, cap - n, " nobias"));
        break;
    case S_FC: ADDN(snprintf(buf, cap, "%d->%d%s", s->a, s->b, s->flag ? "" : " nobias")); break;
    case S_BN2D: ADDN(snprintf(buf, cap, "C%d %dx%d", s->a, s->h, s->w)); break;
    case S_BN1D: ADDN(snprintf(buf, cap, "F%d", s->a)); break;
    case S_MAXPOOL:
    case S_AVGPOOL:
        ADDN(snprintf(buf, cap, "C%d %dx%d", s->a, s->h, s->w));
        ADDN(pair(buf + n, cap - n, "k", s->kh, s->kw));
        ADDN(pair(buf + n, cap - n, "s", s->sh, s->sw));
        if (s->ph || s->pw) ADDN(pair(buf + n, cap - n, "p", s->ph, s->pw));
        break;
    case S_ADAPTIVE: ADDN(snprintf(buf, cap, "C%d %dx%d->%dx%d", s->a, s->h, s->w, s->kh, s->kw)); break;
    case S_OPTIM: ADDN(snprintf(buf, cap, "%lld parameters", s->n)); break;
    }
#undef ADDN
}
