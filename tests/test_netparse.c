/* test_netparse.c: the `network:` section of YAML configs (src/nn/netparse.c and its hook in
 * config.c): configs/networks/digitcnn.yaml equals the DigitCNN of the model: keys; the
 * effective config (ct_config_to_yaml, as written to a run folder) loads back to the same
 * network and PyYAML reads it; the JSON config carries the network; the checks against the
 * data name the file and line; a failed load keeps the previous network; --set is refused.
 * (Every malformed network is a fixture checked by tests/cli_network.sh.) */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "nn/netparse.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *root;

static const char *repo(const char *rel)
{
    static char buf[4][1024];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    return b;
}

static char *temp_file(const char *text)
{
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/cltrain_net_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        perror("temp file");
        exit(2);
    }
    close(fd);
    return path;
}

/* same layers (positions aside) */
static int same_net(const ct_netdef *a, const ct_netdef *b)
{
    if (a->n_layers != b->n_layers || a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w ||
        a->classes != b->classes)
        return 0;
    for (int i = 0; i < a->n_layers; i++) {
        ct_layer_def x = a->layers[i], y = b->layers[i];
        x.line = y.line = x.col = y.col = 0;
        if (memcmp(&x, &y, sizeof x)) {
            fprintf(stderr, "  layer %d differs ('%s' %d vs '%s' %d)\n", i, x.name, (int)x.type, y.name, (int)y.type);
            return 0;
        }
    }
    return 1;
}

static void test_digitcnn_yaml(void)
{
    ct_config c;
    ct_config_defaults(&c);
    ct_netdef d, y;
    TU_CHECK(ct_config_netdef(&c, &d) == CT_OK && ct_netdef_param_count(&d) == 455754, "no network: DigitCNN");
    TU_CHECK(c.network == NULL, "defaults have no network");
    TU_CHECK(ct_config_load(&c, repo("configs/networks/digitcnn.yaml")) == CT_OK, "load digitcnn.yaml: %s",
             ct_last_error());
    TU_CHECK(c.network && ct_config_netdef(&c, &y) == CT_OK, "network section read");
    if (c.network) {
        TU_CHECK(same_net(&d, &y), "digitcnn.yaml == ct_netdef_digitcnn(model: defaults)");
        TU_CHECK(y.layers[0].line == 50 && y.layers[0].col == 7, "layer position %d:%d", y.layers[0].line,
                 y.layers[0].col);
        TU_CHECK(c.network_line == 48 && c.network_col == 3 && strstr(c.network_file, "digitcnn.yaml"),
                 "network.input at %s:%d:%d", c.network_file, c.network_line, c.network_col);
        ct_netdef_free(&y);
    }
    ct_config dflt;
    ct_config_defaults(&dflt);
    ct_config_load(&dflt, repo("configs/default.yaml"));
    TU_CHECK(!memcmp(&dflt.training, &c.training, sizeof c.training) &&
                 !memcmp(&dflt.scheduler, &c.scheduler, sizeof c.scheduler) &&
                 !memcmp(&dflt.augmentation, &c.augmentation, sizeof c.augmentation) &&
                 !memcmp(&dflt.early_stopping, &c.early_stopping, sizeof c.early_stopping) &&
                 !strcmp(dflt.data.dir, c.data.dir) && dflt.data.mean == c.data.mean && dflt.data.std == c.data.std,
             "digitcnn.yaml trains with configs/default.yaml's keys");
    ct_netdef_free(&d);
    /* model: keys still shape the DigitCNN when there is no network */
    ct_config_free(&c);
    TU_CHECK(c.network == NULL, "free clears");
    TU_CHECK(ct_config_set(&c, "model.use_batch_norm=false") == CT_OK && ct_config_netdef(&c, &d) == CT_OK &&
                 ct_netdef_param_count(&d) == 455306,
             "model.use_batch_norm=false: %lld", ct_netdef_param_count(&d));
    ct_netdef_free(&d);
}

static void check_pyyaml(const char *path, int layers)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import yaml,sys; d=yaml.safe_load(open('%s')); "
             "L=d['network']['layers']; assert len(L)==%d; "
             "assert all(type(v) in (int,float,bool,str,list) for l in L for v in l.values()); "
             "assert all(isinstance(l[k], float) for l in L for k in ('eps', 'momentum', 'p') if k in l)\"",
             path, layers);
    TU_CHECK(system(cmd) == 0, "PyYAML reads the written network (%s)", path);
}

static void test_round_trip(void)
{
    static const char *nets[] = {"resnet-small", "vgg-small", "lenet5", "mlp", "digitcnn"};
    for (size_t k = 0; k < sizeof nets / sizeof nets[0]; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "configs/networks/%s.yaml", nets[k]);
        ct_config a, b;
        ct_config_defaults(&a);
        ct_config_defaults(&b);
        TU_CHECK(ct_config_load(&a, repo(rel)) == CT_OK && a.network, "%s: %s", rel, ct_last_error());
        if (!a.network) continue;
        char *y1 = NULL, *y2 = NULL, *j = NULL;
        TU_CHECK(ct_config_to_yaml(&a, &y1) == CT_OK, "to_yaml");
        char *path = temp_file(y1);
        TU_CHECK(ct_config_load(&b, path) == CT_OK && b.network, "written config loads: %s", ct_last_error());
        if (b.network) {
            TU_CHECK(same_net(a.network, b.network), "%s: same network after the round trip", rel);
            TU_CHECK(ct_config_to_yaml(&b, &y2) == CT_OK && !strcmp(y1, y2), "%s: written twice identically", rel);
            check_pyyaml(path, a.network->n_layers);
        }
        TU_CHECK(ct_config_to_json(&a, &j) == CT_OK && strstr(j, ",\"network\":{\"input\":{\"channels\":1"),
                 "JSON config has the network");
        if (j) {
            const char *s = strstr(j, "\"network\":");
            ct_netdef n;
            if (s) {
                s += strlen("\"network\":");
                TU_CHECK(ct_netdef_from_json(s, strlen(s) - 1, "cfg", &n) == CT_OK && same_net(&n, a.network),
                         "the JSON network reads back: %s", ct_last_error());
                ct_netdef_free(&n);
            }
        }
        unlink(path);
        free(path);
        free(y1);
        free(y2);
        free(j);
        ct_config_free(&a);
        ct_config_free(&b);
    }
}

static void test_check_data(void)
{
    ct_config c;
    ct_config_defaults(&c);
    TU_CHECK(ct_config_check_data(&c, 1, 28, 28, 10) == CT_OK, "DigitCNN fits MNIST");
    TU_CHECK(ct_config_check_data(&c, 3, 32, 32, 10) == CT_ERR_USAGE && strstr(ct_last_error(), "network: section"),
             "DigitCNN on 3x32x32: %s", ct_last_error());
    ct_config_load(&c, repo("configs/networks/lenet5.yaml"));
    TU_CHECK(ct_config_check_data(&c, 1, 28, 28, 10) == CT_OK, "lenet5 fits MNIST");
    TU_CHECK(ct_config_check_data(&c, 3, 32, 32, 10) == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "lenet5.yaml:") &&
                 strstr(ct_last_error(), "network.input {channels: 1, height: 28, width: 28} differs from the data "
                                         "(3 x 32 x 32 images); set network.input to {channels: 3, height: 32, width: 32}"),
             "input mismatch: %s", ct_last_error());
    TU_CHECK(ct_config_check_data(&c, 1, 28, 28, 5) == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "network.layers[11] ('fc3', linear): the last layer's width is 10 but the "
                                         "data set has 5 classes; set its out_features to 5"),
             "classes mismatch: %s", ct_last_error());
    char want[64];
    snprintf(want, sizeof want, "lenet5.yaml:%d:7:", c.network->layers[11].line);
    TU_CHECK(strstr(ct_last_error(), want) != NULL, "last layer's line in '%s'", ct_last_error());
    ct_config_free(&c);
}

static void test_load_rules(void)
{
    ct_config c;
    ct_config_defaults(&c);
    TU_CHECK(ct_config_load(&c, repo("configs/networks/mlp.yaml")) == CT_OK, "mlp");
    ct_netdef *before = c.network;
    /* a failed load keeps the previous config and network */
    char *bad = temp_file("training:\n  epochs: 3\nnetwork:\n  input: {channels: 1, height: 28, width: 28}\n"
                          "  layers:\n    - {type: flatten}\n    - {name: fc, type: linea, out_features: 10}\n");
    TU_CHECK(ct_config_load(&c, bad) == CT_ERR_USAGE && c.network == before && c.training.epochs == 20,
             "failed load leaves the struct: %s", ct_last_error());
    TU_CHECK(strstr(ct_last_error(), ":7:24: network.layers[1]: unknown layer type 'linea'; did you mean 'linear'?") !=
                 NULL,
             "message: %s", ct_last_error());
    /* a later file without network keeps it; one with a network replaces it */
    char *plain = temp_file("training:\n  epochs: 4\n");
    TU_CHECK(ct_config_load(&c, plain) == CT_OK && c.network == before && c.training.epochs == 4, "keeps network");
    TU_CHECK(ct_config_load(&c, repo("configs/networks/lenet5.yaml")) == CT_OK && c.network &&
                 c.network->n_layers == 12,
             "replaced by lenet5");
    TU_CHECK(ct_config_set(&c, "network.input=1") == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "cannot be changed with --set"),
             "--set network: %s", ct_last_error());
    TU_CHECK(ct_config_set(&c, "netwrk.x=1") == CT_ERR_USAGE && strstr(ct_last_error(), "did you mean 'network'"),
             "did-you-mean network: %s", ct_last_error());
    TU_CHECK(ct_config_validate(&c) == CT_OK, "validate with a network");
    unlink(bad);
    unlink(plain);
    free(bad);
    free(plain);
    ct_config_free(&c);
}

int main(void)
{
    root = getenv("CLTRAIN_SOURCE_DIR");
    if (!root) root = "..";
    test_digitcnn_yaml();
    test_round_trip();
    test_check_data();
    test_load_rules();
    return tu_finish();
}
