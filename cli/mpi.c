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
#include "evaluator/search.h"
#include "models/bert/importance.h"
#include "trainers/reorder.h"
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
    if (ofa_log_get_level() == OFA_LOG_INFO) ofa_log_set_level(c->experiment.log_level);
    if (t->rank == 0) cli_warn_config(c); /* every rank parsed the same text */
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
    return ofa_topo_agree(t, t->rank == 0 ? fn(c, ctx) : 0);
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

/* the search table users come for */
static void print_search(const ofa_search_result *r, const char *prefix)
{
    printf("%s%-10s %-36s %8s %8s %10s %9s %8s\n", prefix, "budget ms", "arch", "val", "dev", "latency", "params",
           "speedup");
    for (int b = 0; b < r->n_budgets; b++) {
        if (!r->arch[b][0]) {
            printf("%s%-10.3g %-36s\n", prefix, r->budgets[b], "(no evaluated arch met it)");
            continue;
        }
        printf("%s%-10.3g %-36s %8.4f %8.4f %8.3gms %8.2fM %7.2fx\n", prefix, r->budgets[b], r->arch[b],
               r->val_metric[b], r->dev_metric[b], r->latency_ms[b], (double)r->params[b] / 1e6,
               r->latency_ms[b] > 0 ? r->teacher_latency_ms / r->latency_ms[b] : 0.0);
    }
    if (r->teacher_latency_ms > 0)
        printf("%s%-10s %-36s %8s %8.4f %8.3gms %8.2fM %7.2fx\n", prefix, "teacher", "(full model)", "",
               r->teacher_dev, r->teacher_latency_ms, (double)r->teacher_params / 1e6, 1.0);
}

/* "2,4,8" -> budgets */
static int parse_budgets(const char *text, double *out, int *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v > 0) || *n == OFA_MAX_LIST)
            return OFA_ERR(OFA_E_USAGE, "--latency-ms '%s': expected up to %d positive numbers separated by commas",
                           text, OFA_MAX_LIST);
        out[(*n)++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return OFA_ERR(OFA_E_USAGE, "--latency-ms '%s': unexpected '%c'", text, *p);
    }
    if (*n == 0) return OFA_ERR(OFA_E_USAGE, "--latency-ms needs at least one budget");
    return 0;
}

int cmd_search(int argc, char **argv)
{
    ofa_search_opts o;
    ofa_search_opts_default(&o);
    double budgets[OFA_MAX_LIST];
    /* search's own options first; the rest (CONFIG, --set, --log-level) as for any stage */
    char *rest[CLI_MAX_SETS * 2 + 8];
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--checkpoint")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--checkpoint needs a supernet file");
            o.checkpoint = v;
            i++;
        } else if (!strcmp(s, "--latency-ms")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--latency-ms needs budgets, e.g. 2,4,8");
            OFA_TRY(parse_budgets(v, budgets, &o.n_budgets));
            o.budgets = budgets;
            i++;
        } else if (!strcmp(s, "--random")) {
            o.random = 1;
        } else if (!strcmp(s, "--no-export")) {
            o.export_winners = 0;
        } else if (!strcmp(s, "--seed")) {
            long sv;
            OFA_TRY(cli_int_arg(s, v, 0, INT32_MAX, &sv));
            o.seed = sv;
            i++;
        } else if (!strcmp(s, "--prefix")) {
            if (!v || strchr(v, '/')) return OFA_ERR(OFA_E_USAGE, "--prefix needs a file name prefix (no '/')");
            o.out_prefix = v;
            i++;
        } else if (nrest < (int)(sizeof rest / sizeof *rest)) {
            rest[nrest++] = argv[i];
        }
    }
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, nrest, rest, "search"));
    ofa_signals_install();
    ofa_topo t;
    ofa_config c;
    int rc = job_start(&t, &c, &a);
    ofa_search_result r;
    if (rc == 0) rc = ofa_search_run(&c, &t, &o, &r);
    if (rc == 0 && t.rank == 0) {
        printf("search (%s, %lld archs evaluated, %.0fs): %s/%spareto.csv, %spareto.svg\n",
               o.random ? "random" : "evolution", (long long)r.evaluations, r.seconds, c.experiment.output_dir,
               o.out_prefix ? o.out_prefix : "", o.out_prefix ? o.out_prefix : "");
        print_search(&r, "  ");
    }
    return job_end(&t, rc);
}

/* Does stage output `name` still need to be made?  Decided once, on rank 0 (which writes every
 * output), and broadcast: ranks must not each look at a shared file system that may lag or change
 * under them (rank 0 writing the file they test). Collective. */
static int stage_todo(ofa_topo *t, const ofa_config *c, const char *name, int *todo)
{
    *todo = 0;
    if (t->rank == 0) {
        char path[OFA_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s", c->experiment.output_dir, name);
        *todo = !ofa_file_exists(path);
    }
    return ofa_topo_bcast_int(t, todo);
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
    int todo = 0;
    if (rc == 0) rc = stage_todo(&t, &c, "teacher.h5", &todo);
    if (rc == 0 && todo) {
        rc = rank0_stage(&t, teacher_fn, &c, &tr);
        status[0] = t.rank == 0 && tr.resumed_from ? "done (resumed)" : "done";
    }
    if (rc == 0) rc = stage_todo(&t, &c, "teacher_reordered.h5", &todo);
    if (rc == 0 && todo) {
        rc = rank0_stage(&t, reorder_fn, &c, NULL);
        status[1] = "done";
    }
    ofa_supernet_result sr;
    memset(&sr, 0, sizeof sr);
    if (rc == 0) rc = stage_todo(&t, &c, "supernet.h5", &todo);
    if (rc == 0 && todo) {
        rc = ofa_supernet_run(&c, &t, &sr);
        status[2] = sr.resumed_from ? "done (resumed)" : "done";
    }
    ofa_search_result srch;
    memset(&srch, 0, sizeof srch);
    const char *search_status = "skipped (output exists)";
    int searched = 0;
    if (rc == 0 && !c.search.enabled) search_status = "disabled (search.enabled)";
    if (rc == 0 && c.search.enabled) rc = stage_todo(&t, &c, "pareto.csv", &todo);
    if (rc == 0 && c.search.enabled && todo) {
        ofa_search_opts o;
        ofa_search_opts_default(&o);
        rc = ofa_search_run(&c, &t, &o, &srch);
        search_status = "done";
        searched = 1;
    }
    if (rc == 0 && t.rank == 0) {
        printf("\nofa run %s (%d rank%s):\n", a.config, t.size, t.size == 1 ? "" : "s");
        printf("  %-9s %-26s %s/teacher.h5\n", "teacher", status[0], c.experiment.output_dir);
        printf("  %-9s %-26s %s/teacher_reordered.h5\n", "reorder", status[1], c.experiment.output_dir);
        printf("  %-9s %-26s %s/supernet.h5\n", "supernet", status[2], c.experiment.output_dir);
        printf("  %-9s %-26s %s/pareto.csv, pareto.svg, subnets/\n", "search", search_status, c.experiment.output_dir);
        if (searched) {
            printf("\nbest subnet per latency budget (%s; val = held-out train, dev = exported subnet re-scored):\n",
                   srch.metric);
            print_search(&srch, "  ");
        }
    }
    return job_end(&t, rc);
}
