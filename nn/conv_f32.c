/* nn/conv_f32.c: the float instance of nn/conv.inc (used for training). */
/* Headers first: OpenBLAS's headers use `real` as a member name. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "nn/conv.h"

#define real float
#define SFX f32
#define GEMM cblas_sgemm
#include "nn/conv.inc"
