"""A minimal image-to-image family: a small convolutional generator G maps image A to image B, a
small patch discriminator D judges (A, B) pairs; conditional GAN loss + L1, as pix2pix trains.

With `model.grow_step` > 0 the images are half their size before that step (a stage
boundary, as progressive growing has): the batch spec, the phase and the data iterator change
with the step, and the fully convolutional networks run at both sizes.

With `model.feature_weights` (an .npz, `model.feature_sha256` its sha256) a frozen network F
(one convolution) adds a feature-matching term |F(G(a)) - F(b)|, as a perceptual loss does.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import config_lib, frozen
from jaxgan import state as state_lib
from jaxgan.families import protocol
from jaxgan.objectives import ema, optimizers


class Generator(nn.Module):
    width: int
    channels: int

    @nn.compact
    def __call__(self, a):
        x = nn.relu(nn.Conv(self.width, (3, 3))(a))
        x = nn.relu(nn.Conv(self.width, (3, 3))(x))
        return jnp.tanh(a + nn.Conv(self.channels, (3, 3))(x))


class Features(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.relu(nn.Conv(4, (3, 3))(x))


class Discriminator(nn.Module):
    width: int

    @nn.compact
    def __call__(self, a, b):
        x = nn.leaky_relu(nn.Conv(self.width, (4, 4), strides=2)(jnp.concatenate([a, b], -1)),
                          0.2)
        return nn.Conv(1, (3, 3))(x)[..., 0]


def config() -> ml_collections.ConfigDict:
    c = config_lib.base_config()
    c.family = "toy_families.translation"
    c.dataset.name = "paired_folder"
    c.model = ml_collections.ConfigDict({"ngf": 8, "ndf": 8, "grow_step": 0,
                                         "feature_weights": "", "feature_sha256": ""})
    c.loss = ml_collections.ConfigDict({"l1_weight": 10.0})
    c.ema_decay = 0.9
    c.g_optimizer = config_lib.optimizer_config(2e-3)
    c.d_optimizer = config_lib.optimizer_config(2e-3)
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: Generator
    discriminator: Discriminator
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    image_shape: tuple[int, int, int]


def setup(c) -> Spec:
    ds = c.dataset
    return Spec(ml_collections.FrozenConfigDict(c), Generator(c.model.ngf, ds.channels),
                Discriminator(c.model.ndf), optimizers.make(c.g_optimizer),
                optimizers.make(c.d_optimizer), (ds.image_size, ds.image_size, ds.channels))


def init(spec: Spec, seed) -> state_lib.TrainState:
    g_key, d_key, run_key = jax.random.split(jax.random.key(seed), 3)
    x = jnp.zeros((1, *spec.image_shape))
    nets = {"G": state_lib.trainable(spec.generator.init(g_key, x), spec.g_tx),
            "D": state_lib.trainable(spec.discriminator.init(d_key, x, x), spec.d_tx)}
    return state_lib.initial_state(run_key, nets, ema=("G",))


def _size(spec: Spec, step: int) -> int:
    grow = spec.config.model.grow_step
    return spec.image_shape[0] // 2 if grow and step < grow else spec.image_shape[0]


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    field = protocol.image_field(_size(spec, step), spec.image_shape[2])
    return {"A": field, "B": field}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    return (f"step@{_size(spec, step)}",)


def _bce(logits, target: float):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, target)))


def train_phase(spec: Spec, phase: str, state, batch):
    a, b = batch["A"], batch["B"]
    g_net, d_net = state.nets["G"], state.nets["D"]
    fake = spec.generator.apply(g_net.variables, a)

    def d_loss_fn(params):
        v = {**d_net.variables, "params": params}
        real = spec.discriminator.apply(v, a, b)
        generated = spec.discriminator.apply(v, a, jax.lax.stop_gradient(fake))
        return 0.5 * (_bce(real, 1.0) + _bce(generated, 0.0))

    d_loss, d_grads = jax.value_and_grad(d_loss_fn)(d_net.params)
    d_net = optimizers.apply_gradients(spec.d_tx, d_net, d_grads)

    def g_loss_fn(params):
        out = spec.generator.apply({**g_net.variables, "params": params}, a)
        adversarial = _bce(spec.discriminator.apply(d_net.variables, a, out), 1.0)
        l1 = jnp.mean(jnp.abs(out - b))
        loss = adversarial + spec.config.loss.l1_weight * l1
        if "F" in state.nets:  # the frozen network: an argument of the phase, never trained
            features = state.nets["F"].variables
            loss = loss + jnp.mean(jnp.abs(Features().apply(features, out)
                                           - Features().apply(features, b)))
        return loss, l1

    (g_loss, l1), g_grads = jax.value_and_grad(g_loss_fn, has_aux=True)(g_net.params)
    g_net = optimizers.apply_gradients(spec.g_tx, g_net, g_grads)
    averaged = ema.update(state.ema["G"], g_net.variables, spec.config.ema_decay)
    return state.replace(step=state.step + 1, nets={**state.nets, "G": g_net, "D": d_net},
                         ema={"G": averaged}), {"d_loss": d_loss, "g_loss": g_loss, "l1": l1}


def frozen_networks(spec: Spec):
    m = spec.config.model
    if not m.feature_weights:
        return {}
    return {"F": frozen.load_npz(m.feature_weights, m.feature_sha256, "model.feature_weights")}


def generate(spec: Spec, variables, batch, rng=None, truncation=None):
    del rng, truncation
    return spec.generator.apply(variables, batch["image"])


def generators(spec: Spec):
    return {"G": protocol.GeneratorExport(
        network="G", image_shape=spec.image_shape, generate=functools.partial(generate, spec),
        condition=protocol.Condition(field="A", shape=spec.image_shape, target="B"))}


FAMILY = protocol.Family(name="toy_families.translation", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         generators=generators, frozen=frozen_networks)
