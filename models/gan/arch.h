/* models/gan/arch: the CycleGAN family's arch and space payloads (models/family.h's unions).
 *
 * A CycleGAN teacher has one architecture, its generator's shape; its canonical text form is
 * "ngf<ngf>-b<n_blocks>" ("ngf16-b6").  The compression issue makes the generator elastic; until
 * then a space holds exactly the model's shape.  No state; not collective. */
#ifndef OFA_MODELS_GAN_ARCH_H
#define OFA_MODELS_GAN_ARCH_H

#include <stddef.h>

typedef struct ofa_gan_arch {
    int ngf, n_blocks;
} ofa_gan_arch;

typedef struct ofa_gan_space {
    int ngf, n_blocks;
} ofa_gan_space;

/* "ngf16-b6" -> a (OFA_E_USAGE naming the text when it is not of that form) */
int ofa_gan_arch_parse(ofa_gan_arch *a, const char *text);
void ofa_gan_arch_print(const ofa_gan_arch *a, char *buf, size_t n);

#endif
