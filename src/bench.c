/* bench.c: see bench.h. Synthetic images (throughput does not depend on pixel values). */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist/dist.h"
#include "tune.h"

/* one kernel of every program family, to build them all */
static const char *const every_family[][2] = {
    {"gemm", "gemm_nn"},         {"conv", "conv_im2col"}, {"batchnorm", "bn_apply"}, {"pool", "maxpool2_fwd"},
    {"act", "relu_fwd"},         {"dropout", "dropout_mask"}, {"loss", "xent_fwd_bwd"}, {"optim", "adam_step"},
    {"reduce", "rowsum"},        {"augment", "batch_prepare"},
};

static int build_all(const char *sel, int use_cache, double *seconds)
{
    const char *prev = getenv("CLTRAIN_NO_CACHE");
    char *saved = prev ? strdup(prev) : NULL;
    if (!use_cache) setenv("CLTRAIN_NO_CACHE", "1", 1);
    ct_ctx *c = NULL;
    int rc = ct_ctx_create(sel, 0, &c);
    double t0 = ct_now();
    for (size_t i = 0; rc == CT_OK && i < sizeof every_family / sizeof every_family[0]; i++) {
        cl_kernel k;
        rc = ct_kernel(c, every_family[i][0], every_family[i][1], &k);
    }
    *seconds = ct_now() - t0;
    if (c) ct_ctx_free(c);
    if (saved) {
        setenv("CLTRAIN_NO_CACHE", saved, 1);
        free(saved);
    } else {
        unsetenv("CLTRAIN_NO_CACHE");
    }
    return rc;
}

static void fill_batch(float *x, int32_t *t, int n, size_t per, int classes)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)n * per; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) * (1.0f / 16777216.0f) * 3.0f - 0.42f;
    }
    for (int i = 0; i < n; i++) t[i] = i % classes;
}

/* folds the recorded events of `runs` runs into a per-kernel table sorted by time; returns the
 * device ms per run */
static double collect_table(ct_ctx *c, int runs, ct_bench_kernel *kt, int *n)
{
    ct_prof_collect(c);
    double total = 0;
    for (int i = 0; i < c->n_prof; i++) total += (double)c->prof[i].ns;
    *n = 0;
    for (int i = 0; i < c->n_prof && *n < CT_BENCH_MAX_KERNELS; i++) {
        ct_bench_kernel *k = &kt[(*n)++];
        snprintf(k->name, sizeof k->name, "%s", c->prof[i].name);
        k->ms_per_step = (double)c->prof[i].ns / 1e6 / runs;
        k->share = total > 0 ? (double)c->prof[i].ns / total : 0;
        k->calls_per_step = c->prof[i].calls / (unsigned)runs;
    }
    for (int i = 1; i < *n; i++) /* largest first */
        for (int j = i; j > 0 && kt[j].ms_per_step > kt[j - 1].ms_per_step; j--) {
            ct_bench_kernel tmp = kt[j];
            kt[j] = kt[j - 1];
            kt[j - 1] = tmp;
        }
    return total / 1e6 / runs;
}

/* n eval-mode forwards + loss at batch N, unfused (every layer by itself) or not; adds the
 * seconds to *t when t is not NULL */
static int eval_batches(ct_ctx *c, ct_model *m, int N, int n, int unfused, double *t)
{
    m->unfused_eval = unfused;
    double t0 = ct_now();
    for (int i = 0; i < n; i++) {
        CT_TRY(ct_model_forward(m, N, 0, 0, 0));
        CT_TRY(ct_model_loss(m, N, 0));
    }
    CT_TRY(ct_finish(c));
    if (t) *t += ct_now() - t0;
    return CT_OK;
}

/* one training step; with several processes the gradients are summed over them as train does
 * (the time of read-back + allreduce + write added to *comm) */
static int dp_step(ct_model *m, int N, const ct_optim *opt, unsigned i, float *host, double *comm)
{
    if (ct_dist_size() == 1) return ct_model_train_step(m, N, opt, 1, i);
    CT_TRY(ct_model_forward(m, N, 1, 1, i));
    CT_TRY(ct_model_loss(m, N, 1));
    CT_TRY(ct_model_backward(m, N));
    CT_TRY(ct_finish(m->ctx));
    double t0 = ct_now();
    CT_TRY(ct_buffer_read(m->ctx, m->grads, 0, m->n_params * 4, host));
    CT_TRY(ct_dist_sum_f32(host, m->n_params));
    CT_TRY(ct_buffer_write(m->ctx, m->grads, 0, m->n_params * 4, host));
    *comm += ct_now() - t0;
    return ct_model_optim_step(m, opt);
}

static int plain_queue(ct_ctx *c, cl_command_queue *q)
{
    cl_int err;
    *q = clCreateCommandQueue(c->context, c->dev.device, 0, &err);
    if (!*q) return ct_fail(CT_ERR_RUNTIME, "cannot create a command queue on '%s': %s", c->dev.name, ct_cl_errstr(err));
    return CT_OK;
}

int ct_bench_run(const char *sel, const ct_bench_opts *o, ct_bench_result *r)
{
    memset(r, 0, sizeof *r);
    CT_TRY(build_all(sel, 0, &r->build_cold_seconds));
    double ignore;
    CT_TRY(build_all(sel, 1, &ignore)); /* fills the cache when it was empty */
    CT_TRY(build_all(sel, 1, &r->build_cached_seconds));

    double t_start = ct_now();
    ct_ctx *c;
    CT_TRY(ct_ctx_create(sel, 1, &c));
    snprintf(r->device, sizeof r->device, "%s", c->dev.name);
    int trc = ct_tune_apply_network(c, o->net, o->batch);
    if (trc != CT_OK) {
        ct_ctx_free(c);
        return trc;
    }
    ct_tune_describe(c, r->tunables, sizeof r->tunables);
    r->gpu_profile = c->tune.gpu_profile;
    int maxb = o->batch > o->eval_batch ? o->batch : o->eval_batch;
    ct_model *m = NULL;
    const size_t per = (size_t)o->net->in_c * o->net->in_h * o->net->in_w;
    float *x = malloc((size_t)maxb * per * sizeof(float));
    int32_t *t = malloc((size_t)maxb * sizeof(int32_t));
    int rc = (x && t) ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory");
    if (rc == CT_OK) rc = ct_model_create(c, o->net, maxb, &m);
    if (rc == CT_OK) rc = ct_model_init_params(m, 1);
    ct_optim opt = {o->adam, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.9f, 1e-5f};
    if (rc == CT_OK) {
        fill_batch(x, t, maxb, per, o->net->classes);
        rc = ct_model_upload(m, maxb, x, t);
    }
    if (rc == CT_OK) rc = ct_model_train_step(m, o->batch, &opt, 1, 0);
    if (rc == CT_OK) rc = ct_finish(c);
    r->first_step_seconds = ct_now() - t_start;
    /* the timed steps (as training runs) go to a second queue without profiling enabled: a
     * profiling queue may time every command even when no event is asked for */
    if (rc == CT_OK) rc = ct_finish(c);
    cl_command_queue prof_q = c->queue, plain_q = NULL;
    if (rc == CT_OK) rc = plain_queue(c, &plain_q);
    if (rc == CT_OK) {
        c->queue = plain_q;
        c->profiling = 0;
        cl_command_queue_properties qp = 0;
        clGetCommandQueueInfo(c->queue, CL_QUEUE_PROPERTIES, sizeof qp, &qp, NULL);
        r->timed_queue_profiling = (qp & CL_QUEUE_PROFILING_ENABLE) != 0;
    }
    const int world = ct_dist_size(), nb = o->batch / world;
    float *host = world > 1 && m ? malloc(m->n_params * sizeof *host) : NULL;
    if (rc == CT_OK && world > 1 && !host) rc = ct_fail(CT_ERR_NOMEM, "out of host memory");
    double comm = 0;
    for (int i = 1; rc == CT_OK && i < o->warmup; i++) rc = dp_step(m, nb, &opt, (unsigned)i, host, &comm);
    if (rc == CT_OK) rc = ct_finish(c);
    if (rc == CT_OK) rc = ct_dist_barrier();
    ct_prof_reset(c);
    comm = 0;
    double t0 = ct_now();
    for (int i = 0; rc == CT_OK && i < o->steps; i++) rc = dp_step(m, nb, &opt, (unsigned)i, host, &comm);
    if (rc == CT_OK) rc = ct_finish(c);
    double dt = ct_now() - t0;
    free(host);
    r->world_size = world;
    r->allreduce_ms_per_step = 1e3 * comm / o->steps;
    if (m) r->gradient_bytes = m->n_params * 4;
    /* then profiled steps, with events, for the kernel table */
    c->queue = prof_q;
    c->profiling = 1;
    int prof_steps = o->steps < 10 ? o->steps : 10;
    for (int i = 0; rc == CT_OK && i < prof_steps; i++) rc = ct_model_train_step(m, nb, &opt, 1, (unsigned)i);
    if (rc == CT_OK) rc = ct_finish(c);
    if (rc == CT_OK) {
        r->ms_per_step = 1e3 * dt / o->steps;
        r->train_images_per_second = (double)o->batch * o->steps / dt;
        r->profiled_ms_per_step = collect_table(c, prof_steps, r->kernels, &r->n_kernels);
    }
    /* evaluation throughput: eval-mode forward + loss, batch eval_batch, no events, plain queue */
    ct_prof_reset(c);
    if (plain_q) {
        c->queue = plain_q;
        c->profiling = 0;
    }
    /* fused (the default) and unfused eval forwards alternate in rounds: their ratio is measured
     * side by side */
    const int eval_iters = o->steps / 2 > 2 ? o->steps / 2 : 2, rounds = 3;
    double t_eval[2] = {0, 0};
    for (int w = 0; w < 2 && rc == CT_OK; w++) rc = eval_batches(c, m, o->eval_batch, 1, w, NULL);
    for (int q = 0; q < rounds && rc == CT_OK; q++)
        for (int w = 0; w < 2 && rc == CT_OK; w++) rc = eval_batches(c, m, o->eval_batch, eval_iters, w, &t_eval[w]);
    if (rc == CT_OK) {
        r->eval_images_per_second = (double)o->eval_batch * eval_iters * rounds / t_eval[0];
        r->eval_unfused_images_per_second = (double)o->eval_batch * eval_iters * rounds / t_eval[1];
    }
    /* then profiled evaluation batches, with events, for the evaluation kernel tables */
    c->queue = prof_q;
    c->profiling = 1;
    const int eval_prof = eval_iters < 10 ? eval_iters : 10;
    for (int w = 0; w < 2 && rc == CT_OK; w++) {
        ct_prof_reset(c);
        rc = eval_batches(c, m, o->eval_batch, eval_prof, w, NULL);
        if (rc == CT_OK && w == 0) r->eval_profiled_ms = collect_table(c, eval_prof, r->eval_kernels, &r->n_eval_kernels);
        if (rc == CT_OK && w == 1)
            r->eval_unfused_profiled_ms = collect_table(c, eval_prof, r->eval_unfused_kernels, &r->n_eval_unfused_kernels);
    }
    m->unfused_eval = 0;
    ct_prof_reset(c);
    r->device_bytes = c->bytes_allocated;
    if (plain_q) {
        clFinish(plain_q);
        c->queue = prof_q;
        clReleaseCommandQueue(plain_q);
    }
    free(x);
    free(t);
    ct_model_free(m);
    ct_ctx_free(c);
    return rc;
}
