/* augment.h: batch preparation on the device (u8 C x H x W images -> normalised floats in the
 * network input's channel-major (C, N, H, W) layout, optional random affine augmentation and
 * left-right mirror) and its plain-C mirror for tests. See cl/augment.cl. */
#ifndef CLTRAIN_AUGMENT_H
#define CLTRAIN_AUGMENT_H
#include "clctx.h"

#define CT_AUGMENT_MAX_CHANNELS 4

typedef struct {
    int enabled;
    float rotation_degrees; /* +/- */
    float translation;      /* fraction of the image size (width for x, height for y), +/- */
    float scale_min, scale_max;
    float mean, std;        /* normalisation when c == 0 (the 1 x 28 x 28 default) */
    int hflip;              /* with enabled: mirror left-right with p = 0.5 */
    int c, h, w;            /* image shape; c == 0 means 1 x 28 x 28 with mean/std above */
    float mean_c[CT_AUGMENT_MAX_CHANNELS], std_c[CT_AUGMENT_MAX_CHANNELS]; /* per channel, when c > 0 */
    uint32_t index_base;    /* random numbers of image n keyed by index_base + n (its global index) */
} ct_augment;

/* Sets the image shape and per-channel normalisation (c <= CT_AUGMENT_MAX_CHANNELS). */
void ct_augment_set_shape(ct_augment *a, int c, int h, int w, const float *mean, const float *std);

/* src: N images of c*h*w u8 on the device; dst: c*N*h*w floats, channel-major (C, N, H, W) */
int ct_batch_prepare(ct_ctx *c, const ct_augment *a, int N, cl_mem src, cl_mem dst, uint64_t seed, unsigned step);
/* the same on the host */
void ct_augment_ref(const ct_augment *a, int N, const uint8_t *src, float *dst, uint64_t seed, unsigned step);

#endif
