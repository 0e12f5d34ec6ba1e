/* clctx.c: OpenCL context/queue, program build with an on-disk binary cache, kernel launches. */
#define _POSIX_C_SOURCE 200809L
#include "clctx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "embedded.h"
#include "tune.h"

const char *ct_cl_errstr(cl_int e)
{
    switch (e) {
#define E(x) case x: return #x;
    E(CL_SUCCESS) E(CL_DEVICE_NOT_FOUND) E(CL_DEVICE_NOT_AVAILABLE) E(CL_COMPILER_NOT_AVAILABLE)
    E(CL_MEM_OBJECT_ALLOCATION_FAILURE) E(CL_OUT_OF_RESOURCES) E(CL_OUT_OF_HOST_MEMORY)
    E(CL_PROFILING_INFO_NOT_AVAILABLE) E(CL_MEM_COPY_OVERLAP) E(CL_IMAGE_FORMAT_MISMATCH)
    E(CL_IMAGE_FORMAT_NOT_SUPPORTED) E(CL_BUILD_PROGRAM_FAILURE) E(CL_MAP_FAILURE)
    E(CL_MISALIGNED_SUB_BUFFER_OFFSET) E(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    E(CL_COMPILE_PROGRAM_FAILURE) E(CL_LINKER_NOT_AVAILABLE) E(CL_LINK_PROGRAM_FAILURE)
    E(CL_DEVICE_PARTITION_FAILED) E(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) E(CL_INVALID_VALUE)
    E(CL_INVALID_DEVICE_TYPE) E(CL_INVALID_PLATFORM) E(CL_INVALID_DEVICE) E(CL_INVALID_CONTEXT)
    E(CL_INVALID_QUEUE_PROPERTIES) E(CL_INVALID_COMMAND_QUEUE) E(CL_INVALID_HOST_PTR)
    E(CL_INVALID_MEM_OBJECT) E(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) E(CL_INVALID_IMAGE_SIZE)
    E(CL_INVALID_SAMPLER) E(CL_INVALID_BINARY) E(CL_INVALID_BUILD_OPTIONS) E(CL_INVALID_PROGRAM)
    E(CL_INVALID_PROGRAM_EXECUTABLE) E(CL_INVALID_KERNEL_NAME) E(CL_INVALID_KERNEL_DEFINITION)
    E(CL_INVALID_KERNEL) E(CL_INVALID_ARG_INDEX) E(CL_INVALID_ARG_VALUE) E(CL_INVALID_ARG_SIZE)
    E(CL_INVALID_KERNEL_ARGS) E(CL_INVALID_WORK_DIMENSION) E(CL_INVALID_WORK_GROUP_SIZE)
    E(CL_INVALID_WORK_ITEM_SIZE) E(CL_INVALID_GLOBAL_OFFSET) E(CL_INVALID_EVENT_WAIT_LIST)
    E(CL_INVALID_EVENT) E(CL_INVALID_OPERATION) E(CL_INVALID_GL_OBJECT) E(CL_INVALID_BUFFER_SIZE)
    E(CL_INVALID_MIP_LEVEL) E(CL_INVALID_GLOBAL_WORK_SIZE) E(CL_INVALID_PROPERTY)
#undef E
    default: return "unknown OpenCL error";
    }
}

/* Program families: the .cl files (in order) that make up one program. */
static const struct {
    const char *family;
    const char *sources[4];
} families[] = {
    {"gemm", {"common", "gemm"}},         {"conv", {"common", "conv"}},
    {"batchnorm", {"common", "batchnorm"}}, {"pool", {"common", "pool"}},
    {"act", {"common", "activation"}},    {"dropout", {"common", "rng", "dropout"}},
    {"loss", {"common", "loss"}},         {"optim", {"common", "optim"}},
    {"reduce", {"common", "reduce"}},     {"augment", {"common", "rng", "augment"}},
    {"elementwise", {"common", "elementwise"}}, {"flatten", {"common", "flatten"}},
    {"convfused", {"common", "convfused"}}, {"convstrided", {"common", "convstrided"}},
    {"bnpool", {"common", "pool", "bnpool"}},
};

struct ct_program {
    char family[32];
    char opts[512]; /* the build options it was built with */
    cl_program program;
    struct {
        char name[64];
        cl_kernel k;
    } kernels[32];
    int n_kernels;
};

/* The profile asked for by --kernels (ct_kernels_request); "" = none. */
static char requested_profile[8];
/* CT_TUNE_CACHE_*: which values cached by `cltrain tune` are applied (ct_tune_use_cache) */
static int use_tuned_cache;

void ct_tune_use_cache(int mode) { use_tuned_cache = mode; }
int ct_tune_cache_mode(void) { return use_tuned_cache; }

int ct_kernels_request(const char *profile)
{
    if (!profile || (strcmp(profile, "cpu") != 0 && strcmp(profile, "gpu") != 0))
        return ct_fail(CT_ERR_USAGE, "--kernels '%s': the kernel profile is 'cpu' or 'gpu'", profile ? profile : "");
    snprintf(requested_profile, sizeof requested_profile, "%s", profile);
    return CT_OK;
}

void ct_tune_profile(const ct_device_info *d, int gpu, ct_tune *t)
{
    memset(t, 0, sizeof *t);
    t->gpu_profile = gpu;
    if (!gpu) {
        /* POCL and other CPU drivers: explicit wide vectors, register blocking, tiny groups */
        t->gemm_tm = 8;
        t->gemm_vw = 16;
        t->gemm_nv = 2;
        t->gemm_row_loop = 1;
        t->conv_panels = 1;
        t->conv_direct = 7;
        t->dw_block_kb = 512;
        t->gemm_nt_kc = 2048;
        t->gemm_nt_tm = 2;
        t->gemm_nt_tn = 8;
        t->gemm_nt_vw = 16;
        t->ew_vw = 16;
        t->red_ls = 1;
        t->gemm_local[0] = 1;
        t->gemm_local[1] = 1;
    } else {
        /* GPUs and accelerators: many work-items, small per-item tiles */
        t->gemm_tm = 4;
        t->gemm_vw = 4;
        t->gemm_nv = 1;
        t->gemm_row_loop = 0;
        t->conv_panels = 0;
        t->conv_direct = 0;
        t->gemm_nt_kc = 0;
        t->gemm_nt_tm = 2;
        t->gemm_nt_tn = 2;
        t->gemm_nt_vw = 4;
        t->ew_vw = 4;
        /* at most 256 and the device's limit; ct_ctx_fit_reductions then checks the kernels' own */
        t->red_ls = 1;
        while (t->red_ls < 256 && (size_t)t->red_ls * 2 <= d->max_wg_size) t->red_ls *= 2;
        t->gemm_local[0] = 16;
        t->gemm_local[1] = 8;
    }
    /* FC layers: on CPUs our register-blocked gemm kernels beat untuned CLBlast (measured on
     * POCL 3.1: ~12% more training images/s overall); CLBlast stays the default on GPUs */
    t->fc_clblast = gpu;
}

/* The profile (--kernels, else CLTRAIN_KERNELS, else by device type), its defaults, then the
 * benchmark overrides CLTRAIN_CONV_DIRECT and CLTRAIN_FC. */
static int tune_defaults(const ct_device_info *d, ct_tune *t)
{
    const char *env = getenv("CLTRAIN_KERNELS");
    int gpu = !(d->kind == CT_DEV_CPU || d->kind == CT_DEV_OTHER);
    const char *why = "by device type";
    if (requested_profile[0]) {
        gpu = strcmp(requested_profile, "gpu") == 0;
        why = "--kernels";
    } else if (env && *env) {
        if (strcmp(env, "cpu") != 0 && strcmp(env, "gpu") != 0)
            return ct_fail(CT_ERR_USAGE, "CLTRAIN_KERNELS='%s': the kernel profile is 'cpu' or 'gpu'", env);
        gpu = strcmp(env, "gpu") == 0;
        why = "CLTRAIN_KERNELS";
    }
    ct_tune_profile(d, gpu, t);
    snprintf(t->origin, sizeof t->origin, "%s", why);
    const char *cd = getenv("CLTRAIN_CONV_DIRECT"); /* 0..7: conv_direct override (benchmarks) */
    if (cd && *cd) t->conv_direct = atoi(cd);
    const char *ts = getenv("CLTRAIN_CONV_TILE"); /* 1..6: force a direct-conv tile (benchmarks) */
    if (ts && *ts) t->conv_tile = atoi(ts);
    const char *db = getenv("CLTRAIN_DW_BLOCK_KB"); /* KiB of dyT per image block of dW, 0 = one block */
    if (db && *db) t->dw_block_kb = atoi(db);
    const char *fc = getenv("CLTRAIN_FC");
    if (fc && !strcmp(fc, "native")) t->fc_clblast = 0;
    if (fc && !strcmp(fc, "clblast")) t->fc_clblast = 1;
    return CT_OK;
}

int ct_tune_format(const ct_tune *t, char *buf, size_t cap)
{
    return snprintf(buf, cap,
                    "gemm_tm=%d gemm_vw=%d gemm_nv=%d gemm_row_loop=%d gemm_local=%zux%zu gemm_nt_tm=%d "
                    "gemm_nt_tn=%d gemm_nt_vw=%d gemm_nt_kc=%d conv_panels=%d conv_direct=%d ew_vw=%d red_ls=%d "
                    "fc=%s",
                    t->gemm_tm, t->gemm_vw, t->gemm_nv, t->gemm_row_loop, t->gemm_local[0], t->gemm_local[1],
                    t->gemm_nt_tm, t->gemm_nt_tn, t->gemm_nt_vw, t->gemm_nt_kc, t->conv_panels, t->conv_direct,
                    t->ew_vw, t->red_ls, t->fc_clblast ? "clblast" : "gemm");
}

void ct_tune_describe(const ct_ctx *c, char *buf, size_t cap)
{
    char vals[512];
    ct_tune_format(&c->tune, vals, sizeof vals);
    snprintf(buf, cap, "kernels: %s profile (%s)%s%s: %s", c->tune.gpu_profile ? "gpu" : "cpu", c->tune.origin,
             c->tune.tuned[0] ? ", tuned: " : "", c->tune.tuned, vals);
}

int ct_ctx_create(const char *sel, int profiling, ct_ctx **out)
{
    *out = NULL;
    ct_ctx *c = calloc(1, sizeof *c);
    if (!c) return ct_fail(CT_ERR_NOMEM, "out of memory");
    int rc = ct_device_select(sel, &c->dev);
    if (rc) {
        free(c);
        return rc;
    }
    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->dev.platform, 0};
    c->context = clCreateContext(props, 1, &c->dev.device, NULL, NULL, &err);
    if (!c->context) {
        rc = ct_fail(CT_ERR_RUNTIME, "cannot create an OpenCL context on '%s': %s", c->dev.name, ct_cl_errstr(err));
        free(c);
        return rc;
    }
    c->profiling = profiling;
    c->queue = clCreateCommandQueue(c->context, c->dev.device, profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (!c->queue) {
        rc = ct_fail(CT_ERR_RUNTIME, "cannot create a command queue on '%s': %s", c->dev.name, ct_cl_errstr(err));
        clReleaseContext(c->context);
        free(c);
        return rc;
    }
    rc = tune_defaults(&c->dev, &c->tune);
    if (rc == CT_OK && use_tuned_cache == CT_TUNE_CACHE_NEWEST) rc = ct_tune_apply_cached(c);
    if (rc == CT_OK) rc = ct_ctx_fit_reductions(c);
    if (rc) {
        ct_ctx_free(c);
        return rc;
    }
    char desc[1024];
    ct_tune_describe(c, desc, sizeof desc);
    ct_debug("%s\n", desc);
    *out = c;
    return CT_OK;
}

static void release_programs(ct_ctx *c)
{
    for (int i = 0; i < c->n_programs; i++) {
        for (int k = 0; k < c->programs[i].n_kernels; k++) clReleaseKernel(c->programs[i].kernels[k].k);
        clReleaseProgram(c->programs[i].program);
    }
    c->n_programs = 0;
}

int ct_ctx_fit_reductions(ct_ctx *c)
{
    static const char *const red[][2] = {
        {"reduce", "rowsum"}, {"batchnorm", "bn_stats"}, {"batchnorm", "bn_bwd_reduce"}, {"loss", "xent_fwd_bwd"}};
    while (c->tune.red_ls > 1) {
        size_t lim = (size_t)c->tune.red_ls;
        for (size_t i = 0; i < sizeof red / sizeof red[0]; i++) {
            cl_kernel k;
            size_t w = 0;
            CT_TRY(ct_kernel(c, red[i][0], red[i][1], &k));
            CL_CHECK(clGetKernelWorkGroupInfo(k, c->dev.device, CL_KERNEL_WORK_GROUP_SIZE, sizeof w, &w, NULL));
            if (w < lim) lim = w;
        }
        if (lim >= (size_t)c->tune.red_ls) return CT_OK;
        int ls = 1;
        while ((size_t)ls * 2 <= lim) ls *= 2;
        ct_debug("reductions: work-group size %d -> %d (CL_KERNEL_WORK_GROUP_SIZE %zu)\n", c->tune.red_ls, ls, lim);
        release_programs(c); /* built with the old RED_LS; rebuilt on demand */
        c->tune.red_ls = ls;
    }
    return CT_OK;
}

/* -D options of a program family: the GEMM tiles go only to the gemm family (so tuning them
 * rebuilds one program), the elementwise width and reduction group size to every family. */
static void options_for(const ct_tune *t, const char *family, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "-cl-std=CL1.2 -DEW_VW=%d -DRED_LS=%d", t->ew_vw, t->red_ls);
    if (strcmp(family, "gemm") == 0 && n > 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, " -DTM=%d -DVW=%d -DNV=%d -DNT_TM=%d -DNT_TN=%d -DNT_VW=%d", t->gemm_tm,
                 t->gemm_vw, t->gemm_nv, t->gemm_nt_tm, t->gemm_nt_tn, t->gemm_nt_vw);
}

int ct_ctx_set_tune(ct_ctx *c, const ct_tune *t)
{
    CL_CHECK(clFinish(c->queue));
    c->tune = *t;
    /* programs whose options changed are dropped (rebuilt on next use); recorded profiling
     * events and totals name kernels by the program table's strings, so they are dropped too */
    ct_prof_reset(c);
    int keep = 0;
    for (int i = 0; i < c->n_programs; i++) {
        char opts[512];
        options_for(&c->tune, c->programs[i].family, opts, sizeof opts);
        if (strcmp(opts, c->programs[i].opts) == 0) {
            c->programs[keep++] = c->programs[i];
            continue;
        }
        for (int k = 0; k < c->programs[i].n_kernels; k++) clReleaseKernel(c->programs[i].kernels[k].k);
        clReleaseProgram(c->programs[i].program);
    }
    c->n_programs = keep;
    return CT_OK;
}

void ct_ctx_free(ct_ctx *c)
{
    if (!c) return;
    if (c->queue) clFinish(c->queue);
    for (int i = 0; i < c->n_events; i++) clReleaseEvent(c->events[i]);
    free(c->events);
    free(c->event_names);
    free(c->prof);
    for (int i = 0; i < c->n_programs; i++) {
        for (int k = 0; k < c->programs[i].n_kernels; k++) clReleaseKernel(c->programs[i].kernels[k].k);
        clReleaseProgram(c->programs[i].program);
    }
    free(c->programs);
    if (c->queue) clReleaseCommandQueue(c->queue);
    if (c->context) clReleaseContext(c->context);
    free(c);
}

const char *ct_cache_dir(char *buf, size_t cap)
{
    const char *off = getenv("CLTRAIN_NO_CACHE");
    if (off && *off && strcmp(off, "0") != 0) {
        buf[0] = 0;
        return buf;
    }
    const char *d = getenv("CLTRAIN_CACHE_DIR");
    if (d && *d)
        snprintf(buf, cap, "%s", d);
    else if ((d = getenv("XDG_CACHE_HOME")) && *d)
        snprintf(buf, cap, "%s/cltrain", d);
    else if ((d = getenv("HOME")) && *d)
        snprintf(buf, cap, "%s/.cache/cltrain", d);
    else
        buf[0] = 0;
    return buf;
}

/* Source text of one .cl file: embedded, or from CLTRAIN_KERNEL_DIR for kernel development. */
static int source_text(const char *name, char **out)
{
    const char *dir = getenv("CLTRAIN_KERNEL_DIR");
    if (dir && *dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        unsigned char *data;
        size_t len;
        int rc = ct_read_file(path, 16u << 20, &data, &len);
        if (rc) return ct_fail_ctx(CT_ERR_RUNTIME, "CLTRAIN_KERNEL_DIR is set but the kernel source is missing");
        *out = (char *)data;
        return CT_OK;
    }
    for (const ct_embedded_source *e = ct_embedded_sources; e->name; e++) {
        if (strcmp(e->name, name) == 0) {
            *out = malloc(*e->len + 1);
            if (!*out) return ct_fail(CT_ERR_NOMEM, "out of memory");
            memcpy(*out, e->source, *e->len);
            (*out)[*e->len] = 0;
            return CT_OK;
        }
    }
    return ct_fail(CT_ERR_RUNTIME, "kernel source cl/%s.cl is not embedded in this build", name);
}

static int build_log_fail(ct_ctx *c, cl_program p, const char *family, cl_int err)
{
    size_t n = 0;
    clGetProgramBuildInfo(p, c->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(p, c->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
        fprintf(stderr, "---- OpenCL build log for program '%s' on %s ----\n%s\n---- end of build log ----\n", family,
                c->dev.name, log);
        free(log);
    }
    return ct_fail(CT_ERR_RUNTIME, "building OpenCL program '%s' for '%s' failed: %s (build log above)", family,
                   c->dev.name, ct_cl_errstr(err));
}

/* 1 when the driver keeps its own on-disk cache of program builds, so that ours adds nothing:
 * POCL (unless POCL_KERNEL_CACHE=0) caches every build by source and options, and the kernels it
 * compiles at first launch. Asking POCL for the program binary makes it first compile every
 * kernel of the program for dynamic work-group sizes, code no launch uses: in a first DigitCNN
 * run that took about as much CPU time as everything else the run compiled. */
int ct_driver_caches_builds(const ct_ctx *c)
{
    if (!strstr(c->dev.platform_name, "Portable Computing Language")) return 0;
    const char *e = getenv("POCL_KERNEL_CACHE");
    return !(e && *e && strcmp(e, "0") == 0);
}

static int build_program(ct_ctx *c, const char *family, cl_program *out)
{
    int fi = -1;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (strcmp(families[i].family, family) == 0) fi = (int)i;
    if (fi < 0) return ct_fail(CT_ERR_RUNTIME, "unknown kernel family '%s'", family);
    /* concatenate the sources */
    char *src = NULL;
    size_t srclen = 0;
    for (int s = 0; s < 4 && families[fi].sources[s]; s++) {
        char *part;
        int rc = source_text(families[fi].sources[s], &part);
        if (rc) {
            free(src);
            return rc;
        }
        size_t pl = strlen(part);
        char *g = realloc(src, srclen + pl + 2);
        if (!g) {
            free(part);
            free(src);
            return ct_fail(CT_ERR_NOMEM, "out of memory");
        }
        src = g;
        memcpy(src + srclen, part, pl);
        srclen += pl;
        src[srclen++] = '\n';
        src[srclen] = 0;
        free(part);
    }
    char opts[512];
    options_for(&c->tune, family, opts, sizeof opts);
    double t0 = ct_now();

    /* cache key: source, options, device, driver, platform, our version */
    char cdir[3500], path[4096] = "";
    ct_cache_dir(cdir, sizeof cdir);
    if (cdir[0]) {
        uint64_t h1 = ct_hash64(src, srclen, 1), h2 = ct_hash64(src, srclen, 2);
        const char *parts[] = {opts, c->dev.name, c->dev.driver_version, c->dev.platform_name,
                               c->dev.platform_version, c->dev.device_version, CLTRAIN_VERSION};
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
            h1 = ct_hash64(parts[i], strlen(parts[i]), h1);
            h2 = ct_hash64(parts[i], strlen(parts[i]), h2 ^ 0x5bd1e995);
        }
        snprintf(path, sizeof path, "%s/%s-%016llx%016llx.bin", cdir, family, (unsigned long long)h1,
                 (unsigned long long)h2);
        unsigned char *bin;
        size_t binlen;
        FILE *probe = fopen(path, "rb");
        if (probe) {
            fclose(probe);
            if (ct_read_file(path, 256u << 20, &bin, &binlen) == CT_OK && binlen > 0) {
                cl_int berr, st;
                const unsigned char *bp = bin;
                cl_program p = clCreateProgramWithBinary(c->context, 1, &c->dev.device, &binlen, &bp, &st, &berr);
                if (p && berr == CL_SUCCESS && st == CL_SUCCESS &&
                    clBuildProgram(p, 1, &c->dev.device, opts, NULL, NULL) == CL_SUCCESS) {
                    free(bin);
                    free(src);
                    c->cache_hits++;
                    double dt = ct_now() - t0;
                    c->build_seconds += dt;
                    ct_debug("program %s: loaded from cache in %.3f s\n", family, dt);
                    *out = p;
                    return CT_OK;
                }
                if (p) clReleaseProgram(p);
                free(bin);
                ct_debug("program %s: cached binary rejected, rebuilding\n", family);
            }
        }
    }
    cl_int err;
    const char *srcp = src;
    cl_program p = clCreateProgramWithSource(c->context, 1, &srcp, &srclen, &err);
    if (!p) {
        free(src);
        return ct_fail(CT_ERR_RUNTIME, "clCreateProgramWithSource(%s) failed: %s", family, ct_cl_errstr(err));
    }
    free(src);
    err = clBuildProgram(p, 1, &c->dev.device, opts, NULL, NULL);
    if (err != CL_SUCCESS) {
        int rc = build_log_fail(c, p, family, err);
        clReleaseProgram(p);
        return rc;
    }
    double dt = ct_now() - t0;
    c->build_seconds += dt;
    c->cache_misses++;
    ct_debug("program %s: compiled in %.3f s\n", family, dt);
    if (path[0] && !ct_driver_caches_builds(c)) {
        size_t binlen = 0;
        if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof binlen, &binlen, NULL) == CL_SUCCESS && binlen > 0) {
            unsigned char *bin = malloc(binlen);
            if (bin && clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS) {
                if (ct_mkdirs(cdir) != CT_OK || ct_write_file_atomic(path, bin, binlen) != CT_OK)
                    ct_debug("program cache not written: %s\n", ct_last_error());
                ct_clear_error();
            }
            free(bin);
        }
    }
    *out = p;
    return CT_OK;
}

static int program_of(ct_ctx *c, const char *family, struct ct_program **out)
{
    struct ct_program *pr = NULL;
    for (int i = 0; i < c->n_programs; i++)
        if (strcmp(c->programs[i].family, family) == 0) pr = &c->programs[i];
    if (!pr) {
        if (c->n_programs == c->cap_programs) {
            int ncap = c->cap_programs ? c->cap_programs * 2 : 16;
            struct ct_program *g = realloc(c->programs, (size_t)ncap * sizeof *g);
            if (!g) return ct_fail(CT_ERR_NOMEM, "out of memory");
            c->programs = g;
            c->cap_programs = ncap;
        }
        cl_program p;
        CT_TRY(build_program(c, family, &p));
        pr = &c->programs[c->n_programs++];
        memset(pr, 0, sizeof *pr);
        snprintf(pr->family, sizeof pr->family, "%s", family);
        options_for(&c->tune, family, pr->opts, sizeof pr->opts);
        pr->program = p;
    }
    *out = pr;
    return CT_OK;
}

int ct_program_build(ct_ctx *c, const char *family)
{
    struct ct_program *pr;
    return program_of(c, family, &pr);
}

int ct_kernel(ct_ctx *c, const char *family, const char *name, cl_kernel *out)
{
    struct ct_program *pr;
    CT_TRY(program_of(c, family, &pr));
    for (int k = 0; k < pr->n_kernels; k++)
        if (strcmp(pr->kernels[k].name, name) == 0) {
            *out = pr->kernels[k].k;
            return CT_OK;
        }
    if (pr->n_kernels == (int)(sizeof pr->kernels / sizeof pr->kernels[0]))
        return ct_fail(CT_ERR_RUNTIME, "too many kernels in program '%s'", family);
    cl_int err;
    cl_kernel k = clCreateKernel(pr->program, name, &err);
    if (!k)
        return ct_fail(CT_ERR_RUNTIME, "kernel '%s' not found in program '%s': %s", name, family, ct_cl_errstr(err));
    snprintf(pr->kernels[pr->n_kernels].name, sizeof pr->kernels[0].name, "%s", name);
    pr->kernels[pr->n_kernels++].k = k;
    *out = k;
    return CT_OK;
}

static const char *kernel_name(cl_kernel k, char *buf, size_t cap)
{
    buf[0] = 0;
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, cap, buf, NULL);
    buf[cap - 1] = 0;
    return buf;
}

void ct_prof_record(ct_ctx *c, cl_event ev, const char *name)
{
    if (c->n_events == c->cap_events) {
        int ncap = c->cap_events ? c->cap_events * 2 : 256;
        cl_event *g = realloc(c->events, (size_t)ncap * sizeof *g);
        const char **gn = realloc(c->event_names, (size_t)ncap * sizeof *gn);
        if (g) c->events = g;
        if (gn) c->event_names = gn;
        if (!g || !gn) {
            clReleaseEvent(ev);
            return;
        }
        c->cap_events = ncap;
    }
    c->events[c->n_events] = ev;
    c->event_names[c->n_events++] = name;
}

/* CPU profile, launches that leave the local size to the driver: POCL compiles a kernel again for
 * every local size it runs with (and picks a divisor of the global size, so each batch size gave
 * new ones: 55 compiles in a first DigitCNN run). Here 1-D launches always take 256 (a size that
 * followed the global size up to that cap compiled conv_pad, conv_wt, bias_act_fwd, conv_fold
 * and batch_prepare twice and colsum three times in a first run; a launch under 256 runs as one
 * work-group either way); 2-D ones take a power of two up to 64 along dimension 0 by its global
 * size (a fixed 64 would multiply a narrow launch's work-items) and 1 along the other. Every such
 * kernel ignores the work-items past its range (the GPU profile rounds the same way). */
static const size_t *pinned_local(int dims, const size_t *global, size_t *l)
{
    l[0] = dims == 1 ? 256 : 1;
    while (dims > 1 && l[0] < 64 && l[0] < global[0]) l[0] *= 2;
    for (int d = 1; d < dims; d++) l[d] = 1;
    return l;
}

int ct_run(ct_ctx *c, cl_kernel k, int dims, const size_t *global, const size_t *local, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl_uint idx = 0;
    cl_int err = CL_SUCCESS;
    for (const char *f = fmt; *f && err == CL_SUCCESS; f++, idx++) {
        switch (*f) {
        case 'm': {
            cl_mem m = va_arg(ap, cl_mem);
            err = clSetKernelArg(k, idx, sizeof m, &m);
            break;
        }
        case 'i': {
            cl_int v = va_arg(ap, int);
            err = clSetKernelArg(k, idx, sizeof v, &v);
            break;
        }
        case 'u': {
            cl_uint v = va_arg(ap, unsigned);
            err = clSetKernelArg(k, idx, sizeof v, &v);
            break;
        }
        case 'l': {
            cl_long v = va_arg(ap, long long);
            err = clSetKernelArg(k, idx, sizeof v, &v);
            break;
        }
        case 'f': {
            cl_float v = (cl_float)va_arg(ap, double);
            err = clSetKernelArg(k, idx, sizeof v, &v);
            break;
        }
        case 'L': {
            size_t bytes = va_arg(ap, size_t);
            err = clSetKernelArg(k, idx, bytes, NULL);
            break;
        }
        default:
            va_end(ap);
            return ct_fail(CT_ERR_RUNTIME, "ct_run: bad argument format '%c'", *f);
        }
    }
    va_end(ap);
    char kname[64];
    if (err != CL_SUCCESS)
        return ct_fail(CT_ERR_RUNTIME, "setting argument %u of kernel '%s' failed: %s", idx - 1,
                       kernel_name(k, kname, sizeof kname), ct_cl_errstr(err));
    size_t g[3], l[3], pinned[3];
    if (!local && !c->tune.gpu_profile) local = pinned_local(dims, global, pinned);
    int use_local = local != NULL;
    for (int d = 0; d < dims; d++) {
        if (global[d] == 0) return CT_OK; /* nothing to do */
        if (use_local) {
            l[d] = local[d] ? local[d] : 1;
            g[d] = (global[d] + l[d] - 1) / l[d] * l[d];
        } else {
            g[d] = global[d];
        }
    }
    cl_event ev = NULL;
    err = clEnqueueNDRangeKernel(c->queue, k, (cl_uint)dims, NULL, g, use_local ? l : NULL, 0, NULL,
                                 c->profiling ? &ev : NULL);
    if (err != CL_SUCCESS)
        return ct_fail(err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ? CT_ERR_NOMEM
                                                                                              : CT_ERR_RUNTIME,
                       "launching kernel '%s' (global %zu x %zu, local %zu x %zu) failed: %s",
                       kernel_name(k, kname, sizeof kname), g[0], dims > 1 ? g[1] : 1, use_local ? l[0] : 0,
                       use_local && dims > 1 ? l[1] : 0, ct_cl_errstr(err));
    if (ev) {
        /* the kernel name string must outlive the event: use the program table's copy */
        const char *stable = "kernel";
        kernel_name(k, kname, sizeof kname);
        for (int i = 0; i < c->n_programs; i++)
            for (int j = 0; j < c->programs[i].n_kernels; j++)
                if (c->programs[i].kernels[j].k == k) stable = c->programs[i].kernels[j].name;
        ct_prof_record(c, ev, stable);
    }
    return CT_OK;
}

int ct_buffer_create(ct_ctx *c, size_t bytes, const char *what, cl_mem *out)
{
    *out = NULL;
    if (bytes == 0) bytes = 16;
    if ((unsigned long long)bytes > c->dev.max_alloc)
        return ct_fail(CT_ERR_NOMEM,
                       "allocating %s: %.1f MiB is more than the largest single allocation '%s' allows "
                       "(%.1f MiB); reduce training.batch_size",
                       what, bytes / 1048576.0, c->dev.name, c->dev.max_alloc / 1048576.0);
    cl_int err;
    cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (!m)
        return ct_fail(CT_ERR_NOMEM,
                       "allocating %s (%.1f MiB) on '%s' failed: %s; %.1f MiB already allocated of %.1f MiB; "
                       "reduce training.batch_size",
                       what, bytes / 1048576.0, c->dev.name, ct_cl_errstr(err), c->bytes_allocated / 1048576.0,
                       c->dev.global_mem / 1048576.0);
    c->bytes_allocated += bytes;
    *out = m;
    return CT_OK;
}

int ct_buffer_write(ct_ctx *c, cl_mem b, size_t offset, size_t bytes, const void *src)
{
    if (!bytes) return CT_OK;
    CL_CHECK(clEnqueueWriteBuffer(c->queue, b, CL_TRUE, offset, bytes, src, 0, NULL, NULL));
    return CT_OK;
}

int ct_buffer_read(ct_ctx *c, cl_mem b, size_t offset, size_t bytes, void *dst)
{
    if (!bytes) return CT_OK;
    CL_CHECK(clEnqueueReadBuffer(c->queue, b, CL_TRUE, offset, bytes, dst, 0, NULL, NULL));
    return CT_OK;
}

int ct_buffer_fill_float(ct_ctx *c, cl_mem b, size_t offset, size_t floats, float value)
{
    if (!floats) return CT_OK;
    CL_CHECK(clEnqueueFillBuffer(c->queue, b, &value, sizeof value, offset, floats * sizeof value, 0, NULL, NULL));
    return CT_OK;
}

int ct_buffer_fill_zero(ct_ctx *c, cl_mem b, size_t offset, size_t bytes)
{
    if (!bytes) return CT_OK;
    if (offset % 4 == 0 && bytes % 4 == 0) return ct_buffer_fill_float(c, b, offset, bytes / 4, 0.0f);
    unsigned char z = 0;
    CL_CHECK(clEnqueueFillBuffer(c->queue, b, &z, 1, offset, bytes, 0, NULL, NULL));
    return CT_OK;
}

int ct_finish(ct_ctx *c)
{
    CL_CHECK(clFinish(c->queue));
    return CT_OK;
}

void ct_prof_reset(ct_ctx *c)
{
    for (int i = 0; i < c->n_events; i++) clReleaseEvent(c->events[i]);
    c->n_events = 0;
    c->n_prof = 0;
}

int ct_prof_collect(ct_ctx *c)
{
    for (int i = 0; i < c->n_events; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(c->events[i], CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        clReleaseEvent(c->events[i]);
        const char *name = c->event_names[i];
        int j;
        for (j = 0; j < c->n_prof; j++)
            if (strcmp(c->prof[j].name, name) == 0) break;
        if (j == c->n_prof) {
            if (c->n_prof == c->cap_prof) {
                int ncap = c->cap_prof ? c->cap_prof * 2 : 64;
                ct_prof_entry *g = realloc(c->prof, (size_t)ncap * sizeof *g);
                if (!g) continue;
                c->prof = g;
                c->cap_prof = ncap;
            }
            c->prof[j].family = "";
            c->prof[j].name = name;
            c->prof[j].ns = 0;
            c->prof[j].calls = 0;
            c->n_prof++;
        }
        c->prof[j].ns += t1 > t0 ? t1 - t0 : 0;
        c->prof[j].calls++;
    }
    c->n_events = 0;
    return CT_OK;
}
