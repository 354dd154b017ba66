/* Suite fid: feature statistics and the Frechet distance (nn/fid) against numpy and scipy
 * (tests/golden/fid.h5, written by tests/golden/make_golden_fid.py), against closed forms, and its
 * errors.
 *
 * Tolerances (everything is double precision on both sides):
 *  - mean and covariance vs numpy.mean / numpy.cov: 1e-12 relative to the largest entry (the same
 *    sums in another order);
 *  - full-rank FID (200 x 16) vs scipy.linalg.sqrtm's formula: 1e-3 relative, the bar;
 *    vs numpy's symmetric form: 1e-9 relative (the generator sees sqrtm and the symmetric form
 *    agree to 2e-13; eigensolvers differ by ~1e-14 relative);
 *  - rank-deficient FID (10 x 32, rank 9; sqrtm turns complex there): finite, real, >= 0, and equal
 *    to numpy's symmetric form within 1e-6 relative: 23 eigenvalues of sqrt(S1) S2 sqrt(S1) are
 *    rounding noise around 0 (~1e-16 |S|) whose square roots (~1e-8 each) both sides add
 *    differently; numpy's own FID(a,b) and FID(b,a) differ by 1.6e-9 relative there;
 *  - FID(x, x) = 0 within 1e-9 absolute (tr S ~ 20-100: rounding ~1e-14) and FID(a,b) = FID(b,a)
 *    within 1e-9 relative, on both pairs.  Measured: full rank 1.1e-13 from sqrtm, 4.6e-14 from
 *    numpy's symmetric form, FID(a,a) 1.4e-14, FID(b,a) bitwise equal; rank-deficient 1.1e-8 from
 *    numpy's form, FID(a,a) -1.6e-13, FID(b,a) 5e-15 relative (nn/fid scales Q^T S2 Q by the
 *    square roots of S1's eigenvalues, so S1's null space adds no noise). */
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/h5io.h"
#include "core/rng.h"
#include "nn/fid.h"
#include "tests/testutil.h"

#define GOLDEN "tests/golden/fid.h5"

typedef struct fid_case {
    int n, d;
    double *a, *b, *mu_a, *sigma_a, *mu_b, *sigma_b;
    double fid_sqrtm, fid_symmetric, sqrtm_max_imag;
} fid_case;

static double *read_f64(ofa_h5 *h, const char *group, const char *name, int ndim, const int64_t *shape)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", group, name);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    double *x = malloc(sizeof(double) * n);
    int rc = ofa_h5_read_f64(h, path, x, ndim, shape);
    if (rc) printf("\n  %s: %s\n", path, ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return x;
}

static void case_load(fid_case *c, const char *group)
{
    memset(c, 0, sizeof *c);
    ofa_h5 h;
    int rc = ofa_h5_open(&h, GOLDEN);
    if (rc) printf("\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    char path[64];
    snprintf(path, sizeof path, "%s/a", group);
    int ndim = 0;
    int64_t shape[OFA_H5_MAX_DIMS];
    CU_ASSERT_EQUAL_FATAL(ofa_h5_shape(&h, path, &ndim, shape), 0);
    CU_ASSERT_EQUAL_FATAL(ndim, 2);
    c->n = (int)shape[0];
    c->d = (int)shape[1];
    int64_t nd[2] = {c->n, c->d}, dd[2] = {c->d, c->d}, d1[1] = {c->d};
    c->a = read_f64(&h, group, "a", 2, nd);
    c->b = read_f64(&h, group, "b", 2, nd);
    c->mu_a = read_f64(&h, group, "mu_a", 1, d1);
    c->mu_b = read_f64(&h, group, "mu_b", 1, d1);
    c->sigma_a = read_f64(&h, group, "sigma_a", 2, dd);
    c->sigma_b = read_f64(&h, group, "sigma_b", 2, dd);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_f64(&h, group, "fid_sqrtm", &c->fid_sqrtm), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_f64(&h, group, "fid_symmetric", &c->fid_symmetric), 0);
    CU_ASSERT_EQUAL_FATAL(ofa_h5_attr_get_f64(&h, group, "sqrtm_max_imag", &c->sqrtm_max_imag), 0);
    ofa_h5_close(&h);
}

static void case_free(fid_case *c)
{
    free(c->a);
    free(c->b);
    free(c->mu_a);
    free(c->mu_b);
    free(c->sigma_a);
    free(c->sigma_b);
}

/* max |x - ref| / max |ref|, printing the first mismatch above tol */
static double rel_err(const char *name, const double *x, const double *ref, size_t n, double tol)
{
    double scale = 0, worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(x[i] - ref[i]);
        if (e > worst) worst = e, at = i;
    }
    worst /= scale > 0 ? scale : 1;
    if (worst > tol) printf("\n  %s: relative error %.3g at [%zu]: %.17g, numpy %.17g\n", name, worst, at, x[at], ref[at]);
    return worst;
}

static double fid_of(const double *a, const double *b, int n, int d)
{
    double f = NAN;
    int rc = ofa_fid_features(a, n, b, n, d, &f);
    if (rc) printf("\n  %s\n", ofa_err_msg());
    CU_ASSERT_EQUAL(rc, 0);
    return f;
}

static void check_stats(const fid_case *c, const char *group)
{
    double *mu = malloc(sizeof(double) * c->d), *s = malloc(sizeof(double) * c->d * c->d);
    char name[64];
    for (int k = 0; k < 2; k++) {
        CU_ASSERT_EQUAL_FATAL(ofa_fid_stats(k ? c->b : c->a, c->n, c->d, mu, s), 0);
        snprintf(name, sizeof name, "%s mu_%c", group, k ? 'b' : 'a');
        CU_ASSERT(rel_err(name, mu, k ? c->mu_b : c->mu_a, c->d, 1e-12) <= 1e-12);
        snprintf(name, sizeof name, "%s sigma_%c", group, k ? 'b' : 'a');
        CU_ASSERT(rel_err(name, s, k ? c->sigma_b : c->sigma_a, (size_t)c->d * c->d, 1e-12) <= 1e-12);
    }
    free(mu);
    free(s);
}

static void test_full_rank(void)
{
    fid_case c;
    case_load(&c, "full");
    check_stats(&c, "full");
    double f = fid_of(c.a, c.b, c.n, c.d);
    double e_sqrtm = fabs(f - c.fid_sqrtm) / c.fid_sqrtm, e_sym = fabs(f - c.fid_symmetric) / c.fid_symmetric;
    if (e_sqrtm > 1e-3 || e_sym > 1e-9)
        printf("\n  full-rank FID %.17g; scipy sqrtm %.17g (rel %.3g), numpy symmetric %.17g (rel %.3g)\n", f,
               c.fid_sqrtm, e_sqrtm, c.fid_symmetric, e_sym);
    CU_ASSERT(e_sqrtm <= 1e-3);
    CU_ASSERT(e_sym <= 1e-9);
    /* from numpy's statistics too (ofa_fid alone) */
    double g = NAN;
    CU_ASSERT_EQUAL(ofa_fid(c.mu_a, c.sigma_a, c.mu_b, c.sigma_b, c.d, &g), 0);
    CU_ASSERT(fabs(g - c.fid_symmetric) <= 1e-9 * c.fid_symmetric);
    /* symmetry and identity */
    double r = fid_of(c.b, c.a, c.n, c.d);
    CU_ASSERT(fabs(r - f) <= 1e-9 * f);
    double z = fid_of(c.a, c.a, c.n, c.d), z2 = fid_of(c.b, c.b, c.n, c.d);
    if (fabs(z) > 1e-9 || fabs(z2) > 1e-9) printf("\n  FID(a,a) = %.3g, FID(b,b) = %.3g\n", z, z2);
    CU_ASSERT(fabs(z) <= 1e-9 && fabs(z2) <= 1e-9);
    case_free(&c);
}

static void test_rank_deficient(void)
{
    fid_case c;
    case_load(&c, "rankdef");
    CU_ASSERT(c.n < c.d);
    CU_ASSERT(c.sqrtm_max_imag > 0); /* where scipy's sqrtm went complex */
    check_stats(&c, "rankdef");
    double f = fid_of(c.a, c.b, c.n, c.d);
    double e = fabs(f - c.fid_symmetric) / c.fid_symmetric;
    if (!(isfinite(f) && f >= 0 && e <= 1e-6))
        printf("\n  rank-deficient FID %.17g, numpy symmetric %.17g (rel %.3g)\n", f, c.fid_symmetric, e);
    CU_ASSERT(isfinite(f));
    CU_ASSERT(f >= 0);
    CU_ASSERT(e <= 1e-6);
    double r = fid_of(c.b, c.a, c.n, c.d);
    if (!(fabs(r - f) <= 1e-9 * f)) printf("\n  rank-deficient FID(b,a) %.17g, FID(a,b) %.17g\n", r, f);
    CU_ASSERT(isfinite(r) && fabs(r - f) <= 1e-9 * f);
    double z = fid_of(c.a, c.a, c.n, c.d);
    if (fabs(z) > 1e-9) printf("\n  rank-deficient FID(a,a) = %.3g\n", z);
    CU_ASSERT(fabs(z) <= 1e-9);
    case_free(&c);
}

/* Closed forms: commuting (diagonal) covariances give sum (m1-m2)^2 + (sqrt s1 - sqrt s2)^2; a
 * common shift of both sets leaves FID unchanged; a zero covariance is allowed. */
static void test_closed_forms(void)
{
    enum { D = 5 };
    double mu1[D] = {0, 1, -2, 0.5, 3}, mu2[D] = {1, 1, 0, -0.5, 3};
    double v1[D] = {1, 4, 0.25, 2, 0}, v2[D] = {9, 1, 0.25, 0.5, 3};
    double s1[D * D] = {0}, s2[D * D] = {0}, want = 0;
    for (int i = 0; i < D; i++) {
        s1[i * D + i] = v1[i];
        s2[i * D + i] = v2[i];
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(v1[i]) - sqrt(v2[i])) * (sqrt(v1[i]) - sqrt(v2[i]));
    }
    double f = NAN;
    CU_ASSERT_EQUAL_FATAL(ofa_fid(mu1, s1, mu2, s2, D, &f), 0);
    if (fabs(f - want) > 1e-12 * want) printf("\n  diagonal: %.17g, expected %.17g\n", f, want);
    CU_ASSERT(fabs(f - want) <= 1e-12 * want);
    /* d = 1 */
    double m = 2, v = 4, m2 = -1, w = 1;
    CU_ASSERT_EQUAL(ofa_fid(&m, &v, &m2, &w, 1, &f), 0);
    CU_ASSERT_DOUBLE_EQUAL(f, 9.0 + 1.0, 1e-12);

    /* random sets of 600 rows (more than one block of the covariance) against a plain loop, and
     * invariance under a common shift */
    enum { N = 600, K = 7 };
    double *a = malloc(sizeof(double) * N * K), *b = malloc(sizeof(double) * N * K);
    ofa_rng r;
    ofa_rng_seed(&r, 11);
    for (int i = 0; i < N * K; i++) {
        a[i] = ofa_rng_normal(&r) * (1 + i % K);
        b[i] = ofa_rng_normal(&r) + 0.1 * (i % K) + 0.5 * a[i];
    }
    double mu[K], s[K * K], ref_mu[K] = {0}, ref_s[K * K] = {0};
    CU_ASSERT_EQUAL_FATAL(ofa_fid_stats(a, N, K, mu, s), 0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) ref_mu[j] += a[i * K + j] / N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++)
            for (int k = 0; k < K; k++) ref_s[j * K + k] += (a[i * K + j] - ref_mu[j]) * (a[i * K + k] - ref_mu[k]) / (N - 1);
    CU_ASSERT(rel_err("600-row mu", mu, ref_mu, K, 1e-12) <= 1e-12);
    CU_ASSERT(rel_err("600-row sigma", s, ref_s, K * K, 1e-12) <= 1e-12);
    double f0 = fid_of(a, b, N, K);
    for (int i = 0; i < N * K; i++) a[i] += 3.0 * (i % K) - 1, b[i] += 3.0 * (i % K) - 1;
    double f1 = fid_of(a, b, N, K);
    if (fabs(f1 - f0) > 1e-9 * f0) printf("\n  shifted: %.17g vs %.17g\n", f1, f0);
    CU_ASSERT(f0 > 0 && fabs(f1 - f0) <= 1e-9 * f0);
    free(a);
    free(b);
}

static void test_errors(void)
{
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, mu[2], s[4], f = 0;
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_fid_stats(x, 1, 2, mu, s), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "at least 2"));
    CU_ASSERT_EQUAL(ofa_fid_stats(x, 0, 2, mu, s), OFA_E_DATA);
    CU_ASSERT_EQUAL(ofa_fid_stats(x, 2, 2, mu, s), 0);
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_fid_features(x, 4, x, 1, 2, &f), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "second set"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "got 1"));
    x[5] = NAN;
    ofa_err_clear();
    CU_ASSERT_EQUAL(ofa_fid_features(x, 4, x, 4, 2, &f), OFA_E_DATA);
    CU_ASSERT_PTR_NOT_NULL(strstr(ofa_err_msg(), "not finite"));
    double m1[1] = {0}, inf[1] = {INFINITY}, one[1] = {1};
    CU_ASSERT_EQUAL(ofa_fid(m1, inf, m1, one, 1, &f), OFA_E_DATA);
    CU_ASSERT_EQUAL(ofa_fid(inf, one, m1, one, 1, &f), OFA_E_DATA);
}

int test_fid_register(void)
{
    CU_pSuite s = CU_add_suite("fid", NULL, NULL);
    if (!s) return tu_cunit_error();
    if (!CU_add_test(s, "full_rank", test_full_rank) || !CU_add_test(s, "rank_deficient", test_rank_deficient) ||
        !CU_add_test(s, "closed_forms", test_closed_forms) || !CU_add_test(s, "errors", test_errors))
        return tu_cunit_error();
    return CUE_SUCCESS;
}
