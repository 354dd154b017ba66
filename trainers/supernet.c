#include "trainers/supernet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/announce.h"
#include "coordinator/checkpoint.h"
#include "coordinator/fingerprint.h"
#include "coordinator/replicas.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "core/runfiles.h"
#include "core/topo.h"
#include "models/checkpoint.h"
#include "nn/optim.h"
#include "supernet/sampler.h"

typedef struct run {
    const ofa_config *c;
    ofa_topo *t;
    int M, B;                   /* micro-batches per step (supernet.micro_batches resolved), their size */
    int64_t mb_done, items_done, steps_worked; /* this rank's work in this run, for the end's report */
    int64_t steps_run;                         /* steps of this run (all ranks) */
    int flags;                                 /* OFA_STAGE_FORCE, OFA_STAGE_FRESH */
    char *fingerprint;                         /* rank 0: what supernet.h5 is made from */
    const ofa_family *fam;
    ofa_model teacher, student; /* both loaded from teacher_reordered.h5; the teacher stays frozen */
    ofa_ckpt_meta tmeta;
    ofa_space space;
    ofa_data *train;
    ofa_distiller *dist;
    ofa_adamw opt;
    ofa_jsonl log;
    int64_t *order, order_epoch, nb;
    char dir[OFA_PATH_MAX + 16];
} run;

static void run_free(run *r)
{
    if (r->dist) r->fam->distill_free(r->dist);
    if (r->train) r->fam->data_free(r->train);
    ofa_model_free(&r->teacher);
    ofa_model_free(&r->student);
    ofa_ckpt_meta_free(&r->tmeta);
    ofa_jsonl_close(&r->log);
    free(r->order);
    free(r->fingerprint);
}

/* mpi.monitor_archs, checked when the space is known (the monitor would only warn, steps later):
 * each comma-separated entry must be an arch of the space; an empty entry is a typo too. */
static int check_monitor_archs(const ofa_config *c, const ofa_space *space)
{
    const char *s = c->mpi.monitor_archs;
    int k = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        char tok[OFA_ARCH_TEXT_MAX];
        snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), s);
        char *t = tok;
        while (*t == ' ') t++;
        for (size_t e = strlen(t); e > 0 && t[e - 1] == ' ';) t[--e] = '\0';
        k++;
        if (!*t)
            return OFA_ERR(OFA_E_CONFIG, "%s: mpi.monitor_archs: entry %d is empty ('%s')",
                           ofa_config_origin(c, "mpi.monitor_archs"), k, c->mpi.monitor_archs);
        ofa_arch a;
        int rc = ofa_arch_parse(&a, t, space);
        if (rc == 0) rc = ofa_arch_check(&a, space);
        if (rc < 0) return ofa_err_prefix(OFA_E_CONFIG, "%s: mpi.monitor_archs: entry %d '%s'",
                                          ofa_config_origin(c, "mpi.monitor_archs"), k, t);
        s += n;
        if (*s == ',') {
            s++;
            if (!*s)
                return OFA_ERR(OFA_E_CONFIG, "%s: mpi.monitor_archs: ends with a comma ('%s')",
                               ofa_config_origin(c, "mpi.monitor_archs"), c->mpi.monitor_archs);
        }
    }
    return 0;
}

static int prepare(run *r)
{
    const ofa_config *c = r->c;
    char path[OFA_PATH_MAX + 64], tpath[OFA_PATH_MAX + 64];
    ofa_run_path(path, sizeof path, c, OFA_RUN_REORDERED);
    ofa_run_path(tpath, sizeof tpath, c, OFA_RUN_TEACHER);
    /* a family whose student is not the reordered teacher (supernet_student) has no reorder stage */
    const int plain = !ofa_file_exists(path) && ofa_file_exists(tpath);
    if (!ofa_file_exists(path) && !plain)
        return OFA_ERR(OFA_E_IO, "%s: no reordered teacher; run 'ofa reorder %s' first", path, c->source);
    OFA_TRY(ofa_ckpt_load_model(plain ? tpath : path, &r->teacher, &r->tmeta, NULL));
    r->fam = ofa_model_family(&r->teacher);
    if (plain && !r->fam->supernet_student)
        return OFA_ERR(OFA_E_IO, "%s: no reordered teacher; run 'ofa reorder %s' first", path, c->source);
    if (r->fam->supernet_student) snprintf(path, sizeof path, "%s", tpath);
    if (r->tmeta.kind_id != OFA_CKPT_TEACHER)
        return OFA_ERR(OFA_E_FORMAT, "%s: kind is '%s', expected a teacher", path, r->tmeta.kind);
    OFA_TRY(r->fam->data_open(&r->train, c, &r->teacher, OFA_SPLIT_TRAIN, 0));
    const int64_t ntr = r->fam->data_size(r->train);
    char what[192];
    r->fam->data_describe(r->train, what, sizeof what);
    OFA_INFO("supernet: %lld training examples (%s)", (long long)ntr, what);
    r->B = c->supernet.batch_size;
    r->nb = ntr / r->B;
    if (r->nb < 1)
        return OFA_ERR(OFA_E_CONFIG, "%s: supernet.batch_size %d exceeds the %lld training examples",
                       ofa_config_origin(c, "supernet.batch_size"), r->B, (long long)ntr);
    /* the student starts as the reordered teacher, or as the family makes it */
    if (r->fam->supernet_student) {
        OFA_TRY(r->fam->supernet_student(&r->student, &r->teacher, c));
    } else {
        ofa_ckpt_meta sm;
        OFA_TRY(ofa_ckpt_load_model(path, &r->student, &sm, NULL));
        ofa_ckpt_meta_free(&sm);
    }
    /* where the student's stored shape comes from, for a space that does not fit it */
    char where[OFA_PATH_MAX + 96];
    snprintf(where, sizeof where, "%s", path);
    if (r->fam->supernet_student) {
        char spath[OFA_PATH_MAX + 64];
        ofa_run_path(spath, sizeof spath, c, ofa_stage_file(ofa_stage_prev(c, OFA_STAGE_SUPERNET)));
        snprintf(where, sizeof where, "%s (the supernet's starting point)",
                 ofa_file_exists(spath) ? spath : c->source);
    }
    OFA_TRY(ofa_space_from_config(&r->space, c, &r->student, where));
    OFA_TRY(check_monitor_archs(c, &r->space));
    OFA_TRY(r->fam->distill_create(&r->dist, c, &r->teacher, &r->student, r->train));
    r->order = ofa_xmalloc((size_t)ntr * sizeof *r->order);
    r->order_epoch = -1;
    ofa_adamw_init_ex(&r->opt, c->optim.beta1, c->optim.beta2, c->optim.eps, c->optim.weight_decay);
    return 0;
}

/* micro-batch u of the run: batch u mod nb of epoch u / nb; the teacher's forward on it */
static void make_micro_batch(run *r, int64_t u)
{
    int64_t epoch = u / r->nb, k = u % r->nb;
    if (epoch != r->order_epoch) {
        ofa_rng o;
        ofa_rng_keyed(&o, (uint64_t)r->c->experiment.seed ^ OFA_STREAM_ORDER, (uint64_t)epoch, 0);
        r->fam->data_epoch_order(r->train, r->order, r->B, &o);
        r->order_epoch = epoch;
    }
    r->fam->distill_batch(r->dist, r->order + k * r->B, r->B); /* and the teacher forward */
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
        if (pp[p].steps == 0 && r->t->rank == 0)
            OFA_WARN("supernet: phase %d/%d (elastic%s%s%s) gets 0 steps: supernet.max_steps %lld ends training "
                     "before it (the phases before it take %lld steps); it does not run",
                     p + 1, c->supernet.n_phases, pp[p].elastic & OFA_ELASTIC_WIDTH ? " width" : "",
                     pp[p].elastic & OFA_ELASTIC_DEPTH ? " depth" : "", pp[p].elastic & OFA_ELASTIC_HIDDEN ? " hidden" : "",
                     (long long)c->supernet.max_steps, (long long)first);
        first += pp[p].steps;
    }
    *total = first;
    if (first == 0) return OFA_ERR(OFA_E_CONFIG, "%s: supernet.phases give no training steps", c->source);
    /* the search samples every choice of the space; a kind of choice no phase trains (hidden sizes
     * without an elastic: [hidden] phase, depths without depth) gives subnets never trained */
    int trained = 0;
    for (int p = 0; p < c->supernet.n_phases; p++)
        if (pp[p].steps > 0) trained |= pp[p].elastic;
    for (int k = 0; k < OFA_ELASTIC_COUNT && r->t->rank == 0; k++) {
        if (trained & (1 << k)) continue;
        ofa_arch without, with;
        char a[OFA_ARCH_TEXT_MAX], b[OFA_ARCH_TEXT_MAX];
        ofa_arch_smallest(&without, &r->space, trained);
        ofa_arch_smallest(&with, &r->space, trained | 1 << k);
        ofa_arch_print(&without, &r->space, a, sizeof a);
        ofa_arch_print(&with, &r->space, b, sizeof b);
        if (strcmp(a, b))
            OFA_WARN("supernet: supernet.space has %s choices that no phase with steps trains (no elastic: [..., %s]); "
                     "the search will still sample them (e.g. %s), untrained", ofa_elastic_name(k), ofa_elastic_name(k),
                     b);
    }
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
    m->fingerprint = r->fingerprint ? ofa_xstrdup(r->fingerprint) : NULL;
}

/* Rank 0, before a resume: step checkpoints of an earlier run that this one must not continue (made
 * from other settings or another teacher_reordered.h5) are an error naming what changed, or with
 * OFA_STAGE_FORCE removed; OFA_STAGE_FRESH removes every one (supernet.h5 is being recomputed). */
static int check_states(run *r)
{
    if (r->flags & OFA_STAGE_FRESH) {
        ofa_ckpt_prune(r->dir, OFA_RUN_SUPERNET_STEP, 0);
        return 0;
    }
    int64_t steps[64];
    const int n = ofa_ckpt_list(r->dir, OFA_RUN_SUPERNET_STEP, steps, 64);
    for (int i = 0; i < n; i++) {
        char path[OFA_PATH_MAX + 64], *had = NULL;
        ofa_ckpt_step_path(path, sizeof path, r->dir, OFA_RUN_SUPERNET_STEP, steps[i]);
        if (ofa_fingerprint_read(path, &had) < 0) { /* does not open: the resume skips it and says why */
            ofa_err_clear();
            continue;
        }
        int rc = ofa_fingerprint_check(path, had, r->fingerprint, 1, "", NULL);
        free(had);
        if (rc < 0 && (r->flags & OFA_STAGE_FORCE)) {
            OFA_WARN("supernet: %s: the step checkpoints in %s are discarded (--force)", ofa_err_msg(), r->dir);
            ofa_err_clear();
            ofa_ckpt_prune(r->dir, OFA_RUN_SUPERNET_STEP, 0);
            return 0;
        }
        if (rc < 0) return ofa_err_suffix(rc, "; pass --force to train from step 0, or restore the setting");
    }
    return 0;
}

/* what a supernet file adds: the micro-batches per step it was trained with (a resumed run keeps
 * them, so its step plan is the interrupted run's whatever the rank count) */
static int write_attrs(ofa_h5 *h, void *ctx)
{
    const run *r = ctx;
    return ofa_h5_attr_set_i64(h, "/", "micro_batches", r->M);
}

static int save_ckpt(run *r, int64_t step, int phase)
{
    char path[OFA_PATH_MAX + 64];
    ofa_ckpt_step_path(path, sizeof path, r->dir, OFA_RUN_SUPERNET_STEP, step);
    ofa_ckpt_meta m;
    meta_for(r, &m, "supernet", step, phase);
    int rc = ofa_ckpt_save_model(path, &r->student, &m, &r->opt, write_attrs, r);
    ofa_ckpt_meta_free(&m);
    if (rc < 0) return rc;
    ofa_ckpt_prune(r->dir, OFA_RUN_SUPERNET_STEP, r->c->supernet.checkpoint_keep);
    OFA_DEBUG("checkpoint step %lld written", (long long)step);
    return 0;
}

/* statistics riding in the gradient allreduce (nn/params.h OFA_GRAD_EXTRA) */
enum { X_LOSS, X_BIG, X_SMALL, X_TOKENS, X_STOP, X_SUBNETS, X_MICRO, X_WORKING, X_COUNT };
_Static_assert(X_COUNT <= OFA_GRAD_EXTRA, "the step statistics fit after the gradients");

/* The work items of a step with n subnets and M micro-batches: K = max(n, M) of them, item k trains
 * subnet k mod n on micro-batch k mod M.  With M <= n that is every subnet once, subnet j on
 * micro-batch j mod M (subnets on one micro-batch share its teacher forward); with M > n every
 * micro-batch gets one subnet and the subnets repeat on other data, so no micro-batch (and no
 * rank holding one) is without work. */
static int step_items(int n, int M) { return n > M ? n : M; }

/* This rank's share of step s: the micro-batches m with m mod n_workers == worker_index, each with
 * one teacher forward and its items (above); gradients summed into p.grad.  The last item's
 * backward posts the allreduce buckets of bk as it finishes them (earlier items' backwards still
 * add into every part). */
static void step_compute(run *r, int64_t s, const ofa_arch *archs, int n, int j_big, int j_small, float *x,
                         ofa_topo_buckets *bk)
{
    const ofa_config *c = r->c;
    const int K = step_items(n, r->M);
    int mine = 0, m_last = -1;
    for (int m = 0; m < r->M; m++)
        if (m % r->t->n_workers == r->t->worker_index) m_last = m;
    ofa_params *p = r->student.p;
    for (int m = 0; m < r->M; m++) {
        if (m % r->t->n_workers != r->t->worker_index) continue;
        make_micro_batch(r, s * r->M + m);
        x[X_MICRO] += 1;
        mine++;
        for (int k = m; k < K; k += r->M) {
            const int j = k % n;
            ofa_rng drop;
            ofa_rng_keyed(&drop, (uint64_t)c->experiment.seed ^ OFA_STREAM_DROPOUT, (uint64_t)s, (uint64_t)k);
            double tokens = 0;
            if (m == m_last && k + r->M >= K) p->final_fn = ofa_topo_buckets_on_final, p->final_ctx = bk;
            double loss = r->fam->distill_subnet(r->dist, &archs[j], &drop, &tokens);
            p->final_fn = NULL, p->final_ctx = NULL;
            x[X_LOSS] += (float)loss;
            if (j == j_big) x[X_BIG] += (float)loss;
            if (j == j_small) x[X_SMALL] += (float)loss;
            x[X_TOKENS] += (float)tokens;
            x[X_SUBNETS] += 1;
            r->items_done++;
        }
    }
    r->mb_done += mine;
    if (mine > 0) {
        x[X_WORKING] += 1;
        r->steps_worked++;
    }
}

/* The subnets a step trains at most (the grid strategy: the largest grid of the phases). */
static int subnets_per_step(const run *r)
{
    const ofa_config *c = r->c;
    if (c->supernet.sampler != OFA_SAMPLER_GRID) return c->supernet.subnets_per_step;
    int n = 1;
    for (int p = 0; p < c->supernet.n_phases; p++) {
        int g = ofa_arch_grid(NULL, &r->space, c->supernet.phases[p].elastic);
        if (g > n) n = g;
    }
    return n;
}

/* "1, 2, 3" (the world ranks of the training ranks with index >= M) */
static void idle_ranks(const ofa_topo *t, int M, char *buf, size_t n)
{
    const int skip = t->n_workers < t->train_size ? 1 : 0; /* a coordinator that does not train */
    size_t used = 0;
    buf[0] = '\0';
    for (int w = M; w < t->n_workers && used + 16 < n; w++)
        used += (size_t)snprintf(buf + used, n - used, "%s%d", w > M ? ", " : "", w + skip);
}

/* supernet.micro_batches resolved: the config's number, or auto = max(subnets per step, training
 * ranks), or the number a resumed checkpoint was trained with (the step plan goes on unchanged).
 * Logged on rank 0, with a warning naming the ranks that get no micro-batch.  Collective over
 * t->train. */
static int resolve_micro_batches(run *r, int64_t start)
{
    const ofa_config *c = r->c;
    ofa_topo *t = r->t;
    const int W = t->n_workers, S = subnets_per_step(r);
    long long M = c->supernet.micro_batches > 0 ? c->supernet.micro_batches : (S > W ? S : W);
    const char *why = "";
    if (t->rank == 0 && start > 0 && c->supernet.micro_batches == 0) {
        char path[OFA_PATH_MAX + 64];
        ofa_ckpt_step_path(path, sizeof path, r->dir, OFA_RUN_SUPERNET_STEP, start);
        ofa_h5 h;
        int64_t was = 0;
        if (ofa_h5_open(&h, path) == 0) {
            if (ofa_h5_attr_exists(&h, "/", "micro_batches") && ofa_h5_attr_get_i64(&h, "/", "micro_batches", &was) == 0 &&
                was >= 1 && was <= 4096) {
                if (was != M) why = " (as the checkpoint resumed from)";
                M = was;
            }
            ofa_h5_close(&h);
        }
        ofa_err_clear();
    }
    if (t->train_size > 1)
        OFA_TRY(ofa_mpi_check(MPI_Bcast(&M, 1, MPI_LONG_LONG, 0, t->train), "MPI_Bcast (micro-batches)", t->rank));
    r->M = (int)M;
    if (t->rank != 0) return 0;
    if (c->supernet.micro_batches == 0)
        OFA_INFO("supernet: micro_batches auto -> %d%s (%d subnet%s per step, %d training rank%s)", r->M, why, S,
                 S == 1 ? "" : "s", W, W == 1 ? "" : "s");
    if (r->M < W) {
        char list[256];
        idle_ranks(t, r->M, list, sizeof list);
        OFA_WARN("supernet: %d micro-batch%s per step for %d training ranks: rank%s %s get%s no work (micro-batch m "
                 "goes to training rank m mod %d); set supernet.micro_batches: auto, or at least %d",
                 r->M, r->M == 1 ? "" : "es", W, W - r->M == 1 ? "" : "s", list, W - r->M == 1 ? "s" : "", W, W);
    }
    /* more micro-batches than the data has batches: a step goes round the data more than once (a
     * phase's steps are ceil(epochs x batches / micro-batches), so it may run more epochs than asked) */
    if (r->M > r->nb)
        OFA_WARN("supernet: a step's %d micro-batches of %d examples (%lld) exceed the %lld training examples: each "
                 "step goes through the data %.2f times; lower supernet.micro_batches or supernet.batch_size",
                 r->M, r->B, (long long)r->M * r->B, (long long)r->fam->data_size(r->train),
                 (double)r->M / (double)r->nb);
    return 0;
}

/* Every training rank's work in this run, gathered on rank 0 into one metrics line (and a log line
 * naming a rank that did none).  Collective over t->train. */
static int report_work(run *r, int64_t steps)
{
    ofa_topo *t = r->t;
    long long mine[5] = {t->rank, t->trains, r->mb_done, r->items_done, r->steps_worked};
    long long *all = t->rank == 0 ? ofa_xmalloc((size_t)t->train_size * sizeof mine) : NULL;
    int rc = 0;
    if (t->train_size > 1)
        rc = ofa_mpi_check(MPI_Gather(mine, 5, MPI_LONG_LONG, all, 5, MPI_LONG_LONG, 0, t->train),
                           "MPI_Gather (work per rank)", t->rank);
    else if (all)
        memcpy(all, mine, sizeof mine);
    if (rc == 0 && t->rank == 0) {
        char ranks[1024] = "", mb[1024] = "", items[1024] = "", worked[1024] = "";
        size_t a = 0, b = 0, d = 0, e = 0;
        int first = 1;
        for (int i = 0; i < t->train_size; i++) {
            const long long *w = all + 5 * i;
            if (!w[1]) continue; /* a coordinator that does not train */
            if (a + 24 >= sizeof ranks) break;
            a += (size_t)snprintf(ranks + a, sizeof ranks - a, "%s%lld", first ? "" : ",", w[0]);
            b += (size_t)snprintf(mb + b, sizeof mb - b, "%s%lld", first ? "" : ",", w[2]);
            d += (size_t)snprintf(items + d, sizeof items - d, "%s%lld", first ? "" : ",", w[3]);
            e += (size_t)snprintf(worked + e, sizeof worked - e, "%s%lld", first ? "" : ",", w[4]);
            first = 0;
            if (w[4] < steps)
                OFA_WARN("supernet: rank %lld worked in %lld of the %lld steps of this run", w[0], w[4], (long long)steps);
        }
        ofa_jsonl_write(&r->log,
                        "{\"event\":\"work\",\"stage\":\"supernet\",\"steps\":%lld,\"micro_batches_per_step\":%d,"
                        "\"ranks\":[%s],\"micro_batches\":[%s],\"subnets\":[%s],\"steps_with_work\":[%s]}",
                        (long long)steps, r->M, ranks, mb, items, worked);
    }
    free(all);
    return rc;
}

static int train(run *r, ofa_supernet_result *res)
{
    const ofa_config *c = r->c;
    ofa_topo *t = r->t;
    phase_plan pp[OFA_MAX_PHASES];
    int64_t total;
    /* rank 0 loads the newest checkpoint that opens and verifies (logging the ones it skips and why)
     * and every training rank receives it */
    int rc0 = t->rank == 0 ? check_states(r) : 0;
    if (t->train_size > 1) rc0 = ofa_topo_agree_on(t, t->train, rc0);
    if (rc0 < 0) return rc0;
    int64_t start = ofa_replicas_resume(t, r->dir, OFA_RUN_SUPERNET_STEP, "supernet", r->student.p, &r->opt);
    if (start < 0) return (int)start;
    res->resumed_from = start;
    if (start > 0 && t->rank == 0) { /* rank 0 alone logs: steps past the checkpoint are logged again */
        char logpath[OFA_PATH_MAX + 32];
        ofa_run_path(logpath, sizeof logpath, c, OFA_RUN_METRICS);
        int64_t dropped = 0;
        rc0 = ofa_jsonl_drop_after(&r->log, logpath, "supernet", start, &dropped);
        if (rc0 == 0 && dropped)
            OFA_INFO("supernet: %s: %lld lines past step %lld removed (they are logged again)", logpath,
                     (long long)dropped, (long long)start);
        /* the teacher's line: where a requeued job picked up, for whoever reads the log */
        if (rc0 == 0)
            ofa_jsonl_write(&r->log, "{\"event\":\"resume\",\"stage\":\"supernet\",\"step\":%lld,\"dropped\":%lld}",
                            (long long)start, (long long)dropped);
    }
    if (t->train_size > 1) rc0 = ofa_topo_agree_on(t, t->train, rc0);
    if (rc0 < 0) return rc0;
    OFA_TRY(resolve_micro_batches(r, start));
    OFA_TRY(plan_phases(r, pp, &total));
    ofa_arch *archs = ofa_xmalloc(OFA_MAX_SUBNETS * sizeof *archs);
    ofa_params *p = r->student.p;
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
        ofa_progress_set_unit(&prog, r->fam->item_unit);
        int64_t warmup = (int64_t)(c->optim.warmup_ratio * (double)ph->steps);
        for (int64_t s = first; s < end; s++) {
            int n = ofa_supernet_plan(c, &r->space, ph->elastic, s, archs);
            /* which of this step's subnets are the largest and the smallest (by parameters) */
            int j_big = 0, j_small = 0;
            for (int j = 1; j < n; j++) {
                int64_t pj = ofa_arch_params(&r->student, &archs[j]);
                if (pj > ofa_arch_params(&r->student, &archs[j_big])) j_big = j;
                if (pj < ofa_arch_params(&r->student, &archs[j_small])) j_small = j;
            }
            double t0 = ofa_now();
            ofa_params_zero_grad(p);
            ofa_topo_buckets bk;
            ofa_topo_buckets_begin(&bk, t, p->grad, p->total, c->mpi.bucket_mb);
            if (t->trains) step_compute(r, s, archs, n, j_big, j_small, x, &bk);
            r->steps_run++;
            x[X_STOP] = ofa_stop_requested() ? 1.0f : 0.0f;
            double t1 = ofa_now();
            /* the gradients (the buckets the backward has not posted yet) and the statistics */
            rc = ofa_topo_buckets_finish(&bk, x, X_COUNT);
            ofa_topo_buckets_free(&bk);
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
            /* the mean loss of the step's items; the largest's and smallest's over their items */
            const int K = step_items(n, r->M);
            const double big = x[X_BIG] / ((K - j_big + n - 1) / n), small = x[X_SMALL] / ((K - j_small + n - 1) / n);
            snprintf(extra, sizeof extra, "loss %.4f (largest %.4f, smallest %.4f)  lr %.2e", x[X_LOSS] / K, big, small,
                     lr);
            ofa_progress_update(&prog, s + 1 - ph->first, x[X_TOKENS], extra, s + 1 == end);
            /* compute_ms: this rank's forward/backward (posting and testing the buckets
             * included); allreduce_ms: waiting in the gradient allreduce after it (includes
             * waiting for slower ranks); update_ms: clipping + AdamW; allreduce_early_bytes: rank
             * 0's gradients posted during its backward, allreduce_hidden_bytes: of them, those
             * already reduced when it ended (communication hidden behind compute);
             * peak_rss_mib: rank 0's peak resident memory so far (a trainer rank holds the same) */
            if (t->rank == 0)
                ofa_jsonl_write(&r->log,
                                "{\"stage\":\"supernet\",\"step\":%lld,\"phase\":%d,\"loss\":%.6g,"
                                "\"loss_largest\":%.6g,\"loss_smallest\":%.6g,\"subnets\":%d,\"lr\":%.6g,"
                                "\"grad_norm\":%.6g,\"ranks\":%d,\"micro_batches\":%d,\"working_ranks\":%d,"
                                "\"compute_ms\":%.3f,\"allreduce_ms\":%.3f,\"update_ms\":%.3f,\"allreduce_bytes\":%zu,"
                                "\"allreduce_early_bytes\":%zu,\"allreduce_hidden_bytes\":%zu,\"peak_rss_mib\":%.1f}",
                                (long long)s + 1, ph_i, x[X_LOSS] / K, big, small, (int)x[X_SUBNETS], lr, gnorm,
                                t->train_size, (int)x[X_MICRO], (int)x[X_WORKING], (t1 - t0) * 1e3, (t2 - t1) * 1e3,
                                (ofa_now() - t2) * 1e3,
                                t->train_size > 1 ? (p->total + X_COUNT) * sizeof(float) : (size_t)0,
                                bk.early_posted * sizeof(float), bk.early_done * sizeof(float), ofa_peak_rss_mib());
            if (c->mpi.checksum_every > 0 && (s + 1) % c->mpi.checksum_every == 0 && t->train_size > 1) {
                rc = ofa_replicas_check(t, r->student.p, s + 1);
                if (rc < 0) break;
            }
            int stop = x[X_STOP] > 0;
            int due = c->supernet.checkpoint_every > 0 && (s + 1) % c->supernet.checkpoint_every == 0;
            if ((due || stop) && s + 1 < total) {
                if (t->rank == 0) rc = save_ckpt(r, s + 1, ph_i);
                /* a failed write on rank 0 stops every training rank the same way */
                if (t->train_size > 1) rc = ofa_topo_agree_on(t, t->train, rc);
                if (rc < 0) break;
                if (t->rank == 0) ofa_announce_checkpoint(t, s + 1);
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
    /* every training rank's work, in metrics.jsonl (after a normal end or a signal's checkpoint) */
    if (rc == 0 || rc == OFA_STOPPED) {
        int r2 = report_work(r, r->steps_run);
        if (rc == 0) rc = r2;
    }
    return rc;
}

/* Rank 0, at the end: the largest subnet of the space scored on dev, the figure supernet.h5 carries
 * (best_metric); a failure leaves it unscored with a warning. */
static void score_largest(run *r, ofa_ckpt_meta *m)
{
    ofa_arch a;
    ofa_arch_largest(&a, &r->space);
    char text[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(&a, &r->space, text, sizeof text);
    ofa_data *dev = NULL;
    ofa_score s;
    int rc = r->fam->data_open(&dev, r->c, &r->student, OFA_SPLIT_DEV, 0);
    if (rc == 0) rc = r->fam->score(&r->student, &a, dev, &s);
    if (dev) r->fam->data_free(dev);
    if (rc < 0 || !s.has_labels) {
        OFA_WARN("supernet: the largest subnet was not scored on dev: %s", rc < 0 ? ofa_err_msg() : "no labels");
        return;
    }
    m->best_metric = s.metric;
    snprintf(m->metric_name, sizeof m->metric_name, "%s", s.name);
    OFA_INFO("supernet: largest subnet %s: dev %s %.4f", text, s.name, s.metric);
    char fields[512] = "";
    for (int k = 0, used = 0; k < s.n_extra && used < (int)sizeof fields - 48; k++)
        used += snprintf(fields + used, sizeof fields - (size_t)used, "\"dev_%s\":%.6g,", s.extra_name[k], s.extra[k]);
    ofa_jsonl_write(&r->log, "{\"stage\":\"supernet\",\"event\":\"scored\",\"arch\":\"%s\",\"metric\":\"%s\",%s"
                             "\"examples\":%lld}",
                    text, s.name, fields, (long long)s.n);
}

int ofa_supernet_train(const ofa_config *c, ofa_topo *t, int flags, ofa_supernet_result *res)
{
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    OFA_ASSERT(t->role != OFA_ROLE_EVALUATOR);
    run *r = ofa_xcalloc(1, sizeof *r);
    r->c = c;
    r->t = t;
    r->flags = flags;
    ofa_run_path(r->dir, sizeof r->dir, c, OFA_RUN_CKPT);
    char path[OFA_PATH_MAX + 64];
    ofa_run_path(path, sizeof path, c, OFA_RUN_METRICS);
    int rc = 0;
    if (t->rank == 0) {
        rc = ofa_mkdirs(r->dir);
        if (rc == 0) rc = ofa_jsonl_open(&r->log, path);
        if (rc == 0) rc = ofa_fingerprint_make(&r->fingerprint, c, OFA_STAGE_SUPERNET, NULL, NULL);
    }
    if (rc == 0) rc = prepare(r);
    /* every training rank must have prepared before anyone trains */
    if (t->train_size > 1) rc = ofa_topo_agree_on(t, t->train, rc);
    if (rc == 0) rc = train(r, res);
    if (rc == 0 && t->rank == 0) {
        ofa_ckpt_meta m;
        meta_for(r, &m, "supernet", res->steps, c->supernet.n_phases - 1);
        score_largest(r, &m);
        ofa_run_path(path, sizeof path, c, OFA_RUN_SUPERNET);
        rc = ofa_ckpt_save_model(path, &r->student, &m, NULL, write_attrs, r);
        ofa_ckpt_meta_free(&m);
        res->seconds = ofa_now() - t0;
        if (rc == 0) OFA_INFO("supernet: %lld steps in %.0fs -> %s", (long long)res->steps, res->seconds, path);
    }
    if (t->rank == 0) ofa_announce_finish(t, rc);
    run_free(r);
    free(r);
    return rc;
}
