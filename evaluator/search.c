#include "evaluator/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/fingerprint.h"
#include "models/checkpoint.h"
#include "coordinator/queue.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "evaluator/latency.h"
#include "evaluator/pareto.h"
#include "core/runfiles.h"

enum { MODE_MEASURED, MODE_TABLE, MODE_PREDICTOR };

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

void ofa_search_fingerprint_extra(const ofa_search_opts *o, const ofa_config *c, char *buf, size_t n)
{
    snprintf(buf, n, "search method: %s\nsearch seed: %lld\nsearch export: %s\n", o->random ? "random" : "evolution",
             (long long)(o->seed >= 0 ? o->seed : c->experiment.seed), o->export_winners ? "true" : "false");
}

typedef struct sctx {
    const ofa_config *c;
    ofa_topo *t;
    const ofa_search_opts *o;
    char path[OFA_PATH_MAX + 64];
    ofa_model_file f; /* the supernet and its space */
    const ofa_family *fam;
    int mode, have_model, have_table;
    ofa_data *val;
    char val_rows[192], dev_rows[192]; /* which rows the val and dev metrics are measured on */
    ofa_latency_cfg lcfg;
    ofa_latency_table table;
    ofa_latency_predictor pred;
    ofa_jsonl log; /* rank 0: <output_dir>/metrics.jsonl */
    char *fingerprint; /* rank 0: what search.h5 (and pareto.csv) are made from */
} sctx;

static void sctx_free(sctx *x)
{
    ofa_jsonl_close(&x->log);
    if (x->val) x->fam->data_free(x->val);
    if (x->have_model) ofa_model_file_close(&x->f);
    if (x->have_table) ofa_latency_table_free(&x->table);
    free(x->fingerprint);
}

static double estimate(const ofa_arch *a, void *ctx)
{
    const sctx *x = ctx;
    return x->pred.n_fit > 0 ? ofa_latency_predictor_predict(&x->pred, &x->f.space, a)
                             : ofa_latency_table_predict(&x->table, &x->f.space, a);
}

/* The supernet, its space and the validation split; every rank that scores needs them. */
static int load(sctx *x)
{
    const ofa_config *c = x->c;
    OFA_TRY(ofa_model_file_open(&x->f, x->path, OFA_KIND(OFA_CKPT_SUPERNET), "the search needs a supernet (ofa supernet)", c));
    x->have_model = 1;
    x->fam = ofa_model_family(&x->f.m);
    OFA_TRY(x->fam->data_open(&x->val, c, &x->f.m, OFA_SPLIT_VAL, c->search.val_limit));
    if (x->fam->data_size(x->val) == 0)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.val_source / search.val_fraction leave no validation examples",
                       c->source);
    x->fam->data_describe(x->val, x->val_rows, sizeof x->val_rows);
    ofa_latency_cfg_from_config(&x->lcfg, c);
    const int limit = x->fam->input_limit(&x->f.m);
    if (limit > 0 && x->lcfg.seq_len > limit)
        return OFA_ERR(OFA_E_CONFIG, "%s: search.latency.seq_len %d exceeds the model's %d positions (%s)",
                       ofa_config_origin(c, "search.latency.seq_len"), x->lcfg.seq_len, limit, x->path);
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
    ofa_run_path(tpath, sizeof tpath, x->c, OFA_RUN_LATENCY_TABLE);
    if (ofa_file_exists(tpath)) {
        int lrc = ofa_latency_table_load(tpath, &x->table, &x->pred);
        if (lrc < 0) return ofa_err_suffix(lrc, "; remove it and the search builds it again");
        const ofa_latency_table *t = &x->table;
        char sig[sizeof t->signature];
        x->fam->signature(&x->f.m, sig, sizeof sig);
        const int same = t->batch == x->lcfg.batch && t->seq_len == x->lcfg.seq_len && t->threads == x->lcfg.threads &&
                         !strcmp(t->signature, sig) && !strcmp(t->kernels, ofa_latency_kernels(&x->lcfg));
        char missing[OFA_LATENCY_KEY_MAX] = "";
        const int covers = same ? ofa_latency_table_covers(t, &x->f.m, &x->f.space, missing, sizeof missing) : 0;
        if (covers < 0) return covers;
        if (covers) {
            x->have_table = 1;
            OFA_INFO("search: latency table %s (%d ops%s)", tpath, t->n, x->pred.n_fit ? ", fitted predictor" : "");
            return 0;
        }
        if (same) { /* the same settings, another space: the new space's archs would go unpriced */
            OFA_WARN("search: %s lacks op %s of this search space (built for another supernet.space?); rebuilding it",
                     tpath, missing);
        } else { /* timed for other settings or other kernels: its figures would mislead the search */
            char was[32] = "", now[32] = ""; /* a sequence length for a family counting tokens */
            if (!x->fam->item_unit) {
                snprintf(was, sizeof was, ", seq %d", t->seq_len);
                snprintf(now, sizeof now, ", seq %d", x->lcfg.seq_len);
            }
            OFA_WARN("search: %s was built for batch %d%s, %d thread(s), %s kernels, model '%s'; rebuilding it for "
                     "batch %d%s, %d thread(s), %s kernels, model '%s'",
                     tpath, t->batch, was, t->threads, t->kernels, t->signature[0] ? t->signature : "(unrecorded)",
                     x->lcfg.batch, now, x->lcfg.threads, ofa_latency_kernels(&x->lcfg), sig);
        }
        ofa_latency_table_free(&x->table);
        memset(&x->pred, 0, sizeof x->pred);
    }
    double t0 = ofa_now();
    OFA_TRY(ofa_latency_table_build(&x->table, &x->f.m, &x->f.space, &x->lcfg));
    x->have_table = 1;
    enum { NCAL = 12 };
    ofa_arch archs[NCAL];
    double ms[NCAL];
    int n = 0;
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)x->c->experiment.seed, 0xca1, 0);
    for (int i = 0; i < NCAL; i++) {
        if (i == 0) ofa_arch_largest(&archs[n], &x->f.space);
        else if (i == 1) ofa_arch_smallest(&archs[n], &x->f.space, OFA_ELASTIC_ALL);
        else ofa_arch_random(&archs[n], &x->f.space, OFA_ELASTIC_ALL, &rng);
        ofa_latency l;
        if (ofa_latency_measure(&x->f.m, &x->f.space, &archs[n], &x->lcfg, &l) == 0) ms[n++] = l.median;
        else OFA_WARN("search: calibration arch skipped: %s", ofa_err_msg());
    }
    if (n > 0) OFA_TRY(ofa_latency_predictor_fit(&x->table, &x->f.space, archs, ms, n, &x->pred));
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
        ofa_run_path(tpath, sizeof tpath, x->c, OFA_RUN_LATENCY_TABLE);
        rc = ofa_latency_table_load(tpath, &x->table, &x->pred);
        x->have_table = rc == 0;
    }
    return ofa_topo_agree(x->t, rc);
}

/* validation metric and latency of one arch */
static void score(sctx *x, const ofa_arch *a, result_msg *r)
{
    ofa_arch_print(a, &x->f.space, r->text, sizeof r->text);
    r->params = ofa_arch_params(&x->f.m, a);
    r->macs = ofa_arch_macs(&x->f.m, a, x->c->search.latency_seq_len);
    ofa_score s;
    if (x->fam->score(&x->f.m, a, x->val, &s) < 0) {
        OFA_WARN("search: %s not scored: %s", r->text, ofa_err_msg());
        r->metric = -INFINITY;
        r->latency_ms = INFINITY;
        r->spread_ms = 0;
        return;
    }
    /* the search maximizes: a metric where lower is better (FID) is negated */
    r->metric = s.higher_better ? s.metric : -s.metric;
    r->spread_ms = 0;
    if (x->mode == MODE_MEASURED) {
        ofa_latency l;
        if (ofa_latency_measure(&x->f.m, &x->f.space, a, &x->lcfg, &l) < 0) OFA_WARN("search: %s: %s", r->text, ofa_err_msg());
        r->latency_ms = l.median;
        r->spread_ms = l.p90 - l.p10;
    } else {
        r->latency_ms = x->mode == MODE_PREDICTOR ? ofa_latency_predictor_predict(&x->pred, &x->f.space, a)
                                                  : ofa_latency_table_predict(&x->table, &x->f.space, a);
    }
}

static void report(ofa_evo *e, sctx *x, const result_msg *r)
{
    ofa_evo_point p;
    memset(&p, 0, sizeof p);
    if (ofa_arch_parse(&p.arch, r->text, &x->f.space) < 0) {
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
    char v[32], l[32], sp[32];
    ofa_jsonl_write(&x->log,
                    "{\"stage\":\"search\",\"event\":\"eval\",\"budget\":%d,\"gen\":%d,\"arch\":\"%s\","
                    "\"val_metric\":%s,\"latency_ms\":%s,\"latency_spread_ms\":%s,\"params\":%lld,\"macs\":%.0f}",
                    e->budget, e->gen, r->text, ofa_json_num(v, sizeof v, r->metric),
                    ofa_json_num(l, sizeof l, r->latency_ms), ofa_json_num(sp, sizeof sp, r->spread_ms),
                    (long long)r->params, r->macs);
}

static int save_state(const ofa_evo *e, const sctx *x, const char *path)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = ofa_h5_attr_set_str(&h, "/", "format", OFA_CKPT_FORMAT);
    if (rc == 0) rc = ofa_h5_attr_set_i64(&h, "/", "format_version", OFA_CKPT_VERSION);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "kind", ofa_ckpt_kind_name(OFA_CKPT_SEARCH));
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "supernet", x->path);
    /* what it is about, for ofa inspect and h5dump -A */
    char now[32];
    ofa_utc_now(now, sizeof now);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "created", now);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "model", x->fam->name);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "task", x->f.meta.task);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "latency_mode", ofa_latency_mode_name(x->c->search.latency_mode));
    if (rc == 0 && x->fingerprint) rc = ofa_h5_attr_set_str(&h, "/", "fingerprint", x->fingerprint);
    if (rc == 0) rc = ofa_evo_write(e, &h, "/search");
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

static void progress(ofa_progress *prog, const ofa_evo *e)
{
    char extra[128];
    snprintf(extra, sizeof extra, "budget %d/%d  gen %d", e->budget + 1, e->n_budgets, e->gen);
    ofa_progress_update(prog, e->evaluations, 0, extra, 0);
}

/* Rank 0: the search loop, handing candidates to the workers (ranks 1..size-1, through
 * coordinator/queue) or scoring them itself when alone.  Checkpoints when a step is complete.
 * Always releases the workers. */
static int coordinate(sctx *x, ofa_evo *e, const char *state_path)
{
    ofa_topo *t = x->t;
    const int nw = t->size - 1;
    enum { QMAX = 256 };
    ofa_evo_cand *cands = ofa_xmalloc(QMAX * sizeof *cands);
    int qn = 0, qi = 0, rc = 0, handed = 0; /* handed: candidates given out since the last checkpoint */
    ofa_queue q;
    ofa_queue_init(&q, t, OFA_ARCH_TEXT_MAX, sizeof(result_msg));
    ofa_progress prog;
    /* candidates the search hands out at most (cache hits make it fewer) */
    int64_t total = ((int64_t)e->population + (int64_t)e->generations * (e->population - e->n_par)) * e->n_budgets;
    ofa_progress_init(&prog, "search", total, e->evaluations, 10.0);
    for (;;) {
        if (qi == qn && !ofa_evo_done(e)) {
            if (handed && q.outstanding == 0) {
                /* every candidate handed out is scored: a complete step, checkpointed (a kill loses at
                 * most one batch), and where a SIGTERM/SIGUSR1 stops the search */
                rc = save_state(e, x, state_path);
                if (rc < 0) break;
                handed = 0;
                if (ofa_stop_requested()) {
                    OFA_INFO("search: stopped by a signal after %lld evaluations; %s resumes it", (long long)e->evaluations,
                             state_path);
                    rc = OFA_STOPPED;
                    break;
                }
            }
            int n = ofa_evo_next_batch(e, cands, QMAX);
            if (n < 0) {
                rc = n;
                break;
            }
            qn = n;
            qi = 0;
            handed |= n > 0;
            if (n == 0 && q.outstanding == 0) { /* nothing to hand out and nothing pending: a step */
                rc = save_state(e, x, state_path);
                if (rc < 0) break;
                continue;
            }
        }
        if (ofa_evo_done(e) && q.outstanding == 0 && qi == qn) break;
        if (nw == 0) { /* alone: score here */
            while (qi < qn) {
                result_msg r;
                score(x, &cands[qi++].arch, &r);
                report(e, x, &r);
                progress(&prog, e);
            }
            continue;
        }
        result_msg r;
        int got = ofa_queue_poll(&q, &r);
        if (got < 0) {
            rc = got;
            break;
        }
        if (got) {
            report(e, x, &r);
            progress(&prog, e);
        }
        int sent = 0;
        while (qi < qn && (sent = ofa_queue_offer(&q, cands[qi].text)) == 1) qi++;
        if (sent < 0) {
            rc = sent;
            break;
        }
        if (!got) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
    }
    ofa_progress_update(&prog, e->evaluations, 0, rc == 0 ? "done" : rc == OFA_STOPPED ? "stopped" : "failed", 1);
    ofa_queue_stop(&q);
    if (rc == 0) rc = save_state(e, x, state_path);
    free(cands);
    return rc;
}

/* A worker's task: the arch text in, its score out. */
static void score_task(const void *task, void *result, void *ctx)
{
    sctx *x = ctx;
    char text[OFA_ARCH_TEXT_MAX];
    snprintf(text, sizeof text, "%.*s", OFA_ARCH_TEXT_MAX - 1, (const char *)task);
    result_msg *r = result;
    ofa_arch a;
    if (ofa_arch_parse(&a, text, &x->f.space) < 0) {
        memset(r, 0, sizeof *r);
        snprintf(r->text, sizeof r->text, "%s", text);
        r->metric = -INFINITY;
        r->latency_ms = INFINITY;
    } else {
        score(x, &a, r);
    }
}

static int work(sctx *x) { return ofa_queue_serve(x->t, OFA_ARCH_TEXT_MAX, sizeof(result_msg), score_task, x); }

/* The teacher's figures for the summary and the plot: the full model of teacher_reordered.h5 */
static void teacher_figures(sctx *x, ofa_data *dev, ofa_search_result *res, ofa_pareto_plot *plot)
{
    char tpath[OFA_PATH_MAX + 64];
    ofa_run_path(tpath, sizeof tpath, x->c, OFA_RUN_REORDERED);
    if (!ofa_file_exists(tpath)) return;
    ofa_model_file tf;
    if (ofa_model_file_open(&tf, tpath, 0, "", NULL) < 0) {
        OFA_WARN("search: teacher figures skipped: %s", ofa_err_msg());
        return;
    }
    ofa_score s;
    if (x->fam->score(&tf.m, NULL, dev, &s) == 0) res->teacher_dev = s.metric;
    if (x->fam->score(&tf.m, NULL, x->val, &s) == 0) plot->teacher_metric = s.metric;
    ofa_arch full;
    ofa_arch_largest(&full, &x->f.space);
    res->teacher_params = ofa_arch_params(&tf.m, &full);
    if (x->mode == MODE_MEASURED) {
        ofa_latency l;
        if (ofa_latency_measure(&tf.m, NULL, NULL, &x->lcfg, &l) < 0) OFA_WARN("search: teacher: %s", ofa_err_msg());
        res->teacher_latency_ms = l.median;
    } else {
        res->teacher_latency_ms = estimate(&full, x);
    }
    plot->has_teacher = 1;
    plot->teacher_latency_ms = res->teacher_latency_ms;
    ofa_model_file_close(&tf);
}

/* budget b's winner p exported as a standalone model and scored on dev (what a user deploys); the
 * file carries that score (best_metric) and a config describing the subnet */
static int export_winner(sctx *x, ofa_evo_point *p, const char *dir, ofa_data *dev, double budget,
                         ofa_search_result *res, int b)
{
    ofa_model sub;
    OFA_TRY(x->fam->model_export(&sub, &x->f.m, &p->arch));
    char out[OFA_PATH_MAX + OFA_ARCH_TEXT_MAX + 64];
    /* a --prefix search's winners beside the run's own, not over them (another --checkpoint's
     * winner of the same arch is another model) */
    snprintf(out, sizeof out, "%s/%s%s.h5", dir, x->o->out_prefix ? x->o->out_prefix : "", p->text);
    ofa_ckpt_meta m;
    ofa_ckpt_meta_subnet(&m, &x->f, &sub, &p->arch);
    ofa_score s;
    int rc = x->fam->score(&sub, NULL, dev, &s);
    if (rc == 0) {
        p->dev_metric = s.metric;
        res->dev_metric[b] = s.metric;
        m.best_metric = s.metric;
        snprintf(m.metric_name, sizeof m.metric_name, "%s", s.name);
        rc = ofa_ckpt_save_model(out, &sub, &m, NULL, NULL, NULL);
    }
    if (rc == 0)
        OFA_INFO("search: budget %.3g ms: %s val %.4f dev %.4f %.3g ms -> %s", budget, p->text, res->val_metric[b],
                 p->dev_metric, p->latency_ms, out);
    ofa_ckpt_meta_free(&m);
    ofa_model_free(&sub);
    return rc;
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
    ofa_data *dev = NULL;
    /* the dev figures (winners, teacher) on the rows reported as dev, never the search's */
    int rc = x->fam->data_open(&dev, c, &x->f.m, OFA_SPLIT_DEV, c->search.dev_limit);
    if (rc == 0) {
        x->fam->data_describe(dev, x->dev_rows, sizeof x->dev_rows);
        OFA_INFO("search: dev figures on %s", x->dev_rows);
    }
    ofa_score probe;
    memset(&probe, 0, sizeof probe);
    if (rc == 0) rc = x->fam->score(&x->f.m, NULL, x->val, &probe); /* the metric's name */
    snprintf(res->metric, sizeof res->metric, "%s", probe.name);
    snprintf(res->val_rows, sizeof res->val_rows, "%s", x->val_rows);
    snprintf(res->dev_rows, sizeof res->dev_rows, "%s", x->dev_rows);
    ofa_pareto_plot plot;
    memset(&plot, 0, sizeof plot);
    char yname[96]; /* the y axis names the metric and the split it was measured on */
    snprintf(yname, sizeof yname, "%s on val (the search's validation rows)", res->metric);
    plot.metric_name = yname;
    plot.lower_better = !probe.higher_better;
    if (rc == 0) teacher_figures(x, dev, res, &plot);
    char dir[OFA_PATH_MAX + 32];
    ofa_run_path(dir, sizeof dir, c, OFA_RUN_SUBNETS);
    if (rc == 0 && x->o->export_winners) rc = ofa_mkdirs(dir);
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
        res->val_metric[b] = probe.higher_better ? p->metric : -p->metric; /* the metric, not the fitness */
        res->latency_ms[b] = p->latency_ms;
        res->params[b] = p->params;
        res->dev_metric[b] = NAN; /* until export_winner scores it (never with --no-export) */
        if (x->o->export_winners) rc = export_winner(x, p, dir, dev, e->budgets[b], res, b);
        char v[32], dv[32], l[32];
        if (rc == 0)
            ofa_jsonl_write(&x->log,
                            "{\"stage\":\"search\",\"event\":\"winner\",\"budget_ms\":%.6g,\"arch\":\"%s\","
                            "\"metric\":\"%s\",\"val_metric\":%s,\"dev_metric\":%s,\"latency_ms\":%s,"
                            "\"params\":%lld,\"exported\":%s}",
                            e->budgets[b], p->text, res->metric, ofa_json_num(v, sizeof v, res->val_metric[b]),
                            ofa_json_num(dv, sizeof dv, p->dev_metric), ofa_json_num(l, sizeof l, p->latency_ms),
                            (long long)p->params, x->o->export_winners ? "true" : "false");
    }
    if (dev) x->fam->data_free(dev);
    char path[OFA_PATH_MAX + 64];
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s%s", c->experiment.output_dir, pre, OFA_RUN_PARETO_CSV);
        rc = ofa_pareto_write_csv_lb(path, pts, n, e->budgets, winner, e->n_budgets, x->val_rows, x->dev_rows,
                                     !probe.higher_better);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/%s%s", c->experiment.output_dir, pre, OFA_RUN_PARETO_SVG);
        char title[160];
        snprintf(title, sizeof title, "%s subnets: %s %s vs latency (%s)", x->f.meta.task,
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
    else ofa_run_path(x->path, sizeof x->path, c, OFA_RUN_SUPERNET);
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
        char lp[OFA_PATH_MAX + 64];
        ofa_run_path(lp, sizeof lp, c, OFA_RUN_METRICS);
        if (ofa_jsonl_open(&x->log, lp) < 0) OFA_WARN("search: results not logged: %s", ofa_err_msg());
        const int elastic = OFA_ELASTIC_ALL;
        uint64_t seed = (uint64_t)(o->seed >= 0 ? o->seed : c->experiment.seed);
        rc = o->random ? ofa_random_search_init(&e, &x->f.space, elastic, &cc, seed, estimate, x)
                       : ofa_evo_init(&e, &x->f.space, elastic, &cc, seed, estimate, x);
        have_evo = rc == 0;
        char state[OFA_PATH_MAX + 64], extra[256];
        snprintf(state, sizeof state, "%s/%s%s", c->experiment.output_dir, o->out_prefix ? o->out_prefix : "",
                 OFA_RUN_SEARCH_STATE);
        ofa_search_fingerprint_extra(o, c, extra, sizeof extra);
        if (rc == 0) rc = ofa_fingerprint_make(&x->fingerprint, &cc, OFA_STAGE_SEARCH, x->path, extra);
        int resume = rc == 0 && ofa_file_exists(state) && !(o->flags & OFA_STAGE_FRESH);
        if (resume) { /* an interrupted search: resumed only under the settings it was made from */
            char *had = NULL;
            int r2 = ofa_fingerprint_read(state, &had);
            if (r2 == 0) r2 = ofa_fingerprint_check(state, had, x->fingerprint, 1, "", NULL);
            free(had);
            if (r2 == OFA_E_CONFIG && (o->flags & OFA_STAGE_FORCE)) {
                OFA_WARN("search: %s: starting over (--force)", ofa_err_msg());
                resume = 0;
            } else if (r2 == OFA_E_CONFIG) {
                rc = ofa_err_suffix(r2, "; pass --force to start the search over, or restore the setting");
            }
            if (rc == 0) ofa_err_clear();
        }
        if (resume && rc == 0) {
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
            OFA_INFO("search: %s over %d budget%s, population %d, %d generations, latency %s, validation on %s, "
                     "%d worker rank%s",
                     o->random ? "random search" : "evolution", e.n_budgets, e.n_budgets == 1 ? "" : "s",
                     cc.search.population, cc.search.generations, ofa_latency_mode_name(c->search.latency_mode),
                     x->val_rows, t->size - 1, t->size == 2 ? "" : "s");
        if (rc == 0) {
            rc = coordinate(x, &e, state); /* always releases the workers */
        } else { /* release the workers waiting for candidates */
            ofa_queue q;
            ofa_queue_init(&q, t, OFA_ARCH_TEXT_MAX, sizeof(result_msg));
            ofa_queue_stop(&q);
        }
        if (rc == 0) rc = finish(x, &e, res);
        char td[32], tl[32], pre[256];
        ofa_json_escape(pre, sizeof pre, o->out_prefix ? o->out_prefix : "");
        if (rc == 0)
            ofa_jsonl_write(&x->log,
                            "{\"stage\":\"search\",\"event\":\"done\",\"search\":\"%s\",\"prefix\":\"%s\","
                            "\"budgets\":%d,\"evaluations\":%lld,\"teacher_dev\":%s,\"teacher_latency_ms\":%s,"
                            "\"seconds\":%.1f}",
                            o->random ? "random" : "evolution", pre, res->n_budgets,
                            (long long)res->evaluations, ofa_json_num(td, sizeof td, res->teacher_dev),
                            ofa_json_num(tl, sizeof tl, res->teacher_latency_ms), ofa_now() - t0);
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
