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

static void usage(FILE *f)
{
    fprintf(f,
            "cltrain %s: train convolutional networks on any OpenCL device\n\n"
            "usage: cltrain COMMAND [options]\n\n"
            "commands:\n"
            "  devices [--json]            list every OpenCL platform and device\n"
            "  verify [--device SEL]       check every kernel on a device against the C reference\n"
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
    fprintf(stderr, "cltrain: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CT_ERR_USAGE;
}
