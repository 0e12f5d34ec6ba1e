/* test_philox.c: Philox4x32-10 against the known-answer vectors published with Random123
 * (kat_vectors: philox4x32 10 rounds), on the host mirror (src/philox.h) and on the device
 * (cl/rng.cl, the code the dropout and augmentation kernels use). */
#include "clctx.h"
#include "common.h"
#include "embedded.h"
#include "philox.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* counter (4 words), key (2 words), expected output (4 words) */
static const uint32_t KAT[][10] = {
    {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
    {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu,
     0xa20bc7c6u, 0x6d5451fdu},
    {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu,
     0x5001e420u, 0x24126ea1u},
};
#define NKAT (sizeof KAT / sizeof KAT[0])

static void test_host(void)
{
    for (size_t i = 0; i < NKAT; i++) {
        uint32_t ctr[4] = {KAT[i][0], KAT[i][1], KAT[i][2], KAT[i][3]}, key[2] = {KAT[i][4], KAT[i][5]};
        ct_philox4x32_10(ctr, key);
        TU_CHECK(!memcmp(ctr, &KAT[i][6], sizeof ctr), "host vector %zu: %08x %08x %08x %08x", i, ctr[0], ctr[1],
                 ctr[2], ctr[3]);
    }
}

static const char *embedded(const char *name)
{
    for (const ct_embedded_source *s = ct_embedded_sources; s->name; s++)
        if (!strcmp(s->name, name)) return s->source;
    return NULL;
}

static const char *KERNEL = "\n__kernel void philox_kat(__global const uint *in, __global uint *out)\n"
                            "{\n"
                            "    const size_t i = get_global_id(0);\n"
                            "    uint4 r = ct_philox4x32_10((uint4)(in[6 * i], in[6 * i + 1], in[6 * i + 2], "
                            "in[6 * i + 3]), (uint2)(in[6 * i + 4], in[6 * i + 5]));\n"
                            "    vstore4(r, i, out);\n"
                            "}\n";

static void test_device(void)
{
    ct_ctx *c = NULL;
    int rc = ct_ctx_create(NULL, 0, &c);
    TU_CHECK(rc == CT_OK, "OpenCL device: %s", ct_last_error());
    if (rc) return;
    const char *rng = embedded("rng");
    TU_CHECK(rng != NULL, "cl/rng.cl is embedded");
    if (!rng) {
        ct_ctx_free(c);
        return;
    }
    const char *srcs[] = {rng, KERNEL};
    cl_int err;
    cl_program p = clCreateProgramWithSource(c->context, 2, srcs, NULL, &err);
    err = p ? clBuildProgram(p, 1, &c->dev.device, "", NULL, NULL) : err;
    TU_CHECK(err == CL_SUCCESS, "build rng.cl + test kernel: %s", ct_cl_errstr(err));
    cl_kernel k = err == CL_SUCCESS ? clCreateKernel(p, "philox_kat", &err) : NULL;
    uint32_t in[NKAT * 6], out[NKAT * 4] = {0};
    for (size_t i = 0; i < NKAT; i++) memcpy(&in[6 * i], KAT[i], 6 * sizeof(uint32_t));
    cl_mem bi = clCreateBuffer(c->context, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, sizeof in, in, &err);
    cl_mem bo = clCreateBuffer(c->context, CL_MEM_WRITE_ONLY, sizeof out, NULL, &err);
    if (k && bi && bo) {
        size_t gws = NKAT;
        clSetKernelArg(k, 0, sizeof bi, &bi);
        clSetKernelArg(k, 1, sizeof bo, &bo);
        err = clEnqueueNDRangeKernel(c->queue, k, 1, NULL, &gws, NULL, 0, NULL, NULL);
        if (err == CL_SUCCESS) err = clEnqueueReadBuffer(c->queue, bo, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL);
        TU_CHECK(err == CL_SUCCESS, "run: %s", ct_cl_errstr(err));
        for (size_t i = 0; i < NKAT; i++)
            TU_CHECK(!memcmp(&out[4 * i], &KAT[i][6], 4 * sizeof(uint32_t)),
                     "device vector %zu: %08x %08x %08x %08x", i, out[4 * i], out[4 * i + 1], out[4 * i + 2],
                     out[4 * i + 3]);
    } else {
        TU_CHECK(0, "kernel and buffers: %s", ct_cl_errstr(err));
    }
    if (bi) clReleaseMemObject(bi);
    if (bo) clReleaseMemObject(bo);
    if (k) clReleaseKernel(k);
    if (p) clReleaseProgram(p);
    ct_ctx_free(c);
}

int main(void)
{
    test_host();
    test_device();
    return tu_finish();
}
