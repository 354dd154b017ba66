/* Suite fm: the feature-major inference kernels (nn/fm.h) and the inference forward
 * (supernet/infer.h), on both paths (AVX-512 when the CPU has it, and the portable OpenBLAS one).
 *
 * References are independent of the code under test: the GEMM against a double-precision triple
 * loop, LayerNorm and attention against the token-major training kernels (nn/nn.h, themselves
 * checked against PyTorch and finite differences), and ofa_bert_infer against ofa_bert_forward
 * for several subnets, batches with padding, and an elastic hidden size.  Tolerances: float sums
 * in another order differ by a few ulps per term; 2e-5 relative (floor 1e-3 in absolute terms of
 * the row's scale) covers K up to a few hundred with margin, and a wrong index or a missed term
 * is off by O(1). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/par.h"
#include "core/rng.h"
#include "nn/fm.h"
#include "nn/nn.h"
#include "nn/strassen.h"
#include "models/bert/arch.h"
#include "models/bert/bert.h"
#include "models/bert/infer.h"
#include "tests/testutil.h"

static float *rnd(size_t n, ofa_rng *rng)
{
    float *p = ofa_xalloc_aligned((n + 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = (float)(2 * ofa_rng_uniform(rng) - 1);
    return p;
}

static double gelu_d(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }

/* both paths when the CPU has AVX-512; the portable one alone otherwise */
static int n_paths(void)
{
    nn_fm_path p = nn_fm_set_path(NN_FM_AVX512);
    nn_fm_set_path(NN_FM_AUTO);
    return p == NN_FM_AVX512 ? 2 : 1;
}

static void use_path(int i) { nn_fm_set_path(i == 0 ? NN_FM_PORTABLE : NN_FM_AVX512); }

static void test_gemm(void)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, 11);
    /* shapes around the tile edges: N vs 6 rows, M vs 16-column vectors and 64-column blocks, K vs
     * the dot-product path's 32/16-wide steps, and a K the AVX-512 path takes in chunks (1024 + 576) */
    const int Ns[] = {1, 5, 6, 7, 13}, Ms[] = {1, 15, 16, 17, 64, 70, 129}, Ks[] = {0, 1, 9, 50, 64, 1600};
    int checked = 0, bad = 0;
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
            for (size_t mi = 0; mi < sizeof Ms / sizeof *Ms; mi++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                    for (int variant = 0; variant < 5; variant++) {
                        const int N = Ns[ni], M = Ms[mi], K = Ks[ki];
                        /* variant: 0 plain, 1 bias + GELU (alpha 0.5), 2 transposed A + residual, 3 in-place
                         * residual + bias, 4 residual + GELU; residuals other than C have their own stride.
                         * One column with contiguous B takes the dot-product path. */
                        const int trans = variant == 2, lda = K + 3, ldb = M == 1 && !trans ? 1 : M + 5;
                        const int ldc = M + 2, ldr = variant == 3 ? ldc : M + 7;
                        float *a = rnd((size_t)(trans ? (K > 0 ? K : 1) * (N + 4) : N * lda), &rng);
                        float *b = rnd((size_t)(K > 0 ? K : 1) * ldb, &rng), *bias = rnd((size_t)N, &rng);
                        float *c = rnd((size_t)N * ldc, &rng), *r = rnd((size_t)N * ldr, &rng);
                        float *c0 = ofa_xmalloc((size_t)N * ldc * sizeof(float));
                        memcpy(c0, c, (size_t)N * ldc * sizeof(float));
                        const int rsa = trans ? 1 : lda, csa = trans ? N + 4 : 1, gelu = variant == 1 || variant == 4;
                        const float alpha = variant == 1 ? 0.5f : 1.0f;
                        const float *R = variant == 2 || variant == 4 ? r : variant == 3 ? c : NULL;
                        const float *bb = variant == 1 || variant == 3 ? bias : NULL;
                        double *ref = ofa_xmalloc((size_t)N * M * sizeof(double));
                        for (int n = 0; n < N; n++)
                            for (int m = 0; m < M; m++) {
                                double sum = 0;
                                for (int k = 0; k < K; k++)
                                    sum += (double)a[(size_t)n * rsa + (size_t)k * csa] * b[(size_t)k * ldb + m];
                                sum = alpha * sum + (bb ? bb[n] : 0) + (R ? R[(size_t)n * ldr + m] : 0);
                                ref[(size_t)n * M + m] = gelu ? gelu_d(sum) : sum;
                            }
                        nn_fm_gemm(c, ldc, a, rsa, csa, b, ldb, bb, R, ldr, alpha, gelu, N, M, K);
                        for (int n = 0; n < N; n++) {
                            for (int m = 0; m < M; m++) {
                                double want = ref[(size_t)n * M + m], got = c[(size_t)n * ldc + m];
                                if (fabs(got - want) > 2e-5 * (fabs(want) + 1 + sqrt((double)K))) {
                                    if (bad++ < 5)
                                        fprintf(stderr, "\n  gemm %s N%d M%d K%d variant %d: C[%d,%d] = %.7g, want %.7g",
                                                nn_fm_path_name(), N, M, K, variant, n, m, got, want);
                                }
                                checked++;
                            }
                            /* columns past M are untouched */
                            for (int m = M; m < ldc; m++)
                                if (c[(size_t)n * ldc + m] != c0[(size_t)n * ldc + m] && bad++ < 5)
                                    fprintf(stderr, "\n  gemm %s N%d M%d K%d variant %d: wrote C[%d,%d] past M",
                                            nn_fm_path_name(), N, M, K, variant, n, m);
                        }
                        free(ref);
                        free(a);
                        free(b);
                        free(bias);
                        free(c);
                        free(c0);
                        free(r);
                    }
    }
    nn_fm_set_path(NN_FM_AUTO);
    CU_ASSERT(checked > 10000);
    CU_ASSERT_EQUAL(bad, 0);
}

/* nn_fm_sgemm, the training product (cblas semantics, row-major): every transpose pair, beta 0 and 1,
 * alpha 1 and not, leading dimensions wider than the matrices, shapes around the tile's edges, a
 * 16-wide transpose's remainder, k in two chunks (600 > 512) and rows cut in two items (200 rows of
 * 3 column blocks); against a double triple loop, and on the AVX-512 path the same bits at 1, 2 and 3
 * threads, and beta 1 bitwise C + the beta-0 product.  Columns past n stay untouched. */
static void test_train_gemm(void)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, 13);
    const int Ms[] = {1, 7, 200}, Ns[] = {1, 17, 70, 129}, Ks[] = {1, 17, 600};
    int checked = 0, bad = 0, differ = 0;
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (int tr = 0; tr < 4; tr++)
            for (int beta = 0; beta < 2; beta++)
                for (size_t mi = 0; mi < 3; mi++)
                    for (size_t ni = 0; ni < 4; ni++)
                        for (size_t ki = 0; ki < 3; ki++) {
                            const int ta = tr & 1, tb = tr >> 1, m = Ms[mi], n = Ns[ni], k = Ks[ki];
                            const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
                            const float alpha = (ni + ki) % 2 ? 0.75f : 1.0f;
                            float *a = rnd((size_t)(ta ? k : m) * lda, &rng), *b = rnd((size_t)(tb ? n : k) * ldb, &rng);
                            float *c = rnd((size_t)m * ldc, &rng), *c0 = ofa_xmalloc((size_t)m * ldc * sizeof(float));
                            memcpy(c0, c, (size_t)m * ldc * sizeof(float));
                            nn_fm_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, (float)beta, c, ldc);
                            for (int i = 0; i < m; i++)
                                for (int j = 0; j < ldc; j++) {
                                    const double got = c[(size_t)i * ldc + j];
                                    if (j >= n) {
                                        if (got != c0[(size_t)i * ldc + j] && bad++ < 5)
                                            fprintf(stderr, "\n  sgemm ta%d tb%d m%d n%d k%d: wrote C[%d,%d] past n", ta,
                                                    tb, m, n, k, i, j);
                                        continue;
                                    }
                                    double want = beta ? c0[(size_t)i * ldc + j] : 0;
                                    for (int q = 0; q < k; q++)
                                        want += (double)alpha * a[ta ? (size_t)q * lda + i : (size_t)i * lda + q] *
                                                b[tb ? (size_t)j * ldb + q : (size_t)q * ldb + j];
                                    if (fabs(got - want) > 2e-5 * (fabs(want) + 1 + sqrt((double)k)) && bad++ < 5)
                                        fprintf(stderr, "\n  sgemm %s ta%d tb%d beta%d m%d n%d k%d: C[%d,%d] = %.7g, want %.7g",
                                                nn_fm_path_name(), ta, tb, beta, m, n, k, i, j, got, want);
                                    checked++;
                                }
                            if (path == 1 && beta) { /* beta 1 is C + (the beta-0 product), bitwise: micro-batches
                                                       * then accumulate as the ranks' allreduce sums them */
                                float *z = ofa_xalloc_aligned((size_t)m * ldc * sizeof(float));
                                nn_fm_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0.0f, z, ldc);
                                for (int i = 0; i < m; i++)
                                    for (int j = 0; j < n; j++)
                                        if (c[(size_t)i * ldc + j] != c0[(size_t)i * ldc + j] + z[(size_t)i * ldc + j])
                                            differ++;
                                free(z);
                            }
                            if (path == 1 && m == 200 && k == 600) /* the AVX-512 product at 1 and 3 threads */
                                for (int t = 1; t <= 3; t += 2) {
                                    float *ct = ofa_xmalloc((size_t)m * ldc * sizeof(float));
                                    memcpy(ct, c0, (size_t)m * ldc * sizeof(float));
                                    ofa_par_set_threads(t);
                                    nn_fm_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, (float)beta, ct, ldc);
                                    differ += memcmp(ct, c, (size_t)m * ldc * sizeof(float)) != 0;
                                    free(ct);
                                }
                            ofa_par_set_threads(2);
                            free(a);
                            free(b);
                            free(c);
                            free(c0);
                        }
    }
    nn_fm_set_path(NN_FM_AUTO);
    ofa_par_set_threads(1);
    CU_ASSERT(checked > 100000);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(differ, 0);
}

static void test_gemm_masked_tail(void)
{
    /* stores stop at column M: the padding of C keeps its values */
    ofa_rng rng;
    ofa_rng_seed(&rng, 12);
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        const int N = 7, M = 21, K = 5, ldc = 40;
        float *a = rnd(N * K, &rng), *b = rnd(K * M, &rng), *c = ofa_xalloc_aligned(N * ldc * sizeof(float));
        for (int i = 0; i < N * ldc; i++) c[i] = 42.0f;
        nn_fm_gemm(c, ldc, a, K, 1, b, M, NULL, NULL, 0, 1.0f, 1, N, M, K);
        int kept = 1;
        for (int n = 0; n < N; n++)
            for (int m = M; m < ldc; m++) kept &= c[n * ldc + m] == 42.0f;
        CU_ASSERT(kept);
        free(a);
        free(b);
        free(c);
    }
    nn_fm_set_path(NN_FM_AUTO);
}

static void test_transpose(void)
{
    const int R = 37, C = 50, ldi = 53, ldo = 41; /* full 16 x 16 blocks and ragged edges */
    float *in = ofa_xmalloc((size_t)R * ldi * sizeof(float)), *out = ofa_xmalloc((size_t)C * ldo * sizeof(float));
    for (int i = 0; i < R * ldi; i++) in[i] = (float)i;
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (int i = 0; i < C * ldo; i++) out[i] = -1;
        nn_fm_transpose(out, ldo, in, ldi, R, C);
        int bad = 0;
        for (int c = 0; c < C; c++)
            for (int r = 0; r < ldo; r++)
                bad += out[(size_t)c * ldo + r] != (r < R ? in[(size_t)r * ldi + c] : -1.0f);
        CU_ASSERT_EQUAL(bad, 0);
    }
    nn_fm_set_path(NN_FM_AUTO);
    free(in);
    free(out);
}

static void test_layernorm_and_attention(void)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, 13);
    const int C = 40, T = 37, D = 8, A = 3, W = A * D;
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        /* LayerNorm: feature-major vs token-major */
        float *x = rnd((size_t)T * C, &rng), *g = rnd(C, &rng), *bt = rnd(C, &rng);
        float *y = ofa_xalloc_aligned((size_t)T * C * sizeof(float)), *xt = ofa_xalloc_aligned((size_t)T * C * sizeof(float));
        float *yt = ofa_xalloc_aligned((size_t)T * C * sizeof(float)), *back = ofa_xalloc_aligned((size_t)T * C * sizeof(float));
        for (int i = 0; i < T * C; i++) x[i] = 3 * x[i] + 0.5f;
        nn_layernorm_fwd_f32(y, NULL, NULL, x, g, bt, T, C, 1e-12);
        nn_fm_transpose(xt, T, x, C, T, C);
        nn_fm_layernorm(yt, xt, T, g, bt, C, T, 1e-12);
        nn_fm_transpose(back, C, yt, T, C, T);
        CU_ASSERT(tu_max_rel_err("fm layernorm", back, y, (size_t)T * C, 1.0, 1e-6) <= 1e-6);
        /* attention of one sequence, every head, keys limited to L */
        float *q = rnd((size_t)T * W, &rng), *k = rnd((size_t)T * W, &rng), *v = rnd((size_t)T * W, &rng);
        float *ctx = ofa_xalloc_aligned((size_t)T * W * sizeof(float)), *probs = ofa_xalloc_aligned((size_t)A * T * T * sizeof(float));
        float *qt = ofa_xalloc_aligned((size_t)T * W * sizeof(float)), *kt = ofa_xalloc_aligned((size_t)T * W * sizeof(float));
        float *vt = ofa_xalloc_aligned((size_t)T * W * sizeof(float)), *ct = ofa_xalloc_aligned((size_t)T * W * sizeof(float));
        float *cb = ofa_xalloc_aligned((size_t)T * W * sizeof(float)), *s = ofa_xalloc_aligned((size_t)T * T * sizeof(float));
        nn_fm_transpose(qt, T, q, W, T, W);
        nn_fm_transpose(kt, T, k, W, T, W);
        nn_fm_transpose(vt, T, v, W, T, W);
        const int Ls[] = {T, 20, 1, 0};
        for (size_t li = 0; li < 4; li++) {
            int32_t L = Ls[li];
            const float hm[] = {1.0f, 0.5f, 2.0f};
            nn_attention_fwd_f32(ctx, W, probs, q, k, v, W, &L, hm, 1, T, A, D, 1.0 / sqrt((double)D));
            for (int h = 0; h < A; h++)
                nn_fm_attention(ct + (size_t)h * D * T, T, qt + (size_t)h * D * T, T, T, kt + (size_t)h * D * T,
                                vt + (size_t)h * D * T, T, T, L, D, (float)(1.0 / sqrt((double)D)), hm[h], s);
            nn_fm_transpose(cb, W, ct, T, W, T);
            char name[64];
            snprintf(name, sizeof name, "fm attention %s L=%d", nn_fm_path_name(), L);
            CU_ASSERT(tu_max_rel_err(name, cb, ctx, (size_t)T * W, 1.0, 2e-6) <= 2e-6);
            /* one query alone (Tq 1, compact q and ctx: strides 1, not T) gives its column of the
             * above, to float rounding (the one-column products sum in another order) */
            float *q1 = ofa_xalloc_aligned((size_t)D * sizeof(float)), *c1 = ofa_xalloc_aligned((size_t)D * sizeof(float));
            float *want = ofa_xalloc_aligned((size_t)D * sizeof(float));
            for (int h = 0; h < A; h++)
                for (int t = 0; t < T; t += T > 1 ? T - 1 : 1) {
                    for (int dd = 0; dd < D; dd++) {
                        q1[dd] = qt[(size_t)(h * D + dd) * T + t];
                        want[dd] = ct[(size_t)(h * D + dd) * T + t];
                    }
                    nn_fm_attention(c1, 1, q1, 1, 1, kt + (size_t)h * D * T, vt + (size_t)h * D * T, T, T, L, D,
                                    (float)(1.0 / sqrt((double)D)), hm[h], s);
                    snprintf(name, sizeof name, "fm attention one query %s L=%d h=%d t=%d", nn_fm_path_name(), L, h, t);
                    CU_ASSERT(tu_max_rel_err(name, c1, want, (size_t)D, 1.0, 1e-6) <= 1e-6);
                }
            free(q1);
            free(c1);
            free(want);
        }
        float **f[] = {&x, &g, &bt, &y, &xt, &yt, &back, &q, &k, &v, &ctx, &probs, &qt, &kt, &vt, &ct, &cb, &s};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
    }
    nn_fm_set_path(NN_FM_AUTO);
}

/* nn_fm_attention_folded == nn_fm_attention over keys and values projected in double (with a key
 * bias, which the fold drops), for each head of a layer, strided q, x and ctx, and shorter L */
static void test_attention_folded(void)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, 21);
    const int E = 40, T = 37, D = 8, A = 3, W = A * D, ld = 45, ldw = 43;
    /* ldq 1 as at batch 1 (the portable path then takes another cblas form), 5 as at batch 5 */
    for (int run = 0; run < 2 * n_paths(); run++) {
        const int ldq = run % 2 ? 5 : 1, col = ldq > 1 ? 2 : 0, out = ldq > 1 ? 3 : 0;
        use_path(run / 2);
        float *x = rnd((size_t)E * ld, &rng), *wk = rnd((size_t)W * ldw, &rng), *wv = rnd((size_t)W * ldw, &rng);
        float *bk = rnd(W, &rng), *bv = rnd(W, &rng), *q = rnd((size_t)W * ldq, &rng);
        float *k = ofa_xalloc_aligned((size_t)W * T * sizeof(float)), *v = ofa_xalloc_aligned((size_t)W * T * sizeof(float));
        float *want = ofa_xalloc_aligned((size_t)D * sizeof(float)), *got = ofa_xalloc_aligned((size_t)D * ldq * sizeof(float));
        float *s = ofa_xalloc_aligned((size_t)(2 * E + T) * sizeof(float));
        for (int i = 0; i < W; i++) {
            bk[i] *= 4; /* a key bias that would change every score if it were not dropped exactly */
            for (int t = 0; t < T; t++) {
                double sk = bk[i], sv = bv[i];
                for (int e = 0; e < E; e++) {
                    sk += (double)wk[(size_t)i * ldw + e] * x[(size_t)e * ld + t];
                    sv += (double)wv[(size_t)i * ldw + e] * x[(size_t)e * ld + t];
                }
                k[(size_t)i * T + t] = (float)sk;
                v[(size_t)i * T + t] = (float)sv;
            }
        }
        const float scale = (float)(1.0 / sqrt((double)D));
        const int Ls[] = {T, 20, 1, 0};
        for (size_t li = 0; li < 4; li++)
            for (int h = 0; h < A; h++) {
                const size_t r = (size_t)h * D;
                const float *qh = q + r * ldq + col; /* column col of a [W, ldq] block */
                nn_fm_attention(want, 1, qh, ldq, 1, k + r * T, v + r * T, T, T, Ls[li], D, scale, 1.0f, s);
                nn_fm_attention_folded(got + out, ldq, qh, ldq, wk + r * ldw, ldw, wv + r * ldw, ldw, bv + r, x, ld,
                                       Ls[li], D, E, scale, s);
                float g[8];
                for (int dd = 0; dd < D; dd++) g[dd] = got[out + (size_t)dd * ldq];
                char name[80];
                snprintf(name, sizeof name, "fm attention folded %s ldq=%d L=%d h=%d", nn_fm_path_name(), ldq, Ls[li],
                         h);
                CU_ASSERT(tu_max_rel_err(name, g, want, (size_t)D, 1.0, 1e-5) <= 1e-5);
            }
        float **f[] = {&x, &wk, &wv, &bk, &bv, &q, &k, &v, &want, &got, &s};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
    }
    nn_fm_set_path(NN_FM_AUTO);
}

/* ofa_bert_infer == ofa_bert_forward on subnets, padded batches, an elastic hidden size, heads wider
 * than hidden / heads (A*D > H), an exported-style model with pruned layers, and one-token inputs */
static void check_infer(const ofa_bert *m, const char *const *archs, int n_archs, int T, const char *what)
{
    const ofa_bert_dims *d = &m->d;
    ofa_rng rng;
    ofa_rng_seed(&rng, 15);
    enum { B = 3 };
    int32_t *ids = ofa_xmalloc((size_t)B * T * sizeof *ids), *types = ofa_xmalloc((size_t)B * T * sizeof *types);
    int32_t lens[B] = {T, T > 1 ? T / 2 + 1 : 1, T > 4 ? 5 : 1};
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)d->V);
        types[i] = (i % T) > T / 3;
    }
    ofa_bert_acts ref;
    ofa_bert_acts_create(&ref, d, B, T);
    ofa_bert_infer_ws got;
    ofa_bert_infer_ws_create(&got, d, B, T);
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (int ai = 0; ai < n_archs; ai++) {
            ofa_bert_arch a;
            if (archs[ai]) CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, archs[ai], d->L, d->H, OFA_DEPTH_DYNABERT), 0);
            for (int bsz = 1; bsz <= B; bsz += 2) {
                const float *lr = ofa_bert_forward(m, &ref, ids, types, lens, bsz, T, archs[ai] ? &a : NULL, 0, 0.0, NULL);
                const float *lg = ofa_bert_infer(m, &got, ids, types, lens, bsz, T, archs[ai] ? &a : NULL);
                char name[128];
                snprintf(name, sizeof name, "infer %s %s %s B=%d T=%d", what, nn_fm_path_name(),
                         archs[ai] ? archs[ai] : "full", bsz, T);
                CU_ASSERT(tu_max_rel_err(name, lg, lr, (size_t)bsz * d->C, 1.0, 2e-5) <= 2e-5);
            }
        }
    }
    nn_fm_set_path(NN_FM_AUTO);
    ofa_bert_acts_free(&ref);
    ofa_bert_infer_ws_free(&got);
    free(ids);
    free(types);
}

static void perturb_at(ofa_bert *m, uint64_t seed, double scale)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    ofa_bert_init_weights(m, &rng, scale);
    /* LayerNorm parameters and biases away from 1/0 so a dropped one shows */
    for (int i = 0; i < m->p.n; i++)
        if (m->p.views[i].ndim == 1)
            for (size_t j = 0; j < m->p.views[i].numel; j++)
                m->p.data[m->p.views[i].offset + j] += (float)(0.2 * ofa_rng_normal(&rng));
}

static void perturb(ofa_bert *m, uint64_t seed) { perturb_at(m, seed, 0.3); }

static void test_infer_matches_forward(void)
{
    /* head size 16: 4 heads are 64 wide, more than the hidden 48 */
    const ofa_bert_dims d = {.V = 97, .P = 40, .H = 48, .A = 4, .F = 80, .L = 4, .C = 3, .D = 16};
    ofa_bert m;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&m, &d), 0);
    perturb(&m, 14);
    const char *archs[] = {NULL, "d2-h1.3-f20.80", "d3-h4.2.1-f80.40.7", "d1-h2-f33-e40", "d4-h4.4.4.4-f80.80.80.80-e24"};
    check_infer(&m, archs, 5, 40, "supernet"); /* 3 x 40 tokens: row stride 144 (padded past 128) */
    check_infer(&m, archs, 5, 33, "supernet");
    check_infer(&m, archs, 2, 1, "supernet"); /* one token: one-column products */
    ofa_bert_free(&m);
    /* stored per-layer widths (an exported subnet's shape): leading dimensions differ per layer */
    const int heads[] = {3, 4, 2, 4}, ffn[] = {80, 50, 80, 33};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create_shaped(&m, &d, heads, ffn), 0);
    perturb(&m, 16);
    const char *shaped[] = {NULL, "d2-h2.4-f50.20", "d3-h1.2.4-f9.30.33"};
    check_infer(&m, shaped, 3, 33, "shaped");
    ofa_bert_free(&m);
}

/* nn_fm_gemm_acc and nn_sw_gemm (one level of Strassen-Winograd on prepared weights) against a
 * double triple loop, on both paths: shapes with odd half-sizes, bias, residual and GELU, K 0 for
 * the accumulating product, and weights given as one block or as three stacked blocks of their own
 * strides (the Q, K, V projections).  Strassen's rounding error is about twice the classical
 * product's; the bound is the one test_gemm holds the classical product to. */
static void test_strassen(void)
{
    ofa_rng rng;
    ofa_rng_seed(&rng, 21);
    const int shapes[][3] = {{2, 2, 2}, {10, 14, 34}, {18, 130, 140}, {6, 6, 130}}; /* N, K, M */
    int checked = 0, bad = 0;
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
            for (int variant = 0; variant < 6; variant++) {
                const int N = shapes[si][0], K = shapes[si][1], M = shapes[si][2];
                /* variant: 0 plain, 1 bias + GELU, 2 residual, 3 bias + residual + GELU (each with W in one
                 * block); 4 and 5 as 1 and 3 with W in three blocks; acc: C starts from its values */
                const int parts = variant >= 4 ? 3 : 1, gelu = variant == 1 || variant == 3 || variant >= 4;
                const int has_bias = variant != 0 && variant != 2, has_r = variant == 2 || variant == 3 || variant == 5;
                const int ldx = M + 3, ldc = M + 5, ldr = M + 1;
                int rows[3] = {N, 0, 0}, ld[3] = {K + 2, K + 7, K};
                if (parts == 3) rows[0] = N / 2 - 1 > 0 ? N / 2 - 1 : 1, rows[1] = 1, rows[2] = N - rows[0] - 1;
                float *wb[3];
                const float *wp[3];
                for (int b = 0; b < parts; b++) wp[b] = wb[b] = rnd((size_t)rows[b] * ld[b] + 1, &rng);
                float *x = rnd((size_t)K * ldx, &rng), *bias = rnd((size_t)N, &rng), *r = rnd((size_t)N * ldr, &rng);
                float *c = rnd((size_t)N * ldc, &rng), *c0 = ofa_xmalloc((size_t)N * ldc * sizeof(float));
                memcpy(c0, c, (size_t)N * ldc * sizeof(float));
                double *ref = ofa_xmalloc((size_t)N * M * sizeof(double)), *acc = ofa_xmalloc((size_t)N * M * sizeof(double));
                for (int n = 0, b = 0, nb = 0; n < N; n++, nb++) {
                    while (nb >= rows[b]) nb -= rows[b], b++;
                    const float *wr = wp[b] + (size_t)nb * ld[b];
                    for (int m = 0; m < M; m++) {
                        double sum = 0;
                        for (int k = 0; k < K; k++) sum += (double)wr[k] * x[(size_t)k * ldx + m];
                        const double e = (has_bias ? bias[n] : 0) + (has_r ? r[(size_t)n * ldr + m] : 0);
                        ref[(size_t)n * M + m] = gelu ? gelu_d(sum + e) : sum + e;
                        const double a = c0[(size_t)n * ldc + m] + sum + e;
                        acc[(size_t)n * M + m] = gelu ? gelu_d(a) : a;
                    }
                }
                nn_sw sw;
                nn_sw_prepare(&sw, parts, wp, ld, rows, K);
                float *scratch = ofa_xmalloc(nn_sw_scratch_floats(K, M) * sizeof(float));
                nn_sw_gemm(c, ldc, &sw, x, ldx, has_bias ? bias : NULL, has_r ? r : NULL, ldr, gelu, M, scratch);
                for (int pass = 0; pass < 2; pass++) {
                    const double *want = pass ? acc : ref;
                    if (pass) { /* the accumulating product, on the single-block case's A */
                        if (parts != 1) break;
                        memcpy(c, c0, (size_t)N * ldc * sizeof(float));
                        nn_fm_gemm_acc(c, ldc, wp[0], ld[0], 1, x, ldx, has_bias ? bias : NULL, has_r ? r : NULL, ldr,
                                       gelu, N, M, K);
                    }
                    for (int n = 0; n < N; n++) {
                        for (int m = 0; m < M; m++, checked++) {
                            const double w = want[(size_t)n * M + m], got = c[(size_t)n * ldc + m];
                            if (fabs(got - w) > 2e-5 * (fabs(w) + 1 + sqrt((double)K)) && bad++ < 5)
                                fprintf(stderr, "\n  %s %s N%d K%d M%d variant %d: C[%d,%d] = %.7g, want %.7g",
                                        pass ? "gemm_acc" : "strassen", nn_fm_path_name(), N, K, M, variant, n, m, got, w);
                        }
                        for (int m = M; m < ldc; m++) /* columns past M are untouched */
                            if (c[(size_t)n * ldc + m] != c0[(size_t)n * ldc + m] && bad++ < 5)
                                fprintf(stderr, "\n  %s N%d K%d M%d: wrote C[%d,%d] past M", nn_fm_path_name(), N, K, M, n, m);
                    }
                }
                nn_sw_free(&sw);
                for (int b = 0; b < parts; b++) free(wb[b]);
                float **f[] = {&x, &bias, &r, &c, &c0, &scratch};
                for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
                free(ref), free(acc);
            }
    }
    /* nn_fm_gemm_acc alone where the classical product changes course: K 0 (the epilogue on C), a K
     * taken in chunks (1600 = 1024 + 576), one column (the dot-product path when not accumulating) */
    const int acc_shapes[][3] = {{5, 0, 17}, {7, 1600, 3}, {13, 50, 1}};
    for (int path = 0; path < n_paths(); path++) {
        use_path(path);
        for (size_t si = 0; si < sizeof acc_shapes / sizeof *acc_shapes; si++) {
            const int N = acc_shapes[si][0], K = acc_shapes[si][1], M = acc_shapes[si][2], lda = K + 1, ldb = M;
            float *a = rnd((size_t)N * lda + 1, &rng), *b = rnd((size_t)(K > 0 ? K : 1) * ldb, &rng);
            float *bias = rnd((size_t)N, &rng), *r = rnd((size_t)N * M, &rng), *c = rnd((size_t)N * M, &rng);
            double *want = ofa_xmalloc((size_t)N * M * sizeof(double));
            for (int n = 0; n < N; n++)
                for (int m = 0; m < M; m++) {
                    double sum = c[(size_t)n * M + m] + bias[n] + r[(size_t)n * M + m];
                    for (int k = 0; k < K; k++) sum += (double)a[(size_t)n * lda + k] * b[(size_t)k * ldb + m];
                    want[(size_t)n * M + m] = gelu_d(sum);
                }
            nn_fm_gemm_acc(c, M, a, lda, 1, b, ldb, bias, r, M, 1, N, M, K);
            for (size_t i = 0; i < (size_t)N * M; i++, checked++)
                if (fabs(c[i] - want[i]) > 2e-5 * (fabs(want[i]) + 1 + sqrt((double)K)) && bad++ < 5)
                    fprintf(stderr, "\n  gemm_acc %s N%d K%d M%d: C[%zu] = %.7g, want %.7g", nn_fm_path_name(), N, K,
                            M, i, c[i], want[i]);
            free(want), free(a), free(b), free(bias), free(r), free(c);
        }
    }
    nn_fm_set_path(NN_FM_AUTO);
    CU_ASSERT(checked > 0);
    CU_ASSERT_EQUAL(bad, 0);
    /* where it pays: the AVX-512 path at BERT-base's FFN and Q/K/V shapes, not at small ones */
    nn_fm_set_path(NN_FM_PORTABLE);
    CU_ASSERT(!nn_sw_pays(768, 768, 128));
    nn_fm_set_path(NN_FM_AUTO);
    CU_ASSERT(!nn_sw_pays(256, 256, 128) && !nn_sw_pays(768, 768, 64) && !nn_sw_pays(768, 769, 128));
    if (n_paths() == 2 && !getenv("OFA_STRASSEN")) CU_ASSERT(nn_sw_pays(576, 768, 128) && nn_sw_pays(768, 3072, 256));
}

/* ofa_bert_infer on a prepared workspace (Strassen's products where they pay) against
 * ofa_bert_forward, and unprepared / another arch bit for bit the classical forward */
static void test_infer_strassen(void)
{
    const ofa_bert_dims d = {.V = 97, .P = 128, .H = 512, .A = 8, .F = 1024, .L = 3, .C = 3, .D = 64};
    ofa_bert m;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(&m, &d), 0);
    perturb_at(&m, 22, 0.05); /* at hidden 512, 0.3 would saturate every softmax: rounding then decides */
    enum { B = 2, T = 128 };
    ofa_rng rng;
    ofa_rng_seed(&rng, 23);
    int32_t ids[B * T], types[B * T], lens[B] = {T, 77};
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)d.V), types[i] = (i % T) > 40;
    ofa_bert_acts ref;
    ofa_bert_acts_create(&ref, &d, B, T);
    ofa_bert_infer_ws ws;
    ofa_bert_infer_ws_create(&ws, &d, B, T);
    const char *archs[] = {NULL, "d3-h3.8.4-f512.1024.256"};
    for (int ai = 0; ai < 2; ai++) {
        ofa_bert_arch a, other;
        if (archs[ai]) CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, archs[ai], d.L, d.H, OFA_DEPTH_DYNABERT), 0);
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&other, "d3-h8.8.8-f1024.1024.512", d.L, d.H, OFA_DEPTH_DYNABERT), 0);
        const ofa_bert_arch *ap = archs[ai] ? &a : NULL;
        for (int bsz = 1; bsz <= B; bsz++) {
            float classical[B * 3], other_lg[B * 3];
            ofa_bert_infer_unprepare(&ws);
            memcpy(classical, ofa_bert_infer(&m, &ws, ids, types, lens, bsz, T, ap), (size_t)bsz * d.C * sizeof(float));
            memcpy(other_lg, ofa_bert_infer(&m, &ws, ids, types, lens, bsz, T, &other), (size_t)bsz * d.C * sizeof(float));
            const size_t formed = ofa_bert_infer_prepare(&ws, &m, ap);
            /* on the AVX-512 path: the first two layers' Q/K/V ([3 w, 512]: w 512, or 192 and 512 for
             * the subnet; 192 x 3 = 576 pays) and FFN products ([F, 512], [512, F]; the subnet's F 256
             * does not pay) */
            if (nn_fm_get_path() == NN_FM_AVX512 && !getenv("OFA_STRASSEN")) CU_ASSERT(formed > 0);
            const float *lr = ofa_bert_forward(&m, &ref, ids, types, lens, bsz, T, ap, 0, 0.0, NULL);
            const float *lg = ofa_bert_infer(&m, &ws, ids, types, lens, bsz, T, ap);
            char name[96];
            snprintf(name, sizeof name, "infer strassen %s B=%d", archs[ai] ? archs[ai] : "full", bsz);
            CU_ASSERT(tu_max_rel_err(name, lg, lr, (size_t)bsz * d.C, 1.0, 2e-5) <= 2e-5);
            CU_ASSERT(tu_max_rel_err("infer strassen vs classical", lg, classical, (size_t)bsz * d.C, 1.0, 2e-5) <= 2e-5);
            /* and it did run another product: Strassen's sums round differently */
            if (formed > 0) CU_ASSERT(memcmp(lg, classical, (size_t)bsz * d.C * sizeof(float)) != 0);
            /* another arch than the prepared one runs the classical products: the same bits */
            CU_ASSERT(!memcmp(ofa_bert_infer(&m, &ws, ids, types, lens, bsz, T, &other), other_lg,
                              (size_t)bsz * d.C * sizeof(float)));
        }
    }
    ofa_bert_acts_free(&ref);
    ofa_bert_infer_ws_free(&ws);
    ofa_bert_free(&m);
}

int test_fm_register(void)
{
    CU_pSuite s = CU_add_suite("fm", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "gemm", test_gemm) || !CU_add_test(s, "gemm_masked_tail", test_gemm_masked_tail) ||
        !CU_add_test(s, "train_gemm", test_train_gemm) ||
        !CU_add_test(s, "transpose", test_transpose) ||
        !CU_add_test(s, "layernorm_and_attention", test_layernorm_and_attention) ||
        !CU_add_test(s, "attention_folded", test_attention_folded) ||
        !CU_add_test(s, "infer_matches_forward", test_infer_matches_forward) ||
        !CU_add_test(s, "strassen", test_strassen) || !CU_add_test(s, "infer_strassen", test_infer_strassen))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
