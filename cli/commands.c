/* cli/commands: ofa teacher, ofa reorder, ofa export, ofa eval (ofa inspect: cli/inspect.c). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/job.h"
#include "evaluator/latency.h"
#include "models/checkpoint.h"
#include "core/afile.h"
#include "core/dirlock.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/runfiles.h"
#include "evaluator/latency.h"
#include "coordinator/fingerprint.h"
#include "trainers/reorder.h"
#include "trainers/teacher.h"

/* Started by mpirun or srun (their environment says so)? */
static int under_launcher(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* A training stage (teacher, student, prune).  Started by mpirun/srun: an MPI job like ofa
 * supernet, the stage data-parallel over the training ranks.  Alone: one process without MPI (so a
 * config error costs no MPI start). */
static int train_command(int argc, char **argv, int stage)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, ofa_stage_name(stage)));
    ofa_signals_install(); /* SIGTERM/SIGUSR1: checkpoint at the next step, exit 99 */
    cli_stage_check k = {stage, a.force, NULL, 1, NULL, NULL, NULL, NULL, 0};
    ofa_teacher_result res;
    memset(&res, 0, sizeof res);
    int rc, rank = 0;
    ofa_config one, *c = &one;
    ofa_job j;
    ofa_dirlock lock = OFA_DIRLOCK_INIT;
    const int job = under_launcher();
    if (job) {
        rc = ofa_job_start(&j, a.config, a.sets, a.n_sets, a.cmd, cli_build_id(), cli_stage_precheck, &k);
        if (rc == 0) rc = ofa_topo_bcast_int(&j.t, &k.flags);
        if (rc == 0) {
            rc = j.t.role == OFA_ROLE_EVALUATOR ? 0 : ofa_train_stage(&j.c, &j.t, stage, k.flags, &res);
            rc = ofa_topo_agree(&j.t, rc);
        }
        c = &j.c;
        rank = j.t.rank;
    } else {
        rc = cli_load_config(&one, &a, &lock, cli_stage_precheck, &k);
        if (rc == 0) rc = ofa_train_stage(&one, NULL, stage, k.flags, &res);
    }
    if (rc == 0 && rank == 0)
        printf("%s (%s): best %s %.4f at step %" PRId64 " of %" PRId64 " (%.0fs) -> %s/%s\n", ofa_stage_name(stage),
               c->model.type, res.metric_name, res.best_metric, res.best_step, res.steps, res.seconds,
               c->experiment.output_dir, ofa_stage_file(stage));
    if (job) return ofa_job_end(&j, rc);
    ofa_dirlock_release(&lock);
    return rc;
}

int cmd_teacher(int argc, char **argv) { return train_command(argc, argv, OFA_STAGE_TEACHER); }
int cmd_student(int argc, char **argv) { return train_command(argc, argv, OFA_STAGE_STUDENT); }
int cmd_prune(int argc, char **argv) { return train_command(argc, argv, OFA_STAGE_PRUNE); }

/* --data DIR: the data folder of whichever family the file is (GLUE for BERT, Fashion-MNIST for a
 * cyclegan: each reads its own key) */
static void set_data_dir(ofa_config *c, const char *dir)
{
    snprintf(c->data.glue_dir, sizeof c->data.glue_dir, "%s", dir);
    snprintf(c->data.fmnist_dir, sizeof c->data.fmnist_dir, "%s", dir);
}

/* The exported model's dev score into meta (best_metric, metric_name); a missing data folder
 * leaves it unscored with a warning (the file is still written). */
static void export_score(const ofa_model_file *f, const ofa_model *sub, ofa_ckpt_meta *meta, ofa_score *s)
{
    const ofa_family *fam = ofa_model_family(sub);
    ofa_data *dev = NULL;
    if (f->data_note[0]) OFA_INFO("export: %s", f->data_note);
    int rc = fam->data_open(&dev, &f->cfg, sub, OFA_SPLIT_DEV, 0);
    if (rc == 0) rc = fam->score(sub, NULL, dev, s);
    if (dev) fam->data_free(dev);
    if (rc < 0 || !s->has_labels) {
        OFA_WARN("export: the subnet is written without a dev score: %s (--data DIR, the data folder, to score it)",
                 rc < 0 ? ofa_err_msg() : "the dev split has no labels");
        s->has_labels = 0;
        return;
    }
    meta->best_metric = s->metric;
    snprintf(meta->metric_name, sizeof meta->metric_name, "%s", s->name);
}

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *arch_text = NULL, *out = NULL, *data = NULL;
    int no_score = 0, force = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--arch") || !strcmp(s, "-o") || !strcmp(s, "--data")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            *(s[1] == 'o' ? &out : s[2] == 'a' ? &arch_text : &data) = v;
            i++;
        } else if (!strcmp(s, "--no-score")) {
            no_score = 1;
        } else if (!strcmp(s, "--force")) {
            force = 1;
        } else if (s[0] == '-') {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'export'", s);
        } else if (!ckpt) {
            ckpt = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!ckpt || !arch_text || !out) return OFA_ERR(OFA_E_USAGE, "'export' needs CHECKPOINT --arch ARCH -o OUT.h5");
    OFA_TRY(ofa_refuse_output_is_input("-o", out, ckpt));
    /* another subnet's file (or a teacher) under that name is kept, as import keeps its -o */
    if (ofa_file_exists(out) && !force) return OFA_ERR(OFA_E_USAGE, "%s exists; --force overwrites it", out);
    ofa_model_file f;
    OFA_TRY(ofa_model_file_open(&f, ckpt, OFA_KIND(OFA_CKPT_SUPERNET), "export needs a supernet (ofa supernet)", NULL));
    if (data) {
        set_data_dir(&f.cfg, data);
        f.data_note[0] = '\0';
    }
    ofa_arch a;
    ofa_model sub;
    memset(&sub, 0, sizeof sub);
    int rc = ofa_model_file_arch(&f, arch_text, &a);
    if (rc == 0) rc = ofa_model_family(&f.m)->model_export(&sub, &f.m, &a);
    if (rc == 0) {
        ofa_ckpt_meta meta;
        ofa_ckpt_meta_subnet(&meta, &f, &sub, &a);
        ofa_score s;
        memset(&s, 0, sizeof s);
        if (!no_score) export_score(&f, &sub, &meta, &s);
        rc = ofa_mkdirs_for(out); /* only now: a refused arch or input leaves no folder behind */
        if (rc == 0) rc = ofa_ckpt_save_model(out, &sub, &meta, NULL, NULL, NULL);
        if (rc == 0) {
            printf("exported %s from %s -> %s (%.2fM parameters", meta.arch, ckpt, out,
                   (double)ofa_arch_params(&f.m, &a) / 1e6);
            if (s.has_labels) printf(", dev %s %.4f", s.name, s.metric);
            printf(")\n");
        }
        ofa_ckpt_meta_free(&meta);
    }
    ofa_model_free(&sub);
    ofa_model_file_close(&f);
    return rc;
}

int cmd_reorder(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "reorder"));
    ofa_config c;
    ofa_dirlock lock = OFA_DIRLOCK_INIT;
    cli_stage_check k = {OFA_STAGE_REORDER, a.force, NULL, 1, NULL, NULL, NULL, NULL, 0};
    int rc = cli_load_config(&c, &a, &lock, cli_stage_precheck, &k);
    if (rc == 0) rc = ofa_reorder_run(&c);
    if (rc == 0)
        printf("reorder %s: %s -> %s/teacher_reordered.h5\n", c.data.task,
               c.reorder.enabled ? "heads and neurons sorted by importance" : "disabled, copied unpermuted",
               c.experiment.output_dir);
    ofa_dirlock_release(&lock);
    return rc;
}

typedef struct eval_ctx {
    const ofa_model_file *f;
    const ofa_family *fam;
    ofa_data *d;
    const char *ckpt, *split;
    ofa_jsonl log; /* <run folder>/metrics.jsonl (closed: not writable, then not logged) */
} eval_ctx;

/* "\"dev_accuracy\":0.79,\"dev_f1\":0.8," of the task's metrics (none without labels) */
static void metric_fields(char *buf, size_t n, const ofa_score *s, const char *split)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; s->has_labels && k < s->n_extra && used + 48 < n; k++)
        used += (size_t)snprintf(buf + used, n - used, "\"%s_%s\":%.6g,", split, s->extra_name[k], s->extra[k]);
}

/* Scores arch a (NULL = the whole model) and prints one line; `largest` says a is the supernet's
 * largest subnet, scored because no --arch was given. */
static int eval_one(eval_ctx *x, const ofa_arch *a, int largest)
{
    ofa_score s;
    OFA_TRY(x->fam->score(&x->f->m, a, x->d, &s));
    char text[OFA_ARCH_TEXT_MAX] = "", rows[192];
    if (a) ofa_arch_print(a, &x->f->space, text, sizeof text);
    if (largest) printf("%s (no --arch: its largest subnet %s)", x->ckpt, text);
    else printf("%s%s%s", x->ckpt, a ? " --arch " : "", text);
    x->fam->data_describe(x->d, rows, sizeof rows);
    printf(" %s %s (%s; %" PRId64 " examples, %.2fs)", x->fam->model_task(&x->f->m), x->split, rows, s.n, s.seconds);
    if (s.has_labels) {
        printf(": %s %.4f", s.name, s.metric);
        if (s.detail[0]) printf("  %s", s.detail);
    }
    printf("\n");
    char file[OFA_PATH_MAX], fields[512];
    ofa_json_escape(file, sizeof file, x->ckpt);
    metric_fields(fields, sizeof fields, &s, x->split);
    /* an exported subnet's arch is the one its file records */
    ofa_jsonl_write(&x->log,
                    "{\"stage\":\"eval\",\"file\":\"%s\",\"kind\":\"%s\",\"arch\":\"%s\",\"task\":\"%s\","
                    "\"split\":\"%s\",\"examples\":%" PRId64 ",%s\"seconds\":%.3f}",
                    file, x->f->meta.kind, a ? text : x->f->meta.arch, x->f->cfg.data.task, x->split, s.n, fields,
                    s.seconds);
    return 0;
}

/* The family's grid of archs (BERT: DynaBERT's depth x width table): every grid arch scored and its latency measured (as `ofa latency
 * --arch` does, with the file's search.latency settings); printed and written to grid.csv beside
 * the checkpoint. */
static int eval_grid(eval_ctx *x)
{
    const ofa_model_file *mf = x->f;
    int n = ofa_arch_grid(NULL, &mf->space, OFA_ELASTIC_ALL);
    ofa_arch *g = ofa_xmalloc((size_t)n * sizeof *g);
    ofa_arch_grid(g, &mf->space, OFA_ELASTIC_ALL);
    char path[OFA_PATH_MAX + 16];
    const char *slash = strrchr(x->ckpt, '/');
    snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - x->ckpt + 1) : 0, x->ckpt, OFA_RUN_GRID_CSV);
    ofa_afile af;
    int rc = ofa_afile_open(&af, path);
    if (rc < 0) {
        free(g);
        return rc;
    }
    FILE *f = af.f;
    int header = 0;
    ofa_latency_cfg lc;
    ofa_latency_cfg_from_config(&lc, &mf->cfg);
    lc.retries = 2;
    const int limit = x->fam->input_limit(&mf->m);
    if (limit > 0 && lc.seq_len > limit) lc.seq_len = limit;
    const int T = lc.seq_len;
    char tokens[32] = "";
    if (!x->fam->item_unit) snprintf(tokens, sizeof tokens, ", %d tokens", T);
    printf("latency: measured, median of %d runs after %d warm-up, batch %d%s, %d thread%s, %s kernels "
           "(the file's search.latency settings)\n",
           lc.repeats, lc.warmup, lc.batch, tokens, lc.threads, lc.threads == 1 ? "" : "s", ofa_latency_kernels(&lc));
    char cols[96], file[OFA_PATH_MAX];
    x->fam->grid_columns(&mf->m, NULL, cols, sizeof cols);
    const int cw = strlen(cols) > 20 ? (int)strlen(cols) : 20; /* the columns' names fit their column */
    ofa_json_escape(file, sizeof file, x->ckpt);
    for (int i = 0; i < n && rc == 0; i++) {
        ofa_score s;
        rc = x->fam->score(&mf->m, &g[i], x->d, &s);
        if (rc < 0) break;
        if (!header) {
            fprintf(f, "%s,arch,%s_%s,params,macs,latency_ms\n", cols, x->split, s.name);
            printf("%-*s %-34s %10s %10s %14s %12s\n", cw, cols, "arch", s.name, "params", "MACs", "latency ms");
            header = 1;
        }
        char text[OFA_ARCH_TEXT_MAX], vals[96];
        ofa_arch_print(&g[i], &mf->space, text, sizeof text);
        x->fam->grid_columns(&mf->m, &g[i], vals, sizeof vals);
        int64_t params = ofa_arch_params(&mf->m, &g[i]);
        int64_t macs = (int64_t)llround(ofa_arch_macs(&mf->m, &g[i], T));
        ofa_latency l;
        int lr = ofa_latency_measure(&mf->m, &mf->space, &g[i], &lc, &l);
        if (lr == OFA_E_RUNTIME) OFA_WARN("grid: %s (its figure is kept)", ofa_err_msg()); /* noisy */
        else if (lr < 0) rc = lr;
        if (rc < 0) break;
        printf("%-*s %-34s %10.4f %10" PRId64 " %14" PRId64 " %12.4g\n", cw, vals, text, s.metric, params, macs,
               l.median);
        fprintf(f, "%s,%s,%.6f,%" PRId64 ",%" PRId64 ",%.6g\n", vals, text, s.metric, params, macs, l.median);
        char fields[512];
        metric_fields(fields, sizeof fields, &s, x->split);
        ofa_jsonl_write(&x->log,
                        "{\"stage\":\"grid\",\"file\":\"%s\",\"arch\":\"%s\",\"task\":\"%s\",\"split\":\"%s\","
                        "\"examples\":%" PRId64 ",%s\"params\":%" PRId64 ",\"macs\":%" PRId64 ",\"latency_ms\":%.6g,"
                        "\"latency_spread\":%.4f}",
                        file, text, mf->cfg.data.task, x->split, s.n, fields, params, macs, l.median, l.spread);
    }
    free(g);
    if (rc == 0) rc = ofa_afile_commit(&af);
    else ofa_afile_abort(&af);
    if (rc == 0) {
        if (x->fam->item_unit) OFA_INFO("grid written to %s (MACs per %s)", path, x->fam->item_unit);
        else OFA_INFO("grid written to %s (MACs per example of %d tokens)", path, T);
    }
    return rc;
}

/* The rank agreement between the search's metric and the dev metric (docs/results.md): n random
 * archs of the supernet's space (seeded, distinct), each scored on the search's validation rows
 * (search.val_limit of them, as the search scores a candidate) and on the rows reported as dev
 * (search.dev_limit, as pareto.csv's dev_metric); Kendall's tau-b between the two, and between
 * parameter count and dev as a data-free baseline.  Printed, and written to agreement.csv beside
 * the checkpoint. */
static int eval_agreement(const ofa_model_file *mf, const ofa_config *c, const char *ckpt, int n, uint64_t seed)
{
    const ofa_family *fam = ofa_model_family(&mf->m);
    ofa_data *val = NULL, *dev = NULL;
    int rc = fam->data_open(&val, c, &mf->m, OFA_SPLIT_VAL, c->search.val_limit);
    if (rc == 0) rc = fam->data_open(&dev, c, &mf->m, OFA_SPLIT_DEV, c->search.dev_limit);
    if (rc == 0 && (fam->data_size(val) == 0 || fam->data_size(dev) == 0))
        rc = OFA_ERR(OFA_E_CONFIG, "%s: the validation or dev rows are empty (search.val_source, search.val_fraction)",
                     ckpt);
    char vrows[192] = "", drows[192] = "", path[OFA_PATH_MAX + 32];
    const char *slash = strrchr(ckpt, '/');
    snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - ckpt + 1) : 0, ckpt, OFA_RUN_AGREEMENT_CSV);
    ofa_arch *archs = ofa_xmalloc((size_t)n * sizeof *archs);
    double *vm = ofa_xmalloc((size_t)n * sizeof *vm), *dm = ofa_xmalloc((size_t)n * sizeof *dm),
           *pm = ofa_xmalloc((size_t)n * sizeof *pm);
    char(*text)[OFA_ARCH_TEXT_MAX] = ofa_xmalloc((size_t)n * sizeof *text);
    int got = 0;
    if (rc == 0) {
        fam->data_describe(val, vrows, sizeof vrows);
        fam->data_describe(dev, drows, sizeof drows);
        printf("agreement of the search metric with dev over %d random archs of %s (seed %llu)\n  val: %s\n  dev: %s\n",
               n, ckpt, (unsigned long long)seed, vrows, drows);
        ofa_rng rng;
        ofa_rng_keyed(&rng, seed, 0xa9ee, 0);
        /* distinct archs; a small space may hold fewer than n */
        for (int tries = 0; got < n && tries < 100 * n; tries++) {
            ofa_arch_random(&archs[got], &mf->space, OFA_ELASTIC_ALL, &rng);
            ofa_arch_print(&archs[got], &mf->space, text[got], sizeof text[got]);
            int dup = 0;
            for (int k = 0; k < got && !dup; k++) dup = !strcmp(text[k], text[got]);
            if (!dup) got++;
        }
        if (got < n) OFA_WARN("agreement: the space holds only %d distinct archs reachable in %d draws", got, 100 * n);
    }
    ofa_afile af;
    if (rc == 0) rc = ofa_afile_open(&af, path);
    if (rc == 0) {
        printf("  %-36s %10s %10s %10s\n", "arch", "params", "val", "dev");
        fprintf(af.f, "arch,params,val_metric,dev_metric,val_rows,dev_rows\n");
        for (int i = 0; i < got && rc == 0; i++) {
            ofa_score sv, sd;
            rc = fam->score(&mf->m, &archs[i], val, &sv);
            if (rc == 0) rc = fam->score(&mf->m, &archs[i], dev, &sd);
            if (rc < 0) break;
            vm[i] = sv.metric;
            dm[i] = sd.metric;
            pm[i] = (double)ofa_arch_params(&mf->m, &archs[i]);
            printf("  %-36s %10.0f %10.4f %10.4f\n", text[i], pm[i], vm[i], dm[i]);
            for (char *q = vrows; *q; q++) *q = *q == ',' ? ';' : *q;
            for (char *q = drows; *q; q++) *q = *q == ',' ? ';' : *q;
            fprintf(af.f, "%s,%.0f,%.6f,%.6f,%s,%s\n", text[i], pm[i], vm[i], dm[i], vrows, drows);
        }
        if (rc == 0) rc = ofa_afile_commit(&af);
        else ofa_afile_abort(&af);
    }
    if (rc == 0) {
        /* the spread of tau-b over n independent pairs, for reading the figure */
        double se = got > 1 ? sqrt(2.0 * (2 * got + 5) / (9.0 * got * (got - 1))) : 0;
        int distinct = 0;
        for (int i = 0; i < got; i++) {
            int seen = 0;
            for (int k = 0; k < i && !seen; k++) seen = vm[k] == vm[i];
            distinct += !seen;
        }
        double mv = 0, md = 0, lo_v = INFINITY, hi_v = -INFINITY, lo_d = INFINITY, hi_d = -INFINITY;
        for (int i = 0; i < got; i++) {
            mv += vm[i] / got;
            md += dm[i] / got;
            lo_v = fmin(lo_v, vm[i]), hi_v = fmax(hi_v, vm[i]), lo_d = fmin(lo_d, dm[i]), hi_d = fmax(hi_d, dm[i]);
        }
        printf("Kendall tau-b (val metric vs dev metric) over %d archs: %.3f  (params vs dev: %.3f; "
               "+-%.2f is one standard error under no association)\n"
               "  val: mean %.4f, %.4f to %.4f, %d distinct values; dev: mean %.4f, %.4f to %.4f\n"
               "  written to %s\n",
               got, ofa_kendall_tau(vm, dm, got), ofa_kendall_tau(pm, dm, got), se, mv, lo_v, hi_v, distinct, md,
               lo_d, hi_d, path);
    }
    free(archs);
    free(vm);
    free(dm);
    free(pm);
    free(text);
    if (val) fam->data_free(val);
    if (dev) fam->data_free(dev);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *split = "dev", *data = NULL, *pred_path = NULL, *arch_text = NULL, *task_name = NULL,
               *val_source = NULL;
    int with_logits = 0, grid = 0;
    long batch = 64, threads = 0, limit = 0, agreement = 0, seed = -1, val_limit = -1, dev_limit = -1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--split")) {
            if (!v || (strcmp(v, "dev") && strcmp(v, "val") && strcmp(v, "test")))
                return OFA_ERR(OFA_E_USAGE, "--split: expected dev, val or test");
            split = v;
            i++;
        } else if (!strcmp(s, "--data")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--data needs a GLUE folder");
            data = v;
            i++;
        } else if (!strcmp(s, "--predictions")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--predictions needs a file name");
            pred_path = v;
            i++;
        } else if (!strcmp(s, "--logits")) {
            with_logits = 1;
        } else if (!strcmp(s, "--arch")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--arch needs an arch string, e.g. d3-h4.2.1-f1024.512.256");
            arch_text = v;
            i++;
        } else if (!strcmp(s, "--task")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "--task needs a task name (mnli-mm for an mnli model)");
            task_name = v;
            i++;
        } else if (!strcmp(s, "--grid")) {
            grid = 1;
        } else if (!strcmp(s, "--agreement")) {
            OFA_TRY(ofa_int_arg(s, v, 2, 100000, &agreement));
            i++;
        } else if (!strcmp(s, "--seed")) {
            OFA_TRY(ofa_int_arg(s, v, 0, INT32_MAX, &seed));
            i++;
        } else if (!strcmp(s, "--val-limit") || !strcmp(s, "--dev-limit")) {
            OFA_TRY(ofa_int_arg(s, v, 0, INT32_MAX, s[2] == 'v' ? &val_limit : &dev_limit));
            i++;
        } else if (!strcmp(s, "--val-source")) {
            if (!v || (strcmp(v, "train") && strcmp(v, "dev") && strcmp(v, "auto")))
                return OFA_ERR(OFA_E_USAGE, "--val-source: expected train, dev or auto");
            val_source = v;
            i++;
        } else if (!strcmp(s, "--batch")) {
            OFA_TRY(ofa_int_arg(s, v, 1, 4096, &batch));
            i++;
        } else if (!strcmp(s, "--threads")) {
            OFA_TRY(ofa_int_arg(s, v, 1, 4096, &threads));
            i++;
        } else if (!strcmp(s, "--limit")) {
            OFA_TRY(ofa_int_arg(s, v, 0, INT32_MAX, &limit));
            i++;
        } else if (s[0] == '-') {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'eval'", s);
        } else if (!ckpt) {
            ckpt = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!ckpt) return OFA_ERR(OFA_E_USAGE, "'eval' needs a CHECKPOINT file");
    OFA_TRY(ofa_refuse_output_is_input("--predictions", pred_path, ckpt));
    int nt = ofa_resolve_threads((int)threads);
    if (nt < 0) return nt;
    ofa_set_blas_threads(nt);

    int sub = arch_text || grid || agreement;
    if ((grid != 0) + (arch_text != NULL) + (agreement != 0) > 1)
        return OFA_ERR(OFA_E_USAGE, "--arch, --grid and --agreement are alternatives: give one");
    if (agreement && (pred_path || strcmp(split, "dev") != 0 || limit))
        return OFA_ERR(OFA_E_USAGE, "--agreement scores the search's rows and dev itself: no --split, --limit or "
                                    "--predictions");
    ofa_model_file f;
    OFA_TRY(ofa_model_file_open(&f, ckpt, sub ? OFA_KIND(OFA_CKPT_SUPERNET) : 0u,
                                "--arch, --grid and --agreement need a supernet (ofa supernet)", NULL));
    if (val_limit >= 0) f.cfg.search.val_limit = val_limit;
    if (dev_limit >= 0) f.cfg.search.dev_limit = dev_limit;
    if (val_source)
        f.cfg.search.val_source = !strcmp(val_source, "train") ? OFA_VAL_TRAIN
                                  : !strcmp(val_source, "dev") ? OFA_VAL_DEV
                                                               : OFA_VAL_AUTO;
    /* the stored config gives the data folder and the supernet space; a config written by another
     * ofa version may not parse here, and --data then suffices for plain scoring */
    int rc = 0;
    const char *y = f.meta.config_yaml ? f.meta.config_yaml : "";
    ofa_config probe;
    if (!data && ofa_config_parse(&probe, y, strlen(y), ckpt, NULL, 0) < 0)
        rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse (pass --data DIR to score "
                                          "anyway)",
                            ckpt);
    if (rc == 0 && data) set_data_dir(&f.cfg, data);
    else if (rc == 0 && f.data_note[0]) OFA_INFO("eval: %s", f.data_note);
    if (rc == 0) snprintf(f.cfg.data.task, sizeof f.cfg.data.task, "%s", task_name ? task_name : f.meta.task);
    if (rc == 0 && pred_path && grid) rc = OFA_ERR(OFA_E_USAGE, "--predictions takes one model: use --arch, not --grid");
    const ofa_family *fam = ofa_model_family(&f.m);
    ofa_data *d = NULL;
    if (rc == 0) {
        ofa_config dc = f.cfg;
        dc.data.skip_bad_rows = 0;
        if (agreement) {
            rc = eval_agreement(&f, &dc, ckpt, (int)agreement,
                                (uint64_t)(seed >= 0 ? seed : f.cfg.experiment.seed));
            ofa_model_file_close(&f);
            return rc;
        }
        /* val: the search's validation rows, so as many as it scored (search.val_limit) unless --limit */
        const int val = !strcmp(split, "val");
        rc = fam->data_open(&d, &dc, &f.m,
                            !strcmp(split, "test") ? OFA_SPLIT_TEST
                            : val                  ? OFA_SPLIT_VAL
                                                   : OFA_SPLIT_DEV,
                            val && !limit ? dc.search.val_limit : limit);
    }
    if (rc == 0) {
        fam->data_set_batch(d, (int)batch);
        eval_ctx x = {&f, fam, d, ckpt, split, {NULL}};
        /* results go to the metrics.jsonl of the file's run folder too (a folder with a config.yaml
         * or metrics.jsonl: a file elsewhere, such as an exported small.h5, leaves no log behind) */
        char logpath[sizeof f.run_dir + 32], confpath[sizeof f.run_dir + 32];
        snprintf(logpath, sizeof logpath, "%s/%s", f.run_dir, OFA_RUN_METRICS);
        snprintf(confpath, sizeof confpath, "%s/%s", f.run_dir, OFA_RUN_CONFIG);
        if ((ofa_file_exists(logpath) || ofa_file_exists(confpath)) && ofa_jsonl_open(&x.log, logpath) < 0)
            OFA_WARN("eval: results not logged: %s", ofa_err_msg());
        if (grid) {
            rc = eval_grid(&x);
        } else {
            /* a supernet without --arch: its largest subnet (the space's, which may be smaller
             * than the model when the space does not reach the full sizes) */
            const int largest = !arch_text && f.meta.kind_id == OFA_CKPT_SUPERNET, sub1 = arch_text || largest;
            ofa_arch a;
            if (sub1) rc = ofa_model_file_arch(&f, arch_text, &a);
            if (rc == 0) rc = eval_one(&x, sub1 ? &a : NULL, largest);
            if (rc == 0 && pred_path) {
                rc = fam->predict_write(&f.m, sub1 ? &a : NULL, d, pred_path, with_logits ? OFA_PREDICT_LOGITS : 0);
                if (rc == 0) OFA_INFO("predictions written to %s", pred_path);
            }
        }
        ofa_jsonl_close(&x.log);
    }
    if (d) fam->data_free(d);
    ofa_model_file_close(&f);
    return rc;
}
