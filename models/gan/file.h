/* models/gan/file: the model part of a cyclegan family file, both kinds of model (the CycleGAN's
 * four networks under /weights/<net>/<state_dict key> with the shape attributes ngf, ndf, n_blocks,
 * n_layers, channels, image_size, class_a, class_b; or a MobileResNet, models/gan/super.h), read and
 * written for the family's model_read / model_write ops, and a file opened without the generic
 * model-file layer (the family's own stages and commands).  Above model and super, below the
 * family table and the stages, so that none of them reaches another sideways. */
#ifndef OFA_MODELS_GAN_FILE_H
#define OFA_MODELS_GAN_FILE_H

#include "core/config.h"
#include "core/h5io.h"
#include "models/family.h"

int ofa_gan_file_read(ofa_model *m, ofa_h5 *h, const char *path);
int ofa_gan_file_write(const ofa_model *m, ofa_h5 *h);

/* Opens a cyclegan model file (any kind ofa writes) without the generic model-file layer: m (free
 * with the family's model_free, or ofa_cyclegan_close for a CycleGAN) and the config stored in it
 * (defaults when none); a MobileResNet file gives an ofa_gan_mobile (models/gan/super.h: test with
 * ofa_gan_mobile_of).  OFA_E_FORMAT when the file is not a cyclegan's. */
int ofa_cyclegan_open(const char *path, ofa_model *m, ofa_config *cfg);

#endif
