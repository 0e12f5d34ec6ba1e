/* io/onnx_file.c: ct_onnx_export_file (onnx_export.h): a .safetensors model file -> an .onnx
 * file, with the network picked as every command picks it and the preprocessing written into
 * metadata_props. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/onnx_export.h"
#include "modelio.h"

/* a normalisation value: a number, or a per-channel list of numbers (data.mean: [0.485, ...]) */
static int norm_value(json_t *v, double *first, char *text, size_t cap)
{
    if (json_is_number(v) && isfinite(json_number_value(v))) {
        *first = json_number_value(v);
        snprintf(text, cap, "%.9g", *first);
        return 1;
    }
    if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 16) return 0;
    size_t at = (size_t)snprintf(text, cap, "[");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *x = json_array_get(v, i);
        if (!json_is_number(x) || !isfinite(json_number_value(x)) || at >= cap) return 0;
        at += (size_t)snprintf(text + at, cap - at, "%s%.9g", i ? "," : "", json_number_value(x));
    }
    if (at + 2 > cap) return 0;
    snprintf(text + at, cap - at, "]");
    *first = json_number_value(json_array_get(v, 0));
    return 1;
}

/* data.mean / data.std (number or list) and data.class_names from the model's `config`
 * metadata (JSON); the file's own `class_names` metadata comes first */
static void read_config_meta(const ct_st_file *f, double *mean, double *std, char *mean_s, char *std_s, size_t cap,
                             json_t **class_names)
{
    *mean = 0.1307; /* MNIST's, as predict.h's defaults */
    *std = 0.3081;
    snprintf(mean_s, cap, "0.1307");
    snprintf(std_s, cap, "0.3081");
    const char *cfg = ct_st_metadata_get(f, "config"), *cn = ct_st_metadata_get(f, "class_names");
    json_t *root = cfg ? json_loads(cfg, 0, NULL) : NULL;
    json_t *d = root ? json_object_get(root, "data") : NULL;
    double m, sd;
    char ms[256], ss[256];
    if (d && norm_value(json_object_get(d, "mean"), &m, ms, sizeof ms) &&
        norm_value(json_object_get(d, "std"), &sd, ss, sizeof ss) && sd > 0) {
        *mean = m;
        *std = sd;
        snprintf(mean_s, cap, "%s", ms);
        snprintf(std_s, cap, "%s", ss);
    }
    json_t *names = cn ? json_loads(cn, 0, NULL) : NULL;
    if (!json_is_array(names)) {
        json_decref(names);
        names = d ? json_incref(json_object_get(d, "class_names")) : NULL;
    }
    *class_names = json_is_array(names) ? names : NULL;
    if (!*class_names) json_decref(names);
    json_decref(root);
}

/* the class names as a JSON array text: the config's when they fit, else "0".."K-1" */
static char *class_names_json(json_t *given, int classes)
{
    json_t *a = json_array();
    if (!a) return NULL;
    int use_given = given && json_array_size(given) == (size_t)classes;
    for (size_t i = 0; use_given && i < json_array_size(given); i++)
        if (!json_is_string(json_array_get(given, i))) use_given = 0;
    for (int i = 0; i < classes; i++) {
        char b[16];
        snprintf(b, sizeof b, "%d", i);
        json_array_append_new(a, use_given ? json_string(json_string_value(json_array_get(given, (size_t)i)))
                                           : json_string(b));
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* the network: the file's `network` metadata, else o->net, else DigitCNN from the shapes */
static int pick_network(const ct_onnx_file_opts *o, const ct_st_file *f, ct_netdef *net, char *source, size_t cap)
{
    const char *js = ct_st_metadata_get(f, "network");
    if (js) {
        snprintf(source, cap, "metadata");
        return ct_netdef_from_json(js, strlen(js), o->model_path, net);
    }
    if (o->net) {
        snprintf(source, cap, "config");
        return ct_netdef_copy(o->net, net);
    }
    snprintf(source, cap, "digitcnn");
    return ct_modelio_netdef(f, o->model_path, NULL, net);
}

static const char *stem(const char *path, char *buf, size_t cap)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, cap, "%s", b ? b + 1 : path);
    char *dot = strstr(buf, ".safetensors");
    if (dot && dot[12] == 0) *dot = 0;
    return buf;
}

static int write_model(const ct_onnx_file_opts *o, const ct_st_file *f, const ct_netdef *net, const char *out_path,
                       ct_onnx_info *info)
{
    double mean, std;
    json_t *given = NULL;
    char name[512], smean[256], sstd[256], shape[96], pre[400];
    read_config_meta(f, &mean, &std, smean, sstd, sizeof smean, &given);
    stem(o->model_path, name, sizeof name);
    snprintf(shape, sizeof shape, "[N, %d, %d, %d]", net->in_c, net->in_h, net->in_w);
    snprintf(pre, sizeof pre,
             "input = (pixel / 255 - mean) / std (per channel when mean/std are lists), float32, shape %s "
             "(N, C, H, W), pixels 0..255 as in the training data (MNIST: white digit on black); "
             "logits -> softmax for probabilities",
             shape);
    char *classes = class_names_json(given, net->classes), *netjson = NULL;
    json_decref(given);
    int rc = classes ? ct_netdef_to_json(net, &netjson) : ct_fail(CT_ERR_NOMEM, "out of host memory");
    unsigned char *buf = NULL;
    size_t len = 0;
    if (rc == CT_OK) {
        const char *keys[] = {"mean", "std", "class_names", "preprocessing", "input_shape", "network", "source_model",
                              "cltrain_version"};
        const char *vals[] = {smean, sstd, classes, pre, shape, netjson, o->model_name ? o->model_name : name,
                              CLTRAIN_VERSION};
        ct_onnx_opts eo = {o->opset, o->softmax, o->model_name ? o->model_name : name,
                           "exported by cltrain from a safetensors model; see metadata_props for the preprocessing", 8,
                           keys, vals};
        rc = ct_onnx_build(net, f, o->model_path, &eo, &buf, &len, info ? &info->n_nodes : NULL,
                           info ? &info->n_initializers : NULL);
    }
    if (rc == CT_OK) rc = ct_write_file_atomic(out_path, buf, len);
    if (rc == CT_OK && info) {
        info->opset = o->opset ? o->opset : CT_ONNX_DEFAULT_OPSET;
        info->ir_version = ct_onnx_ir_version(info->opset);
        info->classes = net->classes;
        info->in_c = net->in_c;
        info->in_h = net->in_h;
        info->in_w = net->in_w;
        info->mean = mean;
        info->std = std;
        snprintf(info->mean_text, sizeof info->mean_text, "%s", smean);
        snprintf(info->std_text, sizeof info->std_text, "%s", sstd);
        info->bytes = len;
    }
    free(buf);
    free(classes);
    free(netjson);
    return rc;
}

int ct_onnx_export_file(const ct_onnx_file_opts *o, const char *out_path, ct_onnx_info *info)
{
    if (info) memset(info, 0, sizeof *info);
    ct_st_file *f = NULL;
    CT_TRY(ct_st_load(o->model_path, &f));
    ct_netdef net = {0};
    char source[16];
    int rc = pick_network(o, f, &net, source, sizeof source);
    if (rc == CT_OK) rc = write_model(o, f, &net, out_path, info);
    if (rc == CT_OK && info) snprintf(info->network_source, sizeof info->network_source, "%s", source);
    if (rc != CT_OK) ct_fail_ctx(rc, "ONNX export of %s", o->model_path);
    ct_netdef_free(&net);
    ct_st_free(f);
    return rc;
}
