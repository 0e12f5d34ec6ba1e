/* augment.c: see augment.h and cl/augment.cl. */
#include "augment.h"

#include <math.h>

#include "philox.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

int ct_batch_prepare(ct_ctx *c, const ct_augment *a, int N, cl_mem src, cl_mem dst, uint64_t seed, unsigned step)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "augment", "batch_prepare", &k));
    size_t g = (size_t)N * 784;
    return ct_run(c, k, 1, &g, NULL, "mmiffiffffuuu", src, dst, N, (double)a->mean, 1.0 / a->std, a->enabled,
                  a->rotation_degrees * M_PI / 180.0, (double)a->translation * 28.0, (double)a->scale_min,
                  (double)a->scale_max, (unsigned)(seed & 0xffffffffu), (unsigned)(seed >> 32), step);
}

void ct_augment_ref(const ct_augment *a, int N, const uint8_t *src, float *dst, uint64_t seed, unsigned step)
{
    const float max_rad = (float)(a->rotation_degrees * M_PI / 180.0), max_shift = a->translation * 28.0f;
    const float inv_std = (float)(1.0 / a->std);
    for (int n = 0; n < N; n++) {
        uint32_t r[4] = {(uint32_t)n, 3u, step, 0u}, key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
        ct_philox4x32_10(r, key);
        const float ang = (2.0f * ct_u01(r[0]) - 1.0f) * max_rad;
        const float s = a->scale_min + (a->scale_max - a->scale_min) * ct_u01(r[1]);
        const float tx = (2.0f * ct_u01(r[2]) - 1.0f) * max_shift, ty = (2.0f * ct_u01(r[3]) - 1.0f) * max_shift;
        const float cs = cosf(ang), sn = sinf(ang);
        const uint8_t *img = src + (size_t)n * 784;
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) {
                float v;
                if (!a->enabled) {
                    v = img[y * 28 + x] * (1.0f / 255.0f);
                } else {
                    const float dx = (float)x - 13.5f - tx, dy = (float)y - 13.5f - ty;
                    const float xi = (cs * dx + sn * dy) / s + 13.5f, yi = (-sn * dx + cs * dy) / s + 13.5f;
                    const float fx0 = floorf(xi), fy0 = floorf(yi);
                    const int x0 = (int)fx0, y0 = (int)fy0;
                    const float ax = xi - fx0, ay = yi - fy0;
                    float acc = 0.0f;
                    for (int k = 0; k < 4; k++) {
                        const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                        const float w = ((k & 1) ? ax : 1.0f - ax) * ((k >> 1) ? ay : 1.0f - ay);
                        if (xx >= 0 && xx < 28 && yy >= 0 && yy < 28) acc += w * (float)img[yy * 28 + xx];
                    }
                    v = acc * (1.0f / 255.0f);
                }
                dst[(size_t)n * 784 + y * 28 + x] = (v - a->mean) * inv_std;
            }
    }
}
