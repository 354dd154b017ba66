/* nn/conv_f32.c: the float instance of nn/conv.inc (used for training and inference).
 *
 * Its GEMMs go to nn/fm's AVX-512 kernels when the CPU has them (nn/fm.h).  On one thread, a
 * product whose B is not transposed (a batch-1 latency measurement, an exported generator, the
 * forward of a 1-thread trainer) runs nn_fm_gemm, which reads the weights and the im2col columns in
 * place, where sgemm copies (packs) both on every call: at the generator's shapes about twice
 * sgemm's rate (docs/results.md).  Every other product (the weight gradients, whose B is
 * transposed, and any call on more threads) runs nn_fm_sgemm on core/par's threads; OpenBLAS only
 * without AVX-512.  Each path sums every output in a fixed order, so a run is deterministic. */
/* Headers first: OpenBLAS's headers use `real` as a member name. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/conv.h"
#include "nn/fm.h"

static void conv_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                       const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    OFA_ASSERT(order == CblasRowMajor);
    if (tb == CblasNoTrans && (beta == 0.0f || beta == 1.0f) &&
        nn_fm_path_for_threads(openblas_get_num_threads()) == NN_FM_AVX512) {
        const int rsa = ta == CblasNoTrans ? lda : 1, csa = ta == CblasNoTrans ? 1 : lda;
        nn_fm_gemm(c, ldc, a, rsa, csa, b, ldb, NULL, beta == 1.0f ? c : NULL, ldc, alpha, 0, M, N, K);
        return;
    }
    nn_fm_sgemm(ta == CblasTrans, tb == CblasTrans, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc);
}

#define real float
#define SFX f32
#define GEMM conv_sgemm
#include "nn/conv.inc"
