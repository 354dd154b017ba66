/* models/gan/distill: GAN Compression's generator distillation (mit-han-lab/gan-compression,
 * distillers/resnet_distiller.py) for the MobileResNet student of models/gan/mobile.h, as the
 * student stage (from the ResNet teacher's generator) and the prune stage (from the unpruned
 * MobileResNet) train it.  One step on a batch of domain-A images a and domain-B images b:
 *     Sfake = S(a), Tfake = T(a)                     (the teacher frozen: no gradient)
 *     loss_G = lambda_gan MSE(D(Sfake), 1)           (LSGAN; D judges the target domain)
 *            + lambda_recon mean |Sfake - Tfake|     (L1 to the teacher's output)
 *            + lambda_distill sum_k MSE(map_k(S_k), T_k)
 *     loss_D = (MSE(D(Sfake detached), 0) + MSE(D(b), 1)) / 2
 * The taps (ofa_gd_taps) are GAN Compression's mapping layers of a ResNet generator: the encoder
 * output (the residual stream entering the first block, module model.9) and the output of every
 * third residual block (model.12, model.15, ...: blocks 2, 5, 8, ...).  map_k is a learned 1x1 conv
 * with bias from the student's residual width to the teacher's (Conv2d(Cs, Ct, 1)), whose views
 * `<prefix>map.<k>.weight` [Ct, Cs, 1, 1] and `<prefix>map.<k>.bias` [Ct] live in a parameter table
 * of the caller's (ofa_gd_maps_add), so the student, its discriminator and the maps can share one
 * buffer (one AdamW, one allreduce).  GAN Compression's weights: lambda_gan 1, lambda_recon 10,
 * lambda_distill as configured (its ResnetDistiller's default: 1).
 * The student takes the gradients of loss_G, the maps too, the discriminator those of loss_D
 * only, all on the same weights (GAN Compression steps both optimizers after both backwards).
 * Gradients ACCUMULATE (scaled by `part`, so the parts of a batch sum to the batch), like every
 * backward of nn/.  Not collective; one thread per distiller. */
#ifndef OFA_MODELS_GAN_DISTILL_H
#define OFA_MODELS_GAN_DISTILL_H

#include "models/gan/cyclegan.h"
#include "models/gan/mobile.h"

#define OFA_GD_TAPS_MAX 8

/* The tapped blocks of an n_blocks generator: -1 for the encoder output, then 2, 5, 8, ... < n_blocks;
 * returns their count (at most OFA_GD_TAPS_MAX). */
int ofa_gd_taps(int n_blocks, int *blocks);

/* Adds the maps' views (n_taps convs Cs -> Ct) to p, before ofa_params_alloc. */
void ofa_gd_maps_add(ofa_params *p, const char *prefix, int n_taps, int cs, int ct);

typedef struct ofa_gd_lambdas {
    double gan, recon, distill;
} ofa_gd_lambdas;

typedef struct ofa_gd ofa_gd;

/* The teacher: a ResNet generator (resnet) or a MobileResNet at its stored shape (mobile); one of
 * them NULL.  Student and teacher have the same number of blocks.  maps: the table holding
 * `<prefix>map.<k>.*` (its data and grad used in place).  Workspaces for batches of up to bmax
 * S x S images. */
ofa_gd *ofa_gd_create(ofa_mobile_net *student, const ofa_gan_net *resnet, const ofa_mobile_net *mobile, ofa_gan_net *d,
                      const ofa_params *maps, const char *prefix, int bmax, int S, ofa_gd_lambdas lambdas);
void ofa_gd_free(ofa_gd *g);

/* One step's gradients on a[n], b[n] ([n, C, S, S]) as a part `part` of a batch, the student run as
 * subnet arch (NULL: its stored shape; a subnet uses leading slices, and its taps of width
 * arch->down2 the leading input columns of the maps, as GAN Compression's SuperConv2d maps):
 * student, maps and discriminator gradients += part * the batch-mean losses' gradients (zero
 * outside the slices).  L[4]: part * (the GAN term, the output L1 term, the feature term (each with
 * its lambda), loss_D). */
void ofa_gd_grads(ofa_gd *g, const ofa_mobile_arch *arch, const float *a, const float *b, int n, double part,
                  double L[4]);

/* The same in two parts, for several students (subnets) on one batch: ofa_gd_teach runs the teacher
 * on a[n] (its output and taps kept until the next ofa_gd_teach), ofa_gd_grads_taught then the rest
 * of the step for one arch on that a (asserts the same n). */
void ofa_gd_teach(ofa_gd *g, const float *a, int n);
void ofa_gd_grads_taught(ofa_gd *g, const ofa_mobile_arch *arch, const float *a, const float *b, int n, double part,
                         double L[4]);
/* The teacher's output of the last ofa_gd_teach ([n, C, S, S]). */
const float *ofa_gd_teacher_out(const ofa_gd *g);

/* The student's output of the last ofa_gd_grads ([n, C, S, S], valid until the next call). */
const float *ofa_gd_student_out(const ofa_gd *g);

#endif
