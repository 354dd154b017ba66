/* models/bert/arch: subnets of a BERT supernet and the space they are drawn from.
 *
 * An arch keeps `depth` of the supernet's L layers (which ones: the depth rule), and for each kept
 * layer a number of heads and an FFN width (leading slices of the largest weights), plus the hidden
 * size.  Its canonical text form is used everywhere (CLI, CSV, logs, HDF5 attributes, file names):
 *     d3-h4.2.1-f1024.512.256        depth 3, heads and FFN width of each kept layer, in order
 *     d3-h4.2.1-f1024.512.256-e192   the same with hidden size 192 (only when hidden is elastic
 *                                    or differs from the supernet's)
 * Depth d of L keeps layers floor((i+1)*L/d)-1 for i = 0..d-1 (DynaBERT's rule: L=4, d=2 keeps 1
 * and 3), or the first d layers with depth_rule "first".
 * The space (supernet.space in the config) lists the allowed depths, heads, FFN widths and hidden
 * sizes; an arch is in the space when every value is one of the listed ones.
 */
#ifndef OFA_MODELS_BERT_ARCH_H
#define OFA_MODELS_BERT_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/rng.h"

#define OFA_MAX_LAYERS 48
#define OFA_ARCH_TEXT_MAX 512

typedef struct ofa_bert_arch {
    int depth;                   /* kept layers */
    int layer[OFA_MAX_LAYERS];   /* index of kept layer i in the supernet, increasing */
    int heads[OFA_MAX_LAYERS];   /* heads of kept layer i */
    int ffn[OFA_MAX_LAYERS];     /* FFN width of kept layer i */
    int hidden;                  /* hidden size (== the supernet's unless hidden is elastic) */
} ofa_bert_arch;

typedef struct ofa_bert_space {
    int L, A, F, H;              /* the supernet (teacher) shape */
    int rule;                    /* ofa_depth_rule (core/config.h) */
    int depth[16], n_depth;      /* sorted ascending, unique */
    int heads[16], n_heads;
    int ffn[16], n_ffn;
    int hidden[16], n_hidden;    /* n_hidden == 0: hidden not elastic (always H) */
    int D, C;                    /* head size and outputs of the model (latency ops); 0 = not set */
} ofa_bert_space;

/* Every layer, every head, the full FFN and hidden size. */
void ofa_bert_arch_full(ofa_bert_arch *a, int layers, int heads, int ffn, int hidden);
/* The kept layer indices of depth d of L under rule, into out[0..d). */
void ofa_bert_arch_kept_layers(int L, int d, int rule, int *out);

/* Builds a space from lists (copied, sorted, deduplicated) and checks it fits the supernet:
 * every depth in [1, L], heads in [1, A], ffn in [1, F], hidden in [1, H] (and a multiple of... no
 * constraint beyond the range).  Errors are OFA_E_CONFIG naming "supernet.space.<key>" and the
 * offending value and limit.  `rule` is an ofa_depth_rule. */
int ofa_bert_space_init(ofa_bert_space *s, int L, int A, int F, int H, int rule, const int *depth, int n_depth,
                   const int *heads, int n_heads, const int *ffn, int n_ffn, const int *hidden, int n_hidden);

/* Text form (see above).  The hidden part is printed when a->hidden != H.  A list of one value is
 * accepted as the shorthand for every kept layer: "d2-h2-f512" parses as "d2-h2.2-f512.512" (and
 * prints back in that canonical per-layer form). */
void ofa_bert_arch_print(const ofa_bert_arch *a, int H, char *buf, size_t n);
/* Parses the text form against a supernet of L layers and hidden H under rule; fills the kept
 * layers (a is untouched on error; "-e<H>" is accepted and prints back without it).  Malformed text (e.g. "d3-h4.2-f1,2,3", counts not matching the depth, zero or negative
 * values, trailing junk) is OFA_E_USAGE with a message quoting the text and saying what was
 * expected at which character. */
int ofa_bert_arch_parse(ofa_bert_arch *a, const char *text, int L, int H, int rule);
/* 0 when a is in the space (values in the lists, hidden in the hidden list or == H when that list is
 * empty, kept layers those of the space's rule); else OFA_E_USAGE naming the first value outside it
 * and the nearest arch of the space, e.g. "arch 'd3-h4.3.1-f1024.512.256': layer_01 has 3 heads; the
 * space allows 1, 2, 4 (nearest arch in the space: d3-h4.2.1-f1024.512.256)". */
int ofa_bert_arch_check(const ofa_bert_arch *a, const ofa_bert_space *s);
/* The arch of space s nearest to a (a->depth >= 1): the nearest allowed depth (its kept layers by the
 * space's rule; layers beyond a's depth repeat a's last values), then each head count, FFN width and
 * the hidden size snapped to the nearest allowed value (ties: the smaller). */
void ofa_bert_arch_nearest(ofa_bert_arch *out, const ofa_bert_arch *a, const ofa_bert_space *s);

/* Elastic dimensions (OR of ofa_elastic from core/config.h: width = heads and FFN, depth, hidden);
 * a dimension that is not elastic takes its largest value.  Largest = the maximum of each list
 * (hidden: of the hidden list, H when it is empty), same heads and FFN on every kept layer. */
void ofa_bert_arch_largest(ofa_bert_arch *a, const ofa_bert_space *s);
void ofa_bert_arch_smallest(ofa_bert_arch *a, const ofa_bert_space *s, int elastic);
/* Uniformly random: depth from the space (if elastic), then heads and FFN width per kept layer
 * independently (if width is elastic; drawn heads[0], ffn[0], heads[1], ...), hidden (if elastic
 * and the hidden list is not empty).  Dimensions that are not elastic draw nothing from rng. */
void ofa_bert_arch_random(ofa_bert_arch *a, const ofa_bert_space *s, int elastic, ofa_rng *rng);

/* DynaBERT's grid: width multipliers x depths.  Width rank wi (one of the space's head counts, in
 * ascending order) gives heads = heads[wi] on every kept layer and the FFN choice of the matching
 * rank, ends to ends: ffn[round(wi * (n_ffn-1) / (n_heads-1))] (halves up; the largest FFN when
 * n_heads == 1), so the narrowest width takes the narrowest FFN and the widest the widest; hidden is
 * the largest.  The grid has n_depth x n_heads archs, index = di * n_heads + wi.
 * Returns the number of grid points; fills a (may be NULL to just count). */
int ofa_bert_arch_grid(ofa_bert_arch *a, const ofa_bert_space *s);

/* The space of config c (supernet.space) checked against a model of L layers, A heads, FFN F and
 * hidden H; `where` names the model file in messages (OFA_E_CONFIG). */
int ofa_bert_space_from_config(ofa_bert_space *s, const ofa_config *c, int L, int A, int F, int H, const char *where);

/* The grid points a phase with elastic mask `elastic` allows (depth fixed at the largest unless
 * depth is elastic, width at the widest unless width is); a may be NULL to count. */
int ofa_bert_arch_grid_elastic(ofa_bert_arch *a, const ofa_bert_space *s, int elastic);

/* The evolutionary search's genes: per supernet layer (as OFA's are per block), a kept layer's
 * heads and FFN width, plus the depth and hidden size.  Only elastic dimensions change.
 *   set_depth  depth d; the layers kept at both depths keep their genes, the others are drawn
 *              as ofa_bert_arch_random draws them (from rng when width is elastic)
 *   mutate     each gene of par redrawn with probability prob (depth first, then heads and FFN
 *              of each kept layer, then hidden)
 *   crossover  the depth from either parent, each kept layer's heads and FFN width from either
 *              parent that keeps that layer (1/2 each when both do), hidden from either */
void ofa_bert_arch_set_depth(ofa_bert_arch *a, const ofa_bert_space *s, int elastic, int d, ofa_rng *rng);
void ofa_bert_arch_mutate(ofa_bert_arch *c, const ofa_bert_arch *par, const ofa_bert_space *s, int elastic, double prob,
                          ofa_rng *rng);
void ofa_bert_arch_crossover(ofa_bert_arch *c, const ofa_bert_arch *p1, const ofa_bert_arch *p2,
                             const ofa_bert_space *s, int elastic, ofa_rng *rng);

/* Parameters of the subnet, counting only the slices it uses (embeddings with V vocab, P positions,
 * C outputs, head size D), and multiply-accumulates of one forward on one sequence of T tokens
 * (matmuls incl. attention scores and context; embeddings and norms excluded). */
int64_t ofa_bert_arch_params(const ofa_bert_arch *a, int V, int P, int C, int D);
double ofa_bert_arch_macs(const ofa_bert_arch *a, int T, int C, int D);
/* The multiply-accumulates ofa_bert_infer performs (models/bert/infer.h): as ofa_bert_arch_macs,
 * but the last layer runs on the first token alone, its attention reading the T tokens through
 * the key and value weights folded into the query (nn_fm_attention_folded). */
double ofa_bert_arch_infer_macs(const ofa_bert_arch *a, int T, int C, int D);

#endif
