/* ref.h: plain-C reference implementation (ground truth for the OpenCL kernels) of every
 * DigitCNN layer, forward and backward, with PyTorch (CPU, float32) semantics.
 * Layout: NCHW, row-major. Sums are accumulated in double and rounded to float once.
 * Gradient outputs are overwritten, never accumulated into. No globals; thread-safe. */
#ifndef CLTRAIN_REF_H
#define CLTRAIN_REF_H

#include <stddef.h>
#include <stdint.h>

/* conv2d, stride 1, zero padding `pad`, dilation 1, groups 1. x (N,CI,H,W), w (CO,CI,KH,KW),
 * b (CO) or NULL, y (N,CO,OH,OW) with OH=H+2*pad-KH+1, OW likewise. */
void ref_conv2d_fwd(const float *x, const float *w, const float *b, float *y, int N, int CI, int H, int W,
                    int CO, int KH, int KW, int pad);
/* gradients: dx (N,CI,H,W) or NULL to skip, dw (CO,CI,KH,KW), db (CO) or NULL. Overwrite (not
 * accumulate). (dw may be NULL too, to skip it.) */
void ref_conv2d_bwd(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int N,
                    int CI, int H, int W, int CO, int KH, int KW, int pad);

/* conv2d with stride (sh, sw) and zero padding (ph, pw) per axis: OH = (H + 2*ph - KH) / sh + 1
 * (PyTorch's formula, no output when H + 2*ph < KH), OW likewise. Same layouts and NULL rules as
 * above; ref_conv2d_fwd/bwd are these with stride 1 and ph = pw = pad. */
void ref_conv2d_fwd_s(const float *x, const float *w, const float *b, float *y, int N, int CI, int H, int W,
                      int CO, int KH, int KW, int sh, int sw, int ph, int pw);
void ref_conv2d_bwd_s(const float *x, const float *w, const float *dy, float *dx, float *dw, float *db, int N,
                      int CI, int H, int W, int CO, int KH, int KW, int sh, int sw, int ph, int pw);

/* BatchNorm2d training mode: batch mean and biased variance normalise; running_mean/var updated
 * in place with momentum (r = (1-m)*r + m*stat) using the UNBIASED variance (M/(M-1), M = N*HW)
 * for running_var; save_mean (C) and save_invstd (C) = 1/sqrt(var_biased+eps) written for
 * backward. gamma/beta NULL = 1/0; running_mean/running_var/save_* NULL = skip. When M == 1
 * (PyTorch refuses this) running_var is updated with the biased variance (0). */
void ref_bn_fwd_train(const float *x, const float *gamma, const float *beta, float *y, float *running_mean,
                      float *running_var, float *save_mean, float *save_invstd, int N, int C, int HW, float eps,
                      float momentum);
/* eval: y = (x - rm) / sqrt(rv + eps) * gamma + beta */
void ref_bn_fwd_eval(const float *x, const float *gamma, const float *beta, const float *running_mean,
                     const float *running_var, float *y, int N, int C, int HW, float eps);
/* training-mode backward: dx, dgamma, dbeta (overwrite; each may be NULL to skip).
 * xhat = (x-mean)*invstd; dbeta = sum dy; dgamma = sum dy*xhat;
 * dx = gamma*invstd*(dy - dbeta/M - xhat*dgamma/M). */
void ref_bn_bwd(const float *x, const float *dy, const float *gamma, const float *save_mean,
                const float *save_invstd, float *dx, float *dgamma, float *dbeta, int N, int C, int HW);

/* y = x < 0 ? 0 : x (torch.relu: NaN propagates, -0.0 stays -0.0) */
void ref_relu_fwd(const float *x, float *y, size_t n);
/* uses the forward OUTPUT y: dx = y > 0 ? dy : 0; exactly PyTorch's threshold_backward,
 * dx = (y <= 0) ? 0 : dy, so a NaN output passes dy through. */
void ref_relu_bwd(const float *y, const float *dy, float *dx, size_t n);

/* leaky_relu: y = x > 0 ? x : x*slope; backward from the forward INPUT: dx = x > 0 ? dy : dy*slope
 * (a NaN input gives dy*slope, as PyTorch's leaky_relu_backward). */
void ref_leaky_relu_fwd(const float *x, float *y, size_t n, float slope);
void ref_leaky_relu_bwd(const float *x, const float *dy, float *dx, size_t n, float slope);
/* tanh and sigmoid; backward from the forward OUTPUT y: dx = dy*(1 - y*y), dx = dy*(1 - y)*y */
void ref_tanh_fwd(const float *x, float *y, size_t n);
void ref_tanh_bwd(const float *y, const float *dy, float *dx, size_t n);
void ref_sigmoid_fwd(const float *x, float *y, size_t n);
void ref_sigmoid_bwd(const float *y, const float *dy, float *dx, size_t n);
/* y = a + b (y may alias a or b); y += x */
void ref_add(const float *a, const float *b, float *y, size_t n);
void ref_accumulate(const float *x, float *y, size_t n);

/* 2x2 max pool stride 2 floor mode: y (N,C,H/2,W/2). Backward routes dy to the FIRST maximum
 * of each window in row-major window order (PyTorch CPU semantics; NaN counts as maximum),
 * zeros elsewhere (incl. the dropped last row/col when H or W is odd).
 * Exact rule (PyTorch CPU): start with max=-inf, index=first element; scan row-major and take
 * element v when (v > max || isnan(v)). So ties -> first; one NaN -> that NaN; several NaNs
 * -> the LAST NaN (verified with torch 1.13); all -inf -> first. */
void ref_maxpool2_fwd(const float *x, float *y, int N, int C, int H, int W);
void ref_maxpool2_bwd(const float *x, const float *dy, float *dx, int N, int C, int H, int W);

/* MaxPool2d / AvgPool2d with kernel (kh, kw), stride (sh, sw), zero padding (ph, pw), floor mode:
 * OH = (H + 2*ph - kh) / sh + 1. Max: PyTorch CPU's rule over the in-bounds cells of each window
 * (start -inf, index = the first in-bounds cell, take v when v > max || isnan(v)); backward adds dy
 * at that index (overlapping windows accumulate). Avg: divisor = the window clipped to the padded
 * input (count_include_pad) or to the input; backward spreads dy/divisor over the in-bounds cells. */
void ref_maxpool2d_fwd(const float *x, float *y, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw);
void ref_maxpool2d_bwd(const float *x, const float *dy, float *dx, int N, int C, int H, int W, int kh, int kw,
                       int sh, int sw, int ph, int pw);
void ref_avgpool2d_fwd(const float *x, float *y, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw, int count_include_pad);
void ref_avgpool2d_bwd(const float *dy, float *dx, int N, int C, int H, int W, int kh, int kw, int sh, int sw,
                       int ph, int pw, int count_include_pad);

/* AdaptiveAvgPool2d: window for output i is [floor(i*H/OH), ceil((i+1)*H/OH)) (overlapping
 * when H % OH != 0), same for columns. Backward: each output's dy/count added to its window. */
void ref_adaptive_avgpool_fwd(const float *x, float *y, int N, int C, int H, int W, int OH, int OW);
void ref_adaptive_avgpool_bwd(const float *dy, float *dx, int N, int C, int H, int W, int OH, int OW);

/* Dropout with an explicit keep mask (1 keep, 0 drop) of `n_mask` entries; every `inner`
 * consecutive elements of x share one mask entry (inner = H*W for Dropout2d on NCHW, inner = 1
 * for Dropout). y = x * mask * scale with scale = 1/(1-p), computed as x * (mask*scale) like
 * PyTorch's input * noise; a 0 mask entry gives x*0 even when scale is inf (p = 1).
 * The same function is the backward (dx = dy*mask*scale). */
void ref_dropout_apply(const float *x, const float *mask, float *y, size_t n_mask, size_t inner, float scale);

/* Linear: x (N,IN), w (OUT,IN), b (OUT) or NULL, y (N,OUT) = x w^T + b. */
void ref_linear_fwd(const float *x, const float *w, const float *b, float *y, int N, int IN, int OUT);
/* dx (N,IN) = dy w, dw (OUT,IN) = dy^T x, db (OUT) = sum over rows of dy. dx/dw/db may be NULL. */
void ref_linear_bwd(const float *x, const float *w, const float *dy, float *dx /*nullable*/, float *dw,
                    float *db /*nullable*/, int N, int IN, int OUT);

/* softmax cross-entropy with integer targets (N), mean over the batch; returns the mean loss;
 * dlogits (N,K) = (softmax - onehot)/N if not NULL. Stable (log-sum-exp), computed in double.
 * A target outside [0,K) makes the loss NaN (its dlogits row is softmax/N). */
float ref_softmax_xent(const float *logits, const int32_t *targets, float *dlogits, int N, int K);
/* number of rows whose argmax (first maximum; the first NaN counts as the maximum, like
 * torch.argmax) equals the target */
int ref_count_correct(const float *logits, const int32_t *targets, int N, int K);

/* torch.optim.Adam(weight_decay=wd) one step, step = 1-based step count AFTER increment:
 * g = grad + wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; bc1 = 1-b1^step; bc2 = 1-b2^step;
 * p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
 * Element ops in float in PyTorch's order; bc1, bc2, lr/bc1, sqrt(bc2) in double, then float. */
void ref_adam_step(float *p, const float *grad, float *m, float *v, size_t n, float lr, float b1, float b2,
                   float eps, float wd, int step);
/* torch.optim.SGD(momentum=mu, weight_decay=wd, dampening=0, nesterov=False): g = grad + wd*p;
 * buf = mu*buf + g (buf starts at 0, which equals PyTorch's first-step clone); p -= lr*buf
 * (if mu == 0: p -= lr*g; buf untouched and may be NULL). */
void ref_sgd_step(float *p, const float *grad, float *buf, size_t n, float lr, float mu, float wd);

/* ---- whole DigitCNN ------------------------------------------------------------------------
 * input N x 1 x 28 x 28:
 * conv1 5x5 pad2 -> bn1 -> relu -> maxpool2 -> conv2 5x5 pad2 -> bn2 -> relu -> maxpool2
 * -> dropout2d(p1) -> conv3 3x3 pad1 -> bn3 -> relu -> adaptive avg pool 3x3 -> flatten (C,H,W)
 * -> fc1 (9*c3 -> hidden) -> relu -> dropout(p2) -> fc2 (hidden -> hidden/2) -> relu
 * -> fc3 (hidden/2 -> 10). BN: eps 1e-5, momentum 0.1. use_bn = 0: bn layers are identity and
 * their params are never touched (may be NULL). */
typedef struct {
    int c1, c2, c3, hidden;
    float p1, p2;
    int use_bn;
} ref_cnn_dims;
typedef struct { /* pointers to PyTorch state_dict tensors (caller owns the memory) */
    float *conv1_w, *conv1_b, *bn1_w, *bn1_b, *bn1_rm, *bn1_rv;
    float *conv2_w, *conv2_b, *bn2_w, *bn2_b, *bn2_rm, *bn2_rv;
    float *conv3_w, *conv3_b, *bn3_w, *bn3_b, *bn3_rm, *bn3_rv;
    float *fc1_w, *fc1_b, *fc2_w, *fc2_b, *fc3_w, *fc3_b;
} ref_cnn_params;
/* same struct type reused for gradients (rm/rv unused there; a NULL gradient pointer skips
 * that tensor) */
typedef struct ref_cnn_ws ref_cnn_ws; /* opaque workspace holding every activation */
/* workspace for batches of up to N images; NULL on bad dims or out of memory */
ref_cnn_ws *ref_cnn_ws_create(const ref_cnn_dims *d, int N);
void ref_cnn_ws_free(ref_cnn_ws *ws);
/* training=1: batch-stat BN (updates running stats in params), dropout with masks mask1 (N,c2)
 * and mask2 (N,hidden) of 0/1 (NULL = keep all, i.e. an all-ones mask: kept values are still
 * scaled by 1/(1-p)); training=0: eval (running stats, no dropout). Writes logits (N,10).
 * N must not exceed the workspace's N (otherwise logits are filled with NaN). The dims must be
 * the ones the workspace was created with. */
void ref_cnn_forward(const ref_cnn_dims *d, ref_cnn_params *p, ref_cnn_ws *ws, const float *x, int N,
                     int training, const float *mask1, const float *mask2, float *logits);
/* after a training forward: loss and all parameter gradients into g (overwrite); returns the
 * mean loss. N must equal the last forward's N (else NaN). After an eval forward it returns the
 * gradients of the eval-mode function (BN with running stats, no dropout). */
float ref_cnn_backward(const ref_cnn_dims *d, const ref_cnn_params *p, ref_cnn_ws *ws, const int32_t *targets,
                       int N, ref_cnn_params *g);
/* named access to the workspace activations for layer-by-layer comparisons: names
 * "conv1","bn1","relu1","pool1","conv2","bn2","relu2","pool2","drop1","conv3","bn3","relu3",
 * "avgpool","fc1","relu_fc1","drop2","fc2","relu_fc2","logits" (outputs of each op, NCHW /
 * (N,F)); returns NULL for unknown names and sets *count (elements for the last forward's N;
 * 0 for unknown names). When use_bn = 0, "bnK" equals "convK"; in eval "drop1"/"drop2" equal
 * their inputs. */
const float *ref_cnn_activation(const ref_cnn_ws *ws, const char *name, size_t *count);
/* the gradient of the loss w.r.t. the same named activations (filled by ref_cnn_backward) */
const float *ref_cnn_activation_grad(const ref_cnn_ws *ws, const char *name, size_t *count);

#endif
