/* nn/netdef.h: the network description: the layers a config's `network:` section (or the seed's
 * DigitCNN `model:` keys) describes, with every shape resolved by PyTorch's rules. It is plain
 * data: no device, no buffers. Producers: the YAML parser (nn/netparse.c), ct_netdef_digitcnn,
 * ct_netdef_from_json (a model file's `network` metadata). Consumers: the graph executor
 * (nn/graph.c), `cltrain summary`, the ONNX exporter, `cltrain tune`, tools/cltrain_torch.py
 * (through the JSON form below).
 *
 * Shapes: an image activation has rank 4 (N, C, H, W); a flat one rank 2 (N, F) with F in `c`
 * and h = w = 1. The batch dimension N is never stored here.
 *
 * JSON form (stored as the `network` key of a model file's or checkpoint's __metadata__):
 *   {"input": {"channels": C, "height": H, "width": W}, "classes": K,
 *    "layers": [{"name": "conv1", "type": "conv2d", "inputs": [-1], "out_channels": 32,
 *                "kernel": [5, 5], "stride": [1, 1], "padding": [2, 2], "bias": true,
 *                "output_shape": [32, 28, 28]}, ...]}
 * Every layer carries "type", "inputs" (indices of earlier layers, -1 = the network input),
 * "output_shape" ([C, H, W] or [F]) and all of its type's keys with their resolved values
 * (pairs always as [h, w]); "name" only when the layer has one. Key names are the YAML
 * keys of the `network:` contract (README "Networks"). */
#ifndef CLTRAIN_NN_NETDEF_H
#define CLTRAIN_NN_NETDEF_H

#include <stddef.h>

#define CT_NET_NAME_MAX 128  /* bytes in a layer name, NUL included */
#define CT_NET_MAX_INPUTS 16 /* inputs of one `add` */
#define CT_NET_MAX_LAYERS 1024

typedef enum {
    CT_L_CONV2D = 0,
    CT_L_BATCHNORM2D,
    CT_L_BATCHNORM1D,
    CT_L_RELU,
    CT_L_LEAKY_RELU,
    CT_L_TANH,
    CT_L_SIGMOID,
    CT_L_MAXPOOL2D,
    CT_L_AVGPOOL2D,
    CT_L_ADAPTIVE_AVGPOOL2D,
    CT_L_DROPOUT,
    CT_L_DROPOUT2D,
    CT_L_FLATTEN,
    CT_L_LINEAR,
    CT_L_ADD,
    CT_L_COUNT
} ct_layer_type;

typedef struct {
    int rank; /* 4: image (C, H, W); 2: flat (F = c) */
    int c, h, w;
} ct_act_shape;

typedef struct {
    char name[CT_NET_NAME_MAX]; /* "" when unnamed */
    ct_layer_type type;
    int n_inputs;
    int inputs[CT_NET_MAX_INPUTS]; /* earlier layer indices; -1 = the network input */

    /* conv2d */
    int out_channels;
    int kernel[2], stride[2], padding[2]; /* [h, w]; pooling uses them too */
    int bias;                             /* conv2d, linear: 1 = has a bias */
    /* linear */
    int out_features;
    /* batchnorm */
    double eps, momentum;
    /* leaky_relu */
    double negative_slope;
    /* avgpool2d */
    int count_include_pad;
    /* adaptive_avgpool2d */
    int output[2]; /* [h, w] */
    /* dropout, dropout2d */
    double p;

    ct_act_shape in;  /* shape of the (first) input */
    ct_act_shape out; /* resolved output shape */
    int line, col;    /* 1-based position of the layer in the YAML file; 0 when not from YAML */
} ct_layer_def;

typedef struct {
    int in_c, in_h, in_w; /* network input (C, H, W) */
    int classes;          /* width of the last layer's flat output */
    int n_layers;
    ct_layer_def *layers; /* malloc'd, n_layers entries */
} ct_netdef;

/* "conv2d", "batchnorm2d", ... (the YAML `type` values); NULL for an invalid value */
const char *ct_layer_type_name(ct_layer_type t);
/* CT_L_COUNT when `s` names no type */
ct_layer_type ct_layer_type_from_name(const char *s);
/* 1 for conv2d, batchnorm1d/2d and linear */
int ct_layer_has_params(ct_layer_type t);
/* The keys type `t` takes besides name, type, input/inputs (e.g. conv2d: out_channels, kernel,
 * stride, padding, bias), NULL-terminated, in JSON order; NULL for an invalid type. */
const char *const *ct_layer_type_keys(ct_layer_type t);
/* Zeroes *l and sets PyTorch's defaults for type `t` (bias 1, eps 1e-5, momentum 0.1,
 * negative_slope 0.01, count_include_pad 1, p 0.5); stride 0 = "not given" (resolve makes it 1
 * for conv2d, the kernel for pools); n_inputs 0 = "the previous layer". */
void ct_layer_defaults(ct_layer_def *l, ct_layer_type t);

void ct_netdef_free(ct_netdef *n);
int ct_netdef_copy(const ct_netdef *src, ct_netdef *dst);

/* The seed's DigitCNN for (c1, c2, c3, hidden, p1, p2, use_bn) with the state_dict names
 * conv1..3, bn1..3, fc1..3, input 1x28x28, 10 classes: exactly the network of the
 * `model:` keys. */
int ct_netdef_digitcnn(int c1, int c2, int c3, int hidden, double p1, double p2, int use_bn, ct_netdef *out);

/* Checks every rule (names, references, shapes, classes) and fills in/out shapes; messages
 * name the layer index, name and type (and `origin:line:col` when the layer has a position).
 * classes <= 0: taken from the last layer's width (a YAML network does not know the data set;
 * the caller compares it with the data). Status CT_ERR_USAGE on a broken network. */
int ct_netdef_resolve(ct_netdef *n, const char *origin);

/* The JSON form above; *out is malloc'd (compact, one line). */
int ct_netdef_to_json(const ct_netdef *n, char **out);
/* Parses and resolves the JSON form (strict: unknown keys, wrong types, a stated output_shape
 * that differs from the resolved one are refused); `origin` names the file in messages.
 * Status CT_ERR_INPUT on a bad text. */
int ct_netdef_from_json(const char *text, size_t len, const char *origin, ct_netdef *out);

/* PyTorch's sum(p.numel()) over trainable parameters. */
long long ct_netdef_param_count(const ct_netdef *n);
/* Trainable parameters of one resolved layer. */
long long ct_layer_param_count(const ct_layer_def *l);
/* Device bytes to train the network at `batch` images: 4 x parameters (values, gradients, two
 * optimizer moments), batchnorm state, and per image the input, every layer's output and its
 * gradient, conv im2col workspaces, dropout masks and pool indices (float32). */
unsigned long long ct_netdef_memory_estimate(const ct_netdef *n, int batch);
/* Forward multiply-adds x 2 per image of one layer (0 for layers without arithmetic worth
 * counting), in FLOP. */
double ct_layer_flops(const ct_layer_def *l);

#endif
