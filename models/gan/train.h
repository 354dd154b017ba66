/* models/gan/train: the CycleGAN family's teacher stage (models/family.h teacher_*): one step of
 * the public pytorch-CycleGAN-and-pix2pix CycleGANModel.optimize_parameters on a batch:
 *   G step: fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A),
 *           idt_A = G_A(B), idt_B = G_B(A);
 *           loss_G = MSE(D_A(fake_B), 1) + MSE(D_B(fake_A), 1) + lc |rec_A - A| + lc |rec_B - B|
 *                    + lc li |idt_A - B| + lc li |idt_B - A|     (LSGAN, L1 means; lc = lambda_cycle,
 *                                                                 li = lambda_identity)
 *   D step: loss_D_A = (MSE(D_A(B), 1) + MSE(D_A(pool_B(fake_B)), 0)) / 2, the same for D_B with
 *           real A and pool_A(fake_A); the fakes are detached, taken before the G update.
 * D's weights do not change during the G step, so the G and D gradients are computed on the same
 * weights and applied by one Adam step over the four nets' shared buffer (same lr, same step count:
 * the public project's two Adams with equal settings).  No gradient clipping (the public project has
 * none).  The image pools (teacher.pool_size fakes per domain; once full, each query returns with
 * probability 1/2 a stored fake that the new one replaces) draw from the RNG the stage keys by
 * (seed, step, rank); each training rank keeps the pool of its own part of the batch, and the
 * pools are saved with the training state (teacher_state_get/set), so a resumed run is the
 * uninterrupted one.  Not collective. */
#ifndef OFA_MODELS_GAN_TRAIN_H
#define OFA_MODELS_GAN_TRAIN_H

#include "models/gan/mobile.h"
#include "models/gan/model.h"

/* kind: OFA_TRAIN_TEACHER (the above: a CycleGAN of ResNet generators, model.*), or OFA_TRAIN_STUDENT /
 * OFA_TRAIN_PRUNE (models/gan/student's jobs, which every op below passes on to), except a student of
 * student.distill false: the above with MobileResNet generators of the student's shape (student.arch,
 * else student.ngf and kernel), the student's batch, lr and schedule, no teacher; its model is an
 * ofa_gan_mobile whose G_A is the generator every command reads, with companions D_A, G_B, D_B
 * (models/gan/super.h: cycle) and no feature maps, so its file is a student.h5 like any other. */
int ofa_cg_teacher_create(ofa_teacher_job **j, int kind, const ofa_config *c, ofa_model *m, ofa_data **train,
                          ofa_data **dev);
void ofa_cg_teacher_fingerprint(const ofa_teacher_job *j, char *buf, size_t n);
void ofa_cg_teacher_grads(ofa_teacher_job *j, const int64_t *idx, int n, int total, ofa_rng *rng, double *loss,
                          double *terms, double *tokens);
double ofa_cg_teacher_apply(ofa_teacher_job *j, double lr, ofa_adamw *opt);
void ofa_cg_teacher_free(ofa_teacher_job *j);
/* a CycleGAN's: loss_G, its six terms, loss_D_A, loss_D_B; the distilling kinds': ofa_gs_terms */
const char *const *ofa_cg_teacher_terms(const ofa_teacher_job *j);
size_t ofa_cg_teacher_state_floats(const ofa_teacher_job *j);
void ofa_cg_teacher_state_get(const ofa_teacher_job *j, float *buf);
void ofa_cg_teacher_state_set(ofa_teacher_job *j, const float *buf);

/* The training order of one epoch: item k pairs A image pa[k mod nA] with B image pb[k mod nB] of
 * two permutations drawn from rng, encoded as ia * nB + ib; [max(nA, nB)] items. */
void ofa_cg_epoch_order(const ofa_data *d, int64_t *order, ofa_rng *rng);

/* ---- the step on its own, for tests (the trajectory golden file) ---- */
typedef struct ofa_cg_trainer ofa_cg_trainer;
/* a step's workspace for batches of up to bmax images (lambda_cycle, lambda_identity, pool_size) */
ofa_cg_trainer *ofa_cg_trainer_create(ofa_cyclegan *m, int bmax, double lambda_cycle, double lambda_identity,
                                      int pool_size);
/* The four nets of a step: two generators of one kind (ResNets, or MobileResNets run at their
 * stored shape: the plain-CycleGAN student of student.distill false), two discriminators, all in
 * one parameter buffer (zeroed by each step; every net's grad a range of it). */
typedef struct ofa_cg_nets {
    ofa_gan_net *res[2];    /* G_A, G_B as ResNets, or NULL */
    ofa_mobile_net *mob[2]; /* G_A, G_B as MobileResNets, or NULL */
    ofa_gan_net *d[2];      /* D_A (judges domain B), D_B */
    ofa_params *all;
    int channels, image_size;
} ofa_cg_nets;
ofa_cg_trainer *ofa_cg_trainer_create_nets(const ofa_cg_nets *nets, int bmax, double lambda_cycle,
                                           double lambda_identity, int pool_size);
void ofa_cg_trainer_free(ofa_cg_trainer *t);
/* zeroes the gradients, computes the G and D gradients on real_a, real_b [n, C, S, S] as a part
 * `part` (= n / batch) of a batch (every mean scaled by it, so parts sum to the batch); L[9]: loss_G
 * and its six terms (G_A, G_B, cycle_A, cycle_B, idt_A, idt_B), loss_D_A, loss_D_B (the public
 * project's order) */
void ofa_cg_trainer_grads(ofa_cg_trainer *t, const float *real_a, const float *real_b, int n, double part,
                          ofa_rng *rng, double L[9]);
/* the fakes the last ofa_cg_trainer_grads showed its discriminator, after the pool: domain 0 the
 * fake A images (D_B's), 1 the fake B images (D_A's) */
const float *ofa_cg_trainer_pooled(const ofa_cg_trainer *t, int domain);

#endif
