/* cli/job: the MPI job of `ofa supernet`, `ofa search` and `ofa run`, and what rank 0 does
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
 * The run plan (ofa_stage_plan): teacher -> reorder -> supernet -> search for BERT, teacher ->
 * student -> prune -> supernet -> search for a family with student stages; each stage run when its output is
 * missing, and reused when the output's fingerprint (coordinator/fingerprint: the settings and the
 * input it was made from) agrees with the config; an output made from other settings stops the run
 * (OFA_E_CONFIG naming the key, its old and new value, and --force), or with force is recomputed
 * with every stage after it.  Whether a stage runs is decided once, on rank 0 (which writes every
 * output), and broadcast; every stage ends with an agreement on all ranks after rank 0's outputs are durably
 * written, so no rank starts a stage before the previous one is done.  The training stages
 * (teacher, student, prune) are data-parallel over the training ranks; reorder runs on rank 0
 * alone while the other ranks wait without spinning a core.  Collective unless
 * said otherwise.
 */
#ifndef OFA_CLI_JOB_H
#define OFA_CLI_JOB_H

#include "core/config.h"
#include "core/dirlock.h"
#include "core/topo.h"
#include "coordinator/fingerprint.h"
#include "evaluator/monitor.h"
#include "evaluator/search.h"
#include "trainers/supernet.h"
#include "trainers/teacher.h"

typedef struct ofa_job {
    ofa_topo t;
    ofa_config c;
    ofa_dirlock lock; /* rank 0: <output_dir>/.ofa.lock */
    int threads;      /* BLAS threads per rank */
    int force;        /* --force: recompute outputs made from other settings (run), overwrite a finished
                       * output (stage commands) */
} ofa_job;

/* Everything a job needs before its stages; on failure every rank returns the same status.
 * build_id must be the same on every rank (a different build on one rank fails the job).
 * precheck (may be NULL) runs on rank 0 after the output folder is locked and before config.yaml is
 * written there, so a command refused for what the folder holds leaves it as it was. */
int ofa_job_start(ofa_job *j, const char *config_path, const char *const *sets, int n_sets, const char *cmd,
                  const char *build_id, int (*precheck)(const ofa_config *c, void *ctx), void *ctx);
/* Releases the lock and finalizes MPI; returns rc. */
int ofa_job_end(ofa_job *j, int rc);

/* What ofa run did, stage by stage (rank 0's view; "reused (same settings)", "done", ...). */
typedef struct ofa_run_result {
    int plan[OFA_STAGE_COUNT], n_plan; /* the family's run plan (ofa_stage_plan) */
    const char *status[OFA_STAGE_COUNT]; /* by enum ofa_stage */
    ofa_teacher_result teacher;
    ofa_teacher_result trained[OFA_STAGE_COUNT]; /* the student and prune stages' */
    ofa_supernet_result supernet;
    ofa_search_result search;
    int searched;
} ofa_run_result;

/* The run plan of `ofa run` (see above); j->force set by the caller. */
int ofa_job_run(ofa_job *j, ofa_run_result *r);
/* Rank 0, before `ofa run` writes config.yaml (an ofa_job_start precheck; ctx: an int, force): the
 * outputs present up to the first missing one are checked as the run plan will check them, so a
 * run that would stop on one stops before it writes anything. */
int ofa_job_run_precheck(const ofa_config *c, void *ctx);

/* The supernet stage on every rank: training ranks train (trainers/supernet), evaluator ranks score
 * its checkpoints (evaluator/monitor); it ends with an agreement after rank 0's final save.
 * flags: OFA_STAGE_FORCE / OFA_STAGE_FRESH (coordinator/fingerprint.h). */
int ofa_job_supernet(ofa_topo *t, const ofa_config *c, int flags, ofa_supernet_result *res);

/* Before a stage command (ofa teacher / reorder / supernet / search) runs its stage; on rank 0 or
 * in a single-process command, not collective.  A finished output (`output`, NULL: the stage's
 * file in output_dir; its fingerprint in `fpfile`, NULL: the same) is never overwritten without
 * force: OFA_E_CONFIG saying whether it was made from the same settings or which key changed.
 * The stage's input (`input`, NULL: the previous stage's output in output_dir) must, with
 * verify_input, have been made from the settings the config gives it: OFA_E_CONFIG naming the key
 * and how to remake it.  `extra`: the command's own fingerprint lines (the search's options).
 * *flags: the flags for the stage (OFA_STAGE_FORCE with force, OFA_STAGE_FRESH when a finished
 * output is recomputed). */
int ofa_stage_command_check(const ofa_config *c, int stage, int force, const char *input, int verify_input,
                            const char *output, const char *fpfile, const char *extra, int *flags);

/* Not collective (rank 0, or a single-process command): <output_dir> created and its lock
 * (core/dirlock) taken for `ofa cmd`, so a second run on the same folder fails at once, before
 * anything is written there; and the resolved config written to <output_dir>/config.yaml (echoed
 * to the log at debug level only: --verbose). */
int ofa_lock_output(const ofa_config *c, const char *cmd, ofa_dirlock *lock);
int ofa_write_resolved_config(const ofa_config *c, const char *source, int threads);

#endif
