/* supernet/infer: the inference forward of a BERT subnet (logits only), on nn/fm's feature-major
 * kernels.
 *
 * Same model and same subnet slicing as ofa_bert_forward (supernet/bert.h), without dropout, saved
 * activations or head multipliers; activations are kept [features, tokens] so every linear layer
 * reads its weights in place and applies bias, residual and GELU in registers.  Scoring (eval, the
 * search, the monitor), latency measurement and `ofa bench infer` use it; training and distillation
 * use ofa_bert_forward.  The logits agree with ofa_bert_forward's to float rounding (tests/test_fm.c).
 * The workspace lives in the ofa_bert_acts passed in (allocated at the first call, freed with it).
 */
#ifndef OFA_SUPERNET_INFER_H
#define OFA_SUPERNET_INFER_H

#include <stdint.h>

#include "supernet/bert.h"

/* Logits [B, C] (inside a) of subnet `arch` (NULL = the full model) on a [B, T] batch. */
const float *ofa_bert_infer(const ofa_bert *m, ofa_bert_acts *a, const int32_t *ids, const int32_t *types,
                            const int32_t *lens, int B, int T, const ofa_arch *arch);

/* Frees the workspace of a (called by ofa_bert_acts_free). */
void ofa_bert_infer_free(ofa_bert_acts *a);

#endif
