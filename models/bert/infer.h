/* models/bert/infer: the inference forward of a BERT subnet (logits only), on nn/fm's feature-major
 * kernels.
 *
 * Same model and same subnet slicing as ofa_bert_forward (models/bert/bert.h), without dropout,
 * saved activations or head multipliers; activations are kept [features, tokens] so every linear
 * layer reads its weights in place and applies bias, residual and GELU in registers.  Scoring
 * (eval, the search, the monitor), latency measurement and `ofa bench infer` use it; training and
 * distillation use ofa_bert_forward.  The logits agree with ofa_bert_forward's to float rounding
 * (tests/test_fm.c).
 * The caller owns the workspace (ofa_bert_infer_ws), created for the model's dims and the largest
 * batch; it holds a few [features, tokens] buffers and no per-layer state, so scoring needs far
 * less memory than the training activations (ofa_bert_acts, which keep every layer's attention
 * probabilities).  Not collective.
 *
 * The forward is a sequence of the ops below, exposed so the latency table (its ops are listed in
 * models/bert/family.c; evaluator/latency.c times them) times exactly what the forward runs.
 * Feature-major buffers of N = B*T tokens have row stride ofa_infer_ld(N), except the last layer's
 * first-token buffers (xc, x1c, qc, cc, hc: B tokens, row stride B); weights are row-major with the
 * supernet's leading dimensions.  The ops read
 * weight pointers and leading dimensions from the model's views (ofa_bert_layer_view,
 * ofa_bert_outer_view in models/bert/bert.h) and take their widths as arguments (at most the
 * view's: the latency table runs narrower shapes on the whole model's views).
 */
#ifndef OFA_MODELS_BERT_INFER_H
#define OFA_MODELS_BERT_INFER_H

#include <stdint.h>

#include "models/bert/bert.h"

/* The workspace: feature-major buffers for up to Bmax x Tmax tokens in one zeroed arena, each on
 * a 64-byte boundary.  X(name, count), count in floats with LD = ofa_infer_ld(Bmax * Tmax),
 * B = Bmax, T = Tmax, H hidden, F FFN, C outputs, WA = max(A*D, H). */
#define OFA_BERT_INFER_WS(X)                                                                       \
    X(x, H * LD)        /* [E, ld] the residual stream */                                        \
    X(x1, H * LD)       /* [E, ld] after attention; the embedding's token-major scratch */       \
    X(qkv, 3 * WA * LD) /* q, k, v [w, ld] one after the other */                                 \
    X(ctx, WA * LD)     /* [w, ld] attention output */                                            \
    X(h, F * LD)        /* [f, ld] GELU(W1 x1 + b1) */                                            \
    X(s, T * T)         /* one sequence's and head's scores */                                    \
    X(cls, B * C)       /* [C, B] logits */                                                       \
    X(pp, B * H)        /* [E, B] pooled */                                                       \
    X(logits, B * C)    /* [B, C] the result */                                                   \
    X(xc, H * B)        /* [E, B] the last layer's stream at each sequence's first token */       \
    X(x1c, H * B)       /* [E, B] the same after attention */                                      \
    X(qc, WA * B)       /* [w, B] the first tokens' queries */                                     \
    X(cc, WA * B)       /* [w, B] their attention output */                                        \
    X(hc, F * B)        /* [f, B] their GELU(W1 x1 + b1) */                                        \
    X(fold, 2 * H + T)  /* nn_fm_attention_folded's scratch */

typedef struct ofa_bert_infer_plan ofa_bert_infer_plan;

#define OFA_BERT_INFER_WS_FIELD_(name, count) float *name;
typedef struct ofa_bert_infer_ws {
    int Bmax, Tmax;
    int H, WA, F, C; /* the widths it holds (a model must not exceed them) */
    OFA_BERT_INFER_WS(OFA_BERT_INFER_WS_FIELD_)
    void *arena;
    size_t arena_bytes;
    ofa_bert_infer_plan *plan; /* ofa_bert_infer_prepare's, or NULL */
} ofa_bert_infer_ws;
#undef OFA_BERT_INFER_WS_FIELD_

/* For models of dims d (or smaller) and batches up to (Bmax, Tmax).  Aborts on OOM.  _free accepts
 * NULL and a zeroed struct. */
void ofa_bert_infer_ws_create(ofa_bert_infer_ws *ws, const ofa_bert_dims *d, int Bmax, int Tmax);
void ofa_bert_infer_ws_free(ofa_bert_infer_ws *ws);

/* Prepares ws for repeated forwards of subnet `arch` (NULL = the full model) of m with weights
 * that stay as they are now: the linear layers where Strassen's algorithm pays (nn/strassen.h:
 * BERT-base's FFN and Q/K/V products at 128 tokens or more, on the AVX-512 path) get their weight
 * sums formed once, and ofa_bert_infer uses them while it is asked for that model and arch (any
 * other runs the classical product).  Whoever changes m's weights after this must prepare again
 * or call ofa_bert_infer_unprepare: the sums are a copy.  Returns the floats formed (0: nothing
 * pays at these shapes).  ofa_bert_infer_ws_free frees the plan too. */
size_t ofa_bert_infer_prepare(ofa_bert_infer_ws *ws, const ofa_bert *m, const ofa_bert_arch *arch);
void ofa_bert_infer_unprepare(ofa_bert_infer_ws *ws);

/* Logits [B, C] (inside ws) of subnet `arch` (NULL = the full model) on a [B, T] batch.  The last
 * kept layer runs on the first tokens only (ofa_infer_q_first, ofa_infer_attn_first). */
const float *ofa_bert_infer(const ofa_bert *m, ofa_bert_infer_ws *ws, const int32_t *ids, const int32_t *types,
                            const int32_t *lens, int B, int T, const ofa_bert_arch *arch);

/* ---- the ops ---- */

/* Row stride of feature-major buffers for N tokens. */
int ofa_infer_ld(int N);

/* x[E, ld] = LayerNorm(word[ids] + pos[t] + type[types]) (the tables of o); scratch: N*E floats. */
void ofa_infer_embed(float *x, int ld, const int32_t *ids, const int32_t *types, int N, int T,
                     const ofa_bert_outer_view *o, int E, float *scratch);
/* x[E, ld] = LayerNorm(x) in place (the model's eps: a view's). */
void ofa_infer_layernorm(float *x, int ld, const float *g, const float *b, int N, int E, double eps);
/* q, k, v [w, ld] = W{q,k,v} x + b (x [E, ld]); any of q, k, v may be NULL (not computed). */
void ofa_infer_qkv(float *q, float *k, float *v, int ld, const float *x, const ofa_bert_layer_view *lw, int N, int E,
                   int w);
/* ctx [nh*D, ld] = attention of each sequence and head (keys beyond lens[b] masked); s: T*T floats. */
void ofa_infer_attn(float *ctx, const float *q, const float *k, const float *v, int ld, const int32_t *lens, int B,
                    int T, int nh, int D, float *s);
/* The last layer's output is read at each sequence's first token only (the pooler reads nothing
 * else), so that layer runs on those B tokens (row stride B): xc [E, B] = x[:, b*T] and its
 * queries qc [w, B] = Wq xc + bq; the rest are the ops below on B tokens. */
void ofa_infer_q_first(float *qc, float *xc, int ld, const float *x, const ofa_bert_layer_view *lw, int B, int T,
                       int E, int w);
/* cc [nh*D, B] (row stride B) = attention of each sequence's first-token query qc over the keys and
 * values of all its tokens x [E, ld], which are never formed (nn_fm_attention_folded: the key and
 * value weights are folded into the query); scratch: 2 E + T floats. */
void ofa_infer_attn_first(float *cc, const float *qc, const float *x, int ld, const ofa_bert_layer_view *lw,
                          const int32_t *lens, int B, int T, int nh, int E, int D, float *scratch);
/* x1 = Wo ctx + bo + x (the LayerNorm follows separately, nn_fm_layernorm). */
void ofa_infer_oproj(float *x1, const float *ctx, const float *x, int ld, const ofa_bert_layer_view *lw, int N, int w,
                     int E);
/* h [f, ld] = GELU(W1 x1 + b1). */
void ofa_infer_ffn1(float *h, const float *x1, int ld, const ofa_bert_layer_view *lw, int N, int E, int f);
/* x = W2 h + b2 + x1. */
void ofa_infer_ffn2(float *x, const float *h, const float *x1, int ld, const ofa_bert_layer_view *lw, int N, int f,
                    int E);
/* logits [B, C] = classifier(tanh(pooler(xc))) (o's pooler and classifier) of the first tokens xc
 * [E, B] (row stride B); scratch: cls C*B floats, pp E*B. */
void ofa_infer_head(float *logits, const float *xc, int B, const ofa_bert_outer_view *o, int E, int C, float *cls,
                    float *pp);

#endif
