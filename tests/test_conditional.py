"""A class-conditional run end to end through the real CLIs: class sampling and class grids, the
classification accuracy score, the EMA generator and the trained one scored separately."""

import json

import numpy as np
import pytest
from conftest import REPO, load_experiment, override
from PIL import Image
from test_cli import assert_one_line_error, assert_samples_by_class, run_cli

CGAN = f"--config={REPO / 'experiments' / 'cgan_mnist.py'}:smoke"


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_lenet):
    workdir = tmp_path_factory.mktemp("cgan") / "run"
    run_cli("jaxgan.main", CGAN, f"--workdir={workdir}")
    return workdir, *tiny_lenet


def _images(path):
    return np.asarray(Image.open(path))


def test_sample_one_class_and_a_class_grid(run, tmp_path):
    workdir, _, _ = run
    assert_samples_by_class(workdir, tmp_path, "class")
    # The trained generator instead of the EMA one (default): same latents, other images.
    run_cli("jaxgan.sample", f"--workdir={workdir}", "--num=4", "--class=3", "--generator=params",
            f"--out={tmp_path / '3p.png'}")
    assert not np.array_equal(_images(tmp_path / "3.png"), _images(tmp_path / "3p.png"))


def test_cas_and_both_generators_are_recorded(run):
    workdir, classifier_dir, env = run
    common = [f"--workdir={workdir}", f"--classifier_dir={classifier_dir}", "--num_samples=200",
              "--batch_size=100", "--steps=4", "--metrics=cas_lenet,is_lenet,gantest_lenet"]
    run_cli("jaxgan.evaluate", *common, env=env)
    run_cli("jaxgan.evaluate", *common, "--generator=params", env=env)
    records = [json.loads(line) for line in (workdir / "eval" / "metrics.jsonl").open()]
    by_key = {(r["step"], r["metric"], r["generator"]): r for r in records}
    assert len(by_key) == len(records) == 3 * 2  # step 4 x 3 metrics x 2 generators
    cas = by_key[(4, "cas_lenet", "ema")]
    assert 0.0 <= cas["value"] <= 1.0 and cas["labels"] == "balanced"
    assert cas["num_generated"] == 200 and cas["num_reference"] == 10000  # the real test split
    gan_test = by_key[(4, "gantest_lenet", "ema")]
    assert 0.0 <= gan_test["value"] <= 1.0 and gan_test["num_generated"] == 200
    # The EMA generator (decay 0.9 over 4 steps) is not the trained one: different scores.
    assert by_key[(4, "is_lenet", "ema")]["value"] != by_key[(4, "is_lenet", "params")]["value"]


def test_cas_needs_a_conditional_model(tmp_path):
    from jaxgan import sample
    from jaxgan.errors import UserError
    from jaxgan.evaluation import job

    workdir = tmp_path / "run"
    run_cli("jaxgan.main", f"--config={REPO / 'experiments' / 'dcgan_mnist.py'}:smoke",
            f"--workdir={workdir}", "--config.num_train_steps=2")
    # Each command refuses before it reads a checkpoint (the one-line exit of a UserError is
    # shown by the synthesize command line below).
    for metric in ("cas_lenet", "gantest_lenet"):
        with pytest.raises(UserError, match="class-conditional"):
            job.Evaluator(str(workdir), metric, 200, 100, None, None)
    with pytest.raises(UserError, match="keeps no EMA copy"):
        job.Evaluator(str(workdir), None, 200, 100, None, None, job.Options(generator="ema"))
    with pytest.raises(UserError, match="class-conditional"):
        sample.sample(str(workdir), num=4, out=str(tmp_path / "x.png"), seed=0, step=None,
                      interpolate=False, frames=10, label=1)
    proc = run_cli("jaxgan.synthesize", f"--workdir={workdir}", "--per_class=2",
                   f"--out={tmp_path / 'syn'}", check=False)
    assert_one_line_error(proc, "synthesize needs a class-conditional run")
    assert not (tmp_path / "syn").exists()
    assert not (workdir / "eval").exists() and not (tmp_path / "x.png").exists()


def test_mbd_variant_is_the_reported_recipe():
    """`:mbd` is the base experiment with minibatch discrimination and 16,000 steps, nothing
    else."""
    base = load_experiment("cgan_mnist", None).to_dict()
    mbd = load_experiment("cgan_mnist", "mbd").to_dict()
    assert mbd["d_layers"]["minibatch_discrimination"] == 100
    assert mbd["num_train_steps"] == 16000
    base["d_layers"]["minibatch_discrimination"] = 100
    base["num_train_steps"] = 16000
    assert mbd == base


def test_synthesize_writes_a_labelled_folder_and_arrays(run, tmp_path):
    from jaxgan import api
    from jaxgan.data import load_source
    from jaxgan.tools import synthesize

    workdir, _, _ = run
    proc = run_cli("jaxgan.synthesize", f"--workdir={workdir}", "--per_class=3",
                   f"--out={tmp_path / 'syn'}", "--batch_size=2")
    assert "wrote 30 images (10 classes x 3) from step 4" in proc.stdout
    provenance = json.loads((tmp_path / "syn" / "synthesis.json").read_text())
    assert (provenance["step"], provenance["weights"], provenance["per_class"]) == (4, "ema", 3)
    # Read back by the image-folder source: the class sub-folders are the labels.
    dataset = override(load_experiment("cgan_mnist"), **{
        "dataset.name": "image_folder", "dataset.data_dir": str(tmp_path / "syn")}).dataset
    source = load_source(dataset, train=False)
    positions = np.arange(len(source))
    read = source.read({"": positions}, positions)
    assert source.num_classes == 10 and np.bincount(read["label"]).tolist() == [3] * 10
    # The same images as the arrays, whatever the batch size.
    images, labels = synthesize.synthesize(api.load(str(workdir)), 3, batch_size=30)
    np.testing.assert_array_equal(labels, read["label"])
    np.testing.assert_array_equal(images, read["image"])
    assert len({img.tobytes() for img in images}) == 30
    run_cli("jaxgan.synthesize", f"--workdir={workdir}", "--per_class=2", "--seed=1",
            f"--out={tmp_path / 'syn.npz'}")
    arrays = np.load(tmp_path / "syn.npz")
    assert arrays["images"].shape == (20, 28, 28, 1) and arrays["labels"].tolist()[:3] == [0, 0, 1]
    assert json.loads((tmp_path / "syn.json").read_text())["seed"] == 1
    for flags, words in (((f"--out={tmp_path / 'syn'}", "--per_class=1"), "exists"),
                         ((f"--out={tmp_path / 'x'}", "--per_class=0"), "--per_class must be")):
        proc = run_cli("jaxgan.synthesize", f"--workdir={workdir}", *flags, check=False)
        assert_one_line_error(proc, words)
    assert not (tmp_path / "x").exists()
