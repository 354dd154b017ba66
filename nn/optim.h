/* nn/optim: AdamW (PyTorch's torch.optim.AdamW arithmetic, decoupled weight decay applied only to
 * views with decay=1), linear warmup + linear decay schedule, global-norm gradient clipping. */
#ifndef OFA_NN_OPTIM_H
#define OFA_NN_OPTIM_H

#include <stdint.h>

#include "nn/params.h"

/* torch.optim.AdamW's defaults (the config's optim.beta1, beta2, eps) */
#define OFA_ADAMW_BETA1 0.9
#define OFA_ADAMW_BETA2 0.999
#define OFA_ADAMW_EPS 1e-8

typedef struct ofa_adamw {
    double beta1, beta2, eps, weight_decay;
    int64_t t; /* steps taken (bias correction) */
} ofa_adamw;

void ofa_adamw_init(ofa_adamw *o, double weight_decay); /* the default betas and eps */
void ofa_adamw_init_ex(ofa_adamw *o, double beta1, double beta2, double eps, double weight_decay);
/* One step with learning rate lr on every view, using p->grad; increments o->t. */
void ofa_adamw_step(ofa_adamw *o, ofa_params *p, double lr);
/* Global L2 norm of p->grad; when max_norm > 0 and the norm exceeds it, scales grads by
 * max_norm / (norm + 1e-6) (PyTorch's clip_grad_norm_).  Returns the norm before clipping. */
double ofa_grad_clip(ofa_params *p, double max_norm);
/* Linear warmup over `warmup` steps from 0 to base, then linear decay to 0 at `total`;
 * step is 0-based (the lr used for the step-th update). */
double ofa_lr_at(double base, int64_t step, int64_t warmup, int64_t total);

#endif
