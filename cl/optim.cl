/* optim.cl: optimizer updates over the pooled parameter buffer, one launch per step.
 *  adam_step: torch.optim.Adam with L2 weight decay added to the gradient (not AdamW):
 *      g = grad + wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 *      p -= step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps), step_size = lr / (1 - b1^t)
 *  sgd_step: torch.optim.SGD(momentum, weight_decay, dampening 0, no Nesterov):
 *      g = grad + wd*p; buf = mu*buf + g; p -= lr*buf (mu == 0: p -= lr*g) */

__kernel void adam_step(__global float *p, __global const float *grad, __global float *m, __global float *v,
                        const int n, const float step_size, const float b1, const float b2, const float eps,
                        const float wd, const float inv_sqrt_bc2)
{
    const int i = get_global_id(0);
    if ((i + 1) * EW_VW <= n) {
        EVEC pv = EVLOAD(i, p);
        EVEC g = mad((EVEC)(wd), pv, EVLOAD(i, grad));
        EVEC mv = mad((EVEC)(b1), EVLOAD(i, m), (1.0f - b1) * g);
        EVEC vv = mad((EVEC)(b2), EVLOAD(i, v), (1.0f - b2) * g * g);
        pv -= step_size * mv / (sqrt(vv) * inv_sqrt_bc2 + eps);
        EVSTORE(mv, i, m);
        EVSTORE(vv, i, v);
        EVSTORE(pv, i, p);
    } else {
        for (int j = i * EW_VW; j < n; j++) {
            float g = mad(wd, p[j], grad[j]);
            float mj = mad(b1, m[j], (1.0f - b1) * g);
            float vj = mad(b2, v[j], (1.0f - b2) * g * g);
            m[j] = mj;
            v[j] = vj;
            p[j] -= step_size * mj / (sqrt(vj) * inv_sqrt_bc2 + eps);
        }
    }
}

__kernel void sgd_step(__global float *p, __global const float *grad, __global float *buf, const int n,
                       const float lr, const float mu, const float wd)
{
    const int i = get_global_id(0);
    if ((i + 1) * EW_VW <= n) {
        EVEC pv = EVLOAD(i, p);
        EVEC g = mad((EVEC)(wd), pv, EVLOAD(i, grad));
        if (mu != 0.0f) {
            g = mad((EVEC)(mu), EVLOAD(i, buf), g);
            EVSTORE(g, i, buf);
        }
        EVSTORE(pv - lr * g, i, p);
    } else {
        for (int j = i * EW_VW; j < n; j++) {
            float g = mad(wd, p[j], grad[j]);
            if (mu != 0.0f) {
                g = mad(mu, buf[j], g);
                buf[j] = g;
            }
            p[j] -= lr * g;
        }
    }
}
