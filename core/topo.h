/* core/topo: the MPI job's topology: roles, communicators, and the few collective helpers the
 * stages use.  Library code never touches MPI_COMM_WORLD: every communicator here is a duplicate
 * with MPI_ERRORS_RETURN, and every MPI call is checked (OFA_E_MPI with the call and the rank).
 *
 *   rank 0                 coordinator: reads + broadcasts the config, writes checkpoints, logs
 *   ranks 1..T             trainers (the coordinator trains too with mpi.coordinator_trains)
 *   ranks T+1..N-1         evaluators (mpi.evaluators of them)
 *
 * `train` holds the coordinator and the trainers (the gradient allreduce); `world` everyone.
 * Without mpirun (a singleton) the one process plays every role.
 * Waits use ofa_topo_wait: MPI_Test in a loop with short sleeps, so a rank that waits for others
 * does not spin a core away from them.
 */
#ifndef OFA_CORE_TOPO_H
#define OFA_CORE_TOPO_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

enum ofa_role { OFA_ROLE_COORDINATOR = 0, OFA_ROLE_TRAINER = 1, OFA_ROLE_EVALUATOR = 2 };

typedef struct ofa_topo {
    int rank, size;          /* in world */
    int role;
    int trains;              /* 1 when this rank computes gradients (trainer, or coordinator_trains) */
    MPI_Comm world;          /* dup of MPI_COMM_WORLD */
    MPI_Comm train;          /* coordinator + trainers; MPI_COMM_NULL on evaluators */
    int train_rank, train_size;
    int n_workers;           /* ranks that compute gradients */
    int worker_index;        /* this rank's index among them, -1 if it does not train */
    int n_evaluators;
    int node_ranks;          /* ranks sharing this node (MPI_Comm_split_type SHARED) */
    int initialized;         /* MPI_Init was called by ofa_topo_init */
} ofa_topo;

/* MPI_Init (thread level FUNNELED) and the world duplicate. Collective. */
int ofa_topo_init(ofa_topo *t, int *argc, char ***argv);
/* Splits roles for `evaluators` evaluator ranks; every rank checks the world size the same way and
 * fails with the same message (OFA_E_CONFIG naming mpi.evaluators) when it does not fit. Collective. */
int ofa_topo_split(ofa_topo *t, int evaluators, int coordinator_trains);
void ofa_topo_finalize(ofa_topo *t);
/* BLAS threads for this rank: the cores it may use divided by the ranks sharing its node (>= 1);
 * a rank bound to a subset of the node's cores (mpirun --bind-to) uses all of its own. */
int ofa_topo_default_threads(const ofa_topo *t);

/* Rank 0 reads `path`; every rank receives the same bytes (NUL-terminated, malloc'd). Collective.
 * A read failure on rank 0 is reported on every rank. */
int ofa_topo_bcast_file(ofa_topo *t, const char *path, char **text, size_t *len);
/* Did any rank fail?  Every rank passes its status; returns the most negative (the same on every
 * rank), so all ranks exit the same way, and the ranks that did not fail record the failing rank's
 * message ("rank 2 failed: <its reason>").  Collective over world. */
int ofa_topo_agree(ofa_topo *t, int rc);
/* The same over another communicator of t (e.g. t->train).  Both wait politely (ofa_topo_wait),
 * so ranks waiting for one that still works (rank 0 writing a file) do not spin a core. */
int ofa_topo_agree_on(ofa_topo *t, MPI_Comm comm, int rc);
/* Rank 0's value of *v on every rank (decisions made once, on rank 0). Collective over world. */
int ofa_topo_bcast_int(ofa_topo *t, int *v);
/* Waits for a request without busy-polling a core (MPI_Test + sleeps of up to 1 ms). */
int ofa_topo_wait(MPI_Request *req, const char *what);
/* Non-blocking allreduce (SUM of floats) over `train`, waited politely; count may exceed INT_MAX
 * (done in chunks). */
int ofa_topo_allreduce_sum(ofa_topo *t, float *buf, size_t count);
/* The gradient allreduce overlapped with the backward pass.  buf[0..count) is cut into buckets of
 * `bucket_mb` MB (mpi.bucket_mb) counted from the top (bucket 0 ends at buf[count-1]), the order in which a backward
 * finishes a model's parameters; every rank posts the same buckets in the same order, whatever
 * subnet it trains, so the collectives match.  During the backward, ofa_topo_buckets_ready(b, off)
 * says "buf[off..count) is final": it posts every bucket lying wholly there (MPI_Iallreduce over
 * `train`) and tests the posted ones, since MPI moves a non-blocking collective only inside MPI
 * calls.  ofa_topo_buckets_finish posts the rest, sums extra[0..n_extra) (the step's statistics)
 * and waits for everything.  bucket 0, or one training rank: finish does it all (one allreduce of
 * the whole buffer when bucket_mb is 0); t NULL (no MPI): nothing to do.  ready never fails: an MPI
 * error is kept for finish. */
typedef struct ofa_topo_buckets {
    ofa_topo *t;
    float *buf;
    size_t count, bucket;
    int n, posted;            /* buckets, and how many are posted (0..posted-1) */
    MPI_Request *req;         /* [n] */
    int rc;                   /* the first MPI error */
    /* what overlapped: floats whose allreduce was posted before finish, and of them those whose
     * allreduce had completed before it (communication hidden behind the backward) */
    size_t early_posted, early_done;
} ofa_topo_buckets;
void ofa_topo_buckets_begin(ofa_topo_buckets *b, ofa_topo *t, float *buf, size_t count, double bucket_mb);
void ofa_topo_buckets_ready(ofa_topo_buckets *b, size_t off);
/* ofa_topo_buckets_ready in the form of ofa_params' final_fn (nn/params.h), b the buckets */
void ofa_topo_buckets_on_final(void *b, size_t off);
int ofa_topo_buckets_finish(ofa_topo_buckets *b, float *extra, size_t n_extra);
void ofa_topo_buckets_free(ofa_topo_buckets *b);

/* Broadcast of floats from rank 0 of `comm` (chunked). */
int ofa_topo_bcast_floats(MPI_Comm comm, float *buf, size_t count);

/* Checks an MPI return code; records OFA_E_MPI naming the call. */
int ofa_mpi_check(int mpi_rc, const char *call, int rank);
#define OFA_MPI(t, call) OFA_TRY(ofa_mpi_check((call), #call, (t)->rank))

#endif
