/* nn/strassen: one level of Strassen's algorithm, in Winograd's form, for a weight matrix that stays
 * fixed while it is used (inference).
 *
 * C = W X with W [N, K] cut in 2 x 2 blocks of [N/2, K/2] and X [K, M] in 2 x 2 of [K/2, M/2] takes
 * seven half-size products instead of eight:
 *     S1 = W21 + W22, S2 = S1 - W11, S3 = W11 - W21, S4 = W12 - S2     (formed once: nn_sw_prepare)
 *     T1 = X12 - X11, T2 = X22 - T1, T3 = X22 - X12, T4 = T2 - X21     (formed per product)
 *     P1 = W11 X11, P2 = W12 X21, P3 = S4 X22, P4 = W22 T4, P5 = S1 T1, P6 = S2 T2, P7 = S3 T3
 *     U2 = P1 + P6, U3 = U2 + P7, U4 = U2 + P5
 *     C11 = P1 + P2, C12 = U4 + P3, C21 = U3 - P4, C22 = U3 + P5
 * The products are nn_fm_gemm's; bias, residual and GELU are applied as the last product of each
 * block is stored (C22's in the one pass that forms it from U2, U3 and U4), so nothing reads C
 * again afterwards.  12.5 % fewer multiply-adds; what it saves in time depends on the shape
 * (nn_sw_pays), and the sums of weights take as much memory again as W (1.75 times W's when W
 * comes in parts and its blocks are copied too).  Rounding: about twice the classical product's
 * error (both far below float32 inference's tolerances; tests/test_fm.c bounds it against a
 * double product).  $OFA_STRASSEN=0 turns it off (nn_sw_pays then says no).
 */
#ifndef OFA_NN_STRASSEN_H
#define OFA_NN_STRASSEN_H

#include <stddef.h>

typedef struct nn_sw {
    int N, K;           /* W's shape, both even; 0 = not prepared */
    const float *op[7]; /* the operands of P1..P7: W11, W12, S4, W22, S1, S2, S3 ([N/2, K/2]) */
    int ld[7];          /* their row strides */
    float *own;         /* the floats formed (NULL when not prepared) */
    size_t own_floats;
} nn_sw;

/* Whether the prepared product beats nn_fm_gemm on this machine's path at C [N, M] = W [N, K] X:
 * the AVX-512 path, N, K and M even, N and K at least 512 and M at least 128 (below that the
 * half-size products and the extra passes cost more than the eighth of the work saved; measured
 * with bench/strassen_probe), and $OFA_STRASSEN not "0". */
int nn_sw_pays(int N, int K, int M);

/* Prepares W = the np row blocks stacked: block i has rows[i] rows of K floats at row stride ld[i]
 * (a single block is read in place afterwards, so it must stay; several are copied).  N (the rows'
 * sum) and K must be even.  Aborts on OOM.  Free with nn_sw_free (a zeroed nn_sw is free too). */
void nn_sw_prepare(nn_sw *s, int np, const float *const *w, const int *ld, const int *rows, int K);
void nn_sw_free(nn_sw *s);

/* Floats of scratch nn_sw_gemm needs for W [., K] and M columns. */
size_t nn_sw_scratch_floats(int K, int M);

/* C[n, m] (ldc) = sum_k W[n, k] X[k, m] (ldx)  [+ bias[n]]  [+ R[n, m] (ldr)]  [then GELU], M even,
 * R not C (nor overlapping it), X not overlapping C; scratch: nn_sw_scratch_floats(K, M). */
void nn_sw_gemm(float *c, int ldc, const nn_sw *s, const float *x, int ldx, const float *bias, const float *r, int ldr,
                int gelu, int M, float *scratch);

#endif
