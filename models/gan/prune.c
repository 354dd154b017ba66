/* models/gan/prune: L1 importance, reorder and pruning of the MobileResNet generator (see prune.h).
 * Which tensor holds which set comes from the generator's own plan (ofa_mobile_op.set_in/set_out),
 * so the walk that names the layers also says where every channel goes. */
#include "models/gan/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void ofa_mobile_keep_all(ofa_mobile_keep *k, int n_groups, double r)
{
    memset(k, 0, sizeof *k);
    k->stem = k->down1 = k->down2 = k->up1 = k->up2 = r;
    for (int g = 0; g < n_groups && g < OFA_MOBILE_GROUPS_MAX; g++) k->hidden[g] = r;
}

int ofa_mobile_n_sets(const ofa_mobile_net *net) { return OFA_MOBILE_SET_HIDDEN0 + net->n_blocks; }

static int set_size_of(const ofa_mobile_arch *s, int n_blocks, int set)
{
    switch (set) {
    case OFA_MOBILE_SET_STEM: return s->stem;
    case OFA_MOBILE_SET_DOWN1: return s->down1;
    case OFA_MOBILE_SET_RESID: return s->down2;
    case OFA_MOBILE_SET_UP1: return s->up1;
    case OFA_MOBILE_SET_UP2: return s->up2;
    default:
        OFA_ASSERT(set >= OFA_MOBILE_SET_HIDDEN0 && set < OFA_MOBILE_SET_HIDDEN0 + n_blocks);
        return s->hidden[ofa_mobile_block_group(n_blocks, s->n_groups, set - OFA_MOBILE_SET_HIDDEN0)];
    }
}

int ofa_mobile_set_size(const ofa_mobile_net *net, int set) { return set_size_of(&net->shape, net->n_blocks, set); }

/* The stored shape's plan (its conv ops carry the views and the sets); free with ofa_mobile_acts_free. */
static void full_plan(ofa_mobile_acts *t, const ofa_mobile_net *net)
{
    memset(t, 0, sizeof *t);
    t->Bmax = 1, t->H = 16, t->W = 16; /* any size the 5x5 reflection padding fits */
    ofa_mobile_plan(t, net, NULL);
}

static int is_conv(const ofa_mobile_op *op) { return op->kind == OFA_MOBILE_OP_CONV || op->kind == OFA_MOBILE_OP_CONVT; }
static int is_dw(const ofa_mobile_op *op) { return op->kind == OFA_MOBILE_OP_CONV && op->d.groups > 1; }

void ofa_mobile_l1_importance(const ofa_mobile_net *net, int set, double *imp)
{
    int n = ofa_mobile_set_size(net, set);
    for (int c = 0; c < n; c++) imp[c] = 0;
    ofa_mobile_acts t;
    full_plan(&t, net);
    for (int i = 0; i < t.n_ops; i++) {
        const ofa_mobile_op *op = &t.ops[i];
        if (!is_conv(op) || is_dw(op) || op->set_out != set) continue;
        const ofa_pview *v = &net->p.views[op->w];
        const float *w = net->p.data + v->offset;
        int64_t d0 = v->shape[0], d1 = v->shape[1], kk = v->shape[2] * v->shape[3];
        if (op->kind == OFA_MOBILE_OP_CONV) { /* [O, C, K, K]: filter o is row o */
            OFA_ASSERT(d0 == n);
            for (int64_t o = 0; o < d0; o++)
                for (int64_t j = 0; j < d1 * kk; j++) imp[o] += fabs((double)w[o * d1 * kk + j]);
        } else { /* [C, O, K, K]: filter o is w[:, o] */
            OFA_ASSERT(d1 == n);
            for (int64_t c = 0; c < d0; c++)
                for (int64_t o = 0; o < d1; o++)
                    for (int64_t j = 0; j < kk; j++) imp[o] += fabs((double)w[(c * d1 + o) * kk + j]);
        }
    }
    ofa_mobile_acts_free(&t);
}

typedef struct ranked {
    double v;
    int i;
} ranked;

static int by_importance(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->i - y->i;
}

void ofa_mobile_l1_order(const ofa_mobile_net *net, int set, int *order)
{
    int n = ofa_mobile_set_size(net, set);
    double *imp = ofa_xmalloc((size_t)n * sizeof *imp);
    ranked *r = ofa_xmalloc((size_t)n * sizeof *r);
    ofa_mobile_l1_importance(net, set, imp);
    for (int c = 0; c < n; c++) r[c] = (ranked){imp[c], c};
    qsort(r, (size_t)n, sizeof *r, by_importance);
    for (int c = 0; c < n; c++) order[c] = r[c].i;
    free(r);
    free(imp);
}

void ofa_mobile_gather(ofa_mobile_net *dst, const ofa_mobile_net *src, const int *const *idx)
{
    OFA_ASSERT(dst->channels == src->channels && dst->n_blocks == src->n_blocks && dst->p.n == src->p.n &&
               dst->shape.n_groups == src->shape.n_groups);
    int nsets = ofa_mobile_n_sets(src);
    for (int s = 0; s < nsets; s++) {
        int nd = ofa_mobile_set_size(dst, s), ns = ofa_mobile_set_size(src, s);
        OFA_ASSERT(nd <= ns);
        for (int j = 0; j < nd; j++) OFA_ASSERT(idx[s][j] >= 0 && idx[s][j] < ns);
    }
    ofa_mobile_acts t;
    full_plan(&t, src);
    for (int i = 0; i < t.n_ops; i++) {
        const ofa_mobile_op *op = &t.ops[i];
        if (!is_conv(op)) continue;
        const ofa_pview *sv = &src->p.views[op->w], *dv = &dst->p.views[op->w];
        OFA_ASSERT(strcmp(sv->name, dv->name) == 0 && sv->shape[2] == dv->shape[2]);
        const float *sw = src->p.data + sv->offset;
        float *dw = dst->p.data + dv->offset;
        const int kk = (int)(sv->shape[2] * sv->shape[3]);
        const int *ri = op->set_out >= 0 ? idx[op->set_out] : NULL, *ci = op->set_in >= 0 ? idx[op->set_in] : NULL;
        /* rows (dim 0) and columns (dim 1) of the stored weight: out/in for a conv, in/out for a
         * transposed one; a depthwise conv's rows are its set, its one column is not a channel */
        const int *rows = op->kind == OFA_MOBILE_OP_CONVT ? ci : ri;
        const int *cols = is_dw(op) ? NULL : (op->kind == OFA_MOBILE_OP_CONVT ? ri : ci);
        int64_t R = dv->shape[0], Cd = dv->shape[1], Cs = sv->shape[1];
        for (int64_t r = 0; r < R; r++) {
            int64_t sr = rows ? rows[r] : r;
            for (int64_t c = 0; c < Cd; c++) {
                int64_t sc = cols ? cols[c] : c;
                memcpy(dw + (r * Cd + c) * kk, sw + (sr * Cs + sc) * kk, (size_t)kk * sizeof(float));
            }
        }
        const ofa_pview *sb = &src->p.views[op->b], *db = &dst->p.views[op->b];
        for (int64_t o = 0; o < db->shape[0]; o++)
            dst->p.data[db->offset + o] = src->p.data[sb->offset + (ri ? ri[o] : o)];
    }
    ofa_mobile_acts_free(&t);
    for (int i = 0; i < src->p.n; i++) { /* the 5to3 matrices: per layer, copied */
        const ofa_pview *sv = &src->p.views[i], *dv = &dst->p.views[i];
        if (sv->ndim == 2) {
            OFA_ASSERT(dv->numel == sv->numel);
            memcpy(dst->p.data + dv->offset, src->p.data + sv->offset, sv->numel * sizeof(float));
        }
    }
}

/* Orders of every set (each the set's full L1 order); free with free_orders. */
static int **all_orders(const ofa_mobile_net *net)
{
    int nsets = ofa_mobile_n_sets(net);
    int **o = ofa_xcalloc((size_t)nsets, sizeof *o);
    for (int s = 0; s < nsets; s++) {
        o[s] = ofa_xmalloc((size_t)ofa_mobile_set_size(net, s) * sizeof **o);
        ofa_mobile_l1_order(net, s, o[s]);
    }
    return o;
}

static void free_orders(int **o, int nsets)
{
    for (int s = 0; s < nsets; s++) free(o[s]);
    free(o);
}

void ofa_mobile_reorder(ofa_mobile_net *net)
{
    int **o = all_orders(net);
    ofa_mobile_net tmp;
    ofa_mobile_net_init(&tmp, net->channels, net->n_blocks, &net->shape);
    ofa_mobile_gather(&tmp, net, (const int *const *)o);
    memcpy(net->p.data, tmp.p.data, net->p.total * sizeof(float));
    ofa_mobile_net_free(&tmp);
    free_orders(o, ofa_mobile_n_sets(net));
}

static int kept(const char *slot, double r, int stored, int *out)
{
    if (!(r > 0 && r <= 1)) return OFA_ERR(OFA_E_USAGE, "prune: keep ratio %g of %s is outside (0, 1]", r, slot);
    int k = (int)lround(r * stored);
    *out = k < 1 ? 1 : k;
    return 0;
}

int ofa_mobile_keep_arch(const ofa_mobile_net *src, const ofa_mobile_keep *keep, ofa_mobile_arch *out)
{
    const ofa_mobile_arch *s = &src->shape;
    ofa_mobile_arch a = *s;
    OFA_TRY(kept("stem", keep->stem, s->stem, &a.stem));
    OFA_TRY(kept("down1", keep->down1, s->down1, &a.down1));
    OFA_TRY(kept("down2", keep->down2, s->down2, &a.down2));
    OFA_TRY(kept("up1", keep->up1, s->up1, &a.up1));
    OFA_TRY(kept("up2", keep->up2, s->up2, &a.up2));
    for (int g = 0; g < s->n_groups; g++) {
        char slot[32];
        snprintf(slot, sizeof slot, "group %d hidden", g);
        OFA_TRY(kept(slot, keep->hidden[g], s->hidden[g], &a.hidden[g]));
    }
    *out = a;
    return 0;
}

int ofa_mobile_prune(ofa_mobile_net *dst, const ofa_mobile_net *src, const ofa_mobile_keep *keep)
{
    ofa_mobile_arch a;
    OFA_TRY(ofa_mobile_keep_arch(src, keep, &a));
    int **o = all_orders(src);
    ofa_mobile_net_init(dst, src->channels, src->n_blocks, &a);
    ofa_mobile_gather(dst, src, (const int *const *)o);
    free_orders(o, ofa_mobile_n_sets(src));
    return 0;
}
