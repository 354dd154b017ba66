#include "coordinator/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "trainers/reorder.h"

int ofa_lock_output(const ofa_config *c, const char *cmd, ofa_dirlock *lock)
{
    OFA_TRY(ofa_mkdirs(c->experiment.output_dir));
    return ofa_dirlock_acquire(lock, c->experiment.output_dir, cmd);
}

int ofa_write_resolved_config(const ofa_config *c, const char *source, int threads)
{
    OFA_INFO("ofa %s: config %s, run id %s, %d BLAS thread%s", OFA_VERSION, source, ofa_run_id(), threads,
             threads == 1 ? "" : "s");
    OFA_TRY(ofa_mkdirs(c->experiment.output_dir));
    char *yaml = ofa_config_to_yaml(c);
    /* the echo (90 lines) only at debug level (--verbose); the file holds the same text */
    OFA_DEBUG("resolved config:");
    for (const char *line = yaml; *line && ofa_log_get_level() <= OFA_LOG_DEBUG;) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        OFA_DEBUG("  %.*s", len, line);
        line += len + (nl ? 1 : 0);
    }
    char path[OFA_PATH_MAX + 32];
    ofa_run_path(path, sizeof path, c, OFA_RUN_CONFIG);
    int rc = ofa_afile_write(path, yaml, strlen(yaml));
    free(yaml);
    if (rc < 0) return ofa_err_prefix(rc, "the resolved config");
    OFA_INFO("resolved config written to %s (--verbose echoes it here)", path);
    return 0;
}

int ofa_job_start(ofa_job *j, const char *config_path, const char *const *sets, int n_sets, const char *cmd,
                  const char *build_id)
{
    memset(j, 0, sizeof *j);
    j->lock = (ofa_dirlock)OFA_DIRLOCK_INIT;
    ofa_topo *t = &j->t;
    ofa_config *c = &j->c;
    OFA_TRY(ofa_topo_init(t, NULL, NULL));
    /* every rank must run the same build */
    uint64_t h = ofa_fnv1a_str(build_id), lo = h, hi = h;
    int rc = 0;
    if (MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, t->world) != MPI_SUCCESS ||
        MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, t->world) != MPI_SUCCESS)
        rc = OFA_ERR(OFA_E_MPI, "rank %d: MPI_Allreduce (build check) failed", t->rank);
    else if (lo != hi)
        rc = OFA_ERR(OFA_E_USAGE, "the ranks of this job run different ofa builds (rank %d: %s)", t->rank, build_id);
    if (rc < 0) return rc;
    /* one run id for the whole job, in every rank's metrics.jsonl lines */
    char id[OFA_RUN_ID_MAX] = "";
    if (t->rank == 0) ofa_run_id_make(id, sizeof id);
    if (MPI_Bcast(id, (int)sizeof id, MPI_CHAR, 0, t->world) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Bcast (run id) failed", t->rank);
    ofa_run_id_set(id);
    char *text = NULL;
    size_t len = 0;
    rc = ofa_topo_bcast_file(t, config_path, &text, &len);
    if (rc == 0) rc = ofa_config_parse(c, text, len, config_path, sets, n_sets);
    free(text);
    rc = ofa_topo_agree(t, rc);
    if (rc == 0) rc = ofa_topo_agree(t, ofa_topo_split(t, c->mpi.evaluators, c->mpi.coordinator_trains));
    if (rc < 0) return rc;
    if (ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(c->experiment.log_level);
    if (t->rank == 0) ofa_config_log_warnings(c); /* every rank parsed the same text */
    int threads = c->experiment.threads > 0 || getenv("OFA_THREADS") ? ofa_resolve_threads(c->experiment.threads)
                                                                     : ofa_topo_default_threads(t);
    rc = ofa_topo_agree(t, threads < 0 ? threads : 0);
    if (rc < 0) return rc;
    ofa_set_blas_threads(threads);
    j->threads = threads;
    if (t->size > 1)
        OFA_INFO("job: %d ranks: coordinator%s, %d trainer%s, %d evaluator%s; %d BLAS thread%s per rank", t->size,
                 c->mpi.coordinator_trains ? " (trains too)" : "", t->size - 1 - t->n_evaluators,
                 t->size - 1 - t->n_evaluators == 1 ? "" : "s", t->n_evaluators, t->n_evaluators == 1 ? "" : "s",
                 threads, threads == 1 ? "" : "s");
    /* rank 0 locks the output folder before it writes config.yaml there */
    if (t->rank == 0) {
        rc = ofa_lock_output(c, cmd, &j->lock);
        if (rc == 0) rc = ofa_write_resolved_config(c, config_path, threads);
    }
    return ofa_topo_agree(t, rc);
}

int ofa_job_end(ofa_job *j, int rc)
{
    ofa_dirlock_release(&j->lock);
    ofa_topo_finalize(&j->t);
    return rc;
}

/* A stage that runs on rank 0 alone while the others wait without spinning. */
static int rank0_stage(ofa_topo *t, int (*fn)(const ofa_config *, void *), const ofa_config *c, void *ctx)
{
    return ofa_topo_agree(t, t->rank == 0 ? fn(c, ctx) : 0);
}

static int teacher_fn(const ofa_config *c, void *ctx) { return ofa_teacher_train(c, ctx); }
static int reorder_fn(const ofa_config *c, void *ctx)
{
    (void)ctx;
    return ofa_reorder_run(c);
}

/* Does stage output `name` still need to be made?  Decided once, on rank 0 (which writes every
 * output), and broadcast: ranks must not each look at a shared file system that may lag or change
 * under them (rank 0 writing the file they test). */
static int stage_todo(ofa_topo *t, const ofa_config *c, const char *name, int *todo)
{
    *todo = 0;
    if (t->rank == 0) {
        char path[OFA_PATH_MAX + 64];
        ofa_run_path(path, sizeof path, c, name);
        *todo = !ofa_file_exists(path);
    }
    return ofa_topo_bcast_int(t, todo);
}

int ofa_job_supernet(ofa_topo *t, const ofa_config *c, ofa_supernet_result *res)
{
    int rc;
    if (t->role == OFA_ROLE_EVALUATOR) {
        memset(res, 0, sizeof *res);
        rc = ofa_monitor_loop(c, t);
    } else {
        rc = ofa_supernet_train(c, t, res);
    }
    /* no rank goes on (to the search, which opens supernet.h5) before rank 0's final save has
     * succeeded or failed */
    return ofa_topo_agree(t, rc);
}

int ofa_job_run(ofa_job *j, ofa_run_result *r)
{
    ofa_topo *t = &j->t;
    const ofa_config *c = &j->c;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < 4; i++) r->status[i] = "skipped (output exists)";
    int todo = 0, rc = stage_todo(t, c, OFA_RUN_TEACHER, &todo);
    if (rc == 0 && todo) {
        rc = rank0_stage(t, teacher_fn, c, &r->teacher);
        r->status[0] = t->rank == 0 && r->teacher.resumed_from ? "done (resumed)" : "done";
    }
    if (rc == 0) rc = stage_todo(t, c, OFA_RUN_REORDERED, &todo);
    if (rc == 0 && todo) {
        rc = rank0_stage(t, reorder_fn, c, NULL);
        r->status[1] = "done";
    }
    if (rc == 0) rc = stage_todo(t, c, OFA_RUN_SUPERNET, &todo);
    if (rc == 0 && todo) {
        rc = ofa_job_supernet(t, c, &r->supernet);
        r->status[2] = r->supernet.resumed_from ? "done (resumed)" : "done";
    }
    if (rc == 0 && !c->search.enabled) r->status[3] = "disabled (search.enabled)";
    if (rc == 0 && c->search.enabled) rc = stage_todo(t, c, OFA_RUN_PARETO_CSV, &todo);
    if (rc == 0 && c->search.enabled && todo) {
        ofa_search_opts o;
        ofa_search_opts_default(&o);
        rc = ofa_search_run(c, t, &o, &r->search);
        r->status[3] = "done";
        r->searched = 1;
    }
    return rc;
}
