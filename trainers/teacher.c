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
#include "core/topo.h"
#include "models/checkpoint.h"
#include "models/registry.h"
#include "nn/optim.h"


/* the schedule of a training stage: its config section's keys */
typedef struct sched {
    double epochs, lr, decay_epochs;
    int64_t max_steps, eval_every;
    int batch_size;
    const char *section; /* "teacher", "student", "prune": the keys' prefix in messages */
} sched;

typedef struct run {
    const ofa_config *c;
    int stage;                     /* OFA_STAGE_TEACHER, _STUDENT or _PRUNE (= the family's ofa_train_kind) */
    const char *name;              /* its name: logs, metrics.jsonl "stage", the resume messages */
    const char *dev_name;          /* the split the best weights are chosen on, for logs ("dev", "val") */
    sched s;
    char prefix[32];               /* ckpt/<prefix>NNNNNNNN.h5: the training states */
    const ofa_family *fam;
    ofa_model model;
    ofa_data *train, *dev;
    ofa_teacher_job *job;
    ofa_adamw opt;
    ofa_jsonl log;
    char path[OFA_PATH_MAX + 32];  /* <output_dir>/teacher.h5 (student.h5, pruned.h5), written when the stage completes */
    char dir[OFA_PATH_MAX + 32];   /* <output_dir>/ckpt: training state and the best weights so far */
    char best[OFA_PATH_MAX + 64];  /* <dir>/teacher_best.h5 (student_best.h5, prune_best.h5) */
    char fingerprint[1024];        /* the settings a training state depends on (see fingerprint()) */
    char *stage_fp;                /* what the output is made from (coordinator/fingerprint) */
    int flags;                     /* OFA_STAGE_FORCE, OFA_STAGE_FRESH */
    char metric_name[32];
    double loss_sum;               /* training loss summed since the last evaluation (logged average) */
    int64_t loss_n;
    /* data parallelism: every member of t->train holds the model and applies the same update; the
     * workers among them compute a part of each batch */
    ofa_topo *t;                   /* NULL: one process */
    int members, member;           /* t->train's size and this rank's index in it (1, 0 alone) */
    int workers, worker;           /* ranks that compute gradients, this one's index (-1: none) */
    int n_terms;                   /* the family's loss terms */
    size_t state_n;                /* floats of a rank's family state (teacher_state_floats) */
    float *states;                 /* rank 0: every member's state, [members, state_n], for a save */
    int state_empty;               /* the resumed file's states do not fit: start them empty */
} run;

#define STATE_PREFIX r->prefix
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
    free(r->states);
}

static int is_root(const run *r) { return r->member == 0; }

/* Did any member fail?  (one process: rc itself) */
static int agree(run *r, int rc) { return r->t && r->members > 1 ? ofa_topo_agree_on(r->t, r->t->train, rc) : rc; }

/* Every member's family state into r->states on rank 0 (collective over the members). */
static int gather_states(run *r)
{
    if (!r->state_n) return 0;
    float *mine = ofa_xmalloc(r->state_n * sizeof(float));
    r->fam->teacher_state_get(r->job, mine);
    int rc = 0;
    if (r->members == 1) {
        memcpy(r->states, mine, r->state_n * sizeof(float));
    } else if (r->state_n > (size_t)INT32_MAX) {
        rc = OFA_ERR(OFA_E_RUNTIME, "%s: a training state of %zu floats per rank is too large to gather", r->name,
                     r->state_n);
    } else {
        rc = ofa_mpi_check(MPI_Gather(mine, (int)r->state_n, MPI_FLOAT, r->states, (int)r->state_n, MPI_FLOAT, 0,
                                      r->t->train),
                           "MPI_Gather (training stage state)", r->t->rank);
    }
    free(mine);
    return rc;
}

static int prepare(run *r)
{
    const ofa_config *c = r->c;
    r->fam = ofa_family_find(c->model.type);
    if (!r->fam)
        return OFA_ERR(OFA_E_CONFIG, "%s: model.type '%s' is not a model family this build knows",
                       ofa_config_origin(c, "model.type"), c->model.type);
    /* the data first: its loader's errors say what is missing and how to point at it */
    if (r->fam->select_split) r->dev_name = r->fam->select_split;
    OFA_TRY(r->fam->teacher_create(&r->job, r->stage, c, &r->model, &r->train, &r->dev));
    const char *const *terms = r->fam->teacher_terms(r->job);
    OFA_ASSERT(terms);
    for (r->n_terms = 0; terms[r->n_terms]; r->n_terms++) OFA_ASSERT(r->n_terms < OFA_TEACHER_TERMS);
    OFA_ASSERT(3 + OFA_TEACHER_TERMS <= OFA_GRAD_EXTRA);
    r->state_n = r->fam->teacher_state_floats(r->job);
    if (r->state_n && is_root(r)) r->states = ofa_xmalloc((size_t)r->members * r->state_n * sizeof(float));
    return ofa_fingerprint_make(&r->stage_fp, c, r->stage, NULL, NULL);
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
             (long long)c->experiment.seed, (long long)total, r->s.batch_size, fam, r->s.lr, c->optim.warmup_ratio,
             c->optim.weight_decay, c->optim.grad_clip, (long long)r->s.eval_every, c->model.dropout,
             c->model.init_std);
    if (r->s.decay_epochs >= 0) {
        size_t n = strlen(r->fingerprint);
        snprintf(r->fingerprint + n, sizeof r->fingerprint - n, " decay_epochs=%.9g", r->s.decay_epochs);
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
    if (!r->state_n) return 0;
    /* the family's own state (a CycleGAN's image pools), one row per training rank */
    int64_t shape[2] = {r->members, (int64_t)r->state_n};
    return ofa_h5_write_f32(h, "teacher_state", r->states, 2, shape);
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
        OFA_WARN("%s: no usable training state in %s; starting from step 0 (old %s* files removed)", r->name, r->dir,
                 r->prefix);
    ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
    if (ofa_file_exists(r->best) && unlink(r->best) != 0)
        OFA_WARN("%s: cannot remove: %s", r->best, strerror(errno));
}

/* The settings that differ between two fingerprint strings of space-separated key=value words,
 * each as "key: had -> now" with the config key it comes from where there is one. */
static void settings_diff(const char *had, const char *now, char *out, size_t n)
{
    static const struct { const char *word, *key; } names[] = {
        {"seed", "experiment.seed"},   {"steps", "total steps"},          {"batch", "batch size"},
        {"lr", "learning rate"},       {"warmup", "optim.warmup_ratio"},  {"decay", "optim.weight_decay"},
        {"clip", "optim.grad_clip"},   {"eval_every", "eval_every"},       {"dropout", "model.dropout"},
        {"init_std", "model.init_std"}, {"vocab", "vocabulary size"},      {"examples", "training rows"}};
    size_t used = 0;
    out[0] = '\0';
    for (int pass = 0; pass < 2; pass++) { /* words of now that had lacks or differs in, then had's alone */
        const char *a = pass ? had : now, *b = pass ? now : had;
        for (const char *w = a; *w;) {
            const size_t len = strcspn(w, " "), klen = strcspn(w, "=");
            const char *other = NULL;
            for (const char *v = b; *v && !other;) {
                const size_t vl = strcspn(v, " ");
                if (strcspn(v, "=") == klen && klen < len && !strncmp(v, w, klen)) other = v;
                v += vl + (v[vl] == ' ');
            }
            const size_t olen = other ? strcspn(other, " ") : 0;
            const int differs = pass ? !other : !other || olen != len || strncmp(other, w, len);
            if (differs && klen < len && used < n) {
                const char *label = NULL;
                for (size_t i = 0; i < sizeof names / sizeof *names && !label; i++)
                    if (strlen(names[i].word) == klen && !strncmp(names[i].word, w, klen)) label = names[i].key;
                const int vl = (int)(len - klen - 1), ol = other ? (int)(olen - klen - 1) : 4;
                const char *val = w + klen + 1, *oval = other ? other + klen + 1 : "none";
                used += (size_t)snprintf(out + used, n - used, "%s%.*s%s%s%s: %.*s -> %.*s", used ? ", " : "", (int)klen,
                                         w, label ? " (" : "", label ? label : "", label ? ")" : "", pass ? vl : ol,
                                         pass ? val : oval, pass ? 4 : vl, pass ? "none" : val);
            }
            w += len + (w[len] == ' ');
        }
    }
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
        char diff[1024] = "none recorded";
        if (fp) settings_diff(fp, r->fingerprint, diff, sizeof diff);
        if (!fp || strcmp(fp, r->fingerprint) != 0)
            rc = OFA_ERR(OFA_E_CONFIG,
                         "%s: this %s training state was written under other settings than the config's (%s); "
                         "restore them, or pass --force (or delete %s/%s*) to train from step 0",
                         path, r->name, diff, r->dir, r->prefix);
        else if (stage_fp && (rc = ofa_fingerprint_check(path, stage_fp, r->stage_fp, 0, "", NULL)) < 0)
            rc = ofa_err_suffix(rc, "; restore it, or pass --force to train from step 0");
        free(fp);
        free(stage_fp);
        if (rc < 0 && (r->flags & OFA_STAGE_FORCE)) {
            OFA_WARN("%s: %s; discarded (--force)", r->name, ofa_err_msg());
            ofa_err_clear();
            discard_state(r);
            return 0;
        }
        if (rc < 0) return rc;
    }
    return 0;
}

/* The family states of a training-state file into r->states: one row per training rank of the run
 * that wrote it; a run with another rank count starts every rank's state empty (a warning). */
static int read_states(run *r, ofa_h5 *h, const char *path)
{
    int nd = 0;
    int64_t sh[OFA_H5_MAX_DIMS];
    if (!ofa_h5_exists(h, "teacher_state"))
        return OFA_ERR(OFA_E_FORMAT, "%s: no /teacher_state (the family's training state)", path);
    OFA_TRY(ofa_h5_shape(h, "teacher_state", &nd, sh));
    if (nd != 2 || sh[1] != (int64_t)r->state_n)
        return OFA_ERR(OFA_E_FORMAT, "%s: /teacher_state is not [ranks, %zu]", path, r->state_n);
    if (sh[0] != r->members) {
        OFA_WARN("%s: %s holds the state of %lld training ranks, this run has %d; every rank starts it empty "
                 "(a CycleGAN's image pools), so the result differs from an uninterrupted run",
                 r->name, path, (long long)sh[0], r->members);
        r->state_empty = 1;
        return 0;
    }
    return ofa_h5_read_f32(h, "teacher_state", r->states, 2, sh);
}

/* The newest state checkpoint that loads and matches this model: weights, AdamW state and the
 * dropout RNG restored, the best-so-far from teacher_best.h5.  Returns the step to start from (0:
 * none), or OFA_E_CONFIG when a state was written under other settings. */
static int64_t try_resume(run *r, ofa_rng *drop_rng, ofa_teacher_result *res)
{
    if (r->flags & OFA_STAGE_FRESH) { /* the output is recomputed: nothing of an earlier run is reused */
        ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
        if (ofa_file_exists(r->best) && unlink(r->best) != 0)
            OFA_WARN("%s: cannot remove: %s", r->best, strerror(errno));
        return 0;
    }
    OFA_TRY(check_states(r));
    ofa_ckpt_meta state;
    const int64_t start = ofa_ckpt_resume_newest(r->dir, STATE_PREFIX, r->name, r->model.p, &r->opt, &state);
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
        if (rc == 0 && r->state_n) rc = read_states(r, &h, path);
        ofa_h5_close(&h);
    }
    if (rc < 0) return rc;
    if (ofa_file_exists(r->best)) {
        ofa_ckpt_meta meta;
        if (ofa_ckpt_open(&h, r->best, &meta) < 0) { /* damaged: track the best from here on */
            OFA_WARN("%s: %s; the best weights are tracked again from step %lld, so the result may differ "
                     "from an uninterrupted run",
                     r->name, ofa_err_msg(), (long long)start);
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
    /* the steps logged after that state (before a kill) are logged again: drop the first copy */
    char logpath[OFA_PATH_MAX + 32];
    ofa_run_path(logpath, sizeof logpath, r->c, OFA_RUN_METRICS);
    int64_t dropped = 0;
    OFA_TRY(ofa_jsonl_drop_after(&r->log, logpath, r->name, start, &dropped));
    if (dropped) OFA_INFO("%s: %s: %lld lines past step %lld removed (they are logged again)", r->name, logpath,
                          (long long)dropped, (long long)start);
    ofa_jsonl_write(&r->log, "{\"event\":\"resume\",\"stage\":\"%s\",\"step\":%lld,\"dropped\":%lld}", r->name,
                    (long long)start, (long long)dropped);
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

/* Rank 0's starting point on every member: the step, weights, AdamW state, the loss average in
 * progress, and each member's family state (collective over the members). */
static int share_start(run *r, int64_t *start)
{
    if (r->members == 1) {
        if (r->state_n) r->fam->teacher_state_set(r->job, *start > 0 && !r->state_empty ? r->states : NULL);
        return 0;
    }
    MPI_Comm comm = r->t->train;
    int64_t v[3] = {*start, r->opt.t, r->state_empty};
    OFA_TRY(ofa_mpi_check(MPI_Bcast(v, 3, MPI_INT64_T, 0, comm), "MPI_Bcast (training stage start)", r->t->rank));
    *start = v[0];
    r->opt.t = v[1];
    r->state_empty = (int)v[2];
    /* the same replica everywhere, resumed or freshly initialised */
    ofa_params *p = r->model.p;
    OFA_TRY(ofa_topo_bcast_floats(comm, p->data, p->total));
    OFA_TRY(ofa_topo_bcast_floats(comm, p->m, p->total));
    OFA_TRY(ofa_topo_bcast_floats(comm, p->v, p->total));
    if (!r->state_n) return 0;
    if (*start == 0 || r->state_empty) {
        r->fam->teacher_state_set(r->job, NULL);
        return 0;
    }
    if (r->state_n > (size_t)INT32_MAX)
        return OFA_ERR(OFA_E_RUNTIME, "%s: a training state of %zu floats per rank is too large", r->name, r->state_n);
    float *mine = ofa_xmalloc(r->state_n * sizeof(float));
    int rc = ofa_mpi_check(MPI_Scatter(r->states, (int)r->state_n, MPI_FLOAT, mine, (int)r->state_n, MPI_FLOAT, 0, comm),
                           "MPI_Scatter (training stage state)", r->t->rank);
    if (rc == 0) r->fam->teacher_state_set(r->job, mine);
    free(mine);
    return rc;
}

/* One optimizer step on every member: this worker's part of the batch order[0..bs), one allreduce
 * of the gradients with the step's statistics riding after them, the same update everywhere.
 * out: loss, tokens, stop flag, the family's terms (sums over the workers). */
static int dp_step(run *r, const int64_t *batch, int bs, int64_t step, double lr, double *out, double *gnorm)
{
    const ofa_config *c = r->c;
    int lo = 0, hi = 0; /* this worker's examples: a contiguous part, sizes differing by at most one */
    if (r->worker >= 0) {
        lo = (int)((int64_t)bs * r->worker / r->workers);
        hi = (int)((int64_t)bs * (r->worker + 1) / r->workers);
    }
    /* dropout, a GAN's pool: keyed by (seed, step, rank), so a resumed step draws what it drew */
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)c->experiment.seed, 2, ((uint64_t)step << 16) | (uint64_t)r->member);
    double loss, tokens, terms[OFA_TEACHER_TERMS] = {0};
    ofa_params *p = r->model.p;
    /* a family whose backward says what it has finished (nn/params.h) gets its buckets reduced
     * behind the rest of the backward */
    ofa_topo_buckets bk;
    ofa_topo_buckets_begin(&bk, r->t, p->grad, p->total, r->members > 1 ? c->mpi.bucket_mb : 0);
    p->final_fn = ofa_topo_buckets_on_final, p->final_ctx = &bk;
    r->fam->teacher_grads(r->job, batch + lo, hi - lo, bs, &rng, &loss, terms, &tokens);
    p->final_fn = NULL, p->final_ctx = NULL;
    const int n_stat = 3 + r->n_terms;
    out[0] = loss, out[1] = tokens, out[2] = ofa_stop_requested() ? 1 : 0;
    for (int k = 0; k < r->n_terms; k++) out[3 + k] = terms[k];
    int rc = 0;
    if (r->members > 1) {
        float *extra = p->grad + p->total; /* OFA_GRAD_EXTRA floats after the gradients */
        for (int k = 0; k < n_stat; k++) extra[k] = (float)out[k];
        rc = ofa_topo_buckets_finish(&bk, extra, (size_t)n_stat);
        for (int k = 0; k < n_stat; k++) out[k] = extra[k];
    }
    ofa_topo_buckets_free(&bk);
    OFA_TRY(rc);
    *gnorm = 0;
    if (isfinite(out[0])) *gnorm = r->fam->teacher_apply(r->job, lr, &r->opt);
    return 0;
}

static int train_loop(run *r, ofa_teacher_result *res)
{
    const ofa_config *c = r->c;
    const int B = r->s.batch_size;
    const int64_t n = r->fam->data_size(r->train), per_epoch = (n + B - 1) / B;
    double planned = r->s.max_steps > 0 ? (double)r->s.max_steps : ceil(r->s.epochs * (double)per_epoch);
    if (!(planned >= 1 && planned <= 1e10))
        return OFA_ERR(OFA_E_CONFIG, "%s: %s.epochs %g gives %g steps (1 to 1e10 allowed)", c->source, r->s.section,
                       r->s.epochs, planned);
    int64_t total = (int64_t)planned;
    int64_t warmup = (int64_t)(c->optim.warmup_ratio * (double)total);
    int64_t eval_every = r->s.eval_every > 0 ? r->s.eval_every : per_epoch;
    int64_t decay_start = warmup;
    if (r->s.decay_epochs >= 0) {
        double d = (double)total - ceil(r->s.decay_epochs * (double)per_epoch);
        decay_start = d > (double)warmup ? (int64_t)d : warmup;
    }
    ofa_rng drop_rng, order_rng;
    ofa_rng_keyed(&drop_rng, (uint64_t)c->experiment.seed, 2, 0); /* kept in the files' rng attribute */
    ofa_adamw_init_ex(&r->opt, c->optim.beta1, c->optim.beta2, c->optim.eps, c->optim.weight_decay);
    if (r->members > 1)
        OFA_INFO("%s: %lld steps (%lld per epoch), batch %d split over %d training ranks, lr %g, warmup %lld", r->name,
                 (long long)total, (long long)per_epoch, B, r->workers, r->s.lr, (long long)warmup);
    else
        OFA_INFO("%s: %lld steps (%lld per epoch), batch %d, lr %g, warmup %lld", r->name, (long long)total,
                 (long long)per_epoch, B, r->s.lr, (long long)warmup);

    res->best_metric = -INFINITY;
    fingerprint(r, total);
    int64_t start = 0;
    int rc = 0;
    if (is_root(r)) {
        start = try_resume(r, &drop_rng, res);
        if (start < 0) rc = (int)start, start = 0;
    }
    OFA_TRY(agree(r, rc));
    OFA_TRY(share_start(r, &start));
    res->resumed_from = start;
    int64_t *order = ofa_xmalloc((size_t)n * sizeof *order);
    ofa_progress prog;
    ofa_progress_init(&prog, r->name, total, start, 10.0);
    ofa_progress_set_unit(&prog, r->fam->item_unit);
    /* every epoch is per_epoch steps, so a step number fixes the epoch and the position in it */
    int64_t epoch = start / per_epoch - 1, pos = n;
    if (start % per_epoch != 0) {
        epoch = start / per_epoch;
        ofa_rng_keyed(&order_rng, (uint64_t)c->experiment.seed, 1, (uint64_t)epoch);
        r->fam->data_epoch_order(r->train, order, B, &order_rng);
        pos = (start % per_epoch) * B;
    }
    double stat[3 + OFA_TEACHER_TERMS];
    for (int64_t step = start; step < total; step++) {
        if (pos >= n) { /* new epoch: a fresh permutation keyed by (seed, epoch) */
            epoch++;
            ofa_rng_keyed(&order_rng, (uint64_t)c->experiment.seed, 1, (uint64_t)epoch);
            r->fam->data_epoch_order(r->train, order, B, &order_rng);
            pos = 0;
        }
        int bs = (int)(n - pos < B ? n - pos : B);
        double lr = lr_at(r->s.lr, step, warmup, decay_start, total), gnorm;
        if ((rc = dp_step(r, order + pos, bs, step, lr, stat, &gnorm)) < 0) break;
        const double loss = stat[0], tokens = stat[1];
        const int stop = stat[2] > 0;
        pos += bs;
        if (!isfinite(loss)) { /* the same sum on every member: all stop here */
            rc = OFA_ERR(OFA_E_RUNTIME, "%s: loss became %g at step %lld; lower %s.lr", r->name, loss, (long long)step,
                         r->s.section);
            break;
        }
        r->loss_sum += loss;
        r->loss_n++;
        /* the family's loss terms: "G 1.23 D_A 0.25" on the progress line, members of the JSON line */
        char shown[512] = "", terms[640] = "";
        for (int k = 0, a = 0, b = 0; k < r->n_terms; k++) {
            const char *term = r->fam->teacher_terms(r->job)[k];
            a += snprintf(shown + a, sizeof shown - (size_t)a, "  %s %.3f", term, stat[3 + k]);
            b += snprintf(terms + b, sizeof terms - (size_t)b, ",\"%s\":%.6g", term, stat[3 + k]);
            if (a >= (int)sizeof shown - 40 || b >= (int)sizeof terms - 40) break;
        }
        if (is_root(r)) {
            char extra[640];
            snprintf(extra, sizeof extra, "loss %.4f  lr %.2e  epoch %lld%s", r->loss_sum / (double)r->loss_n, lr,
                     (long long)epoch, shown);
            ofa_progress_update(&prog, step + 1, tokens, extra, step + 1 == total);
            ofa_jsonl_write(&r->log,
                            "{\"stage\":\"%s\",\"step\":%lld,\"epoch\":%lld,\"loss\":%.6g,\"lr\":%.6g,"
                            "\"grad_norm\":%.6g,\"tokens\":%d%s}",
                            r->name, (long long)step + 1, (long long)epoch, loss, lr, gnorm, (int)tokens, terms);
        }
        const int eval_now = (step + 1) % eval_every == 0 || step + 1 == total;
        const int keep_state = (eval_now && step + 1 < total) || (stop && step + 1 < total);
        if (keep_state) rc = gather_states(r);
        if (eval_now && is_root(r) && rc == 0) {
            ofa_score s;
            rc = r->fam->score(&r->model, NULL, r->dev, &s);
            if (rc == 0) {
                snprintf(r->metric_name, sizeof r->metric_name, "%s", s.name);
                /* comparable as "higher is better" whatever the metric's direction */
                double metric = s.metric, key = s.higher_better ? metric : -metric;
                int best = key > (s.higher_better ? res->best_metric : -res->best_metric) || res->best_step == 0;
                best = best && isfinite(metric);
                /* the best weights are saved before the line says so (a full disk fails the save) */
                if (best) rc = save(r, r->best, step + 1, epoch, metric, &drop_rng, NULL, NULL);
                OFA_INFO("%s: step %lld %s %s %.4f%s%s%s%s  [%.1fs]", r->name, (long long)step + 1, r->dev_name, s.name,
                         metric,
                         s.detail[0] ? " (" : "", s.detail, s.detail[0] ? ")" : "",
                         !best ? "" : rc == 0 ? "  best so far, saved" : "  best so far, NOT saved", s.seconds);
                char fields[512] = "";
                for (int k = 0, used = 0; k < s.n_extra && used < (int)sizeof fields - 40; k++)
                    used += snprintf(fields + used, sizeof fields - (size_t)used, "\"dev_%s\":%.6g,", s.extra_name[k],
                                     s.extra[k]);
                ofa_jsonl_write(&r->log,
                                "{\"stage\":\"%s\",\"step\":%lld,\"metric\":\"%s\",\"dev_main\":%.6g,%s"
                                "\"train_loss\":%.6g}",
                                r->name, (long long)step + 1, s.name, metric, fields, r->loss_sum / (double)r->loss_n);
                if (rc == 0 && best) {
                    res->best_metric = metric;
                    res->best_step = step + 1;
                }
            }
        }
        if (eval_now) r->loss_sum = 0, r->loss_n = 0;
        if (keep_state && is_root(r) && rc == 0) rc = save_state(r, step + 1, epoch, &drop_rng);
        if (eval_now || keep_state) rc = agree(r, rc); /* rank 0's score and saves, on every member */
        if (rc < 0) break;
        if (stop && step + 1 < total) {
            OFA_INFO("%s: stop requested by a signal; checkpoint of step %lld written, exiting with status %d "
                     "(requeue to resume)",
                     r->name, (long long)step + 1, OFA_EXIT_REQUEUE);
            rc = OFA_STOPPED;
            break;
        }
    }
    if (rc == 0 && is_root(r) && res->best_step == 0)
        rc = OFA_ERR(OFA_E_RUNTIME, "%s: no evaluation produced a finite %s score; nothing was saved", r->name,
                     r->dev_name);
    if (rc == 0 && is_root(r)) { /* the stage is complete: the best weights become its output */
        rc = ofa_h5_move(r->best, r->path);
        if (rc == 0) ofa_ckpt_prune(r->dir, STATE_PREFIX, 0);
    }
    if (rc != OFA_STOPPED) rc = agree(r, rc);
    res->steps = total;
    snprintf(res->metric_name, sizeof res->metric_name, "%s", r->metric_name);
    free(order);
    return rc;
}

/* the schedule of a training stage from its config section */
static void sched_of(sched *s, const ofa_config *c, int stage)
{
    switch (stage) {
    case OFA_STAGE_STUDENT:
        *s = (sched){c->student.epochs,   c->student.lr,         c->student.decay_epochs, c->student.max_steps,
                     c->student.eval_every, c->student.batch_size, "student"};
        break;
    case OFA_STAGE_PRUNE:
        *s = (sched){c->prune.epochs,   c->prune.lr,         c->prune.decay_epochs, c->prune.max_steps,
                     c->prune.eval_every, c->prune.batch_size, "prune"};
        break;
    default:
        OFA_ASSERT(stage == OFA_STAGE_TEACHER);
        *s = (sched){c->teacher.epochs,   c->teacher.lr,         c->teacher.decay_epochs, c->teacher.max_steps,
                     c->teacher.eval_every, c->teacher.batch_size, "teacher"};
    }
}

int ofa_train_stage(const ofa_config *c, ofa_topo *t, int stage, int flags, ofa_teacher_result *res)
{
    OFA_ASSERT(stage == OFA_STAGE_TEACHER || stage == OFA_STAGE_STUDENT || stage == OFA_STAGE_PRUNE);
    _Static_assert((int)OFA_STAGE_TEACHER == (int)OFA_TRAIN_TEACHER && (int)OFA_STAGE_STUDENT == (int)OFA_TRAIN_STUDENT &&
                       (int)OFA_STAGE_PRUNE == (int)OFA_TRAIN_PRUNE,
                   "the training stages are the family's training kinds");
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    run r;
    memset(&r, 0, sizeof r);
    r.c = c;
    r.stage = stage;
    r.name = ofa_stage_name(stage);
    r.dev_name = "dev";
    sched_of(&r.s, c, stage);
    snprintf(r.prefix, sizeof r.prefix, "%s",
             stage == OFA_STAGE_STUDENT ? OFA_RUN_STUDENT_STEP : stage == OFA_STAGE_PRUNE ? OFA_RUN_PRUNE_STEP
                                                                                           : OFA_RUN_TEACHER_STEP);
    r.flags = flags;
    r.t = t;
    r.members = 1, r.workers = 1;
    if (t && t->train != MPI_COMM_NULL && t->train_size > 1) {
        r.members = t->train_size, r.member = t->train_rank;
        r.workers = t->n_workers, r.worker = t->worker_index;
    }
    OFA_ASSERT(!t || t->train != MPI_COMM_NULL); /* evaluators do not take part */
    ofa_run_path(r.path, sizeof r.path, c, ofa_stage_file(stage));
    ofa_run_path(r.dir, sizeof r.dir, c, OFA_RUN_CKPT);
    snprintf(r.best, sizeof r.best, "%s/%s", r.dir,
             stage == OFA_STAGE_STUDENT ? OFA_RUN_STUDENT_BEST : stage == OFA_STAGE_PRUNE ? OFA_RUN_PRUNE_BEST
                                                                                          : OFA_RUN_TEACHER_BEST);
    int rc = 0;
    if (is_root(&r)) {
        rc = ofa_mkdirs(c->experiment.output_dir);
        if (rc == 0) rc = ofa_mkdirs(r.dir);
        char logpath[OFA_PATH_MAX + 32];
        ofa_run_path(logpath, sizeof logpath, c, OFA_RUN_METRICS);
        if (rc == 0) rc = ofa_jsonl_open(&r.log, logpath);
    }
    if (rc == 0) rc = prepare(&r);
    rc = agree(&r, rc);
    if (rc == 0 && is_root(&r))
        ofa_jsonl_write(&r.log, "{\"event\":\"start\",\"stage\":\"%s\",\"config\":\"%s\",\"task\":\"%s\"}",
                        r.name, c->source, r.fam->model_task(&r.model));
    if (rc == 0) rc = train_loop(&r, res);
    run_free(&r);
    res->seconds = ofa_now() - t0;
    if (rc == 0)
        OFA_INFO("%s: done in %.0fs; best %s %s %.4f at step %lld -> %s", r.name, res->seconds, r.dev_name,
                 res->metric_name,
                 res->best_metric, (long long)res->best_step, r.path);
    return rc;
}

int ofa_teacher_train(const ofa_config *c, ofa_topo *t, int flags, ofa_teacher_result *res)
{
    return ofa_train_stage(c, t, OFA_STAGE_TEACHER, flags, res);
}
