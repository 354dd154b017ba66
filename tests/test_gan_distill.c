/* Suite gan_distill: GAN Compression's generator distillation step (models/gan/distill.h).
 *
 * 1. Golden (tests/golden/distill_tiny.h5, make_golden_distill.py: a ResNet teacher ngf 3 with 4
 *    blocks, a MobileResNet student c2.4.8-b8-k3-u4.2, a PatchGAN ndf 4 with 2 layers, the 1x1 maps
 *    on the encoder output and block 2; batch 2 of 1 x 16 x 16; lambdas gan 1, recon 10, distill 0.5;
 *    PyTorch float64): the four losses within 1e-5 relative, the student's output within 1e-5 of
 *    max |ref|, every gradient of the student, the maps and the discriminator ||g - ref|| / ||ref||
 *    <= 1e-4 (suite cyclegan's measure and tolerance; float32 torch measures 1.9e-6 and 2.5e-6);
 *    gradients exactly 0 in the reference (biases before an instance norm: attr exact_zero) bounded
 *    by 1e-5 of the global gradient norm.
 *    The same for the prune step (group prune/: the MobileResNet teacher c4.8.16-b16-k3-u8.4 distilling
 *    the student of half its widths, maps 8 -> 16).
 *    And a subnet student (group sub/: stored c4.8.16-b16-k3-u8.4 run as c2.4.8-b8-k3-u4.2, maps
 *    16 -> 12 used by their leading 8 input columns; the reference builds the standalone subnet from
 *    the leading slices and scatters its gradients back, so the C gradients outside the slices must
 *    be 0 too).
 * 2. Parts: the batch computed as two parts of one image each (part 1/2) gives the same gradients
 *    and losses as the whole batch (1e-5 relative to the gradient norm), which the stages'
 *    data-parallel split relies on.
 * 3. A MobileResNet teacher (the prune stage's): the student distilled from a copy of itself with
 *    identity maps has zero output and feature losses, and zero map gradients.
 * OFA_TEST_VERBOSE=1 prints the measured figures. */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "models/gan/distill.h"
#include "testutil.h"

#define GOLDEN "tests/golden/distill_tiny.h5"
#define LOSS_TOL 1e-5
#define OUT_TOL 1e-5
#define GRAD_TOL 1e-4
#define ZERO_TOL 1e-5
#define PART_TOL 1e-5

static int verbose(void)
{
    const char *v = getenv("OFA_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

typedef struct fixture {
    ofa_h5 h;
    const char *pre; /* "" (a ResNet teacher), "prune/" (a MobileResNet teacher), "sub/" (a subnet student) */
    ofa_mobile_arch arch; /* the student's subnet ("sub/"; else its stored shape) */
    const ofa_mobile_arch *run; /* &arch for "sub/", else NULL */
    ofa_gan_net t, d;
    ofa_mobile_net s, tm;
    ofa_params maps;
    int B, S;
    ofa_gd_lambdas lam;
    float *a, *b;
} fixture;

static int64_t attr_i(ofa_h5 *h, const char *k)
{
    int64_t v = -1;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_i64(h, "/", k, &v), 0);
    return v;
}

static double attr_f(ofa_h5 *h, const char *k)
{
    double v = NAN;
    CU_ASSERT_EQUAL(ofa_h5_attr_get_f64(h, "/", k, &v), 0);
    return v;
}

/* the dataset `name` of the fixture's case */
static const char *at(const fixture *f, const char *name)
{
    static char buf[4][128];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s%s", f->pre, name);
    return buf[k];
}

static int fixture_open(fixture *f, const char *pre)
{
    memset(f, 0, sizeof *f);
    f->pre = pre;
    if (ofa_h5_open(&f->h, GOLDEN)) {
        fprintf(stderr, "\n  %s\n", ofa_err_msg());
        return -1;
    }
    ofa_h5 *h = &f->h;
    f->B = (int)attr_i(h, "B"), f->S = (int)attr_i(h, "H");
    const int nb = (int)attr_i(h, "n_blocks");
    char text[OFA_MOBILE_ARCH_TEXT_MAX];
    ofa_mobile_arch shape;
    if (ofa_h5_attr_get_strbuf(h, "/", "student_arch", text, sizeof text) || ofa_mobile_arch_parse(&shape, text)) {
        fprintf(stderr, "\n  student_arch: %s\n", ofa_err_msg());
        return -1;
    }
    int ct = 4 * (int)attr_i(h, "teacher_ngf");
    f->arch = shape;
    if (!strcmp(pre, "sub/")) { /* the student stored wider; the golden's student_arch is its subnet */
        if (ofa_h5_attr_get_strbuf(h, "sub", "student_shape", text, sizeof text) || ofa_mobile_arch_parse(&shape, text)) {
            fprintf(stderr, "\n  student_shape: %s\n", ofa_err_msg());
            return -1;
        }
        f->run = &f->arch;
    }
    if (!strcmp(pre, "prune/")) {
        ofa_mobile_arch ts;
        if (ofa_h5_attr_get_strbuf(h, "prune", "teacher_arch", text, sizeof text) || ofa_mobile_arch_parse(&ts, text)) {
            fprintf(stderr, "\n  teacher_arch: %s\n", ofa_err_msg());
            return -1;
        }
        ofa_mobile_net_init(&f->tm, 1, nb, &ts);
        ct = ts.down2;
    } else {
        ofa_gan_net_init(&f->t, OFA_GAN_GENERATOR, 1, (int)attr_i(h, "teacher_ngf"), nb);
    }
    ofa_gan_net_init(&f->d, OFA_GAN_DISCRIMINATOR, 1, (int)attr_i(h, "ndf"), (int)attr_i(h, "n_layers"));
    ofa_mobile_net_init(&f->s, 1, nb, &shape);
    int blocks[OFA_GD_TAPS_MAX];
    int nt = ofa_gd_taps(nb, blocks);
    CU_ASSERT_EQUAL(nt, attr_i(h, "n_taps"));
    ofa_params_init(&f->maps);
    ofa_gd_maps_add(&f->maps, "", nt, shape.down2, ct);
    ofa_params_alloc(&f->maps);
    f->lam.gan = attr_f(h, "lambda_gan"), f->lam.recon = attr_f(h, "lambda_recon");
    f->lam.distill = attr_f(h, "lambda_distill");
    const int64_t xs[4] = {f->B, 1, f->S, f->S};
    const size_t nx = (size_t)f->B * f->S * f->S;
    f->a = ofa_xmalloc(nx * sizeof(float));
    f->b = ofa_xmalloc(nx * sizeof(float));
    const int mobile_t = !strcmp(pre, "prune/");
    int rc = mobile_t ? ofa_params_read_h5(h, at(f, "state/T"), &f->tm.p, f->tm.p.data)
                  : ofa_params_read_h5(h, at(f, "state/T"), &f->t.p, f->t.p.data);
    if (!rc) rc = ofa_params_read_h5(h, at(f, "state/S"), &f->s.p, f->s.p.data);
    if (!rc) rc = ofa_params_read_h5(h, at(f, "state/D"), &f->d.p, f->d.p.data);
    if (!rc) rc = ofa_params_read_h5(h, at(f, "state/maps"), &f->maps, f->maps.data);
    if (!rc) rc = ofa_h5_read_f32(h, at(f, "a"), f->a, 4, xs);
    if (!rc) rc = ofa_h5_read_f32(h, at(f, "b"), f->b, 4, xs);
    if (rc) fprintf(stderr, "\n  %s\n", ofa_err_msg());
    return rc;
}

static void fixture_close(fixture *f)
{
    if (!strcmp(f->pre, "prune/")) ofa_mobile_net_free(&f->tm);
    else ofa_gan_net_free(&f->t);
    ofa_gan_net_free(&f->d);
    ofa_mobile_net_free(&f->s);
    ofa_params_free(&f->maps);
    free(f->a), free(f->b);
    ofa_h5_close(&f->h);
}

static void zero_grads(fixture *f)
{
    ofa_params_zero_grad(&f->s.p), ofa_params_zero_grad(&f->d.p), ofa_params_zero_grad(&f->maps);
}

static double sumsq(const float *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * a[i];
    return s;
}

/* every view of p against grad/<group>/<name>: returns the worst relative error of the non-zero
 * ones; zeros bounded by ZERO_TOL of gnorm */
static double check_grads(ofa_h5 *h, const char *group, const ofa_params *p, double gnorm, int *bad_zero)
{
    double worst = 0;
    char path[256];
    float *ref = ofa_xmalloc(p->total * sizeof(float));
    CU_ASSERT_EQUAL_FATAL(ofa_params_read_h5(h, group, p, ref), 0);
    for (int i = 0; i < p->n; i++) {
        const ofa_pview *v = &p->views[i];
        const float *g = p->grad + v->offset, *r = ref + v->offset;
        double e = 0, rn = sqrt(sumsq(r, v->numel));
        for (size_t j = 0; j < v->numel; j++) e += ((double)g[j] - r[j]) * ((double)g[j] - r[j]);
        e = sqrt(e);
        snprintf(path, sizeof path, "%s/%s", group, v->name);
        if (ofa_h5_attr_exists(h, path, "exact_zero")) {
            if (e > ZERO_TOL * gnorm) {
                fprintf(stderr, "\n  %s: %.3g of the gradient norm, expected 0\n", path, e / gnorm);
                (*bad_zero)++;
            }
            continue;
        }
        e /= rn > 0 ? rn : 1;
        if (e > GRAD_TOL) fprintf(stderr, "\n  %s: relative error %.3g\n", path, e);
        worst = fmax(worst, e);
    }
    free(ref);
    return worst;
}

static ofa_gd *create(fixture *f)
{
    const int mobile_t = !strcmp(f->pre, "prune/");
    return ofa_gd_create(&f->s, mobile_t ? NULL : &f->t, mobile_t ? &f->tm : NULL, &f->d, &f->maps, "", f->B, f->S,
                         f->lam);
}

static void check_golden(const char *pre)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, pre), 0);
    ofa_gd *g = create(&f);
    zero_grads(&f);
    double L[4];
    ofa_gd_grads(g, f.run, f.a, f.b, f.B, 1.0, L);
    float ref_l[4];
    const int64_t ls[1] = {4};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32(&f.h, at(&f, "losses"), ref_l, 1, ls), 0);
    double e_loss = 0;
    for (int k = 0; k < 4; k++) e_loss = fmax(e_loss, fabs(L[k] - ref_l[k]) / fabs((double)ref_l[k]));
    const size_t nx = (size_t)f.B * f.S * f.S;
    float *ref_y = ofa_xmalloc(nx * sizeof(float));
    const int64_t xs[4] = {f.B, 1, f.S, f.S};
    CU_ASSERT_EQUAL_FATAL(ofa_h5_read_f32(&f.h, at(&f, "sfake"), ref_y, 4, xs), 0);
    const float *y = ofa_gd_student_out(g);
    double m = 0, e_out = 0;
    for (size_t i = 0; i < nx; i++) m = fmax(m, fabs(ref_y[i])), e_out = fmax(e_out, fabs((double)y[i] - ref_y[i]));
    e_out /= m;
    /* the global norm of the reference gradients (for the exact-zero bound) */
    double gn = sqrt(sumsq(f.s.p.grad, f.s.p.total) + sumsq(f.d.p.grad, f.d.p.total) + sumsq(f.maps.grad, f.maps.total));
    int bad_zero = 0;
    double e_s = check_grads(&f.h, at(&f, "grad/S"), &f.s.p, gn, &bad_zero);
    double e_d = check_grads(&f.h, at(&f, "grad/D"), &f.d.p, gn, &bad_zero);
    double e_m = check_grads(&f.h, at(&f, "grad/maps"), &f.maps, gn, &bad_zero);
    if (verbose() || e_loss > LOSS_TOL || e_out > OUT_TOL)
        fprintf(stderr, "\n  %s: losses %.3g (G_gan %.6g recon %.6g distill %.6g D %.6g), output %.3g, gradients: "
                        "student %.3g, discriminator %.3g, maps %.3g\n",
                !strcmp(pre, "prune/") ? "prune (MobileResNet teacher)" : *pre ? "subnet student" : "student (ResNet teacher)", e_loss, L[0], L[1], L[2], L[3],
                e_out, e_s, e_d, e_m);
    CU_ASSERT(e_loss <= LOSS_TOL);
    CU_ASSERT(e_out <= OUT_TOL);
    CU_ASSERT(e_s <= GRAD_TOL && e_d <= GRAD_TOL && e_m <= GRAD_TOL);
    CU_ASSERT_EQUAL(bad_zero, 0);
    free(ref_y);
    ofa_gd_free(g);
    fixture_close(&f);
}

static void test_golden(void) { check_golden(""); }
static void test_golden_prune(void) { check_golden("prune/"); }
static void test_golden_sub(void) { check_golden("sub/"); }

/* all gradients of f into one malloc'd vector */
static float *grads_of(const fixture *f, size_t *n)
{
    *n = f->s.p.total + f->d.p.total + f->maps.total;
    float *v = ofa_xmalloc(*n * sizeof(float));
    memcpy(v, f->s.p.grad, f->s.p.total * sizeof(float));
    memcpy(v + f->s.p.total, f->d.p.grad, f->d.p.total * sizeof(float));
    memcpy(v + f->s.p.total + f->d.p.total, f->maps.grad, f->maps.total * sizeof(float));
    return v;
}

static void test_parts(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, ""), 0);
    CU_ASSERT_FATAL(f.B == 2);
    ofa_gd *g = create(&f);
    double Lw[4], L1[4], L2[4];
    zero_grads(&f);
    ofa_gd_grads(g, NULL, f.a, f.b, 2, 1.0, Lw);
    size_t n;
    float *whole = grads_of(&f, &n);
    zero_grads(&f);
    const size_t px = (size_t)f.S * f.S;
    ofa_gd_grads(g, NULL, f.a, f.b, 1, 0.5, L1);
    ofa_gd_grads(g, NULL, f.a + px, f.b + px, 1, 0.5, L2);
    float *parts = grads_of(&f, &n);
    double e = 0;
    for (size_t i = 0; i < n; i++) e += ((double)whole[i] - parts[i]) * ((double)whole[i] - parts[i]);
    e = sqrt(e / sumsq(whole, n));
    double el = 0;
    for (int k = 0; k < 4; k++) el = fmax(el, fabs(L1[k] + L2[k] - Lw[k]) / fabs(Lw[k]));
    if (verbose() || e > PART_TOL || el > PART_TOL)
        fprintf(stderr, "\n  two parts vs the whole batch: gradients %.3g, losses %.3g\n", e, el);
    CU_ASSERT(e <= PART_TOL);
    CU_ASSERT(el <= PART_TOL);
    free(whole), free(parts);
    ofa_gd_free(g);
    fixture_close(&f);
}

static void test_mobile_teacher(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_open(&f, ""), 0);
    ofa_mobile_net copy;
    ofa_mobile_net_init(&copy, 1, f.s.n_blocks, &f.s.shape);
    memcpy(copy.p.data, f.s.p.data, f.s.p.total * sizeof(float));
    /* maps Cs -> Cs, identity */
    ofa_params id;
    ofa_params_init(&id);
    int blocks[OFA_GD_TAPS_MAX];
    const int nt = ofa_gd_taps(f.s.n_blocks, blocks), C = f.s.shape.down2;
    ofa_gd_maps_add(&id, "maps/", nt, C, C);
    ofa_params_alloc(&id);
    for (int k = 0; k < nt; k++) {
        char name[64];
        snprintf(name, sizeof name, "maps/map.%d.weight", k);
        float *w = ofa_params_get(&id, name);
        for (int i = 0; i < C; i++) w[i * C + i] = 1;
    }
    ofa_gd *g = ofa_gd_create(&f.s, NULL, &copy, &f.d, &id, "maps/", f.B, f.S, f.lam);
    zero_grads(&f);
    ofa_params_zero_grad(&id);
    double L[4];
    ofa_gd_grads(g, NULL, f.a, f.b, f.B, 1.0, L);
    double gm = sqrt(sumsq(id.grad, id.total));
    if (verbose() || L[1] != 0 || L[2] != 0 || gm != 0)
        fprintf(stderr, "\n  self-distillation: recon %.3g, distill %.3g, map gradients %.3g\n", L[1], L[2], gm);
    CU_ASSERT(L[1] == 0 && L[2] == 0 && gm == 0);
    CU_ASSERT(L[0] > 0 && L[3] > 0);
    ofa_gd_free(g);
    ofa_params_free(&id);
    ofa_mobile_net_free(&copy);
    fixture_close(&f);
}

int test_gan_distill_register(void)
{
    CU_pSuite s = CU_add_suite("gan_distill", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "golden", test_golden) || !CU_add_test(s, "golden_prune", test_golden_prune) ||
        !CU_add_test(s, "golden_sub", test_golden_sub) ||
        !CU_add_test(s, "parts", test_parts) ||
        !CU_add_test(s, "mobile_teacher", test_mobile_teacher))
        return tu_cunit_error();
    return 0;
}
