/* bench.h: steady-state training/evaluation throughput of a network on a device, a per-kernel
 * profile of one training step and of one evaluation batch, kernel build times (cold and cached) and device memory. */
#ifndef CLTRAIN_BENCH_H
#define CLTRAIN_BENCH_H
#include "clctx.h"
#include "model.h"

typedef struct {
    int batch, steps, warmup, eval_batch;
    const ct_netdef *net;
    int adam;
} ct_bench_opts;

#define CT_BENCH_MAX_KERNELS 64

typedef struct {
    char name[64];
    double ms_per_step;
    double share;       /* of the profiled step time */
    unsigned calls_per_step;
} ct_bench_kernel;

typedef struct {
    char device[256];
    char tunables[1024]; /* profile and every tunable in use (ct_tune_describe) */
    int gpu_profile;
    double train_images_per_second, eval_images_per_second;
    double eval_unfused_images_per_second; /* every layer by itself (no fused conv + bn + relu + pool) */
    double ms_per_step;
    double build_cold_seconds, build_cached_seconds; /* all kernel programs */
    double first_step_seconds;   /* context + model + first training step, caches warm */
    unsigned long long device_bytes;
    ct_bench_kernel kernels[CT_BENCH_MAX_KERNELS]; /* one training step */
    int n_kernels;
    double profiled_ms_per_step;
    ct_bench_kernel eval_kernels[CT_BENCH_MAX_KERNELS]; /* one evaluation batch (forward + loss) */
    int n_eval_kernels;
    double eval_profiled_ms;
    ct_bench_kernel eval_unfused_kernels[CT_BENCH_MAX_KERNELS]; /* the same, every layer by itself */
    int n_eval_unfused_kernels;
    double eval_unfused_profiled_ms;
    int timed_queue_profiling; /* 1 when the timed (no-event) steps ran on a profiling queue: never */
    int world_size;            /* under mpirun: processes; o->batch is the global batch, images/s the job's */
    double allreduce_ms_per_step; /* gradient read-back + allreduce + write per timed step */
    size_t gradient_bytes;
} ct_bench_result;

/* sel: device selector. Runs everything; fills r. Under mpirun (dist/dist.h) every process
 * trains o->batch / N images per step and the timed steps reduce their gradients as training
 * does: the images/s are the whole job's. */
int ct_bench_run(const char *sel, const ct_bench_opts *o, ct_bench_result *r);

#endif
