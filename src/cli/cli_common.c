/* cli_common.c: option parsing shared by the commands. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/pipes.h"
#include "io/pipes_cltrain.h"
#include "clctx.h"
#include "device.h"
#include "dist/dist.h"

int cli_dist_begin(void)
{
    CT_TRY(ct_dist_init());
    ct_device_set_nth(ct_dist_local_rank());
    return CT_OK;
}

int cli_die(int rc)
{
    if (ct_dist_size() > 1)
        fprintf(stderr, "cltrain: rank %d of %d: error: %s\n", ct_dist_rank(), ct_dist_size(), ct_last_error());
    else
        fprintf(stderr, "cltrain: error: %s\n", ct_last_error());
    return rc ? rc : CT_ERR_RUNTIME;
}

/* keys of the options every command may have (command options use letters or 256..999) */
enum { K_DEVICE = 1000, K_JSON, K_CONFIG, K_SET, K_DATA, K_KERNELS };

static const cli_option std_opts[] = {
    {"config", 1, K_CONFIG, "F", "YAML config file (read first, whatever the order on the command line)"},
    {"data", 1, K_DATA, "DIR", "data folder (data.dir), applied after --config"},
    {"set", 1, K_SET, "section.key=value", "override one config key, after --config and --data; repeatable"},
    {0}};
static const cli_option dev_opt[] = {
    {"device", 1, K_DEVICE, "SEL", "index, P:D, type or part of a name"},
    {"kernels", 1, K_KERNELS, "cpu|gpu", "kernel profile (tile options, code paths); default by device type"},
    {0}};
static const cli_option json_opt[] = {{"json", 0, K_JSON, NULL, "the last line of stdout is one JSON object"}, {0}};
static const cli_option misc_opts[] = {{"verbose", 0, 'v', NULL, "more messages"},
                                       {"quiet", 0, 'q', NULL, "fewer messages"},
                                       {"help", 0, 'h', NULL, "this help"},
                                       {0}};

/* the option tables that apply to c, in --help order */
static int tables(const cli_command *c, const cli_option *t[5])
{
    int n = 0;
    if (c->opts) t[n++] = c->opts;
    if (c->flags & CLI_CONFIG) t[n++] = std_opts;
    if (c->flags & CLI_DEVICE) t[n++] = dev_opt;
    if (c->flags & CLI_JSON) t[n++] = json_opt;
    t[n++] = misc_opts;
    return n;
}

static void print_help(const cli_command *c)
{
    printf("usage: cltrain %s [options]%s\n  %s\n\noptions:\n", c->name, (c->flags & CLI_INPUTS) ? " INPUT..." : "",
           c->summary);
    const cli_option *t[5];
    int n = tables(c, t);
    for (int k = 0; k < n; k++)
        for (const cli_option *x = t[k]; x->name; x++) {
            char lhs[64];
            int sh = x->key < 128 && x->key > ' ';
            snprintf(lhs, sizeof lhs, "%c%c%c --%s%s%s", sh ? '-' : ' ', sh ? x->key : ' ', sh ? ',' : ' ', x->name,
                     x->arg ? " " : "", x->arg ? x->arg : "");
            printf("  %-34s %s\n", lhs, x->help);
        }
    printf("\n--opt value and --opt=value are the same; options may come in any order.\n");
}

/* Levenshtein distance (small strings: option names) */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];
    if (la >= 63 || lb >= 63) return 99;
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* "unknown option '--x'" with the closest known option when one is close */
static int unknown_option(const cli_command *c, const char *arg)
{
    char name[64];
    const char *s = arg;
    while (*s == '-') s++;
    snprintf(name, sizeof name, "%.*s", (int)strcspn(s, "="), s);
    const cli_option *t[5];
    int n = tables(c, t);
    const char *best = NULL;
    size_t bd = 99;
    for (int k = 0; k < n; k++)
        for (const cli_option *x = t[k]; x->name; x++) {
            /* the whole name, or its start (a mistyped abbreviation) */
            char head[64];
            snprintf(head, sizeof head, "%.*s", (int)strlen(name), x->name);
            size_t d = edit_distance(name, x->name), dh = edit_distance(name, head);
            if (dh < d) d = dh;
            if (d < bd) bd = d, best = x->name;
        }
    if (best && bd <= 2 + strlen(name) / 4 && bd < strlen(name))
        return ct_fail(CT_ERR_USAGE, "%s: unknown option '%s'; did you mean '--%s'? (cltrain %s --help lists them)",
                       c->name, arg, best, c->name);
    return ct_fail(CT_ERR_USAGE, "%s: unknown option '%s' (cltrain %s --help lists the options)", c->name, arg,
                   c->name);
}

static const cli_option *find_key(const cli_command *c, int key)
{
    const cli_option *t[5];
    int n = tables(c, t);
    for (int k = 0; k < n; k++)
        for (const cli_option *x = t[k]; x->name; x++)
            if (x->key == key) return x;
    return NULL;
}

/* a standard option: stored in o (the config is built later, in a fixed order) */
static int take_std(const cli_command *c, int key, const char *val, cli_opts *o)
{
    switch (key) {
    case K_DEVICE: o->device = val; return CT_OK;
    case K_JSON: o->json = 1; return CT_OK;
    case 'v': ct_verbosity = 2; return CT_OK;
    case 'q': ct_verbosity = 0; return CT_OK;
    case K_CONFIG:
        if (o->config) return ct_fail(CT_ERR_USAGE, "%s: --config given twice ('%s' and '%s')", c->name, o->config, val);
        o->config = val;
        return CT_OK;
    case K_DATA: o->data = val; return CT_OK;
    case K_KERNELS: return ct_kernels_request(val);
    case K_SET: o->sets[o->n_sets++] = val; return CT_OK;
    }
    return 1; /* not a standard option */
}

/* --set values and inputs of the last parse (kept reachable until the next parse or exit) */
static const char **saved_sets, **saved_inputs;

int cli_parse(int argc, char **argv, const cli_command *c, cli_opts *o)
{
    memset(o, 0, sizeof *o);
    free(saved_sets);
    free(saved_inputs);
    o->sets = saved_sets = calloc((size_t)argc + 1, sizeof *o->sets);
    o->inputs = saved_inputs = calloc((size_t)argc + 1, sizeof *o->inputs);
    struct option lo[64];
    char shorts[64] = ":"; /* ':' first: a missing value is reported as ':' */
    const cli_option *t[5];
    int n = tables(c, t), nl = 0;
    if (!o->sets || !o->inputs) return ct_fail(CT_ERR_NOMEM, "out of host memory");
    for (int k = 0; k < n; k++)
        for (const cli_option *x = t[k]; x->name && nl < 63; x++) {
            lo[nl++] = (struct option){x->name, x->has_arg ? required_argument : no_argument, NULL, x->key};
            if (x->key < 128 && x->key > ' ' && strlen(shorts) < sizeof shorts - 3) {
                size_t l = strlen(shorts);
                shorts[l] = (char)x->key;
                shorts[l + 1] = x->has_arg ? ':' : 0;
                shorts[l + 2] = 0;
            }
        }
    lo[nl] = (struct option){0, 0, 0, 0};
    /* getopt sees the command as its program name: argv[1..] */
    int ac = argc - 1;
    char **av = argv + 1;
    optind = 0; /* glibc: full re-initialisation */
    opterr = 0;
    int key, idx;
    while ((key = getopt_long(ac, av, shorts, lo, &idx)) != -1) {
        const char *bad = av[optind - 1];
        if (key == '?') {
            if (optopt && find_key(c, optopt) && !strncmp(bad, "--", 2))
                return ct_fail(CT_ERR_USAGE, "%s: option '%s' takes no value", c->name, bad);
            if (optopt && optopt < 128 && bad[0] == '-' && bad[1] != '-') {
                char sh[3] = {'-', (char)optopt, 0};
                return unknown_option(c, sh);
            }
            return unknown_option(c, bad);
        }
        if (key == ':') {
            const cli_option *x = find_key(c, optopt);
            return ct_fail(CT_ERR_USAGE, "%s: --%s needs a value (%s)", c->name, x ? x->name : bad,
                           x && x->arg ? x->arg : "see --help");
        }
        if (key == 'h') {
            print_help(c);
            o->help = 1;
            return CT_OK;
        }
        int rc = take_std(c, key, optarg, o);
        if (rc == 1) rc = c->handle ? c->handle(key, optarg, c->user) : CT_ERR_USAGE;
        if (rc) return rc;
    }
    for (int i = optind; i < ac; i++) {
        if (!(c->flags & CLI_INPUTS))
            return ct_fail(CT_ERR_USAGE, "%s: unknown option or argument '%s': this command takes no arguments "
                           "(cltrain %s --help lists the options)", c->name, av[i], c->name);
        o->inputs[o->n_inputs++] = av[i];
    }
    return CT_OK;
}

int cli_apply_config(const cli_opts *o, ct_config *cfg)
{
    int rc;
    if (o->config) {
        ct_config fresh;
        ct_config_defaults(&fresh);
        if ((rc = ct_config_load(&fresh, o->config)) != CT_OK) return rc;
        *cfg = fresh;
    }
    if (o->data) {
        if (strlen(o->data) >= sizeof cfg->data.dir) return ct_fail(CT_ERR_USAGE, "--data: path too long");
        snprintf(cfg->data.dir, sizeof cfg->data.dir, "%s", o->data);
    }
    for (int i = 0; i < o->n_sets; i++)
        if ((rc = ct_config_set(cfg, o->sets[i])) != CT_OK) return rc;
    return CT_OK;
}

int cli_print_json(json_t *v)
{
    char *s = NULL;
    int rc = ct_jdump_take(v, &s, NULL);
    if (rc == CT_OK) {
        printf("%s\n", s);
        fflush(stdout);
    } else {
        ct_fail(rc, "could not write the JSON result (out of memory)");
    }
    free(s);
    return rc;
}

int cli_wants_result(int json_flag) { return json_flag || ct_pipes_active(); }

void cli_emit_result(const char *json, int print)
{
    if (print) {
        printf("%s\n", json);
        fflush(stdout);
    }
    ct_pipes_cli_result(json);
}

int cli_emit_json(json_t *v, int print)
{
    char *s = NULL;
    int rc = ct_jdump_take(v, &s, NULL);
    if (rc == CT_OK) cli_emit_result(s, print);
    else ct_fail(rc, "could not write the JSON result (out of memory)");
    free(s);
    return rc;
}
