/* cli_common.c: option parsing shared by the commands. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "cli.h"

int cli_die(int rc)
{
    fprintf(stderr, "cltrain: error: %s\n", ct_last_error());
    return rc ? rc : CT_ERR_RUNTIME;
}

int cli_take_common(int argc, char **argv, int *i, cli_opts *o)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--device")) {
        if (*i + 1 >= argc) return -ct_fail(CT_ERR_USAGE, "--device needs a value (index, P:D, type or name)");
        o->device = argv[++*i];
        return 1;
    }
    if (!strncmp(a, "--device=", 9)) {
        o->device = a + 9;
        return 1;
    }
    if (!strcmp(a, "--json")) {
        o->json = 1;
        return 1;
    }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
        ct_verbosity = 2;
        return 1;
    }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        ct_verbosity = 0;
        return 1;
    }
    return 0;
}

/* --config F and --set k=v (repeatable), applied in order: defaults, file, sets, then validate */
int cli_take_config(int argc, char **argv, int *i, ct_config *cfg, int *sets_seen)
{
    const char *a = argv[*i];
    const char *val = NULL;
    if (!strcmp(a, "--config") || !strcmp(a, "--set") || !strcmp(a, "--data")) {
        if (*i + 1 >= argc) return -ct_fail(CT_ERR_USAGE, "%s needs a value", a);
        val = argv[++*i];
    } else if (!strncmp(a, "--config=", 9) || !strncmp(a, "--set=", 6) || !strncmp(a, "--data=", 7)) {
        val = strchr(a, '=') + 1;
    } else {
        return 0;
    }
    int rc;
    if (!strncmp(a, "--config", 8)) {
        if (*sets_seen) return -ct_fail(CT_ERR_USAGE, "--config must come before any --set");
        ct_config fresh;
        ct_config_defaults(&fresh);
        rc = ct_config_load(&fresh, val);
        if (rc == CT_OK) *cfg = fresh;
    } else if (!strncmp(a, "--set", 5)) {
        *sets_seen = 1;
        rc = ct_config_set(cfg, val);
    } else {
        if (strlen(val) >= sizeof cfg->data.dir) return -ct_fail(CT_ERR_USAGE, "--data: path too long");
        snprintf(cfg->data.dir, sizeof cfg->data.dir, "%s", val);
        rc = CT_OK;
    }
    return rc == CT_OK ? 1 : -rc;
}

int cli_take_standard(int argc, char **argv, int *i, cli_opts *o, ct_config *cfg, int *sets_seen)
{
    int t = cli_take_common(argc, argv, i, o);
    return t != 0 ? t : cli_take_config(argc, argv, i, cfg, sets_seen);
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
