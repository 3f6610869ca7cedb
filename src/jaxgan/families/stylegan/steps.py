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

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.models import stylegan2
from jaxgan.objectives import augment, ema, optimizers, regularizers
from jaxgan.state import NetState, TrainState, step_key

PHASE_IDS = {"G_main": 0, "G_reg": 1, "D_main": 2, "D_reg": 3, "G_ema": 4}


def sample_latents(spec, key: jax.Array, num: int) -> jax.Array:
    return jax.random.normal(key, (num, spec.latent_dim), jnp.float32)


def phases(spec, step: int) -> tuple[str, ...]:
    names = ["G_main"]
    if spec.pl_weight > 0 and step % spec.g_reg_interval == 0:
        names.append("G_reg")
    names.append("D_main")
    if spec.r1_gamma > 0 and step % spec.d_reg_interval == 0:
        names.append("D_reg")
    names.append("G_ema")
    return tuple(names)


# --- the generator and discriminator as used in training -------------------------------------


def _mixed_ws(spec, g_vars, g_params, z, labels, key, update_w_avg: bool = True):
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


def _synth(spec, g_vars, g_params, ws, key):
    return spec.generator.apply({**g_vars, "params": g_params}, ws, "random",
                                method=stylegan2.Generator.synthesize, rngs={"noise": key})


def _disc(spec, d_vars, d_params, images, labels, key=None):
    """D's logits; with a DiffAugment policy the images are first augmented using `key`."""
    if spec.augment_policy:
        images = augment.diff_augment(images, key, spec.augment_policy)
    return spec.discriminator.apply({**d_vars, "params": d_params}, images, labels)


def _aug_keys(key, num: int):
    # Augmentation keys are folded off the phase key, so the other draws of a step do not
    # depend on whether a policy is set.
    return jax.random.split(jax.random.fold_in(key, 0x417567), num)


def _fake_inputs(spec, key, batch_size: int):
    k_z, k_c = jax.random.split(key)
    z = sample_latents(spec, k_z, batch_size)
    labels = (jax.random.randint(k_c, (batch_size,), 0, spec.num_classes)
              if spec.num_classes else None)
    return z, labels


def _g_main(spec, state, batch, key):
    b = batch["image"].shape[0]
    k_in, k_mix, k_noise = jax.random.split(key, 3)
    z, labels = _fake_inputs(spec, k_in, b)
    g_net, d_vars = state.nets["G"], state.nets["D"].variables

    (k_aug,) = _aug_keys(key, 1)

    def loss_fn(g_params):
        ws, g_vars = _mixed_ws(spec, g_net.variables, g_params, z, labels, k_mix)
        fake = _synth(spec, g_vars, g_params, ws, k_noise)
        logits = _disc(spec, d_vars, d_vars["params"], fake, labels, k_aug)
        return jnp.mean(jax.nn.softplus(-logits)), (g_vars, logits)

    (loss, (g_vars, logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(g_net.params)
    g_net = optimizers.apply_gradients(spec.g_tx, g_net, grads, variables=g_vars, sanitize=True)
    state = state.replace(nets={**state.nets, "G": g_net})
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
    g_net = state.nets["G"]

    def loss_fn(g_params):
        ws, g_vars = _mixed_ws(spec, g_net.variables, g_params, z, labels, k_mix)
        penalty, pl_mean, _ = path_length_penalty(
            lambda ws: _synth(spec, g_vars, g_params, ws, k_noise), ws, k_pl,
            state.extra["pl_mean"], spec.pl_decay)
        loss = jnp.mean(penalty) * spec.pl_weight * spec.g_reg_interval
        return loss, (g_vars, jax.lax.stop_gradient(pl_mean), penalty)

    (_, (g_vars, pl_mean, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        g_net.params)
    g_net = optimizers.apply_gradients(spec.g_tx, g_net, grads, variables=g_vars, sanitize=True)
    state = state.replace(nets={**state.nets, "G": g_net},
                          extra={**state.extra, "pl_mean": pl_mean})
    return state, {"pl_penalty": jnp.mean(penalty), "pl_mean": pl_mean}


def _d_main(spec, state, batch, key):
    real, b = batch["image"], batch["image"].shape[0]
    real_labels = batch["label"] if spec.num_classes else None
    k_in, k_mix, k_noise = jax.random.split(key, 3)
    z, labels = _fake_inputs(spec, k_in, b)
    g_net, d_net = state.nets["G"], state.nets["D"]
    ws, g_vars = _mixed_ws(spec, g_net.variables, g_net.params, z, labels, k_mix)
    fake = jax.lax.stop_gradient(_synth(spec, g_vars, g_net.params, ws, k_noise))

    k_aug_fake, k_aug_real = _aug_keys(key, 2)

    def loss_fn(d_params):
        fake_logits = _disc(spec, d_net.variables, d_params, fake, labels, k_aug_fake)
        real_logits = _disc(spec, d_net.variables, d_params, real, real_labels, k_aug_real)
        loss = jnp.mean(jax.nn.softplus(fake_logits)) + jnp.mean(jax.nn.softplus(-real_logits))
        return loss, (fake_logits, real_logits)

    (loss, (fake_logits, real_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        d_net.params)
    d_net = optimizers.apply_gradients(spec.d_tx, d_net, grads, sanitize=True)
    state = state.replace(nets={**state.nets, "G": NetState(g_vars, g_net.opt_state),
                                "D": d_net})
    return state, {"d_loss": loss, "d_scores_fake": jnp.mean(fake_logits),
                   "d_scores_real": jnp.mean(real_logits)}


def _d_reg(spec, state, batch, key):
    real = batch["image"]
    real_labels = batch["label"] if spec.num_classes else None
    (k_aug,) = _aug_keys(key, 1)
    d_net = state.nets["D"]

    def loss_fn(d_params):
        penalty = regularizers.r1_norms(
            lambda x: _disc(spec, d_net.variables, d_params, x, real_labels, k_aug), real)
        return jnp.mean(penalty) * (spec.r1_gamma / 2) * spec.d_reg_interval, penalty

    (_, penalty), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_net.params)
    d_net = optimizers.apply_gradients(spec.d_tx, d_net, grads, sanitize=True)
    return state.replace(nets={**state.nets, "D": d_net}), {"r1_penalty": jnp.mean(penalty)}


def ema_beta(spec, step: jax.Array, batch_size: int) -> jax.Array:
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
    # Params averaged; buffers (w_avg, noise) copied, as the reference.
    averaged = ema.update(state.ema["G"], state.nets["G"].variables, beta, averaged=("params",))
    return state.replace(ema={**state.ema, "G": averaged}, step=state.step + 1), \
        {"ema_beta": beta}


_PHASES = {"G_main": _g_main, "G_reg": _g_reg, "D_main": _d_main, "D_reg": _d_reg,
           "G_ema": _g_ema}


def train_phase(spec, phase: str, state: TrainState, batch: dict[str, Any]):
    """One phase of a train step (pure; jitted per phase). Returns (state, metrics)."""
    if phase not in _PHASES:
        raise ValueError(f"unknown phase {phase!r}; stylegan has {tuple(_PHASES)}")
    return _PHASES[phase](spec, state, batch, step_key(state, PHASE_IDS[phase]))
