/* cli.h: helpers shared by the command files of the cltrain CLI (src/cli/). Each command is
 * `int cli_<name>(int argc, char **argv)` returning an exit code; main.c dispatches. */
#ifndef CLTRAIN_CLI_H
#define CLTRAIN_CLI_H
#include <stdio.h>

#include "common.h"
#include "config.h"
#include "io/jsonutil.h"

typedef struct {
    const char *device; /* --device SEL */
    int json;           /* --json */
} cli_opts;

/* Prints "cltrain: error: <last error>" and returns rc (never 0). */
int cli_die(int rc);
/* Consumes --device, --json, -v/--verbose, -q/--quiet at argv[*i]: returns 1 when taken, 0 when
 * not one of these, -status on error. */
int cli_take_common(int argc, char **argv, int *i, cli_opts *o);
/* Consumes --config F, --set k=v, --data DIR (config order: defaults, file, sets): returns 1
 * when taken, 0 when not, -status on error. */
int cli_take_config(int argc, char **argv, int *i, ct_config *cfg, int *sets_seen);
/* Both of the above: the options every command that reads a config accepts. */
int cli_take_standard(int argc, char **argv, int *i, cli_opts *o, ct_config *cfg, int *sets_seen);

/* Prints a JSON document (built with jansson; NULL when a builder ran out of memory) as one
 * stdout line and drops the reference. */
int cli_print_json(json_t *v);

int cli_devices(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_models(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_deploy(int argc, char **argv);
int cli_pipeline(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_export(int argc, char **argv);

#endif
