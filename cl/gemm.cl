/* gemm.cl: register-blocked matrix products for convolutions (and FC where chosen).
 *  gemm_nn: C(M,N) = op(A) B (+ bias[m]) (+ C if accumulate). op(A) element (m,k) is
 *           A[m*sam + k*sak], so one kernel serves A (sam=lda, sak=1) and A^T (sam=1, sak=lda).
 *           B is (K,N) row-major with stride ldb. Each work-item owns TM rows x VW columns held
 *           in TM vector accumulators: explicit vectors are what makes CPU drivers fast.
 *  gemm_nt: C(M,N) = A(M,K) B(N,K)^T (+ C if accumulate): dot products along K in NT_VW-wide
 *           vectors, NT_TM x NT_TN outputs per work-item (weight gradients, K = N*H*W is long).
 * Does not: tile through local memory (a GPU variant belongs beside these). */
#ifndef TM
#define TM 4
#endif
#ifndef VW
#define VW 16
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

__kernel void gemm_nn(const int M, const int N, const int K,
                      __global const float *A, const int offA, const int sam, const int sak,
                      __global const float *B, const int offB, const int ldb,
                      __global float *C, const int offC, const int ldc,
                      __global const float *bias, const int offBias, const int accumulate)
{
    const int n0 = get_global_id(0) * VW;
    const int m0 = get_global_id(1) * TM;
    if (n0 >= N || m0 >= M) return;
    A += offA;
    B += offB;
    C += offC;
    if (m0 + TM <= M && n0 + VW <= N) {
        VEC acc[TM];
#pragma unroll
        for (int i = 0; i < TM; i++) acc[i] = (VEC)(0.0f);
        __global const float *a = A + m0 * sam;
        __global const float *b = B + n0;
        for (int k = 0; k < K; k++) {
            const VEC bv = VLOAD(0, b);
#pragma unroll
            for (int i = 0; i < TM; i++) acc[i] = mad((VEC)(a[i * sam]), bv, acc[i]);
            a += sak;
            b += ldb;
        }
#pragma unroll
        for (int i = 0; i < TM; i++) {
            VEC r = acc[i];
            if (bias) r += (VEC)(bias[offBias + m0 + i]);
            __global float *c = C + (m0 + i) * ldc + n0;
            if (accumulate) r += VLOAD(0, c);
            VSTORE(r, 0, c);
        }
    } else {
        for (int i = 0; i < TM && m0 + i < M; i++) {
            for (int j = 0; j < VW && n0 + j < N; j++) {
                float s = 0.0f;
                for (int k = 0; k < K; k++) s = mad(A[(m0 + i) * sam + k * sak], B[k * ldb + n0 + j], s);
                if (bias) s += bias[offBias + m0 + i];
                __global float *c = C + (m0 + i) * ldc + n0 + j;
                if (accumulate) s += *c;
                *c = s;
            }
        }
    }
}

__kernel void gemm_nt(const int M, const int N, const int K,
                      __global const float *A, const int offA, const int lda,
                      __global const float *B, const int offB, const int ldb,
                      __global float *C, const int offC, const int ldc, const int accumulate)
{
    const int n0 = get_global_id(0) * NT_TN;
    const int m0 = get_global_id(1) * NT_TM;
    if (n0 >= N || m0 >= M) return;
    A += offA;
    B += offB;
    C += offC;
    /* rows past the edge are clamped (their results are discarded) so the loop has no branches */
    __global const float *ar[NT_TM];
    __global const float *br[NT_TN];
#pragma unroll
    for (int i = 0; i < NT_TM; i++) ar[i] = A + min(m0 + i, M - 1) * lda;
#pragma unroll
    for (int j = 0; j < NT_TN; j++) br[j] = B + min(n0 + j, N - 1) * ldb;
    NVEC acc[NT_TM][NT_TN];
#pragma unroll
    for (int i = 0; i < NT_TM; i++)
#pragma unroll
        for (int j = 0; j < NT_TN; j++) acc[i][j] = (NVEC)(0.0f);
    const int kv = K / NT_VW;
    for (int k = 0; k < kv; k++) {
        NVEC av[NT_TM], bv[NT_TN];
#pragma unroll
        for (int i = 0; i < NT_TM; i++) av[i] = NVLOAD(k, ar[i]);
#pragma unroll
        for (int j = 0; j < NT_TN; j++) bv[j] = NVLOAD(k, br[j]);
#pragma unroll
        for (int i = 0; i < NT_TM; i++)
#pragma unroll
            for (int j = 0; j < NT_TN; j++) acc[i][j] = mad(av[i], bv[j], acc[i][j]);
    }
    for (int i = 0; i < NT_TM && m0 + i < M; i++) {
        for (int j = 0; j < NT_TN && n0 + j < N; j++) {
            float s = NHSUM(acc[i][j]);
            for (int k = kv * NT_VW; k < K; k++) s = mad(ar[i][k], br[j][k], s);
            __global float *c = C + (m0 + i) * ldc + n0 + j;
            if (accumulate) s += *c;
            *c = s;
        }
    }
}
