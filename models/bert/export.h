/* models/bert/export: a subnet of a supernet as a standalone model whose tensors have the reduced
 * shapes (kept layers renumbered 0..depth-1, heads/FFN/hidden slices copied out). */
#ifndef OFA_MODELS_BERT_EXPORT_H
#define OFA_MODELS_BERT_EXPORT_H

#include "models/bert/arch.h"
#include "models/bert/bert.h"

/* Creates *out (caller frees with ofa_bert_free) holding arch a of sup. */
int ofa_export_subnet(ofa_bert *out, const ofa_bert *sup, const ofa_bert_arch *a);

#endif
