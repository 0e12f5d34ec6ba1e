/* cli_devices.c: `cltrain devices`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clctx.h"
#include "device.h"

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
