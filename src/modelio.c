/* modelio.c: see modelio.h. */
#include "modelio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/netparse.h"

/* DigitCNN sizes from the tensor shapes of a file without `network` metadata */
static int digitcnn_from_shapes(const ct_st_file *f, const char *path, ct_netdef *out)
{
    const ct_st_tensor *c1 = ct_st_find(f, "conv1.weight"), *c2 = ct_st_find(f, "conv2.weight"),
                       *c3 = ct_st_find(f, "conv3.weight"), *f1 = ct_st_find(f, "fc1.weight");
    if (!c1 || !c2 || !c3 || !f1)
        return ct_fail(CT_ERR_INPUT,
                       "%s: the file has no 'network' metadata and is not a DigitCNN: missing tensor '%s' (give the "
                       "network with --config, or use PyTorch state_dict names conv1.weight, conv2.weight, "
                       "conv3.weight, fc1.weight, ...)",
                       path, !c1 ? "conv1.weight" : !c2 ? "conv2.weight" : !c3 ? "conv3.weight" : "fc1.weight");
    if (c1->rank != 4 || c2->rank != 4 || c3->rank != 4 || f1->rank != 2)
        return ct_fail(CT_ERR_INPUT, "%s: conv weights must have 4 dimensions and fc1.weight 2", path);
    long long a = c1->shape[0], b = c2->shape[0], c = c3->shape[0], h = f1->shape[0];
    if (a < 1 || b < 1 || c < 1 || h < 2 || a > 4096 || b > 4096 || c > 4096 || h > 65536 || h % 2)
        return ct_fail(CT_ERR_INPUT, "%s: implausible DigitCNN sizes (conv channels %lld/%lld/%lld, hidden %lld)", path,
                       a, b, c, h);
    int rc = ct_netdef_digitcnn((int)a, (int)b, (int)c, (int)h, 0.1, 0.2, ct_st_find(f, "bn1.weight") != NULL, out);
    return rc ? ct_fail_ctx(CT_ERR_INPUT, "%s", path) : CT_OK;
}

int ct_modelio_has_network(const ct_st_file *f) { return ct_st_metadata_get(f, "network") != NULL; }

int ct_modelio_netdef(const ct_st_file *f, const char *path, const ct_netdef *fallback, ct_netdef *out)
{
    const char *js = ct_st_metadata_get(f, "network");
    if (js) {
        char origin[4200];
        snprintf(origin, sizeof origin, "%s (metadata 'network')", path);
        return ct_netdef_from_json(js, strlen(js), origin, out);
    }
    if (fallback) return ct_netdef_copy(fallback, out);
    return digitcnn_from_shapes(f, path, out);
}

int ct_modelio_config_netdef(const ct_config *cfg, ct_netdef *out) { return ct_config_netdef(cfg, out); }

int ct_modelio_config_network(const ct_config *cfg, ct_netdef *out, int *found)
{
    *found = cfg->network != NULL;
    return *found ? ct_netdef_copy(cfg->network, out) : CT_OK;
}

int ct_modelio_file_netdef(const ct_st_file *f, const char *path, const ct_config *cfg, ct_netdef *out)
{
    ct_netdef cn;
    int found = 0;
    if (!ct_modelio_has_network(f) && cfg) CT_TRY(ct_modelio_config_network(cfg, &cn, &found));
    int rc = ct_modelio_netdef(f, path, found ? &cn : NULL, out);
    if (found) ct_netdef_free(&cn);
    return rc;
}

int ct_modelio_load(ct_model *m, const ct_st_file *f, const char *path)
{
    for (int i = 0; i < m->n_t; i++) {
        const ct_tensor *t = &m->t[i];
        int64_t shape[4];
        for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
        const float *data;
        CT_TRY(ct_st_get_f32(f, t->name, t->rank, shape, &data, path));
        CT_TRY(ct_model_set_tensor(m, t->name, data));
    }
    int seen = 0;
    for (size_t i = 0; i < ct_st_count(f); i++) {
        const char *nm = ct_st_tensor_at(f, i)->name;
        if (ct_model_tensor(m, nm)) continue;
        int l = ct_model_nbt_layer(m, nm);
        if (l < 0)
            return ct_fail(CT_ERR_INPUT,
                           "%s: unexpected tensor '%s' for this network (load is strict, as PyTorch's: the file must "
                           "hold exactly the network's state_dict)",
                           path, nm);
        int64_t v;
        CT_TRY(ct_st_get_i64_scalar(f, nm, &v, path));
        if (v < 0) return ct_fail(CT_ERR_INPUT, "%s: %s is negative (%lld)", path, nm, (long long)v);
        m->nbt[l] = v;
        if (!seen++) m->num_batches_tracked = v;
    }
    return CT_OK;
}

int ct_modelio_save(ct_model *m, const char *path, const char *const *keys, const char *const *values, int n_meta)
{
    char what[4200];
    snprintf(what, sizeof what, "not writing %s", path);
    CT_TRY(ct_model_check_finite(m, what));
    char *net = NULL;
    CT_TRY(ct_netdef_to_json(&m->net, &net));
    ct_st_writer *w = ct_st_writer_new();
    float *buf = ct_malloc((m->n_params + m->n_state) * sizeof(float) + 64, "saving the model");
    int rc = w && buf ? CT_OK : CT_ERR_NOMEM;
    size_t at = 0;
    for (int i = 0; i < m->n_t && rc == CT_OK; i++) {
        const ct_tensor *t = &m->t[i];
        rc = ct_model_get_tensor(m, t->name, buf + at);
        int64_t shape[4];
        for (int k = 0; k < t->rank; k++) shape[k] = t->shape[k];
        if (rc == CT_OK) rc = ct_st_writer_add(w, t->name, CT_ST_F32, t->rank, shape, buf + at, 1);
        at += t->count;
        /* PyTorch puts num_batches_tracked right after running_var */
        if (rc == CT_OK && m->nbt[t->layer] >= 0 && !strcmp(strrchr(t->name, '.'), ".running_var")) {
            char nm[CT_TENSOR_NAME_MAX];
            snprintf(nm, sizeof nm, "%s.num_batches_tracked", m->net.layers[t->layer].name);
            rc = ct_st_writer_add_i64_scalar(w, nm, m->nbt[t->layer]);
        }
    }
    for (int i = 0; i < n_meta && rc == CT_OK; i++) rc = ct_st_writer_set_metadata(w, keys[i], values[i]);
    if (rc == CT_OK) rc = ct_st_writer_set_metadata(w, "network", net);
    if (rc == CT_OK) rc = ct_st_write(w, path);
    free(buf);
    free(net);
    ct_st_writer_free(w);
    return rc;
}

int ct_model_snapshot(ct_model *m, float **params, float **state)
{
    *params = malloc(m->n_params * sizeof(float) + 4);
    *state = malloc(m->n_state * sizeof(float) + 4);
    if (!*params || !*state) {
        free(*params);
        free(*state);
        *params = *state = NULL;
        return ct_fail(CT_ERR_NOMEM, "out of host memory keeping the best weights");
    }
    CT_TRY(ct_buffer_read(m->ctx, m->params, 0, m->n_params * 4, *params));
    if (m->n_state) CT_TRY(ct_buffer_read(m->ctx, m->state, 0, m->n_state * 4, *state));
    return CT_OK;
}

int ct_model_restore(ct_model *m, const float *params, const float *state)
{
    CT_TRY(ct_buffer_write(m->ctx, m->params, 0, m->n_params * 4, params));
    if (m->n_state) CT_TRY(ct_buffer_write(m->ctx, m->state, 0, m->n_state * 4, state));
    return CT_OK;
}
