"""Data: IDX files, the tfds builders, the resumable process-sharded iterator, image folders."""

import gzip
import os

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from PIL import Image

from jaxgan import data
from jaxgan.data import idx
from jaxgan.data.pipeline import BatchIterator, preprocess
from jaxgan.data.sources import ArraySource, ImageFolderSource, resolve_data_dir
from jaxgan.errors import UserError

MNIST = REPO / "data" / "mnist"


def test_idx_reader_on_the_bundled_mnist():
    images, labels = idx.read_split(str(MNIST), "test")
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    # The first MNIST test digit is a 7, the second a 2 (a known fact of the file).
    assert labels[:2].tolist() == [7, 2]


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    raw = gzip.decompress((MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes())
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        src = gzip.decompress((MNIST / name).read_bytes())
        with gzip.open(tmp_path / name, "wb") as f:
            f.write(src if "images" in name else raw[:100])
    with pytest.raises(UserError, match="truncated"):
        idx.read_split(str(tmp_path), "test")


def test_tfds_round_trip_equals_the_idx_files():
    images, labels = data.load_arrays("mnist", "test")
    want_images, want_labels = idx.read_split(str(MNIST), "test")
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(labels, want_labels)
    head, _ = data.load_arrays("mnist", "test", max_examples=5)
    np.testing.assert_array_equal(head, want_images[:5])


@pytest.mark.skipif(not (SHARED_DATA / "fashion_mnist").is_dir(), reason="needs ../shared/data")
def test_fashion_mnist_through_tfds():
    images, labels = data.load_arrays(
        "fashion_mnist", "test", data_dir=str(SHARED_DATA / "fashion_mnist"), max_examples=100)
    assert images.shape == (100, 28, 28, 1)
    want, want_labels = idx.read_split(str(SHARED_DATA / "fashion_mnist"), "test")
    np.testing.assert_array_equal(images, want[:100])
    np.testing.assert_array_equal(labels, want_labels[:100])


def test_missing_data_dir_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="holds no mnist IDX files"):
        resolve_data_dir("mnist", str(tmp_path / "nowhere"))


def _source(n=10):
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8)
    return ArraySource("toy", images, np.arange(n, dtype=np.int32), num_classes=10)


def _labels(iterator, steps):
    return [next(iterator)["label"].tolist() for _ in range(steps)]


def _flat(lists) -> list:
    return [x for sub in lists for x in sub]


def test_iterator_epochs_are_permutations_and_deterministic():
    it = BatchIterator(_source(), 5, seed=3, image_size=4, channels=1)
    first_epoch = _flat(_labels(it, 2))
    assert sorted(first_epoch) == list(range(10))
    again = BatchIterator(_source(), 5, seed=3, image_size=4, channels=1)
    assert _flat(_labels(again, 2)) == first_epoch
    other = BatchIterator(_source(), 5, seed=4, image_size=4, channels=1)
    assert _flat(_labels(other, 2)) != first_epoch


def test_iterator_resumes_from_a_position_even_across_epochs():
    straight = BatchIterator(_source(), 4, seed=0, image_size=4, channels=1)
    stream = _labels(straight, 7)
    resumed = BatchIterator(_source(), 4, seed=0, image_size=4, channels=1, position=12)
    assert _labels(resumed, 4) == stream[3:]


def test_processes_split_each_global_batch():
    whole = BatchIterator(_source(), 6, seed=1, image_size=4, channels=1)
    parts = [BatchIterator(_source(), 6, seed=1, image_size=4, channels=1, process_index=i,
                           process_count=3) for i in range(3)]
    for _ in range(4):
        want = next(whole)["label"].tolist()
        assert _flat(next(p)["label"].tolist() for p in parts) == want


def test_preprocess_pads_and_scales():
    x = np.full((2, 28, 28, 1), 255, np.uint8)
    y = preprocess(x, 32, 1)
    assert y.shape == (2, 32, 32, 1)
    assert y[0, 0, 0, 0] == -1.0 and y[0, 2, 2, 0] == 1.0 and y[0, 29, 29, 0] == 1.0
    assert preprocess(x, 28, 3).shape == (2, 28, 28, 3)
    with pytest.raises(UserError):
        preprocess(x, 27, 1)


def test_image_folder_crops_resizes_and_labels_by_subfolder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, size in [("cats", (40, 30)), ("dogs", (64, 64))]:
        os.makedirs(tmp_path / cls)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    source = ImageFolderSource(str(tmp_path), image_size=16, channels=3)
    assert len(source) == 6 and source.num_classes == 2
    images, labels = source.read(np.array([0, 5]))
    assert images.shape == (2, 16, 16, 3) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1]
    gray, _ = ImageFolderSource(str(tmp_path), image_size=8, channels=1).read(np.array([1]))
    assert gray.shape == (1, 8, 8, 1)


def test_image_folder_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        ImageFolderSource(str(tmp_path / "missing"), 16, 3)
    with pytest.raises(UserError, match="no images"):
        ImageFolderSource(str(tmp_path), 16, 3)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot decode"):
        ImageFolderSource(str(tmp_path), 16, 3).read(np.array([0]))
