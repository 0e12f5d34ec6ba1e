/* device.h: OpenCL platform/device discovery and the --device selector.
 * Works on OpenCL 1.2 devices; capabilities are queried, never matched against a vendor list. */
#ifndef CLTRAIN_DEVICE_H
#define CLTRAIN_DEVICE_H

#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

typedef enum { CT_DEV_GPU = 0, CT_DEV_IGPU = 1, CT_DEV_ACCEL = 2, CT_DEV_CPU = 3, CT_DEV_OTHER = 4 } ct_dev_kind;

typedef struct {
    int index;                     /* global index over all platforms */
    int platform_index, device_index;
    cl_platform_id platform;
    cl_device_id device;
    char platform_name[256], platform_version[256];
    char name[256], vendor[256], driver_version[128], device_version[128], c_version[128];
    ct_dev_kind kind;
    int unified_memory;            /* host-unified memory (integrated GPU or CPU) */
    unsigned compute_units, clock_mhz;
    unsigned long long global_mem, max_alloc, local_mem;
    size_t max_wg_size;
    int fp16, fp64;
    int simulator;                 /* a device simulator (Oclgrind): correct, not fast; ranked last */
} ct_device_info;

const char *ct_dev_kind_name(ct_dev_kind k); /* "GPU", "integrated GPU", ... */

/* All devices of all platforms. *devs is malloc'd (free it); *count may be 0. */
int ct_devices_list(ct_device_info **devs, int *count);

/* Picks a device: sel = global index, "P:D", a type (gpu, igpu, cpu, accelerator) or a
 * case-insensitive substring of platform/vendor/device name. sel NULL or "" -> the
 * CLTRAIN_DEVICE environment variable, else the best (GPU, integrated GPU, accelerator, CPU;
 * simulators after every real device, whatever type they report), announced on stderr with
 * the reason (ct_log; a simulator chosen that way is a warning even with -q).
 * No match: CT_ERR_USAGE with a message that lists the devices. */
int ct_device_select(const char *sel, ct_device_info *out);

/* Data-parallel runs: a type, name or best-device choice takes the k-th matching device
 * (wrapping around when fewer match; k = the node-local rank), in listing order. Default 0. */
void ct_device_set_nth(int k);

/* Index in devs of the best device by the rule above (-1 when n == 0); announces nothing. */
int ct_device_best(const ct_device_info *devs, int n);

/* Human-readable listing and a JSON array (malloc'd strings). */
char *ct_devices_format(const ct_device_info *devs, int count, int json);

#endif
