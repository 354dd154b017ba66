/* nn/params: all parameters of a model in one float buffer with a table of named views.
 *
 * Gradients and AdamW's m and v use the same layout, so the optimizer, the (later) allreduce and the
 * HDF5 writer are flat loops over the table.  Usage: ofa_params_init, ofa_params_add for each tensor
 * (in a fixed order), ofa_params_alloc, then ofa_params_get(p, "layer_00/attn/wq").
 * Each view starts at a 16-float boundary (64 bytes) so kernels see aligned rows.
 */
#ifndef OFA_NN_PARAMS_H
#define OFA_NN_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define OFA_PARAM_NAME_MAX 64
#define OFA_PARAM_MAX_DIMS 4

/* grad has OFA_GRAD_EXTRA floats after p->total: per-step statistics (losses, token counts, a stop
 * flag) that ride along with the gradients in the one allreduce of a distributed step.  They are
 * not parameters: the optimizer, clipping and checkpoints never see them. */
#define OFA_GRAD_EXTRA 16

typedef struct ofa_pview {
    char name[OFA_PARAM_NAME_MAX];
    int ndim;
    int64_t shape[OFA_PARAM_MAX_DIMS];
    size_t offset; /* in floats, into data/grad/m/v */
    size_t numel;
    int decay;     /* 1: weight decay applies (matrices); 0: biases, LayerNorm, ... */
} ofa_pview;

typedef struct ofa_params {
    ofa_pview *views;
    int n, cap;
    size_t total; /* floats, including alignment padding */
    float *data, *grad, *m, *v;
    /* Who listens for finished gradients (NULL: no one): a backward that knows grad[off..total) will
     * not change again in this pass calls ofa_params_grads_final(p, off), with off falling as it
     * goes.  The gradient allreduce (core/topo's buckets) starts on those parts while the backward
     * computes the rest.  Set by the trainer around its last backward of a step only. */
    void (*final_fn)(void *ctx, size_t off);
    void *final_ctx;
} ofa_params;

static inline void ofa_params_grads_final(const ofa_params *p, size_t off)
{
    if (p->final_fn) p->final_fn(p->final_ctx, off);
}

void ofa_params_init(ofa_params *p);
/* Adds a view; returns its index.  Names must be unique (asserted). */
int ofa_params_add(ofa_params *p, const char *name, int ndim, const int64_t *shape, int decay);
/* Allocates data, grad, m, v (zeroed, 64-byte aligned; data from 8 MiB on 2 MiB aligned and
 * advised for huge pages: ofa_xalloc_huge). */
void ofa_params_alloc(ofa_params *p);
/* Index of a view by name, -1 when absent. */
int ofa_params_find(const ofa_params *p, const char *name);
/* Pointer into data for a name; asserts it exists. */
float *ofa_params_get(const ofa_params *p, const char *name);
float *ofa_params_grad(const ofa_params *p, const char *name);
void ofa_params_zero_grad(ofa_params *p);
void ofa_params_free(ofa_params *p);

/* Writes / reads one dataset <group>/<view name> per view from / into buf (data, m or v of p),
 * shapes checked on read (OFA_E_FORMAT naming the dataset).  HDF5 files are core/h5io's. */
struct ofa_h5;
int ofa_params_write_h5(struct ofa_h5 *h, const char *group, const ofa_params *p, const float *buf);
int ofa_params_read_h5(struct ofa_h5 *h, const char *group, const ofa_params *p, float *buf);

#endif
