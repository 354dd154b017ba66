#include "models/bert/export.h"

#include <string.h>

#include "core/error.h"

/* dst[rows, cols] (contiguous) = src[:rows, :cols] with row stride ld */
static void copy2d(float *dst, const float *src, int rows, int cols, int ld)
{
    for (int r = 0; r < rows; r++) memcpy(dst + (size_t)r * cols, src + (size_t)r * ld, (size_t)cols * sizeof(float));
}

static const float *W(const ofa_bert *m, int idx) { return m->p.data + m->p.views[idx].offset; }
static float *O(ofa_bert *m, int idx) { return m->p.data + m->p.views[idx].offset; }

int ofa_export_subnet(ofa_bert *out, const ofa_bert *sup, const ofa_bert_arch *a)
{
    const ofa_bert_dims *sd = &sup->d;
    const int H = sd->H, D = sd->D, e = a->hidden;
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
    OFA_TRY(ofa_bert_create_shaped(out, &d, a->heads, a->ffn));
    copy2d(O(out, out->word), W(sup, sup->word), sd->V, e, H);
    copy2d(O(out, out->pos), W(sup, sup->pos), sd->P, e, H);
    copy2d(O(out, out->type), W(sup, sup->type), 2, e, H);
    copy2d(O(out, out->emb_g), W(sup, sup->emb_g), 1, e, H);
    copy2d(O(out, out->emb_b), W(sup, sup->emb_b), 1, e, H);
    for (int i = 0; i < a->depth; i++) {
        const ofa_bert_layer_idx *s = &sup->layer[a->layer[i]];
        const ofa_bert_layer_idx *o = &out->layer[i];
        const int w = a->heads[i] * D, f = a->ffn[i], ldo = sup->heads[a->layer[i]] * D, ld2 = sup->ffn[a->layer[i]];
        copy2d(O(out, o->wq), W(sup, s->wq), w, e, H);
        copy2d(O(out, o->wk), W(sup, s->wk), w, e, H);
        copy2d(O(out, o->wv), W(sup, s->wv), w, e, H);
        copy2d(O(out, o->bq), W(sup, s->bq), 1, w, w);
        copy2d(O(out, o->bk), W(sup, s->bk), 1, w, w);
        copy2d(O(out, o->bv), W(sup, s->bv), 1, w, w);
        copy2d(O(out, o->wo), W(sup, s->wo), e, w, ldo);
        copy2d(O(out, o->bo), W(sup, s->bo), 1, e, e);
        copy2d(O(out, o->ln1_g), W(sup, s->ln1_g), 1, e, e);
        copy2d(O(out, o->ln1_b), W(sup, s->ln1_b), 1, e, e);
        copy2d(O(out, o->w1), W(sup, s->w1), f, e, H);
        copy2d(O(out, o->b1), W(sup, s->b1), 1, f, f);
        copy2d(O(out, o->w2), W(sup, s->w2), e, f, ld2);
        copy2d(O(out, o->b2), W(sup, s->b2), 1, e, e);
        copy2d(O(out, o->ln2_g), W(sup, s->ln2_g), 1, e, e);
        copy2d(O(out, o->ln2_b), W(sup, s->ln2_b), 1, e, e);
    }
    copy2d(O(out, out->pool_w), W(sup, sup->pool_w), e, e, H);
    copy2d(O(out, out->pool_b), W(sup, sup->pool_b), 1, e, e);
    copy2d(O(out, out->cls_w), W(sup, sup->cls_w), sd->C, e, H);
    copy2d(O(out, out->cls_b), W(sup, sup->cls_b), 1, sd->C, sd->C);
    return 0;
}
