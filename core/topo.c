#include "core/topo.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"

int ofa_mpi_check(int mpi_rc, const char *call, int rank)
{
    if (mpi_rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(mpi_rc, msg, &len);
    return OFA_ERR(OFA_E_MPI, "rank %d: %s failed: %s", rank, call, msg);
}

int ofa_topo_init(ofa_topo *t, int *argc, char ***argv)
{
    memset(t, 0, sizeof *t);
    t->world = t->train = MPI_COMM_NULL;
    int done = 0, provided = 0;
    MPI_Initialized(&done);
    if (!done) {
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return OFA_ERR(OFA_E_MPI, "MPI_Init failed");
        t->initialized = 1;
    }
    /* library code works on its own duplicate, with errors returned, not fatal */
    if (MPI_Comm_dup(MPI_COMM_WORLD, &t->world) != MPI_SUCCESS) return OFA_ERR(OFA_E_MPI, "MPI_Comm_dup failed");
    MPI_Comm_set_errhandler(t->world, MPI_ERRORS_RETURN);
    MPI_Comm_rank(t->world, &t->rank);
    MPI_Comm_size(t->world, &t->size);
    MPI_Comm node;
    OFA_MPI(t, MPI_Comm_split_type(t->world, MPI_COMM_TYPE_SHARED, t->rank, MPI_INFO_NULL, &node));
    MPI_Comm_size(node, &t->node_ranks);
    MPI_Comm_free(&node);
    ofa_log_set_rank(t->rank, t->size);
    return 0;
}

int ofa_topo_split(ofa_topo *t, int evaluators, int coordinator_trains)
{
    /* the coordinator plus evaluators, and at least one rank that trains */
    int needed = 1 + evaluators + (coordinator_trains ? 0 : 1);
    if (t->size > 1 && t->size < needed)
        return OFA_ERR(OFA_E_CONFIG,
                       "rank %d: %d ranks cannot hold the coordinator, mpi.evaluators = %d evaluator%s and %s; "
                       "start at least %d ranks or lower mpi.evaluators",
                       t->rank, t->size, evaluators, evaluators == 1 ? "" : "s",
                       coordinator_trains ? "the training" : "one trainer (mpi.coordinator_trains is false)", needed);
    if (t->size == 1) { /* a single process plays every role */
        t->role = OFA_ROLE_COORDINATOR;
        t->n_evaluators = 0;
        t->trains = 1;
    } else {
        t->n_evaluators = evaluators;
        int first_eval = t->size - evaluators;
        t->role = t->rank == 0 ? OFA_ROLE_COORDINATOR : t->rank < first_eval ? OFA_ROLE_TRAINER : OFA_ROLE_EVALUATOR;
        t->trains = t->role == OFA_ROLE_TRAINER || (t->role == OFA_ROLE_COORDINATOR && coordinator_trains);
    }
    int color = t->role == OFA_ROLE_EVALUATOR ? MPI_UNDEFINED : 0;
    OFA_MPI(t, MPI_Comm_split(t->world, color, t->rank, &t->train));
    if (t->train != MPI_COMM_NULL) {
        MPI_Comm_set_errhandler(t->train, MPI_ERRORS_RETURN);
        MPI_Comm_rank(t->train, &t->train_rank);
        MPI_Comm_size(t->train, &t->train_size);
    }
    int skip = coordinator_trains || t->size == 1 ? 0 : 1; /* a non-training coordinator is not a worker */
    t->n_workers = t->size == 1 ? 1 : t->size - evaluators - skip;
    t->worker_index = t->trains ? t->rank - skip : -1;
    return 0;
}

void ofa_topo_finalize(ofa_topo *t)
{
    if (t->train != MPI_COMM_NULL) MPI_Comm_free(&t->train);
    if (t->world != MPI_COMM_NULL) MPI_Comm_free(&t->world);
    if (t->initialized) MPI_Finalize();
    t->initialized = 0;
}

int ofa_topo_default_threads(const ofa_topo *t)
{
    /* a rank the launcher bound to some cores owns them; an unbound rank shares the node's cores
     * with the other ranks on it */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int cores = ofa_usable_cores();
    int n = cores < online ? cores : (t->node_ranks > 0 ? cores / t->node_ranks : cores);
    return n < 1 ? 1 : n;
}

int ofa_topo_bcast_file(ofa_topo *t, const char *path, char **text, size_t *len)
{
    long long n = -1;
    char *buf = NULL;
    char err[1024] = "";
    if (t->rank == 0) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(err, sizeof err, "cannot open config '%s': %s", path, strerror(errno));
        } else {
            size_t cap = 1 << 16, used = 0, r;
            buf = ofa_xmalloc(cap);
            while ((r = fread(buf + used, 1, cap - used - 1, f)) > 0)
                if ((used += r) + 1 >= cap) buf = ofa_xrealloc(buf, cap *= 2);
            if (ferror(f)) snprintf(err, sizeof err, "cannot read config '%s': %s", path, strerror(errno));
            fclose(f);
            n = err[0] ? -1 : (long long)used;
        }
    }
    OFA_MPI(t, MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, t->world));
    if (n < 0) {
        free(buf);
        OFA_MPI(t, MPI_Bcast(err, (int)sizeof err, MPI_CHAR, 0, t->world));
        return OFA_ERR(OFA_E_CONFIG, "%s", err);
    }
    if (n > INT_MAX - 1) return OFA_ERR(OFA_E_CONFIG, "config '%s' is too large", path);
    if (t->rank != 0) buf = ofa_xmalloc((size_t)n + 1);
    OFA_MPI(t, MPI_Bcast(buf, (int)n, MPI_CHAR, 0, t->world));
    buf[n] = '\0';
    *text = buf;
    *len = (size_t)n;
    return 0;
}

int ofa_topo_agree_on(ofa_topo *t, MPI_Comm comm, int rc)
{
    /* the worst status, and the lowest rank (of comm) that has it: its message goes to every rank */
    int mine[2] = {rc, 0}, worst[2] = {rc, 0};
    if (MPI_Comm_rank(comm, &mine[1]) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Comm_rank (error agreement) failed", t->rank);
    MPI_Request req;
    if (MPI_Iallreduce(mine, worst, 1, MPI_2INT, MPI_MINLOC, comm, &req) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Iallreduce (error agreement) failed", t->rank);
    OFA_TRY(ofa_topo_wait(&req, "MPI_Iallreduce (error agreement)"));
    if (worst[0] >= 0) return worst[0];
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", mine[1] == worst[1] ? ofa_err_msg() : "");
    if (MPI_Ibcast(msg, (int)sizeof msg, MPI_CHAR, worst[1], comm, &req) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Ibcast (error agreement) failed", t->rank);
    OFA_TRY(ofa_topo_wait(&req, "MPI_Ibcast (error agreement)"));
    msg[sizeof msg - 1] = '\0';
    /* a rank that failed itself keeps its own message; the others carry the failing rank's */
    if (rc >= 0) {
        if (worst[0] == OFA_STOPPED) OFA_ERR(worst[0], "stopped by a signal (a checkpoint was written)");
        else if (comm == t->world) OFA_ERR(worst[0], "rank %d failed: %s", worst[1], msg);
        else OFA_ERR(worst[0], "another rank failed: %s", msg);
    }
    return worst[0];
}

int ofa_topo_bcast_int(ofa_topo *t, int *v)
{
    MPI_Request req;
    OFA_MPI(t, MPI_Ibcast(v, 1, MPI_INT, 0, t->world, &req));
    return ofa_topo_wait(&req, "MPI_Ibcast (decision)");
}

int ofa_topo_agree(ofa_topo *t, int rc) { return ofa_topo_agree_on(t, t->world, rc); }

int ofa_topo_wait(MPI_Request *req, const char *what)
{
    long ns = 1000; /* back off from 1 us to 1 ms */
    for (;;) {
        int flag = 0;
        int rc = MPI_Test(req, &flag, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS) return ofa_mpi_check(rc, what, -1);
        if (flag) return 0;
        struct timespec ts = {0, ns};
        nanosleep(&ts, NULL);
        if (ns < 1000000) ns *= 2;
    }
}

#define CHUNK ((size_t)1 << 28)

int ofa_topo_allreduce_sum(ofa_topo *t, float *buf, size_t count)
{
    if (t->train == MPI_COMM_NULL || t->train_size == 1) return 0;
    for (size_t off = 0; off < count; off += CHUNK) {
        int n = (int)(count - off < CHUNK ? count - off : CHUNK);
        MPI_Request req;
        OFA_MPI(t, MPI_Iallreduce(MPI_IN_PLACE, buf + off, n, MPI_FLOAT, MPI_SUM, t->train, &req));
        OFA_TRY(ofa_topo_wait(&req, "MPI_Iallreduce (gradients)"));
    }
    return 0;
}

void ofa_topo_buckets_begin(ofa_topo_buckets *b, ofa_topo *t, float *buf, size_t count, double bucket_mb)
{
    const int on = t && t->train != MPI_COMM_NULL && t->train_size > 1;
    size_t bucket = bucket_mb > 0 ? (size_t)(bucket_mb * (1 << 20) / sizeof(float)) : 0;
    if (bucket > CHUNK) bucket = CHUNK;
    *b = (ofa_topo_buckets){.t = t, .buf = buf, .count = count, .bucket = on ? bucket : 0};
    b->n = b->bucket > 0 ? (int)((count + b->bucket - 1) / b->bucket) : 0;
    if (b->n > 0) b->req = ofa_xmalloc((size_t)b->n * sizeof *b->req);
    for (int i = 0; i < b->n; i++) b->req[i] = MPI_REQUEST_NULL;
}

/* bucket i: buf[lo..hi) counted from the top */
static void bucket_range(const ofa_topo_buckets *b, int i, size_t *lo, size_t *hi)
{
    *hi = b->count - (size_t)i * b->bucket;
    *lo = *hi > b->bucket ? *hi - b->bucket : 0;
}

static void post(ofa_topo_buckets *b)
{
    size_t lo, hi;
    bucket_range(b, b->posted, &lo, &hi);
    int rc = MPI_Iallreduce(MPI_IN_PLACE, b->buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM, b->t->train,
                            &b->req[b->posted]);
    if (rc != MPI_SUCCESS && b->rc == 0) b->rc = ofa_mpi_check(rc, "MPI_Iallreduce (gradient bucket)", b->t->rank);
    b->posted++;
}

void ofa_topo_buckets_ready(ofa_topo_buckets *b, size_t off)
{
    if (b->n == 0 || b->rc < 0) return;
    size_t lo, hi;
    while (b->posted < b->n && (bucket_range(b, b->posted, &lo, &hi), lo >= off)) post(b);
    int flag; /* progress for the posted ones; completed requests become MPI_REQUEST_NULL */
    int rc = MPI_Testall(b->posted, b->req, &flag, MPI_STATUSES_IGNORE);
    if (rc != MPI_SUCCESS && b->rc == 0) b->rc = ofa_mpi_check(rc, "MPI_Testall (gradient buckets)", b->t->rank);
}

void ofa_topo_buckets_on_final(void *b, size_t off) { ofa_topo_buckets_ready(b, off); }

int ofa_topo_buckets_finish(ofa_topo_buckets *b, float *extra, size_t n_extra)
{
    ofa_topo *t = b->t;
    if (!t || t->train == MPI_COMM_NULL || t->train_size == 1) return 0;
    if (b->n == 0) { /* no buckets: the buffer and the statistics in one allreduce (contiguous) */
        OFA_TRY(extra == b->buf + b->count ? ofa_topo_allreduce_sum(t, b->buf, b->count + n_extra)
                                           : ofa_topo_allreduce_sum(t, b->buf, b->count));
        return extra == b->buf + b->count ? 0 : ofa_topo_allreduce_sum(t, extra, n_extra);
    }
    OFA_TRY(b->rc);
    for (int i = 0; i < b->posted; i++) {
        size_t lo, hi;
        bucket_range(b, i, &lo, &hi);
        b->early_posted += hi - lo;
        int done = 0;
        OFA_MPI(t, MPI_Test(&b->req[i], &done, MPI_STATUS_IGNORE));
        if (done) b->early_done += hi - lo;
    }
    while (b->posted < b->n) post(b);
    OFA_TRY(b->rc);
    MPI_Request xr = MPI_REQUEST_NULL;
    if (n_extra) OFA_MPI(t, MPI_Iallreduce(MPI_IN_PLACE, extra, (int)n_extra, MPI_FLOAT, MPI_SUM, t->train, &xr));
    for (int i = 0; i < b->n; i++) OFA_TRY(ofa_topo_wait(&b->req[i], "MPI_Iallreduce (gradient bucket)"));
    return ofa_topo_wait(&xr, "MPI_Iallreduce (step statistics)");
}

void ofa_topo_buckets_free(ofa_topo_buckets *b)
{
    free(b->req);
    b->req = NULL;
}

int ofa_topo_bcast_floats(MPI_Comm comm, float *buf, size_t count)
{
    for (size_t off = 0; off < count; off += CHUNK) {
        int n = (int)(count - off < CHUNK ? count - off : CHUNK);
        MPI_Request req;
        OFA_TRY(ofa_mpi_check(MPI_Ibcast(buf + off, n, MPI_FLOAT, 0, comm, &req), "MPI_Ibcast", -1));
        OFA_TRY(ofa_topo_wait(&req, "MPI_Ibcast (weights)"));
    }
    return 0;
}
