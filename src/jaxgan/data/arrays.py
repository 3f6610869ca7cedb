"""The built-in labelled datasets (MNIST, Fashion-MNIST) as uint8 arrays: found in local files
(the config's data_dir, $JAXGAN_DATA_DIR, the copy bundled with the repository), prepared once
through a tensorflow-datasets builder as array_record, read back without TensorFlow."""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np

from jaxgan import filelock
from jaxgan.errors import UserError

_log = logging.getLogger(__name__)

ARRAY_DATASETS = ("mnist", "fashion_mnist")
NUM_CLASSES = {"mnist": 10, "fashion_mnist": 10}
# The repository ships MNIST under data/mnist so the default experiment runs with no network.
_BUNDLED_DATA = pathlib.Path(__file__).resolve().parents[3] / "data"


def _has_idx_files(directory: pathlib.Path) -> bool:
    return (directory / "train-images-idx3-ubyte.gz").is_file()


def resolve_data_dir(name: str, data_dir: str | None) -> pathlib.Path:
    """Finds the directory with `name`'s IDX files: the config, then $JAXGAN_DATA_DIR/<name>, then
    the copy bundled in the repository (MNIST only)."""
    if data_dir:
        path = pathlib.Path(data_dir).expanduser()
        if _has_idx_files(path):
            return path
        if _has_idx_files(path / name):
            return path / name
        raise UserError(
            f"dataset.data_dir={data_dir!r} holds no {name} IDX files "
            f"(expected train-images-idx3-ubyte.gz there or in {name}/ below it)"
        )
    candidates = []
    if os.environ.get("JAXGAN_DATA_DIR"):
        candidates.append(pathlib.Path(os.environ["JAXGAN_DATA_DIR"]).expanduser() / name)
    candidates.append(_BUNDLED_DATA / name)
    for path in candidates:
        if _has_idx_files(path):
            return path
    raise UserError(
        f"no {name} data found (looked in {', '.join(map(str, candidates))}); pass "
        f"--config.dataset.data_dir=DIR with the four IDX .gz files, or set JAXGAN_DATA_DIR to a "
        f"directory holding {name}/"
    )


def default_tfds_dir() -> str:
    return os.environ.get("JAXGAN_TFDS_DIR") or os.path.expanduser("~/tensorflow_datasets")


def _tfds_builder(name: str, tfds_dir: str):
    import tensorflow_datasets as tfds

    from jaxgan.data.tfds_builders import BUILDERS

    tfds.disable_progress_bar()
    return BUILDERS[name](data_dir=tfds_dir, file_format="array_record")


def prepare(name: str, data_dir: str | None, tfds_dir: str | None = None) -> None:
    """Writes `name` as array_record into the tfds data dir once (a no-op when already there)."""
    import tensorflow_datasets as tfds

    tfds_dir = tfds_dir or default_tfds_dir()
    if _tfds_builder(name, tfds_dir).is_prepared():
        return
    source_dir = resolve_data_dir(name, data_dir)
    # One process prepares; the others wait, then find it prepared.
    with filelock.exclusive(os.path.join(tfds_dir, f".{name}.prepare.lock")):
        builder = _tfds_builder(name, tfds_dir)
        if builder.is_prepared():
            return
        _log.info("preparing %s from %s into %s (once)", name, source_dir, tfds_dir)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(source_dir))
        )


def load_arrays(
    name: str,
    split: str,
    data_dir: str | None = None,
    tfds_dir: str | None = None,
    max_examples: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 28, 28, 1], int32 labels [N]) of a split, prepared through tfds and read
    back with its array_record data source. `max_examples` > 0 keeps the first N records."""
    if name not in ARRAY_DATASETS:
        raise UserError(f"unknown dataset {name!r}; the built-in datasets are {ARRAY_DATASETS}")
    tfds_dir = tfds_dir or default_tfds_dir()
    prepare(name, data_dir, tfds_dir)
    builder = _tfds_builder(name, tfds_dir)
    if split not in builder.info.splits:
        raise UserError(f"{name} has no split {split!r}; it has {sorted(builder.info.splits)}")
    source = builder.as_data_source(split=split)
    count = len(source) if max_examples <= 0 else min(max_examples, len(source))
    records = source.__getitems__(list(range(count)))
    images = np.stack([r["image"] for r in records])
    labels = np.asarray([r["label"] for r in records], dtype=np.int32)
    return images, labels
