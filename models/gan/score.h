/* models/gan/score: a CycleGAN's score on a split: FID of translated images against the real
 * images of the target class of the same split, both directions, on the features of the
 * project's FID feature net (models/gan/fidnet, the file d->fidnet, loaded on first use).
 * metric = the mean of the two FIDs (lower is better); extras: fid_AtoB, fid_BtoA, fid_base (FID of
 * the untranslated classes, the same both ways), ratio_AtoB, ratio_BtoA (FID / fid_base),
 * class_AtoB, class_BtoA (share of translated images the net classifies as the target class).
 * OFA_E_IO naming the file when the net is missing. */
#ifndef OFA_MODELS_GAN_SCORE_H
#define OFA_MODELS_GAN_SCORE_H

#include "models/gan/model.h"

int ofa_cyclegan_score(const ofa_cyclegan *m, ofa_data *d, ofa_score *out);

#endif
