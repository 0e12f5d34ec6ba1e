/* preprocess.h: any gray picture of one digit -> a 28x28 MNIST-form image.
 *
 * The steps (those of the original MNIST preparation, plus polarity and paper handling):
 *  1. Polarity: MNIST has light ink on a dark background. When the border of the picture is
 *     lighter than the picture as a whole (ties: border mean above mid-gray), the picture is
 *     dark ink on light paper and is inverted.
 *  2. Paper: the background level (median of the border pixels) is subtracted and the contrast
 *     stretched so the strongest ink is 1.0; values at or below the paper's noise level (from
 *     the border, 0 for a clean synthetic border) become 0.
 *  3. Crop to the bounding box of what is left.
 *  4. Scale so the longer side is 20 pixels, keeping the aspect ratio: area averaging when
 *     shrinking, bilinear when enlarging (a box that is already 20 is copied unchanged).
 *  5. Paste into 28x28 and shift by whole pixels so the centre of mass (in pixel-index
 *     coordinates) lands on (14, 14), as MNIST did; the shift is clamped to keep the digit
 *     inside the frame.
 * The result is in [0, 1] (ink high); normalise with ct_normalize for the network.
 * A picture with no ink (uniform, or contrast below CT_PREP_MIN_CONTRAST of the 0..255
 * range) gives CT_ERR_INPUT "blank image: ..." and info->blank = 1. */
#ifndef CLTRAIN_PREPROCESS_H
#define CLTRAIN_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#define CT_PREP_MIN_CONTRAST 24 /* gray levels between the paper and the strongest ink */

typedef struct {
    int inverted;          /* dark ink on light paper: inverted */
    int blank;             /* no ink found */
    int x0, y0, x1, y1;    /* ink bounding box in the source, x1/y1 exclusive */
    float background;      /* paper level after inversion, 0..255 */
    float noise_floor;     /* residual below this (0..1 after stretching) was cleared */
    int width, height;     /* scaled size of the box (longer side 20) */
    int shift_x, shift_y;  /* where the scaled box's top-left landed in 28x28 */
    float com_x, com_y;    /* centre of mass in the 28x28 result */
} ct_prep_info;

/* gray: w x h samples, 0 black .. 255 white. out: 784 floats in [0,1]. info may be NULL.
 * Returns CT_OK, CT_ERR_INPUT (blank; the message starts with "blank image") or
 * CT_ERR_NOMEM. */
int ct_preprocess_digit(const uint8_t *gray, int w, int h, float out[784], ct_prep_info *info);

/* x = (x - mean) / std over n values. */
void ct_normalize(float *x, size_t n, float mean, float std);

#endif
