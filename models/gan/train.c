/* models/gan/train: the CycleGAN teacher step (see train.h). */
#include "models/gan/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "models/gan/student.h"
#include "models/gan/super.h"
#include "nn/nn.h"

enum { A = 0, B = 1 }; /* domains; pool[A] holds fakes of domain A (G_B's outputs) */

struct ofa_cg_trainer {
    ofa_cg_nets n;
    int bmax;
    size_t px;                /* floats per image */
    size_t patch;             /* discriminator outputs per image */
    double lc, li;
    ofa_gan_acts g[2][3];     /* per ResNet generator: its three applications of a step */
    ofa_mobile_acts mg[2][3]; /* the same for MobileResNet generators */
    ofa_gan_acts d[2];
    float *dfake[2], *dr, *tgt, *dpred, *fake_pool[2];
    float *pool[2];           /* [pool_size, px] each */
    int pool_n[2], pool_size;
};

static float *fzalloc(size_t n) { return ofa_xcalloc(n ? n : 1, sizeof(float)); }

ofa_cg_trainer *ofa_cg_trainer_create_nets(const ofa_cg_nets *nets, int bmax, double lambda_cycle,
                                           double lambda_identity, int pool_size)
{
    OFA_ASSERT(bmax >= 1 && pool_size >= 0);
    OFA_ASSERT((nets->res[0] && nets->res[1] && !nets->mob[0]) || (nets->mob[0] && nets->mob[1] && !nets->res[0]));
    ofa_cg_trainer *t = ofa_xcalloc(1, sizeof *t);
    t->n = *nets, t->bmax = bmax, t->lc = lambda_cycle, t->li = lambda_identity, t->pool_size = pool_size;
    const int S = nets->image_size;
    t->px = (size_t)nets->channels * S * S;
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 3; j++) {
            if (nets->mob[k]) ofa_mobile_acts_create(&t->mg[k][j], nets->mob[k], bmax, S, S);
            else ofa_gan_acts_create(&t->g[k][j], nets->res[k], bmax, S, S);
        }
        ofa_gan_acts_create(&t->d[k], nets->d[k], bmax, S, S);
    }
    int C, Ho, Wo;
    ofa_gan_out_shape(&t->d[0], &C, &Ho, &Wo);
    t->patch = (size_t)C * Ho * Wo;
    const size_t nb = (size_t)bmax * t->px;
    for (int k = 0; k < 2; k++) {
        t->dfake[k] = fzalloc(nb);
        t->fake_pool[k] = fzalloc(nb);
        t->pool[k] = fzalloc((size_t)(pool_size > 0 ? pool_size : 1) * t->px);
    }
    t->dr = fzalloc(nb);
    t->tgt = fzalloc((size_t)bmax * t->patch);
    t->dpred = fzalloc((size_t)bmax * t->patch);
    return t;
}

/* a CycleGAN's four nets */
static ofa_cg_nets nets_of(ofa_cyclegan *m)
{
    return (ofa_cg_nets){.res = {&m->net[OFA_CG_G_A], &m->net[OFA_CG_G_B]},
                         .d = {&m->net[OFA_CG_D_A], &m->net[OFA_CG_D_B]},
                         .all = &m->p,
                         .channels = m->channels,
                         .image_size = m->image_size};
}

ofa_cg_trainer *ofa_cg_trainer_create(ofa_cyclegan *m, int bmax, double lambda_cycle, double lambda_identity,
                                      int pool_size)
{
    const ofa_cg_nets n = nets_of(m);
    return ofa_cg_trainer_create_nets(&n, bmax, lambda_cycle, lambda_identity, pool_size);
}

void ofa_cg_trainer_free(ofa_cg_trainer *t)
{
    if (!t) return;
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 3; j++) {
            if (t->n.mob[k]) ofa_mobile_acts_free(&t->mg[k][j]);
            else ofa_gan_acts_free(&t->g[k][j]);
        }
        ofa_gan_acts_free(&t->d[k]);
        free(t->dfake[k]), free(t->fake_pool[k]), free(t->pool[k]);
    }
    free(t->dr), free(t->tgt), free(t->dpred);
    free(t);
}

/* generator k's application j: forward on n images x, and backward of dy (its input's gradient
 * into dx when given) */
static const float *gen_forward(ofa_cg_trainer *t, int k, int j, const float *x, int n)
{
    if (t->n.mob[k]) return ofa_mobile_forward(t->n.mob[k], &t->mg[k][j], NULL, x, n);
    return ofa_gan_forward(t->n.res[k], &t->g[k][j], x, n);
}

static void gen_backward(ofa_cg_trainer *t, int k, int j, const float *dy, float *dx)
{
    if (t->n.mob[k]) ofa_mobile_backward(t->n.mob[k], &t->mg[k][j], dy, dx);
    else ofa_gan_backward(t->n.res[k], &t->g[k][j], dy, dx);
}

/* MSE(D(img), target) of discriminator k on n images: forward, the loss, backward with dscale into
 * D's gradients and into dimg (NULL: not needed) */
static double lsgan(ofa_cg_trainer *t, int k, const float *img, int n, float target, double dscale, float *dimg)
{
    ofa_gan_net *d = t->n.d[k];
    const size_t cnt = (size_t)n * t->patch;
    const float *pred = ofa_gan_forward(d, &t->d[k], img, n);
    for (size_t i = 0; i < cnt; i++) t->tgt[i] = target, t->dpred[i] = 0;
    double l = nn_mse_f32(t->dpred, pred, t->tgt, (int64_t)cnt, dscale);
    ofa_gan_backward(d, &t->d[k], t->dpred, dimg);
    return l;
}

/* L1 term w * mean|x - ref| and its backward through generator k's application j (dx: the input's
 * gradient, NULL when the input is real data) */
static double l1_term(ofa_cg_trainer *t, int k, int j, const float *x, const float *ref, int n, double w, float *dx)
{
    const size_t cnt = (size_t)n * t->px;
    memset(t->dr, 0, cnt * sizeof(float));
    double l = w * nn_l1_f32(t->dr, x, ref, (int64_t)cnt, w);
    gen_backward(t, k, j, t->dr, dx);
    return l;
}

/* ImagePool.query of the public project, image by image: out = the images D trains on */
static void pool_query(ofa_cg_trainer *t, int k, const float *fake, int n, float *out, ofa_rng *rng)
{
    for (int i = 0; i < n; i++) {
        const float *img = fake + (size_t)i * t->px;
        float *o = out + (size_t)i * t->px;
        if (t->pool_size == 0) {
            memcpy(o, img, t->px * sizeof(float));
        } else if (t->pool_n[k] < t->pool_size) {
            memcpy(t->pool[k] + (size_t)t->pool_n[k]++ * t->px, img, t->px * sizeof(float));
            memcpy(o, img, t->px * sizeof(float));
        } else if (ofa_rng_uniform(rng) > 0.5f) {
            float *slot = t->pool[k] + ofa_rng_below(rng, (uint64_t)t->pool_size) * t->px;
            memcpy(o, slot, t->px * sizeof(float));
            memcpy(slot, img, t->px * sizeof(float));
        } else {
            memcpy(o, img, t->px * sizeof(float));
        }
    }
}

void ofa_cg_trainer_grads(ofa_cg_trainer *t, const float *ra, const float *rb, int n, double part, ofa_rng *rng,
                          double L[9])
{
    OFA_ASSERT(n >= 1 && n <= t->bmax);
    const double s = part; /* every batch mean scaled by this part's share */
    ofa_params_zero_grad(t->n.all);
    const size_t cnt = (size_t)n * t->px;
    /* forward: fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A), identities */
    const float *fake_b = gen_forward(t, A, 0, ra, n);
    const float *rec_a = gen_forward(t, B, 1, fake_b, n);
    const float *fake_a = gen_forward(t, B, 0, rb, n);
    const float *rec_b = gen_forward(t, A, 1, fake_a, n);
    const float *idt_a = gen_forward(t, A, 2, rb, n);
    const float *idt_b = gen_forward(t, B, 2, ra, n);
    memset(t->dfake[B], 0, cnt * sizeof(float));
    memset(t->dfake[A], 0, cnt * sizeof(float));
    /* the G step: D's gradients from it are discarded below */
    L[1] = s * lsgan(t, A, fake_b, n, 1.0f, s, t->dfake[B]); /* D_A judges domain B */
    L[2] = s * lsgan(t, B, fake_a, n, 1.0f, s, t->dfake[A]);
    L[3] = l1_term(t, B, 1, rec_a, ra, n, s * t->lc, t->dfake[B]);
    L[4] = l1_term(t, A, 1, rec_b, rb, n, s * t->lc, t->dfake[A]);
    L[5] = l1_term(t, A, 2, idt_a, rb, n, s * t->lc * t->li, NULL);
    L[6] = l1_term(t, B, 2, idt_b, ra, n, s * t->lc * t->li, NULL);
    gen_backward(t, B, 0, t->dfake[A], NULL);
    gen_backward(t, A, 0, t->dfake[B], NULL);
    L[0] = L[1] + L[2] + L[3] + L[4] + L[5] + L[6];
    /* the D step on detached fakes through the pools (fake_b, fake_a: still in G's arenas) */
    for (int k = 0; k < 2; k++) /* (a view of the shared buffer: its own range only) */
        memset(t->n.d[k]->p.grad, 0, t->n.d[k]->p.total * sizeof(float));
    pool_query(t, B, fake_b, n, t->fake_pool[B], rng);
    L[7] = 0.5 * s * (lsgan(t, A, rb, n, 1.0f, 0.5 * s, NULL) + lsgan(t, A, t->fake_pool[B], n, 0.0f, 0.5 * s, NULL));
    pool_query(t, A, fake_a, n, t->fake_pool[A], rng);
    L[8] = 0.5 * s * (lsgan(t, B, ra, n, 1.0f, 0.5 * s, NULL) + lsgan(t, B, t->fake_pool[A], n, 0.0f, 0.5 * s, NULL));
}

const float *ofa_cg_trainer_pooled(const ofa_cg_trainer *t, int domain)
{
    OFA_ASSERT(domain == A || domain == B);
    return t->fake_pool[domain];
}

/* ---- the teacher stage ---- */

struct ofa_teacher_job {
    ofa_gs_job *gs; /* the student and prune kinds (models/gan/student); NULL: a CycleGAN trained here */
    const ofa_config *c;
    ofa_cyclegan *cm;   /* the teacher: a CycleGAN of ResNet generators */
    ofa_gan_mobile *gm; /* or the plain-CycleGAN student (student.distill false): MobileResNets */
    ofa_params *all;    /* either's parameters */
    const ofa_data *train;
    ofa_cg_trainer *t;
    float *ra, *rb;
    double lambda_cycle, lambda_identity;
    int pool_size;
};

/* the teacher: CycleGAN(ngf, n_blocks, ndf, n_layers) from experiment.seed */
static void make_teacher(ofa_teacher_job *j, ofa_model *m, ofa_cg_nets *n)
{
    const ofa_config *c = j->c;
    ofa_cyclegan *cm = ofa_xcalloc(1, sizeof *cm);
    ofa_cyclegan_create(cm, 1, c->data.image_size, c->model.ngf, c->model.ndf, c->model.n_blocks, c->model.n_layers,
                        c->data.class_a, c->data.class_b);
    ofa_rng init_rng;
    ofa_rng_keyed(&init_rng, (uint64_t)c->experiment.seed, 0, 0);
    ofa_cyclegan_init_weights(cm, &init_rng);
    ofa_cyclegan_wrap(m, cm);
    int64_t np[OFA_CG_NETS] = {0};
    for (int k = 0; k < OFA_CG_NETS; k++)
        for (int i = 0; i < cm->net[k].p.n; i++) np[k] += (int64_t)cm->net[k].p.views[i].numel;
    OFA_INFO("teacher: generators ngf %d, %d blocks (%.3fM parameters each); discriminators ndf %d, %d layers "
             "(%.3fM); %dx%d images",
             c->model.ngf, c->model.n_blocks, (double)np[0] / 1e6, c->model.ndf, c->model.n_layers, (double)np[2] / 1e6,
             c->data.image_size, c->data.image_size);
    j->cm = cm, j->all = &cm->p;
    *n = nets_of(cm);
}

/* the plain-CycleGAN student: two MobileResNets of student.arch (else MobileResnetGenerator(student.ngf
 * or model.ngf, student.kernel) on model.n_blocks) and two PatchGANs (model.ndf, n_layers), conv
 * weights N(0, 0.02) from experiment.seed, no teacher */
static int make_cycle_student(ofa_teacher_job *j, ofa_model *m, ofa_cg_nets *n)
{
    const ofa_config *c = j->c;
    if (c->student.init[0])
        return OFA_ERR(OFA_E_CONFIG, "%s: student.init (%s) is for a distilled student; the plain CycleGAN of "
                       "student.distill false trains from scratch", c->source, c->student.init);
    ofa_mobile_arch shape;
    OFA_TRY(ofa_gs_shape(c, c->model.n_blocks, c->model.ngf, &shape));
    ofa_gan_mobile *g = ofa_xcalloc(1, sizeof *g);
    ofa_gan_mobile_create(g, 1, c->data.image_size, c->model.n_blocks, &shape, c->data.class_a, c->data.class_b);
    ofa_gan_mobile_add_companions(g, c->model.ndf, c->model.n_layers, 0, 1);
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)c->experiment.seed, 0x57d, 0);
    ofa_gan_init_convs(&g->all, &rng);
    ofa_gan_mobile_wrap(m, g);
    char text[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch_print(&shape, text, sizeof text);
    OFA_INFO("student: a plain CycleGAN of two MobileResNets %s (%.3fM parameters, %.2fM MACs each) and two "
             "discriminators (ndf %d, %d layers) from scratch, no teacher (student.distill false)",
             text, (double)ofa_mobile_arch_params(1, c->model.n_blocks, &shape) / 1e6,
             (double)ofa_mobile_arch_macs(1, c->model.n_blocks, &shape, c->data.image_size, c->data.image_size) / 1e6,
             c->model.ndf, c->model.n_layers);
    j->gm = g, j->all = &g->all;
    *n = (ofa_cg_nets){.mob = {&g->g, &g->g_b},
                       .d = {&g->d, &g->d_b},
                       .all = &g->all,
                       .channels = 1,
                       .image_size = c->data.image_size};
    return 0;
}

int ofa_cg_teacher_create(ofa_teacher_job **out, int kind, const ofa_config *c, ofa_model *m, ofa_data **train_out,
                          ofa_data **dev_out)
{
    const int cycle_student = kind == OFA_TRAIN_STUDENT && !c->student.distill;
    if (kind != OFA_TRAIN_TEACHER && !cycle_student) {
        ofa_teacher_job *j = ofa_xcalloc(1, sizeof *j);
        j->c = c;
        int rc = ofa_gs_create(&j->gs, kind, c, m, train_out, dev_out);
        if (rc < 0) free(j);
        else *out = j;
        return rc;
    }
    if (c->model.init[0])
        return OFA_ERR(OFA_E_CONFIG, "%s: model.init is for the bert family; a cyclegan student starts from a file "
                       "with student.init", c->source);
    ofa_data *train = NULL, *val = NULL;
    OFA_TRY(ofa_cyclegan_stage_data(c, &train, &val));
    ofa_teacher_job *j = ofa_xcalloc(1, sizeof *j);
    j->c = c;
    j->train = train;
    j->lambda_cycle = c->teacher.lambda_cycle, j->lambda_identity = c->teacher.lambda_identity;
    j->pool_size = c->teacher.pool_size;
    ofa_cg_nets nets;
    int rc = 0;
    if (cycle_student) rc = make_cycle_student(j, m, &nets);
    else make_teacher(j, m, &nets);
    if (rc < 0) {
        free(j);
        ofa_cyclegan_data_free(train);
        ofa_cyclegan_data_free(val);
        return rc;
    }
    OFA_INFO("cyclegan %s (%s) <-> %s (%s): %s; the %s is chosen on %s", ofa_fmnist_class_name(c->data.class_a), "A",
             ofa_fmnist_class_name(c->data.class_b), "B", train->what, cycle_student ? "student" : "teacher",
             val->what);
    const int bs = cycle_student ? c->student.batch_size : c->teacher.batch_size;
    j->t = ofa_cg_trainer_create_nets(&nets, bs, j->lambda_cycle, j->lambda_identity, j->pool_size);
    j->ra = fzalloc((size_t)bs * j->t->px);
    j->rb = fzalloc((size_t)bs * j->t->px);
    *train_out = train;
    *dev_out = val;
    *out = j;
    return 0;
}

void ofa_cg_teacher_fingerprint(const ofa_teacher_job *j, char *buf, size_t n)
{
    if (j->gs) {
        ofa_gs_fingerprint(j->gs, buf, n);
        return;
    }
    const ofa_config *c = j->c;
    char shape[OFA_MOBILE_ARCH_TEXT_MAX + 128];
    if (j->gm) {
        char text[OFA_MOBILE_ARCH_TEXT_MAX];
        ofa_mobile_arch_print(&j->gm->g.shape, text, sizeof text);
        snprintf(shape, sizeof shape, "kind=student-cycle shape=%s blocks=%d ndf=%d layers=%d", text,
                 j->gm->g.n_blocks, j->gm->ndf, j->gm->n_layers);
    } else {
        snprintf(shape, sizeof shape, "ngf=%d ndf=%d blocks=%d layers=%d", j->cm->ngf, j->cm->ndf, j->cm->n_blocks,
                 j->cm->n_layers);
    }
    snprintf(buf, n, "images=%lld+%lld classes=%d,%d S=%d %s cycle=%.9g identity=%.9g pool=%d decay_epochs=%.9g",
             (long long)j->train->a.n, (long long)j->train->b.n, c->data.class_a, c->data.class_b, c->data.image_size,
             shape, j->lambda_cycle, j->lambda_identity, j->pool_size,
             j->gm ? c->student.decay_epochs : c->teacher.decay_epochs);
}

void ofa_cg_epoch_order(const ofa_data *d, int64_t *order, ofa_rng *rng)
{
    const int64_t na = d->a.n, nb = d->b.n, n = na > nb ? na : nb;
    int64_t *pa = ofa_xmalloc((size_t)na * sizeof *pa), *pb = ofa_xmalloc((size_t)nb * sizeof *pb);
    for (int64_t i = 0; i < na; i++) pa[i] = i;
    for (int64_t i = 0; i < nb; i++) pb[i] = i;
    for (int64_t i = na - 1; i > 0; i--) {
        int64_t k = (int64_t)ofa_rng_below(rng, (uint64_t)i + 1), x = pa[i];
        pa[i] = pa[k], pa[k] = x;
    }
    for (int64_t i = nb - 1; i > 0; i--) {
        int64_t k = (int64_t)ofa_rng_below(rng, (uint64_t)i + 1), x = pb[i];
        pb[i] = pb[k], pb[k] = x;
    }
    for (int64_t k = 0; k < n; k++) order[k] = pa[k % na] * nb + pb[k % nb];
    free(pa), free(pb);
}

void ofa_cg_teacher_grads(ofa_teacher_job *j, const int64_t *idx, int n, int total, ofa_rng *rng, double *loss,
                          double *terms, double *tokens)
{
    if (j->gs) {
        ofa_gs_grads(j->gs, idx, n, total, loss, terms, tokens);
        return;
    }
    const ofa_data *d = j->train;
    const size_t px = j->t->px;
    *loss = 0;
    *tokens = n;
    memset(terms, 0, OFA_TEACHER_TERMS * sizeof *terms);
    if (n == 0) {
        ofa_params_zero_grad(j->all);
        return;
    }
    for (int i = 0; i < n; i++) {
        const int64_t ia = idx[i] / d->b.n, ib = idx[i] % d->b.n;
        memcpy(j->ra + (size_t)i * px, d->a.x + (size_t)ia * px, px * sizeof(float));
        memcpy(j->rb + (size_t)i * px, d->b.x + (size_t)ib * px, px * sizeof(float));
    }
    double L[9];
    ofa_cg_trainer_grads(j->t, j->ra, j->rb, n, (double)n / (double)total, rng, L);
    *loss = L[0] + L[7] + L[8];
    for (int k = 0; k < 9; k++) terms[k] = L[k];
}

double ofa_cg_teacher_apply(ofa_teacher_job *j, double lr, ofa_adamw *opt)
{
    if (j->gs) return ofa_gs_apply(j->gs, lr, opt);
    double norm = ofa_grad_clip(j->all, 0.0); /* the norm, for the log; CycleGAN does not clip */
    ofa_adamw_step(opt, j->all, lr);
    return norm;
}

static const char *const cycle_terms[] = {"G", "G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B",
                                          NULL};

const char *const *ofa_cg_teacher_terms(const ofa_teacher_job *j)
{
    return j->gs ? ofa_gs_terms : cycle_terms;
}

/* the state: per domain, the count then pool_size images */
size_t ofa_cg_teacher_state_floats(const ofa_teacher_job *j)
{
    if (j->gs) return 0; /* no image pool */
    return j->t->pool_size ? 2 * (1 + (size_t)j->t->pool_size * j->t->px) : 0;
}

void ofa_cg_teacher_state_get(const ofa_teacher_job *j, float *buf)
{
    const ofa_cg_trainer *t = j->t;
    if (!t->pool_size) return;
    for (int k = 0; k < 2; k++) {
        float *o = buf + (size_t)k * (1 + (size_t)t->pool_size * t->px);
        o[0] = (float)t->pool_n[k];
        memcpy(o + 1, t->pool[k], (size_t)t->pool_size * t->px * sizeof(float));
    }
}

void ofa_cg_teacher_state_set(ofa_teacher_job *j, const float *buf)
{
    ofa_cg_trainer *t = j->t;
    for (int k = 0; k < 2; k++) {
        if (!buf || !t->pool_size) {
            t->pool_n[k] = 0;
            continue;
        }
        const float *o = buf + (size_t)k * (1 + (size_t)t->pool_size * t->px);
        int cnt = (int)o[0];
        t->pool_n[k] = cnt >= 0 && cnt <= t->pool_size ? cnt : 0;
        memcpy(t->pool[k], o + 1, (size_t)t->pool_size * t->px * sizeof(float));
    }
}

void ofa_cg_teacher_free(ofa_teacher_job *j)
{
    if (!j) return;
    if (j->gs) {
        ofa_gs_free(j->gs);
        free(j);
        return;
    }
    ofa_cg_trainer_free(j->t);
    free(j->ra), free(j->rb);
    free(j);
}
