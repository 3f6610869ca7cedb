"""Data: IDX files, the tfds builders, the resumable process-sharded iterator over a batch
spec, image folders, paired and unpaired folders, super-resolution pairs."""

import gzip
import os

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from PIL import Image

from jaxgan import config_lib, data
from jaxgan.data import degrade, idx
from jaxgan.data.arrays import resolve_data_dir
from jaxgan.data.folders import ImageFolderSource, PairedFolderSource, UnpairedFolderSource
from jaxgan.data.pipeline import BatchIterator, preprocess
from jaxgan.data.sources import ArraySource, load_source, read_all
from jaxgan.errors import UserError
from jaxgan.families.protocol import LABEL, Field

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
    with pytest.raises(UserError, match="mnist"):
        resolve_data_dir("mnist", str(tmp_path / "nowhere"))


def _source(n=10):
    images = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 1), np.uint8)
    return ArraySource("toy", images, np.arange(n, dtype=np.int32), num_classes=10)


SPEC = {"image": Field((4, 4, 1)), "label": LABEL}


def _labels(iterator, steps):
    return [next(iterator)["label"].tolist() for _ in range(steps)]


def _flat(lists) -> list:
    return [x for sub in lists for x in sub]


def test_iterator_epochs_are_permutations_and_deterministic():
    it = BatchIterator(_source(), 5, 3, SPEC)
    first_epoch = _flat(_labels(it, 2))
    assert sorted(first_epoch) == list(range(10))
    assert _flat(_labels(BatchIterator(_source(), 5, 3, SPEC), 2)) == first_epoch
    assert _flat(_labels(BatchIterator(_source(), 5, 4, SPEC), 2)) != first_epoch
    # The stream is numpy's permutation of (seed, epoch): the order every run trained with.
    np.testing.assert_array_equal(first_epoch,
                                  np.random.default_rng([3, 0]).permutation(10))


def test_iterator_resumes_from_a_position_even_across_epochs():
    stream = _labels(BatchIterator(_source(), 4, 0, SPEC), 7)
    resumed = BatchIterator(_source(), 4, 0, SPEC, position=12)
    assert _labels(resumed, 4) == stream[3:]


def test_processes_split_each_global_batch():
    whole = BatchIterator(_source(), 6, 1, SPEC)
    parts = [BatchIterator(_source(), 6, 1, SPEC, process_index=i, process_count=3)
             for i in range(3)]
    for _ in range(4):
        want = next(whole)["label"].tolist()
        assert _flat(next(p)["label"].tolist() for p in parts) == want


def test_batches_follow_the_spec_and_a_new_spec_continues_the_stream():
    it = BatchIterator(_source(), 4, 0, {"image": Field((8, 8, 3))})
    batch = next(it)
    assert set(batch) == {"image"} and batch["image"].shape == (4, 8, 8, 3)
    # A stage boundary: the same stream from the same position, at another image size
    # (2x2: the 4x4 images averaged down).
    smaller = it.with_spec({"image": Field((2, 2, 1)), "label": LABEL})
    straight = BatchIterator(_source(), 4, 0, SPEC, position=4)
    a, b = next(smaller), next(straight)
    assert a["image"].shape == (4, 2, 2, 1)
    np.testing.assert_array_equal(a["label"], b["label"])
    np.testing.assert_allclose(a["image"][:, 0, 0], b["image"][:, :2, :2].mean(axis=(1, 2)))
    with pytest.raises(UserError, match="needs field\\(s\\) A"):
        BatchIterator(_source(), 4, 0, {"A": Field((4, 4, 1))})


def test_preprocess_pads_averages_down_and_scales():
    x = np.full((2, 28, 28, 1), 255, np.uint8)
    y = preprocess(x, 32, 1)
    assert y.shape == (2, 32, 32, 1)
    assert y[0, 0, 0, 0] == -1.0 and y[0, 2, 2, 0] == 1.0 and y[0, 29, 29, 0] == 1.0
    assert preprocess(x, 28, 3).shape == (2, 28, 28, 3)
    checker = np.zeros((1, 4, 4, 1), np.uint8)
    checker[0, ::2, ::2] = checker[0, 1::2, 1::2] = 255
    np.testing.assert_allclose(preprocess(checker, 2, 1), 0.0, atol=1e-6)
    with pytest.raises(UserError):
        preprocess(x, 27, 1)


def _dataset(**keys):
    c = config_lib.dataset_config()
    config_lib.set_keys(c, keys)
    return c


def _png(path, array):
    os.makedirs(path.parent, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_crops_resizes_and_labels_by_subfolder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, size in [("cats", (40, 30)), ("dogs", (64, 64))]:
        for i in range(3):
            _png(tmp_path / cls / f"{i}.png", rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    source = ImageFolderSource(_dataset(data_dir=str(tmp_path), image_size=16, channels=3))
    assert len(source) == 6 and source.num_classes == 2
    out = source.read({"": np.array([0, 5])}, np.array([0, 1]))
    assert out["image"].shape == (2, 16, 16, 3) and out["image"].dtype == np.uint8
    assert out["label"].tolist() == [0, 1]
    gray = ImageFolderSource(_dataset(data_dir=str(tmp_path), image_size=8, channels=1))
    assert gray.read({"": np.array([1])}, np.array([0]))["image"].shape == (1, 8, 8, 1)


def test_image_folder_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        ImageFolderSource(_dataset(data_dir=str(tmp_path / "missing")))
    with pytest.raises(UserError, match="no images"):
        ImageFolderSource(_dataset(data_dir=str(tmp_path)))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UserError, match="cannot decode"):
        ImageFolderSource(_dataset(data_dir=str(tmp_path))).read({"": np.array([0])},
                                                                 np.array([0]))


def _gradient(h, w, offset=0):
    """An RGB image whose pixel (y, x) encodes its position, to check crops and flips."""
    y, x = np.mgrid[:h, :w]
    return np.stack([y * 4 + offset, x * 4 + offset, np.full((h, w), offset)], -1).astype(np.uint8)


def test_paired_folders_share_their_random_crop_and_flip(tmp_path):
    for i in range(4):
        a, b = _gradient(20, 20, i), _gradient(20, 20, 100 + i)
        _png(tmp_path / "aligned" / "train" / f"{i}.png", np.concatenate([a, b], axis=1))
        _png(tmp_path / "two" / "A" / "train" / f"{i}.png", a)
        _png(tmp_path / "two" / "B" / "train" / f"{i}.png", b)
    keys = {"image_size": 8, "channels": 3, "preprocess": "crop", "random_flip": True}
    for layout in ("aligned", "two"):
        source = PairedFolderSource(_dataset(data_dir=str(tmp_path / layout), **keys), seed=5)
        assert len(source) == 4 and source.fields == ("A", "B")
        out = source.read({"": np.arange(4)}, np.arange(4))
        assert out["A"].shape == (4, 8, 8, 3)
        # B is A's crop of the partner image: same place, same flip, offset 100 in every channel.
        np.testing.assert_array_equal(out["B"].astype(int) - out["A"], 100)
        again = source.read({"": np.arange(4)}, np.arange(4))
        np.testing.assert_array_equal(again["A"], out["A"])  # a function of (seed, position)
        crops = {tuple(out["A"][i, 0, 0, :2]) for i in range(4)}
        assert len(crops) > 1  # random crops differ between positions
    flips = PairedFolderSource(_dataset(data_dir=str(tmp_path / "aligned"), **keys), seed=5)
    seen = flips.read({"": np.zeros(32, int)}, np.arange(32))["A"]
    assert np.any(seen[:, 0, 0, 1] > seen[:, 0, -1, 1])  # some examples are flipped
    assert np.any(seen[:, 0, 0, 1] < seen[:, 0, -1, 1])  # and some are not
    center = PairedFolderSource(_dataset(data_dir=str(tmp_path / "two"), **keys), train=False)
    out = center.read({"": np.array([0])}, np.array([7]))
    np.testing.assert_array_equal(out["A"][0], _gradient(20, 20, 0)[6:14, 6:14])


def test_paired_folder_mistakes_are_one_line(tmp_path):
    _png(tmp_path / "A" / "train" / "0.png", _gradient(8, 8))
    _png(tmp_path / "A" / "train" / "1.png", _gradient(8, 8))
    _png(tmp_path / "B" / "train" / "0.png", _gradient(8, 8))
    with pytest.raises(UserError, match="A/train has 2 images but B/train has 1"):
        PairedFolderSource(_dataset(data_dir=str(tmp_path), image_size=8, channels=3))
    _png(tmp_path / "B" / "train" / "1.png", _gradient(10, 8))
    source = PairedFolderSource(_dataset(data_dir=str(tmp_path), image_size=8, channels=3))
    with pytest.raises(UserError, match="paired images differ in size"):
        source.read({"": np.array([1])}, np.array([0]))
    with pytest.raises(UserError, match="expected"):
        PairedFolderSource(_dataset(data_dir=str(tmp_path), image_size=8), split="test")


def test_unpaired_domains_are_streams_of_their_own_lengths(tmp_path):
    for i in range(3):
        _png(tmp_path / "trainA" / f"{i}.png", np.full((8, 8, 3), i, np.uint8))
    for i in range(5):
        _png(tmp_path / "trainB" / f"{i}.png", np.full((8, 8, 3), 10 + i, np.uint8))
    source = UnpairedFolderSource(_dataset(data_dir=str(tmp_path), image_size=8, channels=3))
    assert source.streams == {"A": 3, "B": 5}
    spec = {"A": Field((8, 8, 3)), "B": Field((8, 8, 3))}
    it = BatchIterator(source, 15, 0, spec)
    batch = next(it)
    a = np.rint((batch["A"][:, 0, 0, 0] + 1) * 127.5).astype(int)
    b = np.rint((batch["B"][:, 0, 0, 0] + 1) * 127.5).astype(int) - 10
    assert sorted(a.tolist()) == sorted(list(range(3)) * 5)  # 5 epochs of A
    assert sorted(b.tolist()) == sorted(list(range(5)) * 3)  # 3 epochs of B
    assert not np.array_equal(a[:3], b[:3])


def test_super_resolution_pairs_are_made_on_the_fly(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(2):
        _png(tmp_path / f"{i}.png", rng.integers(0, 255, (24, 30, 3), dtype=np.uint8))
    dataset = _dataset(name="image_folder", data_dir=str(tmp_path), image_size=16, channels=3,
                       preprocess="crop", lr_scale=4)
    source = load_source(dataset, seed=0)
    assert source.fields == ("lr", "hr")
    out = source.read({"": np.array([0, 1])}, np.array([0, 1]))
    assert out["hr"].shape == (2, 16, 16, 3) and out["lr"].shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(out["lr"], degrade.degrade(out["hr"], 4))
    # Bicubic downscaling keeps a flat image flat.
    flat = np.full((1, 8, 8, 1), 77, np.uint8)
    np.testing.assert_array_equal(degrade.degrade(flat, 2), np.full((1, 4, 4, 1), 77))
    with pytest.raises(UserError, match="not divisible by dataset.lr_scale"):
        load_source(_dataset(name="image_folder", data_dir=str(tmp_path), image_size=18,
                             lr_scale=4))


def test_read_all_reads_a_split_in_order():
    dataset = _dataset(name="mnist")
    images = read_all(load_source(dataset, split="test", train=False), "image")
    want, _ = idx.read_split(str(MNIST), "test")
    np.testing.assert_array_equal(images, want)
