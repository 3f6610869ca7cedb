"""Sample from a trained run: `python -m jaxgan.sample --workdir=DIR --num=64 --out=grid.png`.

`--interpolate` writes rows of spherical interpolations between pairs of latents instead. For a
class-conditional model `--class=7` draws only that class; without it the grid has one class
per column (a class grid). The EMA generator is used when the model keeps one.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from jaxgan import cli, families, images
from jaxgan.checkpoint import generator_item, load_config, restore_generator
from jaxgan.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_NUM = flags.DEFINE_integer("num", 64, "Images in the grid (rows of an interpolation strip).")
_OUT = flags.DEFINE_string("out", "samples.png", "Output PNG path.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latents.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_INTERPOLATE = flags.DEFINE_bool("interpolate", False, "Write latent interpolation strips.")
_FRAMES = flags.DEFINE_integer("frames", 10, "Images per interpolation row.")
_CLASS = flags.DEFINE_integer("class", None, "Class to draw (conditional models; default: a "
                              "class grid, one class per column).")


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm."""
    a_n = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
    b_n = b / jnp.linalg.norm(b, axis=-1, keepdims=True)
    omega = jnp.arccos(jnp.clip(jnp.sum(a_n * b_n, -1, keepdims=True), -1.0, 1.0))
    so = jnp.sin(omega)
    linear = (1 - t) * a + t * b
    spherical = (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / jnp.where(so == 0, 1, so)
    return jnp.where(so < 1e-6, linear, spherical)


def _labels(num_classes: int, label: int | None, count: int, columns: int) -> jax.Array | None:
    if not num_classes:
        if label is not None:
            raise UserError("--class needs a class-conditional model (model.num_classes > 0); "
                            "this run is unconditional")
        return None
    if label is not None:
        if not 0 <= label < num_classes:
            raise UserError(f"--class must be in [0, {num_classes}), not {label}")
        return jnp.full((count,), label, jnp.int32)
    return jnp.arange(count, dtype=jnp.int32) % columns % num_classes


def sample(workdir: str, num: int, out: str, seed: int, step: int | None, interpolate: bool,
           frames: int, label: int | None = None) -> str:
    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
    item, abstract_generator = generator_item(abstract)
    generator, step = restore_generator(workdir, abstract_generator, step, item)
    key = jax.random.key(seed)
    if num < 1:
        raise UserError("--num must be at least 1")
    num_classes = int(getattr(spec, "num_classes", 0) or 0)
    if interpolate:
        ends = family.sample_latents(spec, key, 2 * num).reshape(2, num, -1)
        t = jnp.linspace(0.0, 1.0, frames)[None, :, None]
        z = slerp(ends[0][:, None], ends[1][:, None], t).reshape(num * frames, -1)
        columns = frames
        # One class per row of an interpolation strip.
        labels = _labels(num_classes, label, num, num)
        labels = None if labels is None else jnp.repeat(labels, frames)
    else:
        z = family.sample_latents(spec, key, num)
        columns = num_classes if num_classes and label is None else None
        labels = _labels(num_classes, label, num, columns or num)
    generate = jax.jit(lambda v, z, y: family.generate(spec, v, z, y))
    batch = np.asarray(generate(generator, z, labels))
    images.save_png(out, images.grid(batch, columns=columns))
    print(f"wrote {out} ({len(batch)} images from step {step})")
    return out


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if not _WORKDIR.value:
        raise UserError("--workdir is required")
    sample(_WORKDIR.value, _NUM.value, _OUT.value, _SEED.value, _STEP.value,
           _INTERPOLATE.value, _FRAMES.value, _CLASS.value)


if __name__ == "__main__":
    cli.run(main, "jaxgan.sample")
