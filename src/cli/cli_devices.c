/* cli_devices.c: `cltrain devices` and `cltrain verify`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "device.h"
#include "verify.h"

int cli_devices(int argc, char **argv)
{
    static const cli_command cmd = {"devices", "list every OpenCL platform and device", CLI_JSON, NULL, NULL, NULL};
    cli_opts o;
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    ct_device_info *devs;
    int n;
    int rc = ct_devices_list(&devs, &n);
    if (rc) return cli_die(rc);
    char *txt = ct_devices_format(devs, n, o.json);
    if (o.json) {
        printf("%s\n", txt ? txt : "[]");
    } else if (n == 0) {
        printf("no OpenCL device found: install a driver (Debian: apt-get install pocl-opencl-icd for the CPU)\n");
    } else {
        printf("%s", txt ? txt : "");
        const char *env = getenv("CLTRAIN_DEVICE");
        int b = ct_device_best(devs, n);
        if (env && *env)
            printf("default device: CLTRAIN_DEVICE=%s\n", env);
        else if (b >= 0)
            printf("default device: [%d] %s (the best: GPU, integrated GPU, accelerator, CPU; simulators last)\n",
                   devs[b].index, devs[b].name);
    }
    free(txt);
    free(devs);
    return n == 0 ? CT_ERR_RUNTIME : CT_OK;
}

int cli_verify(int argc, char **argv)
{
    static const cli_command cmd = {"verify", "check every kernel on a device against the C reference",
                                    CLI_DEVICE | CLI_JSON, NULL, NULL, NULL};
    cli_opts o;
    int prc = cli_parse(argc, argv, &cmd, &o);
    if (prc || o.help) return prc ? cli_die(prc) : 0;
    ct_ctx *c;
    int rc = ct_ctx_create(o.device, 0, &c);
    if (rc) return cli_die(rc);
    if (!o.json) {
        char desc[1024];
        ct_tune_describe(c, desc, sizeof desc);
        printf("verifying %s (%s, %s)\n%s\n", c->dev.name, c->dev.platform_name, c->dev.driver_version, desc);
    }
    double t0 = ct_now();
    ct_verify_result res;
    rc = ct_verify_run(c, o.json ? NULL : stdout, &res);
    double dt = ct_now() - t0;
    if (rc) {
        ct_ctx_free(c);
        return cli_die(rc);
    }
    if (o.json) {
        /* seconds rounded to 1/100 s, as this output has always been */
        json_t *j = json_pack("{s:o,s:i,s:i,s:o,s:o}", "device", ct_jstr(c->dev.name), "passed", res.pass, "failed",
                              res.fail, "seconds", ct_jreal(round(dt * 100) / 100), "build_seconds",
                              ct_jreal(round(c->build_seconds * 100) / 100));
        cli_print_json(j);
    } else {
        printf("%d passed, %d failed (%.1f s, of which %.1f s building kernels: %d from cache, %d compiled)\n",
               res.pass, res.fail, dt, c->build_seconds, c->cache_hits, c->cache_misses);
        printf("%s\n", res.fail ? "VERIFY FAILED: do not train on this device/driver" : "VERIFY PASSED");
    }
    ct_ctx_free(c);
    return res.fail ? CT_ERR_RUNTIME : CT_OK;
}
