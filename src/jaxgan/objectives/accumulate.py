"""Gradient accumulation: one update from k micro-batches, so a large batch fits on fewer devices.

A global batch of B examples is read as k micro-batches of B / k, micro-batch j being examples
j, j + k, j + 2k, ...: each device keeps its own rows (a batch sharded over the mesh's data
axis stays sharded, every micro-batch spread over every device), and `lax.scan` runs the passes
one after another, so activation memory is that of B / k examples.

Every pass starts from the same network variables. For a loss that is a mean over examples the
mean of the k micro-batch losses and gradients equals the big batch's, up to float summation
order. Batch-coupled layers are not: BatchNorm normalises each micro-batch by that micro-batch's
statistics (as BigGAN-PyTorch's accumulation does), and its running statistics become the mean
of the k passes' updates (their batch means average to the big batch's mean; their variances
are the within-micro-batch variances). Other mutable state (spectral-norm vectors, whose update
does not depend on the data) is taken from the last pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp


def split(tree: Any, k: int) -> Any:
    """[B, ...] leaves -> [k, B / k, ...]: micro-batch j holds examples j, j + k, ..."""
    def one(x):
        return jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1)
    return jax.tree.map(one, tree)


def join(tree: Any) -> Any:
    """The inverse of `split`: [k, B / k, ...] -> [B, ...] in the original order."""
    def one(x):
        return jnp.swapaxes(x, 0, 1).reshape(x.shape[0] * x.shape[1], *x.shape[2:])
    return jax.tree.map(one, tree)


def merge_state(stacked: dict[str, Any]) -> dict[str, Any]:
    """Mutable collections from k passes ([k, ...] leaves) -> one: BatchNorm statistics
    averaged, the rest from the last pass."""
    return {col: jax.tree.map((lambda x: jnp.mean(x, 0)) if col == "batch_stats"
                              else (lambda x: x[-1]), tree)
            for col, tree in stacked.items()}


def scan(fn: Callable[[Any], Any], micro: Any) -> Any:
    """`fn` over the micro-batches one at a time; outputs stacked along a new leading axis."""
    return jax.lax.scan(lambda carry, m: (carry, fn(m)), None, micro)[1]


def value_and_grad(loss_fn: Callable[..., tuple[jax.Array, Any]], params: Any, micro: Any,
                   k: int, constrain: Callable[[Any], Any] = lambda g: g
                   ) -> tuple[tuple[jax.Array, Any], Any]:
    """Mean over k micro-batches of `loss_fn(params, micro_j) -> (loss, aux)` and of its
    gradient; aux stacked ([k, ...] leaves). Each micro-batch's gradients pass through
    `constrain` (a sharding constraint) before they are summed in the carry."""
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def body(carry, m):
        total, grads = carry
        (loss, aux), g = grad_fn(params, m)
        g = constrain(g)
        return (total + loss, jax.tree.map(jnp.add, grads, g)), aux

    zeros = jax.tree.map(jnp.zeros_like, params)
    (total, grads), aux = jax.lax.scan(body, (jnp.zeros((), jnp.float32), zeros), micro)
    return (total / k, aux), jax.tree.map(lambda g: g / k, grads)
