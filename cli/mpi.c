/* cli/mpi: the commands that run as one MPI job (ofa supernet, ofa search, ofa run): their options
 * and printed summaries; the job itself is cli/job. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "cli/job.h"
#include "core/runfiles.h"

int cmd_supernet(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "supernet"));
    ofa_signals_install();
    ofa_job j;
    cli_stage_check k = {OFA_STAGE_SUPERNET, a.force, NULL, 1, NULL, NULL, NULL, NULL, 0};
    int rc = ofa_job_start(&j, a.config, a.sets, a.n_sets, a.cmd, cli_build_id(), cli_stage_precheck, &k);
    ofa_supernet_result res;
    if (rc == 0) rc = ofa_topo_bcast_int(&j.t, &k.flags);
    if (rc == 0) rc = ofa_job_supernet(&j.t, &j.c, k.flags, &res);
    if (rc == 0 && j.t.rank == 0)
        printf("supernet: %" PRId64 " steps%s (%.0fs) -> %s/supernet.h5\n", res.steps,
               res.resumed_from ? " (resumed)" : "", res.seconds, j.c.experiment.output_dir);
    return ofa_job_end(&j, rc);
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
        char speedup[32] = "       -"; /* the teacher's latency unknown (a family that does not time its teacher) */
        if (r->latency_ms[b] > 0 && r->teacher_latency_ms > 0)
            snprintf(speedup, sizeof speedup, "%7.2fx", r->teacher_latency_ms / r->latency_ms[b]);
        char dev[32] = "       -"; /* not scored: the winners were not exported (--no-export) */
        if (!isnan(r->dev_metric[b])) snprintf(dev, sizeof dev, "%8.4f", r->dev_metric[b]);
        printf("%s%-10.3g %-36s %8.4f %s %8.3gms %8.2fM %s\n", prefix, r->budgets[b], r->arch[b], r->val_metric[b], dev,
               r->latency_ms[b], (double)r->params[b] / 1e6, speedup);
    }
    if (r->teacher_latency_ms > 0)
        printf("%s%-10s %-36s %8s %8.4f %8.3gms %8.2fM %7.2fx\n", prefix, "teacher", "(full model)", "",
               r->teacher_dev, r->teacher_latency_ms, (double)r->teacher_params / 1e6, 1.0);
    printf("%sval: %s\n%sdev: %s\n", prefix, r->val_rows, prefix, r->dev_rows);
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

typedef struct search_check {
    cli_stage_check k;
    const ofa_search_opts *o;
    char out[OFA_PATH_MAX + 64], fp[OFA_PATH_MAX + 64], extra[256];
    ofa_config cc; /* the config with --latency-ms */
} search_check;

static int search_precheck(const ofa_config *c, void *ctx)
{
    search_check *s = ctx;
    const char *pre = s->o->out_prefix ? s->o->out_prefix : "";
    snprintf(s->out, sizeof s->out, "%s/%s%s", c->experiment.output_dir, pre, OFA_RUN_PARETO_CSV);
    snprintf(s->fp, sizeof s->fp, "%s/%s%s", c->experiment.output_dir, pre, OFA_RUN_SEARCH_STATE);
    s->cc = *c;
    if (s->o->budgets) {
        s->cc.search.n_budgets = s->o->n_budgets;
        memcpy(s->cc.search.budgets_ms, s->o->budgets, (size_t)s->o->n_budgets * sizeof *s->o->budgets);
    }
    ofa_search_fingerprint_extra(s->o, c, s->extra, sizeof s->extra);
    s->k.output = s->out;
    s->k.fpfile = s->fp;
    s->k.extra = s->extra;
    s->k.cfg = &s->cc;
    return cli_stage_precheck(c, &s->k);
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
            OFA_TRY(ofa_int_arg(s, v, 0, INT32_MAX, &sv));
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
    /* the finished output is <prefix>pareto.csv, its fingerprint in <prefix>search.h5; the search's
     * own options and budgets count; a supernet named by --checkpoint is the user's choice */
    search_check sc;
    memset(&sc, 0, sizeof sc);
    sc.k = (cli_stage_check){OFA_STAGE_SEARCH, a.force, o.checkpoint, !o.checkpoint, NULL, NULL, NULL, NULL, 0};
    sc.o = &o;
    ofa_job j;
    int rc = ofa_job_start(&j, a.config, a.sets, a.n_sets, a.cmd, cli_build_id(), search_precheck, &sc);
    if (rc == 0) rc = ofa_topo_bcast_int(&j.t, &sc.k.flags);
    o.flags = sc.k.flags;
    ofa_search_result r;
    if (rc == 0) rc = ofa_search_run(&j.c, &j.t, &o, &r);
    const ofa_config c = j.c;
    if (rc == 0 && j.t.rank == 0) {
        printf("search (%s, %lld archs evaluated, %.0fs): %s/%spareto.csv, %spareto.svg\n",
               o.random ? "random" : "evolution", (long long)r.evaluations, r.seconds, c.experiment.output_dir,
               o.out_prefix ? o.out_prefix : "", o.out_prefix ? o.out_prefix : "");
        print_search(&r, "  ");
    }
    return ofa_job_end(&j, rc);
}

int cmd_run(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "run"));
    ofa_signals_install();
    ofa_job j;
    int rc = ofa_job_start(&j, a.config, a.sets, a.n_sets, a.cmd, cli_build_id(), ofa_job_run_precheck, &a.force);
    j.force = a.force;
    ofa_run_result r;
    if (rc == 0) rc = ofa_job_run(&j, &r);
    const ofa_config *c = &j.c;
    if (rc == 0 && j.t.rank == 0) {
        printf("\nofa run %s (%d rank%s):\n", a.config, j.t.size, j.t.size == 1 ? "" : "s");
        for (int i = 0; i < r.n_plan; i++) {
            const int st = r.plan[i];
            printf("  %-9s %-26s %s/%s\n", ofa_stage_name(st), r.status[st], c->experiment.output_dir,
                   st == OFA_STAGE_SEARCH ? "pareto.csv, pareto.svg, subnets/" : ofa_stage_file(st));
        }
        if (r.searched) {
            printf("\nbest subnet per latency budget (%s; val = the search's validation rows, dev = the exported "
                   "subnet re-scored on the reporting rows):\n",
                   r.search.metric);
            print_search(&r.search, "  ");
        }
    }
    return ofa_job_end(&j, rc);
}
