/* nn/kernels_f64.c: the double instance of nn/kernels.inc (used by the finite-difference tests). */
/* Headers first: OpenBLAS's headers use `real` as a member name, and pull in <complex.h>, whose
 * macro I would clash with the I (in features) dimension. */
#include <cblas.h>
#undef I
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/par.h"
#include "core/rng.h"
#include "nn/nn.h"

#define real double
#define SFX f64
#define GEMM cblas_dgemm
#define GEMM_BIG cblas_dgemm
#define EXP exp
#define ERF erf
#define TANH tanh
#define WIDE
#include "nn/kernels.inc"
