/* checkpoint.c: see checkpoint.h. */
#define _POSIX_C_SOURCE 200809L
#include "checkpoint.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "modelio.h"

void ct_ckpt_state_free(ct_ckpt_state *s)
{
    free(s->config_yaml);
    free(s->config_json);
    free(s->metrics_csv);
    s->config_yaml = s->config_json = s->metrics_csv = NULL;
}

static float *read_pool(ct_model *m, cl_mem b, size_t n, int *rc)
{
    float *p = ct_calloc(n + 16, sizeof(float), "checkpoint buffer");
    if (!p) {
        *rc = CT_ERR_NOMEM;
        return NULL;
    }
    if (n > 0 && (*rc = ct_buffer_read(m->ctx, b, 0, n * 4, p)) != CT_OK) {
        free(p);
        return NULL;
    }
    return p;
}

static int add_slice(ct_st_writer *w, const char *prefix, const ct_tensor *t, const float *pool)
{
    char nm[CT_TENSOR_NAME_MAX + 32];
    snprintf(nm, sizeof nm, "%s%s", prefix, t->name);
    int64_t shape[4];
    for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
    return ct_st_writer_add(w, nm, CT_ST_F32, t->rank, shape, pool + t->offset, 0);
}

int ct_checkpoint_save(ct_model *m, const char *path, const ct_ckpt_state *s, const float *best_p,
                       const float *best_s)
{
    int rc = CT_OK;
    float *P = NULL, *S = NULL, *M1 = NULL, *M2 = NULL;
    char *net_json = NULL;
    if (!m->training) return ct_fail(CT_ERR_USAGE, "internal: a checkpoint needs a training model");
    CT_TRY(ct_netdef_to_json(&m->net, &net_json));
    ct_st_writer *w = ct_st_writer_new();
    if (!w) {
        free(net_json);
        return CT_ERR_NOMEM;
    }
    if (!(P = read_pool(m, m->params, m->n_params, &rc))) goto out;
    if (!(S = read_pool(m, m->state, m->n_state, &rc))) goto out;
    if (!(M1 = read_pool(m, m->opt_m, m->n_params, &rc))) goto out;
    if (s->adam && !(M2 = read_pool(m, m->opt_v, m->n_params, &rc))) goto out;
    /* refuse to overwrite a good checkpoint with non-finite weights */
    for (int i = 0; i < m->n_t; i++) {
        const ct_tensor *t = &m->t[i];
        const float *base = (t->pool == CT_POOL_PARAMS ? P : S) + t->offset;
        for (size_t j = 0; j < t->count; j++)
            if (!isfinite(base[j])) {
                rc = ct_fail(CT_ERR_RUNTIME, "tensor '%s' holds a non-finite value (element %zu): not writing %s",
                             t->name, j, path);
                goto out;
            }
    }
    char nbt[CT_TENSOR_NAME_MAX];
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        rc = add_slice(w, "", t, t->pool == CT_POOL_PARAMS ? P : S);
        if (rc == CT_OK && m->nbt[t->layer] >= 0 && !strcmp(strrchr(t->name, '.'), ".running_var")) {
            snprintf(nbt, sizeof nbt, "%s.num_batches_tracked", m->net.layers[t->layer].name);
            rc = ct_st_writer_add_i64_scalar(w, nbt, m->nbt[t->layer]);
        }
    }
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        if (t->pool != CT_POOL_PARAMS) continue;
        if (s->adam) {
            rc = add_slice(w, "optimizer.exp_avg.", t, M1);
            if (rc == CT_OK) rc = add_slice(w, "optimizer.exp_avg_sq.", t, M2);
        } else {
            rc = add_slice(w, "optimizer.momentum_buffer.", t, M1);
        }
    }
    if (best_p && best_s)
        for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
            const ct_tensor *t = &m->t[i];
            rc = add_slice(w, "best.", t, t->pool == CT_POOL_PARAMS ? best_p : best_s);
        }
    if (rc) goto out;
    {
        char v[40][64];
        int n = 0;
        const char *keys[64];
        const char *vals[64];
#define META_FMT(k, ...)                                   \
    do {                                                   \
        snprintf(v[n], sizeof v[n], __VA_ARGS__);          \
        keys[n] = (k);                                     \
        vals[n] = v[n];                                    \
        n++;                                               \
    } while (0)
        META_FMT("cltrain_checkpoint", "%s", CT_CKPT_VERSION);
        META_FMT("format", "pt");
        META_FMT("epoch", "%d", s->epoch);
        META_FMT("batch", "%ld", s->batch);
        META_FMT("step", "%llu", s->step);
        META_FMT("optimizer_steps", "%ld", m->opt_steps);
        META_FMT("num_batches_tracked", "%lld", m->num_batches_tracked);
        META_FMT("optimizer", "%s", s->adam ? "adam" : "sgd");
        META_FMT("best_val_accuracy", "%a", s->best);
        META_FMT("best_epoch", "%d", s->best_epoch);
        META_FMT("bad_epochs", "%d", s->bad_epochs);
        META_FMT("train_seconds", "%a", s->train_seconds);
        META_FMT("train_images", "%lld", s->train_images);
        META_FMT("epoch_loss_sum", "%a", s->ep_loss);
        META_FMT("epoch_correct", "%a", s->ep_correct);
        META_FMT("epoch_count", "%a", s->ep_count);
        META_FMT("epoch_seconds", "%a", s->ep_seconds);
        META_FMT("device_sums", "%a %a %a %a", (double)s->dev_sums[0], (double)s->dev_sums[1],
                 (double)s->dev_sums[2], (double)s->dev_sums[3]);
        META_FMT("last_train_loss", "%a", s->last_train_loss);
        META_FMT("last_train_accuracy", "%a", s->last_train_acc);
        META_FMT("last_val_loss", "%a", s->last_val_loss);
        META_FMT("last_val_accuracy", "%a", s->last_val_acc);
        META_FMT("last_learning_rate", "%a", s->last_lr);
        META_FMT("subset", "%ld", s->subset);
        META_FMT("run_stamp", "%s", s->stamp);
        META_FMT("cltrain_version", "%s", CLTRAIN_VERSION);
#undef META_FMT
        keys[n] = "device", vals[n++] = s->device;
        keys[n] = "network", vals[n++] = net_json;
        keys[n] = "config", vals[n++] = s->config_json ? s->config_json : "{}";
        keys[n] = "config_yaml", vals[n++] = s->config_yaml ? s->config_yaml : "";
        keys[n] = "metrics_csv", vals[n++] = s->metrics_csv ? s->metrics_csv : "";
        for (int i = 0; i < n && rc == CT_OK; i++) rc = ct_st_writer_set_metadata(w, keys[i], vals[i]);
    }
    if (rc == CT_OK) rc = ct_st_write(w, path);
out:
    ct_st_writer_free(w);
    free(net_json);
    free(P);
    free(S);
    free(M1);
    free(M2);
    return rc;
}

/* --- reading ------------------------------------------------------------------------------ */

static int meta(const ct_st_file *f, const char *path, const char *key, const char **out)
{
    *out = ct_st_metadata_get(f, key);
    if (!*out)
        return ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata lacks '%s' (the file is not a complete cltrain checkpoint)",
                       path, key);
    return CT_OK;
}

static int meta_ll(const ct_st_file *f, const char *path, const char *key, long long lo, long long hi, long long *out)
{
    const char *s;
    CT_TRY(meta(f, path, key, &s));
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        return ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata '%s' is '%.40s', expected an integer in [%lld, %lld]",
                       path, key, s, lo, hi);
    *out = v;
    return CT_OK;
}

static int meta_dbl(const ct_st_file *f, const char *path, const char *key, double *out)
{
    const char *s;
    CT_TRY(meta(f, path, key, &s));
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v))
        return ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata '%s' is '%.40s', expected a finite number", path, key, s);
    *out = v;
    return CT_OK;
}

static int meta_str(const ct_st_file *f, const char *path, const char *key, char **out)
{
    const char *s;
    CT_TRY(meta(f, path, key, &s));
    *out = strdup(s);
    return *out ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory reading %s", path);
}

int ct_checkpoint_read(const char *path, ct_ckpt_state *s, ct_st_file **fp)
{
    memset(s, 0, sizeof *s);
    *fp = NULL;
    ct_st_file *f = NULL;
    CT_TRY(ct_st_load(path, &f));
    int rc = CT_OK;
    const char *ver = ct_st_metadata_get(f, "cltrain_checkpoint");
    if (!ver) {
        rc = ct_fail(CT_ERR_INPUT,
                     "%s: not a cltrain checkpoint (no 'cltrain_checkpoint' metadata); --resume takes a run folder or "
                     "its last.safetensors, not a model file",
                     path);
        goto fail;
    }
    if (strcmp(ver, CT_CKPT_VERSION) != 0) {
        rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint format version '%.20s' is not supported (this cltrain reads %s)", path,
                     ver, CT_CKPT_VERSION);
        goto fail;
    }
    long long v;
    const long long BIG = 1LL << 53;
#define GET_LL(key, lo, hi, dst)                                            \
    do {                                                                    \
        if ((rc = meta_ll(f, path, key, lo, hi, &v)) != CT_OK) goto fail;  \
        dst = v;                                                            \
    } while (0)
#define GET_D(key, dst)                                                     \
    do {                                                                    \
        if ((rc = meta_dbl(f, path, key, &dst)) != CT_OK) goto fail;        \
    } while (0)
    GET_LL("epoch", 0, 1000000000, s->epoch);
    GET_LL("batch", 0, BIG, s->batch);
    GET_LL("step", 0, 4294967295LL, s->step);
    GET_LL("optimizer_steps", 0, BIG, s->opt_steps);
    GET_LL("num_batches_tracked", 0, BIG, s->num_batches_tracked);
    GET_LL("best_epoch", 0, 1000000000, s->best_epoch);
    GET_LL("bad_epochs", 0, 1000000000, s->bad_epochs);
    GET_LL("train_images", 0, BIG, s->train_images);
    GET_LL("subset", 0, BIG, s->subset);
    GET_D("best_val_accuracy", s->best);
    GET_D("train_seconds", s->train_seconds);
    GET_D("epoch_loss_sum", s->ep_loss);
    GET_D("epoch_correct", s->ep_correct);
    GET_D("epoch_count", s->ep_count);
    GET_D("epoch_seconds", s->ep_seconds);
    GET_D("last_train_loss", s->last_train_loss);
    GET_D("last_train_accuracy", s->last_train_acc);
    GET_D("last_val_loss", s->last_val_loss);
    GET_D("last_val_accuracy", s->last_val_acc);
    GET_D("last_learning_rate", s->last_lr);
#undef GET_LL
#undef GET_D
    if (s->best < -1 || s->best > 100 || s->ep_count < 0 || s->train_seconds < 0) {
        rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata out of range (best_val_accuracy %g, epoch_count %g)", path,
                     s->best, s->ep_count);
        goto fail;
    }
    const char *str;
    if ((rc = meta(f, path, "optimizer", &str)) != CT_OK) goto fail;
    if (strcmp(str, "adam") && strcmp(str, "sgd")) {
        rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'optimizer' is '%.20s', expected adam or sgd", path, str);
        goto fail;
    }
    s->adam = !strcmp(str, "adam");
    if ((rc = meta(f, path, "device_sums", &str)) != CT_OK) goto fail;
    {
        const char *p = str;
        for (int i = 0; i < 4; i++) {
            char *end;
            double d = strtod(p, &end);
            if (end == p || !isfinite(d) || fabs(d) > 3.4e38) {
                rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'device_sums' is malformed", path);
                goto fail;
            }
            s->dev_sums[i] = (float)d;
            p = end;
        }
        while (*p == ' ') p++;
        if (*p) {
            rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'device_sums' is malformed", path);
            goto fail;
        }
    }
    if ((rc = meta(f, path, "run_stamp", &str)) != CT_OK) goto fail;
    if (strlen(str) >= sizeof s->stamp || strchr(str, '/')) {
        rc = ct_fail(CT_ERR_INPUT, "%s: checkpoint metadata 'run_stamp' is malformed", path);
        goto fail;
    }
    snprintf(s->stamp, sizeof s->stamp, "%s", str);
    if ((rc = meta(f, path, "device", &str)) != CT_OK) goto fail;
    snprintf(s->device, sizeof s->device, "%s", str);
    if ((rc = meta_str(f, path, "config_yaml", &s->config_yaml)) != CT_OK) goto fail;
    if ((rc = meta_str(f, path, "config", &s->config_json)) != CT_OK) goto fail;
    if ((rc = meta_str(f, path, "metrics_csv", &s->metrics_csv)) != CT_OK) goto fail;
    *fp = f;
    return CT_OK;
fail:
    ct_ckpt_state_free(s);
    ct_st_free(f);
    return rc;
}

int ct_checkpoint_netdef(const ct_st_file *f, const char *path, const ct_netdef *fallback, ct_netdef *out)
{
    return ct_modelio_netdef(f, path, fallback, out);
}

static int take(const ct_st_file *f, const char *path, const char *prefix, const ct_tensor *t, float *pool,
                size_t *used)
{
    char nm[CT_TENSOR_NAME_MAX + 32];
    snprintf(nm, sizeof nm, "%s%s", prefix, t->name);
    int64_t shape[4];
    for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
    const float *data;
    CT_TRY(ct_st_get_f32(f, nm, t->rank, shape, &data, path));
    for (size_t j = 0; j < t->count; j++)
        if (!isfinite(data[j]))
            return ct_fail(CT_ERR_INPUT, "%s: tensor '%s' holds a non-finite value (element %zu)", path, nm, j);
    memcpy(pool + t->offset, data, t->count * sizeof(float));
    (*used)++;
    return CT_OK;
}

int ct_checkpoint_apply(ct_model *m, const ct_st_file *f, const char *path, const ct_ckpt_state *s, float **best_p,
                        float **best_s)
{
    *best_p = *best_s = NULL;
    int rc = CT_OK;
    size_t used = 0;
    float *P = NULL, *S = NULL, *M1 = NULL, *M2 = NULL, *BP = NULL, *BS = NULL;
    if (!(P = read_pool(m, m->params, m->n_params, &rc))) goto out;
    if (!(S = read_pool(m, m->state, m->n_state, &rc))) goto out;
    if (!(M1 = ct_calloc(m->n_params + 16, sizeof(float), "checkpoint buffer")) ||
        !(M2 = ct_calloc(m->n_params + 16, sizeof(float), "checkpoint buffer"))) {
        rc = CT_ERR_NOMEM;
        goto out;
    }
    char best0[CT_TENSOR_NAME_MAX + 8];
    snprintf(best0, sizeof best0, "best.%s", m->n_t ? m->t[0].name : "");
    int has_best = ct_st_find(f, best0) != NULL;
    if (has_best) {
        if (!(BP = ct_calloc(m->n_params + 16, sizeof(float), "best weights")) ||
            !(BS = ct_calloc(m->n_state + 16, sizeof(float), "best weights"))) {
            rc = CT_ERR_NOMEM;
            goto out;
        }
    }
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        int par = t->pool == CT_POOL_PARAMS;
        rc = take(f, path, "", t, par ? P : S, &used);
        if (rc == CT_OK && par && s->adam) rc = take(f, path, "optimizer.exp_avg.", t, M1, &used);
        if (rc == CT_OK && par && s->adam) rc = take(f, path, "optimizer.exp_avg_sq.", t, M2, &used);
        if (rc == CT_OK && par && !s->adam) rc = take(f, path, "optimizer.momentum_buffer.", t, M1, &used);
        if (rc == CT_OK && has_best) rc = take(f, path, "best.", t, par ? BP : BS, &used);
    }
    if (rc) goto out;
    for (int b = 0; b < m->n_nodes && rc == CT_OK; b++) {
        if (m->nbt[b] < 0) continue;
        {
            char nm[CT_TENSOR_NAME_MAX];
            snprintf(nm, sizeof nm, "%s.num_batches_tracked", m->net.layers[b].name);
            int64_t v;
            if ((rc = ct_st_get_i64_scalar(f, nm, &v, path)) != CT_OK) goto out;
            if (v != s->num_batches_tracked) {
                rc = ct_fail(CT_ERR_INPUT, "%s: %s is %lld but the metadata says %lld", path, nm, (long long)v,
                             s->num_batches_tracked);
                goto out;
            }
            used++;
        }
    }
    if (used != ct_st_count(f)) {
        rc = ct_fail(CT_ERR_INPUT,
                     "%s: the checkpoint holds %zu tensors but a %s checkpoint of this model has %zu "
                     "(unexpected or misplaced tensors, e.g. for another optimizer or architecture)",
                     path, ct_st_count(f), s->adam ? "Adam" : "SGD", used);
        for (size_t i = 0; i < ct_st_count(f); i++) {
            const char *nm = ct_st_tensor_at(f, i)->name;
            const char *base = nm;
            if (!strncmp(base, "optimizer.exp_avg_sq.", 21) && s->adam) base += 21;
            else if (!strncmp(base, "optimizer.exp_avg.", 18) && s->adam) base += 18;
            else if (!strncmp(base, "optimizer.momentum_buffer.", 26) && !s->adam) base += 26;
            else if (!strncmp(base, "best.", 5) && has_best) base += 5;
            const ct_tensor *t = ct_model_tensor(m, base);
            int ok = (t && (base == nm || strncmp(nm, "optimizer.", 10) || t->pool == CT_POOL_PARAMS)) ||
                     (base == nm && ct_model_nbt_layer(m, nm) >= 0);
            if (!ok) {
                rc = ct_fail(CT_ERR_INPUT, "%s: unexpected tensor '%s' in a %s checkpoint of this model", path, nm,
                             s->adam ? "Adam" : "SGD");
                break;
            }
        }
        goto out;
    }
    if ((rc = ct_buffer_write(m->ctx, m->params, 0, m->n_params * 4, P)) != CT_OK) goto out;
    if (m->n_state && (rc = ct_buffer_write(m->ctx, m->state, 0, m->n_state * 4, S)) != CT_OK) goto out;
    if ((rc = ct_buffer_write(m->ctx, m->opt_m, 0, m->n_params * 4, M1)) != CT_OK) goto out;
    if ((rc = ct_buffer_write(m->ctx, m->opt_v, 0, m->n_params * 4, M2)) != CT_OK) goto out;
    m->opt_steps = s->opt_steps;
    ct_model_set_nbt(m, s->num_batches_tracked);
    *best_p = BP;
    *best_s = BS;
    BP = BS = NULL;
out:
    free(P);
    free(S);
    free(M1);
    free(M2);
    free(BP);
    free(BS);
    return rc;
}

int ct_checkpoint_resolve(const char *arg, char *path, size_t cap)
{
    struct stat st;
    if (stat(arg, &st) != 0)
        return ct_fail(CT_ERR_USAGE, "--resume %s: %s (give a run folder or its last.safetensors)", arg, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        if ((size_t)snprintf(path, cap, "%s/last.safetensors", arg) >= cap)
            return ct_fail(CT_ERR_USAGE, "--resume: path too long");
        if (stat(path, &st) != 0)
            return ct_fail(CT_ERR_USAGE,
                           "--resume %s: the folder has no last.safetensors (checkpoints are written when "
                           "checkpoint.every_epochs > 0)",
                           arg);
        return CT_OK;
    }
    if ((size_t)snprintf(path, cap, "%s", arg) >= cap) return ct_fail(CT_ERR_USAGE, "--resume: path too long");
    return CT_OK;
}
