/* cli_evaluate.c: `cltrain evaluate`: a saved model on the test set (evaluate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "evaluate.h"

/* --model NAME|PATH (also --model=...): returns 1 when taken, 0 when not, -status on error */
static int take_model(int argc, char **argv, int *i, const char **model)
{
    if (!strcmp(argv[*i], "--model")) {
        if (*i + 1 >= argc || !argv[*i + 1][0])
            return -ct_fail(CT_ERR_USAGE, "--model needs a model name (see `cltrain models`) or a .safetensors path");
        *model = argv[++*i];
        return 1;
    }
    if (!strncmp(argv[*i], "--model=", 8)) {
        *model = argv[*i] + 8;
        if (!**model) return -ct_fail(CT_ERR_USAGE, "--model needs a model name or a .safetensors path");
        return 1;
    }
    return 0;
}

int cli_evaluate(int argc, char **argv)
{
    cli_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    const char *model = NULL;
    for (int i = 2; i < argc; i++) {
        int t = cli_take_common(argc, argv, &i, &o);
        if (t == 0) t = cli_take_config(argc, argv, &i, &cfg, &sets);
        if (t == 0) t = take_model(argc, argv, &i, &model);
        if (t < 0) return cli_die(-t);
        if (t) continue;
        return cli_die(ct_fail(CT_ERR_USAGE,
                               "evaluate: unknown option '%s' (allowed: --model NAME|PATH, --data DIR, --device SEL, "
                               "--config F, --set section.key=value, --json, -q, -v)",
                               argv[i]));
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    ct_eval_result *r = malloc(sizeof *r);
    if (!r) return cli_die(ct_fail(CT_ERR_NOMEM, "out of host memory"));
    ct_eval_opts eo = {model, o.device, 0};
    rc = ct_evaluate_model(&cfg, &eo, r);
    if (rc == CT_OK) {
        if (!o.json) ct_eval_print(stdout, r);
        else {
            char *s = NULL;
            if ((rc = ct_eval_to_json(r, &s)) == CT_OK) printf("%s\n", s);
            free(s);
        }
    }
    ct_eval_result_free(r);
    free(r);
    return rc ? cli_die(rc) : CT_OK;
}
