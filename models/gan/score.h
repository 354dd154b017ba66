/* models/gan/score: a CycleGAN's score on a split: FID of translated images against the real
 * images of the target class, both directions, on the features of the project's fidnet. */
#ifndef OFA_MODELS_GAN_SCORE_H
#define OFA_MODELS_GAN_SCORE_H

#include "models/gan/model.h"

int ofa_cyclegan_score(const ofa_cyclegan *m, ofa_data *d, ofa_score *out);

#endif
