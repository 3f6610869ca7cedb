"""The domain classifier: deterministic training, saving with a verified sha256, inference."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

from jaxgan.data.idx import read_split
from jaxgan.data.arrays import resolve_data_dir
from jaxgan.errors import UserError
from jaxgan.evaluation import classifier
from jaxgan.evaluation.metrics import load_extractor
from jaxgan.models.lenet import LeNet


@pytest.fixture(scope="module")
def mnist_subset():
    # The IDX files directly: the same arrays as load_arrays, without preparing tfds.
    images, labels = read_split(str(resolve_data_dir("mnist", None)), "train")
    return images[:512].reshape(-1, 28, 28, 1), labels[:512].astype(np.int32)


def _tiny_config(**overrides) -> classifier.TrainConfig:
    return dataclasses.replace(classifier.PRESETS["mnist"], epochs=1, max_steps=3, **overrides)


def test_training_is_deterministic(mnist_subset):
    images, labels = mnist_subset
    first = classifier.train(_tiny_config(), images, labels, log=lambda _: None)
    second = classifier.train(_tiny_config(), images, labels, log=lambda _: None)
    chex.assert_trees_all_equal(first, second)
    model = _tiny_config().model()
    initial = model.init(jax.random.key(0), np.zeros((1, 28, 28, 1), np.float32))["params"]
    assert not np.array_equal(first["logits"]["kernel"], initial["logits"]["kernel"])  # it trained
    other_seed = model.init(jax.random.key(1), np.zeros((1, 28, 28, 1), np.float32))["params"]
    assert not np.array_equal(other_seed["logits"]["kernel"], initial["logits"]["kernel"])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A randomly initialised classifier saved as the CLI saves one."""
    out = str(tmp_path_factory.mktemp("clf"))
    config = _tiny_config()
    params = config.model().init(jax.random.key(3), np.zeros((1, 28, 28, 1), np.float32))["params"]
    meta = {"dataset": "mnist", "test_accuracy": 0.5, "train_config": dataclasses.asdict(config)}
    classifier.save(out, jax.device_get(params), meta)
    return out, params


def test_save_is_byte_deterministic(saved, tmp_path):
    out, params = saved
    classifier.save(str(tmp_path), jax.device_get(params), {"train_config": {}})
    with open(os.path.join(out, classifier.META_FILE)) as file:
        recorded = json.load(file)["weights_sha256"]
    with open(tmp_path / classifier.META_FILE) as file:
        assert json.load(file)["weights_sha256"] == recorded


def test_load_round_trip_and_inference(saved):
    out, params = saved
    loaded = classifier.load_classifier("mnist", out)
    chex.assert_trees_all_equal(jax.device_get(loaded.params), jax.device_get(params))
    assert loaded.name == "lenet_mnist" and loaded.test_accuracy == 0.5
    assert loaded.path == os.path.join(out, classifier.WEIGHTS_FILE)

    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28, 1), dtype=np.uint8)
    features, logits = loaded(images, batch_size=3)  # three batches, the last one padded
    assert features.shape == (7, 128) and logits.shape == (7, 10)
    ref_features, ref_logits = LeNet().apply({"params": params}, images / 127.5 - 1.0)
    np.testing.assert_allclose(features, ref_features, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, ref_logits, rtol=1e-5, atol=1e-5)
    # The same images as [-1, 1] floats, and centred in 32x32 padding, give the same outputs.
    as_float = images.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(loaded(as_float)[0], features, rtol=1e-5, atol=1e-5)
    padded = np.pad(as_float, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
    np.testing.assert_allclose(loaded(padded)[0], features, rtol=1e-5, atol=1e-5)
    with pytest.raises(UserError, match="gray images"):
        loaded(np.zeros((2, 28, 28, 3), np.uint8))


def test_load_refuses_changed_weights(saved, tmp_path):
    out, _ = saved
    for name in (classifier.WEIGHTS_FILE, classifier.META_FILE):
        with open(os.path.join(out, name), "rb") as src:
            (tmp_path / name).write_bytes(src.read())
    weights = tmp_path / classifier.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1  # one bit of one weight
    weights.write_bytes(bytes(data))
    with pytest.raises(UserError, match="sha256 .* records .*changed or corrupted"):
        classifier.load_classifier("mnist", str(tmp_path))


def test_load_errors_say_how_to_train(tmp_path, saved):
    with pytest.raises(UserError, match="python -m jaxgan.classifier --dataset=mnist"):
        classifier.load_classifier("mnist", str(tmp_path / "missing"))
    with pytest.raises(UserError, match="not a jaxgan-lenet-v1 classifier for fashion_mnist"):
        classifier.load_classifier("fashion_mnist", saved[0])
    with pytest.raises(UserError, match="no classifier for dataset 'cifar10'"):
        classifier.load_classifier("cifar10")


def test_load_extractor_gives_the_classifier(saved):
    extractor = load_extractor("lenet", dataset="mnist", classifier_path=saved[0])
    assert extractor.name == "lenet_mnist" and extractor.feature_dim == 128
    assert extractor.weights_sha256 == classifier.load_classifier("mnist", saved[0]).weights_sha256
    with pytest.raises(UserError, match="need a mnist or fashion_mnist run"):
        load_extractor("lenet", dataset="celeba")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path))
    assert classifier.default_cache_dir("mnist") == str(tmp_path / "classifiers" / "mnist")


def test_cli_reports_user_errors_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxgan.classifier", "--dataset=mnist", f"--data_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "holds no mnist IDX files" in result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("dataset, floor", [("mnist", 0.993), ("fashion_mnist", 0.92)])
def test_classifier_reaches_its_accuracy_floor(dataset, floor, tmp_path, monkeypatch):
    # Minutes on a CPU: `pytest -m slow`. Fashion-MNIST comes from $JAXGAN_DATA_DIR.
    shared = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
    if not os.environ.get("JAXGAN_DATA_DIR") and os.path.isdir(shared):
        monkeypatch.setenv("JAXGAN_DATA_DIR", shared)
    meta = classifier.run(dataset, out=str(tmp_path))
    assert meta["test_accuracy"] >= floor
    assert classifier.load_classifier(dataset, str(tmp_path)).test_accuracy >= floor
