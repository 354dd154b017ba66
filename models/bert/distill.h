/* models/bert/distill: the supernet's distillation loss for one subnet on one micro-batch.
 *
 * loss = lambda_logit * softCE(teacher logits, student logits; temperature tau)   [classification]
 *        (lambda_logit * MSE(student output, teacher output)                      [regression])
 *      + lambda_hidden * sum_j MSE(student hidden j, teacher hidden of the same index)
 *      + lambda_hard * task loss on the labels (CE or MSE)
 * Hidden j = 0 is the embedding output, j = i+1 the output of kept block i, compared with the
 * teacher's block kept[i] (DynaBERT's "same index" mapping); with a smaller hidden size e the
 * teacher's first e channels are used.  MSE means over every B*T*e element (padding included, as
 * torch.nn.functional.mse_loss does on the padded batch).
 */
#ifndef OFA_MODELS_BERT_DISTILL_H
#define OFA_MODELS_BERT_DISTILL_H

#include "models/bert/bert.h"

typedef struct ofa_distill_cfg {
    double lambda_logit, lambda_hidden, lambda_hard, temperature;
} ofa_distill_cfg;

typedef struct ofa_distill_parts {
    double logit, hidden, hard; /* unweighted: softCE (or MSE), sum of hidden MSEs, task loss */
    double total;               /* weighted sum */
} ofa_distill_parts;

/* s: the student's acts after ofa_bert_forward of a subnet; t: the full teacher's acts on the same
 * batch.  Writes dlogits [B, C] (overwritten) and dhidden[0..depth] ([B*T*e] each, overwritten;
 * entries may be NULL when lambda_hidden == 0).  Returns the total loss. */
double ofa_distill_loss(const ofa_distill_cfg *cfg, const ofa_bert_acts *s, const ofa_bert_acts *t, int C,
                        const int32_t *labels, const float *targets, float *dlogits, float *const *dhidden,
                        ofa_distill_parts *parts);

#endif
