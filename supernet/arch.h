/* supernet/arch: one subnet of a BERT supernet: which layers are kept, and the heads and FFN width
 * of each kept layer (leading slices of the largest weights), plus the hidden size.
 * The full model is ofa_arch_full(); the text form and search spaces build on this struct. */
#ifndef OFA_SUPERNET_ARCH_H
#define OFA_SUPERNET_ARCH_H

#define OFA_MAX_LAYERS 48

typedef struct ofa_arch {
    int depth;                   /* kept layers */
    int layer[OFA_MAX_LAYERS];   /* index of kept layer i in the supernet, increasing */
    int heads[OFA_MAX_LAYERS];   /* heads of kept layer i */
    int ffn[OFA_MAX_LAYERS];     /* FFN width of kept layer i */
    int hidden;                  /* hidden size (== the supernet's unless hidden is elastic) */
} ofa_arch;

/* Every layer, every head, the full FFN and hidden size. */
void ofa_arch_full(ofa_arch *a, int layers, int heads, int ffn, int hidden);

#endif
