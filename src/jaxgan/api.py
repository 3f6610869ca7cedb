"""Using a trained model from Python, without the training code:

    import jaxgan

    model = jaxgan.load("runs/dcgan_mnist")            # latest checkpoint, EMA weights if kept
    images = model.sample(16, seed=0)                  # float32 [16, 28, 28, 1] in [-1, 1]
    inputs = model.draw(16, seed=0, labels=[7] * 16)   # {"z": ..., "label": ...}
    images = model(inputs)                             # the same generator, your inputs

An image-conditioned model takes `{"image": images}` (float32 in [-1, 1], its input shape);
`model.examples(n)` reads its condition split (inputs and targets).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import numpy as np

from jaxgan import families, generation
from jaxgan.checkpoint import restore_item
from jaxgan.errors import UserError
from jaxgan.families import inputs as inputs_lib
from jaxgan.families.protocol import GeneratorExport, Inputs
from jaxgan.workdir import load_config


@dataclasses.dataclass
class Model:
    """A trained generator: its export (what it takes and can do), weights and config."""

    export: GeneratorExport
    variables: Any
    step: int
    config: Any
    weights: str  # "ema" or "params"

    def __post_init__(self):
        self._generate = jax.jit(self.export.generate, static_argnames=("truncation",))

    def draw(self, num: int, seed: int = 0, labels=None,
             truncation: float | None = None) -> Inputs:
        """Noise inputs for `num` samples: latents from `seed` (truncated for a z-threshold
        truncation), and the given `labels` or every class/code equally often."""
        if self.export.condition is not None:
            raise UserError("this generator is conditioned on images: pass {'image': ...} or "
                            "use model.examples(n)")
        if labels is not None and not self.export.label_count:
            raise UserError("this generator takes no class label")
        if labels is not None and np.any((np.asarray(labels) < 0)
                                         | (np.asarray(labels) >= self.export.label_count)):
            raise UserError(f"labels must be in [0, {self.export.label_count})")
        key = jax.random.key(seed)
        drawn = inputs_lib.draw(self.export, key, num, labels)
        if truncation is not None and self.export.truncation is not None \
                and self.export.truncation.in_latents:
            drawn["z"] = inputs_lib.latents(self.export, key, num, truncation)
        return drawn

    def examples(self, num: int, start: int = 0) -> tuple[Inputs, np.ndarray | None]:
        """(inputs, targets or None) of an image-conditioned generator's condition split."""
        if self.export.condition is None:
            raise UserError("this generator is not conditioned on images; use model.draw(n)")
        return generation.condition_examples(self.export, self.config.dataset, num, start)

    def __call__(self, batch: Inputs, truncation: float | None = None,
                 rng: jax.Array | None = None) -> np.ndarray:
        """Images in [-1, 1] for `batch`; `truncation` is psi for a W-space generator."""
        in_latents = self.export.truncation is not None and self.export.truncation.in_latents
        psi = None if in_latents else truncation
        return np.asarray(self._generate(self.variables, batch, rng=rng, truncation=psi))

    def sample(self, num: int, seed: int = 0, labels=None,
               truncation: float | None = None) -> np.ndarray:
        return self(self.draw(num, seed, labels, truncation), truncation)


def load(workdir: str, step: int | None = None, weights: str = "auto",
         network: str | None = None) -> Model:
    """The generator of the run in `workdir` at checkpoint `step` (default: latest).
    `weights`: "auto" (its EMA copy when kept), "ema" or "params"; `network` picks one of
    several generators (e.g. "G_BA"). Restores only the generator's weights."""
    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    _, export = generation.choose_export(family, spec, network)
    abstract = jax.eval_shape(functools.partial(family.init, spec, config.seed))
    item, abstract_tree, name = generation.weights_item(abstract, export, weights)
    variables, step = restore_item(workdir, item, abstract_tree, step)
    return Model(export=export, variables=variables, step=step, config=config, weights=name)
