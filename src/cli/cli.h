/* cli.h: helpers shared by the command files of the cltrain CLI (src/cli/). Each command is
 * `int cli_<name>(int argc, char **argv)` returning an exit code; main.c dispatches. */
#ifndef CLTRAIN_CLI_H
#define CLTRAIN_CLI_H
#include <stdio.h>

#include "common.h"
#include "config.h"
#include "io/jsonutil.h"

/* What a command's options may include besides its own (cli_command.flags). */
enum {
    CLI_DEVICE = 1, /* --device SEL */
    CLI_JSON = 2,   /* --json */
    CLI_CONFIG = 4, /* --config F, --data DIR, --set k=v (applied by cli_apply_config) */
    CLI_INPUTS = 8  /* positional arguments (inputs) allowed */
};

typedef struct {
    const char *name; /* long name without "--" */
    int has_arg;      /* 1: takes a value (--name V or --name=V) */
    int key;          /* handed to the command's handler: a letter (also -x) or 256..999 */
    const char *arg;  /* the value's name in --help */
    const char *help;
} cli_option;

typedef struct {
    const char *name;         /* "train" */
    const char *summary;      /* one line for --help */
    unsigned flags;           /* CLI_* */
    const cli_option *opts;   /* the command's own options, ended by {0}; may be NULL */
    int (*handle)(int key, const char *val, void *user); /* one of opts: CT_OK or a status */
    void *user;
} cli_command;

typedef struct {
    const char *device; /* --device SEL */
    int json;           /* --json */
    const char *config; /* --config F */
    const char *data;   /* --data DIR */
    const char **sets;  /* --set values, in the order typed */
    int n_sets;
    const char **inputs; /* positional arguments (CLI_INPUTS) */
    int n_inputs;
    int help;           /* --help was given and printed: exit 0 */
} cli_opts;

/* Prints "cltrain: error: <last error>" and returns rc (never 0). */
int cli_die(int rc);
/* Under mpirun/mpiexec/srun with several processes: joins the job (dist/dist.h) and makes the
 * device choice take this rank's device on its node; a plain run: nothing. Call before any
 * OpenCL call. */
int cli_dist_begin(void);
/* Parses argv[2..] of command c with getopt_long: --opt value and --opt=value, any order,
 * unambiguous prefixes, unknown options refused with the closest known one, -h/--help prints
 * the command's help (o->help set). Standard options land in o; the command's own go to
 * c->handle. Returns CT_OK or a status with the message set. */
int cli_parse(int argc, char **argv, const cli_command *c, cli_opts *o);
/* The config in a fixed order whatever the typed order: --config F over the defaults (when
 * given), then --data, then each --set in turn. cfg holds the defaults (or a checkpoint's
 * config) on entry. */
int cli_apply_config(const cli_opts *o, ct_config *cfg);

/* Prints a JSON document (built with jansson; NULL when a builder ran out of memory) as one
 * stdout line and drops the reference. */
int cli_print_json(json_t *v);
/* A command's --json result (the reference is dropped): printed as one stdout line when `print`,
 * handed to Dagster Pipes when a session is open; cli_wants_result: whether to build it at all. */
int cli_emit_json(json_t *v, int print);
void cli_emit_result(const char *json, int print);
int cli_wants_result(int json_flag);

int cli_devices(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_models(int argc, char **argv);
int cli_evaluate(int argc, char **argv);
int cli_deploy(int argc, char **argv);
int cli_pipeline(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_tune(int argc, char **argv);
int cli_export(int argc, char **argv);
int cli_summary(int argc, char **argv);

#endif
