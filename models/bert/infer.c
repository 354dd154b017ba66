#include "models/bert/infer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/fm.h"
#include "nn/nn.h"
#include "nn/strassen.h"

/* N rounded up to whole 64-byte lines, plus one line when that is a multiple of 512 bytes, so a
 * column block's rows do not all map to the same few L1 sets (at batch 32 x 64 tokens the
 * unpadded 8 KiB stride cost a third of the time). */
int ofa_infer_ld(int N)
{
    int ld = (N + 15) / 16 * 16;
    return ld % 128 == 0 ? ld + 16 : ld;
}

/* ---- ops ---- */

void ofa_infer_embed(float *x, int ld, const int32_t *ids, const int32_t *types, int N, int T,
                     const ofa_bert_outer_view *o, int E, float *scratch)
{
    OFA_ASSERT(E <= o->word.cols && T <= o->pos.rows);
    /* token-major sums (contiguous along channels), then one transpose into x */
    for (int n = 0; n < N; n++) {
        OFA_ASSERT(ids[n] >= 0 && types[n] >= 0 && types[n] < o->T);
        const float *wr = o->word.p + (size_t)ids[n] * o->word.ld, *pr = o->pos.p + (size_t)(n % T) * o->pos.ld,
                    *tr = o->type.p + (size_t)types[n] * o->type.ld;
        float *row = scratch + (size_t)n * E;
        for (int c = 0; c < E; c++) row[c] = wr[c] + pr[c] + tr[c];
    }
    nn_fm_transpose(x, ld, scratch, E, N, E);
    ofa_infer_layernorm(x, ld, o->emb_g.p, o->emb_b.p, N, E, o->eps);
}

void ofa_infer_layernorm(float *x, int ld, const float *g, const float *b, int N, int E, double eps)
{
    nn_fm_layernorm(x, x, ld, g, b, E, N, eps);
}

void ofa_infer_qkv(float *q, float *k, float *v, int ld, const float *x, const ofa_bert_layer_view *lw, int N, int E,
                   int w)
{
    if (q) nn_fm_gemm(q, ld, lw->wq.p, lw->wq.ld, 1, x, ld, lw->bq.p, NULL, 0, 1.0f, 0, w, N, E);
    if (k) nn_fm_gemm(k, ld, lw->wk.p, lw->wk.ld, 1, x, ld, lw->bk.p, NULL, 0, 1.0f, 0, w, N, E);
    if (v) nn_fm_gemm(v, ld, lw->wv.p, lw->wv.ld, 1, x, ld, lw->bv.p, NULL, 0, 1.0f, 0, w, N, E);
}

/* xc [E, B] (row stride B) = x[:, b*T] */
static void gather_first(float *xc, const float *x, int ld, int B, int T, int E)
{
    for (int c = 0; c < E; c++)
        for (int b = 0; b < B; b++) xc[(size_t)c * B + b] = x[(size_t)c * ld + (size_t)b * T];
}

void ofa_infer_q_first(float *qc, float *xc, int ld, const float *x, const ofa_bert_layer_view *lw, int B, int T,
                       int E, int w)
{
    gather_first(xc, x, ld, B, T, E);
    ofa_infer_qkv(qc, NULL, NULL, B, xc, lw, B, E, w);
}

void ofa_infer_attn(float *ctx, const float *q, const float *k, const float *v, int ld, const int32_t *lens, int B,
                    int T, int nh, int D, float *s)
{
    const float scale = (float)(1.0 / sqrt((double)D));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            const size_t off = (size_t)h * D * ld + (size_t)b * T;
            nn_fm_attention(ctx + off, ld, q + off, ld, T, k + off, v + off, ld, T, lens[b], D, scale, 1.0f, s);
        }
}

void ofa_infer_attn_first(float *cc, const float *qc, const float *x, int ld, const ofa_bert_layer_view *lw,
                          const int32_t *lens, int B, int T, int nh, int E, int D, float *scratch)
{
    const float scale = (float)(1.0 / sqrt((double)D));
    const size_t lk = (size_t)lw->wk.ld, lv = (size_t)lw->wv.ld;
    for (int b = 0; b < B; b++) {
        OFA_ASSERT(lens[b] >= 0 && lens[b] <= T);
        for (int h = 0; h < nh; h++) {
            const size_t r = (size_t)h * D;
            nn_fm_attention_folded(cc + r * B + b, B, qc + r * B + b, B, lw->wk.p + r * lk, (int)lk, lw->wv.p + r * lv,
                                   (int)lv, lw->bv.p + r, x + (size_t)b * T, ld, lens[b], D, E, scale, scratch);
        }
    }
}

void ofa_infer_oproj(float *x1, const float *ctx, const float *x, int ld, const ofa_bert_layer_view *lw, int N, int w,
                     int E)
{
    nn_fm_gemm(x1, ld, lw->wo.p, lw->wo.ld, 1, ctx, ld, lw->bo.p, x, ld, 1.0f, 0, E, N, w);
}

void ofa_infer_ffn1(float *h, const float *x1, int ld, const ofa_bert_layer_view *lw, int N, int E, int f)
{
    nn_fm_gemm(h, ld, lw->w1.p, lw->w1.ld, 1, x1, ld, lw->b1.p, NULL, 0, 1.0f, 1, f, N, E);
}

void ofa_infer_ffn2(float *x, const float *h, const float *x1, int ld, const ofa_bert_layer_view *lw, int N, int f,
                    int E)
{
    nn_fm_gemm(x, ld, lw->w2.p, lw->w2.ld, 1, h, ld, lw->b2.p, x1, ld, 1.0f, 0, E, N, f);
}

void ofa_infer_head(float *logits, const float *xc, int B, const ofa_bert_outer_view *o, int E, int C, float *cls,
                    float *pp)
{
    OFA_ASSERT(E <= o->pool_w.cols && C <= o->cls_w.rows);
    /* pooled [E, B]; logits^T [C, B] in cls */
    nn_fm_gemm(pp, B, o->pool_w.p, o->pool_w.ld, 1, xc, B, o->pool_b.p, NULL, 0, 1.0f, 0, E, B, E);
    nn_tanh_fwd_f32(pp, pp, (int64_t)E * B);
    nn_fm_gemm(cls, B, o->cls_w.p, o->cls_w.ld, 1, pp, B, o->cls_b.p, NULL, 0, 1.0f, 0, C, B, E);
    nn_fm_transpose(logits, C, cls, B, C, B);
}

/* ---- the workspace ---- */

static int max_int(int x, int y) { return x > y ? x : y; }

/* With base NULL counts the bytes of the list in infer.h, otherwise also points the fields into base. */
static size_t ws_layout(ofa_bert_infer_ws *ws, char *base)
{
    const size_t B = (size_t)ws->Bmax, T = (size_t)ws->Tmax, LD = (size_t)ofa_infer_ld(ws->Bmax * ws->Tmax);
    const size_t H = (size_t)ws->H, WA = (size_t)ws->WA, F = (size_t)ws->F, C = (size_t)ws->C;
    size_t off = 0;
#define PLACE(name, count)                                                                         \
    if (base) ws->name = (float *)(void *)(base + off);                                            \
    off += ((size_t)(count) * sizeof(float) + 63) / 64 * 64;
    OFA_BERT_INFER_WS(PLACE)
#undef PLACE
    return off;
}

void ofa_bert_infer_ws_create(ofa_bert_infer_ws *ws, const ofa_bert_dims *d, int Bmax, int Tmax)
{
    OFA_ASSERT(Bmax >= 1 && Tmax >= 1);
    memset(ws, 0, sizeof *ws);
    ws->Bmax = Bmax;
    ws->Tmax = Tmax;
    ws->H = d->H;
    /* attention width a*D may exceed the hidden size of an exported subnet */
    ws->WA = max_int(d->A * ofa_bert_head_dim(d), d->H);
    ws->F = d->F;
    ws->C = d->C;
    ws->arena_bytes = ws_layout(ws, NULL);
    ws->arena = ofa_xalloc_huge(ws->arena_bytes); /* zeroed */
    ws_layout(ws, ws->arena);
}

void ofa_bert_infer_ws_free(ofa_bert_infer_ws *ws)
{
    if (!ws) return;
    ofa_bert_infer_unprepare(ws);
    free(ws->arena);
    memset(ws, 0, sizeof *ws);
}

/* ---- Strassen-prepared weights ---- */

/* kept layer i's products prepared for nn_sw_gemm (own NULL = not prepared: the classical product) */
struct ofa_bert_infer_plan {
    const ofa_bert *m;
    ofa_bert_arch arch;
    nn_sw qkv[OFA_MAX_LAYERS], o[OFA_MAX_LAYERS], f1[OFA_MAX_LAYERS], f2[OFA_MAX_LAYERS];
    float *bqkv[OFA_MAX_LAYERS]; /* [3 w]: bq, bk, bv one after the other (with qkv) */
    float *scratch;              /* nn_sw_gemm's */
};

static int same_arch(const ofa_bert_arch *a, const ofa_bert_arch *b)
{
    if (a->depth != b->depth || a->hidden != b->hidden) return 0;
    for (int i = 0; i < a->depth; i++)
        if (a->layer[i] != b->layer[i] || a->heads[i] != b->heads[i] || a->ffn[i] != b->ffn[i]) return 0;
    return 1;
}

void ofa_bert_infer_unprepare(ofa_bert_infer_ws *ws)
{
    ofa_bert_infer_plan *p = ws->plan;
    if (!p) return;
    for (int i = 0; i < OFA_MAX_LAYERS; i++) {
        nn_sw_free(&p->qkv[i]), nn_sw_free(&p->o[i]), nn_sw_free(&p->f1[i]), nn_sw_free(&p->f2[i]);
        free(p->bqkv[i]);
    }
    free(p->scratch);
    free(p);
    ws->plan = NULL;
}

/* s = W [N, K], the np slices stacked (one: read in place; several: copied), when the product pays
 * at M tokens; the floats formed, and *scratch raised to what its product needs */
static size_t prepare_one(nn_sw *s, int np, const ofa_bert_slice *const *w, int N, int K, int M, size_t *scratch)
{
    if (!nn_sw_pays(N, K, M)) return 0;
    const float *p[3];
    int ld[3], rows[3];
    for (int b = 0; b < np; b++) p[b] = w[b]->p, ld[b] = w[b]->ld, rows[b] = N / np;
    nn_sw_prepare(s, np, p, ld, rows, K);
    if (nn_sw_scratch_floats(K, M) > *scratch) *scratch = nn_sw_scratch_floats(K, M);
    return s->own_floats;
}

size_t ofa_bert_infer_prepare(ofa_bert_infer_ws *ws, const ofa_bert *m, const ofa_bert_arch *arch)
{
    ofa_bert_infer_unprepare(ws);
    ofa_bert_arch full;
    if (!arch) {
        ofa_bert_full_arch(m, &full);
        arch = &full;
    }
    ofa_bert_infer_plan *p = ofa_xcalloc(1, sizeof *p);
    p->m = m;
    p->arch = *arch;
    /* the most tokens a forward runs (even: nn_sw_gemm halves them; use() checks each forward's) */
    const int M = ws->Bmax * ws->Tmax & ~1, E = arch->hidden;
    size_t formed = 0, scratch = 0;
    /* the last kept layer runs on the first tokens alone: classical */
    for (int i = 0; i + 1 < arch->depth; i++) {
        ofa_bert_layer_view lw;
        ofa_bert_view_layer(&lw, m, arch, i, m->p.data);
        const int w = lw.w, f = lw.f;
        /* q, k, v as one [3w, E] product: their weights copied into one matrix, their biases into one */
        const ofa_bert_slice *qkv[3] = {&lw.wq, &lw.wk, &lw.wv}, *o = &lw.wo, *w1 = &lw.w1, *w2 = &lw.w2;
        const size_t n = prepare_one(&p->qkv[i], 3, qkv, 3 * w, E, M, &scratch);
        if (n) {
            float *b = p->bqkv[i] = ofa_xmalloc(3 * (size_t)w * sizeof(float));
            memcpy(b, lw.bq.p, (size_t)w * sizeof(float));
            memcpy(b + w, lw.bk.p, (size_t)w * sizeof(float));
            memcpy(b + 2 * w, lw.bv.p, (size_t)w * sizeof(float));
            formed += n + 3 * (size_t)w;
        }
        formed += prepare_one(&p->o[i], 1, &o, E, w, M, &scratch);
        formed += prepare_one(&p->f1[i], 1, &w1, f, E, M, &scratch);
        formed += prepare_one(&p->f2[i], 1, &w2, E, f, M, &scratch);
    }
    if (!formed) {
        free(p);
        return 0;
    }
    p->scratch = ofa_xalloc_huge(scratch * sizeof(float));
    ws->plan = p;
    return formed;
}

/* the plan for (m, arch), or NULL */
static const ofa_bert_infer_plan *plan_for(const ofa_bert_infer_ws *ws, const ofa_bert *m, const ofa_bert_arch *arch)
{
    const ofa_bert_infer_plan *p = ws->plan;
    return p && p->m == m && same_arch(&p->arch, arch) ? p : NULL;
}

/* s prepared and paying at N tokens */
static int use(const nn_sw *s, int N) { return s->own && nn_sw_pays(s->N, s->K, N); }

const float *ofa_bert_infer(const ofa_bert *m, ofa_bert_infer_ws *ws, const int32_t *ids, const int32_t *types,
                            const int32_t *lens, int B, int T, const ofa_bert_arch *arch)
{
    const ofa_bert_dims *d = &m->d;
    OFA_ASSERT(B >= 1 && T >= 1 && B <= ws->Bmax && T <= ws->Tmax && T <= d->P);
    OFA_ASSERT(d->H <= ws->H && d->A * d->D <= ws->WA && d->F <= ws->F && d->C <= ws->C);
    ofa_bert_arch full;
    if (!arch) {
        ofa_bert_full_arch(m, &full);
        arch = &full;
    }
    const int D = d->D, N = B * T, E = arch->hidden, ld = ofa_infer_ld(N);
    OFA_ASSERT(E >= 1 && E <= d->H && arch->depth >= 0 && arch->depth <= d->L);
    for (int n = 0; n < N; n++) OFA_ASSERT(ids[n] < d->V);
    ofa_bert_outer_view ow;
    ofa_bert_view_outer(&ow, m, arch, m->p.data);
    float *x = ws->x, *x1 = ws->x1;
    ofa_infer_embed(x, ld, ids, types, N, T, &ow, E, x1);
    const ofa_bert_infer_plan *pl = plan_for(ws, m, arch);
    const int last = arch->depth - 1;
    for (int i = 0; i < last; i++) {
        ofa_bert_layer_view lw;
        ofa_bert_view_layer(&lw, m, arch, i, m->p.data);
        const int w = lw.w, f = lw.f;
        float *q = ws->qkv, *k = q + (size_t)w * ld, *v = k + (size_t)w * ld;
        /* x1 = LayerNorm(x + Wo attn(x) + bo); x = LayerNorm(x1 + W2 GELU(W1 x1 + b1) + b2) */
        /* each product by Strassen's algorithm where it is prepared (q, k, v as one [3w, E]) */
        if (pl && use(&pl->qkv[i], N)) nn_sw_gemm(q, ld, &pl->qkv[i], x, ld, pl->bqkv[i], NULL, 0, 0, N, pl->scratch);
        else ofa_infer_qkv(q, k, v, ld, x, &lw, N, E, w);
        ofa_infer_attn(ws->ctx, q, k, v, ld, lens, B, T, lw.heads, D, ws->s);
        if (pl && use(&pl->o[i], N)) nn_sw_gemm(x1, ld, &pl->o[i], ws->ctx, ld, lw.bo.p, x, ld, 0, N, pl->scratch);
        else ofa_infer_oproj(x1, ws->ctx, x, ld, &lw, N, w, E);
        ofa_infer_layernorm(x1, ld, lw.ln1_g.p, lw.ln1_b.p, N, E, lw.eps);
        if (pl && use(&pl->f1[i], N)) nn_sw_gemm(ws->h, ld, &pl->f1[i], x1, ld, lw.b1.p, NULL, 0, 1, N, pl->scratch);
        else ofa_infer_ffn1(ws->h, x1, ld, &lw, N, E, f);
        if (pl && use(&pl->f2[i], N)) nn_sw_gemm(x, ld, &pl->f2[i], ws->h, ld, lw.b2.p, x1, ld, 0, N, pl->scratch);
        else ofa_infer_ffn2(x, ws->h, x1, ld, &lw, N, f, E);
        ofa_infer_layernorm(x, ld, lw.ln2_g.p, lw.ln2_b.p, N, E, lw.eps);
    }
    if (last < 0) { /* no layer: the pooler reads the embeddings' first tokens */
        gather_first(ws->xc, x, ld, B, T, E);
        ofa_infer_head(ws->logits, ws->xc, B, &ow, E, d->C, ws->cls, ws->pp);
        return ws->logits;
    }
    /* the last layer on the first tokens (row stride B); its attention reads every token's x
     * through the key and value weights folded into the query */
    ofa_bert_layer_view lw;
    ofa_bert_view_layer(&lw, m, arch, last, m->p.data);
    const int w = lw.w, f = lw.f;
    float *xc = ws->xc;
    ofa_infer_q_first(ws->qc, xc, ld, x, &lw, B, T, E, w);
    ofa_infer_attn_first(ws->cc, ws->qc, x, ld, &lw, lens, B, T, lw.heads, E, D, ws->fold);
    ofa_infer_oproj(ws->x1c, ws->cc, xc, B, &lw, B, w, E);
    ofa_infer_layernorm(ws->x1c, B, lw.ln1_g.p, lw.ln1_b.p, B, E, lw.eps);
    ofa_infer_ffn1(ws->hc, ws->x1c, B, &lw, B, E, f);
    ofa_infer_ffn2(xc, ws->hc, ws->x1c, B, &lw, B, f, E);
    ofa_infer_layernorm(xc, B, lw.ln2_g.p, lw.ln2_b.p, B, E, lw.eps);
    ofa_infer_head(ws->logits, xc, B, &ow, E, d->C, ws->cls, ws->pp);
    return ws->logits;
}
