#include "evaluator/monitor.h"

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
#include "evaluator/latency.h"
#include "models/bert/score.h"
#include "trainers/supernet.h"

enum { TAG_CKPT = 7001, TAG_FINISH = 7002 };

static void send_all(ofa_topo *t, int tag, int64_t value)
{
    long long v = value;
    for (int r = t->size - t->n_evaluators; r < t->size; r++)
        if (r > 0 && MPI_Send(&v, 1, MPI_LONG_LONG, r, tag, t->world) != MPI_SUCCESS)
            OFA_WARN("could not notify evaluator rank %d", r);
}

void ofa_monitor_announce(ofa_topo *t, int64_t step)
{
    if (t->n_evaluators > 0) send_all(t, TAG_CKPT, step);
}

void ofa_monitor_finish(ofa_topo *t, int rc)
{
    if (t->n_evaluators > 0) send_all(t, TAG_FINISH, rc);
}

/* forward latency of arch a with search.latency.* (sequence length capped at the model's positions);
 * a figure refused as too noisy is still reported (with its spread) and the refusal logged */
static void measure_latency(const ofa_bert *m, const ofa_arch *a, const ofa_config *c, ofa_latency *lat)
{
    ofa_latency_cfg cfg;
    ofa_latency_cfg_from_config(&cfg, c);
    if (cfg.seq_len > m->d.P) cfg.seq_len = m->d.P;
    cfg.retries = 1;
    if (ofa_latency_measure(m, a, &cfg, lat) < 0) OFA_WARN("monitor: %s", ofa_err_msg());
}

typedef struct monitor {
    const ofa_config *c;
    ofa_topo *t;
    int task, eval_index;
    ofa_encoded dev;
    int have_dev;
    ofa_jsonl log;
} monitor;

static int score_checkpoint(monitor *mo, int64_t step)
{
    const ofa_config *c = mo->c;
    char path[OFA_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/ckpt/step_%08lld.h5", c->experiment.output_dir, (long long)step);
    ofa_bert m;
    ofa_vocab vocab;
    ofa_ckpt_meta meta;
    OFA_TRY(ofa_ckpt_load_bert(path, &m, &vocab, &meta, NULL));
    int rc = 0;
    if (!mo->have_dev) {
        mo->task = ofa_task_from_name(meta.task);
        rc = mo->task < 0 ? OFA_ERR(OFA_E_FORMAT, "%s: unknown task '%s'", path, meta.task)
                          : ofa_taskdata_encode(&mo->dev, c->data.glue_dir, mo->task, "dev", &vocab, meta.lowercase,
                                                meta.max_seq_len, c->data.skip_bad_rows, c->data.dev_limit);
        mo->have_dev = rc == 0;
    }
    ofa_space sp;
    if (rc == 0) rc = ofa_supernet_space(&sp, c, &m.d, path);
    if (rc == 0) {
        /* the reference subnets: largest, smallest, then mpi.monitor_archs */
        enum { MAX_REF = 18 };
        ofa_arch ref[MAX_REF];
        const char *role[MAX_REF];
        int nref = 0;
        const int all = OFA_ELASTIC_WIDTH | OFA_ELASTIC_DEPTH | (sp.n_hidden ? OFA_ELASTIC_HIDDEN : 0);
        ofa_arch_largest(&ref[nref], &sp);
        role[nref++] = "largest";
        ofa_arch_smallest(&ref[nref], &sp, all);
        role[nref++] = "smallest";
        char list[sizeof c->mpi.monitor_archs];
        snprintf(list, sizeof list, "%s", c->mpi.monitor_archs);
        for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok && nref < MAX_REF;
             tok = strtok_r(NULL, ", ", &save)) {
            if (ofa_arch_parse(&ref[nref], tok, m.d.L, m.d.H, sp.rule) < 0 || ofa_arch_check(&ref[nref], &sp) < 0) {
                OFA_WARN("monitor: mpi.monitor_archs: %s", ofa_err_msg());
                continue;
            }
            role[nref++] = "configured";
        }
        ofa_bert_infer_ws ws;
        ofa_bert_infer_ws_create(&ws, &m.d, 64, mo->dev.max_len > 0 ? mo->dev.max_len : 1);
        for (int k = mo->eval_index; k < nref && rc == 0; k += mo->t->n_evaluators) {
            ofa_scores s;
            rc = ofa_score_bert(&m, &ws, &mo->dev, mo->task, 64, &ref[k], 1, &s);
            if (rc < 0) break;
            ofa_latency lat;
            measure_latency(&m, &ref[k], c, &lat);
            char text[OFA_ARCH_TEXT_MAX];
            ofa_arch_print(&ref[k], m.d.H, text, sizeof text);
            ofa_jsonl_write(&mo->log,
                            "{\"stage\":\"monitor\",\"rank\":%d,\"step\":%lld,\"subnet\":\"%s\",\"arch\":\"%s\","
                            "\"dev_%s\":%.6g,\"latency_ms\":%.4g,\"latency_p10_ms\":%.4g,\"latency_p90_ms\":%.4g,"
                            "\"latency_spread\":%.4g,\"latency_batch\":%d,"
                            "\"latency_seq\":%d}",
                            mo->t->rank, (long long)step, role[k], text, ofa_task_get(mo->task)->metric,
                            s.metrics.main, lat.median, lat.p10, lat.p90, lat.spread, c->search.latency_batch,
                            c->search.latency_seq_len);
            OFA_INFO_ANY("monitor: step %lld %s %s dev %.4f, %.3g ms", (long long)step, role[k], text, s.metrics.main,
                     lat.median);
            ofa_scores_free(&s);
        }
        ofa_bert_infer_ws_free(&ws);
    }
    ofa_bert_free(&m);
    ofa_vocab_free(&vocab);
    ofa_ckpt_meta_free(&meta);
    return rc;
}

int ofa_monitor_loop(const ofa_config *c, ofa_topo *t)
{
    monitor mo;
    memset(&mo, 0, sizeof mo);
    mo.c = c;
    mo.t = t;
    mo.eval_index = t->rank - (t->size - t->n_evaluators);
    char path[OFA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", c->experiment.output_dir);
    if (ofa_jsonl_open(&mo.log, path) < 0) OFA_WARN("monitor: %s", ofa_err_msg());
    int64_t pending = -1;
    long long msg;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        if (MPI_Iprobe(0, MPI_ANY_TAG, t->world, &flag, &st) != MPI_SUCCESS)
            return OFA_ERR(OFA_E_MPI, "rank %d: MPI_Iprobe failed", t->rank);
        if (flag) {
            MPI_Recv(&msg, 1, MPI_LONG_LONG, 0, st.MPI_TAG, t->world, MPI_STATUS_IGNORE);
            if (st.MPI_TAG == TAG_FINISH) break;
            pending = msg; /* keep only the newest */
            continue;
        }
        if (pending >= 0) {
            if (score_checkpoint(&mo, pending) < 0)
                OFA_WARN("monitor: step %lld not scored: %s", (long long)pending, ofa_err_msg());
            pending = -1;
            continue;
        }
        struct timespec ts = {0, 5000000}; /* 5 ms: an idle evaluator must not spin a core */
        nanosleep(&ts, NULL);
    }
    if (mo.have_dev) ofa_encoded_free(&mo.dev);
    ofa_jsonl_close(&mo.log);
    return (int)msg;
}
