/* models/bert/train: the BERT family's supernet-training ops (models/family.h distill_*): a frozen
 * teacher's forward per micro-batch, then each subnet's forward with dropout, the distillation loss
 * of models/bert/distill and the backward into the student's gradients; and the teacher stage's
 * step (task loss, AdamW).  Not collective. */
#ifndef OFA_MODELS_BERT_TRAIN_H
#define OFA_MODELS_BERT_TRAIN_H

#include "datasets/encode.h"
#include "models/family.h"

int ofa_bert_distill_create(ofa_distiller **d, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                            const ofa_data *train);
void ofa_bert_distill_batch(ofa_distiller *d, const int64_t *idx, int n);
double ofa_bert_distill_subnet(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens);
void ofa_bert_distill_free(ofa_distiller *d);

/* the teacher stage's ops (models/family.h teacher_*) */
int ofa_bert_teacher_create(ofa_teacher_job **j, int kind, const ofa_config *c, ofa_model *m, ofa_data **train,
                            ofa_data **dev);
void ofa_bert_teacher_fingerprint(const ofa_teacher_job *j, char *buf, size_t n);
void ofa_bert_teacher_grads(ofa_teacher_job *j, const int64_t *idx, int n, int total, ofa_rng *dropout,
                            double *loss, double *terms, double *tokens);
double ofa_bert_teacher_apply(ofa_teacher_job *j, double lr, ofa_adamw *opt);
void ofa_bert_teacher_free(ofa_teacher_job *j);

/* the reorder stage's ops (models/family.h reorder*): models/bert/importance */
int ofa_bert_reorder(ofa_model *m, ofa_data *dev, const ofa_config *c, void **state);
int ofa_bert_reorder_write(const void *state, ofa_h5 *h);
void ofa_bert_reorder_free(void *state);



#endif
