/* core/runfiles: the names of the files a run writes under experiment.output_dir, in one place.
 * Every stage, command and test builds its paths from these (docs/checkpoint-format.md describes
 * the files).  Not collective; no state. */
#ifndef OFA_CORE_RUNFILES_H
#define OFA_CORE_RUNFILES_H

#include <stdio.h>

#include "core/config.h"

#define OFA_RUN_CONFIG "config.yaml"                /* the resolved config */
#define OFA_RUN_METRICS "metrics.jsonl"             /* one JSON line per step, evaluation, event */
#define OFA_RUN_TEACHER "teacher.h5"                /* stage 1 */
#define OFA_RUN_REORDERED "teacher_reordered.h5"    /* stage 2 (BERT) */
#define OFA_RUN_STUDENT "student.h5"                /* stage 2 (cyclegan): the MobileResNet student */
#define OFA_RUN_PRUNED "pruned.h5"                  /* stage 3 (cyclegan): the student L1-pruned, distilled */
#define OFA_RUN_SUPERNET "supernet.h5"              /* stage 3 */
#define OFA_RUN_PARETO_CSV "pareto.csv"             /* stage 4 (a --prefix goes in front) */
#define OFA_RUN_PARETO_SVG "pareto.svg"
#define OFA_RUN_SEARCH_STATE "search.h5"
#define OFA_RUN_LATENCY_TABLE "latency_table.h5"
#define OFA_RUN_SUBNETS "subnets"                   /* exported winners: subnets/<arch>.h5 */
#define OFA_RUN_CKPT "ckpt"                         /* training states of the stages: */
#define OFA_RUN_TEACHER_STEP "teacher_step_"        /*   ckpt/teacher_step_NNNNNNNN.h5 */
#define OFA_RUN_TEACHER_BEST "teacher_best.h5"      /*   ckpt/teacher_best.h5 */
#define OFA_RUN_STUDENT_STEP "student_step_"        /*   ckpt/student_step_NNNNNNNN.h5 */
#define OFA_RUN_STUDENT_BEST "student_best.h5"      /*   ckpt/student_best.h5 */
#define OFA_RUN_PRUNE_STEP "prune_step_"            /*   ckpt/prune_step_NNNNNNNN.h5 */
#define OFA_RUN_PRUNE_BEST "prune_best.h5"          /*   ckpt/prune_best.h5 */
#define OFA_RUN_SUPERNET_STEP "step_"               /*   ckpt/step_NNNNNNNN.h5 */
#define OFA_RUN_GRID_CSV "grid.csv"                 /* ofa eval --grid, beside the checkpoint */
#define OFA_RUN_AGREEMENT_CSV "agreement.csv"       /* ofa eval --agreement, beside the checkpoint */

/* <output_dir>/<name> */
static inline void ofa_run_path(char *buf, size_t n, const ofa_config *c, const char *name)
{
    snprintf(buf, n, "%s/%s", c->experiment.output_dir, name);
}

#endif
