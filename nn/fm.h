/* nn/fm: the inference kernels, on feature-major activations, and the training product
 * (nn_fm_sgemm, below) built on the same AVX-512 tile.
 *
 * Training keeps activations token-major ([tokens, features], nn/nn.h) because its backward needs
 * both products of every weight.  Inference needs only y = W x + b, and with activations stored
 * feature-major (X^T: [features, tokens], token index contiguous) that product is
 *     Y^T[o, t] = sum_i W[o, i] X^T[i, t] + b[o]
 * whose inner loop reads 16 consecutive tokens of X^T as one vector and one weight as a broadcast
 * scalar: the weights are read in place (a subnet's slice is a pointer + ld into the largest weights,
 * never packed or copied), bias, residual and GELU are applied while the tile is in registers, and
 * attention's scores, softmax and context fit the same product (see nn_fm_attention).
 *
 * nn_fm_gemm has an AVX-512 path (chosen at run time from the CPU's flags; $OFA_KERNELS=openblas
 * or avx512 overrides) and a portable path on OpenBLAS; both compute the same sums (tests/test_fm.c compares them with each other and with a
 * double reference).  nn_fm_gemm's AVX-512 path runs on the calling thread alone, nn_fm_sgemm's on
 * core/par's threads; the portable path uses OpenBLAS's threads.  Not thread-safe with respect to nn_fm_set_path.
 */
#ifndef OFA_NN_FM_H
#define OFA_NN_FM_H

#include <stdint.h>

typedef enum { NN_FM_AUTO = 0, NN_FM_PORTABLE, NN_FM_AVX512 } nn_fm_path;

/* Force a path (tests) or restore NN_FM_AUTO; returns the path now in use (AVX512 only when the CPU
 * has it: asking for it elsewhere gives PORTABLE). */
nn_fm_path nn_fm_set_path(nn_fm_path p);
/* The path in use (never NN_FM_AUTO). */
nn_fm_path nn_fm_get_path(void);
/* The path a forward on `threads` threads should use: nn_fm_gemm's AVX-512 kernel runs on one
 * thread, so with more it is PORTABLE (OpenBLAS's threads); with one, the path in use. */
nn_fm_path nn_fm_path_for_threads(int threads);
/* "avx512" or "openblas": the name of path p (NN_FM_AUTO: of the path in use). */
const char *nn_fm_path_name_of(nn_fm_path p);
/* The name of the path in use. */
const char *nn_fm_path_name(void);

/* C[n, m] (ldc) = alpha * sum_k A(n, k) B[k, m] (ldb)  [+ bias[n]]  [+ R[n, m] (ldr)]  [then GELU]
 * for n < N, m < M, k < K, where A(n, k) = a[n * rsa + k * csa] (so A may be a row-major weight
 * (rsa = ld, csa = 1) or a transposed view (rsa = 1, csa = ld)).  bias and R may be NULL; R may
 * be C itself (in-place residual, then ldr == ldc).  K == 0 gives the epilogue alone. */
void nn_fm_gemm(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb, const float *bias,
                const float *r, int ldr, float alpha, int gelu, int N, int M, int K);

/* The same with C's sums kept: C[n, m] = C[n, m] + sum_k A(n, k) B[k, m]  [+ bias[n]]  [+ R[n, m]]
 * [then GELU] (alpha 1; R must not be C).  K == 0 applies the epilogue to C alone.  The sums run
 * in k order after C's value, as nn_fm_gemm's run after zero. */
void nn_fm_gemm_acc(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb, const float *bias,
                    const float *r, int ldr, int gelu, int N, int M, int K);

/* The training product, row-major as cblas_sgemm: C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C
 * (op = transpose when transa / transb).  On the AVX-512 path (beta 0 or 1) it runs on core/par's
 * threads and gives the same bits at any thread count; otherwise it is cblas_sgemm. */
void nn_fm_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc);

/* Feature-major LayerNorm: y[:, t] = (x[:, t] - mean) * rstd * g + b over the C rows of column t,
 * for M columns (ld = row stride of x and y; y may equal x). */
void nn_fm_layernorm(float *y, const float *x, int ld, const float *g, const float *b, int C, int M, double eps);

/* Self-attention of one sequence and one head, feature-major: Tq queries q [D, Tq] (row stride ldq)
 * over T keys and values k, v [D, T] (row stride ld; views into the [A*D, tokens] projections),
 * ctx [D, Tq] with row stride ldc; keys t >= L get probability 0; scale multiplies the scores, hmul
 * the probabilities.  Each query's context depends on that query alone (for Tq = 1 the same to
 * float rounding as its column of a larger Tq: one-column products sum in another order).
 * scratch: T*Tq floats. */
void nn_fm_attention(float *ctx, int ldc, const float *q, int ldq, int Tq, const float *k, const float *v, int ld,
                     int T, int L, int D, float scale, float hmul, float *scratch);

/* Attention of one query q [D] (stride ldq) over keys W_k x_t + b_k and values W_v x_t + b_v of
 * the L tokens x [E, L] (row stride ld), without forming those keys and values:
 *     s_t = scale (W_k^T q) . x_t      (q . b_k is the same for every t, and softmax drops it)
 *     ctx = W_v (sum_t p_t x_t) + b_v  (the probabilities p = softmax(s) sum to 1)
 * for ctx [D] (stride ldc); wk, wv [D, E] are one head's rows (row stride ldk, ldv), bv its bias.
 * Equal to nn_fm_attention on the projected keys and values to float rounding, at 2 E (D + L)
 * multiply-adds instead of 2 L D E: a layer read at one token per sequence (BERT's last, whose
 * pooler reads the first token) needs no keys or values.  L == 0 gives a zero ctx, as there.
 * scratch: 2 E + L floats. */
void nn_fm_attention_folded(float *ctx, int ldc, const float *q, int ldq, const float *wk, int ldk, const float *wv,
                            int ldv, const float *bv, const float *x, int ld, int L, int D, int E, float scale,
                            float *scratch);

/* [R, C] (ldi) -> [C, R] (ldo). */
void nn_fm_transpose(float *out, int ldo, const float *in, int ldi, int R, int C);

#endif
