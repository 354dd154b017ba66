/* models/bert/model: the BERT family's values behind the interface's opaque ones: the model
 * (ofa_model.net is an ofa_bert_model), its data splits (struct ofa_data), and the conversions
 * between ofa_arch / ofa_space and their BERT payloads.  Used by the family's files; the stages
 * never see it.  No state; not collective. */
#ifndef OFA_MODELS_BERT_MODEL_H
#define OFA_MODELS_BERT_MODEL_H

#include "datasets/encode.h"
#include "datasets/wordpiece.h"
#include "models/bert/bert.h"
#include "models/family.h"

#define OFA_BERT_SCORE_BATCH 64 /* examples per scoring batch unless set */

typedef struct ofa_bert_model {
    ofa_bert m;
    ofa_vocab vocab;
    int has_vocab;
    char task[16];              /* the `task` attribute of its file */
    int lowercase, max_seq_len; /* the tokenizer's settings */
} ofa_bert_model;

/* a data split of the family: GLUE examples encoded with the model's vocabulary */
struct ofa_data {
    ofa_encoded e;
    int task, has_labels, batch;
    char what[192]; /* which rows, in words (data_describe) */
};

/* The BERT model inside a model of the BERT family (asserts the family). */
ofa_bert_model *ofa_bert_of(const ofa_model *m);
/* Wraps an existing BERT (and its vocabulary, may be NULL) as a model of the family without
 * copying: *bm must outlive m; m is not to be freed with ofa_model_free. */
void ofa_bert_model_wrap(ofa_model *m, ofa_bert_model *bm);
/* Tags a BERT arch / space as the family's. */
void ofa_arch_from_bert(ofa_arch *a, const ofa_bert_arch *b);
void ofa_space_from_bert(ofa_space *s, const ofa_bert_space *b);

/* the encoded examples of a split; a split made of e (moved into it); freeing one */
const ofa_encoded *ofa_bert_data_encoded(const ofa_data *d);
ofa_data *ofa_bert_data_wrap(ofa_encoded *e, int task, int has_labels);
void ofa_bert_data_free(ofa_data *d);
/* The family's data_open (models/family.h): split of the model's task, encoded with its vocabulary;
 * the rows of each split from datasets/taskdata (ofa_taskdata_rows), then the first `limit`. */
int ofa_bert_data_open(ofa_data **out, const ofa_config *c, const ofa_model *m, int split, int64_t limit);

#endif
