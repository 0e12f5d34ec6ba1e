/* augment.h: batch preparation on the device (u8 -> normalised float, optional random affine
 * augmentation) and its plain-C mirror for tests. */
#ifndef CLTRAIN_AUGMENT_H
#define CLTRAIN_AUGMENT_H
#include "clctx.h"

typedef struct {
    int enabled;
    float rotation_degrees; /* +/- */
    float translation;      /* fraction of the image size, +/- */
    float scale_min, scale_max;
    float mean, std;        /* normalisation */
} ct_augment;

/* src: N x 784 u8 on the device; dst: N x 784 floats */
int ct_batch_prepare(ct_ctx *c, const ct_augment *a, int N, cl_mem src, cl_mem dst, uint64_t seed, unsigned step);
/* the same on the host */
void ct_augment_ref(const ct_augment *a, int N, const uint8_t *src, float *dst, uint64_t seed, unsigned step);

#endif
