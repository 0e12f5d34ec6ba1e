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
#include "nn/netparse.h"
#include "store.h"

enum { K_MODEL = 256, K_FORMAT, K_OPSET, K_SOFTMAX };

typedef struct {
    const char *model, *format, *out, *ops;
    int softmax;
} export_args;

static int take(int key, const char *val, void *user)
{
    export_args *e = user;
    if (val && !*val) return ct_fail(CT_ERR_USAGE, "export: an empty value is not allowed here");
    switch (key) {
    case K_MODEL: e->model = val; return CT_OK;
    case K_FORMAT: e->format = val; return CT_OK;
    case 'o': e->out = val; return CT_OK;
    case K_OPSET: e->ops = val; return CT_OK;
    case K_SOFTMAX: e->softmax = 1; return CT_OK;
    }
    return CT_ERR_USAGE;
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
    json_t *m = json_loads(in->mean_text, JSON_DECODE_ANY, NULL), *sd = json_loads(in->std_text, JSON_DECODE_ANY, NULL);
    if (!m) m = json_real(in->mean);
    if (!sd) sd = json_real(in->std);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:I, s:s, s:[s,i,i,i], s:i, s:o, s:o, s:b}",
                          "format", "onnx", "onnx_path", out, "model_path", path, "model_name", name, "opset", in->opset,
                          "ir_version", in->ir_version, "nodes", in->n_nodes, "initializers", in->n_initializers,
                          "bytes", (json_int_t)in->bytes, "network_source", in->network_source, "input_shape", "N",
                          in->in_c, in->in_h, in->in_w, "classes", in->classes, "mean", m, "std", sd,
                          "softmax", softmax);
    if (!o) return ct_fail(CT_ERR_NOMEM, "could not write the JSON result (out of memory)");
    return cli_print_json(o);
}

static int export_main(int argc, char **argv, ct_config *cfg)
{
    static const cli_option opts[] = {
        {"model", 1, K_MODEL, "NAME|PATH", "the model to export (default: the newest)"},
        {"format", 1, K_FORMAT, "onnx", "the only format"},
        {"output", 1, 'o', "FILE", "output file (default: the model's path with .onnx)"},
        {"opset", 1, K_OPSET, "N", "ONNX opset, 13..17"},
        {"softmax", 0, K_SOFTMAX, NULL, "append a Softmax node (outputs probabilities)"},
        {0}};
    export_args e = {0};
    const cli_command cmd = {"export",
                             "write the model as ONNX (input 'input' [N,C,H,W], output 'logits'; runs in ONNX "
                             "Runtime)",
                             CLI_CONFIG | CLI_JSON, opts, take, &e};
    cli_opts o;
    int opset = CT_ONNX_DEFAULT_OPSET, rc = cli_parse(argc, argv, &cmd, &o);
    if (rc || o.help) return rc ? cli_die(rc) : 0;
    if ((rc = cli_apply_config(&o, cfg)) != CT_OK) return cli_die(rc);
    const char *model = e.model, *format = e.format, *out = e.out, *ops = e.ops;
    int softmax = e.softmax, have_config = o.config != NULL;
    if (format && strcmp(format, "onnx"))
        return cli_die(ct_fail(CT_ERR_USAGE, "export: --format '%s': the only format is onnx", format));
    if (ops && (rc = parse_opset(ops, &opset)) != CT_OK) return cli_die(rc);
    if ((rc = ct_config_validate(cfg)) != CT_OK) return cli_die(rc);

    char path[CT_STORE_PATH_MAX], name[CT_STORE_NAME_MAX], dflt[CT_STORE_PATH_MAX + 8];
    if ((rc = ct_store_resolve(cfg, model, path, name)) != CT_OK) return cli_die(rc);
    if (!out) {
        snprintf(dflt, sizeof dflt, "%s", path);
        char *dot = strstr(dflt, ".safetensors");
        if (dot && dot[12] == 0) *dot = 0;
        strcat(dflt, ".onnx");
        out = dflt;
    }
    /* --config's network (its network: section, else the DigitCNN of its model: keys) serves
     * model files without `network` metadata */
    ct_netdef net = {0};
    if (have_config && (rc = ct_config_netdef(cfg, &net)) != CT_OK) return cli_die(rc);
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
    printf("input 'input' [N, %d, %d, %d] = (pixel / 255 - mean) / std, mean %s, std %s; output 'logits' [N, %d]%s\n",
           info.in_c, info.in_h, info.in_w, info.mean_text, info.std_text, info.classes,
           softmax ? " and 'probabilities'" : "");
    return CT_OK;
}

int cli_export(int argc, char **argv)
{
    ct_config cfg;
    ct_config_defaults(&cfg);
    int rc = export_main(argc, argv, &cfg);
    ct_config_free(&cfg);
    return rc;
}
