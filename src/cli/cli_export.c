/* cli_export.c: `cltrain export`: a saved model -> an ONNX file (io/onnx_export.h). The model
 * is resolved as evaluate/deploy resolve it (--model NAME|PATH, default the newest); its
 * network comes from the file's `network` metadata, else --config, else DigitCNN sized from the
 * tensors. Default output: the model's path with .onnx in place of .safetensors. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/onnx_export.h"
#include "store.h"

static const char *USAGE = "allowed: --model NAME|PATH, --config F, --set section.key=value, --format onnx, "
                           "-o FILE, --opset N (13..17), --softmax, --json, -q, -v";

static int take_value(int argc, char **argv, int *i, const char *flag, const char **val)
{
    size_t fl = strlen(flag);
    if (!strcmp(argv[*i], flag)) {
        if (*i + 1 >= argc || !argv[*i + 1][0]) return -ct_fail(CT_ERR_USAGE, "export: %s needs a value", flag);
        *val = argv[++*i];
        return 1;
    }
    if (fl > 2 && !strncmp(argv[*i], flag, fl) && argv[*i][fl] == '=') {
        *val = argv[*i] + fl + 1;
        if (!**val) return -ct_fail(CT_ERR_USAGE, "export: %s needs a value", flag);
        return 1;
    }
    return 0;
}

static int parse_opset(const char *s, int *opset)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < CT_ONNX_MIN_OPSET || v > CT_ONNX_MAX_OPSET)
        return ct_fail(CT_ERR_USAGE, "export: --opset '%s': expected an ONNX opset from %d to %d (default %d)", s,
                       CT_ONNX_MIN_OPSET, CT_ONNX_MAX_OPSET, CT_ONNX_DEFAULT_OPSET);
    *opset = (int)v;
    return CT_OK;
}

static int print_json(const ct_onnx_info *in, const char *out, const char *path, const char *name, int softmax)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:s, s:[s,i,i,i], s:i, s:f, s:f, s:b}",
                          "format", "onnx", "onnx_path", out, "model_path", path, "model_name", name, "opset", in->opset,
                          "ir_version", in->ir_version, "nodes", in->n_nodes, "initializers", in->n_initializers,
                          "bytes", (json_int_t)in->bytes, "network_source", in->network_source, "input_shape", "N",
                          in->in_c, in->in_h, in->in_w, "classes", in->classes, "mean", in->mean, "std", in->std,
                          "softmax", softmax);
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    if (!s) return ct_fail(CT_ERR_NOMEM, "could not write the JSON result (out of memory)");
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    return CT_OK;
}

/* the network of a --config file (used for model files without `network` metadata) */
static int config_netdef(const ct_config *cfg, ct_netdef *net)
{
    const ct_config_model *m = &cfg->model;
    return ct_netdef_digitcnn(m->conv1_channels, m->conv2_channels, m->conv3_channels, m->hidden_size, m->dropout1_rate,
                              m->dropout2_rate, m->use_batch_norm, net);
}

int cli_export(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0, softmax = 0, opset = CT_ONNX_DEFAULT_OPSET, have_config = 0, rc;
    const char *model = NULL, *format = NULL, *out = NULL, *ops = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strncmp(argv[i], "--config", 8)) have_config = 1;
        int t = cli_take_common(argc, argv, &i, &o);
        if (t == 0) t = cli_take_config(argc, argv, &i, &cfg, &sets);
        if (t == 0) t = take_value(argc, argv, &i, "--model", &model);
        if (t == 0) t = take_value(argc, argv, &i, "--format", &format);
        if (t == 0) t = take_value(argc, argv, &i, "--output", &out);
        if (t == 0) t = take_value(argc, argv, &i, "-o", &out);
        if (t == 0) t = take_value(argc, argv, &i, "--opset", &ops);
        if (t == 0 && !strcmp(argv[i], "--softmax")) softmax = t = 1;
        if (t < 0) return cli_die(-t);
        if (!t) return cli_die(ct_fail(CT_ERR_USAGE, "export: unknown option '%s' (%s)", argv[i], USAGE));
    }
    if (format && strcmp(format, "onnx"))
        return cli_die(ct_fail(CT_ERR_USAGE, "export: --format '%s': the only format is onnx", format));
    if (ops && (rc = parse_opset(ops, &opset)) != CT_OK) return cli_die(rc);
    if ((rc = ct_config_validate(&cfg)) != CT_OK) return cli_die(rc);

    char path[CT_STORE_PATH_MAX], name[CT_STORE_NAME_MAX], dflt[CT_STORE_PATH_MAX + 8];
    if ((rc = ct_store_resolve(&cfg, model, path, name)) != CT_OK) return cli_die(rc);
    if (!out) {
        snprintf(dflt, sizeof dflt, "%s", path);
        char *dot = strstr(dflt, ".safetensors");
        if (dot && dot[12] == 0) *dot = 0;
        strcat(dflt, ".onnx");
        out = dflt;
    }
    ct_netdef net = {0};
    if (have_config && (rc = config_netdef(&cfg, &net)) != CT_OK) return cli_die(rc);
    ct_onnx_file_opts eo = {path, name, have_config ? &net : NULL, opset, softmax};
    ct_onnx_info info;
    rc = ct_onnx_export_file(&eo, out, &info);
    ct_netdef_free(&net);
    if (rc) return cli_die(rc);
    if (o.json) return print_json(&info, out, path, name, softmax) ? cli_die(CT_ERR_NOMEM) : CT_OK;
    printf("exported %s -> %s (ONNX opset %d, IR %d, %d nodes, %d initializers, %zu bytes; network from %s)\n", name,
           out, info.opset, info.ir_version, info.n_nodes, info.n_initializers, info.bytes,
           !strcmp(info.network_source, "metadata") ? "the file's metadata"
           : !strcmp(info.network_source, "config") ? "--config"
                                                    : "the tensor shapes (DigitCNN)");
    printf("input 'input' [N, %d, %d, %d] = (pixel / 255 - %.4f) / %.4f; output 'logits' [N, %d]%s\n", info.in_c,
           info.in_h, info.in_w, info.mean, info.std, info.classes, softmax ? " and 'probabilities'" : "");
    return CT_OK;
}
