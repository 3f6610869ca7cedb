"""InfoGAN's categorical latent code (Chen et al. 2016): the codes a training batch draws, and
the codes' prior, learned during training or estimated on real data after it.

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
from jaxgan.families.gan.networks import MUTABLE


def q_posteriors(spec, discriminator_vars: dict[str, Any], images: np.ndarray,
                 batch_size: int) -> np.ndarray:
    """softmax(Q(x)) [N, K] for real images (float32 in [-1, 1], the model's input shape).

    D's BatchNorm uses the statistics of each batch, as in training, where Q only ever saw
    batches of one kind (all generated), never D's running averages over real and fake passes."""
    if not spec.info_categories:
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


def check(config) -> None:
    m, loss, tr = config.model, config.loss, config.training
    if m.info_categories < 0 or m.info_categories == 1:
        raise UserError(f"model.info_categories must be 0 (off) or at least 2, not "
                        f"{m.info_categories}")
    if m.info_categories and m.num_classes:
        raise UserError("model.info_categories (an unsupervised code) and model.num_classes "
                        "(labels) cannot both be set; choose one")
    if m.info_projection and not m.info_categories:
        raise UserError("model.info_projection conditions D on InfoGAN's code: set "
                        "model.info_categories (e.g. 20)")
    if m.info_categories and loss.info_weight <= 0:
        raise UserError(f"loss.info_weight must be positive with model.info_categories, not "
                        f"{loss.info_weight}")
    if m.info_prior not in ("uniform", "learned"):
        raise UserError(f"model.info_prior must be uniform or learned, not {m.info_prior!r}")
    if m.info_prior == "learned":
        if not m.info_categories:
            raise UserError("model.info_prior=learned is the prior of InfoGAN's code: set "
                            "model.info_categories (e.g. 20)")
        if not 0.0 <= tr.info_prior_momentum < 1.0:
            raise UserError(f"training.info_prior_momentum must be in [0, 1), not "
                            f"{tr.info_prior_momentum}")
        if not 0.0 <= tr.info_prior_floor <= 1.0:
            raise UserError(f"training.info_prior_floor must be in [0, 1], not "
                            f"{tr.info_prior_floor}")
        if tr.info_prior_start_step < 0:
            raise UserError(f"training.info_prior_start_step must be >= 0, not "
                            f"{tr.info_prior_start_step}")


def sample_codes(spec, key: jax.Array, num: int,
                 prior_K: jax.Array | None = None) -> jax.Array | None:
    """Codes c ~ Uniform{0, ..., K-1}, or c ~ `prior`, or None without a code."""
    if not spec.info_categories:
        return None
    if prior_K is None:
        return jax.random.randint(key, (num,), 0, spec.info_categories, jnp.int32)
    return jax.random.categorical(key, jnp.log(prior_K), shape=(num,)).astype(jnp.int32)


def training_codes(spec, key: jax.Array, num: int,
                   prior_K: jax.Array | None) -> jax.Array | None:
    """The codes of a training batch: `sample_codes`, or with `loss.mode_seeking` half as many,
    repeated, so that samples i and i + num / 2 share their code (and differ in z)."""
    if not spec.config.loss.mode_seeking or not spec.info_categories:
        return sample_codes(spec, key, num, prior_K)
    half = sample_codes(spec, key, num // 2, prior_K)
    return jnp.concatenate([half, half])


def training_prior(spec, state) -> jax.Array | None:
    """The distribution training draws codes from (None: uniform, InfoGAN's)."""
    if not spec.learned_prior:
        return None
    return sampling_prior(state.extra["code_prior"], spec.config.training.info_prior_floor)


def update_prior(spec, state, sampling_K: jax.Array | None,
                 real_code_probs: jax.Array | None, metrics: dict[str, jax.Array]):
    """state.extra with the learned code prior moved by one online EM step (from
    `training.info_prior_start_step` on); its extremes join the metrics."""
    if real_code_probs is None:
        return state.extra
    tr = spec.config.training
    prior = state.extra["code_prior"]
    moved = online_em_step(prior, sampling_K, real_code_probs, tr.info_prior_momentum)
    prior = jnp.where(state.step >= tr.info_prior_start_step, moved, prior)
    metrics["code_prior_min"] = jnp.min(prior)
    metrics["code_prior_max"] = jnp.max(prior)
    return {**state.extra, "code_prior": prior}
