/* batchnorm.cl: BatchNorm2d on channel-major activations (C, M) with M = N*H*W, as PyTorch:
 * batch mean and biased variance normalise; running stats get the unbiased variance with
 * momentum; eval uses running stats. One work-group of RED_LS items per channel.
 *  bn_stats:      x -> save_mean, save_invstd (+ running stats update)
 *  bn_apply:      y = (x - mean) * invstd * gamma + beta, optional ReLU (train or eval)
 *  The fused ReLU is PyTorch's: y < 0 ? 0 : y forward, dy masked where the output is <= 0 (a NaN
 *  output passes dy, so NaN propagates as in torch.relu).
 *  bn_bwd_reduce: dgamma, dbeta (dy masked by ReLU output when relu_y is given)
 *  bn_bwd_dx:     dx = gamma*invstd/M * (M*dy - dbeta - xhat*dgamma)
 * The residual tail batchnorm2d -> add -> ReLU in one pass each way:
 *  bn_apply_add_relu: y = relu(bn(x) + o) (the sum rounded as the add layer's, then PyTorch's ReLU)
 *  bn_bwd_dx_add:     bn_bwd_dx with the ReLU mask, and the masked dy also written (acc = 0) or
 *                     added (acc = 1) to the other add input's gradient dout (NULL: none)
 *  bn_bwd_1p:         bn_bwd_reduce then bn_bwd_dx (relu_y, dout optional) by one work-group per
 *                     channel, the dx pass reading the channel back from cache (CPU profile); with
 *                     relu_x the fused ReLU's mask comes from x (bn_apply's arithmetic) instead of
 *                     relu_y
 *  bn_fwd_1p:         bn_stats then bn_apply / bn_apply_add_relu, one work-group per channel */

/* one channel's batch statistics (work-item l of RED_LS): save_mean/save_invstd[c], and the running
 * statistics when update_running; *invstd_out = the saved invstd (every item) */
inline float bn_stats_channel(__global const float *xc, const int M, const int c, __local float *scratch,
                              __global float *save_mean, __global float *save_invstd, __global float *state,
                              const int rm_off, const int rv_off, const float eps, const float momentum,
                              const int update_running, float *invstd_out)
{
    __global float *running_mean = state + rm_off;
    __global float *running_var = state + rv_off;
    const float mean = ct_group_sum_array(xc, M, scratch) / (float)M;
    /* second pass: squared deviations (numerically safer than E[x^2] - mean^2) */
    const int l = get_local_id(0);
    EVEC acc = (EVEC)(0.0f);
    const int nv = M / EW_VW;
    for (int i = l; i < nv; i += RED_LS) {
        EVEC d = EVLOAD(i, xc) - (EVEC)(mean);
        acc = mad(d, d, acc);
    }
    float ss = EW_HSUM(acc);
    for (int i = nv * EW_VW + l; i < M; i += RED_LS) {
        float d = xc[i] - mean;
        ss = mad(d, d, ss);
    }
    ss = ct_group_sum(ss, scratch);
    const float var = ss / (float)M, invstd = 1.0f / sqrt(var + eps);
    if (l == 0) {
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        if (update_running) {
            const float unbiased = M > 1 ? ss / (float)(M - 1) : var;
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unbiased;
        }
    }
    *invstd_out = invstd;
    return mean;
}

__kernel void bn_stats(__global const float *x, const int M, __global float *save_mean, __global float *save_invstd,
                       __global float *state, const int rm_off, const int rv_off, const float eps,
                       const float momentum, const int update_running)
{
    __local float scratch[RED_LS];
    const int c = get_group_id(0);
    float invstd;
    bn_stats_channel(x + (size_t)c * M, M, c, scratch, save_mean, save_invstd, state, rm_off, rv_off, eps, momentum,
                     update_running, &invstd);
}

/* bn_stats, then bn_apply (training: batch statistics) or, where o is given, bn_apply_add_relu,
 * by one work-group per channel: the apply pass reads the channel back from cache (CPU profile).
 * The same arithmetic as those kernels, value for value. */
__kernel void bn_fwd_1p(__global const float *x, __global const float *o, __global float *y, const int M,
                        __global float *save_mean, __global float *save_invstd, __global float *state,
                        const int rm_off, const int rv_off, const float eps, const float momentum,
                        __global const float *params, const int g_off, const int b_off, const int relu)
{
    __local float scratch[RED_LS];
    const int c = get_group_id(0), l = get_local_id(0);
    const size_t base = (size_t)c * M;
    __global const float *xc = x + base;
    __global const float *oc = o ? o + base : 0;
    __global float *yc = y + base;
    float invstd;
    const float mean = bn_stats_channel(xc, M, c, scratch, save_mean, save_invstd, state, rm_off, rv_off, eps,
                                        momentum, 1, &invstd);
    const float scale = invstd * params[g_off + c];
    const float shift = params[b_off + c] - mean * scale;
    const int nv = M / EW_VW;
    for (int i = l; i < nv; i += RED_LS) {
        EVEC v = mad(EVLOAD(i, xc), (EVEC)(scale), (EVEC)(shift));
        if (oc) v += EVLOAD(i, oc);
        if (relu || oc) v = select(v, (EVEC)(0.0f), isless(v, (EVEC)(0.0f))); /* NaN stays NaN */
        EVSTORE(v, i, yc);
    }
    for (int j = nv * EW_VW + l; j < M; j += RED_LS) {
        float v = mad(xc[j], scale, shift);
        if (oc) v += oc[j];
        yc[j] = (relu || oc) && v < 0.0f ? 0.0f : v;
    }
}

/* stats_are_var: 0 -> `stat` holds invstd (training); 1 -> it holds the running variance (eval). */
__kernel void bn_apply(__global const float *x, __global float *y, const int M, __global const float *mean_buf,
                       const int mean_off, __global const float *stat_buf, const int stat_off, const int stats_are_var,
                       const float eps, __global const float *params, const int g_off, const int b_off, const int relu)
{
    __global const float *mean = mean_buf + mean_off;
    __global const float *stat = stat_buf + stat_off;
    __global const float *gamma = params + g_off;
    __global const float *beta = params + b_off;
    const int i = get_global_id(0);
    const int c = get_global_id(1);
    const int nv = (M + EW_VW - 1) / EW_VW;
    if (i >= nv) return;
    const float invstd = stats_are_var ? 1.0f / sqrt(stat[c] + eps) : stat[c];
    const float scale = invstd * gamma[c];
    const float shift = beta[c] - mean[c] * scale;
    __global const float *xc = x + (size_t)c * M;
    __global float *yc = y + (size_t)c * M;
    if ((i + 1) * EW_VW <= M) {
        EVEC v = mad(EVLOAD(i, xc), (EVEC)(scale), (EVEC)(shift));
        if (relu) v = select(v, (EVEC)(0.0f), isless(v, (EVEC)(0.0f))); /* NaN stays NaN */
        EVSTORE(v, i, yc);
    } else {
        for (int j = i * EW_VW; j < M; j++) {
            float v = mad(xc[j], scale, shift);
            yc[j] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

__kernel void bn_apply_add_relu(__global const float *x, __global const float *o, __global float *y, const int M,
                                __global const float *mean_buf, const int mean_off, __global const float *stat_buf,
                                const int stat_off, const int stats_are_var, const float eps,
                                __global const float *params, const int g_off, const int b_off)
{
    const int i = get_global_id(0);
    const int c = get_global_id(1);
    const int nv = (M + EW_VW - 1) / EW_VW;
    if (i >= nv) return;
    const float st = stat_buf[stat_off + c];
    const float invstd = stats_are_var ? 1.0f / sqrt(st + eps) : st;
    const float scale = invstd * params[g_off + c];
    const float shift = params[b_off + c] - mean_buf[mean_off + c] * scale;
    const size_t base = (size_t)c * M;
    __global const float *xc = x + base;
    __global const float *oc = o + base;
    __global float *yc = y + base;
    if ((i + 1) * EW_VW <= M) {
        EVEC v = mad(EVLOAD(i, xc), (EVEC)(scale), (EVEC)(shift)) + EVLOAD(i, oc);
        EVSTORE(select(v, (EVEC)(0.0f), isless(v, (EVEC)(0.0f))), i, yc); /* NaN stays NaN */
    } else {
        for (int j = i * EW_VW; j < M; j++) {
            const float v = mad(xc[j], scale, shift) + oc[j];
            yc[j] = v < 0.0f ? 0.0f : v;
        }
    }
}

/* work-item l's share (every RED_LS-th vector, then every RED_LS-th tail float) of one channel's
 * sum of dy and of dy * (x - mean), dy masked where the fused ReLU's output relu_y is <= 0 */
inline void bn_dy_sums(__global const float *xc, __global const float *dyc, __global const float *ryc, const int M,
                       const float mu, const int l, const int rx, const float scale, const float shift, float *sum_dy,
                       float *sum_dyx)
{
    EVEC vdy = (EVEC)(0.0f), vdyx = (EVEC)(0.0f);
    const int nv = M / EW_VW;
    for (int i = l; i < nv; i += RED_LS) {
        EVEC g = EVLOAD(i, dyc);
        const EVEC xv = EVLOAD(i, xc);
        if (ryc) g = select(g, (EVEC)(0.0f), islessequal(EVLOAD(i, ryc), (EVEC)(0.0f)));
        if (rx) g = select(g, (EVEC)(0.0f), islessequal(mad(xv, (EVEC)(scale), (EVEC)(shift)), (EVEC)(0.0f)));
        vdy += g;
        vdyx = mad(g, xv - (EVEC)(mu), vdyx);
    }
    float sdy = EW_HSUM(vdy), sdyx = EW_HSUM(vdyx);
    for (int i = nv * EW_VW + l; i < M; i += RED_LS) {
        float g = dyc[i];
        if (ryc && ryc[i] <= 0.0f) g = 0.0f;
        if (rx && mad(xc[i], scale, shift) <= 0.0f) g = 0.0f;
        sdy += g;
        sdyx = mad(g, xc[i] - mu, sdyx);
    }
    *sum_dy = sdy;
    *sum_dyx = sdyx;
}

__kernel void bn_bwd_reduce(__global const float *x, __global const float *dy, __global const float *relu_y,
                            const int M, __global const float *mean, __global const float *invstd,
                            __global float *grads, const int dg_off, const int db_off)
{
    __global float *dgamma = grads + dg_off;
    __global float *dbeta = grads + db_off;
    __local float scratch[RED_LS];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const size_t base = (size_t)c * M;
    const float mu = mean[c];
    __global const float *xc = x + base;
    __global const float *dyc = dy + base;
    __global const float *ryc = relu_y ? relu_y + base : 0;
    float sdy, sdyx;
    bn_dy_sums(xc, dyc, ryc, M, mu, l, 0, 0.0f, 0.0f, &sdy, &sdyx);
    sdy = ct_group_sum(sdy, scratch);
    sdyx = ct_group_sum(sdyx, scratch);
    if (l == 0) {
        dbeta[c] = sdy;
        dgamma[c] = sdyx * invstd[c];
    }
}

__kernel void bn_bwd_dx(__global const float *x, __global const float *dy, __global const float *relu_y, const int M,
                        __global const float *mean, __global const float *invstd, __global const float *params,
                        const int g_off, __global const float *grads, const int dg_off, const int db_off,
                        __global float *dx)
{
    __global const float *gamma = params + g_off;
    __global const float *dgamma = grads + dg_off;
    __global const float *dbeta = grads + db_off;
    const int i = get_global_id(0); /* vector index: elements i*EW_VW .. */
    const int c = get_global_id(1);
    const int nv = (M + EW_VW - 1) / EW_VW;
    if (i >= nv) return;
    const size_t base = (size_t)c * M;
    const float is = invstd[c], mu = mean[c];
    const float k = gamma[c] * is / (float)M;
    const float fm = (float)M, db = dbeta[c], dg = dgamma[c];
    if ((i + 1) * EW_VW <= M) {
        EVEC g = EVLOAD(i, dy + base);
        if (relu_y) g = select(g, (EVEC)(0.0f), islessequal(EVLOAD(i, relu_y + base), (EVEC)(0.0f)));
        const EVEC xhat = (EVLOAD(i, x + base) - (EVEC)(mu)) * (EVEC)(is);
        EVSTORE((EVEC)(k) * ((EVEC)(fm) * g - (EVEC)(db) - xhat * (EVEC)(dg)), i, dx + base);
    } else {
        for (int j = i * EW_VW; j < M; j++) {
            const size_t at = base + j;
            float g = dy[at];
            if (relu_y && relu_y[at] <= 0.0f) g = 0.0f;
            const float xhat = (x[at] - mu) * is;
            dx[at] = k * (fm * g - db - xhat * dg);
        }
    }
}

__kernel void bn_bwd_dx_add(__global const float *x, __global const float *dy, __global const float *relu_y,
                            const int M, __global const float *mean, __global const float *invstd,
                            __global const float *params, const int g_off, __global const float *grads,
                            const int dg_off, const int db_off, __global float *dx, __global float *dout,
                            const int acc)
{
    const int i = get_global_id(0); /* vector index: elements i*EW_VW .. */
    const int c = get_global_id(1);
    const int nv = (M + EW_VW - 1) / EW_VW;
    if (i >= nv) return;
    const size_t base = (size_t)c * M;
    const float is = invstd[c], mu = mean[c];
    const float k = params[g_off + c] * is / (float)M;
    const float fm = (float)M, db = grads[db_off + c], dg = grads[dg_off + c];
    __global float *doc = dout ? dout + base : 0;
    if ((i + 1) * EW_VW <= M) {
        const EVEC g = select(EVLOAD(i, dy + base), (EVEC)(0.0f), islessequal(EVLOAD(i, relu_y + base), (EVEC)(0.0f)));
        const EVEC xhat = (EVLOAD(i, x + base) - (EVEC)(mu)) * (EVEC)(is);
        if (doc) EVSTORE(acc ? EVLOAD(i, doc) + g : g, i, doc);
        EVSTORE((EVEC)(k) * ((EVEC)(fm) * g - (EVEC)(db) - xhat * (EVEC)(dg)), i, dx + base);
    } else {
        for (int j = i * EW_VW; j < M; j++) {
            const size_t at = base + j;
            const float g = relu_y[at] <= 0.0f ? 0.0f : dy[at];
            const float xhat = (x[at] - mu) * is;
            if (doc) doc[j] = acc ? doc[j] + g : g;
            dx[at] = k * (fm * g - db - xhat * dg);
        }
    }
}

__kernel void bn_bwd_1p(__global const float *x, __global const float *dy, __global const float *relu_y,
                        const int M, __global const float *mean, __global const float *invstd,
                        __global const float *params, const int g_off, __global float *grads, const int dg_off,
                        const int db_off, __global float *dx, __global float *dout, const int acc,
                        const int beta_off, const int relu_x)
{
    __local float scratch[RED_LS];
    const int c = get_group_id(0);
    const int l = get_local_id(0);
    const size_t base = (size_t)c * M;
    const float mu = mean[c], is = invstd[c];
    /* relu_x: the fused ReLU's mask recomputed from x with bn_apply's arithmetic (relu_y unread) */
    const float scale = is * params[g_off + c], shift = relu_x ? params[beta_off + c] - mu * scale : 0.0f;
    __global const float *xc = x + base;
    __global const float *dyc = dy + base;
    __global const float *ryc = relu_y ? relu_y + base : 0;
    __global float *dxc = dx + base;
    __global float *doc = dout ? dout + base : 0;
    float sdy, sdyx;
    bn_dy_sums(xc, dyc, ryc, M, mu, l, relu_x, scale, shift, &sdy, &sdyx);
    const int nv = M / EW_VW;
    const float db = ct_group_sum(sdy, scratch);
    const float dg = ct_group_sum(sdyx, scratch) * is;
    if (l == 0) {
        grads[db_off + c] = db;
        grads[dg_off + c] = dg;
    }
    const float k = params[g_off + c] * is / (float)M, fm = (float)M;
    for (int i = l; i < nv; i += RED_LS) {
        EVEC g = EVLOAD(i, dyc);
        const EVEC xv = EVLOAD(i, xc);
        if (ryc) g = select(g, (EVEC)(0.0f), islessequal(EVLOAD(i, ryc), (EVEC)(0.0f)));
        if (relu_x) g = select(g, (EVEC)(0.0f), islessequal(mad(xv, (EVEC)(scale), (EVEC)(shift)), (EVEC)(0.0f)));
        const EVEC xhat = (xv - (EVEC)(mu)) * (EVEC)(is);
        if (doc) EVSTORE(acc ? EVLOAD(i, doc) + g : g, i, doc);
        EVSTORE((EVEC)(k) * ((EVEC)(fm) * g - (EVEC)(db) - xhat * (EVEC)(dg)), i, dxc);
    }
    for (int j = nv * EW_VW + l; j < M; j += RED_LS) {
        float g = dyc[j];
        if (ryc && ryc[j] <= 0.0f) g = 0.0f;
        if (relu_x && mad(xc[j], scale, shift) <= 0.0f) g = 0.0f;
        const float xhat = (xc[j] - mu) * is;
        if (doc) doc[j] = acc ? doc[j] + g : g;
        dxc[j] = k * (fm * g - db - xhat * dg);
    }
}

/* ---- BatchNorm1d on flat rows x (N, F): feature f's values are x[n*F + f] -------------------
 * The same formulas as above with M = N; one work-item per feature for the statistics and the
 * gradient sums (consecutive items read consecutive features), one per element otherwise. */
__kernel void bn1d_stats(__global const float *x, const int N, const int F, __global float *save_mean,
                         __global float *save_invstd, __global float *state, const int rm_off, const int rv_off,
                         const float eps, const float momentum, const int update_running)
{
    const int f = get_global_id(0);
    if (f >= F) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += x[(size_t)n * F + f];
    const float mean = s / (float)N;
    float ss = 0.0f;
    for (int n = 0; n < N; n++) {
        const float d = x[(size_t)n * F + f] - mean;
        ss = mad(d, d, ss);
    }
    const float var = ss / (float)N;
    save_mean[f] = mean;
    save_invstd[f] = 1.0f / sqrt(var + eps);
    if (update_running) {
        const float unbiased = N > 1 ? ss / (float)(N - 1) : var;
        state[rm_off + f] = (1.0f - momentum) * state[rm_off + f] + momentum * mean;
        state[rv_off + f] = (1.0f - momentum) * state[rv_off + f] + momentum * unbiased;
    }
}

__kernel void bn1d_apply(__global const float *x, __global float *y, const int N, const int F,
                         __global const float *mean_buf, const int mean_off, __global const float *stat_buf,
                         const int stat_off, const int stats_are_var, const float eps, __global const float *params,
                         const int g_off, const int b_off, const int relu)
{
    const int f = get_global_id(0), n = get_global_id(1);
    if (f >= F || n >= N) return;
    const float st = stat_buf[stat_off + f];
    const float invstd = stats_are_var ? 1.0f / sqrt(st + eps) : st;
    const float scale = invstd * params[g_off + f];
    const float shift = params[b_off + f] - mean_buf[mean_off + f] * scale;
    const size_t at = (size_t)n * F + f;
    const float v = mad(x[at], scale, shift);
    y[at] = relu && v < 0.0f ? 0.0f : v;
}

__kernel void bn1d_bwd_reduce(__global const float *x, __global const float *dy, __global const float *relu_y,
                              const int N, const int F, __global const float *mean, __global const float *invstd,
                              __global float *grads, const int dg_off, const int db_off)
{
    const int f = get_global_id(0);
    if (f >= F) return;
    const float mu = mean[f];
    float sdy = 0.0f, sdyx = 0.0f;
    for (int n = 0; n < N; n++) {
        const size_t at = (size_t)n * F + f;
        float g = dy[at];
        if (relu_y && relu_y[at] <= 0.0f) g = 0.0f;
        sdy += g;
        sdyx = mad(g, x[at] - mu, sdyx);
    }
    grads[db_off + f] = sdy;
    grads[dg_off + f] = sdyx * invstd[f];
}

__kernel void bn1d_bwd_dx(__global const float *x, __global const float *dy, __global const float *relu_y,
                          const int N, const int F, __global const float *mean, __global const float *invstd,
                          __global const float *params, const int g_off, __global const float *grads,
                          const int dg_off, const int db_off, __global float *dx)
{
    const int f = get_global_id(0), n = get_global_id(1);
    if (f >= F || n >= N) return;
    const size_t at = (size_t)n * F + f;
    const float is = invstd[f], fm = (float)N;
    float g = dy[at];
    if (relu_y && relu_y[at] <= 0.0f) g = 0.0f;
    const float xhat = (x[at] - mean[f]) * is;
    dx[at] = params[g_off + f] * is / fm * (fm * g - grads[db_off + f] - xhat * grads[dg_off + f]);
}
