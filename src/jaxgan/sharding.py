"""The device mesh and how arrays are laid out on it.

Batches are split over the mesh's `data` axis. The train state (parameters, optimizer state, EMA
copies) is replicated by default; `config.sharding` shards it instead, as data:

- `rules`: comma-separated `REGEX=AXIS` (or `REGEX=AXIS@DIM`, or `REGEX=` to keep replicated),
  the first rule whose regex is found in an array's path decides. Paths read
  `G/params/block0/conv1/kernel`, `G/opt_state/0/mu/block0/conv1/kernel` (Adam's moments mirror
  the parameters, so a rule on `kernel` shards them too), `ema/G/params/...`,
  `D/spectral/.../u`. Without `@DIM` the array is split along its largest dimension divisible
  by the axis size (none: replicated). `fsdp` stands for `.=data` (every array of at least
  `min_size` elements over the data axis: ZeRO-3 / FSDP); `REGEX=model@-1` splits output
  channels over a `model` axis.
- `min_size`: arrays with fewer elements stay replicated (biases, norms, scalars: their
  collectives would cost more than their memory).

Each jitted phase takes and returns the state with these shardings, and GSPMD inserts the
all-gathers and reduce-scatters; the computation is the replicated one's up to float summation
order. Checkpoints store global arrays, so a run restores onto any mesh or sharding.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxgan.errors import UserError

DATA_AXIS = "data"


def make_mesh(mesh_config) -> Mesh:
    """A mesh from `config.mesh` (axis name -> size, one size may be -1 for 'the rest')."""
    axes = dict(mesh_config.items()) if hasattr(mesh_config, "items") else dict(mesh_config)
    if DATA_AXIS not in axes:
        raise UserError(f"config.mesh must have a '{DATA_AXIS}' axis, got {axes}")
    devices = jax.devices()
    n = len(devices)
    sizes = dict(axes)
    free = [k for k, v in sizes.items() if v == -1]
    if len(free) > 1:
        raise UserError(f"config.mesh: at most one axis may be -1, got {axes}")
    fixed = math.prod(v for v in sizes.values() if v != -1)
    if free:
        if n % fixed:
            raise UserError(f"config.mesh {axes}: {n} devices are not divisible by {fixed}")
        sizes[free[0]] = n // fixed
    wanted = math.prod(sizes.values())
    if wanted > n or (wanted < n and jax.process_count() > 1):
        raise UserError(f"config.mesh {axes} needs {wanted} devices; there are {n}")
    # An explicit smaller mesh (e.g. data=1 on a multi-device host) uses the first devices.
    grid = np.asarray(devices[:wanted]).reshape(tuple(sizes.values()))
    return Mesh(grid, tuple(sizes.keys()))


def constrain_batch(tree: Any, batch_dim: int = 0) -> Any:
    """Inside a traced phase (the run's mesh in context, as `Program` sets it): every leaf split
    over the data axis along `batch_dim`, so that activations keep the batch's layout however
    parameters are sharded; without a mesh in context, `tree` unchanged."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty or DATA_AXIS not in mesh.axis_names:
        return tree

    def one(x):
        spec = [None] * x.ndim
        spec[batch_dim] = DATA_AXIS
        return jax.lax.with_sharding_constraint(x, PartitionSpec(*spec))

    return jax.tree.map(one, tree)


def constrain_replicated(tree: Any) -> Any:
    """Inside a traced phase (the run's mesh in context): every leaf whole on every device. On
    gradients, this keeps a sharded optimizer state from propagating its layout back into the
    backward pass (GSPMD would split activations along a kernel's sharded dimension); the
    update then reduce-scatters into that layout. Without a mesh in context, `tree` unchanged."""
    mesh = jax.sharding.get_abstract_mesh()
    if mesh.empty:
        return tree
    return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, PartitionSpec()), tree)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Leading (batch) dimension split over the data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh, accumulate_steps: int = 1) -> None:
    devices = mesh.shape[DATA_AXIS]
    if accumulate_steps < 1:
        raise UserError(f"accumulate_steps must be at least 1 (1: no accumulation), not "
                        f"{accumulate_steps}")
    if accumulate_steps > 1 and batch_size % (accumulate_steps * devices):
        raise UserError(
            f"batch_size={batch_size} is not divisible by accumulate_steps x devices = "
            f"{accumulate_steps} x {devices}: each micro-batch is split over the mesh's "
            f"'{DATA_AXIS}' axis; choose a multiple of {accumulate_steps * devices}")
    if batch_size % devices or batch_size % jax.process_count():
        raise UserError(
            f"batch_size={batch_size} is not divisible by the {devices} devices of the mesh's "
            f"'{DATA_AXIS}' axis ({jax.process_count()} processes); choose a multiple of {devices}"
        )


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Assembles each process's slice into global arrays sharded over the data axis."""
    sharding = batch_sharded(mesh)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch
    )


def abstract_global_batch(local_batch_spec: dict[str, Any], mesh: Mesh, global_size: int):
    """ShapeDtypeStructs of the global batch, for lowering without data."""
    sharding = batch_sharded(mesh)
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct((global_size, *x.shape[1:]), x.dtype, sharding=sharding),
        local_batch_spec,
    )


PRESETS = {"fsdp": ".=data"}


@dataclasses.dataclass(frozen=True)
class Rule:
    pattern: re.Pattern
    axis: str  # '' keeps matching arrays replicated
    dim: int | None


def parse_rules(rules: str, mesh: Mesh) -> list[Rule]:
    """`config.sharding.rules` -> rules, checked against the mesh's axis names."""
    text = PRESETS.get(rules.strip(), rules)
    out = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, sep, target = item.rpartition("=")
        if not sep or not pattern:
            raise UserError(f"config.sharding.rules: {item!r} is not REGEX=AXIS (e.g. "
                            f"'kernel$=data', 'embedding=model@-1', or 'fsdp')")
        axis, _, dim = target.partition("@")
        if axis and axis not in mesh.axis_names:
            raise UserError(f"config.sharding.rules: {item!r} names mesh axis {axis!r}; the mesh "
                            f"has {list(mesh.axis_names)} (config.mesh)")
        try:
            compiled = re.compile(pattern)
            index = int(dim) if dim else None
        except (re.error, ValueError) as e:
            raise UserError(f"config.sharding.rules: {item!r}: {e}") from None
        out.append(Rule(compiled, axis, index))
    return out


def path_name(path) -> str:
    """'G/params/block0/conv1/kernel' for a leaf of the train state."""
    parts = []
    for key in path:
        name = getattr(key, "key", getattr(key, "name", getattr(key, "idx", key)))
        if name in ("nets", "variables"):
            continue
        parts.append(str(name))
    return "/".join(parts)


def leaf_spec(name: str, shape: tuple[int, ...], rules: list[Rule], mesh: Mesh,
              min_size: int) -> PartitionSpec:
    """Where one array of the state lives: the first matching rule's axis along its dimension."""
    if math.prod(shape) < max(min_size, 1):
        return PartitionSpec()
    for rule in rules:
        if not rule.pattern.search(name):
            continue
        n = mesh.shape[rule.axis] if rule.axis else 1
        if n == 1:
            return PartitionSpec()
        if rule.dim is not None:
            if not -len(shape) <= rule.dim < len(shape):
                return PartitionSpec()
            dims = [rule.dim % len(shape)]
        else:  # the largest dimension the axis divides; the last of equals
            dims = sorted(range(len(shape)), key=lambda d: (shape[d], d), reverse=True)
        for d in dims:
            if shape[d] % n == 0:
                spec = [None] * len(shape)
                spec[d] = rule.axis
                return PartitionSpec(*spec)
        return PartitionSpec()
    return PartitionSpec()


def state_shardings(abstract_state: Any, mesh: Mesh, sharding_config) -> Any:
    """A NamedSharding for every leaf of `abstract_state` from `config.sharding`."""
    rules = parse_rules(sharding_config.rules, mesh)

    def one(path, leaf):
        return NamedSharding(mesh, leaf_spec(path_name(path), tuple(leaf.shape), rules, mesh,
                                             sharding_config.min_size))

    return jax.tree_util.tree_map_with_path(one, abstract_state)


def per_device_bytes(tree: Any, device=None) -> int:
    """Bytes of `tree` one device holds: its shards of sharded arrays, whole replicated ones.
    Concrete arrays are measured by their addressable shards; abstract ones (ShapeDtypeStruct
    with a sharding) by the shard shape their sharding gives."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        itemsize = np.dtype(leaf.dtype).itemsize
        if isinstance(leaf, jax.Array):
            target = device or min(leaf.sharding.device_set, key=lambda d: d.id)
            total += sum(shard.data.nbytes for shard in leaf.addressable_shards
                         if shard.device == target)
        else:
            total += math.prod(leaf.sharding.shard_shape(leaf.shape)) * itemsize
    return total


def total_bytes(tree: Any) -> int:
    return sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize
               for leaf in jax.tree.leaves(tree))
