#include "coordinator/replicas.h"

#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"

int ofa_replicas_broadcast(ofa_topo *t, ofa_params *p)
{
    OFA_TRY(ofa_topo_bcast_floats(t->train, p->data, p->total));
    OFA_TRY(ofa_topo_bcast_floats(t->train, p->m, p->total));
    return ofa_topo_bcast_floats(t->train, p->v, p->total);
}

int ofa_replicas_check(ofa_topo *t, ofa_params *p, int64_t step)
{
    uint64_t h = OFA_FNV1A_INIT;
    h = ofa_fnv1a(h, p->data, p->total * sizeof(float));
    h = ofa_fnv1a(h, p->m, p->total * sizeof(float));
    h = ofa_fnv1a(h, p->v, p->total * sizeof(float));
    uint64_t lo = h, hi = h;
    OFA_TRY(ofa_mpi_check(MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, t->train), "MPI_Allreduce (checksum)",
                          t->rank));
    OFA_TRY(ofa_mpi_check(MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, t->train), "MPI_Allreduce (checksum)",
                          t->rank));
    if (lo == hi) return 0;
    OFA_WARN("supernet: replica checksums differ at step %lld (rank %d has %016llx); re-broadcasting rank 0's "
             "weights and optimizer state",
             (long long)step, t->rank, (unsigned long long)h);
    return ofa_replicas_broadcast(t, p);
}

int64_t ofa_replicas_resume(ofa_topo *t, const char *dir, const char *prefix, const char *who, ofa_params *p,
                            ofa_adamw *opt)
{
    int64_t start = 0;
    if (t->rank == 0) start = ofa_ckpt_resume_newest(dir, prefix, who, p, opt, NULL);
    if (t->train_size > 1) {
        long long st[2] = {start, opt->t};
        OFA_TRY(ofa_mpi_check(MPI_Bcast(st, 2, MPI_LONG_LONG, 0, t->train), "MPI_Bcast (resume step)", t->rank));
        start = st[0];
        opt->t = st[1];
        if (start > 0) OFA_TRY(ofa_replicas_broadcast(t, p));
    }
    return start;
}
