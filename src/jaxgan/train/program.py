"""The compiled pieces of a run, built once from a config and a mesh: the sharded initial state,
each train phase (compiled on first use, once), the sample generator. Shared by training, the
dry run and the bench."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import families, sharding
from jaxgan.errors import UserError
from jaxgan.families.protocol import BatchSpec
from jaxgan.models import layers
from jaxgan.state import NetState, TrainState, num_params


class Program:
    def __init__(self, config, mesh: jax.sharding.Mesh):
        self.config, self.mesh = config, mesh
        self.family = families.get(config.family)
        if config.accumulate_steps > 1 and not self.family.accumulation:
            raise UserError(f"accumulate_steps={config.accumulate_steps}: the "
                            f"{self.family.name} family does not accumulate gradients; set "
                            f"accumulate_steps=1")
        self.spec = self.family.setup(config)
        init = functools.partial(self.family.init, self.spec, config.seed)
        trainable = jax.eval_shape(init)
        # Frozen networks: host arrays from their checked files, placed into the state (an
        # argument of every phase, never a compiled-in constant).
        self.frozen = self.family.frozen(self.spec)
        abstract = trainable.replace(nets={**trainable.nets, **{
            name: NetState(jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype),
                                        variables), None)
            for name, variables in self.frozen.items()}})
        replicated = sharding.replicated(mesh)
        self.replicated = replicated
        # Trainable arrays by `config.sharding` (replicated by default); frozen ones replicated.
        init_sharding = sharding.state_shardings(trainable, mesh, config.sharding)
        self.state_sharding = init_sharding.replace(nets={**init_sharding.nets, **{
            name: jax.tree.map(lambda _: replicated, abstract.nets[name])
            for name in self.frozen}})
        self.abstract_state: TrainState = jax.tree.map(
            lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
            abstract, self.state_sharding,
        )
        self.batch_sharding = sharding.batch_sharded(mesh)
        self._init = jax.jit(init, out_shardings=init_sharding)
        self._phases: dict[str, Callable] = {}
        self.export_name, self.export = self.family.default_generator(self.spec)
        self.generate = jax.jit(self.export.generate, out_shardings=replicated)
        self.all_finite = jax.jit(
            lambda s: jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(
                {name: net.params for name, net in s.nets.items() if net.trainable})])),
            out_shardings=replicated,
        )

    def with_frozen(self, state: TrainState) -> TrainState:
        """`state` (restored or new, trainable networks only) with the frozen networks."""
        if not self.frozen:
            return state
        placed = {name: NetState(jax.device_put(jax.tree.map(np.asarray, variables),
                                                self.replicated), None)
                  for name, variables in self.frozen.items()}
        return state.replace(nets={**state.nets, **placed})

    def init(self) -> TrainState:
        return self.with_frozen(self._init())

    def _gathered(self, state: TrainState) -> TrainState:
        """Inside a phase: the networks' variables constrained whole along the data axis (kept
        split along any other axis, e.g. a `model` axis), so that parameters sharded over
        'data' are all-gathered where they are used (FSDP) and GSPMD never splits activations
        along them; optimizer state and EMA copies keep their sharding, and the outputs go
        back to it (gradients are reduce-scattered)."""
        def gathered(s: jax.sharding.NamedSharding) -> jax.sharding.NamedSharding:
            spec = [None if axis == sharding.DATA_AXIS else axis for axis in s.spec]
            return jax.sharding.NamedSharding(self.mesh, jax.sharding.PartitionSpec(*spec))

        nets = {name: NetState(jax.lax.with_sharding_constraint(
                    net.variables, jax.tree.map(gathered,
                                                self.state_sharding.nets[name].variables)),
                    net.opt_state)
                for name, net in state.nets.items()}
        return state.replace(nets=nets)

    def _phase_fn(self, name: str) -> Callable:
        run = functools.partial(self.family.train_phase, self.spec, name)

        def phase(state, batch):
            # The mesh in context, for `sharding.constrain_batch` in the family.
            with jax.sharding.use_abstract_mesh(self.mesh.abstract_mesh):
                if self.config.sharding.rules:
                    state = self._gathered(state)
                return run(state, batch)

        return phase

    def phase(self, name: str) -> Callable:
        """The jitted train phase `name` (compiled on first use, once: state donated)."""
        if name not in self._phases:
            self._phases[name] = jax.jit(
                self._phase_fn(name),
                in_shardings=(self.state_sharding, self.batch_sharding),
                out_shardings=(self.state_sharding, self.replicated),
                donate_argnums=0,
                compiler_options=layers.compiler_options(jax.default_backend()) or None,
            )
        return self._phases[name]

    def phases(self, step: int) -> tuple[str, ...]:
        return self.family.phases(self.spec, step)

    def stage(self, step: int) -> str:
        return self.family.stage(self.spec, step)

    def step(self, state: TrainState, batch, step: int) -> tuple[TrainState, dict[str, Any]]:
        """Train step `step` (0-based): the family's phases for that step, in order, on one batch.
        Which phases run is decided here in Python, so each compiles once (lazy regularizers,
        n_critic)."""
        metrics: dict[str, Any] = {}
        for name in self.phases(step):
            state, phase_metrics = self.phase(name)(state, batch)
            metrics.update(phase_metrics)
        return state, metrics

    def batch_spec(self, step: int) -> BatchSpec:
        return dict(self.family.batch_spec(self.spec, step))

    def abstract_batch(self, step: int = 0) -> dict[str, jax.ShapeDtypeStruct]:
        b = self.config.batch_size
        return {name: jax.ShapeDtypeStruct((b, *field.shape), np.dtype(field.dtype),
                                           sharding=self.batch_sharding)
                for name, field in self.batch_spec(step).items()}

    def generation_vars(self, state: TrainState) -> dict[str, Any]:
        """What the sample grids use: the EMA copy of the exported network when kept."""
        network = self.export.network
        return state.ema.get(network) or state.nets[network].variables

    def param_counts(self) -> dict[str, int]:
        return {f"params/{name}": num_params(net.variables["params"])
                for name, net in self.abstract_state.nets.items() if net.trainable}
