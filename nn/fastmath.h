/* nn/fastmath: the float erf and exp the kernels use (nn/kernels_f32.c's GELU, softmax and
 * losses, nn/fm.c's portable GELU), inline so their loops vectorize. */
#ifndef OFA_NN_FASTMATH_H
#define OFA_NN_FASTMATH_H

#include <stdint.h>
#include <string.h>

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

/* exp for float, branch-free so the softmax and GELU-backward loops vectorize (libm's expf is a
 * scalar call per element): x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
 * product), e^r by Cephes' degree-7 polynomial, 2^n put straight into the exponent bits.  Max
 * relative error 2.4e-7 against libm's exp (checked by the nn suite); 0 below -87.3, where
 * float's normal range ends, and x is clamped at 88.7 (e^x overflows there anyway). */
static inline float exp_fast(float x)
{
    const float lo = -87.33654f, hi = 88.72283f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    const float round = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (xc * 1.44269504088896341f + round) - round;
    float r = xc - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n as float bits; n in [-126, 128]: split so each factor stays a normal float */
    int32_t ni = (int32_t)n, n1 = ni >> 1, n2 = ni - n1;
    int32_t b1 = (n1 + 127) << 23, b2 = (n2 + 127) << 23;
    float s1, s2;
    memcpy(&s1, &b1, sizeof s1);
    memcpy(&s2, &b2, sizeof s2);
    float y = p * s1 * s2;
    return x < lo ? 0.0f : y;
}

#endif
