/* The BERT family's supernet-training ops (models/family.h distill_*): the distillation of
 * models/bert/distill on micro-batches of GLUE examples. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "datasets/encode.h"
#include "datasets/taskdata.h"
#include "models/bert/distill.h"
#include "models/bert/importance.h"
#include "core/timer.h"
#include "models/bert/file.h"
#include "models/bert/model.h"
#include "models/bert/train.h"
#include "nn/loss.h"
#include "datasets/glue.h"
#include "core/log.h"
#include "nn/optim.h"
#include <math.h>
#include <stdio.h>
#include <unistd.h>

struct ofa_distiller {
    const ofa_bert *teacher;
    ofa_bert *student;
    int pad, C;
    double dropout;
    ofa_distill_cfg dc;
    const ofa_encoded *train;
    ofa_bert_acts ta, sa;
    float *dlogits, *dhidden[OFA_MAX_LAYERS + 1];
    ofa_batch batch;
};

void ofa_bert_distill_free(ofa_distiller *d)
{
    if (!d) return;
    ofa_bert_acts_free(&d->ta);
    ofa_bert_acts_free(&d->sa);
    free(d->dlogits);
    for (int i = 0; i <= OFA_MAX_LAYERS; i++) free(d->dhidden[i]);
    ofa_batch_free(&d->batch);
    free(d);
}

int ofa_bert_distill_create(ofa_distiller **out, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                          const ofa_data *train)
{
    const ofa_bert_model *tm = ofa_bert_of(teacher);
    ofa_distiller *d = ofa_xcalloc(1, sizeof *d);
    d->teacher = &tm->m;
    d->student = &ofa_bert_of(student)->m;
    d->pad = tm->has_vocab ? tm->vocab.pad : 0;
    d->C = tm->m.d.C;
    d->dropout = c->model.dropout;
    d->dc = (ofa_distill_cfg){c->supernet.lambda_logit, c->supernet.lambda_hidden, c->supernet.lambda_hard,
                              c->supernet.temperature};
    d->train = ofa_bert_data_encoded(train);
    const int B = c->supernet.batch_size, T = tm->max_seq_len;
    const ofa_bert_dims *dm = &tm->m.d;
    /* the two arenas are the big allocations: sized up front, an error naming the keys that size them
     * (the teacher only runs forwards: its arena keeps each block's output and one layer's work) */
    int rc = ofa_bert_acts_try_create_forward(&d->ta, dm, B, T);
    if (rc == 0) rc = ofa_bert_acts_try_create(&d->sa, dm, B, T);
    if (rc < 0) {
        ofa_bert_acts_free(&d->ta);
        free(d);
        return ofa_err_prefix(rc, "supernet: the teacher's forward and the student's activations (lower "
                                  "supernet.batch_size or data.max_seq_len, or the model's size)");
    }
    d->dlogits = ofa_xmalloc((size_t)B * d->C * sizeof(float));
    for (int j = 0; j <= dm->L; j++) d->dhidden[j] = ofa_xalloc_aligned((size_t)B * T * dm->H * sizeof(float));
    ofa_batch_init(&d->batch);
    *out = d;
    return 0;
}

void ofa_bert_distill_batch(ofa_distiller *d, const int64_t *idx, int n)
{
    ofa_batch_make(&d->batch, d->train, idx, n, d->pad);
    const ofa_batch *b = &d->batch;
    ofa_bert_forward(d->teacher, &d->ta, b->ids, b->types, b->lens, b->B, b->T, NULL, 0, 0.0, NULL);
}

double ofa_bert_distill_subnet(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens)
{
    const ofa_batch *b = &d->batch;
    ofa_bert_forward(d->student, &d->sa, b->ids, b->types, b->lens, b->B, b->T, &a->u.bert, 1, d->dropout, dropout);
    const int hid = d->dc.lambda_hidden != 0;
    double loss = ofa_distill_loss(&d->dc, &d->sa, &d->ta, d->C, b->labels, b->targets, d->dlogits,
                                   hid ? d->dhidden : NULL, NULL);
    ofa_bert_backward(d->student, &d->sa, d->dlogits, hid ? (const float *const *)d->dhidden : NULL);
    *tokens = (double)b->B * b->T;
    return loss;
}

/* ---- the teacher stage ---- */

struct ofa_teacher_job {
    const ofa_config *c;
    ofa_bert_model *bm;
    const ofa_encoded *train;
    int C;
    ofa_bert_acts acts;
    float *dlogits;
    ofa_batch batch;
};

/* model.init's file, which must have the config's shape (model.*: every mismatch in one error), one
 * output per the task's label, a vocabulary (data.vocab_file may not name another), the config's
 * lowercasing and, for a pair task, two token types; another task's classifier is kept with a
 * warning */
static int open_init(const ofa_config *c, const ofa_task_info *info, ofa_model *out)
{
    const char *path = c->model.init;
    char teacher[OFA_PATH_MAX + 64];
    ofa_run_path(teacher, sizeof teacher, c, OFA_RUN_TEACHER);
    OFA_TRY(ofa_config_model_init_check(c));
    OFA_TRY(ofa_refuse_output_is_input("the teacher's output", teacher, path));
    OFA_TRY(ofa_bert_open(path, out));
    const ofa_bert_model *bm = ofa_bert_of(out);
    const ofa_bert_dims *d = &bm->m.d;
    const int hd = c->model.head_dim ? c->model.head_dim : c->model.hidden / c->model.heads;
    const struct { const char *key; int config, file; } k[] = {
        {"model.layers", c->model.layers, d->L},    {"model.hidden", c->model.hidden, d->H},
        {"model.heads", c->model.heads, d->A},      {"model.ffn", c->model.ffn, d->F},
        {"model.max_position", c->model.max_position, d->P}, {"model.head_dim", hd, d->D}};
    char diff[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof k / sizeof *k; i++)
        if (k[i].config != k[i].file && used < sizeof diff)
            used += (size_t)snprintf(diff + used, sizeof diff - used, "%s%s is %d%s, the file's %d", used ? "; " : "",
                                     k[i].key, k[i].config,
                                     i == 5 && !c->model.head_dim ? " (0: hidden / heads)" : "", k[i].file);
    int rc = 0;
    if (used)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: model.* must be the shape of model.init's %s: %s", c->source, path, diff);
    for (int l = 0; l < d->L && rc == 0; l++)
        if (bm->m.heads[l] != d->A || bm->m.ffn[l] != d->F)
            rc = OFA_ERR(OFA_E_CONFIG, "%s (model.init): layer %d has %d heads and ffn %d, not the %d and %d of its "
                         "other layers or its dims (a teacher has the same heads and FFN width in every layer)", path, l,
                         bm->m.heads[l], bm->m.ffn[l], d->A, d->F);
    if (rc == 0 && d->C != info->num_labels)
        rc = OFA_ERR(OFA_E_CONFIG, "%s (model.init) has %d output%s; task %s (data.task) needs %d", path, d->C,
                     d->C == 1 ? "" : "s", info->name, info->num_labels);
    if (rc == 0 && info->pair && ofa_bert_types(d) < 2)
        rc = OFA_ERR(OFA_E_CONFIG, "%s (model.init) has one token type; task %s (data.task) takes sentence pairs, "
                     "whose second sentence has token type 1", path, info->name);
    if (rc == 0 && !bm->has_vocab)
        rc = OFA_ERR(OFA_E_FORMAT, "%s (model.init) has no /tokenizer/vocab; the teacher needs its vocabulary", path);
    if (rc == 0 && c->data.vocab_file[0])
        rc = OFA_ERR(OFA_E_CONFIG, "%s: data.vocab_file is %s, but the vocabulary is model.init's (%s, %d tokens): "
                     "unset data.vocab_file", c->source, c->data.vocab_file, path, (int)bm->vocab.n);
    if (rc == 0 && !c->data.lowercase != !bm->lowercase)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: data.lowercase is %s, but model.init's tokenizer (%s) %s: set data.lowercase: "
                     "%s", c->source, c->data.lowercase ? "true" : "false", path,
                     bm->lowercase ? "lowercases" : "is cased", bm->lowercase ? "true" : "false");
    if (rc == 0 && strcmp(bm->task, info->name))
        OFA_WARN("teacher: model.init's %s was made for task %s; its classifier (%d output%s) starts the %s teacher",
                 path, bm->task, d->C, d->C == 1 ? "" : "s", info->name);
    if (rc < 0) ofa_bert_file_free(out);
    return rc;
}

int ofa_bert_teacher_create(ofa_teacher_job **out, int kind, const ofa_config *c, ofa_model *m,
                            ofa_data **train_out, ofa_data **dev_out)
{
    if (kind != OFA_TRAIN_TEACHER)
        return OFA_ERR(OFA_E_USAGE, "the bert family has no student or prune stage (its plan is teacher -> reorder -> "
                                    "supernet -> search)");
    if (c->student.init[0])
        return OFA_ERR(OFA_E_CONFIG, "%s: student.init is for the cyclegan family's student stage; a BERT teacher "
                       "starts from a file with model.init", c->source);
    int task;
    OFA_TRY(task = ofa_taskdata_task(c));
    const ofa_task_info *info = ofa_task_get(task);
    ofa_bert_model *bm = ofa_xcalloc(1, sizeof *bm);
    ofa_encoded train;
    memset(&train, 0, sizeof train);
    const int on_dev = ofa_taskdata_val_on_dev(c, task);
    int64_t n_file = 0;
    ofa_model init = {0}; /* model.init: the model the teacher starts from (its vocabulary too) */
    if (c->model.init[0]) {
        int irc = open_init(c, info, &init);
        if (irc < 0) {
            free(bm);
            return irc;
        }
    }
    ofa_glue_split split;
    int rc = ofa_glue_load(&split, c->data.glue_dir, task, "train", c->data.skip_bad_rows, c->data.train_limit);
    if (rc == 0) {
        if (split.skipped) OFA_WARN("%s: skipped %lld malformed rows", split.path, (long long)split.skipped);
        /* the training rows only: rows the search validates on are not trained on, nor do their words
         * go into the vocabulary */
        int64_t *idx, n;
        ofa_taskdata_rows(c, on_dev, 0, 0, split.n, &idx, &n);
        ofa_glue_split part = split;
        part.ex = ofa_xmalloc((size_t)(n + 1) * sizeof *part.ex);
        for (int64_t i = 0; i < n; i++) part.ex[i] = split.ex[idx[i]];
        part.n = n;
        n_file = split.n;
        free(idx);
        if (init.net) {
            const ofa_vocab *iv = &ofa_bert_of(&init)->vocab;
            rc = ofa_vocab_from_strings(&bm->vocab, (const char *const *)iv->tok, iv->n);
        } else {
            rc = ofa_taskdata_vocab(&bm->vocab, c, &part);
        }
        bm->has_vocab = rc == 0;
        if (rc == 0) rc = ofa_encode_split(&train, &part, &bm->vocab, c->data.lowercase, c->data.max_seq_len);
        free(part.ex); /* the examples are split's */
        ofa_glue_free(&split);
    }
    if (rc == 0 && train.n == 0) rc = OFA_ERR(OFA_E_DATA, "%s: the training split is empty", c->data.glue_dir);
    if (rc == 0 && c->data.max_seq_len > c->model.max_position)
        rc = OFA_ERR(OFA_E_CONFIG, "%s: data.max_seq_len (%d) exceeds model.max_position (%d)", c->source,
                     c->data.max_seq_len, c->model.max_position);
    ofa_bert_dims d = {bm->vocab.n, c->model.max_position, c->model.hidden, c->model.heads,
                       c->model.ffn, c->model.layers, info->num_labels, c->model.head_dim, 0, 0};
    if (init.net) d = ofa_bert_of(&init)->m.d; /* its token types and LayerNorm eps too */
    if (rc == 0) rc = ofa_bert_create(&bm->m, &d);
    if (rc < 0 && init.net) ofa_bert_file_free(&init);
    if (rc < 0) {
        ofa_encoded_free(&train);
        if (bm->has_vocab) ofa_vocab_free(&bm->vocab);
        free(bm);
        return rc;
    }
    ofa_rng init_rng;
    ofa_rng_keyed(&init_rng, (uint64_t)c->experiment.seed, 0, 0);
    ofa_bert_init_weights(&bm->m, &init_rng, c->model.init_std);
    if (init.net) {
        const ofa_bert *ib = &ofa_bert_of(&init)->m;
        OFA_ASSERT(ib->p.total == bm->m.p.total);
        memcpy(bm->m.p.data, ib->p.data, ib->p.total * sizeof(float));
        ofa_bert_file_free(&init);
        OFA_INFO("teacher: starts from %s (model.init), its weights and vocabulary", c->model.init);
    }
    snprintf(bm->task, sizeof bm->task, "%s", info->name);
    bm->lowercase = c->data.lowercase;
    bm->max_seq_len = c->data.max_seq_len;
    ofa_bert_model_wrap(m, bm);
    /* dev: the rows dev figures are reported on (the family's own data_open, as every later stage) */
    ofa_data *dev = NULL;
    rc = ofa_bert_data_open(&dev, c, m, OFA_SPLIT_DEV, c->data.dev_limit);
    if (rc < 0) {
        ofa_encoded_free(&train);
        m->net = NULL;
        ofa_bert_free(&bm->m);
        ofa_vocab_free(&bm->vocab);
        free(bm);
        return rc;
    }
    if (dev->e.n == 0) {
        rc = OFA_ERR(OFA_E_DATA, "%s: no dev rows to evaluate the teacher on (%s)%s", c->data.glue_dir, dev->what,
                     on_dev ? "; half of dev validates the search (search.val_source): a dev file needs 2 rows" : "");
        ofa_bert_data_free(dev);
        ofa_encoded_free(&train);
        m->net = NULL;
        ofa_bert_free(&bm->m);
        ofa_vocab_free(&bm->vocab);
        free(bm);
        return rc;
    }
    OFA_INFO("task %s: %lld train rows (%lld of train.tsv%s), %lld dev rows (%s)", info->name, (long long)train.n,
             (long long)n_file, on_dev ? "; the search validates on a seeded half of dev" : "; the rest are the search's",
             (long long)dev->e.n, dev->what);
    OFA_INFO("teacher: %d layers, hidden %d, %d heads, ffn %d, vocab %d: %.2fM parameters", d.L, d.H, d.A, d.F, d.V,
             (double)bm->m.p.total / 1e6);
    const int bmax = c->teacher.batch_size > 64 ? c->teacher.batch_size : 64;
    *train_out = ofa_bert_data_wrap(&train, task, 1);
    snprintf((*train_out)->what, sizeof (*train_out)->what, "train: %lld training rows of %lld", (long long)(*train_out)->e.n,
             (long long)n_file);
    *dev_out = dev;
    (*dev_out)->batch = bmax;
    ofa_teacher_job *j = ofa_xcalloc(1, sizeof *j);
    j->c = c;
    j->bm = bm;
    j->train = ofa_bert_data_encoded(*train_out);
    j->C = d.C;
    /* the activation arena is the big allocation: sized up front, an error naming the keys that size it */
    int arc = ofa_bert_acts_try_create(&j->acts, &d, bmax, c->data.max_seq_len);
    if (arc < 0) {
        free(j);
        ofa_bert_data_free(*train_out);
        ofa_bert_data_free(*dev_out);
        *train_out = *dev_out = NULL;
        m->net = NULL;
        ofa_bert_free(&bm->m);
        ofa_vocab_free(&bm->vocab);
        free(bm);
        return ofa_err_prefix(arc, "teacher: lower data.max_seq_len (%d) or teacher.batch_size (%d; evaluation uses "
                                   "batches of at least 64), or model.layers/hidden/heads/ffn",
                              c->data.max_seq_len, c->teacher.batch_size);
    }
    j->dlogits = ofa_xmalloc((size_t)c->teacher.batch_size * d.C * sizeof(float));
    ofa_batch_init(&j->batch);
    *out = j;
    return 0;
}

void ofa_bert_teacher_fingerprint(const ofa_teacher_job *j, char *buf, size_t n)
{
    const ofa_bert_dims *d = &j->bm->m.d;
    snprintf(buf, n, "examples=%lld vocab=%d L=%d H=%d A=%d F=%d D=%d P=%d C=%d", (long long)j->train->n, d->V, d->L,
             d->H, d->A, d->F, d->D, d->P, d->C);
}

void ofa_bert_teacher_grads(ofa_teacher_job *j, const int64_t *idx, int n, int total, ofa_rng *dropout,
                            double *loss, double *terms, double *tokens)
{
    (void)terms;
    ofa_bert *m = &j->bm->m;
    ofa_params_zero_grad(&m->p);
    *loss = 0;
    *tokens = 0;
    if (n == 0) return;
    ofa_batch *b = &j->batch;
    ofa_batch_make(b, j->train, idx, n, j->bm->vocab.pad);
    const float *logits = ofa_bert_forward(m, &j->acts, b->ids, b->types, b->lens, n, b->T, NULL, 1,
                                           j->c->model.dropout, dropout);
    const double part = (double)n / (double)total; /* this part's share of the batch mean */
    *loss = part * ofa_task_loss(j->dlogits, logits, b->labels, b->targets, n, j->C);
    *tokens = (double)n * b->T;
    if (!isfinite(*loss)) return;
    if (n != total)
        for (int i = 0; i < n * j->C; i++) j->dlogits[i] = (float)(j->dlogits[i] * part);
    ofa_bert_backward(m, &j->acts, j->dlogits, NULL);
}

double ofa_bert_teacher_apply(ofa_teacher_job *j, double lr, ofa_adamw *opt)
{
    ofa_bert *m = &j->bm->m;
    double norm = ofa_grad_clip(&m->p, j->c->optim.grad_clip);
    ofa_adamw_step(opt, &m->p, lr);
    return norm;
}

void ofa_bert_teacher_free(ofa_teacher_job *j)
{
    if (!j) return;
    ofa_bert_acts_free(&j->acts);
    free(j->dlogits);
    ofa_batch_free(&j->batch);
    free(j);
}

/* ---- the reorder stage ---- */

int ofa_bert_reorder(ofa_model *mm, ofa_data *dev, const ofa_config *c, void **state)
{
    ofa_bert *m = &ofa_bert_of(mm)->m;
    ofa_importance *imp = ofa_xcalloc(1, sizeof *imp);
    if (c->reorder.enabled) {
        double t1 = ofa_now();
        int rc = ofa_importance_compute(m, ofa_bert_data_encoded(dev), c->teacher.batch_size, c->reorder.batches, imp);
        if (rc < 0) {
            free(imp);
            return rc;
        }
        OFA_INFO("reorder: importance over %lld batches (%lld examples) in %.1fs", (long long)imp->batches,
                 (long long)imp->examples, ofa_now() - t1);
        for (int l = 0; l < m->d.L; l++) {
            char line[256];
            int n = 0;
            for (int p = 0; p < m->heads[l] && n < (int)sizeof line - 16; p++)
                n += snprintf(line + n, sizeof line - (size_t)n, "%s%d", p ? "," : "",
                              imp->head_order[(size_t)l * imp->A + p]);
            OFA_INFO("reorder: layer %d head order %s", l, line);
        }
        ofa_reorder_apply(m, imp);
        ofa_params_zero_grad(&m->p);
    } else {
        ofa_importance_init(imp, m);
        OFA_INFO("reorder: disabled (reorder.enabled: false); copying the teacher unpermuted");
    }
    *state = imp;
    return 0;
}

int ofa_bert_reorder_write(const void *state, ofa_h5 *h) { return ofa_importance_write(h, state); }

void ofa_bert_reorder_free(void *state)
{
    if (!state) return;
    ofa_importance_free(state);
    free(state);
}
