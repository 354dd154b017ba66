/* nn: forward/backward kernels on OpenBLAS, in float (training) and double (finite-difference tests).
 *
 * Every kernel exists twice, nn_<op>_f32 and nn_<op>_f64, generated from one source
 * (nn/kernels.inc, included by nn/kernels_f32.c and nn/kernels_f64.c), so the double version used by
 * the finite-difference tests is the same code as the float version used for training.
 *
 * Conventions (llm.c's): argument order is outputs, saved caches, inputs, weights, dims.  Backward
 * functions ACCUMULATE (+=) into every gradient they receive; a NULL gradient pointer is skipped.
 * Shape letters: N rows (tokens, B*T), I in features, O out features, C channels, B batch, T sequence,
 * A heads, D head dim.  Matrices are row-major with explicit leading dimensions (ld*), so a subnet
 * is a pointer + ld into the largest weights (no copies).  Linear layers follow PyTorch:
 * y = x W^T + b with W stored [O, I].
 */
#ifndef OFA_NN_NN_H
#define OFA_NN_NN_H

#include <stdint.h>

#include "core/rng.h"

#define OFA_NN_DECLARE(real, sfx)                                                                  \
    /* y[N,O](ldy) = x[N,I](ldx) W[O,I](ldw)^T + b[O] (b may be NULL). */                          \
    void nn_linear_fwd_##sfx(real *y, int ldy, const real *x, int ldx, const real *w, int ldw,     \
                             const real *b, int N, int I, int O);                                  \
    /* dx[N,I] += dy W ; dW[O,I] += dy^T x ; db[O] += colsum(dy). */                               \
    void nn_linear_bwd_##sfx(real *dx, int lddx, real *dw, int lddw, real *db, const real *dy,     \
                             int lddy, const real *x, int ldx, const real *w, int ldw, int N, int I,\
                             int O);                                                               \
    /* out[n,:C] (+)= table[ids[n], :C]; accumulate != 0 adds instead of storing. */                \
    void nn_embed_fwd_##sfx(real *out, int ldo, const int32_t *ids, int N, const real *table,      \
                            int ldt, int C, int accumulate);                                       \
    /* dtable[ids[n], :C] += dout[n, :C]. */                                                        \
    void nn_embed_bwd_##sfx(real *dtable, int ldt, const real *dout, int ldo, const int32_t *ids,  \
                            int N, int C);                                                         \
    /* y = (x - mean) * rstd * g + b over rows of C; mean/rstd [N] saved for backward. */           \
    void nn_layernorm_fwd_##sfx(real *y, real *mean, real *rstd, const real *x, const real *g,     \
                                const real *b, int N, int C, double eps);                          \
    void nn_layernorm_bwd_##sfx(real *dx, real *dg, real *db, const real *dy, const real *x,       \
                                const real *mean, const real *rstd, const real *g, int N, int C);  \
    /* GELU with erf: y = x * 0.5 * (1 + erf(x / sqrt 2)). */                                      \
    void nn_gelu_fwd_##sfx(real *y, const real *x, int64_t n);                                     \
    void nn_gelu_bwd_##sfx(real *dx, const real *dy, const real *x, int64_t n);                    \
    /* tanh; backward uses the saved output y. */                                                  \
    void nn_tanh_fwd_##sfx(real *y, const real *x, int64_t n);                                     \
    void nn_tanh_bwd_##sfx(real *dx, const real *dy, const real *y, int64_t n);                    \
    /* LeakyReLU: y = x > 0 ? x : slope x (slope >= 0; 0 is ReLU).  Backward reads the saved      \
     * output (y > 0 exactly when x > 0), so x and y may alias; at x = 0 the gradient is slope,    \
     * as in PyTorch. */                                                                           \
    void nn_leaky_relu_fwd_##sfx(real *y, const real *x, int64_t n, double slope);                 \
    void nn_leaky_relu_bwd_##sfx(real *dx, const real *dy, const real *y, int64_t n, double slope);\
    void nn_relu_fwd_##sfx(real *y, const real *x, int64_t n);                                     \
    void nn_relu_bwd_##sfx(real *dx, const real *dy, const real *y, int64_t n);                    \
    /* Inverted dropout: mask[i] = 0 or 1/(1-p) drawn from rng; p == 0 copies and sets mask = 1.    \
     * x and y may alias. */                                                                       \
    void nn_dropout_fwd_##sfx(real *y, real *mask, const real *x, int64_t n, double p, ofa_rng *rng); \
    void nn_dropout_bwd_##sfx(real *dx, const real *dy, const real *mask, int64_t n);              \
    /* Multi-head self-attention core.  q, k, v: [B*T, A*D] with row stride ldq (they may point     \
     * into one packed buffer); ctx: [B*T, A*D] with row stride ldc.  lens[b] = valid tokens of     \
     * sequence b (keys at t >= lens[b] get probability 0; every query row is computed).  hmul[A]   \
     * multiplies each head's probabilities (NULL = ones).  probs [B, A, T, T] caches the softmax   \
     * (before hmul).  scale is usually 1/sqrt(D). */                                              \
    void nn_attention_fwd_##sfx(real *ctx, int ldc, real *probs, const real *q, const real *k,     \
                                const real *v, int ldq, const int32_t *lens, const real *hmul,     \
                                int B, int T, int A, int D, double scale);                         \
    /* dq, dk, dv += ...; dhmul[A] += d loss / d hmul (may be NULL).  scratch: T*T reals. */        \
    void nn_attention_bwd_##sfx(real *dq, real *dk, real *dv, int lddq, real *dhmul,               \
                                const real *dctx, int lddc, const real *probs, const real *q,      \
                                const real *k, const real *v, int ldq, const int32_t *lens,        \
                                const real *hmul, int B, int T, int A, int D, double scale,        \
                                real *scratch);                                                    \
    /* Softmax cross-entropy, mean over N rows: returns the loss; dlogits (may be NULL) +=          \
     * dscale * (softmax - onehot) / N. */                                                         \
    double nn_xent_##sfx(real *dlogits, const real *logits, const int32_t *labels, int N, int C,   \
                         double dscale);                                                           \
    /* Mean squared error over n values: returns mean((x - t)^2); dx (may be NULL) +=               \
     * dscale * 2 (x - t) / n. */                                                                  \
    double nn_mse_##sfx(real *dx, const real *x, const real *t, int64_t n, double dscale);         \
    /* Mean absolute error over n values: returns mean(|x - t|); dx (may be NULL) +=                \
     * dscale * sign(x - t) / n (sign(0) = 0, as PyTorch's L1Loss). */                            \
    double nn_l1_##sfx(real *dx, const real *x, const real *t, int64_t n, double dscale);          \
    /* Soft cross-entropy with temperature: mean over N of -sum_c softmax(t/tau)_c                  \
     * log softmax(s/tau)_c; ds (may be NULL) += dscale * (softmax(s/tau) - softmax(t/tau)) /      \
     * (tau N).  The teacher logits get no gradient. */                                            \
    double nn_soft_xent_##sfx(real *ds, const real *s, const real *t, int N, int C, double tau,    \
                              double dscale);

OFA_NN_DECLARE(float, f32)
/* The float GELU's erf (a rational approximation, max abs error 4.2e-7; exposed for its test). */
float nn_erf_f32(float x);
/* The float softmax's and GELU backward's exp (branch-free, max relative error 2.4e-7). */
float nn_exp_f32(float x);
OFA_NN_DECLARE(double, f64)

#endif
