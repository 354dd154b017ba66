#include "coordinator/queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

enum { TAG_READY = 7101, TAG_TASK = 7102, TAG_RESULT = 7103, TAG_STOP = 7104 };

void ofa_queue_init(ofa_queue *q, ofa_topo *t, size_t task_size, size_t result_size)
{
    memset(q, 0, sizeof *q);
    q->t = t;
    q->task_size = task_size;
    q->result_size = result_size;
    q->idle = ofa_xmalloc((size_t)(t->size + 1) * sizeof *q->idle);
    q->scratch = ofa_xmalloc(task_size > result_size ? task_size : result_size);
}

int ofa_queue_poll(ofa_queue *q, void *result)
{
    ofa_topo *t = q->t;
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "MPI_Iprobe failed on the coordinator");
    if (!flag) return 0;
    int got = 0;
    if (st.MPI_TAG == TAG_RESULT) {
        MPI_Recv(result, (int)q->result_size, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, t->world, MPI_STATUS_IGNORE);
        q->outstanding--;
        got = 1;
    } else {
        int dummy;
        MPI_Recv(&dummy, 1, MPI_INT, st.MPI_SOURCE, TAG_READY, t->world, MPI_STATUS_IGNORE);
    }
    q->idle[q->n_idle++] = st.MPI_SOURCE; /* after its result (or its start) a worker is idle */
    return got;
}

int ofa_queue_offer(ofa_queue *q, const void *task)
{
    if (q->n_idle == 0) return 0;
    int w = q->idle[--q->n_idle];
    if (MPI_Send(task, (int)q->task_size, MPI_BYTE, w, TAG_TASK, q->t->world) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "cannot send a task to rank %d", w);
    q->outstanding++;
    return 1;
}

void ofa_queue_stop(ofa_queue *q)
{
    memset(q->scratch, 0, q->task_size);
    for (int k = 1; k < q->t->size; k++) MPI_Send(q->scratch, (int)q->task_size, MPI_BYTE, k, TAG_STOP, q->t->world);
    free(q->idle);
    free(q->scratch);
    memset(q, 0, sizeof *q);
}

int ofa_queue_serve(ofa_topo *t, size_t task_size, size_t result_size,
                    void (*fn)(const void *task, void *result, void *ctx), void *ctx)
{
    int ready = 0;
    if (MPI_Send(&ready, 1, MPI_INT, 0, TAG_READY, t->world) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: cannot reach the coordinator", t->rank);
    void *task = ofa_xmalloc(task_size), *result = ofa_xmalloc(result_size);
    int rc = 0;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS) {
            rc = OFA_ERR(OFA_E_MPI, "rank %d: MPI_Iprobe failed", t->rank);
            break;
        }
        if (!flag) {
            struct timespec ts = {0, 1000000}; /* an idle worker must not spin a core */
            nanosleep(&ts, NULL);
            continue;
        }
        MPI_Recv(task, (int)task_size, MPI_BYTE, 0, st.MPI_TAG, t->world, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_STOP) break;
        fn(task, result, ctx);
        if (MPI_Send(result, (int)result_size, MPI_BYTE, 0, TAG_RESULT, t->world) != MPI_SUCCESS) {
            rc = OFA_ERR(OFA_E_MPI, "rank %d: cannot send a result", t->rank);
            break;
        }
    }
    free(task);
    free(result);
    return rc;
}
