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
#include "evaluator/score.h"
#include "supernet/reorder.h"
#include "trainers/teacher.h"

int cmd_teacher(int argc, char **argv)
{
    cli_config_args a;
    OFA_TRY(cli_parse_config_args(&a, argc, argv, "teacher"));
    ofa_config c;
    OFA_TRY(cli_load_config(&c, &a));
    ofa_teacher_result res;
    OFA_TRY(ofa_teacher_train(&c, &res));
    printf("teacher %s: best dev %s %.4f at step %" PRId64 " of %" PRId64 " (%.0fs) -> %s/teacher.h5\n",
           c.data.task, res.metric_name, res.best_metric, res.best_step, res.steps, res.seconds,
           c.experiment.output_dir);
    return 0;
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

int cmd_eval(int argc, char **argv)
{
    const char *ckpt = NULL, *split = "dev", *data = NULL, *pred_path = NULL;
    int with_logits = 0;
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
    ofa_config c;
    int rc = ofa_config_parse(&c, meta.config_yaml, strlen(meta.config_yaml), ckpt, NULL, 0);
    if (rc < 0) rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse", ckpt);
    int task = rc < 0 ? rc : ofa_task_from_name(meta.task);
    if (rc == 0 && task < 0) rc = OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s' in the checkpoint", ckpt, meta.task);
    ofa_encoded e;
    memset(&e, 0, sizeof e);
    if (rc == 0)
        rc = ofa_taskdata_encode(&e, data ? data : c.data.glue_dir, task, split, &vocab, meta.lowercase,
                                 meta.max_seq_len, 0, limit);
    if (rc == 0) {
        const ofa_task_info *info = ofa_task_get(task);
        int has_labels = strcmp(split, "test") != 0;
        ofa_bert_acts acts;
        ofa_bert_acts_create(&acts, &m.d, (int)batch, e.max_len > 0 ? e.max_len : 1);
        ofa_scores s;
        rc = ofa_score_bert(&m, &acts, &e, task, (int)batch, NULL, has_labels, &s);
        if (rc == 0) {
            printf("%s %s (%s, %" PRId64 " examples, %.2fs)", ckpt, info->name, split, e.n, s.seconds);
            if (has_labels) {
                const ofa_metrics *x = &s.metrics;
                printf(": %s %.4f", info->metric, x->main);
                if (info->num_labels == 1) printf("  pearson %.4f  spearman %.4f", x->pearson, x->spearman);
                else printf("  accuracy %.4f  f1 %.4f  mcc %.4f", x->accuracy, x->f1, x->mcc);
            }
            printf("\n");
            if (pred_path) {
                rc = write_predictions(pred_path, info, &e, &s, with_logits);
                if (rc == 0) OFA_INFO("predictions written to %s", pred_path);
            }
        }
        ofa_scores_free(&s);
        ofa_bert_acts_free(&acts);
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
