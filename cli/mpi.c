/* cli/mpi: the commands that run as one MPI job (ofa supernet, ofa run): topology, the config read
 * on rank 0 and broadcast as text, agreement on errors, signals. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/topo.h"
#include "supernet/reorder.h"
#include "trainers/supernet.h"
#include "trainers/teacher.h"

/* FNV-1a of the build id: every rank must run the same build */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* Everything a job needs before its stages: MPI, roles, the same config on every rank, threads.
 * On failure every rank returns the same status. */
static int job_start(ofa_topo *t, ofa_config *c, const cli_config_args *a)
{
    OFA_TRY(ofa_topo_init(t, NULL, NULL));
    uint64_t h = hash_str(cli_build_id()), lo = h, hi = h;
    int rc = 0;
    if (MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, t->world) != MPI_SUCCESS ||
        MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, t->world) != MPI_SUCCESS)
        rc = OFA_ERR(OFA_E_MPI, "rank %d: MPI_Allreduce (build check) failed", t->rank);
    else if (lo != hi)
        rc = OFA_ERR(OFA_E_USAGE, "the ranks of this job run different ofa builds (rank %d: %s)", t->rank,
                     cli_build_id());
    if (rc < 0) return rc;
    char *text = NULL;
    size_t len = 0;
    rc = ofa_topo_bcast_file(t, a->config, &text, &len);
    if (rc == 0) rc = ofa_config_parse(c, text, len, a->config, a->sets, a->n_sets);
    free(text);
    rc = ofa_topo_agree(t, rc);
    if (rc == 0) rc = ofa_topo_agree(t, ofa_topo_split(t, c->mpi.evaluators, c->mpi.coordinator_trains));
    if (rc < 0) return rc;
    int lvl = ofa_log_level_parse(c->experiment.log_level);
    if (lvl >= 0 && ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(lvl);
    int threads = c->experiment.threads > 0 || getenv("OFA_THREADS") ? ofa_resolve_threads(c->experiment.threads)
                                                                     : ofa_topo_default_threads(t);
    rc = ofa_topo_agree(t, threads < 0 ? threads : 0);
    if (rc < 0) return rc;
    ofa_set_blas_threads(threads);
    if (t->size > 1)
        OFA_INFO("job: %d ranks: coordinator%s, %d trainer%s, %d evaluator%s; %d BLAS thread%s per rank", t->size,
                 c->mpi.coordinator_trains ? " (trains too)" : "", t->size - 1 - t->n_evaluators,
                 t->size - 1 - t->n_evaluators == 1 ? "" : "s", t->n_evaluators, t->n_evaluators == 1 ? "" : "s",
                 threads, threads == 1 ? "" : "s");
    if (t->rank == 0) rc = cli_write_resolved_config(c, a->config, threads);
    return ofa_topo_agree(t, rc);
}

/* A stage that runs on rank 0 alone while the others wait without spinning. */
static int rank0_stage(ofa_topo *t, int (*fn)(const ofa_config *, void *), const ofa_config *c, void *ctx)
{
    int rc = t->rank == 0 ? fn(c, ctx) : 0;
    MPI_Request req;
    if (MPI_Ibarrier(t->world, &req) != MPI_SUCCESS) return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Ibarrier failed", t->rank);
    int wrc = ofa_topo_wait(&req, "MPI_Ibarrier (waiting for rank 0)");
    return ofa_topo_agree(t, rc < 0 ? rc : wrc);
}

static int teacher_fn(const ofa_config *c, void *ctx) { return ofa_teacher_train(c, ctx); }
static int reorder_fn(const ofa_config *c, void *ctx)
{
    (void)ctx;
    return ofa_reorder_run(c);
}

static int job_end(ofa_topo *t, int rc)
{
    ofa_topo_finalize(t);
    return rc;
}

int cmd_supernet(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "supernet"));
    ofa_signals_install();
    ofa_topo t;
    ofa_config c;
    int rc = job_start(&t, &c, &a);
    ofa_supernet_result res;
    if (rc == 0) rc = ofa_supernet_run(&c, &t, &res);
    if (rc == 0 && t.rank == 0)
        printf("supernet: %" PRId64 " steps%s (%.0fs) -> %s/supernet.h5\n", res.steps,
               res.resumed_from ? " (resumed)" : "", res.seconds, c.experiment.output_dir);
    return job_end(&t, rc);
}

static int exists_in(const ofa_config *c, const char *name)
{
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", c->experiment.output_dir, name);
    return ofa_file_exists(path);
}

int cmd_run(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "run"));
    ofa_signals_install();
    ofa_topo t;
    ofa_config c;
    int rc = job_start(&t, &c, &a);
    const char *status[3] = {"skipped (output exists)", "skipped (output exists)", "skipped (output exists)"};
    ofa_teacher_result tr;
    memset(&tr, 0, sizeof tr);
    if (rc == 0 && !exists_in(&c, "teacher.h5")) {
        rc = rank0_stage(&t, teacher_fn, &c, &tr);
        status[0] = "done";
    }
    if (rc == 0 && !exists_in(&c, "teacher_reordered.h5")) {
        rc = rank0_stage(&t, reorder_fn, &c, NULL);
        status[1] = "done";
    }
    ofa_supernet_result sr;
    memset(&sr, 0, sizeof sr);
    if (rc == 0 && !exists_in(&c, "supernet.h5")) {
        rc = ofa_supernet_run(&c, &t, &sr);
        status[2] = sr.resumed_from ? "done (resumed)" : "done";
    }
    if (rc == 0 && t.rank == 0) {
        printf("\nofa run %s (%d rank%s):\n", a.config, t.size, t.size == 1 ? "" : "s");
        printf("  %-9s %-26s %s/teacher.h5\n", "teacher", status[0], c.experiment.output_dir);
        printf("  %-9s %-26s %s/teacher_reordered.h5\n", "reorder", status[1], c.experiment.output_dir);
        printf("  %-9s %-26s %s/supernet.h5\n", "supernet", status[2], c.experiment.output_dir);
    }
    return job_end(&t, rc);
}
