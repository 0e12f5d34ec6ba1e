/* layer_pool.c: max and average pooling (see cl/pool.cl). The general entry points take any
 * kernel/stride/padding and pick the vectorised 2x2 stride-2 kernels for that shape; adaptive
 * average pooling comes fused with flatten (DigitCNN's head) or keeping the layout. */
#include "ops.h"

#define AVG_PB 16 /* planes per work-item of avgpool_fwd/bwd, as cl/pool.cl */

static int pool_out(int in, int k, int s, int p) { return s > 0 ? (in + 2 * p - k) / s + 1 : 0; }

void ct_pool2d_init(ct_pool2d *p, int kh, int kw, int sh, int sw, int ph, int pw, int h, int w,
                    int count_include_pad)
{
    p->kh = kh;
    p->kw = kw;
    p->sh = sh;
    p->sw = sw;
    p->ph = ph;
    p->pw = pw;
    p->h = h;
    p->w = w;
    p->oh = pool_out(h, kh, sh, ph);
    p->ow = pool_out(w, kw, sw, pw);
    p->count_include_pad = count_include_pad;
}

/* the 2x2 stride-2 unpadded window of the vectorised kernels */
static int is_2x2(const ct_pool2d *p)
{
    return p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0;
}

static int valid(const ct_pool2d *p, const char *what)
{
    if (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->ph < 0 || p->pw < 0 || 2 * p->ph > p->kh ||
        2 * p->pw > p->kw || p->oh < 1 || p->ow < 1)
        return ct_fail(CT_ERR_RUNTIME,
                       "%s: kernel %dx%d stride %dx%d padding %dx%d on %dx%d is not a valid pooling (padding must be "
                       "at most half the kernel, output at least 1x1)",
                       what, p->kh, p->kw, p->sh, p->sw, p->ph, p->pw, p->h, p->w);
    return CT_OK;
}

int ct_maxpool2_forward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool2_fwd", &k));
    size_t g = (size_t)planes * (size_t)(H / 2); /* one work-item per output row */
    if (g == 0) return CT_OK;
    return ct_run(c, k, 1, &g, NULL, "mmiii", x, y, planes, H, W);
}

int ct_maxpool2_backward(ct_ctx *c, int planes, int H, int W, cl_mem x, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool2_bwd", &k));
    size_t g = (size_t)planes * (size_t)((H + 1) / 2); /* one work-item per pair of input rows */
    return ct_run(c, k, 1, &g, NULL, "mmmiii", x, dy, dx, planes, H, W);
}

int ct_maxpool_forward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem y)
{
    CT_TRY(valid(p, "maxpool2d"));
    if (is_2x2(p)) return ct_maxpool2_forward(c, planes, p->h, p->w, x, y);
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool_fwd", &k));
    size_t g = (size_t)planes * p->oh * p->ow;
    return ct_run(c, k, 1, &g, NULL, "mmiiiiiiiiiii", x, y, planes, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh,
                  p->sw, p->ph, p->pw);
}

int ct_maxpool_backward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem dy, cl_mem dx)
{
    CT_TRY(valid(p, "maxpool2d"));
    if (is_2x2(p)) return ct_maxpool2_backward(c, planes, p->h, p->w, x, dy, dx);
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "maxpool_bwd", &k));
    size_t g = (size_t)planes;
    return ct_run(c, k, 1, &g, NULL, "mmmiiiiiiiiiii", x, dy, dx, planes, p->h, p->w, p->oh, p->ow, p->kh, p->kw,
                  p->sh, p->sw, p->ph, p->pw);
}

int ct_avgpool2d_forward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem x, cl_mem y)
{
    CT_TRY(valid(p, "avgpool2d"));
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool2d_fwd", &k));
    size_t g = (size_t)planes * p->oh * p->ow;
    return ct_run(c, k, 1, &g, NULL, "mmiiiiiiiiiiii", x, y, planes, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh,
                  p->sw, p->ph, p->pw, p->count_include_pad ? 1 : 0);
}

int ct_avgpool2d_backward(ct_ctx *c, const ct_pool2d *p, int planes, cl_mem dy, cl_mem dx)
{
    CT_TRY(valid(p, "avgpool2d"));
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool2d_bwd", &k));
    size_t g = (size_t)planes;
    return ct_run(c, k, 1, &g, NULL, "mmiiiiiiiiiiii", dy, dx, planes, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->sh,
                  p->sw, p->ph, p->pw, p->count_include_pad ? 1 : 0);
}

int ct_avgpool_forward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool_fwd", &k));
    size_t g = ((size_t)N * C + AVG_PB - 1) / AVG_PB; /* one work-item per AVG_PB planes */
    return ct_run(c, k, 1, &g, NULL, "mmiiiiii", x, y, C, N, H, W, OH, OW);
}

int ct_avgpool_backward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "avgpool_bwd", &k));
    size_t g = ((size_t)C * N + AVG_PB - 1) / AVG_PB; /* one work-item per AVG_PB planes */
    return ct_run(c, k, 1, &g, NULL, "mmiiiiii", dy, dx, C, N, H, W, OH, OW);
}

int ct_adaptive_avgpool_forward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem x, cl_mem y)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "adaptive_avgpool_fwd", &k));
    size_t g = (size_t)C * N * OH * OW;
    if (g == 0) return CT_OK;
    return ct_run(c, k, 1, &g, NULL, "mmiiiii", x, y, C * N, H, W, OH, OW);
}

int ct_adaptive_avgpool_backward(ct_ctx *c, int C, int N, int H, int W, int OH, int OW, cl_mem dy, cl_mem dx)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "pool", "adaptive_avgpool_bwd", &k));
    size_t g = (size_t)C * N;
    if (g == 0) return CT_OK;
    return ct_run(c, k, 1, &g, NULL, "mmiiiii", dy, dx, C * N, H, W, OH, OW);
}
