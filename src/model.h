/* model.h: a resolved network (nn/netdef.h) on one device, run by the graph executor
 * (nn/graph.c, nn/exec.c, nn/layer_*.c): pooled parameters/gradients/optimizer moments/running
 * statistics, activation and activation-gradient buffers sized from the resolved shapes for up
 * to max_batch images, forward, loss + backward, optimizer step. No host read-back happens
 * inside a step. Tensor names and layouts are PyTorch's state_dict (`<layer>.<param>`).
 *
 * Activations live on the device channel-major, (C, N, H, W), for image shapes and as rows
 * (N, F) for flat ones; the input buffer `x` is (C, N, H, W) (for one channel the same as
 * PyTorch's (N, 1, H, W)). */
#ifndef CLTRAIN_MODEL_H
#define CLTRAIN_MODEL_H
#include "nn/netdef.h"
#include "ops.h"

typedef enum { CT_POOL_PARAMS = 0, CT_POOL_STATE = 1 } ct_pool;

#define CT_TENSOR_NAME_MAX (CT_NET_NAME_MAX + 24)

typedef struct {
    char name[CT_TENSOR_NAME_MAX]; /* state_dict name, e.g. "conv1.weight" */
    int rank, shape[4];
    size_t count;                  /* elements */
    size_t offset;                 /* element offset in its pool (64-byte aligned) */
    ct_pool pool;
    int layer;                     /* index of the layer owning it */
} ct_tensor;

typedef struct {
    int adam;              /* 1 Adam, 0 SGD */
    float lr, b1, b2, eps; /* Adam: betas (0.9, 0.999), eps 1e-8 */
    float momentum, weight_decay;
} ct_optim;

struct ct_node;

typedef struct ct_model {
    ct_ctx *ctx;
    ct_netdef net;        /* the resolved network (a copy) */
    int max_batch;
    int training;         /* 0: inference-only (no gradients, moments or saved-for-backward buffers) */
    ct_tensor *t;         /* state_dict tensors in PyTorch's order (num_batches_tracked aside) */
    int n_t;
    size_t n_params, n_state;      /* pool sizes in floats (with alignment padding) */
    long long num_batches_tracked; /* BN's counter (every BN layer sees every training batch) */
    long long *nbt;                /* per BN layer, as loaded/saved (indexed by layer; -1 elsewhere) */
    long opt_steps;                /* optimizer steps taken (Adam's t) */
    int fixed_masks;               /* dropout masks were set by ct_model_set_mask(s): do not draw */
    int unfused_eval;              /* 1: eval forwards run every layer by itself (no conv + bn + relu + pool
                                    * kernel; benchmarks compare both) */
    int unfused_pool;              /* 1: batchnorm2d + ReLU + 2x2 max pooling run as three layers, so every
                                    * layer's output and gradient is kept (tests read them; default 0:
                                    * one kernel each way where planned) */
    long sample_base;              /* data-parallel: global index of this batch's first image (dropout keys) */
    int loss_norm;                 /* data-parallel: the global batch dividing the loss gradient (0: N) */
    int sync_bn;                   /* data-parallel: BatchNorm statistics over every rank (nn/bn_sync.c) */
    cl_mem params, grads, opt_m, opt_v, state; /* pools: (n_params) x4, (n_state) */
    cl_mem x;                      /* network input (C, N, H, W) */
    cl_mem logits;                 /* the last layer's output (N, classes) after a forward */
    cl_mem targets, batch_loss, sums; /* int (N); float[1]; float[3] running loss*N, correct, count */
    /* the executor's plan (nn/graph_internal.h) */
    struct ct_node *nodes;
    int n_nodes;
    struct ct_gbuf *bufs;
    int n_bufs;
    int scratch;                  /* buffer: gradient fan-in, one input's gradient before it is summed */
    cl_mem *fwd_out;              /* per layer: the buffer its output is in after the last forward */
    unsigned char *gwritten;      /* per buffer: gradient written in this backward */
    int g_pending;                /* ct_g_dx handed out the scratch buffer */
} ct_model;

/* Creates a model for training (inference = 0) or inference only (no gradients, optimizer
 * moments, saved-for-backward buffers). Refuses networks with a layer combination the kernels
 * do not implement yet, and any buffer past 2^31-1 elements (naming it and its size). */
int ct_model_create_ex(ct_ctx *ctx, const ct_netdef *net, int max_batch, int inference, ct_model **out);
int ct_model_create(ct_ctx *ctx, const ct_netdef *net, int max_batch, ct_model **out);
void ct_model_free(ct_model *m);

/* Bytes of device memory the model needs for max_batch (every buffer create would allocate),
 * computed without allocating; *largest (may be NULL) gets the largest single buffer in bytes.
 * Fails like ct_model_create for unsupported networks or oversized buffers. */
int ct_model_memory(const ct_netdef *net, int max_batch, int inference, unsigned long long *bytes,
                    unsigned long long *largest);
/* The same, 0 on failure (with the message left in ct_last_error). */
unsigned long long ct_model_memory_estimate(const ct_netdef *net, int max_batch);
/* Number of trainable parameters (PyTorch's sum of p.numel()). */
long long ct_model_param_count(const ct_model *m);
/* Floats per image of the network input (C*H*W). */
size_t ct_model_input_floats(const ct_model *m);

const ct_tensor *ct_model_tensor(const ct_model *m, const char *name);
/* PyTorch default initialisation (kaiming-uniform a=sqrt(5) weights, uniform biases, BN 1/0,
 * running stats 0/1) from a seed, tensors in state_dict order; resets the optimizer state. */
int ct_model_init_params(ct_model *m, uint64_t seed);
int ct_model_set_tensor(ct_model *m, const char *name, const float *data);
int ct_model_get_tensor(ct_model *m, const char *name, float *data);
int ct_model_get_grad(ct_model *m, const char *name, float *data);
int ct_model_zero_optimizer(ct_model *m);
/* First non-finite parameter or running statistic: CT_OK when all are finite, else
 * CT_ERR_RUNTIME naming the tensor and element, with `what` (e.g. "not writing F") appended. */
int ct_model_check_finite(ct_model *m, const char *what);
/* The BN layer whose "<layer>.num_batches_tracked" `name` is, or -1. */
int ct_model_nbt_layer(const ct_model *m, const char *name);
/* Sets every BN layer's num_batches_tracked. */
void ct_model_set_nbt(ct_model *m, long long v);

/* Uploads a batch: images (N, C, H, W) float as PyTorch, targets (may be NULL for inference). */
int ct_model_upload(ct_model *m, int N, const float *images, const int32_t *targets);
/* Number of dropout layers (dropout and dropout2d, in layer order; the k-th draws its masks
 * from Philox stream k, k = 1, 2, ...). */
int ct_model_dropout_count(const ct_model *m);
/* Fixed keep mask (0/1 as PyTorch's, (N, C) for dropout2d, the input's NCHW / (N, F) shape for
 * dropout; scaled here) for the k-th dropout layer (k = 1, 2, ...); the model stops drawing. */
int ct_model_set_mask(ct_model *m, int k, int N, const float *keep);
/* The first two dropout layers' masks (DigitCNN's Dropout2d and Dropout). */
int ct_model_set_masks(ct_model *m, int N, const float *keep1, const float *keep2);

/* training: batch-stat BN with running-stat update, dropout from Philox(seed, step) unless fixed */
int ct_model_forward(ct_model *m, int N, int training, uint64_t seed, unsigned step);
/* Loss (+ dlogits when grad) into batch_loss and the running sums. */
int ct_model_loss(ct_model *m, int N, int grad);
int ct_model_backward(ct_model *m, int N);
int ct_model_optim_step(ct_model *m, const ct_optim *o);
/* forward + loss + backward + optimizer step, all enqueued, no host read-back */
int ct_model_train_step(ct_model *m, int N, const ct_optim *o, uint64_t seed, unsigned step);

/* Reads the running sums (loss*N, correct, count) and optionally resets them. */
int ct_model_read_sums(ct_model *m, double sums[3], int reset);
/* Reads a layer's output (or its gradient when grad) as PyTorch's NCHW / (N, F). `name` is a
 * layer name, "#k" (layer index k), "logits" (the last layer) or, for DigitCNN's unnamed
 * layers, relu1.. / pool1.. / drop1 (k-th relu, maxpool2d, dropout2d), drop2 (first dropout),
 * avgpool, relu_<layer> (the relu reading <layer>). A ReLU fused into its producer shares the
 * producer's buffers: after the backward, the gradient of a linear layer followed by ReLU
 * (and of that ReLU) is taken before the ReLU, since the backward works in place. */
int ct_model_read_activation(ct_model *m, const char *name, int N, int grad, float *out, size_t *count);
/* 0 when the named layer's output and gradient (names as ct_model_read_activation) are not kept by
 * this model's steps: a batchnorm2d, or the ReLU fused into it, computed inside batchnorm + ReLU +
 * max pooling (m->unfused_pool keeps them) */
int ct_model_output_kept(const ct_model *m, const char *name);

#endif
