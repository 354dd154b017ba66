/* trainers/reorder: stage 2, the importance reorder of the teacher (DynaBERT / PaddleSlim OFA):
 * <output_dir>/teacher.h5 -> <output_dir>/teacher_reordered.h5 (+ /importance), with a check that
 * the reordered model's dev logits equal the original's.  Runs on rank 0 alone. */
#include "trainers/reorder.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/fingerprint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/checkpoint.h"

/* ---- the stage ---- */

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
    ofa_model_file f;
    const ofa_family *fam;
    ofa_data *dev;
    void *state;
    float *before, *after;
    char *fingerprint;
} stage;

#define REORDER_TOL 1e-5

static int write_state(ofa_h5 *h, void *ctx)
{
    const stage *s = ctx;
    return s->fam->reorder_write(s->state, h);
}

static int stage_body(const ofa_config *c, stage *s, const char *src, const char *dst)
{
    const double t0 = ofa_now();
    if (!ofa_file_exists(src))
        return OFA_ERR(OFA_E_IO, "%s: no teacher checkpoint; run 'ofa teacher' first", src);
    OFA_TRY(ofa_model_file_open(&s->f, src, OFA_KIND(OFA_CKPT_TEACHER), "reorder needs the teacher (ofa teacher)", c));
    s->fam = ofa_model_family(&s->f.m);
    int rc = s->fam->data_open(&s->dev, c, &s->f.m, OFA_SPLIT_DEV, c->data.dev_limit);
    if (rc < 0) return ofa_err_prefix(rc, "%s", src);
    const int64_t n = s->fam->data_size(s->dev);
    if (n < 1) return OFA_ERR(OFA_E_DATA, "%s: the %s dev split is empty", c->data.glue_dir, s->f.meta.task);
    s->fam->data_set_batch(s->dev, c->teacher.batch_size);
    char desc[256];
    s->fam->model_describe(&s->f.m, desc, sizeof desc);
    OFA_INFO("reorder: %s (%s), %lld dev examples", src, desc, (long long)n);
    ofa_score before, after;
    int64_t nv = 0, nv2 = 0;
    OFA_TRY(s->fam->score(&s->f.m, NULL, s->dev, &before));
    OFA_TRY(s->fam->outputs(&s->f.m, NULL, s->dev, &s->before, &nv));
    OFA_TRY(s->fam->reorder(&s->f.m, s->dev, c, &s->state));
    OFA_TRY(s->fam->score(&s->f.m, NULL, s->dev, &after));
    OFA_TRY(s->fam->outputs(&s->f.m, NULL, s->dev, &s->after, &nv2));
    OFA_ASSERT(nv == nv2);
    double ad, rel;
    max_diff(s->after, s->before, (size_t)nv, &ad, &rel);
    OFA_INFO("reorder: dev logits max |diff| %.3g (%.3g relative to the largest logit); dev %s %.4f -> %.4f", ad,
             rel, s->f.meta.metric_name[0] ? s->f.meta.metric_name : "metric", before.metric, after.metric);
    if (!(rel <= REORDER_TOL))
        return OFA_ERR(OFA_E_RUNTIME,
                       "reorder: the reordered model's dev logits differ from %s's by %.3g (relative %.3g > %g)",
                       src, ad, rel, REORDER_TOL);
    ofa_ckpt_meta meta = s->f.meta;
    ofa_ckpt_meta_set_kind(&meta, OFA_CKPT_TEACHER);
    OFA_TRY(ofa_fingerprint_make(&s->fingerprint, c, OFA_STAGE_REORDER, src, NULL));
    meta.fingerprint = s->fingerprint; /* what it is made from, not the teacher's */
    OFA_TRY(ofa_ckpt_save_model(dst, &s->f.m, &meta, NULL, write_state, s));
    OFA_INFO("reorder: done in %.1fs -> %s", ofa_now() - t0, dst);
    return 0;
}

int ofa_reorder_run(const ofa_config *c)
{
    char src[OFA_PATH_MAX + 32], dst[OFA_PATH_MAX + 32];
    ofa_run_path(src, sizeof src, c, OFA_RUN_TEACHER);
    ofa_run_path(dst, sizeof dst, c, OFA_RUN_REORDERED);
    stage s;
    memset(&s, 0, sizeof s);
    int rc = stage_body(c, &s, src, dst);
    if (s.fam) {
        s.fam->reorder_free(s.state);
        if (s.dev) s.fam->data_free(s.dev);
    }
    free(s.before);
    free(s.after);
    free(s.fingerprint);
    ofa_model_file_close(&s.f);
    return rc;
}
