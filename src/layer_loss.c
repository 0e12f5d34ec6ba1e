/* layer_loss.c: softmax cross-entropy with its gradient and on-device running sums. */
#include "ops.h"

int ct_xent(ct_ctx *c, int N, int K, cl_mem logits, cl_mem targets, cl_mem dlogits, cl_mem batch_loss, cl_mem sums)
{
    return ct_xent_norm(c, N, K, logits, targets, dlogits, batch_loss, sums, 0);
}

int ct_xent_norm(ct_ctx *c, int N, int K, cl_mem logits, cl_mem targets, cl_mem dlogits, cl_mem batch_loss,
                 cl_mem sums, int norm)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "loss", "xent_fwd_bwd", &k));
    size_t ls = (size_t)c->tune.red_ls, g = ls;
    return ct_run(c, k, 1, &g, &ls, "mmmiimmi", logits, targets, dlogits, N, K, batch_loss, sums, norm);
}

int ct_softmax(ct_ctx *c, int N, int K, cl_mem logits, cl_mem probs)
{
    cl_kernel k;
    CT_TRY(ct_kernel(c, "loss", "softmax_fwd", &k));
    size_t g = (size_t)N;
    return ct_run(c, k, 1, &g, NULL, "mmii", logits, probs, N, K);
}
