/* nn/prewarm.h: a first run's kernels compiled by a helper process while the run starts.
 * POCL compiles every program, and every kernel again at its first launch with each work-group
 * size and grid class, and caches the results on disk for every process; it compiles one thing
 * at a time per process (a lock shared by all its contexts: two threads with two contexts took
 * 3.9 s to build what one thread built in 3.5 s, 2026-12-03), so a second thread cannot help but
 * a second process can. The helper (`cltrain __prewarm SPEC`, this executable again, spawned with
 * the run's environment minus Dagster Pipes' variables) builds the run's programs and makes its
 * launches in about the reverse of the run's order (evaluation forwards, optimizer step,
 * backward, training forward, on zeroed buffers, results thrown away), so that the run finds
 * much of what it launches already compiled. Only on drivers that share compiled kernels that way
 * (ct_driver_caches_builds), once per device, driver, kernel sources, tunables, network and batch
 * sizes (the helper leaves a stamp in the program cache folder when it has done everything), not
 * under CLTRAIN_KERNEL_DIR, and off with CLTRAIN_PREWARM=0. Nothing the run computes depends on
 * it. */
#ifndef CLTRAIN_NN_PREWARM_H
#define CLTRAIN_NN_PREWARM_H
#include "augment.h"
#include "model.h"

typedef struct ct_prewarm ct_prewarm;

/* Starts the helper for a run of a model like `net` at max_batch: training batches of `batch`
 * prepared with `aug` (as configured, augmentation included), optimizer `opt`, evaluation batch
 * sizes batches[0..n) (at most 8; each <= max_batch). *out is NULL when there is nothing to do
 * (another driver, no cache folder, already done, or the helper could not start); never fails
 * the run. */
void ct_prewarm_start(ct_ctx *c, const ct_netdef *net, int max_batch, int batch, const ct_augment *aug,
                      const ct_optim *opt, const int *batches, int n, ct_prewarm **out);
/* Waits up to wait_s seconds for the helper, then stops it (SIGTERM: whatever it still compiles
 * the run has compiled itself by then); frees p (NULL is fine). */
void ct_prewarm_finish(ct_prewarm *p, int wait_s);
/* The helper process's command (`cltrain __prewarm SPEC`): status as a command's. */
int ct_prewarm_child(int argc, char **argv);

#endif
