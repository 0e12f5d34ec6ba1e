/* train_data.c: the training job's data: loading (MNIST fetched when missing), normalisation,
 * the double-buffered upload of raw batches, and evaluation of a set of images. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"
#include "train_int.h"

int ct_load_mnist(const char *dir, int train, int fetch, ct_mnist *out)
{
    int rc = ct_mnist_load(dir, train, out);
    if (rc == CT_OK || !fetch) return rc;
    /* only a missing data set is fetched; a corrupt one is reported */
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/%s", dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
    char probe_gz[4200];
    snprintf(probe_gz, sizeof probe_gz, "%s.gz", probe);
    if (access(probe, F_OK) == 0 || access(probe_gz, F_OK) == 0) return rc;
    char script[4400];
    if (ct_tool_path("fetch-mnist.sh", script, sizeof script) != CT_OK)
        return ct_fail_ctx(CT_ERR_INPUT, "MNIST is not in '%s' and cannot be fetched: get the four IDX files (see "
                           "README)", dir);
    ct_log("MNIST not found in %s: fetching it with %s\n", dir, script);
    const char *args[] = {dir, NULL};
    int code = 0;
    CT_TRY(ct_run_tool(script, args, &code));
    if (code != 0)
        return ct_fail(CT_ERR_INPUT, "fetching MNIST into '%s' failed (%s %d); run 'bash %s %s' to see why", dir,
                       code > 128 ? "killed by signal" : "exit", code > 128 ? code - 128 : code, script, dir);
    return ct_mnist_load(dir, train, out);
}

int ct_load_dataset(const char *dir, int train, int fetch, ct_dataset *out)
{
    if (ct_dataset_detect(dir) == CT_DATA_IDX && fetch) {
        /* a missing MNIST is fetched first (as ct_load_mnist); other IDX sets are just read */
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/%s", dir, train ? "train-images-idx3-ubyte" : "t10k-images-idx3-ubyte");
        char probe_gz[4200];
        snprintf(probe_gz, sizeof probe_gz, "%s.gz", probe);
        char alt[4096];
        snprintf(alt, sizeof alt, "%s/%s", dir, train ? "train-images.idx3-ubyte" : "t10k-images.idx3-ubyte");
        if (access(probe, F_OK) != 0 && access(probe_gz, F_OK) != 0 && access(alt, F_OK) != 0) {
            ct_mnist m;
            CT_TRY(ct_load_mnist(dir, train, 1, &m));
            ct_mnist_free(&m);
        }
    }
    return ct_dataset_load(dir, train, out);
}

int ct_data_norm(const ct_config *cfg, const ct_dataset *d, ct_augment *a)
{
    float mean[CT_AUGMENT_MAX_CHANNELS], std[CT_AUGMENT_MAX_CHANNELS];
    if (d->c > CT_AUGMENT_MAX_CHANNELS)
        return ct_fail(CT_ERR_INPUT, "%s: images with %d channels; cltrain handles 1 to %d", d->source, d->c,
                       CT_AUGMENT_MAX_CHANNELS);
    CT_TRY(ct_config_data_norm(&cfg->data, d->c, mean, std));
    ct_augment_set_shape(a, d->c, d->h, d->w, mean, std);
    a->mean = mean[0];
    a->std = std[0];
    return CT_OK;
}

int ct_load_train_data(const ct_config *cfg, int fetch, ct_dataset *train, ct_dataset *test, int need_test)
{
    memset(test, 0, sizeof *test);
    CT_TRY(ct_load_dataset(cfg->data.dir, 1, fetch, train));
    int rc = CT_OK;
    if (cfg->data.class_names_n) {
        const char *names[CT_CONFIG_MAX_CLASSES];
        for (int k = 0; k < cfg->data.class_names_n; k++) names[k] = cfg->data.class_names[k];
        rc = ct_dataset_set_class_names(train, names, cfg->data.class_names_n);
        if (rc && cfg->data.class_names_where[0])
            rc = ct_fail_ctx(CT_ERR_USAGE, "%s", cfg->data.class_names_where);
    }
    if (rc == CT_OK && ct_load_dataset(cfg->data.dir, 0, fetch && need_test, test) != CT_OK) {
        if (need_test) {
            rc = ct_fail_ctx(CT_ERR_INPUT, "%s: the test set", cfg->data.dir);
        } else {
            ct_log("warning: no test set in %s (%s); training goes on without a test accuracy\n", cfg->data.dir,
                   ct_last_error());
            memset(test, 0, sizeof *test);
        }
    }
    if (rc == CT_OK && test->n) rc = ct_dataset_check_pair(train, test);
    if (rc) {
        ct_dataset_free(train);
        ct_dataset_free(test);
    }
    return rc;
}

int stager_init(ct_ctx *c, stager *s, int max_batch, size_t isz)
{
    memset(s, 0, sizeof *s);
    s->isz = isz;
    for (int i = 0; i < 2; i++) {
        CT_TRY(ct_buffer_create(c, (size_t)max_batch * isz, "raw image batch", &s->u8[i]));
        s->host_u8[i] = malloc((size_t)max_batch * isz);
        s->host_lab[i] = malloc((size_t)max_batch * sizeof(int32_t));
        if (!s->host_u8[i] || !s->host_lab[i]) return ct_fail(CT_ERR_NOMEM, "out of host memory for batches");
    }
    return CT_OK;
}

void stager_free(stager *s)
{
    for (int i = 0; i < 2; i++) {
        if (s->done[i]) clWaitForEvents(1, &s->done[i]), clReleaseEvent(s->done[i]);
        if (s->u8[i]) clReleaseMemObject(s->u8[i]);
        free(s->host_u8[i]);
        free(s->host_lab[i]);
    }
}

/* Gathers images idx[0..N) into the next staging slot and enqueues its upload (non-blocking)
 * plus the labels into the model's target buffer; returns the device buffer with the images. */
int stage_batch(ct_model *m, stager *s, const uint8_t *images, const uint8_t *labels, const uint32_t *idx,
                       long first, int N, cl_mem *dev)
{
    int k = s->cur;
    s->cur ^= 1;
    if (s->done[k]) {
        clWaitForEvents(1, &s->done[k]);
        clReleaseEvent(s->done[k]);
        s->done[k] = NULL;
    }
    for (int i = 0; i < N; i++) {
        long j = idx ? (long)idx[first + i] : first + i;
        memcpy(s->host_u8[k] + (size_t)i * s->isz, images + (size_t)j * s->isz, s->isz);
        s->host_lab[k][i] = labels ? labels[j] : 0;
    }
    CL_CHECK(clEnqueueWriteBuffer(m->ctx->queue, s->u8[k], CL_FALSE, 0, (size_t)N * s->isz, s->host_u8[k], 0, NULL,
                                  NULL));
    CL_CHECK(clEnqueueWriteBuffer(m->ctx->queue, m->targets, CL_FALSE, 0, (size_t)N * 4, s->host_lab[k], 0, NULL,
                                  &s->done[k]));
    *dev = s->u8[k];
    return CT_OK;
}

int eval_sums(ct_model *m, const ct_augment *norm, int classes, const uint8_t *images, const uint8_t *labels,
              const uint32_t *idx, long first, long n, double sums[3], float *logits)
{
    stager s;
    ct_augment plain = *norm;
    plain.enabled = 0;
    size_t isz = plain.c > 0 ? (size_t)plain.c * plain.h * plain.w : 784;
    int rc = stager_init(m->ctx, &s, m->max_batch, isz);
    sums[0] = sums[1] = sums[2] = 0;
    if (rc == CT_OK) rc = ct_model_read_sums(m, sums, 1);
    for (long b = 0; b < n && rc == CT_OK; b += m->max_batch) {
        int N = (int)(n - b < m->max_batch ? n - b : m->max_batch);
        cl_mem dev = NULL;
        rc = stage_batch(m, &s, images, labels, idx, first + b, N, &dev);
        if (rc == CT_OK) rc = ct_batch_prepare(m->ctx, &plain, N, dev, m->x, 0, 0);
        if (rc == CT_OK) rc = ct_model_forward(m, N, 0, 0, 0);
        if (rc == CT_OK && labels) rc = ct_model_loss(m, N, 0);
        if (rc == CT_OK && logits)
            rc = ct_buffer_read(m->ctx, m->logits, 0, (size_t)N * classes * 4, logits + (size_t)b * classes);
    }
    if (rc == CT_OK) rc = ct_model_read_sums(m, sums, 1);
    stager_free(&s);
    return rc;
}

int ct_evaluate_images(ct_model *m, const ct_augment *norm, int classes, const uint8_t *images, const uint8_t *labels,
                       const uint32_t *idx, long n, double *loss, double *acc, float *logits)
{
    double sums[3];
    CT_TRY(eval_sums(m, norm, classes, images, labels, idx, 0, n, sums, logits));
    if (labels && sums[2] > 0) {
        *loss = sums[0] / sums[2];
        *acc = sums[1] / sums[2];
    }
    return CT_OK;
}
