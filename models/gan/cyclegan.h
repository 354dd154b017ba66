/* models/gan/cyclegan: the CycleGAN networks of the public pytorch-CycleGAN-and-pix2pix project,
 * forward and backward on NCHW batches, so that weights interchange with that project.
 *
 *   ResnetGenerator (norm = InstanceNorm2d without affine, hence every conv has a bias; reflection
 *   padding; no dropout), C image channels, ngf, n_blocks:
 *     model.1   ReflectionPad2d(3) + Conv 7x7 C -> ngf, IN, ReLU
 *     model.4   Conv 3x3 stride 2 pad 1 ngf -> 2ngf, IN, ReLU
 *     model.7   Conv 3x3 stride 2 pad 1 2ngf -> 4ngf, IN, ReLU
 *     model.{10..9+n_blocks}.conv_block.{1,5}  x + IN(Conv3x3(pad_r(ReLU(IN(Conv3x3(pad_r(x)))))))
 *     model.{10+nb}, model.{13+nb}  ConvTranspose 3x3 stride 2 pad 1 output_padding 1
 *               4ngf -> 2ngf -> ngf, each IN, ReLU
 *     model.{17+nb}  ReflectionPad2d(3) + Conv 7x7 ngf -> C, tanh
 *   NLayerDiscriminator (PatchGAN), C channels, ndf, n_layers:
 *     model.0   Conv 4x4 stride 2 pad 1 C -> ndf, LeakyReLU(0.2)
 *     model.{3n-1}, n = 1..n_layers-1  Conv 4x4 stride 2 pad 1 ndf min(2^(n-1),8) -> ndf min(2^n,8),
 *               IN, LeakyReLU(0.2)
 *     model.{3 n_layers - 1}  the same with stride 1 (-> ndf min(2^n_layers, 8))
 *     model.{3 n_layers + 2}  Conv 4x4 stride 1 pad 1 -> 1 (the patch logits, no activation)
 * Parameters are named by PyTorch's state_dict keys ("model.1.weight", "model.10.conv_block.1.bias",
 * ...), in state_dict order, in one ofa_params (nn/params.h) the network owns; weights keep
 * PyTorch's layouts (Conv2d [O, C, K, K], ConvTranspose2d [C, O, K, K]).  Zero padding except where
 * reflection is named.  Instance norm eps is 1e-5 (PyTorch's).
 *
 * An ofa_gan_acts holds the plan (the op list for one image size) and the activations, their
 * gradients, the instance-norm statistics and the conv scratch in one arena, sized once for
 * (Bmax, H, W); a forward runs any B <= Bmax.  Backward ACCUMULATES into net->p.grad (and into dx when
 * given), like every backward of nn/.  The plan is built by the same walk that names the parameters,
 * so the two cannot disagree.  Not collective; a net may be shared by several acts (one thread each).
 */
#ifndef OFA_MODELS_GAN_CYCLEGAN_H
#define OFA_MODELS_GAN_CYCLEGAN_H

#include <stddef.h>

#include "nn/conv.h"
#include "nn/params.h"

#define OFA_GAN_IN_EPS 1e-5
#define OFA_GAN_LRELU_SLOPE 0.2

typedef enum { OFA_GAN_GENERATOR = 0, OFA_GAN_DISCRIMINATOR = 1 } ofa_gan_kind;

typedef struct ofa_gan_net {
    ofa_gan_kind kind;
    int channels; /* image channels in and (generator) out */
    int nf;       /* ngf or ndf */
    int depth;    /* n_blocks or n_layers */
    ofa_params p;
} ofa_gan_net;

/* Creates the parameters (allocated, zeroed; fill them with ofa_params_get or a reader).  Asserts
 * channels, nf, depth >= 1 (depth >= 0 for a generator). */
void ofa_gan_net_init(ofa_gan_net *n, ofa_gan_kind kind, int channels, int nf, int depth);
void ofa_gan_net_free(ofa_gan_net *n);

typedef enum {
    OFA_GAN_OP_CONV, OFA_GAN_OP_CONVT, OFA_GAN_OP_INORM, OFA_GAN_OP_RELU, OFA_GAN_OP_LRELU, OFA_GAN_OP_TANH,
    OFA_GAN_OP_ADD, OFA_GAN_OP_COUNT
} ofa_gan_op_kind;

/* One step of the plan: out = op(in[, in2]); buffers are indices into ofa_gan_acts.buf (0 = the
 * input image).  d holds the conv geometry (B = Bmax) or, for the element-wise ops, B, C, H, W. */
typedef struct ofa_gan_op {
    ofa_gan_op_kind kind;
    nn_conv2d_dims d;
    int w, b;         /* parameter view indices (convs), -1 otherwise */
    int in, in2, out; /* in2: the residual of an ADD */
    size_t stats;     /* INORM: offset of mean [Bmax*C] then rstd [Bmax*C] in the stats area */
} ofa_gan_op;

typedef struct ofa_gan_buf {
    int C, H, W;
    size_t off; /* floats into act and dact, for Bmax samples */
} ofa_gan_buf;

typedef struct ofa_gan_acts {
    int Bmax, H, W;
    ofa_gan_op *ops;
    int n_ops;
    ofa_gan_buf *buf;
    int n_buf;
    float *arena;   /* one allocation: act | dact | stats | scratch */
    float *act, *dact, *stats, *scratch;
    size_t n_act, n_stats, n_scratch;
    int B;          /* batch of the last forward */
} ofa_gan_acts;

/* Plans net on (Bmax, H, W) images and allocates the arena (asserts the sizes fit the net: the
 * generator needs H, W divisible by 4 and >= 8, the discriminator an output of at least 1x1). */
void ofa_gan_acts_create(ofa_gan_acts *a, const ofa_gan_net *net, int Bmax, int H, int W);
void ofa_gan_acts_free(ofa_gan_acts *a);
/* Output shape of the planned net: [B, C, Ho, Wo]. */
void ofa_gan_out_shape(const ofa_gan_acts *a, int *C, int *Ho, int *Wo);

/* x [B, channels, H, W] -> the output [B, C, Ho, Wo] (a pointer into the arena, valid until the next
 * forward); B <= Bmax. */
const float *ofa_gan_forward(const ofa_gan_net *net, ofa_gan_acts *a, const float *x, int B);
/* Given dy (the output's shape, batch of the last forward): net->p.grad += d/dparams, and
 * dx [B, channels, H, W] += d/dx when dx != NULL.  Needs the activations of the last forward. */
void ofa_gan_backward(ofa_gan_net *net, ofa_gan_acts *a, const float *dy, float *dx);

#endif
