"""Discriminator gradient penalties and BigGAN's orthogonal regularisation, as pure functions.

`d_fn` maps images [B, ...] to logits [B] and treats samples independently (the caller closes
over D's variables; a BatchNorm discriminator must be run with fixed statistics, or the
"per-sample" gradients mix samples; minibatch-std and minibatch-discrimination layers couple
samples too, and the gradient of the batch sum is then what StyleGAN2's R1 uses). Each function
returns the bare penalty: scale it by its weight (lambda, gamma / 2, beta) where it is added to
the loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

DFn = Callable[[jax.Array], jax.Array]


def _input_gradients(d_fn: DFn, x: jax.Array) -> jax.Array:
    """d D(x_i) / d x_i for every sample i: the gradient of the batch sum, since D is per-sample."""
    return jax.grad(lambda x: jnp.sum(d_fn(x)))(x)


def _squared_norms(g_BxN: jax.Array) -> jax.Array:
    return jnp.sum(g_BxN.reshape(g_BxN.shape[0], -1) ** 2, axis=1)


def gradient_penalty(d_fn: DFn, real: jax.Array, fake: jax.Array, key: jax.Array,
                     target: float = 1.0) -> jax.Array:
    """WGAN-GP (Gulrajani et al. 2017): mean over the batch of (||grad D(x_hat)||_2 - target)^2
    at x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per sample. Weight: lambda = 10."""
    eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
    x_hat = eps * real + (1.0 - eps) * fake
    grads = _input_gradients(d_fn, x_hat)
    # The tiny constant keeps the norm's own gradient finite where D is flat (grads = 0).
    norms = jnp.sqrt(_squared_norms(grads) + 1e-12)
    return jnp.mean((norms - target) ** 2)


def r1_norms(d_fn: DFn, x: jax.Array) -> jax.Array:
    """Per-sample ||grad_x D(x)||^2 [B], the gradient of the batch sum (StyleGAN2's
    `r1_penalty` before its mean)."""
    return _squared_norms(_input_gradients(d_fn, x))


def r1_penalty(d_fn: DFn, x: jax.Array) -> jax.Array:
    """R1 (Mescheder et al. 2018): mean over the batch of ||grad_x D(x)||^2 on real images; the
    same function on fake images is R2. Add gamma / 2 times this to D's loss (times the
    interval k when applied lazily every k steps, as StyleGAN2 does)."""
    return jnp.mean(r1_norms(d_fn, x))


def _is_kernel(path: tuple[Any, ...], leaf: jax.Array) -> bool:
    last = path[-1]
    name = getattr(last, "key", getattr(last, "name", None))
    return name == "kernel" and leaf.ndim >= 2


def orthogonal_regularization(
    params: Any,
    is_kernel: Callable[[tuple[Any, ...], jax.Array], bool] = _is_kernel,
) -> jax.Array:
    """BigGAN's orthogonal regularisation (Brock et al. 2019): the sum over weight matrices W
    (kernels reshaped to [fan_in, out]) of ||W^T W * (1 - I)||_F^2, which pushes the output
    filters towards orthogonality without constraining their norms. Weight: beta = 1e-4.

    By default a weight is every leaf named "kernel" with 2 or more dimensions (Dense and Conv
    kernels; not biases, BatchNorm scales, embeddings or the spectral-norm state); pass
    `is_kernel(path, leaf)` to choose others."""
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        if not is_kernel(path, leaf):
            continue
        w = leaf.reshape(-1, leaf.shape[-1]).astype(jnp.float32)
        gram = w.T @ w
        off_diagonal = gram * (1.0 - jnp.eye(gram.shape[0], dtype=gram.dtype))
        total = total + jnp.sum(off_diagonal**2)
    return total
