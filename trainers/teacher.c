#include "trainers/teacher.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/checkpoint.h"
#include "coordinator/fingerprint.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/checkpoint.h"
#include "models/registry.h"
#include "nn/optim.h"


typedef struct run {
    const ofa_config *c;
    const ofa_family *fam;
    ofa_model model;
    ofa_data *train, *dev;
    ofa_teacher_job *job;
    ofa_adamw opt;
    ofa_jsonl log;
    char path[OFA_PATH_MAX + 32];  /* <output_dir>/teacher.h5, written when the stage completes */
    char dir[OFA_PATH_MAX + 32];   /* <output_dir>/ckpt: training state and the best weights so far */
    char best[OFA_PATH_MAX + 64];  /* <dir>/teacher_best.h5 */
    char fingerprint[1024];        /* the settings a training state depends on (see fingerprint()) */
    char *stage_fp;                /* what teacher.h5 is made from (coordinator/fingerprint) */
    int flags;                     /* OFA_STAGE_FORCE, OFA_STAGE_FRESH */
    char metric_name[32];
    double loss_sum;               /* training loss summed since the last evaluation (logged average) */
    int64_t loss_n;
} run;

#define STATE_PREFIX OFA_RUN_TEACHER_STEP
#define STATE_KEEP 2 /* the newest two, so a damaged newest one falls back to the one before */

static void run_free(run *r)
{
    if (r->fam) {
        r->fam->teacher_free(r->job);
        if (r->train) r->fam->data_free(r->train);
        if (r->dev) r->fam->data_free(r->dev);
    }
    ofa_model_free(&r->model);
    ofa_jsonl_close(&r->log);
    free(r->stage_fp);
}

static int prepare(run *r)
{
    const ofa_config *c = r->c;
    r->fam = ofa_family_find(c->model.type);
    if (!r->fam)
        return OFA_ERR(OFA_E_CONFIG, "%s: model.type '%s' is not a model family this build knows", c->source,
                       c->model.type);
    /* the data first: its loader's errors say what is missing and how to point at it */
    OFA_TRY(r->fam->teacher_create(&r->job, c, &r->model, &r->train, &r->dev));
    return ofa_fingerprint_make(&r->stage_fp, c, OFA_STAGE_TEACHER, NULL, NULL);
}

/* weights (and AdamW state when opt is not NULL) to path, with the run's metadata; extra (may be
 * NULL) adds to the file before it is committed */
static int save(run *r, const char *path, int64_t step, int64_t epoch, double metric, const ofa_rng *rng,
                const ofa_adamw *opt, int (*extra)(ofa_h5 *h, void *ctx))
{
    ofa_ckpt_meta meta;
    ofa_ckpt_meta_init(&meta, "teacher");
    snprintf(meta.task, sizeof meta.task, "%s", r->fam->model_task(&r->model));
    snprintf(meta.metric_name, sizeof meta.metric_name, "%s", r->metric_name);
    meta.step = step;
    meta.epoch = epoch;
    meta.seed = r->c->experiment.seed;
    meta.rng = *rng;
    meta.best_metric = metric;
    meta.config_yaml = ofa_config_to_yaml(r->c);
    meta.fingerprint = r->stage_fp;
    int rc = ofa_ckpt_save_model(path, &r->model, &meta, opt, extra, r);
    meta.fingerprint = NULL; /* r's */
    ofa_ckpt_meta_free(&meta);
    return rc;
}

/* Every setting the training trajectory depends on (a state is resumed only under the same ones):
 * the loop's and the family's. */
static void fingerprint(run *r, int64_t total)
{
    const ofa_config *c = r->c;
    char fam[256];
    r->fam->teacher_fingerprint(r->job, fam, sizeof fam);
    snprintf(r->fingerprint, sizeof r->fingerprint,
             "seed=%lld steps=%lld batch=%d %s lr=%.9g warmup=%.9g decay=%.9g clip=%.9g eval_every=%lld dropout=%.9g "
             "init_std=%.9g",
             (long long)c->experiment.seed, (long long)total, c->teacher.batch_size, fam, c->teacher.lr,
             c->optim.warmup_ratio, c->optim.weight_decay, c->optim.grad_clip, (long long)c->teacher.eval_every,
             c->model.dropout, c->model.init_std);
    if (c->teacher.decay_epochs >= 0) {
        size_t n = strlen(r->fingerprint);
        snprintf(r->fingerprint + n, sizeof r->fingerprint - n, " decay_epochs=%.9g", c->teacher.decay_epochs);
    }
    /* named only when not the defaults: states written before these keys existed keep resuming */
    if (c->optim.beta1 != OFA_ADAMW_BETA1 || c->optim.beta2 != OFA_ADAMW_BETA2 || c->optim.eps != OFA_ADAMW_EPS) {
        size_t n = strlen(r->fingerprint);
        snprintf(r->fingerprint + n, sizeof r->fingerprint - n, " betas=%.9g,%.9g eps=%.9g", c->optim.beta1,
                 c->optim.beta2, c->optim.eps);
    }
}

/* what a state adds to the checkpoint: the settings, and the loss average in progress (so the
 * resumed run's log is the uninterrupted one's) */
static int write_state_attrs(ofa_h5 *h, void *ctx)
{
    const run *r = ctx;
    OFA_TRY(ofa_h5_attr_set_str(h, "/", "teacher_fingerprint", r->fingerprint));
    OFA_TRY(ofa_h5_attr_set_f64(h, "/", "teacher_loss_sum", r->loss_sum));
    OFA_TRY(ofa_h5_attr_set_i64(h, "/", "teacher_loss_n", r->loss_n));
    return r->fam->teacher_state_write(r->job, h); /* the family's own state (a CycleGAN's image pools) */
}

/* the training state after `step` steps: weights, AdamW state, dropout RNG, the settings */
static int save_state(run *r, int64_t step, int64_t epoch, const ofa_rng *rng)
{
    char path[OFA_PATH_MAX + 64];
    ofa_ckpt_step_path(path, sizeof path, r->dir, STATE_PREFIX, step);
    int rc = save(r, path, step, epoch, NAN, rng, &r->opt, write_state_attrs);
    if (rc < 0) return rc;
    ofa_ckpt_prune(r->dir, STATE_PREFIX, STATE_KEEP);
    return 0;
}

/* training state and best weights that cannot be resumed: removed, so they are neither pruned in
 * place of new ones nor adopted later */
static void discard_state(run *r)
{
    int64_t steps[1];
    if (ofa_ckpt_list(r->dir, STATE_PREFIX, steps, 1) > 0 || ofa_file_exists(r->best))
        OFA_WARN("teacher: no usable training state in %s; starting from step 0 (old teacher_* files removed)",
                 r->dir);
    ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
    if (ofa_file_exists(r->best) && unlink(r->best) != 0)
        OFA_WARN("%s: cannot remove: %s", r->best, strerror(errno));
}

/* The training states in ckpt/ written under other settings than this run's: an error naming what
 * changed, or (OFA_STAGE_FORCE) all of them discarded.  Checked before any is loaded; a state that
 * does not open is left to the resume, which skips it and says why. */
static int check_states(run *r)
{
    int64_t steps[16];
    const int n = ofa_ckpt_list(r->dir, STATE_PREFIX, steps, 16);
    for (int i = 0; i < n; i++) {
        char path[OFA_PATH_MAX + 64], *fp = NULL, *stage_fp = NULL;
        ofa_ckpt_step_path(path, sizeof path, r->dir, STATE_PREFIX, steps[i]);
        ofa_h5 h;
        if (ofa_h5_open(&h, path) < 0) {
            ofa_err_clear();
            continue;
        }
        if (ofa_h5_attr_exists(&h, "/", "teacher_fingerprint")) ofa_h5_attr_get_str(&h, "/", "teacher_fingerprint", &fp);
        /* the stage's fingerprint: none in the states of an older ofa (the settings above still count) */
        if (ofa_h5_attr_exists(&h, "/", "fingerprint")) ofa_h5_attr_get_str(&h, "/", "fingerprint", &stage_fp);
        ofa_h5_close(&h);
        ofa_err_clear();
        int rc = 0;
        if (!fp || strcmp(fp, r->fingerprint) != 0)
            rc = OFA_ERR(OFA_E_CONFIG,
                         "%s: this teacher training state was written under other settings (%s) than the config's "
                         "(%s); restore them, or pass --force (or delete %s/teacher_*) to train from step 0",
                         path, fp ? fp : "none recorded", r->fingerprint, r->dir);
        else if (stage_fp && (rc = ofa_fingerprint_check(path, stage_fp, r->stage_fp, 0, "", NULL)) < 0)
            rc = ofa_err_suffix(rc, "; restore it, or pass --force to train from step 0");
        free(fp);
        free(stage_fp);
        if (rc < 0 && (r->flags & OFA_STAGE_FORCE)) {
            OFA_WARN("teacher: %s; discarded (--force)", ofa_err_msg());
            ofa_err_clear();
            discard_state(r);
            return 0;
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* The newest state checkpoint that loads and matches this model: weights, AdamW state and the
 * dropout RNG restored, the best-so-far from teacher_best.h5.  Returns the step to start from (0:
 * none), or OFA_E_CONFIG when a state was written under other settings. */
static int64_t try_resume(run *r, ofa_rng *drop_rng, ofa_teacher_result *res)
{
    if (r->flags & OFA_STAGE_FRESH) { /* teacher.h5 is recomputed: nothing of an earlier run is reused */
        ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
        if (ofa_file_exists(r->best) && unlink(r->best) != 0)
            OFA_WARN("%s: cannot remove: %s", r->best, strerror(errno));
        return 0;
    }
    OFA_TRY(check_states(r));
    ofa_ckpt_meta state;
    const int64_t start = ofa_ckpt_resume_newest(r->dir, STATE_PREFIX, "teacher", r->model.p, &r->opt, &state);
    if (start == 0) {
        discard_state(r);
        return 0;
    }
    *drop_rng = state.rng;
    ofa_ckpt_meta_free(&state);
    /* the loss average in progress */
    char path[OFA_PATH_MAX + 64];
    ofa_ckpt_step_path(path, sizeof path, r->dir, STATE_PREFIX, start);
    ofa_h5 h;
    int rc = ofa_h5_open(&h, path);
    if (rc == 0) {
        rc = ofa_h5_attr_get_f64(&h, "/", "teacher_loss_sum", &r->loss_sum);
        if (rc == 0) rc = ofa_h5_attr_get_i64(&h, "/", "teacher_loss_n", &r->loss_n);
        if (rc == 0) rc = r->fam->teacher_state_read(r->job, &h, path);
        ofa_h5_close(&h);
    }
    if (rc < 0) return rc;
    if (ofa_file_exists(r->best)) {
        ofa_ckpt_meta meta;
        if (ofa_ckpt_open(&h, r->best, &meta) < 0) { /* damaged: track the best from here on */
            OFA_WARN("teacher: %s; the best weights are tracked again from step %lld, so the result may differ "
                     "from an uninterrupted run",
                     ofa_err_msg(), (long long)start);
            ofa_err_clear();
            return start;
        }
        ofa_h5_close(&h);
        if (meta.step <= start) {
            res->best_metric = meta.best_metric;
            res->best_step = meta.step;
        }
        ofa_ckpt_meta_free(&meta);
    }
    ofa_jsonl_write(&r->log, "{\"event\":\"resume\",\"stage\":\"teacher\",\"step\":%lld}", (long long)start);
    return start;
}

/* The lr of step `step`: linear warm-up over `warmup` steps, then constant until decay_start, then
 * linear decay to 0 at `total` (decay_start == warmup: BERT's warm-up + decay; later: CycleGAN's
 * constant lr, then linear decay over teacher.decay_epochs) */
static double lr_at(double base, int64_t step, int64_t warmup, int64_t decay_start, int64_t total)
{
    if (step < warmup) return ofa_lr_at(base, step, warmup, total);
    if (step < decay_start) return base;
    return ofa_lr_at(base, step, decay_start, total);
}

static int train_loop(run *r, ofa_teacher_result *res)
{
    const ofa_config *c = r->c;
    const int B = c->teacher.batch_size;
    const int64_t n = r->fam->data_size(r->train), per_epoch = (n + B - 1) / B;
    double planned = c->teacher.max_steps > 0 ? (double)c->teacher.max_steps : ceil(c->teacher.epochs * (double)per_epoch);
    if (!(planned >= 1 && planned <= 1e10))
        return OFA_ERR(OFA_E_CONFIG, "%s: teacher.epochs %g gives %g steps (1 to 1e10 allowed)", c->source,
                       c->teacher.epochs, planned);
    int64_t total = (int64_t)planned;
    int64_t warmup = (int64_t)(c->optim.warmup_ratio * (double)total);
    int64_t eval_every = c->teacher.eval_every > 0 ? c->teacher.eval_every : per_epoch;
    int64_t decay_start = warmup;
    if (c->teacher.decay_epochs >= 0) {
        double d = (double)total - ceil(c->teacher.decay_epochs * (double)per_epoch);
        decay_start = d > (double)warmup ? (int64_t)d : warmup;
    }
    ofa_rng drop_rng, order_rng;
    ofa_rng_keyed(&drop_rng, (uint64_t)c->experiment.seed, 2, 0);
    ofa_adamw_init_ex(&r->opt, c->optim.beta1, c->optim.beta2, c->optim.eps, c->optim.weight_decay);
    OFA_INFO("teacher: %lld steps (%lld per epoch), batch %d, lr %g, warmup %lld", (long long)total,
             (long long)per_epoch, B, c->teacher.lr, (long long)warmup);

    res->best_metric = -INFINITY;
    fingerprint(r, total);
    const int64_t start = try_resume(r, &drop_rng, res);
    if (start < 0) return (int)start;
    res->resumed_from = start;
    int64_t *order = ofa_xmalloc((size_t)n * sizeof *order);
    ofa_progress prog;
    ofa_progress_init(&prog, "teacher", total, start, 10.0);
    /* every epoch is per_epoch steps, so a step number fixes the epoch and the position in it */
    int64_t epoch = start / per_epoch - 1, pos = n;
    if (start % per_epoch != 0) {
        epoch = start / per_epoch;
        ofa_rng_keyed(&order_rng, (uint64_t)c->experiment.seed, 1, (uint64_t)epoch);
        r->fam->data_epoch_order(r->train, order, B, &order_rng);
        pos = (start % per_epoch) * B;
    }
    int rc = 0;
    for (int64_t step = start; step < total; step++) {
        if (pos >= n) { /* new epoch: a fresh permutation keyed by (seed, epoch) */
            epoch++;
            ofa_rng_keyed(&order_rng, (uint64_t)c->experiment.seed, 1, (uint64_t)epoch);
            r->fam->data_epoch_order(r->train, order, B, &order_rng);
            pos = 0;
        }
        int bs = (int)(n - pos < B ? n - pos : B);
        double lr = lr_at(c->teacher.lr, step, warmup, decay_start, total), loss, gnorm, tokens;
        r->fam->teacher_step(r->job, order + pos, bs, &drop_rng, lr, &r->opt, &loss, &gnorm, &tokens);
        pos += bs;
        if (!isfinite(loss)) {
            rc = OFA_ERR(OFA_E_RUNTIME, "teacher: loss became %g at step %lld; lower teacher.lr", loss, (long long)step);
            break;
        }
        r->loss_sum += loss;
        r->loss_n++;
        /* the family's loss terms ("G":1.2,"D_A":0.25,...), in the progress line without the quotes */
        char terms[512], shown[512];
        r->fam->teacher_losses(r->job, terms, sizeof terms);
        size_t k = 0;
        for (const char *q = terms; *q && k + 2 < sizeof shown; q++)
            if (*q != '"') shown[k++] = *q == ',' ? ' ' : *q == ':' ? ' ' : *q;
        shown[k] = '\0';
        char extra[640];
        snprintf(extra, sizeof extra, "loss %.4f  lr %.2e  epoch %lld%s%s", r->loss_sum / (double)r->loss_n, lr,
                 (long long)epoch, k ? "  " : "", shown);
        ofa_progress_update(&prog, step + 1, tokens, extra, step + 1 == total);
        ofa_jsonl_write(&r->log,
                        "{\"stage\":\"teacher\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.6g,\"lr\":%.6g,"
                        "\"grad_norm\":%.6g,\"tokens\":%d%s%s}",
                        (long long)step + 1, (long long)epoch, loss, lr, gnorm, (int)tokens, k ? "," : "", terms);
        if ((step + 1) % eval_every == 0 || step + 1 == total) {
            ofa_score s;
            rc = r->fam->score(&r->model, NULL, r->dev, &s);
            if (rc < 0) break;
            snprintf(r->metric_name, sizeof r->metric_name, "%s", s.name);
            /* comparable as "higher is better" whatever the metric's direction */
            double metric = s.metric, key = s.higher_better ? metric : -metric;
            int best = key > (s.higher_better ? res->best_metric : -res->best_metric) || res->best_step == 0;
            best = best && isfinite(metric);
            /* the best weights are saved before the line says so (a full disk fails the save) */
            if (best) rc = save(r, r->best, step + 1, epoch, metric, &drop_rng, NULL, NULL);
            OFA_INFO("teacher: step %lld dev %s %.4f%s  [%.1fs]", (long long)step + 1, s.name, metric,
                     !best ? "" : rc == 0 ? "  best so far, saved" : "  best so far, NOT saved", s.seconds);
            char fields[512] = "";
            for (int k = 0, used = 0; k < s.n_extra && used < (int)sizeof fields - 40; k++)
                used += snprintf(fields + used, sizeof fields - (size_t)used, "\"dev_%s\":%.6g,", s.extra_name[k],
                                 s.extra[k]);
            ofa_jsonl_write(&r->log,
                            "{\"stage\":\"teacher\",\"step\":%lld,\"metric\":\"%s\",\"dev_main\":%.6g,%s"
                            "\"train_loss\":%.6g}",
                            (long long)step + 1, s.name, metric, fields, r->loss_sum / (double)r->loss_n);
            r->loss_sum = 0;
            r->loss_n = 0;
            if (rc < 0) break;
            if (best) {
                res->best_metric = metric;
                res->best_step = step + 1;
            }
            if (step + 1 < total && (rc = save_state(r, step + 1, epoch, &drop_rng)) < 0) break;
        }
        if (ofa_stop_requested() && step + 1 < total) {
            if ((step + 1) % eval_every != 0 && (rc = save_state(r, step + 1, epoch, &drop_rng)) < 0) break;
            OFA_INFO("teacher: stop requested by a signal; checkpoint of step %lld written, exiting with status %d "
                     "(requeue to resume)",
                     (long long)step + 1, OFA_EXIT_REQUEUE);
            rc = OFA_STOPPED;
            break;
        }
    }
    if (rc == 0 && res->best_step == 0)
        rc = OFA_ERR(OFA_E_RUNTIME, "teacher: no evaluation produced a finite dev score; nothing was saved");
    if (rc == 0) { /* the stage is complete: the best weights become teacher.h5 */
        rc = ofa_h5_move(r->best, r->path);
        if (rc == 0) ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
    }
    res->steps = total;
    snprintf(res->metric_name, sizeof res->metric_name, "%s", r->metric_name);
    free(order);
    return rc;
}

int ofa_teacher_train(const ofa_config *c, int flags, ofa_teacher_result *res)
{
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.flags = flags;
    OFA_TRY(ofa_mkdirs(c->experiment.output_dir));
    ofa_run_path(r.path, sizeof r.path, c, OFA_RUN_TEACHER);
    ofa_run_path(r.dir, sizeof r.dir, c, OFA_RUN_CKPT);
    snprintf(r.best, sizeof r.best, "%s/%s", r.dir, OFA_RUN_TEACHER_BEST);
    OFA_TRY(ofa_mkdirs(r.dir));
    char logpath[OFA_PATH_MAX + 32];
    ofa_run_path(logpath, sizeof logpath, c, OFA_RUN_METRICS);
    int rc = ofa_jsonl_open(&r.log, logpath);
    if (rc == 0) rc = prepare(&r);
    if (rc == 0)
        ofa_jsonl_write(&r.log, "{\"event\":\"start\",\"stage\":\"teacher\",\"config\":\"%s\",\"task\":\"%s\"}",
                        c->source, r.fam->model_task(&r.model));
    if (rc == 0) rc = train_loop(&r, res);
    run_free(&r);
    res->seconds = ofa_now() - t0;
    if (rc == 0)
        OFA_INFO("teacher: done in %.0fs; best dev %s %.4f at step %lld -> %s", res->seconds, res->metric_name,
                 res->best_metric, (long long)res->best_step, r.path);
    return rc;
}
