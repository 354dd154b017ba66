/* models/gan/score: FID of translated images on the fidnet's features (see score.h). */
#include "models/gan/score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/gan/fidnet.h"
#include "nn/fid.h"

/* features [n, D] of images x [n, 1, S, S] */
static int features(const ofa_fidnet *net, const float *x, int64_t n, int S, const char *what, double **out)
{
    *out = ofa_xmalloc((size_t)n * net->features * sizeof(double));
    int rc = ofa_fidnet_features(net, x, n, 1, S, S, what, *out);
    if (rc < 0) free(*out), *out = NULL;
    return rc;
}

static int load_net(ofa_data *d)
{
    if (d->net) return 0;
    if (!ofa_file_exists(d->fidnet))
        return OFA_ERR(OFA_E_IO, "%s: no FID feature net; train it with 'ofa fidnet CONFIG' (or 'ofa run CONFIG')",
                       d->fidnet);
    ofa_fidnet *net = ofa_xcalloc(1, sizeof *net);
    int rc = ofa_fidnet_read(net, d->fidnet);
    if (rc < 0) {
        free(net);
        return rc;
    }
    d->net = net;
    return 0;
}

int ofa_cyclegan_score(const ofa_cyclegan *m, ofa_data *d, ofa_score *out)
{
    const double t0 = ofa_now();
    memset(out, 0, sizeof *out);
    OFA_TRY(load_net(d));
    const ofa_fidnet *net = d->net;
    const int S = m->image_size, D = net->features;
    if (net->image_size != S)
        return OFA_ERR(OFA_E_DATA, "%s takes %dx%d images; the cyclegan makes %dx%d (fidnet.image_size vs "
                       "data.image_size)", d->fidnet, net->image_size, net->image_size, S, S);
    const size_t px = (size_t)S * S;
    const ofa_fmnist *real[2] = {&d->a, &d->b};
    const int cls[2] = {m->class_a, m->class_b};
    double *freal[2] = {NULL, NULL}, *ffake[2] = {NULL, NULL}, fid[2] = {0, 0}, share[2] = {0, 0}, base = 0;
    int rc = 0;
    for (int k = 0; k < 2 && rc == 0; k++) rc = features(net, real[k]->x, real[k]->n, S, "real images", &freal[k]);
    for (int k = 0; k < 2 && rc == 0; k++) { /* k = 0: A -> B by G_A; 1: B -> A by G_B */
        const int64_t n = real[k]->n;
        float *y = ofa_xmalloc((size_t)n * px * sizeof(float));
        ofa_cyclegan_translate(m, k, real[k]->x, n, d->batch, y, NULL);
        rc = features(net, y, n, S, "translated images", &ffake[k]);
        int32_t *pred = ofa_xmalloc((size_t)n * sizeof *pred);
        if (rc == 0) rc = ofa_fidnet_classify(net, y, n, 1, S, S, "translated images", pred);
        int64_t hit = 0;
        for (int64_t i = 0; rc == 0 && i < n; i++) hit += pred[i] == cls[1 - k];
        share[k] = n ? (double)hit / (double)n : 0;
        free(pred), free(y);
        /* translated A against real B, translated B against real A */
        if (rc == 0) rc = ofa_fid_features(ffake[k], n, freal[1 - k], real[1 - k]->n, D, &fid[k]);
    }
    if (rc == 0) rc = ofa_fid_features(freal[0], real[0]->n, freal[1], real[1]->n, D, &base);
    for (int k = 0; k < 2; k++) free(freal[k]), free(ffake[k]);
    if (rc < 0) return rc;
    out->metric = 0.5 * (fid[0] + fid[1]);
    snprintf(out->name, sizeof out->name, "fid");
    out->higher_better = 0;
    snprintf(out->detail, sizeof out->detail, "A->B %.2f (%.4fx, %.1f%%), B->A %.2f (%.4fx, %.1f%%), untranslated %.2f",
             fid[0], base > 0 ? fid[0] / base : NAN, 100 * share[0], fid[1], base > 0 ? fid[1] / base : NAN,
             100 * share[1], base);
    static const char *const names[] = {"fid_AtoB", "fid_BtoA", "fid_base", "ratio_AtoB", "ratio_BtoA", "class_AtoB",
                                        "class_BtoA"};
    const double vals[] = {fid[0], fid[1], base, base > 0 ? fid[0] / base : NAN, base > 0 ? fid[1] / base : NAN,
                           share[0], share[1]};
    out->n_extra = 7;
    for (int i = 0; i < 7; i++) {
        snprintf(out->extra_name[i], sizeof out->extra_name[i], "%s", names[i]);
        out->extra[i] = vals[i];
    }
    out->has_labels = 1;
    out->n = d->a.n + d->b.n;
    out->seconds = ofa_now() - t0;
    return 0;
}
