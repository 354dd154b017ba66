#include "supernet/arch.h"

#include "core/error.h"

void ofa_arch_full(ofa_arch *a, int layers, int heads, int ffn, int hidden)
{
    OFA_ASSERT(layers > 0 && layers <= OFA_MAX_LAYERS);
    a->depth = layers;
    for (int i = 0; i < layers; i++) {
        a->layer[i] = i;
        a->heads[i] = heads;
        a->ffn[i] = ffn;
    }
    a->hidden = hidden;
}
