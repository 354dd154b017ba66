/* models/gan/model: the four networks in one parameter buffer, the data splits, translation
 * (see model.h). */
#include "models/gan/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/gan/fidnet.h"

const char *const ofa_cg_net_names[OFA_CG_NETS] = {"G_A", "G_B", "D_A", "D_B"};

void ofa_cyclegan_create(ofa_cyclegan *m, int channels, int image_size, int ngf, int ndf, int n_blocks,
                         int n_layers, int class_a, int class_b)
{
    memset(m, 0, sizeof *m);
    m->channels = channels, m->image_size = image_size;
    m->ngf = ngf, m->ndf = ndf, m->n_blocks = n_blocks, m->n_layers = n_layers;
    m->class_a = class_a, m->class_b = class_b;
    snprintf(m->task, sizeof m->task, "fmnist-%d-%d", class_a, class_b);
    ofa_params_init(&m->p);
    for (int k = 0; k < OFA_CG_NETS; k++) {
        int g = k < OFA_CG_D_A;
        ofa_gan_net_init(&m->net[k], g ? OFA_GAN_GENERATOR : OFA_GAN_DISCRIMINATOR, channels, g ? ngf : ndf,
                         g ? n_blocks : n_layers);
        m->base[k] = m->p.total;
        const ofa_params *q = &m->net[k].p;
        for (int i = 0; i < q->n; i++) {
            char name[OFA_PARAM_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s/%s", ofa_cg_net_names[k], q->views[i].name);
            OFA_ASSERT(strlen(name) < OFA_PARAM_NAME_MAX);
            int j = ofa_params_add(&m->p, name, q->views[i].ndim, q->views[i].shape, q->views[i].decay);
            /* both layouts align every view to 16 floats from a 16-float aligned start */
            OFA_ASSERT(m->p.views[j].offset == m->base[k] + q->views[i].offset);
        }
        OFA_ASSERT(m->p.total == m->base[k] + q->total);
    }
    ofa_params_alloc(&m->p);
    /* each net computes on its region of the shared buffers */
    for (int k = 0; k < OFA_CG_NETS; k++) {
        ofa_params *q = &m->net[k].p;
        free(q->data), free(q->grad), free(q->m), free(q->v);
        q->data = m->p.data + m->base[k];
        q->grad = m->p.grad + m->base[k];
        q->m = m->p.m + m->base[k];
        q->v = m->p.v + m->base[k];
    }
}

void ofa_cyclegan_free(ofa_cyclegan *m)
{
    if (!m) return;
    for (int k = 0; k < OFA_CG_NETS; k++) {
        ofa_params *q = &m->net[k].p;
        q->data = q->grad = q->m = q->v = NULL; /* m->p's */
        ofa_gan_net_free(&m->net[k]);
    }
    ofa_params_free(&m->p);
}

void ofa_cyclegan_init_weights(ofa_cyclegan *m, ofa_rng *rng)
{
    for (int i = 0; i < m->p.n; i++) {
        const ofa_pview *v = &m->p.views[i];
        float *w = m->p.data + v->offset;
        int is_weight = v->ndim == 4;
        for (size_t j = 0; j < v->numel; j++) w[j] = is_weight ? (float)(0.02 * ofa_rng_normal(rng)) : 0.0f;
    }
}

void ofa_cyclegan_zero_grad(ofa_cyclegan *m, int k)
{
    memset(m->net[k].p.grad, 0, m->net[k].p.total * sizeof(float));
}

ofa_cyclegan *ofa_cyclegan_of(const ofa_model *m)
{
    OFA_ASSERT(m->family == OFA_FAMILY_GAN && m->net && ((const ofa_cyclegan *)m->net)->generator == OFA_GAN_GEN_RESNET);
    return m->net;
}

void ofa_cyclegan_wrap(ofa_model *m, ofa_cyclegan *cm)
{
    m->family = OFA_FAMILY_GAN;
    m->net = cm;
    m->p = &cm->p;
}

void ofa_cyclegan_close(ofa_model *m)
{
    if (!m->net) return;
    ofa_cyclegan_free(m->net);
    free(m->net);
    m->net = NULL, m->p = NULL;
}

/* ---- data ---- */

/* keeps the rows of d whose keep[i] is set, in order */
static void fmnist_keep(ofa_fmnist *d, const unsigned char *keep)
{
    const size_t px = (size_t)d->image_size * d->image_size;
    int64_t n = 0;
    for (int64_t i = 0; i < d->n; i++) {
        if (!keep[i]) continue;
        if (n != i) {
            memmove(d->x + (size_t)n * px, d->x + (size_t)i * px, px * sizeof(float));
            d->labels[n] = d->labels[i];
        }
        n++;
    }
    d->n = n;
}

/* the held-out part of a class's train images: a seeded val_fraction, keyed by (seed, class) */
static void val_mask(unsigned char *is_val, int64_t n, double fraction, uint64_t seed, int cls)
{
    int64_t *perm = ofa_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 7, (uint64_t)cls);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)ofa_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    memset(is_val, 0, (size_t)n);
    const int64_t nv = (int64_t)floor(fraction * (double)n + 0.5);
    for (int64_t i = 0; i < nv; i++) is_val[perm[i]] = 1;
    free(perm);
}

static int load_class(ofa_fmnist *d, const ofa_config *c, int cls, int image_size, int split, int64_t limit)
{
    const int from_train = split == OFA_SPLIT_TRAIN || split == OFA_SPLIT_VAL;
    OFA_TRY(ofa_fmnist_load(d, c->data.fmnist_dir, from_train ? "train" : "test", cls, image_size));
    if (from_train) {
        unsigned char *mask = ofa_xmalloc((size_t)(d->n > 0 ? d->n : 1));
        val_mask(mask, d->n, c->search.val_fraction, (uint64_t)c->experiment.seed, cls);
        if (split == OFA_SPLIT_TRAIN)
            for (int64_t i = 0; i < d->n; i++) mask[i] = !mask[i];
        fmnist_keep(d, mask);
        free(mask);
    }
    if (limit > 0 && d->n > limit) d->n = limit;
    if (d->n < 2) {
        int64_t n = d->n;
        ofa_fmnist_free(d);
        return OFA_ERR(OFA_E_DATA, "%s: %lld images of class %d in the %s split (2 needed)", c->data.fmnist_dir,
                       (long long)n, cls, ofa_split_name(split));
    }
    return 0;
}

int ofa_cyclegan_data_open(ofa_data **out, const ofa_config *c, int class_a, int class_b, int image_size,
                           int split, int64_t limit)
{
    OFA_ASSERT(split >= 0 && split < OFA_SPLIT_COUNT);
    ofa_data *d = ofa_xcalloc(1, sizeof *d);
    d->batch = 64;
    d->split = split;
    snprintf(d->fidnet, sizeof d->fidnet, "%s/%s", c->experiment.output_dir, c->fidnet.output);
    int rc = load_class(&d->a, c, class_a, image_size, split, limit);
    if (rc == 0) rc = load_class(&d->b, c, class_b, image_size, split, limit);
    if (rc < 0) {
        ofa_cyclegan_data_free(d);
        return rc;
    }
    const char *rows = split == OFA_SPLIT_TRAIN ? "training images (train minus the held-out val)"
                       : split == OFA_SPLIT_VAL ? "held-out train images (search.val_fraction)"
                                                : "test images";
    /* the rows alone: callers name the split ("val: ...", eval's "val (...)") */
    snprintf(d->what, sizeof d->what, "%lld %s and %lld %s %s", (long long)d->a.n, ofa_fmnist_class_name(class_a),
             (long long)d->b.n, ofa_fmnist_class_name(class_b), rows);
    *out = d;
    return 0;
}

int ofa_cyclegan_stage_data(const ofa_config *c, ofa_data **train, ofa_data **val)
{
    const int S = c->data.image_size;
    *train = *val = NULL;
    int rc = ofa_cyclegan_data_open(train, c, c->data.class_a, c->data.class_b, S, OFA_SPLIT_TRAIN,
                                    c->data.train_limit);
    if (rc == 0)
        rc = ofa_cyclegan_data_open(val, c, c->data.class_a, c->data.class_b, S, OFA_SPLIT_VAL, c->search.val_limit);
    if (rc < 0) {
        ofa_cyclegan_data_free(*train);
        *train = NULL;
    }
    return rc;
}

void ofa_cyclegan_data_free(ofa_data *d)
{
    if (!d) return;
    ofa_fmnist_free(&d->a);
    ofa_fmnist_free(&d->b);
    if (d->net) ofa_fidnet_free(d->net);
    free(d->net);
    free(d);
}

/* ---- translation ---- */

void ofa_cyclegan_translate(const ofa_cyclegan *m, int dir, const float *x, int64_t n, int batch, float *y,
                            float *rec)
{
    OFA_ASSERT(dir == 0 || dir == 1);
    const ofa_gan_net *g = &m->net[dir ? OFA_CG_G_B : OFA_CG_G_A], *back = &m->net[dir ? OFA_CG_G_A : OFA_CG_G_B];
    const int S = m->image_size;
    const size_t px = (size_t)m->channels * S * S;
    if (batch > n) batch = (int)n;
    if (batch < 1) return;
    ofa_gan_acts a;
    ofa_gan_acts_create(&a, g, batch, S, S);
    ofa_gan_acts ab;
    if (rec) ofa_gan_acts_create(&ab, back, batch, S, S);
    for (int64_t i = 0; i < n; i += batch) {
        int b = (int)(n - i < batch ? n - i : batch);
        const float *out = ofa_gan_forward(g, &a, x + (size_t)i * px, b);
        memcpy(y + (size_t)i * px, out, (size_t)b * px * sizeof(float));
        if (rec) memcpy(rec + (size_t)i * px, ofa_gan_forward(back, &ab, out, b), (size_t)b * px * sizeof(float));
    }
    ofa_gan_acts_free(&a);
    if (rec) ofa_gan_acts_free(&ab);
}
