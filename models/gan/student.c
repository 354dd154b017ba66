/* models/gan/student: the student and prune stages' jobs (see student.h). */
#include "models/gan/student.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/runfiles.h"
#include "core/sys.h"
#include "models/gan/distill.h"
#include "models/gan/file.h"
#include "models/gan/prune.h"
#include "models/gan/super.h"
#include "nn/optim.h"

struct ofa_gs_job {
    int kind;
    const ofa_config *c;
    ofa_gan_mobile *s;      /* the model trained (the caller's ofa_model) */
    ofa_model frozen;       /* its teacher: teacher.h5's CycleGAN, or student.h5's MobileResNet */
    const ofa_data *train;
    ofa_gd *gd;
    float *a, *b;
    size_t px;
    double lambda[3];       /* gan, recon, distill */
    double keep;            /* prune.keep (the prune kind) */
};

const char *const ofa_gs_terms[] = {"G_gan", "recon", "distill", "D", NULL};

/* a model ofa_cyclegan_open opened, of either kind */
static void model_close(ofa_model *m)
{
    ofa_gan_mobile *g = ofa_gan_mobile_of(m);
    if (g) {
        ofa_gan_mobile_free(g);
        free(g);
        m->net = NULL, m->p = NULL;
    } else {
        ofa_cyclegan_close(m);
    }
}

static void frozen_free(ofa_gs_job *j)
{
    if (j->frozen.net) model_close(&j->frozen);
}

/* the previous stage's file, which must be of the expected generator kind and data */
static int open_frozen(ofa_gs_job *j, const char *file, int want_mobile)
{
    const ofa_config *c = j->c;
    char path[2 * OFA_PATH_MAX + 2];
    snprintf(path, sizeof path, "%s/%s", c->experiment.output_dir, file);
    const char *stage = want_mobile ? "student" : "teacher";
    if (!ofa_file_exists(path))
        return OFA_ERR(OFA_E_IO, "%s: no such file; the %s stage needs the %s stage's output first ('ofa %s %s')",
                       path, j->kind == OFA_TRAIN_STUDENT ? "student" : "prune", stage, stage, c->source);
    ofa_config stored;
    OFA_TRY(ofa_cyclegan_open(path, &j->frozen, &stored));
    const ofa_gan_mobile *m = ofa_gan_mobile_of(&j->frozen);
    int rc = 0;
    if (want_mobile != (m != NULL))
        rc = OFA_ERR(OFA_E_FORMAT, "%s: a %s file was expected, this one holds a %s", path,
                     want_mobile ? "MobileResNet (student stage)" : "CycleGAN (teacher stage)",
                     m ? "MobileResNet" : "CycleGAN");
    else if (m && !m->companions)
        rc = OFA_ERR(OFA_E_FORMAT, "%s: a MobileResNet without its student stage's discriminator (distill_ndf): "
                     "make it with 'ofa student %s'", path, c->source);
    if (rc == 0) {
        const ofa_cyclegan *cm = m ? NULL : ofa_cyclegan_of(&j->frozen);
        const int ca = m ? m->class_a : cm->class_a, cb = m ? m->class_b : cm->class_b,
                  S = m ? m->image_size : cm->image_size;
        if (ca != c->data.class_a || cb != c->data.class_b || S != c->data.image_size)
            rc = OFA_ERR(OFA_E_CONFIG, "%s holds classes %d -> %d at %d px; the config says data.class_a %d, "
                         "data.class_b %d, data.image_size %d", path, ca, cb, S, c->data.class_a, c->data.class_b,
                         c->data.image_size);
    }
    if (rc < 0) frozen_free(j);
    return rc;
}

/* student.init: a MobileResNet of the teacher's data and block count (the caller frees it) */
static int open_init(ofa_gs_job *j, ofa_model *init)
{
    const ofa_config *c = j->c;
    const char *path = c->student.init;
    const ofa_cyclegan *t = ofa_cyclegan_of(&j->frozen);
    if (!ofa_file_exists(path))
        return OFA_ERR(OFA_E_IO, "%s: no such file (student.init in %s)", path, ofa_config_origin(c, "student.init"));
    ofa_config stored;
    OFA_TRY(ofa_cyclegan_open(path, init, &stored));
    const ofa_gan_mobile *m = ofa_gan_mobile_of(init);
    int rc = 0;
    if (!m)
        rc = OFA_ERR(OFA_E_FORMAT, "%s (student.init): a CycleGAN of ResNet generators; the student starts from a "
                     "MobileResNet file (an exported subnet, student.h5 or pruned.h5)", path);
    else if (m->class_a != t->class_a || m->class_b != t->class_b || m->image_size != t->image_size ||
             m->g.channels != t->channels || m->g.n_blocks != t->n_blocks)
        rc = OFA_ERR(OFA_E_CONFIG, "%s (student.init) translates classes %d -> %d at %d px with %d blocks; the "
                     "teacher %d -> %d at %d px with %d", path, m->class_a, m->class_b, m->image_size, m->g.n_blocks,
                     t->class_a, t->class_b, t->image_size, t->n_blocks);
    if (rc < 0) model_close(init);
    return rc;
}

int ofa_gs_shape(const ofa_config *c, int n_blocks, int ngf, ofa_mobile_arch *shape)
{
    const int groups = n_blocks < 3 ? n_blocks : 3;
    if (groups < 1)
        return OFA_ERR(OFA_E_CONFIG, "%s: %d residual blocks; a MobileResNet student needs at least one", c->source,
                       n_blocks);
    if (!c->student.arch[0]) {
        ofa_mobile_shape_ngf(shape, c->student.ngf > 0 ? c->student.ngf : ngf, groups, c->student.kernel);
        return 0;
    }
    if (ofa_mobile_arch_parse(shape, c->student.arch) != 0) { /* a given shape, e.g. a search winner's */
        char why[512];
        snprintf(why, sizeof why, "%s", ofa_err_msg());
        return OFA_ERR(OFA_E_CONFIG, "%s: student.arch: %s", ofa_config_origin(c, "student.arch"), why);
    }
    if (shape->n_groups != groups)
        return OFA_ERR(OFA_E_CONFIG, "%s: student.arch '%s' has %d block groups; %d residual blocks make %d",
                       c->source, c->student.arch, shape->n_groups, n_blocks, groups);
    return 0;
}

/* student: MobileResnetGenerator(ngf), student.arch or student.init's net; fresh weights from the seed
 * or student.init's; D from the teacher's D_A (or student.init's); fresh maps */
static int make_student(ofa_gs_job *j)
{
    const ofa_config *c = j->c;
    OFA_TRY(open_frozen(j, OFA_RUN_TEACHER, 0));
    const ofa_cyclegan *t = ofa_cyclegan_of(&j->frozen);
    ofa_mobile_arch shape;
    ofa_model init = {0};
    if (c->student.init[0]) { /* fine-tuning: a given MobileResNet's shape and weights */
        if (c->student.arch[0])
            return OFA_ERR(OFA_E_CONFIG, "%s: student.init and student.arch are both set; the init file %s fixes "
                           "the shape (clear student.arch)", c->source, c->student.init);
        OFA_TRY(open_init(j, &init));
        shape = ofa_gan_mobile_of(&init)->g.shape;
    } else {
        OFA_TRY(ofa_gs_shape(c, t->n_blocks, t->ngf, &shape));
    }
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    ofa_gan_mobile_create(g, t->channels, t->image_size, t->n_blocks, &shape, t->class_a, t->class_b);
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)c->experiment.seed, 0x57d, 0);
    ofa_gan_init_convs(&g->g.p, &rng);
    const ofa_gan_mobile *from = init.net ? ofa_gan_mobile_of(&init) : NULL;
    if (from) {
        OFA_ASSERT(from->g.p.total == g->g.p.total);
        memcpy(g->g.p.data, from->g.p.data, g->g.p.total * sizeof(float));
    }
    /* the discriminator: the init file's when it has one of the teacher's shape, else the teacher's D_A */
    const int own_d = from && from->companions && from->ndf == t->ndf && from->n_layers == t->n_layers;
    ofa_gan_mobile_add_companions(g, t->ndf, t->n_layers, 4 * t->ngf, 0);
    memcpy(g->d.p.data, own_d ? from->d.p.data : t->net[OFA_CG_D_A].p.data, g->d.p.total * sizeof(float));
    ofa_gan_init_convs(&g->maps, &rng);
    j->s = g;
    if (init.net) model_close(&init);
    char text[OFA_MOBILE_ARCH_TEXT_MAX], start[OFA_PATH_MAX + 64] = "fresh weights";
    ofa_mobile_arch_print(&shape, text, sizeof text);
    if (c->student.init[0]) snprintf(start, sizeof start, "the weights of %s", c->student.init);
    OFA_INFO("student: MobileResNet %s (%.3fM parameters, %.2fM MACs) from %s, distilled from the teacher's G_A "
             "(ngf %d, %d blocks); discriminator from %s",
             text, (double)ofa_mobile_arch_params(g->g.channels, g->g.n_blocks, &shape) / 1e6,
             (double)ofa_mobile_arch_macs(g->g.channels, g->g.n_blocks, &shape, g->image_size, g->image_size) / 1e6,
             start, t->ngf, t->n_blocks, own_d ? "the init file's" : "the teacher's D_A");
    return 0;
}

/* prune: student.h5's generator L1-pruned, its D, fresh maps to the student's residual width */
static int make_pruned(ofa_gs_job *j)
{
    const ofa_config *c = j->c;
    OFA_TRY(open_frozen(j, OFA_RUN_STUDENT, 1));
    const ofa_gan_mobile *s = ofa_gan_mobile_of(&j->frozen);
    ofa_mobile_keep keep;
    ofa_mobile_keep_all(&keep, s->g.shape.n_groups, c->prune.keep);
    ofa_mobile_net p;
    OFA_TRY(ofa_mobile_prune(&p, &s->g, &keep));
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    ofa_gan_mobile_create(g, s->g.channels, s->image_size, s->g.n_blocks, &p.shape, s->class_a, s->class_b);
    OFA_ASSERT(g->g.p.total == p.p.total);
    memcpy(g->g.p.data, p.p.data, p.p.total * sizeof(float));
    ofa_mobile_net_free(&p);
    ofa_gan_mobile_add_companions(g, s->ndf, s->n_layers, s->g.shape.down2, 0);
    memcpy(g->d.p.data, s->d.p.data, g->d.p.total * sizeof(float));
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)c->experiment.seed, 0x9a7e, 0);
    ofa_gan_init_convs(&g->maps, &rng);
    j->s = g;
    char from[OFA_MOBILE_ARCH_TEXT_MAX], to[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch_print(&s->g.shape, from, sizeof from);
    ofa_mobile_arch_print(&g->g.shape, to, sizeof to);
    OFA_INFO("prune: the student %s (%.2fM MACs) pruned by L1 norm to %s (%.2fM MACs, keep %g), distilled from the "
             "unpruned student",
             from, (double)ofa_mobile_arch_macs(s->g.channels, s->g.n_blocks, &s->g.shape, s->image_size, s->image_size) / 1e6,
             to, (double)ofa_mobile_arch_macs(g->g.channels, g->g.n_blocks, &g->g.shape, g->image_size, g->image_size) / 1e6,
             c->prune.keep);
    return 0;
}

int ofa_gs_create(ofa_gs_job **out, int kind, const ofa_config *c, ofa_model *m, ofa_data **train_out,
                  ofa_data **dev_out)
{
    OFA_ASSERT(kind == OFA_TRAIN_STUDENT || kind == OFA_TRAIN_PRUNE);
    *out = NULL;
    const int S = c->data.image_size;
    ofa_data *train = NULL, *val = NULL;
    int rc = ofa_cyclegan_stage_data(c, &train, &val);
    ofa_gs_job *j = ofa_xcalloc(1, sizeof *j);
    j->kind = kind;
    j->c = c;
    j->train = train;
    if (kind == OFA_TRAIN_STUDENT) {
        j->lambda[0] = c->student.lambda_gan, j->lambda[1] = c->student.lambda_recon;
        j->lambda[2] = c->student.lambda_distill;
    } else {
        j->lambda[0] = c->prune.lambda_gan, j->lambda[1] = c->prune.lambda_recon, j->lambda[2] = c->prune.lambda_distill;
        j->keep = c->prune.keep;
    }
    if (rc == 0) rc = kind == OFA_TRAIN_STUDENT ? make_student(j) : make_pruned(j);
    if (rc < 0) {
        ofa_gs_free(j);
        ofa_cyclegan_data_free(train);
        ofa_cyclegan_data_free(val);
        return rc;
    }
    const int bmax = kind == OFA_TRAIN_STUDENT ? c->student.batch_size : c->prune.batch_size;
    const ofa_gan_mobile *fm = ofa_gan_mobile_of(&j->frozen);
    const ofa_gd_lambdas lam = {j->lambda[0], j->lambda[1], j->lambda[2]};
    j->gd = ofa_gd_create(&j->s->g, fm ? NULL : &ofa_cyclegan_of(&j->frozen)->net[OFA_CG_G_A], fm ? &fm->g : NULL,
                          &j->s->d, &j->s->maps, "", bmax, S, lam);
    j->px = (size_t)j->s->g.channels * S * S;
    j->a = ofa_xcalloc((size_t)bmax * j->px, sizeof(float));
    j->b = ofa_xcalloc((size_t)bmax * j->px, sizeof(float));
    ofa_gan_mobile_wrap(m, j->s);
    OFA_INFO("%s: %s; the best weights are chosen on %s", kind == OFA_TRAIN_STUDENT ? "student" : "prune", train->what,
             val->what);
    *train_out = train;
    *dev_out = val;
    *out = j;
    return 0;
}

void ofa_gs_fingerprint(const ofa_gs_job *j, char *buf, size_t n)
{
    char text[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch_print(&j->s->g.shape, text, sizeof text);
    snprintf(buf, n, "kind=%s images=%lld+%lld shape=%s ndf=%d layers=%d map_ct=%d gan=%.9g recon=%.9g distill=%.9g",
             j->kind == OFA_TRAIN_STUDENT ? "student" : "prune", (long long)j->train->a.n, (long long)j->train->b.n,
             text, j->s->ndf, j->s->n_layers, j->s->map_ct, j->lambda[0], j->lambda[1], j->lambda[2]);
    if (j->kind == OFA_TRAIN_PRUNE) {
        size_t k = strlen(buf);
        snprintf(buf + k, n - k, " keep=%.9g", j->keep);
    }
}

void ofa_gs_grads(ofa_gs_job *j, const int64_t *idx, int n, int total, double *loss, double *terms, double *tokens)
{
    ofa_params_zero_grad(&j->s->all);
    *tokens = n;
    for (int k = 0; k < 4; k++) terms[k] = 0;
    *loss = 0;
    if (n == 0) return;
    const ofa_data *d = j->train;
    for (int i = 0; i < n; i++) { /* item = ia * nB + ib (ofa_cg_epoch_order) */
        const int64_t ia = idx[i] / d->b.n, ib = idx[i] % d->b.n;
        memcpy(j->a + (size_t)i * j->px, d->a.x + (size_t)ia * j->px, j->px * sizeof(float));
        memcpy(j->b + (size_t)i * j->px, d->b.x + (size_t)ib * j->px, j->px * sizeof(float));
    }
    double L[4];
    ofa_gd_grads(j->gd, NULL, j->a, j->b, n, (double)n / (double)total, L);
    for (int k = 0; k < 4; k++) terms[k] = L[k];
    *loss = L[0] + L[1] + L[2] + L[3];
}

double ofa_gs_apply(ofa_gs_job *j, double lr, ofa_adamw *opt)
{
    double norm = ofa_grad_clip(&j->s->all, 0.0); /* the norm, for the log; no clipping (GAN Compression has none) */
    ofa_adamw_step(opt, &j->s->all, lr);
    return norm;
}

void ofa_gs_free(ofa_gs_job *j)
{
    if (!j) return;
    ofa_gd_free(j->gd);
    frozen_free(j);
    free(j->a), free(j->b);
    free(j);
}
