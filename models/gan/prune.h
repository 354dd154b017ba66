/* models/gan/prune: L1-norm channel pruning and importance reordering of the MobileResNet generator
 * (models/gan/mobile.h), as GAN Compression's step 2 and the supernet's reorder before it.
 *
 * Channel sets: the output channels of the stem, of each downsampling, of each upsampling, each
 * block's hidden channels, and the residual stream, which is one set: the second downsampling and
 * every block's second pointwise conv add into it, so one index set is shared by all of them (and by
 * everything that reads the stream: every block's first depthwise and pointwise conv, the first
 * upsampling).  A channel's importance is the L1 norm of the filters that produce it, summed over the
 * dense convs producing its set (for the residual stream: model.7 and every conv_block.6.conv.2);
 * depthwise convs only carry a set along and do not vote.  Ties keep the lower index first.
 *
 * ofa_mobile_gather is the one copy routine: channel j of set s of dst is channel idx[s][j] of src,
 * in every tensor that holds it (a conv's filters and bias, the next conv's input channels, a
 * depthwise conv's filters and bias; the 5to3 matrices are per layer, not per channel, and are copied
 * as they are).  Reorder = gather with each set's importance order (the function is unchanged);
 * prune = gather with its leading kept part (= the reordered net's leading slice).  Not collective. */
#ifndef OFA_MODELS_GAN_PRUNE_H
#define OFA_MODELS_GAN_PRUNE_H

#include "models/gan/mobile.h"

/* Keep ratios in (0, 1] per slot of an arch (hidden: per group of blocks). */
typedef struct ofa_mobile_keep {
    double stem, down1, down2, hidden[OFA_MOBILE_GROUPS_MAX], up1, up2;
} ofa_mobile_keep;

/* Every slot of n_groups groups at ratio r. */
void ofa_mobile_keep_all(ofa_mobile_keep *k, int n_groups, double r);

/* Number of channel sets (OFA_MOBILE_SET_* of mobile.h: 5 + n_blocks) and a set's stored size. */
int ofa_mobile_n_sets(const ofa_mobile_net *net);
int ofa_mobile_set_size(const ofa_mobile_net *net, int set);

/* imp[set size] = the L1 importance of each channel of the set (double sums of |w|). */
void ofa_mobile_l1_importance(const ofa_mobile_net *net, int set, double *imp);
/* order[set size] = the set's channels, most important first. */
void ofa_mobile_l1_order(const ofa_mobile_net *net, int set, int *order);

/* dst (initialized by the caller with its shape, same channels, blocks, groups and kernels as src):
 * channel j of set s = channel idx[s][j] of src, for every s < ofa_mobile_n_sets. */
void ofa_mobile_gather(ofa_mobile_net *dst, const ofa_mobile_net *src, const int *const *idx);

/* Permutes every set of net in place into its L1 order (the function is unchanged). */
void ofa_mobile_reorder(ofa_mobile_net *net);

/* The shape keep gives src: every width max(1, round(ratio * stored)), kernels as stored.
 * OFA_E_USAGE naming the slot when a ratio is outside (0, 1]. */
int ofa_mobile_keep_arch(const ofa_mobile_net *src, const ofa_mobile_keep *keep, ofa_mobile_arch *out);
/* dst (uninitialized) = src pruned by L1 norm to the shape of ofa_mobile_keep_arch: each set keeps
 * its most important channels, in importance order. */
int ofa_mobile_prune(ofa_mobile_net *dst, const ofa_mobile_net *src, const ofa_mobile_keep *keep);

#endif
