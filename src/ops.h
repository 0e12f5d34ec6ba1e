/* ops.h: host wrappers that launch one kernel family each, on channel-major (C, N, H, W)
 * activations. Buffers are passed with element offsets; every function returns a ct_status.
 * One host file per layer: gemm.c, layer_conv.c, layer_bn.c, layer_pool.c, layer_act.c,
 * layer_dropout.c, layer_fc.c (CLBlast), layer_loss.c, optim.c. */
#ifndef CLTRAIN_OPS_H
#define CLTRAIN_OPS_H
#include "clctx.h"

/* --- gemm.c ------------------------------------------------------------------------- */
/* C(M,N) = op(A) B (+bias[m]) (+C): op(A)(m,k) = A[offA + m*sam + k*sak]; B (K,N) stride ldb */
int ct_gemm_nn(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
               cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate);
/* The same with panel layouts for the im2col matrix (cl/gemm.cl): B (and/or C) stored in
 * panels of pw columns, each panel's rows back to back; pw >= N is the plain layout. */
int ct_gemm_nn_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int sam, int sak, cl_mem B, int offB, int ldb,
                  cl_mem C, int offC, int ldc, cl_mem bias, int offBias, int accumulate, int pw, int bpanel,
                  int cpanel);
int ct_gemm_nt_ex(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
                  int offC, int ldc, int accumulate, int pw);
/* C(M,N) = A(M,K) B(N,K)^T (+C) */
int ct_gemm_nt(ct_ctx *c, int M, int N, int K, cl_mem A, int offA, int lda, cl_mem B, int offB, int ldb, cl_mem C,
               int offC, int ldc, int accumulate);

/* --- layer_conv.c: conv2d, zero padding; stride and rectangular shapes via ct_conv_init2 -- */
typedef struct {
    int ci, co, kh, kw, pad, h, w, oh, ow;
    int w_off, b_off; /* element offsets of weight (CO,CI,KH,KW) and bias (CO, b_off < 0: none) */
    int sh, sw, ph, pw; /* stride and padding per axis (pad == ph) */
} ct_conv;
/* stride 1, square padding `pad` (the seed's layers) */
void ct_conv_init(ct_conv *l, int ci, int co, int k, int pad, int h, int w, int w_off, int b_off);
/* which kernels a layer runs on this device ("direct", "im2col+gemm", "strided im2col+gemm", ...),
 * forward (backward = 0), input gradient (1) or weight gradient (2): for verify and bench labels */
const char *ct_conv_path(const ct_ctx *c, const ct_conv *l, int N, int backward);
size_t ct_conv_col_floats(const ct_conv *l, int N); /* im2col workspace size */
/* runs a direct weight-gradient kernel k (conv_dw_k*, conv_dws2_*: one item per input channel,
 * 16*cb output channels and block of images) on the input xp at 0 (the padded copy in col, p its
 * zero rows for the kernels that skip them; the layer's input itself for conv_dw_k3s_*) and dyT
 * at col xps; with several image blocks their partial sums go
 * to col after dyT and colsum adds them into grads (layer_conv.c) */
int ct_conv_dw_launch(ct_ctx *c, const ct_conv *l, int N, cl_kernel k, int cb, cl_mem xp, cl_mem col, size_t xps,
                      int p, cl_mem grads);
/* wt (offWt) = the conv weight in the direct kernels' (A, KH, KW, B rounded up to 16) layout; flip 1:
 * transposed and flipped, for the backward-data pass (cl/conv.cl conv_wt) */
int ct_conv_wt(ct_ctx *c, const ct_conv *l, cl_mem params, cl_mem wt, int offWt, int flip);
/* dyt (offDyt) = dy (CO, NP) transposed to (NP, CO rounded up to 16) for the direct weight
 * gradients (cl/conv.cl conv_dyt) */
int ct_conv_dyt(ct_ctx *c, cl_mem dy, cl_mem dyt, int offDyt, int CO, int NP);
/* x (CI,N,H,W) -> y (CO,N,OH,OW); col (CI*KH*KW, N*OH*OW) keeps the unfolded input for backward */
int ct_conv_forward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem params, cl_mem col, cl_mem y);
/* dy (CO,N,OH,OW) -> weight/bias grads into `grads` (same offsets); dx (CI,N,H,W) when dx != NULL
 * (acc: added to what dx holds, where ct_conv_dx_adds).
 * x is the forward's input, unchanged (the direct weight gradient of a "same" 3x3 conv reads it);
 * col must still hold the forward's unfolding; it is overwritten (used as dcol). */
int ct_conv_backward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem dy, cl_mem params, cl_mem col,
                     cl_mem grads, cl_mem dx, int acc);
/* 1 where the input gradient's path can add to dx in its own stores (ct_conv_backward's acc = 1:
 * the direct and stride-2 polyphase kernels), saving an accumulate pass where the layer's input
 * feeds several layers */
int ct_conv_dx_adds(const ct_ctx *c, const ct_conv *l, int N);

/* --- layer_conv_strided.c: stride-2 square 1x1/3x3 convs without im2col (CPU profile) ------ */
size_t ct_convs_ws_floats(const ct_conv *l, int N); /* its scratch (0: not such a shape) */
int ct_convs_fwd_applies(const ct_ctx *c, const ct_conv *l, int N); /* forward and dW */
int ct_convs_dx_applies(const ct_ctx *c, const ct_conv *l, int N);
int ct_convs_fused_applies(const ct_ctx *c, const ct_conv *l, int N, int pool);
int ct_convs_forward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem params, cl_mem col, cl_mem y);
int ct_convs_dw(ct_ctx *c, const ct_conv *l, int N, cl_mem dy, cl_mem col, cl_mem grads);
int ct_convs_dx(ct_ctx *c, const ct_conv *l, int N, cl_mem dy, cl_mem params, cl_mem col, cl_mem dx, int acc);

/* --- layer_bn.c: BatchNorm2d(C) (and BatchNorm1d below), PyTorch's semantics ----------- */
typedef struct {
    int C, g_off, b_off; /* gamma/beta offsets in the parameter pool */
    int rm_off, rv_off;  /* running mean/var offsets in the state pool */
    float eps, momentum; /* set by ct_bn_init; eps <= 0 (a zeroed descriptor filled field by field, as
                          * before these fields existed) means PyTorch's defaults 1e-5 and 0.1 */
} ct_bn;
/* fills every field; eps must be > 0 (PyTorch's defaults: 1e-5, 0.1) */
void ct_bn_init(ct_bn *l, int C, int g_off, int b_off, int rm_off, int rv_off, float eps, float momentum);

/* --- layer_conv_fused.c: inference-only conv2d (+ batchnorm2d folded into it) (+ ReLU) (+ 2x2
 * stride-2 max pooling) as one convolution (cl/convfused.cl) ----------------------------- */
/* 1 where it runs: the direct convolution on (tune.conv_direct bit 1: the CPU profile), square
 * 3x3/5x5 kernels, stride 1, padding < K, and its scratch fits in ct_conv_col_floats(l, N) */
int ct_conv_fused_applies(const ct_ctx *c, const ct_conv *l, int N, int pool);
/* x (CI,N,H,W) -> y (CO,N,OH,OW), or (CO,N,OH/2,OW/2) with pool; bn NULL: no batchnorm (its
 * running statistics are read from `state`); ws: the im2col workspace (scratch) */
int ct_conv_fused_forward(ct_ctx *c, const ct_conv *l, const ct_bn *bn, int relu, int pool, int N, cl_mem x,
                          cl_mem params, cl_mem state, cl_mem ws, cl_mem y);
/* its stride-2 form (layer_conv_strided.c; no pooling) */
int ct_convs_fused_forward(ct_ctx *c, const ct_conv *l, const ct_bn *bn, int relu, int N, cl_mem x, cl_mem params,
                           cl_mem state, cl_mem ws, cl_mem y);
/* x (C, M) -> y; training: batch stats into save_mean/save_invstd (C) and running-stat update */
int ct_bn_forward(ct_ctx *c, const ct_bn *l, int M, int training, cl_mem x, cl_mem params, cl_mem state,
                  cl_mem save_mean, cl_mem save_invstd, cl_mem y, int relu);
/* relu_y: the training forward's output when ReLU was fused (masks dy), else NULL; where a
 * work-group is one item (the CPU profile) the mask is recomputed from x with that forward's
 * arithmetic and relu_y is not read, so it must be this layer's output for the same x, params and
 * saved statistics */
int ct_bn_backward(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                   cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx);
/* the residual tail batchnorm2d -> add -> ReLU: y = relu(bn(x) + o), o (C, M) the add's other
 * input; backward from the ReLU's dy and output y: dx of the batchnorm, and the masked dy
 * written (acc 0) or added (acc 1) into dout, the other input's gradient (NULL: none) */
int ct_bn_forward_add(ct_ctx *c, const ct_bn *l, int M, int training, cl_mem x, cl_mem o, cl_mem params,
                      cl_mem state, cl_mem save_mean, cl_mem save_invstd, cl_mem y);
int ct_bn_backward_add(ct_ctx *c, const ct_bn *l, int M, cl_mem x, cl_mem dy, cl_mem y, cl_mem params,
                       cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx, cl_mem dout, int acc);

/* BatchNorm2d + ReLU + 2x2/stride-2 max pooling in one kernel each way (bnpool.cl): x (C, N, H,
 * W) with even H and W, W/2 >= 4 -> the pooled yp (C, N, H/2, W/2) only; the backward recomputes
 * the ReLU output from x and takes the pooled gradient dyp */
int ct_bn_pool2_forward(ct_ctx *c, const ct_bn *l, int N, int H, int W, int training, cl_mem x, cl_mem params,
                        cl_mem state, cl_mem save_mean, cl_mem save_invstd, cl_mem yp);
int ct_bn_pool2_backward(ct_ctx *c, const ct_bn *l, int N, int H, int W, cl_mem x, cl_mem dyp, cl_mem params,
                         cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx);
static inline int ct_bn_pool2_fits(int H, int W) { return H >= 2 && H % 2 == 0 && W % 2 == 0 && W / 2 >= 4; }

/* --- layer_act.c ---------------------------------------------------------------------- */
int ct_relu_forward(ct_ctx *c, int n, cl_mem x, cl_mem y);
int ct_relu_backward(ct_ctx *c, int n, cl_mem y, cl_mem dy, cl_mem dx);

/* --- layer_pool.c --------------------------------------------------------------------- */
int ct_maxpool2_forward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem y);
int ct_maxpool2_backward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem dy, cl_mem dx);
/* x (C,N,H,W) -> y (N, C*OH*OW) */
int ct_avgpool_forward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem x, cl_mem y);
int ct_avgpool_backward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem dy, cl_mem dx);

/* --- layer_dropout.c ------------------------------------------------------------------ */
/* mask[count] = 1/(1-p) or 0 from Philox(counter = (i, stream, step), key = seed) */
int ct_dropout_mask(ct_ctx *c, int count, float p, uint64_t seed, unsigned stream, unsigned step, cl_mem mask);
/* the same with the Philox counter starting at base (the mask's offset in the global batch) */
int ct_dropout_mask_at(ct_ctx *c, int count, float p, uint64_t seed, unsigned stream, unsigned step, unsigned base,
                       cl_mem mask);
int ct_dropout_apply(ct_ctx *c, int n, cl_mem x, cl_mem mask, cl_mem y);
/* x (C, N, HW), mask (N, C) */
int ct_dropout2d_apply(ct_ctx *c, int C, int N, int HW, cl_mem x, cl_mem mask, cl_mem y);

/* --- layer_fc.c: Linear(IN, OUT) through CLBlast --------------------------------------- */
typedef struct {
    int in, out, w_off, b_off; /* b_off < 0: no bias (Linear(bias=False)) */
} ct_fc;
/* x (N, IN) -> y (N, OUT) = x W^T + b, then ReLU when relu */
int ct_fc_forward(ct_ctx *c, const ct_fc *l, int N, cl_mem x, cl_mem params, cl_mem y, int relu);
/* dy (N, OUT) -> dW, db into grads; dx (N, IN) when dx != NULL */
int ct_fc_backward(ct_ctx *c, const ct_fc *l, int N, cl_mem x, cl_mem dy, cl_mem params, cl_mem grads, cl_mem dx);

/* --- layer_loss.c --------------------------------------------------------------------- */
/* logits (N,K), targets int32 (N) -> batch_loss[0]; dlogits when not NULL; sums[0..2] += loss*N,
 * correct, N when sums not NULL */
int ct_xent(ct_ctx *c, int N, int K, cl_mem logits, cl_mem targets, cl_mem dlogits, cl_mem batch_loss, cl_mem sums);
/* the same with dlogits divided by norm instead of N (norm 0: N) */
int ct_xent_norm(ct_ctx *c, int N, int K, cl_mem logits, cl_mem targets, cl_mem dlogits, cl_mem batch_loss,
                 cl_mem sums, int norm);
int ct_softmax(ct_ctx *c, int N, int K, cl_mem logits, cl_mem probs);

/* --- optim.c -------------------------------------------------------------------------- */
int ct_adam_step(ct_ctx *c, int n, cl_mem p, cl_mem g, cl_mem m, cl_mem v, float lr, float b1, float b2, float eps,
                 float wd, long step);
int ct_sgd_step(ct_ctx *c, int n, cl_mem p, cl_mem g, cl_mem buf, float lr, float mu, float wd);

/* --- reductions (gemm.c) -------------------------------------------------------------- */
int ct_rowsum(ct_ctx *c, int R, int L, cl_mem x, cl_mem out, int offOut);
int ct_colsum(ct_ctx *c, int R, int L, cl_mem x, int offX, cl_mem out, int offOut);

/* --- general layers for networks from YAML (issue 9); the fast paths above stay and the
 * general entry points below pick them where a shape allows. ---------------------------- */

/* conv2d with stride, rectangular kernel/padding and an optional bias. ct_conv_init2 fills the
 * descriptor (oh/ow by PyTorch's formula); ct_conv_forward/ct_conv_backward accept it, using
 * the direct CPU kernels where they fit (stride 1, bias, odd square kernel, same padding) and
 * the general im2col + GEMM path otherwise. b_off < 0 means no bias. */
void ct_conv_init2(ct_conv *l, int ci, int co, int kh, int kw, int sh, int sw, int ph, int pw, int h, int w,
                   int w_off, int b_off);

/* max/avg pooling with any kernel, stride and padding on channel-major planes (C*N planes of
 * H x W). Max: first maximum wins, NaN counts as the maximum (PyTorch), padding is -inf.
 * Avg: count_include_pad as PyTorch (the divisor counts padded cells inside the padded
 * input, never cells past it). */
typedef struct {
    int kh, kw, sh, sw, ph, pw, h, w, oh, ow;
    int count_include_pad;
} ct_pool2d;
void ct_pool2d_init(ct_pool2d *p, int kh, int kw, int sh, int sw, int ph, int pw, int h, int w,
                    int count_include_pad);
int ct_maxpool_forward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem y);
int ct_maxpool_backward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem dy, cl_mem dx);
int ct_avgpool2d_forward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem y);
int ct_avgpool2d_backward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem dy, cl_mem dx);
/* adaptive average pooling keeping the channel-major layout: x (C,N,H,W) -> y (C,N,OH,OW)
 * (ct_avgpool_forward above is the same fused with flatten, for DigitCNN's fast path) */
int ct_adaptive_avgpool_forward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem x, cl_mem y);
int ct_adaptive_avgpool_backward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem dy, cl_mem dx);

/* flatten: x (C,N,HW) channel-major -> y (N, C*HW) as torch.flatten(x, 1); backward the inverse */
int ct_flatten_forward(ct_ctx *c, int C, int N, int HW, cl_mem x, cl_mem y);
int ct_flatten_backward(ct_ctx *c, int C, int N, int HW, cl_mem dy, cl_mem dx);

/* activations, elementwise over n floats; NaN propagates as in PyTorch.
 * backward: x is the forward input, y its output (each kind reads what it needs) */
typedef enum { CT_ACT_RELU = 0, CT_ACT_LEAKY_RELU, CT_ACT_TANH, CT_ACT_SIGMOID } ct_act_kind;
int ct_act_forward(ct_ctx *c, ct_act_kind k, float slope, size_t n, cl_mem x, cl_mem y);
int ct_act_backward(ct_ctx *c, ct_act_kind k, float slope, size_t n, cl_mem x, cl_mem y, cl_mem dy, cl_mem dx);

/* elementwise: y = a + b; y += x (gradient fan-in/fan-out, residual sums); y may alias a */
int ct_add_forward(ct_ctx *c, size_t n, cl_mem a, cl_mem b, cl_mem y);
int ct_accumulate(ct_ctx *c, size_t n, cl_mem x, cl_mem y);
/* y = relu(a + b) (y may alias a or b) */
int ct_add_relu_forward(ct_ctx *c, size_t n, cl_mem a, cl_mem b, cl_mem y);

/* BatchNorm1d on flat activations x (N, F): per-feature statistics over N. eps/momentum are
 * the layer's (ct_bn gains eps and momentum fields, defaulting to 1e-5 and 0.1 in BatchNorm2d
 * too). Same contract as ct_bn_forward/ct_bn_backward otherwise. */
int ct_bn1d_forward(ct_ctx *c, const ct_bn *l, int N, int training, cl_mem x, cl_mem params, cl_mem state,
                    cl_mem save_mean, cl_mem save_invstd, cl_mem y, int relu);
int ct_bn1d_backward(ct_ctx *c, const ct_bn *l, int N, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                     cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx);

/* The same in steps, for data-parallel synchronised BatchNorm (nn/bn_sync.c): the training
 * statistics alone (update_running 0 leaves the running statistics), apply with the saved
 * statistics, the backward's dgamma/dbeta sums and its dx. oned: BatchNorm1d, M = N rows. */
void ct_bn_hyper(const ct_bn *l, float *eps, float *momentum);
int ct_bn_stats_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem state, cl_mem save_mean,
                     cl_mem save_invstd, int update_running);
int ct_bn_apply_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem params, cl_mem save_mean,
                     cl_mem save_invstd, cl_mem y, int relu);
int ct_bn_bwd_reduce_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem dy, cl_mem relu_y,
                          cl_mem save_mean, cl_mem save_invstd, cl_mem grads);
int ct_bn_bwd_dx_step(ct_ctx *c, const ct_bn *l, int oned, int M, cl_mem x, cl_mem dy, cl_mem relu_y, cl_mem params,
                      cl_mem save_mean, cl_mem save_invstd, cl_mem grads, cl_mem dx);

#endif
