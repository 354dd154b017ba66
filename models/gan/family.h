/* models/gan/family: the CycleGAN family behind the model-family interface (models/family.h),
 * registered as "cyclegan" (`model.type: cyclegan`, root attribute `model: cyclegan`).
 *
 * Its model is an ofa_cyclegan (models/gan/model.h): G_A, G_B, D_A, D_B of the public
 * pytorch-CycleGAN-and-pix2pix project in one parameter buffer; its file holds
 * /weights/{G_A,G_B,D_A,D_B}/<state_dict key> and the shape as root attributes.  Its arch is the
 * generator's shape ("ngf16-b6"); its data are Fashion-MNIST images of two classes; its score is
 * FID of translated images against real target-class images.  The ops that only make sense for a
 * supernet (reorder, distillation, export, latency tables) return an error saying they are not
 * available for the family yet (the compression issue fills them). */
#ifndef OFA_MODELS_GAN_FAMILY_H
#define OFA_MODELS_GAN_FAMILY_H

#include "models/family.h"

extern const ofa_family ofa_cyclegan_family;

#endif
