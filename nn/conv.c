/* nn/conv.c: the geometry of the image layers, shared by both precisions of nn/conv.inc. */
#include "nn/conv.h"

#include "core/error.h"

/* Columns per GEMM the im2col path aims for: small images (8x8 = 64 positions) are batched over
 * samples so that the GEMM's N is at least this, which keeps OpenBLAS's threads busy; large images
 * run one sample at a time, so the column buffer stays a single sample's. */
#define NN_CONV_COLS 256

void nn_conv2d_geom_of(nn_conv2d_geom *g, const nn_conv2d_dims *d, int transposed)
{
    *g = (nn_conv2d_geom){0};
    g->transposed = transposed != 0;
    g->B = d->B, g->C = d->C, g->H = d->H, g->W = d->W, g->O = d->O, g->K = d->K;
    g->stride = d->stride > 0 ? d->stride : 1;
    g->groups = d->groups > 0 ? d->groups : 1;
    g->pad = d->pad, g->out_pad = d->out_pad;
    g->pad_mode = d->pad_mode;
    OFA_ASSERT(g->B > 0 && g->C > 0 && g->H > 0 && g->W > 0 && g->O > 0 && g->K > 0 && g->pad >= 0);
    OFA_ASSERT(g->C % g->groups == 0 && g->O % g->groups == 0);
    OFA_ASSERT(d->pad_mode == NN_PAD_ZEROS || d->pad_mode == NN_PAD_REFLECT);
    g->Cg = g->C / g->groups, g->Og = g->O / g->groups;
    if (!g->transposed) {
        OFA_ASSERT(g->out_pad == 0);
        if (g->pad_mode == NN_PAD_REFLECT) OFA_ASSERT(g->pad < g->H && g->pad < g->W);
        OFA_ASSERT(g->H + 2 * g->pad >= g->K && g->W + 2 * g->pad >= g->K);
        g->Ho = (g->H + 2 * g->pad - g->K) / g->stride + 1;
        g->Wo = (g->W + 2 * g->pad - g->K) / g->stride + 1;
        int wc = d->wc > 0 ? d->wc : g->Cg;
        OFA_ASSERT(wc >= g->Cg);
        g->ldw = wc * g->K * g->K;
        g->depthwise = g->groups == g->C && g->groups == g->O;
        g->IC = g->C, g->IH = g->H, g->IW = g->W;
        g->P = g->Ho * g->Wo;
    } else {
        OFA_ASSERT(g->pad_mode == NN_PAD_ZEROS);
        OFA_ASSERT(g->out_pad >= 0 && g->out_pad < g->stride);
        g->Ho = (g->H - 1) * g->stride - 2 * g->pad + g->K + g->out_pad;
        g->Wo = (g->W - 1) * g->stride - 2 * g->pad + g->K + g->out_pad;
        OFA_ASSERT(g->Ho > 0 && g->Wo > 0);
        int wc = d->wc > 0 ? d->wc : g->Og;
        OFA_ASSERT(wc >= g->Og);
        g->ldw = wc * g->K * g->K;
        g->IC = g->O, g->IH = g->Ho, g->IW = g->Wo;
        g->P = g->H * g->W;
    }
    g->Hp = g->IH + 2 * g->pad, g->Wp = g->IW + 2 * g->pad;
    g->rows = (g->IC / g->groups) * g->K * g->K;
    if (g->depthwise) { /* one padded plane, its gradient, and the output (gradient) at the padded width */
        g->nb = 1;
        g->n_pad = (size_t)g->Hp * g->Wp;
        g->n_col = g->n_pad;
        return;
    }
    g->nb = (NN_CONV_COLS + g->P - 1) / g->P;
    if (g->nb > g->B) g->nb = g->B;
    size_t ncols = (size_t)g->nb * g->P;
    g->n_pad = (size_t)g->nb * g->IC * g->Hp * g->Wp;
    g->n_col = (size_t)g->rows * ncols;
    /* staging gathers the other side of the GEMM into [channels of a group, nb * P]; one sample
     * needs none (the GEMM reads and writes the NCHW tensor in place) */
    g->n_stage = g->nb > 1 ? (size_t)(g->transposed ? g->Cg : g->Og) * ncols : 0;
}

void nn_conv2d_out_hw(const nn_conv2d_dims *d, int transposed, int *Ho, int *Wo)
{
    nn_conv2d_geom g;
    nn_conv2d_geom_of(&g, d, transposed);
    *Ho = g.Ho, *Wo = g.Wo;
}

size_t nn_conv2d_scratch(const nn_conv2d_dims *d, int transposed)
{
    nn_conv2d_geom g;
    nn_conv2d_geom_of(&g, d, transposed);
    /* two padded images (the input and its gradient) + columns + staging */
    return 2 * g.n_pad + g.n_col + g.n_stage;
}
