"""Adversarial losses on discriminator logits, registered by name (`config.loss.name`).

Each entry is a pair (d_loss(real_logits, fake_logits, real_label=1.0), g_loss(fake_logits)) of
batch means. `real_label` < 1 is one-sided label smoothing (Salimans et al. 2016): the target of
D's real term; losses where a target has no meaning (hinge, wasserstein) reject it.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp


class DLoss(Protocol):
    def __call__(self, real: jax.Array, fake: jax.Array, real_label: float = 1.0) -> jax.Array:
        ...


class GLoss(Protocol):
    def __call__(self, fake: jax.Array) -> jax.Array:
        ...


class AdversarialLoss(NamedTuple):
    d_loss: DLoss
    g_loss: GLoss


def _logistic_d(real: jax.Array, fake: jax.Array, real_label: float = 1.0) -> jax.Array:
    # Binary cross-entropy, target real_label on real and 0 on fake, written with softplus:
    # -log sigmoid(x) = softplus(-x), -log(1 - sigmoid(x)) = softplus(x).
    real_term = real_label * jax.nn.softplus(-real) + (1.0 - real_label) * jax.nn.softplus(real)
    return jnp.mean(real_term) + jnp.mean(jax.nn.softplus(fake))


def _ns_g(fake: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-fake))  # -log sigmoid(fake): the non-saturating G loss


def _minimax_g(fake: jax.Array) -> jax.Array:
    # log(1 - sigmoid(fake)), minimised: Goodfellow et al.'s original (saturating) objective.
    return -jnp.mean(jax.nn.softplus(fake))


def _no_label(name: str, real_label: float) -> None:
    if real_label != 1.0:
        raise ValueError(f"loss {name!r} has no label to smooth; real_label must be 1.0, "
                         f"not {real_label}")


def _hinge_d(real: jax.Array, fake: jax.Array, real_label: float = 1.0) -> jax.Array:
    _no_label("hinge", real_label)
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def _wasserstein_d(real: jax.Array, fake: jax.Array, real_label: float = 1.0) -> jax.Array:
    _no_label("wasserstein", real_label)
    return jnp.mean(fake) - jnp.mean(real)


def _mean_g(fake: jax.Array) -> jax.Array:
    return -jnp.mean(fake)  # hinge and Wasserstein generators both raise the critic's score


def _ls_d(real: jax.Array, fake: jax.Array, real_label: float = 1.0) -> jax.Array:
    # LSGAN (Mao et al. 2017) with a = 0 (fake), b = real_label (real), c = 1 (G's target).
    return 0.5 * jnp.mean((real - real_label) ** 2) + 0.5 * jnp.mean(fake**2)


def _ls_g(fake: jax.Array) -> jax.Array:
    return 0.5 * jnp.mean((fake - 1.0) ** 2)


LOSSES: dict[str, AdversarialLoss] = {
    "non_saturating": AdversarialLoss(_logistic_d, _ns_g),
    "minimax": AdversarialLoss(_logistic_d, _minimax_g),
    "hinge": AdversarialLoss(_hinge_d, _mean_g),
    "wasserstein": AdversarialLoss(_wasserstein_d, _mean_g),
    "least_squares": AdversarialLoss(_ls_d, _ls_g),
}


def get(name: str) -> AdversarialLoss:
    if name not in LOSSES:
        from jaxgan.errors import UserError

        raise UserError(f"unknown loss.name {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """Feature matching (Salimans et al. 2016): squared distance between the batch means of D's
    intermediate features [B, ...], averaged over the feature dimensions. A generator loss; the
    real features carry no generator gradient either way."""
    diff = jnp.mean(real_features, axis=0) - jnp.mean(fake_features, axis=0)
    return jnp.mean(diff**2)


def info_loss(code_logits_BxK: jax.Array, codes_B: jax.Array) -> jax.Array:
    """InfoGAN's mutual-information term for a categorical code (Chen et al. 2016): the cross
    entropy of Q's prediction against the code G was given, a variational bound on -I(c; G(z, c))
    up to the code's entropy. Minimised by both G and Q (D's shared body and head)."""
    log_q = jax.nn.log_softmax(code_logits_BxK.astype(jnp.float32), axis=-1)
    return -jnp.mean(jnp.take_along_axis(log_q, codes_B[:, None].astype(jnp.int32), axis=-1))


def mode_seeking_loss(images_a: jax.Array, images_b: jax.Array, z_a: jax.Array,
                      z_b: jax.Array, eps: float = 1e-5) -> tuple[jax.Array, jax.Array]:
    """MSGAN's mode-seeking term (Mao et al. 2019), a generator loss: for pairs of samples drawn
    with the same condition (label or code) and different latents, the ratio r of the mean
    absolute image difference to the mean absolute latent difference, and the loss 1 / (r + eps).
    Minimising it spreads the images of one condition apart. Returns (loss, r)."""
    ratio = (jnp.mean(jnp.abs(images_a.astype(jnp.float32) - images_b.astype(jnp.float32)))
             / jnp.mean(jnp.abs(z_a - z_b)))
    return 1.0 / (ratio + eps), ratio
