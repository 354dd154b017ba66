/* coordinator/replicas: the replicas of the trained weights on the training ranks.  Every training
 * rank applies the same AdamW update after the gradient allreduce, so replicas stay identical
 * without broadcasting weights; the coordinator checks that (checksums every mpi.checksum_every
 * steps, rank 0's state re-broadcast on a mismatch) and hands a resumed state to every rank.
 * Collective over t->train. */
#ifndef OFA_COORDINATOR_REPLICAS_H
#define OFA_COORDINATOR_REPLICAS_H

#include <stdint.h>

#include "core/topo.h"
#include "nn/optim.h"
#include "nn/params.h"

/* Weights and AdamW state (data, m, v) from rank 0 to every training rank. */
int ofa_replicas_broadcast(ofa_topo *t, ofa_params *p);
/* Compares an FNV-1a checksum of weights + AdamW state across the training ranks; on a mismatch
 * logs it (naming the step) and re-broadcasts rank 0's state. */
int ofa_replicas_check(ofa_topo *t, ofa_params *p, int64_t step);
/* Rank 0 restores the newest checkpoint of dir/prefix that loads (coordinator/checkpoint) and every
 * training rank receives its weights, AdamW state and step.  Returns that step (0: none). */
int64_t ofa_replicas_resume(ofa_topo *t, const char *dir, const char *prefix, const char *who, ofa_params *p,
                            ofa_adamw *opt);

#endif
