/* Suite cyclegan: the CycleGAN networks of models/gan/cyclegan.h against PyTorch
 * (tests/golden/cyclegan_tiny.h5, written by make_golden_cyclegan.py from the public
 * pytorch-CycleGAN-and-pix2pix module definitions: ResnetGenerator ngf 4, 2 blocks; NLayerDiscriminator
 * ndf 4, 3 layers; batch 2, 1 x 32 x 32).
 *
 * 1. Names and shapes: the parameters, in order, are the file's state_dict keys (attr `keys`, in
 *    PyTorch's order) with the file's shapes, and the file holds no tensor the net lacks.
 * 2. Forward: max |y - ref| / max |ref| <= 1e-5 (element-wise against the tensor's largest value; a
 *    float32 torch run of the generator measures 1.5e-6 by this measure.  The conv file's floor at
 *    0.1 max |ref| does not fit a 20-layer net: torch float32 itself reaches 1.5e-5 there, near-zero
 *    tanh outputs carrying the whole net's absolute rounding).
 * 3. Backward of sum(y * dy): every parameter gradient and dx within 1e-4 normalized error
 *    ||g - ref|| / ||ref|| (torch float32: 8.5e-7).  Conv biases followed by an instance norm have a
 *    gradient of exactly 0 (attr exact_zero; the norm removes any per-channel constant): for them
 *    ||g|| <= 1e-5 ||all reference gradients|| (torch float32: 4e-8; a real error in a bias gradient
 *    would be O(1) of the weight gradients).
 * 4. Backward accumulates: a second backward doubles every gradient (1e-6 normalized).
 * 5. Batch below Bmax: a forward of sample 1 alone on acts planned for 2 equals the batch's sample 1
 *    (instance norm is per sample; only GEMM blocking differs: measured 5e-7 normalized, bound 1e-5,
 *    the float rounding of a 20-layer net with margin, far below an error's O(1)).
 * 6. Training (tests/golden/cyclegan_traj.h5): 3 steps of the public CycleGANModel.optimize_parameters
 *    (G_A, G_B ngf 2, 1 block; D_A, D_B ndf 2, 3 layers; batch 1; LSGAN, cycle x10, identity x5, no
 *    image pool; Adam 2e-4, betas (0.5, 0.999), one Adam over both G and one over both D): the nine
 *    losses of every step within 1e-4 relative (measured 5e-7), every final weight within 1e-4
 *    normalized (6e-8), and every update (final - init, ~1e-3 of the weights, so the weight check
 *    alone would pass a wrong update) within 1e-3 normalized (5e-5: the file's float32 rounding of
 *    the weights is 2e-8 absolute against updates of ~6e-4; Adam beta1 0.6 instead of 0.5 gives 5e-2).
 *    Conv biases followed by an instance norm (attr unstable) are skipped: their gradient is 0, and
 *    Adam turns a float run's rounding noise there into steps of ~lr (the same case as BERT's bk);
 *    the function does not depend on them.
 * OFA_TEST_VERBOSE=1 prints the measured figures. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "models/gan/cyclegan.h"
#include "nn/nn.h"
#include "nn/optim.h"
#include "tests/testutil.h"

#define GOLDEN "tests/golden/cyclegan_tiny.h5"
#define OUT_TOL 1e-5
#define GRAD_TOL 1e-4
#define ZERO_TOL 1e-5
#define SELF_TOL 1e-6
#define BATCH_TOL 1e-5

static int verbose(void)
{
    const char *v = getenv("OFA_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static int64_t attr_i(ofa_h5 *h, const char *grp, const char *k)
{
    int64_t v = -1;
    int rc = ofa_h5_attr_get_i64(h, grp, k, &v);
    if (rc) fprintf(stderr, "\n  %s: %s\n", grp, ofa_err_msg());
    CU_ASSERT_EQUAL(rc, 0);
    return v;
}

/* The net of group "G" or "D" of the file, its parameters read from <grp>/state. */
static int open_net(ofa_h5 *h, const char *grp, ofa_gan_net *n)
{
    int is_g = grp[0] == 'G';
    int ch = (int)attr_i(h, grp, "channels");
    int nf = (int)attr_i(h, grp, is_g ? "ngf" : "ndf");
    int depth = (int)attr_i(h, grp, is_g ? "n_blocks" : "n_layers");
    if (ch < 1 || nf < 1 || depth < 0) return -1;
    ofa_gan_net_init(n, is_g ? OFA_GAN_GENERATOR : OFA_GAN_DISCRIMINATOR, ch, nf, depth);
    char path[64];
    snprintf(path, sizeof path, "%s/state", grp);
    int rc = ofa_params_read_h5(h, path, &n->p, n->p.data);
    if (rc) fprintf(stderr, "\n  %s: %s\n", path, ofa_err_msg());
    return rc;
}

static float *read_all(ofa_h5 *h, const char *path, size_t want)
{
    float *a = NULL;
    int nd = 0;
    int64_t shape[OFA_H5_MAX_DIMS];
    if (ofa_h5_read_f32_alloc(h, path, &a, &nd, shape)) {
        fprintf(stderr, "\n  %s: %s\n", path, ofa_err_msg());
        return NULL;
    }
    size_t n = 1;
    for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
    if (n != want) {
        fprintf(stderr, "\n  %s: %zu values, expected %zu\n", path, n, want);
        free(a);
        return NULL;
    }
    return a;
}

typedef struct count_ctx {
    const ofa_params *p;
    int n, unknown;
} count_ctx;

static int count_visit(const char *name, int ndim, const int64_t *shape, void *ctx)
{
    (void)ndim, (void)shape;
    count_ctx *c = ctx;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    c->n++;
    if (ofa_params_find(c->p, base) < 0) {
        fprintf(stderr, "\n  file tensor %s: not a parameter of the net\n", name);
        c->unknown++;
    }
    return 0;
}

static void check_names(const char *grp)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, GOLDEN), 0);
    ofa_gan_net n;
    CU_ASSERT_EQUAL(open_net(&h, grp, &n), 0); /* reads every view: names exist, shapes equal */
    char *keys = NULL;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_str(&h, grp, "keys", &keys), 0);
    int i = 0;
    for (char *save = NULL, *k = strtok_r(keys, " ", &save); k; k = strtok_r(NULL, " ", &save), i++) {
        int ok = i < n.p.n && strcmp(n.p.views[i].name, k) == 0;
        if (!ok)
            fprintf(stderr, "\n  %s: parameter %d is %s, PyTorch's key is %s\n", grp, i,
                    i < n.p.n ? n.p.views[i].name : "(none)", k);
        CU_ASSERT(ok);
    }
    CU_ASSERT_EQUAL(i, n.p.n);
    for (int j = 0; j < n.p.n; j++) {
        char path[128];
        int nd = 0;
        int64_t shape[OFA_H5_MAX_DIMS];
        snprintf(path, sizeof path, "%s/state/%s", grp, n.p.views[j].name);
        CU_ASSERT_EQUAL(ofa_h5_shape(&h, path, &nd, shape), 0);
        CU_ASSERT_EQUAL(nd, n.p.views[j].ndim);
        for (int d = 0; d < nd && d < n.p.views[j].ndim; d++) CU_ASSERT_EQUAL(shape[d], n.p.views[j].shape[d]);
    }
    count_ctx c = {.p = &n.p};
    char sg[32];
    snprintf(sg, sizeof sg, "%s/state", grp);
    CU_ASSERT_EQUAL(ofa_h5_visit(&h, sg, count_visit, &c), 0);
    CU_ASSERT_EQUAL(c.n, n.p.n);
    CU_ASSERT_EQUAL(c.unknown, 0);
    free(keys);
    ofa_gan_net_free(&n);
    ofa_h5_close(&h);
}

static void test_names_generator(void) { check_names("G"); }
static void test_names_discriminator(void) { check_names("D"); }

static double max_err_of_max(const float *a, const float *r, size_t n)
{
    double m = 0, e = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)r[i]));
    for (size_t i = 0; i < n; i++) e = fmax(e, fabs((double)a[i] - r[i]));
    return e / (m > 0 ? m : 1);
}

static double norm(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return sqrt(s);
}

static void check_golden(const char *grp)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, GOLDEN), 0);
    ofa_gan_net n;
    CU_ASSERT_EQUAL_FATAL(open_net(&h, grp, &n), 0);
    int B = (int)attr_i(&h, grp, "B"), H = (int)attr_i(&h, grp, "H"), W = (int)attr_i(&h, grp, "W");
    ofa_gan_acts a;
    ofa_gan_acts_create(&a, &n, B, H, W);
    int C, Ho, Wo;
    ofa_gan_out_shape(&a, &C, &Ho, &Wo);
    size_t nx = (size_t)B * n.channels * H * W, ny = (size_t)B * C * Ho * Wo;
    char path[128];
#define RD(var, name, cnt)                                                                                             \
    snprintf(path, sizeof path, "%s/%s", grp, name);                                                                   \
    float *var = read_all(&h, path, cnt);
    RD(x, "x", nx)
    RD(ref_y, "y", ny)
    RD(dy, "dy", ny)
    RD(ref_dx, "dx", nx)
#undef RD
    CU_ASSERT_FATAL(x && ref_y && dy && ref_dx);
    float *ref_g = aligned_alloc(64, ((n.p.total * sizeof(float) + 63) / 64) * 64);
    snprintf(path, sizeof path, "%s/grad", grp);
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, path, &n.p, ref_g), 0);

    const float *y = ofa_gan_forward(&n, &a, x, B);
    double e_out = max_err_of_max(y, ref_y, ny);
    if (e_out > OUT_TOL) fprintf(stderr, "\n  %s y: max error %.3g of the largest |value|\n", grp, e_out);
    CU_ASSERT(e_out <= OUT_TOL);
    double e_norm_out = tu_norm_err(y, ref_y, ny);

    float *dx = calloc(nx, sizeof *dx);
    ofa_params_zero_grad(&n.p);
    ofa_gan_backward(&n, &a, dy, dx);
    double e_dx = tu_norm_err(dx, ref_dx, nx);
    if (e_dx > GRAD_TOL) fprintf(stderr, "\n  %s dx: normalized error %.3g\n", grp, e_dx);
    CU_ASSERT(e_dx <= GRAD_TOL);

    double gnorm = 0;
    for (int i = 0; i < n.p.n; i++) {
        double v = norm(ref_g + n.p.views[i].offset, n.p.views[i].numel);
        gnorm += v * v;
    }
    gnorm = sqrt(gnorm);
    double e_grad = e_dx, e_zero = 0;
    int n_zero = 0;
    for (int i = 0; i < n.p.n; i++) {
        const ofa_pview *v = &n.p.views[i];
        const float *g = n.p.grad + v->offset, *r = ref_g + v->offset;
        snprintf(path, sizeof path, "%s/grad/%s", grp, v->name);
        if (ofa_h5_attr_exists(&h, path, "exact_zero") == 1) {
            double e = norm(g, v->numel) / gnorm;
            n_zero++;
            e_zero = fmax(e_zero, e);
            if (e > ZERO_TOL) fprintf(stderr, "\n  %s: |grad| %.3g of the global norm, expected 0\n", path, e);
            CU_ASSERT(e <= ZERO_TOL);
        } else {
            double e = tu_norm_err(g, r, v->numel);
            e_grad = fmax(e_grad, e);
            if (e > GRAD_TOL) fprintf(stderr, "\n  %s: normalized error %.3g\n", path, e);
            CU_ASSERT(e <= GRAD_TOL);
        }
    }
    CU_ASSERT(n_zero > 0); /* the file marks them; a file without the marks is not the one described */

    /* backward accumulates: a second pass doubles every gradient */
    float *g1 = malloc(n.p.total * sizeof *g1);
    memcpy(g1, n.p.grad, n.p.total * sizeof *g1);
    ofa_gan_backward(&n, &a, dy, NULL);
    for (size_t i = 0; i < n.p.total; i++) g1[i] *= 2;
    double e_acc = tu_norm_err(n.p.grad, g1, n.p.total);
    CU_ASSERT(e_acc <= SELF_TOL);

    /* a batch below Bmax: sample 1 alone */
    float *y_b = malloc(ny * sizeof *y_b);
    memcpy(y_b, y, ny * sizeof *y_b);
    size_t sx = nx / (size_t)B, sy = ny / (size_t)B;
    const float *y1 = ofa_gan_forward(&n, &a, x + sx, 1);
    double e_b1 = tu_norm_err(y1, y_b + sy, sy);
    CU_ASSERT(e_b1 <= BATCH_TOL);

    if (verbose())
        fprintf(stderr, "\n  %s: output %.3g of max (normalized %.3g), gradients %.3g (normalized), %d zero biases "
                        "%.3g of the global norm, accumulate %.3g, batch 1 %.3g\n",
                grp, e_out, e_norm_out, e_grad, n_zero, e_zero, e_acc, e_b1);
    free(x), free(ref_y), free(dy), free(ref_dx), free(ref_g), free(dx), free(g1), free(y_b);
    ofa_gan_acts_free(&a);
    ofa_gan_net_free(&n);
    ofa_h5_close(&h);
}

static void test_golden_generator(void) { check_golden("G"); }
static void test_golden_discriminator(void) { check_golden("D"); }

/* ---- 3 steps of CycleGAN training (tests/golden/cyclegan_traj.h5) ---- */

#define TRAJ "tests/golden/cyclegan_traj.h5"
#define TRAJ_TOL 1e-4
#define UPDATE_TOL 1e-3
enum { G_A, G_B, D_A, D_B, N_NETS };
static const char *const net_names[N_NETS] = {"G_A", "G_B", "D_A", "D_B"};

/* One LSGAN term mean((pred - target)^2) of D on img: forward, the loss, backward with dscale into
 * D's gradients and into dimg (NULL: not needed). */
static double lsgan(ofa_gan_net *d, ofa_gan_acts *a, const float *img, float target, double dscale, float *dimg,
                    float *tmp, float *dpred)
{
    int C, Ho, Wo;
    ofa_gan_out_shape(a, &C, &Ho, &Wo);
    size_t n = (size_t)C * Ho * Wo;
    const float *pred = ofa_gan_forward(d, a, img, 1);
    for (size_t i = 0; i < n; i++) tmp[i] = target, dpred[i] = 0;
    double l = nn_mse_f32(dpred, pred, tmp, (int64_t)n, dscale);
    ofa_gan_backward(d, a, dpred, dimg);
    return l;
}

static void test_trajectory(void)
{
    ofa_h5 h;
    CU_ASSERT_EQUAL_FATAL(ofa_h5_open(&h, TRAJ), 0);
    int64_t ngf, nb, ndf, nl, steps, H, W;
    double lr, b1, b2, eps, lam_a, lam_b, lam_i;
    int bad = 0;
    bad |= ofa_h5_attr_get_i64(&h, "/", "ngf", &ngf) || ofa_h5_attr_get_i64(&h, "/", "n_blocks", &nb);
    bad |= ofa_h5_attr_get_i64(&h, "/", "ndf", &ndf) || ofa_h5_attr_get_i64(&h, "/", "n_layers", &nl);
    bad |= ofa_h5_attr_get_i64(&h, "/", "steps", &steps) || ofa_h5_attr_get_i64(&h, "/", "H", &H);
    bad |= ofa_h5_attr_get_i64(&h, "/", "W", &W) || ofa_h5_attr_get_f64(&h, "/", "lr", &lr);
    bad |= ofa_h5_attr_get_f64(&h, "/", "beta1", &b1) || ofa_h5_attr_get_f64(&h, "/", "beta2", &b2);
    bad |= ofa_h5_attr_get_f64(&h, "/", "adam_eps", &eps) || ofa_h5_attr_get_f64(&h, "/", "lambda_A", &lam_a);
    bad |= ofa_h5_attr_get_f64(&h, "/", "lambda_B", &lam_b) || ofa_h5_attr_get_f64(&h, "/", "lambda_identity", &lam_i);
    if (bad) fprintf(stderr, "\n  %s: %s\n", TRAJ, ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(bad, 0);
    ofa_gan_net net[N_NETS];
    ofa_gan_acts ga[N_NETS][3]; /* generators: three applications per step; discriminators: one */
    ofa_adamw opt[N_NETS];
    char path[128];
    for (int k = 0; k < N_NETS; k++) {
        int is_g = k < D_A;
        ofa_gan_net_init(&net[k], is_g ? OFA_GAN_GENERATOR : OFA_GAN_DISCRIMINATOR, 1, (int)(is_g ? ngf : ndf),
                         (int)(is_g ? nb : nl));
        snprintf(path, sizeof path, "init/%s", net_names[k]);
        CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, path, &net[k].p, net[k].p.data), 0);
        for (int j = 0; j < (is_g ? 3 : 1); j++) ofa_gan_acts_create(&ga[k][j], &net[k], 1, (int)H, (int)W);
        ofa_adamw_init_ex(&opt[k], b1, b2, eps, 0.0);
    }
    size_t n = (size_t)H * W;
    float *rA_all = read_all(&h, "real_A", (size_t)steps * n), *rB_all = read_all(&h, "real_B", (size_t)steps * n);
    float *ref_losses = read_all(&h, "losses", (size_t)steps * 9);
    CU_ASSERT_FATAL(rA_all && rB_all && ref_losses);
    float *dfB = malloc(n * sizeof(float)), *dfA = malloc(n * sizeof(float)), *dr = malloc(n * sizeof(float));
    float tmp[64], dpred[64];
    int C, Ho, Wo;
    ofa_gan_out_shape(&ga[D_A][0], &C, &Ho, &Wo);
    CU_ASSERT_FATAL((size_t)C * Ho * Wo <= 64);
    double worst_loss = 0;
    for (int s = 0; s < steps; s++) {
        const float *rA = rA_all + (size_t)s * n, *rB = rB_all + (size_t)s * n;
        double L[9];
        for (int k = 0; k < N_NETS; k++) ofa_params_zero_grad(&net[k].p);
        /* forward: fake_B = G_A(A), rec_A = G_B(fake_B), fake_A = G_B(B), rec_B = G_A(fake_A), identities */
        const float *fake_B = ofa_gan_forward(&net[G_A], &ga[G_A][0], rA, 1);
        const float *rec_A = ofa_gan_forward(&net[G_B], &ga[G_B][1], fake_B, 1);
        const float *fake_A = ofa_gan_forward(&net[G_B], &ga[G_B][0], rB, 1);
        const float *rec_B = ofa_gan_forward(&net[G_A], &ga[G_A][1], fake_A, 1);
        const float *idt_A = ofa_gan_forward(&net[G_A], &ga[G_A][2], rB, 1);
        const float *idt_B = ofa_gan_forward(&net[G_B], &ga[G_B][2], rA, 1);
        memset(dfB, 0, n * sizeof(float)), memset(dfA, 0, n * sizeof(float));
        /* the G step; D's gradients from it are discarded */
        L[1] = lsgan(&net[D_A], &ga[D_A][0], fake_B, 1.0f, 1.0, dfB, tmp, dpred);
        L[2] = lsgan(&net[D_B], &ga[D_B][0], fake_A, 1.0f, 1.0, dfA, tmp, dpred);
        memset(dr, 0, n * sizeof(float));
        L[3] = lam_a * nn_l1_f32(dr, rec_A, rA, (int64_t)n, lam_a);
        ofa_gan_backward(&net[G_B], &ga[G_B][1], dr, dfB);
        memset(dr, 0, n * sizeof(float));
        L[4] = lam_b * nn_l1_f32(dr, rec_B, rB, (int64_t)n, lam_b);
        ofa_gan_backward(&net[G_A], &ga[G_A][1], dr, dfA);
        memset(dr, 0, n * sizeof(float));
        L[5] = lam_b * lam_i * nn_l1_f32(dr, idt_A, rB, (int64_t)n, lam_b * lam_i);
        ofa_gan_backward(&net[G_A], &ga[G_A][2], dr, NULL);
        memset(dr, 0, n * sizeof(float));
        L[6] = lam_a * lam_i * nn_l1_f32(dr, idt_B, rA, (int64_t)n, lam_a * lam_i);
        ofa_gan_backward(&net[G_B], &ga[G_B][2], dr, NULL);
        ofa_gan_backward(&net[G_B], &ga[G_B][0], dfA, NULL);
        ofa_gan_backward(&net[G_A], &ga[G_A][0], dfB, NULL);
        L[0] = L[1] + L[2] + L[3] + L[4] + L[5] + L[6];
        /* the D step on the fakes of this forward (fake_B, fake_A stay in G's arenas: no forward since) */
        ofa_params_zero_grad(&net[D_A].p), ofa_params_zero_grad(&net[D_B].p);
        L[7] = 0.5 * (lsgan(&net[D_A], &ga[D_A][0], rB, 1.0f, 0.5, NULL, tmp, dpred) +
                      lsgan(&net[D_A], &ga[D_A][0], fake_B, 0.0f, 0.5, NULL, tmp, dpred));
        L[8] = 0.5 * (lsgan(&net[D_B], &ga[D_B][0], rA, 1.0f, 0.5, NULL, tmp, dpred) +
                      lsgan(&net[D_B], &ga[D_B][0], fake_A, 0.0f, 0.5, NULL, tmp, dpred));
        for (int k = 0; k < N_NETS; k++) ofa_adamw_step(&opt[k], &net[k].p, lr);
        for (int j = 0; j < 9; j++) {
            double ref = ref_losses[s * 9 + j], e = fabs(L[j] - ref) / fabs(ref);
            worst_loss = fmax(worst_loss, e);
            if (e > TRAJ_TOL) fprintf(stderr, "\n  step %d loss %d: %.7g, PyTorch %.7g\n", s, j, L[j], ref);
            CU_ASSERT(e <= TRAJ_TOL);
        }
    }
    double worst_w = 0, worst_u = 0;
    int n_unstable = 0;
    for (int k = 0; k < N_NETS; k++) {
        size_t bytes = ((net[k].p.total * sizeof(float) + 63) / 64) * 64;
        float *ref = aligned_alloc(64, bytes), *w0 = aligned_alloc(64, bytes);
        snprintf(path, sizeof path, "final/%s", net_names[k]);
        CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, path, &net[k].p, ref), 0);
        snprintf(path, sizeof path, "init/%s", net_names[k]);
        CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(&h, path, &net[k].p, w0), 0);
        for (int i = 0; i < net[k].p.n; i++) {
            const ofa_pview *v = &net[k].p.views[i];
            snprintf(path, sizeof path, "final/%s/%s", net_names[k], v->name);
            if (ofa_h5_attr_exists(&h, path, "unstable") == 1) { /* zero gradient: Adam amplifies noise */
                n_unstable++;
                continue;
            }
            double e = tu_norm_err(net[k].p.data + v->offset, ref + v->offset, v->numel);
            worst_w = fmax(worst_w, e);
            if (e > TRAJ_TOL) fprintf(stderr, "\n  %s: normalized error %.3g\n", path, e);
            CU_ASSERT(e <= TRAJ_TOL);
            /* the updates themselves (final - init): ~1e-3 of the weights, so the check above alone
             * would pass a wrong update */
            float *du = malloc(v->numel * sizeof *du), *dr_ = malloc(v->numel * sizeof *dr_);
            for (size_t j = 0; j < v->numel; j++)
                du[j] = net[k].p.data[v->offset + j] - w0[v->offset + j],
                dr_[j] = ref[v->offset + j] - w0[v->offset + j];
            double eu = tu_norm_err(du, dr_, v->numel);
            worst_u = fmax(worst_u, eu);
            if (eu > UPDATE_TOL) fprintf(stderr, "\n  %s: update normalized error %.3g\n", path, eu);
            CU_ASSERT(eu <= UPDATE_TOL);
            free(du), free(dr_);
        }
        free(ref), free(w0);
    }
    if (verbose())
        fprintf(stderr,
                "\n  trajectory: losses %.3g relative, final weights %.3g normalized, updates %.3g normalized "
                "(%d unstable skipped)\n",
                worst_loss, worst_w, worst_u, n_unstable);
    free(rA_all), free(rB_all), free(ref_losses), free(dfA), free(dfB), free(dr);
    for (int k = 0; k < N_NETS; k++) {
        for (int j = 0; j < (k < D_A ? 3 : 1); j++) ofa_gan_acts_free(&ga[k][j]);
        ofa_gan_net_free(&net[k]);
    }
    ofa_h5_close(&h);
}

int test_cyclegan_register(void)
{
    CU_pSuite s = CU_add_suite("cyclegan", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "names_generator", test_names_generator) ||
        !CU_add_test(s, "names_discriminator", test_names_discriminator) ||
        !CU_add_test(s, "golden_generator", test_golden_generator) ||
        !CU_add_test(s, "golden_discriminator", test_golden_discriminator) ||
        !CU_add_test(s, "trajectory", test_trajectory))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
