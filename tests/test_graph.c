#define _POSIX_C_SOURCE 200809L
/* test_graph.c: the graph executor's model layer beyond PyTorch parity (test_parity):
 * inference-only models (no gradients, moments or saved-for-backward buffers, output buffers
 * shared once read, same logits as a training model, for every shipped network), buffers past
 * 2^31-1 elements refused up front with the size, NaN weights never written to a model file,
 * strict state_dict names (no num_batches_tracked escape), num_batches_tracked per BN layer kept
 * through load/save, a linear layer without a bias (no `.bias` tensor, trains). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "modelio.h"
#include "nn/graph_internal.h"
#include "testutil.h"

static ct_netdef digit(int c1, int c2, int c3, int hidden, int bn)
{
    ct_netdef n;
    memset(&n, 0, sizeof n);
    TU_CHECK(ct_netdef_digitcnn(c1, c2, c3, hidden, 0.1, 0.2, bn, &n) == CT_OK, "%s", ct_last_error());
    return n;
}

static void tmp_path(char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/cltrain_graph_XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
}

/* inference-only: no training buffers, smaller, eval logits bit-identical to a training model */
static void inference_model(ct_ctx *c)
{
    const int N = 5;
    ct_netdef d = digit(4, 8, 12, 16, 1);
    unsigned long long tr_bytes = 0, inf_bytes = 0;
    TU_CHECK(ct_model_memory(&d, N, 0, &tr_bytes, NULL) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_memory(&d, N, 1, &inf_bytes, NULL) == CT_OK, "%s", ct_last_error());
    TU_CHECK(inf_bytes > 0 && inf_bytes * 2 < tr_bytes, "inference %llu bytes vs training %llu", inf_bytes, tr_bytes);
    ct_model *a = NULL, *b = NULL;
    TU_CHECK(ct_model_create(c, &d, N, &a) == CT_OK, "%s", ct_last_error());
    unsigned long long before = c->bytes_allocated;
    TU_CHECK(ct_model_create_ex(c, &d, N, 1, &b) == CT_OK, "%s", ct_last_error());
    ct_netdef_free(&d);
    if (!a || !b) return;
    TU_CHECK(c->bytes_allocated - before == inf_bytes, "estimate %llu bytes, allocated %llu", inf_bytes,
             c->bytes_allocated - before);
    TU_CHECK(!b->grads && !b->opt_m && !b->opt_v, "an inference model allocated training pools");
    TU_CHECK(ct_model_init_params(a, 3) == CT_OK, "%s", ct_last_error());
    float *p = NULL, *s = NULL;
    TU_CHECK(ct_model_snapshot(a, &p, &s) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_restore(b, p, s) == CT_OK, "%s", ct_last_error());
    free(p);
    free(s);
    float x[5 * 784], la[50], lb[50];
    tu_fill_uniform(x, sizeof x / sizeof x[0], -0.4f, 2.8f, 11);
    TU_CHECK(ct_model_upload(a, N, x, NULL) == CT_OK && ct_model_upload(b, N, x, NULL) == CT_OK, "%s",
             ct_last_error());
    TU_CHECK(ct_model_forward(a, N, 0, 0, 0) == CT_OK && ct_model_forward(b, N, 0, 0, 0) == CT_OK, "%s",
             ct_last_error());
    TU_CHECK(ct_buffer_read(c, a->logits, 0, sizeof la, la) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_buffer_read(c, b->logits, 0, sizeof lb, lb) == CT_OK, "%s", ct_last_error());
    TU_CHECK(memcmp(la, lb, sizeof la) == 0, "inference logits differ from the training model's");
    int rc = ct_model_forward(b, N, 1, 0, 0);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "inference"), "training forward on an inference model: %d",
             rc);
    ct_model_free(a);
    ct_model_free(b);
}

/* inference models share output buffers once their readers have run (graph.c share_outputs):
 * every shipped network gives the training model's eval logits bit for bit, with fewer output
 * buffers than layers of its own, and the memory estimate is what is allocated */
static void shared_outputs(ct_ctx *c, const char *net)
{
    char path[256];
    snprintf(path, sizeof path, "../configs/networks/%s.yaml", net);
    ct_config cfg;
    ct_config_defaults(&cfg);
    TU_CHECK(ct_config_load(&cfg, path) == CT_OK && cfg.network, "%s: %s", path, ct_last_error());
    if (!cfg.network) return;
    const int N = 3;
    ct_model *a = NULL, *b = NULL;
    unsigned long long inf_bytes = 0, before = c->bytes_allocated;
    TU_CHECK(ct_model_memory(cfg.network, N, 1, &inf_bytes, NULL) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_create_ex(c, cfg.network, N, 1, &b) == CT_OK, "%s: %s", net, ct_last_error());
    TU_CHECK(c->bytes_allocated - before == inf_bytes, "%s: estimate %llu bytes, allocated %llu", net, inf_bytes,
             c->bytes_allocated - before);
    TU_CHECK(ct_model_create(c, cfg.network, N, &a) == CT_OK, "%s: %s", net, ct_last_error());
    if (a && b) {
        int own = 0, distinct = 0;
        for (int i = 0; i < b->n_nodes; i++) {
            own += b->nodes[i].run == CT_RUN_OWN;
            int seen = b->nodes[i].out < 0;
            for (int k = 0; k < i && !seen; k++) seen = b->nodes[k].out == b->nodes[i].out;
            distinct += !seen;
        }
        printf("%-13s inference: %d output buffers for %d layers with outputs of their own, %llu bytes at batch %d\n",
               net, distinct, own, inf_bytes, N);
        TU_CHECK(distinct < own, "%s: %d output buffers for %d layers", net, distinct, own);
        TU_CHECK(ct_model_init_params(a, 5) == CT_OK, "%s", ct_last_error());
        float *p = NULL, *s = NULL;
        TU_CHECK(ct_model_snapshot(a, &p, &s) == CT_OK && ct_model_restore(b, p, s) == CT_OK, "%s", ct_last_error());
        free(p);
        free(s);
        const size_t n = (size_t)N * cfg.network->in_c * cfg.network->in_h * cfg.network->in_w;
        const size_t K = (size_t)N * cfg.network->classes;
        float *x = malloc(n * sizeof(float)), *la = malloc(K * sizeof(float)), *lb = malloc(K * sizeof(float));
        if (x && la && lb) {
            tu_fill_uniform(x, n, -0.4f, 2.8f, 17);
            TU_CHECK(ct_model_upload(a, N, x, NULL) == CT_OK && ct_model_upload(b, N, x, NULL) == CT_OK &&
                         ct_model_forward(a, N, 0, 0, 0) == CT_OK && ct_model_forward(b, N, 0, 0, 0) == CT_OK &&
                         ct_buffer_read(c, a->logits, 0, K * 4, la) == CT_OK &&
                         ct_buffer_read(c, b->logits, 0, K * 4, lb) == CT_OK,
                     "%s", ct_last_error());
            TU_CHECK(memcmp(la, lb, K * 4) == 0, "%s: inference logits differ from the training model's", net);
        }
        free(x);
        free(la);
        free(lb);
    }
    ct_model_free(a);
    ct_model_free(b);
    ct_config_free(&cfg);
}

/* 2^31-1 elements per buffer: refused before anything is allocated, with the size */
static void oversize(ct_ctx *c)
{
    ct_netdef d = digit(4096, 64, 128, 256, 1);
    unsigned long long bytes = 0;
    int rc = ct_model_memory(&d, 65536, 1, &bytes, NULL);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "conv1") && strstr(ct_last_error(), "2147483647") &&
                 strstr(ct_last_error(), "elements at batch 65536"),
             "oversized buffer: rc %d, '%s'", rc, ct_last_error());
    unsigned long long before = c->bytes_allocated;
    ct_model *m = NULL;
    rc = ct_model_create_ex(c, &d, 65536, 1, &m);
    TU_CHECK(rc == CT_ERR_USAGE && !m && c->bytes_allocated == before, "oversized model created: rc %d", rc);
    ct_netdef_free(&d);
    /* a parameter pool past the limit: fc1 of 4096*9 x 65536 */
    d = digit(8, 8, 4096, 65536, 0);
    rc = ct_model_memory(&d, 1, 1, &bytes, NULL);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "parameter"), "oversized parameters: rc %d, '%s'", rc,
             ct_last_error());
    ct_netdef_free(&d);
}

/* NaN weights are never written; strict names; per-layer num_batches_tracked */
static void files(ct_ctx *c)
{
    ct_netdef d = digit(2, 3, 4, 6, 1);
    ct_model *m = NULL;
    TU_CHECK(ct_model_create(c, &d, 2, &m) == CT_OK, "%s", ct_last_error());
    ct_netdef_free(&d);
    if (!m) return;
    TU_CHECK(ct_model_init_params(m, 5) == CT_OK, "%s", ct_last_error());
    char path[64], bad[64];
    tmp_path(path, sizeof path);
    tmp_path(bad, sizeof bad);
    unlink(bad);
    /* per-layer counters survive a save/load */
    m->nbt[1] = 5; /* bn1 */
    TU_CHECK(ct_modelio_save(m, path, NULL, NULL, 0) == CT_OK, "%s", ct_last_error());
    ct_st_file *f = NULL;
    TU_CHECK(ct_st_load(path, &f) == CT_OK, "%s", ct_last_error());
    int64_t v = -1;
    TU_CHECK(f && ct_st_get_i64_scalar(f, "bn1.num_batches_tracked", &v, path) == CT_OK && v == 5, "bn1 nbt %lld",
             (long long)v);
    TU_CHECK(f && ct_st_get_i64_scalar(f, "bn2.num_batches_tracked", &v, path) == CT_OK && v == 0, "bn2 nbt %lld",
             (long long)v);
    /* a file with one more "...num_batches_tracked" tensor than the network has is refused */
    ct_st_writer *w = ct_st_writer_new();
    for (size_t i = 0; f && w && i < ct_st_count(f); i++) {
        const ct_st_tensor *t = ct_st_tensor_at(f, i);
        TU_CHECK(ct_st_writer_add(w, t->name, t->dtype, t->rank, t->shape, t->data, 0) == CT_OK, "%s", ct_last_error());
    }
    TU_CHECK(ct_st_writer_add_i64_scalar(w, "conv1.num_batches_tracked", 1) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_st_write(w, bad) == CT_OK, "%s", ct_last_error());
    ct_st_writer_free(w);
    ct_st_file *g = NULL;
    TU_CHECK(ct_st_load(bad, &g) == CT_OK, "%s", ct_last_error());
    int rc = g ? ct_modelio_load(m, g, bad) : CT_ERR_INPUT;
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "unexpected tensor 'conv1.num_batches_tracked'"),
             "num_batches_tracked escape: rc %d, '%s'", rc, ct_last_error());
    ct_st_free(g);
    unlink(bad);
    ct_model_set_nbt(m, 0);
    TU_CHECK(f && ct_modelio_load(m, f, path) == CT_OK && m->nbt[1] == 5 && m->nbt[5] == 0, "per-layer nbt load: %s",
             ct_last_error());
    ct_st_free(f);
    /* NaN in a running statistic: no file */
    float nan = NAN;
    const ct_tensor *rv = ct_model_tensor(m, "bn2.running_var");
    TU_CHECK(rv && ct_buffer_write(c, m->state, (rv->offset + 1) * 4, 4, &nan) == CT_OK, "%s", ct_last_error());
    rc = ct_modelio_save(m, bad, NULL, NULL, 0);
    TU_CHECK(rc == CT_ERR_RUNTIME && strstr(ct_last_error(), "'bn2.running_var'") &&
                 strstr(ct_last_error(), "element 1") && access(bad, F_OK) != 0,
             "NaN weights saved: rc %d, '%s'", rc, ct_last_error());
    unlink(path);
    ct_model_free(m);
}

/* Linear(bias=False): no `<name>.bias` tensor, OUT fewer parameters, and a training step runs */
static void linear_nobias(ct_ctx *c)
{
    ct_netdef d = digit(2, 3, 4, 6, 1);
    int fc = -1;
    for (int i = 0; i < d.n_layers; i++)
        if (d.layers[i].type == CT_L_LINEAR && fc < 0) fc = i;
    ct_model *m = NULL;
    TU_CHECK(ct_model_create(c, &d, 2, &m) == CT_OK, "%s", ct_last_error());
    long long with_bias = m ? ct_model_param_count(m) : 0;
    ct_model_free(m);
    m = NULL;
    d.layers[fc].bias = 0;
    int rc = ct_model_create(c, &d, 2, &m);
    TU_CHECK(rc == CT_OK && m, "linear without bias refused: %s", ct_last_error());
    if (m) {
        int has_bias = 0;
        for (int i = 0; i < m->n_t; i++) has_bias |= !strcmp(m->t[i].name, "fc1.bias");
        TU_CHECK(!has_bias && ct_model_param_count(m) == with_bias - d.layers[fc].out_features,
                 "fc1 without bias: %lld parameters (with bias %lld), fc1.bias %s", ct_model_param_count(m), with_bias,
                 has_bias ? "present" : "absent");
        float x[2 * 28 * 28];
        int32_t t[2] = {3, 7};
        for (int i = 0; i < 2 * 28 * 28; i++) x[i] = (float)((i * 37) % 101) / 101.0f;
        const ct_optim o = {1, 0.001f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.0f};
        float loss = NAN;
        rc = ct_model_upload(m, 2, x, t);
        if (rc == CT_OK) rc = ct_model_train_step(m, 2, &o, 0, 0);
        if (rc == CT_OK) rc = ct_buffer_read(c, m->batch_loss, 0, 4, &loss);
        TU_CHECK(rc == CT_OK && isfinite(loss), "training step without fc1.bias: rc %d loss %g: %s", rc, loss,
                 ct_last_error());
    }
    ct_model_free(m);
    ct_netdef_free(&d);
}

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(NULL, 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    inference_model(c);
    const char *nets[] = {"digitcnn", "lenet5", "mlp", "vgg-small", "resnet-small"};
    for (size_t i = 0; i < sizeof nets / sizeof nets[0]; i++) shared_outputs(c, nets[i]);
    oversize(c);
    files(c);
    linear_nobias(c);
    ct_ctx_free(c);
    return tu_finish();
}
