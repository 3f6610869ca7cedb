"""Image GANs with one generator `G` and one discriminator `D` trained alternately: DCGAN,
conditional DCGAN with a projection discriminator, InfoGAN, WGAN-GP, SNGAN and SAGAN, and the
stabilisation toolbox, each piece chosen in the config (`config.py` beside this file).

Modules: `config` (schema and presets), `networks` (G and D), `steps` (the phases),
`infogan` (the categorical code and its prior), `export` (what the tools sample and score).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.families.gan import config as config_module
from jaxgan.families.gan import export, infogan, networks, steps
from jaxgan.objectives import augment, losses, optimizers


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything static about a run: the config (read-only), modules, optimizers, the loss."""

    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    loss: losses.AdversarialLoss
    image_shape: tuple[int, int, int]
    augment_policy: str

    @property
    def latent_dim(self) -> int:
        return self.config.model.latent_dim

    @property
    def num_classes(self) -> int:
        return self.config.model.num_classes

    @property
    def info_categories(self) -> int:
        return self.config.model.info_categories

    @property
    def g_classes(self) -> int:
        """How many values G's label input takes: classes, or InfoGAN codes, or 0."""
        return self.num_classes or self.info_categories

    @property
    def learned_prior(self) -> bool:
        return self.config.model.info_prior == "learned"

    @property
    def ema(self) -> bool:
        return bool(self.config.training.ema_decay)

    @property
    def penalized(self) -> bool:
        reg = self.config.regularizer
        return bool(reg.r1_gamma or reg.r2_gamma)


def _check(config) -> None:
    m, loss, reg, tr = config.model, config.loss, config.regularizer, config.training
    if loss.real_label != 1.0 and loss.name not in ("non_saturating", "minimax"):
        raise UserError(f"loss.real_label (label smoothing) applies to the logistic losses "
                        f"(non_saturating, minimax), not {loss.name!r}")
    if tr.n_critic < 1:
        raise UserError(f"training.n_critic must be at least 1, not {tr.n_critic}")
    if not 0.0 <= tr.ema_decay < 1.0:
        raise UserError(f"training.ema_decay must be in [0, 1), not {tr.ema_decay}")
    infogan.check(config)
    if loss.mode_seeking < 0:
        raise UserError(f"loss.mode_seeking must be >= 0 (0: off), not {loss.mode_seeking}")
    if loss.mode_seeking_steps < 0:
        raise UserError(f"loss.mode_seeking_steps must be >= 0 (0: constant lambda), not "
                        f"{loss.mode_seeking_steps}")
    if loss.mode_seeking_steps and not loss.mode_seeking:
        raise UserError("loss.mode_seeking_steps anneals loss.mode_seeking, which is 0 (off): "
                        "set loss.mode_seeking > 0 or loss.mode_seeking_steps=0")
    if loss.mode_seeking and m.num_classes:
        raise UserError("loss.mode_seeking pairs samples by InfoGAN code or by nothing; with "
                        "model.num_classes it is not built (the pairs would need their own "
                        "labels): set loss.mode_seeking=0")
    if loss.mode_seeking and config.batch_size % 2:
        raise UserError(f"loss.mode_seeking pairs the batch's two halves: batch_size must be "
                        f"even, not {config.batch_size}")
    if not isinstance(reg.r1_interval, int) or reg.r1_interval < 1:
        raise UserError(f"regularizer.r1_interval must be an integer >= 1 (1: R1 on every "
                        f"step), not {reg.r1_interval!r}")
    if config.accumulate_steps > 1:
        coupled = [name for name, on in (
            ("InfoGAN codes (model.info_categories)", m.info_categories),
            ("loss.mode_seeking", loss.mode_seeking),
            ("loss.feature_matching", loss.feature_matching)) if on]
        if coupled:
            raise UserError(f"accumulate_steps={config.accumulate_steps} is built for the "
                            f"plain adversarial losses; {coupled[0]} is not accumulated: set "
                            f"accumulate_steps=1")
    pack = config.d_layers.pack
    if not isinstance(pack, int) or pack < 1:
        raise UserError(f"d_layers.pack must be an integer >= 1 (1: off), not {pack!r}")
    if pack > 1 and (m.num_classes or m.info_categories):
        raise UserError("d_layers.pack stacks several samples into one input of D, which then "
                        "has no single class or code to be told: set d_layers.pack=1 for a "
                        "conditional or InfoGAN model")
    group = pack * config.accumulate_steps
    if pack > 1 and config.batch_size % group:
        raise UserError(f"d_layers.pack={pack} groups the batch (in each of accumulate_steps="
                        f"{config.accumulate_steps} micro-batches) into packs of {pack}: "
                        f"batch_size {config.batch_size} is not divisible by {group}: use a "
                        f"multiple of it, e.g. --config.batch_size="
                        f"{-(-config.batch_size // group) * group}")
    if reg.r1_interval > 1 and not (reg.r1_gamma or reg.r2_gamma):
        raise UserError("regularizer.r1_interval spaces out the R1/R2 penalty, which is off: "
                        "set regularizer.r1_gamma (or r2_gamma) > 0, or r1_interval=1")


def setup(config) -> Spec:
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}.get(config.model.dtype)
    if dtype is None:
        raise UserError(f"model.dtype must be float32 or bfloat16, not {config.model.dtype!r}")
    _check(config)
    generator, discriminator = networks.build(config, dtype)
    ds = config.dataset
    return Spec(
        config=ml_collections.FrozenConfigDict(config),
        generator=generator,
        discriminator=discriminator,
        g_tx=optimizers.make(config.g_optimizer),
        d_tx=optimizers.make(config.d_optimizer),
        loss=losses.get(config.loss.name),
        image_shape=(ds.image_size, ds.image_size, ds.channels),
        augment_policy=augment.config_policy(config.augment.policy),
    )


def init(spec: Spec, seed) -> state_lib.TrainState:
    """The initial state from an integer seed (pure; jit it with out_shardings)."""
    key = jax.random.key(seed)
    g_key, d_key, run_key = jax.random.split(key, 3)
    z = jnp.zeros((1, spec.latent_dim), jnp.float32)
    m = spec.config.d_layers.pack
    x = steps.pack(jnp.zeros((m, *spec.image_shape), jnp.float32), m)  # one input of D
    labels = jnp.zeros((1,), jnp.int32) if spec.num_classes else None
    g_labels = jnp.zeros((1,), jnp.int32) if spec.g_classes else None
    g_vars = spec.generator.init(g_key, z, g_labels, train=False)
    d_vars = spec.discriminator.init(d_key, x, labels, train=False)
    extra = {"code_prior": infogan.uniform(spec.info_categories)} if spec.learned_prior else None
    nets = {"G": state_lib.trainable(g_vars, spec.g_tx),
            "D": state_lib.trainable(d_vars, spec.d_tx)}
    return state_lib.initial_state(run_key, nets, ema=("G",) if spec.ema else (), extra=extra)


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    fields = {"image": protocol.Field(spec.image_shape)}
    if spec.num_classes:
        fields["label"] = protocol.LABEL
    return fields


def _backfill() -> dict:
    # Runs written before a key existed get its default, which is what they trained with:
    # every technique of the family is off by default.
    return config_module.config().to_dict()


FAMILY = protocol.Family(
    name="gan",
    config=config_module.config,
    setup=setup,
    init=init,
    batch_spec=batch_spec,
    phases=steps.phases,
    train_phase=steps.train_phase,
    generators=export.generators,
    config_backfill=_backfill,
    accumulation=True,
)
