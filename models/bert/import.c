/* models/bert/import: a Hugging Face BERT folder as a model (see import.h). */
#include "models/bert/import.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "core/sys.h"
#include "datasets/glue.h"
#include "models/bert/model.h"

enum { HEAD_CLASSIFIER, HEAD_BASE, HEAD_MLM, HEAD_PRETRAIN };

/* a JSON file's root object (the caller deletes it) */
static int read_json(const char *path, cJSON **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return OFA_ERR(OFA_E_IO, "%s: cannot open", path);
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) text = ofa_xrealloc(text, cap = 2 * cap + 8192);
        size_t got = fread(text + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
    }
    fclose(f);
    text[n] = '\0';
    *out = cJSON_ParseWithLength(text, n);
    long at = -1;
    if (!*out) {
        const char *e = cJSON_GetErrorPtr();
        if (e && e >= text && e <= text + n) at = (long)(e - text);
    }
    free(text);
    if (!*out) return OFA_ERR(OFA_E_FORMAT, "%s: not valid JSON (near byte %ld)", path, at);
    if (!cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        return OFA_ERR(OFA_E_FORMAT, "%s: not a JSON object", path);
    }
    return 0;
}

/* integer key of config.json (def < 0: required) */
static int json_int(const cJSON *o, const char *path, const char *key, int64_t def, int64_t lo, int64_t hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (def < 0) return OFA_ERR(OFA_E_FORMAT, "%s: no \"%s\" (a BERT config.json has it)", path, key);
        *out = (int)def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)lo ||
        v->valuedouble > (double)hi)
        return OFA_ERR(OFA_E_FORMAT, "%s: \"%s\" must be an integer from %lld to %lld", path, key, (long long)lo,
                       (long long)hi);
    *out = (int)v->valuedouble;
    return 0;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct hf {
    const char *dir;
    char st_path[OFA_PATH_MAX + 32];
    ofa_st st;
    char *used;      /* per safetensors entry: taken */
    const char *pre; /* "bert." or "" */
    char missing[1024], shape_err[1024];
    int n_missing;
} hf;

static void append(char *buf, size_t n, const char *s)
{
    size_t k = strlen(buf);
    if (k + strlen(s) + 8 < n) snprintf(buf + k, n - k, "%s%s", k ? ", " : "", s);
    else if (k + 5 < n && strcmp(buf + k - 3, "...")) snprintf(buf + k, n - k, ", ...");
}

/* the entry of an ofa tensor: `pre` + name, with LayerNorm's weight|gamma / bias|beta; -1 when missing */
static int entry_of(hf *h, const char *name)
{
    char full[256];
    snprintf(full, sizeof full, "%s%s", h->pre, name);
    int i = ofa_st_find(&h->st, full);
    const char *ln = strstr(full, "LayerNorm.");
    if (i < 0 && ln) { /* the old names */
        char alt[256];
        const char *leaf = ln + strlen("LayerNorm.");
        snprintf(alt, sizeof alt, "%.*s%s", (int)(leaf - full), full,
                 !strcmp(leaf, "weight") ? "gamma" : !strcmp(leaf, "bias") ? "beta" : leaf);
        i = ofa_st_find(&h->st, alt);
    }
    return i;
}

/* reads HF tensor `name` into the view's floats (shape [rows] or [rows, cols]); a missing or
 * mis-shaped one is recorded for the error */
static int take(hf *h, const char *name, float *dst, int64_t rows, int64_t cols)
{
    const int i = entry_of(h, name);
    if (i < 0) {
        char full[256];
        snprintf(full, sizeof full, "%s%s", h->pre, name);
        append(h->missing, sizeof h->missing, full);
        h->n_missing++;
        return 0;
    }
    h->used[i] = 1;
    const ofa_st_entry *e = &h->st.e[i];
    const int ok = cols ? e->ndim == 2 && e->shape[0] == rows && e->shape[1] == cols : e->ndim == 1 && e->shape[0] == rows;
    if (!ok) {
        char got[96] = "", one[160];
        for (int d = 0; d < e->ndim; d++) {
            size_t k = strlen(got);
            snprintf(got + k, sizeof got - k, d ? ", %lld" : "%lld", (long long)e->shape[d]);
        }
        if (cols) snprintf(one, sizeof one, "%s is [%s], expected [%lld, %lld]", e->name, got, (long long)rows, (long long)cols);
        else snprintf(one, sizeof one, "%s is [%s], expected [%lld]", e->name, got, (long long)rows);
        append(h->shape_err, sizeof h->shape_err, one);
        return 0;
    }
    return ofa_st_read_f32(&h->st, i, dst);
}

static float *view(ofa_bert *m, int idx) { return m->p.data + m->p.views[idx].offset; }

/* every tensor of the model from the file; fresh (already initialised) pooler / classifier kept
 * when the head has none */
static int load_tensors(hf *h, ofa_bert *m, int head)
{
    const ofa_bert_dims *d = &m->d;
    const int H = d->H;
    OFA_TRY(take(h, "embeddings.word_embeddings.weight", view(m, m->word), d->V, H));
    OFA_TRY(take(h, "embeddings.position_embeddings.weight", view(m, m->pos), d->P, H));
    OFA_TRY(take(h, "embeddings.token_type_embeddings.weight", view(m, m->type), ofa_bert_types(d), H));
    OFA_TRY(take(h, "embeddings.LayerNorm.weight", view(m, m->emb_g), H, 0));
    OFA_TRY(take(h, "embeddings.LayerNorm.bias", view(m, m->emb_b), H, 0));
    for (int l = 0; l < d->L; l++) {
        const ofa_bert_layer_idx *x = &m->layer[l];
        const int W = m->heads[l] * d->D, F = m->ffn[l];
        static const char *const part[] = {"attention.self.query", "attention.self.key", "attention.self.value"};
        const int w[3] = {x->wq, x->wk, x->wv}, b[3] = {x->bq, x->bk, x->bv};
        char n[160];
        for (int k = 0; k < 3; k++) {
            snprintf(n, sizeof n, "encoder.layer.%d.%s.weight", l, part[k]);
            OFA_TRY(take(h, n, view(m, w[k]), W, H));
            snprintf(n, sizeof n, "encoder.layer.%d.%s.bias", l, part[k]);
            OFA_TRY(take(h, n, view(m, b[k]), W, 0));
        }
        const struct { const char *name; int idx; int64_t rows, cols; } t[] = {
            {"attention.output.dense.weight", x->wo, H, W}, {"attention.output.dense.bias", x->bo, H, 0},
            {"attention.output.LayerNorm.weight", x->ln1_g, H, 0}, {"attention.output.LayerNorm.bias", x->ln1_b, H, 0},
            {"intermediate.dense.weight", x->w1, F, H}, {"intermediate.dense.bias", x->b1, F, 0},
            {"output.dense.weight", x->w2, H, F}, {"output.dense.bias", x->b2, H, 0},
            {"output.LayerNorm.weight", x->ln2_g, H, 0}, {"output.LayerNorm.bias", x->ln2_b, H, 0}};
        for (size_t k = 0; k < sizeof t / sizeof *t; k++) {
            snprintf(n, sizeof n, "encoder.layer.%d.%s", l, t[k].name);
            OFA_TRY(take(h, n, view(m, t[k].idx), t[k].rows, t[k].cols));
        }
    }
    if (head != HEAD_MLM) {
        OFA_TRY(take(h, "pooler.dense.weight", view(m, m->pool_w), H, H));
        OFA_TRY(take(h, "pooler.dense.bias", view(m, m->pool_b), H, 0));
    }
    if (head == HEAD_CLASSIFIER) { /* no prefix: the head sits beside `bert.` */
        const char *pre = h->pre;
        h->pre = "";
        int rc = take(h, "classifier.weight", view(m, m->cls_w), d->C, H);
        if (rc == 0) rc = take(h, "classifier.bias", view(m, m->cls_b), d->C, 0);
        h->pre = pre;
        OFA_TRY(rc);
    }
    return 0;
}

/* tensors nobody took: buffers (position_ids) and the pre-training heads (cls.*) are fine */
static int leftovers(hf *h, char *note, size_t n)
{
    char extra[1024] = "";
    int n_extra = 0, n_heads = 0;
    for (int i = 0; i < h->st.n; i++) {
        const char *name = h->st.e[i].name;
        if (h->used[i] || strstr(name, "position_ids")) continue;
        if (!strncmp(name, "cls.", 4)) {
            n_heads++;
            continue;
        }
        append(extra, sizeof extra, name);
        n_extra++;
    }
    if (n_heads) {
        size_t k = strlen(note);
        snprintf(note + k, n - k, "%s%d tensors of the pre-training heads (cls.*) ignored", k ? "; " : "", n_heads);
    }
    if (n_extra)
        return OFA_ERR(OFA_E_FORMAT, "%s: %d tensor%s that a BERT of this config does not have: %s", h->st_path,
                       n_extra, n_extra == 1 ? "" : "s", extra);
    return 0;
}

static int head_of(const cJSON *cfg, const char *path, const hf *h, int *head)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cfg, "architectures");
    const char *arch = cJSON_IsArray(a) && cJSON_IsString(cJSON_GetArrayItem(a, 0)) ? cJSON_GetArrayItem(a, 0)->valuestring
                                                                                   : NULL;
    if (!arch) { /* no architectures: the tensors say */
        *head = ofa_st_find(&h->st, "classifier.weight") >= 0 ? HEAD_CLASSIFIER : HEAD_BASE;
        return 0;
    }
    static const struct { const char *name; int head; } k[] = {
        {"BertForSequenceClassification", HEAD_CLASSIFIER}, {"BertModel", HEAD_BASE},
        {"BertForMaskedLM", HEAD_MLM}, {"BertForPreTraining", HEAD_PRETRAIN}};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (!strcmp(arch, k[i].name)) {
            *head = k[i].head;
            return 0;
        }
    return OFA_ERR(OFA_E_FORMAT, "%s: architectures[0] is '%s'; ofa imports BertForSequenceClassification, "
                   "BertModel, BertForMaskedLM and BertForPreTraining", path, arch);
}

int ofa_bert_import(ofa_model *out, ofa_config *c, const char *dir, const char *task_name, uint64_t seed, char *note,
                    size_t note_n)
{
    note[0] = '\0';
    char path[OFA_PATH_MAX + 32], vpath[OFA_PATH_MAX + 32], tpath[OFA_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(vpath, sizeof vpath, "%s/vocab.txt", dir);
    snprintf(tpath, sizeof tpath, "%s/tokenizer_config.json", dir);
    if (!ofa_file_exists(path))
        return OFA_ERR(OFA_E_IO, "%s: no config.json; a Hugging Face model folder has config.json, vocab.txt and "
                       "model.safetensors", dir);
    const char *tn = task_name && task_name[0] ? task_name : "sst-2";
    const int task = ofa_task_from_name(tn);
    if (task < 0) return OFA_ERR(OFA_E_USAGE, "--task '%s' is not a GLUE task (sst-2, mrpc, sts-b, ...)", tn);
    const ofa_task_info *ti = ofa_task_get(task);
    cJSON *cfg = NULL;
    OFA_TRY(read_json(path, &cfg));
    hf h = {.dir = dir};
    int rc = 0;
    const char *mt = json_str(cfg, "model_type"), *act = json_str(cfg, "hidden_act"),
               *pet = json_str(cfg, "position_embedding_type");
    if (!mt || strcmp(mt, "bert"))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: model_type is '%s'; ofa imports BERT models (model_type \"bert\")", path,
                     mt ? mt : "(none)");
    else if (act && strcmp(act, "gelu"))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: hidden_act is '%s'; ofa's BERT uses \"gelu\" (GELU with erf) only", path, act);
    else if (pet && strcmp(pet, "absolute"))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: position_embedding_type is '%s'; ofa's BERT has absolute positions only",
                     path, pet);
    ofa_bert_dims d = {0};
    int labels = 2;
    if (rc == 0) rc = json_int(cfg, path, "hidden_size", -1, 1, 65536, &d.H);
    if (rc == 0) rc = json_int(cfg, path, "num_hidden_layers", -1, 1, OFA_MAX_LAYERS, &d.L);
    if (rc == 0) rc = json_int(cfg, path, "num_attention_heads", -1, 1, 4096, &d.A);
    if (rc == 0) rc = json_int(cfg, path, "intermediate_size", -1, 1, 1 << 20, &d.F);
    if (rc == 0) rc = json_int(cfg, path, "vocab_size", -1, 5, 10000000, &d.V);
    if (rc == 0) rc = json_int(cfg, path, "max_position_embeddings", -1, 2, 1 << 20, &d.P);
    if (rc == 0) rc = json_int(cfg, path, "type_vocab_size", 2, 1, 1024, &d.T);
    if (rc == 0) {
        const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
        rc = json_int(cfg, path, "num_labels", cJSON_IsObject(id2) ? cJSON_GetArraySize(id2) : 2, 1, 1000, &labels);
    }
    if (rc == 0 && d.H % d.A)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d", path, d.H, d.A);
    d.eps = 1e-12;
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(cfg, "layer_norm_eps");
    if (rc == 0 && eps) {
        if (!cJSON_IsNumber(eps) || !(eps->valuedouble > 0 && eps->valuedouble < 1))
            rc = OFA_ERR(OFA_E_FORMAT, "%s: \"layer_norm_eps\" must be a number in (0, 1)", path);
        else d.eps = eps->valuedouble;
    }
    /* the weights: model.safetensors, or the conversion of a pytorch_model.bin */
    snprintf(h.st_path, sizeof h.st_path, "%s/model.safetensors", dir);
    if (rc == 0 && !ofa_file_exists(h.st_path)) {
        char bin[OFA_PATH_MAX + 32];
        snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
        if (ofa_file_exists(bin))
            rc = OFA_ERR(OFA_E_FORMAT, "%s: ofa reads model.safetensors, not pytorch_model.bin (a pickle); convert it "
                         "first: /usr/bin/python3 tools/hf_to_safetensors.py %s", dir, dir);
        else rc = OFA_ERR(OFA_E_IO, "%s: no model.safetensors in the folder", dir);
    }
    if (rc == 0) rc = ofa_st_open(&h.st, h.st_path);
    const int opened = rc == 0;
    int head = HEAD_BASE;
    if (rc == 0) rc = head_of(cfg, path, &h, &head);
    /* `bert.` prefix of the task models (BertModel has none) */
    if (rc == 0) h.pre = ofa_st_find(&h.st, "bert.embeddings.word_embeddings.weight") >= 0 ? "bert." : "";
    d.C = head == HEAD_CLASSIFIER ? labels : ti->num_labels;
    if (rc == 0 && head == HEAD_CLASSIFIER && labels != ti->num_labels)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: the classifier has num_labels %d; task %s needs %d output%s (--task names "
                     "the task it was fine-tuned on)", path, labels, ti->name, ti->num_labels,
                     ti->num_labels == 1 ? " (regression)" : "s");
    cJSON_Delete(cfg);
    /* the tokenizer */
    ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
    bm->lowercase = 1;
    if (rc == 0 && ofa_file_exists(tpath)) {
        cJSON *tc = NULL;
        rc = read_json(tpath, &tc);
        if (rc == 0) {
            const cJSON *lc = cJSON_GetObjectItemCaseSensitive(tc, "do_lower_case");
            if (lc && !cJSON_IsBool(lc)) rc = OFA_ERR(OFA_E_FORMAT, "%s: do_lower_case must be true or false", tpath);
            else if (lc) bm->lowercase = cJSON_IsTrue(lc);
            cJSON_Delete(tc);
        }
    }
    if (rc == 0) rc = ofa_vocab_load(&bm->vocab, vpath);
    bm->has_vocab = rc == 0;
    if (rc == 0 && bm->vocab.n != d.V)
        rc = OFA_ERR(OFA_E_FORMAT, "%s has %d tokens; config.json says vocab_size %d", vpath, (int)bm->vocab.n, d.V);
    if (rc == 0) rc = ofa_bert_create(&bm->m, &d);
    const int created = rc == 0;
    if (rc == 0) { /* fresh weights for what the folder lacks (pooler, classifier), then the file's */
        ofa_rng r;
        ofa_rng_keyed(&r, seed, 0, 0);
        ofa_bert_init_weights(&bm->m, &r, 0.02);
        h.used = ofa_xcalloc((size_t)(h.st.n ? h.st.n : 1), 1);
        rc = load_tensors(&h, &bm->m, head);
        if (rc == 0 && h.n_missing)
            rc = OFA_ERR(OFA_E_FORMAT, "%s: %d tensor%s missing: %s", h.st_path, h.n_missing,
                         h.n_missing == 1 ? "" : "s", h.missing);
        if (rc == 0 && h.shape_err[0]) rc = OFA_ERR(OFA_E_FORMAT, "%s: wrong shapes: %s", h.st_path, h.shape_err);
        if (rc == 0) rc = leftovers(&h, note, note_n);
    }
    if (rc == 0 && head != HEAD_CLASSIFIER) {
        size_t k = strlen(note);
        snprintf(note + k, note_n - k, "%sa fresh classifier for %s (%d output%s)%s", k ? "; " : "", ti->name,
                 ti->num_labels, ti->num_labels == 1 ? "" : "s", head == HEAD_MLM ? " and a fresh pooler" : "");
    }
    free(h.used);
    if (opened) ofa_st_close(&h.st);
    if (rc < 0) {
        if (created) ofa_bert_free(&bm->m);
        if (bm->has_vocab) ofa_vocab_free(&bm->vocab);
        free(bm);
        return rc;
    }
    snprintf(bm->task, sizeof bm->task, "%s", ti->name);
    bm->max_seq_len = d.P < 128 ? d.P : 128;
    ofa_bert_model_wrap(out, bm);
    /* the config that describes it (the file's config_yaml) */
    ofa_config_defaults(c);
    snprintf(c->model.type, sizeof c->model.type, "bert");
    c->model.layers = d.L, c->model.hidden = d.H, c->model.heads = d.A, c->model.ffn = d.F;
    c->model.max_position = d.P;
    snprintf(c->data.task, sizeof c->data.task, "%s", ti->name);
    c->data.lowercase = bm->lowercase;
    c->data.max_seq_len = bm->max_seq_len;
    c->experiment.seed = (int64_t)seed;
    return 0;
}
