"""The gan family's train step, as phases chosen in Python by `phases` (each compiled once):

- "dg": a discriminator update on a real batch and a batch of G(z), then a generator update
  through the updated discriminator on the same G(z) (as PyTorch's DCGAN example does), the
  generator's forward pass computed once and reused through its VJP;
- "d": the discriminator update alone, for `training.n_critic` > 1 (WGAN-GP's 5 critic steps
  per generator step). Every phase consumes one batch and counts one step, so
  `num_train_steps` counts discriminator updates.
With R1 or R2 on, the steps that add the penalty run "dg_reg" / "d_reg": every step, or with
`regularizer.r1_interval` = k every k-th step (StyleGAN2's lazy regularisation, the penalty
weighted k times in that step's D loss), so the other steps skip its double backward pass.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxgan import sharding
from jaxgan.families.gan import infogan
from jaxgan.families.gan.networks import MUTABLE, apply_train
from jaxgan.objectives import accumulate, augment, ema, losses, optimizers, regularizers
from jaxgan.state import NetState, TrainState, step_key


def phases(spec, step: int) -> tuple[str, ...]:
    """The discriminator alone on n_critic - 1 of every n_critic steps, then D and G; "_reg"
    on the steps that add the R1/R2 penalty (all, or every `r1_interval`-th)."""
    n_critic = spec.config.training.n_critic
    name = "dg" if step % n_critic == n_critic - 1 else "d"
    if spec.penalized and step % spec.config.regularizer.r1_interval == 0:
        name += "_reg"
    return (name,)


def sample_latents(spec, key: jax.Array, num: int, truncation: float | None = None) -> jax.Array:
    """z ~ N(0, I); with `truncation` t, each coordinate from N(0, 1) restricted to [-t, t]
    (BigGAN's truncation trick, Brock et al. 2019: fidelity for variety)."""
    shape = (num, spec.latent_dim)
    if truncation is None:
        z = jax.random.normal(key, shape, jnp.float32)
    else:
        z = jax.random.truncated_normal(key, -truncation, truncation, shape, jnp.float32)
    return sharding.constrain_batch(z)  # in a train phase: split over the batch like its data


def _annealed(value: float, steps: int, step: jax.Array) -> jax.Array:
    """`value` at `step`: constant when `steps` is 0, else falling linearly to 0 over `steps`."""
    if not steps:
        return jnp.asarray(value, jnp.float32)
    remaining = 1.0 - step.astype(jnp.float32) / steps
    return value * jnp.clip(remaining, 0.0, 1.0)


def _noise_std(spec, step: jax.Array) -> jax.Array:
    """Instance noise (Sonderby et al. 2017): std annealed linearly to 0 over the given steps."""
    tr = spec.config.training
    return _annealed(tr.instance_noise, tr.instance_noise_steps, step)


def _mode_seeking_weight(spec, step: jax.Array) -> jax.Array:
    """lambda of the mode-seeking term at `step`: constant, or annealed linearly to 0 over
    `loss.mode_seeking_steps` (diversity pushed early, image quality left to converge after)."""
    loss = spec.config.loss
    return _annealed(loss.mode_seeking, loss.mode_seeking_steps, step)


def _d_input(spec, images: jax.Array, key: jax.Array, noise_std: jax.Array) -> jax.Array:
    """What D sees of a batch: DiffAugment (same policy for real and fake), instance noise, then
    PacGAN's packing."""
    aug_key, noise_key = jax.random.split(key)
    if spec.augment_policy:
        images = augment.diff_augment(images, aug_key, spec.augment_policy)
    if spec.config.training.instance_noise:
        images = images + noise_std * jax.random.normal(noise_key, images.shape, images.dtype)
    return pack(images, spec.config.d_layers.pack)


def pack(images: jax.Array, m: int) -> jax.Array:
    """PacGAN's packing: examples m i, ..., m i + m - 1 side by side along channels, so D sees
    [B / m, H, W, m C] (example m i + j in channels j C ... j C + C - 1)."""
    if m == 1:
        return images
    b, h, w, c = images.shape
    packed = images.reshape(b // m, m, h, w, c).transpose(0, 2, 3, 1, 4)
    return packed.reshape(b // m, h, w, m * c)


def _logit_metrics(spec, prefix: str, logits: jax.Array) -> dict[str, jax.Array]:
    """Mean D output; for the logistic losses also D's probability (D(x), D(G(z)))."""
    out = {f"{prefix}_logit": jnp.mean(logits)}
    if spec.config.loss.name in ("non_saturating", "minimax"):
        out[prefix] = jnp.mean(jax.nn.sigmoid(logits))
    return out


def _fake_labels(spec, labels: jax.Array | None, codes: jax.Array | None) -> jax.Array | None:
    """What D is told of a generated batch: its classes, or with `model.info_projection` the
    codes it was drawn with (a real batch is told nothing: D reads its code from Q)."""
    return codes if spec.config.model.info_projection else labels


def _code_output(codes: jax.Array | None) -> dict[str, bool]:
    """D's keyword for the Q head's logits, only when there are codes (SNGAN's D has no head)."""
    return {} if codes is None else {"return_code": True}


def _d_loss(spec, d_vars: dict, params, real_in: jax.Array, fake_in: jax.Array,
            labels: jax.Array | None, codes: jax.Array | None, gp_key: jax.Array,
            penalize: bool):
    """D's loss on (real_in, fake_in) from variables `d_vars` and `params`; with InfoGAN `codes`
    (those fake was drawn with), Q's cross entropy on them; with `penalize`, R1/R2 (times
    `r1_interval`). Returns (loss, (updated variables, real logits, fake logits, terms, Q's
    logits of the real batch or None))."""
    c = spec.config
    learn_prior = codes is not None and spec.learned_prior
    interval = c.regularizer.r1_interval
    real_out, d_vars = apply_train(spec.discriminator, d_vars, params, real_in,
                                   labels, **_code_output(codes if learn_prior else None))
    # With a learned code prior, Q's posteriors of the real batch (no gradient: Q learns
    # only from generated images, as in InfoGAN) estimate the codes' shares of real data.
    real_logits, real_code_logits = real_out if learn_prior else (real_out, None)
    terms = {}
    fake_out, d_vars = apply_train(spec.discriminator, d_vars, params, fake_in,
                                   _fake_labels(spec, labels, codes), **_code_output(codes))
    fake_logits = fake_out if codes is None else fake_out[0]
    loss = spec.loss.d_loss(real_logits, fake_logits, real_label=c.loss.real_label)
    if codes is not None:
        code_logits = fake_out[1]
        terms["info_loss"] = losses.info_loss(code_logits, codes)
        terms["info_accuracy"] = jnp.mean(jnp.argmax(code_logits, -1) == codes)
        loss = loss + c.loss.info_weight * terms["info_loss"]

    def d_fn(x):  # per-sample D (running statistics, no state update) for the penalties
        return spec.discriminator.apply({**d_vars, "params": params}, x, labels, train=False)

    if c.regularizer.gradient_penalty:
        terms["gradient_penalty"] = regularizers.gradient_penalty(
            d_fn, real_in, fake_in, gp_key)
        loss = loss + c.regularizer.gradient_penalty * terms["gradient_penalty"]
    if c.regularizer.r1_gamma and penalize:
        terms["r1_penalty"] = regularizers.r1_penalty(d_fn, real_in)
        loss = loss + 0.5 * c.regularizer.r1_gamma * interval * terms["r1_penalty"]
    if c.regularizer.r2_gamma and penalize:
        terms["r2_penalty"] = regularizers.r1_penalty(d_fn, fake_in)
        loss = loss + 0.5 * c.regularizer.r2_gamma * interval * terms["r2_penalty"]
    return loss, (d_vars, real_logits, fake_logits, terms, real_code_logits)


def _d_metrics(spec, d_loss, grads, terms, real_logits, fake_logits, noise_std) -> dict:
    metrics = {"d_loss": d_loss, "d_grad_norm": optax.tree.norm(grads), **terms,
               **_logit_metrics(spec, "d_real", real_logits),
               **_logit_metrics(spec, "d_fake", fake_logits)}
    if spec.config.training.instance_noise:
        metrics["instance_noise"] = noise_std
    return metrics


def _d_update(spec, state: TrainState, batch, fake: jax.Array, key: jax.Array,
              codes: jax.Array | None = None, penalize: bool = False):
    """One discriminator step on (real, stop_gradient(fake)) (see `_d_loss`). Returns (D's new
    NetState, metrics, Q's posteriors of the real batch or None)."""
    real = batch["image"]
    labels = batch["label"] if spec.num_classes else None
    real_key, fake_key, gp_key = jax.random.split(key, 3)
    noise_std = _noise_std(spec, state.step)
    real_in = _d_input(spec, real, real_key, noise_std)
    fake_in = _d_input(spec, jax.lax.stop_gradient(fake), fake_key, noise_std)
    d_net = state.nets["D"]

    def d_loss_fn(params):
        return _d_loss(spec, d_net.variables, params, real_in, fake_in, labels, codes, gp_key,
                       penalize)

    (d_loss, (d_vars, real_logits, fake_logits, terms, real_code_logits)), grads = \
        jax.value_and_grad(d_loss_fn, has_aux=True)(d_net.params)
    new_d = optimizers.apply_gradients(spec.d_tx, d_net, grads, variables=d_vars)
    metrics = _d_metrics(spec, d_loss, grads, terms, real_logits, fake_logits, noise_std)
    real_code_probs = (None if real_code_logits is None else
                       jax.nn.softmax(jax.lax.stop_gradient(real_code_logits), axis=-1))
    return new_d, metrics, real_code_probs


def ema_decay(spec, step: jax.Array) -> jax.Array:
    """The generator EMA's decay at `step`: 0 (a copy) before `training.ema_start_step`, then
    ramping up as min(decay, (1 + t) / (10 + t)) over the t steps since, so the average does
    not keep a large share of the first weights (with a constant 0.999, 5 % of the initial
    weights would remain after 3000 steps)."""
    tr = spec.config.training
    t = (step - tr.ema_start_step).astype(jnp.float32)
    return jnp.where(t < 0, 0.0, jnp.minimum(tr.ema_decay, (1.0 + t) / (10.0 + t)))


def train_phase(spec, phase: str, state: TrainState, batch: dict[str, jax.Array]):
    """Phase "d" (discriminator only) or "dg" (discriminator, then generator), either with
    "_reg" (D's loss adds R1/R2). Returns (new state, metrics of this phase)."""
    phase, penalize = phase.removesuffix("_reg"), phase.endswith("_reg")
    if phase not in ("d", "dg"):
        raise ValueError(f"unknown phase {phase!r}")
    if spec.config.accumulate_steps > 1:
        return _accumulated_phase(spec, phase, penalize, state, batch)
    c = spec.config
    real = batch["image"]
    z_key, d_key, g_key = jax.random.split(step_key(state), 3)
    z = sample_latents(spec, z_key, real.shape[0])
    labels = batch["label"] if spec.num_classes else None
    # InfoGAN's code: its own key, so runs without a code draw exactly what they drew before.
    sampling = infogan.training_prior(spec, state)
    codes = infogan.training_codes(spec, jax.random.fold_in(z_key, 1), real.shape[0], sampling)
    g_net = state.nets["G"]

    def generator(p):
        return apply_train(spec.generator, g_net.variables, p, z,
                           labels if codes is None else codes)

    if phase == "d":
        fake, g_vars = generator(g_net.params)
        new_d, metrics, real_q = _d_update(spec, state, batch, fake, d_key, codes, penalize)
        nets = {**state.nets, "G": NetState(g_vars, g_net.opt_state), "D": new_d}
        return state.replace(step=state.step + 1, nets=nets,
                             extra=infogan.update_prior(spec, state, sampling, real_q,
                                                        metrics)), metrics

    fake, g_vjp, g_vars = jax.vjp(generator, g_net.params, has_aux=True)
    new_d, metrics, real_q = _d_update(spec, state, batch, fake, d_key, codes, penalize)
    extra = infogan.update_prior(spec, state, sampling, real_q, metrics)
    d_params = sharding.constrain_replicated(new_d.params)  # gathered for G's pass (FSDP)
    noise_std = _noise_std(spec, state.step)
    ms_weight = _mode_seeking_weight(spec, state.step)
    real_key, fake_key = jax.random.split(g_key)

    def g_loss_fn(images):
        outputs, new_d_vars = apply_train(
            spec.discriminator, new_d.variables, d_params,
            _d_input(spec, images, fake_key, noise_std),
            _fake_labels(spec, labels, codes), return_features=True, **_code_output(codes))
        logits, fake_features = outputs[:2]
        if c.loss.feature_matching:  # Salimans et al. 2016: match D's mean features on real data
            (_, real_features), new_d_vars = apply_train(
                spec.discriminator, new_d_vars, d_params,
                _d_input(spec, real, real_key, noise_std), labels, return_features=True)
            loss = losses.feature_matching_loss(jax.lax.stop_gradient(real_features),
                                                fake_features)
        else:
            loss = spec.loss.g_loss(logits)
        info = losses.info_loss(outputs[2], codes) if codes is not None else 0.0
        loss = loss + c.loss.info_weight * info
        ratio = 0.0
        if c.loss.mode_seeking:
            half = images.shape[0] // 2
            ms, ratio = losses.mode_seeking_loss(images[:half], images[half:], z[:half], z[half:])
            loss = loss + ms_weight * ms
        return loss, (new_d_vars, logits, info, ratio)

    (g_loss, (d_vars, g_logits, g_info, ms_ratio)), d_fake = jax.value_and_grad(
        g_loss_fn, has_aux=True)(fake)
    (g_grads,) = g_vjp(d_fake)
    new_state, g_metrics = _g_update(
        spec, state, g_grads, g_vars, NetState({**d_vars, "params": d_params}, new_d.opt_state),
        extra, g_loss, g_logits)
    metrics.update(g_metrics)
    if codes is not None:
        metrics["g_info_loss"] = g_info
    if c.loss.mode_seeking:
        metrics["mode_seeking_ratio"] = ms_ratio
        metrics["mode_seeking_weight"] = ms_weight
    return new_state, metrics


def _g_update(spec, state: TrainState, g_grads, g_vars: dict, new_d: NetState, extra: dict,
              g_loss: jax.Array, g_logits: jax.Array) -> tuple[TrainState, dict]:
    """The generator's step from its loss gradients (plus BigGAN's orthogonal regularisation),
    its EMA, and the state after the whole "dg" phase."""
    c = spec.config
    g_net = state.nets["G"]
    metrics = {}
    if c.regularizer.orthogonal:  # BigGAN's orthogonal regularisation of G's weights
        ortho, ortho_grads = jax.value_and_grad(regularizers.orthogonal_regularization)(
            g_net.params)
        g_grads = jax.tree.map(lambda g, o: g + c.regularizer.orthogonal * o, g_grads,
                               ortho_grads)
        metrics["orthogonal"] = ortho
    new_g = optimizers.apply_gradients(spec.g_tx, g_net, g_grads, variables=g_vars)
    averages: dict[str, Any] = state.ema
    if spec.ema:
        averages = {"G": ema.update(state.ema["G"], new_g.variables,
                                    ema_decay(spec, state.step))}
    new_state = state.replace(
        step=state.step + 1,
        nets={**state.nets, "G": new_g, "D": new_d},
        ema=averages,
        extra=extra,
    )
    metrics.update({"g_loss": g_loss, "g_grad_norm": optax.tree.norm(g_grads),
                    **_logit_metrics(spec, "d_fake_after", g_logits)})
    return new_state, metrics


def _state_only(variables: dict) -> dict:
    """The collections a training pass mutates (what micro-batch passes hand back)."""
    return {col: variables[col] for col in MUTABLE if col in variables}


def _accumulated_phase(spec, phase: str, penalize: bool, state: TrainState,
                       batch: dict[str, jax.Array]):
    """`train_phase` with the batch read as `accumulate_steps` micro-batches (see
    `jaxgan.objectives.accumulate`): G makes the fakes one micro-batch at a time, then D's and
    G's gradients are each accumulated over the micro-batches before one optimizer step. The
    same z, labels and D-input noise as the one-pass step; G's fakes for its own update are
    made again, micro-batch by micro-batch, through the updated D."""
    k = spec.config.accumulate_steps
    real = batch["image"]
    z_key, d_key, g_key = jax.random.split(step_key(state), 3)
    inputs = {"z": sample_latents(spec, z_key, real.shape[0])}
    if spec.num_classes:
        inputs["label"] = batch["label"]
    g_net, d_net = state.nets["G"], state.nets["D"]
    # Micro-batches stay split over the data axis ([k, B / k, ...]: dimension 1).
    split = lambda tree: sharding.constrain_batch(accumulate.split(tree, k), 1)

    def make_fakes(m):
        fake, g_vars = apply_train(spec.generator, g_net.variables, g_net.params, m["z"],
                                   m.get("label"))
        return fake, _state_only(g_vars)

    fake, g_state = accumulate.scan(make_fakes, split(inputs))
    g_vars = {**g_net.variables, **accumulate.merge_state(g_state)}
    real_key, fake_key, gp_key = jax.random.split(d_key, 3)
    noise_std = _noise_std(spec, state.step)
    micro = split({"real": _d_input(spec, real, real_key, noise_std),
                   "fake": _d_input(spec, accumulate.join(fake), fake_key, noise_std),
                   **({"label": inputs["label"]} if spec.num_classes else {})})
    micro["gp_key"] = jax.random.split(gp_key, k)

    def d_loss_fn(params, m):
        loss, (d_vars, real_logits, fake_logits, terms, _) = _d_loss(
            spec, d_net.variables, params, m["real"], m["fake"], m.get("label"), None,
            m["gp_key"], penalize)
        return loss, (_state_only(d_vars), real_logits, fake_logits, terms)

    (d_loss, (d_state, real_logits, fake_logits, terms)), grads = accumulate.value_and_grad(
        d_loss_fn, d_net.params, micro, k, sharding.constrain_replicated)
    new_d = optimizers.apply_gradients(
        spec.d_tx, d_net, grads,
        variables={**d_net.variables, **accumulate.merge_state(d_state)})
    metrics = _d_metrics(spec, d_loss, grads, jax.tree.map(lambda t: jnp.mean(t, 0), terms),
                         accumulate.join(real_logits), accumulate.join(fake_logits), noise_std)
    if phase == "d":
        nets = {**state.nets, "G": NetState(g_vars, g_net.opt_state), "D": new_d}
        return state.replace(step=state.step + 1, nets=nets), metrics

    g_micro = split(inputs)
    d_params = sharding.constrain_replicated(new_d.params)  # gathered for G's pass (FSDP)
    g_micro["key"] = jax.random.split(jax.random.split(g_key)[1], k)

    def g_loss_fn(params, m):
        images, _ = apply_train(spec.generator, g_net.variables, params, m["z"], m.get("label"))
        logits, d_vars = apply_train(spec.discriminator, new_d.variables, d_params,
                                     _d_input(spec, images, m["key"], noise_std), m.get("label"))
        return spec.loss.g_loss(logits), (_state_only(d_vars), logits)

    (g_loss, (d_state, g_logits)), g_grads = accumulate.value_and_grad(
        g_loss_fn, g_net.params, g_micro, k, sharding.constrain_replicated)
    d_after = NetState({**new_d.variables, **accumulate.merge_state(d_state)}, new_d.opt_state)
    new_state, g_metrics = _g_update(spec, state, g_grads, g_vars, d_after, state.extra, g_loss,
                                     accumulate.join(g_logits))
    metrics.update(g_metrics)
    return new_state, metrics
