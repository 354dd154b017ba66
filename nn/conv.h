/* nn/conv: image layers on NCHW tensors (convolution, transposed convolution, instance norm), in
 * float (training) and double (finite-difference tests), written once in nn/conv.inc like the
 * kernels of nn/nn.h (whose conventions hold here: outputs, caches, inputs, weights, dims; backward
 * functions ACCUMULATE (+=) into every gradient they receive, a NULL gradient is skipped).  The
 * element-wise activations (ReLU, LeakyReLU, tanh) and the losses (L1, MSE) are in nn/nn.h.
 *
 * Activations are dense [B, C, H, W] for the C channels in use.  Weights may be the leading slices
 * of larger stored ones (a once-for-all subnet): the geometry names the stored weight's second
 * dimension (`wc`) apart from the channels in use, so a subnet is a pointer into the largest
 * weights, never a copy, and its weight gradients land in the same slices.
 *
 *   conv2d            w [O_MAX, wc, K, K] with wc = C_MAX / groups; filter o, input channel j of its
 *                     group, tap (kh, kw) at w[(o * wc + j) * K * K + kh * K + kw]; a subnet uses
 *                     filters o < O and channels j < C / groups.  b [O] (leading slice of b[O_MAX]).
 *   conv_transpose2d  w [C_MAX, wc, K, K] with wc = O_MAX / groups (PyTorch's ConvTranspose2d
 *                     layout: input channel first); element (c, j, kh, kw) at
 *                     w[(c * wc + j) * K * K + kh * K + kw]; a subnet uses c < C, j < O / groups.
 *
 * Output sizes are PyTorch's: conv Ho = (H + 2 pad - K) / stride + 1 (floor); transposed
 * Ho = (H - 1) stride - 2 pad + K + out_pad (same for W).  Reflection padding is PyTorch's
 * ReflectionPad2d (the edge is not repeated: x[-1] = x[1]; pad < H and pad < W).  Transposed
 * convolutions pad with zeros only.
 *
 * The float conv runs im2col + sgemm over chunks of samples (OpenBLAS's threads); depthwise
 * convolutions (groups == C == O) run a direct loop instead.  Both need a caller-provided scratch
 * of nn_conv2d_scratch(&d, transposed) reals (the same for forward and backward; one buffer can
 * serve every layer, sized for the largest).  No state; not collective; thread-safe when the
 * scratch buffers differ.
 */
#ifndef OFA_NN_CONV_H
#define OFA_NN_CONV_H

#include <stddef.h>

typedef enum { NN_PAD_ZEROS = 0, NN_PAD_REFLECT = 1 } nn_pad_mode;

/* The geometry of one (transposed) convolution; designated initializers read best:
 *   nn_conv2d_dims d = {.B = 4, .C = 32, .H = 16, .W = 16, .O = 64, .K = 3, .stride = 2, .pad = 1};
 * Fields left 0 take their defaults: groups 1, zero padding, out_pad 0, wc dense. */
typedef struct nn_conv2d_dims {
    int B;             /* batch */
    int C, H, W;       /* input channels in use, input height and width */
    int O;             /* output channels in use */
    int K;             /* square kernel size */
    int stride;        /* 0 means 1 */
    int pad;           /* padding on every side */
    nn_pad_mode pad_mode; /* conv2d only */
    int groups;        /* 0 means 1; C and O divisible by it; groups == C == O is depthwise */
    int out_pad;       /* conv_transpose2d only: PyTorch's output_padding (< stride) */
    int wc;            /* stored weight's second dimension (see above); 0 means dense: C/groups
                        * for conv2d, O/groups for conv_transpose2d */
} nn_conv2d_dims;

/* The resolved geometry of a layer (defaults applied, sizes derived; nn/conv.c).  "Image" is the
 * side the im2col columns are taken from: the input of a convolution, the output of a transposed
 * one (whose forward is a convolution's input gradient).  Columns are positions of the other side. */
typedef struct nn_conv2d_geom {
    int transposed;
    int B, C, H, W, O, Ho, Wo, K, stride, pad, groups, out_pad;
    nn_pad_mode pad_mode;
    int Cg, Og;        /* channels per group, in and out */
    int ldw;           /* reals between consecutive rows of the stored weight: wc * K * K */
    int depthwise;     /* conv2d with groups == C == O: the direct loop */
    int IC, IH, IW;    /* the image side: channels, height, width (C, H, W or O, Ho, Wo) */
    int Hp, Wp;        /* the image padded on every side */
    int rows;          /* im2col rows: (IC / groups) * K * K */
    int P;             /* column positions per sample: Ho*Wo (conv) or H*W (transposed) */
    int nb;            /* samples per GEMM (chunk) */
    size_t n_pad, n_col, n_stage; /* scratch: padded image (nb samples), columns, staging */
} nn_conv2d_geom;

/* Resolves d (transposed = 0: conv2d, 1: conv_transpose2d); aborts (OFA_ASSERT) on an invalid
 * geometry: non-positive sizes, groups not dividing C and O, reflection pad >= H or W, an empty
 * output, wc smaller than the channels in use, out_pad >= stride. */
void nn_conv2d_geom_of(nn_conv2d_geom *g, const nn_conv2d_dims *d, int transposed);
/* Output height and width of the convolution (transposed = 0) or the transposed convolution. */
void nn_conv2d_out_hw(const nn_conv2d_dims *d, int transposed, int *Ho, int *Wo);
/* Reals of scratch the forward and backward of that layer need (the same size serves both). */
size_t nn_conv2d_scratch(const nn_conv2d_dims *d, int transposed);

#define OFA_NN_CONV_DECLARE(real, sfx)                                                             \
    /* y[B, O, Ho, Wo] = conv(pad(x[B, C, H, W]), w) + b (b may be NULL). */                       \
    void nn_conv2d_fwd_##sfx(real *y, const real *x, const real *w, const real *b,                 \
                             const nn_conv2d_dims *d, real *scratch);                              \
    /* dx += d/dx, dw (same layout as w, slices only) += d/dw, db[O] += d/db; any may be NULL. */  \
    void nn_conv2d_bwd_##sfx(real *dx, real *dw, real *db, const real *dy, const real *x,          \
                             const real *w, const nn_conv2d_dims *d, real *scratch);               \
    /* y[B, O, Ho, Wo] = conv_transpose(x[B, C, H, W], w) + b (b may be NULL). */                  \
    void nn_conv_transpose2d_fwd_##sfx(real *y, const real *x, const real *w, const real *b,       \
                                       const nn_conv2d_dims *d, real *scratch);                    \
    void nn_conv_transpose2d_bwd_##sfx(real *dx, real *dw, real *db, const real *dy,               \
                                       const real *x, const real *w, const nn_conv2d_dims *d,      \
                                       real *scratch);                                             \
    /* Instance norm: per sample and channel over the HW values of x[B, C, HW],                    \
     * y = (x - mean) * rstd (* g[c] + b[c] when g != NULL; b may be NULL then), with the biased   \
     * variance (PyTorch's InstanceNorm2d, no running statistics).  mean, rstd [B*C] are saved     \
     * for backward.  y may equal x only when backward is not needed. */                           \
    void nn_instnorm_fwd_##sfx(real *y, real *mean, real *rstd, const real *x, const real *g,      \
                               const real *b, int B, int C, int HW, double eps);                   \
    void nn_instnorm_bwd_##sfx(real *dx, real *dg, real *db, const real *dy, const real *x,        \
                               const real *mean, const real *rstd, const real *g, int B, int C,    \
                               int HW);

OFA_NN_CONV_DECLARE(float, f32)
OFA_NN_CONV_DECLARE(double, f64)

#endif
