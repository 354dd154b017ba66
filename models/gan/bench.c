/* models/gan/bench: `ofa bench cyclegan|generator`, the same work as
 * ../shared/bench/torch_peer_gan.py on uniform [-1, 1) images:
 *   cyclegan   one CycleGAN training step, run by the teacher stage's own step
 *              (ofa_cg_trainer_grads: G_A, G_B, D_A, D_B forward and backward, LSGAN + cycle x10 +
 *              identity x5) followed by Adam (betas 0.5, 0.999, lr 2e-4) over the four nets.  The
 *              peer has no image pool, so the pool is off (pool_size 0: D sees the step's fakes).
 *              Both do the same products: ofa applies the G and D updates in one Adam pass over
 *              the shared buffer (same arithmetic, D's weights do not change in the G step).
 *   generator  one generator's forward at --batch (default 1): --gen resnet (ofa_gan_forward) or
 *              --gen mobile (GAN Compression's MobileResNet, ofa_mobile_time_forward; batch 1).
 * gflops: 2 x the multiply-adds of the convolutions (a transposed conv: every input pixel times
 * its weight, as models/gan/family.c counts) per median step; a training step counts 3x the
 * forward's (forward, input gradient, weight gradient).  sgemm_gflops: OpenBLAS sgemm measured in
 * the same run at the residual blocks' im2col product (4 ngf x B (S/4)^2 x 4 ngf 9).
 * Prints one JSON line.  Not collective. */
#include "models/gan/bench.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/gan/mobile.h"
#include "models/gan/model.h"
#include "models/gan/train.h"
#include "nn/optim.h"

typedef struct gan_bench_args {
    long size, channels, ngf, ndf, blocks, dlayers, batch, threads, steps, warmup, seed;
    int mobile; /* generator: --gen mobile */
} gan_bench_args;

typedef struct timing {
    double med, lo, hi;
} timing;

static timing stats(double *ms, long n)
{
    const double med = ofa_median_sort(ms, (int)n);
    timing t = {med, ms[0], ms[n - 1]};
    return t;
}

/* OpenBLAS sgemm rate (GFLOP/s, median of 9) at C[M, N] = A[M, K] B[K, N], measured now */
static double sgemm_gflops(int M, int N, int K)
{
    float *a = ofa_xalloc_aligned((size_t)M * K * sizeof(float));
    float *b = ofa_xalloc_aligned((size_t)K * N * sizeof(float));
    float *c = ofa_xalloc_aligned((size_t)M * N * sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)K * N; i++) b[i] = (float)(i % 5) * 0.01f;
    double t[9];
    for (int r = -2; r < 9; r++) {
        double t0 = ofa_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
        if (r >= 0) t[r] = (ofa_now() - t0) * 1e3;
    }
    free(a), free(b), free(c);
    timing s = stats(t, 9);
    return 2.0 * M * N * K / (s.med / 1e3) / 1e9;
}

/* multiply-adds of one forward of the planned net on B images (models/gan/family.c's rule) */
static double net_macs(const ofa_gan_net *n, const ofa_gan_acts *a, int B)
{
    double macs = 0;
    for (int i = 0; i < a->n_ops; i++) {
        const ofa_gan_op *op = &a->ops[i];
        if (op->kind != OFA_GAN_OP_CONV && op->kind != OFA_GAN_OP_CONVT) continue;
        const ofa_gan_buf *out = &a->buf[op->out], *in = &a->buf[op->in];
        double pix = op->kind == OFA_GAN_OP_CONV ? (double)out->H * out->W : (double)in->H * in->W;
        macs += pix * (double)n->p.views[op->w].numel;
    }
    return macs * B;
}

static void uniform_images(float *x, size_t n, ofa_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * ofa_rng_uniform(r) - 1);
}

static void print_line(const gan_bench_args *a, const char *work, const timing *t, double flops, double gemm)
{
    printf("{\"peer\": \"ofa-%s\", \"work\": \"%s\", \"gen\": \"%s\", \"size\": %ld, \"channels\": %ld, \"ngf\": %ld, "
           "\"ndf\": %ld, \"blocks\": %ld, \"dlayers\": %ld, \"batch\": %ld, \"threads\": %ld, \"ms_per_step\": %.3f, "
           "\"min\": %.3f, \"max\": %.3f, \"images_per_s\": %.1f, \"gflops\": %.2f, \"sgemm_gflops\": %.1f, "
           "\"peak_rss_mib\": %.1f}\n",
           OFA_VERSION, work, a->mobile ? "mobile" : "resnet", a->size, a->channels, a->ngf, a->ndf, a->blocks,
           a->dlayers, a->batch, a->threads, t->med, t->lo, t->hi, (double)a->batch / (t->med / 1e3),
           flops / (t->med / 1e3) / 1e9, gemm, ofa_peak_rss_mib());
    fflush(stdout);
}

static double block_gemm(const gan_bench_args *a)
{
    const int q = (int)(a->size / 4);
    return sgemm_gflops((int)(4 * a->ngf), (int)a->batch * q * q, (int)(4 * a->ngf * 9));
}

/* `bench cyclegan`: the teacher stage's step (models/gan/train) + Adam */
static int bench_cyclegan(const gan_bench_args *a)
{
    const int S = (int)a->size, B = (int)a->batch;
    ofa_cyclegan cm;
    ofa_cyclegan_create(&cm, (int)a->channels, S, (int)a->ngf, (int)a->ndf, (int)a->blocks, (int)a->dlayers, 7, 9);
    ofa_rng rng;
    ofa_rng_seed(&rng, (uint64_t)a->seed);
    ofa_cyclegan_init_weights(&cm, &rng);
    ofa_cg_trainer *t = ofa_cg_trainer_create(&cm, B, 10.0, 0.5, 0);
    const size_t n = (size_t)B * a->channels * S * S;
    float *ra = ofa_xmalloc(n * sizeof *ra), *rb = ofa_xmalloc(n * sizeof *rb);
    uniform_images(ra, n, &rng);
    uniform_images(rb, n, &rng);
    ofa_adamw opt;
    ofa_adamw_init_ex(&opt, 0.5, 0.999, 1e-8, 0.0);
    double *ms = ofa_xmalloc((size_t)a->steps * sizeof *ms), L[9];
    for (long s = -a->warmup; s < a->steps; s++) {
        double t0 = ofa_now();
        ofa_cg_trainer_grads(t, ra, rb, B, 1.0, &rng, L);
        ofa_adamw_step(&opt, &cm.p, 2e-4);
        if (s >= 0) ms[s] = (ofa_now() - t0) * 1e3;
    }
    /* MACs: 6 generator and 6 discriminator applications per step, each forward + backward */
    ofa_gan_acts ga, da;
    ofa_gan_acts_create(&ga, &cm.net[OFA_CG_G_A], 1, S, S);
    ofa_gan_acts_create(&da, &cm.net[OFA_CG_D_A], 1, S, S);
    const double macs = 3.0 * 6.0 * (net_macs(&cm.net[OFA_CG_G_A], &ga, B) + net_macs(&cm.net[OFA_CG_D_A], &da, B));
    ofa_gan_acts_free(&ga), ofa_gan_acts_free(&da);
    int bad = !isfinite(L[0]) || !isfinite(L[7]) || !isfinite(L[8]);
    timing tm = stats(ms, a->steps);
    print_line(a, "cyclegan", &tm, 2.0 * macs, block_gemm(a));
    free(ms), free(ra), free(rb);
    ofa_cg_trainer_free(t);
    ofa_cyclegan_free(&cm);
    return bad ? OFA_ERR(OFA_E_RUNTIME, "bench cyclegan: the losses are not finite") : 0;
}

/* `bench generator --gen mobile`: GAN Compression's MobileResnetGenerator(ngf), 3x3 depthwise
 * kernels, N(0, 1/fan_in) weights, timed by models/gan/mobile (batch 1) */
static int bench_mobile(const gan_bench_args *a)
{
    if (a->batch != 1) return OFA_ERR(OFA_E_USAGE, "bench generator --gen mobile: --batch 1 only");
    if (a->size % 4 || a->size < 12 || a->blocks < 3)
        return OFA_ERR(OFA_E_USAGE, "bench generator --gen mobile: --size a multiple of 4 and >= 12, --blocks >= 3");
    const int S = (int)a->size;
    ofa_mobile_arch shape;
    ofa_mobile_shape_ngf(&shape, (int)a->ngf, 3, 3);
    ofa_mobile_net net;
    ofa_mobile_net_init(&net, (int)a->channels, (int)a->blocks, &shape);
    ofa_rng r;
    ofa_rng_seed(&r, (uint64_t)a->seed);
    for (int i = 0; i < net.p.n; i++) {
        const ofa_pview *v = &net.p.views[i];
        if (v->ndim == 2) continue; /* 5to3 matrices (none at kernel 3) stay the identity */
        double sc = v->ndim == 1 ? 0.1 : 1.0 / sqrt((double)v->numel / (double)v->shape[0]);
        for (size_t j = 0; j < v->numel; j++) net.p.data[v->offset + j] = (float)(ofa_rng_normal(&r) * sc);
    }
    const size_t n = (size_t)a->channels * S * S;
    float *x = ofa_xmalloc(n * sizeof *x);
    uniform_images(x, n, &r);
    ofa_mobile_acts acts;
    ofa_mobile_acts_create(&acts, &net, 1, S, S);
    ofa_mobile_timing mt;
    ofa_mobile_time_forward(&net, &acts, NULL, x, (int)a->warmup, (int)a->steps, &mt);
    timing tm = {mt.median_ms, mt.min_ms, mt.max_ms};
    const double macs = (double)ofa_mobile_arch_macs((int)a->channels, (int)a->blocks, &shape, S, S);
    print_line(a, "generator", &tm, 2.0 * macs, block_gemm(a));
    ofa_mobile_acts_free(&acts);
    ofa_mobile_net_free(&net);
    free(x);
    return 0;
}

/* `bench generator`: the ResNet generator's forward (G_A of a CycleGAN, the teacher's) */
static int bench_generator(const gan_bench_args *a)
{
    if (a->mobile) return bench_mobile(a);
    const int S = (int)a->size, B = (int)a->batch;
    ofa_cyclegan cm;
    ofa_cyclegan_create(&cm, (int)a->channels, S, (int)a->ngf, (int)a->ndf, (int)a->blocks, (int)a->dlayers, 7, 9);
    ofa_rng rng;
    ofa_rng_seed(&rng, (uint64_t)a->seed);
    ofa_cyclegan_init_weights(&cm, &rng);
    const ofa_gan_net *g = &cm.net[OFA_CG_G_A];
    ofa_gan_acts acts;
    ofa_gan_acts_create(&acts, g, B, S, S);
    const size_t n = (size_t)B * a->channels * S * S;
    float *x = ofa_xmalloc(n * sizeof *x);
    uniform_images(x, n, &rng);
    double *ms = ofa_xmalloc((size_t)a->steps * sizeof *ms);
    for (long s = -a->warmup; s < a->steps; s++) {
        double t0 = ofa_now();
        ofa_gan_forward(g, &acts, x, B);
        if (s >= 0) ms[s] = (ofa_now() - t0) * 1e3;
    }
    timing tm = stats(ms, a->steps);
    print_line(a, "generator", &tm, 2.0 * net_macs(g, &acts, B), block_gemm(a));
    free(ms), free(x);
    ofa_gan_acts_free(&acts);
    ofa_cyclegan_free(&cm);
    return 0;
}

int ofa_cg_bench(const char *work, int argc, char **argv)
{
    const int gen = !strcmp(work, "generator");
    if (!gen && strcmp(work, "cyclegan"))
        return OFA_ERR(OFA_E_USAGE, "bench %s: the cyclegan family times cyclegan or generator", work);
    gan_bench_args a = {32, 1, 32, 32, 6, 3, gen ? 1 : 4, gen ? 1 : 2, 10, 3, 0, 0};
    struct {
        const char *name;
        long *dst, lo, hi;
    } opts[] = {{"--size", &a.size, 8, 1024},       {"--channels", &a.channels, 1, 64}, {"--ngf", &a.ngf, 1, 1024},
                {"--ndf", &a.ndf, 1, 1024},          {"--blocks", &a.blocks, 0, 64},    {"--dlayers", &a.dlayers, 1, 8},
                {"--batch", &a.batch, 1, 4096},      {"--threads", &a.threads, 1, 1024}, {"--steps", &a.steps, 1, 100000},
                {"--warmup", &a.warmup, 0, 100000}, {"--seed", &a.seed, 0, INT32_MAX}};
    for (int i = 0; i < argc; i++) {
        if (gen && !strcmp(argv[i], "--gen")) {
            if (i + 1 >= argc || (strcmp(argv[i + 1], "resnet") && strcmp(argv[i + 1], "mobile")))
                return OFA_ERR(OFA_E_USAGE, "--gen: expected resnet or mobile");
            a.mobile = !strcmp(argv[++i], "mobile");
            continue;
        }
        int found = 0;
        for (size_t k = 0; k < sizeof opts / sizeof *opts && !found; k++)
            if (!strcmp(argv[i], opts[k].name)) {
                OFA_TRY(ofa_int_arg(argv[i], i + 1 < argc ? argv[i + 1] : NULL, opts[k].lo, opts[k].hi, opts[k].dst));
                i++;
                found = 1;
            }
        if (!found) return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'bench %s'", argv[i], work);
    }
    if (a.size % 4)
        return OFA_ERR(OFA_E_USAGE, "bench %s: --size must be a multiple of 4 (two stride-2 downsamplings)", work);
    /* the discriminator halves the image n_layers times, then two 4x4 convs with padding 1 */
    if (!gen && (a.size >> a.dlayers) < 3) return OFA_ERR(OFA_E_USAGE, "bench %s: --size too small for --dlayers", work);
    int usable = ofa_resolve_threads((int)a.threads);
    if (usable < a.threads) {
        OFA_WARN("bench: --threads %ld exceeds the %d usable cores; using %d", a.threads, usable, usable);
        a.threads = usable;
    }
    ofa_set_blas_threads((int)a.threads);
    return gen ? bench_generator(&a) : bench_cyclegan(&a);
}
