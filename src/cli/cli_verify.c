/* cli_verify.c: `cltrain verify`: every kernel against the C reference on a device, under the
 * profile in use (--kernels), optionally at DigitCNN's real sizes (--sizes real), with the
 * values `cltrain tune` cached (--tuned), or under every tunable set tune may choose
 * (--all-tunables). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "tune.h"
#include "verify.h"

typedef struct {
    int real, batch, tuned, all;
    int conv_batch; /* --batch also sets the batch of the training-size convolution checks */
} verify_opts;

enum { K_SIZES = 300, K_BATCH, K_TUNED, K_ALL };

static const cli_option verify_options[] = {
    {"sizes", 1, K_SIZES, "small|real", "real: also DigitCNN's layer shapes (conv1 1->32 28x28 ...)"},
    {"batch", 1, K_BATCH, "N", "batch of the real-size checks (default 2) and of the convolution checks at training sizes (default 8)"},
    {"tuned", 0, K_TUNED, NULL, "with the values `cltrain tune` cached for the device"},
    {"all-tunables", 0, K_ALL, NULL, "once under every tunable set `cltrain tune` may choose"},
    {0}};

static int take_verify(int key, const char *val, void *user)
{
    verify_opts *v = user;
    switch (key) {
    case K_SIZES:
        if (strcmp(val, "small") != 0 && strcmp(val, "real") != 0)
            return ct_fail(CT_ERR_USAGE, "verify: --sizes '%s': use 'small' (odd sizes, the default) or 'real' "
                                         "(also DigitCNN's layer shapes)", val);
        v->real = strcmp(val, "real") == 0;
        return CT_OK;
    case K_BATCH: {
        char *end;
        long n = strtol(val, &end, 10);
        if (n < 1 || n > 4096 || *end) return ct_fail(CT_ERR_USAGE, "verify: --batch '%s': an integer in [1, 4096]", val);
        v->batch = v->conv_batch = (int)n;
        return CT_OK;
    }
    case K_TUNED: v->tuned = 1; return CT_OK;
    case K_ALL: v->all = 1; return CT_OK;
    }
    return CT_ERR_USAGE;
}

/* One pass of the checks under c's current tunables. */
static int verify_pass(ct_ctx *c, const verify_opts *v, FILE *out, ct_verify_result *res)
{
    CT_TRY(ct_verify_run_batch(c, out, res, v->conv_batch));
    if (v->real) CT_TRY(ct_verify_real_sizes(c, out, res, v->batch));
    return CT_OK;
}

/* every tunable set `cltrain tune` may choose on this device, one pass each; sums the counts */
static int verify_all(ct_ctx *c, const verify_opts *v, FILE *out, ct_verify_result *all, int *sets)
{
    ct_tune *cand;
    int n;
    CT_TRY(ct_tune_candidates(c, &cand, &n));
    int rc = CT_OK;
    for (int k = 0; rc == CT_OK && k < n; k++) {
        ct_verify_result res = {0, 0};
        rc = ct_ctx_set_tune(c, &cand[k]);
        char desc[1024];
        ct_tune_describe(c, desc, sizeof desc);
        if (out) printf("-- tunable set %d of %d: %s\n", k + 1, n, desc);
        if (rc == CT_OK) rc = verify_pass(c, v, out, &res);
        all->pass += res.pass;
        all->fail += res.fail;
        (*sets)++;
    }
    free(cand);
    return rc;
}

int cli_verify(int argc, char **argv)
{
    verify_opts v = {0, 2, 0, 0, 8};
    const cli_command cmd = {"verify", "check every kernel on a device against the C reference",
                             CLI_DEVICE | CLI_JSON, verify_options, take_verify, &v};
    cli_opts o;
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    if (v.tuned) ct_tune_use_cache(CT_TUNE_CACHE_NEWEST);
    ct_ctx *c;
    int rc = ct_ctx_create(o.device, 0, &c);
    if (rc) return cli_die(rc);
    if (v.tuned && !c->tune.tuned[0]) {
        ct_ctx_free(c);
        return cli_die(ct_fail(CT_ERR_USAGE, "verify --tuned: no tuned values are cached for '%s' (run `cltrain "
                                             "tune` first, and unset CLTRAIN_NO_TUNE)",
                               c->dev.name));
    }
    FILE *out = o.json ? NULL : stdout;
    if (out) printf("verifying %s (%s, %s)\n", c->dev.name, c->dev.platform_name, c->dev.driver_version);
    double t0 = ct_now();
    ct_verify_result res = {0, 0};
    int sets = 0;
    if (v.all) {
        rc = verify_all(c, &v, out, &res, &sets);
    } else {
        char desc[1024];
        ct_tune_describe(c, desc, sizeof desc);
        if (out) printf("%s\n", desc);
        rc = verify_pass(c, &v, out, &res);
        sets = 1;
    }
    double dt = ct_now() - t0;
    if (rc) {
        ct_ctx_free(c);
        return cli_die(rc);
    }
    if (o.json) {
        /* seconds rounded to 1/100 s, as this output has always been */
        json_t *j = json_pack("{s:o,s:s,s:i,s:i,s:i,s:o,s:o}", "device", ct_jstr(c->dev.name), "kernel_profile",
                              c->tune.gpu_profile ? "gpu" : "cpu", "tunable_sets", sets, "passed", res.pass, "failed",
                              res.fail, "seconds", ct_jreal(round(dt * 100) / 100), "build_seconds",
                              ct_jreal(round(c->build_seconds * 100) / 100));
        cli_print_json(j);
    } else {
        printf("%d passed, %d failed%s (%.1f s, of which %.1f s building kernels: %d from cache, %d compiled)\n",
               res.pass, res.fail, sets > 1 ? " over every tunable set" : "", dt, c->build_seconds, c->cache_hits,
               c->cache_misses);
        printf("%s\n", res.fail ? "VERIFY FAILED: do not train on this device/driver" : "VERIFY PASSED");
    }
    ct_ctx_free(c);
    return res.fail ? CT_ERR_RUNTIME : CT_OK;
}
