#define _POSIX_C_SOURCE 200809L
/* test_modelio.c: a model trained a few steps, saved as safetensors with PyTorch's names,
 * loads back into a fresh model with identical logits; strict loading rejects wrong files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "modelio.h"
#include "testutil.h"

int main(void)
{
    ct_ctx *c;
    if (ct_ctx_create(tu_device(), 0, &c) != CT_OK) {
        TU_CHECK(0, "no OpenCL device: %s", ct_last_error());
        return tu_finish();
    }
    const int N = 6;
    ct_netdef d;
    TU_CHECK(ct_netdef_digitcnn(4, 8, 12, 16, 0.1, 0.2, 1, &d) == CT_OK, "%s", ct_last_error());
    ct_model *a, *b;
    TU_CHECK(ct_model_create(c, &d, N, &a) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_init_params(a, 7) == CT_OK, "%s", ct_last_error());
    float x[6 * 784];
    tu_fill_uniform(x, sizeof x / sizeof x[0], -0.4f, 2.8f, 3);
    int32_t t[6] = {0, 1, 2, 3, 4, 5};
    ct_model_upload(a, N, x, t);
    ct_optim o = {1, 0.01f, 0.9f, 0.999f, 1e-8f, 0, 1e-5f};
    for (unsigned s = 0; s < 3; s++) TU_CHECK(ct_model_train_step(a, N, &o, 1, s) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_forward(a, N, 0, 0, 0) == CT_OK, "%s", ct_last_error());
    float la[60], lb[60];
    ct_buffer_read(c, a->logits, 0, sizeof la, la);

    char path[] = "/tmp/cltrain_modelio_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    const char *k[] = {"note"}, *v[] = {"test"};
    TU_CHECK(ct_modelio_save(a, path, k, v, 1) == CT_OK, "%s", ct_last_error());
    ct_st_file *f;
    TU_CHECK(ct_st_load(path, &f) == CT_OK, "%s", ct_last_error());
    ct_netdef e;
    TU_CHECK(ct_modelio_has_network(f), "no 'network' metadata written");
    TU_CHECK(ct_modelio_netdef(f, path, NULL, &e) == CT_OK, "%s", ct_last_error());
    TU_CHECK(e.n_layers == d.n_layers && e.layers[0].out_channels == 4 && e.layers[4].out_channels == 8 &&
                 e.classes == 10,
             "network from the metadata differs");
    TU_CHECK(ct_st_count(f) == 27, "state_dict has %zu tensors, want 27 (incl. num_batches_tracked)", ct_st_count(f));
    int64_t nbt = -1;
    TU_CHECK(ct_st_get_i64_scalar(f, "bn2.num_batches_tracked", &nbt, path) == CT_OK && nbt == 3,
             "num_batches_tracked %lld: %s", (long long)nbt, ct_last_error());
    TU_CHECK(ct_st_metadata_get(f, "note") && !strcmp(ct_st_metadata_get(f, "note"), "test"), "metadata lost");
    TU_CHECK(ct_model_create(c, &e, N, &b) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_modelio_load(b, f, path) == CT_OK, "%s", ct_last_error());
    ct_model_upload(b, N, x, t);
    TU_CHECK(ct_model_forward(b, N, 0, 0, 0) == CT_OK, "%s", ct_last_error());
    ct_buffer_read(c, b->logits, 0, sizeof lb, lb);
    TU_CHECK(memcmp(la, lb, sizeof la) == 0, "logits differ after save/load");
    ct_st_free(f);
    ct_model_free(b);
    ct_netdef_free(&e);

    /* strict: a model of other sizes is rejected with the tensor named */
    ct_netdef other;
    TU_CHECK(ct_netdef_digitcnn(5, 8, 12, 16, 0.1, 0.2, 1, &other) == CT_OK, "%s", ct_last_error());
    TU_CHECK(ct_model_create(c, &other, N, &b) == CT_OK, "%s", ct_last_error());
    ct_netdef_free(&other);
    TU_CHECK(ct_st_load(path, &f) == CT_OK, "%s", ct_last_error());
    int rc = ct_modelio_load(b, f, path);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "conv1.weight"), "wrong-shape load: rc %d, %s", rc,
             ct_last_error());
    ct_st_free(f);
    ct_model_free(b);
    /* a file without BN tensors loaded into a BN model is rejected */
    ct_netdef nobn;
    TU_CHECK(ct_netdef_digitcnn(4, 8, 12, 16, 0.1, 0.2, 0, &nobn) == CT_OK, "%s", ct_last_error());
    ct_model *nb;
    TU_CHECK(ct_model_create(c, &nobn, N, &nb) == CT_OK, "%s", ct_last_error());
    ct_netdef_free(&nobn);
    TU_CHECK(ct_st_load(path, &f) == CT_OK, "%s", ct_last_error());
    rc = ct_modelio_load(nb, f, path);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "unexpected tensor"), "strict load: rc %d, %s", rc,
             ct_last_error());
    ct_st_free(f);
    ct_model_free(nb);
    unlink(path);
    ct_netdef_free(&d);
    ct_model_free(a);
    ct_ctx_free(c);
    return tu_finish();
}
