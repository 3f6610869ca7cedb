"""Reader for CIFAR-10's official python version (`cifar-10-python.tar.gz`), without TensorFlow or
torch.

The archive holds `cifar-10-batches-py/data_batch_1` .. `data_batch_5` (train, 50,000 images) and
`test_batch` (test, 10,000), each a pickled dict with b"data" (uint8 [N, 3072]: the R, G and B
planes of a 32x32 image, each row-major) and b"labels" (N ints in 0..9). Only those regular files
are read, straight from the archive (nothing is extracted to disk), and unpickled by an unpickler
that builds nothing but numpy arrays: a tampered archive cannot run code.

A directory may hold the archive or its extracted `cifar-10-batches-py/` (torchvision and keras
leave one there), or be that extracted directory itself.
"""

from __future__ import annotations

import io
import pathlib
import pickle
import tarfile

import numpy as np

from jaxgan.errors import UserError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy < 2
    from numpy.core.multiarray import _reconstruct

ARCHIVE = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
SPLIT_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
_ALL_BATCHES = tuple(n for names in SPLIT_BATCHES.values() for n in names)
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
# A batch is 31 MB; anything far larger is not CIFAR-10 and is not read into memory.
_MAX_BATCH_BYTES = 64 << 20
# The globals a CIFAR batch pickle names (written by Python 2's numpy as numpy.core.*).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def find(directory: str | pathlib.Path) -> pathlib.Path | None:
    """The archive or the directory of batch files in `directory`, or None."""
    directory = pathlib.Path(directory)
    if (directory / ARCHIVE).is_file():
        return directory / ARCHIVE
    for batches in (directory / BATCHES_DIR, directory):
        if all((batches / n).is_file() for n in _ALL_BATCHES):
            return batches
    return None


def _parse_batch(raw: bytes, origin: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise UserError(f"{origin} is not a CIFAR-10 batch ({e})") from None
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (len(data),):
        raise UserError(f"{origin} holds data {data.shape} and labels {labels.shape}, not "
                        "[N, 3072] and [N]")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise UserError(f"{origin} has labels outside 0..9")
    # Each row is the R plane, then G, then B, each 32x32 row-major: to [N, 32, 32, 3].
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _read_archive(path: pathlib.Path, names: tuple[str, ...]) -> dict[str, bytes]:
    wanted = {f"{BATCHES_DIR}/{n}": n for n in names}
    found = {}
    try:
        # One pass in stream order: a gzip archive is not re-decompressed to seek back.
        with tarfile.open(path, "r|gz") as archive:
            for member in archive:
                if member.name not in wanted or not member.isfile():
                    continue
                if member.size > _MAX_BATCH_BYTES:
                    raise UserError(f"{path}: {member.name} is {member.size} bytes, too large "
                                    "for a CIFAR-10 batch")
                found[wanted[member.name]] = archive.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise UserError(f"cannot read {path} ({e}); is it a complete download of "
                        f"{ARCHIVE}?") from None
    missing = [n for n in names if n not in found]
    if missing:
        raise UserError(f"{path} lacks {', '.join(f'{BATCHES_DIR}/{n}' for n in missing)}")
    return found


def _read_directory(directory: pathlib.Path, names: tuple[str, ...]) -> dict[str, bytes]:
    found = {}
    for name in names:
        path = directory / name
        if path.stat().st_size > _MAX_BATCH_BYTES:
            raise UserError(f"{path} is {path.stat().st_size} bytes, too large for a CIFAR-10 "
                            "batch")
        found[name] = path.read_bytes()
    return found


def read_split(directory: str | pathlib.Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [N, 32, 32, 3], labels int64 [N]) of one split, in the order of the
    batch files and of the examples within them."""
    if split not in SPLIT_BATCHES:
        raise UserError(f"unknown split {split!r}; CIFAR-10 has {sorted(SPLIT_BATCHES)}")
    source = find(directory)
    if source is None:
        raise UserError(f"no {ARCHIVE} or {BATCHES_DIR}/ in {directory}")
    names = SPLIT_BATCHES[split]
    raw = (_read_archive(source, names) if source.is_file()
           else _read_directory(source, names))
    batches = [_parse_batch(raw[n], f"{source}:{n}") for n in names]
    return (np.concatenate([images for images, _ in batches]),
            np.concatenate([labels for _, labels in batches]))
