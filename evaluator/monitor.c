#include "evaluator/monitor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/announce.h"
#include "coordinator/checkpoint.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "evaluator/latency.h"
#include "models/checkpoint.h"

/* forward latency of arch a with search.latency.* (sequence length capped at the model's input
 * limit); a figure refused as too noisy is still reported (with its spread) and the refusal logged */
static void measure_latency(const ofa_model *m, const ofa_space *s, const ofa_arch *a, const ofa_config *c, ofa_latency *lat)
{
    ofa_latency_cfg cfg;
    ofa_latency_cfg_from_config(&cfg, c);
    const int limit = ofa_model_family(m)->input_limit(m);
    if (limit > 0 && cfg.seq_len > limit) cfg.seq_len = limit;
    cfg.retries = 1;
    if (ofa_latency_measure(m, s, a, &cfg, lat) < 0) OFA_WARN("monitor: %s", ofa_err_msg());
}

typedef struct monitor {
    const ofa_config *c;
    ofa_topo *t;
    int eval_index;
    ofa_data *dev; /* opened with the first checkpoint's model (its tokenizer) */
    const ofa_family *fam;
    ofa_jsonl log;
} monitor;

static int score_checkpoint(monitor *mo, int64_t step)
{
    const ofa_config *c = mo->c;
    char dir[OFA_PATH_MAX + 16], path[OFA_PATH_MAX + 64];
    ofa_run_path(dir, sizeof dir, c, OFA_RUN_CKPT);
    ofa_ckpt_step_path(path, sizeof path, dir, OFA_RUN_SUPERNET_STEP, step);
    ofa_model_file f;
    OFA_TRY(ofa_model_file_open(&f, path, 0, "", c));
    const ofa_family *fam = ofa_model_family(&f.m);
    int rc = 0;
    if (!mo->dev) {
        rc = fam->data_open(&mo->dev, c, &f.m, OFA_SPLIT_DEV, c->data.dev_limit);
        mo->fam = fam;
    }
    if (rc == 0) {
        /* the reference subnets: largest, smallest, then mpi.monitor_archs */
        enum { MAX_REF = 18 };
        ofa_arch ref[MAX_REF];
        const char *role[MAX_REF];
        int nref = 0;
        ofa_arch_largest(&ref[nref], &f.space);
        role[nref++] = "largest";
        ofa_arch_smallest(&ref[nref], &f.space, OFA_ELASTIC_ALL);
        role[nref++] = "smallest";
        char list[sizeof c->mpi.monitor_archs];
        snprintf(list, sizeof list, "%s", c->mpi.monitor_archs);
        for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok && nref < MAX_REF;
             tok = strtok_r(NULL, ", ", &save)) {
            if (ofa_model_file_arch(&f, tok, &ref[nref]) < 0) {
                OFA_WARN("monitor: mpi.monitor_archs: %s", ofa_err_msg());
                continue;
            }
            role[nref++] = "configured";
        }
        for (int k = mo->eval_index; k < nref && rc == 0; k += mo->t->n_evaluators) {
            ofa_score s;
            rc = fam->score(&f.m, &ref[k], mo->dev, &s);
            if (rc < 0) break;
            ofa_latency lat;
            measure_latency(&f.m, &f.space, &ref[k], c, &lat);
            char text[OFA_ARCH_TEXT_MAX];
            ofa_arch_print(&ref[k], &f.space, text, sizeof text);
            ofa_jsonl_write(&mo->log,
                            "{\"stage\":\"monitor\",\"rank\":%d,\"step\":%lld,\"subnet\":\"%s\",\"arch\":\"%s\","
                            "\"dev_%s\":%.6g,\"latency_ms\":%.4g,\"latency_p10_ms\":%.4g,\"latency_p90_ms\":%.4g,"
                            "\"latency_spread\":%.4g,\"latency_batch\":%d,"
                            "\"latency_seq\":%d}",
                            mo->t->rank, (long long)step, role[k], text, s.name, s.metric, lat.median, lat.p10,
                            lat.p90, lat.spread, c->search.latency_batch, c->search.latency_seq_len);
            OFA_INFO_ANY("monitor: step %lld %s %s dev %.4f, %.3g ms", (long long)step, role[k], text, s.metric,
                         lat.median);
        }
    }
    ofa_model_file_close(&f);
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
    ofa_run_path(path, sizeof path, c, OFA_RUN_METRICS);
    if (ofa_jsonl_open(&mo.log, path) < 0) OFA_WARN("monitor: %s", ofa_err_msg());
    int64_t pending = -1, value = 0;
    int rc = 0;
    for (;;) {
        int kind = ofa_announce_poll(t, &value);
        if (kind < 0) {
            rc = kind;
            break;
        }
        if (kind == OFA_ANNOUNCE_FINISH) {
            rc = (int)value;
            break;
        }
        if (kind == OFA_ANNOUNCE_CHECKPOINT) {
            pending = value; /* keep only the newest */
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
    if (mo.dev) mo.fam->data_free(mo.dev);
    ofa_jsonl_close(&mo.log);
    return rc;
}
