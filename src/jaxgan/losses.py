"""Adversarial losses on discriminator logits, registered by name (`config.loss.name`).

Each entry is a pair (d_loss(real_logits, fake_logits), g_loss(fake_logits)) of batch means."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp


class AdversarialLoss(NamedTuple):
    d_loss: Callable[[jax.Array, jax.Array], jax.Array]
    g_loss: Callable[[jax.Array], jax.Array]


def _ns_d(real: jax.Array, fake: jax.Array) -> jax.Array:
    # -log sigmoid(real) - log(1 - sigmoid(fake)), written with softplus for stability.
    return jnp.mean(jax.nn.softplus(-real)) + jnp.mean(jax.nn.softplus(fake))


def _ns_g(fake: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.softplus(-fake))  # -log sigmoid(fake): the non-saturating G loss


LOSSES: dict[str, AdversarialLoss] = {
    "non_saturating": AdversarialLoss(_ns_d, _ns_g),
}


def get(name: str) -> AdversarialLoss:
    if name not in LOSSES:
        from jaxgan.errors import UserError

        raise UserError(f"unknown loss.name {name!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[name]
