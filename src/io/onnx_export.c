/* io/onnx_export.c: see onnx_export.h. The protobuf messages are built in an arena (every
 * allocation recorded and freed together); tensor bytes point into the safetensors file, which
 * outlives the packing. */
#define _POSIX_C_SOURCE 200809L
#include "io/onnx_export.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clctx.h" /* CT_TRY */
#include "common.h"
#include "onnx.pb-c.h"

/* --- arena and growable arrays ------------------------------------------------------------- */
typedef struct {
    void **allocs;
    size_t n_allocs, cap_allocs;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const ct_st_file *f;
    const char *path;
} bld;

static int push(void ***arr, size_t *n, size_t *cap, void *x)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        void **v = realloc(*arr, c * sizeof *v);
        if (!v) return ct_fail(CT_ERR_NOMEM, "out of host memory building the ONNX model");
        *arr = v;
        *cap = c;
    }
    (*arr)[(*n)++] = x;
    return CT_OK;
}

static void *ba(bld *b, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) return NULL;
    if (push(&b->allocs, &b->n_allocs, &b->cap_allocs, p)) {
        free(p);
        return NULL;
    }
    return p;
}

static char *bstr(bld *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *bstr(bld *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? ba(b, (size_t)n + 1) : NULL;
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static void bld_free(bld *b)
{
    for (size_t i = 0; i < b->n_allocs; i++) free(b->allocs[i]);
    free(b->allocs);
    free(b->nodes);
    free(b->inits);
}

#define NOMEM ct_fail(CT_ERR_NOMEM, "out of host memory building the ONNX model")

/* --- nodes, attributes, initializers ------------------------------------------------------- */
/* a node with n_in inputs and one output "<prefix>/<op>[_k]_output"; NULL when out of memory */
static Onnx__NodeProto *node(bld *b, const char *op, const char *prefix, int n_in, const char *const *in)
{
    Onnx__NodeProto *n = ba(b, sizeof *n);
    char **ins = ba(b, (size_t)n_in * sizeof *ins);
    char **outs = ba(b, sizeof *outs);
    if (!n || !ins || !outs) return NULL;
    onnx__node_proto__init(n);
    /* several nodes of one op in a layer (Slice, ReduceMean, Add) get _1, _2, ... */
    int k = 0;
    for (size_t i = 0; i < b->n_nodes; i++) {
        const char *nm = b->nodes[i]->name;
        size_t pl = strlen(prefix), ol = strlen(op);
        if (!strncmp(nm, prefix, pl) && nm[pl] == '/' && !strncmp(nm + pl + 1, op, ol) &&
            (nm[pl + 1 + ol] == 0 || nm[pl + 1 + ol] == '_'))
            k++;
    }
    n->name = k ? bstr(b, "%s/%s_%d", prefix, op, k) : bstr(b, "%s/%s", prefix, op);
    n->op_type = bstr(b, "%s", op);
    outs[0] = n->name ? bstr(b, "%s_output", n->name) : NULL;
    if (!n->name || !n->op_type || !outs[0]) return NULL;
    for (int i = 0; i < n_in; i++) ins[i] = (char *)in[i];
    n->n_input = (size_t)n_in;
    n->input = ins;
    n->n_output = 1;
    n->output = outs;
    if (push((void ***)&b->nodes, &b->n_nodes, &b->cap_nodes, n)) return NULL;
    return n;
}

static Onnx__AttributeProto *attr(bld *b, Onnx__NodeProto *n, const char *name, Onnx__AttributeProto__AttributeType t)
{
    Onnx__AttributeProto *a = ba(b, sizeof *a);
    Onnx__AttributeProto **v = ba(b, (n->n_attribute + 1) * sizeof *v);
    if (!a || !v) return NULL;
    onnx__attribute_proto__init(a);
    a->name = bstr(b, "%s", name);
    if (!a->name) return NULL;
    a->has_type = 1;
    a->type = t;
    if (n->n_attribute) memcpy(v, n->attribute, n->n_attribute * sizeof *v);
    v[n->n_attribute++] = a;
    n->attribute = v;
    return a;
}

static int attr_int(bld *b, Onnx__NodeProto *n, const char *name, int64_t i)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (!a) return NOMEM;
    a->has_i = 1;
    a->i = i;
    return CT_OK;
}

static int attr_float(bld *b, Onnx__NodeProto *n, const char *name, double f)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (!a) return NOMEM;
    a->has_f = 1;
    a->f = (float)f;
    return CT_OK;
}

static int attr_ints(bld *b, Onnx__NodeProto *n, const char *name, int count, const int64_t *v)
{
    Onnx__AttributeProto *a = attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *c = ba(b, (size_t)count * sizeof *c);
    if (!a || !c) return NOMEM;
    memcpy(c, v, (size_t)count * sizeof *c);
    a->n_ints = (size_t)count;
    a->ints = c;
    return CT_OK;
}

static Onnx__TensorProto *tensor(bld *b, const char *name, int dtype, int rank, const int64_t *shape, const void *data,
                                 size_t nbytes)
{
    Onnx__TensorProto *t = ba(b, sizeof *t);
    int64_t *dims = ba(b, (size_t)rank * sizeof *dims);
    if (!t || !dims) return NULL;
    onnx__tensor_proto__init(t);
    memcpy(dims, shape, (size_t)rank * sizeof *dims);
    t->n_dims = (size_t)rank;
    t->dims = dims;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->name = bstr(b, "%s", name);
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = (uint8_t *)data;
    if (!t->name || push((void ***)&b->inits, &b->n_inits, &b->cap_inits, t)) return NULL;
    return t;
}

/* a 1-D int64 constant (copied), named "<prefix>/<what>" */
static const char *const_i64(bld *b, const char *prefix, const char *what, int count, const int64_t *v)
{
    int64_t *c = ba(b, (size_t)count * sizeof *c);
    char *name = bstr(b, "%s/%s", prefix, what);
    if (!c || !name) return NULL;
    memcpy(c, v, (size_t)count * sizeof *c);
    int64_t shape[1] = {count};
    if (!tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 1, shape, c, (size_t)count * sizeof *c)) return NULL;
    return name;
}

/* --- layers ---------------------------------------------------------------------------------- */
typedef struct {
    bld *b;
    const ct_netdef *net;
    const char **vals; /* output value name of every layer */
} ctx;

static const char *lname(const ct_layer_def *l, int i, char *buf, size_t cap)
{
    if (l->name[0]) return l->name;
    snprintf(buf, cap, "layer%d", i);
    return buf;
}

static int refuse(const ct_layer_def *l, int i, const char *why)
{
    return ct_fail(CT_ERR_INPUT, "cannot export layer %d%s%s%s (%s) to ONNX: %s", i, l->name[0] ? " '" : "", l->name,
                   l->name[0] ? "'" : "", ct_layer_type_name(l->type) ? ct_layer_type_name(l->type) : "?", why);
}

/* the state_dict tensor "<layer>.<param>" as an f32 initializer of the given shape */
static int param(ctx *c, const ct_layer_def *l, int i, const char *what, int rank, const int64_t *shape, const char **out)
{
    bld *b = c->b;
    if (!l->name[0]) return refuse(l, i, "it has parameters but no name, so its state_dict tensors cannot be found");
    char *name = bstr(b, "%s.%s", l->name, what);
    if (!name) return NOMEM;
    const float *data;
    if (ct_st_get_f32(b->f, name, rank, shape, &data, b->path) != CT_OK)
        return ct_fail_ctx(CT_ERR_INPUT, "cannot export layer %d '%s' (%s)", i, l->name, ct_layer_type_name(l->type));
    size_t numel = 1;
    for (int k = 0; k < rank; k++) numel *= (size_t)shape[k];
    if (!tensor(b, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, rank, shape, data, numel * sizeof(float))) return NOMEM;
    *out = name;
    return CT_OK;
}

static const char *in0(ctx *c, const ct_layer_def *l)
{
    return l->inputs[0] < 0 ? "input" : c->vals[l->inputs[0]];
}

#define OUT(n) ((n)->output[0])
#define TRYN(x)                                                                                                        \
    do {                                                                                                               \
        if (!(x)) return NOMEM;                                                                                        \
    } while (0)

static int emit_conv(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    int64_t ws[4] = {l->out_channels, l->in.c, l->kernel[0], l->kernel[1]}, bs[1] = {l->out_channels};
    const char *in[3] = {in0(c, l), NULL, NULL};
    CT_TRY(param(c, l, i, "weight", 4, ws, &in[1]));
    if (l->bias) CT_TRY(param(c, l, i, "bias", 1, bs, &in[2]));
    Onnx__NodeProto *n = node(c->b, "Conv", pre, l->bias ? 3 : 2, in);
    TRYN(n);
    int64_t k[2] = {l->kernel[0], l->kernel[1]}, s[2] = {l->stride[0], l->stride[1]};
    int64_t p[4] = {l->padding[0], l->padding[1], l->padding[0], l->padding[1]}, d[2] = {1, 1};
    CT_TRY(attr_ints(c->b, n, "kernel_shape", 2, k));
    CT_TRY(attr_ints(c->b, n, "strides", 2, s));
    CT_TRY(attr_ints(c->b, n, "pads", 4, p));
    CT_TRY(attr_ints(c->b, n, "dilations", 2, d));
    CT_TRY(attr_int(c->b, n, "group", 1));
    c->vals[i] = OUT(n);
    return CT_OK;
}

static int emit_bn(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    int64_t s[1] = {l->in.c};
    const char *in[5] = {in0(c, l)};
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) CT_TRY(param(c, l, i, names[k], 1, s, &in[k + 1]));
    Onnx__NodeProto *n = node(c->b, "BatchNormalization", pre, 5, in);
    TRYN(n);
    CT_TRY(attr_float(c->b, n, "epsilon", l->eps)); /* momentum only matters in training: left at its default */
    c->vals[i] = OUT(n);
    return CT_OK;
}

static int emit_pool(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    int avg = l->type == CT_L_AVGPOOL2D;
    const char *in[1] = {in0(c, l)};
    Onnx__NodeProto *n = node(c->b, avg ? "AveragePool" : "MaxPool", pre, 1, in);
    TRYN(n);
    int64_t k[2] = {l->kernel[0], l->kernel[1]}, s[2] = {l->stride[0], l->stride[1]};
    int64_t p[4] = {l->padding[0], l->padding[1], l->padding[0], l->padding[1]};
    CT_TRY(attr_ints(c->b, n, "kernel_shape", 2, k));
    CT_TRY(attr_ints(c->b, n, "strides", 2, s));
    CT_TRY(attr_ints(c->b, n, "pads", 4, p));
    if (avg) CT_TRY(attr_int(c->b, n, "count_include_pad", l->count_include_pad ? 1 : 0));
    c->vals[i] = OUT(n);
    return CT_OK;
}

/* PyTorch's adaptive windows along one axis: [floor(o*in/out), ceil((o+1)*in/out)). Uniform
 * when every window has the same size k and starts at o*s; then *k, *s are set. */
static int adaptive_uniform(int in, int out, int *k, int *s)
{
    int k0 = -1, s0 = out > 1 ? in / out : 1; /* s0: the start of window 1 */
    if (s0 < 1) return 0;                      /* more outputs than inputs: overlapping repeats */
    for (int o = 0; o < out; o++) {
        int a = (int)(((long)o * in) / out), e = (int)(((long)(o + 1) * in + out - 1) / out);
        if (k0 < 0) k0 = e - a;
        if (e - a != k0 || a != o * s0) return 0;
    }
    *k = k0;
    *s = s0;
    return 1;
}

/* one axis (2 = H, 3 = W) of adaptive average pooling as Slice + ReduceMean per output, Concat */
static const char *adaptive_axis_slices(ctx *c, const char *pre, const char *x, int axis, int in, int out)
{
    bld *b = c->b;
    const char **parts = ba(b, (size_t)out * sizeof *parts);
    if (!parts) return NULL;
    for (int o = 0; o < out; o++) {
        int64_t a = ((long)o * in) / out, e = ((long)(o + 1) * in + out - 1) / out, ax = axis;
        char what[64];
        snprintf(what, sizeof what, "axis%d_starts_%d", axis, o);
        const char *st = const_i64(b, pre, what, 1, &a);
        snprintf(what, sizeof what, "axis%d_ends_%d", axis, o);
        const char *en = const_i64(b, pre, what, 1, &e);
        snprintf(what, sizeof what, "axis%d_axes_%d", axis, o);
        const char *axn = const_i64(b, pre, what, 1, &ax);
        if (!st || !en || !axn) return NULL;
        const char *sin[4] = {x, st, en, axn};
        Onnx__NodeProto *sl = node(b, "Slice", pre, 4, sin);
        if (!sl) return NULL;
        const char *rin[1] = {OUT(sl)};
        Onnx__NodeProto *rm = node(b, "ReduceMean", pre, 1, rin);
        if (!rm || attr_ints(b, rm, "axes", 1, &ax) || attr_int(b, rm, "keepdims", 1)) return NULL;
        parts[o] = OUT(rm);
    }
    if (out == 1) return parts[0];
    Onnx__NodeProto *cat = node(b, "Concat", pre, out, parts);
    if (!cat || attr_int(b, cat, "axis", axis)) return NULL;
    return OUT(cat);
}

/* AveragePool over one axis (kernel/stride 1 on the other) */
static const char *axis_pool(ctx *c, const char *pre, const char *x, int axis, int k, int s)
{
    const char *in[1] = {x};
    Onnx__NodeProto *n = node(c->b, "AveragePool", pre, 1, in);
    int64_t ks[2] = {axis == 2 ? k : 1, axis == 3 ? k : 1}, ss[2] = {axis == 2 ? s : 1, axis == 3 ? s : 1};
    if (!n || attr_ints(c->b, n, "kernel_shape", 2, ks) || attr_ints(c->b, n, "strides", 2, ss)) return NULL;
    return OUT(n);
}

static int emit_adaptive(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    int H = l->in.h, W = l->in.w, OH = l->output[0], OW = l->output[1], kh, sh, kw, sw;
    const char *in[1] = {in0(c, l)};
    if (OH == 1 && OW == 1) {
        Onnx__NodeProto *n = node(c->b, "GlobalAveragePool", pre, 1, in);
        TRYN(n);
        c->vals[i] = OUT(n);
        return CT_OK;
    }
    int uh = adaptive_uniform(H, OH, &kh, &sh), uw = adaptive_uniform(W, OW, &kw, &sw);
    if (uh && uw) {
        Onnx__NodeProto *n = node(c->b, "AveragePool", pre, 1, in);
        TRYN(n);
        int64_t k[2] = {kh, kw}, s[2] = {sh, sw};
        CT_TRY(attr_ints(c->b, n, "kernel_shape", 2, k));
        CT_TRY(attr_ints(c->b, n, "strides", 2, s));
        c->vals[i] = OUT(n);
        return CT_OK;
    }
    /* separable: the mean over a window is the mean over its rows of the means over its columns */
    const char *x = in[0];
    if (!uw || kw != 1 || sw != 1) { /* (an axis kept as it is needs no node) */
        x = uw ? axis_pool(c, pre, x, 3, kw, sw) : adaptive_axis_slices(c, pre, x, 3, W, OW);
        TRYN(x);
    }
    if (!uh || kh != 1 || sh != 1) {
        x = uh ? axis_pool(c, pre, x, 2, kh, sh) : adaptive_axis_slices(c, pre, x, 2, H, OH);
        TRYN(x);
    }
    c->vals[i] = x;
    return CT_OK;
}

static int emit_linear(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    if (l->in.rank != 2) return refuse(l, i, "its input is an image activation; ONNX Gemm needs [N, features] (add a flatten)");
    int64_t ws[2] = {l->out_features, l->in.c}, bs[1] = {l->out_features};
    const char *in[3] = {in0(c, l), NULL, NULL};
    CT_TRY(param(c, l, i, "weight", 2, ws, &in[1]));
    if (l->bias) CT_TRY(param(c, l, i, "bias", 1, bs, &in[2]));
    Onnx__NodeProto *n = node(c->b, "Gemm", pre, l->bias ? 3 : 2, in);
    TRYN(n);
    CT_TRY(attr_float(c->b, n, "alpha", 1.0));
    CT_TRY(attr_float(c->b, n, "beta", 1.0));
    CT_TRY(attr_int(c->b, n, "transB", 1));
    c->vals[i] = OUT(n);
    return CT_OK;
}

static int emit_add(ctx *c, const ct_layer_def *l, int i, const char *pre)
{
    if (l->n_inputs < 2) return refuse(l, i, "an add needs at least two inputs");
    const char *acc = l->inputs[0] < 0 ? "input" : c->vals[l->inputs[0]];
    for (int k = 1; k < l->n_inputs; k++) {
        const char *in[2] = {acc, l->inputs[k] < 0 ? "input" : c->vals[l->inputs[k]]};
        Onnx__NodeProto *n = node(c->b, "Add", pre, 2, in);
        TRYN(n);
        acc = OUT(n);
    }
    c->vals[i] = acc;
    return CT_OK;
}

static int emit_simple(ctx *c, const ct_layer_def *l, int i, const char *pre, const char *op)
{
    const char *in[1] = {in0(c, l)};
    Onnx__NodeProto *n = node(c->b, op, pre, 1, in);
    TRYN(n);
    if (l->type == CT_L_LEAKY_RELU) CT_TRY(attr_float(c->b, n, "alpha", l->negative_slope));
    if (l->type == CT_L_FLATTEN) CT_TRY(attr_int(c->b, n, "axis", 1));
    c->vals[i] = OUT(n);
    return CT_OK;
}

static int emit_layer(ctx *c, int i)
{
    const ct_layer_def *l = &c->net->layers[i];
    char buf[32];
    const char *pre = bstr(c->b, "/%s", lname(l, i, buf, sizeof buf));
    if (!pre) return NOMEM;
    if (l->n_inputs < 1) return refuse(l, i, "it has no input");
    for (int k = 0; k < l->n_inputs; k++)
        if (l->inputs[k] >= i || l->inputs[k] < -1) return refuse(l, i, "it reads a layer that does not come before it");
    switch (l->type) {
    case CT_L_CONV2D: return emit_conv(c, l, i, pre);
    case CT_L_BATCHNORM2D:
    case CT_L_BATCHNORM1D: return emit_bn(c, l, i, pre);
    case CT_L_RELU: return emit_simple(c, l, i, pre, "Relu");
    case CT_L_LEAKY_RELU: return emit_simple(c, l, i, pre, "LeakyRelu");
    case CT_L_TANH: return emit_simple(c, l, i, pre, "Tanh");
    case CT_L_SIGMOID: return emit_simple(c, l, i, pre, "Sigmoid");
    case CT_L_FLATTEN: return emit_simple(c, l, i, pre, "Flatten");
    case CT_L_MAXPOOL2D:
    case CT_L_AVGPOOL2D: return emit_pool(c, l, i, pre);
    case CT_L_ADAPTIVE_AVGPOOL2D: return emit_adaptive(c, l, i, pre);
    case CT_L_LINEAR: return emit_linear(c, l, i, pre);
    case CT_L_ADD: return emit_add(c, l, i, pre);
    case CT_L_DROPOUT:
    case CT_L_DROPOUT2D: c->vals[i] = in0(c, l); return CT_OK; /* identity at inference */
    default: return refuse(l, i, "no ONNX mapping for this layer type");
    }
}

/* --- graph and model ------------------------------------------------------------------------- */
static Onnx__ValueInfoProto *value_info(bld *b, const char *name, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = ba(b, sizeof *v);
    Onnx__TypeProto *t = ba(b, sizeof *t);
    Onnx__TypeProto__Tensor *tt = ba(b, sizeof *tt);
    Onnx__TensorShapeProto *sh = ba(b, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **d = ba(b, (size_t)rank * sizeof *d);
    if (!v || !t || !tt || !sh || !d) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(t);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int k = 0; k < rank; k++) {
        if (!(d[k] = ba(b, sizeof *d[k]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(d[k]);
        if (k == 0) {
            d[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            if (!(d[k]->dim_param = bstr(b, "N"))) return NULL;
        } else {
            d[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[k]->dim_value = dims[k];
        }
    }
    sh->n_dim = (size_t)rank;
    sh->dim = d;
    tt->has_elem_type = 1;
    tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tensor_type = tt;
    v->name = bstr(b, "%s", name);
    v->type = t;
    return v->name ? v : NULL;
}

/* renames value `from` to `to` everywhere (the network's last value becomes "logits") */
static void rename_value(bld *b, const char *from, char *to)
{
    for (size_t i = 0; i < b->n_nodes; i++) {
        Onnx__NodeProto *n = b->nodes[i];
        for (size_t k = 0; k < n->n_input; k++)
            if (!strcmp(n->input[k], from)) n->input[k] = to;
        for (size_t k = 0; k < n->n_output; k++)
            if (!strcmp(n->output[k], from)) n->output[k] = to;
    }
}

int ct_onnx_ir_version(int opset)
{
    if (opset >= 13 && opset <= 14) return 7;
    if (opset >= 15 && opset <= CT_ONNX_MAX_OPSET) return 8;
    return 0;
}

static int build_graph(bld *b, const ct_netdef *net, const ct_onnx_opts *o, Onnx__GraphProto *g)
{
    if (net->n_layers < 1) return ct_fail(CT_ERR_INPUT, "cannot export an empty network");
    const ct_layer_def *last = &net->layers[net->n_layers - 1];
    if (last->out.rank != 2 || last->out.c != net->classes)
        return ct_fail(CT_ERR_INPUT, "cannot export: the last layer must give [N, %d] (the classes), not %s %d", net->classes,
                       last->out.rank == 2 ? "[N, F] with F =" : "an image activation with C =", last->out.c);
    ctx c = {b, net, ba(b, (size_t)net->n_layers * sizeof(char *))};
    if (!c.vals) return NOMEM;
    for (int i = 0; i < net->n_layers; i++) CT_TRY(emit_layer(&c, i));
    const char *final = c.vals[net->n_layers - 1];
    char *logits = bstr(b, "logits");
    if (!logits) return NOMEM;
    if (!strcmp(final, "input")) {
        const char *in[1] = {"input"};
        Onnx__NodeProto *n = node(b, "Identity", "/output", 1, in);
        TRYN(n);
        final = OUT(n);
    }
    rename_value(b, final, logits);
    int64_t in_dims[4] = {0, net->in_c, net->in_h, net->in_w}, out_dims[2] = {0, net->classes};
    Onnx__ValueInfoProto **ins = ba(b, sizeof *ins), **outs = ba(b, 2 * sizeof *outs);
    if (!ins || !outs) return NOMEM;
    TRYN(ins[0] = value_info(b, "input", 4, in_dims));
    TRYN(outs[0] = value_info(b, "logits", 2, out_dims));
    g->n_output = 1;
    if (o->softmax) {
        const char *in[1] = {logits};
        Onnx__NodeProto *n = node(b, "Softmax", "/probabilities", 1, in);
        TRYN(n);
        CT_TRY(attr_int(b, n, "axis", 1));
        TRYN(n->output[0] = bstr(b, "probabilities"));
        TRYN(outs[1] = value_info(b, "probabilities", 2, out_dims));
        g->n_output = 2;
    }
    g->name = bstr(b, "%s", o->graph_name ? o->graph_name : "cltrain");
    TRYN(g->name);
    g->n_input = 1;
    g->input = ins;
    g->output = outs;
    g->n_node = b->n_nodes;
    g->node = b->nodes;
    g->n_initializer = b->n_inits;
    g->initializer = b->inits;
    return CT_OK;
}

int ct_onnx_build(const ct_netdef *net, const ct_st_file *weights, const char *weights_path, const ct_onnx_opts *o,
                  unsigned char **buf, size_t *len, int *n_nodes, int *n_inits)
{
    *buf = NULL;
    *len = 0;
    int opset = o->opset ? o->opset : CT_ONNX_DEFAULT_OPSET;
    if (!ct_onnx_ir_version(opset))
        return ct_fail(CT_ERR_USAGE, "ONNX opset %d is not supported: use %d to %d (default %d)", opset, CT_ONNX_MIN_OPSET,
                       CT_ONNX_MAX_OPSET, CT_ONNX_DEFAULT_OPSET);
    bld b = {0};
    b.f = weights;
    b.path = weights_path;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    Onnx__GraphProto g = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT, *osp = &os;
    int rc = build_graph(&b, net, o, &g);
    Onnx__StringStringEntryProto *props = rc ? NULL : ba(&b, (size_t)o->n_meta * sizeof *props);
    Onnx__StringStringEntryProto **pp = rc ? NULL : ba(&b, (size_t)o->n_meta * sizeof *pp);
    if (rc == CT_OK && (!props || !pp)) rc = NOMEM;
    if (rc == CT_OK) {
        for (int i = 0; i < o->n_meta; i++) {
            onnx__string_string_entry_proto__init(&props[i]);
            props[i].key = (char *)o->meta_keys[i];
            props[i].value = (char *)o->meta_values[i];
            pp[i] = &props[i];
        }
        os.domain = "";
        os.has_version = 1;
        os.version = opset;
        m.has_ir_version = 1;
        m.ir_version = ct_onnx_ir_version(opset);
        m.n_opset_import = 1;
        m.opset_import = &osp;
        m.producer_name = "cltrain";
        m.producer_version = CLTRAIN_VERSION;
        m.has_model_version = 1;
        m.model_version = 1;
        m.doc_string = (char *)(o->doc ? o->doc : "");
        m.graph = &g;
        m.n_metadata_props = (size_t)o->n_meta;
        m.metadata_props = pp;
        size_t n = onnx__model_proto__get_packed_size(&m);
        *buf = malloc(n ? n : 1);
        if (!*buf) rc = NOMEM;
        else *len = onnx__model_proto__pack(&m, *buf);
        if (rc == CT_OK && *len != n) {
            free(*buf);
            *buf = NULL;
            rc = ct_fail(CT_ERR_RUNTIME, "ONNX serialisation wrote %zu bytes, expected %zu", *len, n);
        }
    }
    if (n_nodes) *n_nodes = (int)b.n_nodes;
    if (n_inits) *n_inits = (int)b.n_inits;
    bld_free(&b);
    return rc;
}
