#include "trainers/supernet.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/taskdata.h"
#include "nn/optim.h"
#include "supernet/bert.h"
#include "trainers/distill.h"

/* RNG stream tags, so the streams keyed by (seed, step, j) never coincide */
#define STREAM_SUBNET 0x5ab7e7ULL
#define STREAM_DROPOUT 0xd50ULL
#define STREAM_ORDER 0x0bdeULL

int ofa_supernet_plan(const ofa_config *c, const ofa_space *s, int elastic, int64_t step, ofa_arch *archs)
{
    const char *strategy = c->supernet.sampler;
    if (!strcmp(strategy, "grid")) {
        int n = ofa_arch_grid(NULL, s);
        OFA_ASSERT(n <= OFA_MAX_SUBNETS);
        ofa_arch *grid = ofa_xmalloc((size_t)n * sizeof *grid);
        ofa_arch_grid(grid, s);
        int k = 0, dmax = s->depth[s->n_depth - 1], wmax = s->heads[s->n_heads - 1];
        for (int i = 0; i < n; i++) {
            if (!(elastic & OFA_ELASTIC_DEPTH) && grid[i].depth != dmax) continue;
            if (!(elastic & OFA_ELASTIC_WIDTH) && grid[i].heads[0] != wmax) continue;
            archs[k++] = grid[i];
        }
        free(grid);
        return k;
    }
    int n = c->supernet.subnets_per_step;
    OFA_ASSERT(n >= 1 && n <= OFA_MAX_SUBNETS);
    for (int j = 0; j < n; j++) {
        ofa_rng r;
        ofa_rng_keyed(&r, (uint64_t)c->experiment.seed ^ STREAM_SUBNET, (uint64_t)step, (uint64_t)j);
        if (!strcmp(strategy, "sandwich") && j == 0) ofa_arch_largest(&archs[j], s);
        else if (!strcmp(strategy, "sandwich") && j == 1) ofa_arch_smallest(&archs[j], s, elastic);
        else ofa_arch_random(&archs[j], s, elastic, &r);
    }
    return n;
}

int ofa_supernet_space(ofa_space *s, const ofa_config *c, const ofa_bert_dims *d, const char *where)
{
    int rc = ofa_space_init(s, d->L, d->A, d->F, d->H, c->supernet.depth_rule, c->supernet.depth, c->supernet.n_depth,
                            c->supernet.heads, c->supernet.n_heads, c->supernet.ffn, c->supernet.n_ffn,
                            c->supernet.hidden, c->supernet.n_hidden);
    if (rc < 0)
        return ofa_err_prefix(rc, "%s: supernet.space does not fit the model in %s (%d layers, %d heads, ffn %d, "
                                  "hidden %d)",
                              c->source, where, d->L, d->A, d->F, d->H);
    return 0;
}

typedef struct run {
    const ofa_config *c;
    int task, C, M, B;
    ofa_space space;
    ofa_vocab vocab;
    ofa_ckpt_meta tmeta;
    ofa_encoded train;
    ofa_bert teacher, student;
    ofa_bert_acts ta, sa;
    ofa_adamw opt;
    ofa_jsonl log;
    float *dlogits, *dhidden[OFA_MAX_LAYERS + 1];
    int64_t *order, order_epoch, nb;
    ofa_batch batch;
    char dir[OFA_PATH_MAX + 16];
} run;

static void run_free(run *r)
{
    ofa_vocab_free(&r->vocab);
    ofa_ckpt_meta_free(&r->tmeta);
    ofa_encoded_free(&r->train);
    ofa_bert_acts_free(&r->ta);
    ofa_bert_acts_free(&r->sa);
    ofa_bert_free(&r->teacher);
    ofa_bert_free(&r->student);
    ofa_jsonl_close(&r->log);
    free(r->dlogits);
    for (int i = 0; i <= OFA_MAX_LAYERS; i++) free(r->dhidden[i]);
    free(r->order);
    ofa_batch_free(&r->batch);
}

static int prepare(run *r)
{
    const ofa_config *c = r->c;
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/teacher_reordered.h5", c->experiment.output_dir);
    if (!ofa_file_exists(path))
        return OFA_ERR(OFA_E_IO, "%s: no reordered teacher; run 'ofa reorder %s' first", path, c->source);
    OFA_TRY(ofa_ckpt_load_bert(path, &r->teacher, &r->vocab, &r->tmeta, NULL));
    if (strcmp(r->tmeta.kind, "teacher") != 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: kind is '%s', expected a teacher", path, r->tmeta.kind);
    const ofa_bert_dims *d = &r->teacher.d;
    OFA_TRY(ofa_supernet_space(&r->space, c, d, path));
    r->task = ofa_task_from_name(r->tmeta.task);
    if (r->task < 0) return OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s'", path, r->tmeta.task);
    r->C = d->C;
    ofa_encoded all;
    OFA_TRY(ofa_taskdata_encode(&all, c->data.glue_dir, r->task, "train", &r->vocab, r->tmeta.lowercase,
                                r->tmeta.max_seq_len, c->data.skip_bad_rows, c->data.train_limit));
    int64_t *tr, *va, ntr, nva;
    ofa_holdout_split(all.n, c->search.val_fraction, (uint64_t)c->experiment.seed, &tr, &ntr, &va, &nva);
    ofa_encoded_subset(&r->train, &all, tr, ntr);
    ofa_encoded_free(&all);
    free(tr);
    free(va);
    OFA_INFO("supernet: %lld training examples (%lld held out for the search, search.val_fraction %.2f)",
             (long long)ntr, (long long)nva, c->search.val_fraction);
    r->B = c->supernet.batch_size;
    r->M = c->supernet.micro_batches;
    r->nb = r->train.n / r->B;
    if (r->nb < 1)
        return OFA_ERR(OFA_E_CONFIG, "%s: supernet.batch_size %d exceeds the %lld training examples", c->source, r->B,
                       (long long)r->train.n);
    OFA_TRY(ofa_bert_create(&r->student, d));
    memcpy(r->student.p.data, r->teacher.p.data, r->teacher.p.total * sizeof(float));
    int T = r->tmeta.max_seq_len;
    ofa_bert_acts_create(&r->ta, d, r->B, T);
    ofa_bert_acts_create(&r->sa, d, r->B, T);
    r->dlogits = ofa_xmalloc((size_t)r->B * r->C * sizeof(float));
    for (int j = 0; j <= d->L; j++) r->dhidden[j] = ofa_xalloc_aligned((size_t)r->B * T * d->H * sizeof(float));
    r->order = ofa_xmalloc((size_t)r->train.n * sizeof *r->order);
    r->order_epoch = -1;
    ofa_batch_init(&r->batch);
    ofa_adamw_init(&r->opt, c->teacher.weight_decay);
    return 0;
}

/* micro-batch u of the run: batch u mod nb of epoch u / nb */
static void make_micro_batch(run *r, int64_t u)
{
    int64_t epoch = u / r->nb, k = u % r->nb;
    if (epoch != r->order_epoch) {
        ofa_rng o;
        ofa_rng_keyed(&o, (uint64_t)r->c->experiment.seed ^ STREAM_ORDER, (uint64_t)epoch, 0);
        ofa_epoch_order(&r->train, r->order, r->B, &o);
        r->order_epoch = epoch;
    }
    ofa_batch_make(&r->batch, &r->train, r->order + k * r->B, r->B, r->vocab.pad);
}

typedef struct phase_plan {
    int64_t first, steps; /* global step range [first, first + steps) */
    int elastic;
    double lr;
} phase_plan;

static int plan_phases(run *r, phase_plan *pp, int64_t *total)
{
    const ofa_config *c = r->c;
    int64_t first = 0;
    for (int p = 0; p < c->supernet.n_phases; p++) {
        pp[p].first = first;
        pp[p].steps = (int64_t)ceil(c->supernet.phases[p].epochs * (double)r->nb / (double)r->M);
        pp[p].elastic = c->supernet.phases[p].elastic;
        pp[p].lr = c->supernet.phases[p].lr;
        if (c->supernet.max_steps > 0 && first + pp[p].steps > c->supernet.max_steps)
            pp[p].steps = c->supernet.max_steps - first > 0 ? c->supernet.max_steps - first : 0;
        first += pp[p].steps;
    }
    *total = first;
    if (first == 0) return OFA_ERR(OFA_E_CONFIG, "%s: supernet.phases give no training steps", c->source);
    return 0;
}

static void meta_for(run *r, ofa_ckpt_meta *m, const char *kind, int64_t step, int phase)
{
    ofa_ckpt_meta_init(m, kind);
    snprintf(m->task, sizeof m->task, "%s", r->tmeta.task);
    snprintf(m->metric_name, sizeof m->metric_name, "%s", r->tmeta.metric_name);
    m->step = step;
    m->phase = phase;
    m->epoch = step * r->M / r->nb;
    m->seed = r->c->experiment.seed;
    m->lowercase = r->tmeta.lowercase;
    m->max_seq_len = r->tmeta.max_seq_len;
    m->config_yaml = ofa_config_to_yaml(r->c);
}

static int ckpt_name_step(const char *name, int64_t *step)
{
    long long s;
    char tail[8];
    if (sscanf(name, "step_%lld.h5%7s", &s, tail) != 1 || strlen(name) != 16) return 0;
    *step = s;
    return 1;
}

/* Step numbers of the checkpoints in dir, newest first; returns the count (at most cap). */
static int list_ckpts(const char *dir, int64_t *steps, int cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        int64_t s;
        if (ckpt_name_step(e->d_name, &s)) steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

static int save_ckpt(run *r, int64_t step, int phase)
{
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/step_%08lld.h5", r->dir, (long long)step);
    ofa_ckpt_meta m;
    meta_for(r, &m, "supernet", step, phase);
    int rc = ofa_ckpt_save_bert(path, &r->student, &r->vocab, &m, &r->opt);
    ofa_ckpt_meta_free(&m);
    if (rc < 0) return rc;
    int64_t steps[256];
    int n = list_ckpts(r->dir, steps, 256);
    for (int i = r->c->supernet.checkpoint_keep; i < n; i++) {
        snprintf(path, sizeof path, "%s/step_%08lld.h5", r->dir, (long long)steps[i]);
        if (unlink(path) != 0) OFA_WARN("%s: cannot remove old checkpoint: %s", path, strerror(errno));
    }
    OFA_DEBUG("checkpoint step %lld written", (long long)step);
    return 0;
}

/* Loads the newest checkpoint that opens and verifies; returns its step, 0 when none. */
static int64_t try_resume(run *r)
{
    int64_t steps[256];
    int n = list_ckpts(r->dir, steps, 256);
    for (int i = 0; i < n; i++) {
        char path[OFA_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/step_%08lld.h5", r->dir, (long long)steps[i]);
        ofa_bert m;
        ofa_ckpt_meta meta;
        ofa_adamw opt = r->opt;
        int rc = ofa_ckpt_load_bert(path, &m, NULL, &meta, &opt);
        if (rc == 1 && m.p.total == r->student.p.total && meta.step == steps[i]) {
            memcpy(r->student.p.data, m.p.data, m.p.total * sizeof(float));
            memcpy(r->student.p.m, m.p.m, m.p.total * sizeof(float));
            memcpy(r->student.p.v, m.p.v, m.p.total * sizeof(float));
            r->opt = opt;
            ofa_bert_free(&m);
            ofa_ckpt_meta_free(&meta);
            OFA_INFO("supernet: resuming from %s (step %lld)", path, (long long)steps[i]);
            return steps[i];
        }
        if (rc >= 0) {
            ofa_bert_free(&m);
            ofa_ckpt_meta_free(&meta);
            OFA_WARN("%s: skipped: no optimizer state or a different model", path);
        } else {
            OFA_WARN("skipped checkpoint: %s", ofa_err_msg());
        }
    }
    return 0;
}

static int train(run *r, ofa_supernet_result *res)
{
    const ofa_config *c = r->c;
    phase_plan pp[OFA_MAX_PHASES];
    int64_t total;
    OFA_TRY(plan_phases(r, pp, &total));
    const ofa_distill_cfg dc = {c->supernet.lambda_logit, c->supernet.lambda_hidden, c->supernet.lambda_hard,
                                c->supernet.temperature};
    int64_t start = try_resume(r);
    res->resumed_from = start;
    ofa_arch *archs = ofa_xmalloc(OFA_MAX_SUBNETS * sizeof *archs);
    int rc = 0;
    for (int p = 0; p < c->supernet.n_phases && rc == 0; p++) {
        const phase_plan *ph = &pp[p];
        int64_t end = ph->first + ph->steps;
        if (end <= start) continue;
        char label[32];
        snprintf(label, sizeof label, "supernet phase %d/%d", p + 1, c->supernet.n_phases);
        OFA_INFO("%s: elastic%s%s%s, %lld steps, lr %g", label, ph->elastic & OFA_ELASTIC_WIDTH ? " width" : "",
                 ph->elastic & OFA_ELASTIC_DEPTH ? " depth" : "", ph->elastic & OFA_ELASTIC_HIDDEN ? " hidden" : "",
                 (long long)ph->steps, ph->lr);
        ofa_progress prog;
        ofa_progress_init(&prog, label, ph->steps, (start > ph->first ? start : ph->first) - ph->first, 10.0);
        int64_t warmup = (int64_t)(c->teacher.warmup_ratio * (double)ph->steps);
        for (int64_t s = start > ph->first ? start : ph->first; s < end; s++) {
            int n = ofa_supernet_plan(c, &r->space, ph->elastic, s, archs);
            /* which of this step's subnets are the largest and the smallest (by parameters) */
            int j_big = 0, j_small = 0;
            const ofa_bert_dims *d = &r->student.d;
            for (int j = 1; j < n; j++) {
                int64_t pj = ofa_arch_params(&archs[j], d->V, d->P, d->C, d->D);
                if (pj > ofa_arch_params(&archs[j_big], d->V, d->P, d->C, d->D)) j_big = j;
                if (pj < ofa_arch_params(&archs[j_small], d->V, d->P, d->C, d->D)) j_small = j;
            }
            double loss_sum = 0, loss_first = 0, loss_second = 0, tokens = 0;
            ofa_params_zero_grad(&r->student.p);
            for (int m = 0; m < r->M; m++) {
                make_micro_batch(r, s * r->M + m);
                const ofa_batch *b = &r->batch;
                ofa_bert_forward(&r->teacher, &r->ta, b->ids, b->types, b->lens, b->B, b->T, NULL, 0, 0.0, NULL);
                for (int j = m; j < n; j += r->M) {
                    ofa_rng drop;
                    ofa_rng_keyed(&drop, (uint64_t)c->experiment.seed ^ STREAM_DROPOUT, (uint64_t)s, (uint64_t)j);
                    ofa_bert_forward(&r->student, &r->sa, b->ids, b->types, b->lens, b->B, b->T, &archs[j], 1,
                                     c->model.dropout, &drop);
                    double loss = ofa_distill_loss(&dc, &r->sa, &r->ta, r->C, b->labels, b->targets, r->dlogits,
                                                   dc.lambda_hidden != 0 ? r->dhidden : NULL, NULL);
                    ofa_bert_backward(&r->student, &r->sa, r->dlogits,
                                      dc.lambda_hidden != 0 ? (const float *const *)r->dhidden : NULL);
                    loss_sum += loss;
                    if (j == j_big) loss_first = loss;
                    if (j == j_small) loss_second = loss;
                    tokens += (double)b->B * b->T;
                }
            }
            if (!isfinite(loss_sum)) {
                rc = OFA_ERR(OFA_E_RUNTIME, "supernet: loss became %g at step %lld; lower the phase lr", loss_sum,
                             (long long)s);
                break;
            }
            double gnorm = ofa_grad_clip(&r->student.p, c->teacher.grad_clip);
            double lr = ofa_lr_at(ph->lr, s - ph->first, warmup, ph->steps);
            ofa_adamw_step(&r->opt, &r->student.p, lr);
            char extra[160];
            snprintf(extra, sizeof extra, "loss %.4f (largest %.4f, smallest %.4f)  lr %.2e", loss_sum / n,
                     loss_first, loss_second, lr);
            ofa_progress_update(&prog, s + 1 - ph->first, tokens, extra, s + 1 == end);
            ofa_jsonl_write(&r->log,
                            "{\"stage\":\"supernet\",\"step\":%lld,\"phase\":%d,\"loss\":%.6g,\"loss_largest\":%.6g,"
                            "\"loss_smallest\":%.6g,\"subnets\":%d,\"lr\":%.6g,\"grad_norm\":%.6g}",
                            (long long)s + 1, p, loss_sum / n, loss_first, loss_second, n, lr, gnorm);
            if (c->supernet.checkpoint_every > 0 && (s + 1) % c->supernet.checkpoint_every == 0 && s + 1 < total) {
                rc = save_ckpt(r, s + 1, p);
                if (rc < 0) break;
            }
        }
    }
    res->steps = total;
    free(archs);
    return rc;
}

int ofa_supernet_run(const ofa_config *c, ofa_supernet_result *res)
{
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    run *r = ofa_xcalloc(1, sizeof *r);
    r->c = c;
    snprintf(r->dir, sizeof r->dir, "%s/ckpt", c->experiment.output_dir);
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->experiment.output_dir);
    int rc = ofa_mkdirs(r->dir);
    if (rc == 0) rc = ofa_jsonl_open(&r->log, path);
    if (rc == 0) rc = prepare(r);
    if (rc == 0) rc = train(r, res);
    if (rc == 0) {
        ofa_ckpt_meta m;
        meta_for(r, &m, "supernet", res->steps, c->supernet.n_phases - 1);
        snprintf(path, sizeof path, "%s/supernet.h5", c->experiment.output_dir);
        rc = ofa_ckpt_save_bert(path, &r->student, &r->vocab, &m, NULL);
        ofa_ckpt_meta_free(&m);
        res->seconds = ofa_now() - t0;
        if (rc == 0) OFA_INFO("supernet: %lld steps in %.0fs -> %s", (long long)res->steps, res->seconds, path);
    }
    run_free(r);
    free(r);
    return rc;
}
