"""Sample from a trained run: `python -m jaxgan.sample --workdir=DIR --num=64 --out=grid.png`.

`--interpolate` writes rows of interpolations between pairs of latents instead: spherical in Z
(slerp), or for a model with a W space (StyleGAN) linear in W. For a class-conditional model
`--class=7` draws only that class; without it the grid has one class per column (a class grid).
The EMA generator is used when the model keeps one.

StyleGAN (models with a mapping network to W) also has:
- `--truncation=0.7`: the truncation trick, w_avg + psi * (w - w_avg), for any figure;
- `--truncation_sweep=1,0.7,0.5,0`: one row per `--rows` seed, one column per psi;
- `--style_mixing`: the StyleGAN paper's figure: a top row of `--columns` seeds, a left column of
  `--rows` seeds, and in each cell the row's image with the `--mix_layers` styles (coarse, middle,
  fine, or ws indices like 0-3) of the column's.
Seeds are lists as in stylegan2-ada-pytorch (`85,100,75` or `0-4`); each seed is one latent, so
the same seed draws the same image in every figure.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from jaxgan import cli, families, images
from jaxgan.checkpoint import generator_item, load_config, restore_generator
from jaxgan.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_NUM = flags.DEFINE_integer("num", None, "Images in the grid (rows of an interpolation strip); "
                            "default 64 (8 strips).")
_OUT = flags.DEFINE_string("out", "samples.png", "Output PNG path.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latents (grids and interpolations).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
_INTERPOLATE = flags.DEFINE_bool(
    "interpolate", False, "Write latent interpolation strips: slerp in Z, or linear in W for "
    "models with a W space (StyleGAN).")
_FRAMES = flags.DEFINE_integer("frames", 10, "Images per interpolation row.")
_CLASS = flags.DEFINE_integer("class", None, "Class to draw (conditional models; default: a "
                              "class grid, one class per column).")
_TRUNCATION = flags.DEFINE_float(
    "truncation", None, "StyleGAN: truncation psi for any figure (1 = none, 0 = the mean w).")
_SWEEP = flags.DEFINE_string(
    "truncation_sweep", None, "StyleGAN: comma-separated psi values, e.g. 1,0.7,0.5,0: a grid "
    "with one row per --rows seed and one column per psi.")
_STYLE_MIXING = flags.DEFINE_bool(
    "style_mixing", False, "StyleGAN: the style-mixing figure of --rows x --columns seeds.")
_MIX_LAYERS = flags.DEFINE_string(
    "mix_layers", None, "StyleGAN --style_mixing: the styles each cell takes from its column's "
    "seed: coarse (4-8 px), middle (16-32 px), fine (the rest) or ws indices like 0-3 or 0,2,5 "
    "(default coarse).")
_GENERATOR = flags.DEFINE_enum(
    "generator", "auto", ["auto", "ema", "params"], "The EMA generator when the model keeps one "
    "(auto), or the trained weights themselves (params).")
_ROWS = flags.DEFINE_string("rows", None, "Seeds of the rows (truncation sweep, style mixing), "
                            "like 85,100,75 or 0-4 (default 0-4).")
_COLUMNS = flags.DEFINE_string("columns", None, "Seeds of the columns (style mixing), like "
                               "55,821 or 5-9 (default 5-9).")


def slerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
    """Spherical interpolation, which keeps Gaussian latents at a typical norm."""
    a_n = a / jnp.linalg.norm(a, axis=-1, keepdims=True)
    b_n = b / jnp.linalg.norm(b, axis=-1, keepdims=True)
    omega = jnp.arccos(jnp.clip(jnp.sum(a_n * b_n, -1, keepdims=True), -1.0, 1.0))
    so = jnp.sin(omega)
    linear = (1 - t) * a + t * b
    spherical = (jnp.sin((1 - t) * omega) * a + jnp.sin(t * omega) * b) / jnp.where(so == 0, 1, so)
    return jnp.where(so < 1e-6, linear, spherical)


def lerp(a: jax.Array, b: jax.Array, t: jax.Array) -> jax.Array:
    return a + t * (b - a)


def parse_seeds(text: str, flag: str) -> list[int]:
    """'85,100,75' or '0-4' (inclusive) or a mix, as stylegan2-ada-pytorch's num_range."""
    seeds = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    except ValueError:
        raise UserError(f"--{flag} must be numbers like 85,100,75 or a range like 0-4, "
                        f"not {text!r}") from None
    if not seeds:
        raise UserError(f"--{flag} names no numbers: {text!r}")
    return seeds


def parse_psis(text: str) -> list[float]:
    try:
        psis = [float(p) for p in text.split(",")]
    except ValueError:
        raise UserError(f"--truncation_sweep must be comma-separated numbers like 1,0.7,0.5,0, "
                        f"not {text!r}") from None
    return psis


def mix_layer_indices(spec: str, num_ws: int, resolution: int) -> list[int]:
    """ws indices of `spec`. With two ws per resolution from 4x4 (the StyleGAN paper's
    numbering), coarse = 4-8 px, middle = 16-32 px (16 px only for a 32 px model, so that it
    still has fine styles), fine = the rest."""
    coarse_end = 4
    middle_res = min(32, resolution // 2)
    middle_end = max(coarse_end, 2 * int(np.log2(max(middle_res, 1))) - 2)
    named = {"coarse": range(coarse_end), "middle": range(coarse_end, middle_end),
             "fine": range(middle_end, num_ws)}
    if spec in named:
        indices = [i for i in named[spec] if i < num_ws]
        if not indices:
            raise UserError(f"a {resolution} px model has no {spec} styles; give ws indices "
                            f"in [0, {num_ws}) like --mix_layers=0-{num_ws // 2 - 1}")
        return indices
    if not spec or not spec[0].isdigit():
        raise UserError(f"--mix_layers must be coarse, middle, fine or ws indices like 0-3, "
                        f"not {spec!r}")
    indices = parse_seeds(spec, "mix_layers")
    if not all(0 <= i < num_ws for i in indices):
        raise UserError(f"--mix_layers indices must be in [0, {num_ws}) for this "
                        f"{resolution} px model, not {spec!r}")
    return sorted(set(indices))


def _labels(num_classes: int, label: int | None, count: int, columns: int) -> jax.Array | None:
    if not num_classes:
        if label is not None:
            raise UserError("--class needs a class-conditional model (model.num_classes > 0) "
                            "or an InfoGAN code (model.info_categories > 0); this run has "
                            "neither")
        return None
    if label is not None:
        if not 0 <= label < num_classes:
            raise UserError(f"--class must be in [0, {num_classes}), not {label}")
        return jnp.full((count,), label, jnp.int32)
    return jnp.arange(count, dtype=jnp.int32) % columns % num_classes


def _check_options(family: str, has_w: bool, num, interpolate, truncation, sweep, style_mixing, mix_layers,
                   rows, columns) -> str:
    """The figure to draw ('grid', 'interpolate', 'sweep' or 'mixing'), or a UserError for a
    combination that makes no sense."""
    modes = [name for name, on in (("--interpolate", interpolate),
                                   ("--truncation_sweep", sweep is not None),
                                   ("--style_mixing", style_mixing)) if on]
    if len(modes) > 1:
        raise UserError(f"choose one of {' and '.join(modes)}")
    w_only = [name for name, on in (("--truncation", truncation is not None),
                                    ("--truncation_sweep", sweep is not None),
                                    ("--style_mixing", style_mixing)) if on]
    if w_only and not has_w:
        raise UserError(f"{w_only[0]} needs a model with a W space (family stylegan); "
                        f"this run's family {family!r} has none")
    if truncation is not None and sweep is not None:
        raise UserError("--truncation and --truncation_sweep exclude each other; put the psi "
                        "values in --truncation_sweep")
    if mix_layers is not None and not style_mixing:
        raise UserError("--mix_layers only applies to --style_mixing")
    if sweep is not None or style_mixing:
        if num is not None:
            raise UserError("--num does not apply to --truncation_sweep or --style_mixing; "
                            "their seeds are --rows (and --columns)")
        if columns is not None and not style_mixing:
            raise UserError("--columns only applies to --style_mixing (the sweep's columns are "
                            "its psi values)")
        return "mixing" if style_mixing else "sweep"
    if rows is not None or columns is not None:
        raise UserError("--rows and --columns apply only to --truncation_sweep and "
                        "--style_mixing; a grid takes --num and --seed")
    return "interpolate" if interpolate else "grid"


def sample(workdir: str, num: int | None, out: str, seed: int, step: int | None,
           interpolate: bool, frames: int, label: int | None = None,
           truncation: float | None = None, truncation_sweep: str | None = None,
           style_mixing: bool = False, mix_layers: str | None = None, rows: str | None = None,
           columns: str | None = None, generator_choice: str = "auto") -> str:
    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    has_w = hasattr(family, "map_latents")
    mode = _check_options(config.family, has_w, num, interpolate, truncation, truncation_sweep,
                          style_mixing, mix_layers, rows, columns)
    num = 64 if num is None else num
    if num < 1:
        raise UserError("--num must be at least 1")
    psis = parse_psis(truncation_sweep) if mode == "sweep" else [
        1.0 if truncation is None else truncation]
    row_seeds = parse_seeds(rows or "0-4", "rows")
    column_seeds = parse_seeds(columns or "5-9", "columns")
    # InfoGAN codes take the place of classes: --class picks a code, the grid has one per column.
    num_classes = int(getattr(spec, "num_classes", 0) or getattr(spec, "info_categories", 0) or 0)
    _labels(num_classes, label, 1, 1)  # a bad --class fails before the checkpoint is read

    abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
    item, abstract_generator = generator_item(abstract, generator_choice)
    if mode == "mixing":
        num_ws = jax.eval_shape(lambda v: family.map_latents(
            spec, v, family.sample_latents(spec, jax.random.key(0), 1)), abstract_generator).shape[1]
        indices = mix_layer_indices(mix_layers or "coarse", num_ws, spec.image_shape[0])
    generator, step = restore_generator(workdir, abstract_generator, step, item)
    key = jax.random.key(seed)

    def seeded(seeds: list[int]) -> jax.Array:
        return jnp.concatenate([family.sample_latents(spec, jax.random.key(s), 1) for s in seeds])

    if has_w:
        @functools.cache
        def mapping(psi: float):
            return jax.jit(lambda v, z, y: family.map_latents(spec, v, z, y, psi))

        synth = jax.jit(lambda v, ws: jnp.clip(family.synthesize(spec, v, ws), -1.0, 1.0))
        generate = lambda z, y, psi=psis[0]: synth(generator, mapping(psi)(generator, z, y))
    else:
        generate_jit = jax.jit(lambda v, z, y: family.generate(spec, v, z, y))
        generate = lambda z, y: generate_jit(generator, z, y)

    blank = None
    if mode == "interpolate":
        ends = family.sample_latents(spec, key, 2 * num).reshape(2, num, -1)
        t = jnp.linspace(0.0, 1.0, frames)[None, :, None]
        # One class per row of an interpolation strip.
        labels = _labels(num_classes, label, num, num)
        if has_w:  # linear in W: map both ends, then interpolate the ws
            ws = [mapping(psis[0])(generator, e, labels) for e in ends]
            ws = lerp(ws[0][:, None], ws[1][:, None], t[..., None])
            batch = synth(generator, ws.reshape(num * frames, *ws.shape[2:]))
        else:
            z = slerp(ends[0][:, None], ends[1][:, None], t).reshape(num * frames, -1)
            labels = None if labels is None else jnp.repeat(labels, frames)
            batch = generate(z, labels)
        columns_out = frames
    elif mode == "sweep":
        z = seeded(row_seeds)
        labels = _labels(num_classes, label, len(row_seeds), len(row_seeds))
        ws = jnp.stack([mapping(psi)(generator, z, labels) for psi in psis], axis=1)
        batch = synth(generator, ws.reshape(-1, *ws.shape[2:]))  # row-major: seed, then psi
        columns_out = len(psis)
    elif mode == "mixing":
        map_psi = mapping(psis[0])
        row_ws = map_psi(generator, seeded(row_seeds),
                         _labels(num_classes, label, len(row_seeds), len(row_seeds)))
        col_ws = map_psi(generator, seeded(column_seeds),
                         _labels(num_classes, label, len(column_seeds), len(column_seeds)))
        take = np.zeros(row_ws.shape[1], bool)
        take[indices] = True
        take = jnp.asarray(take)[None, None, :, None]
        mixed = jnp.where(take, col_ws[None], row_ws[:, None])  # [rows, columns, num_ws, w]
        sources = synth(generator, jnp.concatenate([col_ws, row_ws]))
        cells = synth(generator, mixed.reshape(-1, *mixed.shape[2:]))
        n_cols = len(column_seeds)
        blank = np.ones((1, *spec.image_shape), np.float32)  # white, as the grid's padding
        top = np.concatenate([blank, sources[:n_cols]])
        body = np.concatenate([np.asarray(sources[n_cols:])[:, None],
                               np.asarray(cells).reshape(len(row_seeds), n_cols,
                                                         *spec.image_shape)], axis=1)
        batch = np.concatenate([top, body.reshape(-1, *spec.image_shape)])
        columns_out = n_cols + 1
    else:
        z = family.sample_latents(spec, key, num)
        columns_out = num_classes if num_classes and label is None else None
        labels = _labels(num_classes, label, num, columns_out or num)
        batch = generate(z, labels)
    batch = np.asarray(batch)
    images.save_png(out, images.grid(batch, columns=columns_out))
    count = len(batch) - (blank is not None)
    print(f"wrote {out} ({count} images from step {step})")
    return out


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if not _WORKDIR.value:
        raise UserError("--workdir is required")
    sample(_WORKDIR.value, _NUM.value, _OUT.value, _SEED.value, _STEP.value,
           _INTERPOLATE.value, _FRAMES.value, _CLASS.value, _TRUNCATION.value, _SWEEP.value,
           _STYLE_MIXING.value, _MIX_LAYERS.value, _ROWS.value, _COLUMNS.value,
           _GENERATOR.value)


if __name__ == "__main__":
    cli.run(main, "jaxgan.sample")
