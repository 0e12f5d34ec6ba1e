/* train_run.c: what a training job leaves on disk, written by rank 0 only: the run folder
 * (config.yaml, train.log, metrics.csv; named .running, then after the model, or .failed /
 * .interrupted), checkpoints, best.safetensors and the model file; and the log lines. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/jsonutil.h"
#include "modelio.h"
#include "train_int.h"

static void fmt_acc_tag(char *buf, size_t cap, double pct)
{
    /* 99.12 -> "99p12" */
    snprintf(buf, cap, "%.2f", pct);
    for (char *p = buf; *p; p++)
        if (*p == '.') *p = 'p';
}

void logline(logger *L, const char *fmt, ...)
{
    if (!L->on) return;
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

int tbuf_add(tbuf *b, const char *s)
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

const char CT_CSV_HEADER[] =
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

/* RUNS/<prefix>_<stamp>.running, a stamp no earlier run (or model) used */
static int make_run_dir(trun *T)
{
    const ct_config *cfg = T->cfg;
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(T->stamp, sizeof T->stamp, "%Y%m%d_%H%M%S", &tmv);
    CT_TRY(ct_mkdirs(cfg->output.runs_dir));
    char base[32];
    memcpy(base, T->stamp, sizeof base);
    for (int k = 1;; k++) {
        if (k > 1) snprintf(T->stamp, sizeof T->stamp, "%.20s_%d", base, k);
        snprintf(T->tmp_run, sizeof T->tmp_run, "%s/%s_%s.running", cfg->output.runs_dir,
                 cfg->output.model_name_prefix, T->stamp);
        char base_name[600];
        snprintf(base_name, sizeof base_name, "%s_%s", cfg->output.model_name_prefix, T->stamp);
        int taken = name_taken(cfg->output.runs_dir, base_name) || name_taken(cfg->output.model_save_dir, base_name);
        if (!taken && mkdir(T->tmp_run, 0755) == 0) return CT_OK;
        if ((!taken && errno != EEXIST) || k > 1000) {
            int rc = ct_fail(CT_ERR_RUNTIME, "%s: cannot create the run folder: %s", T->tmp_run, strerror(errno));
            T->tmp_run[0] = 0;
            return rc;
        }
    }
}

int run_open(trun *T)
{
    /* every rank keeps the config (checkpoints, model metadata); rank 0 writes the folder */
    char *yaml = NULL, path[4200];
    CT_TRY(ct_config_to_yaml(T->cfg, &yaml));
    free(T->ck.config_yaml);
    free(T->ck.config_json);
    T->ck.config_json = NULL;
    T->ck.config_yaml = yaml;
    CT_TRY(ct_config_to_json(T->cfg, &T->ck.config_json));
    CT_TRY(tbuf_add(&T->csvtext, T->resuming ? T->ck.metrics_csv : CT_CSV_HEADER));
    free(T->ck.metrics_csv);
    T->ck.metrics_csv = NULL;
    if (T->rank != 0) return CT_OK;
    CT_TRY(make_run_dir(T));
    snprintf(path, sizeof path, "%s/config.yaml", T->tmp_run);
    CT_TRY(ct_write_file_atomic(path, yaml, strlen(yaml)));
    snprintf(path, sizeof path, "%s/train.log", T->tmp_run);
    T->L.log = fopen(path, "w");
    snprintf(path, sizeof path, "%s/metrics.csv", T->tmp_run);
    T->csv = fopen(path, "w");
    if (!T->L.log || !T->csv || fputs(T->csvtext.s, T->csv) < 0 || fflush(T->csv) != 0)
        return ct_fail(CT_ERR_RUNTIME, "%s: cannot write the run folder: %s", T->tmp_run, strerror(errno));
    snprintf(T->end_run, sizeof T->end_run, "%.*s.failed", (int)(strlen(T->tmp_run) - 8), T->tmp_run);
    return CT_OK;
}

int run_checkpoint(trun *T)
{
    CT_TRY(dp_agree_stats(T));
    if (T->rank != 0) return CT_OK;
    char path[4200];
    snprintf(path, sizeof path, "%s/last.safetensors", T->tmp_run);
    T->ck.metrics_csv = T->csvtext.s;
    int rc = ct_checkpoint_save(T->m, path, &T->ck, T->best_p, T->best_s);
    T->ck.metrics_csv = NULL;
    if (rc == CT_OK) snprintf(T->r->checkpoint_path, sizeof T->r->checkpoint_path, "%s", path);
    return rc;
}

int run_save_best(trun *T, int epoch, double acc)
{
    /* best.safetensors: the best epoch's model (a plain state_dict file) */
    CT_TRY(dp_agree_stats(T));
    if (T->rank != 0) return CT_OK;
    char path[4200], ep[16], accs[32];
    snprintf(path, sizeof path, "%s/best.safetensors", T->tmp_run);
    snprintf(ep, sizeof ep, "%d", epoch);
    snprintf(accs, sizeof accs, "%.17g", acc);
    const char *keys[] = {"format", "model", "epoch", "val_accuracy", "config", "device", "cltrain_version",
                          "class_names"};
    const char *vals[] = {"pt", "DigitCNN", ep, accs, T->ck.config_json, T->ctx->dev.name, CLTRAIN_VERSION,
                          T->class_names};
    return ct_modelio_save(T->m, path, keys, vals, 8);
}

static char *model_metrics(trun *T, double saved_acc)
{
    const ct_train_result *r = T->r;
    json_t *w = json_object();
    json_object_set_new(w, "final_val_accuracy", ct_jreal(r->final_val_accuracy));
    json_object_set_new(w, "best_val_accuracy", ct_jreal(T->best));
    json_object_set_new(w, "saved_val_accuracy", ct_jreal(saved_acc));
    json_object_set_new(w, "final_train_loss", ct_jreal(r->final_train_loss));
    json_object_set_new(w, "epochs_run", json_integer((json_int_t)(r->epochs_run)));
    json_object_set_new(w, "configured_epochs", json_integer((json_int_t)(T->tr->epochs)));
    json_object_set_new(w, "model_parameters", json_integer((json_int_t)(r->model_parameters)));
    json_object_set_new(w, "test_accuracy", ct_jreal(r->test_accuracy));
    json_object_set_new(w, "train_images_per_second", ct_jreal(r->train_images_per_second));
    if (T->resuming) json_object_set_new(w, "resumed_from_epoch", json_integer((json_int_t)(r->resumed_from_epoch)));
    if (T->world > 1) json_object_set_new(w, "world_size", json_integer((json_int_t)T->world));
    char *metrics = NULL;
    ct_jdump_take(w, &metrics, NULL);
    return metrics;
}

int run_save_model(trun *T, double saved_acc)
{
    const ct_config *cfg = T->cfg;
    ct_train_result *r = T->r;
    CT_TRY(dp_agree_stats(T));
    char tag[32];
    fmt_acc_tag(tag, sizeof tag, saved_acc);
    snprintf(r->model_name, sizeof r->model_name, "%s_%s_acc%s", cfg->output.model_name_prefix, T->stamp, tag);
    snprintf(r->run_dir, sizeof r->run_dir, "%s/%s", cfg->output.runs_dir, r->model_name);
    if (T->rank != 0) return CT_OK;
    snprintf(T->end_run, sizeof T->end_run, "%s", r->run_dir);
    if (cfg->output.save_model) {
        CT_TRY(ct_mkdirs(cfg->output.model_save_dir));
        snprintf(r->model_path, sizeof r->model_path, "%s/%s.safetensors", cfg->output.model_save_dir,
                 r->model_name);
        char *metrics = model_metrics(T, saved_acc);
        char *data_md5 = NULL;
        int rc = ct_dataset_md5_json(&T->train, T->test.n ? &T->test : NULL, &data_md5);
        const char *keys[] = {"format", "model", "model_name", "config", "metrics", "device", "cltrain_version",
                              "data_md5", "class_names"};
        const char *vals[] = {"pt", "DigitCNN", r->model_name, T->ck.config_json, metrics ? metrics : "{}",
                              T->ctx->dev.name, CLTRAIN_VERSION, data_md5 ? data_md5 : "{}", T->class_names};
        if (rc == CT_OK) rc = ct_modelio_save(T->m, r->model_path, keys, vals, 9);
        free(metrics);
        free(data_md5);
        CT_TRY(rc);
        logline(&T->L, "model saved: %s", r->model_path);
    }
    fclose(T->csv);
    T->csv = NULL;
    if (T->L.log) fclose(T->L.log);
    T->L.log = NULL;
    if (rename(T->tmp_run, r->run_dir) != 0) {
        int rc = ct_fail(CT_ERR_RUNTIME, "cannot rename run folder %s to %s: %s", T->tmp_run, r->run_dir,
                         strerror(errno));
        snprintf(T->end_run, sizeof T->end_run, "%.*s.failed", (int)(strlen(T->tmp_run) - 8), T->tmp_run);
        return rc;
    }
    T->tmp_run[0] = 0;
    return CT_OK;
}

/* "the last good checkpoint is ..." for messages about a run that went non-finite */
void run_describe_good(trun *T, char *buf, size_t cap)
{
    if (T->good_is_resume)
        snprintf(buf, cap, "the last good checkpoint is %s (the one resumed from)", T->o->resume);
    else if (T->good_ckpt_epoch >= 0)
        snprintf(buf, cap, "the last good checkpoint is %s/last.safetensors (epoch %d)", T->end_run,
                 T->good_ckpt_epoch);
    else
        snprintf(buf, cap, "no checkpoint was written yet");
}
