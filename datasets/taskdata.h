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
/* Whether the search's validation rows come from dev: search.val_source, where auto means dev for a
 * task whose training rows are not independent (ofa_task_info.dependent_rows) and train otherwise. */
int ofa_taskdata_val_on_dev(const ofa_config *c, int task);
/* The share of dev.tsv that validates the search when it validates on dev (the rest reports dev
 * figures): a seeded half, ofa_holdout_split of all of dev.tsv's rows with experiment.seed. */
#define OFA_VAL_DEV_FRACTION 0.5
/* The rows of a split's file (n_file rows: train.tsv after data.train_limit, or all of dev.tsv) that
 * make one part of it, sorted ascending (malloc'd, *n of them):
 *   train.tsv, val_part 0: the training rows (all of them when the search validates on dev, else
 *              those ofa_holdout_split leaves after search.val_fraction); val_part 1: the held-out rows
 *              (none when the search validates on dev);
 *   dev.tsv,   val_part 0: the rows dev figures are reported on (all of them, or the half the search
 *              does not validate on); val_part 1: the search's half (none unless it validates on dev).
 * Both splits are seeded by experiment.seed, so every stage and command draws the same rows. */
void ofa_taskdata_rows(const ofa_config *c, int on_dev, int dev_file, int val_part, int64_t n_file, int64_t **idx,
                       int64_t *n);
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
