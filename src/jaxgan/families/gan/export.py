"""What the tools see of a gan-family model: the generator `G` as a pure function of latents
(and class labels or InfoGAN codes), BigGAN's z truncation, BatchNorm recalibration, and the
InfoGAN code priors."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.errors import UserError
from jaxgan.families.gan import infogan
from jaxgan.families.gan.networks import MUTABLE
from jaxgan.families.gan.steps import sample_latents
from jaxgan.families.protocol import (
    CodePrior,
    GeneratorExport,
    Inputs,
    RunReader,
    Truncation,
)

Z_TRUNCATION = Truncation(name="z_threshold", tag="z", in_latents=True)


def generate(spec, variables: dict[str, Any], batch: Inputs, rng=None,
             truncation: float | None = None) -> jax.Array:
    """Images in [-1, 1] from latents (and labels or InfoGAN codes; default: the balanced grid),
    in inference mode (BatchNorm running statistics). z truncation is applied when drawing z."""
    del rng, truncation
    z = batch["z"]
    labels = batch.get("label")
    if spec.g_classes and labels is None:
        labels = jnp.arange(z.shape[0], dtype=jnp.int32) % spec.g_classes
    return spec.generator.apply(variables, z, labels, train=False)


def recalibrate_batch_stats(spec, generator_vars: dict[str, Any], key: jax.Array,
                            passes: int, batch_size: int) -> dict[str, Any]:
    """The generator's BatchNorm running statistics re-estimated for the weights being sampled
    (BigGAN's "standing statistics", SWA's BatchNorm update), weights unchanged.

    An EMA generator averages weights and running statistics separately, so its statistics are
    not those of its own activations; the trained generator's follow its last ~10 training
    batches. Here each statistic becomes the plain mean, over `passes` training-mode passes of
    `batch_size` fresh latents (and the balanced class grid), of that pass's batch statistic;
    nothing of the checkpoint's statistics remains. BatchNorm's update is affine in the old
    value, s' = m s + (1 - m) b, so a pass from s = 0 gives (1 - m) b, and the first pass, run
    again from s = 1, gives m. Any other collection (spectral-norm state) is returned as
    restored."""
    if "batch_stats" not in generator_vars:
        raise UserError("this generator has no BatchNorm statistics to recalibrate")
    if passes < 1 or batch_size < 2:
        raise UserError(f"BatchNorm recalibration needs passes >= 1 and batch_size >= 2, not "
                        f"{passes} and {batch_size}")
    labels = (jnp.arange(batch_size, dtype=jnp.int32) % spec.g_classes
              if spec.g_classes else None)

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


def _learned_prior(spec, run: RunReader) -> dict[str, Any] | None:
    """The code prior a `model.info_prior=learned` run learned by this step."""
    prior = np.asarray(run.extra()["code_prior"], np.float64)
    prior = prior / prior.sum()
    return {"prior": "learned", "probs": [round(float(p), 6) for p in prior]}


def _posterior_prior(spec, run: RunReader) -> dict[str, Any]:
    """The code prior matched to the real training split by D's Q head at this step (label-shift
    EM, `infogan.em_prior`). Q's posteriors are taken as computed under the prior its training
    codes were drawn from: uniform, or a learned prior's sampling mixture."""
    posteriors = infogan.q_posteriors(spec, run.variables("D"), run.real_images(),
                                      run.batch_size)
    trained_with = None
    if spec.learned_prior:
        learned = np.asarray(run.extra()["code_prior"], np.float64)
        trained_with = np.asarray(infogan.sampling_prior(
            learned / learned.sum(), spec.config.training.info_prior_floor))
    prior, iterations = infogan.em_prior(posteriors, trained_with)
    return {"prior": "q_posterior_em", "probs": [round(float(p), 6) for p in prior],
            "em_iterations": iterations, "real_images": len(posteriors),
            "real": run.real_name()}


def generators(spec) -> dict[str, GeneratorExport]:
    return {"G": GeneratorExport(
        network="G",
        image_shape=spec.image_shape,
        generate=functools.partial(generate, spec),
        latent_dim=spec.latent_dim,
        num_classes=spec.num_classes,
        num_codes=spec.info_categories,
        truncation=Z_TRUNCATION,
        code_prior=(CodePrior(functools.partial(_learned_prior, spec))
                    if spec.learned_prior else None),
        code_priors=({"posterior": CodePrior(functools.partial(_posterior_prior, spec),
                                             tag="qprior")}
                     if spec.info_categories else {}),
        recalibrate=functools.partial(recalibrate_batch_stats, spec),
    )}

