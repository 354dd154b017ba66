/* models/bert/bert: the BERT encoder classifier/regressor, every subnet of it, forward and backward.
 *
 * Post-LayerNorm BERT as in DESIGN.md (eps 1e-12, GELU(erf), attention scaled by 1/sqrt(H/A), tanh
 * pooler on [CLS]); tensor names are DESIGN.md's ("layer_00/attn/wq" ...).  The model owns its
 * parameters (one ofa_params buffer); an ofa_bert_acts owns the activations and the gradient
 * scratch for batches up to (Bmax, Tmax), allocated once.  A subnet (ofa_bert_arch) runs on leading
 * slices of the weights through leading dimensions: heads are the first a*D rows of Wq/Wk/Wv and
 * columns of Wo, FFN neurons the first f rows of W1 and columns of W2.  Gradients land in the same
 * slices of p.grad (zeros elsewhere).  An elastic hidden size e uses the first e columns of the
 * embeddings and of every matrix's input side, the first e rows of Wo/W2/pooler, the first e
 * LayerNorm channels; activations then have row stride e.  The head size stays H/A.
 *
 * Dropout (model.dropout) applies, when training, to the embedding output, the attention output,
 * the FFN output and the pooled vector (not to attention probabilities).
 */
#ifndef OFA_MODELS_BERT_BERT_H
#define OFA_MODELS_BERT_BERT_H

#include <stdint.h>

#include "core/rng.h"
#include "nn/params.h"
#include "models/bert/arch.h"

typedef struct ofa_bert_dims {
    int V, P, H, A, F, L; /* vocab, positions, hidden, heads, FFN, layers (A, F: the largest) */
    int C;                /* outputs: classes, or 1 for regression */
    int D;                /* head size; 0 = H / A */
} ofa_bert_dims;

static inline int ofa_bert_head_dim(const ofa_bert_dims *d) { return d->D > 0 ? d->D : d->H / d->A; }

#define OFA_BERT_LN_EPS 1e-12 /* every LayerNorm of the model (DESIGN.md) */

typedef struct ofa_bert_layer_idx {
    int wq, bq, wk, bk, wv, bv, wo, bo, ln1_g, ln1_b, w1, b1, w2, b2, ln2_g, ln2_b;
} ofa_bert_layer_idx;

typedef struct ofa_bert {
    ofa_bert_dims d;
    int heads[OFA_MAX_LAYERS], ffn[OFA_MAX_LAYERS]; /* stored heads / FFN width of each layer */
    ofa_params p;
    int word, pos, type, emb_g, emb_b, pool_w, pool_b, cls_w, cls_b; /* view indices */
    ofa_bert_layer_idx layer[OFA_MAX_LAYERS];
} ofa_bert;

/* Registers the named views and allocates the buffers (weights zero). 0 or OFA_E_CONFIG. */
int ofa_bert_create(ofa_bert *m, const ofa_bert_dims *d);
/* The same with per-layer stored heads and FFN widths (an exported subnet); NULL = d->A / d->F. */
int ofa_bert_create_shaped(ofa_bert *m, const ofa_bert_dims *d, const int *heads, const int *ffn);
/* N(0, std) matrices and embeddings, zero biases, LayerNorm gamma 1 beta 0. */
void ofa_bert_init_weights(ofa_bert *m, ofa_rng *rng, double std);
void ofa_bert_free(ofa_bert *m);

typedef struct ofa_bert_layer_acts {
    float *q, *k, *v, *probs, *ctx, *ao, *ao_mask, *r1, *ln1_mean, *ln1_rstd, *x1;
    float *h, *g, *fo, *fo_mask, *r2, *ln2_mean, *ln2_rstd, *x2;
} ofa_bert_layer_acts;

typedef struct ofa_bert_acts {
    int Bmax, Tmax, L;
    /* state of the last forward */
    int B, T, train;
    double dropout;
    ofa_bert_arch arch;
    const int32_t *ids, *types, *lens;
    int32_t *pos_ids;
    float *emb, *emb_mean, *emb_rstd, *x0, *x0_mask;
    ofa_bert_layer_acts layer[OFA_MAX_LAYERS];
    float *cls, *pp, *pt, *pooled, *pooled_mask, *logits; /* pt = tanh(pp) before dropout */
    /* per-layer head multipliers [L, A] (NULL = ones) and their gradient (NULL = not wanted) */
    const float *head_mult;
    float *dhead_mult;
    /* backward scratch */
    float *dA, *dB, *dC, *dq, *dk, *dv, *dctx, *dg, *dh, *dcls, *dpp, *dpooled, *att_scratch;
    struct ofa_bert_infer_ws *infer; /* ofa_bert_infer's workspace (supernet/infer.h), NULL until used */
} ofa_bert_acts;

void ofa_bert_acts_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax);
void ofa_bert_acts_free(ofa_bert_acts *a);

/* The arch that runs the whole model m (its stored heads and FFN widths per layer). */
void ofa_bert_full_arch(const ofa_bert *m, ofa_bert_arch *a);

/* Forward of subnet `arch` (NULL = full model) on a [B, T] batch: ids, token types, lens.
 * train != 0 applies dropout with probability `dropout` drawn from rng.  Returns the logits [B, C]
 * (inside a).  The output of kept block i is a->layer[i].x2, the embedding output a->x0 ([B*T, H]). */
const float *ofa_bert_forward(const ofa_bert *m, ofa_bert_acts *a, const int32_t *ids, const int32_t *types,
                              const int32_t *lens, int B, int T, const ofa_bert_arch *arch, int train, double dropout,
                              ofa_rng *rng);
/* Backward of the last forward: accumulates parameter gradients into m->p.grad.  dlogits [B, C];
 * dhidden (may be NULL) has depth+1 entries (embedding output, then each kept block output), each
 * [B*T, H] or NULL, added to the gradient flowing into that activation (distillation losses). */
void ofa_bert_backward(ofa_bert *m, ofa_bert_acts *a, const float *dlogits, const float *const *dhidden);

/* FLOPs of one forward of the full model on B*T tokens (multiply-adds x 2; matmuls only). */
double ofa_bert_forward_flops(const ofa_bert_dims *d, int B, int T);

#endif
