/* verify_int.h: the helpers the verification files share (verify.c: core kernels and the whole
 * DigitCNN step; verify_layers.c: the general layer ops). Host arrays and device buffers are
 * owned by the vctx and released after each check group; every allocation is checked. */
#ifndef CLTRAIN_VERIFY_INT_H
#define CLTRAIN_VERIFY_INT_H
#include "ops.h"
#include "verify.h"

typedef struct {
    ct_ctx *c;
    FILE *out;
    ct_verify_result *res;
    uint64_t rng;
    int conv_batch; /* batch of the convolution checks at DigitCNN's training sizes (default 8) */
    cl_mem *bufs; /* device buffers of the current group (grown as needed) */
    size_t nbufs, capbufs;
    void **host;  /* host arrays of the current group */
    size_t nhost, caphost;
} vctx;

float vf_rnd(vctx *v, float lo, float hi);
/* n floats, uniform in [lo, hi) (all lo when lo == hi); NULL when out of memory (see VF_HOST) */
float *vf_harr(vctx *v, size_t n, float lo, float hi);
/* device buffer of `floats` floats, written from init when not NULL */
int vf_dbuf(vctx *v, size_t floats, const float *init, cl_mem *out);
void vf_release(vctx *v);
/* NaN/Inf-aware comparison, one PASS/FAIL line: |got - want| <= atol + rtol*|want| */
void vf_check(vctx *v, const char *name, const float *got, const float *want, size_t n, float atol, float rtol);
/* device buffer holding x (N, C, HW) converted to the channel-major (C, N, HW) layout */
int vf_dbuf_cm(vctx *v, const float *x, int N, int C, int HW, cl_mem *out);
/* the device buffers of a BatchNorm2d check: x and dy (N,C,HW) stored channel-major, the
 * parameter and state pools (2*a floats: [gamma | beta], [mean | var]), the saved statistics (C),
 * y, dx (N*C*HW) and the gradient pool (2*a) */
typedef struct {
    cl_mem x, params, state, mean, invstd, y, dy, dx, grads;
} vf_bn_bufs;
int vf_bn_buffers(vctx *v, const float *x, const float *dy, const float *params, const float *state, int N, int C,
                  int HW, int a, vf_bn_bufs *b);
/* reads n floats of b into a new host array */
int vf_readback(vctx *v, cl_mem b, size_t n, float **out);
/* (N, C, HW) <-> (C, N, HW); NULL when out of memory or x is NULL */
float *vf_to_cm(vctx *v, const float *x, int N, int C, int HW);
float *vf_from_cm(vctx *v, const float *y, int N, int C, int HW);
/* CT_OK when every pointer is non-NULL, else an out-of-memory failure */
int vf_all(void *const *p, size_t n);
#define VF_HOST(...)                                                                            \
    CT_TRY(vf_all((void *const[]){__VA_ARGS__}, sizeof((void *const[]){__VA_ARGS__}) / sizeof(void *)))

/* verify_layers.c: activations, add, flatten, general pooling, strided/rectangular conv,
 * BatchNorm1d, NaN/Inf propagation */
int ct_verify_layers(vctx *v);
/* verify_fused.c: the inference-only conv (+ batchnorm) (+ ReLU) (+ max pooling) kernels */
int ct_verify_fused(vctx *v);
/* verify_data.c: batch preparation (normalisation, augmentation, C x H x W, mirror) */
int ct_verify_data(vctx *v);

#endif
