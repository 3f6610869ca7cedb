"""What a family is to the rest of jaxgan: the training loop, the checkpoints, the evaluator, the
sampler, `jaxgan.load` and the bench use a family only through a `Family` and the
`GeneratorExport`s it declares.

A family is a module of pure functions registered under a config name (`config.family`):

- `config()`: its config schema (every key, with defaults), beside the family;
- `setup(config) -> spec`: check the config (a `UserError` per mistake), build the static parts
  (modules, optimizers, losses); `spec` is passed back to every other function;
- `init(spec, seed) -> TrainState`: the trainable networks at step 0 (pure; jitted with
  out_shardings);
- `frozen(spec) -> {name: variables}`: networks loaded from sha256-checked files and never
  trained (a perceptual VGG19); host arrays, passed to every phase inside the state;
- `batch_spec(spec, step) -> {field: Field}`: the per-example fields of a training batch at
  `step` (an image size that grows with the step is allowed: the data iterator is rebuilt);
- `phases(spec, step) -> names` and `train_phase(spec, name, state, batch)`: which compiled
  phases make step `step`, and each phase as a pure function (state, batch) -> (state, metrics);
- `generators(spec) -> {name: GeneratorExport}`: what can be sampled and scored; the first is
  the default;
- `anomaly(spec) -> AnomalyScorer | None`: for anomaly models, how an image is scored;
- `stage(spec, step) -> name`: for a family whose training moves on to other phases for good
  (pretraining, then the GAN), which stage `step` is in.

What a generator can do (latents, class labels, a categorical code, image conditioning,
truncation, a W space, BatchNorm recalibration) is declared as data in its export, so the tools
never ask which family they hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import jax
import numpy as np

Variables = dict[str, Any]
Inputs = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Field:
    """One per-example field of a batch: `shape` without the batch dimension, numpy `dtype`."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    # Images of a growing network (ProGAN): made at `canvas` px (the run's resolution) first,
    # then box-averaged down to `shape`, so every stage sees the same picture. 0: directly.
    canvas: int = 0

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


BatchSpec = Mapping[str, Field]


def image_field(size: int, channels: int) -> Field:
    return Field((size, size, channels), "float32")


LABEL = Field((), "int32")


@dataclasses.dataclass(frozen=True)
class Truncation:
    """The truncation trick a generator supports. `name` is what records call the value
    ("psi": StyleGAN's w_avg + psi (w - w_avg); "z_threshold": BigGAN's z resampled into
    [-t, t]); `tag` prefixes the value in a scored generator's name (ema_psi0.7, ema_z1)."""

    name: str
    tag: str
    in_latents: bool  # True: applied when drawing z; False: applied by `generate`


@dataclasses.dataclass(frozen=True)
class WSpace:
    """An intermediate latent space (StyleGAN's W): `map(variables, z, labels, psi) -> ws
    [B, num_ws, w_dim]`, `synthesize(variables, ws) -> images`. Style mixing mixes ws indices;
    interpolation is linear in W."""

    num_ws: int
    map: Callable[..., jax.Array]
    synthesize: Callable[..., jax.Array]


@dataclasses.dataclass(frozen=True)
class Condition:
    """An image-conditioned generator's inputs come from a dataset split: batch field `field`
    (fed to the generator as inputs["image"]). `target`, when the data has it, is the image each
    input should become (paired metrics: L1, PSNR, SSIM); `domain` is the field of real images
    of the output domain, the reference of distribution metrics (FID, KID, PR); by default the
    target."""

    field: str
    shape: tuple[int, int, int]  # of the input image
    target: str | None = None
    split: str = "test"
    domain: str | None = None

    @property
    def reference(self) -> str | None:
        return self.domain or self.target


class RunReader(Protocol):
    """What a `CodePrior` may read of a run at one checkpoint (the evaluator provides it)."""

    step: int
    batch_size: int

    def variables(self, network: str) -> Variables:
        """The trained variables of `network` at this step."""

    def extra(self) -> dict[str, Any]:
        """The family's running values (`TrainState.extra`) at this step."""

    def real_images(self) -> np.ndarray:
        """The training split as the model sees it: float32 [N, H, W, C] in [-1, 1]."""

    def real_name(self) -> str:
        """'dataset/split' of `real_images`, for the records."""


@dataclasses.dataclass(frozen=True)
class CodePrior:
    """A distribution to draw a categorical latent code from, fitted at a checkpoint:
    `fit(run: RunReader) -> {"probs": [K], ...provenance} or None` (None: uniform). `tag`
    suffixes the scored generator's name ('' = none)."""

    fit: Callable[[RunReader], dict[str, Any] | None]
    tag: str = ""


@dataclasses.dataclass(frozen=True)
class GeneratorExport:
    """A pure generator and what it takes, for every tool that is not training.

    `generate(variables, inputs, *, rng=None, truncation=None) -> images [B, H, W, C]` in
    [-1, 1]. Inputs are a dict: "z" [B, latent_dim] when `latent_dim`, "label" [B] int32 when
    `num_classes` (class-conditional) or `num_codes` (a categorical latent code, InfoGAN),
    "image" [B, H, W, C] when `condition` is set.
    """

    network: str  # the state network whose variables it reads (its EMA copy when kept)
    image_shape: tuple[int, int, int]
    generate: Callable[..., jax.Array]
    latent_dim: int = 0
    num_classes: int = 0
    num_codes: int = 0
    condition: Condition | None = None
    truncation: Truncation | None = None
    w_space: WSpace | None = None
    # The run's own code prior (None: uniform) and others the evaluator may be asked for.
    code_prior: CodePrior | None = None
    code_priors: Mapping[str, CodePrior] = dataclasses.field(default_factory=dict)
    # (variables, key, passes, batch_size) -> variables with re-estimated BatchNorm statistics
    recalibrate: Callable[..., Variables] | None = None
    # An image input's height and width must be multiples of this (a fully convolutional
    # generator's total stride); `jaxgan.translate` pads to it and crops back.
    size_multiple: int = 1

    @property
    def label_count(self) -> int:
        """How many values inputs["label"] takes (classes or codes; 0: no label input)."""
        return self.num_classes or self.num_codes


@dataclasses.dataclass(frozen=True)
class AnomalyScorer:
    """How an anomaly model scores images, for the evaluator's AUROC and `jaxgan.anomaly`.

    `score(variables, images) -> {"score": [B] (higher: more anomalous), "residual":
    [B, H, W, C] (where each image departs from what the model expects), "reconstruction":
    [B, H, W, C] (what it expected)}`, with `variables` = {network: variables} of `networks`
    (the EMA copy where the run keeps one) and `images` float32 in [-1, 1]. `description`
    says what the score is, for the records."""

    networks: tuple[str, ...]
    image_shape: tuple[int, int, int]
    score: Callable[..., dict[str, jax.Array]]
    description: str


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    config: Callable[[], Any]
    setup: Callable[[Any], Any]
    init: Callable[[Any, int], Any]
    batch_spec: Callable[[Any, int], BatchSpec]
    phases: Callable[[Any, int], tuple[str, ...]]
    train_phase: Callable[..., tuple[Any, dict[str, jax.Array]]]
    generators: Callable[[Any], Mapping[str, GeneratorExport]]
    frozen: Callable[[Any], dict[str, Variables]] = lambda spec: {}
    # The values of keys a saved config.json lacks (added to the schema after it was written):
    # what those runs trained with (nested dicts).
    config_backfill: Callable[[], Mapping[str, Any]] = dict
    # An anomaly model's scorer (None: the family does not score anomalies).
    anomaly: Callable[[Any], AnomalyScorer | None] = lambda spec: None
    # Which stage of training step `step` is in, for a family whose training changes what it
    # trains part-way (a PSNR pretraining, then the GAN; the GAN, then an encoder): the log
    # drops the quantities of an earlier stage instead of repeating their last values.
    stage: Callable[[Any, int], str] = lambda spec, step: ""
    # True: `train_phase` honours `config.accumulate_steps` (gradient accumulation over
    # micro-batches); the loop refuses accumulate_steps > 1 for a family without it.
    accumulation: bool = False

    def default_generator(self, spec) -> tuple[str, GeneratorExport]:
        return next(iter(self.generators(spec).items()))
