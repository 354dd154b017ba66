/* cli/inspect: ofa inspect FILE [--json]: what any file ofa writes holds.
 *
 * The root attribute `format` says what a file is: "ofa-checkpoint" (kind teacher, supernet or
 * subnet: a model; kind search: the search state search.h5) or "ofa-latency-table"
 * (latency_table.h5).  Each is printed as a short summary, or with --json as one JSON object with
 * the same fields (docs/checkpoint-format.md lists them).  A model's weights are read in full, so
 * a corrupted tensor fails its checksum here as it would in eval. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/h5io.h"
#include "core/sys.h"
#include "coordinator/fingerprint.h"
#include "evaluator/evolution.h"
#include "evaluator/latency.h"
#include "models/checkpoint.h"

/* ---- one emitter, two forms: indented "key: value" lines, or one JSON object ---- */

enum { EM_OBJ, EM_ARR, EM_ITEM }; /* EM_ITEM: an object inside an array (text: one line) */

typedef struct em {
    FILE *f; /* where it goes */
    int json;
    int depth;
    int kind[16];
    int count[16]; /* members written at each depth */
} em;

static void em_indent(const em *e)
{
    for (int i = 0; i < e->depth; i++) fputs("  ", e->f);
}

/* the key of the next member ("" inside a JSON array) */
static void em_key(em *e, const char *key)
{
    const int k = e->kind[e->depth];
    if (e->json) {
        if (e->count[e->depth]++) fputc(',', e->f);
        if (k != EM_ARR) {
            char esc[256];
            ofa_json_escape(esc, sizeof esc, key);
            fprintf(e->f, "\"%s\":", esc);
        }
    } else if (k == EM_ITEM) {
        fprintf(e->f, "%s%s ", e->count[e->depth]++ ? "  " : "", key);
    } else {
        e->count[e->depth]++;
        em_indent(e);
        fprintf(e->f, "%s: ", key);
    }
}

static void em_end_value(const em *e)
{
    if (!e->json && e->kind[e->depth] != EM_ITEM) fputc('\n', e->f);
}

static void em_str(em *e, const char *key, const char *v)
{
    em_key(e, key);
    if (e->json) {
        size_t n = strlen(v) * 6 + 1;
        char *esc = ofa_xmalloc(n);
        ofa_json_escape(esc, n, v);
        fprintf(e->f, "\"%s\"", esc);
        free(esc);
    } else {
        fputs(v, e->f);
    }
    em_end_value(e);
}

static void em_i64(em *e, const char *key, int64_t v)
{
    em_key(e, key);
    fprintf(e->f, "%" PRId64, v);
    em_end_value(e);
}

/* NaN and infinities: null in JSON, "-" in text */
static void em_num(em *e, const char *key, double v)
{
    em_key(e, key);
    if (isfinite(v)) fprintf(e->f, e->json ? "%.10g" : "%.6g", v);
    else fputs(e->json ? "null" : "-", e->f);
    em_end_value(e);
}

static void em_bool(em *e, const char *key, int v)
{
    em_key(e, key);
    fputs(v ? (e->json ? "true" : "yes") : (e->json ? "false" : "no"), e->f);
    em_end_value(e);
}

static void em_shape(em *e, const char *key, int ndim, const int64_t *shape)
{
    em_key(e, key);
    fputc('[', e->f);
    for (int i = 0; i < ndim; i++) fprintf(e->f, "%s%" PRId64, i ? ", " : "", shape[i]);
    fputc(']', e->f);
    em_end_value(e);
}

static void em_open(em *e, const char *key, int kind)
{
    OFA_ASSERT(e->depth + 1 < 16);
    if (e->json) {
        em_key(e, key);
        fputc(kind == EM_ARR ? '[' : '{', e->f);
    } else if (kind == EM_ITEM) {
        em_indent(e);
        fputs("- ", e->f);
    } else {
        e->count[e->depth]++;
        em_indent(e);
        fprintf(e->f, "%s:\n", key);
    }
    e->depth++;
    e->kind[e->depth] = kind;
    e->count[e->depth] = 0;
}

static void em_close(em *e)
{
    const int k = e->kind[e->depth];
    e->depth--;
    if (e->json) fputc(k == EM_ARR ? ']' : '}', e->f);
    else if (k == EM_ITEM) fputc('\n', e->f);
}

/* ---- model checkpoints (teacher, supernet, subnet) ---- */

typedef struct ds_ctx {
    em *e;
    int64_t params;
} ds_ctx;

static int emit_dataset(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    ds_ctx *d = ctx;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (!strncmp(name, "weights/", 8)) d->params += n;
    em *e = d->e;
    if (!e->json) { /* aligned, as h5ls shows them */
        em_indent(e);
        fprintf(e->f, "%-44s [", name);
        for (int i = 0; i < ndim; i++) fprintf(e->f, "%s%" PRId64, i ? ", " : "", shape[i]);
        fprintf(e->f, "]\n");
        return 0;
    }
    em_shape(e, name, ndim, shape);
    return 0;
}

static void emit_list(em *e, const char *key, const int *v, int n)
{
    char buf[256] = "[";
    size_t k = 1;
    for (int i = 0; i < n && k < sizeof buf - 16; i++) k += (size_t)snprintf(buf + k, sizeof buf - k, i ? ", %d" : "%d", v[i]);
    snprintf(buf + k, sizeof buf - k, "]");
    if (!e->json) {
        em_str(e, key, buf);
        return;
    }
    em_key(e, key);
    fputs(buf, e->f);
}

static int inspect_model(em *e, const char *path)
{
    ofa_model m;
    ofa_ckpt_meta meta;
    OFA_TRY(ofa_ckpt_load_model(path, &m, &meta, NULL)); /* reads (and checks) every weight */
    ofa_h5 h;
    int rc = ofa_h5_open(&h, path);
    if (rc < 0) {
        ofa_model_free(&m);
        ofa_ckpt_meta_free(&meta);
        return rc;
    }
    const ofa_family *fam = ofa_model_family(&m);
    /* the stage that wrote it, from its fingerprint ("stage: student\n..."): a student or prune
     * stage's file has the kind teacher (a trained model) */
    char stage[32] = "", *fp = NULL;
    if (ofa_fingerprint_read(path, &fp) == 0 && fp && sscanf(fp, "stage: %31[a-z]", stage) != 1) stage[0] = '\0';
    ofa_err_clear();
    free(fp);
    const int other_stage = meta.kind_id == OFA_CKPT_TEACHER && stage[0] && strcmp(stage, "teacher") != 0;
    if (!e->json) {
        fprintf(e->f, "%s: ofa %s checkpoint (%s, %s%s%s), format_version %" PRId64 "\n", path,
                other_stage ? stage : meta.kind, meta.model, meta.task, other_stage ? "; kind " : "",
                other_stage ? "teacher: a trained model" : "", meta.format_version);
    }
    em_str(e, "file", path);
    em_str(e, "format", OFA_CKPT_FORMAT);
    em_i64(e, "format_version", meta.format_version);
    em_str(e, "kind", meta.kind);
    if (stage[0]) em_str(e, "stage", stage);
    em_str(e, "model", meta.model);
    em_str(e, "task", meta.task);
    em_str(e, "created", meta.created);
    if (meta.arch[0]) em_str(e, "arch", meta.arch);
    em_i64(e, "step", meta.step);
    em_i64(e, "epoch", meta.epoch);
    em_i64(e, "phase", meta.phase);
    em_i64(e, "seed", meta.seed);
    /* the dev figure: a teacher's best evaluation, a supernet's largest subnet, an exported subnet */
    const char *what = isnan(meta.best_metric)               ? "not scored"
                       : meta.kind_id == OFA_CKPT_TEACHER    ? "the best evaluation while training: BERT on dev, a "
                                                               "CycleGAN on its held-out training images"
                       : meta.kind_id == OFA_CKPT_SUPERNET ? "its largest subnet"
                                                           : "the exported subnet itself";
    if (e->json) {
        em_open(e, "dev", EM_OBJ);
        em_str(e, "metric", meta.metric_name);
        em_num(e, "value", meta.best_metric);
        em_str(e, "of", what);
        em_close(e);
    } else if (isnan(meta.best_metric)) {
        fprintf(e->f, "  dev: not scored\n");
        e->count[e->depth]++;
    } else {
        fprintf(e->f, "  dev: %s %.4f (%s)\n", meta.metric_name, meta.best_metric, what);
        e->count[e->depth]++;
    }
    char desc[256];
    fam->model_describe(&m, desc, sizeof desc);
    em_str(e, "shape", desc);
    em_open(e, "dims", EM_OBJ);
    for (const char *const *k = fam->model_dims; k && *k; k++) {
        int64_t v;
        if (ofa_h5_attr_exists(&h, "/", *k) > 0 && ofa_h5_attr_get_i64(&h, "/", *k, &v) == 0) em_i64(e, *k, v);
    }
    double eps;
    if (ofa_h5_attr_exists(&h, "/", "layer_norm_eps") > 0 && ofa_h5_attr_get_f64(&h, "/", "layer_norm_eps", &eps) == 0)
        em_num(e, "layer_norm_eps", eps);
    em_close(e);
    /* the stored config: what the file was made with (an exported subnet's describes the subnet) */
    const char *y = meta.config_yaml ? meta.config_yaml : "";
    ofa_config cfg;
    int parsed = ofa_config_parse(&cfg, y, strlen(y), path, NULL, 0) == 0;
    ofa_err_clear();
    em_open(e, "config", EM_OBJ);
    int lines = 0;
    for (const char *p = y; *p; p++) lines += *p == '\n';
    em_i64(e, "lines", lines);
    em_bool(e, "parses", parsed);
    if (parsed) {
        em_str(e, "output_dir", cfg.experiment.output_dir);
        em_str(e, "glue_dir", cfg.data.glue_dir);
    }
    if (e->json) em_str(e, "yaml", y);
    em_close(e);
    if (meta.kind_id == OFA_CKPT_SUPERNET && parsed) {
        ofa_space s;
        if (ofa_space_from_config(&s, &cfg, &m, path) == 0) {
            ofa_arch a;
            char t[OFA_ARCH_TEXT_MAX];
            em_open(e, "space", EM_OBJ);
            if (!strcmp(meta.model, "bert")) {
                emit_list(e, "depth", cfg.supernet.depth, cfg.supernet.n_depth);
                emit_list(e, "heads", cfg.supernet.heads, cfg.supernet.n_heads);
                emit_list(e, "ffn", cfg.supernet.ffn, cfg.supernet.n_ffn);
                if (cfg.supernet.n_hidden > 0) emit_list(e, "hidden", cfg.supernet.hidden, cfg.supernet.n_hidden);
            } else { /* a MobileResNet generator's slots (the config's lists; an empty one: the stored width) */
                const struct { const char *name; const int *v; int n; } slot[] = {
                    {"stem", cfg.supernet.stem, cfg.supernet.n_stem},       {"down1", cfg.supernet.down1, cfg.supernet.n_down1},
                    {"down2", cfg.supernet.down2, cfg.supernet.n_down2},    {"blocks", cfg.supernet.blocks, cfg.supernet.n_blocks},
                    {"up1", cfg.supernet.up1, cfg.supernet.n_up1},          {"up2", cfg.supernet.up2, cfg.supernet.n_up2},
                    {"kernel", cfg.supernet.kernel, cfg.supernet.n_kernel}};
                for (size_t i = 0; i < sizeof slot / sizeof *slot; i++)
                    if (slot[i].n > 0) emit_list(e, slot[i].name, slot[i].v, slot[i].n);
            }
            ofa_arch_largest(&a, &s);
            ofa_arch_print(&a, &s, t, sizeof t);
            em_str(e, "largest", t);
            ofa_arch_smallest(&a, &s, OFA_ELASTIC_ALL);
            ofa_arch_print(&a, &s, t, sizeof t);
            em_str(e, "smallest", t);
            em_close(e);
        } else {
            ofa_err_clear();
        }
    }
    if (ofa_h5_exists(&h, "tokenizer/vocab") > 0) {
        int nd;
        int64_t sh[OFA_H5_MAX_DIMS] = {0};
        em_open(e, "tokenizer", EM_OBJ);
        if (ofa_h5_shape(&h, "tokenizer/vocab", &nd, sh) == 0) em_i64(e, "vocab", sh[0]);
        em_bool(e, "lowercase", meta.lowercase);
        em_i64(e, "max_seq_len", meta.max_seq_len);
        em_close(e);
    }
    if (ofa_h5_exists(&h, "optimizer/m") > 0) {
        int64_t st = 0;
        ofa_h5_attr_get_i64(&h, "optimizer/m", "step", &st);
        em_open(e, "optimizer", EM_OBJ);
        em_str(e, "state", "AdamW m and v (a training checkpoint: resumable)");
        em_i64(e, "step", st);
        em_close(e);
    }
    if (ofa_h5_exists(&h, "importance") > 0) {
        int64_t b = 0, x = 0;
        ofa_h5_attr_get_i64(&h, "importance", "batches", &b);
        ofa_h5_attr_get_i64(&h, "importance", "examples", &x);
        em_open(e, "importance", EM_OBJ);
        em_i64(e, "batches", b);
        em_i64(e, "examples", x);
        em_close(e);
    }
    ofa_err_clear();
    ds_ctx d = {e, 0};
    em_open(e, "datasets", EM_OBJ);
    rc = ofa_h5_visit(&h, "/", emit_dataset, &d);
    em_close(e);
    if (rc == 0) {
        if (!e->json) fprintf(e->f, "parameters: %" PRId64 " (%.2fM)\n", d.params, (double)d.params / 1e6);
        else em_i64(e, "parameters", d.params);
    }
    ofa_h5_close(&h);
    ofa_model_free(&m);
    ofa_ckpt_meta_free(&meta);
    return rc;
}

/* ---- search.h5 ---- */

static char *attr_str(ofa_h5 *h, const char *obj, const char *key)
{
    char *s = NULL;
    if (ofa_h5_attr_exists(h, obj, key) > 0 && ofa_h5_attr_get_str(h, obj, key, &s) == 0) return s;
    ofa_err_clear();
    return NULL;
}

static void emit_attr_str(em *e, ofa_h5 *h, const char *obj, const char *key)
{
    char *s = attr_str(h, obj, key);
    if (s) em_str(e, key, s);
    free(s);
}

static void emit_attr_i64(em *e, ofa_h5 *h, const char *obj, const char *key)
{
    int64_t v;
    if (ofa_h5_attr_exists(h, obj, key) > 0 && ofa_h5_attr_get_i64(h, obj, key, &v) == 0) em_i64(e, key, v);
    ofa_err_clear();
}

/* one row of cache/values by its column names (MACs are whole numbers) */
static void emit_row(em *e, char names[5][32], const double *v)
{
    for (int k = 0; k < 5; k++) {
        if (!strcmp(names[k], "macs") && isfinite(v[k])) em_i64(e, names[k], (int64_t)llround(v[k]));
        else em_num(e, names[k], v[k]);
    }
}

static int inspect_search(em *e, ofa_h5 *h, const char *path, int64_t version)
{
    const char *g = "search";
    if (ofa_h5_exists(h, g) <= 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: a search state without its /search group", path);
    char *task = attr_str(h, "/", "task"), *model = attr_str(h, "/", "model");
    if (!e->json)
        fprintf(e->f, "%s: ofa search state (%s, %s), format_version %" PRId64 "\n", path, model ? model : "?",
               task ? task : "?", version);
    free(task);
    free(model);
    em_str(e, "file", path);
    em_str(e, "format", OFA_CKPT_FORMAT);
    em_i64(e, "format_version", version);
    em_str(e, "kind", "search");
    emit_attr_str(e, h, "/", "model");
    emit_attr_str(e, h, "/", "task");
    emit_attr_str(e, h, "/", "created");
    emit_attr_str(e, h, "/", "supernet");
    emit_attr_str(e, h, "/", "latency_mode");
    em_open(e, "search", EM_OBJ);
    emit_attr_str(e, h, g, "kind");
    const char *ints[] = {"seed", "population", "generations", "parents", "mutations", "budget", "gen", "started",
                          "evaluations", "n_evaluated", "cache_hits"};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) emit_attr_i64(e, h, g, ints[i]);
    em_close(e);
    {
        int64_t b = 0, gen = 0;
        ofa_h5_attr_get_i64(h, g, "budget", &b);
        ofa_h5_attr_get_i64(h, g, "gen", &gen);
        int nd0;
        int64_t sh0[OFA_H5_MAX_DIMS] = {0};
        ofa_h5_shape(h, "search/budgets", &nd0, sh0);
        ofa_err_clear();
        char st[96];
        if (b >= sh0[0]) snprintf(st, sizeof st, "finished");
        else snprintf(st, sizeof st, "in progress: budget %lld of %lld, generation %lld", (long long)b + 1,
                      (long long)sh0[0], (long long)gen);
        em_str(e, "state", st);
    }
    /* the cache: every evaluated arch and its figures */
    int64_t n = 0, nb = 0;
    char **arch = NULL;
    double *val = NULL, *budgets = NULL;
    int64_t *par = NULL, *win = NULL;
    int rc = 0, nd;
    int64_t sh[OFA_H5_MAX_DIMS];
    char *cols = NULL;
    if (ofa_h5_exists(h, "search/cache/arch") > 0) {
        rc = ofa_h5_read_strings(h, "search/cache/arch", &arch, &n);
        int64_t vs[2] = {n, 5};
        val = ofa_xmalloc((size_t)(n > 0 ? n : 1) * 5 * sizeof *val);
        par = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *par);
        if (rc == 0) rc = ofa_h5_read_f64(h, "search/cache/values", val, 2, vs);
        if (rc == 0) rc = ofa_h5_read_i64(h, "search/cache/params", par, 1, vs);
        cols = attr_str(h, "search/cache/values", "columns");
    }
    if (rc == 0) rc = ofa_h5_shape(h, "search/budgets", &nd, sh);
    if (rc == 0) {
        nb = nd == 1 ? sh[0] : 0;
        budgets = ofa_xmalloc((size_t)(nb > 0 ? nb : 1) * sizeof *budgets);
        win = ofa_xmalloc((size_t)(nb > 0 ? nb : 1) * sizeof *win);
        rc = ofa_h5_read_f64(h, "search/budgets", budgets, 1, sh);
        if (rc == 0) rc = ofa_h5_read_i64(h, "search/winner", win, 1, sh);
    }
    /* files from before the columns were named hold the same five */
    const char *colnames = cols ? cols : OFA_EVO_CACHE_COLUMNS;
    char names[5][32];
    int nc = 0;
    for (const char *p = colnames; *p && nc < 5;) {
        size_t l = strcspn(p, ",");
        snprintf(names[nc++], sizeof names[0], "%.*s", (int)l, p);
        p += l + (p[l] == ',');
    }
    while (nc < 5) snprintf(names[nc], sizeof names[0], "col%d", nc), nc++;
    if (rc == 0) {
        em_open(e, "budgets", EM_ARR);
        for (int64_t b = 0; b < nb; b++) {
            em_open(e, "", EM_ITEM);
            em_num(e, "budget_ms", budgets[b]);
            int64_t w = win[b];
            if (w >= 0 && w < n) {
                em_str(e, "winner", arch[w]);
                emit_row(e, names, val + 5 * w);
                em_i64(e, "params", par[w]);
            } else {
                em_str(e, "winner", "");
            }
            em_close(e);
        }
        em_close(e);
        em_open(e, "cache", EM_OBJ);
        em_i64(e, "evaluated", n);
        em_str(e, "columns", colnames);
        em_bool(e, "columns_attribute", cols != NULL);
        if (e->json) { /* every evaluated arch, for scripts */
            em_open(e, "rows", EM_ARR);
            for (int64_t i = 0; i < n; i++) {
                em_open(e, "", EM_ITEM);
                em_str(e, "arch", arch[i]);
                emit_row(e, names, val + 5 * i);
                em_i64(e, "params", par[i]);
                em_close(e);
            }
            em_close(e);
        }
        em_close(e);
    }
    free(cols);
    if (arch) ofa_h5_free_strings(arch, n);
    free(val);
    free(par);
    free(budgets);
    free(win);
    return rc;
}

/* ---- latency_table.h5 ---- */

static int inspect_latency(em *e, ofa_h5 *h, const char *path)
{
    ofa_latency_table t;
    ofa_latency_predictor p;
    OFA_TRY(ofa_latency_table_read(h, &t, &p));
    if (!e->json)
        fprintf(e->f, "%s: ofa latency table (%d op shapes, %s kernels, timed on %s)\n", path, t.n, t.kernels, t.hostname);
    em_str(e, "file", path);
    em_str(e, "format", "ofa-latency-table");
    em_str(e, "kind", "latency_table");
    emit_attr_str(e, h, "latency_table", "created");
    em_str(e, "unit", "ms");
    em_i64(e, "batch", t.batch);
    em_i64(e, "seq_len", t.seq_len);
    em_i64(e, "threads", t.threads);
    em_str(e, "kernels", t.kernels);
    em_str(e, "signature", t.signature);
    em_str(e, "hostname", t.hostname);
    em_i64(e, "cores", t.cores);
    em_open(e, "predictor", EM_OBJ);
    em_bool(e, "fitted", p.n_fit > 0);
    if (p.n_fit > 0) {
        em_num(e, "scale", p.scale);
        em_num(e, "const_ms", p.constant);
        em_i64(e, "fit_n", p.n_fit);
        em_i64(e, "check_n", p.n_check);
        em_num(e, "check_mape_percent", p.n_check > 0 ? p.check_mape : NAN);
    }
    em_close(e);
    double sum = 0;
    for (int i = 0; i < t.n; i++) sum += t.e[i].mean;
    em_num(e, "sum_of_means_ms", sum);
    em_open(e, "ops", EM_ARR);
    for (int i = 0; i < t.n; i++) {
        em_open(e, "", EM_ITEM);
        em_str(e, "key", t.e[i].key);
        em_i64(e, "count", t.e[i].count);
        em_num(e, "mean_ms", t.e[i].mean);
        em_num(e, "std_ms", sqrt(ofa_latency_table_var(&t, i)));
        em_close(e);
    }
    em_close(e);
    ofa_latency_table_free(&t);
    return 0;
}

/* ---- the small formats of the FID tools: fidnet.h5, image sets, statistics caches, features ---- */

/* An attribute of one of these formats: its key and type ('s' string, 'i' integer, 'f' float). */
typedef struct small_attr {
    const char *key;
    char type;
} small_attr;

typedef struct small_format {
    const char *format, *kind, *what;
    small_attr attrs[20];
} small_format;

static const small_format small_formats[] = {
    {"ofa-fidnet", "fidnet", "the FID feature net (ofa fidnet)",
     {{"format_version", 'i'}, {"model", 's'}, {"created", 's'}, {"channels", 'i'}, {"features", 'i'},
      {"image_size", 'i'}, {"classes", 'i'}, {"hash", 's'}, {"test_accuracy", 'f'}, {"test_images", 'i'},
      {"train_images", 'i'}, {"steps", 'i'}, {"epochs", 'f'}, {"train_seconds", 'f'}, {"seed", 'i'}}},
    {"ofa-images", "images", "an image set (ofa translate; ofa fid reads /outputs)", {{"format_version", 'i'}}},
    {"ofa-fid-stats", "fid_stats", "cached FID statistics of a Fashion-MNIST class",
     {{"format_version", 'i'}, {"net_hash", 's'}, {"features", 's'}, {"source", 's'}, {"source_bytes", 'i'}, {"class", 'i'},
      {"n", 'i'}}},
    {"ofa-fid-features", "fid_features", "the features of an ofa fid run (--features-out)",
     {{"set_a", 's'}, {"set_b", 's'}, {"net", 's'}, {"net_hash", 's'}, {"fid", 'f'}}},
};

typedef struct small_walk {
    em *e;
    ofa_h5 *h;
    int64_t params;
} small_walk;

/* every dataset read in full (its checksum verified) with its shape, element count and range */
static int small_dataset(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    small_walk *w = ctx;
    float *v = NULL;
    int nd;
    int64_t sh[OFA_H5_MAX_DIMS];
    OFA_TRY(ofa_h5_read_f32_alloc(w->h, name, &v, &nd, sh));
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) lo = v[i] < lo ? v[i] : lo, hi = v[i] > hi ? v[i] : hi;
    free(v);
    w->params += n;
    em_open(w->e, name, EM_OBJ);
    em_shape(w->e, "shape", ndim, shape);
    em_num(w->e, "min", n ? lo : NAN);
    em_num(w->e, "max", n ? hi : NAN);
    em_close(w->e);
    return 0;
}

static int inspect_small(em *e, ofa_h5 *h, const char *path, const small_format *f)
{
    if (!e->json) fprintf(e->f, "%s: %s\n", path, f->what);
    em_str(e, "file", path);
    em_str(e, "format", f->format);
    em_str(e, "kind", f->kind);
    for (int i = 0; i < (int)(sizeof f->attrs / sizeof *f->attrs) && f->attrs[i].key; i++) {
        const char *k = f->attrs[i].key;
        if (ofa_h5_attr_exists(h, "/", k) <= 0) continue;
        if (f->attrs[i].type == 's') emit_attr_str(e, h, "/", k);
        else if (f->attrs[i].type == 'i') emit_attr_i64(e, h, "/", k);
        else {
            double v;
            if (ofa_h5_attr_get_f64(h, "/", k, &v) == 0) em_num(e, k, v);
            ofa_err_clear();
        }
    }
    char *yaml = attr_str(h, "/", "config_yaml");
    if (yaml) {
        int lines = 0;
        for (const char *c = yaml; *c; c++) lines += *c == '\n';
        em_open(e, "config", EM_OBJ);
        em_i64(e, "lines", lines);
        if (e->json) em_str(e, "yaml", yaml);
        em_close(e);
        free(yaml);
    }
    small_walk w = {e, h, 0};
    em_open(e, "datasets", EM_OBJ);
    int rc = ofa_h5_visit(h, "/", small_dataset, &w);
    em_close(e);
    if (rc) return rc;
    em_i64(e, "values", w.params);
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    em e;
    memset(&e, 0, sizeof e);
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) e.json = 1;
        else if (argv[i][0] == '-') return OFA_ERR(OFA_E_USAGE, "unknown option '%s' for 'inspect'", argv[i]);
        else if (!path) path = argv[i];
        else return OFA_ERR(OFA_E_USAGE, "'inspect' takes one FILE");
    }
    if (!path) return OFA_ERR(OFA_E_USAGE, "'inspect' takes one FILE");
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    char *fmt = attr_str(&h, "/", "format"), *kind = attr_str(&h, "/", "kind");
    int64_t version = 0;
    if (ofa_h5_attr_exists(&h, "/", "format_version") > 0) ofa_h5_attr_get_i64(&h, "/", "format_version", &version);
    ofa_err_clear();
    /* the whole answer is printed only once it is known to be complete (JSON stays valid) */
    int rc = 0;
    if (!fmt) {
        rc = OFA_ERR(OFA_E_FORMAT, "%s: not a file ofa wrote (no root attribute 'format'; ofa writes "
                                   "ofa-checkpoint and ofa-latency-table files)",
                     path);
    } else if (!strcmp(fmt, "ofa-latency-table") || !strcmp(fmt, OFA_CKPT_FORMAT)) {
        char *buf = NULL;
        size_t len = 0;
        e.f = open_memstream(&buf, &len);
        OFA_ASSERT(e.f);
        if (e.json) fputc('{', e.f);
        else e.depth = 1; /* under the one-line summary */
        if (!strcmp(fmt, "ofa-latency-table")) {
            rc = inspect_latency(&e, &h, path);
        } else if (kind && !strcmp(kind, "search")) {
            if (version > OFA_CKPT_VERSION)
                rc = OFA_ERR(OFA_E_VERSION, "%s: format_version %" PRId64 " is newer than this build reads (%d)", path,
                             version, OFA_CKPT_VERSION);
            else rc = inspect_search(&e, &h, path, version);
        } else {
            ofa_h5_close(&h); /* inspect_model opens it its own way */
            rc = inspect_model(&e, path);
        }
        if (e.json) fputs("}\n", e.f);
        fclose(e.f);
        if (rc == 0) fwrite(buf, 1, len, stdout);
        free(buf);
    } else {
        const small_format *sf = NULL;
        for (size_t i = 0; i < sizeof small_formats / sizeof *small_formats; i++)
            if (!strcmp(fmt, small_formats[i].format)) sf = &small_formats[i];
        if (!sf) {
            rc = OFA_ERR(OFA_E_FORMAT, "%s: format '%s' is not one this build knows (ofa-checkpoint, "
                         "ofa-latency-table, ofa-fidnet, ofa-images, ofa-fid-stats, ofa-fid-features)", path, fmt);
        } else {
            char *buf = NULL;
            size_t len = 0;
            e.f = open_memstream(&buf, &len);
            OFA_ASSERT(e.f);
            if (e.json) fputc('{', e.f);
            else e.depth = 1;
            rc = inspect_small(&e, &h, path, sf);
            if (e.json) fputs("}\n", e.f);
            fclose(e.f);
            if (rc == 0) fwrite(buf, 1, len, stdout);
            free(buf);
        }
    }
    free(fmt);
    free(kind);
    ofa_h5_close(&h);
    return rc;
}
