#include "models/bert/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/glue.h"
#include "datasets/taskdata.h"

ofa_bert_model *ofa_bert_of(const ofa_model *m)
{
    OFA_ASSERT(m->family == OFA_FAMILY_BERT && m->net);
    return m->net;
}

void ofa_bert_model_wrap(ofa_model *m, ofa_bert_model *bm)
{
    memset(m, 0, sizeof *m);
    m->family = OFA_FAMILY_BERT;
    m->net = bm;
    m->p = &bm->m.p;
}

void ofa_arch_from_bert(ofa_arch *a, const ofa_bert_arch *b)
{
    memset(a, 0, sizeof *a);
    a->family = OFA_FAMILY_BERT;
    a->u.bert = *b;
}

void ofa_space_from_bert(ofa_space *s, const ofa_bert_space *b)
{
    memset(s, 0, sizeof *s);
    s->family = OFA_FAMILY_BERT;
    s->u.bert = *b;
}

const ofa_encoded *ofa_bert_data_encoded(const ofa_data *d) { return &d->e; }

ofa_data *ofa_bert_data_wrap(ofa_encoded *e, int task, int has_labels)
{
    ofa_data *d = ofa_xcalloc(1, sizeof *d);
    d->e = *e;
    memset(e, 0, sizeof *e);
    d->task = task;
    d->has_labels = has_labels;
    d->batch = OFA_BERT_SCORE_BATCH;
    return d;
}


void ofa_bert_data_free(ofa_data *d)
{
    if (!d) return;
    ofa_encoded_free(&d->e);
    free(d);
}

int ofa_bert_data_open(ofa_data **out, const ofa_config *c, const ofa_model *m, int split, int64_t limit)
{
    const ofa_bert_model *bm = ofa_bert_of(m);
    *out = NULL;
    if (!bm->has_vocab) return OFA_ERR(OFA_E_FORMAT, "the model has no tokenizer (/tokenizer/vocab) to encode text with");
    int task = ofa_task_from_name(bm->task);
    if (task < 0) return OFA_ERR(OFA_E_FORMAT, "unknown task '%s'", bm->task);
    /* data.task may name another task of the same data and labels (mnli-mm for an mnli model) */
    int ct = c->data.task[0] ? ofa_task_from_name(c->data.task) : task;
    if (ct >= 0 && ct != task) {
        const ofa_task_info *a = ofa_task_get(task), *b = ofa_task_get(ct);
        if (a->num_labels != b->num_labels || strcmp(a->dir, b->dir) != 0)
            return OFA_ERR(OFA_E_CONFIG, "%s: data.task is %s but the model was trained on %s (only a task with the same "
                                         "data and labels, mnli <-> mnli-mm, can stand in for another)",
                           c->source, b->name, a->name);
        task = ct;
    }
    int msl = bm->max_seq_len > 0 ? bm->max_seq_len : c->data.max_seq_len;
    if (msl > bm->m.d.P) msl = bm->m.d.P;
    ofa_data *d = ofa_xcalloc(1, sizeof *d);
    d->task = task;
    d->has_labels = split != OFA_SPLIT_TEST;
    d->batch = OFA_BERT_SCORE_BATCH;
    int rc = 0;
    if (split == OFA_SPLIT_TEST) {
        rc = ofa_taskdata_encode(&d->e, c->data.glue_dir, task, "test", &bm->vocab, bm->lowercase, msl,
                                 c->data.skip_bad_rows, limit);
        if (rc == 0) snprintf(d->what, sizeof d->what, "test: %lld rows", (long long)d->e.n);
    } else {
        /* the whole file, then the rows of the split (datasets/taskdata: the same seeded parts for
         * every stage and command), then the first `limit` of them */
        const int on_dev = ofa_taskdata_val_on_dev(c, task);
        const int dev_file = split == OFA_SPLIT_DEV || (split == OFA_SPLIT_VAL && on_dev);
        ofa_encoded all;
        rc = ofa_taskdata_encode(&all, c->data.glue_dir, task, dev_file ? "dev" : "train", &bm->vocab, bm->lowercase,
                                 msl, c->data.skip_bad_rows, dev_file ? 0 : c->data.train_limit);
        if (rc == 0) {
            int64_t *idx, n;
            ofa_taskdata_rows(c, on_dev, dev_file, split == OFA_SPLIT_VAL, all.n, &idx, &n);
            const int64_t part = n;
            if (limit > 0 && n > limit) n = limit;
            ofa_encoded_subset(&d->e, &all, idx, n);
            free(idx);
            char file[64], first[64] = "";
            const char *slash;
            ofa_glue_path(file, sizeof file, "", task, dev_file ? "dev" : "train");
            slash = strrchr(file, '/');
            if (n < part) snprintf(first, sizeof first, "the first %lld of ", (long long)n);
            if (split == OFA_SPLIT_TRAIN)
                snprintf(d->what, sizeof d->what, "%s: %s%lld of %lld rows%s", slash + 1, first, (long long)part,
                         (long long)all.n, on_dev ? " (the search validates on dev)" : " (the rest validates the search)");
            else if (split == OFA_SPLIT_VAL)
                snprintf(d->what, sizeof d->what, "%s: %s%lld of %lld rows held out of training (%s)", slash + 1,
                         first, (long long)part, (long long)all.n,
                         on_dev ? "the search's seeded half" : "search.val_fraction");
            else
                snprintf(d->what, sizeof d->what, "%s: %s%lld of %lld rows%s", slash + 1, first, (long long)part,
                         (long long)all.n, on_dev ? " (the reporting half: the search validates on the other)" : "");
            ofa_encoded_free(&all);
        }
    }
    if (rc < 0) {
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}
