/* layer_conv.c: conv2d (zero padding, optional bias) on channel-major data.
 * forward:  col = im2col(x); y(CO, N*P) = W(CO, CI*KH*KW) col + b
 * backward: dW = dy col^T; db = rowsum(dy); dcol = W^T dy; dx = col2im(dcol)
 * col (and dcol) use the panel layout of cl/conv.cl: panels of the GEMM tile width on CPUs
 * (tune.conv_panels), the plain (KK, NP) matrix elsewhere. Stride 1 with equal row/column
 * padding uses conv_im2col/conv_col2im; any other stride or padding the general
 * conv_im2col_s/conv_col2im_s (same layout, same GEMMs).
 * tune.conv_direct (CPUs): bit 1 = forward and dW without im2col (conv_pad + conv_direct_* +
 * conv_dyt/conv_dw_k*; col then holds the padded input), bit 0 = dx as the direct conv of the
 * padded dy with the flipped weights (replaces the dcol GEMM and col2im). Each path is taken only
 * for stride 1, square 3x3/5x5 (forward, dW) or square (dx) kernels with equal padding, and where
 * its scratch fits in col; else the im2col/GEMM path runs. With one input channel (first layers)
 * bit 1 takes conv_fwd1_k5/3 and conv_dw1_k5/3 instead (vectors along the output row, no conv_wt, no
 * conv_dyt, db in the same pass): DigitCNN's conv1 1->32 5x5, batch 64, CPU ms per step under
 * load (median of 3): im2col 1.8 + gemm_nn ~2.6 + gemm_nt ~6.6 + rowsum ~0.6 -> 2.6 + 1.9. */
#include "ops.h"

#include <stdio.h>

#define CSEG 32 /* columns per im2col work-item, as cl/conv.cl */
#define DW5_CB 4 /* as cl/conv.cl */
#define DYT_CB 8 /* as cl/conv.cl */
#define FWD1_CB 4 /* as cl/conv.cl */

void ct_conv_init(ct_conv *l, int ci, int co, int k, int pad, int h, int w, int w_off, int b_off)
{
    ct_conv_init2(l, ci, co, k, k, 1, 1, pad, pad, h, w, w_off, b_off);
}

static int conv_out(int in, int k, int s, int p) { return s > 0 && in + 2 * p >= k ? (in + 2 * p - k) / s + 1 : 0; }

void ct_conv_init2(ct_conv *l, int ci, int co, int kh, int kw, int sh, int sw, int ph, int pw, int h, int w,
                   int w_off, int b_off)
{
    l->ci = ci;
    l->co = co;
    l->kh = kh;
    l->kw = kw;
    l->sh = sh;
    l->sw = sw;
    l->ph = ph;
    l->pw = pw;
    l->pad = ph;
    l->h = h;
    l->w = w;
    l->oh = conv_out(h, kh, sh, ph);
    l->ow = conv_out(w, kw, sw, pw);
    l->w_off = w_off;
    l->b_off = b_off;
}

/* stride 1 and the same padding on both axes: the seed's im2col/col2im kernels */
static int unit_stride(const ct_conv *l) { return l->sh == 1 && l->sw == 1 && l->ph == l->pw; }

size_t ct_conv_col_floats(const ct_conv *l, int N)
{
    const size_t im2col = (size_t)l->ci * l->kh * l->kw * (size_t)N * l->oh * l->ow, s = ct_convs_ws_floats(l, N);
    return s > im2col ? s : im2col;
}

/* panel width of col: the NN GEMM's tile width when panels are on (a multiple of CSEG), else NP */
static int panel_width(const ct_ctx *c, int NP)
{
    const int pw = c->tune.gemm_vw * c->tune.gemm_nv;
    if (!c->tune.conv_panels || pw % CSEG != 0 || pw >= NP) return NP;
    return pw;
}

static int align16(size_t n) { return (int)((n + 15) / 16 * 16); }

/* xp (offXp) = x (C, N, H, W) zero-padded by p on every side */
static int conv_pad(ct_ctx *c, cl_mem x, cl_mem xp, int offXp, int C, int N, int H, int W, int p)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", "conv_pad", &k));
    size_t g = (size_t)C * N; /* one work-item per plane */
    return ct_run(c, k, 1, &g, NULL, "mmiiiii", x, xp, offXp, C * N, H, W, p);
}

/* wt (offWt) = the conv weight in (A, KH, KW, B rounded up to 16) layout, see cl/conv.cl */
int ct_conv_wt(ct_ctx *c, const ct_conv *l, cl_mem params, cl_mem wt, int offWt, int flip)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", "conv_wt", &k));
    const int A = flip ? l->co : l->ci, B = flip ? l->ci : l->co;
    size_t g = (size_t)A * align16((size_t)B) / 16; /* one work-item per (a, 16 b's) */
    return ct_run(c, k, 1, &g, NULL, "mimiiiiii", params, l->w_off, wt, offWt, A, B, l->kh, l->kw, flip);
}

/* dyt (offDyt) = dy (CO, NP) transposed to (NP, CO rounded up to 16), see cl/conv.cl */
int ct_conv_dyt(ct_ctx *c, cl_mem dy, cl_mem dyt, int offDyt, int CO, int NP)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", "conv_dyt", &k));
    size_t g[2] = {(size_t)(NP + 15) / 16, (size_t)((CO + 15) / 16 + DYT_CB - 1) / DYT_CB};
    const size_t l1[2] = {1, 1};
    return ct_run(c, k, 2, g, l1, "mmiii", dy, dyt, offDyt, CO, NP);
}

/* the direct conv's tile for a KH x KW kernel with OH x OW outputs and CO output channels: TR
 * rows x TC columns x CB 16-channel blocks, *ck 1 for the compile-time-K kernels (conv_direct_kK_*).
 * Measured on POCL 3.1, AVX-512: 1 row x 7 columns x 32 channels beat 1x14x16 and 2x7x16 (fewer
 * loads per FMA) in the runtime-K kernels. 3x3 and 5x5 take the compile-time-K kernels (kw
 * unrolled): 1x14x1 where OW >= 14 (5x5 32->64 on 14x14: 7.3 ms against 8.5 for k5 1x7x2, and no
 * half-empty second block where CO = 16), else 1x7x2 (7x7 outputs), 2x7x1 where CO <= 16; 5x5 at
 * 1x14x1 runs in blocks of up to 14 rows per work-item (conv_direct_k5_r14x1, 8% faster).
 * tune.conv_tile 1|2|3 forces the runtime-K 1x14x1 / 2x7x1 / 1x1x1, 4|5|6 the compile-time-K
 * 1x14x1 / 1x7x2 / 2x7x1, where the output is large enough (benchmarks, verify). */
static void direct_tile(const ct_ctx *c, int KH, int KW, int OH, int OW, int CO, int *tr, int *tc, int *cb, int *ck)
{
    const int tile = c->tune.conv_tile, kk = KH == KW && (KH == 3 || KH == 5);
    *tr = 1, *tc = 1, *cb = 1, *ck = 0;
    if (tile == 1 && OW >= 14) {
        *tc = 14;
    } else if (tile == 2 && OW >= 7 && OH >= 2) {
        *tr = 2, *tc = 7;
    } else if (tile == 3) {
    } else if (kk && tile != 1 && tile != 2) {
        if ((tile == 0 || tile == 4) && OW >= 14)
            *tc = 14;
        else if ((tile == 6 || (tile == 0 && CO <= 16)) && OW >= 7 && OH >= 2)
            *tr = 2, *tc = 7;
        else if (OW >= 7)
            *tc = 7, *cb = 2;
        *ck = *tc > 1;
    } else if (OW >= 7) {
        *tc = 7, *cb = 2;
    }
}

/* A "same" 3x3 conv (stride 1, padding 1, more than one input channel) whose direct conv to OW
 * columns and CO channels takes a one-row compile-time-K tile reads its input unpadded
 * (tune.conv_direct bit 2: conv_direct_k3s_*, and conv_dw_k3s_* for the weight gradient), with
 * no conv_pad copy (ResNet-small's 16->16 on 28x28 at batch 64, pad + conv 3.04 -> 2.60 ms). */
static int direct_same(const ct_ctx *c, const ct_conv *l, int OH, int OW, int CO)
{
    if (!(c->tune.conv_direct & 4) || !unit_stride(l) || l->kh != 3 || l->kw != 3 || l->pad != 1 || l->ci < 2)
        return 0;
    int tr, tc, cb, ck;
    direct_tile(c, 3, 3, OH, OW, CO, &tr, &tc, &cb, &ck);
    return ck && tr == 1;
}

/* y (CO, N, HP-KH+1, WP-KW+1) = conv(xp (CI, N, HP, WP), wt) (+ bias); xp's first and last p
 * rows are zeros (the compile-time-K kernels skip the kernel rows that meet only those). same:
 * xp is the unpadded input (CI, N, HP-2p, WP-2p) of a "same" 3x3 conv (direct_same). acc: y += the
 * result (a gradient summed over several readers) instead of y = */
static int conv_direct(ct_ctx *c, cl_mem xp, int offXp, cl_mem wt, int offWt, cl_mem bias, int offBias, int hasBias,
                       cl_mem y, int N, int CI, int CO, int HP, int WP, int KH, int KW, int p, int same, int acc)
{
    const int OH = HP - KH + 1, OW = WP - KW + 1;
    int tr, tc, cb, ck;
    direct_tile(c, KH, KW, OH, OW, CO, &tr, &tc, &cb, &ck);
    char name[40];
    if (ck && KH == 5 && tr == 1 && tc == 14 && cb == 1 && c->tune.conv_tile == 0) {
        /* 5x5 on 14+ columns: blocks of up to 14 rows per work-item (conv_direct_k5_r14x1) */
        const int RB = OH < 14 ? OH : 14;
        cl_kernel k;
        CT_TRY(ct_kernel(c, "conv", "conv_direct_k5_r14x1", &k));
        size_t g[3] = {(size_t)N * ((OH + RB - 1) / RB), (size_t)(CO + 15) / 16, (size_t)((OW + 13) / 14)};
        const size_t l1[3] = {1, 1, 1};
        return ct_run(c, k, 3, g, l1, "mimimiimiiiiiiii", xp, offXp, wt, offWt, bias, offBias, hasBias, y, N, CI, CO,
                      HP, WP, p, RB, acc);
    }
    if (ck)
        snprintf(name, sizeof name, "conv_direct_k%d%s_%dx%dx%d", KH, same ? "s" : "", tr, tc, cb);
    else
        snprintf(name, sizeof name, "conv_direct_%dx%dx%d", tr, tc, cb);
    cl_kernel k;
    CT_TRY(ct_kernel(c, "conv", name, &k));
    size_t g[3] = {(size_t)(CO + 16 * cb - 1) / (16 * cb), (size_t)N * ((OH + tr - 1) / tr), (size_t)((OW + tc - 1) / tc)};
    if (ck) { /* conv_direct_kK_*: image rows along dimension 0 (consecutive items share weights) */
        const size_t t0 = g[0];
        g[0] = g[1];
        g[1] = t0;
    }
    const size_t l1[3] = {1, 1, 1};
    return ct_run(c, k, 3, g, l1, "mimimiimiiiiiiiii", xp, offXp, wt, offWt, bias, offBias, hasBias, y, N, CI, CO,
                  HP, WP, KH, KW, p, acc);
}

/* Image blocks of the direct weight gradient (conv_dw_k*): a block's work-items read only their
 * images' slice of dyT, and consecutive items (input channels) share it, so both cores take it from
 * cache instead of each streaming the whole batch's dyT once per input channel. The blocks'
 * partial dW go to col at partOff (after dyT) and colsum adds them in block order
 * (deterministic). Returns the block count (1: dW written directly), *ib the images per block. */
static int dw_blocks(const ct_ctx *c, const ct_conv *l, int N, int cb, size_t partOff, int *ib)
{
    const size_t slice = (size_t)l->oh * l->ow * 16 * cb * sizeof(float), S = (size_t)l->co * l->ci * l->kh * l->kw;
    const size_t target = c->tune.dw_block_kb > 0 ? (size_t)c->tune.dw_block_kb * 1024 : 0;
    size_t nb = target ? (N * slice + target - 1) / target : 1;
    const size_t cap = ct_conv_col_floats(l, N), room = partOff < cap ? cap - partOff : 0;
    if (nb > (size_t)N) nb = (size_t)N;
    if (nb * S > room) nb = room / S;
    if (partOff + nb * S >= (size_t)1 << 31) nb = 1;
    *ib = N;
    if (nb < 2) return 1;
    *ib = (int)((N + nb - 1) / nb);
    return (N + *ib - 1) / *ib;
}

int ct_conv_dw_launch(ct_ctx *c, const ct_conv *l, int N, cl_kernel k, int cb, cl_mem xp, cl_mem col, size_t xps,
                      int p, cl_mem grads)
{
    const size_t partOff = (size_t)align16(xps + (size_t)N * l->oh * l->ow * align16((size_t)l->co));
    const int S = l->co * l->ci * l->kh * l->kw;
    int ib;
    const int nb = dw_blocks(c, l, N, cb, partOff, &ib);
    size_t g[3] = {(size_t)l->ci, (size_t)(l->co + 16 * cb - 1) / (16 * cb), (size_t)nb};
    const size_t l1[3] = {1, 1, 1};
    CT_TRY(ct_run(c, k, 3, g, l1, "mimimiiiiiiiii", xp, 0, col, (int)xps, nb > 1 ? col : grads,
                  nb > 1 ? (int)partOff : l->w_off, N, l->ci, l->co, l->h + 2 * l->ph, l->w + 2 * l->pw, p, ib,
                  nb > 1 ? S : 0));
    return nb > 1 ? ct_colsum(c, nb, S, col, (int)partOff, grads, l->w_off) : CT_OK;
}

/* Forward + weight gradient without im2col (tune.conv_direct bit 1): the forward keeps the padded
 * input in col (at 0, xps floats) for the backward's conv_dw; 3x3 and 5x5 kernels only. Returns
 * 1 when the layer takes that path (the same answer in forward and backward). */
static int direct_fwd(const ct_ctx *c, const ct_conv *l, int N, size_t *xps)
{
    if (!(c->tune.conv_direct & 2) || !unit_stride(l) || l->kh != l->kw || (l->kh != 3 && l->kh != 5) ||
        l->pad > l->kh - 1)
        return 0;
    const int HP = l->h + 2 * l->pad, WP = l->w + 2 * l->pad;
    if (HP - l->kh + 1 != l->oh || WP - l->kw + 1 != l->ow) return 0;
    /* the padded input's room in col, none where the kernels read x as it is */
    *xps = direct_same(c, l, l->oh, l->ow, l->co) ? 0 : (size_t)align16((size_t)l->ci * N * HP * WP);
    const size_t cop = (size_t)align16((size_t)l->co), wts = (size_t)l->ci * l->kh * l->kw * cop;
    /* one input channel: conv_dw1_k* reads dy as it is (no dyT); they may read 31 floats past xp,
     * which the forward zeroes (wts >= 144 floats leaves room) */
    const size_t dyts = l->ci == 1 ? 0 : (size_t)N * l->oh * l->ow * cop, more = wts > dyts ? wts : dyts;
    return *xps + more <= ct_conv_col_floats(l, N) && *xps + more < (size_t)1 << 31;
}

/* dx without col2im (tune.conv_direct bit 0): fits when the padded dy and the flipped weights fit
 * in col; *dyp = the padded dy's size */
static int direct_dx(const ct_ctx *c, const ct_conv *l, int N, size_t *dyp)
{
    if (!(c->tune.conv_direct & 1) || !unit_stride(l) || l->kh != l->kw) return 0;
    const int ph = l->kh - 1 - l->pad, HP = l->oh + 2 * ph, WP = l->ow + 2 * ph;
    *dyp = direct_same(c, l, l->h, l->w, l->ci) ? 0 : (size_t)align16((size_t)l->co * N * HP * WP);
    const size_t wts = (size_t)l->co * l->kh * l->kw * align16((size_t)l->ci);
    return ph >= 0 && HP - l->kh + 1 == l->h && WP - l->kw + 1 == l->w && *dyp + wts <= ct_conv_col_floats(l, N) &&
           *dyp + wts < (size_t)1 << 31;
}

const char *ct_conv_path(const ct_ctx *c, const ct_conv *l, int N, int backward)
{
    size_t s;
    const int NP = N * l->oh * l->ow, panels = panel_width(c, NP) < NP;
    if (backward != 1 && direct_fwd(c, l, N, &s))
        return backward ? (s ? "direct dW" : "direct dW, unpadded") : (s ? "direct" : "direct, unpadded");
    if (backward == 1 && direct_dx(c, l, N, &s)) return s ? "direct dx" : "direct dx, unpadded";
    if (backward != 1 && ct_convs_fwd_applies(c, l, N)) return backward ? "strided direct dW" : "strided direct";
    if (backward == 1 && ct_convs_dx_applies(c, l, N)) return "strided polyphase dx";
    if (unit_stride(l)) return panels ? "im2col+panel gemm" : "im2col+gemm";
    return panels ? "strided im2col+panel gemm" : "strided im2col+gemm";
}

static int valid(const ct_conv *l)
{
    if (l->ci < 1 || l->co < 1 || l->kh < 1 || l->kw < 1 || l->sh < 1 || l->sw < 1 || l->ph < 0 || l->pw < 0 ||
        l->oh < 1 || l->ow < 1)
        return ct_fail(CT_ERR_RUNTIME,
                       "conv2d %d->%d kernel %dx%d stride %dx%d padding %dx%d on %dx%d gives no output; check the "
                       "layer's shape",
                       l->ci, l->co, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw, l->h, l->w);
    return CT_OK;
}

int ct_conv_forward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem params, cl_mem col, cl_mem y)
{
    CT_TRY(valid(l));
    const int hasBias = l->b_off >= 0;
    size_t xps;
    if (direct_fwd(c, l, N, &xps)) {
        const int HP = l->h + 2 * l->pad, WP = l->w + 2 * l->pad, same = xps == 0;
        if (!same) CT_TRY(conv_pad(c, x, col, 0, l->ci, N, l->h, l->w, l->pad));
        if (l->ci == 1) {
            /* one input channel: rows of 16 output columns per vector, the weights as they are.
             * conv_fwd1/conv_dw1 read up to 31 floats past xp: zero them, since a NaN or Inf left
             * there by an earlier use of col times a masked (zero) dy lane would poison dW */
            const size_t used = (size_t)N * HP * WP * sizeof(float);
            CT_TRY(ct_buffer_fill_zero(c, col, used, 32 * sizeof(float)));
            cl_kernel k;
            CT_TRY(ct_kernel(c, "conv", l->kh == 5 ? "conv_fwd1_k5" : "conv_fwd1_k3", &k));
            size_t g[2] = {(size_t)(l->co + FWD1_CB - 1) / FWD1_CB, (size_t)N * ((l->oh + 1) / 2)};
            const size_t l1[2] = {1, 1};
            return ct_run(c, k, 2, g, l1, "mimimiimiiii", col, 0, params, l->w_off, params, hasBias ? l->b_off : 0,
                          hasBias, y, N, l->co, HP, WP);
        }
        CT_TRY(ct_conv_wt(c, l, params, col, (int)xps, 0));
        return conv_direct(c, same ? x : col, 0, col, (int)xps, params, hasBias ? l->b_off : 0, hasBias, y, N, l->ci,
                           l->co, HP, WP, l->kh, l->kw, l->pad, same, 0);
    }
    if (ct_convs_fwd_applies(c, l, N)) return ct_convs_forward(c, l, N, x, params, col, y);
    cl_kernel k;
    const int KK = l->ci * l->kh * l->kw, NP = N * l->oh * l->ow, pw = panel_width(c, NP);
    const int panels = pw < NP, segs = (NP + CSEG - 1) / CSEG;
    size_t g[2] = {(size_t)(panels ? KK : segs), (size_t)(panels ? segs : KK)};
    if (unit_stride(l)) {
        CT_TRY(ct_kernel(c, "conv", "conv_im2col", &k));
        CT_TRY(ct_run(c, k, 2, g, NULL, "mmiiiiiiiiiii", x, col, N, l->ci, l->h, l->w, l->kh, l->kw, l->pad, l->oh,
                      l->ow, pw, panels));
    } else {
        CT_TRY(ct_kernel(c, "conv", "conv_im2col_s", &k));
        CT_TRY(ct_run(c, k, 2, g, NULL, "mmiiiiiiiiiiiiii", x, col, N, l->ci, l->h, l->w, l->kh, l->kw, l->sh, l->sw,
                      l->ph, l->pw, l->oh, l->ow, pw, panels));
    }
    return ct_gemm_nn_ex(c, l->co, NP, KK, params, l->w_off, KK, 1, col, 0, NP, y, 0, NP, hasBias ? params : NULL,
                         hasBias ? l->b_off : 0, 0, pw, panels, 0);
}

int ct_conv_dx_adds(const ct_ctx *c, const ct_conv *l, int N)
{
    size_t s;
    return direct_dx(c, l, N, &s) || ct_convs_dx_applies(c, l, N);
}

int ct_conv_backward(ct_ctx *c, const ct_conv *l, int N, cl_mem x, cl_mem dy, cl_mem params, cl_mem col,
                     cl_mem grads, cl_mem dx, int acc)
{
    CT_TRY(valid(l));
    if (acc && !ct_conv_dx_adds(c, l, N))
        return ct_fail(CT_ERR_RUNTIME, "conv2d backward: this layer's input-gradient path cannot add to dx");
    const int KK = l->ci * l->kh * l->kw, NP = N * l->oh * l->ow, pw = panel_width(c, NP), panels = pw < NP;
    size_t xps;
    if (direct_fwd(c, l, N, &xps) && l->ci == 1) {
        /* one input channel: dW and db from the padded input in col and dy as it is */
        cl_kernel k;
        CT_TRY(ct_kernel(c, "conv", l->kh == 5 ? "conv_dw1_k5" : "conv_dw1_k3", &k));
        size_t g = (size_t)l->co;
        const size_t l1 = 1;
        const int hasBias = l->b_off >= 0;
        CT_TRY(ct_run(c, k, 1, &g, &l1, "mimmiiiiiii", col, 0, dy, grads, l->w_off, hasBias ? l->b_off : 0, hasBias,
                      N, l->co, l->h + 2 * l->pad, l->w + 2 * l->pad));
    } else if (direct_fwd(c, l, N, &xps)) {
        /* dW from the padded input the forward left in col and dy transposed to (NP, CO) */
        cl_kernel k;
        CT_TRY(ct_conv_dyt(c, dy, col, (int)xps, l->co, NP));
        /* 16-channel blocks per work-item (measured on POCL 3.1, AVX-512, under load): 3x3 takes
         * every tap in one pass, 32 channels per item where the blocks pair up (conv_dw_k3_c2 beat
         * the per-kh 64-channel kernel by 5-15% at 64 and 128 channels), else 16; 5x5 keeps the
         * per-kh pass with DW5_CB blocks (25 taps x 16 channels in one pass lost 25%) where the
         * blocks divide, else all taps with 16 (no block computes channels it does not store) */
        const int blocks = (l->co + 15) / 16, same = xps == 0;
        int cb = 1;
        const char *name = l->kh == 5 ? "conv_dw_k5_c1" : same ? "conv_dw_k3s_c1" : "conv_dw_k3_c1";
        if (l->kh == 3 && blocks % 2 == 0) cb = 2, name = same ? "conv_dw_k3s_c2" : "conv_dw_k3_c2";
        if (l->kh == 5 && blocks % DW5_CB == 0) cb = DW5_CB, name = "conv_dw_k5";
        CT_TRY(ct_kernel(c, "conv", name, &k));
        CT_TRY(ct_conv_dw_launch(c, l, N, k, cb, same ? x : col, col, xps, l->pad, grads));
    } else if (ct_convs_fwd_applies(c, l, N)) {
        CT_TRY(ct_convs_dw(c, l, N, dy, col, grads));
    } else {
        /* dW (CO, KK) = dy (CO, NP) col(KK, NP)^T */
        CT_TRY(ct_gemm_nt_ex(c, l->co, KK, NP, dy, 0, NP, col, 0, NP, grads, l->w_off, KK, 0, panels ? pw : 0));
    }
    if (l->b_off >= 0 && !(l->ci == 1 && direct_fwd(c, l, N, &xps))) CT_TRY(ct_rowsum(c, l->co, NP, dy, grads, l->b_off));
    if (!dx) return CT_OK;
    size_t dyp;
    if (direct_dx(c, l, N, &dyp)) {
        /* dx = conv(dy padded by K-1-pad, flipped transposed W): dypad and the weights go into col */
        const int ph = l->kh - 1 - l->pad, HP = l->oh + 2 * ph, WP = l->ow + 2 * ph, same = dyp == 0;
        if (!same) CT_TRY(conv_pad(c, dy, col, 0, l->co, N, l->oh, l->ow, ph));
        CT_TRY(ct_conv_wt(c, l, params, col, (int)dyp, 1));
        return conv_direct(c, same ? dy : col, 0, col, (int)dyp, NULL, 0, 0, dx, N, l->co, l->ci, HP, WP, l->kh, l->kw,
                           ph, same, acc);
    }
    if (ct_convs_dx_applies(c, l, N)) return ct_convs_dx(c, l, N, dy, params, col, dx, acc);
    /* dcol (KK, NP) = W^T dy: op(A) = W^T has (m, k) at W[k*KK + m] */
    CT_TRY(ct_gemm_nn_ex(c, KK, NP, l->co, params, l->w_off, 1, KK, dy, 0, NP, col, 0, NP, NULL, 0, 0, pw, 0, panels));
    cl_kernel k;
    size_t g[2] = {(size_t)N * l->h, (size_t)l->ci};
    if (unit_stride(l)) {
        CT_TRY(ct_kernel(c, "conv", "conv_col2im", &k));
        return ct_run(c, k, 2, g, NULL, "mmiiiiiiiiii", col, dx, N, l->ci, l->h, l->w, l->kh, l->kw, l->pad, l->oh,
                      l->ow, pw);
    }
    CT_TRY(ct_kernel(c, "conv", "conv_col2im_s", &k));
    return ct_run(c, k, 2, g, NULL, "mmiiiiiiiiiiiii", col, dx, N, l->ci, l->h, l->w, l->kh, l->kw, l->sh, l->sw,
                  l->ph, l->pw, l->oh, l->ow, pw);
}
