"""The moving average of a network's weights that evaluation and sampling use."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import jax


def update(ema: dict[str, Any], new: dict[str, Any], beta: jax.Array,
           averaged: Collection[str] | None = None) -> dict[str, Any]:
    """EMA variables moved towards `new`: `beta * ema + (1 - beta) * new` for the collections in
    `averaged` (all when None), the others copied from `new` (StyleGAN2 averages params only and
    copies its buffers; the gan family averages BatchNorm statistics too)."""
    out = {}
    for collection, values in new.items():
        if averaged is None or collection in averaged:
            out[collection] = jax.tree.map(lambda e, n: beta * e + (1.0 - beta) * n,
                                           ema[collection], values)
        else:
            out[collection] = values
    return out
