/* modelio.c: see modelio.h. */
#include "modelio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ct_modelio_dims(const ct_st_file *f, const char *path, ct_cnn_dims *d)
{
    const ct_st_tensor *c1 = ct_st_find(f, "conv1.weight"), *c2 = ct_st_find(f, "conv2.weight"),
                       *c3 = ct_st_find(f, "conv3.weight"), *f1 = ct_st_find(f, "fc1.weight");
    if (!c1 || !c2 || !c3 || !f1)
        return ct_fail(CT_ERR_INPUT,
                       "%s: not a DigitCNN model: missing tensor '%s' (expected PyTorch state_dict names conv1.weight, "
                       "conv2.weight, conv3.weight, fc1.weight, ...)",
                       path, !c1 ? "conv1.weight" : !c2 ? "conv2.weight" : !c3 ? "conv3.weight" : "fc1.weight");
    if (c1->rank != 4 || c2->rank != 4 || c3->rank != 4 || f1->rank != 2)
        return ct_fail(CT_ERR_INPUT, "%s: conv weights must have 4 dimensions and fc1.weight 2", path);
    d->c1 = (int)c1->shape[0];
    d->c2 = (int)c2->shape[0];
    d->c3 = (int)c3->shape[0];
    d->hidden = (int)f1->shape[0];
    if (d->c1 < 1 || d->c2 < 1 || d->c3 < 1 || d->hidden < 2 || d->c1 > 4096 || d->c2 > 4096 || d->c3 > 4096 ||
        d->hidden > 65536 || d->hidden % 2)
        return ct_fail(CT_ERR_INPUT, "%s: implausible DigitCNN sizes (conv channels %d/%d/%d, hidden %d)", path, d->c1,
                       d->c2, d->c3, d->hidden);
    d->use_bn = ct_st_find(f, "bn1.weight") != NULL;
    d->p1 = 0.1f;
    d->p2 = 0.2f;
    return CT_OK;
}

int ct_modelio_load(ct_model *m, const ct_st_file *f, const char *path)
{
    size_t expected = 0;
    for (int i = 0; i < m->n_t; i++) {
        const ct_tensor *t = &m->t[i];
        int64_t shape[4];
        for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
        const float *data;
        CT_TRY(ct_st_get_f32(f, t->name, t->rank, shape, &data, path));
        CT_TRY(ct_model_set_tensor(m, t->name, data));
        expected++;
    }
    if (m->d.use_bn) {
        for (int b = 1; b <= 3; b++) {
            char nm[40];
            snprintf(nm, sizeof nm, "bn%d.num_batches_tracked", b);
            int64_t v;
            if (ct_st_find(f, nm)) {
                CT_TRY(ct_st_get_i64_scalar(f, nm, &v, path));
                m->num_batches_tracked = v;
                expected++;
            }
        }
    }
    if (ct_st_count(f) != expected) {
        for (size_t i = 0; i < ct_st_count(f); i++) {
            const char *nm = ct_st_tensor_at(f, i)->name;
            if (!ct_model_tensor(m, nm) && !strstr(nm, "num_batches_tracked"))
                return ct_fail(CT_ERR_INPUT, "%s: unexpected tensor '%s' for a DigitCNN%s (load is strict, as PyTorch's)",
                               path, nm, m->d.use_bn ? "" : " without batch norm");
        }
    }
    return CT_OK;
}

int ct_modelio_save(ct_model *m, const char *path, const char *const *keys, const char *const *values, int n_meta)
{
    ct_st_writer *w = ct_st_writer_new();
    if (!w) return CT_ERR_NOMEM;
    float *buf = malloc(((size_t)m->n_params + (size_t)m->n_state) * sizeof(float) + 64);
    int rc = buf ? CT_OK : ct_fail(CT_ERR_NOMEM, "out of host memory saving the model");
    size_t at = 0;
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        rc = ct_model_get_tensor(m, t->name, buf + at);
        int64_t shape[4];
        for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
        if (rc == CT_OK) rc = ct_st_writer_add(w, t->name, CT_ST_F32, t->rank, shape, buf + at, 1);
        at += (size_t)t->count;
        /* PyTorch puts num_batches_tracked right after running_var */
        if (rc == CT_OK && strstr(t->name, ".running_var")) {
            char nm[40];
            snprintf(nm, sizeof nm, "%.3s.num_batches_tracked", t->name);
            rc = ct_st_writer_add_i64_scalar(w, nm, m->num_batches_tracked);
        }
    }
    for (int i = 0; i < n_meta && rc == CT_OK; i++) rc = ct_st_writer_set_metadata(w, keys[i], values[i]);
    if (rc == CT_OK) rc = ct_st_write(w, path);
    free(buf);
    ct_st_writer_free(w);
    return rc;
}

int ct_model_snapshot(ct_model *m, float **params, float **state)
{
    *params = malloc((size_t)m->n_params * sizeof(float) + 4);
    *state = malloc((size_t)m->n_state * sizeof(float) + 4);
    if (!*params || !*state) {
        free(*params);
        free(*state);
        *params = *state = NULL;
        return ct_fail(CT_ERR_NOMEM, "out of host memory keeping the best weights");
    }
    CT_TRY(ct_buffer_read(m->ctx, m->params, 0, (size_t)m->n_params * 4, *params));
    if (m->n_state) CT_TRY(ct_buffer_read(m->ctx, m->state, 0, (size_t)m->n_state * 4, *state));
    return CT_OK;
}

int ct_model_restore(ct_model *m, const float *params, const float *state)
{
    CT_TRY(ct_buffer_write(m->ctx, m->params, 0, (size_t)m->n_params * 4, params));
    if (m->n_state) CT_TRY(ct_buffer_write(m->ctx, m->state, 0, (size_t)m->n_state * 4, state));
    return CT_OK;
}
