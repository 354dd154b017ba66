/* nn/kernels_f32.c: the float instance of nn/kernels.inc (used for training). */
/* Headers first: OpenBLAS's headers use `real` as a member name, and pull in <complex.h>, whose
 * macro I would clash with the I (in features) dimension. */
#include <cblas.h>
#undef I
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "nn/nn.h"

#define real float
#define SFX f32
#define GEMM cblas_sgemm
#define EXP expf
#define ERF erff
#define TANH tanhf
#include "nn/kernels.inc"
