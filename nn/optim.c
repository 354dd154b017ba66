/* nn/optim: AdamW with torch.optim.AdamW's arithmetic (float tensors, double scalars), gradient
 * clipping like torch.nn.utils.clip_grad_norm_, and the linear warmup/decay schedule of
 * transformers' get_linear_schedule_with_warmup. */
#include "nn/optim.h"

#include <math.h>

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

void ofa_adamw_step(ofa_adamw *o, ofa_params *p, double lr)
{
    o->t++;
    double bc1 = 1 - pow(o->beta1, (double)o->t), bc2 = 1 - pow(o->beta2, (double)o->t);
    /* torch turns each Python scalar into a float operand of a float tensor op */
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, a1 = (float)(1 - o->beta1),
                a2 = (float)(1 - o->beta2), eps = (float)o->eps, step_size = (float)(lr / bc1),
                bc2_sqrt = (float)sqrt(bc2), decay = (float)(1 - lr * o->weight_decay);
    for (int k = 0; k < p->n; k++) {
        const ofa_pview *pv = &p->views[k];
        float *w = p->data + pv->offset, *g = p->grad + pv->offset, *m = p->m + pv->offset,
              *v = p->v + pv->offset;
        int wd = pv->decay && o->weight_decay != 0;
        for (size_t i = 0; i < pv->numel; i++) {
            if (wd) w[i] *= decay;
            m[i] = m[i] * b1 + a1 * g[i];
            v[i] = v[i] * b2 + a2 * g[i] * g[i];
            float denom = sqrtf(v[i]) / bc2_sqrt + eps;
            w[i] += -step_size * (m[i] / denom);
        }
    }
}

double ofa_grad_clip(ofa_params *p, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < p->total; i++) ss += (double)p->grad[i] * p->grad[i];
    double norm = sqrt(ss);
    double coef = max_norm / (norm + 1e-6);
    if (max_norm > 0 && coef < 1) {
        float c = (float)coef;
        for (size_t i = 0; i < p->total; i++) p->grad[i] *= c;
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
