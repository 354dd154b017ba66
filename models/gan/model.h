/* models/gan/model: the CycleGAN family's values behind the interface's opaque ones.
 *
 * The model (ofa_model.net) is an ofa_cyclegan: the four networks of a CycleGAN (G_A: A -> B,
 * G_B: B -> A, D_A judging domain B, D_B judging domain A, the public project's naming) whose
 * parameters live in ONE ofa_params (ofa_model.p), named "G_A/<state_dict key>", ...; each net's
 * own ofa_params points into it (never free or zero those alone).  So AdamW, checkpoints and an
 * allreduce are flat loops over one buffer, and /weights/G_A/model.1.weight is a state_dict key.
 * A data split (struct ofa_data) holds the images of both classes of one split as NCHW floats in
 * [-1, 1].  Used by the family's files; the stages never see it.  No state; not collective. */
#ifndef OFA_MODELS_GAN_MODEL_H
#define OFA_MODELS_GAN_MODEL_H

#include <stdint.h>

#include "datasets/fmnist.h"
#include "models/family.h"
#include "models/gan/cyclegan.h"

enum { OFA_CG_G_A, OFA_CG_G_B, OFA_CG_D_A, OFA_CG_D_B, OFA_CG_NETS };
extern const char *const ofa_cg_net_names[OFA_CG_NETS]; /* "G_A", "G_B", "D_A", "D_B" */

/* What ofa_model.net points to, in the first member of each (0 = an ofa_cyclegan; a MobileResNet
 * generator of models/gan/super.h starts with OFA_GAN_GEN_MOBILE). */
enum { OFA_GAN_GEN_RESNET = 0, OFA_GAN_GEN_MOBILE = 1 };

typedef struct ofa_cyclegan {
    int generator; /* OFA_GAN_GEN_RESNET */
    ofa_gan_net net[OFA_CG_NETS];
    size_t base[OFA_CG_NETS]; /* offset of each net's first float in p */
    ofa_params p;
    int channels, image_size;
    int ngf, ndf, n_blocks, n_layers;
    int class_a, class_b;
    char task[16]; /* "fmnist-7-9": the classes A and B (root attribute task) */
} ofa_cyclegan;

/* the images of one split of both domains */
struct ofa_data {
    ofa_fmnist a, b;  /* x [n, 1, S, S]; after the split's selection */
    int batch;        /* images per translation batch when scoring */
    int split;        /* enum ofa_split */
    char what[192];   /* data_describe */
    char fidnet[2 * OFA_PATH_MAX + 2]; /* the FID feature net scores use: <output_dir>/<fidnet.output> */
    struct ofa_fidnet *net;         /* loaded on the first score (models/gan/score) */
};

/* Creates the four networks with zeroed weights (asserts the shape is valid). */
void ofa_cyclegan_create(ofa_cyclegan *m, int channels, int image_size, int ngf, int ndf, int n_blocks,
                         int n_layers, int class_a, int class_b);
void ofa_cyclegan_free(ofa_cyclegan *m);
/* PyTorch's init_weights('normal', 0.02) of the public project: every conv weight N(0, 0.02),
 * biases 0, from rng. */
void ofa_cyclegan_init_weights(ofa_cyclegan *m, ofa_rng *rng);
/* zero the gradients of net k only (its region of p) */
void ofa_cyclegan_zero_grad(ofa_cyclegan *m, int k);

ofa_cyclegan *ofa_cyclegan_of(const ofa_model *m);
void ofa_cyclegan_wrap(ofa_model *m, ofa_cyclegan *cm);

/* The images of split `split` (enum ofa_split) of config c for classes (class_a, class_b) at
 * image_size: train = the training images of both classes minus a seeded search.val_fraction of
 * each (val, which the teacher is chosen on and no stage trains on); dev = test = the test images
 * (Fashion-MNIST has no dev split); `limit` > 0 keeps the first limit of each class. */
int ofa_cyclegan_data_open(ofa_data **out, const ofa_config *c, int class_a, int class_b, int image_size,
                           int split, int64_t limit);
void ofa_cyclegan_data_free(ofa_data *d);
/* The two splits every training stage of the family uses, of config c's classes and image size:
 * train (data.train_limit) and val (search.val_limit), which it is chosen on; both or neither. */
int ofa_cyclegan_stage_data(const ofa_config *c, ofa_data **train, ofa_data **val);

/* Frees a CycleGAN model opened by ofa_cyclegan_open (models/gan/file.h). */
void ofa_cyclegan_close(ofa_model *m);

/* Translates n images x [n, 1, S, S] of domain A (dir 0, by G_A) or B (dir 1, by G_B) into y, in
 * batches of `batch` on the model's weights (any B); rec (may be NULL): the images translated back. */
void ofa_cyclegan_translate(const ofa_cyclegan *m, int dir, const float *x, int64_t n, int batch, float *y,
                            float *rec);

#endif
