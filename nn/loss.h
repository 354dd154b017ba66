/* nn/loss: the task loss of a classifier or regressor head, shared by every stage that trains one.
 * Not collective; no state. */
#ifndef OFA_NN_LOSS_H
#define OFA_NN_LOSS_H

#include <stdint.h>

/* The loss of one batch for task outputs C (C == 1: MSE regression, else cross-entropy); dlogits
 * (may be NULL) receives the gradient of the mean loss. */
double ofa_task_loss(float *dlogits, const float *logits, const int32_t *labels, const float *targets, int B, int C);

#endif
