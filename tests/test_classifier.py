"""The domain classifier: the shipped weights (pinned sha256, real accuracy, no training),
deterministic training, saving with a verified sha256, inference."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest
from conftest import SHARED_DATA

from jaxgan.data.arrays import resolve_data_dir
from jaxgan.data.idx import read_split
from jaxgan.errors import UserError
from jaxgan.evaluation import classifier
from jaxgan.evaluation.metrics import load_extractor
from jaxgan.hashing import sha256_file
from jaxgan.models.lenet import LeNet

# The shipped weights' sha256, written out here as well as in the package: every *_lenet number
# ever recorded is a function of these bytes.
SHIPPED = {
    "mnist": "5d33bdd6ba6f240dbb02589b40339453f0f07038ca7199589314b1214eb94ef3",
    "fashion_mnist": "e02422a19b09d20893eaa6b9c391bc9c51b7f72003092d4fabc78153cafce3cc",
}


def _test_split(dataset):
    if dataset == "mnist":
        directory = resolve_data_dir("mnist", None)  # the copy bundled in the repository
    else:
        directory = SHARED_DATA / "fashion_mnist"
        if not directory.is_dir():
            pytest.skip("needs ../shared/data/fashion_mnist")
    images, labels = read_split(str(directory), "test")
    return images.reshape(-1, 28, 28, 1), labels


@pytest.mark.parametrize("dataset", classifier.DATASETS)
def test_shipped_weights_load_without_training_and_classify(dataset, monkeypatch, tmp_path):
    # An empty cache: nothing trained on this machine is read.
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path))
    loaded = classifier.load_classifier(dataset)
    assert classifier.SHIPPED_SHA256 == SHIPPED
    assert loaded.weights_sha256 == SHIPPED[dataset] == sha256_file(loaded.path)
    assert loaded.path == os.path.join(classifier.shipped_dir(dataset), classifier.WEIGHTS_FILE)
    assert loaded.name == f"lenet_{dataset}"
    images, labels = _test_split(dataset)
    _, logits = loaded(images)
    predicted = np.argmax(logits, axis=1)
    # The whole test split reproduces the accuracy recorded at training time (to 10 images of
    # 10,000: another CPU may round a borderline logit the other way).
    assert len(labels) == 10_000
    assert abs(np.mean(predicted == labels) - loaded.test_accuracy) <= 1e-3
    assert loaded.test_accuracy >= {"mnist": 0.994, "fashion_mnist": 0.93}[dataset]
    if dataset == "mnist":
        np.testing.assert_array_equal(predicted[:100], labels[:100])


@pytest.mark.parametrize("consistent_json", [False, True])
def test_corrupted_shipped_weights_are_refused(consistent_json, monkeypatch, tmp_path):
    """One flipped bit in the package's copy is refused, also when the JSON beside it was
    rewritten to match: the pin in the code is what counts."""
    shutil.copytree(classifier.shipped_dir("mnist"), tmp_path / "lenet_mnist")
    monkeypatch.setattr(classifier, "WEIGHTS_DIR", str(tmp_path))
    weights = tmp_path / "lenet_mnist" / classifier.WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1
    weights.write_bytes(bytes(data))
    if consistent_json:
        meta_path = tmp_path / "lenet_mnist" / classifier.META_FILE
        meta = json.loads(meta_path.read_text())
        meta["weights_sha256"] = sha256_file(str(weights))
        meta_path.write_text(json.dumps(meta))
    with pytest.raises(UserError) as error:
        classifier.load_classifier("mnist")
    message = str(error.value)
    assert "\n" not in message and str(weights) in message
    assert f"jaxgan pins {SHIPPED['mnist'][:12]}" in message and "changed or corrupted" in message
    assert "reinstall jaxgan" in message and "--classifier_dir=DIR" in message
    weights.unlink()
    with pytest.raises(UserError, match="shipped mnist classifier is missing .*reinstall jaxgan"):
        classifier.load_classifier("mnist")


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
    shipped = load_extractor("lenet", dataset="fashion_mnist")  # no --classifier_dir
    assert shipped.weights_sha256 == SHIPPED["fashion_mnist"]
    with pytest.raises(UserError, match="need a mnist or fashion_mnist run"):
        load_extractor("lenet", dataset="celeba")


def test_training_writes_away_from_the_shipped_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXGAN_CACHE_DIR", str(tmp_path))
    assert classifier.default_train_dir("mnist") == str(tmp_path / "classifiers" / "mnist")
    assert classifier.shipped_dir("mnist") != classifier.default_train_dir("mnist")


def test_cli_says_how_to_score_with_what_it_trained(tmp_path):
    out = tmp_path / "lenet"
    result = subprocess.run(
        [sys.executable, "-m", "jaxgan.classifier", "--dataset=mnist", f"--out={out}",
         "--max_train_examples=256", "--max_steps=2"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert f"trained weights written to {out / classifier.WEIGHTS_FILE}" in last
    assert f"pass --classifier_dir={out} to" in last and "instead of the shipped ones" in last
    assert classifier.load_classifier("mnist", str(out)).weights_sha256 in last


def test_cli_reports_user_errors_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jaxgan.classifier", "--dataset=mnist", f"--data_dir={tmp_path}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "holds no mnist" in result.stderr


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
