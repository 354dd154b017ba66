/* models/bert/bert: the BERT encoder classifier/regressor, every subnet of it, forward and backward.
 *
 * Post-LayerNorm BERT as in DESIGN.md (eps 1e-12, GELU(erf), attention scaled by 1/sqrt(H/A), tanh
 * pooler on [CLS]); tensor names are DESIGN.md's ("layer_00/attn/wq" ...).  The model owns its
 * parameters (one ofa_params buffer); an ofa_bert_acts owns the activations and the gradient
 * scratch for batches up to (Bmax, Tmax) in one buffer, allocated once (training; scoring uses the
 * much smaller workspace of models/bert/infer.h).  A subnet (ofa_bert_arch) runs on leading slices of
 * the weights through leading dimensions: heads are the first a*D rows of Wq/Wk/Wv and columns of
 * Wo, FFN neurons the first f rows of W1 and columns of W2.  Gradients land in the same slices of
 * p.grad (zeros elsewhere).  An elastic hidden size e uses the first e columns of the embeddings
 * and of every matrix's input side, the first e rows of Wo/W2/pooler, the first e LayerNorm
 * channels; activations then have row stride e.  The head size stays H/A.  The rule is written
 * once, in the views below (ofa_bert_view_layer / ofa_bert_view_outer); every module that touches
 * a subnet's tensors takes its pointers and leading dimensions from them.
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
    int T;                /* token types (rows of the token-type table); 0 = 2 */
    double eps;           /* every LayerNorm's eps; 0 = OFA_BERT_LN_EPS (an imported model's layer_norm_eps) */
} ofa_bert_dims;

#define OFA_BERT_LN_EPS 1e-12 /* every LayerNorm of the model (DESIGN.md), unless dims.eps says otherwise */

static inline int ofa_bert_head_dim(const ofa_bert_dims *d) { return d->D > 0 ? d->D : d->H / d->A; }
static inline int ofa_bert_types(const ofa_bert_dims *d) { return d->T > 0 ? d->T : 2; }
static inline double ofa_bert_eps(const ofa_bert_dims *d) { return d->eps > 0 ? d->eps : OFA_BERT_LN_EPS; }

/* The tensors of one layer, in the order they are stored (X(name)). */
#define OFA_BERT_LAYER_TENSORS(X)                                                                  \
    X(wq) X(bq) X(wk) X(bk) X(wv) X(bv) X(wo) X(bo) X(ln1_g) X(ln1_b) X(w1) X(b1) X(w2) X(b2) X(ln2_g) X(ln2_b)

#define OFA_BERT_IDX_FIELD_(name) int name;
typedef struct ofa_bert_layer_idx {
    OFA_BERT_LAYER_TENSORS(OFA_BERT_IDX_FIELD_)
} ofa_bert_layer_idx;
#undef OFA_BERT_IDX_FIELD_

typedef struct ofa_bert {
    ofa_bert_dims d;
    int heads[OFA_MAX_LAYERS], ffn[OFA_MAX_LAYERS]; /* stored heads / FFN width of each layer */
    ofa_params p;
    int word, pos, type, emb_g, emb_b, pool_w, pool_b, cls_w, cls_b; /* view indices */
    ofa_bert_layer_idx layer[OFA_MAX_LAYERS];
} ofa_bert;

/* ---- views: the slicing rule ----
 *
 * Kept layer i of an arch (model layer l = arch->layer[i], h = arch->heads[i] heads, attention
 * width w = h*D, FFN width f = arch->ffn[i], hidden E = arch->hidden) is, of layer l's stored
 * tensors (hidden H, stored attention width W_l = m->heads[l]*D, stored FFN width F_l = m->ffn[l]):
 *     Wq Wk Wv  [W_l, H]   rows [0, w), columns [0, E), ld H
 *     bq bk bv  [W_l]      [0, w)
 *     Wo        [H, W_l]   rows [0, E), columns [0, w), ld W_l
 *     W1        [F_l, H]   rows [0, f), columns [0, E), ld H
 *     b1        [F_l]      [0, f)
 *     W2        [H, F_l]   rows [0, E), columns [0, f), ld F_l
 *     bo b2 and both LayerNorms [H]: [0, E)
 * and outside the layers: the word / position / token-type tables [V|P|2, H] and the pooler
 * [H, H] and classifier [C, H] weights take columns [0, E) (the pooler also rows [0, E)), the
 * embedding LayerNorm and the pooler bias [0, E), the classifier bias all C.
 * A view points into one of the model's four buffers, which share the layout: m->p.data (the
 * weights), m->p.grad, m->p.m, m->p.v.  arch NULL is the whole model: kept layer i is layer i
 * with its stored widths, E = H, every slice the whole tensor (so ld == cols).  Exported subnets
 * store per-layer widths (m->heads, m->ffn), which is why Wo and W2 have per-layer ld.
 * The views assert that the arch fits the model (callers check user input first). */
typedef struct ofa_bert_slice {
    float *p;           /* first element */
    int rows, cols, ld; /* the window [rows, cols] of a row-major tensor of row stride ld; 1-D: rows 1 */
} ofa_bert_slice;

#define OFA_BERT_SLICE_FIELD_(name) ofa_bert_slice name;
typedef struct ofa_bert_layer_view {
    int layer;          /* l, the model's layer */
    int heads, w, f, E; /* heads, attention width heads*D, FFN width, hidden size */
    double eps;         /* its LayerNorms' eps (ofa_bert_eps) */
    OFA_BERT_LAYER_TENSORS(OFA_BERT_SLICE_FIELD_)
} ofa_bert_layer_view;
#undef OFA_BERT_SLICE_FIELD_

typedef struct ofa_bert_outer_view {
    int E, C, T; /* hidden size, outputs, token types */
    double eps;  /* the embedding LayerNorm's eps (ofa_bert_eps) */
    ofa_bert_slice word, pos, type, emb_g, emb_b; /* embeddings and their LayerNorm */
    ofa_bert_slice pool_w, pool_b, cls_w, cls_b;  /* pooler and classifier */
} ofa_bert_outer_view;

/* Kept layer i of arch (NULL = the whole model) in buf (m->p.data, grad, m or v). */
void ofa_bert_view_layer(ofa_bert_layer_view *v, const ofa_bert *m, const ofa_bert_arch *arch, int i, float *buf);
/* The embeddings, pooler and classifier of arch (NULL = the whole model) in buf. */
void ofa_bert_view_outer(ofa_bert_outer_view *v, const ofa_bert *m, const ofa_bert_arch *arch, float *buf);

/* Registers the named views and allocates the buffers (weights zero). 0 or OFA_E_CONFIG. */
int ofa_bert_create(ofa_bert *m, const ofa_bert_dims *d);
/* The same with per-layer stored heads and FFN widths (an exported subnet); NULL = d->A / d->F. */
int ofa_bert_create_shaped(ofa_bert *m, const ofa_bert_dims *d, const int *heads, const int *ffn);
/* N(0, std) matrices and embeddings, zero biases, LayerNorm gamma 1 beta 0. */
void ofa_bert_init_weights(ofa_bert *m, ofa_rng *rng, double std);
void ofa_bert_free(ofa_bert *m);

/* ---- activations ----
 *
 * Everything a forward saves for the backward, and the backward's scratch, for batches up to
 * (Bmax, Tmax), in one zeroed 64-byte aligned buffer (the arena) with named pointers into it.  The
 * lists below are the only place a buffer is named: X(type, name, count), count in the sizes of
 * ofa_bert_acts_create: B = Bmax, T = Tmax, N = B*T tokens, H hidden, F FFN, A heads, C outputs,
 * WA = max(A*D, H) (the attention width may exceed the hidden size of an exported subnet).  Rows of
 * [N, *] buffers have stride E (the arch's hidden size) or the arch's width, not H/F/WA.  Each
 * buffer starts on a 64-byte boundary. */
#define OFA_BERT_ACTS_LAYER(X)                                                                     \
    X(float, q, N * WA)      /* [N, w] queries, w = heads * D */                                  \
    X(float, k, N * WA)      /* [N, w] keys */                                                    \
    X(float, v, N * WA)      /* [N, w] values */                                                  \
    X(float, probs, B * A * T * T) /* [B, heads, T, T] attention probabilities */                 \
    X(float, ctx, N * WA)    /* [N, w] attention output per head */                               \
    X(float, ao, N * H)      /* [N, E] output projection (after dropout) */                       \
    X(float, ao_mask, N * H) /* [N, E] its dropout mask */                                        \
    X(float, r1, N * H)      /* [N, E] x + ao */                                                  \
    X(float, ln1_mean, N)    /* [N] LayerNorm statistics of r1 */                                 \
    X(float, ln1_rstd, N)                                                                          \
    X(float, x1, N * H)      /* [N, E] LayerNorm(r1) */                                           \
    X(float, h, N * F)       /* [N, f] W1 x1 + b1 */                                              \
    X(float, g, N * F)       /* [N, f] GELU(h) */                                                 \
    X(float, fo, N * H)      /* [N, E] W2 g + b2 (after dropout) */                               \
    X(float, fo_mask, N * H) /* [N, E] its dropout mask */                                        \
    X(float, r2, N * H)      /* [N, E] x1 + fo */                                                 \
    X(float, ln2_mean, N)    /* [N] LayerNorm statistics of r2 */                                 \
    X(float, ln2_rstd, N)                                                                          \
    X(float, x2, N * H)      /* [N, E] LayerNorm(r2): the block output */

#define OFA_BERT_ACTS_MODEL(X)                                                                     \
    X(int32_t, pos_ids, N)      /* [N] position of each token */                                  \
    X(float, emb, N * H)        /* [N, E] word + position + type embeddings */                    \
    X(float, emb_mean, N)       /* [N] LayerNorm statistics of emb */                             \
    X(float, emb_rstd, N)                                                                          \
    X(float, x0, N * H)         /* [N, E] LayerNorm(emb) (after dropout) */                       \
    X(float, x0_mask, N * H)    /* [N, E] its dropout mask */                                     \
    X(float, cls, B * H)        /* [B, E] each sequence's first token */                          \
    X(float, pp, B * H)         /* [B, E] pooler pre-activation */                                \
    X(float, pt, B * H)         /* [B, E] tanh(pp) */                                             \
    X(float, pooled, B * H)     /* [B, E] pt after dropout */                                     \
    X(float, pooled_mask, B * H)                                                                   \
    X(float, logits, B * C)     /* [B, C] */                                                      \
    /* backward scratch */                                                                         \
    X(float, dA, N * H)                                                                            \
    X(float, dB, N * H)                                                                            \
    X(float, dC, N * H)                                                                            \
    X(float, dq, N * WA)                                                                           \
    X(float, dk, N * WA)                                                                           \
    X(float, dv, N * WA)                                                                           \
    X(float, dctx, N * WA)                                                                         \
    X(float, dg, N * F)                                                                            \
    X(float, dh, N * F)                                                                            \
    X(float, dcls, B * H)                                                                          \
    X(float, dpp, B * H)                                                                           \
    X(float, dpooled, B * H)                                                                       \
    X(float, att_scratch, T * T)

#define OFA_BERT_ACTS_FIELD_(type, name, count) type *name;

typedef struct ofa_bert_layer_acts {
    OFA_BERT_ACTS_LAYER(OFA_BERT_ACTS_FIELD_)
} ofa_bert_layer_acts;

typedef struct ofa_bert_acts {
    int Bmax, Tmax, L, forward_only;
    /* state of the last forward */
    int B, T, train;
    double dropout;
    ofa_bert_arch arch;
    const int32_t *ids, *types, *lens;
    /* per-layer head multipliers [L, A] (NULL = ones) and their gradient (NULL = not wanted) */
    const float *head_mult;
    float *dhead_mult;
    /* views into the arena: the model-level buffers, then each layer's */
    OFA_BERT_ACTS_MODEL(OFA_BERT_ACTS_FIELD_)
    ofa_bert_layer_acts layer[OFA_MAX_LAYERS];
    void *arena;
    size_t arena_bytes;
} ofa_bert_acts;

#undef OFA_BERT_ACTS_FIELD_

/* Allocates the arena for batches up to (Bmax, Tmax) of a model of dims d (every layer, the
 * largest heads and FFN width), zeroed.  Aborts on OOM.  _free accepts NULL and a zeroed struct. */
void ofa_bert_acts_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax);
/* The same, but an allocation that fails is OFA_E_RUNTIME "out of memory: X GiB of activations
 * for batches of B x T tokens (shape)", for the stages to name the config keys that size it. */
int ofa_bert_acts_try_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax);
/* The same for forwards alone (the distillation teacher's): every layer keeps its own output x2,
 * the rest of a layer's buffers are layer 0's, overwritten by each layer in turn (a layer reads
 * only the previous output), so the arena holds one layer's work instead of L.  No backward. */
int ofa_bert_acts_try_create_forward(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax);
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
