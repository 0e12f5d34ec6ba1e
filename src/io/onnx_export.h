/* io/onnx_export.h: a network description (nn/netdef.h) plus its weights (a safetensors file
 * with PyTorch's state_dict names) -> an ONNX model, serialised with the protobuf-c code that
 * the build generates from Debian's onnx.proto.
 *
 * What the file holds: IR version 7 (opset 13/14) or 8 (opset 15..17), the default domain at
 * the chosen opset; graph input `input` float [N, C, H, W] with the symbolic batch dimension
 * "N"; output `logits` float [N, classes], and `probabilities` (Softmax, axis 1) on request;
 * one initializer per parameter tensor, named as in the state_dict (conv1.weight,
 * bn1.running_mean, ...); inference semantics: BatchNormalization with the running statistics,
 * dropout layers left out. Layers -> operators: conv2d Conv (pads [top, left, bottom, right]),
 * batchnorm1d/2d BatchNormalization, relu/leaky_relu/tanh/sigmoid the same-named operators,
 * maxpool2d MaxPool, avgpool2d AveragePool (count_include_pad as the layer says),
 * adaptive_avgpool2d GlobalAveragePool (1x1), AveragePool where PyTorch's windows are uniform
 * (7 -> 3 is kernel 3 stride 2), else per axis Slice + ReduceMean + Concat, flatten Flatten
 * (axis 1), linear Gemm (transB = 1), add a chain of Add. Node and value names are
 * "/<layer name>/<Op>" and "/<layer name>/<Op>_output" ("layer<i>" for unnamed layers).
 * A layer that cannot be written exactly is refused (CT_ERR_INPUT naming the layer); no
 * partial file is ever left behind (the write is atomic). */
#ifndef CLTRAIN_IO_ONNX_EXPORT_H
#define CLTRAIN_IO_ONNX_EXPORT_H

#include <stddef.h>

#include "nn/netdef.h"
#include "safetensors.h"

#define CT_ONNX_DEFAULT_OPSET 13
#define CT_ONNX_MIN_OPSET 13
#define CT_ONNX_MAX_OPSET 17

typedef struct {
    int opset;              /* 0 = CT_ONNX_DEFAULT_OPSET */
    int softmax;            /* also output `probabilities` */
    const char *graph_name; /* NULL = "cltrain" */
    const char *doc;        /* model doc_string, may be NULL */
    int n_meta;             /* metadata_props pairs */
    const char *const *meta_keys;
    const char *const *meta_values;
} ct_onnx_opts;

/* ONNX IR version that goes with an opset (7 for 13..14, 8 for 15..17); 0 when unsupported. */
int ct_onnx_ir_version(int opset);

/* Builds and serialises the model: *buf is malloc'd (*len bytes). `weights_path` names the
 * file in messages. Counts of nodes and initializers go to *n_nodes / *n_inits when not NULL. */
int ct_onnx_build(const ct_netdef *net, const ct_st_file *weights, const char *weights_path, const ct_onnx_opts *o,
                  unsigned char **buf, size_t *len, int *n_nodes, int *n_inits);

/* --- a model file -> an .onnx file ------------------------------------------------------------ */
typedef struct {
    const char *model_path; /* the .safetensors model */
    const char *model_name; /* graph name and metadata; NULL = the file stem */
    const ct_netdef *net;   /* used when the file has no `network` metadata (e.g. from --config);
                               NULL = DigitCNN sized from the tensor shapes */
    int opset;              /* 0 = 13 */
    int softmax;
} ct_onnx_file_opts;

typedef struct {
    int opset, ir_version, n_nodes, n_initializers, classes;
    int in_c, in_h, in_w;
    double mean, std;        /* normalisation written into metadata_props (the first channel's) */
    char mean_text[256], std_text[256]; /* as written: "0.1307", or "[0.485,0.456,0.406]" per channel */
    char network_source[16]; /* "metadata" (the file's network), "config", "digitcnn" (from shapes) */
    size_t bytes;
} ct_onnx_info;

/* Reads the model, picks its network (the file's `network` metadata, else o->net, else DigitCNN
 * from the tensor shapes), writes the ONNX model to out_path atomically and fills *info (may be
 * NULL). metadata_props: mean, std (the model's config metadata data.mean/std: a number, or a
 * JSON list per channel; else MNIST's 0.1307/0.3081), class_names (JSON array: the file's
 * `class_names` metadata, else the config's data.class_names, else "0".."K-1"),
 * preprocessing (the formula in words), input_shape, network (the JSON form), source_model,
 * cltrain_version. */
int ct_onnx_export_file(const ct_onnx_file_opts *o, const char *out_path, ct_onnx_info *info);

#endif
