/* evaluator/evolution: see evolution.h. */
#include "evaluator/evolution.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strtab.h"

static const char *const g_search_kinds[] = {"evolution", "random"};
_Static_assert(sizeof g_search_kinds / sizeof g_search_kinds[0] == OFA_SEARCH_KIND_COUNT, "one name per ofa_search_kind");

const char *ofa_search_kind_name(int kind)
{
    OFA_ASSERT(kind >= 0 && kind < OFA_SEARCH_KIND_COUNT);
    return g_search_kinds[kind];
}

int ofa_search_kind_parse(const char *s)
{
    for (int k = 0; k < OFA_SEARCH_KIND_COUNT; k++)
        if (!strcmp(s, g_search_kinds[k])) return k;
    return -1;
}

/* ---- text indexes (core/strtab; the ctx is the ofa_evo, whose arrays move) ---- */

static const char *pt_key(const void *ctx, int64_t i) { return ((const ofa_evo *)ctx)->pts[i].text; }
static const char *pop_key(const void *ctx, int64_t i) { return ((const ofa_evo *)ctx)->pop_text[i]; }

/* Cache index of the point with this text, or -1. */
static int64_t lookup_index(const ofa_evo *e, const char *text)
{
    return ofa_strtab_find(&e->cache_index, e, text, strlen(text));
}

/* The member of the step with this text that is handed out (or chosen, while a step is built), or -1. */
static int64_t issued_index(const ofa_evo *e, const char *text)
{
    return ofa_strtab_find(&e->issued, e, text, strlen(text));
}

/* Marks member i, whose text is not marked yet. */
static void issue(ofa_evo *e, int64_t i)
{
    int64_t had = ofa_strtab_put(&e->issued, e, i);
    OFA_ASSERT(had < 0);
}

/* ---- setup ---- */

static int init_common(ofa_evo *e, int kind, const ofa_space *s, int elastic, const ofa_config *cfg, uint64_t seed,
                       ofa_latency_fn estimate, void *ctx)
{
    memset(e, 0, sizeof *e);
    if (cfg->search.n_budgets < 1)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.budgets_ms is empty: give at least one latency budget (ms)",
                       cfg->source);
    for (int b = 0; b < cfg->search.n_budgets; b++)
        if (!(cfg->search.budgets_ms[b] > 0) || !isfinite(cfg->search.budgets_ms[b]))
            return OFA_ERR(OFA_E_CONFIG, "%s: search.budgets_ms[%d] = %g: a budget must be a positive number of ms",
                           cfg->source, b, cfg->search.budgets_ms[b]);
    if (cfg->search.population < 1)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.population = %d: must be at least 1", cfg->source,
                       cfg->search.population);
    if (cfg->search.generations < 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.generations = %d: must be >= 0", cfg->source, cfg->search.generations);
    if (!(cfg->search.parents > 0 && cfg->search.parents <= 1))
        return OFA_ERR(OFA_E_CONFIG, "%s: search.parents = %g: must be in (0, 1]", cfg->source, cfg->search.parents);
    if (!(cfg->search.mutate_prob >= 0 && cfg->search.mutate_prob <= 1))
        return OFA_ERR(OFA_E_CONFIG, "%s: search.mutate_prob = %g: must be in [0, 1]", cfg->source,
                       cfg->search.mutate_prob);
    if (!(cfg->search.mutation_ratio >= 0 && cfg->search.mutation_ratio <= 1))
        return OFA_ERR(OFA_E_CONFIG, "%s: search.mutation_ratio = %g: must be in [0, 1]", cfg->source,
                       cfg->search.mutation_ratio);
    e->kind = kind;
    e->space = *s;
    e->elastic = elastic;
    e->estimate = estimate;
    e->estimate_ctx = ctx;
    /* a budget below the smallest arch's latency is refused now, not after the budgets before it
     * have been searched (the smallest arch is the fastest: the estimate grows with every width) */
    if (estimate) {
        ofa_arch sm;
        ofa_arch_smallest(&sm, s, elastic);
        const double lo = estimate(&sm, ctx);
        for (int b = 0; b < cfg->search.n_budgets; b++)
            if (lo > cfg->search.budgets_ms[b]) {
                char txt[OFA_ARCH_TEXT_MAX];
                ofa_arch_print(&sm, s, txt, sizeof txt);
                return OFA_ERR(OFA_E_RUNTIME, "search.budgets_ms[%d] = %g ms is infeasible: the smallest arch %s is "
                               "estimated at %.4g ms, and every other arch is slower",
                               b, cfg->search.budgets_ms[b], txt, lo);
            }
    }
    e->population = cfg->search.population;
    e->generations = cfg->search.generations;
    e->n_par = (int)lround(cfg->search.parents * cfg->search.population);
    if (e->n_par < 1) e->n_par = 1;
    if (e->n_par > e->population) e->n_par = e->population;
    e->n_mut = (int)lround(cfg->search.mutation_ratio * (e->population - e->n_par));
    e->mutate_prob = cfg->search.mutate_prob;
    e->n_budgets = cfg->search.n_budgets;
    memcpy(e->budgets, cfg->search.budgets_ms, sizeof(double) * (size_t)cfg->search.n_budgets);
    e->seed = seed;
    ofa_rng_keyed(&e->rng, seed, 0x5ea7c4u, (uint64_t)kind);
    e->pop_cap =
        kind == OFA_SEARCH_RANDOM ? e->population + e->generations * (e->population - e->n_par) : e->population;
    e->pop = ofa_xcalloc((size_t)e->pop_cap, sizeof *e->pop);
    e->pop_text = ofa_xcalloc((size_t)e->pop_cap, sizeof *e->pop_text);
    for (int b = 0; b < OFA_MAX_LIST; b++) e->winner[b] = -1;
    e->pts_cap = 64;
    e->pts = ofa_xmalloc((size_t)e->pts_cap * sizeof *e->pts);
    ofa_strtab_init(&e->cache_index, pt_key, e->pts_cap);
    ofa_strtab_init(&e->issued, pop_key, e->pop_cap);
    return 0;
}

int ofa_evo_init(ofa_evo *e, const ofa_space *s, int elastic, const ofa_config *cfg, uint64_t seed,
                 ofa_latency_fn estimate, void *estimate_ctx)
{
    return init_common(e, OFA_SEARCH_EVOLUTION, s, elastic, cfg, seed, estimate, estimate_ctx);
}

int ofa_random_search_init(ofa_evo *e, const ofa_space *s, int elastic, const ofa_config *cfg, uint64_t seed,
                           ofa_latency_fn estimate, void *estimate_ctx)
{
    return init_common(e, OFA_SEARCH_RANDOM, s, elastic, cfg, seed, estimate, estimate_ctx);
}

void ofa_evo_free(ofa_evo *e)
{
    if (!e) return;
    free(e->pop);
    free(e->pop_text);
    free(e->pts);
    ofa_strtab_free(&e->cache_index);
    ofa_strtab_free(&e->issued);
    memset(e, 0, sizeof *e);
}

/* ---- cache ---- */

const ofa_evo_point *ofa_evo_lookup(const ofa_evo *e, const char *text)
{
    int64_t i = lookup_index(e, text);
    return i >= 0 ? &e->pts[i] : NULL;
}

static void cache_add(ofa_evo *e, const ofa_evo_point *p)
{
    if (e->n_pts == e->pts_cap) {
        e->pts_cap *= 2;
        e->pts = ofa_xrealloc(e->pts, (size_t)e->pts_cap * sizeof *e->pts);
    }
    e->pts[e->n_pts] = *p;
    int64_t had = ofa_strtab_put(&e->cache_index, e, e->n_pts);
    OFA_ASSERT(had < 0);
    e->n_pts++;
}

void ofa_evo_report(ofa_evo *e, const ofa_evo_point *p)
{
    ofa_evo_point q = *p;
    ofa_arch_print(&q.arch, &e->space, q.text, sizeof q.text);
    if (lookup_index(e, q.text) >= 0) return;
    cache_add(e, &q);
    e->evaluations++;
}

const ofa_evo_point *ofa_evo_points(const ofa_evo *e, int64_t *n)
{
    *n = e->n_pts;
    return e->pts;
}

int64_t ofa_evo_winner(const ofa_evo *e, int b) { return b >= 0 && b < e->n_budgets ? e->winner[b] : -1; }

int ofa_evo_done(const ofa_evo *e) { return e->budget >= e->n_budgets; }

/* ---- sampling, mutation, crossover ---- */

static double estimate(const ofa_evo *e, const ofa_arch *a)
{
    return e->estimate ? e->estimate(a, e->estimate_ctx) : 0.0;
}

static void mutate(ofa_evo *e, const ofa_arch *par, ofa_arch *c)
{
    ofa_arch_mutate(c, par, &e->space, e->elastic, e->mutate_prob, &e->rng);
}

static void crossover(ofa_evo *e, const ofa_arch *p1, const ofa_arch *p2, ofa_arch *c)
{
    ofa_arch_crossover(c, p1, p2, &e->space, e->elastic, &e->rng);
}

/* Members 0..i-1 of the step being built are in `issued` while it is built (begin_step empties it). */
static void set_member(ofa_evo *e, int i, const ofa_arch *a)
{
    e->pop[i] = *a;
    ofa_arch_print(a, &e->space, e->pop_text[i], sizeof e->pop_text[i]);
    if (issued_index(e, e->pop_text[i]) < 0) issue(e, i);
}

static void clear_members(ofa_evo *e) { ofa_strtab_clear(&e->issued); }

/* Not evaluated yet and not already a member of the step being built. */
static int novel(const ofa_evo *e, const ofa_arch *a)
{
    char t[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(a, &e->space, t, sizeof t);
    return lookup_index(e, t) < 0 && issued_index(e, t) < 0;
}

/* Starts the current step: empties the handed-out set and counts the members already cached. */
static void begin_step(ofa_evo *e)
{
    clear_members(e);
    for (int i = 0; i < e->n_pop; i++)
        if (lookup_index(e, e->pop_text[i]) >= 0) e->cache_hits++;
    e->started = 1;
}

/* Member i drawn at random within budget B (in search stratum `stratum` when >= 0, e.g. a depth),
 * a novel arch preferred
 * (OFA_EVO_NOVEL_TRIES feasible draws, then a feasible duplicate is taken).  *infeasible_draws
 * counts the draws the estimate rejected; reaching `cap` without a feasible draw returns 1 (nothing
 * set) when stratum >= 0, and otherwise takes the smallest arch, which init found within every
 * budget (a budget only the smallest archs meet: random draws rarely find one). */
#define OFA_EVO_NOVEL_TRIES 100
static int draw_random_member(ofa_evo *e, int i, double B, int stratum, int64_t cap, int64_t *infeasible_draws)
{
    ofa_arch a, fallback;
    int have = 0, tries = 0;
    for (;;) {
        if (*infeasible_draws >= cap) {
            if (have) break;
            if (stratum >= 0) return 1;
            ofa_arch_smallest(&fallback, &e->space, e->elastic);
            break;
        }
        ofa_arch_random(&a, &e->space, e->elastic, &e->rng);
        if (stratum >= 0) ofa_arch_to_stratum(&a, &e->space, e->elastic, stratum, &e->rng);
        if (!(estimate(e, &a) <= B)) {
            ++*infeasible_draws;
            continue;
        }
        if (novel(e, &a)) {
            set_member(e, i, &a);
            return 0;
        }
        if (!have) fallback = a, have = 1;
        if (++tries >= OFA_EVO_NOVEL_TRIES) break;
    }
    set_member(e, i, &fallback);
    return 0;
}

/* The initial population (or the random search's sample): pop_cap archs within the budget, at
 * most 1000 x pop_cap draws rejected by the estimate.  Evolution with elastic depth stratifies by
 * depth (member i tries depth i mod n_depth first, for up to 1000 draws), so that deep subnets,
 * which tight budgets rarely admit by chance, still seed the population; the random baseline draws
 * plainly. */
static int make_initial(ofa_evo *e)
{
    double B = e->budgets[e->budget];
    int64_t cap = (int64_t)OFA_EVO_TRIES_PER_MEMBER * e->pop_cap, bad = 0;
    int strata = e->kind == OFA_SEARCH_EVOLUTION ? ofa_space_strata(&e->space, e->elastic) : 0;
    clear_members(e);
    for (int i = 0; i < e->pop_cap; i++) {
        if (strata > 0) {
            int64_t bad_d = 0;
            if (draw_random_member(e, i, B, i % strata, OFA_EVO_TRIES_PER_MEMBER, &bad_d) == 0) continue;
        }
        OFA_TRY(draw_random_member(e, i, B, -1, cap, &bad));
    }
    e->n_pop = e->pop_cap;
    return 0;
}

typedef struct rank_ctx {
    const ofa_evo *e;
    const ofa_evo_point **pt;
    double B;
} rank_ctx;

/* Measured-feasible first, by metric descending (ties: latency, then position); then the others
 * by latency ascending (then position).  Deterministic: a total order. */
static int rank_less(const rank_ctx *c, int i, int j)
{
    const ofa_evo_point *a = c->pt[i], *b = c->pt[j];
    int fa = a->latency_ms <= c->B, fb = b->latency_ms <= c->B;
    if (fa != fb) return fa;
    if (fa) {
        double ma = isnan(a->metric) ? -INFINITY : a->metric, mb = isnan(b->metric) ? -INFINITY : b->metric;
        if (ma != mb) return ma > mb;
    }
    if (a->latency_ms != b->latency_ms) return a->latency_ms < b->latency_ms;
    return i < j;
}

static void rank_members(const rank_ctx *c, int *idx, int n)
{
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int i = 1; i < n; i++) { /* insertion sort: populations are small, order is total */
        int v = idx[i], j = i - 1;
        while (j >= 0 && rank_less(c, v, idx[j])) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
}

/* Child i: a mutation or crossover of random parents within budget B, a novel arch preferred; after
 * 1000 draws a feasible duplicate, else a random arch within the budget. */
static int make_child(ofa_evo *e, int i, double B, const ofa_arch *parents, int np, int is_mut)
{
    ofa_arch c, fallback;
    int have = 0;
    for (int t = 0; t < OFA_EVO_TRIES_PER_MEMBER; t++) {
        if (is_mut) {
            mutate(e, &parents[ofa_rng_below(&e->rng, (uint64_t)np)], &c);
        } else {
            const ofa_arch *p1 = &parents[ofa_rng_below(&e->rng, (uint64_t)np)];
            const ofa_arch *p2 = &parents[ofa_rng_below(&e->rng, (uint64_t)np)];
            crossover(e, p1, p2, &c);
        }
        if (!(estimate(e, &c) <= B)) continue;
        if (novel(e, &c)) {
            set_member(e, i, &c);
            return 0;
        }
        if (!have) fallback = c, have = 1;
    }
    if (have) {
        set_member(e, i, &fallback);
        return 0;
    }
    int64_t bad = 0;
    return draw_random_member(e, i, B, -1, OFA_EVO_TRIES_PER_MEMBER, &bad);
}

/* The next generation: the top n_par distinct members as parents, then children. */
static int make_children(ofa_evo *e, const ofa_evo_point **pt)
{
    double B = e->budgets[e->budget];
    rank_ctx c = {e, pt, B};
    int *idx = ofa_xmalloc((size_t)e->n_pop * sizeof *idx);
    rank_members(&c, idx, e->n_pop);
    ofa_arch *parents = ofa_xmalloc((size_t)e->n_par * sizeof *parents);
    clear_members(e);
    int np = 0;
    for (int j = 0; j < e->n_pop && np < e->n_par; j++) { /* issued: texts chosen so far */
        if (issued_index(e, e->pop_text[idx[j]]) >= 0) continue;
        issue(e, idx[j]);
        parents[np++] = e->pop[idx[j]];
    }
    free(idx);
    clear_members(e);
    for (int i = 0; i < np; i++) set_member(e, i, &parents[i]);
    int rc = 0, n_child = e->population - np;
    for (int k = 0; k < n_child && rc == 0; k++) rc = make_child(e, np + k, B, parents, np, k < e->n_mut);
    free(parents);
    e->n_pop = e->population;
    return rc;
}

/* The winners of the budgets searched so far (this one and the earlier ones), each the best of every
 * arch scored so far, not only of its own population: an arch another budget's search found within
 * B competes too, so a larger budget's winner is never worse than a smaller one's, in whatever order
 * the budgets are listed (the demo chose d2-h4.2-f256.256 at 0.7959 for 0.45 ms although 0.3 ms's
 * d2-h4.1-f256.256, 0.7982 and faster, was in the cache). */
static void update_winner(ofa_evo *e)
{
    for (int b = 0; b <= e->budget && b < e->n_budgets; b++) {
        double B = e->budgets[b];
        int64_t w = e->winner[b];
        for (int64_t k = 0; k < e->n_pts; k++) {
            const ofa_evo_point *p = &e->pts[k];
            if (!(p->latency_ms <= B) || isnan(p->metric)) continue;
            if (w < 0) {
                w = k;
                continue;
            }
            const ofa_evo_point *q = &e->pts[w];
            if (p->metric > q->metric || (p->metric == q->metric && p->latency_ms < q->latency_ms)) w = k;
        }
        e->winner[b] = w;
    }
}

int ofa_evo_next_batch(ofa_evo *e, ofa_evo_cand *cands, int max)
{
    while (e->budget < e->n_budgets) {
        if (!e->started) {
            OFA_TRY(make_initial(e));
            begin_step(e);
        }
        int n = 0, waiting = 0;
        for (int i = 0; i < e->n_pop; i++) {
            if (lookup_index(e, e->pop_text[i]) >= 0) continue;
            if (issued_index(e, e->pop_text[i]) >= 0) {
                waiting = 1;
                continue;
            }
            waiting = 1;
            if (n == max) break;
            issue(e, i);
            cands[n].arch = e->pop[i];
            memcpy(cands[n].text, e->pop_text[i], sizeof cands[n].text);
            n++;
        }
        if (n > 0) return n;
        if (waiting) return 0;
        /* the step is scored */
        update_winner(e);
        if (e->kind == OFA_SEARCH_EVOLUTION && e->gen < e->generations) {
            const ofa_evo_point **pt = ofa_xmalloc((size_t)e->n_pop * sizeof *pt);
            for (int i = 0; i < e->n_pop; i++) pt[i] = &e->pts[lookup_index(e, e->pop_text[i])];
            int rc = make_children(e, pt);
            free(pt);
            if (rc < 0) return rc;
            e->gen++;
            begin_step(e);
        } else {
            e->budget++;
            e->gen = 0;
            e->started = 0;
            e->n_pop = 0;
        }
    }
    return 0;
}

/* ---- state I/O ---- */

static void join(char *buf, size_t n, const char *group, const char *name)
{
    size_t g = strlen(group);
    snprintf(buf, n, "%s%s%s", group, g > 0 && group[g - 1] == '/' ? "" : "/", name);
}

static int write_texts(ofa_h5 *h, const char *name, const char (*text)[OFA_ARCH_TEXT_MAX], int64_t n)
{
    if (n == 0) return 0;
    const char **v = ofa_xmalloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = text[i];
    int rc = ofa_h5_write_strings(h, name, v, n);
    free(v);
    return rc;
}

int ofa_evo_write(const ofa_evo *e, ofa_h5 *h, const char *group)
{
    char nm[512];
    int64_t nb = e->n_budgets;
    join(nm, sizeof nm, group, "budgets");
    OFA_TRY(ofa_h5_write_f64(h, nm, e->budgets, 1, &nb));
    join(nm, sizeof nm, group, "winner");
    OFA_TRY(ofa_h5_write_i64(h, nm, e->winner, 1, &nb));
    join(nm, sizeof nm, group, "population");
    OFA_TRY(write_texts(h, nm, (const char(*)[OFA_ARCH_TEXT_MAX])e->pop_text, e->n_pop));
    if (e->n_pts > 0) {
        char(*t)[OFA_ARCH_TEXT_MAX] = ofa_xmalloc((size_t)e->n_pts * sizeof *t);
        double *val = ofa_xmalloc((size_t)e->n_pts * 5 * sizeof *val);
        int64_t *par = ofa_xmalloc((size_t)e->n_pts * sizeof *par);
        for (int64_t i = 0; i < e->n_pts; i++) {
            const ofa_evo_point *p = &e->pts[i];
            memcpy(t[i], p->text, sizeof t[i]);
            double v[5] = {p->metric, p->dev_metric, p->latency_ms, p->spread_ms, p->macs};
            memcpy(val + 5 * i, v, sizeof v);
            par[i] = p->params;
        }
        int64_t shape[2] = {e->n_pts, 5};
        int rc;
        join(nm, sizeof nm, group, "cache/arch");
        rc = write_texts(h, nm, (const char(*)[OFA_ARCH_TEXT_MAX])t, e->n_pts);
        join(nm, sizeof nm, group, "cache/values");
        if (rc == 0) rc = ofa_h5_write_f64(h, nm, val, 2, shape);
        if (rc == 0) rc = ofa_h5_attr_set_str(h, nm, "columns", OFA_EVO_CACHE_COLUMNS);
        join(nm, sizeof nm, group, "cache/params");
        if (rc == 0) rc = ofa_h5_write_i64(h, nm, par, 1, shape);
        free(t);
        free(val);
        free(par);
        OFA_TRY(rc);
    }
    OFA_TRY(ofa_h5_attr_set_str(h, group, "kind", ofa_search_kind_name(e->kind)));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "seed", (int64_t)e->seed));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "population", e->population));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "generations", e->generations));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "parents", e->n_par));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "mutations", e->n_mut));
    OFA_TRY(ofa_h5_attr_set_f64(h, group, "mutate_prob", e->mutate_prob));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "budget", e->budget));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "gen", e->gen));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "started", e->started));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "n_population", e->n_pop));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "n_evaluated", e->n_pts));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "evaluations", e->evaluations));
    OFA_TRY(ofa_h5_attr_set_i64(h, group, "cache_hits", e->cache_hits));
    OFA_TRY(ofa_h5_attr_set_u64v(h, group, "rng", e->rng.s, 4));
    return 0;
}

static int get_i64(ofa_h5 *h, const char *group, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    OFA_TRY(ofa_h5_attr_get_i64(h, group, key, out));
    if (*out < lo || *out > hi)
        return OFA_ERR(OFA_E_FORMAT, "%s: %s attribute '%s' = %lld is outside [%lld, %lld]", h->path, group, key,
                       (long long)*out, (long long)lo, (long long)hi);
    return 0;
}

static int same_setting(ofa_h5 *h, const char *group, const char *key, int64_t have)
{
    int64_t v;
    OFA_TRY(ofa_h5_attr_get_i64(h, group, key, &v));
    if (v != have)
        return OFA_ERR(OFA_E_FORMAT, "%s: the search state in %s has %s = %lld but this search has %lld", h->path,
                       group, key, (long long)v, (long long)have);
    return 0;
}

static int read_archs(ofa_evo *e, ofa_h5 *h, const char *name, int64_t n, char ***texts)
{
    int64_t got = 0;
    OFA_TRY(ofa_h5_read_strings(h, name, texts, &got));
    if (got != n) {
        ofa_h5_free_strings(*texts, got);
        return OFA_ERR(OFA_E_FORMAT, "%s: '%s' has %lld archs, expected %lld", h->path, name, (long long)got,
                       (long long)n);
    }
    (void)e;
    return 0;
}

int ofa_evo_read(ofa_evo *e, ofa_h5 *h, const char *group)
{
    char nm[512], *kind = NULL;
    OFA_TRY(ofa_h5_attr_get_str(h, group, "kind", &kind));
    const char *want = ofa_search_kind_name(e->kind);
    int differs = ofa_search_kind_parse(kind) != (int)e->kind;
    if (differs) OFA_ERR(OFA_E_FORMAT, "%s: the search state in %s is a %s search, not %s", h->path, group, kind, want);
    free(kind);
    if (differs) return OFA_E_FORMAT;
    OFA_TRY(same_setting(h, group, "population", e->population));
    OFA_TRY(same_setting(h, group, "generations", e->generations));
    OFA_TRY(same_setting(h, group, "parents", e->n_par));
    OFA_TRY(same_setting(h, group, "mutations", e->n_mut));
    double budgets[OFA_MAX_LIST];
    int ndim;
    int64_t shape[OFA_H5_MAX_DIMS];
    join(nm, sizeof nm, group, "budgets");
    OFA_TRY(ofa_h5_shape(h, nm, &ndim, shape));
    if (ndim != 1 || shape[0] != e->n_budgets)
        return OFA_ERR(OFA_E_FORMAT, "%s: the search state in %s has %lld budgets but this search has %d", h->path,
                       group, ndim == 1 ? (long long)shape[0] : -1LL, e->n_budgets);
    int64_t nb = e->n_budgets;
    OFA_TRY(ofa_h5_read_f64(h, nm, budgets, 1, &nb));
    for (int b = 0; b < e->n_budgets; b++)
        if (budgets[b] != e->budgets[b])
            return OFA_ERR(OFA_E_FORMAT, "%s: the search state in %s has budget %d = %g ms but this search has %g ms",
                           h->path, group, b, budgets[b], e->budgets[b]);
    int64_t budget, gen, started, n_pop, n_pts, evals, hits, winner[OFA_MAX_LIST];
    OFA_TRY(get_i64(h, group, "budget", 0, e->n_budgets, &budget));
    OFA_TRY(get_i64(h, group, "gen", 0, e->generations, &gen));
    OFA_TRY(get_i64(h, group, "started", 0, 1, &started));
    OFA_TRY(get_i64(h, group, "n_population", 0, e->pop_cap, &n_pop));
    OFA_TRY(get_i64(h, group, "n_evaluated", 0, INT64_MAX / 2, &n_pts));
    OFA_TRY(get_i64(h, group, "evaluations", 0, INT64_MAX / 2, &evals));
    OFA_TRY(get_i64(h, group, "cache_hits", 0, INT64_MAX / 2, &hits));
    join(nm, sizeof nm, group, "winner");
    OFA_TRY(ofa_h5_read_i64(h, nm, winner, 1, &nb));
    for (int b = 0; b < e->n_budgets; b++)
        if (winner[b] < -1 || winner[b] >= n_pts)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s/winner[%d] = %lld is not an evaluated arch", h->path, group, b,
                           (long long)winner[b]);
    uint64_t rng[4];
    OFA_TRY(ofa_h5_attr_get_u64v(h, group, "rng", rng, 4));

    /* the cache and the population, parsed into a fresh state, swapped in only when all is well */
    ofa_evo t = *e;
    t.pts_cap = n_pts > 64 ? n_pts : 64;
    t.pts = ofa_xmalloc((size_t)t.pts_cap * sizeof *t.pts);
    t.n_pts = 0;
    ofa_strtab_init(&t.cache_index, pt_key, t.pts_cap);
    t.pop = ofa_xcalloc((size_t)e->pop_cap, sizeof *t.pop);
    t.pop_text = ofa_xcalloc((size_t)e->pop_cap, sizeof *t.pop_text);
    ofa_strtab_init(&t.issued, pop_key, e->pop_cap);
    int rc = 0;
    char **texts = NULL;
    double *val = NULL;
    int64_t *par = NULL;
    if (n_pts > 0) {
        join(nm, sizeof nm, group, "cache/arch");
        rc = read_archs(&t, h, nm, n_pts, &texts);
        if (rc < 0) goto fail;
        val = ofa_xmalloc((size_t)n_pts * 5 * sizeof *val);
        par = ofa_xmalloc((size_t)n_pts * sizeof *par);
        int64_t shape2[2] = {n_pts, 5};
        join(nm, sizeof nm, group, "cache/values");
        rc = ofa_h5_read_f64(h, nm, val, 2, shape2);
        join(nm, sizeof nm, group, "cache/params");
        if (rc == 0) rc = ofa_h5_read_i64(h, nm, par, 1, shape2);
        for (int64_t i = 0; i < n_pts && rc == 0; i++) {
            ofa_evo_point p;
            memset(&p, 0, sizeof p);
            rc = ofa_arch_parse(&p.arch, texts[i], &e->space);
            if (rc < 0) {
                rc = ofa_err_prefix(rc, "%s: %s/cache/arch[%lld]", h->path, group, (long long)i);
                break;
            }
            ofa_arch_print(&p.arch, &e->space, p.text, sizeof p.text);
            if (lookup_index(&t, p.text) >= 0) {
                rc = OFA_ERR(OFA_E_FORMAT, "%s: %s/cache/arch[%lld] '%s' appears twice", h->path, group, (long long)i,
                             p.text);
                break;
            }
            p.metric = val[5 * i];
            p.dev_metric = val[5 * i + 1];
            p.latency_ms = val[5 * i + 2];
            p.spread_ms = val[5 * i + 3];
            p.macs = val[5 * i + 4];
            p.params = par[i];
            cache_add(&t, &p);
        }
        ofa_h5_free_strings(texts, n_pts);
        texts = NULL;
        if (rc < 0) goto fail;
    }
    if (n_pop > 0) {
        join(nm, sizeof nm, group, "population");
        rc = read_archs(&t, h, nm, n_pop, &texts);
        if (rc < 0) goto fail;
        for (int64_t i = 0; i < n_pop && rc == 0; i++) {
            ofa_arch a;
            rc = ofa_arch_parse(&a, texts[i], &e->space);
            if (rc < 0)
                rc = ofa_err_prefix(rc, "%s: %s/population[%lld]", h->path, group, (long long)i);
            else
                set_member(&t, (int)i, &a);
        }
        ofa_h5_free_strings(texts, n_pop);
        texts = NULL;
        if (rc < 0) goto fail;
    }
    clear_members(&t); /* nothing is handed out after a restore: outstanding candidates go out again */
    t.n_pop = (int)n_pop;
    t.budget = (int)budget;
    t.gen = (int)gen;
    t.started = (int)started;
    t.evaluations = evals;
    t.cache_hits = hits;
    memcpy(t.rng.s, rng, sizeof rng);
    for (int b = 0; b < e->n_budgets; b++) t.winner[b] = winner[b];
    if (t.started && t.n_pop == 0) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: %s: a started step with an empty population", h->path, group);
        goto fail;
    }
    free(val);
    free(par);
    free(e->pop);
    free(e->pop_text);
    free(e->pts);
    ofa_strtab_free(&e->cache_index);
    ofa_strtab_free(&e->issued);
    *e = t;
    return 0;
fail:
    free(val);
    free(par);
    free(t.pop);
    free(t.pop_text);
    free(t.pts);
    ofa_strtab_free(&t.cache_index);
    ofa_strtab_free(&t.issued);
    return rc;
}
