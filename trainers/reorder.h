/* trainers/reorder: stage 2, importance reorder of the teacher (models/bert/importance does the work).
 * Not collective: rank 0 runs it while the job's other ranks wait. */
#ifndef OFA_TRAINERS_REORDER_H
#define OFA_TRAINERS_REORDER_H

#include "core/config.h"

/* The stage: <output_dir>/teacher.h5 -> <output_dir>/teacher_reordered.h5 (+ /importance), with a
 * check that the reordered model's dev logits equal the original's (OFA_E_RUNTIME otherwise).
 * With reorder.enabled false the weights are copied unpermuted (identity orders). */
int ofa_reorder_run(const ofa_config *c);

#endif
