/* evaluator/evolution: evolutionary search (once-for-all's EvolutionFinder) and a random-search
 * baseline over the subnets of a space, for several latency budgets in one run.
 *
 * The search never scores anything itself: it is a state machine the caller drives, so candidates
 * can be farmed out to evaluator ranks.
 *     ofa_evo_init(&e, &space, elastic, &cfg, seed, estimate, ctx);      (or ofa_random_search_init)
 *     while (!ofa_evo_done(&e)) {
 *         int n = ofa_evo_next_batch(&e, cands, max);   // < 0: error (e.g. an infeasible budget)
 *         ... score cands[0..n) anywhere, in any order ...
 *         ofa_evo_report(&e, &point);                     // once per scored candidate
 *     }
 *     ofa_evo_winner(&e, b) / ofa_evo_points(&e, &n) -> pareto.csv, pareto.svg
 * next_batch returns candidates not yet handed out and not in the cache; 0 while the current step
 * still waits for reports.  Results do not depend on the order or grouping of reports: the RNG is
 * only drawn when a whole step (a population) has been scored.  A candidate handed out but never
 * reported is handed out again after a checkpoint restore.
 *
 * Semantics, for each budget of search.budgets_ms in order (one cache shared by all budgets; every
 * evaluated arch is kept):
 *  - initial population: `population` archs drawn with ofa_arch_random among those the latency
 *    estimate admits (estimate <= budget); with elastic depth, member i first tries depth
 *    (i mod n_depth) for up to 1000 draws (tight budgets rarely admit deep subnets by chance, and
 *    without them the search never reaches them); after 1000 x population rejected draws a member
 *    is the smallest arch (init refuses, OFA_E_RUNTIME, a budget below the smallest arch's estimate).
 *  - each of `generations` generations: rank the population, members whose MEASURED latency meets
 *    the budget first by metric (descending), the others after them by latency (ascending); keep
 *    the top n_par = max(1, round(parents * population)) distinct archs as parents; the remaining
 *    slots are children: round(mutation_ratio * (population - n_par)) mutations (each gene of a
 *    random parent redrawn with probability mutate_prob: depth, heads and FFN width of each kept
 *    supernet layer, hidden; only elastic dimensions; a layer a deeper child gains is drawn) and
 *    uniform crossovers of two random parents (each gene from either parent that has it) for the
 *    rest.  A child the estimate rejects is redrawn (1000 tries, then a random feasible arch).
 *  - every draw prefers an arch not evaluated yet and not already in the step (100 feasible draws
 *    for the random ones, 1000 for children, then a duplicate is accepted), so a step's budget of
 *    evaluations is spent on new archs; duplicates cost nothing (cache).
 *  - OFA adds `population` children to the parents; here the population size stays constant, so a
 *    generation asks for at most population - n_par evaluations.
 *  - the winner of a budget: the best metric among every arch scored so far (this budget's search
 *    and the earlier budgets') whose latency is within it, the faster on a tie (-1 when none is); so
 *    a larger budget's winner is never worse than a smaller one's.
 * Random search: for each budget, population + generations * (population - n_par) archs drawn as
 * the initial population is but without depth strata (the same number of candidates as evolution),
 * winner chosen the same way.
 *
 * The state (budget, generation, population, RNG, cache, winners) is saved to and restored from an
 * HDF5 group (ofa_evo_write / ofa_evo_read); a restored search continues exactly as an uninterrupted
 * one.  Not thread-safe; one owner (the coordinator).
 */
#ifndef OFA_EVALUATOR_EVOLUTION_H
#define OFA_EVALUATOR_EVOLUTION_H

#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "core/rng.h"
#include "core/strtab.h"
#include "models/registry.h"

#define OFA_EVO_TRIES_PER_MEMBER 1000

/* The search state's `kind` attribute stores the name (ofa_search_kind_name). */
enum ofa_search_kind { OFA_SEARCH_EVOLUTION, OFA_SEARCH_RANDOM, OFA_SEARCH_KIND_COUNT };
/* "evolution", "random" (kind must be one of the enum); parse: the kind named s, or -1. */
const char *ofa_search_kind_name(int kind);
int ofa_search_kind_parse(const char *s);

/* A candidate to score: the arch and its text form (what an MPI message carries). */
typedef struct ofa_evo_cand {
    ofa_arch arch;
    char text[OFA_ARCH_TEXT_MAX];
} ofa_evo_cand;

/* An evaluated arch.  metric: higher is better (the validation metric).  dev_metric: NaN until the
 * front is re-scored on dev (the search never reads it).  text is filled by ofa_evo_report. */
typedef struct ofa_evo_point {
    ofa_arch arch;
    char text[OFA_ARCH_TEXT_MAX];
    double metric;
    double dev_metric;
    double latency_ms;  /* median */
    double spread_ms;   /* of the latency repeats (e.g. max - min or IQR, as the evaluator reports) */
    int64_t params;
    double macs;
} ofa_evo_point;

/* Latency estimate used to check a candidate before it is scored (a table, a predictor, or a
 * measured-latency cache); an arch is feasible for budget B when estimate(a) <= B. */
typedef double (*ofa_latency_fn)(const ofa_arch *a, void *ctx);

typedef struct ofa_evo {
    /* settings (from init) */
    int kind;
    ofa_space space;
    int elastic;
    int population, generations, n_par, n_mut;
    double mutate_prob;
    double budgets[OFA_MAX_LIST];
    int n_budgets;
    uint64_t seed;
    ofa_latency_fn estimate;
    void *estimate_ctx;
    /* state */
    ofa_rng rng;
    int budget;              /* index of the budget being searched; == n_budgets when done */
    int gen;                 /* generations completed for this budget */
    ofa_arch *pop;           /* [pop_cap] the current step's archs (parents first, then children) */
    char (*pop_text)[OFA_ARCH_TEXT_MAX]; /* their text forms */
    int n_pop, pop_cap;
    int started;             /* the current step exists (pop filled) */
    int64_t winner[OFA_MAX_LIST]; /* cache index of the best arch per budget, -1 none */
    /* cache: every evaluated point, in report order, hashed by text */
    ofa_evo_point *pts;
    int64_t n_pts, pts_cap;
    ofa_strtab cache_index;  /* text -> index into pts */
    ofa_strtab issued;       /* text -> index into pop: texts handed out in this step */
    int64_t evaluations;     /* reports received (new points) */
    int64_t cache_hits;      /* step members that were already in the cache */
} ofa_evo;

/* Starts an evolutionary search of the space (dimensions in `elastic`, OR of ofa_elastic) with
 * cfg->search's population, generations, parents, mutate_prob, mutation_ratio and budgets_ms.
 * OFA_E_CONFIG naming "search.<key>" for an unusable setting (no budgets, population < 1, ...).
 * estimate may be NULL: every arch is then feasible before it is measured. */
int ofa_evo_init(ofa_evo *e, const ofa_space *s, int elastic, const ofa_config *cfg, uint64_t seed,
                 ofa_latency_fn estimate, void *estimate_ctx);
/* The random-search baseline with the same settings and the same evaluation count. */
int ofa_random_search_init(ofa_evo *e, const ofa_space *s, int elastic, const ofa_config *cfg, uint64_t seed,
                           ofa_latency_fn estimate, void *estimate_ctx);
void ofa_evo_free(ofa_evo *e);

/* Up to max candidates to score (each distinct, none cached, none already handed out); 0 when
 * waiting for reports or done; < 0 on error (OFA_E_RUNTIME: infeasible budget). */
int ofa_evo_next_batch(ofa_evo *e, ofa_evo_cand *cands, int max);
/* Feeds one scored arch back (p->text is recomputed from p->arch).  An arch already cached is
 * ignored (the first result is kept); one never handed out is cached too. */
void ofa_evo_report(ofa_evo *e, const ofa_evo_point *p);
/* 1 when every budget has been searched. */
int ofa_evo_done(const ofa_evo *e);

/* The cached point for an arch text, or NULL. */
const ofa_evo_point *ofa_evo_lookup(const ofa_evo *e, const char *text);
/* Every evaluated point, in evaluation order (valid until the next report). */
const ofa_evo_point *ofa_evo_points(const ofa_evo *e, int64_t *n);
/* Cache index of budget b's winner (-1 when no evaluated arch met it or b is not searched yet). */
int64_t ofa_evo_winner(const ofa_evo *e, int b);

/* The columns of cache/values, in order: the attribute `columns` of that dataset.  val_metric is
 * the fitness the search maximizes (the task metric on the search's validation split, negated
 * when lower is better), dev_metric NaN until a winner is re-scored on dev. */
#define OFA_EVO_CACHE_COLUMNS "val_metric,dev_metric,latency_ms,latency_spread_ms,macs"

/* Saves the state under `group` (e.g. "/search") of a file being written: attributes kind, seed,
 * population, generations, budget, gen, started, rng, evaluations, cache_hits; datasets budgets,
 * winner, population (arch texts), cache/arch (texts), cache/values [n, 5] (OFA_EVO_CACHE_COLUMNS,
 * named by its attribute `columns`), cache/params. */
int ofa_evo_write(const ofa_evo *e, ofa_h5 *h, const char *group);
/* Restores a state saved by ofa_evo_write into e, initialized with the same space and settings
 * (OFA_E_FORMAT naming the file and the differing setting otherwise). */
int ofa_evo_read(ofa_evo *e, ofa_h5 *h, const char *group);

#endif
