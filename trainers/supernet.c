#include "trainers/supernet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "core/topo.h"
#include "evaluator/monitor.h"
#include "datasets/taskdata.h"
#include "nn/optim.h"
#include "models/bert/bert.h"
#include "models/bert/distill.h"

/* RNG stream tags, so the streams keyed by (seed, step, j) never coincide */
#define STREAM_SUBNET 0x5ab7e7ULL
#define STREAM_DROPOUT 0xd50ULL
#define STREAM_ORDER 0x0bdeULL

int ofa_supernet_plan(const ofa_config *c, const ofa_bert_space *s, int elastic, int64_t step, ofa_bert_arch *archs)
{
    const enum ofa_sampler strategy = c->supernet.sampler;
    if (strategy == OFA_SAMPLER_GRID) {
        int n = ofa_bert_arch_grid(NULL, s);
        OFA_ASSERT(n <= OFA_MAX_SUBNETS);
        ofa_bert_arch *grid = ofa_xmalloc((size_t)n * sizeof *grid);
        ofa_bert_arch_grid(grid, s);
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
        if (strategy == OFA_SAMPLER_SANDWICH && j == 0) ofa_bert_arch_largest(&archs[j], s);
        else if (strategy == OFA_SAMPLER_SANDWICH && j == 1) ofa_bert_arch_smallest(&archs[j], s, elastic);
        else ofa_bert_arch_random(&archs[j], s, elastic, &r);
    }
    return n;
}

int ofa_supernet_space(ofa_bert_space *s, const ofa_config *c, const ofa_bert_dims *d, const char *where)
{
    int rc = ofa_bert_space_init(s, d->L, d->A, d->F, d->H, c->supernet.depth_rule, c->supernet.depth, c->supernet.n_depth,
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
    ofa_topo *t;
    int task, C, M, B;
    ofa_bert_space space;
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
    if (r->tmeta.kind_id != OFA_CKPT_TEACHER)
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
    ofa_adamw_init_ex(&r->opt, c->optim.beta1, c->optim.beta2, c->optim.eps, c->optim.weight_decay);
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

/* weights and AdamW state from rank 0 to every training rank */
static int broadcast_state(run *r)
{
    ofa_params *p = &r->student.p;
    OFA_TRY(ofa_topo_bcast_floats(r->t->train, p->data, p->total));
    OFA_TRY(ofa_topo_bcast_floats(r->t->train, p->m, p->total));
    return ofa_topo_bcast_floats(r->t->train, p->v, p->total);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *b = data;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

/* Every training rank must hold the same weights and AdamW state; compare checksums and, on a
 * mismatch, re-broadcast rank 0's (logged). */
static int check_replicas(run *r, int64_t step)
{
    const ofa_params *p = &r->student.p;
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, p->data, p->total * sizeof(float));
    h = fnv1a(h, p->m, p->total * sizeof(float));
    h = fnv1a(h, p->v, p->total * sizeof(float));
    uint64_t lo = h, hi = h;
    OFA_TRY(ofa_mpi_check(MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, r->t->train), "MPI_Allreduce (checksum)",
                          r->t->rank));
    OFA_TRY(ofa_mpi_check(MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, r->t->train), "MPI_Allreduce (checksum)",
                          r->t->rank));
    if (lo == hi) return 0;
    OFA_WARN("supernet: replica checksums differ at step %lld (rank %d has %016llx); re-broadcasting rank 0's "
             "weights and optimizer state",
             (long long)step, r->t->rank, (unsigned long long)h);
    return broadcast_state(r);
}

static int save_ckpt(run *r, int64_t step, int phase)
{
    char path[OFA_PATH_MAX + 64];
    ofa_ckpt_step_path(path, sizeof path, r->dir, "step_", step);
    ofa_ckpt_meta m;
    meta_for(r, &m, "supernet", step, phase);
    int rc = ofa_ckpt_save_bert(path, &r->student, &r->vocab, &m, &r->opt);
    ofa_ckpt_meta_free(&m);
    if (rc < 0) return rc;
    ofa_ckpt_prune(r->dir, "step_", r->c->supernet.checkpoint_keep);
    OFA_DEBUG("checkpoint step %lld written", (long long)step);
    return 0;
}

/* Rank 0 loads the newest checkpoint that opens and verifies (logging the ones it skips and why)
 * and sends weights, AdamW state and step to the other training ranks.  Returns the step to start
 * from (0 when there is none) or an error. */
static int64_t try_resume(run *r)
{
    int64_t start = 0;
    if (r->t->rank == 0) {
        start = ofa_ckpt_resume_newest(r->dir, "step_", "supernet", &r->student, &r->opt, NULL);
    }
    if (r->t->train_size > 1) {
        long long st[2] = {start, r->opt.t};
        OFA_TRY(ofa_mpi_check(MPI_Bcast(st, 2, MPI_LONG_LONG, 0, r->t->train), "MPI_Bcast (resume step)", r->t->rank));
        start = st[0];
        r->opt.t = st[1];
        if (start > 0) OFA_TRY(broadcast_state(r));
    }
    return start;
}

/* statistics riding in the gradient allreduce (nn/params.h OFA_GRAD_EXTRA) */
enum { X_LOSS, X_BIG, X_SMALL, X_TOKENS, X_STOP, X_SUBNETS, X_COUNT };

/* This rank's share of step s: the micro-batches m with m mod n_workers == worker_index, each with
 * one teacher forward and the subnets j with j mod M == m; gradients summed into p.grad. */
static void step_compute(run *r, int64_t s, const ofa_bert_arch *archs, int n, int j_big, int j_small, float *x)
{
    const ofa_config *c = r->c;
    const ofa_distill_cfg dc = {c->supernet.lambda_logit, c->supernet.lambda_hidden, c->supernet.lambda_hard,
                                c->supernet.temperature};
    for (int m = 0; m < r->M; m++) {
        if (m % r->t->n_workers != r->t->worker_index) continue;
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
            x[X_LOSS] += (float)loss;
            if (j == j_big) x[X_BIG] += (float)loss;
            if (j == j_small) x[X_SMALL] += (float)loss;
            x[X_TOKENS] += (float)b->B * b->T;
            x[X_SUBNETS] += 1;
        }
    }
}

static int train(run *r, ofa_supernet_result *res)
{
    const ofa_config *c = r->c;
    ofa_topo *t = r->t;
    phase_plan pp[OFA_MAX_PHASES];
    int64_t total;
    OFA_TRY(plan_phases(r, pp, &total));
    int64_t start = try_resume(r);
    if (start < 0) return (int)start;
    res->resumed_from = start;
    ofa_bert_arch *archs = ofa_xmalloc(OFA_MAX_SUBNETS * sizeof *archs);
    const ofa_bert_dims *d = &r->student.d;
    ofa_params *p = &r->student.p;
    float *x = p->grad + p->total; /* the step statistics */
    int rc = 0;
    for (int ph_i = 0; ph_i < c->supernet.n_phases && rc == 0; ph_i++) {
        const phase_plan *ph = &pp[ph_i];
        int64_t end = ph->first + ph->steps, first = start > ph->first ? start : ph->first;
        if (end <= start) continue;
        char label[32];
        snprintf(label, sizeof label, "supernet phase %d/%d", ph_i + 1, c->supernet.n_phases);
        OFA_INFO("%s: elastic%s%s%s, %lld steps, lr %g, %d training rank%s", label,
                 ph->elastic & OFA_ELASTIC_WIDTH ? " width" : "", ph->elastic & OFA_ELASTIC_DEPTH ? " depth" : "",
                 ph->elastic & OFA_ELASTIC_HIDDEN ? " hidden" : "", (long long)ph->steps, ph->lr, t->n_workers,
                 t->n_workers == 1 ? "" : "s");
        ofa_progress prog;
        ofa_progress_init(&prog, label, ph->steps, first - ph->first, 10.0);
        int64_t warmup = (int64_t)(c->optim.warmup_ratio * (double)ph->steps);
        for (int64_t s = first; s < end; s++) {
            int n = ofa_supernet_plan(c, &r->space, ph->elastic, s, archs);
            /* which of this step's subnets are the largest and the smallest (by parameters) */
            int j_big = 0, j_small = 0;
            for (int j = 1; j < n; j++) {
                int64_t pj = ofa_bert_arch_params(&archs[j], d->V, d->P, d->C, d->D);
                if (pj > ofa_bert_arch_params(&archs[j_big], d->V, d->P, d->C, d->D)) j_big = j;
                if (pj < ofa_bert_arch_params(&archs[j_small], d->V, d->P, d->C, d->D)) j_small = j;
            }
            double t0 = ofa_now();
            ofa_params_zero_grad(p);
            if (t->trains) step_compute(r, s, archs, n, j_big, j_small, x);
            x[X_STOP] = ofa_stop_requested() ? 1.0f : 0.0f;
            double t1 = ofa_now();
            /* one allreduce per step: every gradient, plus the statistics */
            rc = ofa_topo_allreduce_sum(t, p->grad, p->total + X_COUNT);
            if (rc < 0) break;
            double t2 = ofa_now();
            if (!isfinite(x[X_LOSS])) {
                rc = OFA_ERR(OFA_E_RUNTIME, "supernet: loss became %g at step %lld; lower the phase lr", x[X_LOSS],
                             (long long)s);
                break;
            }
            double gnorm = ofa_grad_clip(p, c->optim.grad_clip);
            double lr = ofa_lr_at(ph->lr, s - ph->first, warmup, ph->steps);
            ofa_adamw_step(&r->opt, p, lr);
            char extra[160];
            snprintf(extra, sizeof extra, "loss %.4f (largest %.4f, smallest %.4f)  lr %.2e", x[X_LOSS] / n, x[X_BIG],
                     x[X_SMALL], lr);
            ofa_progress_update(&prog, s + 1 - ph->first, x[X_TOKENS], extra, s + 1 == end);
            /* compute_ms: this rank's forward/backward; allreduce_ms: waiting in the gradient
             * allreduce (includes waiting for slower ranks); update_ms: clipping + AdamW */
            if (t->rank == 0)
                ofa_jsonl_write(&r->log,
                                "{\"stage\":\"supernet\",\"step\":%lld,\"phase\":%d,\"loss\":%.6g,"
                                "\"loss_largest\":%.6g,\"loss_smallest\":%.6g,\"subnets\":%d,\"lr\":%.6g,"
                                "\"grad_norm\":%.6g,\"ranks\":%d,\"compute_ms\":%.3f,\"allreduce_ms\":%.3f,"
                                "\"update_ms\":%.3f,\"allreduce_bytes\":%zu}",
                                (long long)s + 1, ph_i, x[X_LOSS] / n, x[X_BIG], x[X_SMALL], n, lr, gnorm,
                                t->train_size, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (ofa_now() - t2) * 1e3,
                                t->train_size > 1 ? (p->total + X_COUNT) * sizeof(float) : (size_t)0);
            if (c->mpi.checksum_every > 0 && (s + 1) % c->mpi.checksum_every == 0 && t->train_size > 1) {
                rc = check_replicas(r, s + 1);
                if (rc < 0) break;
            }
            int stop = x[X_STOP] > 0;
            int due = c->supernet.checkpoint_every > 0 && (s + 1) % c->supernet.checkpoint_every == 0;
            if ((due || stop) && s + 1 < total) {
                if (t->rank == 0) rc = save_ckpt(r, s + 1, ph_i);
                /* a failed write on rank 0 stops every training rank the same way */
                if (t->train_size > 1) rc = ofa_topo_agree_on(t, t->train, rc);
                if (rc < 0) break;
                if (t->rank == 0) ofa_monitor_announce(t, s + 1);
            }
            if (stop && s + 1 < total) {
                OFA_INFO("supernet: stop requested by a signal; checkpoint of step %lld written, exiting with status "
                         "%d (requeue to resume)",
                         (long long)s + 1, OFA_EXIT_REQUEUE);
                rc = OFA_STOPPED;
                break;
            }
        }
    }
    res->steps = total;
    free(archs);
    return rc;
}

int ofa_supernet_run(const ofa_config *c, ofa_topo *t, ofa_supernet_result *res)
{
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    /* the stage ends collectively: no rank goes on (to the search, which opens supernet.h5) before
     * rank 0's final save has succeeded or failed */
    if (t->role == OFA_ROLE_EVALUATOR) return ofa_topo_agree(t, ofa_monitor_loop(c, t));
    run *r = ofa_xcalloc(1, sizeof *r);
    r->c = c;
    r->t = t;
    snprintf(r->dir, sizeof r->dir, "%s/ckpt", c->experiment.output_dir);
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->experiment.output_dir);
    int rc = 0;
    if (t->rank == 0) {
        rc = ofa_mkdirs(r->dir);
        if (rc == 0) rc = ofa_jsonl_open(&r->log, path);
    }
    if (rc == 0) rc = prepare(r);
    /* every training rank must have prepared before anyone trains */
    if (t->train_size > 1) rc = ofa_topo_agree_on(t, t->train, rc);
    if (rc == 0) rc = train(r, res);
    if (rc == 0 && t->rank == 0) {
        ofa_ckpt_meta m;
        meta_for(r, &m, "supernet", res->steps, c->supernet.n_phases - 1);
        snprintf(path, sizeof path, "%s/supernet.h5", c->experiment.output_dir);
        rc = ofa_ckpt_save_bert(path, &r->student, &r->vocab, &m, NULL);
        ofa_ckpt_meta_free(&m);
        res->seconds = ofa_now() - t0;
        if (rc == 0) OFA_INFO("supernet: %lld steps in %.0fs -> %s", (long long)res->steps, res->seconds, path);
    }
    if (t->rank == 0) ofa_monitor_finish(t, rc);
    run_free(r);
    free(r);
    return ofa_topo_agree(t, rc);
}
