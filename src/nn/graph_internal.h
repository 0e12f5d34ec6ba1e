/* nn/graph_internal.h: the executor's plan of a network, shared by nn/graph.c (planning,
 * buffers, tensors), nn/exec.c (forward/backward walk) and the per-type layer files
 * nn/layer_*.c. Not for use outside src/nn. */
#ifndef CLTRAIN_NN_GRAPH_INTERNAL_H
#define CLTRAIN_NN_GRAPH_INTERNAL_H
#include "model.h"

/* a device buffer of the plan: floats = per_image * max_batch + fixed */
typedef struct ct_gbuf {
    char what[CT_NET_NAME_MAX + 48];
    size_t per_image, fixed;
    int training_only;
    cl_mem mem;
} ct_gbuf;

/* how a layer is run */
typedef enum {
    CT_RUN_OWN = 0,  /* its own kernels into its own output buffer */
    CT_RUN_FUSED,    /* done by its producer (ReLU after batchnorm/linear, flatten after avgpool, add and ReLU
                        after batchnorm2d): shares the output and gradient buffers of layer `src` */
    CT_RUN_ALIAS     /* no arithmetic (flatten of a flat or one-channel input, dropout with p = 0): shares its
                        input's buffers */
} ct_run_kind;

typedef struct ct_node {
    const ct_layer_def *def;
    ct_run_kind run;
    int src;              /* fused or alias: the layer whose buffers it shares (its input, or for an add fused
                             into a batchnorm, that batchnorm) */
    int fuse_relu;        /* batchnorm/linear: applies the ReLU of the next layer; a fused add: holds that
                             ReLU's output too */
    int fuse_add;         /* batchnorm2d: the add it also runs, with the ReLU after it (-1: none); the add */
    int add_other;        /* reads this batchnorm and layer add_other (< this one; -1: the network input) */
    int fuse_flatten;     /* adaptive_avgpool2d: writes rows (N, C*OH*OW), flatten follows */
    int fuse_pool;        /* batchnorm2d with its ReLU fused: the 2x2 max pooling after that ReLU, run by the
                             batchnorm too (ct_g_pool_fused), or -1; the pooling: that batchnorm, or -1 */
    int rows;             /* output stored as rows (N, F) rather than channel-major */
    int consumers;        /* layers reading this one's output */
    int needs_grad;       /* has parameters or reads a layer that needs gradients */
    int out, grad;        /* buffer indices (-1 = none); grad groups share an index */
    int col;              /* conv2d: im2col / direct-conv workspace buffer */
    int mean, invstd;     /* batchnorm: saved batch statistics */
    int mask;             /* dropout: mask buffer */
    int drop_stream;      /* dropout: Philox stream (k-th dropout layer: k) */
    int inf_last;         /* conv2d: the last layer its fused inference forward covers (-1: not fusable), */
    int inf_bn, inf_relu, inf_pool; /* with the batchnorm2d (-1: none), ReLU (0/1), 2x2 max pooling (0/1) */
    size_t per_image;     /* output floats per image */
    ct_conv conv;
    ct_bn bn;
    ct_fc fc;
    ct_pool2d pool;
} ct_node;

/* node n (a batchnorm2d, or the max pooling its fuse_pool names) runs batchnorm + ReLU + pooling
 * in one kernel this step: planned, and neither synchronised BatchNorm nor m->unfused_pool */
static inline int ct_g_pool_fused(const ct_model *m, const ct_node *n)
{
    return n->fuse_pool >= 0 && !m->sync_bn && !m->unfused_pool;
}
/* a pooling layer's window is 2x2 at stride 2 without padding (the vectorised and fused kernels) */
static inline int ct_g_pool2x2(const ct_layer_def *d)
{
    return d->kernel[0] == 2 && d->kernel[1] == 2 && d->stride[0] == 2 && d->stride[1] == 2 && !d->padding[0] &&
           !d->padding[1];
}
/* the buffer a layer's input `j` is read from during this forward (-1: the network input) */
static inline cl_mem ct_g_in(ct_model *m, int j) { return j < 0 ? m->x : m->fwd_out[j]; }
static inline cl_mem ct_g_buf(ct_model *m, int b) { return b < 0 ? NULL : m->bufs[b].mem; }

/* Gradient routing of the backward walk (nn/exec.c): where layer input j's gradient is to be
 * written (the input's gradient buffer when nothing wrote it yet in this backward, else the
 * scratch buffer, then summed by ct_g_dx_done); NULL when j needs no gradient. */
cl_mem ct_g_dx(ct_model *m, int j);
int ct_g_dx_done(ct_model *m, int j, int N);
/* layer j's gradient buffer for a kernel that writes (*acc = 0: the first writer in this backward)
 * or adds (*acc = 1) its share itself; NULL when j needs no gradient */
cl_mem ct_g_direct(ct_model *m, int j, int *acc);
/* copies (first writer) or adds (later writers) src, a gradient of layer j's shape, into j's gradient */
int ct_g_pass(ct_model *m, int j, cl_mem src, int N);

/* The backward walk in pieces (ct_model_backward is begin, then every layer from the last to
 * the first): begin marks the loss gradient as the only one written; node i's backward reads
 * its output gradient and writes its inputs' and its parameters'. */
void ct_model_backward_begin(ct_model *m);
int ct_model_backward_node(ct_model *m, int i, int N);

/* per-type executors (nn/layer_*.c); N = batch, tr = training */
int ct_layer_conv2d_fwd(ct_model *m, ct_node *n, int N, int tr);
int ct_layer_conv2d_bwd(ct_model *m, ct_node *n, int N);
/* the eval forward of conv2d and the layers after it it covers (n->inf_last): 1 when it ran,
 * 0 when the shape or device does not take it (the layers then run one by one) */
int ct_layer_conv2d_fused_fwd(ct_model *m, ct_node *n, int N, int *ran);
int ct_layer_batchnorm_fwd(ct_model *m, ct_node *n, int N, int tr);
int ct_layer_batchnorm_bwd(ct_model *m, ct_node *n, int N);
/* nn/bn_sync.c: the training forward and the backward (into dx) of a BN layer with statistics
 * over every rank's batch (m->sync_bn) */
int ct_bn_sync_fwd(ct_model *m, ct_node *n, int N);
int ct_bn_sync_bwd(ct_model *m, ct_node *n, int N, cl_mem dx);
int ct_layer_linear_fwd(ct_model *m, ct_node *n, int N, int tr);
int ct_layer_linear_bwd(ct_model *m, ct_node *n, int N);
int ct_layer_act_fwd(ct_model *m, ct_node *n, int N, int tr);
int ct_layer_act_bwd(ct_model *m, ct_node *n, int N);
int ct_layer_pool_fwd(ct_model *m, ct_node *n, int N, int tr);
int ct_layer_pool_bwd(ct_model *m, ct_node *n, int N);
int ct_layer_dropout_fwd(ct_model *m, ct_node *n, int N, int tr, uint64_t seed, unsigned step);
int ct_layer_dropout_bwd(ct_model *m, ct_node *n, int N);
int ct_layer_shape_fwd(ct_model *m, ct_node *n, int N, int tr); /* flatten, add */
int ct_layer_shape_bwd(ct_model *m, ct_node *n, int N);

/* Which layer types/settings the kernels implement; CT_OK or CT_ERR_USAGE naming the layer
 * and what is missing (nn/exec.c). */
int ct_graph_supported(const ct_netdef *net, int i);

#endif
