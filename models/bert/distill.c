#include "models/bert/distill.h"

#include <string.h>

#include "nn/nn.h"
#include "nn/loss.h"

/* mean((s - t[:, :e])^2) over N rows; ds = scale * 2 (s - t) / (N e).  t has row stride ldt. */
static double mse_strided(float *ds, const float *s, const float *t, int ldt, int N, int e, double scale)
{
    double sum = 0;
    const double n = (double)N * e, g = 2.0 * scale / n;
    for (int r = 0; r < N; r++) {
        const float *sr = s + (size_t)r * e, *tr = t + (size_t)r * ldt;
        float *dr = ds ? ds + (size_t)r * e : NULL;
        for (int c = 0; c < e; c++) {
            double d = (double)sr[c] - (double)tr[c];
            sum += d * d;
            if (dr) dr[c] = (float)(g * d);
        }
    }
    return sum / n;
}

double ofa_distill_loss(const ofa_distill_cfg *cfg, const ofa_bert_acts *s, const ofa_bert_acts *t, int C,
                        const int32_t *labels, const float *targets, float *dlogits, float *const *dhidden,
                        ofa_distill_parts *parts)
{
    const int B = s->B, N = s->B * s->T, e = s->arch.hidden, H = t->arch.hidden;
    memset(dlogits, 0, (size_t)B * C * sizeof(float));
    ofa_distill_parts p = {0, 0, 0, 0};
    if (cfg->lambda_logit != 0) {
        if (C == 1) p.logit = nn_mse_f32(dlogits, s->logits, t->logits, B, cfg->lambda_logit);
        else p.logit = nn_soft_xent_f32(dlogits, s->logits, t->logits, B, C, cfg->temperature, cfg->lambda_logit);
    }
    if (cfg->lambda_hard != 0) {
        if (C == 1) p.hard = nn_mse_f32(dlogits, s->logits, targets, B, cfg->lambda_hard);
        else p.hard = nn_xent_f32(dlogits, s->logits, labels, B, C, cfg->lambda_hard);
    }
    if (cfg->lambda_hidden != 0) {
        for (int j = 0; j <= s->arch.depth; j++) {
            const float *sh = j == 0 ? s->x0 : s->layer[j - 1].x2;
            const float *th = j == 0 ? t->x0 : t->layer[s->arch.layer[j - 1]].x2;
            p.hidden += mse_strided(dhidden[j], sh, th, H, N, e, cfg->lambda_hidden);
        }
    }
    p.total = cfg->lambda_logit * p.logit + cfg->lambda_hidden * p.hidden + cfg->lambda_hard * p.hard;
    if (parts) *parts = p;
    return p.total;
}
