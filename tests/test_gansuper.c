/* tests/test_gansuper: the cyclegan family's MobileResNet supernet (models/gan/super.h).
 *
 *  - space: supernet.space's slot lists as a space; arch text round trip; archs outside it rejected;
 *    the sampler's archs inside it; smallest/largest per elastic mask.
 *  - distill_grad: the distiller's gradient on a subnet with 3x3 choices of stored 5x5 kernels
 *    (through the 5to3 matrices) against central finite differences of its own loss, at the largest
 *    gradient entry of every tensor; tensors and slices the subnet does not use get exactly 0;
 *    distill_grad_gan the same with GAN Compression's whole step (supernet.distill.lambda_gan and
 *    lambda_feature: the companions), the generator's and the maps' gradients of its loss.
 *  - export: the exported standalone generator (model_export, then written and read back) translates
 *    like the supernet's subnet (1e-5).
 *  - stage (needs Fashion-MNIST): ofa run (fidnet, teacher, student, prune), ofa supernet with the
 *    GAN and feature terms; SIGKILLed after a checkpoint then resumed == uninterrupted, bitwise;
 *    mpirun -n 3 and -n 4 with an evaluator == one process (1e-5 over 3 steps); ofa search
 *    writes a front of FIDs (lower better) and exported winners, which ofa eval, export --arch,
 *    latency, inspect and translate read.
 */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/h5io.h"
#include "models/gan/model.h"
#include "models/gan/super.h"
#include "models/registry.h"
#include "tests/testutil.h"

static const char *fmnist_dir(void)
{
    const char *dir = getenv("FMNIST_DIR");
    if (!dir || !*dir) dir = "/usr/share/datasets/fashion-mnist";
    char probe[1200];
    snprintf(probe, sizeof probe, "%s/train-labels-idx1-ubyte.gz", dir);
    return access(probe, R_OK) == 0 ? dir : NULL;
}

static void fill(ofa_params *p, uint64_t seed, double sd)
{
    ofa_rng r;
    ofa_rng_keyed(&r, seed, 1, 2);
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        size_t len = strlen(v->name);
        int mat = len > 12 && !strcmp(v->name + len - 12, ".5to3_matrix");
        for (size_t j = 0; j < v->numel; j++) /* matrices: identity + noise, so the transform matters */
            p->data[v->offset + j] = (float)((mat && j % 10 == 0 ? 1.0 : 0.0) + sd * ofa_rng_normal(&r));
    }
}

/* the space of a config text on a supernet of shape c2.4.8-b8.8.8-k5.5.5-u4.2, 3 blocks */
static const char *SPACE_YAML =
    "supernet:\n  space: {stem: [2, 1], down1: [2, 4], down2: [4, 8], blocks: [4, 8], up1: [2, 4], up2: [1, 2], "
    "kernel: [5, 3]}\n";

static void make_super(ofa_model *m, uint64_t seed)
{
    ofa_mobile_arch shape;
    CU_ASSERT_EQUAL_FATAL(ofa_mobile_arch_parse(&shape, "c2.4.8-b8.8.8-k5.5.5-u4.2"), 0);
    ofa_gan_mobile *g = calloc(1, sizeof *g);
    ofa_gan_mobile_create(g, 1, 32, 3, &shape, 7, 9);
    fill(&g->g.p, seed, 0.2);
    ofa_gan_mobile_wrap(m, g);
}

static void test_space(void)
{
    ofa_config c;
    ofa_config_defaults(&c);
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c, SPACE_YAML, strlen(SPACE_YAML), "space.yaml", NULL, 0), 0);
    ofa_model m = {0};
    make_super(&m, 1);
    const ofa_family *f = ofa_model_family(&m);
    ofa_space s;
    CU_ASSERT_EQUAL_FATAL(f->space_from_config(&s, &c, &m, "space.yaml"), 0);
    CU_ASSERT(s.u.gan.mobile && s.u.gan.m.stem.n == 2 && s.u.gan.m.stem.v[0] == 1 && s.u.gan.m.kernel.n == 2 &&
              s.u.gan.m.kernel.v[0] == 3);
    ofa_arch a;
    char text[200];
    CU_ASSERT_EQUAL(f->arch_parse(&a, "c1.4.8-b4.8.4-k3.5.3-u2.1", &s), 0);
    CU_ASSERT_EQUAL(f->arch_check(&a, &s), 0);
    f->arch_print(&a, &s, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "c1.4.8-b4.8.4-k3.5.3-u2.1");
    /* a width that is not a choice (3), and a malformed text */
    CU_ASSERT_EQUAL(f->arch_parse(&a, "c1.4.8-b4.8.4-k3.5.3-u3.1", &s), 0);
    CU_ASSERT(f->arch_check(&a, &s) < 0);
    ofa_err_clear();
    CU_ASSERT(f->arch_parse(&a, "ngf16-b6", &s) < 0);
    ofa_err_clear();
    /* a choice above the stored width is a config error naming the key */
    const char *bad = "supernet: {space: {down2: [4, 16]}}\n";
    ofa_config c2;
    ofa_config_defaults(&c2);
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c2, bad, strlen(bad), "bad.yaml", NULL, 0), 0);
    ofa_space s2;
    CU_ASSERT(f->space_from_config(&s2, &c2, &m, "bad.yaml") < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "supernet.space.down2"));
    ofa_err_clear();
    /* sampling stays inside; width-only elastic keeps the largest kernels */
    ofa_rng r;
    ofa_rng_keyed(&r, 3, 0, 0);
    int saw_small = 0;
    for (int i = 0; i < 200; i++) {
        f->arch_random(&a, &s, OFA_ELASTIC_WIDTH, &r);
        CU_ASSERT_EQUAL(f->arch_check(&a, &s), 0);
        CU_ASSERT(a.u.gan.m.kernel[0] == 5 && a.u.gan.m.kernel[2] == 5);
        saw_small |= a.u.gan.m.stem == 1;
        ofa_arch b;
        f->arch_mutate(&b, &a, &s, OFA_ELASTIC_ALL, 0.5, &r);
        CU_ASSERT_EQUAL(f->arch_check(&b, &s), 0);
    }
    CU_ASSERT(saw_small);
    f->arch_smallest(&a, &s, OFA_ELASTIC_WIDTH);
    f->arch_print(&a, &s, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "c1.2.4-b4.4.4-k5.5.5-u2.1");
    f->arch_smallest(&a, &s, OFA_ELASTIC_ALL);
    f->arch_print(&a, &s, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "c1.2.4-b4.4.4-k3.3.3-u2.1");
    /* cost: the largest arch = the stored net's parameters (its 5to3 matrices aside) */
    f->arch_largest(&a, &s);
    int64_t np = 0;
    for (int i = 0; i < m.p->n; i++)
        if (!strstr(m.p->views[i].name, "5to3")) np += (int64_t)m.p->views[i].numel;
    CU_ASSERT_EQUAL(f->arch_params(&m, &a), np);
    CU_ASSERT(f->arch_macs(&m, &a, 0) > 0);
    f->model_free(&m);
}

/* The distiller's gradient of a subnet against finite differences: output L1 only, or (companions)
 * GAN Compression's whole step, whose generator loss (GAN + L1 + features) is what distill_subnet
 * returns; its discriminator follows loss_D, so its views are not checked here (suite gan_distill
 * checks the step, discriminator included, against PyTorch). */
static void distill_grad_case(int companions)
{
    const char *dir = fmnist_dir();
    if (!dir) {
        printf("\n  [skip] no Fashion-MNIST\n");
        return;
    }
    char yaml[1400];
    snprintf(yaml, sizeof yaml, "data: {fmnist_dir: '%s', train_limit: 8}\nmodel: {type: cyclegan}\n%s"
             "  batch_size: 2\n  distill: {lambda_logit: 10.0, lambda_gan: %d, lambda_feature: %d}\n", dir, SPACE_YAML,
             companions, 2 * companions);
    ofa_config c;
    ofa_config_defaults(&c);
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c, yaml, strlen(yaml), "d.yaml", NULL, 0), 0);
    /* teacher: a small random CycleGAN (3 blocks as the student when the features are tapped);
     * student: the supernet */
    ofa_cyclegan *cm = calloc(1, sizeof *cm);
    ofa_cyclegan_create(cm, 1, 32, 2, 2, companions ? 3 : 1, 2, 7, 9);
    ofa_rng r;
    ofa_rng_keyed(&r, 11, 0, 0);
    ofa_cyclegan_init_weights(cm, &r);
    ofa_model t = {0}, m = {0};
    ofa_cyclegan_wrap(&t, cm);
    make_super(&m, 2);
    if (companions) {
        ofa_gan_mobile *g = ofa_gan_mobile_of(&m);
        ofa_gan_mobile_add_companions(g, 2, 2, 4 * 2, 0);
        fill(&g->d.p, 3, 0.2);
        fill(&g->maps, 4, 0.2);
        ofa_gan_mobile_wrap(&m, g);
    }
    const ofa_family *f = ofa_model_family(&m);
    ofa_data *train = NULL;
    CU_ASSERT_EQUAL_FATAL(f->data_open(&train, &c, &t, OFA_SPLIT_TRAIN, 8), 0);
    ofa_distiller *d = NULL;
    CU_ASSERT_EQUAL_FATAL(f->distill_create(&d, &c, &t, &m, train), 0);
    const int64_t idx[2] = {3 * train->b.n + 1, 5 * train->b.n + 2};
    f->distill_batch(d, idx, 2);
    int n = 0;
    const float *target = NULL, *x = ofa_gan_distill_inputs(d, &target, &n);
    CU_ASSERT(n == 2 && !memcmp(x, train->a.x + 3 * 1024, 1024 * sizeof(float)));
    ofa_space s;
    CU_ASSERT_EQUAL_FATAL(f->space_from_config(&s, &c, &m, "d.yaml"), 0);
    ofa_arch a;
    CU_ASSERT_EQUAL_FATAL(f->arch_parse(&a, "c1.4.8-b4.8.4-k3.5.3-u2.1", &s), 0);
    ofa_params *p = m.p;
    ofa_params_zero_grad(p);
    double tok = 0;
    const double L0 = f->distill_subnet(d, &a, NULL, &tok);
    CU_ASSERT(L0 > 0 && tok == 2);
    float *g = malloc(p->total * sizeof(float));
    memcpy(g, p->grad, p->total * sizeof(float));
    /* outside the subnet: the stem's second filter, block 0's hidden channels 4..7 */
    /* (the generator's views: its table is the first of m.p's, at offset 0, with companions too) */
    const ofa_params *gp = &ofa_gan_mobile_of(&m)->g.p;
    CU_ASSERT_FATAL(gp->data == p->data);
    const ofa_pview *stem = &gp->views[ofa_params_find(gp, "model.1.weight")];
    for (size_t j = 49; j < 98; j++) CU_ASSERT_EQUAL(g[stem->offset + j], 0.0f);
    const ofa_pview *pw = &gp->views[ofa_params_find(gp, "model.10.conv_block.1.conv.2.weight")];
    for (size_t j = 4 * 8; j < 8 * 8; j++) CU_ASSERT_EQUAL(g[pw->offset + j], 0.0f);
    /* finite differences at each tensor's largest gradient entry (weights of scale 0.2).  The loss
     * is an L1 of float outputs through instance norms: the normalized error falls with eps
     * (measured 0.019 at eps 5e-3, 0.0093 at 1e-3, 0.0063 at 5e-4: curvature and |.| kinks, not the
     * gradient), so 2% at eps 5e-4 passes the right gradient and fails a wrong scale or slice. */
    enum { MAXC = 128 };
    float an[MAXC], fd[MAXC];
    int nc = 0;
    const float eps = 5e-4f;
    for (int i = 0; i < p->n && nc < MAXC; i++) {
        const ofa_pview *v = &p->views[i];
        if (!strncmp(v->name, "D/", 2)) continue;
        size_t best = 0;
        float bg = 0;
        for (size_t j = 0; j < v->numel; j++)
            if (fabsf(g[v->offset + j]) > bg) bg = fabsf(g[v->offset + j]), best = j;
        if (bg == 0) continue;
        /* a conv bias before an instance norm has a zero gradient up to rounding: nothing to check */
        if (bg < 1e-5f) continue;
        float *w = p->data + v->offset + best, w0 = *w;
        *w = w0 + eps;
        double lp = f->distill_subnet(d, &a, NULL, &tok);
        *w = w0 - eps;
        double lm = f->distill_subnet(d, &a, NULL, &tok);
        *w = w0;
        an[nc] = g[v->offset + best];
        fd[nc] = (float)((lp - lm) / (2.0 * eps));
        nc++;
    }
    double err = tu_norm_err(an, fd, (size_t)nc);
    fprintf(stderr, "(%s: %d entries, normalized error %.2g) ", companions ? "GAN + L1 + features" : "L1", nc, err);
    CU_ASSERT(nc >= (companions ? 22 : 20));
    CU_ASSERT(err < 2e-2);
    free(g);
    f->distill_free(d);
    f->data_free(train);
    f->model_free(&m);
    ofa_cyclegan_close(&t);
}

static void test_distill_grad(void) { distill_grad_case(0); }
static void test_distill_grad_gan(void) { distill_grad_case(1); }

static void test_export(void)
{
    ofa_model m = {0}, e = {0}, r = {0};
    make_super(&m, 4);
    const ofa_family *f = ofa_model_family(&m);
    ofa_config c;
    ofa_config_defaults(&c);
    CU_ASSERT_EQUAL_FATAL(ofa_config_parse(&c, SPACE_YAML, strlen(SPACE_YAML), "space.yaml", NULL, 0), 0);
    ofa_space s;
    CU_ASSERT_EQUAL_FATAL(f->space_from_config(&s, &c, &m, "space.yaml"), 0);
    ofa_arch a;
    CU_ASSERT_EQUAL_FATAL(f->arch_parse(&a, "c1.4.4-b4.8.4-k3.5.3-u2.1", &s), 0);
    CU_ASSERT_EQUAL_FATAL(f->model_export(&e, &m, &a), 0);
    /* through the file */
    const char *path = tu_path("gansuper_export.h5");
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_create(&h, path), 0);
    CU_ASSERT_EQUAL_FATAL(f->model_write(&e, &h), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_commit(&h), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, path), 0);
    CU_ASSERT_EQUAL_FATAL(f->model_read(&r, &h, path), 0);
    ofa_h5_close(&h);
    const ofa_gan_mobile *gs = ofa_gan_mobile_of(&m), *gr = ofa_gan_mobile_of(&r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gr);
    char text[200];
    ofa_mobile_arch_print(&gr->g.shape, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "c1.4.4-b4.8.4-k3.5.3-u2.1");
    CU_ASSERT_EQUAL(gr->class_a, 7);
    CU_ASSERT_EQUAL(f->arch_params(&r, &(ofa_arch){.family = OFA_FAMILY_GAN, .u.gan = {.mobile = 1, .m = gr->g.shape}}),
                    f->arch_params(&m, &a));
    enum { N = 3, PX = 32 * 32 };
    float *x = malloc(N * PX * sizeof(float)), *y1 = malloc(N * PX * sizeof(float)), *y2 = malloc(N * PX * sizeof(float));
    ofa_rng rng;
    ofa_rng_keyed(&rng, 9, 0, 0);
    for (int i = 0; i < N * PX; i++) x[i] = 2 * ofa_rng_uniform(&rng) - 1;
    ofa_gan_mobile_translate(gs, &a.u.gan.m, x, N, 2, y1);
    ofa_gan_mobile_translate(gr, NULL, x, N, 2, y2);
    double worst = 0;
    for (int i = 0; i < N * PX; i++) worst = fmax(worst, fabs((double)y1[i] - y2[i]));
    fprintf(stderr, "(max |exported - subnet| %.2g) ", worst);
    CU_ASSERT(worst <= 1e-5);
    free(x), free(y1), free(y2);
    f->model_free(&m), f->model_free(&e), f->model_free(&r);
}

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

typedef struct cmp_ctx {
    ofa_h5 *a, *b;
    double worst;
    int bitwise, count, skip_norm_bias;
} cmp_ctx;

/* every conv of the MobileResNet but the last is followed by an instance norm: its bias has a zero
 * gradient up to rounding, which Adam turns into steps of ~lr that differ with the summation order
 * of the ranks (as suite gan_family says of the teacher); those are not compared across rank counts */
static int cmp_one(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    cmp_ctx *c = ctx;
    if (c->skip_norm_bias && strstr(name, ".bias") && !strstr(name, "model.20.bias")) return 0;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *x = malloc(n * sizeof(float) + 1), *y = malloc(n * sizeof(float) + 1);
    int rc = ofa_h5_read_f32(c->a, name, x, ndim, shape) | ofa_h5_read_f32(c->b, name, y, ndim, shape);
    if (rc == 0) {
        c->worst = fmax(c->worst, tu_norm_err(x, y, n));
        if (memcmp(x, y, n * sizeof(float))) c->bitwise = 0;
        c->count++;
    }
    free(x), free(y);
    return rc;
}

static int compare(const char *fa, const char *fb, int skip_norm_bias, double *worst, int *bitwise)
{
    ofa_h5 a, b;
    if (ofa_h5_open(&a, fa) < 0) return -1;
    if (ofa_h5_open(&b, fb) < 0) {
        ofa_h5_close(&a);
        return -1;
    }
    cmp_ctx c = {&a, &b, 0, 1, 0, skip_norm_bias};
    int rc = ofa_h5_visit(&a, "weights/G_A", cmp_one, &c);
    ofa_h5_close(&a), ofa_h5_close(&b);
    *worst = c.worst, *bitwise = c.bitwise;
    return rc < 0 || c.count < 10 ? -1 : 0;
}

static void test_stage(void)
{
    const char *dir = fmnist_dir(), *bin = getenv("OFA_BIN") ? getenv("OFA_BIN") : "build/ofa";
    if (!dir) {
        printf("\n  [skip] no Fashion-MNIST\n");
        return;
    }
    if (tu_quick()) {
        printf("\n  [skip] OFA_TEST_QUICK\n");
        return;
    }
    char text[2048], cmd[8192], a[1200], b[1200];
    const char *tmp = tu_tmpdir();
    snprintf(text, sizeof text,
             "experiment: {name: gs, output_dir: %s/gs-run, seed: 5, threads: 1}\n"
             "data: {fmnist_dir: '%s', train_limit: 64}\n"
             "model: {type: cyclegan, ngf: 2, ndf: 2, n_blocks: 3, n_layers: 2}\n"
             "teacher: {max_steps: 60, batch_size: 2, lr: 2.0e-4, eval_every: 60, decay_epochs: 1, pool_size: 4}\n"
             "optim: {warmup_ratio: 0, weight_decay: 0, grad_clip: 0, beta1: 0.5}\n"
             "student: {max_steps: 8, batch_size: 2}\n"
             "prune: {max_steps: 8, batch_size: 2, keep: 1}\n" /* the supernet of the student's shape */
             "search: {val_limit: 40, population: 8, generations: 2, budgets_ms: [0.5, 5.0],\n"
             "         latency: {warmup: 2, repeats: 5}}\n"
             "fidnet: {max_steps: 30, batch_size: 32, channels: 4, features: 16, train_limit: 2000, test_limit: 500}\n"
             "supernet:\n"
             "  space: {stem: [1, 2], down1: [2, 4], down2: [4, 8], blocks: [4, 8], up1: [2, 4], up2: [1, 2], "
             "kernel: [5, 3]}\n"
             "  phases: [{elastic: [width, depth], epochs: 1, lr: 1.0e-3}]\n"
             "  sampler: {strategy: sandwich, subnets_per_step: 3}\n"
             "  micro_batches: 3\n"
             "  distill: {lambda_gan: 1, lambda_feature: 1}\n"
             "  batch_size: 4\n"
             "  max_steps: 300\n"
             "  checkpoint: {every_steps: 10, keep: 2}\n",
             tmp, dir);
    const char *cfg = tu_write_file("gs.yaml", text);
    /* ofa run: the feature net, the teacher, the student and prune stages (prune.keep 1: the pruned
     * net has the student's shape), the supernet from pruned.h5 (the search comes below) */
    char *log = NULL;
    snprintf(cmd, sizeof cmd, "run %s --set search.enabled=false", cfg);
    int st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "gs-run/pruned.h5 (3x3 depthwise kernels as the centres of 5x5 ones)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "the discriminator starts from"));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "c2.4.8-b8.8.8-k5.5.5-u4.2: dev fid "));
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "prune: done"));
    free(log);
    /* SIGKILL once a checkpoint exists, then the same command resumes it: bitwise the uninterrupted */
    snprintf(cmd, sizeof cmd,
             "O=%s/gs-kill; mkdir -p $O && cp %s/gs-run/fidnet.h5 %s/gs-run/teacher.h5 %s/gs-run/student.h5 %s/gs-run/pruned.h5 $O/ && "
             "%s supernet %s --set experiment.output_dir=$O > %s/gs-kill.log 2>&1 & pid=$!; "
             "for i in $(seq 1 20000); do ls $O/ckpt/step_*.h5 >/dev/null 2>&1 && break; sleep 0.002; done; "
             "kill -KILL $pid; wait $pid 2>/dev/null; exit $?", /* the shell's "Killed" would land in the test output */
             tmp, tmp, tmp, tmp, tmp, bin, cfg, tmp);
    CU_ASSERT_EQUAL_FATAL(sh(cmd), 128 + 9);
    snprintf(cmd, sizeof cmd, "supernet %s --set experiment.output_dir=%s/gs-kill", cfg, tmp);
    st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "resum"));
    free(log);
    snprintf(a, sizeof a, "%s/gs-run/supernet.h5", tmp);
    snprintf(b, sizeof b, "%s/gs-kill/supernet.h5", tmp);
    double worst;
    int bitwise;
    CU_ASSERT_EQUAL_FATAL(compare(a, b, 0, &worst, &bitwise), 0);
    CU_ASSERT(bitwise);
    if (!bitwise) fprintf(stderr, "\n  resumed vs uninterrupted: %.3g\n", worst);
    /* data-parallel: 3 ranks take the 3 micro-batches of a step, and 4 ranks of which one is an
     * evaluator (mpi.evaluators 1: 3 trainers), against one process, over the first 3 steps: with
     * the GAN term the discriminator and the subnets amplify float-order noise as the CycleGAN
     * teacher's do (measured 8.9e-8 after 3 steps, 4.2e-3 after 12) */
    if (system("command -v mpirun >/dev/null 2>&1") == 0) {
        static const int ranks[3] = {1, 3, 4};
        for (int k = 0; k < 3; k++) {
            const int n = ranks[k];
            char mpi[256] = "";
            if (n > 1)
                snprintf(mpi, sizeof mpi,
                         "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 "
                         "timeout 300 mpirun --oversubscribe -n %d ", n);
            snprintf(cmd, sizeof cmd,
                     "O=%s/gs-dp%d; mkdir -p $O && cp %s/gs-run/fidnet.h5 %s/gs-run/teacher.h5 %s/gs-run/student.h5 %s/gs-run/pruned.h5 $O/ && %s%s supernet %s "
                     "--set experiment.output_dir=$O --set supernet.max_steps=3 %s > %s/gs-dp%d.log 2>&1",
                     tmp, n, tmp, tmp, tmp, tmp, mpi, bin, cfg, n == 4 ? "--set mpi.evaluators=1" : "", tmp, n);
            st = sh(cmd);
            if (st) fprintf(stderr, "\n  -n %d: exit %d (log %s/gs-dp%d.log)\n", n, st, tmp, n);
            CU_ASSERT_EQUAL_FATAL(st, 0);
        }
        for (int k = 1; k < 3; k++) {
            snprintf(a, sizeof a, "%s/gs-dp1/supernet.h5", tmp);
            snprintf(b, sizeof b, "%s/gs-dp%d/supernet.h5", tmp, ranks[k]);
            CU_ASSERT_EQUAL_FATAL(compare(a, b, 1, &worst, &bitwise), 0);
            fprintf(stderr, "(gan supernet -n %d%s vs 1: max normalized error %.2g) ", ranks[k],
                    ranks[k] == 4 ? " with an evaluator" : "", worst);
            CU_ASSERT(worst < 1e-5);
        }
    } else {
        printf("\n  [skip] no mpirun: the 3- and 4-rank comparisons\n");
    }
    /* the search: a front of FIDs on the val images, winners exported and re-scored */
    snprintf(cmd, sizeof cmd, "search %s", cfg);
    st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL_FATAL(st, 0);
    free(log);
    snprintf(a, sizeof a, "%s/gs-run/pareto.csv", tmp);
    char *csv = tu_read_file(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(csv);
    CU_ASSERT_PTR_NOT_NULL(strstr(csv, "held-out train images"));
    /* the first row's FID is positive (the search maximizes -FID; the file shows FID) */
    const char *row = strchr(csv, '\n') + 1, *comma = strchr(row, ',');
    CU_ASSERT(comma && atof(comma + 1) > 0);
    char winner[160] = "";
    for (const char *q = row; *q; q = strchr(q, '\n') ? strchr(q, '\n') + 1 : "") {
        /* a row with a budget: fields arch,val,dev,lat,spread,params,macs,budget_ms */
        const char *f = q;
        for (int k = 0; k < 7 && f; k++) f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
        if (f && *f != ',' && *f != '\n') {
            snprintf(winner, sizeof winner, "%.*s", (int)(strchr(q, ',') - q), q);
            break;
        }
    }
    free(csv);
    CU_ASSERT_FATAL(winner[0] != '\0');
    snprintf(cmd, sizeof cmd, "eval %s/gs-run/subnets/%s.h5 --split test", tmp, winner);
    st = tu_run_ofa(cmd, &log);
    if (st) fprintf(stderr, "\n%s\n", log);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "fid "));
    free(log);
    /* export --arch, inspect and latency on the supernet and the exported file (one command each:
     * tu_run_ofa captures the last command of a chain) */
    const char *want[5] = {"exported c", "MobileResNet", "median ", "input | translated)",
                           "stem,down1,down2,blocks,kernel,up1,up2"};
    for (int k = 0; k < 5; k++) {
        if (k == 0)
            snprintf(cmd, sizeof cmd, "export %s/gs-run/supernet.h5 --arch %s -o %s/gs-exp.h5", tmp, winner, tmp);
        else if (k == 1)
            snprintf(cmd, sizeof cmd, "inspect %s/gs-exp.h5", tmp);
        else if (k == 3)
            snprintf(cmd, sizeof cmd, "translate %s/gs-exp.h5 --n 8 -o %s/gs-tr", tmp, tmp);
        else if (k == 4) /* the grid: one column per slot, no sequence length */
            snprintf(cmd, sizeof cmd, "eval %s/gs-run/supernet.h5 --grid", tmp);
        else
            snprintf(cmd, sizeof cmd, "latency %s/gs-run/supernet.h5 --arch %s --repeats 50 --max-spread 1000", tmp, winner);
        st = tu_run_ofa(cmd, &log);
        if (st) fprintf(stderr, "\n%s\n", log);
        CU_ASSERT_EQUAL(st, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(log, want[k]));
        if (k == 4) CU_ASSERT_PTR_NULL(strstr(log, "tokens"));
        free(log);
    }
    /* a user's slips: translate over its own model, a search state as the model, an arch cut short;
     * inspect lists the generator's slots (not BERT's); eval's val is the search's rows (val_limit) */
    static const struct { int st; const char *args, *want; } slip[] = {
        {2, "translate %s/gs-exp.h5 -o %s/gs-exp", "is the input file"},
        {2, "eval %s/gs-run/search.h5 --limit 2 %s", "is a search state (kind search): it holds no model"},
        {2, "translate %s/gs-run/search.h5 -o %s/x", "a search state holds no generator"},
        {2, "export %s/gs-run/supernet.h5 --arch c4.8.16-b16.16.16-k5.5.5 -o %s/x.h5", "it ends before its -u section"},
        {0, "inspect %s/gs-run/supernet.h5 %s", "    kernel: ["},
        {0, "eval %s/gs-run/supernet.h5 --split val %s", "val ("}};
    for (size_t i = 0; i < sizeof slip / sizeof *slip; i++) {
        snprintf(cmd, sizeof cmd, slip[i].args, tmp, strstr(slip[i].args, "-o %s") ? tmp : "");
        st = tu_run_ofa(cmd, &log);
        if (st != slip[i].st || !strstr(log, slip[i].want)) fprintf(stderr, "\n  %s:\n%s\n", cmd, log);
        CU_ASSERT_EQUAL(st, slip[i].st);
        CU_ASSERT_PTR_NOT_NULL(strstr(log, slip[i].want));
        if (i == 4) CU_ASSERT_PTR_NULL(strstr(log, "heads:"));
        free(log);
    }
    /* the run folder moved (or copied to another machine): eval finds the fidnet.h5 beside the
     * file, not at the output_dir stored in it, which is gone */
    snprintf(cmd, sizeof cmd, "mv %s/gs-run %s/gs-moved", tmp, tmp);
    CU_ASSERT_FATAL(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "eval %s/gs-moved/supernet.h5 --split val", tmp);
    st = tu_run_ofa(cmd, &log);
    if (st || !strstr(log, "val (")) fprintf(stderr, "\n  %s:\n%s\n", cmd, log);
    CU_ASSERT_EQUAL(st, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(log, "val ("));
    free(log);
    snprintf(cmd, sizeof cmd, "mv %s/gs-moved %s/gs-run", tmp, tmp);
    CU_ASSERT_FATAL(system(cmd) == 0);
}

int test_gansuper_register(void)
{
    CU_pSuite s = CU_add_suite("gansuper", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "space", test_space) || !CU_add_test(s, "distill_grad", test_distill_grad) ||
        !CU_add_test(s, "distill_grad_gan", test_distill_grad_gan) ||
        !CU_add_test(s, "export", test_export) || !CU_add_test(s, "stage", test_stage))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
