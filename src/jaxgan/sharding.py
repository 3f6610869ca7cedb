"""The device mesh and how arrays are laid out on it (data parallel by default)."""

from __future__ import annotations

import math
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


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Leading (batch) dimension split over the data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def check_batch_size(batch_size: int, mesh: Mesh) -> None:
    devices = mesh.shape[DATA_AXIS]
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
