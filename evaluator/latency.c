#include "evaluator/latency.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "nn/nn.h"
#include "nn/fm.h"

#include <cblas.h> /* after nn/nn.h: it may define I (complex.h) */

#define GROUP "latency_table"

/* ---- configuration ---- */

void ofa_latency_cfg_default(ofa_latency_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->batch = 1;
    cfg->seq_len = 64;
    cfg->threads = 1;
    cfg->warmup = 5;
    cfg->repeats = 30;
    cfg->max_spread = 0.25;
    cfg->retries = 0;
    cfg->n_cores = 0;
    cfg->seed = 1;
}

void ofa_latency_cfg_from_config(ofa_latency_cfg *cfg, const ofa_config *c)
{
    ofa_latency_cfg_default(cfg);
    cfg->batch = c->search.latency_batch;
    cfg->seq_len = c->search.latency_seq_len;
    cfg->threads = c->search.latency_threads;
    cfg->warmup = c->search.latency_warmup;
    cfg->repeats = c->search.latency_repeats;
}

int ofa_latency_parse_cores(ofa_latency_cfg *cfg, const char *text)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p || lo < 0 || lo >= CPU_SETSIZE) goto bad;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            hi = strtol(q, &end, 10);
            if (end == q || hi < lo || hi >= CPU_SETSIZE) goto bad;
            p = end;
        }
        for (long c = lo; c <= hi; c++) {
            if (n >= OFA_LATENCY_MAX_CORES)
                return OFA_ERR(OFA_E_USAGE, "cores '%s': more than %d cores", text, OFA_LATENCY_MAX_CORES);
            cfg->cores[n++] = (int)c;
        }
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    if (n == 0) goto bad;
    cfg->n_cores = n;
    return 0;
bad:
    return OFA_ERR(OFA_E_USAGE, "cores '%s': expected a CPU list such as 0,2-3 (at character %d)", text,
                   (int)(p - text) + 1);
}

/* ---- statistics ---- */

/* linear interpolation between order statistics (numpy's default) of sorted s[0..n) */
static double percentile(const double *s, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)floor(pos);
    if (i >= n - 1) return s[n - 1];
    double f = pos - i;
    return s[i] + f * (s[i + 1] - s[i]);
}

void ofa_latency_stats(const double *ms, int n, ofa_latency *out)
{
    OFA_ASSERT(n >= 1);
    double *s = ofa_xmalloc((size_t)n * sizeof *s);
    memcpy(s, ms, (size_t)n * sizeof *s);
    const double median = ofa_median_sort(s, n);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += s[i];
    memset(out, 0, sizeof *out);
    out->min = s[0];
    out->max = s[n - 1];
    out->median = median;
    out->p10 = percentile(s, n, 0.1);
    out->p90 = percentile(s, n, 0.9);
    out->mean = sum / n;
    out->spread = out->median > 0 ? (out->p90 - out->p10) / out->median : 0.0;
    out->repeats = n;
    out->attempts = 1;
    free(s);
}

/* ---- pinning: BLAS threads, kernels and CPU affinity, restored afterwards ---- */

const char *ofa_latency_kernels(const ofa_latency_cfg *cfg)
{
    return nn_fm_path_name_of(nn_fm_path_for_threads(cfg->threads));
}

typedef struct pin_state {
    int old_threads;
    nn_fm_path old_path;
    int have_affinity;
    cpu_set_t old_set;
    int n_blas;               /* OpenBLAS worker threads whose affinity was changed */
    cpu_set_t blas_old[OFA_LATENCY_MAX_CORES];
} pin_state;

static void blas_pin(pin_state *ps, const cpu_set_t *set, int threads)
{
    ps->n_blas = 0;
#ifdef OPENBLAS_OS_LINUX
    /* OpenBLAS threads other than the caller: indices [0, threads - 1) (the last one is the caller) */
    if (threads < 2 || openblas_get_parallel() != OPENBLAS_THREAD) return;
    for (int i = 0; i < threads - 1 && i < OFA_LATENCY_MAX_CORES; i++) {
        if (openblas_getaffinity(i, sizeof(cpu_set_t), &ps->blas_old[i]) != 0) break;
        if (openblas_setaffinity(i, sizeof(cpu_set_t), (cpu_set_t *)set) != 0) break;
        ps->n_blas = i + 1;
    }
#else
    (void)set;
    (void)threads;
#endif
}

static void blas_unpin(pin_state *ps)
{
#ifdef OPENBLAS_OS_LINUX
    for (int i = 0; i < ps->n_blas; i++) openblas_setaffinity(i, sizeof(cpu_set_t), &ps->blas_old[i]);
#endif
    ps->n_blas = 0;
}

static int pin_begin(pin_state *ps, const ofa_latency_cfg *cfg)
{
    memset(ps, 0, sizeof *ps);
    ps->old_threads = openblas_get_num_threads();
    if (cfg->n_cores > 0) {
        if (sched_getaffinity(0, sizeof ps->old_set, &ps->old_set) != 0)
            return OFA_ERR(OFA_E_RUNTIME, "latency: sched_getaffinity failed: %s", strerror(errno));
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int i = 0; i < cfg->n_cores; i++) {
            int c = cfg->cores[i];
            if (c < 0 || c >= CPU_SETSIZE || !CPU_ISSET(c, &ps->old_set))
                return OFA_ERR(OFA_E_USAGE, "latency: core %d is not available to this process (%d usable cores)", c,
                               CPU_COUNT(&ps->old_set));
            CPU_SET(c, &set);
        }
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            return OFA_ERR(OFA_E_RUNTIME, "latency: cannot pin to the requested cores: %s", strerror(errno));
        ps->have_affinity = 1;
        ofa_set_blas_threads(cfg->threads);
        blas_pin(ps, &set, cfg->threads);
    } else {
        ofa_set_blas_threads(cfg->threads);
    }
    ps->old_path = nn_fm_get_path();
    nn_fm_set_path(nn_fm_path_for_threads(cfg->threads));
    return 0;
}

static void pin_end(pin_state *ps)
{
    blas_unpin(ps);
    if (ps->have_affinity && sched_setaffinity(0, sizeof ps->old_set, &ps->old_set) != 0)
        OFA_WARN("latency: could not restore the CPU affinity: %s", strerror(errno));
    ps->have_affinity = 0;
    ofa_set_blas_threads(ps->old_threads > 0 ? ps->old_threads : 1);
    nn_fm_set_path(ps->old_path);
}

static int check_cfg(const ofa_latency_cfg *cfg, int positions)
{
    if (cfg->batch < 1 || cfg->seq_len < 1 || cfg->threads < 1 || cfg->warmup < 0 || cfg->repeats < 1 ||
        cfg->retries < 0)
        return OFA_ERR(OFA_E_USAGE,
                       "latency: invalid settings: batch %d, seq_len %d, threads %d, warmup %d, repeats %d, retries %d "
                       "(batch, seq_len, threads, repeats >= 1; warmup, retries >= 0)",
                       cfg->batch, cfg->seq_len, cfg->threads, cfg->warmup, cfg->repeats, cfg->retries);
    if (positions > 0 && cfg->seq_len > positions)
        return OFA_ERR(OFA_E_USAGE, "latency: seq_len %d exceeds the model's %d positions", cfg->seq_len, positions);
    return 0;
}

/* ---- measured latency ---- */

int ofa_latency_measure(const ofa_model *m, const ofa_space *s, const ofa_arch *a, const ofa_latency_cfg *cfg,
                        ofa_latency *out)
{
    memset(out, 0, sizeof *out);
    const ofa_family *f = ofa_model_family(m);
    OFA_TRY(check_cfg(cfg, f->input_limit(m)));
    const int B = cfg->batch, T = cfg->seq_len, R = cfg->repeats;
    double *ms = ofa_xmalloc((size_t)R * sizeof *ms);
    ofa_infer *w = NULL;
    pin_state ps;
    int rc = pin_begin(&ps, cfg), ok = 0, attempt = 0;
    ofa_latency best;
    memset(&best, 0, sizeof best);
    if (rc == 0) rc = f->infer_create(&w, m, a, B, T, cfg->seed); /* allocates the workspace, untimed */
    for (; rc == 0 && attempt <= cfg->retries && !ok; attempt++) {
        for (int i = -cfg->warmup; i < R; i++) {
            double t0 = ofa_now();
            f->infer_run(w);
            if (i >= 0) ms[i] = (ofa_now() - t0) * 1e3;
        }
        ofa_latency cur;
        ofa_latency_stats(ms, R, &cur);
        if (attempt == 0 || cur.spread < best.spread) best = cur;
        ok = cfg->max_spread < 0 || cur.spread <= cfg->max_spread;
        if (ok) best = cur;
    }
    if (rc == 0 || ps.have_affinity) pin_end(&ps);
    free(ms);
    if (w) f->infer_free(w);
    if (rc < 0) return rc;
    best.attempts = attempt;
    *out = best;
    if (!ok) {
        char text[OFA_ARCH_TEXT_MAX] = "the full model";
        if (a && s) ofa_arch_print(a, s, text, sizeof text);
        else if (a) snprintf(text, sizeof text, "the subnet");
        char seq[32] = ""; /* a family counting tokens has a sequence length; one counting images not */
        if (!f->item_unit) snprintf(seq, sizeof seq, ", seq %d", T);
        return OFA_ERR(OFA_E_RUNTIME,
                       "latency of %s (batch %d%s, %d thread%s): the machine is too noisy: spread (p90 - p10) / "
                       "median = %.1f%% (p10 %.4g ms, median %.4g ms, p90 %.4g ms over %d runs) exceeds the limit "
                       "%.3g%% after %d attempt%s; measure on a quieter machine, pin to idle cores, or allow (more) "
                       "retries",
                       text, B, seq, cfg->threads, cfg->threads == 1 ? "" : "s", 100.0 * best.spread, best.p10,
                       best.median, best.p90, R, 100.0 * cfg->max_spread, attempt, attempt == 1 ? "" : "s");
    }
    return 0;
}

/* ---- table entries ---- */

void ofa_latency_table_init(ofa_latency_table *t) { memset(t, 0, sizeof *t); }

void ofa_latency_table_free(ofa_latency_table *t)
{
    if (!t) return;
    free(t->e);
    memset(t, 0, sizeof *t);
}

int ofa_latency_table_find(const ofa_latency_table *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].key, key)) return i;
    return -1;
}

static int table_entry(ofa_latency_table *t, const char *key)
{
    int i = ofa_latency_table_find(t, key);
    if (i >= 0) return i;
    OFA_ASSERT(strlen(key) < OFA_LATENCY_KEY_MAX);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 32;
        t->e = ofa_xrealloc(t->e, (size_t)t->cap * sizeof *t->e);
    }
    ofa_latency_entry *e = &t->e[t->n];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return t->n++;
}

void ofa_latency_table_add(ofa_latency_table *t, const char *key, double ms)
{
    const int i = table_entry(t, key); /* may move t->e */
    ofa_latency_entry *e = &t->e[i];
    e->count++;
    double delta = ms - e->mean;
    e->mean += delta / (double)e->count;
    e->m2 += delta * (ms - e->mean);
}

double ofa_latency_table_var(const ofa_latency_table *t, int i)
{
    const ofa_latency_entry *e = &t->e[i];
    return e->count > 1 ? e->m2 / (double)(e->count - 1) : 0.0;
}

/* ---- prediction: the sum of an arch's ops ---- */

typedef struct sum_ctx {
    const ofa_latency_table *t;
    double sum;
    char missing[OFA_LATENCY_KEY_MAX];
} sum_ctx;

static int sum_op(const char *key, int times, void *vctx)
{
    sum_ctx *s = vctx;
    int i = ofa_latency_table_find(s->t, key);
    if (i < 0) {
        snprintf(s->missing, sizeof s->missing, "%s", key);
        return -1;
    }
    s->sum += times * s->t->e[i].mean;
    return 0;
}

double ofa_latency_table_predict(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *a)
{
    sum_ctx c = {t, 0.0, ""};
    return ofa_family_get(s->family)->arch_ops(s, a, sum_op, &c) < 0 ? NAN : c.sum;
}

int ofa_latency_table_check(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *a)
{
    sum_ctx c = {t, 0.0, ""};
    if (ofa_family_get(s->family)->arch_ops(s, a, sum_op, &c) == 0) return 0;
    char text[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(a, s, text, sizeof text);
    return OFA_ERR(OFA_E_USAGE, "arch '%s': op '%s' is not in the latency table (built for another space?)", text,
                   c.missing);
}

/* ---- table build: each op of the space alone, as the model's inference forward runs it ---- */

int ofa_latency_table_covers(const ofa_latency_table *t, const ofa_model *m, const ofa_space *s, char *missing,
                             size_t n)
{
    const ofa_family *f = ofa_model_family(m);
    ofa_table_ops *ops = NULL;
    OFA_TRY(f->table_ops_create(&ops, m, s, t->batch, t->seq_len, 0));
    int covers = 1;
    missing[0] = '\0';
    for (int i = 0; i < f->table_ops_count(ops) && covers; i++)
        if (ofa_latency_table_find(t, f->table_op_key(ops, i)) < 0) {
            snprintf(missing, n, "%s", f->table_op_key(ops, i));
            covers = 0;
        }
    f->table_ops_free(ops);
    return covers;
}

int ofa_latency_table_build(ofa_latency_table *t, const ofa_model *m, const ofa_space *s, const ofa_latency_cfg *cfg)
{
    ofa_latency_table_init(t);
    const ofa_family *f = ofa_model_family(m);
    OFA_TRY(check_cfg(cfg, f->input_limit(m)));
    ofa_table_ops *ops = NULL;
    OFA_TRY(f->table_ops_create(&ops, m, s, cfg->batch, cfg->seq_len, cfg->seed));
    t->batch = cfg->batch;
    t->seq_len = cfg->seq_len;
    t->threads = cfg->threads;
    f->signature(m, t->signature, sizeof t->signature);
    if (gethostname(t->hostname, sizeof t->hostname) != 0) snprintf(t->hostname, sizeof t->hostname, "unknown");
    t->hostname[sizeof t->hostname - 1] = '\0';
    t->cores = ofa_usable_cores();
    snprintf(t->kernels, sizeof t->kernels, "%s", ofa_latency_kernels(cfg));
    pin_state ps;
    int rc = pin_begin(&ps, cfg);
    const int n = f->table_ops_count(ops);
    for (int i = 0; i < n && rc == 0; i++) {
        const char *key = f->table_op_key(ops, i);
        for (int r = -cfg->warmup; r < cfg->repeats; r++) {
            double t0 = ofa_now();
            f->table_op_run(ops, i);
            double ms = (ofa_now() - t0) * 1e3;
            if (r >= 0) ofa_latency_table_add(t, key, ms);
        }
    }
    if (rc == 0 || ps.have_affinity) pin_end(&ps);
    f->table_ops_free(ops);
    if (rc < 0) ofa_latency_table_free(t);
    return rc;
}

/* ---- predictor ---- */

int ofa_latency_predictor_fit(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *archs,
                              const double *measured_ms, int n, ofa_latency_predictor *pred)
{
    memset(pred, 0, sizeof *pred);
    pred->table = t;
    pred->scale = 1.0;
    pred->check_mape = NAN;
    if (n < 1) return OFA_ERR(OFA_E_USAGE, "latency predictor: no measured archs to fit on");
    double *x = ofa_xmalloc((size_t)n * sizeof *x);
    for (int i = 0; i < n; i++) {
        int rc = ofa_latency_table_check(t, s, &archs[i]);
        if (rc < 0) {
            free(x);
            return rc;
        }
        x[i] = ofa_latency_table_predict(t, s, &archs[i]);
    }
    double mx = 0, my = 0;
    for (int i = 0; i < n; i++) {
        mx += x[i];
        my += measured_ms[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (measured_ms[i] - my);
    }
    double scale = 1.0;
    if (n >= 2 && sxx > 1e-12 * mx * mx && sxy > 0) scale = sxy / sxx;
    double constant = my - scale * mx;
    if (constant < 0) {
        /* A negative overhead predicts negative times for the smallest archs (seen with 5 archs timed
         * on a loaded machine: scale 2.05, constant -1.43 ms).  A forward costs at least its ops, so
         * fit through the origin instead: scale = sum(x y) / sum(x x), constant 0. */
        double xx = 0, xy = 0;
        for (int i = 0; i < n; i++) {
            xx += x[i] * x[i];
            xy += x[i] * measured_ms[i];
        }
        scale = xx > 0 && xy > 0 ? xy / xx : 1.0;
        constant = 0;
    }
    free(x);
    pred->scale = scale;
    pred->constant = constant;
    pred->n_fit = n;
    return 0;
}

double ofa_latency_predictor_predict(const ofa_latency_predictor *pred, const ofa_space *s, const ofa_arch *a)
{
    return pred->scale * ofa_latency_table_predict(pred->table, s, a) + pred->constant;
}

/* ---- HDF5 ---- */

int ofa_latency_table_write(ofa_h5 *h, const ofa_latency_table *t, const ofa_latency_predictor *pred)
{
    if (t->n < 1) return OFA_ERR(OFA_E_USAGE, "%s: the latency table is empty", h->path);
    const char **keys = ofa_xmalloc((size_t)t->n * sizeof *keys);
    int64_t *count = ofa_xmalloc((size_t)t->n * sizeof *count);
    double *mean = ofa_xmalloc((size_t)t->n * sizeof *mean), *var = ofa_xmalloc((size_t)t->n * sizeof *var);
    for (int i = 0; i < t->n; i++) {
        keys[i] = t->e[i].key;
        count[i] = t->e[i].count;
        mean[i] = t->e[i].mean;
        var[i] = ofa_latency_table_var(t, i);
    }
    int64_t shape[1] = {t->n};
    int rc = ofa_h5_write_strings(h, GROUP "/keys", keys, t->n);
    if (rc == 0) rc = ofa_h5_write_i64(h, GROUP "/count", count, 1, shape);
    if (rc == 0) rc = ofa_h5_write_f64(h, GROUP "/mean", mean, 1, shape);
    if (rc == 0) rc = ofa_h5_write_f64(h, GROUP "/var", var, 1, shape);
    free(keys);
    free(count);
    free(mean);
    free(var);
    OFA_TRY(rc);
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "unit", "ms"));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "created", created));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "batch", t->batch));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "seq_len", t->seq_len));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "threads", t->threads));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "signature", t->signature));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "hostname", t->hostname));
    OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "cores", t->cores));
    OFA_TRY(ofa_h5_attr_set_str(h, GROUP, "kernels", t->kernels));
    if (pred && pred->n_fit > 0) {
        OFA_TRY(ofa_h5_attr_set_f64(h, GROUP, "const", pred->constant));
        OFA_TRY(ofa_h5_attr_set_f64(h, GROUP, "scale", pred->scale));
        OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "fit_n", pred->n_fit));
        if (pred->n_check > 0) {
            OFA_TRY(ofa_h5_attr_set_i64(h, GROUP, "check_n", pred->n_check));
            OFA_TRY(ofa_h5_attr_set_f64(h, GROUP, "check_mape", pred->check_mape));
        }
    }
    return 0;
}

static int get_int(ofa_h5 *h, const char *key, int *out)
{
    int64_t v;
    OFA_TRY(ofa_h5_attr_get_i64(h, GROUP, key, &v));
    *out = (int)v;
    return 0;
}

int ofa_latency_table_read(ofa_h5 *h, ofa_latency_table *t, ofa_latency_predictor *pred)
{
    ofa_latency_table_init(t);
    if (pred) {
        memset(pred, 0, sizeof *pred);
        pred->table = t;
        pred->scale = 1.0;
        pred->check_mape = NAN;
    }
    int ex = ofa_h5_exists(h, GROUP "/keys");
    if (ex < 0) return ex;
    if (!ex)
        return OFA_ERR(OFA_E_FORMAT, "%s: no /latency_table (not a latency table file; build one with "
                                     "'ofa latency CHECKPOINT --table')", h->path);
    char **keys = NULL;
    int64_t n = 0;
    OFA_TRY(ofa_h5_read_strings(h, GROUP "/keys", &keys, &n));
    int64_t shape[1] = {n};
    const size_t nn = (size_t)(n > 0 ? n : 1);
    int64_t *count = ofa_xmalloc(nn * sizeof *count);
    double *mean = ofa_xmalloc(nn * sizeof *mean), *var = ofa_xmalloc(nn * sizeof *var);
    int rc = n < 1 ? OFA_ERR(OFA_E_FORMAT, "%s: /latency_table/keys is empty", h->path) : 0;
    if (rc == 0) rc = ofa_h5_read_i64(h, GROUP "/count", count, 1, shape);
    if (rc == 0) rc = ofa_h5_read_f64(h, GROUP "/mean", mean, 1, shape);
    if (rc == 0) rc = ofa_h5_read_f64(h, GROUP "/var", var, 1, shape);
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        if (strlen(keys[i]) >= OFA_LATENCY_KEY_MAX || ofa_latency_table_find(t, keys[i]) >= 0 || count[i] < 1 ||
            !(var[i] >= 0) || !isfinite(mean[i])) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s: /latency_table entry %lld ('%s') is invalid or duplicated", h->path,
                         (long long)i, keys[i]);
            break;
        }
        const int j = table_entry(t, keys[i]); /* may move t->e */
        ofa_latency_entry *e = &t->e[j];
        e->count = count[i];
        e->mean = mean[i];
        e->m2 = var[i] * (double)(count[i] - 1);
    }
    ofa_h5_free_strings(keys, n);
    free(count);
    free(mean);
    free(var);
    if (rc == 0) rc = get_int(h, "batch", &t->batch);
    if (rc == 0) rc = get_int(h, "seq_len", &t->seq_len);
    if (rc == 0) rc = get_int(h, "threads", &t->threads);
    if (rc == 0 && ofa_h5_attr_exists(h, GROUP, "signature")) { /* tables before ofa 0.3 have none: stale */
        char *sig = NULL;
        rc = ofa_h5_attr_get_str(h, GROUP, "signature", &sig);
        if (rc == 0) snprintf(t->signature, sizeof t->signature, "%s", sig);
        free(sig);
    }
    if (rc == 0) rc = get_int(h, "cores", &t->cores);
    char *host = NULL;
    if (rc == 0) rc = ofa_h5_attr_get_str(h, GROUP, "hostname", &host);
    if (rc == 0) snprintf(t->hostname, sizeof t->hostname, "%s", host);
    free(host);
    char *kern = NULL;
    snprintf(t->kernels, sizeof t->kernels, "unknown");
    if (rc == 0 && ofa_h5_attr_exists(h, GROUP, "kernels") > 0) {
        rc = ofa_h5_attr_get_str(h, GROUP, "kernels", &kern);
        if (rc == 0) snprintf(t->kernels, sizeof t->kernels, "%s", kern);
        free(kern);
    }
    if (rc == 0 && pred && ofa_h5_attr_exists(h, GROUP, "const") > 0) {
        int64_t fit_n = 0;
        rc = ofa_h5_attr_get_f64(h, GROUP, "const", &pred->constant);
        if (rc == 0) rc = ofa_h5_attr_get_f64(h, GROUP, "scale", &pred->scale);
        if (rc == 0) rc = ofa_h5_attr_get_i64(h, GROUP, "fit_n", &fit_n);
        pred->n_fit = (int)fit_n;
        if (rc == 0 && ofa_h5_attr_exists(h, GROUP, "check_n") > 0) {
            int64_t cn = 0;
            rc = ofa_h5_attr_get_i64(h, GROUP, "check_n", &cn);
            if (rc == 0) rc = ofa_h5_attr_get_f64(h, GROUP, "check_mape", &pred->check_mape);
            pred->n_check = (int)cn;
        }
    }
    if (rc < 0) ofa_latency_table_free(t);
    return rc;
}

int ofa_latency_table_save(const char *path, const ofa_latency_table *t, const ofa_latency_predictor *pred)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = ofa_latency_table_write(&h, t, pred);
    if (rc == 0) rc = ofa_h5_attr_set_str(&h, "/", "format", "ofa-latency-table");
    if (rc == 0) rc = ofa_h5_attr_set_i64(&h, "/", "format_version", 1);
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

int ofa_latency_table_load(const char *path, ofa_latency_table *t, ofa_latency_predictor *pred)
{
    ofa_h5 h;
    ofa_latency_table_init(t);
    OFA_TRY(ofa_h5_open(&h, path));
    int rc = ofa_latency_table_read(&h, t, pred);
    ofa_h5_close(&h);
    return rc;
}

/* ---- agreement ---- */

double ofa_kendall_tau(const double *x, const double *y, int n)
{
    double conc = 0, disc = 0, tx = 0, ty = 0, pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int dx = (x[i] > x[j]) - (x[i] < x[j]), dy = (y[i] > y[j]) - (y[i] < y[j]);
            pairs++;
            if (dx == 0) tx++;
            if (dy == 0) ty++;
            if (dx * dy > 0) conc++;
            else if (dx * dy < 0) disc++;
        }
    double den = sqrt((pairs - tx) * (pairs - ty));
    return den > 0 ? (conc - disc) / den : 0.0;
}

double ofa_mape(const double *pred, const double *actual, int n)
{
    if (n < 1) return 0.0;
    double s = 0;
    for (int i = 0; i < n; i++) s += fabs(pred[i] - actual[i]) / fabs(actual[i]);
    return 100.0 * s / n;
}
