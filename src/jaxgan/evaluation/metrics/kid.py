"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with a cubic kernel."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from numpy.typing import ArrayLike


def _kernel(x: jax.Array, y: jax.Array) -> jax.Array:
    """k(x, y) = (x·y / D + 1)³ for all pairs of rows."""
    d = x.shape[-1]
    dots = jnp.matmul(x, y.T, precision=jax.lax.Precision.HIGHEST)
    return (dots / d + 1.0) ** 3


def _mmd2_unbiased(x: jax.Array, y: jax.Array) -> jax.Array:
    m = x.shape[0]
    k_xx, k_yy, k_xy = _kernel(x, x), _kernel(y, y), _kernel(x, y)
    off_diagonal = m * (m - 1)
    # Row sums first, then the sum of rows: shorter float32 accumulations than one flat sum.
    sum_xx = jnp.sum(jnp.sum(k_xx, axis=1)) - jnp.trace(k_xx)
    sum_yy = jnp.sum(jnp.sum(k_yy, axis=1)) - jnp.trace(k_yy)
    sum_xy = jnp.sum(jnp.sum(k_xy, axis=1))
    return sum_xx / off_diagonal + sum_yy / off_diagonal - 2.0 * sum_xy / (m * m)


@jax.jit
def _mmd2_subsets(a: jax.Array, b: jax.Array, idx_a: jax.Array, idx_b: jax.Array) -> jax.Array:
    # One subset at a time keeps three [m, m] kernel matrices in memory, not num_subsets of them.
    return jax.lax.map(lambda ij: _mmd2_unbiased(a[ij[0]], b[ij[1]]), (idx_a, idx_b))


def kernel_inception_distance(
    features_a: ArrayLike,
    features_b: ArrayLike,
    subset_size: int = 1000,
    num_subsets: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased MMD² estimate over `num_subsets` random subsets.

    Each subset draws `subset_size` rows of each set without replacement (clipped to the smaller
    set's size), with k(x, y) = (x·y / D + 1)³. The estimate is unbiased, so it can be slightly
    negative when both sets come from the same distribution. Subsets are a pure function of `seed`.
    """
    a = np.asarray(features_a, dtype=np.float32)
    b = np.asarray(features_b, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need [N, D] and [M, D] features, got {a.shape} and {b.shape}")
    m = min(subset_size, a.shape[0], b.shape[0])
    if m < 2 or num_subsets < 1:
        raise ValueError(f"need subset_size >= 2 and num_subsets >= 1, got {m} and {num_subsets}")
    rng = np.random.default_rng(seed)
    idx_a = np.stack([rng.choice(a.shape[0], m, replace=False) for _ in range(num_subsets)])
    idx_b = np.stack([rng.choice(b.shape[0], m, replace=False) for _ in range(num_subsets)])
    mmd2 = np.asarray(_mmd2_subsets(a, b, idx_a.astype(np.int32), idx_b.astype(np.int32)))
    return float(mmd2.mean()), float(mmd2.std())
