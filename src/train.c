/* train.c: the training job. Per epoch: shuffle, batches prepared on the device (optionally
 * augmented), one enqueued training step per batch with no host read-back except every
 * log_interval batches (and, in a data-parallel run, the gradient reduction), validation, StepLR,
 * early stopping on validation accuracy (percent), best weights kept; then the model file, the
 * run folder and the test accuracy. Data and evaluation: train_data.c; files: train_run.c;
 * several processes: train_dist.c. */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "dist/dist.h"
#include "io/pipes.h"
#include "modelio.h"
#include "nn/netparse.h"
#include "nn/prewarm.h"
#include "split.h"
#include "train_int.h"
#include "tune.h"

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

/* --- interruption --------------------------------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;

/* Test hook: with CLTRAIN_TEST_PAUSE_AT_STEP=N the process stops itself (SIGSTOP) once, just
 * before training step N (counted from 0 over the whole run), so a test can send a signal that
 * is handled exactly there when it continues the process (tests/cli_signals.sh), on any device. */
static void test_pause(unsigned step)
{
    static long at = -2;
    if (at == -2) {
        const char *e = getenv("CLTRAIN_TEST_PAUSE_AT_STEP");
        at = e && *e ? strtol(e, NULL, 10) : -1;
    }
    if (at >= 0 && (unsigned long)at == step) {
        at = -1;
        raise(SIGSTOP);
        /* the test's signal may be handled by another thread (the OpenCL runtime's), or come from
         * Open MPI's launcher a grace period after its SIGCONT: give it up to 5 s to land, so the
         * interruption happens here and not some steps later */
        for (int i = 0; i < 5000 && !g_interrupted; i++) {
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
}

static void on_signal(int sig)
{
    if (g_interrupted) {
        static const char msg[] = "\ncltrain: second interrupt: exiting at once (files on disk are intact; the last "
                                  "checkpoint is the previous one)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        ct_pipes_signal_closed(sig); /* Dagster Pipes: `closed` with the interruption */
        _exit(130);
    }
    g_interrupted = 1;
    static const char msg[] = "\ncltrain: interrupt: finishing the current step and writing a checkpoint (interrupt "
                              "again to exit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

/* --- setup ----------------------------------------------------------------------------------- */

static int check_resume(trun *T)
{
    const ct_config *cfg = T->cfg;
    const ct_config_training *tr = T->tr;
    const char *path = T->o->resume;
    ct_ckpt_state *ck = &T->ck;
    CT_TRY(ct_checkpoint_read(path, ck, &T->ckf));
    T->subset = ck->subset;
    int adam = strcmp(tr->optimizer_type, "adam") == 0;
    if (ck->adam != adam)
        return ct_fail(CT_ERR_USAGE, "%s: the checkpoint holds %s state; training.optimizer_type cannot change on resume",
                       path, ck->adam ? "Adam" : "SGD");
    if (ck->batch == 0 && ck->epoch >= tr->epochs)
        return ct_fail(CT_ERR_USAGE,
                       "%s: the checkpoint has finished %d of training.epochs=%d; to train longer, add --set "
                       "training.epochs=N with N > %d",
                       path, ck->epoch, tr->epochs, ck->epoch);
    if (ck->batch == 0 && cfg->early_stopping.use_early_stopping && ck->bad_epochs >= cfg->early_stopping.patience)
        return ct_fail(CT_ERR_USAGE,
                       "%s: the run stopped early after epoch %d (no improvement for %d epochs); raise "
                       "early_stopping.patience or turn early stopping off to continue",
                       path, ck->epoch, ck->bad_epochs);
    if (strncmp(ck->metrics_csv, CT_CSV_HEADER, strlen(CT_CSV_HEADER)) != 0)
        return ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'metrics_csv' does not start with the metrics.csv header",
                       path);
    return CT_OK;
}

/* a stratified sample: every k-th index of the sorted split keeps class proportions */
static void take_subset(trun *T)
{
    long subset = T->subset;
    if (subset <= 0 || (size_t)subset >= T->n_tr) return;
    double keep = (double)subset / (double)T->n_tr;
    size_t w = 0;
    for (size_t i = 0; i < T->n_tr && (long)w < subset; i++)
        if ((size_t)((double)(i + 1) * keep) > w) T->tidx[w++] = T->tidx[i];
    T->n_tr = w;
    size_t vkeep = (size_t)((double)T->n_val * keep) + 1;
    if (vkeep < T->n_val) {
        size_t vw = 0;
        for (size_t i = 0; i < T->n_val && vw < vkeep; i++)
            if ((size_t)((double)(i + 1) * vkeep / (double)T->n_val) > vw) T->vidx[vw++] = T->vidx[i];
        T->n_val = vw;
    }
}

static int load_data(trun *T)
{
    const ct_config *cfg = T->cfg;
    const ct_config_training *tr = T->tr;
    /* a missing MNIST is fetched by rank 0 alone; the others read it after */
    if (T->rank == 0) CT_TRY(ct_load_train_data(cfg, 1, &T->train, &T->test, 0));
    CT_TRY(ct_dist_barrier());
    if (T->rank != 0) CT_TRY(ct_load_train_data(cfg, 0, &T->train, &T->test, 0));
    CT_TRY(ct_dataset_class_names_json(&T->train, &T->class_names));
    /* the network: a resumed run's from its checkpoint, else the config's */
    CT_TRY(ct_modelio_config_netdef(cfg, &T->net));
    if (T->resuming) {
        ct_netdef cn;
        CT_TRY(ct_checkpoint_netdef(T->ckf, T->o->resume, &T->net, &cn));
        ct_netdef_free(&T->net);
        T->net = cn;
    }
    /* a config's network: section is checked with its file positions; a checkpoint's network names
     * the checkpoint, the DigitCNN of the model: keys says what to set */
    const ct_dataset *d = &T->train;
    if (!T->resuming && cfg->network)
        CT_TRY(ct_config_check_data(cfg, d->c, d->h, d->w, d->classes));
    else
        CT_TRY(ct_dataset_check_network(d, T->net.in_c, T->net.in_h, T->net.in_w, T->net.classes,
                                        T->resuming ? T->o->resume : "the network (the model: section)"));
    /* data.mean / data.std must fit the channels before anything is written */
    ct_augment probe;
    memset(&probe, 0, sizeof probe);
    CT_TRY(ct_data_norm(cfg, d, &probe));
    CT_TRY(ct_split_stratified(d->labels, d->n, d->classes, tr->validation_split, (uint64_t)tr->seed, &T->tidx,
                               &T->n_tr, &T->vidx, &T->n_val));
    take_subset(T);
    T->r->train_samples = (long)T->n_tr;
    T->r->val_samples = (long)T->n_val;
    T->r->test_samples = (long)T->test.n;
    T->nb = ((long)T->n_tr + tr->batch_size - 1) / tr->batch_size;
    if (T->resuming && T->ck.batch > T->nb)
        return ct_fail(CT_ERR_INPUT, "%s: the checkpoint is at batch %ld of an epoch that has %ld batches here: the data "
                       "or training.batch_size differ from the checkpointed run", T->o->resume, T->ck.batch, T->nb);
    return CT_OK;
}

static int make_model(trun *T)
{
    const ct_config_training *tr = T->tr;
    const char *dev = T->o->device && *T->o->device ? T->o->device : T->cfg->device;
    CT_TRY(ct_ctx_create(dev, 0, &T->ctx));
    ct_ctx *ctx = T->ctx;
    snprintf(T->r->device, sizeof T->r->device, "%s", ctx->dev.name);
    CT_TRY(ct_tune_apply_network(ctx, &T->net, tr->batch_size));
    int max_batch = tr->batch_size > 250 ? tr->batch_size : 250;
    unsigned long long need = 0;
    CT_TRY(ct_model_memory(&T->net, max_batch, 0, &need, NULL));
    if (need > ctx->dev.global_mem)
        return ct_fail(CT_ERR_NOMEM,
                       "the model needs about %.0f MiB of device memory at batch %d (parameters, gradients, optimizer "
                       "state, activations, workspaces) but '%s' has %.0f MiB; reduce training.batch_size",
                       need / 1048576.0, max_batch, ctx->dev.name, ctx->dev.global_mem / 1048576.0);
    CT_TRY(ct_model_create(ctx, &T->net, max_batch, &T->m));
    CT_TRY(ct_model_init_params(T->m, (uint64_t)tr->seed));
    if (T->resuming) CT_TRY(ct_checkpoint_apply(T->m, T->ckf, T->o->resume, &T->ck, &T->best_p, &T->best_s));
    CT_TRY(dp_share_model(T));
    T->m->sync_bn = T->world > 1 && T->cfg->training.sync_batchnorm;
    T->r->model_parameters = ct_model_param_count(T->m);
    T->r->configured_epochs = tr->epochs;
    T->r->gradient_bytes = T->m->n_params * 4;
    return stager_init(ctx, &T->s, tr->batch_size, ct_dataset_image_size(&T->train));
}

static void log_header(trun *T)
{
    const ct_config *cfg = T->cfg;
    const ct_config_training *tr = T->tr;
    logger *L = &T->L;
    logline(L, "cltrain %s: training %s (%d layers, %lld parameters) on %s", CLTRAIN_VERSION,
            cfg->output.model_name_prefix, T->net.n_layers, T->r->model_parameters, T->ctx->dev.name);
    if (T->world > 1)
        logline(L, "data parallel: %d processes (%s), 1 device each, %d images per process of the global batch %d, "
                   "%.2f MB of gradients reduced per step%s",
                T->world, ct_dist_library(), tr->batch_size / T->world, tr->batch_size,
                T->m->n_params * 4 / 1e6, cfg->training.sync_batchnorm ? ", BatchNorm statistics synchronised" : "");
    if (T->world > 1) logline(L, "process ids (rank:pid): %s", T->pids);
    logline(L, "data: %s: %d x %d x %d images, %d classes: %zu training, %zu validation (stratified %.0f/%.0f, seed "
            "%lld), %zu test images", cfg->data.dir, T->train.c, T->train.h, T->train.w, T->train.classes, T->n_tr,
            T->n_val, 100 * (1 - tr->validation_split), 100 * tr->validation_split, (long long)tr->seed, T->test.n);
    logline(L, "optimizer %s, lr %g, batch %d, epochs %d, weight decay %g, augmentation %s, early stopping %s",
            tr->optimizer_type, tr->learning_rate, tr->batch_size, tr->epochs, tr->weight_decay,
            cfg->augmentation.use_data_augmentation ? "on" : "off",
            cfg->early_stopping.use_early_stopping ? "on" : "off");
    if (!T->resuming) return;
    const ct_ckpt_state *ck = &T->ck;
    if (ck->batch > 0)
        logline(L, "resumed from %s: in epoch %d before batch %ld, step %llu (checkpoint written on %s)", T->o->resume,
                ck->epoch + 1, ck->batch + 1, ck->step, ck->device);
    else
        logline(L, "resumed from %s: after epoch %d, step %llu (checkpoint written on %s)", T->o->resume, ck->epoch,
                ck->step, ck->device);
    if (strcmp(ck->device, T->ctx->dev.name) != 0)
        logline(L, "note: the checkpoint comes from another device; results continue but are not bit-identical "
                   "to a run on that device");
}

static int setup_optim(trun *T)
{
    const ct_config *cfg = T->cfg;
    const ct_config_training *tr = T->tr;
    ct_optim opt = {strcmp(tr->optimizer_type, "adam") == 0, (float)tr->learning_rate, 0.9f, 0.999f, 1e-8f,
                    (float)tr->momentum, (float)tr->weight_decay};
    T->opt = opt;
    ct_augment *aug = &T->aug;
    memset(aug, 0, sizeof *aug);
    aug->enabled = cfg->augmentation.use_data_augmentation;
    aug->rotation_degrees = (float)cfg->augmentation.rotation_degrees;
    aug->translation = (float)cfg->augmentation.translation_pixels;
    aug->scale_min = (float)cfg->augmentation.scale_range_min;
    aug->scale_max = (float)cfg->augmentation.scale_range_max;
    aug->hflip = cfg->augmentation.horizontal_flip;
    return ct_data_norm(cfg, &T->train, aug);
}

/* A helper process compiles the run's kernels from the other end (nn/prewarm.h): the training
 * step and the batch sizes of the validation and test evaluations. One process runs alone: the
 * ranks of a data-parallel run already share the machine. */
static void start_prewarm(trun *T)
{
    int eb[4], ne = 0, mb = T->m->max_batch;
    if (T->world > 1) return;
    const long sets[2] = {(long)T->n_val, (long)T->test.n};
    for (int i = 0; i < 2; i++) {
        long first, cnt;
        dp_slice(sets[i], T->rank, T->world, &first, &cnt);
        const int sizes[2] = {cnt >= mb ? mb : 0, (int)(cnt % mb)};
        for (int j = 0; j < 2; j++) {
            int k = 0;
            while (k < ne && eb[k] != sizes[j]) k++;
            if (sizes[j] > 0 && k == ne) eb[ne++] = sizes[j];
        }
    }
    ct_prewarm_start(T->ctx, &T->net, mb, T->tr->batch_size, &T->aug, &T->opt, eb, ne, &T->warm);
}

static void join_prewarm(trun *T)
{
    ct_prewarm_finish(T->warm, 2);
    T->warm = NULL;
}

static uint64_t epoch_seed(const trun *T, int epoch)
{
    return (uint64_t)T->tr->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)epoch + 1;
}

/* the new run folder gets the best epoch's model too (current weights put back after) */
static int copy_resumed_best(trun *T)
{
    float *cur_p = NULL, *cur_s = NULL;
    int rc = ct_model_snapshot(T->m, &cur_p, &cur_s);
    if (rc == CT_OK) rc = ct_model_restore(T->m, T->best_p, T->best_s);
    if (rc == CT_OK) rc = run_save_best(T, T->best_epoch, T->best);
    if (cur_p && cur_s) {
        int rc2 = ct_model_restore(T->m, cur_p, cur_s);
        if (rc == CT_OK) rc = rc2;
    }
    free(cur_p);
    free(cur_s);
    return rc;
}

static int restore_progress(trun *T)
{
    T->best = -1;
    if (!T->resuming) return CT_OK;
    const ct_ckpt_state *ck = &T->ck;
    ct_train_result *r = T->r;
    T->best = ck->best;
    T->best_epoch = ck->best_epoch;
    T->bad_epochs = ck->bad_epochs;
    T->train_time = ck->train_seconds;
    T->train_images = ck->train_images;
    T->step = (unsigned)ck->step;
    T->start_epoch = ck->epoch;
    T->start_batch = ck->batch;
    r->epochs_run = ck->epoch;
    r->final_train_loss = ck->last_train_loss;
    r->final_train_accuracy = ck->last_train_acc;
    r->final_val_loss = ck->last_val_loss;
    r->final_val_accuracy = ck->last_val_acc;
    r->learning_rate = ck->last_lr;
    r->resumed_from_epoch = ck->epoch;
    T->good_is_resume = 1;
    /* the permutation of an epoch builds on the previous one: replay the earlier shuffles */
    for (int e = 0; e < T->start_epoch; e++) shuffle(T->tidx, (long)T->n_tr, epoch_seed(T, e));
    if (T->best_p && T->cfg->checkpoint.every_epochs > 0) return copy_resumed_best(T);
    return CT_OK;
}

/* --- the epoch loop -------------------------------------------------------------------------- */

static void fill_ckpt(trun *T, int epoch, long batch)
{
    ct_ckpt_state *ck = &T->ck;
    ck->epoch = epoch;
    ck->batch = batch;
    ck->step = T->step;
    ck->best = T->best;
    ck->best_epoch = T->best_epoch;
    ck->bad_epochs = T->bad_epochs;
    ck->train_seconds = T->train_time;
    ck->train_images = T->train_images;
    ck->last_train_loss = T->r->final_train_loss;
    ck->last_train_acc = T->r->final_train_accuracy;
    ck->last_val_loss = T->r->final_val_loss;
    ck->last_val_acc = T->r->final_val_accuracy;
    ck->last_lr = T->r->learning_rate;
}

/* interrupted before batch b: the steps enqueued so far complete, the checkpoint is taken there
 * (the device running sums of every rank summed into it, so any number of ranks resumes it) */
static int interrupt_mid_epoch(trun *T, int epoch, long b)
{
    CT_TRY(ct_finish(T->ctx));
    fill_ckpt(T, epoch, b);
    T->ck.ep_loss = T->ep_loss;
    T->ck.ep_correct = T->ep_correct;
    T->ck.ep_count = T->ep_count;
    T->ck.ep_seconds = ct_now() - T->t0;
    CT_TRY(ct_buffer_read(T->ctx, T->m->sums, 0, sizeof T->ck.dev_sums, T->ck.dev_sums));
    CT_TRY(ct_dist_sum_f32(T->ck.dev_sums, 4));
    CT_TRY(run_checkpoint(T));
    CT_TRY(ct_dist_barrier()); /* no rank exits (and ends the job) before rank 0 has written */
    logline(&T->L, "interrupted in epoch %d/%d before batch %ld/%ld: checkpoint written", epoch + 1, T->tr->epochs,
            b + 1, T->nb);
    snprintf(T->end_run, sizeof T->end_run, "%.*s.interrupted", (int)(strlen(T->tmp_run) - 8), T->tmp_run);
    T->r->epochs_run = epoch;
    return ct_fail(CT_ERR_INTERRUPTED, "interrupted in epoch %d before batch %ld of %ld", epoch + 1, b + 1, T->nb);
}

static int start_epoch_sums(trun *T, int epoch)
{
    T->ep_loss = T->ep_correct = T->ep_count = 0;
    T->t0 = ct_now();
    if (epoch == T->start_epoch && T->start_batch > 0) {
        /* mid-epoch resume: the host sums so far and the device's running sums as they were (on rank 0) */
        T->ep_loss = T->ck.ep_loss;
        T->ep_correct = T->ck.ep_correct;
        T->ep_count = T->ck.ep_count;
        T->t0 -= T->ck.ep_seconds;
        float zero[4] = {0};
        return ct_buffer_write(T->ctx, T->m->sums, 0, sizeof T->ck.dev_sums, T->rank == 0 ? T->ck.dev_sums : zero);
    }
    double sums[3];
    return ct_model_read_sums(T->m, sums, 1);
}

static int log_point(trun *T, int epoch, long b)
{
    double sums[3];
    CT_TRY(dp_sums(T, sums));
    if (!isfinite(sums[0])) {
        char good[4400];
        run_describe_good(T, good, sizeof good);
        return ct_fail(CT_ERR_RUNTIME,
                       "the training loss became non-finite in epoch %d before batch %ld; %s. Lower "
                       "training.learning_rate or check the data",
                       epoch + 1, b + 1, good);
    }
    T->ep_loss += sums[0];
    T->ep_correct += sums[1];
    T->ep_count += sums[2];
    double el = ct_now() - T->t0;
    if ((b + 1) % T->tr->log_interval == 0)
        logline(&T->L, "epoch %d/%d batch %ld/%ld: loss %.4f, acc %.2f%%, %.0f images/s", epoch + 1, T->tr->epochs,
                b + 1, T->nb, sums[2] > 0 ? sums[0] / sums[2] : 0, sums[2] > 0 ? 100 * sums[1] / sums[2] : 0,
                T->ep_count / el);
    return CT_OK;
}

static void progress_bar(trun *T, int epoch, long b, long done)
{
    double el = ct_now() - T->t0, rate = (double)done / (el > 0 ? el : 1);
    printf("\r\033[Kepoch %d/%d [%-30.*s] %ld/%ld %.0f img/s ETA %.0fs", epoch + 1, T->tr->epochs,
           (int)(30 * (b + 1) / T->nb), "==============================", b + 1, T->nb, rate,
           ((double)T->n_tr - (double)done) / (rate > 0 ? rate : 1));
    fflush(stdout);
}

static int train_epoch(trun *T, int epoch)
{
    const int B = T->tr->batch_size;
    shuffle(T->tidx, (long)T->n_tr, epoch_seed(T, epoch));
    CT_TRY(start_epoch_sums(T, epoch));
    long b0 = epoch == T->start_epoch ? T->start_batch : 0;
    for (long b = b0; b < T->nb; b++) {
        test_pause(T->step);
        if (T->world > 1 ? T->stop : g_interrupted) return interrupt_mid_epoch(T, epoch, b);
        long first = b * B;
        int N = (int)((long)T->n_tr - first < B ? (long)T->n_tr - first : B);
        CT_TRY(dp_train_step(T, first, N, g_interrupted));
        T->step++;
        int last = b == T->nb - 1;
        if ((b + 1) % T->tr->log_interval == 0 || last)
            CT_TRY(log_point(T, epoch, b));
        else if (T->L.tty && (b & 7) == 0)
            progress_bar(T, epoch, b, first + N);
    }
    return ct_finish(T->ctx);
}

static int add_csv_row(trun *T, const char *row)
{
    CT_TRY(tbuf_add(&T->csvtext, row));
    if (T->csv && (fputs(row, T->csv) < 0 || fflush(T->csv) != 0))
        return ct_fail(CT_ERR_RUNTIME, "%s/metrics.csv: write failed: %s", T->tmp_run, strerror(errno));
    return CT_OK;
}

/* the epoch's numbers: validation (running statistics agreed first), log line, metrics row */
static int report_epoch(trun *T, int epoch, double lr, double ep_time)
{
    ct_train_result *r = T->r;
    double vloss = 0, vacc = 0;
    CT_TRY(dp_agree_stats(T));
    CT_TRY(dp_evaluate(T, T->train.images, T->train.labels, T->vidx, (long)T->n_val, &vloss, &vacc));
    double n = T->ep_count;
    r->epochs_run = epoch + 1;
    r->final_train_loss = n > 0 ? T->ep_loss / n : 0;
    r->final_train_accuracy = n > 0 ? 100 * T->ep_correct / n : 0;
    r->final_val_loss = vloss;
    r->final_val_accuracy = 100 * vacc;
    r->learning_rate = lr;
    double secs = ct_now() - T->t0;
    logline(&T->L,
            "Epoch %d/%d: train loss %.4f, train acc %.2f%%, val loss %.4f, val acc %.2f%%, lr %.6f, "
            "%.0f images/s, %.1f s",
            epoch + 1, T->tr->epochs, r->final_train_loss, r->final_train_accuracy, vloss, r->final_val_accuracy, lr,
            (double)T->n_tr / ep_time, secs);
    if (T->world > 1 && T->comm_steps > 0) {
        double per = T->train_time / (double)T->step, comm = T->comm_s / (double)T->comm_steps;
        logline(&T->L, "communication: %.2f ms per step in the gradient reduction (%.1f%% of a %.2f ms step), %d "
                       "processes", 1e3 * comm, per > 0 ? 100 * comm / per : 0, 1e3 * per, T->world);
    }
    char row[256];
    snprintf(row, sizeof row, "%d,%.6f,%.4f,%.6f,%.4f,%.8g,%.1f,%.2f\n", epoch + 1, r->final_train_loss,
             r->final_train_accuracy, vloss, r->final_val_accuracy, lr, (double)T->n_tr / ep_time, secs);
    CT_TRY(add_csv_row(T, row));
    return dp_check_params(T, epoch + 1);
}

/* best weights, early stopping; *stop when it says so */
static int track_best(trun *T, int epoch, int *stop)
{
    const ct_config *cfg = T->cfg;
    double va = T->r->final_val_accuracy;
    *stop = 0;
    if (va > T->best + cfg->early_stopping.min_delta) {
        T->best = va;
        T->best_epoch = epoch + 1;
        T->bad_epochs = 0;
        if (cfg->early_stopping.restore_best) {
            free(T->best_p);
            free(T->best_s);
            T->best_p = T->best_s = NULL;
            CT_TRY(ct_model_snapshot(T->m, &T->best_p, &T->best_s));
        }
        if (cfg->checkpoint.every_epochs > 0) CT_TRY(run_save_best(T, epoch + 1, va));
        return CT_OK;
    }
    T->bad_epochs++;
    if (cfg->early_stopping.use_early_stopping && T->bad_epochs >= cfg->early_stopping.patience) *stop = 1;
    return CT_OK;
}

/* checkpoint: every `every` epochs, after the last one, when stopping, or on interrupt */
static int epoch_checkpoint(trun *T, int epoch, int stop, int interrupted)
{
    const int every = T->cfg->checkpoint.every_epochs;
    if (!((every > 0 && ((epoch + 1) % every == 0 || epoch + 1 == T->tr->epochs || stop)) || interrupted))
        return CT_OK;
    fill_ckpt(T, epoch + 1, 0);
    T->ck.ep_loss = T->ck.ep_correct = T->ck.ep_count = T->ck.ep_seconds = 0;
    memset(T->ck.dev_sums, 0, sizeof T->ck.dev_sums);
    int rc = run_checkpoint(T);
    if (rc != CT_OK) {
        if (!isfinite(T->r->final_val_loss) || strstr(ct_last_error(), "non-finite")) {
            char good[4400];
            run_describe_good(T, good, sizeof good);
            rc = ct_fail_ctx(CT_ERR_RUNTIME, "the weights became non-finite in epoch %d; %s", epoch + 1, good);
        }
        return rc;
    }
    T->good_ckpt_epoch = epoch + 1;
    T->good_is_resume = 0;
    if (interrupted && epoch + 1 < T->tr->epochs && !stop) {
        CT_TRY(ct_dist_barrier());
        logline(&T->L, "interrupted after epoch %d/%d: checkpoint written", epoch + 1, T->tr->epochs);
        snprintf(T->end_run, sizeof T->end_run, "%.*s.interrupted", (int)(strlen(T->tmp_run) - 8), T->tmp_run);
        return ct_fail(CT_ERR_INTERRUPTED, "interrupted after epoch %d", epoch + 1);
    }
    return CT_OK;
}

static int run_epochs(trun *T, int *interrupted)
{
    const ct_config *cfg = T->cfg;
    for (int epoch = T->start_epoch; epoch < T->tr->epochs; epoch++) {
        double lr = T->tr->learning_rate;
        if (cfg->scheduler.use_lr_scheduler) lr *= pow(cfg->scheduler.lr_gamma, epoch / cfg->scheduler.lr_step_size);
        T->opt.lr = (float)lr;
        CT_TRY(train_epoch(T, epoch));
        double ep_time = ct_now() - T->t0;
        T->train_time += ep_time;
        T->train_images += (long)T->n_tr;
        CT_TRY(report_epoch(T, epoch, lr, ep_time));
        int stop = 0;
        CT_TRY(track_best(T, epoch, &stop));
        *interrupted = dp_any(T, g_interrupted || T->stop);
        CT_TRY(epoch_checkpoint(T, epoch, stop, *interrupted));
        if (stop) {
            logline(&T->L, "early stopping: no improvement of more than %g points for %d epochs (best %.2f%%)",
                    cfg->early_stopping.min_delta, T->bad_epochs, T->best);
            T->r->early_stopped = 1;
            break;
        }
    }
    return CT_OK;
}

/* best weights back, test accuracy, the model file */
static int finish(trun *T, int interrupted)
{
    ct_train_result *r = T->r;
    if (interrupted)
        logline(&T->L, "interrupt received after the last epoch: finishing (test, model file); interrupt again to "
                       "exit at once");
    r->best_val_accuracy = T->best;
    r->train_images_per_second = T->train_time > 0 ? (double)T->train_images / T->train_time : 0;
    r->step_seconds = T->step > 0 ? T->train_time / (double)T->step : 0;
    r->comm_seconds_per_step = T->comm_steps > 0 ? T->comm_s / (double)T->comm_steps : 0;
    double saved_acc = r->final_val_accuracy;
    if (T->cfg->early_stopping.restore_best && T->best_p) {
        CT_TRY(ct_model_restore(T->m, T->best_p, T->best_s));
        saved_acc = T->best;
        logline(&T->L, "restored the best weights (validation accuracy %.2f%%)", T->best);
    }
    if (T->test.n) {
        CT_TRY(dp_evaluate(T, T->test.images, T->test.labels, NULL, (long)T->test.n, &r->test_loss,
                           &r->test_accuracy));
        logline(&T->L, "test: accuracy %.4f (%.2f%%), loss %.4f on %zu images", r->test_accuracy,
                100 * r->test_accuracy, r->test_loss, T->test.n);
    }
    return run_save_model(T, saved_acc);
}

static int install_handlers(trun *T, struct sigaction *old_int, struct sigaction *old_term)
{
    if (!T->o->handle_signals) return 0;
    g_interrupted = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, old_int);
    sigaction(SIGTERM, &sa, old_term);
    return 1;
}

static void cleanup(trun *T, int rc)
{
    ct_train_result *r = T->r;
    if (T->csv) fclose(T->csv);
    if (T->L.log) fclose(T->L.log);
    if (rc != CT_OK && T->tmp_run[0] && T->end_run[0]) {
        /* keep a failed or interrupted run (log, metrics, checkpoint) under a name that says so */
        if (rename(T->tmp_run, T->end_run) != 0) snprintf(T->end_run, sizeof T->end_run, "%s", T->tmp_run);
    }
    if (r->checkpoint_path[0]) {
        const char *dir = T->tmp_run[0] ? T->end_run : r->run_dir;
        snprintf(r->checkpoint_dir, sizeof r->checkpoint_dir, "%.4000s", dir);
        snprintf(r->checkpoint_path, sizeof r->checkpoint_path, "%.4000s/last.safetensors", dir);
    }
    free(T->csvtext.s);
    ct_ckpt_state_free(&T->ck);
    ct_st_free(T->ckf);
    free(T->best_p);
    free(T->best_s);
    join_prewarm(T);
    stager_free(&T->s);
    ct_model_free(T->m);
    ct_netdef_free(&T->net);
    ct_ctx_free(T->ctx);
    free(T->tidx);
    free(T->vidx);
    ct_dataset_free(&T->train);
    ct_dataset_free(&T->test);
    free(T->class_names);
    dp_free(T);
}

static int train_run(trun *T)
{
    int interrupted = 0;
    if (T->resuming) CT_TRY(check_resume(T));
    CT_TRY(load_data(T));
    CT_TRY(dp_setup(T));
    CT_TRY(make_model(T));
    CT_TRY(run_open(T));
    log_header(T);
    CT_TRY(setup_optim(T));
    start_prewarm(T);
    CT_TRY(restore_progress(T));
    T->ck.adam = T->opt.adam;
    T->ck.subset = T->subset;
    snprintf(T->ck.stamp, sizeof T->ck.stamp, "%s", T->stamp);
    snprintf(T->ck.device, sizeof T->ck.device, "%s", T->ctx->dev.name);
    CT_TRY(run_epochs(T, &interrupted));
    return finish(T, interrupted);
}

int ct_train(const ct_config *cfg, const ct_train_opts *o, ct_train_result *r)
{
    memset(r, 0, sizeof *r);
    r->test_accuracy = r->test_loss = -1;
    double t_start = ct_now();
    trun *T = calloc(1, sizeof *T);
    if (!T) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    T->cfg = cfg;
    T->tr = &cfg->training;
    T->o = o;
    T->r = r;
    T->resuming = o->resume && *o->resume;
    T->good_ckpt_epoch = -1;
    T->subset = o->subset;
    T->rank = ct_dist_rank();
    T->world = ct_dist_size();
    T->L.on = T->rank == 0;
    T->L.tty = T->L.on && T->world == 1 && isatty(STDOUT_FILENO) && !o->quiet_progress && !o->json;
    r->world_size = T->world;
    r->rank = T->rank;
    struct sigaction old_int, old_term;
    int handlers = install_handlers(T, &old_int, &old_term);
    int rc = train_run(T);
    if (rc == CT_OK) r->seconds = ct_now() - t_start;
    cleanup(T, rc);
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    free(T);
    return rc;
}
