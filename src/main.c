/* main.c: the cltrain command line. Parses arguments, calls the library, prints results and
 * turns statuses into the documented exit codes. The only file that calls exit(). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clctx.h"
#include "common.h"
#include "device.h"
#include "verify.h"
#include "config.h"
#include "train.h"
#include "json.h"

static void usage(FILE *f)
{
    fprintf(f,
            "cltrain %s: train convolutional networks on any OpenCL device\n\n"
            "usage: cltrain COMMAND [options]\n\n"
            "commands:\n"
            "  devices [--json]            list every OpenCL platform and device\n"
            "  verify [--device SEL]       check every kernel on a device against the C reference\n"
            "  train [--config F] [--set section.key=value]... [--data DIR] [--device SEL] [--json]\n"
            "                              train DigitCNN (fetches MNIST into data.dir when missing)\n"
            "  help                        this text\n\n"
            "--device SEL: a global index, P:D, a type (gpu, igpu, cpu, accelerator) or part of a\n"
            "platform/vendor/device name; default $CLTRAIN_DEVICE, else the best device.\n"
            "exit codes: 0 ok, 1 runtime error, 2 usage/config error, 3 bad input file,\n"
            "            4 interrupted, 5 deployment skipped, 6 out of memory\n",
            CLTRAIN_VERSION);
}

static int die(int rc)
{
    fprintf(stderr, "cltrain: error: %s\n", ct_last_error());
    return rc ? rc : CT_ERR_RUNTIME;
}

/* shared option parsing: --device SEL / --device=SEL, --json, -v/--verbose, -q/--quiet */
typedef struct {
    const char *device;
    int json;
} common_opts;

static int take_common(int argc, char **argv, int *i, common_opts *o)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--device")) {
        if (*i + 1 >= argc) return ct_fail(CT_ERR_USAGE, "--device needs a value (index, P:D, type or name)");
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

static int cmd_devices(int argc, char **argv)
{
    common_opts o = {0};
    for (int i = 2; i < argc; i++) {
        int t = take_common(argc, argv, &i, &o);
        if (t < 0 || t > 1) return die(t);
        if (!t) return die(ct_fail(CT_ERR_USAGE, "devices: unknown option '%s' (allowed: --json)", argv[i]));
    }
    ct_device_info *devs;
    int n;
    int rc = ct_devices_list(&devs, &n);
    if (rc) return die(rc);
    char *txt = ct_devices_format(devs, n, o.json);
    if (o.json) {
        printf("%s\n", txt ? txt : "[]");
    } else if (n == 0) {
        printf("no OpenCL device found: install a driver (Debian: apt-get install pocl-opencl-icd for the CPU)\n");
    } else {
        printf("%s", txt ? txt : "");
        ct_device_info best;
        if (ct_device_select(NULL, &best) == CT_OK) printf("default device: [%d] %s\n", best.index, best.name);
    }
    free(txt);
    free(devs);
    return n == 0 ? CT_ERR_RUNTIME : CT_OK;
}

static int cmd_verify(int argc, char **argv)
{
    common_opts o = {0};
    for (int i = 2; i < argc; i++) {
        int t = take_common(argc, argv, &i, &o);
        if (t < 0 || t > 1) return die(t);
        if (!t) return die(ct_fail(CT_ERR_USAGE, "verify: unknown option '%s' (allowed: --device SEL, --json)", argv[i]));
    }
    ct_ctx *c;
    int rc = ct_ctx_create(o.device, 0, &c);
    if (rc) return die(rc);
    if (!o.json) printf("verifying %s (%s, %s)\n", c->dev.name, c->dev.platform_name, c->dev.driver_version);
    double t0 = ct_now();
    ct_verify_result res;
    rc = ct_verify_run(c, o.json ? NULL : stdout, &res);
    double dt = ct_now() - t0;
    if (rc) {
        ct_ctx_free(c);
        return die(rc);
    }
    if (o.json) {
        char dev[600];
        ct_json_escape(dev, sizeof dev, c->dev.name);
        printf("{\"device\":%s,\"passed\":%d,\"failed\":%d,\"seconds\":%.2f,\"build_seconds\":%.2f}\n", dev, res.pass,
               res.fail, dt, c->build_seconds);
    } else {
        printf("%d passed, %d failed (%.1f s, of which %.1f s building kernels: %d from cache, %d compiled)\n",
               res.pass, res.fail, dt, c->build_seconds, c->cache_hits, c->cache_misses);
        printf("%s\n", res.fail ? "VERIFY FAILED: do not train on this device/driver" : "VERIFY PASSED");
    }
    ct_ctx_free(c);
    return res.fail ? CT_ERR_RUNTIME : CT_OK;
}

/* --config F and --set k=v (repeatable), applied in order: defaults, file, sets, then validate */
static int take_config(int argc, char **argv, int *i, ct_config *cfg, int *sets_seen)
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

static int cmd_train(int argc, char **argv)
{
    common_opts o = {0};
    ct_config cfg;
    ct_config_defaults(&cfg);
    int sets = 0;
    ct_train_opts to = {0};
    for (int i = 2; i < argc; i++) {
        int t = take_common(argc, argv, &i, &o);
        if (t > 1 || t < 0) return die(t);
        if (t) continue;
        t = take_config(argc, argv, &i, &cfg, &sets);
        if (t < 0) return die(-t);
        if (t) continue;
        if (!strcmp(argv[i], "--subset") && i + 1 < argc) {
            char *end;
            to.subset = strtol(argv[++i], &end, 10);
            if (*end || to.subset < 1) return die(ct_fail(CT_ERR_USAGE, "--subset needs a positive number of images"));
            continue;
        }
        return die(ct_fail(CT_ERR_USAGE,
                           "train: unknown option '%s' (allowed: --config F, --set section.key=value, --data DIR, "
                           "--device SEL, --subset N, --json, -q, -v)",
                           argv[i]));
    }
    int rc = ct_config_validate(&cfg);
    if (rc) return die(rc);
    to.device = o.device;
    to.json = o.json;
    ct_train_result r;
    rc = ct_train(&cfg, &to, &r);
    if (rc) return die(rc);
    if (o.json) {
        ct_jw w;
        ct_jw_init(&w);
        ct_jw_begin_object(&w);
        ct_jw_key(&w, "model_path");
        ct_jw_string(&w, r.model_path);
        ct_jw_key(&w, "model_name");
        ct_jw_string(&w, r.model_name);
        ct_jw_key(&w, "run_dir");
        ct_jw_string(&w, r.run_dir);
        ct_jw_key(&w, "final_val_accuracy");
        ct_jw_double(&w, r.final_val_accuracy);
        ct_jw_key(&w, "best_val_accuracy");
        ct_jw_double(&w, r.best_val_accuracy);
        ct_jw_key(&w, "test_accuracy");
        if (r.test_accuracy >= 0) ct_jw_double(&w, r.test_accuracy);
        else ct_jw_null(&w);
        ct_jw_key(&w, "epochs_run");
        ct_jw_int(&w, r.epochs_run);
        ct_jw_key(&w, "training_epochs");
        ct_jw_int(&w, r.epochs_run);
        ct_jw_key(&w, "configured_epochs");
        ct_jw_int(&w, r.configured_epochs);
        ct_jw_key(&w, "final_train_loss");
        ct_jw_double(&w, r.final_train_loss);
        ct_jw_key(&w, "model_parameters");
        ct_jw_int(&w, r.model_parameters);
        ct_jw_key(&w, "learning_rate");
        ct_jw_double(&w, cfg.training.learning_rate);
        ct_jw_key(&w, "final_learning_rate");
        ct_jw_double(&w, r.learning_rate);
        ct_jw_key(&w, "batch_size");
        ct_jw_int(&w, cfg.training.batch_size);
        ct_jw_key(&w, "optimizer");
        ct_jw_string(&w, cfg.training.optimizer_type);
        ct_jw_key(&w, "early_stopping_used");
        ct_jw_bool(&w, r.early_stopped);
        ct_jw_key(&w, "train_images_per_second");
        ct_jw_double(&w, r.train_images_per_second);
        ct_jw_key(&w, "train_samples");
        ct_jw_int(&w, r.train_samples);
        ct_jw_key(&w, "val_samples");
        ct_jw_int(&w, r.val_samples);
        ct_jw_key(&w, "seconds");
        ct_jw_double(&w, r.seconds);
        ct_jw_key(&w, "device");
        ct_jw_string(&w, r.device);
        ct_jw_end_object(&w);
        char *s;
        size_t n;
        if (ct_jw_finish(&w, &s, &n) == CT_OK) printf("%s\n", s);
        free(s);
        ct_jw_free(&w);
    }
    return CT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CT_ERR_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
        printf("cltrain %s\n", CLTRAIN_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "devices")) return cmd_devices(argc, argv);
    if (!strcmp(cmd, "verify")) return cmd_verify(argc, argv);
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    fprintf(stderr, "cltrain: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CT_ERR_USAGE;
}
