"""A labelled synthetic dataset from a class-conditional run:

    python -m jaxgan.synthesize --workdir=RUN --per_class=N --out=DIR_OR_FILE.npz
        [--step=S] [--seed=0] [--truncation=T] [--generator=auto|ema|params]

`--out=DIR` writes an image folder with one sub-folder per class (`0/`, `1/`, ... zero-padded
to sort in label order), which `dataset.name=image_folder` reads back with those labels;
`--out=FILE.npz` writes arrays `images` (uint8 [N, H, W, C]) and `labels` (int32 [N]), classes
in order. Beside it (`DIR/synthesis.json` or `FILE.json`) the provenance: the run, its
checkpoint step and weights, the seed, the truncation, the counts and the command.

Each class draws its latents from its own seed (numpy's SeedSequence of [seed, class]), all
at once, then generates them `--batch_size` at a time: a class's images depend on neither the
other classes nor the batch size, and the same command writes the same images. The output must not exist yet;
it appears complete or not at all.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys
import tempfile

import numpy as np
from absl import flags

from jaxgan.errors import UserError

FLAGS = flags.FLAGS
PROVENANCE = "synthesis.json"


def define_flags() -> None:
    """The command's flags (defined only when it runs)."""
    flags.DEFINE_string("workdir", None, "The class-conditional training run.")
    flags.DEFINE_integer("per_class", None, "Images per class.")
    flags.DEFINE_string("out", None, "A new folder, or a new FILE.npz.")
    flags.DEFINE_integer("step", None, "Checkpoint step (default: latest).")
    flags.DEFINE_integer("seed", 0, "Seed of the latents.")
    flags.DEFINE_float("truncation", None, "The generator's truncation (psi for a W space, "
                       "else a z threshold); default none.")
    flags.DEFINE_enum("generator", "auto", ["auto", "ema", "params"],
                      "Which weights: the EMA copy when kept (auto), or either.")
    flags.DEFINE_integer("batch_size", 500, "Images generated at once.")


def class_seed(seed: int, label: int) -> int:
    return int(np.random.SeedSequence([seed, label]).generate_state(1)[0])


def synthesize(model, per_class: int, seed: int = 0, truncation: float | None = None,
               batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [K per_class, H, W, C], int32 labels), class 0's first."""
    from jaxgan.images import to_uint8

    if not model.export.num_classes:
        raise UserError("synthesize needs a class-conditional run (model.num_classes > 0): "
                        "this run's generator takes no class label")
    if per_class < 1:
        raise UserError(f"--per_class must be >= 1, not {per_class}")
    if batch_size < 1:
        raise UserError(f"--batch_size must be >= 1, not {batch_size}")
    images, labels = [], []
    for label in range(model.export.num_classes):
        drawn = model.draw(per_class, class_seed(seed, label), [label] * per_class, truncation)
        for start in range(0, per_class, batch_size):
            batch = {k: v[start:start + batch_size] for k, v in drawn.items()}
            images.append(to_uint8(model(batch, truncation)))
        labels.append(np.full(per_class, label, np.int32))
    return np.concatenate(images), np.concatenate(labels)


def _check_out(out: str) -> pathlib.Path:
    path = pathlib.Path(out).expanduser().absolute()
    if path.exists():
        raise UserError(f"--out={out} exists; give a new folder or file (nothing is "
                        "overwritten)")
    if not path.parent.is_dir():
        raise UserError(f"--out={out}: folder {str(path.parent)!r} not found")
    return path


def write(path: pathlib.Path, images: np.ndarray, labels: np.ndarray, provenance: dict) -> str:
    """Writes the folder or the .npz (through a temporary name) and the provenance; returns
    the provenance file's path."""
    from jaxgan.images import save_png

    if path.suffix == ".npz":
        meta = path.with_suffix(".json")
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
            np.savez_compressed(f, images=images, labels=labels)
        os.replace(f.name, path)
        meta.write_text(json.dumps(provenance, indent=2, sort_keys=True))
        return str(meta)
    tmp = pathlib.Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    try:
        width = len(str(int(labels.max())))
        counts: dict[int, int] = {}
        for image, label in zip(images, labels):
            i = counts.get(int(label), 0)
            counts[int(label)] = i + 1
            save_png(str(tmp / f"{int(label):0{width}d}" / f"{i:05d}.png"), image)
        (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2, sort_keys=True))
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(path / PROVENANCE)


def main(argv: list[str]) -> None:
    del argv
    from jaxgan import __version__, api

    if not FLAGS.workdir or FLAGS.per_class is None or not FLAGS.out:
        raise UserError("give --workdir=RUN --per_class=N --out=DIR_OR_FILE.npz")
    if FLAGS.per_class < 1:
        raise UserError(f"--per_class must be >= 1, not {FLAGS.per_class}")
    path = _check_out(FLAGS.out)
    model = api.load(FLAGS.workdir, step=FLAGS.step, weights=FLAGS.generator)
    images, labels = synthesize(model, FLAGS.per_class, FLAGS.seed, FLAGS.truncation,
                                FLAGS.batch_size)
    provenance = {
        "run": os.path.abspath(FLAGS.workdir), "step": model.step, "weights": model.weights,
        "family": model.config.family, "dataset": model.config.dataset.name,
        "seed": FLAGS.seed, "truncation": FLAGS.truncation,
        "num_classes": model.export.num_classes, "per_class": FLAGS.per_class,
        "num_images": len(images), "image_shape": list(images.shape[1:]),
        "format": "npz" if path.suffix == ".npz" else "image_folder",
        "latent_seeds": "numpy SeedSequence([seed, class]) per class",
        "command": " ".join(["python -m jaxgan.synthesize", *sys.argv[1:]]),
        "jaxgan_version": __version__,
    }
    meta = write(path, images, labels, provenance)
    print(f"wrote {len(images)} images ({model.export.num_classes} classes x "
          f"{FLAGS.per_class}) from step {model.step} to {path}; provenance in {meta}")
