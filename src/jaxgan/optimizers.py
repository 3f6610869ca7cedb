"""optax optimizers from `config.g_optimizer` / `config.d_optimizer` (so TTUR is a config change)."""

from __future__ import annotations

import optax

from jaxgan.errors import UserError


def make(opt_config) -> optax.GradientTransformation:
    if opt_config.name == "adam":
        return optax.adam(
            opt_config.learning_rate, b1=opt_config.b1, b2=opt_config.b2, eps=opt_config.eps
        )
    raise UserError(f"unknown optimizer name {opt_config.name!r}; supported: adam")
