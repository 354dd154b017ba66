/* evaluator/monitor: evaluator ranks during supernet training.
 *
 * The coordinator announces each checkpoint it writes (ofa_monitor_announce, a small message to
 * every evaluator) and the end of training (ofa_monitor_finish).  Evaluator ranks wait in
 * ofa_monitor_loop without spinning a core; on an announcement they read the checkpoint file, score
 * the reference subnets (largest, smallest, and those of mpi.monitor_archs, split over the evaluators)
 * on dev data (data.dev_limit) and measure their forward latency (search.latency.*) on their own
 * cores, and append one line per subnet to <output_dir>/metrics.jsonl ("stage":"monitor").  When
 * announcements come faster than they can score, they skip to the newest.  An evaluator's failure
 * is logged and never touches training state (evaluators only read checkpoints).
 */
#ifndef OFA_EVALUATOR_MONITOR_H
#define OFA_EVALUATOR_MONITOR_H

#include <stdint.h>

#include "core/config.h"
#include "core/topo.h"

/* Rank 0: a checkpoint of `step` is in <output_dir>/ckpt/.  Not collective. */
void ofa_monitor_announce(ofa_topo *t, int64_t step);
/* Rank 0: training ended with status rc (0, OFA_STOPPED, or an error).  Not collective. */
void ofa_monitor_finish(ofa_topo *t, int rc);
/* Evaluator ranks: serve announcements until the finish message; returns the coordinator's
 * status (so every rank exits the same way). */
int ofa_monitor_loop(const ofa_config *c, ofa_topo *t);

#endif
