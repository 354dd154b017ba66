/* models/bert/family: the BERT family behind the model-family interface (models/family.h).
 *
 * Its model (ofa_model.net) is an ofa_bert_model: the encoder with its parameters, the vocabulary
 * its file carries, the GLUE task and the tokenizer settings.  Its arch and space payloads are
 * ofa_bert_arch and ofa_bert_space (models/bert/arch.h); its data splits are GLUE rows tokenized by
 * the model's vocabulary; its score is the task's main GLUE metric; its latency ops are the
 * inference forward's (models/bert/infer.h) on the model's own weights.
 * This file only adapts: the work is in bert, infer, arch, score, export.
 */
#ifndef OFA_MODELS_BERT_FAMILY_H
#define OFA_MODELS_BERT_FAMILY_H

#include "datasets/wordpiece.h"
#include "models/bert/bert.h"
#include "models/family.h"

typedef struct ofa_bert_model {
    ofa_bert m;
    ofa_vocab vocab;
    int has_vocab;
    char task[16];              /* the `task` attribute of its file */
    int lowercase, max_seq_len; /* the tokenizer's settings */
} ofa_bert_model;

extern const ofa_family ofa_bert_family;

/* The BERT model inside a model of the BERT family (asserts the family). */
ofa_bert_model *ofa_bert_of(const ofa_model *m);
/* Wraps an existing BERT (and its vocabulary, may be NULL) as a model of the family without
 * copying: *bm must outlive m; m is not to be freed with ofa_model_free. */
void ofa_bert_model_wrap(ofa_model *m, ofa_bert_model *bm);
/* Tags a BERT arch / space as the family's. */
void ofa_arch_from_bert(ofa_arch *a, const ofa_bert_arch *b);
void ofa_space_from_bert(ofa_space *s, const ofa_bert_space *b);

#endif
