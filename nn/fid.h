/* nn/fid: the Frechet distance between two feature sets (FID), in double precision.
 *
 *   ofa_fid_stats(x, n, d, mu, sigma);            // per set: mean [d], covariance [d, d]
 *   ofa_fid(mu1, s1, mu2, s2, d, &fid);           // the distance of the two Gaussians
 *
 * FID = |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2).  The covariance is the unbiased one
 * (divided by n - 1), as numpy.cov and pytorch-fid compute it.  The trace term uses the symmetric
 * form tr sqrt(S1 S2) = sum_i sqrt(max(eig_i(sqrt(S1) S2 sqrt(S1)), 0)), with sqrt(S1) from the
 * symmetric eigendecomposition S1 = Q diag(l) Q^T (LAPACKE_dsyevd; negative l clamped to 0), never
 * a general matrix square root: sqrt(S1) S2 sqrt(S1) is symmetric positive semidefinite, so a
 * rank-deficient covariance (fewer samples than dimensions) still gives a finite real answer where
 * scipy.linalg.sqrtm(S1 @ S2) turns complex.  It is computed as the orthogonally similar
 * diag(sqrt l) (Q^T S2 Q) diag(sqrt l), which has the same eigenvalues.  The result is not clamped:
 * FID of a set with itself is 0 up to rounding (about 1e-15 of tr S, either sign).
 *
 * Matrices are row-major and symmetric (both triangles filled).  Not collective; uses OpenBLAS
 * (with its threads) and LAPACKE; no global state.
 */
#ifndef OFA_NN_FID_H
#define OFA_NN_FID_H

#include <stdint.h>

/* Mean mu [d] and unbiased covariance sigma [d, d] of the n rows of x [n, d].  OFA_E_DATA when
 * n < 2 (a covariance needs two samples) or a feature is not finite. */
int ofa_fid_stats(const double *x, int64_t n, int d, double *mu, double *sigma);

/* *fid = the Frechet distance of N(mu1, s1) and N(mu2, s2).  OFA_E_DATA for a non-finite input,
 * OFA_E_RUNTIME when the eigensolver does not converge. */
int ofa_fid(const double *mu1, const double *s1, const double *mu2, const double *s2, int d, double *fid);

/* Both steps on two feature sets a [na, d] and b [nb, d]. */
int ofa_fid_features(const double *a, int64_t na, const double *b, int64_t nb, int d, double *fid);

#endif
