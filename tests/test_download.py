"""Dataset downloads against a local HTTP server on 127.0.0.1 serving tiny generated fixtures
(IDX files, a CIFAR-10-style archive): verification, caching, refusal of bad bytes, clear errors
when the network fails, local files first; and the CIFAR-10 archive reader's layout."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import tarfile
import threading

import numpy as np
import pytest

from jaxgan.data import arrays, cifar10, download, idx
from jaxgan.errors import UserError

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(autouse=True)
def no_network_but_loopback(monkeypatch):
    """Fails the test if anything connects beyond 127.0.0.1."""
    attempts = []
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def guarded_connect(sock, address):
        if isinstance(address, tuple) and address[0] not in _LOOPBACK:
            attempts.append(address)
            raise OSError(f"test guard: no network beyond 127.0.0.1 ({address})")
        return connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if host not in _LOOPBACK and host is not None:
            attempts.append(host)
            raise socket.gaierror(f"test guard: no name lookups ({host})")
        return getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield
    assert not attempts, f"network traffic beyond 127.0.0.1: {attempts}"


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private cache, tfds dir and (empty) bundled-data dir; no JAXGAN_DATA_DIR; no proxy
    for the local server."""
    monkeypatch.delenv("JAXGAN_DATA_DIR", raising=False)
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("JAXGAN_TFDS_DIR", str(tmp_path / "tfds"))
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(arrays, "_BUNDLED_DATA", tmp_path / "bundled")
    return tmp_path


class _Server:
    """Serves `root` on 127.0.0.1 (files of dataset <name> under root/<name>/), counting
    requests."""

    def __init__(self, root):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server(tmp_path, monkeypatch):
    root = tmp_path / "served"
    root.mkdir()
    served = _Server(root)
    served.root = root
    monkeypatch.setenv(download.MIRROR_ENV, served.url)
    yield served
    if served.thread.is_alive():
        served.stop()


# Fixtures -----------------------------------------------------------------------------------


def _write_idx(path, array, magic):
    header = struct.pack(f">{1 + array.ndim}I", magic, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _write_idx_set(directory, seed=0):
    """A valid MNIST-format file set (6 train, 4 test images); returns {split: (images, labels)}."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in (("train", 6), ("test", 4)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        images_name, labels_name = idx.IDX_FILES[split]
        _write_idx(directory / images_name, images, 0x803)
        _write_idx(directory / labels_name, labels, 0x801)
        splits[split] = (images[..., None], labels.astype(np.int32))
    return splits


def _cifar_row(image_32x32x3):
    # The documented layout, built independently of the reader: 1024 red values (row-major),
    # then 1024 green, then 1024 blue.
    return np.concatenate([image_32x32x3[:, :, c].reshape(-1) for c in range(3)])


def _tar_add(archive, name, payload):
    member = tarfile.TarInfo(name)
    member.size = len(payload)
    archive.addfile(member, io.BytesIO(payload))


def _write_cifar_archive(path, per_batch=2, seed=0):
    """A CIFAR-10-style archive (python version); returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    splits = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        _tar_add(archive, f"{cifar10.BATCHES_DIR}/readme.html", b"<html></html>")
        _tar_add(archive, f"{cifar10.BATCHES_DIR}/batches.meta",
                 pickle.dumps({b"label_names": [n.encode() for n in cifar10.CLASS_NAMES]}))
        for split, names in cifar10.SPLIT_BATCHES.items():
            all_images, all_labels = [], []
            for name in names:
                images = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
                labels = [int(x) for x in rng.integers(0, 10, per_batch)]
                batch = {b"batch_label": name.encode(), b"labels": labels,
                         b"data": np.stack([_cifar_row(im) for im in images]),
                         b"filenames": [b"x.png"] * per_batch}
                _tar_add(archive, f"{cifar10.BATCHES_DIR}/{name}", pickle.dumps(batch, protocol=4))
                all_images.append(images)
                all_labels += labels
            splits[split] = (np.concatenate(all_images), np.asarray(all_labels, np.int32))
    return splits


def _expect_served(monkeypatch, server, name):
    """Points download.FILES[name] at the files served for `name`."""
    files = {}
    for file in download.FILES[name]:
        data = (server.root / name / file).read_bytes()
        files[file] = download.Expected(len(data), hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(download.FILES, name, files)


def _files_under(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


# Downloads ----------------------------------------------------------------------------------


def test_download_verifies_caches_then_loads_without_network(env, server, monkeypatch):
    want = _write_idx_set(server.root / "fashion_mnist")
    _expect_served(monkeypatch, server, "fashion_mnist")

    images, labels = arrays.load_arrays("fashion_mnist", "test", tfds_dir=str(env / "tfds_a"))

    np.testing.assert_array_equal(images, want["test"][0])
    np.testing.assert_array_equal(labels, want["test"][1])
    cache = env / "cache" / "data" / "fashion_mnist"
    assert _files_under(cache) == sorted(download.FILES["fashion_mnist"])  # no partial files
    assert len(server.requests) == 4
    for file in download.FILES["fashion_mnist"]:
        assert (cache / file).read_bytes() == (server.root / "fashion_mnist" / file).read_bytes()

    server.stop()  # the cache serves from now on
    assert arrays.resolve_data_dir("fashion_mnist", None) == cache
    images, labels = arrays.load_arrays("fashion_mnist", "train", tfds_dir=str(env / "tfds_b"))
    np.testing.assert_array_equal(images, want["train"][0])
    np.testing.assert_array_equal(labels, want["train"][1])
    assert len(server.requests) == 4


def test_jaxgan_data_dir_is_the_download_target(env, server, monkeypatch):
    _write_idx_set(server.root / "mnist")
    _expect_served(monkeypatch, server, "mnist")
    monkeypatch.setenv("JAXGAN_DATA_DIR", str(env / "datasets"))
    assert arrays.resolve_data_dir("mnist", None) == env / "datasets" / "mnist"
    assert _files_under(env / "datasets" / "mnist") == sorted(download.FILES["mnist"])


def test_only_missing_files_are_downloaded(env, server, monkeypatch):
    _write_idx_set(server.root / "mnist")
    _expect_served(monkeypatch, server, "mnist")
    cache = download.cache_dir("mnist")
    cache.mkdir(parents=True)
    kept = "t10k-labels-idx1-ubyte.gz"
    (cache / kept).write_bytes((server.root / "mnist" / kept).read_bytes())
    download.fetch("mnist")
    assert sorted(server.requests) == sorted(f"/mnist/{f}" for f in download.FILES["mnist"]
                                             if f != kept)


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "extended"])
def test_bad_download_is_refused_and_nothing_is_kept(env, server, monkeypatch, damage):
    _write_idx_set(server.root / "mnist")
    _expect_served(monkeypatch, server, "mnist")
    first = next(iter(download.FILES["mnist"]))
    path = server.root / "mnist" / first
    data = bytearray(path.read_bytes())
    if damage == "flipped_byte":
        data[len(data) // 2] ^= 0xFF
    elif damage == "truncated":
        data = data[:-10]
    else:
        data += b"more"
    path.write_bytes(bytes(data))

    with pytest.raises(UserError, match=f"refused the download of {server.url}/mnist/{first}"
                       ) as error:
        arrays.resolve_data_dir("mnist", None)

    assert "\n" not in str(error.value)
    assert "nothing was kept" in str(error.value)
    assert not download.cache_dir("mnist").exists()
    assert not (env / "tfds").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_one_clear_line(message, url, name):
    assert "\n" not in message
    assert url in message
    assert "--config.dataset.data_dir=DIR" in message
    assert "JAXGAN_DATA_DIR" in message
    for file, expected in download.FILES[name].items():
        assert file in message and expected.sha256[:12] in message


def test_unreachable_server_is_one_clear_error(env, monkeypatch):
    mirror = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv(download.MIRROR_ENV, mirror)
    with pytest.raises(UserError) as error:
        arrays.load_arrays("cifar10", "test")
    _assert_one_clear_line(str(error.value), f"{mirror}/cifar10/cifar-10-python.tar.gz", "cifar10")
    assert not download.cache_dir("cifar10").exists()


def test_http_error_is_one_clear_error(env, server):
    with pytest.raises(UserError, match="HTTP 404") as error:
        arrays.resolve_data_dir("fashion_mnist", None)
    first = next(iter(download.FILES["fashion_mnist"]))
    _assert_one_clear_line(str(error.value), f"{server.url}/fashion_mnist/{first}",
                           "fashion_mnist")
    assert not download.cache_dir("fashion_mnist").exists()


def test_silent_server_times_out_as_one_clear_error(env, monkeypatch):
    monkeypatch.setattr(download, "TIMEOUT_S", 0.2)
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        mirror = f"http://127.0.0.1:{silent.getsockname()[1]}"
        monkeypatch.setenv(download.MIRROR_ENV, mirror)
        with pytest.raises(UserError, match="timed out") as error:
            download.fetch("cifar10")
    _assert_one_clear_line(str(error.value), f"{mirror}/cifar10/", "cifar10")


def test_canonical_urls_without_a_mirror(monkeypatch):
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)
    assert download.base_url("mnist") == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert download.base_url("cifar10") == "https://www.cs.toronto.edu/~kriz/"
    monkeypatch.setenv(download.MIRROR_ENV, "http://example.test/data/")
    assert download.base_url("cifar10") == "http://example.test/data/cifar10/"


# Local files first ----------------------------------------------------------------------------


def test_local_files_are_used_without_any_request(env, server, monkeypatch):
    _write_idx_set(server.root / "fashion_mnist")
    _write_idx_set(env / "datasets" / "fashion_mnist")
    _write_idx_set(env / "mine")
    monkeypatch.setenv("JAXGAN_DATA_DIR", str(env / "datasets"))
    assert arrays.resolve_data_dir("fashion_mnist", None) == env / "datasets" / "fashion_mnist"
    assert arrays.resolve_data_dir("fashion_mnist", str(env / "mine")) == env / "mine"
    assert arrays.resolve_data_dir("fashion_mnist", str(env / "datasets")) == (
        env / "datasets" / "fashion_mnist")
    assert server.requests == []


def test_bundled_mnist_is_used_without_any_request(server, monkeypatch):
    monkeypatch.delenv("JAXGAN_DATA_DIR", raising=False)
    assert arrays.resolve_data_dir("mnist", None).parent.name == "data"
    assert server.requests == []


def test_named_data_dir_without_files_is_an_error_not_a_download(env, server):
    with pytest.raises(UserError, match="holds no mnist IDX files.*leave data_dir empty"):
        arrays.resolve_data_dir("mnist", str(env / "empty"))
    assert server.requests == []


def test_no_download_when_not_allowed(env, server):
    with pytest.raises(UserError, match="no cifar10 data found") as error:
        arrays.resolve_data_dir("cifar10", None, allow_download=False)
    _assert_one_clear_line(str(error.value), f"{server.url}/cifar10/", "cifar10")
    assert server.requests == []


# CIFAR-10 -------------------------------------------------------------------------------------


def test_cifar_reader_shapes_labels_and_pixel_layout(tmp_path):
    want = _write_cifar_archive(tmp_path / cifar10.ARCHIVE, per_batch=3)
    for split, count in (("train", 15), ("test", 3)):
        images, labels = cifar10.read_split(tmp_path, split)
        assert images.shape == (count, 32, 32, 3) and images.dtype == np.uint8
        np.testing.assert_array_equal(images, want[split][0])
        np.testing.assert_array_equal(labels, want[split][1])


def test_cifar_reader_puts_the_planes_in_channels(tmp_path):
    row = np.zeros(3072, np.uint8)
    row[0 * 1024 + 1 * 32 + 2] = 200  # red at y=1, x=2
    row[1 * 1024 + 3 * 32 + 4] = 100  # green at y=3, x=4
    row[2 * 1024 + 31 * 32 + 31] = 50  # blue at y=31, x=31
    with tarfile.open(tmp_path / cifar10.ARCHIVE, "w:gz") as archive:
        for name in cifar10.SPLIT_BATCHES["test"]:
            batch = {b"data": row[None], b"labels": [7]}
            _tar_add(archive, f"{cifar10.BATCHES_DIR}/{name}", pickle.dumps(batch))
    images, labels = cifar10.read_split(tmp_path, "test")
    assert labels.tolist() == [7]
    assert np.count_nonzero(images) == 3
    assert (images[0, 1, 2, 0], images[0, 3, 4, 1], images[0, 31, 31, 2]) == (200, 100, 50)


def _py2_string(data: bytes) -> bytes:
    return b"U" + bytes([len(data)]) + data if len(data) < 256 else (
        b"T" + struct.pack("<I", len(data)) + data)


def test_cifar_reader_reads_python2_pickles(tmp_path):
    # The official batches were pickled by Python 2's numpy: globals named numpy.core.*, byte
    # strings as py2 str. Python 3 cannot write that, so the pickle is assembled by hand.
    data = (np.arange(2 * 3072) % 251).astype(np.uint8)
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85"
             + _py2_string(b"b") + b"\x87R(K\x01K\x02M\x00\x0c\x86cnumpy\ndtype\n"
             + _py2_string(b"u1") + b"K\x00K\x01\x87R(K\x03" + _py2_string(b"|")
             + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" + _py2_string(data.tobytes())
             + b"tb")
    batch = (b"\x80\x02}(" + _py2_string(b"data") + array + _py2_string(b"labels")
             + b"](K\x03K\x09eu.")
    with tarfile.open(tmp_path / cifar10.ARCHIVE, "w:gz") as archive:
        _tar_add(archive, f"{cifar10.BATCHES_DIR}/test_batch", batch)
    images, labels = cifar10.read_split(tmp_path, "test")
    assert labels.tolist() == [3, 9]
    np.testing.assert_array_equal(images, data.reshape(2, 3, 32, 32).transpose(0, 2, 3, 1))


def test_cifar_reader_takes_an_extracted_directory(tmp_path):
    want = _write_cifar_archive(tmp_path / "archive" / cifar10.ARCHIVE)
    with tarfile.open(tmp_path / "archive" / cifar10.ARCHIVE) as archive:
        archive.extractall(tmp_path / "extracted", filter="data")
    images, labels = cifar10.read_split(tmp_path / "extracted", "train")
    np.testing.assert_array_equal(images, want["train"][0])
    np.testing.assert_array_equal(labels, want["train"][1])


class _Payload:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_reader_refuses_pickles_that_call_code(tmp_path):
    with tarfile.open(tmp_path / cifar10.ARCHIVE, "w:gz") as archive:
        _tar_add(archive, f"{cifar10.BATCHES_DIR}/test_batch",
                 pickle.dumps({b"data": _Payload(), b"labels": []}))
    with pytest.raises(UserError, match="refusing to load posix.getcwd|refusing to load os"):
        cifar10.read_split(tmp_path, "test")


def test_cifar_reader_names_missing_batches(tmp_path):
    with tarfile.open(tmp_path / cifar10.ARCHIVE, "w:gz") as archive:
        _tar_add(archive, f"{cifar10.BATCHES_DIR}/data_batch_1", b"")
    with pytest.raises(UserError, match="lacks .*data_batch_2"):
        cifar10.read_split(tmp_path, "train")


def test_cifar10_downloads_and_loads_through_tfds(env, server, monkeypatch):
    want = _write_cifar_archive(server.root / "cifar10" / cifar10.ARCHIVE)
    _expect_served(monkeypatch, server, "cifar10")
    for split in ("train", "test"):
        images, labels = arrays.load_arrays("cifar10", split)
        np.testing.assert_array_equal(images, want[split][0])
        np.testing.assert_array_equal(labels, want[split][1])
    assert server.requests == [f"/cifar10/{cifar10.ARCHIVE}"]
    head, _ = arrays.load_arrays("cifar10", "train", max_examples=3)
    np.testing.assert_array_equal(head, want["train"][0][:3])
