/* nn/conv_f64.c: the double instance of nn/conv.inc (used for finite-difference tests). */
/* Headers first: OpenBLAS's headers use `real` as a member name. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/conv.h"

#define real double
#define SFX f64
#define GEMM cblas_dgemm
#include "nn/conv.inc"
