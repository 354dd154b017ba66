/* models/bert/train: the BERT family's supernet-training ops (models/family.h distill_*): a frozen
 * teacher's forward per micro-batch, then each subnet's forward with dropout, the distillation loss
 * of models/bert/distill and the backward into the student's gradients.  Not collective. */
#ifndef OFA_MODELS_BERT_TRAIN_H
#define OFA_MODELS_BERT_TRAIN_H

#include "datasets/encode.h"
#include "models/family.h"

int ofa_bert_distill_create(ofa_distiller **d, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                            const ofa_data *train);
void ofa_bert_distill_batch(ofa_distiller *d, const int64_t *idx, int n);
double ofa_bert_distill_subnet(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens);
void ofa_bert_distill_free(ofa_distiller *d);

/* the encoded examples of a BERT data split */
const ofa_encoded *ofa_bert_data_encoded(const ofa_data *d);

#endif
