/* nn/fid: feature statistics and the Frechet distance (see fid.h). */
#include "nn/fid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "core/error.h"

#define STATS_ROWS 256 /* rows centred and added into the covariance per dsyrk call */

int ofa_fid_stats(const double *x, int64_t n, int d, double *mu, double *sigma)
{
    OFA_ASSERT(d > 0);
    if (n < 2)
        return OFA_ERR(OFA_E_DATA, "FID needs at least 2 feature vectors per set (a covariance), got %lld", (long long)n);
    for (int j = 0; j < d; j++) mu[j] = 0;
    for (int64_t i = 0; i < n; i++) {
        const double *r = x + (size_t)i * d;
        for (int j = 0; j < d; j++) {
            if (!isfinite(r[j]))
                return OFA_ERR(OFA_E_DATA, "FID: feature %d of vector %lld is not finite (%g)", j, (long long)i, r[j]);
            mu[j] += r[j];
        }
    }
    for (int j = 0; j < d; j++) mu[j] /= (double)n;
    /* sigma = sum_i (x_i - mu)(x_i - mu)^T / (n - 1), as numpy.cov: centred blocks of rows, dsyrk
     * into the upper triangle, then mirrored */
    double *c = ofa_xmalloc(sizeof(double) * STATS_ROWS * (size_t)d);
    memset(sigma, 0, sizeof(double) * (size_t)d * d);
    for (int64_t i0 = 0; i0 < n; i0 += STATS_ROWS) {
        int rows = (int)(n - i0 < STATS_ROWS ? n - i0 : STATS_ROWS);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < d; j++) c[(size_t)i * d + j] = x[(size_t)(i0 + i) * d + j] - mu[j];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, c, d, 1.0, sigma, d);
    }
    free(c);
    const double inv = 1.0 / (double)(n - 1);
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) sigma[(size_t)j * d + i] = sigma[(size_t)i * d + j] *= inv;
    return 0;
}

/* Eigenvalues w (ascending) of the symmetric a [d, d] (row-major, upper triangle read), and its
 * eigenvectors in a's columns when vectors is set (a is overwritten either way). */
static int eig_sym(double *a, double *w, int d, int vectors, const char *what)
{
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', d, a, d, w);
    OFA_ASSERT(info >= 0); /* < 0: an argument was wrong */
    if (info > 0) return OFA_ERR(OFA_E_RUNTIME, "FID: the eigensolver (LAPACKE_dsyevd) did not converge on %s", what);
    return 0;
}

int ofa_fid(const double *mu1, const double *s1, const double *mu2, const double *s2, int d, double *fid)
{
    OFA_ASSERT(d > 0);
    const size_t dd = (size_t)d * d;
    double diff2 = 0, tr1 = 0, tr2 = 0;
    for (int i = 0; i < d; i++) {
        double e = mu1[i] - mu2[i];
        diff2 += e * e;
        tr1 += s1[(size_t)i * d + i];
        tr2 += s2[(size_t)i * d + i];
    }
    for (size_t k = 0; k < dd; k++)
        if (!isfinite(s1[k]) || !isfinite(s2[k]))
            return OFA_ERR(OFA_E_DATA, "FID: a covariance entry is not finite");
    if (!isfinite(diff2)) return OFA_ERR(OFA_E_DATA, "FID: a mean is not finite");

    double *q = ofa_xmalloc(sizeof(double) * dd), *t = ofa_xmalloc(sizeof(double) * dd);
    double *m = ofa_xmalloc(sizeof(double) * dd), *l = ofa_xmalloc(sizeof(double) * (size_t)d);
    /* S1 = Q diag(l) Q^T */
    memcpy(q, s1, sizeof(double) * dd);
    int rc = eig_sym(q, l, d, 1, "the first covariance");
    if (rc) goto out;
    for (int i = 0; i < d; i++) l[i] = sqrt(l[i] > 0 ? l[i] : 0);
    /* M = diag(sqrt l) Q^T S2 Q diag(sqrt l) = Q^T (sqrt(S1) S2 sqrt(S1)) Q: same eigenvalues */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, s2, d, q, d, 0.0, t, d); /* S2 Q */
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, q, d, t, d, 0.0, m, d);    /* Q^T S2 Q */
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double v = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]) * l[i] * l[j];
            m[(size_t)i * d + j] = m[(size_t)j * d + i] = v;
        }
    if ((rc = eig_sym(m, t, d, 0, "sqrt(S1) S2 sqrt(S1)"))) goto out;
    double tr_covmean = 0;
    for (int i = 0; i < d; i++) tr_covmean += sqrt(t[i] > 0 ? t[i] : 0);
    *fid = diff2 + tr1 + tr2 - 2.0 * tr_covmean;
out:
    free(q);
    free(t);
    free(m);
    free(l);
    return rc;
}

int ofa_fid_features(const double *a, int64_t na, const double *b, int64_t nb, int d, double *fid)
{
    OFA_ASSERT(d > 0);
    double *mu = ofa_xmalloc(sizeof(double) * 2 * (size_t)d);
    double *s = ofa_xmalloc(sizeof(double) * 2 * (size_t)d * d);
    int rc = ofa_fid_stats(a, na, d, mu, s);
    if (rc) ofa_err_prefix(rc, "first set");
    else if ((rc = ofa_fid_stats(b, nb, d, mu + d, s + (size_t)d * d))) ofa_err_prefix(rc, "second set");
    else rc = ofa_fid(mu, s, mu + d, s + (size_t)d * d, d, fid);
    free(mu);
    free(s);
    return rc;
}
