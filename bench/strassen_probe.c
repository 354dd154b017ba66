/* bench/strassen_probe: what Strassen's algorithm saves on BERT inference's linear layers here,
 * measured with the product inference runs (nn_fm_gemm), at any number of levels.  Its one-level
 * figures are the evidence for the shapes nn/strassen.c's nn_sw_pays picks (ofa's prepared
 * forward uses one level since these measurements; docs/results.md, the 6-layer subnet's 1.7x).
 *
 *   build/bench/strassen_probe [--tokens 128] [--levels 1] [--reps 100] [--rounds 11] [--stream-mib 64]
 *                              [N K]...
 *
 * For each weight shape N x K (default: the smallest BERT-base subnet's products, 768 x 768 for
 * each FFN product, 576 x 768 for Q, K and V as one product, 768 x 192 for the output projection)
 * it times C[N, T] = W[N, K] X[K, T] the classical way (nn_fm_gemm) and by Winograd's form of
 * Strassen's algorithm, --levels deep: 7 half-size products instead of 8 at each level, the sums of
 * weight blocks formed ahead (inference weights are fixed; the JSON line gives the memory they take
 * as a multiple of W's) and the sums of activation blocks formed per call.  The two alternate,
 * --reps calls a round; the medians over --rounds are printed.  Distinct copies of the weights,
 * --stream-mib of them in all, are cycled through so that, as in the model (42 MB of weights for
 * that subnet against a 32 MiB L3), they come from memory.  Neither method's time includes the
 * bias, residual or GELU, which the classical product applies as it writes C and Strassen's would
 * need a pass for.  Each method's largest error against a double-precision product is printed
 * relative to the largest |C|.  One JSON line per shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "models/bert/infer.h"
#include "nn/fm.h"

static int usage(const char *why)
{
    fprintf(stderr, "strassen_probe: %s\nusage: strassen_probe [--tokens T] [--levels L] [--reps N] [--rounds N] "
                    "[--stream-mib M] [N K]...   (N, K, T multiples of 2^L)\n", why);
    return 2;
}

/* d[R, C] (ldd) = x + s y */
static void add_blocks(float *d, int ldd, const float *x, int ldx, const float *y, int ldy, float s, int R, int C)
{
    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) d[(size_t)i * ldd + j] = x[(size_t)i * ldx + j] + s * y[(size_t)i * ldy + j];
}

/* One operand of the recursion: a weight block [N, K] (row stride ld) and, above the bottom level,
 * the seven half-size operands of P1..P7 (W11, W12, S4, W22, S1, S2, S3), with the sums
 * S1 = W21 + W22, S2 = S1 - W11, S3 = W11 - W21, S4 = W12 - S2 formed once (`sums`, owned). */
typedef struct operand {
    const float *w;
    int ld;
    struct operand *sub;
    float *sums;
} operand;

/* prepares o for `levels` levels; returns the floats it formed */
static size_t prepare(operand *o, const float *w, int ld, int N, int K, int levels)
{
    o->w = w, o->ld = ld, o->sub = NULL, o->sums = NULL;
    if (!levels) return 0;
    const int n2 = N / 2, k2 = K / 2;
    const size_t bs = (size_t)n2 * k2;
    const float *w11 = w, *w12 = w + k2, *w21 = w + (size_t)n2 * ld, *w22 = w21 + k2;
    float *s = o->sums = ofa_xalloc_huge(4 * bs * sizeof *s);
    add_blocks(s, k2, w21, ld, w22, ld, 1.0f, n2, k2);
    add_blocks(s + bs, k2, s, k2, w11, ld, -1.0f, n2, k2);
    add_blocks(s + 2 * bs, k2, w11, ld, w21, ld, -1.0f, n2, k2);
    add_blocks(s + 3 * bs, k2, w12, ld, s + bs, k2, -1.0f, n2, k2);
    o->sub = malloc(7 * sizeof *o->sub);
    OFA_ASSERT(o->sub);
    const float *ops[7] = {w11, w12, s + 3 * bs, w22, s, s + bs, s + 2 * bs};
    size_t n = 4 * bs;
    for (int i = 0; i < 7; i++) {
        const int in_w = i == 0 || i == 1 || i == 3;
        n += prepare(&o->sub[i], ops[i], in_w ? ld : k2, n2, k2, levels - 1);
    }
    return n;
}

static void release(operand *o)
{
    if (o->sub)
        for (int i = 0; i < 7; i++) release(&o->sub[i]);
    free(o->sub), free(o->sums);
}

/* C [N, T] (ldc) = alpha W X + R (R [N, T] (ldr) may be NULL or C) for X [K, T] (ldx), by Winograd's form of
 * Strassen's algorithm at each prepared level, nn_fm_gemm at the bottom:
 *   T1 = X12 - X11, T2 = X22 - T1, T3 = X22 - X12, T4 = T2 - X21
 *   P1 = W11 X11, P2 = W12 X21, P3 = S4 X22, P4 = W22 T4, P5 = S1 T1, P6 = S2 T2, P7 = S3 T3
 *   C11 = P1 + P2, U2 = P1 + P6, C21 = U2 + P7 - P4, C12 = U2 + P5 + P3, C22 = U2 + P7 + P5
 * each product accumulating into its block through R (C22 holds U2 meanwhile).  Above the bottom,
 * with alpha != 1 or R the product is formed in scratch first.  scratch: see scratch_floats. */
static void mult(float *c, int ldc, const operand *o, const float *x, int ldx, const float *r, int ldr, float alpha,
                 int N, int K, int T, float *scratch)
{
    if (!o->sub) {
        nn_fm_gemm(c, ldc, o->w, o->ld, 1, x, ldx, NULL, r, ldr, alpha, 0, N, T, K);
        return;
    }
    const int n2 = N / 2, k2 = K / 2, t2 = T / 2, ldt = t2 + 16;
    float *z = c;
    int ldz = ldc;
    if (r || alpha != 1.0f) z = scratch, ldz = T + 16, scratch += (size_t)N * ldz;
    const size_t ts = (size_t)k2 * ldt;
    float *t1 = scratch, *t2b = t1 + ts, *t3 = t2b + ts, *t4 = t3 + ts;
    scratch += 4 * ts;
    const float *x11 = x, *x12 = x + t2, *x21 = x + (size_t)k2 * ldx, *x22 = x21 + t2;
    add_blocks(t1, ldt, x12, ldx, x11, ldx, -1.0f, k2, t2);
    add_blocks(t2b, ldt, x22, ldx, t1, ldt, -1.0f, k2, t2);
    add_blocks(t3, ldt, x22, ldx, x12, ldx, -1.0f, k2, t2);
    add_blocks(t4, ldt, t2b, ldt, x21, ldx, -1.0f, k2, t2);
    float *z11 = z, *z12 = z + t2, *z21 = z + (size_t)n2 * ldz, *z22 = z21 + t2;
    const operand *p = o->sub;
    mult(z22, ldz, &p[0], x11, ldx, NULL, 0, 1.0f, n2, k2, t2, scratch);          /* P1 */
    mult(z11, ldz, &p[1], x21, ldx, z22, ldz, 1.0f, n2, k2, t2, scratch);         /* C11 = P2 + P1 */
    mult(z22, ldz, &p[5], t2b, ldt, z22, ldz, 1.0f, n2, k2, t2, scratch);         /* U2 = P6 + P1 */
    mult(z21, ldz, &p[6], t3, ldt, z22, ldz, 1.0f, n2, k2, t2, scratch);          /* U3 = P7 + U2 */
    mult(z12, ldz, &p[4], t1, ldt, z22, ldz, 1.0f, n2, k2, t2, scratch);          /* U4 = P5 + U2 */
    for (int i = 0; i < n2; i++)                                                   /* C22 = U3 + U4 - U2 */
        for (int j = 0; j < t2; j++) {
            const size_t q = (size_t)i * ldz + j;
            z22[q] = z21[q] + z12[q] - z22[q];
        }
    mult(z12, ldz, &p[2], x22, ldx, z12, ldz, 1.0f, n2, k2, t2, scratch);         /* C12 = U4 + P3 */
    mult(z21, ldz, &p[3], t4, ldt, z21, ldz, -1.0f, n2, k2, t2, scratch);         /* C21 = U3 - P4 */
    if (z != c)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < T; j++) {
                const size_t q = (size_t)i * ldc + j;
                c[q] = alpha * z[(size_t)i * ldz + j] + (r ? r[(size_t)i * ldr + j] : 0.0f);
            }
}

/* an upper bound of mult's scratch at `levels` levels */
static size_t scratch_floats(int N, int K, int T, int levels)
{
    if (!levels) return 0;
    return (size_t)N * (T + 16) + (size_t)2 * K * (T / 2 + 16) + scratch_floats(N / 2, K / 2, T / 2, levels - 1);
}

/* largest |c - ref| over the largest |ref| */
static double rel_err(const float *c, const double *ref, int ld, int N, int T)
{
    double e = 0, m = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < T; j++) {
            const double r = ref[(size_t)i * T + j];
            e = fmax(e, fabs(c[(size_t)i * ld + j] - r));
            m = fmax(m, fabs(r));
        }
    return m > 0 ? e / m : e;
}

static void probe(int N, int K, int T, int levels, int reps, int rounds, int stream_mib)
{
    const int ld = ofa_infer_ld(T);
    const size_t wn = (size_t)N * K, bytes = wn * sizeof(float);
    const int copies = (int)((((size_t)stream_mib << 20) + bytes - 1) / bytes);
    float *w = ofa_xalloc_huge(wn * copies * sizeof *w), *x = ofa_xalloc_huge((size_t)K * ld * sizeof *x);
    float *c0 = ofa_xalloc_huge((size_t)N * ld * sizeof *c0), *c1 = ofa_xalloc_huge((size_t)N * ld * sizeof *c1);
    float *scratch = ofa_xalloc_huge(scratch_floats(N, K, T, levels) * sizeof *scratch);
    ofa_rng r;
    ofa_rng_seed(&r, 1);
    for (size_t i = 0; i < wn * copies; i++) w[i] = (float)(0.02 * ofa_rng_normal(&r)); /* BERT's init */
    for (int i = 0; i < K; i++)
        for (int j = 0; j < T; j++) x[(size_t)i * ld + j] = (float)ofa_rng_normal(&r); /* LayerNorm's scale */
    operand *ops = malloc((size_t)copies * sizeof *ops);
    OFA_ASSERT(ops);
    size_t formed = 0;
    for (int cp = 0; cp < copies; cp++) formed = prepare(&ops[cp], w + wn * cp, K, N, K, levels);
    double *ref = calloc((size_t)N * T, sizeof *ref), *tc = malloc(2 * (size_t)rounds * sizeof *tc), *ts = tc + rounds;
    OFA_ASSERT(ref && tc);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < T; j++) ref[(size_t)i * T + j] += (double)w[(size_t)i * K + k] * x[(size_t)k * ld + j];
    for (int rd = 0; rd < rounds; rd++) {
        double t0 = ofa_now();
        for (int i = 0; i < reps; i++)
            nn_fm_gemm(c0, ld, w + wn * (i % copies), K, 1, x, ld, NULL, NULL, 0, 1.0f, 0, N, T, K);
        tc[rd] = (ofa_now() - t0) / reps * 1e6;
        t0 = ofa_now();
        for (int i = 0; i < reps; i++) mult(c1, ld, &ops[i % copies], x, ld, NULL, 0, 1.0f, N, K, T, scratch);
        ts[rd] = (ofa_now() - t0) / reps * 1e6;
    }
    /* the errors of the first copy, the one ref was formed from */
    nn_fm_gemm(c0, ld, w, K, 1, x, ld, NULL, NULL, 0, 1.0f, 0, N, T, K);
    mult(c1, ld, &ops[0], x, ld, NULL, 0, 1.0f, N, K, T, scratch);
    const double mc = ofa_median_sort(tc, rounds), ms = ofa_median_sort(ts, rounds);
    printf("{\"work\": \"strassen_probe\", \"N\": %d, \"K\": %d, \"tokens\": %d, \"levels\": %d, \"copies\": %d, \"kernels\": \"%s\", "
           "\"classical_us\": %.1f, \"classical_gflops\": %.1f, \"strassen_us\": %.1f, \"saved_us\": %.1f, "
           "\"saved_pct\": %.1f, \"extra_weight_memory\": %.2f, \"classical_rel_err\": %.2e, "
           "\"strassen_rel_err\": %.2e}\n",
           N, K, T, levels, copies, nn_fm_path_name(), mc, 2.0 * N * K * T / mc / 1e3, ms, mc - ms, 100.0 * (mc - ms) / mc,
           (double)formed / (double)wn, rel_err(c0, ref, ld, N, T), rel_err(c1, ref, ld, N, T));
    fflush(stdout);
    for (int cp = 0; cp < copies; cp++) release(&ops[cp]);
    free(ops), free(w), free(x), free(c0), free(c1), free(scratch), free(ref), free(tc);
}

int main(int argc, char **argv)
{
    int tokens = 128, levels = 1, reps = 100, rounds = 11, stream_mib = 64, shapes[64], ns = 0;
    for (int i = 1; i < argc; i++) {
        struct { const char *flag; int *v; } ints[] = {
            {"--tokens", &tokens}, {"--levels", &levels}, {"--reps", &reps}, {"--rounds", &rounds}, {"--stream-mib", &stream_mib}};
        const char *arg = argv[i];
        int *dst = NULL;
        for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
            if (strcmp(arg, ints[k].flag) == 0) dst = ints[k].v;
        if (dst && ++i >= argc) return usage("a flag without its value");
        if (!dst && ns == 64) return usage("at most 32 shapes");
        char *end;
        long v = strtol(argv[i], &end, 10);
        if (*end || v < 1 || v > 100000) {
            fprintf(stderr, "strassen_probe: %s: %s\n", dst ? argv[i - 1] : "a shape", argv[i]);
            return usage(dst ? "a count from 1 to 100000" : "unknown argument or bad size");
        }
        *(dst ? dst : &shapes[ns++]) = (int)v;
    }
    if (ns % 2) return usage("shapes come as N K pairs");
    if (ns == 0) {
        const int def[] = {768, 768, 576, 768, 768, 192};
        memcpy(shapes, def, sizeof def);
        ns = 6;
    }
    if (levels > 4) return usage("--levels 1 to 4");
    const int unit = 1 << levels;
    if (tokens % unit) return usage("--tokens must be a multiple of 2^levels");
    for (int i = 0; i < ns; i++)
        if (shapes[i] % unit) return usage("N and K must be multiples of 2^levels");
    for (int i = 0; i < ns; i += 2) probe(shapes[i], shapes[i + 1], tokens, levels, reps, rounds, stream_mib);
    return 0;
}
