"""Datasets as random-access sources of uint8 images: tfds-prepared MNIST / Fashion-MNIST held in
memory, and a folder of PNG/JPEG files decoded on demand."""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Callable
from typing import Protocol

import numpy as np

from jaxgan import filelock
from jaxgan.errors import UserError

_log = logging.getLogger(__name__)

IDX_DATASETS = ("mnist", "fashion_mnist")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
# The repository ships MNIST under data/mnist so the default experiment runs with no network.
_BUNDLED_DATA = pathlib.Path(__file__).resolve().parents[3] / "data"


class Source(Protocol):
    """A random-access dataset: `read(indices)` -> (uint8 images [b, H, W, C], int32 labels [b])."""

    name: str
    num_classes: int  # 0 when the dataset has no labels

    def __len__(self) -> int: ...

    def read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


class ArraySource:
    """A dataset held in memory as one uint8 array (small datasets: MNIST is 47 MB)."""

    def __init__(self, name: str, images: np.ndarray, labels: np.ndarray, num_classes: int):
        self.name, self.images, self.labels, self.num_classes = name, images, labels, num_classes

    def __len__(self) -> int:
        return len(self.images)

    def read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.images[indices], self.labels[indices]


def _has_idx_files(directory: pathlib.Path) -> bool:
    return (directory / "train-images-idx3-ubyte.gz").is_file()


def resolve_idx_dir(name: str, data_dir: str | None) -> pathlib.Path:
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


def prepare_idx_dataset(name: str, data_dir: str | None, tfds_dir: str | None = None) -> None:
    """Writes `name` as array_record into the tfds data dir once (a no-op when already there)."""
    import tensorflow_datasets as tfds

    tfds_dir = tfds_dir or default_tfds_dir()
    if _tfds_builder(name, tfds_dir).is_prepared():
        return
    source_dir = resolve_idx_dir(name, data_dir)
    # One process prepares; the others wait, then find it prepared.
    with filelock.exclusive(os.path.join(tfds_dir, f".{name}.prepare.lock")):
        builder = _tfds_builder(name, tfds_dir)
        if builder.is_prepared():
            return
        _log.info("preparing %s from %s into %s (once)", name, source_dir, tfds_dir)
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=str(source_dir))
        )


def load_idx_arrays(
    name: str,
    split: str,
    data_dir: str | None = None,
    tfds_dir: str | None = None,
    max_examples: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, 28, 28, 1], int32 labels [N]) of a split, prepared through tfds and read
    back with its array_record data source. `max_examples` > 0 keeps the first N records."""
    if name not in IDX_DATASETS:
        raise UserError(f"unknown dataset {name!r}; IDX datasets are {IDX_DATASETS}")
    tfds_dir = tfds_dir or default_tfds_dir()
    prepare_idx_dataset(name, data_dir, tfds_dir)
    builder = _tfds_builder(name, tfds_dir)
    if split not in builder.info.splits:
        raise UserError(f"{name} has no split {split!r}; it has {sorted(builder.info.splits)}")
    source = builder.as_data_source(split=split)
    count = len(source) if max_examples <= 0 else min(max_examples, len(source))
    records = source.__getitems__(list(range(count)))
    images = np.stack([r["image"] for r in records])
    labels = np.asarray([r["label"] for r in records], dtype=np.int32)
    return images, labels


class ImageFolderSource:
    """PNG/JPEG files below a directory, decoded on demand, center-cropped to a square and resized
    to `image_size`. Sub-directories, when present, are the classes (sorted by name)."""

    def __init__(self, root: str, image_size: int, channels: int):
        path = pathlib.Path(root).expanduser()
        if not path.is_dir():
            raise UserError(f"image folder not found: {root!r} (set --config.dataset.data_dir)")
        files = sorted(
            p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
        )
        if not files:
            raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) below {root!r}")
        class_names = sorted({p.parent.relative_to(path).as_posix() for p in files} - {"."})
        self.name = f"image_folder:{path}"
        self.files = files
        self.class_names = class_names
        self.num_classes = len(class_names)
        index = {c: i for i, c in enumerate(class_names)}
        self.labels = np.asarray(
            [index.get(p.parent.relative_to(path).as_posix(), 0) for p in files], np.int32
        )
        self.image_size, self.channels = image_size, channels

    def __len__(self) -> int:
        return len(self.files)

    def decode(self, i: int) -> np.ndarray:
        from PIL import Image

        try:
            with Image.open(self.files[i]) as im:
                im = im.convert("L" if self.channels == 1 else "RGB")
                w, h = im.size
                side = min(w, h)
                left, top = (w - side) // 2, (h - side) // 2
                im = im.crop((left, top, left + side, top + side))
                if side != self.image_size:
                    im = im.resize((self.image_size, self.image_size), Image.Resampling.LANCZOS)
                array = np.asarray(im, dtype=np.uint8)
        except OSError as e:
            raise UserError(f"cannot decode image {self.files[i]}: {e}") from None
        return array.reshape(self.image_size, self.image_size, self.channels)

    def read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.stack([self.decode(int(i)) for i in indices])
        return images, self.labels[indices]


def load_source(dataset, *, prepare: bool = True, barrier: Callable[[], None] = lambda: None):
    """The training source for a `config.dataset`. Only the process with `prepare=True` writes
    the tfds files; `barrier` is called before reading so other processes wait for it."""
    if dataset.name in IDX_DATASETS:
        if dataset.data_dir:  # a path the user named must exist even when tfds has the data
            resolve_idx_dir(dataset.name, dataset.data_dir)
        tfds_dir = dataset.tfds_dir or default_tfds_dir()
        if prepare:
            prepare_idx_dataset(dataset.name, dataset.data_dir or None, tfds_dir)
        barrier()
        images, labels = load_idx_arrays(
            dataset.name, dataset.split, dataset.data_dir or None, tfds_dir, dataset.max_examples
        )
        return ArraySource(dataset.name, images, labels, num_classes=10)
    barrier()
    if dataset.name == "image_folder":
        if not dataset.data_dir:
            raise UserError("dataset image_folder needs --config.dataset.data_dir=DIR of images")
        return ImageFolderSource(dataset.data_dir, dataset.image_size, dataset.channels)
    raise UserError(
        f"unknown dataset.name {dataset.name!r}; choose one of {IDX_DATASETS + ('image_folder',)}"
    )
