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

/* erf for float in a few multiply-adds and one division, so the GELU loops vectorize: the
 * rational approximation Eigen and XLA use (clamped to [-4, 4]); max abs error 4.2e-7 against
 * libm's erf over [-6, 6] (checked by the nn suite).  libm's erff is a scalar call per element
 * and cost a third of a batch-1 forward. */
static inline float erf_fast(float x)
{
    x = x < -4.0f ? -4.0f : (x > 4.0f ? 4.0f : x);
    const float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = p * x2 + 2.77068142495902e-08f;
    p = p * x2 + -2.10102402082508e-06f;
    p = p * x2 + -5.69250639462346e-05f;
    p = p * x2 + -7.34990630326855e-04f;
    p = p * x2 + -2.95459980854025e-03f;
    p = p * x2 + -1.60960333262415e-02f;
    float q = -1.45660718464996e-05f;
    q = q * x2 + -2.13374055278905e-04f;
    q = q * x2 + -1.68282697438203e-03f;
    q = q * x2 + -7.37332916720468e-03f;
    q = q * x2 + -1.42647390514189e-02f;
    return x * p / q;
}

float nn_erf_f32(float x) { return erf_fast(x); }

#define real float
#define SFX f32
#define GEMM cblas_sgemm
#define EXP expf
#define ERF erf_fast
#define TANH tanhf
#include "nn/kernels.inc"
