/* nn/kernels_f32.c: the float instance of nn/kernels.inc (used for training). */
/* Headers first: OpenBLAS's headers use `real` as a member name, and pull in <complex.h>, whose
 * macro I would clash with the I (in features) dimension. */
#include <cblas.h>
#undef I
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/par.h"
#include "core/rng.h"
#include "nn/fastmath.h"
#include "nn/fm.h"
#include "nn/nn.h"

float nn_erf_f32(float x) { return erf_fast(x); }

float nn_exp_f32(float x) { return exp_fast(x); }

#define real float
#define SFX f32
#define GEMM cblas_sgemm
#define GEMM_BIG(order, ta, tb, ...) nn_fm_sgemm((ta) == CblasTrans, (tb) == CblasTrans, __VA_ARGS__)
#define EXP exp_fast
#define ERF erf_fast
#define TANH tanhf
/* wider vectors where the CPU has them (an ifunc picks the clone at load time).  The same bits in
 * every clone: the loops are element-wise maps or keep their partial sums explicit, and ISO C mode
 * (-std=c11) contracts no multiply-add into an FMA. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE
#endif
#include "nn/kernels.inc"
