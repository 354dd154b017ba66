/* models/bert/import: a Hugging Face BERT folder as a model of the family (the family op
 * model_import, which `ofa import` calls: cli/import).
 *
 * The folder: config.json (parsed with cJSON), vocab.txt, tokenizer_config.json if present
 * (do_lower_case, default true), model.safetensors (core/safetensors: F32, F16, BF16 -> float32).
 * A pytorch_model.bin without model.safetensors is refused with the command that converts it
 * (tools/hf_to_safetensors.py, torch).  config.json must say model_type "bert", hidden_act "gelu"
 * (GELU(erf), ofa's), position_embedding_type "absolute" when given; hidden_size,
 * num_hidden_layers, num_attention_heads, intermediate_size, vocab_size, max_position_embeddings
 * give the shape; type_vocab_size (default 2) and layer_norm_eps (default 1e-12) are kept in the
 * model (ofa_bert_dims T, eps) and its file.
 *
 * Tensors (with or without the `bert.` prefix of the task models; LayerNorm `weight`/`bias` or the
 * old `gamma`/`beta`): embeddings.{word,position,token_type}_embeddings.weight,
 * embeddings.LayerNorm, encoder.layer.<i>.attention.self.{query,key,value}, .attention.output.dense,
 * .attention.output.LayerNorm, .intermediate.dense, .output.dense, .output.LayerNorm, pooler.dense,
 * classifier (BertForSequenceClassification only).  Linear weights keep PyTorch's [out, in], ofa's
 * layout.  architectures[0] says which head the folder has: BertForSequenceClassification keeps its
 * classifier, whose num_labels must be the task's outputs (or an error naming both), its rows put
 * in the task's label order when config.json's id2label names the task's labels (a note says so;
 * another note when the names are not the task's); BertModel, BertForMaskedLM, BertForPreTraining
 * get a fresh classifier N(0, 0.02) from the seed (BertForMaskedLM's pooler is the file's when it
 * has one, as bert-base-uncased's does, else fresh), and their heads (cls.*) are ignored, with a
 * note.  Buffers (embeddings.position_ids) are skipped.  Every missing tensor, every tensor left
 * over, every mis-shaped one and every one holding NaN or infinity is named in one error
 * (OFA_E_FORMAT), as is a vocab.txt whose size is not vocab_size.  A pair task needs
 * type_vocab_size >= 2; tokenizer_config.json's strip_accents must be null or equal do_lower_case
 * (ofa strips accents exactly when it lowercases).  Not collective. */
#ifndef OFA_MODELS_BERT_IMPORT_H
#define OFA_MODELS_BERT_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "models/family.h"

/* m: the model (a teacher's shape and weights, tokenizer included); c: the config that describes
 * it (defaults, model.* of its shape, data.task, data.lowercase, data.max_seq_len = min(128,
 * positions)); task: a GLUE task name ("" = sst-2); seed: the fresh classifier's; note: what was
 * ignored or made fresh, for the log ("" when nothing). */
int ofa_bert_import(ofa_model *m, ofa_config *c, const char *dir, const char *task, uint64_t seed, char *note,
                    size_t n);

#endif
