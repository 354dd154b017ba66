#include "supernet/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/fm.h"
#include "nn/nn.h"

#define LN_EPS 1e-12 /* as supernet/bert.c */

/* Feature-major buffers for Bmax * Tmax tokens; rows have stride row_stride(B * T). */
struct ofa_bert_infer_ws {
    float *x, *x1, *qkv, *ctx, *h, *s, *cls, *pp;
};

/* The row stride of feature-major buffers for N tokens: N rounded up to whole 64-byte lines, plus
 * one line when that is a multiple of 512 bytes, so a column block's rows do not all map to the
 * same few L1 sets (at batch 32 x 64 tokens the unpadded 8 KiB stride cost a third of the time). */
static int row_stride(int N)
{
    int ld = (N + 15) / 16 * 16;
    return ld % 128 == 0 ? ld + 16 : ld;
}

static inline const float *W(const ofa_bert *m, int idx) { return m->p.data + m->p.views[idx].offset; }

static struct ofa_bert_infer_ws *workspace(const ofa_bert *m, ofa_bert_acts *a)
{
    if (a->infer) return a->infer;
    const ofa_bert_dims *d = &m->d;
    const size_t N = (size_t)row_stride(a->Bmax * a->Tmax), H = (size_t)d->H, Dh = (size_t)ofa_bert_head_dim(d);
    const size_t WA = (size_t)d->A * Dh > H ? (size_t)d->A * Dh : H;
    struct ofa_bert_infer_ws *w = ofa_xcalloc(1, sizeof *w);
    w->x = ofa_xalloc_aligned(N * H * sizeof(float));
    w->x1 = ofa_xalloc_aligned(N * H * sizeof(float));
    w->qkv = ofa_xalloc_aligned(3 * N * WA * sizeof(float));
    w->ctx = ofa_xalloc_aligned(N * WA * sizeof(float));
    w->h = ofa_xalloc_aligned(N * (size_t)d->F * sizeof(float));
    w->s = ofa_xalloc_aligned((size_t)a->Tmax * a->Tmax * sizeof(float));
    w->cls = ofa_xalloc_aligned((size_t)a->Bmax * H * sizeof(float));
    w->pp = ofa_xalloc_aligned((size_t)a->Bmax * H * sizeof(float));
    a->infer = w;
    return w;
}

void ofa_bert_infer_free(ofa_bert_acts *a)
{
    struct ofa_bert_infer_ws *w = a ? a->infer : NULL;
    if (!w) return;
    float **f[] = {&w->x, &w->x1, &w->qkv, &w->ctx, &w->h, &w->s, &w->cls, &w->pp};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
    free(w);
    a->infer = NULL;
}

const float *ofa_bert_infer(const ofa_bert *m, ofa_bert_acts *a, const int32_t *ids, const int32_t *types,
                            const int32_t *lens, int B, int T, const ofa_arch *arch)
{
    const ofa_bert_dims *d = &m->d;
    OFA_ASSERT(B >= 1 && T >= 1 && B <= a->Bmax && T <= a->Tmax && T <= d->P);
    ofa_arch full;
    if (!arch) {
        ofa_arch_full(&full, d->L, d->A, d->F, d->H);
        for (int l = 0; l < d->L; l++) {
            full.heads[l] = m->heads[l];
            full.ffn[l] = m->ffn[l];
        }
        arch = &full;
    }
    struct ofa_bert_infer_ws *ws = workspace(m, a);
    const int H = d->H, D = d->D, N = B * T, E = arch->hidden, ld = row_stride(N);
    OFA_ASSERT(E >= 1 && E <= H && arch->depth >= 0 && arch->depth <= d->L);
    const float scale = (float)(1.0 / sqrt((double)D));

    /* embeddings, written feature-major: x[c, n] = word[id] + position[t] + type, then LayerNorm */
    float *x = ws->x, *x1 = ws->x1;
    const float *word = W(m, m->word), *pos = W(m, m->pos), *type = W(m, m->type);
    for (int n0 = 0; n0 < N; n0 += 16) { /* 16 tokens at a time: each write is one cache line */
        const int nn = N - n0 < 16 ? N - n0 : 16;
        const float *wr[16], *pr[16], *tr[16];
        for (int j = 0; j < nn; j++) {
            const int n = n0 + j;
            OFA_ASSERT(ids[n] >= 0 && ids[n] < d->V && types[n] >= 0 && types[n] < 2);
            wr[j] = word + (size_t)ids[n] * H;
            pr[j] = pos + (size_t)(n % T) * H;
            tr[j] = type + (size_t)types[n] * H;
        }
        for (int c = 0; c < E; c++) {
            float *xc = x + (size_t)c * ld + n0;
            for (int j = 0; j < nn; j++) xc[j] = wr[j][c] + pr[j][c] + tr[j][c];
        }
    }
    nn_fm_layernorm(x, x, ld, W(m, m->emb_g), W(m, m->emb_b), E, N, LN_EPS);

    for (int i = 0; i < arch->depth; i++) {
        const int l = arch->layer[i], nh = arch->heads[i], w = nh * D, f = arch->ffn[i];
        const int ldo = m->heads[l] * D, ld2 = m->ffn[l];
        OFA_ASSERT(l >= 0 && l < d->L && w >= D && w <= ldo && f >= 1 && f <= ld2);
        const ofa_bert_layer_idx *p = &m->layer[l];
        float *q = ws->qkv, *k = q + (size_t)w * ld, *v = k + (size_t)w * ld;
        nn_fm_gemm(q, ld, W(m, p->wq), H, 1, x, ld, W(m, p->bq), NULL, 0, 1.0f, 0, w, N, E);
        nn_fm_gemm(k, ld, W(m, p->wk), H, 1, x, ld, W(m, p->bk), NULL, 0, 1.0f, 0, w, N, E);
        nn_fm_gemm(v, ld, W(m, p->wv), H, 1, x, ld, W(m, p->bv), NULL, 0, 1.0f, 0, w, N, E);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < nh; h++) {
                const size_t off = (size_t)h * D * ld + (size_t)b * T;
                nn_fm_attention(ws->ctx + off, ld, q + off, k + off, v + off, ld, T, lens[b], D, scale, 1.0f, ws->s);
            }
        /* x1 = LayerNorm(x + Wo ctx + bo); x = LayerNorm(x1 + W2 GELU(W1 x1 + b1) + b2) */
        nn_fm_gemm(x1, ld, W(m, p->wo), ldo, 1, ws->ctx, ld, W(m, p->bo), x, ld, 1.0f, 0, E, N, w);
        nn_fm_layernorm(x1, x1, ld, W(m, p->ln1_g), W(m, p->ln1_b), E, N, LN_EPS);
        nn_fm_gemm(ws->h, ld, W(m, p->w1), H, 1, x1, ld, W(m, p->b1), NULL, 0, 1.0f, 1, f, N, E);
        nn_fm_gemm(x, ld, W(m, p->w2), ld2, 1, ws->h, ld, W(m, p->b2), x1, ld, 1.0f, 0, E, N, f);
        nn_fm_layernorm(x, x, ld, W(m, p->ln2_g), W(m, p->ln2_b), E, N, LN_EPS);
    }
    /* pooler and classifier on each sequence's first token: cls [E, B], logits^T [C, B] */
    float *cls = ws->cls, *pp = ws->pp;
    for (int c = 0; c < E; c++)
        for (int b = 0; b < B; b++) cls[(size_t)c * B + b] = x[(size_t)c * ld + (size_t)b * T];
    nn_fm_gemm(pp, B, W(m, m->pool_w), H, 1, cls, B, W(m, m->pool_b), NULL, 0, 1.0f, 0, E, B, E);
    nn_tanh_fwd_f32(pp, pp, (int64_t)E * B);
    nn_fm_gemm(cls, B, W(m, m->cls_w), H, 1, pp, B, W(m, m->cls_b), NULL, 0, 1.0f, 0, d->C, B, E);
    nn_fm_transpose(a->logits, d->C, cls, B, d->C, B);
    return a->logits;
}
