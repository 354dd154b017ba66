/* nn/fm: feature-major inference kernels and the training product (see nn/fm.h).
 *
 * The AVX-512 GEMM tile holds NR rows of C by up to 4 vectors of 16 columns (24 accumulators):
 * per k it loads up to 4 vectors of B's row k and broadcasts NR scalars of A's column k, so B's
 * rows are read once per NR rows of C and A (the weights) once per 64 columns.  The portable path
 * is OpenBLAS's sgemm plus the same epilogue, element by element. */
#include "nn/fm.h"

#include <cblas.h>
#undef I
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/par.h"
#include "core/state.h"
#include "nn/fastmath.h"

/* ---- path selection ---- */

static int have_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

/* The choice is cached in ofa_g_fm_path (core/state.c); NN_FM_AUTO = not chosen yet: AVX-512
 * when the CPU has it, unless $OFA_KERNELS says openblas (e.g. to score on many threads). */
static nn_fm_path resolved(void)
{
    if (ofa_g_fm_path != NN_FM_AUTO) return (nn_fm_path)ofa_g_fm_path;
    const char *env = getenv("OFA_KERNELS");
    int want_blas = env && !strcmp(env, "openblas");
    if (env && *env && !want_blas && strcmp(env, "avx512") != 0)
        OFA_WARN("OFA_KERNELS='%s' is neither 'avx512' nor 'openblas'; choosing from the CPU", env);
    if (env && !strcmp(env, "avx512") && !have_avx512())
        OFA_WARN("OFA_KERNELS=avx512 but this CPU has no AVX-512; using openblas");
    ofa_g_fm_path = !want_blas && have_avx512() ? NN_FM_AVX512 : NN_FM_PORTABLE;
    return (nn_fm_path)ofa_g_fm_path;
}

nn_fm_path nn_fm_set_path(nn_fm_path p)
{
    ofa_g_fm_path = p == NN_FM_AVX512 && !have_avx512() ? NN_FM_PORTABLE : p;
    return resolved();
}

nn_fm_path nn_fm_get_path(void) { return resolved(); }

nn_fm_path nn_fm_path_for_threads(int threads) { return threads > 1 ? NN_FM_PORTABLE : resolved(); }

const char *nn_fm_path_name_of(nn_fm_path p)
{
    return (p == NN_FM_AUTO ? resolved() : p) == NN_FM_AVX512 ? "avx512" : "openblas";
}

const char *nn_fm_path_name(void) { return nn_fm_path_name_of(NN_FM_AUTO); }

/* ---- portable path ---- */

/* c[m] = GELU(c[m] + bias + r[m]) for one row; GELU through the training kernels' erf */
static void epilogue_row(float *c, const float *bias_n, const float *r, int gelu, int M)
{
    float bn = bias_n ? *bias_n : 0.0f;
    for (int m = 0; m < M; m++) {
        float y = c[m] + bn + (r && r != c ? r[m] : 0.0f);
        c[m] = gelu ? 0.5f * y * (1.0f + erf_fast(y * (float)M_SQRT1_2)) : y;
    }
}

/* OpenBLAS for the product (beta 1 when the residual already sits in C), then the epilogue; the
 * plain loop when A's strides are not a legal BLAS layout. */
static void gemm_portable(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb,
                          const float *bias, const float *r, int ldr, float alpha, int gelu, int N, int M, int K,
                          int acc)
{
    const int in_place = r == c;
    const float beta = in_place || acc ? 1.0f : 0.0f;
    if (!in_place && !acc)
        for (int n = 0; n < N; n++) memset(c + (size_t)n * ldc, 0, (size_t)M * sizeof(float));
    if (K > 0 && csa == 1 && (rsa >= K || N == 1))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, M, K, alpha, a, rsa >= K ? rsa : K, b, ldb, beta, c,
                    ldc);
    else if (K > 0 && rsa == 1 && (csa >= N || K == 1))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, M, K, alpha, a, csa >= N ? csa : N, b, ldb, beta, c,
                    ldc);
    else
        for (int n = 0; n < N; n++) {
            float *cn = c + (size_t)n * ldc;
            for (int k = 0; k < K; k++) {
                float sk = alpha * a[(size_t)n * rsa + (size_t)k * csa];
                const float *bk = b + (size_t)k * ldb;
                for (int m = 0; m < M; m++) cn[m] += sk * bk[m];
            }
        }
    if (bias || (r && !in_place) || gelu)
        for (int n = 0; n < N; n++)
            epilogue_row(c + (size_t)n * ldc, bias ? bias + n : NULL, r ? r + (size_t)n * ldr : NULL, gelu, M);
}

/* ---- AVX-512 path ---- */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_PATH 1
#define T512 __attribute__((target("avx512f")))
#define INLINE512 static inline __attribute__((always_inline)) T512

enum { NR = 6, MV = 4 };

/* erf as nn/fastmath.h's erf_fast (the same rational approximation, in vector form) */
INLINE512 __m512 v_gelu(__m512 x)
{
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps((float)M_SQRT1_2));
    z = _mm512_min_ps(_mm512_max_ps(z, _mm512_set1_ps(-4.0f)), _mm512_set1_ps(4.0f));
    __m512 z2 = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(2.77068142495902e-08f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.10102402082508e-06f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-5.69250639462346e-05f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-7.34990630326855e-04f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-2.95459980854025e-03f));
    p = _mm512_fmadd_ps(p, z2, _mm512_set1_ps(-1.60960333262415e-02f));
    __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-2.13374055278905e-04f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.68282697438203e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-7.37332916720468e-03f));
    q = _mm512_fmadd_ps(q, z2, _mm512_set1_ps(-1.42647390514189e-02f));
    __m512 erf = _mm512_div_ps(_mm512_mul_ps(z, p), q);
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x), _mm512_add_ps(_mm512_set1_ps(1.0f), erf));
}

/* exp(x) for x <= 0 (softmax after the max is subtracted): x = n ln2 + r, |r| <= ln2/2, a degree-6
 * Taylor polynomial of e^r (relative error < 2e-7 before rounding), times 2^n by scalef. */
INLINE512 __m512 v_exp(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x); /* ln2 split in two */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* One tile: rows n0..n0+nr-1 of C, columns m0..m0+16 nv-1 (the last vector masked by `last`), over
 * one chunk of k (gemm_avx512 and sgemm_items cut a long K in chunks so B's panel stays in L2): a chunk after the
 * first (`resume`) starts from the sums C holds, and a chunk before the last (`!finish`) stores the
 * bare sums; the sums run in k order either way, so chunking changes no bit.  nr and nv are
 * compile-time constants at every call (tile_dispatch), so the loops unroll into registers. */
INLINE512 void tile(const int nr, const int nv, __mmask16 last, float *c, int ldc, const float *a, int rsa,
                    int csa, const float *b, int ldb, const float *bias, const float *r, int ldr, float alpha,
                    int gelu, int K, int resume, int finish, const float *pf, int pnr)
{
    __m512 acc[NR][MV];
    _Pragma("GCC unroll 6")
    for (int i = 0; i < nr; i++)
        _Pragma("GCC unroll 6")
        for (int v = 0; v < nv; v++)
            acc[i][v] = resume ? _mm512_maskz_loadu_ps(v == nv - 1 ? last : (__mmask16)0xFFFF,
                                                       c + (size_t)i * ldc + 16 * v)
                               : _mm512_setzero_ps();
    const float *ap = a, *bp = b;
    const size_t rs = (size_t)rsa;
    for (int k = 0; k < K; k++) {
        /* one line of each of the next tile's pnr rows of A per 16 k (csa 1) */
        if (pf && !(k & 15))
            for (int i = 0; i < pnr; i++) _mm_prefetch((const char *)(pf + i * rs + k), _MM_HINT_T0);
        __m512 bv[MV];
        _Pragma("GCC unroll 6")
        for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, bp + 16 * v) : _mm512_loadu_ps(bp + 16 * v);
        _Pragma("GCC unroll 6")
        for (int i = 0; i < nr; i++) {
            __m512 av = _mm512_set1_ps(ap[i * rs]);
            _Pragma("GCC unroll 6")
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
        }
        ap += csa;
        bp += ldb;
    }
    if (!finish) {
        _Pragma("GCC unroll 6")
        for (int i = 0; i < nr; i++)
            _Pragma("GCC unroll 6")
            for (int v = 0; v < nv; v++)
                _mm512_mask_storeu_ps(c + (size_t)i * ldc + 16 * v, v == nv - 1 ? last : (__mmask16)0xFFFF,
                                      acc[i][v]);
        return;
    }
    const __m512 al = _mm512_set1_ps(alpha);
    _Pragma("GCC unroll 6")
    for (int i = 0; i < nr; i++) {
        const __m512 bi = _mm512_set1_ps(bias ? bias[i] : 0.0f);
        float *ci = c + (size_t)i * ldc;
        _Pragma("GCC unroll 6")
        for (int v = 0; v < nv; v++) {
            __mmask16 mk = v == nv - 1 ? last : (__mmask16)0xFFFF;
            __m512 y = _mm512_fmadd_ps(acc[i][v], al, bi);
            if (r) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mk, r + (size_t)i * ldr + 16 * v));
            if (gelu) y = v_gelu(y);
            _mm512_mask_storeu_ps(ci + 16 * v, mk, y);
        }
    }
}

#define TILE_CASE(NRV, NVV)                                                                        \
    case (NRV) * 8 + (NVV):                                                                        \
        tile(NRV, NVV, last, c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, alpha, gelu, K, resume, finish, pf, pnr); \
        break;
#define TILE_ROW(NRV) TILE_CASE(NRV, 1) TILE_CASE(NRV, 2) TILE_CASE(NRV, 3) TILE_CASE(NRV, 4)

static T512 void tile_dispatch(int nr, int nv, __mmask16 last, float *c, int ldc, const float *a, int rsa, int csa,
                               const float *b, int ldb, const float *bias, const float *r, int ldr, float alpha,
                               int gelu, int K, int resume, int finish, const float *pf, int pnr)
{
    switch (nr * 8 + nv) {
        TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
    default: OFA_ASSERT(!"tile shape");
    }
}

/* One column (M == 1, A rows and B contiguous): dot products along k, 16 lanes at a time; the tile
 * would spend a broadcast per multiply-add here (the pooler at batch 1). */
static T512 void gemv_avx512(float *c, int ldc, const float *a, int rsa, const float *b, const float *bias,
                             const float *r, int ldr, float alpha, int gelu, int N, int K)
{
    const int K16 = K & ~15, tail = K - K16;
    const __mmask16 mk = (__mmask16)((1u << tail) - 1);
    for (int n = 0; n < N; n++) {
        const float *an = a + (size_t)n * rsa;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        int k = 0;
        for (; k + 32 <= K16; k += 32) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(an + k), _mm512_loadu_ps(b + k), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(an + k + 16), _mm512_loadu_ps(b + k + 16), s1);
        }
        if (k < K16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(an + k), _mm512_loadu_ps(b + k), s0);
        if (tail) s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, an + K16), _mm512_maskz_loadu_ps(mk, b + K16), s1);
        float y = alpha * _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)) + (bias ? bias[n] : 0.0f);
        if (r) y += r[(size_t)n * ldr];
        if (gelu) y = _mm512_cvtss_f32(v_gelu(_mm512_set1_ps(y)));
        c[(size_t)n * ldc] = y;
    }
}

/* gemm_avx512's operands, and the tile of C rows n0.., columns m0.. over the k chunk from k0 */
typedef struct gemm_args {
    float *c;
    int ldc;
    const float *a;
    int rsa, csa;
    const float *b;
    int ldb;
    const float *bias, *r;
    int ldr;
    float alpha;
    int gelu, N, M, K, KC;
    int acc; /* the first k chunk starts from C's sums too (nn_fm_gemm_acc) */
} gemm_args;

static inline T512 void one_tile(const gemm_args *g, int n0, int m0, int k0)
{
    const int nr = g->N - n0 < NR ? g->N - n0 : NR;
    const int mw = g->M - m0 < 16 * MV ? g->M - m0 : 16 * MV, nv = (mw + 15) / 16, tail = mw - 16 * (nv - 1);
    const __mmask16 last = (__mmask16)(tail == 16 ? 0xFFFF : (1u << tail) - 1);
    const int kc = g->K - k0 < g->KC ? g->K - k0 : g->KC, finish = k0 + g->KC >= g->K;
    /* the first column block reads this tile's weights from memory: fetch the next tile's meanwhile */
    const int next = g->N - n0 - NR, pnr = m0 == 0 && g->csa == 1 && next > 0 ? (next < NR ? next : NR) : 0;
    tile_dispatch(nr, nv, last, g->c + (size_t)n0 * g->ldc + m0, g->ldc,
                  g->a + (size_t)n0 * g->rsa + (size_t)k0 * g->csa, g->rsa, g->csa, g->b + (size_t)k0 * g->ldb + m0,
                  g->ldb, g->bias ? g->bias + n0 : NULL, g->r ? g->r + (size_t)n0 * g->ldr + m0 : NULL, g->ldr,
                  g->alpha, g->gelu, kc, k0 > 0 || g->acc, finish,
                  pnr ? g->a + (size_t)(n0 + NR) * g->rsa + (size_t)k0 : NULL, pnr);
}

static T512 void gemm_avx512(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb,
                             const float *bias, const float *r, int ldr, float alpha, int gelu, int N, int M, int K,
                             int acc)
{
    if (M == 1 && csa == 1 && ldb == 1 && !acc) {
        gemv_avx512(c, ldc, a, rsa, b, bias, r, ldr, alpha, gelu, N, K);
        return;
    }
    /* k in chunks of KC: B's panel (KC x 64 floats, 256 KiB) then stays in L2 while every row tile
     * of A passes over it; at K 3072 (BERT-base's second FFN product) the whole panel did not, and
     * that product ran at 178 GFLOP/s against 243 at K 768.  Not when C is also the residual. */
    const int KC = K > 1536 && r != c ? 1024 : (K > 0 ? K : 1);
    /* When the chunk's whole B (KC x M) fits in L2 (a sequence or two: batch-1 inference), each
     * tile of A's rows is read once and used for every column block: the weights then come from
     * memory once per forward instead of once per 64 tokens.  Otherwise column blocks outermost,
     * so one block's panel stays in L2 while every row tile passes over it. */
    const gemm_args g = {c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, alpha, gelu, N, M, K, KC, acc};
    if ((size_t)KC * (size_t)M * sizeof(float) <= ((size_t)512 << 10)) {
        for (int k0 = 0; k0 < K || k0 == 0; k0 += KC)
            for (int n0 = 0; n0 < N; n0 += NR)
                for (int m0 = 0; m0 < M; m0 += 16 * MV) one_tile(&g, n0, m0, k0);
    } else {
        for (int m0 = 0; m0 < M; m0 += 16 * MV)
            for (int k0 = 0; k0 < K || k0 == 0; k0 += KC)
                for (int n0 = 0; n0 < N; n0 += NR) one_tile(&g, n0, m0, k0);
    }
}

/* out[c, r] = in[r, c] for a 16 x 16 block, in registers (the classic unpack / shuffle / permute) */
static T512 void transpose16_avx512(float *out, int ldo, const float *in, int ldi)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(in + (size_t)i * ldi);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* r[4q + j] holds column j of the 4x4 sub-blocks of rows 4q..4q+3, in each 128-bit lane */
    for (int j = 0; j < 4; j++) {
        __m512 a = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88), b = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
        __m512 c = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88), d = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
        t[j] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[j + 8] = _mm512_shuffle_f32x4(a, c, 0xDD);
        t[j + 4] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[j + 12] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    for (int i = 0; i < 16; i++) _mm512_storeu_ps(out + (size_t)i * ldo, t[i]);
}
/* ---- the training product (token-major, cblas's row-major semantics) ----
 * C[m, n] = alpha op(A) op(B) (+ C when beta is 1) on core/par's threads.  The work is cut into
 * items of one 64-column block of C by a range of its rows; an item packs its block's B panel
 * (KC_TRAIN x 64, alpha folded in, transposed here when op(B) = B^T) into a contiguous buffer on
 * its own stack, then runs the tile over its rows, chunk by chunk of k.  Every element of C is
 * summed by one item in k order, and beta 1 adds C to that sum: the same bits whatever the number
 * of threads. */
enum { KC_TRAIN = 512, NB = 16 * MV };

typedef struct sgemm_job {
    int ta, tb, m, n, k, lda, ldb, ldc, rs, beta1;
    float alpha;
    const float *a, *b;
    float *c;
} sgemm_job;

/* pack[kk][jj] = alpha op(B)(k0 + kk, j0 + jj) for kk < kc, jj < w */
static T512 void pack_panel(float *pack, const sgemm_job *J, int k0, int kc, int j0, int w)
{
    if (!J->tb) {
        for (int kk = 0; kk < kc; kk++) memcpy(pack + (size_t)kk * NB, J->b + (size_t)(k0 + kk) * J->ldb + j0,
                                               (size_t)w * sizeof(float));
    } else {
        const float *b = J->b + (size_t)j0 * J->ldb + k0;
        int kk = 0;
        if (w == NB)
            for (; kk + 16 <= kc; kk += 16)
                for (int jj = 0; jj < NB; jj += 16)
                    transpose16_avx512(pack + (size_t)kk * NB + jj, NB, b + (size_t)jj * J->ldb + kk, J->ldb);
        for (int jj = 0; jj < w; jj++)
            for (int k2 = kk; k2 < kc; k2++) pack[(size_t)k2 * NB + jj] = b[(size_t)jj * J->ldb + k2];
    }
    if (J->alpha != 1.0f)
        for (int kk = 0; kk < kc; kk++)
            for (int jj = 0; jj < w; jj++) pack[(size_t)kk * NB + jj] *= J->alpha;
}

static T512 void sgemm_items(void *ctx, int64_t lo, int64_t hi)
{
    const sgemm_job *J = ctx;
    _Alignas(64) float pack[KC_TRAIN * NB];
    const int rsa = J->ta ? 1 : J->lda, csa = J->ta ? J->lda : 1, chunked = J->k > KC_TRAIN;
    /* beta 1 adds C to the finished sum, as sgemm does (not the sum onto C term by term), so that
     * gradients accumulated over micro-batches round as the ranks' allreduce of them does; over
     * several chunks the sums wait in `part` (an item's rows x 64) */
    float *part = NULL;
    if (J->beta1 && chunked) part = ofa_xmalloc(((size_t)J->m / J->rs + 2 * NR) * NB * sizeof(float));
    for (int64_t it = lo; it < hi; it++) {
        const int j0 = (int)(it / J->rs) * NB, piece = (int)(it % J->rs);
        const int r0 = (int)((int64_t)J->m * piece / J->rs) / NR * NR;
        const int r1 = piece + 1 == J->rs ? J->m : (int)((int64_t)J->m * (piece + 1) / J->rs) / NR * NR;
        const int w = J->n - j0 < NB ? J->n - j0 : NB, nv = (w + 15) / 16, tail = w - 16 * (nv - 1);
        const __mmask16 last = (__mmask16)(tail == 16 ? 0xFFFF : (1u << tail) - 1);
        for (int k0 = 0; k0 < J->k; k0 += KC_TRAIN) {
            const int kc = J->k - k0 < KC_TRAIN ? J->k - k0 : KC_TRAIN, finish = k0 + KC_TRAIN >= J->k;
            pack_panel(pack, J, k0, kc, j0, w);
            for (int r = r0; r < r1; r += NR) {
                const int nr = r1 - r < NR ? r1 - r : NR;
                float *cr = J->c + (size_t)r * J->ldc + j0, *out = part ? part + (size_t)(r - r0) * NB : cr;
                tile_dispatch(nr, nv, last, out, part ? NB : J->ldc, J->a + (size_t)r * rsa + (size_t)k0 * csa, rsa,
                              csa, pack, NB, NULL, J->beta1 && finish ? cr : NULL, J->ldc, 1.0f, 0, kc, k0 > 0,
                              finish, NULL, 0);
            }
        }
        if (part)
            for (int r = r0; r < r1; r++)
                memcpy(J->c + (size_t)r * J->ldc + j0, part + (size_t)(r - r0) * NB, (size_t)w * sizeof(float));
    }
    free(part);
}

static T512 void sgemm_avx512(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                              const float *b, int ldb, int beta1, float *c, int ldc)
{
    /* at least 8 items when C has fewer column blocks, rows cut no finer than 96 (a panel's packing
     * then stays under a fiftieth of the item's multiply-adds) */
    const int nb = (n + NB - 1) / NB;
    int rs = nb >= 8 ? 1 : (8 + nb - 1) / nb;
    if (rs > m / 96) rs = m / 96 > 1 ? m / 96 : 1;
    sgemm_job J = {ta, tb, m, n, k, lda, ldb, ldc, rs, beta1, alpha, a, b, c};
    /* a product under ~4 M multiply-adds (about 0.1 ms on one core) stays on the calling thread:
     * waking the workers costs more than they save (the CycleGAN's small convolutions) */
    const int64_t items = (int64_t)nb * rs, macs = (int64_t)m * n * k;
    ofa_par_for(items, macs < ((int64_t)1 << 22) ? items : 1, sgemm_items, &J);
}

/* column softmax of S [L, T] (ld T) in place, scale applied first */
static T512 void softmax_cols_avx512(float *s, int T, int L, float scale)
{
    for (int t0 = 0; t0 < T; t0 += 16) {
        const __mmask16 mk = (__mmask16)(T - t0 >= 16 ? 0xFFFF : (1u << (T - t0)) - 1);
        __m512 mx = _mm512_set1_ps(-INFINITY), sum = _mm512_setzero_ps();
        for (int j = 0; j < L; j++) mx = _mm512_max_ps(mx, _mm512_maskz_loadu_ps(mk, s + (size_t)j * T + t0));
        const __m512 sc = _mm512_set1_ps(scale), off = _mm512_mul_ps(mx, sc);
        for (int j = 0; j < L; j++) {
            float *p = s + (size_t)j * T + t0;
            __m512 e = v_exp(_mm512_fmsub_ps(_mm512_maskz_loadu_ps(mk, p), sc, off));
            sum = _mm512_add_ps(sum, e);
            _mm512_mask_storeu_ps(p, mk, e);
        }
        const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
        for (int j = 0; j < L; j++) {
            float *p = s + (size_t)j * T + t0;
            _mm512_mask_storeu_ps(p, mk, _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, p), inv));
        }
    }
}

/* statistics in float: two passes (mean, then squared deviations) over C values per lane */
static T512 void layernorm_avx512(float *y, const float *x, int ld, const float *g, const float *b, int C, int M,
                                  double eps)
{
    const __m512 inv_c = _mm512_set1_ps(1.0f / (float)C), e = _mm512_set1_ps((float)eps);
    for (int t0 = 0; t0 < M; t0 += 16) {
        const __mmask16 mk = (__mmask16)(M - t0 >= 16 ? 0xFFFF : (1u << (M - t0)) - 1);
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        int c = 0;
        for (; c + 1 < C; c += 2) {
            s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(mk, x + (size_t)c * ld + t0));
            s1 = _mm512_add_ps(s1, _mm512_maskz_loadu_ps(mk, x + (size_t)(c + 1) * ld + t0));
        }
        if (c < C) s0 = _mm512_add_ps(s0, _mm512_maskz_loadu_ps(mk, x + (size_t)c * ld + t0));
        const __m512 mean = _mm512_mul_ps(_mm512_add_ps(s0, s1), inv_c);
        __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
        for (c = 0; c + 1 < C; c += 2) {
            __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + (size_t)c * ld + t0), mean);
            __m512 d1 = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + (size_t)(c + 1) * ld + t0), mean);
            v0 = _mm512_fmadd_ps(d0, d0, v0);
            v1 = _mm512_fmadd_ps(d1, d1, v1);
        }
        if (c < C) {
            __m512 d0 = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + (size_t)c * ld + t0), mean);
            v0 = _mm512_fmadd_ps(d0, d0, v0);
        }
        const __m512 var = _mm512_fmadd_ps(_mm512_add_ps(v0, v1), inv_c, e);
        const __m512 rstd = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(var));
        for (c = 0; c < C; c++) {
            __m512 norm = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mk, x + (size_t)c * ld + t0), mean), rstd);
            __m512 out = _mm512_fmadd_ps(norm, _mm512_set1_ps(g[c]), _mm512_set1_ps(b ? b[c] : 0.0f));
            _mm512_mask_storeu_ps(y + (size_t)c * ld + t0, mk, out);
        }
    }
}

#else
#define HAVE_AVX512_PATH 0
#endif

/* ---- public ---- */

void nn_fm_gemm(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb, const float *bias,
                const float *r, int ldr, float alpha, int gelu, int N, int M, int K)
{
    if (N <= 0 || M <= 0) return;
    OFA_ASSERT(r != c || ldr == ldc);
#if HAVE_AVX512_PATH
    if (resolved() == NN_FM_AVX512) {
        gemm_avx512(c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, alpha, gelu, N, M, K, 0);
        return;
    }
#endif
    gemm_portable(c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, alpha, gelu, N, M, K, 0);
}

void nn_fm_gemm_acc(float *c, int ldc, const float *a, int rsa, int csa, const float *b, int ldb, const float *bias,
                    const float *r, int ldr, int gelu, int N, int M, int K)
{
    if (N <= 0 || M <= 0) return;
    OFA_ASSERT(r != c);
#if HAVE_AVX512_PATH
    if (resolved() == NN_FM_AVX512) {
        gemm_avx512(c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, 1.0f, gelu, N, M, K, 1);
        return;
    }
#endif
    gemm_portable(c, ldc, a, rsa, csa, b, ldb, bias, r, ldr, 1.0f, gelu, N, M, K, 1);
}

void nn_fm_sgemm(int transa, int transb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                 int ldb, float beta, float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
#if HAVE_AVX512_PATH
    if (resolved() == NN_FM_AVX512 && k > 0 && (beta == 0.0f || beta == 1.0f)) {
        sgemm_avx512(transa, transb, m, n, k, alpha, a, lda, b, ldb, beta == 1.0f, c, ldc);
        return;
    }
#endif
    cblas_sgemm(CblasRowMajor, transa ? CblasTrans : CblasNoTrans, transb ? CblasTrans : CblasNoTrans, m, n, k, alpha,
                a, lda, b, ldb, beta, c, ldc);
}

void nn_fm_layernorm(float *y, const float *x, int ld, const float *g, const float *b, int C, int M, double eps)
{
#if HAVE_AVX512_PATH
    if (resolved() == NN_FM_AVX512) {
        layernorm_avx512(y, x, ld, g, b, C, M, eps);
        return;
    }
#endif
    for (int t = 0; t < M; t++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[(size_t)c * ld + t];
        m /= C;
        for (int c = 0; c < C; c++) v += ((double)x[(size_t)c * ld + t] - m) * ((double)x[(size_t)c * ld + t] - m);
        double s = 1.0 / sqrt(v / C + eps);
        for (int c = 0; c < C; c++)
            y[(size_t)c * ld + t] = (float)(((double)x[(size_t)c * ld + t] - m) * s) * g[c] + (b ? b[c] : 0.0f);
    }
}

static void softmax_cols(float *s, int T, int L, float scale)
{
#if HAVE_AVX512_PATH
    if (resolved() == NN_FM_AVX512) {
        softmax_cols_avx512(s, T, L, scale);
        return;
    }
#endif
    for (int t = 0; t < T; t++) {
        float mx = -INFINITY;
        for (int j = 0; j < L; j++) mx = fmaxf(mx, s[(size_t)j * T + t]);
        double sum = 0;
        for (int j = 0; j < L; j++) {
            float *p = s + (size_t)j * T + t;
            *p = expf(*p * scale - mx * scale);
            sum += *p;
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < L; j++) s[(size_t)j * T + t] *= inv;
    }
}

void nn_fm_attention(float *ctx, int ldc, const float *q, int ldq, int Tq, const float *k, const float *v, int ld,
                     int T, int L, int D, float scale, float hmul, float *scratch)
{
    OFA_ASSERT(L >= 0 && L <= T && D >= 1 && Tq >= 1);
    if (L == 0) {
        for (int d = 0; d < D; d++) memset(ctx + (size_t)d * ldc, 0, (size_t)Tq * sizeof(float));
        return;
    }
    /* S^T[j, t] = sum_d K^T[d, j] Q^T[d, t]: A = K viewed transposed (rows j, columns d) */
    nn_fm_gemm(scratch, Tq, k, 1, ld, q, ldq, NULL, NULL, 0, 1.0f, 0, L, Tq, D);
    softmax_cols(scratch, Tq, L, scale);
    /* ctx^T[d, t] = hmul sum_j V^T[d, j] P^T[j, t] */
    nn_fm_gemm(ctx, ldc, v, ld, 1, scratch, Tq, NULL, NULL, 0, hmul, 0, D, Tq, L);
}

void nn_fm_attention_folded(float *ctx, int ldc, const float *q, int ldq, const float *wk, int ldk, const float *wv,
                            int ldv, const float *bv, const float *x, int ld, int L, int D, int E, float scale,
                            float *scratch)
{
    OFA_ASSERT(L >= 0 && D >= 1 && E >= 1);
    if (L == 0) {
        for (int d = 0; d < D; d++) ctx[(size_t)d * ldc] = 0.0f;
        return;
    }
    float *u = scratch, *xbar = u + E, *s = xbar + E;
    /* u [1, E] = scale q^T W_k: A(0, d) = q[d * ldq], B = W_k [D, E] */
    nn_fm_gemm(u, E, q, 1, ldq, wk, ldk, NULL, NULL, 0, scale, 0, 1, E, D);
    /* s [1, L] = u^T x */
    nn_fm_gemm(s, L, u, E, 1, x, ld, NULL, NULL, 0, 1.0f, 0, 1, L, E);
    softmax_cols(s, 1, L, 1.0f);
    /* xbar [E] = x p, then ctx [D] = W_v xbar + b_v (one column each: dot products) */
    nn_fm_gemm(xbar, 1, x, ld, 1, s, 1, NULL, NULL, 0, 1.0f, 0, E, 1, L);
    nn_fm_gemm(ctx, ldc, wv, ldv, 1, xbar, 1, bv, NULL, 0, 1.0f, 0, D, 1, E);
}

void nn_fm_transpose(float *out, int ldo, const float *in, int ldi, int R, int C)
{
    enum { BS = 16 };
    const int fast = resolved() == NN_FM_AVX512;
    (void)fast;
    for (int r0 = 0; r0 < R; r0 += BS)
        for (int c0 = 0; c0 < C; c0 += BS) {
            int r1 = r0 + BS < R ? r0 + BS : R, c1 = c0 + BS < C ? c0 + BS : C;
#if HAVE_AVX512_PATH
            if (fast && r1 - r0 == BS && c1 - c0 == BS) {
                transpose16_avx512(out + (size_t)c0 * ldo + r0, ldo, in + (size_t)r0 * ldi + c0, ldi);
                continue;
            }
#endif
            for (int r = r0; r < r1; r++)
                for (int c = c0; c < c1; c++) out[(size_t)c * ldo + r] = in[(size_t)r * ldi + c];
        }
}
