"""Reader for the gzipped IDX files of MNIST and Fashion-MNIST (LeCun's format)."""

from __future__ import annotations

import gzip
import os

import numpy as np

from jaxgan.errors import UserError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


def _read_idx(path: str, magic: int, ndim: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise UserError(f"IDX file not found: {path}") from None
    except (OSError, EOFError) as e:
        raise UserError(f"cannot read IDX file {path} ({e}); is it a complete .gz download?") from None
    header = np.frombuffer(raw[: 4 * (ndim + 1)], dtype=">u4")
    if len(header) != ndim + 1 or int(header[0]) != magic:
        raise UserError(f"{path} is not an IDX file with magic {magic:#010x}")
    shape = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (ndim + 1))
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path} is truncated: expected {np.prod(shape)} values, found {data.size}")
    return data.reshape(shape)


def read_split(directory: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [N, 28, 28, 1], labels int64 [N]) of one split in `directory`."""
    if split not in IDX_FILES:
        raise UserError(f"unknown split {split!r}; MNIST-style data has {sorted(IDX_FILES)}")
    images_name, labels_name = IDX_FILES[split]
    images = _read_idx(os.path.join(directory, images_name), _IMAGES_MAGIC, 3)
    labels = _read_idx(os.path.join(directory, labels_name), _LABELS_MAGIC, 1)
    if len(images) != len(labels):
        raise UserError(f"{directory}: {len(images)} images but {len(labels)} labels in {split!r}")
    return images[..., None], labels.astype(np.int64)
