#define _POSIX_C_SOURCE 200809L
/* test_checkpoint.c: checkpoints round-trip the whole training state bit for bit (parameters,
 * running statistics, optimizer moments, step counters, best weights, metadata), training
 * continues identically after a reload, corrupt or mismatched checkpoints and model files
 * (tests/fixtures/bad/) are refused with the file named, and atomic writes survive a full disk
 * (simulated with RLIMIT_FSIZE) leaving the previous file intact and no temp file. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "checkpoint.h"
#include "modelio.h"
#include "testutil.h"

static float *pool(ct_model *m, cl_mem b, size_t n)
{
    float *p = calloc(n + 1, sizeof(float));
    TU_CHECK(ct_buffer_read(m->ctx, b, 0, n * 4, p) == CT_OK, "%s", ct_last_error());
    return p;
}

/* DigitCNN with the given sizes (p 0.1/0.2, batch norm) */
static ct_netdef digit(int c1, int c2, int c3, int hidden)
{
    ct_netdef n;
    memset(&n, 0, sizeof n);
    TU_CHECK(ct_netdef_digitcnn(c1, c2, c3, hidden, 0.1, 0.2, 1, &n) == CT_OK, "%s", ct_last_error());
    return n;
}

static int same_tensors(ct_model *a, ct_model *b, cl_mem pa, cl_mem pb, int params_pool)
{
    float *x = pool(a, pa, params_pool ? a->n_params : a->n_state), *y = pool(b, pb, params_pool ? b->n_params : b->n_state);
    int ok = 1;
    for (int i = 0; i < a->n_t; i++) {
        const ct_tensor *t = &a->t[i];
        if ((t->pool == CT_POOL_PARAMS) != params_pool) continue;
        if (memcmp(x + t->offset, y + t->offset, (size_t)t->count * 4) != 0) {
            printf("  tensor %s differs\n", t->name);
            ok = 0;
        }
    }
    free(x);
    free(y);
    return ok;
}

static int count_tmp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static void expect_bad_ckpt(ct_ctx *c, const char *file, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "fixtures/bad/%s", file);
    ct_ckpt_state s;
    ct_st_file *f = NULL;
    int rc = ct_checkpoint_read(path, &s, &f);
    if (rc == CT_OK) {
        ct_netdef d = {0};
        rc = ct_checkpoint_netdef(f, path, NULL, &d);
        ct_model *m = NULL;
        if (rc == CT_OK) rc = ct_model_create(c, &d, 2, &m);
        ct_netdef_free(&d);
        float *bp = NULL, *bs = NULL;
        if (rc == CT_OK) rc = ct_checkpoint_apply(m, f, path, &s, &bp, &bs);
        free(bp);
        free(bs);
        ct_model_free(m);
        ct_ckpt_state_free(&s);
        ct_st_free(f);
    }
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), path) && strstr(ct_last_error(), want),
             "%s: rc %d, message '%s' (want '%s')", file, rc, ct_last_error(), want);
}

static void expect_bad_model(ct_ctx *c, const char *file, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "fixtures/bad/%s", file);
    ct_st_file *f = NULL;
    int rc = ct_st_load(path, &f);
    ct_model *m = NULL;
    ct_netdef d = digit(1, 1, 1, 2);
    if (rc == CT_OK) rc = ct_model_create(c, &d, 2, &m);
    ct_netdef_free(&d);
    if (rc == CT_OK) rc = ct_modelio_load(m, f, path);
    ct_model_free(m);
    ct_st_free(f);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), path) && strstr(ct_last_error(), want),
             "%s: rc %d, message '%s' (want '%s')", file, rc, ct_last_error(), want);
}

int main(void)
{
    /* --- atomic writes and a full disk (no device needed) ------------------------------- */
    {
        char dir[] = "/tmp/cltrain_ckpt_XXXXXX";
        TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        char path[600];
        snprintf(path, sizeof path, "%s/file.bin", dir);
        TU_CHECK(ct_write_file_atomic(path, "previous", 8) == CT_OK, "%s", ct_last_error());
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit old, lim;
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = 4096;
        setrlimit(RLIMIT_FSIZE, &lim);
        static char big[1 << 16];
        int rc = ct_write_file_atomic(path, big, sizeof big);
        setrlimit(RLIMIT_FSIZE, &old);
        TU_CHECK(rc == CT_ERR_RUNTIME && strstr(ct_last_error(), "previous file"), "full disk: rc %d: %s", rc,
                 ct_last_error());
        unsigned char *back = NULL;
        size_t len = 0;
        TU_CHECK(ct_read_file(path, 100, &back, &len) == CT_OK && len == 8 && !memcmp(back, "previous", 8),
                 "previous file not intact after a failed write");
        free(back);
        TU_CHECK(count_tmp_files(dir) == 0, "a temp file was left behind");
        char nodir[700];
        snprintf(nodir, sizeof nodir, "%s/missing/file.bin", dir);
        rc = ct_write_file_atomic(nodir, "x", 1);
        TU_CHECK(rc == CT_ERR_RUNTIME && strstr(ct_last_error(), "cannot create"), "missing folder: %d %s", rc,
                 ct_last_error());
        unlink(path);
        rmdir(dir);
    }

    ct_ctx *c;
    if (ct_ctx_create(tu_device(), 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    const int N = 6;
    ct_netdef d = digit(4, 8, 12, 16);
    float x[6 * 784];
    tu_fill_uniform(x, sizeof x / sizeof x[0], -0.4f, 2.8f, 3);
    int32_t t[6] = {0, 1, 2, 3, 4, 5};
    for (int adam = 1; adam >= 0; adam--) {
        ct_model *a, *b;
        TU_CHECK(ct_model_create(c, &d, N, &a) == CT_OK, "%s", ct_last_error());
        TU_CHECK(ct_model_init_params(a, 7) == CT_OK, "%s", ct_last_error());
        ct_model_upload(a, N, x, t);
        ct_optim o = {adam, 0.01f, 0.9f, 0.999f, 1e-8f, 0.9f, 1e-5f};
        for (unsigned s = 0; s < 3; s++) TU_CHECK(ct_model_train_step(a, N, &o, 1, s) == CT_OK, "%s", ct_last_error());
        float *bp, *bs;
        TU_CHECK(ct_model_snapshot(a, &bp, &bs) == CT_OK, "%s", ct_last_error());
        TU_CHECK(ct_model_train_step(a, N, &o, 1, 3) == CT_OK, "%s", ct_last_error());

        ct_ckpt_state s;
        memset(&s, 0, sizeof s);
        s.epoch = 2;
        s.batch = 5;
        s.step = 4;
        s.adam = adam;
        s.best = 97.12345678901234;
        s.best_epoch = 1;
        s.bad_epochs = 1;
        s.ep_loss = 1.0 / 3.0;
        s.dev_sums[0] = 0.1f;
        s.dev_sums[2] = 7;
        s.subset = 123;
        snprintf(s.stamp, sizeof s.stamp, "20240101_000000");
        snprintf(s.device, sizeof s.device, "%s", c->dev.name);
        s.config_yaml = "training:\n  epochs: 3\n";
        s.config_json = "{}";
        s.metrics_csv = "epoch,train_loss\n1,0.5\n";
        char path[] = "/tmp/cltrain_ckpt_XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        TU_CHECK(ct_checkpoint_save(a, path, &s, bp, bs) == CT_OK, "%s", ct_last_error());

        ct_ckpt_state r;
        ct_st_file *f;
        TU_CHECK(ct_checkpoint_read(path, &r, &f) == CT_OK, "%s", ct_last_error());
        TU_CHECK(r.epoch == 2 && r.batch == 5 && r.step == 4 && r.adam == adam && r.best == s.best &&
                     r.best_epoch == 1 && r.bad_epochs == 1 && r.ep_loss == s.ep_loss && r.dev_sums[0] == 0.1f &&
                     r.dev_sums[2] == 7 && r.subset == 123 && r.opt_steps == 4 && r.num_batches_tracked == 4,
                 "metadata does not round-trip exactly");
        TU_CHECK(!strcmp(r.config_yaml, s.config_yaml) && !strcmp(r.metrics_csv, s.metrics_csv) &&
                     !strcmp(r.stamp, s.stamp),
                 "text metadata does not round-trip");
        ct_netdef e = {0};
        TU_CHECK(ct_checkpoint_netdef(f, path, NULL, &e) == CT_OK && e.n_layers == d.n_layers &&
                     e.layers[0].out_channels == 4 && ct_st_metadata_get(f, "network"),
                 "network from the checkpoint: %s", ct_last_error());
        TU_CHECK(ct_st_find(f, adam ? "optimizer.exp_avg_sq.fc3.bias" : "optimizer.momentum_buffer.fc3.bias") != NULL,
                 "optimizer tensor names");
        TU_CHECK(ct_st_find(f, "best.bn1.running_var") != NULL, "best weights stored");
        TU_CHECK(ct_model_create(c, &e, N, &b) == CT_OK, "%s", ct_last_error());
        ct_netdef_free(&e);
        TU_CHECK(ct_model_init_params(b, 99) == CT_OK, "%s", ct_last_error());
        float *rbp = NULL, *rbs = NULL;
        TU_CHECK(ct_checkpoint_apply(b, f, path, &r, &rbp, &rbs) == CT_OK, "%s", ct_last_error());
        TU_CHECK(b->opt_steps == a->opt_steps && b->num_batches_tracked == a->num_batches_tracked, "counters");
        TU_CHECK(same_tensors(a, b, a->params, b->params, 1), "%s: parameters differ after reload", adam ? "adam" : "sgd");
        TU_CHECK(same_tensors(a, b, a->state, b->state, 0), "running statistics differ after reload");
        TU_CHECK(same_tensors(a, b, a->opt_m, b->opt_m, 1), "first moments differ after reload");
        if (adam) TU_CHECK(same_tensors(a, b, a->opt_v, b->opt_v, 1), "second moments differ after reload");
        int best_ok = rbp && rbs;
        for (int i = 0; i < a->n_t && best_ok; i++) {
            const ct_tensor *tt = &a->t[i];
            const float *u = tt->pool == CT_POOL_PARAMS ? bp : bs, *v = tt->pool == CT_POOL_PARAMS ? rbp : rbs;
            best_ok = memcmp(u + tt->offset, v + tt->offset, tt->count * 4) == 0;
        }
        TU_CHECK(best_ok, "best weights differ after reload");
        /* training continues identically */
        ct_model_upload(b, N, x, t);
        TU_CHECK(ct_model_train_step(a, N, &o, 1, 4) == CT_OK && ct_model_train_step(b, N, &o, 1, 4) == CT_OK, "%s",
                 ct_last_error());
        TU_CHECK(same_tensors(a, b, a->params, b->params, 1), "parameters differ one step after reload");

        /* an SGD checkpoint is not an Adam one and vice versa */
        r.adam = !adam;
        free(rbp);
        free(rbs);
        int rc = ct_checkpoint_apply(b, f, path, &r, &rbp, &rbs);
        TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "optimizer."), "wrong optimizer state: %d %s", rc,
                 ct_last_error());
        free(rbp);
        free(rbs);
        ct_ckpt_state_free(&r);
        ct_st_free(f);

        /* a model file is not a checkpoint; a truncated checkpoint is refused */
        if (adam) {
            TU_CHECK(ct_modelio_save(a, path, NULL, NULL, 0) == CT_OK, "%s", ct_last_error());
            rc = ct_checkpoint_read(path, &r, &f);
            TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "not a cltrain checkpoint"), "model file: %s",
                     ct_last_error());
        }
        /* non-finite weights are never written over a good checkpoint */
        float nan = NAN;
        ct_buffer_write(c, a->params, 0, 4, &nan);
        rc = ct_checkpoint_save(a, path, &s, NULL, NULL);
        TU_CHECK(rc == CT_ERR_RUNTIME && strstr(ct_last_error(), "non-finite"), "NaN weights: %d %s", rc,
                 ct_last_error());
        unlink(path);
        free(bp);
        free(bs);
        ct_model_free(a);
        ct_model_free(b);
    }

    /* --- committed bad fixtures ----------------------------------------------------------- */
    expect_bad_ckpt(c, "ckpt_truncated.safetensors", "");
    expect_bad_ckpt(c, "ckpt_version2.safetensors", "version");
    expect_bad_ckpt(c, "ckpt_bad_epoch.safetensors", "'epoch'");
    expect_bad_ckpt(c, "ckpt_missing_meta.safetensors", "lacks 'step'");
    expect_bad_ckpt(c, "ckpt_nan.safetensors", "non-finite");
    expect_bad_ckpt(c, "ckpt_missing_moment.safetensors", "optimizer.exp_avg_sq.");
    expect_bad_ckpt(c, "ckpt_extra_tensor.safetensors", "unexpected tensor 'optimizer.momentum_buffer.fc3.bias'");
    expect_bad_ckpt(c, "ckpt_wrong_shape.safetensors", "shape");
    expect_bad_ckpt(c, "ckpt_nbt_mismatch.safetensors", "num_batches_tracked");
    expect_bad_model(c, "model_f16.safetensors", "F16");
    expect_bad_model(c, "model_wrong_shape.safetensors", "shape");
    expect_bad_model(c, "model_missing.safetensors", "fc3.bias");
    expect_bad_model(c, "model_extra.safetensors", "unexpected tensor");
    expect_bad_model(c, "model_nbt_float.safetensors", "num_batches_tracked");
    {
        /* the valid fixture loads */
        ct_ckpt_state s;
        ct_st_file *f;
        const char *p = "fixtures/bad/valid_ckpt.safetensors";
        int rc = ct_checkpoint_read(p, &s, &f);
        TU_CHECK(rc == CT_OK, "valid fixture: %s", ct_last_error());
        if (rc == CT_OK) {
            ct_netdef e = {0};
            ct_model *m = NULL;
            float *bp = NULL, *bs = NULL;
            rc = ct_checkpoint_netdef(f, p, NULL, &e);
            if (rc == CT_OK) rc = ct_model_create(c, &e, 2, &m);
            ct_netdef_free(&e);
            if (rc == CT_OK) rc = ct_checkpoint_apply(m, f, p, &s, &bp, &bs);
            TU_CHECK(rc == CT_OK, "valid fixture applies: %s", ct_last_error());
            free(bp);
            free(bs);
            ct_model_free(m);
            ct_ckpt_state_free(&s);
            ct_st_free(f);
        }
    }
    /* write the valid fixtures (tools: CLTRAIN_WRITE_FIXTURES=DIR, then tests/fixtures/bad/make.py) */
    const char *out = getenv("CLTRAIN_WRITE_FIXTURES");
    if (out) {
        ct_netdef td = digit(1, 1, 1, 2);
        ct_model *m;
        ct_model_create(c, &td, 2, &m);
        ct_netdef_free(&td);
        ct_model_init_params(m, 1);
        ct_ckpt_state s;
        memset(&s, 0, sizeof s);
        s.adam = 1;
        s.epoch = 1;
        s.best = -1;
        snprintf(s.stamp, sizeof s.stamp, "20240101_000000");
        snprintf(s.device, sizeof s.device, "fixture");
        s.config_yaml = "training:\n  epochs: 2\n";
        s.config_json = "{}";
        s.metrics_csv = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,learning_rate,images_per_second,"
                        "epoch_seconds\n";
        char p[600];
        snprintf(p, sizeof p, "%s/valid_ckpt.safetensors", out);
        TU_CHECK(ct_checkpoint_save(m, p, &s, NULL, NULL) == CT_OK, "%s", ct_last_error());
        snprintf(p, sizeof p, "%s/valid_model.safetensors", out);
        TU_CHECK(ct_modelio_save(m, p, NULL, NULL, 0) == CT_OK, "%s", ct_last_error());
        ct_model_free(m);
    }
    ct_netdef_free(&d);
    ct_ctx_free(c);
    return tu_finish();
}
