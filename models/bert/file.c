/* models/bert/file: a BERT model's part of its file (see file.h). */
#include "models/bert/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys.h"
#include "datasets/glue.h"
#include "models/bert/model.h"


/* shape attributes, /weights and the tokenizer of a BERT file into bm (the body of model_read) */
static int read_body(ofa_h5 *h, const char *path, ofa_bert_model *bm)
{
    ofa_bert *m = &bm->m;
    ofa_vocab *vocab = &bm->vocab;
    int64_t v[7];
    const char *keys[7] = {"vocab_size", "max_position", "hidden", "heads", "ffn", "layers", "num_outputs"};
    for (int i = 0; i < 7; i++) OFA_TRY(ofa_h5_attr_get_i64(h, "/", keys[i], &v[i]));
    for (int i = 0; i < 7; i++)
        if (v[i] < 1 || v[i] > 100000000)
            return OFA_ERR(OFA_E_FORMAT, "%s: attribute %s = %lld is invalid", path, keys[i], (long long)v[i]);
    ofa_bert_dims d = {(int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (int)v[6], 0, 0, 0};
    /* the task decides how outputs are scored (1 = regression): it must be one that fits them */
    if (bm->task[0]) {
        int t = ofa_task_from_name(bm->task);
        if (t < 0) return OFA_ERR(OFA_E_FORMAT, "%s: attribute task '%s' is not a GLUE task", path, bm->task);
        const ofa_task_info *ti = ofa_task_get(t);
        if (ti->num_labels != d.C)
            return OFA_ERR(OFA_E_FORMAT, "%s: attribute task '%s' needs %d output%s (%s), the model has %d", path,
                           bm->task, ti->num_labels, ti->num_labels == 1 ? "" : "s",
                           ti->num_labels == 1 ? "regression" : "one per class", d.C);
    }
    int64_t hd = 0;
    if (ofa_h5_attr_exists(h, "/", "head_dim")) OFA_TRY(ofa_h5_attr_get_i64(h, "/", "head_dim", &hd));
    d.D = hd > 0 ? (int)hd : (d.H % d.A == 0 ? d.H / d.A : 0);
    if (d.D <= 0) return OFA_ERR(OFA_E_FORMAT, "%s: hidden %d is not a multiple of heads %d", path, d.H, d.A);
    /* an imported model's token types and LayerNorm eps (absent: 2 and 1e-12) */
    if (ofa_h5_attr_exists(h, "/", "type_vocab_size")) {
        int64_t t = 0;
        OFA_TRY(ofa_h5_attr_get_i64(h, "/", "type_vocab_size", &t));
        if (t < 1 || t > 1024) return OFA_ERR(OFA_E_FORMAT, "%s: attribute type_vocab_size = %lld is invalid", path, (long long)t);
        d.T = (int)t;
    }
    if (ofa_h5_attr_exists(h, "/", "layer_norm_eps")) {
        OFA_TRY(ofa_h5_attr_get_f64(h, "/", "layer_norm_eps", &d.eps));
        if (!(d.eps > 0 && d.eps < 1)) return OFA_ERR(OFA_E_FORMAT, "%s: attribute layer_norm_eps = %g is invalid", path, d.eps);
    }
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
    if (bm->max_seq_len < 0 || bm->max_seq_len > d.P)
        return OFA_ERR(OFA_E_FORMAT, "%s: tokenizer max_seq_len %d exceeds max_position %d", path, bm->max_seq_len,
                       d.P);
    /* per-layer heads and FFN widths from the stored shapes (an exported subnet has reduced ones) */
    int heads[OFA_MAX_LAYERS], ffn[OFA_MAX_LAYERS];
    for (int l = 0; l < d.L; l++) {
        char name[96];
        int nd;
        int64_t sh[OFA_H5_MAX_DIMS];
        snprintf(name, sizeof name, "weights/layer_%02d/attn/wq", l);
        OFA_TRY(ofa_h5_shape(h, name, &nd, sh));
        if (nd != 2)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %d dimensions, not 2 ([heads x head size %d, hidden %d])", path,
                           name, nd, d.D, d.H);
        if (sh[0] % d.D)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %lld rows, not a multiple of the head size %d", path, name,
                           (long long)sh[0], d.D);
        if (sh[0] < d.D || sh[0] > (int64_t)d.A * d.D)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %lld rows = %lld heads of size %d; the model has 1 to %d heads",
                           path, name, (long long)sh[0], (long long)(sh[0] / d.D), d.D, d.A);
        heads[l] = (int)(sh[0] / d.D);
        snprintf(name, sizeof name, "weights/layer_%02d/ffn/w1", l);
        OFA_TRY(ofa_h5_shape(h, name, &nd, sh));
        if (nd != 2)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %d dimensions, not 2 ([ffn, hidden %d])", path, name, nd, d.H);
        if (sh[0] < 1 || sh[0] > d.F)
            return OFA_ERR(OFA_E_FORMAT, "%s: %s has %lld rows (ffn is %d)", path, name, (long long)sh[0], d.F);
        ffn[l] = (int)sh[0];
    }
    int rc = ofa_bert_create_shaped(m, &d, heads, ffn);
    if (rc < 0) return ofa_err_prefix(OFA_E_FORMAT, "%s", path);
    rc = ofa_params_read_h5(h, "weights", &m->p, m->p.data);
    if (rc < 0) {
        ofa_bert_free(m);
        return rc;
    }
    if (ofa_h5_exists(h, "tokenizer/vocab")) {
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
    bm->has_vocab = ofa_h5_exists(h, "tokenizer/vocab");
    return 0;
}

void ofa_bert_file_free(ofa_model *m)
{
    ofa_bert_model *bm = m->net;
    if (!bm) return;
    ofa_bert_free(&bm->m);
    if (bm->has_vocab) ofa_vocab_free(&bm->vocab);
    free(bm);
    m->net = NULL;
    m->p = NULL;
}

int ofa_bert_file_read(ofa_model *m, ofa_h5 *h, const char *path)
{
    ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
    bm->lowercase = 1;
    int rc = ofa_h5_attr_get_strbuf(h, "/", "task", bm->task, sizeof bm->task);
    if (rc == 0 && ofa_h5_exists(h, "tokenizer/vocab")) {
        int64_t lc = 1, msl = 0;
        rc = ofa_h5_attr_get_i64(h, "tokenizer/vocab", "lowercase", &lc);
        if (rc == 0) rc = ofa_h5_attr_get_i64(h, "tokenizer/vocab", "max_seq_len", &msl);
        bm->lowercase = (int)lc;
        bm->max_seq_len = (int)msl;
    }
    if (rc == 0) rc = read_body(h, path, bm);
    if (rc < 0) {
        free(bm);
        return rc;
    }
    ofa_bert_model_wrap(m, bm);
    return 0;
}

int ofa_bert_file_write(const ofa_model *m, ofa_h5 *h)
{
    const ofa_bert_model *bm = ofa_bert_of(m);
    const ofa_bert_dims *d = &bm->m.d;
    const char *r = "/";
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "layers", d->L));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "hidden", d->H));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "heads", d->A));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "ffn", d->F));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "vocab_size", d->V));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "max_position", d->P));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "num_outputs", d->C));
    OFA_TRY(ofa_h5_attr_set_i64(h, r, "head_dim", d->D));
    if (ofa_bert_types(d) != 2) OFA_TRY(ofa_h5_attr_set_i64(h, r, "type_vocab_size", ofa_bert_types(d)));
    if (ofa_bert_eps(d) != OFA_BERT_LN_EPS) OFA_TRY(ofa_h5_attr_set_f64(h, r, "layer_norm_eps", ofa_bert_eps(d)));
    OFA_TRY(ofa_params_write_h5(h, "weights", &bm->m.p, bm->m.p.data));
    if (bm->has_vocab) {
        OFA_TRY(ofa_h5_write_strings(h, "tokenizer/vocab", (const char *const *)bm->vocab.tok, bm->vocab.n));
        OFA_TRY(ofa_h5_attr_set_i64(h, "tokenizer/vocab", "lowercase", bm->lowercase));
        OFA_TRY(ofa_h5_attr_set_i64(h, "tokenizer/vocab", "max_seq_len", bm->max_seq_len));
    }
    return 0;
}


int ofa_bert_open(const char *path, ofa_model *m)
{
    if (!ofa_file_exists(path)) return OFA_ERR(OFA_E_IO, "%s: no such file", path);
    ofa_h5 h;
    OFA_TRY(ofa_h5_open(&h, path));
    char format[32] = "", model[32] = "", kind[32] = "";
    int rc = ofa_h5_attr_get_strbuf(&h, "/", "format", format, sizeof format);
    if (rc == 0) rc = ofa_h5_attr_get_strbuf(&h, "/", "model", model, sizeof model);
    if (rc == 0) rc = ofa_h5_attr_get_strbuf(&h, "/", "kind", kind, sizeof kind);
    if (rc == 0 && (strcmp(format, "ofa-checkpoint") || strcmp(model, "bert")))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: not an ofa BERT model file (format '%s', model '%s')", path, format, model);
    if (rc == 0 && strcmp(kind, "teacher") && strcmp(kind, "subnet"))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: a %s file; a model (kind teacher, e.g. from 'ofa import', or subnet) is "
                     "needed", path, kind);
    if (rc == 0) rc = ofa_bert_file_read(m, &h, path);
    ofa_h5_close(&h);
    return rc;
}
