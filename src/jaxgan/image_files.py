"""Image files as the inference commands (`translate`, `upscale`) read them: the images of a
file or folder, their output names, and each decoded as uint8 with the model's channels."""

from __future__ import annotations

import pathlib

import numpy as np

from jaxgan.errors import UserError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def input_files(source: str, output: str | None = None) -> list[pathlib.Path]:
    """The image file `source`, or the images below the folder `source` (sorted), leaving out
    any below `output` (a previous run's outputs written inside the input folder)."""
    root = pathlib.Path(source).expanduser()
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise UserError(f"--input {source!r} is neither an image file nor a folder")
    skip = pathlib.Path(output).expanduser().resolve() if output else None
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file()
                   and not (skip and p.resolve().is_relative_to(skip)))
    if not files:
        raise UserError(f"no images ({', '.join(EXTENSIONS)}) below {source!r}")
    return files


def output_names(files: list[pathlib.Path], source: str) -> list[pathlib.Path]:
    """Each input's output path relative to --output: the same path below it as below the input
    folder, as .png (a single input file: its name, as .png)."""
    root = pathlib.Path(source).expanduser()
    if root.is_file():
        return [pathlib.Path(root.stem + ".png")]
    names = [path.relative_to(root).with_suffix(".png") for path in files]
    first = {}
    for path, name in zip(files, names):
        if name in first:
            raise UserError(f"{first[name]} and {path} would both be written as {name}: rename "
                            "one of them or move it to another folder")
        first[name] = path
    return names


ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def _refuse_alpha(im, path: pathlib.Path) -> None:
    # A palette or RGB PNG can carry transparency as a tRNS chunk ("transparency" in info).
    if im.mode in ALPHA_MODES or "transparency" in im.info:
        kind = im.mode if im.mode in ALPHA_MODES else f"{im.mode} with transparency"
        raise UserError(f"{path} has an alpha channel ({kind}): flatten it first, e.g. convert "
                        "it to RGB")


def check_image(path: pathlib.Path) -> None:
    """A `UserError` for an image that cannot be opened or has an alpha channel (reads only the
    header: run over every input before the model is loaded)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            _refuse_alpha(im, path)
    except OSError as e:
        raise UserError(f"cannot decode image {path}: {e}") from None


def read_image(path: pathlib.Path, channels: int, refuse_alpha: bool = True) -> np.ndarray:
    """uint8 [H, W, channels]: luminance for 1 channel, RGB for 3 (gray repeated). An alpha
    channel is refused (`refuse_alpha`), or dropped by the conversion."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if refuse_alpha:
                _refuse_alpha(im, path)  # before convert(), which would drop it silently
            array = np.asarray(im.convert("L" if channels == 1 else "RGB"), np.uint8)
    except OSError as e:
        raise UserError(f"cannot decode image {path}: {e}") from None
    return array.reshape(array.shape[0], array.shape[1], channels)
