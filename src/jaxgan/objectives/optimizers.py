"""Optimizers from config (`g_optimizer`, `d_optimizer`, ...), and the one gradient step every
family takes."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan import sharding
from jaxgan.errors import UserError
from jaxgan.state import NetState


def make(opt_config, reg_interval: int = 0) -> optax.GradientTransformation:
    """The optimizer `opt_config` names. With `reg_interval` k > 0 (a network whose lazy
    regulariser runs every k steps as a separate update, StyleGAN2's way), the learning rate
    and Adam's betas are rescaled by k / (k + 1) as in the reference."""
    if opt_config.name != "adam":
        raise UserError(f"unknown optimizer name {opt_config.name!r}; supported: adam")
    lr, b1, b2 = opt_config.learning_rate, opt_config.b1, opt_config.b2
    if reg_interval:
        ratio = reg_interval / (reg_interval + 1)
        lr, b1, b2 = lr * ratio, b1**ratio, b2**ratio
    return optax.adam(lr, b1=b1, b2=b2, eps=opt_config.eps)


def apply_gradients(tx: optax.GradientTransformation, net: NetState, grads: Any,
                    variables: dict[str, Any] | None = None,
                    sanitize: bool = False) -> NetState:
    """`net` after one step of `tx` on `grads`. `variables` replaces the network's non-param
    collections (batch statistics a training pass updated); `sanitize` zeroes NaNs and caps
    infinities in the gradients first (StyleGAN2's reference does)."""
    if sanitize:
        grads = jax.tree.map(lambda g: jnp.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5),
                             grads)
    grads = sharding.constrain_replicated(grads)
    updates, opt_state = tx.update(grads, net.opt_state, net.params)
    params = optax.apply_updates(net.params, updates)
    base = net.variables if variables is None else variables
    return NetState(variables={**base, "params": params}, opt_state=opt_state)
