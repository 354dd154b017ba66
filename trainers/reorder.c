/* trainers/reorder: stage 2, the importance reorder of the teacher (DynaBERT / PaddleSlim OFA):
 * <output_dir>/teacher.h5 -> <output_dir>/teacher_reordered.h5 (+ /importance), with a check that
 * the reordered model's dev logits equal the original's.  Runs on rank 0 alone. */
#include "trainers/reorder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/glue.h"
#include "datasets/taskdata.h"
#include "models/bert/importance.h"
#include "models/bert/score.h"

/* ---- the stage ---- */

static int write_importance(ofa_h5 *h, void *ctx) { return ofa_importance_write(h, ctx); }

/* max |a - b| over n, and the same relative to the largest |b| */
static void max_diff(const float *a, const float *b, size_t n, double *abs_diff, double *rel)
{
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double dd = fabs((double)a[i] - b[i]);
        if (!(dd <= md)) md = dd; /* NaN propagates */
        if (fabs((double)b[i]) > mb) mb = fabs((double)b[i]);
    }
    *abs_diff = md;
    *rel = md / (mb > 1e-30 ? mb : 1e-30);
}

typedef struct stage {
    ofa_bert model;
    ofa_vocab vocab;
    ofa_ckpt_meta meta;
    ofa_encoded dev;
    ofa_bert_acts acts;
    ofa_importance imp;
    ofa_scores before, after;
} stage;

#define REORDER_TOL 1e-5

static int stage_body(const ofa_config *c, stage *s, const char *src, const char *dst)
{
    const double t0 = ofa_now();
    if (!ofa_file_exists(src))
        return OFA_ERR(OFA_E_IO, "%s: no teacher checkpoint; run 'ofa teacher' first", src);
    OFA_TRY(ofa_ckpt_load_bert(src, &s->model, &s->vocab, &s->meta, NULL));
    int task = ofa_task_from_name(s->meta.task);
    if (task < 0) return OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s'", src, s->meta.task);
    int ctask;
    OFA_TRY(ctask = ofa_taskdata_task(c));
    if (ctask != task)
        return OFA_ERR(OFA_E_CONFIG, "%s: data.task is %s but %s was trained on %s", c->source,
                       ofa_task_get(ctask)->name, src, ofa_task_get(task)->name);
    if (ofa_task_get(task)->num_labels != s->model.d.C)
        return OFA_ERR(OFA_E_FORMAT, "%s: %d outputs, task %s has %d", src, s->model.d.C, s->meta.task,
                       ofa_task_get(task)->num_labels);
    int msl = s->meta.max_seq_len > 0 ? s->meta.max_seq_len : c->data.max_seq_len;
    if (msl > s->model.d.P) msl = s->model.d.P;
    OFA_TRY(ofa_taskdata_encode(&s->dev, c->data.glue_dir, task, "dev", &s->vocab, s->meta.lowercase, msl,
                                c->data.skip_bad_rows, c->data.dev_limit));
    if (s->dev.n < 1) return OFA_ERR(OFA_E_DATA, "%s: the %s dev split is empty", c->data.glue_dir, s->meta.task);
    const int B = c->teacher.batch_size;
    ofa_bert_acts_create(&s->acts, &s->model.d, B, s->dev.max_len > 0 ? s->dev.max_len : 1);
    OFA_INFO("reorder: %s (%d layers, %d heads, ffn %d), %lld dev examples", src, s->model.d.L, s->model.d.A,
             s->model.d.F, (long long)s->dev.n);
    OFA_TRY(ofa_score_bert(&s->model, &s->acts, &s->dev, task, B, NULL, 1, &s->before));

    if (c->reorder.enabled) {
        double t1 = ofa_now();
        OFA_TRY(ofa_importance_compute(&s->model, &s->dev, B, c->reorder.batches, &s->imp));
        OFA_INFO("reorder: importance over %lld batches (%lld examples) in %.1fs", (long long)s->imp.batches,
                 (long long)s->imp.examples, ofa_now() - t1);
        for (int l = 0; l < s->model.d.L; l++) {
            char line[256];
            int n = 0;
            for (int p = 0; p < s->model.heads[l] && n < (int)sizeof line - 16; p++)
                n += snprintf(line + n, sizeof line - (size_t)n, "%s%d", p ? "," : "",
                              s->imp.head_order[(size_t)l * s->imp.A + p]);
            OFA_INFO("reorder: layer %d head order %s", l, line);
        }
        ofa_reorder_apply(&s->model, &s->imp);
        ofa_params_zero_grad(&s->model.p);
    } else {
        ofa_importance_init(&s->imp, &s->model);
        OFA_INFO("reorder: disabled (reorder.enabled: false); copying the teacher unpermuted");
    }

    OFA_TRY(ofa_score_bert(&s->model, &s->acts, &s->dev, task, B, NULL, 1, &s->after));
    double ad, rel;
    max_diff(s->after.logits, s->before.logits, (size_t)s->dev.n * s->model.d.C, &ad, &rel);
    OFA_INFO("reorder: dev logits max |diff| %.3g (%.3g relative to the largest logit); dev %s %.4f -> %.4f", ad,
             rel, s->meta.metric_name[0] ? s->meta.metric_name : "metric", s->before.metrics.main,
             s->after.metrics.main);
    if (!(rel <= REORDER_TOL))
        return OFA_ERR(OFA_E_RUNTIME,
                       "reorder: the reordered model's dev logits differ from %s's by %.3g (relative %.3g > %g)",
                       src, ad, rel, REORDER_TOL);
    ofa_ckpt_meta_set_kind(&s->meta, OFA_CKPT_TEACHER);
    OFA_TRY(ofa_ckpt_save_bert_ex(dst, &s->model, &s->vocab, &s->meta, NULL, write_importance, &s->imp));
    OFA_INFO("reorder: done in %.1fs -> %s", ofa_now() - t0, dst);
    return 0;
}

int ofa_reorder_run(const ofa_config *c)
{
    char src[OFA_PATH_MAX + 32], dst[OFA_PATH_MAX + 32];
    snprintf(src, sizeof src, "%s/teacher.h5", c->experiment.output_dir);
    snprintf(dst, sizeof dst, "%s/teacher_reordered.h5", c->experiment.output_dir);
    stage s;
    memset(&s, 0, sizeof s);
    ofa_ckpt_meta_init(&s.meta, "teacher");
    int rc = stage_body(c, &s, src, dst);
    ofa_scores_free(&s.before);
    ofa_scores_free(&s.after);
    ofa_importance_free(&s.imp);
    ofa_bert_acts_free(&s.acts);
    ofa_encoded_free(&s.dev);
    ofa_vocab_free(&s.vocab);
    ofa_ckpt_meta_free(&s.meta);
    ofa_bert_free(&s.model);
    return rc;
}
