#include "models/bert/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

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
