/* models/bert/score: runs a BERT (sub)net over an encoded split and computes the GLUE metrics.
 * Examples are batched in order of length (less padding) and results put back in split order. */
#ifndef OFA_MODELS_BERT_SCORE_H
#define OFA_MODELS_BERT_SCORE_H

#include "datasets/encode.h"
#include "datasets/glue.h"
#include "models/bert/infer.h"

typedef struct ofa_scores {
    int64_t n;
    int C;
    float *pred;   /* [n] class id or regression value */
    float *logits; /* [n, C] */
    ofa_metrics metrics; /* valid when the split has labels */
    double seconds;
} ofa_scores;

/* ws must hold batches of `batch` x e->max_len.  arch NULL = full model. */
int ofa_score_bert(const ofa_bert *m, ofa_bert_infer_ws *ws, const ofa_encoded *e, int task, int batch,
                   const ofa_bert_arch *arch, int has_labels, ofa_scores *out);
void ofa_scores_free(ofa_scores *s);

#endif
