/* evaluator/pareto: the Pareto front of evaluated subnets (metric up, latency down) and the search's
 * outputs pareto.csv and pareto.svg.
 *
 * Both files are written atomically (path.tmp, fsync, rename, fsync of the folder): a reader never
 * sees half a file.  The SVG is drawn here (no external tool): axes with ticks, every evaluated
 * point (light, with a hover tooltip naming the arch), the front (line + dark points), the teacher
 * (a labelled diamond), dashed vertical lines at the budgets, each budget's winner ringed, a title
 * and a legend.
 */
#ifndef OFA_EVALUATOR_PARETO_H
#define OFA_EVALUATOR_PARETO_H

#include <stdint.h>

#include "evaluator/evolution.h"

/* Non-dominated points: no other point has latency <= and metric >= with one of them strict.
 * Points with a NaN metric or latency are never on the front; identical (metric, latency) pairs
 * are all kept.  Writes their indices to idx (room for n) sorted by latency ascending (ties: metric
 * descending, then index) and returns their count. */
int64_t ofa_pareto_front(const ofa_evo_point *pts, int64_t n, int64_t *idx);

/* pareto.csv, one row per point sorted by latency (ties: metric descending, then arch text), with
 * a header row:
 *   arch,val_metric,dev_metric,latency_ms,latency_spread_ms,params,macs,budget_ms,budget_met,on_front,
 *   val_rows,dev_rows
 * dev_metric is empty while NaN.  val_rows and dev_rows say which rows val_metric and dev_metric were
 * measured on (the family's data_describe; the same on every row, commas replaced by ';'); "" when
 * not given.  budget_ms: the budget(s) the point is the winner of (winner[b] is
 * an index into pts or -1), joined with ';' when it wins several, empty otherwise.  budget_met: for
 * a winner, 1 when its latency is within every budget it wins; for the others, 1 when it is within
 * at least one of the budgets; else 0.  on_front: 1 or 0. */
int ofa_pareto_write_csv(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                         const int64_t *winner, int n_budgets, const char *val_rows, const char *dev_rows);
/* the same, with lower_better: the points' metric is the search's fitness (-metric, a FID negated so
 * the search maximizes); the front is computed on it and val_metric shows the metric itself */
int ofa_pareto_write_csv_lb(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                            const int64_t *winner, int n_budgets, const char *val_rows, const char *dev_rows,
                            int lower_better);

typedef struct ofa_pareto_plot {
    const char *title;        /* NULL: "Subnets: metric vs latency" */
    const char *metric_name;  /* y axis: the metric and the split it was measured on ("accuracy on val
                                 (the search's held-out split)"); NULL: "metric (validation split)" */
    int has_teacher;          /* draw the teacher point */
    double teacher_latency_ms, teacher_metric;
    const char *teacher_label; /* NULL: "teacher" */
    int lower_better;          /* the points' metric is the search's fitness -metric (FID): y shows metric */
} ofa_pareto_plot;

/* pareto.svg (see above); opt may be NULL.  Points with a NaN metric or latency are left out.
 * The text labels of the budgets, the teacher and the winners (class "label", each with its x, y,
 * font-size and text-anchor) never overlap one another nor a winner's ring or the teacher's
 * marker, measured as boxes 0.6 x font-size wide per character and font-size high; a winner's
 * label that had to move away from its ring gets a thin leader line. */
int ofa_pareto_write_svg(const char *path, const ofa_evo_point *pts, int64_t n, const double *budgets,
                         const int64_t *winner, int n_budgets, const ofa_pareto_plot *opt);

#endif
