/* evaluator/latency: forward latency of subnets, measured, tabulated per op, and predicted.
 *
 * Three ways to get the latency of an arch of any model family (models/family.h), as
 * search.latency.mode says:
 *   measured   ofa_latency_measure times the family's inference forward of the subnet (infer_run) at
 *              (batch, seq_len, threads), pinned to cfg.cores, after warm-up, over `repeats` runs,
 *              and refuses (OFA_E_RUNTIME) a figure whose spread (p90 - p10) / median exceeds
 *              cfg.max_spread after cfg.retries re-measurements: the machine is too noisy.
 *   table      ofa_latency_table_build times each op of that forward (the family's table ops, run on
 *              the model's own weights) in isolation, for every shape the space can produce, keeping
 *              count, mean and variance (Welford) per key, as once-for-all's latency tables do;
 *              ofa_latency_table_predict sums the ops of an arch (the family's arch_ops: keys and
 *              repeats; BERT's keys are listed in models/bert/family.c).
 *   predictor  the table sum fitted to real measurements: scale * sum + constant (least squares,
 *              ofa_latency_predictor_fit).
 * All times are milliseconds.
 * A table lives in HDF5 group /latency_table: datasets keys (strings), count (int64), mean and var
 * (float64, ms and ms^2), attributes batch, seq_len, threads, signature (the model family's shape
 * signature, e.g. "bert hidden=128 head_dim=32 outputs=2 ops=3"; missing in tables before ofa 0.3, which
 * therefore match no model and are rebuilt), hostname, cores, kernels (nn_fm_path_name() when
 * built; "unknown" in tables from before ofa 0.2), created, and when a predictor was fitted: const,
 * scale, fit_n, and once checked on further measured archs: check_n, check_mape (percent).
 * The table owns its entries; a predictor points at the table it was fitted on (not owned).
 * Nothing here is collective; measurement changes the calling thread's CPU affinity and the BLAS
 * thread count for its duration and restores both.
 */
#ifndef OFA_EVALUATOR_LATENCY_H
#define OFA_EVALUATOR_LATENCY_H

#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "models/registry.h"

#define OFA_LATENCY_MAX_CORES 64
#define OFA_LATENCY_KEY_MAX 48

typedef struct ofa_latency_cfg {
    int batch, seq_len;   /* full-length sequences of random token ids */
    int threads;          /* BLAS threads during the runs (restored afterwards) */
    int warmup, repeats;  /* untimed runs, then timed runs (repeats >= 1) */
    double max_spread;    /* refuse when (p90 - p10) / median > max_spread (default 0.25); < 0: never */
    int retries;          /* re-measure up to this many times before refusing (default 0) */
    int cores[OFA_LATENCY_MAX_CORES];
    int n_cores;          /* <= 0: keep the current affinity (default) */
    uint64_t seed;        /* token ids / random data (default 1) */
} ofa_latency_cfg;

/* Defaults: batch 1, seq 64, 1 thread, 5 warm-up, 30 repeats, max_spread 0.25, no retries,
 * current affinity, seed 1 (the search.latency.* defaults). */
void ofa_latency_cfg_default(ofa_latency_cfg *cfg);
/* The defaults with batch, seq_len, threads, warmup, repeats from c->search.latency_*. */
void ofa_latency_cfg_from_config(ofa_latency_cfg *cfg, const ofa_config *c);
/* Parses a CPU list "0,2-3" into cfg->cores; OFA_E_USAGE quoting the text when malformed. */
int ofa_latency_parse_cores(ofa_latency_cfg *cfg, const char *text);

typedef struct ofa_latency {
    double median, min, max, p10, p90, mean; /* ms; percentiles interpolate linearly */
    double spread;                            /* (p90 - p10) / median */
    int repeats;                              /* timed runs of the reported attempt */
    int attempts;                             /* 1 + retries used */
} ofa_latency;

/* The inference kernels the runs use (nn/fm.h): the AVX-512 ones run on one thread, so with
 * cfg->threads > 1 (and on CPUs without AVX-512) the forward runs on OpenBLAS: "avx512" or "openblas". */
const char *ofa_latency_kernels(const ofa_latency_cfg *cfg);

/* Statistics of n >= 1 samples (ms) into out (spread, percentiles as above; attempts = 1). */
void ofa_latency_stats(const double *ms, int n, ofa_latency *out);

/* Times the forward of arch a (NULL = the model itself) of m with cfg.  0 with *out filled; when
 * the spread stays above cfg->max_spread after cfg->retries re-measurements, OFA_E_RUNTIME saying the
 * machine is too noisy (figures and threshold) and *out holds the least noisy attempt.
 * OFA_E_USAGE for a bad cfg (seq_len beyond the model's positions, a core not available). */
int ofa_latency_measure(const ofa_model *m, const ofa_space *s, const ofa_arch *a, const ofa_latency_cfg *cfg,
                        ofa_latency *out);

/* ---- per-op table ---- */

typedef struct ofa_latency_entry {
    char key[OFA_LATENCY_KEY_MAX];
    int64_t count;
    double mean, m2; /* Welford: variance = m2 / (count - 1) */
} ofa_latency_entry;

typedef struct ofa_latency_table {
    int batch, seq_len, threads;
    char signature[96];            /* the model's (family signature op): a table only serves models that match */
    char hostname[64];
    int cores;                     /* usable cores when built */
    char kernels[16];              /* the inference kernels timed (nn_fm_path_name()) */
    int n, cap;
    ofa_latency_entry *e;
} ofa_latency_table;

void ofa_latency_table_init(ofa_latency_table *t);
void ofa_latency_table_free(ofa_latency_table *t);
/* Index of key, or -1. */
int ofa_latency_table_find(const ofa_latency_table *t, const char *key);
/* Adds one sample (ms) to key (created when new). */
void ofa_latency_table_add(ofa_latency_table *t, const char *key, double ms);
/* Sample variance of entry i (0 when count < 2). */
double ofa_latency_table_var(const ofa_latency_table *t, int i);

/* Builds *t (initialised here) for every shape of space s on a model of dims d (V, P only size the
 * embedding tables; H, D, C from d), timing each op cfg->warmup + cfg->repeats times at
 * (cfg->batch, cfg->seq_len) with cfg->threads BLAS threads on cfg->cores; count == repeats. */
int ofa_latency_table_build(ofa_latency_table *t, const ofa_model *m, const ofa_space *s, const ofa_latency_cfg *cfg);
/* 1 when t has every op the space s produces on m (t's batch and sequence length), else 0 with the
 * first missing op's key in missing (a table built for another space, e.g. before supernet.space.*
 * changed, would leave that space's new archs unpriced); < 0 on error. */
int ofa_latency_table_covers(const ofa_latency_table *t, const ofa_model *m, const ofa_space *s, char *missing,
                             size_t n);
/* Sum of the means of the ops of arch a (addln twice per kept layer); NAN when a key is missing
 * (the arch is outside the table's space: ofa_latency_table_check says which). */
double ofa_latency_table_predict(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *a);
/* 0 when every op of a is in t, else OFA_E_USAGE naming the missing key. */
int ofa_latency_table_check(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *a);

/* ---- predictor: scale * table sum + constant ---- */

typedef struct ofa_latency_predictor {
    const ofa_latency_table *table;
    double constant, scale;
    int n_fit;         /* archs it was fitted on; 0 = not fitted (scale 1, constant 0) */
    int n_check;       /* further archs it was checked on (ofa latency --table --check); 0 = none */
    double check_mape; /* its mean absolute percentage error on those, in percent (NaN: unchecked) */
} ofa_latency_predictor;

/* `ofa latency --table` warns when check_mape exceeds this (percent). */
#define OFA_LATENCY_MAPE_WARN 10.0

/* Least squares of measured_ms[i] on the table sums of archs[i] (n >= 1): constant and scale when
 * n >= 2 and the sums differ, else scale 1 and the mean offset.  A negative constant is never kept
 * (it would predict negative times for small archs): the fit is then through the origin (constant
 * 0, scale = sum(x y) / sum(x x)).  OFA_E_USAGE when an arch is outside the table or n < 1. */
int ofa_latency_predictor_fit(const ofa_latency_table *t, const ofa_space *s, const ofa_arch *archs,
                              const double *measured_ms, int n, ofa_latency_predictor *pred);
double ofa_latency_predictor_predict(const ofa_latency_predictor *pred, const ofa_space *s, const ofa_arch *a);

/* Writes group /latency_table (pred may be NULL: no const/scale attributes). */
int ofa_latency_table_write(ofa_h5 *h, const ofa_latency_table *t, const ofa_latency_predictor *pred);
/* Reads it into *t (initialised here); pred (may be NULL) gets table = t and the fitted constant
 * and scale (n_fit 0, scale 1, constant 0 when the file has none).  OFA_E_FORMAT naming the file
 * when the group is missing or inconsistent. */
int ofa_latency_table_read(ofa_h5 *h, ofa_latency_table *t, ofa_latency_predictor *pred);
/* Whole-file helpers (written atomically). */
int ofa_latency_table_save(const char *path, const ofa_latency_table *t, const ofa_latency_predictor *pred);
int ofa_latency_table_load(const char *path, ofa_latency_table *t, ofa_latency_predictor *pred);

/* ---- agreement of a latency model with measurements ---- */

/* Kendall's tau-b of (x, y), in [-1, 1] (ties counted as neither; 0 when n < 2 or all tied). */
double ofa_kendall_tau(const double *x, const double *y, int n);
/* Mean absolute percentage error of pred against actual, in percent (7.5 = 7.5 %). */
double ofa_mape(const double *pred, const double *actual, int n);

#endif
