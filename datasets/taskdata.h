/* datasets/taskdata: from a config to tokenized GLUE splits: the task, the vocabulary (loaded from
 * data.vocab_file or built from the training text) and encoded train/dev/test splits. */
#ifndef OFA_DATASETS_TASKDATA_H
#define OFA_DATASETS_TASKDATA_H

#include "core/config.h"
#include "core/rng.h"
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

/* The held-out validation part of a training split (search.val_fraction, fixed by seed): a seeded
 * permutation of 0..n-1 whose last round(frac * n) indices form `val` and the rest `train` (both
 * sorted ascending, malloc'd).  frac == 0 gives an empty val. */
void ofa_holdout_split(int64_t n, double frac, uint64_t seed, int64_t **train, int64_t *n_train, int64_t **val,
                       int64_t *n_val);
/* dst = the examples idx[0..n) of src (deep copy). */
void ofa_encoded_subset(ofa_encoded *dst, const ofa_encoded *src, const int64_t *idx, int64_t n);

/* The example order of one training epoch: a random permutation from rng, cut into windows of
 * OFA_BUCKET_BATCHES batches of B whose examples are sorted by length (so a batch pads to a length
 * close to its examples'), then the whole batches shuffled again (a last short batch stays last).
 * Same randomness as a plain shuffle, far less padding.  order: [e->n]. */
#define OFA_BUCKET_BATCHES 50
/* qsort_r comparator of example indices (int64_t) of the ofa_encoded passed as ctx: shorter first,
 * ties by index. */
int ofa_encoded_len_cmp(const void *x, const void *y, void *ctx);
void ofa_epoch_order(const ofa_encoded *e, int64_t *order, int B, ofa_rng *rng);

#endif
