/* coordinator/announce: what the coordinator tells the evaluator ranks during supernet training:
 * "a checkpoint of step N is written" and "training ended with status rc".  Small point-to-point
 * messages on the world communicator; evaluators receive them with ofa_announce_poll without
 * spinning a core (evaluator/monitor).  Not collective. */
#ifndef OFA_COORDINATOR_ANNOUNCE_H
#define OFA_COORDINATOR_ANNOUNCE_H

#include <stdint.h>

#include "core/topo.h"

enum ofa_announce_kind { OFA_ANNOUNCE_NONE = 0, OFA_ANNOUNCE_CHECKPOINT, OFA_ANNOUNCE_FINISH };

/* Rank 0: a checkpoint of `step` is in <output_dir>/ckpt/. */
void ofa_announce_checkpoint(ofa_topo *t, int64_t step);
/* Rank 0: training ended with status rc (0, OFA_STOPPED, or an error). */
void ofa_announce_finish(ofa_topo *t, int rc);
/* Evaluator ranks: the next message from rank 0 if one is waiting (OFA_ANNOUNCE_NONE otherwise);
 * *value is the step or the status.  Negative on an MPI failure. */
int ofa_announce_poll(ofa_topo *t, int64_t *value);

#endif
