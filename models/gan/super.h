/* models/gan/super: the cyclegan family's MobileResNet generator as a model of its own (a
 * once-for-all supernet, or a standalone subnet exported from one), its space, scoring, inference
 * and the supernet stage's distiller.
 *
 * The model (ofa_model.net) is an ofa_gan_mobile: one elastic ofa_mobile_net translating domain A
 * into domain B (GAN Compression compresses one direction; this family's is A -> B, the teacher's
 * G_A), whose parameters are the model's (ofa_model.p).  Its file: root attribute generator =
 * "mobile", the stored shape as arch text (`mobile_shape`), channels, image_size, n_blocks, class_a,
 * class_b, and /weights/G_A/<state_dict key> (the layout tools/cyclegan_convert.py reads).
 *
 * Supernet (trainers/supernet through the family's ops): the student is made by
 * ofa_gan_supernet_student from OUTPUT_DIR/pruned.h5, else OUTPUT_DIR/student.h5 (the stages
 * before it), else a fresh init from experiment.seed (logged), its kernels grown to 5x5 when
 * supernet.space.kernel holds 5 (a 3x3 kernel becomes the centre of a zero 5x5, the 5to3 matrix
 * identity, so the 3x3 choice is the old kernel), then reordered by L1 importance
 * (models/gan/prune).  The distiller runs the frozen teacher's G_A on a micro-batch of domain-A
 * images and trains each subnet towards its output: loss = supernet.distill.lambda_logit x mean
 * |G_sub(x) - G_A(x)| (output L1).  With supernet.distill.lambda_gan or lambda_feature > 0 the
 * student gets the training companions (a discriminator, from the source file's when it has one,
 * else the teacher's D_A; fresh feature maps to the teacher's residual width, seeded) and each
 * subnet takes GAN Compression's whole distillation step (models/gan/distill: LSGAN +
 * lambda_logit x output L1 + lambda_feature x feature MSE, the discriminator trained on every
 * subnet's fakes), with one teacher forward per micro-batch.
 *
 * Score: FID of the A -> B translations of d's domain-A images against d's real domain-B images on
 * the fidnet's features, lower is better; extras fid_base (untranslated A vs B), ratio, class_AtoB.
 * Not collective. */
#ifndef OFA_MODELS_GAN_SUPER_H
#define OFA_MODELS_GAN_SUPER_H

#include <stdint.h>

#include "core/config.h"
#include "core/h5io.h"
#include "models/family.h"
#include "models/gan/cyclegan.h"
#include "models/gan/mobile.h"

typedef struct ofa_gan_mobile {
    int generator;  /* OFA_GAN_GEN_MOBILE (models/gan/model.h): the first member, as ofa_cyclegan's */
    ofa_mobile_net g; /* A -> B */
    int image_size, class_a, class_b;
    char task[16];
    /* Training companions (the student and prune stages, models/gan/student): a PatchGAN judging
     * domain B (ndf, n_layers) and the feature maps of models/gan/distill (n_taps 1x1 convs from the
     * generator's residual width to map_ct, the teacher's), whose parameters share ONE buffer with
     * the generator's: `all`, views "G_A/<key>", "D/<key>", "maps/map.<k>.*", which is then the
     * model's ofa_model.p (one AdamW, one allreduce, one training state).  Their file adds the root
     * attributes distill_ndf, distill_n_layers, distill_map_ct and /weights/D/..., /weights/maps/...;
     * a reader of the generator alone ignores them.  map_ct 0: no maps (n_taps 0, no /weights/maps).
     * cycle (the plain-CycleGAN student of student.distill false, models/gan/train): also the
     * second generator G_B (B -> A, of the same stored shape) and its discriminator D_B judging
     * domain A (ndf, n_layers), views "G_B/<key>", "D_B/<key>" after the others, in the file root
     * attribute distill_cycle = 1 and /weights/G_B/..., /weights/D_B/... */
    int companions, cycle;
    ofa_gan_net d;
    ofa_params maps;
    ofa_mobile_net g_b;
    ofa_gan_net d_b;
    int ndf, n_layers, n_taps, map_ct;
    ofa_params all;
} ofa_gan_mobile;

/* A model of zeroed weights (5to3 matrices identity) of the stored shape. */
void ofa_gan_mobile_create(ofa_gan_mobile *m, int channels, int image_size, int n_blocks, const ofa_mobile_arch *shape,
                           int class_a, int class_b);
void ofa_gan_mobile_free(ofa_gan_mobile *m);
void ofa_gan_mobile_wrap(ofa_model *m, ofa_gan_mobile *g);
/* Adds the training companions (zero weights; the generator's kept) and moves every parameter into
 * `all`; wrap the model after this.  The maps' input width is the generator's stored down2; map_ct 0:
 * no maps; cycle: G_B and D_B too (see above). */
void ofa_gan_mobile_add_companions(ofa_gan_mobile *g, int ndf, int n_layers, int map_ct, int cycle);
/* m's MobileResNet, or NULL when m is a CycleGAN */
ofa_gan_mobile *ofa_gan_mobile_of(const ofa_model *m);

/* The file: h's root attribute `generator` is "mobile" (1), absent or another value (0). */
int ofa_gan_mobile_in_file(ofa_h5 *h);
int ofa_gan_mobile_read(ofa_model *m, ofa_h5 *h, const char *path);
int ofa_gan_mobile_write(const ofa_gan_mobile *g, ofa_h5 *h);

/* The space of supernet.space's stem, down1, down2, blocks, up1, up2, kernel on g's stored shape
 * (an empty list: the stored value).  OFA_E_CONFIG naming the key and `where` when a choice exceeds
 * the stored one. */
int ofa_gan_mobile_space(ofa_mobile_space *s, const ofa_config *c, const ofa_gan_mobile *g, const char *where);
/* the space holding exactly g's stored shape */
void ofa_gan_mobile_space_of(ofa_mobile_space *s, const ofa_gan_mobile *g);

/* A standalone model of arch a holding its slices of sup (ofa_mobile_extract). */
int ofa_gan_mobile_export(ofa_model *out, const ofa_gan_mobile *sup, const ofa_mobile_arch *a);
/* A -> B translation of n images x [n, C, S, S] by arch a (NULL: the stored shape) in batches. */
void ofa_gan_mobile_translate(const ofa_gan_mobile *g, const ofa_mobile_arch *a, const float *x, int64_t n, int batch,
                              float *y);
int ofa_gan_mobile_score(const ofa_gan_mobile *g, const ofa_mobile_arch *a, ofa_data *d, ofa_score *out);

/* Latency: batch-`batch` forwards of arch a on seeded random images. */
typedef struct ofa_gan_mobile_infer ofa_gan_mobile_infer;
int ofa_gan_mobile_infer_create(ofa_gan_mobile_infer **w, const ofa_gan_mobile *g, const ofa_mobile_arch *a,
                                int batch, uint64_t seed);
void ofa_gan_mobile_infer_run(ofa_gan_mobile_infer *w);
void ofa_gan_mobile_infer_free(ofa_gan_mobile_infer *w);

/* The latency table's ops (family ops table_ops_*, arch_ops): every op shape (kind, channels in and
 * out, image size, kernel, stride, depthwise, 5to3 transform: ofa_mobile_op_key) that an arch of
 * space s produces, each found in a plan of an arch that has it (every pair of adjacent slots'
 * choices, the others largest), timed as the forward runs it: op_run plans that arch and runs one
 * whole forward when the previous op came from another arch (so a table needs warm-up runs), then
 * the op alone on its activations.  arch_ops: the keys of an arch's forward, in order. */
typedef struct ofa_gan_table ofa_gan_table;
int ofa_gan_table_create(ofa_gan_table **o, const ofa_gan_mobile *g, const ofa_mobile_space *s, int batch,
                         uint64_t seed);
int ofa_gan_table_count(const ofa_gan_table *o);
const char *ofa_gan_table_key(const ofa_gan_table *o, int i);
void ofa_gan_table_run(ofa_gan_table *o, int i);
void ofa_gan_table_free(ofa_gan_table *o);
int ofa_gan_arch_ops(int channels, int n_blocks, int image_size, const ofa_mobile_arch *shape, const ofa_mobile_arch *a,
                     ofa_op_visit visit, void *ctx);

/* Conv weights (4-d views) N(0, 0.02) from r, biases (1-d) 0; 2-d views (5to3 matrices) kept. */
struct ofa_rng;
void ofa_gan_init_convs(ofa_params *p, struct ofa_rng *r);

/* The supernet stage's student (see above); teacher: the CycleGAN of teacher.h5. */
int ofa_gan_supernet_student(ofa_model *student, const ofa_model *teacher, const ofa_config *c);

/* The distiller (family ops distill_*): teacher a CycleGAN, student an ofa_gan_mobile. */
int ofa_gan_distill_create(ofa_distiller **d, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                           const ofa_data *train);
void ofa_gan_distill_batch(ofa_distiller *d, const int64_t *idx, int n);
double ofa_gan_distill_subnet(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens);
void ofa_gan_distill_free(ofa_distiller *d);
/* the current micro-batch's inputs and teacher outputs [n, C, S, S] (tests) */
const float *ofa_gan_distill_inputs(const ofa_distiller *d, const float **target, int *n);

#endif
