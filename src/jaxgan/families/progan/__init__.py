"""Progressive growing of GANs (Karras et al. 2018), trained as tkarras/progressive_growing_of_gans
does: the networks start at 4x4 and grow one level at a time to the run's resolution.

**The schedule** (the reference's TrainingSchedule, in steps of `batch_size` images): level 0
trains for `training.stable_images`; then each next level fades in over
`training.fade_images` (its weight alpha rising linearly from 0 to 1) and trains stable for
`training.stable_images`; the last level stays until the end. The stage and alpha are functions
of the step, so a resumed run continues the same schedule; each stage (a level, fading or
stable) is its own compiled phase. The data iterator serves the stage's resolution: the images
are made at the run's resolution, then box-averaged down (`Field.canvas`). While a level fades
in, D's real images are blended the same way as G's output: alpha x + (1 - alpha)
upsample(downsample(x)).

**A step**: D on a real batch and G(z) with WGAN-GP (lambda 10 on interpolates) plus the drift
term 0.001 D(x)^2; then G on new latents, -D(G(z)). Adam (0, 0.99), 1e-3 for both; with
`training.reset_optimizer` (the reference's default) both Adam states start afresh at every
stage boundary. G's EMA (beta 0.999 per step) is what is sampled and scored.

**Sampling at any stage**: G's variables carry the stage (`progress`: level and alpha, updated
every step, in the EMA copy too), and `generate` runs the network of that stage and enlarges
its output to the run's resolution (nearest), so a sample grid shows the current resolution.
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
from jaxgan.models import progan as nets
from jaxgan.objectives import ema, optimizers, regularizers
from jaxgan.state import NetState, step_key


def config() -> ml_collections.ConfigDict:
    """The reference's defaults at 1024x1024x3 (CelebA-HQ): fmap_base 8192, fmap_max 512,
    latent 512, minibatch-stddev groups of 4, 600k images per stable stage and per fade-in,
    WGAN-GP (10) with drift 0.001, Adam 1e-3 (0, 0.99), EMA 0.999, optimizer reset per stage."""
    c = config_lib.base_config()
    c.family = "progan"
    c.batch_size = 16
    c.dataset.name = "image_folder"
    c.dataset.image_size = 1024
    c.dataset.channels = 3
    c.model = ml_collections.ConfigDict({"fmap_base": 8192, "fmap_decay": 1.0,
                                         "fmap_max": 512, "latent_dim": 512, "mbstd_group": 4})
    c.training = ml_collections.ConfigDict({
        "stable_images": 600_000, "fade_images": 600_000, "reset_optimizer": True,
        "ema_decay": 0.999, "gradient_penalty": 10.0, "drift": 0.001})
    c.g_optimizer = config_lib.optimizer_config(1e-3, b1=0.0, b2=0.99)
    c.d_optimizer = config_lib.optimizer_config(1e-3, b1=0.0, b2=0.99)
    c.num_train_steps = 15_000_000 // 16
    c.log_every_steps = 500
    c.checkpoint_every_steps = 10_000
    c.sample_every_steps = 10_000
    c.num_sample_images = 16
    return c


@dataclasses.dataclass(frozen=True)
class Spec:
    config: ml_collections.FrozenConfigDict
    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    levels: int
    stable_steps: int
    fade_steps: int

    @property
    def resolution(self) -> int:
        return self.config.dataset.image_size

    @property
    def channels(self) -> int:
        return self.config.dataset.channels


@dataclasses.dataclass(frozen=True)
class Stage:
    level: int
    fading: bool
    start: int  # its first step

    @property
    def name(self) -> str:
        return f"{4 << self.level}_{'fade' if self.fading else 'stable'}"


def stage_at(spec: Spec, step: int) -> Stage:
    """The reference's schedule: phase p = step // (stable + fade) is level p stable, then level
    p + 1 fading in; past the last fade-in, the last level stays."""
    period = spec.stable_steps + spec.fade_steps
    p, within = divmod(step, period)
    if p >= spec.levels - 1:
        return Stage(spec.levels - 1, False, (spec.levels - 1) * period)
    if within < spec.stable_steps:
        return Stage(p, False, p * period)
    return Stage(p + 1, True, p * period + spec.stable_steps)


def alpha_at(spec: Spec, stage: Stage, step):
    """The new level's weight at `step` (1 when stable)."""
    if not stage.fading:
        return jnp.ones((), jnp.float32)
    return jnp.asarray(step - stage.start, jnp.float32) / spec.fade_steps


def check_schedule(c, levels: int, stable: int, fade: int) -> None:
    """The run must reach its last level: a schedule longer than num_train_steps is a mistake."""
    needed = (levels - 1) * (stable + fade)
    if c.num_train_steps <= needed:
        raise UserError(
            f"growing 4x4 -> {c.dataset.image_size}x{c.dataset.image_size} takes "
            f"{levels - 1} x ({stable} stable + {fade} fade-in) = {needed} steps of "
            f"{c.batch_size} images before the last level trains; num_train_steps is "
            f"{c.num_train_steps}: raise it or shorten training.stable_images / fade_images")


def setup(c) -> Spec:
    try:
        levels = nets.num_levels(c.dataset.image_size)
    except ValueError as e:
        raise UserError(f"dataset.image_size: {e}") from None
    t = c.training
    stable, fade = t.stable_images // c.batch_size, t.fade_images // c.batch_size
    if stable < 1 or fade < 1:
        raise UserError(f"training.stable_images and training.fade_images must each be at least "
                        f"one batch ({c.batch_size} images), not {t.stable_images} and "
                        f"{t.fade_images}")
    check_schedule(c, levels, stable, fade)
    if c.batch_size % max(1, min(c.model.mbstd_group, c.batch_size)):
        raise UserError(f"batch_size {c.batch_size} must be a multiple of the minibatch-stddev "
                        f"group model.mbstd_group={c.model.mbstd_group}")
    m = c.model
    kw = {"fmap_base": m.fmap_base, "fmap_decay": m.fmap_decay, "fmap_max": m.fmap_max}
    return Spec(
        config=ml_collections.FrozenConfigDict(c),
        generator=nets.Generator(c.dataset.image_size, c.dataset.channels,
                                 latent_dim=m.latent_dim, **kw),
        discriminator=nets.Discriminator(c.dataset.image_size, mbstd_group=m.mbstd_group, **kw),
        g_tx=optimizers.make(c.g_optimizer), d_tx=optimizers.make(c.d_optimizer),
        levels=levels, stable_steps=stable, fade_steps=fade)


def _progress(level, alpha) -> dict:
    return {"level": jnp.asarray(level, jnp.int32), "alpha": jnp.asarray(alpha, jnp.float32)}


def init(spec: Spec, seed) -> state_lib.TrainState:
    g_key, d_key, run_key = jax.random.split(jax.random.key(seed), 3)
    top = spec.levels - 1
    z = jnp.zeros((1, spec.config.model.latent_dim))
    images = jnp.zeros((max(1, spec.config.model.mbstd_group), spec.resolution, spec.resolution,
                        spec.channels))
    g_vars = {**spec.generator.init(g_key, z, top), "progress": _progress(0, 1.0)}
    d_vars = spec.discriminator.init(d_key, images, top)
    return state_lib.initial_state(run_key, {"G": state_lib.trainable(g_vars, spec.g_tx),
                                             "D": state_lib.trainable(d_vars, spec.d_tx)},
                                   ema=("G",))


def batch_spec(spec: Spec, step: int) -> protocol.BatchSpec:
    size = 4 << stage_at(spec, step).level
    return {"image": protocol.Field((size, size, spec.channels), canvas=spec.resolution)}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    return (_stage_name(spec, step),)


def _stage_name(spec: Spec, step: int) -> str:
    return stage_at(spec, step).name


def _stage_of(spec: Spec, name: str) -> Stage:
    """The stage a phase name ("16_fade", "32_stable") stands for, with its first step."""
    size, _, kind = name.partition("_")
    level, fading = int(size).bit_length() - 3, kind == "fade"
    period = spec.stable_steps + spec.fade_steps
    start = (level - 1) * period + spec.stable_steps if fading else level * period
    return Stage(level, fading, start)


def _blend_reals(images: jax.Array, alpha) -> jax.Array:
    """The reference's FadeLOD: a fading level's real images, alpha x + (1 - alpha)
    upsample(downsample(x))."""
    coarse = nets.upsample(nets.downsample(images))
    return alpha * images + (1.0 - alpha) * coarse


def _fresh_opt(tx, params, opt_state, reset):
    fresh = tx.init(params)
    return jax.tree.map(lambda new, old: jnp.where(reset, new, old), fresh, opt_state)


def train_phase(spec: Spec, phase: str, state, batch):
    stage = _stage_of(spec, phase)
    c, level = spec.config, stage.level
    alpha = alpha_at(spec, stage, state.step)
    reals = batch["image"]
    if stage.fading:
        reals = _blend_reals(reals, alpha)
    g_net, d_net = state.nets["G"], state.nets["D"]
    reset = jnp.logical_and(c.training.reset_optimizer, state.step == stage.start)
    d_opt = _fresh_opt(spec.d_tx, d_net.params, d_net.opt_state, reset)
    g_opt = _fresh_opt(spec.g_tx, g_net.params, g_net.opt_state, reset)
    d_key, g_key, gp_key = (step_key(state, i) for i in range(3))
    b, latent = reals.shape[0], c.model.latent_dim

    def generate(params, key):
        z = jax.random.normal(key, (b, latent))
        return spec.generator.apply({**g_net.variables, "params": params}, z, level, alpha)

    fake = jax.lax.stop_gradient(generate(g_net.params, d_key))

    def d_loss_fn(params):
        def d(x):
            return spec.discriminator.apply({**d_net.variables, "params": params}, x, level,
                                            alpha)

        real_scores, fake_scores = d(reals), d(fake)
        penalty = regularizers.gradient_penalty(lambda x: d(x), reals, fake, gp_key)
        drift = jnp.mean(real_scores**2)
        loss = (jnp.mean(fake_scores) - jnp.mean(real_scores)
                + c.training.gradient_penalty * penalty + c.training.drift * drift)
        return loss, {"d_real_logit": jnp.mean(real_scores),
                      "d_fake_logit": jnp.mean(fake_scores), "gradient_penalty": penalty,
                      "drift": drift}

    (d_loss, d_terms), d_grads = jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
    d_net = optimizers.apply_gradients(spec.d_tx, NetState(d_net.variables, d_opt), d_grads)

    def g_loss_fn(params):
        scores = spec.discriminator.apply(d_net.variables, generate(params, g_key), level, alpha)
        return -jnp.mean(scores)

    g_loss, g_grads = jax.value_and_grad(g_loss_fn)(g_net.params)
    g_net = optimizers.apply_gradients(spec.g_tx, NetState(g_net.variables, g_opt), g_grads)
    progress = _progress(level, alpha)
    g_net = NetState({**g_net.variables, "progress": progress}, g_net.opt_state)
    g_ema = ema.update(state.ema["G"], g_net.variables, c.training.ema_decay,
                       averaged=("params",))
    metrics = {"d_loss": d_loss, "g_loss": g_loss, **d_terms, "alpha": alpha,
               "resolution": jnp.asarray(4 << level, jnp.float32)}
    return state.replace(step=state.step + 1, nets={**state.nets, "G": g_net, "D": d_net},
                         ema={"G": g_ema}), metrics


def generate(spec: Spec, variables, inputs, rng=None, truncation=None):
    """Images at the run's resolution from the stage the variables were saved at (nearest
    enlargement of a lower stage's output), clipped to [-1, 1]."""
    del rng, truncation
    z = inputs["z"]
    progress = variables["progress"]

    def at(level):
        def run(alpha):
            x = spec.generator.apply(variables, z, level, alpha)
            factor = spec.resolution // (4 << level)
            return x.repeat(factor, axis=1).repeat(factor, axis=2)
        return run

    images = jax.lax.switch(jnp.clip(progress["level"], 0, spec.levels - 1),
                            [at(level) for level in range(spec.levels)], progress["alpha"])
    return jnp.clip(images, -1.0, 1.0)


def generators(spec: Spec) -> dict[str, protocol.GeneratorExport]:
    return {"G": protocol.GeneratorExport(
        network="G", image_shape=(spec.resolution, spec.resolution, spec.channels),
        generate=functools.partial(generate, spec), latent_dim=spec.config.model.latent_dim)}


FAMILY = protocol.Family(name="progan", config=config, setup=setup, init=init,
                         batch_spec=batch_spec, phases=phases, train_phase=train_phase,
                         stage=_stage_name,
                         generators=generators)
