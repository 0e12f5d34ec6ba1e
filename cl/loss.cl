/* loss.cl: softmax cross-entropy (mean over the batch) with its gradient, accuracy counts,
 * softmax probabilities. One work-group of RED_LS items handles the whole batch, so the
 * running sums stay on the device and need no atomics.
 *  xent_fwd_bwd: logits (N, K), targets (N) -> batch_loss[0] = mean loss; dlogits (N, K) =
 *                (softmax - onehot) / norm when dlogits is given (norm = N when 0; a data-parallel
 *                run passes the global batch, so the ranks' gradients sum to its mean); sums[0] += N * mean loss,
 *                sums[1] += correct predictions (first maximum), sums[2] += N, when sums is given.
 *  softmax_fwd:  probs (N, K). */

__kernel void xent_fwd_bwd(__global const float *logits, __global const int *targets, __global float *dlogits,
                           const int N, const int K, __global float *batch_loss, __global float *sums,
                           const int norm)
{
    __local float scratch[RED_LS];
    const int l = get_local_id(0);
    float loss = 0.0f, correct = 0.0f;
    const float invN = 1.0f / (float)N, inv_norm = 1.0f / (float)(norm > 0 ? norm : N);
    for (int n = l; n < N; n += RED_LS) {
        __global const float *z = logits + (size_t)n * K;
        const int t = targets[n];
        float mx = z[0];
        int arg = 0;
        for (int k = 1; k < K && !isnan(mx); k++) /* first maximum; the first NaN counts as it (torch.argmax) */
            if (z[k] > mx || isnan(z[k])) { mx = z[k]; arg = k; }
        float se = 0.0f;
        for (int k = 0; k < K; k++) se += exp(z[k] - mx);
        const float lse = mx + log(se);
        loss += lse - z[t];
        correct += arg == t ? 1.0f : 0.0f;
        if (dlogits) {
            for (int k = 0; k < K; k++) {
                const float pk = exp(z[k] - lse);
                dlogits[(size_t)n * K + k] = (pk - (k == t ? 1.0f : 0.0f)) * inv_norm;
            }
        }
    }
    loss = ct_group_sum(loss, scratch);
    correct = ct_group_sum(correct, scratch);
    if (l == 0) {
        batch_loss[0] = loss * invN;
        if (sums) {
            sums[0] += loss;
            sums[1] += correct;
            sums[2] += (float)N;
        }
    }
}

__kernel void softmax_fwd(__global const float *logits, __global float *probs, const int N, const int K)
{
    const int n = get_global_id(0);
    if (n >= N) return;
    __global const float *z = logits + (size_t)n * K;
    float mx = z[0];
    for (int k = 1; k < K; k++) mx = fmax(mx, z[k]);
    float se = 0.0f;
    for (int k = 0; k < K; k++) se += exp(z[k] - mx);
    for (int k = 0; k < K; k++) probs[(size_t)n * K + k] = exp(z[k] - mx) / se;
}
