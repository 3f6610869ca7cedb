"""Image GANs with one generator and one discriminator trained alternately (DCGAN and kin).

One step: a discriminator update on a real batch and a batch of G(z), then a generator update
through the updated discriminator on the same G(z) (as PyTorch's DCGAN example does), the
generator's forward pass computed once and reused through its VJP.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan import losses, optimizers
from jaxgan.errors import UserError
from jaxgan.models import dcgan
from jaxgan.state import TrainState


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything static about a run: modules, optimizers, loss, shapes."""

    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    loss: losses.AdversarialLoss
    latent_dim: int
    image_shape: tuple[int, int, int]


def setup(config) -> Spec:
    m, ds = config.model, config.dataset
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}.get(m.dtype)
    if dtype is None:
        raise UserError(f"model.dtype must be float32 or bfloat16, not {m.dtype!r}")
    if m.name != "dcgan":
        raise UserError(f"unknown model.name {m.name!r} for family gan; supported: dcgan")
    try:
        dcgan.num_stages(ds.image_size)
    except ValueError as e:
        raise UserError(f"dataset.image_size: {e}") from None
    return Spec(
        generator=dcgan.Generator(ds.image_size, ds.channels, m.ngf, dtype),
        discriminator=dcgan.Discriminator(ds.image_size, m.ndf, dtype),
        g_tx=optimizers.make(config.g_optimizer),
        d_tx=optimizers.make(config.d_optimizer),
        loss=losses.get(config.loss.name),
        latent_dim=m.latent_dim,
        image_shape=(ds.image_size, ds.image_size, ds.channels),
    )


def init(spec: Spec, seed: jax.Array) -> TrainState:
    """The initial state from an integer seed (pure; jit it with out_shardings)."""
    key = jax.random.key(seed)
    g_key, d_key, run_key = jax.random.split(key, 3)
    z = jnp.zeros((1, spec.latent_dim), jnp.float32)
    x = jnp.zeros((1, *spec.image_shape), jnp.float32)
    g_vars = spec.generator.init(g_key, z, train=False)
    d_vars = spec.discriminator.init(d_key, x, train=False)
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(run_key),
        generator=g_vars,
        discriminator=d_vars,
        g_opt_state=spec.g_tx.init(g_vars["params"]),
        d_opt_state=spec.d_tx.init(d_vars["params"]),
        extra={},
    )


def sample_latents(spec: Spec, key: jax.Array, num: int) -> jax.Array:
    return jax.random.normal(key, (num, spec.latent_dim), jnp.float32)


def generate(spec: Spec, generator_vars: dict[str, Any], z_BxZ: jax.Array) -> jax.Array:
    """Images in [-1, 1] from latents, with BatchNorm's running statistics (inference mode)."""
    return spec.generator.apply(generator_vars, z_BxZ, train=False)


def _apply_train(module: nn.Module, variables: dict[str, Any], params, x):
    """Training-mode apply; returns (output, updated variables)."""
    out, mutated = module.apply(
        {**variables, "params": params}, x, train=True, mutable=["batch_stats"]
    )
    return out, {**variables, **mutated}


def train_step(spec: Spec, state: TrainState, batch: dict[str, jax.Array]):
    """One D update and one G update. Returns (new state, metrics of this step)."""
    real = batch["image"]
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    z = sample_latents(spec, key, real.shape[0])
    g_params, d_params = state.generator["params"], state.discriminator["params"]

    fake, g_vjp, g_vars = jax.vjp(
        lambda p: _apply_train(spec.generator, state.generator, p, z), g_params, has_aux=True
    )

    def d_loss_fn(params):
        real_logits, d_vars = _apply_train(spec.discriminator, state.discriminator, params, real)
        fake_logits, d_vars = _apply_train(
            spec.discriminator, d_vars, params, jax.lax.stop_gradient(fake)
        )
        return spec.loss.d_loss(real_logits, fake_logits), (d_vars, real_logits, fake_logits)

    (d_loss, (d_vars, real_logits, fake_logits)), d_grads = jax.value_and_grad(
        d_loss_fn, has_aux=True
    )(d_params)
    d_updates, d_opt_state = spec.d_tx.update(d_grads, state.d_opt_state, d_params)
    d_params = optax.apply_updates(d_params, d_updates)

    def g_loss_fn(images):
        logits, new_d_vars = _apply_train(spec.discriminator, d_vars, d_params, images)
        return spec.loss.g_loss(logits), (new_d_vars, logits)

    (g_loss, (d_vars, g_logits)), d_fake = jax.value_and_grad(g_loss_fn, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_fake)
    g_updates, g_opt_state = spec.g_tx.update(g_grads, state.g_opt_state, g_params)
    g_params = optax.apply_updates(g_params, g_updates)

    new_state = state.replace(
        step=state.step + 1,
        generator={**g_vars, "params": g_params},
        discriminator={**d_vars, "params": d_params},
        g_opt_state=g_opt_state,
        d_opt_state=d_opt_state,
    )
    metrics = {
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),  # D(x)
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),  # D(G(z)) before the D update
        "d_fake_after": jnp.mean(jax.nn.sigmoid(g_logits)),  # D(G(z)) after it
        "d_grad_norm": optax.tree.norm(d_grads),
        "g_grad_norm": optax.tree.norm(g_grads),
    }
    return new_state, metrics
