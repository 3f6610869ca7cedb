"""What the tools see of a StyleGAN2 model: the generator `G` as z (and a class) -> image, its
W space (mapping and synthesis apart: style mixing, interpolation in W) and the truncation
trick w_avg + psi (w - w_avg)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxgan.families.protocol import GeneratorExport, Inputs, Truncation, WSpace
from jaxgan.models import stylegan2

PSI = Truncation(name="psi", tag="psi", in_latents=False)


def map_latents(spec, variables, z_BxZ, labels_B=None, truncation_psi: float | None = 1.0,
                truncation_cutoff: int | None = None) -> jax.Array:
    """ws [B, num_ws, w_dim]; a conditional model without labels cycles through the classes."""
    if spec.num_classes and labels_B is None:
        labels_B = jnp.arange(z_BxZ.shape[0], dtype=jnp.int32) % spec.num_classes
    if not spec.num_classes:
        labels_B = None
    psi = 1.0 if truncation_psi is None else truncation_psi
    return spec.generator.apply(variables, z_BxZ, labels_B, psi, truncation_cutoff,
                                method=stylegan2.Generator.map)


def synthesize(spec, variables, ws_BxNxW, noise_mode: str = "const",
               key: jax.Array | None = None) -> jax.Array:
    """Images in [-1, 1] (clipped) from ws; constant noise unless `noise_mode` is random."""
    rngs = {"noise": key if key is not None else jax.random.key(0)}
    images = spec.generator.apply(variables, ws_BxNxW, noise_mode,
                                  method=stylegan2.Generator.synthesize, rngs=rngs)
    return jnp.clip(images, -1.0, 1.0)


def generate(spec, variables, batch: Inputs, rng=None, truncation: float | None = None):
    """Images from {"z", "label"}; `truncation` is psi; with `rng`, random per-pixel noise."""
    ws = map_latents(spec, variables, batch["z"], batch.get("label"), truncation)
    if rng is None:
        return synthesize(spec, variables, ws)
    return synthesize(spec, variables, ws, "random", rng)


def generators(spec) -> dict[str, GeneratorExport]:
    w_space = WSpace(num_ws=spec.generator.num_ws,
                     map=functools.partial(map_latents, spec),
                     synthesize=functools.partial(synthesize, spec))
    return {"G": GeneratorExport(
        network="G",
        image_shape=spec.image_shape,
        generate=functools.partial(generate, spec),
        latent_dim=spec.latent_dim,
        num_classes=spec.num_classes,
        truncation=PSI,
        w_space=w_space,
    )}
