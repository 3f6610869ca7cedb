"""Inputs for a `GeneratorExport` and pictures of what it makes: shared by the training loop's
sample grids, `jaxgan.sample`, the evaluator and `jaxgan.load`."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from jaxgan.checkpoint import ema_item, net_item
from jaxgan.data import load_source, to_batch
from jaxgan.errors import UserError
from jaxgan.families import inputs
from jaxgan.families.protocol import Field, GeneratorExport, Inputs


def condition_examples(export: GeneratorExport, dataset, num: int, start: int = 0,
                       split: str | None = None) -> tuple[Inputs, np.ndarray | None]:
    """The inputs of an image-conditioned generator from its condition split (or `split`),
    examples [start, start + num) in order: ({"image": float32 [n, ...]}, target images or
    None)."""
    inputs_, target, _ = labelled_condition_examples(export, dataset, num, start, split)
    return inputs_, target


def labelled_condition_examples(export: GeneratorExport, dataset, num: int, start: int = 0,
                                split: str | None = None
                                ) -> tuple[Inputs, np.ndarray | None, np.ndarray | None]:
    """`condition_examples` and the examples' class labels (int32 [n]) where the data has
    them, else None."""
    condition = export.condition
    split = split or condition.split
    source = load_source(dataset, split=split, train=False)
    length = source.streams.get(condition.field, len(source))
    n = min(num, length - start)
    if n <= 0:
        raise ValueError(f"split {split!r} of {source.name} has {length} examples")
    spec = {condition.field: Field(condition.shape)}
    if condition.target:
        spec[condition.target] = Field(export.image_shape)
    labelled = "label" in source.fields
    if labelled:
        spec["label"] = Field((), "int32")
    positions = np.arange(start, start + n)
    indices = {s: positions % source.streams[s] for s in source.streams}
    batch = to_batch(source.read(indices, positions), spec, source.name)
    target = batch[condition.target] if condition.target else None
    return {"image": batch[condition.field]}, target, batch["label"] if labelled else None


def condition_has_labels(export: GeneratorExport, dataset) -> bool:
    """Whether the examples of an image-conditioned generator's condition split have class
    labels."""
    source = load_source(dataset, split=export.condition.split, train=False)
    return "label" in source.fields


def fixed_inputs(export: GeneratorExport, dataset, key: jax.Array, num: int) -> Inputs:
    """The inputs of a sample grid: noise drawn from `key`, or the condition split's first
    `num` examples."""
    if export.condition is not None:
        return condition_examples(export, dataset, num)[0]
    return inputs.draw(export, key, num)


def _fit(images: np.ndarray, h: int, w: int, c: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor and gray -> RGB, for display."""
    images = np.asarray(images, np.float32)
    fy, fx = h // images.shape[1], w // images.shape[2]
    if fy > 1 or fx > 1:
        images = images.repeat(fy, axis=1).repeat(fx, axis=2)
    if images.shape[-1] != c:
        images = np.repeat(images, c, axis=-1)
    return images


def side_by_side(*columns: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Rows of (input, output[, target]) for an image grid: (images, number of columns)."""
    present = [np.asarray(c) for c in columns if c is not None]
    h = max(c.shape[1] for c in present)
    w = max(c.shape[2] for c in present)
    ch = max(c.shape[3] for c in present)
    fitted = [_fit(c, h, w, ch) for c in present]
    return np.stack(fitted, axis=1).reshape(-1, h, w, ch), len(fitted)


def picture(export: GeneratorExport, batch: Inputs, outputs,
            target: np.ndarray | None = None) -> tuple[np.ndarray, int | None]:
    """What a sample grid shows: the outputs (a class grid has a column per class), or for an
    image-conditioned generator rows of input, output and target."""
    outputs = np.asarray(outputs)
    if export.condition is not None:
        return side_by_side(np.asarray(batch["image"]), outputs, target)
    return outputs, None


def choose_export(family, spec, network: str | None) -> tuple[str, GeneratorExport]:
    exports = family.generators(spec)
    if network is None:
        return next(iter(exports.items()))
    if network not in exports:
        raise UserError(f"--network={network}: this model's generators are {', '.join(exports)}")
    return network, exports[network]


def weights_item(abstract_state, export: GeneratorExport, choice: str) -> tuple[str, Any, str]:
    """(checkpoint item, its abstract tree, its name in records) of the weights to use:
    "auto" (the EMA copy when the run keeps one), "ema" or "params"."""
    if choice not in ("auto", "ema", "params"):
        raise UserError(f"--generator must be auto, ema or params, not {choice!r}")
    has_ema = export.network in abstract_state.ema
    if choice == "ema" and not has_ema:
        raise UserError("--generator=ema: this run keeps no EMA copy of its generator "
                        "(the family's EMA setting is off)")
    if choice == "params" or not has_ema:
        return net_item(export.network), abstract_state.nets[export.network].variables, "params"
    return ema_item(export.network), abstract_state.ema[export.network], "ema"
