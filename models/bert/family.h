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

#include "models/bert/model.h"
#include "models/family.h"

extern const ofa_family ofa_bert_family;

#endif
