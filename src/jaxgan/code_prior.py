"""The prior of an InfoGAN latent code, estimated on real data after training.

InfoGAN trains with a uniform K-way code, so a generator whose codes split the digits unevenly
(two codes for "1", one code for "4" and "9") draws its classes in the wrong proportions. The
Q head learned p(c | x) on generated images under that uniform prior; on real images its
posteriors say which code each real image belongs to. The prior that makes the codes' shares
match the real data is then a label-shift problem (Saerens, Latinne & Decaestecker 2002,
"Adjusting the outputs of a classifier to new a priori probabilities"): EM on the mixing weights
with Q's likelihood ratios held fixed,

    p(c | x) under prior w  ∝  q(c | x) * w_c / u_c,      w_c <- mean over x of p(c | x),

where u is the training prior (uniform). No labels are read. The generator is unchanged; only
the distribution its codes are drawn from.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import UserError


def q_posteriors(spec, discriminator_vars: dict[str, Any], images: np.ndarray,
                 batch_size: int) -> np.ndarray:
    """softmax(Q(x)) [N, K] for real images (float32 in [-1, 1], the model's input shape).

    D's BatchNorm uses the statistics of each batch, as in training, where Q only ever saw
    batches of one kind (all generated), never D's running averages over real and fake passes."""
    from jaxgan.families.gan import MUTABLE

    if not getattr(spec, "info_categories", 0):
        raise UserError("a code prior needs an InfoGAN model (model.info_categories > 0)")
    if batch_size < 2:
        raise UserError(f"the code prior needs batches of at least 2 images, not {batch_size}")

    @jax.jit
    def posteriors(x):
        outputs, _ = spec.discriminator.apply(discriminator_vars, x, None, train=True,
                                              mutable=MUTABLE, return_code=True)
        return jax.nn.softmax(outputs[-1].astype(jnp.float32), axis=-1)

    n = len(images)
    out = []
    for start in range(0, n, batch_size):
        if start + batch_size > n >= batch_size:
            # The last, short batch: a full batch ending at the last image (one compiled shape,
            # and batch statistics over as many images as the others), keeping the new rows.
            out.append(np.asarray(posteriors(images[n - batch_size:]))[start - n:])
        else:
            out.append(np.asarray(posteriors(images[start:start + batch_size])))
    return np.concatenate(out)


def em_prior(posteriors_NxK: np.ndarray, train_prior_K: np.ndarray | None = None,
             max_iterations: int = 1000, tolerance: float = 1e-10) -> tuple[np.ndarray, int]:
    """(prior [K], iterations used): the maximum-likelihood mixing weights of the codes on the
    images whose posteriors (computed under `train_prior`, default uniform) are given."""
    q = np.asarray(posteriors_NxK, np.float64)
    if q.ndim != 2 or q.shape[0] == 0 or q.shape[1] < 2:
        raise ValueError(f"posteriors must be [N > 0, K >= 2], not {q.shape}")
    k = q.shape[1]
    u = np.full(k, 1.0 / k) if train_prior_K is None else np.asarray(train_prior_K, np.float64)
    ratio = q / u  # likelihood ratios up to a per-image constant
    w = u.copy()
    for i in range(1, max_iterations + 1):
        p = ratio * w
        p /= p.sum(axis=1, keepdims=True)
        new = p.mean(axis=0)
        if np.max(np.abs(new - w)) < tolerance:
            return new, i
        w = new
    return w, max_iterations


def stratified_codes(prior_K: np.ndarray, count: int, seed: int) -> np.ndarray:
    """`count` codes whose counts follow `prior` as closely as integers can (largest remainder),
    in a seeded random order: a stratified draw from the prior, without multinomial noise."""
    prior = np.asarray(prior_K, np.float64)
    if prior.ndim != 1 or np.any(prior < 0) or not np.isclose(prior.sum(), 1.0):
        raise ValueError("prior must be a probability vector")
    exact = prior * count
    counts = np.floor(exact).astype(np.int64)
    short = count - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    codes = np.repeat(np.arange(len(prior), dtype=np.int32), counts)
    return np.random.default_rng(seed).permutation(codes)


# --- learned during training (model.info_prior=learned) -----------------------------------------


def uniform(k: int) -> jax.Array:
    return jnp.full((k,), 1.0 / k, jnp.float32)


def sampling_prior(prior_K: jax.Array, floor: float) -> jax.Array:
    """What training draws codes from: the learned prior with a `floor` share of uniform draws,
    so that a code the prior has (nearly) dropped is still generated and Q still learns it."""
    return (1.0 - floor) * prior_K + floor / prior_K.shape[-1]


def online_em_step(prior_K: jax.Array, sampling_K: jax.Array, q_real_BxK: jax.Array,
                   momentum: float) -> jax.Array:
    """One stochastic EM step of the prior on a real batch. Q was trained on codes drawn from
    `sampling`, so its posteriors are moved to the current prior first (the same label-shift
    correction as `em_prior`), then their batch mean is averaged into the prior."""
    p = q_real_BxK * (prior_K / sampling_K)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    return momentum * prior_K + (1.0 - momentum) * jnp.mean(p, axis=0)
