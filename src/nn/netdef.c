/* nn/netdef.c: the network description (see netdef.h): layer type names and keys, the seed's
 * DigitCNN, shape resolution with every rule of the `network:` contract, the JSON form (jansson),
 * parameter, FLOP and device-memory counts. Plain host data: no device. */
#include "nn/netdef.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/jsonutil.h"

#include "common.h"

static const char *const type_names[CT_L_COUNT] = {
    "conv2d",   "batchnorm2d", "batchnorm1d", "relu",    "leaky_relu", "tanh",   "sigmoid", "maxpool2d",
    "avgpool2d", "adaptive_avgpool2d", "dropout", "dropout2d", "flatten", "linear", "add",
};

/* the keys each type takes besides name, type and input/inputs, in JSON output order */
static const char *const k_conv[] = {"out_channels", "kernel", "stride", "padding", "bias", NULL};
static const char *const k_bn[] = {"eps", "momentum", NULL};
static const char *const k_none[] = {NULL};
static const char *const k_leaky[] = {"negative_slope", NULL};
static const char *const k_maxpool[] = {"kernel", "stride", "padding", NULL};
static const char *const k_avgpool[] = {"kernel", "stride", "padding", "count_include_pad", NULL};
static const char *const k_adaptive[] = {"output", NULL};
static const char *const k_dropout[] = {"p", NULL};
static const char *const k_linear[] = {"out_features", "bias", NULL};
static const char *const *const type_keys[CT_L_COUNT] = {
    k_conv, k_bn, k_bn, k_none, k_leaky, k_none, k_none, k_maxpool, k_avgpool, k_adaptive, k_dropout, k_dropout,
    k_none, k_linear, k_none,
};

/* nn.Module attributes (PyTorch 1.13 and later): a name segment equal to one of these cannot be
 * registered as a submodule (add_module: "attribute already exists"). Segments that start with
 * '_' are refused as a whole (PyTorch's private attributes). */
static const char *const reserved_segments[] = {
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad", NULL,
};

const char *ct_layer_type_name(ct_layer_type t)
{
    return (int)t >= 0 && t < CT_L_COUNT ? type_names[t] : NULL;
}

ct_layer_type ct_layer_type_from_name(const char *s)
{
    for (int i = 0; s && i < CT_L_COUNT; i++)
        if (!strcmp(s, type_names[i])) return (ct_layer_type)i;
    return CT_L_COUNT;
}

int ct_layer_has_params(ct_layer_type t)
{
    return t == CT_L_CONV2D || t == CT_L_BATCHNORM2D || t == CT_L_BATCHNORM1D || t == CT_L_LINEAR;
}

const char *const *ct_layer_type_keys(ct_layer_type t)
{
    return (int)t >= 0 && t < CT_L_COUNT ? type_keys[t] : NULL;
}

void ct_layer_defaults(ct_layer_def *l, ct_layer_type t)
{
    memset(l, 0, sizeof *l);
    l->type = t;
    l->n_inputs = 0;
    l->bias = 1;
    l->eps = 1e-5;
    l->momentum = 0.1;
    l->negative_slope = 0.01;
    l->count_include_pad = 1;
    l->p = 0.5;
}

void ct_netdef_free(ct_netdef *n)
{
    if (!n) return;
    free(n->layers);
    memset(n, 0, sizeof *n);
}

int ct_netdef_copy(const ct_netdef *src, ct_netdef *dst)
{
    ct_netdef t = *src;
    t.layers = NULL;
    if (src->n_layers > 0) {
        t.layers = ct_malloc((size_t)src->n_layers * sizeof *t.layers, "network layers");
        if (!t.layers) return CT_ERR_NOMEM;
        memcpy(t.layers, src->layers, (size_t)src->n_layers * sizeof *t.layers);
    }
    *dst = t;
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * DigitCNN
 * ------------------------------------------------------------------------------------------- */

static ct_layer_def *push(ct_netdef *n, ct_layer_type t, const char *name)
{
    ct_layer_def *l = &n->layers[n->n_layers];
    ct_layer_defaults(l, t);
    snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    l->n_inputs = 1;
    l->inputs[0] = n->n_layers - 1;
    n->n_layers++;
    return l;
}

static void push_conv(ct_netdef *n, const char *name, int co, int k, int pad)
{
    ct_layer_def *l = push(n, CT_L_CONV2D, name);
    l->out_channels = co;
    l->kernel[0] = l->kernel[1] = k;
    l->stride[0] = l->stride[1] = 1;
    l->padding[0] = l->padding[1] = pad;
}

static void push_pool(ct_netdef *n, const char *name)
{
    ct_layer_def *l = push(n, CT_L_MAXPOOL2D, name);
    for (int i = 0; i < 2; i++) {
        l->kernel[i] = 2;
        l->stride[i] = 2;
    }
}

static void push_linear(ct_netdef *n, const char *name, int out)
{
    push(n, CT_L_LINEAR, name)->out_features = out;
}

static void push_dropout(ct_netdef *n, ct_layer_type t, const char *name, double p)
{
    push(n, t, name)->p = p;
}

int ct_netdef_digitcnn(int c1, int c2, int c3, int hidden, double p1, double p2, int use_bn, ct_netdef *out)
{
    ct_netdef n = {.in_c = 1, .in_h = 28, .in_w = 28, .classes = 10};
    n.layers = ct_calloc(24, sizeof *n.layers, "network layers");
    if (!n.layers) return CT_ERR_NOMEM;
    const int ch[3] = {c1, c2, c3}, ks[3] = {5, 5, 3};
    for (int i = 0; i < 3; i++) {
        char nm[16];
        snprintf(nm, sizeof nm, "conv%d", i + 1);
        push_conv(&n, nm, ch[i], ks[i], ks[i] / 2);
        snprintf(nm, sizeof nm, "bn%d", i + 1);
        if (use_bn) push(&n, CT_L_BATCHNORM2D, nm);
        push(&n, CT_L_RELU, NULL);
        if (i < 2) {
            snprintf(nm, sizeof nm, "pool%d", i + 1);
            push_pool(&n, nm);
        }
        if (i == 1) push_dropout(&n, CT_L_DROPOUT2D, "dropout1", p1);
    }
    ct_layer_def *a = push(&n, CT_L_ADAPTIVE_AVGPOOL2D, "pool3");
    a->output[0] = a->output[1] = 3;
    push(&n, CT_L_FLATTEN, NULL);
    push_linear(&n, "fc1", hidden);
    push(&n, CT_L_RELU, NULL);
    push_dropout(&n, CT_L_DROPOUT, "dropout2", p2);
    push_linear(&n, "fc2", hidden / 2);
    push(&n, CT_L_RELU, NULL);
    push_linear(&n, "fc3", 10);
    int rc = ct_netdef_resolve(&n, "DigitCNN (model: keys)");
    if (rc != CT_OK) {
        ct_netdef_free(&n);
        return rc;
    }
    *out = n;
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Resolution
 * ------------------------------------------------------------------------------------------- */

/* "ORIGIN:LINE:COL: network.layers[I] (name, type): " */
static void where(const ct_netdef *n, int i, const char *origin, char *buf, size_t cap)
{
    const ct_layer_def *l = &n->layers[i];
    const char *tn = ct_layer_type_name(l->type);
    char pos[64] = "";
    if (l->line > 0) snprintf(pos, sizeof pos, ":%d:%d", l->line, l->col);
    if (l->name[0])
        snprintf(buf, cap, "%s%s: network.layers[%d] ('%s', %s)", origin, pos, i, l->name, tn ? tn : "?");
    else
        snprintf(buf, cap, "%s%s: network.layers[%d] (%s)", origin, pos, i, tn ? tn : "?");
}

static int layer_fail(const ct_netdef *n, int i, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int layer_fail(const ct_netdef *n, int i, const char *origin, const char *fmt, ...)
{
    char w[512], msg[768];
    where(n, i, origin, w, sizeof w);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ct_fail(CT_ERR_USAGE, "%s: %s", w, msg);
}

static int is_reserved(const char *s, size_t len)
{
    if (len > 0 && s[0] == '_') return 1;
    for (int i = 0; reserved_segments[i]; i++)
        if (strlen(reserved_segments[i]) == len && !strncmp(reserved_segments[i], s, len)) return 1;
    return 0;
}

/* dotted segments, each an identifier or an integer; no PyTorch attribute names */
static int check_name(const ct_netdef *n, int i, const char *origin)
{
    const char *s = n->layers[i].name;
    const char *seg = s;
    for (;;) {
        size_t len = strcspn(seg, ".");
        int ok = len > 0, digits = len > 0 && isdigit((unsigned char)seg[0]);
        for (size_t j = 0; j < len && ok; j++) {
            unsigned char ch = (unsigned char)seg[j];
            ok = digits ? isdigit(ch) : (isalnum(ch) || ch == '_') && ch < 128;
        }
        if (!ok)
            return layer_fail(n, i, origin,
                              "name '%s' is not dotted segments of identifiers or integers (e.g. conv1, "
                              "block2.shortcut.0); rename the layer",
                              s);
        if (!digits && is_reserved(seg, len))
            return layer_fail(n, i, origin,
                              "name segment '%.*s' in '%s' is a PyTorch nn.Module attribute and cannot be a module "
                              "name; rename the layer (e.g. '%.*s_')",
                              (int)len, seg, s, (int)len, seg);
        if (!seg[len]) return CT_OK;
        seg += len + 1;
    }
}

/* a name equal to another, or a module path of another ("block2" and "block2.conv1") */
static int check_unique(const ct_netdef *n, int i, const char *origin)
{
    const char *a = n->layers[i].name;
    size_t la = strlen(a);
    for (int j = 0; j < i; j++) {
        const char *b = n->layers[j].name;
        size_t lb = strlen(b);
        if (!lb) continue;
        if (!strcmp(a, b))
            return layer_fail(n, i, origin, "duplicate name '%s' (also network.layers[%d]); names must be unique", a,
                              j);
        const char *s = la < lb ? a : b, *l = la < lb ? b : a;
        size_t ls = la < lb ? la : lb;
        if (!strncmp(s, l, ls) && l[ls] == '.')
            return layer_fail(n, i, origin,
                              "name '%s' and network.layers[%d]'s '%s': a layer name cannot also be the module path "
                              "of another layer (the state_dict keys would clash); rename one of them",
                              a, j, b);
    }
    return CT_OK;
}

static const char *shape_str(const ct_act_shape *s, char *buf, size_t cap)
{
    if (s->rank == 4) snprintf(buf, cap, "[%d, %d, %d]", s->c, s->h, s->w);
    else snprintf(buf, cap, "[%d]", s->c);
    return buf;
}

static int check_inputs(ct_netdef *n, int i, const char *origin)
{
    ct_layer_def *l = &n->layers[i];
    if (l->n_inputs == 0) {
        l->n_inputs = 1;
        l->inputs[0] = i - 1;
    }
    if (l->type == CT_L_ADD && (l->n_inputs < 2 || l->n_inputs > CT_NET_MAX_INPUTS))
        return layer_fail(n, i, origin, "add takes 2 to %d inputs (inputs: [a, b]), not %d", CT_NET_MAX_INPUTS,
                          l->n_inputs);
    if (l->type != CT_L_ADD && l->n_inputs != 1)
        return layer_fail(n, i, origin, "takes one input (input: NAME), not %d; only add takes several", l->n_inputs);
    for (int k = 0; k < l->n_inputs; k++)
        if (l->inputs[k] < -1 || l->inputs[k] >= i)
            return layer_fail(n, i, origin,
                              "input %d refers to layer %d, which is not an earlier layer; a layer can only take "
                              "the output of a layer above it (or -1, the network input)",
                              k, l->inputs[k]);
    return CT_OK;
}

static ct_act_shape shape_of(const ct_netdef *n, int idx)
{
    if (idx < 0) return (ct_act_shape){4, n->in_c, n->in_h, n->in_w};
    return n->layers[idx].out;
}

static int need_image(const ct_netdef *n, int i, const char *origin, const char *what)
{
    const ct_layer_def *l = &n->layers[i];
    if (l->in.rank == 4) return CT_OK;
    return layer_fail(n, i, origin, "needs an image input (C, H, W) but gets a flat vector of %d; %s", l->in.c, what);
}

static int pair_at_least(const ct_netdef *n, int i, const char *origin, const char *key, const int v[2], int lo)
{
    if (v[0] < lo || v[1] < lo)
        return layer_fail(n, i, origin, "%s [%d, %d] must be >= %d", key, v[0], v[1], lo);
    return CT_OK;
}

/* PyTorch's floor((in + 2p - k) / s) + 1 on both axes */
static int window_out(const ct_netdef *n, int i, const char *origin, ct_act_shape *o)
{
    const ct_layer_def *l = &n->layers[i];
    const int in[2] = {l->in.h, l->in.w};
    int out[2];
    for (int a = 0; a < 2; a++) {
        long long span = (long long)in[a] + 2LL * l->padding[a] - l->kernel[a];
        long long v = span < 0 ? 0 : span / l->stride[a] + 1;
        if (v < 1)
            return layer_fail(n, i, origin,
                              "output %s collapses below 1 (input %s %d, kernel %d, stride %d, padding %d: "
                              "floor((%d + 2*%d - %d) / %d) + 1 < 1); use a smaller kernel or stride, more padding, "
                              "or fewer pooling layers before it",
                              a ? "width" : "height", a ? "width" : "height", in[a], l->kernel[a], l->stride[a],
                              l->padding[a], in[a], l->padding[a], l->kernel[a], l->stride[a]);
        out[a] = (int)v;
    }
    o->h = out[0];
    o->w = out[1];
    return CT_OK;
}

static int resolve_window(ct_netdef *n, int i, const char *origin, int is_conv)
{
    ct_layer_def *l = &n->layers[i];
    int rc = need_image(n, i, origin, is_conv ? "put it before the flatten" : "pool before the flatten");
    if (rc) return rc;
    if (!l->kernel[0] && !l->kernel[1])
        return layer_fail(n, i, origin, "needs kernel (an int or [h, w]); add e.g. kernel: 3");
    for (int a = 0; a < 2; a++)
        if (!l->stride[a]) l->stride[a] = is_conv ? 1 : l->kernel[a];
    if ((rc = pair_at_least(n, i, origin, "kernel", l->kernel, 1)) ||
        (rc = pair_at_least(n, i, origin, "stride", l->stride, 1)) ||
        (rc = pair_at_least(n, i, origin, "padding", l->padding, 0)))
        return rc;
    if (!is_conv && (2 * l->padding[0] > l->kernel[0] || 2 * l->padding[1] > l->kernel[1]))
        return layer_fail(n, i, origin,
                          "padding [%d, %d] is more than half of kernel [%d, %d] (PyTorch refuses it); use a "
                          "smaller padding",
                          l->padding[0], l->padding[1], l->kernel[0], l->kernel[1]);
    l->out = l->in;
    if (is_conv) {
        if (l->out_channels < 1) return layer_fail(n, i, origin, "needs out_channels >= 1; add e.g. out_channels: 32");
        l->out.c = l->out_channels;
    }
    return window_out(n, i, origin, &l->out);
}

static int check_real(const ct_netdef *n, int i, const char *origin, const char *key, double v, double lo,
                      double hi, int hi_open)
{
    if (!isfinite(v) || v < lo || (hi_open ? v >= hi : v > hi))
        return layer_fail(n, i, origin, "%s %g is outside [%g, %g%s; use a value in that range", key, v, lo, hi,
                          hi_open ? ")" : "]");
    return CT_OK;
}

static int resolve_add(ct_netdef *n, int i, const char *origin)
{
    ct_layer_def *l = &n->layers[i];
    for (int k = 1; k < l->n_inputs; k++) {
        ct_act_shape s = shape_of(n, l->inputs[k]);
        if (s.rank != l->in.rank || s.c != l->in.c || s.h != l->in.h || s.w != l->in.w) {
            char a[64], b[64];
            return layer_fail(n, i, origin,
                              "add of unequal shapes: input 0 is %s, input %d is %s; make the branches end in the "
                              "same shape (e.g. a 1x1 conv2d with the stride of the other branch as shortcut)",
                              shape_str(&l->in, a, sizeof a), k, shape_str(&s, b, sizeof b));
        }
    }
    l->out = l->in;
    return CT_OK;
}

static int resolve_type(ct_netdef *n, int i, const char *origin)
{
    ct_layer_def *l = &n->layers[i];
    int rc;
    l->out = l->in;
    switch (l->type) {
    case CT_L_CONV2D: return resolve_window(n, i, origin, 1);
    case CT_L_MAXPOOL2D:
    case CT_L_AVGPOOL2D: return resolve_window(n, i, origin, 0);
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D:
        if (l->type == CT_L_BATCHNORM2D && l->in.rank != 4)
            return layer_fail(n, i, origin, "batchnorm2d needs an image input; use batchnorm1d after the flatten");
        if (l->type == CT_L_BATCHNORM1D && l->in.rank != 2)
            return layer_fail(n, i, origin, "batchnorm1d needs a flat input; use batchnorm2d on images");
        if ((rc = check_real(n, i, origin, "eps", l->eps, 1e-30, 1, 0))) return rc;
        if (l->eps <= 0) return layer_fail(n, i, origin, "eps must be > 0");
        return check_real(n, i, origin, "momentum", l->momentum, 0, 1, 0);
    case CT_L_LEAKY_RELU:
        if (!isfinite(l->negative_slope)) return layer_fail(n, i, origin, "negative_slope must be a finite number");
        return CT_OK;
    case CT_L_RELU:
    case CT_L_TANH:
    case CT_L_SIGMOID: return CT_OK;
    case CT_L_ADAPTIVE_AVGPOOL2D:
        if ((rc = need_image(n, i, origin, "pool before the flatten"))) return rc;
        if (l->output[0] < 1 || l->output[1] < 1)
            return layer_fail(n, i, origin, "needs output (an int or [h, w]) >= 1, not [%d, %d]", l->output[0],
                              l->output[1]);
        l->out.h = l->output[0];
        l->out.w = l->output[1];
        return CT_OK;
    case CT_L_DROPOUT2D:
        if ((rc = need_image(n, i, origin, "use dropout on flat vectors"))) return rc;
        /* fall through */
    case CT_L_DROPOUT: return check_real(n, i, origin, "p", l->p, 0, 1, 1);
    case CT_L_FLATTEN: l->out = (ct_act_shape){2, l->in.c * l->in.h * l->in.w, 1, 1}; return CT_OK;
    case CT_L_LINEAR:
        if (l->in.rank != 2)
            return layer_fail(n, i, origin,
                              "linear on an unflattened image [%d, %d, %d]; add {type: flatten} before it", l->in.c,
                              l->in.h, l->in.w);
        if (l->out_features < 1) return layer_fail(n, i, origin, "needs out_features >= 1; add e.g. out_features: 10");
        l->out = (ct_act_shape){2, l->out_features, 1, 1};
        return CT_OK;
    case CT_L_ADD: return resolve_add(n, i, origin);
    default: return layer_fail(n, i, origin, "unknown layer type %d", (int)l->type);
    }
}

static int resolve_layer(ct_netdef *n, int i, const char *origin)
{
    ct_layer_def *l = &n->layers[i];
    int rc;
    if (!ct_layer_type_name(l->type)) return layer_fail(n, i, origin, "invalid layer type %d", (int)l->type);
    l->name[CT_NET_NAME_MAX - 1] = 0;
    if (!l->name[0] && ct_layer_has_params(l->type))
        return layer_fail(n, i, origin,
                          "a %s layer has parameters and needs a name (its state_dict keys are <name>.weight, ...); "
                          "add name: ...",
                          ct_layer_type_name(l->type));
    if (l->name[0] && ((rc = check_name(n, i, origin)) || (rc = check_unique(n, i, origin)))) return rc;
    if ((rc = check_inputs(n, i, origin))) return rc;
    l->in = shape_of(n, l->inputs[0]);
    if ((rc = resolve_type(n, i, origin))) return rc;
    long long numel = (long long)l->out.c * l->out.h * l->out.w;
    if (numel > INT_MAX / 4)
        return layer_fail(n, i, origin, "output of %lld values per image is too large; make the network smaller",
                          numel);
    return CT_OK;
}

int ct_netdef_resolve(ct_netdef *n, const char *origin)
{
    if (!origin) origin = "network";
    if (n->n_layers < 1 || n->n_layers > CT_NET_MAX_LAYERS || !n->layers)
        return ct_fail(CT_ERR_USAGE, "%s: network.layers needs 1 to %d layers, not %d", origin, CT_NET_MAX_LAYERS,
                       n->n_layers);
    if (n->in_c < 1 || n->in_h < 1 || n->in_w < 1 || (long long)n->in_c * n->in_h * n->in_w > INT_MAX / 4)
        return ct_fail(CT_ERR_USAGE, "%s: network.input {channels: %d, height: %d, width: %d}: each must be >= 1 "
                                     "(and the image not huge)",
                       origin, n->in_c, n->in_h, n->in_w);
    for (int i = 0; i < n->n_layers; i++) {
        int rc = resolve_layer(n, i, origin);
        if (rc) return rc;
    }
    int last = n->n_layers - 1;
    const ct_act_shape *o = &n->layers[last].out;
    if (o->rank != 2)
        return layer_fail(n, last, origin,
                          "the last layer's output is an image [%d, %d, %d], not a flat vector of class scores; end "
                          "with flatten and linear (out_features = the number of classes)",
                          o->c, o->h, o->w);
    if (n->classes > 0 && o->c != n->classes)
        return layer_fail(n, last, origin,
                          "the last layer's width is %d but the data set has %d classes; set its out_features to %d",
                          o->c, n->classes, n->classes);
    n->classes = o->c;
    return CT_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Counts
 * ------------------------------------------------------------------------------------------- */

static long long layer_params(const ct_layer_def *l)
{
    switch (l->type) {
    case CT_L_CONV2D:
        return (long long)l->out_channels * l->in.c * l->kernel[0] * l->kernel[1] + (l->bias ? l->out_channels : 0);
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D: return 2LL * l->in.c;
    case CT_L_LINEAR: return (long long)l->out_features * l->in.c + (l->bias ? l->out_features : 0);
    default: return 0;
    }
}

long long ct_layer_param_count(const ct_layer_def *l) { return layer_params(l); }

long long ct_netdef_param_count(const ct_netdef *n)
{
    long long s = 0;
    for (int i = 0; i < n->n_layers; i++) s += layer_params(&n->layers[i]);
    return s;
}

double ct_layer_flops(const ct_layer_def *l)
{
    double outs = (double)l->out.c * l->out.h * l->out.w;
    switch (l->type) {
    case CT_L_CONV2D: return 2.0 * outs * l->in.c * l->kernel[0] * l->kernel[1];
    case CT_L_LINEAR: return 2.0 * (double)l->in.c * l->out_features;
    default: return 0;
    }
}

static unsigned long long numel(const ct_act_shape *s) { return (unsigned long long)s->c * s->h * s->w; }

unsigned long long ct_netdef_memory_estimate(const ct_netdef *n, int batch)
{
    unsigned long long fixed = 4ull * 4ull * (unsigned long long)ct_netdef_param_count(n); /* params, grads, m, v */
    unsigned long long per = numel(&(ct_act_shape){4, n->in_c, n->in_h, n->in_w});       /* input */
    for (int i = 0; i < n->n_layers; i++) {
        const ct_layer_def *l = &n->layers[i];
        per += 2 * numel(&l->out); /* activation and its gradient */
        switch (l->type) {
        case CT_L_CONV2D: /* im2col workspace */
            per += (unsigned long long)l->in.c * l->kernel[0] * l->kernel[1] * l->out.h * l->out.w;
            break;
        case CT_L_BATCHNORM2D:
        case CT_L_BATCHNORM1D: fixed += 4ull * 4 * (unsigned long long)l->in.c; break; /* running stats, saved */
        case CT_L_DROPOUT: per += numel(&l->out); break;                              /* mask */
        case CT_L_DROPOUT2D: per += (unsigned long long)l->out.c; break;
        case CT_L_MAXPOOL2D: per += numel(&l->out); break; /* argmax */
        default: break;
        }
    }
    per += 2ull * (unsigned long long)n->classes + 2; /* probabilities, loss gradient, target, loss */
    return fixed + 4ull * per * (unsigned long long)(batch > 0 ? batch : 1);
}

/* ---------------------------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------------------------- */

static json_t *pair_json(const int v[2]) { return json_pack("[ii]", v[0], v[1]); }

static json_t *shape_json(const ct_act_shape *s)
{
    return s->rank == 4 ? json_pack("[iii]", s->c, s->h, s->w) : json_pack("[i]", s->c);
}

static int key_json(json_t *o, const ct_layer_def *l, const char *k)
{
    json_t *v = NULL;
    if (!strcmp(k, "out_channels")) v = json_integer(l->out_channels);
    else if (!strcmp(k, "out_features")) v = json_integer(l->out_features);
    else if (!strcmp(k, "kernel")) v = pair_json(l->kernel);
    else if (!strcmp(k, "stride")) v = pair_json(l->stride);
    else if (!strcmp(k, "padding")) v = pair_json(l->padding);
    else if (!strcmp(k, "output")) v = pair_json(l->output);
    else if (!strcmp(k, "bias")) v = json_boolean(l->bias);
    else if (!strcmp(k, "count_include_pad")) v = json_boolean(l->count_include_pad);
    else if (!strcmp(k, "eps")) v = json_real(l->eps);
    else if (!strcmp(k, "momentum")) v = json_real(l->momentum);
    else if (!strcmp(k, "negative_slope")) v = json_real(l->negative_slope);
    else if (!strcmp(k, "p")) v = json_real(l->p);
    return v && !json_object_set_new(o, k, v) ? 0 : -1;
}

static json_t *layer_json(const ct_layer_def *l)
{
    json_t *o = json_object();
    if (!o) return NULL;
    int bad = 0;
    if (l->name[0]) bad |= json_object_set_new(o, "name", json_string(l->name));
    bad |= json_object_set_new(o, "type", json_string(ct_layer_type_name(l->type)));
    json_t *in = json_array();
    for (int k = 0; in && k < l->n_inputs; k++) bad |= json_array_append_new(in, json_integer(l->inputs[k]));
    bad |= json_object_set_new(o, "inputs", in);
    for (const char *const *k = type_keys[l->type]; *k; k++) bad |= key_json(o, l, *k);
    bad |= json_object_set_new(o, "output_shape", shape_json(&l->out));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int ct_netdef_to_json(const ct_netdef *n, char **out)
{
    *out = NULL;
    json_t *root = json_object(), *layers = json_array();
    int bad = !root || !layers;
    if (!bad) {
        bad |= json_object_set_new(root, "input",
                                   json_pack("{s:i,s:i,s:i}", "channels", n->in_c, "height", n->in_h, "width", n->in_w));
        bad |= json_object_set_new(root, "classes", json_integer(n->classes));
        for (int i = 0; i < n->n_layers && !bad; i++) bad |= json_array_append_new(layers, layer_json(&n->layers[i]));
        bad |= json_object_set(root, "layers", layers);
    }
    json_decref(layers);
    if (bad) {
        json_decref(root);
        return ct_fail(CT_ERR_NOMEM, "out of memory writing the network as JSON");
    }
    return ct_jdump_take(root, out, NULL);
}

/* --- reading ---------------------------------------------------------------------------------- */

static int jfail(const char *origin, int i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int jfail(const char *origin, int i, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (i >= 0) return ct_fail(CT_ERR_INPUT, "%s: network JSON: layers[%d]: %s", origin, i, msg);
    return ct_fail(CT_ERR_INPUT, "%s: network JSON: %s", origin, msg);
}

static int get_int(json_t *v, int *out)
{
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < INT_MIN || x > INT_MAX) return -1;
    *out = (int)x;
    return 0;
}

static int get_pair(json_t *v, int out[2])
{
    if (json_is_integer(v)) {
        if (get_int(v, &out[0])) return -1;
        out[1] = out[0];
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) != 2) return -1;
    return get_int(json_array_get(v, 0), &out[0]) || get_int(json_array_get(v, 1), &out[1]) ? -1 : 0;
}

static int layer_key(json_t *v, ct_layer_def *l, const char *k)
{
    if (!strcmp(k, "out_channels")) return get_int(v, &l->out_channels);
    if (!strcmp(k, "out_features")) return get_int(v, &l->out_features);
    if (!strcmp(k, "kernel")) return get_pair(v, l->kernel);
    if (!strcmp(k, "stride")) return get_pair(v, l->stride);
    if (!strcmp(k, "padding")) return get_pair(v, l->padding);
    if (!strcmp(k, "output")) return get_pair(v, l->output);
    if (!strcmp(k, "bias") || !strcmp(k, "count_include_pad")) {
        if (!json_is_boolean(v)) return -1;
        *(!strcmp(k, "bias") ? &l->bias : &l->count_include_pad) = json_is_true(v);
        return 0;
    }
    if (!json_is_number(v)) return -1;
    double d = json_number_value(v);
    if (!strcmp(k, "eps")) l->eps = d;
    else if (!strcmp(k, "momentum")) l->momentum = d;
    else if (!strcmp(k, "negative_slope")) l->negative_slope = d;
    else if (!strcmp(k, "p")) l->p = d;
    else return -1;
    return 0;
}

static int is_type_key(ct_layer_type t, const char *k)
{
    for (const char *const *p = type_keys[t]; *p; p++)
        if (!strcmp(*p, k)) return 1;
    return 0;
}

static int inputs_from_json(json_t *v, ct_layer_def *l)
{
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n < 1 || n > CT_NET_MAX_INPUTS) return -1;
    for (size_t k = 0; k < n; k++)
        if (get_int(json_array_get(v, k), &l->inputs[k])) return -1;
    l->n_inputs = (int)n;
    return 0;
}

static int layer_from_json(json_t *o, int i, const char *origin, ct_layer_def *l, json_t **shape)
{
    if (!json_is_object(o)) return jfail(origin, i, "is not an object");
    json_t *t = json_object_get(o, "type");
    ct_layer_type type = json_is_string(t) ? ct_layer_type_from_name(json_string_value(t)) : CT_L_COUNT;
    if (type == CT_L_COUNT) return jfail(origin, i, "\"type\" is missing or not a layer type");
    ct_layer_defaults(l, type);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (!strcmp(k, "type")) continue;
        if (!strcmp(k, "name")) {
            if (!json_is_string(v) || json_string_length(v) >= CT_NET_NAME_MAX || !json_string_length(v))
                return jfail(origin, i, "\"name\" must be a non-empty string under %d bytes", CT_NET_NAME_MAX);
            snprintf(l->name, sizeof l->name, "%s", json_string_value(v));
        } else if (!strcmp(k, "inputs")) {
            if (inputs_from_json(v, l))
                return jfail(origin, i, "\"inputs\" must be a list of 1 to %d layer indices", CT_NET_MAX_INPUTS);
        } else if (!strcmp(k, "output_shape")) {
            *shape = v;
        } else if (!is_type_key(type, k)) {
            return jfail(origin, i, "unknown key \"%s\" for a %s layer", k, ct_layer_type_name(type));
        } else if (layer_key(v, l, k)) {
            return jfail(origin, i, "\"%s\" has the wrong type (%s)", k,
                         !strcmp(k, "bias") || !strcmp(k, "count_include_pad") ? "a boolean"
                         : !strcmp(k, "kernel") || !strcmp(k, "stride") || !strcmp(k, "padding") ||
                                 !strcmp(k, "output")
                             ? "an int or [h, w]"
                         : !strcmp(k, "out_channels") || !strcmp(k, "out_features") ? "an int"
                                                                                     : "a number");
        }
    }
    if (!l->n_inputs) return jfail(origin, i, "\"inputs\" is missing");
    return CT_OK;
}

static int shape_matches(json_t *s, const ct_act_shape *a)
{
    if (!s) return 1;
    size_t n = json_array_size(s);
    int v[3];
    if (!json_is_array(s) || n != (a->rank == 4 ? 3u : 1u)) return 0;
    for (size_t k = 0; k < n; k++)
        if (get_int(json_array_get(s, k), &v[k])) return 0;
    return n == 3 ? v[0] == a->c && v[1] == a->h && v[2] == a->w : v[0] == a->c;
}

static int top_from_json(json_t *root, const char *origin, ct_netdef *n, json_t **layers)
{
    if (!json_is_object(root)) return jfail(origin, -1, "not an object");
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        if (strcmp(k, "input") && strcmp(k, "classes") && strcmp(k, "layers"))
            return jfail(origin, -1, "unknown key \"%s\" (allowed: input, classes, layers)", k);
    }
    json_t *in = json_object_get(root, "input");
    if (!json_is_object(in) || json_object_size(in) != 3 || get_int(json_object_get(in, "channels"), &n->in_c) ||
        get_int(json_object_get(in, "height"), &n->in_h) || get_int(json_object_get(in, "width"), &n->in_w))
        return jfail(origin, -1, "\"input\" must be {\"channels\": C, \"height\": H, \"width\": W}");
    if (get_int(json_object_get(root, "classes"), &n->classes) || n->classes < 1)
        return jfail(origin, -1, "\"classes\" must be an integer >= 1");
    *layers = json_object_get(root, "layers");
    size_t nl = json_array_size(*layers);
    if (!json_is_array(*layers) || nl < 1 || nl > CT_NET_MAX_LAYERS)
        return jfail(origin, -1, "\"layers\" must be a list of 1 to %d layers", CT_NET_MAX_LAYERS);
    return CT_OK;
}

static int from_json_tree(json_t *root, const char *origin, ct_netdef *n)
{
    json_t *layers = NULL;
    int rc = top_from_json(root, origin, n, &layers);
    if (rc) return rc;
    n->n_layers = (int)json_array_size(layers);
    n->layers = ct_calloc((size_t)n->n_layers, sizeof *n->layers, "network layers");
    if (!n->layers) return CT_ERR_NOMEM;
    json_t **shapes = ct_calloc((size_t)n->n_layers, sizeof *shapes, "network shapes");
    if (!shapes) return CT_ERR_NOMEM;
    for (int i = 0; i < n->n_layers && !rc; i++)
        rc = layer_from_json(json_array_get(layers, (size_t)i), i, origin, &n->layers[i], &shapes[i]);
    if (!rc && (rc = ct_netdef_resolve(n, origin)) == CT_ERR_USAGE) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ct_last_error());
        rc = ct_fail(CT_ERR_INPUT, "%s (network JSON)", msg);
    }
    for (int i = 0; i < n->n_layers && !rc; i++)
        if (!shape_matches(shapes[i], &n->layers[i].out))
            rc = jfail(origin, i, "\"output_shape\" differs from the shape the layers resolve to");
    free(shapes);
    return rc;
}

int ct_netdef_from_json(const char *text, size_t len, const char *origin, ct_netdef *out)
{
    if (!origin) origin = "network";
    json_error_t err;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return ct_fail(CT_ERR_INPUT, "%s: network JSON: line %d, column %d: %s", origin, err.line, err.column,
                       err.text);
    ct_netdef n;
    memset(&n, 0, sizeof n);
    int rc = from_json_tree(root, origin, &n);
    json_decref(root);
    if (rc) {
        ct_netdef_free(&n);
        return rc;
    }
    *out = n;
    return CT_OK;
}
