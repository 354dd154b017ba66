/* models/gan/student: the cyclegan family's student and prune stages (GAN Compression's steps 1 and
 * 2), as training jobs of the teacher stage's data-parallel loop (trainers/teacher through the
 * family's teacher-job ops of kinds OFA_TRAIN_STUDENT and OFA_TRAIN_PRUNE).
 *
 *   student  OUTPUT_DIR/teacher.h5 (a CycleGAN) held frozen; the model trained is GAN Compression's
 *            MobileResnetGenerator(student.ngf, 0 = the teacher's ngf; depthwise kernel
 *            student.kernel), or the shape student.arch, with conv weights N(0, 0.02) from
 *            experiment.seed; or student.init's MobileResNet, its shape and weights (GAN Compression's
 *            fine-tuning of a searched subnet; its discriminator too when it has one of the
 *            teacher's shape), distilled from the
 *            teacher's G_A (models/gan/distill: student.lambda_gan x LSGAN + student.lambda_recon x
 *            output L1 + student.lambda_distill x feature MSE through learned 1x1 maps), against a
 *            discriminator that starts as the teacher's D_A (it judges domain B).
 *   prune    OUTPUT_DIR/student.h5 held frozen; the model trained is that student L1-pruned to
 *            prune.keep of every channel slot (models/gan/prune: one index set per residual stream),
 *            distilled from the unpruned student with prune.lambda_* (fresh maps to the student's
 *            residual width), against the student's trained discriminator.
 * Either model is a MobileResNet (models/gan/super.h) with training companions (the discriminator
 * and the maps in the generator's parameter buffer), so the loop's one allreduce and one Adam step
 * cover all three, and its files (student.h5, pruned.h5, their training states) are MobileResNet
 * files every command reads; the best weights are chosen by FID on the held-out training images
 * (the val split), as the teacher's.  Batches are the teacher's: the epoch order pairs an A image
 * with a B image (ofa_cg_epoch_order), A feeds the generators, B the discriminator's real side.
 * No state beyond the weights and Adam's (no image pool).  Not collective. */
#ifndef OFA_MODELS_GAN_STUDENT_H
#define OFA_MODELS_GAN_STUDENT_H

#include "models/gan/mobile.h"
#include "models/gan/model.h"

typedef struct ofa_gs_job ofa_gs_job;

/* kind: OFA_TRAIN_STUDENT or OFA_TRAIN_PRUNE (models/family.h); m gets the model trained, train
 * the training split, dev the val split the best weights are chosen on (the caller frees them). */
int ofa_gs_create(ofa_gs_job **j, int kind, const ofa_config *c, ofa_model *m, ofa_data **train, ofa_data **dev);
void ofa_gs_fingerprint(const ofa_gs_job *j, char *buf, size_t n);
/* zeroes every gradient, then the distillation step's on the batch items idx[0..n) as a part n /
 * total of a batch; *loss: the part's loss_G (its three terms) + loss_D; terms: ofa_gs_terms' */
void ofa_gs_grads(ofa_gs_job *j, const int64_t *idx, int n, int total, double *loss, double *terms, double *tokens);
double ofa_gs_apply(ofa_gs_job *j, double lr, ofa_adamw *opt);
void ofa_gs_free(ofa_gs_job *j);
extern const char *const ofa_gs_terms[]; /* "G_gan", "recon", "distill", "D" */
/* The student's shape of a generator with n_blocks blocks: student.arch (its group count must be
 * min(n_blocks, 3)), else MobileResnetGenerator(student.ngf, 0 = ngf) with student.kernel;
 * OFA_E_CONFIG naming the key. */
int ofa_gs_shape(const ofa_config *c, int n_blocks, int ngf, ofa_mobile_arch *shape);

#endif
