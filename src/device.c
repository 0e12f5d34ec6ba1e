/* device.c: enumerate OpenCL devices, describe them, pick one from a --device selector. */
#define _POSIX_C_SOURCE 200809L
#include "device.h"

#include "io/jsonutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"

const char *ct_dev_kind_name(ct_dev_kind k)
{
    switch (k) {
    case CT_DEV_GPU: return "GPU";
    case CT_DEV_IGPU: return "integrated GPU";
    case CT_DEV_ACCEL: return "accelerator";
    case CT_DEV_CPU: return "CPU";
    default: return "other";
    }
}

static void dev_str(cl_device_id d, cl_device_info what, char *buf, size_t cap)
{
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = 0;
    buf[cap - 1] = 0;
    /* trim trailing spaces some drivers leave */
    size_t n = strlen(buf);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
}

static int strcasestr_simple(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (const char *h = hay; *h; h++)
        if (strncasecmp(h, needle, nl) == 0) return 1;
    return 0;
}

/* Simulators execute kernels in an interpreter to check them (Oclgrind reports itself as a GPU
 * with one compute unit). They are recognised by their platform or device name, "Oclgrind";
 * no capability query distinguishes them from a small real device. */
static int is_simulator(const ct_device_info *di)
{
    const char *names[] = {di->platform_name, di->name, di->vendor};
    for (int i = 0; i < 3; i++)
        if (strcasestr_simple(names[i], "oclgrind")) return 1;
    return 0;
}

static void describe(ct_device_info *di)
{
    cl_device_id d = di->device;
    dev_str(d, CL_DEVICE_NAME, di->name, sizeof di->name);
    dev_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
    dev_str(d, CL_DRIVER_VERSION, di->driver_version, sizeof di->driver_version);
    dev_str(d, CL_DEVICE_VERSION, di->device_version, sizeof di->device_version);
    dev_str(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
    cl_device_type t = 0;
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
    cl_bool unified = CL_FALSE;
    clGetDeviceInfo(d, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    di->unified_memory = unified == CL_TRUE;
    if (t & CL_DEVICE_TYPE_GPU)
        di->kind = di->unified_memory ? CT_DEV_IGPU : CT_DEV_GPU;
    else if (t & CL_DEVICE_TYPE_ACCELERATOR)
        di->kind = CT_DEV_ACCEL;
    else if (t & CL_DEVICE_TYPE_CPU)
        di->kind = CT_DEV_CPU;
    else
        di->kind = CT_DEV_OTHER;
    cl_uint u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
    di->compute_units = u;
    u = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL);
    di->clock_mhz = u;
    cl_ulong l = 0;
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof l, &l, NULL);
    di->global_mem = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof l, &l, NULL);
    di->max_alloc = l;
    l = 0;
    clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof l, &l, NULL);
    di->local_mem = l;
    size_t wg = 0;
    clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof wg, &wg, NULL);
    di->max_wg_size = wg;
    size_t extlen = 0;
    di->fp16 = di->fp64 = 0;
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &extlen) == CL_SUCCESS && extlen > 0) {
        char *ext = malloc(extlen + 1);
        if (ext && clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, extlen, ext, NULL) == CL_SUCCESS) {
            ext[extlen] = 0;
            di->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
            di->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
        }
        free(ext);
    }
}

int ct_devices_list(ct_device_info **devs, int *count)
{
    *devs = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || np == 0)
        return CT_OK; /* no platform: an empty list, the caller says what to install */
    if (err != CL_SUCCESS)
        return ct_fail(CT_ERR_RUNTIME, "clGetPlatformIDs failed (%d): is an OpenCL ICD installed?", err);
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return ct_fail(CT_ERR_NOMEM, "out of memory listing platforms");
    clGetPlatformIDs(np, plats, NULL);
    int cap = 16, n = 0;
    ct_device_info *out = calloc((size_t)cap, sizeof *out);
    if (!out) {
        free(plats);
        return ct_fail(CT_ERR_NOMEM, "out of memory listing devices");
    }
    for (cl_uint p = 0; p < np; p++) {
        char pname[256] = "", pver[256] = "";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
        pname[255] = pver[255] = 0;
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0) continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        if (!ids) continue;
        clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        for (cl_uint d = 0; d < nd; d++) {
            if (n == cap) {
                cap *= 2;
                ct_device_info *grown = realloc(out, (size_t)cap * sizeof *out);
                if (!grown) break;
                out = grown;
            }
            ct_device_info *di = &out[n];
            memset(di, 0, sizeof *di);
            di->index = n;
            di->platform_index = (int)p;
            di->device_index = (int)d;
            di->platform = plats[p];
            di->device = ids[d];
            snprintf(di->platform_name, sizeof di->platform_name, "%s", pname);
            snprintf(di->platform_version, sizeof di->platform_version, "%s", pver);
            describe(di);
            di->simulator = is_simulator(di);
            n++;
        }
        free(ids);
    }
    free(plats);
    *devs = out;
    *count = n;
    return CT_OK;
}

static int ci_contains(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    if (nl == 0) return 0;
    for (const char *h = hay; *h; h++)
        if (strncasecmp(h, needle, nl) == 0) return 1;
    return 0;
}

static int parse_uint(const char *s, int *out)
{
    if (!*s) return 0;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
        v = v * 10 + (*p - '0');
        if (v > 1000000) return 0;
    }
    *out = (int)v;
    return 1;
}

int ct_device_best(const ct_device_info *devs, int n)
{
    for (int sim = 0; sim < 2; sim++)
        for (int k = CT_DEV_GPU; k <= CT_DEV_OTHER; k++)
            for (int i = 0; i < n; i++)
                if ((int)devs[i].kind == k && devs[i].simulator == sim) return i;
    return n > 0 ? 0 : -1;
}

/* Says on stderr which device the "best device" rule chose and why. */
static void announce_best(const ct_device_info *devs, int n, int pick)
{
    const ct_device_info *d = &devs[pick];
    int sims = 0;
    for (int i = 0; i < n; i++) sims += devs[i].simulator;
    if (d->simulator) {
        fprintf(stderr,
                "cltrain: warning: no --device given and the only OpenCL device is the simulator '%s' (%s): it "
                "runs kernels in an interpreter, thousands of times slower than a CPU driver. Install a driver "
                "(e.g. pocl-opencl-icd) or pass --device explicitly\n",
                d->name, d->platform_name);
        return;
    }
    ct_log("cltrain: device [%d] %s (%s, %s) chosen as the best of %d (GPU, then integrated GPU, accelerator, "
           "CPU%s); --device, the config's device or CLTRAIN_DEVICE choose another\n",
           d->index, d->name, ct_dev_kind_name(d->kind), d->platform_name, n,
           sims ? "; simulators such as Oclgrind last" : "");
}

static int g_nth; /* ct_device_set_nth */

void ct_device_set_nth(int k) { g_nth = k > 0 ? k : 0; }

/* The g_nth-th (wrapping around) device of kind `want`, or whose name, vendor or platform
 * contains `sel`; -1 when none does. */
static int nth_match(const ct_device_info *devs, int n, int want, const char *sel)
{
    int count = 0;
    for (int pass = 0; pass < 2; pass++) {
        int seen = 0;
        for (int i = 0; i < n; i++) {
            int hit = sel ? ci_contains(devs[i].name, sel) || ci_contains(devs[i].vendor, sel) ||
                                ci_contains(devs[i].platform_name, sel)
                          : (int)devs[i].kind == want;
            if (hit && pass == 1 && seen++ == g_nth % count) return i;
            if (hit && pass == 0) count++;
        }
        if (count == 0) return -1;
    }
    return -1;
}

int ct_device_select(const char *sel, ct_device_info *out)
{
    const char *origin = "--device";
    if (!sel || !*sel) {
        sel = getenv("CLTRAIN_DEVICE");
        origin = "CLTRAIN_DEVICE";
        if (sel && !*sel) sel = NULL;
    }
    ct_device_info *devs;
    int n;
    int rc = ct_devices_list(&devs, &n);
    if (rc) return rc;
    if (n == 0) {
        free(devs);
        return ct_fail(CT_ERR_RUNTIME,
                       "no OpenCL device found. Install a driver: on Debian 'apt-get install pocl-opencl-icd' "
                       "for the CPU, or your GPU vendor's OpenCL ICD; 'clinfo -l' shows what is visible");
    }
    int pick = -1;
    if (!sel) {
        pick = ct_device_best(devs, n);
        if (g_nth && !devs[pick].simulator) pick = nth_match(devs, n, (int)devs[pick].kind, NULL);
        announce_best(devs, n, pick);
    } else {
        int a, b;
        const char *colon = strchr(sel, ':');
        if (parse_uint(sel, &a)) {
            if (a < n) pick = a;
        } else if (colon) {
            char left[32];
            size_t ll = (size_t)(colon - sel);
            if (ll < sizeof left) {
                memcpy(left, sel, ll);
                left[ll] = 0;
                if (parse_uint(left, &a) && parse_uint(colon + 1, &b))
                    for (int i = 0; i < n; i++)
                        if (devs[i].platform_index == a && devs[i].device_index == b) pick = i;
            }
        } else {
            int want = -1;
            if (!strcasecmp(sel, "gpu")) want = CT_DEV_GPU;
            else if (!strcasecmp(sel, "igpu")) want = CT_DEV_IGPU;
            else if (!strcasecmp(sel, "cpu")) want = CT_DEV_CPU;
            else if (!strcasecmp(sel, "accelerator") || !strcasecmp(sel, "accel")) want = CT_DEV_ACCEL;
            if (want >= 0) {
                pick = nth_match(devs, n, want, NULL);
                /* "gpu" also accepts an integrated GPU when there is no discrete one */
                if (pick < 0 && want == CT_DEV_GPU) pick = nth_match(devs, n, CT_DEV_IGPU, NULL);
            } else {
                pick = nth_match(devs, n, -1, sel);
            }
        }
    }
    if (pick < 0) {
        char *list = ct_devices_format(devs, n, 0);
        ct_fail(CT_ERR_USAGE,
                "%s '%s' matches no OpenCL device. Use a global index, P:D, a type (gpu, igpu, cpu, "
                "accelerator) or part of a name. Devices here:\n%s",
                origin, sel, list ? list : "");
        free(list);
        free(devs);
        return CT_ERR_USAGE;
    }
    *out = devs[pick];
    free(devs);
    return CT_OK;
}

static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
#include <stdarg.h>
static void appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    if (!*buf) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int w = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (w < 0) return;
        if (*len + (size_t)w < *cap) {
            *len += (size_t)w;
            return;
        }
        size_t ncap = (*cap + (size_t)w) * 2;
        char *g = realloc(*buf, ncap);
        if (!g) {
            free(*buf);
            *buf = NULL;
            return;
        }
        *buf = g;
        *cap = ncap;
    }
}

/* One device as a JSON object (field names are part of `devices --json`). */
static json_t *device_json(const ct_device_info *d)
{
    return json_pack("{s:i,s:i,s:i,s:o,s:o,s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:b,s:b,s:b,s:b,s:o}", "index",
                     d->index, "platform_index", d->platform_index, "device_index", d->device_index, "platform",
                     ct_jstr(d->platform_name), "name", ct_jstr(d->name), "vendor", ct_jstr(d->vendor), "type",
                     ct_dev_kind_name(d->kind), "compute_units", (json_int_t)d->compute_units, "clock_mhz",
                     (json_int_t)d->clock_mhz, "global_mem_bytes", (json_int_t)d->global_mem, "max_alloc_bytes",
                     (json_int_t)d->max_alloc, "local_mem_bytes", (json_int_t)d->local_mem, "max_work_group_size",
                     (json_int_t)d->max_wg_size, "opencl_c_version", ct_jstr(d->c_version), "device_version",
                     ct_jstr(d->device_version), "fp16", d->fp16, "fp64", d->fp64, "unified_memory",
                     d->unified_memory, "simulator", d->simulator, "driver_version", ct_jstr(d->driver_version));
}

char *ct_devices_format(const ct_device_info *devs, int count, int json)
{
    if (json) {
        json_t *a = json_array();
        for (int i = 0; a && i < count; i++)
            if (json_array_append_new(a, device_json(&devs[i]))) {
                json_decref(a);
                a = NULL;
            }
        char *out = NULL;
        ct_jdump_take(a, &out, NULL);
        return out;
    }
    size_t cap = 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[0] = 0;
    for (int i = 0; i < count; i++) {
        const ct_device_info *d = &devs[i];
        {
            appendf(&buf, &len, &cap,
                    "[%d] %d:%d  %s%s\n      platform: %s (%s)\n      vendor: %s   type: %s   compute units: %u   "
                    "clock: %u MHz\n      global memory: %.1f GiB   max allocation: %.1f GiB   local memory: %llu KiB"
                    "   max work-group: %zu\n      %s   fp16: %s   fp64: %s   driver: %s\n",
                    d->index, d->platform_index, d->device_index, d->name,
                    d->simulator ? "  (simulator: checks kernels, ranked last)" : "", d->platform_name, d->platform_version,
                    d->vendor, ct_dev_kind_name(d->kind), d->compute_units, d->clock_mhz,
                    d->global_mem / 1073741824.0, d->max_alloc / 1073741824.0, d->local_mem / 1024,
                    d->max_wg_size, d->c_version, d->fp16 ? "yes" : "no", d->fp64 ? "yes" : "no",
                    d->driver_version);
        }
    }
    return buf;
}
