/* nn/prewarm.h: a first run's evaluation kernels compiled in a second thread while the run
 * trains. POCL compiles every kernel again at its first launch with each work-group size and
 * grid class and caches the result on disk for every context of every process; a thread with
 * its own context on the same device runs the evaluation forwards of the batch sizes the run
 * will use (zeroed inputs, results thrown away), so the run's own evaluation finds them
 * compiled. Only on drivers that share compiled kernels that way (ct_driver_caches_builds), and
 * only once per device, driver, kernel sources, tunables and network: a stamp in the program
 * cache folder says it was done. Off unless CLTRAIN_PREWARM=1: on the shared 2-vCPU machine
 * (load 12-22) it made a cold `train --subset 640` slower, 52-65 s against 38-59 s, since both
 * contexts pay for every program (POCL preprocesses a cached source again) and the evaluation
 * forwards run twice; on a quiet Sapphire Rapids pair it did not win either (cold medians of
 * 2: 30.3 s with, 28.5 s without, 2026-12-03). Nothing the run computes depends on it. */
#ifndef CLTRAIN_NN_PREWARM_H
#define CLTRAIN_NN_PREWARM_H
#include "augment.h"
#include "model.h"

typedef struct ct_prewarm ct_prewarm;

/* Starts the thread for the evaluation batch sizes batches[0..n) (at most 8; each <= max_batch)
 * of a model like `net` at max_batch, inputs prepared by ct_batch_prepare with `norm` (its
 * augmentation is not used). *out is NULL when there is nothing to do (another driver, no cache
 * folder, already done, or the thread could not start); never fails the run. */
void ct_prewarm_start(ct_ctx *c, const ct_netdef *net, int max_batch, const ct_augment *norm, const int *batches,
                      int n, ct_prewarm **out);
/* Waits for the thread, writes the stamp when it succeeded, frees p (NULL is fine). */
void ct_prewarm_finish(ct_prewarm *p);

#endif
