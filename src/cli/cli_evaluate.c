/* cli_evaluate.c: `cltrain evaluate`: a saved model on the test set (evaluate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "evaluate.h"

enum { K_MODEL = 256 };

static int take(int key, const char *val, void *user)
{
    if (key != K_MODEL) return CT_ERR_USAGE;
    if (!*val) return ct_fail(CT_ERR_USAGE, "--model needs a model name (see `cltrain models`) or a .safetensors path");
    *(const char **)user = val;
    return CT_OK;
}

int cli_evaluate(int argc, char **argv)
{
    ct_tune_use_cache(CT_TUNE_CACHE_NETWORK); /* values tuned for the network, if any (not with CLTRAIN_NO_TUNE=1) */
    static const cli_option opts[] = {
        {"model", 1, K_MODEL, "NAME|PATH", "a model name from `cltrain models` or a .safetensors file (default: "
                                           "the newest)"},
        {0}};
    const char *model = NULL;
    const cli_command cmd = {"evaluate",
                             "test accuracy, loss, confusion matrix, classification report; writes evaluation.json "
                             "and PNGs",
                             CLI_CONFIG | CLI_DEVICE | CLI_JSON, opts, take, &model};
    cli_opts o;
    ct_config cfg;
    ct_config_defaults(&cfg);
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if ((prc = cli_apply_config(&o, &cfg)) != CT_OK) return cli_die(prc);
    int rc = ct_config_validate(&cfg);
    if (rc) return cli_die(rc);
    ct_eval_result *r = malloc(sizeof *r);
    if (!r) return cli_die(ct_fail(CT_ERR_NOMEM, "out of host memory"));
    ct_eval_opts eo = {model, o.device, 0};
    rc = ct_evaluate_model(&cfg, &eo, r);
    if (rc == CT_OK) {
        if (!o.json) ct_eval_print(stdout, r);
        if (cli_wants_result(o.json)) {
            char *s = NULL;
            if ((rc = ct_eval_to_json(r, &s)) == CT_OK) cli_emit_result(s, o.json);
            free(s);
        }
    }
    ct_eval_result_free(r);
    free(r);
    return rc ? cli_die(rc) : CT_OK;
}
