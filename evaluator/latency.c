#include "evaluator/latency.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "nn/nn.h"
#include "nn/fm.h"
#include "models/bert/infer.h"

#include <cblas.h> /* after nn/nn.h: it may define I (complex.h) */

#define GROUP "latency_table"

/* ---- configuration ---- */

void ofa_latency_cfg_default(ofa_latency_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 1;
    cfg->seq_len = 64;
    cfg->threads = 1;
    cfg->warmup = 5;
    cfg->repeats = 30;
    cfg->max_spread = 0.25;
    cfg->retries = 0;
    cfg->n_cores = 0;
    cfg->seed = 1;
}

void ofa_latency_cfg_from_config(ofa_latency_cfg *cfg, const ofa_config *c)
{
    ofa_latency_cfg_default(cfg);
    cfg->batch = c->search.latency_batch;
    cfg->seq_len = c->search.latency_seq_len;
    cfg->threads = c->search.latency_threads;
    cfg->warmup = c->search.latency_warmup;
    cfg->repeats = c->search.latency_repeats;
}

int ofa_latency_parse_cores(ofa_latency_cfg *cfg, const char *text)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo >= CPU_SETSIZE) goto bad;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            hi = strtol(q, &end, 10);
            if (end == q || hi < lo || hi >= CPU_SETSIZE) goto bad;
            p = end;
        }
        for (long c = lo; c <= hi; c++) {
            if (n >= OFA_LATENCY_MAX_CORES)
                return OFA_ERR(OFA_E_USAGE, "cores '%s': more than %d cores", text, OFA_LATENCY_MAX_CORES);
            cfg->cores[n++] = (int)c;
        }
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    if (n == 0) goto bad;
    cfg->n_cores = n;
    return 0;
bad:
    return OFA_ERR(OFA_E_USAGE, "cores '%s': expected a CPU list such as 0,2-3 (at character %d)", text,
                   (int)(p - text) + 1);
}

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* linear interpolation between order statistics (numpy's default) of sorted s[0..n) */
static double percentile(const double *s, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return s[n - 1];
    double f = pos - i;
    return s[i] + f * (s[i + 1] - s[i]);
}

void ofa_latency_stats(const double *ms, int n, ofa_latency *out)
{
    OFA_ASSERT(n >= 1);
    double *s = ofa_xmalloc((size_t)n * sizeof *s);
    memcpy(s, ms, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    memset(out, 0, sizeof *out);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = percentile(s, n, 0.5);
    out->p10 = percentile(s, n, 0.1);
    out->p90 = percentile(s, n, 0.9);
    out->mean = sum / n;
    out->spread = out->median > 0 ? (out->p90 - out->p10) / out->median : 0.0;
    out->repeats = n;
    out->attempts = 1;
    free(s);
}

/* ---- pinning: BLAS threads, kernels and CPU affinity, restored afterwards ---- */

const char *ofa_latency_kernels(const ofa_latency_cfg *cfg)
{
    return nn_fm_path_name_of(nn_fm_path_for_threads(cfg->threads));
}

typedef struct pin_state {
    int old_threads;
    nn_fm_path old_path;
    int have_affinity;
    cpu_set_t old_set;
    int n_blas;               /* OpenBLAS worker threads whose affinity was changed */
    cpu_set_t blas_old[OFA_LATENCY_MAX_CORES];
} pin_state;

static void blas_pin(pin_state *ps, const cpu_set_t *set, int threads)
{
    ps->n_blas = 0;
#ifdef OPENBLAS_OS_LINUX
    /* OpenBLAS threads other than the caller: indices [0, threads - 1) (the last one is the caller) */
    if (threads < 2 || openblas_get_parallel() != OPENBLAS_THREAD) return;
    for (int i = 0; i < threads - 1 && i < OFA_LATENCY_MAX_CORES; i++) {
        if (openblas_getaffinity(i, sizeof(cpu_set_t), &ps->blas_old[i]) != 0) break;
        if (openblas_setaffinity(i, sizeof(cpu_set_t), (cpu_set_t *)set) != 0) break;
        ps->n_blas = i + 1;
    }
#else
    (void)set;
    (void)threads;
#endif
}

static void blas_unpin(pin_state *ps)
{
#ifdef OPENBLAS_OS_LINUX
    for (int i = 0; i < ps->n_blas; i++) openblas_setaffinity(i, sizeof(cpu_set_t), &ps->blas_old[i]);
#endif
    ps->n_blas = 0;
}

static int pin_begin(pin_state *ps, const ofa_latency_cfg *cfg)
{
    memset(ps, 0, sizeof *ps);
    ps->old_threads = openblas_get_num_threads();
    if (cfg->n_cores > 0) {
        if (sched_getaffinity(0, sizeof ps->old_set, &ps->old_set) != 0)
            return OFA_ERR(OFA_E_RUNTIME, "latency: sched_getaffinity failed: %s", strerror(errno));
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < cfg->n_cores; i++) {
            int c = cfg->cores[i];
            if (c < 0 || c >= CPU_SETSIZE || !CPU_ISSET(c, &ps->old_set))
                return OFA_ERR(OFA_E_USAGE, "latency: core %d is not available to this process (%d usable cores)", c,
                               CPU_COUNT(&ps->old_set));
            CPU_SET(c, &set);
        }
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            return OFA_ERR(OFA_E_RUNTIME, "latency: cannot pin to the requested cores: %s", strerror(errno));
        ps->have_affinity = 1;
        ofa_set_blas_threads(cfg->threads);
        blas_pin(ps, &set, cfg->threads);
    } else {
        ofa_set_blas_threads(cfg->threads);
    }
    ps->old_path = nn_fm_get_path();
    nn_fm_set_path(nn_fm_path_for_threads(cfg->threads));
    return 0;
}

static void pin_end(pin_state *ps)
{
    blas_unpin(ps);
    if (ps->have_affinity && sched_setaffinity(0, sizeof ps->old_set, &ps->old_set) != 0)
        OFA_WARN("latency: could not restore the CPU affinity: %s", strerror(errno));
    ps->have_affinity = 0;
    ofa_set_blas_threads(ps->old_threads > 0 ? ps->old_threads : 1);
    nn_fm_set_path(ps->old_path);
}

static int check_cfg(const ofa_latency_cfg *cfg, int positions)
{
    if (cfg->batch < 1 || cfg->seq_len < 1 || cfg->threads < 1 || cfg->warmup < 0 || cfg->repeats < 1 ||
        cfg->retries < 0)
        return OFA_ERR(OFA_E_USAGE,
                       "latency: invalid settings: batch %d, seq_len %d, threads %d, warmup %d, repeats %d, retries %d "
                       "(batch, seq_len, threads, repeats >= 1; warmup, retries >= 0)",
                       cfg->batch, cfg->seq_len, cfg->threads, cfg->warmup, cfg->repeats, cfg->retries);
    if (positions > 0 && cfg->seq_len > positions)
        return OFA_ERR(OFA_E_USAGE, "latency: seq_len %d exceeds the model's %d positions", cfg->seq_len, positions);
    return 0;
}

/* ---- measured latency ---- */

int ofa_latency_measure(const ofa_bert *m, const ofa_arch *a, const ofa_latency_cfg *cfg, ofa_latency *out)
{
    memset(out, 0, sizeof *out);
    OFA_TRY(check_cfg(cfg, m->d.P));
    const int B = cfg->batch, T = cfg->seq_len, R = cfg->repeats;
    ofa_bert_infer_ws ws;
    ofa_bert_infer_ws_create(&ws, &m->d, B, T);
    int32_t *ids = ofa_xmalloc((size_t)B * T * sizeof *ids), *types = ofa_xcalloc((size_t)B * T, sizeof *types);
    int32_t *lens = ofa_xmalloc((size_t)B * sizeof *lens);
    ofa_rng rng;
    ofa_rng_seed(&rng, cfg->seed);
    for (int i = 0; i < B * T; i++) ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)m->d.V);
    for (int b = 0; b < B; b++) lens[b] = T;
    double *ms = ofa_xmalloc((size_t)R * sizeof *ms);
    pin_state ps;
    int rc = pin_begin(&ps, cfg), ok = 0, attempt = 0;
    ofa_latency best;
    memset(&best, 0, sizeof best);
    if (rc == 0) ofa_bert_infer(m, &ws, ids, types, lens, B, T, a); /* untimed, also with warmup 0 */
    for (; rc == 0 && attempt <= cfg->retries && !ok; attempt++) {
        for (int i = -cfg->warmup; i < R; i++) {
            double t0 = ofa_now();
            ofa_bert_infer(m, &ws, ids, types, lens, B, T, a);
            if (i >= 0) ms[i] = (ofa_now() - t0) * 1e3;
        }
        ofa_latency cur;
        ofa_latency_stats(ms, R, &cur);
        if (attempt == 0 || cur.spread < best.spread) best = cur;
        ok = cfg->max_spread < 0 || cur.spread <= cfg->max_spread;
        if (ok) best = cur;
    }
    if (rc == 0) pin_end(&ps);
    else if (ps.have_affinity) pin_end(&ps);
    free(ms);
    free(ids);
    free(types);
    free(lens);
    ofa_bert_infer_ws_free(&ws);
    if (rc < 0) return rc;
    best.attempts = attempt;
    *out = best;
    if (!ok) {
        char text[OFA_ARCH_TEXT_MAX] = "the full model";
        if (a) ofa_arch_print(a, m->d.H, text, sizeof text);
        return OFA_ERR(OFA_E_RUNTIME,
                       "latency of %s (batch %d, seq %d, %d thread%s): the machine is too noisy: spread (p90 - p10) / "
                       "median = %.1f%% (p10 %.4g ms, median %.4g ms, p90 %.4g ms over %d runs) exceeds the limit "
                       "%.3g%% after %d attempt%s; measure on a quieter machine, pin to idle cores, or allow (more) "
                       "retries",
                       text, B, T, cfg->threads, cfg->threads == 1 ? "" : "s", 100.0 * best.spread, best.p10,
                       best.median, best.p90, R, 100.0 * cfg->max_spread, attempt, attempt == 1 ? "" : "s");
    }
    return 0;
}

/* ---- table entries ---- */

void ofa_latency_table_init(ofa_latency_table *t) { memset(t, 0, sizeof *t); }

void ofa_latency_table_free(ofa_latency_table *t)
{
    if (!t) return;
    free(t->e);
    memset(t, 0, sizeof *t);
}

int ofa_latency_table_find(const ofa_latency_table *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].key, key)) return i;
    return -1;
}

static int table_entry(ofa_latency_table *t, const char *key)
{
    int i = ofa_latency_table_find(t, key);
    if (i >= 0) return i;
    OFA_ASSERT(strlen(key) < OFA_LATENCY_KEY_MAX);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 32;
        t->e = ofa_xrealloc(t->e, (size_t)t->cap * sizeof *t->e);
    }
    ofa_latency_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return t->n++;
}

void ofa_latency_table_add(ofa_latency_table *t, const char *key, double ms)
{
    const int i = table_entry(t, key); /* may move t->e */
    ofa_latency_entry *e = &t->e[i];
    e->count++;
    double delta = ms - e->mean;
    e->mean += delta / (double)e->count;
    e->m2 += delta * (ms - e->mean);
}

double ofa_latency_table_var(const ofa_latency_table *t, int i)
{
    const ofa_latency_entry *e = &t->e[i];
    return e->count > 1 ? e->m2 / (double)(e->count - 1) : 0.0;
}

/* ---- ops and keys ---- */

enum { OP_EMBED, OP_QKV, OP_ATTN, OP_OPROJ, OP_ADDLN, OP_FFN1, OP_FFN2, OP_HEAD, OP_COUNT };
static const char *const op_names[] = {"embed", "qkv", "attn", "oproj", "addln", "ffn1", "ffn2", "head"};
_Static_assert(sizeof op_names / sizeof *op_names == OP_COUNT, "one name per op");

/* the key of op with its two shape values (x: e, e, a, w, e, e, f, e; y: -, w, D, e, -, f, e, C) */
static void op_key(char *buf, size_t n, int op, int x, int y)
{
    switch (op) {
    case OP_EMBED: snprintf(buf, n, "embed e=%d", x); break;
    case OP_QKV: snprintf(buf, n, "qkv e=%d w=%d", x, y); break;
    case OP_ATTN: snprintf(buf, n, "attn a=%d d=%d", x, y); break;
    case OP_OPROJ: snprintf(buf, n, "oproj w=%d e=%d", x, y); break;
    case OP_ADDLN: snprintf(buf, n, "addln e=%d", x); break;
    case OP_FFN1: snprintf(buf, n, "ffn1 e=%d f=%d", x, y); break;
    case OP_FFN2: snprintf(buf, n, "ffn2 f=%d e=%d", x, y); break;
    default: snprintf(buf, n, "head e=%d c=%d", x, y); break;
    }
}

/* calls fn(op, x, y, times, ctx) for every op of arch a, in forward order */
typedef int (*op_visit)(int op, int x, int y, int times, void *ctx);

static int visit_arch(const ofa_latency_table *t, const ofa_arch *a, op_visit fn, void *ctx)
{
    const int E = a->hidden, D = t->head_dim;
    OFA_TRY(fn(OP_EMBED, E, 0, 1, ctx));
    for (int i = 0; i < a->depth; i++) {
        const int h = a->heads[i], w = h * D, f = a->ffn[i];
        OFA_TRY(fn(OP_QKV, E, w, 1, ctx));
        OFA_TRY(fn(OP_ATTN, h, D, 1, ctx));
        OFA_TRY(fn(OP_OPROJ, w, E, 1, ctx));
        OFA_TRY(fn(OP_ADDLN, E, 0, 2, ctx));
        OFA_TRY(fn(OP_FFN1, E, f, 1, ctx));
        OFA_TRY(fn(OP_FFN2, f, E, 1, ctx));
    }
    return fn(OP_HEAD, E, t->outputs, 1, ctx);
}

typedef struct sum_ctx {
    const ofa_latency_table *t;
    double sum;
    char missing[OFA_LATENCY_KEY_MAX];
} sum_ctx;

static int sum_op(int op, int x, int y, int times, void *vctx)
{
    sum_ctx *s = vctx;
    char key[OFA_LATENCY_KEY_MAX];
    op_key(key, sizeof key, op, x, y);
    int i = ofa_latency_table_find(s->t, key);
    if (i < 0) {
        snprintf(s->missing, sizeof s->missing, "%s", key);
        return -1;
    }
    s->sum += times * s->t->e[i].mean;
    return 0;
}

double ofa_latency_table_predict(const ofa_latency_table *t, const ofa_arch *a)
{
    sum_ctx s = {t, 0.0, ""};
    return visit_arch(t, a, sum_op, &s) < 0 ? NAN : s.sum;
}

int ofa_latency_table_check(const ofa_latency_table *t, const ofa_arch *a)
{
    sum_ctx s = {t, 0.0, ""};
    if (visit_arch(t, a, sum_op, &s) == 0) return 0;
    char text[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(a, t->hidden, text, sizeof text);
    return OFA_ERR(OFA_E_USAGE, "arch '%s': op '%s' is not in the latency table (built for another space?)", text,
                   s.missing);
}

/* ---- table build: each op alone on random data, laid out as in the supernet ---- */

typedef struct bench {
    int B, T, N, H, D, A, F, C, V, P;
    int32_t *ids, *types, *lens;
    float *word, *pos, *type, *g, *b, *wq, *wk, *wv, *bq, *bk, *bv, *wo, *bo, *w1, *b1, *w2, *b2;
    float *pool_w, *pool_b, *cls_w, *cls_b;
    float *x, *y, *r, *q, *k, *v, *ctx, *probs, *ao, *h, *fo, *cls, *pp, *logits;
} bench;

/* uniform in [-scale, scale) */
static float *frand_scaled(size_t n, ofa_rng *rng, float scale)
{
    float *p = ofa_xalloc_aligned(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = scale * (2.0f * ofa_rng_uniform(rng) - 1.0f);
    return p;
}

static float *frand(size_t n, ofa_rng *rng) { return frand_scaled(n, rng, 1.0f); }

static void bench_create(bench *k, const ofa_bert_dims *d, int B, int T, uint64_t seed)
{
    memset(k, 0, sizeof *k);
    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    k->B = B;
    k->T = T;
    k->N = B * T;
    k->H = d->H;
    k->D = ofa_bert_head_dim(d);
    k->A = d->A;
    k->F = d->F;
    k->C = d->C;
    k->V = d->V;
    k->P = d->P;
    const size_t N = (size_t)k->N, H = (size_t)k->H, W = (size_t)k->A * k->D, F = (size_t)k->F;
    const size_t WH = W > H ? W : H;
    /* Activations in [-1, 1) and weight matrices scaled by sqrt(3 / H) so that pre-activations have
     * the spread of a trained network's (std ~0.6): erf-based GELU and tanh take time that depends on
     * the magnitude of their input, so unit-range weights would time a different computation. */
    const float ws = sqrtf(3.0f / (float)H);
    k->ids = ofa_xmalloc(N * sizeof(int32_t));
    k->types = ofa_xcalloc(N, sizeof(int32_t));
    k->lens = ofa_xmalloc((size_t)B * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) k->ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)d->V);
    for (int b = 0; b < B; b++) k->lens[b] = T;
    k->word = frand((size_t)d->V * H, &rng);
    k->pos = frand((size_t)d->P * H, &rng);
    k->type = frand(2 * H, &rng);
    k->g = frand(H, &rng);
    k->b = frand(H, &rng);
    k->wq = frand_scaled(W * H, &rng, ws);
    k->wk = frand_scaled(W * H, &rng, ws);
    k->wv = frand_scaled(W * H, &rng, ws);
    k->bq = frand(W, &rng);
    k->bk = frand(W, &rng);
    k->bv = frand(W, &rng);
    k->wo = frand_scaled(H * W, &rng, ws);
    k->bo = frand(H, &rng);
    k->w1 = frand_scaled(F * H, &rng, ws);
    k->b1 = frand(F, &rng);
    k->w2 = frand_scaled(H * F, &rng, ws);
    k->b2 = frand(H, &rng);
    k->pool_w = frand_scaled(H * H, &rng, ws);
    k->pool_b = frand(H, &rng);
    k->cls_w = frand_scaled((size_t)d->C * H, &rng, ws);
    k->cls_b = frand((size_t)d->C, &rng);
    /* feature-major activations [features, ld] (ofa_infer_ld(N) >= N) */
    const size_t L = (size_t)ofa_infer_ld(k->N), CH = (size_t)d->C > H ? (size_t)d->C : H;
    k->x = frand(L * WH, &rng);
    k->y = frand(L * H, &rng);
    k->r = frand(L * H, &rng);
    k->q = frand(L * W, &rng);
    k->k = frand(L * W, &rng);
    k->v = frand(L * W, &rng);
    k->ctx = frand(L * W, &rng);
    k->probs = frand((size_t)T * T, &rng);
    k->ao = frand(L * H, &rng);
    k->h = frand(L * F, &rng);
    k->fo = frand(L * H, &rng);
    k->cls = frand((size_t)B * CH, &rng);
    k->pp = frand((size_t)B * H, &rng);
    k->logits = frand((size_t)B * d->C, &rng);
}

static void bench_free(bench *k)
{
    free(k->ids);
    free(k->types);
    free(k->lens);
    float *f[] = {k->word, k->pos, k->type, k->g, k->b, k->wq, k->wk, k->wv, k->bq, k->bk, k->bv, k->wo, k->bo,
                  k->w1, k->b1, k->w2, k->b2, k->pool_w, k->pool_b, k->cls_w, k->cls_b, k->x, k->y, k->r,
                  k->q, k->k, k->v, k->ctx, k->probs, k->ao, k->h, k->fo, k->cls, k->pp, k->logits};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
}

/* one run of op (shape x, y) as ofa_bert_infer runs it (the same functions, strides and buffers) */
static void bench_run(bench *k, int op, int x, int y)
{
    const int N = k->N, H = k->H, D = k->D, ld = ofa_infer_ld(N);
    const ofa_infer_layer lw = {k->wq, k->bq, k->wk, k->bk, k->wv, k->bv, k->wo, k->bo, k->g, k->b, k->w1, k->b1,
                                k->w2, k->b2, k->g, k->b, H, k->A * D, k->F};
    switch (op) {
    case OP_EMBED:
        ofa_infer_embed(k->y, ld, k->ids, k->types, N, k->T, k->word, k->pos, k->type, H, k->g, k->b, x, k->r);
        break;
    case OP_QKV: ofa_infer_qkv(k->q, k->k, k->v, ld, k->x, &lw, N, x, y); break;
    case OP_ATTN: ofa_infer_attn(k->ctx, k->q, k->k, k->v, ld, k->lens, k->B, k->T, x, D, k->probs); break;
    case OP_OPROJ: ofa_infer_oproj(k->ao, k->ctx, k->x, ld, &lw, N, x, y); break;
    case OP_ADDLN: ofa_infer_layernorm(k->ao, ld, k->g, k->b, N, x); break;
    case OP_FFN1: ofa_infer_ffn1(k->h, k->x, ld, &lw, N, x, y); break;
    case OP_FFN2: ofa_infer_ffn2(k->fo, k->h, k->x, ld, &lw, N, x, y); break;
    default:
        ofa_infer_head(k->logits, k->y, ld, k->B, k->T, k->pool_w, k->pool_b, k->cls_w, k->cls_b, H, x, k->C, k->cls,
                       k->pp);
        break;
    }
}

int ofa_latency_table_build(ofa_latency_table *t, const ofa_space *s, const ofa_bert_dims *d,
                            const ofa_latency_cfg *cfg)
{
    ofa_latency_table_init(t);
    OFA_TRY(check_cfg(cfg, d->P));
    const int D = ofa_bert_head_dim(d);
    int hidden[16], n_hidden = s->n_hidden;
    if (n_hidden > 0) memcpy(hidden, s->hidden, sizeof hidden);
    else hidden[n_hidden++] = s->H;
    for (int i = 0; i < n_hidden; i++)
        if (hidden[i] > d->H)
            return OFA_ERR(OFA_E_USAGE, "latency table: hidden %d exceeds the model's %d", hidden[i], d->H);
    for (int i = 0; i < s->n_heads; i++)
        if (s->heads[i] > d->A)
            return OFA_ERR(OFA_E_USAGE, "latency table: %d heads exceed the model's %d", s->heads[i], d->A);
    for (int i = 0; i < s->n_ffn; i++)
        if (s->ffn[i] > d->F)
            return OFA_ERR(OFA_E_USAGE, "latency table: ffn %d exceeds the model's %d", s->ffn[i], d->F);
    t->batch = cfg->batch;
    t->seq_len = cfg->seq_len;
    t->threads = cfg->threads;
    t->hidden = d->H;
    t->head_dim = D;
    t->outputs = d->C;
    if (gethostname(t->hostname, sizeof t->hostname) != 0) snprintf(t->hostname, sizeof t->hostname, "unknown");
    t->hostname[sizeof t->hostname - 1] = '\0';
    t->cores = ofa_usable_cores();
    snprintf(t->kernels, sizeof t->kernels, "%s", ofa_latency_kernels(cfg));

    /* every (op, x, y) the space produces */
    int n_shapes = 0, cap = 8 * (n_hidden + 2) * (s->n_heads + 1) * (s->n_ffn + 1);
    int(*shape)[3] = ofa_xmalloc((size_t)cap * sizeof *shape);
#define SHAPE(o, xx, yy) (shape[n_shapes][0] = (o), shape[n_shapes][1] = (xx), shape[n_shapes][2] = (yy), n_shapes++)
    for (int ei = 0; ei < n_hidden; ei++) {
        const int E = hidden[ei];
        SHAPE(OP_EMBED, E, 0);
        for (int hi = 0; hi < s->n_heads; hi++) {
            SHAPE(OP_QKV, E, s->heads[hi] * D);
            SHAPE(OP_OPROJ, s->heads[hi] * D, E);
        }
        SHAPE(OP_ADDLN, E, 0);
        for (int fi = 0; fi < s->n_ffn; fi++) {
            SHAPE(OP_FFN1, E, s->ffn[fi]);
            SHAPE(OP_FFN2, s->ffn[fi], E);
        }
        SHAPE(OP_HEAD, E, d->C);
    }
    for (int hi = 0; hi < s->n_heads; hi++) SHAPE(OP_ATTN, s->heads[hi], D);
#undef SHAPE
    OFA_ASSERT(n_shapes <= cap);

    bench k;
    bench_create(&k, d, cfg->batch, cfg->seq_len, cfg->seed);
    pin_state ps;
    int rc = pin_begin(&ps, cfg);
    for (int i = 0; i < n_shapes && rc == 0; i++) {
        char key[OFA_LATENCY_KEY_MAX];
        op_key(key, sizeof key, shape[i][0], shape[i][1], shape[i][2]);
        for (int r = -cfg->warmup; r < cfg->repeats; r++) {
            double t0 = ofa_now();
            bench_run(&k, shape[i][0], shape[i][1], shape[i][2]);
            double ms = (ofa_now() - t0) * 1e3;
            if (r >= 0) ofa_latency_table_add(t, key, ms);
        }
    }
    if (rc == 0 || ps.have_affinity) pin_end(&ps);
    bench_free(&k);
    free(shape);
    if (rc < 0) ofa_latency_table_free(t);
    return rc;
}

/* ---- predictor ---- */

int ofa_latency_predictor_fit(const ofa_latency_table *t, const ofa_arch *archs, const double *measured_ms, int n,
                              ofa_latency_predictor *pred)
{
    memset(pred, 0, sizeof *pred);
    pred->table = t;
    pred->scale = 1.0;
    if (n < 1) return OFA_ERR(OFA_E_USAGE, "latency predictor: no measured archs to fit on");
    double *x = ofa_xmalloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) {
        int rc = ofa_latency_table_check(t, &archs[i]);
        if (rc < 0) {
            free(x);
            return rc;
        }
        x[i] = ofa_latency_table_predict(t, &archs[i]);
    }
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += measured_ms[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (measured_ms[i] - my);
    }
    free(x);
    double scale = 1.0;
    if (n >= 2 && sxx > 1e-12 * mx * mx && sxy > 0) scale = sxy / sxx;
    pred->scale = scale;
    pred->constant = my - scale * mx;
    pred->n_fit = n;
    return 0;
}

double ofa_latency_predictor_predict(const ofa_latency_predictor *pred, const ofa_arch *a)
{
    return pred->scale * ofa_latency_table_predict(pred->table, a) + pred->constant;
}

/* ---- HDF5 ---- */

int ofa_latency_table_write(ofa_h5 *h, const ofa_latency_table *t, const ofa_latency_predictor *pred)
{
    if (t->n < 1) return OFA_ERR(OFA_E_USAGE, "%s: the latency table is empty", h->path);
    const char **keys = ofa_xmalloc((size_t)t->n * sizeof *keys);
    int64_t *count = ofa_xmalloc((size_t)t->n * sizeof *count);
    double *mean = ofa_xmalloc((size_t)t->n * sizeof *mean), *var = ofa_xmalloc((size_t)t->n * sizeof *var);
    for (int i = 0; i < t->n; i++) {
        keys[i] = t->e[i].key;
        count[i] = t->e[i].count;
        mean[i] = t->e[i].mean;
        var[i] = ofa_latency_table_var(t, i);
    }
    int64_t shape[1] = {t->n};
    int rc = ofa_h5_write_strings(h, GROUP "/keys", keys, t->n);
    if (rc == 0) rc = ofa_h5_write_i64(h, GROUP "/count", count, 1, shape);
    if (rc == 0) rc = ofa_h5_write_f64(h, GROUP "/mean", mean, 1, shape);
    if (rc == 0) rc = ofa_h5_write_f64(h, GROUP "/var", var, 1, shape);
    free(keys);
    free(count);
    free(mean);
    free(var);
    OFA_TRY(rc);
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "unit", "ms"));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "created", created));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "batch", t->batch));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "seq_len", t->seq_len));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "threads", t->threads));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "hidden", t->hidden));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "head_dim", t->head_dim));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "outputs", t->outputs));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "hostname", t->hostname));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "cores", t->cores));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "kernels", t->kernels));
    if (pred && pred->n_fit > 0) {
        OFA_TRY(ofa_h5_attr_set_f64(h, GROUP, "const", pred->constant));
        OFA_TRY(ofa_h5_attr_set_f64(h, GROUP, "scale", pred->scale));
        OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "fit_n", pred->n_fit));
    }
    return 0;
}

static int get_int(ofa_h5 *h, const char *key, int *out)
{
    int64_t v;
    OFA_TRY(ofa_h5_attr_get_i64(h, GROUP, key, &v));
    *out = (int)v;
    return 0;
}

int ofa_latency_table_read(ofa_h5 *h, ofa_latency_table *t, ofa_latency_predictor *pred)
{
    ofa_latency_table_init(t);
    if (pred) {
        memset(pred, 0, sizeof *pred);
        pred->table = t;
        pred->scale = 1.0;
    }
    int ex = ofa_h5_exists(h, GROUP "/keys");
    if (ex < 0) return ex;
    if (!ex)
        return OFA_ERR(OFA_E_FORMAT, "%s: no /latency_table (not a latency table file; build one with "
                                     "'ofa latency CHECKPOINT --table')", h->path);
    char **keys = NULL;
    int64_t n = 0;
    OFA_TRY(ofa_h5_read_strings(h, GROUP "/keys", &keys, &n));
    int64_t shape[1] = {n};
    const size_t nn = (size_t)(n > 0 ? n : 1);
    int64_t *count = ofa_xmalloc(nn * sizeof *count);
    double *mean = ofa_xmalloc(nn * sizeof *mean), *var = ofa_xmalloc(nn * sizeof *var);
    int rc = n < 1 ? OFA_ERR(OFA_E_FORMAT, "%s: /latency_table/keys is empty", h->path) : 0;
    if (rc == 0) rc = ofa_h5_read_i64(h, GROUP "/count", count, 1, shape);
    if (rc == 0) rc = ofa_h5_read_f64(h, GROUP "/mean", mean, 1, shape);
    if (rc == 0) rc = ofa_h5_read_f64(h, GROUP "/var", var, 1, shape);
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        if (strlen(keys[i]) >= OFA_LATENCY_KEY_MAX || ofa_latency_table_find(t, keys[i]) >= 0 || count[i] < 1 ||
            !(var[i] >= 0) || !isfinite(mean[i])) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s: /latency_table entry %lld ('%s') is invalid or duplicated", h->path,
                         (long long)i, keys[i]);
            break;
        }
        const int j = table_entry(t, keys[i]); /* may move t->e */
        ofa_latency_entry *e = &t->e[j];
        e->count = count[i];
        e->mean = mean[i];
        e->m2 = var[i] * (double)(count[i] - 1);
    }
    ofa_h5_free_strings(keys, n);
    free(count);
    free(mean);
    free(var);
    if (rc == 0) rc = get_int(h, "batch", &t->batch);
    if (rc == 0) rc = get_int(h, "seq_len", &t->seq_len);
    if (rc == 0) rc = get_int(h, "threads", &t->threads);
    if (rc == 0) rc = get_int(h, "hidden", &t->hidden);
    if (rc == 0) rc = get_int(h, "head_dim", &t->head_dim);
    if (rc == 0) rc = get_int(h, "outputs", &t->outputs);
    if (rc == 0) rc = get_int(h, "cores", &t->cores);
    char *host = NULL;
    if (rc == 0) rc = ofa_h5_attr_get_str(h, GROUP, "hostname", &host);
    if (rc == 0) snprintf(t->hostname, sizeof t->hostname, "%s", host);
    free(host);
    char *kern = NULL;
    snprintf(t->kernels, sizeof t->kernels, "unknown");
    if (rc == 0 && ofa_h5_attr_exists(h, GROUP, "kernels") > 0) {
        rc = ofa_h5_attr_get_str(h, GROUP, "kernels", &kern);
        if (rc == 0) snprintf(t->kernels, sizeof t->kernels, "%s", kern);
        free(kern);
    }
    if (rc == 0 && pred && ofa_h5_attr_exists(h, GROUP, "const") > 0) {
        int64_t fit_n = 0;
        rc = ofa_h5_attr_get_f64(h, GROUP, "const", &pred->constant);
        if (rc == 0) rc = ofa_h5_attr_get_f64(h, GROUP, "scale", &pred->scale);
        if (rc == 0) rc = ofa_h5_attr_get_i64(h, GROUP, "fit_n", &fit_n);
        pred->n_fit = (int)fit_n;
    }
    if (rc < 0) ofa_latency_table_free(t);
    return rc;
}

int ofa_latency_table_save(const char *path, const ofa_latency_table *t, const ofa_latency_predictor *pred)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = ofa_latency_table_write(&h, t, pred);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "format", "ofa-latency-table");
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

int ofa_latency_table_load(const char *path, ofa_latency_table *t, ofa_latency_predictor *pred)
{
    ofa_h5 h;
    ofa_latency_table_init(t);
    OFA_TRY(ofa_h5_open(&h, path));
    int rc = ofa_latency_table_read(&h, t, pred);
    ofa_h5_close(&h);
    return rc;
}

/* ---- agreement ---- */

double ofa_kendall_tau(const double *x, const double *y, int n)
{
    double conc = 0, disc = 0, tx = 0, ty = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int dx = (x[i] > x[j]) - (x[i] < x[j]), dy = (y[i] > y[j]) - (y[i] < y[j]);
            pairs++;
            if (dx == 0) tx++;
            if (dy == 0) ty++;
            if (dx * dy > 0) conc++;
            else if (dx * dy < 0) disc++;
        }
    double den = sqrt((pairs - tx) * (pairs - ty));
    return den > 0 ? (conc - disc) / den : 0.0;
}

double ofa_mape(const double *pred, const double *actual, int n)
{
    if (n < 1) return 0.0;
    double s = 0;
    for (int i = 0; i < n; i++) s += fabs(pred[i] - actual[i]) / fabs(actual[i]);
    return 100.0 * s / n;
}
