/* models/bert/file: the BERT family's part of a model file (the family ops model_read, model_write,
 * model_free; docs/checkpoint-format.md): the shape attributes (layers, hidden, heads, ffn,
 * vocab_size, max_position, num_outputs, head_dim; type_vocab_size and layer_norm_eps when not 2
 * and 1e-12), /weights/<name> at each layer's stored widths, /tokenizer/vocab with lowercase and
 * max_seq_len, the root attribute task.  Also ofa_bert_open, for the family's own stages (model.init:
 * a teacher that starts from a file), which may not use the generic models/checkpoint above them.
 * Not collective. */
#ifndef OFA_MODELS_BERT_FILE_H
#define OFA_MODELS_BERT_FILE_H

#include "core/h5io.h"
#include "models/family.h"

int ofa_bert_file_read(ofa_model *m, ofa_h5 *h, const char *path);
int ofa_bert_file_write(const ofa_model *m, ofa_h5 *h);
void ofa_bert_file_free(ofa_model *m);
/* An ofa checkpoint of a BERT model (root attributes format "ofa-checkpoint", model "bert"; kind
 * teacher or subnet) read into m: OFA_E_IO when missing, OFA_E_FORMAT naming the file otherwise.
 * Free with ofa_bert_file_free. */
int ofa_bert_open(const char *path, ofa_model *m);

#endif
