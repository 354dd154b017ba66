/* evaluator/monitor: evaluator ranks during supernet training.
 *
 * The coordinator announces each checkpoint it writes and the end of training
 * (coordinator/announce).  Evaluator ranks wait in
 * ofa_monitor_loop without spinning a core; on an announcement they read the checkpoint file, score
 * the reference subnets (largest, smallest, and those of mpi.monitor_archs, split over the evaluators)
 * with the model family's score on dev data (data.dev_limit) and measure their forward latency (search.latency.*) on their own
 * cores, and append one line per subnet to <output_dir>/metrics.jsonl ("stage":"monitor").  When
 * announcements come faster than they can score, they skip to the newest.  An evaluator's failure
 * is logged and never touches training state (evaluators only read checkpoints).
 */
#ifndef OFA_EVALUATOR_MONITOR_H
#define OFA_EVALUATOR_MONITOR_H

#include <stdint.h>

#include "core/config.h"
#include "core/topo.h"

/* Evaluator ranks: serve announcements until the finish message; returns the coordinator's
 * status (so every rank exits the same way). */
int ofa_monitor_loop(const ofa_config *c, ofa_topo *t);

#endif
