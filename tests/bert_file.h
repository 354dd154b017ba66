/* tests/bert_file: BERT checkpoints for the tests that build an ofa_bert and its vocabulary by hand
 * (and its vocabulary) directly; the file format is models/checkpoint's, the content the BERT family's.
 * Not collective. */
#ifndef OFA_TESTS_BERT_FILE_H
#define OFA_TESTS_BERT_FILE_H

#include "datasets/wordpiece.h"
#include "models/bert/bert.h"
#include "models/checkpoint.h"

/* Writes m (and vocab, may be NULL) with meta (its task, lowercase and max_seq_len go to the
 * file's task attribute and tokenizer); opt may be NULL.  extra as for ofa_ckpt_save_model. */
int ofa_ckpt_save_bert_ex(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                          const ofa_adamw *opt, int (*extra)(ofa_h5 *h, void *ctx), void *ctx);
int ofa_ckpt_save_bert(const char *path, const ofa_bert *m, const ofa_vocab *vocab, const ofa_ckpt_meta *meta,
                       const ofa_adamw *opt);
/* Loads a BERT checkpoint: creates *m from the stored shape and reads the weights; vocab may be
 * NULL; opt may be NULL (else AdamW state is read when present: returns 1 if it was).
 * OFA_E_FORMAT when the file holds another family's model. */
int ofa_ckpt_load_bert(const char *path, ofa_bert *m, ofa_vocab *vocab, ofa_ckpt_meta *meta, ofa_adamw *opt);

#endif
