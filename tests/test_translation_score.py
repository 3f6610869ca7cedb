"""`jaxgan.translation_score` on small copies of the offline benchmarks: the identity baseline's
numbers recomputed directly, a trained CycleGAN and a trained Pix2Pix scored through the CLI
(records, the generator back, the figure), and its mistakes."""

import json

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA
from PIL import Image
from test_cli import assert_one_line_error, run_cli

from jaxgan import api
from jaxgan.evaluation.classifier import load_classifier
from jaxgan.tools import translation_data as td
from jaxgan.tools import translation_score as ts

FASHION = SHARED_DATA / "fashion_mnist"
MNIST = REPO / "data" / "mnist"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("benchmarks")
    for task, source in (("thin2thick_mnist", MNIST), ("edges2fashion", FASHION),
                         ("sneakers2boots", FASHION)):
        td.write_task(task, str(root / task), str(source), max_train=16, max_test=12)
    return root


def test_identity_baseline_against_a_direct_computation(data):
    record, test, outputs = ts.score_identity(str(data / "thin2thick_mnist"), "A", 0)
    meta = json.loads((data / "thin2thick_mnist" / "meta.json").read_text())
    files = meta["folders"]["testA"]["files"]
    thin = np.stack([np.asarray(Image.open(data / "thin2thick_mnist" / "testA" / f))
                     for f in files]).astype(np.float64)
    thick = np.stack([np.asarray(Image.open(data / "thin2thick_mnist" / "testB" / f))
                      for f in files]).astype(np.float64)
    assert record["l1"] == pytest.approx(np.mean(np.abs(thin - thick)) / 255.0)
    mse = np.mean((thin - thick) ** 2, axis=(1, 2))
    assert record["psnr"] == pytest.approx(np.mean(10 * np.log10(255.0**2 / mse)))
    assert record["cycle_l1"] == 0.0 and record["num"] == len(files) == 12
    _, logits = load_classifier("mnist")(thin.astype(np.uint8)[..., None])
    labels = np.asarray(meta["folders"]["testA"]["labels"])
    assert record["accuracy"] == pytest.approx(np.mean(np.argmax(logits, 1) == labels))
    assert "target_class_rate" not in record and record["fid_lenet"] > 0
    # The other way round, the truth is the thin digit.
    back, _, _ = ts.score_identity(str(data / "thin2thick_mnist"), "B", 0)
    assert back["l1"] == pytest.approx(record["l1"]) and back["direction"] == "BtoA"
    # sneakers2boots has no truth; its one-class output domain is scored by the class rate.
    s2b, test, _ = ts.score_identity(str(data / "sneakers2boots"), "A", 5)
    assert test.target_class == td.ANKLE_BOOT and "l1" not in s2b and "accuracy" not in s2b
    assert 0.0 <= s2b["target_class_rate"] <= 0.2 and s2b["num"] == 5  # sneakers stay sneakers


def test_cyclegan_run_scored_with_its_generator_back(data, tmp_path):
    workdir = tmp_path / "cg"
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'cyclegan.py'}:smoke",
            f"--workdir={workdir}", f"--config.dataset.data_dir={data / 'thin2thick_mnist'}",
            "--config.model.paired_test=True")
    proc = run_cli("jaxgan.translation_score", f"--workdir={workdir}",
                   f"--data={data / 'thin2thick_mnist'}", "--network=G_B",
                   f"--sheet={tmp_path / 'fig.png'}")
    assert "| cg | 4 | BtoA |" in proc.stdout
    record = json.loads((workdir / "eval" / "translation.jsonl").read_text())
    assert record["network"] == "G_B" and record["step"] == 4
    for key in ("l1", "psnr", "ssim", "fid_lenet", "accuracy", "cycle_l1"):
        assert np.isfinite(record[key]), key
    # cycle_l1 is G_A(G_B(thick)) against thick, recomputed through the public API.
    model_b = api.load(str(workdir), network="G_B")
    model_a = api.load(str(workdir), network="G_A")
    test = ts.test_set(str(data / "thin2thick_mnist"), "B")
    out = ts.translate_all(model_b, test.inputs)
    back = ts.translate_all(model_a, out)
    assert record["cycle_l1"] == pytest.approx(
        np.mean(np.abs(back.astype(float) - test.inputs)) / 255.0)
    # The figure: 8 rows of input, translation and truth.
    assert Image.open(tmp_path / "fig.png").size == (3 * 34 + 2, 8 * 34 + 2)


def test_pix2pix_run_scored_against_the_paired_truth(data, tmp_path):
    workdir = tmp_path / "p2p"
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'pix2pix.py'}:smoke",
            f"--workdir={workdir}", f"--config.dataset.data_dir={data / 'edges2fashion'}")
    proc = run_cli("jaxgan.translation_score", f"--workdir={workdir},{workdir}",
                   f"--data={data / 'edges2fashion'}", "--identity", "--num=10")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert len(lines) == 2 + 3 and "identity map" in lines[2]
    first, again = map(json.loads, (workdir / "eval" / "translation.jsonl").open())
    assert first["num"] == 10 and "cycle_l1" not in first
    del first["seconds"], again["seconds"]
    assert first == again  # a fixed dropout key: the same translations each time
    model = api.load(str(workdir))
    test = ts.test_set(str(data / "edges2fashion"), "A", 10)
    outputs = ts.translate_all(model, test.inputs)
    assert first["l1"] == pytest.approx(
        np.mean(np.abs(outputs.astype(float) - test.truth)) / 255.0)
    keyed = ts.translate_all(model, test.inputs)
    np.testing.assert_array_equal(outputs, keyed)


def test_translation_score_mistakes(data, tmp_path):
    proc = run_cli("jaxgan.translation_score", f"--data={tmp_path}", "--identity", check=False)
    assert_one_line_error(proc, "has no meta.json")
    proc = run_cli("jaxgan.translation_score", f"--data={data / 'edges2fashion'}", check=False)
    assert_one_line_error(proc, "give --workdir=RUN[,RUN...] or --identity")
    proc = run_cli("jaxgan.translation_score", f"--data={data / 'edges2fashion'}",
                   "--identity", "--num=-1", check=False)
    assert_one_line_error(proc, "--num must be >= 0")
