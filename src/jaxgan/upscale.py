"""Upscale image files with a trained super-resolution model (SRGAN, ESRGAN: any family whose
generator maps an image to one a whole number of times larger):

    python -m jaxgan.upscale --workdir=DIR --input=FILE_OR_DIR --output=DIR
        [--tile=N --tile_overlap=M] [--step=N] [--weights=auto|ema|params] [--network=NAME]

Each image runs at its own size: whole (`--tile=0`, the default), or, where a whole image does
not fit in memory, in tiles of N x N input pixels that share M pixels with their neighbours and
are blended without seams (`jaxgan.tiling`). Images are padded (reflection) to the generator's
size multiple and the output cropped back. Colour images go to a 1-channel model as luminance
and gray ones to a 3-channel model repeated; an image with an alpha channel is refused. The
outputs are PNGs at the same paths below --output as the inputs below --input.
"""

from __future__ import annotations

import pathlib
import sys
import time

import numpy as np

from jaxgan import cli, images, tiling
from jaxgan.errors import UserError
from jaxgan.image_files import check_image, input_files, output_names, read_image

DEFAULT_OVERLAP = 16


def check_flags(tile: int, overlap: int) -> None:
    """The tiling flags' mistakes, before any file or run is read (the generator's size
    multiple is checked once it is known)."""
    if tile < 0:
        raise UserError(f"--tile must be 0 (each image whole) or a number of input pixels, "
                        f"not {tile}")
    if overlap < 0:
        raise UserError(f"--tile_overlap must be 0 or more input pixels, not {overlap}")
    if tile:
        tiling.check_tiling(tile, overlap)


def choose_network(family, spec, network: str | None):
    """(name, export) of the image-conditioned generator `network`, or the first."""
    exports = family.generators(spec)
    conditioned = {name: e for name, e in exports.items() if e.condition is not None}
    if not conditioned:
        raise UserError("this model's generators are not conditioned on images; use "
                        "python -m jaxgan.sample")
    if network is None:
        return next(iter(conditioned.items()))
    if network not in exports:
        raise UserError(f"--network={network}: this model's generators are "
                        f"{', '.join(exports)}")
    if network not in conditioned:
        raise UserError(f"--network={network} is not conditioned on images; this model's "
                        f"image-conditioned generators are {', '.join(conditioned)}")
    return network, conditioned[network]


def scale_of(export) -> int:
    """How many times larger the generator's output is than its input image."""
    (h, w, _), (out_h, out_w, _) = export.condition.shape, export.image_shape
    if out_h % h or out_w % w or out_h // h != out_w // w:
        raise UserError(f"this generator maps {h}x{w} images to {out_h}x{out_w}, not to a whole "
                        "number of times larger ones; use python -m jaxgan.translate")
    return out_h // h


def upscale(workdir: str, source: str, output: str, tile: int = 0,
            overlap: int = DEFAULT_OVERLAP, step: int | None = None, weights: str = "auto",
            network: str | None = None) -> list[str]:
    check_flags(tile, overlap)
    files = input_files(source, output)
    names = output_names(files, source)
    for path in files:
        check_image(path)
    from jaxgan import api, families  # jax: only once the flags and files are good
    from jaxgan.workdir import load_config

    config = load_config(workdir)
    family = families.get(config.family)
    network, export = choose_network(family, family.setup(config), network)
    scale, multiple = scale_of(export), export.size_multiple
    if tile:
        tiling.check_tiling(tile, overlap, multiple)
    model = api.load(workdir, step=step, weights=weights, network=network)
    channels = export.condition.shape[-1]

    def fn(x):
        return model({"image": x})

    written, padded, started, shown = [], 0, time.time(), 0

    def progress(text: str) -> None:
        nonlocal shown
        print(f"\r{text.ljust(shown)}", end="", file=sys.stderr, flush=True)
        shown = len(text)

    for i, (path, name) in enumerate(zip(files, names)):
        line = f"[{i + 1}/{len(files)}] {name}"
        progress(line)
        x = read_image(path, channels).astype(np.float32) / 127.5 - 1.0
        padded += x.shape[0] % multiple != 0 or x.shape[1] % multiple != 0
        if tile:
            def on_tile(done: int, total: int, line: str = line) -> None:
                progress(f"{line} tile {done}/{total}")

            out = tiling.upscale_tiled(fn, x, scale, tile, overlap, multiple, on_tile)
        else:
            out = tiling.upscale_whole(fn, x, scale, multiple)
        target = pathlib.Path(output) / name
        images.save_png(str(target), images.to_uint8(out))
        written.append(str(target))
    print(file=sys.stderr)
    how = f"in {tile}x{tile} tiles overlapping by {overlap}" if tile else "whole"
    note = (f"; {padded} padded (reflection) to multiples of {multiple} and cropped back"
            if padded else "")
    print(f"upscaled {len(written)} image(s) x{scale} {how} to {output} with {network} "
          f"({model.weights}) of step {model.step} in {time.time() - started:.1f} s{note}")
    return written


def main(argv: list[str]) -> None:
    from absl import flags

    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {argv[1:]}")
    values = flags.FLAGS
    if not (values.workdir and values.input and values.output):
        raise UserError("--workdir, --input and --output are required")
    upscale(values.workdir, values.input, values.output, values.tile, values.tile_overlap,
            values.step, values.weights, values.network)


def define_flags() -> None:
    # Only when run as a program: importing this module (the tests do) defines no flags, so it
    # can share a process with jaxgan.translate's and jaxgan.sample's --workdir.
    from absl import flags

    flags.DEFINE_string("workdir", None, "The training run's workdir.")
    flags.DEFINE_string("input", None, "An image file or a folder of images.")
    flags.DEFINE_string("output", None, "Folder for the upscaled images.")
    flags.DEFINE_integer("tile", 0, "Run tiles of N x N input pixels (0: each image whole).")
    flags.DEFINE_integer("tile_overlap", DEFAULT_OVERLAP,
                         "Input pixels neighbouring tiles share (with --tile).")
    flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
    flags.DEFINE_enum("weights", "auto", ["auto", "ema", "params"],
                      "The EMA weights when the run keeps them (auto), or the trained.")
    flags.DEFINE_string("network", None,
                        "Which image-conditioned generator (default: the model's first).")


if __name__ == "__main__":
    define_flags()
    cli.run(main, "jaxgan.upscale")
