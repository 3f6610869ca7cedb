"""The train state every family uses: named networks, their EMA copies, the step and the run's key.

A family names its networks (`G` and `D`; `G_AB`, `G_BA`, `D_A`, `D_B`; a frozen `vgg`). Each is
a `NetState`: its Flax variables (params, batch_stats, spectral-norm state, buffers) and its
optimizer state, or `None` for a frozen network, which is loaded from a checked file and never
trained or checkpointed. Arrays only, so the state checkpoints as such.
"""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class NetState:
    variables: dict[str, Any]  # Flax variables: params, batch_stats, ...
    opt_state: Any = None  # None: a frozen network

    @property
    def params(self) -> Any:
        return self.variables["params"]

    @property
    def trainable(self) -> bool:
        return self.opt_state is not None


@flax.struct.dataclass
class TrainState:
    step: jax.Array  # int32 [], number of completed train steps
    rng: jax.Array  # uint32 key data; each step folds `step` into it
    nets: dict[str, NetState]
    ema: dict[str, dict[str, Any]]  # network name -> EMA variables (what evaluation uses)
    extra: dict[str, Any]  # family-specific running values (a code prior, pl_mean, a pool)

    def variables(self, name: str) -> dict[str, Any]:
        return self.nets[name].variables


def trainable(variables: dict[str, Any], tx: optax.GradientTransformation) -> NetState:
    """A network trained by `tx`: its optimizer state starts from its params."""
    return NetState(variables=variables, opt_state=tx.init(variables["params"]))


def frozen(variables: dict[str, Any]) -> NetState:
    return NetState(variables=variables, opt_state=None)


def initial_state(run_key: jax.Array, nets: dict[str, NetState], ema: tuple[str, ...] = (),
                  extra: dict[str, Any] | None = None) -> TrainState:
    """Step 0: the given networks, an EMA copy of each network named in `ema`, the run's key."""
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(run_key),
        nets=nets,
        ema={name: jax.tree.map(jnp.copy, nets[name].variables) for name in ema},
        extra=extra or {},
    )


def step_key(state: TrainState, *salt: int) -> jax.Array:
    """The key of this step: the run's key folded with the step number (and `salt`)."""
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    for s in salt:
        key = jax.random.fold_in(key, s)
    return key


def num_params(tree: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(tree)))
