/* coordinator/queue: a dynamic work queue over the world communicator.  Rank 0 hands tasks
 * (fixed-size byte messages) to whichever worker rank is idle and collects their results; the
 * other ranks serve tasks until rank 0 releases them.  Used by the search (evaluator/search:
 * candidate archs out, scores back).  Waits sleep instead of spinning a core.
 *
 *   rank 0:  ofa_queue q; ofa_queue_init(&q, t, task_size, result_size);
 *            loop: ofa_queue_poll(&q, result) -> 1 when a result came in;
 *                  ofa_queue_offer(&q, task)  -> 1 when an idle worker took it;
 *            ofa_queue_stop(&q);   (always, also after an error: it releases the workers)
 *   others:  ofa_queue_serve(t, task_size, result_size, fn, ctx);
 */
#ifndef OFA_COORDINATOR_QUEUE_H
#define OFA_COORDINATOR_QUEUE_H

#include <stddef.h>

#include "core/topo.h"

typedef struct ofa_queue {
    ofa_topo *t;
    size_t task_size, result_size;
    int *idle, n_idle;
    int outstanding; /* tasks handed out and not answered */
    void *scratch;
} ofa_queue;

void ofa_queue_init(ofa_queue *q, ofa_topo *t, size_t task_size, size_t result_size);
/* Rank 0: takes one message if one is waiting (a worker's first "ready" or a result); returns 1 and
 * fills result for a result, 0 otherwise; negative on an MPI failure. */
int ofa_queue_poll(ofa_queue *q, void *result);
/* Rank 0: gives task to an idle worker: 1 when one took it, 0 when none is idle. */
int ofa_queue_offer(ofa_queue *q, const void *task);
/* Rank 0: releases every worker (they return from ofa_queue_serve); frees q. */
void ofa_queue_stop(ofa_queue *q);
/* Workers: answer tasks with fn(task, result, ctx) until rank 0 stops the queue.  Collective with
 * rank 0's side. */
int ofa_queue_serve(ofa_topo *t, size_t task_size, size_t result_size,
                    void (*fn)(const void *task, void *result, void *ctx), void *ctx);

#endif
