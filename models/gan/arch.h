/* models/gan/arch: the CycleGAN family's arch and space payloads (models/family.h's unions).
 *
 * A CycleGAN teacher has one architecture, its generator's shape; its canonical text form is
 * "ngf<ngf>-b<n_blocks>" ("ngf16-b6"), and its space holds exactly the model's shape.  A MobileResNet
 * generator (a supernet, or a subnet exported from one: models/gan/super.h) has mobile = 1: its arch
 * is an ofa_mobile_arch (text "c16.32.64-b48.48.48-k5.3.3-u32.16", models/gan/mobile.h) and its
 * space an ofa_mobile_space (choices per slot, from supernet.space).  No state; not collective. */
#ifndef OFA_MODELS_GAN_ARCH_H
#define OFA_MODELS_GAN_ARCH_H

#include <stddef.h>

#include "models/gan/mobile.h"

typedef struct ofa_gan_arch {
    int ngf, n_blocks;
    int mobile;          /* 1: a MobileResNet subnet, m below (ngf, n_blocks unused) */
    ofa_mobile_arch m;
} ofa_gan_arch;

typedef struct ofa_gan_space {
    int ngf, n_blocks;
    int mobile;          /* 1: a MobileResNet supernet's space, m below */
    ofa_mobile_space m;
    int channels, image_size; /* the MobileResNet's (n_blocks above too), and its stored shape (for its ops) */
    ofa_mobile_arch shape;
} ofa_gan_space;

/* "ngf16-b6" -> a (OFA_E_USAGE naming the text when it is not of that form) */
int ofa_gan_arch_parse(ofa_gan_arch *a, const char *text);
void ofa_gan_arch_print(const ofa_gan_arch *a, char *buf, size_t n);

#endif
