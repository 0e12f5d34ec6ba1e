/* test_onnx_export.c: every layer type of nn/netdef.h exports to ONNX (io/onnx_export.h) and
 * means the same there. Networks described in JSON (rectangular inputs, non-square kernels and
 * strides, padding, a three-input add, both pooling kinds with and without count_include_pad,
 * adaptive pooling that is global, uniform (AveragePool) and non-uniform (Slice + ReduceMean +
 * Concat), batchnorm1d/2d, every activation, both dropouts) plus the seed's DigitCNN get random
 * weights in a safetensors file that carries the network as `network` metadata. Each is
 * exported; Debian's python3-onnx checks it (onnx_check.py: full checker, strict shape
 * inference); ONNX Runtime (onnx_ref_compare.js, npm onnxruntime-node in $CLTRAIN_ORT_NODE_DIR)
 * runs it on a random batch, and its logits must match this file's C reference forward pass
 * (inference semantics) within 1e-4 with the same argmax; for 1x28x28 networks ONNX Runtime is
 * also compared with `cltrain predict --logits` (the graph executor) on 200 MNIST test images. The same for every shipped network
 * config (configs/networks/\*.yaml, through ct_config_netdef). Then the refusals: no file is
 * written and the message names the layer. A missing python3-onnx / node / runtime fails. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "io/onnx_export.h"
#include "nn/netparse.h"
#include "nn/netdef.h"
#include "idx.h"
#include "ref.h"
#include "safetensors.h"
#include "testutil.h"

static char dir[256];
static const char *py, *ort;

/* --- the networks ------------------------------------------------------------------------------ */
/* input C, H, W to fill in (3x9x11: rectangular; 1x28x28: what `cltrain predict` reads from IDX) */
static const char *NET_ALL =
    "{\"input\":{\"channels\":%d,\"height\":%d,\"width\":%d},\"classes\":4,\"layers\":["
    "{\"inputs\":[-1],\"name\":\"conv1\",\"type\":\"conv2d\",\"out_channels\":6,\"kernel\":[3,2],\"stride\":[2,1],\"padding\":[1,0]},"
    "{\"inputs\":[0],\"name\":\"bn1\",\"type\":\"batchnorm2d\",\"eps\":0.001},"
    "{\"inputs\":[1],\"type\":\"leaky_relu\",\"negative_slope\":0.2},"
    "{\"inputs\":[2],\"name\":\"conv2\",\"type\":\"conv2d\",\"out_channels\":6,\"kernel\":[3,3],\"padding\":[1,1],\"bias\":false},"
    "{\"inputs\":[3],\"type\":\"tanh\"},"
    "{\"name\":\"sum\",\"type\":\"add\",\"inputs\":[2,4,3]},"
    "{\"inputs\":[5],\"type\":\"maxpool2d\",\"kernel\":[3,3],\"stride\":[2,2],\"padding\":[1,1]},"
    "{\"inputs\":[6],\"type\":\"avgpool2d\",\"kernel\":[3,3],\"stride\":[1,1],\"padding\":[1,1],\"count_include_pad\":true},"
    "{\"inputs\":[7],\"type\":\"sigmoid\"},"
    "{\"inputs\":[8],\"type\":\"dropout2d\",\"p\":0.3},"
    "{\"inputs\":[9],\"name\":\"pool\",\"type\":\"adaptive_avgpool2d\",\"output\":[2,3]},"
    "{\"inputs\":[10],\"type\":\"flatten\"},"
    "{\"inputs\":[11],\"name\":\"fc1\",\"type\":\"linear\",\"out_features\":16},"
    "{\"inputs\":[12],\"name\":\"bn4\",\"type\":\"batchnorm1d\"},"
    "{\"inputs\":[13],\"type\":\"relu\"},"
    "{\"inputs\":[14],\"type\":\"dropout\",\"p\":0.5},"
    "{\"inputs\":[15],\"name\":\"fc2\",\"type\":\"linear\",\"out_features\":4}]}";

static const char *NET_POOLS =
    "{\"input\":{\"channels\":2,\"height\":8,\"width\":8},\"classes\":3,\"layers\":["
    "{\"inputs\":[-1],\"name\":\"c1\",\"type\":\"conv2d\",\"out_channels\":4,\"kernel\":[3,3],\"padding\":[1,1]},"
    "{\"inputs\":[0],\"type\":\"avgpool2d\",\"kernel\":[3,3],\"stride\":[2,2],\"padding\":[1,1],\"count_include_pad\":false},"
    "{\"inputs\":[1],\"type\":\"relu\"},"
    "{\"inputs\":[2],\"name\":\"gap\",\"type\":\"adaptive_avgpool2d\",\"output\":[1,1]},"
    "{\"inputs\":[3],\"type\":\"flatten\"},"
    "{\"inputs\":[4],\"name\":\"head\",\"type\":\"linear\",\"out_features\":3,\"bias\":false}]}";

static const char *NET_ADAPTIVE =
    "{\"input\":{\"channels\":2,\"height\":7,\"width\":7},\"classes\":5,\"layers\":["
    "{\"inputs\":[-1],\"name\":\"p1\",\"type\":\"adaptive_avgpool2d\",\"output\":[3,3]},"
    "{\"inputs\":[0],\"name\":\"c\",\"type\":\"conv2d\",\"out_channels\":3,\"kernel\":[1,1]},"
    "{\"inputs\":[1],\"name\":\"p2\",\"type\":\"adaptive_avgpool2d\",\"output\":[2,4]},"
    "{\"inputs\":[2],\"name\":\"p3\",\"type\":\"adaptive_avgpool2d\",\"output\":[3,2]},"
    "{\"inputs\":[3],\"type\":\"flatten\"},"
    "{\"inputs\":[4],\"name\":\"fc\",\"type\":\"linear\",\"out_features\":5}]}";

/* --- random weights with the state_dict names, and the network as metadata ---------------------- */
/* extra metadata pairs for the next write_model (NULL-terminated key, value list) */
static const char *const *extra_meta;

static int write_model(const ct_netdef *n, const char *path, unsigned seed)
{
    ct_st_writer *w = ct_st_writer_new();
    float *bufs[4 * CT_NET_MAX_LAYERS];
    int nb = 0, rc = w ? CT_OK : CT_ERR_NOMEM;
    for (int i = 0; i < n->n_layers && rc == CT_OK; i++) {
        const ct_layer_def *l = &n->layers[i];
        char nm[CT_NET_NAME_MAX + 32];
        int64_t s4[4], s1[1];
        if (l->type == CT_L_CONV2D || l->type == CT_L_LINEAR) {
            int conv = l->type == CT_L_CONV2D, out = conv ? l->out_channels : l->out_features;
            int fan = conv ? l->in.c * l->kernel[0] * l->kernel[1] : l->in.c;
            int64_t shape[4] = {out, l->in.c, l->kernel[0], l->kernel[1]};
            size_t cnt = (size_t)out * (size_t)fan;
            float *wt = bufs[nb++] = malloc(cnt * sizeof(float)), *b = bufs[nb++] = malloc((size_t)out * sizeof(float));
            float r = 1.5f / sqrtf((float)fan);
            tu_fill_uniform(wt, cnt, -r, r, seed++);
            tu_fill_uniform(b, (size_t)out, -0.2f, 0.2f, seed++);
            snprintf(nm, sizeof nm, "%s.weight", l->name);
            rc = ct_st_writer_add(w, nm, CT_ST_F32, conv ? 4 : 2, shape, wt, 0);
            snprintf(nm, sizeof nm, "%s.bias", l->name);
            s1[0] = out;
            if (rc == CT_OK && l->bias) rc = ct_st_writer_add(w, nm, CT_ST_F32, 1, s1, b, 0);
        } else if (l->type == CT_L_BATCHNORM2D || l->type == CT_L_BATCHNORM1D) {
            static const char *const p[4] = {"weight", "bias", "running_mean", "running_var"};
            static const float lo[4] = {0.5f, -0.3f, -0.3f, 0.3f}, hi[4] = {1.5f, 0.3f, 0.3f, 2.0f};
            s1[0] = l->in.c;
            for (int k = 0; k < 4 && rc == CT_OK; k++) {
                float *v = bufs[nb++] = malloc((size_t)l->in.c * sizeof(float));
                tu_fill_uniform(v, (size_t)l->in.c, lo[k], hi[k], seed++);
                snprintf(nm, sizeof nm, "%s.%s", l->name, p[k]);
                rc = ct_st_writer_add(w, nm, CT_ST_F32, 1, s1, v, 0);
            }
            snprintf(nm, sizeof nm, "%s.num_batches_tracked", l->name);
            if (rc == CT_OK) rc = ct_st_writer_add_i64_scalar(w, nm, 100);
        }
        (void)s4;
    }
    char *js = NULL;
    if (rc == CT_OK) rc = ct_netdef_to_json(n, &js);
    if (rc == CT_OK) rc = ct_st_writer_set_metadata(w, "network", js);
    for (int k = 0; extra_meta && extra_meta[k] && rc == CT_OK; k += 2)
        rc = ct_st_writer_set_metadata(w, extra_meta[k], extra_meta[k + 1]);
    if (rc == CT_OK) rc = ct_st_write(w, path);
    free(js);
    ct_st_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    return rc;
}

/* --- the C reference forward pass (inference) ---------------------------------------------------- */
static const float *T(const ct_st_file *f, const char *layer, const char *what)
{
    char nm[CT_NET_NAME_MAX + 32];
    snprintf(nm, sizeof nm, "%s.%s", layer, what);
    const ct_st_tensor *t = ct_st_find(f, nm);
    return t ? (const float *)t->data : NULL;
}

static void conv(const ct_layer_def *l, const float *x, const float *w, const float *b, float *y, int N)
{
    int C = l->in.c, H = l->in.h, W = l->in.w, O = l->out.c, OH = l->out.h, OW = l->out.w;
    int KH = l->kernel[0], KW = l->kernel[1];
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = b ? b[o] : 0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < KH; ky++)
                            for (int kx = 0; kx < KW; kx++) {
                                int iy = oy * l->stride[0] - l->padding[0] + ky, ix = ox * l->stride[1] - l->padding[1] + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += (double)x[(((size_t)n * C + c) * H + iy) * W + ix] *
                                     w[(((size_t)o * C + c) * KH + ky) * KW + kx];
                            }
                    y[(((size_t)n * O + o) * OH + oy) * OW + ox] = (float)s;
                }
}

static void pool(const ct_layer_def *l, const float *x, float *y, int N)
{
    int C = l->in.c, H = l->in.h, W = l->in.w, OH = l->out.h, OW = l->out.w, mx = l->type == CT_L_MAXPOOL2D;
    for (size_t nc = 0; nc < (size_t)N * C; nc++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                double s = 0, m = -INFINITY;
                int cnt = 0;
                for (int ky = 0; ky < l->kernel[0]; ky++)
                    for (int kx = 0; kx < l->kernel[1]; kx++) {
                        int iy = oy * l->stride[0] - l->padding[0] + ky, ix = ox * l->stride[1] - l->padding[1] + kx;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        double v = x[(nc * H + iy) * W + ix];
                        s += v;
                        m = v > m ? v : m;
                        cnt++;
                    }
                int div = l->count_include_pad ? l->kernel[0] * l->kernel[1] : cnt;
                y[(nc * OH + oy) * OW + ox] = (float)(mx ? m : s / div);
            }
}

/* forward of the whole network; returns the malloc'd logits (N x classes) */
static float *forward(const ct_netdef *n, const ct_st_file *f, const float *x, int N)
{
    float **a = calloc((size_t)n->n_layers, sizeof *a);
    for (int i = 0; i < n->n_layers; i++) {
        const ct_layer_def *l = &n->layers[i];
        const float *in = l->inputs[0] < 0 ? x : a[l->inputs[0]];
        size_t per = (size_t)l->out.c * (l->out.rank == 4 ? (size_t)l->out.h * l->out.w : 1), cnt = per * N;
        size_t inhw = l->in.rank == 4 ? (size_t)l->in.h * l->in.w : 1;
        float *y = a[i] = malloc(cnt * sizeof(float));
        switch (l->type) {
        case CT_L_CONV2D: conv(l, in, T(f, l->name, "weight"), l->bias ? T(f, l->name, "bias") : NULL, y, N); break;
        case CT_L_BATCHNORM2D:
        case CT_L_BATCHNORM1D:
            ref_bn_fwd_eval(in, T(f, l->name, "weight"), T(f, l->name, "bias"), T(f, l->name, "running_mean"),
                            T(f, l->name, "running_var"), y, N, l->in.c, (int)inhw, (float)l->eps);
            break;
        case CT_L_RELU: ref_relu_fwd(in, y, cnt); break;
        case CT_L_LEAKY_RELU: ref_leaky_relu_fwd(in, y, cnt, (float)l->negative_slope); break;
        case CT_L_TANH: ref_tanh_fwd(in, y, cnt); break;
        case CT_L_SIGMOID: ref_sigmoid_fwd(in, y, cnt); break;
        case CT_L_MAXPOOL2D:
        case CT_L_AVGPOOL2D: pool(l, in, y, N); break;
        case CT_L_ADAPTIVE_AVGPOOL2D:
            ref_adaptive_avgpool_fwd(in, y, N, l->in.c, l->in.h, l->in.w, l->output[0], l->output[1]);
            break;
        case CT_L_LINEAR:
            ref_linear_fwd(in, T(f, l->name, "weight"), l->bias ? T(f, l->name, "bias") : NULL, y, N, l->in.c,
                           l->out_features);
            break;
        case CT_L_ADD:
            memcpy(y, in, cnt * sizeof(float));
            for (int k = 1; k < l->n_inputs; k++) ref_accumulate(l->inputs[k] < 0 ? x : a[l->inputs[k]], y, cnt);
            break;
        default: memcpy(y, in, cnt * sizeof(float)); /* dropout, flatten: the same numbers */
        }
    }
    float *out = a[n->n_layers - 1];
    for (int i = 0; i < n->n_layers - 1; i++) free(a[i]);
    free(a);
    return out;
}

/* --- one network end to end --------------------------------------------------------------------- */
static void write_f32(const char *path, const float *v, size_t n)
{
    FILE *fp = fopen(path, "wb");
    TU_CHECK(fp && fwrite(v, sizeof(float), n, fp) == n && fclose(fp) == 0, "cannot write %s", path);
}

static int run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    printf("%s", out);
    return st;
}

/* 200 MNIST test images as a raw IDX file in dir (made once), for `cltrain predict` */
static const char *images200(void)
{
    static char path[400];
    if (path[0]) return path;
    ct_idx x;
    int rc = ct_idx_load("fixtures/mnist-small/t10k-images-idx3-ubyte.gz", &x);
    TU_CHECK(rc == CT_OK && x.rank == 3 && x.dims[0] >= 200, "MNIST subset: %s", ct_last_error());
    if (rc) return NULL;
    snprintf(path, sizeof path, "%s/images200.idx", dir);
    unsigned char head[16] = {0, 0, 8, 3, 0, 0, 0, 200, 0, 0, 0, 28, 0, 0, 0, 28};
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(head, 1, 16, f) == 16 && fwrite(x.data, 1, 200 * 784, f) == 200 * 784;
    ok = (f && fclose(f) == 0) && ok;
    TU_CHECK(ok, "cannot write %s", path);
    ct_idx_free(&x);
    if (!ok) path[0] = 0;
    return ok ? path : NULL;
}

/* ONNX Runtime against cltrain's own executor: `cltrain predict --logits` on the same file. A
 * layer the engine's kernels cannot run yet is reported (printed, counted) rather than failed:
 * that network is then checked against the C reference only. */
static int n_vs_cltrain, n_engine_lacks;
static void check_vs_cltrain(const char *label, const char *model, const char *onnx)
{
    const char *exe = getenv("CLTRAIN_EXE"), *img = images200();
    TU_CHECK(exe != NULL, "%s: CLTRAIN_EXE is not set (run through ctest)", label);
    if (!exe || !img) return;
    char cmd[2400], pred[400], err[400], out[4096];
    snprintf(pred, sizeof pred, "%s/%s.pred.json", dir, label);
    snprintf(err, sizeof err, "%s/%s.pred.err", dir, label);
    snprintf(cmd, sizeof cmd, "'%s' predict -q --model '%s' --logits --json '%s' > '%s' 2> '%s'", exe, model, img, pred,
             err);
    if (system(cmd) != 0) {
        unsigned char *msg = NULL;
        size_t len = 0;
        int lacks = ct_read_file(err, 1 << 20, &msg, &len) == CT_OK &&
                    strstr((char *)msg, "is not implemented by this build's kernels yet") != NULL;
        TU_CHECK(lacks, "%s: cltrain predict failed: %s", label, msg ? (char *)msg : cmd);
        if (lacks) {
            n_engine_lacks++;
            printf("note: %s: cltrain cannot run this network yet (%.*s); ONNX Runtime checked against the C "
                   "reference only\n",
                   label, (int)strcspn((char *)msg, "\n"), (char *)msg);
        }
        free(msg);
        return;
    }
    snprintf(cmd, sizeof cmd, "node onnx_compare.js '%s' '%s' '%s' '%s' 0.1307 0.3081 1e-4 2>&1", ort, onnx, img, pred);
    TU_CHECK(run(cmd, out, sizeof out) == 0, "%s: ONNX Runtime disagrees with cltrain predict", label);
    n_vs_cltrain++;
}

static void check_net(const char *label, const ct_netdef *n, const char *want_ops, int opset, const char *meta_args)
{
    char model[400], onnx[400], in[400], ref[400], cmd[2400], out[4096];
    snprintf(model, sizeof model, "%s/%s.safetensors", dir, label);
    snprintf(onnx, sizeof onnx, "%s/%s.onnx", dir, label);
    TU_CHECK(write_model(n, model, 7) == CT_OK, "%s: writing the model: %s", label, ct_last_error());
    ct_onnx_file_opts o = {model, label, NULL, opset, 0};
    ct_onnx_info info;
    int rc = ct_onnx_export_file(&o, onnx, &info);
    TU_CHECK(rc == CT_OK, "%s: export: %s", label, ct_last_error());
    if (rc) return;
    TU_CHECK(!strcmp(info.network_source, "metadata"), "%s: network from %s, want the file's metadata", label,
             info.network_source);
    snprintf(cmd, sizeof cmd, "'%s' onnx_check.py '%s' --classes %d --opset %d %s 2>&1", py, onnx, n->classes, opset,
             meta_args ? meta_args : "");
    int st = run(cmd, out, sizeof out);
    TU_CHECK(st == 0, "%s: python3-onnx checker / strict shape inference failed", label);
    for (const char *p = want_ops; *p;) { /* want_ops: "Slice,ReduceMean" */
        char op[64];
        size_t k = strcspn(p, ",");
        snprintf(op, sizeof op, "%.*s", (int)k, p);
        TU_CHECK(strstr(out, op) != NULL, "%s: operator %s not in the export", label, op);
        p += k + (p[k] == ',');
    }
    const int N = 5;
    size_t per = (size_t)n->in_c * n->in_h * n->in_w;
    float *x = malloc(per * N * sizeof(float));
    tu_fill_uniform(x, per * N, -2.f, 2.f, 99);
    ct_st_file *f = NULL;
    TU_CHECK(ct_st_load(model, &f) == CT_OK, "%s: reload", label);
    float *y = forward(n, f, x, N);
    snprintf(in, sizeof in, "%s/%s.in.f32", dir, label);
    snprintf(ref, sizeof ref, "%s/%s.ref.f32", dir, label);
    write_f32(in, x, per * N);
    write_f32(ref, y, (size_t)N * n->classes);
    snprintf(cmd, sizeof cmd, "node onnx_ref_compare.js '%s' '%s' '%s' %d %d %d %d '%s' %d 1e-4 2>&1", ort, onnx, in, N,
             n->in_c, n->in_h, n->in_w, ref, n->classes);
    st = run(cmd, out, sizeof out);
    TU_CHECK(st == 0, "%s: ONNX Runtime disagrees with the reference (or did not run)", label);
    if (n->in_c == 1 && n->in_h == 28 && n->in_w == 28) check_vs_cltrain(label, model, onnx);
    free(x);
    free(y);
    ct_st_free(f);
}

static void check_json_net(const char *label, const char *json, const char *want_ops, const char *meta_args)
{
    ct_netdef n;
    int rc = ct_netdef_from_json(json, strlen(json), label, &n);
    TU_CHECK(rc == CT_OK, "%s: %s", label, ct_last_error());
    if (rc) return;
    check_net(label, &n, want_ops, 13, meta_args);
    ct_netdef_free(&n);
}

/* every shipped network config (configs/networks/\*.yaml), through ct_config_netdef */
static void check_shipped(void)
{
    const char *root = getenv("CLTRAIN_SOURCE_DIR") ? getenv("CLTRAIN_SOURCE_DIR") : "..";
    char folder[600];
    snprintf(folder, sizeof folder, "%s/configs/networks", root);
    DIR *d = opendir(folder);
    TU_CHECK(d != NULL, "cannot open %s", folder);
    if (!d) return;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml")) continue;
        char path[900], label[300];
        snprintf(path, sizeof path, "%s/%s", folder, e->d_name);
        snprintf(label, sizeof label, "shipped_%.*s", (int)(l - 5), e->d_name);
        ct_config cfg;
        ct_config_defaults(&cfg);
        ct_netdef n = {0};
        int rc = ct_config_load(&cfg, path);
        if (rc == CT_OK) rc = ct_config_netdef(&cfg, &n);
        TU_CHECK(rc == CT_OK, "%s: %s", path, ct_last_error());
        if (rc == CT_OK) check_net(label, &n, "Gemm", 13, NULL);
        ct_netdef_free(&n);
        ct_config_free(&cfg);
        seen++;
    }
    closedir(d);
    TU_CHECK(seen > 0, "no network configs in %s", folder);
    printf("shipped network configs exported and checked: %d\n", seen);
}

/* --- refusals ------------------------------------------------------------------------------------ */
static void check_refusals(void)
{
    ct_netdef n;
    TU_CHECK(ct_netdef_from_json(NET_POOLS, strlen(NET_POOLS), "pools", &n) == CT_OK, "parse: %s", ct_last_error());
    char model[400], onnx[400];
    snprintf(model, sizeof model, "%s/pools.safetensors", dir);
    snprintf(onnx, sizeof onnx, "%s/refused.onnx", dir);
    ct_st_file *f = NULL;
    TU_CHECK(ct_st_load(model, &f) == CT_OK, "reload pools");
    unsigned char *buf = NULL;
    size_t len = 0;
    ct_onnx_opts o = {0};
    /* a parameter layer without a name: its tensors cannot be found */
    n.layers[0].name[0] = 0;
    int rc = ct_onnx_build(&n, f, model, &o, &buf, &len, NULL, NULL);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "layer 0") && strstr(ct_last_error(), "conv2d") &&
                 strstr(ct_last_error(), "no name"),
             "unnamed conv: rc %d, '%s'", rc, ct_last_error());
    snprintf(n.layers[0].name, sizeof n.layers[0].name, "c1");
    /* a type with no ONNX mapping */
    ct_layer_type keep = n.layers[2].type;
    n.layers[2].type = CT_L_COUNT;
    rc = ct_onnx_build(&n, f, model, &o, &buf, &len, NULL, NULL);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "layer 2"), "unknown type: rc %d, '%s'", rc, ct_last_error());
    n.layers[2].type = keep;
    /* a tensor of the wrong shape: the message names the layer and the tensor */
    n.layers[5].out_features = 4;
    n.layers[5].out.c = 4;
    n.classes = 4;
    rc = ct_onnx_build(&n, f, model, &o, &buf, &len, NULL, NULL);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "'head'") && strstr(ct_last_error(), "head.weight"),
             "wrong shape: rc %d, '%s'", rc, ct_last_error());
    /* a last layer that is not [N, classes] */
    n.classes = 7;
    rc = ct_onnx_build(&n, f, model, &o, &buf, &len, NULL, NULL);
    TU_CHECK(rc == CT_ERR_INPUT && strstr(ct_last_error(), "classes"), "classes: rc %d, '%s'", rc, ct_last_error());
    n.classes = 4;
    /* an opset out of range */
    o.opset = 12;
    rc = ct_onnx_build(&n, f, model, &o, &buf, &len, NULL, NULL);
    TU_CHECK(rc == CT_ERR_USAGE && strstr(ct_last_error(), "13 to 17"), "opset 12: rc %d, '%s'", rc, ct_last_error());
    TU_CHECK(buf == NULL && len == 0, "nothing serialised after a refusal");
    /* a whole-file export that fails leaves no file */
    ct_onnx_file_opts fo = {model, "x", NULL, 99, 0};
    rc = ct_onnx_export_file(&fo, onnx, NULL);
    TU_CHECK(rc != CT_OK && access(onnx, F_OK) != 0, "failed export left %s (rc %d)", onnx, rc);
    ct_st_free(f);
    ct_netdef_free(&n);
    TU_CHECK(ct_onnx_ir_version(13) == 7 && ct_onnx_ir_version(15) == 8 && ct_onnx_ir_version(18) == 0, "IR versions");
}

int main(void)
{
    py = getenv("CLTRAIN_PYTHON") ? getenv("CLTRAIN_PYTHON") : "python3";
    ort = getenv("CLTRAIN_ORT_NODE_DIR") ? getenv("CLTRAIN_ORT_NODE_DIR") : "../.ort-node";
    snprintf(dir, sizeof dir, "/tmp/cltrain_onnx_XXXXXX");
    TU_CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char cmd[600], out[512];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import onnx; print(\"python3-onnx\", onnx.__version__)' 2>&1", py);
    TU_CHECK(run(cmd, out, sizeof out) == 0, "python3-onnx is missing for %s (apt-get install python3-onnx)", py);
    snprintf(cmd, sizeof cmd, "node -e 'require(\"%s/node_modules/onnxruntime-node\"); console.log(\"onnxruntime-node ok\")' 2>&1",
             ort);
    TU_CHECK(run(cmd, out, sizeof out) == 0,
             "ONNX Runtime missing: ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix %s onnxruntime-node@1.30.0", ort);
    if (tu_fail) return tu_finish();

    /* per-channel normalisation from the config metadata, class names from the file's metadata */
    static const char *const meta_rgb[] = {"config", "{\"data\":{\"mean\":[0.5,0.25,0.125],\"std\":[0.2,0.3,0.4]}}",
                                           "class_names", "[\"cat\",\"dog\",\"bird\",\"fish\"]", NULL};
    char all[4096];
    snprintf(all, sizeof all, NET_ALL, 1, 28, 28);
    check_json_net("every_layer_28", all,
                   "Conv,BatchNormalization,LeakyRelu,Tanh,Add,MaxPool,AveragePool,Sigmoid,Slice,ReduceMean,Concat,"
                   "Flatten,Gemm,Relu",
                   NULL);
    snprintf(all, sizeof all, NET_ALL, 3, 9, 11);
    extra_meta = meta_rgb;
    check_json_net("every_layer", all,
                   "Conv,BatchNormalization,LeakyRelu,Tanh,Add,MaxPool,AveragePool,Sigmoid,Slice,ReduceMean,Concat,"
                   "Flatten,Gemm,Relu",
                   "--meta 'mean=[0.5,0.25,0.125]' --meta 'std=[0.2,0.3,0.4]' "
                   "--meta 'class_names=[\"cat\",\"dog\",\"bird\",\"fish\"]'");
    extra_meta = NULL;
    check_json_net("pools", NET_POOLS, "AveragePool,GlobalAveragePool,Gemm", "--mean 0.1307 --std 0.3081");
    check_json_net("adaptive", NET_ADAPTIVE, "AveragePool,Slice,ReduceMean,Concat", "--meta 'class_names=[\"0\",\"1\",\"2\",\"3\",\"4\"]'");
    ct_netdef d;
    TU_CHECK(ct_netdef_digitcnn(32, 64, 128, 256, 0.1, 0.2, 1, &d) == CT_OK, "digitcnn: %s", ct_last_error());
    check_net("digitcnn", &d, "Conv,BatchNormalization,MaxPool,AveragePool,Gemm", 13, NULL);
    check_net("digitcnn_opset17", &d, "Conv,AveragePool,Gemm", 17, NULL);
    ct_netdef_free(&d);
    TU_CHECK(ct_netdef_digitcnn(8, 16, 24, 48, 0.1, 0.2, 0, &d) == CT_OK, "digitcnn no bn: %s", ct_last_error());
    check_net("digitcnn_nobn", &d, "Conv,MaxPool,AveragePool,Gemm", 13, NULL);
    ct_netdef_free(&d);
    check_shipped();
    check_refusals();
    printf("ONNX Runtime vs cltrain predict: %d networks compared; %d not yet runnable by cltrain's kernels\n",
           n_vs_cltrain, n_engine_lacks);
    TU_CHECK(n_vs_cltrain >= 3, "the DigitCNN exports must be compared with cltrain (%d were)", n_vs_cltrain);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return tu_finish();
}
