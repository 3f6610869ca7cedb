"""The train-state pytree shared by every GAN family: arrays only, so it checkpoints as such."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp


@flax.struct.dataclass
class TrainState:
    step: jax.Array  # int32 [], number of completed train steps
    rng: jax.Array  # uint32 key data; each step folds `step` into it
    generator: dict[str, Any]  # Flax variables: params, batch_stats, ... (what generation needs)
    discriminator: dict[str, Any]
    g_opt_state: Any
    d_opt_state: Any
    generator_ema: dict[str, Any]  # EMA generator variables (what evaluation uses); {} when unused
    extra: dict[str, Any]  # family-specific running values (e.g. EMA weights, pl_mean)


def initial_state(run_key: jax.Array, generator: dict[str, Any], discriminator: dict[str, Any],
                  g_tx, d_tx, ema: bool, extra: dict[str, Any] | None = None) -> TrainState:
    """Step 0: optimizer states for both networks' params, an EMA copy of the generator when
    `ema`, the run's key data."""
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(run_key),
        generator=generator,
        discriminator=discriminator,
        g_opt_state=g_tx.init(generator["params"]),
        d_opt_state=d_tx.init(discriminator["params"]),
        generator_ema=jax.tree.map(jnp.copy, generator) if ema else {},
        extra=extra or {},
    )


def num_params(tree: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(tree)))
