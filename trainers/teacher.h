/* trainers/teacher: stage 1, training the full model (a BERT classifier/regressor on a GLUE task,
 * a CycleGAN), and the same data-parallel loop for the cyclegan family's student and prune stages.
 *
 * Reads train and dev data per the config, builds or loads the vocabulary, trains with AdamW
 * (linear warmup + decay, global-norm clipping, dropout), evaluates on dev every
 * teacher.eval_every steps (and at the end), and keeps the best weights in
 * <output_dir>/ckpt/teacher_best.h5, moved to <output_dir>/teacher.h5 when the stage completes.
 * The training state (weights, AdamW state, dropout RNG) goes to ckpt/teacher_step_N.h5 at every
 * evaluation and when SIGTERM/SIGUSR1 arrives (then OFA_STOPPED: exit 99); a restart resumes from
 * the newest one that loads, bitwise identical to an uninterrupted run.  Files are written
 * atomically, so a crash never leaves a broken one.
 * Progress goes to stderr, one JSON object per step/evaluation to <output_dir>/metrics.jsonl.
 */
#ifndef OFA_TRAINERS_TEACHER_H
#define OFA_TRAINERS_TEACHER_H

#include "core/config.h"
#include "core/topo.h"

typedef struct ofa_teacher_result {
    double best_metric;
    int64_t best_step, steps;
    int64_t resumed_from; /* the step a resumed run started from (0: trained from scratch) */
    char metric_name[32];
    double seconds;
} ofa_teacher_result;

/* t: the MPI job (NULL: one process).  Collective over t->train: every member (coordinator and
 * trainers; evaluators do not call it) holds the model and applies the same AdamW update; each
 * batch is split over the ranks that train (each a contiguous part), their gradients summed by one
 * allreduce per step (with the step's losses and the stop flag after them), so any rank count
 * reaches the weights of one process up to float summation order.  Rank 0 alone reads and writes
 * files, evaluates and logs; its outcome is agreed with the members after every evaluation.
 * flags: OFA_STAGE_FORCE (a training state written under other settings is discarded, not an
 * error), OFA_STAGE_FRESH (every training state is discarded: teacher.h5 is being recomputed)
 * (coordinator/fingerprint.h).  teacher.h5 records the stage's fingerprint. */
int ofa_teacher_train(const ofa_config *c, ofa_topo *t, int flags, ofa_teacher_result *res);

/* The same loop for any training stage of the run plan: stage OFA_STAGE_TEACHER (the above),
 * OFA_STAGE_STUDENT or OFA_STAGE_PRUNE (coordinator/fingerprint.h; a family with student stages):
 * the family's teacher-job ops of that kind (models/family.h), the schedule from the config section
 * of the stage's name (student.*, prune.*), its output student.h5 / pruned.h5, training states
 * ckpt/student_step_N.h5 / prune_step_N.h5 and best weights ckpt/student_best.h5 / prune_best.h5. */
int ofa_train_stage(const ofa_config *c, ofa_topo *t, int stage, int flags, ofa_teacher_result *res);


#endif
