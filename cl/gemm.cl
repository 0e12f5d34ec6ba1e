/* gemm.cl: register-blocked matrix products for convolutions (and FC where chosen).
 *  gemm_nn: C(M,N) = op(A) B (+ bias[m]) (+ C if accumulate). op(A) element (m,k) is
 *           A[m*sam + k*sak], so one kernel serves A (sam=lda, sak=1) and A^T (sam=1, sak=lda).
 *           B is (K,N) row-major with stride ldb. A work-item owns a tile of TM rows x NV*VW
 *           columns held in TM*NV vector accumulators (explicit vectors are what makes CPU
 *           drivers fast; >= 8 independent accumulators hide the FMA latency). Tiles are walked
 *           with grid-stride loops, so any global size is correct: on CPUs the host launches one
 *           item per column panel and the item walks all row blocks while its B panel stays in
 *           cache; on GPUs one item per tile.
 *  gemm_nt: C(M,N) = A(M,K) B(N,K)^T (+ C if accumulate): dot products along K in NT_VW-wide
 *           vectors, NT_TM x NT_TN outputs per work-item (weight gradients, K = N*H*W is long).
 *           K is walked in chunks of kc; inside a chunk the item walks its row blocks (grid
 *           stride), so the A chunk stays in cache (CPUs: one item per column block, all rows,
 *           kc ~ a few thousand; GPUs: one item per tile, kc = K).
 * Does not: tile through local memory (a GPU variant belongs beside these). */
#ifndef TM
#define TM 8
#endif
#ifndef VW
#define VW 16
#endif
#ifndef NV /* vectors per row of a gemm_nn tile */
#if VW >= 16
#define NV 2
#else
#define NV 1
#endif
#endif
#ifndef NT_TM
#define NT_TM 4
#endif
#ifndef NT_TN
#define NT_TN 4
#endif
#ifndef NT_VW
#define NT_VW 16
#endif
#define VEC CT_CAT(float, VW)
#define VLOAD CT_CAT(vload, VW)
#define VSTORE CT_CAT(vstore, VW)
#define NVEC CT_CAT(float, NT_VW)
#define NVLOAD CT_CAT(vload, NT_VW)
#define NHSUM CT_CAT(ct_hsum, NT_VW)
#define NN_COLS (NV * VW)

__kernel void gemm_nn(const int M, const int N, const int K,
                      __global const float *A, const int offA, const int sam, const int sak,
                      __global const float *B, const int offB, const int ldb,
                      __global float *C, const int offC, const int ldc,
                      __global const float *bias, const int offBias, const int accumulate,
                      const int pw, const int bpanel, const int cpanel)
{
    A += offA;
    B += offB;
    C += offC;
    /* panel layouts (bpanel/cpanel): the columns come in panels of pw (the last one may be
     * narrower, w = N - n0); panel n0 holds its rows back to back: (k, j) at n0*K + k*w + j */
    const int panels = bpanel || cpanel;
    const int cols = panels ? pw : NN_COLS; /* columns per tile */
    const int nstep = (int)get_global_size(0) * cols, mstep = (int)get_global_size(1) * TM;
    for (int n0 = (int)get_global_id(0) * cols; n0 < N; n0 += nstep) {
        if (n0 + NN_COLS <= N && cols == NN_COLS) {
            for (int m0 = (int)get_global_id(1) * TM; m0 < M; m0 += mstep) {
                VEC acc[TM][NV];
#pragma unroll
                for (int i = 0; i < TM; i++)
#pragma unroll
                    for (int v = 0; v < NV; v++) acc[i][v] = (VEC)(0.0f);
                /* rows past M are clamped (computed, not stored) so the loop has no branches */
                __global const float *ar[TM];
#pragma unroll
                for (int i = 0; i < TM; i++) ar[i] = A + min(m0 + i, M - 1) * sam;
                __global const float *b = B + (bpanel ? n0 * K : n0);
                const int bstride = bpanel ? NN_COLS : ldb;
                int ka = 0;
                for (int k = 0; k < K; k++) {
                    VEC bv[NV];
#pragma unroll
                    for (int v = 0; v < NV; v++) bv[v] = VLOAD(v, b);
#pragma unroll
                    for (int i = 0; i < TM; i++) {
                        const VEC av = (VEC)(ar[i][ka]);
#pragma unroll
                        for (int v = 0; v < NV; v++) acc[i][v] = fma(av, bv[v], acc[i][v]);
                    }
                    ka += sak;
                    b += bstride;
                }
#pragma unroll
                for (int i = 0; i < TM; i++) {
                    if (m0 + i < M) {
                        __global float *c = C + (cpanel ? n0 * M + (m0 + i) * NN_COLS : (m0 + i) * ldc + n0);
                        const float bi = bias ? bias[offBias + m0 + i] : 0.0f;
#pragma unroll
                        for (int v = 0; v < NV; v++) {
                            VEC r = acc[i][v] + (VEC)(bi);
                            if (accumulate) r += VLOAD(v, c);
                            VSTORE(r, v, c);
                        }
                    }
                }
            }
        } else {
            /* ragged last column panel (or a panel width the fast path does not fit): scalar */
            const int w = min(cols, N - n0);
            for (int m0 = (int)get_global_id(1) * TM; m0 < M; m0 += mstep) {
                for (int i = 0; i < TM && m0 + i < M; i++) {
                    for (int j = 0; j < w; j++) {
                        float s = 0.0f;
                        for (int k = 0; k < K; k++)
                            s = fma(A[(m0 + i) * sam + k * sak], bpanel ? B[n0 * K + k * w + j] : B[k * ldb + n0 + j], s);
                        if (bias) s += bias[offBias + m0 + i];
                        __global float *c = C + (cpanel ? n0 * M + (m0 + i) * w + j : (m0 + i) * ldc + n0 + j);
                        if (accumulate) s += *c;
                        *c = s;
                    }
                }
            }
        }
    }
}

__kernel void gemm_nt(const int M, const int N, const int K,
                      __global const float *A, const int offA, const int lda,
                      __global const float *B, const int offB, const int ldb,
                      __global float *C, const int offC, const int ldc, const int accumulate, const int kc,
                      const int pw)
{
    A += offA;
    B += offB;
    C += offC;
    /* pw > 0: B is stored in panels along K (see gemm_nn): element (n, k) of panel k0 = k - k % pw
     * at k0*N + n*w + (k - k0), w = min(pw, K - k0); pw must then be a multiple of NT_VW */
    const int nstep = (int)get_global_size(0) * NT_TN, mstep = (int)get_global_size(1) * NT_TM;
    const int kvec = pw > 0 ? K / pw * pw : K / NT_VW * NT_VW; /* vector part of K */
    const int unit = pw > 0 ? pw : NT_VW;
    const int chunk = kc > 0 ? (kc + unit - 1) / unit * unit : (kvec > 0 ? kvec : unit);
    for (int n0 = (int)get_global_id(0) * NT_TN; n0 < N; n0 += nstep) {
        int bn[NT_TN];
#pragma unroll
        for (int j = 0; j < NT_TN; j++) bn[j] = min(n0 + j, N - 1);
        for (int k0 = 0; k0 < kvec || k0 == 0; k0 += chunk) {
            const int k1 = min(k0 + chunk, kvec);
            const int last = k0 + chunk >= kvec;
            for (int m0 = (int)get_global_id(1) * NT_TM; m0 < M; m0 += mstep) {
                __global const float *ar[NT_TM];
#pragma unroll
                for (int i = 0; i < NT_TM; i++) ar[i] = A + min(m0 + i, M - 1) * lda;
                NVEC acc[NT_TM][NT_TN];
#pragma unroll
                for (int i = 0; i < NT_TM; i++)
#pragma unroll
                    for (int j = 0; j < NT_TN; j++) acc[i][j] = (NVEC)(0.0f);
                for (int kp = k0; kp < k1; kp += unit) {
                    /* row n of B from k = kp: plain B + n*ldb + kp; panels B + kp*N + n*pw */
                    __global const float *bp[NT_TN];
#pragma unroll
                    for (int j = 0; j < NT_TN; j++) bp[j] = pw > 0 ? B + kp * N + bn[j] * pw : B + bn[j] * ldb + kp;
                    for (int kk = 0; kk < unit; kk += NT_VW) {
                        NVEC av[NT_TM], bv[NT_TN];
#pragma unroll
                        for (int i = 0; i < NT_TM; i++) av[i] = NVLOAD(0, ar[i] + kp + kk);
#pragma unroll
                        for (int j = 0; j < NT_TN; j++) bv[j] = NVLOAD(0, bp[j] + kk);
#pragma unroll
                        for (int i = 0; i < NT_TM; i++)
#pragma unroll
                            for (int j = 0; j < NT_TN; j++) acc[i][j] = fma(av[i], bv[j], acc[i][j]);
                    }
                }
                for (int i = 0; i < NT_TM && m0 + i < M; i++) {
                    for (int j = 0; j < NT_TN && n0 + j < N; j++) {
                        float s = NHSUM(acc[i][j]);
                        if (last)
                            for (int k = kvec; k < K; k++)
                                s = fma(ar[i][k], pw > 0 ? B[kvec * N + (n0 + j) * (K - kvec) + (k - kvec)]
                                                         : B[(n0 + j) * ldb + k], s);
                        __global float *c = C + (m0 + i) * ldc + n0 + j;
                        if (accumulate || k0 > 0) s += *c;
                        *c = s;
                    }
                }
            }
        }
    }
}
