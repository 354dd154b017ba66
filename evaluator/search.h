/* evaluator/search: stage 4, the latency-constrained search over a trained supernet, as one MPI
 * job.
 *
 * Rank 0 (the coordinator) owns the evolutionary search state (evaluator/evolution.h) and hands
 * candidates to the other ranks through a dynamic work queue (each worker asks, gets one arch,
 * returns its validation metric and latency); with no other rank it scores them itself.  Fitness is
 * the task metric on the search's validation rows (the family's OFA_SPLIT_VAL, search.val_source:
 * rows held out of train, or a seeded half of dev; no earlier stage trains on them;
 * search.val_limit caps how many a candidate is scored on), latency follows
 * search.latency.mode: measured (ofa_latency_measure on the worker's own cores), table or
 * predictor (<output_dir>/latency_table.h5, built and calibrated on first use).  The table or
 * predictor is also the estimate that keeps candidates within a budget before they are measured.
 * The state is checkpointed to <output_dir>/search.h5 after every step of the search, and a
 * killed search resumes from it.  At the end rank 0 exports each budget's winner to
 * <output_dir>/subnets/<arch>.h5, re-scores it standalone on the rows reported as dev (OFA_SPLIT_DEV,
 * never the search's; search.dev_limit caps them), and writes pareto.csv (val and dev metrics, and
 * which rows each was measured on) and pareto.svg.
 */
#ifndef OFA_EVALUATOR_SEARCH_H
#define OFA_EVALUATOR_SEARCH_H

#include "core/config.h"
#include "core/topo.h"
#include "evaluator/evolution.h"

typedef struct ofa_search_opts {
    const char *checkpoint;      /* supernet file; NULL = <output_dir>/supernet.h5 */
    const double *budgets;       /* override search.budgets_ms; NULL = the config's */
    int n_budgets;
    int random;                  /* 1: the random-search baseline instead of evolution */
    int64_t seed;                /* search RNG seed; < 0 = experiment.seed */
    const char *out_prefix;      /* file name prefix of pareto/search outputs; NULL = "" */
    int export_winners;          /* export + re-score the winners (default 1) */
    int flags;                   /* OFA_STAGE_FORCE: an interrupted search.h5 made from other settings is
                                  * started over (else an error naming what changed); OFA_STAGE_FRESH:
                                  * never resumed (coordinator/fingerprint.h) */
} ofa_search_opts;

typedef struct ofa_search_result {
    int n_budgets;
    double budgets[OFA_MAX_LIST];
    char arch[OFA_MAX_LIST][OFA_ARCH_TEXT_MAX]; /* "" when no arch met the budget */
    double val_metric[OFA_MAX_LIST], dev_metric[OFA_MAX_LIST], latency_ms[OFA_MAX_LIST];
    int64_t params[OFA_MAX_LIST];
    double teacher_dev, teacher_latency_ms;
    int64_t teacher_params;
    int64_t evaluations;
    double seconds;
    char metric[32];
    char val_rows[192], dev_rows[192]; /* which rows the val and dev figures are on (data_describe) */
} ofa_search_result;

void ofa_search_opts_default(ofa_search_opts *o);
/* The lines the options add to the search's fingerprint (method, seed, export), for search.h5 and
 * for ofa run's and ofa search's checks of it. */
void ofa_search_fingerprint_extra(const ofa_search_opts *o, const ofa_config *c, char *buf, size_t n);
/* Collective over t->world. */
int ofa_search_run(const ofa_config *c, ofa_topo *t, const ofa_search_opts *o, ofa_search_result *res);

#endif
