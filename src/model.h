/* model.h: DigitCNN on one device: pooled parameters/gradients/optimizer moments, activations
 * for up to max_batch images, forward, loss + backward, optimizer step. No host read-back
 * happens inside a step. Tensor names and layouts are PyTorch's state_dict. */
#ifndef CLTRAIN_MODEL_H
#define CLTRAIN_MODEL_H
#include "ops.h"

typedef struct {
    int c1, c2, c3, hidden; /* conv channels and fc1 width (fc2 is hidden/2) */
    float p1, p2;           /* Dropout2d and Dropout rates */
    int use_bn;
} ct_cnn_dims;

typedef enum { CT_POOL_PARAMS = 0, CT_POOL_STATE = 1 } ct_pool;

typedef struct {
    char name[40];  /* state_dict name, e.g. "conv1.weight" */
    int rank, shape[4];
    int count;      /* elements */
    int offset;     /* element offset in its pool (64-byte aligned) */
    ct_pool pool;
} ct_tensor;

typedef struct {
    int adam;              /* 1 Adam, 0 SGD */
    float lr, b1, b2, eps; /* Adam: betas (0.9, 0.999), eps 1e-8 */
    float momentum, weight_decay;
} ct_optim;

typedef struct ct_model {
    ct_ctx *ctx;
    ct_cnn_dims d;
    int max_batch;
    ct_tensor t[32];
    int n_t;
    int n_params, n_state;        /* pool sizes in floats (with alignment padding) */
    long long num_batches_tracked; /* BN's counter, kept on the host */
    long opt_steps;               /* optimizer steps taken (Adam's t) */
    int fixed_masks;              /* dropout masks were set by ct_model_set_masks: do not draw */
    ct_conv conv1, conv2, conv3;
    ct_bn bn1, bn2, bn3;
    ct_fc fc1, fc2, fc3;
    cl_mem params, grads, opt_m, opt_v, state; /* pools: (n_params) x4, (n_state) */
    /* activations, channel-major (C, N, H, W) unless noted */
    cl_mem x;                 /* (1, N, 28, 28) */
    cl_mem col1, col2, col3;  /* im2col workspaces, kept for the weight gradients */
    cl_mem a1, r1, p1;        /* conv1 out, bn1+relu out (c1,N,28,28), pool (c1,N,14,14) */
    cl_mem a2, r2, p2, dr2;   /* (c2,N,14,14) x2, (c2,N,7,7), after Dropout2d */
    cl_mem a3, r3, avg;       /* (c3,N,7,7) x2, avg (N, 9*c3) */
    cl_mem f1, f1d, f2, logits; /* (N,hidden) relu'd, after dropout; (N,hidden/2) relu'd; (N,10) */
    cl_mem bn_mean[3], bn_invstd[3];
    cl_mem mask1, mask2;      /* (N, c2), (N, hidden): 1/(1-p) or 0 */
    /* gradients of activations */
    cl_mem g_logits, g_f2, g_f1d, g_f1, g_avg, g_r3, g_a3, g_dr2, g_p2, g_r2, g_a2, g_p1, g_r1, g_a1;
    cl_mem targets, batch_loss, sums; /* int (N); float[1]; float[3] running loss*N, correct, count */
} ct_model;

int ct_model_create(ct_ctx *ctx, const ct_cnn_dims *d, int max_batch, ct_model **out);
void ct_model_free(ct_model *m);

/* Bytes of device memory the model needs for max_batch (parameters, gradients, optimizer
 * state, activations, workspaces), computed without allocating. */
unsigned long long ct_model_memory_estimate(const ct_cnn_dims *d, int max_batch);
/* Number of trainable parameters (PyTorch's sum of p.numel()). */
long long ct_model_param_count(const ct_model *m);

const ct_tensor *ct_model_tensor(const ct_model *m, const char *name);
/* PyTorch default initialisation (kaiming-uniform a=sqrt(5) weights, uniform biases, BN 1/0,
 * running stats 0/1) from a seed; resets the optimizer state. */
int ct_model_init_params(ct_model *m, uint64_t seed);
int ct_model_set_tensor(ct_model *m, const char *name, const float *data);
int ct_model_get_tensor(ct_model *m, const char *name, float *data);
int ct_model_get_grad(ct_model *m, const char *name, float *data);
int ct_model_zero_optimizer(ct_model *m);

/* Uploads a batch: images (N,1,28,28) float and targets (may be NULL for inference). */
int ct_model_upload(ct_model *m, int N, const float *images, const int32_t *targets);
/* Fixed dropout masks (0/1 keep masks as PyTorch's; scaled here), e.g. from a fixture. */
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
/* Reads a named activation (or its gradient when grad) as PyTorch's NCHW / (N, F). Names:
 * conv1 relu1 pool1 conv2 relu2 pool2 drop1 conv3 relu3 avgpool relu_fc1 drop2 relu_fc2 logits.
 * The gradients of relu_fc1/relu_fc2 are taken before the ReLU (w.r.t. the fc1/fc2 outputs),
 * since FC + ReLU are fused and the backward works in place. */
int ct_model_read_activation(ct_model *m, const char *name, int N, int grad, float *out, size_t *count);

#endif
