/* models/gan/family: the CycleGAN family's ops table (see family.h). */
#include "models/gan/family.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/timer.h"
#include "datasets/fmnist.h"
#include "models/gan/arch.h"
#include "models/gan/bench.h"
#include "models/gan/fidnet.h"
#include "models/gan/file.h"
#include "models/gan/model.h"
#include "models/gan/score.h"
#include "models/gan/student.h"
#include "models/gan/super.h"
#include "models/gan/train.h"

#define NOT_YET(what) OFA_ERR(OFA_E_USAGE, "%s is not available for the cyclegan family yet (it comes with the compression issue)", what)

static const ofa_gan_arch *G_(const ofa_arch *a)
{
    OFA_ASSERT(a->family == OFA_FAMILY_GAN);
    return &a->u.gan;
}
static const ofa_gan_space *S_(const ofa_space *s)
{
    OFA_ASSERT(s->family == OFA_FAMILY_GAN);
    return &s->u.gan;
}

/* a MobileResNet model (models/gan/super.h), or NULL for a CycleGAN */
static ofa_gan_mobile *M_(const ofa_model *m) { return ofa_gan_mobile_of(m); }

/* widths / kernels elastic, from the interface's elastic mask (width = channels, depth = kernel) */
static int widths_of(int elastic) { return (elastic & OFA_ELASTIC_WIDTH) != 0; }
static int kernels_of(int elastic) { return (elastic & OFA_ELASTIC_DEPTH) != 0; }

static void mobile_arch(ofa_arch *a, const ofa_mobile_arch *m)
{
    memset(a, 0, sizeof *a);
    a->family = OFA_FAMILY_GAN;
    a->u.gan.mobile = 1;
    a->u.gan.m = *m;
}

/* ---- arch text form ---- */

int ofa_gan_arch_parse(ofa_gan_arch *a, const char *text)
{
    int ngf = 0, nb = -1, used = 0;
    if (!text || sscanf(text, "ngf%d-b%d%n", &ngf, &nb, &used) != 2 || text[used] != '\0' || ngf < 1 || nb < 0 ||
        strncmp(text, "ngf", 3) != 0)
        return OFA_ERR(OFA_E_USAGE, "arch '%s' is not a cyclegan arch: expected ngf<N>-b<blocks>, e.g. ngf16-b6",
                       text ? text : "(null)");
    a->ngf = ngf, a->n_blocks = nb;
    return 0;
}

void ofa_gan_arch_print(const ofa_gan_arch *a, char *buf, size_t n) { snprintf(buf, n, "ngf%d-b%d", a->ngf, a->n_blocks); }

/* ---- arch values: a teacher's space is its own shape ---- */

static void space_of_model(ofa_space *s, const ofa_model *m)
{
    memset(s, 0, sizeof *s);
    s->family = OFA_FAMILY_GAN;
    if (M_(m)) {
        s->u.gan.mobile = 1;
        ofa_gan_mobile_space_of(&s->u.gan.m, M_(m));
        s->u.gan.channels = M_(m)->g.channels, s->u.gan.n_blocks = M_(m)->g.n_blocks;
        s->u.gan.image_size = M_(m)->image_size, s->u.gan.shape = M_(m)->g.shape;
        return;
    }
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    s->u.gan.ngf = cm->ngf, s->u.gan.n_blocks = cm->n_blocks;
}

static int space_from_config(ofa_space *s, const ofa_config *c, const ofa_model *m, const char *where)
{
    space_of_model(s, m);
    if (M_(m)) return ofa_gan_mobile_space(&s->u.gan.m, c, M_(m), where);
    return 0;
}

static void arch_of_space(ofa_arch *a, const ofa_space *s)
{
    memset(a, 0, sizeof *a);
    a->family = OFA_FAMILY_GAN;
    a->u.gan.ngf = S_(s)->ngf, a->u.gan.n_blocks = S_(s)->n_blocks;
}

static int arch_parse(ofa_arch *a, const char *text, const ofa_space *s)
{
    if (S_(s)->mobile) {
        ofa_mobile_arch m;
        OFA_TRY(ofa_mobile_arch_parse(&m, text));
        mobile_arch(a, &m);
        return 0;
    }
    ofa_arch t;
    memset(&t, 0, sizeof t);
    t.family = OFA_FAMILY_GAN;
    OFA_TRY(ofa_gan_arch_parse(&t.u.gan, text));
    *a = t;
    return 0;
}

static void arch_print(const ofa_arch *a, const ofa_space *s, char *buf, size_t n)
{
    (void)S_(s);
    if (G_(a)->mobile) ofa_mobile_arch_print(&G_(a)->m, buf, n);
    else ofa_gan_arch_print(G_(a), buf, n);
}

static int arch_check(const ofa_arch *a, const ofa_space *s)
{
    const ofa_gan_arch *g = G_(a);
    const ofa_gan_space *sp = S_(s);
    if (g->mobile != sp->mobile)
        return OFA_ERR(OFA_E_USAGE, "arch is a %s generator's, the model's is a %s generator",
                       g->mobile ? "MobileResNet" : "ResNet", sp->mobile ? "MobileResNet" : "ResNet");
    if (sp->mobile) return ofa_mobile_space_check(&sp->m, &g->m);
    if (g->ngf != sp->ngf || g->n_blocks != sp->n_blocks)
        return OFA_ERR(OFA_E_USAGE, "arch ngf%d-b%d is not the model's shape ngf%d-b%d (the cyclegan family has no "
                       "elastic generator yet)", g->ngf, g->n_blocks, sp->ngf, sp->n_blocks);
    return 0;
}

static void arch_full(ofa_arch *a, const ofa_model *m)
{
    if (M_(m)) {
        mobile_arch(a, &M_(m)->g.shape);
        return;
    }
    ofa_space s;
    space_of_model(&s, m);
    arch_of_space(a, &s);
}
static void arch_largest(ofa_arch *a, const ofa_space *s)
{
    if (!S_(s)->mobile) {
        arch_of_space(a, s);
        return;
    }
    ofa_mobile_arch m;
    ofa_mobile_space_largest(&S_(s)->m, &m);
    mobile_arch(a, &m);
}
/* the smallest choice of every elastic slot, the largest of the others */
static void arch_smallest(ofa_arch *a, const ofa_space *s, int elastic)
{
    if (!S_(s)->mobile) {
        arch_of_space(a, s);
        return;
    }
    ofa_mobile_arch big, small;
    ofa_mobile_space_largest(&S_(s)->m, &big);
    ofa_mobile_space_smallest(&S_(s)->m, &small);
    if (!widths_of(elastic)) {
        small.stem = big.stem, small.down1 = big.down1, small.down2 = big.down2, small.up1 = big.up1, small.up2 = big.up2;
        memcpy(small.hidden, big.hidden, sizeof small.hidden);
    }
    if (!kernels_of(elastic)) memcpy(small.kernel, big.kernel, sizeof small.kernel);
    mobile_arch(a, &small);
}
static void arch_random(ofa_arch *a, const ofa_space *s, int elastic, ofa_rng *rng)
{
    if (!S_(s)->mobile) {
        arch_of_space(a, s);
        return;
    }
    ofa_mobile_arch m;
    ofa_mobile_arch_random(&m, &S_(s)->m, widths_of(elastic), kernels_of(elastic), rng);
    mobile_arch(a, &m);
}
/* a MobileResNet space's grid: its largest and its smallest arch (the space is too large to list) */
static int arch_grid(ofa_arch *a, const ofa_space *s, int elastic)
{
    if (!S_(s)->mobile) {
        if (a) arch_of_space(a, s);
        return 1;
    }
    if (a) arch_largest(&a[0], s), arch_smallest(&a[1], s, elastic);
    return 2;
}
static int strata(const ofa_space *s, int elastic)
{
    (void)s, (void)elastic;
    return 0;
}
static void arch_to_stratum(ofa_arch *a, const ofa_space *s, int elastic, int k, ofa_rng *rng)
{
    (void)k;
    arch_random(a, s, elastic, rng);
}
static void arch_mutate(ofa_arch *c, const ofa_arch *par, const ofa_space *s, int elastic, double prob, ofa_rng *rng)
{
    if (!S_(s)->mobile) {
        *c = *par;
        return;
    }
    ofa_mobile_arch m;
    ofa_mobile_arch_mutate(&m, &G_(par)->m, &S_(s)->m, widths_of(elastic), kernels_of(elastic), prob, rng);
    mobile_arch(c, &m);
}
static void arch_crossover(ofa_arch *c, const ofa_arch *p1, const ofa_arch *p2, const ofa_space *s, int elastic,
                           ofa_rng *rng)
{
    (void)elastic;
    if (!S_(s)->mobile) {
        *c = *p1;
        return;
    }
    ofa_mobile_arch m;
    ofa_mobile_arch_crossover(&m, &G_(p1)->m, &G_(p2)->m, rng);
    mobile_arch(c, &m);
}

/* parameters of one generator of shape a */
static int64_t arch_params(const ofa_model *m, const ofa_arch *a)
{
    if (M_(m)) return ofa_mobile_arch_params(M_(m)->g.channels, M_(m)->g.n_blocks, &G_(a)->m);
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    const ofa_gan_arch *g = G_(a);
    ofa_gan_net n;
    ofa_gan_net_init(&n, OFA_GAN_GENERATOR, cm->channels, g->ngf, g->n_blocks);
    int64_t p = 0;
    for (int i = 0; i < n.p.n; i++) p += (int64_t)n.p.views[i].numel;
    ofa_gan_net_free(&n);
    return p;
}

/* multiply-adds of one generator forward on one image (seq_len: ignored; the image size is the
 * model's) */
static double arch_macs(const ofa_model *m, const ofa_arch *a, int seq_len)
{
    (void)seq_len;
    if (M_(m))
        return (double)ofa_mobile_arch_macs(M_(m)->g.channels, M_(m)->g.n_blocks, &G_(a)->m, M_(m)->image_size,
                                            M_(m)->image_size);
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    const ofa_gan_arch *g = G_(a);
    ofa_gan_net n;
    ofa_gan_net_init(&n, OFA_GAN_GENERATOR, cm->channels, g->ngf, g->n_blocks);
    ofa_gan_acts acts;
    ofa_gan_acts_create(&acts, &n, 1, cm->image_size, cm->image_size);
    double macs = 0;
    for (int i = 0; i < acts.n_ops; i++) {
        const ofa_gan_op *op = &acts.ops[i];
        if (op->kind != OFA_GAN_OP_CONV && op->kind != OFA_GAN_OP_CONVT) continue;
        const ofa_pview *w = &n.p.views[op->w];
        const ofa_gan_buf *out = &acts.buf[op->out], *in = &acts.buf[op->in];
        /* a conv: every output pixel reads the whole kernel; a transposed conv: every input pixel */
        double pix = op->kind == OFA_GAN_OP_CONV ? (double)out->H * out->W : (double)in->H * in->W;
        macs += pix * (double)w->numel;
    }
    ofa_gan_acts_free(&acts);
    ofa_gan_net_free(&n);
    return macs;
}

/* ---- the model and its file ---- */

static void model_free(ofa_model *m)
{
    ofa_cyclegan *cm = m->net;
    if (!cm) return;
    if (M_(m)) ofa_gan_mobile_free(M_(m));
    else ofa_cyclegan_free(cm);
    free(cm);
    m->net = NULL;
    m->p = NULL;
}

static void model_describe(const ofa_model *m, char *buf, size_t n)
{
    if (M_(m)) {
        const ofa_gan_mobile *g = M_(m);
        char text[OFA_MOBILE_ARCH_TEXT_MAX];
        ofa_mobile_arch_print(&g->g.shape, text, sizeof text);
        snprintf(buf, n, "cyclegan MobileResNet generator %s (A) -> %s (B), %dx%dx%d images; %d blocks, stored %s",
                 ofa_fmnist_class_name(g->class_a), ofa_fmnist_class_name(g->class_b), g->g.channels, g->image_size,
                 g->image_size, g->g.n_blocks, text);
        return;
    }
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    snprintf(buf, n,
             "cyclegan: %s (A) <-> %s (B), %dx%dx%d images; generators ngf %d, %d blocks; discriminators ndf %d, %d "
             "layers",
             ofa_fmnist_class_name(cm->class_a), ofa_fmnist_class_name(cm->class_b), cm->channels, cm->image_size,
             cm->image_size, cm->ngf, cm->n_blocks, cm->ndf, cm->n_layers);
}

static void model_config(const ofa_model *m, ofa_config *c)
{
    if (M_(m)) {
        c->data.image_size = M_(m)->image_size, c->data.class_a = M_(m)->class_a, c->data.class_b = M_(m)->class_b;
        return;
    }
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    c->model.ngf = cm->ngf, c->model.ndf = cm->ndf, c->model.n_blocks = cm->n_blocks, c->model.n_layers = cm->n_layers;
    c->data.image_size = cm->image_size, c->data.class_a = cm->class_a, c->data.class_b = cm->class_b;
}

static int model_export(ofa_model *out, const ofa_model *sup, const ofa_arch *a)
{
    if (!M_(sup))
        return OFA_ERR(OFA_E_USAGE, "export --arch needs a MobileResNet supernet (a CycleGAN teacher has one arch, "
                       "itself)");
    return ofa_gan_mobile_export(out, M_(sup), &G_(a)->m);
}

static const char *model_task(const ofa_model *m) { return M_(m) ? M_(m)->task : ofa_cyclegan_of(m)->task; }

/* ---- data ---- */

static int data_open(ofa_data **out, const ofa_config *c, const ofa_model *m, int split, int64_t limit)
{
    if (M_(m)) return ofa_cyclegan_data_open(out, c, M_(m)->class_a, M_(m)->class_b, M_(m)->image_size, split, limit);
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    return ofa_cyclegan_data_open(out, c, cm->class_a, cm->class_b, cm->image_size, split, limit);
}
static void data_free(ofa_data *d) { ofa_cyclegan_data_free(d); }
static int64_t data_size(const ofa_data *d) { return d->a.n > d->b.n ? d->a.n : d->b.n; }
static void data_describe(const ofa_data *d, char *buf, size_t n) { snprintf(buf, n, "%s", d->what); }
static void data_set_batch(ofa_data *d, int batch) { d->batch = batch; }
static void data_epoch_order(const ofa_data *d, int64_t *order, int batch, ofa_rng *rng)
{
    (void)batch;
    ofa_cg_epoch_order(d, order, rng);
}

/* the keys the images depend on, and the IDX files by size and hash */
static int data_fingerprint(const ofa_config *c, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    static const char *const keys[] = {"data.class_a", "data.class_b", "data.image_size", "data.train_limit",
                                       "search.val_fraction", "search.val_limit"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *v = ofa_config_key_text(c, keys[i]);
        used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "%s: %s\n", keys[i], v);
        free(v);
    }
    /* the training images and labels, by content (a moved folder is the same data) */
    static const char *const files[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    for (int i = 0; i < 2; i++) {
        char path[OFA_PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/%s.gz", c->data.fmnist_dir, files[i]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            snprintf(path, sizeof path, "%s/%s", c->data.fmnist_dir, files[i]);
            f = fopen(path, "rb");
        }
        if (!f) return OFA_ERR(OFA_E_IO, "%s: %s (data.fmnist_dir)", path, strerror(errno));
        uint64_t hh = OFA_FNV1A_INIT;
        int64_t size = 0;
        unsigned char chunk[1 << 14];
        size_t got;
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) hh = ofa_fnv1a(hh, chunk, got), size += (int64_t)got;
        int bad = ferror(f);
        fclose(f);
        if (bad) return OFA_ERR(OFA_E_IO, "%s: read error", path);
        used += (size_t)snprintf(buf + used, n > used ? n - used : 0, "data %s: %lld bytes, fnv1a %016llx\n", files[i],
                                 (long long)size, (unsigned long long)hh);
    }
    if (used >= n) return OFA_ERR(OFA_E_RUNTIME, "data fingerprint longer than %zu bytes", n);
    return 0;
}

/* ---- scoring ---- */

static int score(const ofa_model *m, const ofa_arch *a, ofa_data *d, ofa_score *out)
{
    if (M_(m)) {
        if (a) OFA_TRY(ofa_mobile_arch_check(&G_(a)->m, &M_(m)->g));
        return ofa_gan_mobile_score(M_(m), a ? &G_(a)->m : NULL, d, out);
    }
    if (a) { /* the only arch is the model itself */
        ofa_space s;
        space_of_model(&s, m);
        OFA_TRY(arch_check(a, &s));
    }
    return ofa_cyclegan_score(ofa_cyclegan_of(m), d, out);
}

static int predict_write(const ofa_model *m, const ofa_arch *a, ofa_data *d, const char *path, int columns)
{
    (void)m, (void)a, (void)d, (void)path, (void)columns;
    return OFA_ERR(OFA_E_USAGE, "--predictions is for GLUE models; 'ofa translate' writes a cyclegan's images");
}

/* a list of n ints joined by dots */
static void dotted(char *buf, size_t n, const int *v, int k)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < k && at < n; i++) at += (size_t)snprintf(buf + at, n - at, i ? ".%d" : "%d", v[i]);
}

static void grid_columns(const ofa_model *m, const ofa_arch *a, char *buf, size_t n)
{
    if (M_(m)) { /* a MobileResNet: one column per slot, a group's values joined by dots */
        if (!a) {
            snprintf(buf, n, "stem,down1,down2,blocks,kernel,up1,up2");
            return;
        }
        const ofa_mobile_arch *x = &G_(a)->m;
        char blocks[64], kernel[64];
        dotted(blocks, sizeof blocks, x->hidden, x->n_groups);
        dotted(kernel, sizeof kernel, x->kernel, x->n_groups);
        snprintf(buf, n, "%d,%d,%d,%s,%s,%d,%d", x->stem, x->down1, x->down2, blocks, kernel, x->up1, x->up2);
    } else if (!a) {
        snprintf(buf, n, "ngf,n_blocks");
    } else {
        snprintf(buf, n, "%d,%d", G_(a)->ngf, G_(a)->n_blocks);
    }
}

/* the translated images of both directions, A then B */
static int outputs(const ofa_model *m, const ofa_arch *a, ofa_data *d, float **out, int64_t *n_values)
{
    if (M_(m)) { /* A -> B only */
        const ofa_gan_mobile *g = M_(m);
        const size_t px = (size_t)g->g.channels * g->image_size * g->image_size;
        float *y = ofa_xmalloc((size_t)d->a.n * px * sizeof(float));
        ofa_gan_mobile_translate(g, a ? &G_(a)->m : NULL, d->a.x, d->a.n, d->batch, y);
        *out = y;
        *n_values = (int64_t)((size_t)d->a.n * px);
        return 0;
    }
    (void)a;
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    const size_t px = (size_t)cm->channels * cm->image_size * cm->image_size;
    float *y = ofa_xmalloc((size_t)(d->a.n + d->b.n) * px * sizeof(float));
    ofa_cyclegan_translate(cm, 0, d->a.x, d->a.n, d->batch, y, NULL);
    ofa_cyclegan_translate(cm, 1, d->b.x, d->b.n, d->batch, y + (size_t)d->a.n * px, NULL);
    *out = y;
    *n_values = (int64_t)((size_t)(d->a.n + d->b.n) * px);
    return 0;
}

/* ---- the stages the compression issue brings ---- */

static int reorder(ofa_model *m, ofa_data *dev, const ofa_config *c, void **state)
{
    (void)m, (void)dev, (void)c;
    *state = NULL;
    return NOT_YET("the reorder stage");
}
static int reorder_write(const void *state, ofa_h5 *h)
{
    (void)state, (void)h;
    return NOT_YET("the reorder stage");
}
static void reorder_free(void *state) { (void)state; }


/* ---- latency: G_A's forward on random images ---- */

static int input_limit(const ofa_model *m)
{
    (void)m;
    return 0;
}

static void signature(const ofa_model *m, char *buf, size_t n)
{
    if (M_(m)) {
        char text[OFA_MOBILE_ARCH_TEXT_MAX];
        ofa_mobile_arch_print(&M_(m)->g.shape, text, sizeof text);
        snprintf(buf, n, "cyclegan mobile generator %s blocks %d image %d", text, M_(m)->g.n_blocks, M_(m)->image_size);
        return;
    }
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    snprintf(buf, n, "cyclegan generator ngf %d blocks %d image %d", cm->ngf, cm->n_blocks, cm->image_size);
}

struct ofa_infer {
    ofa_gan_mobile_infer *mob; /* a MobileResNet's (then the rest is unused) */
    const ofa_gan_net *g;
    ofa_gan_acts acts;
    float *x;
    int B;
};

static void infer_free(ofa_infer *w)
{
    if (!w) return;
    if (w->mob) {
        ofa_gan_mobile_infer_free(w->mob);
        free(w);
        return;
    }
    ofa_gan_acts_free(&w->acts);
    free(w->x);
    free(w);
}

static int infer_create(ofa_infer **out, const ofa_model *m, const ofa_arch *a, int batch, int seq_len, uint64_t seed)
{
    (void)seq_len;
    if (M_(m)) {
        ofa_gan_mobile_infer *mob;
        OFA_TRY(ofa_gan_mobile_infer_create(&mob, M_(m), a ? &G_(a)->m : NULL, batch, seed));
        ofa_infer *w = ofa_xcalloc(1, sizeof *w);
        w->mob = mob;
        *out = w;
        return 0;
    }
    const ofa_cyclegan *cm = ofa_cyclegan_of(m);
    if (a) {
        ofa_space s;
        space_of_model(&s, m);
        OFA_TRY(arch_check(a, &s));
    }
    if (batch < 1) return OFA_ERR(OFA_E_USAGE, "latency batch %d must be >= 1", batch);
    ofa_infer *w = ofa_xcalloc(1, sizeof *w);
    w->g = &cm->net[OFA_CG_G_A];
    w->B = batch;
    const size_t n = (size_t)batch * cm->channels * cm->image_size * cm->image_size;
    w->x = ofa_xmalloc(n * sizeof(float));
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 0, 0);
    for (size_t i = 0; i < n; i++) w->x[i] = 2.0f * ofa_rng_uniform(&r) - 1.0f;
    ofa_gan_acts_create(&w->acts, w->g, batch, cm->image_size, cm->image_size);
    *out = w;
    return 0;
}

static void infer_run(ofa_infer *w)
{
    if (w->mob) ofa_gan_mobile_infer_run(w->mob);
    else ofa_gan_forward(w->g, &w->acts, w->x, w->B);
}

/* a MobileResNet's latency table: every op shape its space produces (models/gan/super.h) */
static int table_ops_create(ofa_table_ops **o, const ofa_model *m, const ofa_space *s, int batch, int seq_len,
                            uint64_t seed)
{
    (void)seq_len;
    *o = NULL;
    if (!M_(m) || !S_(s)->mobile)
        return OFA_ERR(OFA_E_USAGE, "a latency table is for a MobileResNet supernet (a CycleGAN teacher has one arch: "
                       "use search.latency.mode measured)");
    return ofa_gan_table_create((ofa_gan_table **)o, M_(m), &S_(s)->m, batch, seed);
}
static int table_ops_count(const ofa_table_ops *o) { return ofa_gan_table_count((const ofa_gan_table *)o); }
static const char *table_op_key(const ofa_table_ops *o, int i) { return ofa_gan_table_key((const ofa_gan_table *)o, i); }
static void table_op_run(ofa_table_ops *o, int i) { ofa_gan_table_run((ofa_gan_table *)o, i); }
static void table_ops_free(ofa_table_ops *o) { ofa_gan_table_free((ofa_gan_table *)o); }
static int arch_ops(const ofa_space *s, const ofa_arch *a, ofa_op_visit visit, void *ctx)
{
    const ofa_gan_space *sp = S_(s);
    if (!sp->mobile || !G_(a)->mobile)
        return OFA_ERR(OFA_E_USAGE, "a latency table is for a MobileResNet supernet (a CycleGAN teacher has one arch: "
                       "use search.latency.mode measured)");
    return ofa_gan_arch_ops(sp->channels, sp->n_blocks, sp->image_size, &sp->shape, &G_(a)->m, visit, ctx);
}

static const char *const bench_works[] = {"cyclegan", "generator", NULL};

/* the FID feature net the teacher is chosen with, trained when missing */
static int run_prepare(const ofa_config *c)
{
    char path[2 * OFA_PATH_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", c->experiment.output_dir, c->fidnet.output);
    if (ofa_file_exists(path)) {
        OFA_INFO("run: FID feature net %s exists (delete it, or 'ofa fidnet CONFIG --force', to train it again)",
                 path);
        return 0;
    }
    OFA_INFO("run: training the FID feature net %s first (fidnet.*)", path);
    ofa_fidnet_record r;
    OFA_TRY(ofa_fidnet_train(c, path, &r));
    OFA_INFO("run: fidnet test accuracy %.2f%% on %lld test images (%.0fs)", 100 * r.test_accuracy,
             (long long)r.test_images, r.train_seconds);
    return 0;
}

static const char *const teacher_keys[] = {"model.ngf",          "model.ndf",      "model.n_blocks",
                                           "model.n_layers",     "teacher.lambda_cycle", "teacher.lambda_identity",
                                           "teacher.pool_size", "teacher.decay_epochs", NULL};
static const char *const student_keys[] = {"student.decay_epochs", "student.ngf", "student.kernel", "student.lambda_gan",
                                           "student.lambda_recon", "student.lambda_distill", "student.arch",
                                           "student.distill", "student.init", NULL};
static const char *const prune_keys[] = {"prune.decay_epochs", "prune.keep", "prune.lambda_gan", "prune.lambda_recon",
                                         "prune.lambda_distill", NULL};

const ofa_family ofa_cyclegan_family = {
    .name = "cyclegan",
    .item_unit = "img",
    .space_from_config = space_from_config,
    .space_of_model = space_of_model,
    .arch_parse = arch_parse,
    .arch_print = arch_print,
    .arch_check = arch_check,
    .arch_full = arch_full,
    .arch_largest = arch_largest,
    .arch_smallest = arch_smallest,
    .arch_random = arch_random,
    .arch_grid = arch_grid,
    .strata = strata,
    .arch_to_stratum = arch_to_stratum,
    .arch_mutate = arch_mutate,
    .arch_crossover = arch_crossover,
    .arch_params = arch_params,
    .arch_macs = arch_macs,
    .model_read = ofa_gan_file_read,
    .model_write = ofa_gan_file_write,
    .model_free = model_free,
    .model_describe = model_describe,
    /* a ResNet CycleGAN's (models/gan/file.c) and a MobileResNet's (models/gan/super.c) */
    .model_dims = (const char *const[]){"ngf", "ndf", "n_blocks", "n_layers", "channels", "image_size", "class_a",
                                        "class_b", NULL},
    .model_config = model_config,
    .model_export = model_export,
    .data_open = data_open,
    .data_free = data_free,
    .data_size = data_size,
    .data_describe = data_describe,
    .data_fingerprint = data_fingerprint,
    .data_set_batch = data_set_batch,
    .data_epoch_order = data_epoch_order,
    .teacher_create = ofa_cg_teacher_create,
    .teacher_fingerprint = ofa_cg_teacher_fingerprint,
    .teacher_grads = ofa_cg_teacher_grads,
    .teacher_apply = ofa_cg_teacher_apply,
    .teacher_free = ofa_cg_teacher_free,
    .select_split = "val",
    .teacher_terms = ofa_cg_teacher_terms,
    .teacher_state_floats = ofa_cg_teacher_state_floats,
    .teacher_state_get = ofa_cg_teacher_state_get,
    .teacher_state_set = ofa_cg_teacher_state_set,
    .teacher_keys = {teacher_keys, student_keys, prune_keys},
    .student_stages = 1,
    .model_task = model_task,
    .distill_create = ofa_gan_distill_create,
    .distill_batch = ofa_gan_distill_batch,
    .distill_subnet = ofa_gan_distill_subnet,
    .distill_free = ofa_gan_distill_free,
    .supernet_student = ofa_gan_supernet_student,
    .score = score,
    .predict_write = predict_write,
    .outputs = outputs,
    .reorder = reorder,
    .reorder_write = reorder_write,
    .reorder_free = reorder_free,
    .grid_columns = grid_columns,
    .input_limit = input_limit,
    .signature = signature,
    .infer_create = infer_create,
    .infer_run = infer_run,
    .infer_free = infer_free,
    .table_ops_create = table_ops_create,
    .table_ops_count = table_ops_count,
    .table_op_key = table_op_key,
    .table_op_run = table_op_run,
    .table_ops_free = table_ops_free,
    .arch_ops = arch_ops,
    .run_prepare = run_prepare,
    .bench = ofa_cg_bench,
    .bench_works = bench_works,
};
