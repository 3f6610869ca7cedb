"""Translate image files with a trained image-to-image model (Pix2Pix, CycleGAN, any family
whose generator is conditioned on images):

    python -m jaxgan.translate --workdir=DIR --input=FILE_OR_DIR --output=DIR
        [--direction=AtoB|BtoA] [--step=N] [--sheet] [--weights=auto|ema|params]

The generator runs fully convolutionally on each image at its own size: the image is padded
(reflection) to a multiple of the generator's total stride and the output cropped back, as
printed. Colour images go to a 1-channel model as luminance and gray images to a 3-channel one
repeated. `--sheet` also writes NAME_sheet.png with the input beside the output.
"""

from __future__ import annotations

import os
import pathlib
import sys
import time

import numpy as np
from absl import flags

from jaxgan import cli, images
from jaxgan.errors import UserError
from jaxgan.image_files import input_files, read_image

FLAGS = flags.FLAGS


def define_flags() -> None:
    """The command's flags (defined only when it runs, so that importing this module for its
    functions defines none)."""
    flags.DEFINE_string("workdir", None, "The training run's workdir.")
    flags.DEFINE_string("input", None, "An image file or a folder of images.")
    flags.DEFINE_string("output", None, "Folder for the translated images.")
    flags.DEFINE_enum("direction", None, ["AtoB", "BtoA"],
                      "Which way to translate (default: the model's first generator).")
    flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
    flags.DEFINE_bool("sheet", False, "Also write input|output side-by-side sheets.")
    flags.DEFINE_enum("weights", "auto", ["auto", "ema", "params"],
                      "The EMA weights when the run keeps them (auto), or the trained.")


def choose_network(family, spec, direction: str | None) -> str:
    """The generator that reads domain A (AtoB) or B (BtoA); the first without a direction."""
    exports = family.generators(spec)
    conditioned = {name: e for name, e in exports.items() if e.condition is not None}
    if not conditioned:
        raise UserError("this model's generators are not conditioned on images; use "
                        "python -m jaxgan.sample")
    if direction is None:
        return next(iter(conditioned))
    field = direction[0]
    for name, export in conditioned.items():
        if export.condition.field == field:
            return name
    have = ", ".join(f"{e.condition.field}to{'B' if e.condition.field == 'A' else 'A'}"
                     for e in conditioned.values())
    raise UserError(f"--direction={direction}: this run translates {have} only (a paired "
                    "model learns one direction: train with model.direction for the other)")


def pad_to(image_HxWxC: np.ndarray, multiple: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The image reflection-padded at the bottom and right to multiples of `multiple`."""
    h, w = image_HxWxC.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    mode = "reflect" if ph < h and pw < w else "symmetric" if ph <= h and pw <= w else "edge"
    return np.pad(image_HxWxC, ((0, ph), (0, pw), (0, 0)), mode=mode), (h, w)


def translate(workdir: str, source: str, output: str, direction: str | None = None,
              step: int | None = None, sheet: bool = False, weights: str = "auto") -> list[str]:
    from jaxgan import api, families
    from jaxgan.workdir import load_config

    files = input_files(source)
    config = load_config(workdir)
    family = families.get(config.family)
    network = choose_network(family, family.setup(config), direction)
    model = api.load(workdir, step=step, weights=weights, network=network)
    channels = model.export.condition.shape[-1]
    multiple = model.export.size_multiple
    os.makedirs(output, exist_ok=True)
    written, padded, started = [], 0, time.time()
    for i, path in enumerate(files):
        image = read_image(path, channels, refuse_alpha=False)
        x, (h, w) = pad_to(image, multiple)
        padded += x.shape[:2] != (h, w)
        x = x.astype(np.float32)[None] / 127.5 - 1.0
        out = model({"image": x})[0, :h, :w]
        name = path.relative_to(source).with_suffix(".png") if path != pathlib.Path(source) \
            else pathlib.Path(path.stem + ".png")
        target = pathlib.Path(output) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        images.save_png(str(target), images.to_uint8(out))
        written.append(str(target))
        if sheet:
            from jaxgan.generation import side_by_side

            pair, _ = side_by_side(image[None].astype(np.float32) / 127.5 - 1.0, out[None])
            images.save_png(str(target.with_name(target.stem + "_sheet.png")),
                            images.grid(pair, columns=2))
        print(f"\r[{i + 1}/{len(files)}] {name}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    note = (f"; {padded} padded (reflection) to multiples of {multiple} and cropped back"
            if padded else "")
    print(f"wrote {len(written)} image(s) to {output} with {network} of step {model.step} in "
          f"{time.time() - started:.1f} s{note}")
    return written


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    if not (FLAGS.workdir and FLAGS.input and FLAGS.output):
        raise UserError("--workdir, --input and --output are required")
    translate(FLAGS.workdir, FLAGS.input, FLAGS.output, FLAGS.direction, FLAGS.step,
              FLAGS.sheet, FLAGS.weights)


if __name__ == "__main__":
    define_flags()
    cli.run(main, "jaxgan.translate")
