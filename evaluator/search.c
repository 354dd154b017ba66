#include "evaluator/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/taskdata.h"
#include "models/bert/export.h"
#include "evaluator/latency.h"
#include "evaluator/pareto.h"
#include "models/bert/score.h"
#include "trainers/supernet.h"

enum { TAG_READY = 7101, TAG_CAND = 7102, TAG_RESULT = 7103, TAG_STOP = 7104 };
enum { MODE_MEASURED, MODE_TABLE, MODE_PREDICTOR };
#define SCORE_BATCH 64

/* what a worker sends back (MPI_BYTE) */
typedef struct result_msg {
    char text[OFA_ARCH_TEXT_MAX];
    double metric, latency_ms, spread_ms, macs;
    int64_t params;
} result_msg;

void ofa_search_opts_default(ofa_search_opts *o)
{
    memset(o, 0, sizeof *o);
    o->seed = -1;
    o->export_winners = 1;
}

typedef struct sctx {
    const ofa_config *c;
    ofa_topo *t;
    const ofa_search_opts *o;
    char path[OFA_PATH_MAX + 64];
    ofa_bert m;
    ofa_vocab vocab;
    ofa_ckpt_meta meta;
    int task, mode, have_model, have_table;
    ofa_bert_space space;
    ofa_encoded val;
    ofa_bert_acts acts;
    ofa_latency_cfg lcfg;
    ofa_latency_table table;
    ofa_latency_predictor pred;
} sctx;

static void sctx_free(sctx *x)
{
    if (x->have_model) {
        ofa_bert_free(&x->m);
        ofa_vocab_free(&x->vocab);
        ofa_ckpt_meta_free(&x->meta);
        ofa_bert_acts_free(&x->acts);
    }
    ofa_encoded_free(&x->val);
    if (x->have_table) ofa_latency_table_free(&x->table);
}

static double estimate(const ofa_bert_arch *a, void *ctx)
{
    const sctx *x = ctx;
    return x->pred.n_fit > 0 ? ofa_latency_predictor_predict(&x->pred, a) : ofa_latency_table_predict(&x->table, a);
}

/* The supernet, its space and the validation split; every rank that scores needs them. */
static int load(sctx *x)
{
    const ofa_config *c = x->c;
    OFA_TRY(ofa_ckpt_load_bert(x->path, &x->m, &x->vocab, &x->meta, NULL));
    x->have_model = 1;
    if (x->meta.kind_id != OFA_CKPT_SUPERNET)
        return OFA_ERR(OFA_E_USAGE, "%s is a %s checkpoint%s%s; the search needs a supernet (ofa supernet)", x->path,
                       x->meta.kind, x->meta.arch[0] ? " of arch " : "", x->meta.arch);
    OFA_TRY(ofa_supernet_space(&x->space, c, &x->m.d, x->path));
    x->task = ofa_task_from_name(x->meta.task);
    if (x->task < 0) return OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s'", x->path, x->meta.task);
    ofa_encoded all;
    OFA_TRY(ofa_taskdata_encode(&all, c->data.glue_dir, x->task, "train", &x->vocab, x->meta.lowercase,
                                x->meta.max_seq_len, c->data.skip_bad_rows, c->data.train_limit));
    int64_t *tr, *va, ntr, nva;
    ofa_holdout_split(all.n, c->search.val_fraction, (uint64_t)c->experiment.seed, &tr, &ntr, &va, &nva);
    if (c->search.dev_limit > 0 && nva > c->search.dev_limit) nva = c->search.dev_limit;
    ofa_encoded_subset(&x->val, &all, va, nva);
    ofa_encoded_free(&all);
    free(tr);
    free(va);
    if (x->val.n == 0) return OFA_ERR(OFA_E_CONFIG, "%s: search.val_fraction leaves no validation examples", c->source);
    ofa_bert_acts_create(&x->acts, &x->m.d, SCORE_BATCH, x->val.max_len);
    ofa_latency_cfg_from_config(&x->lcfg, c);
    if (x->lcfg.seq_len > x->m.d.P)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.latency.seq_len %d exceeds the model's %d positions (%s)", c->source,
                       x->lcfg.seq_len, x->m.d.P, x->path);
    x->lcfg.retries = 2;
    const enum ofa_latency_mode mode = c->search.latency_mode;
    x->mode = mode == OFA_LATENCY_TABLE ? MODE_TABLE : mode == OFA_LATENCY_PREDICTOR ? MODE_PREDICTOR : MODE_MEASURED;
    return 0;
}

/* <output_dir>/latency_table.h5: rank 0 builds and calibrates it when missing; the estimate for
 * every mode, and the latency itself in table/predictor mode. */
static int table_on_rank0(sctx *x)
{
    char tpath[OFA_PATH_MAX + 64];
    snprintf(tpath, sizeof tpath, "%s/latency_table.h5", x->c->experiment.output_dir);
    if (ofa_file_exists(tpath)) {
        OFA_TRY(ofa_latency_table_load(tpath, &x->table, &x->pred));
        const ofa_latency_table *t = &x->table;
        if (t->batch == x->lcfg.batch && t->seq_len == x->lcfg.seq_len && t->threads == x->lcfg.threads &&
            t->hidden == x->m.d.H && t->head_dim == x->m.d.D && t->outputs == x->m.d.C &&
            !strcmp(t->kernels, ofa_latency_kernels(&x->lcfg))) {
            x->have_table = 1;
            OFA_INFO("search: latency table %s (%d ops%s)", tpath, t->n, x->pred.n_fit ? ", fitted predictor" : "");
            return 0;
        }
        /* timed for other settings or other kernels: its figures would mislead the search */
        OFA_WARN("search: %s was built for batch %d, seq %d, %d thread(s), %s kernels, hidden %d, head size %d, "
                 "%d outputs; rebuilding it for batch %d, seq %d, %d thread(s), %s kernels, hidden %d, head size %d, "
                 "%d outputs",
                 tpath, t->batch, t->seq_len, t->threads, t->kernels, t->hidden, t->head_dim, t->outputs,
                 x->lcfg.batch, x->lcfg.seq_len, x->lcfg.threads, ofa_latency_kernels(&x->lcfg), x->m.d.H, x->m.d.D,
                 x->m.d.C);
        ofa_latency_table_free(&x->table);
        memset(&x->pred, 0, sizeof x->pred);
    }
    double t0 = ofa_now();
    OFA_TRY(ofa_latency_table_build(&x->table, &x->space, &x->m.d, &x->lcfg));
    x->have_table = 1;
    enum { NCAL = 12 };
    ofa_bert_arch archs[NCAL];
    double ms[NCAL];
    int n = 0;
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)x->c->experiment.seed, 0xca1, 0);
    const int all = OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | (x->space.n_hidden ? OFA_ELASTIC_HIDDEN : 0);
    for (int i = 0; i < NCAL; i++) {
        if (i == 0) ofa_bert_arch_largest(&archs[n], &x->space);
        else if (i == 1) ofa_bert_arch_smallest(&archs[n], &x->space, all);
        else ofa_bert_arch_random(&archs[n], &x->space, all, &rng);
        ofa_latency l;
        if (ofa_latency_measure(&x->m, &archs[n], &x->lcfg, &l) == 0) ms[n++] = l.median;
        else OFA_WARN("search: calibration arch skipped: %s", ofa_err_msg());
    }
    if (n > 0) OFA_TRY(ofa_latency_predictor_fit(&x->table, archs, ms, n, &x->pred));
    OFA_TRY(ofa_latency_table_save(tpath, &x->table, n > 0 ? &x->pred : NULL));
    OFA_INFO("search: built latency table %s (%d ops, predictor fitted on %d measured archs) in %.1fs", tpath,
             x->table.n, n, ofa_now() - t0);
    return 0;
}

static int table_everywhere(sctx *x)
{
    int rc = 0;
    OFA_TRY(ofa_topo_agree(x->t, x->t->rank == 0 ? table_on_rank0(x) : 0));
    if (x->t->rank != 0) {
        char tpath[OFA_PATH_MAX + 64];
        snprintf(tpath, sizeof tpath, "%s/latency_table.h5", x->c->experiment.output_dir);
        rc = ofa_latency_table_load(tpath, &x->table, &x->pred);
        x->have_table = rc == 0;
    }
    return ofa_topo_agree(x->t, rc);
}

/* validation metric and latency of one arch */
static void score(sctx *x, const ofa_bert_arch *a, result_msg *r)
{
    ofa_bert_arch_print(a, x->m.d.H, r->text, sizeof r->text);
    r->params = ofa_bert_arch_params(a, x->m.d.V, x->m.d.P, x->m.d.C, x->m.d.D);
    r->macs = ofa_bert_arch_macs(a, x->c->search.latency_seq_len, x->m.d.C, x->m.d.D);
    ofa_scores s;
    if (ofa_score_bert(&x->m, &x->acts, &x->val, x->task, SCORE_BATCH, a, 1, &s) < 0) {
        OFA_WARN("search: %s not scored: %s", r->text, ofa_err_msg());
        r->metric = -INFINITY;
        r->latency_ms = INFINITY;
        r->spread_ms = 0;
        return;
    }
    r->metric = s.metrics.main;
    ofa_scores_free(&s);
    r->spread_ms = 0;
    if (x->mode == MODE_MEASURED) {
        ofa_latency l;
        if (ofa_latency_measure(&x->m, a, &x->lcfg, &l) < 0) OFA_WARN("search: %s: %s", r->text, ofa_err_msg());
        r->latency_ms = l.median;
        r->spread_ms = l.p90 - l.p10;
    } else {
        r->latency_ms = x->mode == MODE_PREDICTOR ? ofa_latency_predictor_predict(&x->pred, a)
                                                  : ofa_latency_table_predict(&x->table, a);
    }
}

static void report(ofa_evo *e, const sctx *x, const result_msg *r)
{
    ofa_evo_point p;
    memset(&p, 0, sizeof p);
    if (ofa_bert_arch_parse(&p.arch, r->text, x->m.d.L, x->m.d.H, x->space.rule) < 0) {
        OFA_WARN("search: a worker returned an unreadable arch '%s'", r->text);
        return;
    }
    p.metric = r->metric;
    p.dev_metric = NAN;
    p.latency_ms = r->latency_ms;
    p.spread_ms = r->spread_ms;
    p.params = r->params;
    p.macs = r->macs;
    ofa_evo_report(e, &p);
}

static int save_state(const ofa_evo *e, const sctx *x, const char *path)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = ofa_h5_attr_set_str(&h, "/", "format", OFA_CKPT_FORMAT);
    if (rc == 0) rc = ofa_h5_attr_set_i64(&h, "/", "format_version", OFA_CKPT_VERSION);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "kind", ofa_ckpt_kind_name(OFA_CKPT_SEARCH));
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "supernet", x->path);
    if (rc == 0) rc = ofa_evo_write(e, &h, "/search");
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

/* Rank 0: the search loop, handing candidates to the workers (ranks 1..size-1) or scoring them
 * itself when alone.  Checkpoints when a step is complete. */
static int coordinate(sctx *x, ofa_evo *e, const char *state_path)
{
    ofa_topo *t = x->t;
    const int nw = t->size - 1;
    enum { QMAX = 256 };
    ofa_evo_cand *q = ofa_xmalloc(QMAX * sizeof *q);
    int qn = 0, qi = 0, outstanding = 0, rc = 0;
    int *idle = ofa_xmalloc((size_t)(nw + 1) * sizeof *idle), n_idle = 0;
    ofa_progress prog;
    /* candidates the search hands out at most (cache hits make it fewer) */
    int64_t total = ((int64_t)e->population + (int64_t)e->generations * (e->population - e->n_par)) * e->n_budgets;
    ofa_progress_init(&prog, "search", total, e->evaluations, 10.0);
    for (;;) {
        if (qi == qn && !ofa_evo_done(e)) {
            int n = ofa_evo_next_batch(e, q, QMAX);
            if (n < 0) {
                rc = n;
                break;
            }
            qn = n;
            qi = 0;
            if (n == 0 && outstanding == 0) {
                /* a complete step: checkpoint it */
                rc = save_state(e, x, state_path);
                if (rc < 0) break;
                continue;
            }
        }
        if (ofa_evo_done(e) && outstanding == 0 && qi == qn) break;
        if (nw == 0) { /* alone: score here */
            while (qi < qn) {
                result_msg r;
                score(x, &q[qi++].arch, &r);
                report(e, x, &r);
                char extra[128];
                snprintf(extra, sizeof extra, "budget %d/%d  gen %d", e->budget + 1, e->n_budgets, e->gen);
                ofa_progress_update(&prog, e->evaluations, 0, extra, 0);
            }
            continue;
        }
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS) {
            rc = OFA_ERR(OFA_E_MPI, "MPI_Iprobe failed on the coordinator");
            break;
        }
        if (flag) {
            if (st.MPI_TAG == TAG_RESULT) {
                result_msg r;
                MPI_Recv(&r, (int)sizeof r, MPI_BYTE, st.MPI_SOURCE, TAG_RESULT, t->world, MPI_STATUS_IGNORE);
                report(e, x, &r);
                outstanding--;
                char extra[128];
                snprintf(extra, sizeof extra, "budget %d/%d  gen %d", e->budget + 1, e->n_budgets, e->gen);
                ofa_progress_update(&prog, e->evaluations, 0, extra, 0);
            } else {
                int dummy;
                MPI_Recv(&dummy, 1, MPI_INT, st.MPI_SOURCE, TAG_READY, t->world, MPI_STATUS_IGNORE);
            }
            idle[n_idle++] = st.MPI_SOURCE;
        }
        while (n_idle > 0 && qi < qn) {
            if (MPI_Send(q[qi].text, OFA_ARCH_TEXT_MAX, MPI_CHAR, idle[--n_idle], TAG_CAND, t->world) != MPI_SUCCESS) {
                rc = OFA_ERR(OFA_E_MPI, "cannot send a candidate to rank %d", idle[n_idle]);
                break;
            }
            qi++;
            outstanding++;
        }
        if (rc < 0) break;
        if (!flag) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    }
    ofa_progress_update(&prog, e->evaluations, 0, "done", 1);
    /* release the workers (drain READY / RESULT messages still in flight first) */
    for (int k = 0; k < nw; k++) {
        char stop[OFA_ARCH_TEXT_MAX] = "";
        MPI_Send(stop, OFA_ARCH_TEXT_MAX, MPI_CHAR, k + 1, TAG_STOP, t->world);
    }
    if (rc == 0) rc = save_state(e, x, state_path);
    free(q);
    free(idle);
    return rc;
}

static int work(sctx *x)
{
    ofa_topo *t = x->t;
    int ready = 0;
    if (MPI_Send(&ready, 1, MPI_INT, 0, TAG_READY, t->world) != MPI_SUCCESS)
        return OFA_ERR(OFA_E_MPI, "rank %d: cannot reach the coordinator", t->rank);
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS)
            return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Iprobe failed", t->rank);
        if (!flag) {
            struct timespec ts = {0, 1000000}; /* an idle worker must not spin a core */
            nanosleep(&ts, NULL);
            continue;
        }
        char text[OFA_ARCH_TEXT_MAX];
        MPI_Recv(text, OFA_ARCH_TEXT_MAX, MPI_CHAR, 0, st.MPI_TAG, t->world, MPI_STATUS_IGNORE);
        if (st.MPI_TAG == TAG_STOP) return 0;
        result_msg r;
        ofa_bert_arch a;
        if (ofa_bert_arch_parse(&a, text, x->m.d.L, x->m.d.H, x->space.rule) < 0) {
            memset(&r, 0, sizeof r);
            snprintf(r.text, sizeof r.text, "%s", text);
            r.metric = -INFINITY;
            r.latency_ms = INFINITY;
        } else {
            score(x, &a, &r);
        }
        if (MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, t->world) != MPI_SUCCESS)
            return OFA_ERR(OFA_E_MPI, "rank %d: cannot send a result", t->rank);
    }
}

/* Rank 0, after the search: teacher figures, winners exported and re-scored on dev, outputs. */
static int finish(sctx *x, ofa_evo *e, ofa_search_result *res)
{
    const ofa_config *c = x->c;
    const char *pre = x->o->out_prefix ? x->o->out_prefix : "";
    int64_t n;
    const ofa_evo_point *pts0 = ofa_evo_points(e, &n);
    ofa_evo_point *pts = ofa_xmalloc((size_t)(n + 1) * sizeof *pts);
    memcpy(pts, pts0, (size_t)n * sizeof *pts);
    int64_t winner[OFA_MAX_LIST];
    res->n_budgets = e->n_budgets;
    res->evaluations = n;
    snprintf(res->metric, sizeof res->metric, "%s", ofa_task_get(x->task)->metric);
    /* the teacher: the full arch of the supernet's source, teacher_reordered.h5 */
    char tpath[OFA_PATH_MAX + 64];
    snprintf(tpath, sizeof tpath, "%s/teacher_reordered.h5", c->experiment.output_dir);
    ofa_encoded dev;
    memset(&dev, 0, sizeof dev);
    int rc = ofa_taskdata_encode(&dev, c->data.glue_dir, x->task, "dev", &x->vocab, x->meta.lowercase,
                                 x->meta.max_seq_len, c->data.skip_bad_rows, 0);
    ofa_pareto_plot plot;
    memset(&plot, 0, sizeof plot);
    plot.metric_name = "validation metric";
    if (rc == 0 && ofa_file_exists(tpath)) {
        ofa_bert tm;
        ofa_ckpt_meta tmeta;
        if (ofa_ckpt_load_bert(tpath, &tm, NULL, &tmeta, NULL) == 0) {
            ofa_bert_acts ta;
            ofa_bert_acts_create(&ta, &tm.d, SCORE_BATCH, dev.max_len > x->val.max_len ? dev.max_len : x->val.max_len);
            ofa_scores s;
            if (ofa_score_bert(&tm, &ta, &dev, x->task, SCORE_BATCH, NULL, 1, &s) == 0) {
                res->teacher_dev = s.metrics.main;
                ofa_scores_free(&s);
            }
            if (ofa_score_bert(&tm, &ta, &x->val, x->task, SCORE_BATCH, NULL, 1, &s) == 0) {
                plot.teacher_metric = s.metrics.main;
                ofa_scores_free(&s);
            }
            ofa_bert_arch full;
            ofa_bert_arch_largest(&full, &x->space);
            res->teacher_params = ofa_bert_arch_params(&full, tm.d.V, tm.d.P, tm.d.C, tm.d.D);
            if (x->mode == MODE_MEASURED) {
                ofa_latency l;
                if (ofa_latency_measure(&tm, NULL, &x->lcfg, &l) < 0) OFA_WARN("search: teacher: %s", ofa_err_msg());
                res->teacher_latency_ms = l.median;
            } else {
                res->teacher_latency_ms = estimate(&full, x);
            }
            plot.has_teacher = 1;
            plot.teacher_latency_ms = res->teacher_latency_ms;
            ofa_bert_acts_free(&ta);
            ofa_bert_free(&tm);
            ofa_ckpt_meta_free(&tmeta);
        }
    }
    char dir[OFA_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s/subnets", c->experiment.output_dir);
    if (rc == 0 && x->o->export_winners) rc = ofa_mkdirs(dir);
    ofa_bert_acts da;
    ofa_bert_acts_create(&da, &x->m.d, SCORE_BATCH, dev.max_len > 0 ? dev.max_len : 1);
    for (int b = 0; b < e->n_budgets && rc == 0; b++) {
        winner[b] = ofa_evo_winner(e, b);
        res->budgets[b] = e->budgets[b];
        res->arch[b][0] = '\0';
        if (winner[b] < 0) {
            OFA_WARN("search: no evaluated arch met the budget %.3g ms", e->budgets[b]);
            continue;
        }
        ofa_evo_point *p = &pts[winner[b]];
        snprintf(res->arch[b], sizeof res->arch[b], "%s", p->text);
        res->val_metric[b] = p->metric;
        res->latency_ms[b] = p->latency_ms;
        res->params[b] = p->params;
        if (!x->o->export_winners) continue;
        /* export the winner, then score the exported file's model: what a user deploys */
        ofa_bert sub;
        rc = ofa_export_subnet(&sub, &x->m, &p->arch);
        if (rc < 0) break;
        char out[OFA_PATH_MAX + OFA_ARCH_TEXT_MAX + 64];
        snprintf(out, sizeof out, "%s/%s.h5", dir, p->text);
        ofa_ckpt_meta m = x->meta;
        m.config_yaml = x->meta.config_yaml;
        ofa_ckpt_meta_set_kind(&m, OFA_CKPT_SUBNET);
        snprintf(m.arch, sizeof m.arch, "%s", p->text);
        rc = ofa_ckpt_save_bert(out, &sub, &x->vocab, &m, NULL);
        ofa_bert_free(&sub);
        if (rc < 0) break;
        ofa_bert loaded;
        ofa_ckpt_meta lm;
        rc = ofa_ckpt_load_bert(out, &loaded, NULL, &lm, NULL);
        if (rc < 0) break;
        ofa_bert_acts la;
        ofa_bert_acts_create(&la, &loaded.d, SCORE_BATCH, dev.max_len > 0 ? dev.max_len : 1);
        ofa_scores s;
        rc = ofa_score_bert(&loaded, &la, &dev, x->task, SCORE_BATCH, NULL, 1, &s);
        if (rc == 0) {
            p->dev_metric = s.metrics.main;
            res->dev_metric[b] = s.metrics.main;
            ofa_scores_free(&s);
            OFA_INFO("search: budget %.3g ms: %s val %.4f dev %.4f %.3g ms -> %s", e->budgets[b], p->text, p->metric,
                     p->dev_metric, p->latency_ms, out);
        }
        ofa_bert_acts_free(&la);
        ofa_bert_free(&loaded);
        ofa_ckpt_meta_free(&lm);
    }
    ofa_bert_acts_free(&da);
    ofa_encoded_free(&dev);
    char path[OFA_PATH_MAX + 64];
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%spareto.csv", c->experiment.output_dir, pre);
        rc = ofa_pareto_write_csv(path, pts, n, e->budgets, winner, e->n_budgets);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%spareto.svg", c->experiment.output_dir, pre);
        char title[160];
        snprintf(title, sizeof title, "%s subnets: %s %s vs latency (%s)", ofa_task_get(x->task)->name,
                 x->o->random ? "random search" : "evolution", res->metric,
                 ofa_latency_mode_name(c->search.latency_mode));
        plot.title = title;
        rc = ofa_pareto_write_svg(path, pts, n, e->budgets, winner, e->n_budgets, &plot);
    }
    free(pts);
    return rc;
}

int ofa_search_run(const ofa_config *c, ofa_topo *t, const ofa_search_opts *o, ofa_search_result *res)
{
    double t0 = ofa_now();
    memset(res, 0, sizeof *res);
    sctx *x = ofa_xcalloc(1, sizeof *x);
    x->c = c;
    x->t = t;
    x->o = o;
    if (o->checkpoint) snprintf(x->path, sizeof x->path, "%s", o->checkpoint);
    else snprintf(x->path, sizeof x->path, "%s/supernet.h5", c->experiment.output_dir);
    int rc = ofa_topo_agree(t, load(x));
    if (rc == 0) rc = table_everywhere(x);
    ofa_config cc = *c; /* budgets may be overridden */
    if (o->budgets) {
        cc.search.n_budgets = o->n_budgets;
        memcpy(cc.search.budgets_ms, o->budgets, (size_t)o->n_budgets * sizeof *o->budgets);
    }
    ofa_evo e;
    memset(&e, 0, sizeof e);
    int have_evo = 0;
    if (rc == 0 && t->rank == 0) {
        const int elastic = OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | (x->space.n_hidden ? OFA_ELASTIC_HIDDEN : 0);
        uint64_t seed = (uint64_t)(o->seed >= 0 ? o->seed : c->experiment.seed);
        rc = o->random ? ofa_random_search_init(&e, &x->space, elastic, &cc, seed, estimate, x)
                       : ofa_evo_init(&e, &x->space, elastic, &cc, seed, estimate, x);
        have_evo = rc == 0;
        char state[OFA_PATH_MAX + 64];
        snprintf(state, sizeof state, "%s/%ssearch.h5", c->experiment.output_dir, o->out_prefix ? o->out_prefix : "");
        if (rc == 0 && ofa_file_exists(state)) {
            ofa_h5 h;
            int r2 = ofa_h5_open(&h, state);
            if (r2 == 0) {
                r2 = ofa_evo_read(&e, &h, "/search");
                ofa_h5_close(&h);
            }
            if (r2 == 0) OFA_INFO("search: resuming from %s (%lld archs evaluated)", state, (long long)e.evaluations);
            else OFA_WARN("search: %s not resumed (%s); starting over", state, ofa_err_msg());
        }
        if (rc == 0)
            OFA_INFO("search: %s over %d budget%s, population %d, %d generations, latency %s, %lld validation "
                     "examples, %d worker rank%s",
                     o->random ? "random search" : "evolution", e.n_budgets, e.n_budgets == 1 ? "" : "s",
                     cc.search.population, cc.search.generations, ofa_latency_mode_name(c->search.latency_mode),
                     (long long)x->val.n, t->size - 1, t->size == 2 ? "" : "s");
        if (rc == 0) {
            rc = coordinate(x, &e, state); /* always releases the workers */
        } else {
            char stop[OFA_ARCH_TEXT_MAX] = "";
            for (int k = 1; k < t->size; k++) MPI_Send(stop, OFA_ARCH_TEXT_MAX, MPI_CHAR, k, TAG_STOP, t->world);
        }
        if (rc == 0) rc = finish(x, &e, res);
    } else if (rc == 0) {
        rc = work(x);
    }
    rc = ofa_topo_agree(t, rc);
    if (have_evo) ofa_evo_free(&e);
    sctx_free(x);
    free(x);
    res->seconds = ofa_now() - t0;
    return rc;
}
