/* models/bert/importance: head and neuron importance of a BERT and the reorder that applies it
 * (DynaBERT / PaddleSlim OFA; the stage is trainers/reorder).
 *
 * On dev batches taken in fixed order, with the gradients of one batch only (zeroed in between),
 * no dropout and the task loss averaged over the batch:
 *   head importance   [L, A] += |d loss / d m[l,h]|   (m = head multipliers of ones on the
 *                                                      attention probabilities, ofa_bert_acts.head_mult)
 *   neuron importance [L, F] += |sum_i W1[j,i] dW1[j,i] + b1[j] db1[j]| + |sum_k W2[k,j] dW2[k,j]|
 * accumulated in double.  The orders are stable descending argsorts (ties: lower index first).
 * ofa_reorder_apply then permutes every layer so the most important head / neuron comes first:
 * blocks of D rows of Wq/Wk/Wv (+ biases) and of D columns of Wo, rows of W1 and b1, columns of W2
 * (in the weights and in AdamW's m and v and the gradient buffer alike).  The full model computes
 * the same function (up to float summation order), and a subnet's leading slices keep the most
 * important heads and neurons.
 * A model with fewer stored heads/neurons in a layer (an exported subnet) has entries past
 * m->heads[l] / m->ffn[l] at importance 0 and in identity order.
 *
 * HDF5: /importance/heads [L,A] f64, /importance/neurons [L,F] f64, /importance/permutation/heads
 * [L,A] i32 and /importance/permutation/neurons [L,F] i32: new position p holds old index order[p].
 */
#ifndef OFA_MODELS_BERT_IMPORTANCE_H
#define OFA_MODELS_BERT_IMPORTANCE_H

#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "datasets/encode.h"
#include "models/bert/bert.h"

typedef struct ofa_importance {
    int L, A, F;
    double *heads;          /* [L, A] */
    double *neurons;        /* [L, F] */
    int32_t *head_order;    /* [L, A]: new position p holds old head head_order[l*A + p] */
    int32_t *neuron_order;  /* [L, F] */
    int64_t batches, examples; /* what was accumulated */
} ofa_importance;

/* Zero importance and identity orders for m's shape (allocates). */
void ofa_importance_init(ofa_importance *imp, const ofa_bert *m);
void ofa_importance_free(ofa_importance *imp);

/* Adds one batch's importance (uses m->p.grad as scratch: zeroed first, left holding this batch's
 * gradients).  acts must hold b->B x b->T; its head_mult/dhead_mult are restored to NULL. */
void ofa_importance_add_batch(ofa_bert *m, ofa_bert_acts *acts, const ofa_batch *b, ofa_importance *imp);
/* Recomputes head_order / neuron_order from the scores: stable descending argsort per layer. */
void ofa_importance_sort(ofa_importance *imp);
/* Stable descending argsort of n doubles (exposed for tests). */
void ofa_argsort_desc(const double *x, int n, int32_t *order);

/* The importance of explicit batches (ids/types/lens/labels/targets filled, e.g. by a golden test):
 * init + add_batch for each + sort.  0, or OFA_E_RUNTIME when n < 1. */
int ofa_importance_from_batches(ofa_bert *m, const ofa_batch *batches, int n, ofa_importance *imp);
/* Over `dev` in fixed order: batches of `batch` consecutive examples, the first max_batches of
 * them (0 = all).  0, or OFA_E_DATA when dev is empty. */
int ofa_importance_compute(ofa_bert *m, const ofa_encoded *dev, int batch, int64_t max_batches,
                           ofa_importance *imp);

/* Permutes m's heads and FFN neurons by imp's orders (see above). */
void ofa_reorder_apply(ofa_bert *m, const ofa_importance *imp);

/* Writes / reads the /importance group (read allocates imp; OFA_E_FORMAT on bad shapes). */
int ofa_importance_write(ofa_h5 *h, const ofa_importance *imp);
int ofa_importance_read(ofa_h5 *h, ofa_importance *imp);



#endif
