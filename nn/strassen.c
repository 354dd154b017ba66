/* nn/strassen: one level of Strassen-Winograd on prepared weights (see nn/strassen.h). */
#include "nn/strassen.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys.h"
#include "nn/fm.h"

/* the block sums and C22's combination in wider vectors where the CPU has them (an ifunc picks the
 * clone at load time, as nn/kernels_f32.c's WIDE); element-wise, so every clone gives the same bits */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE
#endif

/* d[R, C] (ldd) = x + s y */
static WIDE void add_blocks(float *d, int ldd, const float *x, int ldx, const float *y, int ldy, float s, int R, int C)
{
    for (int i = 0; i < R; i++) {
        float *di = d + (size_t)i * ldd;
        const float *xi = x + (size_t)i * ldx, *yi = y + (size_t)i * ldy;
        for (int j = 0; j < C; j++) di[j] = xi[j] + s * yi[j];
    }
}

int nn_sw_pays(int N, int K, int M)
{
    static int off = -1;
    if (off < 0) {
        const char *e = getenv("OFA_STRASSEN");
        off = e && !strcmp(e, "0");
    }
    return !off && nn_fm_get_path() == NN_FM_AVX512 && N % 2 == 0 && K % 2 == 0 && M % 2 == 0 && N >= 512 &&
           K >= 512 && M >= 128;
}

/* row i of the stacked blocks */
static const float *row_of(int np, const float *const *w, const int *ld, const int *rows, int i)
{
    for (int b = 0; b < np; i -= rows[b], b++)
        if (i < rows[b]) return w[b] + (size_t)i * ld[b];
    OFA_ASSERT(!"row beyond the blocks");
    return NULL;
}

void nn_sw_prepare(nn_sw *s, int np, const float *const *w, const int *ld, const int *rows, int K)
{
    int N = 0;
    for (int b = 0; b < np; b++) N += rows[b];
    OFA_ASSERT(np >= 1 && N % 2 == 0 && K % 2 == 0 && N > 0 && K > 0);
    memset(s, 0, sizeof *s);
    s->N = N, s->K = K;
    const int n2 = N / 2, k2 = K / 2, copy = np > 1;
    const size_t bs = (size_t)n2 * k2;
    s->own_floats = (copy ? 7 : 4) * bs;
    float *o = s->own = ofa_xalloc_huge(s->own_floats * sizeof *o);
    float *s1 = o, *s2 = o + bs, *s3 = o + 2 * bs, *s4 = o + 3 * bs;
    for (int i = 0; i < n2; i++) {
        const float *r1 = row_of(np, w, ld, rows, i), *r2 = row_of(np, w, ld, rows, n2 + i);
        const float *w11 = r1, *w12 = r1 + k2, *w21 = r2, *w22 = r2 + k2;
        float *a = s1 + (size_t)i * k2, *b = s2 + (size_t)i * k2, *c = s3 + (size_t)i * k2, *d = s4 + (size_t)i * k2;
        for (int j = 0; j < k2; j++) {
            a[j] = w21[j] + w22[j];
            b[j] = a[j] - w11[j];
            c[j] = w11[j] - w21[j];
            d[j] = w12[j] - b[j];
        }
        if (copy) {
            memcpy(o + 4 * bs + (size_t)i * k2, w11, (size_t)k2 * sizeof *o);
            memcpy(o + 5 * bs + (size_t)i * k2, w12, (size_t)k2 * sizeof *o);
            memcpy(o + 6 * bs + (size_t)i * k2, w22, (size_t)k2 * sizeof *o);
        }
    }
    const float *w11 = copy ? o + 4 * bs : w[0], *w12 = copy ? o + 5 * bs : w[0] + k2;
    const float *w22 = copy ? o + 6 * bs : w[0] + (size_t)n2 * ld[0] + k2;
    const int lw = copy ? k2 : ld[0];
    const float *ops[7] = {w11, w12, s4, w22, s1, s2, s3};
    const int lds[7] = {lw, lw, k2, lw, k2, k2, k2};
    memcpy(s->op, ops, sizeof ops);
    memcpy(s->ld, lds, sizeof lds);
}

void nn_sw_free(nn_sw *s)
{
    if (!s) return;
    free(s->own);
    memset(s, 0, sizeof *s);
}

/* the row stride of the activation sums: M/2 in whole 64-byte lines, one more when that is a
 * multiple of 512 bytes (as ofa_infer_ld, against L1 set conflicts) */
static int sums_ld(int M)
{
    const int ld = (M / 2 + 15) / 16 * 16;
    return ld % 128 == 0 ? ld + 16 : ld;
}

size_t nn_sw_scratch_floats(int K, int M) { return 4 * (size_t)(K / 2) * (size_t)sums_ld(M); }

/* C22 = U3 + U4 - U2 (U2 in C12, U3 in C21, U4 in C22), and C12 = U4 for P3 to add to */
static WIDE void combine(float *c12, float *c21, float *c22, int ldc, int R, int C)
{
    for (int i = 0; i < R; i++) {
        float *u2 = c12 + (size_t)i * ldc, *u3 = c21 + (size_t)i * ldc, *u4 = c22 + (size_t)i * ldc;
        for (int j = 0; j < C; j++) {
            const float v4 = u4[j];
            u4[j] = u3[j] + v4 - u2[j];
            u2[j] = v4;
        }
    }
}

void nn_sw_gemm(float *c, int ldc, const nn_sw *s, const float *x, int ldx, const float *bias, const float *r, int ldr,
                int gelu, int M, float *scratch)
{
    OFA_ASSERT(s->own && M % 2 == 0 && r != c);
    const int n2 = s->N / 2, k2 = s->K / 2, m2 = M / 2, lt = sums_ld(M);
    const size_t ts = (size_t)k2 * lt;
    float *t1 = scratch, *t2 = t1 + ts, *t3 = t2 + ts, *t4n = t3 + ts;
    const float *x11 = x, *x12 = x + m2, *x21 = x + (size_t)k2 * ldx, *x22 = x21 + m2;
    add_blocks(t1, lt, x12, ldx, x11, ldx, -1.0f, k2, m2);  /* T1 = X12 - X11 */
    add_blocks(t2, lt, x22, ldx, t1, lt, -1.0f, k2, m2);    /* T2 = X22 - T1 */
    add_blocks(t3, lt, x22, ldx, x12, ldx, -1.0f, k2, m2);  /* T3 = X22 - X12 */
    add_blocks(t4n, lt, x21, ldx, t2, lt, -1.0f, k2, m2);   /* -T4 = X21 - T2 */
    float *c11 = c, *c12 = c + m2, *c21 = c + (size_t)n2 * ldc, *c22 = c21 + m2;
    const float *b1 = bias, *b2 = bias ? bias + n2 : NULL;
    const float *r11 = r, *r12 = r ? r + m2 : NULL, *r21 = r ? r + (size_t)n2 * ldr : NULL, *r22 = r21 ? r21 + m2 : NULL;
    const float *const *w = s->op;
    const int *lw = s->ld;
    nn_fm_gemm(c11, ldc, w[0], lw[0], 1, x11, ldx, NULL, NULL, 0, 1.0f, 0, n2, m2, k2);          /* P1 */
    nn_fm_gemm(c12, ldc, w[5], lw[5], 1, t2, lt, NULL, c11, ldc, 1.0f, 0, n2, m2, k2);           /* U2 = P6 + P1 */
    nn_fm_gemm_acc(c11, ldc, w[1], lw[1], 1, x21, ldx, b1, r11, ldr, gelu, n2, m2, k2);          /* C11 = P1 + P2 */
    nn_fm_gemm(c21, ldc, w[6], lw[6], 1, t3, lt, NULL, c12, ldc, 1.0f, 0, n2, m2, k2);           /* U3 = P7 + U2 */
    nn_fm_gemm(c22, ldc, w[4], lw[4], 1, t1, lt, NULL, c12, ldc, 1.0f, 0, n2, m2, k2);           /* U4 = P5 + U2 */
    combine(c12, c21, c22, ldc, n2, m2);                                                          /* C22, C12 = U4 */
    nn_fm_gemm_acc(c22, ldc, c22, ldc, 1, c22, ldc, b2, r22, ldr, gelu, n2, m2, 0);             /* C22's epilogue (K 0) */
    nn_fm_gemm_acc(c12, ldc, w[2], lw[2], 1, x22, ldx, b1, r12, ldr, gelu, n2, m2, k2);          /* C12 = U4 + P3 */
    nn_fm_gemm_acc(c21, ldc, w[3], lw[3], 1, t4n, lt, b2, r21, ldr, gelu, n2, m2, k2);           /* C21 = U3 - P4 */
}
