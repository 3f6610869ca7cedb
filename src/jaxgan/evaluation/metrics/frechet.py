"""Fréchet distance between Gaussians fitted to two feature sets (FID, Heusel et al. 2017)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _as_features(features: ArrayLike, name: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name} must be [N, D] features, got shape {x.shape}")
    if x.shape[0] < 2:
        raise ValueError(
            f"{name} needs at least 2 samples to estimate a covariance, got {x.shape[0]}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values")
    return x


def feature_stats(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) in float64; the covariance is unbiased (ddof=1, as `np.cov`)."""
    x = _as_features(features, "features")
    mu = x.mean(axis=0)
    centered = x - mu
    # Centre before the product: the float64 sum of squares of raw activations loses digits.
    sigma = centered.T @ centered / (x.shape[0] - 1)
    return mu, sigma


def _clip_null_space(eigenvalues: np.ndarray) -> np.ndarray:
    """Eigenvalues below the rank tolerance (as `np.linalg.matrix_rank`'s) are rounding noise of
    zero: their square roots (~1e-8 each) would otherwise add up across a null space."""
    tolerance = np.max(np.abs(eigenvalues)) * eigenvalues.shape[0] * np.finfo(np.float64).eps
    return np.where(eigenvalues > tolerance, eigenvalues, 0.0)


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr(sqrtm(sigma1 @ sigma2)) for symmetric PSD matrices.

    sigma1 @ sigma2 has the same eigenvalues as the symmetric PSD matrix
    sqrt(sigma1) @ sigma2 @ sqrt(sigma1), so the trace is the sum of the square roots of its
    eigenvalues. Unlike `scipy.linalg.sqrtm` of the non-symmetric product (pytorch-fid retries
    with an eps offset on the diagonal), this is stable when a covariance is singular (fewer
    samples than dimensions).
    """
    w1, v1 = np.linalg.eigh(sigma1)
    sqrt1 = (v1 * np.sqrt(_clip_null_space(w1))) @ v1.T
    middle = sqrt1 @ sigma2 @ sqrt1
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2.0)
    return float(np.sqrt(_clip_null_space(eigenvalues)).sum())


def frechet_distance_from_stats(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike
) -> float:
    """||mu1 - mu2||² + tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)), computed in float64."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    for name, shape in (("mu2", mu2.shape), ("sigma1", sigma1.shape), ("sigma2", sigma2.shape)):
        expected = (d,) if name.startswith("mu") else (d, d)
        if d < 0 or shape != expected:
            raise ValueError(
                f"statistics do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, "
                f"sigma1 {sigma1.shape}, sigma2 {sigma2.shape}"
            )
    diff = mu1 - mu2
    tr_covmean = _trace_sqrt_product(sigma1, sigma2)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two [N, D] feature sets (FID on Inception
    pool features, `fid_lenet` on the domain classifier's features)."""
    a = _as_features(features_a, "features_a")
    b = _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_from_stats(*feature_stats(a), *feature_stats(b))
