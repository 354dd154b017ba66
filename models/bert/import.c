/* models/bert/import: a Hugging Face BERT folder as a model (see import.h). */
#include "models/bert/import.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char missing[1024], shape_err[1024], bad[1024];
    int n_missing, n_shape, n_bad;
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
        h->n_shape++;
        return 0;
    }
    OFA_TRY(ofa_st_read_f32(&h->st, i, dst));
    for (int64_t k = 0; k < e->numel; k++)
        if (!isfinite(dst[k])) { /* a NaN or infinity makes every later command refuse the file */
            append(h->bad, sizeof h->bad, e->name);
            h->n_bad++;
            break;
        }
    return 0;
}

static float *view(ofa_bert *m, int idx) { return m->p.data + m->p.views[idx].offset; }

/* every tensor of the model from the file; fresh (already initialised) pooler / classifier kept
 * when the head has none (*fresh_pooler: a BertForMaskedLM file without one) */
static int load_tensors(hf *h, ofa_bert *m, int head, int *fresh_pooler)
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
    /* BertForMaskedLM has no pooler, but its files often carry the pre-training one
     * (bert-base-uncased's does): then it is the pooler a task model starts from */
    *fresh_pooler = head == HEAD_MLM && entry_of(h, "pooler.dense.weight") < 0 && entry_of(h, "pooler.dense.bias") < 0;
    if (!*fresh_pooler) {
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

/* tensors nobody took into extra (their count returned): buffers (position_ids) and the
 * pre-training heads (cls.*) are fine */
static int leftovers(hf *h, char *extra, size_t extra_n, char *note, size_t n)
{
    int n_extra = 0, n_heads = 0;
    for (int i = 0; i < h->st.n; i++) {
        const char *name = h->st.e[i].name;
        if (h->used[i] || strstr(name, "position_ids")) continue;
        if (!strncmp(name, "cls.", 4)) {
            n_heads++;
            continue;
        }
        append(extra, extra_n, name);
        n_extra++;
    }
    if (n_heads) {
        size_t k = strlen(note);
        snprintf(note + k, n - k, "%s%d tensors of the pre-training heads (cls.*) ignored", k ? "; " : "", n_heads);
    }
    return n_extra;
}

/* one error for every kind of misfit between the file's tensors and the config's BERT */
static int misfits(const hf *h, const char *extra, int n_extra)
{
    const struct { int count; const char *one, *many, *list; } part[] = {
        {h->n_missing, "tensor missing", "tensors missing", h->missing},
        {h->n_shape, "tensor of the wrong shape", "tensors of the wrong shape", h->shape_err},
        {n_extra, "tensor that a BERT of this config does not have", "tensors that a BERT of this config does not have",
         extra},
        {h->n_bad, "tensor with NaN or infinite values", "tensors with NaN or infinite values", h->bad}};
    char msg[4800] = "";
    size_t k = 0;
    for (size_t i = 0; i < sizeof part / sizeof *part; i++)
        if (part[i].count && k < sizeof msg)
            k += (size_t)snprintf(msg + k, sizeof msg - k, "%s%d %s: %s", k ? "; " : "", part[i].count,
                                  part[i].count == 1 ? part[i].one : part[i].many, part[i].list);
    return k ? OFA_ERR(OFA_E_FORMAT, "%s: %s", h->st_path, msg) : 0;
}

/* a label name lowercased without '-', '_' and spaces */
static void squash(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '-' && *s != '_' && *s != ' ') out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

/* the task's class that a Hugging Face label name means (-1: none): its own names, or the names
 * the hub's models use for GLUE's 0 / 1 classes */
static int task_class_of(const ofa_task_info *ti, const char *name)
{
    static const struct { const char *task, *no, *yes; } alias[] = {
        {"sst-2", "negative", "positive"}, {"sst-2", "neg", "pos"},     {"cola", "unacceptable", "acceptable"},
        {"mrpc", "notequivalent", "equivalent"}, {"qqp", "notduplicate", "duplicate"},
        {"wnli", "notentailment", "entailment"}};
    char want[64], have[64];
    squash(name, have, sizeof have);
    for (int c = 0; c < ti->num_labels; c++) {
        squash(ti->label_names[c], want, sizeof want);
        if (!strcmp(have, want)) return c;
    }
    for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
        if (!strcmp(alias[i].task, ti->name) && (!strcmp(have, alias[i].no) || !strcmp(have, alias[i].yes)))
            return !strcmp(have, alias[i].yes);
    return -1;
}

/* config.json's id2label against the task's classes: when every name is one of the task's, the
 * classifier's rows are put in the task's order (to[j]: the task class of the file's class j);
 * otherwise (names that say nothing, like LABEL_0) they stay in id order, with a note when the
 * names could have meant another order */
static void label_order(const cJSON *cfg, const ofa_task_info *ti, int C, int *to, char *note, size_t n)
{
    OFA_ASSERT(C <= 64); /* the task's classes (num_labels was checked against them) */
    for (int j = 0; j < C; j++) to[j] = j;
    const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
    if (!cJSON_IsObject(id2) || ti->num_labels != C || C < 2) return;
    int map[64], seen = 0, named = 0, all = C <= 64;
    char list[512] = "";
    for (int j = 0; j < C; j++) { /* every name, for the note */
        char key[16], generic[32], have[32];
        snprintf(key, sizeof key, "%d", j);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(id2, key);
        const char *name = cJSON_IsString(v) ? v->valuestring : "";
        snprintf(generic, sizeof generic, "label%d", j);
        squash(name, have, sizeof have);
        named += strcmp(have, generic) != 0 && strcmp(have, key) != 0;
        append(list, sizeof list, name);
        map[j] = task_class_of(ti, name);
        if (map[j] < 0 || (seen >> map[j] & 1)) all = 0;
        else seen |= 1 << map[j];
    }
    size_t k = strlen(note);
    char task_list[256] = "";
    for (int c = 0; c < ti->num_labels; c++) append(task_list, sizeof task_list, ti->label_names[c]);
    if (all) {
        int moved = 0;
        for (int j = 0; j < C; j++) to[j] = map[j], moved |= map[j] != j;
        if (moved)
            snprintf(note + k, n - k, "%sthe classifier's rows put in task %s's label order (%s; id2label: %s)",
                     k ? "; " : "", ti->name, task_list, list);
    } else if (named || C > 2) {
        snprintf(note + k, n - k, "%sid2label (%s) does not name task %s's labels (%s): the classifier's rows are "
                 "kept in id order, check that they mean %s", k ? "; " : "", list, ti->name, task_list, task_list);
    }
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

/* tools/hf_to_safetensors.py beside this binary's source tree (build/ofa) or install
 * (PREFIX/bin/ofa, PREFIX/share/ofa/tools), as an absolute path; else the source tree's relative one */
static const char *converter(char *buf, size_t n)
{
    char exe[OFA_PATH_MAX];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    static const char *const rel[] = {"/../tools/hf_to_safetensors.py", "/../share/ofa/tools/hf_to_safetensors.py"};
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
            char path[OFA_PATH_MAX + 64], *real;
            snprintf(path, sizeof path, "%s%s", exe, rel[i]);
            if ((real = realpath(path, NULL))) {
                snprintf(buf, n, "%s", real);
                free(real);
                return buf;
            }
        }
    }
    snprintf(buf, n, "tools/hf_to_safetensors.py");
    return buf;
}

/* the classifier's row j (and bias j) becomes row to[j] */
static void permute_rows(ofa_bert *m, const int *to)
{
    const int C = m->d.C, H = m->d.H;
    float *w = view(m, m->cls_w), *b = view(m, m->cls_b);
    float *tw = ofa_xmalloc((size_t)C * H * sizeof *tw), *tb = ofa_xmalloc((size_t)C * sizeof *tb);
    for (int j = 0; j < C; j++) {
        memcpy(tw + (size_t)to[j] * H, w + (size_t)j * H, (size_t)H * sizeof *tw);
        tb[to[j]] = b[j];
    }
    memcpy(w, tw, (size_t)C * H * sizeof *tw);
    memcpy(b, tb, (size_t)C * sizeof *tb);
    free(tw), free(tb);
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
    /* at least [CLS] a [SEP] b [SEP]'s worth (data.max_seq_len's minimum) */
    if (rc == 0) rc = json_int(cfg, path, "max_position_embeddings", -1, 4, 1 << 20, &d.P);
    if (rc == 0) rc = json_int(cfg, path, "type_vocab_size", 2, 1, 1024, &d.T);
    if (rc == 0) {
        const cJSON *id2 = cJSON_GetObjectItemCaseSensitive(cfg, "id2label");
        rc = json_int(cfg, path, "num_labels", cJSON_IsObject(id2) ? cJSON_GetArraySize(id2) : 2, 1, 1000, &labels);
    }
    if (rc == 0 && ti->pair && d.T < 2)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: type_vocab_size is %d; task %s takes sentence pairs, whose second sentence "
                     "has token type 1 (--task names the task the model is for)", path, d.T, ti->name);
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
        char bin[OFA_PATH_MAX + 32], index[OFA_PATH_MAX + 48], tool[OFA_PATH_MAX + 64];
        snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
        snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
        if (ofa_file_exists(index))
            rc = OFA_ERR(OFA_E_FORMAT, "%s: the weights are split into shards (model.safetensors.index.json); ofa "
                         "reads one model.safetensors: save the model again with save_pretrained(..., "
                         "max_shard_size=\"20GB\")", dir);
        else if (ofa_file_exists(bin))
            rc = OFA_ERR(OFA_E_FORMAT, "%s: ofa reads model.safetensors, not pytorch_model.bin (a pickle); convert it "
                         "first: /usr/bin/python3 %s %s", dir, converter(tool, sizeof tool), dir);
        else rc = OFA_ERR(OFA_E_IO, "%s: no model.safetensors in the folder", dir);
    }
    if (rc == 0) rc = ofa_st_open(&h.st, h.st_path);
    const int opened = rc == 0;
    int head = HEAD_BASE, to[64];
    if (rc == 0) rc = head_of(cfg, path, &h, &head);
    /* `bert.` prefix of the task models (BertModel has none) */
    if (rc == 0) h.pre = ofa_st_find(&h.st, "bert.embeddings.word_embeddings.weight") >= 0 ? "bert." : "";
    d.C = head == HEAD_CLASSIFIER ? labels : ti->num_labels;
    if (rc == 0 && head == HEAD_CLASSIFIER && labels != ti->num_labels)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: the classifier has num_labels %d; task %s needs %d output%s (--task names "
                     "the task it was fine-tuned on)", path, labels, ti->name, ti->num_labels,
                     ti->num_labels == 1 ? " (regression)" : "s");
    if (rc == 0 && head == HEAD_CLASSIFIER) label_order(cfg, ti, d.C, to, note, note_n);
    cJSON_Delete(cfg);
    /* the tokenizer */
    ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
    bm->lowercase = 1;
    if (rc == 0 && ofa_file_exists(tpath)) {
        cJSON *tc = NULL;
        rc = read_json(tpath, &tc);
        if (rc == 0) {
            const cJSON *lc = cJSON_GetObjectItemCaseSensitive(tc, "do_lower_case"),
                        *sa = cJSON_GetObjectItemCaseSensitive(tc, "strip_accents");
            if (lc && !cJSON_IsBool(lc)) rc = OFA_ERR(OFA_E_FORMAT, "%s: do_lower_case must be true or false", tpath);
            else if (lc) bm->lowercase = cJSON_IsTrue(lc);
            /* ofa's WordPiece strips accents exactly when it lowercases: Hugging Face's with
             * strip_accents unset (null) */
            if (rc == 0 && sa && !cJSON_IsNull(sa) && (!cJSON_IsBool(sa) || cJSON_IsTrue(sa) != bm->lowercase))
                rc = OFA_ERR(OFA_E_FORMAT, "%s: strip_accents is %s with do_lower_case %s; ofa's tokenizer strips "
                             "accents exactly when it lowercases (strip_accents null)", tpath,
                             cJSON_IsTrue(sa) ? "true" : cJSON_IsFalse(sa) ? "false" : "not true, false or null",
                             bm->lowercase ? "true" : "false");
            cJSON_Delete(tc);
        }
    }
    if (rc == 0 && !ofa_file_exists(vpath))
        rc = OFA_ERR(OFA_E_IO, "%s: no vocab.txt (the WordPiece vocabulary, one token a line)", dir);
    if (rc == 0) rc = ofa_vocab_load(&bm->vocab, vpath);
    bm->has_vocab = rc == 0;
    if (rc == 0 && bm->vocab.n != d.V)
        rc = OFA_ERR(OFA_E_FORMAT, "%s has %d tokens; config.json says vocab_size %d", vpath, (int)bm->vocab.n, d.V);
    if (rc == 0) rc = ofa_bert_create(&bm->m, &d);
    const int created = rc == 0;
    int fresh_pooler = 0;
    if (rc == 0) { /* fresh weights for what the folder lacks (pooler, classifier), then the file's */
        ofa_rng r;
        ofa_rng_keyed(&r, seed, 0, 0);
        ofa_bert_init_weights(&bm->m, &r, 0.02);
        h.used = ofa_xcalloc((size_t)(h.st.n ? h.st.n : 1), 1);
        rc = load_tensors(&h, &bm->m, head, &fresh_pooler);
        char extra[1024] = "";
        const int n_extra = rc == 0 ? leftovers(&h, extra, sizeof extra, note, note_n) : 0;
        if (rc == 0) rc = misfits(&h, extra, n_extra);
    }
    if (rc == 0 && head == HEAD_CLASSIFIER) permute_rows(&bm->m, to);
    if (rc == 0 && head != HEAD_CLASSIFIER) {
        size_t k = strlen(note);
        snprintf(note + k, note_n - k, "%sa fresh classifier for %s (%d output%s)%s", k ? "; " : "", ti->name,
                 ti->num_labels, ti->num_labels == 1 ? "" : "s", fresh_pooler ? " and a fresh pooler" : "");
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
