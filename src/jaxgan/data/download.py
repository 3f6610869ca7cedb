"""Downloads of the built-in datasets' original files, each checked against its published sha256.

Used only when no local copy is found (see `jaxgan.data.arrays.resolve_data_dir`). Files go to
the dataset's cache directory: `$JAXGAN_DATA_DIR/<name>` when JAXGAN_DATA_DIR is set, else
`$JAXGAN_CACHE_DIR/data/<name>` (JAXGAN_CACHE_DIR defaults to ~/.cache/jaxgan). Each file is
written to a temporary file beside its destination, its size and sha256 checked, then renamed
into place, so the cache only ever holds complete, verified files; a failed download leaves
nothing behind.

Environment:
  JAXGAN_DATASET_MIRROR  a base URL that replaces every dataset's canonical one: the files of
                         dataset <name> are fetched from $JAXGAN_DATASET_MIRROR/<name>/<file>
                         (http://, https:// or file://). For a local mirror, or tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import pathlib
import tempfile
import urllib.error
import urllib.request
from typing import NamedTuple, NoReturn

from jaxgan import filelock
from jaxgan.errors import UserError

_log = logging.getLogger(__name__)

MIRROR_ENV = "JAXGAN_DATASET_MIRROR"
TIMEOUT_S = 60  # per blocking socket operation, not for the whole file
_CHUNK = 1 << 20


class Expected(NamedTuple):
    size: int  # bytes
    sha256: str


# Where each dataset's files are published. yann.lecun.com no longer serves MNIST; the ossci
# mirror is the one torchvision uses. Fashion-MNIST's bucket website serves http only: the
# sha256 check is what makes the plain-http download safe.
URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
}

# MNIST and Fashion-MNIST: sizes and sha256 of the official files (byte-identical to the
# original distributions, checked against their published checksums); the repository's
# bundled data/mnist files have these sha256.
# CIFAR-10: sha256 from keras (keras/src/datasets/cifar10.py, the `file_hash` of
# cifar-10-python.tar.gz); size 170,498,071 bytes as recorded beside that sha256 and the md5
# c58f30108f718f92721af3b95e74349a that torchvision checks (torchvision/datasets/cifar.py).
FILES: dict[str, dict[str, Expected]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": Expected(
            9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train-labels-idx1-ubyte.gz": Expected(
            28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "t10k-images-idx3-ubyte.gz": Expected(
            1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "t10k-labels-idx1-ubyte.gz": Expected(
            4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": Expected(
            26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        "train-labels-idx1-ubyte.gz": Expected(
            29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        "t10k-images-idx3-ubyte.gz": Expected(
            4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        "t10k-labels-idx1-ubyte.gz": Expected(
            5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    },
    "cifar10": {
        "cifar-10-python.tar.gz": Expected(
            170498071, "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    },
}


def cache_dir(name: str) -> pathlib.Path:
    """Where `name`'s downloaded files are kept."""
    if os.environ.get("JAXGAN_DATA_DIR"):
        return pathlib.Path(os.environ["JAXGAN_DATA_DIR"]).expanduser() / name
    root = os.environ.get("JAXGAN_CACHE_DIR") or os.path.join("~", ".cache", "jaxgan")
    return pathlib.Path(root).expanduser() / "data" / name


def base_url(name: str) -> str:
    mirror = os.environ.get(MIRROR_ENV)
    return f"{mirror.rstrip('/')}/{name}/" if mirror else URLS[name]


def describe_files(name: str) -> str:
    """`name`'s files with their sizes and sha256 prefixes, for messages."""
    return ", ".join(f"{file} ({expected.size / 1e6:.1f} MB, sha256 {expected.sha256[:12]}...)"
                     for file, expected in FILES[name].items())


def how_to_supply(name: str) -> str:
    where = base_url(name)
    if where != URLS[name]:
        where += f" ({MIRROR_ENV}; canonical: {URLS[name]})"
    return (f"download {describe_files(name)} from {where} and pass "
            f"--config.dataset.data_dir=DIR for the directory holding them, or set "
            f"JAXGAN_DATA_DIR to a directory holding {name}/ with them")


def missing_files(name: str, directory: pathlib.Path) -> list[str]:
    return [file for file in FILES[name] if not (directory / file).is_file()]


def fetch(name: str) -> pathlib.Path:
    """Downloads the files of `name` missing from its cache directory, each verified; returns
    the directory. One process downloads; the others wait for it, then find the files there."""
    if name not in FILES:
        raise UserError(f"no download is known for dataset {name!r}; known: {sorted(FILES)}")
    directory = cache_dir(name)
    if not missing_files(name, directory):
        return directory
    with filelock.exclusive(str(directory.parent / f".{name}.download.lock")):
        for file in missing_files(name, directory):
            _download(name, file, directory)
    return directory


def _download(name: str, file: str, directory: pathlib.Path) -> None:
    url = base_url(name) + file
    expected = FILES[name][file]
    created = not directory.exists()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(prefix=f".{file}.", suffix=".part", dir=directory)
        os.close(fd)
    except OSError as e:
        raise UserError(f"cannot write the {name} download cache {directory} ({e.strerror}); "
                        "set JAXGAN_CACHE_DIR or JAXGAN_DATA_DIR to a writable directory, or "
                        + how_to_supply(name)) from None
    # Shown under the CLIs' quiet logging: a download can take minutes and fills the disk.
    _log.warning("downloading %s (%.1f MB) into %s", url, expected.size / 1e6, directory)
    try:
        size, sha256 = _copy(url, part, expected.size, name)
        if size != expected.size or sha256 != expected.sha256:
            raise UserError(
                f"refused the download of {url}: it has {size} bytes and sha256 {sha256[:12]}..., "
                f"not {expected.size} bytes and sha256 {expected.sha256[:12]}... (a truncated or "
                f"corrupted transfer, or a mirror serving other bytes); nothing was kept. Retry, "
                "or " + how_to_supply(name))
        os.replace(part, directory / file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(part)
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if empty: files verified earlier are kept
        raise


def _copy(url: str, path: str, expected_size: int, name: str) -> tuple[int, str]:
    """Streams `url` into the file `path`; returns (bytes, sha256). Reads at most one byte more
    than expected, so a wrong file cannot fill the disk."""
    digest, size = hashlib.sha256(), 0
    request = urllib.request.Request(url, headers={"User-Agent": "jaxgan"})
    try:
        with (urllib.request.urlopen(request, timeout=TIMEOUT_S) as response,
              open(path, "wb") as out):
            while size <= expected_size:
                chunk = response.read(min(_CHUNK, expected_size + 1 - size))
                if not chunk:
                    break
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as e:
                    raise UserError(f"cannot write the download of {url} into {path} "
                                    f"({e.strerror})") from None
                size += len(chunk)
    except urllib.error.HTTPError as e:
        _unreachable(name, url, f"HTTP {e.code} {e.reason}")
    except urllib.error.URLError as e:  # DNS, refused connection, no route, bad URL scheme
        _unreachable(name, url, str(e.reason))
    except (OSError, http.client.HTTPException, ValueError) as e:  # timeouts, resets, bad URL
        _unreachable(name, url, str(e) or type(e).__name__)
    return size, digest.hexdigest()


def _unreachable(name: str, url: str, reason: str) -> NoReturn:
    raise UserError(f"cannot download {url} ({reason}) and no local copy of {name} was "
                    "found; " + how_to_supply(name))
