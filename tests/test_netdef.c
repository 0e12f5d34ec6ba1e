/* test_netdef.c: the network description (src/nn/netdef.c): DigitCNN's layers and parameter
 * count (PyTorch's sum(p.numel()), from tools/torch_model.py), PyTorch's output-shape formula,
 * the JSON round trip and its strictness, and every resolution rule with its message. */
#include "nn/netdef.h"
#include "common.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a JSON network; returns the status; on failure checks that the message has `want`. */
static int try_json(const char *text, const char *want, ct_netdef *out)
{
    ct_netdef n;
    int rc = ct_netdef_from_json(text, strlen(text), "t.json", &n);
    if (rc == CT_OK) {
        if (out) *out = n;
        else ct_netdef_free(&n);
    } else if (want) {
        TU_CHECK(strstr(ct_last_error(), want) != NULL, "message '%s' lacks '%s'", ct_last_error(), want);
    }
    return rc;
}

/* A network "input 1x8x8, <layers>" as JSON; classes 0 means "from the last layer" (omitted). */
static char *net(int classes, const char *layers)
{
    static char buf[8192];
    snprintf(buf, sizeof buf, "{\"input\":{\"channels\":1,\"height\":8,\"width\":8},\"classes\":%d,\"layers\":[%s]}",
             classes, layers);
    return buf;
}

#define FLAT_END "{\"type\":\"flatten\",\"inputs\":[%d]},{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[%d],\"out_features\":3}"

static void expect_fail(const char *layers, const char *want)
{
    int rc = try_json(net(3, layers), want, NULL);
    TU_CHECK(rc == CT_ERR_INPUT, "expected failure '%s' for %s (rc %d)", want, layers, rc);
}

static void test_digitcnn(void)
{
    ct_netdef n;
    TU_CHECK(ct_netdef_digitcnn(32, 64, 128, 256, 0.1, 0.2, 1, &n) == CT_OK, "digitcnn: %s", ct_last_error());
    TU_CHECK(ct_netdef_param_count(&n) == 455754, "DigitCNN params %lld != 455754 (PyTorch)",
             ct_netdef_param_count(&n));
    TU_CHECK(n.n_layers == 20, "DigitCNN has %d layers", n.n_layers);
    const char *names[] = {"conv1", "bn1", "", "pool1", "conv2", "bn2", "", "pool2", "dropout1", "conv3", "bn3",
                           "", "pool3", "", "fc1", "", "dropout2", "fc2", "", "fc3"};
    for (int i = 0; i < 20; i++)
        TU_CHECK(!strcmp(n.layers[i].name, names[i]), "layer %d named '%s' not '%s'", i, n.layers[i].name, names[i]);
    TU_CHECK(n.layers[0].out.c == 32 && n.layers[0].out.h == 28, "conv1 out %d x %d", n.layers[0].out.c,
             n.layers[0].out.h);
    TU_CHECK(n.layers[7].out.h == 7 && n.layers[7].out.w == 7, "pool2 out %dx%d", n.layers[7].out.h,
             n.layers[7].out.w);
    TU_CHECK(n.layers[8].type == CT_L_DROPOUT2D && n.layers[8].p == 0.1, "dropout1 after pool2");
    TU_CHECK(n.layers[13].type == CT_L_FLATTEN && n.layers[13].out.c == 1152 && n.layers[13].out.rank == 2,
             "flatten 1152");
    TU_CHECK(n.layers[19].type == CT_L_LINEAR && n.classes == 10, "fc3 -> 10 classes");
    double fl = 0;
    for (int i = 0; i < n.n_layers; i++) fl += ct_layer_flops(&n.layers[i]);
    /* conv1 2*784*32*25 + conv2 2*196*64*800 + conv3 2*49*128*576 + fc 2*(1152*256+256*128+128*10) */
    double want = 2.0 * (784 * 32 * 25 + 196.0 * 64 * 800 + 49.0 * 128 * 576 + 1152 * 256 + 256 * 128 + 1280);
    TU_CHECK(fl == want, "DigitCNN flops %.0f != %.0f", fl, want);
    unsigned long long m1 = ct_netdef_memory_estimate(&n, 1), m64 = ct_netdef_memory_estimate(&n, 64);
    TU_CHECK(m1 > 455754ull * 16 && m64 > m1 && m64 - m1 == 63 * (m1 - 455754ull * 16 - 4ull * 4 * 224),
             "memory estimate %llu / %llu linear in the batch above the fixed part", m1, m64);
    ct_netdef_free(&n);

    TU_CHECK(ct_netdef_digitcnn(32, 64, 128, 256, 0.1, 0.2, 0, &n) == CT_OK, "digitcnn no bn");
    TU_CHECK(ct_netdef_param_count(&n) == 455306 && n.n_layers == 17, "DigitCNN without bn: %lld params, %d layers",
             ct_netdef_param_count(&n), n.n_layers);
    TU_CHECK(n.layers[1].type == CT_L_RELU, "no bn: conv1 -> relu");
    ct_netdef_free(&n);
    TU_CHECK(ct_netdef_digitcnn(8, 16, 24, 32, 0, 0, 1, &n) == CT_OK, "small digitcnn");
    TU_CHECK(ct_netdef_param_count(&n) == 14642, "DigitCNN(8,16,24,32) %lld != 14642", ct_netdef_param_count(&n));
    ct_netdef_free(&n);
}

static void test_round_trip(void)
{
    ct_netdef n, m;
    TU_CHECK(ct_netdef_digitcnn(32, 64, 128, 256, 0.1, 0.2, 1, &n) == CT_OK, "digitcnn");
    n.layers[1].eps = 1e-3;
    n.layers[1].momentum = 0.3;
    char *a = NULL, *b = NULL;
    TU_CHECK(ct_netdef_to_json(&n, &a) == CT_OK && a, "to_json");
    TU_CHECK(strstr(a, "\"name\":\"conv1\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":32,\"kernel\":[5,5],"
                       "\"stride\":[1,1],\"padding\":[2,2],\"bias\":true,\"output_shape\":[32,28,28]") != NULL,
             "conv1 JSON as netdef.h: %.200s", a);
    TU_CHECK(strstr(a, "\"eps\":0.001,\"momentum\":0.3") != NULL, "short reals: %.300s", a);
    TU_CHECK(try_json(a, NULL, &m) == CT_OK, "from_json: %s", ct_last_error());
    TU_CHECK(m.n_layers == n.n_layers && m.classes == 10 && m.in_c == 1 && m.in_h == 28,
             "round trip sizes %d %d", m.n_layers, m.classes);
    int same = 1;
    for (int i = 0; i < n.n_layers; i++) {
        m.layers[i].line = n.layers[i].line;
        same &= !memcmp(&m.layers[i], &n.layers[i], sizeof m.layers[i]);
    }
    TU_CHECK(same, "every layer equal after the round trip");
    TU_CHECK(ct_netdef_to_json(&m, &b) == CT_OK && !strcmp(a, b), "second JSON identical");
    free(a);
    free(b);
    ct_netdef_free(&m);
    ct_netdef_copy(&n, &m);
    TU_CHECK(m.layers != n.layers && m.n_layers == n.n_layers && ct_netdef_param_count(&m) == 455754, "copy");
    ct_netdef_free(&m);
    ct_netdef_free(&n);
    TU_CHECK(n.layers == NULL && n.n_layers == 0, "free clears");

    /* ints where pairs are allowed; missing stride/padding take PyTorch's defaults */
    char l[1024];
    snprintf(l, sizeof l,
             "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":4,\"kernel\":3},"
             "{\"type\":\"maxpool2d\",\"inputs\":[0],\"kernel\":[2,3]}," FLAT_END,
             1, 2);
    TU_CHECK(try_json(net(3, l), NULL, &m) == CT_OK, "defaults: %s", ct_last_error());
    if (m.n_layers == 4) {
        TU_CHECK(m.layers[0].out.h == 6 && m.layers[0].out.w == 6 && m.layers[0].stride[0] == 1,
                 "conv k3 p0 on 8x8 -> 6x6");
        TU_CHECK(m.layers[1].stride[0] == 2 && m.layers[1].stride[1] == 3 && m.layers[1].out.h == 3 &&
                     m.layers[1].out.w == 2,
                 "pool stride = kernel: %dx%d", m.layers[1].out.h, m.layers[1].out.w);
        TU_CHECK(ct_netdef_param_count(&m) == 4 * 9 + 4 + 4 * 6 * 3 + 3, "params %lld", ct_netdef_param_count(&m));
    }
    ct_netdef_free(&m);
}

static void test_shapes(void)
{
    /* PyTorch: Conv2d(1,2,k=(3,5),s=(2,3),p=(1,2)) on 8x8 -> floor((8+2-3)/2)+1 = 4, floor((8+4-5)/3)+1 = 3 */
    char l[2048];
    snprintf(l, sizeof l,
             "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":[3,5],\"stride\":[2,3],"
             "\"padding\":[1,2],\"bias\":false},"
             "{\"type\":\"avgpool2d\",\"inputs\":[0],\"kernel\":3,\"stride\":1,\"padding\":1,\"count_include_pad\":false},"
             "{\"type\":\"adaptive_avgpool2d\",\"inputs\":[1],\"output\":[5,2]}," FLAT_END,
             2, 3);
    ct_netdef m;
    TU_CHECK(try_json(net(3, l), NULL, &m) == CT_OK, "shapes: %s", ct_last_error());
    if (m.n_layers == 5) {
        TU_CHECK(m.layers[0].out.h == 4 && m.layers[0].out.w == 3, "strided conv %dx%d", m.layers[0].out.h,
                 m.layers[0].out.w);
        TU_CHECK(m.layers[1].out.h == 4 && m.layers[1].out.w == 3, "avgpool k3 s1 p1 keeps the size");
        TU_CHECK(m.layers[2].out.h == 5 && m.layers[2].out.w == 2, "adaptive output larger than input");
        TU_CHECK(m.layers[3].out.c == 20 && ct_netdef_param_count(&m) == 2 * 15 + 20 * 3 + 3,
                 "no conv bias: %lld", ct_netdef_param_count(&m));
        TU_CHECK(ct_layer_flops(&m.layers[0]) == 2.0 * 2 * 4 * 3 * 15, "conv flops");
    }
    ct_netdef_free(&m);
    /* classes 0 in resolve = from the last layer */
    ct_netdef d;
    ct_netdef_digitcnn(32, 64, 128, 256, 0.1, 0.2, 1, &d);
    d.classes = 0;
    TU_CHECK(ct_netdef_resolve(&d, "x") == CT_OK && d.classes == 10, "classes from the last layer");
    d.classes = 7;
    TU_CHECK(ct_netdef_resolve(&d, "cfg.yaml") == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "network.layers[19] ('fc3', linear)") &&
                 strstr(ct_last_error(), "7 classes"),
             "classes mismatch: %s", ct_last_error());
    d.layers[3].line = 12;
    d.layers[3].col = 7;
    d.layers[3].kernel[0] = 40;
    d.classes = 10;
    TU_CHECK(ct_netdef_resolve(&d, "cfg.yaml") == CT_ERR_USAGE &&
                 strstr(ct_last_error(), "cfg.yaml:12:7: network.layers[3] ('pool1', maxpool2d)") &&
                 strstr(ct_last_error(), "collapses below 1"),
             "position in message: %s", ct_last_error());
    ct_netdef_free(&d);
}

static void test_rules(void)
{
    char l[2048];
    const char *conv = "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":3}";
    /* names */
    snprintf(l, sizeof l, "{\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":3}," FLAT_END, 0, 1);
    expect_fail(l, "needs a name");
    const char *bad_names[] = {"a..b", "1a", "a-b", ".a", "a.", "x.training", "forward", "_hidden", "b.to", "é"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        snprintf(l, sizeof l,
                 "{\"name\":\"%s\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":3}," FLAT_END,
                 bad_names[i], 0, 1);
        expect_fail(l, i >= 5 && i < 9 ? "PyTorch nn.Module attribute" : "dotted segments");
    }
    snprintf(l, sizeof l,
             "{\"name\":\"block2.shortcut.0\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":3}," FLAT_END,
             0, 1);
    TU_CHECK(try_json(net(3, l), NULL, NULL) == CT_OK, "dotted name with integer segment: %s", ct_last_error());
    snprintf(l, sizeof l, "%s,{\"name\":\"c\",\"type\":\"relu\",\"inputs\":[0]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "duplicate name 'c'");
    snprintf(l, sizeof l, "%s,{\"name\":\"c.out\",\"type\":\"relu\",\"inputs\":[0]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "module path");
    /* references */
    snprintf(l, sizeof l, "%s,{\"type\":\"relu\",\"inputs\":[1]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "not an earlier layer");
    snprintf(l, sizeof l, "%s,{\"type\":\"relu\",\"inputs\":[0,0]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "takes one input");
    /* add */
    snprintf(l, sizeof l, "%s,{\"type\":\"add\",\"inputs\":[0]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "add takes 2 to");
    snprintf(l, sizeof l, "%s,{\"type\":\"add\",\"inputs\":[0,-1]}," FLAT_END, conv, 1, 2);
    expect_fail(l, "add of unequal shapes: input 0 is [2, 6, 6], input 1 is [1, 8, 8]");
    snprintf(l, sizeof l, "%s,{\"type\":\"relu\",\"inputs\":[0]},{\"type\":\"add\",\"inputs\":[0,1,0]}," FLAT_END, conv,
             2, 3);
    TU_CHECK(try_json(net(3, l), NULL, NULL) == CT_OK, "add of three equal shapes: %s", ct_last_error());
    /* image vs flat */
    snprintf(l, sizeof l, "{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[-1],\"out_features\":3}");
    expect_fail(l, "linear on an unflattened image [1, 8, 8]; add {type: flatten}");
    const char *img_only[] = {"{\"name\":\"x\",\"type\":\"conv2d\",\"inputs\":[0],\"out_channels\":2,\"kernel\":1}",
                              "{\"type\":\"maxpool2d\",\"inputs\":[0],\"kernel\":1}",
                              "{\"type\":\"avgpool2d\",\"inputs\":[0],\"kernel\":1}",
                              "{\"type\":\"adaptive_avgpool2d\",\"inputs\":[0],\"output\":1}",
                              "{\"type\":\"dropout2d\",\"inputs\":[0],\"p\":0.1}",
                              "{\"name\":\"x\",\"type\":\"batchnorm2d\",\"inputs\":[0]}"};
    for (size_t i = 0; i < sizeof img_only / sizeof img_only[0]; i++) {
        snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1]},%s", img_only[i]);
        expect_fail(l, "image input");
    }
    snprintf(l, sizeof l, "{\"name\":\"b\",\"type\":\"batchnorm1d\",\"inputs\":[-1]}," FLAT_END, 0, 1);
    expect_fail(l, "batchnorm1d needs a flat input");
    snprintf(l, sizeof l,
             "{\"type\":\"flatten\",\"inputs\":[-1]},{\"name\":\"b\",\"type\":\"batchnorm1d\",\"inputs\":[0]},"
             "{\"type\":\"dropout\",\"inputs\":[1],\"p\":0.3},{\"type\":\"leaky_relu\",\"inputs\":[2]},"
             "{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[3],\"out_features\":3}");
    TU_CHECK(try_json(net(3, l), NULL, NULL) == CT_OK, "mlp with batchnorm1d: %s", ct_last_error());
    /* collapse */
    snprintf(l, sizeof l,
             "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":9}," FLAT_END, 1, 2);
    expect_fail(l, "collapses below 1");
    snprintf(l, sizeof l, "{\"type\":\"maxpool2d\",\"inputs\":[-1],\"kernel\":2},{\"type\":\"maxpool2d\",\"inputs\":[0],"
                          "\"kernel\":2},{\"type\":\"maxpool2d\",\"inputs\":[1],\"kernel\":2},"
                          "{\"type\":\"maxpool2d\",\"inputs\":[2],\"kernel\":2}," FLAT_END,
             3, 4);
    expect_fail(l, "network.layers[3] (maxpool2d): output height collapses below 1");
    snprintf(l, sizeof l, "{\"type\":\"maxpool2d\",\"inputs\":[-1],\"kernel\":2,\"padding\":2}," FLAT_END, 0, 1);
    expect_fail(l, "more than half of kernel");
    /* values */
    snprintf(l, sizeof l, "{\"type\":\"dropout\",\"inputs\":[-1],\"p\":1}," FLAT_END, 0, 1);
    expect_fail(l, "p 1 is outside [0, 1)");
    snprintf(l, sizeof l, "{\"name\":\"b\",\"type\":\"batchnorm2d\",\"inputs\":[-1],\"eps\":0}," FLAT_END, 0, 1);
    expect_fail(l, "eps");
    snprintf(l, sizeof l, "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"kernel\":3}," FLAT_END, 0, 1);
    expect_fail(l, "needs out_channels");
    snprintf(l, sizeof l, "{\"name\":\"c\",\"type\":\"conv2d\",\"inputs\":[-1],\"out_channels\":2,\"kernel\":3,"
                          "\"stride\":[1,-1]}," FLAT_END, 0, 1);
    expect_fail(l, "stride [1, -1] must be >= 1");
    /* last layer */
    snprintf(l, sizeof l, "%s", conv);
    expect_fail(l, "not a flat vector of class scores");
    snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1]},{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[0],"
                          "\"out_features\":4}");
    expect_fail(l, "width is 4 but the data set has 3 classes; set its out_features to 3");
}

static void test_json_strict(void)
{
    char l[1024];
    snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1]},{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[0],"
                          "\"out_features\":3,\"kernel\":3}");
    expect_fail(l, "layers[1]: unknown key \"kernel\" for a linear layer");
    snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1]},{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[0],"
                          "\"out_features\":\"3\"}");
    expect_fail(l, "\"out_features\" has the wrong type (an int)");
    snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1]},{\"name\":\"fc\",\"type\":\"linear\",\"inputs\":[0],"
                          "\"out_features\":3,\"bias\":1}");
    expect_fail(l, "\"bias\" has the wrong type (a boolean)");
    snprintf(l, sizeof l, "{\"type\":\"flattn\",\"inputs\":[-1]}");
    expect_fail(l, "not a layer type");
    snprintf(l, sizeof l, "{\"type\":\"flatten\"}");
    expect_fail(l, "\"inputs\" is missing");
    snprintf(l, sizeof l, "{\"type\":\"flatten\",\"inputs\":[-1],\"output_shape\":[63]},{\"name\":\"fc\",\"type\":"
                          "\"linear\",\"inputs\":[0],\"out_features\":3}");
    expect_fail(l, "\"output_shape\" differs");
    const char *bad[] = {
        "[]", "{\"input\":{\"channels\":1,\"height\":8,\"width\":8},\"classes\":3,\"layers\":[],\"x\":1}",
        "{\"input\":{\"channels\":1,\"height\":8},\"classes\":3,\"layers\":[{\"type\":\"flatten\",\"inputs\":[-1]}]}",
        "{\"input\":{\"channels\":1,\"height\":8,\"width\":8},\"layers\":[{\"type\":\"flatten\",\"inputs\":[-1]}]}",
        "{\"input\":{\"channels\":1,\"height\":8,\"width\":8},\"classes\":3,\"layers\":[]}",
        "{\"input\":{\"channels\":1,\"height\":8,\"width\":8},\"classes\":3,\"classes\":3,\"layers\":[]}",
        "{\"input\":", "{\"input\":{\"channels\":0,\"height\":8,\"width\":8},\"classes\":64,\"layers\":[{\"type\":"
                      "\"flatten\",\"inputs\":[-1]}]}",
    };
    const char *want[] = {"not an object", "unknown key \"x\"", "\"input\" must be", "\"classes\" must be",
                          "\"layers\" must be a list", "duplicate", "line 1", "each must be >= 1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        TU_CHECK(try_json(bad[i], want[i], NULL) == CT_ERR_INPUT, "bad JSON %zu refused", i);
    TU_CHECK(ct_layer_type_from_name("adaptive_avgpool2d") == CT_L_ADAPTIVE_AVGPOOL2D &&
                 ct_layer_type_from_name("nope") == CT_L_COUNT && !ct_layer_type_name(CT_L_COUNT),
             "type names");
    for (int t = 0; t < CT_L_COUNT; t++)
        TU_CHECK((int)ct_layer_type_from_name(ct_layer_type_name((ct_layer_type)t)) == t && ct_layer_type_keys(t),
                 "type %d names itself", t);
}

int main(void)
{
    test_digitcnn();
    test_round_trip();
    test_shapes();
    test_rules();
    test_json_strict();
    return tu_finish();
}
