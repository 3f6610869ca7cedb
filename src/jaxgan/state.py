"""The train-state pytree shared by every GAN family: arrays only, so it checkpoints as such."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax


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


def num_params(tree: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(tree)))
