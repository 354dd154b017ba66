/* bench/student_distill: GAN Compression's steps 1 and 2 measured on a trained CycleGAN teacher, one
 * process: a MobileResNet student distilled from the teacher's G_A (A -> B), then L1-pruned to
 * --keep of every slot's channels and distilled from the unpruned student; FID (the project's
 * fidnet, against the real test images of class B) of the teacher, the student and the pruned
 * net before and after its distillation, with MACs, parameters and wall time of each phase.
 * The stages `student` and `prune` are to run this same step (models/gan/distill) inside the
 * teacher stage's data-parallel loop; until then this is how the figures of docs/results.md are made.
 *
 *   build/bench/student_distill --teacher RUN/teacher.h5 --fidnet RUN/fidnet.h5 [--ngf 8] [--kernel 3]
 *       [--steps 1000] [--prune-steps 500] [--keep 0.5] [--batch 4] [--lr 2e-4] [--lambda-distill 1]
 *       [--lambda-recon 10] [--lambda-gan 1] [--threads 1] [--seed 42] [--test-limit 0]
 *
 * Training as the teacher's: Adam betas (0.5, 0.999), constant lr, batches of the seeded epoch order
 * of the train split (train minus the held-out val images); the discriminator starts as the
 * teacher's D_A (it judges domain B), the maps N(0, 0.02) with zero bias, the student as the teacher
 * (conv weights N(0, 0.02), biases 0).  Prints one JSON line per net. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/sys.h"
#include "core/timer.h"
#include "models/gan/distill.h"
#include "models/gan/fidnet.h"
#include "models/gan/file.h"
#include "models/gan/model.h"
#include "models/gan/prune.h"
#include "models/gan/train.h"
#include "nn/optim.h"

typedef struct opts {
    const char *teacher, *fidnet;
    int ngf, kernel, batch, threads, seed;
    long steps, prune_steps, test_limit;
    double keep, lr, lg, lr_recon, ld;
} opts;

static int usage(const char *why)
{
    fprintf(stderr, "student_distill: %s\nusage: student_distill --teacher FILE --fidnet FILE [--ngf N] [--kernel 3|5] "
                    "[--steps N] [--prune-steps N] [--keep R] [--batch B] [--lr X] [--lambda-distill X] "
                    "[--lambda-recon X] [--lambda-gan X] [--threads T] [--seed S] [--test-limit N]\n", why);
    return 2;
}

static void init_normal(ofa_params *p, ofa_rng *rng)
{
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        if (v->ndim == 2) continue; /* 5to3 matrices: the identity */
        for (size_t j = 0; j < v->numel; j++)
            p->data[v->offset + j] = v->ndim == 4 ? (float)(0.02 * ofa_rng_normal(rng)) : 0.0f;
    }
}

/* FID of the images a translator makes from the test A images, against the test B images */
typedef struct evalset {
    const ofa_fidnet *net;
    const ofa_data *test;
    const char *dir;
    int cls_b, S;
} evalset;

static int fid_of(const evalset *e, const float *y, int64_t n, double *fid, double *share)
{
    return ofa_fidnet_fid_vs_class(e->net, y, n, 1, e->S, e->S, e->dir, "test", e->cls_b, e->cls_b, "", fid, share);
}

static int fid_mobile(const evalset *e, const ofa_mobile_net *g, double *fid, double *share)
{
    const int64_t n = e->test->a.n;
    const size_t px = (size_t)e->S * e->S;
    const int bs = 64;
    ofa_mobile_acts a;
    ofa_mobile_acts_create(&a, g, bs, e->S, e->S);
    float *y = ofa_xmalloc((size_t)n * px * sizeof(float));
    for (int64_t i = 0; i < n; i += bs) {
        int b = (int)(n - i < bs ? n - i : bs);
        memcpy(y + (size_t)i * px, ofa_mobile_forward(g, &a, NULL, e->test->a.x + (size_t)i * px, b),
               (size_t)b * px * sizeof(float));
    }
    int rc = fid_of(e, y, n, fid, share);
    free(y);
    ofa_mobile_acts_free(&a);
    return rc;
}

/* steps of distillation of s from (resnet | mobile) with discriminator d; returns the seconds */
static double distill(const opts *o, ofa_mobile_net *s, const ofa_gan_net *resnet, const ofa_mobile_net *mobile,
                      ofa_gan_net *d, const ofa_data *train, long steps, const char *tag, ofa_rng *rng)
{
    const int S = train->a.image_size, nb = s->n_blocks;
    int blocks[OFA_GD_TAPS_MAX];
    const int nt = ofa_gd_taps(nb, blocks);
    ofa_params maps;
    ofa_params_init(&maps);
    ofa_gd_maps_add(&maps, "", nt, s->shape.down2, resnet ? 4 * resnet->nf : mobile->shape.down2);
    ofa_params_alloc(&maps);
    init_normal(&maps, rng);
    ofa_gd_lambdas lam = {o->lg, o->lr_recon, o->ld};
    ofa_gd *g = ofa_gd_create(s, resnet, mobile, d, &maps, "", o->batch, S, lam);
    ofa_adamw os, od, om;
    ofa_adamw_init_ex(&os, 0.5, 0.999, 1e-8, 0);
    ofa_adamw_init_ex(&od, 0.5, 0.999, 1e-8, 0);
    ofa_adamw_init_ex(&om, 0.5, 0.999, 1e-8, 0);
    const int64_t na = train->a.n, nbb = train->b.n, per = na > nbb ? na : nbb;
    int64_t *order = ofa_xmalloc((size_t)per * sizeof *order);
    const size_t px = (size_t)S * S;
    float *a = ofa_xmalloc((size_t)o->batch * px * sizeof(float)), *b = ofa_xmalloc((size_t)o->batch * px * sizeof(float));
    const int64_t per_epoch = per / o->batch;
    double t0 = ofa_now(), sum[4] = {0};
    for (long step = 0; step < steps; step++) {
        if (step % per_epoch == 0) ofa_cg_epoch_order(train, order, rng);
        const int64_t *idx = order + (step % per_epoch) * o->batch;
        for (int i = 0; i < o->batch; i++) {
            memcpy(a + i * px, train->a.x + (size_t)(idx[i] / nbb) * px, px * sizeof(float));
            memcpy(b + i * px, train->b.x + (size_t)(idx[i] % nbb) * px, px * sizeof(float));
        }
        ofa_params_zero_grad(&s->p), ofa_params_zero_grad(&d->p), ofa_params_zero_grad(&maps);
        double L[4];
        ofa_gd_grads(g, NULL, a, b, o->batch, 1.0, L);
        ofa_adamw_step(&os, &s->p, o->lr), ofa_adamw_step(&od, &d->p, o->lr), ofa_adamw_step(&om, &maps, o->lr);
        for (int k = 0; k < 4; k++) sum[k] += L[k];
        if ((step + 1) % 100 == 0 || step + 1 == steps) {
            long n = (step % 100) + 1;
            fprintf(stderr, "%s: step %ld G_gan %.4f recon %.4f distill %.4f D %.4f  [%.0fs]\n", tag, step + 1,
                    sum[0] / n, sum[1] / n, sum[2] / n, sum[3] / n, ofa_now() - t0);
            memset(sum, 0, sizeof sum);
        }
    }
    double secs = ofa_now() - t0;
    free(order), free(a), free(b);
    ofa_gd_free(g);
    ofa_params_free(&maps);
    return secs;
}

static void report(const char *net, const char *arch, int64_t params, double macs, double fid, double base,
                   double share, double secs, long steps)
{
    printf("{\"net\":\"%s\",\"arch\":\"%s\",\"params\":%lld,\"macs\":%.0f,\"fid_AtoB\":%.4f,\"ratio_AtoB\":%.4f,"
           "\"class_AtoB\":%.4f,\"train_seconds\":%.1f,\"steps\":%ld}\n",
           net, arch, (long long)params, macs, fid, fid / base, share, secs, steps);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    opts o = {NULL, NULL, 8, 3, 4, 1, 42, 1000, 500, 0, 0.5, 2e-4, 1, 10, 1};
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage(argv[i]);
        const char *f = argv[i], *v = argv[++i];
        char *end = NULL;
        if (!strcmp(f, "--teacher")) o.teacher = v;
        else if (!strcmp(f, "--fidnet")) o.fidnet = v;
        else if (!strcmp(f, "--ngf")) o.ngf = (int)strtol(v, &end, 10);
        else if (!strcmp(f, "--kernel")) o.kernel = (int)strtol(v, &end, 10);
        else if (!strcmp(f, "--batch")) o.batch = (int)strtol(v, &end, 10);
        else if (!strcmp(f, "--threads")) o.threads = (int)strtol(v, &end, 10);
        else if (!strcmp(f, "--seed")) o.seed = (int)strtol(v, &end, 10);
        else if (!strcmp(f, "--steps")) o.steps = strtol(v, &end, 10);
        else if (!strcmp(f, "--prune-steps")) o.prune_steps = strtol(v, &end, 10);
        else if (!strcmp(f, "--test-limit")) o.test_limit = strtol(v, &end, 10);
        else if (!strcmp(f, "--keep")) o.keep = strtod(v, &end);
        else if (!strcmp(f, "--lr")) o.lr = strtod(v, &end);
        else if (!strcmp(f, "--lambda-gan")) o.lg = strtod(v, &end);
        else if (!strcmp(f, "--lambda-recon")) o.lr_recon = strtod(v, &end);
        else if (!strcmp(f, "--lambda-distill")) o.ld = strtod(v, &end);
        else return usage(f);
        if (end && *end) return usage(v);
    }
    if (!o.teacher || !o.fidnet) return usage("--teacher and --fidnet are required");
    if (o.ngf < 1 || (o.kernel != 3 && o.kernel != 5) || o.batch < 1 || o.steps < 0 || o.prune_steps < 0 ||
        !(o.keep > 0 && o.keep <= 1))
        return usage("--ngf >= 1, --kernel 3 or 5, --batch >= 1, --keep in (0, 1]");
    ofa_set_blas_threads(o.threads);
    ofa_model tm = {0};
    ofa_config cfg;
    ofa_data *train = NULL, *test = NULL;
    ofa_fidnet fnet;
    int rc = ofa_cyclegan_open(o.teacher, &tm, &cfg);
    if (rc == 0) rc = ofa_fidnet_read(&fnet, o.fidnet);
    if (rc < 0) {
        fprintf(stderr, "student_distill: %s\n", ofa_err_msg());
        return 1;
    }
    ofa_cyclegan *cm = ofa_cyclegan_of(&tm);
    const int S = cm->image_size, nb = cm->n_blocks;
    rc = ofa_cyclegan_data_open(&train, &cfg, cm->class_a, cm->class_b, S, OFA_SPLIT_TRAIN, 0);
    if (rc == 0) rc = ofa_cyclegan_data_open(&test, &cfg, cm->class_a, cm->class_b, S, OFA_SPLIT_TEST, o.test_limit);
    if (rc < 0) {
        fprintf(stderr, "student_distill: %s\n", ofa_err_msg());
        return 1;
    }
    evalset e = {&fnet, test, cfg.data.fmnist_dir, cm->class_b, S};
    const size_t px = (size_t)S * S;
    double base, fid, share;
    rc = fid_of(&e, test->a.x, test->a.n, &base, &share); /* the untranslated A images */
    float *y = ofa_xmalloc((size_t)test->a.n * px * sizeof(float));
    ofa_cyclegan_translate(cm, 0, test->a.x, test->a.n, 64, y, NULL);
    if (rc == 0) rc = fid_of(&e, y, test->a.n, &fid, &share);
    free(y);
    if (rc < 0) {
        fprintf(stderr, "student_distill: %s\n", ofa_err_msg());
        return 1;
    }
    /* the teacher's G_A: parameters and MACs as the family counts them */
    {
        ofa_gan_acts acts;
        const ofa_gan_net *ga = &cm->net[OFA_CG_G_A];
        ofa_gan_acts_create(&acts, ga, 1, S, S);
        double macs = 0;
        int64_t params = 0;
        for (int i = 0; i < ga->p.n; i++) params += (int64_t)ga->p.views[i].numel;
        for (int i = 0; i < acts.n_ops; i++) {
            const ofa_gan_op *op = &acts.ops[i];
            if (op->kind != OFA_GAN_OP_CONV && op->kind != OFA_GAN_OP_CONVT) continue;
            const ofa_gan_buf *out = &acts.buf[op->out], *in = &acts.buf[op->in];
            double pix = op->kind == OFA_GAN_OP_CONV ? (double)out->H * out->W : (double)in->H * in->W;
            macs += pix * (double)ga->p.views[op->w].numel;
        }
        ofa_gan_acts_free(&acts);
        char arch[64];
        snprintf(arch, sizeof arch, "resnet ngf%d-b%d", cm->ngf, nb);
        report("teacher", arch, params, macs, fid, base, share, 0, 0);
    }
    ofa_rng rng;
    ofa_rng_keyed(&rng, (uint64_t)o.seed, 11, 0);
    /* step 1: the student from the teacher's G_A, against a copy of D_A */
    ofa_mobile_arch shape;
    ofa_mobile_shape_ngf(&shape, o.ngf, nb < 3 ? nb : 3, o.kernel);
    ofa_mobile_net s;
    ofa_mobile_net_init(&s, 1, nb, &shape);
    init_normal(&s.p, &rng);
    ofa_gan_net d;
    ofa_gan_net_init(&d, OFA_GAN_DISCRIMINATOR, 1, cm->ndf, cm->n_layers);
    memcpy(d.p.data, cm->net[OFA_CG_D_A].p.data, d.p.total * sizeof(float));
    double secs = distill(&o, &s, &cm->net[OFA_CG_G_A], NULL, &d, train, o.steps, "student", &rng);
    char arch[OFA_MOBILE_ARCH_TEXT_MAX];
    rc = fid_mobile(&e, &s, &fid, &share);
    ofa_mobile_arch_print(&s.shape, arch, sizeof arch);
    if (rc == 0)
        report("student", arch, ofa_mobile_arch_params(1, nb, &s.shape), (double)ofa_mobile_arch_macs(1, nb, &s.shape, S, S),
               fid, base, share, secs, o.steps);
    /* step 2: L1 pruning, then distillation from the unpruned student */
    ofa_mobile_keep keep;
    ofa_mobile_keep_all(&keep, shape.n_groups, o.keep);
    ofa_mobile_net p = {0};
    if (rc == 0) rc = ofa_mobile_prune(&p, &s, &keep);
    if (rc == 0) rc = fid_mobile(&e, &p, &fid, &share);
    ofa_mobile_arch_print(&p.shape, arch, sizeof arch);
    const int64_t pp = ofa_mobile_arch_params(1, nb, &p.shape);
    const double pm = (double)ofa_mobile_arch_macs(1, nb, &p.shape, S, S);
    if (rc == 0) report("pruned_undistilled", arch, pp, pm, fid, base, share, 0, 0);
    if (rc == 0) secs = distill(&o, &p, NULL, &s, &d, train, o.prune_steps, "prune", &rng);
    if (rc == 0) rc = fid_mobile(&e, &p, &fid, &share);
    if (rc == 0) report("pruned", arch, pp, pm, fid, base, share, secs, o.prune_steps);
    if (rc < 0) fprintf(stderr, "student_distill: %s\n", ofa_err_msg());
    if (p.p.data) ofa_mobile_net_free(&p);
    ofa_mobile_net_free(&s);
    ofa_gan_net_free(&d);
    ofa_cyclegan_data_free(train), ofa_cyclegan_data_free(test);
    ofa_fidnet_free(&fnet);
    ofa_cyclegan_close(&tm);
    return rc < 0 ? 1 : 0;
}
