#include "coordinator/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

static const char *const g_kind_names[] = {"teacher", "supernet", "subnet", "search"};
_Static_assert(sizeof g_kind_names / sizeof g_kind_names[0] == OFA_CKPT_KIND_COUNT, "one name per ofa_ckpt_kind");

const char *ofa_ckpt_kind_name(int kind)
{
    OFA_ASSERT(kind >= 0 && kind < OFA_CKPT_KIND_COUNT);
    return g_kind_names[kind];
}

int ofa_ckpt_kind_parse(const char *s)
{
    for (int k = 0; k < OFA_CKPT_KIND_COUNT; k++)
        if (!strcmp(s, g_kind_names[k])) return k;
    return -1;
}

void ofa_ckpt_meta_set_kind(ofa_ckpt_meta *meta, enum ofa_ckpt_kind kind)
{
    snprintf(meta->kind, sizeof meta->kind, "%s", ofa_ckpt_kind_name(kind));
    meta->kind_id = kind;
}

void ofa_ckpt_meta_init(ofa_ckpt_meta *meta, const char *kind)
{
    int k = ofa_ckpt_kind_parse(kind);
    OFA_ASSERT(k >= 0 || !*kind);
    memset(meta, 0, sizeof *meta);
    snprintf(meta->kind, sizeof meta->kind, "%s", kind);
    meta->kind_id = k >= 0 ? (enum ofa_ckpt_kind)k : OFA_CKPT_KIND_COUNT;
    snprintf(meta->model, sizeof meta->model, "bert");
    meta->format_version = OFA_CKPT_VERSION;
    meta->best_metric = NAN;
    meta->lowercase = 1;
}

void ofa_ckpt_meta_free(ofa_ckpt_meta *meta)
{
    if (!meta) return;
    free(meta->config_yaml);
    meta->config_yaml = NULL;
}

static int write_params(ofa_h5 *h, const char *group, const ofa_params *p, const float *buf)
{
    char name[160];
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        snprintf(name, sizeof name, "%s/%s", group, v->name);
        OFA_TRY(ofa_h5_write_f32(h, name, buf + v->offset, v->ndim, v->shape));
    }
    return 0;
}

static int read_params(ofa_h5 *h, const char *group, const ofa_params *p, float *buf)
{
    char name[160];
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        snprintf(name, sizeof name, "%s/%s", group, v->name);
        OFA_TRY(ofa_h5_read_f32(h, name, buf + v->offset, v->ndim, v->shape));
    }
    return 0;
}

static int save_body(ofa_h5 *h, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                     const ofa_adamw *opt)
{
    const char *r = "/";
    char created[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    OFA_TRY(ofa_h5_attr_set_str(h, r, "format", OFA_CKPT_FORMAT));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "format_version", OFA_CKPT_VERSION));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "kind", meta->kind));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "model", meta->model));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "task", meta->task));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "created", created));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "step", meta->step));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "epoch", meta->epoch));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "phase", meta->phase));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "seed", meta->seed));
    OFA_TRY(ofa_h5_attr_set_u64v(h, r, "rng_state", meta->rng.s, 4));
    OFA_TRY(ofa_h5_attr_set_f64(h, r, "best_metric", meta->best_metric));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "metric_name", meta->metric_name));
    OFA_TRY(ofa_h5_attr_set_str(h, r, "config_yaml", meta->config_yaml ? meta->config_yaml : ""));
    if (meta->arch[0]) OFA_TRY(ofa_h5_attr_set_str(h, r, "arch", meta->arch));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "layers", m->d.L));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "hidden", m->d.H));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "heads", m->d.A));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "ffn", m->d.F));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "vocab_size", m->d.V));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "max_position", m->d.P));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "num_outputs", m->d.C));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "head_dim", m->d.D));
    OFA_TRY(write_params(h, "weights", &m->p, m->p.data));
    if (vocab) {
        OFA_TRY(ofa_h5_write_strings(h, "tokenizer/vocab", (const char *const *)vocab->tok, vocab->n));
        OFA_TRY(ofa_h5_attr_set_i64(h, "tokenizer/vocab", "lowercase", meta->lowercase));
        OFA_TRY(ofa_h5_attr_set_i64(h, "tokenizer/vocab", "max_seq_len", meta->max_seq_len));
    }
    if (opt) {
        OFA_TRY(write_params(h, "optimizer/m", &m->p, m->p.m));
        OFA_TRY(write_params(h, "optimizer/v", &m->p, m->p.v));
        OFA_TRY(ofa_h5_attr_set_i64(h, "optimizer/m", "step", opt->t));
        OFA_TRY(ofa_h5_attr_set_f64(h, "optimizer/m", "weight_decay", opt->weight_decay));
    }
    return 0;
}

int ofa_ckpt_save_bert_ex(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                          const ofa_adamw *opt, int (*extra)(ofa_h5 *h, void *ctx), void *ctx)
{
    ofa_h5 h;
    OFA_TRY(ofa_h5_create(&h, path));
    int rc = save_body(&h, m, vocab, meta, opt);
    if (rc == 0 && extra) rc = extra(&h, ctx);
    if (rc < 0) {
        ofa_h5_abort(&h);
        return rc;
    }
    return ofa_h5_commit(&h);
}

int ofa_ckpt_save_bert(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                       const ofa_adamw *opt)
{
    return ofa_ckpt_save_bert_ex(path, m, vocab, meta, opt, NULL, NULL);
}

static int get_str(ofa_h5 *h, const char *key, char *dst, size_t n)
{
    char *s = NULL;
    OFA_TRY(ofa_h5_attr_get_str(h, "/", key, &s));
    snprintf(dst, n, "%s", s);
    free(s);
    return 0;
}

static int open_body(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta)
{
    char fmt[64] = "";
    if (!ofa_h5_attr_exists(h, "/", "format") || get_str(h, "format", fmt, sizeof fmt) < 0 ||
        strcmp(fmt, OFA_CKPT_FORMAT) != 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: not an ofa checkpoint (no format=\"%s\" attribute)", path,
                       OFA_CKPT_FORMAT);
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "format_version", &meta->format_version));
    if (meta->format_version > OFA_CKPT_VERSION)
        return OFA_ERR(OFA_E_VERSION,
                       "%s: checkpoint format_version %lld is newer than this build reads (%d); "
                       "use a newer ofa",
                       path, (long long)meta->format_version, OFA_CKPT_VERSION);
    if (meta->format_version < 1)
        return OFA_ERR(OFA_E_FORMAT, "%s: invalid format_version %lld", path, (long long)meta->format_version);
    OFA_TRY(get_str(h, "kind", meta->kind, sizeof meta->kind));
    int kind = ofa_ckpt_kind_parse(meta->kind);
    if (kind < 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: unknown checkpoint kind '%s' (expected teacher, supernet, subnet or search)",
                       path, meta->kind);
    meta->kind_id = (enum ofa_ckpt_kind)kind;
    OFA_TRY(get_str(h, "model", meta->model, sizeof meta->model));
    OFA_TRY(get_str(h, "task", meta->task, sizeof meta->task));
    OFA_TRY(get_str(h, "created", meta->created, sizeof meta->created));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "step", &meta->step));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "epoch", &meta->epoch));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "phase", &meta->phase));
    OFA_TRY(ofa_h5_attr_get_i64(h, "/", "seed", &meta->seed));
    OFA_TRY(ofa_h5_attr_get_u64v(h, "/", "rng_state", meta->rng.s, 4));
    OFA_TRY(ofa_h5_attr_get_f64(h, "/", "best_metric", &meta->best_metric));
    OFA_TRY(get_str(h, "metric_name", meta->metric_name, sizeof meta->metric_name));
    OFA_TRY(ofa_h5_attr_get_str(h, "/", "config_yaml", &meta->config_yaml));
    if (ofa_h5_attr_exists(h, "/", "arch")) OFA_TRY(get_str(h, "arch", meta->arch, sizeof meta->arch));
    if (ofa_h5_exists(h, "tokenizer/vocab")) {
        int64_t lc = 1, msl = 0;
        OFA_TRY(ofa_h5_attr_get_i64(h, "tokenizer/vocab", "lowercase", &lc));
        OFA_TRY(ofa_h5_attr_get_i64(h, "tokenizer/vocab", "max_seq_len", &msl));
        meta->lowercase = (int)lc;
        meta->max_seq_len = (int)msl;
    }
    return 0;
}

int ofa_ckpt_open(ofa_h5 *h, const char *path, ofa_ckpt_meta *meta)
{
    ofa_ckpt_meta_init(meta, "");
    OFA_TRY(ofa_h5_open(h, path));
    int rc = open_body(h, path, meta);
    if (rc < 0) {
        ofa_h5_close(h);
        ofa_ckpt_meta_free(meta);
    }
    return rc;
}

static int load_body(ofa_h5 *h, const char *path, ofa_bert *m, ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                     ofa_adamw *opt)
{
    if (strcmp(meta->model, "bert") != 0)
        return OFA_ERR(OFA_E_FORMAT, "%s: holds a '%s' model, expected bert", path, meta->model);
    int64_t v[7];
    const char *keys[7] = {"vocab_size", "max_position", "hidden", "heads", "ffn", "layers", "num_outputs"};
    for (int i = 0; i < 7; i++) OFA_TRY(ofa_h5_attr_get_i64(h, "/", keys[i], &v[i]));
    for (int i = 0; i < 7; i++)
        if (v[i] < 1 || v[i] > 100000000)
            return OFA_ERR(OFA_E_FORMAT, "%s: attribute %s = %lld is invalid", path, keys[i], (long long)v[i]);
    ofa_bert_dims d = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6], 0};
    int64_t hd = 0;
    if (ofa_h5_attr_exists(h, "/", "head_dim")) OFA_TRY(ofa_h5_attr_get_i64(h, "/", "head_dim", &hd));
    d.D = hd > 0 ? (int)hd : (d.H % d.A == 0 ? d.H / d.A : 0);
    if (d.D <= 0) return OFA_ERR(OFA_E_FORMAT, "%s: hidden %d is not a multiple of heads %d", path, d.H, d.A);
    /* the shape attributes must agree with the stored tensors before anything is allocated */
    const struct { const char *name; int64_t rows, cols; } chk[] = {
        {"weights/embeddings/word", d.V, d.H}, {"weights/embeddings/position", d.P, d.H},
        {"weights/classifier/w", d.C, d.H}};
    for (int i = 0; i < 3; i++) {
        int nd;
        int64_t sh[OFA_H5_MAX_DIMS];
        OFA_TRY(ofa_h5_shape(h, chk[i].name, &nd, sh));
        if (nd != 2 || sh[0] != chk[i].rows || sh[1] != chk[i].cols)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s does not match the shape attributes ([%lld, %lld] expected)", path,
                           chk[i].name, (long long)chk[i].rows, (long long)chk[i].cols);
    }
    if (d.L > OFA_MAX_LAYERS || d.A > 4096 || d.F > 1 << 20 || d.D > d.H)
        return OFA_ERR(OFA_E_FORMAT, "%s: implausible shape attributes (layers %d, heads %d, ffn %d, head_dim %d)",
                       path, d.L, d.A, d.F, d.D);
    if (meta->max_seq_len < 0 || meta->max_seq_len > d.P)
        return OFA_ERR(OFA_E_FORMAT, "%s: tokenizer max_seq_len %d exceeds max_position %d", path, meta->max_seq_len,
                       d.P);
    /* per-layer heads and FFN widths from the stored shapes (an exported subnet has reduced ones) */
    int heads[OFA_MAX_LAYERS], ffn[OFA_MAX_LAYERS];
    for (int l = 0; l < d.L; l++) {
        char name[96];
        int nd;
        int64_t sh[OFA_H5_MAX_DIMS];
        snprintf(name, sizeof name, "weights/layer_%02d/attn/wq", l);
        OFA_TRY(ofa_h5_shape(h, name, &nd, sh));
        if (nd != 2 || sh[0] % d.D || sh[0] < d.D || sh[0] > (int64_t)d.A * d.D)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %lld rows, not a multiple of the head size %d", path, name,
                           (long long)sh[0], d.D);
        heads[l] = (int)(sh[0] / d.D);
        snprintf(name, sizeof name, "weights/layer_%02d/ffn/w1", l);
        OFA_TRY(ofa_h5_shape(h, name, &nd, sh));
        if (nd != 2 || sh[0] < 1 || sh[0] > d.F)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %lld rows (ffn is %d)", path, name, (long long)sh[0], d.F);
        ffn[l] = (int)sh[0];
    }
    int rc = ofa_bert_create_shaped(m, &d, heads, ffn);
    if (rc < 0) return ofa_err_prefix(OFA_E_FORMAT, "%s", path);
    rc = read_params(h, "weights", &m->p, m->p.data);
    if (rc < 0) {
        ofa_bert_free(m);
        return rc;
    }
    if (vocab) {
        char **toks = NULL;
        int64_t n = 0;
        rc = ofa_h5_read_strings(h, "tokenizer/vocab", &toks, &n);
        if (rc == 0) {
            rc = n == d.V ? ofa_vocab_from_strings(vocab, (const char *const *)toks, (int32_t)n)
                          : OFA_ERR(OFA_E_FORMAT, "%s: vocabulary has %lld tokens, the model %d", path, (long long)n,
                                    d.V);
            ofa_h5_free_strings(toks, n);
        }
        if (rc < 0) {
            ofa_bert_free(m);
            return rc;
        }
    }
    if (opt && ofa_h5_exists(h, "optimizer/m")) {
        rc = read_params(h, "optimizer/m", &m->p, m->p.m);
        if (rc == 0) rc = read_params(h, "optimizer/v", &m->p, m->p.v);
        if (rc == 0) rc = ofa_h5_attr_get_i64(h, "optimizer/m", "step", &opt->t);
        if (rc < 0) {
            ofa_bert_free(m);
            if (vocab) ofa_vocab_free(vocab);
            return rc;
        }
        return 1;
    }
    return 0;
}

int ofa_ckpt_load_bert(const char *path, ofa_bert *m, ofa_vocab *vocab, ofa_ckpt_meta *meta, ofa_adamw *opt)
{
    ofa_h5 h;
    OFA_TRY(ofa_ckpt_open(&h, path, meta));
    int rc = load_body(&h, path, m, vocab, meta, opt);
    ofa_h5_close(&h);
    if (rc < 0) ofa_ckpt_meta_free(meta);
    return rc;
}

/* ---- numbered training-state checkpoints ---- */

void ofa_ckpt_step_path(char *buf, size_t n, const char *dir, const char *prefix, int64_t step)
{
    snprintf(buf, n, "%s/%s%08lld.h5", dir, prefix, (long long)step);
}

/* step of `name` when it is <prefix><8+ digits>.h5 */
static int step_of(const char *name, const char *prefix, int64_t *step)
{
    size_t lp = strlen(prefix), ln = strlen(name), nd = 0;
    if (ln < lp + 8 + 3 || strncmp(name, prefix, lp) != 0 || strcmp(name + ln - 3, ".h5") != 0) return 0;
    int64_t s = 0;
    for (const char *c = name + lp; c < name + ln - 3; c++, nd++) {
        if (!isdigit((unsigned char)*c) || s > (INT64_MAX - 9) / 10) return 0;
        s = 10 * s + (*c - '0');
    }
    *step = s;
    /* exactly what ofa_ckpt_step_path writes: 8 digits, or more without a leading zero */
    return nd == 8 || (nd > 8 && name[lp] != '0');
}

int ofa_ckpt_list(const char *dir, const char *prefix, int64_t *steps, int cap)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < cap) {
        int64_t s;
        if (step_of(e->d_name, prefix, &s)) steps[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* newest first */
        for (int j = i; j > 0 && steps[j] > steps[j - 1]; j--) {
            int64_t t = steps[j];
            steps[j] = steps[j - 1];
            steps[j - 1] = t;
        }
    return n;
}

void ofa_ckpt_prune(const char *dir, const char *prefix, int keep)
{
    int64_t steps[1024];
    int n = ofa_ckpt_list(dir, prefix, steps, 1024);
    for (int i = keep > 0 ? keep : 0; i < n; i++) {
        char path[4096];
        ofa_ckpt_step_path(path, sizeof path, dir, prefix, steps[i]);
        if (unlink(path) != 0) OFA_WARN("%s: cannot remove old checkpoint: %s", path, strerror(errno));
    }
}

int64_t ofa_ckpt_resume_newest(const char *dir, const char *prefix, const char *who, ofa_bert *m, ofa_adamw *opt,
                               ofa_ckpt_meta *meta)
{
    int64_t steps[1024], start = 0;
    int n = ofa_ckpt_list(dir, prefix, steps, 1024);
    for (int i = 0; i < n && start == 0; i++) {
        char path[4096];
        ofa_ckpt_step_path(path, sizeof path, dir, prefix, steps[i]);
        ofa_bert got;
        ofa_ckpt_meta km;
        ofa_adamw o = *opt;
        int rc = ofa_ckpt_load_bert(path, &got, NULL, &km, &o);
        if (rc == 1 && got.p.total == m->p.total && km.step == steps[i]) {
            memcpy(m->p.data, got.p.data, got.p.total * sizeof(float));
            memcpy(m->p.m, got.p.m, got.p.total * sizeof(float));
            memcpy(m->p.v, got.p.v, got.p.total * sizeof(float));
            *opt = o;
            start = steps[i];
            OFA_INFO("%s: resuming from %s (step %lld)", who, path, (long long)start);
        } else if (rc >= 0) {
            OFA_WARN("skipped checkpoint %s: %s", path, rc == 1 ? "a different model or step" : "no optimizer state");
        } else {
            OFA_WARN("skipped checkpoint: %s", ofa_err_msg());
        }
        if (rc >= 0) {
            ofa_bert_free(&got);
            if (start > 0 && meta) *meta = km;
            else ofa_ckpt_meta_free(&km);
        }
    }
    ofa_err_clear();
    return start;
}
