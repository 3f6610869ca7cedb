"""Drawing a generator's inputs from what its `GeneratorExport` declares: the same draws for the
evaluator, the sampler, the training loop's sample grids and `jaxgan.load`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.families.protocol import GeneratorExport, Inputs


def latents(export: GeneratorExport, key: jax.Array, num: int,
            truncation: float | None = None) -> jax.Array:
    """z ~ N(0, I) [num, latent_dim]; with a truncation applied to the latents (BigGAN's
    `z_threshold` t), each coordinate from N(0, 1) restricted to [-t, t]."""
    shape = (num, export.latent_dim)
    if truncation is not None and export.truncation is not None \
            and export.truncation.in_latents:
        return jax.random.truncated_normal(key, -truncation, truncation, shape, jnp.float32)
    return jax.random.normal(key, shape, jnp.float32)


def balanced_labels(export: GeneratorExport, num: int, columns: int | None = None
                    ) -> jax.Array | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... (every class or code equally often; with `columns`, a
    grid with one class per column), or None for a generator without a label input."""
    k = export.label_count
    if not k:
        return None
    return jnp.arange(num, dtype=jnp.int32) % (columns or k) % k


def stratified_codes(prior_K: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` labels whose counts follow `prior` as closely as integers can (largest
    remainder), in a seeded random order: a stratified draw from the prior, without
    multinomial noise."""
    prior = np.asarray(prior_K, np.float64)
    if prior.ndim != 1 or np.any(prior < 0) or not np.isclose(prior.sum(), 1.0):
        raise ValueError("prior must be a probability vector")
    exact = prior * count
    counts = np.floor(exact).astype(np.int64)
    short = count - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    codes = np.repeat(np.arange(len(prior), dtype=np.int32), counts)
    return np.random.default_rng(seed).permutation(codes)


def draw(export: GeneratorExport, key: jax.Array, num: int, labels=None,
         truncation: float | None = None) -> Inputs:
    """Noise inputs of `num` samples: "z" when the generator takes latents, "label" (the given
    `labels`, else balanced) when it takes a class or code. Image inputs come from data."""
    inputs: Inputs = {}
    if export.latent_dim:
        inputs["z"] = latents(export, key, num, truncation)
    if export.label_count:
        inputs["label"] = (balanced_labels(export, num) if labels is None
                           else jnp.asarray(labels, jnp.int32))
    return inputs
