"""The built-in labelled datasets (MNIST, Fashion-MNIST, CIFAR-10) as uint8 arrays: found in
local files (the config's data_dir, $JAXGAN_DATA_DIR, the copy of MNIST bundled with the
repository), else downloaded once and verified (`jaxgan.data.download`), prepared once through a
tensorflow-datasets builder as array_record, read back without TensorFlow."""

from __future__ import annotations

import functools
import logging
import os
import pathlib

import numpy as np

from jaxgan import filelock
from jaxgan.data import cifar10, download, idx
from jaxgan.errors import UserError

_log = logging.getLogger(__name__)

ARRAY_DATASETS = ("mnist", "fashion_mnist", "cifar10", "stacked_mnist")
NUM_CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "stacked_mnist": 1000}
# Datasets made from another's files (jaxgan.data.stacked_mnist): whose files they read.
MADE_FROM = {"stacked_mnist": "mnist"}
# The repository ships MNIST under data/mnist so the default experiment runs with no network.
_BUNDLED_DATA = pathlib.Path(__file__).resolve().parents[3] / "data"
_FORMATS = {"mnist": " IDX", "fashion_mnist": " IDX", "cifar10": "", "stacked_mnist": " IDX"}
_IDX_NAMES = tuple(name for pair in idx.IDX_FILES.values() for name in pair)


def _check_name(name: str) -> None:
    if name not in ARRAY_DATASETS:
        raise UserError(f"unknown dataset {name!r}; the built-in datasets are {ARRAY_DATASETS}")


def has_files(name: str, directory: pathlib.Path) -> bool:
    """Whether `directory` holds all the files `name` is prepared from."""
    if name == "cifar10":
        return cifar10.find(directory) is not None
    return all((directory / file).is_file() for file in _IDX_NAMES)


def _local_candidates(name: str) -> list[pathlib.Path]:
    candidates = []
    if os.environ.get("JAXGAN_DATA_DIR"):
        candidates.append(pathlib.Path(os.environ["JAXGAN_DATA_DIR"]).expanduser() / name)
    candidates.append(_BUNDLED_DATA / name)
    candidates.append(download.cache_dir(name))
    return list(dict.fromkeys(candidates))  # the cache is $JAXGAN_DATA_DIR/<name> when set


def resolve_data_dir(name: str, data_dir: str | None, *, allow_download: bool = True
                     ) -> pathlib.Path:
    """Finds the directory with `name`'s files: the config's `data_dir` (which must hold them
    when given), then $JAXGAN_DATA_DIR/<name>, the copy bundled in the repository (MNIST only),
    the download cache; else downloads them into the cache (`allow_download`)."""
    _check_name(name)
    name = MADE_FROM.get(name, name)
    if data_dir:
        path = pathlib.Path(data_dir).expanduser()
        for candidate in (path, path / name):
            if has_files(name, candidate):
                return candidate
        raise UserError(
            f"dataset.data_dir={data_dir!r} holds no {name}{_FORMATS[name]} files (expected "
            f"{', '.join(download.FILES[name])} there or in {name}/ below it); leave data_dir "
            "empty to download them"
        )
    candidates = _local_candidates(name)
    for path in candidates:
        if has_files(name, path):
            return path
    if not allow_download:
        raise UserError(f"no {name} data found (looked in {', '.join(map(str, candidates))}); "
                        + download.how_to_supply(name))
    return download.fetch(name)


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

    _check_name(name)
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
    """(uint8 images [N, H, W, C], int32 labels [N]) of a split, prepared through tfds and read
    back with its array_record data source. `max_examples` > 0 keeps the first N records.
    The arrays are read-only (one copy per process); index them to get arrays of your own."""
    _check_name(name)
    tfds_dir = tfds_dir or default_tfds_dir()
    prepare(name, data_dir, tfds_dir)
    builder = _tfds_builder(name, tfds_dir)
    if split not in builder.info.splits:
        raise UserError(f"{name} has no split {split!r}; it has {sorted(builder.info.splits)}")
    return _read_split(name, split, os.path.abspath(tfds_dir), max_examples)


@functools.lru_cache(maxsize=8)
def _read_split(name: str, split: str, tfds_dir: str, max_examples: int):
    """The decoded records of a prepared split, read once per process (decoding MNIST's 60,000
    records takes seconds) and returned read-only, as every caller shares them."""
    source = _tfds_builder(name, tfds_dir).as_data_source(split=split)
    count = len(source) if max_examples <= 0 else min(max_examples, len(source))
    records = source.__getitems__(list(range(count)))
    images = np.stack([r["image"] for r in records])
    labels = np.asarray([r["label"] for r in records], dtype=np.int32)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels
