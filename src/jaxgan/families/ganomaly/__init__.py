"""GANomaly (Akcay, Atapour-Abarghouei & Breckon 2018): anomaly detection by an
encoder-decoder-encoder generator trained on normal images only, as samet-akcay/ganomaly trains
it. Each step, on a batch x of normal images:

- G: x_hat, z, z_hat = G(x); loss = w_adv |f(x) - f(x_hat)|^2 (feature matching on D's last
  feature map) + w_con |x - x_hat|_1 + w_enc |z - z_hat|^2 (means), weights 1, 50, 1;
- D: binary cross-entropy of D(x) against 1 and D(x_hat) (the pre-update reconstruction,
  no gradient to G) against 0, halved; when that loss falls below `loss.reinit_d_below` (1e-5),
  D's weights are drawn afresh (the reference's `reinit_d`; its Adam state is kept).
Adam 2e-4 (0.5, 0.999) for both, batch 64, 15 epochs.

The anomaly score of an image is mean((z - z_hat)^2) over the latent's coordinates, with the
networks' running BatchNorm statistics (test mode). The reference then min-max normalises the
scores over the test set; jaxgan does not (AUROC is unchanged by it, and a single image could
not be scored): `jaxgan.anomaly` calibrates a threshold on held-out normal images instead.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import config_lib
from jaxgan import state as state_lib
from jaxgan.errors import UserError
from jaxgan.families import protocol
from jaxgan.models import ganomaly as nets
from jaxgan.objectives import optimizers
from jaxgan.state import NetState, step_key

MUTABLE = ["batch_stats"]


def config() -> ml_collections.ConfigDict:
    """The reference's MNIST setting (32x32x1, latent 100, widths 64, batch 64, Adam 2e-4
    (0.5, 0.999), weights 1 / 50 / 1, 15 epochs), one-class: train on class 0's train images
    (`dataset.classes`) less the last 500 (`dataset.holdout`: the calibration images)."""
    c = config_lib.base_config()
    c.family = "ganomaly"
    c.batch_size = 64
    c.dataset.image_size = 32
    c.dataset.classes = "0"
    c.dataset.holdout = 500
    c.model = ml_collections.ConfigDict({"latent_dim": 100, "width": 64})
    c.loss = ml_collections.ConfigDict({"w_adv": 1.0, "w_con": 50.0, "w_enc": 1.0,
                                        "reinit_d_below": 1e-5})
    c.g_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    c.d_optimizer = config_lib.optimizer_config(2e-4, b1=0.5, b2=0.999)
    c.num_train_steps = 1300  # ~15 epochs of one MNIST class (~5,500 images) at batch 64
    c.log_every_steps = 100
    c.checkpoint_every_steps = 650
    c.sample_every_steps = 650
    c.num_sample_images = 16
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    image_shape: tuple[int, int, int]


def setup(c) -> Spec:
    size, channels = c.dataset.image_size, c.dataset.channels
    try:
        nets.num_stages(size)
    except ValueError as e:
        raise UserError(f"dataset.image_size: {e}") from None
    if c.model.latent_dim < 1 or c.model.width < 1:
        raise UserError("model.latent_dim and model.width must be >= 1")
    loss = c.loss
    if min(loss.w_adv, loss.w_con, loss.w_enc) < 0 or not loss.w_enc:
        raise UserError("loss.w_adv, loss.w_con must be >= 0 and loss.w_enc > 0 (the latent "
                        "loss trains the second encoder, whose distance is the score)")
    return Spec(
        config=ml_collections.FrozenConfigDict(c),
        generator=nets.Generator(size, channels, c.model.latent_dim, c.model.width),
        discriminator=nets.Discriminator(size, c.model.width),
        g_tx=optimizers.make(c.g_optimizer), d_tx=optimizers.make(c.d_optimizer),
        image_shape=(size, size, channels))


def _init_d(spec: Spec, key: jax.Array):
    return spec.discriminator.init(key, jnp.zeros((1, *spec.image_shape)), train=False)


def init(spec: Spec, seed) -> state_lib.TrainState:
    g_key, d_key, run_key = jax.random.split(jax.random.key(seed), 3)
    x = jnp.zeros((1, *spec.image_shape))
    g_vars = spec.generator.init(g_key, x, train=False)
    return state_lib.initial_state(run_key, {
        "G": state_lib.trainable(g_vars, spec.g_tx),
        "D": state_lib.trainable(_init_d(spec, d_key), spec.d_tx)})


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    del step
    return {"image": protocol.Field(spec.image_shape)}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    del spec, step
    return ("gd",)


def _apply(module, variables, params, x):
    out, mutated = module.apply({**variables, "params": params}, x, train=True,
                                mutable=MUTABLE)
    return out, {**variables, **mutated}


def bce(logits: jax.Array, real: bool) -> jax.Array:
    """PyTorch's BCELoss of sigmoid(logits) against 1 (real) or 0, averaged."""
    target = jnp.full_like(logits, 1.0 if real else 0.0)
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, target))


def generator_losses(loss, x, x_hat, z, z_hat, real_features, fake_features):
    """(weighted total, {adv, con, enc}) of GANomaly's generator."""
    terms = {"g_adv": jnp.mean((real_features - fake_features) ** 2),
             "g_con": jnp.mean(jnp.abs(x - x_hat)),
             "g_enc": jnp.mean((z - z_hat) ** 2)}
    total = (loss.w_adv * terms["g_adv"] + loss.w_con * terms["g_con"]
             + loss.w_enc * terms["g_enc"])
    return total, terms


def train_phase(spec: Spec, phase: str, state, batch):
    if phase != "gd":
        raise ValueError(f"unknown phase {phase!r}")
    c = spec.config
    x = batch["image"]
    g_net, d_net = state.nets["G"], state.nets["D"]

    def g_loss_fn(params):
        (x_hat, z, z_hat), g_vars = _apply(spec.generator, g_net.variables, params, x)
        (_, real_features), d_vars = _apply(spec.discriminator, d_net.variables, d_net.params, x)
        (_, fake_features), d_vars = _apply(spec.discriminator, d_vars, d_net.params, x_hat)
        total, terms = generator_losses(c.loss, x, x_hat, z, z_hat,
                                        jax.lax.stop_gradient(real_features), fake_features)
        return total, (terms, x_hat, g_vars, d_vars)

    (g_loss, (terms, x_hat, g_vars, d_vars)), g_grads = jax.value_and_grad(
        g_loss_fn, has_aux=True)(g_net.params)
    g_net = optimizers.apply_gradients(spec.g_tx, g_net, g_grads, variables=g_vars)
    fake = jax.lax.stop_gradient(x_hat)

    def d_loss_fn(params):
        (real_logits, _), v = _apply(spec.discriminator, d_vars, params, x)
        (fake_logits, _), v = _apply(spec.discriminator, v, params, fake)
        return 0.5 * (bce(real_logits, True) + bce(fake_logits, False)), v

    (d_loss, d_vars), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
    d_net = optimizers.apply_gradients(spec.d_tx, d_net, d_grads, variables=d_vars)
    # The reference re-initialises D's weights (not its optimizer) when it has won outright.
    reinit = d_loss < c.loss.reinit_d_below
    # The fresh draw runs only on the steps that need it (a conditional, not a select).
    variables = jax.lax.cond(reinit, lambda: _init_d(spec, step_key(state, 1)),
                             lambda: d_net.variables)
    d_net = NetState(variables, d_net.opt_state)
    nets_ = {**state.nets, "G": g_net, "D": d_net}
    metrics = {"g_loss": g_loss, **terms, "d_loss": d_loss,
               "d_reinit": reinit.astype(jnp.float32)}
    return state.replace(step=state.step + 1, nets=nets_), metrics


def _test(spec: Spec, variables, images):
    return spec.generator.apply(variables, images, train=False)


def reconstruct(spec: Spec, variables, inputs, rng=None, truncation=None):
    del rng, truncation
    return _test(spec, variables, inputs["image"])[0]


def score(spec: Spec, variables, images):
    x_hat, z, z_hat = _test(spec, variables["G"], images)
    return {"score": jnp.mean((z - z_hat) ** 2, axis=-1), "residual": jnp.abs(images - x_hat),
            "reconstruction": x_hat}


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    # The reconstruction x -> x_hat, scored against its input (paired metrics) and sampled as
    # rows of input | reconstruction.
    return {"G": protocol.GeneratorExport(
        network="G", image_shape=spec.image_shape,
        generate=functools.partial(reconstruct, spec),
        condition=protocol.Condition(field="image", shape=spec.image_shape, target="image"))}


def anomaly(spec: Spec) -> protocol.AnomalyScorer:
    return protocol.AnomalyScorer(
        networks=("G",), image_shape=spec.image_shape, score=functools.partial(score, spec),
        description="GANomaly latent distance mean((E(x) - E'(G(E(x))))^2), test-mode "
                    "BatchNorm")


FAMILY = protocol.Family(name="ganomaly", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         generators=generators, anomaly=anomaly)
