/* cli/commands: ofa teacher, ofa reorder, ofa eval, ofa inspect. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/log.h"
#include "core/sys.h"
#include "datasets/taskdata.h"
#include "models/bert/score.h"
#include "models/bert/export.h"
#include "models/bert/arch.h"
#include "trainers/supernet.h"
#include "models/bert/importance.h"
#include "trainers/reorder.h"
#include "trainers/teacher.h"

int cmd_teacher(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "teacher"));
    ofa_signals_install(); /* SIGTERM/SIGUSR1: checkpoint at the next step, exit 99 */
    ofa_config c;
    OFA_TRY(cli_load_config(&c, &a));
    ofa_teacher_result res;
    OFA_TRY(ofa_teacher_train(&c, &res));
    printf("teacher %s: best dev %s %.4f at step %" PRId64 " of %" PRId64 " (%.0fs) -> %s/teacher.h5\n",
           c.data.task, res.metric_name, res.best_metric, res.best_step, res.steps, res.seconds,
           c.experiment.output_dir);
    return 0;
}

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *arch_text = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--arch") || !strcmp(s, "-o")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            *(s[1] == 'o' ? &out : &arch_text) = v;
            i++;
        } else if (s[0] == '-') {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'export'", s);
        } else if (!ckpt) {
            ckpt = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!ckpt || !arch_text || !out) return OFA_ERR(OFA_E_USAGE, "'export' needs CHECKPOINT --arch ARCH -o OUT.h5");
    ofa_bert m, sub;
    ofa_vocab vocab;
    ofa_ckpt_meta meta;
    OFA_TRY(ofa_ckpt_load_bert(ckpt, &m, &vocab, &meta, NULL));
    memset(&sub, 0, sizeof sub);
    int rc = 0;
    if (meta.kind_id != OFA_CKPT_SUPERNET)
        rc = OFA_ERR(OFA_E_USAGE, "%s is a %s checkpoint%s%s; export needs a supernet (ofa supernet)", ckpt, meta.kind,
                     meta.arch[0] ? " of arch " : "", meta.arch);
    ofa_config c;
    if (rc == 0 && ofa_config_parse(&c, meta.config_yaml, strlen(meta.config_yaml), ckpt, NULL, 0) < 0)
        rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse", ckpt);
    ofa_bert_space space;
    ofa_bert_arch a;
    if (rc == 0) rc = ofa_supernet_space(&space, &c, &m.d, ckpt);
    if (rc == 0) rc = ofa_bert_arch_parse(&a, arch_text, m.d.L, m.d.H, space.rule);
    if (rc == 0) rc = ofa_bert_arch_check(&a, &space);
    if (rc == 0) rc = ofa_export_subnet(&sub, &m, &a);
    if (rc == 0) {
        ofa_ckpt_meta_set_kind(&meta, OFA_CKPT_SUBNET);
        ofa_bert_arch_print(&a, m.d.H, meta.arch, sizeof meta.arch);
        rc = ofa_ckpt_save_bert(out, &sub, &vocab, &meta, NULL);
    }
    if (rc == 0)
        printf("exported %s from %s -> %s (%.2fM parameters)\n", meta.arch, ckpt, out, (double)ofa_bert_arch_params(
                   &a, m.d.V, m.d.P, m.d.C, m.d.D) / 1e6);
    ofa_bert_free(&sub);
    ofa_bert_free(&m);
    ofa_vocab_free(&vocab);
    ofa_ckpt_meta_free(&meta);
    return rc;
}

int cmd_reorder(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "reorder"));
    ofa_config c;
    OFA_TRY(cli_load_config(&c, &a));
    OFA_TRY(ofa_reorder_run(&c));
    printf("reorder %s: %s -> %s/teacher_reordered.h5\n", c.data.task,
           c.reorder.enabled ? "heads and neurons sorted by importance" : "disabled, copied unpermuted",
           c.experiment.output_dir);
    return 0;
}

static int write_predictions(const char *path, const ofa_task_info *info, const ofa_encoded *e, const ofa_scores *s,
                             int with_logits)
{
    FILE *f = fopen(path, "w");
    if (!f) return OFA_ERR(OFA_E_IO, "%s: cannot write predictions: %s", path, strerror(errno));
    fprintf(f, "index\tprediction");
    if (with_logits)
        for (int c = 0; c < s->C; c++) fprintf(f, "\tlogit_%d", c);
    fputc('\n', f);
    for (int64_t i = 0; i < s->n; i++) {
        fprintf(f, "%" PRId64 "\t", e->index[i]);
        if (info->num_labels == 1) fprintf(f, "%.3f", (double)s->pred[i]);
        else fprintf(f, "%s", info->label_names[(int)s->pred[i]]);
        if (with_logits)
            for (int c = 0; c < s->C; c++) fprintf(f, "\t%.7g", (double)s->logits[i * s->C + c]);
        fputc('\n', f);
    }
    if (fclose(f) != 0) return OFA_ERR(OFA_E_IO, "%s: write failed: %s", path, strerror(errno));
    return 0;
}

typedef struct eval_ctx {
    const ofa_bert *m;
    const ofa_encoded *e;
    int task, batch, has_labels;
    const char *ckpt, *split;
    ofa_bert_acts acts;
} eval_ctx;

/* Scores arch a (NULL = the whole model) and prints one line. */
static int eval_one(eval_ctx *x, const ofa_bert_arch *a, ofa_scores *s)
{
    const ofa_task_info *info = ofa_task_get(x->task);
    OFA_TRY(ofa_score_bert(x->m, &x->acts, x->e, x->task, x->batch, a, x->has_labels, s));
    char text[OFA_ARCH_TEXT_MAX] = "";
    if (a) ofa_bert_arch_print(a, x->m->d.H, text, sizeof text);
    printf("%s%s%s %s (%s, %" PRId64 " examples, %.2fs)", x->ckpt, a ? " --arch " : "", text, info->name, x->split,
           x->e->n, s->seconds);
    if (x->has_labels) {
        const ofa_metrics *r = &s->metrics;
        printf(": %s %.4f", info->metric, r->main);
        if (info->num_labels == 1) printf("  spearman %.4f", r->spearman);
        else if (strcmp(info->metric, "accuracy") != 0) printf("  accuracy %.4f", r->accuracy);
    }
    printf("\n");
    return 0;
}

/* DynaBERT's depth x width table: every grid arch scored; printed and written to grid.csv beside
 * the checkpoint. */
static int eval_grid(eval_ctx *x, const ofa_bert_space *space)
{
    const ofa_task_info *info = ofa_task_get(x->task);
    int n = ofa_bert_arch_grid(NULL, space);
    ofa_bert_arch *g = ofa_xmalloc((size_t)n * sizeof *g);
    ofa_bert_arch_grid(g, space);
    char path[OFA_PATH_MAX + 16];
    const char *slash = strrchr(x->ckpt, '/');
    snprintf(path, sizeof path, "%.*sgrid.csv", slash ? (int)(slash - x->ckpt + 1) : 0, x->ckpt);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(g);
        return OFA_ERR(OFA_E_IO, "%s: cannot write: %s", path, strerror(errno));
    }
    fprintf(f, "depth,heads,ffn,arch,%s_%s,params,macs\n", x->split, info->metric);
    printf("%-6s %-6s %-6s %-34s %10s %10s %12s\n", "depth", "heads", "ffn", "arch", info->metric, "params", "MACs/seq");
    int rc = 0;
    const int D = x->m->d.D, T = x->e->max_len;
    for (int i = 0; i < n && rc == 0; i++) {
        ofa_scores s;
        rc = ofa_score_bert(x->m, &x->acts, x->e, x->task, x->batch, &g[i], x->has_labels, &s);
        if (rc < 0) break;
        char text[OFA_ARCH_TEXT_MAX];
        ofa_bert_arch_print(&g[i], x->m->d.H, text, sizeof text);
        int64_t params = ofa_bert_arch_params(&g[i], x->m->d.V, x->m->d.P, x->m->d.C, D);
        double macs = ofa_bert_arch_macs(&g[i], T, x->m->d.C, D);
        printf("%-6d %-6d %-6d %-34s %10.4f %10" PRId64 " %12.4g\n", g[i].depth, g[i].heads[0], g[i].ffn[0], text,
               s.metrics.main, params, macs);
        fprintf(f, "%d,%d,%d,%s,%.6f,%" PRId64 ",%.6g\n", g[i].depth, g[i].heads[0], g[i].ffn[0], text,
                s.metrics.main, params, macs);
        ofa_scores_free(&s);
    }
    free(g);
    if (fclose(f) != 0 && rc == 0) rc = OFA_ERR(OFA_E_IO, "%s: write failed: %s", path, strerror(errno));
    if (rc == 0) OFA_INFO("grid written to %s (MACs per sequence of %d tokens)", path, T);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *split = "dev", *data = NULL, *pred_path = NULL, *arch_text = NULL, *task_name = NULL;
    int with_logits = 0, grid = 0;
    long batch = 64, threads = 0, limit = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(s, "--split")) {
            if (!v || (strcmp(v, "dev") && strcmp(v, "test")))
                return OFA_ERR(OFA_E_USAGE, "--split: expected dev or test");
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
        } else if (!strcmp(s, "--batch")) {
            OFA_TRY(cli_int_arg(s, v, 1, 4096, &batch));
            i++;
        } else if (!strcmp(s, "--threads")) {
            OFA_TRY(cli_int_arg(s, v, 1, 4096, &threads));
            i++;
        } else if (!strcmp(s, "--limit")) {
            OFA_TRY(cli_int_arg(s, v, 0, INT32_MAX, &limit));
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
    int nt = ofa_resolve_threads((int)threads);
    if (nt < 0) return nt;
    ofa_set_blas_threads(nt);

    ofa_bert m;
    ofa_vocab vocab;
    ofa_ckpt_meta meta;
    OFA_TRY(ofa_ckpt_load_bert(ckpt, &m, &vocab, &meta, NULL));
    /* the stored config gives the data folder and the supernet space; a config written by another
     * ofa version may not parse here, and --data then suffices for plain scoring */
    ofa_config c;
    int rc = ofa_config_parse(&c, meta.config_yaml, strlen(meta.config_yaml), ckpt, NULL, 0);
    if (rc < 0 && (!data || arch_text || grid))
        rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse%s", ckpt,
                            data ? "" : " (pass --data GLUE_DIR to score anyway)");
    else rc = 0;
    int task = rc < 0 ? rc : ofa_task_from_name(meta.task);
    if (rc == 0 && task < 0) rc = OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s' in the checkpoint", ckpt, meta.task);
    if (rc == 0 && task_name) {
        int t = ofa_task_from_name(task_name);
        const ofa_task_info *a = ofa_task_get(task), *b = t >= 0 ? ofa_task_get(t) : NULL;
        int same_labels = b && a->num_labels == b->num_labels && !strcmp(a->dir, b->dir);
        if (!same_labels)
            rc = OFA_ERR(OFA_E_USAGE, "--task %s: the model in %s was trained on %s; only a task with the same data "
                                      "and labels (mnli <-> mnli-mm) can be scored",
                         task_name, ckpt, meta.task);
        else task = t;
    }
    ofa_encoded e;
    memset(&e, 0, sizeof e);
    if (rc == 0)
        rc = ofa_taskdata_encode(&e, data ? data : c.data.glue_dir, task, split, &vocab, meta.lowercase,
                                 meta.max_seq_len, 0, limit);
    ofa_bert_space space;
    int sub = arch_text || grid;
    if (rc == 0 && sub && meta.kind_id != OFA_CKPT_SUPERNET)
        rc = OFA_ERR(OFA_E_USAGE, "%s is a %s checkpoint%s%s; --arch and --grid need a supernet (ofa supernet)", ckpt,
                     meta.kind, meta.arch[0] ? " of arch " : "", meta.arch);
    if (rc == 0 && sub) rc = ofa_supernet_space(&space, &c, &m.d, ckpt);
    if (rc == 0 && pred_path && grid) rc = OFA_ERR(OFA_E_USAGE, "--predictions takes one model: use --arch, not --grid");
    if (rc == 0) {
        eval_ctx x;
        memset(&x, 0, sizeof x);
        x.m = &m;
        x.e = &e;
        x.task = task;
        x.batch = (int)batch;
        x.has_labels = strcmp(split, "test") != 0;
        x.ckpt = ckpt;
        x.split = split;
        ofa_bert_acts_create(&x.acts, &m.d, (int)batch, e.max_len > 0 ? e.max_len : 1);
        if (grid) {
            rc = eval_grid(&x, &space);
        } else {
            ofa_bert_arch a;
            if (arch_text) {
                rc = ofa_bert_arch_parse(&a, arch_text, m.d.L, m.d.H, space.rule);
                if (rc == 0) rc = ofa_bert_arch_check(&a, &space);
            }
            ofa_scores s;
            if (rc == 0) rc = eval_one(&x, arch_text ? &a : NULL, &s);
            if (rc == 0 && pred_path) {
                rc = write_predictions(pred_path, ofa_task_get(task), &e, &s, with_logits);
                if (rc == 0) OFA_INFO("predictions written to %s", pred_path);
            }
            if (rc == 0) ofa_scores_free(&s);
        }
        ofa_bert_acts_free(&x.acts);
    }
    ofa_encoded_free(&e);
    ofa_vocab_free(&vocab);
    ofa_bert_free(&m);
    ofa_ckpt_meta_free(&meta);
    return rc;
}

static int print_dataset(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    int64_t *total = ctx, n = 1;
    printf("  %-44s [", name);
    for (int i = 0; i < ndim; i++) {
        printf("%s%" PRId64, i ? ", " : "", shape[i]);
        n *= shape[i];
    }
    printf("]\n");
    if (!strncmp(name, "weights/", 8)) *total += n;
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') return OFA_ERR(OFA_E_USAGE, "'inspect' takes one FILE");
    const char *path = argv[0];
    ofa_h5 h;
    ofa_ckpt_meta meta;
    OFA_TRY(ofa_ckpt_open(&h, path, &meta));
    printf("%s: ofa checkpoint, format_version %" PRId64 ", kind %s, model %s, task %s\n", path,
           meta.format_version, meta.kind, meta.model, meta.task);
    printf("  created %s, step %" PRId64 ", epoch %" PRId64 ", seed %" PRId64 "\n", meta.created, meta.step,
           meta.epoch, meta.seed);
    if (meta.arch[0]) printf("  arch %s\n", meta.arch);
    if (!isnan(meta.best_metric)) printf("  dev %s %.4f\n", meta.metric_name, meta.best_metric);
    const char *dims[] = {"layers", "hidden", "heads", "ffn", "vocab_size", "max_position", "num_outputs"};
    printf(" ");
    for (int i = 0; i < 7; i++) {
        int64_t v;
        if (ofa_h5_attr_exists(&h, "/", dims[i]) && ofa_h5_attr_get_i64(&h, "/", dims[i], &v) == 0)
            printf(" %s %" PRId64, dims[i], v);
    }
    printf("\n  tokenizer: lowercase %d, max_seq_len %d\ndatasets:\n", meta.lowercase, meta.max_seq_len);
    int64_t total = 0;
    int rc = ofa_h5_visit(&h, "/", print_dataset, &total);
    if (rc == 0) printf("parameters: %" PRId64 " (%.2fM)\n", total, (double)total / 1e6);
    ofa_h5_close(&h);
    ofa_ckpt_meta_free(&meta);
    return rc;
}
