/* test_parity.c: DigitCNN through the graph executor on the device against PyTorch, from the
 * fixture written by tools/make_fixtures.py: every activation of a training forward, the loss,
 * every gradient, running statistics, and the parameters after 3 Adam and 3 SGD steps with
 * weight decay (dropout masks taken from the fixture). Every call's status is checked; a
 * fixture tensor missing or of the wrong dtype is a failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "safetensors.h"
#include "testutil.h"

static const char *FIX = "fixtures/digitcnn_ref.safetensors";
static ct_st_file *fx;

static const float *get(const char *name, size_t *n)
{
    const ct_st_tensor *t = ct_st_find(fx, name);
    TU_CHECK(t != NULL, "fixture has no tensor '%s'", name);
    if (t) TU_CHECK(t->dtype == CT_ST_F32, "fixture tensor '%s' is not F32", name);
    if (!t || t->dtype != CT_ST_F32) return NULL;
    if (n) *n = (size_t)t->numel;
    return (const float *)t->data;
}

static void load_state(ct_model *m, const char *prefix)
{
    for (int i = 0; i < m->n_t; i++) {
        char nm[200];
        snprintf(nm, sizeof nm, "%s.%s", prefix, m->t[i].name);
        const float *d = get(nm, NULL);
        if (d) TU_CHECK(ct_model_set_tensor(m, m->t[i].name, d) == CT_OK, "%s", ct_last_error());
    }
    ct_model_set_nbt(m, 0);
    TU_CHECK(ct_model_zero_optimizer(m) == CT_OK, "%s", ct_last_error());
}

static void compare_state(ct_model *m, const char *prefix, float atol, float rtol)
{
    float *buf = malloc(400000 * sizeof(float));
    TU_CHECK(buf != NULL, "out of memory");
    for (int i = 0; buf && i < m->n_t; i++) {
        char nm[200];
        snprintf(nm, sizeof nm, "%s.%s", prefix, m->t[i].name);
        size_t n;
        const float *want = get(nm, &n);
        if (!want) continue;
        TU_CHECK(ct_model_get_tensor(m, m->t[i].name, buf) == CT_OK, "%s", ct_last_error());
        tu_close(nm, buf, want, n, atol, rtol);
    }
    free(buf);
}

int main(void)
{
    if (ct_st_load(FIX, &fx) != CT_OK) {
        TU_CHECK(0, "cannot load %s: %s", FIX, ct_last_error());
        return tu_finish();
    }
    ct_ctx *c;
    if (ct_ctx_create(tu_device(), 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    const int N = 10;
    ct_netdef d;
    ct_model *m = NULL;
    int ok = ct_netdef_digitcnn(8, 16, 24, 48, 0.1, 0.2, 1, &d) == CT_OK;
    TU_CHECK(ok, "%s", ct_last_error());
    if (ok) {
        ok = ct_model_create(c, &d, N, &m) == CT_OK;
        TU_CHECK(ok, "%s", ct_last_error());
        ct_netdef_free(&d);
    }
    const float *x = get("input", NULL);
    const ct_st_tensor *tt = ct_st_find(fx, "target");
    TU_CHECK(tt && tt->dtype == CT_ST_I64 && tt->numel == N, "fixture 'target' is not %d int64 values", N);
    if (!ok || !x || !tt || tt->dtype != CT_ST_I64 || tt->numel != N) {
        ct_model_free(m);
        ct_ctx_free(c);
        ct_st_free(fx);
        return tu_finish();
    }
    int32_t tg[10];
    for (int i = 0; i < N; i++) {
        int64_t v;
        memcpy(&v, (const char *)tt->data + 8 * i, 8);
        tg[i] = (int32_t)v;
    }
    TU_CHECK(ct_model_upload(m, N, x, tg) == CT_OK, "%s", ct_last_error());
    const float *k1 = get("mask.drop1", NULL), *k2 = get("mask.drop2", NULL);
    if (k1 && k2) TU_CHECK(ct_model_set_masks(m, N, k1, k2) == CT_OK, "%s", ct_last_error());

    /* every layer by itself (all activations kept), then as planned (the CPU profile runs bn1/bn2 +
     * ReLU + max pooling in one kernel and keeps neither relu1 nor relu2) */
    float *buf = malloc(200000 * sizeof(float));
    if (!buf) return TU_CHECK(0, "out of memory"), tu_finish();
    for (int fused = 0; fused < 2; fused++) {
        m->unfused_pool = !fused;
        /* one training forward + backward from init */
        load_state(m, "init");
        TU_CHECK(ct_model_forward(m, N, 1, 0, 0) == CT_OK, "%s", ct_last_error());
        TU_CHECK(ct_model_loss(m, N, 1) == CT_OK, "%s", ct_last_error());
        TU_CHECK(ct_model_backward(m, N) == CT_OK, "%s", ct_last_error());
        const char *acts[] = {"conv1", "relu1", "pool1", "conv2", "relu2", "pool2",    "drop1", "conv3",
                              "relu3", "avgpool", "relu_fc1", "drop2", "relu_fc2", "logits"};
        for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
            for (int grad = 0; grad < 2; grad++) {
                char nm[64];
                /* the fused FC+ReLU layers keep the gradient w.r.t. the pre-activation (fc1, fc2) */
                const char *fname = acts[i];
                if (grad && !strcmp(fname, "relu_fc1")) fname = "fc1";
                if (grad && !strcmp(fname, "relu_fc2")) fname = "fc2";
                snprintf(nm, sizeof nm, "%s.%s", grad ? "gradact" : "act", fname);
                size_t n, got_n = 0;
                const float *want = get(nm, &n);
                if (!want) continue;
                if (!ct_model_output_kept(m, acts[i])) {
                    TU_CHECK(fused && !c->tune.gpu_profile && (!strcmp(acts[i], "relu1") || !strcmp(acts[i], "relu2")),
                             "%s: not kept", nm);
                    TU_CHECK(ct_model_read_activation(m, acts[i], N, grad, buf, &got_n) != CT_OK,
                             "%s: kept although fused", nm);
                    continue;
                }
                TU_CHECK(ct_model_read_activation(m, acts[i], N, grad, buf, &got_n) == CT_OK, "%s", ct_last_error());
                TU_CHECK(got_n == n, "%s: %zu values, fixture has %zu", nm, got_n, n);
                if (got_n == n) tu_close(nm, buf, want, n, grad ? 1e-6f : 1e-4f, 1e-3f);
            }
        }
        float loss = NAN;
        TU_CHECK(ct_buffer_read(c, m->batch_loss, 0, 4, &loss) == CT_OK, "%s", ct_last_error());
        tu_close("loss", &loss, get("loss", NULL), 1, 1e-6f, 1e-5f);
        for (int i = 0; i < m->n_t; i++) {
            if (m->t[i].pool != CT_POOL_PARAMS) continue;
            char nm[200];
            snprintf(nm, sizeof nm, "grad.%s", m->t[i].name);
            size_t n;
            const float *want = get(nm, &n);
            if (!want) continue;
            TU_CHECK(ct_model_get_grad(m, m->t[i].name, buf) == CT_OK, "%s", ct_last_error());
            tu_close(nm, buf, want, n, 1e-6f, 2e-3f);
        }
        for (int b = 1; b <= 3; b++) {
            char nm[64], fn[80];
            snprintf(nm, sizeof nm, "bn%d.running_mean", b);
            snprintf(fn, sizeof fn, "fwd.%s", nm);
            size_t n;
            const float *want = get(fn, &n);
            TU_CHECK(ct_model_get_tensor(m, nm, buf) == CT_OK, "%s", ct_last_error());
            if (want) tu_close(fn, buf, want, n, 1e-6f, 1e-4f);
            snprintf(nm, sizeof nm, "bn%d.running_var", b);
            snprintf(fn, sizeof fn, "fwd.%s", nm);
            want = get(fn, &n);
            TU_CHECK(ct_model_get_tensor(m, nm, buf) == CT_OK, "%s", ct_last_error());
            if (want) tu_close(fn, buf, want, n, 1e-6f, 1e-4f);
        }

        /* 3 optimizer steps, Adam then SGD, each from init */
        const char *opts[2] = {"adam", "sgd"};
        ct_optim o[2] = {{1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 0.01f}, {0, 0.05f, 0.9f, 0.999f, 1e-8f, 0.9f, 0.01f}};
        for (int k = 0; k < 2; k++) {
            load_state(m, "init");
            float losses[3];
            for (int s = 0; s < 3; s++) {
                TU_CHECK(ct_model_train_step(m, N, &o[k], 0, (unsigned)s) == CT_OK, "%s", ct_last_error());
                TU_CHECK(ct_buffer_read(c, m->batch_loss, 0, 4, &losses[s]) == CT_OK, "%s", ct_last_error());
            }
            char nm[64];
            snprintf(nm, sizeof nm, "%s.loss", opts[k]);
            tu_close(nm, losses, get(nm, NULL), 3, 1e-5f, 1e-4f);
            compare_state(m, opts[k], 1e-5f, 1e-3f);
            TU_CHECK(m->num_batches_tracked == 3, "num_batches_tracked %lld, want 3", m->num_batches_tracked);
            TU_CHECK(ct_model_forward(m, N, 0, 0, 0) == CT_OK, "%s", ct_last_error());
            TU_CHECK(ct_buffer_read(c, m->logits, 0, (size_t)N * 40, buf) == CT_OK, "%s", ct_last_error());
            snprintf(nm, sizeof nm, "%s.eval_logits", opts[k]);
            tu_close(nm, buf, get(nm, NULL), (size_t)N * 10, 1e-4f, 1e-3f);
        }
    }
    free(buf);
    ct_model_free(m);
    ct_ctx_free(c);
    ct_st_free(fx);
    return tu_finish();
}
