/* models/gan/super: the MobileResNet generator as a model, its space, score, inference and the
 * supernet's distiller (see super.h). */
#include "models/gan/super.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/gan/distill.h"
#include "models/gan/fidnet.h"
#include "models/gan/model.h"
#include "models/gan/prune.h"
#include "nn/fid.h"

#define WEIGHTS "weights/G_A"

void ofa_gan_mobile_create(ofa_gan_mobile *m, int channels, int image_size, int n_blocks, const ofa_mobile_arch *shape,
                           int class_a, int class_b)
{
    memset(m, 0, sizeof *m);
    m->generator = OFA_GAN_GEN_MOBILE;
    ofa_mobile_net_init(&m->g, channels, n_blocks, shape);
    m->image_size = image_size, m->class_a = class_a, m->class_b = class_b;
    snprintf(m->task, sizeof m->task, "fmnist-%d-%d", class_a, class_b);
}

void ofa_gan_mobile_free(ofa_gan_mobile *m)
{
    if (!m) return;
    if (m->companions) { /* every table's buffers are all's */
        ofa_params *t[5] = {&m->g.p, &m->d.p, &m->maps, &m->g_b.p, &m->d_b.p};
        for (int i = 0; i < 5; i++) t[i]->data = t[i]->grad = t[i]->m = t[i]->v = NULL;
        ofa_gan_net_free(&m->d);
        ofa_params_free(&m->maps);
        if (m->cycle) ofa_mobile_net_free(&m->g_b), ofa_gan_net_free(&m->d_b);
        ofa_params_free(&m->all);
        m->companions = m->cycle = 0;
    }
    ofa_mobile_net_free(&m->g);
}

void ofa_gan_mobile_wrap(ofa_model *m, ofa_gan_mobile *g)
{
    m->family = OFA_FAMILY_GAN;
    m->net = g;
    m->p = g->companions ? &g->all : &g->g.p;
}

/* the views of q into all under prefix, at all's next offset; returns that offset */
static size_t add_views(ofa_params *all, const ofa_params *q, const char *prefix)
{
    const size_t base = all->total;
    for (int i = 0; i < q->n; i++) {
        char name[OFA_PARAM_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s%s", prefix, q->views[i].name);
        OFA_ASSERT(strlen(name) < OFA_PARAM_NAME_MAX);
        int j = ofa_params_add(all, name, q->views[i].ndim, q->views[i].shape, q->views[i].decay);
        /* every layout aligns its views to 16 floats from a 16-float aligned start */
        OFA_ASSERT(all->views[j].offset == base + q->views[i].offset);
    }
    OFA_ASSERT(all->total == base + q->total);
    return base;
}

/* q's buffers replaced by all's region from base, its values copied there */
static void move_into(ofa_params *q, const ofa_params *all, size_t base)
{
    memcpy(all->data + base, q->data, q->total * sizeof(float));
    free(q->data), free(q->grad), free(q->m), free(q->v);
    q->data = all->data + base;
    q->grad = all->grad + base;
    q->m = all->m + base;
    q->v = all->v + base;
}

void ofa_gan_mobile_add_companions(ofa_gan_mobile *g, int ndf, int n_layers, int map_ct, int cycle)
{
    OFA_ASSERT(!g->companions && ndf >= 1 && n_layers >= 1 && map_ct >= 0);
    g->ndf = ndf, g->n_layers = n_layers, g->map_ct = map_ct, g->cycle = cycle != 0;
    ofa_gan_net_init(&g->d, OFA_GAN_DISCRIMINATOR, g->g.channels, ndf, n_layers);
    int blocks[OFA_GD_TAPS_MAX];
    g->n_taps = map_ct ? ofa_gd_taps(g->g.n_blocks, blocks) : 0;
    ofa_params_init(&g->maps);
    if (map_ct) {
        ofa_gd_maps_add(&g->maps, "", g->n_taps, g->g.shape.down2, map_ct);
        ofa_params_alloc(&g->maps);
    }
    if (g->cycle) {
        ofa_mobile_net_init(&g->g_b, g->g.channels, g->g.n_blocks, &g->g.shape);
        ofa_gan_net_init(&g->d_b, OFA_GAN_DISCRIMINATOR, g->g.channels, ndf, n_layers);
    }
    ofa_params_init(&g->all);
    ofa_params *const t[5] = {&g->g.p, &g->d.p, &g->maps, &g->g_b.p, &g->d_b.p};
    static const char *const prefix[5] = {"G_A/", "D/", "maps/", "G_B/", "D_B/"};
    const int used[5] = {1, 1, map_ct != 0, g->cycle, g->cycle};
    size_t base[5] = {0};
    for (int i = 0; i < 5; i++)
        if (used[i]) base[i] = add_views(&g->all, t[i], prefix[i]);
    ofa_params_alloc(&g->all);
    for (int i = 0; i < 5; i++)
        if (used[i]) move_into(t[i], &g->all, base[i]);
    g->companions = 1;
}

ofa_gan_mobile *ofa_gan_mobile_of(const ofa_model *m)
{
    OFA_ASSERT(m->family == OFA_FAMILY_GAN && m->net);
    ofa_gan_mobile *g = m->net;
    return g->generator == OFA_GAN_GEN_MOBILE ? g : NULL;
}

/* ---- the file ---- */

int ofa_gan_mobile_in_file(ofa_h5 *h)
{
    char gen[16] = "";
    if (ofa_h5_attr_exists(h, "/", "generator") != 1) return 0;
    if (ofa_h5_attr_get_strbuf(h, "/", "generator", gen, sizeof gen) < 0) {
        ofa_err_clear();
        return 0;
    }
    return strcmp(gen, "mobile") == 0;
}

static const char *const int_keys[] = {"channels", "image_size", "n_blocks", "class_a", "class_b"};

int ofa_gan_mobile_read(ofa_model *m, ofa_h5 *h, const char *path)
{
    int64_t v[5];
    for (int i = 0; i < 5; i++) OFA_TRY(ofa_h5_attr_get_i64(h, "/", int_keys[i], &v[i]));
    char text[OFA_MOBILE_ARCH_TEXT_MAX] = "";
    OFA_TRY(ofa_h5_attr_get_strbuf(h, "/", "mobile_shape", text, sizeof text));
    ofa_mobile_arch shape;
    int rc = ofa_mobile_arch_parse(&shape, text);
    if (rc < 0) {
        char where[OFA_PATH_MAX + 32];
        snprintf(where, sizeof where, " (attribute mobile_shape of %s)", path);
        return ofa_err_suffix(rc, where);
    }
    int kern_ok = 1;
    for (int g = 0; g < shape.n_groups; g++) kern_ok &= shape.kernel[g] == 3 || shape.kernel[g] == 5;
    if (v[0] < 1 || v[0] > 16 || v[1] < 12 || v[1] > 4096 || v[1] % 4 || v[2] < shape.n_groups || v[2] > 256 ||
        v[3] < 0 || v[3] > 9 || v[4] < 0 || v[4] > 9 || !kern_ok)
        return OFA_ERR(OFA_E_FORMAT,
                       "%s: implausible MobileResNet attributes (channels %lld, image_size %lld, n_blocks %lld, "
                       "classes %lld, %lld, shape %s)",
                       path, (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], (long long)v[4], text);
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    ofa_gan_mobile_create(g, (int)v[0], (int)v[1], (int)v[2], &shape, (int)v[3], (int)v[4]);
    if (ofa_h5_attr_exists(h, "/", "distill_ndf") == 1) { /* a student or prune stage's file */
        int64_t cv[4] = {0, 0, 0, 0};
        static const char *const ck[4] = {"distill_ndf", "distill_n_layers", "distill_map_ct", "distill_cycle"};
        for (int i = 0; i < 3 && rc == 0; i++) rc = ofa_h5_attr_get_i64(h, "/", ck[i], &cv[i]);
        if (rc == 0 && ofa_h5_attr_exists(h, "/", ck[3]) == 1) rc = ofa_h5_attr_get_i64(h, "/", ck[3], &cv[3]);
        if (rc == 0 && (cv[0] < 1 || cv[0] > 4096 || cv[1] < 1 || cv[1] > 8 || cv[2] < 0 || cv[2] > 65536 ||
                        (cv[3] != 0 && cv[3] != 1)))
            rc = OFA_ERR(OFA_E_FORMAT,
                         "%s: implausible distill_ndf %lld, distill_n_layers %lld, distill_map_ct %lld, distill_cycle %lld",
                         path, (long long)cv[0], (long long)cv[1], (long long)cv[2], (long long)cv[3]);
        if (rc == 0) ofa_gan_mobile_add_companions(g, (int)cv[0], (int)cv[1], (int)cv[2], (int)cv[3]);
        if (rc == 0) rc = ofa_params_read_h5(h, "weights/D", &g->d.p, g->d.p.data);
        if (rc == 0 && g->map_ct) rc = ofa_params_read_h5(h, "weights/maps", &g->maps, g->maps.data);
        if (rc == 0 && g->cycle) rc = ofa_params_read_h5(h, "weights/G_B", &g->g_b.p, g->g_b.p.data);
        if (rc == 0 && g->cycle) rc = ofa_params_read_h5(h, "weights/D_B", &g->d_b.p, g->d_b.p.data);
    }
    if (rc == 0) rc = ofa_params_read_h5(h, WEIGHTS, &g->g.p, g->g.p.data);
    if (rc < 0) {
        ofa_gan_mobile_free(g);
        free(g);
        return ofa_err_in_file(rc, path);
    }
    ofa_gan_mobile_wrap(m, g);
    return 0;
}

int ofa_gan_mobile_write(const ofa_gan_mobile *g, ofa_h5 *h)
{
    const int64_t v[5] = {g->g.channels, g->image_size, g->g.n_blocks, g->class_a, g->class_b};
    for (int i = 0; i < 5; i++) OFA_TRY(ofa_h5_attr_set_i64(h, "/", int_keys[i], v[i]));
    char text[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch_print(&g->g.shape, text, sizeof text);
    OFA_TRY(ofa_h5_attr_set_str(h, "/", "generator", "mobile"));
    OFA_TRY(ofa_h5_attr_set_str(h, "/", "mobile_shape", text));
    if (g->companions) {
        OFA_TRY(ofa_h5_attr_set_i64(h, "/", "distill_ndf", g->ndf));
        OFA_TRY(ofa_h5_attr_set_i64(h, "/", "distill_n_layers", g->n_layers));
        OFA_TRY(ofa_h5_attr_set_i64(h, "/", "distill_map_ct", g->map_ct));
        OFA_TRY(ofa_params_write_h5(h, "weights/D", &g->d.p, g->d.p.data));
        if (g->map_ct) OFA_TRY(ofa_params_write_h5(h, "weights/maps", &g->maps, g->maps.data));
        if (g->cycle) {
            OFA_TRY(ofa_h5_attr_set_i64(h, "/", "distill_cycle", 1));
            OFA_TRY(ofa_params_write_h5(h, "weights/G_B", &g->g_b.p, g->g_b.p.data));
            OFA_TRY(ofa_params_write_h5(h, "weights/D_B", &g->d_b.p, g->d_b.p.data));
        }
    }
    return ofa_params_write_h5(h, WEIGHTS, &g->g.p, g->g.p.data);
}

/* ---- the space ---- */

static void one_choice(ofa_mobile_choices *c, int v)
{
    c->v[0] = v;
    c->n = 1;
}

/* choices = the config list sorted ascending without repeats (empty: the stored value), each <= max */
static int choices_of(ofa_mobile_choices *out, const int *list, int n, int stored, int max, const char *key,
                      const char *where)
{
    if (n == 0) {
        one_choice(out, stored);
        return 0;
    }
    if (n > OFA_MOBILE_CHOICES_MAX)
        return OFA_ERR(OFA_E_CONFIG, "%s: %s has %d choices (at most %d)", where, key, n, OFA_MOBILE_CHOICES_MAX);
    out->n = 0;
    for (int i = 0; i < n; i++) {
        if (list[i] > max)
            return OFA_ERR(OFA_E_CONFIG, "%s: %s choice %d exceeds the generator's stored %d", where, key, list[i], max);
        int k = 0;
        while (k < out->n && out->v[k] < list[i]) k++;
        if (k < out->n && out->v[k] == list[i]) continue;
        memmove(out->v + k + 1, out->v + k, (size_t)(out->n - k) * sizeof out->v[0]);
        out->v[k] = list[i];
        out->n++;
    }
    return 0;
}

int ofa_gan_mobile_space(ofa_mobile_space *s, const ofa_config *c, const ofa_gan_mobile *g, const char *where)
{
    const ofa_mobile_arch *st = &g->g.shape;
    memset(s, 0, sizeof *s);
    s->n_groups = st->n_groups;
    int hmax = st->hidden[0], kmax = st->kernel[0];
    for (int k = 1; k < st->n_groups; k++) {
        if (st->hidden[k] < hmax) hmax = st->hidden[k];
        if (st->kernel[k] < kmax) kmax = st->kernel[k];
    }
    OFA_TRY(choices_of(&s->stem, c->supernet.stem, c->supernet.n_stem, st->stem, st->stem, "supernet.space.stem", where));
    OFA_TRY(choices_of(&s->down1, c->supernet.down1, c->supernet.n_down1, st->down1, st->down1, "supernet.space.down1", where));
    OFA_TRY(choices_of(&s->down2, c->supernet.down2, c->supernet.n_down2, st->down2, st->down2, "supernet.space.down2", where));
    OFA_TRY(choices_of(&s->hidden, c->supernet.blocks, c->supernet.n_blocks, hmax, hmax, "supernet.space.blocks", where));
    OFA_TRY(choices_of(&s->up1, c->supernet.up1, c->supernet.n_up1, st->up1, st->up1, "supernet.space.up1", where));
    OFA_TRY(choices_of(&s->up2, c->supernet.up2, c->supernet.n_up2, st->up2, st->up2, "supernet.space.up2", where));
    OFA_TRY(choices_of(&s->kernel, c->supernet.kernel, c->supernet.n_kernel, 3, kmax, "supernet.space.kernel", where));
    for (int i = 0; i < s->kernel.n; i++)
        if (s->kernel.v[i] != 3 && s->kernel.v[i] != 5)
            return OFA_ERR(OFA_E_CONFIG, "%s: supernet.space.kernel choice %d: kernels are 3 or 5", where,
                           s->kernel.v[i]);
    return 0;
}

void ofa_gan_mobile_space_of(ofa_mobile_space *s, const ofa_gan_mobile *g)
{
    const ofa_mobile_arch *st = &g->g.shape;
    memset(s, 0, sizeof *s);
    s->n_groups = st->n_groups;
    one_choice(&s->stem, st->stem), one_choice(&s->down1, st->down1), one_choice(&s->down2, st->down2);
    one_choice(&s->up1, st->up1), one_choice(&s->up2, st->up2);
    /* groups of unequal widths or kernels: every stored value is a choice */
    s->hidden.n = s->kernel.n = 0;
    for (int k = 0; k < st->n_groups; k++) {
        int hv = st->hidden[k], kv = st->kernel[k], have = 0;
        for (int i = 0; i < s->hidden.n; i++) have |= s->hidden.v[i] == hv;
        if (!have) s->hidden.v[s->hidden.n++] = hv;
        have = 0;
        for (int i = 0; i < s->kernel.n; i++) have |= s->kernel.v[i] == kv;
        if (!have) s->kernel.v[s->kernel.n++] = kv;
    }
    for (int i = 1; i < s->hidden.n; i++) /* ascending */
        for (int j = i; j > 0 && s->hidden.v[j - 1] > s->hidden.v[j]; j--) {
            int t = s->hidden.v[j];
            s->hidden.v[j] = s->hidden.v[j - 1], s->hidden.v[j - 1] = t;
        }
    if (s->kernel.n == 2 && s->kernel.v[0] > s->kernel.v[1]) s->kernel.v[0] = 3, s->kernel.v[1] = 5;
}

/* ---- export, translation, score ---- */

int ofa_gan_mobile_export(ofa_model *out, const ofa_gan_mobile *sup, const ofa_mobile_arch *a)
{
    OFA_TRY(ofa_mobile_arch_check(a, &sup->g));
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    g->generator = OFA_GAN_GEN_MOBILE;
    int rc = ofa_mobile_extract(&g->g, &sup->g, a);
    if (rc < 0) {
        free(g);
        return rc;
    }
    g->image_size = sup->image_size, g->class_a = sup->class_a, g->class_b = sup->class_b;
    memcpy(g->task, sup->task, sizeof g->task);
    ofa_gan_mobile_wrap(out, g);
    return 0;
}

void ofa_gan_mobile_translate(const ofa_gan_mobile *g, const ofa_mobile_arch *a, const float *x, int64_t n, int batch,
                              float *y)
{
    if (batch < 1) batch = 64;
    if (n <= 0) return;
    const int S = g->image_size;
    const size_t px = (size_t)g->g.channels * S * S;
    ofa_mobile_acts acts;
    ofa_mobile_acts_create(&acts, &g->g, (int)(n < batch ? n : batch), S, S);
    for (int64_t i = 0; i < n; i += batch) {
        int B = (int)(n - i < batch ? n - i : batch);
        const float *o = ofa_mobile_forward(&g->g, &acts, a, x + (size_t)i * px, B);
        memcpy(y + (size_t)i * px, o, (size_t)B * px * sizeof(float));
    }
    ofa_mobile_acts_free(&acts);
}

static int load_fidnet(ofa_data *d)
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

int ofa_gan_mobile_score(const ofa_gan_mobile *g, const ofa_mobile_arch *a, ofa_data *d, ofa_score *out)
{
    const double t0 = ofa_now();
    memset(out, 0, sizeof *out);
    OFA_TRY(load_fidnet(d));
    const ofa_fidnet *net = d->net;
    const int S = g->image_size, D = net->features, C = g->g.channels;
    if (net->image_size != S)
        return OFA_ERR(OFA_E_DATA, "%s takes %dx%d images; the generator makes %dx%d (fidnet.image_size vs "
                       "data.image_size)", d->fidnet, net->image_size, net->image_size, S, S);
    if (d->a.n < 2 || d->b.n < 2)
        return OFA_ERR(OFA_E_DATA, "FID needs at least 2 images of each class (%s holds %lld and %lld)", d->what,
                       (long long)d->a.n, (long long)d->b.n);
    const size_t px = (size_t)C * S * S;
    const int64_t na = d->a.n, nb = d->b.n;
    double *fa = ofa_xmalloc((size_t)na * D * sizeof(double)), *fb = ofa_xmalloc((size_t)nb * D * sizeof(double));
    double *ff = ofa_xmalloc((size_t)na * D * sizeof(double));
    float *y = ofa_xmalloc((size_t)na * px * sizeof(float));
    int32_t *pred = ofa_xmalloc((size_t)na * sizeof *pred);
    double fid = 0, base = 0, share = 0;
    ofa_gan_mobile_translate(g, a, d->a.x, na, d->batch, y);
    int rc = ofa_fidnet_features(net, d->a.x, na, C, S, S, "real images", fa);
    if (rc == 0) rc = ofa_fidnet_features(net, d->b.x, nb, C, S, S, "real images", fb);
    if (rc == 0) rc = ofa_fidnet_features(net, y, na, C, S, S, "translated images", ff);
    if (rc == 0) rc = ofa_fidnet_classify(net, y, na, C, S, S, "translated images", pred);
    if (rc == 0) {
        int64_t hit = 0;
        for (int64_t i = 0; i < na; i++) hit += pred[i] == g->class_b;
        share = (double)hit / (double)na;
        rc = ofa_fid_features(ff, na, fb, nb, D, &fid);
    }
    if (rc == 0) rc = ofa_fid_features(fa, na, fb, nb, D, &base);
    free(fa), free(fb), free(ff), free(y), free(pred);
    if (rc < 0) return rc;
    out->metric = fid;
    snprintf(out->name, sizeof out->name, "fid");
    out->higher_better = 0;
    snprintf(out->detail, sizeof out->detail, "A->B %.2f (%.4fx of untranslated %.2f), %.1f%% target class", fid,
             base > 0 ? fid / base : NAN, base, 100 * share);
    static const char *const names[] = {"fid_AtoB", "fid_base", "ratio_AtoB", "class_AtoB"};
    const double vals[] = {fid, base, base > 0 ? fid / base : NAN, share};
    out->n_extra = 4;
    for (int i = 0; i < 4; i++) {
        snprintf(out->extra_name[i], sizeof out->extra_name[i], "%s", names[i]);
        out->extra[i] = vals[i];
    }
    out->has_labels = 1;
    out->n = na + nb;
    out->seconds = ofa_now() - t0;
    return 0;
}

/* ---- latency ---- */

struct ofa_gan_mobile_infer {
    const ofa_gan_mobile *g;
    ofa_mobile_arch a;
    int has_arch, B;
    ofa_mobile_acts acts;
    float *x;
};

int ofa_gan_mobile_infer_create(ofa_gan_mobile_infer **out, const ofa_gan_mobile *g, const ofa_mobile_arch *a,
                                int batch, uint64_t seed)
{
    if (a) OFA_TRY(ofa_mobile_arch_check(a, &g->g));
    if (batch < 1) return OFA_ERR(OFA_E_USAGE, "latency batch %d must be >= 1", batch);
    ofa_gan_mobile_infer *w = ofa_xcalloc(1, sizeof *w);
    w->g = g, w->B = batch;
    if (a) w->a = *a, w->has_arch = 1;
    const size_t n = (size_t)batch * g->g.channels * g->image_size * g->image_size;
    w->x = ofa_xmalloc(n * sizeof(float));
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++) w->x[i] = 2.0f * ofa_rng_uniform(&r) - 1.0f;
    ofa_mobile_acts_create(&w->acts, &g->g, batch, g->image_size, g->image_size);
    *out = w;
    return 0;
}

void ofa_gan_mobile_infer_run(ofa_gan_mobile_infer *w)
{
    ofa_mobile_forward(&w->g->g, &w->acts, w->has_arch ? &w->a : NULL, w->x, w->B);
}

void ofa_gan_mobile_infer_free(ofa_gan_mobile_infer *w)
{
    if (!w) return;
    ofa_mobile_acts_free(&w->acts);
    free(w->x);
    free(w);
}

/* ---- the latency table ---- */

#define KEY_MAX 96

struct ofa_gan_table {
    const ofa_gan_mobile *g;
    ofa_mobile_acts acts;
    float *x;
    int B, n, cap, cur;
    char (*key)[KEY_MAX];
    ofa_mobile_arch *arch; /* [n]: an arch whose plan has the op */
    int *op;               /* [n]: its index in that plan */
};

static int table_find(const ofa_gan_table *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (!strcmp(o->key[i], key)) return i;
    return -1;
}

/* the ops of arch a not in the table yet */
static void table_collect(ofa_gan_table *o, const ofa_mobile_arch *a)
{
    const ofa_gan_mobile *g = o->g;
    ofa_mobile_acts t;
    ofa_mobile_plan_shape(&t, g->g.channels, g->g.n_blocks, &g->g.shape, a, 1, g->image_size, g->image_size);
    for (int i = 0; i < t.n_ops; i++) {
        char key[KEY_MAX];
        ofa_mobile_op_key(&t, i, key, sizeof key);
        if (table_find(o, key) >= 0) continue;
        if (o->n == o->cap) {
            o->cap = o->cap ? 2 * o->cap : 64;
            o->key = ofa_xrealloc(o->key, (size_t)o->cap * sizeof *o->key);
            o->arch = ofa_xrealloc(o->arch, (size_t)o->cap * sizeof *o->arch);
            o->op = ofa_xrealloc(o->op, (size_t)o->cap * sizeof *o->op);
        }
        memcpy(o->key[o->n], key, KEY_MAX);
        o->arch[o->n] = *a;
        o->op[o->n] = i;
        o->n++;
    }
    ofa_mobile_acts_free(&t);
}

int ofa_gan_table_create(ofa_gan_table **out, const ofa_gan_mobile *g, const ofa_mobile_space *s, int batch,
                         uint64_t seed)
{
    if (batch < 1) return OFA_ERR(OFA_E_USAGE, "latency batch %d must be >= 1", batch);
    ofa_mobile_arch big;
    ofa_mobile_space_largest(s, &big);
    OFA_TRY(ofa_mobile_arch_check(&big, &g->g));
    ofa_gan_table *o = ofa_xcalloc(1, sizeof *o);
    o->g = g, o->B = batch, o->cur = -1;
    /* every pair of adjacent slots (the residual stream with each group's width and kernel) */
    for (int i = 0; i < s->stem.n; i++)
        for (int j = 0; j < s->down1.n; j++) {
            ofa_mobile_arch a = big;
            a.stem = s->stem.v[i], a.down1 = s->down1.v[j];
            table_collect(o, &a);
        }
    for (int i = 0; i < s->down1.n; i++)
        for (int j = 0; j < s->down2.n; j++) {
            ofa_mobile_arch a = big;
            a.down1 = s->down1.v[i], a.down2 = s->down2.v[j];
            table_collect(o, &a);
        }
    for (int i = 0; i < s->down2.n; i++)
        for (int j = 0; j < s->hidden.n; j++)
            for (int k = 0; k < s->kernel.n; k++) {
                ofa_mobile_arch a = big;
                a.down2 = s->down2.v[i];
                for (int q = 0; q < a.n_groups; q++) a.hidden[q] = s->hidden.v[j], a.kernel[q] = s->kernel.v[k];
                table_collect(o, &a);
            }
    for (int i = 0; i < s->down2.n; i++)
        for (int j = 0; j < s->up1.n; j++) {
            ofa_mobile_arch a = big;
            a.down2 = s->down2.v[i], a.up1 = s->up1.v[j];
            table_collect(o, &a);
        }
    for (int i = 0; i < s->up1.n; i++)
        for (int j = 0; j < s->up2.n; j++) {
            ofa_mobile_arch a = big;
            a.up1 = s->up1.v[i], a.up2 = s->up2.v[j];
            table_collect(o, &a);
        }
    const size_t n = (size_t)batch * g->g.channels * g->image_size * g->image_size;
    o->x = ofa_xmalloc(n * sizeof(float));
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++) o->x[i] = 2.0f * ofa_rng_uniform(&r) - 1.0f;
    ofa_mobile_acts_create(&o->acts, &g->g, batch, g->image_size, g->image_size);
    *out = o;
    return 0;
}

int ofa_gan_table_count(const ofa_gan_table *o) { return o->n; }
const char *ofa_gan_table_key(const ofa_gan_table *o, int i) { return o->key[i]; }

void ofa_gan_table_run(ofa_gan_table *o, int i)
{
    OFA_ASSERT(i >= 0 && i < o->n);
    if (o->cur < 0 || memcmp(&o->arch[i], &o->arch[o->cur], sizeof o->arch[i]) != 0)
        ofa_mobile_forward(&o->g->g, &o->acts, &o->arch[i], o->x, o->B); /* its plan and its activations */
    o->cur = i;
    ofa_mobile_op_run(&o->g->g, &o->acts, o->op[i]);
}

void ofa_gan_table_free(ofa_gan_table *o)
{
    if (!o) return;
    ofa_mobile_acts_free(&o->acts);
    free(o->x), free(o->key), free(o->arch), free(o->op);
    free(o);
}

int ofa_gan_arch_ops(int channels, int n_blocks, int image_size, const ofa_mobile_arch *shape, const ofa_mobile_arch *a,
                     ofa_op_visit visit, void *ctx)
{
    ofa_mobile_acts t;
    ofa_mobile_plan_shape(&t, channels, n_blocks, shape, a, 1, image_size, image_size);
    int rc = 0;
    for (int i = 0; i < t.n_ops && rc >= 0; i++) {
        char key[KEY_MAX];
        ofa_mobile_op_key(&t, i, key, sizeof key);
        rc = visit(key, 1, ctx);
    }
    ofa_mobile_acts_free(&t);
    return rc < 0 ? rc : 0;
}

/* ---- the supernet's student ---- */

/* dst (created with its shape) = src with every tensor copied, a 3x3 depthwise kernel of src placed
 * as the centre of dst's zeroed 5x5 (dst's 5to3 matrices stay identity, so dst's 3x3 choice is src) */
static int grow_kernels(ofa_gan_mobile *dst, const ofa_gan_mobile *src, const char *path)
{
    for (int i = 0; i < dst->g.p.n; i++) {
        const ofa_pview *v = &dst->g.p.views[i];
        int j = ofa_params_find(&src->g.p, v->name);
        if (j < 0) continue; /* a 5to3 matrix src does not have: identity */
        const ofa_pview *u = &src->g.p.views[j];
        float *d = dst->g.p.data + v->offset;
        const float *s = src->g.p.data + u->offset;
        if (u->numel == v->numel) {
            memcpy(d, s, v->numel * sizeof(float));
        } else if (v->ndim == 4 && u->ndim == 4 && v->shape[2] == 5 && u->shape[2] == 3 && v->shape[0] == u->shape[0] &&
                   v->shape[1] == u->shape[1]) {
            memset(d, 0, v->numel * sizeof(float));
            for (int64_t c = 0; c < v->shape[0] * v->shape[1]; c++)
                for (int r = 0; r < 3; r++)
                    for (int q = 0; q < 3; q++) d[c * 25 + (r + 1) * 5 + q + 1] = s[c * 9 + r * 3 + q];
        } else {
            return OFA_ERR(OFA_E_FORMAT, "%s: tensor %s does not fit the supernet's shape", path, v->name);
        }
    }
    return 0;
}

void ofa_gan_init_convs(ofa_params *p, ofa_rng *r)
{
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        if (v->ndim == 2) continue;
        for (size_t j = 0; j < v->numel; j++)
            p->data[v->offset + j] = v->ndim == 4 ? (float)(0.02 * ofa_rng_normal(r)) : 0.0f;
    }
}

int ofa_gan_supernet_student(ofa_model *student, const ofa_model *teacher, const ofa_config *c)
{
    const ofa_cyclegan *t = ofa_cyclegan_of(teacher);
    int want5 = 0;
    for (int i = 0; i < c->supernet.n_kernel; i++) want5 |= c->supernet.kernel[i] == 5;
    static const char *const from[] = {OFA_RUN_PRUNED, OFA_RUN_STUDENT};
    ofa_model src = {0};
    char path[2 * OFA_PATH_MAX + 2] = "";
    for (int i = 0; i < 2 && !src.net; i++) {
        snprintf(path, sizeof path, "%s/%s", c->experiment.output_dir, from[i]);
        if (!ofa_file_exists(path)) continue;
        ofa_h5 h;
        OFA_TRY(ofa_h5_open(&h, path));
        int rc = ofa_gan_mobile_in_file(&h)
                     ? ofa_gan_mobile_read(&src, &h, path)
                     : OFA_ERR(OFA_E_FORMAT, "%s: not a MobileResNet generator (root attribute generator)", path);
        ofa_h5_close(&h);
        OFA_TRY(rc);
    }
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    const int companions = c->supernet.lambda_gan > 0 || c->supernet.lambda_feature > 0;
    /* the discriminator the companions start from: the source's (its stage trained it against this
     * generator; kept in dkeep, as the source is freed below), else the teacher's D_A */
    const ofa_gan_net *dsrc = &t->net[OFA_CG_D_A];
    float *dkeep = NULL;
    if (src.net && ofa_gan_mobile_of(&src)->companions) {
        dsrc = &ofa_gan_mobile_of(&src)->d;
        if (companions) {
            dkeep = ofa_xmalloc(dsrc->p.total * sizeof(float));
            memcpy(dkeep, dsrc->p.data, dsrc->p.total * sizeof(float));
        }
    }
    const int ndf = dsrc->nf, n_layers = dsrc->depth;
    if (src.net) {
        const ofa_gan_mobile *s = ofa_gan_mobile_of(&src);
        ofa_mobile_arch shape = s->g.shape;
        for (int k = 0; k < shape.n_groups; k++) shape.kernel[k] = want5 ? 5 : shape.kernel[k];
        ofa_gan_mobile_create(g, s->g.channels, s->image_size, s->g.n_blocks, &shape, s->class_a, s->class_b);
        int rc = grow_kernels(g, s, path);
        ofa_gan_mobile_free(ofa_gan_mobile_of(&src));
        free(src.net);
        if (rc < 0) {
            ofa_gan_mobile_free(g);
            free(g);
            free(dkeep);
            return rc;
        }
        OFA_INFO("supernet: the MobileResNet supernet starts from %s%s", path,
                 want5 ? " (3x3 depthwise kernels as the centres of 5x5 ones)" : "");
    } else {
        /* GAN Compression's MobileResnetGenerator(ngf) of the teacher's ngf and blocks, at the largest choices */
        const int groups = t->n_blocks < 3 ? t->n_blocks : 3;
        OFA_ASSERT(groups >= 1);
        ofa_mobile_arch shape;
        ofa_mobile_shape_ngf(&shape, t->ngf, groups, want5 ? 5 : 3);
#define LARGEST(f, list, n)                                                                                            \
    for (int i = 0; i < (n); i++)                                                                                      \
        if (i == 0 || (list)[i] > f) f = (list)[i];
        LARGEST(shape.stem, c->supernet.stem, c->supernet.n_stem)
        LARGEST(shape.down1, c->supernet.down1, c->supernet.n_down1)
        LARGEST(shape.down2, c->supernet.down2, c->supernet.n_down2)
        LARGEST(shape.up1, c->supernet.up1, c->supernet.n_up1)
        LARGEST(shape.up2, c->supernet.up2, c->supernet.n_up2)
        LARGEST(shape.hidden[0], c->supernet.blocks, c->supernet.n_blocks)
#undef LARGEST
        for (int k = 1; k < groups; k++) shape.hidden[k] = shape.hidden[0];
        ofa_gan_mobile_create(g, t->channels, t->image_size, t->n_blocks, &shape, t->class_a, t->class_b);
        ofa_rng r;
        ofa_rng_keyed(&r, (uint64_t)c->experiment.seed, 0x5e9e7, 0);
        ofa_gan_init_convs(&g->g.p, &r);
        char text[OFA_MOBILE_ARCH_TEXT_MAX];
        ofa_mobile_arch_print(&shape, text, sizeof text);
        OFA_INFO("supernet: no %s/pruned.h5 or student.h5: the MobileResNet supernet %s starts from a fresh init "
                 "(experiment.seed)", c->experiment.output_dir, text);
    }
    if (g->class_a != t->class_a || g->class_b != t->class_b || g->image_size != t->image_size ||
        g->g.channels != t->channels) {
        ofa_gan_mobile_free(g);
        free(g);
        free(dkeep);
        return OFA_ERR(OFA_E_FORMAT, "%s: the generator's classes or image size differ from the teacher's", path);
    }
    ofa_mobile_reorder(&g->g);
    if (companions) { /* after the reorder: fresh maps see the reordered channels from the start */
        ofa_gan_mobile_add_companions(g, ndf, n_layers, 4 * t->ngf, 0);
        memcpy(g->d.p.data, dkeep ? dkeep : t->net[OFA_CG_D_A].p.data, g->d.p.total * sizeof(float));
        ofa_rng r;
        ofa_rng_keyed(&r, (uint64_t)c->experiment.seed, 0x5e9e7, 1);
        ofa_gan_init_convs(&g->maps, &r);
        OFA_INFO("supernet: GAN Compression's distillation (LSGAN %g, output L1 %g, feature MSE %g on %d taps); the "
                 "discriminator starts from %s",
                 c->supernet.lambda_gan, c->supernet.lambda_logit, c->supernet.lambda_feature, g->n_taps,
                 dkeep ? path : "the teacher's D_A");
    }
    free(dkeep);
    ofa_gan_mobile_wrap(student, g);
    return 0;
}

/* ---- the distiller ---- */

struct ofa_distiller {
    const ofa_cyclegan *t;
    ofa_gan_mobile *s;
    const ofa_data *train;
    ofa_gan_acts tacts;
    ofa_mobile_acts sacts;
    float *x, *dy;
    const float *target; /* the teacher's output on x: a view of its activations (or of gd's) */
    int Bmax, n;
    size_t px;
    double lambda;
    ofa_gd *gd; /* the whole distillation step when the student has its companions; xb: domain-B images */
    float *xb;
};

int ofa_gan_distill_create(ofa_distiller **out, const ofa_config *c, const ofa_model *teacher, ofa_model *student,
                           const ofa_data *train)
{
    const ofa_cyclegan *t = ofa_cyclegan_of(teacher);
    ofa_gan_mobile *s = ofa_gan_mobile_of(student);
    if (!s)
        return OFA_ERR(OFA_E_USAGE, "a cyclegan supernet is a MobileResNet generator (the student is a CycleGAN)");
    if (s->image_size != t->image_size || s->g.channels != t->channels)
        return OFA_ERR(OFA_E_USAGE, "the supernet's images (%d channels, %d px) differ from the teacher's (%d, %d)",
                       s->g.channels, s->image_size, t->channels, t->image_size);
    ofa_distiller *d = ofa_xcalloc(1, sizeof *d);
    d->t = t, d->s = s, d->train = train;
    d->Bmax = c->supernet.batch_size;
    d->lambda = c->supernet.lambda_logit;
    const int S = t->image_size;
    d->px = (size_t)t->channels * S * S;
    if (s->companions) {
        if (s->map_ct != 4 * t->ngf) {
            free(d);
            return OFA_ERR(OFA_E_USAGE, "the supernet's feature maps reach width %d, the teacher's residual width is %d",
                           s->map_ct, 4 * t->ngf);
        }
        const ofa_gd_lambdas lam = {c->supernet.lambda_gan, c->supernet.lambda_logit, c->supernet.lambda_feature};
        d->gd = ofa_gd_create(&s->g, &t->net[OFA_CG_G_A], NULL, &s->d, &s->maps, "", d->Bmax, S, lam);
        d->xb = ofa_xmalloc((size_t)d->Bmax * d->px * sizeof(float));
    } else {
        ofa_gan_acts_create(&d->tacts, &t->net[OFA_CG_G_A], d->Bmax, S, S);
        ofa_mobile_acts_create(&d->sacts, &s->g, d->Bmax, S, S);
    }
    d->x = ofa_xmalloc((size_t)d->Bmax * d->px * sizeof(float));
    if (!d->gd) d->dy = ofa_xmalloc((size_t)d->Bmax * d->px * sizeof(float));
    *out = d;
    return 0;
}

void ofa_gan_distill_batch(ofa_distiller *d, const int64_t *idx, int n)
{
    OFA_ASSERT(n >= 1 && n <= d->Bmax);
    const ofa_data *tr = d->train;
    /* an epoch order entry is a * nb + b (models/gan/train: ofa_cg_epoch_order); A's image is the input */
    for (int i = 0; i < n; i++) {
        int64_t a = (idx[i] / tr->b.n) % tr->a.n, b = idx[i] % tr->b.n;
        memcpy(d->x + (size_t)i * d->px, tr->a.x + (size_t)a * d->px, d->px * sizeof(float));
        if (d->xb) memcpy(d->xb + (size_t)i * d->px, tr->b.x + (size_t)b * d->px, d->px * sizeof(float));
    }
    const float *y;
    if (d->gd) {
        ofa_gd_teach(d->gd, d->x, n);
        y = ofa_gd_teacher_out(d->gd);
    } else {
        y = ofa_gan_forward(&d->t->net[OFA_CG_G_A], &d->tacts, d->x, n);
    }
    d->target = y; /* valid until the next micro-batch: the subnets run on their own activations */
    d->n = n;
}

double ofa_gan_distill_subnet(ofa_distiller *d, const ofa_arch *a, ofa_rng *dropout, double *tokens)
{
    (void)dropout; /* no dropout in a MobileResNet */
    OFA_ASSERT(a->family == OFA_FAMILY_GAN && a->u.gan.mobile);
    *tokens = d->n;
    if (d->gd) { /* the generator's loss (GAN + output L1 + features); the discriminator's is not reported */
        double L[4];
        ofa_gd_grads_taught(d->gd, &a->u.gan.m, d->x, d->xb, d->n, 1.0, L);
        return L[0] + L[1] + L[2];
    }
    const float *y = ofa_mobile_forward(&d->s->g, &d->sacts, &a->u.gan.m, d->x, d->n);
    const size_t N = (size_t)d->n * d->px;
    const float scale = (float)(d->lambda / (double)N);
    double sum = 0;
    for (size_t i = 0; i < N; i++) {
        float e = y[i] - d->target[i];
        sum += fabsf(e);
        d->dy[i] = e > 0 ? scale : e < 0 ? -scale : 0.0f;
    }
    ofa_mobile_backward(&d->s->g, &d->sacts, d->dy, NULL);
    return d->lambda * sum / (double)N;
}

const float *ofa_gan_distill_inputs(const ofa_distiller *d, const float **target, int *n)
{
    if (target) *target = d->target;
    *n = d->n;
    return d->x;
}

void ofa_gan_distill_free(ofa_distiller *d)
{
    if (!d) return;
    if (d->gd) {
        ofa_gd_free(d->gd);
    } else {
        ofa_gan_acts_free(&d->tacts);
        ofa_mobile_acts_free(&d->sacts);
    }
    free(d->x), free(d->dy), free(d->xb);
    free(d);
}
