/* cli_summary.c: `cltrain summary`: the config's network (its `network:` section, else the
 * DigitCNN of the `model:` keys) as a table of layers with output shapes, parameters and
 * forward MFLOP per image, the totals and the device memory to train it at
 * training.batch_size and to evaluate it at evaluation.batch_size; --json as one object, --network-json as netdef.h's JSON form (what
 * tools/cltrain_torch.py reads). Needs no device and no data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "model.h"
#include "nn/netparse.h"

static void shape_text(const ct_act_shape *s, char *buf, size_t cap)
{
    if (s->rank == 4) snprintf(buf, cap, "%d x %d x %d", s->c, s->h, s->w);
    else snprintf(buf, cap, "%d", s->c);
}

static void human_bytes(unsigned long long b, char *buf, size_t cap)
{
    if (b >= 1ull << 30) snprintf(buf, cap, "%.2f GiB", b / 1073741824.0);
    else if (b >= 1ull << 20) snprintf(buf, cap, "%.1f MiB", b / 1048576.0);
    else snprintf(buf, cap, "%.1f KiB", b / 1024.0);
}

/* "block2.bn1 + block2.shortcut.0" when the inputs are not just the previous layer */
static void from_text(const ct_netdef *n, int i, char *buf, size_t cap)
{
    const ct_layer_def *l = &n->layers[i];
    buf[0] = 0;
    if (l->n_inputs == 1 && l->inputs[0] == i - 1) return;
    size_t o = 0;
    for (int k = 0; k < l->n_inputs && o < cap; k++) {
        int j = l->inputs[k];
        char idx[24];
        snprintf(idx, sizeof idx, "#%d", j);
        const char *nm = j < 0 ? "input" : n->layers[j].name[0] ? n->layers[j].name : idx;
        o += (size_t)snprintf(buf + o, cap - o, "%s%s", k ? " + " : "", nm);
    }
}

static void print_table(const ct_config *cfg, const ct_netdef *n)
{
    int wn = 4, wf = 4;
    char from[600], shape[64], mem[32];
    for (int i = 0; i < n->n_layers; i++) {
        int len = (int)strlen(n->layers[i].name);
        if (len > wn) wn = len;
        from_text(n, i, from, sizeof from);
        if ((int)strlen(from) > wf) wf = (int)strlen(from);
    }
    printf("network: %s, input %d x %d x %d, %d classes, %d layers\n\n",
           cfg->network ? cfg->network_file : "DigitCNN (model: keys)", n->in_c, n->in_h, n->in_w, n->classes,
           n->n_layers);
    printf("%4s  %-*s  %-18s  %-*s  %-16s  %10s  %9s\n", "#", wn, "NAME", "TYPE", wf, "FROM", "OUTPUT", "PARAMS",
           "MFLOP");
    double total = 0;
    for (int i = 0; i < n->n_layers; i++) {
        const ct_layer_def *l = &n->layers[i];
        from_text(n, i, from, sizeof from);
        shape_text(&l->out, shape, sizeof shape);
        double mf = ct_layer_flops(l) / 1e6;
        total += mf;
        printf("%4d  %-*s  %-18s  %-*s  %-16s  %10lld  %9.3f\n", i, wn, l->name[0] ? l->name : "-",
               ct_layer_type_name(l->type), wf, from[0] ? from : "-", shape, ct_layer_param_count(l), mf);
    }
    long long params = ct_netdef_param_count(n);
    int batch = cfg->training.batch_size;
    human_bytes(4ull * (unsigned long long)params, mem, sizeof mem);
    printf("\ntotal: %lld parameters (%s as float32), %.3f MFLOP forward per image\n", params, mem, total);
    human_bytes(ct_netdef_memory_estimate(n, batch), mem, sizeof mem);
    printf("device memory to train at batch %d (training.batch_size): about %s (parameters, gradients, two optimizer "
           "moments, activations and their gradients, workspaces)\n",
           batch, mem);
    unsigned long long eval_bytes = 0;
    if (ct_model_memory(n, cfg->evaluation.batch_size, 1, &eval_bytes, NULL) == CT_OK) {
        human_bytes(eval_bytes, mem, sizeof mem);
        printf("device memory to evaluate at batch %d (evaluation.batch_size): about %s (parameters, running "
               "statistics, the activations alive at once, workspaces)\n",
               cfg->evaluation.batch_size, mem);
    }
}

static json_t *layer_json(const ct_layer_def *l)
{
    json_t *shape = l->out.rank == 4 ? json_pack("[iii]", l->out.c, l->out.h, l->out.w) : json_pack("[i]", l->out.c);
    return json_pack("{s:s,s:s,s:o,s:I,s:f}", "name", l->name, "type", ct_layer_type_name(l->type), "output_shape",
                     shape, "params", (json_int_t)ct_layer_param_count(l), "mflops", ct_layer_flops(l) / 1e6);
}

static int print_json(const ct_config *cfg, const ct_netdef *n)
{
    json_t *layers = json_array();
    double total = 0;
    for (int i = 0; layers && i < n->n_layers; i++) {
        total += ct_layer_flops(&n->layers[i]) / 1e6;
        if (json_array_append_new(layers, layer_json(&n->layers[i]))) {
            json_decref(layers);
            layers = NULL;
        }
    }
    json_t *o = layers ? json_pack("{s:I,s:o,s:f,s:I,s:i,s:[iii],s:i}", "params", (json_int_t)ct_netdef_param_count(n),
                                   "layers", layers, "total_mflops", total, "memory_bytes",
                                   (json_int_t)ct_netdef_memory_estimate(n, cfg->training.batch_size), "batch_size",
                                   cfg->training.batch_size, "input", n->in_c, n->in_h, n->in_w, "classes", n->classes)
                       : NULL;
    /* inference model at evaluation.batch_size (null when a buffer would not fit the kernels) */
    unsigned long long eval_bytes = 0;
    int eok = ct_model_memory(n, cfg->evaluation.batch_size, 1, &eval_bytes, NULL) == CT_OK;
    if (o && (json_object_set_new(o, "eval_memory_bytes", eok ? json_integer((json_int_t)eval_bytes) : json_null()) ||
              json_object_set_new(o, "eval_batch_size", json_integer(cfg->evaluation.batch_size)))) {
        json_decref(o);
        o = NULL;
    }
    if (!o) return ct_fail(CT_ERR_NOMEM, "could not write the JSON result (out of memory)");
    return cli_print_json(o);
}

static int take(int key, const char *val, void *user)
{
    (void)val;
    if (key == 256) *(int *)user = 1;
    return CT_OK;
}

int cli_summary(int argc, char **argv)
{
    static const cli_option opts[] = {
        {"network-json", 0, 256, NULL, "print the resolved network as JSON (the model files' `network` metadata)"},
        {0}};
    int netjson = 0;
    const cli_command cmd = {"summary",
                             "the network's layers: output shapes, parameters, MFLOP per image, device memory at the "
                             "batch size",
                             CLI_CONFIG | CLI_JSON, opts, take, &netjson};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int rc = cli_parse(argc, argv, &cmd, &o);
    if (rc || o.help) return rc ? cli_die(rc) : 0;
    if ((rc = cli_apply_config(&o, &cfg)) != CT_OK) {
        ct_config_free(&cfg);
        return cli_die(rc);
    }
    rc = ct_config_validate(&cfg);
    ct_netdef n;
    if (rc || (rc = ct_config_netdef(&cfg, &n))) {
        ct_config_free(&cfg);
        return cli_die(rc);
    }
    if (netjson) {
        char *s = NULL;
        if ((rc = ct_netdef_to_json(&n, &s)) == CT_OK) printf("%s\n", s);
        free(s);
    } else if (o.json) {
        rc = print_json(&cfg, &n);
    } else {
        print_table(&cfg, &n);
    }
    ct_netdef_free(&n);
    ct_config_free(&cfg);
    return rc ? cli_die(rc) : 0;
}
