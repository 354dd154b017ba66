/* models/gan/fidnet: the FID feature net, a small CNN classifier of the ten Fashion-MNIST classes
 * whose penultimate features FID is computed on (the role Inception-v3's pool features play for
 * photographs), and FID of image sets on those features.
 *
 *   conv1   Conv 3x3 stride 1 pad 1, 1 -> C, no bias; norm1 InstanceNorm2d(affine); ReLU
 *   conv2   Conv 3x3 stride 2 pad 1, C -> 2C, no bias; norm2 InstanceNorm2d(affine); ReLU
 *   conv3   Conv 3x3 stride 2 pad 1, 2C -> 4C, no bias; norm3 InstanceNorm2d(affine); ReLU
 *   fc1     Linear 4C * S3 * S3 -> D over the flattened [4C, S3, S3] map (S3 = the side after two
 *           stride-2 convs): its output is the D features FID uses
 *   fc2     ReLU, then Linear D -> 10: the logits
 * The features are taken before the ReLU: ReLU units that training left dead (a quarter of the
 * default net's) would otherwise be constant zero features, leaving a rank-deficient covariance;
 * before it, every unit varies with the image.
 * C = fidnet.channels, D = fidnet.features, input [B, 1, S, S] in [-1, 1] with S =
 * fidnet.image_size (the 28x28 images centred, padded with -1, as datasets/fmnist makes them).
 * Parameters are named like the PyTorch module of the same layers (`conv1.weight`, `norm1.weight`,
 * `norm1.bias`, ..., `fc2.bias`; tests/golden/make_golden_fidnet.py), in one ofa_params; weights
 * are initialized like PyTorch's defaults (uniform +-1/sqrt(fan_in); norms 1 and 0) from a seed.
 * Instance norm eps 1e-5.  The net's hash is FNV-1a over its shape and weights: it names the
 * features, so cached real statistics made by another net are recomputed.
 *
 * The file (fidnet.h5): root attributes format = "ofa-fidnet", format_version 1, kind = "fidnet",
 * model = "fidnet", channels, features, image_size, classes, hash ("fnv1a:<16 hex digits>"),
 * test_accuracy, test_images, train_images, steps, epochs, train_seconds, seed, created,
 * config_yaml; datasets /weights/<name> float32.  Written atomically (core/h5io).
 *
 * Statistics cache: the mean and covariance of the features of one Fashion-MNIST class of one IDX
 * file, in "<dir>/fid_stats_<IDX file name>_c<K>.h5" (`/fid/mu` [D], `/fid/sigma` [D, D] float64,
 * root attributes format = "ofa-fid-stats", net_hash, features, source, source_bytes, class, n);
 * dir is the folder of the fidnet file unless the caller names another.  A cache whose net_hash,
 * features, source, size or class differs is recomputed and rewritten; a cache that cannot be written is only
 * warned about.
 *
 * Not collective; a net may be shared by several threads each with its own acts.
 */
#ifndef OFA_MODELS_GAN_FIDNET_H
#define OFA_MODELS_GAN_FIDNET_H

#include <stdint.h>

#include "core/config.h"
#include "nn/params.h"

#define OFA_FIDNET_CLASSES 10
#define OFA_FIDNET_FORMAT "ofa-fidnet"
#define OFA_FIDNET_KIND "fidnet"
#define OFA_FID_STATS_FORMAT "ofa-fid-stats"
/* which activation the features are (the cache records it): fc1's output before its ReLU */
#define OFA_FIDNET_FEATURES "fc1"

typedef struct ofa_fidnet {
    int channels, features, image_size;
    int s2, s3;               /* sides after conv2 and conv3 */
    ofa_params p;
    /* from the file (0 / "" for a fresh net) */
    double test_accuracy;
    char path[OFA_PATH_MAX];
} ofa_fidnet;

/* Activations and their gradients for batches up to Bmax, in one allocation. */
typedef struct ofa_fidnet_acts {
    int Bmax, B;
    float *arena;
    float *c1, *n1, *r1, *c2, *n2, *r2, *c3, *n3, *r3, *h, *f, *logits; /* forward */
    float *st1, *st2, *st3;   /* instance-norm mean | rstd, [2, Bmax * channels] each */
    float *g1, *g2, *gf, *gl; /* gradients: two map buffers (ping-pong over the stages), features, logits */
    float *gt;                /* the gradient of fc1's output [B, D] (sized for a map too) */
    float *scratch;           /* conv scratch */
} ofa_fidnet_acts;

/* A fresh net (uniform init from seed); asserts channels >= 1, features >= 2, image_size >= 8. */
void ofa_fidnet_init(ofa_fidnet *n, int channels, int features, int image_size, uint64_t seed);
void ofa_fidnet_free(ofa_fidnet *n);
/* "fnv1a:0123456789abcdef" of the shape and the weights, into buf (>= 24 bytes). */
void ofa_fidnet_hash(const ofa_fidnet *n, char *buf, size_t len);

void ofa_fidnet_acts_create(ofa_fidnet_acts *a, const ofa_fidnet *n, int Bmax);
void ofa_fidnet_acts_free(ofa_fidnet_acts *a);
/* x [B, 1, S, S] -> a->h [B, D] features (fc1's output), a->f = ReLU(a->h) and a->logits [B, 10];
 * B <= Bmax. */
void ofa_fidnet_forward(const ofa_fidnet *n, ofa_fidnet_acts *a, const float *x, int B);
/* Softmax cross-entropy of the last forward against labels (mean over B); when backward is set,
 * n->p.grad += its gradient (backward accumulates, like nn/).  Returns the loss. */
double ofa_fidnet_loss(ofa_fidnet *n, ofa_fidnet_acts *a, const float *x, const int32_t *labels, int backward);

/* Writes the net with its training record (cfg may be NULL: no config_yaml, seed 0). */
typedef struct ofa_fidnet_record {
    double test_accuracy, epochs, train_seconds;
    int64_t test_images, train_images, steps;
} ofa_fidnet_record;
int ofa_fidnet_write(const ofa_fidnet *n, const char *path, const ofa_fidnet_record *r, const ofa_config *cfg);
/* Reads a fidnet file: OFA_E_IO when missing, OFA_E_FORMAT when it is not a fidnet file, its
 * shape attributes are invalid or its weights do not match its stored hash. */
int ofa_fidnet_read(ofa_fidnet *n, const char *path);

/* Features [n, D] (float64) of images x [N, C, H, W]: OFA_E_DATA naming `what` when C != 1 or
 * H, W differ from the net's image size. */
int ofa_fidnet_features(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W, const char *what,
                        double *feat);
/* Class of each image (argmax of the logits) into pred [N] (same checks). */
int ofa_fidnet_classify(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W, const char *what,
                        int32_t *pred);
/* Mean and covariance of the features of class cls of the IDX pair (images_path, labels_path),
 * through the cache in cache_dir (NULL: the net file's folder; "" : no cache); `tag` names the
 * cache file (NULL: the images file's name, which ofa fid and ofa eval share).  mu [D] and
 * sigma [D, D] are caller-allocated; *n_images (may be NULL) gets the class's image count. */
int ofa_fidnet_class_stats(const ofa_fidnet *n, const char *images_path, const char *labels_path, int cls,
                           const char *tag, const char *cache_dir, double *mu, double *sigma, int64_t *n_images);

/* For `ofa eval` on a generator: FID of images x [N, C, H, W] against the real images of
 * Fashion-MNIST class cls of split ("test" or "train") in fmnist_dir, and the share of x the net
 * classifies as class `target` (share may be NULL).  cache_dir as for ofa_fidnet_class_stats.
 * OFA_E_DATA when N < 2 or the images are not the net's size; OFA_E_CONFIG for a class outside
 * 0-9; the IDX errors of datasets/fmnist. */
int ofa_fidnet_fid_vs_class(const ofa_fidnet *n, const float *x, int64_t N, int C, int H, int W,
                            const char *fmnist_dir, const char *split, int cls, int target, const char *cache_dir,
                            double *fid, double *share);

/* Test accuracy on all ten classes of the IDX pair (limit > 0: the first limit images). */
int ofa_fidnet_accuracy(const ofa_fidnet *n, const char *fmnist_dir, int64_t limit, double *acc, int64_t *count);

/* `ofa fidnet CONFIG`: trains on the train split per fidnet.*, writes the file, returns 0 or an
 * error; *out (may be NULL) receives the written record. */
int ofa_fidnet_train(const ofa_config *cfg, const char *out_path, ofa_fidnet_record *out);

#endif
