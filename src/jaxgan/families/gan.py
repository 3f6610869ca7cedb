"""Image GANs with one generator and one discriminator trained alternately: DCGAN, conditional
DCGAN with a projection discriminator, WGAN-GP, SNGAN and SAGAN, and the stabilisation toolbox,
each piece chosen in the config.

A train step is one or two phases (chosen in Python by `phases`, each compiled once):
- "dg": a discriminator update on a real batch and a batch of G(z), then a generator update
  through the updated discriminator on the same G(z) (as PyTorch's DCGAN example does), the
  generator's forward pass computed once and reused through its VJP;
- "d": the discriminator update alone, for `training.n_critic` > 1 (WGAN-GP's 5 critic steps
  per generator step). Every phase consumes one batch and counts one step, so
  `num_train_steps` counts discriminator updates.
With R1 or R2 on, the steps that add the penalty run "dg_reg" / "d_reg": every step, or with
`regularizer.r1_interval` = k every k-th step (StyleGAN2's lazy regularisation, the penalty
weighted k times in that step's D loss), so the other steps skip its double backward pass.

Config pieces (all in `config_lib.base_config`): `loss.name` (non_saturating, minimax, hinge,
wasserstein, least_squares), `loss.real_label` (one-sided label smoothing), `loss.feature_matching`,
`regularizer.*` (WGAN-GP gradient penalty, R1, R2, orthogonal), `d_layers.*` (spectral norm,
minibatch stddev, minibatch discrimination, normalisation), `training.*` (n_critic, generator EMA,
annealed instance noise), `augment.policy` (DiffAugment), `model.num_classes` (conditional),
`model.info_categories` with `loss.info_weight` (InfoGAN's categorical latent code, no labels).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan import augment, code_prior, losses, optimizers, regularizers
from jaxgan.errors import UserError
from jaxgan.models import dcgan
from jaxgan.state import TrainState, initial_state

MUTABLE = ["batch_stats", "spectral"]  # the collections a training-mode apply updates


@dataclasses.dataclass(frozen=True)
class Spec:
    """Everything static about a run: modules, optimizers, loss, techniques, shapes."""

    generator: nn.Module
    discriminator: nn.Module
    g_tx: optax.GradientTransformation
    d_tx: optax.GradientTransformation
    loss: losses.AdversarialLoss
    loss_name: str
    latent_dim: int
    image_shape: tuple[int, int, int]
    num_classes: int = 0
    info_categories: int = 0  # InfoGAN: G's K-way latent code, predicted by D's Q head
    info_projection: bool = False  # D's projection head conditioned on the code
    info_weight: float = 1.0
    info_prior: str = "uniform"  # or "learned" (jaxgan.code_prior): state.extra["code_prior"]
    info_prior_start_step: int = 0
    info_prior_momentum: float = 0.999
    info_prior_floor: float = 0.1
    real_label: float = 1.0
    feature_matching: bool = False
    mode_seeking: float = 0.0
    mode_seeking_steps: int = 0  # > 0: lambda annealed linearly to 0 over these steps
    gradient_penalty: float = 0.0
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    r1_interval: int = 1  # R1 and R2 on every k-th step only, weighted k times
    orthogonal: float = 0.0
    n_critic: int = 1
    ema_decay: float = 0.0
    ema_start_step: int = 0
    instance_noise: float = 0.0
    instance_noise_steps: int = 0
    augment_policy: str = ""


def _models(config, dtype) -> tuple[nn.Module, nn.Module]:
    m, ds, dl = config.model, config.dataset, config.d_layers
    if m.name == "dcgan":
        try:
            dcgan.num_stages(ds.image_size)
        except ValueError as e:
            raise UserError(f"dataset.image_size: {e}") from None
        if dl.norm not in ("batch", "layer", "none"):
            raise UserError(f"d_layers.norm must be batch, layer or none, not {dl.norm!r}")
        if m.g_conditional_bn and not m.num_classes:
            raise UserError("model.g_conditional_bn=True needs a conditional model: set "
                            "model.num_classes (e.g. 10 for MNIST)")
        # The generator embeds the InfoGAN code exactly as it embeds a class label.
        g = dcgan.Generator(ds.image_size, ds.channels, m.ngf, dtype,
                            num_classes=m.num_classes or m.info_categories,
                            spectral_norm=m.g_spectral_norm, conditional_bn=m.g_conditional_bn)
        d = dcgan.Discriminator(
            ds.image_size, m.ndf, dtype, norm=dl.norm, spectral_norm=dl.spectral_norm,
            minibatch_std=dl.minibatch_std, minibatch_kernels=dl.minibatch_discrimination,
            num_classes=m.num_classes, info_categories=m.info_categories,
            code_projection=bool(m.info_projection))
        return g, d
    if m.info_categories:
        raise UserError(f"model.info_categories (InfoGAN's code) is built for model.name=dcgan, "
                        f"not {m.name!r}")
    if m.name in ("sngan", "sagan"):
        from jaxgan.models import sngan

        if ds.image_size not in (32, 64):
            raise UserError(f"{m.name} is built for 32 or 64 px images; set dataset.image_size "
                            f"(28 px MNIST is padded to 32), not {ds.image_size}")
        if m.name == "sagan" and not m.attention_resolution:
            raise UserError("sagan needs model.attention_resolution (e.g. 16)")
        attention = m.attention_resolution if m.name == "sagan" else None
        g = sngan.Generator(image_size=ds.image_size, channels=ds.channels, g_width=m.ngf,
                            num_classes=m.num_classes, attention_resolution=attention,
                            g_spectral_norm=m.g_spectral_norm, dtype=dtype)
        d = sngan.Discriminator(image_size=ds.image_size, d_width=m.ndf,
                                num_classes=m.num_classes, attention_resolution=attention,
                                dtype=dtype)
        try:  # a bad attention resolution or size surfaces at construction-time checks
            labels = jnp.zeros((1,), jnp.int32) if m.num_classes else None
            jax.eval_shape(lambda: g.init(jax.random.key(0), jnp.zeros((1, m.latent_dim)),
                                          labels, train=False))
        except ValueError as e:
            raise UserError(f"model: {e}") from None
        return g, d
    raise UserError(f"unknown model.name {m.name!r} for family gan; choose dcgan, sngan or sagan")


def setup(config) -> Spec:
    m, ds, loss, reg, tr = config.model, config.dataset, config.loss, config.regularizer, \
        config.training
    dtype = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}.get(m.dtype)
    if dtype is None:
        raise UserError(f"model.dtype must be float32 or bfloat16, not {m.dtype!r}")
    if loss.real_label != 1.0 and loss.name not in ("non_saturating", "minimax"):
        raise UserError(f"loss.real_label (label smoothing) applies to the logistic losses "
                        f"(non_saturating, minimax), not {loss.name!r}")
    if tr.n_critic < 1:
        raise UserError(f"training.n_critic must be at least 1, not {tr.n_critic}")
    if not 0.0 <= tr.ema_decay < 1.0:
        raise UserError(f"training.ema_decay must be in [0, 1), not {tr.ema_decay}")
    if m.info_categories < 0 or m.info_categories == 1:
        raise UserError(f"model.info_categories must be 0 (off) or at least 2, not "
                        f"{m.info_categories}")
    if m.info_categories and m.num_classes:
        raise UserError("model.info_categories (an unsupervised code) and model.num_classes "
                        "(labels) cannot both be set; choose one")
    if m.info_projection and not m.info_categories:
        raise UserError("model.info_projection conditions D on InfoGAN's code: set "
                        "model.info_categories (e.g. 20)")
    if m.info_categories and loss.info_weight <= 0:
        raise UserError(f"loss.info_weight must be positive with model.info_categories, not "
                        f"{loss.info_weight}")
    if m.info_prior not in ("uniform", "learned"):
        raise UserError(f"model.info_prior must be uniform or learned, not {m.info_prior!r}")
    if m.info_prior == "learned":
        if not m.info_categories:
            raise UserError("model.info_prior=learned is the prior of InfoGAN's code: set "
                            "model.info_categories (e.g. 20)")
        if not 0.0 <= tr.info_prior_momentum < 1.0:
            raise UserError(f"training.info_prior_momentum must be in [0, 1), not "
                            f"{tr.info_prior_momentum}")
        if not 0.0 <= tr.info_prior_floor <= 1.0:
            raise UserError(f"training.info_prior_floor must be in [0, 1], not "
                            f"{tr.info_prior_floor}")
        if tr.info_prior_start_step < 0:
            raise UserError(f"training.info_prior_start_step must be >= 0, not "
                            f"{tr.info_prior_start_step}")
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
    if reg.r1_interval > 1 and not (reg.r1_gamma or reg.r2_gamma):
        raise UserError("regularizer.r1_interval spaces out the R1/R2 penalty, which is off: "
                        "set regularizer.r1_gamma (or r2_gamma) > 0, or r1_interval=1")
    generator, discriminator = _models(config, dtype)
    return Spec(
        generator=generator,
        discriminator=discriminator,
        g_tx=optimizers.make(config.g_optimizer),
        d_tx=optimizers.make(config.d_optimizer),
        loss=losses.get(loss.name),
        loss_name=loss.name,
        latent_dim=m.latent_dim,
        image_shape=(ds.image_size, ds.image_size, ds.channels),
        num_classes=m.num_classes,
        info_categories=int(m.info_categories),
        info_projection=bool(m.info_projection),
        info_weight=float(loss.info_weight),
        info_prior=str(m.info_prior),
        info_prior_start_step=int(tr.info_prior_start_step),
        info_prior_momentum=float(tr.info_prior_momentum),
        info_prior_floor=float(tr.info_prior_floor),
        real_label=float(loss.real_label),
        feature_matching=bool(loss.feature_matching),
        mode_seeking=float(loss.mode_seeking),
        mode_seeking_steps=int(loss.mode_seeking_steps),
        gradient_penalty=float(reg.gradient_penalty),
        r1_gamma=float(reg.r1_gamma),
        r2_gamma=float(reg.r2_gamma),
        r1_interval=int(reg.r1_interval),
        orthogonal=float(reg.orthogonal),
        n_critic=int(tr.n_critic),
        ema_decay=float(tr.ema_decay),
        ema_start_step=int(tr.ema_start_step),
        instance_noise=float(tr.instance_noise),
        instance_noise_steps=int(tr.instance_noise_steps),
        augment_policy=augment.config_policy(config.augment.policy),
    )


def init(spec: Spec, seed: jax.Array) -> TrainState:
    """The initial state from an integer seed (pure; jit it with out_shardings)."""
    key = jax.random.key(seed)
    g_key, d_key, run_key = jax.random.split(key, 3)
    z = jnp.zeros((1, spec.latent_dim), jnp.float32)
    x = jnp.zeros((1, *spec.image_shape), jnp.float32)
    labels = jnp.zeros((1,), jnp.int32) if spec.num_classes else None
    g_labels = jnp.zeros((1,), jnp.int32) if _g_classes(spec) else None
    g_vars = spec.generator.init(g_key, z, g_labels, train=False)
    d_vars = spec.discriminator.init(d_key, x, labels, train=False)
    extra = ({"code_prior": code_prior.uniform(spec.info_categories)}
             if spec.info_prior == "learned" else None)
    return initial_state(run_key, g_vars, d_vars, spec.g_tx, spec.d_tx, ema=bool(spec.ema_decay),
                         extra=extra)


def sample_latents(spec: Spec, key: jax.Array, num: int,
                   truncation: float | None = None) -> jax.Array:
    """z ~ N(0, I); with `truncation` t, each coordinate from N(0, 1) restricted to [-t, t]
    (BigGAN's truncation trick, Brock et al. 2019: fidelity for variety)."""
    shape = (num, spec.latent_dim)
    if truncation is None:
        return jax.random.normal(key, shape, jnp.float32)
    return jax.random.truncated_normal(key, -truncation, truncation, shape, jnp.float32)


def _g_classes(spec: Spec) -> int:
    """How many values the generator's label input takes: classes, or InfoGAN codes, or 0."""
    return spec.num_classes or spec.info_categories


def default_labels(spec: Spec, num: int) -> jax.Array | None:
    """Labels 0, 1, ..., K-1, 0, 1, ... (a class grid: one class per column), or None. For an
    InfoGAN generator these are its latent codes: every code equally often, a stratified draw
    from the code's uniform prior."""
    k = _g_classes(spec)
    return jnp.arange(num, dtype=jnp.int32) % k if k else None


def sample_codes(spec: Spec, key: jax.Array, num: int,
                 prior_K: jax.Array | None = None) -> jax.Array | None:
    """InfoGAN codes c ~ Uniform{0, ..., K-1} for training, or c ~ `prior`, or None without a
    code."""
    if not spec.info_categories:
        return None
    if prior_K is None:
        return jax.random.randint(key, (num,), 0, spec.info_categories, jnp.int32)
    return jax.random.categorical(key, jnp.log(prior_K), shape=(num,)).astype(jnp.int32)


def _training_codes(spec: Spec, key: jax.Array, num: int,
                    prior_K: jax.Array | None) -> jax.Array | None:
    """The codes of a training batch: `sample_codes`, or with `loss.mode_seeking` half as many,
    repeated, so that samples i and i + num / 2 share their code (and differ in z)."""
    if not spec.mode_seeking or not spec.info_categories:
        return sample_codes(spec, key, num, prior_K)
    half = sample_codes(spec, key, num // 2, prior_K)
    return jnp.concatenate([half, half])


def _training_code_prior(spec: Spec, state: TrainState) -> jax.Array | None:
    """The distribution training draws codes from (None: uniform, InfoGAN's)."""
    if spec.info_prior != "learned":
        return None
    return code_prior.sampling_prior(state.extra["code_prior"], spec.info_prior_floor)


def generate(spec: Spec, generator_vars: dict[str, Any], z_BxZ: jax.Array,
             labels_B: jax.Array | None = None) -> jax.Array:
    """Images in [-1, 1] from latents (and labels, for a conditional model, or InfoGAN codes;
    default: the grid of `default_labels`), in inference mode (BatchNorm running statistics)."""
    if _g_classes(spec) and labels_B is None:
        labels_B = default_labels(spec, z_BxZ.shape[0])
    return spec.generator.apply(generator_vars, z_BxZ, labels_B, train=False)


def recalibrate_batch_stats(spec: Spec, generator_vars: dict[str, Any], key: jax.Array,
                            passes: int, batch_size: int) -> dict[str, Any]:
    """The generator's BatchNorm running statistics re-estimated for the weights being sampled
    (BigGAN's "standing statistics", SWA's BatchNorm update), weights unchanged.

    An EMA generator averages weights and running statistics separately, so its statistics are
    not those of its own activations; the trained generator's follow its last ~10 training
    batches. Here each statistic becomes the plain mean, over `passes` training-mode passes of
    `batch_size` fresh latents (and the balanced class grid of `default_labels`), of that
    pass's batch statistic; nothing of the checkpoint's statistics remains. BatchNorm's update
    is affine in the old value, s' = m s + (1 - m) b, so a pass from s = 0 gives (1 - m) b, and
    the first pass, run again from s = 1, gives m. Any other collection (spectral-norm state) is
    returned as restored."""
    if "batch_stats" not in generator_vars:
        raise UserError("this generator has no BatchNorm statistics to recalibrate")
    if passes < 1 or batch_size < 2:
        raise UserError(f"BatchNorm recalibration needs passes >= 1 and batch_size >= 2, not "
                        f"{passes} and {batch_size}")
    labels = default_labels(spec, batch_size)

    @jax.jit
    def update(stats, k):
        z = sample_latents(spec, k, batch_size)
        _, mutated = spec.generator.apply({**generator_vars, "batch_stats": stats}, z, labels,
                                          train=True, mutable=MUTABLE)
        return mutated["batch_stats"]

    zeros = jax.tree.map(jnp.zeros_like, generator_vars["batch_stats"])
    total = update(zeros, jax.random.fold_in(key, 0))
    momentum = jax.tree.map(lambda s1, s0: s1 - s0,
                            update(jax.tree.map(jnp.ones_like, zeros), jax.random.fold_in(key, 0)),
                            total)
    for i in range(1, passes):
        total = jax.tree.map(jnp.add, total, update(zeros, jax.random.fold_in(key, i)))
    stats = jax.tree.map(lambda t, m: t / (passes * (1.0 - m)), total, momentum)
    return {**generator_vars, "batch_stats": stats}


def phases(spec: Spec, step: int) -> tuple[str, ...]:
    """The discriminator alone on n_critic - 1 of every n_critic steps, then D and G; "_reg"
    on the steps that add the R1/R2 penalty (all, or every `r1_interval`-th)."""
    name = "dg" if step % spec.n_critic == spec.n_critic - 1 else "d"
    if (spec.r1_gamma or spec.r2_gamma) and step % spec.r1_interval == 0:
        name += "_reg"
    return (name,)


def _apply_train(module: nn.Module, variables: dict[str, Any], params, *args, **kwargs):
    """Training-mode apply; returns (output, updated variables)."""
    out, mutated = module.apply(
        {**variables, "params": params}, *args, train=True, mutable=MUTABLE, **kwargs
    )
    return out, {**variables, **mutated}


def _annealed(value: float, steps: int, step: jax.Array) -> jax.Array:
    """`value` at `step`: constant when `steps` is 0, else falling linearly to 0 over `steps`."""
    if not steps:
        return jnp.asarray(value, jnp.float32)
    remaining = 1.0 - step.astype(jnp.float32) / steps
    return value * jnp.clip(remaining, 0.0, 1.0)


def _noise_std(spec: Spec, step: jax.Array) -> jax.Array:
    """Instance noise (Sonderby et al. 2017): std annealed linearly to 0 over the given steps."""
    return _annealed(spec.instance_noise, spec.instance_noise_steps, step)


def _mode_seeking_weight(spec: Spec, step: jax.Array) -> jax.Array:
    """lambda of the mode-seeking term at `step`: constant, or annealed linearly to 0 over
    `loss.mode_seeking_steps` (diversity pushed early, image quality left to converge after)."""
    return _annealed(spec.mode_seeking, spec.mode_seeking_steps, step)


def _d_input(spec: Spec, images: jax.Array, key: jax.Array, noise_std: jax.Array) -> jax.Array:
    """What D sees of a batch: DiffAugment (same policy for real and fake) and instance noise."""
    aug_key, noise_key = jax.random.split(key)
    if spec.augment_policy:
        images = augment.diff_augment(images, aug_key, spec.augment_policy)
    if spec.instance_noise:
        images = images + noise_std * jax.random.normal(noise_key, images.shape, images.dtype)
    return images


def _logit_metrics(spec: Spec, prefix: str, logits: jax.Array) -> dict[str, jax.Array]:
    """Mean D output; for the logistic losses also D's probability (D(x), D(G(z)))."""
    out = {f"{prefix}_logit": jnp.mean(logits)}
    if spec.loss_name in ("non_saturating", "minimax"):
        out[prefix] = jnp.mean(jax.nn.sigmoid(logits))
    return out


def _fake_labels(spec: Spec, labels: jax.Array | None,
                 codes: jax.Array | None) -> jax.Array | None:
    """What D is told of a generated batch: its classes, or with `model.info_projection` the
    codes it was drawn with (a real batch is told nothing: D reads its code from Q)."""
    return codes if spec.info_projection else labels


def _code_output(codes: jax.Array | None) -> dict[str, bool]:
    """D's keyword for the Q head's logits, only when there are codes (SNGAN's D has no head)."""
    return {} if codes is None else {"return_code": True}


def _d_update(spec: Spec, state: TrainState, batch, fake: jax.Array, key: jax.Array,
              codes: jax.Array | None = None, penalize: bool = False):
    """One discriminator step on (real, stop_gradient(fake)); with InfoGAN `codes` (those fake
    was drawn with), Q's cross entropy on them joins D's loss; with `penalize`, R1/R2 (times
    `r1_interval`) do too. Returns (d_vars, d_opt_state, metrics)."""
    real, labels = batch["image"], batch.get("label")
    if not spec.num_classes:
        labels = None
    real_key, fake_key, gp_key = jax.random.split(key, 3)
    noise_std = _noise_std(spec, state.step)
    real_in = _d_input(spec, real, real_key, noise_std)
    fake_in = _d_input(spec, jax.lax.stop_gradient(fake), fake_key, noise_std)

    learn_prior = codes is not None and spec.info_prior == "learned"

    def d_loss_fn(params):
        real_out, d_vars = _apply_train(spec.discriminator, state.discriminator, params,
                                        real_in, labels, **_code_output(codes if learn_prior
                                                                        else None))
        # With a learned code prior, Q's posteriors of the real batch (no gradient: Q learns
        # only from generated images, as in InfoGAN) estimate the codes' shares of real data.
        real_logits, real_code_logits = real_out if learn_prior else (real_out, None)
        terms = {}
        fake_out, d_vars = _apply_train(spec.discriminator, d_vars, params, fake_in,
                                        _fake_labels(spec, labels, codes), **_code_output(codes))
        fake_logits = fake_out if codes is None else fake_out[0]
        loss = spec.loss.d_loss(real_logits, fake_logits, real_label=spec.real_label)
        if codes is not None:
            code_logits = fake_out[1]
            terms["info_loss"] = losses.info_loss(code_logits, codes)
            terms["info_accuracy"] = jnp.mean(jnp.argmax(code_logits, -1) == codes)
            loss = loss + spec.info_weight * terms["info_loss"]

        def d_fn(x):  # per-sample D (running statistics, no state update) for the penalties
            return spec.discriminator.apply({**d_vars, "params": params}, x, labels, train=False)

        if spec.gradient_penalty:
            terms["gradient_penalty"] = regularizers.gradient_penalty(
                d_fn, real_in, fake_in, gp_key)
            loss = loss + spec.gradient_penalty * terms["gradient_penalty"]
        if spec.r1_gamma and penalize:
            terms["r1_penalty"] = regularizers.r1_penalty(d_fn, real_in)
            loss = loss + 0.5 * spec.r1_gamma * spec.r1_interval * terms["r1_penalty"]
        if spec.r2_gamma and penalize:
            terms["r2_penalty"] = regularizers.r1_penalty(d_fn, fake_in)
            loss = loss + 0.5 * spec.r2_gamma * spec.r1_interval * terms["r2_penalty"]
        return loss, (d_vars, real_logits, fake_logits, terms, real_code_logits)

    (d_loss, (d_vars, real_logits, fake_logits, terms, real_code_logits)), grads = \
        jax.value_and_grad(d_loss_fn, has_aux=True)(state.discriminator["params"])
    updates, d_opt_state = spec.d_tx.update(grads, state.d_opt_state,
                                            state.discriminator["params"])
    d_vars = {**d_vars, "params": optax.apply_updates(state.discriminator["params"], updates)}
    metrics = {"d_loss": d_loss, "d_grad_norm": optax.tree.norm(grads), **terms,
               **_logit_metrics(spec, "d_real", real_logits),
               **_logit_metrics(spec, "d_fake", fake_logits)}
    if spec.instance_noise:
        metrics["instance_noise"] = noise_std
    real_code_probs = (None if real_code_logits is None else
                       jax.nn.softmax(jax.lax.stop_gradient(real_code_logits), axis=-1))
    return d_vars, d_opt_state, metrics, real_code_probs


def _update_code_prior(spec: Spec, state: TrainState, sampling_K: jax.Array | None,
                       real_code_probs: jax.Array | None, metrics: dict[str, jax.Array]):
    """state.extra with the learned code prior moved by one online EM step (from
    `training.info_prior_start_step` on); its extremes join the metrics."""
    if real_code_probs is None:
        return state.extra
    prior = state.extra["code_prior"]
    moved = code_prior.online_em_step(prior, sampling_K, real_code_probs,
                                      spec.info_prior_momentum)
    prior = jnp.where(state.step >= spec.info_prior_start_step, moved, prior)
    metrics["code_prior_min"] = jnp.min(prior)
    metrics["code_prior_max"] = jnp.max(prior)
    return {**state.extra, "code_prior": prior}


def _ema(spec: Spec, step: jax.Array, ema: dict[str, Any], new: dict[str, Any]):
    """EMA of the generator's variables (weights and BatchNorm statistics); a copy before
    `training.ema_start_step`, then the decay ramps up as min(decay, (1 + t) / (10 + t)) over the
    t steps since, so the average does not keep a large share of the first weights (with a
    constant 0.999, 5 % of the initial weights would remain after 3000 steps)."""
    t = (step - spec.ema_start_step).astype(jnp.float32)
    decay = jnp.where(t < 0, 0.0, jnp.minimum(spec.ema_decay, (1.0 + t) / (10.0 + t)))
    return jax.tree.map(lambda e, n: decay * e + (1.0 - decay) * n, ema, new)


def train_phase(spec: Spec, phase: str, state: TrainState, batch: dict[str, jax.Array]):
    """Phase "d" (discriminator only) or "dg" (discriminator, then generator), either with
    "_reg" (D's loss adds R1/R2). Returns (new state, metrics of this phase)."""
    phase, penalize = phase.removesuffix("_reg"), phase.endswith("_reg")
    if phase not in ("d", "dg"):
        raise ValueError(f"unknown phase {phase!r}")
    real = batch["image"]
    key = jax.random.fold_in(jax.random.wrap_key_data(state.rng), state.step)
    z_key, d_key, g_key = jax.random.split(key, 3)
    z = sample_latents(spec, z_key, real.shape[0])
    labels = batch["label"] if spec.num_classes else None
    # InfoGAN's code: its own key, so runs without a code draw exactly what they drew before.
    sampling = _training_code_prior(spec, state)
    codes = _training_codes(spec, jax.random.fold_in(z_key, 1), real.shape[0], sampling)
    g_params = state.generator["params"]

    def generator(p):
        return _apply_train(spec.generator, state.generator, p, z,
                            labels if codes is None else codes)

    if phase == "d":
        fake, g_vars = generator(g_params)
        d_vars, d_opt_state, metrics, real_q = _d_update(spec, state, batch, fake, d_key, codes,
                                                         penalize)
        return state.replace(step=state.step + 1, generator=g_vars, discriminator=d_vars,
                             d_opt_state=d_opt_state,
                             extra=_update_code_prior(spec, state, sampling, real_q,
                                                      metrics)), metrics

    fake, g_vjp, g_vars = jax.vjp(generator, g_params, has_aux=True)
    d_vars, d_opt_state, metrics, real_q = _d_update(spec, state, batch, fake, d_key, codes,
                                                     penalize)
    extra = _update_code_prior(spec, state, sampling, real_q, metrics)
    d_params = d_vars["params"]
    noise_std = _noise_std(spec, state.step)
    ms_weight = _mode_seeking_weight(spec, state.step)
    real_key, fake_key = jax.random.split(g_key)

    def g_loss_fn(images):
        outputs, new_d_vars = _apply_train(
            spec.discriminator, d_vars, d_params, _d_input(spec, images, fake_key, noise_std),
            _fake_labels(spec, labels, codes), return_features=True, **_code_output(codes))
        logits, fake_features = outputs[:2]
        if spec.feature_matching:  # Salimans et al. 2016: match D's mean features on real data
            (_, real_features), new_d_vars = _apply_train(
                spec.discriminator, new_d_vars, d_params,
                _d_input(spec, real, real_key, noise_std), labels, return_features=True)
            loss = losses.feature_matching_loss(jax.lax.stop_gradient(real_features),
                                                fake_features)
        else:
            loss = spec.loss.g_loss(logits)
        info = losses.info_loss(outputs[2], codes) if codes is not None else 0.0
        loss = loss + spec.info_weight * info
        ratio = 0.0
        if spec.mode_seeking:
            half = images.shape[0] // 2
            ms, ratio = losses.mode_seeking_loss(images[:half], images[half:], z[:half], z[half:])
            loss = loss + ms_weight * ms
        return loss, (new_d_vars, logits, info, ratio)

    (g_loss, (d_vars, g_logits, g_info, ms_ratio)), d_fake = jax.value_and_grad(
        g_loss_fn, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_fake)
    if spec.orthogonal:  # BigGAN's orthogonal regularisation of G's weights
        ortho, ortho_grads = jax.value_and_grad(regularizers.orthogonal_regularization)(g_params)
        g_grads = jax.tree.map(lambda g, o: g + spec.orthogonal * o, g_grads, ortho_grads)
        metrics["orthogonal"] = ortho
    g_updates, g_opt_state = spec.g_tx.update(g_grads, state.g_opt_state, g_params)
    g_vars = {**g_vars, "params": optax.apply_updates(g_params, g_updates)}
    new_state = state.replace(
        step=state.step + 1,
        generator=g_vars,
        discriminator={**d_vars, "params": d_params},
        g_opt_state=g_opt_state,
        d_opt_state=d_opt_state,
        generator_ema=(_ema(spec, state.step, state.generator_ema, g_vars)
                       if spec.ema_decay else state.generator_ema),
        extra=extra,
    )
    metrics.update({"g_loss": g_loss, "g_grad_norm": optax.tree.norm(g_grads),
                    **_logit_metrics(spec, "d_fake_after", g_logits)})
    if codes is not None:
        metrics["g_info_loss"] = g_info
    if spec.mode_seeking:
        metrics["mode_seeking_ratio"] = ms_ratio
        metrics["mode_seeking_weight"] = ms_weight
    return new_state, metrics
