#include "models/bert/export.h"

#include <string.h>

#include "core/error.h"

/* dst's window = src's (same rows and columns, each with its own leading dimension) */
static void copy_slice(const ofa_bert_slice *dst, const ofa_bert_slice *src)
{
    OFA_ASSERT(dst->rows == src->rows && dst->cols == src->cols);
    for (int r = 0; r < src->rows; r++)
        memcpy(dst->p + (size_t)r * dst->ld, src->p + (size_t)r * src->ld, (size_t)src->cols * sizeof(float));
}

int ofa_export_subnet(ofa_bert *out, const ofa_bert *sup, const ofa_bert_arch *a)
{
    const ofa_bert_dims *sd = &sup->d;
    const int H = sd->H, e = a->hidden;
    if (a->depth < 1 || a->depth > sd->L || e < 1 || e > H)
        return OFA_ERR(OFA_E_USAGE, "arch does not fit the supernet (depth %d of %d, hidden %d of %d)", a->depth,
                       sd->L, e, H);
    ofa_bert_dims d = *sd;
    d.H = e;
    d.L = a->depth;
    d.A = 1;
    d.F = 1;
    for (int i = 0; i < a->depth; i++) {
        int l = a->layer[i];
        if (l < 0 || l >= sd->L || a->heads[i] < 1 || a->heads[i] > sup->heads[l] || a->ffn[i] < 1 ||
            a->ffn[i] > sup->ffn[l])
            return OFA_ERR(OFA_E_USAGE, "arch layer %d (supernet layer %d) does not fit: %d heads of %d, ffn %d of %d",
                           i, l, a->heads[i], sup->heads[l], a->ffn[i], sup->ffn[l]);
        d.A = a->heads[i] > d.A ? a->heads[i] : d.A;
        d.F = a->ffn[i] > d.F ? a->ffn[i] : d.F;
    }
    /* the subnet stores exactly its slices: per-layer widths, hidden e; so its whole-model views
     * (arch NULL) have the shapes of the supernet's views of arch a */
    OFA_TRY(ofa_bert_create_shaped(out, &d, a->heads, a->ffn));
    ofa_bert_outer_view so, oo;
    ofa_bert_view_outer(&so, sup, a, sup->p.data);
    ofa_bert_view_outer(&oo, out, NULL, out->p.data);
    const ofa_bert_slice *src[] = {&so.word, &so.pos, &so.type, &so.emb_g, &so.emb_b,
                                   &so.pool_w, &so.pool_b, &so.cls_w, &so.cls_b};
    const ofa_bert_slice *dst[] = {&oo.word, &oo.pos, &oo.type, &oo.emb_g, &oo.emb_b,
                                   &oo.pool_w, &oo.pool_b, &oo.cls_w, &oo.cls_b};
    for (size_t k = 0; k < sizeof src / sizeof *src; k++) copy_slice(dst[k], src[k]);
    for (int i = 0; i < a->depth; i++) {
        ofa_bert_layer_view sl, ol;
        ofa_bert_view_layer(&sl, sup, a, i, sup->p.data);
        ofa_bert_view_layer(&ol, out, NULL, i, out->p.data);
#define COPY(name) copy_slice(&ol.name, &sl.name);
        OFA_BERT_LAYER_TENSORS(COPY)
#undef COPY
    }
    return 0;
}
