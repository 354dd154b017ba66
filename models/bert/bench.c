/* models/bert/bench: `ofa bench teacher|supernet|infer` for the BERT family, the same work as
 * ../shared/bench/torch_peer.py (training steps, or one subnet's forward, on random token ids).
 * The supernet work runs the supernet stage's own step: the family's distiller (models/bert/train),
 * a teacher forward per micro-batch and each sampled subnet's forward, distillation and backward.
 * Prints one JSON line.  Not collective. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/bert/bench.h"
#include "models/bert/model.h"
#include "models/bert/infer.h"
#include "models/bert/train.h"
#include "nn/fm.h"
#include "nn/loss.h"
#include "nn/optim.h"

/* The rate (GFLOP/s, median of 9) of y = x W^T at M x N x K, measured now: OpenBLAS's sgemm, or
 * (own) the product the linear layers train with (nn_fm_sgemm: AVX-512 on core/par's threads when
 * the CPU has it, else the same sgemm). */
static double sgemm_gflops(int M, int N, int K, int own)
{
    float *a = ofa_xalloc_aligned((size_t)M * K * sizeof(float));
    float *b = ofa_xalloc_aligned((size_t)N * K * sizeof(float));
    float *c = ofa_xalloc_aligned((size_t)M * N * sizeof(float));
    for (size_t i = 0; i < (size_t)M * K; i++) a[i] = (float)(i % 7) * 0.01f;
    for (size_t i = 0; i < (size_t)N * K; i++) b[i] = (float)(i % 5) * 0.01f;
    double t[9];
    for (int r = -2; r < 9; r++) {
        double t0 = ofa_now();
        if (own) nn_fm_sgemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N);
        if (r >= 0) t[r] = ofa_now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * M * N * K / ofa_median_sort(t, 9) / 1e9;
}

static int unique_sorted(int *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    int k = 0;
    for (int i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1]) v[k++] = v[i];
    return k;
}

static int max1(int x) { return x > 1 ? x : 1; }

/* What every bench work needs: the model at the peer's shapes (N(0, 0.02) weights), training
 * activations (or, for infer, the inference workspace) for [B, T], random token ids and labels of
 * full length. */
typedef struct bench_env {
    ofa_bert_dims d;
    ofa_bert m;
    ofa_bert_acts acts;
    ofa_bert_infer_ws ws;
    ofa_rng rng;
    int B, T;
    int32_t *ids, *types, *lens, *labels;
} bench_env;

static int env_create(bench_env *e, const bench_args *a, int infer)
{
    memset(e, 0, sizeof *e);
    ofa_set_blas_threads((int)a->threads);
    ofa_bert_dims d = {(int)a->vocab, (int)(a->seq > 512 ? a->seq : 512), (int)a->hidden, (int)a->heads,
                       (int)a->ffn, (int)a->layers, (int)a->classes, 0, 0, 0};
    OFA_TRY(ofa_bert_create(&e->m, &d));
    e->d = e->m.d;
    ofa_rng_seed(&e->rng, (uint64_t)a->seed);
    ofa_bert_init_weights(&e->m, &e->rng, 0.02);
    e->B = (int)a->batch;
    e->T = (int)a->seq;
    if (infer) ofa_bert_infer_ws_create(&e->ws, &e->d, e->B, e->T);
    else if (!a->supernet) ofa_bert_acts_create(&e->acts, &e->d, e->B, e->T); /* the supernet work: the distiller's */
    size_t n = (size_t)e->B * e->T;
    e->ids = ofa_xmalloc(n * sizeof *e->ids);
    e->types = ofa_xcalloc(n, sizeof *e->types);
    e->lens = ofa_xmalloc((size_t)e->B * sizeof *e->lens);
    e->labels = ofa_xmalloc((size_t)e->B * sizeof *e->labels);
    for (size_t i = 0; i < n; i++) e->ids[i] = (int32_t)ofa_rng_below(&e->rng, (uint64_t)e->d.V);
    for (int b = 0; b < e->B; b++) {
        e->lens[b] = e->T;
        e->labels[b] = (int32_t)ofa_rng_below(&e->rng, (uint64_t)e->d.C);
    }
    return 0;
}

static void env_free(bench_env *e)
{
    free(e->ids);
    free(e->types);
    free(e->lens);
    free(e->labels);
    ofa_bert_acts_free(&e->acts);
    ofa_bert_infer_ws_free(&e->ws);
    ofa_bert_free(&e->m);
}

/* torch_peer.py's space: depths {L/2, 3L/4, L} x heads {A/4, A/2, 3A/4, A} x FFN {F/4, F/2, 3F/4, F} */
static int peer_space(ofa_bert_space *s, const ofa_bert_dims *d)
{
    int L = d->L, A = d->A, F = d->F;
    int depth[3] = {max1(L / 2), max1(3 * L / 4), L}, heads[4] = {max1(A / 4), max1(A / 2), max1(3 * A / 4), A};
    int ffn[4] = {max1(F / 4), max1(F / 2), max1(3 * F / 4), F};
    int nd = unique_sorted(depth, 3), nh = unique_sorted(heads, 4), nf = unique_sorted(ffn, 4);
    return ofa_bert_space_init(s, L, A, F, d->H, OFA_DEPTH_DYNABERT, depth, nd, heads, nh, ffn, nf, NULL, 0);
}

typedef struct timing {
    double med, lo, hi;
} timing;

static timing stats(double *ms, long n)
{
    timing t = {0, ms[0], ms[0]};
    for (long i = 0; i < n; i++) {
        t.lo = ms[i] < t.lo ? ms[i] : t.lo;
        t.hi = ms[i] > t.hi ? ms[i] : t.hi;
    }
    t.med = ofa_median_sort(ms, (int)n);
    return t;
}

/* the bench batch as a data split of the family: B examples of T random ids with random labels */
static ofa_data *bench_data(const bench_env *e)
{
    ofa_encoded enc;
    memset(&enc, 0, sizeof enc);
    const int64_t n = e->B;
    enc.n = n;
    enc.tok = ofa_xmalloc((size_t)n * e->T * sizeof *enc.tok);
    memcpy(enc.tok, e->ids, (size_t)n * e->T * sizeof *enc.tok);
    enc.off = ofa_xmalloc((size_t)(n + 1) * sizeof *enc.off);
    enc.seg_b = ofa_xmalloc((size_t)n * sizeof *enc.seg_b);
    enc.label = ofa_xmalloc((size_t)n * sizeof *enc.label);
    enc.index = ofa_xmalloc((size_t)n * sizeof *enc.index);
    for (int64_t i = 0; i <= n; i++) enc.off[i] = i * e->T;
    for (int64_t i = 0; i < n; i++) {
        enc.seg_b[i] = e->T;
        enc.label[i] = (float)e->labels[i];
        enc.index[i] = i;
    }
    enc.max_len = e->T;
    return ofa_bert_data_wrap(&enc, 0, 1);
}

static int bench_run(const bench_args *a)
{
    bench_env e;
    OFA_TRY(env_create(&e, a, 0));
    const ofa_bert_dims d = e.d;
    const int B = e.B, T = e.T;
    float *dlogits = ofa_xmalloc((size_t)B * d.C * sizeof(float));
    ofa_adamw opt;
    ofa_adamw_init(&opt, 0.01);
    /* supernet work, as torch_peer.py: a frozen copy as teacher, the peer's space, sandwich
     * sampling, softCE + 0.1 * hidden MSE; run by the supernet stage's own distiller */
    ofa_bert_model tm, sm;
    ofa_model teacher, student;
    ofa_space space;
    ofa_data *data = NULL;
    ofa_distiller *dist = NULL;
    int64_t *rows = NULL;
    double flops_step = 3.0 * ofa_bert_forward_flops(&d, B, T); /* forward + backward (2x) */
    if (a->supernet) {
        memset(&tm, 0, sizeof tm);
        memset(&sm, 0, sizeof sm);
        OFA_TRY(ofa_bert_create(&tm.m, &d));
        memcpy(tm.m.p.data, e.m.p.data, e.m.p.total * sizeof(float));
        tm.max_seq_len = T;
        sm.m = e.m; /* a view: the student is the bench model */
        ofa_bert_model_wrap(&teacher, &tm);
        ofa_bert_model_wrap(&student, &sm);
        ofa_bert_space bs;
        OFA_TRY(peer_space(&bs, &d));
        ofa_space_from_bert(&space, &bs);
        ofa_config c;
        ofa_config_defaults(&c);
        c.model.dropout = 0.0;
        c.supernet.batch_size = B;
        c.supernet.lambda_logit = 1.0;
        c.supernet.lambda_hidden = 0.1;
        c.supernet.lambda_hard = 0.0;
        c.supernet.temperature = 1.0;
        data = bench_data(&e);
        OFA_TRY(ofa_bert_distill_create(&dist, &c, &teacher, &student, data));
        rows = ofa_xmalloc((size_t)B * sizeof *rows);
        for (int i = 0; i < B; i++) rows[i] = i;
    }
    double *times = ofa_xmalloc((size_t)a->steps * sizeof(double));
    double macs_sum = 0;
    for (long s = -a->warmup; s < a->steps; s++) {
        double t0 = ofa_now();
        ofa_params_zero_grad(&e.m.p);
        if (!a->supernet) {
            const float *logits = ofa_bert_forward(&e.m, &e.acts, e.ids, e.types, e.lens, B, T, NULL, 0, 0.0, NULL);
            ofa_task_loss(dlogits, logits, e.labels, NULL, B, d.C);
            ofa_bert_backward(&e.m, &e.acts, dlogits, NULL);
        } else {
            ofa_bert_distill_batch(dist, rows, B); /* the teacher forward */
            for (long j = 0; j < a->subnets; j++) {
                ofa_bert_arch b;
                if (j == 0) ofa_bert_arch_largest(&b, &space.u.bert);
                else if (j == 1) ofa_bert_arch_smallest(&b, &space.u.bert, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
                else ofa_bert_arch_random(&b, &space.u.bert, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &e.rng);
                ofa_arch arch;
                ofa_arch_from_bert(&arch, &b);
                double tokens;
                ofa_bert_distill_subnet(dist, &arch, &e.rng, &tokens);
                if (s >= 0) macs_sum += 3.0 * ofa_bert_arch_macs(&arch.u.bert, T, d.C, d.D) * B;
            }
        }
        ofa_adamw_step(&opt, &e.m.p, 1e-4);
        if (s >= 0) times[s] = (ofa_now() - t0) * 1e3;
    }
    if (a->supernet) {
        /* teacher forward + the subnets' forward and backward, per timed step */
        flops_step = ofa_bert_forward_flops(&d, B, T) + 2.0 * macs_sum / (double)a->steps;
        ofa_bert_distill_free(dist);
        ofa_bert_data_free(data);
        free(rows);
        ofa_bert_free(&tm.m);
    }
    timing t = stats(times, a->steps);
    double gemm = sgemm_gflops(B * T, (int)a->ffn, (int)a->hidden, 0);
    double own = sgemm_gflops(B * T, (int)a->ffn, (int)a->hidden, 1);
    printf("{\"peer\": \"ofa-%s\", \"work\": \"%s\", \"subnets\": %ld, \"layers\": %ld, \"hidden\": %ld, \"heads\": %ld, "
           "\"ffn\": %ld, \"vocab\": %ld, \"seq\": %ld, \"batch\": %ld, \"threads\": %ld, \"ms_per_step\": %.3f, "
           "\"min\": %.3f, \"max\": %.3f, \"tokens_per_s\": %.1f, \"gflops\": %.1f, \"sgemm_gflops\": %.1f, "
           "\"kernels\": \"%s\", \"product_gflops\": %.1f, \"peak_rss_mib\": %.1f}\n",
           OFA_VERSION, a->supernet ? "supernet" : "teacher", a->supernet ? a->subnets : 1, a->layers, a->hidden,
           a->heads, a->ffn, a->vocab, a->seq, a->batch, a->threads, t.med, t.lo, t.hi, (double)B * T / (t.med / 1e3),
           flops_step / (t.med / 1e3) / 1e9, gemm, nn_fm_path_name(), own, ofa_peak_rss_mib());
    free(times);
    free(dlogits);
    env_free(&e);
    return 0;
}

/* `bench infer`: the forward latency of one subnet (largest or smallest of torch_peer's space) */
static int bench_infer(const bench_args *a, int smallest)
{
    bench_env e;
    OFA_TRY(env_create(&e, a, 1));
    ofa_bert_space space;
    OFA_TRY(peer_space(&space, &e.d));
    ofa_bert_arch arch;
    if (smallest) ofa_bert_arch_smallest(&arch, &space, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    else ofa_bert_arch_largest(&arch, &space);
    nn_fm_set_path(nn_fm_path_for_threads((int)a->threads)); /* as latency runs */
    /* as scoring and `ofa predict` run a subnet: its weight sums for Strassen's algorithm formed
     * once where that pays (none at the default shape; $OFA_STRASSEN=0: none) */
    const size_t sums = ofa_bert_infer_prepare(&e.ws, &e.m, &arch);
    double *times = ofa_xmalloc((size_t)a->steps * sizeof(double));
    for (long s = -a->warmup; s < a->steps; s++) {
        double t0 = ofa_now();
        ofa_bert_infer(&e.m, &e.ws, e.ids, e.types, e.lens, e.B, e.T, &arch);
        if (s >= 0) times[s] = (ofa_now() - t0) * 1e3;
    }
    timing t = stats(times, a->steps);
    char text[OFA_ARCH_TEXT_MAX];
    ofa_bert_arch_print(&arch, e.d.H, text, sizeof text);
    /* the multiply-adds (products and attention) the forward performs per sequence: the last layer
     * runs on the first token (models/bert/infer.h) */
    const double gflop = 2e-9 * e.B * ofa_bert_arch_infer_macs(&arch, e.T, e.d.C, e.d.D);
    printf("{\"peer\": \"ofa-%s\", \"work\": \"infer\", \"arch\": \"%s\", \"layers\": %ld, \"hidden\": %ld, "
           "\"heads\": %ld, \"ffn\": %ld, \"vocab\": %ld, \"seq\": %ld, \"batch\": %ld, \"threads\": %ld, "
           "\"kernels\": \"%s\", \"strassen_mib\": %.1f, \"ms_per_step\": %.4f, \"min\": %.4f, \"max\": %.4f, "
           "\"tokens_per_s\": %.1f, \"gflops\": %.1f, \"peak_rss_mib\": %.1f}\n",
           OFA_VERSION, text, a->layers, a->hidden, a->heads, a->ffn, a->vocab, a->seq, a->batch, a->threads,
           nn_fm_path_name(), (double)sums * sizeof(float) / (1 << 20), t.med, t.lo, t.hi,
           (double)e.B * e.T / (t.med / 1e3), gflop / (t.med / 1e3), ofa_peak_rss_mib());
    free(times);
    env_free(&e);
    return 0;
}


/* `bench gemm`: nn_fm_gemm (C[N, M] = W[N, K] X[K, M], 64 tokens) on each path at the shapes of
 * the bench model's forward; one JSON line per shape with the median GFLOP/s of 31 runs of 20. */
static int bench_gemm(const bench_args *a)
{
    const int M = (int)(a->seq * a->batch), H = (int)a->hidden, F = (int)a->ffn, Dh = H / (int)a->heads;
    const int shapes[][2] = {{H, H}, {F, H}, {H, F}, {Dh, H}, {H, Dh}}; /* (N, K) */
    const size_t big = (size_t)(F > H ? F : H) * (size_t)(F > H ? F : H);
    float *w = ofa_xalloc_aligned(big * sizeof(float)), *x = ofa_xalloc_aligned(big / H * M * sizeof(float) + 64);
    float *c = ofa_xalloc_aligned(big / H * M * sizeof(float) + 64);
    ofa_rng rng;
    ofa_rng_seed(&rng, (uint64_t)a->seed);
    for (size_t i = 0; i < big; i++) w[i] = (float)ofa_rng_uniform(&rng) - 0.5f;
    for (size_t i = 0; i < big / H * M; i++) x[i] = (float)ofa_rng_uniform(&rng) - 0.5f;
    const nn_fm_path before = nn_fm_get_path();
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int N = shapes[si][0], K = shapes[si][1];
        double gf[2] = {0, 0};
        for (int p = 0; p < 2; p++) {
            if (nn_fm_set_path(p ? NN_FM_AVX512 : NN_FM_PORTABLE) != (p ? NN_FM_AVX512 : NN_FM_PORTABLE)) continue;
            double t[31];
            for (int r = -3; r < 31; r++) {
                double t0 = ofa_now();
                for (int i = 0; i < 20; i++) nn_fm_gemm(c, M, w, K, 1, x, M, NULL, NULL, 0, 1.0f, 0, N, M, K);
                if (r >= 0) t[r] = (ofa_now() - t0) / 20;
            }
            gf[p] = 2.0 * N * M * K / ofa_median_sort(t, 31) / 1e9;
        }
        printf("{\"peer\": \"ofa-%s\", \"work\": \"gemm\", \"N\": %d, \"M\": %d, \"K\": %d, \"openblas_gflops\": %.1f, "
               "\"avx512_gflops\": %.1f}\n",
               OFA_VERSION, N, M, K, gf[0], gf[1]);
    }
    nn_fm_set_path(before);
    free(w);
    free(x);
    free(c);
    return 0;
}

int ofa_bert_bench(const char *work, int argc, char **argv)
{
    int infer = !strcmp(work, "infer") || !strcmp(work, "gemm"), smallest = 1;
    bench_args a = {4, 256, 4, 1024, 8192, 2, 64, infer ? 1 : 32, 2, 10, 3, 0, 4, !strcmp(work, "supernet")};
    struct {
        const char *name;
        long *dst, lo, hi;
    } opts[] = {{"--layers", &a.layers, 1, 48},     {"--hidden", &a.hidden, 1, 8192}, {"--heads", &a.heads, 1, 256},
                {"--ffn", &a.ffn, 1, 65536},         {"--vocab", &a.vocab, 5, 1000000}, {"--classes", &a.classes, 2, 1000},
                {"--seq", &a.seq, 1, 4096},          {"--batch", &a.batch, 1, 4096},  {"--threads", &a.threads, 1, 1024},
                {"--steps", &a.steps, 1, 100000},    {"--warmup", &a.warmup, 0, 100000}, {"--seed", &a.seed, 0, INT32_MAX},
                {"--subnets", &a.subnets, 1, 64}};
    for (int i = 0; i < argc; i++) {
        if (infer && !strcmp(argv[i], "--arch") && i + 1 < argc) {
            if (strcmp(argv[i + 1], "smallest") && strcmp(argv[i + 1], "largest"))
                return OFA_ERR(OFA_E_USAGE, "--arch: expected smallest or largest");
            smallest = !strcmp(argv[++i], "smallest");
            continue;
        }
        int found = 0;
        for (size_t k = 0; k < sizeof opts / sizeof *opts; k++)
            if (!strcmp(argv[i], opts[k].name)) {
                OFA_TRY(ofa_int_arg(argv[i], i + 1 < argc ? argv[i + 1] : NULL, opts[k].lo, opts[k].hi, opts[k].dst));
                i++;
                found = 1;
                break;
            }
        if (!found) return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'bench teacher'", argv[i]);
    }
    if (a.hidden % a.heads) return OFA_ERR(OFA_E_USAGE, "--hidden must be a multiple of --heads");
    int usable = ofa_resolve_threads((int)a.threads);
    if (usable < a.threads) {
        OFA_WARN("bench: --threads %ld exceeds the %d usable cores; using %d", a.threads, usable, usable);
        a.threads = usable;
    }
    if (!strcmp(work, "gemm")) return bench_gemm(&a);
    return infer ? bench_infer(&a, smallest) : bench_run(&a);
}
