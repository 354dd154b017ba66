/* cli/cmd_latency: ofa latency: measure one subnet's forward, or build and check a latency table. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/checkpoint.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "evaluator/latency.h"

typedef struct latency_args {
    const char *ckpt, *arch, *out, *cores;
    long batch, seq, threads, repeats, warmup, retries, calibrate, check;
    double max_spread, warn_mape;
    int table;
} latency_args;

static int parse_double(const char *opt, const char *v, double *out)
{
    if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", opt);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x)) return OFA_ERR(OFA_E_USAGE, "%s '%s': expected a number", opt, v);
    *out = x;
    return 0;
}

static int parse_args(latency_args *a, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->batch = a->seq = a->threads = a->repeats = a->warmup = a->retries = -1;
    a->calibrate = 20;
    a->check = 50;
    a->max_spread = NAN;
    a->warn_mape = OFA_LATENCY_MAPE_WARN;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        struct {
            const char *name;
            long *dst, lo, hi;
        } ints[] = {{"--batch", &a->batch, 1, 65536},     {"--seq", &a->seq, 1, 4096},
                    {"--threads", &a->threads, 1, 1024},  {"--repeats", &a->repeats, 1, 100000},
                    {"--warmup", &a->warmup, 0, 100000},  {"--retries", &a->retries, 0, 1000},
                    {"--calibrate", &a->calibrate, 1, 100000}, {"--check", &a->check, 0, 100000}};
        int matched = 0;
        for (size_t k = 0; k < sizeof ints / sizeof *ints && !matched; k++)
            if (!strcmp(s, ints[k].name)) {
                OFA_TRY(ofa_int_arg(s, v, ints[k].lo, ints[k].hi, ints[k].dst));
                matched = 1;
            }
        if (matched) {
            i++;
        } else if (!strcmp(s, "--arch") || !strcmp(s, "-o") || !strcmp(s, "--cores")) {
            if (!v) return OFA_ERR(OFA_E_USAGE, "%s needs a value", s);
            *(!strcmp(s, "--arch") ? &a->arch : !strcmp(s, "-o") ? &a->out : &a->cores) = v;
            i++;
        } else if (!strcmp(s, "--max-spread")) {
            OFA_TRY(parse_double(s, v, &a->max_spread));
            i++;
        } else if (!strcmp(s, "--warn-mape")) {
            OFA_TRY(parse_double(s, v, &a->warn_mape));
            i++;
        } else if (!strcmp(s, "--table")) {
            a->table = 1;
        } else if (s[0] == '-') {
            return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'latency'", s);
        } else if (!a->ckpt) {
            a->ckpt = s;
        } else {
            return OFA_ERR(OFA_E_USAGE, "unexpected argument '%s'", s);
        }
    }
    if (!a->ckpt) return OFA_ERR(OFA_E_USAGE, "'latency' needs a CHECKPOINT (teacher, supernet or subnet .h5)");
    /* more threads than cores times their contention, not the model */
    const int cores = ofa_usable_cores();
    if (a->threads > cores)
        return OFA_ERR(OFA_E_USAGE, "--threads %ld: this process may use %d core%s (its CPU affinity); time with at "
                       "most that many threads", a->threads, cores, cores == 1 ? "" : "s");
    /* a negative percent no check would exceed (a negative --max-spread turns its check off) */
    if (!(a->warn_mape >= 0)) return OFA_ERR(OFA_E_USAGE, "--warn-mape %g: expected a percentage >= 0", a->warn_mape);
    if (a->table && a->arch) return OFA_ERR(OFA_E_USAGE, "--table covers the whole space: drop --arch");
    if (!a->table && a->out) return OFA_ERR(OFA_E_USAGE, "-o is for --table");
    OFA_TRY(ofa_refuse_output_is_input("-o", a->out, a->ckpt));
    /* before the table is timed, not after */
    if (a->out && (!a->out[0] || ofa_is_dir(a->out)))
        return OFA_ERR(OFA_E_USAGE, "-o '%s': name the table's file (a folder or an empty name cannot be written)",
                       a->out);
    if (a->out && ofa_file_exists(a->out)) { /* a table is rebuilt over a table, never over another file */
        ofa_h5 h;
        char fmt[32] = "";
        if (ofa_h5_open(&h, a->out) == 0) {
            if (ofa_h5_attr_exists(&h, "/", "format") == 1) ofa_h5_attr_get_strbuf(&h, "/", "format", fmt, sizeof fmt);
            ofa_h5_close(&h);
        }
        ofa_err_clear();
        if (strcmp(fmt, "ofa-latency-table"))
            return OFA_ERR(OFA_E_USAGE, "-o %s exists and is not a latency table; remove it or name another file",
                           a->out);
    }
    if (a->out) OFA_TRY(ofa_mkdirs_for(a->out));
    return 0;
}

static void print_measure(const char *label, const ofa_arch *a, const ofa_model_file *f, const ofa_latency_cfg *cfg,
                          const ofa_latency *l)
{
    char text[OFA_ARCH_TEXT_MAX];
    ofa_arch_print(a, &f->space, text, sizeof text);
    /* a family counting its inputs in tokens (BERT) has a sequence length; one counting images does not */
    const char *unit = ofa_model_family(&f->m)->item_unit;
    char seq[32] = "";
    if (!unit) snprintf(seq, sizeof seq, ", seq %d", cfg->seq_len);
    printf("latency of %s (%s)\n", text, label);
    printf("  batch %d%s, %d thread%s, %s kernels, %d runs after %d warm-up, cores %s\n", cfg->batch, seq,
           cfg->threads, cfg->threads == 1 ? "" : "s", ofa_latency_kernels(cfg), l->repeats, cfg->warmup,
           cfg->n_cores > 0 ? "pinned" : "all");
    printf("  median %.4g ms   p10-p90 %.4g-%.4g ms   spread %.1f%%   min %.4g  max %.4g  mean %.4g ms%s\n", l->median,
           l->p10, l->p90, 100.0 * l->spread, l->min, l->max, l->mean,
           l->attempts > 1 ? "  (after retries)" : "");
    if (unit)
        printf("  %.3fM parameters, %.4g GMACs per %s\n", (double)ofa_arch_params(&f->m, a) / 1e6,
               ofa_arch_macs(&f->m, a, cfg->seq_len) / 1e9, unit);
    else
        printf("  %.3fM parameters, %.4g GMACs per sequence of %d tokens\n", (double)ofa_arch_params(&f->m, a) / 1e6,
               ofa_arch_macs(&f->m, a, cfg->seq_len) / 1e9, cfg->seq_len);
}

/* measures n random archs of the space into archs/ms; refused (noisy) ones are skipped with a warning */
static int measure_random(const ofa_model_file *f, const ofa_latency_cfg *cfg, ofa_rng *rng, int n, ofa_arch *archs,
                          double *ms, const char *what)
{
    int k = 0;
    ofa_progress prog; /* archs, with an ETA: --calibrate and --check take any count */
    char label[32];
    snprintf(label, sizeof label, "latency %s", what);
    ofa_progress_init(&prog, label, n, 0, 10.0); /* "step" i of n: the i-th arch */
    for (int i = 0; i < n; i++) {
        ofa_arch a;
        ofa_arch_random(&a, &f->space, OFA_ELASTIC_ALL, rng);
        ofa_latency l;
        int rc = ofa_latency_measure(&f->m, &f->space, &a, cfg, &l);
        ofa_progress_update(&prog, i + 1, 0, NULL, i + 1 == n);
        if (rc == OFA_E_RUNTIME) {
            OFA_WARN("%s arch %d skipped: %s", what, i, ofa_err_msg());
            continue;
        }
        OFA_TRY(rc);
        archs[k] = a;
        ms[k++] = l.median;
    }
    return k;
}

static void agreement(const char *label, const ofa_latency_predictor *p, const ofa_arch *archs, const double *ms,
                      int n, const ofa_model_file *f)
{
    if (n < 1) {
        printf("  %-12s %4d  (nothing measured)\n", label, n);
        return;
    }
    double *tab = ofa_xmalloc((size_t)n * sizeof *tab), *pre = ofa_xmalloc((size_t)n * sizeof *pre);
    for (int i = 0; i < n; i++) {
        tab[i] = ofa_latency_table_predict(p->table, &f->space, &archs[i]);
        pre[i] = ofa_latency_predictor_predict(p, &f->space, &archs[i]);
        char text[OFA_ARCH_TEXT_MAX];
        ofa_arch_print(&archs[i], &f->space, text, sizeof text);
        OFA_INFO("%s %-40s measured %.4g ms  table %.4g ms  predictor %.4g ms", label, text, ms[i], tab[i], pre[i]);
    }
    printf("  %-12s %4d  %9.1f%%  %9.3f  %9.1f%%  %9.3f\n", label, n, ofa_mape(tab, ms, n),
           ofa_kendall_tau(tab, ms, n), ofa_mape(pre, ms, n), ofa_kendall_tau(pre, ms, n));
    free(tab);
    free(pre);
}

static int run_table(const latency_args *a, const ofa_model_file *f, const ofa_latency_cfg *cfg)
{
    char out[OFA_PATH_MAX];
    if (a->out) {
        snprintf(out, sizeof out, "%s", a->out);
    } else {
        const char *slash = strrchr(a->ckpt, '/');
        int dir = slash ? (int)(slash - a->ckpt) : 0;
        snprintf(out, sizeof out, "%.*s%slatency_table.h5", dir, a->ckpt, slash ? "/" : "");
    }
    double t0 = ofa_now();
    ofa_latency_table t;
    OFA_TRY(ofa_latency_table_build(&t, &f->m, &f->space, cfg));
    char seq[32] = ""; /* as print_measure: no sequence length for a family counting images */
    if (!ofa_model_family(&f->m)->item_unit) snprintf(seq, sizeof seq, ", seq %d", cfg->seq_len);
    printf("latency table: %d op shapes, %d runs each (batch %d%s, %d thread%s, %s kernels), built in %.1f s "
           "on %s\n",
           t.n, cfg->repeats, cfg->batch, seq, cfg->threads, cfg->threads == 1 ? "" : "s", t.kernels, ofa_now() - t0,
           t.hostname);
    const int nc = (int)a->calibrate, nk = (int)a->check;
    ofa_arch *archs = ofa_xmalloc((size_t)(nc + nk) * sizeof *archs);
    double *ms = ofa_xmalloc((size_t)(nc + nk) * sizeof *ms);
    ofa_rng rng;
    ofa_rng_keyed(&rng, cfg->seed, 0x1a7e, 0);
    int rc = 0, n_fit = measure_random(f, cfg, &rng, nc, archs, ms, "calibration");
    if (n_fit < 0) rc = n_fit;
    else if (n_fit == 0)
        rc = OFA_ERR(OFA_E_RUNTIME, "latency table: none of the %d calibration archs could be measured reliably "
                                    "(the machine is too noisy); nothing written",
                     nc);
    ofa_latency_predictor p;
    if (rc == 0) rc = ofa_latency_predictor_fit(&t, &f->space, archs, ms, n_fit, &p);
    /* checked on further archs measured for real; the file records the error found */
    int n_check = rc == 0 ? measure_random(f, cfg, &rng, nk, archs + n_fit, ms + n_fit, "check") : 0;
    if (n_check < 0) rc = n_check;
    if (rc == 0 && n_check > 0) {
        double *pre = ofa_xmalloc((size_t)n_check * sizeof *pre);
        for (int i = 0; i < n_check; i++) pre[i] = ofa_latency_predictor_predict(&p, &f->space, &archs[n_fit + i]);
        p.check_mape = ofa_mape(pre, ms + n_fit, n_check);
        p.n_check = n_check;
        free(pre);
    }
    if (rc == 0) rc = ofa_latency_table_save(out, &t, &p);
    if (rc == 0) {
        printf("predictor: latency = %.4g x table sum %+.4g ms (fitted on %d measured archs) -> %s\n", p.scale,
               p.constant, n_fit, out);
        printf("  %-12s %4s  %10s  %9s  %10s  %9s\n", "archs", "n", "MAPE table", "tau table", "MAPE pred",
               "tau pred");
        agreement("calibration", &p, archs, ms, n_fit, f);
        if (nk > 0) agreement("check", &p, archs + n_fit, ms + n_fit, n_check, f);
        if (n_check > 0 && p.check_mape > a->warn_mape) {
            printf("warning: the predictor is off by %.1f%% on average (MAPE) on the %d check archs, above %.4g%%:\n"
                   "  its latencies may rank subnets wrongly.  Re-measure on a quiet machine (--cores with idle cores,\n"
                   "  more --repeats), or search with search.latency.mode: measured.\n",
                   p.check_mape, n_check, a->warn_mape);
            OFA_WARN("latency table %s: predictor MAPE %.1f%% on %d check archs exceeds %.4g%%", out, p.check_mape,
                     n_check, a->warn_mape);
        } else if (n_check == 0) {
            printf("note: the predictor was not checked on further archs (--check 0, or none measured reliably)\n");
        }
    }
    free(archs);
    free(ms);
    ofa_latency_table_free(&t);
    return rc;
}

int cmd_latency(int argc, char **argv)
{
    latency_args a;
    OFA_TRY(parse_args(&a, argc, argv));
    /* search.latency.* of the stored config are the defaults; a config that does not parse is
     * tolerated for plain measurements of the model itself */
    ofa_model_file f;
    OFA_TRY(ofa_model_file_open(&f, a.ckpt, 0, "", NULL));
    int rc = 0;
    const int is_supernet = f.meta.kind_id == OFA_CKPT_SUPERNET, is_subnet = f.meta.kind_id == OFA_CKPT_SUBNET;
    if (rc == 0 && (a.table || a.arch) && is_subnet)
        rc = OFA_ERR(OFA_E_USAGE, "%s is an exported subnet (arch %s); %s needs a supernet or teacher checkpoint",
                     a.ckpt, f.meta.arch, a.table ? "--table" : "--arch");
    if (rc == 0 && (a.table || a.arch) && !is_supernet) { /* a teacher: the space of its config */
        const char *y = f.meta.config_yaml ? f.meta.config_yaml : "";
        if (ofa_config_parse(&f.cfg, y, strlen(y), a.ckpt, NULL, 0) < 0)
            rc = ofa_err_prefix(OFA_E_FORMAT, "%s: the stored config_yaml does not parse (the space is needed)",
                                a.ckpt);
        if (rc == 0) rc = ofa_space_from_config(&f.space, &f.cfg, &f.m, a.ckpt);
    }
    ofa_latency_cfg cfg;
    ofa_latency_cfg_from_config(&cfg, &f.cfg);
    if (a.batch > 0) cfg.batch = (int)a.batch;
    if (a.seq > 0) cfg.seq_len = (int)a.seq;
    if (a.threads > 0) cfg.threads = (int)a.threads;
    if (a.repeats > 0) cfg.repeats = (int)a.repeats;
    if (a.warmup >= 0) cfg.warmup = (int)a.warmup;
    if (a.retries >= 0) cfg.retries = (int)a.retries;
    if (!isnan(a.max_spread)) cfg.max_spread = a.max_spread;
    if (rc == 0 && a.cores) rc = ofa_latency_parse_cores(&cfg, a.cores);
    const int limit = ofa_model_family(&f.m)->input_limit(&f.m);
    if (rc == 0 && limit > 0 && cfg.seq_len > limit)
        rc = OFA_ERR(OFA_E_USAGE, "--seq %d: the model in %s has %d positions", cfg.seq_len, a.ckpt, limit);
    if (rc == 0 && a.table) {
        rc = run_table(&a, &f, &cfg);
    } else if (rc == 0) {
        ofa_arch arch;
        const char *label = a.arch ? "--arch" : is_supernet ? "largest of the space" : "the model";
        rc = ofa_model_file_arch(&f, a.arch, &arch);
        ofa_latency l;
        if (rc == 0) rc = ofa_latency_measure(&f.m, &f.space, &arch, &cfg, &l);
        if (rc == 0) print_measure(label, &arch, &f, &cfg, &l);
    }
    ofa_model_file_close(&f);
    return rc;
}
