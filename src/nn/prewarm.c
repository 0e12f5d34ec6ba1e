/* nn/prewarm.c: see nn/prewarm.h. */
#define _POSIX_C_SOURCE 200809L
#include "nn/prewarm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedded.h"

struct ct_prewarm {
    pthread_t thread;
    ct_ctx *parent;
    ct_netdef net;
    ct_augment norm;
    int max_batch, batches[8], n;
    char stamp[4096];
    int rc;
    char err[512];
};

static uint64_t hash_str(const char *s, uint64_t h) { return ct_hash64(s, strlen(s), h); }

/* What the driver's compiled kernels depend on: device, driver, our kernel sources and their
 * options, the launches (network, batch sizes, image shape) and where the driver caches. */
static uint64_t warm_key(const ct_ctx *c, const ct_prewarm *p)
{
    char tune[1024];
    ct_tune_format(&c->tune, tune, sizeof tune);
    const char *pocl_dir = getenv("POCL_CACHE_DIR");
    const char *parts[] = {c->dev.name, c->dev.driver_version, c->dev.platform_version, c->dev.device_version,
                           CLTRAIN_VERSION, tune, pocl_dir ? pocl_dir : ""};
    uint64_t h = 0x70726577u;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = hash_str(parts[i], h);
    for (const ct_embedded_source *e = ct_embedded_sources; e->name; e++) h = ct_hash64(e->source, *e->len, h);
    int head[] = {p->max_batch, p->n, p->norm.c, p->norm.h, p->norm.w, c->tune.gpu_profile, p->net.in_c,
                  p->net.in_h, p->net.in_w, p->net.classes, p->net.n_layers};
    h = ct_hash64(head, sizeof head, h);
    h = ct_hash64(p->batches, sizeof(int) * (size_t)p->n, h);
    for (int i = 0; i < p->net.n_layers; i++) {
        const ct_layer_def *l = &p->net.layers[i];
        int v[] = {(int)l->type, l->n_inputs, l->inputs[0], l->out_channels, l->kernel[0], l->kernel[1], l->stride[0],
                   l->stride[1], l->padding[0], l->padding[1], l->bias, l->out_features, l->count_include_pad,
                   l->output[0], l->output[1], l->in.rank, l->in.c, l->in.h, l->in.w, l->out.rank, l->out.c,
                   l->out.h, l->out.w};
        h = ct_hash64(v, sizeof v, h);
    }
    return h;
}

/* 1 when the run builds program family f (by the network's layer types; the rest every run). */
static int family_needed(const ct_netdef *net, const char *f)
{
    static const char *const by_type[][2] = {{"conv2d", "conv"},          {"conv2d", "convfused"}, {"conv2d", "convstrided"},
                                             {"batchnorm", "batchnorm"},  {"pool", "pool"},
                                             {"dropout", "dropout"},      {"add", "elementwise"},
                                             {"flatten", "flatten"}};
    int typed = 0;
    for (size_t k = 0; k < sizeof by_type / sizeof by_type[0]; k++) {
        if (strcmp(by_type[k][1], f) != 0) continue;
        typed = 1;
        for (int i = 0; i < net->n_layers; i++) {
            const char *t = ct_layer_type_name(net->layers[i].type);
            if (t && strstr(t, by_type[k][0])) return 1;
        }
    }
    return !typed;
}

/* The programs the run needs, in about the reverse of the order the run builds them, so that
 * the two threads build different ones and meet in the middle (the driver's cache gives each
 * the other's), then the evaluation forwards of ct_evaluate_images at each batch size, on
 * zeroed buffers. */
static int warm_up(ct_prewarm *p)
{
    static const char *const order[] = {"convfused", "convstrided", "optim",   "reduce",    "loss", "act",  "dropout", "elementwise",
                                        "flatten",   "pool",    "batchnorm", "gemm", "conv", "augment"};
    ct_ctx *c;
    CT_TRY(ct_ctx_sibling(p->parent, &c));
    ct_model *m = NULL;
    cl_mem raw = NULL;
    size_t isz = p->norm.c > 0 ? (size_t)p->norm.c * p->norm.h * p->norm.w : 784;
    int rc = CT_OK;
    for (size_t i = 0; i < sizeof order / sizeof order[0] && rc == CT_OK; i++)
        if (family_needed(&p->net, order[i])) rc = ct_program_build(c, order[i]);
    if (rc == CT_OK) rc = ct_model_create(c, &p->net, p->max_batch, &m);
    if (rc == CT_OK) rc = ct_buffer_create(c, (size_t)p->max_batch * isz, "warm-up images", &raw);
    if (rc == CT_OK) rc = ct_buffer_fill_zero(c, raw, 0, (size_t)p->max_batch * isz);
    if (rc == CT_OK) rc = ct_buffer_fill_zero(c, m->x, 0, (size_t)p->max_batch * ct_model_input_floats(m) * 4);
    if (rc == CT_OK) rc = ct_buffer_fill_zero(c, m->targets, 0, (size_t)p->max_batch * 4);
    if (rc == CT_OK) rc = ct_buffer_fill_zero(c, m->params, 0, m->n_params * 4);
    if (rc == CT_OK && m->n_state) rc = ct_buffer_fill_zero(c, m->state, 0, m->n_state * 4);
    for (int i = 0; i < p->n && rc == CT_OK; i++) {
        rc = ct_batch_prepare(c, &p->norm, p->batches[i], raw, m->x, 0, 0);
        if (rc == CT_OK) rc = ct_model_forward(m, p->batches[i], 0, 0, 0);
        if (rc == CT_OK) rc = ct_model_loss(m, p->batches[i], 0);
    }
    if (rc == CT_OK) rc = ct_finish(c);
    if (raw) clReleaseMemObject(raw);
    ct_model_free(m);
    ct_ctx_free(c);
    return rc;
}

static void *warm_thread(void *arg)
{
    ct_prewarm *p = arg;
    p->rc = warm_up(p);
    if (p->rc != CT_OK) snprintf(p->err, sizeof p->err, "%s", ct_last_error());
    return NULL;
}

void ct_prewarm_start(ct_ctx *c, const ct_netdef *net, int max_batch, const ct_augment *norm, const int *batches,
                      int n, ct_prewarm **out)
{
    *out = NULL;
    char dir[3500];
    const char *kdir = getenv("CLTRAIN_KERNEL_DIR"), *on = getenv("CLTRAIN_PREWARM");
    if (!on || strcmp(on, "1") != 0 || !ct_driver_caches_builds(c) || !ct_cache_dir(dir, sizeof dir)[0] ||
        (kdir && *kdir) || n < 1 || n > 8)
        return;
    ct_prewarm *p = calloc(1, sizeof *p);
    if (!p) return;
    p->parent = c;
    p->norm = *norm;
    p->norm.enabled = 0;
    p->max_batch = max_batch;
    p->n = n;
    memcpy(p->batches, batches, sizeof(int) * (size_t)n);
    if (ct_netdef_copy(net, &p->net) != CT_OK) {
        ct_clear_error();
        free(p);
        return;
    }
    snprintf(p->stamp, sizeof p->stamp, "%s/prewarm-%016llx", dir, (unsigned long long)warm_key(c, p));
    FILE *f = fopen(p->stamp, "rb");
    if (f || pthread_create(&p->thread, NULL, warm_thread, p) != 0) {
        if (f) fclose(f);
        ct_netdef_free(&p->net);
        free(p);
        return;
    }
    ct_debug("kernel warm-up: a second thread compiles the evaluation kernels (%d batch size%s)\n", n,
             n > 1 ? "s" : "");
    *out = p;
}

void ct_prewarm_finish(ct_prewarm *p)
{
    if (!p) return;
    pthread_join(p->thread, NULL);
    if (p->rc == CT_OK) {
        char dir[3500];
        if (ct_mkdirs(ct_cache_dir(dir, sizeof dir)) != CT_OK || ct_write_file_atomic(p->stamp, "", 0) != CT_OK)
            ct_clear_error();
    } else {
        ct_debug("kernel warm-up thread: %s (the run compiles what it needs itself)\n", p->err);
    }
    ct_netdef_free(&p->net);
    free(p);
}
