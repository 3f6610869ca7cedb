"""StyleGAN2 training (Karras et al. 2020), as NVlabs/stylegan2-ada-pytorch trains it (without ADA).

A step runs these phases in order, all on the same real batch, each with its own latents:
- "G_main": non-saturating logistic loss softplus(-D(G(z))) for G;
- "G_reg" (every `g_reg_interval` steps, when pl_weight > 0): path-length regularisation on a
  batch shrunk by `pl_batch_shrink`, its loss times the interval, pl_mean in `state.extra`;
- "D_main": softplus(D(G(z))) + softplus(-D(x)) for D;
- "D_reg" (every `d_reg_interval` steps, when r1_gamma > 0): R1, gamma/2 * E||grad_x D(x)||^2,
  times the interval;
- with `augment.policy` set (DiffAugment, Zhao et al. 2020), every image D sees in G_main,
  D_main and D_reg is augmented, differentiably, and R1 is the gradient with respect to the real
  image before augmentation (as DiffAugment-stylegan2 and the ADA reference compute it);
- "G_ema": the generator's moving average (half-life `ema.kimg` thousand images, ramped up with
  `ema.rampup`) and `state.step` + 1. It ends every step, so the step count is unambiguous and
  every other phase of a step sees the same `state.step` (folded with the phase id into the key).
G's mapping network updates w_avg in G_main, G_reg and D_main (the reference's mapping runs in
training mode there); style mixing (probability `style_mixing_prob`) in all of them. Adam's
learning rate and betas are rescaled by interval / (interval + 1) for lazy regularisation.

Config: `model.*` (architecture), `loss.*` (regularisation), `ema.*`, `g_optimizer` /
`d_optimizer` (the un-rescaled Adam settings), declared in experiments/stylegan.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxgan import augment
from jaxgan.errors import UserError
from jaxgan.models import stylegan2
from jaxgan.state import TrainState, initial_state

PHASE_IDS = {"G_main": 0, "G_reg": 1, "D_main": 2, "D_reg": 3, "G_ema": 4}


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


def _lazy_adam(opt, interval: int) -> optax.GradientTransformation:
    """Adam with the reference's lazy-regularisation rescaling: lr and betas ** mb_ratio."""
    if opt.name != "adam":
        raise UserError(f"the stylegan family trains with adam, not {opt.name!r}")
    mb_ratio = interval / (interval + 1)
    return optax.adam(opt.learning_rate * mb_ratio, b1=opt.b1 ** mb_ratio,
                      b2=opt.b2 ** mb_ratio, eps=opt.eps)


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
        g_tx=_lazy_adam(config.g_optimizer, loss.g_reg_interval),
        d_tx=_lazy_adam(config.d_optimizer, loss.d_reg_interval),
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


def init(spec: Spec, seed) -> TrainState:
    key = jax.random.key(seed)
    g_key, noise_key, d_key, run_key = jax.random.split(key, 4)
    z = jnp.zeros((1, spec.latent_dim), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32)
    g_vars = spec.generator.init({"params": g_key, "noise": noise_key}, z, labels)
    d_vars = spec.discriminator.init(d_key, jnp.zeros((1, *spec.image_shape)), labels)
    return initial_state(run_key, g_vars, d_vars, spec.g_tx, spec.d_tx, ema=True,
                         extra={"pl_mean": jnp.zeros((), jnp.float32)})


def sample_latents(spec: Spec, key: jax.Array, num: int) -> jax.Array:
    return jax.random.normal(key, (num, spec.latent_dim), jnp.float32)


def _default_labels(spec: Spec, num: int, labels_B):
    if spec.num_classes == 0:
        return None
    return jnp.arange(num, dtype=jnp.int32) % spec.num_classes if labels_B is None else labels_B


def map_latents(spec: Spec, generator_vars, z_BxZ, labels_B=None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> jax.Array:
    """ws [B, num_ws, w_dim] (for style mixing and interpolation in W)."""
    labels = _default_labels(spec, z_BxZ.shape[0], labels_B)
    return spec.generator.apply(generator_vars, z_BxZ, labels, truncation_psi, truncation_cutoff,
                                method=stylegan2.Generator.map)


def synthesize(spec: Spec, generator_vars, ws_BxNxW, noise_mode: str = "const",
               key: jax.Array | None = None) -> jax.Array:
    rngs = {"noise": key if key is not None else jax.random.key(0)}
    return spec.generator.apply(generator_vars, ws_BxNxW, noise_mode,
                                method=stylegan2.Generator.synthesize, rngs=rngs)


def generate(spec: Spec, generator_vars, z_BxZ, labels_B=None, truncation_psi: float = 1.0,
             truncation_cutoff: int | None = None, noise_mode: str = "const",
             key: jax.Array | None = None) -> jax.Array:
    """Images in [-1, 1] (clipped) from latents; unconditional labels are ignored, and a
    conditional model without labels cycles through the classes."""
    ws = map_latents(spec, generator_vars, z_BxZ, labels_B, truncation_psi, truncation_cutoff)
    return jnp.clip(synthesize(spec, generator_vars, ws, noise_mode, key), -1.0, 1.0)


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    names = ["G_main"]
    if spec.pl_weight > 0 and step % spec.g_reg_interval == 0:
        names.append("G_reg")
    names.append("D_main")
    if spec.r1_gamma > 0 and step % spec.d_reg_interval == 0:
        names.append("D_reg")
    names.append("G_ema")
    return tuple(names)


# --- the generator and discriminator as used in training -------------------------------------


def _mixed_ws(spec: Spec, g_vars, g_params, z, labels, key, update_w_avg: bool = True):
    """The reference's `run_G` mapping half: ws of z (updating w_avg), with probability
    `style_mixing_prob` the ws from layer `cutoff` (uniform in [1, num_ws)) on replaced by those
    of a second latent. Returns (ws, updated buffers)."""
    variables = {**g_vars, "params": g_params}
    ws, mutated = spec.generator.apply(variables, z, labels, update_w_avg=update_w_avg,
                                       method=stylegan2.Generator.map, mutable=["buffers"])
    if spec.style_mixing_prob > 0:
        n = spec.generator.num_ws
        k_cut, k_prob, k_z = jax.random.split(key, 3)
        cutoff = jax.random.randint(k_cut, (), 1, n)
        cutoff = jnp.where(jax.random.uniform(k_prob) < spec.style_mixing_prob, cutoff, n)
        z2 = jax.random.normal(k_z, z.shape, z.dtype)
        ws2 = spec.generator.apply(variables, z2, labels, method=stylegan2.Generator.map)
        ws = mix_styles(ws, ws2, cutoff)
    return ws, {**g_vars, **mutated}


def mix_styles(ws_BxNxW: jax.Array, ws2_BxNxW: jax.Array, cutoff) -> jax.Array:
    """ws with layers [cutoff, num_ws) taken from ws2 (style mixing; cutoff = num_ws: none)."""
    layer = jnp.arange(ws_BxNxW.shape[1])[None, :, None]
    return jnp.where(layer >= cutoff, ws2_BxNxW, ws_BxNxW)


def _synth(spec: Spec, g_vars, g_params, ws, key):
    return spec.generator.apply({**g_vars, "params": g_params}, ws, "random",
                                method=stylegan2.Generator.synthesize, rngs={"noise": key})


def _disc(spec: Spec, d_vars, d_params, images, labels, key=None):
    """D's logits; with a DiffAugment policy the images are first augmented using `key`."""
    if spec.augment_policy:
        images = augment.diff_augment(images, key, spec.augment_policy)
    return spec.discriminator.apply({**d_vars, "params": d_params}, images, labels)


def _aug_keys(key, num: int):
    # Augmentation keys are folded off the phase key, so the other draws of a step do not
    # depend on whether a policy is set.
    return jax.random.split(jax.random.fold_in(key, 0x417567), num)


def _fake_inputs(spec: Spec, key, batch_size: int):
    k_z, k_c = jax.random.split(key)
    z = sample_latents(spec, k_z, batch_size)
    labels = (jax.random.randint(k_c, (batch_size,), 0, spec.num_classes)
              if spec.num_classes else None)
    return z, labels


def _apply(tx, grads, opt_state, params):
    # The reference zeroes NaNs and caps infinities in gradients before the optimizer step.
    grads = jax.tree.map(lambda g: jnp.nan_to_num(g, nan=0.0, posinf=1e5, neginf=-1e5), grads)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _g_main(spec, state, batch, key):
    b = batch["image"].shape[0]
    k_in, k_mix, k_noise = jax.random.split(key, 3)
    z, labels = _fake_inputs(spec, k_in, b)

    (k_aug,) = _aug_keys(key, 1)

    def loss_fn(g_params):
        ws, g_vars = _mixed_ws(spec, state.generator, g_params, z, labels, k_mix)
        fake = _synth(spec, g_vars, g_params, ws, k_noise)
        logits = _disc(spec, state.discriminator, state.discriminator["params"], fake, labels,
                       k_aug)
        return jnp.mean(jax.nn.softplus(-logits)), (g_vars, logits)

    g_params = state.generator["params"]
    (loss, (g_vars, logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_params)
    g_params, opt_state = _apply(spec.g_tx, grads, state.g_opt_state, g_params)
    state = state.replace(generator={**g_vars, "params": g_params}, g_opt_state=opt_state)
    return state, {"g_loss": loss, "g_scores_fake": jnp.mean(logits)}


def path_length_penalty(synthesize_fn, ws_BxNxW, noise_key, pl_mean, pl_decay):
    """The reference's path-length penalty: lengths |J_w^T y| for y ~ N(0, 1/(H W)) images,
    pl_mean moved towards their mean by pl_decay, penalty (length - new pl_mean)^2 (gradients
    flow through the new pl_mean too, as in the reference). Returns (penalty [B], new pl_mean,
    lengths [B])."""
    images, pullback = jax.vjp(synthesize_fn, ws_BxNxW)
    h, w = images.shape[1:3]
    y = jax.random.normal(noise_key, images.shape, images.dtype) / np.sqrt(h * w)
    (grads,) = pullback(y)
    lengths = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(grads), axis=2), axis=1))
    new_mean = pl_mean + pl_decay * (jnp.mean(lengths) - pl_mean)
    return jnp.square(lengths - new_mean), new_mean, lengths


def _g_reg(spec, state, batch, key):
    b = batch["image"].shape[0] // spec.pl_batch_shrink
    k_in, k_mix, k_noise, k_pl = jax.random.split(key, 4)
    z, labels = _fake_inputs(spec, k_in, b)

    def loss_fn(g_params):
        ws, g_vars = _mixed_ws(spec, state.generator, g_params, z, labels, k_mix)
        penalty, pl_mean, _ = path_length_penalty(
            lambda ws: _synth(spec, g_vars, g_params, ws, k_noise), ws, k_pl,
            state.extra["pl_mean"], spec.pl_decay)
        loss = jnp.mean(penalty) * spec.pl_weight * spec.g_reg_interval
        return loss, (g_vars, jax.lax.stop_gradient(pl_mean), penalty)

    g_params = state.generator["params"]
    (_, (g_vars, pl_mean, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_params)
    g_params, opt_state = _apply(spec.g_tx, grads, state.g_opt_state, g_params)
    state = state.replace(generator={**g_vars, "params": g_params}, g_opt_state=opt_state,
                          extra={**state.extra, "pl_mean": pl_mean})
    return state, {"pl_penalty": jnp.mean(penalty), "pl_mean": pl_mean}


def _d_main(spec, state, batch, key):
    real, b = batch["image"], batch["image"].shape[0]
    real_labels = batch["label"] if spec.num_classes else None
    k_in, k_mix, k_noise = jax.random.split(key, 3)
    z, labels = _fake_inputs(spec, k_in, b)
    g_params = state.generator["params"]
    ws, g_vars = _mixed_ws(spec, state.generator, g_params, z, labels, k_mix)
    fake = jax.lax.stop_gradient(_synth(spec, g_vars, g_params, ws, k_noise))

    k_aug_fake, k_aug_real = _aug_keys(key, 2)

    def loss_fn(d_params):
        fake_logits = _disc(spec, state.discriminator, d_params, fake, labels, k_aug_fake)
        real_logits = _disc(spec, state.discriminator, d_params, real, real_labels, k_aug_real)
        loss = jnp.mean(jax.nn.softplus(fake_logits)) + jnp.mean(jax.nn.softplus(-real_logits))
        return loss, (fake_logits, real_logits)

    d_params = state.discriminator["params"]
    (loss, (fake_logits, real_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
    d_params, opt_state = _apply(spec.d_tx, grads, state.d_opt_state, d_params)
    state = state.replace(generator=g_vars, d_opt_state=opt_state,
                          discriminator={**state.discriminator, "params": d_params})
    return state, {"d_loss": loss, "d_scores_fake": jnp.mean(fake_logits),
                   "d_scores_real": jnp.mean(real_logits)}


def r1_penalty(logits_fn, real_BxHxWxC):
    """Per-sample ||grad_x sum D(x)||^2 (the reference's r1_penalty) and the logits."""
    logits, pullback = jax.vjp(logits_fn, real_BxHxWxC)
    (grads,) = pullback(jnp.ones_like(logits))
    return jnp.sum(jnp.square(grads), axis=(1, 2, 3)), logits


def _d_reg(spec, state, batch, key):
    real = batch["image"]
    real_labels = batch["label"] if spec.num_classes else None
    (k_aug,) = _aug_keys(key, 1)

    def loss_fn(d_params):
        penalty, logits = r1_penalty(
            lambda x: _disc(spec, state.discriminator, d_params, x, real_labels, k_aug), real)
        return jnp.mean(penalty) * (spec.r1_gamma / 2) * spec.d_reg_interval, (penalty, logits)

    d_params = state.discriminator["params"]
    (_, (penalty, _)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
    d_params, opt_state = _apply(spec.d_tx, grads, state.d_opt_state, d_params)
    state = state.replace(d_opt_state=opt_state,
                          discriminator={**state.discriminator, "params": d_params})
    return state, {"r1_penalty": jnp.mean(penalty)}


def ema_beta(spec: Spec, step: jax.Array, batch_size: int) -> jax.Array:
    """0.5 ** (batch / ema_nimg): half-life ema_kimg thousand images, or step * batch * rampup
    images while that is smaller (ramp-up), as the reference."""
    ema_nimg = jnp.asarray(spec.ema_kimg * 1000.0, jnp.float32)
    if spec.ema_rampup > 0:
        seen = step.astype(jnp.float32) * batch_size
        ema_nimg = jnp.minimum(ema_nimg, seen * spec.ema_rampup)
    return 0.5 ** (batch_size / jnp.maximum(ema_nimg, 1e-8))


def _g_ema(spec, state, batch, key):
    del key
    beta = ema_beta(spec, state.step, batch["image"].shape[0])
    params = jax.tree.map(lambda p, e: p + beta * (e - p), state.generator["params"],
                          state.generator_ema["params"])
    ema = {**state.generator, "params": params}  # buffers (w_avg, noise) copied, as the reference
    return state.replace(generator_ema=ema, step=state.step + 1), {"ema_beta": beta}


_PHASES = {"G_main": _g_main, "G_reg": _g_reg, "D_main": _d_main, "D_reg": _d_reg,
           "G_ema": _g_ema}


def train_phase(spec: Spec, phase: str, state: TrainState, batch: dict[str, Any]):
    """One phase of a train step (pure; jitted per phase). Returns (state, metrics)."""
    if phase not in _PHASES:
        raise ValueError(f"unknown phase {phase!r}; stylegan has {tuple(_PHASES)}")
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    key = jax.random.fold_in(key, PHASE_IDS[phase])
    return _PHASES[phase](spec, state, batch, key)
