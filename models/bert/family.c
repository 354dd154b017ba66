#include "models/bert/family.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/afile.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/sys.h"
#include "datasets/glue.h"
#include "datasets/taskdata.h"
#include "models/bert/arch.h"
#include "models/bert/bench.h"
#include "models/bert/export.h"
#include "models/bert/file.h"
#include "models/bert/import.h"
#include "models/bert/infer.h"
#include "models/bert/score.h"
#include "models/bert/model.h"
#include "models/bert/train.h"


static const ofa_bert_arch *B_(const ofa_arch *a)
{
    OFA_ASSERT(a->family == OFA_FAMILY_BERT);
    return &a->u.bert;
}
static const ofa_bert_space *S_(const ofa_space *s)
{
    OFA_ASSERT(s->family == OFA_FAMILY_BERT);
    return &s->u.bert;
}
static ofa_bert_arch *W_(ofa_arch *a)
{
    a->family = OFA_FAMILY_BERT;
    return &a->u.bert;
}

/* ---- arch values ---- */

/* model.* is the teacher's shape (model.init's file must have it too) and so the supernet's */
static int space_check_config(const ofa_config *c)
{
    ofa_bert_space s;
    return ofa_bert_space_from_config(&s, c, c->model.layers, c->model.heads, c->model.ffn, c->model.hidden,
                                      "model.* (checked before the teacher trains)");
}

static int space_from_config(ofa_space *s, const ofa_config *c, const ofa_model *m, const char *where)
{
    const ofa_bert_dims *d = &ofa_bert_of(m)->m.d;
    memset(s, 0, sizeof *s);
    s->family = OFA_FAMILY_BERT;
    OFA_TRY(ofa_bert_space_from_config(&s->u.bert, c, d->L, d->A, d->F, d->H, where));
    s->u.bert.D = ofa_bert_head_dim(d);
    s->u.bert.C = d->C;
    return 0;
}

static void space_of_model(ofa_space *s, const ofa_model *m)
{
    const ofa_bert *b = &ofa_bert_of(m)->m;
    const ofa_bert_dims *d = &b->d;
    int heads = 0, ffn = 0;
    for (int l = 0; l < d->L; l++) {
        if (b->heads[l] > heads) heads = b->heads[l];
        if (b->ffn[l] > ffn) ffn = b->ffn[l];
    }
    memset(s, 0, sizeof *s);
    s->family = OFA_FAMILY_BERT;
    int rc = ofa_bert_space_init(&s->u.bert, d->L, d->A, d->F, d->H, OFA_DEPTH_DYNABERT, &d->L, 1, &heads, 1, &ffn, 1, NULL, 0);
    OFA_ASSERT(rc == 0);
    s->u.bert.D = ofa_bert_head_dim(d);
    s->u.bert.C = d->C;
}

static int arch_parse(ofa_arch *a, const char *text, const ofa_space *s)
{
    const ofa_bert_space *b = S_(s);
    ofa_arch t;
    memset(&t, 0, sizeof t);
    OFA_TRY(ofa_bert_arch_parse(W_(&t), text, b->L, b->H, b->rule));
    *a = t;
    return 0;
}

static void arch_print(const ofa_arch *a, const ofa_space *s, char *buf, size_t n)
{
    ofa_bert_arch_print(B_(a), S_(s)->H, buf, n);
}

static int arch_check(const ofa_arch *a, const ofa_space *s) { return ofa_bert_arch_check(B_(a), S_(s)); }

static void arch_full(ofa_arch *a, const ofa_model *m)
{
    memset(a, 0, sizeof *a);
    ofa_bert_full_arch(&ofa_bert_of(m)->m, W_(a));
}

static void arch_largest(ofa_arch *a, const ofa_space *s)
{
    memset(a, 0, sizeof *a);
    ofa_bert_arch_largest(W_(a), S_(s));
}

static void arch_smallest(ofa_arch *a, const ofa_space *s, int elastic)
{
    memset(a, 0, sizeof *a);
    ofa_bert_arch_smallest(W_(a), S_(s), elastic);
}

static void arch_random(ofa_arch *a, const ofa_space *s, int elastic, ofa_rng *rng)
{
    memset(a, 0, sizeof *a);
    ofa_bert_arch_random(W_(a), S_(s), elastic, rng);
}

static int arch_grid(ofa_arch *a, const ofa_space *s, int elastic)
{
    int n = ofa_bert_arch_grid_elastic(NULL, S_(s), elastic);
    if (!a) return n;
    ofa_bert_arch *g = ofa_xmalloc((size_t)n * sizeof *g);
    ofa_bert_arch_grid_elastic(g, S_(s), elastic);
    for (int i = 0; i < n; i++) ofa_arch_from_bert(&a[i], &g[i]);
    free(g);
    return n;
}

/* the search's strata are the depths, when depth is elastic */
static int strata(const ofa_space *s, int elastic)
{
    const ofa_bert_space *b = S_(s);
    return (elastic & OFA_ELASTIC_DEPTH) && b->n_depth > 1 ? b->n_depth : 0;
}

static void arch_to_stratum(ofa_arch *a, const ofa_space *s, int elastic, int k, ofa_rng *rng)
{
    const ofa_bert_space *b = S_(s);
    int d = b->depth[k % b->n_depth];
    if (a->u.bert.depth != d) ofa_bert_arch_set_depth(W_(a), b, elastic, d, rng);
}

static void arch_mutate(ofa_arch *c, const ofa_arch *par, const ofa_space *s, int elastic, double prob,
                        ofa_rng *rng)
{
    ofa_arch t;
    memset(&t, 0, sizeof t);
    ofa_bert_arch_mutate(W_(&t), B_(par), S_(s), elastic, prob, rng);
    *c = t;
}

static void arch_crossover(ofa_arch *c, const ofa_arch *p1, const ofa_arch *p2, const ofa_space *s, int elastic,
                           ofa_rng *rng)
{
    ofa_arch t;
    memset(&t, 0, sizeof t);
    ofa_bert_arch_crossover(W_(&t), B_(p1), B_(p2), S_(s), elastic, rng);
    *c = t;
}

static int64_t arch_params(const ofa_model *m, const ofa_arch *a)
{
    const ofa_bert_dims *d = &ofa_bert_of(m)->m.d;
    return ofa_bert_arch_params(B_(a), d->V, d->P, d->C, ofa_bert_head_dim(d));
}

static double arch_macs(const ofa_model *m, const ofa_arch *a, int seq_len)
{
    const ofa_bert_dims *d = &ofa_bert_of(m)->m.d;
    return ofa_bert_arch_macs(B_(a), seq_len, d->C, ofa_bert_head_dim(d));
}

/* ---- the model and its file (models/bert/file) ---- */

static void model_describe(const ofa_model *m, char *buf, size_t n)
{
    const ofa_bert_model *bm = ofa_bert_of(m);
    const ofa_bert_dims *d = &bm->m.d;
    int k = snprintf(buf, n, "bert: %d layers, hidden %d, %d heads (head size %d), ffn %d, vocab %d, %d positions, %d "
                     "output%s", d->L, d->H, d->A, ofa_bert_head_dim(d), d->F, d->V, d->P, d->C, d->C == 1 ? "" : "s");
    /* what an import may set apart from ofa's own defaults */
    if (ofa_bert_types(d) != 2 && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, ", %d token types", ofa_bert_types(d));
    if (ofa_bert_eps(d) != OFA_BERT_LN_EPS && k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ", LayerNorm eps %g", ofa_bert_eps(d));
}

static void model_config(const ofa_model *m, ofa_config *c)
{
    const ofa_bert_dims *d = &ofa_bert_of(m)->m.d;
    c->model.layers = d->L;
    c->model.hidden = d->H;
    c->model.heads = d->A;
    c->model.head_dim = ofa_bert_head_dim(d) * d->A == d->H ? 0 : ofa_bert_head_dim(d); /* 0: hidden / heads */
    c->model.ffn = d->F;
    c->model.max_position = d->P;
}

static int model_export(ofa_model *out, const ofa_model *sup, const ofa_arch *a)
{
    const ofa_bert_model *sm = ofa_bert_of(sup);
    ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
    int rc = ofa_export_subnet(&bm->m, &sm->m, B_(a));
    if (rc == 0 && sm->has_vocab) {
        rc = ofa_vocab_from_strings(&bm->vocab, (const char *const *)sm->vocab.tok, sm->vocab.n);
        bm->has_vocab = rc == 0;
        if (rc < 0) ofa_bert_free(&bm->m);
    }
    if (rc < 0) {
        free(bm);
        return rc;
    }
    snprintf(bm->task, sizeof bm->task, "%s", sm->task);
    bm->lowercase = sm->lowercase;
    bm->max_seq_len = sm->max_seq_len;
    ofa_bert_model_wrap(out, bm);
    return 0;
}

/* ---- data and scoring ---- */


static int data_open(ofa_data **out, const ofa_config *c, const ofa_model *m, int split, int64_t limit)
{
    return ofa_bert_data_open(out, c, m, split, limit);
}

static void data_describe(const ofa_data *d, char *buf, size_t n) { snprintf(buf, n, "%s", d->what); }

/* a file's size and FNV-1a hash as one fingerprint line */
static int file_line(char *buf, size_t n, size_t *used, const char *key, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "%s: %s (%s)", path, strerror(errno), key);
    uint64_t h = OFA_FNV1A_INIT;
    int64_t size = 0;
    enum { CHUNK = 1 << 16 };
    unsigned char *chunk = ofa_xmalloc(CHUNK);
    size_t got;
    while ((got = fread(chunk, 1, CHUNK, f)) > 0) {
        h = ofa_fnv1a(h, chunk, got);
        size += (int64_t)got;
    }
    int bad = ferror(f);
    fclose(f);
    free(chunk);
    if (bad) return OFA_ERR(OFA_E_IO, "%s: read error", path);
    *used += (size_t)snprintf(buf + *used, n > *used ? n - *used : 0, "%s: %lld bytes, fnv1a %016llx\n", key,
                              (long long)size, (unsigned long long)h);
    return 0;
}

static int data_fingerprint(const ofa_config *c, char *buf, size_t n)
{
    int task;
    OFA_TRY(task = ofa_taskdata_task(c));
    size_t used = 0;
    buf[0] = '\0';
    static const char *const keys[] = {"data.task", "data.max_seq_len", "data.lowercase", "data.vocab_size",
                                       "data.train_limit", "data.dev_limit", "data.skip_bad_rows"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *v = ofa_config_key_text(c, keys[i]);
        used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "%s: %s\n", keys[i], v);
        free(v);
    }
    /* the vocabulary file by content: the same file elsewhere is the same vocabulary */
    if (c->data.vocab_file[0]) OFA_TRY(file_line(buf, n, &used, "data.vocab_file", c->data.vocab_file));
    else used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "data.vocab_file: null\n");
    /* the model the teacher starts from, by content too (a run re-made from another file is another run) */
    if (c->model.init[0]) OFA_TRY(file_line(buf, n, &used, "model.init", c->model.init));
    else used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "model.init: null\n");
    /* where the search validates decides the training rows (and the reporting ones) */
    const int on_dev = ofa_taskdata_val_on_dev(c, task);
    used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "search.val_source: %s\n", on_dev ? "dev" : "train");
    if (!on_dev) {
        char *v = ofa_config_key_text(c, "search.val_fraction");
        used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "search.val_fraction: %s\n", v);
        free(v);
    }
    const char *splits[] = {"train", "dev"};
    for (int i = 0; i < 2; i++) {
        char path[OFA_PATH_MAX + 64], key[96], file[64];
        ofa_glue_path(path, sizeof path, c->data.glue_dir, task, splits[i]);
        ofa_glue_path(file, sizeof file, "", task, splits[i]);
        snprintf(key, sizeof key, "data %s", file + 1);
        OFA_TRY(file_line(buf, n, &used, key, path));
    }
    if (used >= n) return OFA_ERR(OFA_E_RUNTIME, "data fingerprint longer than %zu bytes", n);
    return 0;
}

static int64_t data_size(const ofa_data *d) { return d->e.n; }
static void data_set_batch(ofa_data *d, int batch) { d->batch = batch; }

static const char *model_task(const ofa_model *m) { return ofa_bert_of(m)->task; }

static void data_epoch_order(const ofa_data *d, int64_t *order, int batch, ofa_rng *rng)
{
    ofa_epoch_order(&d->e, order, batch, rng);
}

/* the model's scores (logits, predictions, metrics) of arch a on d */
static int score_all(const ofa_model *m, const ofa_arch *a, ofa_data *d, ofa_scores *s)
{
    const ofa_bert *b = &ofa_bert_of(m)->m;
    ofa_bert_infer_ws ws;
    ofa_bert_infer_ws_create(&ws, &b->d, d->batch, d->e.max_len > 0 ? d->e.max_len : 1);
    ofa_bert_infer_prepare(&ws, b, a ? B_(a) : NULL); /* the weights stay as they are while it scores */
    int rc = ofa_score_bert(b, &ws, &d->e, d->task, d->batch, a ? B_(a) : NULL, d->has_labels, s);
    ofa_bert_infer_ws_free(&ws);
    return rc;
}

static int score(const ofa_model *m, const ofa_arch *a, ofa_data *d, ofa_score *out)
{
    memset(out, 0, sizeof *out);
    ofa_scores s;
    OFA_TRY(score_all(m, a, d, &s));
    const ofa_task_info *info = ofa_task_get(d->task);
    out->metric = d->has_labels ? s.metrics.main : NAN;
    snprintf(out->name, sizeof out->name, "%s", info->metric);
    out->higher_better = 1;
    out->has_labels = d->has_labels;
    if (d->has_labels && info->num_labels == 1) snprintf(out->detail, sizeof out->detail, "spearman %.4f", s.metrics.spearman);
    else if (d->has_labels && strcmp(info->metric, "accuracy") != 0)
        snprintf(out->detail, sizeof out->detail, "accuracy %.4f", s.metrics.accuracy);
    out->n = s.n;
    out->seconds = s.seconds;
    /* only the metrics GLUE reports for the task: a regression task's correlations; a
     * classification task's accuracy, and its F1 (MRPC, QQP) or Matthews correlation (CoLA) */
    const char *names[] = {"accuracy", "f1", "mcc", "pearson", "spearman"};
    const double vals[] = {s.metrics.accuracy, s.metrics.f1, s.metrics.mcc, s.metrics.pearson, s.metrics.spearman};
    const int reg = info->num_labels == 1;
    const int applies[] = {!reg, !reg && !strcmp(info->metric, "f1"), !reg && !strcmp(info->metric, "mcc"), reg, reg};
    for (int i = 0; d->has_labels && i < 5; i++) {
        if (!applies[i]) continue;
        snprintf(out->extra_name[out->n_extra], sizeof out->extra_name[out->n_extra], "%s", names[i]);
        out->extra[out->n_extra++] = vals[i];
    }
    ofa_scores_free(&s);
    return 0;
}

static int outputs(const ofa_model *m, const ofa_arch *a, ofa_data *d, float **out, int64_t *n_values)
{
    ofa_scores s;
    OFA_TRY(score_all(m, a, d, &s));
    *n_values = s.n * s.C;
    *out = s.logits; /* taken over */
    s.logits = NULL;
    ofa_scores_free(&s);
    return 0;
}

static int predict_write(const ofa_model *m, const ofa_arch *a, ofa_data *d, const char *path, int columns)
{
    ofa_scores s;
    OFA_TRY(score_all(m, a, d, &s));
    const ofa_task_info *info = ofa_task_get(d->task);
    const int logits = columns & OFA_PREDICT_LOGITS, probs = (columns & OFA_PREDICT_PROBS) && info->num_labels > 1;
    ofa_afile af;
    int rc = path ? ofa_afile_open(&af, path) : 0;
    if (rc < 0) {
        ofa_scores_free(&s);
        return rc;
    }
    FILE *f = path ? af.f : stdout;
    fprintf(f, "index\tprediction");
    for (int c = 0; probs && c < s.C; c++) fprintf(f, "\tp_%s", info->label_names[c]);
    for (int c = 0; logits && c < s.C; c++) fprintf(f, "\tlogit_%d", c);
    fputc('\n', f);
    for (int64_t i = 0; i < s.n; i++) {
        const float *z = s.logits + i * s.C;
        fprintf(f, "%" PRId64 "\t", d->e.index[i]);
        if (info->num_labels == 1) fprintf(f, "%.3f", (double)s.pred[i]);
        else fprintf(f, "%s", info->label_names[(int)s.pred[i]]);
        if (probs) { /* softmax of the logits */
            double mx = z[0], sum = 0;
            for (int c = 1; c < s.C; c++) mx = fmax(mx, z[c]);
            for (int c = 0; c < s.C; c++) sum += exp(z[c] - mx);
            for (int c = 0; c < s.C; c++) fprintf(f, "\t%.6f", exp(z[c] - mx) / sum);
        }
        for (int c = 0; logits && c < s.C; c++) fprintf(f, "\t%.7g", (double)z[c]);
        fputc('\n', f);
    }
    ofa_scores_free(&s);
    if (!path) return fflush(stdout) == 0 ? 0 : OFA_ERR(OFA_E_IO, "stdout: write failed");
    return ofa_afile_commit(&af); /* the previous file stays whole if this one cannot be written */
}

/* raw lines as an unlabeled split of the model's task */
static int data_from_text(ofa_data **out, const ofa_model *m, char *const *lines, const int64_t *line_no, int64_t n,
                          int max_len)
{
    const ofa_bert_model *bm = ofa_bert_of(m);
    if (!bm->has_vocab) return OFA_ERR(OFA_E_FORMAT, "the model file has no tokenizer (/tokenizer/vocab)");
    const int task = ofa_task_from_name(bm->task);
    if (task < 0) return OFA_ERR(OFA_E_FORMAT, "the model's task '%s' is not a GLUE task", bm->task);
    const ofa_task_info *ti = ofa_task_get(task);
    const int P = bm->m.d.P, len = max_len > 0 ? max_len : bm->max_seq_len > 0 ? bm->max_seq_len : 128;
    if (len > P)
        return OFA_ERR(OFA_E_USAGE, "--max-seq-len %d: the model has %d positions", len, P);
    if (ti->pair && ofa_bert_types(&bm->m.d) < 2)
        return OFA_ERR(OFA_E_FORMAT, "the model has one token type; task %s's pairs need two", ti->name);
    ofa_glue_split sp;
    memset(&sp, 0, sizeof sp);
    sp.ex = ofa_xcalloc((size_t)(n ? n : 1), sizeof *sp.ex);
    sp.n = n, sp.task = task, sp.has_labels = 0;
    snprintf(sp.path, sizeof sp.path, "the input lines");
    int rc = 0;
    char **owned = ofa_xcalloc((size_t)(n ? n : 1), sizeof *owned);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        const long long at = line_no ? (long long)line_no[i] : (long long)i + 1;
        owned[i] = ofa_xstrdup(lines[i]);
        char *tab = strchr(owned[i], '\t');
        if (ti->pair && !tab)
            rc = OFA_ERR(OFA_E_DATA, "input line %lld: task %s takes sentence pairs, one tab between the two", at,
                         ti->name);
        else if (!ti->pair && tab)
            rc = OFA_ERR(OFA_E_DATA, "input line %lld has a tab; task %s takes one sentence a line", at, ti->name);
        else if (tab && strchr(tab + 1, '\t'))
            rc = OFA_ERR(OFA_E_DATA, "input line %lld has more than one tab (a pair is two sentences)", at);
        if (tab) *tab = '\0';
        sp.ex[i].a = owned[i];
        sp.ex[i].b = tab ? tab + 1 : NULL;
        sp.ex[i].index = i, sp.ex[i].line = at;
    }
    ofa_encoded e;
    memset(&e, 0, sizeof e);
    if (rc == 0) rc = ofa_encode_split(&e, &sp, &bm->vocab, bm->lowercase, len);
    for (int64_t i = 0; i < n; i++) free(owned[i]);
    free(owned), free(sp.ex);
    if (rc < 0) return rc;
    if (e.truncated)
        OFA_INFO("predict: %lld of %lld examples cut to %d tokens (--max-seq-len, at most %d)", (long long)e.truncated,
                 (long long)e.n, len, P);
    ofa_data *d = ofa_bert_data_wrap(&e, task, 0);
    snprintf(d->what, sizeof d->what, "%lld input line%s", (long long)n, n == 1 ? "" : "s");
    *out = d;
    return 0;
}

static void grid_columns(const ofa_model *m, const ofa_arch *a, char *buf, size_t n)
{
    (void)m;
    if (!a) snprintf(buf, n, "depth,heads,ffn");
    else snprintf(buf, n, "%d,%d,%d", a->u.bert.depth, a->u.bert.heads[0], a->u.bert.ffn[0]);
}

/* ---- latency ---- */

static int input_limit(const ofa_model *m) { return ofa_bert_of(m)->m.d.P; }

static void signature(const ofa_model *m, char *buf, size_t n)
{
    const ofa_bert_dims *d = &ofa_bert_of(m)->m.d;
    /* ops=3: the table holds the last layer's first-token ops, its attention folded (no keys or
     * values); a table from before is rebuilt */
    snprintf(buf, n, "bert hidden=%d head_dim=%d outputs=%d ops=3", d->H, ofa_bert_head_dim(d), d->C);
}

struct ofa_infer {
    const ofa_bert *m;
    ofa_bert_arch arch;
    int has_arch, B, T;
    ofa_bert_infer_ws ws;
    int32_t *ids, *types, *lens;
};

static void infer_free(ofa_infer *w)
{
    if (!w) return;
    ofa_bert_infer_ws_free(&w->ws);
    free(w->ids);
    free(w->types);
    free(w->lens);
    free(w);
}

static int infer_create(ofa_infer **out, const ofa_model *m, const ofa_arch *a, int batch, int seq_len,
                        uint64_t seed)
{
    const ofa_bert *b = &ofa_bert_of(m)->m;
    ofa_infer *w = ofa_xcalloc(1, sizeof *w);
    w->m = b;
    w->B = batch;
    w->T = seq_len;
    if (a) {
        w->arch = *B_(a);
        w->has_arch = 1;
    }
    ofa_bert_infer_ws_create(&w->ws, &b->d, batch, seq_len);
    w->ids = ofa_xmalloc((size_t)batch * seq_len * sizeof *w->ids);
    w->types = ofa_xcalloc((size_t)batch * seq_len, sizeof *w->types);
    w->lens = ofa_xmalloc((size_t)batch * sizeof *w->lens);
    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    for (int i = 0; i < batch * seq_len; i++) w->ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)b->d.V);
    for (int i = 0; i < batch; i++) w->lens[i] = seq_len;
    /* one untimed run (first-touch of the workspace pages) */
    ofa_bert_infer(w->m, &w->ws, w->ids, w->types, w->lens, w->B, w->T, w->has_arch ? &w->arch : NULL);
    *out = w;
    return 0;
}

static void infer_run(ofa_infer *w)
{
    ofa_bert_infer(w->m, &w->ws, w->ids, w->types, w->lens, w->B, w->T, w->has_arch ? &w->arch : NULL);
}

/* The latency table's ops (models/bert/infer.h), keyed by shape (B, T are the table's):
 *     "embed e=E"     word + position + type embeddings and LayerNorm      (once)
 *     "qkv e=E w=W"   the three projections e -> w                        (per kept layer but the last)
 *     "attn a=A d=D"  attention core (scores, softmax, context)           (per kept layer but the last)
 *     "oproj w=W e=E" output projection w -> e and the residual add       (per kept layer but the last)
 *     "addln e=E"     LayerNorm (of the residual sum)                     (twice per layer but the last)
 *     "ffn1 e=E f=F"  FFN e -> f and GELU                                 (per kept layer but the last)
 *     "ffn2 f=F e=E"  FFN f -> e and the residual add                     (per kept layer but the last)
 *     "q e=E w=W first"  the last layer's first tokens gathered and their queries
 *     "attn a=A e=E first"  their attention over every token, key and value weights folded in
 *     "oproj w=W e=E first", "addln e=E first" (twice), "ffn1 e=E f=F first", "ffn2 f=F e=E first":
 *                     the last layer's other ops, on the first tokens
 *     "head e=E c=C"  tanh pooler and classifier of the first tokens        (once)
 * (e hidden, w = heads * D, a heads, f FFN width, D head size, c outputs). */
enum { OP_EMBED, OP_QKV, OP_ATTN, OP_OPROJ, OP_ADDLN, OP_FFN1, OP_FFN2, OP_HEAD, OP_FIRST = 16 };

static void op_key(char *buf, size_t n, int op, int x, int y)
{
    const char *first = op & OP_FIRST ? " first" : "";
    switch (op & (OP_FIRST - 1)) {
    case OP_EMBED: snprintf(buf, n, "embed e=%d", x); break;
    case OP_QKV: snprintf(buf, n, "%s e=%d w=%d%s", *first ? "q" : "qkv", x, y, first); break;
    case OP_ATTN: snprintf(buf, n, *first ? "attn a=%d e=%d first" : "attn a=%d d=%d", x, y); break;
    case OP_OPROJ: snprintf(buf, n, "oproj w=%d e=%d%s", x, y, first); break;
    case OP_ADDLN: snprintf(buf, n, "addln e=%d%s", x, first); break;
    case OP_FFN1: snprintf(buf, n, "ffn1 e=%d f=%d%s", x, y, first); break;
    case OP_FFN2: snprintf(buf, n, "ffn2 f=%d e=%d%s", x, y, first); break;
    default: snprintf(buf, n, "head e=%d c=%d", x, y); break;
    }
}

static int arch_ops(const ofa_space *s, const ofa_arch *arch, ofa_op_visit visit, void *ctx)
{
    const ofa_bert_arch *a = B_(arch);
    const int E = a->hidden, D = S_(s)->D;
    char key[64];
#define VISIT(op, x, y, times)                                                                                        \
    do {                                                                                                              \
        op_key(key, sizeof key, (op), (x), (y));                                                                      \
        OFA_TRY(visit(key, (times), ctx));                                                                            \
    } while (0)
    VISIT(OP_EMBED, E, 0, 1);
    for (int i = 0; i < a->depth; i++) {
        const int h = a->heads[i], w = h * D, f = a->ffn[i], first = i == a->depth - 1 ? OP_FIRST : 0;
        VISIT(OP_QKV | first, E, w, 1);
        VISIT(OP_ATTN | first, h, first ? E : D, 1);
        VISIT(OP_OPROJ | first, w, E, 1);
        VISIT(OP_ADDLN | first, E, 0, 2);
        VISIT(OP_FFN1 | first, E, f, 1);
        VISIT(OP_FFN2 | first, f, E, 1);
    }
    VISIT(OP_HEAD, E, S_(s)->C, 1);
#undef VISIT
    return 0;
}

/* Each op alone, on the model's own weights (layer 0 holds the largest slices of a supernet) and
 * random activations in [-1, 1) in feature-major buffers laid out as ofa_bert_infer's. */
struct ofa_table_ops {
    const ofa_bert *m;
    int B, T, N, D, n;
    int (*shape)[3];
    char (*key)[64];
    int32_t *ids, *types, *lens;
    float *x, *y, *r, *q, *k, *v, *ctx, *probs, *ao, *h, *fo, *cls, *pp, *logits;
    float *xc, *qc, *cc, *x1c, *hc; /* [., B] the last layer's first tokens */
    float *fold;                    /* the folded attention's scratch */
    ofa_bert_layer_view lw; /* layer 0, whole */
    ofa_bert_outer_view ow; /* the whole model's */
};

static float *frand(size_t n, ofa_rng *rng)
{
    float *p = ofa_xalloc_aligned(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = 2.0f * ofa_rng_uniform(rng) - 1.0f;
    return p;
}

static void table_ops_free(ofa_table_ops *o)
{
    if (!o) return;
    free(o->shape);
    free(o->key);
    free(o->ids);
    free(o->types);
    free(o->lens);
    float *f[] = {o->x,  o->y,  o->r,   o->q,      o->k,  o->v,  o->ctx, o->probs, o->ao, o->h,
                  o->fo, o->cls, o->pp, o->logits, o->xc, o->qc, o->cc,  o->x1c,   o->hc, o->fold};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(f[i]);
    free(o);
}

static int table_ops_create(ofa_table_ops **out, const ofa_model *mm, const ofa_space *sp, int B, int T, uint64_t seed)
{
    const ofa_bert *m = &ofa_bert_of(mm)->m;
    const ofa_bert_space *s = S_(sp);
    const ofa_bert_dims *d = &m->d;
    const int D = ofa_bert_head_dim(d);
    int hidden[16], n_hidden = s->n_hidden;
    if (n_hidden > 0) memcpy(hidden, s->hidden, sizeof hidden);
    else hidden[n_hidden++] = s->H;
    for (int i = 0; i < n_hidden; i++)
        if (hidden[i] > d->H)
            return OFA_ERR(OFA_E_USAGE, "latency table: hidden %d exceeds the model's %d", hidden[i], d->H);
    for (int i = 0; i < s->n_heads; i++)
        if (s->heads[i] > m->heads[0])
            return OFA_ERR(OFA_E_USAGE, "latency table: %d heads exceed the model's %d", s->heads[i], m->heads[0]);
    for (int i = 0; i < s->n_ffn; i++)
        if (s->ffn[i] > m->ffn[0])
            return OFA_ERR(OFA_E_USAGE, "latency table: ffn %d exceeds the model's %d", s->ffn[i], m->ffn[0]);
    ofa_table_ops *o = ofa_xcalloc(1, sizeof *o);
    o->m = m;
    o->B = B;
    o->T = T;
    o->N = B * T;
    o->D = D;
    /* every (op, x, y) the space produces */
    int cap = 2 * n_hidden * (3 * s->n_heads + 2 * s->n_ffn + 3) + 2 * s->n_heads;
    o->shape = ofa_xmalloc((size_t)cap * sizeof *o->shape);
#define SHAPE(op, xx, yy) (o->shape[o->n][0] = (op), o->shape[o->n][1] = (xx), o->shape[o->n][2] = (yy), o->n++)
    for (int ei = 0; ei < n_hidden; ei++) {
        const int E = hidden[ei];
        SHAPE(OP_EMBED, E, 0);
        for (int first = 0; first <= OP_FIRST; first += OP_FIRST) {
            for (int hi = 0; hi < s->n_heads; hi++) {
                SHAPE(OP_QKV | first, E, s->heads[hi] * D);
                SHAPE(OP_OPROJ | first, s->heads[hi] * D, E);
                if (first) SHAPE(OP_ATTN | OP_FIRST, s->heads[hi], E);
            }
            SHAPE(OP_ADDLN | first, E, 0);
            for (int fi = 0; fi < s->n_ffn; fi++) {
                SHAPE(OP_FFN1 | first, E, s->ffn[fi]);
                SHAPE(OP_FFN2 | first, s->ffn[fi], E);
            }
        }
        SHAPE(OP_HEAD, E, d->C);
    }
    for (int hi = 0; hi < s->n_heads; hi++) SHAPE(OP_ATTN, s->heads[hi], D);
#undef SHAPE
    OFA_ASSERT(o->n <= cap);
    o->key = ofa_xmalloc((size_t)o->n * sizeof *o->key);
    for (int i = 0; i < o->n; i++) op_key(o->key[i], sizeof o->key[i], o->shape[i][0], o->shape[i][1], o->shape[i][2]);

    ofa_rng rng;
    ofa_rng_seed(&rng, seed);
    const size_t N = (size_t)o->N, H = (size_t)d->H, W = (size_t)m->heads[0] * D, F = (size_t)m->ffn[0];
    const size_t WH = W > H ? W : H;
    o->ids = ofa_xmalloc(N * sizeof(int32_t));
    o->types = ofa_xcalloc(N, sizeof(int32_t));
    o->lens = ofa_xmalloc((size_t)B * sizeof(int32_t));
    for (size_t i = 0; i < N; i++) o->ids[i] = (int32_t)ofa_rng_below(&rng, (uint64_t)d->V);
    for (int b = 0; b < B; b++) o->lens[b] = T;
    const size_t L = (size_t)ofa_infer_ld(o->N);
    o->x = frand(L * WH, &rng);
    o->y = frand(L * H, &rng);
    o->r = frand(L * H, &rng);
    o->q = frand(L * W, &rng);
    o->k = frand(L * W, &rng);
    o->v = frand(L * W, &rng);
    o->ctx = frand(L * W, &rng);
    o->probs = frand((size_t)T * T, &rng);
    o->ao = frand(L * H, &rng);
    o->h = frand(L * F, &rng);
    o->fo = frand(L * H, &rng);
    o->cls = frand((size_t)B * d->C, &rng);
    o->pp = frand((size_t)B * H, &rng);
    o->logits = frand((size_t)B * d->C, &rng);
    o->xc = frand((size_t)B * WH, &rng);
    o->qc = frand((size_t)B * W, &rng);
    o->cc = frand((size_t)B * W, &rng);
    o->x1c = frand((size_t)B * H, &rng);
    o->hc = frand((size_t)B * F, &rng);
    o->fold = frand(2 * WH + (size_t)T, &rng);
    ofa_bert_view_layer(&o->lw, m, NULL, 0, m->p.data);
    ofa_bert_view_outer(&o->ow, m, NULL, m->p.data);
    *out = o;
    return 0;
}

static int table_ops_count(const ofa_table_ops *o) { return o->n; }
static const char *table_op_key(const ofa_table_ops *o, int i) { return o->key[i]; }

/* one run of op i as ofa_bert_infer runs it (the same functions, strides and weights).  Some ops
 * write buffers others read ("q ... first" and "ffn2 ... first" write xc, as in the forward): the values stay
 * bounded, and only the time is kept. */
static void table_op_run(ofa_table_ops *o, int i)
{
    const int N = o->N, B = o->B, D = o->D, ld = ofa_infer_ld(N), x = o->shape[i][1], y = o->shape[i][2];
    switch (o->shape[i][0]) {
    case OP_EMBED: ofa_infer_embed(o->y, ld, o->ids, o->types, N, o->T, &o->ow, x, o->r); break;
    case OP_QKV: ofa_infer_qkv(o->q, o->k, o->v, ld, o->x, &o->lw, N, x, y); break;
    case OP_ATTN: ofa_infer_attn(o->ctx, o->q, o->k, o->v, ld, o->lens, B, o->T, x, D, o->probs); break;
    case OP_OPROJ: ofa_infer_oproj(o->ao, o->ctx, o->x, ld, &o->lw, N, x, y); break;
    case OP_ADDLN: ofa_infer_layernorm(o->ao, ld, o->lw.ln1_g.p, o->lw.ln1_b.p, N, x, o->lw.eps); break;
    case OP_FFN1: ofa_infer_ffn1(o->h, o->x, ld, &o->lw, N, x, y); break;
    case OP_FFN2: ofa_infer_ffn2(o->fo, o->h, o->x, ld, &o->lw, N, x, y); break;
    case OP_QKV | OP_FIRST: ofa_infer_q_first(o->qc, o->xc, ld, o->x, &o->lw, B, o->T, x, y); break;
    case OP_ATTN | OP_FIRST:
        ofa_infer_attn_first(o->cc, o->qc, o->x, ld, &o->lw, o->lens, B, o->T, x, y, D, o->fold);
        break;
    case OP_OPROJ | OP_FIRST: ofa_infer_oproj(o->x1c, o->cc, o->xc, B, &o->lw, B, x, y); break;
    case OP_ADDLN | OP_FIRST: ofa_infer_layernorm(o->x1c, B, o->lw.ln1_g.p, o->lw.ln1_b.p, B, x, o->lw.eps); break;
    case OP_FFN1 | OP_FIRST: ofa_infer_ffn1(o->hc, o->x1c, B, &o->lw, B, x, y); break;
    case OP_FFN2 | OP_FIRST: ofa_infer_ffn2(o->xc, o->hc, o->x1c, B, &o->lw, B, x, y); break;
    default: ofa_infer_head(o->logits, o->xc, B, &o->ow, x, o->m->d.C, o->cls, o->pp); break;
    }
}

/* the BERT teacher's state is its weights, AdamW state and RNG keys, which the stage saves */
static size_t teacher_state_floats(const ofa_teacher_job *j)
{
    (void)j;
    return 0;
}
static void teacher_state_get(const ofa_teacher_job *j, float *buf) { (void)j, (void)buf; }
static void teacher_state_set(ofa_teacher_job *j, const float *buf) { (void)j, (void)buf; }
static int run_prepare(const ofa_config *c)
{
    (void)c;
    return 0;
}
static const char *const *teacher_terms(const ofa_teacher_job *j)
{
    (void)j;
    static const char *const none[] = {NULL}; /* the task loss is all there is */
    return none;
}
static const char *const teacher_keys[] = {NULL}; /* model.* of BERT are the stage's common keys */

static const char *const bench_works[] = {"teacher", "supernet", "infer", "gemm", NULL};

const ofa_family ofa_bert_family = {
    .name = "bert",
    .space_from_config = space_from_config,
    .space_check_config = space_check_config,
    .space_of_model = space_of_model,
    .arch_parse = arch_parse,
    .arch_print = arch_print,
    .arch_check = arch_check,
    .arch_full = arch_full,
    .arch_largest = arch_largest,
    .arch_smallest = arch_smallest,
    .arch_random = arch_random,
    .arch_grid = arch_grid,
    .strata = strata,
    .arch_to_stratum = arch_to_stratum,
    .arch_mutate = arch_mutate,
    .arch_crossover = arch_crossover,
    .arch_params = arch_params,
    .arch_macs = arch_macs,
    .model_read = ofa_bert_file_read,
    .model_write = ofa_bert_file_write,
    .model_free = ofa_bert_file_free,
    .model_describe = model_describe,
    .model_dims = (const char *const[]){"layers", "hidden", "heads", "head_dim", "ffn", "vocab_size", "max_position",
                                        "num_outputs", "type_vocab_size", NULL},
    .model_config = model_config,
    .model_export = model_export,
    .model_import = ofa_bert_import,
    .data_open = data_open,
    .data_free = ofa_bert_data_free,
    .data_size = data_size,
    .data_describe = data_describe,
    .data_fingerprint = data_fingerprint,
    .data_set_batch = data_set_batch,
    .data_epoch_order = data_epoch_order,
    .teacher_create = ofa_bert_teacher_create,
    .teacher_fingerprint = ofa_bert_teacher_fingerprint,
    .teacher_grads = ofa_bert_teacher_grads,
    .teacher_apply = ofa_bert_teacher_apply,
    .teacher_free = ofa_bert_teacher_free,
    .teacher_terms = teacher_terms,
    .teacher_state_floats = teacher_state_floats,
    .teacher_state_get = teacher_state_get,
    .teacher_state_set = teacher_state_set,
    .teacher_keys = {teacher_keys},
    .model_task = model_task,
    .distill_create = ofa_bert_distill_create,
    .distill_batch = ofa_bert_distill_batch,
    .distill_subnet = ofa_bert_distill_subnet,
    .distill_free = ofa_bert_distill_free,
    .score = score,
    .predict_write = predict_write,
    .data_from_text = data_from_text,
    .outputs = outputs,
    .reorder = ofa_bert_reorder,
    .reorder_write = ofa_bert_reorder_write,
    .reorder_free = ofa_bert_reorder_free,
    .grid_columns = grid_columns,
    .input_limit = input_limit,
    .signature = signature,
    .infer_create = infer_create,
    .infer_run = infer_run,
    .infer_free = infer_free,
    .table_ops_create = table_ops_create,
    .table_ops_count = table_ops_count,
    .table_op_key = table_op_key,
    .table_op_run = table_op_run,
    .table_ops_free = table_ops_free,
    .arch_ops = arch_ops,
    .run_prepare = run_prepare,
    .bench = ofa_bert_bench,
    .bench_works = bench_works,
};
