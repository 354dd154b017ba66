/* models/gan/mobile: GAN Compression's MobileResnetGenerator as an elastic (once-for-all) network.
 *
 * The network (mit-han-lab/gan-compression, models/modules/resnet_architecture/
 * mobile_resnet_generator.py, with norm_layer = InstanceNorm2d without affine, hence biases on every
 * conv; reflection padding; dropout 0), C image channels:
 *     model.1   ReflectionPad2d(3) + Conv 7x7 C -> stem, IN, ReLU
 *     model.4   Conv 3x3 stride 2 pad 1 stem -> down1, IN, ReLU
 *     model.7   Conv 3x3 stride 2 pad 1 down1 -> down2 (the residual width), IN, ReLU
 *     model.{10+i}, i < n_blocks, a MobileResnetBlock of group g(i):
 *         x + IN(SepConv_6(pad(ReLU(IN(SepConv_1(pad(x)))))))
 *       with SepConv_j = conv_block.j.conv.{0,1,2}: depthwise KxK (reflection pad K/2 before it), IN,
 *       pointwise 1x1; SepConv_1 maps down2 -> hidden[g], SepConv_6 hidden[g] -> down2 (index 4 is
 *       the block's Dropout, which has no parameters).
 *     model.{10+nb}, model.{13+nb}  ConvTranspose 3x3 stride 2 pad 1 output_padding 1
 *               down2 -> up1 -> up2, each IN, ReLU
 *     model.{17+nb}  ReflectionPad2d(3) + Conv 7x7 up2 -> C, tanh
 * Parameters are named by that module's state_dict keys ("model.10.conv_block.1.conv.0.weight", ...),
 * in state_dict order, in one ofa_params the net owns.  GAN Compression's network is the shape
 * stem = ngf, down1 = 2 ngf, down2 = hidden = 4 ngf, up1 = 2 ngf, up2 = ngf, kernel 3
 * (ofa_mobile_shape_ngf); its n_blocks // 3, n_blocks // 3, rest split of the blocks into three
 * groups is the rule for any number of groups (ofa_mobile_block_group).
 *
 * Elastic: a subnet (ofa_mobile_arch) uses leading slices of every stored weight (channels per slot:
 * stem, down1, down2, the hidden width of each group of blocks, up1, up2) and a depthwise kernel per
 * group.  A group stored with 5x5 depthwise kernels carries, per depthwise conv, a 9x9 transform
 * `<conv>.5to3_matrix` (the once-for-all paper's kernel transformation, identity at init): a 3x3
 * choice uses w3[c] = M centre3x3(w5[c]) (flattened taps, F.linear(centre, M) in PyTorch), and
 * backward carries the gradient into the centre taps and into M.  The transformed kernels live in
 * the activation arena.
 *
 * Text form of an arch (parse and print round-trip):  c<stem>.<down1>.<down2>-b<hidden per group>
 * -k<kernel per group>-u<up1>.<up2>, e.g. c16.32.64-b48.48.48-k5.3.3-u32.16 (three groups).
 *
 * Activations follow models/gan/cyclegan.h: one arena per ofa_mobile_acts sized once for the stored
 * shape on (Bmax, H, W); a forward of any arch re-plans the op list in place (no allocation) and
 * backward ACCUMULATES into net->p.grad.  Not collective; a net may serve several acts. */
#ifndef OFA_MODELS_GAN_MOBILE_H
#define OFA_MODELS_GAN_MOBILE_H

#include <stddef.h>
#include <stdint.h>

#include "nn/conv.h"
#include "nn/params.h"

#define OFA_MOBILE_GROUPS_MAX 8
#define OFA_MOBILE_CHOICES_MAX 16
#define OFA_MOBILE_ARCH_TEXT_MAX 160

/* A subnet choice, or (as a net's `shape`) the stored widths and kernels. */
typedef struct ofa_mobile_arch {
    int n_groups;
    int stem, down1, down2;              /* c: the stem's and the two downsamplings' channels */
    int hidden[OFA_MOBILE_GROUPS_MAX];   /* b: each group's inner width of its blocks */
    int kernel[OFA_MOBILE_GROUPS_MAX];   /* k: each group's depthwise kernel (3 or 5) */
    int up1, up2;                        /* u: the two upsamplings' channels */
} ofa_mobile_arch;

/* The choices of every slot of a search space (each list ascending, no repeats). */
typedef struct ofa_mobile_choices {
    int v[OFA_MOBILE_CHOICES_MAX];
    int n;
} ofa_mobile_choices;

typedef struct ofa_mobile_space {
    int n_groups;
    ofa_mobile_choices stem, down1, down2, hidden, kernel, up1, up2; /* hidden, kernel: for every group */
} ofa_mobile_space;

typedef struct ofa_mobile_net {
    int channels;          /* image channels in and out */
    int n_blocks;
    ofa_mobile_arch shape; /* stored widths and kernels = the largest subnet */
    ofa_params p;
} ofa_mobile_net;

/* GAN Compression's MobileResnetGenerator(ngf): stem ngf, down1 2 ngf, down2 and every hidden
 * 4 ngf, up1 2 ngf, up2 ngf, every group's kernel `kernel`. */
void ofa_mobile_shape_ngf(ofa_mobile_arch *s, int ngf, int n_groups, int kernel);
/* Group of block i: the first n_groups - 1 groups hold n_blocks / n_groups blocks each, the last
 * the rest (GAN Compression's 3/3/3 of 9 blocks). */
int ofa_mobile_block_group(int n_blocks, int n_groups, int i);

/* Creates the parameters (zeroed; the 5to3 matrices set to identity).  Asserts a valid shape
 * (positive widths, kernels 3 or 5, 1 <= n_groups <= min(n_blocks, OFA_MOBILE_GROUPS_MAX)). */
void ofa_mobile_net_init(ofa_mobile_net *n, int channels, int n_blocks, const ofa_mobile_arch *shape);
void ofa_mobile_net_free(ofa_mobile_net *n);

/* ---- arch values ---- */

/* Canonical text; OFA_E_USAGE naming the text and character on a syntax error. */
int ofa_mobile_arch_parse(ofa_mobile_arch *a, const char *text);
/* Writes the canonical text (at most OFA_MOBILE_ARCH_TEXT_MAX bytes with the NUL). */
void ofa_mobile_arch_print(const ofa_mobile_arch *a, char *buf, size_t n);
/* An arch the net runs: same group count, every width in 1..stored, every kernel 3 or 5 and at most
 * the stored one.  OFA_E_USAGE naming the slot otherwise. */
int ofa_mobile_arch_check(const ofa_mobile_arch *a, const ofa_mobile_net *net);
/* An arch of the space: every value one of its slot's choices (OFA_E_USAGE naming the slot). */
int ofa_mobile_space_check(const ofa_mobile_space *s, const ofa_mobile_arch *a);
/* The space's largest / smallest arch. */
void ofa_mobile_space_largest(const ofa_mobile_space *s, ofa_mobile_arch *a);
void ofa_mobile_space_smallest(const ofa_mobile_space *s, ofa_mobile_arch *a);
/* Sampling for the supernet's step plan and the evolutionary search.  A slot is elastic when its
 * kind is (widths: stem, down1, down2, hidden, up1, up2; kernels: each group's kernel); a slot that
 * is not takes its largest choice.  random: each elastic slot uniform over its choices; mutate: each
 * elastic slot of the parent resampled with probability prob; crossover: each slot from p1 or p2
 * with probability 1/2.  Deterministic given the rng state. */
struct ofa_rng;
void ofa_mobile_arch_random(ofa_mobile_arch *a, const ofa_mobile_space *s, int widths, int kernels,
                            struct ofa_rng *rng);
void ofa_mobile_arch_mutate(ofa_mobile_arch *c, const ofa_mobile_arch *parent, const ofa_mobile_space *s, int widths,
                            int kernels, double prob, struct ofa_rng *rng);
void ofa_mobile_arch_crossover(ofa_mobile_arch *c, const ofa_mobile_arch *p1, const ofa_mobile_arch *p2,
                               struct ofa_rng *rng);
/* Parameters of the standalone subnet (conv weights and biases; a 3x3 choice's kernel already
 * transformed, so no matrices) and its multiply-accumulates on one C x H x W image, counted as GAN
 * Compression's profile (torchprofile) counts them: per conv, output elements x input channels per
 * group x K x K; a transposed conv's input channels are its in_channels. */
int64_t ofa_mobile_arch_params(int channels, int n_blocks, const ofa_mobile_arch *a);
int64_t ofa_mobile_arch_macs(int channels, int n_blocks, const ofa_mobile_arch *a, int H, int W);

/* A standalone net of arch's shape holding its slices of src (dst uninitialized): every width a
 * leading slice, a 3x3 choice of a 5x5 group baked (w3 = M centre(w5); the dst group stores 3x3
 * kernels and no matrix), other kernels and matrices copied.  Its full forward equals src's forward
 * of arch.  OFA_E_USAGE when arch does not fit src. */
int ofa_mobile_extract(ofa_mobile_net *dst, const ofa_mobile_net *src, const ofa_mobile_arch *arch);

/* ---- forward / backward ---- */

typedef enum {
    OFA_MOBILE_OP_CONV, OFA_MOBILE_OP_CONVT, OFA_MOBILE_OP_INORM, OFA_MOBILE_OP_RELU, OFA_MOBILE_OP_TANH,
    OFA_MOBILE_OP_ADD, OFA_MOBILE_OP_COUNT
} ofa_mobile_op_kind;

/* Channel sets, for pruning and reordering: which index set a conv's input and output channels
 * belong to.  The residual stream (down2) is one set; each block's hidden channels are their own. */
enum { OFA_MOBILE_SET_IMAGE = -1, OFA_MOBILE_SET_STEM = 0, OFA_MOBILE_SET_DOWN1, OFA_MOBILE_SET_RESID,
       OFA_MOBILE_SET_UP1, OFA_MOBILE_SET_UP2, OFA_MOBILE_SET_HIDDEN0 /* + block index */ };

typedef struct ofa_mobile_op {
    ofa_mobile_op_kind kind;
    nn_conv2d_dims d;       /* B = Bmax; wc = the stored weight's second dimension */
    int w, b, mat;          /* parameter views (convs; mat: the 5to3 matrix of a 3x3 choice), else -1 */
    int transformed;        /* a 3x3 choice of a stored 5x5 depthwise kernel (also in a plan without a net) */
    int set_in, set_out;    /* channel sets (convs) */
    size_t kw;              /* a transformed kernel: offset in the kernel area */
    int in, in2, out;       /* buffers (0 = the input image); in2: the residual of an ADD */
    size_t stats;           /* INORM: mean [Bmax*C] then rstd [Bmax*C] in the stats area */
} ofa_mobile_op;

typedef struct ofa_mobile_buf {
    int C, H, W;
    size_t off;
} ofa_mobile_buf;

typedef struct ofa_mobile_acts {
    int Bmax, H, W;
    ofa_mobile_arch arch; /* of the current plan */
    ofa_mobile_op *ops;
    int n_ops, cap_ops;
    ofa_mobile_buf *buf;
    int n_buf, cap_buf;
    float *arena;         /* act | dact | stats | kw | dkw | scratch */
    float *act, *dact, *stats, *kw, *dkw, *scratch;
    size_t n_act, n_stats, n_kw, n_scratch;           /* of the current plan */
    size_t cap_act, cap_stats, cap_kw, cap_scratch;   /* allocated (the stored shape's plan) */
    int B;
} ofa_mobile_acts;

/* Plans the stored shape on (Bmax, H, W) and allocates the arena; H, W divisible by 4 and >= 12
 * (reflection padding of a 5x5 kernel at H/4). */
void ofa_mobile_acts_create(ofa_mobile_acts *a, const ofa_mobile_net *net, int Bmax, int H, int W);
void ofa_mobile_acts_free(ofa_mobile_acts *a);
/* Re-plans a for arch (NULL: the stored shape); asserts ofa_mobile_arch_check passes. */
void ofa_mobile_plan(ofa_mobile_acts *a, const ofa_mobile_net *net, const ofa_mobile_arch *arch);

/* The ops of arch on the stored shape at (Bmax, H, W), planned without a net (no parameters looked
 * up, no arena): for counting and op keys.  Free with ofa_mobile_acts_free. */
void ofa_mobile_plan_shape(ofa_mobile_acts *a, int channels, int n_blocks, const ofa_mobile_arch *shape,
                           const ofa_mobile_arch *arch, int Bmax, int H, int W);
/* Op i's key in a latency table: its kind and geometry, "conv C8 O16 H32 W32 K3 s2 dense",
 * "conv C16 O16 H8 W8 K3 s1 dw 5to3" (a depthwise 3x3 choice of a stored 5x5, transform included),
 * "inorm C16 H8 W8". */
void ofa_mobile_op_key(const ofa_mobile_acts *a, int i, char *buf, size_t n);
/* Runs op i of the current plan (the forward's step i, on a->B images): the forward is these in order. */
void ofa_mobile_op_run(const ofa_mobile_net *net, ofa_mobile_acts *a, int i);

/* x [B, channels, H, W] -> [B, channels, H, W] (into the arena, valid until the next forward), for
 * subnet arch (NULL: the stored shape).  B <= Bmax. */
const float *ofa_mobile_forward(const ofa_mobile_net *net, ofa_mobile_acts *a, const ofa_mobile_arch *arch,
                                const float *x, int B);
/* net->p.grad += d/dparams of the last forward's subnet (its slices only), dx += d/dx when given. */
void ofa_mobile_backward(ofa_mobile_net *net, ofa_mobile_acts *a, const float *dy, float *dx);
/* The same with more terms of the loss on intermediate activations: seeds[k] (the shape of buffer
 * bufs[k] of the plan, batch of the last forward) is that buffer's gradient from them (feature
 * distillation, models/gan/distill). */
void ofa_mobile_backward_seeded(ofa_mobile_net *net, ofa_mobile_acts *a, const float *dy, float *dx, int n_seeds,
                                const int *bufs, const float *const *seeds);

/* Latency of batch-1 forwards of arch (NULL: the stored shape) on x [1, channels, H, W]: `warmup`
 * untimed runs, then `repeats` timed ones; median, min and max in milliseconds.  Threads are the
 * caller's (ofa_set_blas_threads); the direct depthwise loops run on the calling thread. */
typedef struct ofa_mobile_timing {
    double median_ms, min_ms, max_ms;
    int repeats;
} ofa_mobile_timing;
void ofa_mobile_time_forward(const ofa_mobile_net *net, ofa_mobile_acts *a, const ofa_mobile_arch *arch, const float *x,
                             int warmup, int repeats, ofa_mobile_timing *t);

#endif
