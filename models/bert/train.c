/* The BERT family's supernet-training ops (models/family.h distill_*): the distillation of
 * models/bert/distill on micro-batches of GLUE examples. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "datasets/encode.h"
#include "datasets/taskdata.h"
#include "models/bert/distill.h"
#include "models/bert/family.h"
#include "models/bert/train.h"

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
    ofa_bert_acts_create(&d->ta, dm, B, T);
    ofa_bert_acts_create(&d->sa, dm, B, T);
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
