"""StyleGAN2 (Karras et al. 2020) as NVlabs/stylegan2-ada-pytorch trains it (without ADA):
networks `G` (mapping + synthesis) and `D`, lazy R1 and path-length regularisation, style
mixing, the generator EMA. Modules: `config` (schema and the reference's presets), `steps` (the
phases), `export` (the generator with its W space and truncation)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.families.stylegan import config as config_module
from jaxgan.families.stylegan import export, steps
from jaxgan.models import stylegan2
from jaxgan.objectives import augment, optimizers


@dataclasses.dataclass(frozen=True)
class Spec:
    generator: stylegan2.Generator
    discriminator: stylegan2.Discriminator
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    latent_dim: int
    image_shape: tuple[int, int, int]
    num_classes: int
    r1_gamma: float
    d_reg_interval: int
    pl_weight: float
    g_reg_interval: int
    pl_decay: float
    pl_batch_shrink: int
    style_mixing_prob: float
    ema_kimg: float
    ema_rampup: float  # 0 = no ramp-up
    augment_policy: str = ""  # DiffAugment policy for everything D sees ("" = none)


def setup(config) -> Spec:
    m, ds, loss = config.model, config.dataset, config.loss
    res = ds.image_size
    if res < 8 or res & (res - 1):
        raise UserError(f"dataset.image_size must be a power of two >= 8 for StyleGAN2, not {res}")
    if m.d_architecture not in ("resnet", "orig"):
        raise UserError(f"model.d_architecture must be resnet or orig, not {m.d_architecture!r}")
    if not 0 <= m.num_bf16_res <= int(np.log2(res)) - 1:
        raise UserError(f"model.num_bf16_res must be in [0, {int(np.log2(res)) - 1}], "
                        f"not {m.num_bf16_res}")
    group = min(m.mbstd_group_size, config.batch_size)
    if m.mbstd_num_channels and config.batch_size % group:
        raise UserError(f"batch_size {config.batch_size} must be a multiple of "
                        f"model.mbstd_group_size {m.mbstd_group_size}")
    if loss.d_reg_interval < 1 or loss.g_reg_interval < 1:
        raise UserError("loss.d_reg_interval and loss.g_reg_interval must be at least 1")
    if loss.pl_weight and config.batch_size // loss.pl_batch_shrink < 1:
        raise UserError(f"loss.pl_batch_shrink {loss.pl_batch_shrink} leaves no samples of "
                        f"batch_size {config.batch_size}")
    if not 0.0 <= loss.style_mixing_prob <= 1.0:
        raise UserError(f"loss.style_mixing_prob must be in [0, 1], not {loss.style_mixing_prob}")
    for name in ("g_optimizer", "d_optimizer"):
        if config[name].name != "adam":
            raise UserError(f"the stylegan family trains with adam, not {config[name].name!r}")
    clamp = float(m.conv_clamp) if m.conv_clamp else None
    generator = stylegan2.Generator(
        res, ds.channels, z_dim=m.latent_dim, w_dim=m.w_dim, num_classes=m.num_classes,
        mapping_layers=m.mapping_layers, mapping_lr_mult=m.mapping_lr_mult,
        w_avg_beta=m.w_avg_beta, channel_base=m.channel_base, channel_max=m.channel_max,
        num_bf16_res=m.num_bf16_res, conv_clamp=clamp)
    discriminator = stylegan2.Discriminator(
        res, ds.channels, num_classes=m.num_classes, architecture=m.d_architecture,
        channel_base=m.channel_base, channel_max=m.channel_max, num_bf16_res=m.num_bf16_res,
        conv_clamp=clamp, mbstd_group_size=m.mbstd_group_size,
        mbstd_num_channels=m.mbstd_num_channels)
    return Spec(
        generator=generator,
        discriminator=discriminator,
        # Adam's lr and betas rescaled for the lazy regularisers' separate updates.
        g_tx=optimizers.make(config.g_optimizer, reg_interval=loss.g_reg_interval),
        d_tx=optimizers.make(config.d_optimizer, reg_interval=loss.d_reg_interval),
        latent_dim=m.latent_dim,
        image_shape=(res, res, ds.channels),
        num_classes=m.num_classes,
        r1_gamma=float(loss.r1_gamma),
        d_reg_interval=int(loss.d_reg_interval),
        pl_weight=float(loss.pl_weight),
        g_reg_interval=int(loss.g_reg_interval),
        pl_decay=float(loss.pl_decay),
        pl_batch_shrink=int(loss.pl_batch_shrink),
        style_mixing_prob=float(loss.style_mixing_prob),
        ema_kimg=float(config.ema.kimg),
        ema_rampup=float(config.ema.rampup),
        augment_policy=augment.config_policy(config.augment.policy),
    )


def init(spec: Spec, seed) -> state_lib.TrainState:
    key = jax.random.key(seed)
    g_key, noise_key, d_key, run_key = jax.random.split(key, 4)
    z = jnp.zeros((1, spec.latent_dim), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32)
    g_vars = spec.generator.init({"params": g_key, "noise": noise_key}, z, labels)
    d_vars = spec.discriminator.init(d_key, jnp.zeros((1, *spec.image_shape)), labels)
    nets = {"G": state_lib.trainable(g_vars, spec.g_tx),
            "D": state_lib.trainable(d_vars, spec.d_tx)}
    return state_lib.initial_state(run_key, nets, ema=("G",),
                                   extra={"pl_mean": jnp.zeros((), jnp.float32)})


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    fields = {"image": protocol.Field(spec.image_shape)}
    if spec.num_classes:
        fields["label"] = protocol.LABEL
    return fields


FAMILY = protocol.Family(
    name="stylegan",
    config=config_module.config,
    setup=setup,
    init=init,
    batch_spec=batch_spec,
    phases=steps.phases,
    train_phase=steps.train_phase,
    generators=export.generators,
    # Runs written before DiffAugment existed trained without it.
    config_backfill=lambda: {"augment": {"policy": ""}},
)
