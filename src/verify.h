/* verify.h: runs every kernel (and a whole DigitCNN training step) on a device against the
 * plain-C reference (ref.c) and reports PASS/FAIL with the largest error per check. Used by
 * `cltrain verify` and by the CTest kernel tests. */
#ifndef CLTRAIN_VERIFY_H
#define CLTRAIN_VERIFY_H
#include <stdio.h>

#include "clctx.h"

typedef struct {
    int pass, fail;
} ct_verify_result;

/* Prints one line per check to `out` (NULL = silent). Returns CT_OK when the checks could run
 * (failures are counted in *res), or an error status when the device itself failed. */
int ct_verify_run(ct_ctx *c, FILE *out, ct_verify_result *res);
/* The same with the batch of the convolution checks at DigitCNN's training sizes (ct_verify_run:
 * 8); a simulator such as Oclgrind wants 1. */
int ct_verify_run_batch(ct_ctx *c, FILE *out, ct_verify_result *res, int conv_batch);

/* The same checks at DigitCNN's real layer shapes with batch N (`cltrain verify --sizes real`). */
int ct_verify_real_sizes(ct_ctx *c, FILE *out, ct_verify_result *res, int N);

#endif
