#include "coordinator/announce.h"

#include "core/error.h"
#include "core/log.h"

enum { TAG_CKPT = 7001, TAG_FINISH = 7002 };

static void send_all(ofa_topo *t, int tag, int64_t value)
{
    long long v = value;
    for (int r = t->size - t->n_evaluators; r < t->size; r++)
        if (r > 0 && MPI_Send(&v, 1, MPI_LONG_LONG, r, tag, t->world) != MPI_SUCCESS)
            OFA_WARN("could not notify evaluator rank %d", r);
}

void ofa_announce_checkpoint(ofa_topo *t, int64_t step)
{
    if (t->n_evaluators > 0) send_all(t, TAG_CKPT, step);
}

void ofa_announce_finish(ofa_topo *t, int rc)
{
    if (t->n_evaluators > 0) send_all(t, TAG_FINISH, rc);
}

int ofa_announce_poll(ofa_topo *t, int64_t *value)
{
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(0, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Iprobe failed", t->rank);
    if (!flag) return OFA_ANNOUNCE_NONE;
    long long v;
    if (MPI_Recv(&v, 1, MPI_LONG_LONG, 0, st.MPI_TAG, t->world, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Recv (announcement) failed", t->rank);
    *value = v;
    return st.MPI_TAG == TAG_FINISH ? OFA_ANNOUNCE_FINISH : OFA_ANNOUNCE_CHECKPOINT;
}
