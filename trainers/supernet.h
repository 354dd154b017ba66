/* trainers/supernet: stage 3, training the once-for-all BERT supernet with distillation.
 *
 * The student starts as a copy of the reordered teacher (<output_dir>/teacher_reordered.h5); the
 * teacher stays frozen.  Training runs the configured phases in order (which dimensions are
 * elastic, epochs, lr); every step samples `subnets_per_step` subnets (sandwich: largest, smallest,
 * random ones; random; or grid: every depth x width point allowed by the phase), trains each on
 * micro-batch j mod M with the model family's distillation (models/family.h distill_*) against one teacher forward
 * per micro-batch, sums their gradients and takes one AdamW step.
 *
 * The step plan (supernet/sampler) is a pure function of (seed, step, j); micro-batch u = s*M + m is batch u mod nb of epoch u / nb of the seeded epoch
 * order, so a resumed run (and later a distributed one) replays exactly the same work.
 * Checkpoints (weights + AdamW state + step) go to <output_dir>/ckpt/step_NNNNNNNN.h5 every
 * supernet.checkpoint.every_steps, the newest supernet.checkpoint.keep kept; a restart resumes from
 * the newest one that opens.  The result is <output_dir>/supernet.h5 (kind supernet).
 */
#ifndef OFA_TRAINERS_SUPERNET_H
#define OFA_TRAINERS_SUPERNET_H

#include <stdint.h>

#include "core/config.h"
#include "core/topo.h"

typedef struct ofa_supernet_result {
    int64_t steps, resumed_from;
    double seconds;
} ofa_supernet_result;

/* The training ranks' part of the stage (collective over t->train; evaluator ranks run the monitor
 * meanwhile, see cli/job ofa_job_supernet); rank 0 announces the end to the evaluators.
 * OFA_STOPPED after a SIGTERM/SIGUSR1 (a checkpoint was written). */
/* flags (coordinator/fingerprint.h): a step checkpoint in ckpt/ is resumed only when its fingerprint
 * agrees with this run's (same settings, same teacher_reordered.h5); one that does not is an error
 * naming what changed, or with OFA_STAGE_FORCE discarded; OFA_STAGE_FRESH discards them all.
 * supernet.h5 and the step checkpoints record the fingerprint and the micro-batches per step. */
int ofa_supernet_train(const ofa_config *c, ofa_topo *t, int flags, ofa_supernet_result *res);

#endif
