"""Stacked MNIST: the images and labels from their MNIST digits, uniform over the 1,000 triples,
the same bytes through the tfds builder, the mode count and KL against closed forms, the real
test split covering every mode, and a run scored by the evaluator through the real CLI."""

import json

import numpy as np
import pytest
from conftest import REPO
from test_cli import run_cli

from jaxgan.data import arrays, stacked_mnist
from jaxgan.evaluation.extractors import load_extractor
from jaxgan.evaluation.metrics import resolve_metrics


def test_each_channel_is_its_digit_and_the_label_is_the_triple():
    images, labels = arrays.load_arrays("mnist", "test")
    indices = stacked_mnist.choose(len(images), "test")
    np.testing.assert_array_equal(indices, stacked_mnist.choose(len(images), "test"))
    stacked, triples = stacked_mnist.stack(images, labels, indices)
    assert stacked.shape == (10_000, 32, 32, 3) and stacked.dtype == np.uint8
    for i in (0, 1, 9_999):
        for c in range(3):
            np.testing.assert_array_equal(stacked[i, 2:30, 2:30, c],
                                          images[indices[i, c], :, :, 0])
        assert stacked[i, :2].max() == 0 and stacked[i, 30:].max() == 0
        r, g, b = labels[indices[i]]
        assert triples[i] == 100 * r + 10 * g + b


def test_the_train_split_is_uniform_over_the_modes_within_sampling_error():
    _, labels = arrays.load_arrays("mnist", "train")
    indices = stacked_mnist.choose(len(labels), "train")
    triples = labels[indices].astype(np.int64) @ np.array([100, 10, 1])
    # The triple's probability is the product of the digits' shares (~1/1000 each, MNIST's
    # classes are not exactly balanced): a chi-square test against those expectations, 999
    # degrees of freedom (mean 999, std ~44.7).
    share = np.bincount(labels, minlength=10) / len(labels)
    expected = len(triples) * np.einsum("i,j,k->ijk", share, share, share).ravel()
    counts = np.bincount(triples, minlength=1000)
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert abs(chi2 - 999) < 5 * np.sqrt(2 * 999), chi2
    assert counts.min() > 0


def test_the_builder_writes_the_same_bytes():
    images, labels = arrays.load_arrays("mnist", "test")
    expected, triples = stacked_mnist.stack(images, labels,
                                            stacked_mnist.choose(len(images), "test"))
    x, y = arrays.load_arrays("stacked_mnist", "test")
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, triples)


def test_modes_and_kl_closed_forms_and_the_real_data_covers_every_mode():
    one = stacked_mnist.mode_counts(np.full(500, 7), 1000)
    assert one == {"modes": 1.0, "kl": pytest.approx(np.log(1000))}
    every = stacked_mnist.mode_counts(np.tile(np.arange(1000), 3), 1000)
    assert every == {"modes": 1000.0, "kl": pytest.approx(0.0, abs=1e-12)}
    half = stacked_mnist.mode_counts(np.arange(500), 1000)  # 500 modes, equally
    assert half["modes"] == 500 and half["kl"] == pytest.approx(np.log(2))
    extractor = load_extractor("lenet", dataset="stacked_mnist")
    x, y = arrays.load_arrays("stacked_mnist", "test")
    features, logits = extractor(x)
    assert features.shape == (10_000, 384) and logits.shape == (10_000, 1000)
    # The joint log-probabilities are normalised, and their argmax is each channel's digit.
    np.testing.assert_allclose(np.exp(logits.astype(np.float64)).sum(1), 1.0, rtol=1e-4)
    digits = load_extractor("lenet", dataset="mnist")
    channel = [np.argmax(digits(x[..., c:c + 1])[1], 1) for c in range(3)]
    np.testing.assert_array_equal(np.argmax(logits, 1),
                                  channel[0] * 100 + channel[1] * 10 + channel[2])
    (metric,) = resolve_metrics("modes_lenet")
    values = metric.compute(logits, None)
    assert values["modes_lenet"] == 1000.0 and values["modes_kl_lenet"] < 0.1
    assert np.mean(np.argmax(logits, 1) == y) > 0.97


def test_cli_trains_and_the_evaluator_counts_modes(tmp_path):
    workdir = tmp_path / "stacked"
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'dcgan_stacked_mnist.py'}:smoke",
            f"--workdir={workdir}")
    run_cli("jaxgan.evaluate", f"--workdir={workdir}", "--steps=4", "--num_samples=300",
            "--metrics=modes_lenet")
    records = {r["metric"]: r for r in map(json.loads, (workdir / "eval" / "metrics.jsonl")
                                          .open())}
    assert set(records) == {"modes_lenet", "modes_kl_lenet"}
    modes = records["modes_lenet"]
    assert modes["extractor"] == "lenet_mnist_per_channel" and modes["num_generated"] == 300
    assert 1 <= modes["value"] <= 300
    assert 0.0 <= records["modes_kl_lenet"]["value"] <= np.log(1000) + 1e-6
