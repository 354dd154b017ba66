#include "models/bert/bert.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn.h"


static int add(ofa_bert *m, const char *name, int64_t d0, int64_t d1, int decay)
{
    int64_t shape[2] = {d0, d1};
    return ofa_params_add(&m->p, name, d1 > 0 ? 2 : 1, shape, decay);
}

int ofa_bert_create_shaped(ofa_bert *m, const ofa_bert_dims *d, const int *heads, const int *ffn)
{
    memset(m, 0, sizeof *m);
    char lmax[48];
    snprintf(lmax, sizeof lmax, "layers must be 1 to %d", OFA_MAX_LAYERS);
    const char *why = d->L < 1 || d->L > OFA_MAX_LAYERS ? lmax
                      : d->H < 1                          ? "hidden must be at least 1"
                      : d->A < 1                          ? "heads must be at least 1"
                      : d->D <= 0 && d->H % d->A          ? "hidden must be a multiple of heads (or head_dim set)"
                      : d->F < 1                          ? "ffn must be at least 1"
                      : d->V < 5                          ? "the vocabulary needs at least 5 tokens (the special ones)"
                      : d->P < 2                          ? "max_position must be at least 2"
                      : d->C < 1                          ? "the model needs at least 1 output"
                                                          : NULL;
    if (why)
        return OFA_ERR(OFA_E_CONFIG, "invalid BERT shape (%s): layers %d, hidden %d, heads %d, ffn %d, vocab %d, "
                                     "positions %d, outputs %d",
                       why, d->L, d->H, d->A, d->F, d->V, d->P, d->C);
    m->d = *d;
    m->d.D = ofa_bert_head_dim(d);
    for (int l = 0; l < d->L; l++) {
        m->heads[l] = heads ? heads[l] : d->A;
        m->ffn[l] = ffn ? ffn[l] : d->F;
        if (m->heads[l] < 1 || m->heads[l] > d->A || m->ffn[l] < 1 || m->ffn[l] > d->F)
            return OFA_ERR(OFA_E_CONFIG, "invalid BERT shape (a layer's heads must be 1 to heads, its ffn 1 to ffn): "
                                         "layer %d has %d heads (max %d), ffn %d (max %d)", l,
                           m->heads[l], d->A, m->ffn[l], d->F);
    }
    ofa_params_init(&m->p);
    const int H = d->H;
    m->word = add(m, "embeddings/word", d->V, H, 1);
    m->pos = add(m, "embeddings/position", d->P, H, 1);
    m->type = add(m, "embeddings/token_type", ofa_bert_types(d), H, 1);
    m->emb_g = add(m, "embeddings/ln_gamma", H, 0, 0);
    m->emb_b = add(m, "embeddings/ln_beta", H, 0, 0);
    for (int l = 0; l < d->L; l++) {
        ofa_bert_layer_idx *x = &m->layer[l];
        const int W = m->heads[l] * m->d.D, F = m->ffn[l];
        char n[64];
#define ADD(field, suffix, d0, d1, decay)                                                          \
    snprintf(n, sizeof n, "layer_%02d/%s", l, suffix);                                             \
    x->field = add(m, n, d0, d1, decay)
        ADD(wq, "attn/wq", W, H, 1);
        ADD(bq, "attn/bq", W, 0, 0);
        ADD(wk, "attn/wk", W, H, 1);
        ADD(bk, "attn/bk", W, 0, 0);
        ADD(wv, "attn/wv", W, H, 1);
        ADD(bv, "attn/bv", W, 0, 0);
        ADD(wo, "attn/wo", H, W, 1);
        ADD(bo, "attn/bo", H, 0, 0);
        ADD(ln1_g, "attn_ln/gamma", H, 0, 0);
        ADD(ln1_b, "attn_ln/beta", H, 0, 0);
        ADD(w1, "ffn/w1", F, H, 1);
        ADD(b1, "ffn/b1", F, 0, 0);
        ADD(w2, "ffn/w2", H, F, 1);
        ADD(b2, "ffn/b2", H, 0, 0);
        ADD(ln2_g, "ffn_ln/gamma", H, 0, 0);
        ADD(ln2_b, "ffn_ln/beta", H, 0, 0);
#undef ADD
    }
    m->pool_w = add(m, "pooler/w", H, H, 1);
    m->pool_b = add(m, "pooler/b", H, 0, 0);
    m->cls_w = add(m, "classifier/w", d->C, H, 1);
    m->cls_b = add(m, "classifier/b", d->C, 0, 0);
    ofa_params_alloc(&m->p);
    return 0;
}

int ofa_bert_create(ofa_bert *m, const ofa_bert_dims *d) { return ofa_bert_create_shaped(m, d, NULL, NULL); }

void ofa_bert_init_weights(ofa_bert *m, ofa_rng *rng, double std)
{
    for (int i = 0; i < m->p.n; i++) {
        const ofa_pview *v = &m->p.views[i];
        float *w = m->p.data + v->offset;
        int is_gamma = strstr(v->name, "gamma") != NULL;
        for (size_t j = 0; j < v->numel; j++)
            w[j] = v->ndim == 2 ? (float)(std * ofa_rng_normal(rng)) : (is_gamma ? 1.0f : 0.0f);
    }
}

void ofa_bert_free(ofa_bert *m)
{
    if (!m) return;
    ofa_params_free(&m->p);
}

/* ---- views ---- */

static ofa_bert_slice slice(const ofa_bert *m, float *buf, int idx, int rows, int cols, int ld)
{
    return (ofa_bert_slice){buf + m->p.views[idx].offset, rows, cols, ld};
}

static void check_buf(const ofa_bert *m, const float *buf)
{
    const ofa_params *p = &m->p;
    OFA_ASSERT(buf && (buf == p->data || buf == p->grad || buf == p->m || buf == p->v));
}

void ofa_bert_view_layer(ofa_bert_layer_view *v, const ofa_bert *m, const ofa_bert_arch *arch, int i, float *buf)
{
    check_buf(m, buf);
    const int H = m->d.H, D = m->d.D;
    int l, h, f, E;
    if (arch) {
        OFA_ASSERT(i >= 0 && i < arch->depth);
        l = arch->layer[i], h = arch->heads[i], f = arch->ffn[i], E = arch->hidden;
    } else {
        OFA_ASSERT(i >= 0 && i < m->d.L);
        l = i, h = m->heads[i], f = m->ffn[i], E = H;
    }
    OFA_ASSERT(l >= 0 && l < m->d.L && h >= 1 && h <= m->heads[l] && f >= 1 && f <= m->ffn[l] && E >= 1 && E <= H);
    const int w = h * D, Wl = m->heads[l] * D, Fl = m->ffn[l];
    const ofa_bert_layer_idx *x = &m->layer[l];
    v->layer = l;
    v->heads = h;
    v->w = w;
    v->f = f;
    v->E = E;
    v->eps = ofa_bert_eps(&m->d);
    v->wq = slice(m, buf, x->wq, w, E, H);
    v->bq = slice(m, buf, x->bq, 1, w, Wl);
    v->wk = slice(m, buf, x->wk, w, E, H);
    v->bk = slice(m, buf, x->bk, 1, w, Wl);
    v->wv = slice(m, buf, x->wv, w, E, H);
    v->bv = slice(m, buf, x->bv, 1, w, Wl);
    v->wo = slice(m, buf, x->wo, E, w, Wl);
    v->bo = slice(m, buf, x->bo, 1, E, H);
    v->ln1_g = slice(m, buf, x->ln1_g, 1, E, H);
    v->ln1_b = slice(m, buf, x->ln1_b, 1, E, H);
    v->w1 = slice(m, buf, x->w1, f, E, H);
    v->b1 = slice(m, buf, x->b1, 1, f, Fl);
    v->w2 = slice(m, buf, x->w2, E, f, Fl);
    v->b2 = slice(m, buf, x->b2, 1, E, H);
    v->ln2_g = slice(m, buf, x->ln2_g, 1, E, H);
    v->ln2_b = slice(m, buf, x->ln2_b, 1, E, H);
}

void ofa_bert_view_outer(ofa_bert_outer_view *v, const ofa_bert *m, const ofa_bert_arch *arch, float *buf)
{
    check_buf(m, buf);
    const ofa_bert_dims *d = &m->d;
    const int H = d->H, E = arch ? arch->hidden : H, C = d->C;
    OFA_ASSERT(E >= 1 && E <= H);
    v->E = E;
    v->C = C;
    v->T = ofa_bert_types(d);
    v->eps = ofa_bert_eps(d);
    v->word = slice(m, buf, m->word, d->V, E, H);
    v->pos = slice(m, buf, m->pos, d->P, E, H);
    v->type = slice(m, buf, m->type, ofa_bert_types(d), E, H);
    v->emb_g = slice(m, buf, m->emb_g, 1, E, H);
    v->emb_b = slice(m, buf, m->emb_b, 1, E, H);
    v->pool_w = slice(m, buf, m->pool_w, E, E, H);
    v->pool_b = slice(m, buf, m->pool_b, 1, E, H);
    v->cls_w = slice(m, buf, m->cls_w, C, E, H);
    v->cls_b = slice(m, buf, m->cls_b, 1, C, C);
}

/* ---- activations ---- */

/* Walks the lists of bert.h in order, each buffer on a 64-byte boundary; with base NULL it only
 * counts the bytes, otherwise it also points every field into base.  Returns the bytes. */
static size_t acts_layout(ofa_bert_acts *a, char *base, const ofa_bert_dims *d, int Bmax, int Tmax, int forward_only)
{
    const size_t B = (size_t)Bmax, T = (size_t)Tmax, N = B * T, H = (size_t)d->H, F = (size_t)d->F,
                 A = (size_t)d->A, C = (size_t)d->C, Dh = (size_t)ofa_bert_head_dim(d), WA = A * Dh > H ? A * Dh : H;
    size_t off = 0;
#define PLACE(obj, type, name, count)                                                              \
    if (base) (obj)->name = (type *)(void *)(base + off);                                          \
    off += ((size_t)(count) * sizeof(type) + 63) / 64 * 64;
#define MODEL(type, name, count) PLACE(a, type, name, count)
#define LAYER(type, name, count) PLACE(x, type, name, count)
    OFA_BERT_ACTS_MODEL(MODEL)
    for (int l = 0; l < d->L; l++) {
        ofa_bert_layer_acts *x = &a->layer[l];
        if (forward_only && l > 0) { /* layer 0's buffers, but its own output */
            if (base) *x = a->layer[0];
            PLACE(x, float, x2, N * H)
            continue;
        }
        OFA_BERT_ACTS_LAYER(LAYER)
    }
#undef LAYER
#undef MODEL
#undef PLACE
    return off;
}

static int acts_try_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax, int forward_only)
{
    memset(a, 0, sizeof *a);
    const size_t bytes = acts_layout(a, NULL, d, Bmax, Tmax, forward_only);
    void *p = aligned_alloc(64, bytes ? bytes : 64); /* acts_layout rounds every buffer to 64 bytes */
    if (!p)
        return OFA_ERR(OFA_E_RUNTIME,
                       "out of memory: %.2f GiB of activations for batches of %d x %d tokens (%d layers, hidden %d, "
                       "%d heads, ffn %d) cannot be allocated",
                       (double)bytes / (1 << 30), Bmax, Tmax, d->L, d->H, d->A, d->F);
    ofa_zero_pages(p, bytes);
    a->Bmax = Bmax;
    a->Tmax = Tmax;
    a->L = d->L;
    a->forward_only = forward_only;
    a->arena_bytes = bytes;
    a->arena = p;
    acts_layout(a, a->arena, d, Bmax, Tmax, forward_only);
    return 0;
}

int ofa_bert_acts_try_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax)
{
    return acts_try_create(a, d, Bmax, Tmax, 0);
}

int ofa_bert_acts_try_create_forward(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax)
{
    return acts_try_create(a, d, Bmax, Tmax, 1);
}

void ofa_bert_acts_create(ofa_bert_acts *a, const ofa_bert_dims *d, int Bmax, int Tmax)
{
    memset(a, 0, sizeof *a);
    a->Bmax = Bmax;
    a->Tmax = Tmax;
    a->L = d->L;
    a->arena_bytes = acts_layout(a, NULL, d, Bmax, Tmax, 0);
    a->arena = ofa_xalloc_aligned(a->arena_bytes); /* zeroed */
    acts_layout(a, a->arena, d, Bmax, Tmax, 0);
}

void ofa_bert_acts_free(ofa_bert_acts *a)
{
    if (!a) return;
    free(a->arena);
    memset(a, 0, sizeof *a);
}

/* ---- forward ---- */

static void add_into(float *y, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void ofa_bert_full_arch(const ofa_bert *m, ofa_bert_arch *a)
{
    ofa_bert_arch_full(a, m->d.L, m->d.A, m->d.F, m->d.H);
    for (int l = 0; l < m->d.L; l++) {
        a->heads[l] = m->heads[l];
        a->ffn[l] = m->ffn[l];
    }
}

const float *ofa_bert_forward(const ofa_bert *m, ofa_bert_acts *a, const int32_t *ids, const int32_t *types,
                              const int32_t *lens, int B, int T, const ofa_bert_arch *arch, int train, double dropout,
                              ofa_rng *rng)
{
    const ofa_bert_dims *d = &m->d;
    OFA_ASSERT(B <= a->Bmax && T <= a->Tmax && T <= d->P);
    if (arch) a->arch = *arch;
    else ofa_bert_full_arch(m, &a->arch);
    const int H = d->H, D = d->D, N = B * T, E = a->arch.hidden;
    OFA_ASSERT(E >= 1 && E <= H && a->arch.depth >= 0 && a->arch.depth <= d->L);
    const size_t NE = (size_t)N * E;
    a->B = B;
    a->T = T;
    a->ids = ids;
    a->types = types;
    a->lens = lens;
    a->train = train && dropout > 0;
    a->dropout = dropout;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) a->pos_ids[b * T + t] = t;

    ofa_bert_outer_view ow;
    ofa_bert_view_outer(&ow, m, &a->arch, m->p.data);
    nn_embed_fwd_f32(a->emb, E, ids, N, ow.word.p, ow.word.ld, E, 0);
    nn_embed_fwd_f32(a->emb, E, a->pos_ids, N, ow.pos.p, ow.pos.ld, E, 1);
    nn_embed_fwd_f32(a->emb, E, types, N, ow.type.p, ow.type.ld, E, 1);
    nn_layernorm_fwd_f32(a->x0, a->emb_mean, a->emb_rstd, a->emb, ow.emb_g.p, ow.emb_b.p, N, E, ofa_bert_eps(&m->d));
    if (a->train) nn_dropout_fwd_f32(a->x0, a->x0_mask, a->x0, (int64_t)NE, dropout, rng);

    const float *x = a->x0;
    for (int i = 0; i < a->arch.depth; i++) {
        ofa_bert_layer_view lw;
        ofa_bert_view_layer(&lw, m, &a->arch, i, m->p.data);
        const int w = lw.w, f = lw.f;
        ofa_bert_layer_acts *s = &a->layer[i];
        nn_linear_fwd_f32(s->q, w, x, E, lw.wq.p, lw.wq.ld, lw.bq.p, N, E, w);
        nn_linear_fwd_f32(s->k, w, x, E, lw.wk.p, lw.wk.ld, lw.bk.p, N, E, w);
        nn_linear_fwd_f32(s->v, w, x, E, lw.wv.p, lw.wv.ld, lw.bv.p, N, E, w);
        const float *hm = a->head_mult ? a->head_mult + (size_t)lw.layer * d->A : NULL;
        nn_attention_fwd_f32(s->ctx, w, s->probs, s->q, s->k, s->v, w, lens, hm, B, T, lw.heads, D,
                             1.0 / sqrt((double)D));
        nn_linear_fwd_f32(s->ao, E, s->ctx, w, lw.wo.p, lw.wo.ld, lw.bo.p, N, w, E);
        if (a->train) nn_dropout_fwd_f32(s->ao, s->ao_mask, s->ao, (int64_t)NE, dropout, rng);
        memcpy(s->r1, x, NE * sizeof(float));
        add_into(s->r1, s->ao, NE);
        nn_layernorm_fwd_f32(s->x1, s->ln1_mean, s->ln1_rstd, s->r1, lw.ln1_g.p, lw.ln1_b.p, N, E, ofa_bert_eps(&m->d));
        nn_linear_fwd_f32(s->h, f, s->x1, E, lw.w1.p, lw.w1.ld, lw.b1.p, N, E, f);
        nn_gelu_fwd_f32(s->g, s->h, (int64_t)N * f);
        nn_linear_fwd_f32(s->fo, E, s->g, f, lw.w2.p, lw.w2.ld, lw.b2.p, N, f, E);
        if (a->train) nn_dropout_fwd_f32(s->fo, s->fo_mask, s->fo, (int64_t)NE, dropout, rng);
        memcpy(s->r2, s->x1, NE * sizeof(float));
        add_into(s->r2, s->fo, NE);
        nn_layernorm_fwd_f32(s->x2, s->ln2_mean, s->ln2_rstd, s->r2, lw.ln2_g.p, lw.ln2_b.p, N, E, ofa_bert_eps(&m->d));
        x = s->x2;
    }
    for (int b = 0; b < B; b++) memcpy(a->cls + (size_t)b * E, x + (size_t)b * T * E, (size_t)E * sizeof(float));
    nn_linear_fwd_f32(a->pp, E, a->cls, E, ow.pool_w.p, ow.pool_w.ld, ow.pool_b.p, B, E, E);
    nn_tanh_fwd_f32(a->pt, a->pp, (int64_t)B * E);
    if (a->train) nn_dropout_fwd_f32(a->pooled, a->pooled_mask, a->pt, (int64_t)B * E, dropout, rng);
    else memcpy(a->pooled, a->pt, (size_t)B * E * sizeof(float));
    nn_linear_fwd_f32(a->logits, d->C, a->pooled, E, ow.cls_w.p, ow.cls_w.ld, ow.cls_b.p, B, E, d->C);
    return a->logits;
}

/* ---- backward ---- */

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

/* dst = src (through the dropout mask when training) */
static void dropout_back(const ofa_bert_acts *a, float *dst, const float *src, const float *mask, size_t n)
{
    if (a->train) {
        zero(dst, n);
        nn_dropout_bwd_f32(dst, src, mask, (int64_t)n);
    } else {
        memcpy(dst, src, n * sizeof(float));
    }
}

static size_t view_end(const ofa_bert *m, int idx) { return m->p.views[idx].offset + m->p.views[idx].numel; }

/* Where the gradients the rest of a backward still writes end, once the active layers i..depth-1
 * are done: the rest writes active layers 0..i-1 and the embeddings (below the layers in the
 * buffer), so everything from there up is final for the pass (nn/params.h ofa_params_grads_final). */
static size_t still_written_end(const ofa_bert *m, const ofa_bert_arch *arch, int i)
{
    size_t end = view_end(m, m->emb_b);
    for (int j = 0; j < i; j++) {
        size_t e = view_end(m, m->layer[arch->layer[j]].ln2_b);
        if (e > end) end = e;
    }
    return end;
}

void ofa_bert_backward(ofa_bert *m, ofa_bert_acts *a, const float *dlogits, const float *const *dhidden)
{
    const ofa_bert_dims *d = &m->d;
    const int D = d->D, B = a->B, T = a->T, N = B * T, E = a->arch.hidden;
    const size_t NE = (size_t)N * E, BE = (size_t)B * E;
    const int depth = a->arch.depth;
    OFA_ASSERT(!a->forward_only);
    /* weights (ow, lw) and the gradients' matching slices (og, lg) */
    ofa_bert_outer_view ow, og;
    ofa_bert_view_outer(&ow, m, &a->arch, m->p.data);
    ofa_bert_view_outer(&og, m, &a->arch, m->p.grad);

    /* classifier and pooler */
    zero(a->dpooled, BE);
    nn_linear_bwd_f32(a->dpooled, E, og.cls_w.p, og.cls_w.ld, og.cls_b.p, dlogits, d->C, a->pooled, E, ow.cls_w.p,
                      ow.cls_w.ld, B, E, d->C);
    dropout_back(a, a->dpp, a->dpooled, a->pooled_mask, BE);
    zero(a->dpooled, BE);
    nn_tanh_bwd_f32(a->dpooled, a->dpp, a->pt, (int64_t)BE);
    zero(a->dcls, BE);
    nn_linear_bwd_f32(a->dcls, E, og.pool_w.p, og.pool_w.ld, og.pool_b.p, a->dpooled, E, a->cls, E, ow.pool_w.p,
                      ow.pool_w.ld, B, E, E);
    float *dX = a->dA, *dR = a->dB, *dT = a->dC;
    zero(dX, NE);
    for (int b = 0; b < B; b++) add_into(dX + (size_t)b * T * E, a->dcls + (size_t)b * E, (size_t)E);
    ofa_params_grads_final(&m->p, still_written_end(m, &a->arch, depth));

    for (int i = depth - 1; i >= 0; i--) {
        ofa_bert_layer_view lw, lg;
        ofa_bert_view_layer(&lw, m, &a->arch, i, m->p.data);
        ofa_bert_view_layer(&lg, m, &a->arch, i, m->p.grad);
        const int l = lw.layer, w = lw.w, f = lw.f;
        ofa_bert_layer_acts *s = &a->layer[i];
        const float *x_in = i > 0 ? a->layer[i - 1].x2 : a->x0;
        if (dhidden && dhidden[i + 1]) add_into(dX, dhidden[i + 1], NE);
        /* ffn LayerNorm: dR = d r2 */
        zero(dR, NE);
        nn_layernorm_bwd_f32(dR, lg.ln2_g.p, lg.ln2_b.p, dX, s->r2, s->ln2_mean, s->ln2_rstd, lw.ln2_g.p, N, E);
        dropout_back(a, dT, dR, s->fo_mask, NE);
        zero(a->dg, (size_t)N * f);
        nn_linear_bwd_f32(a->dg, f, lg.w2.p, lg.w2.ld, lg.b2.p, dT, E, s->g, f, lw.w2.p, lw.w2.ld, N, f, E);
        zero(a->dh, (size_t)N * f);
        nn_gelu_bwd_f32(a->dh, a->dg, s->h, (int64_t)N * f);
        /* residual: dR already holds d x1 from the skip path; add the FFN path */
        nn_linear_bwd_f32(dR, E, lg.w1.p, lg.w1.ld, lg.b1.p, a->dh, f, s->x1, E, lw.w1.p, lw.w1.ld, N, E, f);
        /* attention LayerNorm: dX = d r1 */
        zero(dX, NE);
        nn_layernorm_bwd_f32(dX, lg.ln1_g.p, lg.ln1_b.p, dR, s->r1, s->ln1_mean, s->ln1_rstd, lw.ln1_g.p, N, E);
        dropout_back(a, dT, dX, s->ao_mask, NE);
        zero(a->dctx, (size_t)N * w);
        nn_linear_bwd_f32(a->dctx, w, lg.wo.p, lg.wo.ld, lg.bo.p, dT, E, s->ctx, w, lw.wo.p, lw.wo.ld, N, w, E);
        zero(a->dq, (size_t)N * w);
        zero(a->dk, (size_t)N * w);
        zero(a->dv, (size_t)N * w);
        const float *hm = a->head_mult ? a->head_mult + (size_t)l * d->A : NULL;
        float *dhm = a->dhead_mult ? a->dhead_mult + (size_t)l * d->A : NULL;
        nn_attention_bwd_f32(a->dq, a->dk, a->dv, w, dhm, a->dctx, w, s->probs, s->q, s->k, s->v, w, a->lens, hm, B,
                             T, lw.heads, D, 1.0 / sqrt((double)D), a->att_scratch);
        /* dX holds d r1 = gradient of the layer input through the skip path; add the q/k/v paths */
        nn_linear_bwd_f32(dX, E, lg.wq.p, lg.wq.ld, lg.bq.p, a->dq, w, x_in, E, lw.wq.p, lw.wq.ld, N, E, w);
        /* d loss / d bk is exactly zero (softmax ignores a shift shared by every key); computing it
         * would only add float noise, which AdamW turns into lr-sized random steps */
        nn_linear_bwd_f32(dX, E, lg.wk.p, lg.wk.ld, NULL, a->dk, w, x_in, E, lw.wk.p, lw.wk.ld, N, E, w);
        nn_linear_bwd_f32(dX, E, lg.wv.p, lg.wv.ld, lg.bv.p, a->dv, w, x_in, E, lw.wv.p, lw.wv.ld, N, E, w);
        ofa_params_grads_final(&m->p, still_written_end(m, &a->arch, i));
    }
    if (dhidden && dhidden[0]) add_into(dX, dhidden[0], NE);
    /* embeddings */
    dropout_back(a, dT, dX, a->x0_mask, NE);
    zero(dR, NE);
    nn_layernorm_bwd_f32(dR, og.emb_g.p, og.emb_b.p, dT, a->emb, a->emb_mean, a->emb_rstd, ow.emb_g.p, N, E);
    nn_embed_bwd_f32(og.word.p, og.word.ld, dR, E, a->ids, N, E);
    nn_embed_bwd_f32(og.pos.p, og.pos.ld, dR, E, a->pos_ids, N, E);
    nn_embed_bwd_f32(og.type.p, og.type.ld, dR, E, a->types, N, E);
    ofa_params_grads_final(&m->p, 0);
}

double ofa_bert_forward_flops(const ofa_bert_dims *d, int B, int T)
{
    double N = (double)B * T, H = d->H, F = d->F;
    double per_layer = 2 * N * (4 * H * H + 2 * H * F) + 2 * 2 * (double)B * T * T * H;
    return d->L * per_layer + 2 * (double)B * H * H + 2 * (double)B * H * d->C;
}
