/* datasets/taskdata: from a config to tokenized GLUE splits: the task, the vocabulary (loaded from
 * data.vocab_file or built from the training text) and encoded train/dev/test splits. */
#ifndef OFA_DATASETS_TASKDATA_H
#define OFA_DATASETS_TASKDATA_H

#include "core/config.h"
#include "datasets/encode.h"
#include "datasets/glue.h"
#include "datasets/wordpiece.h"

/* The task of data.task, or OFA_E_CONFIG naming the key and the accepted names. */
int ofa_taskdata_task(const ofa_config *c);
/* Loads and encodes one split ("train", "dev", "test") with limit (0 = all). */
int ofa_taskdata_encode(ofa_encoded *e, const char *glue_dir, int task, const char *split, const ofa_vocab *v,
                        int lowercase, int max_seq_len, int skip_bad, int64_t limit);
/* data.vocab_file when set, else a WordPiece vocabulary of data.vocab_size built from `train`. */
int ofa_taskdata_vocab(ofa_vocab *v, const ofa_config *c, const ofa_glue_split *train);

#endif
