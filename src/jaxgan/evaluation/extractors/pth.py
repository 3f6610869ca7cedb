"""Reads a PyTorch `.pth` state dict into numpy arrays without torch and without running pickled
code.

Two layouts exist. The zip layout (torch >= 1.6) holds `<root>/data.pkl` and one raw file per
storage, `<root>/data/<key>`. The legacy layout (older files, like the 2019 FID Inception
weights) is a stream of pickles: magic number, protocol version, system info, the object, the
sorted storage keys, then each storage as a little-endian int64 element count and its raw bytes.
In both, tensors are pickled as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)` with storages as persistent ids `('storage', torch.<Type>Storage, key, location, numel,
...)`. The unpickler below resolves only those names and `collections.OrderedDict`; any other
global is refused, so a malicious file cannot execute code.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from typing import IO, Any

import numpy as np

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class PthFormatError(ValueError):
    """The file is not a state dict in a layout this reader understands."""


def _storage_dtypes() -> dict[str, np.dtype]:
    dtypes = {
        "DoubleStorage": np.float64,
        "FloatStorage": np.float32,
        "HalfStorage": np.float16,
        "LongStorage": np.int64,
        "IntStorage": np.int32,
        "ShortStorage": np.int16,
        "CharStorage": np.int8,
        "ByteStorage": np.uint8,
        "BoolStorage": np.bool_,
    }
    try:
        import ml_dtypes  # ships with jax

        dtypes["BFloat16Storage"] = ml_dtypes.bfloat16
    except ImportError:
        pass
    return {name: np.dtype(dtype).newbyteorder("<") for name, dtype in dtypes.items()}


_STORAGE_DTYPES = _storage_dtypes()


class _StorageType:
    def __init__(self, name: str):
        self.name, self.dtype = name, _STORAGE_DTYPES[name]


class _Storage:
    """A storage whose bytes arrive during unpickling (zip) or after it (legacy)."""

    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


class _LazyTensor:
    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def to_numpy(self) -> np.ndarray:
        data = self.storage.data
        if data is None:
            raise PthFormatError("a tensor refers to a storage that the file does not contain")
        itemsize = data.dtype.itemsize
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
        if any(n == 0 for n in self.size):
            return np.zeros(self.size, data.dtype)
        if self.offset < 0 or last >= data.size:
            raise PthFormatError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.size,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view, dtype=data.dtype.newbyteorder("="))


def _rebuild_tensor_v2(storage, offset, size, stride, *_ignored) -> _LazyTensor:
    if not isinstance(storage, _Storage):
        raise PthFormatError("tensor without a storage")
    return _LazyTensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored):
    return data


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise PthFormatError(f"refusing to load {module}.{name}: only tensors are expected")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise PthFormatError(f"unexpected persistent id {pid!r}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise PthFormatError(f"unexpected storage type {storage_type!r}")
        if len(pid) > 5 and pid[5] is not None:
            raise PthFormatError("storage views (pre-1.0 files) are not supported")
        return self._load_storage(key, storage_type.dtype, numel)


def _plain_unpickle(file: IO[bytes]) -> Any:
    """A pickle of plain data (numbers, strings, dicts): no globals at all."""

    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise PthFormatError(f"unexpected global {module}.{name} in the file header")

    return Plain(file).load()


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _LazyTensor):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return {key: _materialise(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialise(value) for value in obj)
    return obj


def _load_zip(path: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise PthFormatError("zip archive without exactly one data.pkl")
        root = pickles[0][: -len("data.pkl")]
        byteorder = root + "byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder).strip() != b"little":
            raise PthFormatError("big-endian .pth files are not supported")
        storages: dict[str, _Storage] = {}

        def load_storage(key: str, dtype: np.dtype, numel: int) -> _Storage:
            if key not in storages:
                raw = archive.read(f"{root}data/{key}")
                if len(raw) != numel * dtype.itemsize:
                    raise PthFormatError(
                        f"storage {key} has {len(raw)} bytes, expected {numel * dtype.itemsize}"
                    )
                storage = _Storage(dtype, numel)
                storage.data = np.frombuffer(raw, dtype=dtype)
                storages[key] = storage
            return storages[key]

        with archive.open(pickles[0]) as file:
            return _materialise(_RestrictedUnpickler(file, load_storage).load())


def _load_legacy(path: str) -> Any:
    with open(path, "rb") as file:
        if _plain_unpickle(file) != _LEGACY_MAGIC:
            raise PthFormatError("not a PyTorch file (bad magic number)")
        if _plain_unpickle(file) != _LEGACY_PROTOCOL:
            raise PthFormatError("unsupported legacy protocol version")
        sys_info = _plain_unpickle(file)
        if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
            raise PthFormatError("big-endian .pth files are not supported")
        storages: dict[str, _Storage] = {}

        def load_storage(key: str, dtype: np.dtype, numel: int) -> _Storage:
            return storages.setdefault(key, _Storage(dtype, numel))

        obj = _RestrictedUnpickler(file, load_storage).load()
        keys = _plain_unpickle(file)
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise PthFormatError(f"storage {key} is listed but never used")
            count = np.frombuffer(file.read(8), "<i8")
            if count.size != 1 or int(count[0]) != storage.numel:
                raise PthFormatError(f"storage {key}: bad element count")
            raw = file.read(storage.numel * storage.dtype.itemsize)
            if len(raw) != storage.numel * storage.dtype.itemsize:
                raise PthFormatError(f"storage {key} is truncated")
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
        return _materialise(obj)


def load_state_dict(path: str) -> dict[str, np.ndarray]:
    """{name: numpy array} from a `.pth` file holding a (possibly nested) dict of tensors.

    Raises PthFormatError for anything else (the callers turn it into a UserError that names
    the file)."""
    try:
        obj = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    except (pickle.UnpicklingError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise PthFormatError(f"corrupt or truncated file ({type(e).__name__}: {e})") from None
    if not isinstance(obj, dict):
        raise PthFormatError(f"expected a state dict, found {type(obj).__name__}")
    return dict(obj)
