"""Pix2Pix (Isola et al. 2017), paired image-to-image translation, as junyanz/pytorch-CycleGAN-
and-pix2pix trains it: a generator `G` (U-Net or ResNet) maps A to B; a conditional PatchGAN `D`
judges (A, B) pairs (the 6-channel concatenation for RGB). Each step: D on (A, B) and
(A, G(A)), its loss halved; then G on D's verdict of (A, G(A)) through the updated D plus
lambda_L1 |G(A) - B|. Adam 2e-4 (0.5, 0.999), a constant rate for `n_epochs`, then linear decay
to 0 over `n_epochs_decay`.

`loss.gan_weight` = 0 trains G on L1 alone (no D), `loss.l1_weight` = 0 on the GAN loss alone:
the three rows of the paper's Table 1.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.families import translation as tr
from jaxgan.objectives import optimizers
from jaxgan.state import NetState, step_key


def config() -> ml_collections.ConfigDict:
    """pix2pix's facades defaults: 256x256x3 (resized to 286, random crop 256, flips), batch
    1, unet_256 with batch norm and dropout, basic PatchGAN, vanilla GAN loss, lambda_L1 100,
    100 + 100 epochs of the 400 training pairs."""
    c = tr.base_config("unet_256", "batch", image_size=256, epoch_size=400, n_epochs=100,
                       n_epochs_decay=100)
    c.family = "pix2pix"
    c.dataset.name = "paired_folder"
    c.loss = ml_collections.ConfigDict({"gan_mode": "vanilla", "gan_weight": 1.0,
                                        "l1_weight": 100.0})
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    input_field: str
    output_field: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    size_multiple: int


def setup(c) -> Spec:
    tr.check(c)
    if c.loss.gan_mode not in tr.GAN_MODES:
        raise UserError(f"loss.gan_mode must be one of {tr.GAN_MODES}, not {c.loss.gan_mode!r}")
    if c.loss.gan_weight < 0 or c.loss.l1_weight < 0 or not (c.loss.gan_weight
                                                              or c.loss.l1_weight):
        raise UserError("loss.gan_weight and loss.l1_weight must be >= 0, and not both 0")
    if c.dataset.name == "unpaired_folder":
        raise UserError("pix2pix trains on pairs: dataset.name=paired_folder (use the cyclegan "
                        "family for unpaired data)")
    size, ch = c.dataset.image_size, c.dataset.channels
    source, target = ("A", "B") if c.model.direction == "AtoB" else ("B", "A")
    return Spec(
        config=ml_collections.FrozenConfigDict(c),
        generator=tr.generator(c.model, ch),
        discriminator=tr.discriminator(c.model),
        g_tx=tr.optimizer(c.g_optimizer, c.training, c.batch_size),
        d_tx=tr.optimizer(c.d_optimizer, c.training, c.batch_size),
        input_field=source, output_field=target,
        input_shape=(size, size, ch), output_shape=(size, size, ch),
        size_multiple=tr.size_multiple(c.model.net_g, size),
    )


def init(spec: Spec, seed) -> state_lib.TrainState:
    g_key, d_key, drop_key, run_key = jax.random.split(jax.random.key(seed), 4)
    a = jnp.zeros((1, *spec.input_shape))
    pair = jnp.zeros((1, *spec.input_shape[:2], spec.input_shape[2] + spec.output_shape[2]))
    g_vars = spec.generator.init({"params": g_key, "dropout": drop_key}, a, train=False)
    d_vars = spec.discriminator.init(d_key, pair, train=False)
    return state_lib.initial_state(run_key, {"G": state_lib.trainable(g_vars, spec.g_tx),
                                             "D": state_lib.trainable(d_vars, spec.d_tx)})


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    return {spec.input_field: protocol.Field(spec.input_shape),
            spec.output_field: protocol.Field(spec.output_shape)}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    del step
    return ("g_l1",) if not spec.config.loss.gan_weight else ("dg",)


def train_phase(spec: Spec, phase: str, state, batch):
    c = spec.config
    a, b = batch[spec.input_field], batch[spec.output_field]
    drop_key = step_key(state)
    g_net, d_net = state.nets["G"], state.nets["D"]

    def generate(params):
        return tr.apply_train(spec.generator, g_net.variables, params, a, drop_key)

    fake, g_vjp, g_vars = jax.vjp(generate, g_net.params, has_aux=True)
    metrics = {}
    if phase == "dg":
        def d_loss_fn(params):
            real_logits, v = tr.apply_train(spec.discriminator, d_net.variables, params,
                                            jnp.concatenate([a, b], -1))
            fake_logits, v = tr.apply_train(spec.discriminator, v, params,
                                            jnp.concatenate([a, jax.lax.stop_gradient(fake)], -1))
            loss = 0.5 * (tr.gan_loss(c.loss.gan_mode, real_logits, True)
                          + tr.gan_loss(c.loss.gan_mode, fake_logits, False))
            return loss, v

        (d_loss, d_vars), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
        d_net = optimizers.apply_gradients(spec.d_tx, d_net, d_grads, variables=d_vars)
        metrics["d_loss"] = d_loss
    elif phase != "g_l1":
        raise ValueError(f"unknown phase {phase!r}")

    def g_loss_fn(images):
        l1 = jnp.mean(jnp.abs(images - b))
        loss = c.loss.l1_weight * l1
        adversarial, v = jnp.zeros(()), d_net.variables
        if phase == "dg":
            logits, v = tr.apply_train(spec.discriminator, d_net.variables, d_net.params,
                                       jnp.concatenate([a, images], -1))
            adversarial = tr.gan_loss(c.loss.gan_mode, logits, True)
            loss = loss + c.loss.gan_weight * adversarial
        return loss, (l1, adversarial, v)

    (g_loss, (l1, adversarial, d_vars)), d_images = jax.value_and_grad(
        g_loss_fn, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_images)
    g_net = optimizers.apply_gradients(spec.g_tx, g_net, g_grads, variables=g_vars)
    nets = {**state.nets, "G": g_net, "D": NetState(d_vars, d_net.opt_state)}
    metrics.update(g_loss=g_loss, g_l1=l1, g_gan=adversarial,
                   lr_scale=tr.lr_multiplier(c.training, c.batch_size, state.step))
    return state.replace(step=state.step + 1, nets=nets), metrics


def generate(spec: Spec, variables, batch, rng=None, truncation=None):
    del truncation
    key = rng if rng is not None else jax.random.key(0)
    return tr.apply_test(spec.generator, spec.config.model.eval_norm, variables,
                         batch["image"], key)


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    return {"G": protocol.GeneratorExport(
        network="G", image_shape=spec.output_shape, generate=functools.partial(generate, spec),
        condition=protocol.Condition(field=spec.input_field, shape=spec.input_shape,
                                     target=spec.output_field),
        size_multiple=spec.size_multiple)}


FAMILY = protocol.Family(name="pix2pix", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         generators=generators)
