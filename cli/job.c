#include "cli/job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "models/registry.h"
#include "trainers/reorder.h"

int ofa_lock_output(const ofa_config *c, const char *cmd, ofa_dirlock *lock)
{
    OFA_TRY(ofa_mkdirs(c->experiment.output_dir));
    return ofa_dirlock_acquire(lock, c->experiment.output_dir, cmd);
}

int ofa_write_resolved_config(const ofa_config *c, const char *source, int threads)
{
    OFA_INFO("ofa %s: experiment %s, config %s, run id %s, %d BLAS thread%s", OFA_VERSION, c->experiment.name, source,
             ofa_run_id(), threads, threads == 1 ? "" : "s");
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
                  const char *build_id, int (*precheck)(const ofa_config *c, void *ctx), void *ctx)
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
        if (rc == 0 && precheck) rc = precheck(c, ctx);
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

static int reorder_fn(const ofa_config *c, void *ctx)
{
    (void)ctx;
    return ofa_reorder_run(c);
}

/* The fingerprint `stage` gets from c with the default options of `ofa run` (*out malloc'd). */
static int run_fingerprint(const ofa_config *c, int stage, char **out)
{
    char extra[256] = "";
    if (stage == OFA_STAGE_SEARCH) {
        ofa_search_opts o;
        ofa_search_opts_default(&o);
        ofa_search_fingerprint_extra(&o, c, extra, sizeof extra);
    }
    return ofa_fingerprint_make(out, c, stage, NULL, extra);
}

/* Does `stage` still need to be made?  Its output missing: yes.  Present: reused when its
 * fingerprint agrees with the config (and its input is the file there now), else an error naming
 * the key, or with force recomputed (*flags gets OFA_STAGE_FRESH).  Decided once, on rank 0 (which
 * writes every output), and broadcast: ranks must not each look at a shared file system that may
 * lag or change under them (rank 0 writing the file they test). */
/* Rank 0: v[0] = stage to run, v[1] = its flags (see stage_todo) */
static int stage_decide(const ofa_config *c, int stage, int force, int v[2])
{
    int rc = 0;
    char path[OFA_PATH_MAX + 64], fpath[OFA_PATH_MAX + 64];
    ofa_run_path(path, sizeof path, c, stage == OFA_STAGE_SEARCH ? OFA_RUN_PARETO_CSV : ofa_stage_file(stage));
    ofa_run_path(fpath, sizeof fpath, c, ofa_stage_file(stage));
    v[0] = !ofa_file_exists(path);
    v[1] = force ? OFA_STAGE_FORCE : 0;
    if (v[0]) return 0;
    char *had = NULL, *want = NULL;
    if (ofa_file_exists(fpath)) rc = ofa_fingerprint_read(fpath, &had);
    if (rc == 0) rc = run_fingerprint(c, stage, &want);
    if (rc == 0)
        rc = ofa_fingerprint_check(path, had, want, 1,
                                   "; pass --force to recompute it (and the stages after it), or restore the setting",
                                   NULL);
    free(had);
    free(want);
    if (rc == OFA_E_CONFIG && force) {
        OFA_WARN("run: recomputing the %s stage (--force): %s", ofa_stage_name(stage), ofa_err_msg());
        ofa_err_clear();
        rc = 0;
        v[0] = 1;
        v[1] |= OFA_STAGE_FRESH;
    }
    return rc;
}

int ofa_job_run_precheck(const ofa_config *c, void *ctx)
{
    const int force = ctx ? *(const int *)ctx : 0;
    int plan[OFA_STAGE_COUNT];
    const int n = ofa_stage_plan(c, plan);
    /* a space that cannot fit the model: said now, not after the teacher has trained for hours */
    const ofa_family *fam = ofa_family_find(c->model.type);
    for (int i = 0; i < n && fam && fam->space_check_config; i++)
        if (plan[i] == OFA_STAGE_SUPERNET) OFA_TRY(fam->space_check_config(c));
    if (force) return ofa_config_model_init_check(c); /* every stage runs, the teacher's first */
    for (int i = 0; i < n; i++) {
        const int st = plan[i];
        if (st == OFA_STAGE_SEARCH && !c->search.enabled) break;
        int v[2];
        OFA_TRY(stage_decide(c, st, 0, v));
        if (v[0] && st == OFA_STAGE_TEACHER) OFA_TRY(ofa_config_model_init_check(c)); /* before config.yaml */
        if (v[0]) break; /* it runs: the stages after it are checked when their turn comes */
    }
    return 0;
}

static int stage_todo(ofa_topo *t, const ofa_config *c, int stage, int force, int *todo, int *flags)
{
    int v[2] = {0, 0}, rc = 0;
    if (t->rank == 0) rc = stage_decide(c, stage, force, v);
    rc = ofa_topo_agree(t, rc);
    if (rc == 0) rc = ofa_topo_bcast_int(t, &v[0]);
    if (rc == 0) rc = ofa_topo_bcast_int(t, &v[1]);
    *todo = v[0];
    *flags = v[1];
    return rc;
}

int ofa_stage_command_check(const ofa_config *c, int stage, int force, const char *input, int verify_input,
                            const char *output, const char *fpfile, const char *extra, int *flags)
{
    char out[OFA_PATH_MAX + 64], fp[OFA_PATH_MAX + 64], in[OFA_PATH_MAX + 64];
    if (output) snprintf(out, sizeof out, "%s", output);
    else ofa_run_path(out, sizeof out, c, ofa_stage_file(stage));
    if (fpfile) snprintf(fp, sizeof fp, "%s", fpfile);
    else snprintf(fp, sizeof fp, "%s", out);
    *flags = force ? OFA_STAGE_FORCE : 0;
    if (stage == OFA_STAGE_TEACHER) OFA_TRY(ofa_config_model_init_check(c)); /* before config.yaml is written */
    int rc = 0;
    /* the input: made from the settings this config gives it (whatever file it is) */
    const int prev = ofa_stage_prev(c, stage);
    if (prev >= 0 && verify_input) {
        if (input) snprintf(in, sizeof in, "%s", input);
        else ofa_run_path(in, sizeof in, c, ofa_stage_file(prev));
        if (ofa_file_exists(in)) { /* a missing input is the stage's own error */
            char *had = NULL, *want = NULL;
            rc = ofa_fingerprint_read(in, &had);
            if (rc == 0) rc = ofa_fingerprint_make(&want, c, prev, NULL, NULL);
            int whose = -1;
            if (rc == 0) rc = ofa_fingerprint_check(in, had, want, 0, "", &whose);
            free(had);
            free(want);
            if (rc == OFA_E_CONFIG) { /* say which output to remake: the one of the stage the setting is of */
                const int from = whose >= 0 ? whose : prev;
                char hint[OFA_PATH_MAX + 160];
                snprintf(hint, sizeof hint, "; remake %s first ('ofa %s %s --force'%s), or restore the setting",
                         ofa_stage_file(from), ofa_stage_name(from), c->source,
                         from != prev ? ", then the stages after it" : "");
                return ofa_err_suffix(rc, hint);
            }
            if (rc < 0) return rc;
        }
    }
    /* a finished output: never overwritten without --force */
    if (ofa_file_exists(out)) {
        char *had = NULL, *want = NULL;
        if (ofa_file_exists(fp)) rc = ofa_fingerprint_read(fp, &had);
        if (rc == 0) rc = ofa_fingerprint_make(&want, c, stage, input, extra);
        if (rc < 0) {
            free(had);
            free(want);
            return rc;
        }
        char why[1024] = "it was made from these settings";
        if (ofa_fingerprint_check(out, had, want, 1, "", NULL) < 0)
            snprintf(why, sizeof why, "%s", ofa_err_msg());
        ofa_err_clear();
        free(had);
        free(want);
        if (!force)
            return OFA_ERR(OFA_E_CONFIG, "%s is finished (%s); 'ofa %s' does not overwrite it: pass --force to "
                                         "recompute it",
                           out, why, ofa_stage_name(stage));
        OFA_WARN("%s: recomputing %s (--force; %s)", ofa_stage_name(stage), out, why);
        *flags |= OFA_STAGE_FRESH;
    }
    return 0;
}

int ofa_job_supernet(ofa_topo *t, const ofa_config *c, int flags, ofa_supernet_result *res)
{
    int rc;
    if (t->role == OFA_ROLE_EVALUATOR) {
        memset(res, 0, sizeof *res);
        rc = ofa_monitor_loop(c, t);
    } else {
        rc = ofa_supernet_train(c, t, flags, res);
    }
    /* no rank goes on (to the search, which opens supernet.h5) before rank 0's final save has
     * succeeded or failed */
    return ofa_topo_agree(t, rc);
}

/* A training stage (teacher, student, prune): data-parallel over the training ranks; evaluators
 * wait at the agreement. */
static int train_stage(ofa_job *j, int stage, int flags, ofa_run_result *r)
{
    ofa_topo *t = &j->t;
    ofa_teacher_result *res = stage == OFA_STAGE_TEACHER ? &r->teacher : &r->trained[stage];
    int rc = t->role == OFA_ROLE_EVALUATOR ? 0 : ofa_train_stage(&j->c, t, stage, flags, res);
    rc = ofa_topo_agree(t, rc);
    r->status[stage] = t->rank == 0 && res->resumed_from ? "done (resumed)" : "done";
    return rc;
}

int ofa_job_run(ofa_job *j, ofa_run_result *r)
{
    ofa_topo *t = &j->t;
    const ofa_config *c = &j->c;
    memset(r, 0, sizeof *r);
    r->n_plan = ofa_stage_plan(c, r->plan);
    for (int i = 0; i < OFA_STAGE_COUNT; i++) r->status[i] = "reused (same settings)";
    const ofa_family *fam = ofa_family_find(c->model.type);
    if (!fam)
        return ofa_topo_agree(t, OFA_ERR(OFA_E_CONFIG, "%s: model.type '%s' is not a model family this build knows",
                                         c->source, c->model.type));
    /* what the family's stages need first (a CycleGAN's FID feature net), made on rank 0 */
    int rc = ofa_topo_agree(t, t->rank == 0 ? fam->run_prepare(c) : 0);
    for (int i = 0; i < r->n_plan && rc == 0; i++) {
        const int st = r->plan[i];
        if (st == OFA_STAGE_SEARCH && !c->search.enabled) {
            r->status[st] = "disabled (search.enabled)";
            break;
        }
        int todo = 0, flags = 0;
        rc = stage_todo(t, c, st, j->force, &todo, &flags);
        if (rc < 0 || !todo) continue;
        switch (st) {
        case OFA_STAGE_TEACHER:
        case OFA_STAGE_STUDENT:
        case OFA_STAGE_PRUNE: rc = train_stage(j, st, flags, r); break;
        case OFA_STAGE_REORDER:
            rc = rank0_stage(t, reorder_fn, c, NULL);
            r->status[st] = "done";
            break;
        case OFA_STAGE_SUPERNET:
            rc = ofa_job_supernet(t, c, flags, &r->supernet);
            r->status[st] = r->supernet.resumed_from ? "done (resumed)" : "done";
            break;
        case OFA_STAGE_SEARCH: {
            ofa_search_opts o;
            ofa_search_opts_default(&o);
            o.flags = flags;
            rc = ofa_search_run(c, t, &o, &r->search);
            r->status[st] = "done";
            r->searched = 1;
            break;
        }
        default: OFA_ASSERT(!"a stage of no plan");
        }
    }
    return rc;
}
