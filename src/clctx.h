/* clctx.h: one OpenCL device in use: context, queue, program build + binary cache, kernel
 * launch helper, named buffer allocation, profiling events, per-device tunables.
 * It deliberately knows nothing about layers or models. */
#ifndef CLTRAIN_CLCTX_H
#define CLTRAIN_CLCTX_H

#include "common.h"
#include "device.h"

const char *ct_cl_errstr(cl_int err);

/* CL_CHECK: in a function returning int status, turn a failed OpenCL call into a message with
 * the expression, the CL_* error name and file:line. */
#define CL_CHECK(expr)                                                                          \
    do {                                                                                        \
        cl_int ct__e = (expr);                                                                  \
        if (ct__e != CL_SUCCESS)                                                                \
            return ct_fail(ct__e == CL_MEM_OBJECT_ALLOCATION_FAILURE || ct__e == CL_OUT_OF_RESOURCES \
                               ? CT_ERR_NOMEM : CT_ERR_RUNTIME,                                 \
                           "%s:%d: %s failed: %s", __FILE__, __LINE__, #expr, ct_cl_errstr(ct__e)); \
    } while (0)
/* Propagate a ct_status. */
#define CT_TRY(expr)                  \
    do {                              \
        int ct__rc = (expr);          \
        if (ct__rc != CT_OK) return ct__rc; \
    } while (0)

/* Tunables chosen per device type (see clctx.c: ct_tune_defaults) and passed to kernels as -D. */
typedef struct {
    int gemm_tm;      /* rows of C per work-item (NN/TN kernel) */
    int gemm_vw;      /* vector width of the NN kernel's columns (4, 8 or 16) */
    int gemm_nv;      /* NN kernel: vectors per row of a tile (cols per work-item = vw*nv); the kernel
                       * derives the same value from VW (NV = 2 when VW >= 16) */
    int gemm_row_loop; /* 1: one work-item per column block walks all row blocks (CPUs, cache reuse);
                        * 0: one work-item per tile (GPUs) */
    int gemm_nt_kc;   /* NT kernel: K chunk walked across all row blocks (0 = all of K) */
    int conv_panels;  /* 1: im2col columns stored in panels of gemm_vw*gemm_nv (see cl/conv.cl) */
    int conv_direct;  /* bit mask: direct convolution kernels (cl/conv.cl conv_direct_*) where they fit (CPUs):
                       * bit 0 backward data, bit 1 forward + weight gradient, bit 2 "same" 3x3 convs
                       * read their input (and dy) unpadded, without a conv_pad copy */
    int gemm_nt_tm;   /* NT kernel: rows x cols of C per work-item, dot products over K */
    int gemm_nt_tn;
    int gemm_nt_vw;   /* vector width along K in the NT kernel */
    int ew_vw;        /* vector width of elementwise kernels */
    int red_ls;       /* work-group size of per-channel reductions (1 on CPUs) */
    size_t gemm_local[2]; /* local size of the gemm kernels, {0,0} = let the driver choose */
    int conv_tile;    /* direct conv tile: 0 = by shape (3x3/5x5: the compile-time-K kernels, 1x14x1
                       * where OW >= 14, else 1x7x2, 2x7x1 where CO <= 16; other kernels 1x7x2 where
                       * OW >= 7; else 1x1x1), runtime-K 1 = 1x14x1, 2 = 2x7x1, 3 = 1x1x1,
                       * compile-time-K 4 = 1x14x1, 5 = 1x7x2, 6 = 2x7x1 (CLTRAIN_CONV_TILE
                       * overrides; verify walks them all) */
    int dw_block_kb;  /* direct weight gradients (conv_dw_k*, conv_dws2_*): KiB of dyT per block of
                       * images (each block's partial dW summed by colsum); 0 = the whole batch in one
                       * block. CLTRAIN_DW_BLOCK_KB overrides (benchmarks) */
    int fc_clblast;   /* 1: fully connected layers through CLBlast; 0: through gemm_nn/gemm_nt.
                       * CLTRAIN_FC=clblast|native overrides (for benchmarks) */
    int gpu_profile;  /* the profile these started from: 0 cpu, 1 gpu */
    char origin[24];  /* why that profile: "by device type", "--kernels", "CLTRAIN_KERNELS" */
    char tuned[200];  /* "" or where tuned values came from (see tune.h) */
} ct_tune;

typedef struct {
    const char *family; /* program family, e.g. "gemm" */
    const char *name;   /* kernel name */
    cl_ulong ns;        /* accumulated device time */
    unsigned calls;
} ct_prof_entry;

typedef struct ct_ctx {
    ct_device_info dev;
    cl_context context;
    cl_command_queue queue;
    ct_tune tune;
    int profiling;                   /* queue created with profiling; events recorded */
    /* programs built so far */
    struct ct_program *programs;
    int n_programs, cap_programs;
    double build_seconds;            /* total time spent building programs (incl. cache loads) */
    int cache_hits, cache_misses;
    /* device memory allocated through ct_buffer_create */
    unsigned long long bytes_allocated;
    /* profiling */
    cl_event *events;
    const char **event_names;
    int n_events, cap_events;
    ct_prof_entry *prof;
    int n_prof, cap_prof;
} ct_ctx;

/* Kernel profiles: the "cpu" or "gpu" set of tunables and code paths, whatever the device type.
 * Chosen by ct_kernels_request (the --kernels flag), else CLTRAIN_KERNELS, else the device type
 * (CPU and other: cpu; GPU, integrated GPU, accelerator: gpu). Bad names are CT_ERR_USAGE. */
int ct_kernels_request(const char *profile);
/* The defaults of one profile on device d (no environment overrides). */
void ct_tune_profile(const ct_device_info *d, int gpu, ct_tune *t);
/* Every tunable as "name=value ..." (the -D options and code paths). */
int ct_tune_format(const ct_tune *t, char *buf, size_t cap);
/* "kernels: gpu profile (CLTRAIN_KERNELS)[, tuned: ...]: gemm_tm=4 ..." for c. */
void ct_tune_describe(const struct ct_ctx *c, char *buf, size_t cap);

/* Use of the values `cltrain tune` cached for the device (CLTRAIN_NO_TUNE=1 ignores the cache):
 * CT_TUNE_CACHE_NETWORK (train, bench, evaluate, predict): ct_tune_apply_network applies those
 * tuned for the network run; CT_TUNE_CACHE_NEWEST (verify --tuned): ct_ctx_create applies the
 * newest of the profile. */
enum { CT_TUNE_CACHE_OFF = 0, CT_TUNE_CACHE_NETWORK = 1, CT_TUNE_CACHE_NEWEST = 2 };
void ct_tune_use_cache(int mode);
int ct_tune_cache_mode(void);
/* Replaces c's tunables; programs built with other options are rebuilt on next use.
 * Drops recorded profiling events and totals (ct_prof_reset). */
int ct_ctx_set_tune(struct ct_ctx *c, const ct_tune *t);

/* Opens the device chosen by selector `sel` (see ct_device_select). */
int ct_ctx_create(const char *sel, int profiling, ct_ctx **out);
/* 1 when the driver keeps its own on-disk cache of builds and of the kernels it compiles at first
 * launch, shared by every context of every process (POCL unless POCL_KERNEL_CACHE=0). */
int ct_driver_caches_builds(const ct_ctx *c);
void ct_ctx_free(ct_ctx *c);
/* Lowers tune.red_ls (the work-group size of the reduction kernels, compiled in as RED_LS) to
 * the largest power of two that every compiled reduction kernel accepts
 * (CL_KERNEL_WORK_GROUP_SIZE, which may be below the device's maximum). Programs built with the
 * old size are dropped. ct_ctx_create calls it; call it again after changing tune.red_ls. */
int ct_ctx_fit_reductions(ct_ctx *c);

/* Returns the kernel `name` from program family `family` (built on first use with the
 * device's tunables as -D options; extra_opts appended). Kernels are owned by the ctx. */
int ct_kernel(ct_ctx *c, const char *family, const char *name, cl_kernel *out);

/* Builds program family `family` now if it is not built yet (ct_kernel builds on first use). */
int ct_program_build(ct_ctx *c, const char *family);

/* Sets arguments from a format string and enqueues an NDRange. Format characters:
 * 'm' cl_mem, 'i' int, 'u' unsigned, 'l' long long, 'f' float (passed as double),
 * 'L' local memory of N bytes (size_t). global sizes are rounded up to a multiple of local. */
int ct_run(ct_ctx *c, cl_kernel k, int dims, const size_t *global, const size_t *local, const char *fmt, ...);

/* Named device buffers: failures say what, how much, and what the device has. */
int ct_buffer_create(ct_ctx *c, size_t bytes, const char *what, cl_mem *out);
int ct_buffer_write(ct_ctx *c, cl_mem b, size_t offset, size_t bytes, const void *src);
int ct_buffer_read(ct_ctx *c, cl_mem b, size_t offset, size_t bytes, void *dst);
int ct_buffer_fill_zero(ct_ctx *c, cl_mem b, size_t offset, size_t bytes);
/* every float of b in [offset, offset + floats * 4) = value (offset a multiple of 4) */
int ct_buffer_fill_float(ct_ctx *c, cl_mem b, size_t offset, size_t floats, float value);
int ct_finish(ct_ctx *c);

/* Profiling: after ct_finish, fold recorded events into c->prof (per kernel totals). */
int ct_prof_collect(ct_ctx *c);
void ct_prof_reset(ct_ctx *c);
void ct_prof_record(ct_ctx *c, cl_event ev, const char *name); /* takes ownership of ev */

/* Where program binaries are cached ("" when caching is off). */
const char *ct_cache_dir(char *buf, size_t cap);

#endif
