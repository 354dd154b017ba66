/* Suite latency: measured statistics and refusal, the per-op table (shapes, Welford, prediction
 * as a hand sum of keys), HDF5 round trip, predictor fit, Kendall tau and MAPE. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "evaluator/latency.h"
#include "models/bert/arch.h"
#include "models/bert/bert.h"
#include "models/bert/family.h"
#include "nn/fm.h"
#include "tests/testutil.h"

#include <cblas.h>

/* tiny BERT: H 16, A 4 (D 4), F 32, L 2; space: depth 1-2, heads 2/4, ffn 16/32, hidden 8/16 */
static const ofa_bert_dims DIMS = {50, 16, 16, 4, 32, 2, 2, 0, 0, 0};

static void tiny_space(ofa_bert_space *s)
{
    const int depth[] = {1, 2}, heads[] = {2, 4}, ffn[] = {16, 32}, hidden[] = {8, 16};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(s, 2, 4, 32, 16, OFA_DEPTH_DYNABERT, depth, 2, heads, 2, ffn, 2, hidden, 2), 0);
}

static void tiny_model(ofa_bert *m)
{
    CU_ASSERT_EQUAL_FATAL(ofa_bert_create(m, &DIMS), 0);
    ofa_rng rng;
    ofa_rng_seed(&rng, 3);
    ofa_bert_init_weights(m, &rng, 0.02);
}

/* the BERT values as the latency module sees them: a model, a space (head size D, outputs C), archs */
static ofa_bert_model g_bm;
static ofa_model g_model;
static const ofa_model *M(const ofa_bert *m)
{
    memset(&g_bm, 0, sizeof g_bm);
    g_bm.m = *m;
    ofa_bert_model_wrap(&g_model, &g_bm);
    return &g_model;
}
static const ofa_space *S(const ofa_bert_space *s, int D, int C)
{
    static ofa_space g;
    ofa_space_from_bert(&g, s);
    g.u.bert.D = D;
    g.u.bert.C = C;
    return &g;
}
/* a space that only says D, C and H (the predictor's synthetic table) */
static const ofa_space *S_dc(int H, int D, int C)
{
    static ofa_space g;
    memset(&g, 0, sizeof g);
    g.family = OFA_FAMILY_BERT;
    g.u.bert.H = H;
    g.u.bert.D = D;
    g.u.bert.C = C;
    return &g;
}
static const ofa_arch *A(const ofa_bert_arch *a)
{
    static ofa_arch g[8];
    static int k;
    ofa_arch *p = &g[k++ % 8];
    ofa_arch_from_bert(p, a);
    return p;
}

static void quick_cfg(ofa_latency_cfg *cfg)
{
    ofa_latency_cfg_default(cfg);
    cfg->batch = 2;
    cfg->seq_len = 8;
    cfg->warmup = 1;
    cfg->repeats = 9;
}

static void test_stats_by_hand(void)
{
    ofa_latency l;
    const double odd[] = {5, 1, 3, 2, 4}; /* sorted 1..5: p10 at 0.4 -> 1.4, p90 at 3.6 -> 4.6 */
    ofa_latency_stats(odd, 5, &l);
    CU_ASSERT_DOUBLE_EQUAL(l.median, 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.p10, 1.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.p90, 4.6, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.min, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(l.max, 5.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(l.mean, 3.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.spread, 3.2 / 3.0, 1e-12);
    CU_ASSERT_EQUAL(l.repeats, 5);
    const double even[] = {4, 3, 2, 1}; /* p10 at 0.3 -> 1.3, median 2.5, p90 at 2.7 -> 3.7 */
    ofa_latency_stats(even, 4, &l);
    CU_ASSERT_DOUBLE_EQUAL(l.median, 2.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.p10, 1.3, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.p90, 3.7, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(l.spread, 2.4 / 2.5, 1e-12);
    const double one[] = {7};
    ofa_latency_stats(one, 1, &l);
    CU_ASSERT_DOUBLE_EQUAL(l.median, 7, 0);
    CU_ASSERT_DOUBLE_EQUAL(l.spread, 0, 0);
}

static void test_parse_cores(void)
{
    ofa_latency_cfg cfg;
    ofa_latency_cfg_default(&cfg);
    CU_ASSERT_EQUAL(cfg.n_cores, 0);
    CU_ASSERT_EQUAL(ofa_latency_parse_cores(&cfg, "0,2-3"), 0);
    CU_ASSERT_EQUAL(cfg.n_cores, 3);
    CU_ASSERT(cfg.cores[0] == 0 && cfg.cores[1] == 2 && cfg.cores[2] == 3);
    CU_ASSERT_EQUAL(ofa_latency_parse_cores(&cfg, "3-1"), OFA_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'3-1'"));
    CU_ASSERT_EQUAL(ofa_latency_parse_cores(&cfg, "x"), OFA_E_USAGE);
    CU_ASSERT_EQUAL(ofa_latency_parse_cores(&cfg, ""), OFA_E_USAGE);
    ofa_err_clear();
}

static void test_measure(void)
{
    ofa_bert m;
    tiny_model(&m);
    ofa_bert_space s;
    tiny_space(&s);
    ofa_bert_arch a;
    ofa_bert_arch_largest(&a, &s);
    ofa_latency_cfg cfg;
    quick_cfg(&cfg);
    cfg.max_spread = -1; /* never refuse: statistics only */
    cpu_set_t before, after;
    CU_ASSERT_EQUAL_FATAL(sched_getaffinity(0, sizeof before, &before), 0);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &before)) {
            cfg.cores[0] = c; /* pin to the first usable core */
            cfg.n_cores = 1;
            break;
        }
    int threads = openblas_get_num_threads();
    ofa_latency l;
    CU_ASSERT_EQUAL_FATAL(ofa_latency_measure(M(&m), S(&s, 4, 2), A(&a), &cfg, &l), 0);
    CU_ASSERT_EQUAL(l.repeats, 9);
    CU_ASSERT_EQUAL(l.attempts, 1);
    CU_ASSERT(l.min > 0);
    CU_ASSERT(l.min <= l.p10 && l.p10 <= l.median && l.median <= l.p90 && l.p90 <= l.max);
    CU_ASSERT(l.mean >= l.min && l.mean <= l.max);
    CU_ASSERT_DOUBLE_EQUAL(l.spread, (l.p90 - l.p10) / l.median, 1e-12);
    /* affinity and BLAS threads restored */
    CU_ASSERT_EQUAL(sched_getaffinity(0, sizeof after, &after), 0);
    CU_ASSERT(CPU_EQUAL(&before, &after));
    CU_ASSERT_EQUAL(openblas_get_num_threads(), threads);
    /* the model itself (arch NULL) */
    CU_ASSERT_EQUAL(ofa_latency_measure(M(&m), NULL, NULL, &cfg, &l), 0);
    /* seq_len beyond the positions */
    cfg.seq_len = 17;
    CU_ASSERT_EQUAL(ofa_latency_measure(M(&m), S(&s, 4, 2), A(&a), &cfg, &l), OFA_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "16 positions"));
    /* a core this process cannot use */
    quick_cfg(&cfg);
    cfg.cores[0] = CPU_SETSIZE - 1;
    cfg.n_cores = 1;
    if (!CPU_ISSET(CPU_SETSIZE - 1, &before)) {
        CU_ASSERT_EQUAL(ofa_latency_measure(M(&m), S(&s, 4, 2), A(&a), &cfg, &l), OFA_E_USAGE);
        CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "not available"));
    }
    ofa_err_clear();
    ofa_bert_free(&m);
}

static void test_measure_refuses_noise(void)
{
    ofa_bert m;
    tiny_model(&m);
    ofa_bert_space s;
    tiny_space(&s);
    ofa_bert_arch a;
    ofa_bert_arch_smallest(&a, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN);
    ofa_latency_cfg cfg;
    quick_cfg(&cfg);
    cfg.max_spread = 1e-9; /* no real machine times 9 runs within 1e-9 of each other */
    ofa_latency l;
    CU_ASSERT_EQUAL(ofa_latency_measure(M(&m), S(&s, 4, 2), A(&a), &cfg, &l), OFA_E_RUNTIME);
    const char *msg = ofa_err_msg();
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "too noisy"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "d1-h2-f16-e8"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "exceeds the limit 1e-07%"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "after 1 attempt;"));
    CU_ASSERT_EQUAL(l.attempts, 1);
    CU_ASSERT(l.spread > 1e-9 && l.median > 0); /* the figures are still there */
    cfg.retries = 2;
    CU_ASSERT_EQUAL(ofa_latency_measure(M(&m), S(&s, 4, 2), A(&a), &cfg, &l), OFA_E_RUNTIME);
    CU_ASSERT_EQUAL(l.attempts, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "after 3 attempts"));
    ofa_err_clear();
    ofa_bert_free(&m);
}

static void test_welford(void)
{
    ofa_latency_table t;
    ofa_latency_table_init(&t);
    const double v[] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) ofa_latency_table_add(&t, "k", v[i]);
    ofa_latency_table_add(&t, "other", 9);
    CU_ASSERT_EQUAL(t.n, 2);
    int i = ofa_latency_table_find(&t, "k");
    CU_ASSERT_EQUAL_FATAL(i, 0);
    CU_ASSERT_EQUAL(t.e[i].count, 4);
    CU_ASSERT_DOUBLE_EQUAL(t.e[i].mean, 2.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_latency_table_var(&t, i), 5.0 / 3.0, 1e-12); /* sum (x-2.5)^2 / 3 */
    CU_ASSERT_DOUBLE_EQUAL(ofa_latency_table_var(&t, 1), 0.0, 0);
    CU_ASSERT_EQUAL(ofa_latency_table_find(&t, "missing"), -1);
    ofa_latency_table_free(&t);
}

static double key_mean(const ofa_latency_table *t, const char *key)
{
    int i = ofa_latency_table_find(t, key);
    CU_ASSERT(i >= 0);
    if (i < 0) printf("\n  missing key '%s'\n", key);
    return i >= 0 ? t->e[i].mean : NAN;
}

static void test_table_build_and_predict(void)
{
    ofa_bert m;
    tiny_model(&m);
    ofa_bert_space s;
    tiny_space(&s);
    ofa_latency_cfg cfg;
    quick_cfg(&cfg);
    cfg.repeats = 3;
    ofa_latency_table t;
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_build(&t, M(&m), S(&s, 4, 2), &cfg), 0);
    /* every shape: per hidden e: embed, addln, head, qkv/oproj per heads, ffn1/ffn2 per width; attn per heads */
    const int hid[] = {8, 16}, heads[] = {2, 4}, ffn[] = {16, 32};
    int expected = 0;
    char key[64];
    for (int e = 0; e < 2; e++) {
        snprintf(key, sizeof key, "embed e=%d", hid[e]);
        key_mean(&t, key);
        snprintf(key, sizeof key, "head e=%d c=2", hid[e]);
        key_mean(&t, key);
        expected += 2;
        /* every layer's ops, and the last layer's on the first tokens ("... first") */
        for (int fi = 0; fi < 2; fi++) {
            const char *first = fi ? " first" : "";
            snprintf(key, sizeof key, "addln e=%d%s", hid[e], first);
            key_mean(&t, key);
            expected++;
            for (int h = 0; h < 2; h++) {
                snprintf(key, sizeof key, "%s e=%d w=%d%s", fi ? "q" : "qkv", hid[e], heads[h] * 4, first);
                key_mean(&t, key);
                snprintf(key, sizeof key, "oproj w=%d e=%d%s", heads[h] * 4, hid[e], first);
                key_mean(&t, key);
                expected += 2;
                if (fi) {
                    snprintf(key, sizeof key, "attn a=%d e=%d first", heads[h], hid[e]);
                    key_mean(&t, key);
                    expected++;
                }
            }
            for (int f = 0; f < 2; f++) {
                snprintf(key, sizeof key, "ffn1 e=%d f=%d%s", hid[e], ffn[f], first);
                key_mean(&t, key);
                snprintf(key, sizeof key, "ffn2 f=%d e=%d%s", ffn[f], hid[e], first);
                key_mean(&t, key);
                expected += 2;
            }
        }
    }
    for (int h = 0; h < 2; h++) {
        snprintf(key, sizeof key, "attn a=%d d=4", heads[h]);
        key_mean(&t, key);
        expected++;
    }
    CU_ASSERT_EQUAL(t.n, expected);
    for (int i = 0; i < t.n; i++) {
        CU_ASSERT_EQUAL(t.e[i].count, 3);
        CU_ASSERT(t.e[i].mean > 0);
        CU_ASSERT(ofa_latency_table_var(&t, i) >= 0);
    }
    CU_ASSERT(t.batch == 2 && t.seq_len == 8 && t.threads == 1 && t.cores >= 1 && t.hostname[0]);
    CU_ASSERT_STRING_EQUAL(t.signature, "bert hidden=16 head_dim=4 outputs=2 ops=3");
    /* one thread: the kernels in use; more: OpenBLAS's, and the path is restored afterwards */
    CU_ASSERT_STRING_EQUAL(t.kernels, nn_fm_path_name());
    const nn_fm_path before = nn_fm_get_path();
    ofa_latency_table t2;
    cfg.threads = 2;
    CU_ASSERT_STRING_EQUAL(ofa_latency_kernels(&cfg), "openblas");
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_build(&t2, M(&m), S(&s, 4, 2), &cfg), 0);
    CU_ASSERT_STRING_EQUAL(t2.kernels, "openblas");
    CU_ASSERT_EQUAL(t2.n, t.n);
    CU_ASSERT_EQUAL(nn_fm_get_path(), before);
    ofa_latency_table_free(&t2);
    cfg.threads = 1;

    /* d2-h4.2-f16.32-e8 by hand */
    ofa_bert_arch a;
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d2-h4.2-f16.32-e8", 2, 16, OFA_DEPTH_DYNABERT), 0);
    double hand = key_mean(&t, "embed e=8") + key_mean(&t, "head e=8 c=2") +
                  key_mean(&t, "qkv e=8 w=16") + key_mean(&t, "attn a=4 d=4") + key_mean(&t, "oproj w=16 e=8") +
                  2 * key_mean(&t, "addln e=8") + key_mean(&t, "ffn1 e=8 f=16") + key_mean(&t, "ffn2 f=16 e=8") +
                  key_mean(&t, "q e=8 w=8 first") + key_mean(&t, "attn a=2 e=8 first") +
                  key_mean(&t, "oproj w=8 e=8 first") + 2 * key_mean(&t, "addln e=8 first") +
                  key_mean(&t, "ffn1 e=8 f=32 first") + key_mean(&t, "ffn2 f=32 e=8 first");
    CU_ASSERT_DOUBLE_EQUAL(ofa_latency_table_predict(&t, S(&s, 4, 2), A(&a)), hand, 1e-12 * hand);
    CU_ASSERT_EQUAL(ofa_latency_table_check(&t, S(&s, 4, 2), A(&a)), 0);
    /* an arch outside the space: NaN, and check names the key */
    CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&a, "d1-h3-f16", 2, 16, OFA_DEPTH_DYNABERT), 0);
    CU_ASSERT(isnan(ofa_latency_table_predict(&t, S(&s, 4, 2), A(&a))));
    CU_ASSERT_EQUAL(ofa_latency_table_check(&t, S(&s, 4, 2), A(&a)), OFA_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "'q e=16 w=12 first'"));
    ofa_err_clear();
    ofa_latency_table_free(&t);
    ofa_bert_free(&m);
}

/* a hand-made table over heads {1, 2}, ffn {4, 8}, hidden 4 (D 2, C 1), the last layer's
 * first-token ops included */
static void synthetic_table(ofa_latency_table *t)
{
    ofa_latency_table_init(t);
    t->batch = 1;
    t->seq_len = 4;
    t->threads = 1;
    snprintf(t->signature, sizeof t->signature, "bert hidden=4 head_dim=2 outputs=1 ops=3");
    snprintf(t->hostname, sizeof t->hostname, "testhost");
    snprintf(t->kernels, sizeof t->kernels, "openblas");
    t->cores = 2;
    const char *keys[] = {"embed e=4",          "head e=4 c=1",       "addln e=4",          "qkv e=4 w=2",
                          "qkv e=4 w=4",        "attn a=1 d=2",       "attn a=2 d=2",       "oproj w=2 e=4",
                          "oproj w=4 e=4",      "ffn1 e=4 f=4",       "ffn1 e=4 f=8",       "ffn2 f=4 e=4",
                          "ffn2 f=8 e=4",       "q e=4 w=2 first",
                          "q e=4 w=4 first",    "attn a=1 e=4 first", "attn a=2 e=4 first", "oproj w=2 e=4 first",
                          "oproj w=4 e=4 first", "addln e=4 first",   "ffn1 e=4 f=4 first", "ffn1 e=4 f=8 first",
                          "ffn2 f=4 e=4 first", "ffn2 f=8 e=4 first"};
    for (int i = 0; i < (int)(sizeof keys / sizeof *keys); i++) {
        ofa_latency_table_add(t, keys[i], 0.1 * (i + 1));
        ofa_latency_table_add(t, keys[i], 0.1 * (i + 1) + 0.01 * i);
    }
}

/* five BERT archs as the latency module sees them */
static const ofa_arch *G5(const ofa_bert_arch *a)
{
    static ofa_arch g[5];
    for (int i = 0; i < 5; i++) ofa_arch_from_bert(&g[i], &a[i]);
    return g;
}

static void test_predictor_fit(void)
{
    ofa_latency_table t;
    synthetic_table(&t);
    const char *texts[] = {"d1-h1-f4", "d2-h2.1-f8.4", "d1-h2-f8", "d2-h2.2-f8.8", "d2-h1.1-f4.4"};
    ofa_bert_arch archs[5];
    double y[5];
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL_FATAL(ofa_bert_arch_parse(&archs[i], texts[i], 2, 4, OFA_DEPTH_DYNABERT), 0);
        double x = ofa_latency_table_predict(&t, S_dc(4, 2, 1), A(&archs[i]));
        CU_ASSERT_FATAL(!isnan(x));
        y[i] = 1.7 * x + 0.3;
    }
    ofa_latency_predictor p;
    CU_ASSERT_EQUAL_FATAL(ofa_latency_predictor_fit(&t, S_dc(4, 2, 1), G5(archs), y, 5, &p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p.scale, 1.7, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.constant, 0.3, 1e-9);
    CU_ASSERT_EQUAL(p.n_fit, 5);
    for (int i = 0; i < 5; i++) CU_ASSERT_DOUBLE_EQUAL(ofa_latency_predictor_predict(&p, S_dc(4, 2, 1), A(&archs[i])), y[i], 1e-9);
    /* one arch: constant only */
    CU_ASSERT_EQUAL(ofa_latency_predictor_fit(&t, S_dc(4, 2, 1), G5(archs), y, 1, &p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p.scale, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(p.constant, y[0] - ofa_latency_table_predict(&t, S_dc(4, 2, 1), A(&archs[0])), 1e-12);
    CU_ASSERT_EQUAL(ofa_latency_predictor_fit(&t, S_dc(4, 2, 1), G5(archs), y, 0, &p), OFA_E_USAGE);
    /* a fit whose constant would be negative goes through the origin: no negative predictions */
    double xs[5], xmin = INFINITY, sxy = 0, sxx = 0;
    for (int i = 0; i < 5; i++) {
        xs[i] = ofa_latency_table_predict(&t, S_dc(4, 2, 1), A(&archs[i]));
        if (xs[i] < xmin) xmin = xs[i];
    }
    double yneg[5];
    for (int i = 0; i < 5; i++) {
        yneg[i] = 2.0 * xs[i] - 0.9 * xmin; /* least squares: scale 2, constant -0.9 xmin */
        sxy += xs[i] * yneg[i];
        sxx += xs[i] * xs[i];
    }
    CU_ASSERT_EQUAL_FATAL(ofa_latency_predictor_fit(&t, S_dc(4, 2, 1), G5(archs), yneg, 5, &p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p.constant, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(p.scale, sxy / sxx, 1e-12);
    for (int i = 0; i < 5; i++) CU_ASSERT(ofa_latency_predictor_predict(&p, S_dc(4, 2, 1), A(&archs[i])) > 0);

    /* HDF5 round trip with the predictor */
    CU_ASSERT_EQUAL_FATAL(ofa_latency_predictor_fit(&t, S_dc(4, 2, 1), G5(archs), y, 5, &p), 0);
    const char *path = tu_path("table.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_save(path, &t, &p), 0);
    ofa_latency_table u;
    ofa_latency_predictor q;
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_load(path, &u, &q), 0);
    CU_ASSERT_EQUAL(u.n, t.n);
    for (int i = 0; i < t.n && i < u.n; i++) {
        CU_ASSERT_STRING_EQUAL(u.e[i].key, t.e[i].key);
        CU_ASSERT_EQUAL(u.e[i].count, t.e[i].count);
        CU_ASSERT_DOUBLE_EQUAL(u.e[i].mean, t.e[i].mean, 0);
        CU_ASSERT_DOUBLE_EQUAL(ofa_latency_table_var(&u, i), ofa_latency_table_var(&t, i), 1e-15);
    }
    CU_ASSERT(u.batch == 1 && u.seq_len == 4 && u.threads == 1 && u.cores == 2);
    CU_ASSERT_STRING_EQUAL(u.signature, "bert hidden=4 head_dim=2 outputs=1 ops=3");
    CU_ASSERT_STRING_EQUAL(u.hostname, "testhost");
    CU_ASSERT_STRING_EQUAL(u.kernels, "openblas");
    CU_ASSERT_PTR_EQUAL(q.table, &u);
    CU_ASSERT_DOUBLE_EQUAL(q.scale, p.scale, 0);
    CU_ASSERT_DOUBLE_EQUAL(q.constant, p.constant, 0);
    CU_ASSERT_EQUAL(q.n_fit, 5);
    CU_ASSERT_DOUBLE_EQUAL(ofa_latency_predictor_predict(&q, S_dc(4, 2, 1), A(&archs[3])), y[3], 1e-9);
    ofa_latency_table_free(&u);
    /* without a predictor: q is the identity */
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_save(path, &t, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_latency_table_load(path, &u, &q), 0);
    CU_ASSERT(q.n_fit == 0 && q.scale == 1.0 && q.constant == 0.0);
    ofa_latency_table_free(&u);
    /* an HDF5 file without the group */
    ofa_h5 h;
    const char *other = tu_path("other.h5");
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, other), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_set_str(&h, "/", "format", "something"), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL(ofa_latency_table_load(other, &u, &q), OFA_E_FORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "no /latency_table"));
    CU_ASSERT_EQUAL(ofa_latency_table_load(tu_path("absent.h5"), &u, NULL), OFA_E_IO);
    ofa_err_clear();
    ofa_latency_table_free(&t);
}

static void test_tau_and_mape(void)
{
    /* concordant 7, discordant 3 of 10 pairs: (7 - 3) / 10 */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {3, 1, 2, 5, 4};
    CU_ASSERT_DOUBLE_EQUAL(ofa_kendall_tau(x, y, 5), 0.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_kendall_tau(x, x, 5), 1.0, 1e-12);
    const double r[] = {5, 4, 3, 2, 1};
    CU_ASSERT_DOUBLE_EQUAL(ofa_kendall_tau(x, r, 5), -1.0, 1e-12);
    /* tau-b with ties: pairs 01 02 03 concordant, 13 discordant, 12 tied in x, 23 tied in y:
     * (3 - 1) / sqrt((6 - 1) * (6 - 1)) = 0.4 (tau-a would be 2 / 6) */
    const double tx[] = {1, 2, 2, 3}, ty[] = {1, 3, 2, 2};
    CU_ASSERT_DOUBLE_EQUAL(ofa_kendall_tau(tx, ty, 4), 0.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_kendall_tau(x, y, 1), 0.0, 0);
    /* |110-100|/100, |90-100|/100, |50-40|/40 -> 10, 10, 25 % */
    const double p[] = {110, 90, 50}, a[] = {100, 100, 40};
    CU_ASSERT_DOUBLE_EQUAL(ofa_mape(p, a, 3), 15.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(ofa_mape(a, a, 3), 0.0, 0);
}

int test_latency_register(void)
{
    CU_pSuite s = CU_add_suite("latency", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "statistics by hand", test_stats_by_hand) ||
        !CU_add_test(s, "CPU list parsing", test_parse_cores) ||
        !CU_add_test(s, "measure: statistics, pinning restored", test_measure) ||
        !CU_add_test(s, "measure: refuses a noisy figure", test_measure_refuses_noise) ||
        !CU_add_test(s, "Welford mean and variance", test_welford) ||
        !CU_add_test(s, "table: every shape, predict = hand sum", test_table_build_and_predict) ||
        !CU_add_test(s, "predictor fit and HDF5 round trip", test_predictor_fit) ||
        !CU_add_test(s, "Kendall tau and MAPE", test_tau_and_mape))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
