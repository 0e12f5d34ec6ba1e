/* train.c: the training loop. Per epoch: shuffle, batches prepared on the device (optionally
 * augmented), one enqueued training step per batch with no host read-back except every
 * log_interval batches, validation, StepLR, early stopping on validation accuracy (percent),
 * best weights kept; then the model file, the run folder and the test accuracy. */
#define _POSIX_C_SOURCE 200809L
#include "train.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "augment.h"
#include "checkpoint.h"
#include "io/jsonutil.h"
#include "io/pipes.h"
#include "modelio.h"
#include "nn/netparse.h"
#include "split.h"
#include "tools.h"


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

/* double-buffered upload of raw batches */
typedef struct {
    size_t isz; /* bytes per image */
    cl_mem u8[2];
    uint8_t *host_u8[2];
    int32_t *host_lab[2];
    cl_event done[2];
    int cur;
} stager;

static int stager_init(ct_ctx *c, stager *s, int max_batch, size_t isz)
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

int ct_evaluate_images(ct_model *m, const ct_augment *norm, int classes, const uint8_t *images, const uint8_t *labels,
                       const uint32_t *idx, long n, double *loss, double *acc, float *logits)
{
    stager s;
    ct_augment plain = *norm;
    plain.enabled = 0;
    size_t isz = plain.c > 0 ? (size_t)plain.c * plain.h * plain.w : 784;
    int rc = stager_init(m->ctx, &s, m->max_batch, isz);
    double sums[3];
    if (rc == CT_OK) rc = ct_model_read_sums(m, sums, 1);
    for (long b = 0; b < n && rc == CT_OK; b += m->max_batch) {
        int N = (int)(n - b < m->max_batch ? n - b : m->max_batch);
        cl_mem dev = NULL;
        rc = stage_batch(m, &s, images, labels, idx, b, N, &dev);
        if (rc == CT_OK) rc = ct_batch_prepare(m->ctx, &plain, N, dev, m->x, 0, 0);
        if (rc == CT_OK) rc = ct_model_forward(m, N, 0, 0, 0);
        if (rc == CT_OK && labels) rc = ct_model_loss(m, N, 0);
        if (rc == CT_OK && logits)
            rc = ct_buffer_read(m->ctx, m->logits, 0, (size_t)N * classes * 4, logits + (size_t)b * classes);
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
    if (ct_log_sink) ct_log_sink(0, buf);
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
        /* the test's signal may be handled by another thread (the OpenCL runtime's): give it up to
         * 2 s to land, so the interruption happens here and not one step later */
        for (int i = 0; i < 2000 && !g_interrupted; i++) {
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

/* growing text buffer for metrics.csv */
typedef struct {
    char *s;
    size_t n, cap;
} tbuf;

static int tbuf_add(tbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->n + l + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 1024) + l;
        char *p = realloc(b->s, nc);
        if (!p) return ct_fail(CT_ERR_NOMEM, "out of host memory (metrics)");
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
    return CT_OK;
}

static const char CSV_HEADER[] =
    "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,images_per_second,epoch_seconds\n";

int ct_train_resume_config(const char *arg, ct_config *cfg, char *path, size_t cap, long *subset)
{
    CT_TRY(ct_checkpoint_resolve(arg, path, cap));
    ct_ckpt_state ck;
    ct_st_file *f;
    CT_TRY(ct_checkpoint_read(path, &ck, &f));
    ct_st_free(f);
    *subset = ck.subset;
    /* the stored YAML goes through the ordinary config reader (all its checks) via a temp file */
    const char *tdir = getenv("TMPDIR");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/cltrain-resume-XXXXXX", tdir && *tdir ? tdir : "/tmp");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        ct_ckpt_state_free(&ck);
        return ct_fail(CT_ERR_RUNTIME, "%s: cannot create a temp file: %s", tmp, strerror(errno));
    }
    size_t len = strlen(ck.config_yaml), off = 0;
    int rc = CT_OK;
    while (off < len) {
        ssize_t w = write(fd, ck.config_yaml + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            rc = ct_fail(CT_ERR_RUNTIME, "%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    close(fd);
    ct_config loaded = *cfg;
    if (rc == CT_OK && (rc = ct_config_load(&loaded, tmp)) != CT_OK)
        rc = ct_fail_ctx(CT_ERR_INPUT, "%s: the config stored in the checkpoint is invalid", path);
    unlink(tmp);
    if (rc == CT_OK) *cfg = loaded;
    ct_ckpt_state_free(&ck);
    return rc;
}

/* Writes RUN/last.safetensors (and nothing else); remembers the path in r. */
static int write_checkpoint(ct_model *m, const char *run, ct_ckpt_state *ck, const float *bp, const float *bs,
                            ct_train_result *r)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/last.safetensors", run);
    CT_TRY(ct_checkpoint_save(m, path, ck, bp, bs));
    snprintf(r->checkpoint_path, sizeof r->checkpoint_path, "%s", path);
    return CT_OK;
}

/* Whether dir holds NAME.* or NAME_acc* (a run folder or model file of a run with this stamp,
 * e.g. the run a resumed run started from within the same second). */
static int name_taken(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = strlen(name);
    int taken = 0;
    struct dirent *e;
    while (!taken && (e = readdir(d)))
        taken = !strncmp(e->d_name, name, n) && (e->d_name[n] == '.' || !strncmp(e->d_name + n, "_acc", 4));
    closedir(d);
    return taken;
}

static int every_on(const ct_config *cfg) { return cfg->checkpoint.every_epochs > 0; }

/* "the last good checkpoint is ..." for messages about a run that went non-finite */
static void describe_good_checkpoint(char *buf, size_t cap, int is_resume, const char *resume, const char *run_dir,
                                     int epoch)
{
    if (is_resume)
        snprintf(buf, cap, "the last good checkpoint is %s (the one resumed from)", resume);
    else if (epoch >= 0)
        snprintf(buf, cap, "the last good checkpoint is %s/last.safetensors (epoch %d)", run_dir, epoch);
    else
        snprintf(buf, cap, "no checkpoint was written yet");
}

int ct_train(const ct_config *cfg, const ct_train_opts *o, ct_train_result *r)
{
    memset(r, 0, sizeof *r);
    r->test_accuracy = r->test_loss = -1;
    double t_start = ct_now();
    int rc;
    const ct_config_training *tr = &cfg->training;
    ct_dataset train = {0}, test = {0};
    char *class_names = NULL; /* JSON list for the model files' metadata */
    uint32_t *tidx = NULL, *vidx = NULL;
    size_t n_tr = 0, n_val = 0;
    ct_ctx *ctx = NULL;
    ct_model *m = NULL;
    stager s;
    memset(&s, 0, sizeof s);
    float *best_p = NULL, *best_s = NULL;
    logger L = {NULL, isatty(STDOUT_FILENO) && !o->quiet_progress && !o->json};
    FILE *csv = NULL;
    char tmp_run[4096] = "", end_run[4200] = "";
    tbuf csvtext = {0};
    ct_ckpt_state ck;
    memset(&ck, 0, sizeof ck);
    ct_st_file *ckf = NULL;
    ct_netdef net = {0};
    int resuming = o->resume && *o->resume;
    int good_ckpt_epoch = -1; /* epochs in the last good checkpoint (-1: none) */
    int good_is_resume = 0;   /* ... which is the one this run resumed from */
    struct sigaction old_int, old_term;
    int handlers = 0;
    long subset = o->subset;

    if (resuming) {
        if ((rc = ct_checkpoint_read(o->resume, &ck, &ckf)) != CT_OK) goto out;
        subset = ck.subset;
        int adam = strcmp(tr->optimizer_type, "adam") == 0;
        if (ck.adam != adam) {
            rc = ct_fail(CT_ERR_USAGE, "%s: the checkpoint holds %s state; training.optimizer_type cannot change on resume",
                         o->resume, ck.adam ? "Adam" : "SGD");
            goto out;
        }
        if (ck.batch == 0 && ck.epoch >= tr->epochs) {
            rc = ct_fail(CT_ERR_USAGE,
                         "%s: the checkpoint has finished %d of training.epochs=%d; to train longer, add --set "
                         "training.epochs=N with N > %d",
                         o->resume, ck.epoch, tr->epochs, ck.epoch);
            goto out;
        }
        if (ck.batch == 0 && cfg->early_stopping.use_early_stopping && ck.bad_epochs >= cfg->early_stopping.patience) {
            rc = ct_fail(CT_ERR_USAGE,
                         "%s: the run stopped early after epoch %d (no improvement for %d epochs); raise "
                         "early_stopping.patience or turn early stopping off to continue",
                         o->resume, ck.epoch, ck.bad_epochs);
            goto out;
        }
        if (strncmp(ck.metrics_csv, CSV_HEADER, sizeof CSV_HEADER - 1) != 0) {
            rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'metrics_csv' does not start with the metrics.csv header",
                         o->resume);
            goto out;
        }
    }

    if ((rc = ct_load_train_data(cfg, 1, &train, &test, 0)) != CT_OK) goto out;
    if ((rc = ct_dataset_class_names_json(&train, &class_names)) != CT_OK) goto out;
    /* the network: a resumed run's from its checkpoint, else the config's */
    if ((rc = ct_modelio_config_netdef(cfg, &net)) != CT_OK) goto out;
    if (resuming) {
        ct_netdef cn;
        if ((rc = ct_checkpoint_netdef(ckf, o->resume, &net, &cn)) != CT_OK) goto out;
        ct_netdef_free(&net);
        net = cn;
    }
    /* a config's network: section is checked with its file positions; a checkpoint's network names
     * the checkpoint, the DigitCNN of the model: keys says what to set */
    if (!resuming && cfg->network)
        rc = ct_config_check_data(cfg, train.c, train.h, train.w, train.classes);
    else
        rc = ct_dataset_check_network(&train, net.in_c, net.in_h, net.in_w, net.classes,
                                      resuming ? o->resume : "the network (the model: section)");
    if (rc != CT_OK) goto out;
    {
        /* data.mean / data.std must fit the channels before anything is written */
        ct_augment probe;
        memset(&probe, 0, sizeof probe);
        if ((rc = ct_data_norm(cfg, &train, &probe)) != CT_OK) goto out;
    }
    if ((rc = ct_split_stratified(train.labels, train.n, train.classes, tr->validation_split, (uint64_t)tr->seed, &tidx, &n_tr,
                                  &vidx, &n_val)) != CT_OK)
        goto out;
    if (subset > 0 && (size_t)subset < n_tr) {
        /* a stratified sample: every k-th index of the sorted split keeps class proportions */
        double keep = (double)subset / (double)n_tr;
        size_t w = 0;
        for (size_t i = 0; i < n_tr && (long)w < subset; i++)
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
    r->test_samples = (long)test.n;
    const long nb = ((long)n_tr + tr->batch_size - 1) / tr->batch_size;
    if (resuming && ck.batch > nb) {
        rc = ct_fail(CT_ERR_INPUT, "%s: the checkpoint is at batch %ld of an epoch that has %ld batches here: the data "
                     "or training.batch_size differ from the checkpointed run", o->resume, ck.batch, nb);
        goto out;
    }

    const char *dev = o->device && *o->device ? o->device : cfg->device;
    if ((rc = ct_ctx_create(dev, 0, &ctx)) != CT_OK) goto out;
    snprintf(r->device, sizeof r->device, "%s", ctx->dev.name);
    int max_batch = tr->batch_size > 250 ? tr->batch_size : 250;
    unsigned long long need = 0;
    if ((rc = ct_model_memory(&net, max_batch, 0, &need, NULL)) != CT_OK) goto out;
    if (need > ctx->dev.global_mem) {
        rc = ct_fail(CT_ERR_NOMEM,
                     "the model needs about %.0f MiB of device memory at batch %d (parameters, gradients, optimizer "
                     "state, activations, workspaces) but '%s' has %.0f MiB; reduce training.batch_size",
                     need / 1048576.0, max_batch, ctx->dev.name, ctx->dev.global_mem / 1048576.0);
        goto out;
    }
    if ((rc = ct_model_create(ctx, &net, max_batch, &m)) != CT_OK) goto out;
    if ((rc = ct_model_init_params(m, (uint64_t)tr->seed)) != CT_OK) goto out;
    if (resuming && (rc = ct_checkpoint_apply(m, ckf, o->resume, &ck, &best_p, &best_s)) != CT_OK) goto out;
    r->model_parameters = ct_model_param_count(m);
    r->configured_epochs = tr->epochs;
    if ((rc = stager_init(ctx, &s, tr->batch_size, ct_dataset_image_size(&train))) != CT_OK) goto out;

    /* run folder (renamed to the model's name at the end); a resumed run gets a new one */
    char stamp[32];
    {
        time_t now = time(NULL);
        struct tm tmv;
        localtime_r(&now, &tmv);
        strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tmv);
        if ((rc = ct_mkdirs(cfg->output.runs_dir)) != CT_OK) goto out;
        char base[32];
        memcpy(base, stamp, sizeof base);
        for (int k = 1;; k++) {
            if (k > 1) snprintf(stamp, sizeof stamp, "%.20s_%d", base, k);
            snprintf(tmp_run, sizeof tmp_run, "%s/%s_%s.running", cfg->output.runs_dir,
                     cfg->output.model_name_prefix, stamp);
            char base_name[600];
            snprintf(base_name, sizeof base_name, "%s_%s", cfg->output.model_name_prefix, stamp);
            int taken = name_taken(cfg->output.runs_dir, base_name) || name_taken(cfg->output.model_save_dir, base_name);
            if (!taken && mkdir(tmp_run, 0755) == 0) break;
            if ((!taken && errno != EEXIST) || k > 1000) {
                rc = ct_fail(CT_ERR_RUNTIME, "%s: cannot create the run folder: %s", tmp_run, strerror(errno));
                tmp_run[0] = 0;
                goto out;
            }
        }
    }
    {
        char *yaml = NULL, path[4200];
        if ((rc = ct_config_to_yaml(cfg, &yaml)) != CT_OK) goto out;
        snprintf(path, sizeof path, "%s/config.yaml", tmp_run);
        rc = ct_write_file_atomic(path, yaml, strlen(yaml));
        free(ck.config_yaml);
        free(ck.config_json);
        ck.config_json = NULL;
        ck.config_yaml = yaml;
        if (rc) goto out;
        if ((rc = ct_config_to_json(cfg, &ck.config_json)) != CT_OK) goto out;
        if ((rc = tbuf_add(&csvtext, resuming ? ck.metrics_csv : CSV_HEADER)) != CT_OK) goto out;
        free(ck.metrics_csv);
        ck.metrics_csv = NULL;
        snprintf(path, sizeof path, "%s/train.log", tmp_run);
        L.log = fopen(path, "w");
        snprintf(path, sizeof path, "%s/metrics.csv", tmp_run);
        csv = fopen(path, "w");
        if (!L.log || !csv || fputs(csvtext.s, csv) < 0 || fflush(csv) != 0) {
            rc = ct_fail(CT_ERR_RUNTIME, "%s: cannot write the run folder: %s", tmp_run, strerror(errno));
            goto out;
        }
    }
    snprintf(end_run, sizeof end_run, "%.*s.failed", (int)(strlen(tmp_run) - 8), tmp_run);
    logline(&L, "cltrain %s: training DigitCNN (%lld parameters) on %s", CLTRAIN_VERSION, r->model_parameters,
            ctx->dev.name);
    logline(&L, "data: %s: %d x %d x %d images, %d classes: %zu training, %zu validation (stratified %.0f/%.0f, seed "
            "%lld), %zu test images", cfg->data.dir, train.c, train.h, train.w, train.classes, n_tr, n_val, 100 * (1 - tr->validation_split), 100 * tr->validation_split,
            (long long)tr->seed, test.n);
    logline(&L, "optimizer %s, lr %g, batch %d, epochs %d, weight decay %g, augmentation %s, early stopping %s",
            tr->optimizer_type, tr->learning_rate, tr->batch_size, tr->epochs, tr->weight_decay,
            cfg->augmentation.use_data_augmentation ? "on" : "off",
            cfg->early_stopping.use_early_stopping ? "on" : "off");
    if (resuming) {
        if (ck.batch > 0)
            logline(&L, "resumed from %s: in epoch %d before batch %ld, step %llu (checkpoint written on %s)",
                    o->resume, ck.epoch + 1, ck.batch + 1, ck.step, ck.device);
        else
            logline(&L, "resumed from %s: after epoch %d, step %llu (checkpoint written on %s)", o->resume, ck.epoch,
                    ck.step, ck.device);
        if (strcmp(ck.device, ctx->dev.name) != 0)
            logline(&L, "note: the checkpoint comes from another device; results continue but are not bit-identical "
                        "to a run on that device");
        r->resumed_from_epoch = ck.epoch;
        good_is_resume = 1;
    }

    if (o->handle_signals) {
        g_interrupted = 0;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        handlers = 1;
    }

    ct_optim opt = {strcmp(tr->optimizer_type, "adam") == 0, (float)tr->learning_rate, 0.9f, 0.999f, 1e-8f,
                    (float)tr->momentum, (float)tr->weight_decay};
    ct_augment aug;
    memset(&aug, 0, sizeof aug);
    aug.enabled = cfg->augmentation.use_data_augmentation;
    aug.rotation_degrees = (float)cfg->augmentation.rotation_degrees;
    aug.translation = (float)cfg->augmentation.translation_pixels;
    aug.scale_min = (float)cfg->augmentation.scale_range_min;
    aug.scale_max = (float)cfg->augmentation.scale_range_max;
    aug.hflip = cfg->augmentation.horizontal_flip;
    if ((rc = ct_data_norm(cfg, &train, &aug)) != CT_OK) goto out;
    double best = -1, train_time = 0;
    long long train_images = 0;
    int bad_epochs = 0, best_epoch = 0, start_epoch = 0;
    long start_batch = 0;
    unsigned step = 0;
    if (resuming) {
        best = ck.best;
        best_epoch = ck.best_epoch;
        bad_epochs = ck.bad_epochs;
        train_time = ck.train_seconds;
        train_images = ck.train_images;
        step = (unsigned)ck.step;
        start_epoch = ck.epoch;
        start_batch = ck.batch;
        r->epochs_run = ck.epoch;
        r->final_train_loss = ck.last_train_loss;
        r->final_train_accuracy = ck.last_train_acc;
        r->final_val_loss = ck.last_val_loss;
        r->final_val_accuracy = ck.last_val_acc;
        r->learning_rate = ck.last_lr;
        /* the permutation of an epoch builds on the previous one: replay the earlier shuffles */
        for (int e = 0; e < start_epoch; e++)
            shuffle(tidx, (long)n_tr, (uint64_t)tr->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)e + 1);
    }
    if (resuming && best_p && every_on(cfg)) {
        /* the new run folder gets the best epoch's model too (current weights put back after) */
        float *cur_p = NULL, *cur_s = NULL;
        char path[4200], ep[16], acc[32];
        snprintf(path, sizeof path, "%s/best.safetensors", tmp_run);
        snprintf(ep, sizeof ep, "%d", best_epoch);
        snprintf(acc, sizeof acc, "%.17g", best);
        const char *keys[] = {"format", "model", "epoch", "val_accuracy", "config", "device", "cltrain_version",
                              "class_names"};
        const char *vals[] = {"pt", "DigitCNN", ep, acc, ck.config_json, ctx->dev.name, CLTRAIN_VERSION, class_names};
        rc = ct_model_snapshot(m, &cur_p, &cur_s);
        if (rc == CT_OK) rc = ct_model_restore(m, best_p, best_s);
        if (rc == CT_OK) rc = ct_modelio_save(m, path, keys, vals, 8);
        if (cur_p && cur_s) {
            int rc2 = ct_model_restore(m, cur_p, cur_s);
            if (rc == CT_OK) rc = rc2;
        }
        free(cur_p);
        free(cur_s);
        if (rc) goto out;
    }
    ck.adam = opt.adam;
    ck.subset = subset;
    snprintf(ck.stamp, sizeof ck.stamp, "%s", stamp);
    snprintf(ck.device, sizeof ck.device, "%s", ctx->dev.name);
    const int every = cfg->checkpoint.every_epochs;
    for (int epoch = start_epoch; epoch < tr->epochs; epoch++) {
        double lr = tr->learning_rate;
        if (cfg->scheduler.use_lr_scheduler) lr *= pow(cfg->scheduler.lr_gamma, epoch / cfg->scheduler.lr_step_size);
        opt.lr = (float)lr;
        shuffle(tidx, (long)n_tr, (uint64_t)tr->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)epoch + 1);
        double sums[3];
        double ep_loss = 0, ep_correct = 0, ep_count = 0;
        double t0 = ct_now();
        long b0 = 0;
        if (epoch == start_epoch && start_batch > 0) {
            /* mid-epoch resume: the host sums so far and the device's running sums as they were */
            ep_loss = ck.ep_loss;
            ep_correct = ck.ep_correct;
            ep_count = ck.ep_count;
            t0 -= ck.ep_seconds;
            b0 = start_batch;
            if ((rc = ct_buffer_write(ctx, m->sums, 0, sizeof ck.dev_sums, ck.dev_sums)) != CT_OK) goto out;
        } else if ((rc = ct_model_read_sums(m, sums, 1)) != CT_OK) {
            goto out;
        }
        for (long b = b0; b < nb; b++) {
            test_pause(step);
            if (g_interrupted) {
                /* the steps enqueued so far complete; the checkpoint is taken before batch b */
                if ((rc = ct_finish(ctx)) != CT_OK) goto out;
                ck.epoch = epoch;
                ck.batch = b;
                ck.step = step;
                ck.best = best;
                ck.best_epoch = best_epoch;
                ck.bad_epochs = bad_epochs;
                ck.train_seconds = train_time;
                ck.train_images = train_images;
                ck.ep_loss = ep_loss;
                ck.ep_correct = ep_correct;
                ck.ep_count = ep_count;
                ck.ep_seconds = ct_now() - t0;
                if ((rc = ct_buffer_read(ctx, m->sums, 0, sizeof ck.dev_sums, ck.dev_sums)) != CT_OK) goto out;
                ck.last_train_loss = r->final_train_loss;
                ck.last_train_acc = r->final_train_accuracy;
                ck.last_val_loss = r->final_val_loss;
                ck.last_val_acc = r->final_val_accuracy;
                ck.last_lr = r->learning_rate;
                ck.metrics_csv = csvtext.s;
                rc = write_checkpoint(m, tmp_run, &ck, best_p, best_s, r);
                ck.metrics_csv = NULL;
                if (rc) goto out;
                logline(&L, "interrupted in epoch %d/%d before batch %ld/%ld: checkpoint written", epoch + 1,
                        tr->epochs, b + 1, nb);
                snprintf(end_run, sizeof end_run, "%.*s.interrupted", (int)(strlen(tmp_run) - 8), tmp_run);
                r->epochs_run = epoch;
                rc = ct_fail(CT_ERR_INTERRUPTED, "interrupted in epoch %d before batch %ld of %ld", epoch + 1, b + 1, nb);
                goto out;
            }
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
                    char good[4400];
                    describe_good_checkpoint(good, sizeof good, good_is_resume, o->resume, end_run, good_ckpt_epoch);
                    rc = ct_fail(CT_ERR_RUNTIME,
                                 "the training loss became non-finite in epoch %d before batch %ld; %s. Lower "
                                 "training.learning_rate or check the data",
                                 epoch + 1, b + 1, good);
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
        if ((rc = ct_evaluate_images(m, &aug, train.classes, train.images, train.labels, vidx, (long)n_val, &vloss,
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
        {
            char row[256];
            snprintf(row, sizeof row, "%d,%.6f,%.4f,%.6f,%.4f,%.8g,%.1f,%.2f\n", epoch + 1, tl, ta, vloss, va, lr,
                     (double)n_tr / ep_time, ct_now() - t0);
            if ((rc = tbuf_add(&csvtext, row)) != CT_OK) goto out;
            if (fputs(row, csv) < 0 || fflush(csv) != 0) {
                rc = ct_fail(CT_ERR_RUNTIME, "%s/metrics.csv: write failed: %s", tmp_run, strerror(errno));
                goto out;
            }
        }
        int improved = 0, stop = 0;
        if (va > best + cfg->early_stopping.min_delta) {
            best = va;
            best_epoch = epoch + 1;
            bad_epochs = 0;
            improved = 1;
            if (cfg->early_stopping.restore_best) {
                free(best_p);
                free(best_s);
                best_p = best_s = NULL;
                if ((rc = ct_model_snapshot(m, &best_p, &best_s)) != CT_OK) goto out;
            }
        } else {
            bad_epochs++;
            if (cfg->early_stopping.use_early_stopping && bad_epochs >= cfg->early_stopping.patience) stop = 1;
        }
        if (improved && every > 0) {
            /* best.safetensors: the best epoch's model (a plain state_dict file) */
            char path[4200], ep[16], acc[32];
            snprintf(path, sizeof path, "%s/best.safetensors", tmp_run);
            snprintf(ep, sizeof ep, "%d", epoch + 1);
            snprintf(acc, sizeof acc, "%.17g", va);
            const char *keys[] = {"format", "model", "epoch", "val_accuracy", "config", "device", "cltrain_version",
                                  "class_names"};
            const char *vals[] = {"pt", "DigitCNN", ep, acc, ck.config_json, ctx->dev.name, CLTRAIN_VERSION,
                                  class_names};
            if ((rc = ct_modelio_save(m, path, keys, vals, 8)) != CT_OK) goto out;
        }
        /* checkpoint: every `every` epochs, after the last one, when stopping, or on interrupt */
        if ((every > 0 && ((epoch + 1) % every == 0 || epoch + 1 == tr->epochs || stop)) || g_interrupted) {
            ck.epoch = epoch + 1;
            ck.batch = 0;
            ck.step = step;
            ck.best = best;
            ck.best_epoch = best_epoch;
            ck.bad_epochs = bad_epochs;
            ck.train_seconds = train_time;
            ck.train_images = train_images;
            ck.ep_loss = ck.ep_correct = ck.ep_count = ck.ep_seconds = 0;
            memset(ck.dev_sums, 0, sizeof ck.dev_sums);
            ck.last_train_loss = tl;
            ck.last_train_acc = ta;
            ck.last_val_loss = vloss;
            ck.last_val_acc = va;
            ck.last_lr = lr;
            ck.metrics_csv = csvtext.s;
            rc = write_checkpoint(m, tmp_run, &ck, best_p, best_s, r);
            ck.metrics_csv = NULL;
            if (rc != CT_OK) {
                if (!isfinite(vloss) || strstr(ct_last_error(), "non-finite")) {
                    char good[4400];
                    describe_good_checkpoint(good, sizeof good, good_is_resume, o->resume, end_run, good_ckpt_epoch);
                    rc = ct_fail_ctx(CT_ERR_RUNTIME, "the weights became non-finite in epoch %d; %s", epoch + 1,
                                     good);
                }
                goto out;
            }
            good_ckpt_epoch = epoch + 1;
            good_is_resume = 0;
            if (g_interrupted && epoch + 1 < tr->epochs && !stop) {
                logline(&L, "interrupted after epoch %d/%d: checkpoint written", epoch + 1, tr->epochs);
                snprintf(end_run, sizeof end_run, "%.*s.interrupted", (int)(strlen(tmp_run) - 8), tmp_run);
                rc = ct_fail(CT_ERR_INTERRUPTED, "interrupted after epoch %d", epoch + 1);
                goto out;
            }
        }
        if (stop) {
            logline(&L, "early stopping: no improvement of more than %g points for %d epochs (best %.2f%%)",
                    cfg->early_stopping.min_delta, bad_epochs, best);
            r->early_stopped = 1;
            break;
        }
    }
    if (g_interrupted)
        logline(&L, "interrupt received after the last epoch: finishing (test, model file); interrupt again to exit "
                    "at once");
    r->best_val_accuracy = best;
    r->train_images_per_second = train_time > 0 ? (double)train_images / train_time : 0;
    double saved_acc = r->final_val_accuracy;
    if (cfg->early_stopping.restore_best && best_p) {
        if ((rc = ct_model_restore(m, best_p, best_s)) != CT_OK) goto out;
        saved_acc = best;
        logline(&L, "restored the best weights (validation accuracy %.2f%%)", best);
    }
    if (test.n) {
        if ((rc = ct_evaluate_images(m, &aug, train.classes, test.images, test.labels, NULL, (long)test.n,
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
        snprintf(end_run, sizeof end_run, "%s", r->run_dir);
        if (cfg->output.save_model) {
            if ((rc = ct_mkdirs(cfg->output.model_save_dir)) != CT_OK) goto out;
            snprintf(r->model_path, sizeof r->model_path, "%s/%s.safetensors", cfg->output.model_save_dir,
                     r->model_name);
            json_t *w = json_object();
            json_object_set_new(w, "final_val_accuracy", ct_jreal(r->final_val_accuracy));
            json_object_set_new(w, "best_val_accuracy", ct_jreal(best));
            json_object_set_new(w, "saved_val_accuracy", ct_jreal(saved_acc));
            json_object_set_new(w, "final_train_loss", ct_jreal(r->final_train_loss));
            json_object_set_new(w, "epochs_run", json_integer((json_int_t)(r->epochs_run)));
            json_object_set_new(w, "configured_epochs", json_integer((json_int_t)(tr->epochs)));
            json_object_set_new(w, "model_parameters", json_integer((json_int_t)(r->model_parameters)));
            json_object_set_new(w, "test_accuracy", ct_jreal(r->test_accuracy));
            json_object_set_new(w, "train_images_per_second", ct_jreal(r->train_images_per_second));
            if (resuming) {
                json_object_set_new(w, "resumed_from_epoch", json_integer((json_int_t)(r->resumed_from_epoch)));
            }
            char *metrics = NULL;
            ct_jdump_take(w, &metrics, NULL);
            char *data_md5 = NULL;
            rc = ct_dataset_md5_json(&train, test.n ? &test : NULL, &data_md5);
            const char *keys[] = {"format", "model", "model_name", "config", "metrics", "device", "cltrain_version",
                                  "data_md5", "class_names"};
            const char *vals[] = {"pt", "DigitCNN", r->model_name, ck.config_json, metrics ? metrics : "{}",
                                  ctx->dev.name, CLTRAIN_VERSION, data_md5 ? data_md5 : "{}", class_names};
            if (rc == CT_OK) rc = ct_modelio_save(m, r->model_path, keys, vals, 9);
            free(metrics);
            free(data_md5);
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
        snprintf(end_run, sizeof end_run, "%.*s.failed", (int)(strlen(tmp_run) - 8), tmp_run);
        goto out;
    }
    tmp_run[0] = 0;
    r->seconds = ct_now() - t_start;
    rc = CT_OK;
out:
    if (csv) fclose(csv);
    if (L.log) fclose(L.log);
    if (rc != CT_OK && tmp_run[0] && end_run[0]) {
        /* keep a failed or interrupted run (log, metrics, checkpoint) under a name that says so */
        if (rename(tmp_run, end_run) != 0) snprintf(end_run, sizeof end_run, "%s", tmp_run);
    }
    if (r->checkpoint_path[0]) {
        const char *dir = tmp_run[0] ? end_run : r->run_dir;
        snprintf(r->checkpoint_dir, sizeof r->checkpoint_dir, "%s", dir);
        snprintf(r->checkpoint_path, sizeof r->checkpoint_path, "%s/last.safetensors", dir);
    }
    if (handlers) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    free(csvtext.s);
    ct_ckpt_state_free(&ck);
    ct_st_free(ckf);
    free(best_p);
    free(best_s);
    stager_free(&s);
    ct_model_free(m);
    ct_netdef_free(&net);
    ct_ctx_free(ctx);
    free(tidx);
    free(vidx);
    ct_dataset_free(&train);
    ct_dataset_free(&test);
    free(class_names);
    return rc;
}
