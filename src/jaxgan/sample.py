"""Sample from a trained run: `python -m jaxgan.sample --workdir=DIR --num=64 --out=grid.png`.

The sampler sees a model only through its generator export (what it takes and can do), so every
family samples the same way. `--interpolate` writes rows of interpolations between pairs of
latents instead: spherical in Z (slerp), or for a model with a W space (StyleGAN) linear in W.
For a class-conditional model (or one with a categorical code) `--class=7` draws only that
class; without it the grid has one class per column (a class grid). An image-conditioned
generator is given the first `--num` examples of its condition split, and the grid shows rows
of input, output and target. The EMA generator is used when the model keeps one; `--network`
picks one of several generators (e.g. G_BA).

`--truncation` applies the generator's truncation trick (psi for a W space, a z threshold for
latents fed directly). Models with a W space (StyleGAN) also have:
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

from jaxgan import cli, families, generation, images
from jaxgan.checkpoint import restore_item
from jaxgan.errors import UserError
from jaxgan.families import inputs
from jaxgan.families.protocol import GeneratorExport
from jaxgan.workdir import load_config

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
    "truncation", None, "The generator's truncation trick for any figure: psi for a W space "
    "(1 = none, 0 = the mean w), or a threshold T for latents drawn from N(0, 1) in [-T, T].")
_NETWORK = flags.DEFINE_string(
    "network", None, "Which of the model's generators to sample (e.g. G_BA); default its first.")
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
            raise UserError("--class needs a class-conditional model or one with a categorical "
                            "latent code (InfoGAN); this generator takes neither")
        return None
    if label is not None:
        if not 0 <= label < num_classes:
            raise UserError(f"--class must be in [0, {num_classes}), not {label}")
        return jnp.full((count,), label, jnp.int32)
    return jnp.arange(count, dtype=jnp.int32) % columns % num_classes


def _check_options(export: GeneratorExport, num, interpolate, truncation, sweep, style_mixing,
                   mix_layers, rows, columns) -> str:
    """The figure to draw ('grid', 'interpolate', 'sweep' or 'mixing'), or a UserError for a
    combination that makes no sense."""
    modes = [name for name, on in (("--interpolate", interpolate),
                                   ("--truncation_sweep", sweep is not None),
                                   ("--style_mixing", style_mixing)) if on]
    if len(modes) > 1:
        raise UserError(f"choose one of {' and '.join(modes)}")
    if export.condition is not None and modes:
        raise UserError(f"{modes[0]} draws latents; this generator is conditioned on images "
                        "(its grid shows input, output and target)")
    if export.condition is not None and truncation is not None:
        raise UserError("--truncation applies to generators fed latents; this one is "
                        "conditioned on images")
    w_only = [name for name, on in (("--truncation_sweep", sweep is not None),
                                    ("--style_mixing", style_mixing)) if on]
    if w_only and export.w_space is None:
        raise UserError(f"{w_only[0]} needs a model with a W space (StyleGAN); this generator "
                        "has none")
    if truncation is not None and export.truncation is None:
        raise UserError("--truncation: this generator declares no truncation trick")
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
           columns: str | None = None, generator_choice: str = "auto",
           network: str | None = None) -> str:
    config = load_config(workdir)
    family = families.get(config.family)
    spec = family.setup(config)
    _, export = generation.choose_export(family, spec, network)
    has_w = export.w_space is not None
    mode = _check_options(export, num, interpolate, truncation, truncation_sweep,
                          style_mixing, mix_layers, rows, columns)
    num = 64 if num is None else num
    if num < 1:
        raise UserError("--num must be at least 1")
    psis = parse_psis(truncation_sweep) if mode == "sweep" else [truncation]
    row_seeds = parse_seeds(rows or "0-4", "rows")
    column_seeds = parse_seeds(columns or "5-9", "columns")
    # Codes take the place of classes: --class picks a code, the grid has one per column.
    num_classes = export.label_count
    _labels(num_classes, label, 1, 1)  # a bad --class fails before the checkpoint is read
    image_shape = export.image_shape

    abstract = jax.eval_shape(lambda: family.init(spec, config.seed))
    item, abstract_generator, _ = generation.weights_item(abstract, export, generator_choice)
    if mode == "mixing":
        indices = mix_layer_indices(mix_layers or "coarse", export.w_space.num_ws,
                                    image_shape[0])
    generator, step = restore_item(workdir, item, abstract_generator, step)
    key = jax.random.key(seed)

    def seeded(seeds: list[int]) -> jax.Array:
        return jnp.concatenate([inputs.latents(export, jax.random.key(s), 1) for s in seeds])

    z_truncation = truncation if export.truncation and export.truncation.in_latents else None
    psi_of = (lambda psi: None if export.truncation and export.truncation.in_latents else psi)
    if has_w:
        @functools.cache
        def mapping(psi: float | None):
            return jax.jit(lambda v, z, y: export.w_space.map(v, z, y, psi_of(psi)))

        synth = jax.jit(export.w_space.synthesize)
    generate_jit = jax.jit(functools.partial(export.generate, truncation=psi_of(psis[0])))

    def generate(z, y):
        batch = {"z": z}
        if y is not None:
            batch["label"] = y
        return generate_jit(generator, batch)

    blank, target = None, None
    if mode == "interpolate":
        ends = inputs.latents(export, key, 2 * num, z_truncation).reshape(2, num, -1)
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
        blank = np.ones((1, *image_shape), np.float32)  # white, as the grid's padding
        top = np.concatenate([blank, sources[:n_cols]])
        body = np.concatenate([np.asarray(sources[n_cols:])[:, None],
                               np.asarray(cells).reshape(len(row_seeds), n_cols,
                                                         *image_shape)], axis=1)
        batch = np.concatenate([top, body.reshape(-1, *image_shape)])
        columns_out = n_cols + 1
    elif export.condition is not None:
        conditions, target = generation.condition_examples(export, config.dataset, num)
        outputs = generate_jit(generator, conditions)
        batch, columns_out = generation.picture(export, conditions, outputs, target)
    else:
        z = inputs.latents(export, key, num, z_truncation)
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
           _GENERATOR.value, _NETWORK.value)


if __name__ == "__main__":
    cli.run(main, "jaxgan.sample")
