/* augment.c: see augment.h and cl/augment.cl. */
#include "augment.h"

#include <math.h>

#include "philox.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void ct_augment_set_shape(ct_augment *a, int c, int h, int w, const float *mean, const float *std)
{
    a->c = c;
    a->h = h;
    a->w = w;
    for (int k = 0; k < CT_AUGMENT_MAX_CHANNELS; k++) {
        a->mean_c[k] = k < c ? mean[k] : 0.0f;
        a->std_c[k] = k < c ? std[k] : 1.0f;
    }
}

/* The effective shape and per-channel normalisation (mean, 1/std). */
static void shape_of(const ct_augment *a, int *C, int *H, int *W, float mean[4], float inv_std[4])
{
    *C = a->c > 0 ? a->c : 1;
    *H = a->c > 0 ? a->h : 28;
    *W = a->c > 0 ? a->w : 28;
    for (int k = 0; k < 4; k++) {
        mean[k] = a->c > 0 ? a->mean_c[k] : a->mean;
        inv_std[k] = (float)(1.0 / (a->c > 0 ? a->std_c[k] : a->std));
    }
}

int ct_batch_prepare(ct_ctx *c, const ct_augment *a, int N, cl_mem src, cl_mem dst, uint64_t seed, unsigned step)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "augment", "batch_prepare", &k));
    int C, H, W;
    float m[4], is[4];
    shape_of(a, &C, &H, &W, m, is);
    size_t g[2] = {(size_t)C * H * W, (size_t)N};
    return ct_run(c, k, 2, g, NULL, "mmiiiiffffffffiifffffuuuu", src, dst, N, C, H, W, (double)m[0], (double)m[1],
                  (double)m[2], (double)m[3], (double)is[0], (double)is[1], (double)is[2], (double)is[3], a->enabled,
                  a->hflip,
                  a->rotation_degrees * M_PI / 180.0, (double)a->translation * W, (double)a->translation * H,
                  (double)a->scale_min, (double)a->scale_max, (unsigned)(seed & 0xffffffffu), (unsigned)(seed >> 32),
                  step, a->index_base);
}

void ct_augment_ref(const ct_augment *a, int N, const uint8_t *src, float *dst, uint64_t seed, unsigned step)
{
    int C, H, W;
    float mean[4], inv_std[4];
    shape_of(a, &C, &H, &W, mean, inv_std);
    const size_t HW = (size_t)H * W;
    const float max_rad = (float)(a->rotation_degrees * M_PI / 180.0);
    const float max_sx = (float)((double)a->translation * W), max_sy = (float)((double)a->translation * H);
    const float cx = 0.5f * (float)(W - 1), cy = 0.5f * (float)(H - 1);
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int n = 0; n < N; n++) {
        uint32_t r[4] = {(uint32_t)n + a->index_base, 3u, step, 0u}, rf[4] = {(uint32_t)n + a->index_base, 4u, step, 0u};
        ct_philox4x32_10(r, key);
        ct_philox4x32_10(rf, key);
        const float ang = (2.0f * ct_u01(r[0]) - 1.0f) * max_rad;
        const float s = a->scale_min + (a->scale_max - a->scale_min) * ct_u01(r[1]);
        const float tx = (2.0f * ct_u01(r[2]) - 1.0f) * max_sx, ty = (2.0f * ct_u01(r[3]) - 1.0f) * max_sy;
        const int flip = a->hflip && ct_u01(rf[0]) < 0.5f;
        const float cs = cosf(ang), sn = sinf(ang);
        for (int c = 0; c < C; c++) {
            const uint8_t *img = src + ((size_t)n * C + c) * HW;
            float *out = dst + ((size_t)c * N + n) * HW;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    float v;
                    if (!a->enabled) {
                        v = img[(size_t)y * W + x] * (1.0f / 255.0f);
                    } else {
                        const float dx = (float)x - cx - tx, dy = (float)y - cy - ty;
                        float xi = (cs * dx + sn * dy) / s + cx;
                        const float yi = (-sn * dx + cs * dy) / s + cy;
                        if (flip) xi = (float)(W - 1) - xi;
                        const float fx0 = floorf(xi), fy0 = floorf(yi);
                        const int x0 = (int)fx0, y0 = (int)fy0;
                        const float ax = xi - fx0, ay = yi - fy0;
                        float acc = 0.0f;
                        for (int k = 0; k < 4; k++) {
                            const int xx = x0 + (k & 1), yy = y0 + (k >> 1);
                            const float w = ((k & 1) ? ax : 1.0f - ax) * ((k >> 1) ? ay : 1.0f - ay);
                            if (xx >= 0 && xx < W && yy >= 0 && yy < H) acc += w * (float)img[yy * W + xx];
                        }
                        v = acc * (1.0f / 255.0f);
                    }
                    out[(size_t)y * W + x] = (v - mean[c]) * inv_std[c];
                }
        }
    }
}
