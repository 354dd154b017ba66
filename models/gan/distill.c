/* models/gan/distill: GAN Compression's generator distillation step (see distill.h). */
#include "models/gan/distill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/nn.h"
#include <cblas.h> /* after nn/nn.h */

struct ofa_gd {
    ofa_mobile_net *s;
    const ofa_gan_net *tr;
    const ofa_mobile_net *tm;
    ofa_gan_net *d;
    const ofa_params *maps;
    int mw[OFA_GD_TAPS_MAX], mb[OFA_GD_TAPS_MAX]; /* the maps' views */
    int n_taps, bmax;
    int blocks[OFA_GD_TAPS_MAX];
    ofa_gd_lambdas lam;
    ofa_mobile_acts sa, ta_m;
    ofa_gan_acts ta_r, da;
    int s_buf[OFA_GD_TAPS_MAX], t_buf[OFA_GD_TAPS_MAX]; /* the taps' buffers in the plans */
    size_t px, patch;
    float *dout, *tgt, *dpred, *dsave, *sfake;
    const float *tfake, *tact[OFA_GD_TAPS_MAX]; /* the teacher's output and taps (ofa_gd_teach) */
    int tn;                                    /* its batch; 0 = not run */
    float *y[OFA_GD_TAPS_MAX], *dy[OFA_GD_TAPS_MAX], *ds[OFA_GD_TAPS_MAX]; /* map outputs, their grads, S_k grads */
};

int ofa_gd_taps(int n_blocks, int *blocks)
{
    int n = 0;
    blocks[n++] = -1;
    for (int i = 2; i < n_blocks && n < OFA_GD_TAPS_MAX; i += 3) blocks[n++] = i;
    return n;
}

void ofa_gd_maps_add(ofa_params *p, const char *prefix, int n_taps, int cs, int ct)
{
    OFA_ASSERT(n_taps >= 1 && n_taps <= OFA_GD_TAPS_MAX && cs >= 1 && ct >= 1);
    char name[OFA_PARAM_NAME_MAX];
    for (int k = 0; k < n_taps; k++) {
        const int64_t w[4] = {ct, cs, 1, 1}, b[1] = {ct};
        snprintf(name, sizeof name, "%smap.%d.weight", prefix, k);
        ofa_params_add(p, name, 4, w, 1);
        snprintf(name, sizeof name, "%smap.%d.bias", prefix, k);
        ofa_params_add(p, name, 1, b, 0);
    }
}

/* The tapped buffers of a plan (ADD ops in order: block i's residual input is the ADD's `in`, its
 * output the ADD's `out`), the same walk for both op types. */
#define FIND_TAPS(ops, n_ops, add_kind, blocks, nt, dst)                                                             \
    do {                                                                                                               \
        int blk_ = 0, k_ = 0;                                                                                          \
        for (int i_ = 0; i_ < (n_ops) && k_ < (nt); i_++) {                                                            \
            if ((ops)[i_].kind != (add_kind)) continue;                                                                \
            if (blk_ == 0 && (blocks)[k_] == -1) (dst)[k_++] = (ops)[i_].in;                                           \
            if (k_ < (nt) && (blocks)[k_] == blk_) (dst)[k_++] = (ops)[i_].out;                                        \
            blk_++;                                                                                                    \
        }                                                                                                              \
        OFA_ASSERT(k_ == (nt));                                                                                        \
    } while (0)

static float *fz(size_t n) { return ofa_xcalloc(n ? n : 1, sizeof(float)); }

ofa_gd *ofa_gd_create(ofa_mobile_net *student, const ofa_gan_net *resnet, const ofa_mobile_net *mobile, ofa_gan_net *d,
                      const ofa_params *maps, const char *prefix, int bmax, int S, ofa_gd_lambdas lambdas)
{
    OFA_ASSERT((resnet != NULL) != (mobile != NULL) && bmax >= 1);
    OFA_ASSERT(d->kind == OFA_GAN_DISCRIMINATOR);
    ofa_gd *g = ofa_xcalloc(1, sizeof *g);
    g->s = student, g->tr = resnet, g->tm = mobile, g->d = d, g->maps = maps, g->bmax = bmax, g->lam = lambdas;
    const int nb = student->n_blocks;
    OFA_ASSERT(nb == (resnet ? resnet->depth : mobile->n_blocks));
    int *blocks = g->blocks;
    g->n_taps = ofa_gd_taps(nb, blocks);
    ofa_mobile_acts_create(&g->sa, student, bmax, S, S);
    FIND_TAPS(g->sa.ops, g->sa.n_ops, OFA_MOBILE_OP_ADD, blocks, g->n_taps, g->s_buf);
    if (resnet) {
        ofa_gan_acts_create(&g->ta_r, resnet, bmax, S, S);
        FIND_TAPS(g->ta_r.ops, g->ta_r.n_ops, OFA_GAN_OP_ADD, blocks, g->n_taps, g->t_buf);
    } else {
        ofa_mobile_acts_create(&g->ta_m, mobile, bmax, S, S);
        FIND_TAPS(g->ta_m.ops, g->ta_m.n_ops, OFA_MOBILE_OP_ADD, blocks, g->n_taps, g->t_buf);
    }
    ofa_gan_acts_create(&g->da, d, bmax, S, S);
    int C, Ho, Wo;
    ofa_gan_out_shape(&g->da, &C, &Ho, &Wo);
    g->patch = (size_t)C * Ho * Wo;
    g->px = (size_t)student->channels * S * S;
    char name[OFA_PARAM_NAME_MAX];
    for (int k = 0; k < g->n_taps; k++) {
        const ofa_mobile_buf *sb = &g->sa.buf[g->s_buf[k]];
        int ct = resnet ? g->ta_r.buf[g->t_buf[k]].C : g->ta_m.buf[g->t_buf[k]].C;
        snprintf(name, sizeof name, "%smap.%d.weight", prefix, k);
        g->mw[k] = ofa_params_find(maps, name);
        snprintf(name, sizeof name, "%smap.%d.bias", prefix, k);
        g->mb[k] = ofa_params_find(maps, name);
        OFA_ASSERT(g->mw[k] >= 0 && g->mb[k] >= 0);
        const ofa_pview *w = &maps->views[g->mw[k]];
        OFA_ASSERT(w->shape[0] == ct && w->shape[1] == sb->C);
        size_t hw = (size_t)sb->H * sb->W;
        g->y[k] = fz((size_t)bmax * ct * hw);
        g->dy[k] = fz((size_t)bmax * ct * hw);
        g->ds[k] = fz((size_t)bmax * sb->C * hw);
    }
    g->dout = fz((size_t)bmax * g->px);
    g->sfake = fz((size_t)bmax * g->px);
    g->tgt = fz((size_t)bmax * g->patch);
    g->dpred = fz((size_t)bmax * g->patch);
    g->dsave = fz(d->p.total);
    return g;
}

void ofa_gd_free(ofa_gd *g)
{
    if (!g) return;
    ofa_mobile_acts_free(&g->sa);
    if (g->tr) ofa_gan_acts_free(&g->ta_r);
    else ofa_mobile_acts_free(&g->ta_m);
    ofa_gan_acts_free(&g->da);
    for (int k = 0; k < g->n_taps; k++) free(g->y[k]), free(g->dy[k]), free(g->ds[k]);
    free(g->dout), free(g->sfake), free(g->tgt), free(g->dpred), free(g->dsave);
    free(g);
}

/* MSE(D(img), target) on n images: forward, the loss, backward with dscale into D's gradients and
 * into dimg (NULL: not needed) */
static double lsgan(ofa_gd *g, const float *img, int n, float target, double dscale, float *dimg)
{
    const size_t cnt = (size_t)n * g->patch;
    const float *pred = ofa_gan_forward(g->d, &g->da, img, n);
    for (size_t i = 0; i < cnt; i++) g->tgt[i] = target, g->dpred[i] = 0;
    double l = nn_mse_f32(g->dpred, pred, g->tgt, (int64_t)cnt, dscale);
    ofa_gan_backward(g->d, &g->da, g->dpred, dimg);
    return l;
}

/* map k on the student's tap x [n, cs, HW] (cs <= the stored Cs: the leading input columns of the
 * map) -> y [n, Ct, HW]; the feature loss against t with weight w; backward into the map's
 * gradients (those columns) and ds (overwritten) */
static double map_term(ofa_gd *g, int k, const float *x, const float *t, int n, int cs, int ct, int hw, double w)
{
    const ofa_params *p = g->maps;
    const int ld = (int)p->views[g->mw[k]].shape[1];
    const float *W = p->data + p->views[g->mw[k]].offset, *bias = p->data + p->views[g->mb[k]].offset;
    float *dW = p->grad + p->views[g->mw[k]].offset, *db = p->grad + p->views[g->mb[k]].offset;
    const size_t ys = (size_t)ct * hw, xs = (size_t)cs * hw;
    for (int b = 0; b < n; b++) {
        float *y = g->y[k] + b * ys;
        for (int o = 0; o < ct; o++)
            for (int j = 0; j < hw; j++) y[(size_t)o * hw + j] = bias[o];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ct, hw, cs, 1.0f, W, ld, x + b * xs, hw, 1.0f, y, hw);
    }
    memset(g->dy[k], 0, (size_t)n * ys * sizeof(float));
    double l = nn_mse_f32(g->dy[k], g->y[k], t, (int64_t)((size_t)n * ys), w);
    for (int b = 0; b < n; b++) {
        const float *dy = g->dy[k] + b * ys;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ct, cs, hw, 1.0f, dy, hw, x + b * xs, hw, 1.0f, dW, ld);
        for (int o = 0; o < ct; o++) {
            double s = 0;
            for (int j = 0; j < hw; j++) s += dy[(size_t)o * hw + j];
            db[o] += (float)s;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, cs, hw, ct, 1.0f, W, ld, dy, hw, 0.0f, g->ds[k] + b * xs,
                    hw);
    }
    return l;
}

void ofa_gd_teach(ofa_gd *g, const float *a, int n)
{
    OFA_ASSERT(n >= 1 && n <= g->bmax);
    if (g->tr) {
        g->tfake = ofa_gan_forward(g->tr, &g->ta_r, a, n);
        for (int k = 0; k < g->n_taps; k++) g->tact[k] = g->ta_r.act + g->ta_r.buf[g->t_buf[k]].off;
    } else {
        g->tfake = ofa_mobile_forward(g->tm, &g->ta_m, NULL, a, n);
        for (int k = 0; k < g->n_taps; k++) g->tact[k] = g->ta_m.act + g->ta_m.buf[g->t_buf[k]].off;
    }
    g->tn = n;
}

const float *ofa_gd_teacher_out(const ofa_gd *g) { return g->tfake; }

void ofa_gd_grads(ofa_gd *g, const ofa_mobile_arch *arch, const float *a, const float *b, int n, double part,
                  double L[4])
{
    ofa_gd_teach(g, a, n);
    ofa_gd_grads_taught(g, arch, a, b, n, part, L);
}

void ofa_gd_grads_taught(ofa_gd *g, const ofa_mobile_arch *arch, const float *a, const float *b, int n, double part,
                         double L[4])
{
    OFA_ASSERT(n >= 1 && n == g->tn);
    const double s = part;
    const size_t cnt = (size_t)n * g->px;
    const float *tfake = g->tfake, *const *tact = g->tact;
    /* the student (its activations stay for its backward) */
    const float *sfake = ofa_mobile_forward(g->s, &g->sa, arch, a, n);
    /* the plan of this arch: the same walk, so the same buffers, but found again rather than assumed */
    FIND_TAPS(g->sa.ops, g->sa.n_ops, OFA_MOBILE_OP_ADD, g->blocks, g->n_taps, g->s_buf);
    memcpy(g->sfake, sfake, cnt * sizeof(float));
    /* the G step: D's gradients from it are discarded (saved and restored around it) */
    memcpy(g->dsave, g->d->p.grad, g->d->p.total * sizeof(float));
    memset(g->dout, 0, cnt * sizeof(float));
    L[0] = s * g->lam.gan * lsgan(g, g->sfake, n, 1.0f, s * g->lam.gan, g->dout);
    memcpy(g->d->p.grad, g->dsave, g->d->p.total * sizeof(float));
    L[1] = s * g->lam.recon * nn_l1_f32(g->dout, g->sfake, tfake, (int64_t)cnt, s * g->lam.recon);
    L[2] = 0;
    const float *seeds[OFA_GD_TAPS_MAX];
    for (int k = 0; k < g->n_taps; k++) {
        const ofa_mobile_buf *sb = &g->sa.buf[g->s_buf[k]];
        const int ct = (int)g->maps->views[g->mw[k]].shape[0];
        L[2] += s * g->lam.distill *
                map_term(g, k, g->sa.act + sb->off, tact[k], n, sb->C, ct, sb->H * sb->W, s * g->lam.distill);
        seeds[k] = g->ds[k];
    }
    ofa_mobile_backward_seeded(g->s, &g->sa, g->dout, NULL, g->n_taps, g->s_buf, seeds);
    /* the D step on the detached student output and the real B images */
    L[3] = 0.5 * s * (lsgan(g, b, n, 1.0f, 0.5 * s, NULL) + lsgan(g, g->sfake, n, 0.0f, 0.5 * s, NULL));
}

const float *ofa_gd_student_out(const ofa_gd *g) { return g->sfake; }
