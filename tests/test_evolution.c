/* Suite evolution: the search state machine against a synthetic scorer (metric a smooth function of
 * the arch, latency linear in MACs), checked against exhaustive enumeration of the space, the
 * random-search baseline, the cache, infeasible budgets and checkpoint/resume equality. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/error.h"
#include "core/h5io.h"
#include "evaluator/evolution.h"
#include "models/bert/arch.h"
#include "models/bert/family.h"
#include "tests/testutil.h"

/* L=4 supernet, hidden 64, head size 16; depth 2 or 4: 16^2 + 16^4 = 65792 archs. */
static void big_space(ofa_bert_space *s)
{
    const int depth[] = {2, 4}, heads[] = {1, 2, 3, 4}, ffn[] = {64, 128, 192, 256};
    int rc = ofa_bert_space_init(s, 4, 4, 256, 64, OFA_DEPTH_DYNABERT, depth, 2, heads, 4, ffn, 4, NULL, 0);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
}

#define T_SEQ 32
#define D_HEAD 16

/* Latency (ms) linear in MACs; the estimate is the same (a perfect table) unless scaled. */
static double lat_ms(const ofa_bert_arch *a) { return 0.05 + ofa_bert_arch_macs(a, T_SEQ, 2, D_HEAD) * 2e-6; }

/* Metric: concave in each layer's heads and FFN (diminishing returns), deeper layers worth more, so
 * the best arch under a budget is a real trade-off, not the largest that fits. */
static double metric_of(const ofa_bert_arch *a)
{
    double m = 0.5;
    for (int i = 0; i < a->depth; i++) {
        double wl = 1.0 + 0.3 * a->layer[i];
        m += wl * (0.05 * sqrt((double)a->heads[i]) + 0.04 * log(1.0 + a->ffn[i] / 64.0));
    }
    return m / 4.0;
}

/* the BERT space as the search sees it (the evolution copies it) */
static const ofa_space *G(const ofa_bert_space *s)
{
    static ofa_space g;
    ofa_space_from_bert(&g, s);
    return &g;
}

static double est_fn(const ofa_arch *ga, void *ctx)
{
    const ofa_bert_arch *a = &ga->u.bert;
    double scale = ctx ? *(const double *)ctx : 1.0;
    return scale * lat_ms(a);
}

static ofa_evo_point score(const ofa_bert_arch *a)
{
    ofa_evo_point p;
    memset(&p, 0, sizeof p);
    ofa_arch_from_bert(&p.arch, a);
    p.metric = metric_of(a);
    p.dev_metric = NAN;
    p.latency_ms = lat_ms(a);
    p.spread_ms = 0.01 * p.latency_ms;
    p.params = ofa_bert_arch_params(a, 100, 32, 2, D_HEAD);
    p.macs = ofa_bert_arch_macs(a, T_SEQ, 2, D_HEAD);
    return p;
}

/* Best metric over the whole space within budget B (latency as scored), by enumeration. */
static double exhaustive_best(const ofa_bert_space *s, double B)
{
    double best = -INFINITY;
    for (int di = 0; di < s->n_depth; di++) {
        int d = s->depth[di];
        long combos = 1;
        for (int i = 0; i < d; i++) combos *= s->n_heads * s->n_ffn;
        ofa_bert_arch a;
        a.depth = d;
        a.hidden = s->H;
        ofa_bert_arch_kept_layers(s->L, d, s->rule, a.layer);
        for (long c = 0; c < combos; c++) {
            long r = c;
            for (int i = 0; i < d; i++) {
                a.heads[i] = s->heads[r % s->n_heads];
                r /= s->n_heads;
                a.ffn[i] = s->ffn[r % s->n_ffn];
                r /= s->n_ffn;
            }
            if (lat_ms(&a) <= B && metric_of(&a) > best) best = metric_of(&a);
        }
    }
    return best;
}

static void cfg_for(ofa_config *c, int pop, int gens, const double *budgets, int nb)
{
    ofa_config_defaults(c);
    snprintf(c->source, sizeof c->source, "test.yaml");
    c->search.population = pop;
    c->search.generations = gens;
    c->search.parents = 0.25;
    c->search.mutate_prob = 0.2;
    c->search.mutation_ratio = 0.5;
    c->search.n_budgets = nb;
    for (int b = 0; b < nb; b++) c->search.budgets_ms[b] = budgets[b];
}

/* Drives a search to the end: batches of `batch`, each batch reported in reverse order; checks every
 * candidate is new (never cached, never handed out before).  Stops after `stop_after` reports when
 * >= 0 (returning with candidates still outstanding in *pending). Returns next_batch's error or 0. */
typedef struct driver {
    int64_t reports, handed;
    int dup_handed;
    ofa_evo_cand pending[64];
    int n_pending;
} driver;

static int drive(ofa_evo *e, driver *d, int batch, int64_t stop_after)
{
    while (!ofa_evo_done(e)) {
        int n = ofa_evo_next_batch(e, d->pending, batch);
        if (n < 0) return n;
        if (n == 0 && ofa_evo_done(e)) break; /* the last step was complete */
        CU_ASSERT_FATAL(n > 0);               /* everything handed out is reported below, so never waiting here */
        d->n_pending = n;
        d->handed += n;
        for (int i = 0; i < n; i++)
            if (ofa_evo_lookup(e, d->pending[i].text)) d->dup_handed++;
        for (int i = n - 1; i >= 0; i--) {
            if (stop_after >= 0 && d->reports == stop_after) return 0;
            ofa_evo_point p = score(&d->pending[i].arch.u.bert);
            ofa_evo_report(e, &p);
            d->reports++;
            d->n_pending = i;
        }
    }
    return 0;
}

static double winner_metric(const ofa_evo *e, int b)
{
    int64_t n, w = ofa_evo_winner(e, b);
    const ofa_evo_point *pts = ofa_evo_points(e, &n);
    return w >= 0 ? pts[w].metric : -INFINITY;
}

static void test_finds_optimum(void)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo, hi;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_largest(&hi, &s);
    double budgets[2] = {lat_ms(&lo) + 0.3 * (lat_ms(&hi) - lat_ms(&lo)),
                         lat_ms(&lo) + 0.6 * (lat_ms(&hi) - lat_ms(&lo))};
    ofa_config c;
    cfg_for(&c, 24, 25, budgets, 2);
    int found = 0;
    for (int seed = 1; seed <= 3; seed++) {
        ofa_evo e;
        CU_ASSERT_EQUAL_FATAL(
            ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, (uint64_t)seed, est_fn, NULL), 0);
        driver d = {0};
        CU_ASSERT_EQUAL(drive(&e, &d, 7, -1), 0);
        CU_ASSERT_EQUAL(d.dup_handed, 0);
        for (int b = 0; b < 2; b++) {
            double opt = exhaustive_best(&s, budgets[b]), got = winner_metric(&e, b);
            int64_t n;
            const ofa_evo_point *pts = ofa_evo_points(&e, &n);
            CU_ASSERT(pts[ofa_evo_winner(&e, b)].latency_ms <= budgets[b]);
            /* 24 + 25*18 = 474 evaluations of 65792 archs: within 1 % of the optimum, exact most times */
            if (got < opt - 0.01 * fabs(opt))
                fprintf(stderr, "\n  seed %d budget %d: evolution %.6f, optimum %.6f\n", seed, b, got, opt);
            CU_ASSERT(got <= opt + 1e-12);
            CU_ASSERT(got >= opt - 0.01 * fabs(opt));
            found += got >= opt - 1e-12;
        }
        ofa_evo_free(&e);
    }
    CU_ASSERT(found >= 3); /* exact optimum in at least half of the 6 searches */
}

static void test_beats_random(void)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo, hi;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_largest(&hi, &s);
    double budgets[2] = {lat_ms(&lo) + 0.25 * (lat_ms(&hi) - lat_ms(&lo)),
                         lat_ms(&lo) + 0.5 * (lat_ms(&hi) - lat_ms(&lo))};
    ofa_config c;
    cfg_for(&c, 16, 10, budgets, 2);
    double sum_evo[2] = {0, 0}, sum_rnd[2] = {0, 0};
    const int seeds = 5;
    for (int seed = 1; seed <= seeds; seed++) {
        ofa_evo e, r;
        CU_ASSERT_EQUAL_FATAL(
            ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, (uint64_t)seed, est_fn, NULL), 0);
        CU_ASSERT_EQUAL_FATAL(
            ofa_random_search_init(&r, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, (uint64_t)seed, est_fn, NULL), 0);
        driver de = {0}, dr = {0};
        CU_ASSERT_EQUAL(drive(&e, &de, 16, -1), 0);
        CU_ASSERT_EQUAL(drive(&r, &dr, 16, -1), 0);
        /* same candidate count per budget: 16 + 10 * (16 - 4) = 136 drawn; the random draws are
         * nearly all distinct in this space, evolution re-meets its parents (cache hits) */
        CU_ASSERT(dr.reports <= 2 * 136 && dr.reports >= 2 * 136 - 10);
        CU_ASSERT(de.reports <= 2 * 136);
        for (int b = 0; b < 2; b++) {
            sum_evo[b] += winner_metric(&e, b);
            sum_rnd[b] += winner_metric(&r, b);
        }
        ofa_evo_free(&e);
        ofa_evo_free(&r);
    }
    for (int b = 0; b < 2; b++) {
        if (!(sum_evo[b] > sum_rnd[b]))
            fprintf(stderr, "\n  budget %d: evolution mean %.5f, random mean %.5f\n", b, sum_evo[b] / seeds,
                    sum_rnd[b] / seeds);
        CU_ASSERT(sum_evo[b] > sum_rnd[b]);
    }
}

/* A larger budget's winner is never worse than a smaller one's: every arch scored for the smaller
 * budget also competes for the larger (small searches, so the larger budget's own population often
 * misses what the smaller one found). */
static void test_monotone_winners(void)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo, hi;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_largest(&hi, &s);
    double budgets[3] = {lat_ms(&lo) + 0.3 * (lat_ms(&hi) - lat_ms(&lo)),
                         lat_ms(&lo) + 0.31 * (lat_ms(&hi) - lat_ms(&lo)),
                         lat_ms(&lo) + 0.32 * (lat_ms(&hi) - lat_ms(&lo))};
    ofa_config c;
    cfg_for(&c, 4, 1, budgets, 3);
    for (int seed = 1; seed <= 20; seed++) {
        ofa_evo e;
        CU_ASSERT_EQUAL_FATAL(
            ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, (uint64_t)seed, est_fn, NULL), 0);
        driver d = {0};
        CU_ASSERT_EQUAL(drive(&e, &d, 4, -1), 0);
        for (int b = 1; b < 3; b++) {
            if (!(winner_metric(&e, b) >= winner_metric(&e, b - 1)))
                fprintf(stderr, "\n  seed %d: budget %d winner %.6f < budget %d winner %.6f\n", seed, b,
                        winner_metric(&e, b), b - 1, winner_metric(&e, b - 1));
            CU_ASSERT(winner_metric(&e, b) >= winner_metric(&e, b - 1));
        }
        ofa_evo_free(&e);
    }
    /* budgets listed largest first: the earlier (larger) budget's winner takes in what the later found */
    double desc[3] = {budgets[2], budgets[1], budgets[0]};
    cfg_for(&c, 4, 1, desc, 3);
    for (int seed = 1; seed <= 20; seed++) {
        ofa_evo e;
        CU_ASSERT_EQUAL_FATAL(
            ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, (uint64_t)seed, est_fn, NULL), 0);
        driver d = {0};
        CU_ASSERT_EQUAL(drive(&e, &d, 4, -1), 0);
        for (int b = 1; b < 3; b++) CU_ASSERT(winner_metric(&e, b - 1) >= winner_metric(&e, b));
        ofa_evo_free(&e);
    }
}

static void test_cache(void)
{
    ofa_bert_space s;
    /* tiny space: 3 + 9 archs, so the search must meet cached archs again and again */
    const int depth[] = {1, 2}, heads[] = {1, 2, 4}, ffn[] = {64};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 2, 4, 64, 64, OFA_DEPTH_DYNABERT, depth, 2, heads, 3, ffn, 1, NULL, 0), 0);
    double budgets[2] = {100, 100};
    ofa_config c;
    cfg_for(&c, 6, 5, budgets, 2);
    ofa_evo e;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, 7, est_fn, NULL), 0);
    driver d = {0};
    CU_ASSERT_EQUAL(drive(&e, &d, 4, -1), 0);
    int64_t n;
    const ofa_evo_point *pts = ofa_evo_points(&e, &n);
    CU_ASSERT_EQUAL(d.dup_handed, 0);
    CU_ASSERT_EQUAL(n, 12);        /* new archs preferred: the whole space gets evaluated */
    CU_ASSERT_EQUAL(n, d.reports); /* every report was a new arch */
    CU_ASSERT_EQUAL(e.evaluations, n);
    /* 2 budgets x (6 + 5 x 6) = 72 members: each is a cache hit, or evaluated (once per distinct
     * arch of a step: a step may repeat an arch once the space is exhausted) */
    CU_ASSERT(e.cache_hits + n <= 72);
    CU_ASSERT(e.cache_hits >= 72 - 2 * (6 + 5 * 4));
    /* both budgets admit everything: the winner is the space's best = the largest arch */
    ofa_bert_arch big;
    ofa_bert_arch_largest(&big, &s);
    char t[OFA_ARCH_TEXT_MAX];
    ofa_bert_arch_print(&big, s.H, t, sizeof t);
    if (ofa_evo_winner(&e, 0) >= 0) CU_ASSERT_STRING_EQUAL(pts[ofa_evo_winner(&e, 0)].text, t);
    CU_ASSERT_EQUAL(ofa_evo_winner(&e, 0), ofa_evo_winner(&e, 1));
    /* a second report of a cached arch is ignored: the first result stays */
    ofa_evo_point p = score(&big);
    double m0 = ofa_evo_lookup(&e, t)->metric;
    p.metric = -5;
    ofa_evo_report(&e, &p);
    ofa_evo_points(&e, &n);
    CU_ASSERT_EQUAL(n, e.evaluations);
    CU_ASSERT_EQUAL(ofa_evo_lookup(&e, t)->metric, m0);
    CU_ASSERT_PTR_NULL(ofa_evo_lookup(&e, "d9-h1-f1"));
    /* done: no more candidates */
    ofa_evo_cand cand[4];
    CU_ASSERT_EQUAL(ofa_evo_next_batch(&e, cand, 4), 0);
    ofa_evo_free(&e);
}

/* next_batch returns 0 while candidates are outstanding, and hands out each distinct arch once. */
static void test_waiting(void)
{
    ofa_bert_space s;
    big_space(&s);
    double budgets[1] = {1000};
    ofa_config c;
    cfg_for(&c, 8, 2, budgets, 1);
    ofa_evo e;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, 3, est_fn, NULL), 0);
    ofa_evo_cand a[8], b[8];
    int n1 = ofa_evo_next_batch(&e, a, 5);
    int n2 = ofa_evo_next_batch(&e, b, 8);
    CU_ASSERT_EQUAL(n1, 5);
    CU_ASSERT(n2 >= 1 && n1 + n2 <= 8);
    for (int i = 0; i < n1; i++)
        for (int j = 0; j < n2; j++) CU_ASSERT(strcmp(a[i].text, b[j].text) != 0);
    CU_ASSERT_EQUAL(ofa_evo_next_batch(&e, b + n2, 8 - n2), 0); /* all handed out, none reported */
    for (int i = 0; i < n1; i++) {
        ofa_evo_point p = score(&a[i].arch.u.bert);
        ofa_evo_report(&e, &p);
    }
    CU_ASSERT_EQUAL(ofa_evo_next_batch(&e, a, 8), 0); /* still waiting for the second batch */
    CU_ASSERT_EQUAL(e.gen, 0);
    for (int i = 0; i < n2; i++) {
        ofa_evo_point p = score(&b[i].arch.u.bert);
        ofa_evo_report(&e, &p);
    }
    CU_ASSERT(ofa_evo_next_batch(&e, a, 8) > 0); /* the first generation's children */
    CU_ASSERT_EQUAL(e.gen, 1);
    ofa_evo_free(&e);
}

/* Measured latency above the estimate: winners must meet the budget by measurement. */
static void test_measured_constraint(void)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo, hi;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_largest(&hi, &s);
    double budgets[1] = {lat_ms(&lo) + 0.4 * (lat_ms(&hi) - lat_ms(&lo))};
    ofa_config c;
    cfg_for(&c, 16, 8, budgets, 1);
    double optimistic = 0.8; /* the estimate says 80 % of what is measured */
    ofa_evo e;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, 5, est_fn, &optimistic), 0);
    driver d = {0};
    CU_ASSERT_EQUAL(drive(&e, &d, 16, -1), 0);
    int64_t n, over = 0;
    const ofa_evo_point *pts = ofa_evo_points(&e, &n);
    for (int64_t i = 0; i < n; i++) over += pts[i].latency_ms > budgets[0];
    CU_ASSERT(over > 0); /* the test means something: some candidates failed measurement */
    int64_t w = ofa_evo_winner(&e, 0);
    CU_ASSERT_FATAL(w >= 0);
    CU_ASSERT(pts[w].latency_ms <= budgets[0]);
    for (int64_t i = 0; i < n; i++) /* the winner is the best measured-feasible point seen */
        if (pts[i].latency_ms <= budgets[0]) CU_ASSERT(pts[i].metric <= pts[w].metric);
    ofa_evo_free(&e);
}

static void test_infeasible(void)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    /* a budget below the smallest arch: refused before any budget is searched */
    double budgets[2] = {1000, 0.5 * lat_ms(&lo)};
    ofa_config c;
    cfg_for(&c, 4, 1, budgets, 2);
    ofa_evo e;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, 1, est_fn, NULL),
                          OFA_E_RUNTIME);
    char want[512];
    snprintf(want, sizeof want,
             "search.budgets_ms[1] = %g ms is infeasible: the smallest arch d2-h1.1-f64.64 is estimated at %.4g ms, "
             "and every other arch is slower",
             budgets[1], lat_ms(&lo));
    if (strcmp(ofa_err_msg(), want) != 0) fprintf(stderr, "\n  got  '%s'\n  want '%s'\n", ofa_err_msg(), want);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    ofa_err_clear();
    /* a budget only the smallest arch meets, which 4000 random draws miss: the smallest arch wins it */
    budgets[1] = lat_ms(&lo);
    cfg_for(&c, 4, 1, budgets, 2);
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH, &c, 1, est_fn, NULL), 0);
    driver d = {0};
    CU_ASSERT_EQUAL(drive(&e, &d, 8, -1), 0);
    CU_ASSERT_EQUAL(e.budget, 2);
    int64_t n, w = ofa_evo_winner(&e, 1);
    const ofa_evo_point *pts = ofa_evo_points(&e, &n);
    CU_ASSERT_FATAL(w >= 0 && w < n);
    CU_ASSERT_STRING_EQUAL(pts[w].text, "d2-h1.1-f64.64");
    ofa_evo_free(&e);

    /* bad settings */
    cfg_for(&c, 4, 1, budgets, 0);
    CU_ASSERT_EQUAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH, &c, 1, est_fn, NULL), OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(),
                           "test.yaml: search.budgets_ms is empty: give at least one latency budget (ms)");
    ofa_err_clear();
    double neg[1] = {-1};
    cfg_for(&c, 4, 1, neg, 1);
    CU_ASSERT_EQUAL(ofa_evo_init(&e, G(&s), OFA_ELASTIC_WIDTH, &c, 1, est_fn, NULL), OFA_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(),
                           "test.yaml: search.budgets_ms[0] = -1: a budget must be a positive number of ms");
    ofa_err_clear();
}

/* Elastic width only: depth, kept layers and hidden never change; hidden elastic: drawn from its list. */
static void test_elastic_dims(void)
{
    ofa_bert_space s;
    const int depth[] = {2, 4}, heads[] = {1, 2, 4}, ffn[] = {64, 256}, hidden[] = {32, 64};
    CU_ASSERT_EQUAL_FATAL(ofa_bert_space_init(&s, 4, 4, 256, 64, OFA_DEPTH_DYNABERT, depth, 2, heads, 3, ffn, 2, hidden, 2), 0);
    double budgets[1] = {1000};
    ofa_config c;
    cfg_for(&c, 8, 4, budgets, 1);
    c.search.mutate_prob = 0.5;
    for (int el = 0; el < 2; el++) {
        int elastic = el ? (OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | OFA_ELASTIC_HIDDEN) : OFA_ELASTIC_WIDTH;
        ofa_evo e;
        CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&e, G(&s), elastic, &c, 11, est_fn, NULL), 0);
        driver d = {0};
        CU_ASSERT_EQUAL(drive(&e, &d, 8, -1), 0);
        int64_t n;
        const ofa_evo_point *pts = ofa_evo_points(&e, &n);
        int depths = 0, hiddens = 0;
        for (int64_t i = 0; i < n; i++) {
            CU_ASSERT_EQUAL(ofa_bert_arch_check(&pts[i].arch.u.bert, &s), 0);
            depths |= pts[i].arch.u.bert.depth == 2 ? 1 : 2;
            hiddens |= pts[i].arch.u.bert.hidden == 32 ? 1 : 2;
        }
        CU_ASSERT_EQUAL(depths, el ? 3 : 2);
        CU_ASSERT_EQUAL(hiddens, el ? 3 : 2);
        ofa_evo_free(&e);
    }
}

static int cmp_text(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted "text metric latency" lines of every evaluated point. */
static char **evaluated_set(const ofa_evo *e, int64_t *n)
{
    const ofa_evo_point *pts = ofa_evo_points(e, n);
    char **v = malloc((size_t)*n * sizeof *v);
    for (int64_t i = 0; i < *n; i++) {
        v[i] = malloc(OFA_ARCH_TEXT_MAX + 64);
        snprintf(v[i], OFA_ARCH_TEXT_MAX + 64, "%s %.17g %.17g %lld", pts[i].text, pts[i].metric, pts[i].latency_ms,
                 (long long)pts[i].params);
    }
    qsort(v, (size_t)*n, sizeof *v, cmp_text);
    return v;
}

static void run_resume(int kind, int64_t stop_after, int want_budget, int want_gen)
{
    ofa_bert_space s;
    big_space(&s);
    ofa_bert_arch lo, hi;
    ofa_bert_arch_smallest(&lo, &s, OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH);
    ofa_bert_arch_largest(&hi, &s);
    double budgets[2] = {lat_ms(&lo) + 0.3 * (lat_ms(&hi) - lat_ms(&lo)),
                         lat_ms(&lo) + 0.6 * (lat_ms(&hi) - lat_ms(&lo))};
    ofa_config c;
    cfg_for(&c, 12, 6, budgets, 2);
    int el = OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH;
    int (*init)(ofa_evo *, const ofa_space *, int, const ofa_config *, uint64_t, ofa_latency_fn, void *) =
        kind == OFA_SEARCH_RANDOM ? ofa_random_search_init : ofa_evo_init;

    ofa_evo ref;
    CU_ASSERT_EQUAL_FATAL(init(&ref, G(&s), el, &c, 42, est_fn, NULL), 0);
    driver d0 = {0};
    CU_ASSERT_EQUAL(drive(&ref, &d0, 5, -1), 0);

    ofa_evo a;
    CU_ASSERT_EQUAL_FATAL(init(&a, G(&s), el, &c, 42, est_fn, NULL), 0);
    driver d1 = {0};
    CU_ASSERT_EQUAL(drive(&a, &d1, 5, stop_after), 0);
    CU_ASSERT(d1.n_pending > 0); /* interrupted with candidates outstanding */
    CU_ASSERT_FATAL(!ofa_evo_done(&a));
    const char *path = tu_path(kind == OFA_SEARCH_RANDOM ? "search_r.h5" : "search_e.h5");
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    int rc = ofa_evo_write(&a, &h, "/search");
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    int gen_at = a.gen, budget_at = a.budget;
    CU_ASSERT_EQUAL(budget_at, want_budget);
    CU_ASSERT_EQUAL(gen_at, want_gen);
    if (gen_at != want_gen) fprintf(stderr, "\n  stopped at budget %d gen %d\n", budget_at, gen_at);
    ofa_evo_free(&a); /* the outstanding candidates' results are lost with the process */

    ofa_evo b;
    CU_ASSERT_EQUAL_FATAL(init(&b, G(&s), el, &c, 999 /* the seed is in the state */, est_fn, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    rc = ofa_evo_read(&b, &h, "/search");
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    ofa_h5_close(&h);
    CU_ASSERT_EQUAL(b.gen, gen_at);
    CU_ASSERT_EQUAL(b.budget, budget_at);
    driver d2 = {0};
    CU_ASSERT_EQUAL(drive(&b, &d2, 3, -1), 0);
    CU_ASSERT_EQUAL(d2.dup_handed, 0);

    CU_ASSERT(ofa_evo_done(&b));
    CU_ASSERT_EQUAL(memcmp(b.rng.s, ref.rng.s, sizeof ref.rng.s), 0);
    for (int k = 0; k < 2; k++) {
        int64_t n1, n2;
        const ofa_evo_point *p1 = ofa_evo_points(&ref, &n1), *p2 = ofa_evo_points(&b, &n2);
        int64_t w1 = ofa_evo_winner(&ref, k), w2 = ofa_evo_winner(&b, k);
        CU_ASSERT_FATAL(w1 >= 0 && w2 >= 0);
        CU_ASSERT_STRING_EQUAL(p1[w1].text, p2[w2].text);
    }
    int64_t n1, n2;
    char **s1 = evaluated_set(&ref, &n1), **s2 = evaluated_set(&b, &n2);
    CU_ASSERT_EQUAL(n1, n2);
    for (int64_t i = 0; i < n1 && i < n2; i++) {
        if (strcmp(s1[i], s2[i]) != 0) {
            fprintf(stderr, "\n  evaluated[%lld]: '%s' vs '%s'\n", (long long)i, s1[i], s2[i]);
            CU_FAIL("evaluated sets differ");
            break;
        }
    }
    for (int64_t i = 0; i < n1; i++) free(s1[i]);
    for (int64_t i = 0; i < n2; i++) free(s2[i]);
    free(s1);
    free(s2);
    /* the results outstanding at the checkpoint were lost and scored again after the restore */
    CU_ASSERT_EQUAL(d1.reports + d2.reports, d0.reports);
    CU_ASSERT_EQUAL(b.evaluations, ref.evaluations);
    ofa_evo_free(&ref);
    ofa_evo_free(&b);
}

static void test_resume(void)
{
    /* 12 + 9 new archs per generation (fewer in budget 1, which meets budget 0's archs) */
    run_resume(OFA_SEARCH_EVOLUTION, 40, 0, 4);
    run_resume(OFA_SEARCH_EVOLUTION, 100, 1, 4);
    run_resume(OFA_SEARCH_RANDOM, 30, 0, 0);
}

static void test_read_mismatch(void)
{
    for (int k = 0; k < OFA_SEARCH_KIND_COUNT; k++) CU_ASSERT_EQUAL(ofa_search_kind_parse(ofa_search_kind_name(k)), k);
    CU_ASSERT_EQUAL(ofa_search_kind_parse("grid"), -1);
    ofa_bert_space s;
    big_space(&s);
    double budgets[2] = {1000, 2000}; /* both above the smallest arch's estimate */
    ofa_config c;
    cfg_for(&c, 12, 6, budgets, 2);
    ofa_evo a, b;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&a, G(&s), OFA_ELASTIC_WIDTH, &c, 1, est_fn, NULL), 0);
    const char *path = tu_path("search_mm.h5");
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_evo_write(&a, &h, "/search"), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    c.search.budgets_ms[1] = 3000;
    CU_ASSERT_EQUAL_FATAL(ofa_evo_init(&b, G(&s), OFA_ELASTIC_WIDTH, &c, 1, est_fn, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL(ofa_evo_read(&b, &h, "/search"), OFA_E_FORMAT);
    char want[OFA_PATH_MAX + 200];
    snprintf(want, sizeof want, "%s: the search state in /search has budget 1 = 2000 ms but this search has 3000 ms", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    ofa_err_clear();
    ofa_evo_free(&b);
    CU_ASSERT_EQUAL_FATAL(ofa_random_search_init(&b, G(&s), OFA_ELASTIC_WIDTH, &c, 1, est_fn, NULL), 0);
    CU_ASSERT_EQUAL(ofa_evo_read(&b, &h, "/search"), OFA_E_FORMAT);
    snprintf(want, sizeof want, "%s: the search state in /search is a evolution search, not random", path);
    CU_ASSERT_STRING_EQUAL(ofa_err_msg(), want);
    ofa_err_clear();
    ofa_h5_close(&h);
    ofa_evo_free(&a);
    ofa_evo_free(&b);
}

int test_evolution_register(void)
{
    CU_pSuite s = CU_add_suite("evolution", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "finds_optimum", test_finds_optimum) || !CU_add_test(s, "beats_random", test_beats_random) ||
        !CU_add_test(s, "cache", test_cache) || !CU_add_test(s, "monotone_winners", test_monotone_winners) || !CU_add_test(s, "waiting", test_waiting) ||
        !CU_add_test(s, "measured_constraint", test_measured_constraint) ||
        !CU_add_test(s, "infeasible", test_infeasible) || !CU_add_test(s, "elastic_dims", test_elastic_dims) ||
        !CU_add_test(s, "resume", test_resume) || !CU_add_test(s, "read_mismatch", test_read_mismatch))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
