#!/usr/bin/python3
"""Golden file for nn/fid (tests/golden/README.md, "FID", describes it).

Usage: /usr/bin/python3 tests/golden/make_golden_fid.py OUT_DIR      (needs python3-scipy, h5py, numpy)
Writes OUT_DIR/fid.h5: two pairs of float64 feature sets with numpy's statistics and two FIDs each:
  - `fid_sqrtm`: the usual formula with scipy.linalg.sqrtm(S1 @ S2), exactly as pytorch-fid's
    calculate_frechet_distance computes it (the reference the issue names);
  - `fid_symmetric`: the symmetric form in numpy, tr sqrt(S1 S2) = sum sqrt(max(eig(sqrt(S1) S2
    sqrt(S1)), 0)) with sqrt(S1) = Q diag(sqrt(max(l, 0))) Q^T from numpy.linalg.eigh.
/full: 200 x 16 each (full-rank covariances: both formulas agree, the generator checks to 1e-9).
/rankdef: 10 x 32 each (rank-9 covariances): sqrtm returns complex values there (checked); the
symmetric form is finite, real and >= 0.
Deterministic: fixed seed, no timestamps (regenerating gives a byte-identical file).
"""
import os
import sys

import h5py
import numpy as np
import scipy
import scipy.linalg

SEED = 20240611


def stats(x):
    return np.mean(x, axis=0), np.cov(x, rowvar=False)


def fid_sqrtm(mu1, s1, mu2, s2):
    """pytorch-fid's calculate_frechet_distance (eps 1e-6 offset when sqrtm is not finite); also
    returns the largest |imag| of sqrtm's result (0 when real)."""
    diff = mu1 - mu2
    covmean, _ = scipy.linalg.sqrtm(s1.dot(s2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((s1 + offset).dot(s2 + offset))
    imag = float(np.max(np.abs(covmean.imag))) if np.iscomplexobj(covmean) else 0.0
    covmean = covmean.real
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)), imag


def fid_symmetric(mu1, s1, mu2, s2):
    l, q = np.linalg.eigh(s1)
    r1 = (q * np.sqrt(np.maximum(l, 0))) @ q.T
    m = r1 @ s2 @ r1
    e = np.linalg.eigvalsh((m + m.T) / 2)
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sum(np.sqrt(np.maximum(e, 0))))


def feature_set(rng, n, d, scale, shift):
    """n correlated Gaussian-ish vectors: z A + shift, A with a spread of singular values."""
    a = rng.standard_normal((d, d)) * scale / np.sqrt(d) + np.diag(np.linspace(0.2, 1.5, d))
    return rng.standard_normal((n, d)) @ a + shift


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: %s OUT_DIR\n" % sys.argv[0])
        sys.exit(2)
    rng = np.random.default_rng(SEED)
    sets = {
        "full": (feature_set(rng, 200, 16, 1.0, 0.0), feature_set(rng, 200, 16, 1.3, rng.standard_normal(16) * 0.5)),
        "rankdef": (feature_set(rng, 10, 32, 1.0, 0.0), feature_set(rng, 10, 32, 1.3, rng.standard_normal(32) * 0.5)),
    }
    out = {}
    for name, (a, b) in sets.items():
        mu_a, s_a = stats(a)
        mu_b, s_b = stats(b)
        f_sqrtm, imag = fid_sqrtm(mu_a, s_a, mu_b, s_b)
        f_sym = fid_symmetric(mu_a, s_a, mu_b, s_b)
        f_sym_ba = fid_symmetric(mu_b, s_b, mu_a, s_a)
        rank = int(np.linalg.matrix_rank(s_a))
        # self-checks
        assert np.allclose(s_a, (a - mu_a).T @ (a - mu_a) / (len(a) - 1), rtol=1e-12, atol=0)
        assert np.isfinite(f_sym) and f_sym >= 0, f_sym
        # symmetric in (a, b) up to rounding; rank-deficient: the sqrt of the null space's rounding
        # noise (eigenvalues ~1e-16 |S|, square roots ~1e-8) moves it by ~1e-9 relative
        assert abs(f_sym - f_sym_ba) <= (1e-9 if name == "full" else 1e-6) * f_sym, (f_sym, f_sym_ba)
        if name == "full":
            assert rank == a.shape[1], rank
            assert imag < 1e-10, imag
            assert abs(f_sqrtm - f_sym) <= 1e-9 * f_sym, (f_sqrtm, f_sym)
        else:
            assert rank == a.shape[0] - 1, rank
            assert imag > 1e-9, "sqrtm was expected to return complex values here (max |imag| %g)" % imag
        out[name] = (a, b, mu_a, s_a, mu_b, s_b, f_sqrtm, f_sym, imag, rank)
        print("%-8s %d x %d: FID sqrtm %.15g (max |imag| %.3g), symmetric %.15g (b,a: %.15g), rank %d"
              % (name, a.shape[0], a.shape[1], f_sqrtm, imag, f_sym, f_sym_ba, rank))

    path = os.path.join(sys.argv[1], "fid.h5")
    tmp = path + ".tmp"
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_V18, h5py.h5f.LIBVER_V110)
    with h5py.File(h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)) as f:
        f.attrs["seed"] = np.int64(SEED)
        f.attrs["scipy_version"] = str(scipy.__version__)
        f.attrs["numpy_version"] = str(np.__version__)
        f.attrs["description"] = (
            "FID references for nn/fid, by tests/golden/make_golden_fid.py. Per group: feature sets "
            "a, b [n, d] float64; mu_a, sigma_a, mu_b, sigma_b = numpy mean and cov (unbiased); attrs "
            "fid_sqrtm (pytorch-fid's formula with scipy.linalg.sqrtm, real part), fid_symmetric "
            "(sum sqrt(max(eig(sqrt(S1) S2 sqrt(S1)), 0)) via numpy eigh), sqrtm_max_imag, rank of sigma_a.")
        for name, (a, b, mu_a, s_a, mu_b, s_b, f_sqrtm, f_sym, imag, rank) in out.items():
            gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
            gcpl.set_obj_track_times(False)
            h5py.h5g.create(f.id, name.encode(), gcpl=gcpl)
            g = f[name]
            for k, v in (("a", a), ("b", b), ("mu_a", mu_a), ("sigma_a", s_a), ("mu_b", mu_b), ("sigma_b", s_b)):
                g.create_dataset(k, data=np.ascontiguousarray(v, dtype=np.float64), track_times=False)
            g.attrs["fid_sqrtm"] = np.float64(f_sqrtm)
            g.attrs["fid_symmetric"] = np.float64(f_sym)
            g.attrs["sqrtm_max_imag"] = np.float64(imag)
            g.attrs["rank"] = np.int64(rank)
    os.replace(tmp, path)
    print("%s: %d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
