/* coordinator/job: the MPI job of `ofa supernet`, `ofa search` and `ofa run`, and what rank 0 does
 * for a command before its stages.
 *
 *   ofa_job j;
 *   rc = ofa_job_start(&j, config, sets, n_sets, "run", build_id);  // MPI, roles, the config read on
 *                                                                    // rank 0 and broadcast, threads,
 *                                                                    // the output folder locked,
 *                                                                    // config.yaml written
 *   if (rc == 0) rc = ofa_job_run(&j, &result);                      // the run plan (ofa run)
 *   return ofa_job_end(&j, rc);
 *
 * The run plan: teacher -> reorder -> supernet -> search, each stage run when its output is
 * missing.  Whether a stage runs is decided once, on rank 0 (which writes every output), and
 * broadcast; every stage ends with an agreement on all ranks after rank 0's outputs are durably
 * written, so no rank starts a stage before the previous one is done.  Stages that run on rank 0
 * alone (teacher, reorder) have the other ranks wait without spinning a core.  Collective unless
 * said otherwise.
 */
#ifndef OFA_COORDINATOR_JOB_H
#define OFA_COORDINATOR_JOB_H

#include "core/config.h"
#include "core/dirlock.h"
#include "core/topo.h"
#include "evaluator/monitor.h"
#include "evaluator/search.h"
#include "trainers/supernet.h"
#include "trainers/teacher.h"

typedef struct ofa_job {
    ofa_topo t;
    ofa_config c;
    ofa_dirlock lock; /* rank 0: <output_dir>/.ofa.lock */
    int threads;      /* BLAS threads per rank */
} ofa_job;

/* Everything a job needs before its stages; on failure every rank returns the same status.
 * build_id must be the same on every rank (a different build on one rank fails the job). */
int ofa_job_start(ofa_job *j, const char *config_path, const char *const *sets, int n_sets, const char *cmd,
                  const char *build_id);
/* Releases the lock and finalizes MPI; returns rc. */
int ofa_job_end(ofa_job *j, int rc);

/* What ofa run did, stage by stage (rank 0's view; "skipped (output exists)", "done", ...). */
typedef struct ofa_run_result {
    const char *status[4]; /* teacher, reorder, supernet, search */
    ofa_teacher_result teacher;
    ofa_supernet_result supernet;
    ofa_search_result search;
    int searched;
} ofa_run_result;

/* The run plan of `ofa run` (see above). */
int ofa_job_run(ofa_job *j, ofa_run_result *r);

/* The supernet stage on every rank: training ranks train (trainers/supernet), evaluator ranks score
 * its checkpoints (evaluator/monitor); it ends with an agreement after rank 0's final save. */
int ofa_job_supernet(ofa_topo *t, const ofa_config *c, ofa_supernet_result *res);

/* Not collective (rank 0, or a single-process command): <output_dir> created and its lock
 * (core/dirlock) taken for `ofa cmd`, so a second run on the same folder fails at once, before
 * anything is written there; and the resolved config written to <output_dir>/config.yaml (echoed
 * to the log at debug level only: --verbose). */
int ofa_lock_output(const ofa_config *c, const char *cmd, ofa_dirlock *lock);
int ofa_write_resolved_config(const ofa_config *c, const char *source, int threads);

#endif
