/* train.c: the training loop. Per epoch: shuffle, batches prepared on the device (optionally
 * augmented), one enqueued training step per batch with no host read-back except every
 * log_interval batches, validation, StepLR, early stopping on validation accuracy (percent),
 * best weights kept; then the model file, the run folder and the test accuracy. */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "json.h"
#include "modelio.h"
#include "split.h"

#ifndef CLTRAIN_TOOLS_DIR
#define CLTRAIN_TOOLS_DIR "tools"
#endif

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
    char script[4096];
    snprintf(script, sizeof script, "%s/fetch-mnist.sh", CLTRAIN_TOOLS_DIR);
    if (access(script, R_OK) != 0)
        return ct_fail(CT_ERR_INPUT, "MNIST is not in '%s' and %s is not here: get the four IDX files (see README) "
                       "or run tools/fetch-mnist.sh %s from the cltrain source folder", dir, script, dir);
    ct_log("MNIST not found in %s: fetching it with %s\n", dir, script);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "bash '%s' '%s' 1>&2", script, dir);
    int st = system(cmd);
    if (st != 0)
        return ct_fail(CT_ERR_INPUT, "fetching MNIST into '%s' failed (exit %d); run 'bash %s %s' to see why", dir, st,
                       script, dir);
    return ct_mnist_load(dir, train, out);
}

/* double-buffered upload of raw batches */
typedef struct {
    cl_mem u8[2];
    uint8_t *host_u8[2];
    int32_t *host_lab[2];
    cl_event done[2];
    int cur;
} stager;

static int stager_init(ct_ctx *c, stager *s, int max_batch)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 2; i++) {
        CT_TRY(ct_buffer_create(c, (size_t)max_batch * 784, "raw image batch", &s->u8[i]));
        s->host_u8[i] = malloc((size_t)max_batch * 784);
        s->host_lab[i] = malloc((size_t)max_batch * sizeof(int32_t));
        if (!s->host_u8[i] || !s->host_lab[i]) return ct_fail(CT_ERR_NOMEM, "out of host memory for batches");
    }
    return CT_OK;
}

static void stager_free(stager *s)
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
static int stage_batch(ct_model *m, stager *s, const uint8_t *images, const uint8_t *labels, const uint32_t *idx,
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
        memcpy(s->host_u8[k] + (size_t)i * 784, images + (size_t)j * 784, 784);
        s->host_lab[k][i] = labels ? labels[j] : 0;
    }
    CL_CHECK(clEnqueueWriteBuffer(m->ctx->queue, s->u8[k], CL_FALSE, 0, (size_t)N * 784, s->host_u8[k], 0, NULL,
                                  NULL));
    CL_CHECK(clEnqueueWriteBuffer(m->ctx->queue, m->targets, CL_FALSE, 0, (size_t)N * 4, s->host_lab[k], 0, NULL,
                                  &s->done[k]));
    *dev = s->u8[k];
    return CT_OK;
}

int ct_evaluate_images(ct_model *m, const uint8_t *images, const uint8_t *labels, const uint32_t *idx, long n,
                       float mean, float std, double *loss, double *acc, float *logits)
{
    stager s;
    int rc = stager_init(m->ctx, &s, m->max_batch);
    ct_augment plain = {0, 0, 0, 1, 1, mean, std};
    double sums[3];
    if (rc == CT_OK) rc = ct_model_read_sums(m, sums, 1);
    for (long b = 0; b < n && rc == CT_OK; b += m->max_batch) {
        int N = (int)(n - b < m->max_batch ? n - b : m->max_batch);
        cl_mem dev = NULL;
        rc = stage_batch(m, &s, images, labels, idx, b, N, &dev);
        if (rc == CT_OK) rc = ct_batch_prepare(m->ctx, &plain, N, dev, m->x, 0, 0);
        if (rc == CT_OK) rc = ct_model_forward(m, N, 0, 0, 0);
        if (rc == CT_OK && labels) rc = ct_model_loss(m, N, 0);
        if (rc == CT_OK && logits) rc = ct_buffer_read(m->ctx, m->logits, 0, (size_t)N * 40, logits + (size_t)b * 10);
    }
    if (rc == CT_OK) rc = ct_model_read_sums(m, sums, 1);
    stager_free(&s);
    if (rc == CT_OK && labels && sums[2] > 0) {
        *loss = sums[0] / sums[2];
        *acc = sums[1] / sums[2];
    }
    return rc;
}

static void fmt_acc_tag(char *buf, size_t cap, double pct)
{
    /* 99.12 -> "99p12" */
    snprintf(buf, cap, "%.2f", pct);
    for (char *p = buf; *p; p++)
        if (*p == '.') *p = 'p';
}

typedef struct {
    FILE *log;
    int tty;
} logger;

static void logline(logger *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void logline(logger *L, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (L->tty) fputs("\r\033[K", stdout);
    fputs(buf, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    if (L->log) {
        fputs(buf, L->log);
        fputc('\n', L->log);
        fflush(L->log);
    }
}

static void shuffle(uint32_t *a, long n, uint64_t seed)
{
    uint64_t st = seed;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)(ct_splitmix64_next(&st) % (uint64_t)(i + 1));
        uint32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

int ct_train(const ct_config *cfg, const ct_train_opts *o, ct_train_result *r)
{
    memset(r, 0, sizeof *r);
    r->test_accuracy = r->test_loss = -1;
    double t_start = ct_now();
    int rc;
    const ct_config_training *tr = &cfg->training;
    ct_mnist train = {0}, test = {0};
    uint32_t *tidx = NULL, *vidx = NULL;
    size_t n_tr = 0, n_val = 0;
    ct_ctx *ctx = NULL;
    ct_model *m = NULL;
    stager s;
    memset(&s, 0, sizeof s);
    float *best_p = NULL, *best_s = NULL;
    logger L = {NULL, isatty(STDOUT_FILENO) && !o->quiet_progress && !o->json};
    FILE *csv = NULL;
    char tmp_run[4096] = "";

    if ((rc = ct_load_mnist(cfg->data.dir, 1, 1, &train)) != CT_OK) goto out;
    if ((rc = ct_split_stratified(train.labels, train.n, 10, tr->validation_split, (uint64_t)tr->seed, &tidx, &n_tr,
                                  &vidx, &n_val)) != CT_OK)
        goto out;
    if (o->subset > 0 && (size_t)o->subset < n_tr) {
        /* a stratified sample: every k-th index of the sorted split keeps class proportions */
        double keep = (double)o->subset / (double)n_tr;
        size_t w = 0;
        for (size_t i = 0; i < n_tr && (long)w < o->subset; i++)
            if ((size_t)((double)(i + 1) * keep) > w) tidx[w++] = tidx[i];
        n_tr = w;
        size_t vkeep = (size_t)((double)n_val * keep) + 1;
        if (vkeep < n_val) {
            size_t vw = 0;
            for (size_t i = 0; i < n_val && vw < vkeep; i++)
                if ((size_t)((double)(i + 1) * vkeep / (double)n_val) > vw) vidx[vw++] = vidx[i];
            n_val = vw;
        }
    }
    r->train_samples = (long)n_tr;
    r->val_samples = (long)n_val;
    if (ct_load_mnist(cfg->data.dir, 0, 0, &test) != CT_OK) {
        ct_log("warning: no test set in %s (%s); training goes on without a test accuracy\n", cfg->data.dir,
               ct_last_error());
        memset(&test, 0, sizeof test);
    }
    r->test_samples = (long)test.n;

    const char *dev = o->device && *o->device ? o->device : cfg->device;
    if ((rc = ct_ctx_create(dev, 0, &ctx)) != CT_OK) goto out;
    snprintf(r->device, sizeof r->device, "%s", ctx->dev.name);
    ct_cnn_dims d = {cfg->model.conv1_channels, cfg->model.conv2_channels, cfg->model.conv3_channels,
                     cfg->model.hidden_size, (float)cfg->model.dropout1_rate, (float)cfg->model.dropout2_rate,
                     cfg->model.use_batch_norm};
    int max_batch = tr->batch_size > 250 ? tr->batch_size : 250;
    unsigned long long need = ct_model_memory_estimate(&d, max_batch);
    if (need > ctx->dev.global_mem) {
        rc = ct_fail(CT_ERR_NOMEM,
                     "the model needs about %.0f MiB of device memory at batch %d but '%s' has %.0f MiB; "
                     "reduce training.batch_size",
                     need / 1048576.0, max_batch, ctx->dev.name, ctx->dev.global_mem / 1048576.0);
        goto out;
    }
    if ((rc = ct_model_create(ctx, &d, max_batch, &m)) != CT_OK) goto out;
    if ((rc = ct_model_init_params(m, (uint64_t)tr->seed)) != CT_OK) goto out;
    r->model_parameters = ct_model_param_count(m);
    r->configured_epochs = tr->epochs;
    if ((rc = stager_init(ctx, &s, tr->batch_size)) != CT_OK) goto out;

    /* run folder (renamed to the model's name at the end) */
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tmv);
    snprintf(tmp_run, sizeof tmp_run, "%s/%s_%s.running", cfg->output.runs_dir, cfg->output.model_name_prefix, stamp);
    if ((rc = ct_mkdirs(tmp_run)) != CT_OK) goto out;
    {
        char *yaml = NULL, path[4200];
        if ((rc = ct_config_to_yaml(cfg, &yaml)) != CT_OK) goto out;
        snprintf(path, sizeof path, "%s/config.yaml", tmp_run);
        rc = ct_write_file_atomic(path, yaml, strlen(yaml));
        free(yaml);
        if (rc) goto out;
        snprintf(path, sizeof path, "%s/train.log", tmp_run);
        L.log = fopen(path, "w");
        snprintf(path, sizeof path, "%s/metrics.csv", tmp_run);
        csv = fopen(path, "w");
        if (!L.log || !csv) {
            rc = ct_fail(CT_ERR_RUNTIME, "%s: cannot write the run folder: %s", tmp_run, strerror(errno));
            goto out;
        }
        fprintf(csv, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,images_per_second,"
                     "epoch_seconds\n");
        fflush(csv);
    }
    logline(&L, "cltrain %s: training DigitCNN (%lld parameters) on %s", CLTRAIN_VERSION, r->model_parameters,
            ctx->dev.name);
    logline(&L, "data: %s: %zu training, %zu validation (stratified %.0f/%.0f, seed %lld), %zu test images",
            cfg->data.dir, n_tr, n_val, 100 * (1 - tr->validation_split), 100 * tr->validation_split,
            (long long)tr->seed, test.n);
    logline(&L, "optimizer %s, lr %g, batch %d, epochs %d, weight decay %g, augmentation %s, early stopping %s",
            tr->optimizer_type, tr->learning_rate, tr->batch_size, tr->epochs, tr->weight_decay,
            cfg->augmentation.use_data_augmentation ? "on" : "off",
            cfg->early_stopping.use_early_stopping ? "on" : "off");

    ct_optim opt = {strcmp(tr->optimizer_type, "adam") == 0, (float)tr->learning_rate, 0.9f, 0.999f, 1e-8f,
                    (float)tr->momentum, (float)tr->weight_decay};
    ct_augment aug = {cfg->augmentation.use_data_augmentation, (float)cfg->augmentation.rotation_degrees,
                      (float)cfg->augmentation.translation_pixels, (float)cfg->augmentation.scale_range_min,
                      (float)cfg->augmentation.scale_range_max, (float)cfg->data.mean, (float)cfg->data.std};
    double best = -1, train_time = 0;
    long train_images = 0;
    int bad_epochs = 0;
    unsigned step = 0;
    const long nb = ((long)n_tr + tr->batch_size - 1) / tr->batch_size;
    for (int epoch = 0; epoch < tr->epochs; epoch++) {
        double lr = tr->learning_rate;
        if (cfg->scheduler.use_lr_scheduler) lr *= pow(cfg->scheduler.lr_gamma, epoch / cfg->scheduler.lr_step_size);
        opt.lr = (float)lr;
        shuffle(tidx, (long)n_tr, (uint64_t)tr->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)epoch + 1);
        double sums[3];
        if ((rc = ct_model_read_sums(m, sums, 1)) != CT_OK) goto out;
        double ep_loss = 0, ep_correct = 0, ep_count = 0;
        double t0 = ct_now();
        for (long b = 0; b < nb; b++) {
            long first = b * tr->batch_size;
            int N = (int)((long)n_tr - first < tr->batch_size ? (long)n_tr - first : tr->batch_size);
            cl_mem devb = NULL;
            if ((rc = stage_batch(m, &s, train.images, train.labels, tidx, first, N, &devb)) != CT_OK) goto out;
            if ((rc = ct_batch_prepare(ctx, &aug, N, devb, m->x, (uint64_t)tr->seed, step)) != CT_OK) goto out;
            if ((rc = ct_model_train_step(m, N, &opt, (uint64_t)tr->seed, step)) != CT_OK) goto out;
            step++;
            int last = b == nb - 1;
            if ((b + 1) % cfg->training.log_interval == 0 || last) {
                if ((rc = ct_model_read_sums(m, sums, 1)) != CT_OK) goto out;
                if (!isfinite(sums[0])) {
                    rc = ct_fail(CT_ERR_RUNTIME,
                                 "the training loss became non-finite in epoch %d before batch %ld; no model was "
                                 "saved. Lower training.learning_rate or check the data",
                                 epoch + 1, b + 1);
                    goto out;
                }
                ep_loss += sums[0];
                ep_correct += sums[1];
                ep_count += sums[2];
                double el = ct_now() - t0;
                if ((b + 1) % cfg->training.log_interval == 0)
                    logline(&L, "epoch %d/%d batch %ld/%ld: loss %.4f, acc %.2f%%, %.0f images/s", epoch + 1,
                            tr->epochs, b + 1, nb, sums[2] > 0 ? sums[0] / sums[2] : 0,
                            sums[2] > 0 ? 100 * sums[1] / sums[2] : 0, ep_count / el);
            } else if (L.tty && (b & 7) == 0) {
                double el = ct_now() - t0, rate = (double)(first + N) / (el > 0 ? el : 1);
                printf("\r\033[Kepoch %d/%d [%-30.*s] %ld/%ld %.0f img/s ETA %.0fs", epoch + 1, tr->epochs,
                       (int)(30 * (b + 1) / nb), "==============================", b + 1, nb, rate,
                       ((double)n_tr - (double)(first + N)) / (rate > 0 ? rate : 1));
                fflush(stdout);
            }
        }
        if ((rc = ct_finish(ctx)) != CT_OK) goto out;
        double ep_time = ct_now() - t0;
        train_time += ep_time;
        train_images += (long)n_tr;
        double vloss = 0, vacc = 0;
        if ((rc = ct_evaluate_images(m, train.images, train.labels, vidx, (long)n_val, aug.mean, aug.std, &vloss,
                                     &vacc, NULL)) != CT_OK)
            goto out;
        double tl = ep_count > 0 ? ep_loss / ep_count : 0, ta = ep_count > 0 ? 100 * ep_correct / ep_count : 0;
        double va = 100 * vacc;
        r->epochs_run = epoch + 1;
        r->final_train_loss = tl;
        r->final_train_accuracy = ta;
        r->final_val_loss = vloss;
        r->final_val_accuracy = va;
        r->learning_rate = lr;
        logline(&L,
                "Epoch %d/%d: train loss %.4f, train acc %.2f%%, val loss %.4f, val acc %.2f%%, lr %.6f, "
                "%.0f images/s, %.1f s",
                epoch + 1, tr->epochs, tl, ta, vloss, va, lr, (double)n_tr / ep_time, ct_now() - t0);
        fprintf(csv, "%d,%.6f,%.4f,%.6f,%.4f,%.8g,%.1f,%.2f\n", epoch + 1, tl, ta, vloss, va, lr,
                (double)n_tr / ep_time, ct_now() - t0);
        fflush(csv);
        if (va > best + cfg->early_stopping.min_delta) {
            best = va;
            bad_epochs = 0;
            if (cfg->early_stopping.restore_best) {
                free(best_p);
                free(best_s);
                if ((rc = ct_model_snapshot(m, &best_p, &best_s)) != CT_OK) goto out;
            }
        } else {
            bad_epochs++;
            if (cfg->early_stopping.use_early_stopping && bad_epochs >= cfg->early_stopping.patience) {
                logline(&L, "early stopping: no improvement of more than %g points for %d epochs (best %.2f%%)",
                        cfg->early_stopping.min_delta, bad_epochs, best);
                r->early_stopped = 1;
                break;
            }
        }
    }
    r->best_val_accuracy = best;
    r->train_images_per_second = train_time > 0 ? (double)train_images / train_time : 0;
    double saved_acc = r->final_val_accuracy;
    if (cfg->early_stopping.restore_best && best_p) {
        if ((rc = ct_model_restore(m, best_p, best_s)) != CT_OK) goto out;
        saved_acc = best;
        logline(&L, "restored the best weights (validation accuracy %.2f%%)", best);
    }
    if (test.n) {
        if ((rc = ct_evaluate_images(m, test.images, test.labels, NULL, (long)test.n, aug.mean, aug.std,
                                     &r->test_loss, &r->test_accuracy, NULL)) != CT_OK)
            goto out;
        logline(&L, "test: accuracy %.4f (%.2f%%), loss %.4f on %zu images", r->test_accuracy,
                100 * r->test_accuracy, r->test_loss, test.n);
    }
    {
        char tag[32];
        fmt_acc_tag(tag, sizeof tag, saved_acc);
        snprintf(r->model_name, sizeof r->model_name, "%s_%s_acc%s", cfg->output.model_name_prefix, stamp, tag);
        snprintf(r->run_dir, sizeof r->run_dir, "%s/%s", cfg->output.runs_dir, r->model_name);
        if (cfg->output.save_model) {
            if ((rc = ct_mkdirs(cfg->output.model_save_dir)) != CT_OK) goto out;
            snprintf(r->model_path, sizeof r->model_path, "%s/%s.safetensors", cfg->output.model_save_dir,
                     r->model_name);
            char *cfg_json = NULL;
            if ((rc = ct_config_to_json(cfg, &cfg_json)) != CT_OK) goto out;
            ct_jw w;
            ct_jw_init(&w);
            ct_jw_begin_object(&w);
            ct_jw_key(&w, "final_val_accuracy");
            ct_jw_double(&w, r->final_val_accuracy);
            ct_jw_key(&w, "best_val_accuracy");
            ct_jw_double(&w, best);
            ct_jw_key(&w, "saved_val_accuracy");
            ct_jw_double(&w, saved_acc);
            ct_jw_key(&w, "final_train_loss");
            ct_jw_double(&w, r->final_train_loss);
            ct_jw_key(&w, "epochs_run");
            ct_jw_int(&w, r->epochs_run);
            ct_jw_key(&w, "configured_epochs");
            ct_jw_int(&w, tr->epochs);
            ct_jw_key(&w, "model_parameters");
            ct_jw_int(&w, r->model_parameters);
            ct_jw_key(&w, "test_accuracy");
            ct_jw_double(&w, r->test_accuracy);
            ct_jw_key(&w, "train_images_per_second");
            ct_jw_double(&w, r->train_images_per_second);
            ct_jw_end_object(&w);
            char *metrics = NULL;
            size_t mlen;
            ct_jw_finish(&w, &metrics, &mlen);
            char data_md5[512];
            snprintf(data_md5, sizeof data_md5,
                     "{\"train-images\":\"%s\",\"train-labels\":\"%s\",\"t10k-images\":\"%s\",\"t10k-labels\":\"%s\"}",
                     train.images_md5, train.labels_md5, test.n ? test.images_md5 : "", test.n ? test.labels_md5 : "");
            const char *keys[] = {"format", "model", "model_name", "config", "metrics", "device", "cltrain_version",
                                  "data_md5"};
            const char *vals[] = {"pt", "DigitCNN", r->model_name, cfg_json, metrics ? metrics : "{}", ctx->dev.name,
                                  CLTRAIN_VERSION, data_md5};
            rc = ct_modelio_save(m, r->model_path, keys, vals, 8);
            free(cfg_json);
            free(metrics);
            ct_jw_free(&w);
            if (rc) goto out;
            logline(&L, "model saved: %s", r->model_path);
        }
    }
    fclose(csv);
    csv = NULL;
    if (L.log) fclose(L.log);
    L.log = NULL;
    if (rename(tmp_run, r->run_dir) != 0) {
        rc = ct_fail(CT_ERR_RUNTIME, "cannot rename run folder %s to %s: %s", tmp_run, r->run_dir, strerror(errno));
        goto out;
    }
    tmp_run[0] = 0;
    r->seconds = ct_now() - t_start;
    rc = CT_OK;
out:
    if (csv) fclose(csv);
    if (L.log) fclose(L.log);
    if (rc != CT_OK && tmp_run[0]) {
        /* keep the log of a failed run for diagnosis, under a name that says so */
        char failed[4200];
        snprintf(failed, sizeof failed, "%.*s.failed", (int)(strlen(tmp_run) - 8), tmp_run);
        rename(tmp_run, failed);
    }
    free(best_p);
    free(best_s);
    stager_free(&s);
    ct_model_free(m);
    ct_ctx_free(ctx);
    free(tidx);
    free(vidx);
    ct_mnist_free(&train);
    ct_mnist_free(&test);
    return rc;
}
