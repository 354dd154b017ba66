/* nn/optim: AdamW with torch.optim.AdamW's arithmetic (float tensors, double scalars), gradient
 * clipping like torch.nn.utils.clip_grad_norm_, and the linear warmup/decay schedule of
 * transformers' get_linear_schedule_with_warmup. */
#include "nn/optim.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "core/par.h"

void ofa_adamw_init_ex(ofa_adamw *o, double beta1, double beta2, double eps, double weight_decay)
{
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = weight_decay;
    o->t = 0;
}

void ofa_adamw_init(ofa_adamw *o, double weight_decay)
{
    ofa_adamw_init_ex(o, OFA_ADAMW_BETA1, OFA_ADAMW_BETA2, OFA_ADAMW_EPS, weight_decay);
}

/* One view's update, elements lo..hi.  Restrict pointers let gcc vectorize the loop (nn/optim.o is
 * built with -fno-math-errno, so sqrtf is an instruction); the arithmetic per element is the same
 * as a scalar loop's, whichever thread runs it. */
typedef struct adamw_ctx {
    float *w, *m, *v;
    const float *g;
    int wd;
    float decay, b1, a1, b2, a2, bc2_sqrt, eps, step_size;
} adamw_ctx;

static void adamw_range(void *ctx, int64_t lo, int64_t hi)
{
    const adamw_ctx *c = ctx;
    float *restrict w = c->w, *restrict m = c->m, *restrict v = c->v;
    const float *restrict g = c->g;
    const float b1 = c->b1, a1 = c->a1, b2 = c->b2, a2 = c->a2, bc2_sqrt = c->bc2_sqrt, eps = c->eps,
                step_size = c->step_size, decay = c->decay;
    /* one pass over the four arrays (the update is memory-bound: 28 bytes a parameter), the decay
     * applied first as torch does; a multiply by 1 where there is no decay leaves w as it is */
    const float dk = c->wd ? decay : 1.0f;
    for (int64_t i = lo; i < hi; i++) {
        float wi = w[i] * dk;
        m[i] = m[i] * b1 + a1 * g[i];
        v[i] = v[i] * b2 + a2 * g[i] * g[i];
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        w[i] = wi + -step_size * (m[i] / denom);
    }
}

void ofa_adamw_step(ofa_adamw *o, ofa_params *p, double lr)
{
    o->t++;
    double bc1 = 1 - pow(o->beta1, (double)o->t), bc2 = 1 - pow(o->beta2, (double)o->t);
    /* torch turns each Python scalar into a float operand of a float tensor op */
    adamw_ctx c = {.b1 = (float)o->beta1,
                   .b2 = (float)o->beta2,
                   .a1 = (float)(1 - o->beta1),
                   .a2 = (float)(1 - o->beta2),
                   .eps = (float)o->eps,
                   .step_size = (float)(lr / bc1),
                   .bc2_sqrt = (float)sqrt(bc2),
                   .decay = (float)(1 - lr * o->weight_decay)};
    for (int k = 0; k < p->n; k++) {
        const ofa_pview *pv = &p->views[k];
        size_t off = pv->offset;
        c.w = p->data + off;
        c.g = p->grad + off;
        c.m = p->m + off;
        c.v = p->v + off;
        c.wd = pv->decay && o->weight_decay != 0;
        ofa_par_for((int64_t)pv->numel, 32768, adamw_range, &c);
    }
}

/* The squared norm in blocks of NORM_BLOCK floats, each summed with 8 partial sums gcc keeps in
 * vector registers, then the blocks in order: a fixed order, so every rank, run and thread count
 * gets the same norm (one ordered sum would be a scalar chain of 110 M adds at BERT-base). */
#define NORM_BLOCK 65536
typedef struct norm_ctx {
    const float *g;
    size_t total;
    double *block;
} norm_ctx;

static void norm_blocks(void *ctx, int64_t lo, int64_t hi)
{
    const norm_ctx *c = ctx;
    for (int64_t b = lo; b < hi; b++) {
        size_t i = (size_t)b * NORM_BLOCK, end = i + NORM_BLOCK < c->total ? i + NORM_BLOCK : c->total;
        const float *g = c->g;
        double part[8] = {0};
        for (; i + 8 <= end; i += 8)
            for (int j = 0; j < 8; j++) part[j] += (double)g[i + j] * g[i + j];
        double ss = 0;
        for (int j = 0; j < 8; j++) ss += part[j];
        for (; i < end; i++) ss += (double)g[i] * g[i];
        c->block[b] = ss;
    }
}

typedef struct scale_ctx {
    float *g;
    float c;
} scale_ctx;

static void scale_range(void *ctx, int64_t lo, int64_t hi)
{
    const scale_ctx *s = ctx;
    for (int64_t i = lo; i < hi; i++) s->g[i] *= s->c;
}

double ofa_grad_clip(ofa_params *p, double max_norm)
{
    int64_t nb = (int64_t)((p->total + NORM_BLOCK - 1) / NORM_BLOCK);
    double *block = ofa_xmalloc((size_t)(nb > 0 ? nb : 1) * sizeof *block);
    norm_ctx nc = {p->grad, p->total, block};
    ofa_par_for(nb, 4, norm_blocks, &nc);
    double ss = 0;
    for (int64_t b = 0; b < nb; b++) ss += block[b];
    free(block);
    double norm = sqrt(ss);
    double coef = max_norm / (norm + 1e-6);
    if (max_norm > 0 && coef < 1) {
        scale_ctx sc = {p->grad, (float)coef};
        ofa_par_for((int64_t)p->total, 32768, scale_range, &sc);
    }
    return norm;
}

double ofa_lr_at(double base, int64_t step, int64_t warmup, int64_t total)
{
    if (step < warmup) return base * (double)step / (double)(warmup > 1 ? warmup : 1);
    int64_t span = total - warmup > 1 ? total - warmup : 1;
    double f = (double)(total - step) / (double)span;
    return base * (f > 0 ? f : 0);
}
